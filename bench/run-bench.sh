#!/bin/bash
# Copyright (c) 2026 The ovs-ssh-tap authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at:
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# The side-by-side benchmark (docs/performance.md): the same two-site
# topology for each contender, built and measured in one run.
#
#   VM c --internal-- site a: br0 ==LINK== site b: br0 --internal-- VM s
#
# Sites are network namespaces, each with its own ovsdb-server and
# ovs-vswitchd-ssh-tap (userspace datapath); the sites share an underlay
# veth 192.0.2.1/24 -- 192.0.2.2/24, and site b runs an OpenSSH sshd.  A VM
# is a namespace holding an internal port of br0 (a tap device, as a
# hypervisor attaches a guest), TX checksum offload off.  LINK is:
#
#   ceiling  no link: both VMs on site a's br0 (the datapath's own limit);
#   ssh-tap  an ssh-tap port: active at a (libssh), passive at b;
#   ssh-w    OpenSSH's recipe: ssh -o Tunnel=ethernet -w 0:0 from a to b's
#            sshd (PermitTunnel ethernet); both tap0 devices are system
#            ports of the bridges;
#   geneve   OVS's userspace tunnel: ul0 in a bridge br-phy that holds the
#            underlay address, a geneve port in br0; inner MTU 1400;
#
# plus the raw SSH stream ceiling (bench/ssh-sink.c: libssh
# direct-streamlocal into "nc -lU"; OpenSSH "ssh b 'cat >/dev/null'"),
# the idle-port cost (N idle ssh-tap ports over one sshd), two ssh-tap
# levers (cipher, compression) and the offload pass: the ceiling, ssh-tap
# and geneve again, built afresh with other_config:userspace-tso-enable=true
# on every vswitchd and TSO and TX checksum offload on in the VMs, TCP 1
# stream each way, reported next to the 1500-byte figures of the same run
# as the ratios issue 13 sets targets for.
#
# Metrics: iperf3 TCP both ways with 1 and 4 streams, UDP 64-byte packets
# per second at under 1% loss (a short search over offered rates), ping RTT
# p50/p99, vswitchd CPU over the TCP runs; everything again with 20 ms
# added to the underlay's round trip: netem on site a's ul0 where the kernel
# has sch_netem, otherwise bench/delay-bridge.c, an AF_PACKET relay in a
# third namespace between the two ends of the underlay.
#
# Run as root, from the build tree (finds tests/env.sh through
# $OVS_SSH_TAP_ENV, ../tests/env.sh next to this script, or ./tests/env.sh).
# Environment knobs:
#   DURATION=10        seconds of each iperf3 TCP run
#   QUICK=1            smoke run: 3 s runs, no netem pass, no levers, fewer
#                      and shorter idle ports
#   NETEM=1            also run the pass with added delay (0: skip it)
#   NETEM_DELAY_MS=20  the delay added on the underlay, site a to b
#   DELAY_METHOD=auto  netem, relay (bench/delay-bridge.c), or auto: netem
#                      if the kernel has it, else the relay
#   LEVERS=1           measure the ssh-tap levers (0: skip)
#   CIPHER=aes128-gcm@openssh.com   the cipher of every SSH contender
#   ONLY="ceiling ssh-tap ssh-w geneve offload idle levers"   parts to run
#   OFFLOAD=1          run the offload pass (0: skip; QUICK=1 keeps it)
#   OFFLOAD_ONLY="ceiling ssh-tap geneve"   the offload pass's contenders
#   PING_COUNT=500     pings per RTT measurement (10 ms apart)
#   VM_TX_OFFLOAD=off  the VMs' TX checksum offload (on: a Linux guest's
#                      default; what OVS 3.2+ then does is in
#                      docs/performance.md)
#   SETTLE_PCT=10      before each contender's (and lever's) measurements,
#                      wait up to 15 s for the machine to be under this %
#                      busy (all CPUs) over half a second
#   UDP_SECONDS=3      seconds per UDP trial
#   RAW_MB=512         mebibytes per raw stream run
#   IDLE_PORTS=100 IDLE_SECONDS=30   idle-port test
#   BENCH_RESULTS=FILE also write the final table there
#   KEEP_SCRATCH=1     keep the scratch directory (iperf3 JSON, logs)
#   SSH_SINK=PATH      a prebuilt bench/ssh-sink (else built into scratch)
#   DELAY_BRIDGE=PATH  a prebuilt bench/delay-bridge (else built likewise)

set -u

# ---------------------------------------------------------------------------
# Parameters.

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    DURATION=${DURATION:-3}
    NETEM=${NETEM:-0}
    LEVERS=${LEVERS:-0}
    UDP_SECONDS=${UDP_SECONDS:-2}
    RAW_MB=${RAW_MB:-128}
    IDLE_PORTS=${IDLE_PORTS:-20}
    IDLE_SECONDS=${IDLE_SECONDS:-5}
    PING_COUNT=${PING_COUNT:-100}
fi
DURATION=${DURATION:-10}
NETEM=${NETEM:-1}
NETEM_DELAY_MS=${NETEM_DELAY_MS:-20}
DELAY_METHOD=${DELAY_METHOD:-auto}
# The underlay's added delay in the topology being built (ms; 0: none).
UL_DELAY=0
LEVERS=${LEVERS:-1}
UDP_SECONDS=${UDP_SECONDS:-3}
RAW_MB=${RAW_MB:-512}
IDLE_PORTS=${IDLE_PORTS:-100}
IDLE_SECONDS=${IDLE_SECONDS:-30}
PING_COUNT=${PING_COUNT:-500}
SETTLE_PCT=${SETTLE_PCT:-10}
CIPHER=${CIPHER:-aes128-gcm@openssh.com}
ONLY=${ONLY:-ceiling ssh-tap ssh-w geneve offload idle levers}
OFFLOAD=${OFFLOAD:-1}
OFFLOAD_ONLY=${OFFLOAD_ONLY:-ceiling ssh-tap geneve}
# 1 while the offload pass builds its topologies (site_up, topo_up).
TSO_PASS=0
[ "$DURATION" -ge 3 ] 2>/dev/null || DURATION=3

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLK_TCK=$(getconf CLK_TCK)

# The sites, their daemons, sshd, the VMs, and the processes and namespaces
# recorded and stopped by pid are the system tests' (tests/lib.sh).
SUITE=bench
# shellcheck source=tests/lib.sh
. "$BENCH_DIR/../tests/lib.sh" || exit 1

UL_A=$UNDERLAY_A
UL_B=$UNDERLAY_B
VM_C_IP=10.99.0.1
VM_S_IP=10.99.0.2
IPERF_PORT=5201

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
want() { case " $ONLY " in *" $1 "*) return 0;; esac; return 1; }

# check_tools: what the bench needs beyond what the tests need (lib_init
# checks that).
check_tools() {
    local t
    [ "$(id -u)" -eq 0 ] || die "run as root (network namespaces)"
    for t in tc iperf3 jq pkg-config awk; do
        command -v "$t" >/dev/null 2>&1 || die "missing tool: $t"
    done
    [ -c /dev/net/tun ] || die "no /dev/net/tun (needed by ssh -w)"
}

# teardown: stops every recorded process and deletes every namespace (the
# current topology), keeping the scratch directory.
teardown() {
    lib_teardown
    rm -rf "$SCRATCH/site" "$SCRATCH"/vm-*.site "$SCRATCH"/*.sock
}

# ---------------------------------------------------------------------------
# The underlay and SSH.

# underlay [noaddr]: "ul0" in sites a and b, one veth between them; or,
# with UL_DELAY ms of delay and no netem, two veths to a namespace "wan"
# where bench/delay-bridge.c relays between them.
underlay() {
    local na nb nw
    na=$(site_ns a)
    nb=$(site_ns b)
    if [ "$UL_DELAY" -gt 0 ] && [ "$DELAY_METHOD" = relay ]; then
        nw=$(lib_netns_add wan) || return 1
        ip -n "$na" link add ul0 type veth peer name wa netns "$nw" \
            || return 1
        ip -n "$nb" link add ul0 type veth peer name wb netns "$nw" \
            || return 1
        ip -n "$nw" link set wa up && ip -n "$nw" link set wb up || return 1
        lib_spawn "delay-bridge" "$SCRATCH/log/delay-bridge.log" \
            "$SCRATCH/log/delay-bridge.log" ip netns exec "$nw" \
            "$DELAY_BRIDGE" wa wb $((UL_DELAY * 1000)) 0
    else
        ip -n "$na" link add ul0 type veth peer name ul0 netns "$nb" \
            || return 1
    fi
    if [ "${1:-}" != noaddr ]; then
        ip -n "$na" addr add "$UL_A/$UNDERLAY_LEN" dev ul0 || return 1
        ip -n "$nb" addr add "$UL_B/$UNDERLAY_LEN" dev ul0 || return 1
        echo "$UL_A" > "$(site_dir a)/underlay_addr"
        echo "$UL_B" > "$(site_dir b)/underlay_addr"
    fi
    ip -n "$na" link set ul0 up && ip -n "$nb" link set ul0 up || return 1
    if [ "$UL_DELAY" -gt 0 ] && [ "$DELAY_METHOD" = netem ]; then
        tc -n "$na" qdisc add dev ul0 root netem delay "${UL_DELAY}ms" \
            limit 100000 || return 1
    fi
}

# delay_method: picks netem if this kernel has it, else the relay.
delay_method() {
    local ns
    if [ "$DELAY_METHOD" = auto ]; then
        ns=$(lib_netns_add probe) || return 1
        ip -n "$ns" link add p0 type veth peer name p1 || return 1
        if tc -n "$ns" qdisc add dev p0 root netem delay 1ms 2>/dev/null; then
            DELAY_METHOD=netem
        else
            DELAY_METHOD=relay
        fi
        ip netns del "$ns"
        sed -i "/^$ns\$/d" "$SCRATCH/netns"
    fi
    log "added delay: $DELAY_METHOD"
}

# sshd_b: an OpenSSH sshd at site b (tests/lib.sh's, plus ssh -w's
# PermitTunnel and room for the idle ports' logins), with a client key for
# site a.
sshd_b() {
    SSHD_CONFIG_EXTRA='PermitTunnel ethernet
MaxStartups 1000
LogLevel ERROR' sshd_start b || return 1
    ssh_client_setup a b
}

KEY() { site_client_key a; }
KH() { site_known_hosts a; }

# ssh_a_set: SSH_A becomes the OpenSSH client command from site a to b's
# sshd, with our files only.
SSH_A=()
ssh_a_set() {
    site_ssh_args a b
    SSH_A=(ip netns exec "$(site_ns a)" ssh "${SITE_SSH_ARGS[@]}"
           -c "$CIPHER")
}

# ---------------------------------------------------------------------------
# Userspace TSO (the offload pass).

# tso_enabled SITE: true once SITE's vswitchd has logged that it turned
# userspace TSO on.
tso_enabled() {
    grep -q 'Userspace TCP Segmentation Offloading support enabled' \
        "$(site_dir "$1")/log/ovs-vswitchd.log" 2>/dev/null
}

# site_up SITE: tests/lib.sh's site_start; in the offload pass, then
# other_config:userspace-tso-enable=true, waited for before any port but
# br0's own is added.  vswitchd reads the key on every reconfiguration but
# turns TSO on once, for the ports it opens from then on: the VMs' tap
# devices then get vnet headers and TUNSETOFFLOAD (netdev-linux), and the
# other ports whatever their class advertises.
site_up() {
    site_start "$1" || return 1
    [ "$TSO_PASS" = 1 ] || return 0
    site_vsctl "$1" set open_vswitch . \
        other_config:userspace-tso-enable=true || return 1
    wait_until "userspace TSO at site $1" 10 tso_enabled "$1"
}

# vm_tso VM: the VM's TX checksum offload, scatter-gather, TSO and GSO on
# (a Linux guest's defaults); the kernel keeps TSO off unless the tap's
# other end (vswitchd) took vnet headers with TSO.  Records what the VM
# got as "vm_tso_VM" (on or off) for the current offload contender.
vm_tso() {
    local vm=$1 ns got
    ns=$(vm_ns "$vm")
    ip netns exec "$ns" ethtool -K "$vm" tx on sg on tso on gso on \
        >/dev/null 2>&1
    got=$(ip netns exec "$ns" ethtool -k "$vm" 2>/dev/null \
          | awk '/^tcp-segmentation-offload:/ { print $2 }')
    put tso "$TSO_NAME" "vm_tso_$vm" "${got:-?}"
    log "$TSO_NAME [tso]: VM $vm: tcp-segmentation-offload ${got:-?}"
}

# The coverage counters through which OVS counts what it drops or
# segments in software on the way out: 3.1 drops an offloaded packet at a
# port that lacks the offload (send_prepare) and before any tunnel
# (push_header); 3.5 segments it in software instead (soft_seg_good) and
# drops only what that fails on.
OL_COUNTERS="netdev_send_prepare_drops netdev_push_header_drops
netdev_soft_seg_good netdev_soft_seg_drops"

# ol_counters: "NAME VALUE" for each of OL_COUNTERS, summed over the
# sites (counters a version does not have count 0).
ol_counters() {
    local c s v t
    for c in $OL_COUNTERS; do
        t=0
        for s in $SITES; do
            v=$(site_appctl "$s" coverage/read-counter "$c" 2>/dev/null)
            case $v in ''|*[!0-9]*) v=0 ;; esac
            t=$((t + v))
        done
        echo "$c $t"
    done
}

# ---------------------------------------------------------------------------
# Topologies.  Each sets SITES (site names); topo_up then waits for a ping
# from VM c to VM s.

VMC='' VMS='' SITES='' OVS_VER='' TSO_NAME=''

topo_ceiling() {
    site_up a || return 1
    SITES="a"
    vm_add_internal a vmc "$VM_C_IP/24" 1500 || return 1
    vm_add_internal a vms "$VM_S_IP/24" 1500 || return 1
}

topo_two_sites() {
    site_up a || return 1
    site_up b || return 1
    SITES="a b"
    underlay "$@"
}

# topo_sshtap [OPTION=VALUE...]: extra options for the active port
# ($TAP_CIPHER overrides the cipher).
topo_sshtap() {
    local extra=() o
    for o in "$@"; do extra+=("options:$o"); done
    topo_two_sites || return 1
    sshd_b || return 1
    vm_add_internal a vmc "$VM_C_IP/24" 1500 || return 1
    vm_add_internal b vms "$VM_S_IP/24" 1500 || return 1
    site_vsctl b add-port br0 p1 -- set interface p1 type=ssh-tap || return 1
    site_vsctl a add-port br0 p1 -- set interface p1 type=ssh-tap \
        "options:remote=root@$UL_B" "options:key=$(KEY)" \
        "options:known_hosts=$(KH)" \
        "options:remote_socket=$(site_dir b)/run/ssh-tap/p1.sock" \
        "options:cipher=${TAP_CIPHER:-$CIPHER}" "${extra[@]}" || return 1
    wait_until "ssh-tap p1 up" 30 link_up a p1
}

topo_sshw() {
    local na nb ns
    topo_two_sites || return 1
    sshd_b || return 1
    na=$(site_ns a)
    nb=$(site_ns b)
    vm_add_internal a vmc "$VM_C_IP/24" 1500 || return 1
    vm_add_internal b vms "$VM_S_IP/24" 1500 || return 1
    # The recipe: a root login to a PermitTunnel sshd, one tap at each end.
    ssh_a_set
    lib_spawn "ssh-w" "$SCRATCH/log/ssh-w.log" "$SCRATCH/log/ssh-w.log" \
        "${SSH_A[@]}" -o Tunnel=ethernet -w 0:0 -o ExitOnForwardFailure=yes \
        -o ServerAliveInterval=5 -N "root@$UL_B"
    wait_until "tap0 at site a" 20 ip -n "$na" link show tap0 || return 1
    wait_until "tap0 at site b" 20 ip -n "$nb" link show tap0 || return 1
    for ns in "$na" "$nb"; do
        ip netns exec "$ns" ethtool -K tap0 tx off >/dev/null
        ip -n "$ns" link set tap0 up || return 1
    done
    site_vsctl a add-port br0 tap0 || return 1
    site_vsctl b add-port br0 tap0
}

topo_geneve() {
    local s ns me peer
    topo_two_sites noaddr || return 1
    for s in a b; do
        ns=$(site_ns "$s")
        if [ "$s" = a ]; then me=$UL_A peer=$UL_B; else me=$UL_B peer=$UL_A; fi
        site_vsctl "$s" add-br br-phy \
            -- set bridge br-phy datapath_type=netdev \
            -- add-port br-phy ul0 || return 1
        wait_until "br-phy at $s" 10 ip -n "$ns" link show br-phy || return 1
        ip -n "$ns" addr add "$me/24" dev br-phy || return 1
        ip -n "$ns" link set br-phy up || return 1
        site_vsctl "$s" add-port br0 gnv0 -- set interface gnv0 type=geneve \
            "options:remote_ip=$peer" || return 1
    done
    vm_add_internal a vmc "$VM_C_IP/24" 1400 || return 1
    vm_add_internal b vms "$VM_S_IP/24" 1400
}

vm_ping() { ip netns exec "$VMC" ping -c 1 -W 1 "$VM_S_IP"; }

# topo_up NAME FUNCTION [ARGS...]: builds a topology and waits for a ping
# between the VMs.
topo_up() {
    local name=$1
    shift
    log "== $name: building"
    VMC=$(vm_ns vmc)
    VMS=$(vm_ns vms)
    if ! "$@"; then
        log "$name: set-up failed"
        return 1
    fi
    if [ "$TSO_PASS" = 1 ]; then
        vm_tso vmc
        vm_tso vms
    fi
    wait_until "$name: ping from VM c to VM s" 40 vm_ping || return 1
    [ -n "$OVS_VER" ] \
        || OVS_VER=$(site_appctl a version 2>/dev/null | sed -n '1s/.*) //p')
    log "$name: up"
}

# ---------------------------------------------------------------------------
# Measurements.

# ticks PID: utime + stime of PID (all its threads), in clock ticks.
ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))
}

# cpu_snapshot: "vsw TICKS" per site's vswitchd, and "PID TICKS" for every
# process in the sites' namespaces (vswitchd, ovsdb-server, sshd and its
# children, the ssh client).
cpu_snapshot() {
    local s pid
    for s in $SITES; do
        echo "vsw $(ticks "$(site_pid "$s")")"
        for pid in $(ip netns pids "$(site_ns "$s")" 2>/dev/null); do
            echo "$pid $(ticks "$pid")"
        done
    done
}

# cpu_delta BEFORE AFTER MS: prints "VSW% ALL%" (percent of one core).
cpu_delta() {
    awk -v ms="$3" -v hz="$CLK_TCK" '
        FNR == NR { if ($1 == "vsw") vb += $2; else b[$1] = $2; next }
        { if ($1 == "vsw") va += $2; else all += $2 - (($1 in b) ? b[$1] : 0) }
        END { printf "%.0f %.0f\n", (va - vb) * 100000 / hz / ms,
                                   all * 100000 / hz / ms }' "$1" "$2"
}

iperf_listening() {
    [ -n "$(ip netns exec "$VMS" ss -Hltn "sport = :$IPERF_PORT")" ]
}

iperf_server() {
    local logf=$SCRATCH/log/iperf3-s.log
    lib_spawn "iperf3-s" "$logf" "$logf" ip netns exec "$VMS" \
        iperf3 -s -1 -B "$VM_S_IP" -p "$IPERF_PORT"
    IPERF_S=$LAST_PID
    wait_until "iperf3 server" 10 iperf_listening
}

iperf_server_done() {
    local deadline=$(( $(now_ms) + 5000 ))
    while kill -0 "$IPERF_S" 2>/dev/null \
          && [ "$(now_ms)" -lt "$deadline" ]; do
        sleep 0.1
    done
    kill "$IPERF_S" 2>/dev/null
    wait "$IPERF_S" 2>/dev/null
}

# m_tcp TAG STREAMS fwd|rev: iperf3 TCP from VM c to VM s (fwd) or back
# (rev, -R); prints "MBIT/S VSW% ALL%".
m_tcp() {
    local tag=$1 n=$2 dir=$3 json pid t0 t1 b a r=() mbits cpu
    json=$SCRATCH/log/$tag.json
    [ "$dir" = rev ] && r=(-R)
    iperf_server || { echo "- - -"; return; }
    ip netns exec "$VMC" timeout $((DURATION + 30)) iperf3 -c "$VM_S_IP" \
        -p "$IPERF_PORT" --connect-timeout 5000 -t "$DURATION" -P "$n" \
        "${r[@]}" -J > "$json" 2>&1 &
    pid=$!
    # CPU over the steady part of the run: not the first second, nor the
    # last one.
    sleep 1
    b=$SCRATCH/log/$tag.cpu0
    a=$SCRATCH/log/$tag.cpu1
    cpu_snapshot > "$b"
    t0=$(now_ms)
    sleep $((DURATION - 2))
    cpu_snapshot > "$a"
    t1=$(now_ms)
    wait "$pid"
    iperf_server_done
    mbits=$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' \
            "$json" 2>/dev/null)
    [ -n "$mbits" ] && [ "$mbits" != null ] || mbits=-
    cpu=$(cpu_delta "$b" "$a" $((t1 - t0)))
    echo "$mbits $cpu"
}

# udp_trial TAG PPS: prints "LOSS% RX_PPS" for UDP_SECONDS at PPS offered.
udp_trial() {
    local tag=$1 pps=$2 json res
    json=$SCRATCH/log/$tag-udp-$pps.json
    iperf_server || { echo "100 0"; return; }
    ip netns exec "$VMC" timeout $((UDP_SECONDS + 30)) iperf3 -c "$VM_S_IP" \
        -p "$IPERF_PORT" --connect-timeout 5000 -u -l 64 \
        -b $((pps * 64 * 8)) -t "$UDP_SECONDS" -J > "$json" 2>&1
    iperf_server_done
    res=$(jq -r '.end.sum_received | select(.lost_percent != null)
          | "\(.lost_percent) \((.packets - .lost_packets) / .seconds | floor)"' \
          "$json" 2>/dev/null)
    echo "${res:-100 0}"
}

loss_ok() { awk -v l="$1" 'BEGIN { exit !(l + 0 < 1) }'; }

# m_udp TAG: highest received rate (packets/s) of 64-byte UDP payloads at
# under 1% loss.  Doubles the offered rate from 20k pps until loss, then
# bisects three times.
m_udp() {
    local tag=$1 rate=20000 good=0 bad=0 best=0 loss rx i mid
    for i in 1 2 3 4 5 6 7; do
        read -r loss rx <<< "$(udp_trial "$tag" "$rate")"
        log "  udp $rate pps offered: $rx received, loss $loss%"
        if loss_ok "$loss"; then
            good=$rate best=$rx
            rate=$((rate * 2))
        else
            bad=$rate
            break
        fi
    done
    if [ "$good" = 0 ]; then
        # Even 20k is too much: halve until it fits.
        rate=10000
        while [ "$rate" -ge 1000 ]; do
            read -r loss rx <<< "$(udp_trial "$tag" "$rate")"
            log "  udp $rate pps offered: $rx received, loss $loss%"
            if loss_ok "$loss"; then good=$rate best=$rx; break; fi
            bad=$rate
            rate=$((rate / 2))
        done
    fi
    if [ "$good" -gt 0 ] && [ "$bad" -gt 0 ]; then
        for i in 1 2 3; do
            mid=$(((good + bad) / 2))
            read -r loss rx <<< "$(udp_trial "$tag" "$mid")"
            log "  udp $mid pps offered: $rx received, loss $loss%"
            if loss_ok "$loss"; then
                good=$mid
                [ "$rx" -gt "$best" ] && best=$rx
            else
                bad=$mid
            fi
        done
    fi
    echo "$best"
}

# m_ping TAG: prints "P50 P99" in ms (PING_COUNT pings, 10 ms apart).
m_ping() {
    local out
    out=$SCRATCH/log/ping-$1.txt
    ip netns exec "$VMC" timeout $((PING_COUNT / 20 + 60)) ping \
        -c "$PING_COUNT" -i 0.01 -W 2 "$VM_S_IP" > "$out" 2>&1
    sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$out" | sort -n | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- -"; exit }
            printf "%.3f %.3f\n", v[int((NR - 1) * 0.50) + 1],
                                  v[int((NR - 1) * 0.99) + 1]
        }'
}

# Results: R[PASS|CONTENDER|METRIC].
declare -A R

put() { R["$1|$2|$3"]=$4; echo "$1 $2 $3 $4" >> "$SCRATCH/results.txt"; }

# busy_check WHAT: notes WHAT as noisy if the test suite is running now.
NOISY=
busy_check() {
    if pgrep -f 'system-.*\.sh|run-tests\.sh' >/dev/null 2>&1; then
        log "WARNING: the test suite is running during $1"
        case " $NOISY " in *" $1 "*) ;; *) NOISY="$NOISY $1" ;; esac
    fi
}

# cpu_jiffies: prints the machine's total and busy (neither idle nor
# iowait) CPU time so far, from /proc/stat, in clock ticks.
cpu_jiffies() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i;
                   print t, t - $5 - $6 }' /proc/stat
}

# cpu_busy_pct: % of the whole machine's CPU time (all CPUs) spent busy over
# the next half second.
cpu_busy_pct() {
    local t0 b0 t1 b1
    read -r t0 b0 < <(cpu_jiffies)
    sleep 0.5
    read -r t1 b1 < <(cpu_jiffies)
    [ $((t1 - t0)) -gt 0 ] || { echo 0; return; }
    echo $(( (b1 - b0) * 100 / (t1 - t0) ))
}

# settle TAG: waits (up to 15 s) until the machine is quiet, below
# $SETTLE_PCT% busy over half a second: the kernel tears network namespaces
# down asynchronously, and a measurement that starts while it still does
# would pay for the previous contender.
settle() {
    local t0 pct
    t0=$(now_ms)
    while :; do
        pct=$(cpu_busy_pct)
        [ "$pct" -lt "$SETTLE_PCT" ] && break
        if [ $(( $(now_ms) - t0 )) -ge 15000 ]; then
            log "$1: machine still ${pct}% busy after 15 s; measuring anyway"
            return
        fi
    done
    [ $(( $(now_ms) - t0 )) -lt 1000 ] \
        || log "$1: waited $(( ($(now_ms) - t0) / 1000 )) s for the machine to settle"
}

# measure PASS NAME: every metric for the current topology.
measure() {
    local pass=$1 name=$2 tag v mb va vall dir n
    tag=$pass-$name
    busy_check "${name}[$pass]"
    settle "${name}[$pass]"
    # Warm up: ARP, flows.
    ip netns exec "$VMC" ping -c 3 -i 0.2 -W 1 "$VM_S_IP" >/dev/null 2>&1
    read -r v va <<< "$(m_ping "$tag")"
    put "$pass" "$name" rtt_p50 "$v"
    put "$pass" "$name" rtt_p99 "$va"
    log "$name [$pass]: ping p50 $v ms, p99 $va ms"
    for dir in fwd rev; do
        for n in 1 4; do
            read -r mb va vall <<< "$(m_tcp "$tag-tcp-$dir$n" "$n" "$dir")"
            put "$pass" "$name" "tcp_$dir$n" "$mb"
            put "$pass" "$name" "cpu_vsw_$dir$n" "$va"
            put "$pass" "$name" "cpu_all_$dir$n" "$vall"
            log "$name [$pass]: TCP $dir x$n: $mb Mbit/s, vswitchd $va%, all site processes $vall%"
            busy_check "${name}[$pass]"
        done
    done
    put "$pass" "$name" rss_vsw_kb "$(rss_peak)"
    v=$(m_udp "$tag")
    put "$pass" "$name" udp_pps "$v"
    log "$name [$pass]: UDP 64 B: $v pps at <1% loss"
    busy_check "${name}[$pass]"
}

# run_contender NAME TOPO_FUNCTION [ARGS]: both passes for one contender.
run_contender() {
    local name=$1
    shift
    UL_DELAY=0
    if topo_up "$name" "$@"; then
        measure 0ms "$name"
        [ "$name" = ssh-tap ] && raw_ceiling 0ms
    fi
    teardown
    # The same again, built afresh with the delay on the underlay.
    if [ "$NETEM" = 1 ] && [ "$name" != ceiling ]; then
        UL_DELAY=$NETEM_DELAY_MS
        if topo_up "$name +${UL_DELAY}ms" "$@"; then
            measure "${UL_DELAY}ms" "$name"
            [ "$name" = ssh-tap ] && raw_ceiling "${UL_DELAY}ms"
        fi
        teardown
        UL_DELAY=0
    fi
}

# rss_peak: the sites' vswitchds' peak resident memory (VmHWM), summed, in
# kB.
rss_peak() {
    local s t=0 v
    for s in $SITES; do
        v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$(site_pid "$s")/status" \
            2>/dev/null)
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# drop_reason: the first "dropped" warning in the sites' vswitchd logs,
# without its timestamp and module, or nothing.
drop_reason() {
    local s
    for s in $SITES; do
        grep -h -i 'dropped' "$(site_dir "$s")/log/ovs-vswitchd.log" \
            2>/dev/null
    done | head -n 1 | sed 's/^.*|[a-z_]*|[A-Z]*|//'
}

# measure_offload NAME: the offload pass's metrics for the current
# topology: TCP 1 stream each way with CPU, the vswitchds' peak RSS, what
# OVS dropped or segmented in software meanwhile, and the offloads the
# link port advertises (OVS 3.5's Interface status; 3.1 has none).
measure_offload() {
    local name=$1 tag=tso-$1 dir mb va vall c0 c1 port st err
    busy_check "${name}[tso]"
    settle "${name}[tso]"
    ip netns exec "$VMC" ping -c 3 -i 0.2 -W 1 "$VM_S_IP" >/dev/null 2>&1
    c0=$SCRATCH/log/$tag.cov0
    c1=$SCRATCH/log/$tag.cov1
    ol_counters > "$c0"
    for dir in fwd rev; do
        read -r mb va vall <<< "$(m_tcp "$tag-tcp-${dir}1" 1 "$dir")"
        put tso "$name" "tcp_${dir}1" "$mb"
        put tso "$name" "cpu_vsw_${dir}1" "$va"
        put tso "$name" "cpu_all_${dir}1" "$vall"
        log "$name [tso]: TCP $dir x1: $mb Mbit/s, vswitchd $va%, all site processes $vall%"
        err=$(jq -r '.error // empty' "$SCRATCH/log/$tag-tcp-${dir}1.json" \
              2>/dev/null)
        [ -n "$err" ] && put tso "$name" "err_${dir}1" "$err"
        busy_check "${name}[tso]"
    done
    # Coverage counters are folded in about once a second.
    sleep 1.5
    ol_counters > "$c1"
    put tso "$name" drops "$(awk 'FNR == NR { b[$1] = $2; next }
        $1 ~ /drops$/ { d += $2 - b[$1] } END { print d + 0 }' "$c0" "$c1")"
    put tso "$name" soft_seg "$(awk 'FNR == NR { b[$1] = $2; next }
        $1 == "netdev_soft_seg_good" { d += $2 - b[$1] } END { print d + 0 }' \
        "$c0" "$c1")"
    put tso "$name" why "$(drop_reason)"
    put tso "$name" rss_vsw_kb "$(rss_peak)"
    case $name in
        ssh-tap) port=p1 ;;
        geneve) port=gnv0 ;;
        *) port=vms ;;
    esac
    st=$(site_vsctl a get interface "$port" status:tx_tcp_seg_offload \
         2>/dev/null | tr -d '"')
    put tso "$name" port_tso "${st:--}"
    log "$name [tso]: packets dropped ${R[tso|$name|drops]}, segmented in software ${R[tso|$name|soft_seg]}; $port tx_tcp_seg_offload ${st:--}; vswitchd peak RSS ${R[tso|$name|rss_vsw_kb]} kB${R[tso|$name|why]:+; vswitchd: ${R[tso|$name|why]}}"
}

# run_offload: the offload pass, each contender built afresh with
# userspace TSO on (no added delay).
run_offload() {
    local name fn
    TSO_PASS=1
    UL_DELAY=0
    for name in $OFFLOAD_ONLY; do
        case $name in
            ceiling) fn=topo_ceiling ;;
            ssh-tap) fn=topo_sshtap ;;
            geneve) fn=topo_geneve ;;
            *) log "offload: unknown contender $name"; continue ;;
        esac
        TSO_NAME=$name
        if VM_TX_OFFLOAD=on topo_up "$name, userspace TSO" "$fn"; then
            measure_offload "$name"
            [ "$name" = ssh-tap ] && raw_ceiling tso
        fi
        teardown
    done
    TSO_PASS=0
}

# ---------------------------------------------------------------------------
# Contender 4: the raw SSH stream ceiling, from site a to b's sshd (run in
# the ssh-tap topology, with no traffic on the ssh-tap port).

build_helpers() {
    if [ -n "${SSH_SINK:-}" ]; then
        [ -x "$SSH_SINK" ] || die "SSH_SINK=$SSH_SINK is not executable"
    else
        SSH_SINK=$SCRATCH/ssh-sink
        # shellcheck disable=SC2046
        ${CC:-cc} -O2 -o "$SSH_SINK" "$BENCH_DIR/ssh-sink.c" \
            $(pkg-config --cflags --libs libssh) \
            || die "cannot build bench/ssh-sink.c (libssh-dev?)"
    fi
    if [ -n "${DELAY_BRIDGE:-}" ]; then
        [ -x "$DELAY_BRIDGE" ] \
            || die "DELAY_BRIDGE=$DELAY_BRIDGE is not executable"
    else
        DELAY_BRIDGE=$SCRATCH/delay-bridge
        ${CC:-cc} -O2 -o "$DELAY_BRIDGE" "$BENCH_DIR/delay-bridge.c" \
            || die "cannot build bench/delay-bridge.c"
    fi
}

raw_ceiling() {
    local pass=$1 sock out t0 t1 mb
    ssh_a_set
    # libssh direct-streamlocal into a unix socket consumer.
    sock=$SCRATCH/sink-$pass.sock
    lib_spawn "nc-sink" /dev/null /dev/null \
        ip netns exec "$(site_ns b)" nc -lU "$sock"
    wait_until "sink socket" 10 test -S "$sock"
    out=$(ip netns exec "$(site_ns a)" timeout 120 "$SSH_SINK" "$UL_B" 22 \
          root "$(KEY)" "$(KH)" "$CIPHER" "$sock" "$RAW_MB" \
          2>>"$SCRATCH/log/ssh-sink.err")
    mb=$(echo "$out" | awk '{ printf "%d", $3 }')
    put "$pass" raw raw_libssh "${mb:--}"
    log "raw [$pass]: libssh direct-streamlocal: ${mb:--} Mbit/s ($out)"
    # OpenSSH: a session channel into cat.
    t0=$(now_ms)
    if head -c "$((RAW_MB * 1024 * 1024))" /dev/zero \
            | timeout 120 "${SSH_A[@]}" "root@$UL_B" 'cat >/dev/null' \
              2>>"$SCRATCH/log/ssh-cat.err"; then
        t1=$(now_ms)
        mb=$(( RAW_MB * 1024 * 1024 * 8 / (t1 - t0) / 1000 ))
    else
        mb=-
    fi
    put "$pass" raw raw_openssh "$mb"
    log "raw [$pass]: OpenSSH 'cat >/dev/null': $mb Mbit/s"
}

# ---------------------------------------------------------------------------
# Idle ports: IDLE_PORTS passive ports at b, as many active ones at a, all
# through b's one sshd.

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

count_up() {
    site_vsctl a --bare --columns=link_state find interface type=ssh-tap \
        | grep -c '^up$'
}

# pct TICKS MS: percent of one core.
pct() {
    awk -v d="$1" -v ms="$2" -v hz="$CLK_TCK" \
        'BEGIN { printf "%.2f", d * 100000 / hz / ms }'
}

idle_ports() {
    local pa pb ra0 rb0 ra1 rb1 i name args_a=() args_b=() ta tb t0 t1 \
          up=0 deadline
    log "== idle: $IDLE_PORTS idle ssh-tap ports"
    if ! topo_two_sites || ! sshd_b; then
        log "idle: set-up failed"
        teardown
        return
    fi
    pa=$(site_pid a)
    pb=$(site_pid b)
    sleep 3
    # Baseline: the same two daemons with no ssh-tap port.
    ra0=$(rss_kb "$pa")
    rb0=$(rss_kb "$pb")
    settle idle
    ta=$(ticks "$pa") tb=$(ticks "$pb") t0=$(now_ms)
    sleep 10
    t1=$(now_ms)
    put idle a cpu_base "$(pct $(( $(ticks "$pa") - ta )) $((t1 - t0)))"
    put idle b cpu_base "$(pct $(( $(ticks "$pb") - tb )) $((t1 - t0)))"
    put idle a rss_base_kb "$ra0"
    put idle b rss_base_kb "$rb0"
    log "idle: no ports: vswitchd CPU a ${R[idle|a|cpu_base]}%, b ${R[idle|b|cpu_base]}%; RSS a $ra0 kB, b $rb0 kB"

    for i in $(seq 1 "$IDLE_PORTS"); do
        name=$(printf 'i%03d' "$i")
        args_b+=(-- add-port br0 "$name" -- set interface "$name"
                 type=ssh-tap)
        args_a+=(-- add-port br0 "$name" -- set interface "$name"
                 type=ssh-tap "options:remote=root@$UL_B"
                 "options:key=$(KEY)" "options:known_hosts=$(KH)"
                 "options:remote_socket=$(site_dir b)/run/ssh-tap/$name.sock"
                 "options:cipher=$CIPHER")
    done
    if ! site_vsctl b "${args_b[@]}" || ! site_vsctl a "${args_a[@]}"; then
        log "idle: adding ports failed"
        teardown
        return
    fi
    deadline=$(( $(now_ms) + 180000 ))
    while :; do
        up=$(count_up)
        [ "$up" -ge "$IDLE_PORTS" ] && break
        if [ "$(now_ms)" -ge "$deadline" ]; then
            log "idle: only $up of $IDLE_PORTS ports up after 180 s"
            break
        fi
        sleep 1
    done
    put idle a ports_up "$up"
    log "idle: $up of $IDLE_PORTS ports up; settling"
    sleep 5
    ta=$(ticks "$pa") tb=$(ticks "$pb") t0=$(now_ms)
    sleep "$IDLE_SECONDS"
    t1=$(now_ms)
    busy_check idle
    put idle a cpu "$(pct $(( $(ticks "$pa") - ta )) $((t1 - t0)))"
    put idle b cpu "$(pct $(( $(ticks "$pb") - tb )) $((t1 - t0)))"
    ra1=$(rss_kb "$pa")
    rb1=$(rss_kb "$pb")
    put idle a rss_kb "$ra1"
    put idle b rss_kb "$rb1"
    put idle a rss_port_kb $(( (ra1 - ra0) / IDLE_PORTS ))
    put idle b rss_port_kb $(( (rb1 - rb0) / IDLE_PORTS ))
    put idle a threads "$(find "/proc/$pa/task" -mindepth 1 -maxdepth 1 | wc -l)"
    put idle b threads "$(find "/proc/$pb/task" -mindepth 1 -maxdepth 1 | wc -l)"
    put idle a up_after "$(count_up)"
    log "idle: $IDLE_PORTS ports: vswitchd CPU a (active) ${R[idle|a|cpu]}%, b (passive) ${R[idle|b|cpu]}%; RSS a $ra0 -> $ra1 kB, b $rb0 -> $rb1 kB"
    teardown
}

# ---------------------------------------------------------------------------
# Levers: ssh-tap variants; TCP one stream each way, ping, CPU.

lever() {
    local name=$1 mb va vall v p99 d
    shift
    if topo_up "lever $name" topo_sshtap "$@"; then
        settle "lever $name"
        ip netns exec "$VMC" ping -c 3 -i 0.2 -W 1 "$VM_S_IP" >/dev/null 2>&1
        read -r v p99 <<< "$(m_ping "lever-$name")"
        put lever "$name" rtt_p50 "$v"
        put lever "$name" rtt_p99 "$p99"
        for d in fwd rev; do
            read -r mb va vall <<< "$(m_tcp "lever-$name-$d" 1 "$d")"
            put lever "$name" "tcp_${d}1" "$mb"
            put lever "$name" "cpu_vsw_${d}1" "$va"
            put lever "$name" "cpu_all_${d}1" "$vall"
        done
        busy_check "lever-$name"
        log "lever $name: c->s ${R[lever|$name|tcp_fwd1]}, s->c ${R[lever|$name|tcp_rev1]} Mbit/s, p50 $v ms"
    fi
    teardown
}

# ---------------------------------------------------------------------------
# The report (Markdown).

get() { echo "${R[$1|$2|$3]:--}"; }

ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || b + 0 == 0) print "-";
        else printf "%.2f", a / b }'
}

report_pass() {
    local pass=$1 m label t s g
    echo
    if [ "$pass" = 0ms ]; then
        echo "### No added delay"
    else
        echo "### $pass added to the underlay's round trip ($DELAY_METHOD)"
    fi
    echo
    printf '| %-36s | %8s | %8s | %8s | %8s | %9s | %10s |\n' metric \
        ceiling ssh-tap "ssh -w" geneve "tap/ssh-w" "tap/geneve"
    printf '|%s|%s|%s|%s|%s|%s|%s|\n' -------------------------------------- \
        ---------: ---------: ---------: ---------: ----------: -----------:
    while read -r m label; do
        t=$(get "$pass" ssh-tap "$m")
        s=$(get "$pass" ssh-w "$m")
        g=$(get "$pass" geneve "$m")
        printf '| %-36s | %8s | %8s | %8s | %8s | %9s | %10s |\n' "$label" \
            "$(get "$pass" ceiling "$m")" "$t" "$s" "$g" \
            "$(ratio "$t" "$s")" "$(ratio "$t" "$g")"
    done <<'EOF'
tcp_fwd1 TCP c->s, 1 stream (Mbit/s)
tcp_fwd4 TCP c->s, 4 streams (Mbit/s)
tcp_rev1 TCP s->c, 1 stream (Mbit/s)
tcp_rev4 TCP s->c, 4 streams (Mbit/s)
udp_pps UDP 64 B at <1% loss (pkt/s)
rtt_p50 ping RTT p50 (ms)
rtt_p99 ping RTT p99 (ms)
cpu_vsw_fwd1 vswitchd CPU, TCP c->s x1 (%)
cpu_all_fwd1 all site CPU, TCP c->s x1 (%)
cpu_vsw_rev1 vswitchd CPU, TCP s->c x1 (%)
cpu_all_rev1 all site CPU, TCP s->c x1 (%)
cpu_vsw_fwd4 vswitchd CPU, TCP c->s x4 (%)
cpu_all_fwd4 all site CPU, TCP c->s x4 (%)
rss_vsw_kb vswitchd peak RSS, both sites (kB)
EOF
    echo
    echo "Raw SSH stream ceiling, $RAW_MB MiB, site a to b's sshd: libssh direct-streamlocal into nc -lU $(get "$pass" raw raw_libssh) Mbit/s; OpenSSH \`ssh b 'cat >/dev/null'\` $(get "$pass" raw raw_openssh) Mbit/s."
}

# near0 MBIT: true if a throughput figure is missing or under 10 Mbit/s:
# what a contender that drops its offloaded packets carries.
near0() {
    awk -v m="$1" 'BEGIN { exit !(m == "-" || m == "" || m + 0 < 10) }'
}

# verdict A B TARGET: "met" if A / B >= TARGET, "missed" if not, "-" if
# either is missing.
verdict() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN {
        if (a == "-" || b == "-" || b + 0 == 0) print "-";
        else if (a / b >= t) print "met"; else print "missed" }'
}

# target_row LABEL A_FWD B_FWD A_REV B_REV TARGET: one row of the offload
# targets: both directions' ratios and verdicts.
target_row() {
    echo "| $1 | $(ratio "$2" "$3") | $(ratio "$4" "$5") | >= $6 | $(verdict "$2" "$3" "$6") / $(verdict "$4" "$5" "$6") |"
}

# tso_zero_note NAME: why a contender carried ~0 with TSO, from what this
# run counted and logged.
tso_zero_note() {
    local n=$1 why
    why=$(get tso "$n" why)
    [ "$why" = - ] && why=
    echo "- **$n with userspace TSO carried ~0**: c->s $(get tso "$n" tcp_fwd1), s->c $(get tso "$n" tcp_rev1) Mbit/s${R[tso|$n|err_fwd1]:+ (iperf3 c->s: ${R[tso|$n|err_fwd1]})}${R[tso|$n|err_rev1]:+ (s->c: ${R[tso|$n|err_rev1]})}. OVS dropped $(get tso "$n" drops) packets during the two runs (its netdev_send_prepare_drops, netdev_push_header_drops and netdev_soft_seg_drops counters)${why:+; vswitchd logged \`$why\`}."
}

# report_offload: the offload pass next to the 1500-byte pass.
report_offload() {
    local m label n raw t
    echo
    echo "### Offloads: userspace TSO on (no added delay, 1 stream)"
    echo
    echo "Each contender built afresh with \`other_config:userspace-tso-enable=true\` on every vswitchd and TX checksum, scatter-gather, TSO and GSO on in both VMs; the \`1500\` columns are the pass above (no userspace TSO, the VMs' TX checksum offload ${VM_TX_OFFLOAD:-off}). Open vSwitch ${OVS_VER:-?}."
    echo
    echo "| metric | ceiling 1500 | ceiling TSO | ssh-tap 1500 | ssh-tap TSO | geneve 1500 | geneve TSO |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    while read -r m label; do
        printf '| %s |' "$label"
        for n in ceiling ssh-tap geneve; do
            printf ' %s | %s |' "$(get 0ms "$n" "$m")" "$(get tso "$n" "$m")"
        done
        echo
    done <<'ROWS'
tcp_fwd1 TCP c->s (Mbit/s)
tcp_rev1 TCP s->c (Mbit/s)
cpu_vsw_fwd1 vswitchd CPU, c->s (%)
cpu_all_fwd1 all site CPU, c->s (%)
cpu_vsw_rev1 vswitchd CPU, s->c (%)
cpu_all_rev1 all site CPU, s->c (%)
rss_vsw_kb vswitchd peak RSS, both sites (kB)
ROWS
    while read -r m label; do
        printf '| %s |' "$label"
        for n in ceiling ssh-tap geneve; do
            printf ' | %s |' "$(get tso "$n" "$m")"
        done
        echo
    done <<'ROWS'
vm_tso_vmc VM c's TSO
vm_tso_vms VM s's TSO
port_tso link port's tx_tcp_seg_offload (OVS 3.5's status; ceiling: VM s's port)
drops packets OVS dropped (both TCP runs)
soft_seg TSO packets OVS segmented in software (3.3+)
ROWS
    raw=$(get tso raw raw_libssh)
    [ "$raw" = - ] && raw=$(get 0ms raw raw_libssh)
    echo
    echo "Raw libssh stream in the TSO pass's ssh-tap topology: $(get tso raw raw_libssh) Mbit/s (1500-byte pass: $(get 0ms raw raw_libssh)); OpenSSH \`cat\`: $(get tso raw raw_openssh) Mbit/s."
    echo
    echo "| target (issue 13, ratios within this run) | c->s | s->c | target | verdict c->s / s->c |"
    echo "|---|---:|---:|---:|---|"
    t=ssh-tap
    target_row "ssh-tap TSO / 1500-byte ceiling" "$(get tso $t tcp_fwd1)" \
        "$(get 0ms ceiling tcp_fwd1)" "$(get tso $t tcp_rev1)" \
        "$(get 0ms ceiling tcp_rev1)" 2
    target_row "ssh-tap TSO / raw libssh stream" "$(get tso $t tcp_fwd1)" \
        "$raw" "$(get tso $t tcp_rev1)" "$raw" 0.70
    if near0 "$(get tso geneve tcp_fwd1)" \
       && near0 "$(get tso geneve tcp_rev1)"; then
        echo "| ssh-tap TSO / geneve TSO (OVS 3.5) | no ratio: geneve carried ~0 | | >= 1.5 | - |"
    else
        target_row "ssh-tap TSO / geneve TSO (OVS 3.5)" \
            "$(get tso $t tcp_fwd1)" "$(get tso geneve tcp_fwd1)" \
            "$(get tso $t tcp_rev1)" "$(get tso geneve tcp_rev1)" 1.5
    fi
    for n in ceiling ssh-tap geneve; do
        if [ -n "${R[tso|$n|tcp_fwd1]:-}" ] \
           && { near0 "$(get tso "$n" tcp_fwd1)" \
                || near0 "$(get tso "$n" tcp_rev1)"; }; then
            echo
            tso_zero_note "$n"
        fi
    done
}

lever_row() {
    local n=$2
    echo "| $1 | $(get lever "$n" tcp_fwd1) | $(get lever "$n" tcp_rev1) | $(get lever "$n" rtt_p50) | $(get lever "$n" rtt_p99) | $(get lever "$n" cpu_vsw_fwd1) | $(get lever "$n" cpu_all_fwd1) |"
}

report() {
    local n
    echo
    echo "## ovs-ssh-tap benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r); Open vSwitch ${OVS_VER:-?}."
    echo "Cipher $CIPHER; iperf3 $DURATION s per TCP run; UDP trials $UDP_SECONDS s; $PING_COUNT pings 10 ms apart; the VMs' TX checksum offload ${VM_TX_OFFLOAD:-off}."
    echo "CPU is % of one core over the steady part of a TCP run, both sites summed: 'vswitchd' is the two vswitchds, 'all site' every process in the two site namespaces (vswitchds, ovsdb-servers, sshd and its children, the ssh client); the VMs' iperf3 is not counted."
    if [ -n "$NOISY" ]; then
        echo
        echo "**Noisy:** the test suite was running during:$NOISY."
    fi
    report_pass 0ms
    [ "$NETEM" = 1 ] && report_pass "${NETEM_DELAY_MS}ms"
    want offload && [ "$OFFLOAD" = 1 ] && report_offload
    if want idle; then
        n=$IDLE_PORTS
        echo
        echo "### $n idle ssh-tap ports over one sshd ($IDLE_SECONDS s)"
        echo
        echo "| | site a (active ports) | site b (passive ports) |"
        echo "|---|---:|---:|"
        echo "| ports up (at start / at end) | $(get idle a ports_up) / $(get idle a up_after) | |"
        echo "| vswitchd CPU, no ports (% core) | $(get idle a cpu_base) | $(get idle b cpu_base) |"
        echo "| vswitchd CPU, $n ports (% core) | $(get idle a cpu) | $(get idle b cpu) |"
        echo "| vswitchd RSS, no ports -> $n ports (kB) | $(get idle a rss_base_kb) -> $(get idle a rss_kb) | $(get idle b rss_base_kb) -> $(get idle b rss_kb) |"
        echo "| RSS per port (kB) | $(get idle a rss_port_kb) | $(get idle b rss_port_kb) |"
        echo "| vswitchd threads | $(get idle a threads) | $(get idle b threads) |"
    fi
    if want levers && [ "$LEVERS" = 1 ]; then
        echo
        echo "### ssh-tap levers (no added delay, 1 stream)"
        echo
        echo "| variant | c->s Mbit/s | s->c Mbit/s | ping p50 ms | ping p99 ms | vswitchd CPU c->s | all site CPU c->s |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        echo "| cipher $CIPHER (main run) | $(get 0ms ssh-tap tcp_fwd1) | $(get 0ms ssh-tap tcp_rev1) | $(get 0ms ssh-tap rtt_p50) | $(get 0ms ssh-tap rtt_p99) | $(get 0ms ssh-tap cpu_vsw_fwd1) | $(get 0ms ssh-tap cpu_all_fwd1) |"
        lever_row "cipher chacha20-poly1305@openssh.com" chacha20
        lever_row "$CIPHER + compression=true" compression
    fi
}

# ---------------------------------------------------------------------------
# Main.

# Sourcing this file (BENCH_LIB=1) only defines the functions.
[ "${BENCH_LIB:-0}" = 1 ] && return 0

check_tools
lib_init
mkdir -p "$SCRATCH/log"
if pgrep -f 'system-.*\.sh|run-tests\.sh' >/dev/null 2>&1; then
    log "WARNING: the test suite is running: results will be noisy"
fi
build_helpers
[ "$NETEM" = 1 ] && { delay_method || die "cannot set up a probe namespace"; }
START=$(now_ms)
log "scratch $SCRATCH, namespaces $NS_PREFIX-*; DURATION=$DURATION QUICK=$QUICK NETEM=$NETEM ($NETEM_DELAY_MS ms) LEVERS=$LEVERS"

want ceiling && run_contender ceiling topo_ceiling
want ssh-tap && run_contender ssh-tap topo_sshtap
want ssh-w && run_contender ssh-w topo_sshw
want geneve && run_contender geneve topo_geneve
want offload && [ "$OFFLOAD" = 1 ] && run_offload
want idle && idle_ports
if want levers && [ "$LEVERS" = 1 ]; then
    TAP_CIPHER=chacha20-poly1305@openssh.com lever chacha20
    lever compression compression=true
fi

log "done in $(( ($(now_ms) - START) / 1000 )) s"
if [ -n "${BENCH_RESULTS:-}" ]; then
    report | tee "$BENCH_RESULTS"
else
    report
fi
