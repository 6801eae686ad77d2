"""Deployments: where commands run, and that place's life (reach or make it, prepare it, let it go).

`state.py` holds the one state value and the table that decides who may take a place down; `host.py` is the
host (local mode), `container.py` the agent's container (docker mode), `sandbox.py` the agent's bubblewrap
sandbox (srt mode). How commands run once the place is there is mgexec.runtimes'.

A new place is one more Deployment plus a runtime: the sandbox makes (CREATED) and takes down what it
needs (its proxy) in `open`/`_take_down` and runs lines through the warm channel or through
runtimes.host.SubprocessRuntime with an `argv_for` that wraps `bash -c LINE` in bwrap; a container someone else made is adopted
(ContainerDeployment.adopt), and the state table never lets an adopted place be removed.
"""

from __future__ import annotations

from mgexec.deployments.base import Deployment
from mgexec.deployments.state import Event, InvalidTransition, State

__all__ = ["Deployment", "Event", "InvalidTransition", "State"]
