"""Helpers of the hostile-input suite: an official-client session with the server's pid and stderr, timing."""

from __future__ import annotations

import asyncio
import statistics
import time
from contextlib import asynccontextmanager
from pathlib import Path

from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from test_server import MGEXEC

# Seconds within which an echo is answered while an attack is being handled. A frozen server would answer only
# when the attack's check ends (its 3 s budget); 0.5 s keeps that apart from a machine at load 20, where
# a median of 0.12 s was seen.
ECHO_BOUND = 0.5
SLACK = 1.5  # seconds an attacked call may take beyond its own budget


@asynccontextmanager
async def hostile_session(cwd: Path, *args: str, local: bool = True):
    """(session, server pid, path of the server's stderr) over the official SDK's stdio client.

    The pid is read from a command's parent, so only in local mode (None otherwise).
    """
    errlog_path = cwd.parent / f"server-stderr-{time.monotonic_ns()}.log"
    with open(errlog_path, "w") as errlog:
        params = StdioServerParameters(command=MGEXEC, args=["serve", *args], cwd=str(cwd))
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                pid = await server_pid(session) if local else None
                yield session, pid, errlog_path


async def server_pid(session) -> int:
    result = await session.call_tool("execute_command", {"command": "echo $PPID"})
    return int(result.structured_content["stdout"])


async def timed_call(session, name: str, **arguments) -> tuple[float, object]:
    start = time.monotonic()
    result = await session.call_tool(name, arguments)
    return time.monotonic() - start, result


async def echo_times(session, count: int = 5, gap: float = 0.05) -> list[float]:
    """Round trips of `echo` calls made one after another (while something else is going on)."""
    times = []
    for index in range(count):
        elapsed, result = await timed_call(session, "execute_command", command=f"echo ping{index}")
        assert result.structured_content["stdout"] == f"ping{index}\n", result
        times.append(elapsed)
        await asyncio.sleep(gap)
    return times


def assert_responsive(times: list[float]) -> None:
    assert statistics.median(times) < ECHO_BOUND, f"echo round trips during the attack: {times}"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and its direct children (the server and its policy workers)."""
    total = rss_kib(pid)
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        try:
            total += rss_kib(int(child))
        except OSError:
            pass
    return total


def no_traceback(errlog_path: Path) -> None:
    text = errlog_path.read_text()
    assert "Traceback" not in text and "never retrieved" not in text, text[-3000:]
