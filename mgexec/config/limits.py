"""The documented bounds of every number, id and path mgexec accepts, and the one timeout rule.

Config files, `mgexec exec --timeout` and the tool's `timeout` argument all go through these, so
a value one of them accepts is accepted by all.
"""

from __future__ import annotations

import math
import reprlib
from typing import TYPE_CHECKING

from mgexec.errors import ConfigError

if TYPE_CHECKING:  # pathlib costs a policy worker's start ~6 ms (it imports urllib); the checks import it when run
    from pathlib import PurePosixPath

MAX_TIMEOUT = 86_400.0  # 24 hours: longer jobs belong in a background shell
MAX_OUTPUT_BYTES = 1024**3  # 1 GiB per stream
MIN_OUTPUT_BYTES = 1024
MAX_RETENTION = 30 * 86_400.0
MIN_PROGRESS_INTERVAL, MAX_PROGRESS_INTERVAL = 0.1, 3_600.0
MAX_CPU_LIMIT = 1024.0
MAX_MEMORY_BYTES = 1024**4  # 1 TiB
MAX_AGENT_ID = 64
MAX_PATH, MAX_PATH_COMPONENT = 4096, 255  # Linux PATH_MAX and NAME_MAX
MAX_NAME = 255  # images, contexts, package and variable names
MAX_PATTERN = 1000
MAX_LIST = 1000  # entries in any list setting

# Kernel pseudo-filesystems: never a workspace, a context path or a mount source.
PSEUDO_FS = ("/proc", "/sys", "/dev")

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80
_short.maxlist = _short.maxtuple = _short.maxdict = 6
_short.maxlevel = 3


def short_repr(value: object) -> str:
    """repr() cut to a readable size, so a 5,000-character value does not become a 5,000-character error."""
    return _short.repr(value)


def check_timeout(value: object, *, name: str = "timeout") -> float:
    """A command timeout in seconds: finite, above 0 and at most MAX_TIMEOUT; ConfigError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        number = math.nan
    else:
        try:
            number = float(value)
        except (ValueError, OverflowError):
            number = math.nan
    if math.isfinite(number) and 0 < number <= MAX_TIMEOUT:
        return number
    hint = " Use a background shell for jobs that run longer." if number > MAX_TIMEOUT else ""
    raise ConfigError(f"{name} must be a number of seconds above 0 and at most {MAX_TIMEOUT:g} (24 hours), got "
                      f"{short_repr(value)}.{hint}")


def check_path_text(text: str, key: str) -> None:
    """Refuse a path no filesystem could hold: NUL, too long, or a component longer than NAME_MAX."""
    if "\0" in text:
        raise ValueError(f"{key} {short_repr(text)} contains a NUL character, which no path can hold")
    if len(text) > MAX_PATH:
        raise ValueError(f"{key} is {len(text)} characters long; a path may have at most {MAX_PATH}")
    from pathlib import PurePosixPath

    longest = max((len(part) for part in PurePosixPath(text).parts), default=0)
    if longest > MAX_PATH_COMPONENT:
        raise ValueError(f"{key} has a name of {longest} characters; each name in a path may have at most "
                         f"{MAX_PATH_COMPONENT}")


def check_not_pseudo_fs(resolved: PurePosixPath, key: str, given: object) -> None:
    """/proc, /sys and /dev describe the running system; commands must not run in or mount them."""
    from pathlib import PurePosixPath

    for root in PSEUDO_FS:
        if resolved == PurePosixPath(root) or resolved.is_relative_to(root):
            shown = short_repr(str(given))
            via = f" (it resolves to {str(resolved)!r})" if str(given) != str(resolved) else ""
            raise ValueError(f"{key} {shown}{via} lies under {root}, a kernel pseudo-filesystem; "
                             "choose a directory of real files")
