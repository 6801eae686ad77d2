"""srt mode per command: mgexec local vs the warm sandbox vs one bwrap per command (vs the `srt` CLI, when installed).

All variants run the same commands in turns in one run, so machine load falls on each alike.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys

from bench.context import BenchContext, check_ok
from bench.latency import paired_overhead_ms, run_argv
from bench.timing import BenchError, Row, time_interleaved
from mgexec import processes
from mgexec.sandbox.executor import SandboxExecutor

COMMAND = "true"


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
        if (srt := srt_cli_call(ctx)) is not None:
            calls["srt"] = srt
        samples = await time_interleaved(calls, ctx.settings.n, ctx.settings.warmup)
    finally:
        processes.stop_being_subreaper()
        await warm.close()
        await cold.close()
    return _rows(samples)


def _execute(executor):
    async def call() -> None:
        check_ok(await executor.execute(COMMAND))
    return call


def srt_cli_call(ctx: BenchContext):
    """The hook for Anthropic's `srt` CLI (npm @anthropic-ai/sandbox-runtime): a call, or None when absent."""
    binary = shutil.which("srt")
    if binary is None:
        return None
    settings = ctx.workspace / "srt-settings.json"
    settings.write_text(json.dumps({"network": {"allowedDomains": [], "deniedDomains": []},
                                    "filesystem": {"denyRead": ["~/.ssh"], "allowWrite": [str(ctx.workspace)],
                                                   "denyWrite": []}}))

    async def call() -> None:
        await run_argv([binary, "--settings", str(settings), COMMAND])
    return call


def _rows(samples: dict[str, list[float]]) -> list[Row]:
    warm_ms = statistics.median(samples["warm"]) * 1000
    over_local = paired_overhead_ms(samples["local"], samples["warm"])
    rows = [
        Row("srt.local", f"mgexec local `execute(\"{COMMAND}\")` (same run)", tuple(samples["local"])),
        Row("srt.warm", f"mgexec srt `execute(\"{COMMAND}\")`, warm sandbox", tuple(samples["warm"]),
            result=f"{over_local:+.2f} ms over local (median of paired differences)",
            metrics={"vs_local_ms": over_local}),
        Row("srt.bwrap", f"mgexec srt `execute(\"{COMMAND}\")`, one bwrap per command", tuple(samples["bwrap"])),
    ]
    if "srt" in samples:
        ratio = statistics.median(samples["srt"]) * 1000 / warm_ms
        rows.append(Row("srt.cli", f"`srt --settings FILE {COMMAND}` (the sandbox-runtime CLI)", tuple(samples["srt"]),
                        result=f"warm sandbox {ratio:.1f}× faster", metrics={"ratio": ratio}))
    else:  # an optional comparison, not a failure of this run
        print("sandbox: no `srt` CLI on PATH (npm @anthropic-ai/sandbox-runtime, needs Node.js, bubblewrap, socat "
              "and ripgrep), so the srt.cli row is left out", file=sys.stderr)
    return rows
