"""Background shells: long-running commands in a terminal, with bounded output, input and tree kills."""

from mgexec.shells.buffer import OutputBuffer
from mgexec.shells.launcher import Handshake, Launcher, LocalLauncher, ShellProcess, SpawnOptions
from mgexec.shells.manager import BackgroundShell, BackgroundShellManager

__all__ = [
    "BackgroundShell",
    "BackgroundShellManager",
    "Handshake",
    "Launcher",
    "LocalLauncher",
    "OutputBuffer",
    "ShellProcess",
    "SpawnOptions",
]
