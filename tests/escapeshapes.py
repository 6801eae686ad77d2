"""Processes that try to escape a kill: shapes that leave the command's group, session or tree, and
the checks that nothing of them is left (shared by the escape tests and the behaviour contract)."""

from __future__ import annotations

import asyncio
import time
import uuid

# Each shape starts at least one process whose command line holds the token T, by a different way
# out of the command's process group, session or tree.
DAEMON = ("import os, sys\n"
          "if os.fork(): os._exit(0)\n"
          "os.setsid()\n"
          "if os.fork(): os._exit(0)\n"
          "os.closerange(0, 1024)\n"
          "os.execvp('sleep', [sys.argv[1], '300'])\n")
SHAPES = {
    "setsid": "setsid bash -c 'exec -a T sleep 300' &",
    "double-fork-setsid": "( setsid bash -c 'exec -a T sleep 300' & ) &",
    "python-setpgid": "python3 -c 'import os, sys; os.setpgid(0, 0); os.execvp(\"sleep\", [sys.argv[1], \"300\"])' T &",
    "perl-setpgrp": "perl -e 'setpgrp; exec {\"sleep\"} $ARGV[0], \"300\"' T &",
    "daemon-env-i": f"env -i python3 -c \"{DAEMON}\" T",
    "nohup-disown": "nohup bash -c 'exec -a T sleep 300' >/dev/null 2>&1 & disown",
    "fork-loop": "(exec -a T bash -c 'while :; do setsid bash -c \"exec -a T sleep 0.5\" & sleep 0.005; done') &",
    "ignores-term": "bash -c 'trap \"\" TERM; exec -a T sleep 300' &",
}


def shape(name: str, token: str) -> str:
    return SHAPES[name].replace("T", token) if name != "daemon-env-i" else SHAPES[name][:-1] + token


def new_token() -> str:
    return f"mgx-esc-{uuid.uuid4().hex[:10]}"


async def appear(find, token: str, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while not (pids := await asyncio.to_thread(find, token)):
        assert time.monotonic() < deadline, f"no process with {token} ever appeared"
        await asyncio.sleep(0.05)
    return pids


async def gone(find, token: str, seconds: float = 3.0) -> list[int]:
    """What still runs with the token after up to `seconds` (the kill itself is done before the result)."""
    deadline = time.monotonic() + seconds
    while (pids := await asyncio.to_thread(find, token)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return pids


async def run_and_check(executor, find, name: str, *, timeout: float | None) -> None:
    """Run a shape, see its escaped process appear, and check nothing of it is left once the result is in."""
    token = new_token()
    tail = "sleep 300" if timeout else "sleep 1"
    task = asyncio.create_task(executor.execute(f"{shape(name, token)}\n{tail}", timeout=timeout or 60))
    seen = await appear(find, token)
    result = await task
    assert result.timed_out == bool(timeout), result
    assert await gone(find, token) == [], f"{name}: {seen} started, still running after the command ended"


async def cancel_and_check(executor, find, name: str, settle: float = 5.0) -> None:
    """A cancelled call (the client gave up, the session ends) stops the command and its escapes."""
    token = new_token()
    task = asyncio.create_task(executor.execute(f"{shape(name, token)}\nsleep 300", timeout=60))
    seen = await appear(find, token)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await gone(find, token, seconds=settle) == [], f"{name}: {seen} started, still running after the cancel"


async def shell_check(manager, find, name: str, work_dir: str) -> None:
    """A background shell's kill takes what its command started by every way out."""
    token = new_token()
    shell = await manager.start(f"{shape(name, token)}\nsleep 300", work_dir)
    seen = await appear(find, token)
    killed = await manager.kill(shell["shell_id"])
    assert killed["status"] == "killed"
    assert await gone(find, token) == [], f"{name}: {seen} started, still running after the shell was killed"
