"""Processes that try to escape the kill (new session, new group, double fork, daemon, fork loop, TERM
ignored) die with their command or shell, in every mode; checked by PID, inside the container for docker.
A command's end, timeout and cancel, and a shell's kill, are checked in every runtime and launcher by
test_contract_commands.py and test_contract_shells.py; here: concurrent commands, a shell that ends on its
own, an owner that is SIGKILLed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dockermode import in_container
from dockerutil import docker_binary
from escapeshapes import SHAPES, appear, gone, new_token, shape
from mgexec import processes
from mgexec.config import ExecConfig
from mgexec.executors.local import LocalExecutor
from mgexec.shells import BackgroundShellManager, LocalLauncher
from procutil import with_token

REPO = Path(__file__).resolve().parents[1]

# --- local mode ------------------------------------------------------------------------------------

@pytest.fixture
async def local(tmp_path):
    # As `mgexec serve` and `mgexec exec` run: this process owns its children, orphans come back to it.
    processes.become_subreaper()
    try:
        async with LocalExecutor(ExecConfig(workspace=tmp_path)) as executor:
            yield executor
    finally:
        processes.stop_being_subreaper()


async def concurrent_check(executor, find) -> None:
    # A sweep at the end of one command takes what that command left, never what a command still
    # running started: its children that left the group (setsid) and its orphans that kept its session.
    token = new_token()
    keep = (f"setsid bash -c 'exec -a {token} sleep 300' & ( bash -c 'exec -a {token} sleep 300' & ) & "
            "sleep 300")
    other = asyncio.create_task(executor.execute(keep, timeout=60))
    deadline = time.monotonic() + 15
    while len(seen := await asyncio.to_thread(find, token)) < 2:
        assert time.monotonic() < deadline, f"only {seen} started"
        await asyncio.sleep(0.05)
    for _ in range(3):
        assert (await executor.execute(shape("double-fork-setsid", new_token()) + "\nsleep 0.3")).exit_code == 0
    assert sorted(await asyncio.to_thread(find, token)) == sorted(seen)
    other.cancel()
    await asyncio.gather(other, return_exceptions=True)
    # A loaded machine can take seconds to deliver the kill (one run at load 20 overran 3 s); what truly
    # escaped sleeps 300 s, so 10 s still tells the two apart, and the message says what was left.
    left = await gone(find, token, seconds=10)
    assert left == [], [describe_pid(pid) for pid in left]


def describe_pid(pid: int) -> str:
    """A leftover's command line and its state, parent, group and session (from /proc/PID/stat)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return f"{pid}: {cmdline.strip()} (state {fields[0]}, ppid {fields[1]}, pgid {fields[2]}, sid {fields[3]})"
    except OSError:
        return f"{pid}: gone while being described"


async def test_local_concurrent_command_keeps_its_own_processes(local):
    await concurrent_check(local, with_token)


async def test_local_shell_that_ends_leaves_nothing(tmp_path):
    token = new_token()
    manager = BackgroundShellManager(LocalLauncher(), kill_grace=1.0)
    try:
        shell = await manager.start(f"{shape('double-fork-setsid', token)}\nsleep 1", str(tmp_path))
        await appear(with_token, token)
        deadline = time.monotonic() + 20
        while (await manager.status(shell["shell_id"]))["status"] == "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert await gone(with_token, token) == []
    finally:
        await manager.close()


LOCAL_OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from mgexec.shells import BackgroundShellManager, LocalLauncher

async def main():
    shells = BackgroundShellManager(LocalLauncher())
    for command in {commands!r}:
        await shells.start(command, {work_dir!r})
    print("started", flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


def sigkill_owner(script: str, tmp_path: Path, find, token: str) -> list[int]:
    """Run an owner script, wait for its escapes, SIGKILL it; the pids with the token still running after."""
    path = tmp_path / "owner.py"
    path.write_text(script)
    owner = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "started"
        seen = asyncio.run(appear(find, token))
        time.sleep(0.5)  # let every shape reach its escape
        owner.kill()
        owner.wait()
        left = asyncio.run(gone(find, token, seconds=15))
        assert seen and left == [], f"still running after the owner's SIGKILL: {left}"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()


@pytest.mark.slow
def test_local_shells_escapes_die_with_a_sigkilled_server(tmp_path):
    token = new_token()
    commands = [f"{shape(name, token)}\nsleep 300" for name in SHAPES]
    sigkill_owner(LOCAL_OWNER.format(repo=str(REPO), commands=commands, work_dir=str(tmp_path)), tmp_path,
                  with_token, token)


# --- docker mode -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workspace_1000():
    from dockermode import require_image

    require_image()
    path = Path("/tmp/mgexec-tests") / f"escapes-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True, mode=0o755)
    os.chmod(path.parent, 0o755)
    os.chown(path, 1000, 1000)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.docker
async def test_docker_warm_concurrent_command_keeps_its_own_processes(workspace_1000):
    from dockermode import docker_config
    from mgexec.executors.docker import DockerExecutor

    async with DockerExecutor(docker_config(workspace_1000), warm_channel=True) as executor:
        await concurrent_check(executor, in_container(executor.container))


@pytest.fixture(scope="module")
def docker_agent(workspace_1000):
    from dockermode import docker_config
    from mgexec.executors.docker import DockerExecutor

    executor = DockerExecutor(docker_config(workspace_1000), warm_channel=False)
    asyncio.run(executor.open())
    yield executor
    asyncio.run(executor.close())


DOCKER_OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from mgexec.docker.engine import DockerCLI
from mgexec.shells import BackgroundShellManager
from mgexec.shells.docker_launcher import DockerLauncher

async def main():
    shells = BackgroundShellManager(DockerLauncher(cli=DockerCLI({docker!r}), container={container!r}))
    for command in {commands!r}:
        await shells.start(command, {work_dir!r})
    print("started", flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


@pytest.mark.docker
@pytest.mark.slow
def test_docker_shells_escapes_die_with_a_sigkilled_server_in_a_kept_container(docker_agent, workspace_1000,
                                                                                 tmp_path):
    # The container is not the owner's, so the guard cannot remove it: it must sweep every tree.
    token = new_token()
    commands = [f"{shape(name, token)}\nsleep 300" for name in SHAPES]
    script = DOCKER_OWNER.format(repo=str(REPO), docker=docker_binary(), container=docker_agent.container, commands=commands,
                                 work_dir=str(workspace_1000))
    sigkill_owner(script, tmp_path, in_container(docker_agent.container), token)


LOCAL_COMMAND_OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from mgexec import processes
from mgexec.config import ExecConfig
from mgexec import processes
from mgexec.executors.local import LocalExecutor

async def main():
    processes.become_subreaper()  # as `mgexec serve` does
    executor = LocalExecutor(ExecConfig(workspace=Path({work_dir!r})))
    await executor.start()
    assert (executor.watchdog.cgroup is not None) == {cgroup!r}, executor.watchdog.mechanism()
    running = [asyncio.create_task(executor.execute(command, timeout=300)) for command in {commands!r}]
    print("started", flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""
# Without a cgroup, an orphan the server had adopted goes to init when the server dies: only what
# stayed in a command's tree, session or group is found then.
TREE_SHAPES = [name for name in SHAPES if name not in ("double-fork-setsid", "daemon-env-i")]


@pytest.mark.slow
@pytest.mark.parametrize("cgroup", [True, False], ids=["cgroup", "trees"])
def test_local_commands_die_with_a_sigkilled_server(tmp_path, monkeypatch, cgroup):
    from mgexec.local_watchdog import make_cgroup

    if cgroup:
        probe = make_cgroup()
        if probe is None:
            pytest.skip("no writable cgroup v2 with cgroup.kill on this machine")
        os.rmdir(probe)
    else:
        monkeypatch.setenv("MGEXEC_CGROUP", "off")
    token = new_token()
    commands = [f"{shape(name, token)}\nsleep 300" for name in (SHAPES if cgroup else TREE_SHAPES)]
    script = LOCAL_COMMAND_OWNER.format(repo=str(REPO), work_dir=str(tmp_path), commands=commands, cgroup=cgroup)
    sigkill_owner(script, tmp_path, with_token, token)


CHANNEL_OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from mgexec.docker.channel import ExecChannel
from mgexec.docker.engine import DockerCLI

async def main():
    channel = await ExecChannel.open(DockerCLI({docker!r}), {container!r})
    running = [asyncio.create_task(channel.run(command, work_dir={work_dir!r}, timeout=300, output_cap=1000))
               for command in {commands!r}]
    print("started", flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


@pytest.mark.docker
@pytest.mark.slow
def test_docker_warm_commands_die_with_a_sigkilled_server_in_a_kept_container(docker_agent, workspace_1000,
                                                                               tmp_path):
    # The server's death closes the channel's stdin; the helper then kills every command's tree.
    token = new_token()
    commands = [f"{shape(name, token)}\nsleep 300" for name in SHAPES]
    script = CHANNEL_OWNER.format(repo=str(REPO), docker=docker_binary(), container=docker_agent.container, commands=commands,
                                  work_dir=str(workspace_1000))
    sigkill_owner(script, tmp_path, in_container(docker_agent.container), token)


EXEC_OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from mgexec.config import ExecConfig
from mgexec.executors.docker import DockerExecutor

async def main():
    executor = DockerExecutor(ExecConfig(workspace=Path({work_dir!r}), mode="docker", agent_id={agent!r}),
                              warm_channel=False)
    await executor.open()
    assert not executor.owned and executor.watchdog is not None
    running = [asyncio.create_task(executor.execute(command, timeout=300)) for command in {commands!r}]
    print("started", flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


@pytest.mark.docker
@pytest.mark.slow
def test_docker_exec_commands_die_with_a_sigkilled_server_in_a_kept_container(workspace_1000, tmp_path):
    # Without the warm channel, the guard sweeps the commands' tagged processes and what they
    # orphaned to PID 1 (the env -i daemon drops the tag) in a container kept by `mgexec up`.
    from dockermode import docker_config, remove
    from mgexec.executors.docker import DockerExecutor

    kept = DockerExecutor(docker_config(workspace_1000), keep=True)
    asyncio.run(kept.open())
    asyncio.run(kept.close())  # a kept container stays
    try:
        token = new_token()
        commands = [f"{shape(name, token)}\nsleep 300" for name in SHAPES]
        script = EXEC_OWNER.format(repo=str(REPO), work_dir=str(workspace_1000), agent=kept.config.agent_id,
                                   commands=commands)
        sigkill_owner(script, tmp_path, in_container(kept.container), token)
    finally:
        remove(kept.container)


@pytest.mark.docker
@pytest.mark.slow
def test_docker_exec_owner_sigkilled_without_shells_removes_its_container(workspace_1000, tmp_path):
    from dockermode import exists, remove

    agent = f"t{uuid.uuid4().hex[:10]}"
    script = EXEC_OWNER.replace("assert not executor.owned and", "assert executor.owned and").format(
        repo=str(REPO), work_dir=str(workspace_1000), agent=agent, commands=["sleep 300"])
    path = tmp_path / "owner.py"
    path.write_text(script)
    owner = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "started"
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 30
        while exists(f"massgen-{agent}"):
            assert time.monotonic() < deadline, "the container outlived its SIGKILLed owner by 30 s"
            time.sleep(0.2)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        remove(f"massgen-{agent}")


@pytest.mark.slow
def test_local_command_running_mgexec_dies_with_a_sigkilled_server(tmp_path):
    # A command that runs mgexec itself gets a cgroup nested in the server's: the server's kill takes it,
    # and the emptied cgroups are removed.
    from mgexec.local_watchdog import make_cgroup, own_cgroup_dir

    probe = make_cgroup()
    if probe is None:
        pytest.skip("no writable cgroup v2 with cgroup.kill on this machine")
    os.rmdir(probe)
    base = own_cgroup_dir()
    before = set(os.listdir(base))
    token = new_token()
    mgexec = Path(sys.executable).parent / "mgexec"
    inner = f"{mgexec} exec -- \"setsid bash -c 'exec -a {token} sleep 300' & sleep 300\""
    script = LOCAL_COMMAND_OWNER.format(repo=str(REPO), work_dir=str(tmp_path), commands=[inner], cgroup=True)
    sigkill_owner(script, tmp_path, with_token, token)
    deadline = time.monotonic() + 10
    while (made := set(os.listdir(base)) - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert made == set()
