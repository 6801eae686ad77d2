"""Big and escaping-heavy results through the SDK's stdio client arrive exactly, in text and structured content."""

from __future__ import annotations

import base64
import json
import random
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import pydantic_core
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from mgexec.result import ExecResult

MGEXEC = str(Path(sys.executable).parent / "mgexec")
CAP = 12_000_000


@asynccontextmanager
async def bulk_session(tmp_path: Path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    config = tmp_path / "c.yaml"
    config.write_text(f"agent:\n  backend:\n    cwd: ws\n    command_line_max_output_bytes: {CAP}\n")
    params = StdioServerParameters(command=MGEXEC, args=["serve", "--config", str(config)], cwd=str(tmp_path))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session, workspace


async def cat_through_mcp(session, workspace: Path, data: bytes) -> dict:
    (workspace / "out.bin").write_bytes(data)
    result = await session.call_tool("execute_command", {"command": "cat out.bin"})
    assert not result.is_error
    structured = result.structured_content
    # The text content is the SDK's own rendering of the same result, value for value.
    [text] = result.content
    assert text.text == pydantic_core.to_json(ExecResult(**structured), fallback=str, indent=2).decode()
    assert json.loads(text.text) == structured
    assert structured["success"] and not structured["truncated"], structured["stderr"]
    return structured


def base64_lines(size: int) -> bytes:
    return base64.encodebytes(random.Random(13).randbytes(size * 3 // 4))[:size]


def escaping_text(units: int, rare_every: int) -> bytes:
    """Quotes, backslashes, control characters and JSON look-alikes; every `rare_every` unit also wide characters."""
    plain = '"q" \\ back\\slash \t tab \x01\x1b[0m {"jsonrpc": "2.0"} </script> caf\u00e9\n'
    rare = "\u2713 \u20ac \u4e2d\u6587 \U0001f600 \u00ff\n"
    return "".join(plain + (rare if i % rare_every == 0 else "") for i in range(units)).encode()


async def test_ten_megabytes_arrive_byte_for_byte(tmp_path):
    data = base64_lines(10_000_000)
    async with bulk_session(tmp_path) as (session, workspace):
        structured = await cat_through_mcp(session, workspace, data)
    assert structured["stdout"].encode() == data


async def test_escaping_heavy_output_arrives_exactly(tmp_path):
    samples = {
        "small, every unit wide": escaping_text(200, 1),
        "large, wide characters rare": escaping_text(40_000, 500),
        "large, wide characters dense": escaping_text(40_000, 1),
        "large CJK": ("\u4e2d\u6587\u5b57\u7b26" * 20 + "\n").encode() * 20_000,
    }
    async with bulk_session(tmp_path) as (session, workspace):
        for name, data in samples.items():
            structured = await cat_through_mcp(session, workspace, data)
            assert structured["stdout"].encode() == data, name


async def test_output_schema_is_the_result_models(tmp_path):
    async with bulk_session(tmp_path) as (session, _):
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert tools["execute_command"].output_schema == ExecResult.model_json_schema(by_alias=True)
