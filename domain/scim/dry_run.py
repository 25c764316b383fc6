"""Dry run: the write requests a client withholds instead of sending."""

from __future__ import annotations

from typing import Any

#: Methods that only read, so a dry run still sends them.
READ_METHODS = frozenset({"GET", "HEAD"})


class WriteWithheld(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by a dry-run client in place of sending a write request.

    It is not a `ScimError`, so code that handles target failures does not
    take it for one: a caller that does not record it fails, and nothing is
    sent either way. `path` is relative to the client's base URL.
    """

    def __init__(self, method: str, path: str, body: dict[str, Any] | None) -> None:
        super().__init__(f"Dry run: {method} {path} was not sent.")
        self.method = method
        self.path = path
        self.body = body
