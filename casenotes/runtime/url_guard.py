"""Webhook targets must be public: a URL that resolves to a loopback, private, link-local or other
non-public address is refused unless the allow-list names its host or a network holding it.

Every address a name resolves to is checked, not just the first, so a name that resolves to
one public and one internal address is refused. The check runs when a subscription is made and
again before each delivery, and the sender connects to an address this returned, so a name
re-pointed after the check cannot send a delivery inside.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from casenotes.errors import InvalidInput

__all__ = ["ALLOW_SETTING", "IPAddress", "Resolver", "check_target", "internal_kind", "parse_allow", "pin", "resolve"]

ALLOW_SETTING = "CASENOTES_WEBHOOK_ALLOW"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
DEFAULT_PORTS = {"http": 80, "https": 443}
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_allow(value: str | None) -> list[str]:
    """The allow-list setting, comma or space separated: host names, addresses or CIDR networks."""
    return [entry for entry in (value or "").replace(",", " ").split() if entry]


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses: dict[IPAddress, None] = {}
    for *_, sockaddr in infos:
        addresses[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(addresses)


def check_target(url: str, allow: Sequence[str] = (), *, resolver: Resolver = resolve) -> list[IPAddress]:
    """The addresses a webhook may be sent to for `url`; InvalidInput says why there are none."""
    scheme, host, port = _parts(url)
    addresses = resolver(host, port)
    if not addresses:
        raise InvalidInput(f"webhook URL host {host!r} does not resolve")
    if _host_allowed(host, allow):
        return addresses
    networks = _networks(allow)
    for address in addresses:
        kind = internal_kind(address)
        if kind and not any(_unmapped(address) in network or address in network for network in networks):
            raise InvalidInput(f"webhook URL host {host!r} resolves to a {kind} address ({_unmapped(address)}); "
                               f"add it to {ALLOW_SETTING} to allow it")
    return addresses


def pin(url: str, address: IPAddress) -> tuple[str, str, str | None]:
    """The URL with its host replaced by `address`, the Host header it needs, and the TLS name to check."""
    parts = urlsplit(url.strip())
    hostname = (parts.hostname or "").rstrip(".")
    ascii_host = hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname
    literal = f"[{address}]" if address.version == 6 else str(address)
    port = f":{parts.port}" if parts.port else ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = (f"[{ascii_host}]" if ":" in ascii_host else ascii_host) + port
    sni = ascii_host if parts.scheme.lower() == "https" and not _is_address(ascii_host) else None
    return f"{parts.scheme.lower()}://{literal}{port}{path}", host_header, sni


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def internal_kind(address: IPAddress) -> str | None:
    """What makes `address` unfit for a webhook ("loopback", "private", ...), or None if it is public."""
    address = _unmapped(address)
    for kind in ("loopback", "link-local", "unspecified", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind.replace('-', '_')}"):
            return kind
    if not address.is_global:
        return "non-public"  # shared (100.64.0.0/10), documentation and other special ranges
    if isinstance(address, ipaddress.IPv6Address) and (address.sixtofour or address.teredo):
        return "tunnelled"  # 6to4 and Teredo carry an IPv4 address the checks above did not see
    return None


def _parts(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise InvalidInput(f"webhook URL is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidInput("webhook URL must be http or https")
    if not parts.hostname:
        raise InvalidInput("webhook URL has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("webhook URL must not carry a user name or password")
    return scheme, parts.hostname.rstrip(".").lower(), port or DEFAULT_PORTS[scheme]


def _host_allowed(host: str, allow: Sequence[str]) -> bool:
    return any(entry.strip().rstrip(".").lower() == host for entry in allow)


def _networks(allow: Sequence[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in allow:
        try:
            networks.append(ipaddress.ip_network(entry.strip().strip("[]"), strict=False))
        except ValueError:
            continue  # a host name, matched by _host_allowed
    return networks


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv4-mapped (::ffff:10.0.0.5) or NAT64 (64:ff9b::a00:5) address as the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address
