"""Background shells through the MCP server (local mode): MassGen's tools and shapes, input, limits, clean exit."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from procutil import read_pids, wait_all_gone
from test_server import MGEXEC, call, connect

SHELL_TOOLS = {"start_background_shell", "get_background_shell_output", "get_background_shell_status",
               "kill_background_shell", "list_background_shells", "send_background_shell_input"}


async def test_shell_tools_are_listed_with_annotations(workspace):
    async with connect(workspace) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert SHELL_TOOLS <= set(tools)
    assert tools["get_background_shell_output"].annotations.read_only_hint is True
    assert tools["kill_background_shell"].annotations.destructive_hint is True


async def test_server_process_keeps_running_while_commands_go_on(workspace):
    async with connect(workspace) as session:
        started = await call(session, "start_background_shell",
                             command=f"{sys.executable} -u -m http.server 0 --bind 127.0.0.1")
        assert started["status"] == "running" and started["shell_id"].startswith("shell_")
        assert set(started) >= {"shell_id", "status", "command", "pid", "work_dir"}
        shell_id = started["shell_id"]
        ready = await call(session, "get_background_shell_output", shell_id=shell_id, wait_seconds=20,
                           wait_for=r"Serving HTTP on 127\.0\.0\.1 port \d+")
        assert ready["matched"] and ready["status"] == "running"
        assert (await call(session, "execute_command", command="echo meanwhile"))["stdout"] == "meanwhile\n"
        status = await call(session, "get_background_shell_status", shell_id=shell_id)
        assert status["status"] == "running" and status["pid"] == started["pid"]
        assert set(status) >= {"shell_id", "status", "exit_code", "pid", "command", "cwd", "start_time",
                               "duration_seconds"}
        listed = await call(session, "list_background_shells")
        assert listed["count"] == 1 and listed["shells"][0]["shell_id"] == shell_id
        killed = await call(session, "kill_background_shell", shell_id=shell_id)
        assert killed["status"] == "killed" and killed["signal"] in ("SIGTERM", "SIGKILL")


async def test_interactive_program_answered_through_input(workspace):
    program = f"{sys.executable} -c \"x = input('name? '); print('hi', x)\""
    async with connect(workspace) as session:
        shell_id = (await call(session, "start_background_shell", command=program))["shell_id"]
        asked = await call(session, "get_background_shell_output", shell_id=shell_id, wait_seconds=20, wait_for=r"name\? ")
        assert asked["matched"]
        sent = await call(session, "send_background_shell_input", shell_id=shell_id, text="bob")
        assert sent["success"]
        done = await call(session, "get_background_shell_output", shell_id=shell_id, wait_seconds=20, wait_for="hi bob")
        assert done["matched"]
        for _ in range(100):
            status = await call(session, "get_background_shell_status", shell_id=shell_id)
            if status["status"] != "running":
                break
            await asyncio.sleep(0.05)
        assert (status["status"], status["exit_code"]) == ("stopped", 0)
        late = await call(session, "send_background_shell_input", shell_id=shell_id, text="again")
    assert late["success"] is False and "not running" in late["error"]


async def test_errors_use_massgen_shape(workspace):
    async with connect(workspace) as session:
        missing = await call(session, "get_background_shell_output", shell_id="shell_00000000")
        refused = await call(session, "start_background_shell", command="sudo rm -rf /tmp/x")
        outside = await call(session, "start_background_shell", command="ls", work_dir="/")
    assert missing == {"success": False, "error": "Shell not found: shell_00000000"}
    assert refused["success"] is False and "Potentially dangerous command detected" in refused["error"]
    assert outside["success"] is False and "/" in outside["error"]


async def test_allow_list_applies_to_background_shells(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("agent:\n  backend:\n    cwd: ws\n    command_line_allowed_commands: ['sleep .*']\n"
                   "    command_line_max_background_shells: 2\n")
    async with connect(tmp_path, "--config", str(cfg)) as session:
        refused = await call(session, "start_background_shell", command="sleep 30; touch x")
        first = await call(session, "start_background_shell", command="sleep 30")
        second = await call(session, "start_background_shell", command="sleep 30")
        third = await call(session, "start_background_shell", command="sleep 30")
    assert refused["success"] is False and "touch x" in refused["error"]
    assert first["status"] == second["status"] == "running"
    assert third == {"success": False, "error": third["error"]} and "Maximum concurrent shells (2) reached" in third["error"]


async def test_shells_die_when_stdin_closes(workspace):
    pids_file = workspace / "pids"
    async with connect(workspace) as session:
        await call(session, "start_background_shell", command=f"sleep 300 & echo $! >> {pids_file}; echo $$ >> {pids_file}; wait")
        pids = await asyncio.to_thread(read_pids, pids_file, 2)
    assert wait_all_gone(pids, 5) == []


async def test_shells_die_when_the_server_is_sigkilled(workspace):
    pids_file = workspace / "pids"
    params = StdioServerParameters(command=MGEXEC, args=["serve"], cwd=str(workspace))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await call(session, "start_background_shell",
                       command=f"echo $PPID >> {pids_file}; sleep 300 & echo $! >> {pids_file}; echo $$ >> {pids_file}; wait")
            pids = await asyncio.to_thread(read_pids, pids_file, 3)
            server_pid = await _server_pid(pids[0])
            os.kill(server_pid, signal.SIGKILL)
            assert wait_all_gone([server_pid], 5) == []
            assert wait_all_gone(pids[1:], 5) == []


async def _server_pid(pid: int) -> int:
    """Walk up from a process of the shell to the mgexec server that started it."""
    while pid > 1:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"mgexec serve" in cmdline:
            return pid
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    raise AssertionError("no mgexec server above the shell")


async def test_background_shell_demo_runs_parallel_experiments(tmp_path):
    """The shipped demo config: three experiments at once, each waited on by pattern."""
    experiment = "for i in 1 2 3; do echo \"lr=$LR epoch $i\"; sleep 0.2; done; echo \"final loss $LR\""
    async with connect(tmp_path, "--config", "@examples/background_shell_demo") as session:
        ids = [(await call(session, "start_background_shell", command=f"LR={lr}; {experiment}"))["shell_id"]
               for lr in ("0.1", "0.01", "0.001")]
        running = await call(session, "list_background_shells")
        results = [await call(session, "get_background_shell_output", shell_id=i, wait_seconds=20, wait_for="final loss")
                   for i in ids]
    assert running["count"] == 3
    assert all(r["matched"] for r in results)
    assert [r["stdout"].strip().splitlines()[-1] for r in results] == ["final loss 0.1", "final loss 0.01", "final loss 0.001"]
