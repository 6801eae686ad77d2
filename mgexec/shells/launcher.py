"""Where a background shell runs: the Launcher protocol, and LocalLauncher for shells on this host.

The manager owns the terminal, the buffer and the table; a launcher decides what to spawn for a
command, with which environment, and how to signal the whole tree it becomes.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import signal
import sys
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

from mgexec.environment import NON_INTERACTIVE_ENV, command_env, host_line_shell
from mgexec.errors import MgexecError

# A shell's terminal is a plain one: no colour codes or cursor movement in the buffered output.
NONINTERACTIVE_ENV = {**NON_INTERACTIVE_ENV, "TERM": "dumb"}

_PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child between fork and exec should do as little as possible.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


@dataclass(frozen=True)
class ShellProcess:
    """The ids a launcher needs to act on a started shell."""

    local_pid: int  # the process mgexec spawned; leader of its own session and process group
    pid: int  # the pid reported to users: the same locally, the pid inside the container for docker


@dataclass(frozen=True)
class Handshake:
    """What a launcher learnt from the first bytes a shell printed, before they are buffered."""

    pid: int | None  # a pid the wrapper announced, or None to keep the spawned process's own
    rest: bytes  # output after the handshake, which belongs to the command


@dataclass(frozen=True)
class SpawnOptions:
    cwd: str | None  # host directory to start in (None where the directory is not on this host)
    pass_fds: tuple[int, ...] = ()  # descriptors the spawned process must inherit
    preexec_fn: Callable[[], None] | None = None  # runs in the child between fork and exec


class Launcher(Protocol):
    """Turns an approved command into a process to spawn in a pty, and signals its tree.

    A docker launcher fits the same shape: `argv_for` gives a `docker exec -it ... sh -c` whose
    wrapper first prints its pid inside the container, `read_handshake` consumes that line and
    reports the pid, and `kill_tree` signals that process group through `docker exec`.
    """

    def argv_for(self, command: str, work_dir: str) -> list[str]: ...

    def env_for(self, work_dir: str) -> dict[str, str]: ...

    def spawn_options(self, work_dir: str) -> SpawnOptions: ...

    def read_handshake(self, data: bytes) -> Handshake | None:
        """Consume a preamble from the start of the output; None while more bytes are needed."""

    async def kill_tree(self, shell: ShellProcess, sig: int) -> None:
        """Send sig to every process of the shell's tree (its group and its session)."""

    def close(self) -> None: ...


def session_members(sid: int) -> set[int]:
    """Pids of every process whose session id is sid (Linux /proc; empty elsewhere)."""
    import os

    members = set()
    try:
        names = os.listdir("/proc")
    except OSError:
        return members
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces): state ppid pgrp session ...
        fields = stat[stat.rindex(b")") + 2:].split()
        # A zombie is dead already; counting it would keep a kill sweeping for nothing.
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
            members.add(int(name))
    return members


def kill_session(sid: int, sig: int, *, spare: int | None = None, sweeps: int = 10) -> None:
    """Signal the process group sid and every process of session sid, sweeping again while any remain.

    The session catches what left the group (a job-control shell puts each job in its own). With
    SIGKILL, a process that forked between the listing and its death leaves a child the first
    sweep did not see; the next sweep gets it. `spare` (the caller itself) is left alone, and so
    is the group, which the caller would be part of.
    """
    import os
    import signal

    for _ in range(sweeps if sig == signal.SIGKILL else 1):
        if spare is None:
            try:
                os.killpg(sid, sig)
            except OSError:
                pass
        members = session_members(sid) - {spare}
        for pid in members:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        if not members:
            return


def _guard_main(lifeline: int) -> None:
    """The watchdog of one shell: when the server's end of the lifeline closes, kill the session.

    It stays in the shell's session and group, ignores the signals a terminal or a group kill
    sends, and holds no terminal descriptor (so the shell's output still ends when it exits).
    """
    import os
    import signal

    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    while os.read(lifeline, 4096):
        pass
    kill_session(os.getsid(0), signal.SIGKILL, spare=os.getpid())
    os.killpg(0, signal.SIGKILL)  # last: this takes the guard too


def _wrapper_main() -> None:
    """Runs as the spawned process: start the guard, then become the user's shell (same pid).

    The guard is double-forked so it is no child of the user's command: a program that waits
    for all its children must not wait for the guard.
    """
    import os
    import sys

    lifeline, shell, command = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if os.fork() == 0:
        if os.fork() == 0:
            try:
                _guard_main(lifeline)
            finally:
                os._exit(0)
        os._exit(0)
    os.wait()
    os.close(lifeline)
    os.execv(shell, [os.path.basename(shell), "-c", command])


# The wrapper is shipped as source to `python -I -S` (no site, no import of mgexec, a fast
# start); that is why the shipped functions import what they use themselves. The source travels
# in an environment variable the bootstrap removes, so `ps` shows a short command line and the
# user's shell never sees it.
WRAPPER_VARIABLE = "MGEXEC_SHELL_WRAPPER"
BOOTSTRAP = f"import os; exec(os.environ.pop({WRAPPER_VARIABLE!r}))"
WRAPPER_SOURCE = "from __future__ import annotations\n\n" + "\n\n".join(
    inspect.getsource(function) for function in (session_members, kill_session, _guard_main, _wrapper_main)
) + "\n\n_wrapper_main()\n"


class LocalLauncher:
    """Runs shells on this host, each in its own session, guarded so none outlives the server.

    Two mechanisms, because either alone leaves holes: the spawned process gets
    PR_SET_PDEATHSIG=SIGKILL (it dies at once with the server, but that kills only itself),
    and a guard process in the shell's session reads a pipe whose only write end the server
    holds; when the server dies for any reason, even SIGKILL, the kernel closes that end and
    the guard kills the shell's whole session. `close()` closes the pipe deliberately, which
    kills every shell still running.
    """

    def __init__(self, env: Mapping[str, str] | None = None, *, shell: str | None = None) -> None:
        self._base_env = dict(os.environ if env is None else env)
        self._shell = shell or host_line_shell()  # an absolute path: the wrapper execs it as is
        self._lifeline_read, self._lifeline_write = os.pipe()
        # Only the read end crosses exec; the write end stays close-on-exec, so no child can
        # keep it open (a fork without exec would, for as long as that copy lives).
        os.set_inheritable(self._lifeline_read, True)
        self._closed = False

    def argv_for(self, command: str, work_dir: str) -> list[str]:
        self._check_open()
        return [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(self._lifeline_read), self._shell, command]

    def env_for(self, work_dir: str) -> dict[str, str]:
        return {**shell_env(self._base_env, work_dir), WRAPPER_VARIABLE: WRAPPER_SOURCE}

    def spawn_options(self, work_dir: str) -> SpawnOptions:
        self._check_open()
        return SpawnOptions(cwd=work_dir, pass_fds=(self._lifeline_read,), preexec_fn=_die_with(os.getpid()))

    def read_handshake(self, data: bytes) -> Handshake | None:
        return Handshake(pid=None, rest=data)

    async def kill_tree(self, shell: ShellProcess, sig: int) -> None:
        kill_session(shell.local_pid, sig)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.close(self._lifeline_write)
        os.close(self._lifeline_read)

    def _check_open(self) -> None:
        if self._closed:
            raise MgexecError("This local launcher is closed; create a new one to start background shells.")


def shell_env(base: Mapping[str, str], work_dir: str) -> dict[str, str]:
    """The environment of a local shell: a command's environment with a plain terminal."""
    return {**command_env(work_dir, base), "TERM": "dumb"}


def _die_with(parent_pid: int) -> Callable[[], None]:
    """A preexec function asking the kernel to SIGKILL the child when its parent dies.

    The signal follows the death of the parent *thread* that forked, which is why shells are
    spawned on the event loop's thread and never from a short-lived worker thread.
    """

    def preexec() -> None:
        if _LIBC is None:
            return
        if _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:  # the parent died before the request took effect
            os._exit(1)

    return preexec
