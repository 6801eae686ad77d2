"""Tables for the shell parser: which simple commands a line runs, with what words and redirections."""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from mgexec.errors import PolicyViolation
from mgexec.policy import Redirect, ShellSyntaxError, SimpleCommand, parse_command_line


def words_of(line: str) -> list[tuple[str, ...]]:
    return [cmd.words for cmd in parse_command_line(line)]


# Every simple command the line runs, in order (substitutions before the command that uses them).
SIMPLE_COMMAND_CASES = [
    # plain words and quote removal
    ("ls -la", [("ls", "-la")]),
    ("  ls   -la  ", [("ls", "-la")]),
    ("", []),
    ("   \n\n  ", []),
    ("echo 'a;b' \"c && d\"", [("echo", "a;b", "c && d")]),
    ("echo a\\;b a#b", [("echo", "a;b", "a#b")]),
    ("echo '' \"\" x", [("echo", "", "", "x")]),
    ("echo \"it's\" 'say \"hi\"'", [("echo", "it's", 'say "hi"')]),
    ("echo \"a\\\"b\" \"\\$x\" \"\\q\"", [("echo", 'a"b', "$x", "\\q")]),
    ("e'ch'o h\"i\"", [("echo", "hi")]),
    ("\\rm x", [("rm", "x")]),
    ("r\\m x", [("rm", "x")]),
    ("\"rm\" x", [("rm", "x")]),
    ("echo $'a\\tb' $'\\x72m' $'\\162m' $'it\\'s'", [("echo", "a\tb", "rm", "rm", "it's")]),
    ("echo $\"hi $USER\"", [("echo", "hi $USER")]),
    ("echo $HOME ${HOME} $1 $? $@", [("echo", "$HOME", "${HOME}", "$1", "$?", "$@")]),
    ("echo $", [("echo", "$")]),
    ("echo {a,b} ~/x *.py", [("echo", "a", "b", "~/x", "*.py")]),  # bash brace-expands
    ("ls \\\n  -la", [("ls", "-la")]),
    ("echo \"multi\nline\"", [("echo", "multi\nline")]),
    # lists, pipelines, background jobs, newlines
    ("ls;pwd", [("ls",), ("pwd",)]),
    ("ls && pwd || id", [("ls",), ("pwd",), ("id",)]),
    ("ls&&pwd||id", [("ls",), ("pwd",), ("id",)]),
    ("ls | grep x | wc -l", [("ls",), ("grep", "x"), ("wc", "-l")]),
    ("ls |& cat", [("ls",), ("cat",)]),
    ("ls & pwd", [("ls",), ("pwd",)]),
    ("ls &", [("ls",)]),
    ("ls\npwd\n", [("ls",), ("pwd",)]),
    ("ls &&\n pwd", [("ls",), ("pwd",)]),
    ("ls |\n wc", [("ls",), ("wc",)]),
    ("! grep x f", [("grep", "x", "f")]),
    ("time -p make | tee log", [("make",), ("tee", "log")]),
    ("time", []),
    # comments
    ("ls # rm -rf /", [("ls",)]),
    ("# only a comment", []),
    ("ls #c\npwd", [("ls",), ("pwd",)]),
    # assignments are not words
    ("FOO=1 BAR=\"a b\" python x.py", [("python", "x.py")]),
    ("A=1", [()]),
    ("x+=1 arr[2]=y cmd", [("cmd",)]),
    ("cmd A=1", [("cmd", "A=1")]),
    ("\"A=1\" cmd", [("A=1", "cmd")]),
    # groups, subshells and compound commands
    ("(cd /tmp && ls)", [("cd", "/tmp"), ("ls",)]),
    ("( (ls) )", [("ls",)]),
    ("{ ls; pwd; }", [("ls",), ("pwd",)]),
    ("{ ls\n}", [("ls",)]),
    ("echo { } x", [("echo", "{", "}", "x")]),
    ("if a; then b; elif c; then d; else e; fi", [("a",), ("b",), ("c",), ("d",), ("e",)]),
    ("if ! a\nthen\n b\nfi", [("a",), ("b",)]),
    ("for i in $(seq 3); do echo $i; done", [("seq", "3"), ("echo", "$i")]),
    ("for i do echo $i; done", [("echo", "$i")]),
    ("for i\nin a b\ndo\necho $i\ndone", [("echo", "$i")]),
    ("for ((i=0; i<3; i++)); do id; done", [("id",)]),
    ("select x in a b; do id; done", [("id",)]),
    ("while read l; do echo \"$l\"; done < in.txt", [("read", "l"), ("echo", "$l")]),
    ("until false; do id; done", [("false",), ("id",)]),
    ("case $x in a|b) rm x;; (c) ls;& *) pwd;;& esac", [("rm", "x"), ("ls",), ("pwd",)]),
    ("case x in\n  a) id\n  ;;\nesac", [("id",)]),
    ("case x in esac", []),
    ("[[ -f x && $a < $b ]] && echo yes", [("echo", "yes")]),
    ("(( i++ )) || echo no", [("echo", "no")]),
    ("((ls); pwd)", [("ls",), ("pwd",)]),
    # bash reads this as arithmetic, as we do: nothing runs, but `ls` is a variable the line does
    # not set, evaluated as arithmetic: a word-less entry carries that run-time value (`unseen`)
    ("((((ls))))", [()]),
    ("echo done fi then }", [("echo", "done", "fi", "then", "}")]),
    ("echo if; echo case", [("echo", "if"), ("echo", "case")]),
    # function definitions: the body's commands are commands too
    ("f() { rm x; }; f", [("rm", "x"), ("f",)]),
    ("f () ( ls )", [("ls",)]),
    ("function g { pwd; }", [("pwd",)]),
    ("function h() { id; }", [("id",)]),
    ("f()\n{\n ls\n}", [("ls",)]),
    # command and process substitution, anywhere in a word, nested
    ("echo $(rm -rf /)", [("rm", "-rf", "/"), ("echo", "$(rm -rf /)")]),
    ("echo `whoami`", [("whoami",), ("echo", "`whoami`")]),
    ("echo \"x $(id -u) y\"", [("id", "-u"), ("echo", "x $(id -u) y")]),
    ("echo \"`id`\"", [("id",), ("echo", "`id`")]),
    ("echo pre$(id)post", [("id",), ("echo", "pre$(id)post")]),
    ("echo \"$(a \"$(b)\")\"", [("b",), ("a", "$(b)"), ("echo", '$(a "$(b)")')]),
    ("echo $(echo $(echo deep))", [("echo", "deep"), ("echo", "$(echo deep)"),
                                   ("echo", "$(echo $(echo deep))")]),
    ("echo `echo \\`id\\``", [("id",), ("echo", "`id`"), ("echo", "`echo \\`id\\``")]),
    ("echo $( echo \")\" )", [("echo", ")"), ("echo", '$( echo ")" )')]),
    ("echo $(case x in a) id;; esac)", [("id",), ("echo", "$(case x in a) id;; esac)")]),
    ("echo $(ls\npwd)", [("ls",), ("pwd",), ("echo", "$(ls\npwd)")]),
    ("X=$(id) cmd", [("id",), ("cmd",)]),
    ("A=$(rm x)", [("rm", "x"), ()]),
    ("echo ${x:-$(id)}", [("id",), ("echo", "${x:-$(id)}")]),
    ("echo \"${x:-`id`}\"", [("id",), ("echo", "${x:-`id`}")]),
    ("echo ${#x} ${x%%/*} ${x/a/b}", [("echo", "${#x}", "${x%%/*}", "${x/a/b}")]),
    ("echo $((1 + $(id -u)))", [("id", "-u"), ("echo", "$((1 + $(id -u)))")]),
    ("echo $((2*3))", [("echo", "$((2*3))")]),
    ("(( x = $(id -u) ))", [("id", "-u"), ()]),  # the output of `id -u` is evaluated: unseen
    ("diff <(ls a) >(wc)", [("ls", "a"), ("wc",), ("diff", "<(ls a)", ">(wc)")]),
    ("cat > $(mktemp)", [("mktemp",), ("cat",)]),
    ("for f in `ls`; do :; done", [("ls",), (":",)]),
    ("case $(id) in *) ;; esac", [("id",)]),
    ("[[ $(id) == x ]]", [("id",)]),
    ("arr=(a $(id) c); echo ${arr[@]}", [("id",), (), ("echo", "${arr[@]}")]),
    ("arr=(\n a\n b\n)", [()]),
    # here-documents: the body is data, but an unquoted body's substitutions run
    ("cat <<EOF\nrm -rf /\nEOF", [("cat",)]),
    ("cat <<EOF\n$(id)\nEOF\nls", [("id",), ("cat",), ("ls",)]),
    ("cat <<'EOF'\n$(id)\nEOF", [("cat",)]),
    ("cat <<\"EOF\"\n`id`\nEOF", [("cat",)]),
    ("cat <<\\EOF\n$(id)\nEOF", [("cat",)]),
    ("cat <<-EOF\n\t$(id)\n\tEOF\npwd", [("id",), ("cat",), ("pwd",)]),
    ("cat <<A <<B\na\nA\nb $(id)\nB\npwd", [("id",), ("cat",), ("pwd",)]),
    ("cat <<EOF; ls\nbody\nEOF\npwd", [("cat",), ("ls",), ("pwd",)]),
    ("cat <<EOF\nno terminator", [("cat",)]),
    ("x=$(cat <<EOF\nhi\nEOF\n)", [("cat",), ()]),
    ("cat <<< \"$(id)\"", [("id",), ("cat",)]),
]


@pytest.mark.parametrize("line, expected", SIMPLE_COMMAND_CASES)
def test_simple_commands(line: str, expected: list[tuple[str, ...]]) -> None:
    assert words_of(line) == expected


# Wrappers expose the command they run, after the wrapper itself.
@pytest.mark.parametrize("line, inner, via", [
    ("env rm -rf /", ("rm", "-rf", "/"), ("env",)),
    ("env -i PATH=/bin FOO=1 rm x", ("rm", "x"), ("env",)),
    ("env -u HOME -C /tmp -- rm x", ("rm", "x"), ("env",)),
    ("env - rm x", ("rm", "x"), ("env",)),
    ("env --unset=HOME rm x", ("rm", "x"), ("env",)),
    ("env -S 'rm -r x'", ("rm", "-r", "x"), ("env -S",)),
    ("env --split-string='rm x'", ("rm", "x"), ("env -S",)),
    ("env -iS'rm x'", ("rm", "x"), ("env -S",)),
    ("env -iS 'rm x'", ("rm", "x"), ("env -S",)),
    ("chroot /srv/root rm x", ("rm", "x"), ("chroot",)),
    ("unshare -r -w /tmp rm x", ("rm", "x"), ("unshare",)),
    ("/usr/bin/env rm x", ("rm", "x"), ("env",)),
    ("nice rm x", ("rm", "x"), ("nice",)),
    ("nice -n 10 rm x", ("rm", "x"), ("nice",)),
    ("nice -n10 rm x", ("rm", "x"), ("nice",)),
    ("nice -5 rm x", ("rm", "x"), ("nice",)),
    ("nohup rm x &", ("rm", "x"), ("nohup",)),
    ("timeout 5 rm x", ("rm", "x"), ("timeout",)),
    ("timeout -s KILL -k 1 5s rm x", ("rm", "x"), ("timeout",)),
    ("timeout --signal=TERM 5 rm x", ("rm", "x"), ("timeout",)),
    ("timeout -- 5 rm x", ("rm", "x"), ("timeout",)),
    ("xargs rm", ("rm",), ("xargs",)),
    ("xargs -0 -n 1 -P4 rm -f", ("rm", "-f"), ("xargs",)),
    ("xargs -I {} rm {}", ("rm", "{}"), ("xargs",)),
    ("xargs -I{} rm {}", ("rm", "{}"), ("xargs",)),
    ("xargs -i rm {}", ("rm", "{}"), ("xargs",)),
    ("xargs --max-args=1 rm", ("rm",), ("xargs",)),
    ("exec rm x", ("rm", "x"), ("exec",)),
    ("exec -a name rm x", ("rm", "x"), ("exec",)),
    ("command rm x", ("rm", "x"), ("command",)),
    ("command -p rm x", ("rm", "x"), ("command",)),
    ("builtin echo x", ("echo", "x"), ("builtin",)),
    ("/usr/bin/time -f %e rm x", ("rm", "x"), ("time",)),
    ("\\time rm x", ("rm", "x"), ("time",)),
    ("stdbuf -oL -e0 rm x", ("rm", "x"), ("stdbuf",)),
    ("stdbuf --output=L rm x", ("rm", "x"), ("stdbuf",)),
    ("sudo rm x", ("rm", "x"), ("sudo",)),
    ("sudo -u bob -E rm x", ("rm", "x"), ("sudo",)),
    ("sudo --user=bob rm x", ("rm", "x"), ("sudo",)),
    ("sudo -- rm x", ("rm", "x"), ("sudo",)),
    ("doas -u bob rm x", ("rm", "x"), ("doas",)),
    ("setsid rm x", ("rm", "x"), ("setsid",)),
    ("ionice -c 3 rm x", ("rm", "x"), ("ionice",)),
    ("taskset -c 0 rm x", ("rm", "x"), ("taskset",)),
    ("chrt -f 10 rm x", ("rm", "x"), ("chrt",)),
    ("busybox rm x", ("rm", "x"), ("busybox",)),
    ("coproc rm x", ("rm", "x"), ("coproc",)),
    ("find . -name '*.o' -exec rm {} \\;", ("rm", "{}"), ("find -exec",)),
    ("find . -execdir rm {} +", ("rm", "{}"), ("find -execdir",)),
    ("find . -ok rm {} ';'", ("rm", "{}"), ("find -ok",)),
    # shells running a string, eval, su -c: the string is parsed as a script
    ("bash -c 'rm x'", ("rm", "x"), ("bash -c",)),
    ("sh -c \"rm x\"", ("rm", "x"), ("sh -c",)),
    ("sh -ec 'rm x'", ("rm", "x"), ("sh -c",)),
    ("bash -lc 'rm x'", ("rm", "x"), ("bash -c",)),
    ("bash -o pipefail -c 'rm x'", ("rm", "x"), ("bash -c",)),
    ("bash --norc -c 'rm x' arg0", ("rm", "x"), ("bash -c",)),
    ("/bin/dash -c 'ls; rm x'", ("rm", "x"), ("dash -c",)),
    ("zsh -c 'rm x'", ("rm", "x"), ("zsh -c",)),
    ("bash -c 'bash -c \"rm x\"'", ("rm", "x"), ("bash -c", "bash -c")),
    ("eval 'rm x'", ("rm", "x"), ("eval",)),
    ("eval rm x", ("rm", "x"), ("eval",)),
    ("eval \"$(echo)\"; eval 'a && rm x'", ("rm", "x"), ("eval",)),
    ("su -c 'rm x' bob", ("rm", "x"), ("su -c",)),
    ("su - bob -c 'rm x'", ("rm", "x"), ("su -c",)),
    ("su --command='rm x'", ("rm", "x"), ("su -c",)),
    ("watch -n 5 'rm x'", ("rm", "x"), ("watch",)),
    ("watch -d rm x", ("rm", "x"), ("watch",)),
    ("watch -x rm x", ("rm", "x"), ("watch",)),
    ("trap 'rm x' EXIT", ("rm", "x"), ("trap",)),
    ("trap -- 'rm x' INT TERM", ("rm", "x"), ("trap",)),
    ("alias x='rm x'", ("rm", "x"), ("alias",)),
    ("alias ll='ls -l' y='rm x'", ("rm", "x"), ("alias",)),
    # scripts fed to a shell on stdin
    ("bash <<EOF\nrm x\nEOF", ("rm", "x"), ("bash <<",)),
    ("sh <<'EOF'\nls\nrm x\nEOF", ("rm", "x"), ("sh <<",)),
    ("bash -s <<< 'rm x'", ("rm", "x"), ("bash <<<",)),
    ("echo 'rm x' | sh", ("rm", "x"), ("sh reading a pipe",)),
    ("echo -n rm x | bash", ("rm", "x"), ("bash reading a pipe",)),
    ("printf 'ls\\nrm x\\n' | sh", ("rm", "x"), ("sh reading a pipe",)),
    ("cat <<EOF | bash\nrm x\nEOF", ("rm", "x"), ("bash reading a pipe",)),
    ("printf '\\x72m x' | sh", ("rm", "x"), ("sh reading a pipe",)),
    ("echo -e 'r\\x6d x' | sh", ("rm", "x"), ("sh reading a pipe",)),
    ("echo 'rm x' | sudo bash", ("rm", "x"), ("sudo", "bash reading a pipe")),
    # wrappers of wrappers
    ("nice -n 5 env -i sudo rm x", ("rm", "x"), ("nice", "env", "sudo")),
    ("timeout 5 bash -c 'env rm x'", ("rm", "x"), ("timeout", "bash -c", "env")),
    ("xargs -I{} sh -c 'rm {}'", ("rm", "{}"), ("xargs", "sh -c")),
    ("find . -exec sh -c 'rm \"$1\"' _ {} \\;", ("rm", "$1"), ("find -exec", "sh -c")),
    ("busybox sh -c 'rm x'", ("rm", "x"), ("busybox", "sh -c")),
])
def test_wrappers_expose_the_command_they_run(line: str, inner: tuple[str, ...],
                                              via: tuple[str, ...]) -> None:
    found = [(cmd.words, cmd.via) for cmd in parse_command_line(line)]
    assert (inner, via) in found


@pytest.mark.parametrize("line", [
    "command -v rm",
    "command -V sudo",
    "sudo -l",
    "sudo -v",
    "env",
    "env -i",
    "env FOO=1",
    "nice",
    "timeout 5",
    "xargs",
    "bash",
    "bash script.sh",
    "sh -x script.sh",
    "cat file | bash",
    "bash < script.sh",
    "eval",
    "su bob",
    "find . -name x -print",
    "ionice -p 123",
    "taskset -p 123",
    "cat <<EOF | python3\nprint(1)\nEOF",
    "echo hello | tr a-z A-Z",
    "echo rm x | bash script.sh",
    "trap - EXIT",
    "trap -p",
    "trap INT",
    "alias",
    "alias ll",
    "watch",
])
def test_commands_that_run_no_other_command(line: str) -> None:
    assert all(cmd.via == () for cmd in parse_command_line(line))


def test_the_wrapper_itself_is_a_command_too() -> None:
    assert words_of("env FOO=1 sudo -u x bash -c 'rm -rf / && ls'") == [
        ("env", "FOO=1", "sudo", "-u", "x", "bash", "-c", "rm -rf / && ls"),
        ("sudo", "-u", "x", "bash", "-c", "rm -rf / && ls"),
        ("bash", "-c", "rm -rf / && ls"),
        ("rm", "-rf", "/"),
        ("ls",),
    ]


@pytest.mark.parametrize("line, command_index, expected", [
    ("ls > out 2>&1", 0, (Redirect(">", "out"), Redirect(">&", "1", "2"))),
    ("ls >>log 2>/dev/null", 0, (Redirect(">>", "log"), Redirect(">", "/dev/null", "2"))),
    ("cat <in >|out", 0, (Redirect("<", "in"), Redirect(">|", "out"))),
    ("cmd &> all", 0, (Redirect("&>", "all"),)),
    ("cmd &>> all", 0, (Redirect("&>>", "all"),)),
    ("exec 3<>file", 0, (Redirect("<>", "file", "3"),)),
    ("cmd 2>&-", 0, (Redirect(">&", "-", "2"),)),
    ("> /dev/sda", 0, (Redirect(">", "/dev/sda"),)),
    ("echo x >\"/dev/sd\"'a'", 0, (Redirect(">", "/dev/sda"),)),
    ("echo >x y", 0, (Redirect(">", "x"),)),
    ("cat <<< 'hi there'", 0, (Redirect("<<<", "hi there", body="hi there\n"),)),
    ("cat <<EOF\nline $x\nEOF", 0, (Redirect("<<", "EOF", body="line $x\n"),)),
    ("cat <<-END\n\tx\n\tEND", 0, (Redirect("<<-", "END", body="x\n"),)),
    ("cat <<'A B'\nx\nA B", 0, (Redirect("<<", "A B", body="x\n"),)),
    # a block's redirections apply to every command inside it
    ("{ ls; pwd; } > /dev/sda", 1, (Redirect(">", "/dev/sda"),)),
    ("while read l; do echo $l > x; done < in", 1, (Redirect("<", "in"), Redirect(">", "x"))),
    ("(ls) 2> err", 0, (Redirect(">", "err", "2"),)),
])
def test_redirections(line: str, command_index: int, expected: tuple[Redirect, ...]) -> None:
    assert parse_command_line(line)[command_index].redirects == expected


def test_redirection_targets_are_not_words() -> None:
    assert words_of("echo hi > out.txt 2>&1 < in.txt") == [("echo", "hi")]


# (line, [(words, function, in_pipeline, background)]) for fork-bomb shapes
@pytest.mark.parametrize("line, expected", [
    (":(){ :|:& };:", [((":",), ":", True, True), ((":",), ":", True, True), ((":",), None, False, False)]),
    ("bomb(){ bomb|bomb& }; bomb", [(("bomb",), "bomb", True, True), (("bomb",), "bomb", True, True),
                                   (("bomb",), None, False, False)]),
    ("f() { f & f & }", [(("f",), "f", False, True), (("f",), "f", False, True)]),
    ("f() { g; }", [(("g",), "f", False, False)]),
    ("ls | wc &", [(("ls",), None, True, True), (("wc",), None, True, True)]),
    ("f() { ls; } | cat", [(("ls",), "f", False, False), (("cat",), None, True, False)]),
    ("f() { echo $(f | f); }", [(("f",), "f", True, False), (("f",), "f", True, False),
                                (("echo", "$(f | f)"), "f", False, False)]),
    ("f() { ( f | f ) & }", [(("f",), "f", True, True), (("f",), "f", True, True)]),
])
def test_function_and_job_context(line: str, expected: list[tuple]) -> None:
    found = [(c.words, c.function, c.in_pipeline, c.background) for c in parse_command_line(line)]
    assert found == expected


@pytest.mark.parametrize("words, name, text", [
    (("ls", "-la"), "ls", "ls -la"),
    (("/usr/bin/sudo", "ls"), "sudo", "/usr/bin/sudo ls"),
    (("./run.sh",), "run.sh", "./run.sh"),
    (("echo", "a b"), "echo", "echo a b"),
    ((), "", ""),
])
def test_name_and_text(words: tuple[str, ...], name: str, text: str) -> None:
    cmd = SimpleCommand(words=words, raw="")
    assert (cmd.name, cmd.text) == (name, text)


def test_raw_is_the_source_text_of_each_command() -> None:
    assert [c.raw for c in parse_command_line("ls  -la 'x' ;  FOO=1 pwd > out")] == [
        "ls  -la 'x'", "FOO=1 pwd > out"]


SYNTAX_ERROR_CASES = [
    ("echo 'unclosed", "single quote"),
    ("echo \"unclosed", "double quote"),
    ("echo \"a $(b\"", "never closed"),
    ("echo $'x", "`$'` quote is never closed"),
    ("echo $(ls", "`$(` or `<(` is never closed"),
    ("echo $(ls; (pwd)", "never closed"),
    ("cat <(ls", "`$(` or `<(` is never closed"),
    ("echo `ls", "backtick"),
    ("echo ${x", "`${` is never closed"),
    ("echo ${x:-$(id}", "never closed"),
    ("(ls", "`(` is never closed"),
    ("(ls; (pwd)", "`(` is never closed"),
    ("ls)", "unexpected `)`"),
    (")", "unexpected `)`"),
    ("()", "empty `( )`"),
    ("{ ls", "missing `}`"),
    ("{ ls }", "missing `}`"),
    ("}", "unexpected `}`"),
    ("if true; then ls", "missing `fi`"),
    ("if true; ls; fi", "unexpected `fi`"),
    ("fi", "unexpected `fi`"),
    ("then ls", "unexpected `then`"),
    ("for x in a; do ls", "missing `done`"),
    ("while true; ls; done", "unexpected `done`"),
    ("done", "unexpected `done`"),
    ("case a in a) ls", "missing `esac`"),
    ("case a in a) ls;; *) pwd", "missing `esac`"),
    ("esac", "unexpected `esac`"),
    ("[[ -f x", "`[[` is never closed"),
    ("ls &&", "ends in the middle of a command"),
    ("ls ||", "ends in the middle of a command"),
    ("ls |", "ends in the middle of a command"),
    ("| ls", "unexpected `|`"),
    ("&& ls", "unexpected `&&`"),
    ("; ls", "unexpected `;`"),
    ("ls ;; pwd", "unexpected `;;`"),
    ("ls & & pwd", "unexpected `&`"),
    ("ls >", "`>` has no file name"),
    ("ls > | wc", "`>` has no file name"),
    ("ls 2>", "`2>` has no file name"),
    ("f() ls", "must be a block"),
    ("f( ) { ls; } x", "unexpected"),
    ("{ }", "empty `{ }`"),
    ("in x", "unexpected `in`"),
    ("]]", "unexpected `]]`"),
    ("echo (x)", "expected `()`"),
    ("arr=(a b", "array"),
]
# Errors inside strings that another shell would parse later (bash -n cannot see these).
INNER_SCRIPT_ERROR_CASES = [
    ("bash -c 'echo \"oops'", "in the script run by `bash -c`: a double quote"),
    ("eval 'if x'", "in the script run by `eval`"),
    ("sh <<EOF\nif true\nEOF", "in the script run by `sh <<`"),
    ("echo 'if' | sh", "in the script run by `sh reading a pipe`"),
]


@pytest.mark.parametrize("line, detail", SYNTAX_ERROR_CASES + INNER_SCRIPT_ERROR_CASES)
def test_unparseable_lines_are_refused(line: str, detail: str) -> None:
    with pytest.raises(ShellSyntaxError) as raised:
        parse_command_line(line)
    assert detail in str(raised.value)
    assert isinstance(raised.value, PolicyViolation)
    assert "could not parse this command line, so it did not run it" in str(raised.value)


def test_syntax_error_points_at_the_problem() -> None:
    with pytest.raises(ShellSyntaxError) as raised:
        parse_command_line("ls && echo \"oops")
    err = raised.value
    assert (err.position, err.source) == (11, "ls && echo \"oops")
    assert "at character 12" in str(err) and "near `ls && echo \"oops`" in str(err)


@pytest.mark.parametrize("line", [
    "echo " + "$(echo " * 60 + "x" + ")" * 60,
    "echo " + "`echo " * 1 + "x`",
    "( " * 200 + "ls" + " )" * 200,
    "{ " * 200 + "ls" + "; }" * 200,
    "env " * 300 + "ls",
    "bash -c " + "'" + "eval " * 100 + "ls'",
    "if true; then " * 100 + "ls" + "; fi" * 100,
])
def test_deep_nesting_is_bounded(line: str) -> None:
    try:
        parse_command_line(line)
    except ShellSyntaxError as err:
        assert "levels deep" in str(err) or "too deeply" in str(err)


def test_deep_nesting_beyond_the_limit_is_refused() -> None:
    with pytest.raises(ShellSyntaxError, match="levels deep"):
        parse_command_line("echo " + "$(echo " * 60 + "x" + ")" * 60)
    with pytest.raises(ShellSyntaxError, match="levels deep|too deeply"):
        parse_command_line("( " * 200 + "ls" + " )" * 200)


def test_moderate_nesting_is_fine() -> None:
    line = "echo " + "$(echo " * 10 + "x" + ")" * 10
    assert len(parse_command_line(line)) == 11


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_agrees_on_what_is_valid_syntax() -> None:
    """Differential check against the real shell: every line the tables accept, `bash -n` accepts,
    and every line they refuse as a syntax error, `bash -n` refuses too."""
    disagreements = []
    for line, _ in SIMPLE_COMMAND_CASES:
        if subprocess.run(["bash", "-n", "-c", line], capture_output=True, check=False).returncode != 0:
            disagreements.append(("bash refuses", line))
    for line, _ in SYNTAX_ERROR_CASES:
        if subprocess.run(["bash", "-n", "-c", line], capture_output=True, check=False).returncode == 0:
            disagreements.append(("bash accepts", line))
    assert disagreements == []


# Lines run by the real bash with stub commands s1..s4 that log their own name: every stub bash
# runs must be among the commands the parser found (nothing runs unseen).
EXECUTED_CASES = [
    "s1 && s2 || s3; s4",
    "s1 | s2 & wait",
    "echo $(s1) `s2` \"$(s3)\" \"`s4`\"",
    "echo ${X:-$(s1)} $((0 + $(s2) 0))",
    "x=$(s1) s2",
    "s1 <(s2) > >(s3)",
    "cat <<EOF\n$(s1)\n`s2`\nEOF",
    "cat <<-EOF\n\t$(s1)\n\tEOF",
    "f() { s1; }; f",
    "function g { s2; }; g",
    "(s1); { s2; }",
    "if s1; then s2; else s3; fi",
    "for i in 1 2; do s1; done",
    "while s1; do break; done; until s2; do break; done",
    "case x in x) s1;; esac",
    "[[ -n $(s1) ]] || true",
    "env s1 && env -i PATH=\"$PATH\" s2 && env -- s3",
    "nice -n 5 s1; nohup s2 2>/dev/null; timeout 5 s3; stdbuf -oL s4",
    "exec s1",
    "command s1; builtin eval s2",
    "bash -c 's1; s2'",
    "sh -ec 's1 && bash -c s2'",
    "eval 's1 && s2'",
    "echo 's1; s2' | sh",
    "printf 's1\\n' | bash",
    "printf '\\x73\\x31' | bash",
    "cat <<EOF | bash\ns1\nEOF",
    "bash <<EOF\ns1\nEOF",
    "sh <<< 's2'",
    "echo x | xargs s1",
    "find \"$STUBS\" -name s1 -exec s2 {} \\;",
    "\\s1; 's2'; \"s3\"; s\\4",
    "\"$STUBS/s1\"",
    "env -S 's1 x'",
    "trap 's1' EXIT; s2",
    "shopt -s expand_aliases\nalias x='s1'\nx",
]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("line", EXECUTED_CASES)
def test_every_command_bash_runs_is_seen(line: str, tmp_path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    log = tmp_path / "log"
    for name in ("s1", "s2", "s3", "s4"):
        stub = stubs / name
        stub.write_text(f'#!/bin/sh\necho {name} >> "{log}"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "STUBS": str(stubs), "HOME": str(tmp_path)}
    subprocess.run(["bash", "-c", line], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=30, check=False)
    ran = set(log.read_text().split()) if log.exists() else set()
    assert ran, "the line should have run at least one stub"
    assert ran <= {cmd.name for cmd in parse_command_line(line)}


def test_random_lines_parse_or_are_refused_never_crash() -> None:
    """Deterministic fuzzing: any mix of shell syntax either parses or raises ShellSyntaxError."""
    pieces = list("ab $(){}[]'\"`\\;&|<>\n\t#=~*-!/") + [
        "$(", "${", "$((", "<<", "<<-", "EOF", "if ", "then ", "fi", "do ", "done", "case ", " in ",
        "esac", ";;", "for ", "while ", "function ", "bash -c ", "eval ", "env ", "rm -rf ", "[[ ",
        " ]]", "((", "))", "$'", "<(", "f()", "{ ", " }"]
    rnd = random.Random(1234)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(3000):
        line = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 30)))
        try:
            parse_command_line(line)
            outcomes["parsed"] += 1
        except ShellSyntaxError:
            outcomes["refused"] += 1
    assert outcomes["parsed"] > 100 and outcomes["refused"] > 100
