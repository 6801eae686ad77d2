"""What a command reads on stdin or from a descriptor, when the line itself says so: here-documents
(on any descriptor, kept across `exec 3<<EOF`), `<&3`, `/dev/fd/3`, and the text a pipe carries from
`echo`/`printf`/`cat`; and the words such text hands to `xargs`.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from mgexec.policy.printed import printed_texts

_BODY_OPS = frozenset({"<<", "<<-", "<<<"})
_FD_PATH = re.compile(r"/dev/(?:fd/(\d+)|(stdin))$|/proc/(?:self|thread-self|\$\$|\$BASHPID)/fd/(\d+)$")


@dataclass(frozen=True)
class Feed:
    """Text a descriptor carries: `texts` (one per reading) when the line shows it, else `unseen`
    says where it comes from (a file, another program's output)."""

    how: str
    texts: tuple[str, ...] = ()
    unseen: str = ""
    script_file: bool = False  # a file the line did not write: judged by its name, as `bash f` is


def apply_redirects(fds: Mapping[str, Feed], redirects,
                    files: Mapping[str, Feed] | None = None) -> dict[str, Feed]:
    """The descriptor table after `redirects` (in order), starting from `fds`; `files` holds what
    the line itself wrote into files."""
    table = dict(fds)
    for redirect in redirects:
        fd = redirect.fd or ("0" if redirect.op.startswith("<") else "1")
        if redirect.op in _BODY_OPS and redirect.body is not None:
            table[fd] = Feed(f"a here-document on descriptor {fd}" if fd != "0" else "a here-document",
                             (redirect.body,))
        elif redirect.op in ("<", "<>"):
            source = fd_of_path(redirect.target)
            written = (files or {}).get(file_key(redirect.target))
            table[fd] = table.get(source, Feed("", unseen="")) if source else written or Feed(
                f"the file `{redirect.target}`", script_file=True)
        elif redirect.op == "<&" and redirect.target.isdigit():
            if redirect.target in table:
                table[fd] = table[redirect.target]
        elif redirect.op == "<&" and redirect.target == "-":
            table.pop(fd, None)
        elif fd in table and not redirect.op.startswith("<"):
            table.pop(fd)  # the descriptor now writes somewhere: it no longer carries a script
    return table


def file_key(path: str) -> str:
    """How a file written and read on one line is recognised (`./run.sh` is `run.sh`)."""
    return posixpath.normpath(path) if path else path


def remember_writes(files: dict[str, Feed], words: tuple[str, ...], redirects, stdin: Feed | None,
                    dialects: tuple[str, ...]) -> None:
    """Records what a command writes into files (`echo ... > f`, `cat > f <<EOF`, `tee f`), so a
    later `sh f` or `./f` on the line is read; output only known at run time is recorded as such."""
    if not words:
        return
    texts = written_texts(words, stdin, dialects)
    made = Feed("", texts) if texts else Feed("", unseen=f"what `{words[0]}` wrote")
    for redirect in redirects:
        key = file_key(redirect.target)
        if redirect.op in (">", ">|", "&>") and redirect.fd in ("", "1"):
            files[key] = made
        elif redirect.op in (">>", "&>>") and redirect.fd in ("", "1"):
            before = files.get(key)
            joined = tuple(a + b for a in before.texts for b in made.texts)[:8] if before else ()
            files[key] = Feed("", joined) if joined else Feed("", unseen=f"what `{words[0]}` appended")
    if posixpath.basename(words[0]) == "tee" and stdin is not None:
        for operand in (w for w in words[1:] if not w.startswith("-")):
            files[file_key(operand)] = stdin


def fd_of_path(path: str) -> str | None:
    """`/dev/fd/3` -> "3", `/dev/stdin` and `/proc/self/fd/0` -> "0"; None for other paths."""
    match = _FD_PATH.match(path)
    if not match:
        return None
    return "0" if match[2] else match[1] or match[3]


def written_texts(words: tuple[str, ...], stdin: Feed | None,
                  dialects: tuple[str, ...]) -> tuple[str, ...] | None:
    """What a command writes to stdout when the line shows it: `echo`/`printf`, or `cat`/`tee`
    passing their stdin on; None when the output is only known at run time."""
    name = posixpath.basename(words[0]) if words else ""
    if name in ("echo", "printf"):
        return printed_texts(words, dialects) or None
    copies_stdin = all(w == "-" or w.startswith("-") for w in words[1:]) if name == "cat" else (
        name == "tee")
    if copies_stdin and stdin is not None and stdin.texts:
        return stdin.texts
    return None


def xargs_words(options: tuple[str, ...], template: tuple[str, ...], text: str) -> list[tuple[str, ...]]:
    """The commands `xargs OPTIONS TEMPLATE` runs when its input is `text`."""
    replace, delimiter, _ = _xargs_options(options)
    if delimiter is not None:
        items = [item for item in text.split(delimiter) if item]
    elif replace is not None:
        items = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        try:
            items = shlex.split(text)
        except ValueError:
            items = text.split()
    if replace is not None:
        return [tuple(w.replace(replace, item) for w in template) for item in items]
    size = _max_args(options) or len(items)  # `-n N`: one command per N items
    return [template + tuple(items[i:i + size]) for i in range(0, len(items), size)]


def _max_args(options: tuple[str, ...]) -> int | None:
    """The N of `xargs -n N` (`-nN`, `--max-args=N`), or None."""
    for word, after in zip(options, options[1:] + ("",)):
        value = after if word in ("-n", "--max-args") else (
            word[2:] if word.startswith("-n") else word.split("=", 1)[1]
            if word.startswith("--max-args=") else None)
        if value is not None and value.isdigit() and int(value) > 0:
            return int(value)
    return None


def xargs_arg_file(options: tuple[str, ...]) -> str | None:
    """The file `xargs -a FILE` reads its input from (instead of stdin), if any."""
    return _xargs_options(options)[2]


def _xargs_options(options: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    replace: str | None = None
    delimiter: str | None = None
    arg_file: str | None = None
    words = list(options)
    while words:
        word = words.pop(0)
        if word in ("-0", "--null"):
            delimiter = "\0"
        elif word in ("-a", "--arg-file") and words:
            arg_file = words.pop(0)
        elif word.startswith(("--arg-file=", "-a")):
            arg_file = word.split("=", 1)[1] if "=" in word else word[2:]
        elif word in ("-d", "--delimiter") and words:
            delimiter = _decoded_delimiter(words.pop(0))
        elif word.startswith("--delimiter=") or (word.startswith("-d") and len(word) > 2):
            delimiter = _decoded_delimiter(word.split("=", 1)[1] if "=" in word else word[2:])
        elif word == "-I" and words:
            replace = words.pop(0)
        elif word.startswith("-I"):
            replace = word[2:]
        elif word in ("-i", "--replace"):
            replace = "{}"
        elif word.startswith(("-i", "--replace=")):
            replace = word.split("=", 1)[1] if "=" in word else word[2:]
    return replace, delimiter, arg_file


def _decoded_delimiter(value: str) -> str:
    escapes = {"\\n": "\n", "\\t": "\t", "\\0": "\0", "\\\\": "\\"}
    return escapes.get(value, value[:1] or "\n")
