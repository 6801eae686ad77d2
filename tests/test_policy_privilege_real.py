"""The privilege table against the real tools: each line refused with sudo disabled really gives a
file the setuid/setgid bit (copied from a setuid source or set by a mode), and each near miss that
passes really does not."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy, check_command

# (line run in a directory holding `src`, mode 4755; the file it makes; whether the policy refuses)
CASES = [
    ("cp -p src out", "out", True),
    ("cp -a src out", "out", True),
    ("cp --preserve=mode src out", "out", True),
    ("cp -rp src out", "out", True),
    ("install -m 4755 src out", "out", True),
    ("install -m u+s src out", "out", True),
    ("install -Dm2755 src sub/out", "sub/out", True),
    ("mkdir -m 2775 out", "out", True),
    ("tar -cf a.tar src && mkdir x && tar -xpf a.tar -C x", "x/src", True),
    ("tar -cf a.tar src && mkdir x && tar --same-owner -xpf a.tar -C x", "x/src", True),
    ("install -m u-w+s src out", "out", True),
    ("install --m=4755 src out", "out", True),
    ("cp --pr=mode src out", "out", True),
    ("cp --pre src out", "out", True),
    ("mkdir --m=2775 out", "out", True),
    ("cp src out", "out", False),
    ("cp -r src out", "out", False),
    ("cp -P src out", "out", False),
    ("cp --preserve=timestamps src out", "out", False),
    ("cp -a --no-preserve=mode,ownership src out", "out", False),
    ("install -m 755 src out", "out", False),
    ("install -m o+s src out", "out", False),
    ("install src out", "out", False),
    ("mkdir -m 775 out", "out", False),
    ("tar -cf a.tar src && mkdir x && tar -xf a.tar --no-same-permissions -C x", "x/src", False),
]


def _refused(line: str) -> bool:
    try:
        check_command(line, CommandPolicy())
    except PolicyViolation:
        return True
    return False


@pytest.mark.parametrize("line, made, refused", CASES)
def test_refused_lines_set_the_bit_and_passing_lines_do_not(tmp_path: Path, line: str, made: str,
                                                           refused: bool) -> None:
    if shutil.which(line.split()[0]) is None:
        pytest.skip(f"{line.split()[0]} is not installed")
    source = tmp_path / "src"
    source.write_text("x\n")
    source.chmod(0o4755)
    if not source.stat().st_mode & stat.S_ISUID:
        pytest.skip("this file system does not keep the setuid bit")
    subprocess.run(["bash", "-c", line], cwd=tmp_path, env={**os.environ, "LC_ALL": "C"},
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=True)
    mode = (tmp_path / made).stat().st_mode
    assert bool(mode & (stat.S_ISUID | stat.S_ISGID)) == refused, oct(mode)
    assert _refused(line) == refused


def test_plain_tar_extraction_by_root_keeps_the_bit_and_is_not_refused(tmp_path: Path) -> None:
    """GNU tar run by root restores modes by default; refusing every extraction would refuse most
    archive work, so this stays allowed and is documented as an edge (docker mode contains it)."""
    if os.geteuid() != 0 or shutil.which("tar") is None:
        pytest.skip("needs GNU tar run by root")
    source = tmp_path / "src"
    source.write_text("x\n")
    source.chmod(0o4755)
    line = "tar -cf a.tar src && mkdir x && tar -xf a.tar -C x"
    subprocess.run(["bash", "-c", line], cwd=tmp_path, capture_output=True, timeout=30, check=True)
    assert (tmp_path / "x" / "src").stat().st_mode & stat.S_ISUID
    assert not _refused(line)
