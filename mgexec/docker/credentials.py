"""Credentials for the agent's container: read-only mounts and environment values kept out of argv.

Values are collected here with MassGen's precedence (env_file, filtered by env_vars_from_file,
< pass_all_env < env_vars) and handed to the docker client through its own environment,
referenced in argv by name only (`-e NAME`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values

from mgexec.config.models import CREDENTIAL_MOUNTS, Credentials
from mgexec.config.validators import env_name_problem, is_env_name
from mgexec.docker.argv import Mount
from mgexec.errors import ConfigError

log = logging.getLogger("mgexec.credentials")

# Host variables that describe the host, not the agent: never forwarded by pass_all_env.
HOST_ONLY = frozenset({"PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "HOSTNAME", "TERM",
                       "SHLVL", "_", "TMPDIR", "LANG", "LC_ALL", "DOCKER_HOST", "DOCKER_CONTEXT",
                       "VIRTUAL_ENV", "PYTHONPATH", "LD_LIBRARY_PATH", "MGEXEC_DOCKER"})


@dataclass(frozen=True)
class SecretEnv:
    """Names and values for the container's environment; the values never appear in repr."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.values))

    def __repr__(self) -> str:
        return f"SecretEnv(names={list(self.names)!r})"


def resolve_env(creds: Credentials, environ: Mapping[str, str] | None = None, *, base: Path | None = None) -> SecretEnv:
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if creds.env_file:
        values.update(_from_file(creds, base or Path.cwd()))
    if creds.pass_all_env:
        log.warning("pass_all_env is on: every host environment variable (except host-only ones like PATH "
                    "and HOME) is copied into the container; list the ones you need in env_vars instead")
        # Names no shell could use (exported functions such as BASH_FUNC_f%%) are skipped, not refused.
        values.update({k: v for k, v in environ.items() if k not in HOST_ONLY and is_env_name(k)})
    for name in creds.env_vars:
        if name in environ:
            values[name] = environ[name]
        else:
            log.warning("env_vars names %s, which is not set on the host; the container will not have it", name)
    return SecretEnv(values)


def check_credentials(creds: Credentials, *, base: Path | None = None, home: Path | None = None) -> None:
    """The host-file checks a container start makes (env_file and its names, mount sources), without using the values.

    `mgexec config check` runs them so that it refuses exactly what `exec` and `serve` would.
    """
    if creds.env_file:
        _from_file(creds, base or Path.cwd())
    credential_mounts(creds, home, base=base)


def _from_file(creds: Credentials, base: Path) -> dict[str, str]:
    path = (base / Path(creds.env_file).expanduser()).resolve()
    if not path.is_file():
        raise ConfigError(f"command_line_docker_credentials.env_file {path} does not exist (or is not a file); "
                          "create it or fix the path (relative paths start from the current directory).")
    try:
        raw = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"command_line_docker_credentials.env_file {path} cannot be read: {type(exc).__name__}.") from None
    found = {k: v for k, v in raw.items() if v is not None}
    for name in found if creds.env_vars_from_file is None else ():  # listed names passed the config's rule
        if (problem := env_name_problem(name)) is not None:
            raise ConfigError(f"command_line_docker_credentials.env_file {path} sets {problem}. Rename the "
                              "variable in the file, or list the names to take in env_vars_from_file.")
    if creds.env_vars_from_file is None:
        return found
    missing = [n for n in creds.env_vars_from_file if n not in found]
    if missing:
        raise ConfigError(f"command_line_docker_credentials.env_vars_from_file lists {', '.join(missing)}, "
                          f"which {'is' if len(missing) == 1 else 'are'} not in {path}; add "
                          f"{'it' if len(missing) == 1 else 'them'} to the file or drop {'it' if len(missing) == 1 else 'them'} from the list.")
    return {n: found[n] for n in creds.env_vars_from_file}


def credential_mounts(creds: Credentials, home: Path | None = None, *, base: Path | None = None) -> tuple[Mount, ...]:
    """Read-only mounts for the named credential types and the additional mounts."""
    home = home or Path.home()
    mounts = []
    for name in creds.mount:
        host_rel, target = CREDENTIAL_MOUNTS[name]
        host = home / host_rel.removeprefix("~/")
        if not host.exists():
            raise ConfigError(f"command_line_docker_credentials.mount asks for {name}, but {host} does not exist "
                              f"on this host; create it or remove {name} from the list.")
        mounts.append(Mount(str(host), target, read_only=True))
    for host_path, spec in creds.additional_mounts.items():
        host = (base or Path.cwd()) / Path(host_path).expanduser()
        if not host.exists():
            raise ConfigError(f"command_line_docker_credentials.additional_mounts names {host}, which does not "
                              "exist on this host; create it or remove the entry.")
        mounts.append(Mount(str(host.resolve()), spec.bind, read_only=spec.mode == "ro"))
    return tuple(mounts)
