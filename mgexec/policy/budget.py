"""The work a policy check may do on one line: its size, its parse steps and its time. Every limit
lives here; a line over any of them is refused with the limit named, never judged forever.
"""

from __future__ import annotations

import time

from mgexec.errors import PolicyViolation

# Linux refuses a single argument longer than MAX_ARG_STRLEN (32 pages = 131072 bytes, the
# terminating NUL included), so `bash -c LINE` cannot start with a longer line anyway.
MAX_LINE_BYTES = 131072 - 1
# Tokens lexed plus commands walked plus words produced by brace expansion, over every reading of
# every nested script. A 128 KiB line of `a;` takes about 200,000.
MAX_PARSE_STEPS = 2_000_000
# Wall-clock time one check may take (the server adds an outer bound of its own). The longest line
# (128 KiB of `a;`) takes about 2 s of CPU; this leaves room for a loaded machine.
MAX_PARSE_SECONDS = 10.0
# Words one word may become by brace expansion (`{1..100}` is 100); counted before enumerating.
MAX_BRACE_WORDS = 4096
# Words brace expansion may make in one check, over all words (each is judged by every rule).
MAX_EXPANDED_WORDS = 65536
# The clock is read once every this many steps, which keeps the common path cheap.
_CLOCK_EVERY = 256


class PolicyBudgetExceeded(PolicyViolation):
    """Checking the line would take more work than the guard rails allow, so it is not run."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(
            f"The command line could not be judged within the guard rails' budget ({what}), so "
            "mgexec did not run it. Every command is checked before it runs, and a line that would "
            "take too long to check is refused rather than judged for ever; split the work over "
            "several shorter lines, or put it in a script file.")


def check_line_size(line: str) -> None:
    """Refuses a line `bash -c` could not be given (see MAX_LINE_BYTES)."""
    size = len(line) if line.isascii() else len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_LINE_BYTES:
        raise PolicyBudgetExceeded(
            f"the line is {size} bytes long, over the {MAX_LINE_BYTES} bytes Linux lets one "
            "argument be (MAX_ARG_STRLEN, 128 KiB), so `bash -c` could not run it")


class ParseBudget:
    """Counts the steps of one check and watches its deadline; raises when either runs out."""

    __slots__ = ("steps", "max_steps", "seconds", "deadline", "expanded", "clock_every", "_next_clock")

    def __init__(self, max_steps: int = MAX_PARSE_STEPS, seconds: float = MAX_PARSE_SECONDS,
                 clock_every: int = _CLOCK_EVERY) -> None:
        self.steps = 0
        self.max_steps = max_steps
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expanded = 0
        self.clock_every = clock_every
        self._next_clock = clock_every

    def expand(self, words: int) -> None:
        """Counts words made by brace expansion (before they are made)."""
        self.expanded += words
        if self.expanded > MAX_EXPANDED_WORDS:
            raise PolicyBudgetExceeded(
                f"brace expansion would make more than {MAX_EXPANDED_WORDS} words on this line "
                "(MAX_EXPANDED_WORDS)")
        self.step(words)

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps >= self._next_clock:
            self._check()

    def _check(self) -> None:
        self._next_clock = self.steps + self.clock_every
        if self.steps > self.max_steps:
            raise PolicyBudgetExceeded(
                f"checking it needs more than {self.max_steps} parse steps (tokens, commands and "
                "expanded words, over every nested script)")
        if time.monotonic() > self.deadline:
            raise PolicyBudgetExceeded(
                f"checking it took longer than {self.seconds:g} seconds")
