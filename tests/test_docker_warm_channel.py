"""The warm exec channel inside DockerExecutor: fallback when the image cannot run it, recovery when it dies."""

from __future__ import annotations

import asyncio
import time
import uuid
import subprocess

import pytest

from dockermode import docker_config, require_image
from dockerutil import docker_binary
from mgexec.executors.docker import DockerExecutor

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _image():
    require_image()


@pytest.fixture
async def running(workspace):
    executor = DockerExecutor(docker_config(workspace, docker_warm_channel=True))
    await executor.start()
    yield executor
    await executor.close()


async def test_image_without_python_falls_back_to_exec_per_command(workspace, tmp_path, caplog):
    from dockerutil import ensure_test_image

    base = ensure_test_image()
    ctx = tmp_path / "img"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base}\nRUN mkdir -p /context /temp_workspaces\n")
    subprocess.run([docker_binary(), "build", "-q", "-t", "mgexec-test/nopython:1", str(ctx)], check=True, capture_output=True)
    async with DockerExecutor(docker_config(workspace, docker_image="mgexec-test/nopython:1")) as executor:
        assert executor.channel is None
        result = await executor.execute("echo fallback; exit 3")
    assert (result.stdout, result.exit_code) == ("fallback\n", 3)
    assert "Falling back to one docker exec per command" in caplog.text


async def test_lost_channel_fails_the_command_clearly_and_recovers(running):
    marker = f"/tmp/lost-{uuid.uuid4().hex}"
    task = asyncio.create_task(running.execute(f": > {marker}; sleep 30"))
    # Kill the helper only once the command runs: before that, the request would go to the reopened channel.
    deadline = time.monotonic() + 30
    while subprocess.run([docker_binary(), "exec", running.container, "test", "-e", marker]).returncode != 0:
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.1)
    subprocess.run([docker_binary(), "exec", "--user", "0", running.container, "kill", "-KILL", str(running.channel.helper_pid)],
                   check=True)
    result = await asyncio.wait_for(task, 10)
    assert result.exit_code == -1 and "run it again" in result.stderr
    again = await running.execute("echo back")
    assert again.stdout == "back\n"


async def test_a_command_cannot_open_the_helpers_stdout(running):
    # The command's parent is the helper; writing to its stdout would forge the channel's frames.
    assert running.channel is not None
    line = ("tr '\\0' ' ' </proc/$PPID/cmdline | grep -q mgexec-inside && echo helper; "
            "{ exec 3>>/proc/$PPID/fd/1; } 2>/dev/null && echo opened || echo refused; echo still-works")
    result = await running.execute(line)
    after = await running.execute("echo next")
    assert result.stdout == "helper\nrefused\nstill-works\n", result
    assert (after.stdout, after.exit_code) == ("next\n", 0)
