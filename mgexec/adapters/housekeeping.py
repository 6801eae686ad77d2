"""Container housekeeping behind `mgexec up`, `down`, `ps` and `cleanup`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from mgexec.config import ExecConfig
from mgexec.docker.engine import DockerCLI, resolve_binary
from mgexec.docker.container import ContainerInfo, ContainerManager
from mgexec.errors import ContainerConflict
from mgexec.executors.docker import DockerExecutor


def docker_cli(config: ExecConfig) -> DockerCLI:
    return DockerCLI(resolve_binary(config.docker_binary, os.environ), context=config.docker_context)


async def up(config: ExecConfig, on_progress=None) -> str:
    """Start the agent's container and keep it after this process ends; say what happened."""
    manager = ContainerManager(docker_cli(config), config)
    existing = await manager.inspect()
    if existing is not None and existing.managed and existing.kept and existing.running:
        return f"{manager.name} is already up; `mgexec exec --config ...` uses it, `mgexec down` removes it."
    await DockerExecutor(config, keep=True).start(on_progress)
    return f"{manager.name} is up; `mgexec exec --config ...` now reuses it, `mgexec down` removes it."


async def down(config: ExecConfig) -> str:
    manager = ContainerManager(docker_cli(config), config)
    info = await manager.inspect()
    if info is None:
        return f"{manager.name} is not running; nothing to do."
    if not info.managed:
        raise ContainerConflict(f"{manager.name} was not created by mgexec, so `mgexec down` leaves it alone; "
                                f"remove it with `docker rm -f {manager.name}` if it is not needed.")
    if not info.kept and not info.orphaned:
        owner = info.owner
        raise ContainerConflict(f"{manager.name} belongs to a running mgexec process (pid {owner.pid if owner else '?'}); "
                                "stop that process instead, and it removes its container itself.")
    await manager.remove()
    return f"{manager.name} removed."


@dataclass(frozen=True)
class Row:
    name: str
    agent: str
    state: str
    held_by: str
    workspace: str


async def list_containers(config: ExecConfig) -> list[Row]:
    manager = ContainerManager(docker_cli(config), config)
    return [_row(info) for info in await manager.list_managed()]


def _row(info: ContainerInfo) -> Row:
    owner = info.owner
    if info.kept:
        held = "kept (mgexec up)"
    elif owner is None:
        held = "unknown owner"
    else:
        held = f"pid {owner.pid} on {owner.host}" + ("" if owner.alive() else " (gone: leftover)")
    return Row(info.name, info.labels.get("io.mgexec.agent", "?"), info.status or ("running" if info.running else "stopped"),
               held, info.labels.get("io.mgexec.workspace", "?"))


async def cleanup(config: ExecConfig, include_kept: bool = False) -> list[str]:
    """Remove every mgexec container whose owner is gone (and kept ones, when asked); names removed."""
    manager = ContainerManager(docker_cli(config), config)
    removed = []
    for info in await manager.list_managed():
        if info.orphaned or (include_kept and info.kept):
            await manager.remove(info.name)
            removed.append(info.name)
    return removed
