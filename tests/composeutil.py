"""Which compose the engine-backed compose tests drive: `<docker> compose` (the v2 plugin most machines
have; `<docker>` honours MGEXEC_DOCKER) or `docker-compose` (v1, Debian's), whichever runs."""

from __future__ import annotations

import shlex
import subprocess
from typing import Callable

import pytest

from dockerutil import _in_ci, docker_binary

NO_COMPOSE = "neither `{docker} compose` (v2 plugin) nor `docker-compose` (v1) is installed"


def compose_candidates(docker: str) -> list[list[str]]:
    """In order of preference: the plugin of the CLI the tests drive, then the standalone v1."""
    return [[docker, "compose"], ["docker-compose"]]


def answers_version(argv: list[str]) -> bool:
    """True when `argv version` runs and succeeds (a CLI without the plugin fails: unknown command)."""
    try:
        done = subprocess.run([*argv, "version"], capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def compose_command(works: Callable[[list[str]], bool] = answers_version) -> str | None:
    """The compose command line (shell words, as pytest-docker runs it) of the first candidate that works."""
    for argv in compose_candidates(docker_binary()):
        if works(argv):
            return shlex.join(argv)
    return None


def require_compose() -> str:
    """The compose command, or skip saying why (fail under CI, like every engine-backed test)."""
    command = compose_command()
    if command is not None:
        return command
    why = NO_COMPOSE.format(docker=docker_binary())
    if _in_ci():
        pytest.fail(f"CI needs compose for this test, but {why}.")
    pytest.skip(why)
