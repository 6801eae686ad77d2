"""The watchdog of local commands: when the server dies, even by SIGKILL, it kills every command it ran.

Where a cgroup v2 is writable, the server moves itself into a cgroup of its own at start, so every
process it starts, and every orphan of those, is born in it; the watchdog, left outside, kills the
cgroup (`cgroup.kill`) once the server's end of its lifeline closes: an exact set. In any case the
server tells the watchdog each running command (`+PID` / `-PID`), and the watchdog sweeps their sessions,
groups and descendants; without a cgroup that is all it can find (orphans the server had adopted
are re-parented to init when it dies; only those that kept their command's session or group are).

The watchdog is shipped as source to `python -I -S` with mgexec.processes' /proc readers, and imports
nothing of mgexec.
"""

from __future__ import annotations

import inspect
import logging
import os
import secrets
import subprocess
import sys
import threading

from mgexec import processes

CGROUP_VARIABLE = "MGEXEC_CGROUP"  # "off": never use a cgroup (the tree fallback)
WATCHDOG_VARIABLE = "MGEXEC_COMMAND_GUARD"
BOOTSTRAP = f"import os; exec(os.environ.pop({WATCHDOG_VARIABLE!r}))"
CLOSE_LINE = b"close"

log = logging.getLogger("mgexec.processes")


def _watchdog_main() -> None:
    """argv: LIFELINE_FD. Reads `cgroup DIR|-`, `+PID` / `-PID`, `close` until EOF, then kills what is left.

    Commands still listed are swept in any case (a deliberate close normally leaves none).
    """
    import os
    import signal
    import sys
    import time

    lifeline, cgroup = int(sys.argv[1]), "-"
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    tops, closed, pending = set(), False, b""
    while True:
        chunk = os.read(lifeline, 4096)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line == b"close":
                closed = True
            elif line.startswith(b"cgroup "):
                cgroup = line[7:].decode()
            elif line[:1] in (b"+", b"-") and line[1:].isdigit():
                (tops.add if line[:1] == b"+" else tops.discard)(int(line[1:]))
    if not closed and cgroup != "-":  # the server died: everything born in its cgroup goes
        try:
            with open(cgroup + "/cgroup.kill", "w") as kill:
                kill.write("1")
        except OSError:
            pass
    me = os.getpid()
    freeze_and_kill(lambda: tree_of(process_table(), tops, tops) - {me})
    for _ in range(100 if cgroup != "-" else 0):  # the dead need a moment to leave the cgroup
        try:
            for path, dirs, _ in sorted(os.walk(cgroup), reverse=True):  # nested ones (emptied) first
                os.rmdir(path)
            break
        except OSError:
            time.sleep(0.05)


WATCHDOG_SOURCE = ("from __future__ import annotations\n\n" + processes.shipped_source() + "\n\n"
                   + inspect.getsource(_watchdog_main) + "\n\n_watchdog_main()\n")


def own_cgroup_dir() -> str | None:
    """This process's cgroup v2 directory, when the unified hierarchy is mounted and readable."""
    try:
        with open("/proc/self/cgroup") as listing:
            path = next((line.strip()[3:] for line in listing if line.startswith("0::")), None)
        with open("/proc/self/mountinfo") as mounts:
            mount = next((line.split(" - ")[0].split()[4] for line in mounts
                          if " - cgroup2 " in line), None)
    except OSError:
        return None
    if path is None or mount is None:
        return None
    return os.path.join(mount, path.lstrip("/"))


def make_cgroup() -> str | None:
    """A new cgroup beside this process's own, with cgroup.kill (Linux 5.14+); None where none is writable."""
    if os.environ.get(CGROUP_VARIABLE) == "off":
        return None
    # Nested when this process already runs in another mgexec's cgroup (a command that runs mgexec):
    # that one's kill must take this one too.
    parent = own_cgroup_dir()
    if parent is None or not os.access(parent, os.W_OK):
        return None
    path = os.path.join(parent, f"mgexec-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.mkdir(path)
    except OSError:
        return None
    if not os.path.exists(os.path.join(path, "cgroup.kill")):
        os.rmdir(path)
        return None
    return path


# A process is in one cgroup: every executor of this process shares it; the last to close moves back.
_shared = {"cgroup": None, "home": None, "users": 0}
_shared_lock = threading.Lock()


def _join_shared_cgroup() -> str | None:
    with _shared_lock:
        if _shared["users"] == 0:
            home, cgroup = own_cgroup_dir(), make_cgroup()
            if cgroup is not None and not _enter(cgroup):
                os.rmdir(cgroup)
                cgroup = None
            _shared.update(cgroup=cgroup, home=home)
        _shared["users"] += 1
        return _shared["cgroup"]


def _leave_shared_cgroup() -> bool:
    """Whether this was the last user; then this process has moved back to its own cgroup."""
    with _shared_lock:
        _shared["users"] -= 1
        if _shared["users"] > 0:
            return False
        if _shared["cgroup"] is not None and _shared["home"] is not None:
            _enter(_shared["home"])
        return True


def _enter(cgroup: str) -> bool:
    try:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
            procs.write("0")  # this process, all its threads
        return True
    except OSError:
        return False


class LocalWatchdog:
    """One per executor of local commands: started at open, told of each command, closed at the end.

    The watchdog starts before this process enters its cgroup, so the cgroup's kill never takes it.
    """

    def __init__(self) -> None:
        self._lifeline = self._start()
        self.cgroup = _join_shared_cgroup()
        self.tell(b"cgroup %s\n" % (self.cgroup or "-").encode())

    def mechanism(self) -> str:
        return f"cgroup {self.cgroup}" if self.cgroup else "process trees"

    def started(self, pid: int) -> None:
        self.tell(b"+%d\n" % pid)

    def ended(self, pid: int) -> None:
        self.tell(b"-%d\n" % pid)

    def tell(self, line: bytes) -> None:
        try:
            os.write(self._lifeline, line)
        except OSError:
            log.warning("The watchdog of local commands is gone; a server killed with SIGKILL may leave them running.")

    def close(self) -> None:
        """The owner ends on purpose: the watchdog kills what is left of commands still listed, not the cgroup
        (which may hold other children of an embedding program), then removes the cgroup once empty."""
        _leave_shared_cgroup()
        self.tell(CLOSE_LINE + b"\n")
        os.close(self._lifeline)

    def _start(self) -> int:
        read_end, write_end = os.pipe()
        argv = [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(read_end)]
        try:
            with processes.spawning() as own:
                watchdog = subprocess.Popen(argv, env={**os.environ, WATCHDOG_VARIABLE: WATCHDOG_SOURCE},
                                         pass_fds=(read_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
                own(watchdog.pid)
        finally:
            os.close(read_end)
        self._process = watchdog
        return write_end


def describe_server_death() -> str:
    """What kills local commands when the server dies, as `mgexec doctor` reports it (probes a cgroup)."""
    probe = make_cgroup()
    if probe is None:
        why = "MGEXEC_CGROUP=off" if os.environ.get(CGROUP_VARIABLE) == "off" else "no writable cgroup v2 with cgroup.kill"
        return (f"if the server dies: a watchdog kills the trees of running local commands ({why}; a process that "
                "double-forked and called setsid escapes that)")
    os.rmdir(probe)
    return f"if the server dies: a watchdog kills the server's own cgroup (under {os.path.dirname(probe)})"
