"""Tables for rewrites the baseline sees statically: relative paths resolved from the work_dir and
the line's `cd`s, aliases of `/`, wildcard command names, find narrowed only in appearance,
scripts and arguments fed into shells and xargs, and aliases."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mgexec.errors import PolicyViolation
from policyutil import refusal as policy_refusal
from mgexec.policy import CommandPolicy, check_command

WORK = "/home/dev/proj/src"  # four levels below `/`, in the home /home/dev
HOME = "/home/dev"
PREFIX = "Potentially dangerous command detected: "


def refusal(line: str, policy: CommandPolicy = CommandPolicy(), **where: str) -> str | None:
    return policy_refusal(line, policy, **{"work_dir": WORK, "home": HOME, **where})


REFUSED = [
    # relative paths that climb to `/`, a home or a system directory
    ("rm -rf ../../../..", "the root directory `/`, reached as `../../../..` from the working "
                           "directory `/home/dev/proj/src`"),
    ("rm -rf ../..", "the home directory `/home/dev`"),
    ("rm -r ../../../../usr", "the system directory `/usr`"),
    ("rm -rf ./../../../../etc/", "the system directory `/etc`"),
    ("rm -rf ../../../*", "(the system directory `/home` or its contents)"),
    ("cd ../../.. && rm -rf *", "reached as `*` after `cd ../../..`"),
    ("cd ../../../.. && rm -rf .", "the root directory `/`, reached as `.` after `cd ../../../..`"),
    ("cd ..; cd ..; cd ..; cd ..; rm -rf ./*", "everything matching `/*`"),
    ("cd ../../../../../../../.. && rm -rf *", "everything matching `/*`"),
    ("pushd ../../.. && rm -r *", "the system directory `/home`"),
    ("cd ~ && rm -rf ..", "the system directory `/home`"),
    ("cd -- / && rm -rf *", "everything matching `/*`"),
    ("cd /usr/bin/.. && rm -rf *", "the system directory `/usr`"),
    ("cd / && find . -path './*' -delete", "deleting files with find across the root directory"),
    ("rm -rf ~+/../../../..", "the root directory `/`"),
    ("rm -rf \"$PWD\"/../../../../*", "the root directory `/`"),
    ("env -C / rm -rf *", "everything matching `/*`"),
    ("env --chdir=/usr rm -rf lib", "the system directory `/usr/lib`, reached as `lib`"),
    ("for i in 1 2 3 4; do cd ..; done; rm -rf *", "after `cd ..`, which may run more than once"),
    ("f() { rm -rf *; }; cd /; f", "everything matching `/*`"),
    ("bash -c 'cd ../../../..; rm -rf *'", "everything matching `/*`"),
    # a directory the line cannot know: `*`, `.` and `..` fail closed
    ("cd $DIR && rm -rf *", "`*` in a directory only known when the line runs (after `cd $DIR`)"),
    ("cd \"$(mktemp -d)\" && rm -rf .", "a directory only known when the line runs"),
    ("cd - && rm -rf .", "(after `cd -`)"),
    ("popd && rm -rf ../*", "a directory only known when the line runs"),
    ("rm -rf ~-", "as `~-`, the previous directory"),
    # aliases of `/`
    ("rm -rf /proc/self/root", "the root directory `/`"),
    ("rm -rf /proc/1/root/", "the root directory `/`"),
    ("rm -rf /proc/thread-self/root/etc", "the system directory `/etc`"),
    ("rm -rf /proc/self/task/1/root/usr/", "the system directory `/usr`"),
    ("rm -rf /proc/$$/root/*", "everything matching"),
    ("rm -rf /proc/*/root", "the root directory `/`"),
    ("rm -rf /proc/1/cwd/", "the root directory `/`"),
    ("cd / && rm -rf /proc/self/cwd/*", "everything matching"),
    ("rm -rf //", "the root directory `/`"),
    ("rm -rf /./", "the root directory `/`"),
    ("rm -rf /.//./usr/.", "the system directory `/usr`"),
    ("rm -rf ///etc//", "the system directory `/etc`"),
    ("rm -rf /home/dev/proj/..", "the home directory `/home/dev`"),
    # wildcard command names
    ("/???/?m -rf /", "(`/???/?m` may name `rm`)"),
    ("/bin/r[m] -rf ~", "your home directory (`/bin/r[m]` may name `rm`)"),
    ("/usr/bin/r? -rf /", "may name `rm`"),
    ("r[m] -rf /", "may name `rm`"),
    ("/???/?? if=/dev/zero of=x", "use of dd"),
    ("/usr/sbin/mkfs.e*4 /dev/sdb1", "creating a file system"),
    ("/???/s?do ls", "privilege escalation (sudo)"),
    # find narrowed only in appearance
    ("find / -path '/*' -delete", "deleting files with find across the root directory `/`"),
    ("find / -name '**' -delete", "the root directory"),
    ("find / -name '*' -exec rm -rf {} +", "the root directory"),
    ("find ~ -iname '?*' -delete", "your home directory"),
    ("find / ! -name '*.pyc' -delete", "the root directory"),
    ("find / -not -name '*.pyc' -delete", "the root directory"),
    ("find / -name '*.pyc' -o -delete", "the root directory"),
    ("find /usr -name x -prune -o -exec rm {} \\;", "the system directory `/usr`"),
    ("find / -mtime +0 -delete", "the root directory"),
    ("find / -user root -delete", "the root directory"),
    ("find / -regex '.*' -delete", "the root directory"),
    ("find /etc -type f -delete", "the system directory `/etc`"),
    ("find / -path '*' | xargs rm -rf", "recursive deletion of the root directory"),
    # xargs fed from here-documents, here-strings and printers
    ("xargs rm -rf <<EOF\n/\nEOF", "the root directory `/`, in the command `rm -rf /` (run by `xargs`)"),
    ("xargs rm -rf <<< '/usr /etc'", "the system directory `/usr`"),
    ("xargs -I{} rm -rf {}/ <<< /usr", "the system directory `/usr`"),
    ("xargs -d '\\n' rm -rf <<< /", "the root directory"),
    ("printf '%s\\n' /etc | xargs rm -rf", "the system directory `/etc`"),
    # scripts written into a shell: printf and echo read as bash and dash write them
    ("printf '%s -rf /\\n' rm | sh", "(run by `sh reading a pipe`)"),
    ("printf '%s %s %s' rm -rf / | bash", "the root directory"),
    ("printf '\\162\\155 -rf /' | sh", "the root directory"),
    ("printf '%b' 'rm\\040-rf\\040/' | bash", "the root directory"),
    ("printf '%c%c -rf ~' rat mouse | sh", "your home directory"),
    ("printf '%.1s%.1s -rf /' rx my | sh", "the root directory"),
    ("printf 'ls\\n%s\\n' 'rm -rf /' | sh", "the root directory"),
    ("echo -e 'rm\\x20-rf /' | bash", "the root directory"),
    ("sh -c 'echo \"rm\\\\0040-rf /\" | sh'", "(run by `sh -c` -> `sh reading a pipe`)"),
    ("echo 'rm -rf /' | cat | tee x.log | sh", "the root directory"),
    ("cat <<EOF | sh\nrm -rf ~\nEOF", "your home directory"),
    # here-documents on other descriptors, and descriptor paths
    ("exec 3<<EOF\nrm -rf ~\nEOF\nsh <&3", "(run by `sh reading a here-document on descriptor 3`)"),
    ("exec 3<<'EOF'\nrm -rf /\nEOF\nbash 0<&3", "the root directory"),
    ("exec <<EOF\nrm -rf /\nEOF\nsh", "the root directory"),
    ("sh /dev/fd/3 3<<EOF\nrm -rf /\nEOF", "(run by `sh reading descriptor 3`)"),
    ("bash /proc/self/fd/0 <<< 'rm -rf /'", "the root directory"),
    ("source /dev/stdin <<< 'rm -rf ~'", "your home directory"),
    ("sh /dev/stdin <<EOF\nrm -rf /usr\nEOF", "the system directory `/usr`"),
    # aliases defined on the line
    ("alias x='rm -rf'; x ~", "your home directory, in the command `rm -rf ~` (run by `alias x`)"),
    ("alias x='rm -rf'\nx /", "the root directory"),
    ("alias c='cd /'; c; rm -rf *", "everything matching `/*`"),
    ("alias rm='rm -rf'; rm ~/", "your home directory"),
    ("alias s=sudo; s ls", "privilege escalation (sudo)"),
    ("shopt -s expand_aliases; alias nuke='find / -delete'; nuke", "deleting files with find"),
    # variables the line sets, and command names the line prints
    ("d=/; rm -rf $d", "the root directory `/` (run as `rm -rf /`), in the command `rm -rf $d`"),
    ("x='rm -rf /'; $x", "(run as `rm -rf /`), in the command `$x`"),
    ("a=r; b=m; $a$b -rf ~/", "your home directory"),
    ("HOME=/; rm -rf ~/usr", "the system directory `/usr` (run as `rm -rf //usr`)"),
    ("export T=/usr; rm -rf \"$T\"/", "the system directory `/usr`"),
    ("if [ -n \"$X\" ]; then d=/tmp/x; else d=/; fi; cd \"$d\" && rm -rf *", "reached as `*` after `cd /`"),
    ("$(echo rm -rf /)", "(run as `rm -rf /`)"),
    ("`printf 'rm -rf %s' /`", "the root directory"),
    ("sh -c \"$(echo rm -rf /)\"", "(run by `sh -c`)"),
    ("eval \"$(printf 'rm -rf %s' ~)\"", "(run by `eval`)"),
    ("sh -c \"$(cat <<EOF\nrm -rf /\nEOF\n)\"", "(run by `sh -c`)"),
    ("rm -rf \"$(echo /)\"", "(run as `rm -rf /`)"),
    ("a=/; b=$a; rm -rf $b", "(run as `rm -rf /`)"),
    ("b=\"$HOME/..\"; rm -rf \"$b\"", "the system directory `/home`"),
    ("b=$PWD/../../../..; rm -rf $b", "the root directory `/`"),
    ("cd / && rm -rf $(ls)", "reached as `$(ls)` after `cd /`"),
    ("cmd=(rm -rf /); \"${cmd[@]}\"", "(run as `rm -rf /`)"),
    ("declare -a c=(rm -rf /usr); ${c[*]}", "the system directory `/usr`"),
    ("a=(/tmp /); rm -rf ${a[1]}", "(run as `rm -rf /`)"),
    ("a=(/ /tmp); for d in \"${a[@]}\"; do rm -rf \"$d\"; done", "(run as `rm -rf /`)"),
    ("for d in $(echo /usr /tmp); do rm -rf $d; done", "the system directory `/usr`"),
    ("cd / && for f in *; do rm -rf \"$f\"; done", "everything matching `/*`"),
    ("rm -rf $(ls -A /)", "everything matching `/*`"),
    ("echo / | xargs sh -c 'rm -rf \"$1\"' _", "(run by `xargs` -> `sh -c`)"),
    ("rm -rf /$(printf usr)", "the system directory `/usr`"),
    ("for d in / /tmp; do rm -rf \"$d\"; done", "(run as `rm -rf /`)"),
    ("for d in build /etc; do cd \"$d\" && rm -rf *; done", "in the command `rm -rf *`"),
    ("f(){ rm -rf \"$1\"; }; f /", "(run as `rm -rf /`), in the command `rm -rf $1` (run by `f`)"),
    ("f(){ rm -rf \"$@\"; }; f build /usr", "the system directory `/usr`"),
    ("f(){ rm -rf \"$1\"/; }; f", "the root directory `/`"),
    ("f(){ rm -rf \"$1\"; }; for d in /usr /tmp; do f \"$d\"; done", "the system directory `/usr`"),
    ("bash -c 'rm -rf \"$0\"' /", "(run by `bash -c`)"),
    ("sh -c 'rm -rf \"$@\"' _ build /etc", "the system directory `/etc`"),
    ("set -- /etc; rm -rf \"$1\"", "the system directory `/etc`"),
    ("while read d; do rm -rf \"$d\"; done <<< /", "(run as `rm -rf /`)"),
    ("echo /usr | while read -r d; do rm -rf $d; done", "the system directory `/usr`"),
    ("while read -r d; do rm -rf \"$d\"; done < <(echo /)", "the root directory"),
    ("while read a b; do rm -rf $b; done <<< 'x /etc'", "the system directory `/etc`"),
    ("xargs -a <(echo /) rm -rf", "(run by `xargs`)"),
    ("echo / > list.txt; xargs rm -rf < list.txt", "(run by `xargs`)"),
    # CDPATH, pushd's stack, and climbs hidden in a relative path
    ("CDPATH=/; cd usr && rm -rf *", "(after `cd usr` with CDPATH set on the line)"),
    ("CDPATH=/ cd etc && rm -rf .", "with CDPATH set on the line"),
    ("pushd +1 && rm -rf *", "(after `pushd +1`)"),
    ("cd $X && rm -rf a/../..", "`a/../..` in a directory only known when the line runs"),
    ("sh -c 'rm -rf .?/.?/.?/.?/*'", "reading `.?` as `..`"),
    ("rm -rf $(pwd)/../../../..", "the root directory `/`"),
    ("rm -rf `pwd`/../../../../*", "the root directory `/`"),
    ("rm -rf \"${PWD%/*}\"/..", "a directory computed when the line runs"),
    # find -exec running a deleter however it is named
    ("find / -exec sh -c 'rm -rf \"$1\"' _ {} \\;", "deleting files with find across the root"),
    ("find / -exec /???/?m -rf {} +", "deleting files with find"),
    ("find / -exec $RM {} +", "deleting files with find"),
    ("find ~ -exec env rm -rf {} +", "your home directory"),
    # scripts the line writes, then runs; process substitutions; blocks
    ("cat > run.sh <<'EOF'\nrm -rf /\nEOF\nbash run.sh", "(run by `bash reading run.sh`)"),
    ("echo 'rm -rf ~' > x.sh; ./x.sh", "(run by `./x.sh (written by the line)`)"),
    ("printf 'rm -rf /\\n' > a; sh < a", "the root directory"),
    ("echo 'rm -rf /' | tee s.sh > /dev/null; sh s.sh", "the root directory"),
    ("source <(echo 'rm -rf /')", "the root directory"),
    ("bash <(printf 'rm -rf %s' /)", "the root directory"),
    (". <(cat <<EOF\nrm -rf ~\nEOF\n)", "your home directory"),
    ("{ echo 'rm -rf /'; } | sh", "(run by `sh reading a pipe`)"),
    ("(echo ls; echo 'rm -rf ~') | bash", "your home directory"),
    # symbolic links the line makes
    ("ln -s / r && rm -rf r/", "the root directory `/`, reached as `r/`"),
    ("ln -sfn /usr ./u; rm -rf u/*", "through a link the line made"),
    ("ln -s ~ h; find h -delete", "your home directory"),
    ("ln -s /etc e; ln -s e f; rm -rf f/", "the system directory `/etc`"),
    ("mkdir -p a && ln -s ../../../../.. a/up && rm -rf a/up/", "the root directory `/`"),
]


@pytest.mark.parametrize("line, reason", REFUSED)
def test_rewrites_are_refused(line: str, reason: str) -> None:
    message = refusal(line)
    assert message is not None, f"{line!r} was allowed"
    assert message.startswith(PREFIX), message
    assert reason in message, message


NEAR_MISSES = [
    "find . -name '*.pyc' -delete",
    "cd .. && ls",
    "rm -rf build/ dist/",
    "rm -rf ..",
    "rm -rf ../build",
    "cd .. && rm -rf dist",
    "cd ../.. && rm -rf proj/src/build",
    "rm -rf ./*",
    "rm -rf *",
    "cd /tmp && rm -rf *",
    "cd /tmp/x && cd .. && rm -rf *",
    "cd ~/proj && rm -rf build",
    "cd / && ls && cd /home/dev/proj && rm -rf *",
    "pushd /tmp/x && rm -rf * && popd",
    "for d in a b; do (cd \"$d\" && make); done",
    "cd \"$BUILD\" && rm -rf dist",
    "rm -rf \"$PWD/build\"",
    "env -C build make clean",
    "ls /proc/self/root",
    "cat /proc/self/cwd/README.md",
    "rm -rf /proc/self/cwd/build",
    "rm -rf /tmp//build/./x",
    "ls /???/?m",
    "ls /bin/r?",
    "[ -d build ] && rm -rf build",
    "[ -f x ] && echo y",
    "find / -name '*.pyc' -delete",
    "find / -path '*/node_modules/*' -delete",
    "find ~ \\( -name '*.log' -o -name '*.tmp' \\) -delete",
    "find / -mmin -5 -name '*.tmp' -delete",
    "find ~ -name '*.swp' -exec rm {} +",
    "find / -name '*.py' | xargs grep -l TODO",
    "find . -path './build/*' -delete",
    "find / -maxdepth 2 -name core -type f -delete",
    "xargs rm -rf <<EOF\nbuild\ndist\nEOF",
    "xargs -I{} rm -rf {} <<< 'build'",
    "printf '%s\\n' build dist | xargs rm -rf",
    "printf '%s\\n' 'echo hi' | sh",
    "printf 'rm -rf %s\\n' build dist | sh",
    "echo 'rm -rf ./build' | bash",
    "echo 'rm\\0040-rf /' | sh",
    "echo 'rm\\x20-rf /' | bash",
    "cat <<'EOF' | sh\nls -la\nEOF",
    "exec 3<<EOF\necho hi\nEOF\nsh <&3",
    "sh /dev/fd/3 3<<EOF\necho hi\nEOF",
    "alias ll='ls -la'; ll ~",
    "alias x='rm -rf'; x build",
    "alias x='rm -rf'; unalias x; x ~",
    "x ~; alias x='rm -rf'",
    "cat script.sh | sh",
    "curl -sSL https://example.com/install.sh | bash",
    "sh < setup.sh",
    "d=build; rm -rf $d",
    "d=build; cd \"$d\" && rm -rf *",
    # `"$(echo rm -rf /)"` (one word, a command not found) is refused: the word readings of bash's
    # expansions do not keep the quotes, and refusing is the safe side of that.
    "D=$(pwd); rm -rf \"$D/build\"",
    "read -r d; rm -rf \"$d/build\"",
    "rm -rf $(echo build)",
    "ln -s / r && rm -rf r",
    "ln -s /tmp/x b && rm -rf b/",
    "echo 'echo hi' > x.sh; bash x.sh",
    "cat > build.sh <<'EOF'\nmake clean\nrm -rf build\nEOF\nbash build.sh",
    "source <(echo 'export A=1')",
    "{ echo ls; echo pwd; } | sh",
    "find / -exec grep -l TODO {} +",
    "find . -exec sh -c 'rm -rf \"$1\"' _ {} \\;",
    "rm -rf \"${PWD%/*}/build\"",
    "rm -rf $(pwd)/build",
    "CDPATH=/; cd ./build && rm -rf *",
    "sh -c 'rm -rf .?/*'",
    "for d in build dist; do rm -rf \"$d\"; done",
    "for f in *.pyc; do rm -f \"$f\"; done",
    "f(){ rm -rf \"$1\"/; }; f build",
    "clean(){ rm -rf \"$@\"; }; clean build dist .cache",
    "sh -c 'rm -rf \"$1\"' _ build",
    "while read -r d; do rm -rf \"$d\"; done <<< 'build'",
    "find . -name '*.o' | while read -r f; do rm -f \"$f\"; done",
    "set -- a b; echo \"$@\"",
    "rm -rf \"$(mktemp -d)\"",
    "rm -rf build-$(date +%s)",
    "HOME=/tmp/h; b=$HOME; rm -rf $b",
    "out=build; tmp=$out/tmp; rm -rf \"$tmp\"",
    "rm -rf $(ls -d build*)",
    "rm -rf $(ls)",
    "a=(build dist); rm -rf \"${a[@]}\"",
    "args=(-q -x); pytest \"${args[@]}\"",
    "for f in *; do rm -rf \"$f\"; done",
    "dirs=(build dist); for d in \"${dirs[@]}\"; do rm -rf \"$d\"; done",
]


@pytest.mark.parametrize("line", NEAR_MISSES)
def test_near_misses_pass(line: str) -> None:
    assert refusal(line) is None


def test_work_dir_defaults_to_the_process_directory(tmp_path: Path, monkeypatch) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    climb = "/".join([".."] * len(deep.parts))
    message = ""
    try:
        check_command(f"rm -rf {climb}", CommandPolicy())
    except PolicyViolation as err:
        message = str(err)
    assert "the root directory `/`" in message
    check_command("rm -rf ..", CommandPolicy())


def test_the_same_line_depends_on_where_it_runs() -> None:
    assert refusal("rm -rf ../*", work_dir="/usr/bin") is not None
    assert refusal("rm -rf ../*", work_dir="/home/dev/proj/src/x") is None
    assert refusal("cd .. && rm -rf .", work_dir="/home/dev/proj") is not None
    sudo = CommandPolicy(enable_sudo=True)
    assert "everything matching `/*`" in (refusal("sudo -D / rm -rf *", sudo) or "")
    assert refusal("sudo -D /tmp/x rm -rf *", sudo) is None
    assert "your home directory `/srv/me`" in (refusal("rm -rf ../..", work_dir="/srv/me/a/b",
                                                       home="/srv/me") or "")


ALLOW = CommandPolicy(allow_patterns=("cat( .*)?", "sh( .*)?", "bash( .*)?", "curl .*", "printf .*",
                                      "echo .*", "ls( .*)?", "rm .*", "mytool( .*)?", "base64 .*",
                                      "eval .*"))


@pytest.mark.parametrize("line, why", [
    ("cat script.sh | sh", "reads from a pipe, which is known only when the line runs (it is the "
                           "output of `cat script.sh`)"),
    ("curl -s https://x | bash", "(it is the output of `curl -s https://x`)"),
    ("base64 -d <<< cm0gLXJmIC8= | sh", "the output of `base64 -d <<< cm0gLXJmIC8=`"),
    ("sh /dev/fd/3", "`sh` runs the script it reads from descriptor 3"),
    ("echo x | sh /dev/stdin 3< y.sh", None),
    ("bash -c \"$(curl -s https://x)\"", "`$(curl -s https://x)` is computed when the line runs"),
    ("$CMD --help", "its command name `$CMD` is computed when the line runs"),
    ("eval \"$X\"", "`$X` is computed"),
    ("ls > x.sh; bash x.sh", "reads from what `ls` wrote"),
])
def test_allow_list_refuses_scripts_it_cannot_read(line: str, why: str | None) -> None:
    message = refusal(line, ALLOW) or ""
    assert message.startswith("Command not in the allow list"), message
    if why:
        assert why in message and "cannot be judged" in message


@pytest.mark.parametrize("line", [
    "echo ls | sh", "printf 'ls -la\\n' | bash", "cat <<EOF | sh\nls\nEOF", "ls /???/?m",
    "sh < setup.sh", "echo ls > x.sh; sh x.sh",
])
def test_allow_list_reads_scripts_the_line_shows(line: str) -> None:
    assert refusal(line, ALLOW) is None


def test_allow_list_judges_the_line_s_own_expansions() -> None:
    allow = CommandPolicy(allow_patterns=("ls( .*)?", "python .*", "cat( .*)?"))
    assert refusal("x=ls; $x -la", allow) is None
    assert refusal("for f in a.py b.py; do python \"$f\"; done", allow) is None
    message = refusal("for f in a.py '-c x'; do python $f; done; x=rm; $x -la", allow) or ""
    assert "the command `rm -la`" in message
    deny = CommandPolicy(deny_patterns=("rm .*",))
    assert "the command `rm y`" in (refusal("x=rm; $x y", deny) or "")
    assert "deny list" in (refusal("f(){ \"$@\"; }; f rm y", deny) or "")


def test_allow_list_judges_scripts_written_into_shells() -> None:
    message = refusal("printf 'mv a b' | bash", ALLOW) or ""
    assert "the command `mv a b` (run by `bash reading a pipe`)" in message


@pytest.fixture
def fake_path(tmp_path: Path) -> str:
    """A PATH directory holding `mytool` and `mytrash`, and an entry that cannot be listed."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("mytool", "mytrash"):
        program = bindir / name
        program.write_text("#!/bin/sh\n")
        program.chmod(program.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "notadir").write_text("")
    return str(bindir)


def test_wildcard_names_are_matched_on_the_path(fake_path: str) -> None:
    deny = CommandPolicy(deny_patterns=("mytrash",))
    message = refusal("my?r* x", deny, path=fake_path) or ""
    assert "the command `my?r* x`" in message and "`mytrash`" in message and "deny list" in message
    assert refusal("my?ool x", deny, path=fake_path) is None
    # Under an allow list a wildcard name is refused even when every match is allowed: the line
    # itself may add matches before it runs.
    allow = CommandPolicy(allow_patterns=("mytool( .*)?", r"my\?ool x"))
    assert "is a pattern bash matches" in (refusal("my?ool x", allow, path=fake_path) or "")


def test_unlistable_wildcard_names_fail_closed_under_an_allow_list(fake_path: str) -> None:
    unlistable = fake_path + os.pathsep + str(Path(fake_path).parent / "notadir")
    allow = CommandPolicy(allow_patterns=(".*",))
    message = refusal("my?ool x", allow, path=unlistable) or ""
    assert "cannot be judged" in message and "cannot all be listed" in message
    assert refusal("my?ool x", CommandPolicy(), path=unlistable) is None  # no lists: reported as seen


_ATOMS = ["rm", "-rf", "/", "~", "..", "*", ".?", "$x", "x=/", "$(echo /)", "`pwd`", "cd", "f(){", "}",
          ";", "|", "&", "&&", "printf", "'%s %b %c %d %5.2q %*s %a %'", "echo", "-e", "'\\x72m\\c'",
          "sh", "bash", "<<<", "xargs", "find", "-delete", "-o", "!", "(", ")", "-name", "'*'", "exec",
          "3<<EOF\nrm -rf /\nEOF\n", "<&3", "/dev/fd/3", "alias", "a='rm -rf'", "a", "for", "d", "in",
          "do", "done", "while", "read", "<(echo /)", ">", "x.sh", "./x.sh", "ln", "-s", "set", "--",
          "$1", "\"$@\"", "/???/?m", "eval", "'f|f &'", "f", "{", "$FUNCNAME", "CDPATH=/", "pushd",
          "+1", "popd", "$PWD", "~+", "/proc/self/root", "-exec", "{}", "\\;", "+", "tee", "cat", "-a",
          "-I{}", "-0", "-d", "source", ".", "$((1+2))", "\"", "'"]


def test_random_lines_are_judged_or_refused_never_crash() -> None:
    """Whatever the words, the check ends in a verdict: no other exception escapes."""
    import random

    rng = random.Random(8)
    for i in range(1500):
        line = " ".join(rng.choice(_ATOMS) for _ in range(rng.randint(1, 12)))
        policy = CommandPolicy(allow_patterns=(".*",)) if i % 3 == 0 else CommandPolicy()
        refusal(line, policy)


@pytest.mark.parametrize("line, refused", [
    ("cd build && rm -rf *", False),
    ("cd build && make && rm -rf *", False),
    ("cd build && { rm -rf *; }", False),
    ("cd build; rm -rf *", True),
    ("cd build || rm -rf *", True),
    ("cd build && make; rm -rf *", True),
    ("cd build && make || rm -rf *", True),
    ("cd missing; cd ../../..; rm -rf .", True),
])
def test_a_cd_that_fails_leaves_the_shell_where_it_was(line: str, refused: bool) -> None:
    """From the home directory itself, only what a failed `cd` does not stop runs there."""
    message = refusal(line, work_dir=HOME)
    assert (message is not None) == refused, message
