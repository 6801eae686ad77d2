"""srt mode's place: the agent's bubblewrap sandbox on the host (its mounts, its network door), through the State table.

Opening finds bwrap, builds the agent's SandboxSpec, starts the filtering proxy when domains are allowed,
and runs a sandboxed `true`; closing stops the proxy. The processes inside belong to the runtime that
started them (the warm helper, or one bwrap per command) and die with it.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace

from mgexec.deployments.base import Deployment
from mgexec.deployments.state import Event, State
from mgexec.errors import SandboxUnavailable
from mgexec.runner import run_process, spawn_error
from mgexec.sandbox.argv import SandboxSpec, build_bwrap_argv
from mgexec.sandbox.host import find_bwrap, sandbox_env, sandbox_python
from mgexec.sandbox.network import RELAY_FAILED, SandboxNetwork, open_network
from mgexec.sandbox.spec import build_spec

PROBE_TIMEOUT = 30.0


class SandboxDeployment(Deployment):
    """The agent's sandbox: `wrap` turns a command into the bwrap argv that runs it there."""

    where = "The srt sandbox"

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self.bwrap: str | None = None
        self.spec: SandboxSpec | None = None
        self.env: dict[str, str] = {}
        self.network: SandboxNetwork | None = None
        self._socket_dir: tempfile.TemporaryDirectory | None = None

    @property
    def python(self) -> str | None:
        """A python3 the sandbox can read (for the warm helper, the relay and background shells), or None."""
        return sandbox_python(self.spec) if self.spec is not None else None

    async def open(self) -> None:
        if self.state is not State.ABSENT:
            return
        try:
            self.bwrap = find_bwrap()
            self.env = sandbox_env(self.config)
            self.spec = build_spec(self.config)
        except BaseException:
            await self._move(Event.FAIL)
            raise
        await self._move(Event.CREATE)
        await self._or_fail(self._start())  # a failed start takes down what was made (the proxy)

    async def _start(self) -> None:
        if self.config.sandbox.allowed_domains:
            self._socket_dir = tempfile.TemporaryDirectory(prefix="mgexec-srt-")
            self.network = await open_network(self.config.sandbox, self._socket_dir.name, self.python)
            self.env.update(self.network.env)
            self.spec = build_spec(self.config, sockets=self.network.sockets)
        await probe(self.wrap(["true"]), self.env)

    def wrap(self, command: list[str], work_dir: str | None = None) -> list[str]:
        """COMMAND as it runs in the agent's sandbox (behind the network relay when there is one)."""
        spec = self.spec if work_dir is None else replace(self.spec, work_dir=work_dir)
        inner = self.network.wrap(command) if self.network is not None else command
        return build_bwrap_argv(spec, inner, bwrap=self.bwrap)

    def launcher(self):
        """Background shells, each in a sandbox of its own with the same mounts and network door."""
        from mgexec.sandbox.launcher import SandboxLauncher

        return SandboxLauncher(self.wrap, env=self.env, python=self.python)

    def not_running(self) -> str:
        if self.state is State.ABSENT:
            return "The sandbox is not running: the executor was not started."
        return "The sandbox is not running: the session has ended."

    async def _take_down(self) -> None:
        try:
            if self.network is not None:
                network, self.network = self.network, None
                await network.close()
        finally:
            if self._socket_dir is not None:
                self._socket_dir.cleanup()
                self._socket_dir = None


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
