"""What a command runs once bash expands what the line shows: `$IFS` splitting (`rm${IFS}-rf${IFS}x`),
a command word written as `$(echo WORDS)`, and a command word that is a glob (`/bin/r? x`), which
names whichever matching program exists when it runs (brace words are made by the parser)."""

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
        # Brace expansion is not redone here: the parser makes brace words exactly where the
        # shell reading the command has it (bash, not dash; unquoted braces only).
        expanded += _IFS.sub(" ", word).split() if _IFS.search(word) else [word]
    form = tuple(expanded[:_MAX_WORDS])
    return (form,) if form and form != words else ()


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
