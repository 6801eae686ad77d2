"""Docker mode: one persistent container per agent (mgexec.deployments.container), each command run in it
through the warm exec channel or, where the image cannot run the channel's helper, its own `docker exec`."""

from __future__ import annotations

import asyncio
import logging

from mgexec import processes
from mgexec.deployments.container import ContainerDeployment
from mgexec.docker.channel import ExecChannel
from mgexec.docker.engine import DockerCLI
from mgexec.errors import ChannelUnavailable, DockerError, MgexecError
from mgexec.executors.base import Executor, ProgressCallback, with_progress
from mgexec.result import ExecResult, rejected
from mgexec.runtimes import Runtime
from mgexec.runtimes.channel import ChannelRuntime
from mgexec.runtimes.docker_exec import DockerExecRuntime

log = logging.getLogger("mgexec.docker")


class DockerExecutor(Executor):
    """Runs commands in the agent's container; creates it on start, removes it on close if it made it.

    Commands go through a warm exec channel (one long-lived `docker exec` to a helper inside the
    container) when the image can run it, else each is its own `docker exec`; results are the same.
    `keep`: a container this executor creates outlives it, as `mgexec up` makes them; its commands then run
    one `docker exec` each with no channel or watchdog, so that nothing of this process is left to close.
    """

    deployment: ContainerDeployment

    def __init__(self, config, *, keep: bool = False, kill_grace: float = processes.KILL_GRACE,
                 warm_channel: bool | None = None, single_command: bool = False) -> None:
        warm_channel = config.docker_warm_channel if warm_channel is None else warm_channel
        super().__init__(config, ContainerDeployment(config, keep=keep, boot_helper=warm_channel),
                         single_command=single_command)
        self.kill_grace = kill_grace
        self.warm_channel = warm_channel
        self._adopting = asyncio.Lock()

    @property
    def cli(self) -> DockerCLI:
        return self.deployment.cli

    @property
    def container(self) -> str:
        return self.deployment.name

    @property
    def owned(self) -> bool:
        """Whether the container goes with this executor (it made it and does not keep it)."""
        return self.deployment.owns

    @property
    def channel(self) -> ExecChannel | None:
        return self.runtime.channel if isinstance(self.runtime, ChannelRuntime) else None

    @property
    def watchdog(self):
        """The DockerLauncher whose watchdog ends per-command `docker exec`s if this process dies first."""
        return self.runtime.watchdog if isinstance(self.runtime, DockerExecRuntime) else None

    async def open(self) -> None:
        self.gate.checker.warm()  # the policy worker starts while the engine makes the container
        await super().open()
        self._take_place_config()

    async def execute(self, command: str, timeout: float | None = None, work_dir: str | None = None,
                      on_progress: ProgressCallback | None = None) -> ExecResult:
        # Preinstall first, then MassGen's container.
        why = await self._wait_prepared(on_progress) or await self._await_massgen(on_progress)
        if why is not None:
            return rejected(command, work_dir or str(self.config.workspace), why)
        return await super().execute(command, timeout, work_dir, on_progress)

    async def start_background(self, command: str, work_dir: str | None = None) -> dict:
        if (why := await self._wait_prepared(None) or await self._await_massgen(None)) is not None:
            raise MgexecError(why)
        return await super().start_background(command, work_dir)

    async def _await_massgen(self, on_progress: ProgressCallback | None) -> str | None:
        """Adopt MassGen's container if it was not there at start; None when commands can run, else why not."""
        if not self.deployment.awaiting_container:
            return None
        async with self._adopting:
            try:
                await with_progress(self.deployment.wait_for_massgen(), on_progress, self.config.progress_interval,
                                    lambda s: f"waiting for MassGen's container, {s:.0f}s")
                if self.runtime is None and self.deployment.running:
                    self.runtime = await self.open_runtime()
            except MgexecError as exc:
                return str(exc)
        self._take_place_config()
        return None

    def _take_place_config(self) -> None:
        """An adopted container's mounts give the workspace and context paths: the gate checks against those."""
        self.config = self.gate.config = self.deployment.config

    async def open_runtime(self) -> Runtime | None:
        if not self.deployment.running:  # MassGen's container is not there yet: the first command waits for it
            return None
        if self.deployment.keep:
            return DockerExecRuntime(self.cli, self.container, self.kill_grace)
        if self.warm_channel:
            try:
                channel = await ExecChannel.open(self.cli, self.container, boot=self.deployment.take_booted())
                return ChannelRuntime(channel, self.kill_grace)
            except ChannelUnavailable as exc:
                log.warning("%s Falling back to one docker exec per command (slower, same results).", exc)
            except DockerError:
                await self.deployment.explain_stop()  # a container that stopped at once: its image's fault, said so
                raise
        return await DockerExecRuntime.start(self.cli, self.container, self.kill_grace, self.deployment.launcher())
