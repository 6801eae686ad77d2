"""The warm channel when a finished command's pipe numbers come back as another command's pipes."""

from __future__ import annotations

import asyncio

import pytest

from dockermode import docker_config, require_image
from mgexec.executors.docker import DockerExecutor

pytestmark = pytest.mark.docker

# A closes its output early, then lives until B runs; B (started once A's pipes are closed) takes their numbers.
CLOSES_EARLY = "exec >/dev/null 2>&1; touch a-closed; while [ ! -e b-started ]; do sleep 0.05; done"
HOLDS = "touch b-started; while [ ! -e c-done ]; do sleep 0.05; done; echo b"


async def wait_for_file(path, what: str) -> None:
    for _ in range(600):
        if path.exists():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} never happened")


async def test_pipe_numbers_reused_after_an_early_close_keep_every_command(workspace):
    """The helper once closed A's numbers twice (os.close, then A's pipe objects when A was done), the second
    time closing B's pipes, and died with "FD already registered" at the next command: B and C were lost."""
    require_image()
    async with DockerExecutor(docker_config(workspace, docker_warm_channel=True)) as executor:
        helper = executor.channel.helper_pid
        a = asyncio.create_task(executor.execute(CLOSES_EARLY))
        await wait_for_file(workspace / "a-closed", "A closing its output")
        await asyncio.sleep(0.3)  # the helper reads A's end of output and frees the numbers
        b = asyncio.create_task(executor.execute(HOLDS))
        assert (await a).success
        c = await executor.execute("echo c; touch c-done")
        assert (c.stdout, (await b).stdout) == ("c\n", "b\n")
        assert executor.channel.helper_pid == helper, "the channel was reopened"
