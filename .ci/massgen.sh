#!/usr/bin/env bash
# Installs the pinned MassGen the MassGen tests drive, once per machine: its own venv in the cache
# (about 4 minutes and 1.8 GB). `docker` is for MassGen's docker mode; `mcp<2` is what MassGen needs.
set -euo pipefail

VERSION=0.1.97
VENV=${MGEXEC_MASSGEN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mgexec-massgen/venv-$VERSION}

if [[ -x $VENV/bin/massgen ]] && "$VENV/bin/python" -c 'import massgen, docker' 2>/dev/null; then
    printf 'massgen.sh: MassGen %s already in %s\n' "$VERSION" "$VENV"
    exit 0
fi
printf 'massgen.sh: installing MassGen %s into %s (a few minutes)\n' "$VERSION" "$VENV"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "massgen==$VERSION" "mcp<2" docker
"$VENV/bin/massgen" --help >/dev/null
