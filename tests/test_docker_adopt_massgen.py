"""Docker mode with MassGen's --agent-id/--instance-id: MassGen's own container is adopted (used over the warm
channel, its mounts giving the paths, never stopped or removed), waited for when it comes late, and the wait's error."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from dockermode import docker_config, exists, in_container, inspect, remove, require_image, shared_dir
from dockerutil import docker_argv
from mgexec.config import DEFAULT_IMAGE
from mgexec.deployments.state import State
from mgexec.executors.docker import DockerExecutor

pytestmark = pytest.mark.docker

MASSGEN_UID = 1000  # the runtime image's user, as MassGen runs it


@pytest.fixture(autouse=True)
def _image():
    require_image()


@pytest.fixture
def massgen_container(tmp_path):
    """Starts a container as MassGen's docker mode does (docker run, no labels, paths at their host paths)."""
    ws, ctx = shared_dir(tmp_path, MASSGEN_UID), shared_dir(tmp_path, MASSGEN_UID)
    (ctx / "data.txt").write_text("context data\n")
    names: list[str] = []

    def start(name: str) -> str:
        names.append(name)
        out = subprocess.run(docker_argv("run", "-d", "--name", name, "-v", f"{ws}:{ws}:rw", "-v", f"{ctx}:{ctx}:ro",
                                         "-w", str(ws), DEFAULT_IMAGE), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return inspect(name)["Config"]["Hostname"]

    yield start, ws, ctx
    for name in names:
        remove(name)


def _ids() -> tuple[str, str]:
    return f"mga{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:8]


async def test_adopted_container_runs_commands_and_is_left_running(massgen_container, tmp_path):
    start, ws, ctx = massgen_container
    agent, instance = _ids()
    name = f"massgen-{agent}-{instance}"
    hostname = start(name)
    elsewhere = shared_dir(tmp_path)  # the config's own workspace: the container's mounts win
    executor = DockerExecutor(docker_config(elsewhere, agent_id=agent, instance_id=instance, docker_warm_channel=True))
    async with executor:
        assert executor.deployment.state is State.ADOPTED and executor.container == name
        assert executor.channel is not None  # the warm channel, not an exec per command
        assert executor.config.workspace == ws
        out = await executor.execute("cat /etc/hostname; pwd; echo made > made.txt; echo to-err >&2")
        assert out.success, out
        assert out.stdout.split() == [hostname, str(ws)] and out.stderr == "to-err\n"
        assert (ws / "made.txt").read_text() == "made\n" and not (elsewhere / "made.txt").exists()
        assert (await executor.execute("cat data.txt", work_dir=str(ctx))).stdout == "context data\n"
        assert not (await executor.execute("touch new.txt", work_dir=str(ctx))).success  # mounted read-only
        assert not (ctx / "new.txt").exists()
        outside = await executor.execute("ls", work_dir=str(elsewhere))
        assert not outside.success and "outside" in outside.stderr
        slow = await executor.execute("sleep 1234.56789", timeout=1)
        assert slow.timed_out
        assert in_container(name)("1234.56789") == []  # killed inside the container
    assert inspect(name)["State"]["Running"]  # MassGen's to remove, not mgexec's


SERVER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from mgexec.config import ExecConfig
    from mgexec.executors.docker import DockerExecutor

    async def main():
        config = ExecConfig(workspace=Path(sys.argv[1]), mode="docker", agent_id=sys.argv[2], instance_id=sys.argv[3])
        executor = DockerExecutor(config, warm_channel=True)
        await executor.start()
        assert (await executor.execute("true")).success
        await executor.start_background("sleep 4321.56789")
        print(executor.deployment.state.value, flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
""")


async def test_a_killed_server_leaves_massgens_container_running(massgen_container, tmp_path):
    start, ws, _ = massgen_container
    agent, instance = _ids()
    name = f"massgen-{agent}-{instance}"
    start(name)
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(ws), agent, instance], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        assert server.stdout.readline().strip() == "adopted"
        assert in_container(name)("4321.56789") != []
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    find, deadline = in_container(name), time.monotonic() + 30
    while find("4321.56789") and time.monotonic() < deadline:  # the shell's watchdog ends what the server started
        await asyncio.sleep(0.5)
    assert find("4321.56789") == []
    await asyncio.sleep(2)  # a watchdog that removed the container would have done so by now
    assert inspect(name)["State"]["Running"]


async def test_first_command_waits_for_a_container_made_after_start(massgen_container, tmp_path):
    start, ws, _ = massgen_container
    agent, instance = _ids()
    executor = DockerExecutor(docker_config(ws, agent_id=agent, instance_id=instance))
    async with executor:
        assert executor.deployment.awaiting_container and executor.runtime is None
        loop = asyncio.get_running_loop()
        later = loop.run_in_executor(None, lambda: (time.sleep(1.5), start(f"massgen-{agent}")))
        out = await executor.execute("cat /etc/hostname")
        _, hostname = await later
        assert out.success and out.stdout.strip() == hostname
        assert executor.deployment.state is State.ADOPTED and executor.container == f"massgen-{agent}"
    assert inspect(f"massgen-{agent}")["State"]["Running"]


async def test_the_wait_is_bounded_and_its_error_names_the_container(tmp_path):
    agent, instance = _ids()
    executor = DockerExecutor(docker_config(shared_dir(tmp_path), agent_id=agent, instance_id=instance))
    executor.deployment.adopt_wait = 1
    async with executor:
        began = time.monotonic()
        out = await executor.execute("echo hi")
        assert time.monotonic() - began < 15
        assert not out.success and f"massgen-{agent}-{instance} or massgen-{agent} did not appear" in out.stderr
        with pytest.raises(Exception, match="did not appear"):
            await executor.start_background("sleep 1")
    assert not exists(f"massgen-{agent}-{instance}") and not exists(f"massgen-{agent}")  # none made in its place
