"""Option readers shared by the launcher tables."""

from __future__ import annotations


def values(words: tuple[str, ...], options: tuple[str, ...]) -> list[tuple[str, str]]:
    """(option, value) for each of `options` in `words`: `-o V`, `-oV` (one letter), `--opt=V`."""
    found: list[tuple[str, str]] = []
    for i, word in enumerate(words[1:], start=1):
        if word == "--":
            break
        option, eq, value = word.partition("=")
        if option in options and (eq or i + 1 < len(words)):
            found.append((option, value if eq else words[i + 1]))
        elif len(option) > 2 and option[:2] in options and len(option[:2]) == 2 and word[1] != "-":
            found.append((option[:2], word[2:]))
    return found
