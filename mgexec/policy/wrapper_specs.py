"""The option table of each program that runs the command named after its own options
(`timeout -s KILL -k 5 10 CMD`, `flock FILE CMD`, `setpriv --reuid=1 CMD`), so the command is found."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "posh", "yash", "rbash",
                    "hush", "ksh93", "lksh", "oksh", "loksh", "pdksh", "osh", "ysh", "bosh",
                    "csh", "tcsh", "fish", "nu", "elvish", "xonsh"})


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
    dashdash: bool = False        # a `--` always starts the command (`aws-vault exec P -- cmd`)


def command_start(words: tuple[str, ...], spec: Spec) -> int | None:
    """Index of the wrapped command's first word, or None if the wrapper runs no command."""
    starts = command_starts(words, spec)
    return starts[0] if starts else None


def command_starts(words: tuple[str, ...], spec: Spec, i: int = 1,
                   operands: int | None = None) -> list[int]:
    """Where the wrapped command may start. Options are read before and after the operands
    (`setarch x86_64 -R cmd`), long options also abbreviated (`timeout --sig KILL`): an
    abbreviation of an option taking a value might instead be a flag the table does not list,
    so both readings are returned (`strace --summary cmd`)."""
    if spec.dashdash and "--" in words[i:]:
        start = words.index("--", i) + 1
        return [start] if start < len(words) else []
    operands = spec.operands if operands is None else operands
    while i < len(words):
        word = words[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            if option in spec.stop_long or abbreviates(option, spec.stop_long):
                return []
            if "=" not in word and option not in spec.long_args and abbreviates(option,
                                                                               spec.long_args):
                return (command_starts(words, spec, i + 2, operands)
                        + command_starts(words, spec, i + 1, operands))[:4]
            i += 2 if option in spec.long_args and "=" not in word else 1
        elif word.startswith("-") and len(word) > 1:
            step = short_cluster(word[1:], spec)
            if step is None:
                return []
            i += step
        elif spec.assignments and _ASSIGNMENT.match(word):
            i += 1
        elif operands:
            operands, i = operands - 1, i + 1
        else:
            return [i]
    i += operands
    return [i] if i < len(words) else []


def abbreviates(option: str, options: frozenset[str]) -> bool:
    """True if `option` is an abbreviation (as getopt_long reads them) of one of `options`."""
    return len(option) >= 4 and sum(o.startswith(option) for o in options) == 1


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
          stop_long: str = "", operands: int = 0, assignments: bool = False,
          dashdash: bool = False) -> Spec:
    return Spec(short, frozenset(long.split()), optional, stop, frozenset(stop_long.split()),
                operands, assignments, dashdash)


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
    # util-linux, coreutils, moreutils and friends
    "setarch": _spec(stop_long="--list --help --version", operands=1),
    **dict.fromkeys(("linux32", "linux64", "i386", "i686", "x86_64", "uname26", "aarch64",
                     "arm64", "armv7l", "ppc64", "ppc64le", "s390x"), _spec()),
    "choom": _spec("n", "--adjust", stop="p", stop_long="--pid"),
    "uclampset": _spec("mM", stop="p", stop_long="--pid"),
    "ld.so": _spec(long="--library-path --inhibit-rpath --audit --preload --argv0 "
                   "--glibc-hwcaps-prepend --glibc-hwcaps-mask",
                   stop_long="--list --verify --help --version --list-tunables --list-diagnostics"),
    "eatmydata": _spec(),
    "nocache": _spec("n"),
    "dbus-launch": _spec(long="--config-file", stop_long="--version --help"),
    "chronic": _spec(),
    "ifne": _spec(),
    "lckdo": _spec(operands=1),
    "tini": _spec("pe"),
    "dumb-init": _spec("r", "--rewrite"),
    "rlwrap": _spec("bCDfFgHlMOPqsStwze", "--break-chars --command-name --file --history-filename "
                    "--logfile --prompt-colour --pre-given --quote-characters --histsize "
                    "--substitute-prompt --set-term-name --polling --filter --extra-char-after-completion",
                    optional="amp"),
    "torsocks": _spec("upaP", "--user --pass --address --port"),
    "proxychains": _spec("f"),
    "proxychains4": _spec("f"),
    "trickle": _spec("dulwtn"),
    "fakechroot": _spec("ldec", "--lib --elfloader --environment --config-dir"),
    "proot": _spec("rbmqwkvRS", "--rootfs --bind --mount --qemu --cwd --pwd --kernel-release "
                   "--verbose"),
    "cpulimit": _spec("l", "--limit", stop="pPe", stop_long="--pid --exe --path"),
    "ssh-agent": _spec("aEOPt", stop="k"),
    "daemonize": _spec("acelopuE"),
    "tsp": _spec("LNDW", stop="lKCtcpoiswkruUSTVh"),
    "nq": _spec(),
    "cross-env": _spec(assignments=True),
    "dotenv": _spec("ecvp", dashdash=True),
    "flatpak-spawn": _spec(long="--env --directory --forward-fd --unset-env --app-path --usr-path "
                           "--sandbox-expose --sandbox-expose-ro --sandbox-flag"),
    "ccache": _spec(stop="CcszpVhxXoMFkd"),
    **dict.fromkeys(("su-exec", "gosu", "setuidgid", "s6-setuidgid", "envuidgid"),
                    _spec(operands=1)),
    "dtach": _spec("AcnNerp", stop="a"),
    "abduco": _spec("cnAe", stop="al"),
    "nsjail": _spec("CcHDTtUuGgEM", "--config --chroot --hostname --cwd --time_limit --user "
                    "--group --env --bindmount --bindmount_ro --tmpfsmount --mount --rlimit_as "
                    "--log --mode", dashdash=True),
    "minijail0": _spec("abcCkmMPSTuvgf", dashdash=True),
    "systemd-nspawn": _spec("DiMuSEbpPZLnJ", "--directory --image --machine --user --setenv "
                            "--bind --bind-ro --tmpfs --overlay --property --network-veth-extra "
                            "--hostname --chdir --slice --uuid --capability --drop-capability "
                            "--kill-signal --link-journal --private-users --register "
                            "--resolv-conf --timezone --console", dashdash=True),
    "distcc": _spec(stop="jvh"),
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
    ("apptainer", "exec"): _spec("BBeHW", "--bind --home --env --env-file --workdir --pwd "
                                 "--overlay --security --network --mount", operands=1),
    ("singularity", "exec"): _spec("BeHW", "--bind --home --env --env-file --workdir --pwd "
                                   "--overlay --security --network --mount", operands=1),
    ("micromamba", "run"): _spec("np", "--name --prefix --cwd"),
    **{(manager, "exec"): _spec() for manager in ("asdf", "rbenv", "pyenv", "nodenv", "goenv",
                                                  "jenv", "plenv", "phpenv")},
    ("volta", "run"): _spec(long="--node --npm --pnpm --yarn --env"),
    ("fnm", "exec"): _spec(long="--using --log-level --node-dist-mirror --fnm-dir --arch "
                           "--version-file-strategy", dashdash=True),
    ("rye", "run"): _spec(long="--pyproject"),
    ("podman", "unshare"): _spec(),
    ("buildah", "unshare"): _spec("m", "--mount"),
    ("toolbox", "run"): _spec("cdr", "--container --distro --release"),
    ("stack", "exec"): _spec(long="--package --rts-options --cwd", dashdash=True),
    ("cabal", "exec"): _spec(dashdash=True),
    ("dune", "exec"): _spec(dashdash=True),
    ("dotenvx", "run"): _spec("fe", "--env-file --env --env-keys-file --convention", dashdash=True),
    ("op", "run"): _spec(long="--env-file --account", dashdash=True),
    ("aws-vault", "exec"): _spec("d", "--duration --region --mfa-token --backend", operands=1,
                                 dashdash=True),
    ("rr", "record"): _spec("bcehnpuvw", "--env --output-trace-dir --num-cpu-ticks"),
    **{("perf", verb): _spec("eoprGCxItFcmjuD", "--event --output --pid --repeat --cgroup --cpu "
                             "--field-separator --interval-print --tid --freq --count --mmap-pages "
                             "--call-graph --uid --delay --expr --duration")
       for verb in ("stat", "record", "trace")},
}
