"""The kill that runs inside a container through `docker exec`: one bash script for commands and shells.

Used where mgexec's python helper does not run the command (per-command `docker exec`, background
shells, the guard after a server's death). Bash only, no other program: every image mgexec runs in
has bash. A process is in scope when it is a root, in a root's session or group, descended from one,
tagged with the guard's variable, or an orphan re-parented to PID 1 that started at or after `since`
(the start of the command or shell, in clock ticks since boot): a command whose parent died, double
fork or `setsid` included, has nowhere else to go. With KILL, the set is frozen (SIGSTOP) until a
listing adds nothing, then killed, and that repeats until none is left, so a fork loop cannot race it.
"""

from __future__ import annotations

# Exported into every process a watchdog guards (background shells, per-command execs), so each process
# of their trees carries the tag: one found by its tag is ended even when the server died before
# learning its pid.
TAG_VARIABLE = "MGEXEC_GUARD"


def closed_marker(tag: str) -> str:
    """The file a tagged sweep creates first: once it exists, a shell of that watchdog which the engine
    starts late refuses to run (either the sweep sees its process, or the shell sees the file)."""
    return f"/tmp/.mgexec-guard-{tag}.closed"


CLOSED_MARKER = closed_marker("$" + TAG_VARIABLE)  # as the shell wrapper, which carries the tag, spells it

# $1: signal name (TERM, KILL, ...); $2: a guard tag or "-"; $3: since (clock ticks) or "-"; then the
# root pids. Written without single quotes, so it can be embedded in a single-quoted shell word.
SWEEP = r"""sig=$1 tag=$2 since=$3; shift 3
# With a guard tag: from now on, a shell of that guard which the engine starts late refuses to run.
[[ $tag != - ]] && : > "@MARKER@" 2>/dev/null
declare -A root=()
for r in "$@"; do root[$r]=1; done
me=$$
collect() {
  local d p st kv
  local -a pids=() ppids=() f
  unset inscope; declare -gA inscope=()
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [[ $p == "$me" ]] && continue
    read -r st < "$d/stat" 2>/dev/null || continue
    f=(${st##*") "})
    [[ ${f[0]} == Z || ${f[0]} == X ]] && continue
    pids+=("$p"); ppids+=("${f[1]}")
    if [[ -n ${root[$p]} || -n ${root[${f[2]}]} || -n ${root[${f[3]}]} ]]; then inscope[$p]=1
    elif [[ $since != - && ${f[1]} == 1 && ${f[19]} -ge $since ]]; then inscope[$p]=1
    elif [[ $tag != - ]]; then
      while IFS= read -r -d "" kv; do
        [[ $kv == "@TAG@=$tag" ]] && { inscope[$p]=1; break; }
      done < "$d/environ" 2>/dev/null
    fi
  done
  local changed=1 i
  while ((changed)); do
    changed=0
    for i in "${!pids[@]}"; do
      [[ -z ${inscope[${pids[i]}]} && -n ${inscope[${ppids[i]}]} ]] && { inscope[${pids[i]}]=1; changed=1; }
    done
  done
}
if [[ $sig != KILL ]]; then
  collect
  ((${#inscope[@]})) && kill -"$sig" "${!inscope[@]}" 2>/dev/null
  exit 0
fi
last= same=0
for ((round = 0; round < 50 && same < 3; round++)); do
  unset frozen; declare -A frozen=()
  for ((i = 0; i < 200; i++)); do
    collect
    new=()
    for p in "${!inscope[@]}"; do [[ -z ${frozen[$p]} ]] && new+=("$p"); done
    ((${#new[@]})) || break
    kill -STOP "${new[@]}" 2>/dev/null
    for p in "${new[@]}"; do frozen[$p]=1; done
  done
  ((${#frozen[@]})) || break
  kill -KILL "${!frozen[@]}" 2>/dev/null
  now="${!frozen[*]}"
  [[ $now == "$last" ]] && same=$((same + 1)) || same=0
  last=$now
done
exit 0""".replace("@MARKER@", closed_marker("$tag")).replace("@TAG@", TAG_VARIABLE)

assert "'" not in SWEEP

# POSIX sh: the start time of process $1 in clock ticks since boot (field 22 of /proc/PID/stat).
# How SWEEP is run inside (through `docker exec CONTAINER`); its words follow: SIGNAME TAG SINCE [SID...].
SWEEP_COMMAND = ("bash", "-c", SWEEP, "mgexec-sweep")

START_TIME_SH = r"""start_of() { read -r st < "/proc/$1/stat" || return 1; st=${st##*") "}; set -- $st; echo "${20}"; }"""


def sweep_sh(signame: str, tag: str, since: str, roots: str) -> str:
    """The sweep as one line of a POSIX sh script (arguments are shell words, expanded there)."""
    return f"bash -c '{SWEEP}' mgexec-sweep {signame} {tag} {since} {roots}"
