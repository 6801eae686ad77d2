"""Container housekeeping behind `mgexec up`, `down`, `ps` and `cleanup`."""

from __future__ import annotations

from dataclasses import dataclass

from mgexec.config import ExecConfig
from mgexec.deployments import State
from mgexec.deployments.container import ContainerDeployment, list_managed, remove_leftovers, take_down_kept
from mgexec.docker.container import ContainerInfo


async def up(config: ExecConfig, on_progress=None) -> str:
    """Start the agent's container and keep it after this process ends; say what happened."""
    deployment = ContainerDeployment(config, keep=True)
    await deployment.open()
    reused = deployment.state is State.REUSED
    try:
        await deployment.prepare(on_progress)
    finally:
        await deployment.close()  # a kept container outlives its deployment
    if reused:
        return f"{deployment.name} is already up; `mgexec exec --config ...` uses it, `mgexec down` removes it."
    return f"{deployment.name} is up; `mgexec exec --config ...` now reuses it, `mgexec down` removes it."


async def down(config: ExecConfig) -> str:
    name = config.container_name
    if not await take_down_kept(config):
        return f"{name} is not running; nothing to do."
    return f"{name} removed."


@dataclass(frozen=True)
class Row:
    name: str
    agent: str
    state: str
    held_by: str
    workspace: str


async def list_containers(config: ExecConfig) -> list[Row]:
    return [_row(info) for info in await list_managed(config)]


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
    return await remove_leftovers(config, include_kept)
