"""Every place background shells run, for the shell contract: this host (LocalLauncher), the agent's
container (DockerLauncher) and its bwrap sandbox (SandboxLauncher). A new launcher is one more entry in LAUNCHERS and one Place subclass.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from procutil import session_table, wait_all_gone, with_token


class Place:
    """Where one launcher's shells run, seen from outside: their work dirs, trees and exit reports."""

    id = ""
    kill_grace = 1.0
    not_applicable: dict[str, str] = {}  # behaviour -> why this place does not have it (the test says so)

    def requires(self, behaviour: str) -> None:
        """Skip, giving the entry's reason, a test of a behaviour this place does not have."""
        if behaviour in self.not_applicable:
            pytest.skip(f"not applicable to {self.id}: {self.not_applicable[behaviour]}")

    def launcher(self, **options):
        raise NotImplementedError

    def work_dir(self, tmp_path: Path) -> str:
        """A fresh directory the shell's user can write, seen at the same path by the test and the shell."""
        raise NotImplementedError

    def session(self, sid: int) -> dict[int, tuple[int, str]]:
        """{pid: (process group, command name)} of the live processes of the shell's session."""
        raise NotImplementedError

    def alive(self, pids: list[int]) -> list[int]:
        raise NotImplementedError

    def finder(self):
        """token -> pids of live processes whose command line holds it."""
        raise NotImplementedError

    def signal_death(self, signum: int) -> tuple[str, int]:
        """(status, exit_code) of a shell whose shell process a signal ended, as this launcher reports it."""
        raise NotImplementedError

    def killed_code(self, signum: int) -> int:
        """The exit_code of a shell a kill ended with signum."""
        raise NotImplementedError

    def still_there(self) -> bool:
        """What the shells ran in outlives a deliberate close."""
        return True

    async def tree(self, sid: int, sleeps: int, seconds: float = 10) -> list[int]:
        """The shell's session once `sleeps` sleep processes run in it."""
        deadline = time.monotonic() + seconds
        while True:
            table = await asyncio.to_thread(self.session, sid)
            if [comm for _, comm in table.values()].count("sleep") >= sleeps:
                return list(table)
            assert time.monotonic() < deadline, f"session {sid} never ran {sleeps} sleeps: {table}"
            await asyncio.sleep(0.05)

    async def gone(self, pids: list[int], seconds: float = 5) -> list[int]:
        deadline = time.monotonic() + seconds
        while (alive := await asyncio.to_thread(self.alive, pids)) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return alive

    def close(self) -> None:
        pass


class HostPlace(Place):
    id = "local"

    def launcher(self, **options):
        from mgexec.shells import LocalLauncher

        return LocalLauncher()

    def work_dir(self, tmp_path: Path) -> str:
        return str(tmp_path)

    def session(self, sid: int) -> dict[int, tuple[int, str]]:
        return session_table(sid)

    def alive(self, pids: list[int]) -> list[int]:
        return wait_all_gone(pids, seconds=0)

    def finder(self):
        return with_token

    def signal_death(self, signum: int) -> tuple[str, int]:
        return "killed", -signum

    def killed_code(self, signum: int) -> int:
        return -signum


class ContainerPlace(Place):
    """One agent container for the module, started and removed by mgexec's DockerExecutor.

    The one place the shell contract reaches past the executor's public API (its gateway, container
    name and ownership), so a change of those internals is mended here.
    """

    id = "docker"
    kill_grace = 3.0

    def __init__(self) -> None:
        from dockermode import docker_config, require_image
        from mgexec.executors.docker import DockerExecutor

        require_image()
        self.workspace = Path("/tmp/mgexec-tests") / f"shells-{uuid.uuid4().hex[:8]}"
        self.workspace.mkdir(parents=True, mode=0o755)
        os.chmod(self.workspace.parent, 0o755)
        os.chown(self.workspace, 1000, 1000)  # owned by the image's user, so the container runs as massgen
        self.executor = DockerExecutor(docker_config(self.workspace), warm_channel=False)
        asyncio.run(self.executor.open())
        self.container = self.executor.container

    def launcher(self, owns_container: bool | None = None, **options):
        from mgexec.shells.docker_launcher import DockerLauncher

        owns = self.executor.owned if owns_container is None else owns_container
        return DockerLauncher(cli=self.executor.cli, container=self.container, owns_container=owns)

    def work_dir(self, tmp_path: Path) -> str:
        path = self.workspace / f"{tmp_path.name}-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        os.chown(path, 1000, 1000)
        return str(path)

    def session(self, sid: int) -> dict[int, tuple[int, str]]:
        from dockerutil import docker_argv

        out = subprocess.run(docker_argv("exec", self.container, "ps", "-e", "-o", "pid=,pgid=,sid=,comm="),
                             capture_output=True, text=True, check=True).stdout
        rows = (line.split(None, 3) for line in out.splitlines())
        return {int(pid): (int(pgid), comm) for pid, pgid, s, comm in rows if int(s) == sid}

    def alive(self, pids: list[int]) -> list[int]:
        from dockermode import alive_in_container

        return alive_in_container(self.container, pids)

    def finder(self):
        from dockermode import in_container

        return in_container(self.container)

    def signal_death(self, signum: int) -> tuple[str, int]:
        return "failed", 128 + signum  # docker exec reports a signal death as a shell does

    def killed_code(self, signum: int) -> int:
        return 128 + signum

    def still_there(self) -> bool:
        from dockermode import exists

        return exists(self.container)

    def close(self) -> None:
        asyncio.run(self.executor.close())
        shutil.rmtree(self.workspace, ignore_errors=True)


class SandboxPlace(Place):
    """srt mode: each shell in a bwrap sandbox of its own, from the agent's SandboxDeployment (opened for the
    module). Pids are the ones the shell sees, in its sandbox's PID namespace; read from outside by NSpid."""

    id = "srt"
    not_applicable = {
        "distinct-pids": "each shell has a sandbox and PID namespace of its own, so the pid it reports (its "
                         "keeper's there) is the same in every shell; shell ids stay distinct",
        "shared-network": "each shell has a network namespace of its own (only lo), so a server one shell "
                          "runs on 127.0.0.1 is not reachable from another shell",
    }

    def __init__(self) -> None:
        from mgexec.config import ExecConfig
        from mgexec.deployments.sandbox import SandboxDeployment

        if shutil.which("bwrap") is None:
            pytest.fail("bwrap is not installed: apt-get install bubblewrap (the srt suites never skip)")
        # Under /var/tmp: the sandbox's /tmp is private.
        self.workspace = Path(tempfile.mkdtemp(prefix="mgexec-srt-shells-", dir="/var/tmp"))
        self.deployment = SandboxDeployment(ExecConfig(workspace=self.workspace, mode="srt"))
        asyncio.run(self.deployment.open())

    def launcher(self, **options):
        return self.deployment.launcher()

    def work_dir(self, tmp_path: Path) -> str:
        path = self.workspace / f"{tmp_path.name}-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        return str(path)

    def session(self, sid: int) -> dict[int, tuple[int, str]]:
        from procutil import sandbox_table

        return sandbox_table(sid)  # bwrap --new-session: the sandbox is the shell's session

    def alive(self, pids: list[int]) -> list[int]:
        from procutil import in_nested_namespace

        return in_nested_namespace(pids)

    def finder(self):
        return with_token

    def signal_death(self, signum: int) -> tuple[str, int]:
        if signum == signal.SIGINT:
            # Ctrl-C reaches bwrap itself (commands in the sandbox have no controlling terminal: --new-session),
            # which dies of it and takes the sandbox with it.
            return "killed", -signum
        return "failed", 128 + signum  # bwrap exits as a shell reports a signal death inside, as docker exec

    def killed_code(self, signum: int) -> int:
        return 128 + signum

    def still_there(self) -> bool:
        return self.deployment.running

    def close(self) -> None:
        asyncio.run(self.deployment.close())
        shutil.rmtree(self.workspace, ignore_errors=True)


LAUNCHERS = [
    pytest.param(HostPlace, id="local"),
    pytest.param(ContainerPlace, id="docker", marks=pytest.mark.docker),
    pytest.param(SandboxPlace, id="srt"),
]


@pytest.fixture(scope="module", params=LAUNCHERS)
def place(request):
    made = request.param()
    yield made
    made.close()


@pytest.fixture
def work_dir(place, tmp_path) -> str:
    return place.work_dir(tmp_path)


@pytest.fixture
async def shells(place):
    from mgexec.shells import BackgroundShellManager

    manager = BackgroundShellManager(place.launcher(), kill_grace=place.kill_grace)
    yield manager
    await manager.close()
