#!/usr/bin/env bash
# Gives CI a Docker engine: `start` uses a running one or starts dockerd,
# `stop` stops only a daemon that `start` started. Both are idempotent.
set -euo pipefail

STATE_DIR=${MGEXEC_CI_ENGINE_STATE:-/tmp/mgexec-ci-engine}
PID_FILE=$STATE_DIR/dockerd.pid
LOG_FILE=$STATE_DIR/dockerd.log
WAIT_SECONDS=60
# dockerd lives in sbin, which a non-login root shell may not have on PATH.
PATH=$PATH:/usr/sbin:/sbin

say() { printf 'engine.sh: %s\n' "$*"; }
die() { printf 'engine.sh: %s\n' "$*" >&2; exit 1; }

engine_ready() { docker info >/dev/null 2>&1; }

describe_engine() {
    docker version --format 'server {{.Server.Version}} (client {{.Client.Version}})' 2>/dev/null ||
        printf 'unknown version'
}

# The pid recorded by `start`, if that daemon is still alive.
our_dockerd_pid() {
    local pid
    [[ -r $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] || return 1
    printf '%s' "$pid"
}

# Installs what is missing: the engine, debootstrap for build.sh --bootstrap, compose, busybox.
install_missing() {
    local missing=()
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        missing+=(docker.io)
    fi
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
    # busybox: the dialect tests also run each line with busybox ash as sh.
    command -v busybox >/dev/null 2>&1 || missing+=(busybox)
    ((${#missing[@]})) || return 0
    [[ $(id -u) == 0 ]] || die "needs root to install ${missing[*]}; run it as root or install them first."
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}" </dev/null
}

start_dockerd() {
    mkdir -p "$STATE_DIR"
    say "starting dockerd (log: $LOG_FILE)"
    # setsid: the daemon must outlive this script and not get its signals.
    setsid dockerd >"$LOG_FILE" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$PID_FILE"
}

wait_for_engine() {
    local deadline=$((SECONDS + WAIT_SECONDS)) why=""
    until engine_ready; do
        if ! our_dockerd_pid >/dev/null; then
            why="dockerd exited before the engine answered"
        elif ((SECONDS >= deadline)); then
            why="dockerd did not answer 'docker info' within $WAIT_SECONDS s"
        fi
        if [[ -n $why ]]; then
            printf 'engine.sh: %s; the end of its log %s:\n' "$why" "$LOG_FILE" >&2
            tail -n 30 "$LOG_FILE" >&2 || true
            exit 1
        fi
        sleep 1
    done
}

start() {
    if engine_ready; then
        say "using the running engine: $(describe_engine)"
        install_missing
        return 0
    fi
    install_missing
    # A fresh docker.io may have started its own daemon from its init script.
    if engine_ready; then
        say "using the engine its installation started: $(describe_engine)"
        return 0
    fi
    if ! our_dockerd_pid >/dev/null; then
        start_dockerd
    else
        say "dockerd started earlier is still coming up; waiting"
    fi
    wait_for_engine
    say "engine ready: $(describe_engine)"
}

stop() {
    local pid
    if ! pid=$(our_dockerd_pid); then
        rm -f "$PID_FILE"
        say "no dockerd started by this script is running; nothing to stop"
        return 0
    fi
    say "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    # dockerd stops its containers and its containerd before exiting.
    for _ in $(seq 1 30); do
        [[ -d /proc/$pid ]] || break
        sleep 1
    done
    if [[ -d /proc/$pid ]]; then
        say "dockerd still running after 30 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) die "usage: bash .ci/engine.sh start|stop (start: use or start a Docker engine; stop: stop the one start started)." ;;
esac
