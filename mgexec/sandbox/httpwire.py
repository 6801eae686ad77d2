"""The HTTP the srt-mode proxy reads: one request head, parsed strictly, and the head it forwards.

Anything ambiguous (userinfo in the target, both Content-Length and Transfer-Encoding, folded
headers, control characters) is refused rather than guessed, since a guess the upstream reads
differently is how filters are bypassed.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from mgexec.config.hosts import BadHost, canonical_host

MAX_HEADERS = 100
_PRINTABLE = "".join(map(chr, range(0x21, 0x7f)))
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_DIGITS = re.compile(r"^[0-9]{1,18}$")
_VERSION = re.compile(r"^HTTP/1\.[01]$")
# Connection-level headers of the client's hop; never forwarded.
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
               "te", "trailer", "upgrade", "host"}


class BadRequest(ValueError):
    """A request the proxy will not forward; the message says what was wrong."""


@dataclass(frozen=True)
class Request:
    """One parsed request: where it goes and what to send there."""

    method: str
    host: str  # canonical
    port: int
    path: str  # origin-form for plain HTTP; "" for CONNECT
    headers: tuple[tuple[str, str], ...]

    @property
    def is_connect(self) -> bool:
        return self.method == "CONNECT"

    def body_framing(self) -> tuple[str, int]:
        """("length", n), ("chunked", 0) or ("none", 0); BadRequest when the framing is ambiguous."""
        lengths = {value.strip() for name, value in self.headers if name.lower() == "content-length"}
        codings = [value.strip().lower() for name, value in self.headers if name.lower() == "transfer-encoding"]
        if codings and lengths:
            raise BadRequest("the request has both Content-Length and Transfer-Encoding")
        if codings:
            if codings != ["chunked"]:
                raise BadRequest(f"Transfer-Encoding {', '.join(codings)!r} is not supported (only 'chunked')")
            return "chunked", 0
        if len(lengths) > 1 or (lengths and not _DIGITS.match(next(iter(lengths)))):
            raise BadRequest("the request has an invalid or conflicting Content-Length")
        return ("length", int(next(iter(lengths)))) if lengths else ("none", 0)

    def upstream_head(self) -> bytes:
        """The head sent to the host: origin-form target, Host from the URI, one request per connection."""
        named = {value.strip().lower() for name, value in self.headers if name.lower() == "connection"}
        dropped = _HOP_BY_HOP | {token.strip() for value in named for token in value.split(",")}
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {authority(self.host, self.port, 80)}"]
        lines += [f"{name}: {value}" for name, value in self.headers if name.lower() not in dropped]
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def authority(host: str, port: int, default: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == default else f"{shown}:{port}"


def parse_head(head: bytes) -> Request:
    """A request head (through the blank line); BadRequest for anything the proxy will not forward."""
    lines = head.split(b"\r\n")
    try:
        request_line = lines[0].decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request line is not UTF-8") from None
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not _VERSION.match(parts[2]):
        raise BadRequest(f"the request line {request_line[:200]!r} is not 'METHOD TARGET HTTP/1.x'")
    if any(ord(char) < 0x21 or ord(char) == 0x7f for char in parts[1]):
        raise BadRequest("the request target contains control characters or spaces")
    headers = _parse_headers([line for line in lines[1:] if line])
    method, target = parts[0], parts[1]
    if method == "CONNECT":
        host, port = _parse_authority(target, default_port=None)
        return Request(method, host, port, "", headers)
    host, port, path = _parse_absolute(target)
    return Request(method, host, port, path, headers)


def _parse_headers(lines: list[bytes]) -> tuple[tuple[str, str], ...]:
    if len(lines) > MAX_HEADERS:
        raise BadRequest(f"the request has more than {MAX_HEADERS} header lines")
    headers = []
    for raw in lines:
        line = raw.decode("latin-1")
        name, colon, value = line.partition(":")
        if line[:1] in " \t":
            raise BadRequest("the request uses folded (multi-line) headers")
        if not colon or not _TOKEN.match(name) or any(ord(c) < 0x20 and c != "\t" for c in value):
            raise BadRequest(f"the header line {line[:80]!r} is malformed")
        headers.append((name, value.strip(" \t")))
    return tuple(headers)


def _parse_absolute(target: str) -> tuple[str, int, str]:
    scheme, sep, rest = target.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise BadRequest("the target is not an absolute http:// URI; sandboxed clients must use the "
                         "proxy (HTTP_PROXY) with absolute URIs, or CONNECT for other protocols")
    if scheme.lower() == "https":
        raise BadRequest("an https:// URI was sent as a plain request; HTTPS goes through CONNECT")
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    host, port = _parse_authority(rest[:end], default_port=80)
    path = rest[end:].split("#", 1)[0] or "/"
    path = urllib.parse.quote(path, safe=_PRINTABLE)  # only non-ASCII is escaped, as UTF-8
    return host, port, path if path.startswith("/") else "/" + path


def _parse_authority(text: str, default_port: int | None) -> tuple[str, int]:
    if "@" in text:
        raise BadRequest(f"the target {text[:200]!r} carries user information ('user@'); send "
                         "credentials in headers, not in the proxy target")
    if "\\" in text or "%" in text:
        raise BadRequest(f"the target {text[:200]!r} contains '\\' or '%', which hosts never do")
    if text.startswith("["):
        close = text.find("]")
        hostpart, rest = text[:close + 1], text[close + 1:]
    else:
        hostpart, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
        rest = ":" + port_text if ":" in text else ""
    port = _parse_port(rest, default_port, text)
    try:
        host = canonical_host(hostpart)
    except BadHost as exc:
        raise BadRequest(str(exc)) from None
    return host, port


def _parse_port(rest: str, default_port: int | None, text: str) -> int:
    if not rest:
        if default_port is None:
            raise BadRequest(f"CONNECT target {text[:200]!r} has no port (use host:port)")
        return default_port
    digits = rest[1:]
    if not rest.startswith(":") or not _DIGITS.match(digits) or not 1 <= int(digits) <= 65535:
        raise BadRequest(f"the target {text[:200]!r} has an invalid port")
    return int(digits)
