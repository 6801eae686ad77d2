"""The directory the policy works out for a command after the line's `cd`s, checked against the
directory a real bash is in at that point (in a scratch tree, nothing is changed)."""

from __future__ import annotations

import os
import posixpath
import subprocess
from pathlib import Path

import pytest

from mgexec.policy import parse_command_line
from mgexec.policy.workdirs import Place, command_places

CD_LINES = [
    "cd ..", "cd ../..", "cd ../../../../../../../../..", "cd /", "cd //tmp/..", "cd /./usr/./bin/..",
    "cd", "cd ~", "cd ~/sub", "cd \"$HOME\"/..", "cd -- ..", "cd -P ..", "cd -L ../..",
    "cd .. && cd ..", "cd ..; cd sub2; cd ..", "pushd .. > /dev/null", "pushd /tmp >/dev/null && cd ..",
    "d=..; cd $d", "d=/usr; cd \"$d/bin\"", "cd ~+/..", "cd ./.././c2",
    "cd missing; cd ..", "cd missing 2>/dev/null; cd ../..", "cd /missing/dir; cd ..",
    "cd sub2 && cd ../..", "cd sub2/missing || cd ..",
]


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    (home / "sub").mkdir(parents=True)
    start = tmp_path / "a" / "b" / "c"
    (start / "sub2").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c2").mkdir()
    return Path(os.path.realpath(start)), Path(os.path.realpath(home))


@pytest.mark.parametrize("line", CD_LINES)
def test_the_policy_knows_where_bash_is(line: str, tree: tuple[Path, Path]) -> None:
    start, home = tree
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    real = subprocess.run(["bash", "-c", f"{line}\npwd"], cwd=start, env=env, capture_output=True,
                          text=True, check=True, timeout=10).stdout.strip()
    real = real[1:] if real.startswith("//") else real  # POSIX keeps a leading `//`: it is `/`
    commands = parse_command_line(f"{line}\ntrue")
    last = next(cmd for cmd in reversed(commands) if cmd.words == ("true",))
    places = command_places(commands, Place(str(start), "start"))[id(last)]
    paths = {_absolute(place.path, home) for place in places}
    assert real in paths, (line, paths)


def _absolute(path: str | None, home: Path) -> str | None:
    if path is None:
        return None
    if path.startswith("~"):
        path = str(home) + path[1:]
    return posixpath.normpath(path) if not path.startswith("//") else posixpath.normpath(path[1:])
