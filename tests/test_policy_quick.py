"""The quick reading of short lines on the caller's loop: the same verdicts as a worker, never a directory
listing, and a worker for everything it cannot finish within its small budget."""

from __future__ import annotations

import ast
import asyncio
import os
from pathlib import Path

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy
from mgexec.policy.checker import PolicyChecker
from mgexec.policy.globnames import ListingNeeded, glob_matches, without_listing
from mgexec.policy.worker import QUICK_MAX_CHARS, quick_verdict, verdict

TESTS = Path(__file__).parent
# The lines here test where a line is judged, not what bash runs: none is added to the differential corpus
# (tests/differential/corpus.py reads module-level tables otherwise; CORPUS is the other tests' strings).
DIFFERENTIAL: list[str] = []
LONG_LINE = "; ".join(f"echo {i} >> out.txt" for i in range(80))
# Lines the quick reading hands on: too long, over its steps or time, or a wildcard command name.
HANDED_ON = {
    "long and allowed": LONG_LINE,
    "long and refused": "echo x; " * 150 + "rm -rf /",
    "wildcard name of rm": "/???/?m -rf /",
    "wildcard name of echo": "ec[h]o hi",
    "wildcard in a nested script": "bash -c 'r? -rf /'",
    "many nested evals": "eval " * 204,
    "many heredocs": "".join(f"sh <<E{k}\n" for k in range(60)) + "ls\n" + "".join(
        f"E{k}\n" for k in reversed(range(60))),
}


def worker_children() -> list[int]:
    """This process's children that are policy workers."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"mgexec.policy.worker" in cmdline:
            found.append(int(entry.name))
    return found


async def outcome(checker: PolicyChecker, line: str) -> dict:
    try:
        await checker.check(line, work_dir="/tmp")
    except PolicyViolation as err:
        return {"refused": str(err)}
    return {"ok": True}


async def test_short_lines_are_judged_without_starting_a_worker():
    checker = PolicyChecker(CommandPolicy())
    checker.warm()
    try:
        for line in ("true", "ls -la | grep x", "cd src && python -m pytest -q 2>&1 | tail -20",
                     "for f in *.py; do wc -l \"$f\"; done", "cat > x.py << 'EOF'\nprint(1)\nEOF"):
            assert await outcome(checker, line) == {"ok": True}, line
        with pytest.raises(PolicyViolation, match="dangerous"):
            await checker.check("rm -rf /", work_dir="/tmp")
        assert checker._all == set() and worker_children() == []
    finally:
        await checker.close()


@pytest.mark.parametrize("line", HANDED_ON.values(), ids=HANDED_ON.keys())
async def test_what_the_quick_reading_cannot_finish_a_worker_judges_with_the_full_budget(line):
    assert quick_verdict(line, CommandPolicy(), work_dir="/tmp") is None
    checker = PolicyChecker(CommandPolicy())
    try:
        assert await outcome(checker, line) == verdict(line, CommandPolicy(), work_dir="/tmp")
        assert checker._all, "a worker judged the line"
    finally:
        await checker.close()


async def test_a_pattern_over_the_whole_file_system_is_listed_by_a_worker_while_the_loop_goes_on():
    checker = PolicyChecker(CommandPolicy(), budget=1.0)
    try:
        assert quick_verdict("/*/*/*/*/*/*/*/* x", CommandPolicy(), work_dir="/tmp") is None
        attack = asyncio.create_task(outcome(checker, "/*/*/*/*/*/*/*/* x"))
        await asyncio.sleep(0.2)
        assert not attack.done() and await outcome(checker, "echo meanwhile") == {"ok": True}
        assert "could not be judged within 1 seconds" in (await attack)["refused"]
    finally:
        await checker.close()


def test_the_quick_reading_never_lists_a_directory():
    with without_listing(), pytest.raises(ListingNeeded):
        glob_matches("/*/*/*/*", path="/usr/bin:/bin", cwd="/", known=frozenset({"rm"}))
    matches, listed = glob_matches("/???/?m", path="/usr/bin:/bin", cwd="/", known=frozenset({"rm"}))
    assert listed and "rm" in matches  # outside the quick reading, listing goes on


def corpus() -> list[str]:
    """Every string of at most QUICK_MAX_CHARS characters written in the policy and hostile-input tests."""
    lines: set[str] = set()
    for path in sorted([*TESTS.glob("test_policy*.py"), *TESTS.glob("test_hostile*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and 0 < len(node.value) <= QUICK_MAX_CHARS:
                lines.add(node.value)
    return sorted(lines)


# Read before any test runs: once a check in this process has hit Python's recursion limit, CPython
# 3.11's `ast.parse` can fail with "AST constructor recursion depth mismatch".
CORPUS = corpus()


@pytest.mark.parametrize("policy", [CommandPolicy(), CommandPolicy(enable_sudo=True)], ids=["default", "sudo"])
def test_the_quick_reading_gives_the_verdict_a_worker_gives_or_none(policy):
    lines = CORPUS
    assert len(lines) > 1000
    differ = [line for line in lines
              if (quick := quick_verdict(line, policy, work_dir="/tmp")) is not None
              and quick != verdict(line, policy, work_dir="/tmp")]
    assert differ == []


async def test_a_policy_with_patterns_judges_every_line_in_a_warm_worker():
    checker = PolicyChecker(CommandPolicy(deny_patterns=("rm .*",)))
    assert not checker.quick
    checker.warm()
    try:
        with pytest.raises(PolicyViolation, match="deny pattern"):
            await checker.check("ls; rm y")
        await checker.check("true")
        assert checker._all and worker_children()
    finally:
        await checker.close()


async def test_a_closed_checker_refuses_short_lines_too():
    checker = PolicyChecker(CommandPolicy())
    await checker.check("true")
    await checker.close()
    with pytest.raises(PolicyViolation, match="shutting down"):
        await checker.check("true")


async def test_a_local_executor_runs_short_lines_with_no_worker_and_starts_one_for_a_long_line(tmp_path):
    from mgexec.config import ExecConfig
    from mgexec.executors import make_executor

    executor = make_executor(ExecConfig(workspace=tmp_path))
    await executor.start()
    try:
        result = await executor.execute("echo hi && ls")
        assert result.exit_code == 0 and result.stdout.startswith("hi\n")
        assert worker_children() == []
        result = await executor.execute(LONG_LINE)
        assert result.exit_code == 0 and (tmp_path / "out.txt").read_text().split() == [str(i) for i in range(80)]
        assert worker_children()
        refused = await executor.execute("echo x; " * 150 + "rm -rf /")
        assert refused.exit_code == -1 and "dangerous" in refused.stderr
    finally:
        await executor.close()
    assert worker_children() == []
