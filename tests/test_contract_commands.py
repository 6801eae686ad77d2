"""The behaviour every runtime promises for one command, stated once and run in each (contract_runtimes):
results and exit codes, work_dir, the environment, timeouts and whole-tree kills, output caps, UTF-8.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from contract_runtimes import (  # noqa: F401 - fixtures
    KILLS_ESCAPES, make_runtime, probe, promised, runtime, runtime_kind, runtime_workspace)
from escapeshapes import SHAPES, cancel_and_check, run_and_check
from procutil import read_pids, watched_cmdlines
from test_line_shell import BASH_LINE, BASH_OUTPUT

SECRET = "sk-mgexec-contract-5d1e0b"


async def gone(probe, pids: list[int]) -> list[int]:
    """The pids still alive once the runtime's kill has had time to settle."""
    deadline = time.monotonic() + probe.runtime.kill_settle
    while (alive := await asyncio.to_thread(probe.alive, pids)) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return alive


def make_tool(directory: Path, name: str, output: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    tool.write_text(f"#!/bin/sh\necho {output}\n")
    tool.chmod(0o755)


async def test_the_runtime_is_the_one_requested(probe, runtime_kind):
    assert probe.uses_warm_channel() == runtime_kind.uses_warm_channel


# --- results, exit codes, work_dir ------------------------------------------------------------------

async def test_result_shape_streams_exit_code_and_path_transparency(runtime, runtime_workspace):
    ws = runtime_workspace
    (ws / "hello.txt").write_text("from host\n")
    line = "pwd; cat hello.txt; echo err >&2; echo made > out.txt; exit 4"
    result = await runtime.execute(line)
    assert set(result.model_dump()) == {"success", "exit_code", "stdout", "stderr", "execution_time", "command",
                                        "work_dir", "timed_out", "truncated"}
    assert (result.exit_code, result.success, result.timed_out, result.truncated) == (4, False, False, False)
    assert result.stdout == f"{ws}\nfrom host\n" and result.stderr == "err\n"
    assert result.work_dir == str(ws) and result.command == line
    assert (ws / "out.txt").read_text() == "made\n"
    ok = await runtime.execute("echo out; echo err >&2")
    assert (ok.success, ok.exit_code, ok.stdout, ok.stderr) == (True, 0, "out\n", "err\n")
    assert ((r := await runtime.execute("exit 7")).success, r.exit_code) == (False, 7)


async def test_death_by_signal_reads_like_a_shell(runtime):
    result = await runtime.execute("kill -KILL $$")
    assert (result.success, result.exit_code, result.timed_out) == (False, 137, False)


async def test_work_dir_rules(runtime, runtime_workspace, tmp_path):
    ws, outside = runtime_workspace, tmp_path / "outside"
    (ws / "sub").mkdir()
    outside.mkdir()
    assert (await runtime.execute("pwd", work_dir="sub")).stdout == f"{ws / 'sub'}\n"
    assert (await runtime.execute("pwd", work_dir=str(ws / "sub"))).stdout == f"{ws / 'sub'}\n"
    refused = await runtime.execute("pwd", work_dir=str(outside))
    assert refused.exit_code == -1 and str(outside) in refused.stderr
    (ws / "escape").symlink_to(outside)
    assert (await runtime.execute("pwd", work_dir="escape")).exit_code == -1
    assert (await runtime.execute("pwd", work_dir="missing")).exit_code == -1


@pytest.mark.parametrize("command", ["rm -rf /", "rm -r -f /", "sudo ls", ":(){ :|:& };:", "ls; chmod 777 x"])
async def test_policy_refuses_before_anything_runs(runtime, runtime_workspace, command):
    marker = runtime_workspace / "ran"
    result = await runtime.execute(f"touch {marker}; {command}")
    assert (result.success, result.exit_code) == (False, -1)
    assert result.stderr and not marker.exists()
    if command == "sudo ls":
        assert "dangerous" in result.stderr


async def test_allow_and_deny_lists_apply_to_every_simple_command(make_runtime, runtime_workspace):
    allow = await make_runtime(allow_patterns=("echo .*",))
    assert (await allow.execute("echo a && echo b")).success
    refused = await allow.execute("echo a && touch x")
    assert refused.exit_code == -1 and "touch x" in refused.stderr and not (runtime_workspace / "x").exists()
    deny = await make_runtime(deny_patterns=("touch .*",))
    refused = await deny.execute("ls; touch y")
    assert refused.exit_code == -1 and not (runtime_workspace / "y").exists()


async def test_concurrent_commands_do_not_interfere(runtime):
    results = await asyncio.gather(*(runtime.execute(f"sleep 0.3; echo {i}") for i in range(10)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(10)]


# --- the environment --------------------------------------------------------------------------------

async def test_non_interactive_env_and_empty_stdin(runtime, runtime_workspace):
    result = await runtime.execute('pwd; echo "$PAGER $GIT_TERMINAL_PROMPT $DEBIAN_FRONTEND"; '
                                   "readlink /proc/self/fd/0; cat; echo eof")
    assert result.stdout == f"{runtime_workspace}\ncat 0 noninteractive\n/dev/null\neof\n"


async def test_no_state_leaks_between_commands(runtime, runtime_workspace):
    fresh_umask = (await runtime.execute("umask")).stdout
    await runtime.execute("cd /tmp; export LEAK=1; umask 077")
    result = await runtime.execute('pwd; echo "leak=$LEAK pager=$PAGER"; umask')
    assert result.stdout == f"{runtime_workspace}\nleak= pager=cat\n{fresh_umask}"


async def test_bash_runs_the_line_and_startup_variables_are_dropped(make_runtime, runtime_workspace, monkeypatch):
    # Honoured, these would run a start-up file, trace every command to stderr, expand aliases and
    # replace `echo`; each reaches the command's environment the way the runtime passes variables on.
    startup = runtime_workspace / "startup.sh"
    startup.write_text("echo STARTUP-FILE-RAN\n")
    startup.chmod(0o644)
    monkeypatch.setenv("BASH_ENV", str(startup))
    monkeypatch.setenv("SHELLOPTS", "xtrace")
    monkeypatch.setenv("BASHOPTS", "expand_aliases")
    monkeypatch.setenv("BASH_FUNC_echo%%", "() { builtin echo HIJACKED; }")
    executor = await make_runtime(credentials={"env_vars": ["BASH_ENV", "SHELLOPTS", "BASHOPTS"]})
    result = await executor.execute(BASH_LINE)
    assert (result.exit_code, result.stdout, result.stderr) == (0, BASH_OUTPUT, "")


async def test_secrets_reach_the_command_but_no_process_argv(make_runtime, monkeypatch):
    monkeypatch.setenv("HOST_SECRET", f"{SECRET}-host")
    executor = await make_runtime(credentials={"env_vars": ["HOST_SECRET"]})
    with watched_cmdlines() as seen:
        result = await executor.execute('echo "$HOST_SECRET"; sleep 1 && echo contract-watch-$((6 * 7))')
        refused = await executor.execute(f"sudo echo {SECRET}-host")  # an error must not echo it either
    assert result.stdout == f"{SECRET}-host\ncontract-watch-42\n"
    assert any("contract-watch-" in line for line in seen), "the watcher never saw the command run"
    assert not [line for line in seen if f"{SECRET}-host" in line]
    assert refused.exit_code == -1


async def test_venv_in_work_dir_goes_first_on_path(runtime, runtime_workspace):
    ws = runtime_workspace
    make_tool(ws / ".venv" / "bin", "python", "venv-python")
    (ws / "plain").mkdir()
    venv = (await runtime.execute('python; echo "$PATH"; echo "$VIRTUAL_ENV"')).stdout.splitlines()
    plain = (await runtime.execute('echo "$PATH"; echo "$VIRTUAL_ENV"', work_dir="plain")).stdout.splitlines()
    assert venv == ["venv-python", f"{ws}/.venv/bin:{plain[0]}", f"{ws}/.venv"]
    assert plain[1] == "" and not plain[0].startswith(str(ws))


# --- timeouts and whole-tree kills ------------------------------------------------------------------

async def test_timeout_kills_the_whole_tree(runtime, runtime_workspace, probe):
    # A background child, a grandchild in a subshell that ignores TERM, and a top shell that ignores it too.
    script = ("sleep 300 & echo $! >> pids; sh -c 'trap \"\" TERM; sleep 300 & echo $! >> pids; wait' & "
              "echo $! >> pids; echo $$ >> pids; echo started; trap '' TERM; wait")
    result = await runtime.execute(script, timeout=1.5)
    assert result.timed_out and not result.success and result.exit_code == -1
    assert "Command timed out after 1.5 seconds" in result.stderr
    assert result.stdout == "started\n"
    pids = await asyncio.to_thread(read_pids, runtime_workspace / "pids", 4)
    assert len(pids) == 4 and await gone(probe, pids) == []


async def test_default_timeout_comes_from_config(make_runtime):
    executor = await make_runtime(timeout=0.5)
    result = await executor.execute("sleep 5")
    assert result.timed_out and "after 0.5 seconds" in result.stderr


async def test_leftovers_are_killed_and_do_not_hold_the_result(runtime, runtime_workspace, probe):
    result = await runtime.execute("sleep 300 & echo $! >> pids; (trap '' TERM; exec sleep 300) >/dev/null 2>&1 & "
                                   "echo $! >> pids; echo done", timeout=20)
    assert (result.stdout, result.exit_code, result.timed_out) == ("done\n", 0, False)
    assert result.execution_time < 10  # not the 20 s timeout, nor the 300 s sleep
    pids = await asyncio.to_thread(read_pids, runtime_workspace / "pids", 2)
    assert await gone(probe, pids) == []


async def test_cancelled_call_kills_the_command_and_the_runtime_goes_on(runtime, runtime_workspace, probe):
    task = asyncio.create_task(runtime.execute("trap '' TERM; echo $$ > pid; sleep 300"))
    pid = (await asyncio.to_thread(read_pids, runtime_workspace / "pid", 1, 15))[0]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(probe, [pid]) == []
    assert (await runtime.execute("echo still fine")).stdout == "still fine\n"


@pytest.mark.parametrize("name", SHAPES)
async def test_command_end_kills_escapes(runtime, runtime_kind, probe, name):
    promised(runtime_kind, KILLS_ESCAPES)
    await run_and_check(runtime, probe.finder(), name, timeout=None)


@pytest.mark.parametrize("name", SHAPES)
async def test_timeout_kills_escapes(runtime, runtime_kind, probe, name):
    promised(runtime_kind, KILLS_ESCAPES)
    await run_and_check(runtime, probe.finder(), name, timeout=3)


@pytest.mark.parametrize("name", SHAPES)
async def test_cancel_kills_escapes(runtime, runtime_kind, probe, name):
    promised(runtime_kind, KILLS_ESCAPES)
    await cancel_and_check(runtime, probe.finder(), name, settle=runtime_kind.cancel_settle)


# --- output: caps, the truncation marker, UTF-8 -----------------------------------------------------

async def test_output_cap_keeps_the_head_and_marks_the_rest(make_runtime):
    executor = await make_runtime(max_output_bytes=4097)
    out = await executor.execute("head -c 100000 /dev/zero | tr '\\0' x; printf 'éé' >&2")
    assert out.truncated and out.stdout == "x" * 4097 + "\n... (truncated 95903 bytes)" and out.stderr == "éé"
    err = await executor.execute("printf 'a\\377b'; head -c 100000 /dev/zero >&2")
    assert err.truncated and err.stdout == "a\ufffdb"
    assert err.stderr == "\0" * 4097 + "\n... (truncated 95903 bytes)"
    # 4200 bytes of a 2-byte character, cut after 4097: the partial character goes, the marker counts it.
    cut = await executor.execute("printf 'é%.0s' $(seq 2100)")
    assert cut.truncated and cut.stdout == "é" * 2048 + "\n... (truncated 104 bytes)"
    fits = await executor.execute("head -c 4097 /dev/zero | tr '\\0' y")
    assert not fits.truncated and fits.stdout == "y" * 4097


async def test_invalid_utf8_is_replaced_never_fatal(runtime):
    first = await runtime.execute("printf 'a\\377b\\n'; printf '\\300x' >&2")
    assert (first.exit_code, first.stdout, first.stderr) == (0, "a\ufffdb\n", "\ufffdx")
    second = await runtime.execute("printf 'ok \\377\\376 end'; printf '\\303' >&2")
    assert (second.stdout, second.stderr) == ("ok \ufffd\ufffd end", "\ufffd")
