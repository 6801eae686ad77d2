"""The warm channel's helper started with the container (mgexec.docker.channel_start), on a real engine: the
first open needs no `docker exec`, nothing inside can read its token, connect in its place or forge its
results, and every failure opens the channel the old way."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import subprocess

import pytest

from dockermode import alive_in_container, docker_config, exists, inspect, remove, require_image, shared_dir
from dockerutil import docker_argv
from mgexec.config import DEFAULT_IMAGE
from mgexec.docker import channel_start
from mgexec.docker.channel import ExecChannel
from mgexec.docker.channel_socket import INSIDE_DIR, channel_dir, remove_dir
from mgexec.docker.channel_start import HelperBoot
from mgexec.docker.container import RUNTIME_COMMAND, ContainerManager, Owner, build_spec
from mgexec.docker.credentials import resolve_env
from mgexec.docker.engine import DockerCLI
from mgexec.executors.docker import DockerExecutor
from test_docker_start import logging_docker, verbs

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _image():
    require_image()


@pytest.fixture
def massgen_workspace(tmp_path):
    """A workspace of the image's user: commands and the helper run as uid 1000, as they do for users."""
    return shared_dir(tmp_path, uid=1000)


def test_the_runtime_image_s_command_is_the_one_a_booted_container_execs_into():
    assert tuple(inspect_image(DEFAULT_IMAGE)["Config"]["Cmd"]) == RUNTIME_COMMAND


def inspect_image(image: str) -> dict:
    import json

    out = subprocess.run(docker_argv("image", "inspect", image), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


async def test_the_first_open_uses_no_docker_exec_and_close_leaves_nothing(tmp_path, massgen_workspace, monkeypatch):
    binary, log = logging_docker(tmp_path)
    monkeypatch.setenv("MGEXEC_DOCKER", binary)
    executor = DockerExecutor(docker_config(massgen_workspace, docker_warm_channel=True))
    await executor.start()
    try:
        assert verbs(log) == ["run"]  # the helper came up with the container
        channel = executor.channel
        assert channel.uses_socket and channel.helper_pid is not None
        # PID 1 and the image's command are as the image has them; the helper is adopted, not PID 1's child.
        tree = await executor.execute("cat /proc/1/comm; ps -o pid=,ppid=,args= -p $PPID; pgrep -x tail")
        assert tree.stdout.startswith("docker-init\n") and "/run/mgexec/" in tree.stdout, tree
        sleeper = asyncio.create_task(executor.execute("echo $$ > /tmp/sleeper; exec sleep 300"))
        while (await executor.execute("cat /tmp/sleeper")).exit_code != 0:
            await asyncio.sleep(0.05)
        sleeper_pid = int((await executor.execute("cat /tmp/sleeper")).stdout)
        helper = channel.helper_pid
        await channel.close()  # the socket's end is the helper's lifeline: it kills its groups and exits
        await asyncio.wait_for(sleeper, 10)
        assert verbs(log) == ["run"]  # no orphan kill was needed
        assert alive_in_container(executor.container, [helper, sleeper_pid]) == []
    finally:
        await executor.close()
    assert not exists(executor.container) and not channel_dir(executor.container).exists()


async def test_a_command_cannot_read_the_token_replace_the_program_or_connect(massgen_workspace):
    executor = DockerExecutor(docker_config(massgen_workspace, docker_warm_channel=True))
    await executor.deployment.open()
    booted = executor.deployment.booted
    token = booted.listener.token.hex()
    try:
        await executor.start()
        assert executor.channel.uses_socket and executor.channel._link.listener is None  # the booted link
        # Every environment and command line inside, the helper's included; PID 1's is readable to the
        # commands (same uid), so the token must never have been in it.
        seen = await executor.execute("id -u; for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do "
                                      "tr '\\0' '\\n' < $f; done 2>/dev/null; env; cat /proc/1/environ | wc -c")
        assert seen.stdout.startswith("1000\n") and "PATH=" in seen.stdout and token not in seen.stdout
        assert int(seen.stdout.split()[-1]) > 0  # /proc/1/environ was readable
        # Program, token and socket are gone, and nothing can be planted in their place.
        listing = await executor.execute(f"ls -A {INSIDE_DIR}; echo end; : > {INSIDE_DIR}/{booted.program.name}")
        assert listing.stdout == "end\n" and "Read-only file system" in listing.stderr
        assert not booted.program.exists() and not booted.token_file.exists() and not booted.listener.path.exists()
        config = inspect(executor.container)["Config"]
        assert token not in repr(config["Env"]) + repr(config["Cmd"])
        connect = await executor.execute(f"python3 -c 'import socket; socket.socket(socket.AF_UNIX)"
                                         f".connect(\"{INSIDE_DIR}/{booted.listener.path.name}\")'")
        assert connect.exit_code != 0 and "No such file" in connect.stderr
    finally:
        await executor.close()


async def test_a_command_cannot_forge_results_on_the_booted_channel(massgen_workspace):
    async with DockerExecutor(docker_config(massgen_workspace, docker_warm_channel=True)) as executor:
        assert executor.channel.uses_socket
        # The helper is not dumpable: its fds (the socket) cannot be opened through /proc by a command.
        probe = await executor.execute("ls /proc/$PPID/fd 2>&1 | head -1; { exec 3<>/proc/$PPID/fd/3; } 2>/dev/null"
                                       " && echo opened || echo refused; readlink /proc/self/fd/* | grep -c socket")
        assert probe.stdout.splitlines()[1:] == ["refused", "0"], probe
        forged = await executor.execute("printf '\\003\\000\\000\\000\\001\\000\\000\\000\\002{}'; echo real")
        assert forged.exit_code == 0 and forged.stdout.endswith("real\n")  # its bytes are output, nothing more


def _spec_and_secrets(workspace):
    config = docker_config(workspace)
    secrets = resolve_env(config.credentials)
    return config, build_spec(config, secrets, owner=Owner.current()), secrets


async def _create_booted(workspace, boot_then=None):
    """A container created with a booted helper, as the deployment does; `boot_then(boot)` runs before `docker run`."""
    config, spec, secrets = _spec_and_secrets(workspace)
    boot = await HelperBoot.prepare(spec.name)
    assert boot is not None
    if boot_then is not None:
        await boot_then(boot)
    cli = DockerCLI.from_config(config)
    await ContainerManager(cli, config).create(dataclasses.replace(spec, command=boot.command(RUNTIME_COMMAND)),
                                               secrets)
    return cli, spec.name, boot


async def test_a_host_process_without_the_token_cannot_take_the_first_connection(massgen_workspace):
    intruders = []

    async def intrude(boot):
        for data in (os.urandom(32), b"", boot.listener.token[:31]):  # a wrong token, none, a short one
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(str(boot.listener.path))
            sock.sendall(data)
            intruders.append(sock)
        await asyncio.sleep(0.2)

    cli, name, boot = await _create_booted(massgen_workspace, intrude)
    try:
        channel = await ExecChannel.open(cli, name, boot=boot)
        try:
            result = await channel.run("echo real", work_dir="/", timeout=10, output_cap=1000)
            assert result.stdout == "real\n" and channel.uses_socket and channel._link.listener is None
            for sock in intruders:
                sock.settimeout(10)
                assert sock.recv(16) == b""  # closed on them, never a frame, once the helper won
            assert boot.listener.rejected == 3
        finally:
            await channel.close()
    finally:
        for sock in intruders:
            sock.close()
        remove(name)


async def test_a_boot_given_up_closes_a_connection_it_accepted_and_deletes_its_files(massgen_workspace):
    # A start that went another way (the name was taken: the boot is dropped) must not leave an accepted
    # connection open, nor the token readable, whoever connected.
    _, spec, _ = _spec_and_secrets(massgen_workspace)
    boot = await HelperBoot.prepare(spec.name)
    try:
        reader, writer = await asyncio.open_unix_connection(str(boot.listener.path))
        writer.write(boot.listener.token)
        await asyncio.wait_for(asyncio.shield(boot.listener.accepted), 10)
        boot.discard()
        assert await asyncio.wait_for(reader.read(16), 10) == b""
        assert not boot.token_file.exists() and not boot.program.exists() and not boot.listener.path.exists()
        writer.close()
    finally:
        boot.discard()
        remove_dir(spec.name)


async def test_a_helper_that_cannot_connect_falls_back_to_docker_exec(massgen_workspace, monkeypatch, caplog):
    monkeypatch.setattr(channel_start, "BOOT_WAIT", 3.0)

    async def spoil(boot):  # the helper reads a wrong token: the host must refuse it and open the old way
        boot.token_file.unlink()
        boot.token_file.write_text(os.urandom(32).hex())

    cli, name, boot = await _create_booted(massgen_workspace, spoil)
    try:
        with caplog.at_level(logging.DEBUG, logger="mgexec.channel"):
            channel = await ExecChannel.open(cli, name, boot=boot)
        try:
            result = await channel.run("echo fallback", work_dir="/", timeout=10, output_cap=1000)
            assert result.stdout == "fallback\n"
            assert channel._link.listener is not None  # the old way: `docker exec`, token on its stdin
            assert boot.listener.rejected == 1 and "did not connect" in caplog.text
            assert sorted(p.name for p in channel_dir(name).iterdir()) == []  # no file or socket left behind
        finally:
            await channel.close()
    finally:
        remove(name)


async def test_a_killed_booted_helper_is_reopened_with_docker_exec(tmp_path, massgen_workspace, monkeypatch):
    binary, log = logging_docker(tmp_path)
    monkeypatch.setenv("MGEXEC_DOCKER", binary)
    async with DockerExecutor(docker_config(massgen_workspace, docker_warm_channel=True)) as executor:
        first = executor.channel.helper_pid
        subprocess.run(docker_argv("exec", executor.container, "kill", "-KILL", str(first)), check=True)
        for _ in range(2):  # the first may meet the dying channel; the next reopens it
            result = await executor.execute("echo again")
        assert result.stdout == "again\n" and executor.channel.helper_pid != first
        assert executor.channel._link.listener is not None and executor.channel.uses_socket
        assert verbs(log).count("exec") >= 2  # the kill, and the reopening `docker exec`


async def test_a_disabled_channel_starts_no_helper_with_the_container(massgen_workspace):
    async with DockerExecutor(docker_config(massgen_workspace, docker_warm_channel=False)) as executor:
        assert executor.channel is None
        cmd = inspect(executor.container)["Config"]["Cmd"]
        assert tuple(cmd) == RUNTIME_COMMAND and list(channel_dir(executor.container).iterdir()) == []
