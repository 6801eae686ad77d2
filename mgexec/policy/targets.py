"""Which paths are catastrophic to delete or overwrite: `/`, homes, top-level system
directories, wildcards over them, and disk devices. Pure string work, no file system access.
"""

from __future__ import annotations

import re

from mgexec.policy import braces

# Top-level directories of Linux and macOS whose loss wrecks the system or its users' data.
_SYSTEM_DIRS = frozenset({
    "bin", "boot", "dev", "etc", "home", "lib", "lib32", "lib64", "libx32", "media", "mnt", "opt",
    "proc", "root", "run", "sbin", "snap", "srv", "sys", "usr", "var",
    "Applications", "Library", "System", "Users", "Volumes", "private", "cores"})
_SYSTEM_SUBDIRS = frozenset({
    "usr/bin", "usr/sbin", "usr/lib", "usr/lib32", "usr/lib64", "usr/libexec", "usr/include",
    "usr/local", "usr/share", "var/lib", "private/etc", "private/var"})
_HOME_PARENTS = frozenset({"home", "Users"})
_HOME_MARK = "\0home"  # cannot occur in a real path
_HOME = re.compile(r"(~|\$HOME\b|\$\{HOME(?:[:#%/^,@][^}]*)?\})(?P<rest>/.*)?$")
_OTHER_HOME = re.compile(r"~(?P<user>[A-Za-z_][A-Za-z0-9_.-]*)(?P<rest>/.*)?$")
_ALL_GLOB = re.compile(r"\.?[*?]+")
_GLOB_CHARS = re.compile(r"[*?\[]")
_BLOCK_DEVICE = re.compile(
    r"/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|r?disk\d|disk/|dm-\d|md\d|mapper/)")


def catastrophic_target(path: str) -> str | None:
    """Describes `path` if removing it recursively would wreck the system or a home; else None.

    Brace alternatives are tried one by one (`/{tmp,usr}` reaches /usr).
    """
    for alternative in brace_expand(path):
        reason = _catastrophic(alternative)
        if reason:
            return reason if alternative == path else f"{reason}, from `{path}`"
    return None


def is_block_device(path: str) -> bool:
    """True for disk and partition device nodes (`/dev/sda1`, `/dev/nvme0n1`, `/dev/disk2`)."""
    return any(_BLOCK_DEVICE.match(normalize(p)) for p in brace_expand(path))


def normalize(path: str) -> str:
    """Collapses `//`, `.` and `..` without touching the file system."""
    stack: list[str] = []
    for part in _components(path):
        if part == "..":
            if stack:
                stack.pop()
        else:
            stack.append(part)
    return "/" + "/".join(stack) if path.startswith("/") else "/".join(stack)


def brace_expand(word: str) -> list[str]:
    """Bash brace alternatives of `word` (`a{b,c}` -> `ab`, `ac`), counted first: a word that
    would make more than MAX_BRACE_WORDS is refused (PolicyBudgetExceeded), never enumerated."""
    if not braces.may_expand(word):
        return [word]
    return list(braces.expand_text(word))


def _catastrophic(path: str) -> str | None:
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
