"""Pure builders of docker CLI argv: a frozen spec in, a list of strings out, no I/O.

Each builder returns `VERB ...` and takes only what its verb needs; the gateway (DockerCLI) puts the binary
and its global arguments in front. Only flags Podman's docker-compatible CLI accepts are used. Secret
values never appear here: environment variables are passed by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

from mgexec.config.validators import argv_word_problem, env_name_problem, network_problem, require
from mgexec.errors import ConfigError

_EMPTY: Mapping[str, str] = MappingProxyType({})


class Command(list):
    """An argv under construction; each helper is named after how a docker flag takes its value."""

    def add_simple_arg(self, name: str, value: object) -> None:
        if value is not None:
            self.extend([name, str(value)])

    def add_flag(self, name: str, value: bool) -> None:
        if value:
            self.append(name)

    def add_args_list(self, name: str, values: Iterable[object]) -> None:
        for value in values:
            self.extend([name, str(value)])


@dataclass(frozen=True)
class Mount:
    """A bind mount from the host into the container."""

    host_path: str
    container_path: str
    read_only: bool = True

    def __post_init__(self) -> None:
        for what, path in (("host path", self.host_path), ("container path", self.container_path)):
            if not path.startswith("/"):
                raise ConfigError(f"The mount {what} {path!r} is not absolute; bind mounts need absolute "
                                  "paths on both sides, so give the full path (for example /srv/project).")
            if any(ch in path for ch in "\n\r\0"):
                raise ConfigError(f"The mount {what} {path!r} contains a line break or NUL byte, which "
                                  "docker's --mount syntax cannot carry; rename the directory or mount a "
                                  "parent of it.")


@dataclass(frozen=True)
class ContainerSpec:
    """Everything `docker run -d` needs to create one long-lived agent container."""

    name: str
    image: str
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    user: str | None = None
    workdir: str | None = None
    mounts: tuple[Mount, ...] = ()
    network: str = "none"
    memory: str | None = None
    cpus: float | None = None
    pids_limit: int | None = 512
    cap_drop_all: bool = True
    cap_add: tuple[str, ...] = ()
    no_new_privileges: bool = True
    env_names: tuple[str, ...] = ()  # values come from the docker client's environment
    env_file: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # non-secret values only
    tmpfs: tuple[str, ...] = ()  # `PATH[:OPTIONS]`, e.g. a private home owned by the run user
    init: bool = True  # an init as PID 1 reaps zombies and forwards signals
    pull: str | None = None  # "never" makes a missing image fail at once instead of trying a registry
    command: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_word("container name", self.name)
        _check_word("image", self.image)
        require(network_problem(self.network))
        _check_env_names(self.env_names)
        _check_env_names(tuple(self.env))


@dataclass(frozen=True)
class ExecSpec:
    """One `docker exec` into a running container."""

    container: str
    argv: tuple[str, ...]
    user: str | None = None
    workdir: str | None = None
    env_names: tuple[str, ...] = ()  # values come from the docker client's environment
    env: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # non-secret values only
    interactive: bool = False
    tty: bool = False
    detach: bool = False

    def __post_init__(self) -> None:
        _check_word("container name", self.container)
        if not self.argv:
            raise ConfigError("docker exec needs a command to run; the argv given was empty.")
        _check_env_names(self.env_names)
        _check_env_names(tuple(self.env))


def _check_word(what: str, value: str) -> None:
    require(argv_word_problem(what, value))


def _check_env_names(names: Sequence[str]) -> None:
    # `-e NAME=value` would put a value into argv, where any user of `ps` can read it.
    for name in names:
        require(env_name_problem(name))


def mount_arg(mount: Mount) -> str:
    """The `--mount` value, CSV-quoted as docker and podman parse it (so `,` and `"` are safe)."""
    fields = ["type=bind", f"source={mount.host_path}", f"target={mount.container_path}"]
    if mount.read_only:
        fields.append("readonly")
    return ",".join(_csv_field(f) for f in fields)


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _cpus(value: float) -> str:
    return format(value, "g")


def build_run_argv(spec: ContainerSpec) -> list[str]:
    """`docker run -d` for a long-lived, locked-down container described by `spec`."""
    cmd = Command(["run", "-d"])
    cmd.add_simple_arg("--name", spec.name)
    cmd.add_args_list("--label", (f"{k}={v}" for k, v in spec.labels.items()))
    cmd.add_simple_arg("--user", spec.user)
    cmd.add_simple_arg("--workdir", spec.workdir)
    cmd.add_args_list("--mount", (mount_arg(m) for m in spec.mounts))
    cmd.add_simple_arg("--network", spec.network)
    cmd.add_simple_arg("--memory", spec.memory)
    cmd.add_simple_arg("--cpus", None if spec.cpus is None else _cpus(spec.cpus))
    cmd.add_simple_arg("--pids-limit", spec.pids_limit)
    if spec.cap_drop_all:
        cmd.add_simple_arg("--cap-drop", "ALL")
    cmd.add_args_list("--cap-add", spec.cap_add)
    if spec.no_new_privileges:
        cmd.add_simple_arg("--security-opt", "no-new-privileges")
    cmd.add_flag("--init", spec.init)
    cmd.add_simple_arg("--pull", spec.pull)
    cmd.add_args_list("--tmpfs", spec.tmpfs)
    cmd.add_args_list("-e", spec.env_names)
    cmd.add_args_list("-e", (f"{k}={v}" for k, v in spec.env.items()))
    cmd.add_simple_arg("--env-file", spec.env_file)
    cmd.append(spec.image)
    cmd.extend(spec.command)
    return list(cmd)


def build_exec_argv(spec: ExecSpec) -> list[str]:
    """`docker exec` of `spec.argv` in `spec.container`."""
    cmd = Command(["exec"])
    cmd.add_flag("-i", spec.interactive)
    cmd.add_flag("-t", spec.tty)
    cmd.add_flag("-d", spec.detach)
    cmd.add_simple_arg("--user", spec.user)
    cmd.add_simple_arg("--workdir", spec.workdir)
    cmd.add_args_list("-e", spec.env_names)
    cmd.add_args_list("-e", (f"{k}={v}" for k, v in spec.env.items()))
    cmd.append(spec.container)
    cmd.extend(spec.argv)
    return list(cmd)


def build_rm_argv(name: str, force: bool = True) -> list[str]:
    """`docker rm [-f] NAME`; with force a running container is killed first."""
    cmd = Command(["rm"])
    cmd.add_flag("-f", force)
    cmd.append(name)
    return list(cmd)


def build_logs_argv(name: str, tail: int | None = None) -> list[str]:
    """`docker logs [--tail N] NAME`: what a container printed (its last N lines)."""
    cmd = Command(["logs"])
    cmd.add_simple_arg("--tail", tail)
    cmd.append(name)
    return list(cmd)


def build_inspect_argv(target: str | Sequence[str], fmt: str | None = None, kind: str | None = None) -> list[str]:
    """`docker inspect [--type container|image] [--format F] TARGET...` (JSON array when no format)."""
    if kind not in (None, "container", "image"):
        raise ValueError(f"inspect kind must be 'container', 'image' or None, not {kind!r}")
    cmd = Command(["inspect"])
    cmd.add_simple_arg("--type", kind)
    cmd.add_simple_arg("--format", fmt)
    cmd.extend([target] if isinstance(target, str) else target)
    return list(cmd)


def build_image_inspect_argv(image: str, fmt: str | None = None) -> list[str]:
    """`docker image inspect [--format F] IMAGE`: its user, cmd, labels and working dir."""
    cmd = Command(["image", "inspect"])
    cmd.add_simple_arg("--format", fmt)
    cmd.append(image)
    return list(cmd)


def build_ps_argv(label_filters: Mapping[str, str | None], all: bool = True, fmt: str | None = "{{.ID}}") -> list[str]:
    """`docker ps` filtered by labels (a None value matches the key alone), full IDs by default."""
    cmd = Command(["ps"])
    cmd.add_flag("-a", all)
    cmd.append("--no-trunc")
    cmd.add_args_list("--filter", (f"label={k}" if v is None else f"label={k}={v}"
                                   for k, v in label_filters.items()))
    cmd.add_simple_arg("--format", fmt)
    return list(cmd)


def build_version_argv(fmt: str | None = "{{json .}}") -> list[str]:
    """`docker version --format '{{json .}}'`: client and server versions in one call."""
    cmd = Command(["version"])
    cmd.add_simple_arg("--format", fmt)
    return list(cmd)
