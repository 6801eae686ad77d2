"""An agent's SandboxSpec from its ExecConfig: the secret list, strict mode's baseline, and what exists on the host.

The only I/O of srt mode's path policy (lstat, readlink, realpath) happens here, once per sandbox;
the argv builder (sandbox.argv) is pure.
"""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path
from typing import Iterable

from mgexec.config import ExecConfig
from mgexec.sandbox.argv import SOCKET_DIRS, SandboxSpec

# Hidden in every read mode (MassGen's list); `~` is the server's $HOME.
SECRETS = ("~/.ssh", "~/.aws", "~/.gnupg", "~/.netrc", "~/.npmrc", "~/.pypirc", "~/.docker/config.json",
           "~/.git-credentials", "~/.kube", "~/.azure", "~/.config/gcloud", "~/.config/gh",
           "/etc/shadow", "/etc/gshadow")
# Beyond MassGen's list: what only root may read, for a server that runs as root (root keeps owner access).
ROOT_SECRETS = ("/etc/ssh/ssh_host_*_key", "/etc/ssl/private")
# What strict mode shows besides the agent's paths: enough to run the system's tools.
BASELINE = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def home_dir(env: dict[str, str] | None = None) -> str:
    """The server's $HOME, symlink-free; "/" when unset (then no home is hidden or emptied)."""
    home = (env if env is not None else os.environ).get("HOME") or "/"
    return os.path.realpath(home)


def secret_paths(home: str, deny_read: Iterable[Path] = ()) -> list[str]:
    """The secret list and deny_read, each also by its resolved path (a symlinked ~/.ssh hides its target)."""
    named = [os.path.normpath(s.replace("~", home, 1)) if s.startswith("~") else s for s in SECRETS]
    named += [match for pattern in ROOT_SECRETS for match in sorted(glob.glob(pattern))]
    named += [str(p) for p in deny_read]
    found: list[str] = []
    for path in named:
        found.append(path)
        found.append(os.path.realpath(path))
    return list(dict.fromkeys(found))


def kind_of(path: str) -> str | None:
    """'dir', 'file' or 'link:TARGET' for what is at path (not followed); None when nothing is."""
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return None
    if stat.S_ISLNK(info.st_mode):
        return "link:" + os.readlink(path)
    return "dir" if stat.S_ISDIR(info.st_mode) else "file"


def _mask_target(path: str) -> bool:
    kind = kind_of(path)
    return kind is not None and not kind.startswith("link:")


def _real(paths: Iterable[Path | str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(os.path.realpath(p) for p in paths))


def build_spec(config: ExecConfig, *, home: str | None = None, sockets: Iterable[str] = (),
               work_dir: str | None = None) -> SandboxSpec:
    """The spec of the agent's sandbox; `sockets`: host unix sockets to bind in besides allow_unix_sockets."""
    box = config.sandbox
    home = home or home_dir()
    writable = () if box.read_only else _real([config.workspace, *(c.path for c in config.context_paths
                                                                     if c.permission == "write"), *box.allow_write])
    readable = _real([*(c.path for c in config.context_paths if c.permission == "read" or box.read_only),
                      *([config.temp_workspace] if config.temp_workspace else []),
                      *([config.workspace] if box.read_only else [])])
    # Masks go on the very paths: a symlinked secret is hidden by its target, the link itself is harmless.
    hidden = tuple(p for p in secret_paths(home, box.deny_read) if _mask_target(p))
    spec_paths = [*writable, *readable, *_real(box.allow_read), *_real(box.deny_write), *hidden,
                  *_real([*box.allow_unix_sockets, *sockets]), *BASELINE, *SOCKET_DIRS, home]
    kinds = {p: k for p in dict.fromkeys(spec_paths) if (k := kind_of(p)) is not None}
    return SandboxSpec(read_mode=box.read_mode, home=home, writable=writable, readable=readable,
                       allow_read=_real(box.allow_read), deny_write=_real(box.deny_write), hidden=hidden,
                       sockets=_real([*box.allow_unix_sockets, *sockets]), baseline=BASELINE, kinds=kinds,
                       work_dir=work_dir)
