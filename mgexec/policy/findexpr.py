"""find's expression, evaluated on probe files under a start point: does `find START EXPR` delete
(or list) files that matter, or does it only look narrowed (`-name '*'`, `-path '/*'`, `! -name x`,
`-name x -o -delete`)?
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

# Entries every system and home has: if the expression acts on one, it is not narrowed.
_PROBES = (("etc", "d"), ("etc/passwd", "f"), ("usr", "d"), ("usr/bin/python3", "f"), ("bin", "d"),
           ("home", "d"), (".bashrc", "f"), ("notes.txt", "f"), ("src/main.c", "f"), ("lib", "d"))
_PATTERN_TESTS = {"-name": ("name", False), "-iname": ("name", True), "-path": ("path", False),
                  "-ipath": ("path", True), "-wholename": ("path", False),
                  "-iwholename": ("path", True), "-lname": ("link", False), "-ilname": ("link", True)}
# Tests on metadata a probe cannot have: they narrow, unless their value matches every file.
_VACUOUS = {
    "-mtime": r"\+0+|-\d{4,}", "-atime": r"\+0+|-\d{4,}", "-ctime": r"\+0+|-\d{4,}",
    "-mmin": r"\+0+|-\d{7,}", "-amin": r"\+0+|-\d{7,}", "-cmin": r"\+0+|-\d{7,}",
    "-size": r"\+0+[bckwMG]?|-\d{7,}[bckwMG]?|-\d{4,}[MG]", "-links": r"\+0+",
    "-user": r"root|0", "-uid": r"\+?0|-\d+", "-group": r"root|0", "-gid": r"\+?0|-\d+",
    "-perm": r"[-/]0*|[-/]?(a|u|g|o)*=?", "-newer": r"$^", "-anewer": r"$^", "-cnewer": r"$^",
    "-inum": r"$^", "-samefile": r"$^", "-used": r"$^", "-fstype": r"$^", "-context": r"$^",
    "-maxdepth": r".*", "-mindepth": r".*", "-regextype": r".*", "-files0-from": r".*"}
_TRUE = frozenset({"-true", "-readable", "-writable", "-executable", "-depth", "-d", "-mount",
                   "-xdev", "-noleaf", "-follow", "-daystart", "-warn", "-nowarn", "-prune",
                   "-ignore_readdir_race", "-noignore_readdir_race", "-quit"})
_FALSE = frozenset({"-false", "-empty", "-nouser", "-nogroup"})
_LISTS = frozenset({"-print", "-print0", "-ls", "-fprint", "-fprint0", "-fls", "-printf",
                    "-fprintf"})
_TWO_ARGS = frozenset({"-fprintf"})
_EXECS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_DELETERS = frozenset({"rm", "shred", "rmdir", "unlink"})
_WRAPPERS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox", "env", "sudo", "doas",
                       "nice", "nohup", "timeout", "xargs", "command", "exec", "stdbuf", "setsid",
                       "ionice", "chrt", "taskset", "time", "eval"})


@dataclass(frozen=True)
class _Probe:
    name: str
    path: str
    kind: str


Outcomes = frozenset[tuple[bool, bool]]  # (value of the expression, the action ran)


def acts_on_everything(start: str, expression: list[str], *, delete: bool) -> bool:
    """True if `find START EXPRESSION` deletes (delete=True) or lists (False) some probe file."""
    if not expression:
        tree, rest = ("const", True), []
    else:
        try:
            tree, rest = _parse_or(list(expression), delete)
        except (IndexError, StopIteration, ValueError):
            return True  # an expression we cannot read is taken to act on everything
    if rest:
        return True
    if not _has_action(expression) and not delete:
        tree = ("and", tree, ("act", True))  # find's implicit -print
    return any(acted for probe in _probes(start) for _, acted in _eval(tree, probe))


def _probes(start: str) -> list[_Probe]:
    base = start.rstrip("/") or ""
    found = [_Probe(start.rstrip("/").rsplit("/", 1)[-1] or "/", start, "d")]
    found += [_Probe(name.rsplit("/", 1)[-1], f"{base}/{name}", kind) for name, kind in _PROBES]
    return found


def _has_action(expression: list[str]) -> bool:
    return any(w in _LISTS or w in _EXECS or w in ("-delete", "-quit", "-prune") for w in expression)


def _parse_or(words: list[str], delete: bool) -> tuple[tuple, list[str]]:
    left, words = _parse_and(words, delete)
    while words and words[0] in ("-o", "-or", ","):
        op = "or" if words[0] != "," else "comma"
        right, words = _parse_and(words[1:], delete)
        left = (op, left, right)
    return left, words


def _parse_and(words: list[str], delete: bool) -> tuple[tuple, list[str]]:
    left, words = _parse_unary(words, delete)
    while words and words[0] not in ("-o", "-or", ",", ")"):
        if words[0] in ("-a", "-and"):
            words = words[1:]
        right, words = _parse_unary(words, delete)
        left = ("and", left, right)
    return left, words


def _parse_unary(words: list[str], delete: bool) -> tuple[tuple, list[str]]:
    head = words[0]
    if head in ("!", "-not"):
        inner, rest = _parse_unary(words[1:], delete)
        return ("not", inner), rest
    if head == "(":
        inner, rest = _parse_or(words[1:], delete)
        if not rest or rest[0] != ")":
            raise ValueError("unclosed (")
        return inner, rest[1:]
    return _primary(words, delete)


def _primary(words: list[str], delete: bool) -> tuple[tuple, list[str]]:
    head, rest = words[0], words[1:]
    if head in _PATTERN_TESTS:
        return ("match", head, rest[0]), rest[1:]
    if head in ("-regex", "-iregex"):
        return ("regex", head, rest[0]), rest[1:]
    if head == "-type" or head == "-xtype":
        return ("type", rest[0]), rest[1:]
    if head in _VACUOUS:
        return ("const", re.fullmatch(_VACUOUS[head], rest[0]) is not None), rest[1:]
    if head == "-delete":
        return ("act", delete), rest
    if head in _EXECS:
        end = next(i for i, w in enumerate(rest) if w == ";" or (w == "+" and rest[i - 1] == "{}"))
        deletes = _runs_deleter(rest[:end])
        return ("exec", deletes and delete), rest[end + 1:]
    if head in _LISTS:
        skip = 2 if head in _TWO_ARGS else (1 if head.startswith(("-f", "-printf")) else 0)
        return ("act", not delete), rest[skip:]
    if head in _TRUE or head in _FALSE:
        return ("const", head in _TRUE), rest
    raise ValueError(f"unknown find primary {head}")


def _runs_deleter(words: list[str]) -> bool:
    """`-exec rm`, `-exec /???/?m`, `-exec $RM`, or a wrapper or shell whose words name a deleter
    (`-exec sh -c 'rm -rf "$1"' _ {} ;`, `-exec sudo rm`)."""
    if not words:
        return False
    if _deleter_name(words[0]):
        return True
    name = words[0].rsplit("/", 1)[-1]
    if name not in _WRAPPERS:
        return False
    tokens = [t for w in words[1:] for t in re.split(r"[\s;&|()'\"]+", w) if t]
    return any(_deleter_name(t) for t in tokens)


def _deleter_name(word: str) -> bool:
    name = word.rsplit("/", 1)[-1]
    if re.search(r"[$`]", word):
        return True  # computed when the command runs
    return any(fnmatch.fnmatchcase(deleter, name) for deleter in _DELETERS)


def _eval(node: tuple, probe: _Probe) -> Outcomes:
    kind = node[0]
    if kind in ("and", "or", "comma"):
        found: set[tuple[bool, bool]] = set()
        for value, acted in _eval(node[1], probe):
            if (kind == "and" and not value) or (kind == "or" and value):
                found.add((value, acted))
                continue
            found |= {(v, acted or a) for v, a in _eval(node[2], probe)}
        return frozenset(found)
    if kind == "not":
        return frozenset((not v, a) for v, a in _eval(node[1], probe))
    if kind == "act":
        return frozenset({(True, node[1])})
    if kind == "exec":  # its value is the command's exit status: either
        return frozenset({(True, node[1]), (False, node[1])})
    return frozenset({(_test(node, probe), False)})


def _test(node: tuple, probe: _Probe) -> bool:
    kind = node[0]
    if kind == "const":
        return node[1]
    if kind == "type":
        return probe.kind in node[1].split(",")
    if kind == "match":
        field, fold = _PATTERN_TESTS[node[1]]
        subject = probe.path if field == "path" else probe.name if field == "name" else ""
        pattern = node[2]
        if fold:
            subject, pattern = subject.lower(), pattern.lower()
        return field == "link" and pattern.strip("*") == "" or fnmatch.fnmatchcase(subject, pattern)
    try:
        flags = re.IGNORECASE if node[1] == "-iregex" else 0
        return re.fullmatch(node[2], probe.path, flags) is not None
    except re.error:
        return True
