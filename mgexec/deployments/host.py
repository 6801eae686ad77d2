"""The host as a place to run commands: nothing to make or remove, only the watchdog that outlives a crash."""

from __future__ import annotations

import asyncio

from mgexec.deployments.base import Deployment
from mgexec.deployments.state import Event, State
from mgexec.local_watchdog import LocalWatchdog


class HostDeployment(Deployment):
    """Commands run on this host (local mode). Opening starts a watchdog process that kills them if this
    process dies first, even by SIGKILL; closing releases it. Commands may run before open() (then unwatched)."""

    where = "The host"

    def __init__(self) -> None:
        super().__init__()
        self.watchdog: LocalWatchdog | None = None

    async def open(self) -> None:
        if self.state is State.ABSENT:
            self.watchdog = await asyncio.to_thread(LocalWatchdog)
            await self._move(Event.CREATE)

    def launcher(self):
        """Background shells on this host."""
        from mgexec.shells import LocalLauncher

        return LocalLauncher()

    async def _take_down(self) -> None:
        if self.watchdog is not None:
            watchdog, self.watchdog = self.watchdog, None
            watchdog.close()
