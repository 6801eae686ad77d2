"""Background shells: long-running commands in a terminal, with bounded output, input and tree kills.

The public names load on first use, so that the MCP server can describe the shell tools (their answer
models, in `results`) before its handshake without importing the terminal and process machinery.
"""

from __future__ import annotations

from mgexec.lazy import lazy_exports

_HOMES = {"BackgroundShell": "manager", "BackgroundShellManager": "manager", "Handshake": "launcher",
          "Launcher": "launcher", "LocalLauncher": "launcher", "OutputBuffer": "buffer", "ShellProcess": "launcher",
          "SpawnOptions": "launcher"}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)
