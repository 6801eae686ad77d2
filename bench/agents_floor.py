"""The floor under `agents`: N minimal SDK servers (bench/minimal_server.py) started at once until each answered
one tool call. What N Python MCP servers cost this machine before mgexec does anything, so the agents rows'
ratio can be read against what the SDK alone scales to."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from bench.context import BenchContext
from bench.mcp_rtt import server_env
from bench.timing import BenchError, Row


async def minimal_agent(ctx: BenchContext) -> float:
    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "bench.minimal_server"],
                                   cwd=str(ctx.workspace), env=server_env())
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("echo", {"text": "ready"})
            if result.is_error:
                raise BenchError(f"the minimal server's tool failed: {result.content}")
            return time.perf_counter()


async def floor_round(ctx: BenchContext, count: int) -> float:
    start = time.perf_counter()
    answered = await asyncio.gather(*(minimal_agent(ctx) for _ in range(count)))
    return max(answered) - start


async def floor_rows(ctx: BenchContext, counts: tuple[int, ...], rounds: int) -> list[Row]:
    samples: dict[int, list[float]] = {count: [] for count in counts}
    for _ in range(rounds):
        for count in counts:  # in turns, as the agents rows
            samples[count].append(await floor_round(ctx, count))
    one = statistics.median(samples[min(counts)])
    rows = []
    for count in counts:
        ratio = statistics.median(samples[count]) / one
        rows.append(Row(f"agents.minimal.{count}", f"{count} minimal SDK servers (one tool) started at once → all "
                        "answered one tool call (wall): the floor", tuple(samples[count]),
                        result=f"{ratio:.2f}× one server", metrics={"vs_one": ratio, "agents": count}))
    return rows
