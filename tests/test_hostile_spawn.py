"""Processes that cannot be started: each failure is an MgexecError naming the cause, never a bare ValueError."""

from __future__ import annotations

import os

import pytest

from mgexec.errors import SpawnFailed
from mgexec.runner import run_process


@pytest.mark.parametrize("env, fragment", [
    ({"GOOD": "1", "BAD": "a\0b"}, "'BAD'"),
    ({"B\0AD": "1"}, "'B\\x00AD'"),
    ({"SURROGATE": "a\ud800"}, "'SURROGATE'"),
    ({"HUGE": "x" * (os.sysconf("SC_ARG_MAX") + 1)}, "ARG_MAX"),
    ({"LONG": "x" * 140_000}, "131072"),
])
async def test_a_bad_environment_names_the_variable_or_the_limit(env, fragment):
    with pytest.raises(SpawnFailed) as raised:
        await run_process(["/bin/true"], env={"PATH": os.defpath, **env}, timeout=5)
    assert fragment in str(raised.value) and "Could not start /bin/true" in str(raised.value)


async def test_a_nul_in_an_argument_is_named():
    with pytest.raises(SpawnFailed, match="null"):
        await run_process(["/bin/echo", "a\0b"], timeout=5)
