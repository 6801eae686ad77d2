"""build.sh and .ci/engine.sh as a user meets them: help, bad options, missing CLI, unreachable engine.

Nothing here builds an image (--file runs against a fake CLI that records its builds); the images
themselves are checked in test_runtime_images.py.
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
                   "MGEXEC_CA_BUNDLE", "MGEXEC_DOCKER", "massgen/mcp-runtime", "-f, --file DOCKERFILE",
                   "--massgen-names", "ghcr.io/massgen/mcp-runtime-sudo",
                   "required with --file", "mgexec-build-ca.cr[t]",
                   "build.sh --file dockerfiles/Dockerfile.custom-example -n my-org/mcp-runtime-custom -t latest"):
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
    (["--file"], "option --file needs a value"),
    (["-n", "my-org/rt", "-f"], "option -f needs a value"),
    (["--file="], "option --file needs a value"),
    (["--file", "Dockerfile"], "--file needs -n NAME"),
    (["--file", "Dockerfile", "--sudo", "-n", "my-org/rt"], "--sudo and --file both say what to build"),
    (["-f", "Dockerfile", "-n", "massgen/mcp-runtime"], "would replace the runtime image your Dockerfile builds on"),
    (["-f", "Dockerfile", "-n", "massgen/mcp-runtime-sudo"], "would replace the runtime image"),
    (["--massgen-names", "-f", "Dockerfile", "-n", "my-org/rt"], "--massgen-names tags the runtime images"),
    (["--massgen-names", "-n", "my-org/rt"], "it does not apply to --file or -n NAME"),
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


def test_missing_dockerfile_is_explained_before_docker_is_needed(tmp_path):
    out = run([str(BUILD_SH), "--file", str(tmp_path / "Dockerfile.nope"), "-n", "my-org/rt"],
              MGEXEC_DOCKER=str(tmp_path / "no-docker"))
    assert out.returncode == 1
    assert f"the Dockerfile '{tmp_path / 'Dockerfile.nope'}' (from --file) is not a readable file" in out.stderr
    assert "dockerfiles/Dockerfile.custom-example" in out.stderr
    assert out.stderr.count("\n") == 1 and out.stdout == ""


def test_folder_given_as_dockerfile_is_explained(tmp_path):
    out = run([str(BUILD_SH), f"--file={tmp_path}", "-n", "my-org/rt"], MGEXEC_DOCKER=str(tmp_path / "no-docker"))
    assert out.returncode == 1
    assert f"--file '{tmp_path}' is a folder; give the Dockerfile itself" in out.stderr


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


# A docker CLI that knows the images listed in STATE/images and records each build: its argv and a
# copy of its context, taken while build.sh's temporary context still exists.
FAKE_DOCKER = r"""#!/usr/bin/env bash
state=$FAKE_DOCKER_STATE
case $1 in
    --version) echo "Docker version 28.0.0, fake"; exit 0 ;;
    info) exit 0 ;;
    buildx) exit 1 ;;
    tag) grep -qxF "$2" "$state/images" || exit 1; echo "$3" >>"$state/images"; echo "$2 $3" >>"$state/tags"; exit 0 ;;
    image)
        name=${!#}
        [[ $2 == inspect ]] && grep -qxF "$name" "$state/images" || exit 1
        case $* in *'{{.Size}}'*) echo 1000000 ;; *'{{.Id}}'*) echo "sha256:$name" ;; esac
        exit 0 ;;
    build)
        n=$(cat "$state/count" 2>/dev/null || echo 0); echo $((n + 1)) >"$state/count"
        mkdir "$state/build$n"; printf '%s\n' "$@" >"$state/build$n/argv"
        cp -a "${!#}" "$state/build$n/context"
        while (($#)); do if [[ $1 == -t ]]; then echo "$2" >>"$state/images"; fi; shift; done
        exit 0 ;;
esac
echo "fake docker: unexpected $*" >&2
exit 3
"""

PEM = "-----BEGIN CERTIFICATE-----\nMIIfake\n-----END CERTIFICATE-----\n"


class FakeEngine:
    def __init__(self, root: Path, images: list[str]):
        self.state = root / "engine"
        self.state.mkdir()
        (self.state / "images").write_text("".join(f"{i}\n" for i in images))
        self.cli = root / "docker"
        self.cli.write_text(FAKE_DOCKER)
        self.cli.chmod(0o755)
        self.tmpdir = root / "tmp"
        self.tmpdir.mkdir()

    def build_sh(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "MGEXEC_CA_BUNDLE")}
        env.update(MGEXEC_DOCKER=str(self.cli), FAKE_DOCKER_STATE=str(self.state), TMPDIR=str(self.tmpdir))
        return subprocess.run(["bash", str(BUILD_SH), *args], capture_output=True, text=True, env=env, cwd=cwd,
                              timeout=120, stdin=subprocess.DEVNULL)

    def builds(self) -> list[tuple[list[str], Path]]:
        """(argv after `build`, copy of the context) for each build, in order."""
        count = int((self.state / "count").read_text()) if (self.state / "count").exists() else 0
        return [((self.state / f"build{n}" / "argv").read_text().splitlines(), self.state / f"build{n}" / "context")
                for n in range(count)]


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == name]


def test_file_build_copies_the_folder_and_adds_the_bundle(tmp_path):
    engine = FakeEngine(tmp_path, ["massgen/mcp-runtime:latest"])
    project = tmp_path / "project"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM massgen/mcp-runtime:latest\nCOPY Dockerfile mgexec-build-ca.cr[t] /x/\n")
    (project / ".dockerignore").write_text("*\n!Dockerfile")  # no final newline: the appended rule must not join it
    (project / "data.txt").write_text("kept\n")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(PEM)
    out = engine.build_sh("--file", "project/Dockerfile", "-n", "my-org/custom", "-t", "v1", "--ca-bundle", str(bundle),
                          cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "using runtime image massgen/mcp-runtime:latest" in out.stdout
    [(argv, context)] = engine.builds()
    assert argv[0] == "build" and option(argv, "--network") == ["host"] and option(argv, "-t") == ["my-org/custom:v1"]
    assert "io.mgexec.image=custom" in option(argv, "--label")
    # The Dockerfile is the copy's, so the copy's ignore file applies.
    assert option(argv, "-f") == [f"{argv[-1]}/Dockerfile"]
    assert sorted(p.name for p in context.iterdir()) == [".dockerignore", "Dockerfile", "data.txt", "mgexec-build-ca.crt"]
    assert (context / "mgexec-build-ca.crt").read_text() == PEM
    assert (context / ".dockerignore").read_text().splitlines() == ["*", "!Dockerfile", "!mgexec-build-ca.crt"]
    # The user's folder is untouched and the temporary context is gone.
    assert (project / ".dockerignore").read_text() == "*\n!Dockerfile"
    assert sorted(p.name for p in project.iterdir()) == [".dockerignore", "Dockerfile", "data.txt"]
    assert list(engine.tmpdir.iterdir()) == []


def test_file_build_makes_missing_runtime_images_first(tmp_path):
    """A FROM through an ARG default names the sudo image of tag v2: runtime, then sudo, then the user's image."""
    engine = FakeEngine(tmp_path, ["debian:12"])
    (tmp_path / "Dockerfile.mine").write_text("ARG RT=massgen/mcp-runtime-sudo:v2\nFROM ${RT} AS base\nFROM base\n")
    out = engine.build_sh("-f", "Dockerfile.mine", "-n", "my-org/custom", "--base", "debian:12", "--ca-bundle", "none",
                          cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    builds = engine.builds()
    assert [option(argv, "-t") for argv, _ in builds] == [
        ["massgen/mcp-runtime:v2"], ["massgen/mcp-runtime-sudo:v2"], ["my-org/custom:latest"]]
    assert "BASE=debian:12" in option(builds[0][0], "--build-arg")
    assert "RUNTIME_IMAGE=massgen/mcp-runtime:v2" in option(builds[1][0], "--build-arg")
    # Without a bundle there is nothing to add: the Dockerfile's folder is the context itself.
    custom = builds[2][0]
    assert custom[-1] == str(tmp_path.resolve()) and option(custom, "-f") == [str(tmp_path.resolve() / "Dockerfile.mine")]
    assert not (builds[2][1] / "mgexec-build-ca.crt").exists()


def test_file_build_failure_names_the_context(tmp_path):
    engine = FakeEngine(tmp_path, ["massgen/mcp-runtime:latest"])
    engine.cli.write_text(FAKE_DOCKER.replace("    build)\n", "    build)\n        exit 1\n"))
    (tmp_path / "Dockerfile").write_text("FROM massgen/mcp-runtime:latest\n")
    out = engine.build_sh("-f", "Dockerfile", "-n", "my-org/custom", "--ca-bundle", "none", cwd=tmp_path)
    assert out.returncode == 1
    assert "building my-org/custom:latest failed" in out.stderr
    assert f"the build context is the Dockerfile's folder {tmp_path.resolve()}" in out.stderr
    assert out.stderr.count("\n") == 1


@pytest.mark.parametrize("args, built, alias", [
    ((), "massgen/mcp-runtime:latest", "ghcr.io/massgen/mcp-runtime:latest"),
    (("--sudo", "-t", "v3"), "massgen/mcp-runtime-sudo:v3", "ghcr.io/massgen/mcp-runtime-sudo:v3"),
])
def test_massgen_names_tag_the_built_image(tmp_path, args, built, alias):
    engine = FakeEngine(tmp_path, ["debian:12"])
    out = engine.build_sh("--massgen-names", "--base", "debian:12", "--ca-bundle", "none", *args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (engine.state / "tags").read_text() == f"{built} {alias}\n"
    assert f"tagged {built} as {alias}" in out.stdout


def test_without_massgen_names_nothing_is_tagged(tmp_path):
    engine = FakeEngine(tmp_path, ["debian:12"])
    assert engine.build_sh("--base", "debian:12", "--ca-bundle", "none", cwd=tmp_path).returncode == 0
    assert not (engine.state / "tags").exists()


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
