"""Channel directories of containers that no longer exist are swept by `mgexec cleanup` (a real CLI
subprocess), never one of an existing container or of a start in progress, never through a link; every
test uses its own private XDG_RUNTIME_DIR, so the user's real channel root is never touched."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dockermode import docker_config, exists, inspect, remove, require_image, shared_dir
from dockerutil import docker_argv, docker_binary, require_docker_cli
from mgexec.docker import channel_socket
from mgexec.docker.channel_socket import channel_dir, channels_root, prepare_dir, root_lock
from mgexec.docker.channel_sweep import GRACE, sweep_stale
from mgexec.executors.docker import DockerExecutor
from mgexec.shells.docker_watchdog import CLOCK_SLACK, remove_channel_dir
from test_server import call, connect

MGEXEC = str(Path(sys.executable).parent / "mgexec")
LONG_AGO = 3600.0  # seconds a directory left by a dead server has been untouched (GRACE is 600)


def stale_dir(name: str, age: float = LONG_AGO) -> Path:
    """A channel directory as a dead start leaves it, last touched `age` seconds ago."""
    path = prepare_dir(name)
    assert path is not None
    backdate(path, age)
    return path


def backdate(path: Path, age: float) -> None:
    then = time.time() - age
    os.utime(path, (then, then), follow_symlinks=False)


def canary(tmp_path: Path, name: str) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "keep").write_text("still here")
    return directory


def cleanup(env: dict | None = None) -> subprocess.CompletedProcess:
    """`mgexec cleanup` as users run it, with this test's runtime dir."""
    return subprocess.run([MGEXEC, "cleanup"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


# Without an engine: the sweep itself, given the names the engine listed.

def test_only_old_directories_of_unlisted_names_go(runtime_dir):
    gone, listed, fresh = stale_dir("massgen-gone"), stale_dir("massgen-listed"), stale_dir("massgen-new", age=5)
    other = channels_root() / "notes"  # not a name mgexec gives a directory
    other.mkdir()
    backdate(other, LONG_AGO)
    result = sweep_stale(["massgen-listed", "someone-else"], time.time())
    assert result.removed == 1 and result.skipped is None
    assert not gone.exists() and listed.is_dir() and fresh.is_dir() and other.is_dir()


def test_the_grace_counts_back_from_when_the_engine_was_listed(runtime_dir):
    path = stale_dir("massgen-x", age=GRACE + 60)
    assert sweep_stale([], time.time() - 120).removed == 0  # touched only 60 s before that listing began
    assert path.is_dir()
    assert sweep_stale([], time.time()).removed == 1


def test_a_start_refreshes_an_old_directory_so_the_sweep_keeps_it(runtime_dir):
    path = stale_dir("massgen-again")
    assert prepare_dir("massgen-again") == path  # what a new start of the same container does first
    assert sweep_stale([], time.time()).removed == 0 and path.is_dir()


def test_links_are_never_followed(runtime_dir, tmp_path):
    outside, inside = canary(tmp_path, "outside"), canary(tmp_path, "inside")
    stale = stale_dir("massgen-stale")
    planted = channels_root() / channel_dir("massgen-planted").name  # a name the sweep would take
    planted.symlink_to(outside, target_is_directory=True)
    backdate(planted, LONG_AGO)
    (stale / "link").symlink_to(inside, target_is_directory=True)
    backdate(stale, LONG_AGO)
    assert sweep_stale([], time.time()).removed == 1
    assert not stale.exists() and planted.is_symlink()  # a link is not a directory of ours: left alone
    assert (outside / "keep").read_text() == (inside / "keep").read_text() == "still here"


def test_a_root_someone_else_could_write_to_is_not_touched(runtime_dir):
    path = stale_dir("massgen-x")
    channels_root().chmod(0o777)
    result = sweep_stale([], time.time())
    assert result.removed == 0 and "not a directory private to this user" in result.skipped and path.is_dir()


def test_a_sweep_and_a_start_never_overlap(runtime_dir):
    """The sweep decides under an exclusive lock on the root, a start touches its directory under a shared one;
    neither waits: a sweep meeting a start sweeps nothing, a start meeting a sweep uses the stdio frames."""
    path = stale_dir("massgen-x")
    with root_lock(channels_root(), exclusive=False) as starting:
        assert starting is not None
        result = sweep_stale([], time.time())
    assert result.removed == 0 and "run `mgexec cleanup` again" in result.skipped and path.is_dir()
    with root_lock(channels_root(), exclusive=True) as sweeping:
        assert sweeping is not None
        assert prepare_dir("massgen-y") is None
    assert prepare_dir("massgen-y") is not None


def test_remove_dir_leaves_a_planted_root_alone(runtime_dir, tmp_path):
    """A container's removal deletes its directory only inside the private root (a planted root could point
    anywhere)."""
    target = tmp_path / "elsewhere"
    (target / channel_dir("massgen-x").name).mkdir(parents=True)
    (runtime_dir / "mgexec").mkdir(mode=0o700)
    channels_root().symlink_to(target, target_is_directory=True)
    channel_socket.remove_dir("massgen-x")
    assert (target / channel_dir("massgen-x").name).is_dir()


def test_an_unreachable_engine_sweeps_nothing_and_says_so(runtime_dir):
    require_docker_cli()
    path = stale_dir("massgen-x")
    nowhere = f"unix://{runtime_dir}/no-engine.sock"
    proc = cleanup({"DOCKER_HOST": nowhere, "CONTAINER_HOST": nowhere})
    assert proc.returncode != 0 and "No channel directory was swept" in proc.stderr
    assert "Traceback" not in proc.stderr and path.is_dir()


# With the engine.

def _owner_pid(container: str) -> int:
    return int(inspect(container)["Config"]["Labels"]["io.mgexec.owner.pid"])


@pytest.mark.docker
async def test_cleanup_takes_a_sigkilled_server_s_container_and_directory_and_only_stale_others(runtime_dir,
                                                                                                tmp_path):
    require_image()
    agent = f"sweep{uuid.uuid4().hex[:8]}"
    config = tmp_path / "agent.yaml"
    config.write_text(f"agent:\n  id: {agent}\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n")
    killed, stopped = f"massgen-{agent}", f"other-{agent}"
    live = DockerExecutor(docker_config(shared_dir(tmp_path, uid=1000)))
    outside, inside = canary(tmp_path, "outside"), canary(tmp_path, "inside")
    try:
        async with connect(tmp_path, "--config", str(config), env=dict(os.environ)) as session:
            assert (await call(session, "execute_command", command="echo hi"))["stdout"] == "hi\n"
            server_pid = _owner_pid(killed)
            assert "serve" in Path(f"/proc/{server_pid}/cmdline").read_bytes().decode()  # ours to kill
            os.kill(server_pid, signal.SIGKILL)
        assert exists(killed) and channel_dir(killed).is_dir()  # what a killed server leaves behind
        await live.start()
        assert channel_dir(live.deployment.name).is_dir()
        backdate(channel_dir(live.deployment.name), LONG_AGO)  # its age alone never lets it go
        stale, fresh = stale_dir(f"massgen-{agent}-gone"), stale_dir(f"massgen-{agent}-new", age=5)
        (stale / "link").symlink_to(inside, target_is_directory=True)
        backdate(stale, LONG_AGO)
        planted = channels_root() / channel_dir(f"massgen-{agent}-planted").name
        planted.symlink_to(outside, target_is_directory=True)
        subprocess.run(docker_argv("create", "--name", stopped, "massgen/mcp-runtime:latest"), check=True,
                       capture_output=True)  # never started, and no label of mgexec's: it exists all the same
        stopped_dir = stale_dir(stopped)

        proc = cleanup()
        assert proc.returncode == 0, proc.stderr
        assert killed in proc.stdout.splitlines()[0]
        assert proc.stdout.splitlines()[1] == f"Removed 1 stale channel directory from {channels_root()}."
        assert not exists(killed) and not channel_dir(killed).exists() and not stale.exists()
        assert exists(live.deployment.name) and channel_dir(live.deployment.name).is_dir() and fresh.is_dir()
        assert stopped_dir.is_dir()
        assert planted.is_symlink() and (outside / "keep").is_file() and (inside / "keep").is_file()
        assert (await live.execute("echo still")).stdout == "still\n"
    finally:
        await live.close()
        remove(killed)
        remove(stopped)
    assert not channel_dir(live.deployment.name).exists()  # its own close takes it, as before


@pytest.mark.docker
async def test_a_start_replacing_a_dead_owner_s_container_replaces_its_directory(runtime_dir, tmp_path):
    require_image()
    config = docker_config(shared_dir(tmp_path, uid=1000))
    name = config.container_name
    dead = subprocess.Popen(["true"])
    dead.wait()
    labels = {"io.mgexec.managed": "true", "io.mgexec.kept": "false", "io.mgexec.agent": config.agent_id,
              "io.mgexec.owner.host": os.uname().nodename, "io.mgexec.owner.pid": str(dead.pid),
              "io.mgexec.owner.start": "1"}
    subprocess.run(docker_argv("run", "-d", "--name", name, *sum((["--label", f"{k}={v}"] for k, v in labels.items()),
                                                                 []), "massgen/mcp-runtime:latest"),
                   check=True, capture_output=True)
    left = stale_dir(name)
    (left / "left-by-the-dead-server").write_text("")
    executor = DockerExecutor(config)
    try:
        await executor.start()
        assert _owner_pid(name) == os.getpid()  # replaced
        assert channel_dir(name).is_dir() and not (left / "left-by-the-dead-server").exists()
        assert (await executor.execute("echo ok")).stdout == "ok\n"
    finally:
        await executor.close()
        remove(name)


def gated_docker(tmp_path: Path) -> tuple[str, Path, Path]:
    """A docker CLI whose `run` waits until a gate file exists (a start caught between its mkdir and its
    container), and that logs the calls it got."""
    gate, log, script = tmp_path / "gate", tmp_path / "calls.log", tmp_path / "docker-gated"
    real = shutil.which(docker_binary())
    script.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\n'
                      f'if [ "$1" = run ]; then while [ ! -e "{gate}" ]; do sleep 0.05; done; fi\n'
                      f'exec "{real}" "$@"\n')
    script.chmod(0o755)
    return str(script), gate, log


@pytest.mark.docker
@pytest.mark.parametrize("warm", [True, False], ids=["helper-with-the-container", "no-channel"])
async def test_a_start_in_progress_keeps_its_old_directory_through_a_cleanup(runtime_dir, tmp_path, monkeypatch,
                                                                             warm):
    """A directory an earlier container left (old, no container) that a new start of the same name is about to
    mount: a cleanup while `docker run` is under way must not take it (without the helper's files nothing
    but the start's own touch makes it look fresh)."""
    require_image()
    env = dict(os.environ)  # the cleanup uses the real CLI
    binary, gate, log = gated_docker(tmp_path)
    monkeypatch.setenv("MGEXEC_DOCKER", binary)
    config = docker_config(shared_dir(tmp_path, uid=1000), docker_warm_channel=warm)
    path = stale_dir(config.container_name)
    executor = DockerExecutor(config)
    starting = asyncio.ensure_future(executor.start())
    try:
        while "run" not in (log.read_text().split() if log.exists() else []):
            assert not starting.done(), starting.exception()
            await asyncio.sleep(0.05)
        proc = await asyncio.to_thread(cleanup, env)
        assert proc.returncode == 0, proc.stderr
        assert "No stale channel directories." in proc.stdout and path.is_dir()
        gate.touch()
        await starting
        assert (await executor.execute("echo ok")).stdout == "ok\n"
        if warm:
            assert "exec" not in log.read_text().split()  # the helper came up through the kept directory
        mounts = {m["Destination"]: m["Source"] for m in inspect(config.container_name)["Mounts"]}
        assert mounts[channel_socket.INSIDE_DIR] == str(path)
    finally:
        gate.touch()
        await asyncio.gather(starting, return_exceptions=True)
        await executor.close()
        remove(config.container_name)


@pytest.mark.docker
def test_an_engine_elsewhere_sweeps_nothing_here(runtime_dir, tmp_path):
    """Through a docker context (as for an engine on another machine), this host's directories are not that
    engine's containers': cleanup still removes leftovers, and says why it swept nothing."""
    require_image()
    host = subprocess.run(docker_argv("context", "inspect", "--format", "{{.Endpoints.docker.Host}}"),
                          capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env.update(DOCKER_CONFIG=str(tmp_path / "docker-config"), DOCKER_CONTEXT="elsewhere")
    subprocess.run(docker_argv("context", "create", "elsewhere", "--docker", f"host={host}"), env=env,
                   capture_output=True, check=True)
    path = stale_dir("massgen-x")
    proc = subprocess.run([MGEXEC, "cleanup"], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].startswith("Channel directories not swept: the engine is not on this host")
    assert path.is_dir()


@pytest.mark.docker
async def test_the_watchdog_of_a_sigkilled_server_takes_its_directory_with_its_container(runtime_dir, tmp_path):
    """A server with a background shell has a watchdog that removes its container when it dies; the container's
    channel directory goes with it, without waiting for a cleanup."""
    require_image()
    agent = f"sweep{uuid.uuid4().hex[:8]}"
    config = tmp_path / "agent.yaml"
    config.write_text(f"agent:\n  id: {agent}\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n")
    name = f"massgen-{agent}"
    try:
        async with connect(tmp_path, "--config", str(config), env=dict(os.environ)) as session:
            started = await call(session, "start_background_shell", command="echo ready; sleep 300")
            out = await call(session, "get_background_shell_output", shell_id=started["shell_id"], wait_seconds=20,
                             wait_for="ready")
            assert out["matched"] and channel_dir(name).is_dir()
            server_pid = _owner_pid(name)
            assert "serve" in Path(f"/proc/{server_pid}/cmdline").read_bytes().decode()  # ours to kill
            os.kill(server_pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while (exists(name) or channel_dir(name).exists()) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        assert not exists(name) and not channel_dir(name).exists()
    finally:
        remove(name)


def test_the_watchdog_removes_only_a_directory_no_start_touched_since_its_removal_began(runtime_dir):
    """What the watchdog of a SIGKILLed server does after removing its container (no engine needed here)."""
    old, touched = stale_dir("massgen-old"), stale_dir("massgen-touched")
    began = time.time() - CLOCK_SLACK
    assert prepare_dir("massgen-touched") == touched  # a new start of that name claims it meanwhile
    with root_lock(channels_root(), exclusive=False):  # a start is making a directory right now
        remove_channel_dir(str(old), began)
    assert old.is_dir()
    remove_channel_dir(str(old), began)
    remove_channel_dir(str(touched), began)
    assert not old.exists() and touched.is_dir()
