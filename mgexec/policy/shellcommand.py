"""What the walker reports: each simple command a line would run, with the redirections on it."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from functools import cached_property

from mgexec.policy.shellnodes import RedirNode


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
    part of what it does is text known only when the line runs (a script a shell reads from a
    pipe, a file or a descriptor; a command a program builds; a value the line does not set,
    evaluated as arithmetic): no check can judge that text, so an allow list refuses the command;
    `readings` are the word lists it may run as where the line decides its expansions (variables
    it sets, `for` words, positional parameters, `$(echo ...)`), empty when only `words` is known;
    `and_or` numbers the `a && b || c` lists it sits in (outermost first) with the operators
    before its pipeline in each.
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

    @cached_property  # read by every rule for every command
    def name(self) -> str:
        """The command word without its directory (`/usr/bin/sudo` -> `sudo`); "" if none."""
        return posixpath.basename(self.words[0]) if self.words else ""

    @property
    def text(self) -> str:
        """The words joined by single spaces: what allow and deny patterns are matched against."""
        return " ".join(self.words)


def redirect_of(node: RedirNode) -> Redirect:
    """The redirection a parsed one makes, with the text a here-document or here-string feeds."""
    if node.target.heredoc is not None:
        body: str | None = node.target.heredoc.body
    elif node.op == "<<<":
        body = node.target.value + "\n"
    else:
        body = None
    return Redirect(node.op, node.target.value, node.fd, body)
