"""Class 3 tables: wrappers that run a command, and programs that run commands named in their
options, config or environment. The command they run is judged like any other command."""

from __future__ import annotations

import pytest

from policyutil import refusal
from mgexec.policy import CommandPolicy, parse_command_line

DEFAULT = CommandPolicy()
SUDO = CommandPolicy(enable_sudo=True)
PREFIX = "Potentially dangerous command detected: "


# (line, the wrapper or program named in the refusal as running the inner command)
WRAPPED = [
    # wrappers whose own options take values
    ("timeout -s KILL -k 5 10 rm -rf ~", "(run by `timeout`)"),
    ("timeout --signal=TERM --kill-after 5 10 rm -rf /", "(run by `timeout`)"),
    ("timeout -sKILL 1m rm -rf /", "(run by `timeout`)"),
    ("env -u NAME -S 'rm -rf /'", "(run by `env -S`)"),
    ("env -u HOME --unset PATH rm -rf /", "(run by `env`)"),
    ("env -C /tmp rm -rf /", "(run by `env`)"),
    ("env --chdir /tmp rm -rf /", "(run by `env`)"),
    ("env -i -- A=1 rm -rf /", "(run by `env`)"),
    ("env --split-string='rm -rf' /", "(run by `env -S`)"),
    ("nice -n 5 ionice -c 3 -n 7 timeout 5 rm -rf /", "`nice` -> `ionice` -> `timeout`"),
    ("stdbuf -o0 -e0 rm -rf /", "(run by `stdbuf`)"),
    # wrappers that were not known as such
    ("flock /tmp/lock rm -rf /", "(run by `flock`)"),
    ("flock -w 5 -E 3 /tmp/lock rm -rf /", "(run by `flock`)"),
    ("flock -n /tmp/lock -c 'rm -rf /'", "(run by `flock -c`)"),
    ("script -qc 'rm -rf /' /dev/null", "(run by `script -c`)"),
    ("script -q --command='rm -rf /' /dev/null", "(run by `script -c`)"),
    ("script /dev/null -c 'rm -rf ~'", "(run by `script -c`)"),
    ("setpriv --no-new-privs rm -rf /", "(run by `setpriv`)"),
    ("setpriv --pdeathsig KILL rm -rf /", "(run by `setpriv`)"),
    ("prlimit --nofile=100 rm -rf /", "(run by `prlimit`)"),
    ("prlimit -n100 --as=1000000 rm -rf /", "(run by `prlimit`)"),
    ("unshare -m --propagation private rm -rf /", "(run by `unshare`)"),
    ("unshare --wd /tmp rm -rf /", "(run by `unshare`)"),
    ("chroot --skip-chdir / rm -rf /", "(run by `chroot`)"),
    ("taskset -c 0,1 rm -rf /", "(run by `taskset`)"),
    ("chrt -o 0 rm -rf /", "(run by `chrt`)"),
    ("chrt -T 10 -P 20 -d 0 rm -rf /", "(run by `chrt`)"),
    ("systemd-run --user -p MemoryMax=1G rm -rf /", "(run by `systemd-run`)"),
    ("systemd-run --unit x --scope rm -rf /", "(run by `systemd-run`)"),
    ("strace -f -e trace=file -o /tmp/x rm -rf /", "(run by `strace`)"),
    ("strace -s 100 -u nobody rm -rf /", "(run by `strace`)"),
    ("ltrace -o /tmp/x rm -rf /", "(run by `ltrace`)"),
    ("parallel rm -rf ::: /", "(run by `parallel`)"),
    ("parallel ::: 'rm -rf /'", "(run by `parallel`)"),
    ("parallel -j 4 'rm -rf {}' ::: /usr", "the system directory `/usr`"),
    ("watch -d -n1 rm -rf /", "(run by `watch`)"),
    ("busybox rm -rf /", "(run by `busybox`)"),
    ("toybox rm -rf /", "(run by `toybox`)"),
    ("busybox sh -c 'rm -rf /'", "(run by `busybox` -> `sh -c`)"),
    ("coreutils --coreutils-prog=rm -rf /", "(run by `coreutils`)"),
    ("uv run rm -rf /", "(run by `uv run`)"),
    ("uv run --with requests -p 3.12 rm -rf /", "(run by `uv run`)"),
    ("poetry run rm -rf /", "(run by `poetry run`)"),
    ("conda run -n base rm -rf /", "(run by `conda run`)"),
    ("xvfb-run -a rm -rf /", "(run by `xvfb-run`)"),
    ("dbus-run-session -- rm -rf /", "(run by `dbus-run-session`)"),
    ("fakeroot rm -rf /", "(run by `fakeroot`)"),
    ("faketime '2020-01-01' rm -rf /", "(run by `faketime`)"),
    ("ENV rm -rf /", "(run by `env`)"),  # macOS: names compare case-insensitively
    # git runs these through `sh -c`
    ("git -c alias.x='!rm -rf /' x", "(run by `git -c alias.x`)"),
    ("git -c core.pager='rm -rf /' log", "(run by `git -c core.pager`)"),
    ("git -c Core.Pager='rm -rf ~' log", "(run by `git -c Core.Pager`)"),
    ("git -c core.fsmonitor='rm -rf /' status", "(run by `git -c core.fsmonitor`)"),
    ("git -c core.sshCommand='rm -rf /' fetch", "(run by `git -c core.sshCommand`)"),
    ("git -c core.editor='rm -rf /' commit", "(run by `git -c core.editor`)"),
    ("git -c diff.external='rm -rf /' diff", "(run by `git -c diff.external`)"),
    ("git -c credential.helper='!rm -rf /' fetch", "(run by `git -c credential.helper`)"),
    ("git -c filter.x.smudge='rm -rf /' checkout .", "(run by `git -c filter.x.smudge`)"),
    ("git -c pager.log='rm -rf /' log", "(run by `git -c pager.log`)"),
    ("git -C repo -c alias.up='!rm -rf ~' up", "(run by `git -c alias.up`)"),
    ("git fetch --upload-pack='rm -rf /' origin", "(run by `git fetch --upload-pack`)"),
    ("git fetch --upload-pack 'rm -rf /' origin", "(run by `git fetch --upload-pack`)"),
    ("git push --receive-pack='rm -rf /' origin", "(run by `git push --receive-pack`)"),
    ("git push --exec='rm -rf /' origin", "(run by `git push --exec`)"),
    ("git clone -u 'rm -rf /' src dst", "(run by `git clone -u`)"),
    ("git archive --exec='rm -rf /' --remote=x HEAD", "(run by `git archive --exec`)"),
    ("git rebase --exec 'rm -rf /' HEAD~1", "(run by `git rebase --exec`)"),
    ("git rebase -x 'rm -rf /' main", "(run by `git rebase -x`)"),
    ("git bisect run rm -rf /", "(run by `git bisect run`)"),
    ("git submodule foreach 'rm -rf /'", "(run by `git submodule foreach`)"),
    ("git submodule foreach --recursive rm -rf /", "(run by `git submodule foreach`)"),
    ("git config alias.x '!rm -rf /'", "(run by `git config alias.x`)"),
    ("git config --global core.pager 'rm -rf /'", "(run by `git config core.pager`)"),
    ("git config set core.sshCommand 'rm -rf /'", "(run by `git config core.sshCommand`)"),
    ("git difftool -x 'rm -rf /' HEAD", "(run by `git difftool -x`)"),
    ("git filter-branch --tree-filter 'rm -rf /' HEAD", "(run by `git filter-branch --tree-filter`)"),
    ("git grep -O'rm -rf /' x", "(run by `git grep -O`)"),
    # variables that name a command, set on the line
    ("GIT_SSH_COMMAND='rm -rf /' git fetch", "(run by `GIT_SSH_COMMAND=`)"),
    ("GIT_EXTERNAL_DIFF='rm -rf /' git diff", "(run by `GIT_EXTERNAL_DIFF=`)"),
    ("GIT_PAGER='rm -rf /' git log", "(run by `GIT_PAGER=`)"),
    ("PAGER='rm -rf /' git log", "(run by `PAGER=`)"),
    ("EDITOR='rm -rf /' git commit", "(run by `EDITOR=`)"),
    ("export GIT_PAGER='rm -rf /'; git log", "(run by `GIT_PAGER=`)"),
    ("declare -x VISUAL='rm -rf ~'", "(run by `VISUAL=`)"),
    ("env GIT_SSH_COMMAND='rm -rf /' git fetch", "(run by `GIT_SSH_COMMAND=`)"),
    ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0='rm -rf /' git log",
     "(run by `GIT_CONFIG_*= core.pager`)"),
    ("GIT_CONFIG_PARAMETERS=\"'core.pager'='rm -rf /'\" git log", "GIT_CONFIG_*= core.pager"),
    ("GIT_CONFIG_PARAMETERS=\"'core.pager=rm -rf /'\" git log", "GIT_CONFIG_*= core.pager"),
    ("chpst -m 1000000 rm -rf /", "(run by `chpst`)"),
    ("RSYNC_RSH='rm -rf /' rsync a host:b", "(run by `RSYNC_RSH=`)"),
    # tar runs these through `sh -c`
    ("tar -cf x.tar --checkpoint=1 --checkpoint-action=exec='rm -rf /' d",
     "(run by `tar --checkpoint-action=exec`)"),
    ("tar -xf x.tar --to-command='rm -rf /'", "(run by `tar --to-command`)"),
    ("tar -xf x.tar --to-command 'rm -rf /'", "(run by `tar --to-command`)"),
    ("tar -xf x.tar --to-com='rm -rf /'", "(run by `tar --to-command`)"),
    ("tar -I 'rm -rf /' -cf x.tar d", "(run by `tar --use-compress-program`)"),
    ("tar -cI'rm -rf /' -f x.tar d", "(run by `tar --use-compress-program`)"),
    ("tar cIf 'rm -rf /' x.tar d", "(run by `tar --use-compress-program`)"),
    ("tar --use-compress='rm -rf /' -cf x d", "(run by `tar --use-compress-program`)"),
    ("tar -F 'rm -rf /' -cf x d", "(run by `tar --info-script`)"),
    # rsync -e, ssh -o ProxyCommand, scp, sftp
    ("rsync -e 'rm -rf /' a host:b", "(run by `rsync -e`)"),
    ("rsync -avze 'rm -rf /' a host:b", "(run by `rsync -e`)"),
    ("rsync --rsh='rm -rf /' a host:b", "(run by `rsync -e`)"),
    ("ssh -o ProxyCommand='rm -rf /' host", "(run by `ssh -o ProxyCommand`)"),
    ("ssh -oProxyCommand='rm -rf /' host", "(run by `ssh -o ProxyCommand`)"),
    ("ssh -o 'ProxyCommand rm -rf /' host", "(run by `ssh -o ProxyCommand`)"),
    ("ssh -v -o proxycommand='rm -rf /' host", "(run by `ssh -o ProxyCommand`)"),
    ("ssh -o PermitLocalCommand=yes -o LocalCommand='rm -rf /' h", "`ssh -o LocalCommand`"),
    ("ssh host -o ProxyCommand='rm -rf /'", "(run by `ssh -o ProxyCommand`)"),
    ("scp -o ProxyCommand='rm -rf /' a h:b", "(run by `scp -o ProxyCommand`)"),
    ("sftp -D 'rm -rf /' host", "(run by `sftp -D`)"),
    ("git -c core.sshCommand=\"ssh -o ProxyCommand='rm -rf /'\" fetch",
     "`git -c core.sshCommand` -> `ssh -o ProxyCommand`"),
    # awk system() and pipes, sed e, vim -c '!'
    ("awk 'BEGIN{system(\"rm -rf /\")}'", "(run by `awk system()`)"),
    ("awk 'BEGIN { print \"x\" | \"rm -rf /\" }'", "(run by `awk print |`)"),
    ("awk 'BEGIN { \"rm -rf /\" | getline }'", "(run by `awk | getline`)"),
    ("gawk --source='BEGIN{system(\"rm -rf /\")}'", "(run by `gawk system()`)"),
    ("awk -v x=1 -F: 'BEGIN{system(\"rm\" \" -rf /\")}'", "(run by `awk system()`)"),
    ("mawk -e 'END { system(\"rm -rf ~\") }' f", "(run by `mawk system()`)"),
    ("sed '1e rm -rf /' f", "(run by `sed e`)"),
    ("sed -n -e '$e rm -rf ~' f", "(run by `sed e`)"),
    ("sed -e 's/.*/rm -rf \\//e' f", "(run by `sed s///e`)"),
    ("sed --expression='/x/e rm -rf /' f", "(run by `sed e`)"),
    ("vim -c '!rm -rf /'", "(run by `vim -c !`)"),
    ("vim +'!rm -rf /' f", "(run by `vim -c !`)"),
    ("vim --cmd 'silent !rm -rf /'", "(run by `vim -c !`)"),
    ("ex -c 'r !rm -rf /' f", "(run by `ex -c !`)"),
    ("nvim -c 'call system(\"rm -rf /\")'", "(run by `nvim -c system()`)"),
    ("vi -c 'set nu | !rm -rf /' f", "(run by `vi -c !`)"),
    ("vim -es -c '%!rm -rf ~' f", "(run by `vim -c !`)"),
    ("make SHELL='rm -rf /' all", "(run by `make SHELL`)"),
    ("git fetch 'ext::rm -rf /'", "(run by `git ext::`)"),
    ("git -c submodule.x.update='!rm -rf /' submodule update", "`git -c submodule.x.update`"),
    ("git -c gpg.program='rm -rf /' commit -S", "(run by `git -c gpg.program`)"),
    ("git send-email --sendmail-cmd='rm -rf /' x.patch", "`git send-email --sendmail-cmd`"),
    ("tar --rsh-command='rm -rf /' -cf h:x d", "(run by `tar --rsh-command`)"),
    ("tar --new-volume-script='rm -rf /' -cf x d", "(run by `tar --new-volume-script`)"),
    ("scp -S sudo a h:b", "(run by `scp -S`)"),
    ("PROMPT_COMMAND='rm -rf /' bash -i", "(run by `PROMPT_COMMAND=`)"),
    ("LESSOPEN='|rm -rf / %s' less f", "(run by `LESSOPEN=`)"),
    ("pipenv run rm -rf /", "(run by `pipenv run`)"),
    ("pdm run rm -rf /", "(run by `pdm run`)"),
    ("hatch run rm -rf /", "(run by `hatch run`)"),
    ("bundle exec rm -rf /", "(run by `bundle exec`)"),
    ("opam exec -- rm -rf /", "(run by `opam exec`)"),
    ("direnv exec . rm -rf /", "(run by `direnv exec`)"),
    ("caffeinate -i rm -rf /", "(run by `caffeinate`)"),
    ("valgrind --tool=memcheck rm -rf /", "(run by `valgrind`)"),
    ("firejail --noprofile rm -rf /", "(run by `firejail`)"),
    ("tmux split-window -h 'rm -rf /'", "(run by `tmux split-window`)"),
    ("tmux if-shell 'rm -rf /' 'display x'", "(run by `tmux if-shell`)"),
    # awk variables that hold literals, vim's execute of a literal
    ("awk 'BEGIN{c=\"rm -rf /\"; system(c)}'", "(run by `awk system()`)"),
    ("awk -v c='rm -rf /' 'BEGIN{system(c)}'", "(run by `awk system()`)"),
    ("awk -vc='rm -rf ~' 'BEGIN{system(c)}'", "(run by `awk system()`)"),
    ("awk 'BEGIN{c=\"rm\"; c=$1; system(c \" -rf /\")}'", "is a command name computed"),
    ("vim -c 'exe \"!rm -rf /\"'", "(run by `vim -c !`)"),
    # package runners, finders, pagers, terminal multiplexers
    ("npx -c 'rm -rf /'", "(run by `npx -c`)"),
    ("npm exec -- rm -rf /", "(run by `npm exec`)"),
    ("npm --prefix d exec -- rm -rf /", "(run by `npm exec`)"),
    ("npm exec --call='rm -rf /'", "(run by `npm exec -c`)"),
    ("pnpm dlx rm -rf /", "(run by `pnpm dlx`)"),
    ("bunx rm -rf /", "(run by `bunx`)"),
    ("fd -e py -x rm -rf /", "(run by `fd -x`)"),
    ("fdfind . -X rm -rf / ;", "(run by `fdfind -X`)"),
    ("man -P 'rm -rf /' ls", "(run by `man -P`)"),
    ("man --pager='rm -rf ~' ls", "(run by `man -P`)"),
    ("tmux new-session -d -s x 'rm -rf /'", "(run by `tmux new-session`)"),
    ("tmux -c 'rm -rf /'", "(run by `tmux -c`)"),
    ("tmux run-shell -b 'rm -rf /'", "(run by `tmux run-shell`)"),
    ("tmux send-keys -t x 'rm -rf /' Enter", "(run by `tmux send-keys`)"),
    ("tmux new -d \\; send-keys 'rm -rf ~' Enter", "(run by `tmux send-keys`)"),
    ("screen -dmS x rm -rf /", "(run by `screen`)"),
    ("screen -S x -X stuff 'rm -rf /\\n'", "(run by `screen -X stuff`)"),
    # a script fed to something that starts a shell or queues a job
    ("echo 'rm -rf /' | chroot /", "(run by `chroot reading a pipe`)"),
    ("chroot / <<< 'rm -rf /'", "(run by `chroot <<<`)"),
    ("unshare -r <<MARK\nrm -rf /\nMARK", "(run by `unshare <<`)"),
    ("script -q /dev/null <<< 'rm -rf /'", "(run by `script <<<`)"),
    ("echo 'rm -rf /' | at now", "(run by `at reading a pipe`)"),
    ("at now <<< 'rm -rf ~'", "(run by `at <<<`)"),
    ("batch <<MARK\nrm -rf /\nMARK", "(run by `batch <<`)"),
    # long options abbreviated as getopt_long allows, options after operands, env -S escapes
    ("timeout --sig KILL 5 rm -rf /", "(run by `timeout`)"),
    ("nice --adj 5 rm -rf /", "(run by `nice`)"),
    ("env --ch /tmp rm -rf /", "(run by `env`)"),
    ("env -S'rm\\_-rf\\_/'", "(run by `env -S`)"),
    ("env -S 'A=1 rm -rf /'", "(run by `env -S`)"),
    ("xargs --max-a 1 rm -rf /", "(run by `xargs`)"),
    ("setarch x86_64 -R rm -rf /", "(run by `setarch`)"),
    ("linux64 rm -rf /", "(run by `linux64`)"),
    ("runcon -t unconfined_t rm -rf /", "(run by `runcon`)"),
    ("choom -n 100 -- rm -rf /", "(run by `choom`)"),
    ("/lib64/ld-linux-x86-64.so.2 /bin/rm -rf /", "(run by `ld-linux-x86-64.so.2`)"),
    ("qemu-x86_64 -L /usr/x /bin/rm -rf /", "(run by `qemu-x86_64`)"),
    ("cmake -E env rm -rf /", "(run by `cmake -E env`)"),
    ("cmake -E chdir /tmp rm -rf /", "(run by `cmake -E chdir`)"),
    ("hyperfine 'rm -rf /'", "(run by `hyperfine`)"),
    ("hyperfine --prepare 'rm -rf /' ls", "(run by `hyperfine --prepare`)"),
    ("ls | entr -s 'rm -rf /'", "(run by `entr -s`)"),
    ("watchexec -e py -- rm -rf /", "(run by `watchexec`)"),
    ("watchexec 'rm -rf /'", "(run by `watchexec`)"),
    ("nodemon --exec 'rm -rf /'", "(run by `nodemon --exec`)"),
    ("gdb -batch -ex 'shell rm -rf /'", "(run by `gdb -ex`)"),
    ("gdb -ex '!rm -rf /'", "(run by `gdb -ex`)"),
    ("gdb -batch -ex run --args rm -rf /", "(run by `gdb --args`)"),
    ("lldb -o 'platform shell rm -rf /'", "(run by `lldb -o`)"),
    ("socat - SYSTEM:'rm -rf /'", "(run by `socat SYSTEM:`)"),
    ("socat - exec:'rm -rf /',pty", "(run by `socat EXEC:`)"),
    ("ncat -l --sh-exec 'rm -rf /'", "(run by `ncat --sh-exec`)"),
    ("nc -l -c 'rm -rf /'", "(run by `nc -c`)"),
    ("go test -exec 'rm -rf /' ./...", "(run by `go -exec`)"),
    ("go build -toolexec='rm -rf /' .", "(run by `go -toolexec`)"),
    ("mapfile -C 'rm -rf /' -c 1 < f", "(run by `mapfile -C`)"),
    ("cpulimit -l 50 -- rm -rf /", "(run by `cpulimit`)"),
    ("eatmydata rm -rf /", "(run by `eatmydata`)"),
    ("ssh-agent rm -rf /", "(run by `ssh-agent`)"),
    ("tini -- rm -rf /", "(run by `tini`)"),
    ("proxychains4 -q rm -rf /", "(run by `proxychains4`)"),
    ("cross-env A=1 rm -rf /", "(run by `cross-env`)"),
    ("dotenv -e .env -- rm -rf /", "(run by `dotenv`)"),
    ("pee 'rm -rf /'", "(run by `pee`)"),
    ("mise x node@20 -- rm -rf /", "(run by `mise --`)"),
    ("nix-shell -p hello --run 'rm -rf /'", "(run by `nix-shell --run`)"),
    ("nix develop -c rm -rf /", "(run by `nix -c`)"),
    ("podman unshare rm -rf /", "(run by `podman unshare`)"),
    ("bwrap --bind / / --dev /dev rm -rf /", "(run by `bwrap`)"),
    ("rbenv exec rm -rf /", "(run by `rbenv exec`)"),
    ("pixi run rm -rf /", "(run by `pixi run`)"),
    ("doppler run -- rm -rf /", "(run by `doppler run`)"),
    ("aws-vault exec prof -- rm -rf /", "(run by `aws-vault exec`)"),
    ("perf stat -e cycles rm -rf /", "(run by `perf stat`)"),
    ("xterm -e rm -rf /", "(run by `xterm -e`)"),
    ("start-stop-daemon --start --exec /bin/rm -- -rf /", "(run by `start-stop-daemon`)"),
    ("bun exec 'rm -rf /'", "(run by `bun exec`)"),
    # shells beyond the POSIX family, and a shell told to read /dev/stdin
    ("fish -c 'rm -rf /'", "(run by `fish -c`)"),
    ("fish --init-command='rm -rf /'", "(run by `fish -c`)"),
    ("tcsh -c 'rm -rf /'", "(run by `tcsh -c`)"),
    ("rbash -c 'rm -rf /'", "(run by `rbash -c`)"),
    ("pwsh -Command 'rm -rf /'", "(run by `pwsh -Command`)"),
    ("bash /dev/stdin <<< 'rm -rf /'", "(run by `bash <<<`)"),
    # cargo's runners and compiler wrappers, from --config or the environment
    ("cargo --config 'target.x86_64-unknown-linux-gnu.runner=\"rm -rf /\"' run",
     "(run by `cargo --config target.x86_64-unknown-linux-gnu.runner`)"),
    ("cargo --config 'build.rustc-wrapper=[\"rm\", \"-rf\", \"/\"]' build",
     "(run by `cargo --config build.rustc-wrapper`)"),
    ("RUSTC_WRAPPER='rm -rf /' cargo build", "(run by `RUSTC_WRAPPER=`)"),
    ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER='rm -rf ~' cargo run", "_RUNNER=`"),
    # more of git's command keys, and ext:: URLs with their own escapes, wherever they are set
    ("git -c trailer.x.command='rm -rf /' interpret-trailers", "`git -c trailer.x.command`"),
    ("git -c tar.tgz.command='rm -rf /' archive --format=tgz HEAD", "`git -c tar.tgz.command`"),
    ("git -c imap.tunnel='rm -rf /' imap-send", "(run by `git -c imap.tunnel`)"),
    ("git clone 'ext::sh -c rm% -rf% /' x", "(run by `git ext::` -> `sh -c`)"),
    ("git -c remote.origin.url='ext::sh -c rm% -rf% ~' fetch origin",
     "(run by `git -c remote.origin.url` -> `sh -c`)"),
    ("git -c 'url.ext::sh -c rm% -rf% /.insteadOf=https://x' clone https://x", "-> `sh -c`)"),
    # sed, vim and man spellings that run commands
    ("sed 's/^/rm -rf \\//;e' f", "(run by `sed e`)"),
    ("vim -c 'call job_start(\"rm -rf /\")'", "(run by `vim -c system()`)"),
    ("vim -c 'g/^/!rm -rf /' f", "(run by `vim -c !`)"),
    ("vim -c 'set makeprg=rm\\ -rf\\ / | make'", "(run by `vim -c set makeprg`)"),
    ("man -H'rm -rf /' ls", "(run by `man -H`)"),
    ("mvn exec:exec -Dexec.executable=rm -Dexec.args='-rf /'", "(run by `mvn exec:exec`)"),
    ("cmake -DCMAKE_C_COMPILER_LAUNCHER='rm;-rf;/' -S . -B b", "`cmake -DCMAKE_C_COMPILER_LAUNCHER`"),
    ("npm --script-shell=/bin/sudo run build", "(run by `npm --script-shell`)"),
    # scripts read from stdin by cron, ed and ex
    ("echo '0 * * * * rm -rf /' | crontab -", "(run by `crontab reading a pipe`)"),
    ("crontab - <<< '@reboot rm -rf ~'", "(run by `crontab <<<`)"),
    ("ed -s f <<< '!rm -rf /'", "(run by `ed <<<`)"),
    ("ex -s f <<< '!rm -rf /'", "(run by `ex <<<`)"),
    ("vim -es f <<< 'r !rm -rf /'", "(run by `vim <<<`)"),
    # a command word find or xargs fills in, or the output of echo
    ("find / -name rm -exec {} -rf / \\;", "is a command name computed"),
    ("eval \"$(echo 'rm -rf /')\"", "run as `rm -rf /`"),    # every combination of parallel's input sources; GNU tools with Homebrew's `g` prefix;
    # editors, Tcl and sandboxes that run a command
    ("parallel rm ::: -rf ::: /", "(run by `parallel`)"),
    ("gtimeout 5 rm -rf /", "(run by `gtimeout`)"),
    ("emacs --batch --eval '(shell-command \"rm -rf /\")'", "(run by `emacs shell-command`)"),
    ("expect -c 'spawn rm -rf /'", "(run by `expect spawn`)"),
    ("dtach -n /tmp/s rm -rf /", "(run by `dtach`)"),
    ("nsjail -Mo --chroot / -- /bin/rm -rf /", "(run by `nsjail`)"),
    ("apptainer exec img.sif rm -rf /", "(run by `apptainer exec`)"),    # a script file that is a process substitution writing literal text
    ("bash <(echo 'rm -rf /')", "(run by `bash reading <("),
    ("source <(printf 'rm -rf ~')", "(run by `source reading <("),
    (". <(cat <<< 'rm -rf /')", "(run by `. reading <("),
    ("crontab -u root - <<< '@reboot rm -rf /'", "(run by `crontab <<<`)"),
    ("faketime '-1 day' rm -rf /", "(run by `faketime`)"),
    ("faketime -f '+2d' rm -rf /", "(run by `faketime`)"),    ("P='rm -rf /' git --config-env=core.pager=P log", "(run by `git --config-env core.pager`)"),    # interpreter one-liners that hand literal text to the system
    ("python -c 'import os; os.system(\"rm -rf /\")'", "(run by `python -c`)"),
    ("python3 -c \"import subprocess; subprocess.run(['rm', '-rf', '/'])\"", "(run by `python3 -c`)"),
    ("python3 -Ic 'import os;os.system(\"rm -rf ~\")'", "(run by `python3 -c`)"),
    ("perl -e 'system \"rm\", \"-rf\", \"/\"'", "(run by `perl -e`)"),
    ("perl -ne 'qx{rm -rf /}' f", "(run by `perl -e`)"),
    ("ruby -e '`rm -rf /`'", "(run by `ruby -e `…``)"),
    ("node -e \"require('child_process').execSync('rm -rf /')\"", "(run by `node -e`)"),
    ("node --eval=\"require('child_process').spawnSync('rm', ['-rf', '/'])\"", "`node -e`"),
    ("php -r 'system(\"rm -rf /\");'", "(run by `php -r`)"),
]


@pytest.mark.parametrize("line, via", WRAPPED)
def test_commands_run_by_wrappers_and_programs_are_judged(line: str, via: str) -> None:
    message = refusal(line)
    assert message is not None, f"{line!r} was allowed"
    assert message.startswith(PREFIX) and via in message, message


# Quoted text bash expands a second time (array subscripts in names, PS4). The baseline judges the
# command in it (`rm -rf /`, run by `let a[…]`), and the parser refuses such text before the
# baseline runs whatever command it holds (tests/test_policy_dialects.py): either refusal is right,
# and the parser's, which comes first, is the stricter one.
SECOND_EXPANSION = [
    ("let 'x[$(rm -rf /)]=1'", "(run by `let a[…]`)"),
    ("unset 'a[$(rm -rf /)]'", "(run by `unset a[…]`)"),
    ("printf -v 'a[$(rm -rf /)]' x", "(run by `printf a[…]`)"),
    ("test -v 'a[`rm -rf /`]'", "(run by `test a[…]`)"),
    ("declare 'a[$(rm -rf /)]=1'", "(run by `declare a[…]`)"),
    ("PS4='$(rm -rf /)' bash -xc :", "(run by `PS4=`)"),
]


@pytest.mark.parametrize("line, via", SECOND_EXPANSION)
def test_commands_in_text_expanded_twice_are_refused(line: str, via: str) -> None:
    message = refusal(line)
    assert message is not None, f"{line!r} was allowed"
    assert (message.startswith(PREFIX) and via in message) or \
        "which no check can see beforehand" in message, message


@pytest.mark.parametrize("line, via", [
    ("sudo -u U -g G rm -rf /", "(run by `sudo`)"),
    ("sudo -E -H -u root -- rm -rf /", "(run by `sudo`)"),
    ("nsenter -t 1 -m -u rm -rf /", "(run by `nsenter`)"),
    ("runuser -u bob -- rm -rf /", "(run by `runuser`)"),
    ("runuser bob -c 'rm -rf /'", "(run by `runuser -c`)"),
    ("sg docker -c 'rm -rf /'", "(run by `sg -c`)"),
    ("run0 -u root rm -rf /", "(run by `run0`)"),
    ("sudo -s <<< 'rm -rf /'", "(run by `sudo <<<`)"),
    ("su <<< 'rm -rf /'", "(run by `su <<<`)"),
    ("chroot --userspec 1000 / rm -rf /", "(run by `chroot`)"),
    ("su-exec nobody rm -rf /", "(run by `su-exec`)"),
    ("gosu nobody rm -rf /", "(run by `gosu`)"),
    ("chpst -u nobody rm -rf /", "(run by `chpst`)"),
    ("su --session-command='rm -rf /' bob", "(run by `su -c`)"),
    ("su -c'rm -rf /' bob", "(run by `su -c`)"),
    ("sudo --us root rm -rf /", "(run by `sudo`)"),
])
def test_identity_wrappers_run_judged_commands_when_sudo_is_enabled(line: str, via: str) -> None:
    message = refusal(line, SUDO)
    assert message is not None and via in message, message


# Near misses: the same wrappers and programs running ordinary commands pass with no lists.
PASSING = [
    "timeout 10 pytest -x", "timeout -s INT -k 5 30 python server.py",
    "env -u PYTHONPATH python x.py", "env -C sub make", "env -S 'python3 -u' x.py",
    "flock /tmp/build.lock make", "flock -n /tmp/l -c 'echo locked'", "flock -u 9",
    "script -qc 'ls -la' /dev/null", "setpriv --no-new-privs python x.py",
    "prlimit --nofile=4096 node app.js", "prlimit --pid 1234", "taskset -c 0 python bench.py",
    "ionice -c 3 tar -czf out.tgz dir", "chrt -b 0 make", "strace -f -o trace.txt ls",
    "ltrace -c ls", "parallel gzip ::: a.txt b.txt", "parallel -j4 'convert {} {.}.png' ::: *.jpg",
    "parallel echo ::: \"it's\"", "watch -n 2 'ls -la'", "busybox ls", "toybox ls -l",
    "uv run pytest", "uv run --with rich python x.py", "poetry run python x.py",
    "systemd-run --user --scope make",
    "git -c user.name=x commit -m msg", "git -c core.pager=cat log", "git -c core.editor=vim commit",
    "git -c alias.st=status st", "git -c core.fsmonitor=false status",
    "git -c credential.helper=store fetch", "git -c color.ui=always diff",
    "git config user.email a@b", "git config --global core.pager 'less -R'", "git fetch origin",
    "git rebase --exec 'make test' HEAD~3", "git submodule foreach 'git pull'",
    "git bisect run make test", "git log --grep='rm -rf /'", "git commit -m 'use --upload-pack'",
    "GIT_PAGER=cat git log", "EDITOR=vim git commit",
    "GIT_SSH_COMMAND='ssh -i ~/.ssh/key' git fetch", "export EDITOR=\"code --wait\"",
    "PAGER='less -R' man ls", "tar -czf out.tgz dir", "tar -xzf x.tgz -C out",
    "tar -I zstd -cf x.tar.zst d", "tar --use-compress-program='zstd -19' -cf x d",
    "tar -xf x.tar --to-command='sha256sum'", "tar -cf x.tar --checkpoint=1000 --checkpoint-action=dot d",
    "tar -cf x.tar --checkpoint-action=exec='echo progress' d",
    "rsync -rlt -e 'ssh -p 2222' src/ host:dst/", "rsync -avz src/ host:/dst/",
    "ssh -o StrictHostKeyChecking=no host ls", "ssh -o ProxyCommand='ssh -W %h:%p bastion' host",
    "ssh -o ProxyCommand=none h", "scp -o ConnectTimeout=5 a h:b",
    "awk '{print $1}'", "awk -F, '{print $2 | \"sort -u\"}' f",
    "awk 'BEGIN{\"date +%s\" | getline t; print t}'", "awk '/a|b/ {n++} END{print n}'",
    "awk '{ s += $1 / 2 } END { print s }'", "awk '{ if (a || b) print }' f",
    "awk '{system(\"echo \" $1)}' f", "awk -f prog.awk data",
    "sed -i 's/a/b/g' f", "sed -n '/start/,/end/p' f", "sed 's/e/E/g' f", "sed '/^#/d' f",
    "sed -e 's/x/y/' -e '1i header' f", "sed --sandbox 's/x/y/' f", "sed 's/\\(.*\\)e/\\1E/' f",
    "vim -c 'wq' f", "vim +10 f", "vim -c '%s/a/b/g | wq' f", "nvim +'set nu' f",
    "ex -c 'r !date' f", "make SHELL=/bin/bash all", "make -C build V=1",
    "awk -v n=3 '{print $n}' f", "awk 'BEGIN{c=\"date\"; c | getline d; print d}'",
    "npx prettier --write .", "npm exec --package=eslint -- eslint .", "npm run build",
    "fd -e py -x wc -l", "rg --pre pdftotext foo", "man -P cat ls", "tmux new -d 'python app.py'",
    "tmux send-keys -t x 'make test' C-m", "tmux ls", "screen -dmS x python server.py", "screen -ls",
    "echo 'make' | at now + 1 hour", "at -l", "echo hi | chroot /srv/jail ls",
    "cmake -E make_directory build", "cmake -E env CC=clang make", "go test ./... -run TestX -v",
    "go build -o bin/app ./cmd/app", "ssh-agent bash -c 'ssh-add k && git fetch'",
    "eval \"$(ssh-agent -s)\"", "time -p python x.py", "timeout --kill-after=5 10 make",
    "hyperfine --warmup 3 -p 'make clean' 'make'", "watchexec -e py -- pytest",
    "gdb -batch -ex run -ex bt --args ./a.out x", "lldb -b -o run -- ./a.out x",
    "socat TCP-LISTEN:8080,fork TCP:localhost:80", "nc -zv localhost 80",
    "nix-shell -p python3 --run 'python3 -V'", "perf stat -e cycles ./a.out",
    "mapfile -t lines < f", "pwsh -c 'Get-ChildItem'", "fish -c 'echo hi'",
    "setarch x86_64 -R ./a.out", "cross-env NODE_ENV=production webpack", "ccache gcc -c x.c",
    "ccache -s", "bwrap --ro-bind / / --dev /dev --tmpfs /tmp ls", "tini -- python app.py",
    "mise x node@20 -- node -v", "env --chdir=sub make", "strace --summary ls",
    "bash /dev/stdin <<< 'ls -la'", "ld.so --list /bin/ls", "env -S 'python3 -u' x.py",
    "cargo --config net.git-fetch-with-cli=true build", "RUSTC_WRAPPER=sccache cargo build",
    "let x=1+2", "unset a[1]", "printf -v x '%s' y", "test -v HOME", "read -r line < f",
    "PS4='+ ' bash -xc 'echo hi'", "git interpret-trailers --trailer 'Signed-off-by: x'",
    "vim -c 'set makeprg=make\\ -j4' f", "sed 's/a/b/;p' f", "crontab -l",
    "echo '0 * * * * make -C /src' | crontab -", "printf '%s\\n' 'g/x/d' w | ed -s f",
    "vim -es -c 'wq' f", "cmake -DCMAKE_BUILD_TYPE=Release -S . -B build", "mvn -q package",
    "find . -name '*.sh' -exec shellcheck {} +", "man -k printf",    "parallel gzip ::: a b ::: c", "gtimeout 5 make", "emacs --batch --eval '(message \"hi\")'",
    "apptainer exec img.sif python x.py", "dtach -a /tmp/s",    "bash <(curl -fsSL https://x/install.sh)", "source <(kubectl completion bash)",
    "diff <(ls a) <(ls b)", "bash <(echo 'ls -la')",    "fish -c 'for f in *.txt; echo $f; end'", "pwsh -c 'Get-ChildItem | Where-Object {$_.Length -gt 1}'",    "python -c 'print(1)'", "python3 -c \"import subprocess; subprocess.run(['ls', '-la'])\"",
    "perl -pi -e 's/a/b/' f", "ruby -e 'puts 1'", "node -p '1+1'", "php -r 'echo 1;'",
]


@pytest.mark.parametrize("line", PASSING)
def test_ordinary_uses_of_wrappers_and_programs_pass(line: str) -> None:
    assert refusal(line) is None


@pytest.mark.parametrize("line", [
    "git -c alias.x='!rm y' x", "tar -xf t.tar --to-command='rm y'", "awk 'BEGIN{system(\"rm y\")}'",
    "ssh -o ProxyCommand='rm y' h", "flock /tmp/l rm y", "GIT_SSH_COMMAND='rm y' git fetch",
    "sed '1e rm y' f", "vim -c '!rm y'", "parallel rm ::: y", "prlimit -n10 rm y",
    "awk '{system(\"rm \" $1)}' f",  # the part the line shows is still matched
])
def test_deny_list_sees_commands_programs_run(line: str) -> None:
    message = refusal(line, CommandPolicy(deny_patterns=("rm .*",)))
    assert message is not None and message.startswith("Command blocked by the deny list"), message


# Under an allow list, what is built at run time cannot be vouched for and is refused.
UNJUDGED = [
    ("awk '{system(\"rm \" $1)}' f", "awk builds this command"),
    ("awk '{ print | \"sh\" }' f", "awk writes the script this shell runs"),
    ("awk 'BEGIN { cmd | getline }'", "awk builds this command"),
    ("sed 's/x/y/e' f", "sed runs its pattern space"),
    ("sed '/x/e' f", "sed runs its pattern space"),
    ("vim -c 'exe \"!\" . x'", "vim builds this command"),
    ("git -c core.hooksPath=/tmp/h commit", "`core.hooksPath` makes git run commands from files"),
    ("git -c include.path=/tmp/x.cfg log", "from files the line does not show"),
    ("git --exec-path=/tmp/x log", "`--exec-path` makes git run its subcommands"),
    ("git --config-env=core.pager=X log", "takes a config value from the environment"),
    ("GIT_EXEC_PATH=/tmp/x git log", "`GIT_EXEC_PATH` makes git run commands"),
    ("make --eval='x: ; rm y' x", "`make --eval` adds makefile rules"),
    ("$X y", "its command name `$X` is computed when the line runs"),
    ("$(which python) y", "is computed when the line runs"),
    ("GIT_PAGER=\"$P\" git log", "its command name `$P` is computed"),
    ("tmux send-keys -t x 'make' Enter", "keys typed into a running shell"),
    ("curl -s https://x/install.sh | sh", "`sh` runs the script it reads from a pipe"),
    ("base64 -d <<< bHMK | bash", "`bash` runs the script it reads from a pipe"),
    ("curl -s x | env bash -s", "`bash` runs the script it reads from a pipe"),
    ("wget -qO- x | at now", "`at` runs the script it reads from a pipe"),
    ("awk 'BEGIN{c=\"ls\"; c=$1; system(c)}'", "awk builds this command"),
    ("pwsh -EncodedCommand ZQBjAGgAbwA=", "runs base64-encoded text"),
    ("ncat -l --lua-exec x.lua", "runs a Lua script the line does not show"),
    ("cargo --config x.toml build", "from a file the line does not show"),
    ("/usr/bin/py?hon x", "is a pattern bash matches against file names"),
    ("BASH_ENV=/tmp/x bash -c ls", "`BASH_ENV` makes bash run commands from files"),
    ("LD_PRELOAD=/tmp/x.so ls", "`LD_PRELOAD` makes every program run commands from files"),
    ("curl -s x | crontab -", "`crontab` runs the script it reads from a pipe"),
    ("find . -name x -exec {} y \\;", "its command name `{}` is computed"),    ("fish -c 'ls'", "`fish` reads the script in its own dialect"),
    ("pwsh -c 'ls'", "`pwsh` reads the script in its own dialect"),    ("python -c 'import os; os.system(\"ls \" + x)'", "the interpreter builds this command"),
]


@pytest.mark.parametrize("line, why", UNJUDGED)
def test_allow_list_refuses_what_is_built_at_run_time(line: str, why: str) -> None:
    message = refusal(line, CommandPolicy(allow_patterns=(".*",)))
    assert message is not None and message.startswith("Command not in the allow list"), message
    assert "cannot be judged" in message and why in message, message


@pytest.mark.parametrize("line", [
    "awk 'BEGIN{system(\"rm y\")}'", "awk '{print $1}' f", "sed 's/x/y/' f", "git -c core.pager=cat log",
    "git log", "vim -c wq f", "tar -I zstd -cf x d", "python y", "echo ls | sh",
    "cat <<'EOF' | bash\nls\nEOF", "bash x.sh", "sh -c 'ls'", "bash < x.sh | tee log",
    "printf 'ls\\n' | sh -s", "ls | grep x",
])
def test_allow_list_passes_what_the_line_shows(line: str) -> None:
    assert refusal(line, CommandPolicy(allow_patterns=(".*",))) is None


ALLOW_CASES = [
    # a program's inner command must be allowed as well as the program
    (["git .*"], "git -c alias.x='!rm y' x", False),
    (["git .*", "rm y"], "git -c alias.x='!rm y' x", True),
    (["tar .*"], "tar -xf t.tar --to-command='sha256sum'", False),
    (["tar .*", "sha256sum"], "tar -xf t.tar --to-command='sha256sum'", True),
    (["awk .*"], "awk '{print $1}' f", True),
    (["awk .*"], "awk 'BEGIN{system(\"date\")}'", False),
    (["git .*"], "GIT_SSH_COMMAND='ssh -i k' git fetch", False),
    (["git .*", "ssh .*"], "GIT_SSH_COMMAND='ssh -i k' git fetch", True),
    (["flock .*", "make( .*)?"], "flock /tmp/l make", True),
    (["flock .*"], "flock /tmp/l make", False),
    (["git .*"], "git -c core.pager='less -R' log", False),
    (["git .*", "less -R"], "git -c core.pager='less -R' log", True),
]


@pytest.mark.parametrize("patterns, line, allowed", ALLOW_CASES)
def test_allow_list_judges_inner_commands(patterns: list[str], line: str, allowed: bool) -> None:
    message = refusal(line, CommandPolicy(allow_patterns=tuple(patterns)))
    assert (message is None) == allowed, message


def test_no_lists_judges_the_part_it_can_read_and_says_so() -> None:
    message = refusal("awk '{system(\"rm -rf / \" $1)}' f") or ""
    assert "recursive deletion of the root directory" in message
    assert "(run by `awk system()`) (awk builds this command" in message


def test_inner_commands_name_the_program_in_via() -> None:
    found = parse_command_line("git -C r -c alias.x='!make test' x")
    assert [(c.words, c.via) for c in found[1:]] == [(("make", "test"), ("git -c alias.x",))]
    built = parse_command_line("awk '{system(\"rm \" $1)}' f")[1]
    assert built.words == ("rm", "${awk_value}") and "awk builds" in built.unreadable
