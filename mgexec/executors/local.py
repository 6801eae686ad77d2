"""Local mode: commands run on the host under the guard rails (not a security boundary)."""

from __future__ import annotations

import os
import asyncio
from pathlib import Path

from mgexec.command_guard import CommandGuard
from mgexec.environment import command_env, host_line_shell, line_shell_argv
from mgexec.errors import MgexecError, SpawnFailed
from mgexec.executors.base import Executor
from mgexec.policy.paths import fd_path
from mgexec.result import ExecResult, from_process
from mgexec.runner import run_process, spawn_error


class LocalExecutor(Executor):
    """Commands on this host; a guard process kills them if this process dies first (even by SIGKILL)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.command_guard: CommandGuard | None = None

    async def open(self) -> None:
        if self.command_guard is None:
            self.command_guard = await asyncio.to_thread(CommandGuard)

    async def close(self) -> None:
        await super().close()
        if self.command_guard is not None:
            guard, self.command_guard = self.command_guard, None
            guard.close()

    def make_launcher(self):
        from mgexec.shells import LocalLauncher

        return LocalLauncher()

    def open_dir(self, work_dir: Path) -> int | None:
        return self.guard.open_work_dir(work_dir)

    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        guard, pids = self.command_guard, []

        def started(pid: int) -> None:
            pids.append(pid)
            if guard is not None:
                guard.started(pid)

        # The child changes into the very directory that was checked, through the descriptor
        # (chdir happens before the descriptor is closed at exec), never by its name again.
        fd = self.open_dir(work_dir)
        argv = line_shell_argv(command, host_line_shell())
        try:
            out = await run_process(argv, cwd=fd_path(fd), env=command_env(work_dir), timeout=timeout,
                                    output_cap=self.config.max_output_bytes, on_spawn=started)
        except OSError as exc:
            if isinstance(exc, MgexecError):
                raise
            raise SpawnFailed(spawn_error(argv[0], exc)) from exc
        finally:
            os.close(fd)
            if guard is not None and pids:
                guard.ended(pids[0])
        return from_process(out, command, str(work_dir), timeout)
