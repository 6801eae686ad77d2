"""srt mode's door to the network, wired end to end against real bwrap with a stand-in proxy and relay.

The real proxy and relay (mgexec.sandbox.proxy, .relay) have suites of their own; here stand-ins with
the same interface check what srt mode does with them: the socket bound in, the relay started inside
before any command (warm helper, per-command bwrap and background shells alike), the proxy variables
set, and still only `lo`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import types

import pytest

from mgexec.config import ExecConfig
from mgexec.config.sandbox import SandboxSettings
from mgexec.executors.sandbox import SandboxExecutor
from sandboxutil import box  # noqa: F401  (fixture)

# A relay with the real one's command line (SOCKET PORT --detach): listens on 127.0.0.1:PORT inside,
# detaches once listening, and pipes each connection to the unix socket.
RELAY = r"""
import os, socket, sys, threading
path, port = sys.argv[1], int(sys.argv[2])
listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port)); listener.listen(16)
if os.fork():
    os._exit(0)
def pump(a, b):
    while True:
        data = a.recv(65536)
        if not data:
            b.shutdown(socket.SHUT_WR); return
        b.sendall(data)
while True:
    client, _ = listener.accept()
    up = socket.socket(socket.AF_UNIX); up.connect(path)
    threading.Thread(target=pump, args=(client, up), daemon=True).start()
    threading.Thread(target=pump, args=(up, client), daemon=True).start()
"""


class Handle:
    def __init__(self, server, socket_path):
        self.server, self.socket_path = server, socket_path

    async def close(self):
        self.server.close()


def stand_ins(seen: list[str]) -> tuple[types.ModuleType, types.ModuleType]:
    proxy, relay = types.ModuleType("mgexec.sandbox.proxy"), types.ModuleType("mgexec.sandbox.relay")

    async def start_proxy(allowed, denied, socket_dir):
        async def serve(reader, writer):
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            host = head.split()[1].split("/")[2]
            seen.append(host)
            body = f"via proxy: {host}\n" if host in allowed else f"refused: {host}\n"
            writer.write(f"HTTP/1.1 {200 if host in allowed else 403} X\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n{body}".encode())
            await writer.drain()
            writer.close()
        path = os.path.join(socket_dir, "proxy.sock")
        return Handle(await asyncio.start_unix_server(serve, path=path), path)

    proxy.start_proxy = start_proxy
    proxy.proxy_env = lambda port: {"HTTP_PROXY": f"http://127.0.0.1:{port}", "http_proxy": f"http://127.0.0.1:{port}",
                                    "NO_PROXY": "localhost,127.0.0.1"}
    relay.relay_argv = lambda python, path, port, detach=False: [python, "-I", "-S", "-c", RELAY, path, str(port)]
    return proxy, relay


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "per-command"])
async def test_allowed_domains_go_through_the_proxy_and_nothing_else_leaves(box, monkeypatch, warm):
    seen: list[str] = []
    proxy, relay = stand_ins(seen)
    monkeypatch.setitem(sys.modules, "mgexec.sandbox.proxy", proxy)
    monkeypatch.setitem(sys.modules, "mgexec.sandbox.relay", relay)
    config = ExecConfig(workspace=box.workspace, mode="srt",
                        sandbox=SandboxSettings(allowed_domains=("allowed.test",)))
    async with SandboxExecutor(config, warm=warm) as ex:
        allowed = await ex.execute("curl -s -m 5 http://allowed.test/x")
        denied = await ex.execute("curl -s -m 5 http://denied.test/x")
        direct = await ex.execute("curl -s -m 3 --noproxy '*' http://allowed.test/x; echo rc=$?")
        variables = await ex.execute("echo $HTTP_PROXY; python3 -c 'import socket; print(socket.if_nameindex())'; "
                                     "echo ${MGEXEC_SRT_RELAY:-relay-variable-unset}")
        shell = await ex.start_background("curl -s -m 5 http://allowed.test/bg")
        for _ in range(100):
            status = await ex.shells.output(shell["shell_id"])
            if status["status"] != "running":
                break
            await asyncio.sleep(0.1)
    assert allowed.stdout == "via proxy: allowed.test\n", allowed
    assert denied.stdout == "refused: denied.test\n", denied
    assert direct.stdout.startswith("rc=") and direct.stdout != "rc=0\n", direct
    assert variables.stdout == "http://127.0.0.1:3128\n[(1, 'lo')]\nrelay-variable-unset\n", variables
    assert "via proxy: allowed.test" in status["stdout"], status
    assert seen.count("allowed.test") == 2 and seen.count("denied.test") == 1


async def test_a_relay_that_does_not_start_stops_commands_with_a_reason(box, monkeypatch):
    proxy, relay = stand_ins([])
    relay.relay_argv = lambda python, path, port, detach=False: ["/bin/false"]
    monkeypatch.setitem(sys.modules, "mgexec.sandbox.proxy", proxy)
    monkeypatch.setitem(sys.modules, "mgexec.sandbox.relay", relay)
    config = ExecConfig(workspace=box.workspace, mode="srt", sandbox=SandboxSettings(allowed_domains=("a.test",)))
    from mgexec.errors import SandboxUnavailable

    with pytest.raises(SandboxUnavailable, match="network relay did not start.*the relay to mgexec.s proxy did not listen"):
        await SandboxExecutor(config).start()
