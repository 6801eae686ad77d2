"""srt mode's host checks and its one-paragraph refusals: platform, bwrap, namespaces; doctor and config check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mgexec.errors import SandboxUnavailable
from mgexec.sandbox import diagnose, host
from test_server import MGEXEC


@pytest.mark.parametrize("platform,name", [("darwin", "macOS"), ("win32", "Windows")])
def test_other_platforms_name_docker_mode(monkeypatch, platform, name):
    monkeypatch.setattr(host.sys, "platform", platform)
    with pytest.raises(SandboxUnavailable, match=f"srt mode needs Linux.*On {name} use docker mode"):
        host.find_bwrap()


def test_missing_bwrap_names_the_package(tmp_path):
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap.*docker mode"):
        host.find_bwrap({"PATH": str(tmp_path)})


@pytest.mark.parametrize("files,fragment", [
    ({"clone": "0"}, "kernel.unprivileged_userns_clone"),
    ({"max": "0"}, "user.max_user_namespaces"),
    ({"apparmor": "1"}, "apparmor_restrict_unprivileged_userns"),
    ({"clone": "1", "max": "100", "apparmor": "0"}, None),
])
def test_userns_problems_name_their_setting(tmp_path, monkeypatch, files, fragment):
    for key, attr in (("clone", "USERNS_CLONE"), ("max", "MAX_USER_NS"), ("apparmor", "APPARMOR_RESTRICT")):
        path = tmp_path / key
        if key in files:
            path.write_text(files[key] + "\n")
        monkeypatch.setattr(diagnose, attr, path)
    monkeypatch.setattr(diagnose.os, "geteuid", lambda: 1000)
    problem = diagnose.userns_problem()
    assert (problem is None) if fragment is None else (fragment in problem and "docker mode" in problem)


def test_a_failed_sandbox_says_what_bwrap_said(monkeypatch):
    monkeypatch.setattr(diagnose, "userns_problem", lambda: diagnose.APPARMOR_FIX)
    text = diagnose.explain_bwrap_failure("bwrap: setting up uid map: Permission denied\n", 1)
    assert "bwrap said: bwrap: setting up uid map: Permission denied" in text and "apparmor_parser" in text


def test_doctor_checks_the_sandbox(tmp_path):
    done = subprocess.run([MGEXEC, "doctor", "--mode", "srt", "--workspace", str(tmp_path)], capture_output=True,
                          text=True, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=120)
    assert "[ok  ] bubblewrap at" in done.stdout and "[ok  ] a sandboxed `true` runs" in done.stdout, done.stdout
    assert "warm helper (/usr/bin/python3" in done.stdout and "Ready for srt mode" in done.stdout


def test_config_check_names_docker_only_keys(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"agent:\n  id: a\n  backend:\n    cwd: {tmp_path}\n    command_line_execution_mode: srt\n"
                      "    command_line_docker_image: custom:1\n    command_line_docker_memory_limit: 2g\n"
                      "    command_line_docker_credentials: {mount: [ssh_keys], env_vars: [X]}\n")
    done = subprocess.run([MGEXEC, "config", "check", str(config)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, done.stderr
    line = next(l for l in done.stdout.splitlines() if l.startswith("not applying"))
    assert "command_line_docker_image, command_line_docker_memory_limit, command_line_docker_credentials.mount" in line
    assert "srt mode" in line and "env_vars" not in line


def test_exec_mode_srt_runs_sandboxed(tmp_path):
    done = subprocess.run([MGEXEC, "exec", "--mode", "srt", "--workspace", str(tmp_path), "--",
                           "python3 -c 'import socket; print(socket.if_nameindex())'; echo x > here"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0 and done.stdout == "[(1, 'lo')]\n", done
    assert (tmp_path / "here").exists()


def test_the_same_sandbox_works_for_an_unprivileged_user(tmp_path):
    """bwrap as a normal user goes through a user namespace; the argv must work there too."""
    import os
    import shutil

    from mgexec.config import ExecConfig
    from mgexec.config.sandbox import SandboxSettings
    from mgexec.sandbox.argv import build_bwrap_argv
    from mgexec.sandbox.spec import build_spec

    assert os.geteuid() == 0 and shutil.which("setpriv"), "the suite runs as root, with util-linux's setpriv"
    workspace = Path(tempfile_dir()) / "ws"
    workspace.mkdir()
    os.chmod(workspace.parent, 0o755)
    os.chown(workspace, 65534, 65534)
    try:
        for mode in ("confined", "strict", "open"):
            config = ExecConfig(workspace=workspace, mode="srt", sandbox=SandboxSettings(read_mode=mode))
            argv = build_bwrap_argv(build_spec(config, home=str(workspace.parent), work_dir=str(workspace)), [
                "bash", "-c", "id -u; grep CapEff /proc/self/status; echo x > made && cat made; ls /root 2>&1 | head -1"])
            done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv],
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
            assert done.returncode == 0, (mode, done.stderr)
            assert done.stdout.splitlines()[:3] == ["65534", "CapEff:\t0000000000000000", "x"], (mode, done.stdout)
    finally:
        shutil.rmtree(workspace.parent, ignore_errors=True)


def tempfile_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="mgexec-srt-nobody-", dir="/var/tmp")


def test_secret_paths_expand_home_globs_and_symlink_targets(tmp_path, monkeypatch):
    from mgexec.sandbox import spec

    (tmp_path / "etc").mkdir()
    for name in ("ssh_host_rsa_key", "ssh_host_rsa_key.pub", "ssh_host_ed25519_key"):
        (tmp_path / "etc" / name).write_text("k")
    (tmp_path / "real-ssh").mkdir()
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".ssh").symlink_to(tmp_path / "real-ssh")
    monkeypatch.setattr(spec, "ROOT_SECRETS", (str(tmp_path / "etc" / "ssh_host_*_key"),))
    paths = spec.secret_paths(str(tmp_path / "home"), [tmp_path / "extra"])
    assert str(tmp_path / "home" / ".ssh") in paths and str(tmp_path / "real-ssh") in paths
    assert str(tmp_path / "etc" / "ssh_host_rsa_key") in paths and str(tmp_path / "etc" / "ssh_host_ed25519_key") in paths
    assert str(tmp_path / "etc" / "ssh_host_rsa_key.pub") not in paths and str(tmp_path / "extra") in paths
    assert str(tmp_path / "home" / ".config" / "gh") in paths and "/etc/shadow" in paths
