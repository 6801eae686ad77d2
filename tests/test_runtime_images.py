"""The built runtime images keep the contract mgexec and MassGen configs rely on (the runtime image contract, see README "Images").

Needs the images from ./build.sh --bootstrap and ./build.sh --sudo: skipped locally without them,
failed in CI (which builds them first). Only the custom-image build needs a network (one file from PyPI).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from dockerutil import docker_binary, require_engine

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parent.parent
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
RUNTIME = "massgen/mcp-runtime:latest"
SUDO = "massgen/mcp-runtime-sudo:latest"


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([docker_binary(), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def require_image(image: str, build_hint: str) -> None:
    require_engine()
    if docker("image", "inspect", image).returncode == 0:
        return
    message = f"image {image} is missing; build it with {build_hint}"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def runtime() -> str:
    require_image(RUNTIME, "./build.sh --bootstrap")
    return RUNTIME


@pytest.fixture(scope="module")
def sudo_image() -> str:
    require_image(SUDO, "./build.sh --sudo --bootstrap")
    return SUDO


def run_in(image: str, script: str, *run_args: str) -> subprocess.CompletedProcess[str]:
    return docker("run", "--rm", "--network", "none", *run_args, image, "sh", "-c", script)


PROBE = r"""
echo "uid=$(id -u) gid=$(id -g) user=$(id -un) group=$(id -gn)"
echo "home=$HOME pwd=$(pwd)"
python --version
python -c 'import numpy, pandas, pytest, requests; print("imports=ok")'
pip --version >/dev/null && echo pip=ok
for tool in node npm gh rg git curl unzip gcc make ps pkill ssh tini; do
    command -v "$tool" >/dev/null || echo "missing=$tool"
done
stat -c 'dir=%n %U:%G' /workspace /context /temp_workspaces /home/massgen
"""


def test_runtime_user_tools_and_directories(runtime):
    out = run_in(runtime, PROBE)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "uid=1000 gid=1000 user=massgen group=massgen" in lines
    assert "home=/home/massgen pwd=/workspace" in lines
    assert any(line.startswith("Python 3.11.") for line in lines), out.stdout
    assert "imports=ok" in lines and "pip=ok" in lines
    assert [line for line in lines if line.startswith("missing=")] == []
    for path in ("/workspace", "/context", "/temp_workspaces", "/home/massgen"):
        assert f"dir={path} massgen:massgen" in lines


def test_runtime_metadata(runtime):
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", runtime).stdout)
    assert config["User"] == "massgen"
    assert config["WorkingDir"] == "/workspace"
    assert config["Cmd"] == ["tail", "-f", "/dev/null"]
    assert config["Labels"]["io.mgexec.image"] == "runtime"
    assert config["Labels"]["org.opencontainers.image.title"] == "mgexec runtime"
    # The build-time CA bundle must not follow the image around.
    assert not any(var.split("=", 1)[0] in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                                            "NODE_EXTRA_CA_CERTS") for var in config["Env"])
    assert run_in(runtime, "test ! -e /tmp/mgexec-build").returncode == 0


def make_wheel(folder: Path) -> Path:
    """A tiny pure-Python wheel with a console script: enough to prove `pip install --user` works."""
    files = {
        "mgexec_probe/__init__.py": b"def main():\n    print('probe ok')\n",
        "mgexec_probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: mgexec-probe\nVersion: 1.0\n",
        "mgexec_probe-1.0.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: mgexec-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "mgexec_probe-1.0.dist-info/entry_points.txt": b"[console_scripts]\nmgexec-probe = mgexec_probe:main\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("mgexec_probe-1.0.dist-info/RECORD,,")
    wheel = folder / "mgexec_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("mgexec_probe-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


def test_massgen_user_can_pip_install_without_sudo(runtime, tmp_path):
    """Debian's 'externally managed' marker is gone: user installs land in ~/.local and are on PATH."""
    wheels = tmp_path / "wheels"
    wheels.mkdir(mode=0o755)
    wheel = make_wheel(wheels)
    wheel.chmod(0o644)
    out = run_in(runtime, f"pip install --user --no-index /wheels/{wheel.name} && mgexec-probe",
                 "-v", f"{wheels}:/wheels:ro")
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith("probe ok")


def test_container_keeps_running_reaps_orphans_and_stops(runtime):
    name = f"mgexec-imgtest-{uuid.uuid4().hex[:8]}"
    started = docker("run", "-d", "--rm", "--network", "none", "--name", name,
                     "--label", "io.mgexec.test=runtime-images", runtime)
    assert started.returncode == 0, started.stderr
    try:
        assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"
        # An orphan is re-parented to PID 1; tini must reap it (tail would leave a zombie).
        assert docker("exec", name, "sh", "-c", "(sleep 0.2 &) ; true").returncode == 0
        zombies = "?"
        for _ in range(50):
            zombies = docker("exec", name, "sh", "-c", "ps -eo stat= | grep -c '^Z' || true").stdout.strip()
            if zombies == "0":
                break
            time.sleep(0.1)
        assert zombies == "0"
        assert docker("exec", name, "ps", "-o", "comm=", "-p", "1").stdout.strip() == "tini"
    finally:
        stopped = docker("stop", "-t", "10", name)
    assert stopped.returncode == 0, stopped.stderr


def test_sudo_variant_grants_passwordless_root(sudo_image):
    out = run_in(sudo_image, "id -un; sudo -n true && sudo -n id -u; pwd")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["massgen", "0", "/workspace"]
    labels = json.loads(docker("image", "inspect", "-f", "{{json .Config.Labels}}", sudo_image).stdout)
    assert labels["io.mgexec.image"] == "runtime-sudo"


def test_runtime_has_no_sudo(runtime):
    assert run_in(runtime, "command -v sudo").returncode != 0


# The anchor is the Dockerfile itself and the ignore file admits nothing else: build.sh must still
# get the bundle to the RUN step, where pip needs it behind a TLS-intercepting proxy.
CUSTOM_DOCKERFILE = """FROM massgen/mcp-runtime:latest
USER root
COPY Dockerfile mgexec-build-ca.cr[t] /tmp/mgexec-build/
RUN set -eu; ca=/tmp/mgexec-build/mgexec-build-ca.crt; test -s "$ca"; \\
    PIP_CERT="$ca" pip download --no-cache-dir --no-deps -d /tmp/x six==1.16.0; rm -rf /tmp/x
RUN rm -rf /tmp/mgexec-build
USER massgen
"""


def test_custom_image_through_build_script_gets_the_ca_bundle_only_while_building(runtime, tmp_path):
    if not HOST_CA.is_file():
        pytest.skip(f"no host CA bundle at {HOST_CA} for build.sh's default")
    (tmp_path / "Dockerfile").write_text(CUSTOM_DOCKERFILE)
    (tmp_path / ".dockerignore").write_text("*\n!Dockerfile\n")
    image = f"mgexec-test/custom-ca:{uuid.uuid4().hex[:8]}"
    name, tag = image.split(":")
    try:
        build = subprocess.run(["bash", str(ROOT / "build.sh"), "--file", str(tmp_path / "Dockerfile"), "-n", name,
                                "-t", tag, "--no-cache"], capture_output=True, text=True, timeout=900,
                               stdin=subprocess.DEVNULL)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        assert "six-1.16.0-py2.py3-none-any.whl" in build.stdout
        config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", image).stdout)
        assert config["User"] == "massgen" and config["Labels"]["io.mgexec.image"] == "custom"
        assert not any(var.split("=", 1)[0] in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                                                "NODE_EXTRA_CA_CERTS") for var in config["Env"])
        found = run_in(image, "find / -xdev -name 'mgexec-build*' 2>/dev/null; id -un", "--user", "root")
        assert found.stdout.split() == ["root"], found.stdout
    finally:
        docker("image", "rm", image)
    assert not (tmp_path / "mgexec-build-ca.crt").exists()
