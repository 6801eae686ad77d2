"""Many agents at once: N `mgexec serve` processes in docker mode started together, as a MassGen multi-agent run does.

Each agent has its own id, config, container and SDK stdio client. Measured per N: wall time until every server
answered its first `execute_command("true")`, the idle RSS of each server with its host-side children, and
commands per second while every client sends a burst of `true` at once.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.agents_floor import floor_rows
from bench.cold import remove_agent_containers
from bench.context import BenchContext, agent_id
from bench.mcp_rtt import server_env, write_config
from bench.timing import BenchError, Row

FULL_COUNTS, QUICK_COUNTS = (1, 5, 10), (1, 3)
FULL_BURST, QUICK_BURST = 50, 10  # `true` calls each client sends at once
FULL_ROUNDS, QUICK_ROUNDS = 2, 1


@dataclass
class Agent:
    config: Path
    ready: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    burst_done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


async def call_true(session) -> None:
    result = await session.call_tool("execute_command", {"command": "true"})
    data = result.structured_content or {}
    if result.is_error or not data.get("success"):
        raise BenchError(f"execute_command `true` failed: {str(data or result.content)[:1500]}")


async def run_agent(ctx: BenchContext, agent: Agent, go: asyncio.Event, done: asyncio.Event, burst: int) -> None:
    """One client's life: first command, then (on `go`) a burst of commands, then wait for `done` and hang up."""
    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "mgexec", "serve", "--config", str(agent.config)],
                                   cwd=str(ctx.workspace), env=server_env())
    try:
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await call_true(session)
                agent.ready.set_result(time.perf_counter())
                await go.wait()
                await asyncio.gather(*(call_true(session) for _ in range(burst)))
                agent.burst_done.set_result(time.perf_counter())
                await done.wait()
    except BaseException as exc:
        for future in (agent.ready, agent.burst_done):
            if not future.done():
                future.set_exception(exc if isinstance(exc, Exception) else BenchError("the client was cancelled"))
        raise


async def one_round(ctx: BenchContext, count: int, burst: int) -> dict[str, float]:
    ids = [agent_id() for _ in range(count)]
    agents = [Agent(write_config(ctx, "docker", agent)) for agent in ids]
    go, done = asyncio.Event(), asyncio.Event()
    start, cpu_start = time.perf_counter(), busy_cpu_seconds()
    tasks = [asyncio.create_task(run_agent(ctx, agent, go, done, burst)) for agent in agents]
    try:
        ready = await asyncio.gather(*(agent.ready for agent in agents))
        cpu = busy_cpu_seconds() - cpu_start
        rss = [server_rss_mib(agent.config) for agent in agents]
        burst_start = time.perf_counter()
        go.set()
        ended = await asyncio.gather(*(agent.burst_done for agent in agents))
    except BaseException:
        for task in tasks:  # the others would wait for `go` forever
            task.cancel()
        raise
    finally:
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for agent in agents:
            agent.config.unlink(missing_ok=True)
        left = await remove_agent_containers(ids)
    return {"ready_s": max(ready) - start, "cpu_s": cpu, "rss_mib": statistics.median(rss), "rss_max_mib": max(rss),
            "cmds_per_s": count * burst / (max(ended) - burst_start), "left": left}


async def bench_agents(ctx: BenchContext) -> list[Row]:
    quick = ctx.settings.quick
    counts, burst = (QUICK_COUNTS, QUICK_BURST) if quick else (FULL_COUNTS, FULL_BURST)
    results: dict[int, list[dict[str, float]]] = {count: [] for count in counts}
    errors: dict[int, str] = {}
    for _ in range(QUICK_ROUNDS if quick else FULL_ROUNDS):
        for count in counts:  # the counts take turns, so load drift falls on each alike
            if count in errors:
                continue
            try:
                results[count].append(await one_round(ctx, count, burst))
            except Exception as exc:  # one count failing (a server, a channel) still leaves the others' figures
                errors[count] = describe(exc)
    return agent_rows(results, burst, errors) + await floor_rows(ctx, counts, QUICK_ROUNDS if quick else FULL_ROUNDS)


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (every process: servers, clients, the engine, containers)."""
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in
                                                       Path("/proc/stat").read_text().split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def cpu_floor(cpu_s: float, wall_one: float) -> float:
    """The least wall time the CPU that N starts used allows on this machine's cores, as a multiple of one
    agent's wall time: no schedule of that work on these cores finishes sooner."""
    return cpu_s / (os.cpu_count() or 1) / wall_one


def describe(exc: BaseException) -> str:
    """The first leaf of an exception group (the SDK's task groups wrap what actually failed), as text."""
    while getattr(exc, "exceptions", None):
        exc = exc.exceptions[0]
    return str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"


def agent_rows(results: dict[int, list[dict[str, float]]], burst: int, errors: dict[int, str] | None = None) -> list[Row]:
    errors = errors or {}
    baseline = results.get(min(results), [])
    one = statistics.median(r["ready_s"] for r in baseline) if baseline and min(results) not in errors else None
    rows = []
    for count, rounds in results.items():
        label = f"{count} docker-mode `mgexec serve` started at once → all answered `execute_command(\"true\")` (wall)"
        if count in errors:
            rows.append(Row(f"agents.{count}", label, error=errors[count]))
            continue
        rows.append(agent_row(count, label, rounds, burst, one))
    return rows


def agent_row(count: int, label: str, rounds: list[dict[str, float]], burst: int, one: float | None) -> Row:
    ready = statistics.median(r["ready_s"] for r in rounds)
    metrics = {"agents": count,
               **{k: statistics.median(r[k] for r in rounds) for k in ("rss_mib", "cmds_per_s", "cpu_s")},
               "rss_max_mib": max(r["rss_max_mib"] for r in rounds), "left": sum(r["left"] for r in rounds)}
    vs_one = ""
    if one is not None:
        metrics["vs_one"] = ready / one
        metrics["cpu_floor"] = cpu_floor(metrics["cpu_s"], one)
        vs_one = (f"{metrics['vs_one']:.2f}× one agent; machine CPU until all answered {metrics['cpu_s']:.2f} s "
                  f"({metrics['cpu_s'] / count:.2f} s per agent), on {os.cpu_count()} cores ≥ "
                  f"{metrics['cpu_floor']:.2f}× one agent's wall; ")
    left = f"; {metrics['left']:.0f} container(s) left behind (removed)" if metrics["left"] else ""
    return Row(f"agents.{count}", label, tuple(r["ready_s"] for r in rounds), metrics=metrics,
               result=f"{vs_one}idle RSS/server {metrics['rss_mib']:.0f} MiB (max {metrics['rss_max_mib']:.0f}); "
                      f"{metrics['cmds_per_s']:.0f} cmd/s ({count}×{burst} `true` at once){left}")


def server_rss_mib(config: Path) -> float:
    """VmRSS of the `mgexec serve` process started with this config plus all its descendants on the host, in MiB."""
    parents: dict[int, int] = {}
    server = None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parents[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        if str(config).encode() in cmdline and b"serve" in cmdline:
            server = int(proc.name)
    if server is None:
        raise BenchError(f"no `mgexec serve --config {config}` process found")
    tree, frontier = {server}, [server]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in tree]
        tree.update(frontier)
    return sum(vm_rss_kib(pid) for pid in tree) / 1024


def vm_rss_kib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0
