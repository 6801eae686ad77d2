"""Subcommand spellings that name the same subcommand, for canonical forms: npm's aliases and
abbreviations (`npm i`, `npm rm`, `npm pub`), `helm delete` for `helm uninstall`, `docker
container ls` for `docker ps`, cargo's one-letter aliases, gcloud's release tracks."""

from __future__ import annotations

import re

# npm's own command list and aliases (lib/utils/cmd-list.js); any unambiguous prefix of either
# works too (`npm pub` is `npm publish`).
_NPM_COMMANDS = frozenset((
    "access adduser approve-scripts audit bugs cache ci completion config dedupe deny-scripts "
    "deprecate diff dist-tag docs doctor edit exec explain explore find-dupes fund get help "
    "help-search init install install-ci-test install-scripts install-test link ll login logout "
    "ls org outdated owner pack ping pkg prefix profile prune publish query rebuild repo restart "
    "root run sbom search set shrinkwrap stage star stars start stop team test token trust "
    "undeprecate uninstall unpublish unstar update version view whoami").split())
_NPM_ALIASES = {
    "author": "owner", "home": "docs", "issues": "bugs", "info": "view", "show": "view",
    "find": "search", "add": "install", "unlink": "uninstall", "remove": "uninstall",
    "rm": "uninstall", "r": "uninstall", "un": "uninstall", "rb": "rebuild", "list": "ls",
    "ln": "link", "create": "init", "i": "install", "it": "install-test",
    "cit": "install-ci-test", "u": "update", "up": "update", "c": "config", "s": "search",
    "se": "search", "tst": "test", "t": "test", "ddp": "dedupe", "v": "view",
    "run-script": "run", "clean-install": "ci", "clean-install-test": "install-ci-test",
    "x": "exec", "why": "explain", "la": "ll", "verison": "version", "ic": "ci",
    "innit": "init", "in": "install", "ins": "install", "inst": "install", "insta": "install",
    "instal": "install", "isnt": "install", "isnta": "install", "isntal": "install",
    "isntall": "install", "install-clean": "ci", "isntall-clean": "ci", "hlep": "help",
    "dist-tags": "dist-tag", "upgrade": "update", "udpate": "update", "rum": "run",
    "sit": "install-ci-test", "urn": "run", "ogr": "org", "add-user": "adduser"}
_PNPM_ALIASES = {"i": "install", "rm": "remove", "uninstall": "remove", "un": "remove",
                 "up": "update", "upgrade": "update", "t": "test", "run-script": "run",
                 "ls": "list", "ll": "list", "la": "list", "x": "exec"}
_HELM_ALIASES = {"delete": "uninstall", "del": "uninstall", "un": "uninstall", "ls": "list",
                 "fetch": "pull", "dep": "dependency", "dependencies": "dependency"}
_CARGO_ALIASES = {"b": "build", "c": "check", "d": "doc", "n": "new", "r": "run", "t": "test",
                  "rm": "remove"}
# `docker container X` and `docker image X` written as the short top-level command.
_DOCKER_GROUPS = {
    "container": {**{verb: verb for verb in (
        "attach commit cp create diff exec export kill logs pause port rename restart rm run "
        "start stats stop top unpause update wait inspect").split()},
        "remove": "rm", "ls": "ps", "list": "ps", "ps": "ps", "prune": "container prune"},
    "image": {**{verb: verb for verb in "build history import load pull push save tag inspect"
                 .split()}, "rm": "rmi", "remove": "rmi", "ls": "images", "list": "images",
              "prune": "image prune"},
    "volume": {"remove": "volume rm"}, "network": {"remove": "network rm"},
    "plugin": {"remove": "plugin rm"}, "secret": {"remove": "secret rm"},
    "config": {"remove": "config rm"}, "context": {"remove": "context rm"},
}


def canonical(name: str, rest: tuple[str, ...]) -> tuple[str, ...]:
    """`rest` (the words after the program name, global options removed) with the subcommand
    spelled as its canonical name."""
    if not rest:
        return rest
    first = rest[0]
    if name == "npm":
        return (_npm(first),) + rest[1:]
    if name == "pnpm":
        return (_PNPM_ALIASES.get(first, first),) + rest[1:]
    if name == "helm":
        return (_HELM_ALIASES.get(first, first),) + rest[1:]
    if name == "cargo":
        return (_CARGO_ALIASES.get(first, first),) + rest[1:]
    if name == "gcloud" and first in ("alpha", "beta", "preview") and len(rest) > 1:
        return rest[1:]
    if name in ("docker", "podman", "nerdctl") and len(rest) > 1:
        verb = _DOCKER_GROUPS.get(first, {}).get(rest[1])
        if verb is not None:
            return tuple(verb.split()) + rest[2:]
    return rest


def _npm(command: str) -> str:
    """The command npm runs for `command`, resolved as npm's `deref` does."""
    if re.search(r"[A-Z]", command):  # camelCase: `installTest` is `install-test`
        command = re.sub(r"[A-Z]", lambda m: "-" + m[0].lower(), command)
    if command in _NPM_COMMANDS:
        return command
    if command in _NPM_ALIASES:
        return _NPM_ALIASES[command]
    names = _NPM_COMMANDS | set(_NPM_ALIASES)
    matches = [n for n in names if n.startswith(command)] if command else []
    if len(matches) != 1:
        return command
    resolved = matches[0]
    while resolved in _NPM_ALIASES:
        resolved = _NPM_ALIASES[resolved]
    return resolved
