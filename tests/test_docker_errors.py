"""The one docker/podman error mapper: every message class it knows -> exception class and structured fields.

Samples are what docker CLI 20.10/28/29 and podman 4.x print (see also test_docker_cli.py for the wording
of each paragraph); here the point is the class and the fields, for the gateway's calls, a command's own
`docker exec`, and the warm channel's helper.
"""

from __future__ import annotations

import pytest

from mgexec.docker.errors import (TOO_OLD_EXIT, binary_error, classify, exec_failure, helper_start_failure,
                                  map_docker_error, timeout_error)
from mgexec.errors import (ChannelUnavailable, ContainerConflict, DockerError, DockerTimeout, DockerUnavailable,
                           ImageNotFound, NoSuchContainer)
from mgexec.errors import DockerFailure as K

EMULATE = "Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\n"
RUN = ["docker", "run", "-d", "--name", "massgen-a1", "img:1"]
EXEC = ["docker", "exec", "massgen-a1", "true"]

# argv, stderr -> class, kind, container, image
CASES = [
    pytest.param(["docker", "ps"], "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?\n",
                 DockerUnavailable, K.UNREACHABLE, None, None, id="docker-daemon-down"),
    pytest.param(["docker", "ps"], "Got permission denied while trying to connect to the Docker daemon socket at "
                 "unix:///var/run/docker.sock: connect: permission denied\n",
                 DockerUnavailable, K.UNREACHABLE, None, None, id="docker-permission"),
    pytest.param(["docker", "ps"], "failed to connect to the docker API at unix:///var/run/docker.sock; check if the "
                 "path is correct and if the daemon is running\n",
                 DockerUnavailable, K.UNREACHABLE, None, None, id="docker29-daemon-down"),
    pytest.param(["docker", "ps"], "error during connect: This error may indicate that the docker daemon is not "
                 "running.: Get \"http://x\": open //./pipe/docker_engine\n",
                 DockerUnavailable, K.UNREACHABLE, None, None, id="docker-windows-not-running-is-unreachable"),
    pytest.param(["docker", "ps"], "Error: unable to connect to Podman socket: dial unix /run/podman.sock\n",
                 DockerUnavailable, K.UNREACHABLE, None, None, id="podman-socket"),
    pytest.param(["docker", "--context", "nosuch", "ps"], 'Failed to initialize: unable to resolve docker endpoint: '
                 'context "nosuch": context not found: open /root/.docker/contexts/meta/x/meta.json\n',
                 DockerUnavailable, K.NO_CONTEXT, None, None, id="docker-context"),
    pytest.param(RUN, 'docker: Error response from daemon: Conflict. The container name "/massgen-a1" is already in '
                 'use by container "97c4".\n', ContainerConflict, K.CONFLICT, "massgen-a1", None, id="docker-conflict"),
    pytest.param(RUN, EMULATE + 'Error: creating container storage: the container name "massgen-a1" is already in use '
                 "by 4f0c. You have to remove that container: that name is already in use\n",
                 ContainerConflict, K.CONFLICT, "massgen-a1", None, id="podman-conflict"),
    pytest.param(RUN, "docker: Error response from daemon: No such image: img:1\n",
                 ImageNotFound, K.NO_IMAGE, None, "img:1", id="docker-pull-never"),
    pytest.param(RUN, "Unable to find image 'img:1' locally\ndocker: Error response from daemon: pull access denied "
                 "for img, repository does not exist\n", ImageNotFound, K.NO_IMAGE, None, "img:1", id="docker-pull"),
    pytest.param(["docker", "image", "inspect", "img:2"], "Error response from daemon: no such image: img:2: No such "
                 "image: img:2\n", ImageNotFound, K.NO_IMAGE, None, "img:2", id="docker-image-inspect"),
    pytest.param(["docker", "inspect", "--type", "image", "img:3"], "Error: No such object: img:3\n",
                 ImageNotFound, K.NO_IMAGE, None, "img:3", id="inspect-image-no-such-object"),
    pytest.param(RUN, EMULATE + "Error: img:1: image not known\n", ImageNotFound, K.NO_IMAGE, None, "img:1",
                 id="podman-image-unknown"),
    pytest.param(EXEC, "Error response from daemon: No such container: massgen-a1\n",
                 NoSuchContainer, K.NO_CONTAINER, "massgen-a1", None, id="docker-no-container"),
    pytest.param(["docker", "inspect", "massgen-b2"], "Error: No such object: massgen-b2\n",
                 NoSuchContainer, K.NO_CONTAINER, "massgen-b2", None, id="inspect-no-such-object"),
    pytest.param(EXEC, EMULATE + 'Error: no container with name or ID "massgen-a1" found: no such container\n',
                 NoSuchContainer, K.NO_CONTAINER, "massgen-a1", None, id="podman-no-container"),
    pytest.param(["docker", "kill", "abc"], "Error response from daemon: Cannot kill container: abc: Container abc is "
                 "not running\n", DockerError, K.NOT_RUNNING, "abc", None, id="docker-not-running"),
    pytest.param(["docker", "kill", "abc"], EMULATE + "Error: can only kill running containers. abc is in state exited: "
                 "container state improper\n", DockerError, K.NOT_RUNNING, None, None, id="podman-not-running"),
    pytest.param(EXEC, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "bash": '
                 "executable file not found in $PATH: unknown\n", DockerError, K.EXEC_FAILED, None, None,
                 id="docker-exec-failed"),
    pytest.param(RUN, "docker: Error response from daemon: invalid mount config for type \"bind\"\n",
                 DockerError, K.DAEMON, None, None, id="docker-daemon-refusal"),
    pytest.param(RUN, "unknown flag: --badflag\n\nRun 'docker run --help' for more information\n",
                 DockerError, K.OTHER, None, None, id="unknown"),
    pytest.param(RUN, "", DockerError, K.OTHER, None, None, id="silent"),
]


@pytest.mark.parametrize("argv, stderr, cls, kind, container, image", CASES)
def test_every_message_class_maps_to_its_exception_and_fields(argv, stderr, cls, kind, container, image):
    error = map_docker_error(argv, 125, "", stderr)
    assert type(error) is cls and isinstance(error, DockerError)
    assert (error.kind, error.container, error.image) == (kind, container, image)
    assert (error.argv, error.exit_code, error.stderr) == (argv, 125, stderr)
    assert classify(argv, stderr) is kind
    assert "\n" not in str(error) and str(error)


def test_the_caller_s_names_fill_what_docker_did_not_say():
    error = map_docker_error(RUN, 125, "", "Error: image not known\n", image="massgen/mcp-runtime")
    assert error.image == "massgen/mcp-runtime" and "`mgexec build`" in str(error)
    error = map_docker_error(EXEC, 1, "", "Error response from daemon: Container 1f2e is restarting, wait\n",
                             container="massgen-a1")
    assert error.kind is K.DAEMON and error.container == "massgen-a1"


# A command's own `docker exec`: the engine's failure, or the command's own exit code and stderr.
@pytest.mark.parametrize("code, stderr, kind", [
    (125, "Error response from daemon: No such container: massgen-a1\n", K.NO_CONTAINER),
    (126, "Error response from daemon: Container abc is not running\n", K.NOT_RUNNING),
    (126, 'OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ("/w") set in '
          "config.json failed: no such file or directory: unknown\n", K.EXEC_FAILED),
    (125, "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?\n", K.UNREACHABLE),
    (127, "bash: line 1: nosuchprogram: command not found\n", None),  # the command's own
    (126, "bash: ./script: Permission denied\n", None),
    (1, "Error response from daemon: No such container: x\n", None),  # exit 1 is the command's
    (125, "docker: Error response from daemon: No such image: img\n", None),  # a `docker run` the command ran
    (0, "", None),
])
def test_a_command_s_own_exec_is_the_engine_s_failure_only_when_docker_said_so(code, stderr, kind):
    error = exec_failure(EXEC, code, stderr, "massgen-a1")
    if kind is None:
        assert error is None
    else:
        assert error.kind is kind and error.exit_code == code and error.container in ("massgen-a1", "abc")


# The warm channel's helper: the image cannot run it (ChannelUnavailable: fall back), or docker's own failure.
@pytest.mark.parametrize("code, stderr, cls, kind", [
    (126, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "python3": executable '
          "file not found in $PATH: unknown", ChannelUnavailable, K.NO_PYTHON),
    (127, "Error: crun: executable file `python3` not found in $PATH: No such file or directory",
     ChannelUnavailable, K.NO_PYTHON),
    (TOO_OLD_EXIT, "mgexec-inside: needs Python 3.7 or newer, found 3.6.9", ChannelUnavailable, K.OLD_PYTHON),
    (2, "Unknown option: -I\nusage: python3 [option] ...", ChannelUnavailable, K.OLD_PYTHON),
    (1, "Traceback (most recent call last):\n  ...\nMemoryError", ChannelUnavailable, K.HELPER_FAILED),
    (1, "Error: No such container: gone", NoSuchContainer, K.NO_CONTAINER),
    (1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", DockerUnavailable, K.UNREACHABLE),
    (126, "Error response from daemon: Container c1 is not running", DockerError, K.NOT_RUNNING),
])
def test_helper_start_failures(code, stderr, cls, kind):
    argv = ["docker", "exec", "-i", "c1", "python3"]
    error = helper_start_failure(argv, "c1", code, stderr)
    assert type(error) is cls and error.kind is kind and error.exit_code == code and error.stderr == stderr
    assert error.container in ("c1", "gone")


def test_a_missing_cli_and_a_hung_call():
    missing = binary_error("nosuchdocker", FileNotFoundError(2, "No such file"), ["nosuchdocker", "ps"])
    assert type(missing) is DockerUnavailable and missing.kind is K.NO_BINARY and "MGEXEC_DOCKER" in str(missing)
    hung = timeout_error(["docker", "ps"], 5, None, "", "")
    assert type(hung) is DockerTimeout and hung.kind is K.TIMEOUT and isinstance(hung, TimeoutError)
