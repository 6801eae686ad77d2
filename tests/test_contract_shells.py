"""What background shells do wherever they run, stated once and run over every launcher (contract_launchers):
shapes and statuses, environment and .venv, output, input, several shells, and kills of whole trees.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import pytest

from procutil import shell_finished
from contract_launchers import place, shells, work_dir  # noqa: F401 - fixtures
from escapeshapes import SHAPES, shell_check
from mgexec.errors import InvalidShellRequest, ShellLimitReached
from mgexec.shells import BackgroundShellManager


# --- shapes and statuses -------------------------------------------------------------------------

async def test_start_output_and_status_have_the_massgen_shape(shells, work_dir):
    started = await shells.start("echo out; echo err >&2", work_dir)
    assert re.fullmatch(r"shell_[0-9a-f]{8}", started["shell_id"])
    assert (started["status"], started["command"], started["work_dir"]) == ("running", "echo out; echo err >&2",
                                                                            work_dir)
    assert started["pid"] > 0
    status = await shell_finished(shells, started["shell_id"])
    assert status.keys() == {"shell_id", "status", "exit_code", "pid", "command", "cwd", "start_time",
                             "duration_seconds"}
    assert (status["status"], status["exit_code"], status["cwd"], status["pid"]) == ("stopped", 0, work_dir,
                                                                                      started["pid"])
    assert isinstance(status["start_time"], float) and abs(status["start_time"] - time.time()) < 60
    assert await shells.output(started["shell_id"]) == {
        "shell_id": started["shell_id"], "stdout": "out\nerr\n", "stderr": "", "status": "stopped", "exit_code": 0,
        "merged": True, "dropped_lines": 0, "dropped_bytes": 0}
    failed = (await shells.start("echo out; exit 3", work_dir))["shell_id"]
    assert ((s := await shell_finished(shells, failed))["status"], s["exit_code"], s["cwd"]) == ("failed", 3, work_dir)
    assert await shells.output(failed) == {"shell_id": failed, "stdout": "out\n", "stderr": "", "status": "failed",
                                           "exit_code": 3, "merged": True, "dropped_lines": 0, "dropped_bytes": 0}


@pytest.mark.parametrize(("command", "expected"), [
    ("true", ("stopped", 0)),
    ("exit 3", ("failed", 3)),
    ("kill -9 $$", signal.SIGKILL),
], ids=["true", "exit-3", "kill-9"])
async def test_exit_statuses(shells, work_dir, place, command, expected):
    shell_id = (await shells.start(command, work_dir))["shell_id"]
    result = await shell_finished(shells, shell_id)
    if isinstance(expected, signal.Signals):
        expected = place.signal_death(expected)
    assert (result["status"], result["exit_code"]) == expected


async def test_work_dir_non_interactive_env_and_venv_first(shells, work_dir):
    show = 'pwd; echo "$PAGER $GIT_TERMINAL_PROMPT $DEBIAN_FRONTEND $TERM|$VIRTUAL_ENV"'
    plain = (await shells.start(show, work_dir))["shell_id"]
    await shell_finished(shells, plain)
    assert (await shells.output(plain))["stdout"] == f"{work_dir}\ncat 0 noninteractive dumb|\n"
    sub = Path(work_dir, "proj")
    (sub / ".venv" / "bin").mkdir(parents=True)
    tool = sub / ".venv" / "bin" / "venv-tool"
    tool.write_text("#!/bin/sh\necho from the venv\n")
    tool.chmod(0o755)
    venv = (await shells.start(f"venv-tool; {show}", str(sub)))["shell_id"]
    assert (await shell_finished(shells, venv))["status"] == "stopped"
    assert (await shells.output(venv))["stdout"] == f"from the venv\n{sub}\ncat 0 noninteractive dumb|{sub}/.venv\n"


# --- output and input -----------------------------------------------------------------------------

async def test_output_streams_while_running(shells, work_dir):
    shell_id = (await shells.start("for i in 1 2 3; do echo tick $i; sleep 0.4; done; sleep 300",
                                   work_dir))["shell_id"]
    first = await shells.output(shell_id, wait_seconds=20, wait_for="tick 1\n")
    assert first["status"] == "running" and "tick 3" not in first["stdout"]
    later = await shells.output(shell_id, since_last_read=True, wait_seconds=20, wait_for="tick 3\n")
    assert later["status"] == "running" and later["stdout"].endswith("tick 3\n")


async def test_answer_a_prompt(shells, work_dir):
    shell_id = (await shells.start("""python3 -c "x = input('name? '); print('hi', x)" """, work_dir))["shell_id"]
    assert (await shells.output(shell_id, wait_seconds=20, wait_for=r"name\? $"))["matched"]
    written = await shells.send_input(shell_id, "Ada")
    assert written == {"shell_id": shell_id, "success": True, "bytes_written": 4}  # "Ada" and Enter
    assert (await shell_finished(shells, shell_id))["status"] == "stopped"
    assert (await shells.output(shell_id))["stdout"] == "name? Ada\nhi Ada\n"


async def test_drive_a_python_repl_line_by_line(shells, work_dir):
    shell_id = (await shells.start("python3 -q", work_dir))["shell_id"]
    assert (await shells.output(shell_id, wait_seconds=20, wait_for=">>> $"))["matched"]
    await shells.send_input(shell_id, "x = 6 * 7")
    await shells.send_input(shell_id, "print(x, 'ü')")
    # Waiting for the next prompt, as a person would: typed ahead, Ctrl-D could reach the
    # terminal while the REPL switches modes between two lines.
    assert (await shells.output(shell_id, wait_seconds=20, wait_for="^42 ü\n>>> $"))["matched"]
    await shells.send_input(shell_id, "", control="d")  # EOF ends the REPL
    assert (await shell_finished(shells, shell_id))["status"] == "stopped"


async def test_ctrl_c_interrupts_a_sleep(shells, work_dir, place):
    started = await shells.start("sleep 300", work_dir)
    # Once sleep runs: a SIGINT the shell gets while it forks waits for the child, which never saw it.
    tree = await place.tree(started["pid"], sleeps=1)
    await shells.send_input(started["shell_id"], "", control="c")
    status = await shell_finished(shells, started["shell_id"])
    assert (status["status"], status["exit_code"]) == place.signal_death(signal.SIGINT)
    assert await place.gone(tree) == []


# --- several shells at once -----------------------------------------------------------------------

async def test_parallel_starts(shells, work_dir, place):
    place.requires("distinct-pids")
    results = await asyncio.gather(*(shells.start(f"echo marker-{i}", work_dir) for i in range(5)))
    assert len({r["shell_id"] for r in results}) == len({r["pid"] for r in results}) == 5
    for i, result in enumerate(results):
        assert (await shell_finished(shells, result["shell_id"]))["status"] == "stopped"
        assert (await shells.output(result["shell_id"]))["stdout"] == f"marker-{i}\n"
    assert (await shells.list())["count"] == 5


async def test_server_keeps_running_while_other_shells_come_and_go(shells, work_dir, place):
    place.requires("shared-network")
    Path(work_dir, "hello.txt").write_text("hello from the workspace")
    server = (await shells.start("python3 -m http.server 0 --bind 127.0.0.1", work_dir))["shell_id"]
    port = re.search(r"port (\d+)", (await shells.output(server, wait_seconds=30,
                                                        wait_for=r"port \d+"))["stdout"]).group(1)
    for i in range(3):
        other = (await shells.start(f"echo other work {i}", work_dir))["shell_id"]
        assert (await shell_finished(shells, other))["status"] == "stopped"
    fetch = (await shells.start(f"python3 -c \"import urllib.request as u; "
                                f"print(u.urlopen('http://127.0.0.1:{port}/hello.txt').read().decode())\"",
                                work_dir))["shell_id"]
    assert (await shell_finished(shells, fetch))["status"] == "stopped"
    assert (await shells.output(fetch))["stdout"] == "hello from the workspace\n"
    assert (await shells.output(server, wait_seconds=20, wait_for="GET /hello.txt"))["matched"]
    assert (await shells.status(server))["status"] == "running"
    assert (await shells.kill(server))["signal"] == "SIGTERM"


async def test_concurrency_limit(place, work_dir):
    manager = BackgroundShellManager(place.launcher())
    try:
        started = await asyncio.gather(*(manager.start("sleep 300", work_dir) for _ in range(10)))
        with pytest.raises(ShellLimitReached, match=r"^Maximum concurrent shells \(10\) reached"):
            await manager.start("sleep 300", work_dir)
        await manager.kill(started[0]["shell_id"])
        assert (await manager.start("true", work_dir))["status"] == "running"
    finally:
        await manager.close()
    assert await place.gone([s["pid"] for s in started]) == []


# --- killing trees --------------------------------------------------------------------------------

async def test_kill_takes_the_whole_tree(shells, work_dir, place):
    started = await shells.start("sleep 300 & sleep 300 & wait", work_dir)
    tree = await place.tree(started["pid"], sleeps=2)
    result = await shells.kill(started["shell_id"])
    assert result == {"shell_id": started["shell_id"], "status": "killed", "signal": "SIGTERM"}
    assert await place.gone(tree) == []
    status = await shells.status(started["shell_id"])
    assert (status["status"], status["exit_code"]) == ("killed", place.killed_code(signal.SIGTERM))


async def test_kill_reaches_other_process_groups_of_the_session(shells, work_dir, place):
    # With job control on, the shell puts each background job into a process group of its own.
    started = await shells.start("set -m; sleep 300 & sleep 300 & wait", work_dir)
    tree = await place.tree(started["pid"], sleeps=2)
    groups = {group for group, comm in (await asyncio.to_thread(place.session, started["pid"])).values()
              if comm == "sleep"}
    assert len(groups) == 2 and started["pid"] not in groups
    assert (await shells.kill(started["shell_id"]))["status"] == "killed"
    assert await place.gone(tree) == []


async def test_term_ignoring_tree_ends_with_sigkill(place, work_dir):
    manager = BackgroundShellManager(place.launcher(), kill_grace=0.5)
    try:
        started = await manager.start("trap '' TERM; sleep 300 & sleep 300", work_dir)
        tree = await place.tree(started["pid"], sleeps=2)
        result = await manager.kill(started["shell_id"])
        assert (result["status"], result["signal"]) == ("killed", "SIGKILL")
        assert await place.gone(tree) == []
    finally:
        await manager.close()


async def test_leftovers_end_with_the_shell(shells, work_dir, place):
    shell_id = (await shells.start("sleep 300 & echo $!", work_dir))["shell_id"]
    assert (await shell_finished(shells, shell_id))["status"] == "stopped"
    leftover = int((await shells.output(shell_id))["stdout"])
    assert await place.gone([leftover]) == []


async def test_close_kills_every_shell_and_leaves_the_place(place, work_dir):
    manager = BackgroundShellManager(place.launcher(owns_container=True))
    started = [await manager.start("sleep 300 & sleep 300", work_dir) for _ in range(3)]
    trees = [await place.tree(s["pid"], sleeps=2) for s in started]
    await manager.close()
    assert await place.gone([pid for tree in trees for pid in tree]) == []
    assert {(await manager.status(s["shell_id"]))["status"] for s in started} == {"killed"}
    with pytest.raises(InvalidShellRequest, match="closed"):
        await manager.start("true", work_dir)
    await asyncio.sleep(0.5)
    assert place.still_there()  # a deliberate close leaves the container to its owner


@pytest.mark.parametrize("name", SHAPES)
async def test_kill_takes_escapes(place, work_dir, name):
    manager = BackgroundShellManager(place.launcher(), kill_grace=1.0)
    try:
        await shell_check(manager, place.finder(), name, work_dir)
    finally:
        await manager.close()
