"""Reads an `strace -f -e trace=execve,clone,...` log into the programs a line's shell started.

Which programs count (the rule the contract is written in):
- Only successful execve/execveat count (`= 0`): bash, env and xargs try each PATH entry, and the
  ENOENT attempts start nothing.
- The first exec is the line's own `bash -c LINE`: the root, not itself checked.
- A script whose `#!` line names `/usr/bin/env INTERPRETER` makes env exec the interpreter with
  the script's path and arguments: that is the script going on, not a new program.
- An exec counts when the process making it runs an image the line started (the root, or a
  counted exec), and that image reads commands from the line: a shell run with `-c`, reading
  stdin, or reading a script from `/dev/fd/N`, `/proc/self/fd/N` or `/dev/stdin` (a pipe the
  line made: `bash <(...)`), or a program mgexec's wrapper tables know to run another command
  (`mgexec.policy.wrappers.inner_commands` finds one for it), except the password helpers such
  a wrapper starts for itself (PAM's `unix_chkpwd`). A child of fork/clone runs its parent's
  image until it execs.
- Also counted, whatever the program: an exec whose argv is spelled out, word for word, at the
  end of the argv of the process that made it (`flock /tmp/l rm -rf x` starts `rm -rf x`), or a
  shell whose `-c` script is one of its arguments (`script -qc 'rm -rf x'` starts
  `sh -c 'rm -rf x'`): the program behaved as a wrapper, known to mgexec or not.
- Not counted: what a shell reading a script *file* starts (`bash build.sh`, `./ci.sh`), nor what
  other programs start on their own (make's recipes, git's helpers, python's subprocesses): no
  parser sees those, by design.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass, field

from mgexec.policy import wrappers

_LINE = re.compile(r"^(\d+)\s+(.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_CALL = re.compile(r"^(\w+)\((.*)$", re.DOTALL)
_RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?', re.DOTALL)
_ARGV_START = re.compile(r",\s*\[")
_SEPARATOR = re.compile(r",\s*")
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "a": "\a", "b": "\b",
                   "e": "\x1b"}
_FORKS = frozenset({"clone", "clone3", "fork", "vfork"})
_EXECS = frozenset({"execve", "execveat"})
# What su, sudo and doas start to check a password (PAM's helpers): theirs, not the line's.
AUTH_HELPERS = frozenset({"unix_chkpwd", "unix_update"})
_PIPE_SCRIPTS = re.compile(r"/dev/fd/\d+|/proc/self/fd/\d+|/dev/stdin")
# Argument shapes that make a wrapper show its inner command (`timeout 5 x`, `find . -exec x ;`).
_WRAPPER_PROBES = (("true",), ("1", "true"), ("-c", "true"), (".", "-exec", "true", ";"))


@dataclass(frozen=True)
class Exec:
    """A successful exec: the program, its argv, who made it (argv of the image before) and
    whether it counts as started by the line."""

    pid: int
    path: str
    argv: tuple[str, ...]
    parent_argv: tuple[str, ...]
    by_line: bool
    by_root: bool = False  # made by the line's own bash (or a subshell of it), not a nested one

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


@dataclass(frozen=True)
class _Image:
    path: str
    argv: tuple[str, ...]
    by_line: bool
    root: bool = False


@dataclass
class _Event:
    pid: int
    call: str
    text: str
    result: str = "?"
    child: int | None = None


@dataclass
class Trace:
    """Every exec of a trace in order; `counted` keeps those the line's shells and wrappers made."""

    execs: list[Exec] = field(default_factory=list)
    root: Exec | None = None

    @property
    def counted(self) -> list[Exec]:
        return [e for e in self.execs if e.by_line]


def parse_trace(text: str) -> Trace:
    events = _events(text)
    images: dict[int, _Image] = {}
    trace = Trace()
    for event in events:
        if event.call in _FORKS and event.child is not None and event.pid in images:
            images.setdefault(event.child, images[event.pid])
        elif event.call in _EXECS and event.result == "0":
            path, argv = _exec_args(event.call, event.text)
            before = images.get(event.pid)
            if before is not None and _interprets(before, argv):
                continue  # `#!/usr/bin/env node`: env starting the script's interpreter
            if before is None and trace.root is None:
                trace.root = Exec(event.pid, path, argv, (), True)
                images[event.pid] = _Image(path, argv, True, root=True)
                continue
            counted = (before is not None and before.by_line and name_of(path) not in AUTH_HELPERS
                       and (reads_line_commands(before.path, before.argv) or _forwards(before.argv, argv)))
            trace.execs.append(Exec(event.pid, path, argv, before.argv if before else (), counted,
                                    by_root=before is not None and before.root))
            images[event.pid] = _Image(path, argv, counted)
    return trace


def name_of(path: str) -> str:
    return posixpath.basename(path)


def _events(text: str) -> list[_Event]:
    """Calls in the order they were entered; a call strace split around another process's
    output (`<unfinished ...>` ... `<... x resumed>`) is joined and kept at its entry."""
    events: list[_Event] = []
    open_calls: dict[int, _Event] = {}
    for raw in text.splitlines():
        match = _LINE.match(raw)
        if not match:
            continue
        pid, rest = int(match[1]), match[2]
        resumed = _RESUMED.match(rest)
        if resumed:
            event = open_calls.pop(pid, None)
            if event is not None:
                event.text += resumed[2]
                _finish(event)
            continue
        call = _CALL.match(rest)
        if not call or call[1] not in _FORKS | _EXECS:
            continue
        event = _Event(pid, call[1], call[2])
        events.append(event)
        if event.text.endswith("<unfinished ...>"):
            event.text = event.text[: -len("<unfinished ...>")]
            open_calls[pid] = event
        else:
            _finish(event)
    return events


def _finish(event: _Event) -> None:
    results = _RESULT.findall(event.text)  # the last one: an argument may contain `) = 1`
    if results:
        result = results[-1]
        event.result = result
        if event.call in _FORKS and result.isdigit():
            event.child = int(result)


def _exec_args(call: str, text: str) -> tuple[str, tuple[str, ...]]:
    """(path, argv) of `execve("PATH", ["A0", ...], ...)` (execveat: after the dirfd)."""
    first = _STRING.search(text, text.index(",") + 1 if call == "execveat" else 0)
    if first is None:
        return "", ()
    opening = _ARGV_START.match(text, first.end())
    argv: list[str] = []
    pos = opening.end() if opening else len(text)
    while (string := _STRING.match(text, pos)) is not None:
        argv.append(_unescape(string[1]))
        separator = _SEPARATOR.match(text, string.end())
        if separator is None:
            break
        pos = separator.end()
    return _unescape(first[1]), tuple(argv)


def _unescape(text: str) -> str:
    """strace's C escapes back to the bytes, decoded as UTF-8 (invalid bytes replaced)."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(text):
        out += text[pos:match.start()].encode()
        code = match[1]
        if code[0] == "x":
            out.append(int(code[1:], 16))
        elif code[0] in "01234567":
            out.append(int(code, 8) & 0xFF)
        else:
            out += _SIMPLE_ESCAPES.get(code, code).encode()
        pos = match.end()
    out += text[pos:].encode()
    return out.decode("utf-8", "replace")


def reads_line_commands(path: str, argv: tuple[str, ...]) -> bool:
    """Does a process running `argv` start commands the line wrote (not a script file's)?"""
    names = {posixpath.basename(path), posixpath.basename(argv[0]) if argv else ""}
    if names & wrappers.SHELLS:
        return _shell_reads_line(argv)
    return any(is_known_wrapper(name) for name in names if name)


def _shell_reads_line(argv: tuple[str, ...]) -> bool:
    words = tuple(argv) or ("sh",)
    if any(w.startswith("-") and not w.startswith("--") and "c" in w[1:] for w in words[1:]):
        return True
    if wrappers.reads_script_from_stdin(words):
        return True
    operands = [w for w in words[1:] if not w.startswith(("-", "+"))]
    return bool(operands) and _PIPE_SCRIPTS.fullmatch(operands[0]) is not None


@functools.lru_cache(maxsize=None)
def is_known_wrapper(name: str) -> bool:
    """True when mgexec's wrapper tables find a command run by `name` in one of the usual shapes."""
    return any(wrappers.inner_commands((name, *probe)) for probe in _WRAPPER_PROBES)


def _interprets(before: _Image, argv: tuple[str, ...]) -> bool:
    """This exec runs the script just exec'd through its interpreter (`node /usr/bin/npx ARGS`
    after `npx ARGS`): the same program going on, not a new one."""
    script = (before.path, *before.argv[1:])
    return len(argv) > len(script) and argv[len(argv) - len(script):] == script


def _forwards(parent: tuple[str, ...], argv: tuple[str, ...]) -> bool:
    """The parent's argv ends with this exec's argv (argv[0] compared by base name), or this is
    a shell running, with -c, a script that is one of the parent's arguments (`script -c S`)."""
    if not argv or len(argv) > len(parent):
        return False
    tail = parent[len(parent) - len(argv):]
    if tail[1:] == argv[1:] and posixpath.basename(tail[0]) == posixpath.basename(argv[0]):
        return len(argv) < len(parent)
    inner = wrappers.inner_commands(argv)
    return posixpath.basename(argv[0]) in wrappers.SHELLS and any(
        i.script is not None and i.script in parent[1:] for i in inner)
