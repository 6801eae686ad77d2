"""Local mode: commands run on the host under the watchdog rails (not a security boundary)."""

from __future__ import annotations

import os
import asyncio
from pathlib import Path

from mgexec.local_watchdog import LocalWatchdog
from mgexec.environment import command_env, host_line_shell, line_shell_argv
from mgexec.errors import MgexecError, SpawnFailed
from mgexec.executors.base import Executor
from mgexec.policy.paths import fd_path
from mgexec.result import ExecResult, from_process
from mgexec.runner import run_process, spawn_error


class LocalExecutor(Executor):
    """Commands on this host; a watchdog process kills them if this process dies first (even by SIGKILL)."""

    def __init__(self, config, *, single_command: bool = False) -> None:
        super().__init__(config, single_command=single_command)
        self.watchdog: LocalWatchdog | None = None

    async def open(self) -> None:
        if self.watchdog is None:
            self.watchdog = await asyncio.to_thread(LocalWatchdog)

    async def close(self) -> None:
        await super().close()
        if self.watchdog is not None:
            watchdog, self.watchdog = self.watchdog, None
            watchdog.close()

    def make_launcher(self):
        from mgexec.shells import LocalLauncher

        return LocalLauncher()

    def open_dir(self, work_dir: Path) -> int | None:
        return self.gate.open_work_dir(work_dir)

    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        watchdog, pids = self.watchdog, []

        def started(pid: int) -> None:
            pids.append(pid)
            if watchdog is not None:
                watchdog.started(pid)

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
            if watchdog is not None and pids:
                watchdog.ended(pids[0])
        return from_process(out, command, str(work_dir), timeout)
