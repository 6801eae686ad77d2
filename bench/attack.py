"""Responsiveness under attack: `echo` round trips through an MCP server while the slowest line to
judge is being judged, next to the same round trips on a quiet server."""

from __future__ import annotations

import asyncio
import sys

from bench.context import BenchContext, agent_id
from bench.mcp_rtt import server_env, write_config
from bench.timing import BenchError, Row, timed

# The slowest kind of line to judge that fits in one argument: 64,000 commands, about 2 s of CPU
# (a brace bomb is refused at once, so it no longer keeps a worker busy). Behind `false &&`
# none of them runs; on a slower machine the check may end at its budget instead.
ATTACK = "false && { " + "a;" * 64000 + " }"


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
        Row("attack.echo", "MCP `echo` round trip while the slowest line to judge is judged", tuple(attacked),
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
        outcome = (await attack).structured_content
        judged = outcome["exit_code"] == 1 and not outcome["stdout"]  # judged, then skipped by `false &&`
        if not judged and (outcome["exit_code"] != -1 or "could not be judged" not in outcome["stderr"]):
            raise BenchError(f"the attack line neither ran as judged nor hit the budget: {outcome['stderr'][:200]!r}")
    return samples


def _echo(session):
    async def call() -> None:
        data = (await session.call_tool("execute_command", {"command": "echo ping"})).structured_content
        if not data or data["stdout"] != "ping\n":
            raise BenchError(f"`echo ping` failed: {data!r:.300}")
    return call
