"""The policy check's own process: judges command lines sent by checker.PolicyChecker, one at a time.

Protocol (JSON lines over stdin/stdout): the first line is the policy
`{"allow": [...], "deny": [...], "enable_sudo": bool}`; then each request `{"command", "work_dir"}`
gets one reply: `{"ok": true}`, or `{"refused": "<reason>"}`, after which a reply with
`"retire": true` means the process ends (it ran out of memory and should not be trusted further).
The process is killed when a check outlives its budget, so a check never needs to stop itself.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

MEMORY_LIMIT = 1 << 30  # bytes of address space: a line whose reading explodes fails here, not the host
# The parser's own clock stops a check a little before the checker's outer bound (CHECK_SECONDS,
# 3 s) kills the worker, so the refusal names the budget rather than a lost worker.
PARSE_SECONDS = 2.5
# A first reading in the caller's own process (PolicyChecker's quick path): lines up to this many
# characters, within this many parse steps and this much time. Ordinary lines take 20-400 steps and
# 0.1-0.5 ms; a line over either limit goes to a worker, which judges it with the full budget.
QUICK_MAX_CHARS = 1024
QUICK_STEPS = 3000
QUICK_SECONDS = 0.02
QUICK_CLOCK_EVERY = 16  # parse steps between two readings of the clock
_PR_SET_PDEATHSIG = 1


def judge(line: bytes, policy) -> dict:
    """The reply to one request line of the protocol."""
    request = json.loads(line)
    return verdict(request["command"], policy, work_dir=request.get("work_dir"))


def verdict(command: str, policy, *, work_dir: str | None) -> dict:
    """`{"ok": True}`, or `{"refused": why}` (with `"retire": True` after running out of memory):
    the check within PARSE_SECONDS, failing closed on anything it did not expect."""
    from mgexec.errors import PolicyViolation
    from mgexec.policy.budget import ParseBudget
    from mgexec.policy.rules import check_command

    try:
        check_command(command, policy, work_dir=work_dir, budget=ParseBudget(seconds=PARSE_SECONDS))
        return {"ok": True}
    except PolicyViolation as exc:
        return {"refused": str(exc)}
    except MemoryError:
        return {"refused": f"Reading the command line needed more than {MEMORY_LIMIT >> 20} MiB of memory, so "
                           "mgexec could not judge it and did not run it. Split it into smaller commands.",
                "retire": True}
    except RecursionError:
        return {"refused": "The command line nests too deeply to be read, so mgexec could not judge it and did "
                           "not run it. Flatten the nesting or split it into smaller commands."}
    except Exception as exc:  # fail closed: a line the checker cannot handle does not run
        return {"refused": f"The policy check failed on this command line ({type(exc).__name__}: {exc}), so "
                           "mgexec did not run it. Please report this with the command line."}


def quick_verdict(command: str, policy, *, work_dir: str | None) -> dict | None:
    """The verdict when a short line can be read within QUICK_STEPS and QUICK_SECONDS, in this process,
    without listing any directory; None when it needs a worker: longer, over that budget, a wildcard
    command name, or anything unexpected (the isolated worker then gives the verdict, and the refusal
    when it cannot judge the line either)."""
    from mgexec.errors import PolicyViolation
    from mgexec.policy.budget import ParseBudget, PolicyBudgetExceeded
    from mgexec.policy.globnames import ListingNeeded, without_listing
    from mgexec.policy.rules import check_command

    if len(command) > QUICK_MAX_CHARS:
        return None
    try:
        budget = ParseBudget(QUICK_STEPS, QUICK_SECONDS, clock_every=QUICK_CLOCK_EVERY)
        with without_listing():  # a wildcard command name needs directory listings: the worker's job
            check_command(command, policy, work_dir=work_dir, budget=budget)
        return {"ok": True}
    except (PolicyBudgetExceeded, ListingNeeded):
        return None
    except PolicyViolation as exc:
        return {"refused": str(exc)}
    except Exception:  # RecursionError, MemoryError, a defect: never judged here, and never allowed
        return None


def _die_with_parent() -> None:
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server handles Ctrl-C and then kills us
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)  # nothing of ours belongs on the server's stderr
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    first = sys.stdin.buffer.readline()
    if not first:
        return
    spec = json.loads(first)
    try:
        from mgexec.policy.rules import CommandPolicy
        if spec["allow"] or spec["deny"]:
            import mgexec.saferegex  # noqa: F401  (the patterns' `regex` package: a missing one is named here)
    except ImportError as exc:  # started with a package missing from its path: refuse every line, saying why
        _refuse_all(f"mgexec's policy worker could not load the policy rules ({exc}), so mgexec did not run "
                    "the command line. Reinstall mgexec in this Python environment.")
        return
    policy = CommandPolicy(allow_patterns=tuple(spec["allow"]), deny_patterns=tuple(spec["deny"]),
                           enable_sudo=bool(spec["enable_sudo"]))
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        reply = judge(line, policy)
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()
        if reply.get("retire"):
            return


def _refuse_all(reason: str) -> None:
    for _ in sys.stdin.buffer:
        sys.stdout.buffer.write(json.dumps({"refused": reason}).encode() + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
