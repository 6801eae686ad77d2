"""Deployments: the state table that decides a place's life (pure), the claim on a container name (pure),
and on a real engine the rule that a deployment removes only what it made and does not keep."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from mgexec.config import DEFAULT_IMAGE
from mgexec.deployments.container import Claim, ContainerDeployment, decide_claim
from mgexec.deployments.host import HostDeployment
from mgexec.deployments.state import (LIVE, TRANSITIONS, Event, InvalidTransition, State, made_here, owns,
                                      transition)
from mgexec.docker.container import LABEL, ContainerInfo, Owner
from mgexec.errors import ContainerConflict, DockerError, DockerFailure, MgexecError, NoSuchContainer
from dockerutil import docker_binary

S, E = State, Event

# (state, event) -> (next state, whether the place is taken down); every pair not listed is refused.
TABLE = {
    (S.ABSENT, E.CREATE): (S.CREATED, False),
    (S.ABSENT, E.CREATE_KEPT): (S.CREATED_KEPT, False),
    (S.ABSENT, E.REUSE): (S.REUSED, False),
    (S.ABSENT, E.ADOPT): (S.ADOPTED, False),
    (S.ABSENT, E.FAIL): (S.CLOSED, False),
    (S.ABSENT, E.CLOSE): (S.CLOSED, False),
    (S.CREATED, E.FAIL): (S.CLOSED, True),
    (S.CREATED, E.CLOSE): (S.CLOSED, True),
    (S.CREATED_KEPT, E.FAIL): (S.CLOSED, True),  # a half-made kept container is nobody's
    (S.CREATED_KEPT, E.CLOSE): (S.CLOSED, False),  # `mgexec up`: it outlives us
    (S.REUSED, E.FAIL): (S.CLOSED, False),
    (S.REUSED, E.CLOSE): (S.CLOSED, False),
    (S.ADOPTED, E.FAIL): (S.CLOSED, False),  # never remove what we did not create
    (S.ADOPTED, E.CLOSE): (S.CLOSED, False),
    (S.CLOSED, E.CLOSE): (S.CLOSED, False),
}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Event))
def test_every_transition_is_in_the_table_or_refused(state, event):
    if (state, event) in TABLE:
        assert transition(state, event) == TABLE[(state, event)]
    else:
        with pytest.raises(InvalidTransition) as info:
            transition(state, event)
        assert isinstance(info.value, MgexecError) and state.value in str(info.value)


def test_the_table_is_the_code_s_table():
    assert set(TRANSITIONS) == set(TABLE)


@pytest.mark.parametrize("state, made, owned, live", [
    (S.ABSENT, False, False, False),
    (S.CREATED, True, True, True),
    (S.CREATED_KEPT, True, False, True),
    (S.REUSED, False, False, True),
    (S.ADOPTED, False, False, True),
    (S.CLOSED, False, False, False),
])
def test_what_each_state_means(state, made, owned, live):
    assert (made_here(state), owns(state), state in LIVE) == (made, owned, live)


def test_only_what_was_made_here_is_ever_taken_down():
    for (state, _event), (_next, takes_down) in TABLE.items():
        if takes_down:
            assert made_here(state), state


def _info(running=True, managed=True, kept=False, owner: Owner | None = None) -> ContainerInfo:
    labels = {f"{LABEL}.managed": "true" if managed else "false", f"{LABEL}.kept": "true" if kept else "false"}
    labels.update(owner.labels() if owner else {})
    return ContainerInfo(name="massgen-a1", running=running, labels=labels)


GONE = Owner("this-host-is-not-here-" + uuid.uuid4().hex[:6], 1, "1")  # another host: assumed alive


@pytest.mark.parametrize("info, claim", [
    (None, Claim.CREATE),
    (_info(managed=False), Claim.FOREIGN),
    (_info(managed=False, kept=True), Claim.FOREIGN),  # labels alone do not make it ours
    (_info(kept=True), Claim.REUSE),
    (_info(kept=True, running=False), Claim.REPLACE),
    (_info(owner=None), Claim.REPLACE),  # mgexec's, with no owner: a leftover
    (_info(owner=Owner.current()), Claim.HELD),
    (_info(owner=GONE), Claim.HELD),  # an owner on another host may be alive: never touched
])
def test_claim_on_a_name(info, claim):
    assert decide_claim(info) is claim


def test_a_dead_local_owner_s_container_is_replaced():
    dead = Owner(Owner.current().host, 2 ** 22 + 17, "123")  # no such pid: its start time reads as ""
    assert decide_claim(_info(owner=dead)) is Claim.REPLACE


async def test_host_deployment_owns_its_watchdog_only_while_open():
    host = HostDeployment()
    assert host.state is S.ABSENT and host.watchdog is None
    await host.open()
    watchdog = host.watchdog
    assert host.state is S.CREATED and watchdog is not None and host.owns
    await host.close()
    assert host.state is S.CLOSED and host.watchdog is None
    await host.close()  # twice is harmless
    assert host.state is S.CLOSED


# --- the real engine ----------------------------------------------------------------------------------

def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([docker_binary(), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)


@pytest.fixture
def someone_elses_container(workspace):
    """A running container made without mgexec, as MassGen makes its own (the workspace at its host path)."""
    from dockermode import remove, require_image

    require_image()
    name = f"mgexec-adopt-{uuid.uuid4().hex[:8]}"
    made = _docker("run", "-d", "--name", name, "--network", "none", "--user", "0",
                   "--mount", f"type=bind,source={workspace},target={workspace}", DEFAULT_IMAGE)
    assert made.returncode == 0, made.stderr
    yield name
    remove(name)


@pytest.mark.docker
async def test_an_adopted_container_runs_commands_and_is_never_removed(someone_elses_container, workspace):
    from dockermode import docker_config, exists
    from mgexec.executors.docker import DockerExecutor

    for warm in (True, False):
        executor = DockerExecutor(docker_config(workspace, docker_warm_channel=warm))
        await executor.deployment.adopt(someone_elses_container)
        await executor.start()
        assert executor.deployment.state is S.ADOPTED and not executor.owned
        launcher = executor.make_launcher()
        assert launcher.owns_container is False  # its watchdog never removes it after a crash
        launcher.close()
        result = await executor.execute("echo in $(pwd); touch made-inside")
        assert result.exit_code == 0 and result.stdout == f"in {workspace}\n", result
        assert (workspace / "made-inside").exists()
        await executor.close()
        assert executor.deployment.state is S.CLOSED
        assert exists(someone_elses_container)
        assert _docker("inspect", "-f", "{{.State.Running}}", someone_elses_container).stdout.strip() == "true"


@pytest.mark.docker
async def test_a_failed_start_step_never_removes_an_adopted_container(someone_elses_container, workspace):
    from dockermode import docker_config, exists

    deployment = ContainerDeployment(docker_config(workspace))
    await deployment.adopt(someone_elses_container)

    async def broken() -> None:
        raise DockerError("a start-up step failed")

    with pytest.raises(DockerError):
        await deployment._or_fail(broken())
    assert deployment.state is S.CLOSED and exists(someone_elses_container)


@pytest.mark.docker
async def test_adopting_what_is_not_there_or_stopped_says_so(workspace):
    from dockermode import docker_config, remove, require_image

    require_image()
    deployment = ContainerDeployment(docker_config(workspace))
    missing = f"mgexec-adopt-missing-{uuid.uuid4().hex[:6]}"
    with pytest.raises(NoSuchContainer) as info:
        await deployment.adopt(missing)
    assert info.value.kind is DockerFailure.NO_CONTAINER and info.value.container == missing
    stopped = f"mgexec-adopt-stopped-{uuid.uuid4().hex[:6]}"
    assert _docker("create", "--name", stopped, DEFAULT_IMAGE).returncode == 0
    try:
        with pytest.raises(DockerError) as info:
            await deployment.adopt(stopped)
        assert info.value.kind is DockerFailure.NOT_RUNNING and "start it first" in str(info.value)
        assert deployment.state is S.ABSENT
    finally:
        remove(stopped)


@pytest.mark.docker
async def test_created_goes_kept_stays_and_a_foreign_name_is_refused(workspace, someone_elses_container):
    from dockermode import docker_config, exists, remove, require_image

    require_image()
    made = ContainerDeployment(docker_config(workspace))
    await made.open()
    assert made.state is S.CREATED and exists(made.name)
    await made.close()
    assert made.state is S.CLOSED and not exists(made.name)

    kept = ContainerDeployment(docker_config(workspace), keep=True)
    try:
        await kept.open()
        assert kept.state is S.CREATED_KEPT
        await kept.close()
        assert exists(kept.name)
        again = ContainerDeployment(kept.config)
        await again.open()
        assert again.state is S.REUSED
        await again.close()
        assert exists(kept.name)
    finally:
        remove(kept.name)

    foreign = ContainerDeployment(docker_config(workspace))
    foreign.manager.name = someone_elses_container
    with pytest.raises(ContainerConflict) as info:
        await foreign.open()
    assert info.value.container == someone_elses_container and "did not create" in str(info.value)
    assert exists(someone_elses_container) and foreign.state is S.ABSENT
