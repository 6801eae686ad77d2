"""What a pseudo-terminal does with typed input: how much lies unread, and how line mode cuts it.

In line (canonical) mode the kernel keeps at most 4095 unread bytes per terminal and drops what
does not fit without telling the writer; these helpers let input be sent so nothing is dropped.
"""

from __future__ import annotations

import fcntl
import re
import struct
import termios

TERMINAL_LINE_MAX = 4095  # N_TTY_BUF_SIZE less one: the unread input a Linux terminal holds
MAX_INPUT_BYTES = 64 * 1024  # per send_background_shell_input call


def unread_input(peer: int | None) -> int | None:
    """Bytes typed into the terminal that its program has not read yet (None when it cannot be known).

    In line mode only completed lines count, which is why input is sent one line at a time.
    """
    if peer is None:
        return None
    try:
        return struct.unpack("i", fcntl.ioctl(peer, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return None


def line_mode(peer: int | None) -> bool:
    """Whether the terminal is in canonical (line) mode; False when it cannot be known."""
    if peer is None:
        return False
    try:
        return bool(termios.tcgetattr(peer)[3] & termios.ICANON)
    except termios.error:
        return False


_LINE = re.compile(rb"[^\r\n\x04]*[\r\n\x04]|[^\r\n\x04]+\Z")


def terminal_pieces(data: bytes, line_mode: bool) -> list[bytes]:
    """data cut after each line end in line mode (each piece a whole line), else in pieces of at most 4095 bytes."""
    if not line_mode:
        return [data[i:i + TERMINAL_LINE_MAX] for i in range(0, len(data), TERMINAL_LINE_MAX)] or [b""]
    return _LINE.findall(data) or [b""]


def input_problem(data: bytes, line_mode: bool) -> str | None:
    """Why data cannot be typed into a terminal whole (too large, a line too long), or None."""
    if len(data) > MAX_INPUT_BYTES:
        return (f"The input is {len(data)} bytes; one call sends at most {MAX_INPUT_BYTES} bytes "
                f"({MAX_INPUT_BYTES // 1024} KiB). Send it in pieces, or write it to a file the program reads.")
    if line_mode:
        longest = max((len(piece.rstrip(b"\r\n\x04")) for piece in terminal_pieces(data, True)), default=0)
        if longest > TERMINAL_LINE_MAX - 1:
            return (f"The input holds a line of {longest} bytes; the shell's terminal is in line mode, where one "
                    f"line holds at most {TERMINAL_LINE_MAX - 1} bytes and the rest is dropped. Send shorter "
                    "lines, or write the data to a file the program reads.")
    return None
