"""The docker gateway: one docker (or podman) CLI, how to reach its engine, and every call through the one
runner; failures are mapped by mgexec.docker.errors.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from mgexec.docker.argv import build_version_argv
from mgexec.docker.errors import DEFAULT_TOOL, binary_error, map_docker_error, timeout_error
from mgexec.errors import DockerError
from mgexec.runner import ProcessOutput, run_process

if TYPE_CHECKING:
    from mgexec.config import ExecConfig

DEFAULT_BINARY = DEFAULT_TOOL
BINARY_ENV_VAR = "MGEXEC_DOCKER"


def resolve_binary(config_value: str | None, environ: Mapping[str, str]) -> str:
    """The docker CLI to run: the config key wins over MGEXEC_DOCKER, and `docker` is the default."""
    for candidate in (config_value, environ.get(BINARY_ENV_VAR)):
        if candidate and candidate.strip():
            return candidate.strip()
    return DEFAULT_BINARY


@dataclass(frozen=True)
class EngineInfo:
    """What `docker version` says about the client and the engine behind it."""

    client_version: str
    server_version: str | None
    server_api_version: str | None
    os: str | None
    arch: str | None
    is_podman: bool
    context: str | None = None

    @property
    def summary(self) -> str:
        engine = "podman" if self.is_podman else "docker"
        where = f" ({self.os}/{self.arch})" if self.os and self.arch else ""
        return f"{engine} engine {self.server_version or 'unknown'}{where}, client {self.client_version}"


def parse_version_output(stdout: str, stderr: str = "") -> EngineInfo:
    """Read `version --format '{{json .}}'` output from docker (any engine) or podman."""
    data: dict = {}
    for line in stdout.splitlines():
        if line.lstrip().startswith("{"):
            data = json.loads(line)
            break
    client = data.get("Client") or {}
    server = data.get("Server") or {}
    os_name, arch = server.get("Os") or client.get("Os"), server.get("Arch") or client.get("Arch")
    os_arch = server.get("OsArch") or client.get("OsArch")  # podman's own layout
    if os_arch and "/" in os_arch:
        os_name, arch = os_arch.split("/", 1)
    # podman-docker's wrapper announces itself on stderr; a docker CLI talking to a podman
    # socket sees "Podman Engine" among the server components; podman itself reports OsArch.
    is_podman = ("podman" in stderr.lower() or "podman" in json.dumps(server).lower()
                 or "OsArch" in client)
    return EngineInfo(
        client_version=str(client.get("Version") or "unknown"),
        server_version=server.get("Version"),
        server_api_version=server.get("ApiVersion") or server.get("APIVersion"),
        os=os_name, arch=arch, is_podman=is_podman, context=client.get("Context"))


class DockerCLI:
    """One docker (or podman) CLI and how to reach its engine; every call goes through `run`."""

    def __init__(self, binary: str = DEFAULT_BINARY, context: str | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self.context = context
        self._env = dict(env or {})  # secret values for `-e NAME`: never logged, never in repr

    @classmethod
    def from_config(cls, config: "ExecConfig", environ: Mapping[str, str] | None = None) -> "DockerCLI":
        """The CLI the config names (or MGEXEC_DOCKER, or `docker`), talking to the config's context."""
        environ = os.environ if environ is None else environ
        return cls(resolve_binary(config.docker_binary, environ), context=config.docker_context)

    def __repr__(self) -> str:
        return f"DockerCLI(binary={self.binary!r}, context={self.context!r}, env_names={sorted(self._env)!r})"

    @property
    def global_args(self) -> list[str]:
        return ["--context", self.context] if self.context else []

    def argv(self, args: Sequence[str]) -> list[str]:
        """The full argv for `args` (a verb and its arguments)."""
        return [self.binary, *self.global_args, *args]

    def client_env(self, env: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """The docker client's environment: os.environ with this CLI's and the call's extras on top."""
        if not self._env and not env:
            return None  # inherit as is, DOCKER_HOST included
        return {**os.environ, **self._env, **(env or {})}

    async def run(self, args: Sequence[str], *, timeout: float | None = 60, stdin_data: bytes | None = None,
                  env: Mapping[str, str] | None = None, check: bool = True,
                  output_cap: int = 1_000_000) -> ProcessOutput:
        """Run `docker [global args] ARGS`; raise a mapped DockerError when it fails and `check` is set."""
        argv = self.argv(args)
        try:
            out = await run_process(argv, env=self.client_env(env), timeout=timeout,
                                    stdin_data=stdin_data, output_cap=output_cap)
        except OSError as exc:
            raise binary_error(self.binary, exc, argv) from exc
        if out.timed_out:
            raise timeout_error(argv, timeout, out.exit_code, out.stdout, out.stderr)
        if check and out.exit_code != 0:
            raise map_docker_error(argv, out.exit_code, out.stdout, out.stderr)
        return out

    async def probe(self, timeout: float | None = 30) -> EngineInfo:
        """Client and engine versions, and whether the engine is podman; raises if unreachable."""
        args = build_version_argv()
        out = await self.run(args, timeout=timeout, check=False)
        if out.exit_code != 0:
            raise map_docker_error(self.argv(args), out.exit_code, out.stdout, out.stderr)
        try:
            info = parse_version_output(out.stdout, out.stderr)
        except ValueError:
            info = None
        if info is None or info.server_version is None:
            raise DockerError(
                f"`{self.binary} version` answered without an engine version, so it does not look like a "
                "docker-compatible CLI. Point mgexec at docker (or podman-docker) with the config key "
                "`command_line_docker_binary` or the environment variable `MGEXEC_DOCKER`.",
                argv=self.argv(args), exit_code=out.exit_code, stdout=out.stdout, stderr=out.stderr)
        return info
