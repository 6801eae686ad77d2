"""Hides /.dockerenv from this Python process (MassGen), the one file MassGen looks at to tell it runs in a container.

MassGen switches docker mode to local when it sees that file; the tests run inside a container but
drive a real engine, so they need MassGen's real docker mode.
"""

import os
import os.path

_exists = os.path.exists


def _exists_but_dockerenv(path):
    return False if os.fspath(path) == "/.dockerenv" else _exists(path)


os.path.exists = _exists_but_dockerenv
