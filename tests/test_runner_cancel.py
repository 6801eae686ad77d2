"""A cancel that comes while asyncio is still connecting a new process's pipes: the caller is answered, and the
command and what it already started end, even a process in a session of its own that holds the pipes."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from mgexec import processes
from mgexec.runner import run_process
from procutil import wait_all_gone, with_token


def children() -> set[str]:
    """This process's children, as the kernel lists them for the loop's thread."""
    return set(Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children").read_text().split())


def cancel_once_started(task: asyncio.Task, before: set[str], token: str) -> None:
    """A loop callback, run every turn until the command has been started (a new child here); then it holds
    the loop until the command has started a process of its own, and cancels the caller. asyncio connects
    the pipes only on later turns, so the cancel comes in the middle of its start."""
    loop = asyncio.get_running_loop()
    if children() <= before:
        loop.call_soon(cancel_once_started, task, before, token)
        return
    deadline = time.monotonic() + 10
    while not with_token(token) and time.monotonic() < deadline:
        time.sleep(0.01)
    task.cancel()


async def test_a_cancel_during_the_start_ends_the_command_and_what_it_started():
    token = f"mgx-start-{os.getpid()}-{time.monotonic_ns()}"
    processes.become_subreaper()  # as `mgexec serve` runs
    try:
        before = children()
        task = asyncio.create_task(run_process(
            ["bash", "-c", f"setsid bash -c 'exec -a {token} sleep 300' & sleep 300"], timeout=60))
        asyncio.get_running_loop().call_soon(cancel_once_started, task, before, token)
        done, _ = await asyncio.wait([task], timeout=20)
        assert done, "the cancelled call never ended: asyncio waited for pipes a started process holds"
        assert task.cancelled()
        assert wait_all_gone(with_token(token), 5) == []
    finally:
        processes.stop_being_subreaper()
