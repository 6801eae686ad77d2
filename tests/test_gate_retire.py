"""A gate replaced by MCP roots stops its policy workers once the checks begun on it are over, or at close."""

from __future__ import annotations

import asyncio

import pytest

from mgexec.adapters import deferred
from mgexec.adapters.deferred import DeferredExecutor
from mgexec.config import ExecConfig
from procutil import pid_alive, wait_all_gone


def worker_pids(gate) -> list[int]:
    return [worker.child.pid for worker in gate.checker._all]


async def gone(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive after `seconds`, waiting on the loop (the retirement runs on it)."""
    for _ in range(int(seconds / 0.05)):
        if not [pid for pid in pids if pid_alive(pid)]:
            break
        await asyncio.sleep(0.05)
    return [pid for pid in pids if pid_alive(pid)]


async def warm_gate(executor: DeferredExecutor):
    """The open executor's gate, with a worker started (a policy with patterns judges every line in one)."""
    opened = await executor.ready()
    await opened.execute("true")
    assert worker_pids(opened.gate)
    return opened, opened.gate


@pytest.fixture
def configs(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    return (ExecConfig(workspace=first, deny_patterns=("rm .*",)),
            ExecConfig(workspace=second, deny_patterns=("rm .*",)))


async def test_a_replaced_gates_workers_stop_after_its_checks(configs, monkeypatch):
    monkeypatch.setattr(deferred, "RETIRE_GATE_AFTER", 0.3)
    executor = DeferredExecutor(configs[0])
    try:
        opened, old = await warm_gate(executor)
        pids = worker_pids(old)
        executor.confine(configs[1])
        assert opened.gate is not old
        result = await executor.execute("pwd")
        assert result.stdout == f"{configs[1].workspace}\n"
        assert await gone(pids, 5) == []
        assert (await executor.execute("rm x")).exit_code == -1  # the new gate judges with the same patterns
    finally:
        await executor.close()


async def test_close_stops_a_replaced_gates_workers_at_once(configs):
    executor = DeferredExecutor(configs[0])
    _, old = await warm_gate(executor)
    pids = worker_pids(old)
    executor.confine(configs[1])  # retired after RETIRE_GATE_AFTER (5 s): close() does not wait for it
    await executor.close()
    assert wait_all_gone(pids, 1) == []
