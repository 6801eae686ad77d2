"""Container housekeeping behind `mgexec up`, `down`, `ps` and `cleanup`."""

from __future__ import annotations

from dataclasses import dataclass

from mgexec.config import ExecConfig
from mgexec.deployments import State
from mgexec.deployments.container import (ContainerDeployment, list_managed, remove_leftovers, sweep_channel_dirs,
                                          take_down_kept)
from mgexec.docker.channel_socket import channels_root
from mgexec.docker.channel_sweep import Sweep
from mgexec.docker.container import ContainerInfo
from mgexec.errors import DockerError


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


@dataclass(frozen=True)
class Cleanup:
    removed: list[str]  # the containers
    channels: Sweep  # the channel directories of containers that no longer exist

    def report(self) -> str:
        lines = ["Removed: " + ", ".join(self.removed) if self.removed else "No leftovers."]
        if self.channels.skipped:
            lines.append(f"Channel directories not swept: {self.channels.skipped}.")
        elif self.channels.removed:
            lines.append(f"Removed {self.channels.removed} stale channel "
                         f"director{'y' if self.channels.removed == 1 else 'ies'} from {channels_root()}.")
        else:
            lines.append("No stale channel directories.")
        return "\n".join(lines)


async def cleanup(config: ExecConfig, include_kept: bool = False) -> Cleanup:
    """Remove every mgexec container whose owner is gone (and kept ones, when asked), then the channel
    directories of containers that no longer exist; without the engine no directory is touched."""
    try:
        removed = await remove_leftovers(config, include_kept)
        return Cleanup(removed, await sweep_channel_dirs(config))
    except DockerError as exc:  # the same error, its fields kept, with one more sentence
        exc.args = (f"{exc} No channel directory was swept either: without the engine, whether a "
                    "directory's container exists cannot be known.",)
        raise
