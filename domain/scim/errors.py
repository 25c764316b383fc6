"""Failures of SCIM requests, sorted by what the caller does next.

    ScimError
    ├── ScimTransportError        retry later: the request may not have arrived
    │   ├── ScimTimeout
    │   ├── ScimConnectError
    │   └── ScimTLSError          stop: fix the certificate or the URL
    ├── ScimOutboundRejected      stop: the outbound rules reject the address
    ├── ScimTokenUnreadable       stop: the saved token does not decrypt
    ├── ScimResponseError         the target answered with an error status
    │   ├── ScimRedirect          stop: fix the base URL (3xx, never followed)
    │   ├── ScimUnauthorized      stop: fix the token (401, 403)
    │   ├── ScimNotFound          re-create, or treat as already gone (404)
    │   ├── ScimMisrouted         stop: fix the base URL (404 that is no SCIM error)
    │   ├── ScimConflict          look the resource up and adopt it (409)
    │   ├── ScimRateLimited       retry after `retry_after` (429)
    │   ├── ScimServerError       retry later (5xx), after `retry_after` if set
    │   └── ScimRejected          record and skip: fix the data (other 4xx)
    ├── ScimResponseTooLarge      stop: the body passed the size limit
    └── ScimInvalidResponse       stop: not a SCIM endpoint, or a broken one

Every message names the method and URL and never contains the token.
"""

from __future__ import annotations


class ScimError(Exception):
    """Base class for every failure of a SCIM request."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url

    @property
    def is_transient(self) -> bool:
        """Whether the same request may succeed if sent again later."""
        return False


class ScimTransportError(ScimError):
    """Base class for requests that got no HTTP response."""

    @property
    def is_transient(self) -> bool:
        return True


class ScimTimeout(ScimTransportError):
    """Raised when connecting, writing or reading timed out."""


class ScimConnectError(ScimTransportError):
    """Raised when the target's host could not be resolved or reached."""


class ScimTLSError(ScimTransportError):
    """Raised when the TLS handshake failed, usually on the certificate."""

    @property
    def is_transient(self) -> bool:
        return False


class ScimOutboundRejected(ScimError):
    """Raised when the outbound rules reject the address a request would reach.

    The original `domain.outbound.OutboundRejected` is available on `__cause__`.
    """


class ScimTokenUnreadable(ScimError):
    """Raised when the saved token does not decrypt with any configured key."""


class ScimResponseTooLarge(ScimError):
    """Raised when a response body is longer than the configured limit."""


class ScimResponseError(ScimError):
    """Base class for error statuses; carries the status and the target's detail."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        detail: str | None = None,
        scim_type: str | None = None,
        method: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


class ScimRedirect(ScimResponseError):
    """Raised on 3xx. Redirects are never followed, so they cannot lead the
    token to another host. `location` is where the target pointed."""

    def __init__(self, message: str, *, location: str | None, **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.location = location


class ScimUnauthorized(ScimResponseError):
    """Raised on 401 or 403: the token is wrong, expired or lacks rights."""


class ScimNotFound(ScimResponseError):
    """Raised on a 404 whose body is a SCIM error: the resource does not exist."""


class ScimMisrouted(ScimResponseError):
    """Raised on a 404 that does not come from a SCIM service provider.

    Such a 404 has an HTML page, JSON that is not a SCIM error, or no body,
    or it is the response to a PUT just after the same URL returned 200 to a
    GET. The request reached something other than the resource, so the
    resource must not be taken as deleted.
    """


class ScimConflict(ScimResponseError):
    """Raised on 409: a resource with the same unique value exists."""


class ScimRateLimited(ScimResponseError):
    """Raised on 429; `retry_after` contains the seconds the target requested."""

    def __init__(self, message: str, *, retry_after: float | None, **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after

    @property
    def is_transient(self) -> bool:
        return True


class ScimServerError(ScimResponseError):
    """Raised on 5xx: the target failed; the request may succeed later.

    `retry_after` contains the seconds a 503 requested (RFC 9110 10.2.3), or
    None.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, **kwargs: object
    ):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after

    @property
    def is_transient(self) -> bool:
        return True


class ScimRejected(ScimResponseError):
    """Raised on any other 4xx: the target refused the request's content."""


class ScimInvalidResponse(ScimError):
    """Raised when a response is not the SCIM JSON the request expects."""
