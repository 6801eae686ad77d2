"""MassGen's command_line server flags (`--allowed-paths P...`, `--execution-mode`, ...) read and mapped onto mgexec's settings.

MassGen launches its server with these flags; `mgexec serve` takes them with MassGen's meanings, so it
can stand in for that server. Parsing, the srt settings file and the mapping are pure functions here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from mgexec.errors import ConfigError

# flag -> (field, kind): "many" takes every following argument up to the next option, as argparse's nargs="*".
FLAGS: dict[str, tuple[str, str]] = {
    "--allowed-paths": ("allowed_paths", "many"),
    "--timeout": ("timeout", "int"),
    "--max-output-size": ("max_output_size", "int"),
    "--allowed-commands": ("allowed_commands", "many"),
    "--blocked-commands": ("blocked_commands", "many"),
    "--execution-mode": ("execution_mode", "mode"),
    "--srt-settings": ("srt_settings", "text"),
    "--agent-id": ("agent_id", "text"),
    "--instance-id": ("instance_id", "text"),
    "--enable-sudo": ("enable_sudo", "flag"),
    "--local-skills-directory": ("local_skills_directory", "text"),
}
MODES = ("local", "docker", "srt")


@dataclass(frozen=True)
class MassGenFlags:
    """The MassGen flags one server command line gave; None (or False) where a flag was absent."""

    allowed_paths: tuple[str, ...] | None = None
    timeout: int | None = None
    max_output_size: int | None = None
    allowed_commands: tuple[str, ...] | None = None
    blocked_commands: tuple[str, ...] | None = None
    execution_mode: str | None = None
    srt_settings: str | None = None
    agent_id: str | None = None
    instance_id: str | None = None
    enable_sudo: bool = False
    local_skills_directory: str | None = None
    given: tuple[str, ...] = field(default=(), compare=False)

    @property
    def launched_by_massgen(self) -> bool:
        """MassGen's own launch always names the allowed paths, and starts the server in the workspace."""
        return self.allowed_paths is not None


def split_massgen_flags(args: Iterable[str]) -> tuple[MassGenFlags, list[str]]:
    """(the MassGen flags, every other argument in order); a bad value raises ConfigError naming the flag."""
    args = list(args)
    flags = MassGenFlags()
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name, has_inline, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in FLAGS:
            rest.append(arg)
            i += 1
            continue
        field_name, kind = FLAGS[name]
        values, i = _take_values(args, i + 1, kind, name, inline if has_inline else None)
        flags = replace(flags, **{field_name: _convert(name, kind, values)}, given=(*flags.given, name))
    return flags, rest


def _take_values(args: list[str], start: int, kind: str, name: str, inline: str | None) -> tuple[list[str], int]:
    if kind == "flag":
        if inline is not None:
            raise ConfigError(f"{name} takes no value (it is a switch), but got {name}={inline}.")
        return [], start
    if inline is not None:
        return [inline], start
    if kind == "many":
        end = start
        while end < len(args) and not _looks_like_option(args[end]):
            end += 1
        return args[start:end], end
    if start >= len(args) or _looks_like_option(args[start]):
        raise ConfigError(f"{name} needs a value (MassGen passes one, as in {name} {_EXAMPLES[kind]}).")
    return [args[start]], start + 1


_EXAMPLES = {"int": "60", "mode": "local", "text": "VALUE"}


def _looks_like_option(arg: str) -> bool:
    """argparse's rule: an argument starting with '-' ends a list, unless it is '-' or a negative number."""
    if not arg.startswith("-") or arg == "-":
        return False
    try:
        float(arg)
        return False
    except ValueError:
        return True


def _convert(name: str, kind: str, values: list[str]) -> Any:
    if kind == "flag":
        return True
    if kind == "many":
        return tuple(values)
    value = values[0]
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name} needs a whole number, got {value!r}.") from None
    if kind == "mode" and value not in MODES:
        raise ConfigError(f"{name} {value!r} is not a mode; MassGen's modes are {', '.join(MODES)}.")
    return value


def first_unknown_option(args: Iterable[str], known: Iterable[str]) -> str | None:
    """The first argument that looks like an option and is neither MassGen's nor mgexec's."""
    known = set(known)
    for arg in args:
        if arg == "--":
            return None
        if _looks_like_option(arg) and arg.partition("=")[0] not in known:
            return arg.partition("=")[0]
    return None


def read_srt_settings(path: Path) -> dict[str, Any]:
    """The sandbox-runtime settings file MassGen writes (--srt-settings), as SandboxSettings field values."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"--srt-settings {path} cannot be read: {exc.strerror or exc}. Give the settings JSON "
                          "MassGen wrote, or leave out --execution-mode srt.") from None
    except ValueError as exc:
        raise ConfigError(f"--srt-settings {path} is not JSON ({exc}); it must hold the sandbox-runtime settings "
                          "object {\"filesystem\": {...}, \"network\": {...}}.") from None
    return srt_settings_to_sandbox(data, str(path))


# srt JSON key -> SandboxSettings field, per section.
SRT_KEYS: dict[str, dict[str, str]] = {
    "filesystem": {"allowWrite": "allow_write", "denyWrite": "deny_write", "denyRead": "deny_read",
                   "allowRead": "allow_read"},
    "network": {"allowedDomains": "allowed_domains", "deniedDomains": "denied_domains",
                "allowUnixSockets": "allow_unix_sockets"},
}


def srt_settings_to_sandbox(data: Any, where: str = "the srt settings") -> dict[str, Any]:
    """sandbox-runtime's JSON -> SandboxSettings fields. Unknown keys are refused: each may be a limit we would drop.

    The file already spells out what is readable (denyRead, with allowRead winning, as srt reads it), so
    the read mode is "open": nothing is hidden beyond what the file hides.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a JSON object with 'filesystem' and 'network', got {type(data).__name__}.")
    fields: dict[str, Any] = {"read_mode": "open", "read_only": False}
    for section, value in data.items():
        if section not in SRT_KEYS:
            raise ConfigError(f"{where}: {section!r} is not a setting mgexec can enforce (it knows "
                              f"{', '.join(SRT_KEYS)}); refusing rather than running without it.")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {section} must be an object, got {type(value).__name__}.")
        for key, items in value.items():
            target = SRT_KEYS[section].get(key)
            if target is None:
                raise ConfigError(f"{where}: {section}.{key} is not a setting mgexec can enforce (it knows "
                                  f"{', '.join(SRT_KEYS[section])}); refusing rather than running without it.")
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ConfigError(f"{where}: {section}.{key} must be a list of strings.")
            fields[target] = tuple(items)
    return fields


def apply_massgen_flags(config, flags: MassGenFlags, cwd: Path):
    """The config with MassGen's flags applied (flags win); cwd is the server's working directory."""
    from mgexec.config.models import ContextPath

    update: dict[str, Any] = {}
    if flags.launched_by_massgen:
        # MassGen starts its own server in the agent's (suffixed) workspace: that is the workspace.
        update.update(workspace=cwd.resolve(), workspace_implicit=False)
    workspace = update.get("workspace", config.workspace)
    contexts = {c.path: c for c in config.context_paths}
    for path in _outside(workspace, _existing_dirs(flags.allowed_paths or (), cwd)):
        contexts.setdefault(path, ContextPath(path=path, permission="read"))
    if flags.local_skills_directory is not None:
        skills = _existing_dirs((flags.local_skills_directory,), cwd)
        for path in skills:
            contexts.setdefault(path, ContextPath(path=path, permission="read"))
    if len(contexts) != len(config.context_paths):
        update["context_paths"] = tuple(contexts.values())
    update.update(_scalar_updates(flags))
    if flags.execution_mode == "srt":
        update.update(_srt_update(config, flags, cwd))
    try:
        return type(config).model_validate({**config.model_dump(), **update})
    except ValueError as exc:
        raise ConfigError(_flag_error(exc, flags)) from None


def _scalar_updates(flags: MassGenFlags) -> dict[str, Any]:
    update: dict[str, Any] = {}
    for field_name, value in (("timeout", flags.timeout), ("max_output_bytes", flags.max_output_size),
                              ("allow_patterns", flags.allowed_commands), ("deny_patterns", flags.blocked_commands),
                              ("agent_id", flags.agent_id), ("instance_id", flags.instance_id)):
        if value is not None:
            update[field_name] = value
    if flags.execution_mode in ("local", "docker"):
        update["mode"] = flags.execution_mode
    if flags.enable_sudo:
        update["enable_sudo"] = True
    return update


def _srt_update(config, flags: MassGenFlags, cwd: Path) -> dict[str, Any]:
    if flags.srt_settings is None:
        raise ConfigError("--execution-mode srt needs --srt-settings FILE (MassGen passes the settings JSON it "
                          "wrote); without it mgexec cannot know what to contain.")
    return {"mode": "srt", "sandbox": read_srt_settings(cwd / flags.srt_settings)}


def _existing_dirs(paths: Iterable[str], cwd: Path) -> list[Path]:
    """MassGen resolves these without checking; a path that is not a directory gives nothing to run in."""
    return [p for p in ((cwd / Path(raw).expanduser()).resolve() for raw in paths) if p.is_dir()]


def _outside(workspace: Path, paths: Iterable[Path]) -> list[Path]:
    return [p for p in paths if not p.is_relative_to(workspace)]


def _flag_error(exc: ValueError, flags: MassGenFlags) -> str:
    text = str(exc)
    for flag, (field_name, _) in FLAGS.items():
        target = {"max_output_size": "max_output_bytes", "allowed_commands": "allow_patterns",
                  "blocked_commands": "deny_patterns"}.get(field_name, field_name)
        if flag in flags.given and target in text:
            return f"{flag}: {_first_message(exc)}"
    return f"MassGen's server flags give an invalid setting: {_first_message(exc)}"


def _first_message(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return f"{first['msg'].removeprefix('Value error, ')} (got {str(first.get('input'))[:200]!r})."
    return f"{exc}."
