"""Splits a shell command line into every simple command it would run, wherever it hides.

Reached through `;` `&&` `||` `|` `&` newlines, subshells, `{ }` groups, if/for/while/until/case
bodies, function bodies, `$( )`, backticks, `<( )`, here-document bodies, and commands that run
other commands (`env`, `sudo`, `timeout`, `xargs`, `find -exec`, `sh -c '...'`, `eval`, a script
piped or fed by here-document into a shell). Unparseable input raises ShellSyntaxError.
"""

from __future__ import annotations

import itertools
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, replace

from mgexec.policy import wrappers
from mgexec.policy.stdin_scripts import stdin_script
from mgexec.policy.wrapper_specs import SHELLS
from mgexec.policy.shelltokens import MAX_NESTING, ShellSyntaxError, Word
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
    `in_pipeline`/`background` say how it runs within that body (or within the line).
    """

    words: tuple[str, ...]
    raw: str
    redirects: tuple[Redirect, ...] = ()
    assignments: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    function: str | None = None
    in_pipeline: bool = False
    background: bool = False
    unreadable: str = ""  # why part of this command is text known only when the line runs

    @property
    def name(self) -> str:
        """The command word without its directory (`/usr/bin/sudo` -> `sudo`); "" if none."""
        return posixpath.basename(self.words[0]) if self.words else ""

    @property
    def text(self) -> str:
        """The words joined by single spaces: what allow and deny patterns are matched against."""
        return " ".join(self.words)


@dataclass(frozen=True)
class _Ctx:
    via: tuple[str, ...] = ()
    function: str | None = None
    in_pipeline: bool = False
    background: bool = False
    redirects: tuple[Redirect, ...] = ()
    depth: int = 0


def parse_command_line(command: str) -> tuple[SimpleCommand, ...]:
    """Every simple command of `command`, including nested and wrapped ones, in source order."""
    return tuple(_script_commands(command, _Ctx(), label=None))


def _script_commands(text: str, ctx: _Ctx, label: str | None) -> Iterator[SimpleCommand]:
    if ctx.depth > MAX_NESTING:
        raise ShellSyntaxError(f"commands are wrapped in other commands more than {MAX_NESTING} "
                               "levels deep", text, 0)
    try:
        tree = parse_tree(text, ctx.depth)
    except ShellSyntaxError as err:
        if label is None:
            raise
        raise ShellSyntaxError(f"in the script run by `{label}`: {err.detail}",
                               err.source, err.position) from None
    yield from _walk_script(tree, ctx)


def _walk_script(script: Script, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for item in script.items:
        for pipeline in item.pipelines:
            inner = replace(ctx, background=ctx.background or item.background,
                            in_pipeline=ctx.in_pipeline or len(pipeline.commands) > 1)
            for command in pipeline.commands:
                yield from _walk_command(command, inner)
            yield from _piped_scripts(pipeline.commands, ctx)


def _walk_command(command: Command, ctx: _Ctx) -> Iterator[SimpleCommand]:
    if isinstance(command, Simple):
        yield from _walk_simple(command, ctx)
    elif isinstance(command, FuncDef):
        # Inside a function body, pipeline/background flags describe the body itself.
        yield from _walk_command(command.body, _Ctx(via=ctx.via, function=command.name,
                                                     depth=ctx.depth))
    else:
        yield from _walk_compound(command, ctx)


def _walk_compound(command: Compound, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for word in command.words:
        yield from _walk_substitutions(word, ctx)
    for redirect in command.redirects:
        yield from _walk_substitutions(redirect.target, ctx)
    # A block's redirections apply to every command inside it.
    inner = replace(ctx, redirects=ctx.redirects + tuple(_redirect(r) for r in command.redirects))
    for body in command.bodies:
        yield from _walk_script(body, inner)


def _walk_simple(command: Simple, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for word in [*command.assigns, *command.words, *(r.target for r in command.redirects)]:
        yield from _walk_substitutions(word, ctx)
    found = _simple_command(command, ctx)
    yield found
    yield from _wrapped(found, ctx)
    yield from _substituted_script(command, found, ctx)


def _substituted_script(command: Simple, found: SimpleCommand, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """`bash <(echo 'CMDS')`, `source <(printf 'CMDS')`: a script file that is a process
    substitution writing literal text is that text."""
    index = _script_file_index(found.words)
    word = command.words[index] if index is not None and index < len(command.words) else None
    if word is None or not word.value.startswith("<(") or len(word.subs) != 1:
        return
    items = word.subs[0].items
    if len(items) != 1 or len(items[0].pipelines) != 1 or len(items[0].pipelines[0].commands) != 1:
        return
    writer = items[0].pipelines[0].commands[0]
    text = _written_text(_simple_command(writer, ctx)) if isinstance(writer, Simple) else None
    if text is not None:
        label = f"{found.name} <(…)"
        yield from _script_commands(text, _Ctx(via=ctx.via + (label,), depth=ctx.depth + 1), label)


def _script_file_index(words: tuple[str, ...]) -> int | None:
    """Where the script file is in `bash [-opts] FILE`, `source FILE`, `. FILE`."""
    name = wrappers.command_name(words[0]) if words else ""
    if name in ("source", "."):
        return 1
    if name not in SHELLS:
        return None
    i = 1
    while i < len(words) and words[i][:1] in "-+" and words[i] not in ("-", "--"):
        if words[i][0] == "-" and "c" in words[i][1:] and not words[i].startswith("--"):
            return None
        i += 2 if words[i] in ("--rcfile", "--init-file") or words[i][-1] in "oO" else 1
    return i + 1 if i < len(words) and words[i] == "--" else i


def _simple_command(command: Simple, ctx: _Ctx) -> SimpleCommand:
    return SimpleCommand(
        words=tuple(w.value for w in command.words),
        raw=command.text.strip(),
        redirects=ctx.redirects + tuple(_redirect(r) for r in command.redirects),
        assignments=tuple(w.value for w in command.assigns),
        via=ctx.via, function=ctx.function,
        in_pipeline=ctx.in_pipeline, background=ctx.background)


def _walk_substitutions(word: Word, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """Substitutions run before their command, in their own subshell, in the foreground."""
    sub_ctx = replace(ctx, in_pipeline=False, background=False, redirects=())
    scripts = list(word.subs) + (list(word.heredoc.subs) if word.heredoc else [])
    for script in scripts:
        yield from _walk_script(script, sub_ctx)


def _wrapped(command: SimpleCommand, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """The commands a wrapper runs (`env X`, `sudo X`, `bash -c 'X'`, `bash <<EOF X EOF`), or a
    program runs from its options (`git -c alias.x='!X'`, `tar --to-command=X`, `PAGER=X`)."""
    for inner in wrappers.inner_commands(command.words, command.assignments):
        via = command.via + (inner.label,)
        if inner.script is not None:
            yield from _inner_script(inner, command, _Ctx(via=via, depth=ctx.depth + 1))
            continue
        if not inner.words:  # something runs that the line does not show
            yield SimpleCommand(words=(), raw=command.raw, via=via, unreadable=inner.unreadable)
            continue
        if ctx.depth + 1 > MAX_NESTING:
            raise ShellSyntaxError(f"commands are wrapped in other commands more than {MAX_NESTING} "
                                   "levels deep", command.raw, 0)
        unwrapped = replace(command, words=inner.words, assignments=(), via=via,
                            unreadable=inner.unreadable or command.unreadable)
        yield unwrapped
        yield from _wrapped(unwrapped, replace(ctx, depth=ctx.depth + 1))
    for redirect in command.redirects:
        if redirect.op in _STDIN_BODY_OPS and redirect.body is not None:
            script = stdin_script(command.words, redirect.body)
            if script is not None:
                label = f"{command.name} {redirect.op}"
                yield from _script_commands(script, _Ctx(via=command.via + (label,),
                                                         depth=ctx.depth + 1), label)


def _inner_script(inner: wrappers.Inner, command: SimpleCommand,
                  ctx: _Ctx) -> Iterator[SimpleCommand]:
    """The commands of a script a wrapper or program runs. A script built at run time keeps that
    mark on each of its commands; if what can be read of it does not parse, it stays unread."""
    unreadable = inner.unreadable or command.unreadable
    if not unreadable:
        yield from _script_commands(inner.script or "", ctx, inner.label)
        return
    try:
        found = list(_script_commands(inner.script or "", ctx, inner.label))
    except ShellSyntaxError:
        found = [SimpleCommand(words=(), raw=inner.script or "", via=ctx.via)]
    for cmd in found:
        yield replace(cmd, unreadable=cmd.unreadable or unreadable)


def _piped_scripts(commands: list[Command], ctx: _Ctx) -> Iterator[SimpleCommand]:
    """`echo 'rm -rf /' | sh`, `cat <<EOF | bash`: text written straight into a shell is a script."""
    for left, right in itertools.pairwise(commands):
        if not (isinstance(left, Simple) and isinstance(right, Simple)):
            continue
        shell = _innermost(tuple(w.value for w in right.words))
        text = _written_text(_simple_command(left, ctx))
        script = stdin_script(shell, text) if text is not None else None
        if script is not None:
            label = f"{posixpath.basename(shell[0])} reading a pipe"
            yield from _script_commands(script, _Ctx(via=ctx.via + (label,), depth=ctx.depth + 1),
                                        label)


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
