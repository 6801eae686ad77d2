"""Human-readable view of a resolved config, for `mgexec config check`. Shows names, never values of secrets."""

from __future__ import annotations

from mgexec.config.keys import FIELD_TO_KEYS
from mgexec.config.models import ExecConfig

# Settings that only a container has: in srt mode they would be silently ignored, so they are named.
DOCKER_ONLY = ("docker_image", "docker_memory_limit", "docker_cpu_limit", "network_mode", "enable_sudo", "packages",
               "docker_binary", "docker_context", "ca_bundle", "docker_warm_channel")
DOCKER_ONLY_CREDENTIALS = {"mount": "mount", "additional_mounts": "additional_mounts"}


def describe(config: ExecConfig) -> str:
    rows: list[tuple[str, object]] = [
        ("agent", config.agent_id),
        ("mode", config.mode),
        ("workspace", config.workspace),
        ("default timeout", f"{config.timeout:g}s"),
        ("output cap per stream", f"{config.max_output_bytes} bytes"),
        ("allow patterns", ", ".join(config.allow_patterns) or "(none: every command the baseline allows)"),
        ("deny patterns", ", ".join(config.deny_patterns) or "(none)"),
        ("context paths", ", ".join(f"{c.path} ({c.permission})" for c in config.context_paths) or "(none)"),
        ("temp workspace", config.temp_workspace or "(none)"),
    ]
    if config.mode == "docker":
        creds = config.credentials
        rows += [
            ("image", config.image),
            ("container", config.container_name),
            ("network", config.network_mode),
            ("memory limit", config.docker_memory_limit or "(none)"),
            ("cpu limit", config.docker_cpu_limit or "(none)"),
            ("sudo", "enabled" if config.enable_sudo else "disabled"),
            ("credential mounts", ", ".join(creds.mount) or "(none)"),
            ("additional mounts", ", ".join(f"{h} -> {m.bind} ({m.mode})" for h, m in creds.additional_mounts.items()) or "(none)"),
            ("env file", creds.env_file or "(none)"),
            ("env from file", ", ".join(creds.env_vars_from_file or ()) or "(all in the file)" if creds.env_file else "(none)"),
            ("env from host", ", ".join(creds.env_vars) or "(none)"),
            ("pass all env", "yes (every host variable enters the container)" if creds.pass_all_env else "no"),
            ("preinstall", _preinstall(config) or "(none)"),
            ("CA bundle", config.effective_ca_bundle() or "(the image's own)"),
            ("docker binary", config.docker_binary or "docker (or $MGEXEC_DOCKER)"),
        ]
    if config.mode == "srt":
        rows += _sandbox_rows(config)
    if (unused := inapplicable_keys(config)):
        rows.append(("not applying", f"{', '.join(unused)}: set, but not used in {config.mode} mode"))
    if config.allow_broad_workspace:
        rows.append(("broad workspace", "allowed (/, system directories and the home directory are accepted)"))
    if not config.enabled:
        rows.append(("note", "enable_mcp_command_line is false in this file; mgexec runs it anyway when asked"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows) + "\n"


def _preinstall(config: ExecConfig) -> str:
    pre = config.packages.preinstall
    parts = [f"{kind}: {' '.join(names)}" for kind, names in (("system", pre.system), ("python", pre.python), ("npm", pre.npm)) if names]
    return "; ".join(parts)


def _sandbox_rows(config: ExecConfig) -> list[tuple[str, object]]:
    box, creds = config.sandbox, config.credentials
    return [
        ("read mode", box.read_mode),
        ("hidden besides secrets", ", ".join(map(str, box.deny_read)) or "(none)"),
        ("re-allowed reads", ", ".join(map(str, box.allow_read)) or "(none)"),
        ("writable", "(nothing: read_only)" if box.read_only else
         ", ".join(map(str, [config.workspace, *(c.path for c in config.context_paths if c.permission == "write"),
                             *box.allow_write]))),
        ("read-only inside writable", ", ".join(map(str, box.deny_write)) or "(none)"),
        ("network", "HTTP(S) through mgexec's proxy to: " + ", ".join(box.allowed_domains) if box.network
         else "none (only loopback)"),
        ("unix sockets", ", ".join(map(str, box.allow_unix_sockets)) or "(none)"),
        ("env file", creds.env_file or "(none)"),
        ("env from host", ", ".join(creds.env_vars) or "(none)"),
    ]


def inapplicable_keys(config: ExecConfig) -> list[str]:
    """The MassGen keys a config sets that its mode does not use (docker's in srt mode, srt's elsewhere)."""
    unused: list[str] = []
    if config.mode == "srt":
        unused += [FIELD_TO_KEYS[f][0] for f in DOCKER_ONLY if f in config.model_fields_set]
        unused += [f"command_line_docker_credentials.{k}" for k in DOCKER_ONLY_CREDENTIALS
                   if getattr(config.credentials, k)]
    elif "sandbox" in config.model_fields_set:
        unused += [FIELD_TO_KEYS[f"sandbox.{f}"][0] for f in sorted(config.sandbox.model_fields_set)]
    return unused
