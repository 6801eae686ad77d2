"""The warm channel helper's commands: how each starts (its environment) and how its whole tree is found
and killed. Part of the helper's one program (mgexec.docker.channel.helper_source), standard library only.
"""

import os
import signal

# Environment of every command on top of the container's: nothing may wait for a terminal.
# A copy of mgexec.environment (this file runs where mgexec is not installed): keep them in step.
NON_INTERACTIVE_ENV = {"PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "DEBIAN_FRONTEND": "noninteractive"}
# Copies of mgexec.environment's LINE_SHELL and SHELL_STARTUP_VARIABLES: keep them in step.
LINE_SHELL = "bash"
SHELL_STARTUP_VARIABLES = ("BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "POSIXLY_CORRECT", "CDPATH", "GLOBIGNORE")
# Once the main process has exited, how long its leftovers may keep the pipes open before their group
# is killed, and how long after that to wait for pipes held by processes that left the group.
LEFTOVER_WAIT = 0.2
ABANDON_WAIT = 0.2
START_FAILED = 126  # what a shell reports for a command it could not start
# How the error of a command whose working directory is unusable begins; the host reports it as its own.
CWD_FAILED_PREFIX = "mgexec: cannot run the command in "
# Why a command did not start, in its exit frame's FAILED_FIELD (the host reads these names from here).
FAILED_FIELD, FAILED_WORK_DIR, FAILED_START = "failed", "work_dir", "start"  # its cwd is unusable / other
PIPE_SIZE = 1 << 20  # a command's pipes, when the kernel allows (fs.pipe-max-size is 1 MB by default)
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4


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


class Containment:
    """What a kill takes: the command's group and session, its tree, and orphans adopted by the helper.
    Mixed into the helper, which keeps `jobs` (id -> Job) and `subreaper`."""

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

    def kill_everything(self):
        """The channel ended: every group it started, and everything the helper adopted, goes."""
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


def widen_pipe(fd):
    """Let a command's pipe hold PIPE_SIZE bytes, so big output moves in few large reads and frames;
    a pipe that cannot grow (a limit for this user) keeps the kernel's default size."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except (ImportError, OSError):
        pass
