"""The srt-mode proxy spoken to directly over its unix socket, and the relay's life on the host."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from mgexec import processes
from mgexec.errors import ConfigError
from mgexec.config.hosts import ALLOWED_KEY
from mgexec.sandbox.proxy import ProxyLimits, proxy_env, start_proxy
from mgexec.sandbox.relay import READY, relay_argv
from mgexec.sandbox.upstream import local_addresses
from sandboxnet import ask, map_connector, start_echo, start_recorder


@pytest.fixture
async def recorder():
    server = await start_recorder()
    yield server
    server.server.close()


async def proxy(tmp_path, allowed=("allowed.test", "*.wild.test"), denied=("bad.wild.test",), **limits):
    return await start_proxy(list(allowed), list(denied), str(tmp_path), connector=map_connector,
                             limits=ProxyLimits(**limits))


def get(host: str, path: str = "/", extra: str = "") -> bytes:
    return f"GET http://{host}{path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


async def test_socket_is_private_and_removed_on_close(tmp_path):
    handle = await proxy(tmp_path)
    directory = os.path.dirname(handle.socket_path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(handle.socket_path).st_mode) == 0o600
    await handle.close()
    assert not os.path.exists(directory)


async def test_bad_pattern_and_overlong_socket_dir_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="'\\*.com'"):
        await start_proxy(["*.com"], [], str(tmp_path))
    with pytest.raises(ConfigError, match="longer than unix sockets allow"):
        await start_proxy(["a.test"], [], str(tmp_path / ("d" * 120)))


async def test_host_header_comes_from_the_uri(tmp_path, recorder):
    handle = await proxy(tmp_path)
    answer = await ask(handle.socket_path, get(f"allowed.test:{recorder.port}", "/x").replace(
        b"Host: allowed", b"Host: evil.test\r\nX-Was: allowed"))
    await handle.close()
    assert answer.startswith(b"HTTP/1.1 200") and f"host=allowed.test:{recorder.port}".encode() in answer


async def test_pipelined_second_request_is_never_forwarded(tmp_path, recorder):
    handle = await proxy(tmp_path)
    both = get(f"allowed.test:{recorder.port}", "/one") + get(f"denied.test:{recorder.port}", "/two")
    answer = await ask(handle.socket_path, both)
    await handle.close()
    assert b"hello /one" in answer and b"/two" not in answer
    assert recorder.extras == [b""]  # the upstream saw one request and nothing after it


async def test_chunked_body_is_forwarded_in_the_framing_the_proxy_read(tmp_path, recorder):
    handle = await proxy(tmp_path)
    body = b"05;ext=1\r\nhello\r\n00A\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n"
    request = get(f"allowed.test:{recorder.port}", "/post", "Transfer-Encoding: chunked\r\n").replace(b"GET", b"POST")
    answer = await ask(handle.socket_path, request + body + b"GET /smuggled HTTP/1.1\r\n\r\n")
    await handle.close()
    assert b"hello /post" in answer
    assert recorder.extras == [b"5\r\nhello\r\na\r\n0123456789\r\n0\r\n\r\n"]


@pytest.mark.parametrize("body", [b"0x5\r\nhello\r\n0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n",
                                  b"5\r\nhelloXX0\r\n\r\n", b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n"])
async def test_malformed_chunks_end_the_request_without_forwarding_past_them(tmp_path, recorder, body):
    handle = await proxy(tmp_path)
    request = get(f"allowed.test:{recorder.port}", "/post", "Transfer-Encoding: chunked\r\n").replace(b"GET", b"POST")
    answer = await ask(handle.socket_path, request + body)
    await handle.close()
    assert b"hello" not in answer
    assert all(not extra or extra in (b"", b"5\r\nhello") for extra in recorder.extras), recorder.extras


@pytest.mark.parametrize("request_bytes, status, says", [
    (get("denied.test:1"), b"403", ALLOWED_KEY.encode()),
    (get("bad.wild.test:1"), b"403", b"command_line_srt_network_denied_domains"),
    (get("wild.test:1"), b"403", b"'wild.test'"),
    (get("127.0.0.1:1"), b"403", b"127.0.0.1:1"),
    (b"CONNECT 2130706433:22 HTTP/1.1\r\n\r\n", b"403", b"127.0.0.1:22"),
    (b"CONNECT BAD.Wild.Test.:1 HTTP/1.1\r\n\r\n", b"403", b"command_line_srt_network_denied_domains"),
    ("CONNECT ｂａｄ.wild.test:1 HTTP/1.1\r\n\r\n".encode(), b"403", b"command_line_srt_network_denied_domains"),
    (get("ALLOWED.test.evil.test:1"), b"403", b"'allowed.test.evil.test'"),
    (b"POST http://denied.test:1/ HTTP/1.1\r\nContent-Length: 300000\r\n\r\n" + b"x" * 300000, b"403",
     ALLOWED_KEY.encode()),  # the answer survives the unread body
    (get("allowed.test@denied.test:1"), b"400", b"user information"),
    (b"GET /relative HTTP/1.1\r\nHost: allowed.test\r\n\r\n", b"400", b"absolute"),
    (b"POST http://allowed.test:1/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
     b"400", b"both Content-Length and Transfer-Encoding"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"400", b"request line"),
    (b"GET http://allowed.test:1/ HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431", b"larger than"),
])
async def test_refusals_are_clear(tmp_path, request_bytes, status, says):
    handle = await proxy(tmp_path)
    answer = await ask(handle.socket_path, request_bytes)
    await handle.close()
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert b"mgexec sandbox proxy: " in answer and says in answer, answer


async def test_continue_reaches_the_client_before_the_body_and_paths_keep_their_bytes(tmp_path):
    async def expecting(reader, writer):  # answers `100 Continue` and waits for the body before its reply
        head = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        body = await reader.readexactly(4)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(head) + 4, head + body))
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(expecting, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    handle = await proxy(tmp_path)
    reader, writer = await asyncio.open_unix_connection(handle.socket_path)
    writer.write(f"PUT http://allowed.test:{port}/ü?q=1 HTTP/1.1\r\nExpect: 100-continue\r\n"
                 "Content-Length: 4\r\n\r\n".encode())
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"data")
    answer = await asyncio.wait_for(reader.read(-1), 5)
    await handle.close()
    server.close()
    assert answer.startswith(b"HTTP/1.1 200") and b"PUT /%C3%BC?q=1 HTTP/1.1\r\n" in answer
    assert answer.endswith(b"data")


async def test_allowed_but_unreachable_is_a_502_naming_the_host(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handle = await proxy(tmp_path)
    answer = await ask(handle.socket_path, get(f"allowed.test:{port}"))
    await handle.close()
    assert answer.startswith(b"HTTP/1.1 502") and f"allowed.test:{port} is allowed but".encode() in answer


async def test_slow_head_is_cut_off(tmp_path):
    handle = await proxy(tmp_path, head_timeout=0.5)
    start = time.monotonic()
    answer = await ask(handle.socket_path, b"GET http://allowed.test/ HTTP/1.1\r\nX-Slow: ")
    await handle.close()
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - start < 5


async def test_connection_limit_answers_503(tmp_path):
    handle = await proxy(tmp_path, max_connections=2)
    held = [await asyncio.open_unix_connection(handle.socket_path) for _ in range(2)]
    for _, writer in held:
        writer.write(b"GET http://allowed.test/ HTTP/1.1\r\n")  # never finished
    await asyncio.sleep(0.2)
    answer = await ask(handle.socket_path, get("allowed.test"))
    await handle.close()  # also ends the two held connections
    assert answer.startswith(b"HTTP/1.1 503")
    for reader, _ in held:
        assert await asyncio.wait_for(reader.read(-1), 5) == b""


async def test_a_connection_flood_holds_no_descriptors_and_the_proxy_recovers(tmp_path, recorder):
    handle = await proxy(tmp_path, max_connections=2)
    held = [await asyncio.open_unix_connection(handle.socket_path) for _ in range(2)]
    await asyncio.sleep(0.1)
    baseline = len(os.listdir("/proc/self/fd"))
    flood = []
    for _ in range(300):
        reader, writer = await asyncio.open_unix_connection(handle.socket_path)
        writer.write(get("allowed.test"))
        flood.append((reader, writer))
    answers = await asyncio.gather(*(asyncio.wait_for(r.read(-1), 10) for r, _ in flood), return_exceptions=True)
    for _, writer in flood:
        writer.close()
    await asyncio.sleep(1.0)
    assert len(os.listdir("/proc/self/fd")) <= baseline + 5
    for answer in answers:  # a clear 503 while few are turned away; beyond that, the door just shuts
        assert isinstance(answer, ConnectionError) or answer == b"" or answer.startswith(b"HTTP/1.1 503"), answer
    assert any(isinstance(answer, bytes) and answer.startswith(b"HTTP/1.1 503") for answer in answers)
    for _, writer in held:
        writer.close()
    await asyncio.sleep(0.2)
    answer = await ask(handle.socket_path, get(f"allowed.test:{recorder.port}", "/after"))
    await handle.close()
    assert b"hello /after" in answer


async def test_idle_tunnel_is_closed_and_close_ends_live_tunnels(tmp_path):
    echo = await start_echo()
    port = echo.sockets[0].getsockname()[1]
    handle = await proxy(tmp_path, idle_timeout=0.5)
    reader, writer = await asyncio.open_unix_connection(handle.socket_path)
    writer.write(f"CONNECT sub.wild.test:{port} HTTP/1.1\r\n\r\nping\n".encode())
    assert await asyncio.wait_for(reader.readuntil(b"echo: ping\n"), 5)
    start = time.monotonic()
    assert await asyncio.wait_for(reader.read(-1), 5) == b""  # idle: closed by the proxy
    assert time.monotonic() - start < 3
    handle2 = await proxy(tmp_path)
    reader, writer = await asyncio.open_unix_connection(handle2.socket_path)
    writer.write(f"CONNECT sub.wild.test:{port} HTTP/1.1\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    await handle2.close()
    assert await asyncio.wait_for(reader.read(-1), 5) == b""
    echo.close()


async def test_name_that_resolves_to_this_machine_is_refused_by_the_default_connector(tmp_path):
    name = socket.gethostname().lower()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    if name == "localhost" or not addresses <= (local_addresses() | {"127.0.0.1", "::1"}):
        pytest.skip(f"the host name {name!r} does not resolve to this machine here")
    handle = await start_proxy([name], [], str(tmp_path))
    answer = await ask(handle.socket_path, get(f"{name}:80"))
    await handle.close()
    assert answer.startswith(b"HTTP/1.1 403") and b"resolves only to addresses the proxy does not dial" in answer


async def test_unresolvable_allowed_name_is_a_502_from_the_default_connector(tmp_path):
    handle = await start_proxy(["nothing.invalid"], [], str(tmp_path), limits=ProxyLimits(connect_timeout=5))
    answer = await ask(handle.socket_path, get("nothing.invalid"))
    await handle.close()
    assert answer.startswith(b"HTTP/1.1 502") and b"nothing.invalid:80 is allowed but could not be reached" in answer


def test_local_addresses_include_loopback_and_the_interfaces():
    found = local_addresses()
    assert "127.0.0.1" in found
    if not os.path.exists("/proc/net/if_inet6"):
        return  # IPv6 disabled: only the IPv4 addresses exist
    with open("/proc/net/if_inet6") as table:
        assert all(str(ipaddress.IPv6Address(bytes.fromhex(line.split()[0]))) in found for line in table)


def test_proxy_env_names_the_relay_everywhere():
    env = proxy_env(3128)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        assert env[name] == env[name.lower()] == "http://127.0.0.1:3128"
    assert env["NO_PROXY"] == env["no_proxy"] == "localhost,127.0.0.1,::1"


def start_relay(socket_path: str, **popen) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    relay = subprocess.Popen(relay_argv(sys.executable, socket_path, port), stdout=subprocess.PIPE, **popen)
    assert relay.stdout.readline().decode() == READY % (port, relay.pid)
    return relay, port


def test_relay_exits_when_stdin_closes_and_says_when_the_proxy_is_gone(tmp_path):
    relay, port = start_relay(str(tmp_path / "absent.sock"), stdin=subprocess.PIPE)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET http://allowed.test/ HTTP/1.1\r\n\r\n")
        answer = client.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 502") and b"proxy on the host is not answering" in answer
    relay.stdin.close()
    assert relay.wait(timeout=5) == 0


def test_relay_dies_with_its_parent_unless_init_adopts_it(tmp_path):
    # As a subreaper, this test adopts the relay when its parent dies: a parent that is not PID 1.
    if not processes.become_subreaper():
        pytest.skip("no PR_SET_CHILD_SUBREAPER here")
    try:
        parent = subprocess.Popen(["sh", "-c", '"$@" >/dev/null & echo $!; exec sleep 60', "sh",
                                   *relay_argv(sys.executable, str(tmp_path / "s.sock"), 0)], stdout=subprocess.PIPE)
        relay_pid = int(parent.stdout.readline())
        time.sleep(0.5)
        assert _state(relay_pid) not in ("Z", "gone")
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _reaped_within(relay_pid, 5)
    finally:
        processes.stop_being_subreaper()


def test_detached_relay_returns_once_listening_and_holds_no_caller_pipe(tmp_path):
    done = subprocess.run(relay_argv(sys.executable, str(tmp_path / "absent.sock"), 0, detach=True),
                          capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    port, pid = (int(n) for n in re.fullmatch(r"mgexec-relay: listening on 127.0.0.1:(\d+) \(pid (\d+)\)\n",
                                                 done.stdout).groups())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"GET http://allowed.test/ HTTP/1.1\r\n\r\n")
            assert client.makefile("rb").read().startswith(b"HTTP/1.1 502")
    finally:
        os.kill(pid, signal.SIGKILL)


def _reaped_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        if _state(pid) == "gone":
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return stat_file.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
