"""Commands in a container as one `docker exec` each, whose tree dies on timeout or cancel.

Killing the host-side `docker exec` client does not stop the process inside, so every command is started
by a small wrapper that puts it in its own session and records its pid and start time; its end or a
timeout then sweeps its tree inside the container (the scripts are mgexec.inside.pidfile's).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Mapping

from mgexec.docker.argv import ExecSpec, build_exec_argv
from mgexec.docker.engine import DockerCLI
from mgexec.docker.errors import exec_failure
from mgexec.environment import NON_INTERACTIVE_ENV
from mgexec.errors import DockerError, SpawnFailed
from mgexec.inside.pidfile import PIDFILE_DIR, PIDFILE_KILL, PIDFILE_WRAPPER, grace_tenths
from mgexec.inside.sweep import START_TIME_SH, TAG_VARIABLE
from mgexec.runner import ProcessOutput, run_process
from mgexec.runtimes import Runtime

class DockerExecRuntime(Runtime):
    """One `docker exec` per command. `watchdog` (a DockerLauncher) ends this runtime's commands if this
    process dies first, even by SIGKILL: it removes a container its owner made, or in any other sweeps the
    processes carrying its tag and what was orphaned to PID 1 since the runtime started."""

    def __init__(self, cli: DockerCLI, container: str, kill_grace: float, watchdog=None) -> None:
        self.cli = cli
        self.container = container
        self.kill_grace = kill_grace
        self.watchdog = watchdog

    @classmethod
    async def start(cls, cli: DockerCLI, container: str, kill_grace: float, watchdog) -> DockerExecRuntime:
        """The runtime, with `watchdog` told to guard commands started from now on (the container's clock)."""
        runtime = cls(cli, container, kill_grace, watchdog)
        if watchdog is None:
            return runtime
        spec = ExecSpec(container, ("/bin/sh", "-c", START_TIME_SH + "\nstart_of $$"))
        try:
            out = await cli.run(build_exec_argv(spec), timeout=30, check=False)
        except DockerError:
            return runtime
        if out.exit_code == 0 and out.stdout.strip().isdigit():
            watchdog.watch_since(int(out.stdout))
        return runtime

    async def run(self, command: str, *, work_dir: Path, timeout: float, output_cap: int,
                  env: Mapping[str, str] | None = None) -> ProcessOutput:
        pidfile = f"{PIDFILE_DIR}/.mgexec-{uuid.uuid4().hex}.pid"
        tag = {TAG_VARIABLE: self.watchdog.watchdog_tag} if self.watchdog is not None else {}
        spec = ExecSpec(self.container, ("/bin/sh", "-c", PIDFILE_WRAPPER, "mgexec", pidfile, command), workdir=str(work_dir),
                        env={**NON_INTERACTIVE_ENV, **(env or {}), **tag})
        argv = self.cli.argv(build_exec_argv(spec))
        try:
            out = await run_process(argv, env=self.cli.client_env(), timeout=timeout, output_cap=output_cap,
                                    on_timeout=lambda: self._kill_inside(pidfile))
        except OSError as exc:
            raise SpawnFailed(f"Could not start `{self.cli.binary} exec`: {exc}.") from exc
        except asyncio.CancelledError:
            # The host-side client is gone, but that does not stop the command inside the container.
            await asyncio.shield(self._kill_inside(pidfile))
            raise
        failure = None if out.timed_out else exec_failure(argv, out.exit_code, out.stderr, self.container)
        if failure is not None:
            raise failure
        return out

    async def close(self) -> None:
        if self.watchdog is not None:
            watchdog, self.watchdog = self.watchdog, None
            watchdog.release_floor()  # a deliberate end: nothing started since is left to sweep
            watchdog.close()

    async def _kill_inside(self, pidfile: str) -> None:
        spec = ExecSpec(self.container, ("/bin/sh", "-c", PIDFILE_KILL, "mgexec-kill", pidfile,
                                         grace_tenths(self.kill_grace)))
        try:
            await self.cli.run(build_exec_argv(spec), timeout=self.kill_grace + 30, check=False)
        except DockerError:
            pass  # the container is gone or unreachable: nothing left to kill there
