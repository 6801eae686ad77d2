"""Bash brace expansion (`{rm,-rf,~}` -> `rm -rf ~`, `x{1..3}`), counted before it is enumerated,
so a word of 26 `{a,b}` groups costs a multiplication, not 2**26 strings.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mgexec.policy.budget import MAX_BRACE_WORDS, ParseBudget, PolicyBudgetExceeded

_NUMBERS = re.compile(r"([-+]?\d+)\.\.([-+]?\d+)(?:\.\.([-+]?\d+))?")
_LETTERS = re.compile(r"([A-Za-z])\.\.([A-Za-z])(?:\.\.([-+]?\d+))?")


@dataclass(frozen=True)
class _Seq:
    """A range `{1..9..2}` or `{a..z}`: counted arithmetically, enumerated lazily."""

    first: int
    last: int
    step: int
    width: int
    letters: bool

    def __len__(self) -> int:
        return abs(self.last - self.first) // self.step + 1

    def __iter__(self) -> Iterator[str]:
        step = self.step if self.last >= self.first else -self.step
        for value in range(self.first, self.last + (1 if step > 0 else -1), step):
            yield chr(value) if self.letters else str(value).zfill(self.width) if value >= 0 \
                else "-" + str(-value).zfill(self.width - 1)


# A parsed word: a list of items, each a literal string, or a list of alternatives (each a
# parsed word), or a _Seq.
Item = str | list | _Seq


def expand(pieces: Sequence[tuple[str, bool]], *, limit: int = MAX_BRACE_WORDS,
           budget: ParseBudget | None = None) -> tuple[str, ...]:
    """The words bash's brace expansion makes of a word given as (text, unquoted-literal) pieces;
    refuses (PolicyBudgetExceeded) a word that would make more than `limit` words, or more than
    the check's `budget` has left."""
    tokens: list[tuple[str, bool]] = []
    for text, literal in pieces:
        if literal:
            tokens.extend((char, True) for char in text)
        else:
            tokens.append((text, False))
    items = _parse(tokens)
    total = _count(items)
    if total > limit:
        shown = "".join(text for text, _ in pieces)
        raise PolicyBudgetExceeded(
            f"brace expansion of `{shown[:80]}` would produce {_big(total)} words; at most {limit} "
            "are read (MAX_BRACE_WORDS)")
    if budget is not None:
        budget.expand(total)
    return tuple(_words(items))


def expand_text(word: str, *, limit: int = MAX_BRACE_WORDS) -> tuple[str, ...]:
    """`expand` for a plain string whose every character is unquoted."""
    return expand([(word, True)], limit=limit)


def may_expand(text: str) -> bool:
    return "{" in text and ("," in text or ".." in text)


def _parse(tokens: list[tuple[str, bool]]) -> list[Item]:
    items: list[Item] = []
    literal: list[str] = []
    i = 0
    while i < len(tokens):
        text, active = tokens[i]
        if active and text == "{":
            close, commas = _matching(tokens, i)
            alternatives = _alternatives(tokens, i, close, commas) if close is not None else None
            if alternatives is not None:
                items.append("".join(literal))
                literal = []
                items.append(alternatives)
                i = close + 1
                continue
        literal.append(text)
        i += 1
    items.append("".join(literal))
    return items


def _matching(tokens: list[tuple[str, bool]], start: int) -> tuple[int | None, list[int]]:
    """The `}` closing the `{` at `start`, and the top-level commas between them."""
    depth, commas = 0, []
    for i in range(start + 1, len(tokens)):
        text, active = tokens[i]
        if not active:
            continue
        if text == "{" and not (i > 0 and tokens[i - 1] == ("$", True)):
            depth += 1
        elif text == "}":
            if depth == 0:
                return i, commas
            depth -= 1
        elif text == "," and depth == 0:
            commas.append(i)
    return None, commas


def _alternatives(tokens: list[tuple[str, bool]], start: int, close: int,
                  commas: list[int]) -> list | _Seq | None:
    if start > 0 and tokens[start - 1] == ("$", True):
        return None  # `${...}` is a parameter, never a brace expansion
    if commas:
        bounds = [start, *commas, close]
        return [_parse(tokens[a + 1:b]) for a, b in itertools.pairwise(bounds)]
    inner = tokens[start + 1:close]
    if not all(active for _, active in inner):
        return None
    return _sequence("".join(text for text, _ in inner))


def _sequence(text: str) -> _Seq | None:
    match = _NUMBERS.fullmatch(text)
    letters = match is None
    match = match or _LETTERS.fullmatch(text)
    if match is None:
        return None
    step = abs(int(match[3])) if match[3] else 1
    if letters:
        return _Seq(ord(match[1]), ord(match[2]), step or 1, 0, True)
    padded = any(re.fullmatch(r"[-+]?0\d+", v) for v in (match[1], match[2]))
    width = max(len(match[1].lstrip("+")), len(match[2].lstrip("+"))) if padded else 0
    return _Seq(int(match[1]), int(match[2]), step or 1, width, False)


def _count(items: list[Item]) -> int:
    total = 1
    for item in items:
        if isinstance(item, _Seq):
            total *= len(item)
        elif isinstance(item, list):
            total *= sum(_count(alternative) for alternative in item)
    return total


def _words(items: list[Item]) -> Iterator[str]:
    choices: list[Iterator[str] | tuple[str, ...]] = []
    for item in items:
        if isinstance(item, str):
            choices.append((item,))
        elif isinstance(item, _Seq):
            choices.append(tuple(item))
        else:
            choices.append(tuple(w for alternative in item for w in _words(alternative)))
    for combination in itertools.product(*choices):
        yield "".join(combination)


def _big(number: int) -> str:
    return str(number) if number < 10**12 else f"about 10^{int(math.log10(number))}"
