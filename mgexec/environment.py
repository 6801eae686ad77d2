"""The shell that runs every command line, and the environment every command and shell gets, in every
mode: non-interactive, a work_dir .venv first, nothing that changes how bash reads the line.

The in-container helper (inside/channel_jobs.py) carries its own copy, since it runs with no mgexec
installed; keep the two in step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Mapping

from mgexec.errors import MgexecError

# Every command line runs as `bash -c LINE`, in every mode, so the guard rails parse exactly one
# dialect (bash's) for the line itself; `/bin/sh` differs between hosts and images (dash, bash in
# POSIX mode, busybox ash) and is only met as a shell the line names itself.
LINE_SHELL = "bash"

# Variables through which the environment, not the line, would decide what bash runs: start-up
# files, options that turn on alias expansion or POSIX mode, `cd` search paths, glob filters.
# Exported functions (BASH_FUNC_name%%) could redefine any command name; they are dropped too.
SHELL_STARTUP_VARIABLES = ("BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "POSIXLY_CORRECT", "CDPATH", "GLOBIGNORE")
EXPORTED_FUNCTION_PREFIX = "BASH_FUNC_"

# The same removal for shell wrappers that run inside a container (exported functions cannot be
# named in POSIX sh; the container's environment comes from the image and the config, which
# refuses such names).
UNSET_STARTUP_SH = "unset " + " ".join(SHELL_STARTUP_VARIABLES)
# Said where an image lacks bash, instead of the shell's bare "bash: not found".
REQUIRE_BASH_SH = ('command -v bash >/dev/null 2>&1 || { echo "mgexec: this image has no bash; mgexec runs every '
                   'command line with bash (install it in the image)" >&2; exit 127; }')

# Keep tools from waiting for a human: no pager, no credential prompt, no debconf dialog.
NON_INTERACTIVE_ENV = {"PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "DEBIAN_FRONTEND": "noninteractive"}

# The same .venv rule as `command_env`, for shell wrappers that run where the work_dir is (a container).
VENV_FIRST_SH = ('if [ -d "$PWD/.venv/bin" ]; then PATH="$PWD/.venv/bin:$PATH"; '
                 'VIRTUAL_ENV="$PWD/.venv"; export PATH VIRTUAL_ENV; fi')


def line_shell_argv(line: str, shell: str = LINE_SHELL) -> list[str]:
    """argv that runs one command line: `bash -c LINE`."""
    return [shell, "-c", line]


_found_shell: dict[str | None, str] = {}  # PATH -> the bash it led to, last time


def host_line_shell() -> str:
    """The absolute path of the bash that runs command lines on this host, or a clear error."""
    search = os.environ.get("PATH")
    path = _found_shell.get(search)
    # A walk along PATH on every command costs more than the check that the bash found last time is
    # still there and runnable; a changed PATH, or a bash gone since, searches again.
    if path is None or not os.access(path, os.X_OK):
        path = shutil.which(LINE_SHELL)
        _found_shell.clear()
        if path is not None:
            _found_shell[search] = path
    if path is None:
        raise MgexecError(
            "mgexec runs every command line with bash, so that its guard rails read the line in exactly "
            "the dialect that runs it, but no `bash` was found on PATH. Install bash (Alpine: `apk add "
            "bash`) or put it on PATH, then start mgexec again.")
    return path


def drop_startup_variables(env: dict[str, str]) -> dict[str, str]:
    """env without the variables that would change how bash reads or runs a line."""
    for name in [n for n in env if n in SHELL_STARTUP_VARIABLES or n.startswith(EXPORTED_FUNCTION_PREFIX)]:
        del env[name]
    return env


def command_env(work_dir: str | Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """base (the host's environment by default), non-interactive, a work_dir .venv first on PATH,
    without bash start-up variables."""
    env = drop_startup_variables(dict(os.environ if base is None else base))
    env.update(NON_INTERACTIVE_ENV)
    venv_bin = Path(work_dir, ".venv", "bin")
    if venv_bin.is_dir():
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["VIRTUAL_ENV"] = str(venv_bin.parent)
    return env
