"""Where each command of a line runs: the work_dir, followed statically through the line's `cd`,
`pushd` and `popd` (`cd ../..`, `cd /`, `cd ~`); a `cd` the line cannot resolve makes it unknown.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace

from mgexec.policy.shellcommand import SimpleCommand
from mgexec.policy.targets import normalize

_CHANGERS = frozenset({"cd", "pushd", "popd"})
_MAX_PLACES = 16  # directories a command may run in, before the rest counts as unknown
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
    A `cd` that may fail leaves the shell where it was for what follows, except for the commands
    its `&&` guards. Readings of one command (`cd "$d"` where the line gave d two values) start
    from the same directories, and any of their results may follow.
    """
    walk = _Walk((start,))
    before, previous = walk.current, None
    visited = list(walk.current)
    places: dict[int, tuple[Place, ...]] = {}
    anytime: list[SimpleCommand] = []
    wrapped: dict[tuple[str, ...], tuple[Place, ...]] = {}  # `env -C DIR cmd`: where cmd runs
    for cmd in commands:
        walk.note_cdpath(cmd)
        reading = previous is not None and _same_command(cmd, previous)
        if not reading:
            walk.settle(cmd)
            before = walk.current
        previous = cmd
        if cmd.function or cmd.repeats or "trap" in cmd.via:
            anytime.append(cmd)
        else:
            places[id(cmd)] = wrapped.get(cmd.via, before)
        chdir = _wrapper_chdir(cmd)
        if chdir is not None:
            wrapped[cmd.via + (cmd.name,)] = walk.moved(replace(cmd, words=("cd", chdir)), before)
        if cmd.name in _CHANGERS:
            moved = walk.moved(cmd, before)
            walk.current = tuple(dict.fromkeys(walk.current + moved)) if reading else moved
            visited.extend(moved)
    everywhere = tuple(dict.fromkeys(visited))
    for cmd in anytime:
        places[id(cmd)] = everywhere
    return places


@dataclass
class _Walk:
    """Where the shell is on the success path, and where failed `cd`s may have left it."""

    current: tuple[Place, ...]
    failures: list[tuple[tuple[int, tuple[str, ...]] | None, tuple[Place, ...]]] = field(
        default_factory=list)
    cdpath: bool = False

    def note_cdpath(self, cmd: SimpleCommand) -> None:
        self.cdpath = self.cdpath or any(a.startswith("CDPATH=") for a in cmd.assignments) or (
            cmd.name in ("export", "declare", "typeset") and any(
                w.startswith("CDPATH=") for w in cmd.words))

    def settle(self, cmd: SimpleCommand) -> None:
        """A command a failed `cd` does not stop also runs where that `cd` left the shell."""
        for failure in list(self.failures):
            if not _guarded(cmd, failure[0]):
                self.current = tuple(dict.fromkeys(self.current + failure[1]))
                self.failures.remove(failure)

    def moved(self, cmd: SimpleCommand, starts: tuple[Place, ...]) -> tuple[Place, ...]:
        found = _moved(cmd, starts, self.cdpath)
        readings = [replace(cmd, words=words) for words in cmd.readings] or [cmd]
        if any(_may_fail(r) for r in readings):
            self.failures.append((cmd.and_or[-1] if cmd.and_or else None, starts))
        return found


def _guarded(cmd: SimpleCommand, frame: tuple[int, tuple[str, ...]] | None) -> bool:
    """True if `cmd` runs only when the `cd` of `frame` succeeded (`cd x && cmd`)."""
    if frame is None:
        return False
    number, before = frame
    ops = next((o for n, o in cmd.and_or if n == number), None)
    return ops is not None and len(ops) > len(before) and all(
        op == "&&" for op in ops[len(before):])


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
    found = tuple(dict.fromkeys(_changed(r, start) for r in readings for start in starts))
    if len(found) > _MAX_PLACES:
        return found[:_MAX_PLACES] + (Place(None, f"after `{cmd.text}` and many others"),)
    return found


def _may_fail(cmd: SimpleCommand) -> bool:
    """A `cd` to a directory that may not exist: the line goes on where it was (`cd x; ...`).
    `cd ..`, `cd /` and `cd` home always succeed."""
    operands = _operands(cmd)
    if cmd.name == "popd" or not operands:
        return False
    return not (operands[0] in ("/", "-") or _HOME_WORD.fullmatch(operands[0])
                or all(part in ("", ".", "..") for part in operands[0].split("/")))


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
    if target.startswith("~+") and target[2:3] in ("", "/") and current.path is not None:
        target = current.path.rstrip("/") + target[2:]  # `~+` is the current directory
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
