"""Translation of SCIM failures into errors an admin can act on."""

from __future__ import annotations

from domain.errors import ErrorCode, TargetError
from domain.scim import errors as scim


def target_error(exc: scim.ScimError, doing: str) -> TargetError:
    """Return the `DomainError` for `exc`, raised while `doing` (a verb phrase)."""
    code, advice = _classify(exc)
    reason = exc.message.rstrip()
    if not reason.endswith((".", "!", "?")):
        reason += "."
    message = f"Could not {doing}: {reason}"
    return TargetError(
        f"{message} {advice}" if advice else message,
        code=code,
        transient=exc.is_transient,
        retry_after=getattr(exc, "retry_after", None),
        status=getattr(exc, "status", None),
    )


def _classify(exc: scim.ScimError) -> tuple[ErrorCode, str]:
    # The messages of these errors already name the fix.
    if isinstance(exc, scim.ScimOutboundRejected):
        return ErrorCode.OUTBOUND_REJECTED, ""
    if isinstance(exc, scim.ScimTokenUnreadable):
        return ErrorCode.TOKEN_UNREADABLE, ""

    if isinstance(exc, scim.ScimResponseTooLarge):
        return ErrorCode.TARGET_FAILED, (
            "An operator can lower SMARTLINK_SCIM_PAGE_SIZE, or raise the limit "
            "if the target's responses are legitimately that large."
        )
    if isinstance(exc, scim.ScimRedirect):
        return ErrorCode.NOT_SCIM, (
            "If the endpoint moved, save the address it redirects to as the base URL."
        )
    if isinstance(exc, scim.ScimTLSError):
        return ErrorCode.TARGET_UNREACHABLE, (
            "Check that the target's certificate is valid and the URL uses its "
            "host name."
        )
    if isinstance(exc, scim.ScimTimeout):
        return ErrorCode.TARGET_UNREACHABLE, (
            "The target did not respond in time; check that it is up, then retry."
        )
    if isinstance(exc, scim.ScimTransportError):
        return ErrorCode.TARGET_UNREACHABLE, (
            "Check the base URL's host and port, and that the application is up."
        )
    if isinstance(exc, scim.ScimUnauthorized):
        return ErrorCode.TARGET_UNAUTHORIZED, (
            "The target rejected the bearer token; check that it is current and "
            "allowed to manage users and groups, then save it again."
        )
    if isinstance(exc, scim.ScimMisrouted):
        return ErrorCode.NOT_SCIM, (
            "The request did not reach a SCIM resource: check that the base URL "
            "is the application's SCIM endpoint, often ending in '/scim/v2', and "
            "that no proxy in front of it rewrites requests."
        )
    if isinstance(exc, scim.ScimInvalidResponse):
        return ErrorCode.NOT_SCIM, (
            "Check that the base URL is the application's SCIM endpoint, often "
            "ending in '/scim/v2'."
        )
    if isinstance(exc, scim.ScimRateLimited | scim.ScimServerError):
        return ErrorCode.TARGET_FAILED, "The target failed; retry in a moment."
    if isinstance(exc, scim.ScimConflict):
        return ErrorCode.ALREADY_EXISTS, (
            "The target already has a resource with the same unique value; "
            "refresh the tabs and associate that resource instead."
        )
    if isinstance(exc, scim.ScimNotFound):
        return ErrorCode.TARGET_REJECTED, (
            "Check that the base URL is the application's SCIM endpoint."
        )
    return ErrorCode.TARGET_REJECTED, "Fix the value the target rejected, then retry."
