"""Large output through MCP: `execute_command` `cat FILE` over the SDK's stdio client vs the library's `execute`.

One `mgexec serve` per mode; its calls take turns with the same command on this process's own executor, so
the ratio is what the protocol (serialisation, validation, stdio) adds to a big result.
"""

from __future__ import annotations

import statistics
import sys

from bench.context import OUTPUT_CAP, BenchContext, agent_id, check_ok
from bench.mcp_linear import LinearClient
from bench.mcp_rtt import remove_leftover, server_env, write_config
from bench.peers import write_payload
from bench.timing import BenchError, Row, mb_per_s, time_interleaved

FULL_SIZES = (1_000_000, 10_000_000)
QUICK_SIZES = (1_000_000,)
LIMITS = {1_000_000: 2.0, 10_000_000: 3.0}  # issue 13: MCP within this many times the library call


def sizes_for(ctx: BenchContext) -> tuple[int, ...]:
    return QUICK_SIZES if ctx.settings.quick else FULL_SIZES


def runs_for(ctx: BenchContext, size: int) -> int:
    return max(2, ctx.settings.output_runs // (2 if size >= 10_000_000 else 1))


async def bench_mcp_output(ctx: BenchContext) -> list[Row]:
    rows: list[Row] = []
    for mode in ("docker", "local"):
        try:
            rows += await _bench_mode(ctx, mode)
        except BenchError as exc:
            rows.append(Row(f"mcpout.{mode}", f"MCP large output, {mode} mode", error=str(exc)))
    return rows


async def _bench_mode(ctx: BenchContext, mode: str) -> list[Row]:
    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    direct = await (ctx.docker() if mode == "docker" else ctx.local())
    agent = agent_id()
    config = write_config(ctx, mode, agent, command_line_max_output_bytes=OUTPUT_CAP)
    # A second server, its own agent, for the client that reads each line once.
    linear_agent = agent_id()
    linear_config = write_config(ctx, mode, linear_agent, command_line_max_output_bytes=OUTPUT_CAP)
    argv = [sys.executable, "-m", "mgexec", "serve", "--config"]
    params = StdioServerParameters(command=argv[0], args=[*argv[1:], str(config)], cwd=str(ctx.workspace),
                                   env=server_env())
    rows: list[Row] = []
    linear = None
    try:
        linear = await LinearClient.start([*argv, str(linear_config)], str(ctx.workspace), server_env())
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for size in sizes_for(ctx):
                    command = f"cat {write_payload(ctx.workspace, size).name}"
                    calls = {"mcp": mcp_call(session, command, size), "library": library_call(direct, command, size),
                             "linear": linear_call(linear, command, size)}
                    samples = await time_interleaved(calls, runs_for(ctx, size), warmup=1)
                    rows += mcp_output_rows(mode, size, samples)
    finally:
        if linear is not None:
            await linear.close()
        config.unlink(missing_ok=True)
        linear_config.unlink(missing_ok=True)
        leftover = ""
        if mode == "docker":
            leftover = " ".join(filter(None, [await remove_leftover(agent), await remove_leftover(linear_agent)]))
    if leftover:
        raise BenchError(leftover)
    return rows


def mcp_call(session, command: str, size: int):
    async def call() -> None:
        result = await session.call_tool("execute_command", {"command": command})
        data = result.structured_content or {}
        if result.is_error or not data.get("success"):
            raise BenchError(f"`{command}` failed over MCP: {str(data or result.content)[:300]}")
        if data.get("truncated") or len(data.get("stdout", "")) != size:
            raise BenchError(f"`{command}` over MCP returned {len(data.get('stdout', ''))} of {size} characters")

    return call


def linear_call(client: LinearClient, command: str, size: int):
    async def call() -> None:
        data = (await client.call_tool("execute_command", {"command": command})).get("structuredContent") or {}
        if not data.get("success") or data.get("truncated") or len(data.get("stdout", "")) != size:
            raise BenchError(f"`{command}` over MCP (line-once client) returned {str(data)[:300]}")

    return call


def library_call(executor, command: str, size: int):
    async def call() -> None:
        result = check_ok(await executor.execute(command), command)
        if result.truncated or len(result.stdout) != size:
            raise BenchError(f"`{command}` through the library returned {len(result.stdout)} of {size} characters")

    return call


def size_key(size: int) -> str:
    return f"{size // 1_000_000}mb"


def mcp_output_rows(mode: str, size: int, samples: dict[str, list[float]]) -> list[Row]:
    mcp, lib = statistics.median(samples["mcp"]), statistics.median(samples["library"])
    ratio = mcp / lib
    what = f"{size / 1e6:.0f} MB `cat`, {mode} mode"
    key = f"mcpout.{mode}.{size_key(size)}"
    return [
        Row(key, f"{what}: MCP `execute_command` (stdio, SDK client)", tuple(samples["mcp"]),
            result=f"{mb_per_s(size, mcp):.0f} MB/s; {ratio:.2f}× the library call (same run)",
            metrics={"ratio": ratio, "bytes": size, "limit": LIMITS.get(size, 0.0)}),
        Row(f"{key}.lib", f"{what}: library `executor.execute`", tuple(samples["library"]),
            result=f"{mb_per_s(size, lib):.0f} MB/s", metrics={"bytes": size}),
    ] + ([Row(f"{key}.linear", f"{what}: MCP `execute_command`, a client reading each line once (bench/mcp_linear.py)",
              tuple(samples["linear"]), result=f"{statistics.median(samples['linear']) / lib:.2f}× the library call: "
              "the server's share; the rest of the SDK client's time is its line reader", metrics={"bytes": size})]
         if "linear" in samples else [])
