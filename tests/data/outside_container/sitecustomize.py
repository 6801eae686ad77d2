"""Python imports this at start when its folder is on PYTHONPATH: MassGen under `mgexec massgen` then keeps docker mode."""

import hide_dockerenv  # noqa: F401
