"""Splits a shell command line into every simple command it would run, wherever it hides.

Reached through `;` `&&` `||` `|` `&` newlines, subshells, `{ }` groups, if/for/while/until/case
bodies, function bodies, `$( )`, backticks, `<( )`, here-document bodies, and commands that run
other commands (`env`, `sudo`, `timeout`, `xargs`, `find -exec`, `sh -c '...'`, `eval`, a script
piped, fed or written into a shell), following what earlier commands set up for later ones
(aliases, descriptors, files, variables: see linestate). Unparseable input raises ShellSyntaxError.
"""

from __future__ import annotations

import itertools
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
    says it sits in a loop or trap and may run again after later commands; `unreadable` says why
    part of what it runs (a script a shell reads from a pipe, a file or a descriptor; a command a
    program builds) is known only when the line runs; `readings` are the word lists it may run as
    where the line decides its expansions (variables it sets, `for` words, positional parameters,
    `$(echo ...)`), empty when only `words` is known; `and_or` numbers the `a && b || c` lists it
    sits in (outermost first) with the operators before its pipeline in each.
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
    repeats: bool = False
    readings: tuple[tuple[str, ...], ...] = ()
    and_or: tuple[tuple[int, tuple[str, ...]], ...] = ()

    @property
    def name(self) -> str:
        """The command word without its directory (`/usr/bin/sudo` -> `sudo`); "" if none."""
        return posixpath.basename(self.words[0]) if self.words else ""

    @property
    def text(self) -> str:
        """The words joined by single spaces: what allow and deny patterns are matched against."""
        return " ".join(self.words)


_MAX_CALLS_WALKED = 32  # function bodies judged again at their calls, per line
_POSITIONAL = re.compile(r"\$(\{?[0-9@*])")


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
    loop_vars: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, words) of enclosing `for`s
    and_or: tuple[tuple[int, tuple[str, ...]], ...] = ()
    source: str = ""  # the text being walked, for the names of `for` variables


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
    yield from _walk_script(tree, replace(ctx, source=text))


def _walk_script(script: Script, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for item in script.items:
        ctx.line.and_or_lists += 1
        operators: tuple[str, ...] = ()
        for index, pipeline in enumerate(item.pipelines):
            if index:
                operators += (_operator_before(pipeline, ctx.source),)
            inner = replace(ctx, background=ctx.background or item.background,
                            in_pipeline=ctx.in_pipeline or len(pipeline.commands) > 1,
                            and_or=ctx.and_or + ((ctx.line.and_or_lists, operators),))
            stdin = ctx.stdin
            for command in pipeline.commands:
                yield from _walk_command(command, replace(inner, stdin=stdin))
                stdin = _piped_output(command, replace(inner, stdin=stdin))


def _operator_before(pipeline, source: str) -> str:
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


def _walk_command(command: Command, ctx: _Ctx) -> Iterator[SimpleCommand]:
    if isinstance(command, Simple):
        yield from _walk_simple(command, ctx)
    elif isinstance(command, FuncDef):
        ctx.line.functions[command.name] = command.body
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
    name = _loop_variable(command, ctx.source)
    if name:  # the loop's words as they expand (`"${dirs[@]}"`, `$(echo a b)`)
        words = tuple(w for word in command.words for value in _substituted(word, ctx)
                      for reading in expansions.word_readings(value, word.raw, _scope(ctx),
                                                              value != word.value)
                      for w in reading)
        inner = replace(inner, loop_vars=ctx.loop_vars + ((name, words),))
    for body in command.bodies:
        yield from _walk_script(body, inner)


def _loop_variable(command: Compound, source: str) -> str | None:
    """The variable of `for NAME in WORDS`, read from the source before the first word."""
    if command.kind != "for" or not command.words or command.words[0].raw.startswith("(("):
        return None
    match = re.search(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+$", source[:command.words[0].start])
    return match[1] if match else None


def _walk_simple(command: Simple, ctx: _Ctx) -> Iterator[SimpleCommand]:
    for word in [*command.assigns, *command.words, *(r.target for r in command.redirects)]:
        yield from _walk_substitutions(word, ctx)
    found = _simple_command(command, ctx)
    found = replace(found, readings=_readings(command, found, ctx))
    yield _judged(found, ctx)
    yield from _wrapped(found, ctx)
    for words in found.readings:
        if words != found.words:  # what a wrapper runs in each reading (`x='sudo rm'; $x y`)
            yield from _wrapped(replace(found, words=words, readings=()), ctx)
    yield from _function_call(found, ctx)
    yield from _alias_expansion(command, ctx)
    linestate.remember(found.words, found.assignments, found.redirects, ctx.line, ctx.stdin,
                       ctx.dialects)


def _readings(command: Simple, found: SimpleCommand, ctx: _Ctx) -> tuple[tuple[str, ...], ...]:
    """The word lists the command may run as where the line itself decides its words: variables
    it assigned (every value they may hold), positional parameters it shows, the words of a `for`
    loop, substitutions whose output it shows (`$(echo rm)`); () when only `words` is known."""
    scope = _scope(ctx)
    per_word: list[list[tuple[str, ...]]] = []
    for word in command.words:
        options: list[tuple[str, ...]] = []
        for value in _substituted(word, ctx):
            options.extend(expansions.word_readings(value, word.raw, scope, value != word.value))
        per_word.append(list(dict.fromkeys(options)))
    found_words = [tuple(w for part in combination for w in part) for combination in
                   itertools.islice(itertools.product(*per_word), expansions.MAX_READINGS)]
    readings = tuple(dict.fromkeys(found_words))
    return () if readings in ((), (found.words,)) else readings


def _scope(ctx: _Ctx) -> expansions.Scope:
    """The variables (with the words of enclosing `for` loops) and positional parameters a
    command's expansions can use."""
    variables = dict(ctx.line.variables)
    for name, words in ctx.loop_vars:
        variables[name] = [None if re.search(r"[$`]", w) else w for w in words] or [None]
    return expansions.Scope(variables, ctx.positional if ctx.positional is not None
                            else ctx.line.positional)


def _substituted(word: Word, ctx: _Ctx) -> list[str]:
    """The word's text with each `$( )` whose output the line shows put in (trailing newlines
    removed), one text per reading; substitutions it does not show stay as written."""
    spans = expansions.substitution_spans(word.value)
    if not word.subs or len(spans) != len(word.subs):
        return [word.value]
    texts = [word.value]
    for (start, end), script in reversed(list(zip(spans, word.subs))):
        outputs = [t.rstrip("\n") for t in _script_output(script, ctx)]
        if outputs:
            texts = [t[:start] + out + t[end:] for t in texts for out in outputs][:8]
    return texts


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
        in_pipeline=ctx.in_pipeline, background=ctx.background, repeats=ctx.repeats,
        and_or=ctx.and_or)


def _walk_substitutions(word: Word, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """Substitutions run before their command, in their own subshell, wherever their command runs
    (in the background, in a pipeline); a process substitution `<( )` runs alongside it."""
    alongside = ctx.background or "<(" in word.raw or ">(" in word.raw
    sub_ctx = replace(ctx, background=alongside, redirects=(), stdin=None)
    scripts = list(word.subs) + (list(word.heredoc.subs) if word.heredoc else [])
    for script in scripts:
        yield from _walk_script(script, sub_ctx)
    if word.raw.startswith("<(") and len(word.subs) == 1:  # a file whose text is the output
        texts = _script_output(word.subs[0], ctx)
        ctx.line.files[word.value] = feeds.Feed("", texts,
                                                "" if texts else f"the output of `{word.raw}`")


def _wrapped(command: SimpleCommand, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """The commands a wrapper runs (`env X`, `sudo X`, `bash -c 'X'`, `bash <<EOF X EOF`), or a
    program runs from its options (`git -c alias.x='!X'`, `tar --to-command=X`, `PAGER=X`)."""
    for inner in wrappers.inner_commands(command.words, command.assignments):
        via = command.via + (inner.label,)
        if inner.script is not None:
            script_ctx = _script_ctx(command, ctx, inner.label)
            if inner.label.endswith(" -c") and inner.script in command.words[1:]:
                # `sh -c 'SCRIPT' a b`: a is $0, b is $1
                after = command.words[command.words.index(inner.script, 1) + 1:]
                script_ctx = replace(script_ctx, positional=after or (command.name,))
            yield from _inner_script(inner, command, script_ctx)
            continue
        if not inner.words:  # something runs that the line does not show
            yield SimpleCommand(words=(), raw=command.raw, via=via, unreadable=inner.unreadable)
            continue
        if ctx.depth + 1 > MAX_NESTING:
            raise ShellSyntaxError(f"commands are wrapped in other commands more than {MAX_NESTING} "
                                   "levels deep", command.raw, 0)
        for words in linestate.fed_words(command.words, inner, command.redirects, ctx.line,
                                         ctx.stdin):
            unwrapped = replace(command, words=words, assignments=(), via=via,
                                unreadable=inner.unreadable or command.unreadable)
            yield _judged(unwrapped, ctx)
            yield from _wrapped(unwrapped, replace(ctx, depth=ctx.depth + 1))
    for label, text in linestate.scripts_read(command.words, command.redirects, ctx.line,
                                              ctx.stdin):
        script_ctx = replace(_script_ctx(command, ctx, label), stdin=None)
        yield from _script_commands(text, script_ctx, label)


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
    """The command, marked unreadable when it is a shell whose script comes from outside the line."""
    why = linestate.unreadable_reason(command.words, command.redirects, ctx.line, ctx.stdin)
    return replace(command, unreadable=command.unreadable or why) if why else command


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


def _function_call(command: SimpleCommand, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """A call of a function the line defined whose body uses $1, $2, "$@" ...: the body is judged
    again with the call's arguments (`f(){ rm -rf "$1"; }; f /`)."""
    for words in command.readings or (command.words,):
        name = words[0] if words else ""
        body = ctx.line.functions.get(name)
        if (body is None or name in ctx.expanding or not _uses_positional(body)
                or ctx.line.calls_walked >= _MAX_CALLS_WALKED):
            continue
        ctx.line.calls_walked += 1
        yield from _walk_command(body, replace(
            ctx, function=name, redirects=(), in_pipeline=False, background=False,
            via=ctx.via + (name,), positional=words, expanding=ctx.expanding | {name},
            depth=ctx.depth + 1))


def _uses_positional(node: Command | Script) -> bool:
    if isinstance(node, Script):
        return any(_uses_positional(c) for item in node.items for p in item.pipelines
                   for c in p.commands)
    if isinstance(node, Simple):
        return any(_POSITIONAL.search(w.raw) for w in [*node.assigns, *node.words])
    if isinstance(node, FuncDef):
        return False  # a function defined inside has its own parameters
    return any(_POSITIONAL.search(w.raw) for w in node.words) or any(
        _uses_positional(body) for body in node.bodies)


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
