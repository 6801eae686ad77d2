"""Docker mode on a real engine: lifecycle, exec semantics, kills inside the container, mounts, limits, hardening."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from dockermode import docker_config, exists, inspect, remove, require_image, shared_dir
from dockerutil import docker_binary
from mgexec.config import DEFAULT_SUDO_IMAGE
from mgexec.docker.container import Owner
from mgexec.errors import ContainerConflict, DockerUnavailable, ImageInvalid, ImageNotFound
from mgexec.executors.docker import DockerExecutor

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _image():
    require_image()


@pytest.fixture(autouse=True, params=["warm-channel", "exec-per-command"])
def exec_path(request, monkeypatch):
    """Every test here runs over both paths: their results must be the same."""
    import dockermode

    monkeypatch.setattr(dockermode, "WARM_CHANNEL", request.param == "warm-channel")
    return request.param


@pytest.fixture
async def running(workspace):
    executor = DockerExecutor(docker_config(workspace))
    await executor.start()
    yield executor
    await executor.close()


async def test_container_named_labelled_and_removed_on_close(workspace):
    executor = DockerExecutor(docker_config(workspace, agent_id="lifecycle_a1"))
    remove("massgen-lifecycle_a1")
    await executor.start()
    data = inspect("massgen-lifecycle_a1")
    labels = data["Config"]["Labels"]
    assert labels["io.mgexec.managed"] == "true" and labels["io.mgexec.agent"] == "lifecycle_a1"
    assert labels["io.mgexec.owner.pid"] == str(os.getpid()) and labels["io.mgexec.kept"] == "false"
    await executor.close()
    assert not exists("massgen-lifecycle_a1")


async def test_the_requested_exec_path_is_used(running, exec_path):
    assert (running.channel is not None) == (exec_path == "warm-channel")


async def test_hardening_by_default(running):
    host = inspect(running.container)["HostConfig"]
    assert host["CapDrop"] == ["ALL"] or host["CapDrop"] == ["all"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == 512 and host["NetworkMode"] == "none" and host["Init"] is True
    caps = (await running.execute("grep CapEff /proc/self/status")).stdout
    assert caps.split()[1] == "0000000000000000"


async def test_network_none_has_only_loopback(running):
    assert (await running.execute("ls /sys/class/net")).stdout.split() == ["lo"]


async def test_bridge_network_has_an_interface(workspace):
    async with DockerExecutor(docker_config(workspace, network_mode="bridge")) as executor:
        interfaces = (await executor.execute("ls /sys/class/net")).stdout.split()
    assert "lo" in interfaces and len(interfaces) >= 2


async def test_memory_and_cpu_limits_are_applied(workspace):
    config = docker_config(workspace, docker_memory_limit="300m", docker_cpu_limit=0.5)
    async with DockerExecutor(config) as executor:
        cmd = "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
        limit = (await executor.execute(cmd)).stdout.strip()
        nano = inspect(executor.container)["HostConfig"]["NanoCpus"]
    assert int(limit) == 300 * 1024 * 1024 and nano == 500_000_000


async def test_mounts_read_only_and_read_write(tmp_path, workspace):
    ro, rw, temp = (tmp_path / n for n in ("ctx_ro", "ctx_rw", "temp_ws"))
    for d in (ro, rw, temp):
        d.mkdir()
    config = docker_config(workspace, context_paths=[{"path": ro}, {"path": rw, "permission": "write"}],
                           temp_workspace=temp)
    async with DockerExecutor(config) as executor:
        bad = await executor.execute(f"touch {ro}/x")
        good = await executor.execute(f"touch {rw}/x && echo ok")
        bad_temp = await executor.execute(f"touch {temp}/x")
        in_ctx = await executor.execute("pwd", work_dir=str(ro))
    assert "Read-only file system" in bad.stderr and not (ro / "x").exists()
    assert good.stdout == "ok\n" and (rw / "x").exists()
    assert "Read-only file system" in bad_temp.stderr
    assert in_ctx.stdout == f"{ro}\n"


async def test_additional_mounts_default_to_read_only(tmp_path, workspace):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "data").write_text("d\n")
    creds = {"additional_mounts": {str(extra): {"bind": "/extra"}}}
    async with DockerExecutor(docker_config(workspace, credentials=creds)) as executor:
        read = await executor.execute("cat /extra/data")
        write = await executor.execute("touch /extra/new")
    assert read.stdout == "d\n" and "Read-only file system" in write.stderr


async def test_workspace_owned_by_uid_1000_runs_as_massgen(tmp_path):
    ws = shared_dir(tmp_path, uid=1000)
    async with DockerExecutor(docker_config(ws)) as executor:
        result = await executor.execute("id -un; touch made; echo $HOME")
    assert result.stdout.split() == ["massgen", "/home/massgen"]
    assert (ws / "made").stat().st_uid == 1000


async def test_workspace_of_another_uid_runs_as_that_uid_with_a_private_home(tmp_path):
    ws = shared_dir(tmp_path, uid=1234)
    os.chmod(ws, 0o700)
    async with DockerExecutor(docker_config(ws)) as executor:
        result = await executor.execute("id -u; touch made; echo $HOME; touch $HOME/.cfg && echo home-ok")
    assert result.stdout.split() == ["1234", "/home/massgen", "home-ok"], result.stderr
    assert (ws / "made").stat().st_uid == 1234


async def test_leftover_of_a_dead_owner_is_replaced(workspace):
    config = docker_config(workspace)
    proc = subprocess.Popen(["sleep", "0"])
    proc.wait()
    dead = Owner(Owner.current().host, proc.pid, "1")
    subprocess.run([docker_binary(), "run", "-d", "--name", config.container_name, "--label", "io.mgexec.managed=true",
                    "--label", "io.mgexec.kept=false", *sum((["--label", f"{k}={v}"] for k, v in dead.labels().items()), []),
                    "massgen/mcp-runtime:latest"], check=True, capture_output=True)
    old_id = inspect(config.container_name)["Id"]
    async with DockerExecutor(config) as executor:
        assert inspect(executor.container)["Id"] != old_id
        assert (await executor.execute("true")).success


async def test_container_of_a_live_owner_is_never_touched(workspace):
    config = docker_config(workspace)
    first = DockerExecutor(config)
    await first.start()
    try:
        old_id = inspect(config.container_name)["Id"]
        with pytest.raises(ContainerConflict, match="in use by another mgexec process"):
            await DockerExecutor(config).start()
        assert inspect(config.container_name)["Id"] == old_id
    finally:
        await first.close()


async def test_foreign_container_with_the_name_is_left_alone(workspace):
    config = docker_config(workspace)
    subprocess.run([docker_binary(), "run", "-d", "--name", config.container_name, "massgen/mcp-runtime:latest"],
                   check=True, capture_output=True)
    try:
        with pytest.raises(ContainerConflict, match="mgexec did not create"):
            await DockerExecutor(config).start()
        assert exists(config.container_name)
    finally:
        remove(config.container_name)


async def test_missing_image_names_the_build_command(workspace):
    config = docker_config(workspace, docker_image="mgexec-test/none:1")
    with pytest.raises(ImageNotFound, match="`mgexec-test/none:1` is not available.*docker build -t mgexec-test/none:1"):
        await DockerExecutor(config).start()
    assert not exists(config.container_name)


async def test_daemon_down_is_a_clear_error(workspace, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DockerUnavailable, match="cannot reach the container engine"):
        await DockerExecutor(docker_config(workspace)).start()


async def test_custom_image_missing_layout_is_named(workspace):
    from dockerutil import ensure_test_image

    image = ensure_test_image()  # has user massgen 1000 and /workspace, but not /context or /temp_workspaces
    config = docker_config(workspace, docker_image=image)
    with pytest.raises(ImageInvalid, match=r"directory /context is missing; directory /temp_workspaces is missing"):
        await DockerExecutor(config).start()
    assert not exists(config.container_name)


async def test_custom_image_without_long_running_cmd(workspace, tmp_path):
    ctx = tmp_path / "img"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM massgen/mcp-runtime:latest\nCMD [\"true\"]\n")
    subprocess.run([docker_binary(), "build", "-q", "-t", "mgexec-test/short-cmd:1", str(ctx)], check=True, capture_output=True)
    config = docker_config(workspace, docker_image="mgexec-test/short-cmd:1")
    with pytest.raises(ImageInvalid, match="long-running CMD"):
        await DockerExecutor(config).start()
    assert not exists(config.container_name)


async def test_sudo_image_allows_sudo_and_chmod(workspace):
    require_image(DEFAULT_SUDO_IMAGE)
    async with DockerExecutor(docker_config(workspace, enable_sudo=True)) as executor:
        result = await executor.execute("sudo -n true && echo sudo-ok; touch f; chmod 600 f && echo chmod-ok")
        image = inspect(executor.container)["Config"]["Image"]
    assert result.stdout.split() == ["sudo-ok", "chmod-ok"], result.stderr
    assert image == DEFAULT_SUDO_IMAGE


async def test_close_cancels_commands_in_flight(workspace):
    executor = DockerExecutor(docker_config(workspace))
    await executor.start()
    task = asyncio.create_task(executor.execute("echo $$ > pid; sleep 300"))
    for _ in range(100):
        if (workspace / "pid").exists() and (workspace / "pid").read_text().strip():
            break
        await asyncio.sleep(0.05)
    await executor.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not exists(executor.container)
