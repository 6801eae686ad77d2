"""Read MassGen-shaped YAML files (or nothing: the embedded default) into validated ExecConfigs.

Every failure is a ConfigError whose message names the file, the key path, the bad value
and what is allowed.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from mgexec.config.keys import FIELD_TO_KEYS, did_you_mean, translate_backend
from mgexec.config.models import ExecConfig
from mgexec.errors import ConfigError

EXAMPLE_PREFIX = "@examples/"


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist. Check the path, or use "
                          f"'{EXAMPLE_PREFIX}NAME' for a shipped example (mgexec config examples lists them).") from None
    except IsADirectoryError:
        raise ConfigError(f"Config path {path} is a directory; give the YAML file inside it.") from None
    except (PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc}.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"Config file {path} is not valid YAML{where}: {exc.problem or exc}. "
                          "Fix the syntax there (indentation and ':' are the usual suspects).") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}.") from None
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
        return [_build({"workspace": base}, {}, "the embedded default", base, create=create)]
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
    raise ConfigError(f"{source or 'The embedded default'} has no agent {agent_id!r}.{did_you_mean(agent_id, ids)} "
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
        raise ConfigError(f"{where}: {exc}") from None
    if not create:
        return config
    # Created only once the whole config is known to be good, so a bad file leaves no trace.
    config.workspace.mkdir(parents=True, exist_ok=True)
    if config.temp_workspace is not None:
        config.temp_workspace.mkdir(parents=True, exist_ok=True)
    return config


def _resolve_paths(fields: dict[str, Any], base: Path) -> dict[str, Any]:
    def absolute(value: Any, key: str) -> Path:
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise ValueError(f"{key} must be a path, got {value!r}")
        return (base / Path(str(value)).expanduser()).resolve()

    fields["workspace"] = absolute(fields.get("workspace", base), "cwd")
    if fields.get("workspace").exists() and not fields["workspace"].is_dir():
        raise ValueError(f"cwd {fields['workspace']} exists but is not a directory; the workspace must be one")
    if fields.get("temp_workspace") is not None:
        fields["temp_workspace"] = absolute(fields["temp_workspace"], "command_line_temp_workspace")
    if fields.get("ca_bundle") is None and os.environ.get("MGEXEC_CA_BUNDLE"):
        fields["ca_bundle"] = os.environ["MGEXEC_CA_BUNDLE"]
    if fields.get("ca_bundle") not in (None, "auto", "none"):
        bundle = absolute(fields["ca_bundle"], "command_line_docker_ca_bundle")
        if not bundle.is_file():
            raise ValueError(f"command_line_docker_ca_bundle {bundle} is not a file; give a PEM bundle such as /etc/ssl/certs/ca-certificates.crt")
        fields["ca_bundle"] = bundle
    contexts = []
    for i, entry in enumerate(fields.get("context_paths") or []):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry:
            raise ValueError(f"context path #{i + 1} must be a mapping with 'path' (and optionally 'permission: read|write'), got {entry!r}")
        resolved = absolute(entry["path"], f"context path #{i + 1}")
        if not resolved.exists():
            raise ValueError(f"context path {resolved} does not exist; create it or remove it from the config")
        contexts.append({**entry, "path": resolved})
    if contexts:
        fields["context_paths"] = contexts
    return fields


def _explain(exc: ValidationError, where: str, origin: Mapping[str, str]) -> str:
    """One paragraph per problem, naming MassGen's key rather than mgexec's field."""
    lines = [f"{where}:"]
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        if not loc:
            lines.append(f"{error['msg'].removeprefix('Value error, ')}.")
            continue
        key = origin.get(loc[0]) or FIELD_TO_KEYS.get(loc[0], [loc[0]])[0]
        path = ".".join([key, *loc[1:]])
        value = error.get("input")
        msg = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            msg = "is not a known setting here"
        lines.append(f"{path} = {value!r}: {msg}.")
    return " ".join(lines)
