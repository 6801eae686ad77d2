"""Class 6 tables: with sudo disabled, every visible route to setuid/setgid bits, ownership,
capabilities, ACLs, mounts or another identity counts as chmod/chown/sudo; names compare
case-insensitively."""

from __future__ import annotations

import pytest

from policyutil import refusal
from mgexec.policy import CommandPolicy

DEFAULT = CommandPolicy()
SUDO = CommandPolicy(enable_sudo=True)
DISABLED = "is disabled; it is allowed only when sudo is enabled"


PRIVILEGED = [
    ("install -m 4755 x /usr/local/bin/x", "setuid/setgid bit with `install -m 4755`"),
    ("install -m u+s x y", "`install -m u+s`"),
    ("install -m 2755 x y", "`install -m 2755`"),
    ("install -m 06755 x y", "`install -m 06755`"),
    ("install --mode=g+s x y", "`install -m g+s`"),
    ("install -Dm4755 x y", "`install -m 4755`"),
    ("install -m a=rwxs x y", "`install -m a=rwxs`"),
    ("install -o root x y", "ownership change with `install -o root`"),
    ("install -g wheel x y", "ownership change with `install -g wheel`"),
    ("install --owner=root x y", "ownership change with `install --owner root`"),
    ("cp -p a b", "copying with permissions and ownership preserved"),
    ("cp -a a b", "copying with permissions and ownership preserved"),
    ("cp -rp a b", "preserved"),
    ("cp --preserve a b", "preserved"),
    ("cp --preserve=mode a b", "preserved"),
    ("cp --preserve=ownership a b", "preserved"),
    ("cp --archive a b", "preserved"),
    ("cp -a --no-preserve=mode a b", "preserved"),
    ("cp --preserve=all --no-preserve=timestamps a b", "preserved"),
    ("rsync -a src/ dst/", "copying with permissions or ownership preserved or set"),
    ("rsync -p a b", "preserved or set"),
    ("rsync -rlt --chmod=u+s a b", "preserved or set"),
    ("rsync -r --chown=root:root a b", "preserved or set"),
    ("rsync -a --no-perms a b", "preserved or set"),
    ("tar -xpf x.tar", "extracting with permissions or owners preserved"),
    ("tar xpf x.tar", "extracting with permissions or owners preserved"),
    ("tar --same-owner -xf x.tar", "extracting with permissions or owners preserved"),
    ("tar -x --preserve-permissions -f x.tar", "extracting"),
    ("setcap cap_setuid+ep ./x", "capability change (setcap)"),
    ("setfacl -m u:bob:rwx f", "access control lists (setfacl)"),
    ("chacl u::rwx f", "(chacl)"),
    ("chattr +i f", "file attribute change (chattr)"),
    ("mount /dev/sdb1 /mnt", "mounting a file system (mount)"),
    ("mount --bind a b", "mounting a file system (mount)"),
    ("mount -t tmpfs none /mnt", "mounting a file system (mount)"),
    ("umount /mnt", "unmounting a file system (umount)"),
    ("nsenter -t 1 -m sh", "entering another process's namespaces (nsenter)"),
    ("runuser -u bob -- id", "user switching (runuser)"),
    ("sg docker -c id", "group switching (sg)"),
    ("newgrp docker", "group switching (newgrp)"),
    ("chgrp staff f", "ownership change (chgrp)"),
    ("run0 id", "privilege escalation (run0)"),
    ("setpriv --reuid=0 id", "identity or capability change (setpriv)"),
    ("setpriv --inh-caps +sys_admin id", "(setpriv)"),
    ("capsh --user=root -- -c id", "identity or capability change (capsh)"),
    ("setfattr -n security.capability -v 0x01 f", "setting the `security.capability` attribute"),
    ("setfattr --restore=attrs.txt", "restoring extended attributes"),
    ("systemd-run --uid=0 id", "running a command as another user"),
    ("systemd-run -p User=root id", "running a command as another user"),
    ("mkdir -m 4755 d", "setuid/setgid bit with `mkdir -m 4755`"),
    ("mkdir -pm 2775 shared", "`mkdir -m 2775`"),
    ("mknod disk b 8 0", "creating a device node (mknod)"),
    ("cp --pres=mode a b", "preserved"),
    ("cp --arch a b", "preserved"),
    ("tar --same-own -xf x.tar", "extracting"),
    ("install --mo=4755 a b", "`install -m 4755`"),
    ("sudoedit /etc/hosts", "privilege escalation (sudoedit)"),
    ("usermod -aG docker me", "user or group account change (usermod)"),
    ("passwd root", "user or group account change (passwd)"),
    ("visudo -c", "(visudo)"),
    ("$(echo SETCAP) cap_setuid+ep x", "(setcap)"),
    ("$INSTALL -m 4755 a b", "`install -m 4755`"),
    # multi-call binaries and wrappers
    ("busybox chmod +s x", "permission change (chmod)"),
    ("toybox chown root x", "ownership change (chown)"),
    ("coreutils --coreutils-prog=chmod u+s x", "permission change (chmod)"),
    ("busybox install -m 4755 a b", "`install -m 4755`"),
    ("env setcap cap_net_raw+ep x", "(setcap)"),
    ("timeout 5 setfacl -m u:x:r f", "(setfacl)"),
    ("sh -c 'install -m 4755 a b'", "`install -m 4755`"),
    ("find . -exec chattr +i {} \\;", "(chattr)"),
    ("ls | xargs setcap -r", "(setcap)"),
    ("git -c core.pager='chmod u+s x' log", "permission change (chmod)"),
    # names compare case-insensitively (macOS runs `SUDO` as sudo)
    ("SUDO ls", "privilege escalation (sudo)"),
    ("Sudo -u bob ls", "privilege escalation (sudo)"),
    ("CHMOD +x f", "permission change (chmod)"),
    ("/usr/bin/CHOWN root f", "ownership change (chown)"),
    ("ChOwN root f", "ownership change (chown)"),
    ("Busybox chmod 4755 x", "permission change (chmod)"),
    ("INSTALL -m 4755 a b", "`install -m 4755`"),
    ("SetCap cap_setuid+ep x", "(setcap)"),
    # chmod's full mode grammar, GNU abbreviations down to the shortest unambiguous one
    ("install -m u-w+s a b", "`install -m u-w+s`"),
    ("install -m u+s-x a b", "`install -m u+s-x`"),
    ("install --m=4755 a b", "`install -m 4755`"),
    ("install --o=root a b", "ownership change with `install --owner root`"),
    ("mkdir --m=4755 d", "`mkdir -m 4755`"),
    ("cp --pr=mode a b", "preserved"),
    ("cp --pre a b", "preserved"),
    ("setfattr --na=security.capability -v 0x01 f", "`security.capability` attribute"),
    ("setfattr --res=attrs.txt", "restoring extended attributes"),
    # more routes to owners, devices, attributes, mounts and other users
    ("rsync -rltD a b", "device files recreated"),
    ("scp -p a b", "preserved"),
    ("unzip -K x.zip", "`unzip -K`"),
    ("unzip -oX x.zip", "`unzip -K`/`-X`"),
    ("mknod -m 666 d c 1 3", "creating a device node"),
    ("attr -S -s capability -V x f", "(attr)"),
    ("nfs4_setfacl -a A::x:rwx f", "(nfs4_setfacl)"),
    ("su-exec root id", "(su-exec)"),
    ("gosu root id", "(gosu)"),
    ("setuidgid root id", "(setuidgid)"),
    ("newuidmap 1 0 0 1", "(newuidmap)"),
    ("chpst -u root id", "(chpst)"),
    ("chroot --userspec=0:0 / id", "(chroot)"),
    ("start-stop-daemon --start --chuid root --exec /bin/id", "(start-stop-daemon)"),
    ("mount.nfs h:/x /mnt", "mounting a file system (mount)"),
    ("fusermount3 /mnt", "(fusermount3)"),
    ("swapon /swapfile", "(swapon)"),
    ("losetup /dev/loop0 f", "loop device"),
    # wrappers read the way their own option parsers do
    ("timeout --sig KILL 5 chmod u+s x", "permission change (chmod)"),
    ("env -S 'chmod\\_u+s\\_x'", "permission change (chmod)"),
    ("gdb -ex 'shell chown root x'", "ownership change (chown)"),
    # what bash expands before it runs the command: globs, braces, $IFS, $(echo …)
    ("/bin/ch?od u+s x", "permission change (chmod)"),
    ("/???/ch[mn]od u+s x", "permission change (chmod)"),
    ("{chmod,u+s,x}", "permission change (chmod)"),
    ("chmod${IFS}u+s${IFS}x", "permission change (chmod)"),
    ("$(echo chown root) x", "ownership change (chown)"),    ("gchmod u+s x", "permission change (chmod)"),
    ("ginstall -m 4755 a b", "`install -m 4755`"),
]


@pytest.mark.parametrize("line, reason", PRIVILEGED)
def test_privilege_routes_are_refused_without_sudo(line: str, reason: str) -> None:
    message = refusal(line)
    assert message is not None, f"{line!r} was allowed"
    assert message.startswith("Potentially dangerous command detected: ")
    assert reason in message and DISABLED in message, message


@pytest.mark.parametrize("line", [line for line, _ in PRIVILEGED])
def test_privilege_routes_are_allowed_with_sudo(line: str) -> None:
    assert refusal(line, SUDO) is None


# Near misses: the same programs doing ordinary work, and look-alikes.
PASSING = [
    "install -m 755 x y", "install -Dm644 a b", "install -d build", "install -m 0644 a b",
    "install -s x y", "install -m u-s x y", "cp a b", "cp -r a b", "cp -R a b", "cp -P link dst",
    "cp --preserve=timestamps a b", "cp -a --no-preserve=mode,ownership a b", "cp -u a b",
    "cp -S .bak -b a b", "rsync -rlt a b", "rsync -av a host:b", "rsync -avz src/ user@host:/dst/",
    "rsync -a --no-perms --no-owner --no-group --no-devices a b", "tar -xzf x.tgz", "tar -xf x.tar --no-same-owner",
    "tar -czpf out.tgz d", "tar -tf x.tar", "tar -xzf x.tgz -C out", "setfattr -n user.comment -v hi f",
    "getfacl f", "getcap /usr/bin/ping", "lsattr f", "mount", "mount -l", "mount -t ext4",
    "findmnt", "mkdir -m 755 d", "mkdir -p a/b", "mknod pipe p", "mkfifo -m 600 p",
    "capsh --print", "setpriv --no-new-privs python x", "setpriv -d",
    "systemd-run --user --scope make", "git update-index --chmod=+x script.sh",
    "find . -perm -4000", "stat -c %a f", "ls -l /usr/bin/sudo", "grep -r chmod .", "echo SUDO",
    "man setcap", "which SUDO", "pip install setcap", "echo chown root x",
    "git commit -m 'chmod u+s fix'", "python -c 'print(1)'",
    "install -m u+x,g-s a b", "install -m o+s a b", "install -m 1777 a b", "mkdir -m 1777 d",
    "cp --preserve=links a b", "cp --parents a b", "unzip x.zip", "unzip -o x.zip -d out",
    "scp -p a host:b", "losetup -a", "losetup -l", "chpst -m 1000000 ls", "chroot /srv/jail ls",
    "rsync -rlt --delete a/ b/", "echo {a,b}", "ls /bin/ch?wn", "./build-{linux,mac}.sh",
    "mkdir -p src/{a,b}/{c,d}", "[ -f x ] && echo y",
]


@pytest.mark.parametrize("line", PASSING)
def test_ordinary_lines_pass_without_sudo(line: str) -> None:
    assert refusal(line) is None


def test_message_names_the_route_and_the_way_out() -> None:
    assert refusal("cp -a src dst") == (
        "Potentially dangerous command detected: copying with permissions and ownership preserved "
        "(`cp -p`/`-a`/`--preserve`, which carry setuid bits and owners across) is disabled; it is "
        "allowed only when sudo is enabled (command_line_docker_enable_sudo: true); to copy without "
        "them add `--no-preserve=mode,ownership` or use `cp -r`, in the command `cp -a src dst`. "
        "mgexec did not run the command line.")


def test_case_insensitive_names_reach_the_rest_of_the_baseline() -> None:
    assert "recursive deletion of the root directory" in (refusal("RM -rf /") or "")
    assert "use of dd" in (refusal("DD if=/dev/zero of=x") or "")
    assert "recursive deletion" in (refusal("TIMEOUT 5 rm -rf /") or "")
    assert "recursive deletion of the root directory" in (refusal("/BIN/RM -rf /") or "")
