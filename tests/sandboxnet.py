"""Helpers of the srt network tests: servers on 127.0.0.1, a name map connector, raw proxy requests."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

# Names the tests' connector sends to 127.0.0.1; nothing touches /etc/hosts or DNS.
NAMES = ("allowed.test", "denied.test", "sub.wild.test", "bad.wild.test", "other.test")


async def map_connector(host: str, port: int):
    if host not in NAMES:
        raise OSError(f"{host} is not a test name")
    return await asyncio.open_connection("127.0.0.1", port)


@dataclass
class Recorder:
    """An HTTP/1 server on 127.0.0.1 that answers `hello PATH host=HOST` and records what it received."""

    heads: list[bytes] = field(default_factory=list)
    extras: list[bytes] = field(default_factory=list)
    server: asyncio.AbstractServer | None = None

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            extra = b""
            with contextlib.suppress(asyncio.TimeoutError):  # whatever else the proxy sent right after
                while chunk := await asyncio.wait_for(reader.read(65536), 0.3):
                    extra += chunk
            self.extras.append(extra)
            lines = head.decode("latin-1").split("\r\n")
            host = next((line[5:].strip() for line in lines if line.lower().startswith("host:")), "")
            body = f"hello {lines[0].split(' ')[1]} host={host}\n".encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()


async def start_recorder() -> Recorder:
    recorder = Recorder()
    recorder.server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    return recorder


async def start_echo() -> asyncio.AbstractServer:
    """A TLS-less CONNECT target on 127.0.0.1: answers each line with `echo: LINE`."""
    async def handle(reader, writer):
        with contextlib.suppress(Exception):
            while line := await reader.readline():
                writer.write(b"echo: " + line)
                await writer.drain()
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def ask(socket_path: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes to the proxy's unix socket; everything it answers until it closes."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    writer.write(data)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(-1), timeout)
    finally:
        writer.close()
