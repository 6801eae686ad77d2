"""Tables for the command policy: the dangerous baseline, the allow and deny lists, pattern errors."""

from __future__ import annotations


import pytest
import regex

from mgexec.errors import ConfigError, PolicyViolation
from policyutil import refusal
from mgexec.policy import CommandPolicy, check_command, compile_patterns
from mgexec.policy.rules import vet_pattern

DEFAULT = CommandPolicy()
SUDO = CommandPolicy(enable_sudo=True)
PREFIX = "Potentially dangerous command detected: "


# MassGen's own test cases (massgen/tests/test_code_execution.py), then many rewrites of each.
MASSGEN_BLOCKED = [
    "rm -rf /", "sudo apt install", "su root", "chown user file", "chmod 777 file",
    "dd if=/dev/zero of=/dev/sda", ":(){ :|:& };:", "mv file /dev/null", "> /dev/sda",
]
MASSGEN_ALLOWED = [
    "ls -la", "python script.py", "npm install", "git status", "echo hello",
    "pip install requests", "cat file.txt",
]

BLOCKED = [
    # rm -r of `/` in any spelling
    ("rm -rf /", "recursive deletion of the root directory `/`"),
    ("rm -fr /", "root directory"),
    ("rm -r -f /", "root directory"),
    ("rm -R -f /", "root directory"),
    ("rm -Rf /", "root directory"),
    ("rm -rfv /", "root directory"),
    ("rm -vrf /", "root directory"),
    ("rm -r /", "root directory"),
    ("rm --recursive --force /", "root directory"),
    ("rm --recursive /", "root directory"),
    ("rm --rec --force /", "root directory"),
    ("rm -rf -- /", "root directory"),
    ("rm / -rf", "root directory"),
    ("rm -rf build /", "root directory"),
    ("rm -rf \"/\"", "root directory"),
    ("rm -rf '/'", "root directory"),
    ("rm -rf \\/", "root directory"),
    ("rm -rf /*", "everything matching `/*`"),
    ("rm -rf /.", "root directory"),
    ("rm -rf //", "root directory"),
    ("rm -rf ///", "root directory"),
    ("rm -rf /./", "root directory"),
    ("rm -rf /..", "root directory"),
    ("rm -rf /tmp/../", "root directory"),
    ("rm -rf /u*", "everything matching `/u*`"),
    ("rm -rf /[a-z]*", "everything matching"),
    # homes
    ("rm -rf ~", "your home directory"),
    ("rm -rf ~/", "your home directory"),
    ("rm -rf ~/*", "everything matching `~/*`"),
    ("rm -rf ~/.*", "everything matching `~/.*`"),
    ("rm -rf ~/..", "the system directory `/home`"),
    ("rm -rf ~/../..", "root directory"),
    ("rm -rf $HOME", "your home directory"),
    ("rm -rf \"$HOME\"", "your home directory"),
    ("rm -rf ${HOME}/", "your home directory"),
    ("rm -rf \"$HOME\"/*", "your home directory"),
    ("rm -rf ~root", "the home directory `~root`"),
    ("rm -rf /home/alice", "the home directory `/home/alice`"),
    ("rm -rf /Users/alice/", "the home directory `/Users/alice`"),
    ("rm -rf /root", "the system directory `/root`"),
    # system directories
    ("rm -rf /usr", "the system directory `/usr`"),
    ("rm -rf /usr/", "the system directory `/usr`"),
    ("rm -rf /usr/*", "everything matching `/usr/*`"),
    ("rm -rf /etc", "the system directory `/etc`"),
    ("rm -rf /bin /sbin", "the system directory `/bin`"),
    ("rm -rf /boot", "/boot"),
    ("rm -rf /var", "/var"),
    ("rm -rf /home", "/home"),
    ("rm -rf /home/*", "/home"),
    ("rm -rf /lib64", "/lib64"),
    ("rm -rf /usr/lib", "the system directory `/usr/lib`"),
    ("rm -rf /usr/local/", "/usr/local"),
    ("rm -rf /var/lib", "/var/lib"),
    ("rm -rf /System", "/System"),
    ("rm -rf /tmp/../etc", "/etc"),
    # the command word rewritten
    ("/bin/rm -rf /", "root directory"),
    ("/usr/bin/rm -rf /", "root directory"),
    ("\\rm -rf /", "root directory"),
    ("\"rm\" -rf /", "root directory"),
    ("r''m -rf /", "root directory"),
    ("$'\\x72m' -rf /", "root directory"),
    # hidden behind wrappers, lists, blocks and substitutions
    ("command rm -rf /", "(run by `command`)"),
    ("env rm -rf /", "(run by `env`)"),
    ("env -i FOO=1 rm -rf /", "(run by `env`)"),
    ("env -S 'rm -rf /'", "(run by `env -S`)"),
    ("nice -n 19 rm -rf /", "(run by `nice`)"),
    ("nohup rm -rf / &", "(run by `nohup`)"),
    ("timeout 5 rm -rf /", "(run by `timeout`)"),
    ("exec rm -rf /", "(run by `exec`)"),
    ("xargs rm -rf /", "(run by `xargs`)"),
    ("stdbuf -oL rm -rf /", "(run by `stdbuf`)"),
    ("bash -c \"rm -rf /\"", "(run by `bash -c`)"),
    ("sh -c 'rm -rf /'", "(run by `sh -c`)"),
    ("bash -lc 'cd / && rm -rf .' ; bash -c 'rm -rf /'", "(run by `bash -c`)"),
    ("bash -c 'bash -c \"rm -rf /\"'", "(run by `bash -c` -> `bash -c`)"),
    ("eval \"rm -rf /\"", "(run by `eval`)"),
    ("eval rm -rf /", "(run by `eval`)"),
    ("echo $(rm -rf /)", "root directory"),
    ("echo `rm -rf /`", "root directory"),
    ("echo \"$(rm -rf /)\"", "root directory"),
    ("echo \"`rm -rf /`\"", "root directory"),
    ("x=$(rm -rf /)", "root directory"),
    ("echo ${x:-$(rm -rf /)}", "root directory"),
    ("cat <(rm -rf /)", "root directory"),
    ("ls; rm -rf /", "root directory"),
    ("ls && rm -rf /", "root directory"),
    ("false || rm -rf /", "root directory"),
    ("ls | rm -rf /", "root directory"),
    ("ls\nrm -rf /", "root directory"),
    ("(rm -rf /)", "root directory"),
    ("{ rm -rf /; }", "root directory"),
    ("if true; then rm -rf /; fi", "root directory"),
    ("for x in 1; do rm -rf /; done", "root directory"),
    ("while true; do rm -rf /; done", "root directory"),
    ("case x in *) rm -rf /;; esac", "root directory"),
    ("f() { rm -rf /; }; f", "root directory"),
    ("cat <<EOF\n$(rm -rf /)\nEOF", "root directory"),
    ("bash <<EOF\nrm -rf /\nEOF", "(run by `bash <<`)"),
    ("sh <<< 'rm -rf /'", "(run by `sh <<<`)"),
    ("echo 'rm -rf /' | sh", "(run by `sh reading a pipe`)"),
    ("cat <<'EOF' | bash\nrm -rf /\nEOF", "(run by `bash reading a pipe`)"),
    ("find / -delete", "deleting files with find across the root directory `/`"),
    ("find / -name '*' -exec rm -rf {} +", "with find"),
    ("find -L ~ -type f -delete", "your home directory"),
    ("find /usr -exec /bin/rm {} \\;", "/usr"),
    # relative deletions after changing into a critical directory
    ("cd / && rm -rf *", ("everything matching `/*` (the root directory `/` or its contents), "
                         "reached as `*` after `cd /`")),
    ("cd && rm -rf .", "your home directory, reached as `.` after `cd ~`"),
    ("cd ~ ; rm -rf ./*", "everything matching `~/*`"),
    ("cd \"$HOME\" && rm -rf -- * .*", "your home directory"),
    ("cd /usr && rm -rf lib", "the system directory `/usr/lib`, reached as `lib` after `cd /usr`"),
    ("cd /tmp && rm -rf ../usr", "the system directory `/usr`"),
    ("pushd / && rm -r *", "root directory"),
    ("cd / && find . -delete", "deleting files with find across the root directory `/`"),
    ("cd / && find -delete", "deleting files with find across the root directory `/`"),
    ("bash -c 'cd / && rm -rf *'", "root directory"),
    # brace alternatives, ${HOME...} forms
    ("rm -rf /{tmp,usr}", "the system directory `/usr`, in the command `rm -rf /tmp /usr`"),
    ("rm -rf /u{s,}r", "the system directory `/usr`"),
    ("rm -rf {/tmp/x,~}", "your home directory"),
    ("rm -rf ${HOME:-/tmp}", "your home directory"),
    ("rm -rf \"${HOME}\"/", "your home directory"),
    ("echo x > /dev/sd{a,b}", "writing directly to the disk device"),
    # command names computed when the line runs
    ("$(which sudo) ls", "privilege escalation (sudo) is disabled"),
    ("$RM -rf /", "(`$RM` is a command name computed when the line runs)"),
    ("`which rm` -rf /", "recursive deletion of the root directory"),
    ("x=rm; $x -rf ~", "your home directory"),
    ("$(echo dd) if=/dev/zero of=x", "use of dd"),
    ("\"$(command -v mkfs.ext4)\" /dev/sdb", "`mkfs.ext4`"),
    # xargs fed by find or echo
    ("find / | xargs rm -rf", "recursive deletion of the root directory `/`"),
    ("find / -print0 | xargs -0 rm -rf", "root directory"),
    ("echo / | xargs rm -rf", "root directory"),
    ("find ~ -type f | xargs rm -r", "your home directory"),
    ("cd / && find . | xargs rm -r", "root directory"),
    ("find / -type f -delete", "deleting files with find across the root directory `/`"),
    ("find ~ -mindepth 1 -delete", "your home directory"),
    # moving `/`, homes or system directories away
    ("mv /usr /tmp/x", "moving the system directory `/usr` away"),
    ("mv ~ /tmp/h", "moving your home directory away"),
    ("mv -t /tmp /etc", "moving the system directory `/etc` away"),
    ("mv /* /tmp", "moving everything matching `/*`"),
    # scripts written into a shell, with escapes; other wrappers
    ("printf '\\x72m -rf /' | sh", "(run by `sh reading a pipe`)"),
    ("echo -e 'rm\\t-rf /' | bash", "(run by `bash reading a pipe`)"),
    ("env -iS'rm -rf /'", "(run by `env -S`)"),
    ("chroot / rm -rf /", "(run by `chroot`)"),
    ("watch -n 1 rm -rf /", "(run by `watch`)"),
    ("trap 'rm -rf /' EXIT", "(run by `trap`)"),
    # --no-preserve-root on any target
    ("rm --no-preserve-root -rf /tmp/x", "`rm --no-preserve-root`"),
    ("rm --no-preserve-root x", "`rm --no-preserve-root`"),
    ("rm -r x --no-pres", "`rm --no-preserve-root`"),
    # mv to /dev/null
    ("mv file /dev/null", "moving files to /dev/null"),
    ("mv -f a b /dev/null", "moving files to /dev/null"),
    ("mv -t /dev/null x", "moving files to /dev/null"),
    ("mv --target-directory=/dev/null x", "moving files to /dev/null"),
    ("mv x /dev//null", "moving files to /dev/null"),
    ("mv /dev/null x", "moving files to /dev/null"),
    ("/bin/mv x /dev/null", "moving files to /dev/null"),
    # dd, any use
    ("dd if=/dev/zero of=/dev/sda", "use of dd"),
    ("dd if=a.img of=b.img bs=1M", "use of dd"),
    ("dd --help", "use of dd"),
    ("/bin/dd if=x of=y", "use of dd"),
    ("bash -c 'dd if=x of=y'", "use of dd"),
    ("cat x | dd of=y", "use of dd"),
    # writing to disk devices
    ("> /dev/sda", "writing directly to the disk device `/dev/sda`"),
    ("echo x > /dev/sda", "/dev/sda"),
    ("echo x >> /dev/sdb1", "/dev/sdb1"),
    ("cat img > /dev/nvme0n1", "/dev/nvme0n1"),
    ("cat img >/dev/hda", "/dev/hda"),
    ("cat img > /dev/vda", "/dev/vda"),
    ("cat img > /dev/xvda", "/dev/xvda"),
    ("cat img > /dev/mmcblk0p1", "/dev/mmcblk0p1"),
    ("cat img > /dev/disk2", "/dev/disk2"),
    ("cat img > /dev/rdisk2", "/dev/rdisk2"),
    ("cat img > /dev/mapper/root", "/dev/mapper/root"),
    ("cat img > /dev/disk/by-id/ata-X", "/dev/disk/by-id/ata-X"),
    ("ls 2> /dev/sda", "/dev/sda"),
    ("ls &> /dev/sda", "/dev/sda"),
    ("ls >& /dev/sda", "/dev/sda"),
    ("ls >| /dev/sda", "/dev/sda"),
    ("exec 3<>/dev/sda", "/dev/sda"),
    ("echo x > \"/dev/sda\"", "/dev/sda"),
    ("echo x > /dev/../dev/sda", "/dev/../dev/sda"),
    ("{ ls; } > /dev/sda", "/dev/sda"),
    ("while true; do echo; done > /dev/sda", "/dev/sda"),
    ("cat x | tee /dev/sda", "`tee` writing directly to the disk device `/dev/sda`"),
    ("cp disk.img /dev/sdb", "`cp` writing directly"),
    ("shred -n 1 /dev/sda", "`shred` writing directly"),
    ("wipefs -a /dev/sda", "`wipefs` writing directly"),
    # mkfs and friends
    ("mkfs /dev/sdb", "creating a file system"),
    ("mkfs.ext4 /dev/sdb1", "`mkfs.ext4`"),
    ("mkfs.vfat -F 32 disk.img", "`mkfs.vfat`"),
    ("/sbin/mkfs.xfs x", "`mkfs.xfs`"),
    ("mke2fs x", "`mke2fs`"),
    ("mkswap /dev/sdb2", "`mkswap`"),
    ("env mkfs.ext4 x", "`mkfs.ext4`"),
    # fork bombs, any name, any spacing
    (":(){ :|:& };:", "fork bomb (function `:`"),
    (":(){ :|: & };:", "fork bomb"),
    (": () { : | : & } ; :", "fork bomb"),
    (":(){\n:|:&\n};:", "fork bomb"),
    ("bomb(){ bomb|bomb& }; bomb", "fork bomb (function `bomb`"),
    ("x(){ x|x& };x", "fork bomb"),
    ("function b { b | b & }; b", "fork bomb"),
    ("function b() { b|b& }", "fork bomb"),
    ("f() { f & f & }; f", "in the background"),
    ("f() { f | f; }; f", "in a pipeline"),
    ("f() ( f | f & ); f", "fork bomb"),
    ("f() { ( f | f ) & }; f", "fork bomb"),
    # sudo, su, chown, chmod (and their kin) as commands, however reached
    ("sudo apt install", "privilege escalation (sudo)"),
    ("sudo -u bob ls", "privilege escalation (sudo)"),
    ("/usr/bin/sudo ls", "privilege escalation (sudo)"),
    ("\\sudo ls", "privilege escalation (sudo)"),
    ("s\"u\"do ls", "privilege escalation (sudo)"),
    ("env sudo ls", "(run by `env`)"),
    ("nice sudo ls", "privilege escalation (sudo)"),
    ("bash -c 'sudo ls'", "privilege escalation (sudo)"),
    ("echo $(sudo id)", "privilege escalation (sudo)"),
    ("ls && sudo ls", "privilege escalation (sudo)"),
    ("su root", "user switching (su)"),
    ("su", "user switching (su)"),
    ("su - bob -c id", "user switching (su)"),
    ("doas ls", "privilege escalation (doas)"),
    ("pkexec ls", "privilege escalation (pkexec)"),
    ("chown user file", "ownership change (chown)"),
    ("chown -R a:b .", "ownership change (chown)"),
    ("chmod 777 file", "permission change (chmod)"),
    ("chmod +x run.sh", "permission change (chmod)"),
    ("find . -exec chmod 644 {} \\;", "permission change (chmod)"),
    ("ls | xargs chmod 644", "permission change (chmod)"),
]


@pytest.mark.parametrize("line", MASSGEN_BLOCKED)
def test_massgen_blocked_cases(line: str) -> None:
    message = refusal(line)
    assert message is not None and message.startswith(PREFIX)


@pytest.mark.parametrize("line", MASSGEN_ALLOWED)
def test_massgen_allowed_cases(line: str) -> None:
    check_command(line, DEFAULT)


@pytest.mark.parametrize("line, reason", BLOCKED)
def test_dangerous_commands_are_refused(line: str, reason: str) -> None:
    message = refusal(line)
    assert message is not None, f"{line!r} was allowed"
    assert message.startswith(PREFIX)
    assert reason in message


# Words that merely appear as arguments, strings or data are not commands; harmless uses pass.
ALLOWED = [
    "grep -r sudo .",
    "echo su",
    "echo sudo rm -rf /",
    "echo \"rm -rf /\"",
    "echo 'rm -rf / && sudo reboot'",
    "git commit -m \"chmod fix\"",
    "git log --grep='rm -rf /'",
    "man chmod",
    "which sudo",
    "command -v sudo",
    "type su",
    "apt-cache show sudo",
    "ls /usr/bin/sudo",
    "cat /etc/sudoers.d/README",
    "pip install chmod-tools",
    "sudoku --solve",
    "python dd.py",
    "echo dd",
    "ddgr query",
    "echo mkfs.ext4",
    "mkdir -p build && mkfifo pipe",
    "env | grep SUDO",
    "echo $(echo su)",
    "echo ':(){ :|:& };:'",
    "cat <<EOF\nsudo rm -rf /\nEOF",
    "cat <<'EOF' > notes.txt\n:(){ :|:& };:\nEOF",
    "python - <<EOF\nprint('rm -rf /')\nEOF",
    "f() { f; }",
    "fact() { [ $1 -le 1 ] && echo 1 || echo $(( $1 * $(fact $(( $1 - 1 ))) )); }; fact 5",
    "ls | grep x &",
    "rm -rf build/ dist/ *.egg-info",
    "rm -rf ./node_modules",
    "rm -rf node_modules .venv",
    "rm -rf .",
    "rm -rf *",
    "rm -rf /tmp/build",
    "rm -rf /tmp/*",
    "rm -rf /workspace/out",
    "rm -rf ~/project/build",
    "rm -rf $HOME/.cache/pip",
    "rm -rf \"$TMPDIR\"/*",
    "rm -rf /var/tmp/job-1",
    "rm -rf /usr/local/lib/python3.11/site-packages/foo",
    "rm -rf /etc/*.bak",
    "rm -rf /home/alice/project",
    "cd /tmp && rm -rf *",
    "rm -rf /tmp/{a,b}",
    "find / -name '*.pyc' -delete",
    "find ~ -name '*.tmp' -exec rm {} \\;",
    "find / -name __pycache__ | xargs rm -rf",
    "find . | xargs rm -rf",
    "ls / | xargs echo",
    "mv /tmp/a /tmp/b",
    "mv build dist",
    "mv ~/old.txt ~/new.txt",
    "$PYTHON script.py",
    "$EDITOR file.txt",
    "$CC -o out main.c",
    "\"$@\"",
    "cd ~/proj && rm -rf build",
    "cd /etc; rm -rf *.bak",
    "cd build && rm -rf *",
    "cd /tmp/x && find -delete",
    "cd / && ls && cd /workspace/app && rm -rf dist",
    "rm -f /etc/foo.conf",
    "rm /",
    "rm -f /*",
    "rm -i -- -rf",
    "git rm -r --cached /",
    "find . -delete",
    "find /tmp/x -name '*.pyc' -delete",
    "find / -name '*.py'",
    "find ~ -name '*.log' -print",
    "mv a b",
    "mv /dev/nullish x",
    "cp x /dev/null",
    "echo x > /dev/null",
    "ls 2>/dev/null >/dev/null",
    "echo x > /dev/stderr",
    "echo x > /dev/tty",
    "echo x > /dev/shm/file",
    "cat /dev/sda > disk.img",
    "wc -c < /dev/sda",
    "lsblk /dev/sda",
    "ls /dev/sd*",
    "ls 2>&1 | tee out.log",
    "echo sdb > /tmp/dev-sda",
    "docker run --rm -v /:/host alpine ls",
    "python -c 'import os'",
    "bash -c 'echo hi'",
    "echo 'echo hi' | bash",
    "xargs -0 rm -f < files.txt",
    "timeout 5 python x.py",
    "nohup python server.py &",
    "[[ -d /usr ]] && echo yes",
    "echo $((1 + 2))",
    "test -w /dev/sda && echo writable",
    "case $1 in rm) echo rm;; esac",
]


# What coding agents typically send; none of it may be refused.
AGENT_COMMANDS = [
    'git commit -m "$(cat <<\'EOF\'\nFix the parser\n\nHandles rm -rf / in strings.\nEOF\n)"',
    'cd /workspace && python -m pytest -x -q 2>&1 | tail -20',
    'for f in *.py; do echo "== $f"; head -5 "$f"; done',
    'npm install && npm run build',
    'ls -la ~/.ssh',
    'curl -sSL https://example.com/install.sh | bash',
    'pip install -e ".[dev]"',
    'python -c "print(\'hello\')"',
    "awk '{print $1}' access.log | sort | uniq -c | sort -rn | head",
    "sed -i 's/foo/bar/g' file.txt",
    'tar -czf out.tgz dir/',
    'echo "export PATH=\\$PATH:~/bin" >> ~/.bashrc',
    'kill -9 $(pgrep -f server)',
    "docker ps -a --format '{{.Names}}'",
    "jq '.items[] | select(.x == 1)' file.json",
    'grep -rn "TODO" --include="*.py" .',
    '[ -d build ] && rm -rf build',
    "python3 <<'EOF'\nimport os\nprint(os.getcwd())\nEOF",
    'export FOO=bar; echo $FOO',
    'source .venv/bin/activate && pytest',
    "printf '%s\\n' a b c",
    'read -r x <<< "hello"',
    'echo $((RANDOM % 10))',
    'while IFS= read -r line; do echo "$line"; done < file.txt',
    'make -j$(nproc)',
    'echo "a b" | xargs -n1 echo',
    "trap 'echo bye' EXIT; sleep 1",
    'case "$OSTYPE" in linux*) echo linux;; darwin*) echo mac;; esac',
    'nohup python server.py > server.log 2>&1 &',
    "echo 'Hello, World!'",
    'ls -d */',
    'echo ${PATH//:/\\\\n}',
    "node -e 'console.log(1)'",
    'rm -rf "$(mktemp -d)"',
    "cat > README.md <<'EOF'\n# Title\n```bash\nrm -rf /\n```\nEOF",
    'git diff HEAD~1 -- src/ | head -100',
    'python - <<EOF\nprint("$HOME")\nEOF',
    'test -n "$VIRTUAL_ENV" || . .venv/bin/activate',
    "find . -type f -name '*.py' | xargs grep -l 'import os'",
    'du -sh * | sort -h',
    'ps aux | grep [p]ython',
    'echo "done" && exit 0',
]


@pytest.mark.parametrize("line", ALLOWED + AGENT_COMMANDS)
def test_harmless_commands_pass(line: str) -> None:
    check_command(line, DEFAULT)


@pytest.mark.parametrize("line", [
    "sudo apt install x", "sudo -u bob ls", "su root", "su - bob -c 'make install'", "doas ls",
    "pkexec ls", "chown user file", "chown -R me:me /workspace", "chmod 777 file",
    "chmod -R 755 ./build", "chmod -R u+w /tmp/x", "find . -exec chmod 644 {} \\;",
    "sudo rm -rf /tmp/x", "env sudo ls", "bash -c 'sudo apt-get update'",
])
def test_enable_sudo_allows_privileged_commands(line: str) -> None:
    assert refusal(line) is not None
    check_command(line, SUDO)


@pytest.mark.parametrize("line, reason", [
    ("sudo rm -rf /", "recursive deletion of the root directory `/`"),
    ("sudo -u root rm -rf --no-preserve-root /", "root directory"),
    ("sudo dd if=/dev/zero of=/dev/sda", "use of dd"),
    ("sudo mkfs.ext4 /dev/sda1", "`mkfs.ext4`"),
    ("sudo sh -c 'echo x > /dev/sda'", "/dev/sda"),
    ("sudo mv x /dev/null", "moving files to /dev/null"),
    ("chmod -R 777 /", "recursive chmod of the root directory `/`"),
    ("chmod -R -w /etc", "recursive chmod of the system directory `/etc`"),
    ("chmod --recursive 000 /usr/*", "recursive chmod"),
    ("chmod -R --reference=x ~", "recursive chmod of your home directory"),
    ("chown -R me /", "recursive chown of the root directory `/`"),
    ("sudo chown -R nobody: /home", "recursive chown of the system directory `/home`"),
    ("chgrp -R staff /usr", "recursive chgrp"),
    ("chmod --no-preserve-root -R 777 /tmp", "`chmod --no-preserve-root`"),
    ("sudo bash -c ':(){ :|:& };:'", "fork bomb"),
])
def test_enable_sudo_keeps_catastrophic_commands_refused(line: str, reason: str) -> None:
    message = refusal(line, SUDO)
    assert message is not None and message.startswith(PREFIX)
    assert reason in message


ALLOW_CASES = [
    # MassGen's whitelist example, and where its whole-line re.match went wrong
    (["python .*", "pip .*"], "python test.py", True),
    (["python .*", "pip .*"], "pip install x", True),
    (["python .*", "pip .*"], "npm install", False),
    (["python .*", "pip .*"], "python x && rm -rf y", False),
    (["python .*", "pip .*"], "python x; pip install y", True),
    (["python .*", "pip .*"], "python x 2>&1 | pip y", True),
    (["python .*", "pip .*"], "python", False),
    (["python .*", "pip .*"], "python3 x", False),
    (["python .*", "pip .*"], "python x $(rm y)", False),
    (["python .*", "pip .*"], "python `whoami`", False),
    (["python .*", "pip .*"], "python x <<EOF\n$(rm y)\nEOF", False),
    (["python .*", "pip .*"], "python - <<'EOF'\nrm y\nEOF", True),
    (["python .*", "pip .*"], "A=$(rm x) python y", False),
    (["python .*", "pip .*"], "env python x", False),
    (["python .*", "pip .*"], "bash -c 'python x'", False),
    (["python .*", "pip .*"], "FOO=1 python x", True),
    (["python .*", "pip .*"], "python x > out.txt", True),
    (["python .*", "pip .*"], "(python x)", True),
    (["python .*", "pip .*"], "{ python x; }", True),
    (["python .*", "pip .*"], "if python x; then pip y; fi", True),
    (["python .*", "pip .*"], "python x &", True),
    (["python .*", "pip .*"], "time python x", True),
    (["python .*", "pip .*"], "\\python x", True),
    (["python .*", "pip .*"], "'python' x", True),
    (["python .*", "pip .*"], "/usr/bin/python x", False),
    (["python .*", "pip .*"], "f() { rm y; }; python x", False),
    (["python .*", "pip .*"], "python 'x; rm y'", True),
    (["python .*", "pip .*"], "> out.txt", True),
    # MassGen-style patterns ending in .*
    (["python.*"], "python3 x", True),
    (["python.*", "pytest.*"], "pytest -q && python3 -m build", True),
    # `uv run` is a wrapper: the command it runs must be allowed too
    (["uv run python.*", "python.*"], "uv run python x.py", True),
    (["uv run python.*"], "uv run python x.py", False),
    (["uv run python.*", "python.*"], "uv run ruff x.py", False),
    # wrappers must be allowed themselves, and what they run must be allowed too
    (["(env|python) .*"], "env python x", True),
    (["(env|python) .*"], "env rm x", False),
    (["bash -c .*", "python .*"], "bash -c 'python x'", True),
    (["bash -c .*", "python .*"], "bash -c 'rm x'", False),
    (["timeout .*", "pytest( .*)?"], "timeout 60 pytest", True),
    (["timeout .*", "pytest( .*)?"], "timeout 60 make", False),
    # full match, not prefix
    (["git (status|log)( .*)?"], "git status", True),
    (["git (status|log)( .*)?"], "git log --oneline", True),
    (["git (status|log)( .*)?"], "git push", False),
    (["ls( .*)?"], "ls", True),
    (["ls( .*)?"], "lsblk", False),
    (["echo .*"], "echo 'a; rm x'", True),
    (["echo .*"], "echo a; rm x", False),
    ([], "npm install", True),
]


@pytest.mark.parametrize("patterns, line, allowed", ALLOW_CASES)
def test_allow_list(patterns: list[str], line: str, allowed: bool) -> None:
    message = refusal(line, CommandPolicy(allow_patterns=tuple(patterns)))
    assert (message is None) == allowed, message
    if not allowed:
        assert message is not None and message.startswith("Command not in the allow list")


DENY_CASES = [
    # MassGen's blacklist example, and where its whole-line re.match went wrong
    (["rm .*", "sudo .*"], "rm y", False),
    (["rm .*", "sudo .*"], "ls; rm y", False),
    (["rm .*", "sudo .*"], "ls", True),
    (["rm .*", "sudo .*"], "echo rm y", True),
    (["rm .*", "sudo .*"], "git rm y", True),
    (["rm .*"], "ls && rm y", False),
    (["rm .*"], "ls | xargs rm", False),
    (["rm .*"], "find . -exec rm {} \\;", False),
    (["rm .*"], "/bin/rm y", False),
    (["rm .*"], "\\rm y", False),
    (["rm .*"], "env rm y", False),
    (["rm .*"], "bash -c 'rm y'", False),
    (["rm .*"], "echo $(rm y)", False),
    (["rm .*"], "(cd x && rm y)", False),
    (["rm .*"], "FOO=1 rm y", False),
    (["rm .*"], "rm", False),
    (["rm .*"], "echo 'rm y'", True),
    (["rm .*"], "cat <<EOF\nrm y\nEOF", True),
    # prefix semantics, like MassGen's re.match but per command
    (["rm"], "rm -rf x", False),
    (["rm"], "rmdir x", False),
    (["rm\\b"], "rmdir x", True),
    (["git push"], "git push origin main", False),
    (["git push"], "git commit -m 'git push'", True),
    (["curl"], "curl -s https://x | sh", False),
    (["npm publish"], "cd pkg && npm publish", False),
    (["(?i)SHUTDOWN"], "shutdown -h now", False),
    ([".*--force"], "git push --force", False),
    ([".*--force"], "git push", True),
    (["rm .*"], "$(which rm) y", False),
    (["curl"], "`which curl` -s x", False),
    (["rm .*"], "$(which ls) y", True),
    ([], "rm y", True),
]


@pytest.mark.parametrize("patterns, line, allowed", DENY_CASES)
def test_deny_list(patterns: list[str], line: str, allowed: bool) -> None:
    message = refusal(line, CommandPolicy(deny_patterns=tuple(patterns)))
    assert (message is None) == allowed, message
    if not allowed:
        assert message is not None and message.startswith("Command blocked by the deny list")


def test_deny_sees_the_command_sudo_runs() -> None:
    policy = CommandPolicy(deny_patterns=("rm .*",), enable_sudo=True)
    message = refusal("sudo rm y", policy)
    assert message is not None and "`rm y` (run by `sudo`)" in message


def test_deny_and_allow_together() -> None:
    policy = CommandPolicy(allow_patterns=("git .*",), deny_patterns=("git push.*",))
    check_command("git status && git log", policy)
    assert "deny list" in (refusal("git status && git push", policy) or "")
    assert "allow list" in (refusal("git status && make", policy) or "")


def test_baseline_comes_before_the_lists() -> None:
    policy = CommandPolicy(allow_patterns=(".*",))
    assert (refusal("rm -rf /", policy) or "").startswith(PREFIX)


def test_messages_name_the_command_the_pattern_and_the_line() -> None:
    deny = refusal("ls -la && rm -r build", CommandPolicy(deny_patterns=("rm .*",)))
    assert deny == ("Command blocked by the deny list: the command `rm -r build` of the line "
                    "`ls -la && rm -r build` matches the deny pattern `rm .*` (deny patterns match "
                    "the start of each command on the line). mgexec did not run the command line.")
    allow = refusal("python x && rm -rf y", CommandPolicy(allow_patterns=("python .*", "pip .*")))
    assert allow is not None
    assert allow.startswith("Command not in the allow list: the command `rm -rf y` of the line "
                            "`python x && rm -rf y` matches none of the allowed patterns "
                            "(`python .*`, `pip .*`).")
    danger = refusal("env FOO=1 rm -rf /")
    assert danger == ("Potentially dangerous command detected: recursive deletion of the root "
                      "directory `/`, in the command `rm -rf /` (run by `env`) of the line "
                      "`env FOO=1 rm -rf /`. mgexec did not run the command line.")
    assert refusal("rm -rf /") == ("Potentially dangerous command detected: recursive deletion of "
                                   "the root directory `/`, in the command `rm -rf /`. mgexec did "
                                   "not run the command line.")


def test_long_lines_are_clipped_in_messages() -> None:
    message = refusal("rm -rf / " + "x" * 1000) or ""
    assert len(message) < 700 and "..." in message


def test_unparseable_line_is_a_policy_violation() -> None:
    message = refusal("echo \"unclosed && rm -rf /")
    assert message is not None and "could not parse" in message


def test_compile_patterns_compiles_once() -> None:
    first = compile_patterns(["python .*", "pip .*"])
    assert [p.pattern for p in first] == ["python .*", "pip .*"]
    assert all(isinstance(p, regex.Pattern) for p in first)
    assert compile_patterns(("python .*", "pip .*")) is first
    assert compile_patterns([]) == ()


@pytest.mark.parametrize("patterns, kind, expected", [
    (["python .*", "(unclosed"], "allow", ("The allow pattern '(unclosed' is not a valid regular "
                                          "expression: missing )")),
    (["[a-"], "deny", "The deny pattern '[a-' is not a valid regular expression"),
    (["*x"], "allow", "nothing to repeat"),
    ([3], "allow", "The allow pattern 3 is not a string"),
    ([None], "deny", "The deny pattern None is not a string"),
])
def test_compile_patterns_names_the_bad_regex(patterns: list, kind: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        compile_patterns(patterns, kind=kind)
    assert expected in str(raised.value)


def test_check_command_reports_a_bad_pattern_as_config_error() -> None:
    with pytest.raises(ConfigError, match="deny pattern"):
        check_command("ls", CommandPolicy(deny_patterns=("(",)))


def test_policy_is_frozen_and_hashable() -> None:
    policy = CommandPolicy(allow_patterns=("a",), deny_patterns=("b",), enable_sudo=True)
    with pytest.raises(AttributeError):
        policy.enable_sudo = False  # type: ignore[misc]
    assert hash(policy) == hash(CommandPolicy(("a",), ("b",), True))
    assert CommandPolicy() == CommandPolicy((), (), False)


def test_deny_is_checked_before_allow_across_the_line() -> None:
    policy = CommandPolicy(allow_patterns=("ls( .*)?",), deny_patterns=("rm .*",))
    message = refusal("make; rm x", policy) or ""
    assert message.startswith("Command blocked by the deny list: the command `rm x`")


@pytest.mark.parametrize("pattern, kind", [(r"(a|aa)+$", "deny"), (r"rm (a|aa)+$", "deny"),
                                           (r"(x+x+)+y", "allow"), (r"(\w+\s?)+$", "allow")])
def test_catastrophic_pattern_is_refused_by_config_loading_naming_it(tmp_path, pattern: str, kind: str) -> None:
    key = "command_line_blocked_commands" if kind == "deny" else "command_line_allowed_commands"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"agent:\n  backend:\n    cwd: ws\n    {key}: ['ls .*', '{pattern}']\n")
    from mgexec.config import load_config

    with pytest.raises(ConfigError) as raised:
        load_config(str(cfg))
    assert pattern in str(raised.value) and "backtracks catastrophically" in str(raised.value)


@pytest.mark.parametrize("pattern", ["python .*", "rm .*", r"git (status|log|diff)\b.*", r"ls( -[a-z]+)*( [\w./-]+)*"])
def test_ordinary_patterns_pass_the_probe(pattern: str) -> None:
    assert vet_pattern(pattern, "allow") is None and vet_pattern(pattern, "deny") is None


def test_a_pattern_that_runs_out_of_time_refuses_the_line_naming_it() -> None:
    # Given without the config's probe: the budget of every match holds on its own.
    policy = CommandPolicy(deny_patterns=(r"(b|bb)+;",))
    with pytest.raises(PolicyViolation) as raised:
        check_command("b" * 5000, policy)
    assert "(b|bb)+;" in str(raised.value) and "did not finish matching" in str(raised.value)


# Text made at run time, whatever makes it (a script read from a pipe, a command a program builds,
# a value the line does not set evaluated as arithmetic), is one mark on the command it concerns.
@pytest.mark.parametrize("line, command, why", [
    ("(( COUNT > 1 ))", (), "evaluates `COUNT`, which the line does not set"),
    ("echo $((n + 1))", ("echo", "$((n + 1))"), "evaluates `n`, which the line does not set"),
    ("bash <(curl -s http://127.0.0.1:9/x)", ("bash", "<(curl -s http://127.0.0.1:9/x)"),
     "reads from the output of `<(curl"),
    ("awk '{system(\"rm \" $1)}' f", ("rm", "${awk_value}"), "awk builds"),
    ("bash <(curl -s http://127.0.0.1:9/x) $((n))", ("bash", "<(curl -s http://127.0.0.1:9/x)", "$((n))"),
     "evaluates `n`"),
])
def test_text_made_at_run_time_marks_its_command_once_and_an_allow_list_refuses_it(line, command, why):
    from mgexec.policy import parse_command_line

    marked = [c for c in parse_command_line(line) if c.unreadable]
    assert any(c.words == command and why in c.unreadable for c in marked), marked
    assert refusal(line) is None or "dangerous" in refusal(line)
    message = refusal(line, CommandPolicy(allow_patterns=(".*",)))
    assert message is not None and "cannot be judged" in message and why in message, message
