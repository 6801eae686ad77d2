"""The per-command scripts of docker mode without the warm channel: a wrapper that records the command's
pid in a pid file, and the kill that reads it back and sweeps the command's tree (mgexec.inside.sweep).
"""

from __future__ import annotations

from mgexec.environment import REQUIRE_BASH_SH, UNSET_STARTUP_SH, VENV_FIRST_SH
from mgexec.inside.sweep import START_TIME_SH, sweep_sh

PIDFILE_DIR = "/tmp"  # where the host names each command's pid file, `.mgexec-<hex>.pid`

# `/bin/sh -c PIDFILE_WRAPPER mgexec PIDFILE COMMAND`. setsid makes the command lead its own session and
# group; the pid file holds `PID SINCE` (its pid and the wrapper's start time), so a kill (and the wrapper
# once the command ends) sweeps its tree and whatever it orphaned to PID 1 since.
PIDFILE_WRAPPER = r"""pidfile=$1
""" + "\n".join((VENV_FIRST_SH, UNSET_STARTUP_SH, REQUIRE_BASH_SH, START_TIME_SH)) + r"""
since=$(start_of $$)
if command -v setsid >/dev/null 2>&1; then setsid bash -c "$2" </dev/null & else bash -c "$2" </dev/null & fi
pid=$!
echo "$pid $since" > "$pidfile"
wait "$pid" 2>/dev/null; code=$?
""" + sweep_sh("KILL", "-", '"$since"', '"$pid"') + r"""
rm -f "$pidfile"
exit $code"""

# `/bin/sh -c PIDFILE_KILL mgexec-kill PIDFILE GRACE_TENTHS`: SIGTERM the tree, up to the grace (in tenths
# of a second) for the command to end, then SIGKILL it; removes the pid file. Exits 0 whatever it found.
PIDFILE_KILL = r"""read -r pid since < "$1" 2>/dev/null || exit 0
""" + sweep_sh("TERM", "-", '"$since"', '"$pid"') + r"""
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt "$2" ]; do sleep 0.1; i=$((i+1)); done
""" + sweep_sh("KILL", "-", '"$since"', '"$pid"') + r"""
rm -f "$1"; exit 0"""


def grace_tenths(grace: float) -> str:
    """PIDFILE_KILL's grace argument: seconds as tenths, at least one."""
    return str(max(1, int(grace * 10)))
