"""Which shell dialect reads a script: bash for the line itself, and for a script the line hands to
another shell, that shell's own (`sh` may be dash, bash in POSIX mode or busybox ash).
"""

from __future__ import annotations

import itertools
import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """How one shell reads a script, as far as the guard rails need to know.

    `bash`: bash's own syntax is read as bash reads it ([[ ]], (( )), $'', $[ ], <<<, &>, |&,
    <( ), arrays, `function`, `;&`, brace expansion, recursive arithmetic); otherwise those
    characters mean what dash makes of them. `posix`: a `'` inside "${x:-…}" is a plain
    character (POSIX mode, dash). `portable`: the script is a `sh` script whose shell is not
    known, so every construct the candidate shells read differently is refused, by name.
    """

    name: str
    bash: bool
    posix: bool
    portable: bool = False


BASH = Dialect("bash", bash=True, posix=False)
BASH_POSIX = Dialect("bash in POSIX mode (bash as sh)", bash=True, posix=True)
DASH = Dialect("dash", bash=False, posix=True)
# `sh` is dash on Debian and Ubuntu, bash in POSIX mode on Fedora and macOS, busybox ash on Alpine.
# Its script is read twice: as dash and as bash-as-sh, refusing every construct on which they
# (or ash, which mixes their extensions) would split apart, so the two readings differ only in
# word expansion (brace expansion, recursive arithmetic) and every command either finds is judged.
SH_AS_DASH = Dialect("dash (as `sh` is on Debian and Ubuntu)", bash=False, posix=True, portable=True)
SH_AS_BASH = Dialect("bash in POSIX mode (as `sh` is on Fedora and macOS)", bash=True, posix=True,
                     portable=True)
SH_READINGS = (SH_AS_DASH, SH_AS_BASH)

_POSIX_OPTIONS = frozenset({"--posix"})
_POSIX_SWITCH = re.compile(r"posix|POSIXLY_CORRECT")
_HISTORY_FLAG = re.compile(r"-[A-Za-z]*H[A-Za-z]*")


def shell_dialects(words: tuple[str, ...]) -> tuple[Dialect, ...]:
    """The dialects in which the shell `words[0]` (with its options) may read a script."""
    name = posixpath.basename(words[0]) if words else ""
    if name == "bash":
        return (BASH_POSIX,) if _posix_mode(words) else (BASH,)
    if name == "dash":
        return (DASH,)
    return SH_READINGS  # sh, ash, ksh, zsh, ...: read as a POSIX sh script


def wrapper_dialects(label: str, words: tuple[str, ...],
                     current: tuple[Dialect, ...]) -> tuple[Dialect, ...]:
    """Dialects for a script run by the wrapper labelled `label` (see wrappers.Inner)."""
    head = label.split(" ", 1)[0]
    if head == "su":  # the user's login shell: bash, or some sh
        return SH_READINGS + (BASH,)
    if head == "watch":  # `watch` hands its command to `sh -c`
        return SH_READINGS
    if label.endswith(" -c") or "reading" in label or label.endswith(("<<", "<<-", "<<<")):
        return shell_dialects(words)
    return current  # eval, trap, alias, env -S: the shell that is already reading


def with_mode_switches(text: str, dialects: tuple[Dialect, ...]) -> tuple[Dialect, ...]:
    """A bash script that may turn POSIX mode on part-way (`set -o posix`, `POSIXLY_CORRECT=1`)
    is read both ways, since bash reads each line after the switch in POSIX mode."""
    if BASH in dialects and BASH_POSIX not in dialects and _POSIX_SWITCH.search(text):
        return dialects + (BASH_POSIX,)
    return dialects


def reading_changed_by(words: tuple[str, ...], assignments: tuple[str, ...]) -> str | None:
    """Why a command would make bash read the rest of its script in a way mgexec does not model
    (history expansion, `shopt -u extquote`, a compatibility level), or None."""
    if any(w.startswith("BASH_COMPAT=") for w in (*assignments, *words[1:])):
        return "`BASH_COMPAT` sets a compatibility level, which changes how bash reads the lines after it"
    name = posixpath.basename(words[0]) if words else ""
    options = list(itertools.takewhile(lambda w: w != "--", words[1:]))
    if name in ("set", "bash") and (any(_HISTORY_FLAG.fullmatch(w) for w in options)
                                    or "histexpand" in options):
        return ("history expansion (`set -H`) rewrites later lines (`!!`, `^old^new`) before bash "
                "reads them, so what runs is not what the line says")
    if name == "shopt" and any(w == "extquote" or w.startswith("compat") or w == "histexpand"
                               for w in options):
        return (f"`shopt {' '.join(options)}` changes how bash reads quotes or the lines after it; "
                "leave the option at its default")
    return None


def _posix_mode(words: tuple[str, ...]) -> bool:
    for first, second in zip(words[1:], words[2:] + ("",)):
        if first in _POSIX_OPTIONS or (first[:1] in "-+" and first.endswith("o") and second == "posix"):
            return True
        if not first.startswith(("-", "+")):
            return False
    return False


# How to write each construct the candidate `sh` shells disagree on, so that all read it alike.
PORTABLE_HINTS = {
    "$'…'": "dash has no ANSI-C quotes (`$'\\t'` is `$` and `\\t` to it); write `\"$(printf '\\t')\"`",
    '$"…"': 'write `"…"`',
    "(( … ))": "it is arithmetic to bash but nested subshells to dash; write `[ $(( … )) -ne 0 ]`, "
               "or `( ( … ) )` with a space for subshells",
    "$(( … ) )": "bash reads it as a command substitution holding a subshell, dash as unclosed "
                 "arithmetic; write `$( ( … ) )` with a space",
    "[[ … ]]": "dash runs `[[` as a command name, so `;`, `&&`, `||` and newlines inside it end the "
               "test there; write `[ … ]`",
    "$[ … ]": "write `$(( … ))`",
    "<<<": "write `printf '%s\\n' WORD | …`",
    "&>": "dash runs the command in the background and redirects nothing; write `> FILE 2>&1`",
    "|&": "write `2>&1 |`",
    "<( … )": "write the output to a temporary file first",
    "name=( … )": "sh has no arrays; use `set -- …`",
    "function NAME": "write `NAME() { …; }`",
    "select": "write a `while read` loop",
    "coproc": "run the command in the background with `&` and talk to it through a fifo",
    ";& / ;;&": "repeat the commands in each `case` branch",
    "'…' inside \"${x:-…}\"": "dash and bash-as-sh keep the quote, bash removes it; quote outside "
                              "the braces or set a variable first",
}
