#!/bin/bash
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# CI for Debian 13 (trixie) from a Debian 12 machine: runs the README's
# commands, as a new user would, in a fresh Debian 13 root.
#
#   1. Builds a minimal Debian 13 root with mmdebstrap from Debian's archive
#      into a cache outside the clone, and rebuilds it once it is more than
#      a week old.  The cached root is never changed by a run.
#   2. Each run gets a throw-away overlay on top of it (what bootstrap.sh
#      installs, the Open vSwitch build, the tests' files all go there), and
#      mounts /proc, /sys, /dev, /dev/pts and a fresh /run (so that
#      "ip netns" has a /run/netns of its own) inside.  Only the downloaded
#      .debs (apt's own cache) and the Open vSwitch builds (bootstrap.sh's
#      cache, /var/cache/ovs-ssh-tap inside) are kept between runs.
#   3. Clones the commit checked out here (git clone: committed work only,
#      not the working tree) into /root/ovs-ssh-tap inside, and runs there,
#      as root: build-aux/bootstrap.sh && make check, then
#      CI=true make check-deb, then make demo.
#   4. On exit (trap) kills what is left running inside the root, unmounts
#      exactly what it mounted and removes the overlay.
#
# All of this happens in a private mount namespace (unshare), so none of
# these mounts is ever visible to, or propagated into, the host's.
#
# usage: build-aux/debian13-root.sh [--root-only] [STAGE...]
#   STAGE: bootstrap, check, check-deb, demo (default: the last three, in
#   that order), or bench (make bench, only when asked for; quiet machine)
#   --root-only   build or refresh the cached root, and stop
# environment:
#   OVS_SSH_TAP_ROOTS  cache directory (default /var/cache/ovs-ssh-tap/roots)
#   DEBIAN_MIRROR      default http://deb.debian.org/debian
#   ROOT_MAX_AGE_DAYS  rebuild the root when older (default 7)
#   MAKE_ARGS          extra arguments for make check (e.g. TESTS_ARGS=...)
#   BENCH_ARGS         extra arguments for make bench (e.g. QUICK=1)
#
# Prints "debian13: STAGE: PASS|FAIL (Ns)" per stage; exits non-zero if any
# stage failed.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOTS=${OVS_SSH_TAP_ROOTS:-/var/cache/ovs-ssh-tap/roots}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
MAX_AGE=${ROOT_MAX_AGE_DAYS:-7}
SUITE=trixie
# The cached root, and apt's cache of .debs shared by the runs.
BASE=$ROOTS/debian13-ci
APT_CACHE=$ROOTS/debian13-ci-apt
OVS_CACHE=$ROOTS/debian13-ci-ovs

log() { printf 'debian13: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    echo "$0: needs root (mmdebstrap, mounts, chroot)" >&2
    exit 2
fi

ROOT_ONLY=0
STAGES=()
for arg; do
    case $arg in
        --root-only) ROOT_ONLY=1 ;;
        bootstrap|check|check-deb|demo|bench) STAGES+=("$arg") ;;
        -h|--help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "$0: unknown argument $arg" >&2; exit 2 ;;
    esac
done
[ "${#STAGES[@]}" -gt 0 ] || STAGES=(check check-deb demo)

# Everything below runs in a mount namespace of its own.
if [ -z "${DEBIAN13_ROOT_NS:-}" ]; then
    exec unshare --mount --propagation private \
        env DEBIAN13_ROOT_NS=1 "$0" "$@"
fi

mkdir -p "$ROOTS" "$APT_CACHE/partial"

# The root is checked and rebuilt under an exclusive lock, then used under
# a shared one: runs go side by side, and a rebuild waits until none is
# using the old root.
exec 8>"$ROOTS/.debian13-ci.lock"
flock 8

# ---------------------------------------------------------------------------
# The cached root.

root_fresh() {
    [ -f "$BASE/.ssh-tap-root" ] \
        && [ -z "$(find "$BASE/.ssh-tap-root" -mtime +"$((MAX_AGE - 1))")" ]
}

build_root() {
    local t0=$SECONDS
    if ! command -v mmdebstrap >/dev/null; then
        log "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                   --no-install-recommends mmdebstrap >/dev/null
    fi
    log "building the Debian 13 root in $BASE (mmdebstrap, $MIRROR)"
    rm -rf "$BASE.tmp"
    # minbase: what every Debian machine has; bootstrap.sh must bring the
    # rest.  The .debs go through the shared apt cache so that a rebuild
    # does not download them again.
    mmdebstrap --variant=minbase --include=ca-certificates \
        --skip=download/empty \
        --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\" && cp -l $APT_CACHE/*.deb \"\$1/var/cache/apt/archives/\" 2>/dev/null || true" \
        --customize-hook="cp -n \"\$1\"/var/cache/apt/archives/*.deb $APT_CACHE/ 2>/dev/null || true" \
        --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
        "$SUITE" "$BASE.tmp" \
        "deb $MIRROR $SUITE main" \
        "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main"
    date -u +%FT%TZ >"$BASE.tmp/.ssh-tap-root"
    rm -rf "$BASE"
    mv "$BASE.tmp" "$BASE"
    log "root built in $((SECONDS - t0))s"
    echo "debian13: root-build: $((SECONDS - t0))s"
}

if root_fresh; then
    log "using the cached root $BASE (built $(cat "$BASE/.ssh-tap-root"))"
else
    build_root
fi
[ "$ROOT_ONLY" = 0 ] || exit 0
flock -s 8

# ---------------------------------------------------------------------------
# The run: an overlay on the root, the mounts, the clone.

RUN=$(mktemp -d "$ROOTS/debian13-run.XXXXXX")
MNT=$RUN/root
MOUNTED=()      # what this script mounted, in order

# do_mount TARGET ARGS...: mounts and records TARGET for the cleanup.
do_mount() {
    local target=$1
    shift
    mount "$@" "$target"
    MOUNTED+=("$target")
}

# kill_inside: processes whose root is the run's root, by pid.
kill_inside() {
    local sig=$1 p found=1 root
    root=$(readlink -f "$MNT")
    found=
    for p in /proc/[0-9]*; do
        if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then
            kill "-$sig" "${p#/proc/}" 2>/dev/null && found=1
        fi
    done
    [ -n "$found" ]
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM HUP
    set +e
    if kill_inside TERM; then
        sleep 2
        kill_inside KILL && sleep 1
    fi
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        # Recursive: what the tests mounted below ours (ip netns's
        # /run/netns bind mounts) goes with it.
        umount -R "${MOUNTED[i]}" \
            || { log "umount ${MOUNTED[i]} failed; lazy"; umount -R -l "${MOUNTED[i]}"; }
    done
    if findmnt -rn -o TARGET | grep -q "^$RUN/"; then
        log "something is still mounted under $RUN; not removing it"
    else
        rm -rf "$RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$RUN/upper" "$RUN/work" "$MNT"
do_mount "$MNT" -t overlay overlay \
    -o "lowerdir=$BASE,upperdir=$RUN/upper,workdir=$RUN/work"
do_mount "$MNT/proc" -t proc proc
do_mount "$MNT/sys" -t sysfs sysfs
do_mount "$MNT/dev" --bind /dev
do_mount "$MNT/dev/pts" --bind /dev/pts
do_mount "$MNT/run" -t tmpfs -o mode=0755,nosuid,nodev tmpfs
do_mount "$MNT/var/cache/apt/archives" --bind "$APT_CACHE"
# The Open vSwitch build cache of bootstrap.sh (keyed by version and hash)
# is kept between runs too, like the host's.
mkdir -p "$OVS_CACHE" "$MNT/var/cache/ovs-ssh-tap"
do_mount "$MNT/var/cache/ovs-ssh-tap" --bind "$OVS_CACHE"
# Name resolution for apt: the host's, in the throw-away layer.
cp -L /etc/resolv.conf "$MNT/etc/resolv.conf"
# Debian's installer writes these; a container-built root lacks them.
[ -s "$MNT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$MNT/etc/hosts"
# Keep apt from deleting the shared cache after installing.
rm -f "$MNT/etc/apt/apt.conf.d/docker-clean"

COMMIT=$(git -C "$SRC" rev-parse HEAD)
git clone -q --no-checkout "$SRC" "$MNT/root/ovs-ssh-tap"
git -C "$MNT/root/ovs-ssh-tap" checkout -q "$COMMIT"
log "cloned $COMMIT into the root"

# in_root COMMAND: runs COMMAND in the clone inside the root, with a clean
# environment like a login shell's.
in_root() {
    chroot "$MNT" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
        SHELL=/bin/bash TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd /root/ovs-ssh-tap && $1"
}

FAILED=0
RESULTS=()
stage() {
    local name=$1 cmd=$2 t0=$SECONDS rc=0
    log "== $name: $cmd"
    in_root "$cmd" || rc=$?
    if [ "$rc" -eq 0 ]; then
        RESULTS+=("debian13: $name: PASS ($((SECONDS - t0))s)")
    else
        RESULTS+=("debian13: $name: FAIL, status $rc ($((SECONDS - t0))s)")
        FAILED=1
    fi
    echo "${RESULTS[-1]}"
    return "$rc"
}

for s in "${STAGES[@]}"; do
    case $s in
        bootstrap)
            stage bootstrap "build-aux/bootstrap.sh" || break
            ;;
        check)
            # The README's command, split to time the set-up on its own.
            stage bootstrap "build-aux/bootstrap.sh" || break
            stage check "build-aux/bootstrap.sh && make check ${MAKE_ARGS:-}" || true
            ;;
        check-deb)
            stage bootstrap "build-aux/bootstrap.sh" || break
            stage check-deb "CI=true make check-deb" || true
            ;;
        demo)
            stage demo "build-aux/bootstrap.sh && make demo" || true
            ;;
        bench)
            stage bench "build-aux/bootstrap.sh && make bench ${BENCH_ARGS:-}" || true
            ;;
    esac
done
printf '%s\n' "${RESULTS[@]}"
exit "$FAILED"
