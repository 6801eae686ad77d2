"""Commands in interpreter one-liners (`python -c`, `perl -e`, `ruby -e`, `node -e`, `php -r`)
that the code hands to the system as literal text: `os.system("…")`, `subprocess.run([…])`,
`system "…"`, backticks, `execSync('…')`. Anything built from other values is marked as known
only when the program runs; other code stays unread, as the README says."""

from __future__ import annotations

import re

from mgexec.policy.wrapper_specs import Inner

_BUILT = "the interpreter builds this command from values known only when the program runs"
_STRING = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
# Calls whose first argument is a command line for a shell, or an argv list, per language.
_CALLS = {
    "python": r"(?:(?:\bos\.|\)\.|(?<![\w.]))(?:system|popen)|\b(?:subprocess|sp)\.(?:run|call|"
              r"check_call|check_output|Popen|getoutput|getstatusoutput)|\bos\.exec[lv]p?e?|"
              r"\bos\.spawn[lv]p?e?|\bpty\.spawn)\s*\(",
    "perl": r"(?:\bsystem|\bexec|\bqx)\s*[\(\s]?",
    "ruby": r"(?:\bsystem|\bexec|\bspawn|%x|IO\.popen|Open3\.\w+)\s*[\(\s]?",
    "node": r"\b(?:execSync|exec|execFileSync|execFile|spawnSync|spawn)\s*\(",
    "php": r"\b(?:system|exec|shell_exec|passthru|popen|proc_open)\s*\(",
}
_OPTIONS = {"python": ("-c",), "perl": ("-e", "-E"), "ruby": ("-e",),
            "node": ("-e", "--eval", "-p", "--print"), "php": ("-r",)}
_LANGUAGE = [(re.compile(r"python(\d+(\.\d+)*)?|pypy3?"), "python"), (re.compile(r"perl"), "perl"),
             (re.compile(r"ruby|jruby"), "ruby"), (re.compile(r"node(js)?|bun|deno"), "node"),
             (re.compile(r"php(\d+(\.\d+)*)?"), "php")]


def interpreter(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """The commands a one-liner given with `-c`/`-e`/`-r` passes to the system literally."""
    language = next((lang for pattern, lang in _LANGUAGE if pattern.fullmatch(name)), None)
    if language is None:
        return ()
    found: list[Inner] = []
    for code in _code(words, _OPTIONS[language]):
        found += code_commands(f"{name} {_OPTIONS[language][0]}", language, code)
    return tuple(found)


def _code(words: tuple[str, ...], options: tuple[str, ...]) -> list[str]:
    """The code given with `-c CODE`, `-cCODE`, a cluster ending in the option (`perl -ne
    CODE`), or `--eval=CODE`."""
    letters = "".join(o[1] for o in options if len(o) == 2)
    codes = []
    for i, word in enumerate(words[1:], start=1):
        option, eq, value = word.partition("=")
        following = words[i + 1] if i + 1 < len(words) else ""
        if option in options and option.startswith("--"):
            codes.append(value if eq else following)
        elif re.fullmatch(r"-[A-Za-z]+.*", word, re.DOTALL) and not word.startswith("--"):
            k = next((k for k, c in enumerate(word[1:], start=1) if c in letters), None)
            if k is not None and (k == 1 or word[1:k].isalpha()):
                codes.append(word[k + 1:] or following)
    return codes


def code_commands(label: str, language: str, code: str) -> list[Inner]:
    found: list[Inner] = []
    for match in re.finditer(_CALLS[language], code):
        found.append(_argument(label, code[match.end():].lstrip()))
    if language in ("perl", "ruby", "php"):  # `cmd` runs cmd through a shell
        found += [Inner(f"{label} `…`", script=m[1]) for m in re.finditer(r"`([^`]*)`", code)]
    return [inner for inner in found if inner.script or inner.words or inner.unreadable]


def _argument(label: str, rest: str) -> Inner:
    """The first argument of a call: a literal string (a command line), a list of literal
    strings (argv), or anything else (built at run time)."""
    if rest.startswith(("{", "(", "/")) and label.split()[0].startswith(("perl", "ruby")):
        closing = {"{": "}", "(": ")", "/": "/"}[rest[0]]  # qx{…}, qx(…), qx/…/, %x{…}
        body = rest[1:].split(closing, 1)[0]
        return Inner(label, script=body, unreadable=_BUILT if "$" in body else "")
    strings = re.match(_STRING + r"(?:\s*,\s*" + _STRING + r")*", rest)
    if strings:
        parts = [_unquote(p) for p in re.findall(_STRING, strings[0])]
        argv = re.match(r"\s*,\s*\[\s*(" + _STRING + r"(?:\s*,\s*" + _STRING + r")*)\s*,?\s*\]",
                        rest[strings.end():])  # `spawnSync('rm', ['-rf', x])`
        if argv:
            return Inner(label, words=tuple(parts + [_unquote(p) for p in
                                                     re.findall(_STRING, argv[1])]))
        follows = rest[strings.end():].lstrip()[:1]
        built = follows in ("+", "%", ".", "[")
        if len(parts) > 1:  # `system("rm", "-rf", x)`: an argv
            return Inner(label, words=tuple(parts), unreadable=_BUILT if built else "")
        return Inner(label, script=parts[0], unreadable=_BUILT if built else "")
    array = re.match(r"\[\s*(" + _STRING + r"(?:\s*,\s*" + _STRING + r")*)\s*,?\s*\]", rest)
    if array:
        return Inner(label, words=tuple(_unquote(s) for s in re.findall(_STRING, array[1])))
    return Inner(label, unreadable=_BUILT)


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])
