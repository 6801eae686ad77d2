"""Background shells inside the agent's container, on a real engine: the launcher, pids inside, the guard,
images without tools, owner death. What shells do wherever they run is in test_contract_shells.py."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from procutil import pid_alive
from dockermode import alive_in_container, docker_config, exists, remove, require_image
from dockerutil import docker_binary, docker_cli, ensure_test_image, require_engine
from mgexec.docker.engine import DockerCLI
from mgexec.executors.docker import DockerExecutor
from mgexec.shells import BackgroundShellManager
from mgexec.inside.shell_wrapper import SHELL_WRAPPER as WRAPPER
from mgexec.shells.docker_launcher import DockerLauncher
from mgexec.shells.launcher import Handshake

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[1]


def massgen_workspace() -> Path:
    """A workspace owned by the image's user (UID 1000), so the container runs as massgen."""
    path = Path("/tmp/mgexec-tests") / f"shells-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True, mode=0o755)
    os.chmod(path.parent, 0o755)
    os.chown(path, 1000, 1000)
    return path


@pytest.fixture(scope="module")
def agent():
    """One agent container for the module, started and removed by mgexec's DockerExecutor."""
    require_image()
    workspace = massgen_workspace()
    executor = DockerExecutor(docker_config(workspace), warm_channel=False)
    asyncio.run(executor.open())
    yield executor, workspace
    asyncio.run(executor.close())
    shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture
async def manager(agent):
    executor, _ = agent
    shells = BackgroundShellManager(DockerLauncher(cli=executor.cli, container=executor.container,
                                                   owns_container=executor.owned), kill_grace=3.0)
    yield shells
    await shells.close()


@pytest.fixture
def container(agent) -> str:
    return agent[0].container


@pytest.fixture
def work_dir(agent) -> str:
    return str(agent[1])


def inside(container: str, script: str, *args: str) -> str:
    return subprocess.run([docker_binary(), "exec", container, "sh", "-c", script, "x", *args], capture_output=True,
                          text=True, check=True).stdout


def session_inside(container: str, sid: int) -> list[int]:
    """Pids inside the container whose session is sid (the tree of one shell)."""
    out = inside(container, "ps -e -o pid=,sid=")
    return [int(pid) for pid, s in (line.split() for line in out.splitlines()) if int(s) == sid]


async def tree_of(container: str, sid: int, size: int) -> list[int]:
    """The shell's session once it has `size` processes."""
    deadline = time.monotonic() + 10
    while len(tree := await asyncio.to_thread(session_inside, container, sid)) < size:
        assert time.monotonic() < deadline, f"session {sid} never grew to {size}: {tree}"
        await asyncio.sleep(0.05)
    return tree


def wait_gone_inside(container: str, pids: list[int], seconds: float = 5) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := alive_in_container(container, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


# --- the launcher's own surface ----------------------------------------------------------------

def test_argv_is_a_tty_exec_with_context_workdir_and_noninteractive_env():
    require_engine()
    launcher = DockerLauncher(cli=DockerCLI("docker", context="remote-ctx"), container="massgen-a1")
    try:
        assert launcher.argv_for("npm run dev", "/work/ws") == [
            "docker", "--context", "remote-ctx", "exec", "-i", "-t", "--workdir", "/work/ws",
            "-e", "PAGER=cat", "-e", "GIT_TERMINAL_PROMPT=0", "-e", "DEBIAN_FRONTEND=noninteractive",
            "-e", "TERM=dumb", "-e", f"MGEXEC_GUARD={launcher.watchdog_tag}",
            "massgen-a1", "/bin/sh", "-c", WRAPPER, "mgexec-shell", "npm run dev"]
        options = launcher.spawn_options("/work/ws")
        assert options.cwd is None and options.pass_fds == () and options.preexec_fn is not None
    finally:
        launcher.close()


@pytest.mark.parametrize(("pieces", "expected"), [
    ([b"\x1emgexec-pid 42\x1e\r\n"], Handshake(42, b"")),
    ([b"\x1emgexec-", b"pid 4", b"2\x1e", b"\r", b"\nhello\r\n"], Handshake(42, b"hello\r\n")),
    ([b"\x1emgexec-pid 7\x1e\r\nfirst output"], Handshake(7, b"first output")),
    ([b"\x1emgexec-pid 7\x1e\x1b[0m"], Handshake(7, b"\x1b[0m")),  # no line end at all: take what follows
    ([b"warning: x\r\n\x1emgexec-pid 9\x1e\r\n"], Handshake(9, b"warning: x\r\n")),
    ([b"\x1emgexec-pid 42 1234", b"56\x1e\r\nhi"], Handshake(42, b"hi", since=123456)),  # with its start time
])
def test_read_handshake(pieces, expected):
    require_engine()
    launcher = DockerLauncher(cli=docker_cli(), container="massgen-a1")
    try:
        data, results = b"", []
        for piece in pieces:
            data += piece
            results.append(launcher.read_handshake(data))
        assert results[:-1] == [None] * (len(pieces) - 1) and results[-1] == expected
        assert launcher.read_handshake(b"mgexec-pid 5\r\n") is None  # the output of `echo mgexec-pid 5`
    finally:
        launcher.close()


# --- shapes, output, input ---------------------------------------------------------------------

async def test_start_has_the_massgen_shape_and_the_pid_inside_the_container(manager, container, work_dir):
    started = await manager.start("echo $$; echo err >&2; sleep 300", work_dir)
    assert re.fullmatch(r"shell_[0-9a-f]{8}", started["shell_id"])
    assert (started["status"], started["command"], started["work_dir"]) == (
        "running", "echo $$; echo err >&2; sleep 300", work_dir)
    out = await manager.output(started["shell_id"], wait_seconds=20, wait_for="err\n")
    assert out["stdout"] == f"{started['pid']}\nerr\n"  # the shell's own $$ inside is the pid reported
    assert (await manager.status(started["shell_id"]))["pid"] == started["pid"]
    args = inside(container, 'cat /proc/$1/cmdline | tr "\\0" " "', str(started["pid"]))
    assert "sleep 300" in args and started["pid"] in session_inside(container, started["pid"])


# --- kills and limits --------------------------------------------------------------------------


async def test_flood_keeps_memory_bounded(agent, container, work_dir):
    executor, _ = agent
    cap = 1 << 20
    shells = BackgroundShellManager(DockerLauncher(cli=executor.cli, container=container), max_bytes=cap)
    flood = ("python3 -c \"import sys; line = b'x' * 1023 + b'\\n'; w = sys.stdout.buffer.write; "
             "[w(line) for _ in range(32 * 1024)]; w(b'END\\n')\"")
    try:
        shell_id = (await shells.start(flood, work_dir))["shell_id"]
        largest = 0
        while (out := await shells.output(shell_id, wait_seconds=1))["status"] == "running":
            largest = max(largest, len(out["stdout"].encode()))
        assert out["status"] == "stopped" and out["stdout"].endswith("x\nEND\n")
        assert max(largest, len(out["stdout"].encode())) <= cap
        # 32 MiB left the container (the terminal's "\r\n" arrives as "\n"); only the cap stayed.
        assert out["dropped_bytes"] + len(out["stdout"].encode()) == 32 * 1024 * 1024 + 4
    finally:
        await shells.close()


async def test_guard_sweeps_tagged_processes_and_bars_late_starts(agent, container, work_dir):
    # A shell whose pid the server never learnt (it died between the engine starting the shell
    # and the handshake arriving) is found by its tag; one the engine starts later refuses to run.
    executor, _ = agent
    launcher = DockerLauncher(cli=executor.cli, container=container)
    tag = ["-e", f"MGEXEC_GUARD={launcher.watchdog_tag}"]
    subprocess.run([docker_binary(), "exec", "-d", *tag, container, "sh", "-c", "setsid sleep 301"], check=True)
    deadline = time.monotonic() + 10
    while not (stray := inside(container, "pgrep -f 'sleep 301' || true").split()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    launcher.close()
    assert wait_gone_inside(container, [int(p) for p in stray], seconds=15) == []
    late = subprocess.run([docker_binary(), "exec", *tag, container, "/bin/sh", "-c", WRAPPER, "mgexec-shell",
                           "echo ran"], capture_output=True, text=True)
    assert (late.returncode, late.stdout) == (125, "")
    assert "has ended" in late.stderr


def guard_pids(tag: str) -> list[int]:
    """The live guards of the launcher with this tag (children of this process, in their own session)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0] == sys.executable.encode() and tag.encode() in argv and pid_alive(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def the_guard(tag: str) -> int:
    deadline = time.monotonic() + 10
    while len(pids := guard_pids(tag)) != 1:
        assert time.monotonic() < deadline, f"guards of {tag}: {pids}"
        time.sleep(0.02)
    return pids[0]


async def test_a_killed_guard_is_replaced(agent, container, work_dir):
    executor, _ = agent
    launcher = DockerLauncher(cli=executor.cli, container=container)
    shells = BackgroundShellManager(launcher)
    try:
        first = the_guard(launcher.watchdog_tag)
        os.kill(first, signal.SIGKILL)
        started = await shells.start("sleep 300 & sleep 300", work_dir)  # its pid goes to a new guard
        assert the_guard(launcher.watchdog_tag) != first
        tree = await tree_of(container, started["pid"], 3)
        launcher.close()  # not the manager: only the guard can end the tree now
        assert wait_gone_inside(container, tree, seconds=15) == []
    finally:
        await shells.close()


async def test_kill_without_pkill_in_the_image(tmp_path):
    # The fallback reads /proc; the tiny image has sh, sleep and cat, no ps, pkill or init.
    image = ensure_test_image()
    name = f"mgexec-shells-tiny-{uuid.uuid4().hex[:8]}"
    subprocess.run([docker_binary(), "run", "-d", "--name", name, "--cap-drop", "ALL", "--user", "1000:1000",
                    "--network", "none", image], check=True, capture_output=True)
    shells = BackgroundShellManager(DockerLauncher(cli=docker_cli(), container=name), kill_grace=1.0)
    try:
        started = await shells.start("set -m; sleep 300 & echo $!; sleep 300 & echo $!; wait", "/workspace")
        out = await shells.output(started["shell_id"], wait_seconds=20, wait_for=r"^\d+\n\d+\n")
        tree = [started["pid"], *map(int, out["stdout"].split())]
        assert (await shells.kill(started["shell_id"]))["signal"] == "SIGTERM"
        script = 'for p; do cat /proc/$p/stat 2>/dev/null; echo; done'
        states = inside(name, script, *map(str, tree)).split("\n")
        assert all(not line or line.rsplit(")", 1)[1].split()[0] == "Z" for line in states), states
    finally:
        await shells.close()
        remove(name)


# --- the server dies ---------------------------------------------------------------------------

OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from mgexec.config import ExecConfig
from mgexec.docker.engine import DockerCLI
from mgexec.executors.docker import DockerExecutor
from mgexec.shells import BackgroundShellManager
from mgexec.shells.docker_launcher import DockerLauncher

async def main():
    if {container!r}:
        cli, container, owned = DockerCLI({docker!r}), {container!r}, False
    else:
        executor = DockerExecutor(ExecConfig(workspace=Path({work_dir!r}), mode="docker", agent_id={agent!r}),
                                  warm_channel=False)
        await executor.open()
        cli, container, owned = executor.cli, executor.container, executor.owned
    shells = BackgroundShellManager(DockerLauncher(cli=cli, container=container, owns_container=owned))
    for command in ("sleep 300 & sleep 300", "trap '' HUP TERM; set -m; sleep 300 & sleep 300 & wait"):
        print(container, (await shells.start(command, {work_dir!r}))["pid"], flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


def sigkill_owner(tmp_path: Path, work_dir: str, container: str = "", agent: str = "") -> tuple[str, list[int]]:
    """Run an owner with two shells, SIGKILL it once their trees exist; (container, pids of the trees)."""
    script = tmp_path / "owner.py"
    script.write_text(OWNER.format(repo=str(REPO), docker=docker_binary(), work_dir=work_dir, container=container,
                                    agent=agent))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        lines = [owner.stdout.readline().split() for _ in range(2)]
        assert all(len(line) == 2 for line in lines), f"the owner did not start its shells: {lines}"
        name = lines[0][0]
        trees = [asyncio.run(tree_of(name, int(pid), 3)) for _, pid in lines]
        owner.kill()
        owner.wait()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    return name, [pid for tree in trees for pid in tree]


def test_sigkilled_owner_leaves_no_shell_and_no_container(tmp_path):
    require_image()
    workspace = massgen_workspace()
    agent = f"t{uuid.uuid4().hex[:10]}"
    try:
        name, tree = sigkill_owner(tmp_path, str(workspace), agent=agent)
        deadline = time.monotonic() + 15
        while exists(name):
            assert time.monotonic() < deadline, f"{name} still exists 15 s after its owner was SIGKILLed"
            time.sleep(0.1)
        assert tree  # the trees were there, and went with the container
    finally:
        remove(f"massgen-{agent}")
        shutil.rmtree(workspace, ignore_errors=True)


def test_sigkilled_owner_of_shells_in_a_kept_container_leaves_no_shell(tmp_path, container, work_dir):
    name, tree = sigkill_owner(tmp_path, work_dir, container=container)
    assert wait_gone_inside(name, tree, seconds=15) == []
    assert exists(name)  # not the owner's container: it stays
