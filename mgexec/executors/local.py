"""Local mode: commands run on the host under the watchdog rails (not a security boundary)."""

from __future__ import annotations

from pathlib import Path

from mgexec.deployments.host import HostDeployment
from mgexec.executors.base import Executor
from mgexec.local_watchdog import LocalWatchdog
from mgexec.runtimes import Runtime
from mgexec.runtimes.host import SubprocessRuntime


class LocalExecutor(Executor):
    """Commands on this host; a watchdog process kills them if this process dies first (even by SIGKILL).

    Commands may run before start() too (then without the watchdog)."""

    def __init__(self, config, *, single_command: bool = False) -> None:
        super().__init__(config, HostDeployment(), single_command=single_command)
        self.runtime = self._subprocesses()

    async def open_runtime(self) -> Runtime:
        return self._subprocesses()

    def _subprocesses(self) -> SubprocessRuntime:
        return SubprocessRuntime(self.open_dir, lambda: self.deployment.watchdog)

    @property
    def watchdog(self) -> LocalWatchdog | None:
        return self.deployment.watchdog

    def open_dir(self, work_dir: Path) -> int | None:
        return self.gate.open_work_dir(work_dir)
