"""Fork bombs of any shape: the call graph of the functions a line defines, and the calls on a
cycle of it that start a copy in the background or in a pipeline (`a(){ b|b & }; b(){ a|a & }`)."""

from __future__ import annotations

import re

from mgexec.policy.shellcommand import SimpleCommand
from mgexec.policy.wrappers import SHELLS


_FUNCNAME = re.compile(r"\$FUNCNAME|\$\{FUNCNAME(\[0\])?\}")


def forking_calls(commands: tuple[SimpleCommand, ...]) -> dict[tuple[str, str], str]:
    """(caller, callee) -> why, for each forking call that lies on a cycle of calls.

    Calls are found in function bodies, and in what those bodies run through `eval`, wrappers,
    `bash -c` (which sees exported functions) and command substitution; a function is defined
    wherever the line defines it, also inside such payloads.
    """
    defined = {cmd.function for cmd in commands if cmd.function}
    calls: dict[str, set[str]] = {}
    forking: dict[tuple[str, str], str] = {}
    for cmd in commands:
        if not (cmd.function and cmd.words and _calls_functions(cmd)):
            continue
        how = ("in a pipeline" if cmd.in_pipeline else "in the background" if cmd.background
               else "as a coprocess" if cmd.via[-1:] == ("coproc",) else None)
        for callee in callees(cmd) & defined:
            calls.setdefault(cmd.function, set()).add(callee)
            if how:
                forking[(cmd.function, callee)] = how
    found: dict[tuple[str, str], str] = {}
    for (caller, callee), how in forking.items():
        back = _path(calls, callee, caller)
        if back is None:
            continue
        if caller == callee:
            found[(caller, callee)] = f"function `{caller}` starts copies of itself {how}"
        else:
            chain = " -> ".join(f"`{name}`" for name in back)
            found[(caller, callee)] = (f"function `{caller}` starts `{callee}` {how}, and {chain} "
                                       "calls it again")
    return found


def callees(cmd: SimpleCommand) -> set[str]:
    """The functions `cmd` may call by name, in any reading; `$FUNCNAME` is the function running it."""
    names = {words[0] for words in (cmd.words,) + cmd.readings if words}
    return {cmd.function if cmd.function and _FUNCNAME.fullmatch(n) else n for n in names}


def _calls_functions(cmd: SimpleCommand) -> bool:
    """False when a wrapper runs a program by that name rather than the function (`command f`,
    `env f`, `nohup f`); eval, trap, alias, coproc, time and shells (which import exported
    functions) can reach the function, as can a script read by `source`."""
    if not cmd.via:
        return True
    last = cmd.via[-1].split()[0]
    return last in ("eval", "trap", "alias", "coproc", "time", "source", ".") or last in SHELLS


def _path(calls: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The functions from `start` to `goal` along calls (breadth first), or None."""
    previous: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        name = queue.pop(0)
        if name == goal:
            path = [name]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])  # type: ignore[arg-type]
            return path[::-1]
        for nxt in sorted(calls.get(name, ())):
            if nxt not in previous:
                previous[nxt] = name
                queue.append(nxt)
    return None
