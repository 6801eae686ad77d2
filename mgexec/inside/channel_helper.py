"""mgexec's exec helper inside the agent's container: runs each requested command as a fresh process.

Injected by mgexec/docker/channel.py through one long-lived `docker exec -i ... python3`, whose stdin
carries requests; with mgexec/inside/channel_jobs.py and mgexec/inside/wire.py it is one program, sent
as one source. Or started with the container (mgexec/docker/channel_start.py): `python3 -I -S -u PROGRAM
SOCKET TOKEN_FILE`, when both requests and frames go over the socket. Standard library only, Python 3.7+.

Protocol (the format is mgexec/inside/wire.py). Requests are JSON lines on stdin: first `open` (socket,
token: where to send frames instead of stdout, or nulls), then `run` (id, cmd, cwd, env, timeout, grace,
cap) and `cancel` (id). The helper answers with one JSON line on stdout, `hello` (pid, protocol, python,
socket: whether it connected), then only binary frames: per command CONTROL `started` (its pid, also
its process group), STDOUT and STDERR frames of raw output, and one CONTROL `exit` (code, signal,
timed_out, dropped counts, error, failed). With a socket, it connects to the unix socket the host
listens on (a directory mounted into the container), sends the token first, and writes every frame
there: the bytes skip the engine's multiplexed exec stream. Started with the container, it reads the
token from TOKEN_FILE (the host deletes it once connected), and the socket also carries the `hello` line
and the requests; its end is the lifeline, as stdin's is otherwise. Commands are multiplexed: none waits
behind another.

Design: one thread, one selector. It watches stdin (requests), every command's stdout and stderr pipes,
and a self-pipe that SIGCHLD writes into (signal.set_wakeup_fd), so output, exits and requests are all
handled in one loop with no locks; the timers (deadline, kill grace, wait for leftovers) are the select
timeout. Exits are peeked with waitid(WNOWAIT) and reaped only once the group has been killed, so a
group id can never be reused by another process before it is signalled. When stdin closes, every group
it started is killed and it exits; SIGTERM, SIGINT and SIGHUP are ignored.

Containment (channel_jobs.Containment): the helper is a child subreaper (a double fork's orphan comes
to it, not PID 1). A kill takes the command's session and group, its shell's descendants and the
orphans adopted (except those of another running command), freezes them (SIGSTOP: no fork loop races
it) and SIGKILLs until none is left. mgexec.processes.SHIPPED (the /proc readers and the sweep) is
appended when the channel sends this program.
"""

import errno
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

# --- host imports: the shipped program defines these names above this file's text ---
from mgexec.inside.channel_jobs import (FAILED_FIELD, LEFTOVER_WAIT, ABANDON_WAIT, LINE_SHELL, PR_SET_CHILD_SUBREAPER,
                                        PR_SET_DUMPABLE, START_FAILED, Containment, Job, command_env, drain,
                                        load_libc, set_process_option, start_error, widen_pipe)
from mgexec.inside.wire import (MAX_PAYLOAD, STDERR, STDOUT, TOKEN_BYTES, encode_control, encode_output,
                                write_frame)
# --- end of host imports ---

PROTOCOL = 2
READ_SIZE = MAX_PAYLOAD
CONNECT_TIMEOUT = 5.0


def write_line(message):
    data = (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")
    while data:
        data = data[os.write(1, data):]


def read_first_line():
    """The `open` request, read before anything else (blocking); returns it and what followed it."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(0, 65536)
        if not chunk:
            return None, b""
        data += chunk
    line, rest = data.split(b"\n", 1)
    try:
        request = json.loads(line.decode("utf-8"))
    except ValueError:
        request = None
    return (request if isinstance(request, dict) else {}), rest


def connect(path, token):
    """The host's socket, authenticated with the token; (socket, None) or (None, why not)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # not inheritable: commands never get it
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        secret = bytes.fromhex(token)
        if len(secret) != TOKEN_BYTES:
            raise ValueError("a token of %d bytes" % len(secret))
        sock.connect(path)
        sock.sendall(secret)
        sock.settimeout(None)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, MAX_PAYLOAD)
        except OSError:
            pass
        return sock, None
    except (OSError, ValueError) as exc:
        sock.close()
        return None, str(exc)


class Helper(Containment):
    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.jobs = {}  # id -> Job
        self.by_fd = {}  # pipe fd -> Job
        self.inbox = b""
        self.inp = 0  # where requests come from: stdin, or the socket when started with the container
        self.out = 1  # where frames go: stdout, or the host's socket once connected
        self.sock = None
        self.running = True
        self.base_env = dict(os.environ)
        self.libc = load_libc()
        self.subreaper = set_process_option(self.libc, PR_SET_CHILD_SUBREAPER)
        self.undumpable = set_process_option(self.libc, PR_SET_DUMPABLE)  # before the first request is read

    # --- requests -------------------------------------------------------------------------------
    def on_requests(self):
        chunk = os.read(self.inp, READ_SIZE)
        if not chunk:
            self.running = False
            return
        self.inbox += chunk
        self.take_requests()

    def take_requests(self):
        while b"\n" in self.inbox:
            line, self.inbox = self.inbox.split(b"\n", 1)
            if line.strip():
                self.on_request(line)

    def on_request(self, line):
        try:
            request = json.loads(line.decode("utf-8"))
            op = request["op"]
        except (ValueError, KeyError, TypeError) as exc:
            self.send(None, {"op": "error", "id": None, "message": "unreadable request: %s" % exc})
            return
        if op == "run":
            self.start(request)
        elif op == "cancel":
            job = self.jobs.get(request.get("id"))
            if job is not None and not job.exited:
                job.terminate(time.monotonic(), self)
        else:
            self.send(request.get("id"), {"op": "error", "id": request.get("id"), "message": "unknown op %r" % (op,)})

    def start(self, request):
        rid = request.get("id")
        cwd = request.get("cwd") or "/"
        try:
            proc = subprocess.Popen(
                [LINE_SHELL, "-c", request["cmd"]], cwd=cwd, env=command_env(self.base_env, cwd, request.get("env")),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            why, message = start_error(cwd, exc)
            self.send(rid, {"op": "exit", "id": rid, "code": START_FAILED, "signal": None, "timed_out": False,
                            "dropped": [0, 0], "error": message, FAILED_FIELD: why})
            return
        job = Job(rid, proc, request, time.monotonic())
        self.jobs[rid] = job
        for stream, pipe in ((1, proc.stdout), (2, proc.stderr)):
            fd = os.dup(pipe.fileno())  # close_pipe closes this copy, never the fd the pipe object closes on del
            os.set_blocking(fd, False)
            widen_pipe(fd)
            job.fds[fd] = stream
            self.by_fd[fd] = job
            self.selector.register(fd, selectors.EVENT_READ)
        self.send(rid, {"op": "started", "id": rid, "pid": proc.pid})

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
        keep = chunk if len(chunk) <= room else chunk[:room]
        job.dropped[stream] += len(chunk) - len(keep)
        if keep:
            job.sent[stream] += len(keep)
            write_frame(self.out, *encode_output(STDOUT if stream == 1 else STDERR, job.id, keep))

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
        self.send(job.id, {"op": "exit", "id": job.id, "code": 128 + sig if sig else code, "signal": sig,
                           "timed_out": job.timed_out, "dropped": [job.dropped[1], job.dropped[2]], "error": None})

    def next_timeout(self, now):
        timers = [t for t in (job.next_timer() for job in self.jobs.values()) if t is not None]
        return max(0.0, min(timers) - now) if timers else None

    def send(self, rid, message):
        write_frame(self.out, *encode_control(rid, message))

    # --- main loop ------------------------------------------------------------------------------
    def open(self):
        """Read the `open` request; connect to the host's socket if it names one; say hello on stdout."""
        request, self.inbox = read_first_line()
        if request is None:
            return False
        why = None
        widen_pipe(1)  # when stdout is a pipe (srt mode; inside docker, the pipe to the engine's shim)
        if request.get("socket"):
            self.sock, why = connect(request["socket"], request.get("token") or "")
            if self.sock is not None:
                self.out = self.sock.fileno()
        write_line({"op": "hello", "pid": os.getpid(), "protocol": PROTOCOL,
                    "python": "%d.%d.%d" % sys.version_info[:3], "socket": self.sock is not None, "socket_error": why})
        return True

    def open_booted(self, path, token_file):
        """Started with the container: connect with the token from the file; the socket carries everything."""
        try:
            with open(token_file, "rb") as stream:
                token = stream.read(2 * TOKEN_BYTES + 1).decode("ascii").strip()
        except (OSError, ValueError) as exc:
            sys.stderr.write("mgexec-inside: no token (%s)\n" % exc)
            return False
        self.sock, why = connect(path, token)
        if self.sock is None:
            sys.stderr.write("mgexec-inside: cannot connect to the host (%s)\n" % why)
            return False
        self.inp = self.out = self.sock.fileno()
        hello = {"op": "hello", "pid": os.getpid(), "protocol": PROTOCOL, "python": "%d.%d.%d" % sys.version_info[:3],
                 "socket": True, "socket_error": None}
        self.sock.sendall((json.dumps(hello, separators=(",", ":")) + "\n").encode("ascii"))
        return True

    def serve(self, booted=None):
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        if not (self.open_booted(*booted) if booted else self.open()):
            return
        self.selector.register(self.inp, selectors.EVENT_READ)
        self.selector.register(wake_r, selectors.EVENT_READ)
        try:
            self.take_requests()  # any that came with the `open` request
            while self.running:
                events = self.selector.select(self.next_timeout(time.monotonic()))
                for key, _ in events:
                    if key.fd == self.inp:
                        self.on_requests()
                    elif key.fd == wake_r:
                        drain(wake_r)
                    elif key.fd in self.by_fd:
                        self.on_pipe(key.fd)
                now = time.monotonic()
                self.check_exits(now)
                self.run_timers(now)
                self.finish_done()
        finally:
            self.kill_everything()


def main():
    # An agent's `pkill python3` must not cut the channel: only the end of stdin stops the helper.
    # A no-op handler rather than SIG_IGN, because ignored signals would stay ignored in the commands.
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    # Started with the container: argv is SOCKET TOKEN_FILE; through `docker exec`, argv is empty.
    booted = sys.argv[1:3] if len(sys.argv) == 3 else None
    try:
        Helper().serve(booted)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the host went away: the groups are already killed


if __name__ == "__main__":
    main()
