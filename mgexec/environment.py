"""The environment every command and shell gets, in every mode: non-interactive, a work_dir .venv first.

The in-container helper (docker/inside.py) carries its own copy, since it runs with no mgexec
installed; keep the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

# Keep tools from waiting for a human: no pager, no credential prompt, no debconf dialog.
NON_INTERACTIVE_ENV = {"PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "DEBIAN_FRONTEND": "noninteractive"}

# The same .venv rule as `command_env`, for shell wrappers that run where the work_dir is (a container).
VENV_FIRST_SH = ('if [ -d "$PWD/.venv/bin" ]; then PATH="$PWD/.venv/bin:$PATH"; '
                 'VIRTUAL_ENV="$PWD/.venv"; export PATH VIRTUAL_ENV; fi')


def command_env(work_dir: str | Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """base (the host's environment by default), non-interactive, a work_dir .venv first on PATH."""
    env = dict(os.environ if base is None else base)
    env.update(NON_INTERACTIVE_ENV)
    venv_bin = Path(work_dir, ".venv", "bin")
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["VIRTUAL_ENV"] = str(venv_bin.parent)
    return env
