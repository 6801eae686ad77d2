"""Commands that run another command (env, sudo, timeout, xargs, sh -c, eval, find -exec, ...):
where the inner command starts, so the policy checks it like any other command.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from mgexec.policy.shelllex import decode_escapes

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "posh", "yash"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Inner:
    """A command run by a wrapper: either ready words, or a script string to parse."""

    label: str
    words: tuple[str, ...] = ()
    script: str | None = None


@dataclass(frozen=True)
class _Spec:
    """How a simple wrapper's options look, so its command can be found after them."""

    short_args: str = ""          # short options taking a value: `-n 5` or `-n5`
    long_args: frozenset[str] = frozenset()  # long options taking a value when written without `=`
    optional_short: str = ""      # short options whose value, if any, is attached (`xargs -i{}`)
    stop_short: str = ""          # short options meaning "no command is run" (`command -v`)
    stop_long: frozenset[str] = frozenset()
    operands: int = 0             # operands before the command (`timeout DURATION cmd`)
    assignments: bool = False     # NAME=VALUE words before the command (`env A=1 cmd`)


_SPECS: dict[str, _Spec] = {
    "env": _Spec("uC", frozenset({"--unset", "--chdir"}), assignments=True),
    "nice": _Spec("n", frozenset({"--adjustment"})),
    "nohup": _Spec(),
    "setsid": _Spec(),
    "coproc": _Spec(),
    "chroot": _Spec(long_args=frozenset({"--userspec", "--groups"}), operands=1),
    "unshare": _Spec("SGRw", frozenset({"--setuid", "--setgid", "--root", "--wd"})),
    "timeout": _Spec("sk", frozenset({"--signal", "--kill-after"}), operands=1),
    "xargs": _Spec("aEILPdns", frozenset({"--arg-file", "--delimiter", "--max-args", "--max-procs",
                                          "--max-chars", "--process-slot-var"}), optional_short="eil"),
    "exec": _Spec("a"),
    "command": _Spec(stop_short="vV"),
    "builtin": _Spec(),
    "time": _Spec("fo", frozenset({"--format", "--output"})),
    "stdbuf": _Spec("ioe", frozenset({"--input", "--output", "--error"})),
    "sudo": _Spec("CDgprRtTuU", frozenset({"--chdir", "--close-from", "--group", "--prompt", "--role",
                                          "--chroot", "--type", "--command-timeout", "--user",
                                          "--other-user", "--host"}),
                  stop_short="elvVK", stop_long=frozenset({"--edit", "--list", "--validate", "--version",
                                                           "--remove-timestamp", "--help"})),
    "doas": _Spec("uC"),
    "pkexec": _Spec(long_args=frozenset({"--user"})),
    "ionice": _Spec("cn", frozenset({"--class", "--classdata"}), stop_short="pPu",
                    stop_long=frozenset({"--pid", "--pgid", "--uid"})),
    "taskset": _Spec(stop_short="p", stop_long=frozenset({"--pid"}), operands=1),
    "chrt": _Spec(stop_short="pm", stop_long=frozenset({"--pid", "--max"}), operands=1),
}


def inner_commands(words: tuple[str, ...]) -> tuple[Inner, ...]:
    """The commands that `words` runs through a wrapper (none if it is not a known wrapper)."""
    if not words:
        return ()
    name = posixpath.basename(words[0])
    special = {"env": _env, "eval": _eval, "su": _su, "find": _find, "busybox": _busybox,
               "watch": _watch, "trap": _trap, "alias": _alias}.get(name)
    if special is not None:
        return special(name, words)
    if name in SHELLS:
        return _shell_c(name, words)
    spec = _SPECS.get(name)
    if spec is None:
        return ()
    start = command_start(words, spec)
    return (Inner(name, words=words[start:]),) if start is not None else ()


def command_start(words: tuple[str, ...], spec: _Spec) -> int | None:
    """Index of the wrapped command's first word, or None if the wrapper runs no command."""
    i, operands = 1, spec.operands
    while i < len(words):
        word = words[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            if option in spec.stop_long:
                return None
            i += 2 if option in spec.long_args and "=" not in word else 1
        elif word.startswith("-") and len(word) > 1 and operands == spec.operands:
            step = _short_cluster(word[1:], spec)
            if step is None:
                return None
            i += step
        elif spec.assignments and _ASSIGNMENT.match(word):
            i += 1
        elif operands:
            operands, i = operands - 1, i + 1
        else:
            return i
    i += operands
    return i if i < len(words) else None


def _short_cluster(chars: str, spec: _Spec) -> int | None:
    """How many words a cluster like `-nv5` takes (1 or 2), or None for a stop option."""
    for k, char in enumerate(chars):
        if char in spec.stop_short:
            return None
        if char in spec.short_args:
            return 1 if k + 1 < len(chars) else 2
        if char in spec.optional_short:
            return 1
    return 1


def reads_script_from_stdin(words: tuple[str, ...]) -> bool:
    """True for a shell that reads its script from stdin (`bash`, `sh -s`, not `sh file`, not `-c`)."""
    if not words or posixpath.basename(words[0]) not in SHELLS:
        return False
    i, from_stdin = 1, False
    while i < len(words):
        word = words[i]
        if word in ("-", "--"):
            return i + 1 >= len(words) or from_stdin
        if word in ("--rcfile", "--init-file"):
            i += 2
            continue
        if word.startswith("--"):
            i += 1
            continue
        if word[:1] in "-+" and len(word) > 1:
            if "c" in word[1:] and word[0] == "-":
                return False
            from_stdin = from_stdin or "s" in word[1:]
            i += 2 if word[-1] in "oO" else 1
            continue
        return from_stdin  # a script file (or, with -s, positional parameters)
    return True


def echoed_text(words: tuple[str, ...]) -> str | None:
    """The text `echo ...`/`printf FORMAT [ARGS]` writes, with backslash escapes decoded
    (bash's `echo -e`, dash's plain `echo` and printf all decode them)."""
    name = posixpath.basename(words[0]) if words else ""
    if name == "echo":
        args = list(words[1:])
        while args and re.fullmatch(r"-[neE]+", args[0]):
            args.pop(0)
        return decode_escapes(" ".join(args)) + "\n"
    if name == "printf" and len(words) >= 2:
        if len(words) == 2:
            return decode_escapes(words[1].replace("%%", "%"))
        return "\n".join(words[2:]) + "\n"
    return None


def _shell_c(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`sh -c 'STRING'` (also `-ec`, `-lc`, `-o pipefail -c`): the string is a script."""
    i, has_c = 1, False
    while i < len(words):
        word = words[i]
        if word in ("-", "--"):
            i += 1
            break
        if word in ("--rcfile", "--init-file"):
            i += 2
        elif word.startswith("--"):
            i += 1
        elif word[:1] in "-+" and len(word) > 1:
            has_c = has_c or (word[0] == "-" and "c" in word[1:])
            i += 2 if word[-1] in "oO" else 1
        else:
            break
    if has_c and i < len(words):
        return (Inner(f"{name} -c", script=words[i]),)
    return ()


def _env(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`env` with `-S STRING` splits the string into a command; otherwise a plain wrapper."""
    for i, word in enumerate(words[1:], start=1):
        if word == "--split-string" and i + 1 < len(words):
            return (Inner("env -S", script=" ".join(words[i + 1:])),)
        if word.startswith("--split-string="):
            return (Inner("env -S", script=" ".join((word.split("=", 1)[1],) + words[i + 1:])),)
        cluster = re.fullmatch(r"-[iv0]*S(.*)", word, re.DOTALL)  # -S, -iS, -S'cmd'
        if cluster and cluster[1]:
            return (Inner("env -S", script=" ".join((cluster[1],) + words[i + 1:])),)
        if cluster and i + 1 < len(words):
            return (Inner("env -S", script=" ".join(words[i + 1:])),)
        if not word.startswith("-") and not _ASSIGNMENT.match(word):
            break
    words = tuple(w for w in words if w != "-")  # a lone `-` is env's old spelling of `-i`
    start = command_start(words, _SPECS["env"])
    return (Inner(name, words=words[start:]),) if start is not None else ()


def _eval(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    return (Inner(name, script=" ".join(words[1:])),) if len(words) > 1 else ()


def _su(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`su [user] -c STRING`: the string is run by the user's shell."""
    for i, word in enumerate(words[1:], start=1):
        if word.startswith("--command="):
            return (Inner("su -c", script=word.split("=", 1)[1]),)
        is_c = word == "--command" or (re.fullmatch(r"-[a-zA-Z]*c", word) is not None)
        if is_c and i + 1 < len(words):
            return (Inner("su -c", script=words[i + 1]),)
    return ()


def _find(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`find ... -exec CMD {} ;` (also -execdir, -ok, -okdir): each CMD runs per file."""
    found: list[Inner] = []
    i = 1
    while i < len(words):
        if words[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            action, end = words[i], i + 1
            while end < len(words) and words[end] != ";" and not (
                    words[end] == "+" and words[end - 1] == "{}"):
                end += 1
            if end > i + 1:
                found.append(Inner(f"find {action}", words=words[i + 1:end]))
            i = end
        i += 1
    return tuple(found)


def _watch(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`watch [-n S] CMD ARGS`: the words are joined and run by `sh -c` (unless -x)."""
    spec = _Spec("nqs", frozenset({"--interval", "--equexit", "--shotsdir"}))
    start = command_start(words, spec)
    if start is None:
        return ()
    if any(w in ("-x", "--exec") or re.fullmatch(r"-[a-wyz]*x[a-z]*", w) for w in words[1:start]):
        return (Inner(name, words=words[start:]),)
    return (Inner(name, script=" ".join(words[start:])),)


def _trap(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`trap 'CMDS' SIGNAL...`: the string runs when a signal (or EXIT) arrives."""
    args = list(words[1:])
    if args[:1] == ["--"]:
        args.pop(0)
    if len(args) >= 2 and args[0] not in ("-", "") and not args[0].startswith("-"):
        return (Inner(name, script=args[0]),)
    return ()


def _alias(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`alias x='CMDS'`: what an alias expands to is checked as if it were run."""
    return tuple(Inner(name, script=w.split("=", 1)[1]) for w in words[1:] if "=" in w)


def _busybox(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    if len(words) > 1 and not words[1].startswith("-"):
        return (Inner(name, words=words[1:]),)
    return ()
