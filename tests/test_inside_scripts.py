"""The scripts of mgexec.inside against the host code that depends on their exact words.

Each test runs a script as it runs in production (the same interpreter, argv and environment
variables) and reads its output with the host's own parser, so changing a marker, a frame field, an
argument order, a variable name or an exit code on one side alone fails here. The sweeps run on
this host only with a scope that can hold nothing but the test's own processes (its roots, its
unique tag); the pid-file scripts, which also sweep orphans of PID 1, run in a throwaway container.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dockermode import require_image
from mgexec import environment, processes
from mgexec.config import DEFAULT_IMAGE
from mgexec.docker.channel import _Link, open_failure
from mgexec.errors import ChannelUnavailable
from mgexec.inside import channel_jobs
from mgexec.inside.channel_boot import HELPER_BOOT, ORPHAN_GROUPS_KILL, TOO_OLD_EXIT
from mgexec.inside.keeper import KEEPER_REFUSED_EXIT, keeper_main
from mgexec.inside.pidfile import PIDFILE_KILL, PIDFILE_WRAPPER, grace_tenths
from mgexec.inside.shell_wrapper import SHELL_REFUSED_EXIT, SHELL_WRAPPER
from mgexec.inside.sweep import SWEEP_COMMAND, TAG_VARIABLE, closed_marker
from mgexec.runner import spawn
from mgexec.shells.docker_watchdog import sweep_args
from mgexec.shells.launcher import LocalLauncher, find_handshake

DOCKER = os.environ.get("MGEXEC_DOCKER") or "docker"


def start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat, as START_TIME_SH reads it."""
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rindex(b")") + 2:].split()[19])


def own_session_sleep(env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(["sleep", "60"], start_new_session=True, env=env, stdin=subprocess.DEVNULL)


def ended_by(proc: subprocess.Popen, seconds: float = 10) -> int:
    """The signal that ended proc (it must end within seconds)."""
    return -proc.wait(timeout=seconds)


# --- shipped termination functions ----------------------------------------------------------------

def test_shipped_functions_run_with_nothing_imported():
    namespace: dict = {}
    exec(compile(processes.shipped_source(), "shipped", "exec"), namespace)
    sleeper = own_session_sleep()
    try:
        assert sleeper.pid in namespace["descendants"](os.getpid())
        assert namespace["read_stat"](sleeper.pid)[3] == sleeper.pid  # its own session
        assert namespace["freeze_and_kill"](lambda: {sleeper.pid} if sleeper.poll() is None else set()) == 1
        assert ended_by(sleeper) == signal.SIGKILL
    finally:
        sleeper.kill()


# --- the local shell keeper ----------------------------------------------------------------------

def test_keeper_handshake_argv_and_exit_status_agree_with_the_launcher(tmp_path):
    launcher = LocalLauncher(shell="/bin/bash")
    try:
        argv = launcher.argv_for("echo from-the-shell; exit 7", str(tmp_path))
        options = launcher.spawn_options(str(tmp_path))
        keeper = subprocess.run(argv, env=launcher.env_for(str(tmp_path)), cwd=options.cwd, pass_fds=options.pass_fds,
                                capture_output=True, timeout=30)
    finally:
        launcher.close()
    handshake = find_handshake(keeper.stdout)
    assert handshake is not None, keeper
    assert handshake.rest == b"from-the-shell\n"
    assert keeper.returncode == 7  # the shell's status, through the keeper
    assert f"os._exit({KEEPER_REFUSED_EXIT})" in inspect.getsource(keeper_main)


# --- the docker shell wrapper and the sweep --------------------------------------------------------

def run_shell_wrapper(command: str, tag: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], TAG_VARIABLE: tag}
    return subprocess.run(["/bin/sh", "-c", SHELL_WRAPPER, "mgexec-shell", command], env=env, capture_output=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def test_shell_wrapper_announces_its_pid_and_start_time_as_the_launcher_reads_them():
    reads_itself = 'read -r st < /proc/$$/stat; set -- ${st##*") "}; echo "$$ ${20}"'
    out = run_shell_wrapper(reads_itself, f"t{uuid.uuid4().hex}")
    handshake = find_handshake(out.stdout)
    assert handshake is not None, out
    pid, since = map(int, handshake.rest.split())
    assert (handshake.pid, handshake.since) == (pid, since)  # the shell's session leader and its start time


def test_tagged_sweep_kills_tagged_processes_and_then_shells_of_that_tag_refuse():
    tag = f"t{uuid.uuid4().hex}"
    marker = Path(closed_marker(tag))
    tagged = own_session_sleep({**os.environ, TAG_VARIABLE: tag})
    untagged = own_session_sleep()
    try:
        # Watchdog's argv, less the `docker exec CONTAINER` in front: no roots, no since, only the tag.
        argv = [*SWEEP_COMMAND, *sweep_args("KILL", tag, {})]
        subprocess.run(argv, check=True, timeout=60, stdin=subprocess.DEVNULL)
        assert ended_by(tagged) == signal.SIGKILL
        assert untagged.poll() is None
        assert marker.exists()
        refused = run_shell_wrapper("echo ran", tag)
        assert refused.returncode == SHELL_REFUSED_EXIT
        assert b"ran" not in refused.stdout and b"has ended" in refused.stderr
    finally:
        tagged.kill()
        untagged.kill()
        marker.unlink(missing_ok=True)


def test_sweep_takes_its_arguments_in_the_order_the_watchdog_gives_them():
    root = own_session_sleep()
    bystander = own_session_sleep()
    try:
        argv = [*SWEEP_COMMAND, *sweep_args("TERM", "-", {root.pid: None})]
        subprocess.run(argv, check=True, timeout=60, stdin=subprocess.DEVNULL)
        assert ended_by(root) == signal.SIGTERM
        assert bystander.poll() is None
    finally:
        root.kill()
        bystander.kill()


# --- the warm channel's helper --------------------------------------------------------------------

def test_helper_keeps_copies_of_the_environment_rules():
    assert channel_jobs.NON_INTERACTIVE_ENV == environment.NON_INTERACTIVE_ENV
    assert channel_jobs.LINE_SHELL == environment.LINE_SHELL
    assert channel_jobs.SHELL_STARTUP_VARIABLES == environment.SHELL_STARTUP_VARIABLES


def test_boot_exit_code_for_an_old_python_is_the_one_the_host_maps():
    assert f"sys.exit({TOO_OLD_EXIT})" in HELPER_BOOT
    error = open_failure(["docker", "exec"], "c1", TOO_OLD_EXIT, "mgexec-inside: needs Python 3.7 or newer")
    assert isinstance(error, ChannelUnavailable) and "older than 3.7" in str(error)


@pytest.fixture
async def helper_link():
    """The helper run here, with its program sent by the host's own handshake, read by the host's _Link."""
    argv = [sys.executable, "-I", "-u", "-c", HELPER_BOOT]
    child = await spawn(argv, stdin_pipe=True)
    link = _Link(child, argv, "this-host", on_lost=lambda pids: None)
    await link.handshake()
    try:
        yield link
    finally:
        await link.close()


async def test_helper_frames_carry_output_codes_and_timeouts_to_the_host(helper_link, tmp_path):
    assert helper_link.helper_pid == helper_link.child.pid
    out = await helper_link.run("echo out; echo err >&2; exit 3", str(tmp_path), 10, 1000, 1.0, {"X": "1"})
    assert (out.exit_code, out.stdout, out.stderr, out.timed_out) == (3, "out\n", "err\n", False)
    capped = await helper_link.run("printf 0123456789", str(tmp_path), 10, 4, 1.0, None)
    assert (capped.stdout_dropped, capped.stdout.startswith("0123")) == (6, True)
    slow = await helper_link.run("sleep 30", str(tmp_path), 0.3, 1000, 1.0, None)
    assert slow.timed_out and slow.signal == signal.SIGTERM


async def test_helper_reports_an_unusable_cwd_in_the_words_the_executor_refuses(helper_link, tmp_path):
    out = await helper_link.run("true", str(tmp_path / "missing"), 10, 1000, 1.0, None)
    assert out.exit_code == channel_jobs.START_FAILED
    assert out.stderr.startswith(channel_jobs.CWD_FAILED_PREFIX)


async def test_helper_reports_the_started_pid_and_obeys_a_cancel(helper_link, tmp_path):
    task = asyncio.create_task(helper_link.run("sleep 30", str(tmp_path), 60, 1000, 1.0, None))
    deadline = time.monotonic() + 10
    while not any(request.pid for request in helper_link.pending.values()):
        assert time.monotonic() < deadline, "no `started` frame"
        await asyncio.sleep(0.02)
    pid = next(request.pid for request in helper_link.pending.values())
    assert Path(f"/proc/{pid}").exists()  # the helper runs here: its pid is this host's
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    while (stat := processes.read_stat(pid)) is not None and stat[0] != "Z":
        assert time.monotonic() < deadline + 10, "the cancelled command still runs"
        await asyncio.sleep(0.02)


def test_orphan_groups_kill_takes_group_ids_as_arguments():
    group = own_session_sleep()
    try:
        subprocess.run(["python3", "-I", "-c", ORPHAN_GROUPS_KILL, str(group.pid)], check=True, timeout=30)
        assert ended_by(group) == signal.SIGKILL
    finally:
        group.kill()


# --- the pid-file scripts of docker mode without the channel ----------------------------------------

@pytest.fixture
def container():
    require_image(DEFAULT_IMAGE)
    name = f"mgexec-inside-test-{uuid.uuid4().hex[:10]}"
    subprocess.run([DOCKER, "run", "-d", "--rm", "--name", name, "--entrypoint", "sleep", DEFAULT_IMAGE, "600"],
                   check=True, capture_output=True, timeout=120)
    try:
        yield name
    finally:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True, timeout=120)


def docker_sh(container: str, script: str, *args: str, detach: bool = False) -> subprocess.CompletedProcess:
    flags = ["-d"] if detach else []
    return subprocess.run([DOCKER, "exec", *flags, container, "/bin/sh", "-c", script, "mgexec", *args],
                          capture_output=True, text=True, timeout=60)


def wait_for_file(container: str, path: str) -> str:
    deadline = time.monotonic() + 30
    while not (text := docker_sh(container, 'cat "$1" 2>/dev/null || true', path).stdout.strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)
    return text


@pytest.mark.docker
def test_pidfile_wrapper_writes_what_the_kill_reads(container):
    pidfile = f"/tmp/.mgexec-{uuid.uuid4().hex}.pid"
    docker_sh(container, PIDFILE_WRAPPER, pidfile, "exec sleep 300", detach=True)
    pid, since = map(int, wait_for_file(container, pidfile).split())
    started = docker_sh(container, 'read -r st < /proc/$1/stat; set -- ${st##*") "}; echo ${20}', str(pid))
    assert int(started.stdout) >= since  # the command started after the wrapper
    killed = docker_sh(container, PIDFILE_KILL, pidfile, grace_tenths(processes.KILL_GRACE))
    assert killed.returncode == 0, killed
    left = docker_sh(container, '[ -e "/proc/$1" ] && echo alive; [ -e "$2" ] && echo file; true', str(pid), pidfile)
    assert left.stdout.strip() == ""


@pytest.mark.docker
def test_pidfile_wrapper_exits_with_the_command_and_removes_its_file(container):
    pidfile = f"/tmp/.mgexec-{uuid.uuid4().hex}.pid"
    done = docker_sh(container, PIDFILE_WRAPPER, pidfile, "echo hi; exit 4")
    assert (done.returncode, done.stdout) == (4, "hi\n")
    assert docker_sh(container, '[ -e "$1" ] && echo file; true', pidfile).stdout == ""
    assert grace_tenths(0.01) == "1" and grace_tenths(2.0) == "20"


async def test_the_engine_s_words_before_a_hello_are_its_error():
    """docker prints its own failure to start the helper on stdout, where frames would come: still reported."""
    said = 'OCI runtime exec failed: exec failed: exec: "python3": executable file not found in $PATH: unknown'
    argv = ["sh", "-c", f"printf '%s' '{said}'; exit 126"]
    link = _Link(await spawn(argv, stdin_pipe=True), argv, "c1", on_lost=lambda pids: None)
    try:
        with pytest.raises(ChannelUnavailable, match="no python3") as caught:
            await link.handshake()
        assert "executable file not found" in caught.value.stderr
    finally:
        await link.close()


async def test_lines_before_the_hello_do_not_disturb_the_frames_after_it(tmp_path):
    argv = ["sh", "-c", 'echo "a notice"; echo "{not json"; exec "$0" -I -u -c "$1"', sys.executable, HELPER_BOOT]
    link = _Link(await spawn(argv, stdin_pipe=True), argv, "this-host", on_lost=lambda pids: None)
    try:
        await link.handshake()
        out = await link.run("printf 'x%.0s' $(seq 70000); echo err >&2", str(tmp_path), 10, 1_000_000, 1.0, None)
        assert (out.stdout, out.stderr, link.uses_socket) == ("x" * 70000, "err\n", False)
        assert link.said == b"a notice\n{not json\n"
    finally:
        await link.close()
