"""`mgexec cleanup`'s sweep of channel directories whose container no longer exists (a SIGKILLed server's,
a power loss's): only this user's real directories in the private root, never through a link."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from typing import Iterable

from mgexec.docker.channel_socket import DIR_NAME_LENGTH, channels_root, dir_name, private_dir, root_lock
from mgexec.docker.container import RUN_TIMEOUT

# Why a directory removed here cannot be one a start still needs:
# - A start makes or refreshes its directory (mkdir, then its mtime set to now) under a shared lock on the
#   root (channel_socket.prepare_dir), and only then runs `docker run`, which the client gives up after
#   RUN_TIMEOUT; when it succeeds the container exists from then on, until something removes it.
# - The sweep lists every container on the engine (running or not, kept or not, mgexec's or not) starting
#   at `listed_at`, then takes the exclusive lock, so no start can touch a directory while it decides, and
#   removes only a directory whose last touch is GRACE (five RUN_TIMEOUTs) before `listed_at` and whose
#   name is no listed container's hash. The start that last touched it had begun its `docker run` long
#   enough before the listing for its container to be listed if it was made and still exists; a start that
#   comes later touches the directory after the lock is released, and makes it anew if it was removed.
# The mount is read-only inside, so nothing in a container can make its directory look fresh or old. What
# this leans on: the wall clock not jumping forward by more than GRACE during a start, and an engine acting
# on a create request within GRACE of the client sending it.
GRACE = 5 * RUN_TIMEOUT  # seconds since a directory's last touch before a sweep may take it
_NAME = re.compile(f"[0-9a-f]{{{DIR_NAME_LENGTH}}}")


@dataclass(frozen=True)
class Sweep:
    """What a sweep did: how many directories it removed, or why it touched nothing."""

    removed: int = 0
    skipped: str | None = None


def sweep_stale(existing: Iterable[str], listed_at: float, *, grace: float = GRACE) -> Sweep:
    """Remove the directories of containers not in `existing` (every name the engine listed, starting at
    `listed_at`, a time.time()) untouched for `grace` seconds before that."""
    if not shutil.rmtree.avoids_symlink_attacks:
        return Sweep(skipped="this platform's rmtree could follow a link planted in a directory")
    root = channels_root()
    if not os.path.lexists(root):
        return Sweep()
    if not (private_dir(root.parent) and private_dir(root)):
        return Sweep(skipped=f"{root} or its parent is not a directory private to this user")
    keep = {dir_name(name) for name in existing}
    with root_lock(root, exclusive=True) as root_fd:
        if root_fd is None:
            return Sweep(skipped="a server is making its channel directory right now; run `mgexec cleanup` again")
        stale = [name for name in os.listdir(root_fd)
                 if _NAME.fullmatch(name) and name not in keep and _untouched(root / name, listed_at - grace)]
        for name in stale:
            # rmtree works through directory fds and refuses a link at the top: a link planted inside is
            # unlinked, never followed.
            shutil.rmtree(root / name, ignore_errors=True)
        return Sweep(removed=sum(not os.path.lexists(root / name) for name in stale))


def _untouched(path: os.PathLike, since: float) -> bool:
    """A real directory of this user that no one else may write to (no link), last touched before `since`."""
    if not private_dir(path):
        return False
    try:
        return os.lstat(path).st_mtime < since
    except OSError:
        return False
