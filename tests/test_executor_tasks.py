"""The executor owns the tasks its commands run in: close() cancels those, never its callers' tasks, and a
cancelled caller cancels its command and waits until what it started is killed."""

from __future__ import annotations

import asyncio
import sys

import pytest

from mgexec.executors import make_executor


async def _pid_of(workspace, name: str = "pid") -> int:
    path = workspace / name
    for _ in range(200):
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        await asyncio.sleep(0.05)
    raise AssertionError("the command did not start")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling() is new in Python 3.11")
async def test_close_cancels_the_command_not_the_caller_s_task(local_config, workspace):
    executor = make_executor(local_config)
    await executor.start()

    async def caller() -> tuple[str, int]:
        try:
            await executor.execute("echo $$ > pid; exec sleep 300")
            outcome = "returned"
        except asyncio.CancelledError:
            outcome = "its command was cancelled"
        await asyncio.sleep(0.05)  # the caller goes on with its own work
        return outcome, asyncio.current_task().cancelling()

    task = asyncio.create_task(caller())
    pid = await _pid_of(workspace)
    await executor.close()
    assert await task == ("its command was cancelled", 0)  # nobody asked the caller's task to stop
    assert not _alive(pid)


async def test_close_from_a_task_that_also_runs_a_command(local_config, workspace):
    # A server that closes its executor from a request's task must not cancel itself half-way through close().
    executor = make_executor(local_config)
    await executor.start()

    async def request_then_close() -> str:
        running = asyncio.ensure_future(executor.execute("echo $$ > pid; exec sleep 300"))
        await _pid_of(workspace)
        await executor.close()
        with pytest.raises(asyncio.CancelledError):
            await running
        return "closed"

    assert await asyncio.wait_for(request_then_close(), 30) == "closed"


async def test_a_cancelled_caller_waits_until_its_command_is_killed(local_config, workspace):
    executor = make_executor(local_config)
    await executor.start()
    try:
        task = asyncio.create_task(executor.execute("echo $$ > pid; exec sleep 300"))
        pid = await _pid_of(workspace)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not _alive(pid)  # already dead when the caller's cancel completed
        result = await executor.execute("echo still serving")
        assert result.stdout == "still serving\n"  # the executor itself goes on
    finally:
        await executor.close()
