"""Every actor, for `dramatiq jobs.actors` and for the in-process worker."""

from jobs.automation import provision_event
from jobs.refresh import refresh_application

__all__ = ["provision_event", "refresh_application"]
