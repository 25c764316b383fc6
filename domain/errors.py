"""Domain failures that callers show to users as `UserError`s.

Every expected failure of a domain operation raises a `DomainError` carrying an
`ErrorCode`, a message that names the value and the fix, and the input field at
fault when there is one. The API layer turns them into mutation errors.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence


class ErrorCode(enum.Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    ALREADY_LINKED = "ALREADY_LINKED"
    NOT_CONNECTED = "NOT_CONNECTED"
    OUTBOUND_REJECTED = "OUTBOUND_REJECTED"
    TOKEN_UNREADABLE = "TOKEN_UNREADABLE"
    TARGET_UNREACHABLE = "TARGET_UNREACHABLE"
    TARGET_UNAUTHORIZED = "TARGET_UNAUTHORIZED"
    TARGET_REJECTED = "TARGET_REJECTED"
    TARGET_FAILED = "TARGET_FAILED"
    NOT_SCIM = "NOT_SCIM"
    IN_PROGRESS = "IN_PROGRESS"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    NO_ACCESS = "NO_ACCESS"
    TICKET_CLOSED = "TICKET_CLOSED"
    DRY_RUN = "DRY_RUN"


class DomainError(Exception):
    """Base class for expected failures of a domain operation.

    `references` maps each object id that the message names to the object's
    type name ("User", "Folder"), so the API can show the id as a global id.
    Logs and stored texts keep the message as written, with the raw UUID. A
    None key, for an optional id that is unset, is dropped.
    """

    code = ErrorCode.INVALID

    def __init__(
        self,
        message: str,
        *,
        field: Sequence[str] | None = None,
        code: ErrorCode | None = None,
        references: Mapping[uuid.UUID | None, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = list(field) if field else None
        self.references = {
            object_id: type_name
            for object_id, type_name in (references or {}).items()
            if object_id is not None
        }
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """Raised when an input value is malformed or out of range."""

    code = ErrorCode.INVALID


class NotFound(DomainError):
    """Raised when an id names no object."""

    code = ErrorCode.NOT_FOUND


class AlreadyExists(DomainError):
    """Raised when a create would duplicate a unique value."""

    code = ErrorCode.ALREADY_EXISTS


class AlreadyLinked(DomainError):
    """Raised when a link would take an account, user, group or folder from another."""

    code = ErrorCode.ALREADY_LINKED


class NotConnected(DomainError):
    """Raised when a provisioning action needs a connected SCIM target."""

    code = ErrorCode.NOT_CONNECTED


class DryRun(DomainError):
    """Raised when dry run withheld a write, which was logged and not sent."""

    code = ErrorCode.DRY_RUN


class TargetError(DomainError):
    """Raised when the target application rejected or failed a SCIM request.

    `transient` is whether the same request may succeed later, and
    `retry_after` how many seconds the target requested to wait, if it did.
    """

    code = ErrorCode.TARGET_FAILED

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        transient: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.transient = transient
        self.retry_after = retry_after
        self.status = status


class DomainErrors(DomainError):
    """Raised with several expected failures at once, each shown on its own.

    The message joins theirs, for callers that show one message only.
    """

    def __init__(self, errors: Sequence[DomainError]) -> None:
        super().__init__(" ".join(error.message for error in errors))
        self.errors = list(errors)
        for error in errors:
            self.references.update(error.references)
        if errors:
            self.code = errors[0].code


#: Characters of a rejected value that an error message repeats at most.
SHOWN_MAX_LENGTH = 80


def shown(value: object) -> str:
    """Return `value` quoted for an error message, cut short when it is long."""
    text = str(value)
    if len(text) <= SHOWN_MAX_LENGTH:
        return repr(text)
    return repr(text[:SHOWN_MAX_LENGTH]) + f" (cut from {len(text)} characters)"
