"""Helpers for docker-mode tests: configs with unique agent ids, reading state back from the engine."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from dockerutil import _in_ci, docker_argv, require_engine
from mgexec.config import DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE, ExecConfig


def require_image(image: str = DEFAULT_IMAGE) -> None:
    require_engine()
    have = subprocess.run(docker_argv("image", "inspect", image), capture_output=True, stdin=subprocess.DEVNULL)
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
    out = subprocess.run(docker_argv("inspect", name), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def exists(name: str) -> bool:
    return subprocess.run(docker_argv("inspect", name), capture_output=True).returncode == 0


def remove(name: str) -> None:
    subprocess.run(docker_argv("rm", "-f", name), capture_output=True)


def alive_in_container(name: str, pids: list[int]) -> list[int]:
    """The pids still running inside the container (zombies count as gone)."""
    script = "for p in \"$@\"; do s=$(awk '{print $3}' /proc/$p/stat 2>/dev/null); " \
             "[ -n \"$s\" ] && [ \"$s\" != Z ] && echo $p; done; true"
    out = subprocess.run(docker_argv("exec", "--user", "0", name, "sh", "-c", script, "x", *map(str, pids)),
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


def in_container(container: str):
    """A finder of live processes inside the container whose command line holds a token (read as root)."""
    # The token is passed in two pieces, so this script's own command line never matches it.
    script = ('want="$1$2"; for p in /proc/[0-9]*; do '
              'c=$(tr "\\0" " " < "$p/cmdline" 2>/dev/null) || continue; case "$c" in *"$want"*) '
              'read -r st < "$p/stat" 2>/dev/null || continue; st=${st##*") "}; '
              '[ "${st%% *}" != Z ] && echo "${p#/proc/}";; esac; done; true')

    def find(token: str) -> list[int]:
        head, tail = token[:8], token[8:]
        for _ in range(3):  # a loaded engine now and then fails one exec; the listing itself cannot fail
            out = subprocess.run(docker_argv("exec", "--user", "0", container, "sh", "-c", script, "x", head, tail),
                                 capture_output=True, text=True)
            if out.returncode == 0:
                return [int(pid) for pid in out.stdout.split()]
            time.sleep(0.2)
        raise AssertionError(f"cannot list processes in {container}: {out.stderr}")

    return find
