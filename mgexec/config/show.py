"""Human-readable view of a resolved config, for `mgexec config check`. Shows names, never values of secrets."""

from __future__ import annotations

from mgexec.config.models import ExecConfig


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
