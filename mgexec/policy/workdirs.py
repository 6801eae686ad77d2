"""Where each command of a line runs: the work_dir, followed statically through the line's `cd`,
`pushd` and `popd` (`cd ../..`, `cd /`, `cd ~`); a `cd` the line cannot resolve makes it unknown.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace

from mgexec.policy.shellparse import SimpleCommand
from mgexec.policy.targets import normalize

_CHANGERS = frozenset({"cd", "pushd", "popd"})
_HOME_WORD = re.compile(r"(~|\$HOME\b|\$\{HOME\})(/.*)?$")


@dataclass(frozen=True)
class Place:
    """A directory a command may run in: `path` (absolute, or a `~` form) or None when unknown,
    and how the line got there (`after cd /usr`)."""

    path: str | None
    how: str


def command_places(commands: tuple[SimpleCommand, ...], start: Place) -> dict[int, tuple[Place, ...]]:
    """For each command (by id), the directories it may run in, in source order.

    A command in a function body, loop or trap may run after any `cd` of the line, so it gets
    every directory the line visits; a relative `cd` in one repeats, so it makes the rest unknown.
    Readings of one command (`cd "$d"` where the line gave d two values) start from the same
    directories, and any of their results may follow.
    """
    current: tuple[Place, ...] = (start,)
    before, previous = current, None
    visited = list(current)
    places: dict[int, tuple[Place, ...]] = {}
    anytime: list[SimpleCommand] = []
    wrapped: dict[tuple[str, ...], tuple[Place, ...]] = {}  # `env -C DIR cmd`: where cmd runs
    cdpath = False
    for cmd in commands:
        cdpath = cdpath or any(a.startswith("CDPATH=") for a in cmd.assignments) or (
            cmd.name in ("export", "declare", "typeset") and any(
                w.startswith("CDPATH=") for w in cmd.words))
        reading = previous is not None and _same_command(cmd, previous)
        if not reading:
            before = current
        previous = cmd
        if cmd.function or cmd.repeats or "trap" in cmd.via:
            anytime.append(cmd)
        else:
            places[id(cmd)] = wrapped.get(cmd.via, before)
        chdir = _wrapper_chdir(cmd)  # (in the words as written; readings are rare here)
        if chdir is not None:
            wrapped[cmd.via + (cmd.name,)] = _moved(replace(cmd, words=("cd", chdir)), before, False)
        if cmd.name in _CHANGERS:
            moved = _moved(cmd, before, cdpath)
            current = tuple(dict.fromkeys(current + moved)) if reading else moved
            visited.extend(moved)
    everywhere = tuple(dict.fromkeys(visited))
    for cmd in anytime:
        places[id(cmd)] = everywhere
    return places


def _same_command(cmd: SimpleCommand, other: SimpleCommand) -> bool:
    return (cmd.raw, cmd.via, cmd.function) == (other.raw, other.via, other.function) and (
        cmd.words != other.words)


def _moved(cmd: SimpleCommand, starts: tuple[Place, ...], cdpath: bool) -> tuple[Place, ...]:
    """Where `cmd` (a cd) leads from each of `starts`; `cdpath`: the line set CDPATH, which may
    send a relative `cd name` anywhere."""
    operands = _operands(cmd)
    if cdpath and operands and not operands[0].startswith(("/", ".", "~")):
        return (Place(None, f"after `{cmd.text}` with CDPATH set on the line"),)
    if (cmd.function or cmd.repeats) and _relative(cmd):
        return (Place(None, f"after `{cmd.text}`, which may run more than once"),)
    readings = [replace(cmd, words=words) for words in cmd.readings] or [cmd]
    return tuple(dict.fromkeys(_changed(r, start) for r in readings for start in starts))


def _wrapper_chdir(cmd: SimpleCommand) -> str | None:
    """The directory `env -C DIR` / `env --chdir=DIR` / `sudo -D DIR` runs its command in."""
    if cmd.name not in ("env", "sudo"):
        return None
    short = "-C" if cmd.name == "env" else "-D"
    words = cmd.words[1:]
    for i, word in enumerate(words):
        if word in (short, "--chdir") and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--chdir="):
            return word.split("=", 1)[1]
        if word.startswith(short) and len(word) > 2:
            return word[2:]
    return None


def _operands(cmd: SimpleCommand) -> list[str]:
    words = [w for w in cmd.words[1:] if not re.fullmatch(r"-[LPe@]+", w)]
    return words[1:] if words[:1] == ["--"] else words


def _changed(cmd: SimpleCommand, current: Place) -> Place:
    operands = _operands(cmd)
    if cmd.name == "popd" or (cmd.name == "pushd" and (not operands or re.fullmatch(
            r"[-+]\d+", operands[0]))):
        return Place(None, f"after `{cmd.text}`")
    target = operands[0] if operands else "~"  # a bare `cd` goes home
    shown = f"after `cd {target}`"
    home = _HOME_WORD.match(target)
    if home:
        return Place("~" + (home[2] or ""), shown)
    if target == "-" or not target or re.search(r"[$`]", target) or target.startswith("~"):
        return Place(None, f"after `{cmd.text}`")
    if target.startswith("/"):
        return Place(normalize(target), shown)
    if current.path is None:
        return Place(None, f"after `{cmd.text}` from an unknown directory")
    if current.path.startswith("~"):
        return Place(current.path.rstrip("/") + "/" + target, shown)
    return Place(normalize(current.path.rstrip("/") + "/" + target), shown)


def _relative(cmd: SimpleCommand) -> bool:
    """A `cd` whose result depends on where it starts (`cd ..`, `popd`)."""
    operands = _operands(cmd)
    return bool(operands) and not operands[0].startswith(("/", "~", "$HOME", "${HOME}")) or (
        cmd.name != "cd" and not operands)


def line_links(commands: tuple[SimpleCommand, ...],
               places: dict[int, tuple[Place, ...]]) -> tuple[tuple[str, str], ...]:
    """(link, target) for each `ln -s TARGET LINK` on the line, both as absolute or `~` paths."""
    links: list[tuple[str, str]] = []
    for cmd in commands:
        operands = [w for w in cmd.words[1:] if not w.startswith("-")]
        symbolic = any(w == "--symbolic" or re.fullmatch(r"-[a-zA-Z]*s[a-zA-Z]*", w)
                       for w in cmd.words[1:])
        if cmd.name != "ln" or not symbolic or len(operands) != 2:
            continue
        for place in places.get(id(cmd), ()):
            link = _absolute(operands[1], place.path)
            # A relative target is read from the link's own directory.
            target = _absolute(operands[0], link.rsplit("/", 1)[0] or "/" if link else None)
            if link and target:
                links.append((normalize(link) if link.startswith("/") else link, target))
    return tuple(links)


def follow_links(path: str, links: tuple[tuple[str, str], ...], follow: bool) -> str:
    """`path` with a link the line made replaced by its target, where it is followed: always
    for a path below the link or ending in `/`, and for the link itself when `follow`."""
    for _ in range(8):  # links to links, but never a loop
        lexical = normalize(path) if path.startswith("/") else path.rstrip("/")
        for link, target in links:
            below = lexical.startswith(link.rstrip("/") + "/")
            if below or (lexical == link and (follow or path.endswith("/"))):
                path = target.rstrip("/") + "/" + lexical[len(link):].lstrip("/")
                break
        else:
            return path
    return path


def _absolute(word: str, cwd: str | None) -> str | None:
    if word.startswith(("/", "~")):
        return word
    if cwd is None or re.search(r"[$`]", word):
        return None
    return normalize(cwd.rstrip("/") + "/" + word) if cwd.startswith("/") else f"{cwd}/{word}"


def covers_directory(operand: str) -> bool:
    """True for a relative operand that reaches the whole directory it is taken from, or above
    it (`.`, `*`, `./.*`, `..`, `../x`): what an unknown directory makes impossible to judge."""
    parts: list[str] = []
    for part in operand.split("/"):
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return not parts or parts[0] == ".." or fnmatch.fnmatchcase("..", parts[0]) or re.fullmatch(
        r"\.?[*?]+|\[[^]]*\]\*", parts[0]) is not None
