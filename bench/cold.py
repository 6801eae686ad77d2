"""Cold starts against their yardsticks, taking turns in one run: first docker command vs docker-py, `mgexec serve`
to `tools/list` vs a minimal SDK server, and `mgexec exec -- true` vs `python3 -c pass`.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import time
from pathlib import Path

from bench.context import BenchContext, agent_id, check_ok
from bench.mcp_rtt import server_env, write_config
from bench.swerex_peer import BENCH_LABEL, docker
from bench.timing import BenchError, Row, time_interleaved, time_turns

AGENT_LABEL = "io.mgexec.agent"  # set by mgexec on every container it makes for an agent


async def bench_cold(ctx: BenchContext) -> list[Row]:
    rows: list[Row] = []
    for key, part in (("cold.first", first_command_rows), ("cold.serve", serve_rows), ("cold.cli", cli_rows)):
        try:
            rows += await part(ctx)
        except BenchError as exc:
            rows.append(Row(key, f"{key} rows", error=str(exc)))
    return rows


async def remove_agent_containers(agents) -> int:
    """Remove every container mgexec made for these agent ids; how many there were."""
    found = []
    for agent in agents:
        _, out, _ = await docker("ps", "-aq", "--filter", f"label={AGENT_LABEL}={agent}")
        found += out.split()
    if found:
        await docker("rm", "-f", *found)
    return len(found)


def docker_py_client():
    """(docker-py client, "") or (None, why)."""
    try:
        import docker as docker_py
    except ImportError:
        return None, "docker-py is not installed; `pip install 'docker>=7'` (the `bench` extra) to measure it"
    try:
        client = docker_py.from_env(version="auto")
        client.ping()
        return client, ""
    except Exception as exc:  # docker-py raises many types; any of them means "not measurable"
        return None, f"docker-py could not reach the engine ({type(exc).__name__}: {str(exc)[:300]})"


async def first_command_rows(ctx: BenchContext) -> list[Row]:
    """Nothing to first command: mgexec `start()` + `execute("true")` vs docker-py create + start + exec_run."""
    from mgexec.executors.docker import DockerExecutor

    image = ctx.config().image

    async def mgexec_first() -> float:
        executor = DockerExecutor(ctx.config(docker_warm_channel=True))
        start = time.perf_counter()
        try:
            await executor.start()
            check_ok(await executor.execute("true"))
            return time.perf_counter() - start
        finally:
            await executor.close()

    client, why = docker_py_client()
    calls = {"mgexec": mgexec_first}
    if client is not None:
        calls["py"] = lambda: docker_py_first(client, image)
    try:
        samples = await time_turns(calls, ctx.settings.startup_runs)
    finally:
        if client is not None:
            client.close()
    label = "nothing → first command, docker mode"
    ratio = statistics.median(samples["mgexec"]) / statistics.median(samples["py"]) if "py" in samples else 0.0
    rows = [Row("cold.mgexec", f"{label}: mgexec `start()` + `execute(\"true\")` (close untimed)",
                tuple(samples["mgexec"]), metrics={"ratio": ratio} if ratio else {},
                result=f"{ratio:.2f}× docker-py (same run)" if ratio else "")]
    py_label = f"{label}: docker-py `create` + `start` + `exec_run([\"true\"])` (remove untimed)"
    rows.append(Row("cold.py", py_label, tuple(samples["py"])) if "py" in samples else Row("cold.py", py_label, error=why))
    return rows


async def docker_py_first(client, image: str) -> float:
    """Blocking on the loop's thread, as MassGen's docker-py calls do."""
    start = time.perf_counter()
    container = client.containers.create(image, detach=True, network_mode="none", labels={BENCH_LABEL: "cold"},
                                         name=f"mgexec-bench-cold-{secrets.token_hex(5)}")
    try:
        container.start()
        result = container.exec_run(["true"])
        took = time.perf_counter() - start
        if result.exit_code != 0:
            raise BenchError(f"docker-py exec_run(['true']) exited {result.exit_code}: {result.output[:300]!r}")
        return took
    finally:
        container.remove(force=True)


async def spawn_to_tools_list(params) -> float:
    """Seconds from spawning a stdio server to its `tools/list` answer; the shutdown is not timed."""
    from mcp.client import ClientSession
    from mcp.client.stdio import stdio_client

    start = time.perf_counter()
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            took = time.perf_counter() - start
    if not tools.tools:
        raise BenchError(f"`{' '.join(params.args)}` listed no tools")
    return took


async def serve_rows(ctx: BenchContext) -> list[Row]:
    from mcp.client.stdio import StdioServerParameters

    def params(*args: str) -> StdioServerParameters:
        return StdioServerParameters(command=sys.executable, args=list(args), cwd=str(ctx.workspace), env=server_env())

    local_config = write_config(ctx, "local", agent_id())
    agents: list[str] = []

    async def docker_serve() -> float:
        agents.append(agent_id())
        config = write_config(ctx, "docker", agents[-1])
        try:
            return await spawn_to_tools_list(params("-m", "mgexec", "serve", "--config", str(config)))
        finally:
            config.unlink(missing_ok=True)
            await remove_agent_containers(agents[-1:])

    calls = {"minimal": lambda: spawn_to_tools_list(params("-m", "bench.minimal_server")),
             "local": lambda: spawn_to_tools_list(params("-m", "mgexec", "serve", "--config", str(local_config))),
             "docker": docker_serve}
    try:
        samples = await time_turns(calls, max(2, 2 * ctx.settings.startup_runs))
    finally:
        local_config.unlink(missing_ok=True)
        await asyncio.sleep(1)  # a server stopped mid-start may still be finishing its `docker run`
        await remove_agent_containers(agents)
    return serve_row_set(samples)


def serve_row_set(samples: dict[str, list[float]]) -> list[Row]:
    what = "spawn → `initialize` → `tools/list`, SDK stdio client"
    minimal = statistics.median(samples["minimal"])
    rows = [Row("cold.serve.minimal", f"{what}: minimal SDK v2 server, one tool (bench/minimal_server.py)",
                tuple(samples["minimal"]))]
    for mode in ("local", "docker"):
        row = Row(f"cold.serve.{mode}", f"{what}: `mgexec serve`, {mode} mode", tuple(samples[mode]))
        ratio = statistics.median(samples[mode]) / minimal
        rows.append(Row(row.key, row.label, row.samples, metrics={"ratio": ratio},
                        result=f"{ratio:.2f}× the minimal server (same run)"))
    return rows


async def cli_rows(ctx: BenchContext) -> list[Row]:
    """`mgexec exec -- true` (local mode in the workspace) vs `python3 -c pass`, both from this venv."""
    script = Path(sys.executable).parent / "mgexec"
    label = "`mgexec exec -- true`, local mode (the venv's console script)"
    if not script.is_file():
        return [Row("cold.cli.mgexec", label, error=f"no `mgexec` console script beside {sys.executable}; "
                                               "`pip install -e .` into the bench's venv")]

    async def in_workspace(*argv: str) -> None:
        proc = await asyncio.create_subprocess_exec(*argv, cwd=ctx.workspace, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise BenchError(f"`{' '.join(argv)}` exited {proc.returncode}: {err.decode(errors='replace')[:300]}")

    calls = {"python": lambda: in_workspace(sys.executable, "-c", "pass"),
             "mgexec": lambda: in_workspace(str(script), "exec", "--", "true")}
    samples = await time_interleaved(calls, min(ctx.settings.n, 30), warmup=2)
    python = Row("cold.cli.python", "`python3 -c pass` (the venv's python)", tuple(samples["python"]))
    ratio = statistics.median(samples["mgexec"]) / statistics.median(samples["python"])
    return [Row("cold.cli.mgexec", label, tuple(samples["mgexec"]), metrics={"ratio": ratio},
                result=f"{ratio:.1f}× `python3 -c pass` (same run)"), python]
