"""--workspace and --allow in docker mode: what is mounted, and writable, comes from the same rules as local mode."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dockermode import exists, remove, require_image

MGEXEC = str(Path(sys.executable).parent / "mgexec")
pytestmark = pytest.mark.docker


@pytest.fixture
def docker_yaml(tmp_path: Path):
    require_image()
    agent = f"ws{uuid.uuid4().hex[:10]}"
    path = tmp_path / "docker.yaml"
    path.write_text(f"agent:\n  id: {agent}\n  backend:\n    command_line_execution_mode: docker\n")
    yield path, f"massgen-{agent}"
    remove(f"massgen-{agent}")


def mgexec(args: list[str], cwd: Path | str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([MGEXEC, *args], cwd=cwd, env={**os.environ, "HOME": str(home)}, capture_output=True,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)


def test_workspace_and_allow_decide_the_mounts(tmp_path, docker_yaml):
    config, container = docker_yaml
    ws, ro, rw, other = (tmp_path / n for n in ("ws", "ro", "rw", "other"))
    for d in (ws, ro, rw, other):
        d.mkdir(mode=0o777)
        d.chmod(0o777)  # the container's user may differ from the files' owner
    probe = "; ".join(f"touch {d}/f 2>/dev/null && echo {d.name}:writable || echo {d.name}:not-writable"
                      for d in (ws, ro, rw, other))
    args = ["exec", "--config", str(config), "--workspace", str(ws), "--allow", f"{ro}:ro", "--allow", f"{rw}:rw",
            "--", f"pwd; {probe}; ls {other} >/dev/null 2>&1 && echo other:visible || echo other:absent"]
    proc = mgexec(args, "/", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(ws), "ws:writable", "ro:not-writable", "rw:writable",
                                        "other:not-writable", "other:absent"]
    assert (ws / "f").exists() and (rw / "f").exists() and not (ro / "f").exists() and not (other / "f").exists()
    assert not exists(container)


@pytest.mark.parametrize("cwd,args", [("/", []), ("HOME", []), ("X", ["--workspace", "HOME"]), ("X", ["--allow", "/:ro"])])
def test_broad_paths_are_refused_before_any_container_exists(tmp_path, docker_yaml, cwd, args):
    config, container = docker_yaml
    home, x = tmp_path / "home", tmp_path / "x"
    home.mkdir()
    x.mkdir()
    subst = {"HOME": str(home), "X": str(x)}
    args = [subst.get(a, a) for a in args]
    proc = mgexec(["exec", "--config", str(config), *args, "--", "true"], subst.get(cwd, cwd), home)
    assert proc.returncode == 2 and proc.stderr.startswith("mgexec: Refusing to ")
    assert not exists(container)
    served = mgexec(["serve", "--config", str(config), *args], subst.get(cwd, cwd), home)
    assert served.returncode == 2 and served.stderr == proc.stderr and not exists(container)
