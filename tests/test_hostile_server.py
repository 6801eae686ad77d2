"""Hostile input through the real MCP client: lines built to explode, regexes that backtrack, sizes over the
kernel's limits, bad bytes and bad arguments for every tool.

Each call must answer within its budget plus SLACK, with a result object (execute_command) or the
`{success: false, error}` shape (shell tools); an `echo` sent meanwhile must answer within 100 ms
(median of five); memory stays bounded; nothing prints a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from hostile import SLACK, assert_responsive, echo_times, hostile_session, no_traceback, rss_kib, timed_call, tree_rss_kib
from mgexec.policy.checker import CHECK_SECONDS
from mgexec.policy.inputs import MAX_ARG_BYTES
from mgexec.shells.manager import WAIT_FOR_SECONDS

BRACES = "{a,b}" * 26
# Every line here makes the check explode; if one were ever judged in time and run, bash's own brace
# expansion would not (`false &&` skips the redirect, and the issue's own line gets 2 s at most).
EXPLODING_LINES = [
    pytest.param("true > x" + BRACES, id="redirect-26-brace-groups"),
    pytest.param("false && true >> x" + BRACES, id="append-26-brace-groups"),
    pytest.param("false && echo hi 2> x" + BRACES + " && true", id="stderr-26-brace-groups"),
    pytest.param("false && cat <> x" + BRACES, id="read-write-26-brace-groups"),
    pytest.param("if false; then cat < x" + BRACES + "; fi", id="input-26-brace-groups"),
    pytest.param("a;" * 65535, id="128KiB-of-a;"),
    pytest.param("true;" * 26214, id="128KiB-of-true;"),
]
RUN_SECONDS = 2.0  # the attacked call's own timeout, in case the line is judged in time and runs
MEMORY_BOUND_KIB = 1536 * 1024  # the server and its policy workers together
SERVER_GROWTH_KIB = 64 * 1024


@pytest.mark.parametrize("line", EXPLODING_LINES)
async def test_a_line_built_to_explode_answers_in_budget_while_others_are_served(workspace, line):
    async with hostile_session(workspace) as (session, pid, errlog):
        before = rss_kib(pid)
        attack = asyncio.create_task(timed_call(session, "execute_command", command=line, timeout=RUN_SECONDS))
        await asyncio.sleep(0.3)  # the attack is being judged now
        times = await echo_times(session)
        during = tree_rss_kib(pid)
        elapsed, result = await attack
        after = rss_kib(pid)
    data = result.structured_content
    assert not result.is_error and set(data) >= {"success", "exit_code", "stdout", "stderr", "command"}
    if data["exit_code"] == -1 and not data["timed_out"]:  # refused: the reason is given
        assert data["stderr"] and not data["success"]
        assert elapsed < CHECK_SECONDS + SLACK, (elapsed, data["stderr"][:300])
    else:  # judged in time and run: the budget, the run's timeout and the kill's grace at most
        assert elapsed < CHECK_SECONDS + RUN_SECONDS + 2 + SLACK
    assert_responsive(times)
    assert during < MEMORY_BOUND_KIB and after - before < SERVER_GROWTH_KIB, (before, during, after)
    no_traceback(errlog)


async def test_the_brace_attack_is_refused_with_the_budget_named(workspace):
    async with hostile_session(workspace) as (session, pid, errlog):
        elapsed, result = await timed_call(session, "execute_command", command="true > x" + BRACES,
                                           timeout=RUN_SECONDS)
    data = result.structured_content
    assert (data["success"], data["exit_code"]) == (False, -1) and elapsed < CHECK_SECONDS + SLACK
    assert "could not be judged" in data["stderr"] or "budget" in data["stderr"], data["stderr"]
    assert not (workspace / "xa").exists() and not list(workspace.iterdir())  # nothing ran


@pytest.mark.parametrize("command, fragment", [
    ("a;" * 65536, f"at most {MAX_ARG_BYTES} bytes"),
    ("x" * 10_000_000, "MAX_ARG_STRLEN"),
    ("echo a\0b", "NUL character"),
    ("", "empty"),
    ("   \n ", "empty"),
])
async def test_bad_commands_get_a_result_naming_the_problem(workspace, command, fragment):
    async with hostile_session(workspace) as (session, pid, errlog):
        elapsed, result = await timed_call(session, "execute_command", command=command)
        assert (await echo_times(session, 1))[0] < 5
    data = result.structured_content
    assert not result.is_error and (data["success"], data["exit_code"]) == (False, -1)
    assert fragment in data["stderr"] and elapsed < SLACK + 1
    no_traceback(errlog)


@pytest.mark.parametrize("arguments, fragment", [
    ({"work_dir": "x" * 1_000_000}, "PATH_MAX"),
    ({"work_dir": "a/" + "b" * 300}, "NAME_MAX"),
    ({"work_dir": "bad\0dir"}, "NUL character"),
    ({"work_dir": "../../../../etc"}, "outside"),
    ({"work_dir": "missing"}, "does not exist"),
    ({"timeout": -1}, "above 0"),
    ({"timeout": 0}, "above 0"),
    ({"timeout": 1e308}, "at most 86400"),
])
async def test_bad_arguments_of_execute_command_get_a_result(workspace, arguments, fragment):
    async with hostile_session(workspace) as (session, pid, errlog):
        elapsed, result = await timed_call(session, "execute_command", command="echo hi", **arguments)
    data = result.structured_content
    assert not result.is_error and (data["success"], data["exit_code"]) == (False, -1), result
    assert fragment in data["stderr"] and elapsed < SLACK + 1
    no_traceback(errlog)


SHELL_CASES = [
    ("start_background_shell", {"command": "echo a\0b"}, "NUL"),
    ("start_background_shell", {"command": "x" * 200_000}, "MAX_ARG_STRLEN"),
    ("start_background_shell", {"command": "false && true > x" + BRACES}, "could not be judged"),
    ("start_background_shell", {"command": "sleep 1", "work_dir": "x" * 1_000_000}, "PATH_MAX"),
    ("get_background_shell_output", {"shell_id": "nope\0"}, "not found"),
    ("get_background_shell_output", {"shell_id": "x" * 1_000_000}, "not found"),
    ("get_background_shell_status", {"shell_id": ""}, "not found"),
    ("kill_background_shell", {"shell_id": "shell_00000000"}, "not found"),
    ("send_background_shell_input", {"shell_id": "nope", "text": "x" * 10_000_000}, "not found"),
]


@pytest.mark.parametrize("tool, arguments, fragment", SHELL_CASES)
async def test_bad_arguments_of_shell_tools_get_their_error_shape(workspace, tool, arguments, fragment):
    async with hostile_session(workspace) as (session, pid, errlog):
        elapsed, result = await timed_call(session, tool, **arguments)
    data = result.structured_content
    assert not result.is_error and data["success"] is False and fragment in data["error"], data
    assert elapsed < CHECK_SECONDS + SLACK
    no_traceback(errlog)


LIVE_SHELL_CASES = [
    ({"tail_lines": -1}, None, "tail_lines"),
    ({"wait_for": "(unclosed"}, None, "not a valid regular expression"),
    ({"wait_for": "(a|aa)+$", "wait_seconds": 3}, None, "did not finish searching"),
    (None, {"text": "x" * 100_000}, "at most 65536 bytes"),
    (None, {"text": "y" * 5000}, "line mode"),
    (None, {"text": "", "control": "xx"}, "Unknown control key"),
]


@pytest.mark.parametrize("read, send, fragment", LIVE_SHELL_CASES)
async def test_bad_arguments_for_a_running_shell_get_their_error_shape(workspace, read, send, fragment):
    program = f"{sys.executable} -c \"print('a' * 5000 + '!')\"; sleep 60"
    async with hostile_session(workspace) as (session, pid, errlog):
        started = (await session.call_tool("start_background_shell", {"command": program})).structured_content
        shell_id = started["shell_id"]
        await session.call_tool("get_background_shell_output",
                                {"shell_id": shell_id, "wait_for": "!", "wait_seconds": 20})
        tool, arguments = (("get_background_shell_output", read) if read is not None
                           else ("send_background_shell_input", send))
        attack = asyncio.create_task(timed_call(session, tool, shell_id=shell_id, **arguments))
        times = await echo_times(session, 3)
        elapsed, result = await attack
        await session.call_tool("kill_background_shell", {"shell_id": shell_id})
    data = result.structured_content
    assert not result.is_error and data["success"] is False and fragment in data["error"], data
    assert elapsed < WAIT_FOR_SECONDS + SLACK + 1
    assert_responsive(times)
    no_traceback(errlog)


async def test_the_issue_wait_for_answers_within_its_wait(workspace):
    async with hostile_session(workspace) as (session, pid, errlog):
        shell_id = (await session.call_tool("start_background_shell", {
            "command": "printf 'x%.0s' $(seq 3000); sleep 60"})).structured_content["shell_id"]
        attack = asyncio.create_task(timed_call(session, "get_background_shell_output", shell_id=shell_id,
                                                wait_for="(x+x+)+y", wait_seconds=3))
        times = await echo_times(session)
        elapsed, result = await attack
        await session.call_tool("kill_background_shell", {"shell_id": shell_id})
    data = result.structured_content
    assert elapsed < 3 + SLACK and (data.get("matched") is False or data.get("success") is False), data
    assert_responsive(times)
    no_traceback(errlog)


async def test_input_to_a_shell_that_never_reads_is_bounded_and_reported(workspace):
    async with hostile_session(workspace) as (session, pid, errlog):
        shell_id = (await session.call_tool("start_background_shell", {"command": "sleep 60"})).structured_content["shell_id"]
        replies = []
        for _ in range(6):  # 6 x 1001 bytes: more than the terminal holds unread
            elapsed, result = await timed_call(session, "send_background_shell_input", shell_id=shell_id,
                                               text="z" * 1000)
            replies.append(result.structured_content)
            assert elapsed < 5 + SLACK
        times = await echo_times(session, 3)
        await session.call_tool("kill_background_shell", {"shell_id": shell_id})
    written = sum(r.get("bytes_written", 0) for r in replies if r.get("success"))
    refused = [r for r in replies if r.get("success") is False]
    assert written <= 4095 and refused, replies
    assert "not reading its input" in refused[0]["error"] and "bytes were written" in refused[0]["error"]
    assert_responsive(times)
    no_traceback(errlog)


@pytest.mark.parametrize("wait_for, fragment", [
    ("(?:a{1000}){1000}", "multiply to more than"),
    ("(" * 3000 + "a" + ")" * 3000, "characters long"),
    ("(" * 2000 + "a" + ")" * 2000, "nests groups too deeply"),
])
async def test_a_wait_for_too_costly_to_compile_is_refused_at_once(workspace, wait_for, fragment):
    async with hostile_session(workspace) as (session, pid, errlog):
        shell_id = (await session.call_tool("start_background_shell", {"command": "sleep 30"})).structured_content["shell_id"]
        elapsed, result = await timed_call(session, "get_background_shell_output", shell_id=shell_id,
                                           wait_for=wait_for, wait_seconds=5)
        await session.call_tool("kill_background_shell", {"shell_id": shell_id})
    data = result.structured_content
    assert data["success"] is False and fragment in data["error"] and elapsed < 1, data
    no_traceback(errlog)


async def test_a_work_dir_whose_name_is_not_utf8_still_gets_its_results(workspace):
    odd = os.fsdecode(b"d\xff")  # a name an agent can make with mkdir $'d\xff'
    (workspace / odd).mkdir()
    (workspace / "link").symlink_to(odd)
    async with hostile_session(workspace) as (session, pid, errlog):
        ran = (await session.call_tool("execute_command", {"command": "pwd", "work_dir": "link"}))
        shell = (await session.call_tool("start_background_shell", {"command": "sleep 5", "work_dir": "link"}))
        status = await session.call_tool("get_background_shell_status", {"shell_id": shell.structured_content["shell_id"]})
        listed = await session.call_tool("list_background_shells", {})
        await session.call_tool("kill_background_shell", {"shell_id": shell.structured_content["shell_id"]})
    assert not any(r.is_error for r in (ran, shell, status, listed))
    assert ran.structured_content["success"] and ran.structured_content["work_dir"].endswith("d\\udcff")
    assert status.structured_content["cwd"].endswith("d\\udcff") and listed.structured_content["count"] == 1
    no_traceback(errlog)
