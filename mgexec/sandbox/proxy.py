"""The srt-mode filtering proxy: an asyncio HTTP proxy on a private unix socket, run on the host.

Sandboxed commands reach it through the in-sandbox relay (relay.py). It lets CONNECT tunnels and
absolute-URI HTTP requests through to allowed hosts only, dials them itself, and answers everything
else with a 403 or 400 whose body says what was refused and which key allows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mgexec.errors import ConfigError
from mgexec.sandbox.hostrules import DomainRules
from mgexec.sandbox.httpwire import BadRequest, Request, parse_head
from mgexec.sandbox.upstream import Connector, RefusedAddress, ResolvingConnector

log = logging.getLogger("mgexec.sandbox.proxy")

SOCKET_NAME = "proxy.sock"
_MAX_UNIX_PATH = 107
_CHUNK = 65536
_LINGER, _LINGER_BYTES = 2.0, 1 << 20
_MAX_TURNED_AWAY = 32
_CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,15}$")


@dataclass(frozen=True)
class ProxyLimits:
    """Bounds that keep a hostile client from freezing or exhausting the proxy."""

    max_head: int = 64 * 1024  # request line + headers
    head_timeout: float = 15.0  # the whole head must arrive within this
    connect_timeout: float = 15.0  # resolve + connect upstream
    idle_timeout: float = 300.0  # a connection with no bytes either way for this long is closed
    max_connections: int = 256


class ProxyHandle:
    """A running proxy; `close()` stops it, ends its connections and removes its socket directory."""

    def __init__(self, server: asyncio.AbstractServer, directory: Path, proxy: "_Proxy") -> None:
        self._server = server
        self._directory = directory
        self._proxy = proxy
        self.socket_path = str(directory / SOCKET_NAME)

    async def close(self) -> None:
        self._server.close()
        await self._proxy.cancel_all()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5.0)
        shutil.rmtree(self._directory, ignore_errors=True)


async def start_proxy(allowed_domains, denied_domains, socket_dir, *, connector: Connector | None = None,
                      limits: ProxyLimits = ProxyLimits()) -> ProxyHandle:
    """Start the proxy on a unix socket in a new 0700 directory under `socket_dir`.

    The sandbox needs `os.path.dirname(handle.socket_path)` bound in; read-only is enough to connect.

    `connector` is how the proxy reaches an allowed host (default: the OS resolver plus the address
    check of upstream.py). ConfigError for an invalid domain pattern or an unusable `socket_dir`.
    """
    rules = DomainRules(tuple(allowed_domains), tuple(denied_domains))
    os.makedirs(socket_dir, mode=0o700, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="mgexec-proxy-", dir=socket_dir))  # 0700 by construction
    socket_path = directory / SOCKET_NAME
    if len(os.fsencode(str(socket_path))) > _MAX_UNIX_PATH:
        shutil.rmtree(directory, ignore_errors=True)
        raise ConfigError(f"the sandbox proxy's socket path {str(socket_path)!r} is longer than unix sockets "
                          f"allow ({_MAX_UNIX_PATH} bytes); use a shorter runtime directory.")
    proxy = _Proxy(rules, connector or ResolvingConnector(rules, limits.connect_timeout), limits)
    server = await asyncio.start_unix_server(proxy.serve, path=str(socket_path), limit=limits.max_head)
    os.chmod(socket_path, 0o600)
    return ProxyHandle(server, directory, proxy)


def proxy_env(port: int) -> dict[str, str]:
    """The variables that send a sandboxed command's HTTP(S) through the relay on 127.0.0.1:`port`."""
    url = f"http://127.0.0.1:{port}"
    env = {"HTTP_PROXY": url, "HTTPS_PROXY": url, "ALL_PROXY": url, "NO_PROXY": "localhost,127.0.0.1,::1"}
    return env | {name.lower(): value for name, value in env.items()}


def _response(status: int, phrase: str, message: str) -> bytes:
    body = f"mgexec sandbox proxy: {message}\n".encode()
    head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            f"X-Mgexec-Proxy: {phrase}\r\n\r\n")
    return head.encode() + body


class _Proxy:
    def __init__(self, rules: DomainRules, connector: Connector, limits: ProxyLimits) -> None:
        self.rules = rules
        self.connector = connector
        self.limits = limits
        self.tasks: set[asyncio.Task] = set()
        self.turned_away = 0  # connections being answered 503 right now

    async def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5.0)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self.tasks) >= self.limits.max_connections:
            await self._turn_away(reader, writer)
            return
        self.tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client or upstream went away mid-transfer; nothing to tell anyone
        except Exception:  # a bug: keep serving the other connections, and say where it happened
            log.exception("sandbox proxy connection failed")
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _turn_away(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Briefly, and only a few at a time: a flood of connections must not pile up open descriptors.
        if self.turned_away >= _MAX_TURNED_AWAY:
            writer.transport.abort()
            return
        self.turned_away += 1
        try:
            await _answer(reader, writer, _response(503, "Service Unavailable", "too many open connections "
                                                    f"(at most {self.limits.max_connections}); retry later"), 0.5)
        finally:
            self.turned_away -= 1
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await self._read_request(reader, writer)
        if request is None:
            return
        verdict = self.rules.judge(request.host, request.port)
        if not verdict.allowed:
            log.debug("refused %s:%d", request.host, request.port)
            await _answer(reader, writer, _response(403, "Forbidden", verdict.reason))
            return
        upstream = await self._connect(request, reader, writer)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        try:
            if request.is_connect:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await self._relay(reader, writer, up_reader, up_writer)
            else:
                await self._forward(request, reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()

    async def _read_request(self, reader, writer) -> Request | None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.limits.head_timeout)
        except asyncio.LimitOverrunError:
            await _answer(reader, writer, _response(431, "Request Header Fields Too Large",
                                            f"the request head is larger than {self.limits.max_head} bytes"))
            return None
        except asyncio.TimeoutError:
            await _answer(reader, writer, _response(408, "Request Timeout", "the request head did not arrive within "
                                                                     f"{self.limits.head_timeout:g} seconds"))
            return None
        except asyncio.IncompleteReadError:
            return None  # the client went away before finishing its request
        try:
            request = parse_head(head)
            if not request.is_connect:
                request.body_framing()  # refused before anything is dialed
            return request
        except BadRequest as exc:
            await _answer(reader, writer, _response(400, "Bad Request", f"{exc}."))
            return None

    async def _connect(self, request: Request, reader, writer):
        try:
            return await asyncio.wait_for(self.connector(request.host, request.port), self.limits.connect_timeout)
        except RefusedAddress as exc:
            await _answer(reader, writer, _response(403, "Forbidden", str(exc)))
        except (OSError, asyncio.TimeoutError) as exc:
            why = str(exc) or "timed out"
            await _answer(reader, writer, _response(502, "Bad Gateway", f"{request.host}:{request.port} is allowed but "
                                                                f"could not be reached from the host: {why}"))
        return None

    async def _forward(self, request: Request, reader, writer, up_reader, up_writer) -> None:
        up_writer.write(request.upstream_head())
        watch = _Idle(self.limits.idle_timeout, writer, up_writer)
        # The answer flows while the body is still sent: an upstream's `100 Continue` or early error
        # must reach the client, which may be waiting for it before sending the body.
        body = asyncio.ensure_future(_send_body(request, reader, up_writer, watch))
        try:
            # One request per client connection: later bytes from the client are never forwarded.
            await _pump(up_reader, writer, watch)
        finally:
            watch.stop()
            body.cancel()
            with contextlib.suppress(BaseException):
                await body

    async def _relay(self, reader, writer, up_reader, up_writer) -> None:
        watch = _Idle(self.limits.idle_timeout, writer, up_writer)
        try:
            await asyncio.gather(_pump(reader, up_writer, watch), _pump(up_reader, writer, watch))
        finally:
            watch.stop()


class _Idle:
    """Closes both ends of a connection after `timeout` seconds without a byte in either direction."""

    def __init__(self, timeout: float, *writers: asyncio.StreamWriter) -> None:
        self.timeout = timeout
        self.writers = writers
        self.last = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(self._watch())

    def touch(self) -> None:
        self.last = time.monotonic()

    def stop(self) -> None:
        self.task.cancel()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, self.last + self.timeout - time.monotonic()))
            if time.monotonic() - self.last >= self.timeout:
                for writer in self.writers:
                    writer.transport.abort()
                return


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, watch: _Idle) -> None:
    try:
        while data := await reader.read(_CHUNK):
            watch.touch()
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        for end in watch.writers:  # one side broke: end the other too, so its pump stops
            end.transport.abort()


async def _send_body(request: Request, reader, up_writer, watch: _Idle) -> None:
    framing, length = request.body_framing()  # checked when the head was read
    try:
        if framing == "length":
            await _copy_exact(reader, up_writer, length, watch)
        elif framing == "chunked":
            await _copy_chunked(reader, up_writer, watch)
        await up_writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        # A body cut short or malformed: the upstream would wait for the rest, so end both sides now.
        for end in watch.writers:
            end.transport.abort()


async def _copy_exact(reader, writer, length: int, watch: _Idle) -> None:
    while length > 0:
        data = await reader.read(min(length, _CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", length)
        watch.touch()
        writer.write(data)
        await writer.drain()
        length -= len(data)


async def _copy_chunked(reader, writer, watch: _Idle) -> None:
    # Sizes are re-written and extensions and trailers dropped, so the upstream reads exactly the
    # framing the proxy read: a second request cannot hide inside a chunk line it parses differently.
    while True:
        line = await reader.readuntil(b"\r\n")
        token = line.split(b";", 1)[0].strip(b" \t\r\n")
        if not _CHUNK_SIZE.match(token):  # int(..., 16) would also take '0x', '_' and '-'
            raise asyncio.IncompleteReadError(line, None)
        size = int(token, 16)
        writer.write(b"%x\r\n" % size)
        if size == 0:
            break
        await _copy_exact(reader, writer, size, watch)
        if await reader.readexactly(2) != b"\r\n":
            raise asyncio.IncompleteReadError(b"", None)
        writer.write(b"\r\n")
    while await reader.readuntil(b"\r\n") != b"\r\n":
        watch.touch()
    writer.write(b"\r\n")


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes,
                  linger: float = _LINGER) -> None:
    """Send a refusal, then read (and drop) what the client still sends for a moment before closing:
    closing on unread bytes resets the connection, which can destroy the answer before it is read."""
    with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        writer.write(response)
        await asyncio.wait_for(writer.drain(), 5.0)
        if writer.can_write_eof():
            writer.write_eof()
        deadline, left = time.monotonic() + linger, _LINGER_BYTES
        while left > 0 and (data := await asyncio.wait_for(reader.read(_CHUNK), deadline - time.monotonic())):
            left -= len(data)
