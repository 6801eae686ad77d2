"""What a command runs once bash expands what the line shows: brace expansion (`{rm,-rf,x}`),
`$IFS` splitting (`rm${IFS}-rf${IFS}x`), a command word written as `$(echo WORDS)`, and a command
word that is a glob (`/bin/r? x`), which names whichever matching program exists when it runs."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from functools import lru_cache

_MAX_WORDS = 64
_IFS = re.compile(r"\$IFS\b|\$\{IFS(?:[:%#/][^}]*)?\}")
_ECHO = re.compile(r"(?:\$\(|`)\s*(?:echo|printf(?:\s+%s)?)\s+(?:(?P<text>[^$`()\"';&|<>\\]*?)"
                   r"|'(?P<quoted>[^']*)'|\"(?P<dquoted>[^$`\"\\]*)\")\s*(?:\)|`)")
_GLOB = re.compile(r"[*?]|\[[^\]]+\]")


def run_forms(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The words the command runs as, when expansions change them (none if they do not)."""
    return list(_run_forms(words))


@lru_cache(maxsize=1024)
def _run_forms(words: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    if not words:
        return ()
    expanded: list[str] = []
    for k, word in enumerate(words):
        echoed = _ECHO.fullmatch(word) if k == 0 else None
        if echoed:  # `$(echo rm -rf x)` as the command word: its output, split into words
            expanded += (echoed["text"] or echoed["quoted"] or echoed["dquoted"] or "").split()
            continue
        for piece in braces(word):
            expanded += _IFS.sub(" ", piece).split() if _IFS.search(piece) else [piece]
    form = tuple(expanded[:_MAX_WORDS])
    return (form,) if form and form != words else ()


def braces(word: str) -> list[str]:
    """Bash's brace expansion of one word: `{a,b}` lists and `{1..3}` sequences, nested."""
    match = _first_brace(word)
    if match is None:
        return [word]
    start, end, items = match
    results: list[str] = []
    for item in items:
        for expanded in braces(word[:start] + item + word[end + 1:]):
            results.append(expanded)
            if len(results) >= _MAX_WORDS:
                return results
    return results


def _first_brace(word: str) -> tuple[int, int, list[str]] | None:
    for start, char in enumerate(word):
        if char != "{" or (start > 0 and word[start - 1] in "$\\"):
            continue
        depth, parts, last = 0, [], start + 1
        for end in range(start + 1, len(word)):
            if word[end] == "{":
                depth += 1
            elif word[end] == "}" and depth:
                depth -= 1
            elif word[end] == "," and not depth:
                parts.append(word[last:end])
                last = end + 1
            elif word[end] == "}":
                inner = word[start + 1:end]
                if parts:
                    return start, end, parts + [word[last:end]]
                sequence = _sequence(inner)
                if sequence:
                    return start, end, sequence
                break
    return None


def _sequence(inner: str) -> list[str]:
    match = re.fullmatch(r"(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?|([A-Za-z])\.\.([A-Za-z])", inner)
    if match is None:
        return []
    if match[4]:
        low, high = sorted((ord(match[4]), ord(match[5])))
        return [chr(c) for c in range(low, high + 1)][:_MAX_WORDS]
    first, last, step = int(match[1]), int(match[2]), abs(int(match[3] or 1)) or 1
    step = step if last >= first else -step
    return [str(n) for n in range(first, last + step, step)][:_MAX_WORDS]


def is_glob(word: str) -> bool:
    """True if a command word holds glob characters that bash matches against file names."""
    return bool(_GLOB.search(posixpath.basename(word))) and not word.startswith(("$", "`"))


def glob_names(word: str, names: set[str] | frozenset[str]) -> list[str]:
    """The program names among `names` a glob command word may resolve to (`/bin/r?` -> rm)."""
    pattern = posixpath.basename(word).lower()
    return sorted(name for name in names if fnmatch.fnmatchcase(name, pattern))


def is_computed(word: str) -> bool:
    """True if a command word is known only when the line runs: an expansion (`$X`,
    `$(which rm)`), or `{}`, which find, xargs -I{} and parallel replace with what they read."""
    return bool(re.search(r"[$`]", word)) or "{}" in word
