"""Hostile protocol lines, written raw to `mgexec serve` (the official client cannot even send some of them):
every request gets a JSON-RPC error or a result, the server goes on serving, and a signal or the
end of stdin stops it promptly even while a line built to explode is being judged.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from hostile import SLACK, no_traceback
from procutil import wait_all_gone
from mgexec.policy.checker import CHECK_SECONDS
from test_server import MGEXEC

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


class RawServer:
    """`mgexec serve` driven line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, cwd, errlog) -> "RawServer":
        proc = await asyncio.create_subprocess_exec(MGEXEC, "serve", cwd=str(cwd), stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, stderr=errlog,
                                                    limit=16 * 1024 * 1024)
        server = cls(proc)
        server.send(INIT)
        await server.reply(0)
        server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return server

    def send(self, message) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        self.proc.stdin.write(line.encode("utf-8", "surrogatepass") + b"\n")

    async def reply(self, ident, timeout: float = 10.0) -> dict:
        """The next response with this id (notifications are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), max(0.01, deadline - time.monotonic()))
            assert line, "the server closed its output"
            message = json.loads(line)
            if "id" in message and message["id"] == ident and ("result" in message or "error" in message):
                return message

    async def call(self, ident, name: str, arguments: dict, timeout: float = 10.0) -> dict:
        self.send({"jsonrpc": "2.0", "id": ident, "method": "tools/call",
                   "params": {"name": name, "arguments": arguments}})
        return await self.reply(ident, timeout)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def raw(workspace):
    errlog_path = workspace.parent / "stderr.log"
    with open(errlog_path, "w") as errlog:
        server = await RawServer.start(workspace, errlog)
        try:
            yield server
        finally:
            await server.stop()
    no_traceback(errlog_path)


def call_line(ident, name: str, arguments_json: str) -> str:
    return ('{"jsonrpc": "2.0", "id": %s, "method": "tools/call", "params": {"name": "%s", "arguments": %s}}'
            % (json.dumps(ident), name, arguments_json))


@pytest.mark.parametrize("line, ident, code, fragment", [
    ("this is not json", None, -32700, "Parse error"),
    ('{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": ', None, -32700, "Parse error"),
    ("[1, 2, 3]", None, -32600, "batches"),
    ('{"id": 9, "hello": "world"}', 9, -32600, "Invalid Request"),
    ('{"jsonrpc": "2.0", "id": "s1", "method": 5}', "s1", -32600, "Invalid Request"),
    (call_line(7, "execute_command", '{"command": "echo \\ud800"}'), 7, -32602, "params.arguments.command"),
    (call_line(8, "execute_command", '{"command": "echo \\udfff\\ud800"}'), 8, -32602, "surrogate"),
    (call_line(10, "start_background_shell", '{"command": "true", "work_dir": "\\udc80"}'), 10, -32602,
     "params.arguments.work_dir"),
    (call_line(11, "send_background_shell_input", '{"shell_id": "s", "text": "\\ud83d"}'), 11, -32602,
     "params.arguments.text"),
    (call_line(12, "get_background_shell_output", '{"shell_id": "s", "wait_for": "\\ud800+"}'), 12, -32602,
     "params.arguments.wait_for"),
])
async def test_unreadable_lines_get_json_rpc_errors_and_serving_goes_on(raw, line, ident, code, fragment):
    raw.send(line)
    if ident is None:
        raw.send({"jsonrpc": "2.0", "id": 99, "method": "ping"})  # the parse error comes first
    start = time.monotonic()
    message = await raw.reply(ident)
    assert time.monotonic() - start < SLACK
    assert message["error"]["code"] == code and fragment in message["error"]["message"], message
    after = await raw.call(100, "execute_command", {"command": "echo still-serving"})
    assert after["result"]["structuredContent"]["stdout"] == "still-serving\n"


async def test_a_malformed_notification_gets_no_reply_and_breaks_nothing(raw):
    raw.send('{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"reason": "\\ud800"}}')
    after = await raw.call(1, "execute_command", {"command": "echo fine"})
    assert after["result"]["structuredContent"]["stdout"] == "fine\n"


@pytest.mark.parametrize("timeout_json, fragment", [("NaN", "above 0"), ("1e999", "at most 86400"),
                                                     ("-Infinity", "above 0"), ("Infinity", "at most 86400")])
async def test_non_finite_timeouts_get_a_result(raw, timeout_json, fragment):
    raw.send(call_line(5, "execute_command", '{"command": "echo hi", "timeout": %s}' % timeout_json))
    data = (await raw.reply(5))["result"]["structuredContent"]
    assert (data["success"], data["exit_code"]) == (False, -1) and fragment in data["stderr"], data


@pytest.mark.parametrize("wait_json", ["NaN", "1e999", "-1e999"])
async def test_non_finite_waits_get_the_shell_error_shape_or_end_in_time(raw, wait_json):
    shell = (await raw.call(1, "start_background_shell", {"command": "echo up; sleep 3"}))["result"]
    shell_id = shell["structuredContent"]["shell_id"]
    raw.send(call_line(2, "get_background_shell_output",
                       '{"shell_id": "%s", "wait_seconds": %s, "wait_for": "never"}' % (shell_id, wait_json)))
    start = time.monotonic()
    data = (await raw.reply(2, timeout=20))["result"]["structuredContent"]
    elapsed = time.monotonic() - start
    if wait_json == "NaN":
        assert data["success"] is False and "wait_seconds" in data["error"] and elapsed < SLACK
    else:  # clamped to the documented range (no wait, or until the shell ends 3 s later)
        assert data["matched"] is False and elapsed < 3 + SLACK


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "stdin-close"])
async def test_the_server_stops_promptly_while_a_line_built_to_explode_is_judged(raw, how):
    raw.send(call_line(1, "execute_command", json.dumps({"command": "false && true > x" + "{a,b}" * 26})))
    await asyncio.sleep(0.5)  # being judged now
    workers = Path(f"/proc/{raw.proc.pid}/task/{raw.proc.pid}/children").read_text().split()
    assert workers  # the policy workers, one of them busy with the line
    start = time.monotonic()
    if how == "stdin-close":
        raw.proc.stdin.close()
    else:
        raw.proc.send_signal(getattr(signal, how))
    code = await asyncio.wait_for(raw.proc.wait(), CHECK_SECONDS + SLACK)
    assert code == 0 and time.monotonic() - start < 2.0
    assert wait_all_gone([int(pid) for pid in workers], 5) == []


async def test_a_line_longer_than_the_limit_is_discarded_and_answered(raw):
    from mgexec.adapters.stdio import MAX_MESSAGE_CHARS

    filler = "x" * (MAX_MESSAGE_CHARS + 10)
    raw.send(call_line(77, "execute_command", json.dumps({"command": filler})))
    await raw.proc.stdin.drain()
    message = await raw.reply(77, timeout=30)
    assert message["error"]["code"] == -32600 and "longer than" in message["error"]["message"]
    after = await raw.call(78, "execute_command", {"command": "echo still-serving"})
    assert after["result"]["structuredContent"]["stdout"] == "still-serving\n"
