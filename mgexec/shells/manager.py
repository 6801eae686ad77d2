"""Background shells: commands in a pseudo-terminal that keep running while the agent works.

Results follow MassGen 0.1.12's background-shell tools; errors are MgexecError subclasses.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import secrets
import signal
import time
from typing import Callable

import regex

from mgexec import saferegex
from mgexec.policy.inputs import check_text
from mgexec.result import clipped

from mgexec import processes
from mgexec.errors import (
    InvalidShellRequest,
    PolicyViolation,
    ShellLimitReached,
    ShellNotFound,
    ShellNotRunning,
    ShellStartFailed,
)
from mgexec.shells.buffer import OutputBuffer
from mgexec.shells.launcher import Launcher, ShellProcess
from mgexec.shells.shell import BackgroundShell, control_character, spawn_in_pty
from mgexec.waiting import finished_within

MAX_WAIT_SECONDS = 60.0
WAIT_FOR_SECONDS = 1.0  # one search of wait_for over the output (a thread; the loop goes on)
# A wake-up retries match starts this far back, so a match up to this long that arrives in
# pieces is found, while each search costs the new output plus this much, not the whole buffer.
WAIT_FOR_OVERLAP = 64 * 1024
WAIT_FOR_CONTEXT = 1024  # bytes before the first tried start that `^` and lookbehinds may see
HANDSHAKE_TIMEOUT = 10.0
LAST_RESORT_SECONDS = 10.0  # after SIGKILL to the tree, how long before signalling our child directly
ENTER = "\r"  # what the Enter key sends; the terminal turns it into "\n" for line-reading programs


class BackgroundShellManager:
    """The table of background shells of one owner (a server, an executor).

    Every public call first prunes finished shells older than `retention_seconds`. All state
    changes run on the event loop's thread; `start` registers a shell before its first await,
    so concurrent starts cannot overrun `max_running`.
    """

    def __init__(self, launcher: Launcher, *, max_running: int = 10, retention_seconds: float = 3600,
                 max_lines: int = 10_000, max_bytes: int = 4 * 1024 * 1024, kill_grace: float = processes.KILL_GRACE) -> None:
        self.launcher = launcher
        self.max_running = max_running
        self.retention_seconds = retention_seconds
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.kill_grace = kill_grace
        self._shells: dict[str, BackgroundShell] = {}
        self._closed = False

    async def start(self, command: str, work_dir: str, *, open_dir: Callable[[], int | None] | None = None) -> dict:
        """Start an approved command in a resolved work_dir: {shell_id, status, command, pid, work_dir}.

        `open_dir` gives a descriptor of the checked directory (local shells): the shell starts in
        it, so a directory swapped for a symlink after the check cannot redirect it.
        """
        self._prune()
        if self._closed:
            raise InvalidShellRequest("The background-shell manager is closed; no new shell can be started.")
        if sum(shell.status == "running" for shell in self._shells.values()) >= self.max_running:
            raise ShellLimitReached(
                f"Maximum concurrent shells ({self.max_running}) reached. "
                "Kill a running shell or wait for one to finish, then start this one again.")
        dir_fd = open_dir() if open_dir is not None else None
        try:
            shell = self._spawn(command, work_dir, dir_fd)
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        self._shells[shell.shell_id] = shell
        shell.watch()
        if not await finished_within(shell.handshaken, HANDSHAKE_TIMEOUT):
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
        if isinstance(wait_seconds, bool) or not isinstance(wait_seconds, (int, float)) or math.isnan(wait_seconds):
            raise InvalidShellRequest(f"wait_seconds must be a number of seconds (at most {MAX_WAIT_SECONDS:g}), "
                                      f"got {wait_seconds!r}.")
        wait = min(max(float(wait_seconds), 0.0), MAX_WAIT_SECONDS)
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
        try:
            check_text(text, "The input text", allow_nul=True)
        except PolicyViolation as exc:
            raise InvalidShellRequest(str(exc)) from None
        if (problem := shell.input_problem(data.encode("utf-8"))) is not None:
            raise InvalidShellRequest(f"{problem} Nothing was written to shell {shell_id}.")
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

    def _spawn(self, command: str, work_dir: str, dir_fd: int | None = None) -> BackgroundShell:
        options = self.launcher.spawn_options(work_dir)
        if dir_fd is None and options.cwd is not None and not os.path.isdir(options.cwd):
            raise ShellStartFailed(f"Cannot start a background shell in {work_dir}: it is not an existing "
                                   "directory. Create it or pass another work_dir.")
        argv = self.launcher.argv_for(command, work_dir)
        keep = (dir_fd,) if dir_fd is not None else ()  # open until preexec changes into it
        try:
            # Forked on the loop's own thread: PR_SET_PDEATHSIG follows the forking thread,
            # so a short-lived worker thread would take the shell down when it ends.
            with processes.spawning() as own:  # never taken for an orphan by a command's sweep
                child = spawn_in_pty(argv, self.launcher.env_for(work_dir), pass_fds=options.pass_fds + keep,
                                     preexec_fn=_preexec(options.cwd, options.preexec_fn, dir_fd))
                own(child.pid)
        except OSError as exc:
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
            sig = await processes.escalate(functools.partial(self.launcher.kill_tree, shell.process),
                                           functools.partial(finished_within, shell.exited), self.kill_grace)
            ended_by = signal.Signals(sig).name
            if sig == signal.SIGKILL and not await finished_within(shell.exited, LAST_RESORT_SECONDS):
                processes.signal_all([shell.process.local_pid], signal.SIGKILL)  # the tree kill did not reach it
        await shell.finished.wait()
        return ended_by

    async def _wait(self, shell: BackgroundShell, since_last_read: bool, pattern: saferegex.Pattern | None,
                    timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        tried_before = 0  # match starts before this stream offset need no new try
        while True:
            since = shell.read_cursor if since_last_read else 0
            # Noted before the search, which yields to the loop: output that arrives meanwhile, and
            # the end of the shell, are searched in the next round rather than missed.
            ended, seen = shell.finished.is_set(), shell.buffer.end_offset
            if pattern is not None:
                if await _search_new(pattern, shell, since, tried_before):
                    return True
                tried_before = seen - WAIT_FOR_OVERLAP
            elif seen > shell.read_cursor:
                return False
            remaining = deadline - time.monotonic()
            if ended or remaining <= 0:
                return False
            if shell.buffer.end_offset == seen and not shell.finished.is_set():
                await shell.changed(remaining)

    def _get(self, shell_id: str) -> BackgroundShell:
        self._prune()
        shell = self._shells.get(shell_id)
        if shell is None:
            raise ShellNotFound(f"Shell not found: {clipped(shell_id, 200)}")
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


def _preexec(cwd: str | None, then: Callable[[], None] | None, dir_fd: int | None = None) -> Callable[[], None]:
    # ptyprocess changes directory outside its error handling: a failure there would leave a
    # forked copy of the server running. Inside preexec_fn, a failure is reported and exits.
    def preexec() -> None:
        if dir_fd is not None:
            os.fchdir(dir_fd)
        elif cwd is not None:
            os.chdir(cwd)
        if then is not None:
            then()

    return preexec


def _compile(pattern: str) -> saferegex.Pattern:
    shown = clipped(repr(pattern), 200)
    try:
        return saferegex.compile_agent_pattern(pattern, regex.MULTILINE)
    except regex.error as exc:
        raise InvalidShellRequest(f"wait_for is not a valid regular expression ({exc}): {shown}. "
                                  "Escape special characters such as ( [ . * with a backslash.") from None
    except saferegex.PatternTooComplex as exc:
        raise InvalidShellRequest(f"wait_for cannot be used: {exc}: {shown}. Wait for a short, simple "
                                  "pattern, such as a literal line the program prints.") from None


async def _search_new(pattern: saferegex.Pattern, shell: BackgroundShell, since: int, tried_before: int) -> bool:
    """Search the output from `since`, trying only match starts at or after `tried_before` (less an
    overlap already counted in by the caller), off the event loop and within WAIT_FOR_SECONDS."""
    text, pos = shell.buffer.window(since, max(since, tried_before), WAIT_FOR_CONTEXT)
    if pos >= len(text) and tried_before > since:
        return False
    try:
        found = await asyncio.to_thread(saferegex.run, pattern, "search", text, WAIT_FOR_SECONDS, pos)
    except saferegex.RegexTimeout:
        raise InvalidShellRequest(
            f"wait_for {pattern.pattern!r} did not finish searching {len(text)} characters of output within "
            f"{WAIT_FOR_SECONDS:g} seconds (catastrophic backtracking, as in `(a|aa)+$`); the wait was "
            "stopped. Use a simpler pattern, such as a literal line the program prints.") from None
    return found is not None
