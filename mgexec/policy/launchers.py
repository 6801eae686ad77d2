"""Tools that run a command written in their own syntax: debuggers (`gdb -ex 'shell …'`),
benchmarkers and watchers (`hyperfine 'cmd'`, `entr`, `watchexec`), socket tools (`socat
SYSTEM:cmd`, `ncat -c`), build tools (`go test -exec`, `cmake -E env`), environment managers
(`nix-shell --run`, `mise x --`), terminals (`xterm -e`), and the dynamic loader (`ld.so PROG`)."""

from __future__ import annotations

import re
from collections.abc import Callable

from mgexec.policy import debuggers, interpreters
from mgexec.policy.launchers_util import values
from mgexec.policy.wrapper_specs import Inner, Spec, command_start, command_starts

_LOADER = re.compile(r"ld(-linux(-[a-z0-9_-]+)?|-musl-[a-z0-9_]+|64)?\.so(\.\d+)*")


# GNU tools installed with a `g` prefix (Homebrew's coreutils and findutils on macOS).
_GNU_PREFIXED = frozenset({"genv", "gnice", "gnohup", "gtimeout", "gstdbuf", "gxargs", "gfind",
                           "gchroot", "gtime"})


def alias(name: str) -> str:
    """The table entry a program name uses: every dynamic loader is `ld.so`, every user-mode
    emulator `qemu-user`, `gtimeout` is `timeout`."""
    if name in _GNU_PREFIXED:
        return name[1:]
    if _LOADER.fullmatch(name):
        return "ld.so"
    if name.startswith("qemu-") and not name.startswith(("qemu-system", "qemu-img", "qemu-nbd",
                                                         "qemu-io", "qemu-pr", "qemu-storage",
                                                         "qemu-ga", "qemu-edid", "qemu-keymap")):
        return "qemu-user"
    return name


def _single_dash(words: tuple[str, ...], takes_value: frozenset[str]) -> int | None:
    """Where the command starts after options written `-name VALUE` (qemu, go)."""
    i = 1
    while i < len(words) and words[i].startswith("-"):
        if words[i] == "--":
            return i + 1 if i + 1 < len(words) else None
        i += 2 if words[i] in takes_value else 1
    return i if i < len(words) else None


def _hyperfine(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """Every operand of hyperfine is a command line it benchmarks, as are `--prepare`,
    `--setup`, `--cleanup`, `--conclude` and `--reference`."""
    runs = {"-p", "--prepare", "-s", "--setup", "-c", "--cleanup", "--conclude", "--reference"}
    arity = {"-L": 2, "--parameter-list": 2, "-P": 3, "--parameter-scan": 3}
    takes = {"-w", "--warmup", "-m", "--min-runs", "-M", "--max-runs", "-r", "--runs", "-S",
             "--shell", "-u", "--time-unit", "--style", "--sort", "--export-asciidoc",
             "--export-csv", "--export-json", "--export-markdown", "--export-orgmode",
             "--output", "-n", "--command-name", "--input", "-D", "--parameter-step-size",
             "--min-benchmarking-time"}
    found: list[Inner] = []
    i = 1
    while i < len(words):
        option, eq, value = words[i].partition("=")
        if option in runs:
            script = value if eq else (words[i + 1] if i + 1 < len(words) else "")
            found.append(Inner(f"{name} {option}", script=script))
            i += 1 if eq else 2
        elif option in arity or option in takes:
            i += 1 if eq else 1 + arity.get(option, 1)
        elif option.startswith("-") and option != "-":
            i += 1
        else:
            found.append(Inner(name, script=words[i]))
            i += 1
    return tuple(found)


def _entr(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`entr [-acdnprsz] UTILITY ARGS`; with `-s` the utility is a command line for a shell."""
    start = command_start(words, Spec())
    if start is None:
        return ()
    if any(w.startswith("-") and "s" in w for w in words[1:start]):
        return (Inner(f"{name} -s", script=" ".join(words[start:])),)
    return (Inner(name, words=words[start:]),)


_WATCHEXEC = Spec("ewWFifsdEjc", frozenset(
    "--exts --watch --watch-non-recursive --watch-file --ignore --ignore-file --filter "
    "--filter-file --filter-prog --signal --stop-signal --stop-timeout --debounce --delay-run "
    "--poll --shell --env --wrap-process --on-busy-update --emit-events-to --project-origin "
    "--workdir --log-file --color --fs-events --print-events --timeout".split()), dashdash=True)


def _watchexec(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`watchexec [opts] -- CMD ARGS` runs words; without `--` its operands are a command line."""
    if "--" in words:
        start = words.index("--") + 1
        return (Inner(name, words=words[start:]),) if start < len(words) else ()
    return tuple(Inner(name, script=" ".join(words[start:])) for start in
                 command_starts(words, _WATCHEXEC))


def _option_scripts(options: tuple[str, ...]) -> Callable[[str, tuple[str, ...]], tuple[Inner, ...]]:
    """A program whose `options` hold a command line a shell runs (`nodemon --exec 'cmd'`)."""
    def judge(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
        return tuple(Inner(f"{name} {o}", script=v) for o, v in values(words, options))
    return judge


def _socat(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """socat's `EXEC:CMD` and `SYSTEM:CMD` (`SHELL:CMD`) addresses run a command; options
    follow the first comma."""
    found: list[Inner] = []
    for word in words[1:]:
        match = re.match(r"(?i)(exec|system|shell):(?P<cmd>.*)", word, re.DOTALL)
        if match:
            command = re.split(r",(?=[A-Za-z-]+(=|,|$))", match["cmd"], maxsplit=1)[0]
            found.append(Inner(f"{name} {match[1].upper()}:", script=command))
    return tuple(found)


def _netcat(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`ncat -e PROG`/`--exec`, `-c CMD`/`--sh-exec`; traditional nc's `-e PROG` and `-c CMD`."""
    found = []
    for option, value in values(words, ("-e", "--exec", "-c", "--sh-exec", "--lua-exec")):
        if option == "--lua-exec":
            found.append(Inner(f"{name} {option}", unreadable=(
                f"`{name} --lua-exec` runs a Lua script the line does not show")))
        else:
            found.append(Inner(f"{name} {option}", script=value))
    return tuple(found)


def _go(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`go test -exec PROG`, `go build -toolexec 'PROG ARGS'`, `go vet -vettool=PROG`."""
    found = []
    for word_index, word in enumerate(words[1:], start=1):
        match = re.fullmatch(r"--?(exec|toolexec|vettool)(=(?P<v>.*))?", word, re.DOTALL)
        if match:
            value = match["v"] if match["v"] is not None else (
                words[word_index + 1] if word_index + 1 < len(words) else "")
            found.append(Inner(f"go -{match[1]}", script=value))
    return tuple(found)


def _mapfile(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`mapfile -C CALLBACK`: bash evaluates the callback as it reads lines."""
    return tuple(Inner(f"{name} -C", script=v) for _, v in values(words, ("-C",)))


_CMAKE_PROGRAMS = re.compile(r"CMAKE_\w+_(COMPILER_LAUNCHER|LINKER_LAUNCHER|COMPILER)|"
                            r"CMAKE_MAKE_PROGRAM|CMAKE_\w+_CLANG_TIDY|CMAKE_\w+_CPPCHECK")


def _cmake(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`cmake -E env [--unset=X] [NAME=V] CMD`, `cmake -E chdir DIR CMD`, `cmake -E time CMD`;
    `-DCMAKE_C_COMPILER_LAUNCHER=PROG;ARGS` (and compilers, linters) run when the build does."""
    found = []
    for i, word in enumerate(words[1:], start=1):
        setting = word[2:] if word.startswith("-D") and len(word) > 2 else (
            words[i + 1] if word == "-D" and i + 1 < len(words) else "")
        key, _, value = setting.partition("=")
        if _CMAKE_PROGRAMS.fullmatch(key.split(":", 1)[0]) and value:
            found.append(Inner(f"cmake -D{key.split(':', 1)[0]}", words=tuple(value.split(";"))))
    return tuple(found) + _cmake_tool(words)


def _cmake_tool(words: tuple[str, ...]) -> tuple[Inner, ...]:
    if len(words) < 4 or words[1] != "-E":
        return ()
    tool, specs = words[2], {"env": Spec(assignments=True), "time": Spec(),
                             "chdir": Spec(operands=1)}
    spec = specs.get(tool)
    if spec is None:
        return ()
    start = command_start(words[2:], spec)
    return (Inner(f"cmake -E {tool}", words=words[2 + start:]),) if start is not None else ()


def _maven(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`mvn exec:exec -Dexec.executable=PROG -Dexec.args='ARGS'` runs PROG ARGS."""
    settings = dict(w[2:].partition("=")[::2] for w in words if w.startswith("-D"))
    program = settings.get("exec.executable")
    if not program or not any(w.startswith("exec:") for w in words):
        return ()
    return (Inner("mvn exec:exec", words=(program, *settings.get("exec.args", "").split())),)


def _scripts(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """Each operand is a command line run by a shell (`pee`, `mispipe`, `concurrently`)."""
    takes = {"-n", "--names", "-c", "--prefix-colors", "-p", "--prefix", "-s", "--success",
             "-m", "--max-processes", "--restart-tries", "--restart-after", "-l",
             "--prefix-length", "-t", "--timestamp-format", "--default-input-target",
             "--passthrough-arguments", "--handle-input", "--kill-signal", "--pad-prefix"}
    found, i = [], 1
    while i < len(words):
        word = words[i]
        if word.startswith("-") and word != "-":
            i += 2 if name == "concurrently" and word in takes else 1
            continue
        found.append(Inner(name, script=word))
        i += 1
    return tuple(found)


def _joined_script(spec: Spec) -> Callable[[str, tuple[str, ...]], tuple[Inner, ...]]:
    """`pixi run CMD ARGS`, `devbox run CMD`, `pueue add -- CMD`: the operands, joined, are one
    command line run by a shell."""
    def judge(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
        label = f"{name} {words[1]}" if len(words) > 1 else name
        starts = command_starts(words[1:], spec)
        return tuple(Inner(label, script=" ".join(words[1 + s:])) for s in starts)
    return judge


def _nix(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`nix-shell --run CMD`/`--command CMD`; `nix develop`/`nix shell -c CMD ARGS`;
    `guix shell … -- CMD`, `distrobox enter -- CMD`, `mise x … -- CMD`, `mise x -c CMD`."""
    if name == "nix-shell":
        return tuple(Inner(f"nix-shell {o}", script=v)
                     for o, v in values(words, ("--run", "--command")))
    for i, word in enumerate(words[1:], start=1):
        if name == "nix" and word in ("-c", "--command") and i + 1 < len(words):
            return (Inner(f"nix {word}", words=words[i + 1:]),)
        if name in ("mise", "rtx") and word in ("-c", "--command") and i + 1 < len(words):
            return (Inner(f"{name} -c", script=words[i + 1]),)
        if word == "--" and name != "nix":
            return (Inner(f"{name} --", words=words[i + 1:]),) if i + 1 < len(words) else ()
    return ()


def _terminal(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """Terminal emulators run `-e CMD ARGS` (xterm, konsole), `-x CMD ARGS` or `-- CMD ARGS`."""
    for i, word in enumerate(words[1:], start=1):
        if word in ("-e", "-x", "--", "--command", "--execute") and i + 1 < len(words):
            return (Inner(f"{name} {word}", script=" ".join(words[i + 1:])),)
    return ()


_QEMU_VALUES = frozenset("-L -E -U -cpu -g -B -R -d -D -p -s -0 -seed -trace -plugin -r".split())


def _qemu(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    start = _single_dash(words, _QEMU_VALUES)
    return (Inner(name, words=words[start:]),) if start is not None else ()


# bubblewrap options and how many values each takes.
_BWRAP = {**dict.fromkeys("--args --userns --userns2 --pidns --uid --gid --hostname --chdir "
                          "--unsetenv --lock-file --sync-fd --remount-ro --proc --dev --tmpfs "
                          "--mqueue --dir --seccomp --add-seccomp-fd --exec-label --file-label "
                          "--block-fd --userns-block-fd --info-fd --json-status-fd --cap-add "
                          "--cap-drop --perms --size --argv0 --chmod".split(), 1),
          **dict.fromkeys("--setenv --bind --bind-try --dev-bind --dev-bind-try --ro-bind "
                          "--ro-bind-try --symlink --file --bind-data --ro-bind-data "
                          "--bind-fd --ro-bind-fd --overlay-src".split(), 2),
          "--overlay": 3, "--ro-overlay": 2, "--tmp-overlay": 2}


def _bwrap(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    i = 1
    while i < len(words) and words[i].startswith("--"):
        if words[i] == "--":
            i += 1
            break
        i += 1 + _BWRAP.get(words[i], 0)
    return (Inner(name, words=words[i:]),) if i < len(words) else ()


def _start_stop_daemon(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`start-stop-daemon --start --exec PROG [--startas PROG] -- ARGS`."""
    programs = [v for o, v in values(words, ("--exec", "-x", "--startas", "-a"))]
    if not programs or not any(w in ("--start", "-S") for w in words):
        return ()
    args = words[words.index("--") + 1:] if "--" in words else ()
    return (Inner(name, words=(programs[-1],) + args),)


def _runcon(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`runcon CONTEXT CMD` or `runcon [-c] [-u U] [-r R] [-t T] [-l L] CMD`."""
    named = any(re.match(r"-[a-z]*[urtl]|--(user|role|type|range)", w) for w in words[1:])
    start = command_start(words, Spec("urtl", frozenset("--user --role --type --range".split()),
                                      operands=0 if named else 1))
    return (Inner(name, words=words[start:]),) if start is not None else ()


def _faketime(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`faketime [-m] [-f] [-p PID] TIMESTAMP CMD`: anything else starting with `-` is the
    timestamp (`faketime '-1 day' CMD`)."""
    i = 1
    while i < len(words) and words[i] in ("-m", "-f", "-p", "--exclude-monotonic", "--date-prog"):
        i += 2 if words[i] in ("-p", "--date-prog") else 1
    return (Inner(name, words=words[i + 1:]),) if i + 1 < len(words) else ()


def _sops(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`sops exec-env FILE 'CMD'`, `sops exec-file FILE 'CMD {}'`: run by a shell."""
    if len(words) < 2 or words[1] not in ("exec-env", "exec-file"):
        return ()
    operands = [w for w in words[2:] if not w.startswith("-")]
    return (Inner(f"sops {words[1]}", script=operands[1]),) if len(operands) > 1 else ()


def _words_after(spec: Spec) -> Callable[[str, tuple[str, ...]], tuple[Inner, ...]]:
    """`pixi exec CMD ARGS`, `doppler run -- CMD ARGS`: the command after the subcommand."""
    def judge(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
        label = f"{name} {words[1]}"
        return tuple(Inner(label, words=words[1 + s:]) for s in command_starts(words[1:], spec))
    return judge


def _secrets_run(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
    """`doppler run --command 'CMD'` (a shell runs it) or `doppler run -- CMD ARGS`."""
    scripts = _option_scripts(("--command",))(name, words)
    return scripts or _words_after(Spec("pc", frozenset(
        "--project --config --token --fallback --env --path --projectId --tags".split()),
        dashdash=True))(name, words)


def _by_subcommand(table: dict[str, Callable[[str, tuple[str, ...]], tuple[Inner, ...]]]
                   ) -> Callable[[str, tuple[str, ...]], tuple[Inner, ...]]:
    def judge(name: str, words: tuple[str, ...]) -> tuple[Inner, ...]:
        handler = table.get(words[1]) if len(words) > 1 else None
        return handler(name, words) if handler else ()
    return judge


_PIXI_RUN = Spec("e", frozenset({"--environment", "--manifest-path"}))

LAUNCHERS: dict[str, Callable[[str, tuple[str, ...]], tuple[Inner, ...]]] = {
    "hyperfine": _hyperfine, "entr": _entr, "watchexec": _watchexec,
    "nodemon": _option_scripts(("--exec", "-x")),
    "doppler": _by_subcommand({"run": _secrets_run}),
    "infisical": _by_subcommand({"run": _secrets_run}),
    **dict.fromkeys(("gdb", "lldb", "cgdb", "gdb-multiarch"), debuggers.debugger),
    "socat": _socat, **dict.fromkeys(("nc", "ncat", "netcat", "nc.traditional"), _netcat),
    "go": _go, "mapfile": _mapfile, "readarray": _mapfile, "cmake": _cmake,
    "pee": _scripts, "mispipe": _scripts, "concurrently": _scripts, "cross-env-shell": _scripts,
    "pixi": _by_subcommand({"run": _joined_script(_PIXI_RUN), "exec": _words_after(
        Spec("sc", frozenset({"--spec", "--channel", "--platform"})))}),
    "devbox": _by_subcommand({"run": _joined_script(Spec("c", frozenset({"--config"})))}),
    "pueue": _by_subcommand({"add": _joined_script(Spec(
        "wdgaol", frozenset("--working-directory --delay --group --after --priority --label"
                            .split()), dashdash=True))}),
    **dict.fromkeys(("nix-shell", "nix", "guix", "distrobox", "mise", "rtx"), _nix),
    **dict.fromkeys(("xterm", "uxterm", "x-terminal-emulator", "gnome-terminal", "konsole",
                     "xfce4-terminal", "urxvt", "rxvt", "lxterminal", "alacritty", "tilix",
                     "terminator", "mate-terminal", "qterminal", "st"), _terminal),
    "qemu-user": _qemu, "bwrap": _bwrap, "start-stop-daemon": _start_stop_daemon,
    "runcon": _runcon, "sops": _sops, "faketime": _faketime, "mvn": _maven, "mvnw": _maven,
    "emacs": debuggers.emacs, "emacsclient": debuggers.emacs, "expect": debuggers.expect,
}
