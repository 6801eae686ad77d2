"""Compares what the real shell started (a trace) with what mgexec's parser judged (its simple
commands), and words a readable report for what mgexec did not see.

The matching rule: a counted exec (see trace.py) is accounted for when some SimpleCommand of
`parse_command_line(line)` has
- a command word naming the program: equal to argv[0] or the exec's path by base name
  (`/bin/rm` and `rm` name `/usr/bin/rm`); a word with glob characters (`/???/?m`) names what it
  matches (fnmatch on argv[0] or the path); a word holding a parameter, command or process
  substitution (`$X`, `$(which rm)`, `` `x` ``) is computed at run time and names any program
  (judging such a word is the policy's job, and hostile lines must still be refused); it may
  also expand to several words or to none, so the words after it may start at argv[0]. Brace
  expansion is not done for mgexec: a word `{rm,-rf,~}` names no program but one called that;
- arguments that equal argv[1:] where they are static: a static word must equal one argv entry,
  in order; a dynamic word (holding `$`, a backtick, `*`, `?`, `[`, `{`, `~`, `<(` or `>(`) may
  stand for any number of entries, including none (word splitting, globs, braces, tilde);
- when the command runs through `xargs`, `find -exec` or a `compgen`/`complete`/`mapfile -C`
  callback, any entries after its words (the wrapper appends them). `{}` as a command word is the
  name find or xargs put in at run time, so it names any program.
A shell started by a wrapper that runs a script through the shell itself (`watch CMD`,
`su -c CMD`) is accounted for by the commands mgexec found in that script. A command mgexec marks
`unreadable` (text known only when the line runs, such as `base64 -d <<< X | bash`; an allow list
refuses it) stands for any program a nested shell or wrapper starts, not for what the line's own
bash starts.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field

from differential.trace import Exec, Trace, parse_trace
from mgexec.errors import PolicyViolation
from mgexec.policy import SimpleCommand, parse_command_line
from mgexec.policy.wrappers import SHELLS

_DYNAMIC = re.compile(r"[$`*?\[{~]|[<>]\(")
_COMPUTED = re.compile(r"[$`]|[<>]\(|\{\}")  # `{}`: the name find -exec / xargs -I put in
_GLOB = re.compile(r"[*?\[]")
_ANY_ENTRIES = "(?:[^\0]*\0)*"
# Wrappers that append arguments of their own to the command they run (bash passes a completion
# or mapfile callback its index and line).
_APPENDING = ("xargs", "find ", "compgen -C", "complete -C", "mapfile -C", "readarray -C")


@dataclass
class Verdict:
    """One line under one shell: what mgexec judged, what ran, and what ran unseen."""

    line: str
    commands: tuple[SimpleCommand, ...] = ()
    parse_error: str | None = None
    started: list[Exec] = field(default_factory=list)
    unseen: list[Exec] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unseen


def judge(line: str, trace_text: str) -> Verdict:
    """The verdict for a line whose run under a real shell produced `trace_text`."""
    verdict = Verdict(line)
    try:
        verdict.commands = parse_command_line(line)
    except PolicyViolation as err:  # unparseable, or refused while parsing: nothing runs
        verdict.parse_error = str(err)
        return verdict
    trace: Trace = parse_trace(trace_text)
    verdict.started = trace.counted
    verdict.unseen = [e for e in verdict.started if not accounted_for(e, verdict.commands)]
    return verdict


def accounted_for(started: Exec, commands: tuple[SimpleCommand, ...]) -> bool:
    if any(command_matches(cmd, started) for cmd in commands if cmd.words):
        return True
    if not started.by_root and any(getattr(cmd, "unreadable", "") for cmd in commands):
        return True  # mgexec said it cannot read what a nested shell or wrapper runs here
    return _implied_shell(started, commands)


def command_matches(cmd: SimpleCommand, started: Exec) -> bool:
    if not names_program(cmd.words[0], started):
        return False
    # A computed or globbed command word may expand to several words (`$@`, `$CMD`), or to none
    # (an empty `$(which x)`): then the words after it may start at argv[0].
    dynamic_name = _DYNAMIC.search(cmd.words[0]) is not None
    parts = [_ANY_ENTRIES] if dynamic_name else []
    parts += [_ANY_ENTRIES if _DYNAMIC.search(w) else re.escape(w) + "\0" for w in cmd.words[1:]]
    if cmd.via and cmd.via[-1].startswith(_APPENDING):
        parts.append(_ANY_ENTRIES)
    # Runs of wildcards collapse to one, so a failing match cannot backtrack exponentially.
    pattern = "".join(p for i, p in enumerate(parts)
                      if not (p == _ANY_ENTRIES and parts[i - 1:i] == [p]))
    subject = "".join(arg + "\0" for arg in started.argv[0 if dynamic_name else 1:])
    return re.fullmatch(pattern, subject, re.DOTALL) is not None


def names_program(word: str, started: Exec) -> bool:
    spellings = [s for s in (started.argv[0] if started.argv else "", started.path) if s]
    if _COMPUTED.search(word):
        return True
    if _GLOB.search(word):
        return any(fnmatch.fnmatchcase(s, word) for s in spellings)
    return any(posixpath.basename(word) == posixpath.basename(s) for s in spellings)


def _implied_shell(started: Exec, commands: tuple[SimpleCommand, ...]) -> bool:
    argv0 = posixpath.basename(started.argv[0]) if started.argv else ""
    if started.name not in SHELLS and argv0 not in SHELLS:
        return False
    wrapper = posixpath.basename(started.parent_argv[0]) if started.parent_argv else ""
    if not wrapper or wrapper in SHELLS:
        return False
    return any(label.split()[0] == wrapper for cmd in commands for label in cmd.via)


def report(verdict: Verdict, source: str, image: str) -> str:
    """A few lines a reader can act on: the line, the shell, what ran unseen, what mgexec saw."""
    shown = verdict.line.replace("\n", "\\n")
    out = [f"[{image}] {source}: `{shown}`"]
    for started in verdict.unseen:
        out.append(f"    started, not judged by mgexec: {_argv(started.argv)}  "
                   f"({started.path}, started by `{_argv(started.parent_argv, 40)}`)")
    judged = ", ".join(f"`{_argv(cmd.words)}`" for cmd in verdict.commands if cmd.words)
    out.append(f"    mgexec judged: {judged or 'no command'}")
    return "\n".join(out)


def _argv(words, limit: int = 160) -> str:
    text = " ".join(w if w and not re.search(r"\s", w) else repr(w) for w in words)
    return text if len(text) <= limit else text[:limit] + "..."
