"""Fork bombs of any shape: the call graph of the functions a line defines, and the calls on a
cycle of it that start a copy in the background or in a pipeline (`a(){ b|b & }; b(){ a|a & }`)."""

from __future__ import annotations

from mgexec.policy.shellparse import SimpleCommand


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
        if not (cmd.function and cmd.words and cmd.words[0] in defined):
            continue
        callee = cmd.words[0]
        calls.setdefault(cmd.function, set()).add(callee)
        if cmd.in_pipeline or cmd.background:
            forking[(cmd.function, callee)] = "in a pipeline" if cmd.in_pipeline else "in the background"
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
