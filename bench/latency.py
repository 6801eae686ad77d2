"""Per-command latency of `true`: bare subprocess, mgexec local, docker exec, docker-py, mgexec docker."""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass

from bench.context import BenchContext, check_ok, start_docker
from mgexec import processes
from mgexec.environment import host_line_shell
from bench.timing import BenchError, Row, time_interleaved


async def run_argv(argv: list[str], env=None) -> bytes:
    """Run argv with piped output, as a caller that wants the output would; BenchError unless it exits 0."""
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(argv[:4])} ...` exited {proc.returncode}: {err.decode(errors='replace')[:300]}")
    return out


def paired_overhead_ms(base: list[float], other: list[float]) -> float:
    """Median of the differences between the i-th calls of two variants timed in turns: drift in load cancels out."""
    return statistics.median(o - b for b, o in zip(base, other)) * 1000


async def bench_local(ctx: BenchContext) -> list[Row]:
    executor = await ctx.local()
    s = ctx.settings
    processes.become_subreaper()  # as `mgexec serve` runs: the end-of-command orphan check is part of the cost
    try:
        return await _bench_local(executor, s)
    finally:
        processes.stop_being_subreaper()  # the MCP groups start servers of their own from this process


async def _bench_local(executor, s) -> list[Row]:
    async def bare() -> None:
        await run_argv(["/bin/sh", "-c", "true"])

    async def bare_bash() -> None:  # the shell mgexec runs every line with: its start-up is part of the floor
        await run_argv([host_line_shell(), "-c", "true"])

    async def judge() -> None:  # the command gate alone: work_dir resolution and the quick reading of the line
        await executor.gate.approve("true", None)

    async def mgexec_local() -> None:
        check_ok(await executor.execute("true"))

    samples = await time_interleaved({"bare": bare, "bash": bare_bash, "judge": judge, "mgexec": mgexec_local},
                                     s.n, s.warmup)
    overhead = paired_overhead_ms(samples["bare"], samples["mgexec"])
    over_bash = paired_overhead_ms(samples["bash"], samples["mgexec"])
    shell_share = paired_overhead_ms(samples["bare"], samples["bash"])
    return [
        Row("local.bare", "bare asyncio subprocess `/bin/sh -c true` (floor)", tuple(samples["bare"])),
        Row("local.bash", "bare asyncio subprocess `bash -c true` (the shell mgexec runs lines with)",
            tuple(samples["bash"]), result=f"{shell_share:+.2f} ms over `/bin/sh`: bash's own start-up",
            metrics={"shell_ms": shell_share}),
        Row("local.judge", "mgexec's command gate on `true` alone (work_dir, quick policy reading)",
            tuple(samples["judge"])),
        Row("local.mgexec", "mgexec local `execute(\"true\")`", tuple(samples["mgexec"]),
            result=f"overhead {overhead:+.2f} ms over the floor, {over_bash:+.2f} ms over bare bash",
            metrics={"overhead_ms": overhead, "over_bash_ms": over_bash}),
    ]


@dataclass
class DockerPy:
    """docker-py's handle on a container (the method MassGen runs commands with), or why there is none."""

    client: object | None = None
    container: object | None = None
    why: str = ""

    @classmethod
    def connect(cls, name: str) -> "DockerPy":
        try:
            import docker
        except ImportError:
            return cls(why="docker-py is not installed; `pip install 'docker>=7'` (the `bench` extra) to measure it")
        last = ""
        for version in (None, "auto"):  # "auto" negotiates with an engine older than the client's default API
            client = None
            try:
                client = docker.from_env(version=version)
                return cls(client, client.containers.get(name))
            except Exception as exc:  # docker-py raises many types; any of them means "not measurable"
                last = f"{type(exc).__name__}: {exc}"
                if client is not None:
                    client.close()
        return cls(why=f"docker-py could not reach the engine ({last[:300]})")

    def call(self, command: str, workdir: str, sizes: dict[str, int] | None = None):
        """An async call running `command` through exec_run, blocking the loop as MassGen's call does.

        Timed on the loop's thread rather than through a worker: this times the library, not a thread hop.
        """
        async def exec_run() -> None:
            result = self.container.exec_run(["/bin/sh", "-c", command], workdir=workdir)
            if result.exit_code != 0:
                raise BenchError(f"docker-py exec_run exited {result.exit_code}: {result.output[:300]!r}")
            if sizes is not None:
                sizes["py"] = len(result.output)

        return exec_run

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


async def bench_docker(ctx: BenchContext) -> list[Row]:
    s = ctx.settings
    warm = await ctx.docker()
    cold = await start_docker(ctx.config(docker_warm_channel=False))
    py = DockerPy.connect(warm.container)
    try:
        calls = docker_calls(warm, cold)
        if py.container is not None:
            calls["py"] = py.call("true", str(ctx.workspace))
        samples = await time_interleaved(calls, s.n, s.warmup)
    finally:
        await cold.close()
        py.close()
    py_label = "docker-py `exec_run([\"/bin/sh\", \"-c\", \"true\"])` (MassGen's method)"
    return [
        Row("docker.cli", "`docker exec CONTAINER true` via the CLI", tuple(samples["cli"])),
        Row("docker.py", py_label, tuple(samples["py"])) if "py" in samples else Row("docker.py", py_label, error=py.why),
        Row("docker.warm", "mgexec docker `execute(\"true\")`, warm channel", tuple(samples["warm"])),
        Row("docker.cold", "mgexec docker `execute(\"true\")`, `docker exec` per command", tuple(samples["cold"]),
            result="own container, same image and settings"),
    ]


def docker_calls(warm, cold) -> dict:
    argv = warm.cli.argv(["exec", warm.container, "true"])
    env = warm.cli.client_env()

    async def cli() -> None:
        await run_argv(argv, env)

    async def warm_call() -> None:
        check_ok(await warm.execute("true"))

    async def cold_call() -> None:
        check_ok(await cold.execute("true"))

    return {"cli": cli, "warm": warm_call, "cold": cold_call}
