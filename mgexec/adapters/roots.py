"""MCP roots as the workspace: when nothing named one, the client's first root confines the tools, the others are allowed.

Used by a local-mode stdio server whose workspace is only the current directory. Before each
tool call that runs something it asks the client for its roots (again after
`notifications/roots/list_changed`), and swaps the executor's command gate to match; with no usable
root and an unusable current directory, every such call is refused with the one paragraph.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mgexec.adapters.deferred import DeferredExecutor
from mgexec.config import ExecConfig
from mgexec.config.models import ContextPath
from mgexec.config.workspace import OVERRIDE, broad_reason, resolve_path

GATED_TOOLS = frozenset({"execute_command", "start_background_shell"})
ROOTS_TIMEOUT = 10.0
NO_ROOTS = (" This client offers no MCP roots, so the current directory was the only candidate.")


def confine(executor: DeferredExecutor, config: ExecConfig, refusal: str | None = None) -> None:
    """Point the executor's checks at `config`'s workspace and allowed paths (or refuse everything)."""
    executor.confine(config, refusal)


def say(message: str) -> None:
    print(f"mgexec: {message}", file=sys.stderr, flush=True)


class RootsBinder:
    """A ServerMiddleware (the SDK's public hook) that keeps the confinement equal to the client's roots."""

    def __init__(self, executor: DeferredExecutor, pending: str | None) -> None:
        self.executor = executor
        self.base = executor.config  # the current directory as workspace, plus what the config allows
        self.pending = pending  # why the current directory cannot serve, if it cannot
        self.stale = True
        self.shown: tuple[Path, ...] | None = None
        self._lock = asyncio.Lock()
        if pending is not None:
            confine(executor, self.base, pending)

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "notifications/roots/list_changed":
            self.stale = True
        elif ctx.method == "notifications/initialized":
            self._greet(ctx)
        elif ctx.method == "tools/call" and (ctx.params or {}).get("name") in GATED_TOOLS and _offers_roots(ctx):
            async with self._lock:
                # A client that does not promise list_changed notifications is asked before every command.
                if self.stale or not ctx.session.client_capabilities.roots.list_changed:
                    await self._refresh(ctx.session)
        return await call_next(ctx)

    def _greet(self, ctx: Any) -> None:
        if _offers_roots(ctx):
            say("no workspace named: the client's MCP roots decide it, asked before the first command.")
        elif self.pending is not None:
            say(self.pending + NO_ROOTS)

    async def _refresh(self, session: Any) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # roots are deprecated for protocol 2026-07-28; clients still send them
                result = await asyncio.wait_for(session.list_roots(), ROOTS_TIMEOUT)
        except Exception as exc:  # the client failed to answer: refuse this call, ask again next time
            confine(self.executor, self.base, f"mgexec asked the client for its MCP roots and got no answer "
                                              f"({type(exc).__name__}: {exc}); try again, or start the server with "
                                              "--workspace DIR.")
            return
        self.stale = False
        self._apply([str(root.uri) for root in result.roots])

    def _apply(self, uris: list[str]) -> None:
        paths, skipped = _usable_roots(uris, self.base.allow_broad_workspace)
        for uri, why in skipped:
            say(f"ignoring the client's root {uri}: {why}.")
        if not paths:
            refusal = None if self.pending is None else self.pending + " The client's roots offer no usable directory."
            confine(self.executor, self.base, refusal)
            self._announce((self.base.workspace,) if refusal is None else ())
            return
        extra = tuple(ContextPath(path=p, permission="write") for p in paths[1:] if p != paths[0])
        config = self.base.model_copy(update={"workspace": paths[0], "workspace_implicit": False,
                                              "context_paths": self.base.context_paths + extra})
        confine(self.executor, config)
        self._announce(tuple(paths))

    def _announce(self, paths: tuple[Path, ...]) -> None:
        if paths == self.shown:
            return
        self.shown = paths
        if not paths:
            say("no workspace: the client's roots offer no usable directory, so commands are refused.")
        elif paths == (self.base.workspace,) and self.pending is None:
            say(f"workspace {paths[0]} (the current directory; the client offers no usable roots).")
        else:
            rest = f"; also allowed, read-write: {', '.join(map(str, paths[1:]))}" if len(paths) > 1 else ""
            say(f"workspace {paths[0]} (the client's first root){rest}.")


def _offers_roots(ctx: Any) -> bool:
    capabilities = ctx.session.client_capabilities
    return capabilities is not None and capabilities.roots is not None


def _usable_roots(uris: list[str], allow_broad: bool) -> tuple[list[Path], list[tuple[str, str]]]:
    """Local directories named by file:// roots, in the client's order; the rest with the reason they were skipped."""
    paths: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            skipped.append((uri, "only file:// roots on this machine can be a workspace"))
            continue
        try:
            path = resolve_path(unquote(parsed.path), "root", Path("/"))
        except ValueError as exc:
            skipped.append((uri, str(exc)))
            continue
        reason = None if allow_broad else broad_reason(path)
        if not path.is_dir():
            skipped.append((uri, "it is not an existing directory"))
        elif reason is not None:
            skipped.append((uri, f"it is {reason} (start the server with {OVERRIDE} to accept it)"))
        else:
            paths.append(path)
    return paths, skipped
