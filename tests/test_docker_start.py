"""Docker-mode start-up on a real engine: the calls it makes, parallel agents, the image layout cache, a
cancelled start, and the server answering while the container is made (and reporting a failed start)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dockermode import docker_config, exists, inspect, remove, require_image
from dockerutil import docker_argv, docker_binary
from mgexec.config import DEFAULT_IMAGE
from mgexec.docker.imagecache import CACHE_DIR_ENV
from mgexec.errors import ImageInvalid
from mgexec.executors.docker import DockerExecutor

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _image():
    require_image()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR_ENV, str(where))
    return where


def logging_docker(tmp_path: Path, delay_run: float = 0.0) -> tuple[str, Path]:
    """A docker CLI that writes each call's verb to a log (and can hold `run` back)."""
    log, script = tmp_path / "calls.log", tmp_path / "docker-logged"
    real = shutil.which(docker_binary())
    hold = f'[ "$1" = run ] && sleep {delay_run}\n' if delay_run else ""
    script.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\n{hold}exec "{real}" "$@"\n')
    script.chmod(0o755)
    return str(script), log


def verbs(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def build_image(tmp_path: Path, tag: str, dockerfile: str) -> str:
    ctx = tmp_path / f"img-{os.urandom(4).hex()}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    subprocess.run(docker_argv("build", "-q", "-t", tag, str(ctx)), check=True, capture_output=True)
    out = subprocess.run(docker_argv("image", "inspect", "--format", "{{.Id}}", tag), check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


async def test_a_runtime_image_start_is_one_run_that_also_starts_the_channel(tmp_path, workspace, monkeypatch):
    binary, log = logging_docker(tmp_path)
    monkeypatch.setenv("MGEXEC_DOCKER", binary)
    async with DockerExecutor(docker_config(workspace, docker_warm_channel=True)) as executor:
        # No image inspect, no name check, no inspect after the run, no `docker exec` for the channel's helper.
        assert verbs(log) == ["run"]
        labels = inspect(executor.container)["Config"]["Labels"]
        assert labels["io.mgexec.owner.pid"] == str(os.getpid()) and labels["io.mgexec.kept"] == "false"
        assert (await executor.execute("echo ok")).stdout == "ok\n"
    assert not exists(executor.container)


async def test_agents_started_at_once_each_get_their_own_container(workspace):
    executors = [DockerExecutor(docker_config(workspace, agent_id=f"{n}{os.urandom(4).hex()}")) for n in "abcd"]
    await asyncio.gather(*(e.start() for e in executors))
    try:
        ids = {inspect(e.container)["Id"] for e in executors}
        assert len(ids) == 4
        for executor in executors:
            result = await executor.execute("cat /etc/hostname")
            assert result.success and result.stdout.strip() == inspect(executor.container)["Config"]["Hostname"]
            assert inspect(executor.container)["Config"]["Labels"]["io.mgexec.agent"] == executor.config.agent_id
    finally:
        await asyncio.gather(*(e.close() for e in executors))
    assert not any(exists(e.container) for e in executors)


async def test_a_checked_custom_image_is_not_checked_again_until_it_is_rebuilt(tmp_path, workspace, monkeypatch, cache):
    tag = f"mgexec-test/layout-{os.urandom(3).hex()}:1"
    good = build_image(tmp_path, tag, f"FROM {DEFAULT_IMAGE}\nLABEL mgexec.test=good\n")
    binary, log = logging_docker(tmp_path)
    monkeypatch.setenv("MGEXEC_DOCKER", binary)
    try:
        async with DockerExecutor(docker_config(workspace, docker_image=tag)):
            pass
        assert verbs(log).count("exec") == 2  # the layout check, then the channel
        assert [p.name.split("-")[0] for p in (cache / "image-layout").iterdir()] == [good.split(":")[1]]
        log.unlink()
        async with DockerExecutor(docker_config(workspace, docker_image=tag)) as executor:
            assert (await executor.execute("echo again")).stdout == "again\n"
        assert verbs(log).count("exec") == 1 and "inspect" not in verbs(log)  # only the channel

        # Rebuilt under the same tag without /context: the entry for the old id says nothing about it.
        build_image(tmp_path, tag, f"FROM {DEFAULT_IMAGE}\nUSER root\nRUN rm -rf /context\nUSER massgen\n")
        config = docker_config(workspace, docker_image=tag)
        with pytest.raises(ImageInvalid, match="directory /context is missing"):
            await DockerExecutor(config).start()
        assert not exists(config.container_name)
    finally:
        subprocess.run(docker_argv("rmi", "-f", tag), capture_output=True)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.5])
async def test_a_start_cancelled_at_any_point_leaves_no_container(workspace, delay):
    config = docker_config(workspace)
    executor = DockerExecutor(config)
    task = asyncio.create_task(executor.start())
    await asyncio.sleep(delay)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        await executor.close()  # it was quicker than the cancel
    assert not exists(config.container_name)
    remove(config.container_name)


async def _serve(tmp_path: Path, config_text: str, docker: str):
    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_text)
    mgexec = str(Path(sys.executable).parent / "mgexec")
    env = {**os.environ, "MGEXEC_DOCKER": docker}
    params = StdioServerParameters(command=mgexec, args=["serve", "--config", str(cfg)], cwd=str(tmp_path), env=env)
    return stdio_client(params, errlog=(tmp_path / "server.log").open("w")), ClientSession


async def test_the_server_answers_while_the_container_is_made(tmp_path):
    binary, log = logging_docker(tmp_path, delay_run=3)
    agent = f"srv{os.urandom(4).hex()}"
    client, session_class = await _serve(
        tmp_path, f"agent:\n  id: {agent}\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n", binary)
    async with client as (read, write):
        async with session_class(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            assert "execute_command" in [t.name for t in tools.tools]
            assert "exec" not in verbs(log) and not exists(f"massgen-{agent}")  # still being made
            # A shell tool waits for the container: the shells' watchdog must guard the container it names.
            early = (await session.call_tool("list_background_shells", {})).structured_content
            assert early.get("success", True) and early["count"] == 0, early
            assert exists(f"massgen-{agent}")
            result = await session.call_tool("execute_command", {"command": "echo ready"})
            listed = (await session.call_tool("list_background_shells", {})).structured_content
    assert result.structured_content["stdout"] == "ready\n"
    assert listed["count"] == 0, listed
    assert not exists(f"massgen-{agent}")


async def test_a_server_whose_container_cannot_start_says_why_at_each_command_and_in_its_log(tmp_path):
    client, session_class = await _serve(
        tmp_path, "agent:\n  id: srvbad\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n"
                  "    command_line_docker_image: mgexec-test/none:1\n", docker_binary())
    async with client as (read, write):
        async with session_class(read, write) as session:
            await session.initialize()
            answers = [await session.call_tool("execute_command", {"command": "true"}) for _ in range(2)]
    for answer in answers:
        out = answer.structured_content or json.loads(answer.content[0].text)
        assert not out["success"] and "`mgexec-test/none:1` is not available" in out["stderr"]
    assert "`mgexec-test/none:1` is not available" in (tmp_path / "server.log").read_text()
    assert not exists("massgen-srvbad")


async def test_a_server_closed_while_its_container_is_made_leaves_none(tmp_path):
    binary, log = logging_docker(tmp_path, delay_run=1)
    agent = f"srv{os.urandom(4).hex()}"
    client, session_class = await _serve(
        tmp_path, f"agent:\n  id: {agent}\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n", binary)
    async with client as (read, write):
        async with session_class(read, write) as session:
            await session.initialize()
            for _ in range(100):  # until its `docker run` is under way
                if "run" in verbs(log):
                    break
                await asyncio.sleep(0.05)
            assert "run" in verbs(log)
    for _ in range(100):  # the server removes what that run made before it exits
        if "rm" in verbs(log):
            break
        await asyncio.sleep(0.05)
    assert verbs(log)[-1] == "rm" and not exists(f"massgen-{agent}")
