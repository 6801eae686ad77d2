"""The keeper of each local background shell: a child subreaper that runs the user's shell and, when the
shell ends or the server's lifeline closes, kills everything the shell started.

Shipped as source to `python -I -S` (no site, no import of mgexec, a fast start) with mgexec.processes'
shipped termination functions, which is why each function imports what it uses itself. The source
travels in KEEPER_VARIABLE, which the bootstrap removes, so `ps` shows a short command line and the
user's shell never sees it. argv: LIFELINE_FD SHELL COMMAND. Its first output is the handshake line
`\x1emgexec-pid PID\x1e` (mgexec.shells.launcher.HANDSHAKE); it exits with the shell's status, or
KEEPER_REFUSED_EXIT when it cannot become a subreaper.
"""

from __future__ import annotations

import inspect

from mgexec import processes

KEEPER_VARIABLE = "MGEXEC_SHELL_WRAPPER"
KEEPER_BOOTSTRAP = f"import os; exec(os.environ.pop({KEEPER_VARIABLE!r}))"
KEEPER_REFUSED_EXIT = 125


def keeper_main() -> None:
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
        os._exit(125)  # KEEPER_REFUSED_EXIT
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
    os.write(1, b"\x1emgexec-pid %d\x1e\n" % os.getpid())  # HANDSHAKE
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    status = keeper_wait(lifeline, wake_r, child)
    me = os.getpid()

    def tree():
        # As a subreaper it has adopted every orphan of the tree: its descendants are the whole tree.
        found = descendants(me)
        return found if found is not None else tree_of(process_table(), [me]) - {me}

    freeze_and_kill(tree)
    exit_as(status)


def keeper_wait(lifeline, wake_r, child):
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


def exit_as(status):
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


def keeper_source() -> str:
    """The program KEEPER_BOOTSTRAP runs: the shipped functions, the keeper's, and the call to it."""
    return "from __future__ import annotations\n\n" + processes.shipped_source() + "\n\n" + "\n\n".join(
        inspect.getsource(function) for function in (keeper_wait, exit_as, keeper_main)) + "\n\nkeeper_main()\n"
