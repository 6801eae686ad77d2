"""The dangerous-command baseline (MassGen's list, made robust to rewrites): each rule looks at one
parsed simple command, with a few facts about the rest of its line, and returns a reason or None.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from mgexec.policy.expansions import glob_names, is_computed, is_glob, run_forms
from mgexec.policy.privilege import PRIVILEGE_PROGRAMS, privilege_reason
from mgexec.policy.shellparse import SimpleCommand
from mgexec.policy.targets import catastrophic_target, is_block_device, normalize

_WRITE_OPS = frozenset({">", ">>", ">|", "<>", "&>", "&>>", ">&"})
_DEVICE_WRITERS = frozenset({"tee", "cp", "shred", "wipefs", "blkdiscard"})
# The shortest unambiguous abbreviation of --no-preserve-root that each tool accepts.
_NO_PRESERVE_MIN = {"rm": 3, "chmod": 3, "chown": 6, "chgrp": 6}
_DELETERS = frozenset({"rm", "shred", "rmdir", "unlink"})
_KNOWN = PRIVILEGE_PROGRAMS | _DEVICE_WRITERS | {"rm", "dd", "mv", "find", "chgrp", "mke2fs",
                                                   "mkswap"}
# find tests that narrow what matches (so `find / -name '*.pyc' -delete` is not `rm -rf /`).
_FIND_NARROWING = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex",
    "-newer", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-size", "-user", "-group",
    "-perm", "-inum", "-samefile", "-links", "-empty", "-lname", "-ilname"})
_FIND_GLOBAL_OPTIONS = frozenset({"-H", "-L", "-P"})


@dataclass(frozen=True)
class LineFacts:
    """What the rest of the line says about a command: the directories a `cd` may lead to
    (`cd / && rm -rf *`), and the paths other commands list into pipes (`find / | xargs rm -r`)."""

    directories: tuple[str, ...] = ()
    listed_paths: tuple[str, ...] = ()


def line_facts(commands: tuple[SimpleCommand, ...]) -> LineFacts:
    directories: list[str] = []
    listed: list[str] = []
    for cmd in commands:
        if cmd.name in ("cd", "pushd"):
            operands = [w for w in cmd.words[1:] if not (w.startswith("-") and len(w) > 1)]
            target = operands[0] if operands else "~"  # a bare `cd` goes home
            if target.startswith(("/", "~", "$HOME", "${HOME")):
                directories.append(target)
        elif cmd.name == "find":
            starts, expression = _find_parts(cmd)
            if not _narrowed(expression):
                listed.extend(starts)
        elif cmd.name in ("echo", "printf"):
            listed.extend(w for w in cmd.words[1:] if not w.startswith("-"))
    return LineFacts(tuple(directories), tuple(listed))


def dangerous_reason(cmd: SimpleCommand, *, enable_sudo: bool,
                     facts: LineFacts = LineFacts()) -> str | None:
    """Why `cmd` is refused by the baseline, or None if it may run."""
    for candidate, note in _as_run(cmd):
        reason = _reason(candidate, enable_sudo, facts)
        if reason:
            return reason + note
    return None


def _as_run(cmd: SimpleCommand) -> list[tuple[SimpleCommand, str]]:
    """The command, then the words bash runs once it expands braces, `$IFS` and `$(echo …)`
    (`{rm,-rf,/}`), and, if its name is computed (`$(which sudo)`, `$RM`) or a glob
    (`/bin/r?`), each dangerous command that name may stand for; each with a note that says
    so."""
    forms = [(cmd, "")] + [(replace(cmd, words=form), f" (`{_clip(cmd.text)}` runs as "
                            f"`{_clip(' '.join(form))}` once bash expands it)")
                           for form in run_forms(cmd.words)]
    found = list(forms)
    for form, note in forms:
        word = form.words[0] if form.words else ""
        if is_glob(word):
            names = set(glob_names(word, _KNOWN))
            note = f" (`{word}` is a pattern bash matches against file names when the line runs)"
        elif is_computed(word):
            names = {t.lower() for t in re.findall(r"[A-Za-z0-9_.+-]+", word)
                     if t.lower() in _KNOWN or t.lower().startswith("mkfs")} | {"rm"}
            note = f" (`{word}` is a command name computed when the line runs)"
        else:
            continue
        found += [(replace(form, words=(name,) + form.words[1:]), note) for name in sorted(names)]
    return found


def _clip(text: str) -> str:
    return text if len(text) <= 80 else text[:80] + "..."


def _reason(cmd: SimpleCommand, enable_sudo: bool, facts: LineFacts) -> str | None:
    # Program names compare case-insensitively: macOS's default file system runs `SUDO` as sudo.
    cmd = replace(cmd, words=(cmd.name.lower(),) + cmd.words[1:]) if cmd.words else cmd
    reason = None if enable_sudo else privilege_reason(cmd, cmd.name)
    reason = reason or _rm(cmd, facts) or _find_delete(cmd, facts)
    for rule in _RULES:
        reason = reason or rule(cmd)
    return reason


def _deleted_target(operand: str, facts: LineFacts) -> str | None:
    target = catastrophic_target(operand)
    if target or operand.startswith(("/", "~", "$")):
        return target
    for directory in facts.directories:
        joined = directory.rstrip("/") + "/" + operand.removeprefix("./")
        target = catastrophic_target(joined)
        if target:
            return f"{target}, reached as `{operand}` after `cd {directory}`"
    return None


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


def _rm(cmd: SimpleCommand, facts: LineFacts) -> str | None:
    if cmd.name != "rm":
        return None
    options, operands = _options_and_operands(cmd.words[1:])
    # Commands run without a terminal, so rm never asks: -r alone is as final as -rf.
    if not _is_recursive(options):
        return None
    if "xargs" in cmd.via:  # its operands also come from what the line pipes into xargs
        operands = operands + list(facts.listed_paths)
    for operand in operands:
        target = _deleted_target(operand, facts)
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


def _narrowed(expression: list[str]) -> bool:
    return any(test in _FIND_NARROWING and not re.fullmatch(r"\.?\*", value)
               for test, value in itertools.zip_longest(expression, expression[1:], fillvalue=""))


def _find_delete(cmd: SimpleCommand, facts: LineFacts) -> str | None:
    """`find / -delete` or `find / -exec rm ...` deletes as much as `rm -rf /`."""
    if cmd.name != "find":
        return None
    starts, expression = _find_parts(cmd)
    deletes = "-delete" in expression or any(
        a in ("-exec", "-execdir", "-ok", "-okdir") and b.rsplit("/", 1)[-1] in _DELETERS
        for a, b in itertools.pairwise(expression))
    if not deletes or _narrowed(expression):
        return None
    for start in starts:
        target = _deleted_target(start, facts)
        if target:
            return f"deleting files with find across {target}"
    return None


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


def _fork_bomb(cmd: SimpleCommand) -> str | None:
    if cmd.function and cmd.name == cmd.function and (cmd.in_pipeline or cmd.background):
        how = "in a pipeline" if cmd.in_pipeline else "in the background"
        return f"fork bomb (function `{cmd.function}` starts copies of itself {how})"
    return None


_RULES: tuple[Callable[[SimpleCommand], str | None], ...] = (
    _fork_bomb, _no_preserve_root, _recursive_ownership, _mv, _dd, _mkfs, _device_write)
