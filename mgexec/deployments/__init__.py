"""Deployments: where commands run, and that place's life (reach or make it, prepare it, let it go).

`state.py` holds the one state value and the table that decides who may take a place down; `host.py` is the
host (local mode), `container.py` the agent's container (docker mode). How commands run once the place is
there is mgexec.runtimes'.
"""

from __future__ import annotations

from mgexec.deployments.base import Deployment
from mgexec.deployments.state import Event, InvalidTransition, State

__all__ = ["Deployment", "Event", "InvalidTransition", "State"]
