"""`mgexec massgen`'s pieces: finding MassGen's interpreter, and the launcher's swap of MassGen's server entry."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgexec.adapters.massgen_run import LAUNCHER, find_massgen, interpreter_of, launch_argv
from mgexec.errors import ConfigError

SPEC = importlib.util.spec_from_file_location("massgen_launcher", LAUNCHER)
launcher = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(launcher)

MASSGEN_ENTRY = {"name": "command_line", "type": "stdio", "command": "fastmcp",
                 "args": ["run", "/v/massgen/filesystem_manager/_code_execution_server.py:create_server", "--",
                          "--allowed-paths", "/w/ws_12345678", "/w/ctx", "--execution-mode", "local"],
                 "env": {"FASTMCP_SHOW_CLI_BANNER": "false"}, "cwd": "/w/ws_12345678"}


def test_massgen_entry_becomes_mgexec_serve_with_the_same_flags_cwd_and_env(monkeypatch):
    monkeypatch.setenv("MGEXEC_DOCKER", "podman")
    monkeypatch.setenv("https_proxy", "http://proxy:3128")
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.setenv("SECRET_TOKEN", "not passed")
    got = launcher.to_mgexec(MASSGEN_ENTRY, ["/py", "-m", "mgexec"], "0.1.97")
    assert got["command"] == "/py"
    assert got["args"] == ["-m", "mgexec", "serve", "--allowed-paths", "/w/ws_12345678", "/w/ctx",
                           "--execution-mode", "local"]
    assert (got["cwd"], got["name"]) == ("/w/ws_12345678", "command_line")
    assert got["env"] == {"FASTMCP_SHOW_CLI_BANNER": "false", "MGEXEC_DOCKER": "podman",
                          "https_proxy": "http://proxy:3128"}


@pytest.mark.parametrize("entry, shown", [
    ({**MASSGEN_ENTRY, "command": "uvx"}, "command 'uvx'"),
    ({**MASSGEN_ENTRY, "args": ["run", "/v/other_server.py:create_server", "--", "--timeout", "5"]}, "server"),
    ({**MASSGEN_ENTRY, "args": ["run", "/v/_code_execution_server.py:create_server", "--timeout", "5"]}, "command"),
])
def test_an_unknown_launch_shape_stops_massgen_naming_its_version(tmp_path, entry, shown):
    code = ("import importlib.util, json, sys; s = importlib.util.spec_from_file_location('l', sys.argv[1]); "
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m); "
            "m.to_mgexec(json.loads(sys.argv[2]), ['mgexec'], '9.9.9'); print('not stopped')")
    proc = subprocess.run([sys.executable, "-c", code, str(LAUNCHER), json.dumps(entry)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("mgexec massgen: MassGen 9.9.9 launches its command_line server in a shape")
    assert shown in proc.stderr and "command_line` entry" in proc.stderr


@pytest.mark.parametrize("first, python", [
    ("#!/venv/bin/python3\n# -*- coding: utf-8 -*-", "/venv/bin/python3"),
    ("#!/opt/mg/bin/python3.11 -E\n", "/opt/mg/bin/python3.11"),
])
def test_interpreter_of_a_console_script(first, python):
    assert interpreter_of(Path("/x/massgen"), first) == python


@pytest.mark.parametrize("first", ["#!/bin/sh\nexec python", "", "MZ\x90binary"])
def test_unreadable_script_shapes_are_explained(first):
    with pytest.raises(ConfigError, match="not a Python console script this can read.*MGEXEC_MASSGEN"):
        interpreter_of(Path("/x/massgen"), first)


def test_find_massgen_prefers_the_variable_and_explains_absence(tmp_path):
    script = tmp_path / "massgen"
    script.write_text("#!/usr/bin/python3\n")
    script.chmod(0o755)
    assert find_massgen({"MGEXEC_MASSGEN": str(script), "PATH": ""}) == script
    assert find_massgen({"PATH": str(tmp_path)}) == script
    with pytest.raises(ConfigError, match="there is no `massgen` on PATH"):
        find_massgen({"PATH": str(tmp_path / "empty")})
    with pytest.raises(ConfigError, match="MGEXEC_MASSGEN=/nope is not an executable file"):
        find_massgen({"MGEXEC_MASSGEN": "/nope"})


def test_launch_argv_runs_the_launcher_with_massgen_arguments():
    argv = launch_argv("/venv/bin/python", ["/me/python", "-m", "mgexec"], ["--config", "c.yaml", "q"])
    assert argv == ["/venv/bin/python", str(LAUNCHER), '["/me/python", "-m", "mgexec"]', "--config", "c.yaml", "q"]
