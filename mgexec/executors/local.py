"""Local mode: commands run on the host under the guard rails (not a security boundary)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from mgexec.executors.base import Executor
from mgexec.result import ExecResult, from_process
from mgexec.runner import run_process

# Keep tools from waiting for a human: no pager, no credential prompt, no debconf dialog.
NON_INTERACTIVE_ENV = {"PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "DEBIAN_FRONTEND": "noninteractive"}


def command_env(work_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a local command gets: the host's, non-interactive, a work_dir .venv first on PATH."""
    env = dict(os.environ if base is None else base)
    env.update(NON_INTERACTIVE_ENV)
    venv_bin = work_dir / ".venv" / "bin"
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv_bin.parent)
    return env


class LocalExecutor(Executor):
    def make_launcher(self):
        from mgexec.shells import LocalLauncher

        return LocalLauncher()

    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        out = await run_process(
            ["/bin/sh", "-c", command],
            cwd=str(work_dir),
            env=command_env(work_dir),
            timeout=timeout,
            output_cap=self.config.max_output_bytes,
        )
        return from_process(out, command, str(work_dir), timeout)
