"""Runs MassGen as if this machine were not a container (see outside_container/sitecustomize.py).

Usage: MASSGEN_PYTHON THIS [massgen arguments...]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "outside_container"))
import hide_dockerenv  # noqa: E402,F401  (patches os.path.exists before MassGen is imported)

from massgen.cli.entrypoint import cli_main  # noqa: E402

sys.argv = ["massgen", *sys.argv[1:]]
cli_main()
