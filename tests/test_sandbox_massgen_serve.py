"""`mgexec serve --execution-mode srt --srt-settings FILE`, launched as MassGen launches it, through the official
MCP client: the settings JSON MassGen writes is enforced by the sandbox, not only by the guard rails."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

MGEXEC = str(Path(sys.executable).parent / "mgexec")
SECRET = "mgexec-srt-settings-secret-77c1"


@pytest.fixture
def root():
    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed: apt-get install bubblewrap (the srt suites never skip)")
    path = Path(tempfile.mkdtemp(prefix="mgexec-srt-serve-", dir="/var/tmp"))  # the sandbox's /tmp is private
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def run(session, command: str) -> dict:
    result = await session.call_tool("execute_command", {"command": command})
    out = result.structured_content or json.loads(result.content[0].text)
    assert out["exit_code"] != -1, out  # ran in the sandbox: not refused by the guard rails
    return out


async def test_the_srt_settings_massgen_writes_are_enforced(root):
    ws, hidden, extra, outside = (root / name for name in ("ws", "hidden", "extra", "outside"))
    for path in (ws, hidden, extra, outside):
        path.mkdir()
    (hidden / "key.txt").write_text(SECRET + "\n")
    (outside / "data.txt").write_text("outside data\n")
    settings = root / "srt.json"
    settings.write_text(json.dumps({"filesystem": {"allowWrite": [str(ws), str(extra)], "denyRead": [str(hidden)]},
                                    "network": {"allowedDomains": []}}))
    # The targets reach the line at run time (as a model's script would), so only the sandbox can stop them.
    (ws / "targets").write_text(f"{hidden}\n{extra}\n{outside}\n")
    params = StdioServerParameters(command=MGEXEC, cwd=str(ws), args=[
        "serve", "--allowed-paths", str(ws), "--execution-mode", "srt", "--srt-settings", str(settings)])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            read_hidden = await run(session, 'cat "$(sed -n 1p targets)/key.txt"; ls "$(sed -n 1p targets)"')
            write_extra = await run(session, 'echo allowed > "$(sed -n 2p targets)/made.txt" && echo wrote')
            write_outside = await run(session, 'echo nope > "$(sed -n 3p targets)/made.txt"; echo rc=$?; '
                                               'cat "$(sed -n 3p targets)/data.txt"')
            write_ws = await run(session, "echo here > ws.txt && cat ws.txt")
    assert SECRET not in read_hidden["stdout"] and "key.txt" not in read_hidden["stdout"], read_hidden
    assert write_extra["stdout"] == "wrote\n" and (extra / "made.txt").read_text() == "allowed\n", write_extra
    assert write_outside["stdout"] == "rc=1\noutside data\n", write_outside
    assert "Read-only file system" in write_outside["stderr"] or "Permission denied" in write_outside["stderr"]
    assert not (outside / "made.txt").exists()
    assert write_ws["stdout"] == "here\n" and (ws / "ws.txt").read_text() == "here\n"
