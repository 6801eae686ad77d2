"""Background shells inside the agent's container: one `docker exec -it` per shell, tree kills run
inside the container, and a watchdog process so that none outlives the server, even a SIGKILLed one.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import secrets
import signal
import subprocess
import sys

from mgexec import processes
from mgexec.docker.argv import ExecSpec, build_exec_argv, build_rm_argv
from mgexec.docker.channel_socket import channel_dir
from mgexec.docker.engine import DockerCLI
from mgexec.errors import MgexecError
from mgexec.inside.shell_wrapper import SHELL_WRAPPER
from mgexec.inside.sweep import SWEEP_COMMAND, TAG_VARIABLE
from mgexec.shells import docker_watchdog
from mgexec.shells.launcher import BACKGROUND_SHELL_ENV, Handshake, ShellProcess, SpawnOptions, _die_with, find_handshake

KILL_TIMEOUT = 30.0  # one `docker exec` that signals a tree
CLIENT_GRACE = 1.0  # after a SIGKILL inside, how long the local `docker exec` may take to notice

# Same shipping as the local launcher's wrapper: the source travels in an environment variable
# the bootstrap removes, so `ps` shows a short command line.
WATCHDOG_VARIABLE = "MGEXEC_DOCKER_GUARD"
WATCHDOG_BOOTSTRAP = f"import os; exec(os.environ.pop({WATCHDOG_VARIABLE!r}))"
WATCHDOG_SOURCE = inspect.getsource(docker_watchdog)

log = logging.getLogger("mgexec.shells")


class DockerLauncher:
    """Runs shells in a running container through `docker exec -it`, and signals their trees there.

    Each shell's wrapper announces its pid inside the container; being the exec's session leader,
    that pid is the session id `kill_tree` signals (as the container's default user, the shells'
    own). The local `docker exec` client gets PR_SET_PDEATHSIG, but its death does not stop the
    process inside, so one guard per launcher (see `mgexec.shells.docker_watchdog`) holds a pipe whose only
    write end the server holds, and learns each session as it starts (`+SID`) and ends (`-SID`).
    When the pipe reaches EOF because the server died, the watchdog removes the container if the
    server owned it, else sweeps (mgexec.inside.sweep) the listed sessions' trees, what they
    orphaned to PID 1 since the first of them started, and every process tagged with this
    launcher's guard variable, in one `docker exec`. `close()` says `close` first: the watchdog then
    only sweeps, and the container is left to its owner, which removes it itself.
    """

    def __init__(self, *, cli: DockerCLI, container: str, owns_container: bool = False) -> None:
        self.cli = cli
        self.container = container
        self.owns_container = owns_container
        self.watchdog_tag = secrets.token_hex(8)  # the value of MGEXEC_GUARD in its shells
        self._sessions: dict[int, int | None] = {}  # session id -> start time, of shells not yet over
        self._starters: list[subprocess.Popen] = []
        self._floor: int | None = None  # see watch_since
        self._closed = False
        self._lifeline = self._start_guard()

    def argv_for(self, command: str, work_dir: str) -> list[str]:
        self._check_open()
        spec = ExecSpec(self.container, ("/bin/sh", "-c", SHELL_WRAPPER, "mgexec-shell", command), workdir=work_dir,
                        env={**BACKGROUND_SHELL_ENV, TAG_VARIABLE: self.watchdog_tag}, interactive=True, tty=True)
        return self.cli.argv(build_exec_argv(spec))

    def env_for(self, work_dir: str) -> dict[str, str]:
        return self.cli.client_env() or dict(os.environ)

    def spawn_options(self, work_dir: str) -> SpawnOptions:
        self._check_open()
        return SpawnOptions(cwd=None, preexec_fn=_die_with(os.getpid()))

    def read_handshake(self, data: bytes) -> Handshake | None:
        handshake = find_handshake(data)
        if handshake is not None:
            self._sessions[handshake.pid] = handshake.since
            self._tell(docker_watchdog.open_line(handshake.pid, handshake.since))
        return handshake

    async def kill_tree(self, shell: ShellProcess, sig: int) -> None:
        if shell.pid not in self._sessions:  # no pid announced, so nothing to signal inside
            _kill_client(shell.local_pid)
            return
        if not await self._signal_sessions(sig, shell.pid):
            _kill_client(shell.local_pid)  # unreachable inside: at least end the shell here
            return
        if sig != signal.SIGKILL:
            return
        if await processes.exited_within(shell.local_pid, CLIENT_GRACE):
            self._forget(shell.pid)
        else:
            _kill_client(shell.local_pid)  # its tree is dead; a client still waiting would wait forever

    def watch_since(self, since: int) -> None:
        """Also guard commands started in the container after `since` (clock ticks there) that carry
        this launcher's tag: per-command `docker exec`s, which have no session the watchdog learns of."""
        self._floor = since if self._floor is None else min(self._floor, since)
        self._tell(b"~%d\n" % since)

    def release_floor(self) -> None:
        """Undo watch_since: an owner that ends on purpose has nothing left started since."""
        self._floor = None
        self._tell(b"~-\n")

    def close(self) -> None:
        """Release the watchdog, which kills whatever is left of this launcher's shells."""
        if self._closed:
            return
        self._closed = True
        try:
            os.write(self._lifeline, docker_watchdog.CLOSE_LINE + b"\n")
        except OSError:
            pass  # the watchdog was killed from outside and cannot be told; closing is all that is left
        os.close(self._lifeline)
        self._starters = [starter for starter in self._starters if starter.poll() is None]

    async def _signal_sessions(self, sig: int, sid: int) -> bool:
        """Signal the shell's tree inside, and what it orphaned to PID 1 since it started (see mgexec.inside.sweep)."""
        words = docker_watchdog.sweep_args(signal.Signals(sig).name.removeprefix("SIG"), "-", {sid: self._sessions.get(sid)})
        argv = build_exec_argv(ExecSpec(self.container, (*SWEEP_COMMAND, *words)))
        try:
            out = await self.cli.run(argv, timeout=KILL_TIMEOUT, check=False)
        except MgexecError:  # the engine did not answer in time, or the CLI is gone
            return False
        return out.exit_code == 0

    def _forget(self, sid: int) -> None:
        if sid in self._sessions:
            del self._sessions[sid]
            self._tell(f"-{sid}\n".encode())

    def _tell(self, line: bytes) -> None:
        if self._closed:
            return
        try:
            os.write(self._lifeline, line)
        except BrokenPipeError:
            # The watchdog was killed from outside: start another and hand it what is still open.
            os.close(self._lifeline)
            try:
                self._lifeline = self._start_guard()
            except MgexecError as exc:
                self._lifeline = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)  # keeps later writes harmless
                log.warning("%s Until the server restarts, its background shells may outlive it.", exc)
                return
            os.write(self._lifeline, b"".join(docker_watchdog.open_line(sid, since) for sid, since in self._sessions.items())
                     + (b"~%d\n" % self._floor if self._floor is not None else b""))

    def _start_guard(self) -> int:
        read_end, write_end = os.pipe()  # both close-on-exec: only the watchdog gets the read end
        argv = [sys.executable, "-I", "-S", "-c", WATCHDOG_BOOTSTRAP, str(read_end), self.watchdog_tag,
                "owns" if self.owns_container else "keeps"]
        try:
            with processes.spawning() as own:  # a child of the server, never taken for an orphan
                guard_process = subprocess.Popen(
                    argv, env={**os.environ, WATCHDOG_VARIABLE: WATCHDOG_SOURCE,
                         docker_watchdog.ARGVS_VARIABLE: json.dumps(self._watchdog_argvs())},
                    pass_fds=(read_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True)
                own(guard_process.pid)
            self._starters.append(guard_process)
        except OSError as exc:
            os.close(write_end)
            raise MgexecError(f"Cannot start the watchdog process that ends background shells with the server "
                              f"({exc}); check that {sys.executable} can still be run.") from exc
        finally:
            os.close(read_end)
        return write_end

    def _watchdog_argvs(self) -> dict[str, list[str]]:
        return {"remove": self.cli.argv(build_rm_argv(self.container, force=True)),
                "sweep": self.cli.argv(build_exec_argv(ExecSpec(self.container, SWEEP_COMMAND))),
                "channel": str(channel_dir(self.container))}

    def _check_open(self) -> None:
        if self._closed:
            raise MgexecError("This docker launcher is closed; create a new one to start background shells.")


def _kill_client(local_pid: int) -> None:
    processes.signal_all([local_pid], signal.SIGKILL)
