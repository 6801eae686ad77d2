"""MassGen's image names: `mgexec doctor` says which exist on the engine (build.sh's tagging is in test_build_script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dockerutil import require_docker_cli, requires_engine

pytestmark = [pytest.mark.docker, requires_engine]
MGEXEC = str(Path(sys.executable).parent / "mgexec")
NAMES = ("ghcr.io/massgen/mcp-runtime:latest", "ghcr.io/massgen/mcp-runtime-sudo:latest")


def test_doctor_says_which_massgen_names_exist(tmp_path):
    docker = require_docker_cli()
    present = {name: subprocess.run([docker, "image", "inspect", name], capture_output=True, timeout=60).returncode == 0
               for name in NAMES}
    out = subprocess.run([MGEXEC, "doctor"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL).stdout
    for name, there in present.items():
        line = f"MassGen's image name {name} {'present' if there else 'missing'}"
        assert f"[{'ok  ' if there else 'warn'}] {line}" in out, out
    if not all(present.values()):
        assert "fix: mgexec build --massgen-names" in out
