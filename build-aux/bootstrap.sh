#!/bin/sh
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# Gets a fresh Debian 12 or 13 machine, as root, from a clone of this tree
# to a build: installs the Debian packages that are missing, generates and
# runs configure (which builds Open vSwitch from Debian's openvswitch-source
# into a cache outside the tree, once per version), then runs make.  Safe
# to run again: each step is skipped when already done.
set -e

cd "$(dirname "$0")/.."

# The packages, in this one place.  "a|b" is a name that differs between
# releases: the first one installed, else the first one apt can install,
# is taken.
# Build: compiler, autotools, the libraries, OVS's own build needs.
# Tests and demo: sshd, namespaces, traffic tools, the fuzzer and ASan
# runtime of the default clang (libclang-rt-dev is the unversioned name on
# both releases; the versioned one is the fallback), the packaging test
# (dpkg-buildpackage, lintian), the firewall and certificate tools that
# tests use, and jq for make bench.
packages="build-essential autoconf automake libtool pkg-config
  libssh-dev libjansson-dev openvswitch-source libssl-dev libcap-ng-dev
  libunbound-dev python3 git
  openssh-server openssh-client iproute2 iputils-ping iputils-arping
  ethtool tcpdump netcat-openbsd iperf3 procps psmisc coreutils iptables
  nftables openssl busybox
  clang libclang-rt-dev|libclang-rt-@CLANG@-dev
  dpkg-dev debhelper lintian jq"

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# can_install NAME: apt has a candidate version of NAME.
can_install() {
    apt-cache policy "$1" 2>/dev/null | grep -q '^  Candidate: [^(]'
}

# The major version of the default clang, for versioned names.
clang_major() {
    { clang --version 2>/dev/null | sed -n 's/.*clang version \([0-9]*\).*/\1/p'
      apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9]*\)$/\1/p'
    } | head -n 1
}

# resolve: prints the missing packages, one alternative chosen for each;
# fails if some has no alternative apt can install.
resolve() {
    local p alt alts chosen ok=0 major
    major=$(clang_major)
    for p in $packages; do
        alts=$(echo "$p" | sed "s/@CLANG@/${major:-NONE}/g" | tr '|' ' ')
        chosen=
        for alt in $alts; do
            if installed "$alt"; then chosen=-; break; fi
        done
        if [ -z "$chosen" ]; then
            for alt in $alts; do
                if can_install "$alt"; then chosen=$alt; break; fi
            done
        fi
        if [ -z "$chosen" ]; then
            echo "bootstrap: apt has none of: $alts" >&2
            ok=1
        elif [ "$chosen" != - ]; then
            echo "$chosen"
        fi
    done
    return $ok
}

updated=0
if ! missing=$(resolve 2>/dev/null); then
    # A fresh machine may have no package lists yet.
    if [ "$(id -u)" = 0 ]; then
        apt-get update -q
        updated=1
    fi
    missing=$(resolve) || exit 1
fi
missing=$(echo $missing)
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap: missing packages: $missing; run as root" >&2
        exit 1
    fi
    echo "bootstrap: installing $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    [ "$updated" = 1 ] || apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc 2>/dev/null || echo 2)"
