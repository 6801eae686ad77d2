"""Package preinstall inside a new container: system → python → npm, failing loudly with the installer's output."""

from __future__ import annotations

from typing import Awaitable, Callable

from mgexec.config.models import Preinstall
from mgexec.docker.argv import ExecSpec, build_exec_argv
from mgexec.docker.engine import DockerCLI
from mgexec.errors import PreinstallFailed

PREINSTALL_TIMEOUT = 900.0
# Package names travel as positional arguments ("$@"), never spliced into the script.
STEPS: tuple[tuple[str, str, bool], ...] = (
    ("system", "apt-get update -q && apt-get install -y -q --no-install-recommends \"$@\"", True),
    ("python", "python3 -m pip install --no-cache-dir --disable-pip-version-check -q \"$@\"", False),
    ("npm", "npm install -g --no-fund --no-audit \"$@\"", True),
)
ENV = {"DEBIAN_FRONTEND": "noninteractive", "PIP_BREAK_SYSTEM_PACKAGES": "1", "PIP_NO_INPUT": "1"}

Progress = Callable[[str], Awaitable[None]]


def preinstall_argvs(container: str, pre: Preinstall) -> list[tuple[str, list[str]]]:
    """(kind, argv) per non-empty step, in MassGen's order; system and npm run as root (sudo images only)."""
    steps = []
    for kind, script, as_root in STEPS:
        packages = getattr(pre, kind)
        if packages:
            spec = ExecSpec(container, ("/bin/sh", "-c", script, f"mgexec-{kind}", *packages),
                            user="0" if as_root else None, env=ENV)
            steps.append((kind, build_exec_argv(spec)))
    return steps


async def preinstall(cli: DockerCLI, container: str, pre: Preinstall, progress: Progress | None = None) -> None:
    for kind, argv in preinstall_argvs(container, pre):
        packages = " ".join(getattr(pre, kind))
        if progress:
            await progress(f"installing {kind} packages: {packages}")
        out = await cli.run(argv, timeout=PREINSTALL_TIMEOUT, check=False, output_cap=200_000)
        if out.timed_out or out.exit_code != 0:
            tail = (out.stdout + "\n" + out.stderr).strip()[-1500:]
            raise PreinstallFailed(
                f"Preinstalling {kind} packages ({packages}) in {container} failed with exit code {out.exit_code}, "
                f"so the container was not started. Check the package names and that the network "
                f"(command_line_docker_network_mode) reaches the package registry; behind a TLS-intercepting proxy "
                f"set command_line_docker_ca_bundle. Installer output:\n{tail}")
