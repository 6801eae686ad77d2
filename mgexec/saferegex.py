"""Regular expressions from agents and configs, matched with a time budget so none can freeze mgexec.

Python's `re` backtracks without limit and holds the GIL while it does: one pattern such as
`(a|aa)+$` pins a core for minutes. The `regex` package reads the same syntax (its VERSION0
is `re`-compatible), releases the GIL while matching (`concurrent=True`), and stops a match
after `timeout` seconds; every match of an outside pattern goes through here. Configured
patterns are also probed once, when the config is loaded, against inputs that make
backtracking engines blow up, so a pattern that would time out is refused up front, named.
"""

from __future__ import annotations

import math
import time
from typing import Literal

import regex

from mgexec.errors import MgexecError

Pattern = regex.Pattern
MATCH_SECONDS = 0.25  # one match of a configured allow or deny pattern against one command
PROBE_SECONDS = 0.05  # one probe input when a pattern is checked up front
PROBE_TOTAL_SECONDS = 2.0  # all probes of one pattern
PROBE_LENGTHS = (24, 4096)  # exponential blow-ups show on short inputs, polynomial ones on long
# Characters that typical command text is made of, repeated to find blow-ups the pattern's own
# literals do not reveal.
PROBE_CHARACTERS = "a0 -/._=\t"
ENDINGS = ("", "\x00", "!", "\n")  # an input that almost matches forces every alternative to be tried
MAX_AGENT_PATTERN = 4096  # characters of a pattern an agent sends (wait_for)
MAX_REPEAT_PRODUCT = 100_000  # product of the counts of {m,n} repetitions in such a pattern
_COUNTED = regex.compile(r"\{(\d+)(?:,(\d*))?\}")
MatchKind = Literal["match", "fullmatch", "search"]


class RegexTimeout(MgexecError, TimeoutError):
    """A pattern did not finish matching within its time budget."""


class PatternTooComplex(MgexecError, ValueError):
    """A pattern from an agent is too large or too deep to compile in reasonable time."""


def compile_pattern(pattern: str, flags: int = 0) -> Pattern:
    """Compile with `re` semantics; raises regex.error (a ValueError) on bad syntax."""
    return regex.compile(pattern, flags | regex.VERSION0)


def compile_agent_pattern(pattern: str, flags: int = 0) -> Pattern:
    """Compile a pattern an agent sent; PatternTooComplex or regex.error naming the problem.

    Compiling holds the GIL and grows with counted repetition (`(?:a{1000}){1000}` takes seconds),
    so the length and the product of the repetition counts are bounded before compiling.
    """
    if len(pattern) > MAX_AGENT_PATTERN:
        raise PatternTooComplex(f"it is {len(pattern)} characters long; at most {MAX_AGENT_PATTERN} are accepted")
    counts = [int(high or low) for low, high in _COUNTED.findall(pattern)]
    if math.prod(counts) > MAX_REPEAT_PRODUCT:
        raise PatternTooComplex(f"its counted repetitions ({', '.join(map(str, counts))}) multiply to more than "
                         f"{MAX_REPEAT_PRODUCT}, which would take too long to compile")
    try:
        return compile_pattern(pattern, flags)
    except RecursionError:
        raise PatternTooComplex("it nests groups too deeply to be compiled") from None


def run(compiled: Pattern, kind: MatchKind, text: str, seconds: float, pos: int = 0) -> regex.Match | None:
    """compiled.<kind>(text, pos) stopped after `seconds`; RegexTimeout then."""
    method = getattr(compiled, kind)
    try:
        return method(text, pos, timeout=max(seconds, 0.001), concurrent=True)
    except TimeoutError:
        raise RegexTimeout(f"The regular expression `{compiled.pattern}` did not finish matching within "
                           f"{seconds:g} seconds (catastrophic backtracking, as in `(a|aa)+$` or "
                           "`(x+x+)+y`). Rewrite it without nested or overlapping repetition.") from None


def backtracking_input(pattern: str, kind: MatchKind = "search") -> str | None:
    """A description of an input on which `pattern` takes longer than PROBE_SECONDS to match, or None.

    Probes are runs of one character (each of the pattern's literal characters and of common
    command characters), alone and after each literal word of the pattern, with an ending that
    spoils the match. They find the classic blow-ups (nested or overlapping repetition); the
    time budget of every later match catches whatever they miss.
    """
    compiled = compile_pattern(pattern)
    give_up = time.monotonic() + PROBE_TOTAL_SECONDS
    for text, description in _probes(pattern):
        start = time.monotonic()
        if start > give_up:  # a slow machine: the budget of every later match still holds
            return None
        try:
            run(compiled, kind, text, PROBE_SECONDS)
        except RegexTimeout:
            return description
        if time.monotonic() - start > PROBE_SECONDS:  # slow without tripping the in-engine clock
            return description
    return None


def _probes(pattern: str):
    literals = [c for c in dict.fromkeys(pattern) if c.isprintable() and c not in "\\()[]{}|*+?^$"]
    characters = list(dict.fromkeys(literals + list(PROBE_CHARACTERS)))[:24]
    prefixes = [""] + [word + " " for word in dict.fromkeys(regex.findall(r"[A-Za-z0-9_-]{2,}", pattern))][:4]
    for length in PROBE_LENGTHS:
        for prefix in prefixes:
            for char in characters:
                for ending in ENDINGS:
                    shown = (f"{prefix!r} + " if prefix else "") + f"{char!r} x {length}" + (f" + {ending!r}" if ending else "")
                    yield prefix + char * length + ending, shown
