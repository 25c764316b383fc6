"""Every actor, for `dramatiq jobs.actors` and for the in-process worker."""

from jobs.refresh import refresh_application

__all__ = ["refresh_application"]
