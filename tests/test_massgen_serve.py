"""`mgexec serve` launched the way MassGen launches its own command_line server, through the official MCP client."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

MGEXEC = str(Path(sys.executable).parent / "mgexec")


@asynccontextmanager
async def massgen_launch(cwd: Path, *args: str):
    params = StdioServerParameters(command=MGEXEC, args=["serve", *args], cwd=str(cwd))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


async def run(session, command: str, **extra):
    result = await session.call_tool("execute_command", {"command": command, **extra})
    return result.structured_content or json.loads(result.content[0].text)


async def test_massgen_launch_shape_runs_in_cwd_with_its_limits(tmp_path):
    ws, context = tmp_path / "ws_1234abcd", tmp_path / "ctx"
    ws.mkdir(), context.mkdir()
    (context / "data.txt").write_text("context data\n")
    async with massgen_launch(ws, "--allowed-paths", str(ws), str(context), "--execution-mode", "local",
                              "--timeout", "2", "--max-output-size", "2000", "--blocked-commands", "^curl") as s:
        here = await run(s, "pwd; echo made > f.txt")
        assert here["stdout"].strip() == str(ws) and (ws / "f.txt").read_text() == "made\n"
        assert (await run(s, "cat data.txt", work_dir=str(context)))["stdout"] == "context data\n"
        refused = await run(s, "ls", work_dir=str(tmp_path))
        assert not refused["success"] and "outside" in refused["stderr"]
        slow = await run(s, "sleep 5")
        assert slow["timed_out"] and "2" in slow["stderr"]
        big = await run(s, "head -c 100000 /dev/zero | tr '\\0' x")
        assert big["truncated"] and len(big["stdout"]) <= 2200
        assert not (await run(s, "curl http://127.0.0.1:9"))["success"]


async def test_flags_win_over_the_config_and_entry_flags_are_taken(tmp_path):
    ws = tmp_path / "ws"
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"agent": {"id": "agent_a", "backend": {
        "cwd": str(ws), "command_line_default_timeout": 30, "command_line_blocked_commands": ["^ls"]}}}))
    skills = tmp_path / "skills"
    skills.mkdir()
    (skills / "SKILL.md").write_text("a skill\n")
    async with massgen_launch(tmp_path, "--config", str(config), "--agent", "agent_a", "--agent-id", "agent_a",
                              "--instance-id", "0badcafe", "--local-skills-directory", str(skills),
                              "--blocked-commands", "^cat", "--timeout", "1") as s:
        assert (await run(s, "ls"))["success"]  # the flag's list replaced the config's
        assert not (await run(s, "cat x"))["success"]
        assert (await run(s, "sleep 3"))["timed_out"]
        assert (await run(s, "cat .agent/skills/SKILL.md | tr a A"))["success"] is False  # cat is blocked
        linked = await run(s, "head -1 .agent/skills/SKILL.md; pwd")
        assert linked["stdout"] == f"a skill\n{ws}\n"


def test_unknown_flag_is_one_line_on_stderr(tmp_path):
    proc = subprocess.run([MGEXEC, "serve", "--allowed-paths", str(tmp_path), "--future-flag", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--future-flag" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_still_works_and_names_massgens_flags(tmp_path, flag):
    proc = subprocess.run([MGEXEC, "serve", flag], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "--massgen-workspace" in proc.stdout and "--execution-mode local|docker|srt" in " ".join(proc.stdout.split())


def test_bad_massgen_value_is_one_paragraph(tmp_path):
    proc = subprocess.run([MGEXEC, "serve", "--execution-mode", "srt"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr.startswith("mgexec: --execution-mode srt needs --srt-settings FILE")
