"""What a script's syntax tree and source text say around its commands: the `&&`/`||` before a
pipeline, a `for` loop's variable, whether a function body reads its positional parameters."""

from __future__ import annotations

import re

from mgexec.policy.shellnodes import Command, Compound, FuncDef, Pipeline, Script, Simple

_POSITIONAL = re.compile(r"\$(\{?[0-9@*])")


def operator_before(pipeline: Pipeline, source: str) -> str:
    """`&&` or `||` before a pipeline of an and-or list, read from the source ("" if unsure)."""
    start = _first_position(pipeline.commands[0]) if pipeline.commands else None
    if start is None:
        return ""
    before = source[:start].rstrip()
    while True:  # past keywords and openers that start a compound command
        stripped = re.sub(r"(?:[{(!]|\b(?:if|while|until|then|do|time))\s*$", "", before).rstrip()
        if stripped == before:
            break
        before = stripped
    return before[-2:] if before[-2:] in ("&&", "||") else ""


def _first_position(command: Command) -> int | None:
    if isinstance(command, Simple):
        starts = [w.start for w in [*command.assigns, *command.words]]
        return min(starts) if starts and not command.redirects else None
    if isinstance(command, Compound):
        for body in command.bodies:
            for item in body.items:
                return _first_position(item.pipelines[0].commands[0]) if (
                    item.pipelines and item.pipelines[0].commands) else None
    return None


def loop_variable(command: Compound, source: str) -> str | None:
    """The variable of `for NAME in WORDS`, read from the source before the first word."""
    if command.kind != "for" or not command.words or command.words[0].raw.startswith("(("):
        return None
    match = re.search(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+$", source[:command.words[0].start])
    return match[1] if match else None


def uses_positional(node: Command | Script) -> bool:
    """True if the commands of `node` read `$1`, `$@`, ... (not those of functions it defines)."""
    if isinstance(node, Script):
        return any(uses_positional(c) for item in node.items for p in item.pipelines
                   for c in p.commands)
    if isinstance(node, Simple):
        return any(_POSITIONAL.search(w.raw) for w in [*node.assigns, *node.words])
    if isinstance(node, FuncDef):
        return False  # a function defined inside has its own parameters
    return any(_POSITIONAL.search(w.raw) for w in node.words) or any(
        uses_positional(body) for body in node.bodies)
