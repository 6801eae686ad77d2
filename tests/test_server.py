"""The MCP server end to end through the official SDK's stdio client: tools, results, progress, clean exit."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from procutil import read_pids, wait_all_gone

MGEXEC = str(Path(sys.executable).parent / "mgexec")


@asynccontextmanager
async def connect(cwd: Path, *args: str, env: dict | None = None):
    params = StdioServerParameters(command=MGEXEC, args=["serve", *args], cwd=str(cwd), env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


async def call(session, name, **arguments):
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result
    return result.structured_content


async def test_lists_execute_command_with_annotations_and_schema(workspace):
    async with connect(workspace) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    tool = tools["execute_command"]
    assert set(tool.input_schema["properties"]) == {"command", "timeout", "work_dir"}
    assert tool.input_schema["required"] == ["command"]
    assert {"success", "exit_code", "stdout", "stderr", "execution_time", "command", "work_dir",
            "timed_out", "truncated"} <= set(tool.output_schema["properties"])
    assert tool.annotations.destructive_hint is True and tool.annotations.read_only_hint is False


async def test_execute_command_round_trip(workspace):
    async with connect(workspace) as session:
        data = await call(session, "execute_command", command="echo hello; echo oops >&2; exit 2")
    assert (data["stdout"], data["stderr"], data["exit_code"], data["success"]) == ("hello\n", "oops\n", 2, False)
    assert data["work_dir"] == str(workspace)


async def test_refusal_and_timeout_have_massgen_shape(workspace):
    async with connect(workspace) as session:
        refused = await call(session, "execute_command", command="sudo rm -rf /tmp/x")
        timed = await call(session, "execute_command", command="sleep 30", timeout=1)
    assert (refused["success"], refused["exit_code"]) == (False, -1) and "dangerous" in refused["stderr"]
    assert timed["timed_out"] and timed["exit_code"] == -1 and "timed out after 1 seconds" in timed["stderr"]


async def test_child_output_never_reaches_the_protocol_stream(workspace):
    noisy = "for i in $(seq 200); do echo '{\"jsonrpc\": \"2.0\", \"id\": 1, \"result\": {}}'; echo junk >&2; done; cat"
    async with connect(workspace) as session:
        data = await call(session, "execute_command", command=noisy)
        again = await call(session, "execute_command", command="echo still-fine")
    assert data["stdout"].count("jsonrpc") == 200 and again["stdout"] == "still-fine\n"


async def test_progress_notifications_for_long_commands(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("agent:\n  backend:\n    cwd: ws\n    command_line_progress_interval: 0.2\n")
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, message))

    async with connect(tmp_path, "--config", str(cfg)) as session:
        result = await session.call_tool("execute_command", {"command": "sleep 1.2"}, progress_callback=on_progress)
    assert result.structured_content["success"]
    assert len(seen) >= 3 and all("running for" in m for _, m in seen)


async def _server_pid_and_child(workspace, session):
    pids = workspace / "pids"
    task = asyncio.create_task(session.call_tool(
        "execute_command", {"command": f"echo $$ >> {pids}; sleep 300 & echo $! >> {pids}; wait"}))
    found = await asyncio.to_thread(read_pids, pids, 2)
    return task, found


async def test_stdin_close_kills_children_and_exits(workspace):
    params = StdioServerParameters(command=MGEXEC, args=["serve"], cwd=str(workspace))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            task, found = await _server_pid_and_child(workspace, session)
            start = time.monotonic()
            task.cancel()
    # Leaving stdio_client closed the server's stdin: everything it started must be gone.
    assert wait_all_gone(found, 5) == []
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_kills_children_and_exits_zero(workspace, sig):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRIVER, MGEXEC, str(workspace), stdout=asyncio.subprocess.PIPE)
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    server_pid = int(line)
    pids = await asyncio.to_thread(read_pids, workspace / "pids", 2)
    os.kill(server_pid, sig)
    rest = await asyncio.wait_for(proc.stdout.read(), 10)
    assert b"exit=0" in rest, rest
    assert wait_all_gone(pids, 5) == []
    await proc.wait()


# Starts a server, reports its pid, runs a long command, then reports how the server exited.
DRIVER = r'''
import anyio, sys, subprocess
from mcp.client import ClientSession
from mcp.shared.message import SessionMessage
mgexec, ws = sys.argv[1], sys.argv[2]
import json
server = subprocess.Popen([mgexec, "serve"], cwd=ws, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(server.pid, flush=True)
def send(obj):
    server.stdin.write((json.dumps(obj) + "\n").encode()); server.stdin.flush()
send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
      "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
server.stdout.readline()
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "execute_command",
      "arguments": {"command": "echo $$ >> pids; sleep 300 & echo $! >> pids; wait"}}})
code = server.wait(timeout=20)
print(f"exit={code}", flush=True)
'''


# The streamable-HTTP transport (tokens, binds, rebinding checks, signals): tests/test_http_transport.py.
