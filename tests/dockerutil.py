"""Engine checks for tests: is a Docker engine reachable, and a tiny local image built from host binaries.

Locally a missing engine skips the engine-backed tests; in CI (CI set) it fails them, so a broken
engine can never pass as green.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

TEST_IMAGE = "mgexec-test/tiny:2"  # 2: bash, which runs every command line
# Enough of a userland for lifecycle tests; copied from the host with their shared libraries,
# because no registry is reachable to pull a base image from.
_TOOLS = ("sh", "bash", "sleep", "cat", "id", "ls", "env", "echo", "touch", "mkdir", "pwd", "rm")
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nmassgen:x:1000:1000::/home/massgen:/bin/sh\n"
_GROUP = "root:x:0:\nmassgen:x:1000:\n"


def docker_binary() -> str:
    """The docker CLI the tests drive: MGEXEC_DOCKER when set (podman, a wrapper), else `docker`, as mgexec does."""
    return os.environ.get("MGEXEC_DOCKER", "").strip() or "docker"


def docker_argv(*args: str) -> list[str]:
    """argv of one docker call, with the CLI the tests drive (never a hard-coded `docker`)."""
    return [docker_binary(), *args]


def docker_cli():
    """mgexec's gateway to the CLI the tests drive."""
    from mgexec.docker.engine import DockerCLI

    return DockerCLI(docker_binary())


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@functools.lru_cache(maxsize=1)
def engine_available() -> tuple[bool, str]:
    """(True, "") when `docker info` answers, else (False, why): checked once per test run."""
    docker = shutil.which(docker_binary())
    if docker is None:
        return False, "no docker CLI on PATH"
    try:
        out = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                             text=True, timeout=30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "`docker info` did not answer within 30 s"
    if out.returncode != 0 or not out.stdout.strip():
        return False, f"`docker info` failed: {out.stderr.strip()[:300]}"
    return True, ""


_ok, _why = engine_available()
# In CI the mark never skips: the test runs and require_engine() fails it with the reason.
requires_engine = pytest.mark.skipif(not _ok and not _in_ci(), reason=f"no Docker engine: {_why}")


def require_engine() -> None:
    """Skip the calling test without an engine, or fail it in CI."""
    ok, why = engine_available()
    if ok:
        return
    if _in_ci():
        pytest.fail(f"CI needs a running Docker engine for this test, but {why}.")
    pytest.skip(f"no Docker engine: {why}")


def require_docker_cli() -> str:
    """The docker CLI path (no engine needed); skips without one, fails in CI."""
    docker = shutil.which(docker_binary())
    if docker:
        return docker
    if _in_ci():
        pytest.fail(f"CI needs the docker CLI ({docker_binary()}) on PATH for this test.")
    pytest.skip(f"no docker CLI ({docker_binary()}) on PATH")


@functools.lru_cache(maxsize=1)
def ensure_test_image() -> str:
    """Tag of a tiny image (sh, bash, sleep, coreutils; user massgen 1000; CMD sleep infinity), built once."""
    require_engine()
    have = subprocess.run(docker_argv("image", "inspect", TEST_IMAGE), capture_output=True,
                          stdin=subprocess.DEVNULL)
    if have.returncode == 0:
        return TEST_IMAGE
    imported = subprocess.run(
        docker_argv("import", "-c", 'CMD ["sleep", "infinity"]', "-c", "WORKDIR /workspace", "-", TEST_IMAGE),
        input=_rootfs_tar(), capture_output=True, timeout=120)
    if imported.returncode != 0:
        pytest.fail(f"could not build {TEST_IMAGE}: {imported.stderr.decode(errors='replace')}")
    return TEST_IMAGE


def _rootfs_tar() -> bytes:
    files: dict[str, Path] = {}
    for tool in _TOOLS:
        found = shutil.which(tool)
        if found is None:
            raise RuntimeError(f"host tool {tool!r} missing; cannot build the test image")
        real = Path(found).resolve()
        files[f"bin/{tool}"] = real
        for lib in _shared_libs(real):
            files[lib.lstrip("/")] = Path(lib).resolve()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in ("tmp", "workspace", "home/massgen", "etc", "root", "proc", "sys", "dev"):
            _add_dir(tar, name, 0o1777 if name in ("tmp", "workspace") else 0o755,
                     1000 if name == "home/massgen" else 0)
        _add_text(tar, "etc/passwd", _PASSWD)
        _add_text(tar, "etc/group", _GROUP)
        for name, real in sorted(files.items()):
            tar.add(str(real), arcname=name, recursive=False)
    return buf.getvalue()


def _shared_libs(binary: Path) -> list[str]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    libs = []
    for line in out.stdout.splitlines():
        for word in line.split():
            if word.startswith("/"):
                libs.append(word)
    return libs


def _add_dir(tar: tarfile.TarFile, name: str, mode: int, owner: int) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, owner, owner
    tar.addfile(info)


def _add_text(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))
