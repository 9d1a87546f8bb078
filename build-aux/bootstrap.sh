#!/bin/sh
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# Gets a fresh Debian 12 machine, as root, from a clone of this tree to a
# build: installs the Debian packages that are missing, generates and runs
# configure (which builds Open vSwitch from Debian's openvswitch-source into
# a cache outside the tree, once per version), then runs make.  Safe to run
# again: each step is skipped when already done.
set -e

cd "$(dirname "$0")/.."

# Build: compiler, autotools, the libraries, OVS's own build needs.
# Tests and demo: sshd, namespaces, traffic tools.
packages="build-essential autoconf automake libtool pkg-config
  libssh-dev libjansson-dev openvswitch-source libssl-dev libcap-ng-dev
  libunbound-dev python3
  openssh-server openssh-client iproute2 iputils-ping iputils-arping
  ethtool tcpdump netcat-openbsd iperf3 procps psmisc coreutils iptables
  busybox clang libclang-rt-14-dev"

missing=
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: missing packages:$missing; run as root" >&2
        exit 1
    fi
    echo "bootstrap: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc 2>/dev/null || echo 2)"
