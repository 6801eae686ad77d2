"""The watchdog of a DockerLauncher: when the server's end of its lifeline closes, it ends the shells
inside the container (and removes a container the server owned), even after a SIGKILL of the server.

Standard library only, and no import of mgexec: DockerLauncher ships this file as source to
`python -I -S` (no site, no package import), so the guard starts in milliseconds, cannot be broken
by the state of the installation or the working directory, and keeps nothing of the server's
interpreter. `python -m mgexec.shells.guard ARGS` runs the same code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

# Exported into every shell the launcher starts, so each process of its trees carries the tag
# (a process found by its tag is ended even when the server died before learning its pid).
TAG_VARIABLE = "MGEXEC_GUARD"
# Once this file exists (the guard writes it before it sweeps), a shell of this launcher that the
# engine starts late refuses to run: either the sweep sees its process, or the shell sees the file.
CLOSED_MARKER = "/tmp/.mgexec-guard-$MGEXEC_GUARD.closed"
CLOSE_LINE = b"close"  # the server closed the launcher on purpose: leave the container to its owner
EXEC_TIMEOUT = 30
RM_TIMEOUT = 60

# Runs inside the container as its default user (the shells' user: with --cap-drop ALL, root
# could not signal another user's processes anyway). $1: signal name, $2: a tag to sweep for, or
# "-"; then session ids. Each session is signalled as a process group and member by member (the
# members a job-control shell moved to other groups); with KILL, sweeps repeat while any
# remain, for a process forked between a listing and the kill. Without pkill, /proc is read instead.
KILL_SCRIPT = r"""sig=$1 tag=$2; shift 2
sid_of() { read -r st < "$1/stat" || return 1; st=${st##*") "}; set -- $st; [ "$1" != Z ] && echo "$4"; }
if [ "$tag" != - ]; then
  : > "/tmp/.mgexec-guard-$tag.closed" 2>/dev/null
  for p in /proc/[0-9]*; do
    case "$(cat "$p/environ" 2>/dev/null)" in
      *"MGEXEC_GUARD=$tag"*) s=$(sid_of "$p" 2>/dev/null) && set -- "$@" "$s" ;;
    esac
  done
fi
[ $# -gt 0 ] || exit 0
sweep() {
  hit=1
  for s; do kill -"$sig" -"$s" 2>/dev/null && hit=0; done
  if command -v pkill >/dev/null 2>&1; then
    pkill -"$sig" -s "$(IFS=,; echo "$*")" && hit=0
  else
    for p in /proc/[0-9]*; do
      s=$(sid_of "$p" 2>/dev/null) || continue
      for want; do [ "$s" = "$want" ] && kill -"$sig" "${p#/proc/}" 2>/dev/null && hit=0; done
    done
  fi
  return $hit
}
n=0
while sweep "$@" && [ "$sig" = KILL ] && [ $n -lt 10 ]; do n=$((n+1)); done
exit 0"""


def follow(lifeline: int) -> tuple[set[int], bool]:
    """Read `+SID` / `-SID` / `close` lines until EOF: the sessions still open, and whether closed on purpose."""
    sessions: set[int] = set()
    closed, pending = False, b""
    while chunk := os.read(lifeline, 4096):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line == CLOSE_LINE:
                closed = True
            elif line[:1] in (b"+", b"-") and line[1:].isdigit():
                (sessions.add if line[:1] == b"+" else sessions.discard)(int(line[1:]))
    return sessions, closed


def sweep_argv(docker: list[str], container: str, signame: str, tag: str, sessions) -> list[str]:
    """`docker exec CONTAINER sh -c KILL_SCRIPT`: signal the sessions (and, with a tag, its processes)."""
    return [*docker, "exec", container, "/bin/sh", "-c", KILL_SCRIPT, "mgexec-kill", signame, tag,
            *(str(sid) for sid in sorted(sessions))]


def run_quietly(argv: list[str], timeout: float) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def main(argv: list[str]) -> None:
    """argv: LIFELINE_FD TAG CONTAINER owns|keeps DOCKER [GLOBAL ARGS...]."""
    lifeline, tag, container, owns, docker = int(argv[0]), argv[1], argv[2], argv[3] == "owns", argv[4:]
    # In its own session already; these keep a terminal hangup or a stray Ctrl-C from ending it early.
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    # Detach from the server: it reaps the short-lived parent at once and never waits for the guard.
    if os.fork() != 0:
        os._exit(0)
    sessions, closed = follow(lifeline)
    os.close(lifeline)
    # A server that died cannot remove its container; removing it ends every process inside.
    if owns and not closed and run_quietly([*docker, "rm", "-f", container], RM_TIMEOUT):
        return
    run_quietly(sweep_argv(docker, container, "KILL", tag, sessions), EXEC_TIMEOUT)


if __name__ == "__main__":
    main(sys.argv[1:])
