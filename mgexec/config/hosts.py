"""srt mode's domain patterns and host names, parsed one way for `config check` and the proxy alike.

A host is judged in exactly the form the proxy then dials, so a spelling that only matches after
normalisation (case, trailing dot, IDNA, inet_aton shorthand like `127.1`) cannot slip past a rule.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from mgexec.errors import ConfigError

ALLOWED_KEY = "command_line_srt_network_allowed_domains"
DENIED_KEY = "command_line_srt_network_denied_domains"

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# WHATWG and glibc read a name whose last label is a number as an IPv4 address (`127.1`, `0x7f.1`).
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")


class BadHost(ValueError):
    """A host name that is not a valid DNS name or IP literal; the message says why."""


def canonical_host(raw: str) -> str:
    """`raw` (a name, IPv4 in any inet_aton spelling, or bracketed IPv6) in the one form the proxy dials."""
    text = raw
    if not text:
        raise BadHost("the host is empty")
    if len(text) > 300:
        raise BadHost("the host is longer than 253 characters")
    if text.startswith("["):
        if not text.endswith("]"):
            raise BadHost(f"{text!r} opens an IPv6 bracket it does not close")
        return _canonical_ipv6(text[1:-1])
    if ":" in text:
        raise BadHost(f"{text!r} is an IPv6 address without brackets (write [{text}])")
    return _canonical_name(text)


def _canonical_ipv6(text: str) -> str:
    if "%" in text:
        raise BadHost(f"{text!r} carries an IPv6 zone id, which the proxy does not accept")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise BadHost(f"[{text}] is not a valid IPv6 address") from None
    # An IPv4-mapped address connects to that IPv4 address, so it is judged as one.
    return str(address.ipv4_mapped) if address.ipv4_mapped else str(address)


def _canonical_name(text: str) -> str:
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise BadHost(f"{text!r} is not a valid internationalised domain name") from None
    name = text.lower()
    if name.endswith("."):
        name = name[:-1]
    labels = name.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        return _canonical_ipv4(name)
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise BadHost(f"{text!r} is not a valid host name (letters, digits, '-', '_' and dots only)")
    return name


def _canonical_ipv4(name: str) -> str:
    try:
        packed = socket.inet_aton(name)
    except OSError:
        raise BadHost(f"{name!r} looks like an IPv4 address but is not one") from None
    return str(ipaddress.IPv4Address(packed))


def is_ip(host: str) -> bool:
    """True for a canonical IP literal (as `canonical_host` returns them)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback_name(host: str) -> bool:
    """`localhost` and names under `.localhost` (RFC 6761), which must resolve to loopback only."""
    return host == "localhost" or host.endswith(".localhost")


@dataclass(frozen=True)
class DomainPattern:
    """One allow/deny entry: an exact host, `*.suffix` (strict subdomains), or `*` (deny lists only)."""

    text: str
    host: str  # canonical host, or the suffix after `*.`; empty for `*`
    wildcard: bool
    port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if not self.host:  # `*`
            return True
        if self.wildcard:
            # As in sandbox-runtime: never for IP literals, and never the bare suffix itself.
            return not is_ip(host) and host.endswith("." + self.host)
        return host == self.host


def parse_pattern(text: str, key: str) -> DomainPattern:
    """An entry of `key`'s list; ConfigError naming the entry and the accepted forms when it is not one."""
    if not isinstance(text, str):
        raise _pattern_error(repr(text), key, "it is not a string")
    entry = text.strip().lower()
    hostpart, port = _split_port(entry, key)
    if hostpart == "*":
        if key != DENIED_KEY:
            raise _pattern_error(text, key, "a bare '*' would allow every host")
        return DomainPattern(entry, "", False, port)
    wildcard = hostpart.startswith("*.")
    try:
        host = canonical_host(hostpart[2:] if wildcard else hostpart)
    except BadHost as exc:
        raise _pattern_error(text, key, str(exc)) from None
    if wildcard and (is_ip(host) or "." not in host):
        raise _pattern_error(text, key, "a wildcard needs a domain with at least two labels after '*.'")
    return DomainPattern(entry, host, wildcard, port)


def _split_port(entry: str, key: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0:
            raise _pattern_error(entry, key, "it opens an IPv6 bracket it does not close")
        host, rest = entry[:close + 1], entry[close + 1:]
    elif entry.count(":") == 1:
        host, rest = entry.split(":")
        rest = ":" + rest
    else:
        host, rest = entry, ""
    if not rest:
        return host, None
    digits = rest[1:]
    if not rest.startswith(":") or not re.fullmatch(r"[0-9]{1,5}", digits) or not 1 <= int(digits) <= 65535:
        raise _pattern_error(entry, key, "the part after ':' must be a port between 1 and 65535")
    return host, int(digits)


def _pattern_error(text: str, key: str, why: str) -> ConfigError:
    return ConfigError(
        f"{key} has an entry {text!r} that is not a domain pattern: {why}. Use an exact name "
        "('pypi.org'), a wildcard for its subdomains ('*.example.com'), an IP address, optionally "
        "with ':PORT' ('example.com:443').")
