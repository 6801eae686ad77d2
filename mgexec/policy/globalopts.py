"""Each command's canonical form for the allow and deny lists: the program's own global options
removed (`git -C d -c k=v push x` -> `git push x`, `kubectl -n ns delete pod` -> `kubectl delete
pod`), so patterns written for the plain form see through them. Only options in the table are
removed: an unknown option before the subcommand means no canonical form."""

from __future__ import annotations

import re
import shlex
from functools import lru_cache
from dataclasses import dataclass

from mgexec.policy import subcommands
from mgexec.policy.gitconfig import GLOBAL_VALUE_OPTIONS as _GIT_VALUE_OPTIONS
from mgexec.policy.gitconfig import GIT_COMMANDS, split_git


@dataclass(frozen=True)
class Globals:
    """A program's global options: those taking a value (`-C DIR`, `--context=X`), flags, and
    whether they may also follow the subcommand (kubectl, helm, aws, gcloud)."""

    values: frozenset[str]
    flags: frozenset[str] = frozenset()
    anywhere: bool = False
    attached: tuple[str, ...] = ()  # short value options also written joined (`-Cdir`, `-j4`)
    optional: frozenset[str] = frozenset()  # options whose value, if any, is the next number
    assignments: bool = False  # NAME=value words are settings too (make)
    clusters: bool = False  # short options combine as getopt/pflag allow (`-kj4`, `-Htcp://h`)
    abbreviations: bool = False  # long options may be abbreviated (GNU getopt_long: `--dir=d`)
    # Unknown `--name` options are config flags (npm); used for the deny list only, since a
    # value-taking option the table lacks would make the allow list read the wrong subcommand.
    permissive: bool = False


def _g(values: str, flags: str = "", *, anywhere: bool = False, attached: str = "",
       optional: str = "", assignments: bool = False, clusters: bool = False,
       abbreviations: bool = False, permissive: bool = False) -> Globals:
    return Globals(frozenset(values.split()), frozenset(flags.split()), anywhere,
                   tuple(attached.split()), frozenset(optional.split()), assignments,
                   clusters, abbreviations, permissive)


_KUBE = ("--namespace -n --context --cluster --user --kubeconfig --server -s --token --as "
         "--as-group --as-uid --request-timeout --cache-dir --certificate-authority "
         "--client-certificate --client-key --tls-server-name --password --username -v --v "
         "--profile --profile-output --log-flush-frequency --vmodule --log-dir --log-file "
         "--log-file-max-size --log-backtrace-at --stderrthreshold")
_DOCKER = "--context -c --host -H --config --log-level -l --tlscacert --tlscert --tlskey"
_PODMAN = (_DOCKER + " --connection --url --root --runroot --storage-driver --storage-opt "
           "--cgroup-manager --events-backend --runtime --identity --tmpdir --hooks-dir --conmon")
_KLOG_FLAGS = (" --add-dir-header --alsologtostderr --logtostderr --one-output --skip-headers "
               "--skip-log-headers")
_COMPOSE = _g("-f --file -p --project-name --project-directory --env-file --profile --ansi "
              "--progress --parallel -H --host --log-level -c --context --tlscacert --tlscert "
              "--tlskey", "--dry-run --compatibility --all-resources --verbose --no-ansi "
              "--skip-hostname-check --tls --tlsverify", clusters=True)
_PIP = _g("--python --proxy --cert --client-cert --log --cache-dir --timeout --retries "
          "--exists-action --trusted-host --use-feature --use-deprecated --keyring-provider",
          "-v -vv -vvv -q -qq --verbose --quiet --isolated --no-cache-dir --no-color --no-input "
          "--disable-pip-version-check --require-virtualenv --no-python-version-warning --debug",
          clusters=True)

GLOBALS: dict[str, Globals] = {
    "git": _g(" ".join(_GIT_VALUE_OPTIONS), "-p -P --paginate --no-pager --bare "
              "--no-replace-objects --literal-pathspecs --glob-pathspecs --noglob-pathspecs "
              "--icase-pathspecs --no-optional-locks --no-advice --no-lazy-fetch --exec-path"),
    "docker": _g(_DOCKER, "-D --debug --tls --tlsverify", clusters=True),
    "nerdctl": _g(_DOCKER + " --namespace -n --address -a", "-D --debug", clusters=True),
    "podman": _g(_PODMAN, "--remote -r --debug --syslog --transient-store", clusters=True),
    "docker-compose": _COMPOSE,
    "docker compose": _COMPOSE,
    "podman compose": _COMPOSE,
    "nerdctl compose": _COMPOSE,
    "kubectl": _g(_KUBE, "--insecure-skip-tls-verify --match-server-version "
                  "--warnings-as-errors --disable-compression" + _KLOG_FLAGS, anywhere=True,
                  attached="-n -s -v", clusters=True),
    "oc": _g(_KUBE, "--insecure-skip-tls-verify" + _KLOG_FLAGS, anywhere=True,
             attached="-n -s -v", clusters=True),
    "helm": _g("--namespace -n --kube-context --kubeconfig --burst-limit --qps --registry-config "
               "--repository-cache --repository-config --kube-apiserver --kube-as-user "
               "--kube-as-group --kube-ca-file --kube-tls-server-name --kube-token",
               "--debug --kube-insecure-skip-tls-verify", anywhere=True, clusters=True),
    "npm": _g("--prefix -C --workspace -w --registry --userconfig --loglevel --cache --tag "
              "--access --otp --scope --auth-type --before --cpu --os --libc --omit --include "
              "--install-strategy --save-prefix --depth --editor --shell --script-shell "
              "--node-options --globalconfig --umask --init-module --cafile --ca --cert --key "
              "--proxy --https-proxy --noproxy --fetch-retries --fetch-timeout --heading "
              "--color --browser --viewer --call --package --preid --message -m --userconfig "
              "--workspaces-update --provenance-file --expect-results --sbom-format",
              "-g --global -s --silent -q --quiet -d --verbose --workspaces -ws "
              "--include-workspace-root --dry-run --force -f --json --yes -y --ignore-scripts",
              permissive=True),
    "pnpm": _g("--dir -C --filter -F --registry --loglevel --reporter",
               "-r --recursive -w --workspace-root -s --silent"),
    "yarn": _g("--cwd --registry --mutex --cache-folder --modules-folder", "-s --silent --verbose"),
    "make": _g("-C --directory -f --file --makefile -I --include-dir -o --old-file --assume-old "
               "-W --what-if --new-file --assume-new",
               "-s --silent --quiet -k --keep-going -B --always-make -i --ignore-errors -e "
               "--environment-overrides -r -R -w --print-directory --no-print-directory -S "
               "--no-keep-going --stop -O --output-sync --trace -d --warn-undefined-variables "
               "--no-builtin-rules --no-builtin-variables -n --just-print --dry-run --recon -q "
               "--question -t --touch -p --print-data-base -b -m -L --check-symlink-times "
               "--no-silent --debug --shuffle",
               attached="-C -f -I -o -W -j -l", optional="-j --jobs -l --load-average --max-load",
               anywhere=True, assignments=True, clusters=True, abbreviations=True),
    "cargo": _g("-C --config -Z --color", "-v -vv --verbose -q --quiet --frozen --locked --offline",
                attached="+ -Z", clusters=True),  # `cargo +nightly build`: rustup's toolchain
    "terraform": _g("", "-help -version", attached="-chdir="),
    "tofu": _g("", "-help -version", attached="-chdir="),
    "pip": _PIP,
    "aws": _g("--profile --region --output --endpoint-url --query --color --ca-bundle "
              "--cli-read-timeout --cli-connect-timeout --cli-binary-format --cli-auto-prompt",
              "--debug --no-verify-ssl --no-paginate --no-sign-request --no-cli-pager", anywhere=True),
    "gcloud": _g("--project --account --configuration --verbosity --format --billing-project "
                 "--impersonate-service-account --flags-file --flatten --trace-token",
                 "--quiet -q --log-http", anywhere=True),
}
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")
_PIP = re.compile(r"pip(\d+(\.\d+)*)?")
_PYTHON_VALUES = frozenset({"-W", "-X", "--check-hash-based-pycs"})


def canonical_forms(words: tuple[str, ...], *, settings: bool = True) -> list[tuple[str, ...]]:
    """The command's canonical forms (none if it has no global options to remove). The first
    word stays as written, except that `python -m pip` and `pip3.12` become `pip`. With
    `settings=False` (the allow list), `NAME=value` settings stay, since `make test CC='...'`
    puts CC's value into every recipe that `make test` alone would not run, and an unknown npm
    option leaves no form."""
    return list(_canonical_forms(words, settings))


@lru_cache(maxsize=1024)
def _canonical_forms(words: tuple[str, ...], settings: bool) -> tuple[tuple[str, ...], ...]:
    forms: list[tuple[str, ...]] = []
    current = words
    for _ in range(3):  # `python -m pip --isolated install`, `docker --context x compose -f y up`
        following = _one_step(current, settings)
        if following is None or following == current:
            break
        forms.append(following)
        current = following
    return tuple(forms)


def _one_step(words: tuple[str, ...], settings: bool) -> tuple[str, ...] | None:
    if not words:
        return None
    name = words[0].rsplit("/", 1)[-1].lower()
    if _PYTHON.fullmatch(name):
        module = _python_module(words)  # `python -I -m pip install x` is `pip install x`
        return ("pip",) + module if module is not None else None
    if _PIP.fullmatch(name) and name != "pip":
        return ("pip",) + words[1:]  # `pip3.12 install x` is `pip install x`
    if name in ("docker", "podman", "nerdctl") and len(words) > 1 and words[1] == "compose":
        rest = _strip(GLOBALS[f"{name} compose"], words[2:], settings)
        return None if rest is None else (words[0], "compose") + rest
    globals_ = GLOBALS.get(name)
    if globals_ is None:
        return None
    rest = _strip(globals_, words[1:], settings)
    if rest is None:
        return None
    if name == "git":
        rest = _git_alias(words, rest)
    if name == "cargo":
        rest = _cargo_alias(words, rest)
    return (words[0],) + subcommands.canonical(name, rest)


def _python_module(words: tuple[str, ...]) -> tuple[str, ...] | None:
    """The words after `-m pip` in `python [-I] [-W arg] -m pip ...` (also `-mpip`, `-Im pip`);
    None when python runs anything else."""
    i = 1
    while i < len(words) and words[i].startswith("-") and words[i] != "-":
        word = words[i]
        if word in _PYTHON_VALUES:
            i += 2
            continue
        letters = word[1:]
        if "c" in letters.split("m", 1)[0] or word.startswith("--"):
            return None
        if "m" in letters:
            module = letters.split("m", 1)[1] or (words[i + 1] if i + 1 < len(words) else "")
            step = 1 if letters.split("m", 1)[1] else 2
            return words[i + step:] if module == "pip" else None
        i += 2 if letters[-1:] in ("W", "X") else 1
    return None


def _strip(globals_: Globals, args: tuple[str, ...], settings: bool) -> tuple[str, ...] | None:
    """`args` without the global options; None if an unknown option comes before the subcommand."""
    kept: list[str] = []
    i, before_subcommand = 0, True
    while i < len(args):
        word = args[i]
        if word == "--":
            return tuple(kept) + args[i:]
        step = _option_words(globals_, args, i, settings)
        if step and (before_subcommand or globals_.anywhere):
            i += step
            continue
        if before_subcommand and word.startswith("-") and word != "-":
            return None
        before_subcommand = False
        kept.append(word)
        i += 1
    return tuple(kept)


def _option_words(globals_: Globals, args: tuple[str, ...], i: int, settings: bool) -> int:
    """How many words the global option at `i` takes (0 if it is not one)."""
    word = args[i]
    option, eq, _ = word.partition("=")
    if settings and globals_.assignments and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*[:+?!]?=.*", word, re.DOTALL):
        return 1
    if globals_.abbreviations and option.startswith("--"):
        option = _unabbreviated(globals_, option)
    if option in globals_.optional:
        has_number = not eq and i + 1 < len(args) and args[i + 1].isdigit()
        return 2 if has_number else 1
    if option in globals_.values:
        return 1 if eq else 2
    if option in globals_.flags or any(word.startswith(a) and len(word) > len(a)
                                       for a in globals_.attached):
        return 1  # pflag also takes `--debug=true`
    if globals_.clusters and re.fullmatch(r"-[A-Za-z0-9].+", word, re.DOTALL):
        return _cluster_words(globals_, args, i)
    if settings and globals_.permissive and re.match(r"--[A-Za-z]", word):
        return 1
    return 0


def _cluster_words(globals_: Globals, args: tuple[str, ...], i: int) -> int:
    """Words taken by a cluster of short options (`-kj4`, `-sC dir`, `-Htcp://h`), 0 if a
    letter in it is not a global option."""
    letters = args[i][1:]
    for k, letter in enumerate(letters):
        option, rest = "-" + letter, letters[k + 1:]
        if option in globals_.values:
            return 1 if rest else 2
        if option in globals_.optional:
            if rest:
                return 1 if rest.isdigit() else 0
            return 2 if i + 1 < len(args) and args[i + 1].isdigit() else 1
        if option not in globals_.flags:
            return 0
    return 1


def _unabbreviated(globals_: Globals, option: str) -> str:
    """The long option an abbreviation stands for, if only one known option starts with it."""
    known = {o for o in globals_.values | globals_.flags | globals_.optional if o.startswith("--")}
    matches = [o for o in known if o.startswith(option)]
    return matches[0] if len(option) >= 4 and len(matches) == 1 else option


def _git_alias(words: tuple[str, ...], rest: tuple[str, ...]) -> tuple[str, ...]:
    """`git -c alias.p=push p origin` is `git push origin`; aliases may name other aliases and
    start with options git allows there (`alias.p='--no-pager push'`)."""
    aliases = {key.lower()[6:]: value for key, value in split_git(words).config
               if key.lower().startswith("alias.")}
    seen: set[str] = set()
    while (rest and rest[0].lower() in aliases and rest[0].lower() not in seen
           and rest[0] not in GIT_COMMANDS):
        seen.add(rest[0].lower())
        value = aliases[rest[0].lower()]
        if value.strip().startswith("!"):
            break
        try:
            expanded = tuple(shlex.split(value))
        except ValueError:
            break
        stripped = _strip(GLOBALS["git"], expanded, True)
        rest = (stripped if stripped is not None else expanded) + rest[1:]
    return rest


def _cargo_alias(words: tuple[str, ...], rest: tuple[str, ...]) -> tuple[str, ...]:
    """`cargo --config 'alias.p="publish"' p` is `cargo publish`."""
    aliases = {key[6:]: value for key, value in cargo_config(words)
               if key.startswith("alias.") and value is not None}
    value = aliases.get(rest[0]) if rest else None
    if isinstance(value, str):
        return tuple(value.split()) + rest[1:]
    if isinstance(value, list):
        return tuple(str(v) for v in value) + rest[1:]
    return rest


def cargo_config(words: tuple[str, ...]) -> list[tuple[str, object]]:
    """The `--config KEY=VALUE` pairs on a cargo line, VALUE read as TOML (None if a path, or if
    it is not valid TOML)."""
    import tomllib  # here, not at the top: only cargo lines need it, and a policy worker starts faster without it

    found: list[tuple[str, object]] = []
    for i, word in enumerate(words[1:], start=1):
        option, eq, value = word.partition("=")
        if option != "--config":
            continue
        text = value if eq else (words[i + 1] if i + 1 < len(words) else "")
        key, eq, literal = text.partition("=")
        try:
            found.append((key.strip().strip('"'), tomllib.loads(f"v = {literal}")["v"] if eq
                          else None))
        except tomllib.TOMLDecodeError:
            found.append((key.strip(), None))
    return found
