#!/usr/bin/env bash
# The real `srt` CLI (npm @anthropic-ai/sandbox-runtime) that MassGen's srt mode needs on PATH, in the
# cache directory bench/srt_cli.py and the MassGen tests look in (once per machine).
set -euo pipefail
VERSION=${MGEXEC_BENCH_SRT_VERSION:-0.0.83}
PREFIX=${MGEXEC_BENCH_SRT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mgexec-bench/srt-$VERSION}
missing=()
for pair in bwrap:bubblewrap socat:socat rg:ripgrep node:nodejs npm:npm; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
if [[ ! -x $PREFIX/node_modules/.bin/srt ]]; then
    mkdir -p "$PREFIX"
    npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "@anthropic-ai/sandbox-runtime@$VERSION"
fi
echo "srt.sh: $PREFIX/node_modules/.bin/srt"
