"""Helpers for docker-mode tests: configs with unique agent ids, reading state back from the engine."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from dockerutil import _in_ci, require_engine
from mgexec.config import DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE, ExecConfig


def require_image(image: str = DEFAULT_IMAGE) -> None:
    require_engine()
    have = subprocess.run(["docker", "image", "inspect", image], capture_output=True, stdin=subprocess.DEVNULL)
    if have.returncode == 0:
        return
    flag = " --sudo" if image == DEFAULT_SUDO_IMAGE else ""
    why = f"image {image} is missing; build it with ./build.sh{flag} --bootstrap"
    if _in_ci():
        pytest.fail(why)
    pytest.skip(why)


# Engine tests run over both exec paths; a parametrized fixture flips this.
WARM_CHANNEL = True


def docker_config(workspace: Path, **fields) -> ExecConfig:
    fields.setdefault("agent_id", f"t{uuid.uuid4().hex[:10]}")
    fields.setdefault("docker_warm_channel", WARM_CHANNEL)
    return ExecConfig(workspace=workspace, mode="docker", **fields)


def inspect(name: str) -> dict:
    out = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def exists(name: str) -> bool:
    return subprocess.run(["docker", "inspect", name], capture_output=True).returncode == 0


def remove(name: str) -> None:
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def alive_in_container(name: str, pids: list[int]) -> list[int]:
    """The pids still running inside the container (zombies count as gone)."""
    script = "for p in \"$@\"; do s=$(awk '{print $3}' /proc/$p/stat 2>/dev/null); " \
             "[ -n \"$s\" ] && [ \"$s\" != Z ] && echo $p; done; true"
    out = subprocess.run(["docker", "exec", "--user", "0", name, "sh", "-c", script, "x", *map(str, pids)],
                         capture_output=True, text=True, check=True)
    return [int(p) for p in out.stdout.split()]


def shared_dir(tmp_path: Path, uid: int | None = None) -> Path:
    """A directory the container's user can reach: pytest's tmp dirs are 0700 and owned by root."""
    base = Path("/tmp/mgexec-tests")
    base.mkdir(mode=0o755, exist_ok=True)
    os.chmod(base, 0o755)
    path = base / f"{tmp_path.name}-{uuid.uuid4().hex[:6]}"
    path.mkdir(mode=0o755)
    if uid is not None:
        os.chown(path, uid, uid)
    return path
