"""`python -m bench.policy`: how long the policy check takes on the largest and most nested lines,
against the budget in mgexec/policy/budget.py (CPU seconds, so the machine's load matters less)."""

from __future__ import annotations

import sys
import time

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy, check_command
from mgexec.policy.budget import MAX_LINE_BYTES, MAX_PARSE_SECONDS

# name -> (line, target in CPU seconds)
CASES = {
    "128 KiB of `a;` (65535 commands)": ("a;" * (MAX_LINE_BYTES // 2), MAX_PARSE_SECONDS / 2),
    "here-document of 2,000 lines": ("cat <<EOF\n" + "line $HOME and text\n" * 2000 + "EOF", 0.5),
    "2,000-line script fed to bash": ("bash <<'EOF'\n" + "echo hi there\n" * 2000 + "EOF", 0.5),
    "pipeline of 10,000 commands": ("a | " * 10000 + "b", 2.0),
    "`true > x` + 26 `{a,b}` groups": ("true > x" + "{a,b}" * 26, 0.1),
    "38 nested subshells": ("( " * 38 + "ls" + " )" * 38, 0.1),
    "14 nested `sh` here-documents": ("".join(f"sh <<E{k}\n" for k in range(14)) + "ls\n"
                                      + "".join(f"E{k}\n" for k in reversed(range(14))), 0.1),
}


def measure(line: str) -> tuple[float, str]:
    start = time.process_time()
    try:
        check_command(line, CommandPolicy())
        outcome = "passed"
    except PolicyViolation as err:
        outcome = f"refused ({type(err).__name__})"
    return time.process_time() - start, outcome


def main() -> int:
    missed = 0
    print("| line | CPU s | target s | outcome |\n|---|---|---|---|")
    for name, (line, target) in CASES.items():
        seconds, outcome = measure(line)
        missed += seconds > target
        print(f"| {name} | {seconds:.3f} | {target:g} | {outcome}{'' if seconds <= target else ' MISSED'} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
