"""Configuration: MassGen-compatible YAML in, one frozen ExecConfig per agent out.

The public names load on first use, so that importing a light submodule (validators, limits, hosts)
does not import the loader and pydantic: the policy worker imports validators and starts per server.
"""

from __future__ import annotations

import importlib

_HOMES = {"examples_dir": "loader", "list_examples": "loader", "load_config": "loader", "load_configs": "loader",
          "CREDENTIAL_MOUNTS": "models", "DEFAULT_IMAGE": "models", "DEFAULT_SUDO_IMAGE": "models",
          "ExecConfig": "models"}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
