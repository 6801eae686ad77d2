"""The one home of host-side termination: who belongs to a command, and how to end them all.

A command may leave its process group or session (`setsid`, `setpgid`) or orphan itself (double
fork); the kill follows it anyway. The process that owns commands becomes a child subreaper, so a
command's orphans are re-parented to it instead of to init; every sweep takes the command's
session and group, every descendant of them, and these adopted orphans, freezes them (SIGSTOP, so
a fork loop cannot race the listing), SIGKILLs them, and repeats until none is left. Every host-side
kill escalates through `escalate` (SIGTERM, KILL_GRACE, SIGKILL) and reads /proc off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import inspect
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

_PR_SET_CHILD_SUBREAPER = 36
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

# A child mgexec has just started must never be taken for an orphan: spawns are counted from before
# the fork until the child is registered, and orphans are only picked while no spawn is under way.
_lock = threading.Lock()
_spawning = 0
_own: set[int] = set()  # live direct children that mgexec started itself (not orphans)
_subreaper = False
SPAWN_WAIT = 2.0  # how long a sweep waits for spawns under way to register their child
# Between SIGTERM and SIGKILL, wherever mgexec ends something: a command, a shell, a `docker exec`
# client, a command inside a container (the in-container scripts get it as an argument).
KILL_GRACE = 2.0


def read_stat(pid):
    """(state, ppid, pgrp, session) of a process from /proc/PID/stat, or None if it is gone.

    Self-contained (shipped as source to the local shell keeper): the command name may hold
    spaces and parentheses, so fields are counted from the last `)`.
    """
    try:
        with open("/proc/%d/stat" % pid, "rb") as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3])


def process_table():
    """{pid: (state, ppid, pgrp, session)} of every live process (zombies left out). Self-contained."""
    import os

    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None and stat[0] not in ("Z", "X"):
                table[int(name)] = stat
    return table


def tree_of(table, roots, sessions=()):
    """Every pid of the table in one of `sessions` or descended from one of `roots` or of those. Self-contained."""
    children = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found = set(pid for pid, stat in table.items() if stat[3] in sessions or stat[2] in sessions)
    found.update(root for root in roots if root in table)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def descendants(root):
    """Every live descendant of root, read from the kernel's per-thread child lists: it costs the size of
    the tree, not a scan of /proc. Exact under a live subreaper root, which adopts what its tree orphans.
    None where the kernel keeps no child lists (CONFIG_PROC_CHILDREN). Self-contained."""
    import os

    if not os.path.exists("/proc/%d/task/%d/children" % (root, root)):
        return None if os.path.exists("/proc/%d" % root) else set()
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        try:
            threads = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue  # gone meanwhile: a later listing finds its children under their new parent
        for tid in threads:
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid), "rb") as listing:
                    children = listing.read().split()
            except OSError:
                continue
            for child in map(int, children):
                stat = read_stat(child)
                if child not in found and stat is not None and stat[0] not in ("Z", "X"):
                    found.add(child)
                    todo.append(child)
    return found


def _signal_all(pids, sig):
    """Send sig to each pid, ignoring those already gone. Self-contained."""
    import os

    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def freeze_and_kill(collect, spare=()):
    """SIGSTOP what `collect()` lists until a listing finds nothing new, SIGKILL it all; repeat until empty.

    A stopped process cannot fork, so once a listing adds nothing the frozen set is complete.
    Returns how many processes were killed. Self-contained (shipped to the local shell keeper).
    """
    import signal

    killed = set()
    for _ in range(50):  # rounds; each kills everything it froze
        frozen = set()
        for _ in range(200):  # listings; a fork loop adds at most one generation per listing
            new = set(collect()) - frozen - set(spare)
            if not new:
                break
            _signal_all(new, signal.SIGSTOP)
            frozen |= new
        if not frozen:
            break
        _signal_all(frozen, signal.SIGKILL)
        killed |= frozen
    return len(killed)


# The termination functions scripts outside this process run as they are (the local shell keeper, the
# local watchdog, the warm channel's helper in a container): shipped as source, in this order.
SHIPPED = (read_stat, process_table, tree_of, descendants, _signal_all, freeze_and_kill)


# Read once, at import: the running code's own text, even if the installed file changes later.
_SHIPPED_SOURCE = "\n\n".join(inspect.getsource(function) for function in SHIPPED)


def shipped_source() -> str:
    """The source of SHIPPED, to put before a script's own code."""
    return _SHIPPED_SOURCE


def signal_all(pids: Iterable[int], sig: int) -> None:
    _signal_all(pids, sig)


def signal_group(pgid: int, sig: int) -> bool:
    """Send sig to a process group; False when it is gone (or not ours to signal)."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def session_members(sid: int) -> set[int]:
    """Pids of every live process whose session id is sid (a full scan of /proc)."""
    return {pid for pid, stat in process_table().items() if stat[3] == sid}


# --- the owner's side: subreaper, registry of its own children, adopted orphans ----------------------
def become_subreaper() -> bool:
    """Make this process the reaper of its descendants' orphans (Linux); False where that is unavailable.

    Only for a process that owns its children, such as `mgexec serve` and `mgexec exec`: a sweep
    takes any child mgexec did not start and that is not in this process's session for an orphan
    of a command, so a program embedding mgexec that starts children of its own in new sessions
    must not turn this on (it gets group, session and tree kills, and the guard's cgroup).
    """
    global _subreaper
    if not _subreaper and _LIBC is not None:
        _subreaper = _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


def stop_being_subreaper() -> None:
    """Undo become_subreaper (tests and benchmarks that embed mgexec)."""
    global _subreaper
    if _subreaper and _LIBC is not None:
        _LIBC.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    _subreaper = False


@contextlib.contextmanager
def spawning():
    """Around the start of a child: `with processes.spawning() as own: ...; own(pid)` registers it."""
    global _spawning
    with _lock:
        _spawning += 1
    try:
        yield register
    finally:
        with _lock:
            _spawning -= 1


def register(pid: int) -> None:
    """A child mgexec started itself: never an orphan to sweep."""
    with _lock:
        _own.add(pid)


def release(pid: int) -> None:
    with _lock:
        _own.discard(pid)


def _settled_children(wait: float) -> set[int] | None:
    """Direct children mgexec did not start, once no spawn is under way (None if spawns never settle)."""
    deadline = time.monotonic() + wait
    while True:
        with _lock:
            if _spawning == 0:
                return _children() - _own
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.001)


def _children() -> set[int]:
    """Direct children of this process's main thread: where the kernel re-parents orphans to a subreaper
    (its first live thread), so one small read finds them all; a full scan where /proc lacks the list."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children", "rb") as listing:
            return {int(pid) for pid in listing.read().split()}
    except OSError:
        return {pid for pid, stat in process_table().items() if stat[1] == me}


def adopted_orphans(wait: float = SPAWN_WAIT) -> set[int] | None:
    """Children of this process that it did not start: orphans of ended commands (empty unless subreaper).

    Every command starts in its own session, so an orphan is never in ours; a child of an embedding
    program in our session is left alone. Zombies among them are reaped here, since nothing else will.
    None when a spawn under way kept the answer uncertain for `wait` seconds.
    """
    if not _subreaper:
        return set()
    own_session = os.getsid(0)
    candidates = _settled_children(wait)
    if candidates is None:
        return None
    orphans = set()
    for pid in candidates:
        stat = read_stat(pid)
        if stat is None or stat[1] != os.getpid() or stat[3] == own_session:
            continue
        if stat[0] in ("Z", "X"):
            _reap(pid)
        else:
            orphans.add(pid)
    return orphans


def _reap(pid: int) -> None:
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG)
    except ChildProcessError:
        pass


@dataclass(frozen=True)
class Scope:
    """Whom a kill reaches: processes descended from `roots`, members of `sessions` (as session or group
    ids), and, with `orphans`, what this process adopted from commands that have ended."""

    roots: frozenset[int] = frozenset()
    sessions: frozenset[int] = frozenset()
    orphans: bool = True
    spare: frozenset[int] = frozenset()  # left alone although in scope (a shell's keeper)

    def members(self) -> set[int]:
        extra = (adopted_orphans() or set()) if self.orphans else set()
        table = process_table()
        # An orphan still in another live command's session or group is that command's, left to it;
        # one that also left both (double fork and setsid) cannot be told apart, and goes.
        others = _own_alive(table, self)
        extra = {pid for pid in extra if pid in table and not others & set(table[pid][2:4])}
        found = tree_of(table, self.roots | extra, self.sessions)
        return found - {os.getpid()} - self.spare - others


def _own_alive(table, scope: Scope) -> set[int]:
    # mgexec's own children (other commands, shells, docker clients) are never collateral of a sweep;
    # only this scope's roots among them are in it.
    return {pid for pid in _own if pid in table and pid not in scope.roots and pid not in scope.sessions}


def terminate(collect: Scope | Callable[[], Iterable[int]], sig: int) -> int:
    """Blocking: SIGKILL (frozen first) or another signal to every member of scope; how many were found.

    `collect` is a Scope or a function that lists the members. It reads /proc: from the event loop, call
    `signal_scope` instead.
    """
    members = collect.members if isinstance(collect, Scope) else collect
    if sig == signal.SIGKILL:
        return freeze_and_kill(members)
    found = set(members())
    signal_all(found, sig)
    return len(found)


async def signal_scope(collect: Scope | Callable[[], Iterable[int]], sig: int) -> int:
    """`terminate`, off the event loop: its /proc reads never stall the loop."""
    return await asyncio.to_thread(terminate, collect, sig)


async def escalate(signal_tree: Callable[[int], Awaitable[object]], ended: Callable[[float], Awaitable[bool]],
                   grace: float = KILL_GRACE, *, kill_anyway: bool = False) -> int:
    """The one escalation: SIGTERM through `signal_tree`, up to `grace` seconds for `ended(timeout)`, then
    SIGKILL; with kill_anyway also after a timely end, for what the leader left behind.

    Returns the signal that ended it: SIGTERM when it ended within the grace, else SIGKILL.
    """
    await signal_tree(signal.SIGTERM)
    if await ended(grace):
        if kill_anyway:
            await signal_tree(signal.SIGKILL)
        return signal.SIGTERM
    await signal_tree(signal.SIGKILL)
    return signal.SIGKILL


async def exited_within(pid: int, timeout: float) -> bool:
    """Whether this process's child pid exits within timeout; its zombie is left for its owner to reap."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # reaped already
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)


def anything_left(pgid: int) -> bool:
    """Cheap check after a command's leader has ended: does its group, or an adopted orphan, still live?

    Once the leader is gone, all of its descendants are either still in its group or re-parented to
    this process, so when both are empty no full /proc scan is needed.
    """
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        pass
    except PermissionError:
        return True
    return adopted_orphans(wait=0) != set()  # None (a spawn under way) counts as maybe


def containment() -> tuple[bool, str]:
    """Whether this host can follow a command's escapes, and how, as `mgexec doctor` reports it."""
    if _LIBC is None or not os.path.isdir("/proc/self/task"):
        return False, ("local commands: process groups only (no Linux /proc and subreaper here), so a process "
                       "that calls setsid or setpgid can outlive its command")
    try:
        can = _LIBC.prctl(37, ctypes.byref(ctypes.c_int()), 0, 0, 0) == 0  # PR_GET_CHILD_SUBREAPER
    except (AttributeError, OSError):
        can = False
    if not can:
        return False, "local commands: process groups only (prctl refused), so a setsid child can outlive its command"
    return True, ("local commands and shells: process trees (`mgexec serve` and `mgexec exec` are child "
                  "subreapers, each background shell runs under a subreaper keeper); a kill freezes and SIGKILLs "
                  "the session, group, descendants and adopted orphans")
