#!/bin/sh
# Unpacks, configures and builds the parts of Open vSwitch that
# ovs-vswitchd-ssh-tap links against and that the tests run (ovsdb-server,
# ovsdb-tool, ovs-vsctl, ovs-appctl, ovs-ofctl), in a cache directory outside
# the source tree keyed by the tarball's version, so a rebuild is fast.
#
# usage: ovs-build.sh [TARBALL [CACHE_DIR]]
# Prints the path of the built tree on stdout as its last line.
set -e

tarball=${1:-${OVS_TARBALL:-/usr/src/openvswitch/openvswitch.tar.gz}}
cache=${2:-${OVS_SSH_TAP_CACHE:-/var/cache/ovs-ssh-tap}}

if [ ! -r "$tarball" ]; then
    echo "ovs-build: $tarball not found; install it with" >&2
    echo "  apt-get install openvswitch-source" >&2
    exit 1
fi

# Configured with Debian's directories, so that the binary built from it is
# a drop-in for Debian's ovs-vswitchd: /var/run/openvswitch, /etc/openvswitch.
config_flags="--prefix=/usr --localstatedir=/var --sysconfdir=/etc \
  --enable-silent-rules --disable-dependency-tracking"

# Key the cache by the tarball's content and the flags, so that a new
# openvswitch-source (even a Debian revision with the same upstream version)
# gets its own tree.
sum=$( (sha256sum <"$tarball"; echo "$config_flags") | sha256sum | cut -c1-12)
version=$(tar -xzOf "$tarball" openvswitch/configure 2>/dev/null \
          | sed -n "s/^PACKAGE_VERSION='\(.*\)'/\1/p")
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
rm -rf "$dir" "$dir.tmp"
mkdir -p "$dir.tmp"
tar -xzf "$tarball" -C "$dir.tmp" --strip-components=1 --no-same-owner
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
echo "$dir"
