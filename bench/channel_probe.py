"""Round-trip time of `true` through the warm exec channel versus a fresh `docker exec` each time.

Usage: PYTHONPATH=. .venv/bin/python bench/channel_probe.py [--runs N] [--image IMAGE] [--container NAME]
Without --container it starts a throwaway container (`--network none`) and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
import uuid

from mgexec.docker.channel import ExecChannel
from mgexec.docker.engine import DockerCLI, resolve_binary
from mgexec.runner import run_process


async def time_calls(runs: int, call) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(label: str, times: list[float]) -> str:
    cuts = statistics.quantiles(times, n=10)
    return (f"{label:<28} median {statistics.median(times):7.2f} ms   p10 {cuts[0]:7.2f}   "
            f"p90 {cuts[-1]:7.2f}   ({len(times)} runs)")


async def probe(container: str, runs: int) -> None:
    cli = DockerCLI(resolve_binary(None, os.environ))
    channel = await ExecChannel.open(cli, container)
    try:
        await channel.run("true", work_dir="/", timeout=30, output_cap=1000)  # warm-up
        chan = await time_calls(runs, lambda: channel.run("true", work_dir="/", timeout=30, output_cap=1000))
    finally:
        await channel.close()
    argv = cli.argv(["exec", container, "true"])
    fresh = await time_calls(runs, lambda: run_process(argv, timeout=30))
    print(summary("channel: true", chan))
    print(summary("docker exec CONTAINER true", fresh))
    print(f"speed-up: {statistics.median(fresh) / statistics.median(chan):.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--image", default="massgen/mcp-runtime:latest")
    parser.add_argument("--container", help="an existing running container to probe")
    args = parser.parse_args()
    name = args.container or f"mgexec-probe-{uuid.uuid4().hex[:8]}"
    docker = resolve_binary(None, os.environ)
    if not args.container:
        subprocess.run([docker, "run", "-d", "--rm", "--init", "--name", name, "--network", "none", args.image],
                       check=True, capture_output=True)
    try:
        asyncio.run(probe(name, args.runs))
    finally:
        if not args.container:
            subprocess.run([docker, "rm", "-f", name], capture_output=True)


if __name__ == "__main__":
    main()
