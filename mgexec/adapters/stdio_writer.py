"""The outgoing side of the stdio transport: each JSON-RPC message as one UTF-8 line, serialised once, written once.

The SDK's writer dumps a message to a str, appends the newline (a copy), and encodes it again
through a text layer; for a result holding megabytes of non-ASCII output those copies cost more
than the command. Here pydantic's serialiser yields the bytes and one writev sends them.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp.shared.message import SessionMessage
from pydantic import BaseModel

from mgexec.inside.wire import write_all

ESCAPE_FROM_BYTES = 1 << 20  # below this the client's line reader does little work either way
# UTF-8 lead bytes: of U+0080-U+00FF, U+0100-U+07FF, U+0800-U+FFFF and U+10000 up.
_LEAD_BYTES = (bytes(range(0xC2, 0xC4)), bytes(range(0xC4, 0xE0)), bytes(range(0xE0, 0xF0)), bytes(range(0xF0, 0xF5)))


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


def message_line(message: BaseModel) -> bytes:
    """message as the JSON the SDK's writer would send (same options), without the newline.

    A large line may go with its non-ASCII characters as \\u escapes instead: the same JSON value.
    The SDK's client reads 64 KiB at a time and copies the whole line so far on every read, so
    its work grows with the bytes on the wire times the memory it holds the line in, and a
    single character above U+00FF makes it hold every character in 2 bytes, one above U+FFFF
    in 4. Escaping pays for mostly-ASCII text with a few such characters; dense non-ASCII text
    (CJK, say) grows too much on escaping, and goes as it is.
    """
    serializer = type(message).__pydantic_serializer__
    data = serializer.to_json(message, by_alias=True, exclude_unset=True)
    if len(data) < ESCAPE_FROM_BYTES or data.isascii() or not _escaping_pays(data):
        return data
    return serializer.to_json(message, by_alias=True, exclude_unset=True, ensure_ascii=True)


def _escaping_pays(data: bytes) -> bool:
    """Whether escaping at least halves the client's work on this UTF-8 line (see message_line)."""
    latin1, wide2, wide3, astral = (len(data) - len(data.translate(None, leads)) for leads in _LEAD_BYTES)
    width = 4 if astral else 2 if wide2 or wide3 else 1
    if width == 1:
        return False  # the client holds Latin-1 text at one byte a character already
    characters = len(data) - latin1 - wide2 - 2 * wide3 - 3 * astral
    escaped = len(data) + 4 * (latin1 + wide2) + 3 * wide3 + 8 * astral  # \uXXXX, or two for U+10000 up
    return 2 * escaped * escaped <= len(data) * width * characters


def write_line(fd: int, data: bytes) -> None:
    """data and a newline on a blocking descriptor, in as few writes as the pipe allows."""
    write_all(fd, data, b"\n")


def send_line(fd: int, message: BaseModel) -> None:
    write_line(fd, message_line(message))


async def write_messages(messages: MemoryObjectReceiveStream[SessionMessage], fd: int) -> None:
    """Send every message the session writes until it closes its end."""
    try:
        async with messages:
            async for session_message in messages:
                await anyio.to_thread.run_sync(send_line, fd, session_message.message)
    except anyio.ClosedResourceError:
        await anyio.lowlevel.checkpoint()
