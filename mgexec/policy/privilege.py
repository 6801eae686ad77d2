"""Privilege without sudo: commands that switch identity, or change ownership, permissions,
capabilities or mounts, by any route the line shows (`chmod`, `install -m 4755`, `cp -p`,
`setcap`, `mount`, ...). The baseline refuses them unless sudo is enabled."""

from __future__ import annotations

import re
from collections.abc import Callable

from mgexec.policy.shellcommand import SimpleCommand

# Commands refused whatever their arguments.
PRIVILEGED = {
    "sudo": "privilege escalation (sudo)",
    "su": "user switching (su)",
    "doas": "privilege escalation (doas)",
    "pkexec": "privilege escalation (pkexec)",
    "run0": "privilege escalation (run0)",
    "runuser": "user switching (runuser)",
    "sg": "group switching (sg)",
    "newgrp": "group switching (newgrp)",
    "chown": "ownership change (chown)",
    "chgrp": "ownership change (chgrp)",
    "chmod": "permission change (chmod)",
    "setcap": "capability change (setcap)",
    "setfacl": "permission change through access control lists (setfacl)",
    "chacl": "permission change through access control lists (chacl)",
    "chattr": "file attribute change (chattr)",
    "umount": "unmounting a file system (umount)",
    "nsenter": "entering another process's namespaces (nsenter)",
    "nfs4_setfacl": "permission change through access control lists (nfs4_setfacl)",
    "nfs4_editfacl": "permission change through access control lists (nfs4_editfacl)",
    **{tool: f"running a command as another user ({tool})" for tool in (
        "su-exec", "gosu", "setuidgid", "s6-setuidgid", "ksu", "envuidgid", "newuidmap",
        "newgidmap")},
    **{tool: f"mounting or unmounting a file system ({tool})" for tool in (
        "fusermount", "fusermount3", "pivot_root", "switch_root", "swapon", "swapoff")},
    "sudoedit": "privilege escalation (sudoedit)",
    "sudo-rs": "privilege escalation (sudo-rs)",
    **{tool: f"user or group account change ({tool})" for tool in (
        "passwd", "chpasswd", "usermod", "useradd", "userdel", "adduser", "deluser", "groupadd",
        "groupmod", "groupdel", "addgroup", "delgroup", "gpasswd", "vipw", "vigr", "visudo",
        "chsh", "chfn", "chage")},
}
_SET_ID_BITS = 0o6000
_GNU_PREFIXED = frozenset({"gchmod", "gchown", "gchgrp", "ginstall", "gcp", "gmkdir", "gmknod",
                           "gmkfifo"})


def privilege_reason(cmd: SimpleCommand, name: str) -> str | None:
    """Why `cmd` (whose lower-cased program name is `name`) is refused with sudo disabled."""
    if re.fullmatch(r"u?mount\.[a-z0-9_.+-]+", name):  # `mount.nfs`, `mount.cifs`, `umount.udisks2`
        name = name.split(".", 1)[0]
    if name in _GNU_PREFIXED:  # Homebrew's `gchmod`, `gchown`, `ginstall`, ...
        name = name[1:]
    what = PRIVILEGED.get(name)
    rule = _RULES.get(name)
    if what is None and rule is not None:
        what = rule(name, cmd.words[1:])
    if what is None:
        return None
    what, _, hint = what.partition("; ")
    return (f"{what} is disabled; it is allowed only when sudo is enabled "
            f"(command_line_docker_enable_sudo: true){'; ' + hint if hint else ''}")


def sets_id_bits(mode: str) -> bool:
    """True for a mode that sets the setuid or setgid bit: `4755`, `02775`, `u+s`, `g=rwxs`,
    `u-w+s` (chmod's grammar: each clause is `[ugoa]*` then one or more `[-+=]PERMS`)."""
    if re.fullmatch(r"[0-7]{1,5}", mode):
        return bool(int(mode, 8) & _SET_ID_BITS)
    for clause in mode.split(","):
        who = re.match(r"[ugoa]*", clause)
        if who is not None and who.group() == "o" * len(who.group()) and who.group():
            continue  # `o+s` sets nothing
        for op, perms in re.findall(r"([-+=])([^-+=]*)", clause[who.end() if who else 0:]):
            if op in "+=" and "s" in perms:
                return True
    return False


def _short_values(args: tuple[str, ...], takes_value: str) -> list[tuple[str, str]]:
    """(letter, value) for every short option in `args` (value "" for flags), stopping at `--`;
    `-m4755` and `-m 4755` both give ("m", "4755")."""
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            break
        if word.startswith("-") and not word.startswith("--") and len(word) > 1:
            for k, letter in enumerate(word[1:], start=1):
                if letter in takes_value:
                    value = word[k + 1:] or (args[i + 1] if i + 1 < len(args) else "")
                    i += 0 if word[k + 1:] else 1
                    found.append((letter, value))
                    break
                found.append((letter, ""))
        i += 1
    return found


# Shortest prefix each long option accepts (GNU getopt takes any unambiguous abbreviation).
_ABBREVIATIONS = {"--archive": "--ar", "--preserve": "--pr", "--no-preserve": "--no-pr",
                  "--mode": "--m", "--owner": "--o", "--group": "--g", "--name": "--na",
                  "--restore": "--res", "--value": "--va", "--devices": "--dev",
                  "--userspec": "--u", "--chuid": "--chu",
                  "--same-owner": "--same-o", "--same-permissions": "--same-p",
                  "--preserve-permissions": "--preserve-", "--extract": "--ext"}


def _unabbreviated(option: str) -> str:
    matches = [full for full, shortest in _ABBREVIATIONS.items()
               if option.startswith(shortest) and full.startswith(option)]
    return min(matches, key=len) if matches else option


def _long_values(args: tuple[str, ...], takes_value: frozenset[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for i, word in enumerate(args):
        if word == "--":
            break
        if word.startswith("--"):
            option, eq, value = word.partition("=")
            option = _unabbreviated(option)
            if option in takes_value and not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
            found.append((option, value))
    return found


def _install(name: str, args: tuple[str, ...]) -> str | None:
    """`install -m 4755`, `install -m u+s`, `install -o root`, `install -g wheel`."""
    options = (_short_values(args, "mogSt")
               + _long_values(args, frozenset({"--mode", "--owner", "--group"})))
    for option, value in options:
        if option in ("m", "--mode") and sets_id_bits(value):
            return f"setting the setuid/setgid bit with `install -m {value}` (like chmod u+s)"
        if option in ("o", "g", "--owner", "--group"):
            flag = option if option.startswith("--") else f"-{option}"
            return f"ownership change with `install {flag} {value}`"
    return None


def _mode_option(name: str, args: tuple[str, ...]) -> str | None:
    """`mkdir -m 2775`, `mkfifo -m u+s`; and `mknod` of a block or character device."""
    options = _short_values(args, "mZ") + _long_values(args, frozenset({"--mode"}))
    for option, value in options:
        if option in ("m", "--mode") and sets_id_bits(value):
            return f"setting the setuid/setgid bit with `{name} -m {value}` (like chmod u+s)"
    values = {v for _, v in options}
    operands = [a for a in args if not a.startswith("-") and a not in values]
    if name == "mknod" and len(operands) >= 2 and operands[1] in ("b", "c", "u"):
        return "creating a device node (mknod)"
    return None


_PRESERVE_ALL = frozenset({"mode", "ownership", "timestamps", "links", "context", "xattr"})


def _cp(name: str, args: tuple[str, ...]) -> str | None:
    """`cp -p`, `cp -a`, `cp --preserve[=mode|ownership|all]` copy permission bits (setuid
    included) and, as root, owners; `--no-preserve=mode,ownership` takes that back."""
    kept: set[str] = set()
    for letter, _ in _short_values(args, "St"):
        kept |= {"p": {"mode", "ownership"}, "a": set(_PRESERVE_ALL)}.get(letter, set())
    for option, value in _long_values(args, frozenset({"--suffix", "--target-directory"})):
        if option == "--archive":
            kept |= _PRESERVE_ALL
        elif option in ("--preserve", "--no-preserve"):
            named = set(value.split(",")) if value else {"mode", "ownership"}
            named = set(_PRESERVE_ALL) if "all" in named else named
            kept = kept | named if option == "--preserve" else kept - named
    if kept & {"mode", "ownership"}:
        return ("copying with permissions and ownership preserved (`cp -p`/`-a`/`--preserve`, "
                "which carry setuid bits and owners across); to copy without them add "
                "`--no-preserve=mode,ownership` or use `cp -r`")
    return None


_RSYNC_KEPT = {"perms": ("p", "--perms", "--no-perms", "--no-p"),
               "owner": ("o", "--owner", "--no-owner", "--no-o"),
               "group": ("g", "--group", "--no-group", "--no-g")}


def _rsync(name: str, args: tuple[str, ...]) -> str | None:
    """rsync to this machine with `-a`, `-p`, `-o`, `-g`, `--chmod`, `--chown` or user maps."""
    operands = [a for a in args if not a.startswith("-")]
    if operands and re.match(r"[^/]*:|rsync://", operands[-1]):
        return None  # permissions set on another host are not a privilege here
    letters = {letter for letter, _ in _short_values(args, "eBfTM@")}
    longs = {option for option, _ in _long_values(args, frozenset({"--rsh"}))}
    archive = "a" in letters or "--archive" in longs
    kept = [what for what, (letter, on, off, short_off) in _RSYNC_KEPT.items()
            if (archive or letter in letters or on in longs) and not {off, short_off} & longs]
    if ("D" in letters or "--devices" in longs or archive) and not longs & {"--no-devices",
                                                                          "--no-D"}:
        kept.append("devices")
    if kept or longs & {"--chmod", "--chown", "--usermap", "--groupmap", "--super"}:
        return ("copying with permissions or ownership preserved or set, or device files "
                "recreated (`rsync -a`/`-p`/`-o`/`-g`/`-D`/`--chmod`/`--chown`); to copy without "
                "them add `--no-perms --no-owner --no-group --no-devices` or use `rsync -rlt`")
    return None


def _tar(name: str, args: tuple[str, ...]) -> str | None:
    """Extracting with `-p`/`--same-owner`/`--preserve-permissions` keeps setuid bits and owners."""
    letters = set(args[0]) if args and not args[0].startswith("-") else set()
    letters |= {letter for letter, _ in _short_values(args, "bCfFgHIKLNTVX")}
    longs = {option for option, _ in _long_values(args, frozenset())}
    extracting = "x" in letters or longs & {"--extract", "--get"}
    if extracting and ("p" in letters or longs & {"--preserve-permissions", "--same-permissions",
                                                  "--same-owner", "--preserve"}):
        return ("extracting with permissions or owners preserved (`tar -p`/`--same-owner`, which "
                "carry setuid bits and owners out of the archive); to extract without them drop "
                "`-p`/`--same-owner`")
    return None


_ID_OPTIONS = frozenset({"--reuid", "--regid", "--ruid", "--euid", "--rgid", "--egid", "--groups",
                         "--init-groups", "--clear-groups", "--keep-groups", "--inh-caps",
                         "--ambient-caps", "--bounding-set", "--securebits"})


def _setpriv(name: str, args: tuple[str, ...]) -> str | None:
    if any(word.split("=", 1)[0] in _ID_OPTIONS for word in args):
        return "identity or capability change (setpriv)"
    return None


def _capsh(name: str, args: tuple[str, ...]) -> str | None:
    readers = ("--print", "--current", "--decode=", "--has-p=", "--has-i=", "--has-a=",
               "--has-b=", "--supports=", "--help", "--explain=")
    if all(word.startswith(readers) for word in args):
        return None
    return "identity or capability change (capsh)"


def _setfattr(name: str, args: tuple[str, ...]) -> str | None:
    """Extended attributes in the security, trusted and system namespaces carry capabilities
    and access control lists; user.* attributes are ordinary data."""
    values = _short_values(args, "nvx") + _long_values(args, frozenset({"--name", "--value"}))
    for option, value in values:
        if option in ("n", "--name") and value.lower().startswith(("security.", "trusted.",
                                                                    "system.")):
            return f"setting the `{value}` attribute (setfattr), which carries capabilities or ACLs"
        if option == "--restore":
            return "restoring extended attributes, capabilities included (setfattr --restore)"
    return None


def _mount(name: str, args: tuple[str, ...]) -> str | None:
    """`mount` alone, `mount -l` and `mount -t TYPE` only list what is mounted."""
    listing = {"-l", "--show-labels", "-v", "--verbose"}
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word in ("-t", "--types") and rest:
            rest.pop(0)
        elif word not in listing and not word.startswith("--types="):
            return "mounting a file system (mount)"
    return None


def _systemd_run(name: str, args: tuple[str, ...]) -> str | None:
    values = _long_values(args, frozenset({"--uid", "--gid", "--property"}))
    values += [("--property", v) for letter, v in _short_values(args, "pupEHMCs") if letter == "p"]
    for option, value in values:
        if option in ("--uid", "--gid") or re.match(
                r"(User|Group|DynamicUser|AmbientCapabilities|CapabilityBoundingSet)=", value):
            return "running a command as another user or with capabilities (systemd-run)"
    return None


def _identity_option(options: tuple[str, ...], short: str = ""
                     ) -> Callable[[str, tuple[str, ...]], str | None]:
    """A wrapper that switches user or group when given one of `options` (`chroot --userspec`,
    `chpst -u`, `start-stop-daemon --chuid`, `daemonize -u`)."""
    def rule(name: str, args: tuple[str, ...]) -> str | None:
        longs = {o for o, _ in _long_values(args, frozenset(options))}
        letters = {letter for letter, _ in _short_values(args, "")} if short else set()
        if longs & set(options) or letters & set(short):
            return f"running a command as another user or group ({name})"
        return None
    return rule


def _unzip(name: str, args: tuple[str, ...]) -> str | None:
    """`unzip -K` keeps setuid/setgid bits, `unzip -X` restores owners."""
    letters = {letter for letter, _ in _short_values(args, "dPx")}
    if letters & {"K", "X"}:
        return ("extracting with setuid bits or owners kept (`unzip -K`/`-X`); to extract "
                "without them drop `-K`/`-X`")
    return None


def _scp(name: str, args: tuple[str, ...]) -> str | None:
    """`scp -p` between two local paths runs `cp -p`."""
    letters = {letter for letter, _ in _short_values(args, "cDFiJlLoPSX")}
    operands = [a for a in args if not a.startswith("-")]
    if "p" in letters and operands and not any(re.match(r"[^/]*:", o) for o in operands):
        return _cp("cp", ("-p",))
    return None


def _losetup(name: str, args: tuple[str, ...]) -> str | None:
    """Listing loop devices passes; attaching or detaching one does not."""
    operands = [a for a in args if not a.startswith("-")]
    if operands or any(a in ("-D", "--detach-all") for a in args):
        return "attaching or detaching a loop device (losetup)"
    return None


def _attr(name: str, args: tuple[str, ...]) -> str | None:
    """`attr -S -s NAME` (security namespace) or `attr -R -s NAME` (trusted namespace)."""
    letters = {letter for letter, _ in _short_values(args, "sgrVl")}
    if letters & {"S", "R"} and letters & {"s", "r"}:
        return "setting a security or trusted attribute (attr), which carries capabilities"
    return None


_RULES: dict[str, Callable[[str, tuple[str, ...]], str | None]] = {
    "install": _install, "ginstall": _install, "mkdir": _mode_option, "mkfifo": _mode_option,
    "mknod": _mode_option, "cp": _cp, "gcp": _cp, "rsync": _rsync, "tar": _tar, "gtar": _tar,
    "bsdtar": _tar, "setpriv": _setpriv, "capsh": _capsh, "setfattr": _setfattr,
    "systemd-run": _systemd_run, "mount": _mount, "unzip": _unzip, "scp": _scp,
    "losetup": _losetup, "attr": _attr,
    "chroot": _identity_option(("--userspec", "--groups")),
    "chpst": _identity_option((), "uU"),
    "start-stop-daemon": _identity_option(("--chuid", "--group"), "cg"),
    "daemonize": _identity_option((), "u"),
}

PRIVILEGE_PROGRAMS = frozenset(PRIVILEGED) | frozenset(_RULES)
