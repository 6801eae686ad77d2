"""The MCP adapter: execution tools on the official SDK's MCPServer, and a lifecycle that leaves nothing behind.

The server owns one executor (and its container, in docker mode). When stdin closes, or on
SIGTERM/SIGINT, it cancels what is running, which kills every process group it started,
closes the executor and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations

from mgexec import __version__
from mgexec.adapters.deferred import DeferredExecutor, StartAfterHandshake
from mgexec.config import ExecConfig
from mgexec.errors import MgexecError
from mgexec.result import ExecResult, encodable, encodable_tree, rejected
from mgexec.shells.results import (
    InputAnswer,
    KillAnswer,
    ListAnswer,
    OutputAnswer,
    ShellError,
    StartAnswer,
    StatusAnswer,
)
from mgexec.adapters.stdio import checked_stdio_server

if TYPE_CHECKING:  # the executor, the policy and the HTTP transport load only when used (see serve_async)
    from mgexec.adapters.http import HttpAccess, HttpOptions, HttpServer
    from mgexec.executors import Executor

log = logging.getLogger("mgexec.adapters.server")
AnswerT = TypeVar("AnswerT", StartAnswer, OutputAnswer, StatusAnswer, KillAnswer, ListAnswer, InputAnswer)

INSTRUCTIONS = """\
Run shell commands for this agent with execute_command. Commands run with bash -c in the \
agent's workspace (or work_dir, which must lie inside the workspace or a context path), with \
stdin closed, and are killed with everything they started when the timeout runs out. Every \
result has success, exit_code, stdout, stderr, execution_time, command, work_dir, timed_out and \
truncated; a refused command has success false, exit_code -1 and the reason in stderr.

For servers, watchers and long jobs use the background shells: start_background_shell returns a \
shell_id; read its output with get_background_shell_output (since_last_read, tail_lines, and \
wait_seconds/wait_for to wait for output or a pattern), answer prompts with \
send_background_shell_input, and stop it with kill_background_shell. A shell runs in a terminal, \
so its stdout and stderr arrive merged in stdout."""


class _Server(MCPServer):
    async def run_stdio_async(self) -> None:
        # The SDK's own method, on a transport that answers the lines the SDK would drop unanswered.
        async with checked_stdio_server() as (read_stream, write_stream):
            await self._lowlevel_server.run(read_stream, write_stream,
                                            self._lowlevel_server.create_initialization_options())


def build_server(executor: Executor, **server_options: Any) -> MCPServer:
    """The tools on an MCPServer; `server_options` go to MCPServer (auth hooks for HTTP)."""
    config = executor.config
    server = _Server("mgexec", version=__version__, instructions=INSTRUCTIONS, **server_options)
    where = {"docker": "inside this agent's Docker container",
             "srt": "on the host inside this agent's bubblewrap sandbox (no network unless allowed)"}.get(config.mode, "on the host")

    @server.tool(
        description=(
            f"Run a shell command {where} and return its result. `timeout` is in seconds "
            f"(default {config.timeout:g}); the whole process tree is killed when it runs out. "
            f"`work_dir` defaults to the workspace {config.workspace}. Output is capped at "
            f"{config.max_output_bytes} bytes per stream. Use background shells for servers and long jobs."
        ),
        annotations=ToolAnnotations(
            title="Execute command",
            read_only_hint=False,
            destructive_hint=True,
            idempotent_hint=False,
            open_world_hint=(config.mode == "local" or (config.mode == "docker" and config.network_mode != "none")
                             or (config.mode == "srt" and config.sandbox.network)),
        ),
    )
    async def execute_command(command: str, ctx: Context, timeout: float | None = None,
                              work_dir: str | None = None) -> ExecResult:
        async def progress(elapsed: float, message: str) -> None:
            await ctx.report_progress(elapsed, None, message)

        try:
            return encodable_tree(await executor.execute(command, timeout=timeout, work_dir=work_dir,
                                                         on_progress=progress))
        except Exception as exc:  # a bug must still answer with a result, not a bare tool error
            log.debug("execute_command failed", exc_info=True)
            return rejected(command, work_dir or str(config.workspace),
                            f"internal error: {type(exc).__name__}: {exc}. mgexec did not run the command; "
                            "please report this.")

    _register_shell_tools(server, executor, where)
    return server


async def _shell_call(answer: type[AnswerT], call: Callable[[], Awaitable[dict]]) -> AnswerT:
    """The tool's result as its model, or MassGen's shape for every refusal and failure: {success: false, error}."""
    try:
        return answer(encodable_tree(await call()))
    except MgexecError as exc:
        return answer(ShellError(error=encodable(str(exc))))
    except Exception as exc:  # a bug (a result that does not fit its model too) must still answer in the tool's shape
        log.debug("background-shell call failed", exc_info=True)
        return answer(ShellError(error=encodable(f"internal error: {type(exc).__name__}: {exc}; please report this.")))


def _register_shell_tools(server: MCPServer, executor: Executor, where: str) -> None:
    shells = executor.config.max_background_shells
    reading = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

    @server.tool(description=(
        f"Start a long-running command {where} in the background (a server, a watcher, a training run) and "
        f"return at once with its shell_id, status, command, pid and work_dir. At most {shells} run at once. "
        "The same checks as execute_command apply."),
        annotations=ToolAnnotations(title="Start background shell", read_only_hint=False, destructive_hint=True,
                                    idempotent_hint=False, open_world_hint=True))
    async def start_background_shell(command: str, work_dir: str | None = None) -> StartAnswer:
        return await _shell_call(StartAnswer, lambda: executor.start_background(command, work_dir))

    @server.tool(description=(
        "Read a background shell's output (stdout and stderr merged, as a terminal shows them; the last 10,000 "
        "lines are kept) with its status and exit_code. since_last_read: only what is new since the last read. "
        "tail_lines: only the last N lines. wait_seconds (at most 60): wait for new output, or with wait_for "
        "(a regex) until it appears; returns early when the shell ends."),
        annotations=reading)
    async def get_background_shell_output(shell_id: str, since_last_read: bool = False, tail_lines: int | None = None,
                                          wait_seconds: float = 0, wait_for: str | None = None) -> OutputAnswer:
        return await _shell_call(OutputAnswer, lambda: executor.shells.output(
            shell_id, since_last_read=since_last_read, tail_lines=tail_lines, wait_seconds=wait_seconds,
            wait_for=wait_for))

    @server.tool(description="A background shell's status (running, stopped, failed, killed), exit_code, pid, "
                             "command, cwd, start_time and duration_seconds.", annotations=reading)
    async def get_background_shell_status(shell_id: str) -> StatusAnswer:
        return await _shell_call(StatusAnswer, lambda: executor.shells.status(shell_id))

    @server.tool(description="Stop a background shell and everything it started (SIGTERM, then SIGKILL after a "
                             "grace period); reports the signal that ended it.",
                 annotations=ToolAnnotations(title="Kill background shell", read_only_hint=False, destructive_hint=True,
                                             idempotent_hint=True, open_world_hint=False))
    async def kill_background_shell(shell_id: str) -> KillAnswer:
        return await _shell_call(KillAnswer, lambda: executor.shells.kill(shell_id))

    @server.tool(description="List this agent's background shells with their status.", annotations=reading)
    async def list_background_shells() -> ListAnswer:
        return await _shell_call(ListAnswer, lambda: executor.shells.list())

    @server.tool(description=(
        "Type text into a running background shell's terminal: answer a prompt, drive a REPL. press_enter (default "
        "true) sends Enter after the text; control sends a control key instead, e.g. 'c' for Ctrl-C, 'd' for "
        "Ctrl-D (end of input)."),
        annotations=ToolAnnotations(title="Send input to background shell", read_only_hint=False,
                                    destructive_hint=True, idempotent_hint=False, open_world_hint=False))
    async def send_background_shell_input(shell_id: str, text: str = "", press_enter: bool = True,
                                          control: str | None = None) -> InputAnswer:
        return await _shell_call(InputAnswer, lambda: executor.shells.send_input(shell_id, text, press_enter=press_enter,
                                                                    control=control))


def server_for(config: ExecConfig, access: HttpAccess | None = None,
               pending: str | None = None) -> tuple[MCPServer, DeferredExecutor]:
    """The server with its tools, and its executor, which is made and opened once the handshake is answered
    (clients time out on a slow one); commands wait for it, and for preinstall, reporting its progress."""
    async def log_progress(elapsed: float, message: str) -> None:
        log.warning("%s", message)

    executor = DeferredExecutor(config, log_progress)
    server = build_server(executor, **(access.server_options() if access else {}))
    server.middleware.append(StartAfterHandshake(executor))
    if access is None and config.mode == "local" and config.workspace_implicit:
        from mgexec.adapters.roots import RootsBinder

        server.middleware.append(RootsBinder(executor, pending))
    return server, executor


async def serve_async(config: ExecConfig, transport: str = "stdio", http: HttpOptions | None = None,
                      pending: str | None = None) -> None:
    """Serve until stdin closes or a signal; `pending` is why the implicit workspace cannot serve (roots may fix it)."""
    access = None
    if transport != "stdio":  # checked before the executor opens, so a refused bind or token creates no container
        from mgexec.adapters.http import HttpAccess, HttpOptions

        access = HttpAccess.prepare(http or HttpOptions())

    server, executor = server_for(config, access, pending)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    http_server = access.http_server(server) if access else None
    serving = asyncio.create_task(http_server.serve() if http_server else server.run_stdio_async())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Kill what runs first: the transport may be stuck in a blocking stdin read we cannot interrupt.
        await asyncio.shield(executor.close())
        stopping.cancel()
    if serving.done():
        serving.result()  # re-raise a transport failure
        return
    log.info("stopping on signal")
    await _stop_transport(serving, http_server)



async def _stop_transport(serving: asyncio.Task, http_server: HttpServer | None) -> None:
    if http_server is not None:
        http_server.request_stop()  # uvicorn's own graceful shutdown: cancelling it mid-flight prints tracebacks
        await asyncio.wait({serving}, timeout=5.0)
    else:
        serving.cancel()
        await asyncio.wait({serving}, timeout=1.0)
    if not serving.done():
        # The stdio reader thread blocks in read(2) until the client writes or closes; nothing is
        # left to clean up, so leave without waiting for it.
        _exit_now(0)


def _exit_now(code: int) -> None:
    for stream in (sys.stderr, sys.stdout):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def serve(config: ExecConfig, transport: str = "stdio", http: HttpOptions | None = None,
          pending: str | None = None) -> None:
    """Blocking entry point for the CLI."""
    # Plain lines on stderr (a client keeps them in its log as they are); configured first, so the SDK's own
    # set-up (a terminal handler that wraps lines at 80 columns) finds logging configured and leaves it.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_async(config, transport, http, pending))
