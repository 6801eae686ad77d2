"""Command policy: the dangerous-command baseline plus the user's allow and deny lists, checked on
the parsed command line (every simple command it would run), never on substrings.

Exact semantics
---------------
The line is parsed into simple commands (see shellparse); a line that is not valid shell is
refused. Every command is reached: through `;` `&&` `||` `|` `&` and newlines, inside `( )`,
`{ }`, if/for/while/until/case and function bodies, `$( )`, backticks, `<( )` and unquoted
here-document bodies, and inside wrappers that run another command (`env`, `sudo`, `nice`,
`nohup`, `timeout`, `xargs`, `exec`, `command`, `time`, `stdbuf`, `setsid`, `chroot`,
`find -exec`, `watch`, `sh -c '...'`, `su -c '...'`, `env -S '...'`, `eval '...'`,
`trap '...'`, `alias x='...'`, and a script piped or fed by here-document into a shell). A
wrapper counts both as itself (`env python x`) and as the command it runs (`python x`). Each
simple command's *text* is its words after quote removal joined by single spaces: leading
`NAME=value` assignments and redirections are not part of it, expansions stay as written
(`echo $HOME`). Commands with no words (`> file`, `A=1`) are not matched against the lists.
The checks run in this order, and the first refusal wins:

1. Baseline (always on): a command the baseline finds dangerous is refused with
   `Potentially dangerous command detected: <reason>`.
2. Deny list: the line is refused if any simple command's text, or that text with the command
   word reduced to its base name (`/bin/rm -r x` -> `rm -r x`; a computed name such as
   `$(which rm)` is tried as each program it mentions), matches a deny pattern with
   `re.match`: anchored at the start of the command, not at its end. So `rm` blocks `rm -rf x`
   (and, like MassGen, `rmdir x`; write `rm\\b` or `rm( |$)` for the word alone). A command
   with no arguments is also tried with a trailing space, so the usual `rm .*` blocks a bare
   `rm` too (which is what `ls | xargs rm` runs).
3. Allow list (when not empty): every simple command's text must match at least one allow
   pattern with `re.fullmatch`: the whole command, so `python .*` allows `python x` but not
   `python x && rm -rf y` (whose `rm -rf y` matches nothing) nor `env python x` (the wrapper is a
   command too: allow `env .*` as well, and its inner `python x` must still match).

Both lists err towards refusing: a too-broad deny pattern or a too-narrow allow pattern refuses a
command visibly, with the command and the pattern named, instead of letting one through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from mgexec.errors import ConfigError, PolicyViolation
from mgexec.policy.baseline import dangerous_reason, line_facts
from mgexec.policy.budget import ParseBudget
from mgexec.policy.shellparse import SimpleCommand, parse_command_line

_SHOW_MAX = 200


@dataclass(frozen=True)
class CommandPolicy:
    """What may run: the user's regex allow/deny lists, and whether sudo-class commands are allowed."""

    allow_patterns: tuple[str, ...] = ()
    deny_patterns: tuple[str, ...] = ()
    enable_sudo: bool = False


def compile_patterns(patterns: Iterable[str], *, kind: str = "allow") -> tuple[re.Pattern[str], ...]:
    """Compiles allow or deny patterns, raising ConfigError that names a bad one and why."""
    patterns = tuple(patterns)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ConfigError(f"The {kind} pattern {pattern!r} is not a string. Each entry of the "
                              f"{kind} list must be a regular expression written as a string.")
    return _compile(patterns, kind)


@lru_cache(maxsize=64)
def _compile(patterns: tuple[str, ...], kind: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise ConfigError(
                f"The {kind} pattern {pattern!r} is not a valid regular expression: {err}. Fix it "
                f"in the {kind} list of the config (patterns use Python `re` syntax; escape "
                "literal characters such as `.`, `+`, `(` or `[` with a backslash).") from None
    return tuple(compiled)


def check_command(command: str, policy: CommandPolicy, *, budget: ParseBudget | None = None) -> None:
    """Raises PolicyViolation if `command` may not run under `policy`; returns None if it may.
    `budget` bounds the parse (default: the limits of budget.py); over it, PolicyBudgetExceeded."""
    commands = parse_command_line(command, budget=budget)
    facts = line_facts(commands)
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
        _check_deny(cmd, deny, command)
    for cmd in worded:
        _check_allow(cmd, allow, command)
    for cmd in commands:
        _check_unseen(cmd, allow, command)


def _deny_texts(cmd: SimpleCommand) -> set[str]:
    names = {cmd.name}
    if re.search(r"[$`]", cmd.words[0]):  # a computed name: try each program it mentions
        names |= set(re.findall(r"[A-Za-z0-9_.+-]+", cmd.words[0]))
    texts = {cmd.text} | {" ".join((name,) + cmd.words[1:]) for name in names}
    if len(cmd.words) == 1:  # so the usual `rm .*` also catches a bare `rm` (as in `xargs rm`)
        texts |= {text + " " for text in texts}
    return texts


def _check_deny(cmd: SimpleCommand, deny: tuple[re.Pattern[str], ...], line: str) -> None:
    texts = _deny_texts(cmd)
    for pattern in deny:
        if any(pattern.match(text) for text in texts):
            raise PolicyViolation(
                f"Command blocked by the deny list: {_show(cmd, line)} matches the deny pattern "
                f"`{pattern.pattern}` (deny patterns match the start of each command on the line). "
                "mgexec did not run the command line.")


def _check_allow(cmd: SimpleCommand, allow: tuple[re.Pattern[str], ...], line: str) -> None:
    if not allow or any(pattern.fullmatch(cmd.text) for pattern in allow):
        return
    listed = ", ".join(f"`{p.pattern}`" for p in allow)
    raise PolicyViolation(
        f"Command not in the allow list: {_show(cmd, line)} matches none of the allowed patterns "
        f"({listed}). Every command on the line, including those after `&&`, `;` or `|`, inside "
        "`$( )` and run by wrappers such as `env` or `bash -c`, must match one allow pattern in "
        "full. mgexec did not run the command line.")


def _check_unseen(cmd: SimpleCommand, allow: tuple[re.Pattern[str], ...], line: str) -> None:
    """Under an allow list, text made at run time that decides what runs cannot be allowed."""
    if not allow or not cmd.unseen:
        return
    where = _show(cmd, line) if cmd.words else f"the line `{_clip(line.strip())}`"
    raise PolicyViolation(
        f"Command not in the allow list: {where} depends on text made only when the line runs "
        f"({'; '.join(cmd.unseen)}), so no allow pattern can vouch for it. Use fixed values, or "
        "split the line so that each step is checked. mgexec did not run the command line.")


def _show(cmd: SimpleCommand, line: str) -> str:
    text = _clip(cmd.text or cmd.raw)
    shown = f"the command `{text}`"
    if cmd.via:
        shown += " (run by " + " -> ".join(f"`{v}`" for v in cmd.via) + ")"
    if _clip(line.strip()) != text:
        shown += f" of the line `{_clip(line.strip())}`"
    return shown


def _clip(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOW_MAX else text[:_SHOW_MAX] + "..."
