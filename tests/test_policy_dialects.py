"""Tables per dialect differential: lines that must be refused, and near misses that must pass.

Every row is also run by the real shells (the line by `bash -c`, as mgexec runs it, with `sh`
once dash, once bash in POSIX mode and, when installed, once busybox ash) in a scratch directory, with `touch CANARY` standing for
a destructive command: whenever a real shell creates CANARY, the guard rails must have seen the
`touch` (a deny list for it refuses the line); a near miss must never create it.
"""

from __future__ import annotations

import random
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import CommandPolicy, check_command
from mgexec.policy.dialects import (BASH, BASH_POSIX, DASH, SH_READINGS, with_mode_switches,
                                    wrapper_dialects)

DENY_TOUCH = CommandPolicy(deny_patterns=("touch",))
T = "touch CANARY"
# What `sh` may be: dash (Debian, Ubuntu), bash in POSIX mode (Fedora, macOS), busybox ash (Alpine).
SH_SHELLS = [sh for sh in ("dash", "bash", "busybox") if shutil.which(sh)]


def q(script: str) -> str:
    return shlex.quote(script)


# `((`: arithmetic to bash, two nested subshells to dash.
ARITH_REFUSED = [
    f"sh -c {q('((' + T + '))')}",
    f"dash -c {q('((' + T + '))')}",
    f"sh -c {q('((' + T + ') )')}",
    f"bash -c {q('((' + T + ') )')}",
    f"(({T}) )",
    f"(({T}); (true))",
    "sh -c 'x=1; ((x)) && echo'",
    f"echo x | sh -c {q('((' + T + '))')}",
    f"sh <<'EOF'\n(({T}))\nEOF",
    f"echo '(({T}))' | sh",
    f"dash -c {q('if ((' + T + ')); then :; fi')}",
    f"sh -c {q('for x in 1; do ((' + T + ')); done')}",
    f"env sh -c {q('((' + T + '))')}",
    f"timeout 5 dash -c {q('((' + T + '))')}",
    f"bash -c {q('dash -c ' + q('((' + T + '))'))}",
    f"sh -c {q('((echo a) | ' + T + ')')}",
]
ARITH_PASSES = [
    "(( i = 1 + 2 ))",
    "((i++)) || true",
    "x=0; ((x += 1)); echo $x",
    "for ((i=0; i<3; i++)); do echo $i; done",
    "if (( 3 > 2 )); then echo yes; fi",
    "( (echo nested) )",
    "((echo a); echo b)",
    "echo $(( 2 * 3 ))",
    "bash -c '(( 1 + 1 ))'",
    "bash -c 'for ((i=0;i<2;i++)); do echo $i; done'",
    "sh -c '( (echo ok) )'",
    "sh -c 'echo $((1 + 2))'",
    "dash -c 'echo $((3*4))'",
    "n=0; while ((n < 3)); do ((n++)); done",
    "(( $# == 0 )) && echo none",
    f"echo '(({T}))'",
]

# `[[`: a test to bash, a command name to dash (so `;`, `||`, `|`, `&` and newlines end it).
COND_REFUSED = [
    f"sh -c {q('[[ -f x ; ' + T + ' ; ]]')}",
    f"dash -c {q('[[ -f x ; ' + T + ' ]]')}",
    f"dash -c {q('[[ -f x || ' + T + ' ]]')}",
    f"dash -c {q('[[ -n x && ' + T + ' ]]')}",
    "sh -c '[[ -f x ]] && make'",
    f"dash -c {q('[[ a' + chr(10) + T + chr(10) + ']]')}",
    f"echo '[[ -f x ; {T} ]]' | sh",
    f"sh <<'EOF'\n[[ -f x || {T} ]]\nEOF",
    "sh -c 'if [[ -f x ]]; then echo; fi'",
    f"dash -c {q('[[ -f x | ' + T + ' ]]')}",
    f"dash -c {q('[[ -f x & ' + T + ' ]]')}",
    f"[[ -f x ; {T} ]]",
    f"[[ -f x | {T} ]]",
    "[[ -f x << touch ]]",
    f"bash --posix -c {q('[[ -f x ; ' + T + ' ]]')}",
    f"find . -maxdepth 0 -exec sh -c {q('[[ -d x || ' + T + ' ]]')} \\;",
]
COND_PASSES = [
    "[[ -f x ]] && make",
    "[[ -f x && -d y ]] || echo no",
    "[[ $a == b* ]]",
    "[[ ab =~ ^(a|b)b$ ]] && echo m",
    "[[ a < b ]] && echo lt",
    "[[ -n $x ]]",
    "[[ ! -e x ]]",
    "[[ ( -f a ) || ( -f b ) ]]",
    "[[ -f x &&\n -f y ]]",
    "if [[ -d .git ]]; then git status; fi",
    "i=0; while [[ $i -lt 3 ]]; do i=$((i+1)); done",
    "bash -c '[[ -f x ]] && echo y'",
    "sh -c '[ -f x ] && echo y'",
    "dash -c 'test -f x || echo none'",
    f"echo '[[ {T} ]]'",
    "[[ \"$(uname)\" == Linux ]] && echo linux",
]

# `$'…'`: ANSI-C quotes to bash; to dash a `$` and a plain single-quoted string.
ANSI_DASH = "echo $'a\\' ; touch CANARY ; echo '\\'"   # dash runs the touch, bash echoes
ANSI_BASH = "$'\\x74ouch' CANARY"                      # bash runs touch, dash `$\x74ouch`
ANSI_REFUSED = [
    f"dash -c {q(ANSI_DASH)}",
    f"sh -c {q(ANSI_DASH)}",
    f"sh <<'EOF'\n{ANSI_DASH}\nEOF",
    f"cat <<'EOF' | sh\n{ANSI_DASH}\nEOF",
    ANSI_BASH,
    "$'\\164ouch' CANARY",
    "$'t\\0x'ouch CANARY",
    "t$'o'uch CANARY",
    f"bash -c {q(ANSI_BASH)}",
    f"sh -c {q(ANSI_BASH)}",
    "eval $'\\x74ouch CANARY'",
    "env $'\\x74ouch' CANARY",
    "sh -c \"echo \\$'x'\"",
    f"printf '%s\\n' {q(ANSI_DASH)} | dash",
    f"bash --posix -c {q(ANSI_BASH)}",
    f"timeout 5 dash -c {q(ANSI_DASH)}",
    f"dash -c {q(ANSI_BASH)}",  # dash 0.5.13 and later decode it as bash does
]
ANSI_PASSES = [
    f"bash -c {q(ANSI_DASH)}",
    ANSI_DASH,
    "echo $'a\\tb'",
    "printf $'%s\\n' x",
    "echo $'it\\'s fine'",
    "IFS=$'\\n'; echo ok",
    "echo $'\\x74ouch'",
    "grep $'\\t' /dev/null",
    "sh -c 'printf \"a\\tb\\n\"'",
    "echo \"\\$'not ansi'\"",
    "bash -c \"echo \\$'ok'\"",
    "read -d $'\\0' x < /dev/null",
    "echo $\"hello\"",
    "sed $'s/\\t/ /' /dev/null",
    "echo $'\\u00e9t\\u00e9'",
]

# A `'` inside "${x:-…}": a quote to bash, a plain character in POSIX mode and to dash.
BRACE_QUOTE = "echo \"${x%s'}\"; touch CANARY; echo '}'"
BRACE_QUOTE_FORMS = [BRACE_QUOTE % op for op in (":-", "-")] + \
    ["x=1; " + BRACE_QUOTE % op for op in (":+", "+")]
PARAM_QUOTE_REFUSED = [f"sh -c {q(p)}" for p in BRACE_QUOTE_FORMS] + \
    [f"dash -c {q(p)}" for p in BRACE_QUOTE_FORMS] + \
    [f"bash --posix -c {q(p)}" for p in BRACE_QUOTE_FORMS[:2]] + [
    f"sh <<'EOF'\n{BRACE_QUOTE_FORMS[0]}\nEOF",
    f"cat <<'EOF' | sh\n{BRACE_QUOTE_FORMS[0]}\nEOF",
    BRACE_QUOTE_FORMS[0],
    f"bash -c {q(BRACE_QUOTE_FORMS[0])}",
    "sh -c 'echo \"${x#'\"'\"'a'\"'\"'}\"'",
    "dash -c 'echo \"${x/'\"'\"'a'\"'\"'/b}\"'",
    # bash itself reads the lines after a switch to POSIX mode the POSIX way
    "set -o posix\necho \"${x:-'}\"; touch CANARY; echo \"'}\"",
    "POSIXLY_CORRECT=1\necho \"${x:-'}\"; touch CANARY; echo \"'}\"",
]
PARAM_QUOTE_PASSES = [
    "echo \"${x:-default}\"",
    "echo \"${x:-\"a b\"}\"",
    "echo \"${x#'a'}\"",
    "echo \"${x:-'q'}\"",
    "echo ${x:-'a b'}",
    "sh -c 'echo ${x:-'\"'\"'a b'\"'\"'}'",
    "dash -c 'echo \"${x#'\"'\"'a'\"'\"'}\"'",
    "dash -c 'echo \"${x:-a}\"'",
    "bash --posix -c 'echo \"${x:-b}\"'",
    "echo \"${HOME}/x\"",
    "echo \"${#x}\"",
    "echo \"${x%.txt}\"",
    "echo \"${x/a/b}\"",
    "sh -c 'echo \"${x:-$(date)}\"'",
    f"echo \"${{x:-{T}}}\"",
    "echo \"${x:-'}\"; touch CANARY; echo \"'}\"",  # without the switch: one echo
]

# `$[ … ]`: bash's old arithmetic; its `<<` is a shift, not a here-document.
BRACKET_REFUSED = [
    f"echo $[1<<EOF]\n{T}\nEOF",
    f"x=$[2<<1]\n{T}",
    f": $[1 <<EOF ]\n{T}\nEOF",
    f"echo \"$[1<<EOF]\"\n{T}",
    f"bash -c {q('echo $[1<<EOF]' + chr(10) + T + chr(10) + 'EOF')}",
    f"echo $[ $({T}) ]",
    f"echo $[`{T}`]",
    "sh -c 'echo $[1]'",
    f"x='a[$({T})]'; echo $[x]",
    f"bash --posix -c {q('echo $[1<<EOF]' + chr(10) + T + chr(10) + 'EOF')}",
    "sh <<'E'\necho $[1]\nE",
    f"echo $[1<<EOF] | cat\n{T}\nEOF",
    f"(echo $[1<<EOF])\n{T}\nEOF",
    f"if true; then echo $[1<<EOF]; fi\n{T}\nEOF",
    f"cat $[1<<EOF] 2>/dev/null\n{T}\nEOF",
]
BRACKET_PASSES = [
    "echo $[1+2]",
    "echo $[ 2 * 3 ]",
    "x=1; x=$[x+1]",
    "echo '$[1<<EOF]'",
    "cat <<EOF\n$[1+1]\nEOF",
    f"dash -c {q('echo $[1<<EOF]' + chr(10) + T + chr(10) + 'EOF')}",
    "echo $[1<<2]",
    "echo \"$[3]\"",
    "echo \\$[1]",
    "echo $[ (1+2) * 3 ]",
    "arr=(a b); echo ${arr[$[0]]}",
    "bash -c 'echo $[4/2]'",
    f"cat <<EOF\n{T}\nEOF",
    "echo $[1<<EOF]",
    "test $[1] -eq 1 && echo one",
]

# Brace expansion: bash makes several words of one (`{touch,CANARY}` is `touch CANARY`); dash none.
BRACE_REFUSED = [
    "{touch,CANARY}",
    "{touch,CANARY,x}",
    "echo x; {touch,CANARY}",
    "{t,}ouch CANARY",
    "to{uch,} CANARY",
    "{/usr/bin/touch,CANARY}",
    "env {touch,CANARY}",
    "bash -c '{touch,CANARY}'",
    "sh -c '{touch,CANARY}'",
    "xargs {touch,CANARY} < /dev/null",
    "timeout 5 {touch,CANARY}",
    "{\"touch\",CANARY}",
    "{'touch','CANARY'}",
    "{touch,CANARY} > /dev/null",
    "true && {touch,CANARY}",
    "$(echo {touch,CANARY})",
]
BRACE_PASSES = [
    "echo {a,b}.txt",
    "mkdir -p src/{lib,bin} && rmdir src/{lib,bin} src",
    "echo file{,.bak}",
    "echo {1..5}",
    "awk '{print $1}' /dev/null",
    "find . -maxdepth 0 -exec echo {} \\;",
    "echo \"{touch,CANARY}\"",
    "echo '{touch,CANARY}'",
    "echo \\{touch,CANARY\\}",
    "dash -c '{touch,CANARY}'",
    "f() { echo hi; }; f",
    "echo {a..z}{0..9}",
    "for i in {1..10}; do echo $i; done",
    "git log --format='{%h}' 2>/dev/null",
    "echo x{}y {}",
    "printf '%s\\n' {a,b}{1,2}",
]

# Recursive arithmetic: a value the line sets, holding a subscript with `$( )`, evaluated.
HIDDEN = "x='a[$(touch CANARY)]'"
RECURSIVE_REFUSED = [
    f"{HIDDEN}; echo $((x))",
    f"{HIDDEN}; (( x ))",
    f"{HIDDEN}; echo $[x]",
    f"{HIDDEN}; let y=x",
    f"{HIDDEN}; [[ $x -eq 1 ]]",
    f"{HIDDEN}; [[ 1 -lt x ]]",
    f"read 'a[$({T})]' <<< 1",
    f"printf -v 'a[$({T})]' x",
    f"{HIDDEN}; echo ${{!x}}",
    f"declare -i y; {HIDDEN}; y=x",
    f"{HIDDEN}; b[x]=1",
    f"{HIDDEN}; declare -n r=$x; echo $r",
    f"y=x; {HIDDEN}; echo $((y))",
    f"s=abc; {HIDDEN}; echo ${{s:x}}",
    f"{HIDDEN}; test -v \"$x\"",
    f"x='a[`{T}`]'; echo $((x))",
    f"for x in 'a[$({T})]'; do echo $((x)); done",
    f"{HIDDEN} bash -c 'echo $((x))'",
    f"export {HIDDEN}; bash -c 'echo $((x))'",
    f"x='$({T})'; echo ${{x@P}}",
    f"PS4='$({T})'; set -x; :",
    f"x='a=($({T}))'; declare -a \"$x\"",
    f"declare -a 'a=($({T}))'",
    f"{HIDDEN}; y=${{!x:-z}}",
    f"{HIDDEN}; cat <<EOF\n$((x))\nEOF",
    # a value made at run time, from quoted text in the line shaped like a subscript with `$( )`
    f"read x <<< 'a[$({T})]'; echo $((x))",
    f"printf -v x %s 'a[$({T})]'; echo $((x))",
    f"x=$(echo 'a[$({T})]'); echo $((x))",
    f"read x <<'E'\na[$({T})]\nE\necho $((x))",
    f"let 'y=a[$({T})]'",
    f"[[ 'a[$({T})]' -eq 1 ]]",
    f"s=abc; echo ${{s:'$({T})'}}",
    f"s=abc; echo \"${{s:0:'$({T})'}}\"",
    f"a=(1); echo ${{a['$({T})']}}",
    f"a=(1); echo ${{#a['$({T})']}}",
    f"compgen -W '$({T})' x",
    f"compgen -C '{T}' x",
    f"mapfile -C '{T}' -c 1 arr <<< x",
    f"exec {{a['$({T})']}}>/dev/null",
    f"declare -a 'b[$({T})]=1'",
    f"b['$({T})']=1",
]
RECURSIVE_PASSES = [
    "x=3; echo $((x+1))",
    "x=$((2+3)); echo $x",
    "(( i = 0 )); while (( i < 3 )); do (( i++ )); done",
    "for ((i=0;i<3;i++)); do :; done",
    "a=(1 2 3); echo ${a[1]}",
    "s=hello; echo ${s:1:2}",
    "let n=5 m=n*2",
    "declare -i n=4; n=n+1",
    "[[ 3 -gt 2 ]] && echo yes",
    "read x <<< 5; echo $x",
    "printf -v out '%d' 5",
    "x='a[1]'; echo $((x))",
    f"x='$({T})'; echo \"$x\"",
    f"{HIDDEN}; echo \"$x\"",
    "echo $(( $# + 1 ))",
    "x=y; y=4; echo $((x*2))",
    "x=$((x+1))",
    "s=abcdef; echo ${s:1:'2'} ${s: -2}",
    "declare -A h=([k]=v); echo ${h['k']}",
    "compgen -W 'alpha beta' al",
    "mapfile -t lines <<< x; echo ${#lines[@]}",
    "exec {fd}>/dev/null; echo ok >&$fd",
    "b['1']=2; echo ${b[1]}",
    "arr=(); n=0; for f in $(ls); do echo \"${arr[$(date +%s)]}\"; n=$((n+1)); done",
    "for i in $(seq 3); do echo $i; done",
    "x=hi; echo ${x@P}",
    "PS4='+ '; set -x; :",
    "declare -a a=(1 2); echo ${a[@]}",
    f"x='$({T})'; echo ${{x@Q}}",
    f"cat <<'EOF'\n{HIDDEN}; $((x))\nEOF",
]

# A script a shell reads from a process substitution or a here-string is that shell's script.
FED_REFUSED = [
    f"bash <(echo {T})",
    f"sh <(echo {T})",
    f"sh < <(printf '{T}\\n')",
    f"bash < <(echo {T})",
    f"bash <<< '{T}'",
    f"sh <<< '{T}'",
    f"dash <<< '{T}'",
    f"source <(echo {T})",
    f". <(echo {T})",
    f"bash -s < <(echo {T})",
    f"env bash <(echo {T})",
    f"bash <(cat <<'EOF'\n{T}\nEOF\n)",
    f"bash -e <(echo {T})",
    f"bash <<< \"{T}\"",
    f"timeout 5 bash <(printf '{T}')",
    f"bash -- <(echo {T})",
]
FED_PASSES = [
    "diff <(sort /dev/null) <(sort /dev/null)",
    "cat <(echo hi)",
    "paste <(seq 3) <(seq 3)",
    "bash <<< 'echo hi'",
    f"wc -l <<< '{T}'",
    f"grep x < <(echo {T})",
    "bash -c 'cat <(echo ok)'",
    "bash <(echo echo ok)",
    "sh < <(printf 'echo ok\\n')",
    "cat <<< \"$(date)\"",
    "tee >(wc -l) < /dev/null",
    "source <(echo echo hi)",
    "while read l; do echo $l; done < <(echo a)",
    f"echo {T} > /dev/null",
    f"bash -c 'echo ok' <(echo {T})",
]

CLASSES = {
    "arith-command": (ARITH_REFUSED, ARITH_PASSES),
    "cond-command": (COND_REFUSED, COND_PASSES),
    "ansi-c-quote": (ANSI_REFUSED, ANSI_PASSES),
    "param-quote": (PARAM_QUOTE_REFUSED, PARAM_QUOTE_PASSES),
    "dollar-bracket": (BRACKET_REFUSED, BRACKET_PASSES),
    "brace-expansion": (BRACE_REFUSED, BRACE_PASSES),
    "recursive-arith": (RECURSIVE_REFUSED, RECURSIVE_PASSES),
    "fed-to-shell": (FED_REFUSED, FED_PASSES),
}
REFUSED = [pytest.param(line, id=f"{name}-{i}") for name, (rows, _) in CLASSES.items()
           for i, line in enumerate(rows)]
PASSES = [pytest.param(line, id=f"{name}-{i}") for name, (_, rows) in CLASSES.items()
          for i, line in enumerate(rows)]


def refused(line: str, policy: CommandPolicy = DENY_TOUCH) -> str | None:
    try:
        check_command(line, policy)
    except PolicyViolation as err:
        return str(err)
    return None


def test_every_class_has_enough_rows() -> None:
    for name, (refused_rows, passing_rows) in CLASSES.items():
        assert len(refused_rows) >= 15 and len(passing_rows) >= 15, name


@pytest.mark.parametrize("line", REFUSED)
def test_refused(line: str) -> None:
    assert refused(line) is not None, f"{line!r} was allowed"


@pytest.mark.parametrize("line", PASSES)
def test_near_misses_pass(line: str) -> None:
    assert refused(line, CommandPolicy()) is None
    assert refused(line) is None


def shells_create_canary(line: str, tmp_path: Path) -> list[str]:
    """Runs the line as mgexec does (`bash -c`), once per shell `sh` may be (see SH_SHELLS);
    returns the configurations in which CANARY appeared."""
    created = []
    for sh in SH_SHELLS:
        work = tmp_path / sh
        bindir = tmp_path / f"bin-{sh}"
        work.mkdir()
        bindir.mkdir()
        (bindir / "sh").symlink_to(shutil.which(sh))
        env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
        subprocess.run(["bash", "-c", line], cwd=work, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=20, check=False)
        if (work / "CANARY").exists():
            created.append(f"sh={sh}")
    return created


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("dash")), reason="needs bash and dash")
@pytest.mark.parametrize("line", REFUSED + PASSES)
def test_what_real_shells_run_is_seen(line: str, tmp_path: Path) -> None:
    created = shells_create_canary(line, tmp_path)
    if created:
        assert refused(line) is not None, f"{line!r} ran `touch` ({created}) unseen"
    if refused(line, CommandPolicy()) is None and refused(line) is None:
        assert not created, f"near miss {line!r} created CANARY ({created})"


@pytest.mark.parametrize("line, fragment", [
    ("sh -c '((x++))'", "`(( … ))` means different things"),
    ("sh -c '[[ -f x ]]'", "`[[ … ]]`"),
    ("sh -c \"echo \\$'\\t'\"", "`$'…'`"),
    ("sh -c 'cat <<< x'", "`<<<`"),
    ("sh -c 'echo x &> f'", "`&>`"),
    ("sh -c 'ls |& cat'", "`|&`"),
    ("sh -c 'cat <(ls)'", "`<( … )`"),
    ("sh -c 'a=(1 2)'", "`name=( … )`"),
    ("sh -c 'function f { ls; }'", "`function NAME`"),
    ("sh -c 'echo $[1]'", "`$[ … ]`"),
    ("sh -c 'echo $((ls) )'", "`$(( … ) )`"),
    ("sh -c 'case a in a) ls;& esac'", "`;& / ;;&`"),
    ("sh -c 'echo \"${x:-'\"'\"'a'\"'\"'}\"'", "inside \"${x:-…}\""),
    ("echo '[[ -f x ]]' | sh", "`[[ … ]]`"),
    ("sh <<'EOF'\n((x++))\nEOF", "`(( … ))`"),
])
def test_sh_refusals_name_the_construct_and_the_portable_way(line: str, fragment: str) -> None:
    message = refused(line, CommandPolicy())
    assert message is not None and fragment in message
    assert "write" in message or "use" in message or "quote" in message


@pytest.mark.parametrize("line", [
    "echo $((N + 1))",
    "for i in $(seq 3); do echo $((i*2)); done",
    "read n < /dev/null; echo $((n))",
    "echo $(( $(wc -l < /dev/null) + 1 ))",
    "(( COUNT > 1 ))",
    "[[ $LIMIT -gt 3 ]]",
    "s=abc; echo ${s:OFFSET}",
    "echo ${!NAME}",
    "bash <(curl -s http://127.0.0.1:9/x)",
    "sh < <(cat script.sh)",
    "declare -n ref=$TARGET",
    "read \"a[$i]\" < /dev/null",
    "x=$(cat f); echo $((x+1))",
    "let y=EXTERNAL",
    "arr=(1 2); echo ${arr[IDX]}",
    "echo ${PROMPT@P}",
    "curl -s http://127.0.0.1:9/x | sh",
    "base64 -d payload | bash",
    "cat x.sh | sh",
    "$X arg",
    "eval \"$X\"",
    "\"$SHELL\" -c \"$X\"",
    "$(which python3) -V",
    "cat <<EOF\n$((LINES_LEFT - 1))\nEOF",
])
def test_text_made_at_run_time_is_refused_only_under_an_allow_list(line: str) -> None:
    assert refused(line, CommandPolicy()) is None
    allow_all = CommandPolicy(allow_patterns=(".*",))
    message = refused(line, allow_all)
    assert message is not None and "made only when the line runs" in message


@pytest.mark.parametrize("line, refused_because", [
    ("set -o history -o histexpand\necho CANARY\n^echo^touch", "history expansion"),
    ("set -H", "history expansion"),
    ("set -eH", "history expansion"),
    ("bash -H -c 'echo'", "history expansion"),
    ("shopt -u extquote", "extquote"),
    ("shopt -s compat31", "compat31"),
    ("BASH_COMPAT=3.1 ls", "BASH_COMPAT"),
    ("export BASH_COMPAT=4.4", "BASH_COMPAT"),
    ("bash -c 'shopt -u extquote'", "extquote"),
])
def test_options_that_change_how_bash_reads_later_lines_are_refused(line: str, refused_because: str) -> None:
    message = refused(line, CommandPolicy())
    assert message is not None and refused_because in message


@pytest.mark.parametrize("line", [
    "set -e", "set -euo pipefail", "set -x; echo hi", "shopt -s nullglob globstar", "set -- -H",
    "shopt -s extglob", "set +o posix", "echo histexpand", "set -o errexit",
])
def test_ordinary_options_pass(line: str) -> None:
    assert refused(line, CommandPolicy()) is None


FUZZ_PIECES = [
    T, "touch", " CANARY", "echo ", ":", "x=1", f"x='a[$({T})]'", "$((x))", "((", "))", "(", ")",
    "[[ ", " ]]", "{", "}", ",", "{t,}ouch", "$'", "\\x74", "'", '"', "\\", "$", "${x:-", "$(", "`",
    ";", "&&", "||", "|", "\n", "<<EOF\n", "\nEOF\n", "$[", "]", "[", " ", " ", "=~", "-eq", "let ",
    "eval ", "bash -c ", "sh -c ", "<<<", "<(", "&", "#", "case x in x) ", ";; esac", "!", "@",
    "declare -a ", "read ", "printf -v ",
]


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("dash")), reason="needs bash and dash")
@pytest.mark.parametrize("wrap", ["", "sh -c", "dash -c", "bash -c"])
def test_random_lines_run_no_command_unseen(wrap: str, tmp_path: Path) -> None:
    """Deterministic differential fuzzing: of random lines the guard rails let through (with
    `touch` denied), none makes a real shell run `touch` (a stub that logs its calls)."""
    rnd = random.Random(2026)
    stub, log = tmp_path / "stub", tmp_path / "log"
    stub.mkdir()
    (stub / "touch").write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    (stub / "touch").chmod(0o755)
    passed = 0
    for _ in range(600):
        line = "".join(rnd.choice(FUZZ_PIECES) for _ in range(rnd.randint(1, 14)))
        if rnd.random() < 0.5:
            line = line.replace("'", "").replace('"', "")
        line = f"{wrap} {q(line)}" if wrap else line
        if refused(line) is not None:
            continue
        passed += 1
        for sh in SH_SHELLS:
            bindir = tmp_path / f"bin-{sh}"
            bindir.mkdir(exist_ok=True)
            if not (bindir / "sh").exists():
                (bindir / "sh").symlink_to(shutil.which(sh))
            work = tmp_path / "work"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            env = {"PATH": f"{stub}:{bindir}:/usr/bin:/bin", "HOME": str(work)}
            try:
                subprocess.run(["bash", "-c", line], cwd=work, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=5, check=False)
            except subprocess.TimeoutExpired:
                pass
            assert not log.exists(), f"{line!r} ran touch unseen (sh={sh}): {log.read_text()!r}"
    assert passed > 50


@pytest.mark.parametrize("words, label, expected", [
    (("bash", "-c", "x"), "bash -c", (BASH,)),
    (("/bin/bash", "-ec", "x"), "bash -c", (BASH,)),
    (("bash", "--posix", "-c", "x"), "bash -c", (BASH_POSIX,)),
    (("bash", "-o", "posix", "-c", "x"), "bash -c", (BASH_POSIX,)),
    (("dash", "-c", "x"), "dash -c", (DASH,)),
    (("sh", "-c", "x"), "sh -c", SH_READINGS),
    (("/usr/bin/ash", "-c", "x"), "ash -c", SH_READINGS),
    (("ksh", "-c", "x"), "ksh -c", SH_READINGS),
    (("su", "-c", "x"), "su -c", SH_READINGS + (BASH,)),
    (("watch", "x"), "watch", SH_READINGS),
    (("eval", "x"), "eval", (DASH,)),
    (("trap", "x", "EXIT"), "trap", (DASH,)),
])
def test_each_shell_reads_its_script_in_its_dialects(words, label, expected) -> None:
    assert wrapper_dialects(label, words, (DASH,)) == expected


def test_a_bash_script_that_may_switch_to_posix_mode_is_read_both_ways() -> None:
    assert with_mode_switches("set -o posix; ls", (BASH,)) == (BASH, BASH_POSIX)
    assert with_mode_switches("ls", (BASH,)) == (BASH,)
    assert with_mode_switches("set -o posix", (DASH,)) == (DASH,)
