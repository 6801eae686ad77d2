"""The mgexec command: through click's runner, and as a real subprocess (exit codes, streams, errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mgexec import __version__
from mgexec.adapters.cli import cli

MGEXEC = str(Path(sys.executable).parent / "mgexec")


def run(args, cwd, **kw):
    return subprocess.run([MGEXEC, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, **kw)


def test_version_and_help():
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output.strip() == f"mgexec, version {__version__}"
    help_text = runner.invoke(cli, ["--help"]).output
    assert "Examples:" in help_text and "mgexec exec -- ls -la" in help_text
    for command in ("exec", "serve", "config", "doctor"):
        assert command in help_text


def test_exec_streams_and_exit_code(workspace):
    proc = run(["exec", "--", "echo out; echo err >&2; exit 3"], workspace)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out\n", "err\n")


def test_exec_joins_several_words_with_quoting(workspace):
    proc = run(["exec", "--", "printf", "%s|", "a b", "$HOME"], workspace)
    assert proc.stdout == "a b|$HOME|"


def test_exec_timeout_exits_124(workspace):
    proc = run(["exec", "--timeout", "0.5", "--", "sleep 30"], workspace)
    assert proc.returncode == 124 and "timed out after 0.5 seconds" in proc.stderr


def test_exec_policy_refusal_exits_126_with_reason(workspace):
    proc = run(["exec", "--", "rm -fr /"], workspace)
    assert proc.returncode == 126 and "Potentially dangerous command detected" in proc.stderr


def test_exec_json(workspace):
    proc = run(["exec", "--json", "--", "echo hi"], workspace)
    data = json.loads(proc.stdout)
    assert data["stdout"] == "hi\n" and data["success"] and data["work_dir"] == str(workspace)


def test_exec_workdir(workspace):
    (workspace / "d").mkdir()
    assert run(["exec", "-w", "d", "--", "pwd"], workspace).stdout == f"{workspace / 'd'}\n"


def test_exec_with_example_config(tmp_path):
    proc = run(["exec", "--config", "@examples/basic_command_execution", "--", "pwd"], tmp_path)
    assert proc.returncode == 0 and proc.stdout == f"{tmp_path / 'workspace'}\n"


def test_bad_config_is_one_paragraph_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("agent:\n  backend:\n    command_line_docker_network_mode: wifi\n")
    proc = run(["exec", "--config", str(bad), "--", "true"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("mgexec: ") and "Traceback" not in proc.stderr
    assert "command_line_docker_network_mode = 'wifi'" in proc.stderr and str(bad) in proc.stderr
    debug = run(["--debug", "exec", "--config", str(bad), "--", "true"], tmp_path)
    assert "Traceback" in debug.stderr and debug.returncode == 2


def test_missing_config_file(tmp_path):
    proc = run(["exec", "--config", "nope.yaml", "--", "true"], tmp_path)
    assert proc.returncode == 2 and "nope.yaml does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors_are_clear(tmp_path):
    proc = run(["exec"], tmp_path)
    assert proc.returncode == 2 and "Missing argument" in proc.stderr


def test_config_check_prints_resolved_settings_without_secret_values(tmp_path):
    (tmp_path / ".env").write_text("API_KEY=sk-very-secret-value\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("agent:\n  id: a1\n  backend:\n    command_line_execution_mode: docker\n    cwd: not_made\n"
                   "    command_line_docker_credentials: {env_file: .env, env_vars: [HOST_TOKEN]}\n")
    proc = run(["config", "check", str(cfg)], tmp_path, env={**os.environ, "HOST_TOKEN": "tok-secret-123"})
    assert proc.returncode == 0 and "OK:" in proc.stdout and "massgen-a1" in proc.stdout
    assert sorted(tmp_path.iterdir()) == sorted([tmp_path / ".env", cfg])
    assert "HOST_TOKEN" in proc.stdout
    assert "sk-very-secret-value" not in proc.stdout + proc.stderr
    assert "tok-secret-123" not in proc.stdout + proc.stderr
    as_json = run(["config", "check", "--json", str(cfg)], tmp_path)
    assert json.loads(as_json.stdout)[0]["agent_id"] == "a1"


def test_config_examples_lists_shipped_files():
    out = CliRunner().invoke(cli, ["config", "examples"]).output
    assert "@examples/docker_simple" in out


def test_doctor_runs_and_reports(tmp_path):
    proc = run(["doctor"], tmp_path)
    assert "[ok  ] Python" in proc.stdout and "local mode" in proc.stdout
    assert "[ok  ] process containment: local commands and shells: process trees" in proc.stdout
    assert "[note] if the server dies: a watchdog kills" in proc.stdout
    assert proc.returncode == 0  # local mode needs nothing more than Python


def test_doctor_explains_missing_docker_cli(tmp_path):
    proc = run(["doctor"], tmp_path, env={**os.environ, "MGEXEC_DOCKER": "/nonexistent/docker"})
    assert "docker CLI `/nonexistent/docker` not found" in proc.stdout and "fix:" in proc.stdout


def test_closed_pipe_is_not_an_internal_error(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout now fails with EPIPE, as when `| head` has exited
    try:
        proc = subprocess.run([MGEXEC, "config", "examples"], cwd=tmp_path, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_engine_errors_are_clear_and_debug_shows_the_docker_command(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("agent:\n  id: a1\n  backend:\n    command_line_execution_mode: docker\n")
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    proc = run(["exec", "--config", str(cfg), "--", "true"], tmp_path, env=env)
    assert proc.returncode == 2 and "cannot reach the container engine" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    debug = run(["--debug", "exec", "--config", str(cfg), "--", "true"], tmp_path, env=env)
    assert "the failed command was: docker" in debug.stderr


def test_missing_docker_cli_is_clear(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("agent:\n  id: a1\n  backend:\n    command_line_execution_mode: docker\n"
                   "    command_line_docker_binary: /nonexistent/docker\n")
    proc = run(["exec", "--config", str(cfg), "--", "true"], tmp_path)
    assert proc.returncode == 2 and "was not found as `/nonexistent/docker`" in proc.stderr
    assert "Traceback" not in proc.stderr
