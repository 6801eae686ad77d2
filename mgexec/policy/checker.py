"""Judges command lines without ever letting one stop the server: short ones at once, within a small
budget, the rest in worker processes, each check within a wall-clock budget.

Reading a command line is plain Python (and `re`) that holds the GIL: a line built to explode
(`true > x` and 26 `{a,b}` groups) would stop every other call if judged on the server's loop
without a bound, and a thread could not be stopped. So a line of at most QUICK_MAX_CHARS is read
here only within QUICK_STEPS parse steps and QUICK_SECONDS (a fraction of a millisecond for
ordinary lines, which saves a round trip to another process); a longer one, one over that budget
or one the quick reading cannot handle goes to a worker process, which has the full budget and can
be stopped: a check that has not answered within CHECK_SECONDS is refused with that reason and its
worker killed. Workers start when the first line needs one (at once when the policy has allow or
deny patterns, whose matching has budgets of its own and never runs on the loop), and a warm spare
is then kept, so a call made while one worker is busy is judged at once by another.
A caller that runs one command and exits has no other calls to keep answering: InlineChecker
judges in its own process, within the same parse budget, and saves starting a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass

from mgexec.errors import MgexecError, PolicyViolation
from mgexec.policy.rules import CommandPolicy
from mgexec.policy.worker import quick_verdict, verdict
from mgexec.runner import Child, spawn

CHECK_SECONDS = 3.0  # the outer bound on judging one line, waiting for a free worker included
MAX_WORKERS = 4  # busy ones included; further checks wait for one to come free
SPARE_WORKERS = 1  # idle workers kept started, so a burst does not wait for a process start
# The worker needs the standard library, mgexec and `regex`, nothing else. It starts isolated (-I: no
# PYTHON* variables, no current directory on sys.path) and without `site` (-S: its .pth files and the
# editable install's finder cost 20-35 ms a start); the two packages' directories are taken from where this
# process imported them and go after the standard library's, as site-packages would.
WORKER_PACKAGES = ("mgexec", "regex")
_WORKER_BOOT = "import sys; sys.path.extend(sys.argv[1:]); from mgexec.policy.worker import main; main()"


def worker_argv(packages: tuple[str, ...] = WORKER_PACKAGES) -> tuple[str, ...]:
    """The policy worker's command line: isolated, without site, with the roots `packages` import from here.

    A package that cannot be found is left out: the worker then refuses every line, naming it."""
    roots: list[str] = []
    for name in packages:
        spec = importlib.util.find_spec(name)  # where this process imports it from, without running it
        if spec is None or not spec.origin:
            continue
        root = os.path.dirname(os.path.abspath(spec.origin))
        if spec.submodule_search_locations is not None:  # a package: its directory's parent
            root = os.path.dirname(root)
        if root not in roots:
            roots.append(root)
    return (sys.executable, "-I", "-S", "-c", _WORKER_BOOT, *roots)


WORKER_ARGV = worker_argv()

log = logging.getLogger("mgexec.policy")


@dataclass(eq=False)
class _Worker:
    child: Child

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child.pid, signal.SIGKILL)


class PolicyChecker:
    """A small pool of policy workers for one policy; check() raises PolicyViolation or returns."""

    def __init__(self, policy: CommandPolicy, *, budget: float = CHECK_SECONDS, max_workers: int = MAX_WORKERS,
                 spare: int = SPARE_WORKERS) -> None:
        self.policy = policy
        self.budget = budget
        self.max_workers = max_workers
        self.spare = spare
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0
        self._freed: asyncio.Condition | None = None
        self._waiting = 0  # checks waiting for a free worker
        self._start_error: str | None = None  # why the last worker could not be started
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    @property
    def quick(self) -> bool:
        """Whether short lines are read here first: not when patterns must be matched (worker only)."""
        return not (self.policy.allow_patterns or self.policy.deny_patterns)

    def warm(self) -> None:
        """Start the spare workers now, in the background, when most lines will need one."""
        if not self.quick:
            self._top_up()

    async def check(self, command: str, *, work_dir: str | None = None) -> None:
        """Refuse (PolicyViolation) or allow `command`, judged as starting in `work_dir`."""
        if self._closed:
            raise PolicyViolation("mgexec is shutting down and no longer judges or runs commands.")
        if self.quick and (reply := quick_verdict(command, self.policy, work_dir=work_dir)) is not None:
            if not reply.get("ok"):
                raise PolicyViolation(reply.get("refused") or "The policy check refused the command line.")
            return
        deadline = time.monotonic() + self.budget
        self._start_error = None  # each check may try to start a worker once more
        try:
            worker = self._take_idle() or await _within(self._acquire(), self.budget)
        except asyncio.TimeoutError:
            if not self._all and self._start_error:
                raise PolicyViolation(f"mgexec could not start a process to judge the command line "
                                      f"({self._start_error}), so it did not run it.") from None
            raise PolicyViolation(self._over_budget("every policy worker stayed busy with other lines")) from None
        except EOFError:
            raise PolicyViolation("mgexec is shutting down and no longer judges or runs commands.") from None
        try:
            reply = await _within(self._ask(worker, command, work_dir), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            self._discard(worker)
            raise PolicyViolation(self._over_budget("judging it did not finish")) from None
        except (OSError, ValueError, EOFError) as exc:
            self._discard(worker)
            raise PolicyViolation(f"The policy check could not be completed ({exc}); mgexec did not run the "
                                  "command line. Try again; if it keeps failing, restart the server.") from None
        except BaseException:
            self._discard(worker)  # cancelled mid-check: its answer would go to the next caller
            raise
        self._release(worker, retire=bool(reply.get("retire")))
        if not reply.get("ok"):
            raise PolicyViolation(reply.get("refused") or "The policy check refused the command line.")

    async def close(self) -> None:
        """Kill every worker; checks in flight are refused."""
        self._closed = True
        workers = list(self._all)
        for worker in workers:
            self._discard(worker)
        if workers:
            await asyncio.wait([asyncio.ensure_future(_reap(w)) for w in workers], timeout=2.0)
        for task in list(self._tasks):
            task.cancel()

    def _over_budget(self, what: str) -> str:
        return (f"The command line could not be judged within {self.budget:g} seconds ({what}), so mgexec "
                "did not run it. Lines that take this long to read are built to explode (brace expansions "
                "such as `{a,b}{a,b}...`, tens of thousands of commands); split it into smaller commands.")

    def _take_idle(self) -> _Worker | None:
        if not self._idle:
            return None
        worker = self._idle.pop()
        self._top_up()
        return worker

    async def _acquire(self) -> _Worker:
        if self._freed is None:
            self._freed = asyncio.Condition()
        async with self._freed:
            while not self._idle:
                if self._closed:
                    raise EOFError("the policy checker is closed")
                # After a failed start, wait for the budget instead of retrying in a tight loop.
                if len(self._all) + self._starting < self.max_workers and self._start_error is None:
                    self._top_up(at_least=1)
                self._waiting += 1
                try:
                    await self._freed.wait()
                finally:
                    self._waiting -= 1
            worker = self._idle.pop()
        self._top_up()
        return worker

    async def _ask(self, worker: _Worker, command: str, work_dir: str | None) -> dict:
        proc = worker.child.proc
        proc.stdin.write(json.dumps({"command": command, "work_dir": work_dir}).encode() + b"\n")
        await proc.stdin.drain()
        line = await proc.stdout.readline()
        if not line:
            raise EOFError("the policy worker ended")
        return json.loads(line)

    def _release(self, worker: _Worker, *, retire: bool = False) -> None:
        if retire or self._closed:
            self._discard(worker)
            return
        self._idle.append(worker)
        self._notify()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        self._all.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        self._background(_reap(worker))
        self._notify()

    def _top_up(self, at_least: int = 0) -> None:
        want = max(at_least, self.spare - len(self._idle) - self._starting)
        room = self.max_workers - len(self._all) - self._starting
        for _ in range(max(0, min(want, room))):
            self._starting += 1
            self._background(self._start_worker())

    async def _start_worker(self) -> None:
        try:
            child = await spawn(WORKER_ARGV, stdin_pipe=True)
            spec = {"allow": list(self.policy.allow_patterns), "deny": list(self.policy.deny_patterns),
                    "enable_sudo": self.policy.enable_sudo}
            child.proc.stdin.write(json.dumps(spec).encode() + b"\n")
        except (MgexecError, OSError) as exc:  # waiting checks run out of budget and say so
            log.warning("could not start a policy worker: %s", exc)
            self._start_error = str(exc)
            self._notify()
            return
        finally:
            self._starting -= 1
        worker = _Worker(child)
        self._all.add(worker)
        self._release(worker)

    def _notify(self) -> None:
        if self._freed is not None and self._waiting:
            self._background(_notify_all(self._freed))

    def _background(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class InlineChecker:
    """The policy check of a one-shot caller (`mgexec exec`): judged in this process, bounded by
    the parser's own step and time budget (worker.PARSE_SECONDS), with the refusals a worker gives."""

    def __init__(self, policy: CommandPolicy) -> None:
        self.policy = policy

    def warm(self) -> None:
        """Nothing to start ahead: the check needs no worker."""

    async def check(self, command: str, *, work_dir: str | None = None) -> None:
        """Refuse (PolicyViolation) or allow `command`, judged as starting in `work_dir`."""
        # A thread of its own gives the parser a fresh stack, as deep as a worker's.
        reply = await asyncio.to_thread(verdict, command, self.policy, work_dir=work_dir)
        if not reply.get("ok"):
            raise PolicyViolation(reply.get("refused") or "The policy check refused the command line.")

    async def close(self) -> None:
        """Nothing to stop."""


async def _within(awaitable, seconds: float):
    """await with a deadline; asyncio.timeout where it exists (cheaper: no extra task per call)."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


async def _notify_all(condition: asyncio.Condition) -> None:
    async with condition:
        condition.notify_all()


async def _reap(worker: _Worker) -> None:
    with contextlib.suppress(Exception):
        await worker.child.exited
    # Close the pipes now, on the loop, rather than when garbage collection finds them after it closed.
    worker.child.proc._transport.close()  # type: ignore[attr-defined]
