"""The dangerous-command baseline (MassGen's list, made robust to rewrites): each rule looks at one
parsed simple command and returns a reason when it is catastrophic, or None.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from mgexec.policy.shellparse import SimpleCommand

# Commands that change identity or ownership/permissions: refused unless sudo is enabled.
PRIVILEGED = {
    "sudo": "privilege escalation (sudo)",
    "su": "user switching (su)",
    "doas": "privilege escalation (doas)",
    "pkexec": "privilege escalation (pkexec)",
    "chown": "ownership change (chown)",
    "chmod": "permission change (chmod)",
}
# Top-level directories of Linux and macOS whose loss wrecks the system or its users' data.
_SYSTEM_DIRS = frozenset(
    ["bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "mnt", "opt", "proc", "root", "run", "sbin", "snap", "srv", "sys", "usr", "var", "Applications", "Library", "System", "Users", "Volumes", "private", "cores"])
_SYSTEM_SUBDIRS = frozenset({
    "usr/bin", "usr/sbin", "usr/lib", "usr/lib32", "usr/lib64", "usr/libexec", "usr/include",
    "usr/local", "usr/share", "var/lib", "private/etc", "private/var"})
_HOME_PARENTS = frozenset({"home", "Users"})
_HOME_MARK = "\0home"  # cannot occur in a real path
_HOME = re.compile(r"(~|\$HOME\b|\$\{HOME\})(?P<rest>/.*)?$")
_OTHER_HOME = re.compile(r"~(?P<user>[A-Za-z_][A-Za-z0-9_.-]*)(?P<rest>/.*)?$")
_ALL_GLOB = re.compile(r"\.?[*?]+")
_GLOB_CHARS = re.compile(r"[*?\[]")
_BLOCK_DEVICE = re.compile(
    r"/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|r?disk\d|disk/|dm-\d|md\d|mapper/)")
_WRITE_OPS = frozenset({">", ">>", ">|", "<>", "&>", "&>>", ">&"})
_DEVICE_WRITERS = frozenset({"tee", "cp", "shred", "wipefs", "blkdiscard"})
# The shortest unambiguous abbreviation of --no-preserve-root that each tool accepts.
_NO_PRESERVE_MIN = {"rm": 3, "chmod": 3, "chown": 6, "chgrp": 6}
_DELETERS = frozenset({"rm", "shred", "rmdir", "unlink"})


def dangerous_reason(cmd: SimpleCommand, *, enable_sudo: bool,
                     directories: tuple[str, ...] = ()) -> str | None:
    """Why `cmd` is refused by the baseline, or None if it may run.

    `directories` are the places the line may `cd` into before `cmd` runs, so that relative
    deletions (`cd / && rm -rf *`) are judged where they would happen.
    """
    if not enable_sudo and cmd.name in PRIVILEGED:
        return (f"{PRIVILEGED[cmd.name]} is disabled; it is allowed only when sudo is enabled "
                "(command_line_docker_enable_sudo: true)")
    reason = _rm(cmd, directories) or _find_delete(cmd, directories)
    for rule in _RULES:
        reason = reason or rule(cmd)
    return reason


def directories_entered(commands: tuple[SimpleCommand, ...]) -> tuple[str, ...]:
    """The absolute or home directories a line may `cd`/`pushd` into (a bare `cd` goes home)."""
    found = []
    for cmd in commands:
        if cmd.name in ("cd", "pushd"):
            operands = [w for w in cmd.words[1:] if not (w.startswith("-") and len(w) > 1)]
            target = operands[0] if operands else "~"
            if target.startswith(("/", "~", "$HOME", "${HOME}")):
                found.append(target)
    return tuple(found)


def _deleted_target(operand: str, directories: tuple[str, ...]) -> str | None:
    target = catastrophic_target(operand)
    if target or operand.startswith(("/", "~", "$")):
        return target
    for directory in directories:
        joined = directory.rstrip("/") + "/" + operand.removeprefix("./")
        target = catastrophic_target(joined)
        if target:
            return f"{target}, reached as `{operand}` after `cd {directory}`"
    return None


def catastrophic_target(path: str) -> str | None:
    """Describes `path` if removing it recursively would wreck the system or a home; else None."""
    home, other = _HOME.match(path), _OTHER_HOME.match(path)
    # A home directory is modelled as /home/<marker>, so `~/..` lands on /home and `~/../..` on /.
    if home:
        label, parts = "your home directory", ["home", _HOME_MARK] + _components(home["rest"] or "")
    elif other:
        label = f"the home directory `~{other['user']}`"
        parts = ["home", _HOME_MARK] + _components(other["rest"] or "")
    elif path.startswith("/"):
        label, parts = "", _components(path)
    else:
        return None  # relative paths and bare variables are judged by the work_dir, not here
    stack: list[str] = []
    for part in parts:
        if part == "..":
            if stack:
                stack.pop()
        elif _GLOB_CHARS.search(part):
            # A wildcard over all entries of a critical directory (or any at the top level,
            # where `/u*` reaches /usr) is as bad as the directory itself.
            if not stack or _ALL_GLOB.fullmatch(part):
                return _describe(stack, label, wildcard=path)
            return None
        else:
            stack.append(part)
    return _describe(stack, label, wildcard=None)


def _describe(stack: list[str], home_label: str, wildcard: str | None) -> str | None:
    joined = "/".join(stack)
    if not stack:
        what = "the root directory `/`"
    elif stack == ["home", _HOME_MARK]:
        what = home_label
    elif len(stack) == 1 and stack[0] in _SYSTEM_DIRS:
        what = f"the system directory `/{joined}`"
    elif len(stack) == 2 and stack[0] in _HOME_PARENTS:
        what = f"the home directory `/{joined}`"
    elif joined in _SYSTEM_SUBDIRS:
        what = f"the system directory `/{joined}`"
    else:
        return None
    return f"everything matching `{wildcard}` ({what} or its contents)" if wildcard else what


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _normalize(path: str) -> str:
    stack: list[str] = []
    for part in _components(path):
        if part == "..":
            if stack:
                stack.pop()
        else:
            stack.append(part)
    return "/" + "/".join(stack) if path.startswith("/") else "/".join(stack)


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


def _rm(cmd: SimpleCommand, directories: tuple[str, ...]) -> str | None:
    if cmd.name != "rm":
        return None
    options, operands = _options_and_operands(cmd.words[1:])
    # Commands run without a terminal, so rm never asks: -r alone is as final as -rf.
    if not _is_recursive(options):
        return None
    for operand in operands:
        target = _deleted_target(operand, directories)
        if target:
            return f"recursive deletion of {target}"
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


def _mv_to_dev_null(cmd: SimpleCommand) -> str | None:
    if cmd.name != "mv":
        return None
    for word in cmd.words[1:]:
        value = word.split("=", 1)[1] if word.startswith("--") and "=" in word else word
        if _normalize(value) == "/dev/null":
            return "moving files to /dev/null"
    return None


def _dd(cmd: SimpleCommand) -> str | None:
    return "use of dd (raw copies to and from disks)" if cmd.name == "dd" else None


def _mkfs(cmd: SimpleCommand) -> str | None:
    if cmd.name.startswith("mkfs") or cmd.name in ("mke2fs", "mkswap"):
        return f"creating a file system or swap area (`{cmd.name}`), which erases a device"
    return None


def _device_write(cmd: SimpleCommand) -> str | None:
    for redirect in cmd.redirects:
        if redirect.op in _WRITE_OPS and _BLOCK_DEVICE.match(_normalize(redirect.target)):
            return f"writing directly to the disk device `{redirect.target}`"
    if cmd.name in _DEVICE_WRITERS:
        for word in cmd.words[1:]:
            if _BLOCK_DEVICE.match(_normalize(word)):
                return f"`{cmd.name}` writing directly to the disk device `{word}`"
    return None


def _find_delete(cmd: SimpleCommand, directories: tuple[str, ...]) -> str | None:
    """`find / -delete` or `find / -exec rm ...` deletes as much as `rm -rf /`."""
    if cmd.name != "find":
        return None
    words = list(cmd.words[1:])
    while words and (words[0] in ("-H", "-L", "-P") or words[0].startswith(("-O", "-D"))):
        words.pop(0)
    starts = []
    while words and not words[0].startswith(("-", "(", "!", ")")):
        starts.append(words.pop(0))
    deletes = "-delete" in words or any(
        a in ("-exec", "-execdir", "-ok", "-okdir") and b.rsplit("/", 1)[-1] in _DELETERS
        for a, b in itertools.pairwise(words))
    if not deletes:
        return None
    for start in starts or ["."]:
        target = _deleted_target(start, directories)
        if target:
            return f"deleting files with find across {target}"
    return None


def _fork_bomb(cmd: SimpleCommand) -> str | None:
    if cmd.function and cmd.name == cmd.function and (cmd.in_pipeline or cmd.background):
        how = "in a pipeline" if cmd.in_pipeline else "in the background"
        return f"fork bomb (function `{cmd.function}` starts copies of itself {how})"
    return None


_RULES: tuple[Callable[[SimpleCommand], str | None], ...] = (
    _fork_bomb, _no_preserve_root, _recursive_ownership, _mv_to_dev_null, _dd, _mkfs, _device_write)
