"""Bounded waits that never cancel what they wait for: the one helper behind every "wait up to N seconds"."""

from __future__ import annotations

import asyncio
from typing import Awaitable


async def finished_within(waited: Awaitable | asyncio.Event, seconds: float | None) -> bool:
    """Wait up to `seconds` for `waited`: True once it has finished (or was cancelled), False when time ran out.

    `waited` is a future, a task, a coroutine (run as a task) or an Event; `seconds=None` waits
    as long as it takes. Unlike a bare
    `asyncio.wait_for`, running out of time leaves it going on, for its owner to await or cancel
    (a process's exit, a kill in progress, a reader still draining); an exception it raised is
    raised here. Cancelling the caller cancels only the wait.
    """
    if isinstance(waited, asyncio.Event):
        if waited.is_set():
            return True
        setter = asyncio.ensure_future(waited.wait())
        try:
            await asyncio.wait({setter}, timeout=_bounded(seconds))
        finally:
            setter.cancel()  # ours alone: the Event itself is untouched
        return waited.is_set()
    future = asyncio.ensure_future(waited)
    if not future.done():
        await asyncio.wait({future}, timeout=_bounded(seconds))
    if not future.done():
        return False
    if not future.cancelled():
        future.result()  # re-raise its failure
    return True


def _bounded(seconds: float | None) -> float | None:
    return None if seconds is None else max(0.0, seconds)
