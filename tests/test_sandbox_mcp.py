"""srt mode through the official MCP client over stdio, started from MassGen-shaped YAML.

Per read mode: planted secrets unreadable, writes outside the writable paths fail and leave nothing on
the host, only `lo`. Destructive lines generated at run time leave canaries outside the writable paths
intact (and, as a control, do destroy the same canary inside the workspace). A SIGKILLed server leaves
nothing of its sandboxes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from procutil import wait_all_gone
from sandboxutil import SECRET, box, marker, wait_for_pids  # noqa: F401  (fixture)
from test_server import MGEXEC


def massgen_yaml(box, mode: str) -> Path:
    path = box.root / f"massgen-{mode}.yaml"
    path.write_text(f"""\
agents:
  - id: agent_a
    backend:
      type: openai
      model: gpt-5
      cwd: {box.workspace}
      enable_mcp_command_line: true
      command_line_execution_mode: srt
      command_line_srt_read_mode: {mode}
      command_line_srt_deny_read: [{box.outside / 'denied'}]
      command_line_srt_allow_read: []
      command_line_srt_network_allowed_domains: []
      command_line_srt_allow_unix_sockets: []
""")
    return path


@asynccontextmanager
async def session_for(box, mode: str, *extra: str):
    params = StdioServerParameters(command=MGEXEC, args=["serve", "--config", str(massgen_yaml(box, mode)), *extra],
                                   cwd=str(box.workspace), env={**os.environ, "HOME": str(box.home)})
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


async def run(session, command: str, **kw) -> dict:
    result = await session.call_tool("execute_command", {"command": command, **kw})
    data = result.structured_content
    assert not result.is_error and data["exit_code"] != -1, data  # ran: not refused by the guard rails
    return data


@pytest.mark.parametrize("mode", ["confined", "strict", "open"])
async def test_each_read_mode_contains_reads_writes_and_network(box, mode):
    (box.outside / "denied").mkdir()
    (box.outside / "denied" / "d.txt").write_text(SECRET)
    async with session_for(box, mode) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        secrets = await run(session, f"cat {box.home}/.ssh/id_ed25519 {box.home}/.aws/credentials "
                                     f"{box.home}/.netrc {box.outside}/denied/d.txt /etc/shadow")
        write = await run(session, f"echo x > {box.canary}/new.txt")
        home_write = await run(session, f"echo x > {box.home}/new.txt")
        net = await run(session, "python3 -c 'import socket; print(socket.if_nameindex())'")
        ok = await run(session, "echo hi > here.txt && cat here.txt")
    assert {"execute_command", "start_background_shell", "kill_background_shell"} <= tools
    assert SECRET not in secrets["stdout"] and "root:" not in secrets["stdout"]
    for data in (write, home_write):
        assert data["exit_code"] != 0 and any(s in data["stderr"] for s in (
            "Read-only file system", "Permission denied", "No such file or directory")), data
    assert not (box.canary / "new.txt").exists() and not (box.home / "new.txt").exists()
    assert net["stdout"] == "[(1, 'lo')]\n"
    assert ok["stdout"] == "hi\n" and (box.workspace / "here.txt").exists()


def payloads(target: Path) -> list[str]:
    """Destructive lines whose target only exists at run time (never written in a shell of the test's own)."""
    b64 = base64.b64encode(str(target).encode()).decode()
    line = base64.b64encode(f"rm -rf -- {target}\n".encode()).decode()
    return [
        f"printf '%s\\n' '#!/bin/bash' 'rm -rf -- \"$(echo {b64} | base64 -d)\"' > wipe.sh && bash wipe.sh; echo ran",
        f"cp /bin/rm ./zap && ./zap -rf \"$(echo {b64} | base64 -d)\"; echo ran",
        f"echo {line} | base64 -d | bash; echo ran",
        f"python3 -c \"import base64, shutil; shutil.rmtree(base64.b64decode('{b64}').decode())\"; echo ran",
    ]


@pytest.mark.parametrize("mode", ["confined", "open"])
async def test_run_time_generated_destruction_leaves_canaries_intact(box, mode):
    async with session_for(box, mode) as session:
        for index, payload in enumerate(payloads(box.canary)):
            data = await run(session, payload)
            assert data["stdout"].endswith("ran\n"), data
            assert box.canary_intact(), (index, data)
        # Control: the same payloads do destroy a copy of the canary inside the workspace.
        for index, payload in enumerate(payloads(box.workspace / "canary")):
            shutil.copytree(box.canary, box.workspace / "canary")
            await run(session, payload)
            assert not (box.workspace / "canary").exists(), index


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.add(int(entry))
    return found


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        kids = children_of(todo.pop())
        todo += list(kids - found)
        found |= kids
    return found


def server_pid() -> int:
    for pid in children_of(os.getpid()):
        if b"serve" in open(f"/proc/{pid}/cmdline", "rb").read():
            return pid
    raise AssertionError("no mgexec serve child found")


async def test_a_sigkilled_server_leaves_nothing_of_the_sandbox(box):
    name = marker()
    try:
        async with session_for(box, "confined") as session:
            await session.call_tool("start_background_shell", {"command": f"exec -a {name}-bg sleep 300"})
            running = asyncio.create_task(session.call_tool("execute_command", {
                "command": f"setsid bash -c '(exec -a {name}-fg sleep 300 &)'; sleep 300", "timeout": 600}))
            canaries = await asyncio.to_thread(wait_for_pids, f"{name}-bg") + \
                await asyncio.to_thread(wait_for_pids, f"{name}-fg")
            pid = server_pid()
            tree = descendants(pid)
            assert set(canaries) <= tree
            os.kill(pid, signal.SIGKILL)
            left = await asyncio.to_thread(wait_all_gone, sorted(tree), 10)
            running.cancel()
    except BaseException as exc:  # the session's transport ends with the server
        if not isinstance(exc, (Exception, asyncio.CancelledError)) or isinstance(exc, AssertionError):
            raise
    assert left == [], left


def test_the_shipped_srt_example_runs_sandboxed(tmp_path):
    import subprocess

    done = subprocess.run([MGEXEC, "exec", "--config", "@examples/srt_sandbox", "--",
                           "python3 -c 'import socket; print(socket.if_nameindex())'; pwd"],
                          cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"[(1, 'lo')]\n{tmp_path / 'workspace'}\n"
