"""The real MassGen as a test client: its virtual environment, a config writer and one offline run.

MassGen is installed once per machine by `.ci/massgen.sh` into the cache directory below. Locally
its absence skips these tests with the reason; in CI it fails them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockerutil import _in_ci

MASSGEN_VERSION = "0.1.97"
HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "data" / "massgen_outside_container.py"
REPO = HERE.parent


def massgen_venv() -> Path:
    """Where .ci/massgen.sh installs MassGen (MGEXEC_MASSGEN_VENV overrides)."""
    if os.environ.get("MGEXEC_MASSGEN_VENV"):
        return Path(os.environ["MGEXEC_MASSGEN_VENV"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mgexec-massgen" / f"venv-{MASSGEN_VERSION}"


def massgen_python() -> Path:
    """MassGen's interpreter; skips (fails in CI) when MassGen is not installed."""
    python = massgen_venv() / "bin" / "python"
    if not (massgen_venv() / "bin" / "massgen").is_file():
        why = f"MassGen {MASSGEN_VERSION} is not installed in {massgen_venv()}; run .ci/massgen.sh"
        if _in_ci():
            pytest.fail(why)
        pytest.skip(why)
    return python


def mgexec_command() -> list[str]:
    """This checkout's mgexec, the way a MassGen entry names it: `python -m mgexec`."""
    return [sys.executable, "-m", "mgexec"]


def agent_backend(base_url: str, workspace: Path, **extra: Any) -> dict[str, Any]:
    backend = {"type": "chatcompletion", "model": "scripted", "base_url": base_url, "cwd": str(workspace),
               "enable_mcp_command_line": True}
    backend.update(extra)
    return backend


def write_config(path: Path, backend: dict[str, Any], *, agent_id: str = "agent_a",
                 servers: list[dict[str, Any]] | None = None) -> Path:
    """A one-agent MassGen config that stops after one answer and stays offline."""
    backend = dict(backend)
    backend["mcp_servers"] = [offline_filesystem_server(), *(servers or [])]
    config = {"agents": [{"id": agent_id, "backend": backend}],
              "orchestrator": {"max_new_answers_per_agent": 1, "skip_voting": True,
                               "skip_final_presentation": True,
                               "snapshot_storage": str(path.parent / "snapshots"),
                               "agent_temporary_workspace": str(path.parent / "temp_workspaces")},
              "ui": {"display_type": "simple", "logging_enabled": True}}
    path.write_text(yaml.safe_dump(config))
    return path


def offline_filesystem_server() -> dict[str, Any]:
    """Replaces MassGen's npx filesystem server (it would need the npm registry) with a tiny local one."""
    return {"name": "filesystem", "type": "stdio", "command": str(massgen_venv() / "bin" / "python"),
            "args": [str(HERE / "data" / "tiny_fs_server.py")]}


@dataclass
class MassGenRun:
    returncode: int
    output: str
    log_dir: Path | None


def massgen_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "ANTHROPIC", "MGEXEC_"))}
    env.update(OPENAI_API_KEY="dummy-key", LITELLM_LOCAL_MODEL_COST_MAP="True", HOME=str(home),
               NO_COLOR="1", PYTHONUNBUFFERED="1")
    # MassGen starts its own servers as `fastmcp` from its venv, as an activated venv would.
    env["PATH"] = f"{massgen_venv() / 'bin'}:{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def run_massgen(argv: list[str], cwd: Path, *, timeout: float = 240, outside_container: bool = False,
                env: dict[str, str] | None = None, umask: int = -1) -> MassGenRun:
    """Runs `argv` (a massgen or mgexec command line) in cwd; outside_container hides /.dockerenv from MassGen.
    `umask` 0: the workspaces MassGen makes are writable for its container's user (UID 1000) too, as a
    workspace owned by that user would be."""
    if outside_container:
        argv = [str(massgen_python()), str(LAUNCHER), *argv[1:]]
    proc = subprocess.run(argv, cwd=cwd, env=env or massgen_env(cwd), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, umask=umask)
    log_dir = next((Path(line.split(":", 1)[1].strip()) for line in proc.stdout.splitlines()
                    if line.startswith("LOG_DIR:")), None)
    return MassGenRun(proc.returncode, proc.stdout, log_dir)


def massgen_argv(config: Path, question: str = "Run the commands.") -> list[str]:
    return [str(massgen_venv() / "bin" / "massgen"), "--config", str(config), "--automation", question]


def server_stderr(run: MassGenRun, server: str = "command_line") -> str:
    """What an MCP server wrote to stderr (MassGen keeps it in its log directory)."""
    if run.log_dir is None:
        return ""
    return "\n".join(p.read_text(errors="replace") for p in run.log_dir.rglob(f"mcp_{server}_stderr.log"))


def mgexec_pids_under(root: Path) -> list[int]:
    """Live `mgexec serve` processes whose working directory is under root (the test's own)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if b"mgexec" in b" ".join(argv) and b"serve" in argv and cwd.is_relative_to(root):
            pids.append(int(proc.name))
    return pids


def suffixed_workspaces(base: Path) -> list[Path]:
    """The `BASE_<8 hex>` directories MassGen made from the config's cwd BASE."""
    return sorted(p for p in base.parent.glob(base.name + "_*")
                  if p.is_dir() and len(p.name) == len(base.name) + 9)
