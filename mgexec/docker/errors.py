"""The one mapper of docker (and podman) failures: what the CLI said -> a DockerError subclass with
structured fields (kind, container, image, exit code, output) and a one-paragraph fix.

Every failed call is classified here: the gateway's (DockerCLI.run), a command's own `docker exec`, and
the warm channel's helper that did not start.
"""

from __future__ import annotations

import os
import re
from typing import Sequence

from mgexec.config import DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE
from mgexec.inside.channel_boot import TOO_OLD_EXIT  # the helper's boot: python3 older than 3.7
from mgexec.errors import (ChannelUnavailable, ContainerConflict, DockerError, DockerFailure, DockerTimeout,
                           DockerUnavailable, ImageNotFound, NoSuchContainer)

K = DockerFailure
DEFAULT_TOOL = "docker"
# Exit codes with which `docker exec` reports that it, not the command, failed (or the command could not start).
ENGINE_EXIT_CODES = (125, 126, 127)
# The kinds a `docker exec` itself reports; anything else on its stderr is the command's own output.
_EXEC_KINDS = frozenset({K.UNREACHABLE, K.NO_CONTEXT, K.NO_CONTAINER, K.NOT_RUNNING, K.EXEC_FAILED, K.DAEMON})
_SAID_LIMIT = 600
# Global flags that take a value, so the verb can be found after them.
_GLOBAL_VALUE_FLAGS = {"--context", "-c", "--host", "-H", "--config", "--log-level", "-l",
                       "--tlscacert", "--tlscert", "--tlskey", "--url", "--connection"}
_NOUNS = {"image", "container", "network", "volume", "context", "system", "builder"}

# What docker and podman print for each kind, lower-cased, in the order they are tried: a missing
# daemon's message mentions "not running" too, so reachability comes first.
_SAYINGS: tuple[tuple[DockerFailure, tuple[str, ...]], ...] = (
    (K.UNREACHABLE, ("cannot connect to the docker daemon", "failed to connect to the docker api",
                     "error during connect", "permission denied while trying to connect",
                     "is the docker daemon running", "unable to connect to podman socket", "cannot connect to podman")),
    (K.CONFLICT, ("is already in use by container", "name is already in use", "name is in use")),
    (K.NO_IMAGE, ("no such image", "unable to find image", "pull access denied", "repository does not exist",
                  "image not known", "initializing source docker://")),
    (K.NO_CONTAINER, ("no such container", "no container with name or id", "no such object")),
    (K.NOT_RUNNING, ("is not running", "container state improper")),
    (K.EXEC_FAILED, ("oci runtime exec failed", "exec failed:")),
    (K.DAEMON, ("error response from daemon",)),
)
_CONTEXT_MISSING = re.compile(r'context "([^"]+)"[^\n]*(?:not found|does not exist)', re.I)
_IMAGE_IN_STDERR = (re.compile(r"Unable to find image '([^']+)'"), re.compile(r"No such image: (\S+)", re.I),
                    re.compile(r"pull access denied for ([^,\s]+)"), re.compile(r"(\S+): image not known"),
                    re.compile(r"initializing source docker://(\S+?):\s"))
_CONTAINER_IN_STDERR = (re.compile(r"No such container: (\S+)", re.I),
                        re.compile(r'no container with name or ID "([^"]+)"', re.I),
                        re.compile(r'No such object: "?([^"\s]+)', re.I),
                        re.compile(r'container name "/?([^"]+)" is already in use', re.I),
                        re.compile(r"Container (\S+) is not running", re.I))


def classify(argv: Sequence[str], stderr: str) -> DockerFailure:
    """The kind of failure docker's (or podman's) stderr reports for the call `argv`."""
    text = stderr.lower()
    if _CONTEXT_MISSING.search(stderr) and not any(p in text for p in _SAYINGS[0][1]):
        return K.NO_CONTEXT
    for kind, sayings in _SAYINGS:
        if kind is K.NO_IMAGE and _is_image_call(argv) and "no such object" in text:
            return K.NO_IMAGE
        if any(p in text for p in sayings):
            return kind
    return K.OTHER


def map_docker_error(argv: Sequence[str], exit_code: int | None, stdout: str, stderr: str,
                     *, image: str | None = None, container: str | None = None) -> DockerError:
    """The DockerError subclass, with a one-paragraph fix and its fields, for a failed docker or podman call."""
    kind = classify(argv, stderr)
    said, tool = docker_said(stderr) or docker_said(stdout), _tool(argv)
    if kind is K.NO_IMAGE:
        image = image or _first_of(_IMAGE_IN_STDERR, stderr) or (argv[-1] if _is_image_call(argv) else None)
    elif kind in (K.NO_CONTAINER, K.CONFLICT, K.NOT_RUNNING):
        container = _first_of(_CONTAINER_IN_STDERR, stderr) or container
    fields = dict(argv=list(argv), exit_code=exit_code, stdout=stdout, stderr=stderr, kind=kind,
                  container=container, image=image)
    if kind is K.UNREACHABLE:
        return DockerUnavailable(_unreachable_message(tool, said), **fields)
    if kind is K.NO_CONTEXT:
        return DockerUnavailable(
            f"The docker context `{_first_of((_CONTEXT_MISSING,), stderr)}` does not exist ({said}). `{tool} context "
            "ls` lists the contexts there are; fix the context mgexec was given, or the DOCKER_CONTEXT environment "
            "variable.", **fields)
    if kind is K.CONFLICT:
        return ContainerConflict(_conflict_message(tool, container, said), **fields)
    if kind is K.NO_IMAGE:
        return ImageNotFound(image_missing_message(tool, image, said), **fields)
    if kind is K.NO_CONTAINER:
        return NoSuchContainer(_no_container_message(tool, container, said), **fields)
    return DockerError(
        f"`{tool} {_verb(argv)}` failed with exit code {exit_code}: "
        f"{said or 'it printed no error message'}. Run mgexec with --debug to see the full command.",
        **fields)


def exec_failure(argv: Sequence[str], exit_code: int | None, stderr: str, container: str) -> DockerError | None:
    """The engine's failure when a command's own `docker exec` could not run it; None when the command ran
    (and its exit code and stderr are its own)."""
    if exit_code not in ENGINE_EXIT_CODES or classify(argv, stderr) not in _EXEC_KINDS:
        return None
    return map_docker_error(argv, exit_code, "", stderr, container=container)


def helper_start_failure(argv: Sequence[str], container: str, exit_code: int | None, stderr: str) -> DockerError:
    """Why the warm channel's helper did not start: ChannelUnavailable when the image cannot run it, else the
    engine's error."""
    text = stderr.lower()
    said = docker_said(stderr) or "it printed no error message"
    fallback = "mgexec runs each command through its own `docker exec` instead, which is slower but complete."
    fields = dict(argv=list(argv), exit_code=exit_code, stderr=stderr, container=container)
    if exit_code == TOO_OLD_EXIT or "unknown option" in text:
        return ChannelUnavailable(
            f"The container `{container}` has a python3 older than 3.7 ({said}), so mgexec's exec helper cannot "
            f"run there; {fallback} Use an image with Python 3.7 or newer to get the fast path.",
            kind=K.OLD_PYTHON, **fields)
    if "python3" in text and ("not found" in text or "no such file" in text):
        return ChannelUnavailable(
            f"The container `{container}` has no python3 on its PATH ({said}), so mgexec's exec helper cannot run "
            f"there; {fallback} Install python3 in the image to get the fast path.", kind=K.NO_PYTHON, **fields)
    mapped = map_docker_error(argv, exit_code, "", stderr, container=container)
    if mapped.kind not in (K.OTHER, K.EXEC_FAILED):
        return mapped  # the engine or the container is the problem, not the image
    return ChannelUnavailable(
        f"mgexec's exec helper did not start in the container `{container}` (`docker exec` exited with code "
        f"{exit_code}: {said}); {fallback}", kind=K.HELPER_FAILED, **fields)


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
        argv=list(argv), kind=K.NO_BINARY)


def timeout_error(argv: Sequence[str], timeout: float | None, exit_code: int | None, stdout: str,
                  stderr: str) -> DockerTimeout:
    tool, verb = _tool(argv), _verb(argv)
    return DockerTimeout(
        f"`{tool} {verb}` did not finish within {timeout or 0:g} seconds and was stopped. The container "
        f"engine may be hung or overloaded: check that `{tool} ps` answers quickly, and restart the daemon "
        "if it hangs too.", argv=list(argv), exit_code=exit_code, stdout=stdout, stderr=stderr, kind=K.TIMEOUT)


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
    if normal in (DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE):
        flag = " --sudo" if normal == DEFAULT_SUDO_IMAGE else ""
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


def _first_of(patterns: Sequence[re.Pattern], text: str) -> str | None:
    for pattern in patterns:
        # Names are followed by punctuation in some messages ("No such image: x:1: ...").
        m = pattern.search(text)
        if m and (found := m.group(1).rstrip(":.,")):
            return found
    return None


def _tool(argv: Sequence[str]) -> str:
    return os.path.basename(argv[0]) if argv else DEFAULT_TOOL


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
