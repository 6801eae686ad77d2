"""The real MassGen (pinned, in its own venv) runs its agent's commands through mgexec, offline.

A scripted model on 127.0.0.1 calls execute_command and the file tools; the tests read what MassGen
sent back to the model, the workspaces it made, and which mgexec processes are left.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import massgen_harness as mh
from mgexec.docker.adopt import find_massgen_container
from mgexec.docker.engine import DockerCLI
from scripted_llm import Script, ScriptedEndpoint, ToolStep

pytestmark = pytest.mark.slow


def _work_dir(results: list[str]) -> str:
    return json.loads(results[0])["work_dir"]


def shared_files_script() -> Script:
    """A command writes a file, the file tool reads it and writes another, a command reads that one."""
    return Script([
        ToolStep("execute_command", {"command": "pwd; echo from-mgexec > by_command.txt; echo $0"}),
        ToolStep("read_file", lambda r: {"path": f"{_work_dir(r)}/by_command.txt"}),
        ToolStep("write_file", lambda r: {"path": f"{_work_dir(r)}/by_file_tool.txt", "content": "from-file-tool"}),
        ToolStep("execute_command", {"command": "cat by_file_tool.txt; ls"}),
    ])


def check_shared_files(script: Script, run: mh.MassGenRun, config_cwd: Path) -> Path:
    """The checks every mode shares; returns the suffixed workspace."""
    assert run.returncode == 0, run.output[-3000:]
    offered = script.offered_tools()
    assert any(t.endswith("__start_background_shell") for t in offered), f"mgexec's tools were not offered: {offered}"
    results = script.tool_results()
    assert len(results) == 4, results
    first, last = json.loads(results[0]), json.loads(results[3])
    made = mh.suffixed_workspaces(config_cwd)
    assert len(made) == 1, made
    workspace = made[0]
    # mgexec answered (its result shape has `truncated`), in MassGen's suffixed workspace, through bash.
    assert first["success"] and "truncated" in first, first
    here, shell = first["stdout"].splitlines()
    assert here == str(workspace) and shell.endswith("bash"), first
    assert "from-mgexec" in results[1]
    assert last["stdout"].startswith("from-file-tool") and "by_command.txt" in last["stdout"]
    assert (workspace / "by_command.txt").read_text() == "from-mgexec\n"
    return workspace


def assert_no_mgexec_left(root: Path) -> None:
    deadline = time.monotonic() + 10
    while (left := mh.mgexec_pids_under(root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"mgexec processes outlived MassGen: {left}"


@pytest.mark.parametrize("name, massgen_server", [
    ("command_line", True),  # replaces MassGen's server, which MassGen then gives its flags
    ("mgexec", False),  # mgexec's own server beside MassGen's, which is switched off
])
def test_server_entry_in_local_mode(tmp_path, name, massgen_server):
    mh.massgen_python()
    script = shared_files_script()
    config, ws = tmp_path / "massgen.yaml", tmp_path / "ws"
    entry = {"name": name, "type": "stdio", "command": str(Path(mh.mgexec_command()[0]).parent / "mgexec"),
             "args": ["serve", "--config", str(config), "--agent", "agent_a", "--massgen-workspace"],
             # MassGen refuses any executable it does not know unless the entry names it.
             "security": {"allowed_executables": ["mgexec"]}}
    with ScriptedEndpoint(script) as url:
        backend = mh.agent_backend(url, ws, enable_mcp_command_line=massgen_server)
        mh.write_config(config, backend, servers=[entry])
        run = mh.run_massgen(mh.massgen_argv(config), tmp_path)
    check_shared_files(script, run, ws)
    assert not any("__command_line__" in t for t in script.offered_tools()) or massgen_server
    assert_no_mgexec_left(tmp_path)


def test_mgexec_massgen_in_local_mode(tmp_path):
    """No config change: MassGen's own command_line server is replaced by mgexec, with MassGen's flags and cwd."""
    mh.massgen_python()
    script = shared_files_script()
    config, ws = tmp_path / "massgen.yaml", tmp_path / "ws"
    env = {**mh.massgen_env(tmp_path), "MGEXEC_MASSGEN": str(mh.massgen_venv() / "bin" / "massgen")}
    with ScriptedEndpoint(script) as url:
        mh.write_config(config, mh.agent_backend(url, ws, command_line_blocked_commands=["^curl"]))
        run = mh.run_massgen([*mh.mgexec_command(), "massgen", *mh.massgen_argv(config)[1:]], tmp_path, env=env)
    workspace = check_shared_files(script, run, ws)
    assert_no_mgexec_left(workspace)
    assert_no_mgexec_left(tmp_path)


def _require_massgen_image() -> None:
    from dockerutil import _in_ci, require_engine

    require_engine()
    image = "ghcr.io/massgen/mcp-runtime:latest"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=60).returncode != 0:
        why = f"{image} is missing; run ./build.sh --massgen-names (MassGen's docker mode runs that name)"
        pytest.fail(why) if _in_ci() else pytest.skip(why)


@pytest.mark.docker
def test_discovery_finds_massgens_own_docker_mode_container(tmp_path):
    """While MassGen runs in docker mode, its container is found with the workspace MassGen gave the agent."""
    mh.massgen_python()
    _require_massgen_image()
    agent = f"mgx{uuid.uuid4().hex[:8]}"
    seen: list = []

    def look(body: dict) -> None:
        if seen:
            return
        names = subprocess.run(["docker", "ps", "--filter", f"name=^massgen-{agent}-", "--format", "{{.Names}}"],
                               capture_output=True, text=True, timeout=60).stdout.split()
        instance = names[0].rsplit("-", 1)[1] if len(names) == 1 else None
        seen.append((names, asyncio.run(find_massgen_container(DockerCLI(), agent, instance))))

    config, ws = tmp_path / "massgen.yaml", tmp_path / "ws"
    with ScriptedEndpoint(Script([], on_request=look)) as url:
        mh.write_config(config, mh.agent_backend(url, ws, command_line_execution_mode="docker"), agent_id=agent)
        run = mh.run_massgen(mh.massgen_argv(config), tmp_path, outside_container=True)
    assert run.returncode == 0, run.output[-3000:]
    [(names, found)] = seen
    assert len(names) == 1 and found is not None, (names, run.output[-3000:])
    [workspace] = mh.suffixed_workspaces(ws)
    assert found.name == names[0] and found.workspace == workspace
    assert found.running
    # MassGen removes its own container at the end.
    left = subprocess.run(["docker", "ps", "-a", "--filter", f"name=^massgen-{agent}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60).stdout.split()
    assert left == []


@pytest.mark.docker
def test_mgexec_massgen_in_docker_mode(tmp_path):
    """MassGen's docker mode under `mgexec massgen`: the server gets MassGen's docker flags and workspace; nothing is left."""
    mh.massgen_python()
    _require_massgen_image()
    agent = f"mgd{uuid.uuid4().hex[:8]}"
    script = shared_files_script()
    containers: set[str] = set()
    script.on_request = lambda body: containers.update(subprocess.run(
        ["docker", "ps", "--filter", f"name=^massgen-{agent}", "--format", '{{.Names}}:{{.Label "io.mgexec.managed"}}'],
        capture_output=True, text=True, timeout=60).stdout.split())
    config, ws = tmp_path / "massgen.yaml", tmp_path / "ws"
    env = {**mh.massgen_env(tmp_path), "MGEXEC_MASSGEN": str(mh.massgen_venv() / "bin" / "massgen")}
    # The sitecustomize there hides /.dockerenv from MassGen, so it keeps docker mode on this machine.
    launcher_env = {**env, "PYTHONPATH": str(mh.HERE / "data" / "outside_container")}
    with ScriptedEndpoint(script) as url:
        mh.write_config(config, mh.agent_backend(url, ws, command_line_execution_mode="docker"), agent_id=agent)
        run = mh.run_massgen([*mh.mgexec_command(), "massgen", *mh.massgen_argv(config)[1:]], tmp_path,
                             env=launcher_env)
    workspace = check_shared_files(script, run, ws)
    # MassGen made its container and mgexec (told --agent-id and --execution-mode docker) ran its own.
    assert f"massgen-{agent}:true" in containers and any(c.startswith(f"massgen-{agent}-") for c in containers), containers
    assert_no_mgexec_left(workspace)
    left = subprocess.run(["docker", "ps", "-a", "--filter", f"name=^massgen-{agent}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60).stdout.split()
    assert left == [], left
