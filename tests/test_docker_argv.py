"""argv builders: tables of spec -> exact argv, and the flags used are ones podman also accepts."""

from __future__ import annotations

import csv
import io

import pytest

from mgexec.docker import argv as A
from mgexec.docker.argv import (Command, ContainerSpec, ExecSpec, Mount, build_exec_argv, build_image_inspect_argv,
                                build_inspect_argv, build_logs_argv, build_ps_argv, build_rm_argv, build_run_argv,
                                build_version_argv, mount_arg)
from mgexec.docker.engine import DockerCLI
from mgexec.errors import ConfigError

HARDENING = ["--network", "none", "--pids-limit", "512", "--cap-drop", "ALL",
             "--security-opt", "no-new-privileges", "--init"]


def test_command_helpers():
    cmd = Command(["docker"])
    cmd.add_simple_arg("--user", None)
    cmd.add_simple_arg("--cpus", 1.5)
    cmd.add_flag("-d", False)
    cmd.add_flag("-i", True)
    cmd.add_args_list("-e", ["A", "B"])
    assert cmd == ["docker", "--cpus", "1.5", "-i", "-e", "A", "-e", "B"]


RUN_CASES = [
    pytest.param(ContainerSpec(name="massgen-a1", image="massgen/mcp-runtime:latest"),
                 ["run", "-d", "--name", "massgen-a1", *HARDENING, "massgen/mcp-runtime:latest"],
                 id="defaults-are-locked-down"),
    pytest.param(
        ContainerSpec(
            name="massgen-a1", image="img:1", labels={"mgexec.owner": "42", "mgexec.agent": "a1"},
            user="massgen", workdir="/work/ws",
            mounts=(Mount("/work/ws", "/work/ws", read_only=False), Mount("/ctx", "/ctx", read_only=True)),
            network="bridge", memory="2g", cpus=1.5, pids_limit=256, cap_add=("CHOWN", "SETUID"),
            env_names=("GITHUB_TOKEN", "OPENAI_API_KEY"), env_file="/home/me/.env",
            command=("tail", "-f", "/dev/null")),
        ["run", "-d", "--name", "massgen-a1",
         "--label", "mgexec.owner=42", "--label", "mgexec.agent=a1",
         "--user", "massgen", "--workdir", "/work/ws",
         "--mount", "type=bind,source=/work/ws,target=/work/ws",
         "--mount", "type=bind,source=/ctx,target=/ctx,readonly",
         "--network", "bridge", "--memory", "2g", "--cpus", "1.5", "--pids-limit", "256",
         "--cap-drop", "ALL", "--cap-add", "CHOWN", "--cap-add", "SETUID",
         "--security-opt", "no-new-privileges", "--init",
         "-e", "GITHUB_TOKEN", "-e", "OPENAI_API_KEY", "--env-file", "/home/me/.env",
         "img:1", "tail", "-f", "/dev/null"],
        id="everything"),
    pytest.param(
        ContainerSpec(name="c", image="i", network="host", pids_limit=None, cap_drop_all=False,
                      no_new_privileges=False, init=False, cpus=2.0, pull="never"),
        ["run", "-d", "--name", "c", "--network", "host", "--cpus", "2", "--pull", "never", "i"],
        id="hardening-off"),
    pytest.param(
        ContainerSpec(name="c", image="i", env_names=("TOKEN",), env={"PIP_CERT": "/etc/ca.crt"},
                      tmpfs=("/home/massgen:uid=0,gid=0,mode=0755",)),
        ["run", "-d", "--name", "c", *HARDENING, "--tmpfs", "/home/massgen:uid=0,gid=0,mode=0755",
         "-e", "TOKEN", "-e", "PIP_CERT=/etc/ca.crt", "i"],
        id="plain-env-values-and-a-private-home"),
]


@pytest.mark.parametrize("spec, expected", RUN_CASES)
def test_build_run_argv(spec, expected):
    assert build_run_argv(spec) == expected


def test_the_gateway_puts_the_binary_and_global_args_before_the_verb():
    spec = ContainerSpec(name="c", image="i")
    argv = DockerCLI("/usr/bin/podman", context="remote").argv(build_run_argv(spec))
    assert argv[:4] == ["/usr/bin/podman", "--context", "remote", "run"]
    assert DockerCLI().argv(build_run_argv(spec)) == ["docker", *build_run_argv(spec)]
    assert build_run_argv(spec)[0] == "run"


EXEC_CASES = [
    pytest.param(ExecSpec("massgen-a1", ("bash", "-c", "echo hi")),
                 ["exec", "massgen-a1", "bash", "-c", "echo hi"], id="plain"),
    pytest.param(
        ExecSpec("massgen-a1", ("bash", "-lc", "ls; echo $X"), user="massgen", workdir="/work/ws",
                 env_names=("TOKEN",), env={"PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"},
                 interactive=True, tty=True),
        ["exec", "-i", "-t", "--user", "massgen", "--workdir", "/work/ws", "-e", "TOKEN",
         "-e", "PAGER=cat", "-e", "GIT_TERMINAL_PROMPT=0", "massgen-a1", "bash", "-lc", "ls; echo $X"],
        id="everything"),
    pytest.param(ExecSpec("c", ("sleep", "9"), detach=True), ["exec", "-d", "c", "sleep", "9"],
                 id="detached"),
]


@pytest.mark.parametrize("spec, expected", EXEC_CASES)
def test_build_exec_argv(spec, expected):
    assert build_exec_argv(spec) == expected


SMALL_CASES = [
    (build_rm_argv("c"), ["rm", "-f", "c"]),
    (build_rm_argv("c", force=False), ["rm", "c"]),
    (build_logs_argv("c", tail=20), ["logs", "--tail", "20", "c"]),
    (build_logs_argv("c"), ["logs", "c"]),
    (build_inspect_argv("c"), ["inspect", "c"]),
    (build_inspect_argv("c", fmt="{{.State.Status}}", kind="container"),
     ["inspect", "--type", "container", "--format", "{{.State.Status}}", "c"]),
    (build_inspect_argv(["a", "b"], kind="image"), ["inspect", "--type", "image", "a", "b"]),
    (build_image_inspect_argv("img:1"), ["image", "inspect", "img:1"]),
    (build_image_inspect_argv("img:1", fmt="{{json .Config}}"),
     ["image", "inspect", "--format", "{{json .Config}}", "img:1"]),
    (build_ps_argv({"mgexec.managed": "1", "mgexec.agent": None}),
     ["ps", "-a", "--no-trunc", "--filter", "label=mgexec.managed=1", "--filter", "label=mgexec.agent",
      "--format", "{{.ID}}"]),
    (build_ps_argv({}, all=False, fmt=None), ["ps", "--no-trunc"]),
    (build_version_argv(), ["version", "--format", "{{json .}}"]),
    (DockerCLI("podman", context="x").argv(build_version_argv()),
     ["podman", "--context", "x", "version", "--format", "{{json .}}"]),
]


@pytest.mark.parametrize("argv, expected", SMALL_CASES)
def test_small_builders(argv, expected):
    assert argv == expected


def test_inspect_kind_is_checked():
    with pytest.raises(ValueError):
        build_inspect_argv("c", kind="volume")


MOUNT_CASES = [
    (Mount("/a", "/b", False), "type=bind,source=/a,target=/b"),
    (Mount("/a b:c", "/a b:c", True), "type=bind,source=/a b:c,target=/a b:c,readonly"),
    (Mount("/x=y", "/x=y", False), "type=bind,source=/x=y,target=/x=y"),
    (Mount("/a,b", "/c", True), 'type=bind,"source=/a,b",target=/c,readonly'),
    (Mount('/q"uote', '/t,"x', False), 'type=bind,"source=/q""uote","target=/t,""x"'),
]


@pytest.mark.parametrize("mount, expected", MOUNT_CASES)
def test_mount_arg_is_csv_quoted_like_docker_reads_it(mount, expected):
    assert mount_arg(mount) == expected
    # Docker and podman read --mount with a CSV reader: reading it back must give the fields intact.
    fields = next(csv.reader(io.StringIO(expected)))
    assert f"source={mount.host_path}" in fields and f"target={mount.container_path}" in fields


@pytest.mark.parametrize("host, target", [("relative/dir", "/x"), ("/x", "x"), ("/a\nb", "/a"), ("/a", "/b\0")])
def test_bad_mount_paths_are_rejected_with_a_reason(host, target):
    with pytest.raises(ConfigError, match="mount"):
        Mount(host, target, True)


@pytest.mark.parametrize("kwargs", [
    {"name": "-rf", "image": "i"},
    {"name": "c", "image": "--privileged"},
    {"name": "c d", "image": "i"},
    {"name": "c", "image": "i", "network": "container:other"},
    {"name": "c", "image": "i", "env_names": ("TOKEN=leaked",)},
    {"name": "c", "image": "i", "env_names": ("1BAD",)},
])
def test_container_spec_rejects_values_that_would_change_argv_meaning(kwargs):
    with pytest.raises(ConfigError):
        ContainerSpec(**kwargs)


@pytest.mark.parametrize("kwargs", [
    {"container": "c", "argv": ()},
    {"container": "-c", "argv": ("true",)},
    {"container": "c", "argv": ("true",), "env_names": ("A=B",)},
    {"container": "c", "argv": ("true",), "env": {"A=B": "x"}},
])
def test_exec_spec_rejects_bad_values(kwargs):
    with pytest.raises(ConfigError):
        ExecSpec(**kwargs)


def test_secret_values_never_reach_argv():
    spec = ContainerSpec(name="c", image="i", env_names=("API_KEY",), env_file="/run/secrets.env")
    argv = build_run_argv(spec)
    assert argv[argv.index("-e") + 1] == "API_KEY"
    assert not any("=" in a for a in argv if a.startswith("API_KEY"))


# Flags each builder may emit, per verb, and (from podman's run/create/exec/ps/... man pages, podman
# 3.x-5.x) the flags podman's docker-compatible CLI accepts for that verb. Podman also reads --mount
# as CSV and accepts `readonly`, and a bare `-e NAME` takes the value from the client environment.
PODMAN_ACCEPTS = {
    "run": {"-d", "--name", "--label", "--user", "--workdir", "--mount", "--network", "--memory", "--cpus",
            "--pids-limit", "--cap-drop", "--cap-add", "--security-opt", "--init", "--pull", "-e",
            "--env-file", "--rm", "-i", "-t", "--entrypoint", "--hostname", "--tmpfs"},
    "exec": {"-i", "-t", "-d", "--user", "--workdir", "-e", "--env-file", "--privileged"},
    "rm": {"-f", "-v"}, "logs": {"--tail"}, "inspect": {"--type", "--format"},
    "image inspect": {"--format"}, "ps": {"-a", "--no-trunc", "--filter", "--format"},
    "version": {"--format"},
}
PODMAN_GLOBAL = {"--context", "--host"}  # podman-docker takes these for compatibility
EVERY_SPEC = ContainerSpec(name="c", image="i", labels={"k": "v"}, user="u", workdir="/w",
                           mounts=(Mount("/a", "/a", True),), memory="1g", cpus=1, cap_add=("NET_RAW",),
                           env_names=("E",), env_file="/f", pull="never", command=("x",),
                           env={"K": "V"}, tmpfs=("/home/massgen:uid=0,gid=0",))
EVERY_EXEC = ExecSpec("c", ("x",), user="u", workdir="/w", env_names=("E",), env={"K": "V"},
                      interactive=True, tty=True, detach=True)


def _flags_used(argv: list[str], verb_words: int) -> set[str]:
    return {a for a in argv[verb_words:] if a.startswith("-")}


@pytest.mark.parametrize("verb, argv", [
    ("run", build_run_argv(EVERY_SPEC)),
    ("exec", build_exec_argv(EVERY_EXEC)),
    ("rm", build_rm_argv("c")),
    ("logs", build_logs_argv("c", 20)),
    ("inspect", build_inspect_argv("c", fmt="x", kind="container")),
    ("image inspect", build_image_inspect_argv("i", fmt="x")),
    ("ps", build_ps_argv({"k": "v"})),
    ("version", build_version_argv()),
])
def test_every_flag_used_is_one_podman_accepts(verb, argv):
    words = len(verb.split())
    assert " ".join(argv[:words]) == verb
    assert _flags_used(argv, words) <= PODMAN_ACCEPTS[verb]


def test_no_builder_is_missing_from_the_podman_table():
    builders = {n for n in dir(A) if n.startswith("build_") and n.endswith("_argv")}
    assert builders == {"build_run_argv", "build_exec_argv", "build_rm_argv", "build_logs_argv",
                        "build_inspect_argv", "build_image_inspect_argv", "build_ps_argv", "build_version_argv"}
