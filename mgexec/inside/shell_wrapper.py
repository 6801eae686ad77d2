"""The wrapper of each background shell in a container: refuses to run once the shell's watchdog has
swept, announces its pid and start time in the handshake line, then becomes the user's shell.
"""

from __future__ import annotations

from mgexec.environment import REQUIRE_BASH_SH, UNSET_STARTUP_SH, VENV_FIRST_SH
from mgexec.inside.sweep import CLOSED_MARKER, START_TIME_SH

SHELL_REFUSED_EXIT = 125  # the watchdog has swept: this shell must not start
# `/bin/sh -c SHELL_WRAPPER mgexec-shell COMMAND`. Runs as the session leader of the exec's terminal,
# then becomes the user's shell with exec: the pid it announces (`\036mgexec-pid PID SINCE\036`, read by
# mgexec.shells.launcher.find_handshake) is the session id of the whole tree.
SHELL_WRAPPER = rf"""if [ -e "{CLOSED_MARKER}" ]; then
  echo "mgexec: the server that started this shell has ended; it does not run." >&2; exit {SHELL_REFUSED_EXIT}
fi
{START_TIME_SH}
printf '\036mgexec-pid %s %s\036\n' "$$" "$(start_of $$)"
{VENV_FIRST_SH}
{UNSET_STARTUP_SH}
{REQUIRE_BASH_SH}
exec bash -c "$1"
"""
