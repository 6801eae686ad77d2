"""Configuration: MassGen-compatible YAML in, one frozen ExecConfig per agent out.

The public names load on first use, so that importing a light submodule (validators, limits, hosts)
does not import the loader and pydantic: the policy worker imports validators and starts per server.
"""

from __future__ import annotations

from mgexec.lazy import lazy_exports

_HOMES = {"examples_dir": "loader", "list_examples": "loader", "load_config": "loader", "load_configs": "loader",
          "CREDENTIAL_MOUNTS": "models", "DEFAULT_IMAGE": "models", "DEFAULT_SUDO_IMAGE": "models",
          "ExecConfig": "models"}
__all__ = sorted(_HOMES)

__getattr__ = lazy_exports(__name__, _HOMES)
