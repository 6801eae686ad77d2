"""The streamable-HTTP transport over real HTTP on 127.0.0.1: bearer tokens, bind refusals, DNS-rebinding checks, clean stops."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from mcp.client import ClientSession
from mcp.client.streamable_http import streamable_http_client

from mgexec.errors import ConfigError
from mgexec.adapters.http import HttpOptions, check_bind, is_loopback, resolve_token
from procutil import read_pids, wait_all_gone

MGEXEC = str(Path(sys.executable).parent / "mgexec")
TOKEN = "t0k3n-for-tests_" + "x" * 30
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Served:
    def __init__(self, proc, port: int, host: str) -> None:
        self.proc, self.port, self.host = proc, port, host
        self.url = f"http://{host}:{port}/mcp"
        self.stderr = b""

    async def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        self.stderr += await asyncio.wait_for(self.proc.stderr.read(), 15)
        return await asyncio.wait_for(self.proc.wait(), 15)


@asynccontextmanager
async def served(workspace: Path, *args: str, env: dict | None = None, host: str = "127.0.0.1"):
    port = free_port(host)
    environ = {k: v for k, v in os.environ.items() if k != "MGEXEC_HTTP_TOKEN"} | (env or {})
    proc = await asyncio.create_subprocess_exec(
        MGEXEC, "serve", "--transport", "streamable-http", "--host", host, "--port", str(port), *args,
        cwd=str(workspace), env=environ, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    server = Served(proc, port, host)
    try:
        for _ in range(150):
            try:
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
                break
            except OSError:
                assert proc.returncode is None, await proc.stderr.read()
                await asyncio.sleep(0.1)
        yield server
    finally:
        if proc.returncode is None:
            await server.stop(signal.SIGKILL)


@asynccontextmanager
async def client(url: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


async def run(session, command: str, **kw) -> dict:
    result = await session.call_tool("execute_command", {"command": command, **kw})
    assert not result.is_error, result
    return result.structured_content


async def raw_post(url: str, body: dict, headers: dict) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.post(url, json=body, headers=HEADERS | headers)


CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "execute_command", "arguments": {}}}


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer wrong-token-" + "y" * 30, "Bearer " + TOKEN[:-1],
                                  "Bearer " + TOKEN + "x", "Basic " + TOKEN, "bearer  " + TOKEN, TOKEN],
                         ids=["none", "empty", "wrong", "prefix", "longer", "basic", "two-spaces", "no-scheme"])
async def test_requests_without_the_right_token_get_401_and_run_nothing(workspace, auth):
    canary = workspace / "canary"
    call = CALL | {"params": {"name": "execute_command", "arguments": {"command": f"touch {canary}"}}}
    async with served(workspace, env={"MGEXEC_HTTP_TOKEN": TOKEN}) as server:
        headers = {"authorization": auth} if auth is not None else {}
        for body in (INIT, call):
            response = await raw_post(server.url, body, headers)
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"].startswith("Bearer ")
        async with httpx2.AsyncClient(timeout=10) as http:
            for method in ("GET", "DELETE"):
                response = await http.request(method, server.url, headers=HEADERS | headers)
                assert response.status_code == 401, (method, response.text)
        assert (await server.stop()) == 0
    assert not canary.exists()


async def test_official_client_without_or_with_a_wrong_token_fails_and_runs_nothing(workspace):
    canary = workspace / "canary"
    async with served(workspace, env={"MGEXEC_HTTP_TOKEN": TOKEN}) as server:
        for token in (None, "z" * 40):
            with pytest.raises(BaseException) as info:
                async with client(server.url, token) as session:
                    await run(session, f"touch {canary}")
            # The SDK client turns the 401 into an MCPError; the raw-HTTP test above checks the status itself.
            assert "Server returned an error response" in repr(info.value) or "401" in repr(info.value), info.value
        assert (await server.stop()) == 0
    assert not canary.exists()


async def test_right_token_from_the_environment_works(workspace):
    async with served(workspace, env={"MGEXEC_HTTP_TOKEN": TOKEN}) as server:
        async with client(server.url, TOKEN) as session:
            data = await run(session, "echo over-http; pwd; echo ${MGEXEC_HTTP_TOKEN:-not-inherited}")
        assert data["stdout"] == f"over-http\n{workspace}\nnot-inherited\n"
        assert (await server.stop()) == 0
    assert TOKEN.encode() not in server.stderr  # a chosen token is never printed


async def test_right_token_from_a_file_works(workspace, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    async with served(workspace, "--token-file", str(token_file)) as server:
        async with client(server.url, TOKEN) as session:
            assert (await run(session, "echo file-token"))["stdout"] == "file-token\n"
        assert (await server.stop()) == 0
    assert TOKEN.encode() not in server.stderr and b"readable by other users" not in server.stderr


async def test_a_generated_token_is_printed_once_to_stderr_and_works(workspace):
    async with served(workspace) as server:
        line = (await asyncio.wait_for(server.proc.stderr.readline(), 10)).decode()
        token = re.search(r"Authorization: Bearer ([A-Za-z0-9_-]{43})'", line).group(1)
        async with client(server.url, token) as session:
            assert (await run(session, "echo generated"))["stdout"] == "generated\n"
        assert (await raw_post(server.url, INIT, {})).status_code == 401
        assert (await server.stop()) == 0
    assert token.encode() not in server.stderr  # the rest of stderr: printed exactly once


async def test_dns_rebinding_checks_stay_on_with_a_valid_token(workspace):
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with served(workspace, env={"MGEXEC_HTTP_TOKEN": TOKEN}) as server:
        assert (await raw_post(server.url, INIT, auth | {"host": "evil.example:80"})).status_code == 421
        assert (await raw_post(server.url, INIT, auth | {"origin": "http://evil.example"})).status_code == 403
        assert (await raw_post(server.url, INIT, auth)).status_code == 200
        assert (await server.stop()) == 0


async def test_other_loopback_addresses_keep_the_rebinding_checks(workspace):
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with served(workspace, env={"MGEXEC_HTTP_TOKEN": TOKEN}, host="127.0.0.2") as server:
        assert (await raw_post(server.url, INIT, auth | {"host": "evil.example"})).status_code == 421
        assert (await raw_post(server.url, INIT, auth)).status_code == 200
        assert (await server.stop()) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_cleanly_with_a_client_connected_and_a_command_running(workspace, sig):
    pids = workspace / "pids"
    async with served(workspace, env={"MGEXEC_HTTP_TOKEN": TOKEN}) as server:
        async with client(server.url, TOKEN) as session:
            task = asyncio.create_task(session.call_tool(
                "execute_command", {"command": f"echo $$ >> {pids}; sleep 300 & echo $! >> {pids}; wait"}))
            found = await asyncio.to_thread(read_pids, pids, 2)
            code = await server.stop(sig)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert code == 0, server.stderr.decode()
    assert b"Traceback" not in server.stderr and b"ERROR" not in server.stderr, server.stderr.decode()
    assert wait_all_gone(found, 5) == []


def run_cli(workspace: Path, *args: str, env: dict | None = None):
    environ = {k: v for k, v in os.environ.items() if k != "MGEXEC_HTTP_TOKEN"} | (env or {})
    return subprocess.run([MGEXEC, "serve", *args], cwd=workspace, env=environ, capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "example.com", "127.0.0.1.nip.io"])
@pytest.mark.parametrize("token,flag,needs", [
    (None, False, r"needs a token you chose \(MGEXEC_HTTP_TOKEN or --token-file FILE\) and --allow-remote"),
    (None, True, r"needs a token you chose \(MGEXEC_HTTP_TOKEN or --token-file FILE\);"),
    (TOKEN, False, r"needs --allow-remote;"),
])
def test_non_loopback_bind_is_refused_without_a_token_and_the_flag(workspace, host, token, flag, needs):
    env = {"MGEXEC_HTTP_TOKEN": token} if token else {}
    proc = run_cli(workspace, "--transport", "streamable-http", "--host", host, "--port", str(free_port()),
                   *(["--allow-remote"] if flag else []), env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"mgexec: Refusing to listen on {host}:") and proc.stderr.count("\n") == 1
    assert re.search(needs, proc.stderr) and "reverse proxy" in proc.stderr and "--host 127.0.0.1" in proc.stderr


def test_non_loopback_bind_is_allowed_with_a_chosen_token_and_the_flag():
    check_bind(HttpOptions(host="0.0.0.0", allow_remote=True), token_given=True)
    for host in ("127.0.0.1", "localhost", "::1", "127.8.9.10"):
        assert is_loopback(host)
        check_bind(HttpOptions(host=host), token_given=False)


@pytest.mark.parametrize("value,error", [
    ("short", r"has 5 characters; use at least 32"),
    ("a b" * 20, r"not a valid token"),
    ("é" * 40, r"not a valid token"),
    ("x" * 5000, r"not a valid token"),
])
def test_weak_or_malformed_tokens_are_refused_without_echoing_them(value, error):
    with pytest.raises(ConfigError, match=error) as info:
        resolve_token(HttpOptions(), {"MGEXEC_HTTP_TOKEN": value})
    assert value not in str(info.value)


def test_token_file_problems(tmp_path, caplog):
    with pytest.raises(ConfigError, match=r"token file .*missing cannot be read: No such file"):
        resolve_token(HttpOptions(token_file=tmp_path / "missing"), {})
    both = tmp_path / "t"
    both.write_text(TOKEN)
    with pytest.raises(ConfigError, match=r"Both MGEXEC_HTTP_TOKEN and --token-file"):
        resolve_token(HttpOptions(token_file=both), {"MGEXEC_HTTP_TOKEN": TOKEN})
    both.chmod(0o644)
    token, generated = resolve_token(HttpOptions(token_file=both), {})
    assert token.matches(TOKEN) and not generated and TOKEN not in repr(token)
    assert "readable by other users; chmod 600" in caplog.text


@pytest.mark.parametrize("args", [["--token-file", "/x"], ["--allow-remote"], ["--host", "0.0.0.0"], ["--port", "9"]])
def test_http_options_with_stdio_are_an_error(workspace, args):
    proc = run_cli(workspace, *args)
    assert proc.returncode == 2 and "only for --transport streamable-http" in proc.stderr


def test_port_in_use_is_one_paragraph(workspace):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = run_cli(workspace, "--transport", "streamable-http", "--port", str(busy.getsockname()[1]),
                       env={"MGEXEC_HTTP_TOKEN": TOKEN})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "mgexec: The HTTP server could not listen on 127.0.0.1:" in proc.stderr


NGINX_CONF = """
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate     {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        location /mcp {{
            proxy_pass http://127.0.0.1:{port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


@pytest.mark.skipif(not (shutil.which("nginx") and shutil.which("openssl")), reason="needs nginx and openssl")
async def test_tls_through_the_readme_nginx_proxy(workspace, tmp_path):
    """The README's reverse-proxy block, with a throwaway certificate for 127.0.0.1."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", tmp_path / "key.pem", "-out",
                    tmp_path / "cert.pem"], check=True, capture_output=True, timeout=60)
    async with served(workspace, env={"MGEXEC_HTTP_TOKEN": TOKEN}) as server:
        tls_port = free_port()
        (tmp_path / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp_path, tls_port=tls_port, port=server.port))
        nginx = subprocess.Popen(["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                                 stderr=subprocess.DEVNULL)
        try:
            url = f"https://127.0.0.1:{tls_port}/mcp"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", tls_port), 1).close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            async with httpx2.AsyncClient(verify=ssl.create_default_context(cafile=tmp_path / "cert.pem"), timeout=10) as http:
                refused = await http.post(url, json=INIT, headers=HEADERS)
            assert refused.status_code == 401
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(headers=headers, verify=ssl.create_default_context(cafile=tmp_path / "cert.pem"), timeout=30) as http:
                async with streamable_http_client(url, http_client=http) as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        data = await run(session, "echo through-tls")
            assert data["stdout"] == "through-tls\n"
        finally:
            nginx.terminate()
            nginx.wait(10)
        assert (await server.stop()) == 0
