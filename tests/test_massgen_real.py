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
from dockerutil import docker_binary

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


def check_shared_files(script: Script, run: mh.MassGenRun, config_cwd: Path, steps: int = 4) -> Path:
    """The checks every mode shares; returns the suffixed workspace."""
    assert run.returncode == 0, run.output[-3000:]
    offered = script.offered_tools()
    assert any(t.endswith("__start_background_shell") for t in offered), f"mgexec's tools were not offered: {offered}"
    results = script.tool_results()
    assert len(results) == steps, results
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
    if subprocess.run([docker_binary(), "image", "inspect", image], capture_output=True, timeout=60).returncode != 0:
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
        names = subprocess.run([docker_binary(), "ps", "--filter", f"name=^massgen-{agent}-", "--format", "{{.Names}}"],
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
    left = subprocess.run([docker_binary(), "ps", "-a", "--filter", f"name=^massgen-{agent}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60).stdout.split()
    assert left == []


def in_container_script() -> Script:
    """The shared-files steps, then a look from inside: the hostname, and the file MassGen's container has."""
    script = shared_files_script()
    script.steps.append(ToolStep("execute_command", {"command": "cat /etc/hostname; test -f /.dockerenv && echo docker"}))
    return script


def run_in_massgens_container(tmp_path: Path, agent: str, launch) -> None:
    """MassGen in docker mode with mgexec as its command_line server (`launch` starts it): every command runs
    inside MassGen's own container (adopted, not made by mgexec), which MassGen removes at the end. Commands
    run as that container's user (UID 1000), as MassGen's own server runs them, so the workspaces MassGen
    makes must be writable for it: `launch` runs MassGen with umask 0."""
    script = in_container_script()
    seen: dict[str, str] = {}  # name -> "id:mgexec label", while MassGen runs
    script.on_request = lambda body: seen.update(line.split(":", 1) for line in subprocess.run(
        [docker_binary(), "ps", "--filter", f"name=^massgen-{agent}",
         "--format", '{{.Names}}:{{.ID}}:{{.Label "io.mgexec.managed"}}'],
        capture_output=True, text=True, timeout=60).stdout.split())
    config, ws = tmp_path / "massgen.yaml", tmp_path / "ws"
    with ScriptedEndpoint(script) as url:
        run = launch(url, config, ws)
    workspace = check_shared_files(script, run, ws, steps=5)
    [(name, ident)] = seen.items()  # one container: MassGen's; mgexec made none of its own
    assert name.startswith(f"massgen-{agent}-") and ident.endswith(":"), seen
    inside = json.loads(script.tool_results()[4])
    assert inside["stdout"].split() == [ident.split(":")[0], "docker"], inside
    assert_no_mgexec_left(workspace)
    assert_no_mgexec_left(tmp_path)
    left = subprocess.run([docker_binary(), "ps", "-a", "--filter", f"name=^massgen-{agent}", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60).stdout.split()
    assert left == [], left  # MassGen removed its container; mgexec left nothing


@pytest.mark.docker
def test_mgexec_massgen_in_docker_mode(tmp_path):
    """`mgexec massgen`, MassGen's docker mode: mgexec gets MassGen's docker flags and runs in MassGen's container."""
    mh.massgen_python()
    _require_massgen_image()
    agent = f"mgd{uuid.uuid4().hex[:8]}"
    env = {**mh.massgen_env(tmp_path), "MGEXEC_MASSGEN": str(mh.massgen_venv() / "bin" / "massgen"),
           # The sitecustomize there hides /.dockerenv from MassGen, so it keeps docker mode on this machine.
           "PYTHONPATH": str(mh.HERE / "data" / "outside_container")}

    def launch(url, config, ws):
        mh.write_config(config, mh.agent_backend(url, ws, command_line_execution_mode="docker"), agent_id=agent)
        return mh.run_massgen([*mh.mgexec_command(), "massgen", *mh.massgen_argv(config)[1:]], tmp_path, env=env,
                              umask=0)

    run_in_massgens_container(tmp_path, agent, launch)


@pytest.mark.docker
def test_command_line_entry_in_docker_mode(tmp_path):
    """A `command_line` entry naming mgexec, MassGen's docker mode: MassGen appends --agent-id/--instance-id and
    mgexec adopts the container MassGen makes."""
    mh.massgen_python()
    _require_massgen_image()
    agent = f"mge{uuid.uuid4().hex[:8]}"

    def launch(url, config, ws):
        # The entry of the local-mode test: mgexec reads docker mode from the same YAML.
        entry = {"name": "command_line", "type": "stdio", "command": str(Path(mh.mgexec_command()[0]).parent / "mgexec"),
                 "args": ["serve", "--config", str(config), "--agent", agent, "--massgen-workspace"],
                 "security": {"allowed_executables": ["mgexec"]}}
        backend = mh.agent_backend(url, ws, command_line_execution_mode="docker")
        mh.write_config(config, backend, agent_id=agent, servers=[entry])
        return mh.run_massgen(mh.massgen_argv(config), tmp_path, outside_container=True, umask=0)

    run_in_massgens_container(tmp_path, agent, launch)


def _srt_cli() -> Path:
    """The `srt` CLI MassGen's srt mode needs on PATH: it wraps MassGen's file-tools server in it at start."""
    from bench.srt_cli import cache_dir

    srt = cache_dir() / "node_modules" / ".bin" / "srt"
    if not srt.exists():
        # .ci/srt.sh installs it for CI; elsewhere the test says how to get it.
        (pytest.fail if _in_ci() else pytest.skip)(f"MassGen's srt mode starts its file-tools server under the `srt` CLI (npm "
                    f"@anthropic-ai/sandbox-runtime), which is not at {srt}; `bash .ci/srt.sh` installs it")
    return srt


def test_mgexec_massgen_in_srt_mode_enforces_massgens_settings(tmp_path):
    """MassGen's srt mode under `mgexec massgen`: mgexec gets --execution-mode srt --srt-settings F and enforces F."""
    mh.massgen_python()
    srt = _srt_cli()
    outside, secret = tmp_path / "outside", tmp_path / ".ssh" / "id_rsa"  # HOME is tmp_path (massgen_env)
    outside.mkdir(), secret.parent.mkdir()
    secret.write_text("canary-key-material\n")
    script = Script([
        ToolStep("execute_command", {"command": "pwd; echo inside > in_ws.txt; cat in_ws.txt"}),
        ToolStep("execute_command", {"command": f"echo escaped > {outside}/escape.txt"}),
        ToolStep("execute_command", {"command": f"cat {secret}"}),
    ])
    config, ws = tmp_path / "massgen.yaml", tmp_path / "ws"
    env = {**mh.massgen_env(tmp_path), "MGEXEC_MASSGEN": str(mh.massgen_venv() / "bin" / "massgen")}
    env["PATH"] = f"{srt.parent}:{env['PATH']}"
    with ScriptedEndpoint(script) as url:
        mh.write_config(config, mh.agent_backend(url, ws, command_line_execution_mode="srt"))
        run = mh.run_massgen([*mh.mgexec_command(), "massgen", *mh.massgen_argv(config)[1:]], tmp_path, env=env)
    assert run.returncode == 0, run.output[-3000:]
    results = [json.loads(r) for r in script.tool_results()]
    assert len(results) == 3, results
    [workspace] = mh.suffixed_workspaces(ws)
    inside, escape, read = results
    assert "truncated" in inside and inside["stdout"].split() == [str(workspace), "inside"], inside  # mgexec's answer
    assert not escape["success"] and not (outside / "escape.txt").exists(), escape  # write outside: refused
    assert not read["success"] and "canary" not in read["stdout"], read  # MassGen's denyRead of ~/.ssh
    assert_no_mgexec_left(tmp_path)
