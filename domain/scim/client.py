"""An async SCIM 2.0 client (RFC 7644) over httpx.

`ScimClient.send` is the only place that sends HTTP and the only place that
turns httpx exceptions and error statuses into `domain.scim.errors`. Requests
go through a `GuardedTransport` and within total time and size limits. What to
send, and how to page, look up and update, is decided in the modules beside
this one, from the target's `capabilities`, `schema` and `resource_types` that
the client carries.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from types import TracebackType
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from domain.config import get_settings
from domain.outbound import OutboundPolicy, OutboundRejected
from domain.scim import errors, paging
from domain.scim.capabilities import Capabilities, conservative
from domain.scim.dry_run import READ_METHODS, WriteWithheld
from domain.scim.paging import Listing, ProgressCallback
from domain.scim.payloads import get_key, resource_id
from domain.scim.resource_types import ResourceTypes
from domain.scim.responses import json_body, read_error
from domain.scim.target_schema import TargetSchema
from domain.scim.transport import GuardedTransport

logger = logging.getLogger(__name__)

# httpx logs each request at INFO, which in a busy worker costs CPU and floods
# the log. `ScimClient` logs each request at DEBUG itself, so httpx's lines
# are dropped unless logging was set up for httpx explicitly.
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)

SCIM_CONTENT_TYPE = "application/scim+json"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

#: Characters of a redirect's location kept in the error message.
DETAIL_LIMIT = 300

#: Seconds one request may take in all, body included, by default.
DEFAULT_TOTAL_TIMEOUT = 60.0

#: Bytes of a response body read at most by default.
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

#: Tokens shorter than this are not removed from error messages, because
#: replacing a few common characters would garble the message. Real bearer
#: tokens are far longer.
REDACT_MIN_LENGTH = 4

__all__ = ["Listing", "ProgressCallback", "ScimClient", "ScimResponse"]


@cache
def default_ssl_context() -> ssl.SSLContext:
    """Return the TLS settings shared by every client of this process.

    Building them loads certifi's CA bundle, which took about 30 ms of CPU per
    client on the 2-core machine of bench/README.md, and httpx does it again
    for each client given no context. Jobs open one client per event.
    """
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class ScimResponse:
    """A successful response: its status and its JSON body, None when empty."""

    status: int
    body: dict[str, Any] | None


class ScimClient:
    """A client for one SCIM service provider, authenticated by a bearer token.

    Requests go through a `GuardedTransport` that applies the outbound rules of
    `policy` (by default, `SMARTLINK_OUTBOUND_ALLOW`) to every connection.
    Redirects are never followed. Use it as an async context manager so the
    connection pool is closed. Without `capabilities`, the conservative ones
    of a target that publishes no ServiceProviderConfig apply. With `dry_run`,
    every request other than GET or HEAD raises `WriteWithheld` unsent.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 15.0,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        policy: OutboundPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        capabilities: Capabilities | None = None,
        schema: TargetSchema | None = None,
        resource_types: ResourceTypes | None = None,
        dry_run: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.dry_run = dry_run
        self.total_timeout = total_timeout
        self.max_response_bytes = max_response_bytes
        self.capabilities = capabilities or conservative()
        self.schema = schema or TargetSchema()
        self.resource_types = resource_types or ResourceTypes()
        self._token = token
        headers = {"Accept": f"{SCIM_CONTENT_TYPE}, application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if transport is None:
            if policy is None:
                allow = get_settings().outbound_allow_list
                policy = OutboundPolicy.from_entries(allow)
            transport = GuardedTransport(policy, verify=default_ssl_context())
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            verify=default_ssl_context(),
        )

    async def __aenter__(self) -> ScimClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str | int] | None = None,
    ) -> dict[str, Any] | None:
        """Send one request and return its JSON body, or None for an empty body."""
        response = await self.send(method, path, json=json, params=params)
        return response.body

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str | int] | None = None,
    ) -> ScimResponse:
        """Send one request and return its status and JSON body.

        Raises a `ScimError` subclass for every failure, chained to its cause,
        with the token removed from its message should the target echo it.
        """
        response = await self._send_checked(method, path, json=json, params=params)
        try:
            body = json_body(response, method, self.url(path))
        except errors.ScimError as exc:
            self._redact(exc)
            raise
        return ScimResponse(response.status_code, body)

    async def _send_checked(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send one request and return its successful response, body read.

        The URL in messages leaves the query out. Every request goes through
        here, so this is where a dry run withholds writes.
        """
        if self.dry_run and method.upper() not in READ_METHODS:
            raise WriteWithheld(method.upper(), path, json)
        url = self.url(path)
        try:
            response = await self._send(method, url, json=json, params=params)
            logger.debug("SCIM %s %s returned %s.", method, url, response.status_code)
            if response.status_code >= 300:
                raise _status_error(response, method, url)
            return response
        except errors.ScimError as exc:
            self._redact(exc)
            raise

    async def _send(
        self,
        method: str,
        url: str,
        *,
        json: dict[str, Any] | None,
        params: dict[str, str | int] | None,
    ) -> httpx.Response:
        """Send the request and read its body within the size and time limits."""
        target = f"{url}?{encode_query(params)}" if params else url
        headers = {"Content-Type": SCIM_CONTENT_TYPE} if json is not None else None
        request = self._http.build_request(method, target, json=json, headers=headers)
        try:
            async with asyncio.timeout(self.total_timeout):
                response = await self._http.send(request, stream=True)
                try:
                    content = await self._read_body(response, method, url)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise errors.ScimTimeout(
                f"{method} {url} took longer than {self.total_timeout:g} s in all, "
                "the limit that SMARTLINK_SCIM_TOTAL_TIMEOUT sets.",
                method=method,
                url=url,
            ) from exc
        except httpx.TimeoutException as exc:
            raise errors.ScimTimeout(
                f"{method} {url} timed out: {type(exc).__name__}.",
                method=method,
                url=url,
            ) from exc
        except httpx.ConnectError as exc:
            raise _connect_error(exc, method, url) from exc
        except OutboundRejected as exc:
            raise errors.ScimOutboundRejected(
                exc.message, method=method, url=url
            ) from exc
        except httpx.HTTPError as exc:
            raise errors.ScimConnectError(
                f"{method} {url} failed: {type(exc).__name__}: {exc}",
                method=method,
                url=url,
            ) from exc

        # The body is already decoded, so the copy must not be decoded again.
        kept_headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length")
        ]
        return httpx.Response(
            response.status_code,
            headers=kept_headers,
            content=content,
            request=request,
        )

    async def _read_body(
        self, response: httpx.Response, method: str, url: str
    ) -> bytes:
        limit = self.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(method, url, limit)

        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise _too_large(method, url, limit)
        return bytes(body)

    def _redact(self, exc: errors.ScimError) -> None:
        token = self._token
        if not token or len(token) < REDACT_MIN_LENGTH:
            return
        exc.message = exc.message.replace(token, "[token]")
        exc.args = (exc.message,)
        if isinstance(exc, errors.ScimResponseError) and exc.detail:
            exc.detail = exc.detail.replace(token, "[token]")
        if isinstance(exc, errors.ScimRedirect) and exc.location:
            exc.location = exc.location.replace(token, "[token]")

    async def get(self, path: str, **params: str | int) -> dict[str, Any]:
        body = await self.request("GET", path, params=params or None)
        if body is None:
            raise errors.ScimInvalidResponse(
                f"GET {self.base_url}/{path} returned an empty body; expected JSON.",
                method="GET",
                url=f"{self.base_url}/{path}",
            )
        return body

    async def create(
        self, endpoint: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """POST `payload` to `endpoint` (`Users`, `Groups`) and return the resource.

        When the response lacks the resource, the `Location` header or
        `meta.location` it returned gets a GET, if that lies under the base
        URL. Returns None when neither gives the resource, though the
        target accepted the POST.
        """
        response = await self._send_checked("POST", endpoint, json=payload)
        try:
            body = json_body(response, "POST", self.url(endpoint))
        except errors.ScimError as exc:
            self._redact(exc)
            raise
        if body is not None and resource_id(body) is not None:
            return body

        location = self._created_location(response, body)
        if location is None:
            logger.info("POST %s/%s returned no resource.", self.base_url, endpoint)
            return None
        try:
            return await self.get(location)
        except errors.ScimResponseError as exc:
            # The resource exists, so the caller can still look it up.
            logger.info("Reading the created resource failed: %s", exc.message)
            return None

    def _created_location(
        self, response: httpx.Response, body: dict[str, Any] | None
    ) -> str | None:
        """Return the path under the base URL of the resource a POST created."""
        candidates = [
            response.headers.get("location"),
            get_key(get_key(body, "meta"), "location"),
        ]
        for location in candidates:
            if not isinstance(location, str) or not location.strip():
                continue
            absolute = urljoin(f"{self.base_url}/", location.strip())
            if absolute.startswith(f"{self.base_url}/"):
                return absolute[len(self.base_url) + 1 :]
            logger.warning(
                "Not following location %r of a created resource: it is not under %s.",
                urlsplit(absolute).path,
                self.base_url,
            )
        return None

    async def get_resource(self, endpoint: str, scim_id: str) -> dict[str, Any]:
        """GET one resource by its id (RFC 7644 3.4.1)."""
        return await self.get(_resource_path(endpoint, scim_id))

    async def replace(
        self, endpoint: str, scim_id: str, payload: dict[str, Any]
    ) -> ScimResponse:
        """PUT `payload` in place of a resource (RFC 7644 3.5.1).

        The target should respond 200 with the resource, but the body may be None.
        """
        return await self.send("PUT", _resource_path(endpoint, scim_id), json=payload)

    async def patch(
        self, endpoint: str, scim_id: str, payload: dict[str, Any]
    ) -> ScimResponse:
        """PATCH a resource with a PatchOp `payload` (RFC 7644 3.5.2).

        Targets respond 204 without a body or 200 with the resource, so the body
        may be None. `patch_request` builds the payload from operations.
        """
        return await self.send("PATCH", _resource_path(endpoint, scim_id), json=payload)

    async def delete(self, endpoint: str, scim_id: str) -> int:
        """DELETE a resource (RFC 7644 3.6) and return the status, usually 204."""
        response = await self.send("DELETE", _resource_path(endpoint, scim_id))
        return response.status

    async def search(self, endpoint: str, filter: str) -> list[dict[str, Any]]:
        """Return the resources with an id that a filtered GET (RFC 7644 3.4.2.2) lists.

        Some targets ignore the filter, so callers check each resource.
        """
        body = await self.get(endpoint, filter=filter)
        items = paging.page_items(body)
        return [r for r in items if resource_id(r) is not None]

    async def list_all(
        self,
        endpoint: str,
        *,
        page_size: int,
        on_page: ProgressCallback | None = None,
    ) -> Listing:
        """Read every resource of `endpoint` by index paging; see `paging`.

        `filter.maxResults`, when the target states it, caps the page size.
        """
        limit = self.capabilities.max_results.value
        if limit is not None:
            page_size = min(page_size, limit)
        return await paging.list_all(
            self, endpoint, page_size=page_size, on_page=on_page
        )


def patch_request(operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap PATCH operations in a PatchOp message (RFC 7644 3.5.2)."""
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": operations}


def _resource_path(endpoint: str, scim_id: str) -> str:
    return f"{endpoint}/{quote(scim_id, safe='')}"


def _too_large(method: str, url: str, limit: int) -> errors.ScimResponseTooLarge:
    return errors.ScimResponseTooLarge(
        f"{method} {url} returned a body longer than {limit} bytes, the limit "
        "that SMARTLINK_SCIM_MAX_RESPONSE_BYTES sets.",
        method=method,
        url=url,
    )


def encode_query(params: dict[str, str | int]) -> str:
    """Percent-encode every reserved character, `+` and spaces included.

    httpx writes spaces as `+`, which only form decoders read as a space. A
    target that decodes queries by RFC 3986 would see a broken filter.
    """
    return "&".join(
        f"{quote(str(name), safe='')}={quote(str(value), safe='')}"
        for name, value in params.items()
    )


def _connect_error(exc: httpx.ConnectError, method: str, url: str) -> errors.ScimError:
    text = str(exc)
    if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
        return errors.ScimTLSError(
            f"TLS handshake with {url} failed: {text}. Check that the target's "
            "certificate is valid for this host.",
            method=method,
            url=url,
        )
    return errors.ScimConnectError(
        f"Could not connect to {url}: {text or type(exc).__name__}.",
        method=method,
        url=url,
    )


def _status_error(
    response: httpx.Response, method: str, url: str
) -> errors.ScimResponseError:
    status = response.status_code
    error = read_error(response)
    message = f"{method} {url} returned {status}"
    message += f": {error.detail}" if error.detail else "."
    kwargs: dict[str, Any] = dict(
        status=status,
        detail=error.detail,
        scim_type=error.scim_type,
        method=method,
        url=url,
    )
    if status < 400:
        location = response.headers.get("location")
        quoted = repr(location[:DETAIL_LIMIT]) if location else "no location"
        return errors.ScimRedirect(
            f"{method} {url} returned {status}, a redirect to {quoted}. SCIM "
            "requests do not follow redirects, so the token is never sent to "
            "another address.",
            location=location,
            **kwargs,
        )

    if status in (401, 403):
        return errors.ScimUnauthorized(message, **kwargs)
    if status == 404 and error.is_scim:
        return errors.ScimNotFound(message, **kwargs)
    if status == 404:
        # Not from the SCIM service provider, so no proof the resource is gone.
        detail = f" ({error.detail})" if error.detail else ""
        return errors.ScimMisrouted(
            f"{method} {url} returned 404 without a SCIM error{detail}.", **kwargs
        )
    if status == 409:
        return errors.ScimConflict(message, **kwargs)
    if status == 429:
        return errors.ScimRateLimited(
            message, retry_after=parse_retry_after(response), **kwargs
        )
    if status == 503:
        return errors.ScimServerError(
            message, retry_after=parse_retry_after(response), **kwargs
        )
    if status >= 500:
        return errors.ScimServerError(message, **kwargs)
    return errors.ScimRejected(message, **kwargs)


def parse_retry_after(response: httpx.Response) -> float | None:
    """Read `Retry-After` as seconds, from either of its forms (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date_header = response.headers.get("date")
    now = parsedate_to_datetime(date_header) if date_header else datetime.now(UTC)
    return max(0.0, (moment - now).total_seconds())
