"""A bare JSON-RPC client for `mgexec serve` that reads each reply line once: the server's share of a big result.

The SDK's stdio client re-joins and re-splits the whole line received so far at every 64 KiB read (quadratic in
the line's length), so through it a 20 MB reply line costs the client seconds; this client shows what is left.
"""

from __future__ import annotations

import asyncio
import itertools
import json

from bench.timing import BenchError

LINE_LIMIT = 1 << 30
PROTOCOL_VERSION = "2025-06-18"


class LinearClient:
    """`initialize`, `notifications/initialized`, then `tools/call` requests, one at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ids = itertools.count(1)

    @classmethod
    async def start(cls, argv: list[str], cwd: str, env: dict[str, str]) -> "LinearClient":
        proc = await asyncio.create_subprocess_exec(*argv, cwd=cwd, env=env, limit=LINE_LIMIT,
                                                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        client = cls(proc)
        await client.request("initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                                            "clientInfo": {"name": "bench-linear", "version": "1"}})
        await client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return client

    async def send(self, message: dict) -> None:
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def request(self, method: str, params: dict) -> dict:
        ident = next(self.ids)
        await self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        while line := await self.proc.stdout.readline():
            message = json.loads(line)
            if message.get("id") == ident:
                if "error" in message:
                    raise BenchError(f"`{method}` failed: {message['error']}")
                return message["result"]
        raise BenchError(f"the server closed its output before answering `{method}`")

    async def call_tool(self, name: str, arguments: dict) -> dict:
        return await self.request("tools/call", {"name": name, "arguments": arguments})

    async def close(self) -> None:
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
