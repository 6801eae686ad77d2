"""The option table of each program that runs the command named after its own options
(`timeout -s KILL -k 5 10 CMD`, `flock FILE CMD`, `setpriv --reuid=1 CMD`), so the command is found."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "posh", "yash"})


@dataclass(frozen=True)
class Inner:
    """A command run by a wrapper: either ready words, or a script string to parse."""

    label: str
    words: tuple[str, ...] = ()
    script: str | None = None
    unreadable: str = ""  # why part of what runs is only known when the line runs


@dataclass(frozen=True)
class Spec:
    """How a wrapper's options look, so its command can be found after them."""

    short_args: str = ""          # short options taking a value: `-n 5` or `-n5`
    long_args: frozenset[str] = frozenset()  # long options taking a value when written without `=`
    optional_short: str = ""      # short options whose value, if any, is attached (`xargs -i{}`)
    stop_short: str = ""          # short options meaning "no command is run" (`command -v`)
    stop_long: frozenset[str] = frozenset()
    operands: int = 0             # operands before the command (`timeout DURATION cmd`)
    assignments: bool = False     # NAME=VALUE words before the command (`env A=1 cmd`)


def command_start(words: tuple[str, ...], spec: Spec) -> int | None:
    """Index of the wrapped command's first word, or None if the wrapper runs no command."""
    i, operands = 1, spec.operands
    while i < len(words):
        word = words[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            if option in spec.stop_long:
                return None
            i += 2 if option in spec.long_args and "=" not in word else 1
        elif word.startswith("-") and len(word) > 1 and operands == spec.operands:
            step = short_cluster(word[1:], spec)
            if step is None:
                return None
            i += step
        elif spec.assignments and _ASSIGNMENT.match(word):
            i += 1
        elif operands:
            operands, i = operands - 1, i + 1
        else:
            return i
    i += operands
    return i if i < len(words) else None


def short_cluster(chars: str, spec: Spec) -> int | None:
    """How many words a cluster like `-nv5` takes (1 or 2), or None for a stop option."""
    for k, char in enumerate(chars):
        if char in spec.stop_short:
            return None
        if char in spec.short_args:
            return 1 if k + 1 < len(chars) else 2
        if char in spec.optional_short:
            return 1
    return 1


def _spec(short: str = "", long: str = "", *, optional: str = "", stop: str = "",
          stop_long: str = "", operands: int = 0, assignments: bool = False) -> Spec:
    return Spec(short, frozenset(long.split()), optional, stop, frozenset(stop_long.split()),
                operands, assignments)


# Each entry: the options that take a value (so `-u USER CMD` is not read as running `USER`).
SPECS: dict[str, Spec] = {
    "env": _spec("uCSPa", "--unset --chdir --split-string --argv0", assignments=True),
    "nice": _spec("n", "--adjustment"),
    "nohup": _spec(),
    "setsid": _spec(),
    "coproc": _spec(),
    "chroot": _spec(long="--userspec --groups", operands=1),
    "unshare": _spec("SGRwlt", "--setuid --setgid --root --wd --propagation --setgroups --map-user "
                     "--map-group --map-users --map-groups --monotonic --boottime"),
    "nsenter": _spec("tSGe", "--target --setuid --setgid --env --user-parent",
                     optional="mutinpUCTrw"),
    "timeout": _spec("sk", "--signal --kill-after", operands=1),
    "xargs": _spec("aEILPdns", "--arg-file --delimiter --max-args --max-procs --max-chars "
                   "--process-slot-var", optional="eil"),
    "exec": _spec("a"),
    "command": _spec(stop="vV"),
    "builtin": _spec(),
    "time": _spec("fo", "--format --output"),
    "stdbuf": _spec("ioe", "--input --output --error"),
    "sudo": _spec("CDgprRtTuU", "--chdir --close-from --group --host --prompt --role --chroot "
                  "--type --command-timeout --user --other-user",
                  stop="elvVK", stop_long="--edit --list --validate --version --remove-timestamp "
                  "--help"),
    "doas": _spec("uC"),
    "pkexec": _spec(long="--user"),
    "run0": _spec("ugD", "--user --group --chdir --nice --setenv --property --unit --description "
                  "--slice --machine --background"),
    "runuser": _spec("ugGw", "--user --group --supp-group --whitelist-environment --shell"),
    "ionice": _spec("cn", "--class --classdata", stop="pPu", stop_long="--pid --pgid --uid"),
    "taskset": _spec(stop="p", stop_long="--pid", operands=1),
    "chrt": _spec("TPD", "--sched-runtime --sched-period --sched-deadline",
                  stop="pm", stop_long="--pid --max", operands=1),
    "setpriv": _spec(long="--reuid --regid --ruid --euid --rgid --egid --groups --inh-caps "
                     "--ambient-caps --bounding-set --securebits --pdeathsig --selinux-label "
                     "--apparmor-profile --landlock-access --landlock-rule --seccomp-filter",
                     stop="dh", stop_long="--dump --list-caps --help --version"),
    # -c -d -e ... set one limit each; their value, if any, is attached (`-n100`, `--nofile=100`).
    "prlimit": _spec("o", "--output", optional="cdefilmnqrstuvxy", stop="p", stop_long="--pid"),
    "systemd-run": _spec("upEHMCs", "--unit --property --description --slice --setenv --uid --gid "
                         "--nice --working-directory --host --machine --on-active --on-boot "
                         "--on-startup --on-unit-active --on-unit-inactive --on-calendar "
                         "--timer-property --path-property --socket-property --service-type "
                         "--capsule --slice-inherit --json"),
    "strace": _spec("abeEIoOpPsSuUX", "--output --attach --user --env --string-limit --columns "
                    "--trace --signal --status --inject --fault --raw --read --write --trace-path "
                    "--detach-on --summary-sort-by --const-print-style --trace-fds --quiet"),
    "ltrace": _spec("aAeEnolLpsuxDF", "--output --library --indent --align"),
    "fakeroot": _spec("lsi", "--lib --faked"),
    "faketime": _spec(operands=1),
    "xvfb-run": _spec("nsfepw", "--server-num --server-args --auth-file --error-file "
                      "--xauth-protocol --wait"),
    "dbus-run-session": _spec(long="--config-file --dbus-daemon"),
    "catchsegv": _spec(),
    "unbuffer": _spec(),
    "caffeinate": _spec("tw"),
    "valgrind": _spec(),
    "firejail": _spec(),
    "chpst": _spec("ugUeb/nlmdofcrpt"),
}

# `uv run CMD`, `poetry run CMD`: the subcommand word, then options as above.
SUBCOMMAND_SPECS: dict[tuple[str, str], Spec] = {
    ("uv", "run"): _spec("pC", "--with --with-editable --with-requirements --python --extra "
                         "--group --only-group --env-file --directory --project --package "
                         "--index --index-url --extra-index-url --find-links --config-file "
                         "--cache-dir --color --config-setting --python-platform"),
    ("poetry", "run"): _spec("CP", "--directory --project"),
    ("pipenv", "run"): _spec(),
    ("pdm", "run"): _spec("p", "--project"),
    ("hatch", "run"): _spec(),
    ("conda", "run"): _spec("np", "--name --prefix --cwd"),
    ("mamba", "run"): _spec("np", "--name --prefix --cwd"),
    ("bundle", "exec"): _spec(),
    ("opam", "exec"): _spec(long="--switch --root"),
    ("direnv", "exec"): _spec(operands=1),
}
