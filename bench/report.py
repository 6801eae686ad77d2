"""Turning result rows into the printed report and BENCHMARKS.md: table, comparisons, targets, method."""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

from bench.context import Settings
from bench.swerex_peer import SWEREX_VERSION
from bench.targets import ISSUE13_TARGETS, Target, output_ceilings
from bench.timing import Row

Rows = Mapping[str, Row]


def fmt_ms(value: float) -> str:
    if value < 10:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def results_table(rows: Sequence[Row]) -> str:
    lines = ["| id | measurement | median ms | p95 ms | min ms | runs | result |",
             "|---|---|--:|--:|--:|--:|---|"]
    for row in rows:
        row = _escaped(row)
        if row.error:
            lines.append(f"| `{row.key}` | {row.label} | – | – | – | 0 | **not measured:** {row.error} |")
            continue
        times = ([fmt_ms(row.median_ms), fmt_ms(row.p95_ms), fmt_ms(row.min_ms), str(len(row.samples))]
                 if row.samples else ["–", "–", "–", "–"])
        lines.append(f"| `{row.key}` | {row.label} | {' | '.join(times)} | {row.result} |")
    return "\n".join(lines)


def _escaped(row: Row) -> Row:
    """A `|` inside a cell, even in a code span, would end the cell in GitHub's table syntax."""
    esc = lambda text: text.replace("|", "\\|") if text else text  # noqa: E731
    return replace(row, label=esc(row.label), result=esc(row.result), error=esc(row.error))


def _ok(rows: Rows, *keys: str) -> bool:
    return all(k in rows and rows[k].error is None and rows[k].samples for k in keys)


def comparisons(rows: Rows) -> list[str]:
    out = []

    def times(fast: str, slow: str, text: str) -> None:
        if _ok(rows, fast, slow):
            a, b = rows[fast].median_ms, rows[slow].median_ms
            out.append(f"{text}: **{b / a:.1f}×** faster ({fmt_ms(a)} ms vs {fmt_ms(b)} ms median)")

    def extra(base: str, other: str, text: str) -> None:
        if _ok(rows, base, other):
            out.append(f"{text}: {rows[other].median_ms - rows[base].median_ms:+.2f} ms (median vs median)")

    if _ok(rows, "local.mgexec"):
        out.append(f"mgexec local over the bare subprocess: {rows['local.mgexec'].metrics['overhead_ms']:+.2f} ms "
                   "(median of paired differences)")
        if "over_bash_ms" in rows["local.mgexec"].metrics and _ok(rows, "local.bash"):
            out.append(f"of which bash's start-up over `/bin/sh`: {rows['local.bash'].metrics['shell_ms']:+.2f} ms; "
                       f"mgexec over a bare `bash -c true`: {rows['local.mgexec'].metrics['over_bash_ms']:+.2f} ms")
    times("docker.warm", "docker.py", "mgexec docker warm vs docker-py `exec_run` (MassGen)")
    times("docker.warm", "docker.cli", "mgexec docker warm vs `docker exec` CLI")
    times("docker.warm", "docker.cold", "mgexec docker warm vs mgexec per-command exec")
    extra("docker.cli", "docker.cold", "mgexec per-command exec over a bare `docker exec true`")
    for mode in ("local", "docker"):
        if _ok(rows, f"mcp.{mode}"):
            out.append(f"MCP stdio round trip over a direct {mode} `execute`: "
                       f"{rows[f'mcp.{mode}'].metrics['overhead_ms']:+.2f} ms (median of paired differences)")
    if _ok(rows, "output.warm", "output.bare"):
        ratio = rows["output.warm"].median_ms / rows["output.bare"].median_ms
        out.append(f"large output, mgexec warm channel vs bare `docker exec`: **{ratio:.2f}×** the time "
                   f"({rows['output.warm'].result} vs {rows['output.bare'].result})")
    if _ok(rows, "output.py", "output.bare"):
        ratio = rows["output.py"].median_ms / rows["output.bare"].median_ms
        out.append(f"large output, docker-py vs bare `docker exec`: {ratio:.2f}× the time")
    times("massgen.mgexec", "massgen.server", "MassGen docker mode `execute_command`, mgexec vs MassGen's own server")
    times("srtcli.bwrap", "srtcli.srt", "per-command bwrap vs the `srt` CLI (sandbox-runtime)")
    times("srtcli.local", "srtcli.srt", "local `bash -c` vs the `srt` CLI")
    if _ok(rows, "srt.warm"):
        out.append(f"mgexec srt warm sandbox vs mgexec local: {rows['srt.warm'].metrics['vs_local_ms']:+.2f} ms "
                   "(median of paired differences, same run)")
    times("srt.warm", "srt.bwrap", "mgexec srt warm sandbox vs one bwrap per command")
    if _ok(rows, "srt.cli"):  # timed in turns with the warm sandbox, fewer runs: its own ratio
        out.append(f"mgexec srt warm sandbox vs the `srt` CLI: **{rows['srt.cli'].metrics['ratio']:.0f}×** faster "
                   f"({fmt_ms(rows['srt.cli'].median_ms)} ms per CLI call, median)")
    if _ok(rows, "conc.parallel"):
        out.append(f"concurrent vs sequential docker calls: {rows['conc.parallel'].metrics['speedup']:.1f}× faster")
    return out + output_ceilings(rows)


def _warm_vs_py(rows: Rows) -> tuple[str, bool]:
    ratio = rows["docker.py"].median_ms / rows["docker.warm"].median_ms
    return f"{ratio:.1f}×", ratio >= 10


def _output_ratio(rows: Rows) -> tuple[str, bool]:
    ratio = rows["output.warm"].median_ms / rows["output.bare"].median_ms
    return f"{ratio:.2f}× the bare time", ratio <= 2


def _concurrency(rows: Rows) -> tuple[str, bool]:
    errors = int(rows["conc.parallel"].metrics["errors"])
    return f"{errors} errors ({rows['conc.parallel'].result.split(';')[0]})", errors == 0


TARGETS = (
    Target("mgexec local overhead over a bare subprocess ≤ 1 ms", ("local.mgexec",),
           lambda r: (f"{r['local.mgexec'].metrics['overhead_ms']:+.2f} ms",
                      r["local.mgexec"].metrics["overhead_ms"] <= 1)),
    Target("mgexec docker (warm channel) median ≤ 5 ms", ("docker.warm",),
           lambda r: (f"{fmt_ms(r['docker.warm'].median_ms)} ms", r["docker.warm"].median_ms <= 5)),
    Target("mgexec docker (warm channel) ≥ 10× faster than docker-py `exec_run`", ("docker.warm", "docker.py"),
           _warm_vs_py),
    Target("MCP round trip in docker mode, median ≤ 15 ms", ("mcp.docker",),
           lambda r: (f"{fmt_ms(r['mcp.docker'].median_ms)} ms", r["mcp.docker"].median_ms <= 15)),
    Target("large output through the warm channel within 2× of bare `docker exec`", ("output.warm", "output.bare"),
           _output_ratio),
    Target("concurrent docker calls all succeed", ("conc.parallel",), _concurrency),
    Target("mgexec srt (warm sandbox) within 1 ms of local mode at the median", ("srt.warm",),
           lambda r: (f"{r['srt.warm'].metrics['vs_local_ms']:+.2f} ms", r["srt.warm"].metrics["vs_local_ms"] <= 1)),
    Target("mgexec srt (warm sandbox) ≥ 20× faster than the `srt` CLI", ("srt.warm", "srt.cli"),
           lambda r: (f"{r['srt.cli'].metrics['ratio']:.1f}×", r["srt.cli"].metrics["ratio"] >= 20)),
    Target("MCP `echo` while the slowest line to judge is judged, median ≤ 100 ms", ("attack.echo",),
           lambda r: (f"{fmt_ms(r['attack.echo'].median_ms)} ms", r["attack.echo"].median_ms <= 100)),
    *ISSUE13_TARGETS,
)


def targets_table(rows: Rows) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    for target in TARGETS:
        if _ok(rows, *target.needs):
            value, met = target.check(rows)
            lines.append(f"| {target.text} | {value} | {'**yes**' if met else '**NO**'} |")
        else:
            lines.append(f"| {target.text} | not measured | – |")
    return "\n".join(lines)


def method_notes(s: Settings) -> str:
    return f"""\
- One process, one asyncio event loop, `time.perf_counter()`. Latency rows take {s.n} timed runs each after \
{s.warmup} untimed warm-up runs. The variants of one group take turns in blocks of {max(1, s.n // 10)} calls, so \
changes in machine load fall on every variant alike, while the engine's clean-up after a `docker exec` \
mostly lands on calls of the same variant. p95 is the nearest-rank 95th percentile.
- Every timed call is checked: a failed command aborts its group instead of being timed as a fast one.
- `local.mgexec` overhead is the median of the differences between the i-th calls of each variant. The floor starts `/bin/sh -c \
true` with piped output; mgexec runs every line with `bash -c` (whose start-up costs more than dash's: the \
`local.bash` row measures that share, `local.judge` the policy check alone) and adds the policy check (read on the loop for a short line, by a worker process otherwise), work_dir resolution and opening, its own session and group, the \
environment, and the result model.
- The docker rows share one container started by mgexec (`massgen/mcp-runtime:latest`, network `none`, running \
as the workspace owner). `docker.cold` (`docker_warm_channel=False`) needs a second container with the same \
settings, since a container has one owning executor. `docker.cli` runs `true` directly, the floor of any \
CLI-based path. `docker.py` calls `exec_run(["/bin/sh", "-c", cmd], workdir=...)` as MassGen does, blocking \
on the loop's thread like MassGen's call, so it times the library rather than a thread hop.
- `mcp.*`: `python -m mgexec serve --config FILE` over stdio, driven by the official SDK's `stdio_client` and \
`ClientSession.call_tool`; the docker-mode server makes its own container. Round trips take turns with direct \
`execute("true")` calls on the bench's own executor, and the protocol's cost is the median paired difference.
- `startup.*`: a fresh agent id each run ({s.startup_runs} runs): `docker run`, image check, the channel's \
handshake, then `true`; `close()` (channel closed, container removed) is timed separately.
- `output.*`: {s.output_runs} runs of base64 of `/dev/urandom`; MB/s counts the bytes each path returned \
(MB = 10^6 bytes); mgexec's output cap is raised to 16 MB for it.
- `conc.*`: {s.concurrent} `execute()` calls gathered at once vs awaited one by one, {s.concurrency_rounds} \
round(s); a call counts as an error unless it succeeded and printed its own shell's pid, distinct from every other.
- `shells.drain`: a local background shell in a pty prints `yes LINE | head -c {s.shell_bytes}`; the bench \
loops on `output(since_last_read=True, wait_seconds=10)` until the shell has ended. Wall time runs from \
`start()` to the last read. The buffer's held bytes are recorded after every feed; the ring keeps the last \
10,000 lines and at most 4 MiB, so a reader slower than the program loses the oldest output (reported as lost).
- `attack.*`: a local-mode MCP server; `attack.quiet` times {s.n} `echo ping` round trips after {s.warmup} \
warm-up calls, `attack.echo` {s.n} more, each sent while `execute_command` judges `false && true > x` followed by \
26 `{{a,b}}` groups (a line whose check explodes; it is refused at the 3 s budget, and a new one starts until \
all echoes are timed).
- `srtcli.*`: the `srt` CLI of npm `@anthropic-ai/sandbox-runtime` (pinned version, installed by the bench into \
`~/.cache/mgexec-bench/`) runs `true` with network off and writes only to a scratch directory; it takes turns \
with a per-command `bwrap` of srt mode's shape (own network and PID namespaces, read-only `/`, private `/tmp`) and \
a local `bash -c true`, {min(s.n, 10 if s.n <= 20 else 30)} runs each. Without npm, the registry, or bubblewrap, \
socat and ripgrep, the row says it was skipped and why.
- `peers.*`: {s.output_runs} runs per path, taking turns, of `cat` of one file of {s.output_bytes:,} bytes of \
base64 text in the workspace: mgexec's warm channel, a bare `docker exec`, docker-py `exec_run` (all on the shared \
container), SWE-ReX {SWEREX_VERSION}'s `RemoteRuntime.execute` against `swerex-remote` in an image built FROM the \
runtime image on first use (port published on 127.0.0.1 only; skipped with the reason when it cannot be built or \
its client is missing), and an asyncio subprocess on the host (the pipe's ceiling, not a peer).
- `mcpout.*`: `cat` of 1 MB (and 10 MB in a full run) through `mgexec serve` over stdio, `execute_command` via the \
SDK client, taking turns with the same command through this process's own executor of that mode.
- `cold.*`: nothing → first command, {s.startup_runs} turn(s) of mgexec `start()` + `execute("true")` and \
docker-py `containers.create` (network none) + `start` + `exec_run(["true"])`, clean-up untimed; spawn → \
`initialize` → `tools/list` of `python -m bench.minimal_server` (MCP SDK v2 `MCPServer`, one tool) and \
`python -m mgexec serve` (local, docker), {max(2, 2 * s.startup_runs)} turns; `mgexec exec -- true` (the venv's \
console script, local mode in the workspace) and `python -c pass`, {min(s.n, 30)} runs each.
- `agents.*`: N docker-mode `mgexec serve` processes (own agent id, config, container and stdio client) started \
at once; wall time until each answered `execute_command("true")`; then VmRSS of each server process plus its \
host-side descendants (from /proc); then every client sends a burst of `true` calls at once (cmd/s across them). \
Counts take turns; every container with the agents' `io.mgexec.agent` labels is removed afterwards. \
`agents.minimal.*`: the same counts of `bench/minimal_server.py` started at once until each answered one tool \
call: the floor that N Python MCP servers set on this machine before mgexec does anything. Machine CPU is the \
busy time in /proc/stat (every process: servers, clients, the engine, containers) from the start until all \
answered; the CPU floor is that CPU spread over every core, as a multiple of one agent's wall time: no \
schedule of that work on these cores can finish sooner.
- Requirements: a running engine with `massgen/mcp-runtime:latest` for the docker rows, and docker-py \
(`pip install 'docker>=7'`, the `bench` extra) for the `*.py` rows; without them those rows say why they are \
missing. `bench/channel_probe.py --container NAME` times the channel alone against an existing container.
- Other work on the machine while the bench runs (see the load average at start) widens p95 and can move medians; \
the ratios are steadier than the absolute figures because every variant shares the same load."""


def render(rows: Sequence[Row], machine: Mapping[str, str], command: str, date: str, settings: Settings,
           with_method: bool) -> str:
    by_key = {row.key: row for row in rows}
    parts = ["# mgexec benchmarks", "",
             f"Measured {date}. Regenerate from the repository root with:", "", f"    {command}", "",
             "## Machine", "", *(f"- {name}: {value}" for name, value in machine.items()), "",
             "## Results", "", results_table(rows), "",
             "## Comparisons", "", *(f"- {line}" for line in comparisons(by_key) or ["(nothing to compare)"]), "",
             "## Targets", "", targets_table(by_key), ""]
    if with_method:
        parts += ["## Method", "", method_notes(settings), ""]
    return "\n".join(parts)
