"""The SSRF guard: user-supplied URLs must not reach our own network, loopback or cloud metadata.

Two checks. `check_url` is static (scheme, userinfo, IP literals, well-known local names) and fits
save-time validation. `resolve_and_check` also resolves the host and refuses when ANY address is
blocked; the caller must then connect to one of the returned addresses rather than resolve again,
or a DNS answer that changes between check and connect (rebinding) walks around the guard.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

# Named for the error message; all but one also fall inside a blocked network below. A hostname
# allow-list entry never unlocks these: only an explicit IP or CIDR entry does.
CLOUD_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS VPC DNS
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::253",  # AWS VPC DNS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)

# Spelled out rather than left to `ipaddress.is_private`/`is_global`, whose tables changed between
# 3.11 patch releases (and miss multicast and CGNAT in some of them).
BLOCKED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), reason)
    for network, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/8", "reserved (IPv4-compatible)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (Teredo included)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

# Names that mean "this machine" or "the metadata service" wherever they are resolved.
LOCAL_HOSTNAMES = frozenset({"localhost", "localhost.localdomain", "metadata.google.internal"})

_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
# Hosts such as "127.1", "0x7f.0.0.1" or "2130706433" are IPv4 literals to the resolver.
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")


class BlockedDestinationError(Exception):
    """The URL is not one we send to: bad scheme or shape, or a host inside a refused range."""


@dataclass(frozen=True)
class AllowList:
    """Hostnames, addresses and networks an operator trusts (internal receivers, test servers)."""

    hostnames: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Sequence[str]) -> AllowList:
        hostnames: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().strip("[]")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if "/" in text:
                    raise ValueError(f"allow-list entry {entry!r} is not a valid CIDR") from None
                hostnames.add(_normalise_hostname(text))
        return cls(frozenset(hostnames), tuple(networks))

    def permits_address(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(candidate in network for candidate in candidates for network in self.networks)


@dataclass(frozen=True)
class _Destination:
    host: str
    port: int
    literal: IPAddress | None


def blocked_reason(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused, or None when it is a public address."""
    if address in CLOUD_METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            # The packet ends up at the embedded IPv4 address: judge that one instead.
            reason = blocked_reason(embedded)
            return None if reason is None else f"{reason} (as {address})"
    for network, reason in BLOCKED_NETWORKS:
        if address in network:
            return reason
    # Backstop for whatever a newer registry adds that the table above does not know yet.
    if address.is_multicast or address.is_reserved or address.is_private or not address.is_global:
        return "not globally routable"
    return None


def check_url(url: str, *, allow: Sequence[str] = ()) -> None:
    """Refuse, without touching the network, a URL that cannot be a safe webhook target."""
    _check(url, AllowList.parse(allow))


async def resolve_and_check(url: str, *, allow: Sequence[str] = ()) -> list[str]:
    """The addresses to connect to for `url`, all checked; refused if any one of them is blocked.

    Resolution errors (`socket.gaierror`) propagate: whether they are worth retrying is the caller's call.
    """
    allow_list = AllowList.parse(allow)
    destination = _check(url, allow_list)
    if destination.literal is not None:
        return [str(destination.literal)]
    addresses = await _resolve(destination.host, destination.port)
    if not addresses:
        raise BlockedDestinationError(f"{destination.host} resolved to no address")
    name_is_allowed = destination.host in allow_list.hostnames
    for text in addresses:
        address = ipaddress.ip_address(text)
        if allow_list.permits_address(address):
            continue
        if name_is_allowed and address not in CLOUD_METADATA_ADDRESSES:
            continue
        reason = blocked_reason(address)
        if reason is not None:
            raise BlockedDestinationError(f"{destination.host} resolves to {address} ({reason})")
    return addresses


def _check(url: str, allow_list: AllowList) -> _Destination:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedDestinationError(f"scheme {scheme or '(none)'!r} is not allowed, only http and https")
    # Credentials in a URL end up in logs and in the receiver's access log; they belong in headers.
    if "@" in parts.netloc:
        raise BlockedDestinationError("URLs with userinfo (user:password@) are not allowed")
    if not parts.hostname:
        raise BlockedDestinationError("the URL has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise BlockedDestinationError(f"the URL's port is not valid: {exc}") from exc
    host = _normalise_hostname(parts.hostname)
    literal = ip_literal(host)
    if literal is not None:
        if not allow_list.permits_address(literal):
            reason = blocked_reason(literal)
            if reason is not None:
                raise BlockedDestinationError(f"{literal} is refused ({reason})")
    elif host not in allow_list.hostnames and (host in LOCAL_HOSTNAMES or host.endswith(".localhost")):
        raise BlockedDestinationError(f"{host} names this machine or a metadata service")
    return _Destination(host=host, port=port, literal=literal)


def _normalise_hostname(host: str) -> str:
    return host.lower().rstrip(".")


def ip_literal(host: str) -> IPAddress | None:
    """The address a host names by itself, including the shorthand forms resolvers accept (127.1)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    addresses: list[str] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses
