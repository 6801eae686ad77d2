"""The channel socket's guard on real unix sockets: only the token's holder gets in, once, and then no one."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from pathlib import Path

import pytest

from mgexec.docker import channel_socket
from mgexec.docker.channel_socket import INSIDE_DIR, SocketListener, channel_dir, engine_is_local
from mgexec.inside.wire import TOKEN_BYTES


@pytest.fixture
async def listener(runtime_dir):
    name = f"c-{uuid.uuid4().hex}"
    channel_socket.prepare_dir(name)
    listening = await SocketListener.start(name)
    yield listening
    listening.close()
    channel_socket.remove_dir(name)


async def connect_and_send(path, data: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(data)
    writer.write_eof()  # a short token is cut at once rather than after the host's wait
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)  # b"" once the host closes it
    writer.close()
    return answer


def test_directories_live_under_one_private_root_with_short_socket_paths(runtime_dir):
    path = channel_socket.prepare_dir("a" * 200)
    assert path == channel_dir("a" * 200) and path.parent == runtime_dir / "mgexec" / "channels"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(str(path / f"{'0' * 16}.sock")) < 108  # sun_path's limit, whatever the container's name
    channel_socket.remove_dir("a" * 200)
    assert not path.exists()


async def test_no_directory_no_listener(runtime_dir):
    assert await SocketListener.start("never-prepared") is None


@pytest.mark.parametrize("planted", ["a symlink", "a writable dir"])
async def test_a_planted_root_gets_no_socket(runtime_dir, planted, tmp_path):
    """Someone who made the root first (a shared /tmp) must not choose where the socket goes."""
    root = runtime_dir / "mgexec"
    if planted == "a symlink":
        (tmp_path / "elsewhere").mkdir()
        root.symlink_to(tmp_path / "elsewhere")
    else:
        root.mkdir(mode=0o777)
        root.chmod(0o777)
    assert channel_socket.prepare_dir("c1") is None and channel_socket.channel_mount("c1") is None
    assert await SocketListener.start("c1") is None


async def test_a_socket_path_too_long_for_the_kernel_means_no_listener(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / ("d" * 100)))
    (tmp_path / ("d" * 100)).mkdir()
    channel_socket.prepare_dir("c1")
    assert await SocketListener.start("c1") is None  # the channel then carries its frames on stdio


async def test_wrong_tokens_are_refused_then_the_right_one_is_taken_and_the_socket_goes(listener):
    assert listener.inside_path == f"{INSIDE_DIR}/{listener.path.name}"
    assert stat.S_IMODE(os.stat(listener.path).st_mode) == 0o666  # any uid inside may connect: the token guards
    assert await connect_and_send(listener.path, b"\0" * TOKEN_BYTES + b"forged frames") == b""
    assert await connect_and_send(listener.path, listener.token[:-1]) == b""  # a prefix, then silence
    assert not listener.accepted.done() and listener.rejected == 2
    reader, writer = await asyncio.open_unix_connection(str(listener.path))
    writer.write(listener.token + b"frames")
    accepted_reader, _ = await asyncio.wait_for(listener.accepted, 10)
    assert await accepted_reader.readexactly(6) == b"frames"
    assert not listener.path.exists()
    with pytest.raises(OSError):
        await asyncio.open_unix_connection(str(listener.path))
    writer.close()


@pytest.mark.parametrize("context, env, local", [
    (None, {}, True),
    (None, {"DOCKER_HOST": "unix:///var/run/docker.sock"}, True),
    ("default", {}, True),
    (None, {"DOCKER_HOST": "tcp://10.0.0.2:2375"}, False),
    (None, {"DOCKER_HOST": "ssh://box"}, False),
    ("remote", {}, False),
    (None, {"DOCKER_CONTEXT": "desktop-linux"}, False),
    (None, {"DOCKER_HOST": "unix:///run/user/1000/podman/podman.sock"}, True),
    (None, {"config.json": '{"currentContext": "desktop-linux"}'}, False),
    (None, {"config.json": '{"currentContext": "default", "auths": {}}'}, True),
    (None, {"config.json": '{"auths": {}}'}, True),
    (None, {"config.json": "not json"}, True),
    (None, {"DOCKER_HOST": "unix:///var/run/docker.sock", "config.json": '{"currentContext": "desktop-linux"}'}, True),
])
def test_only_a_local_engine_gets_the_mount(context, env, local, tmp_path):
    env = dict(env, DOCKER_CONFIG=str(tmp_path))  # DOCKER_HOST wins over the CLI's chosen context, as in docker
    if "config.json" in env:
        (tmp_path / "config.json").write_text(env.pop("config.json"))
    assert engine_is_local(context, env) is local
