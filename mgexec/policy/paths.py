"""Resolves the work_dir an agent asks for and refuses any that leaves the workspace or allowed roots."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from mgexec.errors import PolicyViolation
from mgexec.policy.inputs import check_path_text


def resolve_work_dir(work_dir: str | None, *, workspace: Path, allowed_roots: Sequence[Path]) -> Path:
    """The real directory a command should run in.

    None or "" means the workspace; a relative path is taken from the workspace. Symlinks are
    followed (so a link out of the workspace is judged by where it points), and the result must
    be the workspace, one of `allowed_roots`, or inside one of them, and an existing directory.
    """
    if work_dir:
        check_path_text(work_dir, "work_dir")
    try:
        return _resolve(work_dir, workspace, allowed_roots)
    except PolicyViolation:  # itself an OSError (PermissionError)
        raise
    except OSError as exc:  # a path the kernel refuses, or a directory that vanished while looked at
        raise PolicyViolation(f"work_dir {_name(work_dir)} cannot be used: {exc.strerror or exc}. Pass an "
                              "existing directory inside the workspace.") from None


def _resolve(work_dir: str | None, workspace: Path, allowed_roots: Sequence[Path]) -> Path:
    real_workspace = Path(os.path.realpath(workspace))
    roots = [real_workspace] + [Path(os.path.realpath(root)) for root in allowed_roots]
    requested = Path(work_dir) if work_dir else Path(workspace)
    candidate = requested if requested.is_absolute() else Path(workspace) / requested
    resolved = Path(os.path.realpath(candidate))
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise PolicyViolation(_outside_message(work_dir, candidate, resolved, roots))
    try:
        is_dir = stat.S_ISDIR(os.stat(resolved).st_mode)  # one stat answers both questions below
    except (FileNotFoundError, NotADirectoryError):
        is_dir = None
    if is_dir is None:
        raise PolicyViolation(
            f"work_dir {_name(work_dir)} resolves to {str(resolved)!r}, which does not exist. Pass an "
            "existing directory (relative paths are taken from the workspace "
            f"{str(real_workspace)!r}), or create it first.")
    if not is_dir:
        raise PolicyViolation(
            f"work_dir {_name(work_dir)} resolves to {str(resolved)!r}, which is a file, not a "
            "directory. Pass the directory that contains it instead.")
    return resolved


def _outside_message(work_dir: str | None, candidate: Path, resolved: Path, roots: list[Path]) -> str:
    via_link = os.path.normpath(candidate) != str(resolved)
    how = " after following symlinks" if via_link else ""
    allowed = ", ".join(repr(str(root)) for root in roots[1:])
    where = f"the workspace {str(roots[0])!r}" + (f" or the allowed paths ({allowed})" if allowed else "")
    return (f"work_dir {_name(work_dir)} resolves{how} to {str(resolved)!r}, which is outside {where}. "
            "Commands may only run inside those directories: pass a path inside one of them "
            "(relative paths are taken from the workspace).")


def _name(work_dir: str | None) -> str:
    return repr(work_dir) if work_dir else "(the workspace)"


_WALK_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_work_dir(resolved: Path, *, workspace: Path, allowed_roots: Sequence[Path]) -> int:
    """A descriptor of the approved directory, opened one component at a time beneath its root.

    resolve_work_dir judged a path; a directory swapped for a symlink afterwards would send a
    process started by name elsewhere. Walking down with O_NOFOLLOW from the root (the configured
    workspace or allowed path) either reaches that same place or fails, and a process started in
    the descriptor runs where it was checked. The caller closes it.
    """
    roots = [Path(os.path.realpath(root)) for root in (workspace, *allowed_roots)]
    inside = [root for root in roots if resolved == root or resolved.is_relative_to(root)]
    if not inside:
        raise PolicyViolation(f"work_dir {str(resolved)!r} is outside the workspace and allowed paths.")
    root = max(inside, key=lambda r: len(r.parts))
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise PolicyViolation(f"The directory {str(root)!r} cannot be opened: {exc.strerror}.") from None
    try:
        for part in resolved.relative_to(root).parts:
            fd, parent = os.open(part, _WALK_FLAGS, dir_fd=fd), fd
            os.close(parent)
    except OSError as exc:
        os.close(fd)
        raise PolicyViolation(
            f"work_dir {str(resolved)!r} changed while it was being checked ({exc.strerror}: a directory on the "
            "way was replaced by a symlink or a file, or removed), so mgexec did not run the command. "
            "Try again once the directory stays put.") from None
    return fd


def fd_path(fd: int) -> str:
    """A path that leads to exactly the directory behind fd, for a child to chdir into before exec."""
    return f"/proc/self/fd/{fd}"
