"""The dangerous-command baseline (MassGen's list, made robust to rewrites): each rule looks at one
parsed simple command, with a few facts about the rest of its line, and returns a reason or None.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from mgexec.policy import findexpr, forkbomb, globnames
from mgexec.policy.expansions import is_computed, run_as, run_forms
from mgexec.policy.privilege import PRIVILEGE_PROGRAMS, privilege_reason
from mgexec.policy.shellcommand import SimpleCommand
from mgexec.policy.targets import brace_expand, catastrophic_target, is_block_device, normalize
from mgexec.policy.workdirs import (Place, command_places, covers_directory, follow_links,
                                    line_links)

_WRITE_OPS = frozenset({">", ">>", ">|", "<>", "&>", "&>>", ">&"})
_DEVICE_WRITERS = frozenset({"tee", "cp", "shred", "wipefs", "blkdiscard"})
# The shortest unambiguous abbreviation of --no-preserve-root that each tool accepts.
_NO_PRESERVE_MIN = {"rm": 3, "chmod": 3, "chown": 6, "chgrp": 6}
_DELETERS = frozenset({"rm", "shred", "rmdir", "unlink"})
_KNOWN = PRIVILEGE_PROGRAMS | _DEVICE_WRITERS | {"rm", "dd", "mv", "find", "chgrp", "mke2fs",
                                                 "mkswap", "mkfs", "mkfs.ext4", "mkfs.xfs",
                                                 "mkfs.vfat", "mkfs.btrfs"}
_PWD_WORD = re.compile(r"(~[+-]|\$PWD\b|\$\{PWD\}|\$\(pwd(?: -[LP])?\)|`pwd(?: -[LP])?`|"
                       r"\$OLDPWD\b|\$\{OLDPWD\}|\$\{PWD[^}]+\}|\$\(dirname [^)]*\))(/.*)?$")
_LISTING = re.compile(r"\$\(ls(?:\s+-[A-Za-z1]+)*(?:\s+([^\s)]+))?\s*\)"
                      r"|`ls(?:\s+-[A-Za-z1]+)*(?:\s+([^\s`]+))?\s*`")
_FIND_GLOBAL_OPTIONS = frozenset({"-H", "-L", "-P"})


@dataclass(frozen=True)
class LineFacts:
    """What the rest of the line, and where it runs, say about a command: the directories each
    command may run in (the work_dir followed through `cd`), the paths other commands list into
    pipes (`find / | xargs rm -r`), forking calls on cycles of functions, and the PATH and home
    the line sees."""

    places: Mapping[int, tuple[Place, ...]] = field(default_factory=dict)
    listed_paths: tuple[tuple[str, tuple[Place, ...]], ...] = ()
    forking: Mapping[tuple[str, str], str] = field(default_factory=dict)
    home: str | None = None
    path: str = ""
    links: tuple[tuple[str, str], ...] = ()
    start: Place = Place(None, "from an unknown working directory")

    def places_of(self, cmd: SimpleCommand) -> tuple[Place, ...]:
        return self.places.get(id(cmd), (self.start,))


def line_facts(commands: tuple[SimpleCommand, ...], *, work_dir: str | None = None,
               home: str | None = None, path: str | None = None) -> LineFacts:
    """Facts for `commands` run from `work_dir` (default: this process's directory), with HOME
    `home` and PATH `path` (default: this process's)."""
    start = _start(work_dir)
    places = command_places(commands, start)
    listed: list[tuple[str, tuple[Place, ...]]] = []
    for cmd in commands:
        here = places.get(id(cmd), ())
        if cmd.name == "find":
            starts, expression = _find_parts(cmd)
            listed.extend((start, here) for start in starts
                          if findexpr.acts_on_everything(start, expression, delete=False))
        elif cmd.name in ("echo", "printf"):
            listed.extend((w, here) for w in cmd.words[1:] if not w.startswith("-"))
    return LineFacts(places=places, listed_paths=tuple(listed),
                     forking=forkbomb.forking_calls(commands),
                     home=home if home is not None else os.environ.get("HOME"),
                     path=path if path is not None else os.environ.get("PATH", os.defpath),
                     links=line_links(commands, places), start=start)


def _start(work_dir: str | None) -> Place:
    if not work_dir:
        try:
            work_dir = os.getcwd()
        except OSError:  # this process's directory was removed: where the line runs is unknown
            return Place(None, "from a working directory that no longer exists")
    return Place(work_dir, f"from the working directory `{work_dir}`")


def dangerous_reason(cmd: SimpleCommand, *, enable_sudo: bool,
                     facts: LineFacts = LineFacts()) -> str | None:
    """Why `cmd` is refused by the baseline, or None if it may run."""
    places = facts.places_of(cmd)
    expanded = _expanded_forms(cmd)
    for candidate in as_run(cmd, facts):
        reason = _reason(candidate, enable_sudo, facts, places)
        if reason:
            if candidate.words[:1] != cmd.words[:1] and cmd.words and globnames.is_glob_name(
                    cmd.words[0]):
                reason += f" (`{cmd.words[0]}` may name `{candidate.words[0]}`)"
            elif candidate.words in expanded and candidate.words not in cmd.readings:
                reason += (f" (`{_clip(cmd.text)}` runs as `{_clip(' '.join(candidate.words))}` once "
                           "bash expands it)")
            elif candidate.words in cmd.readings and candidate.words != cmd.words:
                reason += f" (run as `{' '.join(candidate.words)}`)"
            elif candidate.words[:1] != cmd.words[:1]:
                reason += f" (`{cmd.words[0]}` is a command name computed when the line runs)"
            return reason
    return None


def _expanded_forms(cmd: SimpleCommand) -> tuple[tuple[str, ...], ...]:
    """The words bash runs once it expands braces, `$IFS` and `$(echo …)` (`{rm,-rf,/}`)."""
    return tuple(run_forms(cmd.words))


def as_run(cmd: SimpleCommand, facts: LineFacts) -> list[SimpleCommand]:
    """The command and each reading the line decides (`d=/; rm -rf $d`) or bash's expansions make
    (`{rm,-rf,/}`), plus each command a name may stand for when it is computed (`$(which sudo)`,
    `$RM`: the dangerous commands it mentions, and rm) or a wildcard (`/???/?m`: every match)."""
    found: dict[tuple[str, ...], SimpleCommand] = {}
    for words in run_as(cmd.words, cmd.readings):
        base = cmd if words == cmd.words else replace(cmd, words=words, readings=())
        for form in _name_forms(base, facts):
            found.setdefault(form.words, form)
    return list(found.values())


def _name_forms(cmd: SimpleCommand, facts: LineFacts) -> list[SimpleCommand]:
    if not cmd.words:
        return [cmd]
    if globnames.is_glob_name(cmd.words[0]):
        return [cmd] + [replace(cmd, words=words) for words in glob_forms(cmd, facts)[0]]
    if not is_computed(cmd.words[0]):
        return [cmd]
    mentioned = {t.lower() for t in re.findall(r"[A-Za-z0-9_.+-]+", cmd.words[0])
                 if t.lower() in _KNOWN or t.lower().startswith("mkfs")}
    return [cmd] + [replace(cmd, words=(name,) + cmd.words[1:]) for name in sorted(mentioned | {"rm"})]


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "..."


def glob_forms(cmd: SimpleCommand, facts: LineFacts) -> tuple[list[tuple[str, ...]], bool]:
    """The word lists a wildcard command name may run as: each match as the command, and bash's
    own reading (the first match runs, the others become its first arguments); and whether the
    directories it may match in could all be listed."""
    cwd = next((p.path for p in facts.places_of(cmd) if p.path), None)
    matches, listed = globnames.glob_matches(cmd.words[0], path=facts.path, cwd=cwd, known=_KNOWN)
    forms = [(match,) + cmd.words[1:] for match in matches]
    if len(matches) > 1:
        forms.append(tuple(matches) + cmd.words[1:])
    return forms, listed


def _reason(cmd: SimpleCommand, enable_sudo: bool, facts: LineFacts,
            places: tuple[Place, ...]) -> str | None:
    bomb = _fork_bomb(cmd, facts)  # function names are case-sensitive
    # Program names compare case-insensitively: macOS's default file system runs `SUDO` as sudo.
    cmd = replace(cmd, words=(cmd.name.lower(),) + cmd.words[1:]) if cmd.words else cmd
    reason = None if enable_sudo else privilege_reason(cmd, cmd.name)
    reason = reason or _rm(cmd, facts, places) or _find_delete(cmd, facts, places) or bomb
    for rule in _RULES:
        reason = reason or rule(cmd)
    return reason


def _deleted_target(operand: str, places: tuple[Place, ...], facts: LineFacts,
                    follow: bool = False) -> str | None:
    """What deleting `operand` reaches, if catastrophic, from any directory the command may run in.
    Symbolic links the line made are followed where rm follows them (`link/`, `link/x`), or
    always (`follow`, for find's start points)."""
    alternatives = brace_expand(operand)
    if len(alternatives) > 1:
        return next((_from_brace(t, operand) for a in alternatives
                     if (t := _deleted_target(a, places, facts, follow))), None)
    for start in places:
        written, place = _relative_to(operand, start)
        if written.startswith(("/", "~", "$")) or place.path is None and not covers_directory(written):
            path = follow_links(written, facts.links, follow)
            target = catastrophic_target(path, cwd=place.path, home=facts.home)
            if target:
                return target if path == written else f"{target}, through the link `{written}`"
            continue
        if place.path is None:
            return f"`{written}` in a directory only known when the line runs ({place.how})"
        joined = place.path.rstrip("/") + "/" + written.removeprefix("./")
        path = follow_links(joined, facts.links, follow)
        target = catastrophic_target(path, cwd=place.path, home=facts.home)
        if target:
            link = "" if path == joined else " through a link the line made"
            return f"{target}, reached as `{operand}` {place.how}{link}"
    return None


def _relative_to(operand: str, place: Place) -> tuple[str, Place]:
    """`~+`, `$PWD` name the directory the command runs in; `~-`, `$OLDPWD` the one before it;
    `$(ls DIR)` lists what `DIR/*` names."""
    listing = _LISTING.fullmatch(operand)
    if listing:  # `$(ls)`: every entry of the directory, as `*` names them
        return (listing[1] or listing[2] or ".").rstrip("/") + "/*", place
    match = _PWD_WORD.match(operand)
    if not match:
        return operand, place
    rest = "." + (match[2] or "")
    if match[1] in ("~-", "$OLDPWD", "${OLDPWD}"):
        return rest, Place(None, f"as `{match[1]}`, the previous directory")
    if match[1].startswith(("${PWD", "$(dirname")):  # some part of the current directory
        return rest, Place(None, f"as `{match[1]}`, a directory computed when the line runs")
    return (place.path.rstrip("/") + (match[2] or "") or "/", place) if place.path else (rest, place)


def _from_brace(target: str, operand: str) -> str:
    return target if f"`{operand}`" in target else f"{target}, from `{operand}`"


def _options_and_operands(words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """GNU-style: options may follow operands; `--` ends options."""
    options: list[str] = []
    operands: list[str] = []
    ended = False
    for word in words:
        if not ended and word == "--":
            ended = True
        elif not ended and word.startswith("-") and len(word) > 1:
            options.append(word)
        else:
            operands.append(word)
    return options, operands


def _long(option: str, full: str, minimum: int = 3) -> bool:
    name = option.split("=", 1)[0]
    return len(name) >= minimum and full.startswith(name)


def _is_recursive(options: list[str], short: str = "rR") -> bool:
    return any(_long(o, "--recursive") if o.startswith("--") else bool(set(o[1:]) & set(short))
               for o in options)


def _rm(cmd: SimpleCommand, facts: LineFacts, places: tuple[Place, ...]) -> str | None:
    if cmd.name != "rm":
        return None
    options, operands = _options_and_operands(cmd.words[1:])
    # Commands run without a terminal, so rm never asks: -r alone is as final as -rf.
    if not _is_recursive(options):
        return None
    for operand in operands:
        target = _deleted_target(operand, places, facts)
        if target:
            return f"recursive deletion of {target}"
    if "xargs" in cmd.via:  # its operands also come from what the line pipes into xargs
        for operand, where in facts.listed_paths:
            target = _deleted_target(operand, where or places, facts)
            if target:
                return f"recursive deletion of {target}"
    return None


def _find_parts(cmd: SimpleCommand) -> tuple[list[str], list[str]]:
    """find's start paths and its expression."""
    words = list(cmd.words[1:])
    while words and (words[0] in _FIND_GLOBAL_OPTIONS or words[0].startswith(("-O", "-D"))):
        words.pop(0)
    starts = []
    while words and not words[0].startswith(("-", "(", "!", ")")):
        starts.append(words.pop(0))
    return starts or ["."], words


def _find_delete(cmd: SimpleCommand, facts: LineFacts, places: tuple[Place, ...]) -> str | None:
    """`find / -delete`, `find / -exec rm ...`, or one narrowed only in appearance
    (`-name '*'`, `-path '/*'`, `! -name x`, `-name x -o -delete`), deletes as much as `rm -rf /`."""
    if cmd.name != "find":
        return None
    starts, expression = _find_parts(cmd)
    for start in starts:
        target = _deleted_target(start, places, facts, follow=True)
        if target and findexpr.acts_on_everything(start, expression, delete=True):
            return f"deleting files with find across {target}"
    return None


def _fork_bomb(cmd: SimpleCommand, facts: LineFacts) -> str | None:
    why = next((facts.forking[(cmd.function or "", name)] for name in forkbomb.callees(cmd)
                if (cmd.function or "", name) in facts.forking), None)
    return f"fork bomb ({why})" if why else None


def _no_preserve_root(cmd: SimpleCommand) -> str | None:
    minimum = _NO_PRESERVE_MIN.get(cmd.name)
    if minimum is None:
        return None
    options, _ = _options_and_operands(cmd.words[1:])
    if any(o.startswith("--") and _long(o, "--no-preserve-root", minimum) for o in options):
        return f"`{cmd.name} --no-preserve-root` (it removes the guard that protects `/`)"
    return None


def _recursive_ownership(cmd: SimpleCommand) -> str | None:
    """`chmod -R 000 /` and friends, which stay refused even when sudo is enabled."""
    if cmd.name not in ("chmod", "chown", "chgrp"):
        return None
    # chmod's `-w`, `-x` are modes, not options; when one is given, every operand is a file.
    modes = [w for w in cmd.words[1:] if cmd.name == "chmod" and re.fullmatch(r"-[rwxXst]+", w)]
    options, operands = _options_and_operands(tuple(w for w in cmd.words[1:] if w not in modes))
    if not _is_recursive(options, "R"):
        return None
    has_reference = any(_long(o, "--reference") for o in options if o.startswith("--"))
    files = operands if modes or has_reference else operands[1:]
    for operand in files:
        target = catastrophic_target(operand)
        if target:
            return f"recursive {cmd.name} of {target}"
    return None


def _mv(cmd: SimpleCommand) -> str | None:
    """Moving anything to /dev/null (MassGen's rule), or moving `/`, a home or a system dir away."""
    if cmd.name != "mv":
        return None
    for word in cmd.words[1:]:
        value = word.split("=", 1)[1] if word.startswith("--") and "=" in word else word
        if normalize(value) == "/dev/null":
            return "moving files to /dev/null"
    options, operands = _options_and_operands(cmd.words[1:])
    has_target_option = any(o.startswith(("-t", "--t")) for o in options)
    for source in operands if has_target_option else operands[:-1]:
        target = catastrophic_target(source)
        if target:
            return f"moving {target} away"
    return None


def _dd(cmd: SimpleCommand) -> str | None:
    return "use of dd (raw copies to and from disks)" if cmd.name == "dd" else None


def _mkfs(cmd: SimpleCommand) -> str | None:
    if cmd.name.startswith("mkfs") or cmd.name in ("mke2fs", "mkswap"):
        return f"creating a file system or swap area (`{cmd.name}`), which erases a device"
    return None


def _device_write(cmd: SimpleCommand) -> str | None:
    for redirect in cmd.redirects:
        if redirect.op in _WRITE_OPS and is_block_device(redirect.target):
            return f"writing directly to the disk device `{redirect.target}`"
    if cmd.name in _DEVICE_WRITERS:
        for word in cmd.words[1:]:
            if is_block_device(word):
                return f"`{cmd.name}` writing directly to the disk device `{word}`"
    return None


_RULES: tuple[Callable[[SimpleCommand], str | None], ...] = (
    _no_preserve_root, _recursive_ownership, _mv, _dd, _mkfs, _device_write)
