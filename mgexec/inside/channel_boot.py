"""What the warm channel runs inside the container besides its helper: the boot line that loads the
helper from stdin, and the one-off kill of the groups a lost helper left running.
"""

from __future__ import annotations

# The boot's exit code when the container's python3 is older than the helper needs.
TOO_OLD_EXIT = 97
# `python3 -I -u -c HELPER_BOOT`: reads `SIZE\n` and SIZE bytes of program from stdin, then runs them.
# Short on purpose: the helper's program comes on stdin, so `ps` inside shows one line, and -I keeps
# files in the working directory or PYTHON* variables from shadowing the standard library.
HELPER_BOOT = f"""# mgexec-inside: the program follows on stdin
import os, sys
if sys.version_info < (3, 7):
    sys.stderr.write("mgexec-inside: needs Python 3.7 or newer, found %s\\n" % sys.version.split()[0])
    sys.exit({TOO_OLD_EXIT})
def read(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data
size = b""
while not size.endswith(b"\\n"):
    size += read(1)
exec(compile(read(int(size)), "mgexec-inside", "exec"), {{"__name__": "__main__"}})
"""

# `python3 -I -c ORPHAN_GROUPS_KILL PGID...`: SIGKILL each process group (those of the commands a helper
# killed from outside left running).
ORPHAN_GROUPS_KILL = "import os, sys\nfor g in sys.argv[1:]:\n    try: os.killpg(int(g), 9)\n    except OSError: pass\n"
