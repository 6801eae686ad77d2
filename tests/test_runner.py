"""The runner against real processes: groups killed, output capped and decoded safely."""

from __future__ import annotations

import asyncio
import signal

import pytest

from mgexec.runner import CappedBuffer, capped_text, run_process
from procutil import read_pids, wait_all_gone


async def test_captures_stdout_stderr_and_exit_code_separately():
    out = await run_process(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (out.exit_code, out.stdout, out.stderr, out.timed_out) == (3, "out\n", "err\n", False)


async def test_timeout_kills_the_whole_tree(tmp_path):
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! >> {pids}; (sleep 300 & echo $! >> {pids}; wait) & echo $$ >> {pids}; wait"
    out = await run_process(["/bin/sh", "-c", script], timeout=0.5, kill_grace=1)
    assert out.timed_out and out.signal == signal.SIGTERM
    assert wait_all_gone(read_pids(pids, 3)) == []


async def test_sigterm_ignoring_tree_is_sigkilled(tmp_path):
    pids = tmp_path / "pids"
    script = f"trap '' TERM; sh -c 'trap \"\" TERM; echo $$ >> {pids}; sleep 300' & echo $$ >> {pids}; wait"
    out = await run_process(["/bin/sh", "-c", script], timeout=0.5, kill_grace=0.3)
    assert out.timed_out and out.signal == signal.SIGKILL
    assert wait_all_gone(read_pids(pids, 2)) == []


async def test_cancellation_kills_the_tree(tmp_path):
    pids = tmp_path / "pids"
    task = asyncio.create_task(run_process(["/bin/sh", "-c", f"echo $$ > {pids}; sleep 300"]))
    found = await asyncio.to_thread(read_pids, pids, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wait_all_gone(found) == []


async def test_output_cap_truncates_with_marker():
    out = await run_process(["/bin/sh", "-c", "head -c 5000 /dev/zero | tr '\\0' a; head -c 10 /dev/zero >&2"],
                            output_cap=1000)
    assert out.stdout.startswith("a" * 1000) and "truncated 4000 bytes" in out.stdout
    assert out.stdout_dropped == 4000 and out.stderr_dropped == 0 and out.truncated


async def test_flood_is_drained_and_bounded():
    out = await run_process(["/bin/sh", "-c", "head -c 50000000 /dev/zero"], output_cap=1000)
    assert out.exit_code == 0 and out.stdout_dropped == 50_000_000 - 1000


@pytest.mark.parametrize("data,cap,kept", [
    ("aé".encode(), 2, "a"),          # cut inside é: the partial byte goes
    ("aé".encode(), 3, "aé"),
    ("a€b".encode(), 3, "a"),         # € is 3 bytes
    ("a𝄞".encode(), 4, "a"),          # 4-byte character
    ("a𝄞b".encode(), 5, "a𝄞"),
])
def test_truncation_never_splits_a_character(data, cap, kept):
    buf = CappedBuffer(cap)
    buf.feed(data)
    text, _ = capped_text(buf.data, buf.dropped)
    assert text.split("\n... (truncated")[0] == kept
    cut = len(data) - len(kept.encode())
    assert (f"truncated {cut} bytes" in text) if cut else "truncated" not in text


@pytest.mark.parametrize("data,cap,dropped", [("aé".encode(), 2, 2), ("a€b".encode(), 3, 4), ("a𝄞".encode(), 4, 4),
                                               ("ab".encode(), 1, 1), ("aé".encode(), 3, 0)])
def test_the_dropped_count_includes_a_character_the_cap_cut_through(data, cap, dropped):
    buf = CappedBuffer(cap)
    buf.feed(data)
    text, count = capped_text(buf.data, buf.dropped)
    assert count == dropped and (f"(truncated {dropped} bytes)" in text if dropped else "truncated" not in text)


async def test_a_command_cut_inside_a_character_reports_the_bytes_its_marker_names():
    out = await run_process(["printf", "a\\303\\251"], output_cap=2, timeout=10)
    assert out.stdout == "a\n... (truncated 2 bytes)" and out.stdout_dropped == 2


def test_the_channels_output_reports_the_bytes_its_marker_names():
    from mgexec.docker.channel_program import channel_output

    out, err = CappedBuffer(2), CappedBuffer(3)
    out.feed("aé".encode())
    err.feed("x€".encode())
    result = channel_output({"code": 0, "dropped": [5, 0], "timed_out": False}, out, err, 0.1)
    assert (result.stdout_dropped, result.stderr_dropped) == (7, 3)
    assert result.stdout.endswith("(truncated 7 bytes)") and result.stderr.endswith("(truncated 3 bytes)")


def test_no_marker_when_nothing_dropped():
    assert capped_text(b"hi", 0)[0] == "hi"
