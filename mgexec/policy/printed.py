"""What `echo` and `printf` write, modelled exactly as bash and dash do (options, escapes, printf's
format reuse), so a script printed into a shell (`printf '%s -rf /' rm | sh`) is read as it will run.
"""

from __future__ import annotations

import posixpath
import re

_MAX_WIDTH = 4096
_STOP = "\0stop"  # a `\c` that ends all output
# Escapes shared by every reading; the others differ per dialect and context.
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "\\": "\\", "e": "\x1b"}
_CONVERSION = re.compile(r"%([-+ #0']*)(\*|\d+)?(?:\.(\*|\d*))?[hlLjzt]*(.)?", re.DOTALL)


def printed_texts(words: tuple[str, ...], dialects: tuple[str, ...] = ("bash",)) -> tuple[str, ...]:
    """Every text `echo`/`printf` WORDS may write, one per dialect that reads it differently
    (bash for the top-level line; bash and dash for a `sh` payload); () if not a printer."""
    name = posixpath.basename(words[0]) if words else ""
    texts: list[str] = []
    for dialect in dialects:
        if name == "echo":
            text = echo_output(words[1:], dialect)
        elif name == "printf":
            text = printf_output(words[1:], dialect)
        else:
            return ()
        if text is not None and text not in texts:
            texts.append(text)
    return tuple(texts)


def echo_output(args: tuple[str, ...], dialect: str = "bash") -> str:
    """bash: `-n`, `-e`, `-E` clusters, escapes only with -e; dash: only a first `-n`, escapes always."""
    rest, newline = list(args), "\n"
    if dialect == "dash":
        if rest[:1] == ["-n"]:
            rest, newline = rest[1:], ""
        decoded = _escapes(" ".join(rest), "echo-dash")
        return _until_stop(decoded) if _STOP in decoded else decoded + newline
    interpret = False
    while rest and re.fullmatch(r"-[neE]+", rest[0]):
        for flag in rest.pop(0)[1:]:
            newline = "" if flag == "n" else newline
            interpret = {"e": True, "E": False}.get(flag, interpret)
    text = " ".join(rest)
    if not interpret:
        return text + newline
    decoded = _escapes(text, "echo-bash")
    return _until_stop(decoded) if _STOP in decoded else decoded + newline


def printf_output(args: tuple[str, ...], dialect: str = "bash") -> str | None:
    """printf FORMAT [ARGS]: the format is reused while arguments remain; None if it writes
    nothing to stdout (`-v VAR`) or has no format."""
    rest = list(args)
    if dialect == "bash" and rest[:1] == ["-v"]:
        return None
    if rest[:1] == ["--"]:
        rest.pop(0)
    if not rest:
        return None
    fmt, values = rest[0], rest[1:]
    out: list[str] = []
    while True:
        before = len(values)
        if not _render(fmt, values, out, dialect):
            return "".join(out)
        if not values or len(values) == before:
            return "".join(out)


def _render(fmt: str, values: list[str], out: list[str], dialect: str) -> bool:
    """One pass over the format; False when output stops (`\\c` in %b, a bad conversion)."""
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "\\":
            text, i = _escape_at(fmt, i, "format-" + dialect)
            out.append(text)
        elif char == "%" and fmt[i + 1:i + 2] == "%":
            out.append("%")
            i += 2
        elif char == "%":
            match = _CONVERSION.match(fmt, i)
            assert match is not None
            flags, width, precision, conv = match.groups()
            i = match.end()
            width = values.pop(0) if width == "*" and values else width
            precision = values.pop(0) if precision == "*" and values else precision
            text = _convert(conv, values.pop(0) if values else None, dialect)
            if text is None:
                return False
            stop = text.endswith(_STOP)
            out.append(_pad(text.removesuffix(_STOP), flags, width, precision, conv))
            if stop:
                return False
        else:
            out.append(char)
            i += 1
    return True


def _convert(conv: str | None, value: str | None, dialect: str) -> str | None:
    if conv == "s":
        return value or ""
    if conv == "b":
        return _escapes(value or "", "b-" + dialect)
    if conv == "c":
        return (value or "")[:1]
    if conv == "q" and dialect == "bash":
        return _bash_quoted(value or "")
    if conv is not None and conv in "diouxXeEfFgGaA":
        number = _number(value or "0")
        if conv in "di":
            return str(int(number))
        if conv in "ouxX":
            return format(int(number) & (2**64 - 1) if number < 0 else int(number),
                          {"u": "d"}.get(conv, conv))
        if conv in "aA":  # hexadecimal floating point; Python spells it differently
            text = float(number).hex()
            return text.upper() if conv == "A" else text
        return format(float(number), conv)
    return None  # an unknown conversion: bash and dash stop with an error


def _bash_quoted(value: str) -> str:
    """bash's %q: backslashes before special characters, `$'...'` for control characters."""
    if not value:
        return "''"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "$'" + "".join(f"\\{ord(c):03o}" if ord(c) < 32 or ord(c) == 127 else
                              "\\" + c if c in "\\'" else c for c in value) + "'"
    return re.sub(r"([^A-Za-z0-9_./,:@%+=^-])", r"\\\1", value)


def _number(value: str) -> float:
    if value[:1] in ("'", '"'):
        return float(ord(value[1])) if len(value) > 1 else 0.0
    match = re.match(r"\s*([-+]?)(0[xX][0-9a-fA-F]+|0[0-7]*|\d+(?:\.\d*)?)", value)
    if not match:
        return 0.0
    sign, digits = -1 if match[1] == "-" else 1, match[2]
    if digits.lower().startswith("0x"):
        return sign * float(int(digits, 16))
    if digits.startswith("0") and len(digits) > 1 and "." not in digits:
        return sign * float(int(digits, 8))
    return sign * float(digits)


def _pad(text: str, flags: str, width: str | None, precision: str | None, conv: str | None) -> str:
    if precision not in (None, "") and conv in ("s", "b", "q"):
        text = text[:int(precision) if precision.lstrip("-").isdigit() else len(text)]
    # A width is capped: the text only matters as a script, and must not exhaust memory.
    size = max(-_MAX_WIDTH, min(int(width), _MAX_WIDTH)) if width and width.lstrip("-").isdigit() else 0
    if size < 0:
        flags, size = flags + "-", -size
    return text.ljust(size) if "-" in flags else text.rjust(size)


def _escapes(text: str, context: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out.append(text[i])
            i += 1
            continue
        decoded, i = _escape_at(text, i, context)
        out.append(decoded)
        if decoded == _STOP:
            break
    return "".join(out)


def _escape_at(text: str, i: int, context: str) -> tuple[str, int]:
    """Decodes the escape at text[i] (a backslash) as `context` reads it; returns (text, next i).

    Contexts: format-bash/format-dash (printf's format), b-bash/b-dash (%b), echo-bash (echo -e),
    echo-dash (dash's echo). `\\c` stops output except in a format, where it is printed as is.
    """
    nxt = text[i + 1:i + 2]
    bash = context.endswith("bash")
    if nxt == "":
        return "\\", i + 1
    if nxt == "c":
        return ("\\c", i + 2) if context.startswith("format") else (_STOP, i + 2)
    if nxt == "E" and bash:
        return "\x1b", i + 2
    if nxt in _SIMPLE:
        return _SIMPLE[nxt], i + 2
    if nxt in "\"'?" and context.startswith("format") and bash:
        return nxt, i + 2
    if nxt == "0" and not context.startswith("format"):
        return _octal(text, i + 2, 3)
    if nxt in "01234567" and context != "echo-bash":
        return _octal(text, i + 1, 3)
    if bash and nxt in "xuU":
        digits = {"x": 2, "u": 4, "U": 8}[nxt]
        match = re.match(rf"[0-9a-fA-F]{{1,{digits}}}", text[i + 2:])
        if match:
            return chr(min(int(match[0], 16), 0x10FFFF)), i + 2 + match.end()
    return "\\" + nxt, i + 2


def _octal(text: str, start: int, most: int) -> tuple[str, int]:
    match = re.match(rf"[0-7]{{0,{most}}}", text[start:])
    digits = match[0] if match else ""
    return chr(int(digits or "0", 8) & 0xFF), start + len(digits)


def _until_stop(text: str) -> str:
    return text.split(_STOP, 1)[0]
