"""A description of the machine a benchmark ran on: CPU, memory, kernel, engine and Python versions."""

from __future__ import annotations

import asyncio
import os
import platform
from pathlib import Path

import mgexec
from mgexec.docker.engine import resolve_binary


def _first_value(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return None


def ram_gib() -> float | None:
    total = _first_value("/proc/meminfo", "MemTotal")
    return int(total.split()[0]) / 2**20 if total else None


def cgroup_version() -> str:
    return "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"


async def _output(*argv: str) -> str | None:
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    except (OSError, asyncio.TimeoutError):
        return None
    return out.decode(errors="replace").strip() if proc.returncode == 0 else None


async def describe_machine(repo: Path) -> dict[str, str]:
    """Ordered name → value pairs for the report."""
    docker = resolve_binary(None, os.environ)  # MGEXEC_DOCKER, as mgexec itself picks the CLI
    client = await _output(docker, "version", "--format", "{{.Client.Version}}")
    server = await _output(docker, "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})")
    commit = await _output("git", "-C", str(repo), "rev-parse", "--short", "HEAD")
    ram = ram_gib()
    load = os.getloadavg()
    return {
        "CPU": _first_value("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": str(os.cpu_count()),
        "RAM": f"{ram:.1f} GiB" if ram else "unknown",
        "kernel": f"{platform.system()} {platform.release()} (cgroup {cgroup_version()})",
        "docker": f"client {client or 'unavailable'}, server {server or 'unavailable'}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "mgexec": f"{mgexec.__version__} (commit {commit or 'unknown'})",
        "load average at start": " ".join(f"{x:.2f}" for x in load),
    }
