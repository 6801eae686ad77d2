"""Fixtures of the srt-mode suites: a fake $HOME with planted secrets and canaries outside /tmp.

Everything lives under /var/tmp, not /tmp: the sandbox's private /tmp would hide a canary there for
the wrong reason. Nothing is ever made in, or aimed at, the real $HOME.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

SECRET = "mgexec-planted-secret-4b1d"


@dataclass
class Box:
    root: Path
    home: Path
    workspace: Path
    outside: Path  # readable in confined and open mode, not an agent path, never writable
    canary: Path  # a directory of files destructive payloads aim at

    def canary_intact(self) -> bool:
        return sorted(p.name for p in self.canary.iterdir()) == ["a.txt", "sub"] and \
            (self.canary / "a.txt").read_text() == "canary\n"


@pytest.fixture
def box(monkeypatch) -> Box:
    if shutil.which("bwrap") is None:
        pytest.fail("bwrap is not installed: apt-get install bubblewrap (the srt suites never skip)")
    root = Path(tempfile.mkdtemp(prefix="mgexec-srt-test-", dir="/var/tmp"))
    home = root / "home"
    for secret in (".ssh/id_ed25519", ".aws/credentials", ".config/gh/hosts.yml", ".netrc", ".git-credentials"):
        (home / secret).parent.mkdir(parents=True, exist_ok=True)
        (home / secret).write_text(SECRET + "\n")
    (home / "notes.txt").write_text("personal notes\n")
    outside = root / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("outside data\n")
    canary = root / "canary"
    (canary / "sub").mkdir(parents=True)
    (canary / "a.txt").write_text("canary\n")
    (canary / "sub" / "b.txt").write_text("canary\n")
    workspace = root / "ws"
    workspace.mkdir()
    monkeypatch.setenv("HOME", str(home))
    yield Box(root, home, workspace, outside, canary)
    shutil.rmtree(root, ignore_errors=True)


def marker() -> str:
    """A unique argv[0] for a canary process, to find it by PID on the host from outside the sandbox."""
    return f"mgexec-canary-{uuid.uuid4().hex[:12]}"


def pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv0 = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if argv0 == name.encode():
                found.append(int(entry))
    return found


def wait_for_pids(name: str, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pids := pids_named(name):
            return pids
        time.sleep(0.05)
    raise AssertionError(f"no process named {name} appeared")
