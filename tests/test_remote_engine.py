"""DOCKER_HOST is honoured: mgexec drives the engine through a second socket run as a compose service."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from composeutil import require_compose
from dockermode import docker_config, exists, require_image
from dockerutil import docker_binary
from mgexec.executors.docker import DockerExecutor

pytestmark = pytest.mark.docker
PROXY_DIR = Path("/tmp/mgexec-engine-proxy")
SOCKET = PROXY_DIR / "engine.sock"


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    """pytest-docker's hook: whichever compose exists (composeutil), not its fixed `docker compose`."""
    return require_compose()


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(Path(__file__).parent / "compose" / "engine-proxy.yml")


@pytest.fixture(scope="session")
def docker_setup():
    return ["up -d"]  # v1 has no --wait; readiness is checked below, the same for both


@pytest.fixture(scope="session")
def engine_socket(docker_services) -> str:
    def ready() -> bool:
        if not SOCKET.exists():
            return False
        out = subprocess.run([docker_binary(), "-H", f"unix://{SOCKET}", "version", "--format", "{{.Server.Version}}"],
                             capture_output=True, text=True)
        return out.returncode == 0

    docker_services.wait_until_responsive(ready, timeout=60, pause=0.3)
    return f"unix://{SOCKET}"


@pytest.fixture(scope="session", autouse=True)
def _proxy_dir():
    require_image()
    if SOCKET.exists():
        SOCKET.unlink()
    PROXY_DIR.mkdir(exist_ok=True)


async def test_docker_host_reaches_the_engine_through_another_socket(engine_socket, workspace, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine_socket)
    config = docker_config(workspace)
    executor = DockerExecutor(config)
    await executor.start()
    try:
        result = await executor.execute("echo via-proxy")
        assert result.stdout == "via-proxy\n"
        assert exists(config.container_name)  # the same daemon, seen through the default socket
    finally:
        await executor.close()
    assert not exists(config.container_name)


def test_cli_exec_honours_docker_host(engine_socket, tmp_path):
    import sys

    cfg = tmp_path / "c.yaml"
    cfg.write_text("agent:\n  id: remote_cli\n  backend:\n    cwd: ws\n    command_line_execution_mode: docker\n")
    env = {**os.environ, "DOCKER_HOST": engine_socket}
    proc = subprocess.run([str(Path(sys.executable).parent / "mgexec"), "exec", "--config", str(cfg), "--", "echo ok"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.stdout == "ok\n", proc.stderr
    doctor = subprocess.run([str(Path(sys.executable).parent / "mgexec"), "doctor", "--config", str(cfg)],
                            cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert f"via DOCKER_HOST={engine_socket}" in doctor.stdout
