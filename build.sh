#!/bin/sh
# The real script lives in dockerfiles/ so that it ships inside the package.
exec "$(dirname "$0")/dockerfiles/build.sh" "$@"
