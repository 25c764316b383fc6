"""An httpx transport that connects only to addresses the outbound rules allow.

The transport resolves each host itself, checks every address it got against
`domain.outbound`, and opens the TCP connection to a checked address, so no
second DNS lookup happens between the check and the connection. The request's
Host header and the TLS server name (SNI) stay those of the URL, because
httpcore takes both from the URL, not from the address connected to.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import typing

import httpcore
import httpx

from domain import outbound
from domain.outbound import IPAddress, OutboundPolicy

logger = logging.getLogger(__name__)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Send requests through connection pools that check every address.

    Plain http requests and https requests use separate pools, because the
    rules differ: over plain http only listed hosts and addresses are allowed.
    Being a transport given to the client, it also keeps httpx from routing
    requests through proxies named in the environment, past the checks.
    """

    def __init__(
        self, policy: OutboundPolicy, *, verify: ssl.SSLContext | bool = True
    ) -> None:
        ssl_context = (
            verify
            if isinstance(verify, ssl.SSLContext)
            else httpx.create_ssl_context(verify=verify)
        )
        self._https = _PoolTransport(
            _GuardedBackend(policy, plain_http=False), ssl_context
        )
        self._http = _PoolTransport(
            _GuardedBackend(policy, plain_http=True), ssl_context
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            return await self._https.handle_async_request(request)
        if request.url.scheme == "http":
            return await self._http.handle_async_request(request)
        raise httpx.UnsupportedProtocol(
            f"Request URL {str(request.url)!r} is neither http nor https.",
            request=request,
        )

    async def aclose(self) -> None:
        await self._https.aclose()
        await self._http.aclose()


class _PoolTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool that opens connections with `backend`."""

    def __init__(
        self, backend: httpcore.AsyncNetworkBackend, ssl_context: ssl.SSLContext
    ) -> None:
        super().__init__(verify=ssl_context)
        # NOTE: httpx takes no network backend, so this replaces the pool that
        # httpx built, its private `_pool` in httpx 0.28 and 0.29, with the same
        # pool over `backend`. httpx still maps httpcore's exceptions.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, network_backend=backend
        )


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check, then connect to the checked addresses in turn."""

    def __init__(self, policy: OutboundPolicy, *, plain_http: bool) -> None:
        self._policy = policy
        self._plain_http = plain_http
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        for address in addresses:
            self._policy.check_address(host, address, plain_http=self._plain_http)

        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                logger.debug("Connecting to %s port %d failed: %s", address, port, exc)
                error = exc
        assert error is not None
        raise error

    async def _resolve(
        self, host: str, port: int, timeout: float | None
    ) -> list[IPAddress]:
        try:
            async with asyncio.timeout(timeout):
                addresses = await outbound.resolve_host(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(
                f"Resolving {host!r} took longer than {timeout} s."
            ) from exc
        except socket.gaierror as exc:
            raise httpcore.ConnectError(
                f"Host {host!r} could not be resolved ({exc.strerror})."
            ) from exc
        if not addresses:
            raise httpcore.ConnectError(f"Host {host!r} resolved to no address.")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("SCIM requests do not use Unix sockets.")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
