"""Commands inside the little languages of awk (`system()`, `print | "cmd"`, `"cmd" | getline`),
sed (`e cmd`, `s///e`) and vim (`-c '!cmd'`, `+'r !cmd'`): found in a literal program text.
A command built from values known only when the program runs is marked as such."""

from __future__ import annotations

import re
from dataclasses import replace

from mgexec.policy.wrapper_specs import SHELLS, Inner

AWKS = frozenset({"awk", "gawk", "mawk", "nawk", "original-awk", "busybox-awk"})
SEDS = frozenset({"sed", "gsed"})
VIMS = frozenset({"vim", "vi", "nvim", "ex", "view", "gvim", "gview", "vimdiff", "evim"})
RUNTIME_VALUE = "${awk_value}"  # stands for text awk computes, so the rest can still be judged
_AWK_BUILT = "awk builds this command from values known only when the program runs"
_AWK_VALUE_OPTIONS = frozenset({"-v", "-F", "-l", "-i", "-W", "--assign", "--field-separator",
                                "--load", "--include"})
_AWK_TOKEN = re.compile(r'''(?P<str>"(?:[^"\\]|\\.)*")|(?P<comment>\#[^\n]*)|(?P<pipe>\|&?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\d+(?:\.\d*)?)|(?P<space>[ \t]+)
    |(?P<regex>/(?:[^/\\\n\[]|\\.|\[(?:[^\]\\]|\\.)*\])*/)|(?P<other>.|\n)''', re.VERBOSE | re.DOTALL)
# After these tokens a `/` divides; anywhere else it starts a regular expression.
_AWK_OPERANDS = frozenset({"word", "num", "str", "close"})
_AWK_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "/": "/", "a": "\a", "b": "\b",
                "f": "\f", "r": "\r", "v": "\v"}
_AWK_STOP = frozenset({";", "}", "{", "\n", ",", "=", "(", ")", "&&", "||", "!"})


def awk(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """The commands in an awk program given on the line (`-f FILE` programs are not read)."""
    texts, assigned, from_file, i = [], [], False, 1
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        word = words[i]
        if word == "--":
            i += 1
            break
        if word in ("-f", "--file", "-E", "--exec"):
            from_file, i = True, i + 2
        elif word in ("-e", "--source", "-v", "--assign"):
            value = words[i + 1] if i + 1 < len(words) else ""
            (texts if word in ("-e", "--source") else assigned).append(value)
            i += 2
        else:
            from_file = from_file or word.startswith(("-f", "--file=", "--exec="))
            texts += [word.split("=", 1)[1]] if word.startswith("--source=") else []
            assigned += [word.split("=", 1)[1]] if word.startswith("--assign=") else []
            assigned += [word[2:]] if word.startswith("-v") and len(word) > 2 else []
            i += 2 if word in _AWK_VALUE_OPTIONS else 1
    if not texts and not from_file and i < len(words):
        texts.append(words[i])
    assigned += list(words[i + 1:])  # `awk PROGRAM cmd=x file`: operands that assign
    variables: dict[str, list[str]] = {}
    for text in assigned:
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", text, re.DOTALL)
        if match:
            variables.setdefault(match[1], []).append(match[2])
    return tuple(inner for text in texts for inner in awk_program_commands(name, text, variables))


def awk_program_commands(name: str, program: str,
                         variables: dict[str, list[str]] | None = None) -> list[Inner]:
    tokens = _awk_tokens(program)
    known = _awk_assignments(tokens, dict(variables or {}))
    found: list[Inner] = []
    for k, (kind, value) in enumerate(tokens):
        if kind == "word" and value == "system" and _next(tokens, k + 1) == "(":
            found += _awk_inners(f"{name} system()", _balanced(tokens, k + 2), known)
        elif kind == "pipe":
            if _next(tokens, k + 1) == "getline":
                found += _awk_inners(f"{name} | getline", _expression_before(tokens, k), known)
            else:
                found += _awk_inners(f"{name} print |", _expression_after(tokens, k + 1), known)
                found += _printed_script(name, tokens, k, known, found[-1:])
    return found


def _printed_script(name: str, tokens: list[tuple[str, str]], k: int,
                    known: dict[str, list[str] | None], piped: list[Inner]) -> list[Inner]:
    """`print "CMDS" | "sh"`: what awk prints to a shell is that shell's script."""
    if not piped or not piped[0].unreadable.startswith("awk writes"):
        return []
    start = k
    while start > 0 and tokens[start - 1][1] not in _AWK_STOP | {"print", "printf"}:
        start -= 1
    return [replace(inner, label=f"{name} print | sh")
            for inner in _awk_inners(f"{name} print", tokens[start:k], known)]


def _awk_assignments(tokens: list[tuple[str, str]],
                     known: dict[str, list[str]]) -> dict[str, list[str] | None]:
    """What each variable may hold: the literal values assigned to it (`cmd = "rm " "x"`, or
    `-v cmd=...`); None for a variable also assigned a value computed when awk runs."""
    values: dict[str, list[str] | None] = {key: list(v) for key, v in known.items()}
    for k, (kind, value) in enumerate(tokens[:-1]):
        if kind != "word" or tokens[k + 1][1] != "=" or _next(tokens, k + 2) == "=":
            continue
        if k > 0 and tokens[k - 1][1] in ("$", "."):
            continue
        expression = _expression_after(tokens, k + 2)
        literal = all(t == "str" or v in ("(", ")") for t, v in expression) and expression
        current = values.get(value, [])
        if literal and current is not None:
            current.append("".join(_awk_string(v) for t, v in expression if t == "str"))
            values[value] = current
        else:
            values[value] = None
    return values


def _awk_tokens(program: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(program):
        match = _AWK_TOKEN.match(program, position)
        assert match is not None  # `other` matches any character
        kind, value = match.lastgroup or "other", match.group()
        if kind == "regex" and tokens and tokens[-1][0] in _AWK_OPERANDS:
            kind, value = "other", "/"
        position += len(value)
        if kind in ("comment", "space", "regex"):
            continue
        if value in ("|", "&") and tokens and tokens[-1][1] == value:
            tokens[-1] = ("other", value * 2)  # `&&` and `||`, never a pipe
            continue
        if value in (")", "]"):
            kind = "close"
        tokens.append((kind, value))
    return tokens


def _next(tokens: list[tuple[str, str]], k: int) -> str:
    return tokens[k][1] if k < len(tokens) else ""


def _balanced(tokens: list[tuple[str, str]], k: int) -> list[tuple[str, str]]:
    depth, out = 0, []
    for kind, value in tokens[k:]:
        if value == ")" and depth == 0:
            break
        depth += (value == "(") - (value == ")")
        out.append((kind, value))
    return out


def _expression_before(tokens: list[tuple[str, str]], k: int) -> list[tuple[str, str]]:
    start = k
    while start > 0 and tokens[start - 1][1] not in _AWK_STOP:
        start -= 1
    return tokens[start:k]


def _expression_after(tokens: list[tuple[str, str]], k: int) -> list[tuple[str, str]]:
    end = k
    while end < len(tokens) and tokens[end][1] not in _AWK_STOP:
        end += 1
    return tokens[k:end]


def _awk_string(literal: str) -> str:
    return re.sub(r"\\(.)", lambda m: _AWK_ESCAPES.get(m[1], m[1]), literal[1:-1])


_MAX_AWK_CHOICES = 8


def _awk_inners(label: str, expression: list[tuple[str, str]],
                known: dict[str, list[str] | None]) -> list[Inner]:
    """The commands an awk expression may evaluate to: string literals and variables holding
    only literals are read; any other part becomes a stand-in (`${awk_value}`) and marks the
    command as built when the program runs."""
    choices: list[list[str]] = [[]]
    built, previous = False, "("
    for k, (kind, value) in enumerate(expression):
        values = known.get(value) if kind == "word" and _next(expression, k + 1) not in ("(", "[") else None
        if kind == "str" or (kind == "num" and previous in ("(", "str")):
            pieces = [_awk_string(value) if kind == "str" else value]
        elif values:
            pieces = values
        elif value in ("(", ")"):
            continue
        else:
            built, pieces = True, [RUNTIME_VALUE]
        previous = "str" if kind == "word" and values else kind
        choices = [c + [p] for c in choices for p in pieces][:_MAX_AWK_CHOICES]
    return [_awk_inner(label, "".join(c), built) for c in choices]


def _awk_inner(label: str, script: str, built: bool) -> Inner:
    script = re.sub(r"(\$\{awk_value\})+", "${awk_value}", script)
    if label.endswith("|") and script.split(" ", 1)[0].rsplit("/", 1)[-1] in SHELLS:
        return Inner(label, script=script, unreadable="awk writes the script this shell runs")
    return Inner(label, script=script, unreadable=_AWK_BUILT if built else "")


# ---- sed ------------------------------------------------------------------------------------
_SED_PATTERN_SPACE = "sed runs its pattern space, text known only when it runs, as a command"


def sed(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """sed's `e COMMAND`, `e` and the `e` flag of `s///` run commands (not with --sandbox)."""
    if "--sandbox" in words:
        return ()
    scripts, from_file, i = [], False, 1
    while i < len(words):
        word = words[i]
        if word in ("-e", "--expression"):
            scripts.append(words[i + 1] if i + 1 < len(words) else "")
            i += 2
            continue
        if word in ("-f", "--file", "-l", "--line-length"):
            from_file, i = from_file or word in ("-f", "--file"), i + 2
            continue
        if word.startswith(("--expression=", "-e")) and word not in ("-e",):
            scripts.append(word.split("=", 1)[1] if word.startswith("--") else word[2:])
        from_file = from_file or word.startswith(("--file=", "-f"))
        if not word.startswith("-") and not scripts and not from_file:
            scripts.append(word)
            break
        i += 1
    return tuple(inner for script in scripts for inner in sed_commands(name, script))


def sed_commands(name: str, script: str) -> list[Inner]:
    found: list[Inner] = []
    replacements: list[str] = []
    for line in script.split("\n"):
        rest = line
        for match in re.finditer(r"(?:^|[;{}\s0-9$/!])s(?P<d>[^\w\s\\])", line):
            replacement, flags, end = _sed_substitution(line, match.end(), match["d"])
            rest = rest[:match.start() + 1] + " " * (end - match.start() - 1) + rest[end:]
            replacements.append(replacement)
            if "e" in flags:
                found.append(Inner(f"{name} s///e", script=replacement,
                                   unreadable=_SED_PATTERN_SPACE))
        for match in re.finditer(r"(?:^|[;{}]|[0-9$/!])\s*e(?:\s+(?P<cmd>.*))?$|(?:^|[;{}]|[0-9$/!])"
                                 r"\s*e\s*(?=[;}])", rest):
            command = (match["cmd"] or "").strip()
            found.append(Inner(f"{name} e", script=command) if command else
                         Inner(f"{name} e", unreadable=_SED_PATTERN_SPACE))
    if any(inner.script is None for inner in found):  # `s/.*/CMD/;e` runs what `s` wrote
        found += [Inner(f"{name} e", script=r, unreadable=_SED_PATTERN_SPACE)
                  for r in replacements if r.strip()]
    return found


def _sed_substitution(line: str, start: int, delimiter: str) -> tuple[str, str, int]:
    """The replacement and flags of the `s` command whose pattern starts at `start`, and where
    the command ends."""
    parts, current, k = [], [], start
    while k < len(line) and len(parts) < 2:
        char = line[k]
        if char == "\\" and k + 1 < len(line):
            current.append(line[k + 1] if line[k + 1] == delimiter else line[k:k + 2])
            k += 2
            continue
        if char == delimiter:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        k += 1
    flags = re.match(r"[0-9gpeImiM]*", line[k:])
    replacement = parts[1] if len(parts) == 2 else ""
    flag_text = flags.group() if flags else ""
    return replacement.replace("\\/", "/"), flag_text, k + len(flag_text)


# ---- vim ------------------------------------------------------------------------------------
_VIM_BUILT = "vim builds this command when it runs (`execute`, `system()` of an expression)"


def vim(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """Ex commands given as `-c CMD`, `+CMD` or `--cmd CMD` that run the shell."""
    found: list[Inner] = []
    for i, word in enumerate(words[1:], start=1):
        if word in ("-c", "--cmd") and i + 1 < len(words):
            found += ex_commands(name, words[i + 1])
        elif word.startswith("+") and len(word) > 1 and not re.fullmatch(r"\+\d*|\+/.*", word):
            found += ex_commands(name, word[1:])
    return tuple(found)


def ex_commands(name: str, text: str) -> list[Inner]:
    found: list[Inner] = []
    rest = text
    while rest.strip():
        command = re.sub(r"^[\s:]*[%.$,;0-9'<>+\-]*\s*((sil(ent)?!?|keepalt|noa(utocmd)?|"
                         r"uns(ilent)?)\s+)*", "", rest)
        # `:r!cmd` and `:r !cmd` read a command's output; `:w !cmd` pipes to one (`:w!` forces).
        command = re.sub(r"^(?:g(?:lobal)?!?|v(?:global)?)\s*(?P<d>[^\w\s|\"])(?:\\.|(?!(?P=d)).)*"
                         r"(?P=d)\s*", "", command)  # `:g/PAT/CMD` runs CMD on each line
        option = re.match(r"set?\s+(make|grep|equal|format|keyword)prg=(?P<v>(?:\\.|\S)*)", command)
        if option:  # `:set makeprg=CMD` then `:make` runs CMD through the shell
            found.append(Inner(f"{name} -c set {option[1]}prg",
                               script=re.sub(r"\\(.)", r"\1", option["v"])))
        shell = re.match(r"(?:r(?:ead)?\s*!|w(?:rite)?\s+!|!)(?P<cmd>.*)", command, re.DOTALL)
        if shell:  # a `!` command takes the rest of the text, `|` included
            found.append(Inner(f"{name} -c !", script=shell["cmd"].lstrip("!")))
            return found
        term = re.match(r"ter(?:m(?:inal)?)?!?\s+(?:\+\S+\s+)*(?P<cmd>.*)", command, re.DOTALL)
        if term:
            found.append(Inner(f"{name} -c terminal", script=term["cmd"]))
            return found
        found += _vim_expressions(name, command)
        rest = command.split("|", 1)[1] if "|" in command else ""
    return found


def _vim_expressions(name: str, command: str) -> list[Inner]:
    head = command.split("|", 1)[0]
    found = []
    execute = re.match(r"exe(?:c(?:ute)?)?\s+(?P<arg>.*)", head, re.DOTALL)
    if execute:  # `execute "!cmd"` with one literal string runs that ex command
        literal = re.fullmatch(r"'([^']*)'|\"((?:[^\"\\]|\\.)*)\"", execute["arg"].strip())
        if literal is None:
            return [Inner(f"{name} -c execute", unreadable=_VIM_BUILT)]
        return ex_commands(name, literal[1] if literal[1] is not None else literal[2])
    for match in re.finditer(r"\b(?:system(?:list)?|job_?start|term_?start|termopen)\(\s*"
                             r"(?P<arg>'[^']*'|\"(?:[^\"\\]|\\.)*\"|[^)]*)", head):
        arg = match["arg"]
        if arg[:1] in "'\"" and arg[-1:] == arg[:1] and len(arg) > 1:
            found.append(Inner(f"{name} -c system()", script=arg[1:-1]))
        else:
            found.append(Inner(f"{name} -c system()", unreadable=_VIM_BUILT))
    return found
