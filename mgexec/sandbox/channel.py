"""The warm channel in srt mode: docker mode's exec helper (mgexec/inside/channel_helper.py), started inside one bwrap sandbox.

The helper runs as a child subreaper in the sandbox's PID namespace, so a command that double-forks
is still found and swept; if the helper is lost, the sandbox's init dies with it and takes every
process left inside, so there is nothing to kill from outside.
"""

from __future__ import annotations

from typing import Callable

from mgexec.docker.channel import ExecChannel
from mgexec.inside.channel_boot import HELPER_BOOT
from mgexec.errors import MgexecError, SandboxUnavailable
from mgexec.runner import spawn_error


def helper_command(python: str) -> list[str]:
    """The helper's command inside the sandbox; its program follows on stdin."""
    return [python, "-I", "-u", "-c", HELPER_BOOT]


class SandboxChannel(ExecChannel):
    """An ExecChannel whose helper is `bwrap ... python3 -I -u -c HELPER_BOOT` rather than a `docker exec`."""

    def __init__(self, make_argv: Callable[[list[str]], list[str]], python: str, env: dict[str, str],
                 label: str) -> None:
        super().__init__(cli=None, container=label)  # type: ignore[arg-type]
        self._make_argv = make_argv  # wraps a command in the agent's bwrap argv
        self._python = python
        self._env = env

    @classmethod
    async def start(cls, make_argv: Callable[[list[str]], list[str]], python: str, env: dict[str, str],
                    label: str) -> SandboxChannel:
        channel = cls(make_argv, python, env, label)
        await channel._connected()
        return channel

    def _helper_command(self) -> tuple[list[str], dict[str, str] | None]:
        return self._make_argv(helper_command(self._python)), dict(self._env)

    def _spawn_error(self, exc: OSError, argv: list[str]) -> MgexecError:
        return SandboxUnavailable(spawn_error(argv[0], exc))

    async def _listener(self) -> None:
        """None: the sandbox's helper is a child of this process, its stdio already a plain pipe."""

    def _kill_orphans(self, pids: list[int]) -> None:
        """Nothing to do: the sandbox's PID namespace ended with its helper, and everything in it."""
