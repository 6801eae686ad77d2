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

from typing import Any, Awaitable

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations

from mgexec import __version__
from mgexec.config import ExecConfig
from mgexec.errors import MgexecError
from mgexec.executors import Executor, make_executor
from mgexec.result import ExecResult

log = logging.getLogger("mgexec.server")

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


def build_server(executor: Executor) -> MCPServer:
    config = executor.config
    server = MCPServer("mgexec", version=__version__, instructions=INSTRUCTIONS)
    where = "inside this agent's Docker container" if config.mode == "docker" else "on the host"

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
            open_world_hint=config.mode == "local" or config.network_mode != "none",
        ),
    )
    async def execute_command(command: str, ctx: Context, timeout: float | None = None,
                              work_dir: str | None = None) -> ExecResult:
        async def progress(elapsed: float, message: str) -> None:
            await ctx.report_progress(elapsed, None, message)

        return await executor.execute(command, timeout=timeout, work_dir=work_dir, on_progress=progress)

    _register_shell_tools(server, executor, where)
    return server


async def _shell_call(call: Awaitable[dict]) -> dict[str, Any]:
    """MassGen's error shape for every refusal: {success: false, error}."""
    try:
        return await call
    except MgexecError as exc:
        return {"success": False, "error": str(exc)}


def _register_shell_tools(server: MCPServer, executor: Executor, where: str) -> None:
    shells = executor.config.max_background_shells
    reading = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

    @server.tool(description=(
        f"Start a long-running command {where} in the background (a server, a watcher, a training run) and "
        f"return at once with its shell_id, status, command, pid and work_dir. At most {shells} run at once. "
        "The same checks as execute_command apply."),
        annotations=ToolAnnotations(title="Start background shell", read_only_hint=False, destructive_hint=True,
                                    idempotent_hint=False, open_world_hint=True))
    async def start_background_shell(command: str, work_dir: str | None = None) -> dict[str, Any]:
        return await _shell_call(executor.start_background(command, work_dir))

    @server.tool(description=(
        "Read a background shell's output (stdout and stderr merged, as a terminal shows them; the last 10,000 "
        "lines are kept) with its status and exit_code. since_last_read: only what is new since the last read. "
        "tail_lines: only the last N lines. wait_seconds (at most 60): wait for new output, or with wait_for "
        "(a regex) until it appears; returns early when the shell ends."),
        annotations=reading)
    async def get_background_shell_output(shell_id: str, since_last_read: bool = False, tail_lines: int | None = None,
                                          wait_seconds: float = 0, wait_for: str | None = None) -> dict[str, Any]:
        return await _shell_call(executor.shells.output(shell_id, since_last_read=since_last_read, tail_lines=tail_lines,
                                                        wait_seconds=wait_seconds, wait_for=wait_for))

    @server.tool(description="A background shell's status (running, stopped, failed, killed), exit_code, pid, "
                             "command, cwd, start_time and duration_seconds.", annotations=reading)
    async def get_background_shell_status(shell_id: str) -> dict[str, Any]:
        return await _shell_call(executor.shells.status(shell_id))

    @server.tool(description="Stop a background shell and everything it started (SIGTERM, then SIGKILL after a "
                             "grace period); reports the signal that ended it.",
                 annotations=ToolAnnotations(title="Kill background shell", read_only_hint=False, destructive_hint=True,
                                             idempotent_hint=True, open_world_hint=False))
    async def kill_background_shell(shell_id: str) -> dict[str, Any]:
        return await _shell_call(executor.shells.kill(shell_id))

    @server.tool(description="List this agent's background shells with their status.", annotations=reading)
    async def list_background_shells() -> dict[str, Any]:
        return await _shell_call(executor.shells.list())

    @server.tool(description=(
        "Type text into a running background shell's terminal: answer a prompt, drive a REPL. press_enter (default "
        "true) sends Enter after the text; control sends a control key instead, e.g. 'c' for Ctrl-C, 'd' for "
        "Ctrl-D (end of input)."),
        annotations=ToolAnnotations(title="Send input to background shell", read_only_hint=False,
                                    destructive_hint=True, idempotent_hint=False, open_world_hint=False))
    async def send_background_shell_input(shell_id: str, text: str = "", press_enter: bool = True,
                                          control: str | None = None) -> dict[str, Any]:
        return await _shell_call(executor.shells.send_input(shell_id, text, press_enter=press_enter, control=control))


async def serve_async(config: ExecConfig, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8000) -> None:
    executor = make_executor(config)
    await executor.open()

    async def log_progress(elapsed: float, message: str) -> None:
        log.warning("%s", message)

    # Preinstall can take minutes: serve meanwhile (clients time out on a slow handshake);
    # commands wait for it and report its progress.
    executor.prepare_in_background(log_progress)
    server = build_server(executor)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if transport == "stdio":
        serving = asyncio.create_task(server.run_stdio_async())
    else:
        serving = asyncio.create_task(server.run_streamable_http_async(host=host, port=port))
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


def serve(config: ExecConfig, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8000) -> None:
    """Blocking entry point for the CLI."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_async(config, transport, host, port))
