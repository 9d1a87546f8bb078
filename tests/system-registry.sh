#!/bin/bash
# The mesh's control plane through SSH and TLS: ovs-ssh-tap-sync reaching
# its registry as ssh: and ssl: (issue 11, tests a-e).
#
#   site a: the registry, an ovsdb-server (SSH_Tap schema) on a unix socket
#           in a's namespace, also on tcp:192.0.2.1:6645 and, with a CA
#           made by the test, ssl:192.0.2.1:6646; plus the usual site
#           daemons (ovsdb-server, vswitchd, sshd on 22, sync)
#   site b: the usual site daemons
#   site c: the same, behind an nftables firewall in its namespace that
#           passes only TCP port 22, in and out (plus loopback and
#           established traffic)
#   site d: (case b only) a site whose sync pins a wrong host key for a
#   cluster: (case e only) a 3-member Raft registry in a namespace of its
#           own, each member on a unix socket, reached through the sshds of
#           a, b and c
#
#   VM a1   VM b1   VM c1         (198.51.100.1-3/24)
#     |       |       |
#   site a  site b  site c        (underlay 192.0.2.1-3/24 on a switch)
#
# Every sync reaches the registry as ssh:root@192.0.2.1:22:SOCKET: an SSH
# login to a's sshd and a direct-streamlocal@openssh.com channel to the
# registry's socket.
#
#   a-three-sites-ssh  the three syncs on ssh:; every VM pings every VM;
#                      the registry's clients are a's sshd, not the syncs
#   b-wrong-host-key   a sync pinned (--ssh-host-key) to a wrong key is
#                      refused, both fingerprints in its log and sync/show,
#                      and creates no port; the right pin then works
#   c-ssl              ssl: with the test's CA: the mesh comes up through
#                      it; a client certificate from another CA is refused
#   d-sshd-restart     a's sshd is killed and started again: the syncs
#                      reconnect, no port is recreated, and b1 -> c1 loses
#                      0 of 40 pings
#   e-raft-failover    a 3-member Raft registry on a comma-separated list
#                      of ssh: remotes loses its leader; a site added
#                      afterwards reaches every site
#   f-registry-account docs/deployment.md's recipe 5: an account that
#                      reaches a read-only replica of the registry and no
#                      other socket, no TCP, no session
#
# A case whose feature the programs under test do not have (no ssh: or
# ssl: remotes, no sync/show) reports SKIP with the reason, found by
# asking the programs themselves; once they have it, the case must pass.
#
# Needs root.  Usage: tests/system-registry.sh (finds tests/env.sh through
# $OVS_SSH_TAP_ENV, next to this script, or in ./tests/).

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-registry
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup a-three-sites-ssh b-wrong-host-key c-ssl \
    d-sshd-restart e-raft-failover f-registry-account
lib_init

if ! why_not=$(lib_check_mesh); then
    lib_report_rest FAIL "$why_not"
    exit 1
fi
for t in nft openssl; do
    if ! command -v "$t" >/dev/null 2>&1; then
        lib_report_rest SKIP "missing tool: $t"
        exit 77
    fi
done

SITES=(a b c)
declare -A SITE_NUM=([a]=1 [b]=2 [c]=3 [d]=4 [e]=5)
REG_TCP_PORT=6645
REG_SSL_PORT=6646
PKI=$SCRATCH/pki
MESH=0

# What the programs under test can do (probe_features): "yes", or empty
# with the reason in *_WHY.
HAVE_SSH=
SSH_WHY=
HAVE_SSL=
SSL_WHY=
HAVE_SHOW=
SHOW_WHY=
HAVE_CTL_SSH=

# The numbered sites (mesh_sites_start, mesh_keys, vm_of, vm_ip, ul_ip),
# the sync's ports (sync_ports, all_ports, ports_are) and the pings across
# the mesh (wait_mesh) are lib.sh's.

# ---------------------------------------------------------------------------
# The registry at site a, and how the sites reach it.

# The registry lives in a's directory; lib.sh's registry_ctl (the operator,
# on host a) uses its unix socket directly.
REG_DIR=$SCRATCH/site/a/registry
REG_SOCK=$REG_DIR/db.sock
REGISTRY=unix:$REG_SOCK

# reg_ssh [SOCKET]: the ssh: remote of the registry (or of SOCKET) through
# a's sshd.
reg_ssh() { echo "ssh:root@$(site_addr a):22:$REG_SOCK"; }
reg_ssl() { echo "ssl:$(site_addr a):$REG_SSL_PORT"; }
reg_tcp() { echo "tcp:$(site_addr a):$REG_TCP_PORT"; }

# ssh_opts SITE: sets SSH_OPTS to the ssh: options of SITE's sync (its own
# key; known_hosts holds every site's host key).
ssh_opts() {
    SSH_OPTS=(--ssh-key="$(site_client_key "$1")"
              --ssh-known-hosts="$(site_known_hosts "$1")")
}

# ssl_opts SITE [CLIENT]: sets SSL_OPTS to the ssl: options of SITE's sync,
# with CLIENT's key and certificate (default: SITE's).
ssl_opts() {
    local c=${2:-client-$1}
    SSL_OPTS=(--private-key="$PKI/$c.key" --certificate="$PKI/$c.crt"
              --ca-cert="$PKI/ca.crt")
}

# pki_make: a CA "ca" with a certificate for the registry and one client
# certificate per site, and a second CA "rogue" with one client
# certificate.
pki_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -subj "/CN=ssh-tap test CA $1" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.crt" 2>>"$PKI/log"
}
pki_cert() {
    local ca=$1 name=$2
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=$name" -keyout "$PKI/$name.key" -out "$PKI/$name.csr" \
        2>>"$PKI/log" || return 1
    openssl x509 -req -days 2 -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" \
        -CAkey "$PKI/$ca.key" -CAcreateserial -CAserial "$PKI/$ca.srl" \
        -out "$PKI/$name.crt" 2>>"$PKI/log" || return 1
    chmod 0600 "$PKI/$name.key"
}
pki_make() {
    local s
    mkdir -p "$PKI"
    pki_ca ca && pki_ca rogue || return 1
    pki_cert ca registry || return 1
    for s in "${SITES[@]}"; do
        pki_cert ca "client-$s" || return 1
    done
    pki_cert rogue rogue-client
}

# reg_start: the registry's ovsdb-server in a's namespace.
reg_start() {
    mkdir -p "$REG_DIR"
    "$OVSDB_TOOL" create "$REG_DIR/registry.db" "$SSH_TAP_SCHEMA" || return 1
    site_prefix a
    lib_spawn "ovsdb-server@registry" /dev/null "$REG_DIR/stderr" \
        "${SITE_PREFIX[@]}" "$OVSDB_SERVER" --no-chdir \
        --log-file="$REG_DIR/ovsdb-server.log" \
        --pidfile="$REG_DIR/ovsdb-server.pid" \
        --unixctl="$REG_DIR/ovsdb-server.ctl" \
        --remote="punix:$REG_SOCK" \
        --remote="ptcp:$REG_TCP_PORT:$(site_addr a)" \
        --remote="pssl:$REG_SSL_PORT:$(site_addr a)" \
        --private-key="$PKI/registry.key" --certificate="$PKI/registry.crt" \
        --ca-cert="$PKI/ca.crt" "$REG_DIR/registry.db"
    wait_until "registry ovsdb-server" 20 test -S "$REG_SOCK" \
        || why "$REASON: $(cat "$REG_DIR/stderr")" || return
}

# reg_client_procs: the names of the processes connected to the registry's
# socket (from a's namespace; a client in another namespace does not show).
reg_client_procs() {
    local ns inodes
    ns=$(site_ns a)
    inodes=$(ip netns exec "$ns" ss -Hxn state established src "$REG_SOCK" \
                 | awk '{ print $7 }' | tr '\n' ' ')
    ip netns exec "$ns" ss -Hxpn state established \
        | awk -v want=" $inodes" 'index(want, " " $5 " ") {
              if (match($0, /users:\(\("[^"]*"/)) {
                  print substr($0, RSTART + 9, RLENGTH - 10)
              } else {
                  print "?"
              }
          }' | sort
}

# ---------------------------------------------------------------------------
# The syncs.

# sync_on SITE REMOTE ARGS...: starts SITE's sync on registry REMOTE (with
# a control socket when the sync has one).
sync_on() {
    local s=$1 REGISTRY=$2 extra=()
    shift 2
    [ -n "$HAVE_SHOW" ] && extra=(--unixctl="$(sync_ctl "$s")")
    sync_start "$s" "${extra[@]}" "$@"
}

# sync_ssh SITE [ARGS...]: SITE's sync on the registry through ssh:.
sync_ssh() {
    local s=$1
    shift
    ssh_opts "$s"
    sync_on "$s" "$(reg_ssh)" "${SSH_OPTS[@]}" "$@"
}

sync_ctl() { echo "$(site_dir "$1")/run/sync.ctl"; }

# sync_show SITE: ovs-appctl sync/show of SITE's sync.
sync_show() {
    timeout --foreground 10 "$OVS_APPCTL" --timeout=5 -t "$(sync_ctl "$1")" \
        sync/show
}

# sync_oneshot SITE ARGS...: a --dry-run (or --once) run of SITE's sync in
# its namespace, output on stdout.
sync_oneshot() {
    local s=$1 d
    shift
    d=$(site_dir "$s")
    site_exec "$s" timeout --foreground 30 "$SSH_TAP_SYNC" --site="$s" \
        --db="unix:$d/run/db.sock" --key="$(site_client_key "$s")" "$@" 2>&1
}

# sync_registry_connects SITE: how many times SITE's latest sync has
# connected to the registry (from its log).
sync_registry_connects() {
    grep -c 'registry .*connected' "$(sync_log "$1")"
}

# ---------------------------------------------------------------------------
# Site c's firewall.

# firewall_c: nftables in c's namespace: only TCP port 22, in (new
# connections to our sshd) and out (our syncs and ports dialing other
# sshds), plus loopback and the replies of those connections.  Nothing else,
# not even ICMP.
firewall_c() {
    local f=$SCRATCH/nft-c.rules
    cat > "$f" <<'EOF'
table inet regtest_c {
    chain input {
        type filter hook input priority 0; policy drop;
        iif lo accept
        ct state established,related accept
        tcp dport 22 ct state new accept
    }
    chain output {
        type filter hook output priority 0; policy drop;
        oif lo accept
        ct state established,related accept
        tcp dport 22 ct state new accept
    }
}
EOF
    ip netns exec "$(site_ns c)" nft -f "$f"
}

# tcp_open FROM HOST PORT: a TCP connection from FROM's namespace succeeds.
tcp_open() {
    ip netns exec "$(site_ns "$1")" timeout 5 nc -z -w 2 "$2" "$3" \
        >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# What the programs under test can do.

# probe_features: asks the sync (and the ctl) itself, with a --dry-run at
# site b, whether it has ssh: and ssl: registry remotes, and whether it has
# a control socket with sync/show.  A feature counts as missing only when
# the program says so in one of the ways a program without it does
# (unrecognized option, the placeholder stream's EAFNOSUPPORT, an unknown
# remote type); any other failure counts as present, so that the cases
# that use it fail and show why.
missing_feature() {
    grep -Eiq 'unrecognized option|unknown option|invalid option|Address family not supported|EAFNOSUPPORT|not supported|unsupported|unknown (remote|stream|method)|remote must be|expected unix:' <<< "$1"
}

# first_line TEXT: its first line, without the program's path and option
# values (for SKIP reasons).
first_line() {
    head -n 1 <<< "$1" | sed -E "s|^[^ ]*/||; s/=[^' ]*//g"
}

probe_features() {
    local out rc
    ssh_opts b
    out=$(sync_oneshot b --dry-run --timeout=10 --registry="$(reg_ssh)" \
              "${SSH_OPTS[@]}")
    rc=$?
    if [ "$rc" -eq 0 ] || ! missing_feature "$out"; then
        HAVE_SSH=yes
    else
        SSH_WHY="ovs-ssh-tap-sync has no ssh: registry remotes yet: $(first_line "$out")"
    fi
    lib_log "probe ssh: (rc $rc): $out"

    ssl_opts b
    out=$(sync_oneshot b --dry-run --timeout=10 --registry="$(reg_ssl)" \
              "${SSL_OPTS[@]}")
    rc=$?
    if [ "$rc" -eq 0 ] || ! missing_feature "$out"; then
        HAVE_SSL=yes
    else
        SSL_WHY="ovs-ssh-tap-sync has no ssl: registry remotes yet: $(first_line "$out")"
    fi
    lib_log "probe ssl: (rc $rc): $out"

    if "$SSH_TAP_SYNC" --help 2>&1 | grep -q -- '--unixctl'; then
        HAVE_SHOW=yes
    else
        SHOW_WHY="ovs-ssh-tap-sync has no control socket (--unixctl) for sync/show yet"
    fi

    ssh_opts a
    out=$(site_exec a timeout --foreground 20 "$SSH_TAP_CTL" \
              --db="$(reg_ssh)" "${SSH_OPTS[@]}" list-sites 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ] || ! missing_feature "$out"; then
        HAVE_CTL_SSH=yes
    fi
    lib_log "probe ctl over ssh: (rc $rc): $out"
    lib_log "features: ssh:${HAVE_SSH:-no} ssl:${HAVE_SSL:-no} sync/show:${HAVE_SHOW:-no} ctl-ssh:${HAVE_CTL_SSH:-no}"
}

need_mesh() {
    [ "$MESH" -eq 1 ] && return 0
    REASON="the three-site mesh never came up"
    return 77
}
need_ssh() {
    [ -n "$HAVE_SSH" ] && return 0
    REASON=$SSH_WHY
    return 77
}

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    local s
    pki_make || why "making the test CA failed: $(tail -n 3 "$PKI/log")" \
        || return
    mesh_sites_start "${SITES[@]}" || return
    # One key per site; every sshd accepts every site's key, its own too
    # (a's sync reaches the registry through a's own sshd).
    mesh_keys "${SITES[@]}" || return
    for s in "${SITES[@]}"; do
        ssh_client_setup "$s" "$s" || why "keys $s -> $s" || return
    done
    firewall_c || why "nftables in c's namespace failed" || return
    reg_start || return
    for s in "${SITES[@]}"; do
        registry_add_site "$s" || why "registering $s failed" || return
    done

    # The firewall does what it says: c reaches sshd on 22 but not the
    # registry's TCP port, which b reaches; nothing but TCP 22 reaches c.
    site_ssh c a true || why "ssh c -> a (port 22) failed through c's firewall" \
        || return
    site_ssh a c true || why "ssh a -> c (port 22) failed through c's firewall" \
        || return
    tcp_open b "$(site_addr a)" "$REG_TCP_PORT" \
        || why "b cannot reach the registry's TCP port" || return
    ! tcp_open c "$(site_addr a)" "$REG_TCP_PORT" \
        || why "c's firewall let a TCP connection to port $REG_TCP_PORT out" \
        || return
    ip netns exec "$(site_ns a)" ping -c 1 -W 1 "$(site_addr b)" >/dev/null \
        || why "a cannot ping b on the underlay" || return
    ! ip netns exec "$(site_ns a)" ping -c 1 -W 1 "$(site_addr c)" >/dev/null \
        || why "c's firewall let an ICMP echo in" || return

    probe_features
}

# a. Three sites, every sync on ssh:, c behind its firewall.
case_a() {
    local s procs n
    if [ -n "$HAVE_SSH" ]; then
        for s in "${SITES[@]}"; do
            sync_ssh "$s" || why "sync at $s" || return
        done
    else
        # Without ssh: the scene still runs, on unix: (every namespace
        # sees the socket), so that the other cases have their mesh.
        for s in "${SITES[@]}"; do
            sync_on "$s" "$REGISTRY" || why "sync at $s" || return
        done
    fi
    wait_until "every link up" 60 all_links_up "${SITES[@]}" \
        || why "$REASON: $(tail -n 3 "$(sync_log c)")" || return
    wait_mesh 60 "${SITES[@]}" || return
    MESH=1
    need_ssh || { REASON="$REASON (the mesh came up over unix: instead)"; return 77; }

    # The registry's clients are sshd (a's, for the three channels), not
    # the syncs themselves.  OpenSSH 9.8 and later run each session in
    # sshd-session (Debian 13), older ones in a forked sshd.
    # shellcheck disable=SC2016
    wait_until "three syncs connected through a's sshd" 10 eval \
        '[ "$(reg_client_procs | grep -Ec "^sshd(-session)?$")" -ge 3 ]' \
        || why "$REASON: the registry's clients: $(reg_client_procs | tr '\n' ' ')" \
        || return
    procs=$(reg_client_procs | tr '\n' ' ')
    lib_log "registry clients: $procs"
    n=$(reg_client_procs | grep -Evc '^sshd(-session)?$')
    [ "$n" -eq 0 ] || why "registry has clients other than sshd: $procs" \
        || return
    if [ -n "$HAVE_SHOW" ]; then
        for s in "${SITES[@]}"; do
            lib_log "site $s sync/show: $(sync_show "$s")"
            sync_show "$s" | grep -q "$(reg_ssh)" \
                || why "sync/show at $s does not name $(reg_ssh): $(sync_show "$s")" \
                || return
        done
    fi
}

# b. A pin to the wrong host key: refused, named, no port.
case_b() {
    local wrong right out rc
    ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/not-a-key" || return
    wrong=$(ssh-keygen -lf "$SCRATCH/not-a-key.pub" | awk '{ print $2 }')
    right=$(site_hostkey_fp a)
    # The ctl first: same login code, same refusal.
    if [ -n "$HAVE_CTL_SSH" ]; then
        out=$(site_exec b timeout --foreground 20 "$SSH_TAP_CTL" \
                  --db="$(reg_ssh)" --ssh-key="$(site_client_key b)" \
                  --ssh-host-key="$wrong" list-sites 2>&1)
        rc=$?
        lib_log "ctl pinned to a wrong key: rc $rc: $out"
        [ "$rc" -ne 0 ] || why "the ctl pinned to a wrong key listed: $out" \
            || return
        grep "$wrong" <<< "$out" | grep -q "$right" \
            || why "the ctl's error does not name both fingerprints: $out" \
            || return
    fi
    if ! need_ssh; then
        [ -n "$HAVE_CTL_SSH" ] \
            && REASON="ovs-ssh-tap-ctl refuses it, naming both fingerprints, but $REASON"
        return 77
    fi
    case_b_sync "$wrong" "$right"
    rc=$?
    # Whatever happened, d leaves the registry and the mesh.
    registry_ctl del-site d --if-exists
    [ -n "${SYNC_PIDS[d]:-}" ] \
        && wait_until "d's ports gone" 20 ports_are d ""
    sync_stop d
    return "$rc"
}

# case_b_sync WRONG RIGHT: site d's sync, pinned to WRONG and then to
# RIGHT, the fingerprint of a's host key.
case_b_sync() {
    local wrong=$1 right=$2 log t0 w0 w1 c0 out used
    site_start d || why "site d did not start" || return
    switch_connect d "$(ul_ip d)" || why "underlay of site d" || return
    mkdir -p "$(site_dir d)/ssh"
    ssh_client_setup d a || why "keys d -> a" || return
    # d takes no inbound SSH (no endpoint), so nobody dials it; were its
    # sync to read the registry, it would add a port to each other site.
    registry_ctl add-site d --login=root --rundir="$(site_dir d)/run" \
        || why "registering d failed" || return
    t0=$(now_ms)
    sync_on d "$(reg_ssh)" --ssh-key="$(site_client_key d)" \
        --ssh-host-key="$wrong" || why "sync at d" || return
    log=$(sync_log d)
    # shellcheck disable=SC2016
    wait_until "d's sync to log the refusal with both fingerprints" 20 eval \
        'grep "$wrong" "$log" | grep -q "$right"' \
        || why "$REASON: $(tail -n 5 "$log")" || return
    lib_log "refusal after $(measure_s $(( $(now_ms) - t0 ))) s: $(grep "$wrong" "$log" | head -n 1)"
    c0=$(cpu_ticks "${SYNC_PIDS[d]}")
    w0=$(now_ms)
    # A second attempt, refused again (it must not give in on a retry):
    # the login's own message, once per attempt.
    # shellcheck disable=SC2016
    wait_until "d's sync to be refused a second time" 30 eval \
        '[ "$(grep "stream_ssh" "$log" | grep "$wrong" | grep -c "$right")" -ge 2 ]' \
        || why "$REASON: $(tail -n 5 "$log")" || return
    ports_are d "" || why "d's sync created ports: $(sync_port_names d)" \
        || return
    # Refused, it should wait without burning CPU: at most a fifth of the
    # wall time, measured from the first refusal (clock ticks are 10 ms).
    w1=$(( w0 + 1500 ))
    [ "$(now_ms)" -lt "$w1" ] && sleep "$(measure_s $(( w1 - $(now_ms) )))"
    used=$(( ($(cpu_ticks "${SYNC_PIDS[d]}") - c0) * 10 ))
    w1=$(( $(now_ms) - w0 ))
    echo "MEASURE: registry-refused-sync-cpu-pct $(( used * 100 / w1 ))"
    [ $(( used * 5 )) -le "$w1" ] \
        || why "d's refused sync used $used ms of CPU in the $w1 ms after the refusal" \
        || return
    if [ -n "$HAVE_SHOW" ]; then
        out=$(sync_show d)
        lib_log "site d sync/show: $out"
        grep "$wrong" <<< "$out" | grep -q "$right" \
            || why "sync/show at d does not name both fingerprints: $out" \
            || return
    fi
    sync_stop d || why "stopping d's sync" || return

    # The same sync with the right pin reads the registry and makes d's
    # ports: the refusal above was the pin's doing.
    sync_on d "$(reg_ssh)" --ssh-key="$(site_client_key d)" \
        --ssh-host-key="$right" || why "sync at d" || return
    wait_until "d's ports with the right pin" 30 ports_are d "st-a st-b st-c " \
        || why "$REASON: $(sync_port_names d); $(tail -n 3 "$(sync_log d)")" \
        || return
    if [ -z "$HAVE_SHOW" ]; then
        REASON="refused with both fingerprints in the log and no port, but $SHOW_WHY"
        return 77
    fi
}

# c. ssl: with the test's CA.
case_c() {
    local s out rc
    need_mesh || return
    if [ -z "$HAVE_SSL" ]; then
        REASON=$SSL_WHY
        return 77
    fi
    # A client certificate from another CA is refused...
    ssl_opts b rogue-client
    out=$(sync_oneshot b --dry-run --timeout=8 --registry="$(reg_ssl)" \
              "${SSL_OPTS[@]}")
    rc=$?
    lib_log "rogue certificate: rc $rc: $out"
    [ "$rc" -ne 0 ] || why "a client certificate from another CA was accepted: $out" \
        || return
    ! grep -q 'nothing to do\|add st-' <<< "$out" \
        || why "the registry answered a client from another CA: $out" || return
    # ... for that reason, not another: the registry says so.
    grep -q 'certificate verify failed' "$REG_DIR/ovsdb-server.log" \
        || why "a client certificate from another CA failed, but the registry logged no 'certificate verify failed': $out" \
        || return
    # ... and the right one works.
    ssl_opts b
    out=$(sync_oneshot b --dry-run --timeout=15 --registry="$(reg_ssl)" \
              "${SSL_OPTS[@]}")
    rc=$?
    [ "$rc" -eq 0 ] || why "ssl: with the test CA's certificate failed ($rc): $out" \
        || return

    # The syncs of a and b move to ssl: (c's firewall keeps c on ssh:);
    # their ports go first, so the mesh has to come up through ssl:.
    for s in a b; do
        sync_stop "$s" || why "stopping the sync at $s" || return
        for p in $(sync_port_names "$s"); do
            site_vsctl "$s" del-port "$p" || why "del-port $p at $s" || return
        done
        ssl_opts "$s"
        sync_on "$s" "$(reg_ssl)" "${SSL_OPTS[@]}" || why "sync at $s" || return
    done
    wait_until "every link up" 60 all_links_up "${SITES[@]}" \
        || why "$REASON: a: $(tail -n 3 "$(sync_log a)")" || return
    wait_mesh 60 "${SITES[@]}" || return
    if [ -n "$HAVE_SHOW" ]; then
        for s in a b; do
            out=$(sync_show "$s")
            lib_log "site $s sync/show: $out"
            grep -q "$(reg_ssl)" <<< "$out" \
                || why "sync/show at $s does not name $(reg_ssl): $out" || return
        done
    fi
    # Back on ssh: for the cases that follow.
    for s in a b; do
        sync_stop "$s" && sync_ssh "$s" || why "sync at $s back on ssh:" || return
    done
    wait_until "a and b back on ssh:" 30 all_links_up "${SITES[@]}" || return
}

# reconnects SITE PORT: the port's status:reconnects (active end) or
# status:links (passive end), as "reconnects=N links=M".
reconnects() {
    echo "reconnects=$(iface_get "$1" "$2" status:reconnects) links=$(iface_get "$1" "$2" status:links)"
}

# cpu_ticks PID: the user plus system time PID has used, in clock ticks.
cpu_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo $(( ${12} + ${13} ))
}

# d. The registry host's sshd restarts.
case_d() {
    local s before after cb ca n0 pid out=$SCRATCH/restart-ping loss
    local t0 t1 tk used
    declare -A conns=() ticks=()
    need_mesh || return
    need_ssh || return
    for s in "${SITES[@]}"; do
        # shellcheck disable=SC2034 # read by the eval below
        conns[$s]=$(sync_registry_connects "$s")
    done
    before=$(all_ports "${SITES[@]}")
    cb="b:st-c $(reconnects b st-c); c:st-b $(reconnects c st-b)"
    lib_log "b-c link before: $cb"
    lib_spawn ping "$out" "$out.err" ip netns exec "$(vm_ns b1)" \
        ping -i 0.2 -c 40 -W 2 "$(vm_ip c)"
    pid=$LAST_PID
    sleep 1
    for s in "${SITES[@]}"; do
        ticks[$s]=$(cpu_ticks "${SYNC_PIDS[$s]}")
    done
    tk=$(now_ms)
    sshd_kill a || return
    sleep 1
    sshd_restart a || return
    t0=$(now_ms)
    for s in "${SITES[@]}"; do
        # shellcheck disable=SC2016
        wait_until "sync at $s to reconnect to the registry" 30 eval \
            '[ "$(sync_registry_connects "$s")" -gt "${conns[$s]}" ]' \
            || why "$REASON: $(tail -n 5 "$(sync_log "$s")")" || return
    done
    t1=$(now_ms)
    echo "MEASURE: registry-sshd-restart-to-every-sync-back-s $(measure_s $((t1 - t0)))"
    # Waiting for the registry should cost the syncs next to nothing: at
    # most a fifth of the outage in CPU.
    for s in "${SITES[@]}"; do
        used=$(( ($(cpu_ticks "${SYNC_PIDS[$s]}") - ticks[$s]) * 10 ))
        echo "MEASURE: registry-outage-sync-$s-cpu-pct $(( used * 100 / (t1 - tk) ))"
        [ $(( used * 5 )) -le $(( t1 - tk )) ] \
            || why "the sync at $s used $used ms of CPU in a $(( t1 - tk )) ms registry outage" \
            || return
    done
    wait_until "the ping across the restart to finish" 30 lib_dead "$pid" \
        || return
    wait "$pid" 2>/dev/null
    loss=$(ping_loss "$out")
    lib_log "sshd restart: b1 -> c1: $(grep transmitted "$out")"
    [ "$loss" = 0 ] \
        || why "b1 -> c1 across a's sshd restart lost ${loss:-?}%: $(grep transmitted "$out")" \
        || return
    wait_until "every link up again" 30 all_links_up "${SITES[@]}" || return
    after=$(all_ports "${SITES[@]}")
    [ "$before" = "$after" ] \
        || why "ports recreated: before [$before] after [$after]" || return
    ca="b:st-c $(reconnects b st-c); c:st-b $(reconnects c st-b)"
    [ "$cb" = "$ca" ] \
        || why "the b-c link reconnected: before [$cb] after [$ca]" || return
    for s in "${SITES[@]}"; do
        if grep -Eq '\|INFO\|site [a-z]+: (add|delete) ' "$(sync_log "$s")"; then
            n0=$(grep -Ec '\|INFO\|site [a-z]+: (add|delete) ' "$(sync_log "$s")")
            lib_log "site $s: $n0 add/delete lines in its log"
        fi
    done
    wait_mesh 30 "${SITES[@]}" || return
}

# The Raft members (lib.sh's cluster_start): member i is reached through
# the sshd of site MEMBER_HOST[i].
declare -A MEMBER_HOST=([1]=a [2]=b [3]=c)

# st_e_everywhere: every site has a port to e.
st_e_everywhere() {
    local s
    for s in "${SITES[@]}"; do
        sync_port_names "$s" | grep -q 'st-e ' || return 1
    done
}

# e. A 3-member Raft registry over ssh: loses its leader.
case_e() {
    local i s before after leader pid ssh_list="" unix_list t0 t1
    local ctl_db ctl_opts=()
    need_mesh || return
    need_ssh || return
    cluster_start || return
    unix_list=$CL_REMOTES
    for i in $MEMBERS; do
        ssh_list="$ssh_list${ssh_list:+,}ssh:root@$(site_addr "${MEMBER_HOST[$i]}"):22:$CL_DIR/m$i.sock"
    done
    # The operator fills the cluster with the same rows, so that moving
    # the syncs to it changes no port.
    local REGISTRY=$unix_list
    for s in "${SITES[@]}"; do
        registry_add_site "$s" || why "registering $s in the cluster" || return
    done
    before=$(all_ports "${SITES[@]}")
    for s in "${SITES[@]}"; do
        sync_stop "$s" || why "stopping the sync at $s" || return
        ssh_opts "$s"
        sync_on "$s" "$ssh_list" "${SSH_OPTS[@]}" || why "sync at $s" || return
    done
    for s in "${SITES[@]}"; do
        wait_until "sync at $s on the cluster to connect" 30 eval \
            "[ \"\$(sync_registry_connects $s)\" -ge 1 ]" \
            || why "$REASON: $(tail -n 5 "$(sync_log "$s")")" || return
    done
    sleep 1
    after=$(all_ports "${SITES[@]}")
    [ "$before" = "$after" ] \
        || why "moving to the cluster changed ports: before [$before] after [$after]" \
        || return
    for s in "${SITES[@]}"; do
        lib_log "site $s before: $(grep -h 'registry' "$(sync_log "$s")" | tail -n 2 | tr '\n' ' ')"
        [ -n "$HAVE_SHOW" ] && lib_log "site $s sync/show: $(sync_show "$s")"
    done

    leader=$(cluster_leader) || why "no leader in the cluster" || return
    pid=$(cat "$CL_DIR/m$leader.pid")
    lib_log "cluster: killing the leader, member $leader (pid $pid)"
    t0=$(now_ms)
    kill -KILL "$pid"
    wait_until "the leader to die" 10 lib_dead "$pid" || return
    # The operator adds a site through the surviving members (over ssh:
    # too when the ctl has it).
    if [ -n "$HAVE_CTL_SSH" ]; then
        ctl_db=$ssh_list
        ssh_opts a
        ctl_opts=("${SSH_OPTS[@]}")
    else
        ctl_db=$unix_list
    fi
    # shellcheck disable=SC2016
    wait_until "add-site e through the surviving members" 30 \
        site_exec a timeout --foreground 20 "$SSH_TAP_CTL" --db="$ctl_db" \
        "${ctl_opts[@]}" add-site e --may-exist --endpoint="$(ul_ip e)" \
        --login=root --host-key="$(site_hostkey_fp a)" \
        --rundir="$SCRATCH/site/e/run" || return
    t1=$(now_ms)
    echo "MEASURE: registry-raft-leader-kill-to-write-accepted-s $(measure_s $((t1 - t0)))"
    wait_until "st-e at every site" 30 st_e_everywhere \
        || why "$REASON: $(for s in "${SITES[@]}"; do echo "$s: $(sync_port_names "$s"); $(tail -n 3 "$(sync_log "$s")");"; done)" \
        || return
    echo "MEASURE: registry-raft-write-to-every-site-s $(measure_s $(( $(now_ms) - t1 )))"
    for s in "${SITES[@]}"; do
        lib_log "site $s after: $(grep -h 'registry' "$(sync_log "$s")" | tail -n 2 | tr '\n' ' ')"
        [ -n "$HAVE_SHOW" ] && lib_log "site $s sync/show: $(sync_show "$s")"
    done
    wait_mesh 30 "${SITES[@]}" || return
}

# f. The registry account of docs/deployment.md, recipe 5: an account
# (the system's "nobody", which the test does not change) whose Match
# block and authorized_keys let it reach one socket, a read-only replica of
# the registry, and nothing else.  OpenSSH's own client checks what sshd
# grants; the sync, when it has ssh:, reads the registry through it.
RO_DIR=$SCRATCH/site/a/registry-ro
RO_SOCK=$RO_DIR/ro.sock
REG_USER=nobody

# ro_start: the replica (ovsdb-server --sync-from the registry), its socket
# in a setgid directory of REG_USER's group, made under umask 0007.
ro_start() {
    local grp
    grp=$(id -gn "$REG_USER") || return 1
    install -d -m 2750 -o root -g "$grp" "$RO_DIR" || return 1
    "$OVSDB_TOOL" create "$REG_DIR/ro.db" "$SSH_TAP_SCHEMA" || return 1
    site_prefix a
    # shellcheck disable=SC2016
    lib_spawn "ovsdb-server@registry-ro" /dev/null "$REG_DIR/ro.stderr" \
        "${SITE_PREFIX[@]}" sh -c 'umask 0007 && exec "$@"' sh \
        "$OVSDB_SERVER" --no-chdir --log-file="$REG_DIR/ro.log" \
        --pidfile="$RO_DIR/ro.pid" --unixctl="$RO_DIR/ro.ctl" \
        --remote="punix:$RO_SOCK" --sync-from="unix:$REG_SOCK" "$REG_DIR/ro.db"
    wait_until "the read-only replica's socket" 20 test -S "$RO_SOCK" \
        || why "$REASON: $(cat "$REG_DIR/ro.stderr")" || return
}

# reg_account_sshd: the Match block and authorized_keys of recipe 5 in a's
# sshd, which re-reads its configuration on SIGHUP (same pid).
reg_account_sshd() {
    local d pid
    d=$(site_dir a)/ssh
    cat >> "$d/sshd_config" <<MATCH
Match User $REG_USER
    AuthorizedKeysFile $d/authorized_keys.reg
    AllowStreamLocalForwarding local
    AllowTcpForwarding local
    PermitOpen [$RO_SOCK]:*
    PermitListen none
    AllowAgentForwarding no
    X11Forwarding no
    PermitTunnel no
    PermitTTY no
    PermitUserRC no
    ForceCommand /usr/sbin/nologin
MATCH
    echo "restrict,port-forwarding,permitopen=\"[$RO_SOCK]:*\" $(cat "$(site_client_key b).pub")" \
        > "$d/authorized_keys.reg"
    chmod 0644 "$d/authorized_keys.reg"
    "$SSHD" -t -f "$d/sshd_config" \
        || why "sshd rejects recipe 5's Match block" || return
    pid=$(cat "$d/sshd.pid") || return 1
    kill -HUP "$pid"
    sleep 0.5
    wait_until "a's sshd to listen again after SIGHUP" 10 \
        sshd_listening a "$(site_addr a)" 22 || return
}

# reg_account_ssh ARGS...: OpenSSH's ssh from b as REG_USER at a.
reg_account_ssh() {
    lib_run ip netns exec "$(site_ns b)" timeout --foreground 20 \
        ssh -F /dev/null -i "$(site_client_key b)" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$(site_known_hosts b)" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
        -o BatchMode=yes -o ConnectTimeout=10 "$REG_USER@$(site_addr a)" "$@"
}

# reg_account_fwd LOCAL TARGET: "ssh -N -L LOCAL:TARGET" from b as
# REG_USER at a, in the background, until LOCAL (a socket, or a TCP
# address in b's namespace) takes connections.  sshd decides about TARGET
# only when a connection comes.
FWD_N=0
reg_account_fwd() {
    FWD_N=$((FWD_N + 1))
    rm -f "$1"
    lib_spawn "ssh-fwd@b" /dev/null "$SCRATCH/fwd-$FWD_N.log" \
        ip netns exec "$(site_ns b)" ssh -F /dev/null \
        -i "$(site_client_key b)" -o IdentitiesOnly=yes \
        -o UserKnownHostsFile="$(site_known_hosts b)" \
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
        -o BatchMode=yes -o ConnectTimeout=10 -o ExitOnForwardFailure=yes \
        -N -L "$1:$2" "$REG_USER@$(site_addr a)"
    case $1 in
        /*) wait_until "ssh -L $1" 10 test -S "$1" ;;
        *) wait_until "ssh -L $1" 10 tcp_open b "${1%:*}" "${1##*:}" ;;
    esac || why "$REASON: $(cat "$SCRATCH/fwd-$FWD_N.log")"
}

# reg_account_ctl SOCKET ARGS...: ovs-ssh-tap-ctl at b on
# ssh:REG_USER@a:22:SOCKET.
reg_account_ctl() {
    local sock=$1
    shift
    site_exec b timeout --foreground 20 "$SSH_TAP_CTL" \
        --db="ssh:$REG_USER@$(site_addr a):22:$sock" \
        --ssh-key="$(site_client_key b)" \
        --ssh-known-hosts="$(site_known_hosts b)" "$@" 2>&1
}

# sshd_denied TARGET: a's sshd logged that it denied a channel to TARGET
# (a path, or a host).
sshd_denied() {
    grep -q "to connect to \(path\|host\) $1[ ,].*but the request was denied" \
        "$(site_dir a)/ssh/sshd.log"
}

case_f() {
    local out rc fwd=$SCRATCH/fwd.sock fwd2=$SCRATCH/fwd2.sock
    need_mesh || return
    if ! id "$REG_USER" >/dev/null 2>&1; then
        REASON="no account $REG_USER on this machine"
        return 77
    fi
    ro_start || return
    # shellcheck disable=SC2016
    wait_until "the replica to hold the three sites" 20 eval \
        '[ "$(timeout 10 "$SSH_TAP_CTL" --db="unix:$RO_SOCK" list-sites | grep -c "^[abc] ")" = 3 ]' \
        || return
    lib_log "replica socket: $(ls -l "$RO_SOCK")"
    reg_account_sshd || return

    # No session: the forced nologin ends it.
    out=$(reg_account_ssh true 2>&1)
    rc=$?
    lib_log "a session as $REG_USER: rc $rc: $out"
    [ "$rc" -ne 0 ] || why "a session as $REG_USER ran a command: $out" \
        || return
    grep -q 'not available' <<< "$out" \
        || why "a session as $REG_USER did not reach nologin: $out" || return

    # The replica's socket: reads, but no writes.
    reg_account_fwd "$fwd" "$RO_SOCK" || return
    out=$(timeout 15 "$SSH_TAP_CTL" --db="unix:$fwd" list-sites 2>&1) \
        || why "list-sites through $REG_USER's channel failed: $out" || return
    grep -q '^c ' <<< "$out" \
        || why "list-sites through $REG_USER's channel: $out" || return
    out=$(timeout 15 "$SSH_TAP_CTL" --db="unix:$fwd" add-site x \
              --endpoint=192.0.2.99 --login=root 2>&1)
    rc=$?
    lib_log "a write through $REG_USER's channel: rc $rc: $out"
    [ "$rc" -ne 0 ] \
        || why "the replica took a write through $REG_USER's channel" || return
    grep -q 'read only' <<< "$out" \
        || why "add-site through $REG_USER's channel: $out" || return

    # Another socket that the account may write to (the replica's own
    # control socket: same group, same mode): refused by PermitOpen.
    reg_account_fwd "$fwd2" "$RO_DIR/ro.ctl" || return
    out=$(timeout 10 "$OVS_APPCTL" --timeout=5 -t "$fwd2" version 2>&1)
    rc=$?
    [ "$rc" -ne 0 ] || why "$REG_USER reached $RO_DIR/ro.ctl: $out" || return
    wait_until "sshd to log the denial of ro.ctl" 5 \
        sshd_denied "$RO_DIR/ro.ctl" || return
    # The registry's own socket: refused too.
    reg_account_fwd "$fwd2" "$REG_SOCK" || return
    out=$(timeout 10 "$SSH_TAP_CTL" --db="unix:$fwd2" list-sites 2>&1)
    rc=$?
    [ "$rc" -ne 0 ] || why "$REG_USER reached the registry's own socket: $out" \
        || return
    wait_until "sshd to log the denial of the registry's socket" 5 \
        sshd_denied "$REG_SOCK" || return
    # No TCP forwarding, not even to the registry's TCP port.
    reg_account_fwd 127.0.0.1:16645 "$(site_addr a):$REG_TCP_PORT" || return
    out=$(site_exec b timeout 10 "$SSH_TAP_CTL" --db=tcp:127.0.0.1:16645 \
              list-sites 2>&1)
    rc=$?
    [ "$rc" -ne 0 ] || why "$REG_USER forwarded TCP to the registry: $out" \
        || return
    wait_until "sshd to log the denial of TCP" 5 \
        sshd_denied "$(site_addr a) port $REG_TCP_PORT" || return

    # The ctl through that account: the same.
    if [ -n "$HAVE_CTL_SSH" ]; then
        out=$(reg_account_ctl "$RO_SOCK" list-sites) \
            || why "list-sites on ssh: as $REG_USER failed: $out" || return
        grep -q '^c ' <<< "$out" \
            || why "list-sites on ssh: as $REG_USER: $out" || return
        out=$(reg_account_ctl "$RO_SOCK" add-site x --endpoint=192.0.2.99 \
                  --login=root)
        rc=$?
        lib_log "add-site on ssh: as $REG_USER: rc $rc: $out"
        [ "$rc" -ne 0 ] && grep -q 'read only' <<< "$out" \
            || why "add-site on ssh: as $REG_USER: rc $rc: $out" || return
        out=$(reg_account_ctl "$REG_SOCK" list-sites)
        rc=$?
        lib_log "the registry's own socket on ssh: as $REG_USER: rc $rc: $out"
        [ "$rc" -ne 0 ] \
            || why "the ctl as $REG_USER reached the registry's own socket: $out" \
            || return
    fi

    # The sync itself, through that account.
    if ! need_ssh; then
        REASON="the account grants what recipe 5 says (checked with OpenSSH's client), but $REASON"
        return 77
    fi
    ssh_opts b
    out=$(sync_oneshot b --dry-run --timeout=15 \
              --registry="ssh:$REG_USER@$(site_addr a):22:$RO_SOCK" \
              "${SSH_OPTS[@]}")
    rc=$?
    lib_log "the sync through $REG_USER: rc $rc: $out"
    # A plan (b is on case e's cluster by now, whose rows differ).
    [ "$rc" -eq 0 ] && grep -Eq '^(nothing to do|add|update|delete) ' <<< "$out" \
        || why "the sync through $REG_USER's account: rc $rc: $out" || return
}

# ---------------------------------------------------------------------------

run_case setup case_setup || exit 1
run_case a-three-sites-ssh case_a
run_case b-wrong-host-key case_b
run_case c-ssl case_c
run_case d-sshd-restart case_d
run_case e-raft-failover case_e
run_case f-registry-account case_f
lib_finish
