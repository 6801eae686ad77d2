"""Where the walker stands in a line: the state one check shares, and the context of each script."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, replace

from mgexec.policy import feeds, shellarith, wrappers
from mgexec.policy.budget import ParseBudget
from mgexec.policy.dialects import BASH, Dialect, shell_dialects
from mgexec.policy.linestate import LineState
from mgexec.policy.shellcommand import Redirect, SimpleCommand
from mgexec.policy.shelltokens import Word


class Walk:
    """State of one check, shared by every reading of every nested script."""

    def __init__(self, budget: ParseBudget) -> None:
        self.budget = budget
        self.seen: set[Hashable] = set()  # (script, dialect, context, line state) already walked
        self.arith = shellarith.ArithFacts()
        self.braced: dict[int, tuple[Word, tuple[str, ...]]] = {}  # words braces made, per word


@dataclass(frozen=True)
class Ctx:
    """How the commands of the script being walked run: through which wrappers, in which
    function, pipeline, loop and dialect, with which redirections, input and line state."""

    via: tuple[str, ...] = ()
    function: str | None = None
    in_pipeline: bool = False
    background: bool = False
    redirects: tuple[Redirect, ...] = ()
    depth: int = 0
    repeats: bool = False
    stdin: feeds.Feed | None = None  # what a pipe feeds the command
    dialects: tuple[str, ...] = ("bash",)  # how echo reads escapes: bash, or also dash in `sh`
    expanding: frozenset[str] = frozenset()  # aliases being expanded (bash never recurses)
    line: LineState = field(default_factory=LineState, compare=False)
    positional: tuple[str, ...] | None = None  # $0, $1, ... when the line shows them
    loop_vars: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, words) of enclosing `for`s
    and_or: tuple[tuple[int, tuple[str, ...]], ...] = ()
    source: str = ""  # the text being walked, for the names of `for` variables
    dialect: Dialect = BASH  # how the script being walked is parsed
    walk: Walk = field(default_factory=lambda: Walk(ParseBudget()), compare=False)


def line_mark(line: LineState) -> str:
    """What the line has set up so far, so a script walked again after a change is read again."""
    return repr((line.aliases, line.fds, line.variables, line.files, line.positional,
                 sorted((name, id(body)) for name, body in line.functions.items())))


def script_ctx(command: SimpleCommand, ctx: Ctx, label: str) -> Ctx:
    """A script run by `command`: in the same function and flow (so `f(){ eval 'f|f &'; }` is seen
    as f calling itself), read as the shell named in `label` reads it."""
    name = label.split()[0]
    dialects = ("bash", "dash") if name in ("sh", "dash", "ash", "busybox") or "/" in name else (
        ("bash",) if name in wrappers.SHELLS else ctx.dialects)
    return replace(ctx, via=command.via + (label,), depth=ctx.depth + 1, redirects=(),
                   repeats=ctx.repeats or name in ("trap", "watch"), dialects=dialects)


def read_dialects(command: SimpleCommand, label: str, ctx: Ctx) -> tuple[Dialect, ...]:
    """Dialects of a script a shell reads from stdin, a descriptor or a file the line wrote: the
    shell named in `label` (with its options when it is the command itself)."""
    name = label.split()[0]
    if name not in wrappers.SHELLS:
        return (ctx.dialect,)  # `source`, `.`, a script run by its name: the current shell
    return shell_dialects(command.words if command.name == name else (name,))
