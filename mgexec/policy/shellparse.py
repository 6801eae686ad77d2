"""Splits a shell command line into every simple command it would run, wherever it hides.

Reached through `;` `&&` `||` `|` `&` newlines, subshells, `{ }` groups, if/for/while/until/case
bodies, function bodies, `$( )`, backticks, `<( )`, here-document bodies, and commands that run
other commands (`env`, `sudo`, `timeout`, `xargs`, `find -exec`, `sh -c '...'`, `eval`, a script
piped or fed by here-document, here-string or process substitution into a shell). The line is
read as bash reads it; a script handed to another shell in that shell's dialect (see dialects.py).
Unparseable input raises ShellSyntaxError, a line over the budget PolicyBudgetExceeded.
"""

from __future__ import annotations

import itertools
import posixpath
from functools import cached_property
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field, replace

from mgexec.policy import braces, shellarith, wrappers
from mgexec.policy.budget import ParseBudget, check_line_size
from mgexec.policy.dialects import (BASH, Dialect, reading_changed_by, shell_dialects, with_mode_switches,
                                    wrapper_dialects)
from mgexec.policy.shelltokens import MAX_NESTING, DialectError, ShellSyntaxError, Word
from mgexec.policy.shelltree import Command, Compound, FuncDef, RedirNode, Script, Simple, parse_tree

_STDIN_BODY_OPS = frozenset({"<<", "<<-", "<<<"})


@dataclass(frozen=True)
class Redirect:
    """One redirection: operator, target after quote removal, fd number if written (`2>`)."""

    op: str
    target: str
    fd: str = ""
    body: str | None = None  # what a here-document or here-string feeds to stdin


@dataclass(frozen=True)
class SimpleCommand:
    """A command the shell would run, as words after quote removal (expansions kept as written).

    `redirects` are those applying to it (its own and those of enclosing blocks); `via` names the
    wrappers it runs through, outermost first; `function` is the function whose body holds it, and
    `in_pipeline`/`background` say how it runs within that body (or within the line). `unseen`
    names text made at run time that decides what the command does (a variable the line does not
    set, evaluated as arithmetic; a script a shell reads from a command's output): no check can
    judge it, so an allow list refuses the command.
    """

    words: tuple[str, ...]
    raw: str
    redirects: tuple[Redirect, ...] = ()
    assignments: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    function: str | None = None
    in_pipeline: bool = False
    background: bool = False
    unseen: tuple[str, ...] = ()

    @cached_property  # read by every rule for every command
    def name(self) -> str:
        """The command word without its directory (`/usr/bin/sudo` -> `sudo`); "" if none."""
        return posixpath.basename(self.words[0]) if self.words else ""

    @property
    def text(self) -> str:
        """The words joined by single spaces: what allow and deny patterns are matched against."""
        return " ".join(self.words)


class _Walk:
    """State of one check, shared by every reading of every nested script."""

    def __init__(self, budget: ParseBudget) -> None:
        self.budget = budget
        self.seen: set[Hashable] = set()  # (script, dialect, context) already walked
        self.arith = shellarith.ArithFacts()


@dataclass(frozen=True)
class _Ctx:
    via: tuple[str, ...] = ()
    function: str | None = None
    in_pipeline: bool = False
    background: bool = False
    redirects: tuple[Redirect, ...] = ()
    depth: int = 0
    dialect: Dialect = BASH
    walk: _Walk = field(default_factory=lambda: _Walk(ParseBudget()), compare=False)


def parse_command_line(command: str, *, budget: ParseBudget | None = None) -> tuple[SimpleCommand, ...]:
    """Every simple command of `command`, read as bash reads it, including nested and wrapped
    ones, in source order."""
    check_line_size(command)
    walk = _Walk(budget or ParseBudget())
    commands = list(_script_commands(command, _Ctx(walk=walk), label=None, dialects=(BASH,)))
    unseen = shellarith.judge(walk.arith)
    if unseen:
        commands = [replace(c, unseen=tuple(unseen[c])) if c in unseen else c for c in commands]
        if None in unseen:  # from `(( ))`, `[[ ]]` or `for (( ))`: no simple command to carry it
            commands.append(SimpleCommand(words=(), raw="", unseen=tuple(unseen[None])))
    return tuple(commands)


def _script_commands(text: str, ctx: _Ctx, label: str | None,
                     dialects: tuple[Dialect, ...]) -> Iterator[SimpleCommand]:
    """Every reading of `text`, one per dialect the shell running it may speak; a command two
    readings agree on is reported once."""
    if ctx.depth > MAX_NESTING:
        raise ShellSyntaxError(f"commands are wrapped in other commands more than {MAX_NESTING} "
                               "levels deep", text, 0)
    earlier: set[SimpleCommand] = set()
    dialects = with_mode_switches(text, dialects)
    for dialect in dialects:
        key = (text, dialect, replace(ctx, depth=0, dialect=BASH))
        if key in ctx.walk.seen:  # the same script in the same place: nothing new to find
            continue
        ctx.walk.seen.add(key)
        tree = _parse(text, ctx, label, dialect, several=len(dialects) > 1)
        this_reading: set[SimpleCommand] = set()
        for command in _walk_script(tree, replace(ctx, dialect=dialect)):
            if len(dialects) == 1:
                yield command
            elif command not in earlier:
                this_reading.add(command)
                yield command
        earlier |= this_reading


def _parse(text: str, ctx: _Ctx, label: str | None, dialect: Dialect, several: bool) -> Script:
    try:
        return parse_tree(text, ctx.depth, dialect, ctx.walk.budget)
    except ShellSyntaxError as err:
        if label is None:
            raise
        plain = isinstance(err, DialectError) or not (several or dialect is not BASH)
        reading = "" if plain else f", read as {dialect.name}"
        raise err.located(f"in the script run by `{label}`{reading}: {err.detail}") from None


def _walk_script(script: Script, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for item in script.items:
        for pipeline in item.pipelines:
            background = ctx.background or item.background
            in_pipeline = ctx.in_pipeline or len(pipeline.commands) > 1
            inner = ctx if (background, in_pipeline) == (ctx.background, ctx.in_pipeline) else \
                replace(ctx, background=background, in_pipeline=in_pipeline)
            for command in pipeline.commands:
                yield from _walk_command(command, inner)
            yield from _piped_scripts(pipeline.commands, ctx)
            yield from _unseen_piped_scripts(pipeline.commands, ctx)


def _walk_command(command: Command, ctx: _Ctx) -> Iterator[SimpleCommand]:
    if isinstance(command, Simple):
        yield from _walk_simple(command, ctx)
    elif isinstance(command, FuncDef):
        # Inside a function body, pipeline/background flags describe the body itself.
        yield from _walk_command(command.body, _fresh(ctx, function=command.name))
    else:
        yield from _walk_compound(command, ctx)


def _fresh(ctx: _Ctx, *, via: tuple[str, ...] | None = None, function: str | None = None,
           depth: int | None = None) -> _Ctx:
    """A context with nothing inherited but the wrappers, the check's state and the dialect."""
    return _Ctx(via=ctx.via if via is None else via, function=function,
                depth=ctx.depth if depth is None else depth, dialect=ctx.dialect, walk=ctx.walk)


def _walk_compound(command: Compound, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for word in command.words:
        yield from _walk_substitutions(word, ctx)
    for redirect in command.redirects:
        yield from _walk_substitutions(redirect.target, ctx)
    if ctx.dialect.bash:
        shellarith.note_compound(ctx.walk.arith, command)
    # A block's redirections apply to every command inside it.
    inner = replace(ctx, redirects=ctx.redirects + tuple(_redirect(r) for r in command.redirects))
    for body in command.bodies:
        yield from _walk_script(body, inner)


def _walk_simple(command: Simple, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for word in [*command.assigns, *command.words, *(r.target for r in command.redirects)]:
        yield from _walk_substitutions(word, ctx)
    found = _simple_command(command, ctx)
    changed = reading_changed_by(found.words, found.assignments) if ctx.dialect.bash else None
    if changed:
        raise DialectError(changed, command.text, 0)
    fed = _fed_scripts(command, found, ctx)
    unseen = tuple(f"`{found.name}` reads a script that `{label}` makes when the line runs"
                   for label, text, _ in fed if text is None)
    if command.words and _expands(command.words[0]):
        unseen += (f"the command name `{command.words[0].raw}` is made when the line runs",)
    if unseen:
        found = replace(found, unseen=unseen)
    if ctx.dialect.bash:
        shellarith.note_simple(ctx.walk.arith, command, found)
    ctx.walk.budget.step(len(found.words))
    yield found
    yield from _wrapped(found, ctx)
    for label, script in shellarith.reexpanded_scripts(found.words):
        yield from _script_commands(script, _fresh(ctx, via=found.via + (label,), depth=ctx.depth + 1),
                                    label, (ctx.dialect,))
    for label, text, dialects in fed:
        if text is not None:
            script_ctx = _fresh(ctx, via=found.via + (label,), depth=ctx.depth + 1)
            yield from _script_commands(text, script_ctx, label, dialects)


def _simple_command(command: Simple, ctx: _Ctx) -> SimpleCommand:
    return SimpleCommand(
        words=_expanded(command.words, ctx),
        raw=command.text.strip(),
        redirects=ctx.redirects + tuple(_redirect(r) for r in command.redirects),
        assignments=tuple(w.value for w in command.assigns),
        via=ctx.via, function=ctx.function,
        in_pipeline=ctx.in_pipeline, background=ctx.background)


def _expanded(words: list[Word], ctx: _Ctx) -> tuple[str, ...]:
    """The words after bash's brace expansion (`{rm,-rf,~}` is `rm -rf ~`); dash has none."""
    if not ctx.dialect.bash or all(w.brace is None for w in words):
        return tuple(w.value for w in words)
    out: list[str] = []
    for word in words:
        if word.brace is None:
            out.append(word.value)
        else:
            out.extend(braces.expand(word.brace, budget=ctx.walk.budget))
    return tuple(out)


def _walk_substitutions(word: Word, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """Substitutions run before their command, in their own subshell, in the foreground."""
    if not word.subs and word.heredoc is None:
        return
    sub_ctx = replace(ctx, in_pipeline=False, background=False, redirects=())
    scripts = list(word.subs) + (list(word.heredoc.subs) if word.heredoc else [])
    for script in scripts:
        yield from _walk_script(script, sub_ctx)


def _wrapped(command: SimpleCommand, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """The commands a wrapper runs (`env X`, `sudo X`, `bash -c 'X'`, `bash <<EOF X EOF`)."""
    for inner in wrappers.inner_commands(command.words):
        if inner.script is not None:
            script_ctx = _fresh(ctx, via=command.via + (inner.label,), depth=ctx.depth + 1)
            dialects = wrapper_dialects(inner.label, command.words, (ctx.dialect,))
            yield from _script_commands(inner.script, script_ctx, inner.label, dialects)
            continue
        if ctx.depth + 1 > MAX_NESTING:
            raise ShellSyntaxError(f"commands are wrapped in other commands more than {MAX_NESTING} "
                                   "levels deep", command.raw, 0)
        unwrapped = replace(command, words=inner.words, assignments=(),
                            via=command.via + (inner.label,))
        yield unwrapped
        yield from _wrapped(unwrapped, replace(ctx, depth=ctx.depth + 1))
    if wrappers.reads_script_from_stdin(command.words):
        for redirect in command.redirects:
            if redirect.op in _STDIN_BODY_OPS and redirect.body is not None:
                label = f"{command.name} {redirect.op}"
                script_ctx = _fresh(ctx, via=command.via + (label,), depth=ctx.depth + 1)
                yield from _script_commands(redirect.body, script_ctx, label,
                                            shell_dialects(command.words))


def _piped_scripts(commands: list[Command], ctx: _Ctx) -> Iterator[SimpleCommand]:
    """`echo 'rm -rf /' | sh`, `cat <<EOF | bash`: text written straight into a shell is a script."""
    for left, right in itertools.pairwise(commands):
        if not (isinstance(left, Simple) and isinstance(right, Simple)):
            continue
        shell = _innermost(_expanded(right.words, ctx))
        text = _written_text(_simple_command(left, ctx))
        if text is not None and wrappers.reads_script_from_stdin(shell):
            label = f"{posixpath.basename(shell[0])} reading a pipe"
            script_ctx = _fresh(ctx, via=ctx.via + (label,), depth=ctx.depth + 1)
            yield from _script_commands(text, script_ctx, label, shell_dialects(shell))


def _written_text(command: SimpleCommand) -> str | None:
    """What `echo`/`printf` print, or what `cat` copies from a here-document or here-string."""
    if command.name == "cat" and all(w == "-" or w.startswith("-") for w in command.words[1:]):
        bodies = [r.body for r in command.redirects if r.op in _STDIN_BODY_OPS and r.body is not None]
        return bodies[-1] if bodies else None
    return wrappers.echoed_text(command.words)


def _innermost(words: tuple[str, ...]) -> tuple[str, ...]:
    """Follows word wrappers (`sudo env sh` -> `sh`) to the command that really runs."""
    for _ in range(MAX_NESTING):
        inner = wrappers.inner_commands(words)
        if len(inner) != 1 or inner[0].script is not None:
            break
        words = inner[0].words
    return words


def _redirect(node: RedirNode) -> Redirect:
    if node.target.heredoc is not None:
        body: str | None = node.target.heredoc.body
    elif node.op == "<<<":
        body = node.target.value + "\n"
    else:
        body = None
    return Redirect(node.op, node.target.value, node.fd, body)
def _expands(word: Word) -> bool:
    return bool(word.subs or word.params or word.exprs)


def _unseen_piped_scripts(commands: list[Command], ctx: _Ctx) -> Iterator[SimpleCommand]:
    """`curl … | sh`, `base64 -d | bash`: a shell reading a script that another command makes
    when the line runs; reported as a word-less command carrying why (see SimpleCommand.unseen)."""
    for left, right in itertools.pairwise(commands):
        if not (isinstance(left, Simple) and isinstance(right, Simple)):
            continue
        shell = _innermost(_expanded(right.words, ctx))
        if wrappers.reads_script_from_stdin(shell) and _written_text(_simple_command(left, ctx)) is None:
            made_by = _simple_command(left, ctx).text or left.text
            yield SimpleCommand(words=(), raw=right.text.strip(), via=ctx.via, unseen=(
                f"`{posixpath.basename(shell[0])}` reads a script that `{made_by}` writes when the "
                "line runs",))


def _fed_scripts(command: Simple, found: SimpleCommand,
                 ctx: _Ctx) -> list[tuple[str, str | None, tuple[Dialect, ...]]]:
    """`bash <(echo …)`, `sh < <(printf …)`, `source <(…)`: a process substitution whose output a
    shell reads as its script. Each is (label, script text or None if made at run time, dialects)."""
    if not any(_is_process_substitution(w) for w in [*command.words, *(r.target for r in command.redirects)]):
        return []
    words = _innermost(found.words)
    name = posixpath.basename(words[0]) if words else ""
    if name in ("source", "."):
        operand, dialects = (words[1] if len(words) > 1 else None), (ctx.dialect,)
    elif name in wrappers.SHELLS:
        operand, dialects = _script_operand(words), shell_dialects(words)
    else:
        return []
    fed = []
    for word in command.words:
        if word.value == operand and _is_process_substitution(word):
            fed.append((f"{name} <(…)", _static_output(word.subs[0], ctx), dialects))
    if name in wrappers.SHELLS and wrappers.reads_script_from_stdin(words):
        for redirect in command.redirects:
            if redirect.op == "<" and redirect.fd in ("", "0") and _is_process_substitution(redirect.target):
                fed.append((f"{name} < <(…)", _static_output(redirect.target.subs[0], ctx), dialects))
    return fed


def _is_process_substitution(word: Word) -> bool:
    return word.raw.startswith("<(") and word.raw.endswith(")") and len(word.subs) == 1


def _script_operand(words: tuple[str, ...]) -> str | None:
    """The script file a shell runs (`bash FILE`), or None with `-c`, `-s` or no operand."""
    i = 1
    while i < len(words):
        word = words[i]
        if word == "--":
            return words[i + 1] if i + 1 < len(words) else None
        if word in ("--rcfile", "--init-file") or (word[:1] in "-+" and word[-1:] in "oO" and len(word) > 1):
            i += 2
        elif word[:1] in "-+" and len(word) > 1:
            if word[0] == "-" and not word.startswith("--") and ("c" in word or "s" in word):
                return None
            i += 1
        else:
            return word
    return None


def _static_output(script: Script, ctx: _Ctx) -> str | None:
    """What a one-command script (`echo …`, `printf …`, `cat <<EOF`) writes, if it is fixed text."""
    if len(script.items) != 1 or len(script.items[0].pipelines) != 1:
        return None
    commands = script.items[0].pipelines[0].commands
    if len(commands) != 1 or not isinstance(commands[0], Simple):
        return None
    return _written_text(_simple_command(commands[0], ctx))
