"""Discovery of MassGen's own agent container: names, "not made by mgexec", paths from its mounts, the bounded wait."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

import pytest

from dockerutil import ensure_test_image, requires_engine, docker_binary
from mgexec.config.models import ContextPath
from mgexec.docker.adopt import (candidate_names, find_massgen_container, made_by_mgexec, read_massgen_container,
                                 wait_for_massgen_container)
from mgexec.docker.engine import DockerCLI
from mgexec.errors import DockerError, NoSuchContainer


@pytest.mark.parametrize("agent, instance, names", [
    ("agent_a", "1a2b3c4d", ("massgen-agent_a-1a2b3c4d", "massgen-agent_a")),
    ("agent_a", None, ("massgen-agent_a",)),
    ("agent_a", "", ("massgen-agent_a",)),
])
def test_candidate_names(agent, instance, names):
    assert candidate_names(agent, instance) == names


@pytest.mark.parametrize("labels, ours", [
    (None, False), ({}, False), ({"com.example": "x"}, False),
    ({"io.mgexec.managed": "true"}, True), ({"io.mgexec.owner.pid": "12"}, True),
    # MassGen's container of mgexec's image shows the image's labels: still MassGen's.
    ({"io.mgexec.image": "runtime", "io.mgexec.base": "python:3.11-slim"}, False),
])
def test_made_by_mgexec(labels, ours):
    assert made_by_mgexec(labels) is ours


def _bind(path: str, rw: bool, dest: str | None = None) -> dict:
    return {"Type": "bind", "Source": path, "Destination": dest or path, "RW": rw}


def test_paths_come_from_path_transparent_mounts():
    data = {"Name": "/massgen-a-1", "Id": "abc", "State": {"Running": True},
            "Config": {"WorkingDir": "/w/ws_1", "Labels": None},
            "Mounts": [_bind("/w/ws_1", True), _bind("/w/ctx_rw", True), _bind("/w/ctx_ro", False),
                       _bind("/home/u/.ssh", False, "/home/massgen/.ssh"),  # credentials: not a context path
                       {"Type": "volume", "Source": "/var/lib/x", "Destination": "/data", "RW": True}]}
    found = read_massgen_container(data)
    assert (found.name, found.id, found.running, found.workspace) == ("massgen-a-1", "abc", True, Path("/w/ws_1"))
    assert found.context_paths == (ContextPath(path=Path("/w/ctx_ro"), permission="read"),
                                   ContextPath(path=Path("/w/ctx_rw"), permission="write"))


@pytest.mark.parametrize("config, mounts", [
    ({"WorkingDir": ""}, [_bind("/w/ws", True)]),
    ({"WorkingDir": "/w/ws"}, [_bind("/w/ws", False)]),
    ({"WorkingDir": "/workspace"}, [_bind("/w/ws", True, "/workspace")]),
])
def test_a_container_not_shaped_like_massgens_is_refused(config, mounts):
    with pytest.raises(DockerError, match="not a MassGen agent container mgexec can adopt"):
        read_massgen_container({"Name": "/massgen-x", "Config": config, "Mounts": mounts})


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([docker_binary(), *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture
def massgen_like(tmp_path):
    """Starts containers the way MassGen's docker mode does (docker run, no labels, paths at host paths)."""
    image, names = ensure_test_image(), []
    ws, ctx = tmp_path / "ws_0a1b2c3d", tmp_path / "ctx"
    ws.mkdir(), ctx.mkdir()

    def start(name: str, *extra: str) -> None:
        names.append(name)
        out = _docker("run", "-d", "--name", name, "-v", f"{ws}:{ws}:rw", "-v", f"{ctx}:{ctx}:ro", "-w", str(ws),
                      *extra, image)
        assert out.returncode == 0, out.stderr

    yield start, ws, ctx
    for name in names:
        _docker("rm", "-f", name)


@requires_engine
@pytest.mark.docker
async def test_finds_massgens_container_and_passes_over_mgexecs(massgen_like):
    start, ws, ctx = massgen_like
    agent = f"adopt-{uuid.uuid4().hex[:8]}"
    cli = DockerCLI()
    assert await find_massgen_container(cli, agent, "feedf00d") is None
    start(f"massgen-{agent}", "--label", "io.mgexec.managed=true")  # mgexec's own, by the same name
    assert await find_massgen_container(cli, agent, None) is None
    start(f"massgen-{agent}-feedf00d")
    found = await find_massgen_container(cli, agent, "feedf00d")
    assert found is not None and found.name == f"massgen-{agent}-feedf00d"
    assert found.workspace == ws and found.context_paths == (ContextPath(path=ctx, permission="read"),)


@requires_engine
@pytest.mark.docker
async def test_waits_for_a_container_made_later_and_gives_up_in_bounded_time(massgen_like):
    start, ws, _ = massgen_like
    agent = f"adopt-{uuid.uuid4().hex[:8]}"
    cli = DockerCLI()
    loop = asyncio.get_running_loop()
    later = loop.run_in_executor(None, lambda: (__import__("time").sleep(1.5), start(f"massgen-{agent}-0001")))
    found = await wait_for_massgen_container(cli, agent, "0001", wait=60)
    await later
    assert found.workspace == ws
    began = loop.time()
    with pytest.raises(NoSuchContainer, match=f"massgen-{agent}-0002 or massgen-{agent} did not appear"):
        await wait_for_massgen_container(cli, agent, "0002", wait=1)
    assert loop.time() - began < 15
