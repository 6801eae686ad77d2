"""The one door out of srt mode's network namespace: the host's filtering proxy, reached over a unix socket.

With allowed domains, mgexec runs the proxy on the host (sandbox.proxy), binds its socket into the
sandbox, starts a relay inside that listens on 127.0.0.1:RELAY_PORT (sandbox.relay), and points
HTTP_PROXY and friends at it. Without allowed domains there is no door at all: only `lo`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from mgexec.config.sandbox import SandboxSettings
from mgexec.errors import SandboxUnavailable
from mgexec.sandbox.proxy import proxy_env, start_proxy
from mgexec.sandbox.relay import relay_argv

RELAY_PORT = 3128
RELAY_VARIABLE = "MGEXEC_SRT_RELAY"
RELAY_FAILED = 125
# The relay detaches once it listens (so nothing runs before the door is open); its serving child is
# re-parented to the sandbox's init, not to the command or helper exec'd next, which would take it
# for a leftover and kill it. Without the relay the sandbox has no way out, so nothing runs.
_START_RELAY = (f'eval "${RELAY_VARIABLE}" >/dev/null </dev/null || {{ echo "mgexec: the sandbox\'s network '
                f'relay did not start, so nothing runs" >&2; exit {RELAY_FAILED}; }}; unset {RELAY_VARIABLE}; exec "$@"')


@dataclass
class SandboxNetwork:
    """A running proxy and what the sandbox needs to use it."""

    handle: Any  # the proxy's handle: .socket_path, async .close()
    relay_argv: list[str]
    env: dict[str, str]

    @property
    def sockets(self) -> tuple[str, ...]:
        return (str(self.handle.socket_path),)

    def wrap(self, command: list[str]) -> list[str]:
        """COMMAND preceded by the start of the relay inside the sandbox."""
        return ["/bin/sh", "-c", _START_RELAY, "mgexec-relay", *command]

    async def close(self) -> None:
        await self.handle.close()


async def open_network(settings: SandboxSettings, socket_dir: str, python: str | None) -> SandboxNetwork:
    """Start the filtering proxy for the allowed domains; SandboxUnavailable when the sandbox has no python3
    (`python`) to run the relay with."""
    if python is None:
        raise SandboxUnavailable(
            "command_line_srt_network_allowed_domains needs a python3 the sandbox can read (such as "
            "/usr/bin/python3) to run the relay to mgexec's proxy; install python3 from the system's packages, "
            "or remove the allowed domains (no network).")
    handle = await start_proxy(settings.allowed_domains, settings.denied_domains, socket_dir)
    argv = relay_argv(python, str(handle.socket_path), RELAY_PORT, detach=True)
    env = {**proxy_env(RELAY_PORT), RELAY_VARIABLE: shlex.join(argv)}
    return SandboxNetwork(handle=handle, relay_argv=argv, env=env)
