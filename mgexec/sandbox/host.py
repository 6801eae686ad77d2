"""What srt mode needs from the host: bwrap, a python3 the sandbox can read, and the sandbox's environment.

Each refusal is one paragraph naming the fix or the alternative (docker mode).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Mapping

from mgexec.config import ExecConfig
from mgexec.docker.credentials import resolve_env
from mgexec.environment import NON_INTERACTIVE_ENV
from mgexec.errors import SandboxUnavailable
from mgexec.sandbox.argv import SandboxSpec, visible

# The host variables a sandboxed command sees besides the agent's credentials (as in docker mode,
# the server's own environment, API keys included, stays outside).
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ")
PYTHON_CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")

NOT_LINUX = ("srt mode needs Linux: it runs commands in a bubblewrap sandbox (Linux namespaces). On {system} "
             "use docker mode (command_line_execution_mode: docker, with Docker Desktop), or local mode with "
             "its guard rails only.")
NO_BWRAP = ("srt mode runs commands in a bubblewrap sandbox, but `bwrap` is not on PATH. Install it (Debian and "
            "Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`; Arch: `pacman -S bubblewrap`) "
            "and run `mgexec doctor`, or use docker mode (command_line_execution_mode: docker).")


def find_bwrap(environ: Mapping[str, str] | None = None) -> str:
    """The absolute path of bwrap, or SandboxUnavailable saying how to get it."""
    if not sys.platform.startswith("linux"):
        system = "macOS" if sys.platform == "darwin" else "Windows" if sys.platform.startswith("win") else sys.platform
        raise SandboxUnavailable(NOT_LINUX.format(system=system))
    path = shutil.which("bwrap", path=(environ or os.environ).get("PATH"))
    if path is None:
        raise SandboxUnavailable(NO_BWRAP)
    return os.path.realpath(path)


def sandbox_python(spec: SandboxSpec) -> str | None:
    """A python3 (3.7+) the sandbox can read and run, for the warm helper; None when there is none.

    The server's own interpreter often lives under $HOME (pyenv), which confined and strict mode hide.
    """
    for candidate in (*PYTHON_CANDIDATES, shutil.which("python3") or ""):
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        real = os.path.realpath(candidate)
        if visible(spec, real) and visible(spec, candidate) and not any(
                real == h or real.startswith(h.rstrip("/") + "/") for h in spec.hidden):
            return candidate
    return None


def sandbox_env(config: ExecConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment bwrap starts with: a few host variables, the agent's credentials, a private TMPDIR.

    Passed as the process environment, never as `--setenv` (argv is visible to every process).
    """
    environ = os.environ if environ is None else environ
    env = {name: environ[name] for name in PASSED_ENV if name in environ}
    env.setdefault("PATH", os.defpath)
    env.update(resolve_env(config.credentials, environ).values)  # as docker mode reads them
    env.update(NON_INTERACTIVE_ENV)
    env["TMPDIR"] = "/tmp"  # the sandbox's private /tmp
    # $HOME is read-only inside: caches go to the private /tmp, so pip and npm work rather than fail.
    env.setdefault("XDG_CACHE_HOME", "/tmp/.cache")
    env.setdefault("npm_config_cache", "/tmp/.npm")
    return env
