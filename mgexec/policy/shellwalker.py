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

from collections.abc import Iterator
from dataclasses import replace

from mgexec.policy import feeds, linestate, shellarith, wrappers
from mgexec.policy.budget import ParseBudget, check_line_size
from mgexec.policy.dialects import (BASH, Dialect, reading_changed_by, with_mode_switches,
                                    wrapper_dialects)
from mgexec.policy.shellcommand import SimpleCommand, redirect_of
from mgexec.policy.shellcontext import Ctx, Walk, line_mark, read_dialects, script_ctx
from mgexec.policy.shellnodes import Command, Compound, FuncDef, Script, Simple
from mgexec.policy.shellparser import parse_tree
from mgexec.policy.shellsource import loop_variable, operator_before, uses_positional
from mgexec.policy.shelltokens import MAX_NESTING, DialectError, ShellSyntaxError, Word
from mgexec.policy.shellwords import (judged, piped_output, readings, scope_of, script_output,
                                      simple_command, word_readings)

_MAX_CALLS_WALKED = 32  # function bodies judged again at their calls, per line


def parse_command_line(command: str, *,
                       budget: ParseBudget | None = None) -> tuple[SimpleCommand, ...]:
    """Every simple command of `command`, read as bash reads it, including nested and wrapped
    ones, in source order."""
    check_line_size(command)
    walk = Walk(budget or ParseBudget())
    commands = list(_script_commands(command, Ctx(walk=walk), label=None, dialects=(BASH,)))
    run_time = shellarith.judge(walk.arith)  # values the line does not set, per command
    if run_time:
        commands = [_made_at_run_time(c, run_time[c]) if c in run_time else c for c in commands]
        if None in run_time:  # from `(( ))`, `[[ ]]` or `for (( ))`: no simple command to carry it
            commands.append(_made_at_run_time(SimpleCommand(words=(), raw=""), run_time[None]))
    return tuple(commands)


def _made_at_run_time(command: SimpleCommand, reasons: list[str]) -> SimpleCommand:
    """The command, marked with the run-time values its arithmetic evaluates."""
    return replace(command, unreadable="; ".join(([command.unreadable] if command.unreadable else [])
                                                 + reasons))


def _script_commands(text: str, ctx: Ctx, label: str | None,
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
        key = (text, dialect, replace(ctx, depth=0, dialect=BASH, and_or=()), line_mark(ctx.line))
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


def _parse(text: str, ctx: Ctx, label: str | None, dialect: Dialect, several: bool) -> Script:
    try:
        return parse_tree(text, ctx.depth, dialect, ctx.walk.budget)
    except ShellSyntaxError as err:
        if label is None:
            raise
        plain = isinstance(err, DialectError) or not (several or dialect is not BASH)
        reading = "" if plain else f", read as {dialect.name}"
        raise err.located(f"in the script run by `{label}`{reading}: {err.detail}") from None


def _walk_script(script: Script, ctx: Ctx) -> Iterator[SimpleCommand]:
    for item in script.items:
        ctx.line.and_or_lists += 1
        operators: tuple[str, ...] = ()
        for index, pipeline in enumerate(item.pipelines):
            if index:
                operators += (operator_before(pipeline, ctx.source),)
            inner = replace(ctx, background=ctx.background or item.background,
                            in_pipeline=ctx.in_pipeline or len(pipeline.commands) > 1,
                            and_or=ctx.and_or + ((ctx.line.and_or_lists, operators),))
            stdin = ctx.stdin
            for command in pipeline.commands:
                yield from _walk_command(command, replace(inner, stdin=stdin))
                stdin = piped_output(command, replace(inner, stdin=stdin))


def _walk_command(command: Command, ctx: Ctx) -> Iterator[SimpleCommand]:
    if isinstance(command, Simple):
        yield from _walk_simple(command, ctx)
    elif isinstance(command, FuncDef):
        ctx.line.functions[command.name] = command.body
        # Inside a function body, pipeline/background flags describe the body itself.
        yield from _walk_command(command.body, replace(ctx, function=command.name, redirects=(),
                                                       in_pipeline=False, background=False))
    else:
        yield from _walk_compound(command, ctx)


def _walk_compound(command: Compound, ctx: Ctx) -> Iterator[SimpleCommand]:
    for word in command.words:
        yield from _walk_substitutions(word, ctx)
    for redirect in command.redirects:
        yield from _walk_substitutions(redirect.target, ctx)
    if ctx.dialect.bash:
        shellarith.note_compound(ctx.walk.arith, command)
    # A block's redirections apply to every command inside it.
    inner = replace(ctx, redirects=ctx.redirects + tuple(redirect_of(r) for r in command.redirects),
                    repeats=ctx.repeats or command.kind in ("loop", "for"))
    name = loop_variable(command, ctx.source)
    if name:  # the loop's words as they expand (`"${dirs[@]}"`, `$(echo a b)`)
        scope = scope_of(ctx)
        words = tuple(w for word in command.words for reading in word_readings(word, ctx, scope)
                      for w in reading)
        inner = replace(inner, loop_vars=ctx.loop_vars + ((name, words),))
    for body in command.bodies:
        yield from _walk_script(body, inner)


def _walk_simple(command: Simple, ctx: Ctx) -> Iterator[SimpleCommand]:
    for word in [*command.assigns, *command.words, *(r.target for r in command.redirects)]:
        yield from _walk_substitutions(word, ctx)
    found = simple_command(command, ctx)
    changed = reading_changed_by(found.words, found.assignments) if ctx.dialect.bash else None
    if changed:
        raise DialectError(changed, command.text, 0)
    found = judged(replace(found, readings=readings(command, found, ctx)), ctx)
    if ctx.dialect.bash:
        shellarith.note_simple(ctx.walk.arith, command, found)
    ctx.walk.budget.step(len(found.words))
    yield found
    yield from _wrapped(found, ctx)
    for label, script in shellarith.reexpanded_scripts(found.words):
        yield from _script_commands(script, script_ctx(found, ctx, label), label, (ctx.dialect,))
    for words in found.readings:
        if words != found.words:  # what a wrapper runs in each reading (`x='sudo rm'; $x y`)
            yield from _wrapped(replace(found, words=words, readings=()), ctx)
    yield from _function_call(found, ctx)
    yield from _alias_expansion(command, ctx)
    linestate.remember(found.words, found.assignments, found.redirects, ctx.line, ctx.stdin,
                       ctx.dialects)


def _walk_substitutions(word: Word, ctx: Ctx) -> Iterator[SimpleCommand]:
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
        texts = script_output(word.subs[0], ctx)
        ctx.line.files[word.value] = feeds.Feed("", texts,
                                                "" if texts else f"the output of `{word.raw}`")


def _wrapped(command: SimpleCommand, ctx: Ctx) -> Iterator[SimpleCommand]:
    """The commands a wrapper runs (`env X`, `sudo X`, `bash -c 'X'`, `bash <<EOF X EOF`), or a
    program runs from its options (`git -c alias.x='!X'`, `tar --to-command=X`, `PAGER=X`)."""
    for inner in wrappers.inner_commands(command.words, command.assignments):
        via = command.via + (inner.label,)
        if inner.script is not None:
            run_ctx = script_ctx(command, ctx, inner.label)
            if inner.label.endswith(" -c") and inner.script in command.words[1:]:
                # `sh -c 'SCRIPT' a b`: a is $0, b is $1
                after = command.words[command.words.index(inner.script, 1) + 1:]
                run_ctx = replace(run_ctx, positional=after or (command.name,))
            yield from _inner_script(inner, command, run_ctx)
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
            yield judged(unwrapped, ctx)
            yield from _wrapped(unwrapped, replace(ctx, depth=ctx.depth + 1))
    for label, text in linestate.scripts_read(command.words, command.redirects, ctx.line,
                                              ctx.stdin):
        read_ctx = replace(script_ctx(command, ctx, label), stdin=None)
        yield from _script_commands(text, read_ctx, label, read_dialects(command, label, ctx))


def _inner_script(inner: wrappers.Inner, command: SimpleCommand,
                  ctx: Ctx) -> Iterator[SimpleCommand]:
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


def _function_call(command: SimpleCommand, ctx: Ctx) -> Iterator[SimpleCommand]:
    """A call of a function the line defined whose body uses $1, $2, "$@" ...: the body is judged
    again with the call's arguments (`f(){ rm -rf "$1"; }; f /`)."""
    for words in command.readings or (command.words,):
        name = words[0] if words else ""
        body = ctx.line.functions.get(name)
        if (body is None or name in ctx.expanding or not uses_positional(body)
                or ctx.line.calls_walked >= _MAX_CALLS_WALKED):
            continue
        ctx.line.calls_walked += 1
        yield from _walk_command(body, replace(
            ctx, function=name, redirects=(), in_pipeline=False, background=False,
            via=ctx.via + (name,), positional=words, expanding=ctx.expanding | {name},
            depth=ctx.depth + 1))


def _alias_expansion(command: Simple, ctx: Ctx) -> Iterator[SimpleCommand]:
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
