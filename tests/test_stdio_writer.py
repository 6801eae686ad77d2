"""The stdio writer: the SDK's JSON for every message, sparse wide characters escaped on large lines, whole lines on a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import mcp_types as types

from mgexec.adapters.stdio_writer import ESCAPE_FROM_BYTES, message_line, write_line


def response(text: str) -> types.JSONRPCResponse:
    return types.JSONRPCResponse(jsonrpc="2.0", id=7, result={
        "content": [{"type": "text", "text": json.dumps({"stdout": text}, ensure_ascii=False)}], "structuredContent": {"stdout": text}})


def test_small_and_ascii_lines_are_the_sdks_own_json():
    for message in (response('caf\u00e9 \u2713 "\\" \U0001f600\n'), response("x" * (2 * ESCAPE_FROM_BYTES))):
        assert message_line(message) == message.model_dump_json(by_alias=True, exclude_unset=True).encode()


def test_large_line_with_rare_wide_characters_goes_as_ascii_with_the_same_value():
    text = ("ascii log line \"quoted\" \\ back\n" * 40 + "\u2713 ok \U0001f600 \u00e9\n") * 2000
    message = response(text)
    line = message_line(message)
    assert line.isascii() and b"\\ud83d\\ude00" in line
    assert json.loads(line) == json.loads(message.model_dump_json(by_alias=True, exclude_unset=True))


def test_large_dense_or_latin1_text_is_not_escaped():
    """Escaping would grow these lines more than it saves the client (or save nothing: Latin-1)."""
    dense = ("\u4e2d\u6587\u5b57\u7b26" * 300_000, '"\\\n\t\u00e9\u20ac\U0001f600<>&\x01' * 300_000)
    for text in (*dense, "caf\u00e9 na\u00efve " * 200_000):
        message = response(text)
        assert message_line(message) == message.model_dump_json(by_alias=True, exclude_unset=True).encode()


def test_write_line_sends_a_line_larger_than_the_pipe_whole():
    data = os.urandom(3_000_000).hex().encode()
    read_end, write_end = os.pipe()
    received = bytearray()

    def drain():
        while chunk := os.read(read_end, 65536):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        write_line(write_end, data)
        write_line(write_end, b"{}")
    finally:
        os.close(write_end)
        reader.join()
        os.close(read_end)
    assert bytes(received) == data + b"\n{}\n"


def test_claimed_stdout_sends_stray_output_to_stderr():
    script = (
        "import os, sys\n"
        "from mgexec.adapters.stdio_writer import claim_stdout, write_line\n"
        "wire, restore = claim_stdout()\n"
        "print('stray print', flush=True)\n"
        "os.system('echo stray child')\n"
        "write_line(wire, b'{\"jsonrpc\": \"2.0\"}')\n"
        "restore()\n"
        "print('restored', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'{"jsonrpc": "2.0"}\nrestored\n'
    assert b"stray print" in done.stderr and b"stray child" in done.stderr
