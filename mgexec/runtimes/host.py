"""Commands as direct subprocesses of this process, on the host (local mode)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

from mgexec.environment import command_env, host_line_shell, line_shell_argv
from mgexec.errors import MgexecError, SpawnFailed
from mgexec.local_watchdog import LocalWatchdog
from mgexec.policy.paths import fd_path
from mgexec.runner import ProcessOutput, run_process, spawn_error
from mgexec.runtimes import Runtime


class SubprocessRuntime(Runtime):
    """`bash -c LINE` on this host, started in work_dir through a descriptor of it; each command is announced
    to the deployment's watchdog (when there is one) so a crash of this process does not leave it running."""

    def __init__(self, open_dir: Callable[[Path], int], watchdog: Callable[[], LocalWatchdog | None],
                 argv_for: Callable[[str, Path], Sequence[str]] | None = None,
                 base_env: Mapping[str, str] | None = None) -> None:
        self.open_dir = open_dir  # a descriptor of an approved work_dir, reached without following symlinks
        self.watchdog = watchdog
        # The argv that runs a line in a work_dir: `bash -c LINE` here; a sandbox on the host wraps it in its launcher.
        self.argv_for = argv_for or (lambda line, work_dir: line_shell_argv(line, host_line_shell()))
        self.base_env = base_env  # the place's environment (a sandbox's own); this process's when None

    async def run(self, command: str, *, work_dir: Path, timeout: float, output_cap: int,
                  env: Mapping[str, str] | None = None) -> ProcessOutput:
        watchdog, pids = self.watchdog(), []

        def started(pid: int) -> None:
            pids.append(pid)
            if watchdog is not None:
                watchdog.started(pid)

        # The child changes into the very directory that was checked, through the descriptor
        # (chdir happens before the descriptor is closed at exec), never by its name again.
        fd = self.open_dir(work_dir)
        argv = list(self.argv_for(command, work_dir))
        try:
            return await run_process(argv, cwd=fd_path(fd), env={**command_env(work_dir, self.base_env), **(env or {})},
                                     timeout=timeout, output_cap=output_cap, on_spawn=started)
        except OSError as exc:
            if isinstance(exc, MgexecError):
                raise
            raise SpawnFailed(spawn_error(argv[0], exc)) from exc
        finally:
            os.close(fd)
            if watchdog is not None and pids:
                watchdog.ended(pids[0])
