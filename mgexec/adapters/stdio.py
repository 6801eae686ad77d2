"""The stdio transport: the SDK's stdio_server contract, plus a JSON-RPC error reply for every line it cannot read.

The SDK drops a line that is not a valid JSON-RPC message without answering, so a client that
sent a request in it (a string with an unpaired surrogate escape, `"\\ud800"`, is enough) waits
forever. Here every such line is answered: -32700 when it is not JSON, -32600 when it is JSON but
no valid message, -32602 when a request's parameters hold text that is not valid Unicode; the
request's id is kept whenever it can be read, so the client's call ends. Each line is parsed once
(the SDK's reader parsed it again), and replies go out through stdio_writer.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from contextlib import asynccontextmanager
from io import TextIOWrapper

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from mgexec.adapters.stdio_writer import claim_stdout, write_messages
from mgexec.policy.inputs import unpaired_surrogate
from mgexec.result import encodable


MAX_MESSAGE_CHARS = 32 << 20  # one JSON-RPC line; a longer one is discarded and answered


def _leading_id(line: str):
    found = re.search(r'"id"\s*:\s*(-?\d{1,18}|"[^"\\]{0,200}")', line[:4096])
    return None if found is None else json.loads(found.group(1))


class _CheckedLines:
    """A line reader over the protocol stream that answers unreadable lines itself and skips them."""

    def __init__(self, raw: TextIOWrapper) -> None:
        self._raw = raw
        self._reply_stream = None
        self._ready = threading.Event()

    def reply_through(self, write_stream) -> None:
        self._reply_stream = write_stream
        self._ready.set()

    def next_message(self) -> types.JSONRPCMessage | None:  # runs in a worker thread; None at end of input
        while True:
            line = self._raw.readline(MAX_MESSAGE_CHARS + 1)
            if not line or not line.strip():
                if not line:
                    return None
                continue
            if len(line) > MAX_MESSAGE_CHARS and not line.endswith("\n"):
                self._skip_rest_of_line()
                self._answer(_error(_leading_id(line), types.INVALID_REQUEST, (
                    f"Invalid Request: the message is longer than {MAX_MESSAGE_CHARS} characters "
                    f"({MAX_MESSAGE_CHARS >> 20} Mi), the most mgexec reads; it was discarded. Put large data "
                    "in a file in the workspace.")))
                continue
            try:
                return types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except ValueError:
                self._answer(error_reply(line))

    def _skip_rest_of_line(self) -> None:
        # Read on in bounded pieces, so a line without end cannot fill memory.
        while (piece := self._raw.readline(1 << 20)) and not piece.endswith("\n"):
            pass

    def _answer(self, reply: types.JSONRPCError | None) -> None:
        if reply is None:
            return
        self._ready.wait()
        try:
            anyio.from_thread.run(self._reply_stream.send, SessionMessage(reply))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError):
            pass  # the session is ending; nobody is left to answer

    def __getattr__(self, name):
        return getattr(self._raw, name)


def error_reply(line: str) -> types.JSONRPCError | None:
    """The JSON-RPC error answering a line that is no valid message (None for a bad notification)."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        return _error(None, types.PARSE_ERROR, f"Parse error: the line is not valid JSON ({exc}).")
    if not isinstance(data, dict):
        return _error(None, types.INVALID_REQUEST, "Invalid Request: a message must be one JSON object "
                                                   "(batches are not supported).")
    raw_id = data.get("id")
    ident = raw_id if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) else None
    if isinstance(ident, str) and unpaired_surrogate(ident) is not None:
        ident = None
    where = _surrogate_path(data)
    if where is not None:
        if ident is None and "id" not in data:
            return None
        return _error(ident, types.INVALID_PARAMS, (
            f"Invalid params: {where} holds an unpaired UTF-16 surrogate escape, which is not valid Unicode. "
            "Send valid text (surrogates only in pairs)."))
    if "method" in data and "id" not in data:
        return None  # a malformed notification: JSON-RPC answers nothing
    return _error(ident, types.INVALID_REQUEST, "Invalid Request: the object is not a valid JSON-RPC 2.0 "
                                                "request (it needs jsonrpc \"2.0\", an id, a method name and "
                                                "object params).")


def _error(ident, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=ident, error=types.ErrorData(code=code, message=encodable(message)))


def _surrogate_path(value, path: str = "the message") -> str | None:
    """Where in a decoded JSON value a string (or key) with an unpaired surrogate sits, or None."""
    if isinstance(value, str):
        return path if unpaired_surrogate(value) is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            shown = f"{path}.{encodable(key)}" if path != "the message" else encodable(key)
            if unpaired_surrogate(key) is not None:
                return shown
            if (found := _surrogate_path(item, shown)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _surrogate_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def _claim_stdin():
    """The protocol stream on a private descriptor; fd 0 then reads /dev/null, as the SDK's own claim does."""
    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return os.fdopen(private, "rb", closefd=False)


async def _read_messages(lines: _CheckedLines, messages: MemoryObjectSendStream) -> None:
    try:
        async with messages:
            while (message := await anyio.to_thread.run_sync(lines.next_message)) is not None:
                await messages.send(SessionMessage(message))
    except anyio.ClosedResourceError:
        await anyio.lowlevel.checkpoint()


@asynccontextmanager
async def checked_stdio_server():
    """Like the SDK's stdio_server(): fd 0 and 1 are claimed, the session gets (read_stream, write_stream).

    The reader answers malformed lines with JSON-RPC errors; fd 1 points back at the wire on exit.
    """
    lines = _CheckedLines(TextIOWrapper(_claim_stdin(), encoding="utf-8", errors="replace"))
    wire, restore_stdout = claim_stdout()
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    lines.reply_through(write_stream)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_read_messages, lines, read_writer)
            tasks.start_soon(write_messages, write_reader, wire)
            yield read_stream, write_stream
    finally:
        restore_stdout()
