"""srt mode's door to the network, end to end: real bwrap, mgexec's real filtering proxy and relay.

The proxy's way out is the test connector of sandboxnet (test names to servers on 127.0.0.1), injected
where srt mode starts the proxy; everything else is as in production: the socket bound in, the relay
started inside before any command (warm helper, per-command bwrap and background shells alike), the
proxy variables set, and still only `lo`.
"""

from __future__ import annotations

import asyncio
import functools

import pytest

from mgexec.config import ExecConfig
from mgexec.config.sandbox import SandboxSettings
from mgexec.executors.sandbox import SandboxExecutor
from mgexec.sandbox import network, proxy
from sandboxnet import map_connector, start_recorder
from sandboxutil import box  # noqa: F401  (fixture)


@pytest.fixture
async def upstream(monkeypatch):
    """A server on 127.0.0.1 that test names reach through the real proxy, and only through it."""
    recorder = await start_recorder()
    monkeypatch.setattr(network, "start_proxy", functools.partial(proxy.start_proxy, connector=map_connector))
    yield recorder
    recorder.server.close()


async def finished_output(ex, shell_id: str) -> dict:
    for _ in range(100):
        status = await ex.shells.output(shell_id)
        if status["status"] != "running":
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"shell {shell_id} still running: {status}")


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "per-command"])
async def test_allowed_domains_go_through_the_proxy_and_nothing_else_leaves(box, upstream, warm):
    port = upstream.port
    config = ExecConfig(workspace=box.workspace, mode="srt",
                        sandbox=SandboxSettings(allowed_domains=("allowed.test",), denied_domains=("other.test",)))
    async with SandboxExecutor(config, warm=warm) as ex:
        allowed = await ex.execute(f"curl -s -m 5 http://allowed.test:{port}/x")
        denied = await ex.execute(f"curl -s -m 5 -w ' %{{http_code}}' http://denied.test:{port}/x")
        listed = await ex.execute(f"curl -s -m 5 -w ' %{{http_code}}' http://other.test:{port}/x")
        direct = await ex.execute(f"curl -s -m 3 --noproxy '*' http://127.0.0.1:{port}/x; echo rc=$?")
        variables = await ex.execute("echo $HTTP_PROXY; python3 -c 'import socket; print(socket.if_nameindex())'; "
                                     "echo ${MGEXEC_SRT_RELAY:-relay-variable-unset}")
        shell = await ex.start_background(f"curl -s -m 5 http://allowed.test:{port}/bg")
        status = await finished_output(ex, shell["shell_id"])
    assert allowed.stdout == f"hello /x host=allowed.test:{port}\n", allowed
    for refused, name in ((denied, "denied.test"), (listed, "other.test")):
        assert refused.stdout.startswith("mgexec sandbox proxy: ") and refused.stdout.endswith(" 403"), refused
        assert name in refused.stdout, refused
    assert direct.stdout.startswith("rc=") and direct.stdout != "rc=0\n", direct
    assert variables.stdout == "http://127.0.0.1:3128\n[(1, 'lo')]\nrelay-variable-unset\n", variables
    assert f"hello /bg host=allowed.test:{port}" in status["stdout"], status
    hosts = [h.split(b"\r\n")[0] for h in upstream.heads]
    assert hosts == [b"GET /x HTTP/1.1", b"GET /bg HTTP/1.1"], hosts  # nothing refused reached the server


async def test_a_relay_that_does_not_start_stops_commands_with_a_reason(box, monkeypatch):
    monkeypatch.setattr(network, "relay_argv", lambda python, path, port, detach=False: ["/bin/false"])
    config = ExecConfig(workspace=box.workspace, mode="srt", sandbox=SandboxSettings(allowed_domains=("a.test",)))
    from mgexec.errors import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="network relay did not start.*the relay to mgexec.s proxy did not listen"):
        await SandboxExecutor(config).start()
