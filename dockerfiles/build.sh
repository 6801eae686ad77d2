#!/usr/bin/env bash
# Builds mgexec's runtime images (massgen/mcp-runtime, massgen/mcp-runtime-sudo).
# Lives beside the Dockerfiles so it ships with the package; `mgexec build` runs it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOCKER=${MGEXEC_DOCKER:-docker}
RUNTIME_NAME=massgen/mcp-runtime
SUDO_NAME=massgen/mcp-runtime-sudo
DEFAULT_BASE=python:3.11-slim
SUITE=bookworm
BOOTSTRAP_IMAGE=mgexec/debian-$SUITE:latest
HOST_CA=/etc/ssl/certs/ca-certificates.crt

usage() {
    cat <<EOF
Usage: build.sh [options]

Builds the runtime image $RUNTIME_NAME:latest (or, with --sudo, the
variant $SUDO_NAME:latest that lets the agent use sudo).

Options:
  --sudo              build the sudo variant FROM $RUNTIME_NAME:TAG; builds
                      that runtime image first when it is missing
  -n, --name NAME     image name (default $RUNTIME_NAME, or
                      $SUDO_NAME with --sudo)
  -t, --tag TAG       image tag (default latest)
  --base IMAGE        base image of the runtime image (default $DEFAULT_BASE);
                      any Debian or Ubuntu image with apt works
  --bootstrap         for machines that reach no container registry: create
                      the base image $BOOTSTRAP_IMAGE locally with
                      debootstrap (about half a minute, needs root) and build
                      on it; an existing one is reused
  --rebuild-base      recreate the bootstrap base image (implies --bootstrap)
  --mirror URL        Debian mirror for --bootstrap (also env
                      MGEXEC_DEBIAN_MIRROR; default: the one this host's apt
                      uses, else http://deb.debian.org/debian)
  --ca-bundle FILE    PEM bundle that verifies HTTPS to the package registries
                      during the build, for networks behind a TLS-intercepting
                      proxy; "none" uses no bundle. Also env MGEXEC_CA_BUNDLE.
                      Default: $HOST_CA
                      when this host has it.
  --no-cache          build without the layer cache (fresh packages)
  -h, --help          show this help

Why the host's CA bundle by default: behind a corporate proxy the build only
works with the bundle the host trusts, and on any other network that bundle
holds the usual public roots, so using it costs nothing. Only the build's apt
and pip steps use it; the image's environment does not point at it and it is
removed from the image's file system (public certificates, left in one build
layer), so containers verify TLS as usual wherever they run.

Rebuilding is cheap: unchanged steps come from the layer cache, and the image
a rebuild replaces is removed when nothing else uses it.

Environment: MGEXEC_DOCKER is the container CLI (default docker; podman works),
DOCKER_HOST/DOCKER_CONTEXT choose the engine. http_proxy, https_proxy and
no_proxy are passed to the build when set; otherwise a proxy in this host's
apt configuration (Acquire::http::Proxy) is used.
EOF
}

say() { printf '==> %s\n' "$*"; }

# Every error is one paragraph on stderr.
die() {
    printf 'build.sh: %s\n' "$*" >&2
    exit 1
}

usage_error() {
    printf 'build.sh: %s Run "build.sh -h" for the options.\n' "$*" >&2
    exit 2
}

sudo_variant=0 name="" tag=latest base="" bootstrap=0 rebuild_base=0 no_cache=0
mirror=${MGEXEC_DEBIAN_MIRROR:-}
ca_bundle=${MGEXEC_CA_BUNDLE:-}

parse_args() {
    while (($#)); do
        case $1 in
            --sudo) sudo_variant=1 ;;
            --bootstrap) bootstrap=1 ;;
            --rebuild-base) bootstrap=1 rebuild_base=1 ;;
            --no-cache) no_cache=1 ;;
            -h | --help) usage; exit 0 ;;
            -t | --tag | -n | --name | --base | --mirror | --ca-bundle)
                if (($# < 2)) || [[ -z $2 ]]; then usage_error "option $1 needs a value."; fi
                set_option "$1" "$2"
                shift ;;
            --tag=* | --name=* | --base=* | --mirror=* | --ca-bundle=*)
                [[ -n ${1#*=} ]] || usage_error "option ${1%%=*} needs a value."
                set_option "${1%%=*}" "${1#*=}" ;;
            *) usage_error "unknown option '$1'." ;;
        esac
        shift
    done
    if ((bootstrap)) && [[ -n $base ]]; then
        usage_error "--base and --bootstrap (or --rebuild-base) both choose the base image; give only one."
    fi
    # Checked now rather than by docker after minutes of work.
    [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
        usage_error "'$tag' is not a valid image tag (letters, digits, '_', '.', '-'; at most 128)."
    [[ -z $name || $name =~ ^([A-Za-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._/-]+[a-z0-9]+)*$ ]] ||
        usage_error "'$name' is not a valid image name (lowercase path such as my-org/runtime, optionally after a registry host; give the tag with -t)."
}

set_option() {
    case $1 in
        -t | --tag) tag=$2 ;;
        -n | --name) name=$2 ;;
        --base) base=$2 ;;
        --mirror) mirror=$2 ;;
        --ca-bundle) ca_bundle=$2 ;;
    esac
}

# Chooses the CA bundle: explicit (flag or env), "none", or the host's default.
resolve_ca_bundle() {
    if [[ $ca_bundle == none ]]; then
        ca_bundle=""
    elif [[ -n $ca_bundle ]]; then
        [[ -f $ca_bundle && -r $ca_bundle ]] ||
            die "the CA bundle '$ca_bundle' (from --ca-bundle or MGEXEC_CA_BUNDLE) is not a readable file. Give the path of a PEM bundle that verifies the package registries (usually your system's, e.g. $HOST_CA), or 'none' to build without one."
        grep -q 'BEGIN CERTIFICATE' "$ca_bundle" ||
            die "the CA bundle '$ca_bundle' holds no PEM certificate ('-----BEGIN CERTIFICATE-----' blocks). Give a PEM bundle, or 'none' to build without one."
    elif [[ -r $HOST_CA ]]; then
        ca_bundle=$HOST_CA
    fi
}

check_docker() {
    command -v "$DOCKER" >/dev/null 2>&1 ||
        die "the container CLI '$DOCKER' was not found. Install Docker (Debian/Ubuntu: apt-get install docker.io; elsewhere see https://docs.docker.com/engine/install/) or Podman, or set MGEXEC_DOCKER to the CLI to use (for example MGEXEC_DOCKER=podman or a full path)."
    local err
    if ! err=$(with_timeout 60 "$DOCKER" info 2>&1 >/dev/null); then
        err=$(printf '%s' "$err" | grep -v '^ *$' | tail -n 1)
        err=${err:-no answer within 60 s}
        if [[ $err == *"ermission denied"* ]]; then
            die "'$DOCKER' cannot talk to the container engine: permission denied ($err). Run as root, add your user to the docker group (sudo usermod -aG docker \$USER, then log in again), or point DOCKER_HOST at an engine you may use."
        fi
        die "'$DOCKER' cannot reach the container engine${DOCKER_HOST:+ at DOCKER_HOST=$DOCKER_HOST} ($err). Start the daemon (systemctl start docker, or run dockerd in the background as root), or set DOCKER_HOST (or 'docker context use') to a running engine, then run build.sh again."
    fi
}

with_timeout() {
    local seconds=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        timeout "$seconds" "$@"
    else
        "$@"
    fi
}

# Picks the builder that works here: BuildKit needs the buildx plugin; without
# it (engine 20.10 with a bare CLI) the classic builder does the same job.
build_flags=()
choose_builder() {
    if "$DOCKER" --version 2>/dev/null | grep -qi podman; then
        say "builder: podman"
    elif "$DOCKER" buildx version >/dev/null 2>&1; then
        export DOCKER_BUILDKIT=1
        build_flags+=(--progress=plain)
        say "builder: BuildKit"
    else
        export DOCKER_BUILDKIT=0
        say "builder: classic (install the buildx plugin to use BuildKit)"
    fi
}

image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

image_label() {
    "$DOCKER" image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true
}

# Temporary directories, removed on exit. A failed debootstrap can leave proc
# and sys mounted inside its target: unmount before deleting, and never cross
# into another file system.
temp_dirs=()
context_dir=""
cleanup() {
    local dir mount
    for dir in ${temp_dirs[@]+"${temp_dirs[@]}"}; do
        if [[ ! -r /proc/mounts ]]; then
            rm -rf "$dir" # not Linux: no debootstrap, no mounts
            continue
        fi
        while read -r mount; do
            umount -l "$mount" 2>/dev/null || true
        done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
        rm -rf --one-file-system "$dir"
    done
}
trap cleanup EXIT

# make_temp_dir VAR PURPOSE [PARENT]: sets VAR; not run in $(...), where the
# list of directories to clean up would be lost with the subshell.
make_temp_dir() {
    local dir
    dir=$(mktemp -d "${3:-${TMPDIR:-/tmp}}/mgexec-$2.XXXXXX")
    temp_dirs+=("$dir")
    printf -v "$1" '%s' "$dir"
}

# Reads one setting of this host's apt configuration (empty when unset).
host_apt_setting() {
    command -v apt-config >/dev/null 2>&1 || return 0
    apt-config shell value "$1" 2>/dev/null | sed -n "s/^value='\(.*\)'\$/\1/p"
}

# Prints "URI SUITE" for every deb source of this host's apt, one-line and
# deb822 formats alike.
host_apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        awk '$1 == "deb" { sub(/\[[^]]*\]/, ""); print $2, $3 }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
        {
            types = ""; uris = ""; suites = ""; enabled = "yes"
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^[ \t]*#/ || index($i, ":") == 0) continue
                key = tolower(substr($i, 1, index($i, ":") - 1))
                val = substr($i, index($i, ":") + 1)
                gsub(/^[ \t]+|[ \t]+$/, "", val)
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "enabled") enabled = tolower(val)
            }
            if (enabled == "no" || (" " types " ") !~ /[ \t]deb[ \t]/) next
            n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
            for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a], s[b]
        }' "$f"
    done
}

host_mirror_for() {
    host_apt_sources | awk -v s="$1" '$2 == s { sub(/\/+$/, "", $1); print $1; exit }'
}

# The host's apt proxies (if any) serve the builds too, unless the
# environment already names one.
adopt_apt_proxies() {
    local scheme var value
    for scheme in http https; do
        var=${scheme}_proxy
        [[ -z ${!var:-} ]] || continue
        value=$(host_apt_setting "Acquire::$scheme::Proxy")
        if [[ $value == *://* ]]; then
            export "$var=$value"
            say "using the $scheme proxy of this host's apt configuration"
        fi
    done
}

# Uses the mirror this host's apt uses (the default one may be unreachable
# from here), falling back to deb.debian.org.
security_mirror=""
resolve_mirrors() {
    local host_main
    host_main=$(host_mirror_for "$SUITE")
    mirror=${mirror:-${host_main:-http://deb.debian.org/debian}}
    mirror=${mirror%/}
    security_mirror=$(host_mirror_for "$SUITE-security")
    if [[ -z $security_mirror && $mirror == */debian ]]; then
        security_mirror=$mirror-security
    fi
}

write_base_apt_config() {
    local rootfs=$1
    {
        printf 'deb %s %s main\n' "$mirror" "$SUITE" "$mirror" "$SUITE-updates"
        if [[ -n $security_mirror ]]; then
            printf 'deb %s %s main\n' "$security_mirror" "$SUITE-security"
        fi
    } >"$rootfs/etc/apt/sources.list"
    # Snapshot mirrors serve Release files past their Valid-Until date; a host
    # that accepts them says so in its apt configuration.
    if [[ $(host_apt_setting Acquire::Check-Valid-Until) =~ ^(false|no|0)$ ]]; then
        printf 'Acquire::Check-Valid-Until "false";\n' >"$rootfs/etc/apt/apt.conf.d/10mgexec-valid-until"
    fi
}

# debootstrap leaves the host's resolver, hostname and package cache behind;
# the engine provides the first two at run time and the cache is dead weight.
# Like Debian's own -slim images (python:3.11-slim is one), packages installed
# later skip documentation, man pages and translations (over 100 MB in the
# runtime image); copyright files stay.
scrub_rootfs() {
    local rootfs=$1 dir
    # Deletes below: make sure they can only ever touch the new root.
    [[ $rootfs == /?*/rootfs && -d $rootfs/etc/dpkg ]] || die "internal error: '$rootfs' is not a debootstrapped root file system."
    : >"$rootfs/etc/resolv.conf"
    printf 'localhost\n' >"$rootfs/etc/hostname"
    if [[ -e $rootfs/etc/machine-id ]]; then : >"$rootfs/etc/machine-id"; fi
    find "$rootfs/var/cache/apt" "$rootfs/var/lib/apt/lists" -type f -delete
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/groff/*' \
        'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
        >"$rootfs/etc/dpkg/dpkg.cfg.d/mgexec-slim"
    find "$rootfs/usr/share/doc" ! -type d ! -name copyright -delete
    for dir in man info groff locale lintian; do
        if [[ -d $rootfs/usr/share/$dir ]]; then
            find "$rootfs/usr/share/$dir" -mindepth 1 -delete
        fi
    done
}

import_rootfs() {
    local rootfs=$1 when
    when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
        "$DOCKER" import \
            --change "LABEL io.mgexec.image=debian-base" \
            --change "LABEL io.mgexec.debootstrap.suite=$SUITE" \
            --change "LABEL io.mgexec.debootstrap.date=$when" \
            --change "LABEL io.mgexec.debootstrap.mirror=$mirror" \
            --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
            --change "ENV LANG=C.UTF-8" \
            --change 'CMD ["bash"]' \
            - "$BOOTSTRAP_IMAGE" >/dev/null
}

check_bootstrap_tools() {
    [[ $(id -u) == 0 ]] ||
        die "--bootstrap creates the base image with debootstrap, which must run as root. Run build.sh --bootstrap as root (for example with sudo), or build on an image you can pull with --base IMAGE."
    command -v debootstrap >/dev/null 2>&1 ||
        die "--bootstrap creates the base image with debootstrap, which is not installed. Install it (Debian/Ubuntu: apt-get install debootstrap), or build on an image you can pull with --base IMAGE (default $DEFAULT_BASE)."
}

# Creates the Debian base image with debootstrap + import, unless one exists.
ensure_bootstrap_base() {
    if image_exists "$BOOTSTRAP_IMAGE" && ((rebuild_base == 0)); then
        say "reusing base image $BOOTSTRAP_IMAGE ($SUITE from $(image_label "$BOOTSTRAP_IMAGE" io.mgexec.debootstrap.mirror), made $(image_label "$BOOTSTRAP_IMAGE" io.mgexec.debootstrap.date)); --rebuild-base makes a new one"
        return 0
    fi
    check_bootstrap_tools
    resolve_mirrors
    local work rootfs old_id started=$SECONDS
    # Not /tmp: debootstrap executes programs inside the target, and /tmp is
    # often mounted noexec.
    make_temp_dir work bootstrap "${MGEXEC_BOOTSTRAP_TMPDIR:-/var/tmp}"
    rootfs=$work/rootfs
    say "debootstrap --variant=minbase $SUITE from $mirror (about a minute)"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" ||
        die "debootstrap of Debian $SUITE from $mirror failed (see its output above). Check that the mirror is reachable from this host, or choose another with --mirror URL (or MGEXEC_DEBIAN_MIRROR)."
    write_base_apt_config "$rootfs"
    scrub_rootfs "$rootfs"
    say "importing the root file system as $BOOTSTRAP_IMAGE"
    old_id=$(image_id "$BOOTSTRAP_IMAGE")
    import_rootfs "$rootfs" || die "importing the debootstrapped file system into the engine as $BOOTSTRAP_IMAGE failed (see the error above)."
    remove_replaced "$old_id" "$(image_id "$BOOTSTRAP_IMAGE")"
    say "created $BOOTSTRAP_IMAGE in $((SECONDS - started)) s"
}

# The build context holds only what the Dockerfiles copy: the anchor file that
# keeps their optional COPY valid, and the CA bundle when there is one.
make_context() {
    local ctx
    make_temp_dir ctx context
    cp -p "$HERE/__init__.py" "$ctx/__init__.py"
    if [[ -n $ca_bundle ]]; then
        cp "$ca_bundle" "$ctx/mgexec-build-ca.crt"
        # The layer cache compares timestamps too: keep the bundle's own.
        touch -r "$ca_bundle" "$ctx/mgexec-build-ca.crt"
    fi
    context_dir=$ctx
}

# build_image IMAGE DOCKERFILE [docker build args...]
build_image() {
    local image=$1 dockerfile=$2 var old_id new_id started=$SECONDS
    shift 2
    # ${a[@]+...}: empty arrays under set -u, for the bash 3.2 of macOS.
    local args=(build --network host -f "$dockerfile" -t "$image" ${build_flags[@]+"${build_flags[@]}"})
    if ((no_cache)); then args+=(--no-cache); fi
    # Proxy variables are predefined build args: passed by name so their values
    # (which may hold credentials) stay out of argv and out of the image.
    for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        if [[ -n ${!var:-} ]]; then args+=(--build-arg "$var"); fi
    done
    make_context
    old_id=$(image_id "$image")
    say "building $image from $(basename "$dockerfile") ${ca_bundle:+(CA bundle $ca_bundle)}"
    "$DOCKER" "${args[@]}" "$@" "$context_dir" ||
        die "building $image failed (see the build output above). Network errors: check that the package registries are reachable from this host, and behind a TLS-intercepting proxy pass its CA bundle with --ca-bundle FILE."
    new_id=$(image_id "$image")
    say "built $image in $((SECONDS - started)) s ($("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
    remove_replaced "$old_id" "$new_id"
}

image_id() { "$DOCKER" image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# A rebuild moves the tag and leaves the old image dangling (about 1 GB each
# time). Remove it unless something still uses it: containers, child images or
# other tags make the removal fail, which is fine.
remove_replaced() {
    local old_id=$1 new_id=$2
    if [[ -n $old_id && $old_id != "$new_id" ]] && "$DOCKER" image rm "$old_id" >/dev/null 2>&1; then
        local short=${old_id#sha256:}
        say "removed the image it replaces (${short:0:12})"
    fi
}

# Makes sure the runtime's base image is present: bootstrapped, local, or pulled.
ensure_base() {
    if ((bootstrap)); then
        ensure_bootstrap_base
        base=$BOOTSTRAP_IMAGE
        return
    fi
    base=${base:-$DEFAULT_BASE}
    image_exists "$base" && return
    say "pulling $base"
    "$DOCKER" pull "$base" ||
        die "the base image '$base' is neither present locally nor pullable (see the error above). On a machine that reaches no container registry, run build.sh --bootstrap to create a Debian base locally with debootstrap, or pass --base with an image you have."
}

build_runtime() {
    ensure_base
    build_image "$1" "$HERE/Dockerfile" --build-arg "BASE=$base" --label "io.mgexec.base=$base"
}

main() {
    parse_args "$@"
    resolve_ca_bundle
    check_docker
    adopt_apt_proxies
    choose_builder
    local runtime=$RUNTIME_NAME:$tag
    if ((sudo_variant)); then
        if ! image_exists "$runtime" || ((rebuild_base)); then
            build_runtime "$runtime"
        else
            say "using runtime image $runtime (run build.sh without --sudo to rebuild it)"
        fi
        build_image "${name:-$SUDO_NAME}:$tag" "$HERE/Dockerfile.sudo" --build-arg "RUNTIME_IMAGE=$runtime"
    else
        build_runtime "${name:-$RUNTIME_NAME}:$tag"
    fi
}

main "$@"
