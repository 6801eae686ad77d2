"""Each command's canonical form for the allow and deny lists: the program's own global options
removed (`git -C d -c k=v push x` -> `git push x`, `kubectl -n ns delete pod` -> `kubectl delete
pod`), so patterns written for the plain form see through them. Only options in the table are
removed: an unknown option before the subcommand means no canonical form."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from mgexec.policy.gitconfig import GLOBAL_VALUE_OPTIONS as _GIT_VALUE_OPTIONS
from mgexec.policy.gitconfig import split_git


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


def _g(values: str, flags: str = "", *, anywhere: bool = False, attached: str = "",
       optional: str = "", assignments: bool = False) -> Globals:
    return Globals(frozenset(values.split()), frozenset(flags.split()), anywhere,
                   tuple(attached.split()), frozenset(optional.split()), assignments)


_KUBE = ("--namespace -n --context --cluster --user --kubeconfig --server -s --token --as "
         "--as-group --as-uid --request-timeout --cache-dir --certificate-authority "
         "--client-certificate --client-key --tls-server-name --password --username -v --v "
         "--profile --profile-output --log-flush-frequency --vmodule")
_DOCKER = "--context -c --host -H --config --log-level -l --tlscacert --tlscert --tlskey"
_PODMAN = (_DOCKER + " --connection --url --root --runroot --storage-driver --storage-opt "
           "--cgroup-manager --events-backend --runtime --identity --tmpdir --hooks-dir --conmon")
_COMPOSE = _g("-f --file -p --project-name --project-directory --env-file --profile --ansi "
              "--progress --parallel", "--dry-run --compatibility --all-resources")
_PIP = _g("--python --proxy --cert --client-cert --log --cache-dir --timeout --retries "
          "--exists-action --trusted-host --use-feature --use-deprecated --keyring-provider",
          "-v -vv -vvv -q -qq --verbose --quiet --isolated --no-cache-dir --no-color --no-input "
          "--disable-pip-version-check --require-virtualenv --no-python-version-warning --debug")

GLOBALS: dict[str, Globals] = {
    "git": _g(" ".join(_GIT_VALUE_OPTIONS), "-p -P --paginate --no-pager --bare "
              "--no-replace-objects --literal-pathspecs --glob-pathspecs --noglob-pathspecs "
              "--icase-pathspecs --no-optional-locks --no-advice --no-lazy-fetch"),
    "docker": _g(_DOCKER, "-D --debug --tls --tlsverify"),
    "nerdctl": _g(_DOCKER + " --namespace -n --address -a", "-D --debug"),
    "podman": _g(_PODMAN, "--remote -r --debug --syslog --transient-store"),
    "docker-compose": _COMPOSE,
    "docker compose": _COMPOSE,
    "podman compose": _COMPOSE,
    "kubectl": _g(_KUBE, "--insecure-skip-tls-verify --match-server-version "
                  "--warnings-as-errors --disable-compression", anywhere=True, attached="-n -s -v"),
    "oc": _g(_KUBE, "--insecure-skip-tls-verify", anywhere=True, attached="-n -s -v"),
    "helm": _g("--namespace -n --kube-context --kubeconfig --burst-limit --qps --registry-config "
               "--repository-cache --repository-config --kube-apiserver --kube-as-user "
               "--kube-as-group --kube-ca-file --kube-tls-server-name --kube-token",
               "--debug --kube-insecure-skip-tls-verify", anywhere=True),
    "npm": _g("--prefix -C --workspace -w --registry --userconfig --loglevel --cache",
              "-g --global -s --silent -q --quiet -d --verbose --workspaces -ws --include-workspace-root"),
    "pnpm": _g("--dir -C --filter -F --registry --loglevel --reporter",
               "-r --recursive -w --workspace-root -s --silent"),
    "yarn": _g("--cwd --registry --mutex --cache-folder --modules-folder", "-s --silent --verbose"),
    "make": _g("-C --directory -f --file --makefile -I --include-dir -o --old-file --assume-old "
               "-W --what-if --new-file --assume-new",
               "-s --silent --quiet -k --keep-going -B --always-make -i --ignore-errors -e "
               "--environment-overrides -r -R -w --print-directory --no-print-directory -S "
               "--no-keep-going --stop -O --output-sync --trace -d --warn-undefined-variables",
               attached="-C -f -I -o -W -j -l", optional="-j --jobs -l --load-average",
               anywhere=True, assignments=True),
    "cargo": _g("-C --config -Z --color", "-v -vv --verbose -q --quiet --frozen --locked --offline",
                attached="+"),  # `cargo +nightly build`: rustup's toolchain choice
    "terraform": _g("", "-help -version", attached="-chdir="),
    "tofu": _g("", "-help -version", attached="-chdir="),
    "pip": _PIP, "pip3": _PIP,
    "aws": _g("--profile --region --output --endpoint-url --query --color --ca-bundle "
              "--cli-read-timeout --cli-connect-timeout --cli-binary-format",
              "--debug --no-verify-ssl --no-paginate --no-sign-request --no-cli-pager", anywhere=True),
    "gcloud": _g("--project --account --configuration --verbosity --format --billing-project "
                 "--impersonate-service-account --flags-file --flatten --trace-token",
                 "--quiet -q --log-http", anywhere=True),
}
# `docker container rm` is `docker rm`; `docker image rm` is `docker rmi`.
_DOCKER_SHORTHANDS = {("container", "rm"): "rm", ("container", "remove"): "rm",
                      ("container", "kill"): "kill", ("image", "remove"): "rmi",
                      ("container", "stop"): "stop", ("container", "exec"): "exec",
                      ("container", "run"): "run", ("container", "prune"): "container prune",
                      ("image", "rm"): "rmi", ("image", "push"): "push", ("image", "pull"): "pull",
                      ("image", "build"): "build", ("volume", "rm"): "volume rm"}
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?")


def canonical_forms(words: tuple[str, ...], *, settings: bool = True) -> list[tuple[str, ...]]:
    """The command's canonical forms (none if it has no global options to remove). The first
    word stays as written, except that `python -m pip` becomes `pip`. With `settings=False`,
    `NAME=value` settings stay: for the allow list, since `make test CC='...'` puts CC's value
    into every recipe that `make test` alone would not run."""
    forms: list[tuple[str, ...]] = []
    current = words
    for _ in range(3):  # `python -m pip --isolated install`, `docker --context x compose -f y up`
        following = _one_step(current, settings)
        if following is None or following == current:
            break
        forms.append(following)
        current = following
    return forms


def _one_step(words: tuple[str, ...], settings: bool) -> tuple[str, ...] | None:
    if not words:
        return None
    name = words[0].rsplit("/", 1)[-1].lower()
    if _PYTHON.fullmatch(name) and words[1:3] == ("-m", "pip"):
        return ("pip",) + words[3:]  # `python -m pip install x` is `pip install x`
    if name in ("docker", "podman") and len(words) > 1 and words[1] == "compose":
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
    if name in ("docker", "podman", "nerdctl") and tuple(rest[:2]) in _DOCKER_SHORTHANDS:
        rest = tuple(_DOCKER_SHORTHANDS[tuple(rest[:2])].split()) + rest[2:]
    return (words[0],) + rest


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
    if option in globals_.optional:
        has_number = not eq and i + 1 < len(args) and args[i + 1].isdigit()
        return 2 if has_number else 1
    if option in globals_.values:
        return 1 if eq else 2
    if word in globals_.flags or any(word.startswith(a) and len(word) > len(a)
                                     for a in globals_.attached):
        return 1
    return 0


def _git_alias(words: tuple[str, ...], rest: tuple[str, ...]) -> tuple[str, ...]:
    """`git -c alias.p=push p origin` is `git push origin`."""
    if not rest:
        return rest
    aliases = {key.lower()[6:]: value for key, value in split_git(words).config
               if key.lower().startswith("alias.")}
    value = aliases.get(rest[0].lower())
    if value is None or value.strip().startswith("!"):
        return rest
    try:
        return tuple(shlex.split(value)) + rest[1:]
    except ValueError:
        return rest
