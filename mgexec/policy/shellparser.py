"""Recursive-descent parser for one shell dialect (bash, bash in POSIX mode, dash, or a `sh` script)
into a small syntax tree (shellnodes.py)."""

from __future__ import annotations

import re

from mgexec.policy.budget import ParseBudget
from mgexec.policy.dialects import BASH, Dialect
from mgexec.policy.shelllex import Lexer
from mgexec.policy.shellnodes import AndOr, Command, Compound, FuncDef, Pipeline, RedirNode, Script, Simple
from mgexec.policy.shelltokens import (MAX_NESTING, Arith, Op, Redir, ShellSyntaxError, Token, Word,
                                      unclosed)

__all__ = ["AndOr", "Command", "Compound", "FuncDef", "Parser", "Pipeline", "RedirNode", "Script",
           "Simple", "parse_tree"]

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
# Reserved words that close a block; they cannot start a command.
_CLOSING_WORDS = frozenset({"then", "elif", "else", "fi", "do", "done", "esac", "}", "in"})
# Reserved words of bash only: to dash they are ordinary command names.
_BASH_KEYWORDS = frozenset({"[[", "]]", "function", "select", "time"})
# Reserved words that open a compound command, and the method that parses it.
_COMPOUND_STARTS = {"if": "_if", "while": "_loop", "until": "_loop", "for": "_for", "select": "_for",
                    "case": "_case", "{": "_group", "[[": "_cond", "function": "_function_keyword"}
# bash keywords a `sh` script may not start a command with (dash runs them as command names).
_PORTABLE_REFUSED = {"[[": "[[ … ]]", "function": "function NAME", "select": "select", "coproc": "coproc"}
# Inside `[[ ]]` only these operators may appear (and `<`, `>` as string comparisons).
_COND_OPS = frozenset({"&&", "||", "(", ")", "\n"})
_CASE_ENDS = frozenset({";;", ";&", ";;&"})


def parse_tree(src: str, depth: int = 0, dialect: Dialect = BASH,
               budget: ParseBudget | None = None) -> Script:
    """Parses a whole command line; raises ShellSyntaxError if it is not valid in `dialect`."""
    script, _ = _parse_nested(src, 0, depth, False, dialect, budget or ParseBudget())
    return script


def _parse_nested(src: str, pos: int, depth: int, until_paren: bool, dialect: Dialect,
                  budget: ParseBudget) -> tuple[Script, int]:
    parser = Parser(src, pos, depth, dialect, budget)
    try:
        script = parser.parse_list(frozenset({")"}) if until_paren else frozenset())
    except RecursionError:
        raise ShellSyntaxError("the command nests blocks or substitutions too deeply", src, pos) from None
    tok = parser.take()
    if until_paren:
        if not (isinstance(tok, Op) and tok.kind == ")"):
            raise ShellSyntaxError("a `$(` or `<(` is never closed with `)`", src, max(pos - 2, 0))
        return script, tok.end
    if not (isinstance(tok, Op) and tok.kind == "EOF"):
        raise parser.unexpected(tok)
    return script, tok.end


class Parser:
    """One parser per (nested) script; pulls tokens from its own lexer."""

    def __init__(self, src: str, pos: int = 0, depth: int = 0, dialect: Dialect = BASH,
                 budget: ParseBudget | None = None) -> None:
        if depth > MAX_NESTING:
            raise ShellSyntaxError(
                f"the command nests substitutions or shells more than {MAX_NESTING} levels deep", src, pos)
        self.src = src
        self.depth = depth
        self.dialect = dialect
        self.budget = budget or ParseBudget()
        self.lexer = Lexer(src, pos, depth, self._nested, dialect, self.budget)
        self._peeked: Token | None = None
        self._last_end = pos
        self._level = 0

    def _nested(self, src: str, pos: int, depth: int, until_paren: bool) -> tuple[Script, int]:
        return _parse_nested(src, pos, depth, until_paren, self.dialect, self.budget)

    # -- token helpers -------------------------------------------------------------------

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self.lexer.next_token()
        return self._peeked

    def take(self) -> Token:
        tok = self.peek()
        self._peeked = None
        self._last_end = tok.end
        return tok

    def unexpected(self, tok: Token) -> ShellSyntaxError:
        if isinstance(tok, Op) and tok.kind == "EOF":
            return ShellSyntaxError("the command line ends in the middle of a command "
                                    "(after an operator such as `&&` or `|`, or inside a block)",
                                    self.src, tok.start)
        text = "newline" if isinstance(tok, Op) and tok.kind == "\n" else self.src[tok.start:tok.end]
        if text == "(" and self.src[tok.start - 1:tok.start] in ("@", "*", "+", "?", "!"):
            return ShellSyntaxError(
                f"unexpected `(`: `{self.src[tok.start - 1]}(…)` is an extglob pattern, which "
                "mgexec does not read (whether bash does depends on `shopt -s extglob` having run); "
                "use `case`, `find` or a plain glob instead", self.src, tok.start)
        return ShellSyntaxError(f"unexpected `{text}`", self.src, tok.start)

    def _is_word(self, tok: Token, *values: str) -> bool:
        return isinstance(tok, Word) and not tok.quoted and tok.value in values

    def _is_keyword(self, tok: Token, *values: str) -> bool:
        """A reserved word of this dialect (`[[`, `function`, `select`, `time` are bash's only)."""
        return self._is_word(tok, *values) and (self.dialect.bash or tok.value not in _BASH_KEYWORDS)

    def _is_op(self, tok: Token, *kinds: str) -> bool:
        return isinstance(tok, Op) and tok.kind in kinds

    def _skip_newlines(self) -> None:
        while self._is_op(self.peek(), "\n"):
            self.take()

    def _expect_word(self, value: str, opener: Token) -> None:
        tok = self.take()
        if not self._is_word(tok, value):
            opened = self.src[opener.start:opener.end]
            raise ShellSyntaxError(f"missing `{value}` to close the `{opened}` opened here",
                                   self.src, opener.start)

    # -- lists, and-or lists, pipelines ---------------------------------------------------

    def parse_list(self, closers: frozenset[str]) -> Script:
        items: list[AndOr] = []
        while True:
            self._skip_newlines()
            if self._at_closer(self.peek(), closers):
                return Script(items)
            item = self._and_or()
            items.append(item)
            tok = self.peek()
            if self._is_op(tok, ";", "&", "\n"):
                self.take()
                item.background = self._is_op(tok, "&")
            elif not self._at_closer(tok, closers):
                raise self.unexpected(tok)

    def _at_closer(self, tok: Token, closers: frozenset[str]) -> bool:
        if isinstance(tok, Op):
            return tok.kind == "EOF" or tok.kind in closers
        return isinstance(tok, Word) and not tok.quoted and tok.value in closers

    def _and_or(self) -> AndOr:
        pipelines = [self._pipeline()]
        while self._is_op(self.peek(), "&&", "||"):
            self.take()
            self._skip_newlines()
            pipelines.append(self._pipeline())
        return AndOr(pipelines)

    def _pipeline(self) -> Pipeline:
        # `!` and bash's `time [-p]` prefix a whole pipeline; they are not commands themselves.
        while self._is_keyword(self.peek(), "!", "time"):
            if self._is_word(self.take(), "time") and self._is_word(self.peek(), "-p"):
                self.take()
            if isinstance(self.peek(), Op) and not self._is_op(self.peek(), "("):
                return Pipeline([])
        commands = [self._command()]
        while self._is_op(self.peek(), "|", "|&"):
            self.take()
            self._skip_newlines()
            commands.append(self._command())
        return Pipeline(commands)

    # -- commands ------------------------------------------------------------------------

    def _command(self) -> Command:
        tok = self.peek()
        if self.depth + self._level > MAX_NESTING:
            raise ShellSyntaxError(f"the command nests blocks more than {MAX_NESTING} levels deep",
                                   self.src, tok.start)
        self._level += 1
        try:
            return self._command_at(tok)
        finally:
            self._level -= 1

    def _command_at(self, tok: Token) -> Command:
        if self._is_op(tok, "("):
            return self._with_redirects(self._subshell())
        if isinstance(tok, Arith):
            self.take()
            return self._with_redirects(Compound("arith", [], [tok.word]))
        if isinstance(tok, Word) and not tok.quoted:
            if tok.value in _CLOSING_WORDS or self._is_keyword(tok, "]]"):
                raise self.unexpected(tok)
            if self.dialect.portable and tok.value in _PORTABLE_REFUSED:
                raise self.lexer.not_portable(_PORTABLE_REFUSED[tok.value], tok.start)
            if tok.value not in _COMPOUND_STARTS or not self._is_keyword(tok, tok.value):
                return self._simple()
            if tok.value == "function":
                return self._function_keyword()
            return self._with_redirects(getattr(self, _COMPOUND_STARTS[tok.value])())
        if isinstance(tok, (Word, Redir)):
            return self._simple()
        raise self.unexpected(tok)

    def _simple(self) -> Command:
        start = self.peek().start
        assigns: list[Word] = []
        words: list[Word] = []
        redirects: list[RedirNode] = []
        while True:
            tok = self.peek()
            if isinstance(tok, Redir):
                redirects.append(self._redirect())
            elif isinstance(tok, Word):
                self.take()
                if not words and _ASSIGNMENT.match(tok.raw):
                    assigns.append(tok)
                else:
                    words.append(tok)
                if len(words) == 1 and not assigns and not redirects and self._is_op(self.peek(), "("):
                    return self._function_parens(tok)
            else:
                return Simple(assigns, words, redirects, self.src[start:self._last_end])

    def _redirect(self) -> RedirNode:
        op = self.take()
        assert isinstance(op, Redir)
        target = self.take()
        if not isinstance(target, Word):
            raise ShellSyntaxError(f"the redirection `{op.fd}{op.op}` has no file name after it",
                                   self.src, op.start)
        return RedirNode(op.op, op.fd, target)

    def _with_redirects(self, node: Compound) -> Compound:
        while isinstance(self.peek(), Redir):
            node.redirects.append(self._redirect())
        return node

    # -- function definitions -------------------------------------------------------------

    def _function_parens(self, name: Word) -> FuncDef:
        self.take()  # (
        if not self._is_op(self.take(), ")"):
            raise ShellSyntaxError(f"expected `()` after the function name `{name.value}`",
                                   self.src, name.start)
        return self._function_body(name)

    def _function_keyword(self) -> FuncDef:
        keyword = self.take()
        name = self.take()
        if not isinstance(name, Word):
            raise ShellSyntaxError("`function` must be followed by a name", self.src, keyword.start)
        if self._is_op(self.peek(), "("):
            return self._function_parens(name)
        return self._function_body(name)

    def _function_body(self, name: Word) -> FuncDef:
        self._skip_newlines()
        body = self._command()
        if not isinstance(body, Compound):
            raise ShellSyntaxError(f"the body of function `{name.value}` must be a block such as "
                                   "`{ ...; }`", self.src, name.start)
        return FuncDef(name.value, body)

    # -- compound commands ----------------------------------------------------------------

    def _subshell(self) -> Compound:
        opener = self.take()
        body = self.parse_list(frozenset({")"}))
        if not self._is_op(self.take(), ")"):
            raise unclosed("(", ")", self.src, opener.start)
        if not body.items:
            raise ShellSyntaxError("empty `( )`", self.src, opener.start)
        return Compound("subshell", [body], [])

    def _group(self) -> Compound:
        opener = self.take()
        body = self.parse_list(frozenset({"}"}))
        self._expect_word("}", opener)
        if not body.items:
            raise ShellSyntaxError("empty `{ }`", self.src, opener.start)
        return Compound("group", [body], [])

    def _if(self) -> Compound:
        opener = self.take()
        bodies = [self.parse_list(frozenset({"then"}))]
        self._expect_word("then", opener)
        bodies.append(self.parse_list(frozenset({"elif", "else", "fi"})))
        while self._is_word(self.peek(), "elif", "else"):
            if self.take().value == "elif":  # type: ignore[union-attr]
                bodies.append(self.parse_list(frozenset({"then"})))
                self._expect_word("then", opener)
                bodies.append(self.parse_list(frozenset({"elif", "else", "fi"})))
            else:
                bodies.append(self.parse_list(frozenset({"fi"})))
                break
        self._expect_word("fi", opener)
        return Compound("if", bodies, [])

    def _loop(self) -> Compound:
        opener = self.take()
        condition = self.parse_list(frozenset({"do"}))
        self._expect_word("do", opener)
        body = self.parse_list(frozenset({"done"}))
        self._expect_word("done", opener)
        return Compound("loop", [condition, body], [])

    def _for(self) -> Compound:
        opener = self.take()
        words: list[Word] = []
        head = self.take()
        if isinstance(head, Arith):
            words.append(head.word)
        elif not isinstance(head, Word):
            raise ShellSyntaxError("`for` must be followed by a variable name", self.src, opener.start)
        self._skip_newlines()
        if isinstance(head, Word) and self._is_word(self.peek(), "in"):
            self.take()
            while isinstance(self.peek(), Word):
                words.append(self.take())  # type: ignore[arg-type]
        if self._is_op(self.peek(), ";"):
            self.take()
        self._skip_newlines()
        self._expect_word("do", opener)
        body = self.parse_list(frozenset({"done"}))
        self._expect_word("done", opener)
        return Compound("for", [body], words, name=head.value if isinstance(head, Word) else "")

    def _case(self) -> Compound:
        opener = self.take()
        subject = self.take()
        if not isinstance(subject, Word):
            raise ShellSyntaxError("`case` must be followed by a word", self.src, opener.start)
        words: list[Word] = [subject]
        bodies: list[Script] = []
        self._skip_newlines()
        self._expect_word("in", opener)
        while True:
            self._skip_newlines()
            if self._is_word(self.peek(), "esac"):
                self.take()
                return Compound("case", bodies, words)
            words.extend(self._case_patterns(opener))
            bodies.append(self.parse_list(_CASE_ENDS | {"esac"}))
            if self._is_op(self.peek(), *_CASE_ENDS):
                self.take()
            elif not self._is_word(self.peek(), "esac"):
                raise ShellSyntaxError("missing `esac` to close the `case` opened here",
                                       self.src, opener.start)

    def _case_patterns(self, opener: Token) -> list[Word]:
        if self._is_op(self.peek(), "("):
            self.take()
        patterns: list[Word] = []
        while True:
            tok = self.take()
            if not isinstance(tok, Word):
                if isinstance(tok, Op) and tok.kind == "EOF":
                    raise ShellSyntaxError("missing `esac` to close the `case` opened here",
                                           self.src, opener.start)
                raise self.unexpected(tok)
            patterns.append(tok)
            sep = self.take()
            if self._is_op(sep, ")"):
                return patterns
            if not self._is_op(sep, "|"):
                raise self.unexpected(sep)

    def _cond(self) -> Compound:
        """bash `[[ ... ]]`: its `<`, `>`, `&&` and `(` are operators of the test, not of the shell;
        any other operator (`;`, `|`, `&`, `<<`) is a syntax error to bash, and so here."""
        opener = self.take()
        words: list[Word] = []
        while True:
            tok = self.take()
            if self._is_word(tok, "]]"):
                return Compound("cond", [], words)
            if isinstance(tok, Word):
                words.append(tok)
                if self._is_word(tok, "=~") and self._peeked is None:
                    self._peeked = self.lexer.regex_word()
            elif isinstance(tok, Redir) and tok.op in ("<", ">") and not tok.fd:
                continue
            elif isinstance(tok, Op) and tok.kind == "EOF":
                raise unclosed("[[", "]]", self.src, opener.start)
            elif not (isinstance(tok, Op) and tok.kind in _COND_OPS):
                if isinstance(tok, Redir):
                    self.lexer.cancel_heredoc()
                raise ShellSyntaxError(f"unexpected `{self.src[tok.start:tok.end]}` inside `[[ ]]`",
                                       self.src, tok.start)
