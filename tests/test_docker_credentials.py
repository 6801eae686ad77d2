"""Credentials and preinstall on a real engine: values reach the container, never argv; installs fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockermode import docker_config, exists, require_image
from mgexec.config.models import Credentials
from mgexec.docker.credentials import resolve_env
from mgexec.errors import ConfigError, PreinstallFailed
from mgexec.executors.docker import DockerExecutor
from procutil import watched_cmdlines

SECRET = "sk-mgexec-test-7f3a9c1e"


def test_env_precedence_is_massgen_s(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("A=from-file\nB=from-file\nC=from-file\n")
    creds = Credentials(env_file=str(env_file), env_vars=("B",), pass_all_env=True)
    values = resolve_env(creds, {"B": "from-host-list", "C": "from-all-env", "PATH": "/host/bin"}).values
    assert values == {"A": "from-file", "B": "from-host-list", "C": "from-all-env"}  # PATH stays the host's


def test_env_vars_from_file_filters_and_requires_each_name(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("KEEP=1\nDROP=2\n")
    assert resolve_env(Credentials(env_file=str(env_file), env_vars_from_file=("KEEP",)), {}).values == {"KEEP": "1"}
    with pytest.raises(ConfigError, match="lists MISSING, which is not in"):
        resolve_env(Credentials(env_file=str(env_file), env_vars_from_file=("KEEP", "MISSING")), {})
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_env(Credentials(env_file=str(tmp_path / "nope.env")), {})


def test_secret_env_repr_shows_names_only():
    env = resolve_env(Credentials(env_vars=("TOKEN",)), {"TOKEN": SECRET})
    assert SECRET not in repr(env) and "TOKEN" in repr(env)


@pytest.mark.docker
async def test_secrets_reach_the_container_but_never_any_argv(tmp_path, workspace, monkeypatch):
    require_image()
    env_file = tmp_path / ".env"
    env_file.write_text(f"FILE_SECRET={SECRET}-file\n")
    monkeypatch.setenv("HOST_SECRET", f"{SECRET}-host")
    creds = {"env_file": str(env_file), "env_vars": ["HOST_SECRET"]}
    with watched_cmdlines() as seen:
        async with DockerExecutor(docker_config(workspace, credentials=creds)) as executor:
            result = await executor.execute('echo "$FILE_SECRET|$HOST_SECRET"')
            refused = await executor.execute(f"sudo echo {SECRET}")  # an error message must not echo it either
    assert result.stdout == f"{SECRET}-file|{SECRET}-host\n"
    docker_calls = [c for c in seen if "docker" in c and ("run" in c or "exec" in c)]
    assert any(" run " in c for c in docker_calls), "the watcher never saw docker run"
    assert not [c for c in docker_calls if f"{SECRET}-" in c]
    assert refused.exit_code == -1


@pytest.mark.docker
async def test_credential_mounts_are_read_only_at_massgen_paths(tmp_path, workspace, monkeypatch):
    require_image()
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_test").write_text("key\n")
    (home / ".gitconfig").write_text("[user]\n  name = t\n")
    monkeypatch.setenv("HOME", str(home))
    creds = {"mount": ["ssh_keys", "git_config"]}
    async with DockerExecutor(docker_config(workspace, credentials=creds)) as executor:
        read = await executor.execute("cat /home/massgen/.ssh/id_test /home/massgen/.gitconfig")
        write = await executor.execute("touch /home/massgen/.ssh/new")
    assert read.stdout.startswith("key\n[user]") and "Read-only file system" in write.stderr


@pytest.mark.docker
async def test_missing_credential_mount_is_a_clear_error(tmp_path, workspace, monkeypatch):
    require_image()
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    config = docker_config(workspace, credentials={"mount": ["gh_config"]})
    with pytest.raises(ConfigError, match=r"asks for gh_config, but .*\.config/gh does not exist"):
        await DockerExecutor(config).start()
    assert not exists(config.container_name)


@pytest.mark.docker
@pytest.mark.slow
async def test_python_preinstall_happens_before_the_first_command(workspace):
    require_image()
    config = docker_config(workspace, network_mode="bridge", packages={"preinstall": {"python": ["six==1.16.0"]}})
    messages = []

    async def progress(elapsed, message):
        messages.append(message)

    executor = DockerExecutor(config)
    await executor.start(on_progress=progress)
    try:
        result = await executor.execute("python -c 'import six; print(six.__version__)'")
    finally:
        await executor.close()
    assert result.stdout == "1.16.0\n", result.stderr
    assert messages == ["installing python packages: six==1.16.0"]


@pytest.mark.docker
@pytest.mark.slow
async def test_failing_preinstall_fails_the_start_with_the_installer_output(workspace):
    require_image()
    config = docker_config(workspace, network_mode="bridge",
                           packages={"preinstall": {"python": ["mgexec-no-such-package-0a1b2c"]}})
    with pytest.raises(PreinstallFailed, match=r"(?s)python packages \(mgexec-no-such-package-0a1b2c\).*No matching distribution"):
        await DockerExecutor(config).start()
    assert not exists(config.container_name)


@pytest.mark.docker
@pytest.mark.slow
async def test_system_and_npm_preinstall_in_the_sudo_image(workspace):
    require_image("massgen/mcp-runtime-sudo:latest")
    config = docker_config(workspace, network_mode="bridge", enable_sudo=True,
                           packages={"preinstall": {"system": ["jq"], "npm": ["is-number@7.0.0"]}})
    async with DockerExecutor(config) as executor:
        result = await executor.execute("echo '{\"a\": 5}' | jq .a; node -e \"console.log(require('is-number')(5))\"",
                                        timeout=60)
    assert result.stdout == "5\ntrue\n", result.stderr


@pytest.mark.docker
@pytest.mark.slow
async def test_preinstall_progress_reaches_mcp_clients_and_the_cli(tmp_path):
    import sys

    from mcp.client import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    require_image()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("agent:\n  id: pre_mcp\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n"
                   "    command_line_docker_network_mode: bridge\n    command_line_progress_interval: 0.3\n"
                   "    command_line_docker_packages: {preinstall: {python: [six==1.16.0]}}\n")
    mgexec = str(Path(sys.executable).parent / "mgexec")
    messages = []

    async def on_progress(progress, total, message):
        messages.append(message)

    params = StdioServerParameters(command=mgexec, args=["serve", "--config", str(cfg)], cwd=str(tmp_path))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()  # answers at once, while the install goes on
            result = await session.call_tool("execute_command", {"command": "python -c 'import six'; echo ok"},
                                             progress_callback=on_progress)
    assert result.structured_content["stdout"] == "ok\n"
    assert any("installing python packages: six==1.16.0" in m for m in messages), messages

    import subprocess

    proc = subprocess.run([mgexec, "exec", "--config", str(cfg), "--", "echo done"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.stdout == "done\n" and "mgexec: installing python packages: six==1.16.0" in proc.stderr
