"""Debuggers and editors whose own command language runs a shell: `gdb -ex 'shell CMD'`,
`lldb -o 'platform shell CMD'`, a program a debugger starts (`gdb --args PROG`), emacs's
`(shell-command "CMD")` and expect's `spawn CMD`."""

from __future__ import annotations

import re

from mgexec.policy.launchers_util import values
from mgexec.policy.wrapper_specs import Inner


def debugger(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """gdb's `-ex 'shell CMD'`/`'!CMD'`/`'pipe …| CMD'`, lldb's `-o 'platform shell CMD'`; the
    program a debugger is given (`--args PROG ARGS`, `-- PROG ARGS`) runs too."""
    options = ("-ex", "--ex", "-eval-command", "--eval-command", "-iex", "--iex",
               "-init-eval-command", "--init-eval-command", "-o", "--one-line", "-O",
               "--one-line-before-file", "-k", "--one-line-on-crash", "-K")
    found = [Inner(f"{name} {option}", script=shell)
             for option, value in values(words, options)
             for shell in [_debugger_shell(value)] if shell is not None]
    for marker in ("--args", "-args", "--"):
        if marker in words[1:]:  # after `lldb PROG --` come PROG's arguments: judged as words
            start = words.index(marker, 1) + 1
            if start < len(words):
                found.append(Inner(f"{name} {marker}", words=words[start:]))
            break
    return tuple(found)


def _debugger_shell(command: str) -> str | None:
    match = re.match(r"\s*(?:(?:platform\s+)?shell\s+|!\s*|(?:pipe|\|)\s.*?\|\s*)(?P<cmd>.*)",
                     command, re.DOTALL)
    return match["cmd"] if match else None


def emacs(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`emacs --batch --eval '(shell-command "CMD")'` (also `async-shell-command`)."""
    found = []
    for _, value in values(words, ("--eval", "-eval")):
        for match in re.finditer(r'\((?:async-)?shell-command(?:-to-string)?\s+"((?:[^"\\]|\\.)*)"',
                                 value):
            found.append(Inner(f"{name} shell-command", script=re.sub(r"\\(.)", r"\1", match[1])))
    return tuple(found)


def expect(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`expect -c 'spawn CMD ARGS'` (also `exec CMD`): Tcl words, read as shell words."""
    found = []
    for _, value in values(words, ("-c",)):
        for match in re.finditer(r"(?:^|[;\n\[])\s*(?:spawn|exec)\s+([^;\n\]]*)", value):
            found.append(Inner(f"{name} spawn", script=match[1]))
    return tuple(found)
