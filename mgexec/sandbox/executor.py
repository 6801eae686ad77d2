"""srt mode: every command in the agent's bubblewrap sandbox, through one warm helper (or one bwrap each).

The sandbox is the mount and namespace policy of sandbox.argv over the agent's SandboxSpec; the guard
rails run first, as in every mode. Without a python3 the sandbox can read, or when the helper does not
start, each command is its own `bwrap ... bash -c LINE` (slower, same containment and results).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path

from mgexec.docker.channel import ChannelOutput
from mgexec.environment import command_env, line_shell_argv
from mgexec.errors import ChannelLost, ChannelUnavailable, DockerError, MgexecError, SandboxUnavailable, SpawnFailed
from mgexec.executors.base import Executor
from mgexec.result import ExecResult, from_process, rejected
from mgexec.runner import run_process, spawn_error
from mgexec.sandbox.argv import SandboxSpec, build_bwrap_argv
from mgexec.sandbox.channel import SandboxChannel
from mgexec.sandbox.host import find_bwrap, sandbox_env, sandbox_python
from mgexec.sandbox.network import RELAY_FAILED, SandboxNetwork, open_network
from mgexec.sandbox.spec import build_spec

log = logging.getLogger("mgexec.sandbox")
PROBE_TIMEOUT = 30.0


class SandboxExecutor(Executor):
    """Runs the agent's commands in its sandbox; closing it ends the sandbox and everything inside."""

    def __init__(self, config, *, warm: bool = True, kill_grace: float = 2.0, single_command: bool = False) -> None:
        super().__init__(config, single_command=single_command)
        self.warm = warm
        self.kill_grace = kill_grace
        self.bwrap: str | None = None
        self.spec: SandboxSpec | None = None
        self.env: dict[str, str] = {}
        self.network: SandboxNetwork | None = None
        self.channel: SandboxChannel | None = None
        self.path_used = "not started"  # "warm helper (PYTHON)" or "one bwrap per command (WHY)", for logs/doctor
        self._socket_dir: tempfile.TemporaryDirectory | None = None

    async def open(self) -> None:
        self.bwrap = find_bwrap()
        self.env = sandbox_env(self.config)
        try:
            self.spec = build_spec(self.config)
            await self._open_network(sandbox_python(self.spec))
            if self.network is not None:
                self.spec = build_spec(self.config, sockets=self.network.sockets)
            await probe(self.wrap(["true"]), self.env)
            await self._open_channel()
        except BaseException:
            await self._close_network()
            raise

    async def _open_network(self, python: str | None) -> None:
        if not self.config.sandbox.allowed_domains:
            return
        self._socket_dir = tempfile.TemporaryDirectory(prefix="mgexec-srt-")
        self.network = await open_network(self.config.sandbox, self._socket_dir.name, python)
        self.env.update(self.network.env)

    async def _open_channel(self) -> None:
        python = sandbox_python(self.spec)
        if not self.warm or python is None:
            why = ("the warm helper was not asked for" if not self.warm
                   else "no python3 the sandbox can read (e.g. /usr/bin/python3)")
            self.path_used = f"one bwrap per command ({why})"
        else:
            try:
                self.channel = await SandboxChannel.start(self.wrap, python, self.env, f"srt-{self.config.agent_id}")
                self.path_used = f"warm helper ({python})"
            except (ChannelUnavailable, SandboxUnavailable) as exc:
                said = " ".join((getattr(exc, "stderr", "") or str(exc)).split())[-300:]  # docker's words aside
                self.path_used = f"one bwrap per command (the warm helper did not start: {said or 'no message'})"
        # The slow path is worth a warning (shown without --debug); the fast one is the expected case.
        level = logging.INFO if self.channel is not None or not self.warm else logging.WARNING
        log.log(level, "srt sandbox for agent %s: commands run through %s", self.config.agent_id, self.path_used)

    def wrap(self, command: list[str], work_dir: str | None = None) -> list[str]:
        """COMMAND as it runs in the agent's sandbox (behind the network relay when there is one)."""
        spec = self.spec if work_dir is None else _with_work_dir(self.spec, work_dir)
        inner = self.network.wrap(command) if self.network is not None else command
        return build_bwrap_argv(spec, inner, bwrap=self.bwrap)

    async def close(self) -> None:
        await super().close()
        if self.channel is not None:
            channel, self.channel = self.channel, None
            await channel.close()
        await self._close_network()

    async def _close_network(self) -> None:
        if self.network is not None:
            network, self.network = self.network, None
            await network.close()
        if self._socket_dir is not None:
            self._socket_dir.cleanup()
            self._socket_dir = None

    def make_launcher(self):
        from mgexec.sandbox.launcher import SandboxLauncher

        return SandboxLauncher(self.wrap, env=self.env, python=sandbox_python(self.spec))

    def open_dir(self, work_dir: Path) -> int | None:
        return None  # the shell starts in its work_dir through bwrap's --chdir

    async def _run(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        if self.spec is None:
            return rejected(command, str(work_dir), "The sandbox is not running: the executor was not started.")
        if self.channel is not None:
            return await self._run_in_channel(command, work_dir, timeout)
        argv = self.wrap(line_shell_argv(command), str(work_dir))
        try:  # the environment the helper would give: a work_dir .venv first, no bash start-up variables
            out = await run_process(argv, env=command_env(work_dir, self.env), timeout=timeout,
                                    output_cap=self.config.max_output_bytes, kill_grace=self.kill_grace)
        except OSError as exc:
            if isinstance(exc, MgexecError):
                raise
            raise SpawnFailed(spawn_error(argv[0], exc)) from exc
        return from_process(out, command, str(work_dir), timeout)

    async def _run_in_channel(self, command: str, work_dir: Path, timeout: float) -> ExecResult:
        try:
            out = await self.channel.run(command, work_dir=str(work_dir), timeout=timeout,
                                         output_cap=self.config.max_output_bytes, kill_grace=self.kill_grace)
        except ChannelLost as exc:
            return rejected(command, str(work_dir), _lost(exc))
        except DockerError as exc:  # the helper refused a request: a bug, said as such by the channel
            return rejected(command, str(work_dir), str(exc))
        if isinstance(out, ChannelOutput) and out.work_dir_unusable:  # the helper's own field, not its words
            return rejected(command, str(work_dir), out.stderr.strip())
        return from_process(out, command, str(work_dir), timeout)


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


def _with_work_dir(spec: SandboxSpec, work_dir: str) -> SandboxSpec:
    from dataclasses import replace

    return replace(spec, work_dir=work_dir)


async def probe(argv: list[str], env: dict[str, str]) -> None:
    """Run a sandboxed `true`; SandboxUnavailable naming bwrap's complaint and the fix when it fails."""
    try:
        out = await run_process(argv, env=env, timeout=PROBE_TIMEOUT, output_cap=64 * 1024)
    except OSError as exc:
        raise SandboxUnavailable(spawn_error(argv[0], exc)) from exc
    if out.exit_code == RELAY_FAILED and "network relay" in out.stderr:
        raise SandboxUnavailable(f"{out.stderr.strip()}: the sandbox was made, but the relay to mgexec's proxy "
                                 "did not listen inside it. Run `mgexec doctor --mode srt`, or remove "
                                 "command_line_srt_network_allowed_domains (no network).")
    if out.exit_code != 0 or out.timed_out:
        from mgexec.sandbox.diagnose import explain_bwrap_failure

        raise SandboxUnavailable(explain_bwrap_failure(out.stderr, out.exit_code))
