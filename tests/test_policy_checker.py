"""The policy check off the event loop: worker processes, the wall-clock budget, memory limit, clean close."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy
from mgexec.policy.checker import PolicyChecker
from mgexec.policy.worker import MEMORY_LIMIT
from procutil import wait_all_gone

# The parser refuses a brace bomb at once; the longest line of `a;` takes it about 2 s of CPU,
# over this test's 1 s outer bound.
EXPLODING = "a;" * 65535


def worker_pids(checker: PolicyChecker) -> list[int]:
    return [worker.child.pid for worker in checker._all]


def address_limit(pid: int) -> str:
    limits = Path(f"/proc/{pid}/limits").read_text()
    return next(line for line in limits.splitlines() if line.startswith("Max address space")).split()[3]


async def test_judges_like_the_policy_and_refuses_with_its_reason():
    checker = PolicyChecker(CommandPolicy(deny_patterns=("rm .*",)))
    try:
        await checker.check("ls -la | grep x")
        with pytest.raises(PolicyViolation, match="deny pattern `rm .\\*`"):
            await checker.check("ls; rm y")
        with pytest.raises(PolicyViolation, match="dangerous"):
            await checker.check("rm -rf /")
    finally:
        await checker.close()


async def test_a_check_over_budget_is_refused_its_worker_killed_and_others_go_on():
    checker = PolicyChecker(CommandPolicy(), budget=1.0)
    try:
        await checker.check("true")
        attack = asyncio.create_task(checker.check(EXPLODING))
        await asyncio.sleep(0.2)
        busy = set(worker_pids(checker))
        start = time.monotonic()
        await checker.check("echo meanwhile")  # judged by another worker at once
        assert time.monotonic() - start < 0.5
        with pytest.raises(PolicyViolation, match="could not be judged within 1 seconds"):
            await attack
        gone = busy - set(worker_pids(checker))
        assert gone and wait_all_gone(list(gone), 5) == []
        await checker.check("echo after")
    finally:
        await checker.close()


async def test_workers_have_a_memory_limit_and_close_kills_them():
    checker = PolicyChecker(CommandPolicy())
    await checker.check("true")
    pids = worker_pids(checker)
    try:
        for pid in pids:  # a spare may still be starting: it sets its limit before it reads a line
            for _ in range(100):
                if address_limit(pid) == str(MEMORY_LIMIT):
                    break
                await asyncio.sleep(0.05)
            assert address_limit(pid) == str(MEMORY_LIMIT)
    finally:
        await checker.close()
    assert pids and wait_all_gone(pids, 5) == []
    with pytest.raises(PolicyViolation):
        await checker.check("true")


async def test_a_worker_that_cannot_start_is_named_in_the_refusal(monkeypatch):
    monkeypatch.setattr("mgexec.policy.checker.WORKER_ARGV", ("/nonexistent/python",))
    checker = PolicyChecker(CommandPolicy(), budget=0.5)
    try:
        with pytest.raises(PolicyViolation, match="could not start a process to judge"):
            await checker.check("true")
    finally:
        await checker.close()
