"""build.sh and .ci/engine.sh as a user meets them: help, bad options, missing CLI, unreachable engine.

Nothing here builds an image; the images themselves are checked in test_runtime_images.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dockerutil import require_docker_cli, requires_engine

ROOT = Path(__file__).resolve().parent.parent
BUILD_SH = ROOT / "dockerfiles" / "build.sh"
WRAPPER = ROOT / "build.sh"
ENGINE_SH = ROOT / ".ci" / "engine.sh"


def run(argv: list[str], **env_overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MGEXEC_DOCKER", "DOCKER_HOST", "DOCKER_CONTEXT")}
    env.update(env_overrides)
    return subprocess.run(["bash", *argv], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("script", [BUILD_SH, WRAPPER], ids=["dockerfiles/build.sh", "wrapper"])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_lists_every_option(script, flag):
    out = run([str(script), flag])
    assert out.returncode == 0, out.stderr
    for option in ("--sudo", "--tag", "--name", "--base", "--bootstrap", "--rebuild-base", "--ca-bundle",
                   "MGEXEC_CA_BUNDLE", "MGEXEC_DOCKER", "massgen/mcp-runtime"):
        assert option in out.stdout
    assert out.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["extra-positional"], "unknown option 'extra-positional'"),
    (["-t"], "option -t needs a value"),
    (["--tag="], "option --tag needs a value"),
    (["--sudo", "--name"], "option --name needs a value"),
    (["--base", "debian:12", "--bootstrap"], "--base and --bootstrap (or --rebuild-base) both choose"),
    (["--rebuild-base", "--base=debian:12"], "--base and --bootstrap (or --rebuild-base) both choose"),
    (["-t", "v1:2"], "'v1:2' is not a valid image tag"),
    (["--name", "My/Image"], "'My/Image' is not a valid image name"),
    (["-n", "runtime:v2"], "give the tag with -t"),
])
def test_bad_options_exit_2_with_one_clear_line(args, message):
    out = run([str(BUILD_SH), *args])
    assert out.returncode == 2
    assert message in out.stderr
    assert 'Run "build.sh -h"' in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("name", ["my-org/agent_runtime", "localhost:5000/team/rt", "registry.example.com/rt"])
def test_valid_names_pass_validation(tmp_path, name):
    """They get past option checks and stop at the (missing) CLI instead."""
    out = run([str(BUILD_SH), "-n", name, "-t", "v1.2_rc-1"], MGEXEC_DOCKER=str(tmp_path / "no-docker"))
    assert out.returncode == 1
    assert "was not found" in out.stderr


def test_unreadable_ca_bundle_is_explained(tmp_path):
    out = run([str(BUILD_SH), "--ca-bundle", str(tmp_path / "missing.pem")])
    assert out.returncode == 1
    assert "is not a readable file" in out.stderr and "'none'" in out.stderr


def test_ca_bundle_without_certificates_is_refused_via_env(tmp_path):
    bogus = tmp_path / "bundle.pem"
    bogus.write_text("not a certificate\n")
    out = run([str(BUILD_SH)], MGEXEC_CA_BUNDLE=str(bogus))
    assert out.returncode == 1
    assert "holds no PEM certificate" in out.stderr


def test_missing_cli_names_the_fix(tmp_path):
    out = run([str(BUILD_SH)], MGEXEC_DOCKER=str(tmp_path / "no-such-docker"))
    assert out.returncode == 1
    assert f"the container CLI '{tmp_path / 'no-such-docker'}' was not found" in out.stderr
    assert "apt-get install docker.io" in out.stderr and "MGEXEC_DOCKER" in out.stderr
    assert out.stderr.count("\n") == 1


def test_unreachable_daemon_names_the_fix():
    docker = require_docker_cli()
    out = run([str(BUILD_SH), "--sudo"], MGEXEC_DOCKER=docker, DOCKER_HOST="unix:///nonexistent.sock")
    assert out.returncode == 1
    assert "cannot reach the container engine at DOCKER_HOST=unix:///nonexistent.sock" in out.stderr
    assert "Cannot connect to the Docker daemon" in out.stderr  # the CLI's own words are kept
    assert "Start the daemon" in out.stderr
    assert out.stderr.count("\n") == 1


def test_permission_denied_is_told_apart(tmp_path):
    """A fake CLI that fails like docker does for a user outside the docker group."""
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'permission denied while trying to connect to the Docker daemon socket "
                    "at unix:///var/run/docker.sock' >&2\nexit 1\n")
    fake.chmod(0o755)
    out = run([str(BUILD_SH)], MGEXEC_DOCKER=str(fake))
    assert out.returncode == 1
    assert "permission denied" in out.stderr and "docker group" in out.stderr


@requires_engine
def test_bootstrap_without_debootstrap_says_what_to_install():
    """--rebuild-base checks its tools before touching anything (debootstrap lives in /usr/sbin)."""
    docker = require_docker_cli()
    path = ":".join(p for p in ("/usr/local/bin", "/usr/bin", "/bin")
                    if not (Path(p) / "debootstrap").exists())
    out = run([str(BUILD_SH), "--rebuild-base"], MGEXEC_DOCKER=docker, PATH=path)
    assert out.returncode == 1
    assert "debootstrap, which is not installed" in out.stderr
    assert "apt-get install debootstrap" in out.stderr and "--base IMAGE" in out.stderr


def test_engine_script_rejects_unknown_action():
    out = run([str(ENGINE_SH), "restart"])
    assert out.returncode == 1
    assert "usage: bash .ci/engine.sh start|stop" in out.stderr


def test_engine_stop_without_a_recorded_daemon_does_nothing(tmp_path):
    out = run([str(ENGINE_SH), "stop"], MGEXEC_CI_ENGINE_STATE=str(tmp_path))
    assert out.returncode == 0
    assert "nothing to stop" in out.stdout


def test_engine_stop_never_kills_a_process_that_is_not_its_dockerd(tmp_path):
    """A stale pid file whose pid now belongs to another program (pid reuse) must not get that program killed."""
    bystander = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)
    try:
        (tmp_path / "dockerd.pid").write_text(f"{bystander.pid}\n")
        out = run([str(ENGINE_SH), "stop"], MGEXEC_CI_ENGINE_STATE=str(tmp_path))
        assert out.returncode == 0
        assert "nothing to stop" in out.stdout
        assert bystander.poll() is None
        assert not (tmp_path / "dockerd.pid").exists()
    finally:
        bystander.kill()
        bystander.wait()


@pytest.mark.parametrize("script", [BUILD_SH, WRAPPER, ENGINE_SH], ids=lambda p: p.name)
def test_shellcheck_clean(script):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    out = subprocess.run([shellcheck, "-x", str(script)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout
