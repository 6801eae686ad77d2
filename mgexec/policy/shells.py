"""Shells named in the line: the script of `sh -c 'STRING'` (any shell, fish's `--command`,
PowerShell's `-Command`), and which shells read it in a dialect other than bash's."""

from __future__ import annotations

import re

from mgexec.policy.wrapper_specs import Inner


def shell_c(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`sh -c 'STRING'` (also `-ec`, `-lc`, `-o pipefail -c`, fish's `--command=STRING` and
    `-C`/`--init-command`): the string is a script."""
    i, has_c, found = 1, False, []
    while i < len(words):
        word = words[i]
        option, eq, value = word.partition("=")
        if word in ("-", "--"):
            i += 1
            break
        if option in ("--command", "--init-command", "-C") and name == "fish" or (
                option == "--command" and name != "fish"):
            script = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            found.append(Inner(f"{name} -c", script=script))
            i += 1 if eq else 2
        elif word in ("--rcfile", "--init-file"):
            i += 2
        elif word.startswith("--"):
            i += 1
        elif word[:1] in "-+" and len(word) > 1:
            has_c = has_c or (word[0] == "-" and "c" in word[1:])
            i += 2 if word[-1] in "oO" else 1
        else:
            break
    if has_c and i < len(words):
        found.append(Inner(f"{name} -c", script=words[i]))
    if name in _OWN_DIALECT:  # judged on what a bash reading finds; an allow list cannot vouch
        why = f"`{name}` reads the script in its own dialect, which the policy reads as bash's"
        found = [Inner(f.label, script=f.script, unreadable=why) for f in found]
    return tuple(found)


_OWN_DIALECT = frozenset({"fish", "nu", "elvish", "xonsh", "csh", "tcsh"})


_PWSH_SCRIPT = re.compile(r"-(c|co|com|comm|comma|comman|command|commandwithargs|cwa)", re.I)
_PWSH_ENCODED = re.compile(r"-(e|ec|en|enc|enco|encod|encode|encoded|encodedc\w*)", re.I)


def pwsh(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """PowerShell's `-Command STRING` (any case, any prefix); `-EncodedCommand` is base64."""
    for i, word in enumerate(words[1:], start=1):
        if _PWSH_SCRIPT.fullmatch(word) and i + 1 < len(words):
            return (Inner(f"{name} -Command", script=" ".join(words[i + 1:]), unreadable=(
                f"`{name}` reads the script in its own dialect, which the policy reads as "
                "bash's")),)
        if _PWSH_ENCODED.fullmatch(word):
            return (Inner(f"{name} -EncodedCommand", unreadable=(
                "`-EncodedCommand` runs base64-encoded text the line does not show")),)
        if not word.startswith("-"):
            return ()
    return ()
