"""Responsiveness under attack: `echo` round trips through an MCP server while a line built to explode
(`true > x` and 26 `{a,b}` groups) is being judged, next to the same round trips on a quiet server."""

from __future__ import annotations

import asyncio
import sys

from bench.context import BenchContext, agent_id
from bench.mcp_rtt import server_env, write_config
from bench.timing import BenchError, Row, timed

# Never runs: the check explodes and is refused at its budget (`false &&` would skip it anyway).
ATTACK = "false && true > x" + "{a,b}" * 26


async def bench_attack(ctx: BenchContext) -> list[Row]:
    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    config = write_config(ctx, "local", agent_id())
    params = StdioServerParameters(command=sys.executable, args=["-m", "mgexec", "serve", "--config", str(config)],
                                   cwd=str(ctx.workspace), env=server_env())
    try:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                quiet = await _echoes(session, ctx.settings.n, ctx.settings.warmup)
                attacked = await _echoes_under_attack(session, ctx.settings.n)
    finally:
        config.unlink(missing_ok=True)
    return [
        Row("attack.quiet", "MCP `echo` round trip, local mode, quiet server", tuple(quiet)),
        Row("attack.echo", "MCP `echo` round trip while a line built to explode is judged", tuple(attacked),
            result="policy check in worker processes, 3 s budget"),
    ]


async def _echoes(session, n: int, warmup: int) -> list[float]:
    call = _echo(session)
    for _ in range(warmup):
        await call()
    return [await timed(call) for _ in range(n)]


async def _echoes_under_attack(session, n: int) -> list[float]:
    """n echoes, each sent while an attack is in flight (a new attack starts when the last is refused)."""
    call, samples = _echo(session), []
    while len(samples) < n:
        attack = asyncio.create_task(session.call_tool("execute_command", {"command": ATTACK}))
        await asyncio.sleep(0.2)  # the attack has reached its worker
        while not attack.done() and len(samples) < n:
            samples.append(await timed(call))
        refused = (await attack).structured_content
        if refused["exit_code"] != -1 or "could not be judged" not in refused["stderr"]:
            raise BenchError(f"the attack line was not refused at the budget: {refused['stderr'][:200]!r}")
    return samples


def _echo(session):
    async def call() -> None:
        data = (await session.call_tool("execute_command", {"command": "echo ping"})).structured_content
        if not data or data["stdout"] != "ping\n":
            raise BenchError(f"`echo ping` failed: {data!r:.300}")
    return call
