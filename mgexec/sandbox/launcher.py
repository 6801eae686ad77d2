"""Background shells in srt mode: LocalLauncher's keeper and shell, started inside a bwrap sandbox of their own.

Each shell gets the agent's sandbox (same mounts, no network but the proxy's, own PID namespace). The
keeper is a subreaper inside it and watches the server's lifeline as in local mode; bwrap's
--die-with-parent and the PID namespace end everything if the server dies even before the keeper sees it.
"""

from __future__ import annotations

import asyncio
from typing import Callable, Mapping

from mgexec import processes
from mgexec.environment import command_env
from mgexec.errors import SandboxUnavailable
from mgexec.inside.keeper import KEEPER_BOOTSTRAP, KEEPER_VARIABLE
from mgexec.shells.launcher import BACKGROUND_SHELL_ENV, KEEPER_SOURCE, LocalLauncher, ShellProcess, SpawnOptions

SANDBOX_SHELL = "/bin/bash"  # visible in every read mode (strict mode shows /usr and its /bin link)


class SandboxLauncher(LocalLauncher):
    """Spawns `bwrap ... python3 KEEPER LIFELINE bash COMMAND`; the pid users see is the keeper's in the sandbox."""

    def __init__(self, wrap: Callable[[list[str], str], list[str]], *, env: Mapping[str, str],
                 python: str | None) -> None:
        super().__init__(env=dict(env), shell=SANDBOX_SHELL)
        self._wrap = wrap  # COMMAND -> the agent's bwrap argv around it, starting in work_dir
        self._python = python

    def argv_for(self, command: str, work_dir: str) -> list[str]:
        self._check_open()
        if self._python is None:
            raise SandboxUnavailable(
                "Background shells in srt mode need a python3 the sandbox can read (such as /usr/bin/python3) to "
                "keep the shell's processes together; install python3 from the system's packages, or run the "
                "command in the foreground.")
        keeper = [self._python, "-I", "-S", "-c", KEEPER_BOOTSTRAP, str(self._lifeline_read), self._shell, command]
        return self._wrap(keeper, work_dir)

    def env_for(self, work_dir: str) -> dict[str, str]:
        # The sandbox's own environment (not the server's) as a command gets it (a work_dir .venv first on PATH),
        # a plain terminal, the keeper's source.
        return {**command_env(work_dir, self._base_env), **BACKGROUND_SHELL_ENV, KEEPER_VARIABLE: KEEPER_SOURCE}

    def spawn_options(self, work_dir: str) -> SpawnOptions:
        self._check_open()
        return SpawnOptions(cwd=None, pass_fds=(self._lifeline_read,))  # bwrap's --chdir enters work_dir

    async def kill_tree(self, shell: ShellProcess, sig: int) -> None:
        # Everything below the keeper: bwrap, the sandbox's init and the keeper are spared, so the keeper
        # reaps the shell, sweeps and exits with its status, which ends the sandbox.
        await asyncio.to_thread(_signal_below_keeper, shell.local_pid, sig)


def _signal_below_keeper(bwrap_pid: int, sig: int) -> int:
    table = processes.process_table()
    init = {pid for pid, stat in table.items() if stat[1] == bwrap_pid}
    keepers = {pid for pid, stat in table.items() if stat[1] in init}
    scope = processes.Scope(roots=frozenset({bwrap_pid}), orphans=False,
                            spare=frozenset({bwrap_pid, *init, *keepers}))
    return processes.terminate(scope, sig)
