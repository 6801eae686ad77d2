"""Bash evaluates arithmetic recursively: a variable's value is itself an expression, and an array
subscript met on the way is expanded, so `x='a[$(cmd)]'; echo $((x))` runs cmd. This module
collects every place a line evaluates arithmetic or a variable name given as text, and judges the
values that can reach it: code hidden in a value the line sets is refused; a value the line does
not set is text produced at run time (reported, so an allow list can refuse it).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field

from mgexec.errors import PolicyViolation
from mgexec.policy.shellnodes import Compound, Simple
from mgexec.policy.shelltokens import Word

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# Identifiers of an expression, not the digits of `0x1f` or `16#ff`, not `$name` (handled apart).
_IDENTIFIER = re.compile(rf"(?<![\w#$.@]){_NAME}")
_REFERENCE = re.compile(rf"\$\{{?[#!]?({_NAME}|[0-9]+)")
_SUBSTITUTION = re.compile(r"\$\((?!\()|`")
_ASSIGNED = re.compile(rf"({_NAME})\s*(?:\[[^\]]*\])?\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)|(?:\+\+|--)\s*({_NAME})|"
                       rf"({_NAME})\s*(?:\+\+|--)")
_SUBSCRIPT = re.compile(rf"\s*{_NAME}\s*\[(.*)\]\s*", re.DOTALL)
# Set by the shell itself, always to a number.
_NUMERIC = frozenset({"RANDOM", "SRANDOM", "SECONDS", "LINENO", "BASHPID", "EPOCHSECONDS", "PPID",
                      "UID", "EUID", "OPTIND", "HISTCMD", "SHLVL", "COLUMNS", "LINES", "#", "?", "$", "!"})
_SHOWN = 60
# Text shaped like an array subscript holding a command substitution.
SUSPICIOUS = re.compile(r"\[(?:[^][$`]|\$(?!\())*(?:\$\(|`)")


@dataclass
class ArithFacts:
    """What one line assigns, and where it evaluates arithmetic or names given as text."""

    values: dict[str, list[str | None]] = field(default_factory=dict)  # None: set at run time
    integers: set[str] = field(default_factory=set)                     # `declare -i NAME`
    uses: list[tuple[str, str, str, Hashable]] = field(default_factory=list)  # kind, text, where, owner
    suspicious: bool = False  # a quoted word holds `[…$(` text (SUSPICIOUS), data that may reach a value

    def assign(self, name: str, value: str | None) -> None:
        self.values.setdefault(name, []).append(value)

    def expression(self, text: str, where: str, owner: Hashable, *, literal: bool = False) -> None:
        """`text` is evaluated as arithmetic (`$(( ))`, `(( ))`, `let`, `[[ -eq ]]`, subscripts);
        `literal`: it is quoted text of the line, so a `$( )` in it is code bash finds there."""
        self.uses.append(("literal" if literal else "expr", text, where, owner))
        for match in _ASSIGNED.finditer(text):  # `(( i = 0 ))`, `i++`: the variable gets a number
            self.assign(match[1] or match[2] or match[3], "0")

    def name(self, text: str, where: str, owner: Hashable) -> None:
        """`text` is a variable name given as data (`read NAME`, `printf -v NAME`, `${!x}`)."""
        self.uses.append(("name", text, where, owner))

    def indirect(self, variable: str, where: str, owner: Hashable) -> None:
        """The value of `variable` is used as a variable name (`${!x}`, `declare -n r=$x`)."""
        self.uses.append(("indirect", variable, where, owner))

    def reparsed(self, variable: str, where: str, owner: Hashable) -> None:
        """The value of `variable` is expanded once more, command substitutions included
        (`${x@P}`, `PS4` under `set -x`, `declare -a "$x"` with `a=( … )` in it)."""
        self.uses.append(("reparsed", variable, where, owner))


def judge(facts: ArithFacts) -> dict[Hashable, list[str]]:
    """Raises PolicyViolation for code hidden in a value; returns, per owner, the run-time values
    its arithmetic depends on."""
    for name in facts.integers:  # every value given to a `declare -i` variable is evaluated
        for value in facts.values.get(name, []):
            if value is not None:
                facts.uses.append(("expr", value, f"the integer variable `{name}`", None))
    unseen: dict[Hashable, list[str]] = {}
    for kind, text, where, owner in facts.uses:
        judge_one = {"expr": _expression, "literal": _literal, "name": _name, "indirect": _indirect,
                     "reparsed": _reparsed}[kind]
        reasons = judge_one(facts, text, where, set())
        if reasons and facts.suspicious:
            raise PolicyViolation(
                f"mgexec did not run this command line: {reasons[0]}, and the line holds text "
                "shaped like an array subscript with a command substitution (`[$(` or `[`…`); "
                "bash would run that command if the text reaches the evaluation. Compute the "
                "value in a separate step.")
        if reasons:
            unseen.setdefault(owner, []).extend(r for r in reasons if r not in unseen.get(owner, []))
    return unseen


def _expression(facts: ArithFacts, text: str, where: str, seen: set[str]) -> list[str]:
    reasons = []
    if _SUBSTITUTION.search(text):
        reasons.append(f"{where} evaluates the output of a command substitution as arithmetic")
    names = {m[1] for m in _REFERENCE.finditer(text)} | set(_IDENTIFIER.findall(_strip_refs(text)))
    for name in sorted(names):
        reasons.extend(_value_of(facts, name, where, seen))
    return reasons


def _literal(facts: ArithFacts, text: str, where: str, seen: set[str]) -> list[str]:
    if _SUBSTITUTION.search(text):
        raise _hidden_command(
            f"{where} evaluates the quoted text `{_clip(text)}` as arithmetic; bash expands the "
            "command substitution in it and runs the command", "Write the command outside quotes.")
    return _expression(facts, text, where, seen)


def _name(facts: ArithFacts, text: str, where: str, seen: set[str]) -> list[str]:
    subscript = _SUBSCRIPT.fullmatch(text)
    if subscript is None:
        return []
    if _SUBSTITUTION.search(subscript[1]):
        raise _hidden_command(
            f"{where} is given the variable name `{_clip(text)}`, whose array subscript holds a "
            "command substitution; bash expands that subscript and runs the command",
            "Use a plain variable name, or compute the index in a separate step.")
    return _expression(facts, subscript[1], where, seen)


def _indirect(facts: ArithFacts, variable: str, where: str, seen: set[str]) -> list[str]:
    if variable not in facts.values:
        return [f"{where} uses the value of `{variable}` as a variable name, and the line does "
                "not set it"]
    reasons = []
    for value in facts.values[variable]:
        if value is None:
            reasons.append(f"{where} uses the value of `{variable}`, set at run time, as a "
                           "variable name")
        else:
            reasons.extend(_name(facts, value, where, seen))
    return reasons


def _reparsed(facts: ArithFacts, variable: str, where: str, seen: set[str]) -> list[str]:
    if variable not in facts.values:
        return [f"{where} expands the value of `{variable}` again, and the line does not set it"]
    reasons = []
    for value in facts.values[variable]:
        if value is None:
            reasons.append(f"{where} expands the value of `{variable}`, set at run time, again")
        elif _SUBSTITUTION.search(value):
            raise _hidden_command(
                f"{where} expands the value of `{variable}`, which the line sets to "
                f"`{_clip(value)}`, a second time, running the command substitution in it",
                "Write the command in the line itself.")
    return reasons


def _value_of(facts: ArithFacts, name: str, where: str, seen: set[str]) -> list[str]:
    if name in seen or name in _NUMERIC:
        return []
    seen.add(name)
    if name not in facts.values:
        return [f"{where} evaluates `{name}`, which the line does not set"]
    reasons = []
    for value in facts.values[name]:
        if value is None:
            reasons.append(f"{where} evaluates `{name}`, whose value is made at run time")
        elif "$" in value or "`" in value:
            raise _hidden_command(
                f"{where} evaluates `{name}`, which the line sets to `{_clip(value)}`; bash reads "
                "that value as arithmetic, expands it and runs any command substitution in an "
                "array subscript of it",
                "Set the variable to a number, or run the command in a step of its own.")
        else:
            reasons.extend(_expression(facts, value, where, seen))
    return reasons


def _hidden_command(what: str, advice: str) -> PolicyViolation:
    """The refusal of a line that hides a command where bash finds it only while evaluating."""
    return PolicyViolation(f"mgexec did not run this command line: {what}, which no check can see "
                           f"beforehand. {advice}")


def _strip_refs(text: str) -> str:
    return _REFERENCE.sub(" ", text)


def _clip(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


# -- collecting the facts from the syntax tree ---------------------------------------------------

def note_simple(facts: ArithFacts, command: Simple, owner: Hashable) -> None:
    """Everything a simple command evaluates or assigns; `owner` is the command reported for it."""
    for word in [*command.assigns, *command.words, *(r.target for r in command.redirects)]:
        note_word(facts, word, owner)
    for word in command.assigns:
        note_assignment(facts, word, owner)
    note_command(facts, command.words, owner)


def note_compound(facts: ArithFacts, command: Compound) -> None:
    """`(( ))`, `for (( ))`, `[[ ]]` and the words of other blocks; a `for` loop's variable."""
    for word in command.words:
        note_word(facts, word, None)
    if command.kind == "cond":
        note_cond(facts, command.words, None)
    elif command.kind == "for" and command.name:
        for word in command.words:  # brace alternatives hold no `$`: the word itself will do
            facts.assign(command.name, word.value if is_static(word) else None)


_DECLARE = frozenset({"declare", "typeset", "local", "export", "readonly"})
_READ_VALUE_OPTIONS = frozenset("dinNptu")
_MAPFILE_VALUE_OPTIONS = frozenset("dnOsuCc")
_TEST_ARITH = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_FD_VARIABLE = re.compile(rf"\{{({_NAME}\[.*\])\}}", re.DOTALL)
_NUMERIC_VALUE = re.compile(r"\$\(\(.*\)\)|\$\[.*\]|[0-9]+", re.DOTALL)
_PARAM_PARTS = re.compile(rf"\$\{{(?P<bang>!)?#?(?P<name>{_NAME}|[0-9]+|[@*#?$!-])"
                          r"(?:\[(?P<sub>[^\]]*)\])?(?P<rest>.*)\}", re.DOTALL)


def is_static(word: Word) -> bool:
    """True if the word's value is fixed text (no expansion is left in it)."""
    return not (word.subs or word.params or word.exprs)


def note_word(facts: ArithFacts, word: Word, owner: Hashable) -> None:
    """The arithmetic a word evaluates when it expands: `$(( ))`, `$[ ]`, `${a[i]}`, `${x:o:l}`,
    and the names `${!x}` reads."""
    if not word.subs and SUSPICIOUS.search(word.value):  # quoted text, not a real substitution
        facts.suspicious = True
    if word.heredoc is not None and word.heredoc.quoted and SUSPICIOUS.search(word.heredoc.body):
        facts.suspicious = True
    exprs, params = list(word.exprs), list(word.params)
    if word.heredoc is not None:
        exprs += word.heredoc.exprs
        params += word.heredoc.params
    for text in exprs:
        facts.expression(text, f"the arithmetic `{_clip(text)}`", owner)
    for param in params:
        parts = _PARAM_PARTS.fullmatch(param)
        if parts is None:
            continue
        where = f"the expansion `{_clip(param)}`"
        if parts["bang"] and parts["sub"] is None and parts["rest"] not in ("*", "@"):
            facts.indirect(parts["name"], where, owner)
        if parts["rest"] == "@P":  # prompt expansion: runs the command substitutions of the value
            facts.reparsed(parts["name"], where, owner)
        # A `$( )` inside single quotes there was no substitution to the lexer, yet bash removes
        # the quotes and runs it (`${s:'$(cmd)'}`, `${a['$(cmd)']}`): literal, so refused.
        if parts["sub"] not in (None, "@", "*"):
            facts.expression(parts["sub"], where, owner, literal="'" in parts["sub"])
        rest = parts["rest"]
        if rest.startswith(":") and rest[1:2] not in ("-", "=", "?", "+"):
            for piece in rest[1:].split(":", 1):
                facts.expression(piece, where, owner, literal="'" in piece)


def note_assignment(facts: ArithFacts, word: Word, owner: Hashable) -> None:
    """`NAME=VALUE`, `NAME+=VALUE`, `NAME[SUB]=VALUE`: the value, and the subscript evaluated."""
    name, _, value = word.value.partition("=")
    name = name.rstrip("+")
    subscript = _SUBSCRIPT.fullmatch(name)
    if subscript:  # a quoted `$( )` in it is no substitution to the lexer, but bash runs it
        facts.expression(subscript[1], f"the assignment `{_clip(word.value)}`", owner,
                         literal="'" in word.raw.partition("=")[0])
        name = name.split("[", 1)[0].strip()
    raw_value = word.raw.partition("=")[2]
    if name == "PS4":  # expanded like a prompt, command substitutions included, by `set -x`
        facts.reparsed("PS4", "`PS4` (expanded by `set -x`)", owner)
    if _NUMERIC_VALUE.fullmatch(raw_value):
        facts.assign(name, "0")
    else:
        facts.assign(name, value if is_static(word) else None)


def note_command(facts: ArithFacts, words: list[Word], owner: Hashable) -> None:
    """Builtins that evaluate arithmetic (`let`) or take variable names as data (`read`, `unset`,
    `printf -v`, `declare`, `mapfile`, `getopts`, `wait -p`, `test -v`)."""
    if not words:
        return
    name, args = words[0].value, words[1:]
    where = f"`{name}`"
    for arg in args:  # `exec {a[SUB]}>file`: bash assigns the new fd to the variable named
        fd_name = _FD_VARIABLE.fullmatch(arg.value)
        if fd_name and is_static(arg):
            facts.name(fd_name[1], "a `{NAME}>` redirection", owner)
    if name == "let":
        for arg in args:
            facts.expression(arg.value, where, owner, literal=is_static(arg))
    elif name in _DECLARE:
        _note_declaration(facts, args, where, owner)
    elif name in ("read", "mapfile", "readarray"):
        value_options = _READ_VALUE_OPTIONS if name == "read" else _MAPFILE_VALUE_OPTIONS
        for arg in _operands(args, value_options, name_options="a" if name == "read" else ""):
            _note_name(facts, arg, where, owner, assigned=True)
    elif name in ("printf", "wait", "getopts", "unset", "test", "["):
        for arg in _named_operands(name, args):
            _note_name(facts, arg, where, owner, assigned=name != "unset")


def reexpanded_scripts(words: tuple[str, ...]) -> list[tuple[str, str]]:
    """Text a builtin expands or runs later: `compgen`/`complete` `-W WORDS` (expanded, command
    substitutions included), their `-C COMMAND` and `mapfile`/`readarray` `-C CALLBACK` (run).
    Each is (label, script to read)."""
    if not words or words[0] not in ("compgen", "complete", "mapfile", "readarray"):
        return []
    scripts = []
    for option, value in zip(words[1:], words[2:]):
        if option == "-W" and words[0] in ("compgen", "complete"):
            scripts.append((f"{words[0]} -W", ": " + value))
        elif option == "-C":
            scripts.append((f"{words[0]} -C", value))
    return scripts


def note_cond(facts: ArithFacts, words: list[Word], owner: Hashable) -> None:
    """`[[ A -eq B ]]` evaluates A and B as arithmetic; `[[ -v NAME ]]` takes a name."""
    for i, word in enumerate(words):
        if word.value in _TEST_ARITH and not word.quoted:
            for operand in words[i - 1:i] + words[i + 1:i + 2]:
                static = is_static(operand)
                facts.expression(operand.value if static else operand.raw,
                                 f"`[[ … {word.value} … ]]`", owner, literal=static)
        elif word.value == "-v" and i + 1 < len(words):
            _note_name(facts, words[i + 1], "`[[ -v … ]]`", owner, assigned=False)


def _note_declaration(facts: ArithFacts, args: list[Word], where: str, owner: Hashable) -> None:
    flags = "".join(a.value[1:] for a in args if a.value.startswith("-") and is_static(a))
    for arg in args:
        if arg.value.startswith(("-", "+")):
            continue
        name = arg.value.split("=", 1)[0].rstrip("+")
        if "i" in flags:
            facts.integers.add(name.split("[", 1)[0])
        if not is_static(arg) and ("a" in flags or "A" in flags):
            for ref in _REFERENCE.finditer(arg.raw):  # `declare -a "$x"` re-reads `a=( … )` in x
                facts.reparsed(ref[1], where, owner)
            if arg.subs:
                facts.expression("$(", where, owner)
        elif is_static(arg) and _SUBSTITUTION.search(arg.value.partition("=")[2]) and \
                arg.value.partition("=")[2].startswith("("):
            raise _hidden_command(
                f"{where} is given `{_clip(arg.value)}` as quoted text; bash reads the `( … )` in "
                "it as an array assignment and runs the command substitution inside",
                "Write the array assignment without quotes.")
        if "=" in arg.value:
            note_assignment(facts, arg, owner)
            if "n" in flags:  # a nameref: its value is a variable name
                _note_name(facts, arg, where, owner, assigned=False, text=arg.value.split("=", 1)[1])
        else:
            _note_name(facts, arg, where, owner, assigned=False)


def _note_name(facts: ArithFacts, word: Word, where: str, owner: Hashable, *, assigned: bool,
               text: str | None = None) -> None:
    text = word.value if text is None else text
    if assigned:
        facts.assign(text.split("[", 1)[0], None)
    if is_static(word):
        facts.name(text, where, owner)
    else:  # the name is made when the line runs: what reaches its subscript is evaluated
        for ref in _REFERENCE.finditer(word.raw):
            facts.indirect(ref[1], where, owner)
        if word.subs or "`" in word.raw:
            facts.expression("$(", where, owner)


def _operands(args: list[Word], value_options: frozenset[str], name_options: str) -> list[Word]:
    names, i = [], 0
    while i < len(args):
        value = args[i].value
        if value.startswith("-") and len(value) > 1:
            takes = [c for c in value[1:] if c in value_options or c in name_options]
            if takes and value.endswith(takes[-1]) and i + 1 < len(args):
                if takes[-1] in name_options:
                    names.append(args[i + 1])
                i += 1
        else:
            names.append(args[i])
        i += 1
    return names


def _named_operands(name: str, args: list[Word]) -> list[Word]:
    values = [a.value for a in args]
    if name in ("printf", "wait"):
        return [args[i + 1] for i, v in enumerate(values[:-1]) if v == ("-v" if name == "printf" else "-p")]
    if name == "getopts":
        return args[1:2]
    if name == "unset":
        return [a for a in args if not a.value.startswith("-")]
    return [args[i + 1] for i, v in enumerate(values[:-1]) if v == "-v"]
