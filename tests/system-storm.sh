#!/bin/bash
# Reconnect storm: 50 active ssh-tap ports of one site against one sshd that
# runs the platform's stock sshd_config, and that sshd restarted.
#
#   site a: br1 q0..q49 (active) ==50 SSH connections, one source address==>
#           sshd at site b (stock config) --unix sockets--> site b: br1
#           p0..p49 (passive)
#
# OpenSSH drops unauthenticated connections past MaxStartups (10:30:100 by
# default: from the 11th at once, with a probability that grows from 30 %
# to 100 % at the 100th), and since 9.8 its PerSourcePenalties (on by
# default) shut out an address whose connections end without authenticating
# (noauth), fail it (authfail) or crash the server.  A site that redials 50
# ports at once after its peer's sshd restarts meets both.  The cases:
#
#   setup         the sites; sshd at b with the stock config, overriding only
#                 its port, host key, pid file and authorized keys (and its
#                 log level, to see the penalties it records).
#   links-up      the 50 links come up.
#   restart-storm sshd at b killed with its sessions (by pid), started again
#                 after a few seconds: all 50 links up again within 30 s.
#   no-penalty    sshd's logs record no penalty for site a's address.
#   fresh-port    a 51st port, added after the storm, comes up at once.
#
# Times are printed as "MEASURE: NAME VALUE" lines, with the connections
# sshd dropped past MaxStartups.  The bridges have no flows (fail_mode
# secure), so that 50 parallel links make no loop; no traffic is sent.
#
# Needs root.  Usage: tests/system-storm.sh.  STORM_PORTS=N changes the
# number of ports (default 50), STORM_SSHD_DOWN_S how long sshd stays dead
# (default 4 s); STORM_SSHD_CONFIG names the stock sshd_config (default
# /usr/share/openssh/sshd_config, as Debian ships it, else
# /etc/ssh/sshd_config).

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-storm
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup links-up restart-storm no-penalty fresh-port
lib_init

N=${STORM_PORTS:-50}
RECOVERY_BOUND=30       # s from sshd's restart to every link up again.
SSHD_DOWN_S=${STORM_SSHD_DOWN_S:-4}   # how long sshd stays dead (s).
SSHD_PORT=22
STOCK=
KEYS_DIR=
READY=0

# The authorized keys live outside the scratch directory: sshd's StrictModes
# (on in the stock config) refuses a file under a world-writable directory
# such as /tmp.  The EXIT trap removes it, then runs lib.sh's cleanup.
storm_cleanup() {
    local rc=$?
    [ -n "$KEYS_DIR" ] && rm -rf "$KEYS_DIR"
    return "$rc"
}
trap 'storm_cleanup; lib_cleanup' EXIT

measure() {
    echo "MEASURE: $1 $2"
    lib_log "$SUITE: MEASURE $1 = $2"
}

# secs MS: milliseconds as seconds with two decimals.
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

need_ready() {
    [ "$READY" -eq 1 ] && return 0
    REASON="the links never came up"
    return 77
}

b_socket() { echo "$(site_dir b)/run/ssh-tap/$1.sock"; }

# n_up SITE: how many ssh-tap interfaces of SITE have link_state up.
n_up() {
    site_vsctl "$1" --bare --columns=link_state find interface type=ssh-tap \
        | grep -c '^up$'
}

all_up() { [ "$(n_up a)" -eq "$1" ] && [ "$(n_up b)" -eq "$1" ]; }
none_up() { [ "$(n_up a)" -eq 0 ] && [ "$(n_up b)" -eq 0 ]; }

# up_report: "a: N up, b: N up" and one sample of a's errors, for REASON.
up_report() {
    echo "a: $(n_up a) up, b: $(n_up b) up; a's last errors:" \
         "$(site_vsctl a --bare --columns=status find interface \
                type=ssh-tap | grep -o 'last_error="[^"]*"' | sort \
                | uniq -c | head -n 3 | tr '\n' ' ')"
}

# add_ports FIRST LAST: passive ports pFIRST..pLAST at b and the matching
# active ports qFIRST..qLAST at a, each site's in one transaction.
add_ports() {
    local i args_a=() args_b=()
    for ((i = $1; i <= $2; i++)); do
        args_b+=(-- add-port br1 "p$i" -- set interface "p$i" type=ssh-tap)
        args_a+=(-- add-port br1 "q$i" -- set interface "q$i" type=ssh-tap
                 "options:remote=root@$(site_addr b)"
                 "options:key=$(site_client_key a)"
                 "options:known_hosts=$(site_known_hosts a)"
                 "options:remote_socket=$(b_socket "p$i")")
    done
    site_vsctl b "${args_b[@]}" || return 1
    site_vsctl a "${args_a[@]}"
}

# ---------------------------------------------------------------------------
# sshd with the stock configuration.

sshd_listening_any() {
    [ -n "$(ip netns exec "$(site_ns b)" ss -Hltn "sport = :$SSHD_PORT")" ]
}

# stock_sshd_start: sshd at b on every address of its namespace, with a
# configuration that sets the test's own port, host key, pid file and
# authorized keys, then includes the stock one unchanged (for each of these
# keywords sshd keeps the first value it reads).
stock_sshd_start() {
    local d cfg pid
    d=$(site_dir b)/ssh
    cfg=$d/sshd_config
    cat > "$cfg" <<EOF
# sshd for the ssh-tap storm test: the stock configuration, plus only what
# the test needs of its own.
Port $SSHD_PORT
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $KEYS_DIR/authorized_keys
# Logging only: VERBOSE is the level at which sshd records a penalty.
LogLevel VERBOSE
Include $STOCK
EOF
    "$SSHD" -t -f "$cfg" || why "sshd rejects $cfg" || return
    [ -f "$d/sshd.log" ] && mv "$d/sshd.log" "$d/sshd.log.$(now_ms)"
    rm -f "$d/sshd.pid"
    lib_spawn "sshd@b" /dev/null "$d/sshd.log" \
        ip netns exec "$(site_ns b)" "$SSHD" -D -e -f "$cfg"
    wait_until "sshd of site b listening on port $SSHD_PORT" 10 \
        sshd_listening_any || return
    wait_until "sshd's pid file" 5 test -s "$d/sshd.pid" || return
    pid=$(cat "$d/sshd.pid")
    if [ "$pid" != "$LAST_PID" ]; then
        lib_register "$pid" "sshd@b"
    fi
}

# safe_path DIR: DIR and each directory above it belong to root and are
# writable by nobody else, as sshd's StrictModes wants of authorized_keys.
safe_path() {
    local d=$1
    while :; do
        [ -n "$(find "$d" -maxdepth 0 -user 0 ! -perm /022 2>/dev/null)" ] \
            || return 1
        [ "$d" = / ] && return 0
        d=$(dirname "$d")
    done
}

# maxstartups_drops: how many connections the sshd log on stdin says were
# dropped past MaxStartups, counting those its rate limit left out.
maxstartups_drops() {
    awk 'tolower($0) ~ /drop connection .*maxstartups/ { n++ }
         /[Mm]ax[Ss]tartups logging rate-limited/ {
             for (i = 1; i < NF; i++) if ($i == "additional") n += $(i + 1)
         }
         END { print n + 0 }'
}

# sshd_logs: every log of b's sshd in this run.
sshd_logs() { cat "$(site_dir b)"/ssh/sshd.log*; }

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    local d f
    for f in "${STORM_SSHD_CONFIG:-}" /usr/share/openssh/sshd_config \
             /etc/ssh/sshd_config; do
        if [ -n "$f" ] && [ -r "$f" ]; then
            STOCK=$f
            break
        fi
    done
    [ -n "$STOCK" ] || { REASON="no stock sshd_config"; return 77; }
    lib_log "stock sshd_config: $STOCK; $("$SSHD" -V 2>&1)"

    # A directory that passes StrictModes: under the first of these whose
    # every component is root's and writable by nobody else.
    for d in /run /var/lib; do
        safe_path "$d" || continue
        KEYS_DIR=$(mktemp -d "$d/ssh-tap-storm.XXXXXX") \
            || why "mktemp under $d failed" || return
        chmod 0755 "$KEYS_DIR"
        break
    done
    if [ -z "$KEYS_DIR" ]; then
        REASON="neither /run nor /var/lib is a path that sshd's StrictModes accepts for authorized_keys"
        return 77
    fi

    site_start a || why "site a did not start" || return
    site_start b || why "site b did not start" || return
    underlay_connect a b || why "underlay: $REASON" || return
    d=$(site_dir b)/ssh
    ssh-keygen -q -t ed25519 -N '' -C "ssh-tap-test-host-b" \
        -f "$d/ssh_host_ed25519_key" || why "ssh-keygen failed" || return
    : > "$d/authorized_keys"
    echo "$SSHD_PORT" > "$d/port"
    ssh_client_setup a b || why "client key setup failed" || return
    install -m 0600 "$d/authorized_keys" "$KEYS_DIR/authorized_keys"
    mkdir -p /run/sshd && chmod 0755 /run/sshd
    stock_sshd_start || why "stock sshd at b: $REASON" || return
    site_ssh a b true \
        || why "ssh a -> b with the stock sshd_config failed" || return
    for s in a b; do
        site_vsctl "$s" add-br br1 -- set bridge br1 datapath_type=netdev \
            fail_mode=secure || why "add-br br1 at $s failed" || return
    done
}

case_links_up() {
    local t0 ms
    t0=$(now_ms)
    add_ports 0 $((N - 1)) || why "adding the ports failed" || return
    if ! wait_until "$N links up on both sites" 90 all_up "$N"; then
        why "$REASON ($(up_report))"
        return 1
    fi
    ms=$(( $(now_ms) - t0 ))
    measure "storm-initial-up-s" "$(secs "$ms")"
    READY=1
}

case_restart_storm() {
    local t0 ms drops
    need_ready || return
    sshd_kill b || return
    wait_until "every link down after sshd's death" 20 none_up || return
    sleep "$SSHD_DOWN_S"
    t0=$(now_ms)
    stock_sshd_start || why "restarting sshd at b: $REASON" || return
    if ! wait_until "$N links up again" $((RECOVERY_BOUND + 30)) \
            all_up "$N"; then
        why "$REASON ($(up_report))"
        return 1
    fi
    ms=$(( $(now_ms) - t0 ))
    measure "storm-restart-up-s" "$(secs "$ms")"
    drops=$(maxstartups_drops < "$(site_dir b)/ssh/sshd.log")
    measure "storm-restart-maxstartups-drops" "$drops"
    [ "$ms" -le $((RECOVERY_BOUND * 1000)) ] \
        || why "all $N links up again only after $(secs "$ms") s, more than $RECOVERY_BOUND s" \
        || return
}

case_no_penalty() {
    local addr lines
    need_ready || return
    addr=$(site_addr a)
    lines=$(sshd_logs | grep -i 'penalt' | grep -F "$addr")
    [ -z "$lines" ] \
        || why "sshd penalised site a ($addr): $(echo "$lines" | head -n 3)" \
        || return
}

case_fresh_port() {
    local t0
    need_ready || return
    t0=$(now_ms)
    add_ports "$N" "$N" || why "adding a fresh port failed" || return
    wait_until "the fresh port q$N up" 10 link_up a "q$N" \
        || why "$REASON (status: $(iface_get a "q$N" status))" || return
    link_up b "p$N" || why "p$N at b not up" || return
    measure "storm-fresh-port-up-s" "$(secs $(( $(now_ms) - t0 )))"
}

run_case setup case_setup || exit 1
run_case links-up case_links_up
run_case restart-storm case_restart_storm
run_case no-penalty case_no_penalty
run_case fresh-port case_fresh_port
lib_finish
