"""The contract of the guard rails: mgexec reads a line exactly as the shell that runs it.

Every line of the corpora (tests/corpus/: ordinary.txt and ordinary.yaml, ordinary developer
lines; hostile.yaml, hostile lines by class) and every line a policy table test registers in
`DIFFERENTIAL` (see differential/corpus.py) is run as mgexec runs it, `bash -c LINE` in a fresh
canary project with a canary HOME, as an unprivileged user, under `strace -f -e trace=execve,...`,
in two throwaway images built from the runtime image: one where /bin/sh is dash (as in the
runtime image) and one where it is bash (bash-as-sh), which changes what a nested `sh -c`,
`| sh` or `sh <<EOF` in the line does. Every program the line's shells started must be one
mgexec judged, with the same arguments where they are static.

Which programs count (differential/trace.py):
- successful execs only (bash, env and xargs try each PATH entry; ENOENT attempts start nothing);
- the line's own `bash -c LINE` is the root; an exec counts when the process making it runs an
  image the line started (the root or a counted exec) that reads commands from the line: a shell
  with `-c`, reading stdin, or reading `/dev/fd/N` or `/dev/stdin` (`bash <(...)`), or a program
  `mgexec.policy.wrappers` knows to run a command (`xargs` alone runs `echo`); a forked child runs
  its parent's image until it execs;
- also any exec whose argv ends the argv of the program that made it (`flock L rm -rf x`), or a
  shell whose `-c` script is one of that program's arguments (`script -qc S`): a wrapper mgexec
  may not know;
- not what shells reading a script *file* start (`bash build.sh`), nor what other programs start
  on their own (make recipes, git helpers, python subprocesses, the password helper `su` and
  `sudo` start): no parser sees those by design. The images' system startup files start nothing, for the same
  reason (`bash -lc` would otherwise run /etc/profile's `id -u`).

How a counted exec matches a SimpleCommand of `parse_command_line(line)` (differential/match.py):
- the command word names the program: equal to argv[0] or the path by base name; a word with glob
  characters names what it matches; a word with a parameter, command or process substitution is
  computed at run time and names any program, and may expand to several words or none (so the
  words after it may start at argv[0]). Brace expansion is not done on mgexec's behalf:
  `{rm,-rf,~}` names only a program called that;
- static words equal argv entries, in order; a word holding `$`, a backtick, `*`, `?`, `[`, `{`,
  `~`, `<(` or `>(` stands for any number of entries, none included;
- a command run by `xargs` or `find -exec` may have any entries after its words;
- a shell started by a wrapper that runs a script through it (`watch`, `su -c`) is accounted for
  by the commands mgexec found in that script;
- a command mgexec marks `unreadable` (text known only at run time: `base64 -d <<< X | bash`, which
  an allow list refuses) stands for any program a nested shell or wrapper starts, but not for what
  the line's own bash starts.
Lines the parser itself refuses (unparseable, or refused while parsing) run nothing under mgexec
and are not run here. A line the policy refuses after parsing is checked all the same: its
judgement must have seen every program. A line whose trace has no exec of its own bash fails (so
the contract cannot pass on empty traces); a trace longer than 4 MiB (`find / -exec rm {} +`
passes thousands of paths) is judged on its first 4 MiB.

Without an engine, as plain unit tests: every ordinary line passes `check_command` with no lists
configured (no false blocks), and every hostile line is refused.
"""

from __future__ import annotations

import concurrent.futures

import pytest

from differential.corpus import CorpusLine, all_lines, hostile_lines, ordinary_lines
from differential.match import judge, report
from differential.recorder import SH_TARGETS, ensure_images, record
from differential.trace import parse_trace
from dockerutil import require_engine, requires_engine
from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy, check_command, parse_command_line

ORDINARY = ordinary_lines()
HOSTILE = hostile_lines()
GROUPS = ("ordinary", "hostile", "tables")


def test_the_ordinary_corpus_is_large_and_distinct() -> None:
    lines = [entry.line for entry in ORDINARY]
    assert len(set(lines)) == len(lines), "a line is listed twice in the ordinary corpus"
    assert len(lines) >= 300


@pytest.mark.parametrize("entry", ORDINARY, ids=lambda entry: entry.source)
def test_ordinary_line_is_not_refused(entry: CorpusLine) -> None:
    try:
        check_command(entry.line, CommandPolicy())
    except PolicyViolation as err:
        pytest.fail(f"false block of the ordinary line {entry.source} `{entry.line}`: {err}")


@pytest.mark.parametrize("entry", HOSTILE, ids=lambda entry: entry.source)
def test_hostile_line_is_refused(entry: CorpusLine) -> None:
    try:
        check_command(entry.line, CommandPolicy())
    except PolicyViolation:
        return
    judged = ", ".join(f"`{cmd.text}`" for cmd in parse_command_line(entry.line) if cmd.words)
    pytest.fail(f"the hostile line {entry.source} ({entry.cls}) `{entry.line}` was not refused; "
                f"mgexec judged: {judged or 'no command'}")


@pytest.fixture(scope="session")
def recordings() -> dict[str, dict[str, dict]]:
    """Image key -> line -> what the recorder returned, for every line of every group; both
    images are recorded at once."""
    require_engine()
    tags = ensure_images()
    lines = [line for line in dict.fromkeys(entry.line for entry in all_lines()) if _parses(line)]
    with concurrent.futures.ThreadPoolExecutor(len(tags)) as pool:
        futures = {key: pool.submit(record, tag, lines) for key, tag in tags.items()}
        results = {key: dict(zip(lines, future.result())) for key, future in futures.items()}
    # A loaded machine now and then loses a line's trace (the recorder's own timeout, a process
    # limit hit by another worker's line): such lines are recorded once more, alone.
    for key, tag in tags.items():
        again = [line for line, result in results[key].items() if _not_fully_traced(line, result)]
        if again:
            results[key].update(zip(again, record(tag, again)))
    return results


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(900)  # the first test also records every line (about two minutes)
@requires_engine
@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("image", sorted(SH_TARGETS))
def test_every_program_the_shell_started_was_judged(recordings, image: str, group: str) -> None:
    entries = [entry for entry in all_lines() if entry.group == group and _parses(entry.line)]
    if not entries:
        pytest.skip(f"no {group} lines to run")
    failures, untraced, started = [], [], 0
    for entry in entries:  # lines the parser itself refuses are left out: nothing of them runs
        result = recordings[image][entry.line]
        why = _not_fully_traced(entry.line, result)
        if why:
            untraced.append(f"{entry.source}: `{entry.line}` ({why})")
            continue
        verdict = judge(entry.line, result["trace"])
        started += len(verdict.started)
        if not verdict.ok:
            failures.append(report(verdict, entry.source, image))
    assert not untraced, "the recorder has no full trace of these lines:\n" + "\n".join(untraced)
    assert started > len(entries) // 4, f"only {started} programs started by {len(entries)} lines"
    assert not failures, (f"{len(failures)} of {len(entries)} {group} lines started programs mgexec "
                          "did not judge:\n" + "\n".join(failures))


def _parses(line: str) -> bool:
    """False for a line the parser refuses (unparseable, or refused while parsing)."""
    try:
        parse_command_line(line)
    except PolicyViolation:
        return False
    return True


def _not_fully_traced(line: str, result: dict) -> str | None:
    """Why a recording cannot be trusted (so the contract cannot pass on an empty trace)."""
    if result.get("error"):
        return result["error"]
    root = parse_trace(result["trace"]).root
    if root is None or root.argv[-1:] != (line,):
        return f"no exec of the line's bash in the trace (exit {result['rc']})"
    return None
