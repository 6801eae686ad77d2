"""Guard rails checked before anything runs: the command policy (baseline, allow and deny lists on
the parsed command line) and work_dir resolution.

The public names load on first use, so that importing a light submodule (inputs, paths) does not
import the parser and the rules: the MCP server's transport needs `inputs` before its handshake.
"""

from __future__ import annotations

from mgexec.lazy import lazy_exports

_HOMES = {"CommandPolicy": "rules", "ParseBudget": "budget", "PolicyBudgetExceeded": "budget",
          "Redirect": "shellcommand", "ShellSyntaxError": "shelltokens", "SimpleCommand": "shellcommand",
          "check_command": "rules", "compile_patterns": "rules", "parse_command_line": "shellwalker",
          "resolve_work_dir": "paths"}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)
