"""Local mode: commands run on the host under the guard rails (not a security boundary)."""

from __future__ import annotations

from pathlib import Path

from mgexec.environment import command_env, host_line_shell, line_shell_argv
from mgexec.executors.base import Executor
from mgexec.result import ExecResult, from_process
from mgexec.runner import run_process


class LocalExecutor(Executor):
    def make_launcher(self):
        from mgexec.shells import LocalLauncher

        return LocalLauncher()

    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        out = await run_process(
            line_shell_argv(command, host_line_shell()),
            cwd=str(work_dir),
            env=command_env(work_dir),
            timeout=timeout,
            output_cap=self.config.max_output_bytes,
        )
        return from_process(out, command, str(work_dir), timeout)
