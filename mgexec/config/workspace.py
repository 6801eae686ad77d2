"""Which directories an agent may work in: path checks, `--workspace`/`--allow`, and the refusal of broad workspaces.

A workspace of `/`, a system directory or the home directory would make local mode's guard rails
meaningless (commands may write anywhere inside the workspace), so it needs an explicit override.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from mgexec.config.limits import check_not_pseudo_fs, check_path_text, short_repr
from mgexec.config.models import ContextPath, ExecConfig
from mgexec.errors import ConfigError

# Refused together with everything below them.
SYSTEM_TREES = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/proc", "/sys",
                "/dev", "/System", "/Library", "/private/etc")
# Refused themselves; a project below them (/var/www/site, /tmp/build, /home/me/src) is fine.
SYSTEM_DIRS = frozenset({"/var", "/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/tmp", "/var/mail",
                         "/home", "/opt", "/srv", "/tmp", "/mnt", "/media", "/run", "/root", "/snap", "/Users",
                         "/Applications", "/Volumes", "/private", "/private/var", "/private/tmp"})
OVERRIDE = "--allow-broad-workspace (or command_line_allow_broad_workspace: true in the config)"


def resolve_path(value: Any, key: str, base: Path) -> Path:
    """An absolute, symlink-free path from a config value or flag, with the path rules applied."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ValueError(f"{key} must be a path, got {short_repr(value)}")
    check_path_text(str(value), key)
    given = Path(os.path.normpath(base / Path(str(value)).expanduser()))
    # Both spellings: /proc/self/cwd resolves to a real directory, but through the kernel's view of a process.
    check_not_pseudo_fs(given, key, value)
    try:
        resolved = given.resolve()
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"{key} {short_repr(str(value))} cannot be resolved: {getattr(exc, 'strerror', None) or exc}") from None
    check_path_text(str(resolved), key)
    check_not_pseudo_fs(resolved, key, value)
    return resolved


def broad_reason(path: Path, home: Path | None = None) -> str | None:
    """Why `path` is too broad to be a workspace, or None when it is an ordinary directory."""
    real = Path(os.path.realpath(path))
    home_env = home if home is not None else _home()
    real_home = Path(os.path.realpath(home_env)) if home_env else None
    if real == Path("/"):
        return "the root of the whole filesystem"
    if real_home is not None and real == real_home:
        return "your home directory (with your SSH keys, shell profile and every project in it)"
    if real_home is not None and real_home.is_relative_to(real):
        return f"a directory that contains your home directory {real_home}"
    if str(real) in SYSTEM_DIRS or any(real == Path(t) or real.is_relative_to(t) for t in SYSTEM_TREES):
        return "a system directory"
    return None


def _home() -> Path | None:
    try:
        return Path.home()
    except RuntimeError:
        return None


def broad_refusal(path: Path, reason: str, origin: str, *, what: str = "workspace") -> str:
    """The one paragraph naming the directory, why it is refused, and the ways out."""
    if what != "workspace":
        return (f"Refusing to allow {path}: it is {reason}, and commands could then work anywhere inside it. It "
                f"came from {origin}. Allow a narrower directory instead (--allow DIR[:ro|rw], or the config's "
                f"context paths), or add {OVERRIDE}.")
    return (f"Refusing to use {path} as the workspace: it is {reason}, and commands may change anything inside "
            f"the workspace (in local mode that is the difference between guard rails and none). It came from "
            f"{origin}. Fix it in one of three ways: pass --workspace DIR (for an MCP client, in the server's "
            "\"args\": [\"serve\", \"--workspace\", \"/path/to/project\"]); set cwd: DIR under agent.backend in "
            "the config file; or start `mgexec serve` without a workspace from a client that offers MCP roots "
            f"(its open folders). To use {path} anyway, add {OVERRIDE}.")


def parse_allow(spec: str) -> tuple[str, str]:
    """`DIR`, `DIR:ro` or `DIR:rw` -> (DIR, permission); read-only unless `:rw` is given."""
    for suffix, permission in ((":rw", "write"), (":ro", "read")):
        if spec.endswith(suffix):
            return spec[: -len(suffix)], permission
    return spec, "read"


def apply_flags(config: ExecConfig, *, workspace: str | None, allow: Iterable[str], allow_broad: bool,
                base: Path | None = None) -> ExecConfig:
    """`--workspace`, `--allow` and `--allow-broad-workspace` over a loaded config (flags win)."""
    base = (base or Path.cwd()).resolve()
    update: dict[str, Any] = {}
    try:
        if workspace is not None:
            update["workspace"] = _existing_dir(workspace, "--workspace", base)
            update["workspace_implicit"] = False
        contexts = {c.path: c for c in config.context_paths}
        for spec in allow:
            raw, permission = parse_allow(spec)
            path = _existing_dir(raw, "--allow", base)
            contexts[path] = ContextPath(path=path, permission=permission)
    except ValueError as exc:
        raise ConfigError(f"{exc}.") from None
    if allow:
        update["context_paths"] = tuple(contexts.values())
    if allow_broad:
        update["allow_broad_workspace"] = True
    return config.model_copy(update=update) if update else config


def _existing_dir(value: str, key: str, base: Path) -> Path:
    path = resolve_path(value, key, base)
    if not path.is_dir():
        raise ValueError(f"{key} {value} {'is not a directory' if path.exists() else 'does not exist'}; "
                         "give an existing directory")
    return path


def workspace_problem(config: ExecConfig, origin: str = "the config's cwd") -> str | None:
    """The refusal paragraph when the workspace is broad and nothing allows it, else None."""
    if config.allow_broad_workspace:
        return None
    reason = broad_reason(config.workspace)
    if reason is None:
        return None
    if config.workspace_implicit:
        origin = "the current directory, since neither --workspace nor the config's cwd names a workspace"
    return broad_refusal(config.workspace, reason, origin)


def check_workspace(config: ExecConfig, origin: str = "the config's cwd", *, workspace: bool = True) -> None:
    """ConfigError for a broad workspace (unless workspace=False) or allowed path that nothing allows."""
    if workspace and (problem := workspace_problem(config, origin)) is not None:
        raise ConfigError(problem)
    if config.allow_broad_workspace:
        return
    for context in config.context_paths:
        if (reason := broad_reason(context.path)) is not None:
            raise ConfigError(broad_refusal(context.path, reason, "--allow or the config's context paths",
                                            what="allowed path"))
