"""Tools that run a command given as an argument in their own way: package runners (`npx -c`,
`npm exec --`), finders (`fd -x`, `rg --pre`), `man -P`, terminal multiplexers (`tmux new 'cmd'`,
`tmux send-keys`, `screen -dm cmd`)."""

from __future__ import annotations

import re
import shlex

from mgexec.policy.globalopts import canonical_forms
from mgexec.policy.wrapper_specs import Inner, Spec, command_start

_TYPED = "keys typed into a running shell join whatever input it already holds"
_PACKAGE_RUN = Spec("pw", frozenset({"--package", "--workspace"}))
_RUN_VERBS = {"npm": ("exec", "x"), "pnpm": ("exec", "dlx"), "yarn": ("exec", "dlx"),
              "bun": ("x",)}


def package_runner(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`npx CMD`, `npx -c 'STRING'`, `npm exec -- CMD`, `pnpm dlx CMD`, `bunx CMD`; and
    `--script-shell PROG`, the program that runs package scripts."""
    shells = tuple(Inner(f"{name} --script-shell", words=(value,))
                   for option, value in _option_values(words, ("--script-shell", "--shell"))
                   if value)
    return shells + _package_command(name, words)


def _option_values(words: tuple[str, ...], options: tuple[str, ...]) -> list[tuple[str, str]]:
    found = []
    for i, word in enumerate(words):
        option, eq, value = word.partition("=")
        if option in options:
            found.append((option, value if eq else (words[i + 1] if i + 1 < len(words) else "")))
    return found


def _package_command(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    forms = canonical_forms(words)
    words = forms[-1] if forms else words  # `npm --prefix d exec` is `npm exec`
    if name == "bun" and words[1:2] == ("exec",):  # `bun exec 'CMD'`: bun's shell runs it
        return (Inner("bun exec", script=" ".join(words[2:])),) if len(words) > 2 else ()
    if name in _RUN_VERBS:
        if len(words) < 2 or words[1] not in _RUN_VERBS[name]:
            return ()
        name, words = f"{name} {words[1]}", words[1:]
    for i, word in enumerate(words[1:], start=1):
        option, eq, value = word.partition("=")
        if option in ("-c", "--call"):
            script = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            return (Inner(f"{name} -c", script=script),)
        if word == "--" or not word.startswith("-"):
            break
    start = command_start(words, _PACKAGE_RUN)
    return (Inner(name, words=words[start:]),) if start is not None else ()


def fd(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`fd PATTERN -x CMD ARGS [;]` runs CMD for each file found (`-X` once for all)."""
    found: list[Inner] = []
    for i, word in enumerate(words):
        if word in ("-x", "--exec", "-X", "--exec-batch"):
            end = words.index(";", i + 1) if ";" in words[i + 1:] else len(words)
            if end > i + 1:
                found.append(Inner(f"{name} {word}", words=words[i + 1:end]))
    return tuple(found)


def ripgrep(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`rg --pre PROGRAM` runs PROGRAM on every file it searches."""
    found: list[Inner] = []
    for i, word in enumerate(words):
        if word == "--pre" and i + 1 < len(words):
            found.append(Inner("rg --pre", words=(words[i + 1],)))
        elif word.startswith("--pre="):
            found.append(Inner("rg --pre", words=(word[6:],)))
    return tuple(found)


def man(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`man -P PAGER` / `--pager=PAGER` runs the pager, split into words as a shell would (man-db
    does not hand it to a shell, so `;` is just a character there)."""
    for word in words[1:]:  # `man -HBROWSER`/`--html=BROWSER` runs the browser through a shell
        if re.fullmatch(r"-H.+|--html=.+", word, re.DOTALL):
            return (Inner("man -H", script=word[2:] if word.startswith("-H") else word[7:]),)
    for i, word in enumerate(words):
        pager = None
        if word in ("-P", "--pager") and i + 1 < len(words):
            pager = words[i + 1]
        elif word.startswith(("--pager=", "-P")) and word not in ("-P", "--pager="):
            pager = word.split("=", 1)[1] if word.startswith("--") else word[2:]
        if pager is not None:
            try:
                return (Inner("man -P", words=tuple(shlex.split(pager))),) if pager.strip() else ()
            except ValueError:
                return (Inner("man -P", script=pager),)
    return ()


# tmux commands whose last arguments are a shell command, and their options taking a value.
_TMUX_SHELL_COMMANDS = {
    "new-session": "cefFnstxy", "new": "cefFnstxy", "new-window": "ceFnt", "neww": "ceFnt",
    "split-window": "ceFlpt", "splitw": "ceFlpt", "respawn-pane": "cet", "respawnp": "cet",
    "respawn-window": "cet", "respawnw": "cet", "run-shell": "cdt", "run": "cdt",
    "display-popup": "bcdehsStTwxy", "popup": "bcdehsStTwxy", "pipe-pane": "t", "pipep": "t",
    "if-shell": "t", "if": "t"}
_TMUX_KEY = re.compile(r"Enter|KPEnter|Escape|Tab|BTab|Space|BSpace|Up|Down|Left|Right|"
                       r"[CMS]-.+|F\d+|Home|End|PageUp|PageDown|PPage|NPage")


def tmux(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """tmux runs `new-session 'CMD'`, `run-shell CMD`, ... through a shell, `-c CMD` too, and
    `send-keys` types keys into a shell."""
    found: list[Inner] = []
    i = 1
    while i < len(words) and words[i].startswith("-"):
        if words[i] == "-c" and i + 1 < len(words):
            found.append(Inner("tmux -c", script=words[i + 1]))
        i += 2 if words[i] in ("-c", "-f", "-L", "-S", "-T") else 1
    segment: list[str] = []
    for word in list(words[i:]) + [";"]:
        if word in (";", "\\;"):
            found += _tmux_command(segment)
            segment = []
        else:
            segment.append(word)
    return tuple(found)


def _tmux_command(args: list[str]) -> list[Inner]:
    if not args:
        return []
    verb, rest = args[0], args[1:]
    if verb in ("send-keys", "send"):
        keys = _operands(rest, "NtcT")
        typed = " ".join(k for k in keys if not _TMUX_KEY.fullmatch(k))
        return [Inner(f"tmux {verb}", script=typed, unreadable=_TYPED)] if typed else []
    if verb not in _TMUX_SHELL_COMMANDS:
        return []
    operands = _operands(rest, _TMUX_SHELL_COMMANDS[verb])
    if verb in ("if-shell", "if"):  # `if-shell SHELL-COMMAND TMUX-COMMAND [TMUX-COMMAND]`
        return [Inner("tmux if-shell", script=operands[0])] if operands else []
    return [Inner(f"tmux {verb}", script=" ".join(operands))] if operands else []


def _operands(args: list[str], takes_value: str) -> list[str]:
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        if args[i] == "--":
            return args[i + 1:]
        cluster = args[i][1:]
        k = next((k for k, c in enumerate(cluster) if c in takes_value), None)
        i += 2 if k is not None and k == len(cluster) - 1 else 1
    return args[i:]


_SCREEN = Spec("cehpsStTX", frozenset(), stop_short="", stop_long=frozenset())


def screen(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`screen -dmS name CMD ARGS` runs CMD; `screen -X stuff 'TEXT'` types TEXT into a shell."""
    if "-X" in words:
        rest = words[words.index("-X") + 1:]
        if rest[:1] == ("stuff",) and len(rest) > 1:
            typed = re.sub(r"\\[nr]", "\n", " ".join(rest[1:]))  # screen reads `\n` as Enter
            return (Inner("screen -X stuff", script=typed, unreadable=_TYPED),)
        return ()
    if any(w in ("-ls", "-list", "-wipe", "-r", "-x", "-R", "-v") for w in words[1:]):
        return ()
    start = command_start(words, _SCREEN)
    return (Inner(name, words=words[start:]),) if start is not None else ()
