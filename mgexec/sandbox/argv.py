"""bwrap argv from a SandboxSpec: pure (spec in, `list[str]` out), the one place srt mode's mounts are decided.

Mount order is the policy: the read mode's base view, private /tmp and /run (and an empty $HOME
where it is hidden), then the agent's paths shallow to deep (writable, read-only, deny_write), then
the secret masks, then allow_read paths inside masks; tmpfs layers are made read-only last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Mapping

# The namespaces and process rules of every sandbox (see README, "srt mode: security model").
ISOLATION = ("--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc",
             "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL")
# Where host daemons keep their sockets (docker, dbus, systemd): replaced by empty directories.
SOCKET_DIRS = ("/run", "/var/run")
PRIVATE_TMP = "/tmp"


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandbox sees; paths absolute and symlink-free, `kinds` says what each is on the host.

    kinds: path -> "dir", "file" (any non-directory) or "link:TARGET"; a path absent from it does not
    exist on the host and is skipped (the read-mode base and the masks never create host paths).
    """

    read_mode: str  # confined | strict | open
    home: str
    writable: tuple[str, ...] = ()
    readable: tuple[str, ...] = ()  # the agent's read-only paths (read context paths, temp workspace)
    allow_read: tuple[str, ...] = ()
    deny_write: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()  # the secret list plus deny_read
    sockets: tuple[str, ...] = ()  # host unix sockets bound in (allow_unix_sockets, the proxy's)
    baseline: tuple[str, ...] = ()  # strict mode's system paths
    kinds: Mapping[str, str] = field(default_factory=dict)
    work_dir: str | None = None


def build_bwrap_argv(spec: SandboxSpec, command: list[str], *, bwrap: str = "bwrap") -> list[str]:
    """`bwrap [isolation] [mounts] [--chdir DIR] -- COMMAND...`."""
    argv = [bwrap, *ISOLATION]
    argv += _base_view(spec)
    argv += ["--proc", "/proc", "--dev", "/dev"]
    emptied = _emptied_dirs(spec)
    for path in emptied:
        argv += ["--tmpfs", path]
    argv += _reveals(spec)
    masked = _masks(spec)
    for path in masked:
        argv += (["--tmpfs", path] if spec.kinds[path] == "dir" else ["--ro-bind", "/dev/null", path])
    for path in spec.allow_read:
        if path in spec.kinds and any(_strictly_inside(path, m) for m in masked):
            argv += ["--ro-bind", path, path]
    # An agent's path bound right at an emptied directory (a workspace that is $HOME) is the mount there now.
    bound_at = {*spec.writable, *spec.readable, *spec.allow_read, *spec.deny_write}
    for path in [p for p in emptied if p != PRIVATE_TMP and p not in bound_at] + \
            [m for m in masked if spec.kinds[m] == "dir"]:
        argv += ["--remount-ro", path]
    if spec.work_dir is not None:
        argv += ["--chdir", spec.work_dir]
    return [*argv, "--", *command]


def _base_view(spec: SandboxSpec) -> list[str]:
    if spec.read_mode != "strict":
        return ["--ro-bind", "/", "/"]
    argv: list[str] = []
    for path in spec.baseline:
        kind = spec.kinds.get(path)
        if kind is None:
            continue
        if kind.startswith("link:"):
            argv += ["--symlink", kind[len("link:"):], path]
        else:
            argv += ["--ro-bind", path, path]
    return argv


def _emptied_dirs(spec: SandboxSpec) -> list[str]:
    """Private /tmp, empty socket directories, and an empty $HOME where the read mode hides it."""
    dirs = [PRIVATE_TMP] + [d for d in SOCKET_DIRS if spec.kinds.get(d) == "dir"]
    if spec.read_mode in ("confined", "strict") and spec.home not in ("/", "") and spec.kinds.get(spec.home) == "dir":
        dirs.append(spec.home)
    return dirs


def _reveals(spec: SandboxSpec) -> list[str]:
    """The agent's paths bound at their own paths, shallow before deep so a deeper rule wins."""
    mode: dict[str, str] = {}
    for paths, how in ((spec.readable, "ro"), (spec.allow_read, "ro"), (spec.writable, "rw"),
                       (spec.sockets, "rw"), (spec.deny_write, "ro")):
        for path in paths:
            # allow_read grants reading: below a writable path it is readable already, and stays writable.
            # One inside a secret is bound after the masks instead.
            below_writable = paths is spec.allow_read and any(_inside(path, w) for w in spec.writable)
            in_mask = paths is spec.allow_read and any(_strictly_inside(path, h) for h in spec.hidden)
            if path in spec.kinds and not below_writable and not in_mask:
                mode[path] = how
    argv: list[str] = []
    for path in sorted(mode, key=_depth):
        argv += ["--bind" if mode[path] == "rw" else "--ro-bind", path, path]
    return argv


def _masks(spec: SandboxSpec) -> list[str]:
    """Hidden paths that exist and would be visible; one named exactly in allow_read stays visible."""
    masks = [p for p in dict.fromkeys(spec.hidden)
             if p in spec.kinds and p not in spec.allow_read and visible(spec, p)]
    return sorted(masks, key=_depth)


def visible(spec: SandboxSpec, path: str) -> bool:
    """Whether the sandbox shows path (before the secret masks), from the read mode and the agent's paths."""
    revealed = (*spec.readable, *spec.allow_read, *spec.writable, *spec.deny_write)
    if any(_inside(path, r) for r in revealed):
        return True
    if spec.read_mode == "strict":
        return any(_inside(path, b) for b in spec.baseline if not spec.kinds.get(b, "").startswith("link:"))
    if _inside(path, PRIVATE_TMP) or any(_inside(path, d) for d in SOCKET_DIRS):
        return False
    return not (spec.read_mode == "confined" and _inside(path, spec.home))


def _depth(path: str) -> int:
    return len(PurePosixPath(path).parts)


def _inside(path: str, parent: str) -> bool:
    return PurePosixPath(path).is_relative_to(parent)


def _strictly_inside(path: str, parent: str) -> bool:
    return path != parent and _inside(path, parent)
