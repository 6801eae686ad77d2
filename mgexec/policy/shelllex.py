"""Tokenizer for POSIX sh command lines: words (quote removal, nested substitutions), operators,
redirections and here-documents. The grammar on top of it lives in shelltree.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mgexec.policy.shelltokens import Arith, HereDoc, NestedParser, Op, Redir, ShellSyntaxError, Token, Word

_META = frozenset(" \t\n;&|()<>")
_BLANKS = " \t"
_OPERATORS = (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|", "(", ")")
_REDIRECT = re.compile(r"(\d+)?(<<<|<<-|<<|>>|<&|>&|<>|>\||<|>)|(&>>|&>)")
_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*#?$!-]")
_ARRAY_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_ANSI_C_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.DOTALL)
_ANSI_C_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
                  "e": "\x1b", "E": "\x1b", "\\": "\\", "'": "'", '"': '"', "?": "?"}


@dataclass
class _Acc:
    """What a word accumulates while being scanned."""

    subs: list[Any]
    parts: list[str] = field(default_factory=list)
    quoted: bool = False


class Lexer:
    """Turns a command line into tokens on demand; the parser pulls them one by one."""

    def __init__(self, src: str, pos: int, depth: int, nested: NestedParser) -> None:
        self.src = src
        self.pos = pos
        self.depth = depth
        self.nested = nested
        self._pending: list[HereDoc] = []
        self._want_delimiter: bool | None = None

    def error(self, detail: str, position: int) -> ShellSyntaxError:
        return ShellSyntaxError(detail, self.src, position)

    def cancel_heredoc(self) -> None:
        """The `<<` just lexed was not a redirection (inside `[[ ]]`): expect no body."""
        self._want_delimiter = None

    def next_token(self) -> Token:
        src = self.src
        while True:
            self._skip_blanks()
            if self.pos >= len(src):
                return Op("EOF", self.pos, self.pos)
            if src[self.pos] != "#":
                break
            newline = src.find("\n", self.pos)
            self.pos = len(src) if newline < 0 else newline
        start, char = self.pos, src[self.pos]
        if char == "\n":
            self.pos += 1
            self._read_heredocs()
            return Op("\n", start, start + 1)
        if src.startswith("((", start):
            arith = self._arith_command()
            if arith is not None:
                return arith
        if char in "<>" and src.startswith("(", start + 1):
            return self._word()
        match = _REDIRECT.match(src, start)
        if match:
            self.pos = match.end()
            op = match.group(2) or match.group(3)
            if op in ("<<", "<<-"):
                self._want_delimiter = op == "<<-"
            return Redir(op, match.group(1) or "", start, self.pos)
        for op in _OPERATORS:
            if src.startswith(op, start):
                self.pos += len(op)
                return Op(op, start, self.pos)
        return self._word()

    def _skip_blanks(self) -> None:
        src = self.src
        while self.pos < len(src):
            if src[self.pos] in _BLANKS:
                self.pos += 1
            elif src.startswith("\\\n", self.pos):
                self.pos += 2
            else:
                return

    # -- words ---------------------------------------------------------------------------

    def _word(self) -> Word:
        start = self.pos
        acc = self._scan_word()
        word = Word(self.src[start:self.pos], "".join(acc.parts), acc.quoted, acc.subs, start, self.pos)
        if self._want_delimiter is not None:
            word.heredoc = HereDoc(word.value, word.quoted, self._want_delimiter)
            self._pending.append(word.heredoc)
            self._want_delimiter = None
        return word

    def _scan_word(self) -> _Acc:
        src, start, acc = self.src, self.pos, _Acc(subs=[])
        while self.pos < len(src):
            char = src[self.pos]
            if char in _META:
                if self.pos == start and char in "<>" and src.startswith("(", start + 1):
                    acc.parts.append(self._paren_substitution(acc, self.pos + 2))
                elif char == "(" and _ARRAY_ASSIGN.fullmatch(src, start, self.pos):
                    acc.parts.append(self._array_body(acc))
                else:
                    break
            elif char == "\\":
                self._backslash(acc)
            elif char == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("a single quote `'` is never closed", self.pos)
                acc.parts.append(src[self.pos + 1:end])
                acc.quoted, self.pos = True, end + 1
            elif char == '"':
                acc.quoted = True
                acc.parts.append(self._double_quoted(acc))
            elif char == "$":
                acc.parts.append(self._dollar(acc, in_double_quotes=False))
            elif char == "`":
                acc.parts.append(self._backtick(acc, in_double_quotes=False))
            else:
                acc.parts.append(char)
                self.pos += 1
        return acc

    def _backslash(self, acc: _Acc) -> None:
        nxt = self.src[self.pos + 1:self.pos + 2]
        if nxt == "\n":  # line continuation: joins lines, quotes nothing
            self.pos += 2
        elif nxt:
            acc.parts.append(nxt)
            acc.quoted = True
            self.pos += 2
        else:
            acc.parts.append("\\")
            self.pos += 1

    def _double_quoted(self, acc: _Acc) -> str:
        src, start = self.src, self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(src):
                raise self.error('a double quote `"` is never closed', start)
            char = src[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\" and src[self.pos + 1:self.pos + 2] in ('$', '`', '"', '\\', '\n'):
                out.append(src[self.pos + 1] if src[self.pos + 1] != "\n" else "")
                self.pos += 2
            elif char == "$":
                out.append(self._dollar(acc, in_double_quotes=True))
            elif char == "`":
                out.append(self._backtick(acc, in_double_quotes=True))
            else:
                out.append(char)
                self.pos += 1

    def _dollar(self, acc: _Acc, *, in_double_quotes: bool) -> str:
        """Scans one `$...` form; returns the text the word keeps for it."""
        src, start = self.src, self.pos
        nxt = src[start + 1:start + 2]
        if nxt == "(":
            if src.startswith("((", start + 1):
                end = self._arith_end(start + 3)
                if end is not None:
                    self._expansions_in(src[start + 3:end - 2], acc)
                    self.pos = end
                    return src[start:end]
            return self._paren_substitution(acc, start + 2)
        if nxt == "{":
            return self._braced(acc)
        if nxt == "'" and not in_double_quotes:
            acc.quoted = True
            return self._ansi_c()
        if nxt == '"' and not in_double_quotes:
            self.pos += 1
            acc.quoted = True
            return self._double_quoted(acc)
        match = _PARAM.match(src, start + 1)
        self.pos = match.end() if match else start + 1
        return src[start:self.pos]

    def _paren_substitution(self, acc: _Acc, body_start: int) -> str:
        """`$( ... )`, `<( ... )` or `>( ... )`: the nested parser finds the closing paren."""
        start = self.pos
        script, end = self.nested(self.src, body_start, self.depth + 1, True)
        acc.subs.append(script)
        self.pos = end
        return self.src[start:end]

    def _braced(self, acc: _Acc) -> str:
        """`${ ... }`: may hold quotes and further substitutions (`${x:-$(cmd)}`)."""
        src, start = self.src, self.pos
        inner = _Acc(subs=acc.subs)
        self.pos += 2
        while True:
            if self.pos >= len(src):
                raise self.error("a `${` is never closed with `}`", start)
            char = src[self.pos]
            if char == "}":
                self.pos += 1
                return src[start:self.pos]
            if char == "\\":
                self.pos += 2
            elif char == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("a single quote `'` is never closed", self.pos)
                self.pos = end + 1
            elif char == '"':
                self._double_quoted(inner)
            elif char == "$":
                self._dollar(inner, in_double_quotes=True)
            elif char == "`":
                self._backtick(inner, in_double_quotes=True)
            else:
                self.pos += 1

    def _backtick(self, acc: _Acc, *, in_double_quotes: bool) -> str:
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
        return "".join(out)

    def _array_body(self, acc: _Acc) -> str:
        """The `( ... )` of a bash array assignment `name=(a b $(c))`."""
        src, start = self.src, self.pos
        self.pos += 1
        while True:
            self._skip_blanks()
            if self.pos >= len(src):
                raise self.error("an array `(` is never closed with `)`", start)
            char = src[self.pos]
            if char == ")":
                self.pos += 1
                return src[start:self.pos]
            if char == "\n":
                self.pos += 1
            elif char in _META:
                raise self.error(f"unexpected `{char}` inside an array assignment", self.pos)
            else:
                acc.subs.extend(self._scan_word().subs)

    # -- arithmetic ----------------------------------------------------------------------

    def _arith_command(self) -> Arith | None:
        """`(( ... ))` as a command; None when the parens turn out to be nested subshells."""
        start = self.pos
        end = self._arith_end(start + 2)
        if end is None:
            return None
        acc = _Acc(subs=[])
        self._expansions_in(self.src[start + 2:end - 2], acc)
        self.pos = end
        text = self.src[start:end]
        return Arith(Word(text, text, False, acc.subs, start, end), start, end)

    def _arith_end(self, pos: int) -> int | None:
        """Index just past the `))` that closes arithmetic text starting at `pos`, or None."""
        src, depth, i = self.src, 0, pos
        while i < len(src):
            char = src[i]
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    return i + 2 if src.startswith("))", i) else None
                depth -= 1
            elif char == "\\":
                i += 1
            elif char in "'\"`":
                close = src.find(char, i + 1)
                if close < 0:
                    return None
                i = close
            i += 1
        return None

    # -- here-documents and expansion-only text -------------------------------------------

    def _read_heredocs(self) -> None:
        src = self.src
        for doc in self._pending:
            lines: list[str] = []
            while self.pos < len(src):
                newline = src.find("\n", self.pos)
                line_end = len(src) if newline < 0 else newline
                line = src[self.pos:line_end]
                self.pos = line_end + 1 if newline >= 0 else len(src)
                if doc.strip_tabs:
                    line = line.lstrip("\t")
                if line == doc.delimiter:
                    break
                lines.append(line)
            doc.body = "".join(line + "\n" for line in lines)
            if not doc.quoted:  # an unquoted delimiter means the body is expanded: $(...) runs
                acc = _Acc(subs=doc.subs)
                self._expansions_in(doc.body, acc)
        self._pending = []

    def _expansions_in(self, text: str, acc: _Acc) -> None:
        """Collects the substitutions of text expanded like a here-document body."""
        sub = Lexer(text, 0, self.depth + 1, self.nested)
        scratch = _Acc(subs=acc.subs)
        while sub.pos < len(text):
            char = text[sub.pos]
            if char == "\\":
                sub.pos += 2
            elif char == "$":
                sub._dollar(scratch, in_double_quotes=True)
            elif char == "`":
                sub._backtick(scratch, in_double_quotes=True)
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
