"""srt mode per command: mgexec local vs the warm sandbox vs one bwrap per command (vs the `srt` CLI, when installed).

All variants run the same commands in turns in one run, so machine load falls on each alike.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench.context import BenchContext, check_ok
from bench.latency import paired_overhead_ms, run_argv
from bench.timing import BenchError, Row, time_interleaved
from mgexec import processes
from mgexec.executors.sandbox import SandboxExecutor

COMMAND = "true"
CLI_RUNS = 20


async def bench_sandbox(ctx: BenchContext) -> list[Row]:
    local = await ctx.local()
    warm = SandboxExecutor(ctx.config("srt"))
    cold = SandboxExecutor(ctx.config("srt"), warm=False)
    processes.become_subreaper()  # as `mgexec serve` runs
    try:
        await warm.start()
        await cold.start()
        if warm.channel is None:
            raise BenchError(f"the warm sandbox did not start its helper: {warm.path_used}")
        calls = {"local": _execute(local), "warm": _execute(warm), "bwrap": _execute(cold)}
        samples = await time_interleaved(calls, ctx.settings.n, ctx.settings.warmup)
        versus_cli = await _versus_srt_cli(ctx, _execute(warm))
    finally:
        processes.stop_being_subreaper()
        await warm.close()
        await cold.close()
    return _rows(samples) + versus_cli


def _execute(executor):
    async def call() -> None:
        check_ok(await executor.execute(COMMAND))
    return call


async def _versus_srt_cli(ctx: BenchContext, warm) -> list[Row]:
    """The warm sandbox against the `srt` CLI in turns (fewer runs: the CLI takes far longer per call)."""
    binary = await find_srt_cli()
    if binary is None:
        print("sandbox: no `srt` CLI (npm @anthropic-ai/sandbox-runtime) on PATH or in the srt-cli bench's cache, "
              "so the srt.cli row is left out", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory(prefix="mgexec-bench-srt-") as scratch:
        settings = Path(scratch, ".srt-settings.json")
        settings.write_text(json.dumps({"network": {"allowedDomains": [], "deniedDomains": []},
                                        "filesystem": {"denyRead": ["~/.ssh"], "allowWrite": [scratch],
                                                       "denyWrite": []}}))

        async def cli() -> None:
            proc = await asyncio.create_subprocess_exec(binary, "--settings", str(settings), COMMAND, cwd=scratch,
                                                        stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
            if proc.returncode != 0:
                raise BenchError(f"`srt {COMMAND}` exited {proc.returncode}: {err.decode(errors='replace')[:300]}")

        n = min(ctx.settings.n, CLI_RUNS)
        samples = await time_interleaved({"warm": warm, "srt": cli}, n, min(ctx.settings.warmup, 2))
    ratio = statistics.median(samples["srt"]) / statistics.median(samples["warm"])
    return [Row("srt.cli", f"`srt --settings FILE {COMMAND}` (the sandbox-runtime CLI), in turns with srt.warm",
                tuple(samples["srt"]), result=f"warm sandbox {ratio:.0f}× faster (median vs median, {n} runs each)",
                metrics={"ratio": ratio})]


async def find_srt_cli() -> str | None:
    """`srt` on PATH, else the copy the srt-cli bench group installs (when that group is present)."""
    if (binary := shutil.which("srt")) is not None:
        return binary
    try:
        from bench.srt_cli import cache_dir  # the srt-cli group's pinned install, if this tree has it
    except ImportError:
        return None
    binary = cache_dir() / "node_modules" / ".bin" / "srt"
    return str(binary) if binary.exists() else None


def _rows(samples: dict[str, list[float]]) -> list[Row]:
    over_local = paired_overhead_ms(samples["local"], samples["warm"])
    rows = [
        Row("srt.local", f"mgexec local `execute(\"{COMMAND}\")` (same run)", tuple(samples["local"])),
        Row("srt.warm", f"mgexec srt `execute(\"{COMMAND}\")`, warm sandbox", tuple(samples["warm"]),
            result=f"{over_local:+.2f} ms over local (median of paired differences)",
            metrics={"vs_local_ms": over_local}),
        Row("srt.bwrap", f"mgexec srt `execute(\"{COMMAND}\")`, one bwrap per command", tuple(samples["bwrap"])),
    ]
    return rows
