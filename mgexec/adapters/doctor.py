"""`mgexec doctor`: what this machine offers mgexec, and the fix for each gap."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Callable

from mgexec import processes
from mgexec.local_watchdog import describe_server_death
from mgexec.config import DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE, ExecConfig
from mgexec.config.workspace import broad_reason, broad_refusal, workspace_problem
from mgexec.docker.argv import build_image_inspect_argv
from mgexec.docker.engine import DockerCLI, resolve_binary
from mgexec.docker.container import IMAGE_UID
from mgexec.errors import DockerError, ImageNotFound

Echo = Callable[[str], None]
# What MassGen's own docker mode runs (and pulls from ghcr.io when missing); build.sh --massgen-names tags them.
MASSGEN_IMAGES = ((f"ghcr.io/{DEFAULT_IMAGE}", ""), (f"ghcr.io/{DEFAULT_SUDO_IMAGE}", " --sudo"))


class Report:
    """One line per check; `ok` stays True while every needed check passed. Called as report(good, what, ...)."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo
        self.ok = True

    def __call__(self, good: bool, what: str, fix: str = "", needed: bool = True) -> None:
        mark = "ok  " if good else ("FAIL" if needed else "warn")
        self.echo(f"[{mark}] {what}" + (f"\n       fix: {fix}" if fix and not good else ""))
        self.ok = self.ok and (good or not needed)


async def run_doctor(config: ExecConfig, echo: Echo) -> bool:
    """Print one line per check; True when everything the config needs is there."""
    report = Report(echo)
    _host_checks(config, report)
    from mgexec.sandbox.doctor import check_sandbox

    await check_sandbox(config, report, echo)
    cli = await _engine_checks(config, report)
    if cli is not None:
        await _image_checks(config, cli, report)
    return _verdict(report.ok, config, echo)


def _host_checks(config: ExecConfig, report: Report) -> None:
    report(sys.version_info >= (3, 10), f"Python {sys.version.split()[0]}", "install Python 3.10 or newer")
    contained, how = processes.containment()
    report(contained, f"process containment: {how}", "run mgexec on Linux with /proc mounted", needed=False)
    if contained:
        report.echo(f"[note] {describe_server_death()}")
    ws = config.workspace
    broad = workspace_problem(config)
    report(broad is None, f"workspace {ws} " + ("is a project directory" if broad is None else "is refused"), broad or "")
    for context in config.context_paths if not config.allow_broad_workspace else ():
        if (reason := broad_reason(context.path)) is not None:
            report(False, f"allowed path {context.path} is refused",
                   broad_refusal(context.path, reason, "--allow or the config's context paths", what="allowed path"))
    report(os.access(ws, os.W_OK), f"workspace {ws} is writable", f"fix the permissions of {ws} or choose another cwd")


async def _engine_checks(config: ExecConfig, report: Report) -> DockerCLI | None:
    """The docker CLI and its engine; the CLI when the engine answers."""
    docker_needed = config.mode == "docker"
    binary = resolve_binary(config.docker_binary, os.environ)
    path = shutil.which(binary) if "/" not in binary else (binary if os.access(binary, os.X_OK) else None)
    report(path is not None, f"docker CLI `{binary}`" + (f" at {path}" if path else " not found"),
           "install docker.io (Debian/Ubuntu), Docker Engine, or podman with podman-docker; or set "
           "command_line_docker_binary / MGEXEC_DOCKER", needed=docker_needed)
    if path is None:
        return None
    cli = DockerCLI.from_config(config)
    try:
        info = await cli.probe()
    except DockerError as exc:
        report(False, "container engine reachable", str(exc), needed=docker_needed)
        return None
    report(True, f"engine reachable: {info.summary}" + (f" via DOCKER_HOST={os.environ['DOCKER_HOST']}"
                                                        if os.environ.get("DOCKER_HOST") else ""))
    if info.is_podman:
        report.echo("[ok  ] podman answers as `docker`; mgexec uses only flags podman accepts")
    return cli


async def _image_checks(config: ExecConfig, cli: DockerCLI, report: Report) -> None:
    docker_needed = config.mode == "docker"
    for image, flag in ((DEFAULT_IMAGE, ""), (DEFAULT_SUDO_IMAGE, " --sudo")):
        present = await _has_image(cli, image)
        needed = docker_needed and image == config.image
        report(present, f"image {image} {'present' if present else 'missing'}",
               f"mgexec build{flag} (or ./build.sh{flag}; add --bootstrap where no registry is reachable)", needed=needed)
    for image, flag in MASSGEN_IMAGES:
        present = await _has_image(cli, image)
        report(present, f"MassGen's image name {image} {'present' if present else 'missing'}",
               f"mgexec build --massgen-names{flag} (only MassGen's own docker mode needs it)", needed=False)
    if config.image not in (DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE):
        present = await _has_image(cli, config.image)
        report(present, f"configured image {config.image} {'present' if present else 'missing'}",
               f"docker build -t {config.image} DIR (see dockerfiles/Dockerfile.custom-example)", needed=docker_needed)
    uid = config.workspace.stat().st_uid
    if uid != IMAGE_UID:
        report.echo(f"[note] the workspace belongs to UID {uid}, not the image user's {IMAGE_UID}: docker mode runs "
                    f"commands as UID {uid} with a private home, so files stay yours")


async def _has_image(cli: DockerCLI, image: str) -> bool:
    try:
        await cli.run(build_image_inspect_argv(image, fmt="{{.Id}}"), timeout=30)
        return True
    except ImageNotFound:
        return False
    except DockerError:
        return False


def _verdict(ok: bool, config: ExecConfig, echo: Echo) -> bool:
    echo(f"{'Ready' if ok else 'Not ready'} for {config.mode} mode (agent {config.agent_id}).")
    return ok
