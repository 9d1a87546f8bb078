#!/bin/bash
# The kernel's software segmentation and checksum completion against ours
# (plugin/ssh-tap-gso.c), byte for byte:
#
#   tests/gso-kernel --(AF_PACKET, vnet header)--> v0 ==veth==> v1 --> capture
#                    (TSO and TX checksum off: the kernel segments and
#                     checksums in software, validate_xmit_skb)
#
# For each frame (IPv4 and IPv6, VLAN and QinQ, IP and TCP options, odd
# lengths, one segment, 64 KB, checksums that come out 0, TCP and UDP
# checksum completion), the frames that come out of v1 must be those
# stap_gso_segment() makes of the same frame and metadata.  tests/gso-kernel
# prints one PASS/FAIL line per frame.
#
# Needs root.  Usage: tests/system-gso.sh
# GSO_RECORD=DIR also writes the kernel's answers for a few of the frames
# into DIR, as tests/gso-vectors/ holds them for tests/test-gso.

# Most functions are only called through run_case:
# shellcheck disable=SC2317

SUITE=system-gso
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup kernel-comparison
lib_init

GSO_KERNEL=${GSO_KERNEL:-$abs_top_builddir/tests/gso-kernel}
NS=

case_setup() {
    [ -x "$GSO_KERNEL" ] || why "missing $GSO_KERNEL (make check builds it)" \
        || return
    NS=$(lib_netns_add gso) || why "cannot create a namespace" || return
    ip -n "$NS" link add v0 type veth peer name v1 || why "veth pair" || return
    # No IPv6 on either end: no router or neighbour solicitations among the
    # frames captured (the capture only takes ours anyway).
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 || why "sysctl" || return
    # The sender can neither segment nor checksum, so the kernel does both
    # in software; the receiver merges nothing back.  The MTU takes the
    # largest segment of the 9000-byte case.
    ip netns exec "$NS" ethtool -K v0 tso off gso off tx off >/dev/null \
        || why "ethtool -K v0" || return
    ip netns exec "$NS" ethtool -K v1 gro off >/dev/null 2>&1
    ip -n "$NS" link set v0 mtu 9100 up && ip -n "$NS" link set v1 mtu 9100 up \
        || why "links up" || return
}

case_kernel_comparison() {
    local out rc args=()
    [ -n "${GSO_RECORD:-}" ] && args=(--record "$GSO_RECORD")
    out=$(timeout --foreground 120 ip netns exec "$NS" "$GSO_KERNEL" v0 v1 \
          "${args[@]}")
    rc=$?
    [ -n "$out" ] && printf '%s\n' "$out"
    grep -q '^FAIL' <<<"$out" && LIB_FAILED=$((LIB_FAILED + 1))
    # The per-frame lines are the results; this case only says whether the
    # helper itself ran to its end.
    [ "$rc" -eq 0 ] || grep -q '^FAIL' <<<"$out" \
        || why "gso-kernel exited $rc" || return
    return 0
}

run_case setup case_setup || exit 1
run_case kernel-comparison case_kernel_comparison
lib_finish
