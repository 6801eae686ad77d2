"""Splits a shell command line into every simple command it would run, wherever it hides.

Reached through `;` `&&` `||` `|` `&` newlines, subshells, `{ }` groups, if/for/while/until/case
bodies, function bodies, `$( )`, backticks, `<( )`, here-document bodies, and commands that run
other commands (`env`, `sudo`, `timeout`, `xargs`, `find -exec`, `sh -c '...'`, `eval`, a script
piped or fed by here-document into a shell). Unparseable input raises ShellSyntaxError.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from mgexec.policy import expansions, feeds, linestate, wrappers
from mgexec.policy.linestate import LineState
from mgexec.policy.shelltokens import MAX_NESTING, ShellSyntaxError, Word
from mgexec.policy.shelltree import Command, Compound, FuncDef, RedirNode, Script, Simple, parse_tree



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
    `in_pipeline`/`background` say how it runs within that body (or within the line); `repeats`
    says it sits in a loop or trap and may run again after later commands; `unseen` says why the
    script it runs (a shell reading a pipe, a file or a descriptor) cannot be read before it runs.
    """

    words: tuple[str, ...]
    raw: str
    redirects: tuple[Redirect, ...] = ()
    assignments: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    function: str | None = None
    in_pipeline: bool = False
    background: bool = False
    repeats: bool = False
    unseen: str = ""

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
    repeats: bool = False
    stdin: feeds.Feed | None = None  # what a pipe feeds the command
    dialects: tuple[str, ...] = ("bash",)  # how echo reads escapes: bash, or also dash in `sh`
    expanding: frozenset[str] = frozenset()  # aliases being expanded (bash never recurses)
    line: LineState = field(default_factory=LineState, compare=False)
    positional: tuple[str, ...] | None = None  # $0, $1, ... when the line shows them


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
            stdin = ctx.stdin
            for command in pipeline.commands:
                yield from _walk_command(command, replace(inner, stdin=stdin))
                stdin = _piped_output(command, replace(inner, stdin=stdin))


def _walk_command(command: Command, ctx: _Ctx) -> Iterator[SimpleCommand]:
    if isinstance(command, Simple):
        yield from _walk_simple(command, ctx)
    elif isinstance(command, FuncDef):
        # Inside a function body, pipeline/background flags describe the body itself.
        yield from _walk_command(command.body, replace(ctx, function=command.name, redirects=(),
                                                       in_pipeline=False, background=False))
    else:
        yield from _walk_compound(command, ctx)


def _walk_compound(command: Compound, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for word in command.words:
        yield from _walk_substitutions(word, ctx)
    for redirect in command.redirects:
        yield from _walk_substitutions(redirect.target, ctx)
    # A block's redirections apply to every command inside it.
    inner = replace(ctx, redirects=ctx.redirects + tuple(_redirect(r) for r in command.redirects),
                    repeats=ctx.repeats or command.kind in ("loop", "for"))
    for body in command.bodies:
        yield from _walk_script(body, inner)


def _walk_simple(command: Simple, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for word in [*command.assigns, *command.words, *(r.target for r in command.redirects)]:
        yield from _walk_substitutions(word, ctx)
    found = _simple_command(command, ctx)
    for word in command.words:  # `bash <(echo ...)`: the substitution's output is a file to read
        if word.raw.startswith("<(") and len(word.subs) == 1:
            texts = _script_output(word.subs[0], ctx)
            ctx.line.files[word.value] = feeds.Feed(
                "", texts, "" if texts else f"the output of `{word.raw}`")
    for reading in _readings(command, found, ctx):
        yield _judged(reading, ctx)
        yield from _wrapped(reading, ctx)
    yield from _alias_expansion(command, ctx)
    linestate.remember(found.words, found.assignments, found.redirects, ctx.line, ctx.stdin,
                       ctx.dialects)


def _readings(command: Simple, found: SimpleCommand, ctx: _Ctx) -> list[SimpleCommand]:
    """The command as it will run where the line itself decides its words: variables it assigned
    earlier (every value they may hold), a command name printed by `$(echo ...)`."""
    raws = tuple(w.raw for w in command.words)
    words_list = expansions.readings(found.words, raws, ctx.line.variables) or [found.words]
    first = command.words[0] if command.words else None
    if first is not None and len(first.subs) == 1 and re.fullmatch(r'"?(\$\(.*\)|`.*`)"?', first.raw,
                                                                     re.DOTALL):
        for text in _script_output(first.subs[0], ctx):
            text = text.rstrip("\n")
            named = (text,) if first.raw.startswith('"') else tuple(text.split())
            words_list.append(named + found.words[1:])
    return [found if words == found.words else replace(found, words=words)
            for words in dict.fromkeys(words_list)]


def _script_output(script: Script, ctx: _Ctx) -> tuple[str, ...]:
    """What a script writes, when the line shows all of it (`echo rm; printf ... | cat`): one text
    per reading, or () if any part is only known when it runs."""
    outputs: tuple[str, ...] = ("",)
    for pipeline in (p for item in script.items for p in item.pipelines):
        feed: feeds.Feed | None = None
        for command in pipeline.commands:
            feed = _piped_output(command, replace(ctx, stdin=feed))
        if feed is None or not feed.texts:
            return ()
        outputs = tuple(dict.fromkeys(a + b for a in outputs for b in feed.texts))[:8]
    return outputs


def _simple_command(command: Simple, ctx: _Ctx) -> SimpleCommand:
    return SimpleCommand(
        words=tuple(w.value for w in command.words),
        raw=command.text.strip(),
        redirects=ctx.redirects + tuple(_redirect(r) for r in command.redirects),
        assignments=tuple(w.value for w in command.assigns),
        via=ctx.via, function=ctx.function,
        in_pipeline=ctx.in_pipeline, background=ctx.background, repeats=ctx.repeats)


def _walk_substitutions(word: Word, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """Substitutions run before their command, in their own subshell, wherever their command runs
    (in the background, in a pipeline); a process substitution `<( )` runs alongside it."""
    alongside = ctx.background or "<(" in word.raw or ">(" in word.raw
    sub_ctx = replace(ctx, background=alongside, redirects=(), stdin=None)
    scripts = list(word.subs) + (list(word.heredoc.subs) if word.heredoc else [])
    for script in scripts:
        yield from _walk_script(script, sub_ctx)


def _wrapped(command: SimpleCommand, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """The commands a wrapper runs (`env X`, `sudo X`, `bash -c 'X'`, `bash <<EOF X EOF`)."""
    for inner in wrappers.inner_commands(command.words):
        if inner.script is not None:
            yield from _script_commands(inner.script, _script_ctx(command, ctx, inner.label),
                                        inner.label)
            continue
        if ctx.depth + 1 > MAX_NESTING:
            raise ShellSyntaxError(f"commands are wrapped in other commands more than {MAX_NESTING} "
                                   "levels deep", command.raw, 0)
        for words in linestate.fed_words(command.words, inner, command.redirects, ctx.line,
                                         ctx.stdin):
            unwrapped = replace(command, words=words, assignments=(),
                                via=command.via + (inner.label,))
            yield _judged(unwrapped, ctx)
            yield from _wrapped(unwrapped, replace(ctx, depth=ctx.depth + 1))
    for label, text in linestate.scripts_read(command.words, command.redirects, ctx.line,
                                              ctx.stdin):
        script_ctx = replace(_script_ctx(command, ctx, label), stdin=None)
        yield from _script_commands(text, script_ctx, label)


def _script_ctx(command: SimpleCommand, ctx: _Ctx, label: str) -> _Ctx:
    """A script run by `command`: in the same function and flow (so `f(){ eval 'f|f &'; }` is seen
    as f calling itself), read as the shell named in `label` reads it."""
    name = label.split()[0]
    dialects = ("bash", "dash") if name in ("sh", "dash", "ash", "busybox") or "/" in name else (
        ("bash",) if name in wrappers.SHELLS else ctx.dialects)
    return replace(ctx, via=command.via + (label,), depth=ctx.depth + 1, redirects=(),
                   repeats=ctx.repeats or name in ("trap", "watch"), dialects=dialects)


def _descriptor(command: SimpleCommand, ctx: _Ctx, fd: str = "0") -> feeds.Feed | None:
    return linestate.descriptor(command.redirects, ctx.line, ctx.stdin, fd)


def _judged(command: SimpleCommand, ctx: _Ctx) -> SimpleCommand:
    """The command, marked `unseen` when it is a shell whose script comes from outside the line."""
    why = linestate.unseen_reason(command.words, command.redirects, ctx.line, ctx.stdin)
    return replace(command, unseen=why) if why else command


def _piped_output(command: Command, ctx: _Ctx) -> feeds.Feed:
    """What `command` writes into the pipe after it, as far as the line shows it."""
    if isinstance(command, Simple) and command.words:
        simple = _simple_command(command, ctx)
        texts = feeds.written_texts(simple.words, _descriptor(simple, ctx), ctx.dialects)
        if texts is not None:
            return feeds.Feed(f"the output of `{simple.name}`", texts)
        return feeds.Feed("", unseen=f"the output of `{simple.raw}`")
    if isinstance(command, Compound) and command.kind in ("group", "subshell"):
        texts = _script_output(command.bodies[0], ctx)
        if texts:
            return feeds.Feed("the output of a block", texts)
    return feeds.Feed("", unseen="the output of a compound command")


def _alias_expansion(command: Simple, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """`alias x='rm -rf'` earlier on the line, then `x ~`: judged as `rm -rf ~` (bash expands
    aliases in posix mode or with expand_aliases, dash always: the line is judged as if expanded)."""
    first = command.words[0] if command.words else None
    if first is None or first.raw != first.value or first.value in ctx.expanding:
        return
    value = ctx.line.aliases.get(first.value)
    if value is None:
        return
    rest = " ".join(w.raw for w in command.words[1:])
    label = f"alias {first.value}"
    yield from _script_commands(f"{value} {rest}", replace(
        ctx, via=ctx.via + (label,), depth=ctx.depth + 1,
        expanding=ctx.expanding | {first.value}), label)


def _redirect(node: RedirNode) -> Redirect:
    if node.target.heredoc is not None:
        body: str | None = node.target.heredoc.body
    elif node.op == "<<<":
        body = node.target.value + "\n"
    else:
        body = None
    return Redirect(node.op, node.target.value, node.fd, body)
