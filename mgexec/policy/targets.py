"""Which paths are catastrophic to delete or overwrite: `/`, homes, top-level system
directories, wildcards over them, and disk devices. Pure string work, no file system access.
"""

from __future__ import annotations

import fnmatch
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
# How a process names itself in /proc: `/proc/self/cwd` is the command's own directory.
_OWN_PID = frozenset({"self", "thread-self", "$$", "${$}", "$BASHPID", "${BASHPID}"})


def catastrophic_target(path: str, *, cwd: str | None = None, home: str | None = None) -> str | None:
    """Describes `path` if removing it recursively would wreck the system or a home; else None.

    Brace alternatives are tried one by one (`/{tmp,usr}` reaches /usr). A relative path is taken
    from `cwd` (an absolute path or a `~` form); `home`, when known, is the absolute path that
    `~` stands for, so `/home/me/..`-style spellings of it are recognised too.
    """
    for alternative in brace_expand(path):
        reason = _catastrophic(alternative, cwd, home)
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


def _catastrophic(path: str, cwd: str | None, home: str | None) -> str | None:
    reason = _as_written(path, cwd, home)
    # dash (and bash without globskipdots) lets `.?` or `.*` match `..`: try that reading too.
    pieces = path.split("/")
    dotdot = next((i for i, p in enumerate(pieces) if p.startswith(".") and p != ".."
                   and _GLOB_CHARS.search(p) and fnmatch.fnmatchcase("..", p)), None)
    if reason or dotdot is None:
        return reason
    reason = _catastrophic("/".join(pieces[:dotdot] + [".."] + pieces[dotdot + 1:]), cwd, home)
    if reason and "as `..`" not in reason:
        reason += f", reading `{pieces[dotdot]}` as `..`"
    return reason


def _as_written(path: str, cwd: str | None, home: str | None) -> str | None:
    head = _head(path)
    if head is None and cwd is not None and _head(cwd) is not None:
        head = _head(cwd.rstrip("/") + "/" + path)
    if head is None:
        return None  # a relative path with no known directory, or a bare variable
    label, parts = head
    home_parts = _components(home) if home and home.startswith("/") else None
    stack: list[str] = []
    for i, part in enumerate(parts):
        if part == "..":
            if stack:
                stack.pop()
        elif _GLOB_CHARS.search(part) and not _proc_pid_slot(stack, parts[i + 1:i + 2]):
            # A wildcard over all entries of a critical directory (or any at the top level,
            # where `/u*` reaches /usr) is as bad as the directory itself.
            if not stack or _ALL_GLOB.fullmatch(part):
                return _describe(stack, label, wildcard=path, home_parts=home_parts)
            return None
        else:
            stack.append(part)
            link = _proc_link(stack, cwd)
            if link is not None:
                label, stack = link[0] or label, link[1]
    return _describe(stack, label, wildcard=None, home_parts=home_parts)


def _head(path: str) -> tuple[str, list[str]] | None:
    """The home label and the components of an absolute or `~` path; None for a relative one."""
    home, other = _HOME.match(path), _OTHER_HOME.match(path)
    # A home directory is modelled as /home/<marker>, so `~/..` lands on /home and `~/../..` on /.
    if home:
        return "your home directory", ["home", _HOME_MARK] + _components(home["rest"] or "")
    if other:
        return (f"the home directory `~{other['user']}`",
                ["home", _HOME_MARK] + _components(other["rest"] or ""))
    if path.startswith("/"):
        return "", _components(path)
    return None


def _proc_pid_slot(stack: list[str], following: list[str]) -> bool:
    """True where a wildcard stands for a process id in `/proc/*/root` or `/proc/1/task/*/cwd`."""
    at_pid = stack == ["proc"] or (len(stack) == 3 and stack[0] == "proc" and stack[2] == "task")
    return at_pid and following in (["root"], ["cwd"])


def _proc_link(stack: list[str], cwd: str | None) -> tuple[str, list[str]] | None:
    """Where `/proc/PID/root` (`/`) and `/proc/PID/cwd` lead: a process's own cwd is the command's
    directory; another process's is unknown, and taken as `/` (that of init)."""
    if not stack or stack[0] != "proc" or stack[-1] not in ("root", "cwd"):
        return None
    if not (len(stack) == 3 or (len(stack) == 5 and stack[2] == "task")):
        return None
    if stack[-1] == "root" or stack[1] not in _OWN_PID:
        return "", []
    head = _head(cwd) if cwd else None
    return head if head is not None else ("", [])


def _describe(stack: list[str], home_label: str, wildcard: str | None,
              home_parts: list[str] | None = None) -> str | None:
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
    elif stack == home_parts:
        what = f"your home directory `/{joined}`"
    else:
        return None
    return f"everything matching `{wildcard}` ({what} or its contents)" if wildcard else what


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]
