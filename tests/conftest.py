"""Shared fixtures: a workspace config per test, and the MCP client plumbing."""

from __future__ import annotations

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
