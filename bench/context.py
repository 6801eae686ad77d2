"""What the benchmark groups share: sizes and run counts, a workspace, and one warm docker-mode executor."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from mgexec.config import ExecConfig
from mgexec.executors.local import LocalExecutor

from bench.timing import BenchError

OUTPUT_CAP = 16_000_000  # room for the 10 MB output test in every docker-mode executor


@dataclass(frozen=True)
class Settings:
    n: int  # timed runs of each latency measurement
    warmup: int  # untimed runs before them
    startup_runs: int  # container start to first command
    output_bytes: int  # size of the large-output command
    output_runs: int
    concurrent: int  # calls in the concurrency test
    concurrency_rounds: int
    shell_bytes: int  # background-shell output to drain
    quick: bool = False  # a smoke run: the slowest groups shrink their counts too

    @classmethod
    def make(cls, n: int | None, quick: bool) -> "Settings":
        if quick:
            n = 20 if n is None else n
            return cls(n=n, warmup=2, startup_runs=1, output_bytes=1_000_000, output_runs=min(n, 3),
                       concurrent=10, concurrency_rounds=1, shell_bytes=5_000_000, quick=True)
        n = 200 if n is None else n
        return cls(n=n, warmup=10, startup_runs=5, output_bytes=10_000_000, output_runs=min(n, 20),
                   concurrent=50, concurrency_rounds=3, shell_bytes=50_000_000)


def agent_id() -> str:
    """A fresh agent id, so every container this run makes has a name no one else holds."""
    return f"bench-{uuid.uuid4().hex[:10]}"


class BenchContext:
    """Owns the run's workspace and its shared executors; close() removes everything it made."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._workspace: Path | None = None
        self._local: LocalExecutor | None = None
        self._docker = None
        self._docker_error: BaseException | None = None

    @property
    def workspace(self) -> Path:
        # Docker mode needs a directory the container's user can reach: pytest- and mkdtemp-style
        # 0700 directories are not, so open it up to 0755 (the container runs as its owner).
        if self._workspace is None:
            self._workspace = Path(tempfile.mkdtemp(prefix="mgexec-bench-", dir="/tmp"))
            os.chmod(self._workspace, 0o755)
        return self._workspace

    def config(self, mode: str = "docker", **fields) -> ExecConfig:
        fields.setdefault("agent_id", agent_id())
        fields.setdefault("max_output_bytes", OUTPUT_CAP)
        return ExecConfig(workspace=self.workspace, mode=mode, **fields)

    async def local(self) -> LocalExecutor:
        if self._local is None:
            self._local = LocalExecutor(self.config("local"))
            await self._local.start()
        return self._local

    async def docker(self):
        """The run's one warm container (started on first use), with its exec channel open."""
        if self._docker_error is not None:
            raise BenchError(f"the shared container is unavailable: {self._docker_error}")
        if self._docker is None:
            try:
                self._docker = await start_docker(self.config(docker_warm_channel=True))
                if self._docker.channel is None:
                    raise BenchError("the warm exec channel did not open (mgexec fell back to one docker "
                                     "exec per command; its warning above says why)")
            except Exception as exc:
                self._docker_error = exc
                raise
        return self._docker

    async def close(self) -> None:
        try:
            for executor in (self._docker, self._local):
                if executor is not None:
                    await executor.close()
        finally:
            if self._workspace is not None:
                shutil.rmtree(self._workspace, ignore_errors=True)


async def start_docker(config: ExecConfig):
    """A started DockerExecutor; if start() fails half-way, what it made is removed."""
    from mgexec.executors.docker import DockerExecutor

    executor = DockerExecutor(config)
    try:
        await executor.start()
    except BaseException:
        await executor.close()
        raise
    return executor


def check_ok(result, command: str = "true"):
    """An ExecResult that succeeded, or BenchError: a failed command must not be timed as a fast one."""
    if not result.success:
        raise BenchError(f"`{command}` failed (exit {result.exit_code}): {result.stderr.strip()[:300]}")
    return result
