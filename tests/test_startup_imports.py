"""Start-up imports only what the path uses: `mgexec exec` no server, container or sandbox modules; the server's
tools/list no executor, policy or runtime modules (those load once the handshake is answered)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from dockerutil import docker_binary, require_engine

# What a local `exec` never needs: the MCP SDK and its web stack, the server, docker mode, srt mode, background shells.
NOT_FOR_EXEC = ("mcp", "starlette", "uvicorn", "mgexec.adapters.server", "mgexec.adapters.http", "mgexec.docker",
                "mgexec.executors.docker", "mgexec.deployments.container", "mgexec.sandbox", "mgexec.executors.sandbox",
                "mgexec.shells.manager", "regex", "yaml")  # regex: only allow/deny patterns need it
# What tools/list never needs: the executor and everything under it.
NOT_FOR_TOOLS_LIST = ("mgexec.executors", "mgexec.policy.rules", "mgexec.policy.checker",
                      "mgexec.deployments", "mgexec.runtimes", "mgexec.docker", "mgexec.sandbox",
                      "mgexec.shells.manager",
                      "yaml")  # (uvicorn and starlette: the SDK's MCPServer imports them itself)
ABSENT_IMAGE = "mgexec-test/absent-on-purpose:1"
MGEXEC = str(Path(sys.executable).parent / "mgexec")
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("MGEXEC_", "PYTHON"))}


def imported(importtime_log: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime_log.splitlines() if line.startswith("import time:")}


def loaded(modules: set[str], families: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in families))


# `python -m mgexec ARGS`, writing the names in sys.modules at exit to the file named first.
RUN_CLI = """
import atexit, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "mgexec"
runpy.run_module("mgexec", run_name="__main__")
"""


def run_cli(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    names = cwd / "modules.txt"
    proc = subprocess.run([sys.executable, "-c", RUN_CLI, str(names), *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    return proc, set(names.read_text().split())


def test_exec_imports_no_server_container_or_sandbox_modules(tmp_path):
    proc, modules = run_cli(tmp_path, "exec", "--", "echo ran")
    assert proc.returncode == 0 and proc.stdout == "ran\n", proc.stderr
    assert {"click", "mgexec.adapters.cli", "mgexec.executors.local", "mgexec.policy.rules"} <= modules
    assert loaded(modules, NOT_FOR_EXEC) == []


def test_exec_with_a_config_file_still_reads_it(tmp_path):
    (tmp_path / "c.yaml").write_text("agent:\n  id: one\n  backend:\n    cwd: ws\n"
                                     "    command_line_default_timeout: 7\n")
    proc, modules = run_cli(tmp_path, "exec", "--config", "c.yaml", "--json", "--", "pwd")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stdout"] == f"{tmp_path / 'ws'}\n"
    assert "yaml" in modules and loaded(modules, NOT_FOR_EXEC[:-1]) == []


LIST_TOOLS = """
import asyncio, json, sys
from mgexec.adapters.server import server_for
from mgexec.config import load_config

server, executor = server_for(load_config(None))
tools = asyncio.run(server.list_tools())
print(json.dumps({"tools": sorted(t.name for t in tools), "modules": sorted(sys.modules)}))
"""


def test_tools_list_is_answered_before_the_executor_modules_load(tmp_path):
    proc = subprocess.run([sys.executable, "-c", LIST_TOOLS], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer = json.loads(proc.stdout)
    assert answer["tools"] == sorted(["execute_command", "start_background_shell", "get_background_shell_output",
                                      "get_background_shell_status", "kill_background_shell", "list_background_shells",
                                      "send_background_shell_input"])
    assert "mgexec.adapters.server" in answer["modules"]
    assert loaded(set(answer["modules"]), NOT_FOR_TOOLS_LIST) == []


async def test_the_executor_starts_after_the_handshake_without_a_command(tmp_path):
    """Once tools/list is answered the server opens its executor unasked, so the first command finds it ready."""
    log = tmp_path / "imports.log"
    params = StdioServerParameters(command=sys.executable, args=["-X", "importtime", "-m", "mgexec", "serve"],
                                   cwd=str(tmp_path), env=ENV)
    with log.open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                assert "execute_command" in {t.name for t in (await session.list_tools()).tools}
                # (Modules that importlib.import_module loads are not in importtime's log; those they import are.)
                started = {"mgexec.executors.base", "mgexec.policy.checker", "mgexec.runtimes.host"}
                deadline = time.monotonic() + 60
                while not started <= imported(log.read_text()) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert started <= imported(log.read_text())
                result = await session.call_tool("execute_command", {"command": "pwd"})
    assert result.structured_content["stdout"] == f"{Path(tmp_path).resolve()}\n"


@pytest.mark.docker
async def test_a_container_that_cannot_be_made_is_said_on_stderr_and_answers_every_call(tmp_path):
    """The handshake no longer waits for the container, so its failure reaches the client in each call's answer."""
    require_engine()
    (tmp_path / "c.yaml").write_text(f"agent:\n  id: broken\n  backend:\n    cwd: ws\n    command_line_execution_mode: "
                                     f"docker\n    command_line_docker_image: {ABSENT_IMAGE}\n"
                                     f"    command_line_docker_binary: {docker_binary()}\n")
    log = tmp_path / "stderr.log"
    params = StdioServerParameters(command=MGEXEC, args=["serve", "--config", "c.yaml"], cwd=str(tmp_path))
    with log.open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                assert len((await session.list_tools()).tools) == 7
                ran = (await session.call_tool("execute_command", {"command": "true"})).structured_content
                listed = (await session.call_tool("list_background_shells", {})).structured_content
    assert ran["success"] is False and ran["exit_code"] == -1 and ABSENT_IMAGE in ran["stderr"]
    assert listed["success"] is False and listed["error"] == ran["stderr"]
    assert f"mgexec: {ran['stderr']}" in log.read_text()
