"""What the warm channel sends into the container and what it makes of the answers: the helper's one
program, assembled from mgexec.inside, and a command's result from its exit frame and output.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

from mgexec import processes
from mgexec.inside.channel_jobs import FAILED_FIELD, FAILED_WORK_DIR
from mgexec.runner import CappedBuffer, ProcessOutput, capped_text

# The files of the helper's one program, in order; each one's host imports are cut out (see helper_source).
_PROGRAM = ("wire.py", "channel_jobs.py", "channel_helper.py")
_HOST_IMPORTS = ("# --- host imports", "# --- end of host imports ---\n")


@functools.lru_cache(maxsize=1)
def helper_source() -> bytes:
    """The helper's one program: mgexec.inside's wire format, its jobs and its loop (channel_helper), with
    mgexec.processes' shipped functions inserted before the entry point."""
    inside = importlib.resources.files("mgexec.inside")
    parts = []
    for name in _PROGRAM:
        text = inside.joinpath(name).read_text()
        if _HOST_IMPORTS[0] in text:
            start = text.index(_HOST_IMPORTS[0])
            text = text[:start] + text[text.index(_HOST_IMPORTS[1], start) + len(_HOST_IMPORTS[1]):]
        parts.append(f"# --- mgexec/inside/{name} ---\n{text}")
    text = "\n\n".join(parts)
    entry = text.rindex('\nif __name__ == "__main__":')
    shared = processes.shipped_source()
    # The future import lets the shipped functions' annotations stand under Python 3.7.
    return ("from __future__ import annotations\n" + text[:entry] + "\n\n# --- from mgexec.processes ---\n"
            + shared + "\n" + text[entry:]).encode()


@dataclass(frozen=True)
class ChannelOutput(ProcessOutput):
    """A command's output, and why it did not start (the helper's FAILED_FIELD), if it did not."""

    failed: str | None = None

    @property
    def work_dir_unusable(self) -> bool:
        return self.failed == FAILED_WORK_DIR


def channel_output(frame: dict, stdout: CappedBuffer, stderr: CappedBuffer, duration: float) -> ChannelOutput:
    # decoded straight from the buffers: no extra copy
    out_text, out_dropped = capped_text(stdout.data, stdout.dropped + frame["dropped"][0])
    err_text, err_dropped = capped_text(stderr.data, stderr.dropped + frame["dropped"][1])
    if frame.get("error"):
        err_text = f"{err_text}{frame['error']}\n"
    return ChannelOutput(exit_code=frame["code"], stdout=out_text,
                         stderr=err_text, duration=duration, timed_out=bool(frame["timed_out"]),
                         stdout_dropped=out_dropped, stderr_dropped=err_dropped, signal=frame.get("signal"),
                         failed=frame.get(FAILED_FIELD))
