"""work_dir resolution against real directories and symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import resolve_work_dir


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """tmp/ws (workspace), tmp/ws2 (a sibling sharing the prefix), tmp/ctx (context path),
    tmp/outside, and links in and out of the workspace."""
    for name in ("ws/src/pkg", "ws2", "ctx/docs", "outside", "temp_workspaces/agent_b"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "ws/file.txt").write_text("x")
    (tmp_path / "ws/link_out").symlink_to(tmp_path / "outside")
    (tmp_path / "ws/link_in").symlink_to(tmp_path / "ws/src")
    (tmp_path / "ws/link_ctx").symlink_to(tmp_path / "ctx/docs")
    (tmp_path / "ws/dangling").symlink_to(tmp_path / "ws/nothing")
    (tmp_path / "ws/link_file").symlink_to(tmp_path / "ws/file.txt")
    (tmp_path / "ws_link").symlink_to(tmp_path / "ws")
    return tmp_path


def resolve(tree: Path, work_dir: str | None, *roots: str, workspace: str = "ws") -> Path:
    return resolve_work_dir(work_dir, workspace=tree / workspace,
                            allowed_roots=[tree / root for root in roots])


@pytest.mark.parametrize("work_dir, roots, expected", [
    (None, (), "ws"),
    ("", (), "ws"),
    (".", (), "ws"),
    ("src", (), "ws/src"),
    ("src/pkg", (), "ws/src/pkg"),
    ("./src/../src/pkg/", (), "ws/src/pkg"),
    ("src/pkg/../..", (), "ws"),
    ("link_in", (), "ws/src"),
    ("link_in/pkg", (), "ws/src/pkg"),
    ("{tree}/ws/src", (), "ws/src"),
    ("{tree}/ws_link/src", (), "ws/src"),
    ("{tree}/ctx", ("ctx",), "ctx"),
    ("{tree}/ctx/docs", ("ctx",), "ctx/docs"),
    ("link_ctx", ("ctx",), "ctx/docs"),
    ("../ctx", ("ctx",), "ctx"),
    ("{tree}/temp_workspaces/agent_b", ("ctx", "temp_workspaces"), "temp_workspaces/agent_b"),
])
def test_allowed_directories(tree: Path, work_dir: str | None, roots: tuple[str, ...],
                             expected: str) -> None:
    if work_dir:
        work_dir = work_dir.format(tree=tree)
    resolved = resolve(tree, work_dir, *roots)
    assert resolved == Path(os.path.realpath(tree / expected))
    assert resolved.is_absolute()


def test_workspace_given_through_a_symlink(tree: Path) -> None:
    assert resolve(tree, "src", workspace="ws_link") == Path(os.path.realpath(tree / "ws/src"))
    assert resolve(tree, None, workspace="ws_link") == Path(os.path.realpath(tree / "ws"))


@pytest.mark.parametrize("work_dir, roots, fragment", [
    ("..", (), "which is outside the workspace"),
    ("../outside", (), "which is outside the workspace"),
    ("{tree}/outside", ("ctx",), "or the allowed paths"),
    ("/", (), "resolves to '/'"),
    ("/etc", (), "resolves to '/etc'"),
    # the prefix trap: /ws2 starts with the string /ws but is not inside it
    ("{tree}/ws2", (), "resolves to '{real}/ws2', which is outside"),
    ("../ws2", (), "which is outside"),
    ("{tree}/ctx2", ("ctx",), "outside"),
    # symlink escapes
    ("link_out", (), "resolves after following symlinks to '{real}/outside'"),
    ("link_out/", (), "after following symlinks"),
    ("link_ctx", (), "after following symlinks to '{real}/ctx/docs'"),
])
def test_outside_directories_are_refused(tree: Path, work_dir: str, roots: tuple[str, ...],
                                         fragment: str) -> None:
    if work_dir == "{tree}/ctx2":
        (tree / "ctx2").mkdir()
    real = os.path.realpath(tree)
    with pytest.raises(PolicyViolation) as raised:
        resolve(tree, work_dir.format(tree=tree), *roots)
    message = str(raised.value)
    assert fragment.format(real=real) in message
    assert f"the workspace '{real}/ws'" in message
    assert "Commands may only run inside those directories" in message


def test_refusal_lists_the_allowed_roots(tree: Path) -> None:
    real = os.path.realpath(tree)
    with pytest.raises(PolicyViolation) as raised:
        resolve(tree, "/tmp/../etc", "ctx", "temp_workspaces")
    assert str(raised.value) == (
        f"work_dir '/tmp/../etc' resolves to '/etc', which is outside the workspace '{real}/ws' or "
        f"the allowed paths ('{real}/ctx', '{real}/temp_workspaces'). Commands may only run inside "
        "those directories: pass a path inside one of them (relative paths are taken from the "
        "workspace).")


@pytest.mark.parametrize("work_dir, fragment", [
    ("missing", "does not exist"),
    ("src/missing/deeper", "does not exist"),
    ("dangling", "does not exist"),
    ("file.txt", "which is a file, not a directory"),
    ("link_file", "which is a file, not a directory"),
    ("bad\0name", "holds a NUL character"),
])
def test_missing_or_non_directory_is_refused(tree: Path, work_dir: str, fragment: str) -> None:
    with pytest.raises(PolicyViolation) as raised:
        resolve(tree, work_dir)
    assert fragment in str(raised.value)


def test_missing_workspace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyViolation, match="does not exist"):
        resolve_work_dir(None, workspace=tmp_path / "gone", allowed_roots=[])


def test_symlink_swapped_after_creation_is_judged_by_its_current_target(tree: Path) -> None:
    link = tree / "ws" / "moving"
    link.symlink_to(tree / "ws" / "src")
    assert resolve(tree, "moving") == Path(os.path.realpath(tree / "ws/src"))
    link.unlink()
    link.symlink_to(tree / "outside")
    with pytest.raises(PolicyViolation, match="after following symlinks"):
        resolve(tree, "moving")


def test_relative_roots_and_workspace_are_resolved(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    resolved = resolve_work_dir("docs", workspace=Path("ctx"), allowed_roots=[Path("ws")])
    assert resolved == Path(os.path.realpath(tree / "ctx/docs"))
