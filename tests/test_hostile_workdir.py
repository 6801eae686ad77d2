"""work_dir races: a directory swapped for a symlink out of the workspace while calls are checked and started.

What was checked is where the command runs (local commands and background shells), or the call is
refused; nothing ever runs in the symlink's target.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from mgexec.config import ExecConfig
from mgexec.executors.local import LocalExecutor

# Swaps `d` between a real directory and a symlink to the canary directory, as fast as it can.
SWAPPER = """
import os, sys, time
ws, outside = sys.argv[1], sys.argv[2]
d, real, link = os.path.join(ws, "d"), os.path.join(ws, "d.real"), os.path.join(ws, "d.link")
while True:
    os.rename(d, real)            # d: gone
    os.symlink(outside, link)
    os.rename(link, d)            # d: a symlink out of the workspace
    time.sleep(0.0005)
    os.rename(d, link)
    os.unlink(link)
    os.rename(real, d)            # d: the real directory again
    time.sleep(0.0005)
"""


@pytest.fixture
def swapping(tmp_path: Path):
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    (ws / "d").mkdir(parents=True)
    outside.mkdir()
    (ws / "d" / "where").write_text("inside\n")
    (outside / "where").write_text("OUTSIDE\n")
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(ws), str(outside)])
    try:
        yield ws, outside
    finally:
        swapper.kill()
        swapper.wait()


async def test_commands_never_run_in_a_swapped_in_symlink_target(swapping):
    ws, outside = swapping
    ran = refused = 0
    async with LocalExecutor(ExecConfig(workspace=ws)) as executor:
        # At least 400 calls, and more until both outcomes were seen: the swapper leaves the real
        # directory in place only briefly, so on a quiet machine few calls find it.
        for calls in range(4000):
            if calls >= 400 and ran and refused:
                break
            result = await executor.execute("cat where; pwd", work_dir="d", timeout=10)
            assert "OUTSIDE" not in result.stdout and str(outside) not in result.stdout, result
            if result.exit_code == -1:
                refused += 1
                assert "work_dir" in result.stderr or "working directory" in result.stderr, result.stderr
            elif result.success:
                ran += 1
                assert result.stdout.startswith("inside\n"), result
    print(f"ran {ran}, refused {refused}")
    assert ran > 0 and refused > 0  # the race was real: some calls found the real directory


async def test_background_shells_never_start_in_a_swapped_in_symlink_target(swapping):
    ws, outside = swapping
    started = 0
    async with LocalExecutor(ExecConfig(workspace=ws)) as executor:
        for _ in range(400):
            if started >= 20:
                break
            try:
                shell = await executor.start_background("cat where", work_dir="d")
            except Exception as exc:  # refused: the directory changed while it was checked
                assert "work_dir" in str(exc), exc
                continue
            started += 1
            out = await executor.shells.output(shell["shell_id"], wait_seconds=10, wait_for="inside|OUTSIDE")
            assert "OUTSIDE" not in out["stdout"], out
            await executor.shells.kill(shell["shell_id"])
    assert started > 0


async def test_a_work_dir_removed_before_the_start_is_a_result(tmp_path: Path):
    ws = tmp_path / "ws"
    (ws / "gone").mkdir(parents=True)
    async with LocalExecutor(ExecConfig(workspace=ws)) as executor:
        resolved = await executor.gate.approve("true", "gone")
        (ws / "gone").rmdir()
        with pytest.raises(Exception) as raised:
            executor.open_dir(resolved)
        assert "changed while it was being checked" in str(raised.value)
        result = await executor.execute("true", work_dir="gone")
    assert (result.exit_code, result.success) == (-1, False) and "does not exist" in result.stderr
