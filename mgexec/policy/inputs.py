"""Checks on the raw text an agent sends, before anything parses or spawns it: bytes no process can
take (NUL, unpaired surrogates) and sizes over the kernel's limits, each refused naming the limit.
"""

from __future__ import annotations

from mgexec.errors import PolicyViolation

# Linux: one argument or environment string passed to execve may hold at most 32 pages
# (MAX_ARG_STRLEN, 131072 bytes) including its terminating NUL; the line is one `sh -c` argument.
MAX_ARG_BYTES = 131072 - 1
PATH_MAX = 4096 - 1  # bytes of a path the kernel accepts, without the terminating NUL
NAME_MAX = 255  # bytes of one path component


def unpaired_surrogate(text: str) -> int | None:
    """The index of the first lone UTF-16 surrogate in text (which no UTF-8 encoding holds), or None."""
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError as exc:
        return exc.start


def check_text(value: str, what: str, *, allow_nul: bool = False) -> None:
    """Refuse a string holding an unpaired surrogate or, unless allowed, a NUL character."""
    at = unpaired_surrogate(value)
    if at is not None and "\udc80" <= value[at] <= "\udcff":  # a raw byte, as Python decodes argv
        raise PolicyViolation(
            f"{what} holds a byte that is not UTF-8 (0x{ord(value[at]) - 0xDC00:02x} at character {at}). "
            "Write it as an escape the shell expands instead, such as printf '\\xff'.")
    if at is not None:
        raise PolicyViolation(
            f"{what} holds an unpaired UTF-16 surrogate ({value[at]!r} at character {at}), which is not valid "
            "Unicode and cannot be passed to a process. Send valid text (surrogates only in pairs).")
    if not allow_nul and "\0" in value:
        raise PolicyViolation(
            f"{what} holds a NUL character (at character {value.index(chr(0))}), which no process argument, "
            "path or environment value can hold. Remove it; to produce a NUL byte, use printf '\\0' in the line.")


def check_command_text(command: str) -> None:
    """The command line must be text a process can receive as one argument."""
    check_text(command, "The command")
    size = len(command.encode("utf-8"))
    if size > MAX_ARG_BYTES:
        raise PolicyViolation(
            f"The command is {size} bytes long; the kernel passes at most {MAX_ARG_BYTES} bytes in one argument "
            "(MAX_ARG_STRLEN, 128 KiB). Write long scripts or data to a file in the workspace and run that file.")


def check_path_text(path: str, what: str) -> None:
    """A path must fit the kernel's limits (PATH_MAX, NAME_MAX) and hold only valid, NUL-free text."""
    check_text(path, what)
    size = len(path.encode("utf-8"))
    if size > PATH_MAX:
        raise PolicyViolation(f"{what} is {size} bytes long; paths hold at most {PATH_MAX} bytes (PATH_MAX). "
                              "Pass a shorter path.")
    longest = max(path.split("/"), key=lambda part: len(part.encode("utf-8")))
    if len(longest.encode("utf-8")) > NAME_MAX:
        raise PolicyViolation(f"{what} has a component of {len(longest.encode('utf-8'))} bytes; one file name "
                              f"holds at most {NAME_MAX} bytes (NAME_MAX). Pass an existing directory.")
