"""The recorder: two throwaway images (the runtime image plus strace; /bin/sh is dash in one and
bash in the other) and batches of lines run in them under strace, one container per batch."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from dockermode import require_image
from dockerutil import _in_ci, docker_binary
from mgexec.config import DEFAULT_IMAGE

HERE = Path(__file__).resolve().parent
# Image key -> what /bin/sh points at in that image.
SH_TARGETS = {"dash": "dash", "bashsh": "bash"}
IMAGE = "mgexec-test/differential-{key}:latest"
RECIPE_LABEL = "io.mgexec.test.recipe"
BATCH_SIZE = 250
WORKERS = 4
LINE_TIMEOUT = 5.0
BUILD_TIMEOUT = 900


def image_name(key: str) -> str:
    return IMAGE.format(key=key)


def ensure_images() -> dict[str, str]:
    """Builds the images unless they exist for this Dockerfile and this runtime image: key -> tag.
    Skips without the runtime image locally; fails in CI."""
    require_image(DEFAULT_IMAGE)
    runtime_id = _docker("image", "inspect", "--format", "{{.Id}}", DEFAULT_IMAGE).stdout.strip()
    dockerfile = (HERE / "Dockerfile").read_bytes()
    tags = {}
    for key, target in SH_TARGETS.items():
        recipe = hashlib.sha256(dockerfile + runtime_id.encode() + target.encode()).hexdigest()[:16]
        tags[key] = image_name(key)
        have = _docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}',
                       tags[key], check=False)
        if have.returncode != 0 or have.stdout.strip() != recipe:
            _build(tags[key], target, recipe)
    return tags


def _build(tag: str, target: str, recipe: str) -> None:
    old = _docker("image", "inspect", "--format", "{{.Id}}", tag, check=False).stdout.strip()
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(HERE / "Dockerfile", context)
        built = _docker("build", "-q", "--network", "host", "--build-arg", f"RUNTIME={DEFAULT_IMAGE}",
                        "--build-arg", f"SH={target}", "--build-arg", f"RECIPE={recipe}",
                        "-t", tag, context, check=False, timeout=BUILD_TIMEOUT)
    if built.returncode != 0:
        why = (f"could not build the differential test image {tag} (it installs strace with "
               f"apt-get, which needs the Debian mirror): {built.stderr.strip()[-1500:]}")
        if _in_ci():
            pytest.fail(why)
        pytest.skip(why)
    if old:  # the stale image, now untagged
        _docker("image", "rm", old, check=False)


def record(image: str, lines: list[str]) -> list[dict]:
    """Runs each line as `bash -c LINE` under strace in `image`: one result dict per line, in order
    ({"trace", "rc", "timed_out", "truncated"})."""
    results: list[dict] = []
    for start in range(0, len(lines), BATCH_SIZE):
        results.extend(_run_batch(image, lines[start:start + BATCH_SIZE]))
    return results


def _run_batch(image: str, lines: list[str]) -> list[dict]:
    name = f"mgexec-test-differential-{uuid.uuid4().hex[:10]}"
    request = json.dumps({"lines": lines, "workers": WORKERS, "timeout": LINE_TIMEOUT})
    budget = 120 + len(lines) * (LINE_TIMEOUT + 2) / WORKERS
    try:
        done = subprocess.run(_run_argv(name, image), input=request, capture_output=True, text=True,
                              timeout=budget)
    except subprocess.TimeoutExpired:
        _docker("rm", "-f", name, check=False)
        raise AssertionError(f"the differential batch in {image} took more than {budget:.0f} s; "
                             "its container was removed") from None
    results = [json.loads(row) for row in done.stdout.splitlines() if row.strip()]
    if done.returncode != 0 or len(results) != len(lines):
        raise AssertionError(f"the differential driver in {image} failed (exit {done.returncode}, "
                             f"{len(results)} of {len(lines)} lines): {done.stderr.strip()[-2000:]}")
    return sorted(results, key=lambda r: r["i"])


def _run_argv(name: str, image: str) -> list[str]:
    """Nothing of the host is mounted; the root file system is read-only, so destructive lines
    only reach tmpfs mounts (limited in size) of a container that is removed afterwards."""
    driver = (HERE / "driver.py").read_text()
    return [docker_binary(), "run", "--rm", "-i", "--name", name, "--label", "io.mgexec.test=differential",
            "--network", "none", "--pids-limit", "128", "--memory", "512m",
            "--cap-add", "SYS_PTRACE", "--security-opt", "no-new-privileges", "--read-only",
            "--tmpfs", "/tmp:size=64m", "--tmpfs", "/var/tmp:size=16m",
            "--tmpfs", "/difftest:size=256m,mode=0755", "--user", "0",
            image, "python3", "-c", driver]


def _docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run([docker_binary(), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done
