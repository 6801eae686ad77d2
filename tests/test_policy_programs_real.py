"""The wrapper and program tables against the real programs: each line, run by bash with a
harmless `touch MARKER` where the table says a command runs, really creates the marker, and the
parser finds that same `touch MARKER` as a command run by the program the table names."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mgexec.policy import parse_command_line

# (programs that must be installed, line with {m} for the marker and {d} for a scratch dir, via)
CASES = [
    (["git"], "git -c alias.x='!touch {m}' x", "git -c alias.x"),
    (["git", "script"], "git -c core.pager='touch {m}; cat' -p version", "git -c core.pager"),
    (["git", "script"], "GIT_PAGER='touch {m}; cat' git -p version", "GIT_PAGER="),
    (["git"], "GIT_SSH_COMMAND='touch {m}; false' git ls-remote ssh://h/x", "GIT_SSH_COMMAND="),
    (["git"], "git -c core.sshCommand='touch {m}; false' ls-remote ssh://h/x",
     "git -c core.sshCommand"),
    (["git"], "git ls-remote --upload-pack='touch {m}; false' {d}/repo", "git ls-remote --upload-pack"),
    (["git"], "git -C {d}/repo -c alias.y='!touch {m}' y", "git -c alias.y"),
    (["tar"], "tar -cf {d}/x.tar --checkpoint=1 --checkpoint-action=exec='touch {m}' -C {d} repo",
     "tar --checkpoint-action=exec"),
    (["tar"], "tar -cf {d}/y.tar -C {d} repo && tar -xf {d}/y.tar --to-command='touch {m}; cat >/dev/null'",
     "tar --to-command"),
    (["tar", "gzip"], "tar -I 'touch {m}; gzip' -cf {d}/z.tgz -C {d} repo",
     "tar --use-compress-program"),
    (["sed"], "echo a | sed '1e touch {m}'", "sed e"),
    (["sed"], "echo a | sed 's|.*|touch {m}|e'", "sed s///e"),
    (["awk"], "awk 'BEGIN{{system(\"touch {m}\")}}'", "awk system()"),
    (["awk"], "awk 'BEGIN{{print \"x\" | \"touch {m}\"}}'", "awk print |"),
    (["awk"], "awk 'BEGIN{{\"touch {m}\" | getline x}}'", "awk | getline"),
    (["awk"], "awk -v c='touch {m}' 'BEGIN{{system(c)}}'", "awk system()"),
    (["awk"], "awk 'BEGIN{{print \"touch {m}\" | \"sh\"}}'", "awk print | sh"),
    (["flock"], "flock {d}/lock -c 'touch {m}'", "flock -c"),
    (["flock"], "flock -w 5 {d}/lock touch {m}", "flock"),
    (["script"], "script -qc 'touch {m}' /dev/null", "script -c"),
    (["timeout"], "timeout -s KILL -k 5 10 touch {m}", "timeout"),
    (["env"], "env -u NAME -S 'touch {m}'", "env -S"),
    (["env"], "env -C {d} touch {m}", "env"),
    (["setpriv"], "setpriv --no-new-privs touch {m}", "setpriv"),
    (["prlimit"], "prlimit --nofile=100 touch {m}", "prlimit"),
    (["taskset"], "taskset -c 0 touch {m}", "taskset"),
    (["ionice"], "ionice -c 3 touch {m}", "ionice"),
    (["chrt"], "chrt -o 0 touch {m}", "chrt"),
    (["strace"], "strace -f -o /dev/null touch {m}", "strace"),
    (["vim"], "vim -es -u NONE -c '!touch {m}' -c 'q!'", "vim -c !"),
    (["vim"], "vim -es -u NONE -c 'r!touch {m}' -c 'q!'", "vim -c !"),
    (["vim"], "vim -es -u NONE -c 'call system(\"touch {m}\")' -c 'q!'", "vim -c system()"),
    (["ssh"], "ssh -o ProxyCommand='touch {m}; exit 1' -o BatchMode=yes h true", "ssh -o ProxyCommand"),
    (["man", "script"], "man -P 'touch {m}' man", "man -P"),
    (["watch"], "timeout 2 watch -n 1 'touch {m}'", "watch"),
]


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=False, capture_output=True)
    return tmp_path


@pytest.mark.parametrize("needs, template, via", CASES)
def test_the_table_names_what_the_program_really_runs(scratch: Path, needs: list[str],
                                                      template: str, via: str) -> None:
    missing = [program for program in needs if shutil.which(program) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    marker = scratch / "marker"
    line = template.format(m=marker, d=scratch)
    found = [c for c in parse_command_line(line) if c.words == ("touch", str(marker))]
    assert found and via in found[0].via, [(c.words, c.via) for c in parse_command_line(line)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PAGER"))}
    env.update(HOME=str(scratch), TERM="dumb", MANPAGER="", GIT_CONFIG_NOSYSTEM="1")
    # Pagers run only on a terminal: those lines run under `script`, which gives them one.
    argv = ["script", "-qec", line, "/dev/null"] if "script" in needs[1:] else ["bash", "-c", line]
    env["SHELL"] = "/bin/bash"
    subprocess.run(argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=30, check=False)
    assert marker.exists(), f"{line!r} did not run the command the table names"
