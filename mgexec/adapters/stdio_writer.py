"""The outgoing side of the stdio transport: each JSON-RPC message as one UTF-8 line, serialised once, written once.

The SDK's writer dumps a message to a str, appends the newline (a copy), and encodes it again
through a text layer; for a result holding megabytes of non-ASCII output those copies cost more
than the command. Here pydantic's serialiser yields the bytes and one writev sends them.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp.shared.message import SessionMessage

ESCAPE_FROM_BYTES = 1 << 20  # below this the client's line reader does little work either way
_ASTRAL = re.compile(rb"[\xf0-\xf4]")  # lead byte of a code point above U+FFFF
_WIDE = re.compile(rb"[\xc4-\xef]")  # lead byte of a code point from U+0100 to U+FFFF
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


def claim_stdout() -> tuple[int, Callable[[], None]]:
    """The protocol stream on a private descriptor; fd 1 then points at stderr, so stray output misses the wire.

    Returns the descriptor and a function that points fd 1 back at the wire. The private
    descriptor is never closed: a worker thread may still be writing to it.
    """
    private = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        os.dup2(2, 1)
    except OSError:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)

    def restore() -> None:
        try:
            os.dup2(private, 1)
        except OSError:
            pass

    return private, restore


def message_line(message) -> bytes:
    """message as the JSON the SDK's writer would send (same options), without the newline.

    A large line with a few characters above U+00FF is sent with its non-ASCII characters as \\u
    escapes: the same JSON value, but the SDK's client then holds the line as one byte per
    character instead of two or four, and its line reader copies the whole growing line once per
    64 KiB read. Only when that at least halves what the client holds: dense non-ASCII text
    (CJK, say) grows on escaping, and stays as it is.
    """
    serializer = type(message).__pydantic_serializer__
    data = serializer.to_json(message, by_alias=True, exclude_unset=True)
    if len(data) < ESCAPE_FROM_BYTES or data.isascii():
        return data
    width = 4 if _ASTRAL.search(data) else 2 if _WIDE.search(data) else 1
    if width == 1:
        return data
    escaped = serializer.to_json(message, by_alias=True, exclude_unset=True, ensure_ascii=True)
    characters = len(data.translate(None, _CONTINUATION_BYTES))  # no decoded copy at 4 bytes a character
    return escaped if 2 * len(escaped) <= width * characters else data


def write_line(fd: int, data: bytes) -> None:
    """data and a newline on a blocking descriptor, in as few writes as the pipe allows."""
    parts = [memoryview(data), memoryview(b"\n")]
    while parts:
        written = os.writev(fd, parts)
        while parts and written >= len(parts[0]):
            written -= len(parts[0])
            parts.pop(0)
        if parts and written:
            parts[0] = parts[0][written:]


def send_line(fd: int, message) -> None:
    write_line(fd, message_line(message))


async def write_messages(messages: MemoryObjectReceiveStream[SessionMessage], fd: int) -> None:
    """Send every message the session writes until it closes its end."""
    try:
        async with messages:
            async for session_message in messages:
                await anyio.to_thread.run_sync(send_line, fd, session_message.message)
    except anyio.ClosedResourceError:
        await anyio.lowlevel.checkpoint()
