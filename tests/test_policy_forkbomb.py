"""Tables for fork bombs of any shape: a function that, directly or through other functions, eval,
shells or substitutions, starts itself in the background or in a pipeline; and the recursive and
parallel functions developers write, which must pass."""

from __future__ import annotations

import pytest

from policyutil import refusal as policy_refusal
from mgexec.policy import CommandPolicy

PREFIX = "Potentially dangerous command detected: fork bomb ("


def refusal(line: str, policy: CommandPolicy = CommandPolicy()) -> str | None:
    return policy_refusal(line, policy, work_dir="/tmp", home="/root")


BOMBS = [
    # mutual recursion
    ("a(){ b|b & }; b(){ a|a & }; a", "function `a` starts `b` in a pipeline, and `b` -> `a` calls it again"),
    ("a(){ b & }; b(){ a & }; a", "in the background"),
    ("f(){ g; }; g(){ f & }; f", "function `g` starts `f` in the background, and `f` -> `g`"),
    ("a(){ b; }; b(){ c; }; c(){ a | a; }; a", "`a` -> `b` -> `c`"),
    ("function a { b & }; function b { a | a; }; a", "fork bomb"),
    ("sh -c 'a(){ b|b& }; b(){ a|a& }; a'", "fork bomb"),
    # self-calls through eval, trap, shells
    ("f(){ eval 'f|f &'; }; f", "function `f` starts copies of itself in a pipeline"),
    ("f(){ eval \"f & f\"; }; f", "in the background"),
    ("f(){ eval f '&'; }; f", "in the background"),
    ("eval 'g(){ g|g& }'; g", "function `g`"),
    ("f(){ trap 'f|f &' EXIT; }; f", "function `f`"),
    ("bomb(){ bash -c bomb | bash -c bomb & }; export -f bomb; bomb", "function `bomb`"),
    ("f(){ eval \"$(echo ok)\"; eval 'f' & }; f", "in the background"),
    # other shapes of starting a copy alongside
    ("x(){ x & x; }; x", "in the background"),
    ("f(){ (f) & }; f", "in the background"),
    ("f(){ { f; } | cat; }; f", "in a pipeline"),
    ("f(){ cat <(f) <(f); }; f", "function `f` starts copies of itself"),
    ("f(){ coproc f; }; f", "as a coprocess"),
    ("f(){ echo $(f) & }; f", "in the background"),
    ("f(){ x=$(f | cat); }; f", "in a pipeline"),
    ("f(){ while :; do f & done; }; f", "in the background"),
    ("f() { f 2>/dev/null | f >/dev/null & }; f", "in a pipeline"),
    ("f(){ \"f\" | 'f'; }; f", "in a pipeline"),
    (".(){ .|.& };.", "function `.`"),
    ("_(){ _|_& };_", "function `_`"),
    ("f(){ \"$FUNCNAME\" | ${FUNCNAME[0]} & }; f", "function `f` starts copies of itself"),
    ("f(){ x=f; $x | $x & }; f", "in a pipeline"),
    ("alias g=f; f(){ g|g & }; f", "(run by `alias g`)"),
    ("f(){ source <(echo 'f|f &'); }; f", "in a pipeline"),
    ("f(){ $(echo f) | f; }; f", "in a pipeline"),
    ("f(){ eval \"$FUNCNAME | $FUNCNAME &\"; }; f", "in a pipeline"),
    ("f(){ local n=$FUNCNAME; $n | $n & }; f", "in a pipeline"),
    ("f(){ g=(f); \"${g[@]}\" | \"${g[@]}\" & }; f", "in a pipeline"),
    ("f(){ builtin eval 'f|f&'; }; f", "in a pipeline"),
    ("f(){ f || f & }; f", "in the background"),
    # the classic, any spacing
    (":(){ :|:& };:", "function `:` starts copies of itself in a pipeline"),
    (": ( ) { : | : & } ; :", "function `:`"),
]


@pytest.mark.parametrize("line, reason", BOMBS)
def test_fork_bombs_are_refused(line: str, reason: str) -> None:
    message = refusal(line)
    assert message is not None, f"{line!r} was allowed"
    assert message.startswith(PREFIX), message
    assert reason in message, message


def test_fork_bombs_stay_refused_with_sudo_and_allow_lists() -> None:
    for policy in (CommandPolicy(enable_sudo=True), CommandPolicy(allow_patterns=(".*",))):
        assert (refusal("a(){ b|b & }; b(){ a|a & }; a", policy) or "").startswith(PREFIX)


NEAR_MISSES = [
    "f() { f; }",
    "fact() { [ $1 -le 1 ] && echo 1 || echo $(( $1 * $(fact $(( $1 - 1 ))) )); }; fact 5",
    "f(){ [ \"$1\" -gt 0 ] && f $(( $1 - 1 )); }; f 5",
    "a(){ b; }; b(){ a; }",
    "retry(){ \"$@\" || { sleep 1; retry \"$@\"; }; }; retry curl -s https://x",
    "a(){ b | grep x; }; b(){ echo hi; }; a",
    "a(){ b & }; b(){ sleep 1; }; a; wait",
    "f(){ echo hi | cat & }; f",
    "worker(){ echo $1; }; for i in 1 2 3; do worker $i & done; wait",
    "f(){ g | g; }; g(){ h; }; h(){ echo; }; f",
    "serve(){ python -m http.server & }; serve",
    "log(){ echo \"$@\" | tee -a log.txt; }; build(){ log start; make 2>&1 | log; }; build",
    "ls(){ command ls -la \"$@\" | head; }; ls",
    "git(){ env git \"$@\" | cat; }; git status",
    "f(){ nohup f & }; f",
    "f(){ f; } ; f | cat",
    "echo ':(){ :|:& };:'",
    "grep -F ':(){ :|:& };:' notes.txt",
    "cat <<'EOF' > bomb.md\n:(){ :|:& };:\nEOF",
    "a(){ echo a; }; b(){ a | a & }; b",
    "walk(){ for d in \"$1\"/*; do [ -d \"$d\" ] && walk \"$d\"; done; }; walk .",
    "f(){ echo \"in $FUNCNAME\" | cat; }; f",
    "x=f; f(){ echo hi; }; $x | $x &",
]


@pytest.mark.parametrize("line", NEAR_MISSES)
def test_near_misses_pass(line: str) -> None:
    assert refusal(line) is None
