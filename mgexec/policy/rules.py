"""Command policy: the dangerous-command baseline plus the user's allow and deny lists, checked on
the parsed command line (every simple command it would run), never on substrings.

Exact semantics
---------------
The line is parsed into simple commands (see shellwalker); a line that is not valid shell is
refused. Every command is reached: through `;` `&&` `||` `|` `&` and newlines, inside `( )`,
`{ }`, if/for/while/until/case and function bodies, `$( )`, backticks, `<( )` and unquoted
here-document bodies, inside wrappers that run another command (wrapper_specs, wrappers,
runners: `env`, `sudo`, `timeout`, `flock`, `xargs`, `find -exec`, `sh -c '...'`, ...), and in
what programs run from their options, config or environment (programs, gitconfig,
programs_text: git `-c alias.x='!...'`, `tar --to-command`, `ssh -o ProxyCommand`, awk
`system()`, `GIT_SSH_COMMAND=...`). A wrapper counts both as itself and as the command it runs.
Each simple command's *text* is its words after quote removal joined by single spaces: leading
`NAME=value` assignments and redirections are not part of it, expansions stay as written
(`echo $HOME`). Each command is matched as written (or as bash expands its command word:
`{git,push}`, `git${IFS}push`, `$(echo git) push`; see expansions) and in its canonical forms,
the program's global options removed and its subcommand named as the program resolves it
(globalopts, subcommands: `git -C d push` -> `git push`, `npm i` -> `npm install`). Commands with no words
(`> file`, `A=1`) are not matched against the lists. The checks run in this order, and the first
refusal wins:

1. Baseline (always on; program names compared case-insensitively): a command the baseline finds
   dangerous is refused with `Potentially dangerous command detected: <reason>`.
2. Deny list: the line is refused if any simple command's text, in either form, or that text
   with the command word reduced to its lower-cased base name (`/bin/RM -r x` -> `rm -r x`; a
   computed name such as `$(which rm)` is tried as each program it mentions), matches a deny
   pattern with `re.match`: anchored at the start of the command, not at its end. So `rm` blocks
   `rm -rf x` (and, like MassGen, `rmdir x`; write `rm\\b` or `rm( |$)` for the word alone). A
   command with no arguments is also tried with a trailing space, so the usual `rm .*` blocks a
   bare `rm` too (which is what `ls | xargs rm` runs).
3. Allow list (when not empty): every simple command's text, in either form, must match at least
   one allow pattern with `re.fullmatch`: the whole command, so `python .*` allows `python x` but
   not `python x && rm -rf y` (whose `rm -rf y` matches nothing) nor `env python x` (the wrapper
   is a command too: allow `env .*` as well, and its inner `python x` must still match). A
   command the line does not show (a computed command name, a command a program builds at run
   time, commands in files a program is pointed at, a value the line does not set that bash
   evaluates as arithmetic) is refused: no pattern can vouch for it.

Both lists err towards refusing: a too-broad deny pattern or a too-narrow allow pattern refuses a
command visibly, with the command and the pattern named, instead of letting one through.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from mgexec.config.validators import vet_pattern  # noqa: F401  (the rule lives with the config; callers import it here too)
from mgexec.errors import ConfigError, PolicyViolation
from mgexec.policy.baseline import LineFacts, dangerous_reason, glob_forms, line_facts
from mgexec.policy.budget import ParseBudget
from mgexec.policy.stdin_scripts import stdin_script
from mgexec.policy.expansions import glob_names, is_computed, is_glob, run_forms
from mgexec.policy.globalopts import canonical_forms
from mgexec.policy.globnames import is_glob_name
from mgexec.policy.shellcommand import SimpleCommand
from mgexec.policy.shellwalker import parse_command_line

if TYPE_CHECKING:  # the `regex` package loads with the first pattern: a policy without any never needs it
    from mgexec import saferegex

_SHOW_MAX = 200


@dataclass(frozen=True)
class CommandPolicy:
    """What may run: the user's regex allow/deny lists, and whether sudo-class commands are allowed."""

    allow_patterns: tuple[str, ...] = ()
    deny_patterns: tuple[str, ...] = ()
    enable_sudo: bool = False


def compile_patterns(patterns: Iterable[str], *, kind: str = "allow") -> tuple[saferegex.Pattern, ...]:
    """Compiles allow or deny patterns, raising ConfigError that names a bad one and why."""
    patterns = tuple(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ConfigError(f"The {kind} pattern {pattern!r} is not a string. Each entry of the "
                              f"{kind} list must be a regular expression written as a string.")
    return _compile(patterns, kind)


@lru_cache(maxsize=64)
def _compile(patterns: tuple[str, ...], kind: str) -> tuple[saferegex.Pattern, ...]:
    if not patterns:
        return ()
    import regex

    from mgexec import saferegex

    compiled = []
    for pattern in patterns:
        try:
            compiled.append(saferegex.compile_pattern(pattern))
        except regex.error as err:
            raise ConfigError(
                f"The {kind} pattern {pattern!r} is not a valid regular expression: {err}. Fix it "
                f"in the {kind} list of the config (patterns use Python `re` syntax; escape "
                "literal characters such as `.`, `+`, `(` or `[` with a backslash).") from None
    return tuple(compiled)


def check_command(command: str, policy: CommandPolicy, *, work_dir: str | None = None,
                  home: str | None = None, path: str | None = None,
                  budget: ParseBudget | None = None) -> None:
    """Raises PolicyViolation if `command` may not run under `policy`; returns None if it may.

    `work_dir`, `home` and `path` are the directory the line starts in, its HOME and its PATH
    (defaults: this process's), against which relative paths and wildcard command names resolve.
    `budget` bounds the parse (default: the limits of budget.py); over it, PolicyBudgetExceeded.
    """
    commands = parse_command_line(command, budget=budget)
    facts = line_facts(commands, work_dir=work_dir, home=home, path=path)
    for cmd in commands:
        reason = dangerous_reason(cmd, enable_sudo=policy.enable_sudo, facts=facts)
        if reason:
            raise PolicyViolation(
                f"Potentially dangerous command detected: {reason}, in {_show(cmd, command)}. "
                "mgexec did not run the command line.")
    deny = compile_patterns(policy.deny_patterns, kind="deny")
    allow = compile_patterns(policy.allow_patterns, kind="allow")
    worded = [cmd for cmd in commands if cmd.words]
    for cmd in worded:
        for run in _as_run(cmd, facts):
            _check_deny(run, deny, command)
    if allow:
        read_pipes = {v for cmd in commands for v in cmd.via if v.endswith(" reading a pipe")}
        for cmd in commands:
            _check_allow(_with_piped_script(cmd, read_pipes), allow, command, facts)


def _as_run(cmd: SimpleCommand, facts: LineFacts) -> list[SimpleCommand]:
    """The command as the line's own expansions make it run (`d=x; rm $d`: each reading, else the
    words as written), and, for a wildcard name, as each program it may name."""
    run = [replace(cmd, words=words, readings=()) for words in cmd.readings or (cmd.words,)
           if words]
    return run + [replace(r, words=words) for r in run if is_glob_name(r.words[0])
                  for words in glob_forms(r, facts)[0]]


def _with_piped_script(cmd: SimpleCommand, read_pipes: set[str]) -> SimpleCommand:
    """A shell fed through a pipe by something other than echo/printf/cat of literal text
    (`curl … | sh`, `base64 -d … | bash`) runs a script known only when the line runs."""
    if not (cmd.in_pipeline and stdin_script(cmd.words, "") is not None):
        return cmd
    if any(r.op in ("<", "<<", "<<-", "<<<", "<>") and r.fd in ("", "0") for r in cmd.redirects):
        return cmd
    if f"{posixpath.basename(cmd.words[0])} reading a pipe" in read_pipes:
        return cmd
    return replace(cmd, unreadable=cmd.unreadable or (
        f"`{cmd.name}` runs the script it reads from a pipe, which is known only when the line "
        "runs"))


def _forms(cmd: SimpleCommand, *, settings: bool = True) -> list[tuple[str, ...]]:
    """The command as written (or as bash expands it: `{git,push}`), then in its canonical
    forms (global options removed)."""
    written = run_forms(cmd.words) or [cmd.words]
    forms = [cmd.words] if settings and written[0] != cmd.words else []
    for words in written:
        forms += [words] + canonical_forms(words, settings=settings)
    return forms


def _deny_texts(words: tuple[str, ...], patterns: tuple[saferegex.Pattern, ...]) -> set[str]:
    # The command word is also tried as its base name, lower-cased (`/bin/RM` runs rm on a
    # case-insensitive file system), a computed name as each program it mentions, and a glob
    # (`/bin/r?`) as each program a deny pattern names that it matches.
    names = {words[0], posixpath.basename(words[0]), posixpath.basename(words[0]).lower()}
    if is_glob(words[0]):
        named = {m.group().lower() for p in patterns
                 for m in [re.match(r"[A-Za-z0-9_.+-]+", p.pattern)] if m}
        names |= set(glob_names(words[0], named))
    if is_computed(words[0]):
        mentioned = set(re.findall(r"[A-Za-z0-9_.+-]+", words[0]))
        names |= mentioned | {t.lower() for t in mentioned}
    texts = {" ".join((name,) + words[1:]) for name in names}
    if len(words) == 1:  # so the usual `rm .*` also catches a bare `rm` (as in `xargs rm`)
        texts |= {name + " " for name in names}
    return texts


def _check_deny(cmd: SimpleCommand, deny: tuple[saferegex.Pattern, ...], line: str) -> None:
    if not deny:
        return
    forms = [(words, _deny_texts(words, deny)) for words in _forms(cmd)]
    for pattern in deny:
        for k, (words, texts) in enumerate(forms):
            if not any(_matches(pattern, "match", text, cmd, line) for text in texts):
                continue
            how = "" if k == 0 else f" once its global options are removed (`{_clip(' '.join(words))}`)"
            raise PolicyViolation(
                f"Command blocked by the deny list: {_show(cmd, line)} matches the deny pattern "
                f"`{pattern.pattern}`{how} (deny patterns match the start of each command on the "
                "line). mgexec did not run the command line.")


def _check_allow(cmd: SimpleCommand, allow: tuple[saferegex.Pattern, ...], line: str,
                 facts: LineFacts) -> None:
    unjudged = _unjudged(cmd, facts)
    if unjudged:
        raise PolicyViolation(
            f"Command not in the allow list: {_show(replace(cmd, unreadable=''), line)} cannot be "
            f"judged: {_clip(unjudged)}; what it runs is made only when the line runs. "
            "Under an allow list mgexec refuses what it cannot read; write the command out "
            "literally. mgexec did not run the command line.")
    for run in _as_run(cmd, facts) if cmd.words else ():
        texts = [" ".join(words) for words in _forms(run, settings=False)]
        if not any(_matches(pattern, "fullmatch", text, run, line) for pattern in allow for text in texts):
            _refuse_unlisted(run, allow, line)


def _refuse_unlisted(cmd: SimpleCommand, allow: tuple[saferegex.Pattern, ...], line: str) -> None:
    listed = ", ".join(f"`{p.pattern}`" for p in allow)
    raise PolicyViolation(
        f"Command not in the allow list: {_show(cmd, line)} matches none of the allowed patterns "
        f"({listed}). Every command on the line, including those after `&&`, `;` or `|`, inside "
        "`$( )` and run by wrappers such as `env` or `bash -c`, must match one allow pattern in "
        "full (as written, or with its global options removed). mgexec did not run the command "
        "line.")


def _unjudged(cmd: SimpleCommand, facts: LineFacts) -> str:
    """Why what `cmd` runs is known only when the line runs ("" if the line shows it): part of it
    is built at run time, its name is computed (in every reading the line decides), or it is a
    wildcard whose directories cannot all be listed."""
    if cmd.unreadable:
        return cmd.unreadable
    names = [words[0] for words in cmd.readings or (cmd.words,) if words]
    if any(is_computed(name) for name in names):
        return (f"its command name `{cmd.words[0]}` is computed when the line runs, so no "
                "pattern can vouch for the program it starts")
    if cmd.words and is_glob_name(cmd.words[0]) and not glob_forms(cmd, facts)[1]:
        return f"the programs `{cmd.words[0]}` may name cannot all be listed"
    # A wildcard name runs whatever matches when the line runs, and the line itself may add
    # matches: an allow list vouches only for names written out.
    expanded = run_forms(cmd.words)  # what bash's own expansions make of it (`{r,}m`)
    for words in [cmd.words, *expanded]:
        if words and words is not cmd.words and is_computed(words[0]):
            return (f"its command name `{words[0]}` is computed when the line runs, so no "
                    "pattern can vouch for the program it starts")
        if words and is_glob(words[0]):
            return (f"its command name `{words[0]}` is a pattern bash matches against file names "
                    "when the line runs, so no pattern can vouch for the program it starts")
    return ""


def _matches(pattern: saferegex.Pattern, kind: saferegex.MatchKind, text: str, cmd: SimpleCommand,
             line: str) -> bool:
    # A pattern that runs out of time decides nothing: the line is refused, naming the pattern.
    from mgexec import saferegex

    try:
        return saferegex.run(pattern, kind, text, saferegex.MATCH_SECONDS) is not None
    except saferegex.RegexTimeout:
        role = "deny" if kind == "match" else "allow"
        raise PolicyViolation(
            f"The {role} pattern `{pattern.pattern}` did not finish matching {_show(cmd, line)} within "
            f"{saferegex.MATCH_SECONDS:g} seconds (catastrophic backtracking), so mgexec could not judge "
            "the line and did not run it. Rewrite the pattern without nested or overlapping repetition.") from None


def _show(cmd: SimpleCommand, line: str) -> str:
    text, whole = _clip(cmd.text or cmd.raw), _clip(line.strip())
    # What `(( ))` or `[[ ]]` evaluates has no command of its own: the line stands for it.
    shown = f"the command `{text}`" if text else f"the line `{whole}`"
    if cmd.via:
        shown += " (run by " + " -> ".join(f"`{v}`" for v in cmd.via) + ")"
    if cmd.unreadable:  # say that the policy judged only the part the line shows
        shown += f" ({cmd.unreadable})"
    if text and whole != text:
        shown += f" of the line `{whole}`"
    return shown


def _clip(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOW_MAX else text[:_SHOW_MAX] + "..."
