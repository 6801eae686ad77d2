"""The engine CLI the test helpers drive: MGEXEC_DOCKER everywhere, and for compose `<docker> compose` v2
when the plugin runs, else `docker-compose` v1, else a skip that says why (a failure under CI); checked
with stand-in CLIs on PATH, no engine needed."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from composeutil import compose_command, require_compose

# A stand-in CLI: answers `<cli> [compose] version` as the real ones do, and says so when asked for
# a plugin it does not have.
CLI = """#!/bin/sh
case "$*" in
  "{ok}") echo "{name} version 9.9"; exit 0;;
  *) echo "{name}: unknown command: $*" >&2; exit 1;;
esac
"""


@pytest.fixture
def path_with(tmp_path, monkeypatch):
    """Put stand-ins on a PATH of their own: path_with(docker=True, v1=False)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("MGEXEC_DOCKER", raising=False)

    def make(**clis: str) -> Path:
        for name, answers in clis.items():
            script = bin_dir / name
            script.write_text(CLI.format(ok=answers, name=name))
            script.chmod(0o755)
        return bin_dir

    return make


@pytest.mark.parametrize(("clis", "expected"), [
    ({"docker": "compose version", "docker-compose": "version"}, "docker compose"),  # v2 preferred
    ({"docker": "compose version"}, "docker compose"),
    ({"docker": "version", "docker-compose": "version"}, "docker-compose"),  # CLI without the plugin
    ({"docker-compose": "version"}, "docker-compose"),  # no docker CLI at all
    ({"docker": "version", "docker-compose": "nothing"}, None),  # a broken v1 counts as none
    ({}, None),
], ids=["both", "v2-only", "v1-when-plugin-missing", "v1-without-docker", "broken-v1", "neither"])
def test_the_first_compose_that_runs_is_chosen(path_with, clis, expected):
    path_with(**clis)
    assert compose_command() == expected


def test_the_compose_plugin_of_mgexec_docker_is_used(path_with, monkeypatch):
    bin_dir = path_with(podman="compose version", docker="compose version")
    monkeypatch.setenv("MGEXEC_DOCKER", str(bin_dir / "podman"))
    assert compose_command() == f"{bin_dir / 'podman'} compose"
    monkeypatch.setenv("MGEXEC_DOCKER", str(bin_dir / "my docker"))  # a path with a space stays one word
    (bin_dir / "my docker").write_text(CLI.format(ok="compose version", name="x"))
    (bin_dir / "my docker").chmod(0o755)
    assert compose_command() == f"'{bin_dir / 'my docker'}' compose"


def test_neither_skips_with_the_reason(path_with, monkeypatch):
    path_with(docker="version")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"neither `docker compose` \(v2 plugin\) nor `docker-compose`"):
        require_compose()


def test_neither_fails_under_ci(path_with, monkeypatch):
    path_with()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs compose for this test, but neither"):
        require_compose()


def test_found_compose_is_returned(path_with, monkeypatch):
    path_with(**{"docker-compose": "version"})
    monkeypatch.setenv("CI", "true")
    assert require_compose() == "docker-compose"
    assert os.environ["PATH"].count(os.pathsep) == 0  # the stand-ins alone were on PATH


# --- the docker CLI of every helper -----------------------------------------------------------------

def test_helpers_drive_the_cli_mgexec_docker_names(monkeypatch):
    from dockerutil import docker_argv, docker_binary

    monkeypatch.setenv("MGEXEC_DOCKER", " /opt/podman/bin/podman ")
    assert docker_binary() == "/opt/podman/bin/podman"
    assert docker_argv("ps", "-a") == ["/opt/podman/bin/podman", "ps", "-a"]
    monkeypatch.setenv("MGEXEC_DOCKER", "")
    assert docker_argv("ps") == "docker ps".split()


# A docker argv spelled out with a fixed `docker` (the helpers' argv must come from docker_binary());
# argv-builder tables and expected-argv data name `docker` on purpose and are not helpers.
HARD_CODED = re.compile(r"""(\[\s*|create_subprocess_exec\(\s*|_output\(\s*)["']docker["']\s*[,\]]""")
DATA_ON_PURPOSE = ("tests/test_docker_argv.py", "tests/test_docker_cli.py", "tests/test_docker_errors.py")


def test_no_helper_hard_codes_the_docker_cli():
    root = Path(__file__).resolve().parents[1]
    found = []
    for path in sorted([*root.glob("tests/**/*.py"), *root.glob("bench/**/*.py")]):
        rel = path.relative_to(root).as_posix()
        if rel in DATA_ON_PURPOSE:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if HARD_CODED.search(line) and "open_failure(" not in line and "HARD_CODED" not in line:
                found.append(f"{rel}:{number}: {line.strip()}")
    assert found == []
