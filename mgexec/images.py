"""Where the packaged Dockerfiles and build.sh live (inside the wheel, or dockerfiles/ in a checkout)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mgexec.errors import MgexecError


def dockerfiles_dir() -> Path:
    try:
        packaged = Path(str(resources.files("mgexec.dockerfiles")))
        if (packaged / "build.sh").is_file():
            return packaged
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[1] / "dockerfiles"


def build_script() -> Path:
    script = dockerfiles_dir() / "build.sh"
    if not script.is_file():
        raise MgexecError(f"build.sh is missing from {script.parent}; reinstall mgexec (pip install --force-reinstall mgexec).")
    return script
