"""A scripted OpenAI-compatible chat endpoint on 127.0.0.1: the model calls the given tools in order, then answers.

MassGen streams (`stream: true`), so every reply is server-sent events. Each request is recorded, so a
test can read the tool results MassGen sent back and the tools it offered.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

ANSWER_TOOLS = ("new_answer",)


@dataclass
class ToolStep:
    """One tool call of the script: the tool's name (MassGen may prefix it) and its arguments."""

    tool: str
    # Or a function of the tool results so far, for arguments only a real run can know (a workspace path).
    arguments: dict[str, Any] | Callable[[list[str]], dict[str, Any]]


@dataclass
class Script:
    steps: list[ToolStep]
    answer: str = "All done."
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Called with each request before it is answered: a test looks at the world while the run is live.
    on_request: Callable[[dict[str, Any]], None] | None = None

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        """The next move for this conversation: a tool call (name, arguments) or the answer."""
        messages = body.get("messages") or []
        done = sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")
        offered = [t.get("function", {}).get("name", "") for t in body.get("tools") or []]
        if done < len(self.steps):
            step = self.steps[done]
            arguments = step.arguments(_results(messages)) if callable(step.arguments) else step.arguments
            return {"tool": _offered_name(step.tool, offered), "arguments": arguments}
        answer_tool = next((n for n in offered if n in ANSWER_TOOLS), None)
        if answer_tool and done == len(self.steps):
            return {"tool": answer_tool, "arguments": {"content": self.answer}}
        return {"text": self.answer}

    def tool_results(self) -> list[str]:
        """Every tool message's content MassGen sent in the last request that carried them."""
        for body in reversed(self.requests):
            if results := _results(body.get("messages") or []):
                return results
        return []

    def offered_tools(self) -> set[str]:
        return {t.get("function", {}).get("name", "") for b in self.requests for t in b.get("tools") or []}


def _results(messages: list[dict[str, Any]]) -> list[str]:
    return [_text(m.get("content")) for m in messages if m.get("role") == "tool"]


def _offered_name(wanted: str, offered: list[str]) -> str:
    """MassGen names MCP tools `mcp__SERVER__TOOL` (or plain); the script names the tool itself."""
    for name in offered:
        if name == wanted or name.endswith("__" + wanted) or name.endswith("." + wanted):
            return name
    return wanted


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    event = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def _events(move: dict[str, Any], call_number: int) -> list[bytes]:
    if "tool" in move:
        call = {"index": 0, "id": f"call_{call_number}", "type": "function",
                "function": {"name": move["tool"], "arguments": json.dumps(move["arguments"])}}
        events = [_chunk({"role": "assistant", "content": None, "tool_calls": [call]}), _chunk({}, "tool_calls")]
    else:
        events = [_chunk({"role": "assistant", "content": move["text"]}), _chunk({}, "stop")]
    usage = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
             "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return events + [b"data: " + json.dumps(usage).encode() + b"\n\n", b"data: [DONE]\n\n"]


class ScriptedEndpoint:
    """`with ScriptedEndpoint(script) as url:` serves the script at url (an OpenAI base_url ending in /v1)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with endpoint._lock:
                    if endpoint.script.on_request is not None:
                        endpoint.script.on_request(body)
                    endpoint.script.requests.append(body)
                    move = endpoint.script.reply(body)
                    number = len(endpoint.script.requests)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for event in _events(move, number):
                    self.wfile.write(event)
                self.wfile.flush()

            def do_GET(self) -> None:  # noqa: N802 (a models listing, should a client ask)
                payload = json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> str:
        self._thread.start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
