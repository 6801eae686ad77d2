"""Programs that run commands read from stdin, and the shell script those commands make: a shell
or `at` (the text itself), `crontab -` (each entry's command), `ed` and `ex`/`vim -e` (their `!`
commands). The policy judges the script when the line shows the text fed in."""

from __future__ import annotations

import re

from mgexec.policy.programs_text import VIMS, ex_commands
from mgexec.policy.wrappers import command_name, reads_script_from_stdin


def stdin_script(words: tuple[str, ...], text: str) -> str | None:
    """The shell script that `words` runs when `text` is its stdin; None if it runs none."""
    if reads_script_from_stdin(words):
        return text
    name = command_name(words[0]) if words else ""
    operands = [w for k, w in enumerate(words[1:], start=1) if (not w.startswith("-") or w == "-")
                and words[k - 1] != "-u"]  # `crontab -u USER -`
    options = [w for w in words[1:] if w.startswith("-") and w != "-"]
    if name == "crontab" and operands in ([], ["-"]) and not any(
            re.match(r"-[a-zA-Z]*[lre]", o) for o in options):
        return "\n".join(_cron_command(line) for line in text.split("\n"))
    if name in ("ed", "red"):
        return "\n".join(m["cmd"] for m in re.finditer(
            r"(?m)^\s*[0-9,.$;'a-z+-]*\s*(?:[rwe]\s*)?!(?P<cmd>.*)$", text))
    if name == "ex" or name in VIMS and any(re.fullmatch(r"-[a-zA-Z]*[eE][a-zA-Z]*", o)
                                            for o in options):
        return "\n".join(inner.script or "" for line in text.split("\n")
                         for inner in ex_commands(name, line))
    return None


def _cron_command(line: str) -> str:
    """The command of one crontab entry (`m h dom mon dow CMD`, `@daily CMD`); `%` starts the
    command's stdin."""
    line = line.strip()
    if not line or line.startswith("#") or re.match(r"[A-Za-z_][A-Za-z0-9_]*\s*=", line):
        return ""
    fields = line.split(None, 1 if line.startswith("@") else 5)
    command = fields[-1] if len(fields) > (1 if line.startswith("@") else 5) else ""
    return re.split(r"(?<!\\)%", command, maxsplit=1)[0]
