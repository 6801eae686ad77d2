"""Runtimes: how a command line runs in a deployment's place, behind one small interface.

`host.py` runs it as a direct subprocess (local mode), `channel.py` through the warm exec channel into a
container, `docker_exec.py` as one `docker exec` per command. Each returns the command's ProcessOutput,
or raises an MgexecError when the command could not be run at all (the executor turns that into a refusal).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Mapping

from mgexec.runner import ProcessOutput


class Runtime(ABC):
    """Runs one command line at a time per call (calls may overlap) in one place."""

    @abstractmethod
    async def run(self, command: str, *, work_dir: Path, timeout: float, output_cap: int,
                  env: Mapping[str, str] | None = None) -> ProcessOutput:
        """Run `command` with bash in the approved `work_dir`; `env` adds variables to the place's own."""

    async def close(self) -> None:
        """Stop what this runtime keeps open (a channel, a watchdog); commands still running are ended."""


__all__ = ["Runtime"]
