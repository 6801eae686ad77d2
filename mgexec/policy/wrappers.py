"""Commands that run another command (env, sudo, timeout, xargs, sh -c, eval, find -exec, ...):
where the inner command starts, so the policy checks it like any other command.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import shlex

from mgexec.policy import gitconfig, interpreters, launchers, programs, runners, shells
from mgexec.policy.shelllex import decode_escapes
from mgexec.policy.wrapper_specs import (SHELLS, SPECS, SUBCOMMAND_SPECS, Inner, Spec, command_start,
                                        abbreviates, command_starts, short_cluster)

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def inner_commands(words: tuple[str, ...],
                   assignments: tuple[str, ...] = ()) -> tuple[Inner, ...]:
    """The commands that `words` runs through a wrapper or a program's options (none if it is
    neither), and those named by variables it sets (`GIT_SSH_COMMAND=...`, `PAGER=...`)."""
    found = programs.assigned_commands(assignments)
    if not words:
        return found
    name = command_name(words[0])
    key = launchers.alias(name)  # `ld-linux-x86-64.so.2` reads as `ld.so`
    if key == "git":  # `X='…' git --config-env=core.pager=X log` reads X from this line
        return found + gitconfig.git_commands(words, dict(
            a.split("=", 1) for a in assignments if "=" in a))
    special = _SPECIAL.get(key) or programs.PROGRAMS.get(key) or launchers.LAUNCHERS.get(key)
    if special is not None:
        return found + special(name, words)
    found += interpreters.interpreter(name, words)  # `python -c 'os.system("…")'`
    if name in SHELLS:
        return found + shells.shell_c(name, words)
    spec = SPECS.get(key)
    if spec is None and len(words) > 1:
        spec = SUBCOMMAND_SPECS.get((name, words[1]))
        if spec is not None:
            name, words = f"{name} {words[1]}", words[1:]
    if spec is None:
        return found
    return found + tuple(Inner(name, words=words[start:]) for start in command_starts(words, spec))


def command_name(word: str) -> str:
    """The program a command word names, compared case-insensitively: on macOS's default file
    system `SUDO` and `/USR/BIN/Env` run sudo and env."""
    return posixpath.basename(word).lower()


# Commands that, given no command of their own, start an interactive shell that reads stdin.
_SHELL_STARTERS = frozenset({"chroot", "unshare", "nsenter", "newgrp", "script", "su", "runuser",
                             "run0", "sudo", "doas"})


_STDIN_FILES = frozenset({"/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})


def reads_script_from_stdin(words: tuple[str, ...]) -> bool:
    """True for a shell that reads its script from stdin (`bash`, `sh -s`, not `sh file`, not
    `-c`), for `at`/`batch`, and for a wrapper that starts a shell when given no command
    (`chroot /`, `unshare`, `sudo -s`, `su`)."""
    name = command_name(words[0]) if words else ""
    if name in ("at", "batch"):
        return not any(re.match(r"-[A-Za-z]*[fldrcl]", w) for w in words[1:])
    if name in _SHELL_STARTERS:
        if inner_commands(words) or (name in ("sudo", "doas") and not any(
                re.fullmatch(r"-[A-Za-z]*[si][A-Za-z]*|--shell|--login", w) for w in words[1:])):
            return False
        return name not in ("su", "runuser") or not any("c" in w for w in words[1:]
                                                         if w.startswith("-"))
    if name not in SHELLS:
        return False
    i, from_stdin = 1, False
    while i < len(words):
        word = words[i]
        if word in ("-", "--") or word in _STDIN_FILES:
            return i + 1 >= len(words) or from_stdin or word in _STDIN_FILES
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
    name = command_name(words[0]) if words else ""
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


def _env(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`env [-i] [-u NAME] [-C DIR] [A=1] CMD`; `-S STRING` splits the string into a command."""
    i, assigned = 1, []
    while i < len(words):
        word = words[i]
        split = _env_split_string(words, i)
        if split is not None:
            return programs.assigned_commands(tuple(assigned)) + _env("env -S", ("env",) + split)
        if word == "-" or (word.startswith("-") and word != "--" and not _ASSIGNMENT.match(word)):
            i += _option_words(word, SPECS["env"])
        elif word == "--" or _ASSIGNMENT.match(word):
            assigned += [word] if word != "--" else []
            i += 1
        else:
            break
    found = programs.assigned_commands(tuple(assigned))
    label = "env -S" if name == "env -S" else "env"
    return found + ((Inner(label, words=words[i:]),) if i < len(words) else ())


_ENV_ESCAPES = {"t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r"}


def env_split(text: str) -> tuple[str, ...]:
    """The words `env -S TEXT` runs, split as GNU env does: quotes, `\\_` (a separator, or a
    space inside double quotes), `\\t`, `\\c` (ends the string), `#` comments; `${NAME}`
    stays as written (its value is known only when the line runs)."""
    words: list[str] = []
    current: list[str] | None = None
    quote, k = "", 0
    while k < len(text):
        char = text[k]
        if quote == "'" and char == "'" or quote == '"' and char == '"':
            quote = ""
        elif not quote and char in "'\"":
            quote, current = char, current if current is not None else []
        elif char == "\\" and k + 1 < len(text) and quote != "'" or (
                quote == "'" and char == "\\" and text[k + 1:k + 2] in ("\\", "'")):
            escaped = text[k + 1]
            k += 1
            if escaped == "c" and not quote:
                break
            if escaped == "_" and not quote:
                words, current = _env_word_end(words, current), None
            else:
                current = (current or []) + [" " if escaped == "_" else
                                             _ENV_ESCAPES.get(escaped, escaped)]
        elif not quote and char.isspace():
            words, current = _env_word_end(words, current), None
        elif not quote and char == "#" and current is None:
            break
        else:
            current = (current or []) + [char]
        k += 1
    return tuple(_env_word_end(words, current))


def _env_word_end(words: list[str], current: list[str] | None) -> list[str]:
    return words + ["".join(current)] if current is not None else words


def _env_split_string(words: tuple[str, ...], i: int) -> tuple[str, ...] | None:
    """The words of `-S STRING`, `-S'STRING'`, `-iS STRING`, `--split-string[=]STRING` at `i`,
    followed by the words after it (env appends them to the split string's words)."""
    word = words[i]
    option, eq, value = word.partition("=")
    if word.startswith("--") and len(option) >= 4 and "--split-string".startswith(option):
        return _split_then(words, i, value if eq else None)
    cluster = re.fullmatch(r"-[iv0]*S(.*)", word, re.DOTALL)
    if cluster is None:
        return None
    return _split_then(words, i, cluster[1] or None)


def _split_then(words: tuple[str, ...], i: int, attached: str | None) -> tuple[str, ...]:
    if attached is not None:
        return env_split(attached) + words[i + 1:]
    return env_split(words[i + 1]) + words[i + 2:] if i + 1 < len(words) else ()


def _option_words(word: str, spec: Spec) -> int:
    """How many words one option takes (`-u NAME` 2, `-uNAME` 1, `--unset=NAME` 1)."""
    if word.startswith("--"):
        return 2 if word in spec.long_args or abbreviates(word, spec.long_args) else 1
    return short_cluster(word[1:], spec) or 1


def _eval(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    return (Inner(name, script=" ".join(words[1:])),) if len(words) > 1 else ()


def _su(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`su [user] -c STRING` (also `runuser`): the string is run by the user's shell."""
    commands = frozenset({"--command", "--session-command"})
    for i, word in enumerate(words[1:], start=1):
        option, eq, value = word.partition("=")
        is_long = option in commands or (option.startswith("--") and abbreviates(option, commands))
        if is_long and eq:
            return (Inner(f"{name} -c", script=value),)
        attached = re.fullmatch(r"-[lmpf]*c(.+)", word, re.DOTALL)  # `-c'CMD'`
        if attached:
            return (Inner(f"{name} -c", script=attached[1]),)
        is_c = is_long or (re.fullmatch(r"-[a-zA-Z]*c", word) is not None)
        if is_c and i + 1 < len(words):
            return (Inner(f"{name} -c", script=words[i + 1]),)
    if name == "runuser":  # `runuser -u USER -- CMD ARGS` runs words, not a string
        start = command_start(words, SPECS["runuser"])
        return (Inner(name, words=words[start:]),) if start is not None else ()
    return ()


def _sg(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`sg GROUP [-c] COMMAND`: the command is a string run by /bin/sh."""
    rest = [w for w in words[2:] if w not in ("-c", "--")]
    return (Inner(f"{name} -c", script=" ".join(rest)),) if rest else ()


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
    spec = Spec("nqs", frozenset({"--interval", "--equexit", "--shotsdir"}))
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


def _multicall(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`busybox CMD ARGS`, `toybox CMD ARGS`, `coreutils --coreutils-prog=CMD ARGS`."""
    args = words[1:]
    if args[:1] == ("--",):
        args = args[1:]
    if name == "coreutils" and args and args[0].startswith("--coreutils-prog="):
        return (Inner(name, words=(args[0].split("=", 1)[1],) + args[1:]),)
    if args and not args[0].startswith("-"):
        return (Inner(name, words=args),)
    return ()


def _flock(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`flock [opts] FILE CMD ARGS` or `flock [opts] FILE -c STRING` (run by `sh -c`)."""
    file = command_start(words, Spec("wE", frozenset({"--timeout", "--wait",
                                                      "--conflict-exit-code"})))
    if file is None or file + 1 >= len(words):
        return ()
    if words[file + 1] in ("-c", "--command"):  # flock compares this word exactly
        return (Inner(f"{name} -c", script=words[file + 2]),) if file + 2 < len(words) else ()
    return (Inner(name, words=words[file + 1:]),)


def _script(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`script [opts] -c STRING [FILE]`: the string is run by the user's shell."""
    for i, word in enumerate(words[1:], start=1):
        option, eq, value = word.partition("=")
        if word.startswith("--") and len(option) >= 4 and "--command".startswith(option):
            script = value if eq else (words[i + 1] if i + 1 < len(words) else None)
            return (Inner(f"{name} -c", script=script),) if script is not None else ()
        cluster = re.fullmatch(r"-[aefqkrtw]*c(.*)", word, re.DOTALL)
        if cluster:
            script = cluster[1] or (words[i + 1] if i + 1 < len(words) else None)
            return (Inner(f"{name} -c", script=script),) if script is not None else ()
    return ()


_PARALLEL = Spec("jNnSadIELlsC", frozenset({
    "--jobs", "--max-args", "--sshlogin", "--arg-file", "--delimiter", "--joblog", "--results",
    "--tmpdir", "--workdir", "--wd", "--timeout", "--max-lines", "--env", "--basefile",
    "--colsep", "--memfree", "--load", "--retries", "--delay", "--tag-string", "--halt",
    "--termseq", "--shebang-wrap"}))
_MAX_PARALLEL_ARGS = 16


def _parallel(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`parallel CMD ::: ARGS` runs `CMD ARG` through a shell for each ARG (with `{}` replaced);
    with no CMD, each ARG is itself a command line."""
    start = command_start(words, _PARALLEL)
    if start is None:
        return ()
    rest = words[start:]
    sep = next((k for k, w in enumerate(rest) if w in (":::", "::::", ":::+", "::::+")), len(rest))
    command = " ".join(rest[:sep])
    # Each `::: A B` group is one input source; parallel runs every combination of them.
    groups: list[list[str]] = []
    for word in rest[sep:]:
        if word in (":::", ":::+", "::::", "::::+"):
            groups.append([])
        elif groups:
            groups[-1].append(word)
    combos = [" ".join(c) for c in itertools.islice(itertools.product(*groups),
                                                    _MAX_PARALLEL_ARGS)] if groups else []
    if not command:
        return tuple(Inner(name, script=combo) for combo in combos)
    if not combos:
        return (Inner(name, script=command),)
    # parallel quotes each argument it puts into the command, so an argument stays one word.
    quoted = [" ".join(shlex.quote(a) for a in c) for c in itertools.islice(
        itertools.product(*groups), _MAX_PARALLEL_ARGS)]
    return tuple(Inner(name, script=command.replace("{}", arg) if "{}" in command
                       else f"{command} {arg}") for arg in quoted)


_SPECIAL = {"env": _env, "eval": _eval, "su": _su, "runuser": _su, "sg": _sg, "find": _find,
            "busybox": _multicall, "toybox": _multicall, "coreutils": _multicall,
            "watch": _watch, "trap": _trap, "alias": _alias, "flock": _flock, "script": _script,
            "parallel": _parallel, "sem": _parallel,
            **dict.fromkeys(("npx", "bunx", "npm", "pnpm", "yarn", "bun"), runners.package_runner),
            "fd": runners.fd, "fdfind": runners.fd, "rg": runners.ripgrep, "man": runners.man,
            "tmux": runners.tmux, "screen": runners.screen, "pwsh": shells.pwsh,
            "powershell": shells.pwsh, "pwsh-preview": shells.pwsh}
