"""One-shot use of an executor, as the CLI's `exec` needs it."""

from __future__ import annotations

from mgexec.config import ExecConfig
from mgexec.executors import ProgressCallback, make_executor
from mgexec.result import ExecResult


async def run_once(config: ExecConfig, command: str, *, timeout: float | None = None,
                   work_dir: str | None = None, on_progress: ProgressCallback | None = None,
                   on_setup: ProgressCallback | None = None) -> ExecResult:
    """Start an executor, run one command, release what was started for it.

    `on_setup` hears about start-up steps (package preinstall), `on_progress` about the command.
    """
    executor = make_executor(config, single_command=True)  # judges the line without a policy worker
    await executor.start(on_setup)
    try:
        return await executor.execute(command, timeout=timeout, work_dir=work_dir, on_progress=on_progress)
    finally:
        await executor.close()
