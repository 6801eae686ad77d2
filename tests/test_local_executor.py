"""Local executor against real processes: context paths, line checks, progress. What every runtime does
(results, kills, caps, environment) is stated once in test_contract_commands.py."""

from __future__ import annotations

import pytest

from mgexec.config import ExecConfig
from mgexec.executors.local import LocalExecutor


@pytest.fixture
def executor(local_config):
    return LocalExecutor(local_config)


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
