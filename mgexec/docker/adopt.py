"""Finding the container MassGen made for an agent (to adopt it, never to remove it): its name, that mgexec did not make it, its paths.

MassGen's docker mode creates `massgen-{agent_id}-{instance_id}` (or `massgen-{agent_id}` without an
instance id) with docker-py, with no labels, its working directory the agent's workspace and every
path mounted at its host path. It may do so after launching the server, hence the bounded wait.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from mgexec.config.models import ContextPath
from mgexec.docker.argv import build_inspect_argv
from mgexec.docker.container import LABEL
from mgexec.docker.engine import DockerCLI
from mgexec.errors import DockerError, NoSuchContainer

WAIT_SECONDS = 30.0
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class MassGenContainer:
    """A container MassGen made: where the agent's workspace and context paths are (same paths inside)."""

    name: str
    id: str
    running: bool
    workspace: Path
    context_paths: tuple[ContextPath, ...]


def candidate_names(agent_id: str, instance_id: str | None) -> tuple[str, ...]:
    """The names MassGen gives the agent's container, most specific first."""
    if instance_id:
        return (f"massgen-{agent_id}-{instance_id}", f"massgen-{agent_id}")
    return (f"massgen-{agent_id}",)


# Labels `docker run` by mgexec sets. A container also shows its image's labels, and mgexec's images
# carry io.mgexec.image/io.mgexec.base, which MassGen's containers of those images inherit.
CONTAINER_LABELS = tuple(f"{LABEL}.{key}" for key in ("managed", "agent", "owner.host", "owner.pid", "owner.start"))


def made_by_mgexec(labels: Mapping[str, str] | None) -> bool:
    """mgexec labels every container it makes with its owner; MassGen's carry none of those labels."""
    return any(key in (labels or {}) for key in CONTAINER_LABELS)


def read_massgen_container(data: Mapping[str, Any]) -> MassGenContainer:
    """`docker inspect` of MassGen's container -> its paths; DockerError when it does not look like MassGen's."""
    name = str(data.get("Name", "")).lstrip("/")
    config = data.get("Config") or {}
    workdir = config.get("WorkingDir") or ""
    binds = {m.get("Destination"): m for m in data.get("Mounts") or []
             if m.get("Type") == "bind" and m.get("Source") == m.get("Destination")}
    workspace = binds.get(workdir)
    if not workdir or workspace is None or not workspace.get("RW"):
        raise DockerError(f"The container {name} has no writable workspace mounted at its own host path as its working "
                          f"directory (working directory {workdir or 'unset'!r}), as MassGen's docker mode makes it; "
                          "it is not a MassGen agent container mgexec can adopt.")
    contexts = tuple(ContextPath(path=Path(dest), permission="write" if mount.get("RW") else "read")
                     for dest, mount in sorted(binds.items()) if dest != workdir)
    return MassGenContainer(name=name, id=str(data.get("Id", "")), running=bool((data.get("State") or {}).get("Running")),
                            workspace=Path(workdir), context_paths=contexts)


async def find_massgen_container(cli: DockerCLI, agent_id: str, instance_id: str | None) -> MassGenContainer | None:
    """MassGen's running container for the agent, or None when there is none (yet); mgexec's own are passed over."""
    for name in candidate_names(agent_id, instance_id):
        try:
            res = await cli.run(build_inspect_argv(name, fmt="{{json .}}", kind="container"), timeout=30)
        except NoSuchContainer:
            continue
        data = json.loads(res.stdout)
        if made_by_mgexec((data.get("Config") or {}).get("Labels")):
            continue
        found = read_massgen_container(data)
        if found.running:
            return found
    return None


async def wait_for_massgen_container(cli: DockerCLI, agent_id: str, instance_id: str | None, *,
                                     wait: float = WAIT_SECONDS) -> MassGenContainer:
    """The container once MassGen has started it, waiting at most `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        found = await find_massgen_container(cli, agent_id, instance_id)
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_SECONDS)
    names = " or ".join(candidate_names(agent_id, instance_id))
    raise NoSuchContainer(f"MassGen's container {names} did not appear (running) within {wait:.0f} s. MassGen makes it "
                          "when the agent starts in docker mode; check MassGen's log for a docker error, or run "
                          "without --agent-id/--instance-id so mgexec makes its own container.")
