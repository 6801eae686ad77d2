"""Process checks for tests: is a PID still a live process (zombies count as gone)?"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_all_gone(pids, seconds: float = 5.0) -> list[int]:
    """The PIDs still alive after waiting up to `seconds` (empty when all are gone)."""
    deadline = time.monotonic() + seconds
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def read_pids(path: Path, expected: int, seconds: float = 20.0) -> list[int]:
    """PIDs a test command wrote one per line, once `expected` of them are there."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            pids = [int(x) for x in path.read_text().split()]
            if len(pids) >= expected:
                return pids
        time.sleep(0.02)
    raise AssertionError(f"only found {path.read_text() if path.exists() else 'no file'} in {path}")


def with_token(token: str) -> list[int]:
    """Live host processes whose command line holds token (zombies count as gone), this one aside."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline and pid_alive(int(name)):
            found.append(int(name))
    return found


def session_table(sid: int) -> dict[int, tuple[int, str]]:
    """{pid: (process group, command name)} of the live processes of session sid on this host."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, ...
        if fields[0] not in ("Z", "X") and int(fields[3]) == sid:
            found[int(name)] = (int(fields[2]), comm)
    return found


def _nested_descendants() -> dict[int, dict[str, str]]:
    """{host pid: /proc status fields} of this process's live descendants in PID namespaces nested in its own."""
    parents, nested = {}, {}
    own = os.readlink("/proc/self/ns/pid")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            inside = os.readlink(f"/proc/{name}/ns/pid") != own
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(name)] = int(fields.get("PPid", "0"))
        if inside and pid_alive(int(name)):
            fields["ns"] = os.readlink(f"/proc/{name}/ns/pid")
            nested[int(name)] = fields
    mine = {}
    for pid, fields in nested.items():
        ancestor = parents.get(pid, 0)
        while ancestor > 1 and ancestor != os.getpid():
            ancestor = parents.get(ancestor, 0)
        if ancestor == os.getpid():
            mine[pid] = fields
    return mine


def _inner(fields: dict[str, str], key: str) -> int:
    return int(fields[key].split()[-1])


def in_nested_namespace(pids) -> list[int]:
    """Of `pids` as seen inside a PID namespace nested in this one (a sandbox this process started), those a
    live descendant of this process still has there."""
    wanted = set(pids)
    return sorted({_inner(f, "NSpid") for f in _nested_descendants().values() if _inner(f, "NSpid") in wanted})


def sandbox_table(pid: int) -> dict[int, tuple[int, str]]:
    """{inner pid: (inner pgid, comm)} of every process in the sandbox (a PID namespace this process started)
    where `pid` is a process's inner pid: a shell's whole sandbox, as its session is on the host."""
    found = _nested_descendants().values()
    spaces = {f["ns"] for f in found if _inner(f, "NSpid") == pid}
    return {_inner(f, "NSpid"): (_inner(f, "NSpgid"), f["Name"].strip()) for f in found if f["ns"] in spaces}


@contextlib.contextmanager
def watched_cmdlines():
    """Every process command line seen on this host while the block runs (for secrets kept out of argv)."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for path in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    seen.append(path.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


async def shell_finished(manager, shell_id: str, seconds: float = 20) -> dict:
    """A background shell's status once it has ended (polls the manager's public API)."""
    deadline = time.monotonic() + seconds
    while (status := await manager.status(shell_id))["status"] == "running":
        assert time.monotonic() < deadline, f"{shell_id} still running after {seconds} s"
        await asyncio.sleep(0.05)
    return status
