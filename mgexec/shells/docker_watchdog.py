"""The watchdog of a DockerLauncher: when the server's end of its lifeline closes, it ends the shells
inside the container (and removes a container the server owned, with its channel directory), even after a
SIGKILL of the server.

Standard library only, and no import of mgexec: DockerLauncher ships this file as source to
`python -I -S` (no site, no package import), so the watchdog starts in milliseconds, cannot be broken
by the state of the installation or the working directory, and keeps nothing of the server's
interpreter. Every docker argv it runs is built by the host (mgexec.docker.argv) and handed over in
ARGVS_VARIABLE, so the watchdog only appends the sweep's words.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

# The tag of the launcher's shells (MGEXEC_GUARD) and the file its sweep leaves are the sweep's words:
# see mgexec.inside.sweep.
CLOSE_LINE = b"close"  # the server closed the launcher on purpose: leave the container to its owner
EXEC_TIMEOUT = 30
RM_TIMEOUT = 60
CLOCK_SLACK = 0.05  # file times come from the kernel's coarse clock (a tick behind time.time() at most)

# {"remove": argv of `docker rm -f CONTAINER`, "sweep": argv of `docker exec CONTAINER` + SWEEP_COMMAND,
# "channel": the container's channel directory}: built by the host, read once and removed from the environment.
ARGVS_VARIABLE = "MGEXEC_WATCHDOG_ARGVS"


def open_line(sid: int, since: int | None) -> bytes:
    """`+SID SINCE`: a shell's session opened, started at SINCE (clock ticks since boot inside)."""
    return b"+%d %s\n" % (sid, b"-" if since is None else b"%d" % since)


def follow(lifeline: int) -> tuple[dict, bool, int | None]:
    """Read `+SID SINCE` / `-SID` / `~SINCE` / `~-` / `close` lines until EOF: the sessions still open,
    whether closed on purpose, and the earliest `~SINCE` not withdrawn by `~-` (commands without a
    session of their own started after it)."""
    sessions: dict = {}
    closed, floor, pending = False, None, b""
    while chunk := os.read(lifeline, 4096):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            words = line.split()
            if line == CLOSE_LINE:
                closed = True
            elif words and words[0][:1] == b"+" and words[0][1:].isdigit():
                since = words[1] if len(words) > 1 and words[1].isdigit() else None
                sessions[int(words[0][1:])] = int(since) if since else None
            elif line[:1] == b"-" and line[1:].isdigit():
                sessions.pop(int(line[1:]), None)
            elif line == b"~-":
                floor = None
            elif line[:1] == b"~" and line[1:].isdigit():
                floor = int(line[1:]) if floor is None else min(floor, int(line[1:]))
    return sessions, closed, floor


def sweep_args(signame: str, tag: str, sessions: dict, floor: int | None = None) -> list[str]:
    """The words of mgexec.inside.sweep.SWEEP: signal the sessions' trees, what was orphaned to PID 1 since the
    earliest of them (or `floor`) started, and, with a tag, every process carrying it."""
    starts = [since for since in sessions.values() if since is not None]
    known = floor is not None or len(starts) == len(sessions)
    starts += [floor] if floor is not None else []
    since = str(min(starts)) if starts and known else "-"
    return [signame, tag, since, *(str(sid) for sid in sorted(sessions))]


def run_quietly(argv: list[str], timeout: float) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _private_dir(path: str) -> bool:
    """A real directory (no link) of this uid that no one else may write to: mgexec.docker.channel_socket's
    private_dir, restated because this file imports nothing of mgexec (see the module docstring)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def remove_channel_dir(path: str, touched_before: float) -> None:
    """The removed container's channel directory (mgexec.docker.channel_socket), as its server would have
    removed it: only inside the private root, under the root's exclusive lock (a start touches its directory
    under the shared one), and only when no start has touched it since the removal began: a new start of
    the same name may already have claimed the directory for its own container."""
    root = os.path.dirname(path)
    if not path or not (_private_dir(os.path.dirname(root)) and _private_dir(root)):
        return
    import fcntl
    import shutil  # here: the watchdog's start imports only what every run needs

    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _private_dir(path) and os.lstat(path).st_mtime < touched_before:
            shutil.rmtree(path, ignore_errors=True)  # through directory fds: a link inside is never followed
    except OSError:
        pass  # a start holds the lock, or the directory went: `mgexec cleanup` sweeps what is left
    finally:
        os.close(fd)


def main(argv: list[str]) -> None:
    """argv: LIFELINE_FD TAG owns|keeps; the docker argvs in ARGVS_VARIABLE."""
    lifeline, tag, owns = int(argv[0]), argv[1], argv[2] == "owns"
    argvs = json.loads(os.environ.pop(ARGVS_VARIABLE))
    # In its own session already; these keep a terminal hangup or a stray Ctrl-C from ending it early.
    # It stays the server's child: a server that is a subreaper would take a detached watchdog for an orphan.
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    sessions, closed, floor = follow(lifeline)
    os.close(lifeline)
    # A server that died cannot remove its container; removing it ends every process inside.
    if owns and not closed:
        began = time.time() - CLOCK_SLACK
        if run_quietly(argvs["remove"], RM_TIMEOUT):
            remove_channel_dir(argvs.get("channel") or "", began)
            return
    run_quietly([*argvs["sweep"], *sweep_args("KILL", tag, sessions, floor)], EXEC_TIMEOUT)


if __name__ == "__main__":
    main(sys.argv[1:])
