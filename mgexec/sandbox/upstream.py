"""How the srt-mode proxy reaches an allowed host: resolve on the host, vet every address, dial a vetted one.

The allow list decides by name, but whoever runs a name's DNS decides where it points; so an allowed
name may not lead to this machine (loopback, its own interfaces), link-local or metadata addresses
unless that address is itself allowed. The address that passed the check is the one dialed.
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import socket
import struct
from typing import Awaitable, Callable

from mgexec.config.hosts import is_ip, is_loopback_name
from mgexec.sandbox.hostrules import DomainRules

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# The proxy's way out: (canonical host, port) -> connected streams; OSError when it cannot connect.
Connector = Callable[[str, int], Awaitable[Streams]]

_DENIED_CLASSES = (
    ("a loopback address", ("127.0.0.0/8", "::1/128")),
    ("an unspecified address", ("0.0.0.0/8", "::/128")),
    ("a link-local address", ("169.254.0.0/16", "fe80::/10")),
    ("a multicast address", ("224.0.0.0/4", "ff00::/8")),
    ("the broadcast address", ("255.255.255.255/32",)),
    ("a cloud metadata address", ("100.100.100.200/32", "168.63.129.16/32", "192.0.0.192/32",
                                  "fd00:ec2::/32", "fd20:ce::254/128")),
)
_SIOCGIFADDR = 0x8915


class RefusedAddress(OSError):
    """Every address a name resolved to is one the proxy will not dial; the message says which and why."""


def _address_class(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for why, networks in _DENIED_CLASSES:
        if any(address in ipaddress.ip_network(net) for net in networks):
            return why
    return None


def local_addresses() -> set[str]:
    """Unicast addresses on this machine's interfaces: a service bound to 0.0.0.0 answers on them too."""
    found: set[str] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _index, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            found.add(socket.inet_ntoa(packed[20:24]))
    try:
        with open("/proc/net/if_inet6") as table:
            for line in table:
                found.add(str(ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))))
    except OSError:
        pass
    return found


def refusal(host: str, address: str, port: int, rules: DomainRules) -> str | None:
    """Why `host` may not be dialed at `address`, or None when it may."""
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped:
        parsed = parsed.ipv4_mapped
    if rules.denies_literal(str(parsed), port):
        return "a deny-listed address"
    if rules.allows_literal(str(parsed), port):
        return None
    why = _address_class(parsed)
    if is_loopback_name(host):
        return None if why == "a loopback address" else "an address that is not loopback"
    if why:
        return why
    if str(parsed) in local_addresses():
        return "one of this machine's own addresses"
    return None


class ResolvingConnector:
    """The default way out: the OS resolver on the host, then the address check above."""

    def __init__(self, rules: DomainRules, timeout: float = 15.0) -> None:
        self.rules = rules
        self.timeout = timeout

    async def __call__(self, host: str, port: int) -> Streams:
        if is_ip(host):  # an allowed literal is an explicit choice; nothing to resolve
            return await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout)
        addresses = await self._resolve(host, port)
        vetted, refused = [], []
        for address in addresses:
            why = refusal(host, address, port, self.rules)
            (refused if why else vetted).append((address, why))
        if not vetted:
            shown = ", ".join(f"{address} ({why})" for address, why in refused[:4])
            raise RefusedAddress(f"{host} resolves only to addresses the proxy does not dial: {shown}. "
                                 "Allow the address itself if this is intended.")
        return await self._dial(host, port, [address for address, _ in vetted])

    async def _resolve(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), self.timeout)
        except (socket.gaierror, UnicodeError) as exc:
            raise OSError(f"{host} could not be resolved on the host ({exc})") from None
        return list(dict.fromkeys(info[4][0] for info in infos))

    async def _dial(self, host: str, port: int, addresses: list[str]) -> Streams:
        last: Exception | None = None
        for address in addresses:
            try:
                return await asyncio.wait_for(asyncio.open_connection(address, port), self.timeout)
            except (OSError, asyncio.TimeoutError) as exc:
                last = exc
        raise OSError(f"{host}:{port} did not accept a connection ({last or 'no address'})")
