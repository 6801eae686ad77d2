"""The server's executor, made and opened once the MCP handshake is answered: the policy, the runtimes and the
mode's modules (docker, the sandbox) load then, so a client's initialize and tools/list never wait for them."""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import TYPE_CHECKING, Any, Callable

from mgexec.errors import MgexecError
from mgexec.result import ExecResult, rejected

if TYPE_CHECKING:
    from mgexec.config import ExecConfig
    from mgexec.executors import Executor, ProgressCallback

AFTER_LISTING = 0.1  # seconds after tools/list before the start: the answer is written out first
# The executor's module per mode, imported in a thread: the loop goes on answering meanwhile (the GIL is
# handed over every few milliseconds), where an import on the loop would stall it for the whole import.
MODE_MODULES = {"docker": "mgexec.executors.docker", "srt": "mgexec.executors.sandbox",
                "local": "mgexec.executors.local"}
AFTER_HANDSHAKE = 1.0  # a client that never lists tools still gets a warm executor this soon
# A replaced gate's policy workers are stopped this long after: checks begun on it have ended by then
# (policy.checker.CHECK_SECONDS bounds each), and none of its workers outlives it for long.
RETIRE_GATE_AFTER = 5.0


class DeferredExecutor:
    """Stands in for the executor in the tools: each call waits until the executor is open, starting it if
    nothing did yet. A start that failed answers every call with its reason, as a failed preinstall does."""

    def __init__(self, config: ExecConfig, on_setup: ProgressCallback | None = None) -> None:
        self.config = config
        self._on_setup = on_setup
        self._refusal: str | None = None  # set by confine() (MCP roots) before or after the executor exists
        self._executor: Executor | None = None
        self._starting: asyncio.Task | None = None
        self._closed = False  # nothing starts once closing began: what it made would outlive close()
        self._retiring: dict[asyncio.Task, Any] = {}  # replaced gates, closed once their checks are over

    def start(self) -> asyncio.Task:
        """Begin making and opening the executor (once); the task's result is the open executor."""
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._open())
            self._starting.add_done_callback(_say_failure)
        return self._starting

    def start_later(self, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, lambda: self._closed or self.start())

    async def _open(self) -> Executor:
        await asyncio.to_thread(importlib.import_module, MODE_MODULES.get(self.config.mode, "mgexec.executors"))
        from mgexec.executors import make_executor

        executor = self._executor = make_executor(self.config)  # the confined config, if confine() came first
        if self._refusal is not None:
            self._confine_now(executor)
        await executor.open()
        try:
            # Preinstall can take minutes: commands wait for it and report its progress.
            executor.prepare_in_background(self._on_setup)
            executor.gate.checker.warm()  # the first call then finds a policy worker ready
        except BaseException:
            await executor.close()  # close() only closes an executor whose start succeeded
            raise
        return executor

    async def ready(self) -> Executor:
        """The open executor; the MgexecError that stopped it from opening otherwise."""
        if self._closed and self._starting is None:
            raise MgexecError("The server is shutting down; nothing was started for this call.")
        return await asyncio.shield(self.start())

    def confine(self, config: ExecConfig, refusal: str | None = None) -> None:
        """Point the checks at `config`'s workspace and allowed paths (or refuse every command with `refusal`)."""
        self.config, self._refusal = config, refusal
        if self._executor is not None:
            self._confine_now(self._executor)

    def _confine_now(self, executor: Executor) -> None:
        from mgexec.adapters.gates import gate_for

        executor.config = self.config
        replaced, executor.gate = executor.gate, gate_for(self.config, self._refusal)
        task = asyncio.get_running_loop().create_task(_retire(replaced, RETIRE_GATE_AFTER))
        self._retiring[task] = replaced
        task.add_done_callback(lambda done: self._retiring.pop(done, None))

    async def execute(self, command: str, timeout: float | None = None, work_dir: str | None = None,
                      on_progress: ProgressCallback | None = None) -> ExecResult:
        """Every outcome is a result, a failed start included."""
        try:
            executor = await self.ready()
        except MgexecError as exc:
            return rejected(command, work_dir or str(self.config.workspace), str(exc))
        return await executor.execute(command, timeout=timeout, work_dir=work_dir, on_progress=on_progress)

    async def start_background(self, command: str, work_dir: str | None = None) -> dict:
        return await (await self.ready()).start_background(command, work_dir)

    @property
    def shells(self) -> _Forward:
        """The background shells' coroutine methods, each called once the executor is open."""
        return _Forward(self, lambda executor: executor.shells)

    async def close(self) -> None:
        """Release what the start made; a start under way is let finish first, so nothing it made is left behind."""
        self._closed = True
        for task, gate in list(self._retiring.items()):
            task.cancel()
            await _retire(gate, 0)
        if self._starting is None:
            return
        try:
            executor = await asyncio.shield(self._starting)
        except BaseException:  # a failed start released what it made
            return
        await executor.close()


async def _retire(gate: Any, after: float) -> None:
    await asyncio.sleep(after)
    await gate.close()


class StartAfterHandshake:
    """A ServerMiddleware (the SDK's public hook) that starts the executor once the handshake is answered: just
    after the first tools/list (clients list tools right after initializing), at the latest AFTER_HANDSHAKE after
    `initialized`. A tool call that comes first starts it itself."""

    def __init__(self, executor: DeferredExecutor) -> None:
        self.executor = executor

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        answer = await call_next(ctx)
        if ctx.method == "tools/list":
            self.executor.start_later(AFTER_LISTING)
        elif ctx.method == "notifications/initialized":
            self.executor.start_later(AFTER_HANDSHAKE)
        return answer


class _Forward:
    """Coroutine methods of `pick(executor)`, each awaiting the open executor first."""

    def __init__(self, deferred: DeferredExecutor, pick: Callable[[Executor], Any]) -> None:
        self._deferred, self._pick = deferred, pick

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            target = self._pick(await self._deferred.ready())
            return await getattr(target, name)(*args, **kwargs)

        return call


def _say_failure(task: asyncio.Task) -> None:
    """A start that failed is said on stderr at once; the calls that follow answer with it too."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        print(f"mgexec: {exc}" if isinstance(exc, MgexecError) else f"mgexec: the executor did not start: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
