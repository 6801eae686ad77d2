"""Executors: one agent's commands, each executor a deployment (the host, the agent's container, or its
bubblewrap sandbox) composed with a runtime (how commands run there), behind the policy gate."""

from __future__ import annotations

from mgexec.config import ExecConfig
from mgexec.executors.base import Executor, CommandGate, ProgressCallback


def make_executor(config: ExecConfig, *, single_command: bool = False) -> Executor:
    """The executor for the config's mode. `single_command`: it will run one command and close."""
    if config.mode == "docker":
        from mgexec.executors.docker import DockerExecutor

        # Opening the warm channel costs more than the one docker exec it would save.
        return DockerExecutor(config, warm_channel=False if single_command else None,
                              single_command=single_command)
    if config.mode == "srt":
        from mgexec.executors.sandbox import SandboxExecutor

        # One bwrap costs less than starting the warm helper for a single command.
        return SandboxExecutor(config, warm=not single_command, single_command=single_command)
    from mgexec.executors.local import LocalExecutor

    return LocalExecutor(config, single_command=single_command)


__all__ = ["Executor", "CommandGate", "ProgressCallback", "make_executor"]
