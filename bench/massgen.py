"""MassGen's docker mode: `execute_command` through MassGen's own command_line server vs through mgexec, same container.

The group plays MassGen: it makes the agent's container the way MassGen's docker mode does (unlabelled,
`massgen-{agent}-{instance}`, the workspace mounted at its host path as the working directory), then starts
both servers as MassGen launches its command_line server (MassGen's as `fastmcp run` from MassGen's venv,
mgexec as `mgexec serve`, each with MassGen's flags, in the workspace), and times the same call through
both, interleaved. Without MassGen's venv (.ci/massgen.sh installs it) the group is one skipped row.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import uuid
from pathlib import Path

from bench.context import BenchContext
from bench.mcp_rtt import _docker, server_env
from bench.timing import BenchError, Row, time_interleaved

MASSGEN_VERSION = "0.1.97"  # the version the tests pin
IMAGES = ("ghcr.io/massgen/mcp-runtime:latest", "massgen/mcp-runtime:latest")  # MassGen's name first


def massgen_venv() -> Path:
    if os.environ.get("MGEXEC_MASSGEN_VENV"):
        return Path(os.environ["MGEXEC_MASSGEN_VENV"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mgexec-massgen" / f"venv-{MASSGEN_VERSION}"


def massgen_server_script(venv: Path) -> Path | None:
    """MassGen's command_line server module, which it launches as `fastmcp run PATH:create_server`."""
    return next(venv.glob("lib/python3*/site-packages/massgen/filesystem_manager/_code_execution_server.py"), None)


def massgen_flags(workspace: Path, agent: str, instance: str) -> list[str]:
    """The flags MassGen gives its command_line server in docker mode."""
    return ["--allowed-paths", str(workspace), "--execution-mode", "docker", "--agent-id", agent,
            "--instance-id", instance]


async def bench_massgen(ctx: BenchContext) -> list[Row]:
    venv = massgen_venv()
    script = massgen_server_script(venv)
    if not (venv / "bin" / "fastmcp").is_file() or script is None:
        return [Row("massgen.server", "MassGen docker mode: its own server vs mgexec",
                    result=f"skipped: MassGen {MASSGEN_VERSION} is not installed in {venv} (run .ci/massgen.sh)")]
    image = await _image()
    agent, instance = f"bench-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]
    name, ws = f"massgen-{agent}-{instance}", ctx.workspace
    made = await _docker("run", "-d", "--name", name, "-v", f"{ws}:{ws}:rw", "-w", str(ws), image)
    if not made.strip():
        raise BenchError(f"could not start {name} from {image}")
    try:
        samples = await _time_both(ctx, venv, script, massgen_flags(ws, agent, instance))
    finally:
        await _docker("rm", "-f", name)
    return _rows(samples)


async def _image() -> str:
    for image in IMAGES:
        if (await _docker("image", "inspect", "--format", "{{.Id}}", image)).strip():
            return image
    raise BenchError(f"neither {' nor '.join(IMAGES)} is present; build them with ./build.sh --massgen-names")


async def _time_both(ctx: BenchContext, venv: Path, script: Path, flags: list[str]) -> dict[str, list[float]]:
    from mcp.client.stdio import StdioServerParameters

    massgen_env = {**os.environ, "FASTMCP_SHOW_CLI_BANNER": "false",
                   "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}"}
    servers = {
        "massgen": StdioServerParameters(command=str(venv / "bin" / "fastmcp"),
                                         args=["run", f"{script}:create_server", "--", *flags],
                                         cwd=str(ctx.workspace), env=massgen_env),
        "mgexec": StdioServerParameters(command=sys.executable, args=["-m", "mgexec", "serve", *flags],
                                        cwd=str(ctx.workspace), env=server_env()),
    }
    async with contextlib.AsyncExitStack() as stack:
        calls = {key: _call(await _session(stack, params), key) for key, params in servers.items()}
        return await time_interleaved(calls, ctx.settings.n, ctx.settings.warmup)


async def _session(stack: contextlib.AsyncExitStack, params):
    from mcp.client import ClientSession
    from mcp.client.stdio import stdio_client

    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


def _call(session, key: str):
    async def call() -> None:
        result = await session.call_tool("execute_command", {"command": "true"})
        data = result.structured_content or {}
        if result.is_error or not data.get("success"):
            raise BenchError(f"execute_command `true` failed through {key}'s server: {data or result.content}")

    return call


def _rows(samples: dict[str, list[float]]) -> list[Row]:
    theirs, ours = statistics.median(samples["massgen"]), statistics.median(samples["mgexec"])
    ratio = theirs / ours
    return [
        Row("massgen.server", "MassGen docker mode `execute_command` `true`, MassGen's own server (docker-py exec_run)",
            tuple(samples["massgen"]), result="stdio MCP, official SDK client"),
        Row("massgen.mgexec", "MassGen docker mode `execute_command` `true`, mgexec (warm channel), same container",
            tuple(samples["mgexec"]), metrics={"speedup": ratio},
            result=f"median {ratio:.1f}x faster than MassGen's server (interleaved, same run)"),
    ]
