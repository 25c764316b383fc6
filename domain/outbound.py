"""Which SCIM base URLs the server may send requests to.

A base URL must use https and resolve to public addresses, unless its host or
address is listed in `SMARTLINK_OUTBOUND_ALLOW`. This keeps an admin-typed URL
from reaching the server's own network.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from domain.errors import DomainError, ErrorCode, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRejected(DomainError):
    """Raised when a URL's scheme or address is not allowed for outbound requests."""

    code = ErrorCode.OUTBOUND_REJECTED


def parse_base_url(url: str) -> str:
    """Return `url` without a trailing slash, or raise `InvalidInput`."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"Base URL {url!r} is not an http(s) URL; enter the SCIM endpoint, "
            "such as 'https://app.example.com/scim/v2'.",
            field=["baseUrl"],
        )
    if parts.username or parts.password:
        raise InvalidInput(
            f"Base URL {url!r} contains credentials; remove them and enter the "
            "token in the token field.",
            field=["baseUrl"],
        )
    if parts.query or parts.fragment:
        raise InvalidInput(
            f"Base URL {url!r} has a query or fragment; enter the endpoint's "
            "path only.",
            field=["baseUrl"],
        )
    return url.rstrip("/")


def _is_allowed(host: str, address: IPAddress | None, allow: list[str]) -> bool:
    for entry in allow:
        if entry.lower() == host.lower():
            return True
        if address is None:
            continue
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _resolve(host: str) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundRejected(
            f"Host {host!r} could not be resolved ({exc.strerror}); check the "
            "base URL's spelling.",
            field=["baseUrl"],
        ) from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return [
        a.ipv4_mapped if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped else a
        for a in addresses
    ]


def check_outbound_url(url: str, allow: list[str]) -> None:
    """Raise `OutboundRejected` unless requests to `url` are allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _is_allowed(host, None, allow):
        return

    addresses = _resolve(host)
    allowed = [address for address in addresses if _is_allowed(host, address, allow)]
    for address in addresses:
        if address in allowed or (address.is_global and not address.is_multicast):
            continue
        raise OutboundRejected(
            f"Base URL host {host!r} resolves to {address}, which is not a public "
            f"address. An operator can allow it by adding {str(address)!r} to "
            "SMARTLINK_OUTBOUND_ALLOW.",
            field=["baseUrl"],
        )

    if parts.scheme != "https" and len(allowed) < len(addresses):
        raise OutboundRejected(
            f"Base URL {url!r} uses {parts.scheme}, but SCIM tokens are only sent "
            f"over https. Use https, or an operator can allow {host!r} in "
            "SMARTLINK_OUTBOUND_ALLOW.",
            field=["baseUrl"],
        )
