"""Background shells: long-running commands in a terminal, with bounded output, input and tree kills.

The public names load on first use, so that the MCP server can describe the shell tools (their answer
models, in `results`) before its handshake without importing the terminal and process machinery.
"""

from __future__ import annotations

import importlib

_HOMES = {"BackgroundShell": "manager", "BackgroundShellManager": "manager", "Handshake": "launcher",
          "Launcher": "launcher", "LocalLauncher": "launcher", "OutputBuffer": "buffer", "ShellProcess": "launcher",
          "SpawnOptions": "launcher"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
