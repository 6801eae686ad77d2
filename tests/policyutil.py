"""The policy tables' one helper: the refusal message a line gets, or None if it may run."""

from __future__ import annotations

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy, check_command


def refusal(line: str, policy: CommandPolicy = CommandPolicy(), **where: str) -> str | None:
    """`where` (work_dir, home, path) goes to check_command."""
    try:
        check_command(line, policy, **where)
    except PolicyViolation as err:
        return str(err)
    return None
