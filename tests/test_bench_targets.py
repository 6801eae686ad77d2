"""Issue 13's bench parts that need no engine: target checks, row building and rendering, payload, RSS of a tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.agents import agent_rows, describe, server_rss_mib
from bench.cold import serve_row_set
from bench.mcp_output import mcp_output_rows
from bench.peers import peer_rows, write_payload
from bench.report import comparisons, targets_table
from bench.targets import ISSUE13_TARGETS, agents_at_once, fastest_peer
from bench.timing import BenchError, Row, time_turns


def peers(**mb_per_s: float) -> dict[str, Row]:
    return {f"peers.{k}": Row(f"peers.{k}", k, (0.1,), metrics={"mb_per_s": v}) for k, v in mb_per_s.items()}


def test_output_target_compares_with_the_fastest_peer_not_the_pipe():
    value, met = fastest_peer(peers(mgexec=60, bare=40, py=50, swerex=70, pipe=300))
    assert (value, met) == ("0.86× SWE-ReX `execute` (60 vs 70 MB/s)", False)
    value, met = fastest_peer(peers(mgexec=80, bare=40, py=50, swerex=70, pipe=300))
    assert met and value.startswith("1.14× SWE-ReX")


def test_a_skipped_peer_is_left_out_of_the_output_target():
    rows = peers(mgexec=45, bare=40, py=50)
    rows["peers.swerex"] = Row("peers.swerex", "swerex", result="skipped: no image")
    assert fastest_peer(rows) == ("0.90× docker-py `exec_run` (45 vs 50 MB/s)", False)
    assert fastest_peer(peers(mgexec=45)) == ("no peer measured", False)


def test_agents_target_takes_the_largest_count():
    rows = {r.key: r for r in agent_rows({1: [run(1.0)], 5: [run(2.0)], 10: [run(3.5)]}, burst=50)}
    assert rows["agents.10"].metrics["vs_one"] == 3.5
    assert agents_at_once(rows) == (f"10 agents: 3.50× one agent (CPU floor on this machine's cores: "
                                    f"{0.5 / CORES:.2f}×)", False)
    del rows["agents.10"]
    assert agents_at_once(rows) == (f"5 agents: 2.00× one agent (CPU floor on this machine's cores: "
                                    f"{0.5 / CORES:.2f}×)", True)
    assert agents_at_once({"agents.1": rows["agents.1"]}) == ("only one agent count measured", False)


def test_agents_target_shows_the_minimal_servers_floor_beside_its_ratio():
    rows = {r.key: r for r in agent_rows({1: [run(1.0)], 10: [run(4.0)]}, burst=50)}
    rows["agents.minimal.10"] = Row("agents.minimal.10", "floor", (2.0,), metrics={"vs_one": 2.5, "agents": 10})
    assert agents_at_once(rows) == ("10 agents: 4.00× one agent (minimal SDK servers: 2.50×; CPU floor on this "
                                    f"machine's cores: {0.5 / CORES:.2f}×)", False)


def test_agent_rows_give_the_cpu_floor_the_work_sets_on_this_machines_cores():
    rows = {r.key: r for r in agent_rows({1: [run(2.0, cpu=1.6), run(2.0, cpu=1.2)], 10: [run(9.0, cpu=13.0)]},
                                         burst=50)}
    ten = rows["agents.10"].metrics
    assert ten["cpu_s"] == 13.0 and ten["cpu_floor"] == pytest.approx(13.0 / CORES / 2.0)
    assert (f"machine CPU until all answered 13.00 s (1.30 s per agent), on {CORES} cores ≥ "
            f"{13.0 / CORES / 2.0:.2f}× one agent's wall") in rows["agents.10"].result


def run(ready: float, cpu: float = 0.5) -> dict[str, float]:
    return {"ready_s": ready, "cpu_s": cpu, "rss_mib": 100.0, "rss_max_mib": 120.0, "cmds_per_s": 300.0, "left": 0}


CORES = os.cpu_count() or 1


def test_agent_rows_write_down_rss_and_leftovers():
    rows = agent_rows({1: [run(1.0), run(3.0)], 3: [{**run(4.0), "left": 2}]}, burst=10)
    assert rows[0].samples == (1.0, 3.0) and rows[1].metrics["vs_one"] == 2.0
    assert "idle RSS/server 100 MiB (max 120); 300 cmd/s (3×10 `true` at once)" in rows[1].result
    assert rows[1].result.endswith("2 container(s) left behind (removed)")


def test_mcp_output_targets_read_the_ratio_against_their_limits():
    rows = {r.key: r for r in mcp_output_rows("docker", 1_000_000, {"mcp": [0.03, 0.05], "library": [0.02, 0.02]})
            + mcp_output_rows("docker", 10_000_000, {"mcp": [0.9], "library": [0.3]})}
    assert rows["mcpout.docker.1mb"].metrics["ratio"] == pytest.approx(2.0)
    table = targets_table(rows)
    assert "| 1 MB through MCP (docker mode) within 2× of the library call | 2.00× the library call | **yes** |" in table
    assert "| 10 MB through MCP (docker mode) within 3× of the library call | 3.00× the library call | **yes** |" in table
    assert "| 1 MB through MCP (local mode) within 2× of the library call | not measured | – |" in table


def test_cold_targets_fail_above_their_ratio():
    rows = {r.key: r for r in serve_row_set({"minimal": [0.5, 0.5], "local": [0.7, 0.7], "docker": [1.0, 1.0]})}
    rows["cold.mgexec"] = Row("cold.mgexec", "m", (0.4,), metrics={"ratio": 1.2})
    rows["cold.py"] = Row("cold.py", "p", (0.33,))
    table = targets_table(rows)
    assert "within 1.3× of a minimal SDK server | 1.40× the minimal server | **NO** |" in table
    assert "no slower than docker-py create + start + exec_run | 1.20× docker-py | **NO** |" in table
    assert "`mgexec exec -- true` within 4× of `python3 -c pass` | not measured | – |" in table
    assert rows["cold.serve.docker"].result == "2.00× the minimal server (same run)"


def test_every_issue13_target_is_in_the_table_even_with_no_rows():
    table = targets_table({})
    for target in ISSUE13_TARGETS:
        assert f"| {target.text} | not measured | – |" in table


def test_peer_rows_show_a_skipped_peer_with_its_reason_and_a_failed_one_as_not_measured():
    samples = {"mgexec": [0.02], "bare": [0.04], "pipe": [0.004]}
    rows = {r.key: r for r in peer_rows(samples, 1_000_000, {"py": "docker-py is not installed",
                                                              "swerex": "skipped: no image"})}
    assert rows["peers.mgexec"].result == "50 MB/s" and rows["peers.pipe"].metrics["mb_per_s"] == 250
    assert rows["peers.swerex"].error is None and rows["peers.swerex"].result == "skipped: no image"
    assert rows["peers.py"].error == "docker-py is not installed"
    assert comparisons(rows)[-1] == ("output ceilings and peers, same file, same run: host pipe 250 MB/s; "
                                     "mgexec warm channel 50 MB/s; bare `docker exec` 25 MB/s")


def test_payload_is_base64_text_of_the_exact_size(tmp_path):
    path = write_payload(tmp_path, 100_000)
    data = path.read_bytes()
    assert len(data) == 100_000 and set(data) <= set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n")
    assert write_payload(tmp_path, 100_000).read_bytes() == data  # reused, not rewritten


def test_server_rss_counts_the_server_and_its_children(tmp_path):
    config = tmp_path / "agent.yaml"
    before = (sys.executable, "-c", "import sys; print('x' * 10, flush=True); sys.stdin.read()")
    alone = subprocess.Popen([*before, "serve", "--config", str(config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        alone.stdout.readline()
        one = server_rss_mib(config)
    finally:
        alone.communicate(b"")
    # The same, with a child interpreter of its own (whose pid it prints): the tree's RSS counts both.
    child = "import sys; sys.stdin.read()"
    parent = (f"import subprocess, sys; c = subprocess.Popen([sys.executable, '-c', {child!r}], stdin=subprocess.PIPE); "
              "print(c.pid, flush=True); sys.stdin.read(); c.communicate(b'')")
    proc = subprocess.Popen([sys.executable, "-c", parent, "serve", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        int(proc.stdout.readline())
        time.sleep(0.3)  # the child interpreter finishes starting
        both = server_rss_mib(config)
    finally:
        proc.communicate(b"")
    assert both > one * 1.5, (one, both)
    with pytest.raises(BenchError, match="no `mgexec serve --config"):
        server_rss_mib(config)


async def test_turns_run_one_call_of_each_variant_per_round():
    order = []

    def call(name: str):
        async def timed() -> float:
            order.append(name)
            return len(order) / 10

        return timed

    samples = await time_turns({"a": call("a"), "b": call("b")}, 2)
    assert order == ["a", "b", "a", "b"] and samples == {"a": [0.1, 0.3], "b": [0.2, 0.4]}


def test_a_failed_agent_count_is_an_error_row_and_keeps_the_others():
    rows = {r.key: r for r in agent_rows({1: [run(1.0)], 5: [], 10: [run(2.5)]}, burst=50,
                                         errors={5: "execute_command `true` failed: channel ended"})}
    assert rows["agents.5"].error == "execute_command `true` failed: channel ended" and not rows["agents.5"].samples
    assert agents_at_once(rows)[0].startswith("10 agents: 2.50× one agent (CPU floor") and agents_at_once(rows)[1]
    without_one = agent_rows({1: [], 3: [run(2.0)]}, burst=10, errors={1: "no engine"})
    assert "vs_one" not in without_one[1].metrics and without_one[1].result.startswith("idle RSS/server")
    assert agents_at_once({r.key: r for r in without_one}) == ("only one agent count measured", False)


def test_exception_groups_are_described_by_what_failed_inside():
    inner = BenchError("execute_command `true` failed: channel ended")
    assert describe(ExceptionGroup("outer", [ExceptionGroup("task group", [inner])])) == str(inner)
    assert describe(ValueError("bad")) == "ValueError: bad"
