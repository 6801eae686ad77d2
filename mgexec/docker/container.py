"""The per-agent container on the engine: its spec, owner labels, and the docker calls that create, inspect,
check and remove it. Whether to do any of these is decided by mgexec.deployments.container.

A container is named `massgen-{agent_id}` and labelled with its owner (host, pid and the pid's
start time, so a reused pid is not mistaken for the owner). `mgexec up` marks a container as kept: it
outlives the command that made it, until `mgexec down`.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from mgexec.config import DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE, ExecConfig
from mgexec.docker.argv import (ContainerSpec, ExecSpec, Mount, build_exec_argv, build_image_inspect_argv,
                                build_inspect_argv, build_logs_argv, build_ps_argv, build_rm_argv, build_run_argv)
from mgexec.docker.channel_socket import channel_mount, engine_is_local, remove_dir
from mgexec.docker.engine import DockerCLI
from mgexec.docker.credentials import SecretEnv, credential_mounts
from mgexec.docker.errors import classify
from mgexec.docker.imagecache import LayoutCache
from mgexec.errors import DockerError, DockerFailure, ImageInvalid, NoSuchContainer

LABEL = "io.mgexec"
IMAGE_USER = "massgen"
IMAGE_UID = 1000
HOME = "/home/massgen"
CA_TARGET = "/etc/mgexec/ca-bundle.crt"
LAYOUT_DIRS = ("/workspace", "/context", "/temp_workspaces")
# The runtime images' CMD (dockerfiles/): what a container started with the channel's helper execs into.
RUNTIME_COMMAND = ("tail", "-f", "/dev/null")
# Run as root in a new container of a custom image: what it lacks, one word per line.
LAYOUT_SCRIPT = ("id -u massgen 2>/dev/null || echo no-user; command -v bash >/dev/null || echo no-bash; "
                 f"for d in {' '.join(LAYOUT_DIRS)}; do [ -d $d ] || echo missing:$d; done")
RUN_TIMEOUT = 120  # seconds `docker run` may take (mgexec.docker.channel_sweep counts on it)
# Every tool we know of that can be told where the trusted roots are.
CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE", "GIT_SSL_CAINFO")


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: str  # the pid's start time in clock ticks since boot, from /proc

    @classmethod
    def current(cls) -> "Owner":
        return cls(socket.gethostname(), os.getpid(), _start_ticks(os.getpid()))

    def alive(self) -> bool:
        """Whether the owner still runs; an owner on another host is assumed alive (we cannot tell)."""
        if self.host != socket.gethostname():
            return True
        return _start_ticks(self.pid) == self.start != ""

    def labels(self) -> dict[str, str]:
        return {f"{LABEL}.owner.host": self.host, f"{LABEL}.owner.pid": str(self.pid), f"{LABEL}.owner.start": self.start}

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> "Owner | None":
        try:
            return cls(labels[f"{LABEL}.owner.host"], int(labels[f"{LABEL}.owner.pid"]), labels[f"{LABEL}.owner.start"])
        except (KeyError, ValueError):
            return None


def _start_ticks(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    running: bool
    labels: Mapping[str, str]
    status: str = ""

    @property
    def managed(self) -> bool:
        return self.labels.get(f"{LABEL}.managed") == "true"

    @property
    def kept(self) -> bool:
        return self.labels.get(f"{LABEL}.kept") == "true"

    @property
    def owner(self) -> Owner | None:
        return Owner.from_labels(self.labels)

    @property
    def orphaned(self) -> bool:
        """Left behind: mgexec's, not kept by `up`, and its owner is gone."""
        owner = self.owner
        return self.managed and not self.kept and (owner is None or not owner.alive())


def run_user(workspace_uid: int, workspace_gid: int) -> str | None:
    """Who commands run as: the image's massgen user, unless the workspace belongs to another UID.

    A workspace owned by UID 0 or 1001 (and mode 0700) is unreadable for UID 1000, so then the
    container runs as the workspace owner, with a private writable home (see `home_tmpfs`).
    """
    if workspace_uid == IMAGE_UID:
        return None
    return f"{workspace_uid}:{workspace_gid}"


def config_digest(spec: ContainerSpec) -> str:
    payload = json.dumps([spec.image, [m.__dict__ for m in spec.mounts], spec.network, spec.memory,
                          spec.cpus, spec.user, sorted(spec.env_names)], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def build_spec(config: ExecConfig, secrets: SecretEnv, *, owner: Owner, kept: bool = False) -> ContainerSpec:
    """The `docker run` spec for an agent: path-transparent mounts, limits, hardening, owner labels."""
    st = config.workspace.stat()
    user = run_user(st.st_uid, st.st_gid)
    mounts = [Mount(str(config.workspace), str(config.workspace), read_only=False)]
    mounts += [Mount(str(c.path), str(c.path), read_only=c.permission != "write") for c in config.context_paths]
    if config.temp_workspace is not None:
        mounts.append(Mount(str(config.temp_workspace), str(config.temp_workspace), read_only=True))
    mounts += credential_mounts(config.credentials)
    env: dict[str, str] = {}
    ca_bundle = config.effective_ca_bundle()
    if ca_bundle is not None:
        mounts.append(Mount(str(ca_bundle), CA_TARGET, read_only=True))
        env.update({name: CA_TARGET for name in CA_ENV})
    if user:
        env["HOME"] = HOME  # the private home below; docker would pick / or /root from /etc/passwd
    sudo = config.enable_sudo
    labels = {f"{LABEL}.managed": "true", f"{LABEL}.agent": config.agent_id,
              f"{LABEL}.workspace": str(config.workspace), f"{LABEL}.kept": "true" if kept else "false",
              **owner.labels()}
    spec = ContainerSpec(
        name=config.container_name, image=config.image, labels=labels, user=user,
        workdir=str(config.workspace), mounts=tuple(mounts), network=config.network_mode,
        memory=config.docker_memory_limit, cpus=config.docker_cpu_limit,
        # sudo needs setuid and the capabilities root normally has; without sudo nothing needs them.
        cap_drop_all=not sudo, no_new_privileges=not sudo,
        env_names=secrets.names, env=env, pull="never",
        tmpfs=(home_tmpfs(user),) if user else (),
    )
    labels[f"{LABEL}.config"] = config_digest(spec)
    return spec


def home_tmpfs(user: str) -> str:
    uid, _, gid = user.partition(":")
    return f"{HOME}:uid={uid},gid={gid or uid},mode=0755"


class ContainerManager:
    """Creates, finds and removes one agent's container through one DockerCLI."""

    def __init__(self, cli: DockerCLI, config: ExecConfig) -> None:
        self.cli = cli
        self.config = config
        self.name = config.container_name

    async def inspect(self, name: str | None = None) -> ContainerInfo | None:
        args = build_inspect_argv(name or self.name, fmt="{{json .}}", kind="container")
        try:
            out = await self.cli.run(args, timeout=30)
        except NoSuchContainer:
            return None
        data = json.loads(out.stdout)
        return _info(data)

    async def list_managed(self) -> list[ContainerInfo]:
        out = await self.cli.run(build_ps_argv({f"{LABEL}.managed": "true"}), timeout=30)
        ids = out.stdout.split()
        if not ids:
            return []
        res = await self.cli.run(build_inspect_argv(ids, fmt="{{json .}}", kind="container"),
                                 timeout=30, check=False)
        return [_info(json.loads(line)) for line in res.stdout.splitlines() if line.strip()]

    async def list_names(self) -> list[str]:
        """The name of every container on the engine, running or not, mgexec's or not."""
        out = await self.cli.run(build_ps_argv({}, fmt="{{.Names}}"), timeout=30)
        return [name for line in out.stdout.split() for name in line.split(",") if name]

    async def image_id(self) -> str | None:
        """The configured image's id, None when it cannot be read (a missing image is `docker run`'s to report)."""
        try:
            out = await self.cli.run(build_image_inspect_argv(self.config.image, fmt="{{.Id}}"), timeout=30)
        except DockerError:
            return None
        return out.stdout.strip() or None

    async def create(self, spec: ContainerSpec, secrets: SecretEnv) -> None:
        """`docker run` the container; ImageInvalid (the container is left to the caller) when it does not stay up.
        On a local engine it gets the warm channel's socket directory (outside the config digest: a kept
        container without it still serves, over stdio)."""
        mount = channel_mount(spec.name) if engine_is_local(self.cli.context, self.cli.client_env()) else None
        if mount is not None:
            spec = replace(spec, mounts=(*spec.mounts, mount))
        await self.cli.run(build_run_argv(spec), timeout=RUN_TIMEOUT, env=secrets.values)

    async def check_running(self) -> None:
        info = await self.inspect()
        if info is None or not info.running:
            await self._stopped(self.config.image)

    async def _stopped(self, image: str) -> None:
        logs = await self.cli.run(build_logs_argv(self.name, tail=20), timeout=30, check=False)
        raise ImageInvalid(
            f"The container from image {image} stopped right after it started, so commands cannot run in it. "
            "A custom image needs a long-running CMD (the runtime image uses `tail -f /dev/null`). "
            f"Its last output: {(logs.stdout + logs.stderr).strip()[-400:] or '(none)'}",
            container=self.name, image=image)

    @property
    def custom_image(self) -> bool:
        """An image not built by mgexec: its CMD and layout are checked in the container it makes."""
        return self.config.image not in (DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE)

    def layout_cache(self, spec: ContainerSpec) -> LayoutCache:
        """Where a passed layout check is remembered; a mount at or under a checked directory is part of the key."""
        stand_ins = sorted(m.container_path for m in spec.mounts
                           if any(m.container_path == d or m.container_path.startswith(d + "/") for d in LAYOUT_DIRS))
        return LayoutCache([LAYOUT_SCRIPT, str(IMAGE_UID), *stand_ins])

    async def check_image_layout(self) -> None:
        """Name exactly what a custom image lacks of what the runtime image provides."""
        if not self.custom_image:
            return
        args = build_exec_argv(ExecSpec(self.name, ("/bin/sh", "-c", LAYOUT_SCRIPT), user="0"))
        out = await self.cli.run(args, timeout=30, check=False)
        stopped = classify(args, out.stderr) is DockerFailure.NOT_RUNNING
        if out.exit_code != 0 and (stopped or not out.stdout.strip()):
            info = await self.inspect()  # a CMD that ends can stop the container during the check itself
            if info is None or not info.running:
                await self._stopped(self.config.image)
        problems = []
        lines = out.stdout.split()
        if out.exit_code != 0 and not lines:
            problems.append(f"/bin/sh could not run ({out.stderr.strip()[:200]})")
        if "no-bash" in lines:
            problems.append("there is no bash (mgexec runs every command line with bash, so that its guard "
                            "rails read the line in the dialect that runs it)")
        if "no-user" in lines:
            problems.append("there is no user massgen")
        elif lines and lines[0].isdigit() and int(lines[0]) != IMAGE_UID:
            problems.append(f"user massgen has UID {lines[0]}, not {IMAGE_UID}")
        problems += [f"directory {x.split(':', 1)[1]} is missing" for x in lines if x.startswith("missing:")]
        if problems:
            raise ImageInvalid(
                f"The image {self.config.image} cannot serve as an mgexec runtime: {'; '.join(problems)}. Build it "
                f"FROM {DEFAULT_IMAGE} (see dockerfiles/Dockerfile.custom-example), or add a user massgen "
                "with UID 1000 and the directories /workspace, /context and /temp_workspaces owned by it.",
                container=self.name, image=self.config.image)

    async def remove(self, name: str | None = None) -> None:
        try:
            await self.cli.run(build_rm_argv(name or self.name, force=True), timeout=60)
        except NoSuchContainer:
            pass
        remove_dir(name or self.name)


def _info(data: Mapping[str, Any]) -> ContainerInfo:
    state = data.get("State") or {}
    labels = (data.get("Config") or {}).get("Labels") or {}
    return ContainerInfo(name=str(data.get("Name", "")).lstrip("/"), running=bool(state.get("Running")),
                         labels=labels, status=str(state.get("Status", "")))

