"""Every command line runs with bash, and the environment cannot change how bash reads it (start-up files,
options, exported functions): the pure pieces and background shells here; commands in every runtime in
test_contract_commands.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from mgexec.environment import command_env, line_shell_argv
from mgexec.shells import BackgroundShellManager, LocalLauncher

# Bash-only forms models write every day: each would fail or mean something else under dash.
BASH_LINE = "[[ a == a ]] && arr=(x y) && echo \"${arr[1]} $((2**3))\"; echo $'t\\x41'; echo {1..3}"
BASH_OUTPUT = "y 8\ntA\n1 2 3\n"


def test_line_argv_is_bash_c():
    assert line_shell_argv("echo hi") == ["bash", "-c", "echo hi"]


def test_command_env_drops_what_changes_how_bash_reads_a_line(tmp_path):
    base = {"PATH": "/usr/bin", "BASH_ENV": "/x", "ENV": "/y", "SHELLOPTS": "xtrace", "BASHOPTS": "expand_aliases",
            "POSIXLY_CORRECT": "1", "CDPATH": "/", "GLOBIGNORE": "*", "BASH_FUNC_ls%%": "() { :; }", "KEEP": "1"}
    assert command_env(tmp_path, base).keys() - {"PAGER", "GIT_TERMINAL_PROMPT", "DEBIAN_FRONTEND"} == {"PATH", "KEEP"}


@pytest.fixture
def hostile_host_env(monkeypatch, tmp_path):
    """A host environment that, honoured, would run a start-up file and replace `echo`."""
    startup = tmp_path / "startup.sh"
    startup.write_text("echo STARTUP-FILE-RAN\n")
    monkeypatch.setenv("BASH_ENV", str(startup))
    monkeypatch.setenv("BASHOPTS", "expand_aliases")
    monkeypatch.setenv("BASH_FUNC_echo%%", "() { builtin echo HIJACKED; }")


async def test_local_background_shell_runs_bash(tmp_path, hostile_host_env):
    shells = BackgroundShellManager(LocalLauncher(), kill_grace=1.0)
    try:
        shell_id = (await shells.start(BASH_LINE, str(tmp_path)))["shell_id"]
        deadline = time.monotonic() + 20
        while (await shells.status(shell_id))["status"] == "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        output = (await shells.output(shell_id))["stdout"]
        assert output.replace("\r\n", "\n") == BASH_OUTPUT
    finally:
        await shells.close()
