"""Docker mode through the `mgexec` command and the MCP server: up/down/ps/cleanup, examples, a remote engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockermode import exists, inspect, remove, require_image
from dockerutil import docker_binary
from mgexec.config import list_examples, load_configs
from test_server import call, connect

pytestmark = pytest.mark.docker

MGEXEC = str(Path(sys.executable).parent / "mgexec")


@pytest.fixture(autouse=True)
def _image():
    require_image()


def run(args, cwd, env=None, timeout=300):
    return subprocess.run([MGEXEC, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


def write_config(tmp_path: Path, agent: str, extra: str = "") -> str:
    path = tmp_path / f"{agent}.yaml"
    path.write_text(f"agent:\n  id: {agent}\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n{extra}")
    return str(path)


def test_exec_in_docker_mode_creates_and_removes_a_container(tmp_path):
    cfg = write_config(tmp_path, "cli_once")
    proc = run(["exec", "--config", cfg, "--json", "--", "cat /etc/os-release | head -1; pwd"], tmp_path)
    data = json.loads(proc.stdout)
    assert data["success"] and data["stdout"].endswith(f"{tmp_path / 'ws'}\n")
    assert not exists("massgen-cli_once")


def test_up_exec_reuses_down_removes_and_ps_lists(tmp_path):
    cfg = write_config(tmp_path, "cli_up")
    remove("massgen-cli_up")
    try:
        assert "is up" in run(["up", "--config", cfg], tmp_path).stdout
        container_id = inspect("massgen-cli_up")["Id"]
        assert "already up" in run(["up", "--config", cfg], tmp_path).stdout
        first = run(["exec", "--config", cfg, "--", "echo 1 > /tmp/mark; hostname"], tmp_path)
        second = run(["exec", "--config", cfg, "--", "cat /tmp/mark; hostname"], tmp_path)
        assert first.returncode == 0 and second.stdout.split() == ["1", first.stdout.strip()]
        assert inspect("massgen-cli_up")["Id"] == container_id
        listing = run(["ps"], tmp_path).stdout
        assert "massgen-cli_up" in listing and "kept (mgexec up)" in listing
        assert "removed" in run(["down", "--config", cfg], tmp_path).stdout
        assert not exists("massgen-cli_up")
        assert "not running" in run(["down", "--config", cfg], tmp_path).stdout
    finally:
        remove("massgen-cli_up")


def test_cleanup_removes_leftovers_of_dead_owners_only(tmp_path):
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    labels = {"io.mgexec.managed": "true", "io.mgexec.kept": "false", "io.mgexec.agent": "left",
              "io.mgexec.owner.host": os.uname().nodename, "io.mgexec.owner.pid": str(dead_pid.pid),
              "io.mgexec.owner.start": "1"}
    args = sum((["--label", f"{k}={v}"] for k, v in labels.items()), [])
    subprocess.run([docker_binary(), "run", "-d", "--name", "massgen-leftover_x", *args, "massgen/mcp-runtime:latest"],
                   check=True, capture_output=True)
    live = {**labels, "io.mgexec.owner.pid": str(os.getpid()),
            "io.mgexec.owner.start": Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]}
    args = sum((["--label", f"{k}={v}"] for k, v in live.items()), [])
    subprocess.run([docker_binary(), "run", "-d", "--name", "massgen-held_x", *args, "massgen/mcp-runtime:latest"],
                   check=True, capture_output=True)
    try:
        listing = run(["ps"], tmp_path).stdout
        assert "(gone: leftover)" in listing
        runtime = tmp_path / "runtime"  # its channel sweep must not reach the user's real root
        runtime.mkdir(mode=0o700)
        out = run(["cleanup"], tmp_path, env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}).stdout
        assert "massgen-leftover_x" in out and "massgen-held_x" not in out
        assert out.splitlines()[1] == "No stale channel directories."
        assert not exists("massgen-leftover_x") and exists("massgen-held_x")
    finally:
        remove("massgen-leftover_x")
        remove("massgen-held_x")


def test_build_script_is_reachable_from_the_cli(tmp_path):
    proc = run(["build", "--", "--help"], tmp_path)
    assert proc.returncode == 0 and "--bootstrap" in proc.stdout


DOCKER_EXAMPLES = [n for n in list_examples() if n.startswith("docker_")]


@pytest.mark.parametrize("name", DOCKER_EXAMPLES)
def test_every_docker_example_runs_a_command(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    configs = load_configs(f"@examples/{name}")
    if "custom_image" in name:
        _build_custom_example(configs[0].image)
    if any(c.enable_sudo for c in configs):
        require_image("massgen/mcp-runtime-sudo:latest")
    for config in configs:
        proc = run(["exec", "--config", f"@examples/{name}", "--agent", config.agent_id, "--", "id -u; pwd"],
                   tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split()[-1] == str(config.workspace)


def _build_custom_example(tag: str) -> None:
    have = subprocess.run([docker_binary(), "image", "inspect", tag], capture_output=True)
    if have.returncode == 0:
        return
    dockerfiles = Path(__file__).resolve().parents[1] / "dockerfiles"
    build = subprocess.run([str(dockerfiles / "build.sh"), "--file", str(dockerfiles / "Dockerfile.custom-example"),
                            "-n", tag.split(":")[0], "-t", tag.split(":")[1]],
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]


async def test_mcp_server_in_docker_mode(tmp_path):
    cfg = write_config(tmp_path, "mcp_docker")
    remove("massgen-mcp_docker")
    async with connect(tmp_path, "--config", cfg) as session:
        # The container is made once the handshake is answered; the first command waits for it.
        data = await call(session, "execute_command", command="ls /sys/class/net; pwd")
        assert exists("massgen-mcp_docker")
    assert data["stdout"] == f"lo\n{tmp_path / 'ws'}\n"
    assert await gone("massgen-mcp_docker", 5), "the server must remove its container when stdin closes"


async def test_background_shells_run_inside_the_container_and_die_with_a_sigkilled_server(tmp_path):
    import signal

    cfg = write_config(tmp_path, "mcp_shells")
    remove("massgen-mcp_shells")
    async with connect(tmp_path, "--config", cfg) as session:
        started = await call(session, "start_background_shell", command="ls /sys/class/net; pwd; echo ready; sleep 300")
        out = await call(session, "get_background_shell_output", shell_id=started["shell_id"], wait_seconds=20,
                         wait_for="ready")
        assert out["matched"] and out["stdout"].split()[:2] == ["lo", str(tmp_path / "ws")]
        refused = await call(session, "start_background_shell", command="sudo true")
        assert refused["success"] is False
        server = [p for p in Path("/proc").glob("[0-9]*") if _cmdline(p).endswith(f"serve --config {cfg}")]
        assert len(server) == 1
        os.kill(int(server[0].name), signal.SIGKILL)
        assert await gone("massgen-mcp_shells", 10), "a SIGKILLed server's container (and its shells) must go"


async def gone(name: str, seconds: float) -> bool:
    """Whether the container is gone within `seconds`."""
    import asyncio
    import time

    deadline = time.monotonic() + seconds
    while exists(name) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return not exists(name)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
