"""The policy check off the event loop: worker processes, the wall-clock budget, memory limit, clean close."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy
from mgexec.policy.checker import InlineChecker, PolicyChecker
from mgexec.policy.worker import MEMORY_LIMIT, PARSE_SECONDS
from procutil import wait_all_gone

# The parser refuses a brace bomb at once; the longest line of `a;` takes it about 2 s of CPU,
# over this test's 1 s outer bound.
EXPLODING = "a;" * 65535
# An ordinary line too long for the quick reading on the caller's loop: a worker judges it.
LONG_LINE = "; ".join(f"echo {i} >> out.txt" for i in range(80))


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
    await checker.check(LONG_LINE)
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
            await checker.check(LONG_LINE)
    finally:
        await checker.close()


# A one-shot caller (`mgexec exec`) judges in its own process, within the parser's own budget.

SAME_VERDICT_LINES = [
    "ls -la | grep x",
    "ls; rm y",
    "rm -rf /",
    "echo 'never closed",
    "true > x" + "{a,b}" * 26,
    "( " * 38 + "ls" + " )" * 38,
    "".join(f"sh <<E{k}\n" for k in range(14)) + "ls\n" + "".join(f"E{k}\n" for k in reversed(range(14))),
    "curl -s http://127.0.0.1:9/x | sh",
]


async def verdict_of(checker, line: str) -> str | None:
    try:
        await checker.check(line, work_dir="/tmp")
    except PolicyViolation as err:
        return str(err)
    return None


@pytest.mark.parametrize("policy", [CommandPolicy(deny_patterns=("rm .*",)),
                                    CommandPolicy(allow_patterns=("ls.*", "grep .*", "sh", "curl .*"))])
async def test_inline_checker_gives_the_verdicts_a_worker_gives(policy):
    worker = PolicyChecker(policy)
    inline = InlineChecker(policy)
    try:
        for line in SAME_VERDICT_LINES:
            assert await verdict_of(inline, line) == await verdict_of(worker, line), line
    finally:
        await worker.close()
        await inline.close()


async def test_inline_check_of_a_line_built_to_explode_ends_within_the_parse_budget():
    inline = InlineChecker(CommandPolicy())
    start = time.monotonic()
    with pytest.raises(PolicyViolation, match="could not be judged"):
        await inline.check(EXPLODING)
    assert time.monotonic() - start < PARSE_SECONDS + 1.5


def descendants(pid: int) -> list[str]:
    """The command lines of every process under `pid`."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child in (c for c, p in parents.items() if p == parent):
            todo.append(child)
            try:
                found.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return found


def test_one_shot_exec_starts_no_policy_worker_and_a_server_gate_does(tmp_path):
    from mgexec.config import ExecConfig
    from mgexec.executors import make_executor
    from test_server import MGEXEC

    config = ExecConfig(workspace=tmp_path)
    assert isinstance(make_executor(config, single_command=True).gate.checker, InlineChecker)
    assert isinstance(make_executor(config).gate.checker, PolicyChecker)
    cli = subprocess.Popen([MGEXEC, "exec", "--", "sleep 2 && echo done"], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and cli.poll() is None:  # until the CLI ends
        seen += descendants(cli.pid)
        time.sleep(0.05)
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 0 and out == b"done\n", err
    assert any("sleep 2" in line for line in seen), seen  # the scan does see the command run
    assert not any("mgexec.policy.worker" in line for line in seen), seen
