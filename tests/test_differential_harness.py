"""The differential test's own harness, without an engine: strace logs read into the programs a
line started, the matching rule, and the report (so the contract test cannot pass by mistake)."""

from __future__ import annotations

import shutil
import subprocess
import types

import pytest

from differential.corpus import _module_lines
from differential.match import accounted_for, judge, report
from differential.trace import parse_trace
from mgexec.policy import SimpleCommand

# A real log shape: a split vfork, a failed PATH attempt, a pipe into sh, a script-file shell,
# make's recipe shell, an unknown wrapper that forwards its arguments, an octal escape.
TRACE = r"""
10    execve("/bin/bash", ["/bin/bash", "-c", "LINE"], 0x7ffd /* 5 vars */) = 0
10    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 11
11    execve("/usr/bin/ls", ["ls", "-la"], 0x55 /* 5 vars */) = 0
10    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 12
12    execve("/usr/bin/sh", ["sh"], 0x55 /* 5 vars */ <unfinished ...>
12    <... execve resumed>)             = 0
12    vfork( <unfinished ...>
13    execve("/usr/local/bin/rm", ["rm", "-rf", "/h"], 0x56 /* 5 vars */) = -1 ENOENT (No such file or directory)
13    execve("/usr/bin/rm", ["rm", "-rf", "/h"], 0x56 /* 5 vars */ <unfinished ...>
12    <... vfork resumed>)              = 13
13    <... execve resumed>)             = 0
10    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 14
14    execve("/usr/bin/bash", ["bash", "build.sh"], 0x55 /* 5 vars */) = 0
14    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 15
15    execve("/usr/bin/cc", ["cc", "x.c"], 0x55 /* 5 vars */) = 0
10    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 16
16    execve("/usr/bin/make", ["make"], 0x55 /* 5 vars */) = 0
16    clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f, stack_size=0x9000}, 88) = 17
17    execve("/bin/sh", ["/bin/sh", "-c", "cc main.c"], 0x55 /* 5 vars */) = 0
17    execve("/usr/bin/cc", ["cc", "main.c"], 0x55 /* 5 vars */) = 0
10    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 18
18    execve("/usr/bin/flock", ["flock", "/tmp/l", "rm", "-rf", "/h"], 0x55 /* 5 vars */) = 0
18    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 19
19    execve("/usr/bin/rm", ["rm", "-rf", "/h"], 0x55 /* 5 vars */) = 0
10    execve("/usr/bin/printf", ["printf", "\303\251\n", "a \"b\")  = 1"], 0x55 /* 5 vars */) = 0
10    +++ exited with 0 +++
"""


def counted(trace_text: str) -> list[tuple[str, ...]]:
    return [e.argv for e in parse_trace(trace_text).counted]


def test_trace_counts_what_the_line_started_and_nothing_else() -> None:
    trace = parse_trace(TRACE)
    assert trace.root is not None and trace.root.argv == ("/bin/bash", "-c", "LINE")
    assert counted(TRACE) == [
        ("ls", "-la"), ("sh",), ("rm", "-rf", "/h"),   # sh reads stdin: its rm counts, once
        ("bash", "build.sh"),                          # the script's cc does not count
        ("make",),                                     # nor make's recipe shell and its cc
        ("flock", "/tmp/l", "rm", "-rf", "/h"), ("rm", "-rf", "/h"),  # flock forwards its words
        ("printf", "é\n", 'a "b")  = 1'),
    ]


def test_a_shell_reading_a_pipe_the_line_made_counts() -> None:
    text = TRACE.replace('["bash", "build.sh"]', '["bash", "/dev/fd/63"]')
    assert ("cc", "x.c") in counted(text)


def test_a_wrappers_password_helper_does_not_count() -> None:
    text = ('1 execve("/bin/bash", ["bash", "-c", "su; su -c id"], 0x0) = 0\n'
            '1 clone(child_stack=NULL, flags=SIGCHLD) = 2\n'
            '2 execve("/bin/su", ["su"], 0x0) = 0\n'
            '2 execve("/sbin/unix_chkpwd", ["/sbin/unix_chkpwd", "root", "nullok"], 0x0) = 0\n'
            '1 execve("/bin/su", ["su", "-c", "id"], 0x0) = 0\n'
            '1 execve("/bin/bash", ["bash", "-c", "id"], 0x0) = 0\n')
    assert counted(text) == [("su",), ("su", "-c", "id"), ("bash", "-c", "id")]


def test_an_env_shebang_is_the_script_going_on() -> None:
    text = ('1 execve("/bin/bash", ["bash", "-c", "timeout 5 npx x"], 0x0) = 0\n'
            '1 execve("/usr/bin/timeout", ["timeout", "5", "npx", "x"], 0x0) = 0\n'
            '1 clone(child_stack=NULL, flags=SIGCHLD) = 2\n'
            '2 execve("/usr/bin/npx", ["npx", "x"], 0x0) = 0\n'
            '2 execve("/usr/bin/node", ["node", "/usr/bin/npx", "x"], 0x0) = 0\n'
            '2 execve("/bin/sh", ["sh", "-c", "x"], 0x0) = 0\n')
    # npx is a known wrapper (it runs its package's command through `sh -c`), so the `sh -c x`
    # it starts counts as a command of the line; node running the npx script does not.
    assert counted(text) == [("timeout", "5", "npx", "x"), ("npx", "x"), ("sh", "-c", "x")]


def test_what_a_wrapper_runs_by_default_counts() -> None:
    text = ('1 execve("/bin/bash", ["bash", "-c", "ls | xargs"], 0x0) = 0\n'
            '1 execve("/usr/bin/xargs", ["xargs"], 0x0) = 0\n'
            '1 clone(child_stack=NULL, flags=SIGCHLD) = 2\n'
            '2 execve("/usr/bin/echo", ["echo", "a.txt"], 0x0) = 0\n')
    assert counted(text) == [("xargs",), ("echo", "a.txt")]


def cmd(*words: str, via: tuple[str, ...] = ()) -> SimpleCommand:
    return SimpleCommand(words=words, raw=" ".join(words), via=via)


def started(argv: tuple[str, ...], path: str = ""):
    quoted = ", ".join(f'"{arg}"' for arg in argv)
    text = (f'1 execve("/bin/bash", ["bash", "-c", "x"], 0x0) = 0\n'
            f'1 execve("{path or "/usr/bin/" + argv[0]}", [{quoted}], 0x0) = 0\n')
    return parse_trace(text).counted[0]


@pytest.mark.parametrize("words, via, argv, path, seen", [
    (("rm", "-rf", "~"), (), ("rm", "-rf", "/home/x"), "", True),
    (("/bin/rm", "-rf", "x"), (), ("/bin/rm", "-rf", "x"), "/bin/rm", True),
    (("rm", "-rf", "build"), (), ("rm", "-rf", "/"), "", False),           # a static word differs
    (("rm", "-rf"), (), ("rm", "-rf", "/"), "", False),                     # an argument too many
    (("rm", "$FLAGS", "x"), (), ("rm", "-r", "-f", "x"), "", True),         # word splitting
    (("rm", "$FLAGS", "x"), (), ("rm", "x"), "", True),                     # empty expansion
    (("ls", "*.py"), (), ("ls", "a.py", "b.py"), "", True),
    (("{rm,-rf,~}",), (), ("rm", "-rf", "/home/x"), "", False),             # braces not expanded
    (("/???/?m", "-rf", "~"), (), ("/bin/rm", "-rf", "/home/x"), "/bin/rm", True),
    (("$X", "-rf", "~"), (), ("rm", "-rf", "/home/x"), "", True),           # computed name
    (("$@",), (), ("curl", "-fsS", "url"), "", True),
    (("$(which sudo)", "ls"), (), ("ls",), "", True),                      # empty expansion
    (("$(which sudo)", "ls"), (), ("rm",), "", False),
    (("rm",), ("xargs",), ("rm", "a", "b"), "", True),                      # xargs appends
    (("rm",), (), ("rm", "a", "b"), "", False),
    (("rm", "{}"), ("find -exec",), ("rm", "./a"), "", True),
    (("python3",), (), ("python3",), "/usr/bin/python3", True),
    (("python",), (), ("python3",), "/usr/bin/python3", False),
])
def test_matching_rule(words, via, argv, path, seen) -> None:
    assert accounted_for(started(argv, path), (cmd(*words, via=via),)) is seen


def test_an_unreadable_command_stands_for_what_a_nested_shell_starts() -> None:
    """`base64 -d <<< X | bash`: mgexec cannot read the script, says so, and an allow list
    refuses it; the line's own bash is still held to what mgexec read."""
    text = ('1 execve("/bin/bash", ["bash", "-c", "L"], 0x0) = 0\n'
            '1 clone(child_stack=NULL, flags=SIGCHLD) = 2\n'
            '2 execve("/usr/bin/bash", ["bash"], 0x0) = 0\n'
            '2 execve("/usr/bin/ls", ["ls"], 0x0) = 0\n'
            '1 execve("/usr/bin/rm", ["rm", "x"], 0x0) = 0\n')
    nested, own = parse_trace(text).counted[1:]
    unreadable = types.SimpleNamespace(words=(), via=("bash reading a pipe",), unreadable="built at run time")
    assert accounted_for(nested, (unreadable,))
    assert not accounted_for(own, (unreadable,))
    assert not accounted_for(nested, (cmd("base64", "-d"),))


def test_report_names_line_image_unseen_program_and_what_mgexec_saw() -> None:
    # The parser makes brace words itself now, so the program it does not see is one the trace
    # shows starting without any word of the line naming it.
    text = ('7 execve("/bin/bash", ["/bin/bash", "-c", "true x"], 0x0) = 0\n'
            '7 execve("/usr/bin/rm", ["rm", "-rf", "/h"], 0x0) = 0\n')
    verdict = judge("true x", text)
    assert not verdict.ok
    shown = report(verdict, "hostile.yaml:braces[0]", "bashsh")
    assert "[bashsh] hostile.yaml:braces[0]: `true x`" in shown
    assert "started, not judged by mgexec: rm -rf /h  (/usr/bin/rm" in shown
    assert "mgexec judged: `true x`" in shown


def test_unparseable_lines_run_nothing_under_mgexec() -> None:
    verdict = judge("echo 'unclosed", '1 execve("/bin/bash", ["bash"], 0x0) = 0\n')
    assert verdict.ok and verdict.parse_error


@pytest.mark.skipif(shutil.which("strace") is None or shutil.which("bash") is None,
                    reason="needs strace and bash on this machine")
def test_a_real_strace_log_reads_as_expected(tmp_path) -> None:
    """The reader against strace's real output on this machine (the container runs the same)."""
    log = tmp_path / "trace"
    line = "ls >/dev/null | cat; echo x | xargs echo >/dev/null; bash -c 'true; id -u' >/dev/null"
    done = subprocess.run(["strace", "-f", "-q", "-s", "65536", "-e",
                           "trace=execve,execveat,clone,clone3,fork,vfork", "-e", "signal=none",
                           "-o", str(log), "bash", "-c", line], cwd=tmp_path, capture_output=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode != 0 and b"ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.decode(errors='replace')[:200]}")
    verdict = judge(line, log.read_text())
    assert sorted(e.argv for e in verdict.started) == sorted([  # a pipeline's order varies
        ("ls",), ("cat",), ("xargs", "echo"), ("echo", "x"), ("bash", "-c", "true; id -u"),
        ("id", "-u")])
    assert verdict.ok


def module_with(**tables) -> types.ModuleType:
    module = types.ModuleType("test_policy_example")
    vars(module).update(tables)
    return module


def test_table_modules_register_their_tables_or_what_they_declare() -> None:
    tables = module_with(BLOCKED=[("rm -rf /", "root"), ("rm -rf ~", "home")], ALLOWED=["ls"],
                         ALLOW_CASES=[(["ls .*"], "ls -la", True)], LIMIT=3, helper=["not a table"],
                         _ATOMS=["xargs"])
    assert [line for _, line in _module_lines(tables)] == ["rm -rf /", "rm -rf ~", "ls", "ls -la"]
    assert _module_lines(tables)[0][0] == "test_policy_example.BLOCKED[0]"
    declared = module_with(BLOCKED=[("rm -rf /", "root")], DIFFERENTIAL=["echo a", ("ls", 1)])
    assert [line for _, line in _module_lines(declared)] == ["echo a", "ls"]
    assert _module_lines(module_with(BLOCKED=["x"], DIFFERENTIAL=[])) == []
    with pytest.raises(TypeError, match="DIFFERENTIAL"):
        _module_lines(module_with(DIFFERENTIAL=[42]))
