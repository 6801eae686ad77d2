"""Guard rails checked before anything runs: the command policy (baseline, allow and deny lists on
the parsed command line) and work_dir resolution."""

from mgexec.policy.budget import ParseBudget, PolicyBudgetExceeded
from mgexec.policy.paths import resolve_work_dir
from mgexec.policy.rules import CommandPolicy, check_command, compile_patterns
from mgexec.policy.shellcommand import Redirect, SimpleCommand
from mgexec.policy.shellwalker import parse_command_line
from mgexec.policy.shelltokens import ShellSyntaxError

__all__ = [
    "CommandPolicy",
    "ParseBudget",
    "PolicyBudgetExceeded",
    "Redirect",
    "ShellSyntaxError",
    "SimpleCommand",
    "check_command",
    "compile_patterns",
    "parse_command_line",
    "resolve_work_dir",
]
