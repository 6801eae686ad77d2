"""Expansions the line itself decides: variables it assigns earlier (`d=/; rm -rf $d`, `HOME=/`
then `~`), read as every value they may hold; values it does not set stay as written."""

from __future__ import annotations

import itertools
import re

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=(.*)", re.DOTALL)
_DECLARERS = frozenset({"export", "local", "declare", "typeset", "readonly"})
_READERS = frozenset({"read", "mapfile", "readarray", "unset", "getopts"})
MAX_READINGS = 16
Variables = dict[str, list[str | None]]  # every value a name was given; None: one not known


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
            static = not match[2] and not re.search(r"[$`]", match[3])
            variables.setdefault(match[1], []).append(match[3] if static else None)


def _field(line: str, index: int, count: int) -> str:
    """The part of an input line `read` gives its index-th of count names (the last takes the rest)."""
    parts = line.split(None, count - 1) if line.strip() else []
    return parts[index].strip() if index < len(parts) else ""


def readings(words: tuple[str, ...], raws: tuple[str, ...],
             variables: Variables) -> list[tuple[str, ...]]:
    """Each reading of `words` with the line's variables put in (a value the line does not know
    leaves the expansion as written); [] when no word uses a variable the line sets."""
    per_word = [_word_readings(word, raw, variables) for word, raw in zip(words, raws)]
    if all(options == [(word,)] for options, word in zip(per_word, words)):
        return []
    found: list[tuple[str, ...]] = []
    for combination in itertools.islice(itertools.product(*per_word), MAX_READINGS):
        reading = tuple(w for part in combination for w in part)
        if reading not in found:
            found.append(reading)
    return found


def _word_readings(word: str, raw: str, variables: Variables) -> list[tuple[str, ...]]:
    names = [m[1] or m[2] for m in _VARIABLE.finditer(word) if (m[1] or m[2]) in variables]
    tilde = word.startswith("~") and raw.startswith("~") and "HOME" in variables and (
        len(word) == 1 or word[1] == "/")
    if not names and not tilde:
        return [(word,)]
    names = list(dict.fromkeys(names + (["HOME"] if tilde else [])))
    results: list[tuple[str, ...]] = []
    values = [list(dict.fromkeys(variables[n])) for n in names]
    for choice in itertools.islice(itertools.product(*values), MAX_READINGS):
        chosen = dict(zip(names, choice))
        text = _VARIABLE.sub(lambda m: _value(m, chosen), word)
        if tilde and chosen.get("HOME") is not None:
            text = chosen["HOME"] + text[1:]
        quoted = any(q in raw for q in "\"'")
        results.append((text,) if quoted else tuple(text.split()) or ("",))
    return results


def _value(match: re.Match[str], chosen: dict[str, str | None]) -> str:
    value = chosen.get(match[1] or match[2])
    return match[0] if value is None else value
