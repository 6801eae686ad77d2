"""Docker mode: one persistent container per agent, each command a fresh `docker exec` whose tree dies on timeout.

Killing the host-side `docker exec` client does not stop the process inside, so without the warm
channel every command is started by a small wrapper that puts it in its own session and records its
pid and start time; its end or a timeout then sweeps its tree inside the container (mgexec.inside).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path

from mgexec import processes
from mgexec.docker.argv import ExecSpec, build_exec_argv, build_image_inspect_argv
from mgexec.docker.channel import ExecChannel
from mgexec.docker.engine import DockerCLI, resolve_binary
from mgexec.docker.container import ContainerManager, Owner, build_spec
from mgexec.docker.credentials import resolve_env
from mgexec.docker.preinstall import preinstall
from mgexec.errors import ChannelLost, ChannelUnavailable, DockerError
from mgexec.executors.base import Executor, ProgressCallback
from mgexec.environment import NON_INTERACTIVE_ENV
from mgexec.inside.channel_helper import CWD_FAILED_PREFIX
from mgexec.inside.pidfile import PIDFILE_DIR, PIDFILE_KILL, PIDFILE_WRAPPER, grace_tenths
from mgexec.inside.sweep import START_TIME_SH, TAG_VARIABLE
from mgexec.result import ExecResult, from_process, rejected
from mgexec.runner import run_process

log = logging.getLogger("mgexec.docker")


class DockerExecutor(Executor):
    """Runs commands in the agent's container; creates it on start, removes it on close if it made it.

    Commands go through a warm exec channel (one long-lived `docker exec` to a helper inside the
    container) when the image can run it, else each is its own `docker exec`; results are the same.
    """

    def __init__(self, config, *, keep: bool = False, kill_grace: float = processes.KILL_GRACE,
                 warm_channel: bool | None = None, single_command: bool = False) -> None:
        super().__init__(config, single_command=single_command)
        self.keep = keep
        self.kill_grace = kill_grace
        self.warm_channel = config.docker_warm_channel if warm_channel is None else warm_channel
        self.channel: ExecChannel | None = None
        self.cli = DockerCLI(resolve_binary(config.docker_binary, os.environ), context=config.docker_context)
        self.manager = ContainerManager(self.cli, config)
        self.owned = False
        self.started = False
        self.fresh = False  # created by this executor (so preinstall is ours to run)
        self.watchdog = None  # a DockerLauncher whose watchdog outlives this process (see _start_watchdog)

    @property
    def container(self) -> str:
        return self.manager.name

    async def open(self) -> None:
        """Create the container (or adopt one kept by `mgexec up`) and check the image."""
        config = self.config
        secrets = resolve_env(config.credentials)
        await self.cli.run(build_image_inspect_argv(config.image, fmt="{{.Id}}", docker=None), timeout=30)
        if await self.manager.claim_name() is not None:
            self.started = True  # a container kept by `mgexec up`: use it, leave it running
        else:
            spec = build_spec(config, secrets, owner=Owner.current(), kept=self.keep)
            await self.manager.create(spec, secrets)
            self.owned = not self.keep
            self.started = self.fresh = True
            await self._or_remove(self.manager.check_image_layout())
        if self.warm_channel and not self.keep:
            await self._open_channel()
        if self.channel is None and not self.keep:
            await self._start_watchdog()

    async def _open_channel(self) -> None:
        try:
            self.channel = await ExecChannel.open(self.cli, self.container)
        except ChannelUnavailable as exc:
            log.warning("%s Falling back to one docker exec per command (slower, same results).", exc)

    async def prepare(self, on_progress: ProgressCallback | None = None) -> None:
        """Package preinstall, in a container this executor just created."""
        pre = self.config.packages.preinstall
        if pre.empty or not self.fresh:
            return

        async def say(message: str) -> None:
            if on_progress:
                await on_progress(0.0, message)

        await self._or_remove(preinstall(self.cli, self.container, pre, say))

    async def _or_remove(self, step) -> None:
        """Run a start-up step; if it fails, the half-made container goes."""
        try:
            await step
        except BaseException:
            await self.manager.remove()
            self.started = self.owned = False
            raise

    def make_launcher(self):
        from mgexec.shells.docker_launcher import DockerLauncher

        return DockerLauncher(cli=self.cli, container=self.container, owns_container=self.owned)

    async def _start_watchdog(self) -> None:
        """Without the warm channel, a watchdog process ends this executor's commands if it dies first (even
        by SIGKILL): it removes an owned container, or in a kept one sweeps the processes carrying its
        tag and what was orphaned to PID 1 since now (the container's clock, read once here)."""
        from mgexec.shells.docker_launcher import DockerLauncher

        self.watchdog = DockerLauncher(cli=self.cli, container=self.container, owns_container=self.owned)
        spec = ExecSpec(self.container, ("/bin/sh", "-c", START_TIME_SH + "\nstart_of $$"))
        try:
            out = await self.cli.run(build_exec_argv(spec, docker=None), timeout=30, check=False)
        except DockerError:
            return
        if out.exit_code == 0 and out.stdout.strip().isdigit():
            self.watchdog.watch_since(int(out.stdout))

    async def close(self) -> None:
        await super().close()
        if self.channel is not None:
            channel, self.channel = self.channel, None
            await channel.close()
        if self.watchdog is not None:
            watchdog, self.watchdog = self.watchdog, None
            watchdog.release_floor()  # a deliberate end: nothing started since is left to sweep
            watchdog.close()
        if self.owned:
            self.owned = self.started = False
            await self.manager.remove()

    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        if not self.started:
            return rejected(command, str(work_dir), "The agent's container is not running: the executor was not started.")
        if self.channel is not None:
            return await self._run_in_channel(command, work_dir, timeout)
        pidfile = f"{PIDFILE_DIR}/.mgexec-{uuid.uuid4().hex}.pid"
        argv = self.cli.argv(build_exec_argv(self._exec_spec(("/bin/sh", "-c", PIDFILE_WRAPPER, "mgexec", pidfile, command),
                                                              work_dir), docker=None))
        try:
            out = await run_process(argv, env=self.cli.client_env(), timeout=timeout,
                                    output_cap=self.config.max_output_bytes,
                                    on_timeout=lambda: self._kill_inside(pidfile))
        except OSError as exc:
            return rejected(command, str(work_dir), f"Could not start `{self.cli.binary} exec`: {exc}.")
        except asyncio.CancelledError:
            # The host-side client is gone, but that does not stop the command inside the container.
            await asyncio.shield(self._kill_inside(pidfile))
            raise
        if not out.timed_out and out.exit_code in (125, 126, 127) and _engine_failed(out.stderr):
            return rejected(command, str(work_dir), f"The container engine could not run the command: {out.stderr.strip()}")
        return from_process(out, command, str(work_dir), timeout)

    async def _run_in_channel(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        try:
            out = await self.channel.run(command, work_dir=str(work_dir), timeout=timeout,
                                         output_cap=self.config.max_output_bytes, kill_grace=self.kill_grace)
        except ChannelLost as exc:
            return rejected(command, str(work_dir), f"{exc} The command may not have finished; run it again.")
        except DockerError as exc:
            return rejected(command, str(work_dir), str(exc))
        if out.exit_code == 126 and out.stderr.startswith(CWD_FAILED_PREFIX):
            return rejected(command, str(work_dir), out.stderr.strip())
        return from_process(out, command, str(work_dir), timeout)

    def _exec_spec(self, argv: tuple[str, ...], work_dir: Path) -> ExecSpec:
        tag = {TAG_VARIABLE: self.watchdog.watchdog_tag} if self.watchdog is not None else {}
        return ExecSpec(self.container, argv, workdir=str(work_dir), env={**NON_INTERACTIVE_ENV, **tag})

    async def _kill_inside(self, pidfile: str) -> None:
        spec = ExecSpec(self.container, ("/bin/sh", "-c", PIDFILE_KILL, "mgexec-kill", pidfile,
                                         grace_tenths(self.kill_grace)))
        try:
            await self.cli.run(build_exec_argv(spec, docker=None), timeout=self.kill_grace + 30, check=False)
        except DockerError:
            pass  # the container is gone or unreachable: nothing left to kill there


def _engine_failed(stderr: str) -> bool:
    """Whether docker itself (not the user's command) reported the failure."""
    text = stderr.lower()
    return any(s in text for s in ("error response from daemon", "no such container", "is not running",
                                   "cannot connect to the docker daemon", "oci runtime exec failed"))
