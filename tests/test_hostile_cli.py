"""Hostile input through `mgexec exec` and `mgexec config check`: every case ends in time with one clear
paragraph and the documented exit status, never a traceback or an asyncio warning."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from hostile import SLACK
from mgexec.policy.checker import CHECK_SECONDS
from test_server import MGEXEC

START = 5.0  # seconds for the CLI itself to start and stop on a loaded machine


def mgexec(cwd: Path, *args: str | bytes, timeout: float = 60) -> tuple[float, subprocess.CompletedProcess]:
    start = time.monotonic()
    done = subprocess.run([MGEXEC, *args], cwd=cwd, capture_output=True, timeout=timeout)
    return time.monotonic() - start, done


def clean(done: subprocess.CompletedProcess) -> str:
    stderr = done.stderr.decode(errors="replace")
    assert "Traceback" not in stderr and "never retrieved" not in stderr, stderr
    return stderr


@pytest.mark.parametrize("line", ["true > x" + "{a,b}" * 26, "false && echo hi >> x" + "{a,b}" * 26])
def test_a_line_built_to_explode_is_refused_within_the_budget(workspace, line):
    elapsed, done = mgexec(workspace, "exec", "--timeout", "2", "--", line)
    stderr = clean(done)
    assert done.returncode == 126 and "could not be judged" in stderr and elapsed < CHECK_SECONDS + START
    assert list(workspace.iterdir()) == []


@pytest.mark.parametrize("args, fragment", [
    (["exec", "--", "echo", *["x" * 1000] * 140], "MAX_ARG_STRLEN"),
    (["exec", "--workdir", "x" * 100_000, "--", "true"], "PATH_MAX"),
    ([b"exec", b"--", b"echo \xff\xfe"], "not UTF-8 (0xff"),
])
def test_bad_arguments_are_refused_in_one_paragraph(workspace, args, fragment):
    elapsed, done = mgexec(workspace, *args)
    stderr = clean(done)
    assert done.returncode == 126 and fragment in stderr and elapsed < START
    assert stderr.count("\n") <= 2


@pytest.mark.parametrize("timeout", ["1e308", "nan", "-3", "0", "inf"])
def test_bad_timeouts_are_usage_errors(workspace, timeout):
    elapsed, done = mgexec(workspace, "exec", "--timeout", timeout, "--", "true")
    stderr = clean(done)
    assert done.returncode == 2 and "--timeout must be a number of seconds above 0" in stderr and elapsed < START


@pytest.mark.parametrize("line", [
    "setsid sleep 30 & sleep 5",
    "setsid sh -c 'sleep 3; echo x' & exec sleep 10",
    "trap '' TERM; sleep 10",
    "yes | head -c 50000000; sleep 5",
])
def test_timeouts_end_without_asyncio_noise(workspace, line):
    elapsed, done = mgexec(workspace, "exec", "--timeout", "1", "--", line)
    stderr = clean(done)
    assert done.returncode == 124 and "timed out after 1 seconds" in stderr and elapsed < 1 + 2 + 2.5 + START


@pytest.mark.parametrize("key, pattern", [("command_line_blocked_commands", "(a|aa)+$"),
                                          ("command_line_allowed_commands", "(x+x+)+y")])
def test_config_check_and_exec_refuse_a_catastrophic_pattern_naming_it(tmp_path, key, pattern):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"agent:\n  backend:\n    cwd: ws\n    {key}: ['{pattern}']\n")
    for args in (["config", "check", str(cfg)], ["exec", "--config", str(cfg), "--", "true"]):
        elapsed, done = mgexec(tmp_path, *args)
        stderr = clean(done)
        assert done.returncode == 2 and pattern in stderr and "backtracks catastrophically" in stderr, stderr
        assert elapsed < START


def test_ordinary_lines_still_run(workspace):
    elapsed, done = mgexec(workspace, "exec", "--", "echo hello > out; cat out; printf '%s' é")
    assert done.returncode == 0 and done.stdout.decode() == "hello\né"
    assert (workspace / "out").exists() and os.path.getsize(workspace / "out") > 0
    assert elapsed < START + SLACK
