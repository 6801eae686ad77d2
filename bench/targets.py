"""Targets of the report: a check turns rows of one run into a measured figure and met/not met (issue 13's here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from bench.timing import Row

Rows = Mapping[str, Row]

OUTPUT_PEERS = {"bare": "bare `docker exec`", "py": "docker-py `exec_run`", "swerex": "SWE-ReX `execute`"}


@dataclass(frozen=True)
class Target:
    text: str
    needs: tuple[str, ...]
    check: Callable[[Rows], tuple[str, bool]]  # measured value as text, met?


def measured(rows: Rows, *keys: str) -> bool:
    return all(k in rows and rows[k].error is None and rows[k].samples for k in keys)


def fastest_peer(rows: Rows) -> tuple[str, bool]:
    """mgexec's MB/s over the fastest peer's measured in the same run (the host pipe is a ceiling, not a peer)."""
    peers = {key: rows[f"peers.{key}"].metrics["mb_per_s"] for key in OUTPUT_PEERS if measured(rows, f"peers.{key}")}
    if not peers:
        return "no peer measured", False
    best = max(peers, key=peers.get)
    ours = rows["peers.mgexec"].metrics["mb_per_s"]
    return f"{ours / peers[best]:.2f}× {OUTPUT_PEERS[best]} ({ours:.0f} vs {peers[best]:.0f} MB/s)", ours >= peers[best]


def ratio_at_most(key: str, limit: float, what: str) -> Callable[[Rows], tuple[str, bool]]:
    def check(rows: Rows) -> tuple[str, bool]:
        ratio = rows[key].metrics["ratio"]
        return f"{ratio:.2f}× {what}", ratio <= limit

    return check


def agents_at_once(rows: Rows) -> tuple[str, bool]:
    counts = sorted(int(k.split(".")[1]) for k in rows
                    if k.split(".")[0] == "agents" and k.split(".")[1].isdigit() and measured(rows, k)
                    and "vs_one" in rows[k].metrics)
    if len(counts) < 2:
        return "only one agent count measured", False
    ratio = rows[f"agents.{counts[-1]}"].metrics["vs_one"]
    floor = rows.get(f"agents.minimal.{counts[-1]}")
    beside = f"; minimal SDK servers: {floor.metrics['vs_one']:.2f}×" if floor is not None and measured(
        rows, floor.key) else ""
    metrics = rows[f"agents.{counts[-1]}"].metrics
    if "cpu_floor" in metrics:
        beside += f"; CPU floor on this machine's cores: {metrics['cpu_floor']:.2f}×"
    return f"{counts[-1]} agents: {ratio:.2f}× one agent{f' ({beside[2:]})' if beside else ''}", ratio <= 3


def mcp_output(mode: str, size: str, limit: float) -> Target:
    key = f"mcpout.{mode}.{size}"
    return Target(f"{size[:-2]} MB through MCP ({mode} mode) within {limit:g}× of the library call",
                  (key, f"{key}.lib"), ratio_at_most(key, limit, "the library call"))


ISSUE13_TARGETS = (
    Target("output in docker mode (10 MB; 1 MB with --quick): mgexec at least as fast as the fastest peer",
           ("peers.mgexec",), fastest_peer),
    mcp_output(mode="docker", size="1mb", limit=2), mcp_output(mode="docker", size="10mb", limit=3),
    mcp_output(mode="local", size="1mb", limit=2), mcp_output(mode="local", size="10mb", limit=3),
    Target("nothing → first command in docker mode no slower than docker-py create + start + exec_run",
           ("cold.mgexec", "cold.py"), ratio_at_most("cold.mgexec", 1, "docker-py")),
    Target("`mgexec serve` (local) spawn → `tools/list` within 1.3× of a minimal SDK server",
           ("cold.serve.local", "cold.serve.minimal"), ratio_at_most("cold.serve.local", 1.3, "the minimal server")),
    Target("`mgexec exec -- true` within 4× of `python3 -c pass`", ("cold.cli.mgexec", "cold.cli.python"),
           ratio_at_most("cold.cli.mgexec", 4, "`python3 -c pass`")),
    Target("agents started at once (largest N; 10 in a full run) ready within 3× of one agent", ("agents.1",),
           agents_at_once),
)


def output_ceilings(rows: Rows) -> list[str]:
    """The comparison line of issue 13's output ceilings: every path's MB/s on the same file, same run."""
    names = {"pipe": "host pipe", "mgexec": "mgexec warm channel", **OUTPUT_PEERS}
    found = [f"{name} {rows[f'peers.{key}'].metrics['mb_per_s']:.0f} MB/s" for key, name in names.items()
             if measured(rows, f"peers.{key}")]
    return [f"output ceilings and peers, same file, same run: {'; '.join(found)}"] if found else []
