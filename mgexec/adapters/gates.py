"""The command gate for a confinement the server chose at run time (MCP roots): the config's, or one refusing all."""

from __future__ import annotations

from pathlib import Path

from mgexec.config import ExecConfig
from mgexec.errors import PolicyViolation
from mgexec.executors.base import CommandGate


class RefusingGate(CommandGate):
    """Confinement while no acceptable workspace is known: every command is refused with `reason`."""

    def __init__(self, config: ExecConfig, reason: str) -> None:
        super().__init__(config)
        self.reason = reason

    def approve(self, command: str, work_dir: str | None) -> Path:
        raise PolicyViolation(self.reason)


def gate_for(config: ExecConfig, refusal: str | None = None) -> CommandGate:
    return CommandGate(config) if refusal is None else RefusingGate(config, refusal)
