"""`mgexec doctor`'s srt checks: bwrap, user namespaces, a sandboxed `true`, and which command path is used."""

from __future__ import annotations

from typing import Callable

from mgexec.config import ExecConfig
from mgexec.errors import MgexecError, SandboxUnavailable
from mgexec.sandbox.diagnose import userns_problem
from mgexec.sandbox.host import find_bwrap, sandbox_env, sandbox_python

Report = Callable[..., None]  # report(good, what, fix="", needed=True)


async def check_sandbox(config: ExecConfig, report: Report, echo: Callable[[str], None]) -> None:
    """One line per check; failures count only when the config runs in srt mode."""
    from mgexec.deployments.sandbox import probe
    from mgexec.sandbox.argv import build_bwrap_argv
    from mgexec.sandbox.spec import build_spec

    needed = config.mode == "srt"
    try:
        bwrap = find_bwrap()
    except SandboxUnavailable as exc:
        report(False, "bubblewrap (`bwrap`) for srt mode", str(exc), needed=needed)
        return
    report(True, f"bubblewrap at {bwrap}")
    problem = userns_problem()
    report(problem is None, "user namespaces " + ("allowed" if problem is None else "restricted"), problem or "",
           needed=needed)
    spec = build_spec(config)
    try:
        await probe(build_bwrap_argv(spec, ["true"], bwrap=bwrap), sandbox_env(config))
    except MgexecError as exc:
        report(False, "a sandboxed `true` runs", str(exc), needed=needed)
        return
    report(True, f"a sandboxed `true` runs ({spec.read_mode} read mode)")
    python = sandbox_python(spec)
    report(python is not None, "srt commands go through " + (
        f"the warm helper ({python} inside the sandbox)" if python else "one bwrap per command (slower)"),
           "install python3 from the system's packages (/usr/bin/python3) so the sandbox can run the warm "
           "helper; the server's own python may live under $HOME, which the sandbox hides", needed=False)
