"""A warm exec channel into a container: one long-lived `docker exec` running mgexec's helper (mgexec.inside).

Each command is still a fresh process inside the container, but costs a message instead of a new
`docker exec`; a lost channel fails its commands promptly and is reopened by the next one. Output
comes back as binary frames (mgexec.inside.wire), over a unix socket in the directory mgexec mounted
into a container it created (docker/channel_socket.py), else over the exec's own stdout. A container
mgexec just created may have started the helper itself (docker/channel_start.py): then the first open
takes its connection and needs no `docker exec`; a lost channel reopens with one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Mapping

from mgexec import processes
from mgexec.docker.argv import ExecSpec, build_exec_argv
from mgexec.docker.channel_link import _Link, _NotSent, open_failure  # noqa: F401 (open_failure: exported)
from mgexec.docker.channel_program import ChannelOutput, helper_source  # noqa: F401 (exported)
from mgexec.docker.channel_socket import SocketListener, engine_is_local
from mgexec.docker.channel_start import BootedLink, HelperBoot
from mgexec.docker.engine import DockerCLI
from mgexec.docker.errors import binary_error
from mgexec.errors import ChannelLost, DockerError, MgexecError
from mgexec.inside.channel_boot import HELPER_BOOT, ORPHAN_GROUPS_KILL, TOO_OLD_EXIT  # noqa: F401 (exported)
from mgexec.runner import ProcessOutput, spawn

log = logging.getLogger("mgexec.channel")


def helper_argv(cli: DockerCLI, container: str, user: str | None) -> list[str]:
    """`docker exec -i [--user U] CONTAINER python3 -I -u -c HELPER_BOOT`."""
    spec = ExecSpec(container, ("python3", "-I", "-u", "-c", HELPER_BOOT), user=user, interactive=True)
    return cli.argv(build_exec_argv(spec))


class ExecChannel:
    """Runs commands in a container through one warm helper; reopens it on demand after a loss."""

    def __init__(self, cli: DockerCLI, container: str, user: str | None = None,
                 boot: HelperBoot | None = None) -> None:
        self.cli = cli
        self.container = container
        self.user = user
        self._boot = boot  # the helper the container started, taken by the first open
        self._link: _Link | None = None
        self._open_lock = asyncio.Lock()
        self._closed = False
        self._cleanups: set[asyncio.Task] = set()

    @classmethod
    async def open(cls, cli: DockerCLI, container: str, user: str | None = None,
                   boot: HelperBoot | None = None) -> ExecChannel:
        """Connect to the helper the container started (`boot`), else start one; ChannelUnavailable when the
        image cannot run it (no python3 3.7+)."""
        channel = cls(cli, container, user, boot)
        await channel._connected()
        return channel

    @property
    def helper_pid(self) -> int | None:
        """The helper's pid inside the container while the channel is up."""
        link = self._link
        return link.helper_pid if link is not None and link.lost is None else None

    @property
    def uses_socket(self) -> bool:
        """Whether output comes over the mounted unix socket (else as frames on the exec's stdio)."""
        link = self._link
        return link is not None and link.lost is None and link.uses_socket

    async def run(self, command: str, *, work_dir: str, timeout: float, output_cap: int,
                  kill_grace: float = processes.KILL_GRACE, env: Mapping[str, str] | None = None) -> ProcessOutput:
        """Run `/bin/sh -c command` as a fresh process inside; the helper enforces timeout and caps."""
        try:
            link = await self._connected()
            return await link.run(command, work_dir, timeout, output_cap, kill_grace, env)
        except _NotSent:
            link = await self._connected()  # lost between the check and the send: reopen once
            return await link.run(command, work_dir, timeout, output_cap, kill_grace, env)

    async def close(self) -> None:
        """End the helper (it kills every command it runs) and reap the `docker exec` client."""
        self._closed = True
        if self._boot is not None:
            self._boot.discard()
        async with self._open_lock:
            if self._link is not None:
                await self._link.close()
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)

    async def _connected(self) -> _Link:
        link = self._link
        if link is not None and link.lost is None and not self._closed:
            return link
        async with self._open_lock:
            if self._closed:
                raise ChannelLost(f"The exec channel into the container `{self.container}` was closed, so it "
                                  "takes no more commands; this happens when the session has ended.")
            if self._link is None or self._link.lost is not None:
                if self._link is not None:
                    log.warning("exec channel into %s was lost; reopening it", self.container)
                    await self._link.close()
                self._link = await self._start()
            return self._link

    def _helper_command(self) -> tuple[list[str], dict[str, str] | None]:
        """The argv whose stdio becomes the channel (it runs `python3 -I -u -c BOOT`), and its environment.

        A seam: srt mode starts the same helper inside a bubblewrap sandbox instead of a container."""
        return helper_argv(self.cli, self.container, self.user), self.cli.client_env()

    def _spawn_error(self, exc: OSError, argv: list[str]) -> MgexecError:
        return binary_error(self.cli.binary, exc, argv)

    async def _listener(self) -> SocketListener | None:
        """The socket the helper may send its frames to: in the directory mgexec mounted into the container."""
        if not engine_is_local(self.cli.context, self.cli.client_env()):
            return None
        return await SocketListener.start(self.container)

    async def _start(self) -> _Link:
        boot, self._boot = self._boot, None
        if boot is not None:
            link = await self._booted(boot)
            if link is not None:
                return link
        argv, env = self._helper_command()
        listener = await self._listener()
        try:
            child = await spawn(argv, env=env, stdin_pipe=True)
        except OSError as exc:
            if listener is not None:
                listener.close()
            raise self._spawn_error(exc, argv) from exc
        link = _Link(child, argv, self.container, self._kill_orphans, listener)
        try:
            await link.handshake()
        except BaseException:
            await asyncio.shield(link.close())  # never leave a `docker exec` behind, even when cancelled
            raise
        return link

    async def _booted(self, boot: HelperBoot) -> _Link | None:
        """The link to the helper the container started; None (logged) when it did not connect or greet."""
        try:
            connection = await boot.connection()
        finally:
            boot.discard()  # also when cancelled
        if connection is None:
            return None
        link = BootedLink(connection, self.container, self._kill_orphans)
        try:
            await link.handshake()
        except DockerError as exc:
            log.debug("the helper started with %s failed its hello (%s); opening the channel with docker exec",
                      self.container, exc)
            await asyncio.shield(link.close())
            return None
        except BaseException:
            await asyncio.shield(link.close())
            raise
        log.debug("exec channel into %s: connected to the helper started with it", self.container)
        return link

    def _kill_orphans(self, pids: list[int]) -> None:
        """A helper killed from outside cannot stop its commands: kill their groups with a one-off exec."""
        spec = ExecSpec(self.container, ("python3", "-I", "-c", ORPHAN_GROUPS_KILL, *map(str, pids)), user=self.user)
        task = asyncio.create_task(self._quiet(self.cli.run(build_exec_argv(spec), timeout=30,
                                                            check=False)))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    @staticmethod
    async def _quiet(call) -> None:
        try:
            await call
        except DockerError:
            pass  # the container is gone, and its processes with it
