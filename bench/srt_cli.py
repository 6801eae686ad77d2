"""The real `srt` CLI (npm @anthropic-ai/sandbox-runtime) per command vs a per-command `bwrap` vs local `bash -c`.

The CLI is installed with npm into a cache directory on first use; without npm, the registry, or the
Debian packages it needs (bubblewrap, socat, ripgrep) the group reports one skipped row saying why.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.context import BenchContext
from bench.latency import run_argv
from bench.timing import BenchError, Row, time_interleaved

PACKAGE = "@anthropic-ai/sandbox-runtime"
VERSION = os.environ.get("MGEXEC_BENCH_SRT_VERSION", "0.0.83")  # pinned, so runs compare like with like
INSTALL_TIMEOUT = 600.0
NEEDS = {"bwrap": "bubblewrap", "socat": "socat", "rg": "ripgrep"}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.environ.get("MGEXEC_BENCH_SRT_DIR") or os.path.join(base, "mgexec-bench", f"srt-{VERSION}"))


async def ensure_srt() -> Path:
    """The path of the `srt` binary, installing it first if needed; BenchError saying why it cannot be had."""
    missing = [package for binary, package in NEEDS.items() if shutil.which(binary) is None]
    if missing:
        raise BenchError(f"srt needs the Debian packages {', '.join(missing)} (apt-get install {' '.join(missing)})")
    prefix = cache_dir()
    binary = prefix / "node_modules" / ".bin" / "srt"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise BenchError("srt is an npm package and there is no node/npm on PATH")
    prefix.mkdir(parents=True, exist_ok=True)
    argv = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
            f"{PACKAGE}@{VERSION}"]
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), INSTALL_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise BenchError(f"`npm install {PACKAGE}@{VERSION}` did not finish within {INSTALL_TIMEOUT:.0f} s") from None
    if proc.returncode != 0 or not binary.exists():
        raise BenchError(f"`npm install {PACKAGE}@{VERSION}` failed: {out.decode(errors='replace')[-300:]}")
    return binary


def bwrap_argv(workspace: str, command: list[str]) -> list[str]:
    """A per-command sandbox of srt mode's shape: own network and PID namespaces, read-only /, private /tmp."""
    return ["bwrap", "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--bind", workspace, workspace, "--chdir", workspace, "--", *command]


def srt_settings(workspace: str) -> dict:
    """Network off (no allowed domains) and writes only to the workspace, as srt mode's defaults."""
    return {"network": {"allowedDomains": [], "deniedDomains": []},
            "filesystem": {"denyRead": [], "allowWrite": [workspace], "denyWrite": []}}


async def bench_srt_cli(ctx: BenchContext) -> list[Row]:
    try:
        srt = await ensure_srt()
    except BenchError as exc:
        return [Row("srtcli.srt", "`srt true` (sandbox-runtime CLI, per command)", result=f"skipped: {exc}")]
    # srt leaves mount points in its working directory; give it a directory of its own.
    with tempfile.TemporaryDirectory(prefix="mgexec-bench-srt-") as workspace:
        settings = Path(workspace, ".srt-settings.json")
        settings.write_text(json.dumps(srt_settings(workspace)))
        return await _measure(str(srt), str(settings), workspace, ctx.settings)


async def _measure(srt: str, settings: str, workspace: str, s) -> list[Row]:
    async def in_workspace(argv: list[str]) -> None:
        proc = await asyncio.create_subprocess_exec(*argv, cwd=workspace, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            said = err.decode(errors="replace")[:300]
            raise BenchError(f"`{' '.join(argv[:3])} ...` exited {proc.returncode}: {said}")

    calls = {
        "srt": lambda: in_workspace([srt, "--settings", settings, "true"]),
        "bwrap": lambda: in_workspace(bwrap_argv(workspace, ["bash", "-c", "true"])),
        "local": lambda: run_argv(["bash", "-c", "true"]),
    }
    # The CLI takes seconds per call: fewer runs than the other groups, still interleaved.
    n = min(s.n, 10 if s.n <= 20 else 30)
    samples = await time_interleaved(calls, n, min(s.warmup, 2))
    med = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return [
        Row("srtcli.srt", "`srt true` (sandbox-runtime CLI, per command)", tuple(samples["srt"]),
            result=f"{med['srt'] / med['bwrap']:.0f}× per-command bwrap, {med['srt'] / med['local']:.0f}× local",
            metrics={"vs_bwrap": med["srt"] / med["bwrap"], "vs_local": med["srt"] / med["local"]}),
        Row("srtcli.bwrap", "per-command `bwrap ... bash -c true` (same run)", tuple(samples["bwrap"]),
            result=f"{med['bwrap'] / med['local']:.1f}× local", metrics={"vs_local": med["bwrap"] / med["local"]}),
        Row("srtcli.local", "local `bash -c true` (same run)", tuple(samples["local"])),
    ]
