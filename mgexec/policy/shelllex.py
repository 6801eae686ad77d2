"""Tokenizer for shell command lines in one dialect (bash, bash in POSIX mode, dash, or a `sh`
script of unknown shell): words (quote removal, nested substitutions), operators, redirections and
here-documents. The `$` forms live in shelldollar.py, the grammar in shellparser.py.
"""

from __future__ import annotations

import re

from mgexec.policy.braces import may_expand
from mgexec.policy.budget import ParseBudget
from mgexec.policy.dialects import BASH, Dialect
from mgexec.policy.shelldollar import Acc, DollarScanner, decode_escapes
from mgexec.policy.shelltokens import Arith, HereDoc, NestedParser, Op, Redir, Token, Word

__all__ = ["Lexer", "decode_escapes"]

_META = frozenset(" \t\n;&|()<>")
_BLANKS = " \t"
_PLAIN = re.compile(r"[^ \t\n;&|()<>\\'\"$`]+")
_PLAIN_END = frozenset(" \t\n;&|)<>")  # after these a plain word is complete (not `(`: `x=(`)
_BASH_OPERATORS = re.compile(r";;&|;;|;&|&&|\|\||\|&|[;&|()]")
_DASH_OPERATORS = re.compile(r";;|&&|\|\||[;&|()]")
_BASH_REDIRECT = re.compile(r"(\d+)?(<<<|<<-|<<|>>|<&|>&|<>|>\||<|>)|(&>>|&>)")
_DASH_REDIRECT = re.compile(r"(\d+)?(<<-|<<|>>|<&|>&|<>|>\||<|>)")
_ARRAY_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
# Bash constructs a `sh` script may not use, by the text that starts them.
_NOT_PORTABLE_OPS = {"<<<": "<<<", "&>": "&>", "&>>": "&>", "|&": "|&", ";&": ";& / ;;&",
                     ";;&": ";& / ;;&"}
_NOT_PORTABLE_OP = re.compile(r"\d*(<<<|&>>|&>|\|&|;;&|;&)")


class Lexer(DollarScanner):
    """Turns a command line into tokens on demand; the parser pulls them one by one."""

    def __init__(self, src: str, pos: int, depth: int, nested: NestedParser,
                 dialect: Dialect = BASH, budget: ParseBudget | None = None) -> None:
        self.src = src
        self.pos = pos
        self.depth = depth
        self.nested = nested
        self.dialect = dialect
        self.budget = budget or ParseBudget()
        self._operators = _BASH_OPERATORS if dialect.bash else _DASH_OPERATORS
        self._redirect = _BASH_REDIRECT if dialect.bash else _DASH_REDIRECT
        self._pending: list[HereDoc] = []
        self._want_delimiter: bool | None = None
        self._regex_depth: int | None = None  # paren depth inside a `[[ x =~ RE ]]` regex

    def regex_word(self) -> Token:
        """The word after `=~` in `[[ ]]`: bash keeps `|`, and blanks and `( )` inside parens, in it."""
        self._regex_depth = 0
        try:
            return self.next_token()
        finally:
            self._regex_depth = None

    def cancel_heredoc(self) -> None:
        """The `<<` just lexed was not a redirection (inside `[[ ]]`): expect no body."""
        self._want_delimiter = None

    def next_token(self) -> Token:
        self.budget.step()
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
        if (char not in _META and not char.isdigit()) or (self._regex_depth is not None and char in "|("):
            return self._word()
        if self.dialect.portable:
            self._portable_operator(start)
        if char == "(" and self.dialect.bash and src.startswith("((", start):
            arith = self._arith_command()
            if arith is not None:
                return arith
        if char in "<>" and src.startswith("(", start + 1) and self.dialect.bash:
            return self._word()
        return self._operator(start)

    def _portable_operator(self, start: int) -> None:
        """Refuses, in a `sh` script, an operator the candidate shells split differently."""
        src = self.src
        match = _NOT_PORTABLE_OP.match(src, start)
        if match:
            raise self.not_portable(_NOT_PORTABLE_OPS[match[1]], start)
        if src.startswith(("<(", ">("), start):
            raise self.not_portable("<( … )", start)
        if src.startswith("((", start) and self.arith_end(start + 2) is not None:
            raise self.not_portable("(( … ))", start)

    def _operator(self, start: int) -> Token:
        src = self.src
        match = self._redirect.match(src, start)
        if match:
            op = match.group(2) or match.group(3)
            self.pos = match.end()
            if op in ("<<", "<<-"):
                self._want_delimiter = op == "<<-"
            return Redir(op, match.group(1) or "", start, self.pos)
        operator = self._operators.match(src, start)
        if operator:
            self.pos = operator.end()
            return Op(operator.group(), start, self.pos)
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
        start, src = self.pos, self.src
        plain = _PLAIN.match(src, start)
        if plain and self._regex_depth is None and (plain.end() == len(src) or src[plain.end()] in _PLAIN_END):
            # The common case, a word of plain characters only: no quotes, no expansions.
            text, self.pos = plain.group(), plain.end()
            word = Word(text, text, False, [], start, self.pos)
            if self.dialect.bash and may_expand(text):
                word.brace = ((text, True),)
        else:
            word = self._scanned_word(start)
        if self._want_delimiter is not None:
            word.heredoc = HereDoc(word.value, word.quoted, self._want_delimiter)
            self._pending.append(word.heredoc)
            self._want_delimiter = None
        return word

    def _scanned_word(self, start: int) -> Word:
        acc = self._scan_word()
        word = Word(self.src[start:self.pos], "".join(acc.parts), acc.quoted, acc.subs, start, self.pos,
                    exprs=tuple(acc.exprs), params=tuple(acc.params))
        if self.dialect.bash and may_expand(word.raw) and any(
                literal and "{" in part for part, literal in zip(acc.parts, acc.marks)):
            word.brace = tuple(zip(acc.parts, acc.marks))
        return word

    def _scan_word(self) -> Acc:
        src, start, acc = self.src, self.pos, Acc(subs=[])
        while self.pos < len(src):
            plain = _PLAIN.match(src, self.pos)
            if plain:
                acc.add(plain.group(), True)
                self.pos = plain.end()
                continue
            char = src[self.pos]
            if char in _META:
                if not self._word_paren(acc, start, char):
                    break
            elif char == "\\":
                self._backslash(acc)
            elif char == "'":
                end = src.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("a single quote `'` is never closed", self.pos)
                acc.add(src[self.pos + 1:end])
                acc.quoted, self.pos = True, end + 1
            elif char == '"':
                acc.quoted = True
                acc.add(self.double_quoted(acc))
            elif char == "$":
                self.dollar(acc, in_double_quotes=False)
            else:  # a backtick
                acc.add(self.backtick(acc, in_double_quotes=False))
        return acc

    def _word_paren(self, acc: Acc, start: int, char: str) -> bool:
        """A `<(`/`>(` starting the word, or bash's array assignment `name=(`; else the word ends."""
        src = self.src
        if self._regex_depth is not None:
            return self._regex_char(acc, char)
        if char == "(" and self.dialect.portable and _ARRAY_ASSIGN.fullmatch(src, start, self.pos):
            raise self.not_portable("name=( … )", start)
        if not self.dialect.bash:
            return False
        if self.pos == start and char in "<>" and src.startswith("(", start + 1):
            acc.add(self.paren_substitution(acc, self.pos + 2))
            return True
        if char == "(" and _ARRAY_ASSIGN.fullmatch(src, start, self.pos):
            acc.add(self._array_body(acc))
            return True
        return False

    def _regex_char(self, acc: Acc, char: str) -> bool:
        depth = self._regex_depth or 0
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not (char == "|" or (depth and char in " \t\n")):
            return False
        self._regex_depth = depth
        acc.add(char)
        self.pos += 1
        return True

    def _backslash(self, acc: Acc) -> None:
        nxt = self.src[self.pos + 1:self.pos + 2]
        if nxt == "\n":  # line continuation: joins lines, quotes nothing
            self.pos += 2
        elif nxt:
            acc.add(nxt)
            acc.quoted = True
            self.pos += 2
        else:
            acc.add("\\")
            self.pos += 1

    def _array_body(self, acc: Acc) -> str:
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
                element = self._scan_word()
                acc.subs.extend(element.subs)
                acc.exprs.extend(element.exprs)
                acc.params.extend(element.params)

    def _arith_command(self) -> Arith | None:
        """`(( ... ))` as a command; None when the parens turn out to be nested subshells."""
        start = self.pos
        end = self.arith_end(start + 2)
        if end is None:
            return None
        acc = Acc(subs=[])
        self.expansions_in(self.src[start + 2:end - 2], acc)
        self.pos = end
        text = self.src[start:end]
        return Arith(Word(text, text, False, acc.subs, start, end,
                          exprs=(self.src[start + 2:end - 2], *acc.exprs), params=tuple(acc.params)),
                     start, end)

    # -- here-documents ------------------------------------------------------------------

    def _read_heredocs(self) -> None:
        src = self.src
        for doc in self._pending:
            lines: list[str] = []
            while self.pos < len(src):
                self.budget.step()
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
                acc = Acc(subs=doc.subs, exprs=doc.exprs, params=doc.params)
                self.expansions_in(doc.body, acc)
        self._pending = []
