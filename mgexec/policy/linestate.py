"""What earlier commands of a line set up for later ones (aliases, `exec 3<<EOF` descriptors,
variables, files it writes, functions), and what that lets a command read: its stdin, a
descriptor, or the script file a shell or `source` runs."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from mgexec.policy import expansions, feeds, wrappers
from mgexec.policy.stdin_scripts import stdin_script

_STDIN_BODY_OPS = frozenset({"<<", "<<-", "<<<"})


@dataclass
class LineState:
    """Shared by every command of one line as the parser walks it in source order."""

    aliases: dict[str, str] = field(default_factory=dict)
    fds: dict[str, feeds.Feed] = field(default_factory=dict)
    variables: expansions.Variables = field(default_factory=dict)
    files: dict[str, feeds.Feed] = field(default_factory=dict)  # what the line wrote into them
    functions: dict[str, Any] = field(default_factory=dict)  # name -> the body (a Compound)
    calls_walked: int = 0  # function bodies walked again with a call's arguments
    positional: tuple[str, ...] | None = None  # after `set -- a b`: $0 unknown, $1 a, $2 b
    and_or_lists: int = 0  # numbers the line's `a && b || c` lists


def descriptor(redirects, line: LineState, stdin: feeds.Feed | None,
               fd: str = "0") -> feeds.Feed | None:
    """What descriptor `fd` carries for a command with `redirects`, fed `stdin` by a pipe."""
    base = dict(line.fds)
    if stdin is not None:
        base["0"] = stdin
    return feeds.apply_redirects(base, redirects, line.files).get(fd)


def script_file(words: tuple[str, ...], redirects, line: LineState,
                stdin: feeds.Feed | None) -> tuple[feeds.Feed | None, str]:
    """The script a shell, `source` or `.` reads from a file operand, or a program the line wrote
    runs (`bash run.sh`, `./run.sh`, `sh /dev/fd/3`, `. <(echo ...)`): as far as the line shows it."""
    name = posixpath.basename(words[0]) if words else ""
    path = None
    if name in (".", "source") and len(words) > 1:
        path = words[1]
    elif name in wrappers.SHELLS and not any(w.startswith("-") and "c" in w for w in words[1:]):
        path = next((w for w in words[1:] if not w.startswith(("-", "+"))), None)
    elif "/" in (words[0] if words else ""):
        path = words[0]
    if path is None:
        return None, ""
    fd = feeds.fd_of_path(path)
    if fd is not None:
        return (descriptor(redirects, line, stdin, fd) or feeds.Feed("", unseen=f"descriptor {fd}"),
                f"descriptor {fd}")
    return line.files.get(path, line.files.get(feeds.file_key(path))), path


def scripts_read(words: tuple[str, ...], redirects, line: LineState,
                 stdin: feeds.Feed | None) -> list[tuple[str, str]]:
    """(label, script) for each script a shell reads from stdin, a descriptor or a file, as far as
    the line shows it; every here-document given to a shell reading stdin counts, whatever its fd."""
    name = posixpath.basename(words[0]) if words else ""
    found: list[tuple[str, str]] = []
    # A shell or `at` runs its stdin as is; `crontab -`, `ed`, `ex` run the commands it names.
    if stdin_script(words, "") is not None:
        for redirect in redirects:
            if redirect.op in _STDIN_BODY_OPS and redirect.body is not None:
                found.append((f"{name} {redirect.op}", stdin_script(words, redirect.body) or ""))
        feed = descriptor(redirects, line, stdin)
        if feed is not None and not any(text in feed.texts for _, text in found):
            how = "reading a pipe" if feed is stdin else f"reading {feed.how or 'stdin'}"
            found.extend((f"{name} {how}", stdin_script(words, text) or "") for text in feed.texts)
        return [(label, script) for label, script in found if script]
    feed, how = script_file(words, redirects, line, stdin)
    label = f"{how} (written by the line)" if words[:1] == (how,) else f"{name} reading {how}"
    return [(label, text) for text in (feed.texts if feed else ())]


def unreadable_reason(words: tuple[str, ...], redirects, line: LineState,
                  stdin: feeds.Feed | None) -> str:
    """Why the script a shell runs cannot be read before it runs, or "" if it can (or is none)."""
    if wrappers.reads_script_from_stdin(words):
        feed = descriptor(redirects, line, stdin)
    else:
        feed = script_file(words, redirects, line, stdin)[0]
    if feed is None or feed.texts or feed.script_file:
        return ""
    name = posixpath.basename(words[0])
    source = feed.unseen or "outside the line"
    if feed is stdin:
        return (f"`{name}` runs the script it reads from a pipe, which is known only when the "
                f"line runs (it is {source})")
    return f"`{name}` runs the script it reads from {source}, which is known only when the line runs"


def fed_words(words: tuple[str, ...], inner: wrappers.Inner, redirects, line: LineState,
              stdin: feeds.Feed | None) -> list[tuple[str, ...]]:
    """The inner command's words; for `xargs`, once per input the line shows it (a here-document,
    a here-string, `echo ... |`, `-a FILE` the line wrote), with that input's words appended."""
    if inner.label != "xargs":
        return [inner.words]
    options = words[1:len(words) - len(inner.words)]
    arg_file = feeds.xargs_arg_file(options)
    feed = line.files.get(feeds.file_key(arg_file)) if arg_file else descriptor(
        redirects, line, stdin)
    fed = [w for text in (feed.texts if feed else ()) for w in
           feeds.xargs_words(options, inner.words, text)]
    return fed or [inner.words]


def remember(words: tuple[str, ...], assignments: tuple[str, ...], redirects, line: LineState,
             stdin: feeds.Feed | None, dialects: tuple[str, ...]) -> None:
    """Keeps what this command sets up for later ones: alias definitions, `exec` descriptors,
    variables (also those `read` takes from input the line shows), files it writes."""
    feed = descriptor(redirects, line, stdin)
    expansions.remember_assignments(line.variables, words, assignments,
                                    feed.texts if feed else ())
    feeds.remember_writes(line.files, words, redirects, feed, dialects)
    name = posixpath.basename(words[0]) if words else ""
    if words == ("exec",):
        line.fds = feeds.apply_redirects(line.fds, redirects)
    elif name == "alias":
        for word in words[1:]:
            alias, sep, value = word.partition("=")
            if sep and alias:
                line.aliases[alias] = value
    elif name == "set" and len(words) > 1 and (words[1] == "--" or words[1][0] not in "-+"):
        line.positional = ("$0",) + words[2 if words[1] == "--" else 1:]
    elif name == "unalias":
        for word in words[1:]:
            line.aliases.pop(word, None)
