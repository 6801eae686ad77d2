"""Token types of the shell tokenizer, and the error every unparseable line raises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mgexec.errors import PolicyViolation

# Substitutions, `sh -c` strings and compound commands may nest this deep; deeper lines are
# refused rather than risking the interpreter's own recursion limit.
MAX_NESTING = 40


class ShellSyntaxError(PolicyViolation):
    """The command line is not valid shell syntax, so it cannot be checked (and is not run)."""

    def __init__(self, detail: str, source: str, position: int) -> None:
        self.detail = detail
        self.source = source
        self.position = position
        near = source[max(0, position - 25):position + 25].replace("\n", "\\n")
        super().__init__(
            f"mgexec could not parse this command line, so it did not run it: {detail} "
            f"(at character {position + 1}, near `{near}`). Every command is checked against the "
            "safety rules before it runs, which needs valid shell syntax: close every quote, `$(`, "
            "backtick and `(`, and balance if/fi, do/done, case/esac and { }.")

    def located(self, detail: str) -> ShellSyntaxError:
        """The same error with a new detail (the script it happened in), of the same kind."""
        return type(self)(detail, self.source, self.position)


class DialectError(ShellSyntaxError):
    """A construct the shells that may run the script read differently, so it cannot be judged."""

    def __init__(self, detail: str, source: str, position: int) -> None:
        self.detail = detail
        self.source = source
        self.position = position
        near = source[max(0, position - 25):position + 25].replace("\n", "\\n")
        PolicyViolation.__init__(
            self, f"mgexec did not run this command line: {detail} (at character {position + 1}, "
            f"near `{near}`). The guard rails judge a line only when they read it exactly as the "
            "shell that runs it; rewrite the construct as suggested, or run the script with `bash -c`.")


def unclosed(opener: str, closer: str, source: str, position: int) -> ShellSyntaxError:
    """The error for a span (`$((`, `${`, `(`, `[[`) the line opens at `position` and never closes."""
    return ShellSyntaxError(f"a `{opener}` is never closed with `{closer}`", source, position)


@dataclass
class HereDoc:
    """A here-document; its body is read by the lexer at the end of the line that opened it."""

    delimiter: str
    quoted: bool
    strip_tabs: bool
    body: str = ""
    subs: list[Any] = field(default_factory=list)
    exprs: list[str] = field(default_factory=list)   # arithmetic the body evaluates
    params: list[str] = field(default_factory=list)  # its `${ }` and `$name` expansions


@dataclass
class Word:
    """One shell word: its source text, its value after quote removal, and the scripts of the
    command/process substitutions inside it (parsed, so they can be checked too)."""

    raw: str
    value: str
    quoted: bool
    subs: list[Any]
    start: int
    end: int
    heredoc: HereDoc | None = None
    # Unquoted-literal marks of the word's text, kept only when an unquoted `{` may brace-expand:
    # (text, is_unquoted_literal) pieces.
    brace: tuple[tuple[str, bool], ...] | None = None
    # Arithmetic expressions evaluated when the word expands (`$(( ))`, `$[ ]`), and its `${ }`.
    exprs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()


@dataclass
class Op:
    """A control operator (`;`, `&&`, `|`, `(`, newline, ...) or "EOF"."""

    kind: str
    start: int
    end: int


@dataclass
class Redir:
    """A redirection operator with its optional file descriptor number (`2>`, `&>`, `<<`)."""

    op: str
    fd: str
    start: int
    end: int


@dataclass
class Arith:
    """A bash `(( ... ))` arithmetic command; `word` carries its text and substitutions."""

    word: Word
    start: int
    end: int


Token = Word | Op | Redir | Arith
# Parses a nested script: (source, position, depth, until_close_paren) -> (script, end position).
NestedParser = Callable[[str, int, int, bool], tuple[Any, int]]
