"""MCP round trip: `execute_command` `true` through the official SDK's stdio client to `mgexec serve`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bench.context import BenchContext, agent_id, check_ok
from bench.latency import paired_overhead_ms
from bench.timing import BenchError, Row, time_interleaved
from mgexec.docker.engine import resolve_binary

REPO = Path(__file__).resolve().parents[1]


def write_config(ctx: BenchContext, mode: str, agent: str, **backend: object) -> Path:
    """A MassGen-shaped config for one agent (extra `backend` keys as given), next to (not inside) the workspace."""
    path = ctx.workspace.parent / f"{ctx.workspace.name}-{agent}.yaml"
    extra = "".join(f"    {key}: {value}\n" for key, value in backend.items())
    path.write_text(f"agent:\n  id: {agent}\n  backend:\n    cwd: {ctx.workspace}\n"
                    f"    command_line_execution_mode: {mode}\n{extra}")
    return path


def server_env() -> dict[str, str]:
    # The server runs from this checkout (`python -m mgexec`), installed or not.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


async def bench_mcp(ctx: BenchContext, mode: str) -> list[Row]:
    """Round trips through a server, interleaved with direct `execute` calls on this process's executor.

    The paired difference is what the protocol costs, free of the load other groups put on the engine.
    """
    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    direct = await (ctx.docker() if mode == "docker" else ctx.local())
    agent = agent_id()
    config = write_config(ctx, mode, agent)
    params = StdioServerParameters(command=sys.executable, args=["-m", "mgexec", "serve", "--config", str(config)],
                                   cwd=str(ctx.workspace), env=server_env())
    try:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                calls = {"mcp": round_trip(session), "direct": lambda: direct_call(direct)}
                samples = await time_interleaved(calls, ctx.settings.n, ctx.settings.warmup)
    finally:
        config.unlink(missing_ok=True)
        leftover = await remove_leftover(agent) if mode == "docker" else ""
    if leftover:
        raise BenchError(leftover)
    overhead = paired_overhead_ms(samples["direct"], samples["mcp"])
    label = f"MCP `execute_command` `true` round trip, {mode} mode"
    return [Row(f"mcp.{mode}", label, tuple(samples["mcp"]), metrics={"overhead_ms": overhead},
                result=f"stdio, official SDK client; {overhead:+.2f} ms over a direct `execute` (paired)")]


def round_trip(session):
    async def call() -> None:
        result = await session.call_tool("execute_command", {"command": "true"})
        data = result.structured_content or {}
        if result.is_error or not data.get("success"):
            raise BenchError(f"execute_command failed over MCP: {data or result.content}")

    return call


async def direct_call(executor) -> None:
    check_ok(await executor.execute("true"))


async def remove_leftover(agent: str) -> str:
    """The server removes its container when stdin closes; if one is left, remove it and say so."""
    name = f"massgen-{agent}"
    found = await _docker("ps", "-aq", "--filter", f"name=^{name}$")
    if not found.strip():
        return ""
    await _docker("rm", "-f", name)
    return f"the MCP server left its container {name} behind after its stdin closed (removed now)"


async def _docker(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(resolve_binary(None, os.environ), *args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode(errors="replace")
