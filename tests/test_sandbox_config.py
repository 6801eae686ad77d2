"""srt mode's settings: MassGen's command_line_srt_* keys, their defaults and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgexec.config.loader import load_config
from mgexec.config.sandbox import SandboxSettings
from mgexec.errors import ConfigError


def write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "c.yaml"
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    path.write_text(f"agent:\n  id: a\n  backend:\n    cwd: {tmp_path / 'ws'}\n{lines}\n")
    return str(path)


def test_defaults_are_massgens():
    settings = SandboxSettings()
    assert settings.read_mode == "confined" and not settings.read_only and not settings.network
    assert settings.deny_read == settings.allow_read == settings.allow_unix_sockets == ()


def test_massgen_keys_map_onto_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(write(tmp_path, """
command_line_execution_mode: srt
command_line_srt_read_mode: open
command_line_srt_deny_read: ["~/private", "rel"]
command_line_srt_allow_read: [/opt/data]
command_line_srt_read_only: true
command_line_srt_network_allowed_domains: [PyPI.org, "*.example.com"]
command_line_srt_network_denied_domains: [evil.example.com]
command_line_srt_allow_unix_sockets: [/run/x.sock]
command_line_srt_allow_write: [/srv/out]
command_line_srt_deny_write: [/srv/out/keep]
"""), cwd=tmp_path)
    box = config.sandbox
    assert config.mode == "srt" and box.read_mode == "open" and box.read_only
    assert box.deny_read == (tmp_path / "home" / "private", tmp_path / "rel")
    assert box.allow_read == (Path("/opt/data"),) and box.allow_unix_sockets == (Path("/run/x.sock"),)
    assert box.allowed_domains == ("pypi.org", "*.example.com") and box.denied_domains == ("evil.example.com",)
    assert box.allow_write == (Path("/srv/out"),) and box.deny_write == (Path("/srv/out/keep"),)


@pytest.mark.parametrize("body,message", [
    ("command_line_srt_read_mode: lax", r"command_line_srt_read_mode = 'lax'.*'confined', 'strict' or 'open'"),
    ("command_line_srt_network_allowed_domains: ['http://x.org']", r"command_line_srt_network_allowed_domains.*not a domain"),
    ("command_line_srt_deny_read: 5", r"command_line_srt_deny_read = 5: .*list of paths"),
    ("command_line_srt_read_only: maybe", r"command_line_srt_read_only = 'maybe'"),
    ("command_line_srt_allow_reads: [/x]", r"Did you mean 'command_line_srt_allow_read'"),
])
def test_bad_values_name_the_massgen_key(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, "command_line_execution_mode: srt\n" + body), cwd=tmp_path)
