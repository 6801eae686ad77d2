"""A warm exec channel into a container: one long-lived `docker exec` running mgexec's helper (mgexec.inside).

Each command is still a fresh process inside the container, but costs a message instead of a new
`docker exec`; a lost channel fails its commands promptly and is reopened by the next one.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib.resources
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from mgexec import processes
from mgexec.docker.argv import ExecSpec, build_exec_argv
from mgexec.docker.engine import DockerCLI
from mgexec.docker.errors import binary_error, docker_said, helper_start_failure
from mgexec.errors import ChannelLost, ChannelUnavailable, DockerError, MgexecError
from mgexec.inside.channel_boot import HELPER_BOOT, ORPHAN_GROUPS_KILL, TOO_OLD_EXIT
from mgexec.inside.channel_helper import FAILED_FIELD, FAILED_WORK_DIR
from mgexec.runner import CappedBuffer, Child, ProcessOutput, decode_capped, kill_group, spawn
from mgexec.waiting import finished_within

log = logging.getLogger("mgexec.channel")

OPEN_TIMEOUT = 30.0  # a fresh `docker exec` on a loaded engine can take seconds
CLOSE_TIMEOUT = 5.0
# How long past its own deadline and grace a command may stay unanswered before the channel is
# considered hung and torn down (the helper enforces the timeout; this only guards against a hang).
WATCHDOG_MARGIN = 30.0
_STDERR_TAIL = 4096


@functools.lru_cache(maxsize=1)
def helper_source() -> bytes:
    """The helper (mgexec.inside.channel_helper) with mgexec.processes' shipped functions inserted before
    its entry point."""
    text = importlib.resources.files("mgexec.inside").joinpath("channel_helper.py").read_text()
    entry = text.rindex('\nif __name__ == "__main__":')
    shared = processes.shipped_source()
    return (text[:entry] + "\n\n# --- from mgexec.processes ---\n" + shared + "\n" + text[entry:]).encode()


def helper_argv(cli: DockerCLI, container: str, user: str | None) -> list[str]:
    """`docker exec -i [--user U] CONTAINER python3 -I -u -c HELPER_BOOT`."""
    spec = ExecSpec(container, ("python3", "-I", "-u", "-c", HELPER_BOOT), user=user, interactive=True)
    return cli.argv(build_exec_argv(spec))


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
                 on_lost: Callable[[list[int]], None]) -> None:
        self.child = child
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

    # --- reading ---------------------------------------------------------------------------------
    async def _read(self) -> None:
        buf = b""
        try:
            while chunk := await self.child.proc.stdout.read(1 << 16):
                *lines, buf = (buf + chunk).split(b"\n")
                for line in lines:
                    self._on_line(line)
            if not self.hello.done():
                self._on_line(buf)  # docker's error may lack a final newline; a helper's cut frame is moot
        except (ValueError, KeyError, TypeError) as exc:
            self.reason = f"it sent an unreadable message ({exc})"
            await kill_group(self.child)
        finally:
            await self._ended()

    def _on_line(self, line: bytes) -> None:
        if self.hello.done() or line.startswith(b"{"):
            self._dispatch(json.loads(line))
        elif line:  # docker prints its own failure to start the helper on stdout
            self.said = (self.said + line + b"\n")[-_STDERR_TAIL:]

    def _dispatch(self, frame: dict) -> None:
        op, request = frame["op"], self.pending.get(frame.get("id"))
        if op == "hello" and not self.hello.done():
            self.hello.set_result(frame)
        elif request is None or request.future.done():
            return  # a command the host stopped waiting for (cancelled)
        elif op == "out":
            (request.stdout if frame["fd"] == 1 else request.stderr).feed(base64.b64decode(frame["data"]))
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
        if not await finished_within(self.child.exited, 2.0):
            await kill_group(self.child)
        await finished_within(self.tasks[1], 1.0)
        stderr = (self.said + self.stderr_tail).decode("utf-8", "replace").strip()
        code = self.child.returncode
        self.lost = ChannelLost(self._lost_message(code, stderr), argv=self.argv, exit_code=code, stderr=stderr)
        if not self.hello.done():
            self.hello.set_exception(open_failure(self.argv, self.container, code, stderr))
        orphans = [r.pid for r in self.pending.values() if r.pid is not None and not r.future.done()]
        for request in self.pending.values():
            if not request.future.done():
                request.future.set_exception(self.lost_error())
        if orphans and not self.closing:
            self.on_lost(orphans)

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
            stdin = self.child.proc.stdin
            try:
                stdin.write(data)
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                # The helper is gone before reading this frame; the reader is about to report why.
                await asyncio.shield(self.tasks[0])
                raise _NotSent(str(self.lost), argv=self.argv) from None

    async def handshake(self) -> None:
        source = helper_source()
        await self.send_raw(b"%d\n" % len(source) + source)
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
            await kill_group(self.child)
            await asyncio.shield(self.tasks[0])
            raise self.lost_error() from None
        except asyncio.CancelledError:
            if self.lost is None:
                await asyncio.shield(self._cancel(rid))
            raise
        finally:
            del self.pending[rid]
        return _output(frame, request, time.monotonic() - start)

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


@dataclass(frozen=True)
class ChannelOutput(ProcessOutput):
    """A command's output, and why it did not start (the helper's FAILED_FIELD), if it did not."""

    failed: str | None = None

    @property
    def work_dir_unusable(self) -> bool:
        return self.failed == FAILED_WORK_DIR


def _output(frame: dict, request: _Request, duration: float) -> ChannelOutput:
    out_dropped = request.stdout.dropped + frame["dropped"][0]
    err_dropped = request.stderr.dropped + frame["dropped"][1]
    stderr = decode_capped(bytes(request.stderr.data), err_dropped)
    if frame.get("error"):
        stderr = f"{stderr}{frame['error']}\n"
    return ChannelOutput(exit_code=frame["code"], stdout=decode_capped(bytes(request.stdout.data), out_dropped),
                         stderr=stderr, duration=duration, timed_out=bool(frame["timed_out"]),
                         stdout_dropped=out_dropped, stderr_dropped=err_dropped, signal=frame.get("signal"),
                         failed=frame.get(FAILED_FIELD))


class ExecChannel:
    """Runs commands in a container through one warm helper; reopens it on demand after a loss."""

    def __init__(self, cli: DockerCLI, container: str, user: str | None = None) -> None:
        self.cli = cli
        self.container = container
        self.user = user
        self._link: _Link | None = None
        self._open_lock = asyncio.Lock()
        self._closed = False
        self._cleanups: set[asyncio.Task] = set()

    @classmethod
    async def open(cls, cli: DockerCLI, container: str, user: str | None = None) -> ExecChannel:
        """Start the helper; ChannelUnavailable when the image cannot run it (no python3 3.7+)."""
        channel = cls(cli, container, user)
        await channel._connected()
        return channel

    @property
    def helper_pid(self) -> int | None:
        """The helper's pid inside the container while the channel is up."""
        link = self._link
        return link.helper_pid if link is not None and link.lost is None else None

    async def run(self, command: str, *, work_dir: str, timeout: float, output_cap: int,
                  kill_grace: float = processes.KILL_GRACE, env: Mapping[str, str] | None = None) -> ProcessOutput:
        """Run `/bin/sh -c command` as a fresh process inside; the helper enforces timeout and caps."""
        try:
            link = await self._connected()
            return await link.run(command, work_dir, timeout, output_cap, kill_grace, env)
        except _NotSent:
            link = await self._connected()  # lost between the check and the send: reopen once
            return await link.run(command, work_dir, timeout, output_cap, kill_grace, env)

    async def close(self) -> None:
        """End the helper (it kills every command it runs) and reap the `docker exec` client."""
        self._closed = True
        async with self._open_lock:
            if self._link is not None:
                await self._link.close()
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    async def _connected(self) -> _Link:
        link = self._link
        if link is not None and link.lost is None and not self._closed:
            return link
        async with self._open_lock:
            if self._closed:
                raise ChannelLost(f"The exec channel into the container `{self.container}` was closed, so it "
                                  "takes no more commands; this happens when the session has ended.")
            if self._link is None or self._link.lost is not None:
                if self._link is not None:
                    log.warning("exec channel into %s was lost; reopening it", self.container)
                    await self._link.close()
                self._link = await self._start()
            return self._link

    def _helper_command(self) -> tuple[list[str], dict[str, str] | None]:
        """The argv whose stdio becomes the channel (it runs `python3 -I -u -c BOOT`), and its environment.

        A seam: srt mode starts the same helper inside a bubblewrap sandbox instead of a container."""
        return helper_argv(self.cli, self.container, self.user), self.cli.client_env()

    def _spawn_error(self, exc: OSError, argv: list[str]) -> MgexecError:
        return binary_error(self.cli.binary, exc, argv)

    async def _start(self) -> _Link:
        argv, env = self._helper_command()
        try:
            child = await spawn(argv, env=env, stdin_pipe=True)
        except OSError as exc:
            raise self._spawn_error(exc, argv) from exc
        link = _Link(child, argv, self.container, self._kill_orphans)
        try:
            await link.handshake()
        except BaseException:
            await asyncio.shield(link.close())  # never leave a `docker exec` behind, even when cancelled
            raise
        return link

    def _kill_orphans(self, pids: list[int]) -> None:
        """A helper killed from outside cannot stop its commands: kill their groups with a one-off exec."""
        spec = ExecSpec(self.container, ("python3", "-I", "-c", ORPHAN_GROUPS_KILL, *map(str, pids)), user=self.user)
        task = asyncio.create_task(self._quiet(self.cli.run(build_exec_argv(spec), timeout=30,
                                                            check=False)))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    @staticmethod
    async def _quiet(call) -> None:
        try:
            await call
        except DockerError:
            pass  # the container is gone, and its processes with it
