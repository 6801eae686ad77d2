"""Configuration: MassGen-compatible YAML in, one frozen ExecConfig per agent out."""

from mgexec.config.loader import examples_dir, list_examples, load_config, load_configs
from mgexec.config.models import CREDENTIAL_MOUNTS, DEFAULT_IMAGE, DEFAULT_SUDO_IMAGE, ExecConfig

__all__ = ["CREDENTIAL_MOUNTS", "DEFAULT_IMAGE", "DEFAULT_SUDO_IMAGE", "ExecConfig", "examples_dir",
           "list_examples", "load_config", "load_configs"]
