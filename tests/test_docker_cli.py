"""DockerCLI and error mapping: real stderr samples, a real docker CLI without a daemon, a podman-like
wrapper script, and (marked docker) the whole container lifecycle against the real engine.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from dockerutil import ensure_test_image, require_docker_cli, require_engine, requires_engine
from mgexec.docker.argv import (ContainerSpec, ExecSpec, Mount, build_exec_argv, build_image_inspect_argv,
                                build_inspect_argv, build_ps_argv, build_rm_argv, build_run_argv)
from mgexec.docker.engine import (DockerCLI, EngineInfo, map_docker_error, parse_version_output, resolve_binary)
from mgexec.errors import (ContainerConflict, DockerError, DockerTimeout, DockerUnavailable, ExecTimeout,
                           ImageNotFound, MgexecError, NoSuchContainer)


@pytest.mark.parametrize("config, environ, expected", [
    (None, {}, "docker"),
    (None, {"MGEXEC_DOCKER": "podman"}, "podman"),
    ("/opt/bin/docker", {"MGEXEC_DOCKER": "podman"}, "/opt/bin/docker"),
    ("  ", {"MGEXEC_DOCKER": " /usr/bin/podman "}, "/usr/bin/podman"),
    ("", {"MGEXEC_DOCKER": ""}, "docker"),
])
def test_resolve_binary(config, environ, expected):
    assert resolve_binary(config, environ) == expected


# --- map_docker_error over real stderr --------------------------------------------------------------

D = ["docker"]
# docker CLI 28.2 against engine 20.10 (captured on this project's machine)
D28_CONFLICT = ('docker: Error response from daemon: Conflict. The container name "/sampx" is already in use by '
                'container "97c4f1194890999bd8380c48dc714a60937ae9c659e8d0555c9cbcddaefc0061". You have to '
                "remove (or rename) that container to be able to reuse that name.\n\n"
                "Run 'docker run --help' for more information\n")
D28_EXEC_MISSING = "Error response from daemon: No such container: nosuchc\n"
D28_INSPECT_MISSING = "Error: No such object: nosuchc\n"
D28_KILL_MISSING = "Error response from daemon: Cannot kill container: nosuchc: No such container: nosuchc\n"
D28_IMAGE_INSPECT = "Error response from daemon: no such image: nosuchimg:1: No such image: nosuchimg:1\n"
D28_RUN_PULL_NEVER = ("docker: Error response from daemon: No such image: nosuchimg:1\n\n"
                      "Run 'docker run --help' for more information\n")
D28_RUN_NO_REGISTRY = ("Unable to find image 'nosuchimg:1' locally\ndocker: Error response from daemon: Get "
                       '"https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
                       "10.255.255.53:53: no such host\n\nRun 'docker run --help' for more information\n")
D28_NO_DAEMON = "Cannot connect to the Docker daemon at unix:///nonexistent.sock. Is the docker daemon running?\n"
D28_NO_CONTEXT = ('Failed to initialize: unable to resolve docker endpoint: context "nosuch": context not found: '
                  "open /root/.docker/contexts/meta/9e62f93e/meta.json: no such file or directory\n")
D28_BAD_CMD = ('docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc '
               'create failed: unable to start container process: exec: "nosuchcmd": executable file not found '
               "in $PATH: unknown\n\nRun 'docker run --help' for more information\n")
D28_BAD_FLAG = ("unknown flag: --badflag\n\nUsage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                "Run 'docker run --help' for more information\n")
# docker CLI 20.10
D20_EXEC_MISSING = "Error: No such container: massgen-a1\n"
D20_PULL_DENIED = ("Unable to find image 'massgen/mcp-runtime:latest' locally\ndocker: Error response from "
                   "daemon: pull access denied for massgen/mcp-runtime, repository does not exist or may require "
                   "'docker login': denied: requested access to the resource is denied.\n"
                   "See 'docker run --help'.\n")
D20_PERMISSION = ("Got permission denied while trying to connect to the Docker daemon socket at "
                  'unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.24/containers/json": '
                  "dial unix /var/run/docker.sock: connect: permission denied\n")
D20_WINDOWS = ("error during connect: This error may indicate that the docker daemon is not running.: Get "
               '"http://%2F%2F.%2Fpipe%2Fdocker_engine/v1.24/containers/json": open //./pipe/docker_engine: '
               "The system cannot find the file specified.\n")
# newer docker CLIs word a missing daemon differently
D29_NO_DAEMON = ("failed to connect to the docker API at unix:///var/run/docker.sock; check if the path is "
                 "correct and if the daemon is running: dial unix /var/run/docker.sock: connect: no such file "
                 "or directory\n")
# podman 4.x (through podman-docker's `docker`, which first prints its emulation note)
EMULATE = "Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\n"
P_EXEC_MISSING = EMULATE + 'Error: no container with name or ID "nosuchc" found: no such container\n'
P_CONFLICT = (EMULATE + 'Error: creating container storage: the container name "sampx" is already in use by '
              "4f0c1bd2e8a1. You have to remove that container to be able to reuse that name: that name is "
              "already in use\n")
P_IMAGE_UNKNOWN = EMULATE + "Error: nosuchimg:1: image not known\n"
P_PULL_FAILED = ('Resolving "mcp-runtime" using unqualified-search registries (/etc/containers/registries.conf)\n'
                 "Trying to pull docker.io/massgen/mcp-runtime-sudo:latest...\nError: initializing source "
                 "docker://massgen/mcp-runtime-sudo:latest: reading manifest latest in "
                 "docker.io/massgen/mcp-runtime-sudo: requested access to the resource is denied\n")
P_NO_SOCKET = ("Cannot connect to Podman. Please verify your connection to the Linux system using `podman system "
               "connection list`, or try `podman machine init` and `podman machine start` to manage a new Linux "
               "VM\nError: unable to connect to Podman socket: Get \"http://d/v4.3.1/libpod/_ping\": dial unix "
               "///run/user/1000/podman/podman.sock: connect: no such file or directory\n")

MAP_CASES = [
    # argv, stderr, expected class, words the message must contain
    (D + ["run", "-d", "--name", "sampx", "i"], D28_CONFLICT, ContainerConflict, ["`sampx`", "docker rm -f sampx"]),
    (D + ["exec", "nosuchc", "true"], D28_EXEC_MISSING, NoSuchContainer, ["`nosuchc`", "docker ps -a"]),
    (D + ["inspect", "nosuchc"], D28_INSPECT_MISSING, NoSuchContainer, ["`nosuchc`"]),
    (D + ["kill", "nosuchc"], D28_KILL_MISSING, NoSuchContainer, ["`nosuchc`"]),
    (D + ["image", "inspect", "nosuchimg:1"], D28_IMAGE_INSPECT, ImageNotFound,
     ["`nosuchimg:1`", "docker pull nosuchimg:1", "docker build -t nosuchimg:1"]),
    (D + ["inspect", "--type", "image", "nosuchimg:1"], D28_INSPECT_MISSING.replace("nosuchc", "nosuchimg:1"),
     ImageNotFound, ["`nosuchimg:1`"]),
    (D + ["run", "--pull", "never", "nosuchimg:1"], D28_RUN_PULL_NEVER, ImageNotFound, ["`nosuchimg:1`"]),
    (D + ["run", "-d", "nosuchimg:1"], D28_RUN_NO_REGISTRY, ImageNotFound, ["`nosuchimg:1`", "no such host"]),
    (D + ["ps"], D28_NO_DAEMON, DockerUnavailable, ["unix:///nonexistent.sock", "systemctl start docker",
                                                     "docker group", "DOCKER_HOST", "docker context ls"]),
    (D + ["--context", "nosuch", "ps"], D28_NO_CONTEXT, DockerUnavailable, ["`nosuch`", "docker context ls"]),
    (D + ["run", "-d", "i", "nosuchcmd"], D28_BAD_CMD, DockerError, ["`docker run`", "exit code 125",
                                                                     "executable file not found"]),
    (D + ["--context", "x", "run", "--badflag"], D28_BAD_FLAG, DockerError, ["`docker run`", "unknown flag"]),
    (D + ["exec", "massgen-a1", "true"], D20_EXEC_MISSING, NoSuchContainer, ["`massgen-a1`"]),
    (D + ["run", "-d", "massgen/mcp-runtime:latest"], D20_PULL_DENIED, ImageNotFound,
     ["`massgen/mcp-runtime:latest`", "mgexec build`", "./build.sh`"]),
    (D + ["ps"], D20_PERMISSION, DockerUnavailable, ["permission denied", "usermod -aG docker"]),
    (D + ["ps"], D20_WINDOWS, DockerUnavailable, ["docker_engine"]),
    (D + ["ps"], D29_NO_DAEMON, DockerUnavailable, ["failed to connect to the docker API"]),
    (D + ["exec", "nosuchc", "true"], P_EXEC_MISSING, NoSuchContainer, ["`nosuchc`"]),
    (D + ["run", "-d", "--name", "sampx", "i"], P_CONFLICT, ContainerConflict, ["`sampx`"]),
    (D + ["run", "--pull", "never", "nosuchimg:1"], P_IMAGE_UNKNOWN, ImageNotFound, ["`nosuchimg:1`"]),
    (["podman", "image", "inspect", "nosuchimg:1"], P_IMAGE_UNKNOWN, ImageNotFound, ["podman pull nosuchimg:1"]),
    (["podman", "run", "massgen/mcp-runtime-sudo"], P_PULL_FAILED, ImageNotFound,
     ["massgen/mcp-runtime-sudo:latest`", "mgexec build --sudo`", "./build.sh --sudo`"]),
    (D + ["ps"], P_NO_SOCKET, DockerUnavailable, ["unable to connect to Podman socket"]),
]


@pytest.mark.parametrize("argv, stderr, cls, words", MAP_CASES)
def test_map_docker_error(argv, stderr, cls, words):
    err = map_docker_error(argv, 125, "", stderr)
    assert type(err) is cls
    message = str(err)
    for word in words:
        assert word in message, (word, message)
    assert "\n" not in message and "Emulate Docker CLI" not in message and "--help'" not in message
    assert err.argv == argv and err.exit_code == 125 and err.stderr == stderr
    assert isinstance(err, MgexecError)


def test_image_name_from_the_caller_wins_and_plain_images_get_pull_or_build():
    err = map_docker_error(D + ["run", "x"], 125, "", "Error: image not known\n", image="massgen/mcp-runtime")
    assert "`massgen/mcp-runtime`" in str(err) and "`mgexec build`" in str(err)
    assert "--sudo" not in str(err)


def test_long_stderr_is_trimmed():
    err = map_docker_error(D + ["run", "x"], 1, "", "boom " * 1000)
    assert len(str(err)) < 1000 and str(err).count("boom") < 200


def test_empty_stderr_still_says_something():
    assert "printed no error message" in str(map_docker_error(D + ["ps"], 3, "", ""))


PODMAN_VERSION_JSON = json.dumps({
    "Client": {"APIVersion": "4.3.1", "Version": "4.3.1", "GoVersion": "go1.19.8", "OsArch": "linux/arm64",
               "Os": "linux"},
    "Server": {"APIVersion": "4.3.1", "Version": "4.3.1", "GoVersion": "go1.19.8", "OsArch": "linux/arm64",
               "Os": "linux"}})
DOCKER_ON_PODMAN_JSON = json.dumps({
    "Client": {"Version": "28.2.2", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64", "Context": "default"},
    "Server": {"Platform": {"Name": "linux/amd64/debian-12"},
               "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}],
               "Version": "4.3.1", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64"}})


@pytest.mark.parametrize("stdout, stderr, expected", [
    ('{"Client":{"Version":"28.2.2","ApiVersion":"1.41","Os":"linux","Arch":"amd64","Context":"default"},'
     '"Server":{"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1"}],"Version":"20.10.24+dfsg1",'
     '"ApiVersion":"1.41","Os":"linux","Arch":"amd64"}}',
     "", EngineInfo("28.2.2", "20.10.24+dfsg1", "1.41", "linux", "amd64", False, "default")),
    (PODMAN_VERSION_JSON, EMULATE, EngineInfo("4.3.1", "4.3.1", "4.3.1", "linux", "arm64", True, None)),
    (DOCKER_ON_PODMAN_JSON, "", EngineInfo("28.2.2", "4.3.1", "1.41", "linux", "amd64", True, "default")),
])
def test_parse_version_output(stdout, stderr, expected):
    assert parse_version_output(stdout, stderr) == expected


# --- real runs of a docker CLI that cannot reach anything -----------------------------------------------

async def test_missing_binary_is_docker_unavailable_with_install_hint(tmp_path):
    for binary in ("mgexec-no-such-docker", str(tmp_path / "docker")):
        with pytest.raises(DockerUnavailable) as info:
            await DockerCLI(binary=binary).run(["ps"])
        assert f"`{binary}`" in str(info.value) and "MGEXEC_DOCKER" in str(info.value)
        assert "command_line_docker_binary" in str(info.value) and "podman-docker" in str(info.value)
        assert info.value.argv == [binary, "ps"]


async def test_non_executable_binary_is_docker_unavailable(tmp_path):
    binary = tmp_path / "docker"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o644)
    with pytest.raises(DockerUnavailable, match="could not be started"):
        await DockerCLI(binary=str(binary)).run(["ps"])


async def test_unreachable_daemon_via_client_env_is_docker_unavailable():
    require_docker_cli()
    cli = DockerCLI(env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    with pytest.raises(DockerUnavailable, match="nonexistent.sock") as info:
        await cli.run(["ps"])
    assert info.value.exit_code not in (0, None)
    with pytest.raises(DockerUnavailable):
        await cli.probe()


async def test_docker_host_from_the_environment_is_honoured(monkeypatch):
    require_docker_cli()
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    with pytest.raises(DockerUnavailable, match="nonexistent.sock"):
        await DockerCLI().run(["version"])


async def test_missing_context_is_docker_unavailable():
    require_docker_cli()
    with pytest.raises(DockerUnavailable, match="docker context ls"):
        await DockerCLI(context=f"mgexec-no-such-{uuid.uuid4().hex[:6]}").run(["ps"])


# --- a podman-like `docker` wrapper proves what reaches the binary ------------------------------------

FAKE = r"""#!/bin/sh
: > "{rec}"
for a in "$@"; do printf '%s\0' "$a" >> "{rec}"; done
printf '%s' "${{MG_SECRET-unset}}" > "{rec}.secret"
printf 'Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\n' >&2
case "${{FAKE_MODE-ok}}" in
  ok) echo fine; exit 0 ;;
  version) printf '%s\n' '{version}'; exit 0 ;;
  conflict) echo 'Error: creating container storage: the container name "massgen-a1" is already in use by abc. You have to remove that container to be able to reuse that name: that name is already in use' >&2; exit 125 ;;
  nocontainer) echo 'Error: no container with name or ID "massgen-a1" found: no such container' >&2; exit 125 ;;
  noimage) echo 'Error: massgen/mcp-runtime:latest: image not known' >&2; exit 125 ;;
  nosocket) echo 'Error: unable to connect to Podman socket: dial unix /run/podman/podman.sock: connect: no such file or directory' >&2; exit 125 ;;
  other) echo 'Error: crun: setrlimit RLIMIT_NPROC: Operation not permitted' >&2; exit 126 ;;
  slow) exec sleep 30 ;;
esac
"""


@pytest.fixture
def fake_docker(tmp_path):
    """A `docker` script that records its argv (NUL-separated) and answers like podman-docker."""
    rec = tmp_path / "argv"
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text(FAKE.format(rec=rec, version=PODMAN_VERSION_JSON))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)

    def recorded() -> list[str]:
        return [a.decode() for a in rec.read_bytes().split(b"\0")[:-1]]

    return script, recorded, Path(f"{rec}.secret")


TRICKY = ["run", "-d", "--label", "note=a b 'c' \"d\" $HOME `x`", "--mount",
          'type=bind,"source=/a,b",target=/c', "", "line1\nline2", "ünï", "--", "-e"]


async def test_global_args_and_argv_reach_the_binary_unchanged(fake_docker):
    script, recorded, _ = fake_docker
    out = await DockerCLI(binary=str(script), context="remote-ctx").run(TRICKY)
    assert out.exit_code == 0 and out.stdout == "fine\n"
    assert recorded() == ["--context", "remote-ctx", *TRICKY]


async def test_a_name_on_path_is_found_through_path(fake_docker, monkeypatch):
    script, recorded, _ = fake_docker
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    await DockerCLI(binary="docker").run(["ps"])
    assert recorded() == ["ps"]


async def test_secret_env_reaches_the_client_but_not_argv_repr_or_errors(fake_docker):
    script, recorded, secret_file = fake_docker
    cli = DockerCLI(binary=str(script), env={"MG_SECRET": "s3cr3t-value"})
    await cli.run(build_exec_argv(ExecSpec("massgen-a1", ("env",), env_names=("MG_SECRET",))))
    assert secret_file.read_text() == "s3cr3t-value"
    assert recorded() == ["exec", "-e", "MG_SECRET", "massgen-a1", "env"]
    assert "s3cr3t" not in repr(cli) and "MG_SECRET" in repr(cli)
    with pytest.raises(DockerError) as info:
        await cli.run(["ps"], env={"FAKE_MODE": "other"})
    assert "s3cr3t" not in str(info.value) and "s3cr3t" not in " ".join(info.value.argv)
    assert "MG_SECRET" not in os.environ


async def test_per_call_env_is_for_that_call_only(fake_docker):
    script, _, secret_file = fake_docker
    cli = DockerCLI(binary=str(script))
    await cli.run(["ps"], env={"MG_SECRET": "once"})
    assert secret_file.read_text() == "once"
    await cli.run(["ps"])
    assert secret_file.read_text() == "unset"


@pytest.mark.parametrize("mode, cls, words", [
    ("conflict", ContainerConflict, ["`massgen-a1`", "docker rm -f massgen-a1"]),
    ("nocontainer", NoSuchContainer, ["`massgen-a1`"]),
    ("noimage", ImageNotFound, ["`massgen/mcp-runtime:latest`", "mgexec build`"]),
    ("nosocket", DockerUnavailable, ["Podman socket", "podman machine start"]),
    ("other", DockerError, ["`docker run`", "exit code 126", "RLIMIT_NPROC"]),
])
async def test_podman_style_errors_map_through_the_real_runner(fake_docker, mode, cls, words):
    script, recorded, _ = fake_docker
    with pytest.raises(DockerError) as info:
        await DockerCLI(binary=str(script), context="pod").run(["run", "-d", "x"], env={"FAKE_MODE": mode})
    assert type(info.value) is cls
    for word in words:
        assert word in str(info.value)
    assert info.value.argv == [str(script), "--context", "pod", "run", "-d", "x"]
    assert recorded() == ["--context", "pod", "run", "-d", "x"]


async def test_check_false_returns_the_failure(fake_docker):
    script, _, _ = fake_docker
    out = await DockerCLI(binary=str(script)).run(["ps"], env={"FAKE_MODE": "nocontainer"}, check=False)
    assert out.exit_code == 125 and "no such container" in out.stderr


async def test_probe_recognises_podman(fake_docker):
    script, recorded, _ = fake_docker
    info = await DockerCLI(binary=str(script), env={"FAKE_MODE": "version"}).probe()
    assert recorded() == ["version", "--format", "{{json .}}"]
    assert info.is_podman and info.server_version == "4.3.1" and info.arch == "arm64"


async def test_probe_of_something_that_is_not_docker(fake_docker):
    script, _, _ = fake_docker
    with pytest.raises(DockerError, match="does not look like a docker-compatible CLI"):
        await DockerCLI(binary=str(script)).probe()  # FAKE_MODE=ok prints no version JSON


async def test_a_hung_docker_call_times_out_and_is_killed(fake_docker):
    script, _, _ = fake_docker
    with pytest.raises(DockerTimeout) as info:
        await DockerCLI(binary=str(script)).run(["ps"], env={"FAKE_MODE": "slow"}, timeout=0.5)
    assert isinstance(info.value, ExecTimeout) and isinstance(info.value, TimeoutError)
    assert "`docker ps`" in str(info.value)


# --- the real engine --------------------------------------------------------------------------------------

@pytest.fixture
def engine_run():
    """A unique test label; every container carrying it is removed afterwards."""
    require_engine()
    run_id = uuid.uuid4().hex[:10]
    yield run_id
    ids = subprocess.run(DockerCLI().argv(build_ps_argv({"mgexec.test": run_id})), capture_output=True,
                         text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)


@pytest.mark.docker
@requires_engine
async def test_probe_of_the_real_engine():
    require_engine()
    info = await DockerCLI().probe()
    assert info.server_version and info.client_version and info.os == "linux"


@pytest.mark.docker
@requires_engine
async def test_container_lifecycle_on_the_real_engine(engine_run, tmp_path):
    image = ensure_test_image()
    work = tmp_path / 'work, "dir"'  # a comma and quotes exercise --mount's CSV quoting
    ctx = tmp_path / "ctx"
    for d in (work, ctx):
        d.mkdir()
        d.chmod(0o777)
    (ctx / "note").write_text("context\n")
    env_file = tmp_path / "vars.env"
    env_file.write_text("FROM_FILE=yes\n")
    name = f"mgexec-test-{engine_run}"
    spec = ContainerSpec(
        name=name, image=image, labels={"mgexec.test": engine_run, "mgexec.agent": "a1"}, user="1000:1000",
        workdir=str(work), mounts=(Mount(str(work), str(work), False), Mount(str(ctx), str(ctx), True)),
        network="none", memory="64m", cpus=0.5, pids_limit=64, env_names=("MG_SECRET_TOKEN",),
        env_file=str(env_file), command=("sleep", "infinity"))
    cli = DockerCLI(env={"MG_SECRET_TOKEN": "s3cret-value"})
    run_args = build_run_argv(spec)
    assert "s3cret-value" not in " ".join(run_args)
    container_id = (await cli.run(run_args)).stdout.strip()
    assert len(container_id) == 64

    state = json.loads((await cli.run(build_inspect_argv(name, fmt="{{json .}}", kind="container"))).stdout)
    assert state["State"]["Running"] and state["Config"]["Labels"]["mgexec.agent"] == "a1"
    host = state["HostConfig"]
    assert host["NetworkMode"] == "none" and host["PidsLimit"] == 64 and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"] and host["Init"] is True
    assert host["Memory"] == 64 * 2**20 and host["NanoCpus"] == 500_000_000

    probe = ExecSpec(name, ("sh", "-c", 'echo "$MG_SECRET_TOKEN|$FROM_FILE|$PLAIN|$(id -u)|$(pwd)"'),
                     env={"PLAIN": "p"})
    out = await cli.run(build_exec_argv(probe))
    assert out.stdout == f"s3cret-value|yes|p|1000|{work}\n"
    pid1 = await cli.run(build_exec_argv(ExecSpec(name, ("cat", "/proc/1/cmdline"))))
    assert "init" in pid1.stdout.split("\0")[0]  # --init put an init in front of sleep

    await cli.run(build_exec_argv(ExecSpec(name, ("touch", f"{work}/made-inside"))))
    assert (work / "made-inside").exists()
    ro = await cli.run(build_exec_argv(ExecSpec(name, ("touch", f"{ctx}/nope"))), check=False)
    assert ro.exit_code != 0 and "Read-only file system" in ro.stderr

    listed = await cli.run(build_ps_argv({"mgexec.test": engine_run, "mgexec.agent": "a1"}))
    assert listed.stdout.split() == [container_id]

    with pytest.raises(ContainerConflict, match=name):
        await cli.run(run_args)

    await cli.run(["stop", "-t", "1", name])  # no builder: mgexec never stops a container, it removes it
    with pytest.raises(DockerError) as not_running:
        await cli.run(["kill", name])
    assert type(not_running.value) is DockerError and "not running" in str(not_running.value)

    await cli.run(build_rm_argv(name))
    with pytest.raises(NoSuchContainer, match=name):
        await cli.run(build_exec_argv(ExecSpec(name, ("true",))))
    with pytest.raises(NoSuchContainer, match=name):
        await cli.run(build_inspect_argv(name, kind="container"))


@pytest.mark.docker
@requires_engine
async def test_image_inspect_on_the_real_engine():
    image = ensure_test_image()
    out = await DockerCLI().run(build_image_inspect_argv(image, fmt="{{json .Config}}"))
    config = json.loads(out.stdout)
    assert config["Cmd"] == ["sleep", "infinity"] and config["WorkingDir"] == "/workspace"


@pytest.mark.docker
@requires_engine
@pytest.mark.parametrize("pull", ["never", None])
async def test_missing_image_on_the_real_engine(engine_run, pull):
    missing = f"mgexec-test/absent-{engine_run}:1"
    spec = ContainerSpec(name=f"mgexec-test-{engine_run}", image=missing, labels={"mgexec.test": engine_run},
                         pull=pull)
    with pytest.raises(ImageNotFound) as info:
        await DockerCLI().run(build_run_argv(spec), timeout=120)
    assert f"`{missing}`" in str(info.value) and f"docker build -t {missing}" in str(info.value)
    with pytest.raises(ImageNotFound, match=missing):
        await DockerCLI().run(build_image_inspect_argv(missing))
