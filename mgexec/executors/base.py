"""What every executor shares: the guard (policy + work_dir rules), progress ticks, the interface."""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Awaitable, Callable, TypeVar

from mgexec.config import ExecConfig
from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy, check_command, resolve_work_dir
from mgexec.result import ExecResult, rejected

ProgressCallback = Callable[[float, str], Awaitable[None]]
PROGRESS_INTERVAL = 5.0
T = TypeVar("T")


class Guard:
    """The checks a command passes before anything runs, identical in every mode."""

    def __init__(self, config: ExecConfig) -> None:
        self.config = config
        self.policy = CommandPolicy(
            allow_patterns=config.allow_patterns,
            deny_patterns=config.deny_patterns,
            enable_sudo=config.enable_sudo,
        )

    def approve(self, command: str, work_dir: str | None) -> Path:
        """The resolved work_dir for an allowed command; PolicyViolation otherwise."""
        if not command or not command.strip():
            raise PolicyViolation("The command is empty; give a shell command to run.")
        check_command(command, self.policy)
        return resolve_work_dir(work_dir, workspace=self.config.workspace,
                                allowed_roots=self.config.allowed_roots())


async def with_progress(work: Awaitable[T], on_progress: ProgressCallback | None,
                        interval: float = PROGRESS_INTERVAL) -> T:
    """Await `work`, calling on_progress(elapsed, message) every `interval` seconds meanwhile.

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
                await on_progress(elapsed, f"running for {elapsed:.0f}s")

    ticker = asyncio.create_task(tick())
    try:
        return await work
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


class Executor(ABC):
    """Runs commands for one agent; owns whatever it starts and releases it on close()."""

    def __init__(self, config: ExecConfig) -> None:
        self.config = config
        self.guard = Guard(config)
        self._inflight: set[asyncio.Task] = set()

    async def start(self, on_progress: ProgressCallback | None = None) -> None:
        """Prepare to run commands (a container, for docker mode)."""

    async def close(self) -> None:
        """Stop everything this executor started: commands in flight are cancelled, which kills their trees."""
        await self.cancel_inflight()

    async def cancel_inflight(self, wait: float = 5.0) -> None:
        tasks = [t for t in self._inflight if not t.done() and t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=wait)

    async def execute(self, command: str, timeout: float | None = None, work_dir: str | None = None,
                      on_progress: ProgressCallback | None = None) -> ExecResult:
        shown_dir = work_dir or str(self.config.workspace)
        try:
            resolved = self.guard.approve(command, work_dir)
        except PolicyViolation as exc:
            return rejected(command, shown_dir, str(exc))
        limit = self.config.timeout if timeout is None else float(timeout)
        if limit <= 0:
            return rejected(command, shown_dir, f"timeout must be a positive number of seconds, got {timeout!r}.")
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            return await with_progress(self._run(command, resolved, limit), on_progress, self.config.progress_interval)
        finally:
            self._inflight.discard(task)

    @abstractmethod
    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        """Run an approved command in an approved, resolved work_dir."""

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()
