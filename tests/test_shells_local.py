"""Background shells on this host, against real processes: the keeper, output reads, the table, floods,
owner death. What shells do wherever they run is in test_contract_shells.py."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mgexec import processes
from mgexec.errors import (
    InvalidShellRequest,
    ShellNotFound,
    ShellNotRunning,
    ShellStartFailed,
)
from mgexec.shells import BackgroundShellManager, LocalLauncher
from mgexec.processes import session_members
from mgexec.shells.launcher import BACKGROUND_SHELL_ENV, Handshake, shell_env
from mgexec.shells.shell import control_character, final_status
from procutil import pid_alive, wait_all_gone, shell_finished

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def manager():
    shells = BackgroundShellManager(LocalLauncher(), kill_grace=1.0)
    yield shells
    await shells.close()


def comms(pids) -> list[str]:
    names = []
    for pid in pids:
        try:
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            pass
    return names


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# --- shapes and statuses -------------------------------------------------------------------


def test_shell_env_puts_the_work_dir_venv_first(tmp_path):
    assert shell_env({"PATH": "/usr/bin", "PAGER": "less"}, str(tmp_path)) == {"PATH": "/usr/bin",
                                                                               **BACKGROUND_SHELL_ENV}
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    env = shell_env({"PATH": "/usr/bin"}, str(tmp_path))
    assert env["PATH"] == f"{tmp_path}/.venv/bin:/usr/bin" and env["VIRTUAL_ENV"] == f"{tmp_path}/.venv"


async def test_missing_work_dir_is_a_clear_error(manager, tmp_path):
    with pytest.raises(ShellStartFailed, match="not an existing directory"):
        await manager.start("true", str(tmp_path / "nope"))
    assert (await manager.list())["count"] == 0


@pytest.mark.parametrize(("code", "signum", "kill_requested", "expected"), [
    (0, None, False, ("stopped", 0)),
    (2, None, False, ("failed", 2)),
    (None, None, False, ("failed", None)),  # reaped elsewhere: the status is unknown
    (143, None, True, ("killed", 143)),  # a TERM trap that exits on its own still counts as killed
    (None, signal.SIGTERM, False, ("killed", -15)),
])
def test_final_status(code, signum, kill_requested, expected):
    assert final_status(code, signum, kill_requested) == expected


class AnnouncingLauncher(LocalLauncher):
    """A local launcher whose wrapper first announces a pid, as a docker launcher's would."""

    def argv_for(self, command: str, work_dir: str) -> list[str]:
        return super().argv_for(f"printf 'PID:'; sleep 0.2; printf '4242\\n'; {command}", work_dir)

    def read_handshake(self, data: bytes) -> Handshake | None:
        keeper = super().read_handshake(data)  # the keeper's own line comes first
        if keeper is None or b"\n" not in keeper.rest:
            return None
        line, rest = keeper.rest.split(b"\n", 1)
        return Handshake(pid=int(line.removeprefix(b"PID:").rstrip(b"\r")), rest=rest)


async def test_launcher_handshake_sets_the_pid_and_is_not_output(tmp_path):
    shells = BackgroundShellManager(AnnouncingLauncher())
    try:
        started = await shells.start("echo hello", str(tmp_path))
        assert started["pid"] == 4242  # the announced pid, which arrived in two pieces
        await shell_finished(shells, started["shell_id"])
        assert (await shells.output(started["shell_id"]))["stdout"] == "hello\n"
    finally:
        await shells.close()


# --- output: wait_for, since_last_read, tail_lines ----------------------------------------

async def test_output_written_just_before_exit_is_kept(manager, tmp_path):
    # Many small writes and an immediate exit: the case where Linux can report the terminal
    # closed while the last output is still queued (it lost output about once in 250 runs).
    command = "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo $i; done"
    expected = "".join(f"{i}\n" for i in range(1, 3001))
    for _ in range(10):
        ids = [(await manager.start(command, str(tmp_path)))["shell_id"] for _ in range(5)]
        for shell_id in ids:
            await shell_finished(manager, shell_id)
            assert (await manager.output(shell_id))["stdout"] == expected
            await manager.remove(shell_id)


async def test_wait_for_pattern(manager, tmp_path):
    shell_id = (await manager.start("sleep 0.3; echo READY; sleep 300", str(tmp_path)))["shell_id"]
    out = await manager.output(shell_id, wait_seconds=20, wait_for="^READY$")
    assert out["matched"] is True and out["stdout"] == "READY\n" and out["status"] == "running"
    out = await manager.output(shell_id, wait_seconds=0.2, wait_for="never printed")
    assert out["matched"] is False


async def test_wait_ends_early_when_the_shell_ends(manager, tmp_path):
    shell_id = (await manager.start("sleep 0.2; echo bye", str(tmp_path)))["shell_id"]
    begun = time.monotonic()
    out = await manager.output(shell_id, wait_seconds=30, wait_for="never printed")
    assert time.monotonic() - begun < 30  # returned because the shell ended, not at the wait's end
    assert (out["matched"], out["status"], out["stdout"]) == (False, "stopped", "bye\n")


async def test_wait_seconds_waits_for_unread_output(manager, tmp_path):
    shell_id = (await manager.start("echo one; sleep 0.5; echo two; sleep 300", str(tmp_path)))["shell_id"]
    assert (await manager.output(shell_id, wait_seconds=20))["stdout"].startswith("one\n")
    out = await manager.output(shell_id, since_last_read=True, wait_seconds=20)
    assert out["stdout"] == "two\n"


async def test_since_last_read_and_tail_lines(manager, tmp_path):
    shell_id = (await manager.start("printf 'a\\nb\\n'; read x; printf 'c\\nd\\n'; sleep 300",
                                    str(tmp_path)))["shell_id"]
    assert (await manager.output(shell_id, wait_seconds=20, wait_for="b\n"))["stdout"] == "a\nb\n"
    await manager.send_input(shell_id, "go")
    out = await manager.output(shell_id, since_last_read=True, wait_seconds=20, wait_for="d\n")
    assert out["stdout"] == "go\nc\nd\n"  # the terminal echoes what was typed
    assert (await manager.output(shell_id, since_last_read=True))["stdout"] == ""
    assert (await manager.output(shell_id, tail_lines=2))["stdout"] == "c\nd\n"
    assert (await manager.output(shell_id))["stdout"] == "a\nb\ngo\nc\nd\n"


async def test_bad_arguments_are_clear_errors(manager, tmp_path):
    shell_id = (await manager.start("sleep 300", str(tmp_path)))["shell_id"]
    with pytest.raises(InvalidShellRequest, match="not a valid regular expression"):
        await manager.output(shell_id, wait_for="(")
    with pytest.raises(InvalidShellRequest, match="tail_lines"):
        await manager.output(shell_id, tail_lines=-1)
    with pytest.raises(InvalidShellRequest, match="Unknown control key"):
        await manager.send_input(shell_id, "", control="ctrl-c")
    with pytest.raises(InvalidShellRequest, match="still running"):
        await manager.remove(shell_id)


def test_control_characters():
    assert [control_character(k) for k in "cdzC["] == ["\x03", "\x04", "\x1a", "\x03", "\x1b"]


# --- input ---------------------------------------------------------------------------------


async def test_input_to_a_finished_shell(manager, tmp_path):
    shell_id = (await manager.start("true", str(tmp_path)))["shell_id"]
    await shell_finished(manager, shell_id)
    with pytest.raises(ShellNotRunning) as caught:
        await manager.send_input(shell_id, "hello")
    assert str(caught.value) == f"Shell {shell_id} is not running (status: stopped); it cannot take input"


# --- several shells at once ----------------------------------------------------------------


async def test_concurrent_readers_neither_lose_nor_repeat_output(manager, tmp_path):
    command = "for i in $(seq 30); do seq $((i * 100 - 99)) $((i * 100)); sleep 0.01; done"
    shell_id = (await manager.start(command, str(tmp_path)))["shell_id"]
    pieces: list[str] = []  # appended right after each call returns, so in read-cursor order

    async def reader() -> None:
        while True:
            out = await manager.output(shell_id, since_last_read=True, wait_seconds=5)
            pieces.append(out["stdout"])
            if out["status"] != "running":
                return

    await asyncio.gather(*(reader() for _ in range(5)))
    assert "".join(pieces) == "".join(f"{i}\n" for i in range(1, 3001))
    assert len([piece for piece in pieces if piece]) > 1  # the readers really took turns


async def test_concurrent_kills_share_one_escalation(manager, tmp_path):
    shell_id = (await manager.start("sleep 300", str(tmp_path)))["shell_id"]
    results = await asyncio.gather(*(manager.kill(shell_id) for _ in range(3)))
    assert {r["signal"] for r in results} == {"SIGTERM"} and {r["status"] for r in results} == {"killed"}


# --- killing trees -------------------------------------------------------------------------


async def test_kill_a_finished_shell_is_not_an_error(manager, tmp_path):
    shell_id = (await manager.start("true", str(tmp_path)))["shell_id"]
    await shell_finished(manager, shell_id)
    assert await manager.kill(shell_id) == {"shell_id": shell_id, "status": "stopped", "signal": None,
                                            "message": "Process already terminated"}


async def test_keeper_is_no_child_of_the_command(manager, tmp_path):
    # The keeper is the shell's parent and the reported pid, so a command that waits for all its
    # children never waits for it.
    started = await manager.start("sleep 300", str(tmp_path))
    await asyncio.sleep(0.3)
    stats = processes.process_table()
    keeper = started["pid"]
    assert stats[keeper][1] == os.getpid() and comms([keeper]) == [Path(sys.executable).name[:15]]
    children = [pid for pid, stat in stats.items() if stat[1] == keeper]
    assert comms(children) == ["sleep"]


# --- the table -----------------------------------------------------------------------------

async def test_unknown_ids(manager):
    for call in (manager.status("shell_deadbeef"), manager.output("shell_deadbeef"),
                 manager.kill("shell_deadbeef"), manager.send_input("shell_deadbeef", "x"),
                 manager.remove("shell_deadbeef")):
        with pytest.raises(ShellNotFound) as caught:
            await call
        assert str(caught.value) == "Shell not found: shell_deadbeef"
        assert isinstance(caught.value, KeyError)


async def test_retention_prunes_finished_shells_only(tmp_path):
    shells = BackgroundShellManager(LocalLauncher(), retention_seconds=0.3)
    try:
        done = (await shells.start("true", str(tmp_path)))["shell_id"]
        running = (await shells.start("sleep 300", str(tmp_path)))["shell_id"]
        await shell_finished(shells, done)
        await asyncio.sleep(0.5)
        listed = await shells.list()
        assert [s["shell_id"] for s in listed["shells"]] == [running] and listed["count"] == 1
        with pytest.raises(ShellNotFound):
            await shells.status(done)
    finally:
        await shells.close()


async def test_remove_a_finished_shell(manager, tmp_path):
    shell_id = (await manager.start("true", str(tmp_path)))["shell_id"]
    await shell_finished(manager, shell_id)
    assert await manager.remove(shell_id) == {"shell_id": shell_id, "removed": True}
    assert (await manager.list())["count"] == 0


# --- floods and owner death (slower) ---------------------------------------------------------

FLOOD = ("python3 -c \"import sys; line = b'x' * 1023 + b'\\n'; w = sys.stdout.buffer.write; "
         "[w(line) for _ in range(200 * 1024)]; w(b'END\\n')\"")


@pytest.mark.slow
async def test_flood_keeps_the_buffer_and_memory_bounded(tmp_path):
    cap = 1 << 20
    shells = BackgroundShellManager(LocalLauncher(), max_bytes=cap)
    try:
        rss_before = rss_mib()
        shell_id = (await shells.start(FLOOD, str(tmp_path)))["shell_id"]
        probe = (await shells.start("echo still responsive", str(tmp_path)))["shell_id"]
        largest = 0
        while (out := await shells.output(shell_id, wait_seconds=1))["status"] == "running":
            largest = max(largest, len(out["stdout"]))
        assert (await shells.output(probe))["stdout"] == "still responsive\n"
        assert out["status"] == "stopped" and out["stdout"].endswith("x\nEND\n")
        assert max(largest, len(out["stdout"].encode())) <= cap
        assert out["dropped_bytes"] + len(out["stdout"].encode()) == 200 * 1024 * 1024 + 4
        assert out["dropped_lines"] == 200 * 1024 + 1 - out["stdout"].count("\n")
        assert rss_mib() - rss_before < 64  # 200 MB went through; only about the cap stayed
    finally:
        await shells.close()


OWNER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from mgexec.shells import BackgroundShellManager, LocalLauncher

async def main():
    shells = BackgroundShellManager(LocalLauncher())
    for command in ("sleep 300 & sleep 300", "trap '' HUP; sleep 300 & sleep 300",
                    "trap '' HUP; set -m; sleep 300 & sleep 300 & wait"):
        print((await shells.start(command, {work_dir!r}))["pid"], flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


@pytest.mark.slow
def test_shells_die_when_their_owner_is_sigkilled(tmp_path):
    # The second shell ignores SIGHUP, so the terminal's hangup alone would leave its sleeps
    # running: only the keeper's tree kill ends them. The third also moves its jobs out of
    # its process group.
    script = tmp_path / "owner.py"
    script.write_text(OWNER.format(repo=str(REPO), work_dir=str(tmp_path)))
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        leaders = [int(owner.stdout.readline()) for _ in range(3)]
        deadline = time.monotonic() + 10
        while comms(tree := set().union(*map(session_members, leaders))).count("sleep") < 6:
            assert time.monotonic() < deadline, f"trees never formed: {comms(tree)}"
            time.sleep(0.05)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait()
        assert wait_all_gone(tree, seconds=5) == []
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    assert not any(map(pid_alive, leaders))
