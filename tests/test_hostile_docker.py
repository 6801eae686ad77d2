"""Hostile input in docker mode through the official MCP client: the same budgets and result shapes as locally."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dockermode import exists, remove, require_image
from hostile import SLACK, assert_responsive, echo_times, hostile_session, no_traceback, timed_call
from mgexec.policy.checker import CHECK_SECONDS
from mgexec.shells.manager import WAIT_FOR_SECONDS

pytestmark = pytest.mark.docker


@pytest.fixture
def docker_args(tmp_path):
    require_image()
    agent = f"hostile{uuid.uuid4().hex[:8]}"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"agent:\n  id: {agent}\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n")
    yield ["--config", str(cfg)]
    if exists(f"massgen-{agent}"):
        remove(f"massgen-{agent}")


async def test_docker_mode_keeps_serving_during_attacks_and_answers_each(workspace, docker_args):
    async with hostile_session(workspace, *docker_args, local=False) as (session, _, errlog):
        attack = asyncio.create_task(timed_call(session, "execute_command",
                                                command="false && true > x" + "{a,b}" * 26))
        await asyncio.sleep(0.3)
        times = await echo_times(session)
        elapsed, result = await attack
        refused = result.structured_content
        assert (refused["exit_code"], refused["success"]) == (-1, False) and elapsed < CHECK_SECONDS + SLACK
        assert_responsive(times)

        for command, fragment in [("echo a\0b", "NUL"), ("a;" * 65536, "MAX_ARG_STRLEN")]:
            data = (await session.call_tool("execute_command", {"command": command})).structured_content
            assert data["exit_code"] == -1 and fragment in data["stderr"]

        shell_id = (await session.call_tool("start_background_shell", {
            "command": "python3 -c \"print('a' * 5000 + '!')\"; sleep 60"})).structured_content["shell_id"]
        await session.call_tool("get_background_shell_output", {"shell_id": shell_id, "wait_for": "!",
                                                                "wait_seconds": 30})
        search = asyncio.create_task(timed_call(session, "get_background_shell_output", shell_id=shell_id,
                                                wait_for="(a|aa)+$", wait_seconds=5))
        times = await echo_times(session, 3)
        elapsed, result = await search
        assert result.structured_content["success"] is False and elapsed < WAIT_FOR_SECONDS + SLACK + 1
        assert_responsive(times)
        await session.call_tool("kill_background_shell", {"shell_id": shell_id})
    no_traceback(errlog)
