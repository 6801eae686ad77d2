"""`mgexec massgen ARGS...`: find MassGen's interpreter and run MassGen there with mgexec as every agent's command_line server."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Mapping

from mgexec.errors import ConfigError

LAUNCHER = Path(__file__).with_name("massgen_launcher.py")


def find_massgen(env: Mapping[str, str]) -> Path:
    """MassGen's `massgen` script: $MGEXEC_MASSGEN, else the one on PATH."""
    named = env.get("MGEXEC_MASSGEN")
    found = named or shutil.which("massgen", path=env.get("PATH"))
    if not found or not os.access(found, os.X_OK) or not Path(found).is_file():
        where = f"MGEXEC_MASSGEN={named} is not an executable file" if named else "there is no `massgen` on PATH"
        raise ConfigError(f"{where}. Install MassGen (pip install massgen) or set MGEXEC_MASSGEN "
                          "to its `massgen` script (for example ~/.venvs/massgen/bin/massgen).")
    return Path(found)


def interpreter_of(script: Path, first_lines: str) -> str:
    """The Python a console script runs with, from its first line (`#!/venv/bin/python`)."""
    first = first_lines.splitlines()[0] if first_lines else ""
    words = first[2:].split() if first.startswith("#!") else []
    if words and Path(words[0]).name == "env" and len(words) > 1:  # #!/usr/bin/env python3
        words = [shutil.which(words[1]) or words[1]]
    if words and "python" in Path(words[0]).name:
        return words[0]
    raise ConfigError(f"{script} is not a Python console script this can read (its first line is "
                      f"{first[:120]!r}); set MGEXEC_MASSGEN to the `massgen` script of MassGen's virtual environment.")


def launch_argv(python: str, mgexec_command: list[str], massgen_args: list[str]) -> list[str]:
    return [python, str(LAUNCHER), json.dumps(mgexec_command), *massgen_args]


def run_massgen(massgen_args: list[str]) -> None:
    """Replaces this process with MassGen (its exit status and signals stay MassGen's own)."""
    script = find_massgen(os.environ)
    try:
        head = script.read_bytes()[:512].decode("utf-8", "replace")
    except OSError as exc:
        raise ConfigError(f"cannot read {script}: {exc.strerror or exc}.") from None
    python = interpreter_of(script, head)
    sys.stdout.flush()
    os.execv(python, launch_argv(python, [sys.executable, "-m", "mgexec"], massgen_args))
