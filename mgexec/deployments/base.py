"""What every deployment shares: one state value moved through the table of mgexec.deployments.state."""

from __future__ import annotations

from typing import Awaitable, Callable

from mgexec.deployments.state import LIVE, Event, State, made_here, owns, transition

ProgressCallback = Callable[[float, str], Awaitable[None]]


class Deployment:
    """A place where commands run, and its life: open() reaches or makes it, close() lets it go.

    Subclasses say how a transition's work is done (`_take_down`); whether it is done is the table's.
    """

    where = "the place"  # how messages name it

    def __init__(self) -> None:
        self.state = State.ABSENT

    @property
    def running(self) -> bool:
        return self.state in LIVE

    @property
    def made_here(self) -> bool:
        return made_here(self.state)

    @property
    def owns(self) -> bool:
        return owns(self.state)

    async def open(self) -> None:
        """Reach or make the place (quick; its errors should stop a server from starting)."""

    async def prepare(self, on_progress: ProgressCallback | None = None) -> None:
        """The slow part of making the place (package preinstall); nothing by default."""

    async def close(self) -> None:
        """Let the place go: taken down only if the table says this deployment may."""
        await self._move(Event.CLOSE)

    def launcher(self):
        """How background shells start in this place (a shells.Launcher)."""
        raise NotImplementedError

    def not_running(self) -> str:
        """Why commands cannot run here now."""
        if self.state is State.ABSENT:
            return f"{self.where} is not running: the executor was not started."
        return f"{self.where} is not running: the session has ended."

    async def _move(self, event: Event) -> None:
        self.state, take_down = transition(self.state, event)
        if take_down:
            await self._take_down()

    async def _or_fail(self, step: Awaitable[None]) -> None:
        """Run a start-up step; if it fails, the place goes the way the table says (a half-made one is removed)."""
        try:
            await step
        except BaseException:
            await self._move(Event.FAIL)
            raise

    async def _take_down(self) -> None:
        """Remove what this deployment made."""
