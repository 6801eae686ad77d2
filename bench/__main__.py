"""`python -m bench`: measure mgexec against a bare subprocess, docker exec and docker-py; print or write the report."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import shlex
import sys
import traceback
from pathlib import Path

from bench.agents import bench_agents
from bench.attack import bench_attack
from bench.bg_shells import bench_shells
from bench.cold import bench_cold
from bench.context import BenchContext, Settings
from bench.heavy import bench_concurrency, bench_output, bench_startup
from bench.latency import bench_docker, bench_local
from bench.machine import describe_machine
from bench.massgen import bench_massgen
from bench.mcp_output import bench_mcp_output
from bench.mcp_rtt import bench_mcp
from bench.peers import bench_peers
from bench.report import render
from bench.srt_cli import bench_srt_cli
from bench.sandbox import bench_sandbox
from bench.timing import BenchError, Row

REPO = Path(__file__).resolve().parents[1]

# In report order; `--only` takes a name or the part before its dash (`mcp` selects both MCP groups).
GROUPS = {
    "local": bench_local,
    "docker": bench_docker,
    "mcp-local": functools.partial(bench_mcp, mode="local"),
    "mcp-docker": functools.partial(bench_mcp, mode="docker"),
    "startup": bench_startup,
    "output": bench_output,
    "mcp-output": bench_mcp_output,
    "peers": bench_peers,  # SWE-ReX's image is built on first use; its row says why when it cannot be
    "cold": bench_cold,
    "agents": bench_agents,  # N docker-mode servers at once; every container they made is removed after
    "concurrency": bench_concurrency,
    "shells": bench_shells,
    "attack": bench_attack,
    "srt-cli": bench_srt_cli,  # installs the npm CLI on first use; a skipped row says why when it cannot
    "sandbox": bench_sandbox,
    "massgen": bench_massgen,  # MassGen's own server vs mgexec on its container; skipped without MassGen's venv
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="timed runs per latency measurement (default 200; 20 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller payloads and fewer runs of the slow measurements (a smoke run)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"groups to run, of: {', '.join(GROUPS)}")
    parser.add_argument("--write", metavar="FILE", help="also write the report, with method notes, to FILE")
    args = parser.parse_args(argv)
    if args.n is not None and args.n < 1:
        parser.error("--n must be at least 1")
    try:
        args.groups = select_groups(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def select_groups(only: list[str] | None) -> list[str]:
    if not only:
        return list(GROUPS)
    unknown = [name for name in only if not any(_matches(group, name) for group in GROUPS)]
    if unknown:
        raise ValueError(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)} (or `mcp`)")
    return [group for group in GROUPS if any(_matches(group, name) for name in only)]


def _matches(group: str, name: str) -> bool:
    return group == name or group.split("-")[0] == name


async def run_group(name: str, ctx: BenchContext) -> list[Row]:
    """The group's rows, or one row saying why it could not be measured."""
    print(f"running {name} ...", file=sys.stderr, flush=True)
    try:
        return await GROUPS[name](ctx)
    except BenchError as exc:
        return [Row(name, f"{name} group", error=str(exc))]
    except Exception as exc:  # an engine or SDK failure: report it in the table and keep going
        traceback.print_exc(file=sys.stderr)
        return [Row(name, f"{name} group", error=f"{type(exc).__name__}: {exc}")]


async def run(args: argparse.Namespace) -> int:
    settings = Settings.make(args.n, args.quick)
    machine = await describe_machine(REPO)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ctx = BenchContext(settings)
    rows: list[Row] = []
    try:
        for name in args.groups:
            rows += await run_group(name, ctx)
    finally:
        await ctx.close()
    command = shlex.join(["python", "-m", "bench", *sys.argv[1:]])
    print(render(rows, machine, command, date, settings, with_method=False))
    if args.write:
        Path(args.write).write_text(render(rows, machine, command, date, settings, with_method=True))
        print(f"wrote {args.write}", file=sys.stderr)
    return 1 if any(row.error for row in rows) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
