"""The one definition of each rule a configured name must meet: environment variables, network modes, images, patterns.

The config models enforce these with a clear error when a file is loaded; the layers below
(credentials, argv builders) call the same functions again only as a guard, so a value that slipped
past the config fails closed rather than change what argv means.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from mgexec.config.limits import MAX_NAME, MAX_PATTERN, short_repr
from mgexec.errors import ConfigError

# ASCII only, as POSIX defines a portable name: bash, dash and docker's `-e NAME` agree on these,
# while `str.isalnum` would also take letters such as 'é' that no shell can name in `$NAME`.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NetworkMode = Literal["none", "bridge", "host"]
NETWORK_MODES: tuple[str, ...] = get_args(NetworkMode)


def env_name_problem(name: object) -> str | None:
    """Why `name` cannot name an environment variable for a command or a container, or None."""
    if not isinstance(name, str):
        return f"{short_repr(name)} is not an environment variable name (a name is a string)"
    if not _ENV_NAME.fullmatch(name):
        return (f"{short_repr(name)} is not an environment variable name: use ASCII letters, digits and "
                "underscores, not starting with a digit (no '=', spaces or other characters)")
    return None


def is_env_name(name: object) -> bool:
    return env_name_problem(name) is None


def network_problem(mode: object) -> str | None:
    """Why `mode` is not a docker network mode mgexec supports, or None."""
    if mode in NETWORK_MODES:
        return None
    return (f"the docker network mode {short_repr(mode)} is not supported; use one of "
            f"{', '.join(NETWORK_MODES)} (none keeps the container offline)")


def argv_word_problem(what: str, value: object) -> str | None:
    """Why `value` cannot stand as one word of a docker argv (an image, a container name, a tag), or None."""
    # A leading dash would be read as a flag, shifting every argument after it.
    if not isinstance(value, str) or not value or value.startswith("-") or any(ch.isspace() for ch in value):
        return (f"the {what} {short_repr(value)} is not valid: it must be non-empty, must not start with "
                "'-' and must not contain spaces")
    if len(value) > MAX_NAME:
        return f"the {what} is {len(value)} characters long; at most {MAX_NAME} are allowed"
    return None


def image_problem(image: object) -> str | None:
    """Why `image` cannot name a docker image, or None."""
    return argv_word_problem("image", image)


def pattern_problem(pattern: object, kind: str) -> str | None:
    """Why an allow or deny pattern cannot be used (not a string, too long, bad syntax, catastrophic), or None."""
    if not isinstance(pattern, str):
        return f"patterns must be strings (regular expressions), got {short_repr(pattern)}"
    if len(pattern) > MAX_PATTERN:
        return f"a pattern is {len(pattern)} characters long; patterns may have at most {MAX_PATTERN}"
    return vet_pattern(pattern, kind)


def vet_pattern(pattern: str, kind: str) -> str | None:
    """Why a configured allow/deny pattern cannot be used (bad syntax, catastrophic backtracking), or None.

    The probe matches the way the policy will (`match` for deny, `fullmatch` for allow).
    """
    import regex  # only a config with patterns pays for the regex engine

    from mgexec import saferegex

    try:
        slow = saferegex.backtracking_input(pattern, "match" if kind == "deny" else "fullmatch")
    except regex.error as err:
        return f"`{pattern}` is not a valid regular expression: {err}"
    if slow is None:
        return None
    return (f"`{pattern}` backtracks catastrophically: matching it against {slow} takes longer than "
            f"{saferegex.PROBE_SECONDS:g} s, and it would be tried on every command. Rewrite it without "
            "nested or overlapping repetition (for example `(a+)+` -> `a+`, `(a|aa)+` -> `a+`)")


def require(problem: str | None) -> None:
    """A lower layer's guard: the config enforces each rule above, so a breach here fails closed with the rule's words."""
    if problem is not None:
        raise ConfigError(f"{problem[0].upper()}{problem[1:]}.")
