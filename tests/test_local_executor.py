"""Local executor against real processes: results, policy before anything runs, work_dir rules, kills."""

from __future__ import annotations

import sys

import pytest

from mgexec.config import ExecConfig
from mgexec.executors.local import LocalExecutor
from procutil import read_pids, wait_all_gone


@pytest.fixture
def executor(local_config):
    return LocalExecutor(local_config)


async def test_result_has_massgen_shape_and_extras(executor, workspace):
    result = await executor.execute("echo out; echo err >&2")
    data = result.model_dump()
    assert set(data) == {"success", "exit_code", "stdout", "stderr", "execution_time", "command", "work_dir",
                         "timed_out", "truncated"}
    assert (result.success, result.exit_code, result.stdout, result.stderr) == (True, 0, "out\n", "err\n")
    assert result.work_dir == str(workspace) and result.command == "echo out; echo err >&2"


async def test_non_zero_exit_is_a_result(executor):
    result = await executor.execute("exit 7")
    assert (result.success, result.exit_code) == (False, 7)


async def test_runs_in_workspace_with_non_interactive_env(executor, workspace):
    result = await executor.execute('pwd; echo "$PAGER $GIT_TERMINAL_PROMPT $DEBIAN_FRONTEND"; cat; echo eof')
    assert result.stdout == f"{workspace}\ncat 0 noninteractive\neof\n"


async def test_venv_in_work_dir_goes_first_on_path(executor, workspace):
    bin_dir = workspace / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    tool = bin_dir / "python"
    tool.write_text("#!/bin/sh\necho venv-python\n")
    tool.chmod(0o755)
    result = await executor.execute("python; echo $VIRTUAL_ENV")
    assert result.stdout == f"venv-python\n{workspace / '.venv'}\n"


async def test_timeout_reports_massgen_message_and_kills_everything(executor, workspace):
    pids = workspace / "pids"
    result = await executor.execute(f"sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; echo started; wait", timeout=1)
    assert result.timed_out and not result.success and result.exit_code == -1
    assert "Command timed out after 1 seconds" in result.stderr
    assert result.stdout == "started\n"
    assert wait_all_gone(read_pids(pids, 2)) == []


async def test_default_timeout_comes_from_config(workspace):
    executor = LocalExecutor(ExecConfig(workspace=workspace, timeout=0.5))
    result = await executor.execute("sleep 5")
    assert result.timed_out and "after 0.5 seconds" in result.stderr


async def test_output_cap_from_config(workspace):
    executor = LocalExecutor(ExecConfig(workspace=workspace, max_output_bytes=2048))
    result = await executor.execute("head -c 100000 /dev/zero | tr '\\0' x")
    assert result.truncated and result.stdout.startswith("x" * 2048) and "truncated 97952 bytes" in result.stdout


async def test_invalid_utf8_never_crashes(executor):
    result = await executor.execute(f"{sys.executable} -c \"import sys; sys.stdout.buffer.write(b'a\\xffb')\"")
    assert result.stdout == "a\ufffdb"


@pytest.mark.parametrize("command", ["rm -rf /", "rm -r -f /", "sudo ls", ":(){ :|:& };:", "ls; chmod 777 x"])
async def test_policy_rejects_before_anything_runs(executor, workspace, command):
    marker = workspace / "ran"
    result = await executor.execute(f"touch {marker}; {command}")
    assert (result.success, result.exit_code) == (False, -1)
    assert result.stderr and not marker.exists()


async def test_allow_and_deny_lists_apply_to_every_simple_command(workspace):
    allow = LocalExecutor(ExecConfig(workspace=workspace, allow_patterns=("echo .*",)))
    assert (await allow.execute("echo a && echo b")).success
    refused = await allow.execute("echo a && touch x")
    assert refused.exit_code == -1 and "touch x" in refused.stderr and not (workspace / "x").exists()
    deny = LocalExecutor(ExecConfig(workspace=workspace, deny_patterns=("touch .*",)))
    refused = await deny.execute("ls; touch y")
    assert refused.exit_code == -1 and not (workspace / "y").exists()


async def test_work_dir_rules(executor, workspace, tmp_path):
    (workspace / "sub").mkdir()
    assert (await executor.execute("pwd", work_dir="sub")).stdout == f"{workspace / 'sub'}\n"
    assert (await executor.execute("pwd", work_dir=str(workspace / "sub"))).success
    outside = await executor.execute("pwd", work_dir=str(tmp_path))
    assert outside.exit_code == -1 and str(tmp_path) in outside.stderr
    (workspace / "escape").symlink_to(tmp_path)
    assert (await executor.execute("pwd", work_dir="escape")).exit_code == -1
    assert (await executor.execute("pwd", work_dir="missing")).exit_code == -1


async def test_context_paths_are_allowed_work_dirs(workspace, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    executor = LocalExecutor(ExecConfig(workspace=workspace, context_paths=[{"path": ctx}]))
    assert (await executor.execute("pwd", work_dir=str(ctx))).stdout == f"{ctx}\n"


async def test_unparseable_line_is_rejected(executor):
    result = await executor.execute("echo 'unclosed")
    assert result.exit_code == -1 and "quote" in result.stderr.lower()


async def test_empty_command_and_bad_timeout(executor):
    assert (await executor.execute("  ")).exit_code == -1
    assert (await executor.execute("true", timeout=0)).exit_code == -1


async def test_progress_is_reported_for_long_commands(workspace):
    executor = LocalExecutor(ExecConfig(workspace=workspace, progress_interval=0.2))
    seen = []

    async def on_progress(elapsed, message):
        seen.append(elapsed)

    assert (await executor.execute("sleep 1", on_progress=on_progress)).success
    assert len(seen) >= 3 and seen == sorted(seen)


async def test_concurrent_commands_do_not_interfere(executor):
    import asyncio

    results = await asyncio.gather(*(executor.execute(f"sleep 0.2; echo {i}") for i in range(10)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(10)]
