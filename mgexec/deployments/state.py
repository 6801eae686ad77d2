"""The life of a place where commands run, as one state value and a table of transitions.

Every deployment (the host, a container, soon a host sandbox) moves through the same table, so who
may take a place down is decided in one place: only a deployment that made the place and does not keep
it removes it, and nothing adopted (made by someone else) or reused (kept by `mgexec up`) is removed.
"""

from __future__ import annotations

import enum

from mgexec.errors import MgexecError


class State(enum.Enum):
    ABSENT = "absent"  # not opened yet
    CREATED = "created"  # made by this deployment; taken down when it closes
    CREATED_KEPT = "created-kept"  # made by this deployment to outlive it (`mgexec up`)
    REUSED = "reused"  # kept by an earlier `mgexec up`: used, left running
    ADOPTED = "adopted"  # made by someone else: used, never stopped or removed
    CLOSED = "closed"  # closed, or failed to open; takes no more commands


class Event(enum.Enum):
    CREATE = "create"
    CREATE_KEPT = "create-kept"
    REUSE = "reuse"
    ADOPT = "adopt"
    FAIL = "fail"  # a start-up step failed after the place was reached
    CLOSE = "close"


LIVE = frozenset({State.CREATED, State.CREATED_KEPT, State.REUSED, State.ADOPTED})
_OPENINGS = {Event.CREATE: State.CREATED, Event.CREATE_KEPT: State.CREATED_KEPT, Event.REUSE: State.REUSED,
             Event.ADOPT: State.ADOPTED}
TRANSITIONS: dict[tuple[State, Event], State] = {
    **{(State.ABSENT, event): state for event, state in _OPENINGS.items()},
    (State.ABSENT, Event.FAIL): State.CLOSED,
    (State.ABSENT, Event.CLOSE): State.CLOSED,
    **{(state, event): State.CLOSED for state in LIVE for event in (Event.FAIL, Event.CLOSE)},
    (State.CLOSED, Event.CLOSE): State.CLOSED,  # closing twice is harmless
}
# The only transitions that take the place down: what this deployment made and does not keep, and what
# it made for `mgexec up` but could not finish preparing (a half-made container is nobody's).
TAKES_DOWN = frozenset({(State.CREATED, Event.CLOSE), (State.CREATED, Event.FAIL), (State.CREATED_KEPT, Event.FAIL)})


class InvalidTransition(MgexecError, RuntimeError):
    """A deployment was driven out of order (a bug in mgexec, not something a user can cause)."""


def transition(state: State, event: Event) -> tuple[State, bool]:
    """The next state, and whether this transition takes the place down."""
    try:
        return TRANSITIONS[(state, event)], (state, event) in TAKES_DOWN
    except KeyError:
        raise InvalidTransition(f"a deployment in state {state.value} cannot {event.value}") from None


def made_here(state: State) -> bool:
    """Whether this deployment made the place (so its image checks and package preinstall are ours to run)."""
    return state in (State.CREATED, State.CREATED_KEPT)


def owns(state: State) -> bool:
    """Whether the place goes when its owner goes (a watchdog may remove it after a crash)."""
    return state is State.CREATED
