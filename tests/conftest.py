"""Shared fixtures: a workspace config per test, a short private runtime dir, and the MCP client plumbing."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from mgexec.config import ExecConfig


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def local_config(workspace: Path) -> ExecConfig:
    return ExecConfig(workspace=workspace)


@pytest.fixture
def runtime_dir(monkeypatch):
    """A private (0700) runtime dir made here, as short as /run/user/UID (pytest's tmp_path is too long for a
    socket's path); this process and the subprocesses it starts see it as XDG_RUNTIME_DIR."""
    path = Path(tempfile.mkdtemp(prefix="mgx-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)
