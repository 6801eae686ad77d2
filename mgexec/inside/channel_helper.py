"""mgexec's exec helper inside the agent's container: runs each requested command as a fresh process.

Injected by mgexec/docker/channel.py through one long-lived `docker exec -i ... python3`, whose stdio is
the channel (no socket, so `--network none` is fine). Standard library only, Python 3.7+, one file.

Protocol: one JSON object per line each way. Requests are `run` (id, cmd, cwd, env, timeout, grace, cap)
and `cancel` (id); replies are `hello` once, then per command `started` (its pid, also its process
group), `out` chunks (fd 1 or 2, base64) and one `exit` (code, signal, timed_out, dropped counts, error, failed).
Commands are multiplexed: none waits behind another.

Design: one thread, one selector. It watches stdin (requests), every command's stdout and stderr pipes,
and a self-pipe that SIGCHLD writes into (signal.set_wakeup_fd), so output, exits and requests are all
handled in one loop with no locks; the timers (deadline, kill grace, wait for leftovers) are the select
timeout. Exits are peeked with waitid(WNOWAIT) and reaped only once the group has been killed, so a
group id can never be reused by another process before it is signalled. When stdin closes, every group
it started is killed and it exits; SIGTERM, SIGINT and SIGHUP are ignored.

Containment: the helper is a child subreaper (a double fork's orphan comes to it, not PID 1). A kill
takes the command's session and group, its shell's descendants and the orphans adopted (except those
of another running command), freezes them (SIGSTOP: no fork loop races it) and SIGKILLs until none is
left. (Each shell a subreaper too would cost a fork instead of a vfork, about 2 ms, so it is not.)
mgexec.processes.SHIPPED (the /proc readers and the sweep) is appended when the channel sends this file.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import selectors
import signal
import subprocess
import sys
import time

PROTOCOL = 1
# Environment of every command on top of the container's: nothing may wait for a terminal.
# A copy of mgexec.environment (this file runs where mgexec is not installed): keep them in step.
NON_INTERACTIVE_ENV = {"PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "DEBIAN_FRONTEND": "noninteractive"}
# Copies of mgexec.environment's LINE_SHELL and SHELL_STARTUP_VARIABLES: keep them in step.
LINE_SHELL = "bash"
SHELL_STARTUP_VARIABLES = ("BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "POSIXLY_CORRECT", "CDPATH", "GLOBIGNORE")
READ_SIZE = 65536
# Once the main process has exited, how long its leftovers may keep the pipes open before their group
# is killed, and how long after that to wait for pipes held by processes that left the group.
LEFTOVER_WAIT = 0.2
ABANDON_WAIT = 0.2
START_FAILED = 126  # what a shell reports for a command it could not start
# How the error of a command whose working directory is unusable begins; the host reports it as its own.
CWD_FAILED_PREFIX = "mgexec: cannot run the command in "
# Why a command did not start, in its exit frame's FAILED_FIELD (the host reads these names from here).
FAILED_FIELD, FAILED_WORK_DIR, FAILED_START = "failed", "work_dir", "start"  # its cwd is unusable / other
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4


def write_frame(frame):
    data = (json.dumps(frame, separators=(",", ":")) + "\n").encode("ascii")
    while data:
        data = data[os.write(1, data):]


def set_process_option(libc, option):
    """prctl(option, 1 for the subreaper, 0 for dumpable); False when prctl is unavailable (Linux only).
    As a child subreaper, orphans come to the helper, not PID 1 (without it, kills go by process group
    alone). Not dumpable, /proc/<helper>/fd is closed to the commands (same uid), which could otherwise
    open the helper's stdout and write frames the host would take for the helper's; commands regain
    dumpable at their exec."""
    try:
        return libc is not None and libc.prctl(option, int(option == PR_SET_CHILD_SUBREAPER), 0, 0, 0) == 0
    except (AttributeError, OSError):
        return False


def load_libc():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return None


def kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass  # the group is already empty


def command_env(base, cwd, extra):
    """The helper's own environment (the container's) with the non-interactive defaults and a .venv first."""
    env = dict((k, v) for k, v in base.items()
               if k not in SHELL_STARTUP_VARIABLES and not k.startswith("BASH_FUNC_"))
    env.pop("PWD", None)  # the shell derives it from its working directory, as under a fresh exec
    env.update(NON_INTERACTIVE_ENV)
    env.update(extra or {})
    venv_bin = os.path.join(cwd, ".venv", "bin")
    if os.path.isdir(venv_bin):
        env["PATH"] = venv_bin + ":" + env.get("PATH", "")
        env["VIRTUAL_ENV"] = os.path.join(cwd, ".venv")
    return env


class Job:
    """One running command: its process, its pipes and its timers."""

    def __init__(self, rid, proc, request, now):
        self.id = rid
        self.proc = proc
        self.cap = int(request.get("cap") or 0)
        self.grace = float(request.get("grace") or 0)
        timeout = request.get("timeout")
        self.deadline = None if timeout is None else now + float(timeout)
        self.kill_at = None  # SIGKILL the group, after a SIGTERM
        self.leftover_at = None  # main process gone: kill the group if the pipes are still open
        self.abandon_at = None  # stop waiting for pipes held by processes outside the group
        self.timed_out = False
        self.exited = False
        self.sent = {1: 0, 2: 0}
        self.dropped = {1: 0, 2: 0}
        self.fds = {}  # fd -> 1 or 2

    @property
    def pgid(self):
        return self.proc.pid

    def next_timer(self):
        timers = [t for t in (self.deadline, self.kill_at, self.leftover_at, self.abandon_at) if t is not None]
        return min(timers) if timers else None

    def terminate(self, now, helper):
        """SIGTERM the command's whole tree, SIGKILL it after the grace period."""
        self.deadline = None
        kill_group(self.pgid, signal.SIGTERM)
        _signal_all(helper.tree(self), signal.SIGTERM)
        if self.kill_at is None:
            self.kill_at = now + self.grace


class Helper:
    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.jobs = {}  # id -> Job
        self.by_fd = {}  # pipe fd -> Job
        self.inbox = b""
        self.running = True
        self.base_env = dict(os.environ)
        self.libc = load_libc()
        self.subreaper = set_process_option(self.libc, PR_SET_CHILD_SUBREAPER)
        self.undumpable = set_process_option(self.libc, PR_SET_DUMPABLE)  # before the first request is read

    # --- requests -------------------------------------------------------------------------------
    def on_stdin(self):
        chunk = os.read(0, READ_SIZE)
        if not chunk:
            self.running = False
            return
        self.inbox += chunk
        while b"\n" in self.inbox:
            line, self.inbox = self.inbox.split(b"\n", 1)
            if line.strip():
                self.on_request(line)

    def on_request(self, line):
        try:
            request = json.loads(line.decode("utf-8"))
            op = request["op"]
        except (ValueError, KeyError, TypeError) as exc:
            write_frame({"op": "error", "id": None, "message": "unreadable request: %s" % exc})
            return
        if op == "run":
            self.start(request)
        elif op == "cancel":
            job = self.jobs.get(request.get("id"))
            if job is not None and not job.exited:
                job.terminate(time.monotonic(), self)
        else:
            write_frame({"op": "error", "id": request.get("id"), "message": "unknown op %r" % (op,)})

    def start(self, request):
        rid = request.get("id")
        cwd = request.get("cwd") or "/"
        try:
            proc = subprocess.Popen(
                [LINE_SHELL, "-c", request["cmd"]], cwd=cwd, env=command_env(self.base_env, cwd, request.get("env")),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            why, message = start_error(cwd, exc)
            write_frame({"op": "exit", "id": rid, "code": START_FAILED, "signal": None, "timed_out": False,
                         "dropped": [0, 0], "error": message, FAILED_FIELD: why})
            return
        job = Job(rid, proc, request, time.monotonic())
        self.jobs[rid] = job
        for stream, pipe in ((1, proc.stdout), (2, proc.stderr)):
            fd = os.dup(pipe.fileno())  # close_pipe closes this copy, never the fd the pipe object closes on del
            os.set_blocking(fd, False)
            job.fds[fd] = stream
            self.by_fd[fd] = job
            self.selector.register(fd, selectors.EVENT_READ)
        write_frame({"op": "started", "id": rid, "pid": proc.pid})

    # --- output ---------------------------------------------------------------------------------
    def on_pipe(self, fd):
        job = self.by_fd[fd]
        try:
            chunk = os.read(fd, READ_SIZE)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return
            chunk = b""
        if not chunk:
            self.close_pipe(job, fd)
            return
        stream = job.fds[fd]
        room = max(0, job.cap - job.sent[stream])
        keep = chunk[:room]
        job.dropped[stream] += len(chunk) - len(keep)
        if keep:
            job.sent[stream] += len(keep)
            write_frame({"op": "out", "id": job.id, "fd": stream, "data": base64.b64encode(keep).decode("ascii")})

    def close_pipe(self, job, fd):
        self.selector.unregister(fd)
        del self.by_fd[fd]
        del job.fds[fd]
        os.close(fd)

    # --- exits and timers -----------------------------------------------------------------------
    def check_exits(self, now):
        for job in list(self.jobs.values()):
            if job.exited:
                continue
            try:
                # WNOWAIT leaves the zombie in place: its pid keeps the group id reserved until reaped.
                info = os.waitid(os.P_PID, job.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = True
            if info is not None:
                job.exited = True
                job.deadline = None
                job.leftover_at = now + LEFTOVER_WAIT

    def run_timers(self, now):
        for job in list(self.jobs.values()):
            if job.deadline is not None and now >= job.deadline:
                job.timed_out = True
                job.terminate(now, self)
            if job.kill_at is not None and now >= job.kill_at:
                job.kill_at = None
                self.sweep(job)
            if job.leftover_at is not None and now >= job.leftover_at:
                job.leftover_at = None
                self.sweep(job)
                job.abandon_at = now + ABANDON_WAIT
            if job.abandon_at is not None and now >= job.abandon_at:
                for fd in list(job.fds):
                    self.close_pipe(job, fd)

    def finish_done(self):
        for job in list(self.jobs.values()):
            if job.exited and not job.fds:
                self.finish(job)

    def finish(self, job):
        code = job.proc.wait()
        # Nothing the command started may outlive it, even what closed its pipes early. Reaped, the
        # shell's session and group ids stay reserved while any member lives; its other processes are
        # in them or adopted by the helper, so a cheap check says whether a sweep is needed at all.
        if self.anything_left(job):
            self.sweep(job)
        del self.jobs[job.id]
        sig = -code if code < 0 else None
        write_frame({"op": "exit", "id": job.id, "code": 128 + sig if sig else code, "signal": sig,
                     "timed_out": job.timed_out, "dropped": [job.dropped[1], job.dropped[2]], "error": None})

    # --- containment --------------------------------------------------------------------------
    def adopted(self):
        """Children of the helper that are no command's shell: what ended commands left behind."""
        me, tops = os.getpid(), set(job.proc.pid for job in self.jobs.values())
        kids = set()
        try:
            with open("/proc/%d/task/%d/children" % (me, me)) as listing:
                kids = set(int(pid) for pid in listing.read().split())
        except OSError:
            kids = set(pid for pid, stat in process_table().items() if stat[1] == me)
        orphans = set()
        for pid in kids - tops:
            stat = read_stat(pid)
            if stat is not None and stat[0] in ("Z", "X"):
                reap(pid)
            elif stat is not None:
                orphans.add(pid)
        return orphans

    def tree(self, job):
        """The command's processes: its group and session, its tree, and orphans the helper adopted.

        An orphan still in another running command's session or group is that command's, and is
        left to it; one that also left its session and group cannot be told apart, and goes.
        """
        table = process_table()
        others = set(other.pgid for other in self.jobs.values() if other is not job)
        orphans = [pid for pid in self.adopted() if pid in table and not others & set(table[pid][2:4])]
        roots = orphans if job.proc.returncode is not None else [job.proc.pid] + orphans  # reaped: pid is free
        found = tree_of(table, roots, [job.pgid])
        return found - {os.getpid()} - others

    def anything_left(self, job):
        try:
            os.killpg(job.pgid, 0)
            return True
        except OSError:
            return bool(self.subreaper and self.adopted())

    def sweep(self, job):
        kill_group(job.pgid, signal.SIGKILL)
        if self.subreaper:
            freeze_and_kill(lambda: self.tree(job))

    def next_timeout(self, now):
        timers = [t for t in (job.next_timer() for job in self.jobs.values()) if t is not None]
        return max(0.0, min(timers) - now) if timers else None

    # --- main loop ------------------------------------------------------------------------------
    def serve(self):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.selector.register(0, selectors.EVENT_READ)
        self.selector.register(wake_r, selectors.EVENT_READ)
        write_frame({"op": "hello", "pid": os.getpid(), "protocol": PROTOCOL,
                     "python": "%d.%d.%d" % sys.version_info[:3]})
        try:
            while self.running:
                events = self.selector.select(self.next_timeout(time.monotonic()))
                for key, _ in events:
                    if key.fd == 0:
                        self.on_stdin()
                    elif key.fd == wake_r:
                        drain(wake_r)
                    elif key.fd in self.by_fd:
                        self.on_pipe(key.fd)
                now = time.monotonic()
                self.check_exits(now)
                self.run_timers(now)
                self.finish_done()
        finally:
            self.shutdown()

    def shutdown(self):
        for job in self.jobs.values():
            kill_group(job.pgid, signal.SIGKILL)
        if self.subreaper:
            me = os.getpid()
            freeze_and_kill(lambda: tree_of(process_table(), [me], [job.pgid for job in self.jobs.values()]) - {me})
        for job in self.jobs.values():
            try:
                job.proc.wait()
            except OSError:
                pass


def drain(fd):
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass  # empty (EAGAIN)


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except OSError:
        pass


def start_error(cwd, exc):
    if isinstance(exc, OSError) and exc.filename == cwd:
        return FAILED_WORK_DIR, CWD_FAILED_PREFIX + "%s: %s" % (cwd, exc.strerror or exc)
    return FAILED_START, "mgexec: cannot start the command: %s" % (exc,)


def main():
    # An agent's `pkill python3` must not cut the channel: only the end of stdin stops the helper.
    # A no-op handler rather than SIG_IGN, because ignored signals would stay ignored in the commands.
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        Helper().serve()
    except BrokenPipeError:
        pass  # the host went away: the groups are already killed


if __name__ == "__main__":
    main()
