#!/bin/bash
# Hostile input: a peer that speaks the framing protocol badly, or not at
# all, must cost its own link and nothing else.
#
#   VM a1 --- site a: br0 --q1 (active) ==SSH==> sshd at b --> br0 q1 (passive) --- VM b1
#                                  a hostile peer --unix socket--> site b: br1 p1 (passive)
#
# The hostile peer is a small python3 program, tests/hostile-peer.py, that
# connects straight to p1's socket as root, as sshd would on behalf of a
# logged-in account, and sends garbage, absurd lengths, nonzero flags, data
# before hello, truncated messages, oversize frames, a flood of tiny
# frames, or opens and closes many connections.  After each case:
# vswitchd at b is alive, p1 is back to listening (the link was closed, by
# vswitchd for a protocol violation), the counters say what happened, the
# q1 link never went down and VM a1 still reaches b1 across it, and
# vswitchd's threads and fds are back to the baseline.
#
# p1 runs with options:keepalive_interval=1: a peer that stops in the middle
# of a message is declared silent after 3 s, which bounds every case.
#
# Needs root.  Usage: tests/system-hostile.sh

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-hostile
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup garbage absurd-length nonzero-flags data-before-hello \
    truncated hostile-hello oversize flood rapid-connections no-long-poll
lib_init

READY=0
PEER=$LIB_DIR/hostile-peer.py
SOCK=

# ---------------------------------------------------------------------------
# The hostile peer (tests/hostile-peer.py says what each ACTION does).

# peer ACTION [N]: runs the hostile peer against p1; its output goes to
# stderr, and into REASON if it fails.
peer() {
    local out rc
    out=$(lib_run timeout --foreground 120 python3 "$PEER" "$SOCK" "$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/  peer: /' >&2
    [ "$rc" -eq 0 ] && return 0
    REASON="hostile peer ($*): $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
    return 1
}

# ---------------------------------------------------------------------------
# Counters and health.

# show_field PORT FIELD: from "ovs-appctl ssh-tap/show PORT" at site b:
# state, rx_frames, rx_dropped or rx_errors.
show_field() {
    local out
    out=$(site_appctl b ssh-tap/show "$1") || return 1
    case $2 in
        state) printf '%s\n' "$out" | sed -n '1s/^port [^:]*: [a-z]*, //p' ;;
        rx_frames) printf '%s\n' "$out" | sed -n 's/.* received (\([0-9]*\) frames).*/\1/p' ;;
        rx_dropped) printf '%s\n' "$out" | sed -n 's/.*dropped: rx \([0-9]*\),.*/\1/p' ;;
        rx_errors) printf '%s\n' "$out" | sed -n 's/.*errors: rx \([0-9]*\)[ ,].*/\1/p' ;;
    esac
}

# coverage_total NAME: the total of coverage counter NAME at site b (0 if it
# was never hit).
coverage_total() {
    local v
    v=$(site_appctl b coverage/show | awk -v n="$1" '$1 == n { print $NF }')
    echo "${v:-0}"
}

# snapshot: the counters before a case.
snapshot() {
    ERR0=$(show_field p1 rx_errors)
    DROP0=$(show_field p1 rx_dropped)
    FRAMES0=$(show_field p1 rx_frames)
    PROTO0=$(coverage_total ssh_tap_protocol_error)
    OVERSIZE0=$(coverage_total ssh_tap_oversize)
    RESETS0_a=$(iface_get a q1 link_resets)
    RESETS0_b=$(iface_get b q1 link_resets)
    [ -n "$ERR0" ] && [ -n "$DROP0" ] && [ -n "$FRAMES0" ] \
        || why "cannot read p1's counters from ssh-tap/show" || return
}

grew() { [ "$("$@")" -gt "$GREW_FROM" ]; }

# counter_grows DESCRIPTION FROM COMMAND...: waits (5 s) until COMMAND
# prints a number greater than FROM.  Coverage totals are summed about
# once a second.
counter_grows() {
    local desc=$1
    GREW_FROM=$2
    shift 2
    wait_until "$desc to grow from $GREW_FROM" 5 grew "$@" \
        || why "$REASON (now $("$@"))" || return
}

p1_listening() { [ "$(show_field p1 state)" = listening ]; }
q1_up() { link_up a q1 && link_up b q1; }
ping_once() { vm_exec a1 ping -q -c 1 -W 1 "$B1_V4"; }

need_ready() {
    [ "$READY" -eq 1 ] && return 0
    REASON="setup failed"
    return 77
}

# after_case: what must hold after every case.
after_case() {
    local pid
    pid=$(site_pid b) || why "no pidfile for vswitchd at site b" || return
    kill -0 "$pid" 2>/dev/null && lib_alive "$pid" \
        || why "vswitchd at site b (pid $pid) died" || return
    wait_until "p1 at b back to listening" 10 p1_listening \
        || why "$REASON (state: $(show_field p1 state))" || return
    q1_up || why "the q1 link went down (a: $(iface_get a q1 link_state), b: $(iface_get b q1 link_state))" || return
    [ "$(iface_get a q1 link_resets)" = "$RESETS0_a" ] \
        && [ "$(iface_get b q1 link_resets)" = "$RESETS0_b" ] \
        || why "the q1 link was reset during the case" || return
    wait_until "a ping a1 -> b1 across q1" 10 ping_once || return
    wait_resources_back 10 b || return
    site_alive b || why "vswitchd at site b died" || return
}

# protocol_violation ACTION DESCRIPTION: the peer's ACTION must get the
# link closed as a protocol error: rx_errors and the coverage counter grow.
protocol_violation() {
    need_ready || return
    snapshot || return
    peer "$@" || return
    counter_grows "p1's rx_errors" "$ERR0" show_field p1 rx_errors || return
    counter_grows "coverage ssh_tap_protocol_error" "$PROTO0" \
        coverage_total ssh_tap_protocol_error || return
    after_case
}

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    if ! command -v python3 >/dev/null; then
        REASON="python3 is needed for the hostile peer"
        return 77
    fi
    [ -r "$PEER" ] || why "missing $PEER" || return
    two_sites_setup || return
    site_warm_up a a1 || why "warm-up at site a failed" || return
    site_warm_up b b1 || why "warm-up at site b failed" || return

    # The link that must keep working.
    site_vsctl b add-port br0 q1 -- set interface q1 type=ssh-tap \
        || why "add-port q1 at b" || return
    site_vsctl a add-port br0 q1 -- set interface q1 type=ssh-tap \
        options:remote="root@$(site_addr b)" options:key="$(site_client_key a)" \
        options:known_hosts="$(site_known_hosts a)" \
        options:remote_socket="$(site_dir b)/run/ssh-tap/q1.sock" \
        || why "add-port q1 at a" || return
    wait_until "q1 up on both sites" 20 q1_up || return
    vm_exec a1 timeout --foreground 20 ping -c 3 -W 2 "$B1_V4" >&2 \
        || why "ping a1 -> b1 across q1 failed" || return

    # The port under attack, on a bridge of its own.
    SOCK=$(site_dir b)/run/ssh-tap/p1.sock
    site_vsctl b add-br br1 -- set bridge br1 datapath_type=netdev -- \
        add-port br1 p1 -- set interface p1 type=ssh-tap \
        options:keepalive_interval=1 || why "add-port p1 at b" || return
    wait_until "$SOCK" 10 test -S "$SOCK" || return
    wait_until "p1 listening" 10 p1_listening || return

    resources_baseline b
    READY=1
}

case_garbage() { protocol_violation garbage 8; }
case_absurd_length() { protocol_violation absurd-length; }
case_nonzero_flags() { protocol_violation nonzero-flags; }
case_data_before_hello() { protocol_violation data-before-hello; }

# A HELLO from a "version 200" peer whose software string is junk: the link
# comes up (the higher version is fine), and what Interface:status shows of
# the string is at most 64 bytes of printable ASCII.
# shellcheck disable=SC2016
case_hostile_hello() {
    local fifo=$SCRATCH/hello.fifo pid sw ver n
    need_ready || return
    snapshot || return
    rm -f "$fifo"
    mkfifo "$fifo" || return
    lib_spawn stap-peer "$SCRATCH/hello.out" "$SCRATCH/hello.err" \
        sh -c 'exec python3 "$1" "$2" hostile-hello < "$3"' sh "$PEER" "$SOCK" "$fifo"
    pid=$LAST_PID
    exec 7<>"$fifo"
    if ! wait_until "p1 at b up with the junk hello" 10 eval '[ "$(show_field p1 state)" = up ]'; then
        exec 7>&-
        why "$REASON; peer: $(cat "$SCRATCH/hello.out" "$SCRATCH/hello.err")"
        return 1
    fi
    # The database is updated from the status after a change.
    wait_until "p1's status to show peer_version" 10 \
        eval '[ -n "$(iface_get b p1 status:peer_version)" ]'
    ver=$(iface_get b p1 status:peer_version)
    sw=$(site_vsctl b get interface p1 status:peer_software)
    lib_log "hostile-hello: peer_version $ver, peer_software $sw"
    lib_log "hostile-hello: ssh-tap/show: $(site_appctl b ssh-tap/show p1 | sed -n '/peer:/p')"
    echo >&7
    exec 7>&-
    wait_until "the hostile peer to finish" 10 lib_dead "$pid" || return
    wait "$pid"
    n=$?
    sed 's/^/  peer: /' "$SCRATCH/hello.out" "$SCRATCH/hello.err" >&2
    [ "$n" -eq 0 ] || why "hostile peer: $(cat "$SCRATCH/hello.out")" || return
    [ "$ver" = 200 ] || why "peer_version is '$ver', the peer said 200" || return
    sw=${sw#\"}
    sw=${sw%\"}
    # ovs-vsctl escapes '"' and '\' in strings: undo that before counting.
    sw=$(printf '%s' "$sw" | sed 's/\\\(.\)/\1/g')
    [ "${#sw}" -le 64 ] || why "peer_software is ${#sw} bytes long: '$sw'" || return
    case $sw in
        *[![:print:]]*) why "peer_software holds unprintable bytes: '$sw'"; return 1 ;;
    esac
    after_case
}

case_truncated() {
    need_ready || return
    snapshot || return
    peer truncated || return
    after_case || return
    lib_log "truncated: p1 last error: $(iface_get b p1 status:last_error)"
}

# test_ge NAME MIN: p1's statistics:NAME at site b is at least MIN.
test_ge() { [ "$(stat "$1")" -ge "$2" ]; }

# stat NAME: Interface:statistics:NAME of p1 at site b (0 if absent).
stat() {
    local v
    v=$(iface_get b p1 "statistics:$1" 2>/dev/null)
    printf '%s\n' "${v:-0}"
}

case_oversize() {
    local drop err over0 under0
    need_ready || return
    snapshot || return
    over0=$(stat rx_oversize_errors)
    under0=$(stat rx_undersized_errors)
    peer oversize || return
    # 2000 bytes is more than MTU 1500 + 18; 10 and 0 are less than an
    # Ethernet header.  All three are dropped and counted, the link lived on.
    drop=$(show_field p1 rx_dropped)
    err=$(show_field p1 rx_errors)
    [ "$drop" -ge $((DROP0 + 3)) ] \
        || why "rx_dropped went from $DROP0 to $drop, expected +3" || return
    [ "$err" -ge $((ERR0 + 3)) ] \
        || why "rx_errors went from $ERR0 to $err, expected +3" || return
    counter_grows "coverage ssh_tap_oversize" "$OVERSIZE0" \
        coverage_total ssh_tap_oversize || return
    # The same drops, as OVS shows them in Interface:statistics.
    wait_until "rx_oversize_errors to count the 2000-byte frame" 10 \
        test_ge rx_oversize_errors $((over0 + 1)) || return
    wait_until "rx_undersized_errors to count the 10- and 0-byte frames" 10 \
        test_ge rx_undersized_errors $((under0 + 2)) || return
    [ "$(coverage_total ssh_tap_protocol_error)" = "$PROTO0" ] \
        || why "oversize frames counted as protocol errors" || return
    after_case
}

case_flood() {
    local n=10000 frames drop valid short
    need_ready || return
    snapshot || return
    peer flood "$n" || return
    # Sizes cycle through 0..63: those under 14 bytes are dropped.
    short=$(( (n / 64) * 14 + ( n % 64 < 14 ? n % 64 : 14 ) ))
    valid=$((n - short))
    frames=$(show_field p1 rx_frames)
    drop=$(show_field p1 rx_dropped)
    [ "$frames" -eq $((FRAMES0 + valid)) ] \
        || why "p1 received $((frames - FRAMES0)) frames, expected $valid" || return
    [ "$drop" -ge $((DROP0 + short)) ] \
        || why "p1 dropped $((drop - DROP0)) frames, expected $short" || return
    [ "$(show_field p1 rx_errors)" -eq $((ERR0 + short)) ] \
        || why "rx_errors grew by $(( $(show_field p1 rx_errors) - ERR0 )), expected $short" || return
    after_case
}

case_rapid_connections() {
    need_ready || return
    snapshot || return
    peer rapid 50 || return
    after_case || return
    lib_log "rapid-connections: $RES_MSG; p1 links: $(iface_get b p1 status:links)"
}

# ---------------------------------------------------------------------------

run_case setup case_setup || exit "$?"
run_case garbage case_garbage
run_case absurd-length case_absurd_length
run_case nonzero-flags case_nonzero_flags
run_case data-before-hello case_data_before_hello
run_case truncated case_truncated
run_case hostile-hello case_hostile_hello
run_case oversize case_oversize
run_case flood case_flood
run_case rapid-connections case_rapid_connections
run_case no-long-poll check_no_long_poll
lib_finish
