"""Images whose layout a start already checked, remembered by image id in mgexec's cache directory: a later
start (in any process) skips the check, and an image rebuilt under the same tag has a new id, checked again."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

log = logging.getLogger("mgexec.docker")

CACHE_DIR_ENV = "MGEXEC_CACHE_DIR"
_IMAGE_ID = re.compile(r"(?:sha256:)?([0-9a-f]{64})")  # docker says sha256:HEX, podman HEX


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """MGEXEC_CACHE_DIR, else $XDG_CACHE_HOME/mgexec, else ~/.cache/mgexec."""
    environ = os.environ if environ is None else environ
    if environ.get(CACHE_DIR_ENV):
        return Path(environ[CACHE_DIR_ENV])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mgexec"


class LayoutCache:
    """One file per (image id, check) pair that passed. `check` names what was checked (the script, the uid
    expected, the mounts that could have stood in for a directory of the image): a changed check misses."""

    def __init__(self, check: Iterable[str], root: Path | None = None) -> None:
        self.check = hashlib.sha256("\0".join(check).encode()).hexdigest()[:16]
        self.root = (root or cache_dir()) / "image-layout"

    def _entry(self, image_id: str | None) -> Path | None:
        match = _IMAGE_ID.fullmatch(image_id or "")
        # Anything but a content-addressed id (a podman short id, an empty answer) is never trusted.
        return self.root / f"{match.group(1)}-{self.check}" if match else None

    def proven(self, image_id: str | None) -> bool:
        entry = self._entry(image_id)
        return entry is not None and entry.is_file()

    def remember(self, image_id: str | None) -> None:
        entry = self._entry(image_id)
        if entry is None:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            entry.touch()
        except OSError as exc:  # a read-only home only costs the next start the check again
            log.debug("cannot remember the checked image in %s: %s", self.root, exc)
