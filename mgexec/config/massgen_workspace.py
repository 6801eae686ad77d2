"""MassGen's per-run workspace: the `CWD_<8 hex>` copy it makes of a config's cwd, and the skills link it puts there.

MassGen gives every agent `X_<random>` for `cwd: X` on each run and tells the model that path; a server
it starts from a `command_line` entry is not told it, so `--massgen-workspace` finds it here.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Iterable

from mgexec.errors import ConfigError

SUFFIX = re.compile(r"_[0-9a-f]{8}")
MASSGEN_WORKSPACES = Path(".massgen") / "workspaces"
WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Candidate:
    path: Path
    changed: float  # st_ctime: a directory MassGen (re)made for this run changed after the run started


def massgen_bases(config_cwd: str, launch_dir: Path) -> list[Path]:
    """Where MassGen puts `cwd: X`: X itself when absolute, else under .massgen/workspaces/ of its directory.

    A leaf `workspaceN` loses its number, as MassGen does so agents cannot tell each other apart by it.
    """
    given = PurePath(config_cwd)
    leaf = re.sub(r"\d+$", "", given.name) if re.fullmatch(r"workspace\d+", given.name) else given.name
    given = given.with_name(leaf)
    if given.is_absolute():
        return [Path(given)]
    text = str(given).replace("\\", "/")
    if text.startswith(".massgen/workspaces"):
        return [launch_dir / given]
    return [launch_dir / MASSGEN_WORKSPACES / given, launch_dir / given]


def pick_workspace(base: Path, candidates: Iterable[Candidate], run_started: float) -> Path | None:
    """The one `base_<8 hex>` directory made since the run started; None when there is none yet.

    Two or more mean two MassGen runs of one config at once: which is ours cannot be told, so refuse.
    """
    fresh = [c.path for c in candidates
             if c.path.parent == base.parent and c.path.name.startswith(base.name)
             and SUFFIX.fullmatch(c.path.name[len(base.name):]) and c.changed >= run_started]
    if len(fresh) > 1:
        raise ConfigError(f"--massgen-workspace: {len(fresh)} MassGen workspaces were made from {base} since this "
                          f"run started ({', '.join(str(p) for p in sorted(fresh))}), so which one is this agent's "
                          "cannot be told. Run one MassGen at a time per config, give each agent its own cwd, or "
                          "start MassGen with `mgexec massgen`, which hands every server its workspace.")
    return fresh[0] if fresh else None


def scan(base: Path) -> list[Candidate]:
    try:
        entries = list(base.parent.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            if entry.name.startswith(base.name) and entry.is_dir():
                found.append(Candidate(entry, entry.stat().st_ctime))
        except OSError:
            continue
    return found


def parent_started() -> float:
    """When the process that started this one (MassGen) started, in epoch seconds; now when unknown."""
    try:
        fields = Path(f"/proc/{os.getppid()}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK") - 1.0  # btime has whole seconds
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time() - 1.0


def find_massgen_workspace(config_cwd: str, launch_dir: Path, *, wait: float = WAIT_SECONDS) -> Path:
    """The workspace MassGen made for this run from `cwd: config_cwd`, waiting up to `wait` s for it."""
    started = parent_started()
    bases = massgen_bases(config_cwd, launch_dir)
    deadline = time.monotonic() + wait
    while True:
        for base in bases:
            found = pick_workspace(base, scan(base), started)
            if found is not None:
                return found.resolve()
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    looked = " or ".join(f"{b}_<8 hex>" for b in bases)
    raise ConfigError(f"--massgen-workspace: no workspace {looked} was made by the MassGen run that started this "
                      f"server (waited {wait:.0f} s). Start `mgexec serve --massgen-workspace` only from MassGen, "
                      "with the same --config whose cwd MassGen uses, or drop the option and name the workspace "
                      "with --workspace DIR.")


def link_skills(work_dir: Path, skills_dir: Path) -> None:
    """What MassGen's local mode does for skills: `.agent/skills` in the work_dir points at the skills directory."""
    agent_dir = work_dir / ".agent"
    link = agent_dir / "skills"
    try:
        agent_dir.mkdir(exist_ok=True)
        if link.is_symlink():
            link.unlink()
        if not link.exists():
            link.symlink_to(skills_dir, target_is_directory=True)
    except OSError as exc:
        raise ConfigError(f"--local-skills-directory: cannot link {link} to {skills_dir}: {exc.strerror or exc}. "
                          "Make the workspace writable, or leave out the skills.") from None
