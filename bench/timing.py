"""Timing primitives of the benchmark: one result row, percentiles, interleaved timed calls."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Mapping

Call = Callable[[], Awaitable[object]]


class BenchError(Exception):
    """A measurement could not be taken (the thing measured failed); the message says why."""


@dataclass(frozen=True)
class Row:
    """One line of the results table: wall-time samples (seconds) and/or a result text.

    `metrics` holds the numbers comparisons and targets are computed from (MB/s, error counts).
    `error` replaces the figures when the measurement failed.
    """

    key: str
    label: str
    samples: tuple[float, ...] = ()
    result: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.samples, 95) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.samples) * 1000


def percentile(samples, pct: float) -> float:
    """Nearest-rank percentile: an observed value, defined for any non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


async def timed(call: Call) -> float:
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def time_interleaved(calls: Mapping[str, Call], n: int, warmup: int) -> dict[str, list[float]]:
    """Time each call n times after `warmup` untimed calls; the calls take turns in blocks of ~n/10.

    Taking turns spreads slow changes in machine load (other processes) over every variant
    alike. Blocks rather than single calls, because a `docker exec` leaves the engine busy
    tearing down after it returns, and that work should not land on the call measured next.
    """
    for call in calls.values():
        for _ in range(warmup):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    block = max(1, n // 10)
    for first in range(0, n, block):
        for name, call in calls.items():
            for _ in range(min(block, n - first)):
                samples[name].append(await timed(call))
    return samples


def rss_mib() -> float:
    """This process's resident set size now, in MiB (Linux /proc)."""
    return _status_kib("VmRSS") / 1024


def _status_kib(field_name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return float(line.split()[1])
    return float("nan")


def mb_per_s(nbytes: float, seconds: float) -> float:
    """Throughput in MB/s (10^6 bytes), as disk and network figures are usually quoted."""
    return nbytes / 1e6 / seconds if seconds > 0 else float("inf")


async def time_turns(calls: Mapping[str, Callable[[], Awaitable[float]]], n: int) -> dict[str, list[float]]:
    """n rounds, one call of each variant per round; each call returns the seconds it timed itself.

    For slow calls (a start-up) whose clean-up must stay out of the figure: the call times its own part.
    """
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            samples[name].append(await call())
    return samples
