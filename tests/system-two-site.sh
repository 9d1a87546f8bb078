#!/bin/bash
# Two sites joined by an ssh-tap link, each with one VM.
#
#   VM a1 --- site a: br0 --p1 (active, libssh) ==SSH over 192.0.2.0/24==>
#             sshd at site b --unix socket--> site b: br0 p1 (passive) --- VM b1
#
# Needs root.  Usage: tests/system-two-site.sh  (finds tests/env.sh through
# $OVS_SSH_TAP_ENV, next to this script, or in ./tests/).
#
# Developer knob: SSH_TAP_TEST_LINK=veth replaces the ssh-tap link by a plain
# veth between the two bridges (the ssh-tap-specific cases are skipped), to
# check the harness and the test itself with a stock ovs-vswitchd.

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-two-site
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

LINK=${SSH_TAP_TEST_LINK:-ssh-tap}

lib_declare_cases setup identity link-up rtt-status ping4 ping6 broadcast tcp-100M jumbo \
    option-errors host-key del-port readd system-datapath
lib_init

LINK_IS_UP=0

# ---------------------------------------------------------------------------
# The link under test.

# The passive end's socket and the active end's options.
b_socket() { echo "$(site_dir b)/run/ssh-tap/$1.sock"; }

# active_opts PORT [REMOTE]
active_opts() {
    echo "options:remote=${2:-root@$(site_addr b)}" \
         "options:key=$(site_client_key a)" \
         "options:known_hosts=$(site_known_hosts a)" \
         "options:remote_socket=$(b_socket "$1")"
}

# link_add: port p1 on both sites' br0, passive at b, active at a.
link_add() {
    if [ "$LINK" = veth ]; then
        ip -n "$(site_ns a)" link add p1 type veth peer name p1 \
            netns "$(site_ns b)" || return 1
        ip netns exec "$(site_ns a)" ethtool -K p1 tx off >/dev/null
        ip netns exec "$(site_ns b)" ethtool -K p1 tx off >/dev/null
        ip -n "$(site_ns a)" link set p1 up
        ip -n "$(site_ns b)" link set p1 up
        site_vsctl b add-port br0 p1 || return 1
        site_vsctl a add-port br0 p1 || return 1
        return 0
    fi
    site_vsctl b add-port br0 p1 -- set interface p1 type=ssh-tap || return 1
    # shellcheck disable=SC2046
    site_vsctl a add-port br0 p1 -- set interface p1 type=ssh-tap \
        $(active_opts p1) || return 1
}

link_del() {
    site_vsctl a del-port br0 p1 || return 1
    site_vsctl b del-port br0 p1 || return 1
    if [ "$LINK" = veth ]; then
        ip -n "$(site_ns a)" link del p1
    fi
    return 0
}

both_up() { link_up a p1 && link_up b p1; }

wait_link_up() {
    if ! wait_until "p1 link_state up on both sites" 20 both_up; then
        REASON="$REASON (link_state a: $(iface_get a p1 link_state), b: $(iface_get b p1 link_state))"
        return 1
    fi
    lib_log "site a p1 status: $(iface_get a p1 status)"
    lib_log "site b p1 status: $(iface_get b p1 status)"
}

need_link() {
    [ "$LINK_IS_UP" -eq 1 ] && return 0
    REASON="the link never came up"
    return 77
}

need_ssh_tap() {
    [ "$LINK" = ssh-tap ] && return 0
    REASON="SSH_TAP_TEST_LINK=$LINK"
    return 77
}

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    two_sites_setup || return
    # The harness's own ssh plumbing, with OpenSSH's client.
    site_ssh a b true || why "ssh a -> b with the test key and known_hosts failed" || return

    # Baseline for del-port: after the VM ports, before any ssh-tap port.
    site_warm_up a a1 || why "warm-up at site a failed" || return
    site_warm_up b b1 || why "warm-up at site b failed" || return
    read -r TH0_a FD0_a < <(site_settled a)
    read -r TH0_b FD0_b < <(site_settled b)
    site_fd_list a > "$SCRATCH/fds0.a"
    site_fd_list b > "$SCRATCH/fds0.b"
    lib_log "baseline: site a $TH0_a threads $FD0_a fds; site b $TH0_b threads $FD0_b fds"
}

case_identity() {
    local version types
    need_ssh_tap || return
    version=$("$VSWITCHD" --version) || why "$VSWITCHD --version failed" || return
    printf '%s\n' "$version" | grep -q "^ovs-vswitchd (Open vSwitch) $OVS_VERSION\$" \
        || why "--version lacks the OVS version: $version" || return
    printf '%s\n' "$version" | grep -q '^ssh-tap [0-9]' \
        || why "--version lacks the ssh-tap version: $version" || return
    types=$(site_vsctl a get Open_vSwitch . iface_types) \
        || why "reading iface_types failed" || return
    case $types in
        *ssh-tap*) ;;
        *) why "iface_types lacks ssh-tap: $types"; return ;;
    esac
}

case_link_up() {
    link_add || why "adding p1 failed" || return
    wait_link_up || return
    LINK_IS_UP=1
}

# Both ends' status:rtt_us, read through ovs-vsctl, is a number.
rtt_in_status() {
    local s v
    for s in a b; do
        v=$(iface_get "$s" p1 status:rtt_us) || return 1
        [[ $v =~ ^[0-9]+$ ]] || return 1
    done
}

# Interface:status carries rtt_us as soon as the link is up: it is measured
# at the handshake, and OVS rewrites status only when the port says it
# changed, which it does for a new RTT (not for every keepalive).
case_rtt_status() {
    need_ssh_tap || return
    need_link || return
    wait_until "status:rtt_us in OVSDB on both sites" 3 rtt_in_status \
        || why "status:rtt_us missing 3 s after link up (a: $(iface_get a p1 status), b: $(iface_get b p1 status))" \
        || return
    lib_log "rtt_us: a $(iface_get a p1 status:rtt_us), b $(iface_get b p1 status:rtt_us)"
}

case_ping4() {
    local mac want
    need_link || return
    vm_exec a1 timeout --foreground 20 ping -c 3 -W 2 "$B1_V4" >&2 \
        || why "ping $A1_V4 -> $B1_V4 got no reply" || return
    want=$(vm_mac b1)
    mac=$(vm_exec a1 ip neigh show "$B1_V4" dev eth0 \
          | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p')
    [ -n "$mac" ] || why "no ARP entry for $B1_V4 in a1" || return
    [ "$mac" = "$want" ] || why "ARP in a1 says $mac, b1's MAC is $want" || return
}

case_ping6() {
    local mac want
    need_link || return
    vm_exec a1 timeout --foreground 20 ping -6 -c 3 -W 2 "$B1_V6" >&2 \
        || why "ping -6 $A1_V6 -> $B1_V6 got no reply" || return
    want=$(vm_mac b1)
    mac=$(vm_exec a1 ip -6 neigh show "$B1_V6" dev eth0 \
          | sed -n 's/.*lladdr \([0-9a-f:]*\).*/\1/p')
    [ -n "$mac" ] || why "no ND entry for $B1_V6 in a1" || return
    [ "$mac" = "$want" ] || why "ND in a1 says $mac, b1's MAC is $want" || return
}

tcpdump_ready() { grep -q 'listening on' "$1"; }

case_broadcast() {
    local out=$SCRATCH/bcast.out err=$SCRATCH/bcast.err pid i
    need_link || return
    lib_spawn tcpdump "$out" "$err" ip netns exec "$(vm_ns b1)" \
        timeout --foreground 30 tcpdump -l -n -e -c 1 -i eth0 'ether broadcast and icmp'
    pid=$LAST_PID
    wait_until "tcpdump in b1" 10 tcpdump_ready "$err" \
        || why "tcpdump in b1 did not start: $(cat "$err")" || return
    for i in 1 2 3; do
        vm_exec a1 timeout --foreground 5 ping -b -c 1 -W 1 198.51.100.255 >/dev/null 2>&1
        lib_dead "$pid" && break
        lib_log "broadcast: not seen yet after $i ping(s)"
    done
    wait_until "tcpdump to catch the broadcast" 5 lib_dead "$pid"
    wait "$pid" 2>/dev/null
    cat "$out" >&2
    grep -q 'ff:ff:ff:ff:ff:ff' "$out" \
        || why "b1 saw no broadcast frame from a1" || return
}

nc_listening() { [ -n "$(vm_exec "$1" ss -Hltn 'sport = :5001')" ]; }

# tcp_transfer FROM TO TO_ADDR NAME: 100 MB of random bytes over TCP from VM
# FROM to VM TO, byte for byte.
tcp_transfer() {
    local from=$1 to=$2 addr=$3 name=$4
    local src=$SCRATCH/payload dst=$SCRATCH/received pid t0 t1 ms s1 s2
    need_link || return
    head -c 100M /dev/urandom > "$src" || why "cannot write $src" || return
    lib_spawn nc-listener "$dst" "$SCRATCH/nc-l.err" \
        ip netns exec "$(vm_ns "$to")" timeout --foreground 200 nc -l "$addr" 5001
    pid=$LAST_PID
    wait_until "nc listening in $to" 10 nc_listening "$to" || return
    t0=$(now_ms)
    vm_exec "$from" timeout --foreground 180 nc -N -w 10 "$addr" 5001 < "$src" \
        || why "nc in $from failed or timed out" || return
    wait_until "receiver to finish" 20 lib_dead "$pid" || return
    t1=$(now_ms)
    wait "$pid" 2>/dev/null
    ms=$((t1 - t0))
    [ "$ms" -gt 0 ] || ms=1
    lib_log "$name: 104857600 bytes in ${ms} ms = $((104857600 * 8 / 1000 / ms)) Mbit/s"
    s1=$(sha256sum < "$src")
    s2=$(sha256sum < "$dst")
    [ "$s1" = "$s2" ] \
        || why "received $(stat -c %s "$dst") bytes, checksum differs" || return
    rm -f "$src" "$dst"
}

# From the active side (libssh writes) to the passive side.
case_tcp() { tcp_transfer a1 b1 "$B1_V4" tcp-100M; }

# Towards the active side: libssh reads, with the receive window grown to
# RX_WINDOW and the pump's larger buffer (plugin/ssh-tap-pump.c).
case_tcp_reverse() { tcp_transfer b1 a1 "$A1_V4" tcp-100M-reverse; }

rx_bytes() {
    local v
    v=$(iface_get "$1" "$2" statistics:rx_bytes)
    echo "${v:-0}"
}

rx_grew() { [ "$(rx_bytes "$1" "$2")" -ge "$3" ]; }

jumbo_ping() { vm_exec a1 timeout --foreground 5 ping -M "do" -s 8972 -c 1 -W 1 "$B1_V4"; }

case_jumbo() {
    local rx0
    need_link || return
    rx0=$(rx_bytes b p1)
    vm_set_mtu a1 9000 || why "setting a1's MTU failed" || return
    vm_set_mtu b1 9000 || why "setting b1's MTU failed" || return
    if [ "$LINK" = veth ]; then
        ip -n "$(site_ns a)" link set p1 mtu 9000
        ip -n "$(site_ns b)" link set p1 mtu 9000
    fi
    site_vsctl a set interface p1 mtu_request=9000 || why "mtu_request at a" || return
    site_vsctl b set interface p1 mtu_request=9000 || why "mtu_request at b" || return
    lib_log "p1 mtu: a $(iface_get a p1 mtu), b $(iface_get b p1 mtu)"
    wait_until "ping -M do -s 8972 to get a reply" 15 jumbo_ping || return
    vm_exec a1 timeout --foreground 20 ping -M "do" -s 8972 -c 3 -W 2 "$B1_V4" >&2 \
        || why "ping -M do -s 8972 got no reply" || return
    # Statistics in the database are refreshed every 5 s.
    wait_until "site b p1 rx_bytes to grow by 9000 (from $rx0)" 15 \
        rx_grew b p1 $((rx0 + 9000)) \
        || why "$REASON: now $(rx_bytes b p1)" || return
}

iface_error_has() {
    local e
    e=$(iface_get "$1" "$2" error)
    [ -n "$e" ] && [ "$e" != "[]" ] && case $e in *"$3"*) true;; *) false;; esac
}

case_option_errors() {
    need_ssh_tap || return
    # shellcheck disable=SC2046
    site_vsctl a add-port br0 p2 -- set interface p2 type=ssh-tap \
        $(active_opts p2 "root@$(site_addr b):70000") \
        || why "add-port p2 failed" || return
    wait_until "p2's error to mention options:remote" 10 \
        iface_error_has a p2 options:remote \
        || why "$REASON (error column: $(iface_get a p2 error))" || return
    lib_log "p2 error: $(iface_get a p2 error)"
    site_vsctl a add-port br0 p3 -- set interface p3 type=ssh-tap \
        options:bogus=1 || why "add-port p3 failed" || return
    wait_until "p3's error to mention bogus" 10 iface_error_has a p3 bogus \
        || why "$REASON (error column: $(iface_get a p3 error))" || return
    lib_log "p3 error: $(iface_get a p3 error)"
    site_alive a || why "vswitchd at site a died" || return
    site_vsctl a del-port br0 p2 -- del-port br0 p3 || why "del-port failed" || return
    site_alive a || why "vswitchd at site a died after del-port" || return
    link_up a p1 || why "p1 at site a is no longer up" || return
}

# p4 connects separate bridges br1 (no VMs, so no loop with p1), first with
# the right pinned host key, then with a wrong one.
status_has_error() {
    case $(iface_get "$1" "$2" status) in
        *last_error*) return 0 ;;
    esac
    return 1
}

case_host_key() {
    local fp wrong t s
    need_ssh_tap || return
    fp=$(site_hostkey_fp b)
    for s in a b; do
        site_vsctl "$s" add-br br1 -- set bridge br1 datapath_type=netdev \
            || why "add-br br1 at $s" || return
    done
    site_vsctl b add-port br1 p4 -- set interface p4 type=ssh-tap \
        || why "add-port p4 at b" || return
    site_vsctl a add-port br1 p4 -- set interface p4 type=ssh-tap \
        options:remote="root@$(site_addr b)" options:key="$(site_client_key a)" \
        options:host_key="$fp" options:remote_socket="$(b_socket p4)" \
        || why "add-port p4 at a" || return
    wait_until "p4 up with host_key=$fp" 20 link_up a p4 \
        || why "$REASON; status: $(iface_get a p4 status)" || return

    # A well-formed fingerprint of some other key must be refused.
    ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/otherkey" || return
    wrong=$(ssh-keygen -lf "$SCRATCH/otherkey.pub" | awk '{print $2}')
    site_vsctl a del-port br1 p4 || why "del-port p4" || return
    wait_until "p4 at b to go down" 10 eval '! link_up b p4' || return
    site_vsctl a add-port br1 p4 -- set interface p4 type=ssh-tap \
        options:remote="root@$(site_addr b)" options:key="$(site_client_key a)" \
        options:host_key="$wrong" options:remote_socket="$(b_socket p4)" \
        || why "re-adding p4 at a" || return
    t=$(( $(now_ms) + 8000 ))
    while [ "$(now_ms)" -lt "$t" ]; do
        if link_up a p4; then
            why "p4 came up with a wrong pinned host key $wrong"
            return 1
        fi
        status_has_error a p4 && break
        sleep 0.2
    done
    lib_log "p4 with wrong key: link_state $(iface_get a p4 link_state), status $(iface_get a p4 status)"
    status_has_error a p4 || why "no last_error in p4's status after 8 s" || return
    site_alive a || why "vswitchd at site a died" || return
    for s in a b; do
        site_vsctl "$s" del-br br1 || why "del-br br1 at $s" || return
    done
}

case_del_port() {
    local s
    link_del || why "del-port failed" || return
    if ! wait_until "vswitchd threads and fds back to baseline" 10 resources_back; then
        resources_back
        for s in a b; do
            lib_log "site $s: fds now vs baseline (< baseline, > now):"
            site_fd_list "$s" | diff "$SCRATCH/fds0.$s" - >&2
        done
        why "not back to baseline after 10 s:$RES_MSG" || return
    fi
    resources_back
    lib_log "after del-port:$RES_MSG"
    if vm_exec a1 timeout --foreground 10 ping -c 2 -W 1 "$B1_V4" >/dev/null 2>&1; then
        why "ping a1 -> b1 still works without p1"
        return 1
    fi
    site_alive a && site_alive b || why "a vswitchd died" || return
}

case_readd() {
    LINK_IS_UP=0
    link_add || why "adding p1 again failed" || return
    wait_link_up || return
    LINK_IS_UP=1
    vm_exec a1 timeout --foreground 20 ping -c 3 -W 2 "$B1_V4" >&2 \
        || why "ping a1 -> b1 failed after re-adding p1" || return
}

case_system_datapath() {
    local rc err
    need_ssh_tap || return
    site_vsctl a add-br brk -- set bridge brk datapath_type=system -- \
        add-port brk pk -- set interface pk type=ssh-tap >&2
    rc=$?
    err=$(iface_get a pk error)
    lib_log "system-datapath: add-br brk exited $rc; pk error: ${err:-(none)}"
    lib_log "system-datapath: brk ofport: $(iface_get a brk ofport), pk ofport: $(iface_get a pk ofport)"
    site_alive a || why "vswitchd at site a died" || return
    # Without the kernel module (as here) the bridge itself fails and pk is
    # never created.  Where the kernel datapath exists, pk must carry an
    # error.
    case $(iface_get a brk ofport) in
        '' | '[]' | -1) ;;
        *) [ -n "$err" ] && [ "$err" != '[]' ] \
               || why "brk exists but pk has no error" || return ;;
    esac
    site_vsctl a show >/dev/null || why "ovs-vsctl show failed" || return
    link_up a p1 || why "p1 on br0 at site a is not up any more" || return
    need_link || return
    vm_exec a1 timeout --foreground 20 ping -c 2 -W 2 "$B1_V4" >&2 \
        || why "ping a1 -> b1 failed with brk present" || return
    site_vsctl a del-br brk || why "del-br brk failed" || return
    site_alive a || why "vswitchd at site a died after del-br" || return
}

# ---------------------------------------------------------------------------

run_case setup case_setup || exit 1
run_case identity case_identity
run_case link-up case_link_up
run_case rtt-status case_rtt_status
run_case ping4 case_ping4
run_case ping6 case_ping6
run_case broadcast case_broadcast
run_case tcp-100M case_tcp
run_case tcp-100M-reverse case_tcp_reverse
run_case jumbo case_jumbo
run_case option-errors case_option_errors
run_case host-key case_host_key
run_case del-port case_del_port
run_case readd case_readd
run_case system-datapath case_system_datapath
lib_finish
