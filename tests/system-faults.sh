#!/bin/bash
# Fault tests: an ssh-tap link between two sites must survive the far sshd
# being killed, underlay outages, wrong configuration and a lossy, slow path,
# and come back by itself (or say clearly in Interface:status what is
# wrong), without a vswitchd crash, leaked fds or threads, or an
# "Unreasonably long ... poll interval" in vswitchd's log.
#
#   VM a1 --- site a: br0 --p1 (active) ==SSH over ul0 (192.0.2.0/24)==>
#             sshd at site b --unix socket--> site b: br0 p1 (passive) --- VM b1
#
# Both p1 ports run with options:keepalive_interval=1, so that a link whose
# peer went silent (a half-open TCP connection under a firewall drop) is
# declared dead after 3 s instead of the default 15 s: the outage cases stay
# short, and a 10 s cut is guaranteed to be detected.
#
# Each case ends with the link up again on both sites, a ping a1 -> b1
# answered, both vswitchds alive and their thread and fd counts back to the
# baseline taken after setup (with the link up).  Recovery times are printed
# as "MEASURE: NAME VALUE" lines.
#
# Impairments (drop, loss, delay) use netem on ul0 where the kernel has it
# (sch_netem).  Otherwise a small user-space "wire" does the same: two tap
# devices "ul1", one in each site namespace, joined by a python3 process
# (tests/impair-wire.py) that drops and delays frames, with /32 routes that
# steer the sites' traffic to each other's underlay address through it (the
# TCP connection under SSH keeps its addresses and simply takes the
# impaired path).  Force one with
# SSH_TAP_TEST_IMPAIR=netem|wire.
#
# Needs root.  Usage: tests/system-faults.sh

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-faults
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup sshd-restart outage-3s outage-10s wrong-host-key \
    missing-key far-socket-absent loss-delay no-long-poll
lib_init

KEEPALIVE=1             # options:keepalive_interval on both ends (s).
MAX_BACKOFF=8           # the default options:max_backoff (s).
RECOVERY_BOUND=$((MAX_BACKOFF + 2))
SSHD_DOWN_S=8           # how long sshd stays dead in sshd-restart.
LINK_IS_UP=0
IMPAIR=
IMPAIR_PID=

# ---------------------------------------------------------------------------
# Helpers.

b_socket() { echo "$(site_dir b)/run/ssh-tap/$1.sock"; }

# a_opts: the options of site a's p1 as the cases expect them between
# faults.
a_opts() {
    echo "options:remote=root@$(site_addr b)" \
         "options:key=$(site_client_key a)" \
         "options:known_hosts=$(site_known_hosts a)" \
         "options:remote_socket=$(b_socket p1)" \
         "options:keepalive_interval=$KEEPALIVE"
}

# p1_restore: puts site a's p1 options back as a_opts says (a no-op for the
# port if they already are).
p1_restore() {
    # shellcheck disable=SC2046
    site_vsctl a -- clear interface p1 options -- set interface p1 $(a_opts)
}

both_up() { link_up a p1 && link_up b p1; }
neither_up() { ! link_up a p1 && ! link_up b p1; }

wait_link_up() {
    if ! wait_until "p1 link_state up on both sites" "${1:-20}" both_up; then
        REASON="$REASON (link_state a: $(iface_get a p1 link_state), b: $(iface_get b p1 link_state); a status: $(iface_get a p1 status))"
        return 1
    fi
}

need_link() {
    [ "$LINK_IS_UP" -eq 1 ] && return 0
    REASON="the link never came up"
    return 77
}

# prologue: the start of every fault case: undoes whatever an earlier case
# that failed half-way may have left (an impairment, ul0 down, sshd dead,
# p1's options, br1 at b), so that one failure does not drag the next cases
# down with it.
prologue() {
    need_link || return
    [ -n "$IMPAIR_PID" ] && impair_stop
    [ "$IMPAIR" = netem ] && impair_stop
    ip -n "$(site_ns a)" link set ul0 up
    if ! sshd_listening b "$(site_addr b)" "$(cat "$(site_dir b)/ssh/port")"; then
        sshd_restart b || why "sshd at b is gone and does not restart" || return
    fi
    site_vsctl b --if-exists del-br br1 || why "del-br br1 at b failed" || return
    p1_restore || why "restoring p1's options failed" || return
    wait_link_up 30 || why "the link was not up at the start of the case: $REASON" || return
}

# ping_fast: one ping a1 -> b1 that waits at most 0.3 s for the reply.
ping_fast() { vm_exec a1 ping -q -c 1 -W 0.3 "$B1_V4"; }

# secs MS: milliseconds as seconds with two decimals.
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

# measure NAME VALUE: one "MEASURE:" line on stdout, and on stderr.
measure() {
    echo "MEASURE: $1 $2"
    lib_log "$SUITE: MEASURE $1 = $2"
}

# recovery NAME T0: pings a1 -> b1 until it answers (at most 30 s), reports
# the seconds since T0 (ms) as MEASURE NAME, and fails if that is more than
# RECOVERY_BOUND.
recovery() {
    local name=$1 t0=$2 ms
    wait_until "a ping a1 -> b1 to be answered" 30 ping_fast || return
    ms=$(( $(now_ms) - t0 ))
    measure "$name" "$(secs "$ms")"
    [ "$ms" -le $((RECOVERY_BOUND * 1000)) ] \
        || why "traffic flowed again only after $(secs "$ms") s, more than max_backoff + 2 = $RECOVERY_BOUND s" \
        || return
}

vswitchds_alive() {
    local s pid
    for s in a b; do
        pid=$(site_pid "$s" 2>/dev/null) || why "no pidfile for vswitchd at site $s" || return
        kill -0 "$pid" 2>/dev/null && lib_alive "$pid" \
            || why "vswitchd at site $s (pid $pid) died" || return
    done
}

# healthy: the end of every case: link up, traffic flows, vswitchds alive,
# threads and fds back to the baseline.
healthy() {
    vswitchds_alive || return
    wait_link_up 20 || return
    wait_until "a ping a1 -> b1 to be answered" 10 ping_fast || return
    wait_resources_back 15 a b || return
    vswitchds_alive || return
    lib_log "healthy:$RES_MSG"
}

# last_error SITE PORT: status:last_error of the port (empty if none).
last_error() { iface_get "$1" "$2" status:last_error; }

last_error_has() {
    case $(last_error "$1" "$2") in
        *"$3"*) return 0 ;;
    esac
    return 1
}

# show_rx_frames SITE PORT: frames received, as ovs-appctl ssh-tap/show
# says (the statistics column is refreshed only every 5 s).
show_rx_frames() {
    site_appctl "$1" ssh-tap/show "$2" \
        | sed -n 's/.* received (\([0-9]*\) frames).*/\1/p'
}

# port_listening VM PORT: a TCP listener on PORT in VM.
port_listening() { [ -n "$(vm_exec "$1" ss -Hltn "sport = :$2")" ]; }

# ---------------------------------------------------------------------------
# Impairing the underlay: netem, or the user-space wire.

# impair_detect: sets IMPAIR to netem or wire, or returns 1.
impair_detect() {
    local ns
    ns=$(site_ns a)
    case ${SSH_TAP_TEST_IMPAIR:-} in
        netem | wire) IMPAIR=$SSH_TAP_TEST_IMPAIR; return 0 ;;
        '') ;;
        *) lib_log "SSH_TAP_TEST_IMPAIR must be netem or wire"; return 1 ;;
    esac
    if ip netns exec "$ns" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
        ip netns exec "$ns" tc qdisc del dev lo root
        IMPAIR=netem
        return 0
    fi
    command -v python3 >/dev/null || return 1
    [ -c /dev/net/tun ] || return 1
    IMPAIR=wire
}

# impair_start LOSS_AB DELAY_AB LOSS_BA DELAY_BA: from now on, what site a
# sends to site b's underlay address is lost with probability LOSS_AB % and
# delayed by DELAY_AB ms, and the other way round.
impair_start() {
    local r
    impair_setup "$@" && return 0
    r=${REASON:-setting up the impairment failed}
    impair_stop
    REASON=$r
    return 1
}

impair_setup() {
    local lab=$1 dab=$2 lba=$3 dba=$4 na nb aa ba
    na=$(site_ns a); nb=$(site_ns b)
    aa=$(site_addr a); ba=$(site_addr b)
    if [ "$IMPAIR" = netem ]; then
        ip netns exec "$na" tc qdisc add dev ul0 root netem loss "$lab%" delay "${dab}ms" \
            || why "tc netem at site a failed" || return
        if [ "$lba" != 0 ] || [ "$dba" != 0 ]; then
            ip netns exec "$nb" tc qdisc add dev ul0 root netem loss "$lba%" delay "${dba}ms" \
                || why "tc netem at site b failed" || return
        fi
        return 0
    fi
    rm -f "$SCRATCH/wire.ready"
    lib_spawn impair-wire /dev/null "$SCRATCH/wire.err" \
        python3 "$LIB_DIR/impair-wire.py" "$na" "$nb" ul1 "$lab" "$dab" "$lba" "$dba" \
        "$SCRATCH/wire.ready"
    IMPAIR_PID="$LAST_PID $(lib_starttime "$LAST_PID")"
    wait_until "the impairment wire" 10 test -s "$SCRATCH/wire.ready" \
        || why "impair-wire.py did not start: $(cat "$SCRATCH/wire.err")" || return
    ip -n "$na" link set ul1 address 02:5e:00:00:01:01 up \
        && ip -n "$nb" link set ul1 address 02:5e:00:00:01:02 up \
        && ip -n "$na" neigh replace "$ba" lladdr 02:5e:00:00:01:02 dev ul1 nud permanent \
        && ip -n "$nb" neigh replace "$aa" lladdr 02:5e:00:00:01:01 dev ul1 nud permanent \
        || why "setting up the wire's tap devices failed" || return
    # The steering: the more specific route wins, so established
    # connections move to the wire at once (and back when it goes).
    ip -n "$na" route add "$ba/32" dev ul1 src "$aa" \
        && ip -n "$nb" route add "$aa/32" dev ul1 src "$ba" \
        || why "routing through the wire failed" || return
}

impair_stop() {
    local na nb
    na=$(site_ns a); nb=$(site_ns b)
    if [ "$IMPAIR" = netem ]; then
        ip netns exec "$na" tc qdisc del dev ul0 root 2>/dev/null
        ip netns exec "$nb" tc qdisc del dev ul0 root 2>/dev/null
        return 0
    fi
    ip -n "$na" route del "$(site_addr b)/32" dev ul1 2>/dev/null
    ip -n "$nb" route del "$(site_addr a)/32" dev ul1 2>/dev/null
    if [ -n "$IMPAIR_PID" ]; then
        lib_kill_pids "$IMPAIR_PID"
        IMPAIR_PID=
    fi
}

need_impair() {
    [ -n "$IMPAIR" ] && return 0
    REASON="no way to impair the underlay here: no netem qdisc, and no python3 or /dev/net/tun"
    return 77
}

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    two_sites_setup || return
    site_warm_up a a1 || why "warm-up at site a failed" || return
    site_warm_up b b1 || why "warm-up at site b failed" || return

    site_vsctl b add-port br0 p1 -- set interface p1 type=ssh-tap \
        options:keepalive_interval="$KEEPALIVE" || why "add-port p1 at b" || return
    # shellcheck disable=SC2046
    site_vsctl a add-port br0 p1 -- set interface p1 type=ssh-tap $(a_opts) \
        || why "add-port p1 at a" || return
    wait_link_up 20 || return
    LINK_IS_UP=1
    vm_exec a1 timeout --foreground 20 ping -c 3 -W 2 "$B1_V4" >&2 \
        || why "ping a1 -> b1 failed" || return

    # The baseline: link up and used.
    resources_baseline a b
    lib_log "site a p1 status: $(iface_get a p1 status)"

    if impair_detect; then
        lib_log "impairments through: $IMPAIR"
    else
        lib_log "no way to impair the underlay here (no netem, python3 or /dev/net/tun)"
    fi
}

# 1. The far sshd dies (with its connections) in the middle of a transfer,
# stays away for SSHD_DOWN_S seconds (long enough for the backoff to reach
# max_backoff), and comes back.
case_sshd_restart() {
    # 60 chunks of 5 MiB, 0.1 s apart: the transfer lasts at least 6 s
    # however fast the link is, so sshd dies in the middle of it.
    local count=$SCRATCH/c1.count recv send t_kill t0 n rc
    local chunks=60 size=$((60 * 5 * 1024 * 1024))
    prologue || return
    lib_spawn nc-recv "$count" "$SCRATCH/c1.recv.err" \
        ip netns exec "$(vm_ns b1)" timeout 200 sh -c "nc -l $B1_V4 5001 | wc -c"
    recv=$LAST_PID
    wait_until "nc listening in b1" 10 port_listening b1 5001 || return
    lib_spawn nc-send /dev/null "$SCRATCH/c1.send.err" \
        ip netns exec "$(vm_ns a1)" timeout 180 \
        sh -c "for i in \$(seq $chunks); do head -c 5M /dev/zero; sleep 0.1; done | nc -N $B1_V4 5001"
    send=$LAST_PID
    sleep 1.5
    if ! lib_alive "$send"; then
        rc=0; wait "$send" || rc=$?
        why "the transfer ended (exit $rc) before sshd was killed: $(cat "$SCRATCH/c1.send.err"); receiver: $(cat "$SCRATCH/c1.recv.err" "$count" 2>/dev/null)"
        return
    fi

    sshd_kill b || return
    t_kill=$(now_ms)
    wait_until "p1 to go down on both sites after sshd died" 10 neither_up || return
    lib_log "sshd-restart: p1 down after $(secs $(( $(now_ms) - t_kill ))) s; a: $(last_error a p1)"
    while [ $(( $(now_ms) - t_kill )) -lt $((SSHD_DOWN_S * 1000)) ]; do
        sleep 0.2
    done
    lib_log "sshd-restart: a p1 status while sshd is away: $(iface_get a p1 status)"

    sshd_restart b || return
    t0=$(now_ms)
    recovery sshd-restart-recovery-s "$t0" || return

    # The transfer itself picks up again and completes, every byte there.
    wait_until "the transfer a1 -> b1 to finish" 150 lib_dead "$send" || return
    wait "$send"
    wait_until "the receiver in b1 to finish" 20 lib_dead "$recv" || return
    wait "$recv" 2>/dev/null
    n=$(tr -d ' \n' < "$count")
    [ "$n" = "$size" ] \
        || why "b1 received ${n:-nothing} bytes of $size after sshd came back" || return
    lib_log "sshd-restart: all $size bytes arrived"
    healthy
}

# 2a. The underlay's link at site a goes down for 3 s.
case_outage_3s() {
    local ns t0
    prologue || return
    ns=$(site_ns a)
    ip -n "$ns" link set ul0 down || why "ip link set ul0 down failed" || return
    sleep 3
    ip -n "$ns" link set ul0 up || why "ip link set ul0 up failed" || return
    t0=$(now_ms)
    lib_log "outage-3s: a p1 link_state $(iface_get a p1 link_state), last_error: $(last_error a p1)"
    recovery outage-3s-recovery-s "$t0" || return
    healthy
}

# 2b. Every packet between the sites dropped for 10 s, as by a firewall: no
# error reaches either end, the TCP connection under SSH is half-open, and
# only the keepalives can tell.
case_outage_10s() {
    local t_cut t0 seen_down=0 err="" log0 log now
    prologue || return
    need_impair || return
    log=$(site_dir a)/log/$VSWITCHD_NAME.log
    log0=$(wc -l < "$log")
    impair_start 100 0 100 0 || return
    t_cut=$(now_ms)
    while now=$(now_ms); [ $((now - t_cut)) -lt 10000 ]; do
        if [ "$seen_down" -eq 0 ] && ! link_up a p1; then
            seen_down=$((now - t_cut))
            [ "$seen_down" -gt 0 ] || seen_down=1
        fi
        if [ "$seen_down" -gt 0 ] && [ -z "$err" ]; then
            err=$(last_error a p1)
        fi
        sleep 0.2
    done
    [ -n "$err" ] || err=$(last_error a p1)
    lib_log "outage-10s: a p1 status at the end of the cut: $(iface_get a p1 status)"
    lib_log "outage-10s: b p1 link_state $(iface_get b p1 link_state), status: $(iface_get b p1 status)"
    impair_stop
    t0=$(now_ms)
    [ "$seen_down" -gt 0 ] \
        || why "p1 at site a still had link_state up after 10 s without a single packet through" \
        || return
    lib_log "outage-10s: p1 at site a went down $(secs "$seen_down") s into the cut; last_error: $err"
    case $err in
        *keepalive* | *SSH* | *ssh* | *"cannot connect"* | *Timeout* | *timeout*) ;;
        *)
            if tail -n +"$((log0 + 1))" "$log" | grep -q 'keepalives missed'; then
                lib_log "outage-10s: (the keepalive verdict is in the log)"
            else
                why "p1 at site a went down but last_error names neither keepalives nor an SSH error: '$err'"
                return 1
            fi
            ;;
    esac
    [ "$seen_down" -le $((4 * KEEPALIVE * 1000 + 2000)) ] \
        || why "p1 at site a took $(secs "$seen_down") s to notice the dead peer (keepalive_interval=$KEEPALIVE)" \
        || return
    measure outage-10s-keepalive-detect-s "$(secs "$seen_down")"
    recovery outage-10s-recovery-s "$t0" || return
    healthy
}

# 3. A pinned host key that is not the far host's: refused, both
# fingerprints in last_error, nothing crosses.
case_wrong_host_key() {
    local fp wrong rx0 rx1 t err pid
    prologue || return
    fp=$(site_hostkey_fp b)
    rm -f "$SCRATCH/otherkey" "$SCRATCH/otherkey.pub"
    ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/otherkey" || return
    wrong=$(ssh-keygen -lf "$SCRATCH/otherkey.pub" | awk '{print $2}')
    rx0=$(show_rx_frames b p1)
    [ -n "$rx0" ] || why "cannot read p1's frame count at b from ssh-tap/show" || return
    site_vsctl a remove interface p1 options known_hosts -- \
        set interface p1 options:host_key="$wrong" || why "setting host_key failed" || return
    wait_until "p1 to go down on both sites" 10 neither_up || return
    # Traffic that would cross if the link came up.
    vm_exec a1 timeout --foreground 10 ping -q -c 8 -i 0.5 -W 1 "$B1_V4" >/dev/null 2>&1 &
    pid=$!
    t=$(( $(now_ms) + 5000 ))
    while [ "$(now_ms)" -lt "$t" ]; do
        if link_up a p1 || link_up b p1; then
            wait "$pid"
            why "p1 came up with the wrong pinned host key $wrong"
            return 1
        fi
        sleep 0.2
    done
    wait "$pid"
    err=$(last_error a p1)
    lib_log "wrong-host-key: a p1 status: $(iface_get a p1 status)"
    case $err in
        *"expected $wrong"*"got $fp"*) ;;
        *) why "last_error does not say 'expected $wrong' and 'got $fp': '$err'"; return 1 ;;
    esac
    case $err in
        *"expected SHA256:"*"got SHA256:"*) ;;
        *) why "last_error lacks 'expected SHA256:' / 'got SHA256:': '$err'"; return 1 ;;
    esac
    rx1=$(show_rx_frames b p1)
    [ "$rx1" = "$rx0" ] \
        || why "p1 at site b received frames with the wrong host key: $rx0 -> $rx1 frames" \
        || return

    site_vsctl a set interface p1 options:host_key="$fp" || why "fixing host_key failed" || return
    wait_link_up 20 || return
    lib_log "wrong-host-key: up with host_key=$fp"
    p1_restore || why "restoring p1's options failed" || return
    healthy
}

# 4. The private key file does not exist.
case_missing_key() {
    local err
    prologue || return
    site_vsctl a set interface p1 options:key=/nonexistent/ssh-tap-key \
        || why "setting key failed" || return
    wait_until "p1's last_error to name /nonexistent/ssh-tap-key" 10 \
        last_error_has a p1 /nonexistent/ssh-tap-key \
        || why "$REASON; last_error: '$(last_error a p1)'" || return
    err=$(last_error a p1)
    lib_log "missing-key: last_error: $err"
    neither_up || why "p1 is up without a key" || return
    p1_restore || why "restoring p1's options failed" || return
    healthy
}

# 5. The far socket is absent: the channel is refused.  When a port comes
# to listen there the link comes up by itself (within max_backoff + 2 s);
# pointing back at the right socket recovers the usual link.
case_far_socket_absent() {
    local sock err t0 ms
    prologue || return
    sock=$(b_socket p5)
    site_vsctl a set interface p1 options:remote_socket="$sock" \
        || why "setting remote_socket failed" || return
    wait_until "p1's last_error to say the channel to $sock was refused" 15 \
        last_error_has a p1 "refused to open a channel to $sock" \
        || why "$REASON; last_error: '$(last_error a p1)'" || return
    err=$(last_error a p1)
    lib_log "far-socket-absent: last_error: $err"
    neither_up || why "p1 is up without a far socket" || return

    # A passive port p5 at b, on a bridge of its own.
    site_vsctl b add-br br1 -- set bridge br1 datapath_type=netdev -- \
        add-port br1 p5 -- set interface p5 type=ssh-tap \
        options:keepalive_interval="$KEEPALIVE" || why "adding p5 at b failed" || return
    wait_until "$sock to appear" 10 test -S "$sock" || return
    t0=$(now_ms)
    wait_until "p1 at a to come up with p5 at b" 30 link_up a p1 || return
    ms=$(( $(now_ms) - t0 ))
    measure far-socket-appears-recovery-s "$(secs "$ms")"
    [ "$ms" -le $((RECOVERY_BOUND * 1000)) ] \
        || why "p1 came up $(secs "$ms") s after the far socket appeared, more than $RECOVERY_BOUND s" \
        || return
    wait_until "p5 at b to come up" 10 link_up b p5 || return

    p1_restore || why "restoring p1's options failed" || return
    wait_link_up 20 || return
    site_vsctl b del-br br1 || why "del-br br1 at b failed" || return
    healthy
}

# 6. 5% loss and 50 ms delay on site a's side of the underlay during an
# 8 MiB transfer a1 -> b1, checked end to end.  Sized for the worst
# congestion control: cubic manages about 1.3 Mbit/s at 5% loss and 50 ms
# RTT, so 8 MiB takes ~50 s there (BBR, as here, is much faster).
case_loss_delay() {
    local src=$SCRATCH/payload20 sum=$SCRATCH/c6.sha recv t0 ms rc s1 s2 rtt
    local size=$((8 * 1024 * 1024))
    prologue || return
    need_impair || return
    head -c "$size" /dev/urandom > "$src" || why "cannot write $src" || return
    s1=$(sha256sum < "$src")
    lib_spawn nc-recv "$sum" "$SCRATCH/c6.recv.err" \
        ip netns exec "$(vm_ns b1)" timeout 200 sh -c "nc -l $B1_V4 5002 | sha256sum"
    recv=$LAST_PID
    wait_until "nc listening in b1" 10 port_listening b1 5002 || return
    impair_start 5 50 0 0 || return
    # The impairment is really there: the underlay's RTT is 50 ms or more.
    rtt=$(ip netns exec "$(site_ns a)" ping -q -c 6 -i 0.2 -W 2 "$(site_addr b)" \
          | sed -n 's|^rtt min/avg/max/mdev = \([0-9]*\)\..*|\1|p')
    lib_log "loss-delay: underlay ping a -> b with the impairment: min rtt ${rtt:-?} ms"
    if [ -z "$rtt" ] || [ "$rtt" -lt 50 ]; then
        impair_stop
        why "the impairment is not in place: underlay min rtt '${rtt:-none}' ms"
        return 1
    fi
    t0=$(now_ms)
    vm_exec a1 timeout 150 nc -N "$B1_V4" 5002 < "$src"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        wait_until "the receiver in b1 to finish" 30 lib_dead "$recv"
        rc=$?
    fi
    ms=$(( $(now_ms) - t0 ))
    impair_stop
    [ "$rc" -eq 0 ] \
        || why "the 8 MiB transfer did not complete within 150 s with 5% loss and 50 ms delay (exit $rc after $(secs "$ms") s)" \
        || return
    wait "$recv" 2>/dev/null
    s2=$(cat "$sum")
    [ "$s1" = "$s2" ] || why "b1 received data with another sha256: $s2 (sent $s1)" || return
    [ "$ms" -gt 0 ] || ms=1
    measure loss5-delay50-transfer-s "$(secs "$ms")"
    measure loss5-delay50-mbit-s "$(secs $(( size * 8 / ms )))"
    rm -f "$src"
    healthy
}

# ---------------------------------------------------------------------------

run_case setup case_setup || exit 1
run_case sshd-restart case_sshd_restart
run_case outage-3s case_outage_3s
run_case outage-10s case_outage_10s
run_case wrong-host-key case_wrong_host_key
run_case missing-key case_missing_key
run_case far-socket-absent case_far_socket_absent
run_case loss-delay case_loss_delay
run_case no-long-poll check_no_long_poll
lib_finish
