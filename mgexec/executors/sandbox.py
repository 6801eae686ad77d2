"""srt mode: the agent's bubblewrap sandbox (mgexec.deployments.sandbox), each command run in it through the
warm helper (one long-lived bwrap) or, when the helper cannot run, its own `bwrap ... bash -c LINE`."""

from __future__ import annotations

import logging
from pathlib import Path

from mgexec import processes
from mgexec.deployments.sandbox import SandboxDeployment
from mgexec.environment import line_shell_argv
from mgexec.errors import ChannelLost, ChannelUnavailable, SandboxUnavailable
from mgexec.executors.base import Executor
from mgexec.runtimes import Runtime
from mgexec.runtimes.channel import ChannelRuntime
from mgexec.runtimes.host import SubprocessRuntime
from mgexec.sandbox.channel import SandboxChannel

log = logging.getLogger("mgexec.sandbox")


class SandboxExecutor(Executor):
    """Runs the agent's commands in its sandbox; closing it ends the sandbox and everything inside.

    `warm`: start the helper (fast); without it, or without a python3 the sandbox can read, or when the
    helper does not start, each command is its own bwrap (slower, same containment and results)."""

    deployment: SandboxDeployment

    def __init__(self, config, *, warm: bool = True, kill_grace: float = processes.KILL_GRACE,
                 single_command: bool = False) -> None:
        super().__init__(config, SandboxDeployment(config), single_command=single_command)
        self.warm = warm
        self.kill_grace = kill_grace
        self.path_used = "not started"  # "warm helper (PYTHON)" or "one bwrap per command (WHY)", for logs/doctor

    @property
    def channel(self) -> SandboxChannel | None:
        return self.runtime.channel if isinstance(self.runtime, ChannelRuntime) else None

    async def open_runtime(self) -> Runtime:
        runtime = await self._warm_runtime()
        # The slow path is worth a warning (shown without --debug); the fast one is the expected case.
        level = logging.INFO if runtime is not None or not self.warm else logging.WARNING
        log.log(level, "srt sandbox for agent %s: commands run through %s", self.config.agent_id, self.path_used)
        return runtime or self._per_command()

    async def _warm_runtime(self) -> ChannelRuntime | None:
        python = self.deployment.python
        if not self.warm or python is None:
            why = ("the warm helper was not asked for" if not self.warm
                   else "no python3 the sandbox can read (e.g. /usr/bin/python3)")
            self.path_used = f"one bwrap per command ({why})"
            return None
        try:
            channel = await SandboxChannel.start(self.deployment.wrap, python, self.deployment.env,
                                                 f"srt-{self.config.agent_id}")
        except (ChannelUnavailable, SandboxUnavailable) as exc:
            said = " ".join((getattr(exc, "stderr", "") or str(exc)).split())[-300:]
            self.path_used = f"one bwrap per command (the warm helper did not start: {said or 'no message'})"
            return None
        self.path_used = f"warm helper ({python})"
        return ChannelRuntime(channel, self.kill_grace, lost=_lost)

    def _per_command(self) -> SubprocessRuntime:
        # bwrap --die-with-parent ends the sandbox with this process, so no watchdog is needed.
        return SubprocessRuntime(self.open_dir, lambda: None, base_env=self.deployment.env,
                                 argv_for=lambda line, work_dir: self.deployment.wrap(line_shell_argv(line),
                                                                                      str(work_dir)))

    def open_dir(self, work_dir: Path) -> int | None:
        return self.gate.open_work_dir(work_dir)


def _lost(exc: ChannelLost) -> str:
    """The channel's loss in srt mode's terms (its own message speaks of containers)."""
    code = exc.exit_code
    how = (f"killed by signal {code - 128}" if code is not None and 128 < code < 160
           else f"exit code {code}" if code is not None else "closed")
    if "was closed" in str(exc):
        return ("The srt sandbox was closed while the command ran (the session is ending); mgexec stopped the "
                "command and everything it started.")
    return (f"The srt sandbox's helper ended while the command ran ({how}), so the command's result is lost; "
            "the sandbox ended with it, taking every process the command started. The next command starts a "
            "fresh sandbox. The command may not have finished; run it again.")
