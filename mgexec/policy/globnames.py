"""Command names written as wildcards (`/???/?m`, `/bin/r[m]`, `r?`): the programs they may run,
found by listing the directories of the PATH the command will see (and the file system for a name
with a slash), plus every known dangerous command the pattern matches."""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import glob
import os
import posixpath
import re
from typing import Iterator

_GLOB = re.compile(r"[*?]|\[.+\]")  # a lone `[` is the test command, not a pattern
_SYSTEM_BIN = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


# Whether a check may list directories. The quick reading on the server's own loop may not: listing PATH,
# or a pattern such as `/*/*/*/*` over the whole file system, takes unbounded time there.
_LISTING = contextvars.ContextVar("mgexec_policy_listing", default=True)


class ListingNeeded(Exception):
    """A wildcard command name, met where directories may not be listed: the line needs a worker."""


@contextlib.contextmanager
def without_listing() -> Iterator[None]:
    token = _LISTING.set(False)
    try:
        yield
    finally:
        _LISTING.reset(token)


def is_glob_name(word: str) -> bool:
    return bool(_GLOB.search(word)) and not re.search(r"[$`]", word)


def glob_matches(word: str, *, path: str, cwd: str | None,
                 known: frozenset[str]) -> tuple[list[str], bool]:
    """(the programs `word` may name, whether every directory could be listed).

    A name without a slash is expanded against the current directory, then looked up in PATH:
    any program on PATH it matches may be the one run. A name with a slash is expanded on the file
    system. Known dangerous names matching the last part count either way, so a listing taken
    on another machine (the host, for a container) cannot hide them.
    """
    if not _LISTING.get():
        raise ListingNeeded(word)
    base_pattern = posixpath.basename(word)
    matches: list[str] = [name for name in sorted(known) if fnmatch.fnmatchcase(name, base_pattern)]
    listed = True
    if "/" in word:
        root = cwd if cwd and cwd.startswith("/") and not word.startswith("/") else None
        try:
            matches += sorted(glob.glob(word, root_dir=root))
        except OSError:
            listed = False
        return list(dict.fromkeys(matches)), listed
    for directory in [d for d in path.split(":") if d] or list(_SYSTEM_BIN):
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            continue
        except OSError:
            listed = False
            continue
        matches += sorted(n for n in names if fnmatch.fnmatchcase(n, word))
    return list(dict.fromkeys(matches)), listed
