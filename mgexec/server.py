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

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations

from mgexec import __version__
from mgexec.config import ExecConfig
from mgexec.executors import Executor, make_executor
from mgexec.result import ExecResult

log = logging.getLogger("mgexec.server")

INSTRUCTIONS = """\
Run shell commands for this agent with execute_command. Commands run with /bin/sh -c in the \
agent's workspace (or work_dir, which must lie inside the workspace or a context path), with \
stdin closed, and are killed with everything they started when the timeout runs out. Every \
result has success, exit_code, stdout, stderr, execution_time, command, work_dir, timed_out and \
truncated; a refused command has success false, exit_code -1 and the reason in stderr."""


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

    return server


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
