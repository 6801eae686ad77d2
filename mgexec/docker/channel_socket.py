"""The warm channel's fast path out of a container: a unix socket the host listens on, in a host directory
mgexec mounts into each container it creates, so output bytes skip the engine's exec stream.

Agents' commands run as the helper's uid and see the directory, so the socket is guarded: the helper
gets a random token on its private stdin and sends it first; the host takes the first connection with
that token (a constant-time compare), then stops listening and unlinks the socket, so nothing else can
connect or inject frames. Containers without the mount, or engines elsewhere, use the stdio frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

from mgexec.docker.argv import Mount
from mgexec.inside.wire import MAX_PAYLOAD, TOKEN_BYTES

log = logging.getLogger("mgexec.channel")

INSIDE_DIR = "/run/mgexec"  # where the directory appears inside the container
TOKEN_WAIT = 5.0  # how long a connection may take to send its token
DIR_NAME_LENGTH = 16  # hex digits of the hash of the container's name


def channels_root() -> Path:
    """The one home of the channel directories: the user's runtime dir, else a private one in /tmp."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "mgexec" if runtime and os.path.isdir(runtime) else \
        Path(tempfile.gettempdir()) / f"mgexec-{os.getuid()}"
    return base / "channels"


def channel_dir(container: str) -> Path:
    """The host directory of one container (hashed: a unix socket path must stay under 108 bytes)."""
    return channels_root() / dir_name(container)


def dir_name(container: str) -> str:
    return hashlib.sha256(container.encode()).hexdigest()[:DIR_NAME_LENGTH]


def engine_is_local(context: str | None, env: Mapping[str, str] | None) -> bool:
    """Whether the engine shares this host's files and sockets: a unix socket here and no other context
    (an engine over tcp or ssh would mount its own host's directory; Docker Desktop's socket does not
    cross its VM, which the helper finds out and reports)."""
    env = os.environ if env is None else env
    host = env.get("DOCKER_HOST", "")
    if host:
        return host.startswith("unix://") and not context
    context = context or env.get("DOCKER_CONTEXT") or _current_context(env)
    return context in (None, "", "default")


def _current_context(env: Mapping[str, str]) -> str | None:
    """The docker CLI's chosen context (Docker Desktop sets `desktop-linux`, whose engine is in a VM that
    sees only shared folders): currentContext in DOCKER_CONFIG's or ~/.docker's config.json."""
    directory = env.get("DOCKER_CONFIG") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(directory, "config.json"), encoding="utf-8") as config:
            current = json.load(config).get("currentContext")
    except (OSError, ValueError, AttributeError):
        return None
    return current if isinstance(current, str) else None


def channel_mount(container: str) -> Mount | None:
    """The container's channel directory, created now, mounted read-only at INSIDE_DIR (a connect to a
    socket needs no write access to the file system it is on); None when it cannot be made safely."""
    path = prepare_dir(container)
    return None if path is None else Mount(str(path), INSIDE_DIR, read_only=True)


def prepare_dir(container: str) -> Path | None:
    """Create the container's directory (0755: the container's user must reach the socket in it) and mark it
    fresh; None when it cannot be made safely, e.g. someone else planted /tmp/mgexec-UID (then: stdio frames)."""
    root = channels_root()
    path = channel_dir(container)
    try:
        for directory in (root.parent, root):
            directory.mkdir(exist_ok=True, mode=0o700)
            if not private_dir(directory):  # checked before anything is made inside it
                log.debug("no channel directory for %s: %s is not private to this user", container, directory)
                return None
        with root_lock(root, exclusive=False) as locked:
            if locked is None:  # never waits: a start during the few ms of a sweep uses the stdio frames
                log.debug("no channel directory for %s: `mgexec cleanup` is sweeping %s", container, root)
                return None
            path.mkdir(exist_ok=True, mode=0o755)
            if not private_dir(path):
                log.debug("no channel directory for %s: %s is not private to this user", container, path)
                return None
            path.chmod(0o755)
            os.utime(path)  # an existing directory is fresh again: the sweep's grace counts from here
    except OSError as exc:
        log.debug("no channel directory for %s: %s", container, exc)
        return None
    return path


@contextlib.contextmanager
def root_lock(root: Path, *, exclusive: bool) -> Iterator[int | None]:
    """A lock on the private root, never waited for: shared while a start makes or refreshes a directory,
    exclusive while `mgexec cleanup` sweeps (mgexec.docker.channel_sweep); yields the root's fd, or None
    when the other side holds it."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)  # releases the lock


def private_dir(directory: Path) -> bool:
    """A real directory (no symlink) of this uid that no one else may write to."""
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def remove_dir(container: str) -> None:
    """Delete the container's directory, only inside the private root and only a real directory of this
    user: rmtree itself never follows a link planted inside (it works through directory fds)."""
    path = channel_dir(container)
    if all(private_dir(d) for d in (path.parent.parent, path.parent, path)):
        shutil.rmtree(path, ignore_errors=True)


class SocketListener:
    """One link's socket: listens until the helper connects with the token, then never again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.token = secrets.token_bytes(TOKEN_BYTES)
        self.server: asyncio.AbstractServer | None = None
        self.accepted: asyncio.Future = asyncio.get_running_loop().create_future()
        self.accepted.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.rejected = 0  # connections without the right token
        self.waiting: set[asyncio.StreamWriter] = set()  # connections that have not sent a token yet

    @classmethod
    async def start(cls, container: str) -> SocketListener | None:
        """Listen in the container's directory; None when it has none (mgexec did not mount one)."""
        directory = channel_dir(container)
        if not all(private_dir(d) for d in (directory.parent.parent, directory.parent, directory)):
            return None
        listener = cls(directory / f"{secrets.token_hex(8)}.sock")
        try:
            listener.server = await asyncio.start_unix_server(listener._on_connect, path=str(listener.path),
                                                              limit=MAX_PAYLOAD * 2)
            listener.path.chmod(0o666)  # connect needs write permission; the token guards it
        except OSError as exc:
            log.debug("no channel socket in %s: %s", directory, exc)
            listener.close()
            return None
        return listener

    @property
    def inside_path(self) -> str:
        return f"{INSIDE_DIR}/{self.path.name}"

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.waiting.add(writer)
        try:
            token = await asyncio.wait_for(reader.readexactly(TOKEN_BYTES), TOKEN_WAIT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError):
            token = b""
        finally:
            self.waiting.discard(writer)
        if hmac.compare_digest(token, self.token) and not self.accepted.done():
            self.accepted.set_result((reader, writer))
            self.close()
            return
        self.rejected += 1
        writer.close()

    def close(self) -> None:
        """Stop listening, unlink the socket and cut connections still owing a token: no one can connect
        or wait after this."""
        if self.server is not None:
            self.server.close()
        for writer in list(self.waiting):
            writer.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
