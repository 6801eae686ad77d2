"""Every runtime the behaviour contract runs over, and the fixtures that start one.

A runtime is one entry in RUNTIMES: how its config differs, where its workspace lives, what it needs
from the machine, and which promises it makes beyond the common contract. A new place where
commands run (a host sandbox) is one more entry here; every contract test then runs there too.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from mgexec import processes
from mgexec.config import ExecConfig
from mgexec.executors import make_executor
from procutil import pid_alive, with_token

# Promises a runtime may make beyond the common contract.
KILLS_ESCAPES = "kills-escapes"  # a child that left the command's session, group or tree dies with it


@contextlib.contextmanager
def as_the_server_runs():
    """Local mode as `mgexec serve` and `mgexec exec` run it: orphans come back to this process."""
    processes.become_subreaper()
    try:
        yield
    finally:
        processes.stop_being_subreaper()


def host_workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def massgen_workspace(tmp_path: Path) -> Path:
    """A workspace the image's user (UID 1000) owns, so the container runs as massgen, as agents do."""
    from dockermode import shared_dir

    return shared_dir(tmp_path, uid=1000)


@dataclass(frozen=True)
class Runtime:
    """One place commands run, as the contract sees it."""

    id: str
    config_fields: dict = field(default_factory=dict)
    make_workspace: Callable[[Path], Path] = host_workspace
    setup: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    needs: Callable[[], None] = lambda: None  # skips (or fails under CI) without what the runtime needs
    promises: frozenset = frozenset()
    kill_settle: float = 5.0  # seconds a killed command's processes may take to be seen gone after the result
    cancel_settle: float = 3.0  # seconds a cancelled command's processes may take to go after the cancel
    warm_channel: bool | None = None  # whether commands go through a warm helper (docker's key when None)
    in_sandbox: bool = False  # commands see pids of their own PID namespace


    @property
    def in_container(self) -> bool:
        """Its commands run in a container: their pids are read there, and the tests need an engine."""
        return self.config_fields.get("mode") == "docker"

    @property
    def uses_warm_channel(self) -> bool:
        return self.config_fields.get("docker_warm_channel", False) if self.warm_channel is None else self.warm_channel

    def config(self, workspace: Path, **fields) -> ExecConfig:
        merged = {**self.config_fields, **fields}
        if self.in_container:
            merged.setdefault("agent_id", f"t{uuid.uuid4().hex[:10]}")  # a container of its own per test
        return ExecConfig(workspace=workspace, **merged)


def _needs_docker_image() -> None:
    from dockermode import require_image

    require_image()


def _needs_bwrap() -> None:
    import shutil

    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed: apt-get install bubblewrap (the srt suites never skip)")


RUNTIMES = [
    Runtime("local", setup=as_the_server_runs, promises=frozenset({KILLS_ESCAPES})),
    Runtime("docker-warm-channel", {"mode": "docker", "docker_warm_channel": True}, massgen_workspace,
            needs=_needs_docker_image, promises=frozenset({KILLS_ESCAPES}),
            kill_settle=15.0, cancel_settle=5.0),
    Runtime("docker-exec-per-command", {"mode": "docker", "docker_warm_channel": False}, massgen_workspace,
            needs=_needs_docker_image, promises=frozenset({KILLS_ESCAPES}),
            kill_settle=15.0, cancel_settle=5.0),
    # make_executor's srt executor runs the warm helper (one bwrap per command is test_sandbox_*'s).
    Runtime("srt-warm-helper", {"mode": "srt"}, needs=_needs_bwrap, promises=frozenset({KILLS_ESCAPES}),
            warm_channel=True, in_sandbox=True),
]


@dataclass
class Probe:
    """Looks at a started executor from outside, where its commands' processes live.

    The one place the contract reaches past the executor's public API (its container, its channel),
    so a change of those internals is mended here.
    """

    executor: object
    runtime: Runtime

    @property
    def container(self) -> str | None:
        return getattr(self.executor, "container", None) if self.runtime.in_container else None

    def uses_warm_channel(self) -> bool:
        return getattr(self.executor, "channel", None) is not None

    def alive(self, pids: list[int]) -> list[int]:
        """The pids (as the command saw them) still running (zombies count as gone)."""
        if self.runtime.in_sandbox:
            from procutil import in_nested_namespace

            return in_nested_namespace(pids)
        if self.container is None:
            return [pid for pid in pids if pid_alive(pid)]
        from dockermode import alive_in_container

        return alive_in_container(self.container, pids)

    def finder(self) -> Callable[[str], list[int]]:
        """A function: token -> pids of live processes whose command line holds it."""
        if self.container is None:
            return with_token
        from dockermode import in_container

        return in_container(self.container)


def runtime_params():
    return [pytest.param(r, id=r.id, marks=[pytest.mark.docker] if r.in_container else []) for r in RUNTIMES]


@pytest.fixture(params=runtime_params())
def runtime_kind(request) -> Runtime:
    request.param.needs()
    return request.param


@pytest.fixture
def runtime_workspace(runtime_kind, tmp_path) -> Path:
    return runtime_kind.make_workspace(tmp_path)


@pytest.fixture
async def make_runtime(runtime_kind, runtime_workspace):
    """A factory: `await make_runtime(**config_fields)` is a started executor, closed after the test."""
    with runtime_kind.setup():
        async with contextlib.AsyncExitStack() as running:
            async def make(**fields):
                return await running.enter_async_context(make_executor(runtime_kind.config(runtime_workspace,
                                                                                          **fields)))

            yield make


@pytest.fixture
async def runtime(make_runtime):
    """A started executor of each runtime, with the default config."""
    return await make_runtime()


@pytest.fixture
def probe(runtime, runtime_kind) -> Probe:
    return Probe(runtime, runtime_kind)


def promised(runtime_kind: Runtime, promise: str) -> None:
    if promise not in runtime_kind.promises:
        pytest.skip(f"the {runtime_kind.id} runtime does not promise {promise}")


def workspace_of(executor) -> Path:
    return Path(executor.config.workspace)


__all__ = ["RUNTIMES", "Runtime", "Probe", "KILLS_ESCAPES", "runtime_kind", "runtime_workspace", "make_runtime",
           "runtime", "probe", "promised"]
