"""Splits a shell command line into every simple command it would run, wherever it hides.

Reached through `;` `&&` `||` `|` `&` newlines, subshells, `{ }` groups, if/for/while/until/case
bodies, function bodies, `$( )`, backticks, `<( )`, here-document bodies, and commands that run
other commands (`env`, `sudo`, `timeout`, `xargs`, `find -exec`, `sh -c '...'`, `eval`, a script
piped, fed or written into a shell), following what earlier commands set up for later ones
(aliases, descriptors, files, variables: see linestate). The line is read as bash reads it; a script
handed to another shell in that shell's dialect (see dialects.py). Unparseable input raises
ShellSyntaxError, a line over the budget PolicyBudgetExceeded.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property

from mgexec.policy import braces, expansions, feeds, linestate, shellarith, wrappers
from mgexec.policy.budget import ParseBudget, check_line_size
from mgexec.policy.dialects import (BASH, Dialect, reading_changed_by, shell_dialects,
                                    with_mode_switches, wrapper_dialects)
from mgexec.policy.linestate import LineState
from mgexec.policy.shelltokens import MAX_NESTING, DialectError, ShellSyntaxError, Word
from mgexec.policy.shellparser import Command, Compound, FuncDef, RedirNode, Script, Simple, parse_tree



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
    sits in (outermost first) with the operators before its pipeline in each. `unseen` names text
    made at run time that decides what the command does (a variable the line does not set,
    evaluated as arithmetic): no check can judge it, so an allow list refuses the command, as it
    does an `unreadable` one.
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
    unseen: tuple[str, ...] = ()

    @cached_property  # read by every rule for every command
    def name(self) -> str:
        """The command word without its directory (`/usr/bin/sudo` -> `sudo`); "" if none."""
        return posixpath.basename(self.words[0]) if self.words else ""

    @property
    def text(self) -> str:
        """The words joined by single spaces: what allow and deny patterns are matched against."""
        return " ".join(self.words)


_MAX_CALLS_WALKED = 32  # function bodies judged again at their calls, per line
_POSITIONAL = re.compile(r"\$(\{?[0-9@*])")


class _Walk:
    """State of one check, shared by every reading of every nested script."""

    def __init__(self, budget: ParseBudget) -> None:
        self.budget = budget
        self.seen: set[Hashable] = set()  # (script, dialect, context, line state) already walked
        self.arith = shellarith.ArithFacts()
        self.braced: dict[int, tuple[Word, tuple[str, ...]]] = {}  # words braces made, per word


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
    dialect: Dialect = BASH  # how the script being walked is parsed
    walk: _Walk = field(default_factory=lambda: _Walk(ParseBudget()), compare=False)


def parse_command_line(command: str, *,
                       budget: ParseBudget | None = None) -> tuple[SimpleCommand, ...]:
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
        # The same script in the same place with the same line state has nothing new to show.
        key = (text, dialect, replace(ctx, depth=0, dialect=BASH, and_or=()), _line_mark(ctx.line))
        if key in ctx.walk.seen:
            continue
        ctx.walk.seen.add(key)
        tree = _parse(text, ctx, label, dialect, several=len(dialects) > 1)
        this_reading: set[SimpleCommand] = set()
        for command in _walk_script(tree, replace(ctx, source=text, dialect=dialect)):
            if len(dialects) == 1:
                yield command
            elif _unnumbered(command) not in earlier:
                this_reading.add(_unnumbered(command))
                yield command
        earlier |= this_reading


def _unnumbered(command: SimpleCommand) -> SimpleCommand:
    """The command without the numbers of its and-or lists, which each reading counts anew."""
    return replace(command, and_or=tuple((0, ops) for _, ops in command.and_or))


def _line_mark(line: LineState) -> str:
    """What the line has set up so far, so a script walked again after a change is read again."""
    return repr((line.aliases, line.fds, line.variables, line.files, line.positional,
                 sorted((name, id(body)) for name, body in line.functions.items())))


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
    if ctx.dialect.bash:
        shellarith.note_compound(ctx.walk.arith, command)
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
    changed = reading_changed_by(found.words, found.assignments) if ctx.dialect.bash else None
    if changed:
        raise DialectError(changed, command.text, 0)
    found = _judged(replace(found, readings=_readings(command, found, ctx)), ctx)
    if ctx.dialect.bash:
        shellarith.note_simple(ctx.walk.arith, command, found)
    ctx.walk.budget.step(len(found.words))
    yield found
    yield from _wrapped(found, ctx)
    for label, script in shellarith.reexpanded_scripts(found.words):
        yield from _script_commands(script, _script_ctx(found, ctx, label), label, (ctx.dialect,))
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
        if word.brace is not None and ctx.dialect.bash:  # `{rm,-rf}`: the words braces make
            per_word.append([_expanded([word], ctx)])
            continue
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
        words=_expanded(command.words, ctx),
        raw=command.text.strip(),
        redirects=ctx.redirects + tuple(_redirect(r) for r in command.redirects),
        assignments=tuple(w.value for w in command.assigns),
        via=ctx.via, function=ctx.function,
        in_pipeline=ctx.in_pipeline, background=ctx.background, repeats=ctx.repeats,
        and_or=ctx.and_or)


def _expanded(words: list[Word], ctx: _Ctx) -> tuple[str, ...]:
    """The words after bash's brace expansion (`{rm,-rf,~}` is `rm -rf ~`); dash has none."""
    if not ctx.dialect.bash or all(w.brace is None for w in words):
        return tuple(w.value for w in words)
    out: list[str] = []
    for word in words:
        if word.brace is None:
            out.append(word.value)
        else:
            out.extend(_brace_words(word, ctx))
    return tuple(out)


def _brace_words(word: Word, ctx: _Ctx) -> tuple[str, ...]:
    """The words one word's braces make, counted against the budget once per word of the tree
    (a word is expanded again for its readings, a pipe's output and each call of its function)."""
    made = ctx.walk.braced.get(id(word))
    if made is None or made[0] is not word:
        made = (word, tuple(braces.expand(word.brace or (), budget=ctx.walk.budget)))
        ctx.walk.braced[id(word)] = made
    return made[1]


def _walk_substitutions(word: Word, ctx: _Ctx) -> Iterator[SimpleCommand]:
    """Substitutions run before their command, in their own subshell, wherever their command runs
    (in the background, in a pipeline); a process substitution `<( )` runs alongside it."""
    if not word.subs and word.heredoc is None:
        return
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
        yield from _script_commands(text, script_ctx, label, _read_dialects(command, label, ctx))


def _inner_script(inner: wrappers.Inner, command: SimpleCommand,
                  ctx: _Ctx) -> Iterator[SimpleCommand]:
    """The commands of a script a wrapper or program runs. A script built at run time keeps that
    mark on each of its commands; if what can be read of it does not parse, it stays unread."""
    unreadable = inner.unreadable or command.unreadable
    dialects = wrapper_dialects(inner.label, command.words, (ctx.dialect,))
    if not unreadable:
        yield from _script_commands(inner.script or "", ctx, inner.label, dialects)
        return
    try:
        found = list(_script_commands(inner.script or "", ctx, inner.label, dialects))
    except DialectError:
        raise  # a construct the shell's dialects read differently is refused by name
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


def _read_dialects(command: SimpleCommand, label: str, ctx: _Ctx) -> tuple[Dialect, ...]:
    """Dialects of a script a shell reads from stdin, a descriptor or a file the line wrote: the
    shell named in `label` (with its options when it is the command itself)."""
    name = label.split()[0]
    if name not in wrappers.SHELLS:
        return (ctx.dialect,)  # `source`, `.`, a script run by its name: the current shell
    return shell_dialects(command.words if command.name == name else (name,))


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
        texts = _catted_files(simple, ctx) if texts is None else texts
        if texts is not None:
            return feeds.Feed(f"the output of `{simple.name}`", texts)
        return feeds.Feed("", unseen=f"the output of `{simple.raw}`")
    if isinstance(command, Compound) and command.kind in ("group", "subshell"):
        texts = _script_output(command.bodies[0], ctx)
        if texts:
            return feeds.Feed("the output of a block", texts)
    return feeds.Feed("", unseen="the output of a compound command")


def _catted_files(command: SimpleCommand, ctx: _Ctx) -> tuple[str, ...] | None:
    """What `cat FILE…` writes when the line shows every file's text (`cat <(echo …)`, a file it
    wrote earlier); None otherwise."""
    operands = [w for w in command.words[1:] if w != "--"]
    if command.name != "cat" or not operands or any(w.startswith("-") for w in operands):
        return None
    texts: tuple[str, ...] = ("",)
    for operand in operands:
        feed = ctx.line.files.get(operand)
        if feed is None or not feed.texts:
            return None
        texts = tuple(dict.fromkeys(a + b for a in texts for b in feed.texts))[:8]
    return texts


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
        expanding=ctx.expanding | {first.value}), label, (ctx.dialect,))


def _redirect(node: RedirNode) -> Redirect:
    if node.target.heredoc is not None:
        body: str | None = node.target.heredoc.body
    elif node.op == "<<<":
        body = node.target.value + "\n"
    else:
        body = None
    return Redirect(node.op, node.target.value, node.fd, body)
