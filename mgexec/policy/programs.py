"""Programs that run a command named in their options, config or environment (git's `!alias` and
core.sshCommand, tar's --to-command, rsync -e, ssh's ProxyCommand, GIT_SSH_COMMAND=...): each
table says where that command is and how it is run, so the policy judges it like any other."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from mgexec.policy import launchers, programs_text
from mgexec.policy.gitconfig import config_commands, git_commands
from mgexec.policy.globalopts import cargo_config
from mgexec.policy.wrapper_specs import Inner

# Variables whose value is a command line some program runs through a shell (git, ssh, less,
# editors, rsync). A line that sets one is judged as if it ran that command.
_SHELL_VARIABLES = frozenset({
    "GIT_SSH_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_PAGER", "PAGER", "MANPAGER", "GIT_EDITOR",
    "EDITOR", "VISUAL", "GIT_SEQUENCE_EDITOR", "GIT_PROXY_COMMAND", "RSYNC_RSH", "BROWSER",
    "FCEDIT", "SYSTEMD_PAGER", "PROMPT_COMMAND", "LESSOPEN", "LESSCLOSE"})
# Variables whose value is a program run directly (cargo's runners split it into words).
_PROGRAM_VARIABLES = frozenset({"GIT_SSH", "GIT_ASKPASS", "SSH_ASKPASS", "SUDO_ASKPASS",
                                "CVS_RSH", "SVN_SSH", "npm_config_script_shell",
                                "NPM_CONFIG_SCRIPT_SHELL", "npm_config_shell"})
_CARGO_VARIABLES = re.compile(r"RUSTC(_WRAPPER|_WORKSPACE_WRAPPER)?|RUSTDOC|CARGO_BUILD_RUSTC"
                              r"(_WRAPPER|_WORKSPACE_WRAPPER)?|CARGO_BUILD_RUSTDOC|"
                              r"CARGO_TARGET_\w+_(RUNNER|LINKER)|CARGO_HOST_LINKER")
# Variables that make a program read commands from files the line does not show.
_FILE_VARIABLES = {**dict.fromkeys(("GIT_EXEC_PATH", "GIT_TEMPLATE_DIR", "GIT_CONFIG_GLOBAL",
                                     "GIT_CONFIG_SYSTEM", "GIT_CONFIG"), "git"),
                   "BASH_ENV": "bash", "ENV": "the shell", "LD_PRELOAD": "every program",
                   "LD_AUDIT": "every program"}
# Variables holding a program's options (`TAR_OPTIONS='--to-command=…'`, `GOFLAGS=-toolexec=…`).
_OPTION_VARIABLES = {"TAR_OPTIONS": "tar", "GOFLAGS": "go"}
# Prompt strings bash expands (command substitution included) when it prints them: PS4 for
# every command `set -x` traces.
_PROMPT_VARIABLES = frozenset({"PS0", "PS1", "PS2", "PS3", "PS4"})
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\+?=(.*)", re.DOTALL)
_DECLARERS = frozenset({"export", "declare", "typeset", "local", "readonly"})


def assigned_commands(assignments: tuple[str, ...]) -> tuple[Inner, ...]:
    """Commands named by `NAME=VALUE` assignments (`PAGER='x'`, `GIT_SSH_COMMAND='ssh -i k'`)."""
    if not assignments:
        return ()
    found: list[Inner] = []
    pairs = [m.groups() for m in map(_ASSIGNMENT.fullmatch, assignments) if m]
    for name, value in pairs:
        if name in _SHELL_VARIABLES and value:
            found.append(Inner(f"{name}=", script=value.lstrip("|")))
        elif name in _PROGRAM_VARIABLES and value:
            found.append(Inner(f"{name}=", words=(value,)))
        elif name in _PROMPT_VARIABLES and ("$(" in value or "`" in value):
            found.append(Inner(f"{name}=", script=": " + value))
        elif _CARGO_VARIABLES.fullmatch(name) and value:
            found.append(Inner(f"{name}=", script=value))
        elif name in _FILE_VARIABLES:
            found.append(Inner(f"{name}=", unreadable=(
                f"`{name}` makes {_FILE_VARIABLES[name]} run commands from files the line does "
                "not show")))
        elif name in _OPTION_VARIABLES:
            found.extend(_options_variable(_OPTION_VARIABLES[name], value))
    found.extend(config_commands("GIT_CONFIG_*=", _git_config_pairs(dict(pairs))))
    return tuple(found)


def _options_variable(program: str, value: str) -> tuple[Inner, ...]:
    try:
        words = tuple(shlex.split(value))
    except ValueError:
        words = tuple(value.split())
    return PROGRAMS[program](program, (program, *words)) if words else ()


def _git_config_pairs(variables: dict[str, str]) -> list[tuple[str, str]]:
    """Config set through the environment: GIT_CONFIG_KEY_n/VALUE_n and GIT_CONFIG_PARAMETERS."""
    pairs = [(variables[key], variables.get("GIT_CONFIG_VALUE_" + key[15:], ""))
             for key in variables if key.startswith("GIT_CONFIG_KEY_")]
    quoted = variables.get("GIT_CONFIG_PARAMETERS", "")
    pairs += re.findall(r"'([^'=]*)'='([^']*)'", quoted)  # git 2.31+: 'key'='value'
    pairs += re.findall(r"'([A-Za-z][^'=]*)=([^']*)'", quoted)  # older: 'key=value'

    return pairs


def _declared(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`export PAGER='...'`, `declare -x EDITOR=...`: the same variables, set for later commands."""
    return (assigned_commands(tuple(w for w in words[1:] if not w.startswith("-")))
            + _subscripts(name, words))


_SUBSCRIPT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\[.*(\$\(|`).*\]", re.DOTALL)


def _subscripts(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """bash evaluates array subscripts in the names builtins are given (`unset 'a[$(cmd)]'`,
    `printf -v`, `read`, `test -v`, `declare`) and in `let`'s expressions, running any command
    substitution inside them, even from single-quoted text."""
    return tuple(Inner(f"{name} a[…]", script=": " + word) for word in words[1:]
                 if ("$(" in word or "`" in word) and (name == "let" or _SUBSCRIPT.match(word)))


def _git(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    return git_commands(words)


# ---- tar ----------------------------------------------------------------------------------
_TAR_SHORT_ARGS = "bCfFgHIKLNTVX"
_TAR_COMMANDS = {  # long option -> (shortest accepted prefix, how its value runs)
    "--to-command": "--to-c", "--use-compress-program": "--use", "--info-script": "--inf",
    "--new-volume-script": "--new-", "--rsh-command": "--rsh", "--rmt-command": "--rmt",
    "--checkpoint-action": "--checkpoint-"}


def _tar(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """tar runs `--to-command`, `-I`/`--use-compress-program`, `-F`/`--info-script`,
    `--checkpoint-action=exec=` and `--rsh-command` values through `sh -c`."""
    found: list[Inner] = []
    for option, value in _tar_options(words):
        if option == "--checkpoint-action":
            if value.startswith("exec="):
                found.append(Inner("tar --checkpoint-action=exec", script=value[5:]))
        elif option in ("I", "F") or option in _TAR_COMMANDS:
            label = {"I": "--use-compress-program", "F": "--info-script"}.get(option, option)
            found.append(Inner(f"tar {label}", script=value))
    return tuple(found)


def _tar_options(words: tuple[str, ...]) -> list[tuple[str, str]]:
    """(option, value) for tar's value-taking options, in any of its three styles: `-I prog`,
    `-Iprog`, `--use-compress-program[=]prog`, and the old `tar cIf prog out.tar`."""
    found: list[tuple[str, str]] = []
    rest = list(words[1:])
    if rest and not rest[0].startswith("-"):  # old style: letters first, their values after
        letters = rest.pop(0)
        for letter in letters:
            if letter in _TAR_SHORT_ARGS and rest:
                found.append((letter, rest.pop(0)))
    while rest:
        word = rest.pop(0)
        if word == "--":
            break
        if word.startswith("--"):
            option, eq, value = word.partition("=")
            full = next((o for o, p in _TAR_COMMANDS.items() if option.startswith(p)
                         and o.startswith(option)), None)
            if full and not eq and rest:
                value = rest.pop(0)
            if full:
                found.append((full, value))
        elif word.startswith("-"):
            found.extend(_short_values(word[1:], _TAR_SHORT_ARGS, rest))
    return found


def _short_values(cluster: str, takes_value: str, rest: list[str]) -> list[tuple[str, str]]:
    """Values of a short-option cluster (`-xzfI prog` or `-Iprog`); pops used words off `rest`."""
    for k, letter in enumerate(cluster):
        if letter in takes_value:
            value = cluster[k + 1:] or (rest.pop(0) if rest else "")
            return [(letter, value)]
    return []


# ---- rsync, ssh, scp, sftp, make -------------------------------------------------------------
def _rsync(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """rsync runs `-e`/`--rsh` as the remote shell, on this machine."""
    found: list[Inner] = []
    rest = list(words[1:])
    while rest:
        word = rest.pop(0)
        if word == "--":
            break
        option, eq, value = word.partition("=")
        if word.startswith("--") and len(option) >= 4 and "--rsh".startswith(option):
            value = value if eq else (rest.pop(0) if rest else "")
            found.append(Inner("rsync -e", script=value))
        elif word.startswith("-") and not word.startswith("--"):
            found += [Inner("rsync -e", script=v) for o, v in _short_values(word[1:], "eBfTM@", rest)
                      if o == "e"]
    return tuple(found)


_SSH_SHORT_ARGS = "BbcDEeFIiJLlmOopQRSWw"
_SSH_COMMAND_KEYS = {"proxycommand": "ProxyCommand", "localcommand": "LocalCommand",
                     "knownhostscommand": "KnownHostsCommand"}


def _ssh(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`-o ProxyCommand=CMD` (also LocalCommand, KnownHostsCommand) runs CMD through the user's
    shell; scp's and sftp's `-S PROGRAM` and sftp's `-D COMMAND` run a program."""
    found: list[Inner] = []
    rest, started = list(words[1:]), False
    while rest:
        word = rest.pop(0)
        if word == "--" or not word.startswith("-") or word == "-":
            if started or name != "ssh":  # ssh reads options once more after the host
                break
            started = True
            continue
        for option, value in _short_values(word[1:], _SSH_SHORT_ARGS, rest):
            found.extend(_ssh_option(name, option, value))
    return tuple(found)


def _ssh_option(name: str, option: str, value: str) -> list[Inner]:
    if option == "o":
        parts = re.split(r"\s*=\s*|\s+", value.strip(), maxsplit=1)
        key, command = parts[0].lower(), parts[1] if len(parts) > 1 else ""
        if key in _SSH_COMMAND_KEYS and command.lower() != "none":
            return [Inner(f"{name} -o {_SSH_COMMAND_KEYS[key]}", script=command)]
    elif option == "S" and name in ("scp", "sftp"):
        return [Inner(f"{name} -S", words=(value,))]
    elif option == "D" and name == "sftp":
        return [Inner(f"{name} -D", script=value)]
    return []


def _make(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`make SHELL=PROG` runs every recipe with PROG; `--eval=TEXT` adds makefile text."""
    found: list[Inner] = []
    for word in words[1:]:
        if word.startswith(("SHELL=", "MAKESHELL=")):
            found.append(Inner(f"make {word.split('=', 1)[0]}", script=word.split("=", 1)[1]))
        elif word.startswith(("--eval", "-E")):
            found.append(Inner("make --eval", unreadable=(
                "`make --eval` adds makefile rules whose recipes the policy does not read")))
    return tuple(found)


# ---- cargo ------------------------------------------------------------------------------------
_CARGO_KEYS = re.compile(r"target\..+\.(runner|linker|rustc-wrapper)|host\.linker|"
                         r"build\.(rustc|rustc-wrapper|rustc-workspace-wrapper|rustdoc)")


def _cargo(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`cargo --config 'target.X.runner="CMD"'` (also linker, rustc-wrapper) runs CMD; a config
    file given as `--config PATH` may hold such keys."""
    found: list[Inner] = []
    for key, value in cargo_config(words):
        if value is None and not key.startswith(("alias.", "net.", "http.", "term.")):
            found.append(Inner("cargo --config", unreadable=(
                f"`cargo --config {key}` reads settings (runners, wrappers) from a file the "
                "line does not show")))
        elif _CARGO_KEYS.fullmatch(key):
            command = value if isinstance(value, list) else str(value).split()
            found.append(Inner(f"cargo --config {key}", words=tuple(str(v) for v in command)))
    return tuple(found)


PROGRAMS: dict[str, Callable[[str, tuple[str, ...]], tuple[Inner, ...]]] = {
    "git": _git, "tar": _tar, "gtar": _tar, "bsdtar": _tar, "rsync": _rsync,
    "ssh": _ssh, "scp": _ssh, "sftp": _ssh, "autossh": _ssh,
    "make": _make, "gmake": _make, "cargo": _cargo, "go": launchers.LAUNCHERS["go"],
    **{declarer: _declared for declarer in _DECLARERS},
    **dict.fromkeys(("let", "unset", "printf", "test", "[", "read", "wait"), _subscripts),
    **dict.fromkeys(programs_text.AWKS, programs_text.awk),
    **dict.fromkeys(programs_text.SEDS, programs_text.sed),
    **dict.fromkeys(programs_text.VIMS, programs_text.vim),
}
