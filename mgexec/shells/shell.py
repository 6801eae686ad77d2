"""One background shell: its process in a pseudo-terminal, its bounded output and its end.

The manager keeps the table and the tool-level semantics; this module does the terminal I/O.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import time
from dataclasses import dataclass, field, replace

import shutil
from typing import Callable, Mapping

import ptyprocess

from mgexec import processes
from mgexec.errors import ExecTimeout, InvalidShellRequest, ShellNotRunning
from mgexec.shells.buffer import OutputBuffer
from mgexec.shells.launcher import Handshake, Launcher, ShellProcess
from mgexec.shells.terminput import TERMINAL_LINE_MAX, input_problem, line_mode, terminal_pieces, unread_input
from mgexec.waiting import finished_within

DRAIN_SECONDS = 1.0  # without our own terminal descriptor: how long to wait for the pty's end
DRAIN_READS = 256  # after the shell ended, at most this many reads (16 MiB) empty the pty
INPUT_TIMEOUT = 5.0  # how long a program may leave its input unread before send_input gives up
HANDSHAKE_LIMIT = 64 * 1024  # a launcher that found no handshake in this much output gets none
READ_SIZE = 64 * 1024
READS_PER_WAKEUP = 16  # bounded, so a flooding shell cannot starve the rest of the event loop
TERMINAL_SIZE = (40, 200)  # rows, columns: wide enough that tools do not wrap most lines
TIOCGPTPEER = 0x5441  # Linux: open a pty's terminal side from its master, without a path
CONTROL_KEYS = {chr(c): chr(c - 96) for c in range(ord("a"), ord("z") + 1)} | {
    "@": "\x00", "[": "\x1b", "\\": "\x1c", "]": "\x1d", "^": "\x1e", "_": "\x1f", "?": "\x7f",
}


def spawn_in_pty(argv: list[str], env: Mapping[str, str], *, pass_fds: tuple[int, ...] = (),
                 preexec_fn: Callable[[], None] | None = None) -> ptyprocess.PtyProcess:
    """argv in a new pseudo-terminal (ptyprocess's public API), keeping the launcher's descriptors open in it.

    The program is looked up on `env`'s PATH, not the server's (the child runs with `env`); the
    echo stays on, so typed input shows in the output as it does in a terminal.
    """
    program = shutil.which(argv[0], path=env.get("PATH") or os.defpath)
    if program is None:
        raise FileNotFoundError(f"The command was not found or was not executable: {argv[0]}.")
    return ptyprocess.PtyProcess.spawn([program, *argv[1:]], env=dict(env), echo=True, dimensions=TERMINAL_SIZE,
                                       pass_fds=pass_fds, preexec_fn=preexec_fn)


@dataclass(eq=False)
class BackgroundShell:
    """One shell: its process in a pty, its output, and its state as the tools report it.

    Output is drained by an asyncio reader on the pty's master descriptor rather than a thread
    per shell: the loop already waits on descriptors, every buffer change then happens on one
    thread (no locks, no lost wake-ups), and a flooding program is read in bounded bursts, so
    it never blocks on a full pty and never starves other shells. Exit is watched through a
    pidfd, so a shell counts as ended when its process ends, even if a leftover child still
    holds the terminal open.

    It holds the terminal side open itself until the shell has ended: on Linux, once
    the last terminal descriptor closes, reading the master can fail with EIO while output the
    program wrote just before exiting is still queued in the kernel, and that output is lost.
    With our descriptor open, the master never reports that; after the exit, reading until it
    would block empties the queue (each such read first flushes the kernel's pending work).
    """

    shell_id: str
    command: str
    work_dir: str
    child: ptyprocess.PtyProcess
    process: ShellProcess
    buffer: OutputBuffer
    launcher: Launcher
    start_time: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    status: str = "running"
    exit_code: int | None = None
    read_cursor: int = 0
    kill_requested: bool = False
    kill_task: asyncio.Task | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)  # its process is gone
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # reaped, tree killed, drained
    handshaken: asyncio.Event = field(default_factory=asyncio.Event)
    _eof: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Future | None = None
    _pending: bytes = b""
    _pidfd: int | None = None
    _peer: int | None = None  # our own descriptor of the terminal side
    _tasks: set = field(default_factory=set)

    @property
    def fd(self) -> int:
        return self.child.fd

    def watch(self) -> None:
        loop = asyncio.get_running_loop()
        os.set_blocking(self.fd, False)
        self._peer = _open_peer(self.fd)
        loop.add_reader(self.fd, self._on_readable)
        self._take(b"")  # a launcher without handshake is done at once
        try:
            self._pidfd = os.pidfd_open(self.child.pid)
            loop.add_reader(self._pidfd, self._on_exit)
        except (AttributeError, OSError):  # no pidfd: poll instead
            self._spawn_task(self._poll_exit())

    async def changed(self, timeout: float) -> None:
        """Wait up to timeout for new output or the end of the shell."""
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        await finished_within(self._changed, timeout)  # shared by concurrent readers: never cancelled by one

    async def write(self, data: bytes) -> int:
        """Type data into the terminal; ExecTimeout (naming what was written) if the program does not read it.

        In line mode the terminal holds at most TERMINAL_LINE_MAX unread bytes and silently drops
        the rest, so data goes one line at a time, each only once the program has read enough of
        what came before; a program that never reads is reported, not fed into the void.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INPUT_TIMEOUT
        written = 0
        for piece in terminal_pieces(data, line_mode(self._peer)):
            if not await self._room_for(len(piece), deadline):
                raise ExecTimeout(self._not_reading(written, len(data), "its earlier input is still unread"))
            written += await self._write_all(piece, deadline, written, len(data))
        return written

    def input_problem(self, data: bytes) -> str | None:
        """Why data cannot be typed into this shell's terminal whole, or None."""
        return input_problem(data, line_mode(self._peer))

    async def _room_for(self, size: int, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        while (unread := unread_input(self._peer)) is not None and unread + size > TERMINAL_LINE_MAX:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def _write_all(self, piece: bytes, deadline: float, before: int, total: int) -> int:
        loop = asyncio.get_running_loop()
        view, written = memoryview(piece), 0
        while written < len(piece):
            try:
                written += os.write(self.fd, view[written:])
            except BlockingIOError:
                if not await self._writable(deadline - loop.time()):
                    raise ExecTimeout(self._not_reading(before + written, total, "the terminal is full")) from None
            except OSError as exc:  # the terminal is gone: the shell has just ended
                raise ShellNotRunning(
                    f"Shell {self.shell_id} ended while its input was being written ({before + written} of "
                    f"{total} bytes were written); it cannot take input any more.") from exc
        return written

    def _not_reading(self, written: int, total: int, why: str) -> str:
        return (f"Shell {self.shell_id} is not reading its input ({why} after {INPUT_TIMEOUT:g} seconds): "
                f"{written} of {total} bytes were written, the rest was not sent. Check that the program "
                "is waiting for input (get_background_shell_output shows its prompt), or send a smaller piece.")

    def _notify(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    def _on_readable(self) -> None:
        for _ in range(READS_PER_WAKEUP):
            try:
                data = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                break
            except OSError:  # EIO: every holder of the terminal has closed it
                data = b""
            if not data:
                self._stop_reading()
                self._eof.set()
                self._take(b"", final=True)
                break
            self._take(data)
        self._notify()

    def _take(self, data: bytes, final: bool = False) -> None:
        if not self.handshaken.is_set():
            self._pending += data
            handshake = self.launcher.read_handshake(self._pending)
            if handshake is None and len(self._pending) < HANDSHAKE_LIMIT and not final:
                return
            handshake = handshake or Handshake(pid=None, rest=self._pending)
            if handshake.pid is not None:
                self.process = replace(self.process, pid=handshake.pid)
            self._pending, data = b"", handshake.rest
            self.handshaken.set()
        if data:
            self.buffer.feed(data)

    def _stop_reading(self) -> None:
        if self.fd >= 0:
            asyncio.get_running_loop().remove_reader(self.fd)

    def _on_exit(self) -> None:
        loop = asyncio.get_running_loop()
        loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        self._exited()

    async def _poll_exit(self) -> None:
        while True:
            # WNOWAIT: notice the exit but leave the zombie, so its ids stay reserved for the kill.
            if os.waitid(os.P_PID, self.child.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                self._exited()
                return
            await asyncio.sleep(0.1)

    def _exited(self) -> None:
        self.exited.set()
        self._spawn_task(self._finish())

    async def _finish(self) -> None:
        # Until the zombie is reaped its pid cannot be reused, so signalling its group and
        # session by that id is safe: leftovers (`server &` in a script) end with the shell.
        try:
            await self.launcher.kill_tree(self.process, signal.SIGKILL)
        finally:
            code, sig = self._reap()
            processes.release(self.child.pid)
            if self._peer is None:
                await finished_within(self._eof, DRAIN_SECONDS)
            self._drain()
            self._stop_reading()
            self._take(b"", final=True)
            self.buffer.finish()
            self._close_pty()
            self.status, self.exit_code = final_status(code, sig, self.kill_requested)
            self.ended = time.monotonic()
            self.finished.set()
            self._notify()

    def _drain(self) -> None:
        # Bounded: a process that escaped the session (setsid) may still be writing.
        for _ in range(DRAIN_READS):
            if self._eof.is_set():
                return
            try:
                data = os.read(self.fd, READ_SIZE)
            except OSError:  # would block (drained), or EIO (the terminal side is closed)
                return
            if not data:
                return
            self._take(data)

    def _reap(self) -> tuple[int | None, int | None]:
        try:
            self.child.isalive()
        except ptyprocess.PtyProcessError:  # someone else reaped it: the exit status is lost
            return None, None
        return self.child.exitstatus, self.child.signalstatus

    def _close_pty(self) -> None:
        if self._peer is not None:
            os.close(self._peer)
            self._peer = None
        self.child.delayafterclose = 0  # ptyprocess would sleep on the event loop
        try:
            self.child.close(force=False)
        except ptyprocess.PtyProcessError:
            pass

    async def _writable(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        loop.add_writer(self.fd, lambda: ready.done() or ready.set_result(None))
        try:
            return await finished_within(ready, timeout)
        finally:
            loop.remove_writer(self.fd)

    def _spawn_task(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def status_dict(self) -> dict:
        end = self.ended if self.ended is not None else time.monotonic()
        return {
            "shell_id": self.shell_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "pid": self.process.pid,
            "command": self.command,
            "cwd": self.work_dir,
            "start_time": self.start_time,
            "duration_seconds": round(end - self.started, 2),
        }


def _open_peer(master: int) -> int | None:
    """A close-on-exec descriptor of the pty's terminal side (None where the kernel lacks the ioctl)."""
    try:
        return fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None


def final_status(exit_code: int | None, signum: int | None, kill_requested: bool) -> tuple[str, int | None]:
    """(status, exit_code) of an ended shell; a signal shows as a negative code, as in subprocess."""
    if signum is not None:
        return "killed", -signum
    if kill_requested:
        return "killed", exit_code
    if exit_code == 0:
        return "stopped", 0
    return "failed", exit_code


def control_character(key: str) -> str:
    """The character Ctrl+key sends ("c" → ETX, "d" → EOF)."""
    char = CONTROL_KEYS.get(key.lower()) if len(key) == 1 else None
    if char is None:
        raise InvalidShellRequest(
            f"Unknown control key {key!r}: give one letter (\"c\" sends Ctrl-C, \"d\" sends Ctrl-D, "
            "\"z\" sends Ctrl-Z) or one of @ [ \\ ] ^ _ ?.")
    return char


