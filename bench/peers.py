"""Output ceilings and peers: the same file read through mgexec, `docker exec cat`, docker-py, SWE-ReX and a host pipe.

Every path runs `cat` of one file of base64 text in the workspace (mounted at its host path in each container),
so they move the same bytes and differ only in the transport. The host pipe is the ceiling of any pipe here.
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path

from bench.context import BenchContext, check_ok
from bench.heavy import output_row
from bench.latency import DockerPy, run_argv
from bench.swerex_peer import swerex_peer
from bench.timing import BenchError, Row, time_interleaved

PEERS = ("bare", "py", "swerex")  # what mgexec must be at least as fast as; "pipe" is the ceiling, not a peer


def write_payload(workspace: Path, nbytes: int) -> Path:
    """A file of `nbytes` of base64 text (76-column lines) in the workspace, readable by the container's user."""
    path = workspace / f"payload-{nbytes}.txt"
    if not path.exists() or path.stat().st_size != nbytes:
        text = base64.encodebytes(os.urandom(nbytes * 3 // 4 + 3))[:nbytes]
        path.write_bytes(text)
        path.chmod(0o644)
    return path


def peer_calls(ctx: BenchContext, warm, command: str, sizes: dict[str, int]) -> dict:
    """mgexec's warm channel, a bare `docker exec`, and the host pipe, each recording how many bytes it read."""
    argv = warm.cli.argv(["exec", "-w", str(ctx.workspace), warm.container, "/bin/sh", "-c", command])
    env = warm.cli.client_env()

    async def mgexec() -> None:
        result = check_ok(await warm.execute(command), command)
        if result.truncated:
            raise BenchError("mgexec truncated the output; raise max_output_bytes")
        sizes["mgexec"] = len(result.stdout.encode())

    async def bare() -> None:
        sizes["bare"] = len(await run_argv(argv, env))

    async def pipe() -> None:
        proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", command, cwd=ctx.workspace,
                                                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise BenchError(f"host `{command}` exited {proc.returncode}")
        sizes["pipe"] = len(out)

    return {"mgexec": mgexec, "bare": bare, "pipe": pipe}


LABELS = {
    "mgexec": "mgexec docker, warm channel (`execute`)",
    "bare": "bare `docker exec -w WS CONTAINER sh -c 'cat FILE'`",
    "py": "docker-py `exec_run` (MassGen's method)",
    "swerex": "SWE-ReX `RemoteRuntime.execute` (swerex-remote in the runtime image)",
    "pipe": "host pipe: asyncio subprocess `cat FILE` (ceiling of any pipe)",
}


async def bench_peers(ctx: BenchContext) -> list[Row]:
    s = ctx.settings
    warm = await ctx.docker()
    payload = write_payload(ctx.workspace, s.output_bytes)
    command = f"cat {payload.name}"
    sizes: dict[str, int] = {}
    py = DockerPy.connect(warm.container)
    try:
        async with swerex_peer(ctx.workspace) as swerex:
            calls = peer_calls(ctx, warm, command, sizes)
            if py.container is not None:
                calls["py"] = py.call(command, str(ctx.workspace), sizes)
            if swerex.call is not None:
                calls["swerex"] = _recording(swerex.call, command, sizes)
            samples = await time_interleaved(calls, s.output_runs, warmup=1)
    finally:
        py.close()
    if set(sizes.values()) != {payload.stat().st_size}:
        raise BenchError(f"the paths read different amounts of output: {sizes} (file: {payload.stat().st_size})")
    return peer_rows(samples, payload.stat().st_size, {"py": py.why, "swerex": swerex.why})


def _recording(execute, command: str, sizes: dict[str, int]):
    async def call() -> None:
        sizes["swerex"] = len((await execute(command)).encode())

    return call


def peer_rows(samples: dict[str, list[float]], size: int, why: dict[str, str]) -> list[Row]:
    rows = []
    for key, label in LABELS.items():
        label = f"{size / 1e6:.0f} MB `cat`: {label}"
        if key in samples:
            rows.append(output_row(f"peers.{key}", label, samples[key], size))
        elif why.get(key, "").startswith("skipped: "):
            rows.append(Row(f"peers.{key}", label, result=why[key]))
        else:
            rows.append(Row(f"peers.{key}", label, error=why.get(key) or "not measured"))
    return rows
