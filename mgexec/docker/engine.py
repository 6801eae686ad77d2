"""Runs docker CLI commands through the one runner and turns docker's (or podman's) failures into
errors that say what went wrong and how to fix it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from mgexec.docker.argv import build_version_argv
from mgexec.errors import (ContainerConflict, DockerError, DockerTimeout, DockerUnavailable, ImageNotFound,
                           NoSuchContainer)
from mgexec.runner import ProcessOutput, run_process

DEFAULT_BINARY = "docker"
BINARY_ENV_VAR = "MGEXEC_DOCKER"
RUNTIME_IMAGE = "massgen/mcp-runtime:latest"
SUDO_RUNTIME_IMAGE = "massgen/mcp-runtime-sudo:latest"
_SAID_LIMIT = 600
# Global flags that take a value, so the verb can be found after them.
_GLOBAL_VALUE_FLAGS = {"--context", "-c", "--host", "-H", "--config", "--log-level", "-l",
                       "--tlscacert", "--tlscert", "--tlskey", "--url", "--connection"}
_NOUNS = {"image", "container", "network", "volume", "context", "system", "builder"}


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
            raise timeout_error(argv, timeout, out)
        if check and out.exit_code != 0:
            raise map_docker_error(argv, out.exit_code, out.stdout, out.stderr)
        return out

    async def probe(self, timeout: float | None = 30) -> EngineInfo:
        """Client and engine versions, and whether the engine is podman; raises if unreachable."""
        args = build_version_argv(docker=None)
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


def binary_error(binary: str, exc: OSError, argv: Sequence[str]) -> DockerUnavailable:
    """The CLI could not be started at all."""
    where = "" if "/" in binary else " on PATH"
    if isinstance(exc, FileNotFoundError):
        problem = f"The docker CLI was not found as `{binary}`{where}."
    else:
        problem = f"The docker CLI `{binary}` could not be started ({exc.strerror or exc})."
    return DockerUnavailable(
        f"{problem} Install Docker Engine (Debian/Ubuntu: `sudo apt-get install docker.io`; elsewhere "
        "Docker Engine or Docker Desktop) or Podman with its docker-compatible command (`podman-docker`), "
        "or point mgexec at the CLI you have with the config key `command_line_docker_binary` or the "
        "environment variable `MGEXEC_DOCKER` (a name on PATH or a full path).",
        argv=list(argv))


def timeout_error(argv: Sequence[str], timeout: float | None, out: ProcessOutput) -> DockerTimeout:
    tool, verb = _tool(argv), _verb(argv)
    return DockerTimeout(
        f"`{tool} {verb}` did not finish within {timeout or 0:g} seconds and was stopped. The container "
        f"engine may be hung or overloaded: check that `{tool} ps` answers quickly, and restart the daemon "
        "if it hangs too.", argv=list(argv), exit_code=out.exit_code, stdout=out.stdout, stderr=out.stderr)


_UNREACHABLE = ("cannot connect to the docker daemon", "failed to connect to the docker api",
                "error during connect", "permission denied while trying to connect",
                "is the docker daemon running", "unable to connect to podman socket",
                "cannot connect to podman")
_CONTEXT_MISSING = re.compile(r'context "([^"]+)"[^\n]*(?:not found|does not exist)', re.I)
_CONFLICT = ("is already in use by container", "name is already in use", "name is in use")
_NO_IMAGE = ("no such image", "unable to find image", "pull access denied", "repository does not exist",
             "image not known", "initializing source docker://")
_NO_CONTAINER = ("no such container", "no container with name or id", "no such object")
_IMAGE_IN_STDERR = (re.compile(r"Unable to find image '([^']+)'"), re.compile(r"No such image: (\S+)", re.I),
                    re.compile(r"pull access denied for ([^,\s]+)"), re.compile(r"(\S+): image not known"),
                    re.compile(r"initializing source docker://(\S+?):\s"))
_CONTAINER_IN_STDERR = (re.compile(r"No such container: (\S+)", re.I),
                        re.compile(r'no container with name or ID "([^"]+)"', re.I),
                        re.compile(r'No such object: "?([^"\s]+)', re.I))
_NAME_IN_CONFLICT = re.compile(r'container name "/?([^"]+)" is already in use', re.I)


def map_docker_error(argv: Sequence[str], exit_code: int | None, stdout: str, stderr: str,
                     *, image: str | None = None) -> DockerError:
    """The DockerError subclass, with a one-paragraph fix, for a failed docker or podman call."""
    text = stderr.lower()
    said = docker_said(stderr) or docker_said(stdout)
    tool = _tool(argv)
    fields = dict(argv=list(argv), exit_code=exit_code, stdout=stdout, stderr=stderr)
    if any(p in text for p in _UNREACHABLE):
        return DockerUnavailable(_unreachable_message(tool, said), **fields)
    if m := _CONTEXT_MISSING.search(stderr):
        return DockerUnavailable(
            f"The docker context `{m.group(1)}` does not exist ({said}). `{tool} context ls` lists the "
            "contexts there are; fix the context mgexec was given, or the DOCKER_CONTEXT environment "
            "variable.", **fields)
    if any(p in text for p in _CONFLICT):
        return ContainerConflict(_conflict_message(tool, _first(_NAME_IN_CONFLICT, stderr), said), **fields)
    about_image = _is_image_call(argv)
    if any(p in text for p in _NO_IMAGE) or (about_image and "no such object" in text):
        name = image or _first_of(_IMAGE_IN_STDERR, stderr) or (argv[-1] if about_image else None)
        return ImageNotFound(image_missing_message(tool, name, said), **fields)
    if any(p in text for p in _NO_CONTAINER):
        name = _first_of(_CONTAINER_IN_STDERR, stderr)
        return NoSuchContainer(_no_container_message(tool, name, said), **fields)
    return DockerError(
        f"`{tool} {_verb(argv)}` failed with exit code {exit_code}: "
        f"{said or 'it printed no error message'}. Run mgexec with --debug to see the full command.",
        **fields)


def docker_said(output: str) -> str:
    """docker's own message: its first paragraph on one line, without usage hints, capped in length."""
    for paragraph in re.split(r"\n\s*\n", output.strip()):
        lines = [ln.strip() for ln in paragraph.splitlines()
                 if ln.strip() and not ln.startswith("Emulate Docker CLI using podman")
                 and not re.match(r"(Run|See) '.*--help'", ln.strip())]
        if lines:
            said = "; ".join(re.sub(r"^docker: ", "", ln).rstrip(".") for ln in lines)
            return said if len(said) <= _SAID_LIMIT else said[:_SAID_LIMIT] + "..."
    return ""


def image_missing_message(tool: str, image: str | None, said: str) -> str:
    """What to do about a missing image: the exact build command for the runtime images."""
    shown = f"`{image}`" if image else "the configured image"
    detail = f" ({said})" if said else ""
    normal = _normalise_image(image) if image else None
    if normal in (RUNTIME_IMAGE, SUDO_RUNTIME_IMAGE):
        flag = " --sudo" if normal == SUDO_RUNTIME_IMAGE else ""
        fix = (f"Build it with `mgexec build{flag}` (or MassGen's `./build.sh{flag}` in massgen/docker/), "
               f"then start again; `{tool} image ls` shows the images the engine has.")
    else:
        target = image or "IMAGE"
        fix = (f"If it comes from a registry, pull it with `{tool} pull {target}`; if it is your own, build "
               f"it with `{tool} build -t {target} DIR`; `{tool} image ls` shows the images the engine has.")
    return f"The image {shown} is not available on the container engine{detail}. {fix}"


def _unreachable_message(tool: str, said: str) -> str:
    return (f"mgexec cannot reach the container engine through `{tool}` ({said}). Start the daemon "
            "(`sudo systemctl start docker`, Docker Desktop, or `podman machine start`) and check that "
            f"`{tool} ps` answers; if it says permission denied, add your user to the docker group "
            "(`sudo usermod -aG docker $USER`, then log in again) or run with sudo; for a remote or "
            "non-default engine, check the DOCKER_HOST environment variable and the docker context "
            f"(`{tool} context ls`).")


def _conflict_message(tool: str, name: str | None, said: str) -> str:
    shown = f"`{name}`" if name else "with the wanted name"
    remove = f"`{tool} rm -f {name}`" if name else f"`{tool} rm -f NAME`"
    return (f"A container {shown} already exists, so a new one cannot take its name ({said}). If no running "
            f"mgexec session or other program uses it, remove it with {remove}; otherwise give this agent "
            "another id.")


def _no_container_message(tool: str, name: str | None, said: str) -> str:
    shown = f"`{name}`" if name else "mgexec expected"
    return (f"The container {shown} does not exist on the container engine ({said}): it was removed or "
            f"never created. `{tool} ps -a` lists the containers there are; mgexec creates a new container "
            "when a session starts, so starting the session again recovers.")


def _normalise_image(image: str) -> str:
    name = image.removeprefix("docker.io/")
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last or "@" in last else name + ":latest"


def _is_image_call(argv: Sequence[str]) -> bool:
    verb = _verb(argv)
    if verb in ("image inspect", "pull", "rmi", "image rm"):
        return True
    return verb == "inspect" and any(a == "--type=image" or (a == "image" and prev == "--type")
                                     for prev, a in zip(argv, argv[1:]))


def _first(pattern: re.Pattern, text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1) if m else None


def _first_of(patterns: Sequence[re.Pattern], text: str) -> str | None:
    for pattern in patterns:
        # Names are followed by punctuation in some messages ("No such image: x:1: ...").
        if found := (_first(pattern, text) or "").rstrip(":.,"):
            return found
    return None


def _tool(argv: Sequence[str]) -> str:
    return os.path.basename(argv[0]) if argv else DEFAULT_BINARY


def _verb(argv: Sequence[str]) -> str:
    """The docker verb of a full argv (`run`, `image inspect`), past the global flags."""
    rest = list(argv[1:])
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in _GLOBAL_VALUE_FLAGS and rest:
            rest.pop(0)
    if not rest:
        return ""
    if rest[0] in _NOUNS and len(rest) > 1:
        return f"{rest[0]} {rest[1]}"
    return rest[0]
