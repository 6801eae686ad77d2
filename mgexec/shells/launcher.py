"""Where a background shell runs: the Launcher protocol, and LocalLauncher for shells on this host.

The manager owns the terminal, the buffer and the table; a launcher decides what to spawn for a
command, with which environment, and how to signal the whole tree it becomes.
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import os
import re
import signal
import sys
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol

from mgexec import processes
from mgexec.environment import NON_INTERACTIVE_ENV, command_env, host_line_shell
from mgexec.errors import MgexecError

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


def _keeper_main() -> None:
    """Runs as the spawned process: a subreaper that forks the user's shell and keeps its whole tree.

    Every orphan of the shell's tree is re-parented to the keeper, so the tree stays exact whatever
    its processes do (setsid, setpgid, double fork). When the shell ends, the keeper freezes and
    kills what is left, then exits with the shell's status; when the server's end of the lifeline
    closes (the server died, even by SIGKILL, or closed the launcher), it does the same at once.
    """
    import ctypes
    import os
    import signal
    import sys

    lifeline, shell, command = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        os.write(2, b"mgexec: cannot become a child subreaper; the shell does not run.\n")
        os._exit(125)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    # The shell keeps its terminal and default signals; the keeper holds neither, so a Ctrl-C, a
    # hangup or a group SIGTERM reaches only the shell's processes. Blocked across the fork, so one
    # that comes early is neither lost in Python's handler before exec nor fatal to the keeper.
    tty_signals = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGTSTP, signal.SIGTTIN,
                   signal.SIGTTOU)
    signal.pthread_sigmask(signal.SIG_BLOCK, tty_signals)
    child = os.fork()
    if child == 0:
        os.close(lifeline)
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD,) + tty_signals:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, tty_signals)
        os.execv(shell, [os.path.basename(shell), "-c", command])
    for sig in tty_signals:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, tty_signals)
    # The shell exists now: announce it, so a kill right after the start finds the shell to kill.
    os.write(1, b"\x1emgexec-pid %d\x1e\n" % os.getpid())
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    status = _keeper_wait(lifeline, wake_r, child)
    me = os.getpid()
    freeze_and_kill(lambda: tree_of(process_table(), [me]) - {me})
    _exit_as(status)


def _keeper_wait(lifeline, wake_r, child):
    """Reap children (the shell, and orphans re-parented to the keeper) until the shell ends: its wait
    status; None when the lifeline closed first."""
    import os
    import select

    while True:
        ready = select.select([lifeline, wake_r], [], [])[0]
        if lifeline in ready and not os.read(lifeline, 4096):
            return None
        if wake_r in ready:
            os.read(wake_r, 4096)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == child:
                return status


def _exit_as(status):
    """Exit with the shell's status; die of its signal, so the server reports that (SIGKILL without one)."""
    import os
    import signal

    if status is not None and not os.WIFSIGNALED(status):
        os._exit(os.WEXITSTATUS(status))
    sig = os.WTERMSIG(status) if status is not None else signal.SIGKILL
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)  # a signal whose default is to be ignored


# The keeper is shipped as source to `python -I -S` (no site, no import of mgexec, a fast start),
# with the termination functions it shares with the server; that is why they import what they use
# themselves. The source travels in an environment variable the bootstrap removes, so `ps` shows a
# short command line and the user's shell never sees it.
WRAPPER_VARIABLE = "MGEXEC_SHELL_WRAPPER"
BOOTSTRAP = f"import os; exec(os.environ.pop({WRAPPER_VARIABLE!r}))"
WRAPPER_SOURCE = "from __future__ import annotations\n\n" + "\n\n".join(
    inspect.getsource(function) for function in (
        processes.read_stat, processes.process_table, processes.tree_of, processes.freeze_and_kill,
        _keeper_wait, _exit_as, _keeper_main)
) + "\n\n_keeper_main()\n"


def session_members(sid: int) -> set[int]:
    """Pids of every live process whose session id is sid."""
    return {pid for pid, stat in processes.process_table().items() if stat[3] == sid}


class LocalLauncher:
    """Runs shells on this host, each under its own keeper, so none outlives its kill or the server.

    The spawned process is a keeper (see `_keeper_main`): a child subreaper that runs the user's
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
        return [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(self._lifeline_read), self._shell, command]

    def env_for(self, work_dir: str) -> dict[str, str]:
        return {**shell_env(self._base_env, work_dir), WRAPPER_VARIABLE: WRAPPER_SOURCE}

    def spawn_options(self, work_dir: str) -> SpawnOptions:
        self._check_open()
        return SpawnOptions(cwd=work_dir, pass_fds=(self._lifeline_read,))

    def read_handshake(self, data: bytes) -> Handshake | None:
        return find_handshake(data)

    async def kill_tree(self, shell: ShellProcess, sig: int) -> None:
        # Everything below the keeper, never the keeper: it reaps the shell, sweeps once more and
        # exits with the shell's status.
        keeper = shell.local_pid
        scope = processes.Scope(roots=frozenset({keeper}), sessions=frozenset({keeper}), orphans=False,
                                spare=frozenset({keeper}))
        await asyncio.to_thread(processes.terminate, scope, sig)

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
