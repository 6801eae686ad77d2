"""Background shells: commands in a pseudo-terminal that keep running while the agent works.

Results follow MassGen 0.1.12's background-shell tools; errors are MgexecError subclasses.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import time
from typing import Callable

import pexpect

from mgexec import processes
from mgexec.errors import (
    InvalidShellRequest,
    ShellLimitReached,
    ShellNotFound,
    ShellNotRunning,
    ShellStartFailed,
)
from mgexec.shells.buffer import OutputBuffer
from mgexec.shells.launcher import Launcher, ShellProcess
from mgexec.shells.shell import BackgroundShell, PtySpawn, control_character, wait_event

MAX_WAIT_SECONDS = 60.0
HANDSHAKE_TIMEOUT = 10.0
LAST_RESORT_SECONDS = 10.0  # after SIGKILL to the tree, how long before signalling our child directly
TERMINAL_SIZE = (40, 200)  # rows, columns: wide enough that tools do not wrap most lines
ENTER = "\r"  # what the Enter key sends; the terminal turns it into "\n" for line-reading programs


class BackgroundShellManager:
    """The table of background shells of one owner (a server, an executor).

    Every public call first prunes finished shells older than `retention_seconds`. All state
    changes run on the event loop's thread; `start` registers a shell before its first await,
    so concurrent starts cannot overrun `max_running`.
    """

    def __init__(self, launcher: Launcher, *, max_running: int = 10, retention_seconds: float = 3600,
                 max_lines: int = 10_000, max_bytes: int = 4 * 1024 * 1024, kill_grace: float = 2.0) -> None:
        self.launcher = launcher
        self.max_running = max_running
        self.retention_seconds = retention_seconds
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.kill_grace = kill_grace
        self._shells: dict[str, BackgroundShell] = {}
        self._closed = False

    async def start(self, command: str, work_dir: str) -> dict:
        """Start an approved command in a resolved work_dir: {shell_id, status, command, pid, work_dir}."""
        self._prune()
        if self._closed:
            raise InvalidShellRequest("The background-shell manager is closed; no new shell can be started.")
        if sum(shell.status == "running" for shell in self._shells.values()) >= self.max_running:
            raise ShellLimitReached(
                f"Maximum concurrent shells ({self.max_running}) reached. "
                "Kill a running shell or wait for one to finish, then start this one again.")
        shell = self._spawn(command, work_dir)
        self._shells[shell.shell_id] = shell
        shell.watch()
        if not await wait_event(shell.handshaken, HANDSHAKE_TIMEOUT):
            await self._kill(shell)
            raise ShellStartFailed(f"Shell {shell.shell_id} did not report its process id within "
                                   f"{HANDSHAKE_TIMEOUT:g} seconds and was killed; try starting it again.")
        return {"shell_id": shell.shell_id, "status": shell.status, "command": command,
                "pid": shell.process.pid, "work_dir": work_dir}

    async def output(self, shell_id: str, *, since_last_read: bool = False, tail_lines: int | None = None,
                     wait_seconds: float = 0, wait_for: str | None = None) -> dict:
        """The shell's output (stdout and stderr merged, as a terminal shows them) and its state.

        `wait_seconds` (at most 60) waits for output not yet returned by any earlier call, or
        with `wait_for` for that regex (multi-line mode) to appear; the wait ends early when the
        shell ends. Every call moves the read cursor that `since_last_read` starts from.
        """
        shell = self._get(shell_id)
        if tail_lines is not None and tail_lines < 0:
            raise InvalidShellRequest(f"tail_lines must be 0 or more (got {tail_lines}).")
        pattern = _compile(wait_for) if wait_for is not None else None
        wait = min(max(wait_seconds, 0.0), MAX_WAIT_SECONDS)
        matched = await self._wait(shell, since_last_read, pattern, wait)
        # From here to the cursor update nothing awaits: concurrent readers get disjoint pieces,
        # and a match found by the wait is in the text returned.
        since = shell.read_cursor if since_last_read else 0
        result = {
            "shell_id": shell_id,
            "stdout": shell.buffer.read(since, tail_lines),
            "stderr": "",
            "status": shell.status,
            "exit_code": shell.exit_code,
            "merged": True,
            "dropped_lines": shell.buffer.dropped_lines,
            "dropped_bytes": shell.buffer.dropped_bytes,
        }
        shell.read_cursor = shell.buffer.end_offset
        if pattern is not None:
            result["matched"] = matched
        return result

    async def status(self, shell_id: str) -> dict:
        """{shell_id, status, exit_code, pid, command, cwd, start_time (epoch seconds), duration_seconds}."""
        return self._get(shell_id).status_dict()

    async def kill(self, shell_id: str) -> dict:
        """SIGTERM the shell's tree, SIGKILL it after the grace; `signal` names what ended it."""
        shell = self._get(shell_id)
        if shell.finished.is_set() or (shell.exited.is_set() and not shell.kill_requested):
            await shell.finished.wait()
            return {"shell_id": shell_id, "status": shell.status, "signal": None,
                    "message": "Process already terminated"}
        ended_by = await self._kill(shell)
        return {"shell_id": shell_id, "status": shell.status, "signal": ended_by}

    async def send_input(self, shell_id: str, text: str, *, press_enter: bool = True,
                         control: str | None = None) -> dict:
        """Type text into the shell's terminal, then Enter, or instead of Enter a control key."""
        shell = self._get(shell_id)
        data = text + (control_character(control) if control is not None else ENTER if press_enter else "")
        if shell.exited.is_set():
            await shell.finished.wait()
        if shell.finished.is_set():
            raise ShellNotRunning(
                f"Shell {shell_id} is not running (status: {shell.status}); it cannot take input")
        written = await shell.write(data.encode("utf-8"))
        return {"shell_id": shell_id, "success": True, "bytes_written": written}

    async def list(self) -> dict:
        """{shells: [status of each], count}."""
        self._prune()
        shells = [shell.status_dict() for shell in self._shells.values()]
        return {"shells": shells, "count": len(shells)}

    async def remove(self, shell_id: str) -> dict:
        """Forget a finished shell and its output."""
        shell = self._get(shell_id)
        if not shell.finished.is_set():
            raise InvalidShellRequest(f"Shell {shell_id} is still running; kill it before removing it.")
        del self._shells[shell_id]
        return {"shell_id": shell_id, "removed": True}

    async def close(self) -> None:
        """Kill every running shell and close the launcher (used when the owner exits)."""
        self._closed = True
        running = [shell for shell in self._shells.values() if not shell.finished.is_set()]
        try:
            await asyncio.gather(*(self._kill(shell) for shell in running), return_exceptions=True)
        finally:
            self.launcher.close()

    def _spawn(self, command: str, work_dir: str) -> BackgroundShell:
        options = self.launcher.spawn_options(work_dir)
        if options.cwd is not None and not os.path.isdir(options.cwd):
            raise ShellStartFailed(f"Cannot start a background shell in {work_dir}: it is not an existing "
                                   "directory. Create it or pass another work_dir.")
        argv = self.launcher.argv_for(command, work_dir)
        try:
            # Forked on the loop's own thread: PR_SET_PDEATHSIG follows the forking thread,
            # so a short-lived worker thread would take the shell down when it ends.
            with processes.spawning() as own:  # never taken for an orphan by a command's sweep
                child = PtySpawn(argv[0], argv[1:], env=self.launcher.env_for(work_dir), echo=True,
                                  dimensions=TERMINAL_SIZE, pass_fds=options.pass_fds,
                                  preexec_fn=_preexec(options.cwd, options.preexec_fn))
                own(child.pid)
        except (OSError, pexpect.ExceptionPexpect) as exc:
            raise ShellStartFailed(f"Cannot start a background shell in {work_dir}: {exc}. Check that the "
                                   "directory is accessible and the program exists.") from exc
        return BackgroundShell(shell_id=self._new_id(), command=command, work_dir=work_dir, child=child,
                               process=ShellProcess(local_pid=child.pid, pid=child.pid),
                               buffer=OutputBuffer(self.max_lines, self.max_bytes), launcher=self.launcher)

    async def _kill(self, shell: BackgroundShell) -> str | None:
        # Concurrent kills of one shell share one escalation.
        if shell.kill_task is None:
            shell.kill_task = asyncio.get_running_loop().create_task(self._escalate(shell))
        return await asyncio.shield(shell.kill_task)

    async def _escalate(self, shell: BackgroundShell) -> str | None:
        ended_by = None
        if not shell.exited.is_set():
            shell.kill_requested = True
            await self.launcher.kill_tree(shell.process, signal.SIGTERM)
            ended_by = "SIGTERM"
            if not await wait_event(shell.exited, self.kill_grace):
                await self.launcher.kill_tree(shell.process, signal.SIGKILL)
                ended_by = "SIGKILL"
                if not await wait_event(shell.exited, LAST_RESORT_SECONDS):
                    os.kill(shell.process.local_pid, signal.SIGKILL)  # the tree kill did not reach it
        await shell.finished.wait()
        return ended_by

    async def _wait(self, shell: BackgroundShell, since_last_read: bool, pattern: re.Pattern | None,
                    timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            since = shell.read_cursor if since_last_read else 0
            if pattern is not None and pattern.search(shell.buffer.read(since)):
                return True
            if pattern is None and shell.buffer.end_offset > shell.read_cursor:
                return False
            remaining = deadline - time.monotonic()
            if shell.finished.is_set() or remaining <= 0:
                return False
            await shell.changed(remaining)

    def _get(self, shell_id: str) -> BackgroundShell:
        self._prune()
        shell = self._shells.get(shell_id)
        if shell is None:
            raise ShellNotFound(f"Shell not found: {shell_id}")
        return shell

    def _prune(self) -> None:
        horizon = time.monotonic() - self.retention_seconds
        for shell_id, shell in list(self._shells.items()):
            if shell.ended is not None and shell.ended < horizon:
                del self._shells[shell_id]

    def _new_id(self) -> str:
        while (shell_id := f"shell_{secrets.token_hex(4)}") in self._shells:
            pass
        return shell_id


def _preexec(cwd: str | None, then: Callable[[], None] | None) -> Callable[[], None]:
    # ptyprocess changes directory outside its error handling: a failure there would leave a
    # forked copy of the server running. Inside preexec_fn, a failure is reported and exits.
    def preexec() -> None:
        if cwd is not None:
            os.chdir(cwd)
        if then is not None:
            then()

    return preexec


def _compile(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise InvalidShellRequest(f"wait_for is not a valid regular expression ({exc}): {pattern!r}. "
                                  "Escape special characters such as ( [ . * with a backslash.") from None
