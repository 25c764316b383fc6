"""An async SCIM 2.0 client (RFC 7644) over httpx.

`ScimClient.request` is the only place that sends HTTP and the only place that
turns httpx exceptions and error statuses into `domain.scim.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from domain.config import get_settings
from domain.outbound import OutboundPolicy, OutboundRejected
from domain.scim import errors
from domain.scim.payloads import filter_literal, get_key, parse_int
from domain.scim.transport import GuardedTransport

logger = logging.getLogger(__name__)

SCIM_CONTENT_TYPE = "application/scim+json"

#: Pages read at most from one listing; a target that pages past this is
#: reported as incomplete rather than read forever.
MAX_PAGES = 5_000

#: Characters of a non-SCIM error body kept as the error detail.
DETAIL_LIMIT = 300

#: Seconds one request may take in all, body included, by default.
DEFAULT_TOTAL_TIMEOUT = 60.0

#: Bytes of a response body read at most by default.
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

#: Tokens shorter than this are not removed from error messages, because
#: replacing a few common characters would garble the message. Real bearer
#: tokens are far longer.
REDACT_MIN_LENGTH = 4

ProgressCallback = Callable[[int, int | None], Awaitable[None]]


@cache
def default_ssl_context() -> ssl.SSLContext:
    """Return the TLS settings shared by every client of this process.

    Building them loads certifi's CA bundle, which took about 30 ms of CPU per
    client on the 2-core machine of bench/README.md, and httpx does it again
    for each client given no context. Jobs open one client per event.
    """
    return httpx.create_ssl_context()


@dataclass
class Listing:
    """Every resource a listing returned, and whether the listing can be trusted."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    total: int | None = None
    #: False when paging stopped early or the target's paging misbehaved; an
    #: incomplete listing must never be used to delete anything.
    complete: bool = True
    problem: str | None = None


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
    connection pool is closed.
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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.total_timeout = total_timeout
        self.max_response_bytes = max_response_bytes
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
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = await self._send(method, url, json=json, params=params)
            logger.debug("SCIM %s %s returned %s.", method, url, response.status_code)
            if response.status_code >= 300:
                raise _status_error(response, method, url)
            return ScimResponse(response.status_code, _json_body(response, method, url))
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
        headers = {"Content-Type": SCIM_CONTENT_TYPE} if json is not None else None
        request = self._http.build_request(
            method, url, json=json, params=params, headers=headers
        )
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

    async def create(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST `payload` to `endpoint` (`Users`, `Groups`) and return the resource."""
        body = await self.request("POST", endpoint, json=payload)
        if body is None or get_key(body, "id") is None:
            raise errors.ScimInvalidResponse(
                f"POST {self.base_url}/{endpoint} returned no resource id.",
                method="POST",
                url=f"{self.base_url}/{endpoint}",
            )
        return body

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
        """PATCH a resource (RFC 7644 3.5.2).

        Targets respond 204 without a body or 200 with the resource, so the body
        may be None.
        """
        return await self.send("PATCH", _resource_path(endpoint, scim_id), json=payload)

    async def delete(self, endpoint: str, scim_id: str) -> int:
        """DELETE a resource (RFC 7644 3.6) and return the status, usually 204."""
        response = await self.send("DELETE", _resource_path(endpoint, scim_id))
        return response.status

    async def search(
        self, endpoint: str, attribute: str, value: str
    ) -> list[dict[str, Any]]:
        """Return the resources whose `attribute` equals `value` (RFC 7644 3.4.2.2)."""
        literal = filter_literal(value)
        body = await self.get(endpoint, filter=f'{attribute} eq "{literal}"')
        return _resources_of(body)

    async def list_all(
        self,
        endpoint: str,
        *,
        page_size: int,
        on_page: ProgressCallback | None = None,
    ) -> Listing:
        """Read every resource of `endpoint` by index paging (RFC 7644 3.4.2.4).

        Targets that ignore `startIndex`, repeat pages or misstate
        `totalResults` end the listing marked incomplete instead of looping.
        """
        listing = Listing()
        seen: set[str] = set()
        start = 1

        for _ in range(MAX_PAGES):
            body = await self.get(endpoint, startIndex=start, count=page_size)
            items = _page_items(body)
            resources = _with_ids(items, f"{self.base_url}/{endpoint}")
            total = parse_int(get_key(body, "totalResults"))
            listing.total = total if total is not None else listing.total

            fresh = [r for r in resources if str(get_key(r, "id")) not in seen]
            seen.update(str(get_key(r, "id")) for r in fresh)
            listing.resources.extend(fresh)
            if on_page is not None:
                await on_page(len(listing.resources), listing.total)

            if not items:
                if total is not None and len(seen) < total:
                    _mark_incomplete(
                        listing,
                        f"the target listed {len(seen)} "
                        f"of the {total} resources it announced",
                    )
                return listing
            if resources and not fresh:
                if total is None or len(seen) < total:
                    _mark_incomplete(
                        listing,
                        f"the page at startIndex {start} repeated "
                        "resources already read",
                    )
                return listing
            # Resources without an id still take their place in the paging.
            start += len(items)

        _mark_incomplete(listing, f"paging went past {MAX_PAGES} pages")
        return listing


def _resource_path(endpoint: str, scim_id: str) -> str:
    return f"{endpoint}/{quote(scim_id, safe='')}"


def _too_large(method: str, url: str, limit: int) -> errors.ScimResponseTooLarge:
    return errors.ScimResponseTooLarge(
        f"{method} {url} returned a body longer than {limit} bytes, the limit "
        "that SMARTLINK_SCIM_MAX_RESPONSE_BYTES sets.",
        method=method,
        url=url,
    )


def _mark_incomplete(listing: Listing, problem: str) -> None:
    listing.complete = False
    listing.problem = problem
    logger.warning("SCIM listing is incomplete: %s.", problem)


def _resources_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in _page_items(body) if get_key(r, "id")]


def _page_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the objects of a ListResponse's `Resources`, with or without ids."""
    resources = get_key(body, "Resources")
    if not isinstance(resources, list):
        return []
    return [r for r in resources if isinstance(r, dict)]


def _with_ids(items: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    resources = [r for r in items if get_key(r, "id")]
    if len(resources) < len(items):
        logger.warning(
            "Skipped %d resources without an id listed by %s.",
            len(items) - len(resources),
            url,
        )
    return resources


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


def _json_body(
    response: httpx.Response, method: str, url: str
) -> dict[str, Any] | None:
    if not response.content.strip():
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise errors.ScimInvalidResponse(
            f"{method} {url} returned {response.status_code} with a body that is "
            f"not JSON ({_content_type(response)}); is this a SCIM endpoint?",
            method=method,
            url=url,
        ) from exc
    if not isinstance(body, dict):
        raise errors.ScimInvalidResponse(
            f"{method} {url} returned JSON that is not an object.",
            method=method,
            url=url,
        )
    return body


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "no content type").split(";")[0]


def _status_error(
    response: httpx.Response, method: str, url: str
) -> errors.ScimResponseError:
    status = response.status_code
    detail, scim_type = _error_detail(response)
    message = f"{method} {url} returned {status}"
    message += f": {detail}" if detail else "."
    kwargs: dict[str, Any] = dict(
        status=status, detail=detail, scim_type=scim_type, method=method, url=url
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
    if status == 404:
        return errors.ScimNotFound(message, **kwargs)
    if status == 409:
        return errors.ScimConflict(message, **kwargs)
    if status == 429:
        return errors.ScimRateLimited(
            message, retry_after=parse_retry_after(response), **kwargs
        )
    if status >= 500:
        return errors.ScimServerError(message, **kwargs)
    return errors.ScimRejected(message, **kwargs)


def _error_detail(response: httpx.Response) -> tuple[str | None, str | None]:
    """Return a SCIM error's detail and scimType (RFC 7644 3.12), or a text excerpt."""
    if "html" in _content_type(response):
        return "an HTML page instead of a SCIM error", None
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return (text[:DETAIL_LIMIT] or None), None
    if not isinstance(body, dict):
        return str(body)[:DETAIL_LIMIT], None
    detail = get_key(body, "detail")
    scim_type = get_key(body, "scimType")
    return (
        str(detail)[:DETAIL_LIMIT] if detail else None,
        str(scim_type) if scim_type else None,
    )


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
