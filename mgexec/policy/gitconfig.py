"""What git runs besides itself: `!` aliases and the config keys whose value is a command (set with
`-c`, `git config`, or GIT_CONFIG_* variables), and subcommand options such as `--upload-pack`,
`rebase --exec`, `bisect run` and `submodule foreach`. git runs these through `sh -c`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mgexec.policy.wrapper_specs import Inner

_BOOLEAN = frozenset({"", "true", "false", "yes", "no", "on", "off", "1", "0"})
# Config keys (lower-cased) whose value git runs, and how: "shell" a command line; "bang" a
# command line only when written `!cmd`; "maybe" a command line unless it is a boolean;
# "helper" credential helpers; "alias"; "files" commands in files the line does not show.
_CONFIG_KEYS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), kind) for pattern, kind in (
        (r"alias\..+", "alias"),
        (r"credential(\..+)?\.helper", "helper"),
        (r"submodule\..+\.update", "bang"),
        (r"core\.fsmonitor|pager\..+", "maybe"),
        (r"core\.(pager|editor|sshcommand|askpass|gitproxy|alternaterefscommand)|sequence\.editor"
         r"|diff\.external|diff\..+\.(command|textconv)|merge\..+\.driver"
         r"|filter\..+\.(clean|smudge|process)|gpg(\..+)?\.program|gpg\.ssh\.defaultkeycommand"
         r"|browser\..+\.(cmd|path)|(diff|merge)tool\..+\.(cmd|path)"
         r"|sendemail\.(sendmailcmd|smtpserver|tocmd|cccmd|headercmd)"
         r"|remote\..+\.(uploadpack|receivepack)|uploadpack\.packobjectshook"
         r"|interactive\.difffilter|man\..+\.(cmd|path)|instaweb\.httpd"
         r"|trailer\..+\.(command|cmd)|tar\..+\.command|imap\.tunnel|guitool\..+\.cmd"
         r"|lfs\.customtransfer\..+\.path", "shell"),
        (r"core\.hookspath|include\.path|includeif\..+\.path|init\.templatedir", "files")))
# git's own commands: an alias with one of these names is ignored (git runs the command).
GIT_COMMANDS = frozenset((
    "add am annotate apply archive backfill bisect blame branch bugreport bundle cat-file "
    "check-attr check-ignore check-mailmap check-ref-format checkout checkout-index cherry "
    "cherry-pick citool clean clone column commit commit-graph commit-tree config count-objects "
    "credential credential-cache credential-store cvsimport daemon describe diagnose diff "
    "diff-files diff-index diff-tree difftool fast-export fast-import fetch fetch-pack "
    "filter-branch fmt-merge-msg for-each-ref for-each-repo format-patch fsck fsck-objects gc "
    "get-tar-commit-id gitk grep gui hash-object help hook http-backend http-fetch http-push "
    "imap-send index-pack init init-db instaweb interpret-trailers last-modified lfs log ls-files "
    "ls-remote ls-tree mailinfo mailsplit maintenance merge merge-base merge-file merge-index "
    "merge-octopus merge-one-file merge-ours merge-recursive merge-recursive-ours "
    "merge-recursive-theirs merge-resolve merge-subtree merge-tree mergetool mktag mktree "
    "multi-pack-index mv name-rev notes p4 pack-objects pack-redundant pack-refs patch-id pickaxe "
    "prune prune-packed pull push quiltimport range-diff read-tree rebase receive-pack reflog "
    "refs remote remote-ext remote-fd remote-ftp remote-ftps remote-http remote-https repack "
    "replace replay request-pull rerere reset restore rev-list rev-parse revert rm scalar "
    "send-email send-pack shell shortlog show show-branch show-index show-ref sparse-checkout "
    "stage stash status stripspace submodule subtree survey svn switch symbolic-ref tag "
    "unpack-file unpack-objects update-index update-ref update-server-info upload-archive "
    "upload-pack var verify-commit verify-pack verify-tag version whatchanged worktree write-tree").split())
# Global options that take a value in the next word (`git -C dir`, `git --git-dir d`).
GLOBAL_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace",
                                  "--super-prefix", "--config-env", "--list-cmds", "--attr-source"})
# Subcommand options whose value git runs (any subcommand, or the one named).
_RUN_OPTIONS = {
    "*": ("--upload-pack", "--receive-pack"), "push": ("--exec",), "archive": ("--exec",),
    "send-pack": ("--exec",), "rebase": ("--exec", "-x"), "clone": ("-u",), "ls-remote": ("-u",),
    "difftool": ("-x", "--extcmd"), "daemon": ("--access-hook",),
    "send-email": ("--sendmail-cmd", "--smtp-server", "--to-cmd", "--cc-cmd", "--header-cmd"),
    "filter-branch": ("--setup", "--env-filter", "--tree-filter", "--index-filter",
                      "--parent-filter", "--msg-filter", "--commit-filter", "--tag-name-filter")}


@dataclass(frozen=True)
class GitLine:
    """git's global options: config pairs they set, what they hide, where the subcommand is."""

    config: tuple[tuple[str, str], ...]
    hidden: tuple[tuple[str, str], ...]  # (option, why the policy cannot see what it runs)
    subcommand: int | None
    from_env: tuple[tuple[str, str], ...] = ()  # `--config-env=KEY=VAR`: (KEY, VAR)


def split_git(words: tuple[str, ...]) -> GitLine:
    config: list[tuple[str, str]] = []
    hidden: list[tuple[str, str]] = []
    from_env: list[tuple[str, str]] = []
    i = 1
    while i < len(words) and words[i].startswith("-"):
        word = words[i]
        option, eq, value = word.partition("=")
        if option in GLOBAL_VALUE_OPTIONS and not eq:
            value, i = (words[i + 1] if i + 1 < len(words) else ""), i + 1
        if option == "-c":
            key, _, val = value.partition("=")
            config.append((key, val))
        elif option == "--config-env":
            key, _, variable = value.partition("=")
            from_env.append((key, variable))
        elif option == "--exec-path" and eq:
            hidden.append((word, "`--exec-path` makes git run its subcommands from a directory"))
        i += 1
    return GitLine(tuple(config), tuple(hidden), i if i < len(words) else None, tuple(from_env))


def git_commands(words: tuple[str, ...], variables: dict[str, str] | None = None
                 ) -> tuple[Inner, ...]:
    """What a git command line runs; `variables` are those set on the same command, which
    `--config-env=KEY=VAR` reads."""
    line = split_git(words)
    found = list(config_commands("git -c", line.config))
    for key, variable in line.from_env:
        if variables is not None and variable in variables:
            found += config_commands("git --config-env", [(key, variables[variable])])
        else:
            found.append(Inner("git --config-env", unreadable=(
                f"`--config-env={key}={variable}` takes a config value from the environment")))
    found += [Inner(f"git {option.split('=', 1)[0]}", unreadable=why) for option, why in line.hidden]
    if line.subcommand is not None:
        found += _subcommand_commands(words[line.subcommand:])
    found += [Inner("git ext::", words=ext_words(w)) for w in words[1:] if w.startswith("ext::")]
    return tuple(found)


def ext_words(url: str) -> tuple[str, ...]:
    """The command an `ext::` URL runs: split at spaces, `% ` is a space inside a word, `%%` a
    percent sign, `%s`/`%S` the service name (git-remote-ext)."""
    words, current, k, text = [], "", 0, url[5:]
    while k < len(text):
        char = text[k]
        if char == "%" and k + 1 < len(text):
            current += {" ": " ", "%": "%", "s": "upload-pack", "S": "git-upload-pack"}.get(
                text[k + 1], "")
            k += 2
            continue
        if char == " ":
            words, current = words + [current] if current else words, ""
        else:
            current += char
        k += 1
    return tuple(words + [current] if current else words)


def config_commands(label: str, pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]
                    ) -> tuple[Inner, ...]:
    """The commands that config `key=value` pairs make git run."""
    found: list[Inner] = []
    for key, value in pairs:
        for url in (value, key[4:] if key.lower().startswith("url.") else ""):
            if url.startswith("ext::"):  # `remote.x.url=ext::CMD`, `url.ext::CMD.insteadOf`
                found.append(Inner(f"{label} {key}", words=ext_words(
                    re.sub(r"\.(insteadof|pushinsteadof)$", "", url, flags=re.I))))
        kind = next((k for pattern, k in _CONFIG_KEYS if pattern.fullmatch(key.lower())), None)
        command = _config_command(kind, key, value)
        where = f"{label} {key}"
        if kind == "files":
            found.append(Inner(where, unreadable=f"`{key}` makes git run commands from files "
                                                 "the line does not show"))
        elif command is not None:
            found.append(Inner(where, script=command))
    return tuple(found)


def _config_command(kind: str | None, key: str, value: str) -> str | None:
    stripped = value.strip()
    if kind == "alias":
        return stripped[1:] if stripped.startswith("!") else f"git {stripped}"
    if kind == "bang":
        return stripped[1:] if stripped.startswith("!") else None
    if kind == "helper":
        if stripped.startswith("!"):
            return stripped[1:]
        return stripped if stripped.startswith("/") or not stripped else f"git credential-{stripped}"
    if kind == "maybe" and stripped.lower() in _BOOLEAN:
        return None
    if kind in ("maybe", "shell"):
        return stripped or None
    return None


def _subcommand_commands(args: tuple[str, ...]) -> list[Inner]:
    sub, rest = args[0], args[1:]
    if sub == "bisect" and rest[:1] == ("run",) and len(rest) > 1:
        return [Inner("git bisect run", words=rest[1:])]
    if sub == "submodule" and "foreach" in rest:
        command = [w for w in rest[rest.index("foreach") + 1:] if w not in ("--recursive",)]
        return [Inner("git submodule foreach", script=" ".join(command))] if command else []
    if sub == "config":
        return list(config_commands("git config", _config_set(rest)))
    found = [Inner(f"git {sub} {option}", script=value) for option, value in _run_options(sub, rest)]
    if sub == "grep":
        found += [Inner("git grep -O", script=w.partition("=")[2] if w.startswith("--") else w[2:])
                  for w in rest if re.match(r"-O.|--open-files-in-pager=.", w)]
    return found


def _run_options(sub: str, rest: tuple[str, ...]) -> list[tuple[str, str]]:
    """(option, value) for the options of `sub` whose value git runs; long options may be
    abbreviated, as git's option parser allows."""
    options = _RUN_OPTIONS["*"] + _RUN_OPTIONS.get(sub, ())
    found: list[tuple[str, str]] = []
    for i, word in enumerate(rest):
        if word == "--":
            break
        option, eq, value = word.partition("=")
        full = next((o for o in options if o == option or (
            o.startswith("--") and len(option) >= 5 and o.startswith(option))), None)
        short = next((o for o in options if len(o) == 2 and word.startswith(o) and len(word) > 2), None)
        if full:
            found.append((full, value if eq else (rest[i + 1] if i + 1 < len(rest) else "")))
        elif short:
            found.append((short, word[2:]))
    return found


def _config_set(rest: tuple[str, ...]) -> list[tuple[str, str]]:
    """The key and value `git config [set] [--global] KEY VALUE` writes (None if it reads)."""
    positional: list[str] = []
    skip = False
    for word in rest:
        if skip:
            skip = False
        elif word in ("-f", "--file", "--blob", "--type", "--default", "--comment", "--value"):
            skip = True
        elif not word.startswith("-"):
            positional.append(word)
    if positional[:1] in (["set"], ["add"]):
        positional = positional[1:]
    return [(positional[0], positional[1])] if len(positional) >= 2 else []
