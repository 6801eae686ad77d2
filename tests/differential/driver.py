"""Runs inside the throwaway differential container (as root, standard library only): each corpus
line as `bash -c LINE` under strace, as an unprivileged user, in a fresh canary directory.

Input on stdin: {"lines": [...], "workers": N, "timeout": SECONDS}. Output on stdout: one JSON
object per line, {"i", "trace", "rc", "timed_out", "truncated", "seconds"} (with "error" if the
driver itself failed on that line), in the order lines finish.
Each worker has its own user (difftest0..3), so a line that kills or deletes everything its user
may touch (`kill -9 -1`, `rm -rf /`) cannot reach another worker's line, the traces (root's) or
the image (the root file system is read-only; only tmpfs mounts are writable).
"""

import json
import os
import pwd
import queue
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

ROOT = "/difftest"
TEMPLATE = ROOT + "/template"
TRACES = ROOT + "/traces"
TRACE_CAP = 4 * 1024 * 1024
NPROC_PER_WORKER = 28  # times 4 workers stays under the container's pids limit (128)
BACKGROUND_GRACE = 1.0
SYSCALLS = "trace=execve,execveat,clone,clone3,fork,vfork"

PROJECT = {
    "README.md": "# demo\n\nA canary project.\n",
    "pyproject.toml": "[project]\nname = \"demo\"\nversion = \"0.1\"\n",
    "requirements.txt": "requests\n",
    "setup.py": "from setuptools import setup\nsetup(name='demo')\n",
    "Makefile": "all:\n\t@echo built\ntest:\n\t@echo tested\nclean:\n\t@echo cleaned\n",
    "package.json": ('{"name": "demo", "version": "1.0.0",'
                     ' "scripts": {"test": "echo ok", "build": "echo built"}}\n'),
    "src/demo/__init__.py": "",
    "src/demo/main.py": "def main():\n    return 1\n\n\nif __name__ == '__main__':\n    print(main())\n",
    "tests/test_main.py": "from demo.main import main\n\n\ndef test_main():\n    assert main() == 1\n",
    "app.py": "print('hello')\n",
    "util.py": "# TODO: tidy\nX = 1\n",
    "data.csv": "id,name,score\n1,a,10\n2,b,20\n3,c,30\n",
    "notes.txt": "alpha\nbeta\ngamma\nalpha\n",
    "a.txt": "one\ntwo\n",
    "b.txt": "one\nthree\n",
    "config.json": '{"debug": true, "items": [1, 2, 3]}\n',
    "access.log": "1.2.3.4 - - GET /\n5.6.7.8 - - GET /x\n1.2.3.4 - - GET /y\n",
    "build/old.o": "",
    "docs/index.md": "# docs\n",
    "__pycache__/x.cpython-311.pyc": "",
    ".gitignore": "build/\n__pycache__/\n.venv/\n",
    ".venv/bin/activate": "VIRTUAL_ENV=$PWD/.venv\nexport VIRTUAL_ENV\n",
    "scripts/ci.sh": "#!/bin/sh\necho ci\n",
}
HOME = {
    ".gitconfig": "[user]\n\tname = Canary\n\temail = canary@example.invalid\n",
    ".ssh/id_ed25519": "CANARY-PRIVATE-KEY\n",
    ".bashrc": "# canary\n",
    ".profile": "# canary\n",
    "canary.txt": "canary\n",
}


def main() -> None:
    request = json.load(sys.stdin)
    # Counted per real uid (root is exempt), so once strace switches to a worker's user a fork
    # bomb stays inside its own worker instead of starving the container's pids limit.
    resource.setrlimit(resource.RLIMIT_NPROC, (NPROC_PER_WORKER, NPROC_PER_WORKER))
    make_template()
    os.makedirs(TRACES, mode=0o700, exist_ok=True)
    jobs: queue.Queue = queue.Queue()
    for i, line in enumerate(request["lines"]):
        jobs.put((i, line))
    lock = threading.Lock()
    threads = [threading.Thread(target=worker, args=(k, jobs, lock, request["timeout"]))
               for k in range(min(4, request["workers"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def make_template() -> None:
    for base, files in ((TEMPLATE + "/work", PROJECT), (TEMPLATE + "/home", HOME)):
        for name, text in files.items():
            path = os.path.join(base, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text)
    os.chmod(TEMPLATE + "/work/scripts/ci.sh", 0o755)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@e.invalid"]
    for argv in (git + ["init", "-q", "-b", "main"], git + ["add", "-A"], git + ["commit", "-qm", "init"]):
        subprocess.run(argv, cwd=TEMPLATE + "/work", check=True, stdout=subprocess.DEVNULL)


def worker(k: int, jobs: queue.Queue, lock: threading.Lock, timeout: float) -> None:
    user = pwd.getpwnam(f"difftest{k}")
    while True:
        try:
            i, line = jobs.get_nowait()
        except queue.Empty:
            return
        started = time.monotonic()
        try:
            result = run_line(k, user, line, timeout)
        except Exception as err:  # reported for this line; the other lines still run
            result = {"trace": "", "rc": None, "timed_out": False, "truncated": False,
                      "error": f"{type(err).__name__}: {err}"}
        result["i"], result["seconds"] = i, round(time.monotonic() - started, 3)
        with lock:
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()


def run_line(k: int, user: pwd.struct_passwd, line: str, timeout: float) -> dict:
    place = f"{ROOT}/w{k}"
    work, home, trace = place + "/work", place + "/home", f"{TRACES}/w{k}"
    if not kill_user(user.pw_uid):  # its process limit would starve this line's forks
        raise RuntimeError("the previous line's processes outlived 3 s of SIGKILL")
    fresh_place(place, user)
    if os.path.exists(trace):  # else the previous line's exit could be read as this one's
        os.unlink(trace)
    env = {"PATH": "/home/massgen/.local/bin:/usr/local/bin:/usr/bin:/bin", "HOME": home,
           "USER": user.pw_name, "LOGNAME": user.pw_name, "LANG": "C.UTF-8", "TERM": "dumb",
           "PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "DEBIAN_FRONTEND": "noninteractive",
           "PIP_NO_INDEX": "1", "NO_COLOR": "1"}
    # --seccomp-bpf stops the tracee only at the traced calls: a tree walk stays fast.
    argv = ["strace", "-f", "--seccomp-bpf", "-q", "-s", "65536", "-e", SYSCALLS,
            "-e", "signal=none", "-o", trace, "-u", user.pw_name, "/bin/bash", "-c", line]
    proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timed_out = not wait_for_line(proc, trace, timeout)
    kill_user(user.pw_uid)  # what the line left running in the background ends with it
    try:  # strace ends once no traced process is left
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    with open(trace, "rb") as handle:
        data = handle.read(TRACE_CAP + 1)
    return {"trace": data[:TRACE_CAP].decode("utf-8", "backslashreplace"), "rc": rc,
            "timed_out": timed_out, "truncated": len(data) > TRACE_CAP}


def wait_for_line(proc: subprocess.Popen, trace: str, timeout: float) -> bool:
    """Waits until the line's bash has exited, then BACKGROUND_GRACE for what it left running
    (strace itself waits for every traced process); False if bash outlived `timeout`."""
    deadline = time.monotonic() + timeout
    watcher = RootExit(trace)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return True
        if watcher.exited():
            try:
                proc.wait(timeout=BACKGROUND_GRACE)
            except subprocess.TimeoutExpired:
                pass
            return True
        time.sleep(0.005)
    return False


class RootExit:
    """Reads the trace as strace writes it (line by line): has the first traced process, the
    line's bash, exited? Its own pid is the one on the trace's first line."""

    def __init__(self, path: str) -> None:
        self.path, self.offset, self.rest, self.root = path, 0, b"", None

    def exited(self) -> bool:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(1 << 20)
        except OSError:
            return False
        self.offset += len(chunk)
        lines = (self.rest + chunk).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            pid, _, event = line.partition(b" ")
            if self.root is None:
                self.root = pid
            elif pid == self.root and event.lstrip().startswith((b"+++ exited", b"+++ killed")):
                return True
        return False


def fresh_place(place: str, user: pwd.struct_passwd) -> None:
    shutil.rmtree(place, ignore_errors=True)
    os.makedirs(place, mode=0o755)
    for name in ("work", "home"):
        shutil.copytree(f"{TEMPLATE}/{name}", f"{place}/{name}", symlinks=True)
        for top, dirs, files in os.walk(f"{place}/{name}"):
            for entry in [top] + [os.path.join(top, f) for f in dirs + files]:
                os.lchown(entry, user.pw_uid, user.pw_gid)


def kill_user(uid: int) -> bool:
    """Kills every process the worker's user still has (background jobs, daemons, fork bombs),
    by pid: root may signal them all, and needs no fork to do it (the pids limit may be reached).
    Returns once even their zombies are reaped (by tini): zombies count against the user's
    process limit, and the next line must be able to fork."""
    for _ in range(300):
        left = [(pid, zombie) for pid, owner, zombie in processes() if owner == uid]
        if not left:
            return True
        for pid, zombie in left:
            if not zombie:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.01)
    return False


def processes():
    """(pid, uid, is a zombie) of every process."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
                yield int(entry), os.stat(f"/proc/{entry}").st_uid, state == "Z"
            except (OSError, IndexError):
                pass


if __name__ == "__main__":
    main()
