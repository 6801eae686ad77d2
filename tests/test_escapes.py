"""Processes that try to escape the kill (new session, new group, double fork, daemon, fork loop, TERM
ignored) die with their command or shell, in every mode; checked by PID, inside the container for docker.
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

from mgexec import processes
from mgexec.config import ExecConfig
from mgexec.executors.local import LocalExecutor
from mgexec.shells import BackgroundShellManager, LocalLauncher
from procutil import pid_alive

REPO = Path(__file__).resolve().parents[1]

# Each shape starts at least one process whose command line holds the token T, by a different way
# out of the command's process group, session or tree.
DAEMON = ("import os, sys\n"
          "if os.fork(): os._exit(0)\n"
          "os.setsid()\n"
          "if os.fork(): os._exit(0)\n"
          "os.closerange(0, 1024)\n"
          "os.execvp('sleep', [sys.argv[1], '300'])\n")
SHAPES = {
    "setsid": "setsid bash -c 'exec -a T sleep 300' &",
    "double-fork-setsid": "( setsid bash -c 'exec -a T sleep 300' & ) &",
    "python-setpgid": "python3 -c 'import os, sys; os.setpgid(0, 0); os.execvp(\"sleep\", [sys.argv[1], \"300\"])' T &",
    "perl-setpgrp": "perl -e 'setpgrp; exec {\"sleep\"} $ARGV[0], \"300\"' T &",
    "daemon-env-i": f"env -i python3 -c \"{DAEMON}\" T",
    "nohup-disown": "nohup bash -c 'exec -a T sleep 300' >/dev/null 2>&1 & disown",
    "fork-loop": "(exec -a T bash -c 'while :; do setsid bash -c \"exec -a T sleep 0.5\" & sleep 0.005; done') &",
    "ignores-term": "bash -c 'trap \"\" TERM; exec -a T sleep 300' &",
}


def shape(name: str, token: str) -> str:
    return SHAPES[name].replace("T", token) if name != "daemon-env-i" else SHAPES[name][:-1] + token


def new_token() -> str:
    return f"mgx-esc-{uuid.uuid4().hex[:10]}"


def with_token(token: str) -> list[int]:
    """Live host processes whose command line holds token (zombies count as gone)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline and pid_alive(int(name)):
            found.append(int(name))
    return found


async def appear(find, token: str, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while not (pids := await asyncio.to_thread(find, token)):
        assert time.monotonic() < deadline, f"no process with {token} ever appeared"
        await asyncio.sleep(0.05)
    return pids


async def gone(find, token: str, seconds: float = 3.0) -> list[int]:
    """What still runs with the token after up to `seconds` (the kill itself is done before the result)."""
    deadline = time.monotonic() + seconds
    while (pids := await asyncio.to_thread(find, token)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return pids


async def run_and_check(executor, find, name: str, *, timeout: float | None) -> None:
    """Run a shape, see its escaped process appear, and check nothing of it is left once the result is in."""
    token = new_token()
    tail = "sleep 300" if timeout else "sleep 1"
    task = asyncio.create_task(executor.execute(f"{shape(name, token)}\n{tail}", timeout=timeout or 60))
    seen = await appear(find, token)
    result = await task
    assert result.timed_out == bool(timeout), result
    assert await gone(find, token) == [], f"{name}: {seen} started, still running after the command ended"


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


@pytest.mark.parametrize("name", SHAPES)
async def test_local_command_end_kills_escapes(local, name):
    await run_and_check(local, with_token, name, timeout=None)


@pytest.mark.parametrize("name", SHAPES)
async def test_local_timeout_kills_escapes(local, name):
    await run_and_check(local, with_token, name, timeout=2)


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
    assert await gone(find, token) == []


async def test_local_concurrent_command_keeps_its_own_processes(local):
    await concurrent_check(local, with_token)


async def shell_check(manager, find, name: str, work_dir: str) -> None:
    token = new_token()
    shell = await manager.start(f"{shape(name, token)}\nsleep 300", work_dir)
    seen = await appear(find, token)
    killed = await manager.kill(shell["shell_id"])
    assert killed["status"] == "killed"
    assert await gone(find, token) == [], f"{name}: {seen} started, still running after the shell was killed"


@pytest.mark.parametrize("name", SHAPES)
async def test_local_shell_kill_kills_escapes(tmp_path, name):
    manager = BackgroundShellManager(LocalLauncher(), kill_grace=1.0)
    try:
        await shell_check(manager, with_token, name, str(tmp_path))
    finally:
        await manager.close()


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

def in_container(container: str):
    """A finder of live processes inside the container whose command line holds a token (read as root)."""
    # The token is passed in two pieces, so this script's own command line never matches it.
    script = ('want="$1$2"; for p in /proc/[0-9]*; do '
              'c=$(tr "\\0" " " < "$p/cmdline" 2>/dev/null) || continue; case "$c" in *"$want"*) '
              'read -r st < "$p/stat" 2>/dev/null || continue; st=${st##*") "}; '
              '[ "${st%% *}" != Z ] && echo "${p#/proc/}";; esac; done; true')

    def find(token: str) -> list[int]:
        head, tail = token[:8], token[8:]
        for _ in range(3):  # a loaded engine now and then fails one exec; the listing itself cannot fail
            out = subprocess.run(["docker", "exec", "--user", "0", container, "sh", "-c", script, "x", head, tail],
                                 capture_output=True, text=True)
            if out.returncode == 0:
                return [int(pid) for pid in out.stdout.split()]
            time.sleep(0.2)
        raise AssertionError(f"cannot list processes in {container}: {out.stderr}")

    return find


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


@pytest.fixture(params=["warm", "exec"])
async def docker_executor(request, workspace_1000):
    from dockermode import docker_config
    from mgexec.executors.docker import DockerExecutor

    executor = DockerExecutor(docker_config(workspace_1000), warm_channel=request.param == "warm")
    async with executor:
        assert (executor.channel is not None) == (request.param == "warm")
        yield executor


@pytest.mark.docker
@pytest.mark.parametrize("name", SHAPES)
async def test_docker_command_end_kills_escapes(docker_executor, name):
    await run_and_check(docker_executor, in_container(docker_executor.container), name, timeout=None)


@pytest.mark.docker
@pytest.mark.parametrize("name", SHAPES)
async def test_docker_timeout_kills_escapes(docker_executor, name):
    await run_and_check(docker_executor, in_container(docker_executor.container), name, timeout=3)


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


@pytest.mark.docker
@pytest.mark.parametrize("name", SHAPES)
async def test_docker_shell_kill_kills_escapes(docker_agent, workspace_1000, name):
    from mgexec.shells.docker_launcher import DockerLauncher

    launcher = DockerLauncher(cli=docker_agent.cli, container=docker_agent.container)
    manager = BackgroundShellManager(launcher, kill_grace=1.0)
    try:
        await shell_check(manager, in_container(docker_agent.container), name, str(workspace_1000))
    finally:
        await manager.close()


DOCKER_OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from mgexec.docker.engine import DockerCLI
from mgexec.shells import BackgroundShellManager
from mgexec.shells.docker_launcher import DockerLauncher

async def main():
    shells = BackgroundShellManager(DockerLauncher(cli=DockerCLI(), container={container!r}))
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
    script = DOCKER_OWNER.format(repo=str(REPO), container=docker_agent.container, commands=commands,
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
    channel = await ExecChannel.open(DockerCLI(), {container!r})
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
    script = CHANNEL_OWNER.format(repo=str(REPO), container=docker_agent.container, commands=commands,
                                  work_dir=str(workspace_1000))
    sigkill_owner(script, tmp_path, in_container(docker_agent.container), token)


@pytest.mark.docker
@pytest.mark.parametrize("name", SHAPES)
async def test_docker_cancel_kills_escapes(docker_executor, name):
    # A cancelled call (the client gave up, the session ends) stops the command inside too.
    find, token = in_container(docker_executor.container), new_token()
    task = asyncio.create_task(docker_executor.execute(f"{shape(name, token)}\nsleep 300", timeout=60))
    seen = await appear(find, token)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await gone(find, token, seconds=5) == [], f"{name}: {seen} started, still running after the cancel"


@pytest.mark.parametrize("name", SHAPES)
async def test_local_cancel_kills_escapes(local, name):
    token = new_token()
    task = asyncio.create_task(local.execute(f"{shape(name, token)}\nsleep 300", timeout=60))
    seen = await appear(with_token, token)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await gone(with_token, token) == [], f"{name}: {seen} started, still running after the cancel"


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
