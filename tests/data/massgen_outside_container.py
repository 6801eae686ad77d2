"""Runs MassGen as if this machine were not a container: hides /.dockerenv, the one file it looks at.

MassGen switches docker mode to local when it sees that file; the tests run inside a container but
drive a real engine, so they need MassGen's real docker mode. Usage: python THIS [massgen arguments].
"""

import os.path
import sys

_exists = os.path.exists


def _exists_but_dockerenv(path):
    return False if os.fspath(path) == "/.dockerenv" else _exists(path)


os.path.exists = _exists_but_dockerenv

from massgen.cli.entrypoint import cli_main  # noqa: E402  (after the patch, which it must see)

sys.argv = ["massgen", *sys.argv[1:]]
cli_main()
