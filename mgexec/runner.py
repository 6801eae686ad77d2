"""Where mgexec starts every piped child process (commands, docker CLI calls, policy workers, the
channel's `docker exec`): asyncio, own session, capped output, the tree killed on timeout.

Every child gets its own session (so its whole tree can be signalled as a group), stdin from
/dev/null unless data is given (the MCP server's stdin is the protocol stream), and output read
concurrently from separate pipes, each kept up to a byte cap and decoded with replacement. Two kinds
of children start elsewhere, each for a reason: background shells need a terminal (a pty, in
shells/manager.py), and the watchdogs (local_watchdog.py, shells/docker_launcher.py) are plain
`subprocess.Popen`s so they outlive the event loop. How children end is mgexec.processes'.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import functools
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from mgexec import processes
from mgexec.errors import SpawnFailed
from mgexec.waiting import finished_within

# How long to wait for pipes to close once the main process has exited; after that, whatever
# the command left in its process group is killed so nothing it spawned outlives it.
LEFTOVER_WAIT = 0.2


@dataclass
class CappedBuffer:
    """Keeps the first `cap` bytes of a stream and counts the rest."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def feed(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))


def capped_text(data: bytes, dropped: int) -> tuple[str, int]:
    """(the text of a capped stream, with its marker; the bytes dropped in all): a character the cap cut
    through is dropped whole, and counted, so the count and the marker always agree."""
    if dropped:
        kept = _cut_on_char_boundary(data)
        dropped += len(data) - len(kept)
        data = kept
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=True)
    if dropped:
        text += f"\n... (truncated {dropped} bytes)"
    return text, dropped


def _cut_on_char_boundary(data: bytes) -> bytes:
    """Drop a trailing partial UTF-8 sequence, so truncation never splits a character."""
    end = len(data)
    back = 0
    while back < 4 and end - back - 1 >= 0 and (data[end - back - 1] & 0xC0) == 0x80:
        back += 1
    lead_at = end - back - 1
    if lead_at < 0:
        return data
    lead = data[lead_at]
    need = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
    if back + 1 < need:
        return data[:lead_at]
    return data


@dataclass(frozen=True)
class ProcessOutput:
    exit_code: int | None  # None only when the process could not be reaped
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    stdout_dropped: int = 0
    stderr_dropped: int = 0
    signal: int | None = None  # the signal that ended the process, if any

    @property
    def truncated(self) -> bool:
        return bool(self.stdout_dropped or self.stderr_dropped)


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Stream protocol that also reports the moment the process exits.

    asyncio's Process.wait() only returns once every pipe is closed, so a grandchild holding
    stdout open would make a finished command look still running.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


@dataclass
class Child:
    """A started process: the asyncio handle plus an exit signal that does not wait for pipes."""

    proc: asyncio.subprocess.Process
    exited: asyncio.Future

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


async def spawn(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin_pipe: bool = False,
) -> Child:
    """Start argv in a new session with piped stdout/stderr and stdin from /dev/null (or a pipe)."""
    loop = asyncio.get_running_loop()
    with processes.spawning() as own:  # a concurrent sweep must not take the new child for an orphan
        start = loop.create_task(loop.subprocess_exec(
            lambda: _ExitAwareProtocol(loop),
            *argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.PIPE if stdin_pipe else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        ))
        try:
            (transport, protocol), cancelled = await _through_cancellation(start)
        except ValueError as exc:  # a NUL in an argument or the environment, or text that cannot be encoded
            raise SpawnFailed(spawn_error(argv[0], exc, env)) from exc
        except OSError as exc:
            if exc.errno == errno.E2BIG:  # other OSErrors keep their type: callers tell them apart
                raise SpawnFailed(spawn_error(argv[0], exc)) from exc
            raise
        pid = transport.get_pid()
        own(pid)
    protocol.exited.add_done_callback(lambda _: processes.release(pid))
    child = Child(asyncio.subprocess.Process(transport, protocol, loop), protocol.exited)
    if cancelled:  # cancelled while asyncio connected the pipes: the command may already have started others
        await asyncio.shield(kill_command(child))
        raise asyncio.CancelledError
    return child


async def _through_cancellation(start: asyncio.Task) -> tuple[tuple, bool]:
    """(asyncio's process start, awaited to its end; whether the caller was cancelled meanwhile).

    asyncio answers a cancel that comes while it connects the pipes by killing the process it started and
    then waiting until the pipes close; a process the command already started keeps them open, so that
    wait could last as long as it runs. The start is let finish instead (a few loop turns), and spawn()
    then kills the whole command the usual way before it passes the cancellation on."""
    cancelled = False
    while True:
        try:
            return await asyncio.shield(start), cancelled
        except asyncio.CancelledError:
            if start.cancelled():
                raise
            cancelled = True
        except BaseException:
            if cancelled:  # the start failed after the caller was cancelled: nothing runs, the cancel stands
                raise asyncio.CancelledError from None
            raise


def spawn_error(program: str, exc: BaseException, env: Mapping[str, str] | None = None) -> str:
    """One paragraph on why a process could not start, naming the limit or the variable when it can."""
    bad = [name for name, value in (env or {}).items() if not _passable(name) or not _passable(value)]
    if isinstance(exc, ValueError) and bad:
        name = bad[0].encode("utf-8", "backslashreplace").decode()
        return (f"Could not start {program}: the environment variable {name!r} holds a NUL character or "
                "text that is not valid Unicode, which no process environment can carry. "
                "Fix or remove it where it is set (the config's env settings or the server's own environment).")
    if isinstance(exc, OSError) and exc.errno == errno.E2BIG:
        return (f"Could not start {program}: its arguments and environment together exceed the kernel's "
                f"limit ({os.sysconf('SC_ARG_MAX')} bytes, ARG_MAX; one string at most 131072 bytes). "
                "Shorten the command or the environment, or put the data in a file.")
    if isinstance(exc, OSError) and exc.errno == errno.ENOENT and str(exc.filename or "").startswith("/proc/self/fd/"):
        return f"Could not start {program}: its working directory went away before it started. Try again."
    return f"Could not start {program}: {exc}."


def _passable(text: str) -> bool:
    try:
        os.fsencode(text)
    except UnicodeError:
        return False
    return "\0" not in text


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    output_cap: int = 1_000_000,
    stdin_data: bytes | None = None,
    kill_grace: float = processes.KILL_GRACE,
    on_timeout: Callable[[], object] | None = None,
    on_spawn: Callable[[int], None] | None = None,
) -> ProcessOutput:
    """Run argv to completion; on timeout or cancellation kill everything it started.

    `on_timeout` lets a caller stop work the group kill cannot reach (a process inside a
    container behind `docker exec`); it may return an awaitable, which is awaited.
    `on_spawn` gets the pid as soon as the process runs (a guard that outlives the server).
    """
    start = time.monotonic()
    child = await spawn(argv, cwd=cwd, env=env, stdin_pipe=stdin_data is not None)
    if on_spawn is not None:
        on_spawn(child.pid)
    proc = child.proc
    out, err = CappedBuffer(output_cap), CappedBuffer(output_cap)
    readers = asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err), _feed(proc, stdin_data))
    try:
        timed_out = await _wait_or_kill(child, timeout, kill_grace, on_timeout)
        await _collect_output(child, readers, kill_grace)
    except BaseException:
        await asyncio.shield(kill_command(child, kill_grace))
        _cancel_quietly(readers)
        raise
    # What the command started may have closed its pipes and still run: it must not survive either.
    if processes.anything_left(child.pid):
        await sweep_command(child.pid)
    code = proc.returncode
    stdout, out_dropped = capped_text(out.data, out.dropped)
    stderr, err_dropped = capped_text(err.data, err.dropped)
    return ProcessOutput(
        exit_code=code,
        stdout=stdout,
        stderr=stderr,
        duration=time.monotonic() - start,
        timed_out=timed_out,
        stdout_dropped=out_dropped,
        stderr_dropped=err_dropped,
        signal=-code if code is not None and code < 0 else None,
    )


async def _wait_or_kill(child: Child, timeout: float | None, grace: float,
                        on_timeout: Callable[[], object] | None) -> bool:
    """Wait for the command's main process; past the timeout kill its tree. Whether it timed out."""
    if await finished_within(child.exited, timeout):
        return False
    if on_timeout is not None:
        maybe = on_timeout()
        if asyncio.iscoroutine(maybe) or isinstance(maybe, asyncio.Future):
            await maybe
    await kill_command(child, grace)
    return True


async def _collect_output(child: Child, readers: asyncio.Future, grace: float) -> None:
    """Wait for the pipes to close once the main process is gone; never forever."""
    if await finished_within(readers, LEFTOVER_WAIT):
        return
    # The main process is gone but something it started still holds the pipes.
    await sweep_command(child.pid)
    if not await finished_within(readers, grace):
        # Nothing should hold them now; never wait on them forever.
        _cancel_quietly(readers)
        child.proc._transport.close()  # type: ignore[attr-defined]


def _cancel_quietly(readers: asyncio.Future) -> None:
    # A cancelled gather ends with a CancelledError nobody awaits; without this, asyncio logs it
    # with a traceback ("exception was never retrieved") when the future is collected.
    readers.cancel()
    readers.add_done_callback(lambda f: f.cancelled() or f.exception())


async def _pump(stream: asyncio.StreamReader | None, sink: CappedBuffer) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        sink.feed(chunk)


async def _feed(proc: asyncio.subprocess.Process, data: bytes | None) -> None:
    if data is None or proc.stdin is None:
        return
    try:
        proc.stdin.write(data)
        await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        proc.stdin.close()


def _scope(pid: int) -> processes.Scope:
    # The leader is its session's and group's id; members that moved elsewhere are its descendants,
    # or orphans re-parented to mgexec once their parent ended.
    return processes.Scope(roots=frozenset({pid}), sessions=frozenset({pid}))


async def _signal_command(pid: int, sig: int) -> None:
    # The group at once, before any await: a shutdown may end the loop during the sweep (off the loop).
    processes.signal_group(pid, sig)
    await processes.signal_scope(_scope(pid), sig)


async def sweep_command(pid: int) -> None:
    """Freeze and SIGKILL everything the command led by pid started, wherever it moved (off the loop)."""
    await _signal_command(pid, signal.SIGKILL)


async def kill_command(child: Child, grace: float = processes.KILL_GRACE) -> None:
    """SIGTERM the command's whole tree, wait up to `grace` for its leader, then sweep it with SIGKILL."""
    if child.exited.done():
        await sweep_command(child.pid)
    else:
        await processes.escalate(functools.partial(_signal_command, child.pid),
                                 functools.partial(finished_within, child.exited), grace, kill_anyway=True)
    await child.exited


async def kill_group(child: Child, grace: float = processes.KILL_GRACE) -> int | None:
    """SIGTERM the process group, wait up to `grace`, then SIGKILL it (also after a timely end, for members
    that ignored SIGTERM). Returns the signal that ended the leader (None if it had already exited)."""
    already_gone = child.exited.done()

    async def signal_group(sig: int) -> None:
        processes.signal_group(child.pid, sig)

    ended_by = await processes.escalate(signal_group, functools.partial(finished_within, child.exited), grace,
                                        kill_anyway=True)
    await child.exited
    return None if already_gone else ended_by
