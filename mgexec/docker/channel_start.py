"""The warm channel's helper started by the container itself, so the first open needs no `docker exec`:
its program and a one-time token in the container's channel directory, and the link over its socket.

The token never passes through argv or an environment (PID 1's would keep it, readable by every command
of the same uid in /proc/1/environ): it is a file in the read-only mount, deleted by the host as soon as
the helper has connected or the wait is given up, before any command exists. Anything that goes wrong
leaves the channel to open the old way (mgexec.docker.channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
from pathlib import Path

from mgexec.docker.channel_link import CLOSE_TIMEOUT, OPEN_TIMEOUT, _Link
from mgexec.docker.channel_program import helper_source
from mgexec.docker.channel_socket import INSIDE_DIR, SocketListener, prepare_dir
from mgexec.errors import ChannelUnavailable
from mgexec.waiting import finished_within

log = logging.getLogger("mgexec.channel")

BOOT_WAIT = 10.0  # from the end of `docker run` to the helper's connection, on a loaded machine


def _write_new(path: Path, data: bytes) -> None:
    """A new file (never through a planted name or link), readable by the container's user, not writable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        os.fchmod(fd, 0o644)  # whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


class HelperBoot:
    """One container's helper to start with it: listening before `docker run`, files gone once it connected."""

    def __init__(self, listener: SocketListener) -> None:
        self.listener = listener
        stem = listener.path.stem
        self.program = listener.path.with_name(f"mgexec-inside-{stem}.py")  # so `ps` says what it is
        self.token_file = listener.path.with_name(f"{stem}.token")
        self.taken = False  # whether connection() handed the helper's connection on
        # Connected: the token and program are no longer needed by anyone.
        listener.accepted.add_done_callback(lambda _: self._delete_files())

    @classmethod
    async def prepare(cls, container: str) -> HelperBoot | None:
        """Program, token file and listener in the container's channel directory; None when it cannot be made."""
        if prepare_dir(container) is None:
            return None
        listener = await SocketListener.start(container)
        if listener is None:
            return None
        boot = cls(listener)
        try:
            _write_new(boot.program, helper_source())
            _write_new(boot.token_file, listener.token.hex().encode("ascii"))
        except OSError as exc:
            log.debug("no helper started with %s: %s", container, exc)
            boot.discard()
            return None
        return boot

    def command(self, image_command: tuple[str, ...]) -> tuple[str, ...]:
        """The container's command: the helper in the background (a double fork: PID 1 adopts and reaps
        it), then `exec` of the image's own command, which keeps its place and its arguments."""
        def inside(path: Path) -> str:
            return shlex.quote(f"{INSIDE_DIR}/{path.name}")

        script = (f"(python3 -I -S -u {inside(self.program)} {inside(self.listener.path)} {inside(self.token_file)} "
                  '</dev/null >/dev/null &); exec "$@"')
        return ("/bin/sh", "-c", script, "sh", *image_command)

    async def connection(self, timeout: float | None = None) -> tuple[asyncio.StreamReader,
                                                                      asyncio.StreamWriter] | None:
        """The helper's authenticated connection, or None (logged) when none came in time; discards either way."""
        wait = BOOT_WAIT if timeout is None else timeout
        try:
            if await finished_within(self.listener.accepted, wait):
                self.taken = True
                return self.listener.accepted.result()
            log.debug("the helper started with the container did not connect within %g s (%d connections with a "
                      "wrong token); opening the channel with docker exec", wait, self.listener.rejected)
            return None
        finally:
            self.discard()

    def discard(self) -> None:
        """Stop listening and delete the token and program: nothing can use them after this. A connection
        accepted but never handed on (a start that went another way) is closed."""
        self.listener.close()
        accepted = self.listener.accepted
        if not self.taken and accepted.done() and not accepted.cancelled() and accepted.exception() is None:
            accepted.result()[1].close()
        self._delete_files()

    def _delete_files(self) -> None:
        for path in (self.token_file, self.program):
            with contextlib.suppress(OSError):
                path.unlink()


class BootedLink(_Link):
    """A link to a helper the container started: the socket carries its hello, the requests and the frames;
    closing the socket is its lifeline's end."""

    def __init__(self, connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], container: str,
                 on_lost) -> None:
        self.reader, self.writer = connection
        super().__init__(None, [], container, on_lost)  # type: ignore[arg-type]
        self.socket = connection

    @property
    def requests(self) -> asyncio.StreamWriter:
        return self.writer

    async def _read(self) -> None:
        try:
            rest = await self._read_hello(self.reader)
            if rest is not None:
                await self._read_frames(self.reader, rest)
        except (ValueError, KeyError, TypeError) as exc:
            self.reason = f"it sent an unreadable message ({exc})"
        except OSError as exc:
            self.reason = f"its socket failed ({exc})"
        finally:
            self.writer.close()
            await self._ended()

    async def _drain_stderr(self) -> None:
        """Its stderr goes to the container's log."""

    async def _exit_status(self) -> tuple[int | None, str]:
        if self.reason is None:
            self.reason = "the helper's socket closed: the helper inside exited or was killed"
        return None, self.said.decode("utf-8", "replace").strip()

    async def abort(self) -> None:
        self.writer.close()

    async def handshake(self) -> None:
        if not await finished_within(self.hello, OPEN_TIMEOUT):
            raise ChannelUnavailable(f"mgexec's exec helper in the container `{self.container}` connected but did "
                                     f"not say hello within {OPEN_TIMEOUT:g} seconds.")

    async def close(self) -> None:
        """Half-close the socket (the helper kills its groups and exits, which closes its end), then wait."""
        self.closing = True
        if not self.writer.is_closing():
            with contextlib.suppress(OSError):
                self.writer.write_eof()
        if not await finished_within(self.tasks[0], CLOSE_TIMEOUT):
            self.writer.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)
