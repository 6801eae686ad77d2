"""The `$` forms, backticks and arithmetic text of the shell tokenizer, each read as the dialect
being parsed reads it (bash: `$'…'`, `$"…"`, `$[ ]`; dash: a plain `$` before those)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mgexec.policy.dialects import PORTABLE_HINTS, Dialect
from mgexec.policy.shelltokens import DialectError, NestedParser, ShellSyntaxError, unclosed

_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*#?$!-]")
# `${` + optional `#`/`!` + name + optional subscript, then the operator (if any).
_PARAM_OPERATOR = re.compile(
    r"\$\{[#!]?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:\[[^\]]*\])?(?P<op>:?[-=?+]|[#%]{1,2})?")
_ANSI_C_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.DOTALL)
_ANSI_C = "$'…'"
_ANSI_C_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
                  "e": "\x1b", "E": "\x1b", "\\": "\\", "'": "'", '"': '"', "?": "?"}


@dataclass
class Acc:
    """What a word accumulates while being scanned. `marks` says, per part, whether it is an
    unquoted literal (only those can brace-expand); substitutions, arithmetic and `${ }` texts
    are shared with the word's nested pieces."""

    subs: list[Any]
    parts: list[str] = field(default_factory=list)
    marks: list[bool] = field(default_factory=list)
    quoted: bool = False
    exprs: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)

    def add(self, text: str, literal: bool = False) -> None:
        self.parts.append(text)
        self.marks.append(literal)

    def child(self) -> Acc:
        return Acc(self.subs, exprs=self.exprs, params=self.params)


class DollarScanner:
    """Mixin of the Lexer: needs `src`, `pos`, `depth`, `nested`, `dialect` and `error`."""

    src: str
    pos: int
    depth: int
    nested: NestedParser
    dialect: Dialect

    def error(self, detail: str, position: int) -> ShellSyntaxError:
        return ShellSyntaxError(detail, self.src, position)

    def not_portable(self, construct: str, position: int) -> DialectError:
        return DialectError(f"`{construct}` means different things to the shells that may run this "
                            f"`sh` script (dash, bash as sh, busybox ash): {PORTABLE_HINTS[construct]}",
                            self.src, position)

    def dollar(self, acc: Acc, *, in_double_quotes: bool) -> None:
        """Scans one `$...` form into `acc`."""
        src, start, bash = self.src, self.pos, self.dialect.bash
        nxt = src[start + 1:start + 2]
        if nxt == "(":
            return acc.add(self._dollar_paren(acc))
        if nxt == "{":
            return acc.add(self._braced(acc, in_double_quotes))
        if nxt in ("'", '"', "[") and not (in_double_quotes and nxt != "["):
            if self.dialect.portable:
                raise self.not_portable({"'": _ANSI_C, '"': '$"…"', "[": "$[ … ]"}[nxt], start)
            if nxt == "'" and not bash:
                raise DialectError(
                    "dash 0.5.13 and later read `$'…'` as ANSI-C quotes (POSIX.1-2024), earlier "
                    f"versions as `$` and a quoted string, so a script for dash cannot use it: "
                    f"{PORTABLE_HINTS[_ANSI_C]}", src, start)
            if bash and nxt == "'":
                acc.quoted = True
                return acc.add(self._ansi_c())
            if bash and nxt == '"':
                self.pos += 1
                acc.quoted = True
                return acc.add(self.double_quoted(acc))
            if bash:
                return acc.add(self._dollar_bracket(acc))
        match = _PARAM.match(src, start + 1)
        self.pos = match.end() if match else start + 1
        if match:
            acc.params.append(src[start:self.pos])
        acc.add(src[start:self.pos])

    def _dollar_paren(self, acc: Acc) -> str:
        src, start = self.src, self.pos
        if src.startswith("((", start + 1):
            end = self.arith_end(start + 3)
            if end is not None:
                self.expansions_in(src[start + 3:end - 2], acc)
                acc.exprs.append(src[start + 3:end - 2])
                self.pos = end
                return src[start:end]
            if self.dialect.portable:
                raise self.not_portable("$(( … ) )", start)
            if not self.dialect.bash:  # dash has no `$( (` fallback: `$((` must close with `))`
                raise unclosed("$((", "))", src, start)
        return self.paren_substitution(acc, start + 2)

    def paren_substitution(self, acc: Acc, body_start: int) -> str:
        """`$( ... )`, `<( ... )` or `>( ... )`: the nested parser finds the closing paren."""
        start = self.pos
        script, end = self.nested(self.src, body_start, self.depth + 1, True)
        acc.subs.append(script)
        self.pos = end
        return self.src[start:end]

    def _dollar_bracket(self, acc: Acc) -> str:
        """bash's old arithmetic `$[ … ]`: its `<<` is a shift, never a here-document."""
        src, start = self.src, self.pos
        end = self.matched_end(start + 2, "[", "]")
        if end is None:
            raise unclosed("$[", "]", src, start)
        self.expansions_in(src[start + 2:end - 1], acc)
        acc.exprs.append(src[start + 2:end - 1])
        self.pos = end
        return src[start:end]

    def _braced(self, acc: Acc, in_double_quotes: bool) -> str:
        """`${ ... }`: may hold quotes and further substitutions (`${x:-$(cmd)}`)."""
        src, start = self.src, self.pos
        inner = acc.child()
        self.pos += 2
        while True:
            if self.pos >= len(src):
                raise unclosed("${", "}", src, start)
            char = src[self.pos]
            if char == "}":
                self.pos += 1
                acc.params.append(src[start:self.pos])
                return src[start:self.pos]
            if char == "\\":
                self.pos += 2
            elif char == "'" and self._quote_in_braces(start, in_double_quotes):
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("a single quote `'` is never closed", self.pos)
                self.pos = end + 1
            elif char == '"':
                self.double_quoted(inner)
            elif char == "$":
                self.dollar(inner, in_double_quotes=True)
            elif char == "`":
                self.backtick(inner, in_double_quotes=True)
            else:
                self.pos += 1

    def _quote_in_braces(self, start: int, in_double_quotes: bool) -> bool:
        """Whether a `'` inside `${ }` opens a quote: always outside double quotes; inside them,
        in bash always, in POSIX mode and dash only after a pattern operator (`#`, `%`)."""
        if not in_double_quotes or not self.dialect.posix:
            return True
        if self.dialect.portable:
            raise self.not_portable("'…' inside \"${x:-…}\"", self.pos)
        match = _PARAM_OPERATOR.match(self.src, start, self.pos)
        op = match["op"] if match else None
        if not op:
            raise DialectError(f"a `'` inside a double-quoted `${{ }}` that is neither `${{x:-…}}` "
                               f"nor `${{x#…}}`: {self.dialect.name} may read it either way",
                               self.src, self.pos)
        return op[-1] in "#%"

    def double_quoted(self, acc: Acc) -> str:
        src, start = self.src, self.pos
        self.pos += 1
        out = acc.child()
        while True:
            if self.pos >= len(src):
                raise self.error('a double quote `"` is never closed', start)
            char = src[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out.parts)
            if char == "\\" and src[self.pos + 1:self.pos + 2] in ('$', '`', '"', '\\', '\n'):
                out.add(src[self.pos + 1] if src[self.pos + 1] != "\n" else "")
                self.pos += 2
            elif char == "$":
                self.dollar(out, in_double_quotes=True)
            elif char == "`":
                out.add(self.backtick(out, in_double_quotes=True))
            else:
                out.add(char)
                self.pos += 1

    def backtick(self, acc: Acc, *, in_double_quotes: bool) -> str:
        src, start = self.src, self.pos
        escapable = '$`\\"' if in_double_quotes else "$`\\"
        inner: list[str] = []
        i = start + 1
        while i < len(src) and src[i] != "`":
            if src[i] == "\\" and src[i + 1:i + 2] and src[i + 1] in escapable:
                inner.append(src[i + 1])
                i += 2
            else:
                inner.append(src[i])
                i += 1
        if i >= len(src):
            raise self.error("a backtick ` is never closed", start)
        self.pos = i + 1
        script, _ = self.nested("".join(inner), 0, self.depth + 1, False)
        acc.subs.append(script)
        return src[start:self.pos]

    def _ansi_c(self) -> str:
        """`$'...'`, decoding its escapes, so `$'\\x72m'` is seen as `rm`."""
        src, start = self.src, self.pos
        out: list[str] = []
        i = start + 2
        while i < len(src) and src[i] != "'":
            escape = _ANSI_C_ESCAPE.match(src, i)
            if escape:
                out.append(_decode_ansi_c(escape.group(1)))
                i = escape.end()
            else:
                out.append(src[i])
                i += 1
        if i >= len(src):
            raise self.error("a `$'` quote is never closed", start)
        self.pos = i + 1
        return "".join(out).split("\0", 1)[0]  # bash ends the string at a NUL: $'t\0x'ouch is touch

    # -- arithmetic text ------------------------------------------------------------------

    def arith_end(self, pos: int) -> int | None:
        """Index just past the `))` that closes arithmetic text starting at `pos`, or None."""
        end = self.matched_end(pos, "(", ")")
        return end + 1 if end is not None and self.src.startswith(")", end) else None

    def matched_end(self, pos: int, open_: str, close: str) -> int | None:
        """Index just past the `close` that balances text starting at `pos`, skipping quotes."""
        src, depth, i = self.src, 0, pos
        while i < len(src):
            char = src[i]
            if char == open_:
                depth += 1
            elif char == close:
                if depth == 0:
                    return i + 1
                depth -= 1
            elif char == "\\":
                i += 1
            elif char in "'\"`":
                end = self._quote_end(i)
                if end is None:
                    return None
                i = end
            i += 1
        return None

    def _quote_end(self, start: int) -> int | None:
        """Index of the quote closing the one at `start` (backslash escapes count, except in '')."""
        src, quote, i = self.src, self.src[start], start + 1
        while i < len(src):
            if src[i] == "\\" and quote != "'":
                i += 2
                continue
            if src[i] == quote:
                return i
            i += 1
        return None

    def expansions_in(self, text: str, acc: Acc) -> None:
        """Collects the substitutions of text expanded like a here-document body."""
        sub = type(self)(text, 0, self.depth + 1, self.nested, self.dialect, self.budget)  # type: ignore[call-arg,attr-defined]
        scratch = acc.child()
        while sub.pos < len(text):
            char = text[sub.pos]
            if char == "\\":
                sub.pos += 2
            elif char == "$":
                sub.dollar(scratch, in_double_quotes=True)
            elif char == "`":
                sub.backtick(scratch, in_double_quotes=True)
            else:
                sub.pos += 1


def _decode_ansi_c(escape: str) -> str:
    head = escape[0]
    if head in "xuU" and len(escape) > 1:
        return chr(min(int(escape[1:], 16), 0x10FFFF))
    if head.isdigit():
        return chr(int(escape, 8) & 0xFF)
    if head == "c" and len(escape) == 2:
        return chr(ord(escape[1]) & 0x1F)
    return _ANSI_C_SIMPLE.get(head, "\\" + escape)


def decode_escapes(text: str) -> str:
    """Decodes backslash escapes as `$'...'`, `printf` and `echo -e` do (`\\x72m` -> `rm`)."""
    return _ANSI_C_ESCAPE.sub(lambda match: _decode_ansi_c(match.group(1)), text)
