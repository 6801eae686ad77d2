"""The one exception tree of mgexec: every error a user can cause or meet is an MgexecError.

Each error carries a message that is already one readable paragraph (what was wrong,
and what to do); the CLI prints it as is and the MCP server returns it as tool error text.
Secrets never go into these messages.
"""

from __future__ import annotations

import enum


class MgexecError(Exception):
    """Root of all mgexec errors."""


class ConfigError(MgexecError, ValueError):
    """A config file, key or value is wrong."""


class PolicyViolation(MgexecError, PermissionError):
    """A command or work_dir is refused by the guard rails before anything runs."""


class ExecTimeout(MgexecError, TimeoutError):
    """An operation of mgexec itself (not a user command) ran out of time."""


class DockerFailure(str, enum.Enum):
    """What kind of docker (or podman) failure a DockerError is; mgexec.docker.errors decides it."""

    NO_BINARY = "no-binary"  # the CLI could not be started
    UNREACHABLE = "unreachable"  # the daemon is down, refuses us, or DOCKER_HOST points nowhere
    NO_CONTEXT = "no-context"
    TIMEOUT = "timeout"  # the call did not finish in time
    CONFLICT = "conflict"  # the container name is taken
    NO_IMAGE = "no-image"
    NO_CONTAINER = "no-container"
    NOT_RUNNING = "not-running"  # the container exists but is stopped
    EXEC_FAILED = "exec-failed"  # the engine could not start a process in the container
    DAEMON = "daemon"  # the daemon refused the call for another reason
    NO_PYTHON = "no-python"  # the warm channel's helper: no python3 in the image
    OLD_PYTHON = "old-python"  # the warm channel's helper: python3 older than 3.7
    HELPER_FAILED = "helper-failed"  # the warm channel's helper did not start for another reason
    OTHER = "other"  # docker said something mgexec does not recognise


class DockerError(MgexecError, RuntimeError):
    """A docker CLI call failed; carries the argv (secret-free), exit code, output, and what failed."""

    def __init__(self, message: str, *, argv: list[str] | None = None, exit_code: int | None = None,
                 stdout: str = "", stderr: str = "", kind: DockerFailure = DockerFailure.OTHER,
                 container: str | None = None, image: str | None = None) -> None:
        super().__init__(message)
        self.argv = list(argv or [])
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.kind = kind
        self.container = container
        self.image = image


class DockerUnavailable(DockerError):
    """The docker CLI is missing or its daemon cannot be reached."""


class ImageNotFound(DockerError):
    """The configured image does not exist on the engine."""


class ImageInvalid(DockerError):
    """An image exists but lacks what mgexec needs (user, directories, long-running CMD)."""


class NoSuchContainer(DockerError):
    """A container mgexec expected is gone."""


class ContainerConflict(DockerError):
    """A container with the wanted name exists and is held by a live owner."""


class PreinstallFailed(DockerError):
    """A package preinstall step failed inside a new container."""


class DockerTimeout(DockerError, ExecTimeout):
    """A docker CLI call (not a user command) did not finish in time: the engine is hung or overloaded."""


class SpawnFailed(MgexecError, OSError):
    """A process could not be started (its directory vanished, the program is missing, arguments too long)."""


class ShellNotFound(MgexecError, KeyError):
    """No background shell has this id (it never existed, or it was removed)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ShellLimitReached(MgexecError, RuntimeError):
    """Starting another background shell would exceed the limit of running shells."""


class ShellNotRunning(MgexecError, RuntimeError):
    """The background shell has finished, so it cannot take input."""


class ShellStartFailed(MgexecError, OSError):
    """A background shell could not be started (missing directory, program not found)."""


class InvalidShellRequest(MgexecError, ValueError):
    """A background-shell request carries an invalid argument or does not fit the shell's state."""


class ChannelUnavailable(DockerError):
    """The container cannot run mgexec's exec helper (no python3 3.7+): run one `docker exec` per command."""


class ChannelLost(DockerError):
    """The exec channel into a container ended while commands were in flight; their results are lost."""


class SandboxUnavailable(MgexecError, RuntimeError):
    """srt mode cannot run here: no bwrap, no user namespaces, not Linux, or the sandbox fails to start."""
