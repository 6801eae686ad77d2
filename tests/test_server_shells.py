"""Background shells through the MCP server (local mode): MassGen's tools and shapes, input, limits, clean exit."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import sys
from pathlib import Path

import jsonschema
import pytest
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


SHAPES = {  # MassGen's keys (mgexec's additions to get_background_shell_output after them)
    "start_background_shell": {"shell_id", "status", "command", "pid", "work_dir"},
    "get_background_shell_output": {"shell_id", "stdout", "stderr", "status", "exit_code", "merged",
                                    "dropped_lines", "dropped_bytes"},
    "get_background_shell_status": {"shell_id", "status", "exit_code", "pid", "command", "cwd", "start_time",
                                    "duration_seconds"},
    "kill_background_shell": {"shell_id", "status", "signal"},
    "list_background_shells": {"shells", "count"},
    "send_background_shell_input": {"shell_id", "success", "bytes_written"},
}


async def _answer(session, schemas: dict, name: str, **arguments) -> dict:
    """A tool's structured answer, checked against its published schema and against its text content."""
    result = await session.call_tool(name, arguments)
    assert not result.is_error, result
    answer = result.structured_content
    jsonschema.validate(answer, schemas[name])
    assert json.loads(result.content[0].text) == answer
    return answer


async def test_every_shell_tool_publishes_an_output_schema_that_its_answers_fit(workspace):
    async with connect(workspace) as session:
        schemas = {t.name: t.output_schema for t in (await session.list_tools()).tools if t.name in SHELL_TOOLS}
        assert set(schemas) == SHELL_TOOLS
        for name, schema in schemas.items():
            assert schema["type"] == "object" and len(schema["anyOf"]) == 2, name
            jsonschema.Draft202012Validator.check_schema(schema)
        answer = functools.partial(_answer, session, schemas)
        started = await answer("start_background_shell", command="echo ready; read x; echo got $x; sleep 300")
        shell_id = started["shell_id"]
        waited = await answer("get_background_shell_output", shell_id=shell_id, wait_seconds=20, wait_for="^ready")
        plain = await answer("get_background_shell_output", shell_id=shell_id, since_last_read=True)
        sent = await answer("send_background_shell_input", shell_id=shell_id, text="yes")
        status = await answer("get_background_shell_status", shell_id=shell_id)
        listed = await answer("list_background_shells")
        killed = await answer("kill_background_shell", shell_id=shell_id)
        again = await answer("kill_background_shell", shell_id=shell_id)
    assert set(started) == SHAPES["start_background_shell"] and started["status"] == "running"
    assert set(waited) == SHAPES["get_background_shell_output"] | {"matched"} and waited["matched"] is True
    assert set(plain) == SHAPES["get_background_shell_output"]  # `matched` only when wait_for was given
    assert set(sent) == SHAPES["send_background_shell_input"] and sent["bytes_written"] == 4
    assert set(status) == SHAPES["get_background_shell_status"] and status["exit_code"] is None
    assert set(listed) == SHAPES["list_background_shells"] and listed["shells"] == [listed["shells"][0]]
    assert set(listed["shells"][0]) == SHAPES["get_background_shell_status"]
    assert set(killed) == SHAPES["kill_background_shell"] and killed["signal"] in ("SIGTERM", "SIGKILL")
    assert again == {"shell_id": shell_id, "status": "killed", "signal": None, "message": "Process already terminated"}


async def test_every_shell_tool_error_fits_its_schema_in_massgen_shape(workspace):
    missing = "shell_00000000"
    calls = {
        "start_background_shell": {"command": "ls", "work_dir": "/"},
        "get_background_shell_output": {"shell_id": missing, "wait_for": "("},
        "get_background_shell_status": {"shell_id": missing},
        "kill_background_shell": {"shell_id": missing},
        "send_background_shell_input": {"shell_id": missing, "text": "x"},
    }
    async with connect(workspace) as session:
        schemas = {t.name: t.output_schema for t in (await session.list_tools()).tools if t.name in SHELL_TOOLS}
        errors = {name: await _answer(session, schemas, name, **args) for name, args in calls.items()}
        started = await call(session, "start_background_shell", command="sleep 300")
        bad_pattern = await _answer(session, schemas, "get_background_shell_output",
                                    shell_id=started["shell_id"], wait_for="(")
        bad_key = await _answer(session, schemas, "send_background_shell_input",
                                shell_id=started["shell_id"], control="cc")
    for name, error in {**errors, "bad_pattern": bad_pattern, "bad_key": bad_key}.items():
        assert set(error) == {"success", "error"} and error["success"] is False and error["error"], name
    assert errors["get_background_shell_status"]["error"] == f"Shell not found: {missing}"
    assert "wait_for is not a valid regular expression" in bad_pattern["error"]
    assert "Unknown control key" in bad_key["error"]
    # list_background_shells has no refusal a client can provoke; its error arm is the same model.
    jsonschema.validate({"success": False, "error": "x"}, schemas["list_background_shells"])
    for name, schema in schemas.items():
        with pytest.raises(jsonschema.ValidationError):  # an error is exactly {success: false, error}
            jsonschema.validate({"success": False, "error": "x", "extra": 1}, schema)


async def test_an_answer_that_does_not_fit_its_model_still_comes_in_the_tool_shape():
    from mgexec.adapters.server import _shell_call
    from mgexec.errors import ShellNotFound
    from mgexec.shells.results import KillAnswer, ListAnswer

    async def drifted():
        return {"shell_id": "shell_1", "status": "gone", "signal": None}

    async def refused():
        raise ShellNotFound("Shell not found: shell_\ud800")

    async def fine():
        return {"shells": [], "count": 0}

    odd = (await _shell_call(KillAnswer, drifted)).model_dump(mode="json")
    assert odd["success"] is False and odd["error"].startswith("internal error: ValidationError")
    assert (await _shell_call(KillAnswer, refused)).model_dump(mode="json") == {
        "success": False, "error": "Shell not found: shell_\\ud800"}  # a lone surrogate shown escaped
    assert (await _shell_call(ListAnswer, fine)).model_dump(mode="json") == {"shells": [], "count": 0}
