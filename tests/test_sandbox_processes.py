"""srt mode's process containment against real bwrap, checked by PID on the host.

Nothing a command started outlives its end or its timeout, setsid and double fork included; background
shells run in a sandbox too and die with their kill; closing the executor leaves nothing of it.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from mgexec.config import ExecConfig
from mgexec.executors.sandbox import SandboxExecutor
from procutil import wait_all_gone
from sandboxutil import SECRET, box, marker, pids_named, wait_for_pids  # noqa: F401  (fixture)

# A setsid'd double fork: the canary is re-parented away from the command's shell, in its own session.
ESCAPE = "setsid bash -c '(exec -a {name} sleep 300 &)' </dev/null >/dev/null 2>&1"


def config(box, **kw) -> ExecConfig:
    return ExecConfig(workspace=box.workspace, mode="srt", timeout=30, **kw)


def bwrap_pids() -> set[int]:
    """bwrap processes that are children of this test process."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read().rsplit(")", 1)
                comm = stat[0].split("(", 1)[1]
            except OSError:
                continue
            if comm == "bwrap" and int(stat[1].split()[1]) == me:
                found.add(int(entry))
    return found


@pytest.fixture(params=[True, False], ids=["warm", "per-command"])
def warm(request):
    return request.param


async def test_an_escaped_child_dies_with_the_commands_end(box, warm):
    name = marker()
    async with SandboxExecutor(config(box), warm=warm) as ex:
        result = await ex.execute(ESCAPE.format(name=name) + "; sleep 0.5; echo done")
        assert result.stdout == "done\n", result
        assert wait_all_gone(pids_named(name), 5) == [] and pids_named(name) == []


async def test_an_escaped_child_dies_with_the_timeout(box, warm):
    name = marker()
    async with SandboxExecutor(config(box), warm=warm) as ex:
        task = asyncio.create_task(ex.execute(ESCAPE.format(name=name) + "; sleep 60", timeout=3))
        pids = await asyncio.to_thread(wait_for_pids, name)
        result = await task
        assert result.timed_out, result
        assert wait_all_gone(pids, 5) == [], pids
        # The sandbox goes on serving after a timeout.
        assert (await ex.execute("echo again")).stdout == "again\n"


async def test_background_shells_run_sandboxed_and_die_with_their_kill(box):
    name = marker()
    async with SandboxExecutor(config(box)) as ex:
        started = await ex.start_background(f"cat {box.home / '.ssh/id_ed25519'}; "
                                            f"python3 -c 'import socket; print(socket.if_nameindex())'; "
                                            f"echo x > {box.canary / 'bg.txt'}; " + ESCAPE.format(name=name)
                                            + f"; exec -a {name}-main sleep 300")
        shell_id = started["shell_id"]
        pids = await asyncio.to_thread(wait_for_pids, name)
        main = await asyncio.to_thread(wait_for_pids, f"{name}-main")
        output = await ex.shells.output(shell_id)
        killed = await ex.shells.kill(shell_id)
        assert wait_all_gone(pids + main, 5) == [], (pids, main, killed)
    text = str(output)
    assert SECRET not in text and "[(1, 'lo')]" in text, text
    assert not (box.canary / "bg.txt").exists()


async def test_close_leaves_nothing_of_the_sandbox(box):
    name = marker()
    ex = SandboxExecutor(config(box))
    await ex.start()
    await ex.start_background(f"exec -a {name}-shell sleep 300")
    task = asyncio.create_task(ex.execute(f"exec -a {name}-cmd sleep 300"))
    pids = await asyncio.to_thread(wait_for_pids, f"{name}-shell") + await asyncio.to_thread(wait_for_pids, f"{name}-cmd")
    sandboxes = bwrap_pids()
    assert sandboxes
    await ex.close()
    await asyncio.gather(task, return_exceptions=True)
    assert wait_all_gone(pids + sorted(sandboxes), 5) == []
