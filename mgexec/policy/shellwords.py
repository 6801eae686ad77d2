"""A simple command as far as the line shows it before it runs: its words after brace expansion,
the readings the line's own expansions allow, and the text it writes into a pipe."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

from mgexec.policy import braces, expansions, feeds, linestate
from mgexec.policy.shellcommand import SimpleCommand, redirect_of
from mgexec.policy.shellcontext import Ctx
from mgexec.policy.shellnodes import Command, Compound, Script, Simple
from mgexec.policy.shelltokens import Word


def simple_command(command: Simple, ctx: Ctx) -> SimpleCommand:
    """The command a parsed simple command is, where `ctx` runs it."""
    return SimpleCommand(
        words=expanded(command.words, ctx),
        raw=command.text.strip(),
        redirects=ctx.redirects + tuple(redirect_of(r) for r in command.redirects),
        assignments=tuple(w.value for w in command.assigns),
        via=ctx.via, function=ctx.function,
        in_pipeline=ctx.in_pipeline, background=ctx.background, repeats=ctx.repeats,
        and_or=ctx.and_or)


def expanded(words: list[Word], ctx: Ctx) -> tuple[str, ...]:
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


def _brace_words(word: Word, ctx: Ctx) -> tuple[str, ...]:
    """The words one word's braces make, counted against the budget once per word of the tree
    (a word is expanded again for its readings, a pipe's output and each call of its function)."""
    made = ctx.walk.braced.get(id(word))
    if made is None or made[0] is not word:
        made = (word, tuple(braces.expand(word.brace or (), budget=ctx.walk.budget)))
        ctx.walk.braced[id(word)] = made
    return made[1]


def readings(command: Simple, found: SimpleCommand, ctx: Ctx) -> tuple[tuple[str, ...], ...]:
    """The word lists the command may run as where the line itself decides its words: variables
    it assigned (every value they may hold), positional parameters it shows, the words of a `for`
    loop, substitutions whose output it shows (`$(echo rm)`); () when only `words` is known."""
    scope = scope_of(ctx)
    per_word: list[list[tuple[str, ...]]] = []
    for word in command.words:
        if word.brace is not None and ctx.dialect.bash:  # `{rm,-rf}`: the words braces make
            per_word.append([expanded([word], ctx)])
        else:
            per_word.append(list(dict.fromkeys(word_readings(word, ctx, scope))))
    found_words = [tuple(w for part in combination for w in part) for combination in
                   itertools.islice(itertools.product(*per_word), expansions.MAX_READINGS)]
    found_readings = tuple(dict.fromkeys(found_words))
    return () if found_readings in ((), (found.words,)) else found_readings


def word_readings(word: Word, ctx: Ctx, scope: expansions.Scope) -> list[tuple[str, ...]]:
    """The word lists one word may become, with the line's variables (`scope`) and the output of
    its substitutions put in."""
    return [reading for value in _substituted(word, ctx)
            for reading in expansions.word_readings(value, word.raw, scope, value != word.value)]


def scope_of(ctx: Ctx) -> expansions.Scope:
    """The variables (with the words of enclosing `for` loops) and positional parameters a
    command's expansions can use."""
    variables = dict(ctx.line.variables)
    for name, words in ctx.loop_vars:
        variables[name] = [None if re.search(r"[$`]", w) else w for w in words] or [None]
    return expansions.Scope(variables, ctx.positional if ctx.positional is not None
                            else ctx.line.positional)


def _substituted(word: Word, ctx: Ctx) -> list[str]:
    """The word's text with each `$( )` whose output the line shows put in (trailing newlines
    removed), one text per reading; substitutions it does not show stay as written."""
    spans = expansions.substitution_spans(word.value)
    if not word.subs or len(spans) != len(word.subs):
        return [word.value]
    texts = [word.value]
    for (start, end), script in reversed(list(zip(spans, word.subs))):
        outputs = [t.rstrip("\n") for t in script_output(script, ctx)]
        if outputs:
            texts = [t[:start] + out + t[end:] for t in texts for out in outputs][:8]
    return texts


def script_output(script: Script, ctx: Ctx) -> tuple[str, ...]:
    """What a script writes, when the line shows all of it (`echo rm; printf ... | cat`): one text
    per reading, or () if any part is only known when it runs."""
    outputs: tuple[str, ...] = ("",)
    for pipeline in (p for item in script.items for p in item.pipelines):
        feed: feeds.Feed | None = None
        for command in pipeline.commands:
            feed = piped_output(command, replace(ctx, stdin=feed))
        if feed is None or not feed.texts:
            return ()
        outputs = tuple(dict.fromkeys(a + b for a in outputs for b in feed.texts))[:8]
    return outputs


def piped_output(command: Command, ctx: Ctx) -> feeds.Feed:
    """What `command` writes into the pipe after it, as far as the line shows it."""
    if isinstance(command, Simple) and command.words:
        simple = simple_command(command, ctx)
        descriptor = linestate.descriptor(simple.redirects, ctx.line, ctx.stdin, "0")
        texts = feeds.written_texts(simple.words, descriptor, ctx.dialects)
        texts = _catted_files(simple, ctx) if texts is None else texts
        if texts is not None:
            return feeds.Feed(f"the output of `{simple.name}`", texts)
        return feeds.Feed("", unseen=f"the output of `{simple.raw}`")
    if isinstance(command, Compound) and command.kind in ("group", "subshell"):
        texts = script_output(command.bodies[0], ctx)
        if texts:
            return feeds.Feed("the output of a block", texts)
    return feeds.Feed("", unseen="the output of a compound command")


def _catted_files(command: SimpleCommand, ctx: Ctx) -> tuple[str, ...] | None:
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


def judged(command: SimpleCommand, ctx: Ctx) -> SimpleCommand:
    """The command, marked unreadable when it is a shell whose script comes from outside the line."""
    why = linestate.unreadable_reason(command.words, command.redirects, ctx.line, ctx.stdin)
    return replace(command, unreadable=command.unreadable or why) if why else command
