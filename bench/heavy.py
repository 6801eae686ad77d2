"""Docker-mode costs beyond one small command: container start, large output, many commands at once."""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.context import BenchContext, check_ok
from bench.latency import DockerPy, run_argv
from bench.timing import BenchError, Row, mb_per_s, time_interleaved

CONCURRENT_COMMAND = "sleep 0.1; echo $$"  # dash has no $RANDOM; the pid also proves each call had its own process


async def bench_startup(ctx: BenchContext) -> list[Row]:
    """Fresh agent id each time: `docker run`, image checks, the channel's handshake, then `true`."""
    first, close = [], []
    for _ in range(ctx.settings.startup_runs):
        from mgexec.executors.docker import DockerExecutor

        executor = DockerExecutor(ctx.config(docker_warm_channel=True))
        start = time.perf_counter()
        try:
            await executor.start()
            check_ok(await executor.execute("true"))
            first.append(time.perf_counter() - start)
        finally:
            start = time.perf_counter()
            await executor.close()
            close.append(time.perf_counter() - start)
    return [
        Row("startup.first", "container start to first command (`start()` + `execute(\"true\")`)", tuple(first)),
        Row("startup.close", "`close()`: channel closed, container removed", tuple(close)),
    ]


async def bench_output(ctx: BenchContext) -> list[Row]:
    s = ctx.settings
    warm = await ctx.docker()
    command = f"head -c {s.output_bytes * 3 // 4} /dev/urandom | base64"
    sizes: dict[str, int] = {}
    py = DockerPy.connect(warm.container)
    try:
        calls = output_calls(ctx, warm, command, sizes)
        if py.container is not None:
            calls["py"] = py.call(command, str(ctx.workspace), sizes)
        samples = await time_interleaved(calls, s.output_runs, warmup=1)
    finally:
        py.close()
    if len(set(sizes.values())) > 1:
        raise BenchError(f"the paths read different amounts of output: {sizes}")
    size = sizes["bare"]
    label = f"{size / 1e6:.1f} MB of base64 output"
    path = "socket" if warm.channel is not None and warm.channel.uses_socket else "stdio"  # frames' way out
    rows = [output_row("output.warm", f"{label}: mgexec docker, warm channel ({path})", samples["warm"], size),
            output_row("output.bare", f"{label}: bare `docker exec`", samples["bare"], size)]
    if "py" in samples:
        rows.append(output_row("output.py", f"{label}: docker-py `exec_run`", samples["py"], size))
    else:
        rows.append(Row("output.py", f"{label}: docker-py `exec_run`", error=py.why))
    return rows


def output_row(key: str, label: str, samples: list[float], size: int) -> Row:
    rate = mb_per_s(size, statistics.median(samples))
    return Row(key, label, tuple(samples), result=f"{rate:.0f} MB/s", metrics={"mb_per_s": rate, "bytes": size})


def output_calls(ctx: BenchContext, warm, command: str, sizes: dict[str, int]) -> dict:
    argv = warm.cli.argv(["exec", "-w", str(ctx.workspace), warm.container, "/bin/sh", "-c", command])
    env = warm.cli.client_env()

    async def mgexec_warm() -> None:
        result = check_ok(await warm.execute(command), command)
        if result.truncated:
            raise BenchError("mgexec truncated the output; raise max_output_bytes")
        sizes["warm"] = len(result.stdout.encode())

    async def bare() -> None:
        sizes["bare"] = len(await run_argv(argv, env))

    return {"warm": mgexec_warm, "bare": bare}


async def bench_concurrency(ctx: BenchContext) -> list[Row]:
    s = ctx.settings
    warm = await ctx.docker()
    parallel, sequential, errors = [], [], {"parallel": 0, "sequential": 0}
    for _ in range(s.concurrency_rounds):
        start = time.perf_counter()
        results = await asyncio.gather(*(warm.execute(CONCURRENT_COMMAND) for _ in range(s.concurrent)))
        parallel.append(time.perf_counter() - start)
        errors["parallel"] += count_errors(results)
        start = time.perf_counter()
        results = [await warm.execute(CONCURRENT_COMMAND) for _ in range(s.concurrent)]
        sequential.append(time.perf_counter() - start)
        errors["sequential"] += count_errors(results)
    total = s.concurrent * s.concurrency_rounds
    speedup = statistics.median(sequential) / statistics.median(parallel)
    what = f"{s.concurrent} × `{CONCURRENT_COMMAND}`, docker warm channel"
    return [
        Row("conc.parallel", f"{what}, all at once (wall)", tuple(parallel),
            result=f"{total - errors['parallel']}/{total} ok; {speedup:.1f}× faster than sequential",
            metrics={"errors": errors["parallel"], "speedup": speedup}),
        Row("conc.sequential", f"{what}, one after another (wall)", tuple(sequential),
            result=f"{total - errors['sequential']}/{total} ok", metrics={"errors": errors["sequential"]}),
    ]


def count_errors(results) -> int:
    """Failed calls, plus calls whose output is not their own shell's pid or repeats another's."""
    pids = [r.stdout.strip() for r in results if r.success and r.stdout.strip().isdigit()]
    return len(results) - len(set(pids))
