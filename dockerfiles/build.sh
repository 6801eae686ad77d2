#!/usr/bin/env bash
# Builds mgexec's runtime images (massgen/mcp-runtime, massgen/mcp-runtime-sudo)
# and users' own images on top of them (--file).
# Lives beside the Dockerfiles so it ships with the package; `mgexec build` runs it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOCKER=${MGEXEC_DOCKER:-docker}
RUNTIME_NAME=massgen/mcp-runtime
SUDO_NAME=massgen/mcp-runtime-sudo
# The names MassGen's own docker mode looks for (it pulls them from ghcr.io when they are missing).
MASSGEN_PREFIX=ghcr.io/
DEFAULT_BASE=python:3.11-slim
SUITE=bookworm
BOOTSTRAP_IMAGE=mgexec/debian-$SUITE:latest
HOST_CA=/etc/ssl/certs/ca-certificates.crt

usage() {
    cat <<EOF
Usage: build.sh [options]
       build.sh --file DOCKERFILE -n NAME [-t TAG] [options]

Builds the runtime image $RUNTIME_NAME:latest (or, with --sudo, the
variant $SUDO_NAME:latest that lets the agent use sudo), or with
--file your own image on top of it.

Options:
  --sudo              build the sudo variant FROM $RUNTIME_NAME:TAG; builds
                      that runtime image first when it is missing
  -f, --file DOCKERFILE
                      build your own Dockerfile as NAME:TAG (-n is required);
                      the build context is the Dockerfile's folder. The
                      runtime image it starts FROM ($RUNTIME_NAME or
                      $SUDO_NAME, any tag) is built first when
                      missing, with --bootstrap or --base as given
  -n, --name NAME     image name (default $RUNTIME_NAME, or
                      $SUDO_NAME with --sudo; required with --file)
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
  --massgen-names     also tag the image under the name MassGen's own docker
                      mode uses (${MASSGEN_PREFIX}$RUNTIME_NAME or
                      ${MASSGEN_PREFIX}$SUDO_NAME, same tag), so MassGen finds it
                      on a machine that reaches no registry
  -h, --help          show this help

Why the host's CA bundle by default: behind a corporate proxy the build only
works with the bundle the host trusts, and on any other network that bundle
holds the usual public roots, so using it costs nothing. Only the build's apt
and pip steps use it; the image's environment does not point at it and it is
removed from the image's file system (public certificates, left in one build
layer), so containers verify TLS as usual wherever they run.

Your own image: start it FROM $RUNTIME_NAME:latest, keep the user massgen,
/workspace, /context, /temp_workspaces and a long-running CMD, and build it with
  build.sh --file dockerfiles/Dockerfile.custom-example -n my-org/mcp-runtime-custom -t latest
With a CA bundle, the Dockerfile's folder is copied into a temporary build
context that also holds the bundle as mgexec-build-ca.crt (so keep that folder
small). The step
  COPY __init__.py mgexec-build-ca.cr[t] /tmp/mgexec-build/
hands it to the RUN steps (__init__.py stands for any file that is always in
the folder: COPY needs one match); the same Dockerfile still builds with plain
docker build where no proxy is in the way. Dockerfile.custom-example shows how
its pip and npm steps use the bundle and how it is removed at the end.

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

massgen_names=0 sudo_variant=0 name="" tag=latest base="" bootstrap=0 rebuild_base=0 no_cache=0 dockerfile=""
mirror=${MGEXEC_DEBIAN_MIRROR:-}
ca_bundle=${MGEXEC_CA_BUNDLE:-}

parse_args() {
    while (($#)); do
        case $1 in
            --sudo) sudo_variant=1 ;;
            --bootstrap) bootstrap=1 ;;
            --rebuild-base) bootstrap=1 rebuild_base=1 ;;
            --no-cache) no_cache=1 ;;
            --massgen-names) massgen_names=1 ;;
            -h | --help) usage; exit 0 ;;
            -t | --tag | -n | --name | --base | --mirror | --ca-bundle | -f | --file)
                if (($# < 2)) || [[ -z $2 ]]; then usage_error "option $1 needs a value."; fi
                set_option "$1" "$2"
                shift ;;
            --tag=* | --name=* | --base=* | --mirror=* | --ca-bundle=* | --file=*)
                [[ -n ${1#*=} ]] || usage_error "option ${1%%=*} needs a value."
                set_option "${1%%=*}" "${1#*=}" ;;
            *) usage_error "unknown option '$1'." ;;
        esac
        shift
    done
    if ((bootstrap)) && [[ -n $base ]]; then
        usage_error "--base and --bootstrap (or --rebuild-base) both choose the base image; give only one."
    fi
    if [[ -n $dockerfile ]]; then check_file_options; fi
    if ((massgen_names)) && [[ -n $dockerfile || ( -n $name && $name != "$RUNTIME_NAME" && $name != "$SUDO_NAME" ) ]]; then
        usage_error "--massgen-names tags the runtime images $RUNTIME_NAME and $SUDO_NAME under MassGen's names; it does not apply to --file or -n NAME."
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
        -f | --file) dockerfile=$2 ;;
    esac
}

check_file_options() {
    if ((sudo_variant)); then
        usage_error "--sudo and --file both say what to build; give only one. For your own image with sudo, start your Dockerfile FROM $SUDO_NAME:latest and build it with --file."
    fi
    [[ -n $name ]] ||
        usage_error "--file needs -n NAME, the name of the image it builds (for example -n my-org/mcp-runtime-custom; the tag is -t, default latest)."
    if [[ $name == "$RUNTIME_NAME" || $name == "$SUDO_NAME" ]]; then
        usage_error "-n $name with --file would replace the runtime image your Dockerfile builds on; give your image a name of its own (for example -n my-org/mcp-runtime-custom) and set command_line_docker_image to it."
    fi
}

# Makes --file an absolute path (the build runs elsewhere) after checking it.
resolve_dockerfile() {
    [[ -n $dockerfile ]] || return 0
    if [[ -d $dockerfile ]]; then
        die "--file '$dockerfile' is a folder; give the Dockerfile itself (for example $dockerfile/Dockerfile). Its folder becomes the build context."
    fi
    [[ -f $dockerfile && -r $dockerfile ]] ||
        die "the Dockerfile '$dockerfile' (from --file) is not a readable file. Give the path of your Dockerfile, for example dockerfiles/Dockerfile.custom-example (relative paths start from the current folder, $PWD)."
    dockerfile=$(cd "$(dirname "$dockerfile")" && pwd -P)/$(basename "$dockerfile")
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
        # Otherwise a failed step leaves its container and image behind.
        build_flags+=(--force-rm)
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
# keeps their optional COPY valid, and the CA bundle when there is one. A
# user's Dockerfile gets a copy of its folder instead of the anchor, or the
# folder itself when there is no bundle to add.
# make_context [SOURCE_DIR]
make_context() {
    local source=${1:-} ctx
    if [[ -n $source && -z $ca_bundle ]]; then
        context_dir=$source
        return
    fi
    make_temp_dir ctx context
    if [[ -z $source ]]; then
        cp -p "$HERE/__init__.py" "$ctx/__init__.py"
    else
        copy_user_context "$source" "$ctx" "$(basename "$dockerfile")"
    fi
    if [[ -n $ca_bundle ]]; then
        # A copy, never the user's own file: replace rather than write through.
        rm -f "$ctx/mgexec-build-ca.crt"
        cp "$ca_bundle" "$ctx/mgexec-build-ca.crt"
        # The layer cache compares timestamps too: keep the bundle's own.
        touch -r "$ca_bundle" "$ctx/mgexec-build-ca.crt"
    fi
    context_dir=$ctx
}

# copy_user_context SOURCE CTX DOCKERFILE_NAME
copy_user_context() {
    local source=$1 ctx=$2 real ignore
    real=$(cd "$ctx" && pwd -P)
    # Copying a folder into a folder inside it would never end.
    case $real/ in
        "${source%/}"/*)
            die "the Dockerfile's folder $source holds build.sh's temporary folder $real, so it cannot be copied there as the build context. Move the Dockerfile into a folder of its own, or point TMPDIR elsewhere." ;;
    esac
    say "copying the build context $source to add the CA bundle"
    cp -a "$source/." "$ctx/" ||
        die "copying the build context $source into $ctx failed (see the error above). Make every file in that folder readable, or build without a CA bundle (--ca-bundle none), which uses the folder directly."
    # An ignore file that leaves out everything but a few paths would leave
    # out the bundle too; the last matching rule wins.
    for ignore in "$ctx/.dockerignore" "$ctx/$3.dockerignore"; do
        if [[ -f $ignore ]]; then printf '\n!mgexec-build-ca.crt\n' >>"$ignore"; fi
    done
}

# build_image IMAGE DOCKERFILE CONTEXT_SOURCE [docker build args...]; an empty
# CONTEXT_SOURCE means the packaged Dockerfiles' own context.
build_image() {
    local image=$1 dockerfile=$2 source=$3 var old_id new_id started=$SECONDS hint=""
    shift 3
    # ${a[@]+...}: empty arrays under set -u, for the bash 3.2 of macOS.
    local args=(build --network host -t "$image" ${build_flags[@]+"${build_flags[@]}"})
    if ((no_cache)); then args+=(--no-cache); fi
    # Proxy variables are predefined build args: passed by name so their values
    # (which may hold credentials) stay out of argv and out of the image.
    for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        if [[ -n ${!var:-} ]]; then args+=(--build-arg "$var"); fi
    done
    make_context "$source"
    # In a copied context, the copy's Dockerfile finds the copy's ignore files.
    if [[ -n $source && $context_dir != "$source" ]]; then dockerfile=$context_dir/$(basename "$dockerfile"); fi
    args+=(-f "$dockerfile")
    old_id=$(image_id "$image")
    say "building $image from $(basename "$dockerfile") ${ca_bundle:+(CA bundle $ca_bundle)}"
    if [[ -n $source ]]; then
        hint=" Files that COPY or ADD cannot find: the build context is the Dockerfile's folder $source, and their paths are relative to it."
    fi
    "$DOCKER" "${args[@]}" "$@" "$context_dir" ||
        die "building $image failed (see the build output above). Network errors: check that the package registries are reachable from this host, and behind a TLS-intercepting proxy pass its CA bundle with --ca-bundle FILE (the RUN steps of your own Dockerfile must use it, see Dockerfile.custom-example).$hint"
    new_id=$(image_id "$image")
    built_images+="$image "
    say "built $image in $((SECONDS - started)) s ($("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
    remove_replaced "$old_id" "$new_id"
}

image_id() { "$DOCKER" image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# Images built in this run, space-separated and padded for *" NAME:TAG "* tests.
built_images=" "

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
    build_image "$1" "$HERE/Dockerfile" "" --build-arg "BASE=$base" --label "io.mgexec.base=$base"
}

# rebuild_hint TAG [--sudo]: the command that rebuilds that runtime image.
rebuild_hint() {
    local tag_option=""
    if [[ $1 != latest ]]; then tag_option=" -t $1"; fi
    printf 'run build.sh%s%s to rebuild it' "${2:+ $2}" "$tag_option"
}

# ensure_runtime TAG: builds the runtime image first when it is missing (or
# --rebuild-base asks for a new one), once per run.
ensure_runtime() {
    local image=$RUNTIME_NAME:$1
    if [[ $built_images == *" $image "* ]]; then
        return 0
    elif ! image_exists "$image" || ((rebuild_base)); then
        build_runtime "$image"
    else
        say "using runtime image $image ($(rebuild_hint "$1"))"
    fi
}

# build_sudo IMAGE TAG: the sudo variant FROM the runtime image of TAG.
build_sudo() {
    ensure_runtime "$2"
    build_image "$1" "$HERE/Dockerfile.sudo" "" --build-arg "RUNTIME_IMAGE=$RUNTIME_NAME:$2"
}

# Prints the images a Dockerfile starts FROM, one a line, with the defaults of
# the ARGs before the first FROM filled in as docker does.
dockerfile_bases() {
    awk '
        function expand(s,   out, key) {
            out = ""
            while (match(s, /\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/)) {
                key = substr(s, RSTART + 1, RLENGTH - 1)
                gsub(/[{}]/, "", key)
                out = out substr(s, 1, RSTART - 1) args[key]
                s = substr(s, RSTART + RLENGTH)
            }
            return out s
        }
        toupper($1) == "ARG" && !from && index($2, "=") {
            value = substr($2, index($2, "=") + 1)
            gsub(/^["\047]|["\047]$/, "", value)
            args[substr($2, 1, index($2, "=") - 1)] = value
        }
        toupper($1) == "FROM" {
            from = 1
            for (i = 2; i < NF && $i ~ /^--/; i++) continue
            print expand($i)
        }' "$1" | sort -u
}

# The runtime images a user's Dockerfile starts FROM are built first when
# missing; anything else is docker's to find.
ensure_file_bases() {
    local image base_name base_tag
    while read -r image; do
        [[ $image =~ ^(docker\.io/)?($RUNTIME_NAME|$SUDO_NAME)(:([A-Za-z0-9_][A-Za-z0-9_.-]*))?$ ]] || continue
        base_name=${BASH_REMATCH[2]} base_tag=${BASH_REMATCH[4]:-latest}
        if [[ $base_name == "$RUNTIME_NAME" ]]; then
            ensure_runtime "$base_tag"
        elif [[ $built_images == *" $SUDO_NAME:$base_tag "* ]]; then
            continue
        elif image_exists "$SUDO_NAME:$base_tag" && ((rebuild_base == 0)); then
            say "using runtime image $SUDO_NAME:$base_tag ($(rebuild_hint "$base_tag" --sudo))"
        else
            build_sudo "$SUDO_NAME:$base_tag" "$base_tag"
        fi
    done < <(dockerfile_bases "$dockerfile")
}

build_custom() {
    ensure_file_bases
    build_image "$1" "$dockerfile" "$(dirname "$dockerfile")" --label io.mgexec.image=custom
}

main() {
    parse_args "$@"
    resolve_dockerfile
    resolve_ca_bundle
    check_docker
    adopt_apt_proxies
    choose_builder
    if [[ -n $dockerfile ]]; then
        build_custom "$name:$tag"
    elif ((sudo_variant)); then
        build_sudo "${name:-$SUDO_NAME}:$tag" "$tag"
        tag_for_massgen "$SUDO_NAME:$tag"
    else
        build_runtime "${name:-$RUNTIME_NAME}:$tag"
        tag_for_massgen "$RUNTIME_NAME:$tag"
    fi
}

# tag_for_massgen IMAGE: with --massgen-names, IMAGE also answers to MassGen's name for it.
tag_for_massgen() {
    ((massgen_names)) || return 0
    "$DOCKER" tag "$1" "$MASSGEN_PREFIX$1" ||
        die "tagging $1 as $MASSGEN_PREFIX$1 failed (see the error above)."
    say "tagged $1 as $MASSGEN_PREFIX$1 (MassGen's name for it)"
}

main "$@"
