"""What every executor shares: the command gate (policy + work_dir rules), progress ticks, and the executor
itself, a deployment composed with a runtime."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from mgexec.config import ExecConfig
from mgexec.config.limits import check_timeout
from mgexec.deployments import Deployment
from mgexec.errors import ConfigError, MgexecError, PolicyViolation
from mgexec.policy import CommandPolicy, resolve_work_dir
from mgexec.policy.paths import open_work_dir
from mgexec.policy.checker import InlineChecker, PolicyChecker
from mgexec.policy.inputs import check_command_text
from mgexec.result import ExecResult, from_process, rejected
from mgexec.runtimes import Runtime

ProgressCallback = Callable[[float, str], Awaitable[None]]
PROGRESS_INTERVAL = 5.0
T = TypeVar("T")


class CommandGate:
    """The checks a command passes before anything runs, identical in every mode.

    The policy check runs in worker processes (see policy.checker): the event loop never
    spends time reading a command line, and a line that cannot be judged in time is refused.
    `single_command`: the caller runs one command and exits, so nothing else waits on its loop
    and the line is judged in this process, within the same budget, without starting a worker.
    """

    def __init__(self, config: ExecConfig, *, single_command: bool = False) -> None:
        self.config = config
        self.policy = CommandPolicy(
            allow_patterns=config.allow_patterns,
            deny_patterns=config.deny_patterns,
            enable_sudo=config.enable_sudo,
        )
        self.checker = InlineChecker(self.policy) if single_command else PolicyChecker(self.policy)

    async def approve(self, command: str, work_dir: str | None) -> Path:
        """The resolved work_dir for an allowed command; PolicyViolation otherwise."""
        if not isinstance(command, str) or not command.strip():
            raise PolicyViolation("The command is empty; give a shell command to run.")
        check_command_text(command)
        resolved = resolve_work_dir(work_dir, workspace=self.config.workspace,
                                    allowed_roots=self.config.allowed_roots())
        await self.checker.check(command, work_dir=str(resolved))  # relative paths resolve there
        return resolved

    def open_work_dir(self, resolved: Path) -> int:
        """A descriptor of an approved work_dir, reached without following symlinks (see policy.paths)."""
        return open_work_dir(resolved, workspace=self.config.workspace, allowed_roots=self.config.allowed_roots())

    async def close(self) -> None:
        await self.checker.close()


async def with_progress(work: Awaitable[T], on_progress: ProgressCallback | None,
                        interval: float = PROGRESS_INTERVAL,
                        describe: Callable[[float], str] = lambda s: f"running for {s:.0f}s") -> T:
    """Await `work`, calling on_progress(elapsed, describe(elapsed)) every `interval` seconds meanwhile.

    Clients that reset their request deadline on progress keep waiting for long commands.
    """
    if on_progress is None:
        return await work
    start = time.monotonic()

    async def tick() -> None:
        while True:
            await asyncio.sleep(interval)
            elapsed = time.monotonic() - start
            with contextlib.suppress(Exception):
                await on_progress(elapsed, describe(elapsed))

    ticker = asyncio.create_task(tick())
    try:
        return await work
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


class Executor:
    """Runs commands for one agent: a deployment (where, and that place's life) composed with a runtime (how
    commands run there). Owns whatever it starts, the tasks its commands run in included, and releases it on
    close()."""

    def __init__(self, config: ExecConfig, deployment: Deployment, runtime: Runtime | None = None,
                 *, single_command: bool = False) -> None:
        self.config = config
        self.gate = CommandGate(config, single_command=single_command)
        self.deployment = deployment
        self.runtime = runtime  # None until open() chose one, and again once closed
        self._commands: set[asyncio.Task] = set()  # the tasks commands run in: this executor's own
        self._preparing: asyncio.Task | None = None
        self.preparing_message = ""
        self._shells = None  # the BackgroundShellManager, made on first use

    async def start(self, on_progress: ProgressCallback | None = None) -> None:
        """Everything needed before the first command: open(), then prepare()."""
        try:
            await self.open()
            await self.prepare(on_progress)
        except BaseException:
            await self.gate.close()  # callers do not close an executor that failed to start
            raise

    async def open(self) -> None:
        """The quick part of starting, whose errors should stop a server from starting at all."""
        await self.deployment.open()
        if self.runtime is None:
            try:
                self.runtime = await self.open_runtime()
            except BaseException:
                await self.deployment.close()
                raise

    async def open_runtime(self) -> Runtime:
        """How commands run in the opened deployment."""
        raise NotImplementedError

    async def prepare(self, on_progress: ProgressCallback | None = None) -> None:
        """The slow part of starting (package preinstall); commands wait for it."""
        await self.deployment.prepare(on_progress)

    def prepare_in_background(self, on_progress: ProgressCallback | None = None) -> asyncio.Task:
        """Run prepare() while the caller goes on serving; execute() waits for it, reporting progress, and a
        failure is every command's answer."""
        async def note(elapsed: float, message: str) -> None:
            self.preparing_message = message
            if on_progress is not None:
                await on_progress(elapsed, message)

        self._preparing = asyncio.create_task(self.prepare(note))
        return self._preparing

    async def _wait_prepared(self, on_progress: ProgressCallback | None) -> str | None:
        """None when ready; otherwise why commands cannot run."""
        task = self._preparing
        if task is None:
            return None
        if not task.done():
            await with_progress(asyncio.shield(task), on_progress, self.config.progress_interval,
                                lambda s: f"preparing the environment ({self.preparing_message or 'starting'}), {s:.0f}s")
        if task.cancelled():
            return "The environment was shut down before it was ready."
        exc = task.exception()
        return None if exc is None else str(exc)

    async def close(self) -> None:
        """Stop everything this executor started: background shells, its commands in flight (their tasks are
        cancelled, never their callers'), the runtime, and the place if the deployment made it."""
        if self._shells is not None:
            await self._shells.close()
        await self.cancel_inflight()
        runtime, self.runtime = self.runtime, None
        try:
            if runtime is not None:
                await runtime.close()
        finally:
            try:
                await self.deployment.close()
            finally:
                await self.gate.close()

    def make_launcher(self):
        """Where this executor's background shells run (a shells.Launcher)."""
        return self.deployment.launcher()

    @property
    def shells(self):
        """The background shells of this agent, under the config's limits."""
        if self._shells is None:
            from mgexec.shells import BackgroundShellManager

            self._shells = BackgroundShellManager(self.make_launcher(), max_running=self.config.max_background_shells,
                                                  retention_seconds=self.config.background_retention)
        return self._shells

    async def start_background(self, command: str, work_dir: str | None = None) -> dict:
        """Start a background shell after the same checks as execute(); MgexecError when refused."""
        resolved = await self.gate.approve(command, work_dir)
        if (not_ready := await self._wait_prepared(None)) is not None:
            raise MgexecError(not_ready)
        return await self.shells.start(command, str(resolved), open_dir=lambda: self.open_dir(resolved))

    def open_dir(self, work_dir: Path) -> int | None:
        """A descriptor to start a host process in work_dir, or None where it is not on this host (docker)."""
        return None

    async def cancel_inflight(self, wait: float = 5.0) -> None:
        """Cancel the commands this executor runs (never its callers' tasks) and an unfinished prepare()."""
        tasks = [t for t in self._commands if not t.done()]
        if self._preparing is not None and not self._preparing.done():
            tasks.append(self._preparing)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=wait)

    async def execute(self, command: str, timeout: float | None = None, work_dir: str | None = None,
                      on_progress: ProgressCallback | None = None) -> ExecResult:
        """Every outcome is a result: refusals, bad arguments and failures to start carry their reason."""
        shown_dir = work_dir or str(self.config.workspace)
        try:
            limit = self.config.timeout if timeout is None else check_timeout(timeout)
            resolved = await self.gate.approve(command, work_dir)
        except (ConfigError, PolicyViolation) as exc:  # ConfigError: a timeout out of range, NaN included
            return rejected(command, shown_dir, str(exc))
        if (not_ready := await self._wait_prepared(on_progress)) is not None:
            return rejected(command, shown_dir, not_ready)
        # The command runs in a task of this executor's own, so close() cancels it and never the caller.
        # Awaiting it directly ties the two: a cancelled caller cancels the command and resumes (with
        # CancelledError) only once its clean-up has killed what it started; a command cancelled by close()
        # ends its caller's wait with CancelledError.
        task = asyncio.create_task(self._run(command, resolved, limit))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)
        try:
            return await with_progress(task, on_progress, self.config.progress_interval)
        except MgexecError as exc:  # could not start (a vanished directory, a spawn error), engine failures
            return rejected(command, str(resolved), str(exc))

    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        """Run an approved command in an approved, resolved work_dir."""
        runtime = self.runtime
        if runtime is None:  # closed between the check and the start
            raise MgexecError(self.deployment.not_running())
        out = await runtime.run(command, work_dir=work_dir, timeout=timeout, output_cap=self.config.max_output_bytes)
        return from_process(out, command, str(work_dir), timeout)

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()
