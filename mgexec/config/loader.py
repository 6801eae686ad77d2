"""Read MassGen-shaped YAML files (or nothing: the embedded default) into validated ExecConfigs.

Every failure is a ConfigError whose message names the file, the key path, the bad value
and what is allowed.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from mgexec.config.keys import FIELD_TO_KEYS, did_you_mean, translate_backend
from mgexec.config.limits import MAX_LIST, check_path_text, short_repr
from mgexec.config.models import ExecConfig
from mgexec.config.sandbox import PATH_FIELDS
from mgexec.config.workspace import resolve_path
from mgexec.errors import ConfigError

EXAMPLE_PREFIX = "@examples/"
MAX_EXPLAINED = 5  # problems named in one error; a list of 1,000 bad entries needs only a few


def examples_dir() -> Path:
    """Where the shipped example configs live: packaged with the wheel, or conf/ in a checkout."""
    try:
        packaged = Path(str(resources.files("mgexec") / "examples"))
        if packaged.is_dir():
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "conf"


def list_examples() -> list[str]:
    return sorted(p.name for p in examples_dir().glob("*.yaml"))


def resolve_source(source: str) -> Path:
    if not source.startswith(EXAMPLE_PREFIX):
        return Path(source).expanduser()
    name = source[len(EXAMPLE_PREFIX):]
    path = examples_dir() / (name if name.endswith((".yaml", ".yml")) else f"{name}.yaml")
    if not path.is_file():
        names = [n.removesuffix(".yaml") for n in list_examples()]
        raise ConfigError(f"There is no example config named {name!r}.{did_you_mean(name, names)} "
                          f"Shipped examples: {', '.join(names) or 'none'}.")
    return path


def read_yaml(path: Path) -> dict[str, Any]:
    from mgexec.config.yamlload import read_config_yaml  # the YAML parser only for a file: the default needs none

    data = read_config_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must hold a mapping with 'agent:' or 'agents:' at the top, "
                          f"but it holds {type(data).__name__ if data is not None else 'nothing'}.")
    return data


def load_configs(source: str | None, *, cwd: Path | None = None, create: bool = True) -> list[ExecConfig]:
    """All agents of a config file, or the embedded default (local mode, this directory).

    `create=False` only validates: missing workspaces are not made (for `mgexec config check`).
    """
    base = (cwd or Path.cwd()).resolve()
    if source is None:
        return [_build({"workspace": base, "workspace_implicit": True}, {}, "the embedded default", base, create=create)]
    path = resolve_source(source)
    data = read_yaml(path)
    shared = _context_paths(data, path)
    return [_build(fields, origin, f"{path}: {where}", base, shared, create=create)
            for where, fields, origin in _agents(data, path)]


def load_config(source: str | None, agent_id: str | None = None, *, cwd: Path | None = None) -> ExecConfig:
    """The one agent to serve: the only one, or the one named by --agent."""
    configs = load_configs(source, cwd=cwd)
    if agent_id is None:
        if len(configs) > 1:
            ids = ", ".join(c.agent_id for c in configs)
            raise ConfigError(f"{source} defines {len(configs)} agents ({ids}); choose one with --agent ID.")
        return configs[0]
    for config in configs:
        if config.agent_id == agent_id:
            return config
    ids = [c.agent_id for c in configs]
    raise ConfigError(f"{source or 'The embedded default'} has no agent {short_repr(agent_id)}.{did_you_mean(agent_id, ids)} "
                      f"Agents: {', '.join(ids)}.")


def _agents(data: Mapping[str, Any], path: Path):
    if "agents" in data:
        agents = data["agents"]
        if not isinstance(agents, list) or not agents:
            raise ConfigError(f"{path}: 'agents' must be a non-empty list of agents, each with 'id' and 'backend'.")
        items = [(f"agents[{i}]", a) for i, a in enumerate(agents)]
    elif "agent" in data:
        items = [("agent", data["agent"])]
    else:
        raise ConfigError(f"{path} has neither 'agent:' nor 'agents:' at the top level (it has: "
                          f"{', '.join(map(str, data)) or 'nothing'}). Put the execution settings under "
                          "agent: {id: ..., backend: {...}} as in MassGen configs.")
    seen: set[str] = set()
    for where, agent in items:
        if not isinstance(agent, dict):
            raise ConfigError(f"{path}: {where} must be a mapping with 'id' and 'backend'.")
        backend = agent.get("backend") or {}
        if not isinstance(backend, dict):
            raise ConfigError(f"{path}: {where}.backend must be a mapping of settings.")
        try:
            fields, origin = translate_backend(backend, f"{where}.backend")
        except KeyError as exc:
            raise ConfigError(f"{path}: {exc.args[0]}") from None
        agent_id = str(agent.get("id", "default"))
        if agent_id in seen:
            raise ConfigError(f"{path}: {where}.id {agent_id!r} is used by another agent too; agent ids must be unique.")
        seen.add(agent_id)
        fields["agent_id"] = agent_id
        origin["agent_id"] = "id"
        yield f"{where}.backend", fields, origin


def _context_paths(data: Mapping[str, Any], path: Path) -> list[Any]:
    orchestrator = data.get("orchestrator") or {}
    if not isinstance(orchestrator, dict):
        return []
    paths = orchestrator.get("context_paths") or []
    if not isinstance(paths, list):
        raise ConfigError(f"{path}: orchestrator.context_paths must be a list of {{path, permission}} entries.")
    return paths


def _build(fields: dict[str, Any], origin: dict[str, str], where: str, base: Path,
           shared_context: list[Any] | None = None, *, create: bool = True) -> ExecConfig:
    fields = dict(fields)
    if shared_context and "context_paths" not in fields:
        fields["context_paths"] = shared_context
        origin = {**origin, "context_paths": "orchestrator.context_paths"}
    try:
        config = ExecConfig(**_resolve_paths(fields, base))
    except ValidationError as exc:
        raise ConfigError(_explain(exc, where, origin)) from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}.") from None
    if create:
        # Created only once the whole config is known to be good, so a bad file leaves no trace.
        for key, directory in (("cwd", config.workspace), ("command_line_temp_workspace", config.temp_workspace)):
            if directory is not None:
                _make_dir(directory, key, where)
    return config


def _make_dir(directory: Path, key: str, where: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{where}: {key} {directory} cannot be created: {exc.strerror or exc}. Create it "
                          "yourself or choose another directory.") from None


def _creatable_dir(path: Path, key: str) -> None:
    """The check `exec` would fail on when it creates the directory, made without creating it."""
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{key} {path} exists but is not a directory; it must be one")
        return
    parent = next(p for p in path.parents if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        what = "is not a directory" if not parent.is_dir() else "is not writable"
        raise ValueError(f"{key} {path} does not exist and cannot be created, since {parent} {what}; create "
                         "it yourself or choose another directory")


def _resolve_paths(fields: dict[str, Any], base: Path) -> dict[str, Any]:
    fields.setdefault("workspace_implicit", "workspace" not in fields)
    fields["workspace"] = resolve_path(fields.get("workspace", base), "cwd", base)
    _creatable_dir(fields["workspace"], "cwd")
    if fields.get("temp_workspace") is not None:
        fields["temp_workspace"] = resolve_path(fields["temp_workspace"], "command_line_temp_workspace", base)
        _creatable_dir(fields["temp_workspace"], "command_line_temp_workspace")
    if fields.get("ca_bundle") is None and os.environ.get("MGEXEC_CA_BUNDLE"):
        fields["ca_bundle"] = os.environ["MGEXEC_CA_BUNDLE"]
    if fields.get("ca_bundle") not in (None, "auto", "none"):
        bundle = resolve_path(fields["ca_bundle"], "command_line_docker_ca_bundle", base)
        if not bundle.is_file():
            raise ValueError(f"command_line_docker_ca_bundle {bundle} is not a file; give a PEM bundle such as /etc/ssl/certs/ca-certificates.crt")
        fields["ca_bundle"] = bundle
    if fields.get("context_paths"):
        fields["context_paths"] = _resolve_contexts(fields["context_paths"], base)
    _check_mount_sources(fields.get("credentials"), base)
    if isinstance(fields.get("sandbox"), dict):
        fields["sandbox"] = _resolve_sandbox_paths(fields["sandbox"], base)
    return fields


def _resolve_sandbox_paths(sandbox: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative srt paths are relative to the working directory, like cwd; `~` is the server's home."""
    resolved = dict(sandbox)
    for field in PATH_FIELDS:
        value = resolved.get(field)
        if isinstance(value, (str, os.PathLike)):
            value = [value]
        if isinstance(value, list):
            resolved[field] = [os.path.normpath(base / os.path.expanduser(str(v)))
                               if isinstance(v, (str, os.PathLike)) and str(v).strip() else v for v in value]
    return resolved


def _resolve_contexts(entries: Any, base: Path) -> list[Any]:
    if not isinstance(entries, list):
        return entries  # the model names the wrong type
    contexts = []
    for i, entry in enumerate(entries[:MAX_LIST + 1]):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry:
            raise ValueError(f"context path #{i + 1} must be a mapping with 'path' (and optionally 'permission: read|write'), got {short_repr(entry)}")
        resolved = resolve_path(entry["path"], f"context path #{i + 1}", base)
        if not resolved.exists():
            raise ValueError(f"context path {resolved} does not exist; create it or remove it from the config")
        contexts.append({**entry, "path": resolved})
    return contexts


def _check_mount_sources(credentials: Any, base: Path) -> None:
    """Host paths a container would mount: the same path rules as the workspace (existence is checked at start)."""
    if not isinstance(credentials, dict):
        return
    mounts = credentials.get("additional_mounts")
    for host in list(mounts)[:MAX_LIST + 1] if isinstance(mounts, dict) else ():
        resolve_path(host, "command_line_docker_credentials.additional_mounts", base)
    if isinstance(credentials.get("env_file"), str):
        check_path_text(credentials["env_file"], "command_line_docker_credentials.env_file")


def _explain(exc: ValidationError, where: str, origin: Mapping[str, str]) -> str:
    """One paragraph per problem, naming MassGen's key rather than mgexec's field."""
    lines = [f"{where}:"]
    errors = exc.errors()
    for error in errors[:MAX_EXPLAINED]:
        loc = [str(p) if len(str(p)) <= 80 else str(p)[:77] + "..." for p in error["loc"]]
        if not loc:
            lines.append(f"{error['msg'].removeprefix('Value error, ')}.")
            continue
        sub = ".".join(loc[:2])
        if sub in origin or sub in FIELD_TO_KEYS:  # a sub-model field with a key of its own
            key, loc = origin.get(sub) or FIELD_TO_KEYS[sub][0], [sub, *loc[2:]]
        else:
            key = origin.get(loc[0]) or FIELD_TO_KEYS.get(loc[0], [loc[0]])[0]
        path = ".".join([key, *loc[1:]])
        value = error.get("input")
        msg = error["msg"].removeprefix("Value error, ").rstrip(".")
        if error["type"] == "extra_forbidden":
            msg = "is not a known setting here"
        lines.append(f"{path} = {short_repr(value)}: {msg}.")
    if len(errors) > MAX_EXPLAINED:
        lines.append(f"({len(errors) - MAX_EXPLAINED} more problems of the same kind.)")
    return " ".join(lines)
