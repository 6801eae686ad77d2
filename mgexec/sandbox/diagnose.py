"""Why bubblewrap cannot make a sandbox here, in one paragraph each: user namespaces off, AppArmor, no bwrap.

Used when srt mode starts (a failed sandboxed `true`) and by `mgexec doctor`.
"""

from __future__ import annotations

import os
from pathlib import Path

USERNS_CLONE = Path("/proc/sys/kernel/unprivileged_userns_clone")
MAX_USER_NS = Path("/proc/sys/user/max_user_namespaces")
APPARMOR_RESTRICT = Path("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")

DEBIAN_FIX = ("Unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone = 0, Debian's "
              "default on older releases). Allow them with `sudo sysctl -w kernel.unprivileged_userns_clone=1` "
              "(and `kernel.unprivileged_userns_clone = 1` in /etc/sysctl.d/ to keep it), or use docker mode.")
MAX_NS_FIX = ("User namespaces are disabled (user.max_user_namespaces = 0). Allow them with `sudo sysctl -w "
              "user.max_user_namespaces=15000` (and in /etc/sysctl.d/ to keep it), or use docker mode.")
APPARMOR_FIX = ("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, "
                "Ubuntu 24.04's default), so bwrap cannot create its sandbox. Allow bwrap alone with an AppArmor "
                "profile, /etc/apparmor.d/bwrap containing `abi <abi/4.0>, include <tunables/global> profile bwrap "
                "/usr/bin/bwrap flags=(unconfined) { userns, }`, then `sudo apparmor_parser -r /etc/apparmor.d/bwrap`; "
                "or use docker mode.")
CONTAINER_FIX = ("This looks like a container that forbids creating namespaces (docker's default seccomp and "
                 "AppArmor profiles do). Run the container with `--security-opt seccomp=unconfined "
                 "--security-opt apparmor=unconfined` (or `--privileged`), run mgexec on the host, or use docker "
                 "mode from outside.")


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def userns_problem() -> str | None:
    """What keeps an unprivileged user from making user namespaces here, or None when nothing seems to."""
    if os.geteuid() == 0:
        return None  # root needs no user namespace: bwrap makes the others directly
    if _read_int(USERNS_CLONE) == 0:
        return DEBIAN_FIX
    if _read_int(MAX_USER_NS) == 0:
        return MAX_NS_FIX
    if _read_int(APPARMOR_RESTRICT) == 1:
        return APPARMOR_FIX
    return None


def explain_bwrap_failure(stderr: str, exit_code: int | None) -> str:
    """One paragraph for a sandboxed `true` that failed, with bwrap's own words and the likely fix."""
    said = " ".join(stderr.strip().split())[:500] or f"exit code {exit_code}, no message"
    lowered = stderr.lower()
    fix = userns_problem()
    if fix is None and any(s in lowered for s in ("operation not permitted", "permission denied",
                                                   "no permissions to create", "setting up uid map")):
        fix = CONTAINER_FIX if Path("/.dockerenv").exists() else (
            "The kernel refused to create the sandbox's namespaces; check that unprivileged user namespaces "
            "are allowed (`mgexec doctor` names the setting), or use docker mode.")
    return (f"srt mode could not create a bubblewrap sandbox here (bwrap said: {said}). "
            + (fix or "Run `mgexec doctor` for the checks, or use docker mode."))
