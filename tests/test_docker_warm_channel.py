"""The warm exec channel inside DockerExecutor: fallback when the image cannot run it, recovery when it dies."""

from __future__ import annotations

import asyncio
import time
import uuid
import subprocess

import pytest

from dockermode import docker_config, require_image
from dockerutil import docker_binary
from mgexec.executors.docker import DockerExecutor

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def _image():
    require_image()


@pytest.fixture
async def running(workspace):
    executor = DockerExecutor(docker_config(workspace, docker_warm_channel=True))
    await executor.start()
    yield executor
    await executor.close()


@pytest.fixture
async def exec_opened(workspace):
    """A created container whose channel opens the old way (`docker exec`, token on the helper's stdin), as
    after a loss; test_channel_boot.py tests the helper started with the container."""
    executor = DockerExecutor(docker_config(workspace, docker_warm_channel=True))
    executor.deployment.boot_helper = False
    await executor.start()
    yield executor
    await executor.close()


async def test_image_without_python_falls_back_to_exec_per_command(workspace, tmp_path, caplog):
    from dockerutil import ensure_test_image

    base = ensure_test_image()
    ctx = tmp_path / "img"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base}\nRUN mkdir -p /context /temp_workspaces\n")
    subprocess.run([docker_binary(), "build", "-q", "-t", "mgexec-test/nopython:1", str(ctx)], check=True, capture_output=True)
    async with DockerExecutor(docker_config(workspace, docker_image="mgexec-test/nopython:1")) as executor:
        assert executor.channel is None
        result = await executor.execute("echo fallback; exit 3")
    assert (result.stdout, result.exit_code) == ("fallback\n", 3)
    assert "Falling back to one docker exec per command" in caplog.text


async def test_lost_channel_fails_the_command_clearly_and_recovers(running):
    marker = f"/tmp/lost-{uuid.uuid4().hex}"
    task = asyncio.create_task(running.execute(f": > {marker}; sleep 30"))
    # Kill the helper only once the command runs: before that, the request would go to the reopened channel.
    deadline = time.monotonic() + 30
    while subprocess.run([docker_binary(), "exec", running.container, "test", "-e", marker]).returncode != 0:
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.1)
    subprocess.run([docker_binary(), "exec", "--user", "0", running.container, "kill", "-KILL", str(running.channel.helper_pid)],
                   check=True)
    result = await asyncio.wait_for(task, 10)
    assert result.exit_code == -1 and "run it again" in result.stderr
    again = await running.execute("echo back")
    assert again.stdout == "back\n"


async def test_a_command_cannot_open_the_helpers_stdout(running):
    # The command's parent is the helper; writing to its stdout would forge the channel's frames.
    assert running.channel is not None
    line = ("tr '\\0' ' ' </proc/$PPID/cmdline | grep -q mgexec-inside && echo helper; "
            "{ exec 3>>/proc/$PPID/fd/1; } 2>/dev/null && echo opened || echo refused; echo still-works")
    result = await running.execute(line)
    after = await running.execute("echo next")
    assert result.stdout == "helper\nrefused\nstill-works\n", result
    assert (after.stdout, after.exit_code) == ("next\n", 0)


# --- the socket path of a container mgexec created --------------------------------------------------

# An agent's process in the container, as the helper's user: connects to every channel socket it sees,
# sends a wrong token and forged frames (output and an exit for the first ids), and logs what it got.
SOCKET_ATTACKER = r"""
import glob, json, socket, struct, sys, time
log = open(sys.argv[1], "a", buffering=1)
forged = json.dumps({"op": "exit", "id": 1, "code": 42, "signal": None, "timed_out": False,
                     "dropped": [0, 0], "error": None}).encode()
end = time.time() + float(sys.argv[2])
while time.time() < end:
    for path in glob.glob("/run/mgexec/*"):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        try:
            s.connect(path)
        except OSError as exc:
            log.write("refused %s\n" % exc)
            continue
        log.write("connected\n")
        try:
            s.sendall(b"\0" * 32)
            for rid in range(1, 20):
                s.sendall(struct.pack(">BII", 1, rid, 6) + b"FORGED" + struct.pack(">BII", 3, rid, len(forged)) + forged)
            log.write("answer %r\n" % s.recv(16))
        except OSError as exc:
            log.write("cut %s\n" % exc)
        s.close()
    time.sleep(0.001)
log.write("done\n")
"""


async def test_a_created_container_sends_output_over_its_socket(exec_opened):
    from mgexec.docker.channel_socket import INSIDE_DIR, channel_dir

    running = exec_opened
    assert running.channel._link.listener is not None  # opened with `docker exec`

    assert running.channel.uses_socket
    assert channel_dir(running.container).is_dir()
    # Once the helper is connected, the socket file is gone: nothing left to connect to.
    listing = await running.execute(f"ls -A {INSIDE_DIR}; echo end; : > {INSIDE_DIR}/planted")
    assert listing.stdout == "end\n" and "Read-only file system" in listing.stderr  # nothing can be planted there
    # A command holds no descriptor of the helper's socket (only its stdio and ls's own directory), and
    # the token is nowhere a command can read it: it came on the helper's stdin, once.
    fds = await running.execute("ls /proc/self/fd; readlink /proc/self/fd/* | grep -c socket")
    assert fds.stdout == "0\n1\n2\n3\n0\n"
    token = running.channel._link.listener.token.hex()
    seen = await running.execute("cat /proc/$PPID/cmdline /proc/$PPID/environ /proc/$PPID/fd/0 2>&1; env")
    assert token not in seen.stdout and "/proc/" in seen.stdout
    big = await running.channel.run("head -c 10000000 /dev/urandom | tee /tmp/big | sha256sum; sha256sum </tmp/big",
                                    work_dir="/", timeout=60, output_cap=1000)
    first, second = big.stdout.splitlines()
    assert first == second and big.stdout_dropped == 0
    data = await running.channel.run("cat /tmp/big", work_dir="/", timeout=60, output_cap=20_000_000)
    assert len(data.stdout.encode("utf-8", "surrogateescape")) > 0 and data.stdout_dropped == 0


async def test_the_socket_carries_ten_megabytes_exactly_and_cuts_utf8_safely(running):
    assert running.channel.uses_socket
    text = await running.channel.run("yes 0123456789abcdef | head -c 10000000; echo err >&2", work_dir="/",
                                     timeout=60, output_cap=20_000_000)
    assert text.stdout == ("0123456789abcdef\n" * 600000)[:10_000_000] and text.stderr == "err\n"
    # A cap inside a 2-byte character keeps whole characters only and counts the rest.
    capped = await running.channel.run("yes é | head -c 3000000", work_dir="/", timeout=60, output_cap=1_000_000)
    kept, marker = capped.stdout.split("\n... (truncated ")
    # The cap fell after the é's first byte, which the text drops with the rest, and counts.
    assert kept == "é\n" * 333333 and capped.stdout_dropped == 2_000_001 and marker == "2000001 bytes)"


async def test_a_process_inside_cannot_use_or_forge_the_socket(running):
    assert running.channel.uses_socket
    log = f"/tmp/attack-{uuid.uuid4().hex}"
    subprocess.run([docker_binary(), "exec", "-d", running.container, "python3", "-c", SOCKET_ATTACKER, log, "20"],
                   check=True)
    await asyncio.sleep(0.5)
    # Reopen the channel while the attacker is polling for sockets: it races the helper for the new one.
    subprocess.run([docker_binary(), "exec", "--user", "0", running.container, "kill", "-KILL",
                    str(running.channel.helper_pid)], check=True)
    for n in range(5):
        result = await running.execute(f"echo real-{n}")
        assert (result.stdout, result.exit_code) == (f"real-{n}\n", 0)
    assert running.channel.uses_socket
    report = (await running.execute(f"cat {log}")).stdout.splitlines()
    # Whatever the attacker reached was closed on it without a byte; mostly there was nothing to reach.
    print("REPORT", report)
    assert all(line in ("connected", "answer b''") or line.startswith(("refused", "cut")) for line in report), report


async def test_removing_the_container_removes_its_channel_directory(workspace):
    from mgexec.docker.channel_socket import channel_dir

    executor = DockerExecutor(docker_config(workspace, docker_warm_channel=True))
    await executor.start()
    try:
        directory = channel_dir(executor.container)
        assert directory.is_dir() and executor.channel.uses_socket
    finally:
        await executor.close()
    assert not directory.exists()
