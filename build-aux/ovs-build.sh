#!/bin/sh
# Unpacks, configures and builds the parts of Open vSwitch that
# ovs-vswitchd-ssh-tap links against and that the tests run (ovsdb-server,
# ovsdb-tool, ovs-vsctl, ovs-appctl, ovs-ofctl), in a cache directory outside
# the source tree keyed by the source's version and a hash of its content,
# so a rebuild is fast.
#
# The source is what Debian's openvswitch-source ships: a tarball
# (/usr/src/openvswitch/openvswitch.tar.gz, Debian 12) or the unpacked tree
# (/usr/src/openvswitch/, Debian 13).  The tree is copied, never built in
# place.
#
# usage: ovs-build.sh [TARBALL|DIR [CACHE_DIR]]
# Prints the path of the built tree on stdout as its last line.
set -e

default_source() {
    if [ -r /usr/src/openvswitch/openvswitch.tar.gz ]; then
        echo /usr/src/openvswitch/openvswitch.tar.gz
    else
        echo /usr/src/openvswitch
    fi
}

source=${1:-${OVS_TARBALL:-$(default_source)}}
cache=${2:-${OVS_SSH_TAP_CACHE:-/var/cache/ovs-ssh-tap}}

if [ -d "$source" ]; then
    kind=tree
    if [ ! -x "$source/configure" ]; then
        echo "ovs-build: $source/configure not found: not an Open vSwitch" \
             "source tree (distribution tree with configure)" >&2
        exit 1
    fi
elif [ -r "$source" ]; then
    kind=tarball
else
    echo "ovs-build: $source not found; install it with" >&2
    echo "  apt-get install openvswitch-source" >&2
    exit 1
fi

# Configured with Debian's directories, so that the binary built from it is
# a drop-in for Debian's ovs-vswitchd: /var/run/openvswitch, /etc/openvswitch.
config_flags="--prefix=/usr --localstatedir=/var --sysconfdir=/etc \
  --enable-silent-rules --disable-dependency-tracking"

# Key the cache by the source's content and the flags, so that a new
# openvswitch-source (even a Debian revision with the same upstream version)
# gets its own tree.  A tarball is hashed as a file (the key of the caches
# made before trees were supported); a tree by its files' names, modes and
# contents, in a fixed order, so that the same tree always gives the same key.
tree_digest() {
    (
        cd "$1"
        LC_ALL=C find . \( -type f -o -type l \) -printf '%y %m %p %l\n' \
            | LC_ALL=C sort
        LC_ALL=C find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    )
}
if [ "$kind" = tarball ]; then
    sum=$( (sha256sum <"$source"; echo "$config_flags") | sha256sum | cut -c1-12)
    version=$(tar -xzOf "$source" openvswitch/configure 2>/dev/null \
              | sed -n "s/^PACKAGE_VERSION='\(.*\)'/\1/p")
else
    sum=$( (tree_digest "$source"; echo "$config_flags") | sha256sum | cut -c1-12)
    version=$(sed -n "s/^PACKAGE_VERSION='\(.*\)'/\1/p" "$source/configure")
fi
[ -n "$version" ] || version=unknown
dir=$cache/openvswitch-$version-$sum
stamp=$dir/.ssh-tap-built

targets="vswitchd/ovs-vswitchd ovsdb/ovsdb-server ovsdb/ovsdb-tool \
         ovsdb/ovsdb-client utilities/ovs-vsctl utilities/ovs-appctl \
         utilities/ovs-ofctl vswitchd/vswitch.ovsschema"

if [ -f "$stamp" ]; then
    echo "ovs-build: using cached $dir" >&2
    echo "$dir"
    exit 0
fi

mkdir -p "$cache"
# One build at a time per cache: a second caller waits, then finds the tree.
exec 9>"$cache/.lock"
flock 9
if [ -f "$stamp" ]; then
    echo "$dir"
    exit 0
fi

echo "ovs-build: building Open vSwitch $version in $dir" >&2
start=$(date +%s)
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp"
if [ "$kind" = tarball ]; then
    tar -xzf "$source" -C "$dir.tmp" --strip-components=1 --no-same-owner
else
    # Timestamps kept, so that make does not think the generated files
    # (configure, Makefile.in) older than their sources and regenerate them.
    cp -pR "$source"/. "$dir.tmp"/
fi
(
    cd "$dir.tmp"
    # shellcheck disable=SC2086
    ./configure $config_flags >configure.log 2>&1 || { tail -50 configure.log >&2; exit 1; }
    jobs=$(nproc 2>/dev/null || echo 2)
    # Building single targets skips BUILT_SOURCES (generated headers such
    # as odp-netlink.h), so generate those first.
    built=$(printf 'ssh-tap-print-built:\n\t@echo $(BUILT_SOURCES)\n' \
            | make -s -f Makefile -f - ssh-tap-print-built)
    # shellcheck disable=SC2086
    make -j"$jobs" $built >make.log 2>&1 || { tail -50 make.log >&2; exit 1; }
    # shellcheck disable=SC2086
    make -j"$jobs" $targets >make.log 2>&1 || { tail -50 make.log >&2; exit 1; }
)
# Build under a temporary name and move into place only when complete, so
# that an interrupted build is never mistaken for a cached one.  Our build
# uses the static archives (.libs/*.a) and objects directly, so the paths
# that libtool recorded in the tree do not matter.
mv "$dir.tmp" "$dir"
touch "$stamp"
echo "ovs-build: built in $(($(date +%s) - start))s" >&2
echo "$dir"
