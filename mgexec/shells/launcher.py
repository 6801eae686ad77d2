"""Where a background shell runs: the Launcher protocol, and LocalLauncher for shells on this host.

The manager owns the terminal, the buffer and the table; a launcher decides what to spawn for a
command, with which environment, and how to signal the whole tree it becomes.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import signal
import sys
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

from mgexec import processes
from mgexec.environment import NON_INTERACTIVE_ENV, command_env, host_line_shell
from mgexec.errors import MgexecError
from mgexec.inside.keeper import KEEPER_BOOTSTRAP, KEEPER_VARIABLE, keeper_source

# A shell's terminal is a plain one: no colour codes or cursor movement in the buffered output.
BACKGROUND_SHELL_ENV = {**NON_INTERACTIVE_ENV, "TERM": "dumb"}

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
    since: int | None = None  # the wrapper's start time (clock ticks since boot), if it announced one


# Record separators around the pid: a program's output never produces this line by accident.
HANDSHAKE = re.compile(rb"\x1emgexec-pid (\d+)(?: (\d+))?\x1e(\r?\n)?")


def find_handshake(data: bytes) -> Handshake | None:
    """The `\\x1emgexec-pid N\\x1e` line a wrapper prints once its shell runs, cut out of the output."""
    found = HANDSHAKE.search(data)
    # Wait for the line end too; the terminal turns "\n" into "\r\n", which may come later.
    if found is None or (found.group(3) is None and data[found.end():] in (b"", b"\r")):
        return None
    since = int(found.group(2)) if found.group(2) else None
    return Handshake(pid=int(found.group(1)), rest=data[:found.start()] + data[found.end():], since=since)


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


class LocalLauncher:
    """Runs shells on this host, each under its own keeper, so none outlives its kill or the server.

    The spawned process is a keeper (see mgexec.inside.keeper): a child subreaper that runs the user's
    shell as its child, so every process the shell starts stays in the keeper's tree wherever it
    moves. The keeper reads a pipe whose only write end the server holds: when the server dies for
    any reason, even SIGKILL, the kernel closes that end and the keeper kills the whole tree.
    `close()` closes the pipe deliberately, which ends every shell still running. The keeper gets
    no parent-death signal: dying with the server before its sweep would orphan the tree to init.
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
        return [sys.executable, "-I", "-S", "-c", KEEPER_BOOTSTRAP, str(self._lifeline_read), self._shell, command]

    def env_for(self, work_dir: str) -> dict[str, str]:
        return {**shell_env(self._base_env, work_dir), KEEPER_VARIABLE: KEEPER_SOURCE}

    def spawn_options(self, work_dir: str) -> SpawnOptions:
        self._check_open()
        return SpawnOptions(cwd=work_dir, pass_fds=(self._lifeline_read,))

    def read_handshake(self, data: bytes) -> Handshake | None:
        return find_handshake(data)

    async def kill_tree(self, shell: ShellProcess, sig: int) -> None:
        # Everything below the keeper, never the keeper: it reaps the shell, sweeps once more and
        # exits with the shell's status.
        await processes.signal_scope(functools.partial(keeper_tree, shell.local_pid), sig)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        os.close(self._lifeline_write)
        os.close(self._lifeline_read)

    def _check_open(self) -> None:
        if self._closed:
            raise MgexecError("This local launcher is closed; create a new one to start background shells.")


def keeper_tree(keeper: int) -> set[int]:
    """The processes of a shell's tree, the keeper left out. While the keeper lives its descendants are
    the whole tree (it adopts the tree's orphans): no scan of /proc. Once it has ended, its session and
    what descends from it, found by a scan."""
    stat = processes.read_stat(keeper)
    if stat is not None and stat[0] not in ("Z", "X"):
        found = processes.descendants(keeper)
        if found is not None:
            return found
    scope = processes.Scope(roots=frozenset({keeper}), sessions=frozenset({keeper}), orphans=False,
                            spare=frozenset({keeper}))
    return scope.members()


# The keeper's program, built once: every local shell gets it in its environment.
KEEPER_SOURCE = keeper_source()


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
