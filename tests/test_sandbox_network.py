"""srt network end to end against real bwrap: a command in its own network namespace reaches allowed
hosts only through the relay and the host proxy; servers listen only on the host's 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys

import pytest

from mgexec.config.hosts import ALLOWED_KEY, DENIED_KEY
from mgexec.sandbox.proxy import proxy_env, start_proxy
from mgexec.sandbox.relay import relay_argv
from mgexec.sandbox.upstream import local_addresses
from sandboxnet import map_connector, start_echo, start_recorder

RELAY_PORT = 3128
_IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _bwrap_works() -> str:
    if shutil.which("bwrap") is None:
        return "no bwrap on PATH (Debian package bubblewrap)"
    probe = subprocess.run(["bwrap", "--unshare-net", "--ro-bind", "/", "/", "true"], capture_output=True, text=True)
    return "" if probe.returncode == 0 else f"bwrap cannot make a network namespace here: {probe.stderr.strip()}"


_WHY = _bwrap_works()
# In CI the mark never skips: the tests run and fail with bwrap's own error.
pytestmark = pytest.mark.skipif(bool(_WHY) and not _IN_CI, reason=_WHY)

# Ways to start the relay (argv in "$@") before the test's script: a child whose ready line is
# awaited; a double fork, so init adopts it (the launcher then waits for the port); --detach in the
# foreground, after which it listens.
LAUNCHES = {
    "child": 'exec 3< <("$@"); read -r ready <&3 || { echo "relay did not start" >&2; exit 90; }\n',
    "adopted": f'("$@" >/dev/null 2>&1 </dev/null &); sleep 0.5\n'
               f'until (exec 3<>/dev/tcp/127.0.0.1/{RELAY_PORT}) 2>/dev/null; do sleep 0.05; done\n',
    "detached": '"$@" --detach >/dev/null || exit 91\n',
}


async def run_inside(socket_path: str, script: str, env: dict[str, str] | None = None,
                     launch: str = "child") -> tuple[int, str, str]:
    sockdir = os.path.dirname(socket_path)
    argv = ["bwrap", "--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--ro-bind", sockdir, sockdir, "--",  # read-only: connecting needs no write access
            "bash", "-c", LAUNCHES[launch] + script, "bash", *relay_argv(sys.executable, socket_path, RELAY_PORT)]
    environment = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"} | proxy_env(RELAY_PORT) | (env or {})
    child = await asyncio.create_subprocess_exec(*argv, env=environment, stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), 60)
    return child.returncode, out.decode(), err.decode()


@pytest.fixture
async def servers():
    recorder, echo = await start_recorder(), await start_echo()
    yield recorder.port, echo.sockets[0].getsockname()[1]
    recorder.server.close()
    echo.close()


@pytest.fixture
async def proxy(tmp_path):
    # Under /var/tmp rather than /tmp: the sandbox gets a private /tmp.
    base = os.path.join("/var/tmp", f"mgexec-test-{os.getpid()}-{os.urandom(3).hex()}")
    handle = await start_proxy(["allowed.test", "*.wild.test"], ["bad.wild.test"], base, connector=map_connector)
    yield handle
    await handle.close()
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("launch", sorted(LAUNCHES))
async def test_allowed_domain_is_reachable_with_curl_and_urllib(proxy, servers, launch):
    http, _ = servers
    rc, out, err = await run_inside(proxy.socket_path, launch=launch, script=f"""
        rm -f {proxy.socket_path} 2>/dev/null || echo socket-kept
        curl -sS --max-time 10 http://allowed.test:{http}/plain
        curl -sS --max-time 10 --proxytunnel http://sub.wild.test:{http}/tunnel
        python3 -I -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
            http://allowed.test:{http}/py
    """)
    assert rc == 0, err
    assert out.startswith("socket-kept\n")
    assert f"hello /plain host=allowed.test:{http}" in out
    assert f"hello /tunnel host=sub.wild.test:{http}" in out
    assert f"hello /py host=allowed.test:{http}" in out


async def test_raw_connect_tunnel_carries_a_non_http_protocol_to_an_allowed_host(proxy, servers):
    _, echo = servers
    program = (f"import socket; s = socket.create_connection(('127.0.0.1', {RELAY_PORT})); "
               f"s.sendall(b'CONNECT sub.wild.test:{echo} HTTP/1.1\\r\\n\\r\\nping\\n'); f = s.makefile('rb'); "
               "print(f.readline().decode().strip()); f.readline(); print(f.readline().decode().strip())")
    rc, out, err = await run_inside(proxy.socket_path, f"python3 -I -c \"{program}\"")
    assert rc == 0, err
    assert out.splitlines() == ["HTTP/1.1 200 Connection established", "echo: ping"]


async def test_denied_domains_get_the_proxys_clear_error(proxy, servers):
    http, _ = servers
    rc, out, err = await run_inside(proxy.socket_path, f"""
        curl -sS --max-time 10 http://other.test:{http}/
        curl -sS --max-time 10 http://bad.wild.test:{http}/
        curl -sS --max-time 10 http://wild.test:{http}/
        curl -sS --max-time 10 -o /dev/null -w 'tunnel %{{http_connect}}\\n' --proxytunnel http://other.test:{http}/
        exit 0
    """)
    assert f"other.test:{http} is not in {ALLOWED_KEY}" in out and "add 'other.test'" in out
    assert f"bad.wild.test:{http} matches 'bad.wild.test' in {DENIED_KEY}" in out
    assert f"wild.test:{http} is not in {ALLOWED_KEY}" in out
    assert "tunnel 403" in out
    assert "hello" not in out


async def test_nothing_leaves_without_the_proxy(proxy, servers):
    http, _ = servers
    outside = sorted(address for address in local_addresses() if "." in address and not address.startswith("127."))
    probes = " ".join(f"{address}:{http}" for address in outside[:3])
    rc, out, err = await run_inside(proxy.socket_path, f"""
        python3 -I -c 'import socket; print(*sorted(name for _, name in socket.if_nameindex()))'
        curl -sS --max-time 5 --noproxy '*' http://127.0.0.1:{http}/ && echo LEAK-loopback
        for target in {probes}; do
            curl -sS --max-time 5 --noproxy '*' "http://$target/" && echo "LEAK-$target"
        done
        python3 -I -c 'import socket; socket.getaddrinfo("pypi.org", 443)' 2>/dev/null && echo LEAK-dns
        for target in {" ".join(outside[:3]) or "192.0.2.1"}; do
            python3 -I -c 'import socket, sys; socket.socket(2, 2).sendto(b"x", (sys.argv[1], 53))' \
                "$target" 2>/dev/null && echo "LEAK-udp-$target"  # AF_INET, SOCK_DGRAM
        done
        exit 0
    """)
    assert out.split() == ["lo"], out + err
    assert "LEAK" not in out


async def test_localhost_through_the_default_connector(servers):
    # Allowing `localhost` hands the sandbox the host's loopback services: a deliberate grant.
    http, _ = servers
    base = os.path.join("/var/tmp", f"mgexec-test-{os.getpid()}-{os.urandom(3).hex()}")
    handle = await start_proxy(["localhost"], [], base)
    try:
        rc, out, err = await run_inside(handle.socket_path, f"""
            curl -sS --max-time 10 http://localhost:{http}/via-proxy
            curl -sS --max-time 10 http://127.0.0.1:{http}/literal
            exit 0
        """, env={"NO_PROXY": "", "no_proxy": ""})
    finally:
        await handle.close()
        shutil.rmtree(base, ignore_errors=True)
    assert f"hello /via-proxy host=localhost:{http}" in out, err
    assert f"127.0.0.1:{http} is not in {ALLOWED_KEY}" in out
