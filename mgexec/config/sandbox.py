"""Settings of srt mode (the bubblewrap sandbox): what a sandboxed command may read, write and reach.

MassGen's `command_line_srt_*` keys map onto these fields (config/keys.py); paths are absolute
once the loader has resolved them against the config's directory and `~`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mgexec.config.hosts import ALLOWED_KEY, DENIED_KEY, parse_pattern
from mgexec.config.limits import MAX_LIST, check_path_text, short_repr

ReadMode = Literal["confined", "strict", "open"]

PATH_FIELDS = ("deny_read", "allow_read", "allow_write", "deny_write", "allow_unix_sockets")


class SandboxSettings(BaseModel):
    """What srt mode hides, exposes and lets through; the defaults are MassGen's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # confined: $HOME hidden but the agent's paths; strict: only the agent's paths and a system
    # baseline; open: everything but the secret list.
    read_mode: ReadMode = "confined"
    deny_read: tuple[Path, ...] = Field(default=(), max_length=MAX_LIST)  # added to the secret list
    allow_read: tuple[Path, ...] = Field(default=(), max_length=MAX_LIST)  # re-allowed (read-only)
    allow_write: tuple[Path, ...] = Field(default=(), max_length=MAX_LIST)  # writable besides workspace
    deny_write: tuple[Path, ...] = Field(default=(), max_length=MAX_LIST)  # read-only even if below a writable path
    read_only: bool = False  # nothing writable, not even the workspace
    allowed_domains: tuple[str, ...] = Field(default=(), max_length=MAX_LIST)
    denied_domains: tuple[str, ...] = Field(default=(), max_length=MAX_LIST)
    allow_unix_sockets: tuple[Path, ...] = Field(default=(), max_length=MAX_LIST)

    @field_validator(*PATH_FIELDS, mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, (str, os.PathLike)):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list of paths, got {short_repr(value)}")
        for item in value:
            if not isinstance(item, (str, os.PathLike)) or not str(item).strip():
                raise ValueError(f"{short_repr(item)} is not a path")
            check_path_text(str(item), "a sandbox path")
            if not os.path.isabs(os.path.expanduser(str(item))):
                raise ValueError(f"{short_repr(str(item))} is relative; sandbox paths must be absolute or start with ~")
        return tuple(Path(os.path.normpath(os.path.expanduser(str(item)))) for item in value)

    @field_validator("allowed_domains", "denied_domains", mode="before")
    @classmethod
    def _domains(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected a list of domain patterns, got {short_repr(value)}")
        key = ALLOWED_KEY if info.field_name == "allowed_domains" else DENIED_KEY
        for name in value:
            parse_pattern(name, key)  # the proxy's own parser: what passes here, the proxy starts with
        return tuple(name.strip().lower() for name in value)

    @property
    def network(self) -> bool:
        """True when some HTTP(S) traffic may leave the sandbox (through the filtering proxy)."""
        return bool(self.allowed_domains)
