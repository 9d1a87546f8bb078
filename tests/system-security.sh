#!/bin/bash
# Security of an ssh-tap link, with real sshds:
#
#   host-key-mismatch          known_hosts lists another key for the far
#                              host: refused, last_error shows the key got,
#                              no frame passes, and the key is never offered
#                              to that host.
#   host-key-pinned-mismatch   the same with a pinned options:host_key:
#                              last_error shows "expected" and "got".
#   unknown-host               an empty known_hosts is refused.
#   accept-new                 with host_key_policy=accept-new the link comes
#                              up and the key is appended to known_hosts.
#   host-key-changed           sshd comes back with another host key: the
#                              accept-new port refuses it.
#   key-mode                   a private key readable by others is refused;
#                              after chmod 0600 the link comes up.
#   socket-mode                the passive socket is 0660, never world-
#                              writable; socket_mode=0666 is an
#                              Interface:error.
#   socket-group-outsider      with options:socket_group, an account outside
#                              the group gets EACCES on the socket, locally
#                              and when logged in over sshd.
#   socket-group-member        an account in the group, logging in over sshd
#                              with its own authorized_keys, gets the link up
#                              and ping through.
#
#   VM a1 -- site a: br0 -- port (active) == SSH ==> sshd at site b
#                                    --> site b: br0 -- port (passive) -- VM b1
#
# Only one ssh-tap link is on br0 at a time.  Site b runs lib.sh's sshd on
# port 22 (one authorized_keys file), plus sshds of this test: "acct" on
# port 2222 with per-account authorized keys (AuthorizedKeysFile
# .../%u.keys), and "tofu" on port 2223, whose host key is replaced.  The
# accounts and the group are made for this run (useradd --system, names
# with our pid and a random suffix) and removed at exit.
#
# Needs root.  Usage: tests/system-security.sh

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-security
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup host-key-mismatch host-key-pinned-mismatch \
    unknown-host accept-new host-key-changed key-mode socket-mode \
    socket-group-outsider socket-group-member
lib_init

ACCT_PORT=2222
TOFU_PORT=2223
SETUP_OK=0

# Accounts and group of this run.
SFX=$$$(printf '%04x' $((RANDOM % 65536)))
G_SOCK=sstg$SFX         # the passive socket's group
U_OUT=ssto$SFX          # not in G_SOCK
U_IN=ssti$SFX           # in G_SOCK (supplementary group)

# ---------------------------------------------------------------------------
# Cleanup of what lib.sh does not know about: the accounts.  Our sshds go
# first (so that no new session starts), then whatever still runs as one of
# our accounts (children of those sshds), by pid; then the accounts and the
# group, by the names recorded when they were made.  lib.sh's cleanup runs
# after that.

eval "$(declare -f lib_cleanup | sed '1s/^lib_cleanup /sec_lib_cleanup /')"

sec_status() { return "$1"; }

lib_cleanup() {
    local rc=$? f u pid st entries=()
    if [ "${LIB_CLEANED:-0}" -eq 0 ] && [ "${LIB_KEEP:-0}" -eq 0 ] \
            && [ -n "$SCRATCH" ] && [ -d "$SCRATCH" ]; then
        for f in "$SCRATCH"/xsshd/*/pid; do
            [ -f "$f" ] && entries+=("$(cat "$f")")
        done
        lib_kill_pids "${entries[@]}"
        if [ -f "$SCRATCH/users" ]; then
            while read -r u; do
                [ -n "$u" ] || continue
                entries=()
                for pid in $(ps -o pid= -u "$u" 2>/dev/null); do
                    st=$(lib_starttime "$pid") && entries+=("$pid $st")
                done
                lib_kill_pids "${entries[@]}"
                if getent passwd "$u" >/dev/null; then
                    userdel "$u" || lib_log "$SUITE: could not remove user $u"
                fi
            done < "$SCRATCH/users"
        fi
        if [ -f "$SCRATCH/groups" ]; then
            while read -r u; do
                [ -n "$u" ] || continue
                if getent group "$u" >/dev/null; then
                    groupdel "$u" || lib_log "$SUITE: could not remove group $u"
                fi
            done < "$SCRATCH/groups"
        fi
    fi
    sec_status "$rc"
    sec_lib_cleanup
}

# ---------------------------------------------------------------------------
# Helpers.

b_socket() { echo "$(site_dir b)/run/ssh-tap/$1.sock"; }

fp_of() { ssh-keygen -lf "$1" | awk '{print $2}'; }
blob_of() { awk '{print $2}' "$1"; }

# status_of SITE IFACE KEY: one key of Interface:status ("" if absent).
status_of() {
    local v
    v=$(site_vsctl "$1" --if-exists get interface "$2" "status:$3" 2>/dev/null) \
        || return 0
    v=${v#\"}
    v=${v%\"}
    # ovs-vsctl escapes quotes inside strings.
    printf '%s\n' "${v//\\\"/\"}"
}

# last_error_has SITE IFACE TEXT...: last_error contains every TEXT.
last_error_has() {
    local s=$1 i=$2 e t
    shift 2
    e=$(status_of "$s" "$i" last_error)
    [ -n "$e" ] || return 1
    for t in "$@"; do
        case $e in *"$t"*) ;; *) return 1 ;; esac
    done
}

iface_error_has() {
    local e
    e=$(iface_get "$1" "$2" error)
    [ -n "$e" ] && [ "$e" != "[]" ] && case $e in *"$3"*) true;; *) false;; esac
}

# never_up SITE IFACE SECONDS: link_state and status:state stay not "up"
# for SECONDS.
never_up() {
    local s=$1 i=$2 t
    t=$(( $(now_ms) + $3 * 1000 ))
    while [ "$(now_ms)" -lt "$t" ]; do
        if link_up "$s" "$i" || [ "$(status_of "$s" "$i" state)" = up ]; then
            why "$i at site $s came up (status: $(iface_get "$s" "$i" status))"
            return 1
        fi
        sleep 0.2
    done
}

stat_of() {
    local v
    v=$(iface_get "$1" "$2" "statistics:$3")
    echo "${v:-0}"
}

ping_fails() {
    if vm_exec a1 timeout --foreground 10 ping -c 3 -i 0.3 -W 1 "$B1_V4" >/dev/null 2>&1; then
        why "ping a1 -> b1 got a reply through $1"
        return 1
    fi
}

ping_works() {
    vm_exec a1 timeout --foreground 20 ping -c 3 -W 2 "$B1_V4" >&2 \
        || why "ping a1 -> b1 got no reply through $1"
}

# no_frame_passed IFACE: ping fails, and the passive end at b received
# nothing (statistics are refreshed every 5 s, so wait for one refresh).
no_frame_passed() {
    local i=$1 rx
    ping_fails "$i" || return
    sleep 5.5
    rx=$(stat_of b "$i" rx_packets)
    [ "$rx" -eq 0 ] || why "site b's $i received $rx packets" || return
    lib_log "$i: site b rx_packets $rx; site a tx_packets $(stat_of a "$i" tx_packets), tx_dropped $(stat_of a "$i" tx_dropped)"
}

both_up() { link_up a "$1" && link_up b "$1"; }

# sshd_count LOG PATTERN: how many lines of the sshd log LOG match PATTERN.
sshd_count() { grep -c -E "$2" "$1" 2>/dev/null || true; }

# The client must never try to log in to a host it does not trust: while a
# port is refused, sshd (log LOG) sees connections from site a but no
# public key attempt.  auth_mark LOG remembers the counts;
# no_auth_since_mark LOG checks them.
auth_mark() {
    MARK_CONN=$(sshd_count "$1" "Connection from $(site_addr a) ")
    MARK_AUTH=$(sshd_count "$1" "publickey for .* from $(site_addr a) ")
}

no_auth_since_mark() {
    local conn auth
    conn=$(sshd_count "$1" "Connection from $(site_addr a) ")
    auth=$(sshd_count "$1" "publickey for .* from $(site_addr a) ")
    lib_log "sshd log $1: $((conn - MARK_CONN)) connections, $((auth - MARK_AUTH)) public key attempts"
    [ "$conn" -gt "$MARK_CONN" ] \
        || why "sshd saw no connection from site a (so the test proves nothing)" || return
    [ "$auth" -eq "$MARK_AUTH" ] \
        || why "the port offered its key to an untrusted host: $(grep -E "publickey for .* from $(site_addr a) " "$1" | tail -n 1)" || return
}

b_sshd_log() { echo "$(site_dir b)/ssh/sshd.log"; }

wait_both_up() {
    wait_until "$1 link_state up on both sites" "${2:-20}" both_up "$1" \
        || why "$REASON; a: $(iface_get a "$1" status); b: $(iface_get b "$1" status)"
}

# add_passive IFACE [OPTIONS...]
add_passive() {
    local i=$1
    shift
    site_vsctl b add-port br0 "$i" -- set interface "$i" type=ssh-tap "$@" \
        || why "add-port $i at site b failed"
}

# add_active IFACE REMOTE OPTIONS...: the active end at a, reaching b's
# socket for IFACE, retrying every 1-2 s.
add_active() {
    local i=$1 remote=$2
    shift 2
    site_vsctl a add-port br0 "$i" -- set interface "$i" type=ssh-tap \
        options:remote="$remote" options:remote_socket="$(b_socket "$i")" \
        options:max_backoff=2 "$@" \
        || why "add-port $i at site a failed"
}

del_both() {
    site_vsctl a --if-exists del-port br0 "$1" || why "del-port $1 at a" || return
    site_vsctl b --if-exists del-port br0 "$1" || why "del-port $1 at b" || return
}

# xsshd_start NAME PORT: one more sshd at site b on PORT, with its own host
# key (made if missing) and authorized keys per account in
# $SCRATCH/xsshd/keys/USER.keys.  Records "PID STARTTIME" in its pid file.
xsshd_start() {
    local name=$1 port=$2 d addr cfg gen
    d=$SCRATCH/xsshd/$name
    mkdir -p "$d" "$SCRATCH/xsshd/keys"
    chmod 0755 "$SCRATCH/xsshd" "$SCRATCH/xsshd/keys" "$d"
    if [ ! -f "$d/host_key" ]; then
        ssh-keygen -q -t ed25519 -N '' -C "ssh-tap-test-$name" \
            -f "$d/host_key" || return 1
    fi
    addr=$(site_addr b)
    cfg=$d/sshd_config
    cat > "$cfg" <<EOF
# sshd "$name" of the ssh-tap security test, site b
ListenAddress $addr
Port $port
HostKey $d/host_key
PidFile $d/sshd.pid
AuthorizedKeysFile $SCRATCH/xsshd/keys/%u.keys
$(sshd_config_common)
EOF
    "$SSHD" -t -f "$cfg" || { lib_log "sshd rejects $cfg"; return 1; }
    gen=$(find "$d" -maxdepth 1 -name 'sshd.*.log' | wc -l)
    lib_spawn "sshd@b-$name" /dev/null "$d/sshd.$gen.log" \
        ip netns exec "$(site_ns b)" "$SSHD" -D -e -f "$cfg"
    echo "$LAST_PID $(lib_starttime "$LAST_PID")" > "$d/pid"
    echo "$d/sshd.$gen.log" > "$d/log"
    if ! wait_until "sshd $name listening on $addr:$port" 10 \
            sshd_listening b "$addr" "$port"; then
        cat "$d/sshd.$gen.log" >&2
        return 1
    fi
}

xsshd_stop() {
    local f=$SCRATCH/xsshd/$1/pid
    [ -f "$f" ] && lib_kill_pids "$(cat "$f")"
    rm -f "$f"
}

xsshd_log() { cat "$(cat "$SCRATCH/xsshd/$1/log")"; }

# A key pair, its public half authorized for ACCOUNT at our sshds.
# make_key FILE ACCOUNT
make_key() {
    ssh-keygen -q -t ed25519 -N '' -C "ssh-tap-test-$2" -f "$1" || return 1
    chmod 0600 "$1"
    cat "$1.pub" >> "$SCRATCH/xsshd/keys/$2.keys"
    chmod 0644 "$SCRATCH/xsshd/keys/$2.keys"
}

need_setup() {
    [ "$SETUP_OK" -eq 1 ] && return 0
    REASON="setup failed"
    return 77
}

# as_user USER PATH: connects to the unix socket PATH as USER (with USER's
# groups); prints "connected" or the errno name.
as_user_connect() {
    runuser -u "$1" -- python3 -c '
import errno, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
    sys.exit(1)
print("connected")
' "$2" 2>&1
}

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    local t
    for t in useradd userdel groupadd groupdel runuser python3 stat; do
        command -v "$t" >/dev/null || why "missing tool: $t" || return
    done
    two_sites_setup || return
    site_ssh a b true || why "ssh a -> b with the test key failed" || return

    # The accounts and the group (names recorded before they exist, so that
    # an interruption still removes them).
    for t in "$U_OUT" "$U_IN"; do
        ! getent passwd "$t" >/dev/null || why "user $t exists already" || return
    done
    ! getent group "$G_SOCK" >/dev/null || why "group $G_SOCK exists already" || return
    echo "$G_SOCK" >> "$SCRATCH/groups"
    groupadd --system "$G_SOCK" || why "groupadd $G_SOCK failed" || return
    # '*': no password, but not a locked account (sshd refuses those
    # without PAM); nologin: forwarding only.
    echo "$U_OUT" >> "$SCRATCH/users"
    useradd --system -M -N -g nogroup -d /nonexistent -s /usr/sbin/nologin \
        -p '*' -c "ssh-tap test, outside $G_SOCK" "$U_OUT" \
        || why "useradd $U_OUT failed" || return
    echo "$U_IN" >> "$SCRATCH/users"
    useradd --system -M -N -g nogroup -G "$G_SOCK" -d /nonexistent \
        -s /usr/sbin/nologin -p '*' -c "ssh-tap test, in $G_SOCK" "$U_IN" \
        || why "useradd $U_IN failed" || return
    lib_log "accounts: $(id "$U_OUT"); $(id "$U_IN")"

    xsshd_start acct "$ACCT_PORT" || why "sshd acct did not start" || return
    SETUP_OK=1
}

# known_hosts lists some other key for 192.0.2.2: refused, no frame passes.
case_host_key_mismatch() {
    local kh=$SCRATCH/kh-wrong fp e
    need_setup || return
    fp=$(site_hostkey_fp b)
    ssh-keygen -q -t ed25519 -N '' -f "$SCRATCH/impostor" || return
    echo "$(site_addr b) $(cat "$SCRATCH/impostor.pub")" > "$kh"
    add_passive k1 || return
    auth_mark "$(b_sshd_log)"
    add_active k1 "root@$(site_addr b)" options:key="$(site_client_key a)" \
        options:known_hosts="$kh" || return
    wait_until "k1's last_error to report the mismatch" 15 \
        last_error_has a k1 "host key mismatch" "$fp" \
        || why "$REASON; status: $(iface_get a k1 status)" || return
    e=$(status_of a k1 last_error)
    lib_log "k1 last_error: $e"
    [ "$(status_of a k1 host_key)" = "$fp" ] \
        || why "status:host_key is '$(status_of a k1 host_key)', not $fp" || return
    never_up a k1 5 || return
    link_up b k1 && { why "k1 at site b is up"; return 1; }
    no_frame_passed k1 || return
    no_auth_since_mark "$(b_sshd_log)" || return
    site_alive a || why "vswitchd at site a died" || return
}

# A pinned options:host_key of another key: both fingerprints shown.
case_host_key_pinned_mismatch() {
    local fp wrong e
    need_setup || return
    fp=$(site_hostkey_fp b)
    wrong=$(fp_of "$SCRATCH/impostor.pub")
    site_vsctl a del-port br0 k1 || why "del-port k1 at a" || return
    auth_mark "$(b_sshd_log)"
    add_active k1 "root@$(site_addr b)" options:key="$(site_client_key a)" \
        options:host_key="$wrong" || return
    wait_until "k1's last_error to show both fingerprints" 15 \
        last_error_has a k1 "host key mismatch" "expected $wrong" "got $fp" \
        || why "$REASON; status: $(iface_get a k1 status)" || return
    e=$(status_of a k1 last_error)
    lib_log "k1 last_error: $e"
    never_up a k1 5 || return
    no_frame_passed k1 || return
    no_auth_since_mark "$(b_sshd_log)" || return
    del_both k1 || return
    site_alive a || why "vswitchd at site a died" || return
}

# An empty known_hosts: the unknown host is refused.
case_unknown_host() {
    local kh=$SCRATCH/kh-empty fp
    need_setup || return
    fp=$(site_hostkey_fp b)
    : > "$kh"
    add_passive u1 || return
    auth_mark "$(b_sshd_log)"
    add_active u1 "root@$(site_addr b)" options:key="$(site_client_key a)" \
        options:known_hosts="$kh" || return
    wait_until "u1's last_error to report the unknown host" 15 \
        last_error_has a u1 "unknown host key" "$fp" \
        || why "$REASON; status: $(iface_get a u1 status)" || return
    lib_log "u1 last_error: $(status_of a u1 last_error)"
    never_up a u1 5 || return
    [ ! -s "$kh" ] || why "$kh was written to: $(cat "$kh")" || return
    ping_fails u1 || return
    no_auth_since_mark "$(b_sshd_log)" || return
    del_both u1 || return
}

# host_key_policy=accept-new against sshd "tofu": up, and the key recorded.
case_accept_new() {
    local kh=$SCRATCH/kh-tofu blob
    need_setup || return
    xsshd_start tofu "$TOFU_PORT" || why "sshd tofu did not start" || return
    cat "$(site_client_key a).pub" >> "$SCRATCH/xsshd/keys/root.keys"
    : > "$kh"
    blob=$(blob_of "$SCRATCH/xsshd/tofu/host_key.pub")
    add_passive u2 || return
    add_active u2 "root@$(site_addr b):$TOFU_PORT" \
        options:key="$(site_client_key a)" options:known_hosts="$kh" \
        options:host_key_policy=accept-new || return
    wait_both_up u2 || return
    lib_log "u2 status: $(iface_get a u2 status)"
    lib_log "$kh: $(cat "$kh")"
    grep -q "$blob" "$kh" || why "the host key was not recorded in $kh" || return
    grep -q "^\[$(site_addr b)\]:$TOFU_PORT " "$kh" \
        || why "$kh has no entry for [$(site_addr b)]:$TOFU_PORT" || return
    [ "$(status_of a u2 host_key)" = "$(fp_of "$SCRATCH/xsshd/tofu/host_key.pub")" ] \
        || why "status:host_key is '$(status_of a u2 host_key)'" || return
    ping_works u2 || return
}

# sshd "tofu" comes back with another host key: the accept-new port refuses.
case_host_key_changed() {
    local kh=$SCRATCH/kh-tofu d=$SCRATCH/xsshd/tofu newfp newblob
    need_setup || return
    link_up a u2 || why "u2 is not up (accept-new failed)" || return 77
    xsshd_stop tofu
    rm -f "$d/host_key" "$d/host_key.pub"
    xsshd_start tofu "$TOFU_PORT" || why "sshd tofu did not restart" || return
    newfp=$(fp_of "$d/host_key.pub")
    newblob=$(blob_of "$d/host_key.pub")
    auth_mark "$(cat "$d/log")"
    # The old connection lives on in its own sshd process: drop it.
    site_appctl a ssh-tap/reconnect u2 >&2 || why "ssh-tap/reconnect u2 failed" || return
    wait_until "u2's last_error to report the changed key" 15 \
        last_error_has a u2 "host key mismatch" "$newfp" \
        || why "$REASON; status: $(iface_get a u2 status)" || return
    lib_log "u2 last_error: $(status_of a u2 last_error)"
    never_up a u2 5 || return
    ! grep -q "$newblob" "$kh" || why "the new host key was written to $kh" || return
    ping_fails u2 || return
    no_auth_since_mark "$(cat "$d/log")" || return
    del_both u2 || return
    xsshd_stop tofu
}

# A private key that others can read.
case_key_mode() {
    local key=$SCRATCH/keymode/id_ed25519
    need_setup || return
    mkdir -p "$SCRATCH/keymode"
    cp "$(site_client_key a)" "$key" || return
    chmod 0644 "$key"
    add_passive m1 || return
    add_active m1 "root@$(site_addr b)" options:key="$key" \
        options:known_hosts="$(site_known_hosts a)" || return
    wait_until "m1's last_error to name the key's mode and path" 15 \
        last_error_has a m1 "0644" "$key" \
        || why "$REASON; status: $(iface_get a m1 status)" || return
    lib_log "m1 last_error: $(status_of a m1 last_error)"
    never_up a m1 4 || return
    ping_fails m1 || return
    chmod 0600 "$key"
    wait_both_up m1 15 || return
    ping_works m1 || return
    del_both m1 || return
}

# The passive socket: 0660 by default; 0666 refused.
case_socket_mode() {
    local sock mode
    need_setup || return
    add_passive s0 || return
    sock=$(b_socket s0)
    wait_until "$sock to exist" 10 test -S "$sock" || return
    mode=$(stat -c '%a %U:%G' "$sock")
    lib_log "s0: $(stat -c '%A %U:%G %n' "$sock")"
    [ "${mode%% *}" = 660 ] || why "$sock has mode $mode, not 660" || return
    [ -z "$(find "$sock" -perm /o=rwx)" ] || why "$sock is open to others" || return

    add_passive s9 options:socket_mode=0666 || return
    wait_until "s9's error to name options:socket_mode" 10 \
        iface_error_has b s9 options:socket_mode \
        || why "$REASON (error column: $(iface_get b s9 error))" || return
    lib_log "s9 error: $(iface_get b s9 error)"
    [ ! -e "$(b_socket s9)" ] || why "s9 listens anyway: $(stat -c '%A %n' "$(b_socket s9)")" || return
    site_vsctl b del-port br0 s0 -- del-port br0 s9 || why "del-port s0 s9" || return
    site_alive b || why "vswitchd at site b died" || return
}

# options:socket_group: an account outside the group cannot connect, locally
# or over sshd.
case_socket_group_outsider() {
    local sock out dir e
    need_setup || return
    add_passive s1 options:socket_group="$G_SOCK" || return
    sock=$(b_socket s1)
    wait_until "$sock to exist" 10 test -S "$sock" || return
    lib_log "s1: $(stat -c '%A %U:%G %n' "$sock")"
    [ "$(stat -c '%a %G' "$sock")" = "660 $G_SOCK" ] \
        || why "$sock is $(stat -c '%a %U:%G' "$sock"), not 660 and group $G_SOCK" || return
    # The directories are open to everyone, so the socket's mode is what
    # stops the outsider.
    dir=$(dirname "$sock")
    runuser -u "$U_OUT" -- test -x "$dir" \
        || why "$U_OUT cannot even reach $dir" || return
    out=$(as_user_connect "$U_OUT" "$sock")
    lib_log "connect as $U_OUT ($(id -nG "$U_OUT")): $out"
    [ "$out" = EACCES ] || why "connect as $U_OUT (not in $G_SOCK) gave '$out', not EACCES" || return
    # The member can, locally (the passive port takes the connection as a
    # link and drops it when it closes).
    out=$(as_user_connect "$U_IN" "$sock")
    lib_log "connect as $U_IN ($(id -nG "$U_IN")): $out"
    [ "$out" = connected ] || why "connect as $U_IN (in $G_SOCK) gave '$out'" || return

    # Over sshd: the outsider logs in, but sshd cannot open the socket.
    make_key "$SCRATCH/key-out" "$U_OUT" || return
    add_active s1 "$U_OUT@$(site_addr b):$ACCT_PORT" \
        options:key="$SCRATCH/key-out" \
        options:host_key="$(fp_of "$SCRATCH/xsshd/acct/host_key.pub")" || return
    wait_until "s1's last_error to report the refused channel" 15 \
        last_error_has a s1 "refused to open a channel" \
        || why "$REASON; status: $(iface_get a s1 status)" || return
    e=$(status_of a s1 last_error)
    lib_log "s1 as $U_OUT: last_error: $e"
    xsshd_log acct | grep -q "Accepted publickey for $U_OUT " \
        || why "sshd acct did not log $U_OUT in (so the test proves nothing)" || return
    lib_log "sshd acct: $(xsshd_log acct | grep -m1 -i "$sock")"
    never_up a s1 3 || return
    ping_fails s1 || return
    site_vsctl a del-port br0 s1 || why "del-port s1 at a" || return
}

# An account in the group, logging in over sshd, gets the link up.
case_socket_group_member() {
    need_setup || return
    link_up b s1 && { why "s1 at b is up before the member connects"; return 1; }
    [ -S "$(b_socket s1)" ] || why "s1 at b is not listening" || return 77
    make_key "$SCRATCH/key-in" "$U_IN" || return
    add_active s1 "$U_IN@$(site_addr b):$ACCT_PORT" \
        options:key="$SCRATCH/key-in" \
        options:host_key="$(fp_of "$SCRATCH/xsshd/acct/host_key.pub")" || return
    wait_both_up s1 || return
    lib_log "s1 as $U_IN: $(iface_get a s1 status)"
    xsshd_log acct | grep -q "Accepted publickey for $U_IN " \
        || why "sshd acct did not log $U_IN in" || return
    ping_works s1 || return
    vm_exec a1 timeout --foreground 20 ping -6 -c 2 -W 2 "$B1_V6" >&2 \
        || why "ping -6 a1 -> b1 got no reply through s1" || return
    del_both s1 || return
    site_alive a && site_alive b || why "a vswitchd died" || return
}

# ---------------------------------------------------------------------------

timed_case() {
    local t0 rc
    t0=$(now_ms)
    run_case "$@"
    rc=$?
    lib_log "$SUITE: $1 took $(( ($(now_ms) - t0) / 1000 )).$(( ($(now_ms) - t0) % 1000 / 100 ))s"
    return "$rc"
}

timed_case setup case_setup || exit 1
timed_case host-key-mismatch case_host_key_mismatch
timed_case host-key-pinned-mismatch case_host_key_pinned_mismatch
timed_case unknown-host case_unknown_host
timed_case accept-new case_accept_new
timed_case host-key-changed case_host_key_changed
timed_case key-mode case_key_mode
timed_case socket-mode case_socket_mode
timed_case socket-group-outsider case_socket_group_outsider
timed_case socket-group-member case_socket_group_member
lib_finish
