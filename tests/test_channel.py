"""The warm exec channel on a real engine: fresh-process semantics, kills inside the container, losses, fallback."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import os
import signal
import subprocess
import uuid

import pytest

from dockermode import alive_in_container, inspect, remove, require_image
from dockerutil import docker_binary, docker_cli, ensure_test_image
from mgexec.docker.channel import TOO_OLD_EXIT, ExecChannel, helper_source, open_failure
from mgexec.docker.channel_socket import INSIDE_DIR, channel_dir, prepare_dir, remove_dir
from mgexec.errors import ChannelLost, ChannelUnavailable, DockerError, DockerUnavailable, NoSuchContainer

IMAGE = "massgen/mcp-runtime:latest"
docker = pytest.mark.docker


def start_container(image: str = IMAGE, mounted: bool = False) -> str:
    """A container; `mounted`: with the channel's socket directory, as mgexec mounts it in those it creates."""
    name = f"mgexec-chan-{uuid.uuid4().hex[:10]}"
    mount = ["--mount", f"type=bind,src={prepare_dir(name)},dst={INSIDE_DIR},readonly"] if mounted else []
    subprocess.run([docker_binary(), "run", "-d", "--rm", "--name", name, "--network", "none", *mount, image],
                   check=True, capture_output=True)
    return name


@pytest.fixture(scope="module", params=["stdio", "socket"])
def container(request):
    """Every test runs with output on the exec's stdio and on the mounted socket."""
    require_image(IMAGE)
    name = start_container(mounted=request.param == "socket")
    yield name
    remove(name)
    remove_dir(name)


@pytest.fixture
async def channel(container):
    chan = await ExecChannel.open(docker_cli(), container)
    assert chan.uses_socket is channel_dir(container).is_dir()
    yield chan
    await chan.close()


async def run(chan: ExecChannel, command: str, **kw):
    kw.setdefault("work_dir", "/workspace")
    kw.setdefault("timeout", 60)
    kw.setdefault("output_cap", 1_000_000)
    return await chan.run(command, **kw)


async def eventually_dead(container: str, pids: list[int], within: float = 15.0) -> list[int]:
    """The pids still alive after waiting up to `within` seconds (a bound so a failure cannot hang)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while (alive := alive_in_container(container, pids)) and loop.time() < end:
        await asyncio.sleep(0.2)
    return alive


async def read_when_there(chan: ExecChannel, path: str) -> str:
    for _ in range(100):
        out = await run(chan, f"cat {path} 2>/dev/null")
        if out.stdout.strip():
            return out.stdout
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


# --- fresh-process semantics ---------------------------------------------------------------------

@docker
async def test_stdout_stderr_separate_and_exit_code(channel):
    out = await run(channel, "echo out; echo err >&2; exit 3")
    assert (out.exit_code, out.stdout, out.stderr, out.timed_out, out.signal) == (3, "out\n", "err\n", False, None)


@docker
async def test_death_by_signal_reads_like_a_shell(channel):
    out = await run(channel, "kill -KILL $$")
    assert (out.exit_code, out.signal) == (137, 9)


@docker
async def test_work_dir_env_and_non_interactive_defaults(channel):
    out = await run(channel, 'pwd; echo "$GREETING|$PAGER|$GIT_TERMINAL_PROMPT|$DEBIAN_FRONTEND"; echo $HOME',
                    work_dir="/tmp", env={"GREETING": "hi there"})
    assert out.stdout.splitlines() == ["/tmp", "hi there|cat|0|noninteractive", "/home/massgen"]


@docker
async def test_each_command_leads_its_own_session(channel):
    out = await run(channel, "cut -d' ' -f1,5,6 /proc/$$/stat")
    pid, pgid, sid = out.stdout.split()
    assert pid == pgid == sid and int(pid) != channel.helper_pid


@docker
async def test_venv_in_work_dir_goes_first_on_path(channel):
    project = f"/tmp/proj-{uuid.uuid4().hex[:6]}"
    await run(channel, f"mkdir -p {project}/.venv/bin {project}/plain")
    out = await run(channel, 'echo "$PATH"; echo "$VIRTUAL_ENV"', work_dir=project)
    path, venv = out.stdout.splitlines()
    assert path.startswith(f"{project}/.venv/bin:/home/massgen/.local/bin:") and venv == f"{project}/.venv"
    plain = await run(channel, 'echo "$PATH|$VIRTUAL_ENV"', work_dir=f"{project}/plain")
    assert not plain.stdout.startswith(project) and plain.stdout.rstrip().endswith("|")


@docker
async def test_missing_work_dir_is_a_start_failure(channel):
    out = await run(channel, "pwd", work_dir="/no/such/dir")
    assert out.exit_code == 126 and "/no/such/dir" in out.stderr and "No such file" in out.stderr


@docker
async def test_user_is_chosen_when_the_channel_opens(container):
    chan = await ExecChannel.open(docker_cli(), container, user="0")
    try:
        assert (await run(chan, "id -u")).stdout == "0\n"
    finally:
        await chan.close()


@docker
async def test_network_none_and_the_helper_needs_no_socket(channel, container):
    assert inspect(container)["HostConfig"]["NetworkMode"] == "none"
    out = await run(channel, "ls /proc/$PPID/fd -l | grep -c socket || true")
    assert out.stdout.strip() == "0"  # the helper talks over its stdio pipes (or a unix socket: no network)


# --- concurrency, output ------------------------------------------------------------------------

@docker
async def test_fifty_concurrent_commands_run_at_once_and_keep_their_output(channel):
    barrier = f"/tmp/barrier-{uuid.uuid4().hex[:6]}"
    await run(channel, f"mkdir {barrier}")
    # Each command waits until all 50 have started: queued commands would never see the 50th.
    script = (f"touch {barrier}/$N; i=0; while [ $(ls {barrier} | wc -l) -lt 50 ] && [ $i -lt 300 ]; "
              "do sleep 0.1; i=$((i+1)); done; echo out$N; echo err$N >&2; exit $((N % 7))")
    results = await asyncio.gather(*(run(channel, script, env={"N": str(n)}) for n in range(50)))
    for n, out in enumerate(results):
        assert (out.stdout, out.stderr, out.exit_code) == (f"out{n}\n", f"err{n}\n", n % 7)
    assert (await run(channel, f"ls {barrier} | wc -l")).stdout.strip() == "50"


@docker
async def test_output_cap_keeps_the_head_and_counts_the_rest(channel):
    out = await run(channel, "head -c 5000 /dev/zero | tr '\\0' a; printf 'éé' >&2", output_cap=1000)
    assert out.stdout_dropped == 4000 and out.stderr_dropped == 0 and out.truncated
    assert out.stdout == "a" * 1000 + "\n... (truncated 4000 bytes)" and out.stderr == "éé"
    cut = await run(channel, "printf 'é%.0s' $(seq 600)", output_cap=1001)  # 1200 bytes, cap mid-character
    assert cut.stdout == "é" * 500 + "\n... (truncated 200 bytes)" and cut.stdout_dropped == 200  # the cut é counts


@docker
async def test_ten_megabytes_arrive_intact(channel):
    path = f"/tmp/big-{uuid.uuid4().hex[:6]}"
    await run(channel, f"head -c 7500000 /dev/urandom | base64 > {path}")
    digest = (await run(channel, f"sha256sum {path}")).stdout.split()[0]
    out = await run(channel, f"cat {path}; rm {path}", output_cap=20_000_000)
    assert len(out.stdout) == 10_000_000 + 10_000_000 // 76 + 1 and out.stdout_dropped == 0
    assert hashlib.sha256(out.stdout.encode()).hexdigest() == digest


@docker
async def test_without_the_mount_the_helper_reports_no_socket_and_frames_use_stdio(caplog):
    """The host listens (its directory exists) but the container never got it mounted: nothing hangs."""
    container = start_container()
    prepare_dir(container)
    caplog.set_level("DEBUG", logger="mgexec.channel")
    try:
        chan = await ExecChannel.open(docker_cli(), container)
        try:
            out = await run(chan, "head -c 3000000 /dev/zero | tr '\\0' x; echo err >&2", output_cap=5_000_000)
            assert (out.stdout, out.stderr, chan.uses_socket) == ("x" * 3_000_000, "err\n", False)
        finally:
            await chan.close()
    finally:
        remove(container)
        remove_dir(container)
    assert "no socket (" in caplog.text and "output over stdio" in caplog.text


# --- kills inside the container -----------------------------------------------------------------


@docker
async def test_a_process_that_leaves_the_group_does_not_hold_the_result(channel, container):
    out = await run(channel, "setsid sleep 300 & echo $!", timeout=60)
    assert (out.exit_code, out.timed_out) == (0, False)
    # It left the command's group on purpose, so it is out of reach like under a fresh `docker exec`.
    subprocess.run([docker_binary(), "exec", container, "kill", "-KILL", out.stdout.strip()], capture_output=True)


@docker
async def test_cancelling_the_host_task_kills_the_command_inside(channel, container):
    pidfile = f"/tmp/pid-{uuid.uuid4().hex[:6]}"
    task = asyncio.create_task(run(channel, f"trap '' TERM; echo $$ > {pidfile}; sleep 300", kill_grace=0.5))
    pid = int(await read_when_there(channel, pidfile))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await eventually_dead(container, [pid]) == []
    assert (await run(channel, "echo still fine")).stdout == "still fine\n"


# --- losing the channel -------------------------------------------------------------------------

@docker
async def test_helper_killed_inside_fails_in_flight_commands_and_reopens(channel, container):
    pidfile = f"/tmp/pid-{uuid.uuid4().hex[:6]}"
    task = asyncio.create_task(run(channel, f"echo $$ > {pidfile}; exec sleep 300"))
    pid = int(await read_when_there(channel, pidfile))
    old_helper = channel.helper_pid
    subprocess.run([docker_binary(), "exec", container, "kill", "-KILL", str(old_helper)], check=True)
    with pytest.raises(ChannelLost, match="ended while the command ran .*code 137.*killed by signal 9"):
        await asyncio.wait_for(task, 15)
    assert (await run(channel, "echo again")).stdout == "again\n"
    assert channel.helper_pid not in (None, old_helper)
    assert await eventually_dead(container, [pid]) == []  # the orphan was killed by a one-off exec


@docker
async def test_docker_exec_client_killed_on_the_host(channel, container):
    pidfile = f"/tmp/pid-{uuid.uuid4().hex[:6]}"
    task = asyncio.create_task(run(channel, f"echo $$ > {pidfile}; exec sleep 300"))
    pid = int(await read_when_there(channel, pidfile))
    helper = channel.helper_pid
    os.killpg(channel._link.child.pid, signal.SIGKILL)
    with pytest.raises(ChannelLost):
        await asyncio.wait_for(task, 15)
    assert await eventually_dead(container, [pid, helper]) == []
    assert (await run(channel, "echo again")).stdout == "again\n"


@docker
async def test_close_ends_the_helper_and_its_commands(container):
    chan = await ExecChannel.open(docker_cli(), container)
    pidfile = f"/tmp/pid-{uuid.uuid4().hex[:6]}"
    task = asyncio.create_task(run(chan, f"echo $$ > {pidfile}; exec sleep 300"))
    pid = int(await read_when_there(chan, pidfile))
    helper = chan.helper_pid
    await chan.close()
    with pytest.raises(ChannelLost, match="closed"):
        await asyncio.wait_for(task, 15)
    assert await eventually_dead(container, [pid, helper]) == []
    with pytest.raises(ChannelLost, match="takes no more commands"):
        await run(chan, "true")


@docker
async def test_container_removed_mid_command():
    require_image(IMAGE)
    name = start_container()
    try:
        chan = await ExecChannel.open(docker_cli(), name)
        task = asyncio.create_task(run(chan, "sleep 300"))
        await run(chan, "true")
        remove(name)
        with pytest.raises(ChannelLost):
            await asyncio.wait_for(task, 30)
        with pytest.raises(NoSuchContainer):
            await run(chan, "true")
        await chan.close()
    finally:
        remove(name)


# --- images that cannot host the helper ---------------------------------------------------------

@docker
async def test_image_without_python3_is_unavailable():
    name = start_container(ensure_test_image())
    try:
        with pytest.raises(ChannelUnavailable, match="no python3"):
            await ExecChannel.open(docker_cli(), name)
    finally:
        remove(name)


@docker
async def test_missing_container_is_docker_s_error_not_unavailable():
    require_image(IMAGE)
    with pytest.raises(NoSuchContainer):
        await ExecChannel.open(docker_cli(), f"mgexec-chan-missing-{uuid.uuid4().hex[:6]}")


@pytest.mark.parametrize("code, stderr, kind, words", [
    (126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "python3": '
          "executable file not found in $PATH: unknown", ChannelUnavailable, "no python3"),
    (127, "Error: crun: executable file `python3` not found in $PATH: No such file or directory",
     ChannelUnavailable, "no python3"),
    (TOO_OLD_EXIT, "mgexec-inside: needs Python 3.7 or newer, found 3.6.9", ChannelUnavailable, "older than 3.7"),
    (2, "Unknown option: -I\nusage: python3 [option] ...", ChannelUnavailable, "older than 3.7"),
    (1, "Traceback (most recent call last):\n  ...\nMemoryError", ChannelUnavailable, "did not start"),
    (1, "Error: No such container: gone", NoSuchContainer, "gone"),
    (1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", DockerUnavailable, "daemon"),
])
def test_open_failures_are_classified(code, stderr, kind, words):
    error = open_failure(["docker", "exec", "-i", "c1", "python3"], "c1", code, stderr)
    assert type(error) is kind and words in str(error) and isinstance(error, DockerError)


def test_helper_parses_as_python_3_7():
    ast.parse(helper_source(), feature_version=(3, 7))


@docker
async def test_stray_signals_to_the_helper_do_not_cut_the_channel(channel):
    helper = channel.helper_pid
    out = await run(channel, "for s in TERM INT HUP; do kill -$s $PPID; done; sleep 0.2; "
                             "grep SigIgn /proc/self/status; echo alive")
    assert out.stdout.splitlines() == ["SigIgn:\t0000000000000000", "alive"]  # nothing inherited as ignored
    assert channel.helper_pid == helper and (await run(channel, "echo $PPID")).stdout == f"{helper}\n"
