"""The agent's container as a place to run commands: where its life is decided.

Opening creates the container and claims the name only when that finds it taken (reuses a container kept by
`mgexec up`, replaces a leftover whose owner is gone, refuses one held by a live owner or made by someone
else), checks a custom image (once per image id) and preinstalls packages; closing removes it only when this
deployment made it and does not keep it. A
container made by someone else can be adopted: commands run in it, and it is never stopped or removed. With
MassGen's --instance-id (its docker mode) the agent's container is MassGen's to make: it is adopted, waited for
at the first command when MassGen makes it after starting the server, and never created here.
With `boot_helper`, a container it creates from a runtime image starts the warm channel's helper itself
(mgexec.docker.channel_start), which the first channel open takes instead of a `docker exec`.
The docker calls themselves are mgexec.docker.container's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import time

from mgexec.config import ExecConfig
from mgexec.deployments.base import Deployment, ProgressCallback
from mgexec.deployments.state import Event, State
from mgexec.docker import adopt as massgen
from mgexec.docker.channel_socket import engine_is_local
from mgexec.docker.channel_start import HelperBoot
from mgexec.docker.channel_sweep import Sweep, sweep_stale
from mgexec.docker.container import RUNTIME_COMMAND, ContainerInfo, ContainerManager, Owner, build_spec
from mgexec.docker.credentials import resolve_env
from mgexec.docker.engine import DockerCLI
from mgexec.docker.preinstall import preinstall
from mgexec.errors import ContainerConflict, DockerError, DockerFailure, NoSuchContainer


class Claim(enum.Enum):
    """What to do with whatever holds the agent's container name."""

    CREATE = "create"  # the name is free
    REUSE = "reuse"  # a running container kept by `mgexec up`
    REPLACE = "replace"  # a stopped kept container, or a leftover whose owner is gone: remove, then create
    FOREIGN = "foreign"  # not made by mgexec: never touched
    HELD = "held"  # made by a live mgexec process: never touched


def decide_claim(info: ContainerInfo | None) -> Claim:
    """The claim on a name, from what the engine says holds it."""
    if info is None:
        return Claim.CREATE
    if not info.managed:
        return Claim.FOREIGN
    if info.kept:
        return Claim.REUSE if info.running else Claim.REPLACE
    return Claim.REPLACE if info.orphaned else Claim.HELD


class ContainerDeployment(Deployment):
    """One agent's container. `keep`: a container this deployment creates outlives it (`mgexec up`)."""

    where = "The agent's container"

    def __init__(self, config: ExecConfig, *, keep: bool = False, cli: DockerCLI | None = None,
                 adopt_wait: float = massgen.WAIT_SECONDS, boot_helper: bool = False) -> None:
        super().__init__()
        self.config = config
        self.keep = keep
        self.boot_helper = boot_helper and not keep  # start the channel's helper with a container made here
        self.booted: HelperBoot | None = None  # that helper, until the channel takes it
        self.cli = cli or DockerCLI.from_config(config)
        self.manager = ContainerManager(self.cli, config)
        self.adopt_wait = adopt_wait  # how long the first command waits for MassGen's container

    @property
    def adopts_massgen(self) -> bool:
        """MassGen passes --instance-id only in its docker mode, where it makes the agent's container itself."""
        return bool(self.config.instance_id) and not self.keep

    @property
    def awaiting_container(self) -> bool:
        """Opened, but MassGen's container did not exist yet: the first command waits for it."""
        return self.adopts_massgen and self.state is State.ABSENT

    @property
    def name(self) -> str:
        return self.manager.name

    async def open(self) -> None:
        """Reuse a container kept by `mgexec up`, or create one (checking its image); errors leave nothing behind.
        A deployment already running (an adopted container) stays as it is."""
        if self.running:
            return
        if self.adopts_massgen:
            found = await massgen.find_massgen_container(self.cli, self.config.agent_id, self.config.instance_id)
            if found is not None:
                await self._adopt_massgen(found)
            return
        secrets = resolve_env(self.config.credentials)
        spec = build_spec(self.config, secrets, owner=Owner.current(), kept=self.keep)
        spec = dataclasses.replace(spec, name=self.name)  # a deployment told another name uses it throughout
        # A custom image's id (for the layout cache) is read while `docker run` makes the container.
        image_id = asyncio.ensure_future(self.manager.image_id()) if self.manager.custom_image else None
        try:
            claim = await self._run_or_claim(spec, secrets, await self._helper_boot())
        except BaseException:
            if image_id is not None:
                image_id.cancel()
            self.drop_booted()
            raise
        if claim is Claim.REUSE:
            if image_id is not None:
                image_id.cancel()
            await self._move(Event.REUSE)
            return
        await self._move(Event.CREATE_KEPT if self.keep else Event.CREATE)
        if image_id is not None:
            await self._or_fail(self._check_custom_image(spec, image_id))

    async def _helper_boot(self) -> HelperBoot | None:
        """The channel's helper to start with the container: only for a runtime image (whose command is known)
        on a local engine (the channel directory is mounted)."""
        if not self.boot_helper or self.manager.custom_image \
                or not engine_is_local(self.cli.context, self.cli.client_env()):
            return None
        self.booted = await HelperBoot.prepare(self.name)
        return self.booted

    def take_booted(self) -> HelperBoot | None:
        """The helper the container started with, for the channel's first open (once)."""
        booted, self.booted = self.booted, None
        return booted

    def drop_booted(self) -> None:
        if self.booted is not None:
            self.booted.discard()
            self.booted = None

    async def _run_or_claim(self, spec, secrets, boot: HelperBoot | None = None) -> Claim:
        """`docker run` at once: the name is usually free, and a missing image or a dead engine fail it as
        clearly as a check would. Only a name in use is looked at (reused, replaced or refused)."""
        try:
            booted = dataclasses.replace(spec, command=boot.command(RUNTIME_COMMAND)) if boot else spec
            await self._create(booted, secrets)
            return Claim.CREATE
        except ContainerConflict:
            self.drop_booted()  # a replaced container's directory goes with it: this start opens the old way
        claim = await self._claim()
        if claim is not Claim.REUSE:
            await self._create(spec, secrets)  # a name taken again meanwhile fails with the engine's conflict
        return claim

    async def _create(self, spec, secrets) -> None:
        """`docker run`, never abandoned halfway: the engine may make the container after its client is killed,
        so a cancelled start lets the call end and removes what it made."""
        creating = asyncio.ensure_future(self.manager.create(spec, secrets))
        try:
            await asyncio.shield(creating)
        except asyncio.CancelledError:
            await asyncio.shield(self._remove_made(creating))
            raise

    async def _remove_made(self, creating: asyncio.Future) -> None:
        await asyncio.wait({creating})
        if not creating.cancelled() and creating.exception() is None:
            await self.manager.remove()

    async def _check_custom_image(self, spec, image_id: asyncio.Future) -> None:
        """A custom image's CMD keeps the container up and it has the runtime's layout; skipped for an image id
        that passed before."""
        cache = self.manager.layout_cache(spec)
        checked = await image_id
        if cache.proven(checked):
            return
        await self.manager.check_image_layout()  # a stopped container fails it, and is said to have stopped
        await self.manager.check_running()  # still up after the check: a CMD that ends is never remembered
        cache.remember(checked)

    async def explain_stop(self) -> None:
        """After a failed exec into a container made here: ImageInvalid (with its output) if it has stopped."""
        if self.made_here:
            await self.manager.check_running()

    async def adopt(self, name: str) -> None:
        """Run commands in `name`, a running container someone else made; it is never stopped or removed."""
        info = await self.manager.inspect(name)
        if info is None:
            raise NoSuchContainer(f"The container `{name}` to run commands in does not exist; start it first, or "
                                  "let mgexec create the agent's container.", kind=DockerFailure.NO_CONTAINER,
                                  container=name)
        if not info.running:
            raise DockerError(f"The container `{name}` to run commands in is stopped; mgexec does not start "
                              "containers it did not create, so start it first.", kind=DockerFailure.NOT_RUNNING,
                              container=name)
        self.manager.name = name
        await self._move(Event.ADOPT)

    async def wait_for_massgen(self) -> None:
        """Adopt MassGen's container once it runs, waiting at most `adopt_wait` seconds (NoSuchContainer after)."""
        if not self.awaiting_container:
            return
        found = await massgen.wait_for_massgen_container(self.cli, self.config.agent_id, self.config.instance_id,
                                                         wait=self.adopt_wait)
        if self.awaiting_container:  # not closed (or adopted by another command) meanwhile
            await self._adopt_massgen(found)

    async def _adopt_massgen(self, found: massgen.MassGenContainer) -> None:
        # Its mounts say where the agent's files are: the same paths on the host and inside.
        self.config = self.config.model_copy(update={"workspace": found.workspace, "workspace_implicit": False,
                                                     "context_paths": found.context_paths})
        await self.adopt(found.name)

    async def prepare(self, on_progress: ProgressCallback | None = None) -> None:
        """Package preinstall, in a container this deployment just created."""
        pre = self.config.packages.preinstall
        if pre.empty or not self.made_here:
            return

        async def say(message: str) -> None:
            if on_progress:
                await on_progress(0.0, message)

        await self._or_fail(preinstall(self.cli, self.name, pre, say))

    def launcher(self):
        """Background shells in this container; its watchdog removes the container after a crash only if it is ours."""
        from mgexec.shells.docker_launcher import DockerLauncher

        return DockerLauncher(cli=self.cli, container=self.name, owns_container=self.owns)

    async def _claim(self) -> Claim:
        info = await self.manager.inspect()
        claim = decide_claim(info)
        if claim is Claim.FOREIGN:
            raise ContainerConflict(
                f"A container named {self.name} exists that mgexec did not create. mgexec will not touch it: "
                f"remove it yourself (`{self.cli.binary} rm -f {self.name}`) if it is not needed, or give this agent "
                "another id.", kind=DockerFailure.CONFLICT, container=self.name)
        if claim is Claim.HELD:
            owner = info.owner
            raise ContainerConflict(
                f"The container {self.name} is in use by another mgexec process (pid {owner.pid if owner else '?'} "
                f"on {owner.host if owner else '?'}). Stop that session first, or give this agent another id; "
                "`mgexec ps` lists mgexec's containers and their owners.", kind=DockerFailure.CONFLICT,
                container=self.name)
        if claim is Claim.REPLACE:
            await self.manager.remove()
        return claim

    async def _take_down(self) -> None:
        self.drop_booted()
        await self.manager.remove()


async def take_down_kept(config: ExecConfig) -> bool:
    """`mgexec down`: remove the agent's kept (or left-over) container; False when there is none. Refuses
    one that mgexec did not create or that a live session holds (ContainerConflict)."""
    manager = ContainerManager(DockerCLI.from_config(config), config)
    info = await manager.inspect()
    claim = decide_claim(info)
    if claim is Claim.CREATE:
        return False
    if claim is Claim.FOREIGN:
        raise ContainerConflict(f"{manager.name} was not created by mgexec, so `mgexec down` leaves it alone; "
                                f"remove it with `docker rm -f {manager.name}` if it is not needed.",
                                kind=DockerFailure.CONFLICT, container=manager.name)
    if claim is Claim.HELD:
        owner = info.owner
        raise ContainerConflict(f"{manager.name} belongs to a running mgexec process (pid {owner.pid if owner else '?'}); "
                                "stop that process instead, and it removes its container itself.",
                                kind=DockerFailure.CONFLICT, container=manager.name)
    await manager.remove()
    return True


async def list_managed(config: ExecConfig) -> list[ContainerInfo]:
    """Every container mgexec made on the config's engine."""
    return await ContainerManager(DockerCLI.from_config(config), config).list_managed()


async def remove_leftovers(config: ExecConfig, include_kept: bool = False) -> list[str]:
    """Remove every mgexec container whose owner is gone (and kept ones, when asked); the names removed."""
    manager = ContainerManager(DockerCLI.from_config(config), config)
    removed = []
    for info in await manager.list_managed():
        if info.orphaned or (include_kept and info.kept):
            await manager.remove(info.name)
            removed.append(info.name)
    return removed


async def sweep_channel_dirs(config: ExecConfig) -> Sweep:
    """Remove the channel directories of containers that no longer exist (mgexec.docker.channel_sweep); only
    against an engine on this host, whose containers are the ones those directories were made for."""
    cli = DockerCLI.from_config(config)
    if not engine_is_local(cli.context, cli.client_env()):
        return Sweep(skipped="the engine is not on this host (DOCKER_HOST or the docker context point elsewhere), "
                             "so whether a directory's container exists cannot be told from it")
    listed_at = time.time()  # before the listing: a container made during it may be missing from it
    names = await ContainerManager(cli, config).list_names()
    return await asyncio.to_thread(sweep_stale, names, listed_at)  # rmtree of many directories blocks
