"""Executors: where commands run (local host, or the agent's Docker container)."""

from __future__ import annotations

from mgexec.config import ExecConfig
from mgexec.executors.base import Executor, Guard, ProgressCallback


def make_executor(config: ExecConfig) -> Executor:
    if config.mode == "docker":
        from mgexec.executors.docker import DockerExecutor

        return DockerExecutor(config)
    from mgexec.executors.local import LocalExecutor

    return LocalExecutor(config)


__all__ = ["Executor", "Guard", "ProgressCallback", "make_executor"]
