"""One helper behind one `docker exec -i` (or bwrap): sends it requests, reads its hello and frames
(mgexec.inside.wire) from stdio or from its socket, and hands each command its result.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from mgexec.docker.channel_program import channel_output, helper_source
from mgexec.docker.channel_socket import SocketListener
from mgexec.docker.errors import docker_said, helper_start_failure
from mgexec.errors import ChannelLost, ChannelUnavailable, DockerError
from mgexec.inside.wire import CONTROL, MAX_PAYLOAD, STDOUT, FrameReader, decode_control
from mgexec.runner import CappedBuffer, Child, ProcessOutput, kill_group
from mgexec.waiting import finished_within

log = logging.getLogger("mgexec.channel")

OPEN_TIMEOUT = 30.0  # a fresh `docker exec` on a loaded engine can take seconds
CLOSE_TIMEOUT = 5.0
# How long past its own deadline and grace a command may stay unanswered before the channel is
# considered hung and torn down (the helper enforces the timeout; this only guards against a hang).
WATCHDOG_MARGIN = 30.0
_STDERR_TAIL = 4096
SOCKET_WAIT = 10.0  # a helper that says it connected: how long its connection may take to be accepted


def open_failure(argv: list[str], container: str, exit_code: int | None, stderr: str) -> DockerError:
    """Why the helper did not start (mapped by mgexec.docker.errors)."""
    return helper_start_failure(argv, container, exit_code, stderr)


@dataclass
class _Request:
    future: asyncio.Future
    stdout: CappedBuffer
    stderr: CappedBuffer
    pid: int | None = None  # the command's pid inside, which is also its process group id


class _NotSent(ChannelLost):
    """The channel was already gone when a command was to be sent: it never ran, so it can be retried."""


class _Link:
    """One helper behind one `docker exec -i`: a reader task demultiplexes its frames to requests."""

    def __init__(self, child: Child, argv: list[str], container: str,
                 on_lost: Callable[[list[int]], None], listener: SocketListener | None = None) -> None:
        self.child = child
        self.listener = listener  # where the helper may connect to send its frames instead of stdout
        self.socket: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.argv = argv
        self.container = container
        self.on_lost = on_lost  # gets the process groups of commands a lost helper left running
        self.pending: dict[int, _Request] = {}
        self.ids = itertools.count(1)
        self.hello: asyncio.Future = asyncio.get_running_loop().create_future()
        # Marked as seen: a handshake given up on (timeout, cancel) must not log an unseen error later.
        self.hello.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.write_lock = asyncio.Lock()
        self.said = b""  # what came on stdout before the helper's hello: docker's own error
        self.stderr_tail = b""
        self.reason: str | None = None  # why mgexec tore the link down itself
        self.closing = False
        self.lost: ChannelLost | None = None  # set once the helper's output has ended
        self.tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._drain_stderr())]

    @property
    def helper_pid(self) -> int | None:
        return self.hello.result().get("pid") if self.hello.done() and not self.hello.exception() else None

    @property
    def uses_socket(self) -> bool:
        return self.socket is not None

    @property
    def requests(self) -> asyncio.StreamWriter:
        """Where requests go: the helper's stdin."""
        return self.child.proc.stdin

    # --- reading ---------------------------------------------------------------------------------
    async def _read(self) -> None:
        stdout = self.child.proc.stdout
        try:
            rest = await self._read_hello(stdout)
            if rest is None:
                pass  # the helper ended before its hello
            elif self.socket is None:
                await self._read_frames(stdout, rest)
            else:
                await self._read_socket(stdout, rest)
        except (ValueError, KeyError, TypeError) as exc:
            self.reason = f"it sent an unreadable message ({exc})"
            await self.abort()
        finally:
            if self.socket is not None:
                self.socket[1].close()
            await self._ended()

    async def _read_hello(self, stdout: asyncio.StreamReader) -> bytes | None:
        """Lines up to the helper's hello (docker prints its own failure to start it on stdout); what
        came after the hello, or None when the output ended first."""
        buf = bytearray()
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                chunk = await stdout.read(1 << 16)
                if not chunk:
                    self._said(bytes(buf))  # docker's error may lack a final newline
                    return None
                buf += chunk
                continue
            line = bytes(buf[:nl])
            del buf[:nl + 1]
            if line.startswith(b'{"op":"hello"'):
                await self._on_hello(json.loads(line))
                return bytes(buf)
            self._said(line)

    def _said(self, line: bytes) -> None:
        if line:
            self.said = (self.said + line + b"\n")[-_STDERR_TAIL:]

    async def _on_hello(self, hello: dict) -> None:
        if self.listener is not None:
            if hello.get("socket"):
                if not await finished_within(self.listener.accepted, SOCKET_WAIT):
                    raise ValueError("the helper said it connected to the channel socket, but no connection "
                                     "with its token came")
                self.socket = self.listener.accepted.result()
            else:
                log.debug("exec channel into %s: no socket (%s), frames come on stdio",
                          self.container, hello.get("socket_error"))
            self.listener.close()
            if self.socket is None and self.listener.accepted.done():
                self.listener.accepted.result()[1].close()  # connected, yet the helper gave up on it
        log.debug("exec channel into %s: output over %s", self.container, "its socket" if self.socket else "stdio")
        if not self.hello.done():
            self.hello.set_result(hello)

    async def _read_frames(self, reader: asyncio.StreamReader, rest: bytes) -> None:
        frames = FrameReader()
        data = rest
        while True:
            for kind, rid, payload in frames.feed(data):
                self._on_frame(kind, rid, payload)
            data = await reader.read(MAX_PAYLOAD)
            if not data:
                return

    async def _read_socket(self, stdout: asyncio.StreamReader, rest: bytes) -> None:
        """Frames from the socket; the end of either the socket or the helper's stdout ends the link."""
        if rest.strip():
            raise ValueError("output on stdout after a socket hello")
        frames = asyncio.create_task(self._read_frames(self.socket[0], b""))
        watch = asyncio.create_task(stdout.read())
        done, _ = await asyncio.wait({frames, watch}, return_when=asyncio.FIRST_COMPLETED)
        for task in (frames, watch):
            task.cancel()
        await asyncio.gather(frames, watch, return_exceptions=True)
        if frames in done and not frames.cancelled():
            frames.result()  # an unreadable frame is reported as such

    def _on_frame(self, kind: int, rid: int, payload: bytes) -> None:
        if kind == CONTROL:
            self._dispatch(decode_control(payload))
            return
        request = self.pending.get(rid)
        if request is not None and not request.future.done():
            (request.stdout if kind == STDOUT else request.stderr).feed(payload)

    def _dispatch(self, frame: dict) -> None:
        op, request = frame["op"], self.pending.get(frame.get("id"))
        if request is None or request.future.done():
            return  # a command the host stopped waiting for (cancelled)
        elif op == "started":
            request.pid = frame["pid"]
        elif op == "exit":
            request.future.set_result(frame)
        elif op == "error":
            request.future.set_exception(DockerError(
                f"mgexec's exec helper in `{self.container}` refused a request: {frame.get('message')}. "
                "This is a bug in mgexec; the command did not run."))

    async def _drain_stderr(self) -> None:
        while chunk := await self.child.proc.stderr.read(1 << 16):
            self.stderr_tail = (self.stderr_tail + chunk)[-_STDERR_TAIL:]

    async def _ended(self) -> None:
        """The helper's output ended: fail every request still waiting, and the handshake if it was one."""
        if self.listener is not None:
            self.listener.close()
        code, stderr = await self._exit_status()
        self.lost = ChannelLost(self._lost_message(code, stderr), argv=self.argv, exit_code=code, stderr=stderr)
        if not self.hello.done():
            self.hello.set_exception(open_failure(self.argv, self.container, code, stderr))
        orphans = [r.pid for r in self.pending.values() if r.pid is not None and not r.future.done()]
        for request in self.pending.values():
            if not request.future.done():
                request.future.set_exception(self.lost_error())
        if orphans and not self.closing:
            self.on_lost(orphans)

    async def _exit_status(self) -> tuple[int | None, str]:
        """The `docker exec` client's exit code (killed if it lingers) and what it and docker said."""
        if not await finished_within(self.child.exited, 2.0):
            await kill_group(self.child)
        await finished_within(self.tasks[1], 1.0)
        return self.child.returncode, (self.said + self.stderr_tail).decode("utf-8", "replace").strip()

    async def abort(self) -> None:
        """Tear the link down from this side: the helper, cut off, kills its groups and exits."""
        await kill_group(self.child)

    def _lost_message(self, code: int | None, stderr: str) -> str:
        if self.closing:
            return (f"The exec channel into the container `{self.container}` was closed while the command ran; "
                    "mgexec stopped the command. This happens when the session ends during a command.")
        why = self.reason or f"`docker exec` exited with code {code}: {docker_said(stderr) or 'no error message'}"
        if self.reason is None and code is not None and 128 < code < 160:
            why += f"; the helper inside was killed by signal {code - 128}"
        return (f"The exec channel into the container `{self.container}` ended while the command ran ({why}), "
                "so the command's result is lost and mgexec stops what it left running. The next command "
                "reopens the channel; if the container was stopped or removed, start the session again.")

    def lost_error(self) -> ChannelLost:
        """A fresh ChannelLost for each waiter (one instance raised in many tasks would share a traceback)."""
        lost = self.lost
        if lost is None:
            return ChannelLost(f"The exec channel into the container `{self.container}` broke; the next command "
                               "reopens it.", argv=self.argv)
        return ChannelLost(str(lost), argv=lost.argv, exit_code=lost.exit_code, stderr=lost.stderr)

    # --- writing ---------------------------------------------------------------------------------
    async def send(self, frame: dict) -> None:
        if self.lost is not None:
            raise _NotSent(str(self.lost), argv=self.argv)
        data = json.dumps(frame, separators=(",", ":")).encode() + b"\n"
        async with self.write_lock:
            stdin = self.requests
            try:
                stdin.write(data)
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                # The helper is gone before reading this frame; the reader is about to report why.
                await asyncio.shield(self.tasks[0])
                raise _NotSent(str(self.lost), argv=self.argv) from None

    async def handshake(self) -> None:
        source = helper_source()
        listener = self.listener
        opening = {"op": "open", "socket": listener.inside_path if listener else None,
                   "token": listener.token.hex() if listener else None}
        await self.send_raw(b"%d\n" % len(source) + source + json.dumps(opening).encode() + b"\n")
        if not await finished_within(self.hello, OPEN_TIMEOUT):
            raise ChannelUnavailable(
                f"mgexec's exec helper did not answer within {OPEN_TIMEOUT:g} seconds of `docker exec` into the "
                f"container `{self.container}`; the engine may be overloaded, or python3 there does not read "
                "its standard input. mgexec runs each command through its own `docker exec` instead.",
                argv=self.argv)

    async def send_raw(self, data: bytes) -> None:
        try:
            self.child.proc.stdin.write(data)
            await self.child.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader reports why the helper went away

    # --- commands --------------------------------------------------------------------------------
    async def run(self, command: str, work_dir: str, timeout: float, output_cap: int, kill_grace: float,
                  env: Mapping[str, str] | None) -> ProcessOutput:
        rid = next(self.ids)
        loop = asyncio.get_running_loop()
        request = _Request(loop.create_future(), CappedBuffer(output_cap), CappedBuffer(output_cap))
        self.pending[rid] = request
        start = time.monotonic()
        try:
            await self.send({"op": "run", "id": rid, "cmd": command, "cwd": work_dir, "env": dict(env or {}),
                             "timeout": timeout, "grace": kill_grace, "cap": output_cap})
            frame = await asyncio.wait_for(request.future, timeout + kill_grace + WATCHDOG_MARGIN)
        except asyncio.TimeoutError:
            self.reason = f"the helper did not report the end of a command {WATCHDOG_MARGIN:g} s past its timeout"
            await self.abort()
            await asyncio.shield(self.tasks[0])
            raise self.lost_error() from None
        except asyncio.CancelledError:
            if self.lost is None:
                await asyncio.shield(self._cancel(rid))
            raise
        finally:
            del self.pending[rid]
        return channel_output(frame, request.stdout, request.stderr, time.monotonic() - start)

    async def _cancel(self, rid: int) -> None:
        try:
            await self.send({"op": "cancel", "id": rid})
        except DockerError:
            pass  # the channel is gone: the helper has killed its groups, or on_lost will

    async def close(self) -> None:
        """Close the helper's stdin (it kills its groups and exits), then reap the `docker exec` client."""
        self.closing = True
        stdin = self.child.proc.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
        if not await finished_within(self.child.exited, CLOSE_TIMEOUT):
            await kill_group(self.child)
        await asyncio.gather(*self.tasks, return_exceptions=True)
