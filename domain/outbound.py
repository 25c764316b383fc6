"""Rules for the hosts and addresses that SCIM requests may reach.

A SCIM base URL is typed by an admin, so without rules it could point the
server at its own network: loopback services, private hosts, or the cloud
metadata service on 169.254.169.254. SCIM requests go only to https URLs whose
host resolves to globally routable addresses, unless an operator lists the
host, the address or its network in `SMARTLINK_OUTBOUND_ALLOW`.

`check_base_url` applies these rules when a base URL is saved, and
`domain.scim.transport` applies them again to every address a connection is
made to, so a DNS answer that changes in between (DNS rebinding) is caught.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from domain.errors import DomainError, ErrorCode, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "SMARTLINK_OUTBOUND_ALLOW"

#: Characters of a base URL accepted at most.
BASE_URL_MAX_LENGTH = 2048

#: The well-known NAT64 prefix (RFC 6052): a gateway turns 64:ff9b::a.b.c.d
#: into a connection to the IPv4 address a.b.c.d.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")

METADATA_ADDRESS = ipaddress.IPv4Address("169.254.169.254")

#: One part of an IPv4 address as inet_aton(3) and the WHATWG URL standard
#: read it: hex after 0x, octal after a leading 0, else decimal.
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")


class OutboundRejected(DomainError):
    """Raised when a URL's scheme or address is not allowed for SCIM requests."""

    code = ErrorCode.OUTBOUND_REJECTED


def parse_base_url(url: str) -> str:
    """Return `url` without a trailing slash, or raise `InvalidInput`.

    An IPv4 host written in a legacy form (`127.1`, `2130706433`,
    `0177.0.0.1`, `0x7f.0.0.1`) is rewritten in dotted decimal, so the saved
    URL shows the address that requests reach.
    """
    url = url.strip()
    if len(url) > BASE_URL_MAX_LENGTH:
        raise InvalidInput(
            f"Base URL is {len(url)} characters long; it must be at most "
            f"{BASE_URL_MAX_LENGTH}.",
            field=["baseUrl"],
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(
            f"Base URL {url!r} is not a valid URL ({exc}); check its host and port.",
            field=["baseUrl"],
        ) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"Base URL {url!r} is not an http(s) URL; enter the SCIM endpoint, "
            "such as 'https://app.example.com/scim/v2'.",
            field=["baseUrl"],
        )
    if "@" in parts.netloc:
        raise InvalidInput(
            f"Base URL {url!r} contains credentials before '@'; remove them and "
            "enter the token in the token field.",
            field=["baseUrl"],
        )
    if parts.query or parts.fragment:
        raise InvalidInput(
            f"Base URL {url!r} has a query or fragment; enter the endpoint's "
            "path only.",
            field=["baseUrl"],
        )

    legacy = parse_ipv4_host(parts.hostname)
    if legacy is not None and str(legacy) != parts.hostname:
        netloc = f"{legacy}:{port}" if port is not None else str(legacy)
        url = parts._replace(netloc=netloc).geturl()

    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidInput(
            f"Base URL {url!r} is not a valid URL ({exc}); check its host.",
            field=["baseUrl"],
        ) from exc
    return url.rstrip("/")


def parse_ipv4_host(host: str) -> ipaddress.IPv4Address | None:
    """Read `host` as an IPv4 address in any form resolvers accept, or None.

    Besides dotted decimal, inet_aton(3) and the WHATWG URL standard accept
    fewer than four parts (`127.1`), one number (`2130706433`), and octal
    (`0177.0.0.1`) or hex (`0x7f.0.0.1`) parts.
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    if not all(_IPV4_PART.fullmatch(part) for part in parts):
        return None

    numbers = [_ipv4_part_value(part) for part in parts]
    *leading, last = numbers
    if any(number > 255 for number in leading):
        return None
    if last >= 256 ** (5 - len(numbers)):
        return None

    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_part_value(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    return int(part)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address reaches in the end, if any.

    IPv4-mapped addresses (::ffff:a.b.c.d) connect to the IPv4 address itself;
    NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses reach it through a
    gateway.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def rejection_rule(address: IPAddress) -> str | None:
    """Return the rule that rejects SCIM requests to `address`, or None.

    The rule is the kind of range the address is in: "loopback", "private",
    "link-local", "multicast", "unspecified", "reserved", or "non-global" for
    the other ranges that are not globally routable (such as 100.64.0.0/10).
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return rejection_rule(address.ipv4_mapped)
    embedded = embedded_ipv4(address)
    if embedded is not None and (rule := rejection_rule(embedded)) is not None:
        return rule

    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-global"
    return None


def _rejection_message(host: str, address: IPAddress, rule: str) -> str:
    if _is_literal(host, address):
        lead = f"Address {address} is"
    else:
        lead = f"Host {host!r} resolves to {address}, which is"
    reached: IPAddress = address
    embedded = embedded_ipv4(address)
    if embedded is not None and rejection_rule(embedded) is not None:
        lead += f" a form of {embedded}, and so"
        reached = embedded

    article = "an" if rule[0] in "aeiou" else "a"
    kind = f"{article} {rule} address"
    if reached == METADATA_ADDRESS:
        kind += " (cloud metadata services answer there)"
    return (
        f"{lead} {kind}. SCIM requests may not reach {rule} addresses unless an "
        f"operator adds '{reached}' or its network to {ALLOW_SETTING}."
    )


def _is_literal(host: str, address: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) == address
    except ValueError:
        return False


@dataclass(frozen=True)
class OutboundPolicy:
    """The hosts and networks an operator allows beyond public https."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> OutboundPolicy:
        """Read `SMARTLINK_OUTBOUND_ALLOW` entries: addresses, networks or hosts."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(_normal_host(entry))
        return cls(hosts=frozenset(hosts), networks=tuple(networks))

    def allows_host(self, host: str) -> bool:
        """Return True when `host` is allowed by name, whatever it resolves to."""
        return _normal_host(host) in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        """Return True when `address`, or the IPv4 address it reaches, is listed."""
        candidates = [address]
        embedded = embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
        return any(
            candidate in network
            for candidate in candidates
            for network in self.networks
            if candidate.version == network.version
        )

    def check_address(self, host: str, address: IPAddress, *, plain_http: bool) -> None:
        """Raise `OutboundRejected` unless a request to `host` may use `address`.

        Over plain http, where the token would travel unencrypted, only listed
        hosts and addresses are allowed, public or not.
        """
        if self.allows_host(host) or self.allows_address(address):
            return

        rule = rejection_rule(address)
        if rule is not None:
            raise OutboundRejected(
                _rejection_message(host, address, rule), field=["baseUrl"]
            )
        if plain_http:
            raise OutboundRejected(
                f"Host {host!r} is reached over plain http, but SCIM tokens are "
                f"only sent over https. Use an https base URL, or an operator can "
                f"allow '{host}' in {ALLOW_SETTING}.",
                field=["baseUrl"],
            )


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Return the addresses of `host`, as the connection would look them up.

    Raises `socket.gaierror` when the host does not resolve. IP literals are
    returned without a DNS query.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def check_base_url(url: str, policy: OutboundPolicy) -> None:
    """Raise `OutboundRejected` unless SCIM requests may go to `url`.

    Every address the host resolves to must be allowed; the SCIM transport
    checks again at each connection.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    plain_http = parts.scheme != "https"
    if policy.allows_host(host):
        return

    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await resolve_host(host, port)
    except socket.gaierror as exc:
        raise DomainError(
            f"Host {host!r} could not be resolved ({exc.strerror}); check the "
            "base URL's spelling.",
            field=["baseUrl"],
            code=ErrorCode.TARGET_UNREACHABLE,
        ) from exc
    for address in addresses:
        policy.check_address(host, address, plain_http=plain_http)
