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

RELAY_PORT = 3128
RELAY_VARIABLE = "MGEXEC_SRT_RELAY"
RELAY_PYTHON = "/usr/bin/python3"
# The relay is started by a subshell that exits at once, so it is re-parented to the sandbox's init,
# not to the command (or helper) exec'd next, which would take it for a leftover and kill it.
_START_RELAY = f'(eval "${RELAY_VARIABLE}" >/dev/null 2>&1 </dev/null &); unset {RELAY_VARIABLE}; exec "$@"'


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


async def open_network(settings: SandboxSettings, socket_dir: str) -> SandboxNetwork:
    """Start the filtering proxy for the allowed domains; SandboxUnavailable when this build has none."""
    try:
        from mgexec.sandbox.proxy import proxy_env, start_proxy
        from mgexec.sandbox.relay import relay_argv
    except ImportError:
        raise SandboxUnavailable(
            "command_line_srt_network_allowed_domains is set, but this mgexec has no filtering proxy for srt "
            "mode, so the sandbox would either have no network or an unfiltered one. mgexec does not start it: "
            "remove the allowed domains (no network), or use docker mode with command_line_docker_network_mode."
        ) from None
    handle = await start_proxy(settings.allowed_domains, settings.denied_domains, socket_dir)
    argv = relay_argv(RELAY_PYTHON, str(handle.socket_path), RELAY_PORT)
    env = {**proxy_env(RELAY_PORT), RELAY_VARIABLE: shlex.join(argv)}
    return SandboxNetwork(handle=handle, relay_argv=argv, env=env)
