"""How a policy worker starts: isolated, without site, with only the package directories the parent computed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy
from mgexec.policy.checker import WORKER_ARGV, PolicyChecker, worker_argv

# Runs with the worker's interpreter, flags and path arguments in place of its boot line.
PROBE = ("import json, sys; sys.path.extend(sys.argv[1:]); import mgexec.policy.rules, mgexec.saferegex; "
         "print(json.dumps({'path': sys.path, 'isolated': sys.flags.isolated, 'no_site': sys.flags.no_site, "
         "'site': 'site' in sys.modules, 'regex': sys.modules['regex'].__file__}))")


def package_root(name: str) -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__import__(name).__file__)))


def ask(argv: tuple[str, ...], *commands: str) -> list[dict]:
    """Start a worker with `argv`, send it a policy and `commands`; its replies, one per command."""
    lines = [json.dumps({"allow": [], "deny": ["curl .*"], "enable_sudo": False})]
    lines += [json.dumps({"command": command, "work_dir": "/tmp"}) for command in commands]
    done = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_worker_starts_isolated_without_site_and_with_only_the_computed_package_roots():
    assert WORKER_ARGV[1:4] == ("-I", "-S", "-c")
    roots = list(WORKER_ARGV[5:])
    assert roots == list(dict.fromkeys([package_root("mgexec"), package_root("regex")]))
    env = {**os.environ, "PYTHONPATH": "/nonexistent/injected"}  # -I ignores it
    probe = subprocess.run([*WORKER_ARGV[:4], PROBE, *roots], capture_output=True, text=True, env=env, check=True,
                           cwd="/", timeout=60)
    seen = json.loads(probe.stdout)
    assert seen["isolated"] == 1 and seen["no_site"] == 1 and not seen["site"]
    others = [entry for entry in seen["path"] if entry not in roots]
    assert seen["path"][-len(roots):] == roots  # after the standard library, as site-packages would be
    assert all(entry.startswith((sys.base_prefix, sys.base_exec_prefix)) for entry in others), others
    assert not any("site-packages" in entry or "injected" in entry for entry in others), others
    assert seen["regex"].startswith(tuple(roots))


def test_the_worker_started_that_way_judges_like_the_policy():
    replies = ask(WORKER_ARGV, "ls -la | grep x", "rm -rf /", "ls; curl x",
                  # read with tomllib, which the worker imports only for such a line
                  "cargo --config 'target.x86_64-unknown-linux-gnu.runner=\"rm -rf /\"' run")
    assert replies[0] == {"ok": True}
    assert "dangerous" in replies[1]["refused"]
    assert "deny pattern `curl .*`" in replies[2]["refused"]
    assert "cargo --config target.x86_64-unknown-linux-gnu.runner" in replies[3]["refused"]


def test_a_package_missing_from_the_workers_path_refuses_every_line_saying_why():
    if package_root("regex") == package_root("mgexec"):
        pytest.skip("regex and mgexec share one directory here, so neither can be left out alone")
    replies = ask(worker_argv(("mgexec",)), "ls", "true")
    assert len(replies) == 2
    for reply in replies:
        assert "could not load the policy rules" in reply["refused"] and "regex" in reply["refused"]


async def test_a_checker_whose_worker_lacks_a_package_refuses_with_the_reason(monkeypatch):
    if package_root("regex") == package_root("mgexec"):
        pytest.skip("regex and mgexec share one directory here, so neither can be left out alone")
    monkeypatch.setattr("mgexec.policy.checker.WORKER_ARGV", worker_argv(("mgexec",)))
    checker = PolicyChecker(CommandPolicy(deny_patterns=("curl .*",)))  # patterns need `regex`
    try:
        with pytest.raises(PolicyViolation, match="could not load the policy rules"):
            await checker.check("true")
    finally:
        await checker.close()
