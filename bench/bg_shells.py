"""Background-shell output throughput: a local shell floods its terminal, the manager's output tool drains it."""

from __future__ import annotations

import time

from mgexec.shells import BackgroundShellManager, LocalLauncher

from bench.context import BenchContext
from bench.timing import BenchError, Row, mb_per_s, rss_mib

LINE = "mgexec background shell throughput: a line of ordinary width for a log-like flood"  # 80 chars with \n
DRAIN_WAIT = 10.0  # seconds one output call may wait for new output before the bench gives up


def flood_command(nbytes: int) -> str:
    return f"yes '{LINE}' 2>/dev/null | head -c {nbytes}"  # no 'Broken pipe' from yes in the count


class PeakHeld:
    """Records the buffer's held bytes after every feed, so the peak is exact rather than sampled."""

    def __init__(self, buffer) -> None:
        self.peak = buffer.held_bytes  # what arrived before the instrument was in place
        self._buffer = buffer
        self._feed = buffer.feed
        buffer.feed = self._record  # an instrument on this one instance; the class is untouched

    def _record(self, data: bytes) -> None:
        self._feed(data)
        self.peak = max(self.peak, self._buffer.held_bytes)

    @property
    def stream_bytes(self) -> int:
        """Everything the shell printed so far, held or dropped."""
        return self._buffer.end_offset


async def bench_shells(ctx: BenchContext) -> list[Row]:
    nbytes = ctx.settings.shell_bytes
    command = flood_command(nbytes)
    manager = BackgroundShellManager(LocalLauncher())
    rss = {"before": rss_mib()}
    try:
        start = time.perf_counter()
        started = await manager.start(command, str(ctx.workspace))
        # The manager has no public view of its buffers; the bench reads the one it instruments.
        held = PeakHeld(manager._shells[started["shell_id"]].buffer)
        drained, rss["peak"], final = await drain(manager, started["shell_id"])
        wall = time.perf_counter() - start
    finally:
        await manager.close()
    rss["after"] = rss_mib()
    produced = held.stream_bytes
    if final["status"] != "stopped" or produced != nbytes:
        raise BenchError(f"the shell ended {final['status']} (exit {final['exit_code']}) after {produced} of "
                         f"{nbytes} bytes")
    lost = nbytes - drained  # trimmed by the ring before a read returned them
    rate = mb_per_s(nbytes, wall)
    result = (f"{rate:.0f} MB/s; {drained / 1e6:.1f} MB read, {lost / 1e6:.1f} MB lost to the ring unread; "
              f"buffer peak {held.peak / 2**20:.2f} MiB (caps {manager.max_bytes / 2**20:.0f} MiB, "
              f"{manager.max_lines:,} lines); "
              f"RSS {rss['before']:.0f} → peak {rss['peak']:.0f} → {rss['after']:.0f} MiB")
    label = f"background shell printing {nbytes / 1e6:.0f} MB of `yes` lines, drained via `output()`"
    return [Row("shells.drain", label, (wall,), result=result,
                metrics={"mb_per_s": rate, "peak_held": held.peak, "lost": lost,
                         **{f"rss_{k}": v for k, v in rss.items()}})]


async def drain(manager: BackgroundShellManager, shell_id: str) -> tuple[int, float, dict]:
    """Read new output until the shell has ended: (bytes read, peak RSS MiB, last reply)."""
    drained, peak_rss = 0, rss_mib()
    while True:
        out = await manager.output(shell_id, since_last_read=True, wait_seconds=DRAIN_WAIT)
        drained += len(out["stdout"].encode())
        peak_rss = max(peak_rss, rss_mib())
        # The status turns final only after the last output is in the buffer, and this reply read it.
        if out["status"] != "running":
            return drained, peak_rss, out
        if not out["stdout"]:
            raise BenchError(f"no output for {DRAIN_WAIT:g} s from a shell that should be flooding")
