"""Resolved execution settings of one agent: frozen, validated, ready for policy and executors.

These are mgexec's own names; `keys.py` maps MassGen's `command_line_*` keys onto them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from mgexec.config import limits
from mgexec.config.limits import MAX_LIST, check_timeout, short_repr
from mgexec.config.sandbox import SandboxSettings
from mgexec.config.validators import NetworkMode, env_name_problem, image_problem, pattern_problem

DEFAULT_IMAGE = "massgen/mcp-runtime:latest"
DEFAULT_SUDO_IMAGE = "massgen/mcp-runtime-sudo:latest"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# host path (with ~) -> path inside the container, all mounted read-only (as MassGen mounts them).
CREDENTIAL_MOUNTS: dict[str, tuple[str, str]] = {
    "ssh_keys": ("~/.ssh", "/home/massgen/.ssh"),
    "git_config": ("~/.gitconfig", "/home/massgen/.gitconfig"),
    "gh_config": ("~/.config/gh", "/home/massgen/.config/gh"),
    "npm_config": ("~/.npmrc", "/home/massgen/.npmrc"),
    "pypi_config": ("~/.pypirc", "/home/massgen/.pypirc"),
    "claude_config": ("~/.claude", "/home/massgen/.claude"),
    "codex_config": ("~/.codex", "/home/massgen/.codex"),
}

_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)$", re.IGNORECASE)
_UNIT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# Docker refuses a memory limit below 6 MiB.
MIN_MEMORY_BYTES = 6 * 1024**2


def memory_bytes(value: str) -> int:
    """'512m' -> bytes; raises ValueError for anything docker would not take."""
    match = _MEMORY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a memory size; use a number with an optional unit b, k, m or g, like '512m' or '2g'")
    size = float(match.group(1)) * _UNIT[match.group(2).lower()]
    if size < MIN_MEMORY_BYTES:
        raise ValueError(f"{value!r} is below docker's minimum memory limit of 6m")
    if size > limits.MAX_MEMORY_BYTES:
        raise ValueError(f"{short_repr(value)} is above mgexec's maximum memory limit of 1024g (1 TiB)")
    return int(size)


Name = Annotated[str, StringConstraints(max_length=limits.MAX_NAME)]
PathText = Annotated[str, StringConstraints(max_length=limits.MAX_PATH)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AdditionalMount(_Frozen):
    bind: PathText
    # MassGen made a mount without `mode` read-write; mgexec defaults to read-only.
    mode: Literal["ro", "rw"] = "ro"


class Credentials(_Frozen):
    mount: tuple[Literal[tuple(CREDENTIAL_MOUNTS)], ...] = ()  # type: ignore[valid-type]
    env_file: PathText | None = None
    env_vars_from_file: tuple[Name, ...] | None = Field(default=None, max_length=MAX_LIST)
    env_vars: tuple[Name, ...] = Field(default=(), max_length=MAX_LIST)
    pass_all_env: bool = False
    additional_mounts: dict[PathText, AdditionalMount] = Field(default_factory=dict, max_length=100)

    @field_validator("env_vars", "env_vars_from_file", mode="before")
    @classmethod
    def _names(cls, value):
        if value is None:
            return value
        if isinstance(value, str):
            value = [value]
        for name in value:
            if (problem := env_name_problem(name)) is not None:
                raise ValueError(problem)
        return value


class Preinstall(_Frozen):
    system: tuple[Name, ...] = Field(default=(), max_length=MAX_LIST)
    python: tuple[Name, ...] = Field(default=(), max_length=MAX_LIST)
    npm: tuple[Name, ...] = Field(default=(), max_length=MAX_LIST)

    @field_validator("system", "python", "npm", mode="before")
    @classmethod
    def _packages(cls, value):
        if value is None:
            return ()
        if isinstance(value, str):
            raise ValueError(f"expected a list of package names, got the string {short_repr(value)}")
        for name in value:
            if not isinstance(name, str) or not name.strip() or name.strip().startswith("-"):
                raise ValueError(f"{short_repr(name)} is not a package name (options are not allowed here)")
        return tuple(name.strip() for name in value)

    @property
    def empty(self) -> bool:
        return not (self.system or self.python or self.npm)


class Packages(_Frozen):
    preinstall: Preinstall = Preinstall()


class ContextPath(_Frozen):
    path: Path
    permission: Literal["read", "write"] = "read"


class ExecConfig(_Frozen):
    """Everything one agent's execution needs, after defaults and validation."""

    agent_id: Annotated[str, StringConstraints(max_length=limits.MAX_AGENT_ID)] = "default"
    # MassGen's --instance-id: its container for this agent is massgen-{agent_id}-{instance_id}.
    instance_id: Annotated[str, StringConstraints(max_length=limits.MAX_AGENT_ID)] | None = None
    workspace: Path
    enabled: bool = True
    mode: Literal["local", "docker", "srt"] = "local"
    docker_image: Name = DEFAULT_IMAGE
    docker_memory_limit: Name | None = None
    docker_cpu_limit: float | None = Field(default=None, gt=0, le=limits.MAX_CPU_LIMIT, allow_inf_nan=False)
    network_mode: NetworkMode = "none"
    enable_sudo: bool = False
    allow_patterns: tuple[str, ...] = Field(default=(), max_length=MAX_LIST)
    deny_patterns: tuple[str, ...] = Field(default=(), max_length=MAX_LIST)
    credentials: Credentials = Credentials()
    packages: Packages = Packages()
    timeout: float = 60.0
    max_output_bytes: int = Field(default=1_000_000, ge=limits.MIN_OUTPUT_BYTES, le=limits.MAX_OUTPUT_BYTES)
    context_paths: tuple[ContextPath, ...] = Field(default=(), max_length=100)
    temp_workspace: Path | None = None
    docker_binary: PathText | None = None
    docker_context: Name | None = None
    # "auto": the host's CA bundle when it exists and the container has a network (so pip and npm
    # work behind TLS-intercepting proxies, as build.sh does); "none": the image's own trust store.
    ca_bundle: Path | Literal["auto", "none"] = "auto"
    max_background_shells: int = Field(default=10, ge=1, le=1000)
    background_retention: Seconds = Field(default=3600.0, le=limits.MAX_RETENTION)
    progress_interval: float = Field(default=5.0, ge=limits.MIN_PROGRESS_INTERVAL, le=limits.MAX_PROGRESS_INTERVAL,
                                     allow_inf_nan=False)
    docker_warm_channel: bool = True
    sandbox: SandboxSettings = SandboxSettings()  # srt mode only
    # `/`, a system directory or the home directory as the workspace (or an allowed path) needs this.
    allow_broad_workspace: bool = False
    # True when no config cwd and no --workspace named the workspace: it is the current directory,
    # and a client's MCP roots may replace it.
    workspace_implicit: bool = False

    @field_validator("docker_memory_limit")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None:
            memory_bytes(value)
        return value

    @field_validator("docker_image")
    @classmethod
    def _image(cls, value: str) -> str:
        if (problem := image_problem(value)) is not None:
            raise ValueError(problem)
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value):
        return check_timeout(value, name="the default timeout")

    @field_validator("allow_patterns", "deny_patterns", mode="before")
    @classmethod
    def _patterns(cls, value, info):
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if len(value) > MAX_LIST:
            return tuple(value)  # refused by the length limit, without probing a thousand patterns first
        for pattern in value:
            # Probed here so `config check`, `exec` and `serve` refuse the same patterns.
            if (problem := pattern_problem(pattern, "deny" if info.field_name == "deny_patterns" else "allow")):
                raise ValueError(problem)
        return tuple(value)

    @field_validator("agent_id", "instance_id")
    @classmethod
    def _agent_id(cls, value: str | None) -> str | None:
        # The id becomes part of the container name `massgen-{id}`.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError(f"{short_repr(value)} cannot name a container; use letters, digits, '_', '.' and '-', starting with a letter or digit")
        return value

    @model_validator(mode="after")
    def _preinstall_rules(self) -> "ExecConfig":
        pre = self.packages.preinstall
        if pre.empty:
            return self
        if self.network_mode == "none":
            raise ValueError(
                "package preinstall needs a network, but command_line_docker_network_mode is 'none' "
                "(MassGen's default); set it to 'bridge'"
            )
        if (pre.system or pre.npm) and not self.enable_sudo:
            kinds = " and ".join(k for k, v in (("system", pre.system), ("npm", pre.npm)) if v)
            raise ValueError(
                f"{kinds} packages are installed system-wide and need root inside the container; "
                "set command_line_docker_enable_sudo: true (or install only python packages)"
            )
        return self

    @property
    def image(self) -> str:
        """The image to run: the sudo variant replaces the default image when sudo is on."""
        if self.enable_sudo and self.docker_image == DEFAULT_IMAGE:
            return DEFAULT_SUDO_IMAGE
        return self.docker_image

    def effective_ca_bundle(self) -> Path | None:
        """The CA bundle to mount into the container, if any."""
        if self.ca_bundle == "none":
            return None
        if self.ca_bundle == "auto":
            host = Path(HOST_CA_BUNDLE)
            return host if self.network_mode != "none" and host.is_file() else None
        return Path(self.ca_bundle)

    @property
    def container_name(self) -> str:
        return f"massgen-{self.agent_id}"

    def allowed_roots(self) -> tuple[Path, ...]:
        """Directories besides the workspace that a command may use as its work_dir."""
        roots = [c.path for c in self.context_paths]
        if self.temp_workspace is not None:
            roots.append(self.temp_workspace)
        return tuple(roots)
