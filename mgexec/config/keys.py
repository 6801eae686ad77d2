"""MassGen backend keys → mgexec settings: the naming table, alias handling and did-you-mean."""

from __future__ import annotations

import difflib
from typing import Any, Mapping

# Every backend key mgexec reads, in MassGen's naming; value: the ExecConfig field.
BACKEND_KEYS: dict[str, str] = {
    "cwd": "workspace",
    "enable_mcp_command_line": "enabled",
    "command_line_execution_mode": "mode",
    "command_line_docker_image": "docker_image",
    "command_line_docker_memory_limit": "docker_memory_limit",
    "command_line_docker_cpu_limit": "docker_cpu_limit",
    "command_line_docker_network_mode": "network_mode",
    "command_line_docker_enable_sudo": "enable_sudo",
    # The MassGen documentation and its code disagree on these names; both are accepted.
    "command_line_whitelist_patterns": "allow_patterns",
    "command_line_allowed_commands": "allow_patterns",
    "command_line_blacklist_patterns": "deny_patterns",
    "command_line_blocked_commands": "deny_patterns",
    "command_line_docker_credentials": "credentials",
    "command_line_docker_packages": "packages",
    # srt mode (MassGen 0.1.97): "sandbox.X" fills ExecConfig.sandbox's field X.
    "command_line_srt_read_mode": "sandbox.read_mode",
    "command_line_srt_deny_read": "sandbox.deny_read",
    "command_line_srt_allow_read": "sandbox.allow_read",
    "command_line_srt_read_only": "sandbox.read_only",
    "command_line_srt_network_allowed_domains": "sandbox.allowed_domains",
    "command_line_srt_allow_unix_sockets": "sandbox.allow_unix_sockets",
    # mgexec's own settings, named in the same style.
    "command_line_srt_network_denied_domains": "sandbox.denied_domains",
    "command_line_srt_allow_write": "sandbox.allow_write",
    "command_line_srt_deny_write": "sandbox.deny_write",
    "command_line_default_timeout": "timeout",
    "command_line_max_output_bytes": "max_output_bytes",
    "command_line_context_paths": "context_paths",
    "command_line_temp_workspace": "temp_workspace",
    "command_line_docker_binary": "docker_binary",
    "command_line_docker_context": "docker_context",
    "command_line_docker_ca_bundle": "ca_bundle",
    "command_line_max_background_shells": "max_background_shells",
    "command_line_background_shell_retention": "background_retention",
    "command_line_progress_interval": "progress_interval",
    "command_line_docker_warm_channel": "docker_warm_channel",
    "command_line_allow_broad_workspace": "allow_broad_workspace",
}

FIELD_TO_KEYS: dict[str, list[str]] = {}
for _key, _field in BACKEND_KEYS.items():
    FIELD_TO_KEYS.setdefault(_field, []).append(_key)

OWNED_PREFIX = "command_line_"


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def translate_backend(backend: Mapping[str, Any], where: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Pick mgexec's keys out of a MassGen backend mapping.

    Returns the ExecConfig fields and, for error messages, which key each field came from.
    Keys that belong to MassGen but not to execution are ignored; an unknown
    `command_line_*` key is an error, since it is almost certainly a typo of ours.
    """
    fields: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, value in backend.items():
        key = str(key)
        field = BACKEND_KEYS.get(key)
        if field is None:
            if key.startswith(OWNED_PREFIX):
                hint = did_you_mean(key, list(BACKEND_KEYS))
                raise KeyError(f"{where}.{key} is not a setting mgexec knows.{hint} Known command_line_* keys: "
                               + ", ".join(k for k in BACKEND_KEYS if k.startswith(OWNED_PREFIX)) + ".")
            continue
        if field in fields and fields[field] != value:
            raise KeyError(f"{where} sets both {origin[field]} and {key}, which are two spellings of one "
                           "setting; keep one of them.")
        fields[field] = value
        origin[field] = key
    return _nest(fields), origin


def _nest(fields: dict[str, Any]) -> dict[str, Any]:
    """"sandbox.read_mode": v -> "sandbox": {"read_mode": v}, for the settings that form a sub-model."""
    nested: dict[str, Any] = {}
    for field, value in fields.items():
        head, dot, tail = field.partition(".")
        if dot:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[field] = value
    return nested
