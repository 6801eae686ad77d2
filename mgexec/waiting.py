"""Bounded waits that never cancel what they wait for: the one helper behind every "wait up to N seconds"."""

from __future__ import annotations

import asyncio


async def finished_within(waited: asyncio.Future | asyncio.Event, seconds: float | None) -> bool:
    """Wait up to `seconds` for `waited`: True once it has finished (or was cancelled), False when time ran out.

    `waited` is a future, a task or an Event (a coroutine has no owner to await it later: make it
    a task first); `seconds=None` waits as long as it takes. Unlike a bare
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
    if not isinstance(waited, asyncio.Future):
        raise TypeError(f"finished_within waits for a future, a task or an Event, not {type(waited).__name__}")
    if not waited.done():
        await asyncio.wait({waited}, timeout=_bounded(seconds))
    if not waited.done():
        return False
    if not waited.cancelled():
        waited.result()  # re-raise its failure
    return True


def _bounded(seconds: float | None) -> float | None:
    return None if seconds is None else max(0.0, seconds)
