"""Smoke tests of the benchmark suite: `python -m bench` subsets run and print the expected rows (no timing checks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import select_groups
from bench.report import results_table, targets_table
from bench.timing import Row, percentile
from dockermode import require_image
from dockerutil import docker_binary

REPO = Path(__file__).resolve().parents[1]


def run_bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def table_rows(report: str) -> dict[str, list[str]]:
    """Result rows by id: the cells after the id column."""
    rows = {}
    for line in report.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def assert_measured(rows: dict[str, list[str]], key: str, runs: int) -> None:
    assert key in rows, f"no row {key}: {sorted(rows)}"
    label, median, p95, low, count, result = rows[key]
    assert "not measured" not in result, result
    assert float(low.replace(",", "")) <= float(median.replace(",", "")) <= float(p95.replace(",", ""))
    assert int(count) == runs


def test_local_shells_and_mcp_local_rows():
    done = run_bench("--quick", "--n", "5", "--only", "local", "shells", "mcp-local")
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    for key in ("local.bare", "local.mgexec", "mcp.local"):
        assert_measured(rows, key, 5)
    assert_measured(rows, "shells.drain", 1)
    assert "MB/s" in rows["shells.drain"][-1] and "overhead" in rows["local.mgexec"][-1]
    assert "| mgexec local overhead over a bare subprocess ≤ 1 ms | +" in done.stdout
    assert "docker.warm" not in rows


def test_attack_rows():
    done = run_bench("--quick", "--n", "5", "--only", "attack")
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    for key in ("attack.quiet", "attack.echo"):
        assert_measured(rows, key, 5)
    assert "| MCP `echo` while the slowest line to judge is judged, median ≤ 100 ms | " in done.stdout


def test_srt_cli_rows_are_measured_or_skipped_with_the_reason():
    done = run_bench("--quick", "--n", "3", "--only", "srt-cli", timeout=900)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    if rows["srtcli.srt"][-1].startswith("skipped: "):
        assert "srtcli.bwrap" not in rows
        return
    for key in ("srtcli.srt", "srtcli.bwrap", "srtcli.local"):
        assert_measured(rows, key, 3)
    assert "× per-command bwrap" in rows["srtcli.srt"][-1]
    assert "per-command bwrap vs the `srt` CLI (sandbox-runtime): **" in done.stdout


@pytest.mark.docker
def test_massgen_rows_compare_massgens_server_with_mgexec_on_one_container():
    before = bench_containers()
    done = run_bench("--quick", "--n", "3", "--only", "massgen", timeout=600)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    if rows["massgen.server"][-1].startswith("skipped: "):
        assert "is not installed" in rows["massgen.server"][-1] and "massgen.mgexec" not in rows
        return
    for key in ("massgen.server", "massgen.mgexec"):
        assert_measured(rows, key, 3)
    assert "MassGen docker mode `execute_command`, mgexec vs MassGen's own server: **" in done.stdout
    assert bench_containers() <= before, "the bench left containers behind"


def test_massgen_group_without_massgen_is_one_skipped_row(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "MGEXEC_MASSGEN_VENV": str(tmp_path / "none")}
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--n", "1", "--only", "massgen"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    rows = table_rows(done.stdout)
    assert list(k for k in rows if k.startswith("massgen.")) == ["massgen.server"]
    assert rows["massgen.server"][-1] == f"skipped: MassGen 0.1.97 is not installed in {tmp_path / 'none'} (run .ci/massgen.sh)"


def test_unknown_group_is_refused_with_the_choices():
    done = run_bench("--only", "nonsense", timeout=30)
    assert done.returncode == 2
    assert "unknown group(s) nonsense" in done.stderr and "concurrency" in done.stderr


@pytest.mark.docker
def test_docker_groups_rows_and_written_report(tmp_path):
    require_image()
    before = bench_containers()
    out = tmp_path / "BENCH.md"
    done = run_bench("--quick", "--n", "3", "--only", "docker", "mcp-docker", "startup", "output", "concurrency",
                     "--write", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = table_rows(done.stdout)
    for key in ("docker.cli", "docker.py", "docker.warm", "docker.cold", "mcp.docker"):
        assert_measured(rows, key, 3)
    for key in ("output.warm", "output.bare", "output.py"):
        assert_measured(rows, key, 3)
    for key in ("startup.first", "startup.close", "conc.parallel", "conc.sequential"):
        assert_measured(rows, key, 1)
    assert rows["conc.parallel"][-1].startswith("10/10 ok")
    written = out.read_text()
    for heading in ("## Machine", "## Results", "## Comparisons", "## Targets", "## Method"):
        assert heading in written
    assert "python -m bench --quick --n 3" in written and "**not measured:**" not in written
    assert bench_containers() <= before, "the bench left containers behind"


def bench_containers() -> set[str]:
    found = subprocess.run([docker_binary(), "ps", "-a", "--format", "{{.Names}}", "--filter", "name=^massgen-bench-"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
    return set(found.stdout.split())


@pytest.mark.parametrize("only, groups", [
    (None, ["local", "docker", "mcp-local", "mcp-docker", "startup", "output", "mcp-output", "peers", "cold", "agents",
             "concurrency", "shells", "attack", "srt-cli", "sandbox", "massgen"]),
    (["shells", "local"], ["local", "shells"]),
    (["mcp"], ["mcp-local", "mcp-docker", "mcp-output"]),
    (["mcp-docker"], ["mcp-docker"]),
])
def test_group_selection(only, groups):
    assert select_groups(only) == groups


def test_percentile_is_nearest_rank():
    assert percentile([5.0], 95) == 5.0
    assert percentile(range(1, 101), 95) == 95
    assert percentile([3, 1, 2], 50) == 2


def test_failed_group_and_missing_rows_are_shown_as_such():
    rows = [Row("docker", "docker group", error="engine down | try later")]
    table = results_table(rows)
    assert "**not measured:** engine down \\| try later" in table
    assert "| mgexec docker (warm channel) median ≤ 5 ms | not measured | – |" in targets_table({r.key: r for r in rows})


def test_sandbox_group_measures_warm_local_and_per_command_bwrap():
    run = run_bench("--only", "sandbox", "--n", "5")
    assert run.returncode == 0, run.stderr[-2000:]
    rows = table_rows(run.stdout)
    for key in ("srt.local", "srt.warm", "srt.bwrap"):
        assert_measured(rows, key, 5)
    assert "srt.cli" in rows or "no `srt` CLI" in run.stderr


@pytest.mark.docker
def test_issue13_groups_rows_targets_and_no_leftover_containers():
    require_image()
    before = bench_containers() | labelled_containers()
    done = run_bench("--quick", "--n", "3", "--only", "peers", "mcp-output", "cold", "agents", timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = table_rows(done.stdout)
    for key in ("peers.mgexec", "peers.bare", "peers.py", "peers.pipe", "mcpout.docker.1mb", "mcpout.docker.1mb.lib",
                "mcpout.local.1mb", "mcpout.local.1mb.lib", "cold.cli.mgexec", "cold.cli.python"):
        assert_measured(rows, key, 3)
    for key in ("cold.mgexec", "cold.py", "agents.1", "agents.3"):
        assert_measured(rows, key, 1)
    for key in ("cold.serve.minimal", "cold.serve.local", "cold.serve.docker"):
        assert_measured(rows, key, 2)
    assert rows["peers.swerex"][-1].startswith("skipped: ") or "MB/s" in rows["peers.swerex"][-1]
    assert "idle RSS/server" in rows["agents.3"][-1] and "left behind" not in rows["agents.3"][-1]
    for text in ("mgexec at least as fast as the fastest peer | ", "1 MB through MCP (docker mode) within 2× of",
                 "no slower than docker-py create + start + exec_run | ", "within 1.3× of a minimal SDK server | ",
                 "within 4× of `python3 -c pass` | ", "ready within 3× of one agent | 3 agents: "):
        assert text in done.stdout
    assert (bench_containers() | labelled_containers()) <= before, "the bench left containers behind"


def labelled_containers() -> set[str]:
    """Containers the bench made itself (SWE-ReX, docker-py starts) or that mgexec made for bench agents."""
    names = set()
    for label in ("io.mgexec.bench", "io.mgexec.agent"):
        found = subprocess.run([docker_binary(), "ps", "-a", "--format", "{{.Names}}", "--filter", f"label={label}"],
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, check=True)
        names |= {name for name in found.stdout.split() if "bench" in name}
    return names
