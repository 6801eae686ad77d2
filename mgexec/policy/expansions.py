"""The words a command runs as, once bash expands them as far as the line shows: variables it
assigns earlier (`d=/; rm -rf $d`, `HOME=/` then `~`, every value they may hold; values it does
not set stay as written), `$IFS` splitting, `$(echo WORDS)` as the command word, glob names."""

from __future__ import annotations

import fnmatch
import itertools
import posixpath
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*])(\[[^]]*\])?\}"
                       r"|([A-Za-z_][A-Za-z0-9_]*|[0-9@*]))")
_ARRAY = "\0array\0"  # marks a value that is an array's elements, joined by NUL
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)", re.DOTALL)
_DECLARERS = frozenset({"export", "local", "declare", "typeset", "readonly"})
_READERS = frozenset({"read", "mapfile", "readarray", "unset", "getopts"})
MAX_READINGS = 16
_KEPT = frozenset({"HOME", "PWD", "FUNCNAME"})  # kept as written: the policy reads them later
Variables = dict[str, list[str | None]]  # every value a name was given; None: one not known
_MAX_WORDS = 64
_IFS = re.compile(r"\$IFS\b|\$\{IFS(?:[:%#/][^}]*)?\}")
_ECHO = re.compile(r"(?:\$\(|`)\s*(?:echo|printf(?:\s+%s)?)\s+(?:(?P<text>[^$`()\"';&|<>\\]*?)"
                   r"|'(?P<quoted>[^']*)'|\"(?P<dquoted>[^$`\"\\]*)\")\s*(?:\)|`)")
_GLOB = re.compile(r"[*?]|\[[^\]]+\]")


def remember_assignments(variables: Variables, words: tuple[str, ...],
                         assignments: tuple[str, ...], stdin: tuple[str, ...] = ()) -> None:
    """Records `NAME=value` (alone, or after export/local/declare); `read NAME` takes each line of
    input the line shows (`<<< /`, `echo / |`), else a value the line does not know, as `unset`
    and `mapfile` give. Prefix assignments of a command do not persist."""
    if words and words[0] in _READERS:
        names = [w for w in words[1:] if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", w)]
        for i, name in enumerate(names):
            values: list[str | None] = [None]
            if words[0] == "read" and stdin:
                values = [_field(line, i, len(names)) for text in stdin for line in text.splitlines()]
            variables.setdefault(name, []).extend(values[:MAX_READINGS])
        return
    texts = assignments if not words else words[1:] if words[0] in _DECLARERS else ()
    for text in texts:
        match = _ASSIGNMENT.fullmatch(text)
        if match:
            values = _assigned_values(match[3], variables) if not match[2] else [None]
            variables.setdefault(match[1], []).extend(values)


def _array(value: str) -> str | None:
    """`(rm -rf /)` as an array value; None when an element is only known at run time."""
    try:
        elements = shlex.split(value[1:-1])
    except ValueError:
        return None
    if any(re.search(r"[$`]", e) for e in elements):
        return None
    return _ARRAY + "\0".join(elements)


def _assigned_values(value: str, variables: Variables) -> list[str | None]:
    """The values `NAME=value` may give: as written, or with the line's variables put in
    (`b=$a/x`); None when any part is only known at run time."""
    if value.startswith("(") and value.endswith(")"):
        return [_array(value)]
    if "`" in value or "$(" in value:
        return [None]
    names = [n for n in _names(value) if n in variables or n not in _KEPT]
    if any(n not in variables for n in names) or re.search(r"\$(?![A-Za-z_{])", value):
        return [None]
    choices = [variables[name] for name in names]
    found: list[str | None] = []
    for choice in itertools.islice(itertools.product(*choices), MAX_READINGS):
        chosen = dict(zip(names, choice))
        found.append(None if None in choice else _VARIABLE.sub(lambda m: _value(m, chosen), value))
    return list(dict.fromkeys(found))


def _field(line: str, index: int, count: int) -> str:
    """The part of an input line `read` gives its index-th of count names (the last takes the rest)."""
    parts = line.split(None, count - 1) if line.strip() else []
    return parts[index].strip() if index < len(parts) else ""


@dataclass(frozen=True)
class Scope:
    """What a command's expansions can be, as far as the line shows: its variables (with the words
    of the `for` loops around it), and the positional parameters ($0, $1, ... of
    `sh -c '...' a b`, a function call, `set --`)."""

    variables: Variables
    positional: tuple[str, ...] | None = None


def word_readings(word: str, raw: str, scope: Scope, substituted: bool = False) -> list[tuple[str, ...]]:
    """The words `word` may become: unquoted, a value is split on whitespace (as is `word` itself
    when a substitution made it); `"$@"` gives one word per positional parameter."""
    quoted = _quoted(raw)
    if word in ("$@", "${@}", "$*", "${*}") and scope.positional is not None:
        args = scope.positional[1:]
        return [tuple(args) if quoted and "@" in word else tuple(" ".join(args).split())]
    whole = _VARIABLE.fullmatch(word)
    if whole and whole[2] in ("[@]", "[*]") and whole[1] in scope.variables:
        return _elements(scope.variables[whole[1]], quoted and whole[2] == "[@]")
    names = [n for n in _names(word) if _values(n, scope) is not None]
    tilde = word.startswith("~") and raw.startswith("~") and "HOME" in scope.variables and (
        len(word) == 1 or word[1] == "/")
    if not names and not tilde:
        return [tuple(word.split()) or ("",)] if substituted and not quoted else [(word,)]
    names = list(dict.fromkeys(names + (["HOME"] if tilde else [])))
    results: list[tuple[str, ...]] = []
    values = [_values(n, scope) or [None] for n in names]
    for choice in itertools.islice(itertools.product(*values), MAX_READINGS):
        chosen = dict(zip(names, choice))
        text = _VARIABLE.sub(lambda m: _value(m, chosen), word)
        if tilde and chosen.get("HOME") is not None:
            text = chosen["HOME"] + text[1:]
        results.append((text,) if quoted else tuple(text.split()) or ("",))
    return list(dict.fromkeys(results))


def _quoted(raw: str) -> bool:
    """True if the word as written has quotes outside its substitutions (so it is not split)."""
    for start, end in reversed(substitution_spans(raw)):
        raw = raw[:start] + raw[end:]
    return any(q in raw for q in "\"'")


def _elements(values: list[str | None], separate: bool) -> list[tuple[str, ...]]:
    """`"${a[@]}"`: one word per element (each split when unquoted or `[*]`)."""
    found: list[tuple[str, ...]] = []
    for value in values:
        if value is None:
            continue
        items = value[len(_ARRAY):].split("\0") if value.startswith(_ARRAY) else [value]
        found.append(tuple(items) if separate else tuple(" ".join(items).split()))
    return found or [("",)]


def _names(word: str) -> list[str]:
    return [m[1] or m[3] for m in _VARIABLE.finditer(word)]


def _values(name: str, scope: Scope) -> list[str | None] | None:
    if name.isdigit() or name in ("@", "*"):
        if scope.positional is None:
            return None
        if name.isdigit():
            return [scope.positional[int(name)] if int(name) < len(scope.positional) else ""]
        return [" ".join(scope.positional[1:])]
    if name in scope.variables:
        return list(dict.fromkeys(scope.variables[name]))
    return None


def _value(match: re.Match[str], chosen: dict[str, str | None]) -> str:
    value = chosen.get(match[1] or match[3])
    if value is None:
        return match[0]
    if not value.startswith(_ARRAY):
        return value
    items = value[len(_ARRAY):].split("\0")
    index = (match[2] or "[0]")[1:-1]
    if index in ("@", "*"):
        return " ".join(items)
    return items[int(index)] if index.isdigit() and int(index) < len(items) else ""


def substitution_spans(value: str) -> list[tuple[int, int]]:
    """Where `$( )` and backtick substitutions sit in a word's text, in order (not `$(( ))`)."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(value):
        if value.startswith("$((", i):
            i = _closing(value, i + 1) + 1
        elif value.startswith("$(", i):
            end = _closing(value, i + 1)
            spans.append((i, end + 1))
            i = end + 1
        elif value[i] == "`":
            end = value.find("`", i + 1)
            end = len(value) - 1 if end < 0 else end
            spans.append((i, end + 1))
            i = end + 1
        elif value[i] == "\\":
            i += 2
        else:
            i += 1
    return spans


def _closing(value: str, start: int) -> int:
    """Index of the `)` closing the `(` at `start`, skipping quoted text."""
    depth, i, quote = 0, start, ""
    while i < len(value):
        char = value[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(value) - 1


# -- what bash's own expansions make of the words, whatever the line set -------------------------

def run_as(words: tuple[str, ...], readings: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """Every word list a command may run as: `words` as written, each of its `readings` (what the
    line's own variables and substitutions make of it) and what bash's expansions make of it."""
    return tuple(dict.fromkeys((words,) + readings + tuple(run_forms(words))))


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
