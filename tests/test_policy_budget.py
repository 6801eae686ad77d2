"""The work budget of a policy check: brace expansion is counted before it is enumerated, a line
too long for `bash -c` is refused, and the step and time budgets stop any check that runs away.
Speeds are measured in bench/; here a subprocess bound only catches exponential work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy, check_command, parse_command_line
from mgexec.policy.budget import (MAX_BRACE_WORDS, MAX_EXPANDED_WORDS, MAX_LINE_BYTES, ParseBudget,
                                  PolicyBudgetExceeded)

AB = "{a,b}"

BRACE_REFUSED = [
    "true > x" + AB * 26,
    "echo " + AB * 13,
    "echo {1..5000}",
    "echo {1..100000}",
    "echo {a..z}{a..z}{a..z}",
    "echo {1..99999999999}",
    "echo x{1..100}{1..100}",
    "rm -rf /tmp/x" + AB * 20,
    "cat " + "{a,b,c,d}" * 7,
    "echo {0..9}{0..9}{0..9}{0..9}{0..9}",
    "echo " + "{a," * 30 + "b" + "}" * 30 + AB * 12,
    "ls {1..4097}",
    "{echo,x}" + AB * 12,
    "echo $(echo " + AB * 13 + ")",
    "bash -c 'echo " + AB * 13 + "'",
    "echo {-100000..100000..2}",
]
BRACE_PASSES = [
    "echo " + AB * 12,
    f"echo {{1..{MAX_BRACE_WORDS}}}",
    "echo {a..z}{a..z}",
    "echo {1..100}",
    "mkdir -p x/{a,b,c}/{d,e}",
    "echo {01..99}",
    "echo {a..z..2}",
    "echo " + "{a," * 30 + "b" + "}" * 30,
    "echo '" + AB * 40 + "'",
    "echo \"" + AB * 40 + "\"",
    "dash -c 'echo " + AB * 40 + "'",
    "for i in {1..100000}; do :; done; echo ok",
    "echo ${x:-" + AB + "}",
    "echo {1..10}{a,b}{x,y,z}",
    "cp f{,.bak}",
]


@pytest.mark.parametrize("line", BRACE_REFUSED)
def test_brace_expansion_over_the_cap_is_refused_with_the_count(line: str) -> None:
    with pytest.raises(PolicyBudgetExceeded) as raised:
        check_command(line, CommandPolicy())
    message = str(raised.value)
    assert "brace expansion" in message and f"at most {MAX_BRACE_WORDS} are read" in message
    assert isinstance(raised.value, PolicyViolation)


@pytest.mark.parametrize("line", BRACE_PASSES)
def test_brace_expansion_under_the_cap_passes(line: str) -> None:
    check_command(line, CommandPolicy())


def test_words_made_by_brace_expansion_are_counted_over_the_whole_line() -> None:
    line = "echo " + "{1..4096} " * 17
    with pytest.raises(PolicyBudgetExceeded, match=f"more than {MAX_EXPANDED_WORDS} words"):
        check_command(line, CommandPolicy())
    check_command("echo " + "{1..4096} " * 15, CommandPolicy())


def test_subscript_shaped_text_is_found_in_linear_time() -> None:
    """Many `[` without `]` once made a regular expression backtrack quadratically."""
    line = "echo $((y)) " + "[" * 100000
    budget = ParseBudget(seconds=600)
    parse_command_line(line, budget=budget)


def test_the_count_is_exact() -> None:
    with pytest.raises(PolicyBudgetExceeded, match="would produce 67108864 words"):
        check_command("true > x" + AB * 26, CommandPolicy())
    words = parse_command_line("echo " + AB * 12)[0].words
    assert len(words) == 1 + 4096 and words[1] == "a" * 12 and words[-1] == "b" * 12


def test_the_longest_line_bash_can_take_is_checked_and_one_byte_more_is_refused() -> None:
    longest = "echo " + "a" * (MAX_LINE_BYTES - 5)
    check_command(longest, CommandPolicy())
    with pytest.raises(PolicyBudgetExceeded, match="MAX_ARG_STRLEN"):
        check_command(longest + "a", CommandPolicy())
    # Bytes, not characters: 'é' is two bytes in UTF-8.
    with pytest.raises(PolicyBudgetExceeded, match=f"{MAX_LINE_BYTES + 1} bytes long"):
        check_command("echo  " + "é" * ((MAX_LINE_BYTES + 1 - 6) // 2), CommandPolicy())


def test_bash_refuses_what_the_line_limit_refuses() -> None:
    """The limit is Linux's: the same line cannot even be passed to `bash -c`."""
    too_long = ":" + " " * MAX_LINE_BYTES
    with pytest.raises(OSError):
        subprocess.run(["bash", "-c", too_long], check=False, capture_output=True)
    assert subprocess.run(["bash", "-c", too_long[:-1]], check=False).returncode == 0


@pytest.mark.parametrize("line", [
    "a;" * 600,
    "a | " * 600 + "b",
    "echo " + "x " * 1200,
    "cat <<EOF\n" + "line\n" * 1200 + "EOF",
    "bash -c '" + "a;" * 600 + "'",
    "sh -c '" + "a;" * 600 + "'",
])
def test_the_step_budget_stops_a_long_check(line: str) -> None:
    with pytest.raises(PolicyBudgetExceeded, match="more than 1000 parse steps"):
        parse_command_line(line, budget=ParseBudget(max_steps=1000))
    parse_command_line(line)


def test_the_deadline_stops_a_long_check() -> None:
    with pytest.raises(PolicyBudgetExceeded, match="longer than 0 seconds"):
        parse_command_line("a;" * 2000, budget=ParseBudget(seconds=0))


def test_the_default_step_budget_takes_the_longest_line_of_commands() -> None:
    line = "a;" * (MAX_LINE_BYTES // 2)
    # Only the step budget is under test: the clock is left to bench/, whatever the machine's load.
    assert len(parse_command_line(line, budget=ParseBudget(seconds=600))) == MAX_LINE_BYTES // 2


def nested_sh(levels: int) -> str:
    """`sh` reading a here-document that holds `sh` reading a here-document ..., `ls` innermost."""
    opening = "".join(f"sh <<E{k}\n" for k in range(levels))
    closing = "".join(f"E{k}\n" for k in reversed(range(levels)))
    return opening + "ls\n" + closing


def test_nested_sh_scripts_are_read_once_per_dialect_and_place() -> None:
    budget = ParseBudget()
    commands = parse_command_line(nested_sh(14), budget=budget)
    assert [c.words for c in commands if c.words == ("ls",)] == [("ls",)]
    assert budget.steps < 5000  # 28 readings of short scripts; 2**14 readings would be far more


@pytest.mark.parametrize("line", [
    "true > x" + AB * 26,                   # was 2**26 strings
    "rm -rf " + AB * 40,
    nested_sh(14),                          # two readings per level: 2**14 without sharing
    "a;" * (MAX_LINE_BYTES // 2),
    "(" * 500 + "ls" + ")" * 500,
])
def test_checks_that_were_exponential_or_unbounded_finish(line: str) -> None:
    """Each check runs in a child process with a generous bound: it must end (refused or not)."""
    code = ("import sys\nfrom mgexec.policy import CommandPolicy, check_command\n"
            "try:\n    check_command(sys.stdin.read(), CommandPolicy())\n"
            "except Exception as err:\n    print(type(err).__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], input=line, text=True, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_a_caller_can_give_the_check_its_own_budget() -> None:
    """The server passes what is left of its own time; the check stops inside that."""
    with pytest.raises(PolicyBudgetExceeded, match="more than 100 parse steps"):
        check_command("a;" * 1000, CommandPolicy(), budget=ParseBudget(max_steps=100))
    check_command("a;" * 1000, CommandPolicy(), budget=ParseBudget(max_steps=10_000))
