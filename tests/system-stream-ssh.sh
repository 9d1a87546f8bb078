#!/bin/bash
# The utilities' "ssh:" streams (utilities/stream-ssh.h) through a real sshd
# to a real ovsdb-server, driven by tests/test-stream-ssh (OVS's jsonrpc
# library on the stream: an "echo" of 100 kB and a "list_dbs"):
#
#   known-hosts     works with the host key in a known_hosts file; the
#                   stream reports the far host's fingerprint and cipher
#   pinned          works with the host key pinned (--ssh-host-key)
#   defaults        with no options, the key and known_hosts come from
#                   <ovs dbdir>/ssh-tap/, as for ssh-tap ports
#   proxy-command   works through a ProxyCommand (nc)
#   wrong-pin       a wrong pinned key is refused; the error names the peer
#                   and both fingerprints
#   unknown-host    a host missing from known_hosts is refused (no trust on
#                   first use); the error says how to pin it
#   key-mode        a key file readable by others (0644) is refused
#   no-socket       a far socket that does not exist: a clear error naming
#                   the path
#   never-blocks    opening and the first stream_connect() take no time and
#                   return EAGAIN, even towards a host that never answers;
#                   the failure comes later, through stream_connect()
#   far-closes      the far ovsdb-server goes away: the stream ends, and
#                   stream_ssh_last_error() says the far end closed the
#                   channel
#   exit-clean      a process that exits while its stream logs in, or while
#                   it pumps, exits cleanly (no crash in libssh/OpenSSL)
#
#   namespace a: test-stream-ssh ==SSH==> namespace b: sshd --> unix socket
#                                                       of an ovsdb-server
#
# Needs root.  Usage: tests/system-stream-ssh.sh

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-stream-ssh
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup known-hosts pinned defaults proxy-command wrong-pin \
    unknown-host key-mode no-socket never-blocks far-closes exit-clean
lib_init

: "${TEST_STREAM_SSH:=${abs_top_builddir:-.}/tests/test-stream-ssh}"

# A well-formed fingerprint that no key has.
WRONG_FP=SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA

# remote [SOCKET]: the ssh: name of the ovsdb-server's socket at site b.
remote() { echo "ssh:root@$(site_addr b):22:${1:-$REG_SOCK}"; }

# client [ARGS...]: runs test-stream-ssh in namespace a; its output in
# $OUT, its exit status returned.
client() {
    local rc
    OUT=$(lib_run ip netns exec "$(site_ns a)" timeout --foreground 60 \
        "$TEST_STREAM_SSH" "$@" 2>&1)
    rc=$?
    lib_log "test-stream-ssh $* -> rc $rc"
    printf '%s\n' "$OUT" | sed 's/^/    /' >&2
    return "$rc"
}

# out_has STRING...: each STRING is in $OUT.
out_has() {
    local s
    for s in "$@"; do
        case $OUT in
            *"$s"*) ;;
            *) why "output lacks '$s': $(printf '%s' "$OUT" | tr '\n' '|')"
               return 1 ;;
        esac
    done
}

# worked: the client connected and both requests came back right.
worked() {
    out_has "first-connect: EAGAIN" "connected" "echo: ok" '"SSH_Tap"' \
        "host-key: $(site_hostkey_fp b)" "cipher: " || return
}

key_args() { echo "--key=$(site_client_key a)"; }

case_setup() {
    local s
    [ -x "$TEST_STREAM_SSH" ] \
        || why "missing $TEST_STREAM_SSH (make check builds it)" || return
    for s in a b; do
        mkdir -p "$(site_dir "$s")/ssh" || return
        lib_netns_add "$s" >/dev/null || why "namespace $s" || return
    done
    underlay_connect a b || why "underlay: $REASON" || return
    sshd_start b || why "sshd at site b: ${REASON:-did not start}" || return
    ssh_client_setup a b || why "client key setup failed" || return
    registry_start || why "ovsdb-server: $REASON" || return
}

case_known_hosts() {
    client "$(key_args)" --known-hosts="$(site_known_hosts a)" "$(remote)" \
        || why "the client failed (rc $?): $(printf '%s' "$OUT" | tr '\n' '|')" \
        || return
    worked
}

case_pinned() {
    client "$(key_args)" --host-key="$(site_hostkey_fp b)" "$(remote)" \
        || why "the client failed (rc $?): $(printf '%s' "$OUT" | tr '\n' '|')" \
        || return
    worked
}

case_defaults() {
    local dbdir=$SCRATCH/dbdir
    mkdir -p "$dbdir/ssh-tap" || return
    cp "$(site_client_key a)" "$dbdir/ssh-tap/id_ed25519" || return
    chmod 0600 "$dbdir/ssh-tap/id_ed25519"
    cp "$(site_known_hosts a)" "$dbdir/ssh-tap/known_hosts" || return
    OVS_DBDIR=$dbdir client "$(remote)" \
        || why "the client failed (rc $?): $(printf '%s' "$OUT" | tr '\n' '|')" \
        || return
    worked
}

case_proxy_command() {
    client "$(key_args)" --known-hosts="$(site_known_hosts a)" \
        --proxy-command="nc %h %p" "$(remote)" \
        || why "the client failed (rc $?): $(printf '%s' "$OUT" | tr '\n' '|')" \
        || return
    worked || return
    grep -q "from $(site_addr a) port" "$(site_dir b)/ssh/sshd.log" \
        || why "sshd never saw a connection from site a" || return
}

case_wrong_pin() {
    local fp rc
    fp=$(site_hostkey_fp b)
    client "$(key_args)" --host-key="$WRONG_FP" "$(remote)"
    rc=$?
    [ "$rc" -eq 1 ] || why "rc $rc, wanted 1 (connection refused)" || return
    out_has "first-connect: EAGAIN" \
        "host key mismatch for root@$(site_addr b):22" \
        "expected $WRONG_FP" "got $fp" || return
    ! out_has "connected" 2>/dev/null || why "it connected anyway" || return
}

case_unknown_host() {
    local empty=$SCRATCH/empty_known_hosts rc
    : > "$empty"
    client "$(key_args)" --known-hosts="$empty" "$(remote)"
    rc=$?
    [ "$rc" -eq 1 ] || why "rc $rc, wanted 1 (connection refused)" || return
    out_has "unknown host key for root@$(site_addr b):22" \
        "$(site_hostkey_fp b)" "--ssh-host-key" || return
    [ ! -s "$empty" ] || why "the host key was recorded in $empty" || return
}

case_key_mode() {
    local key=$SCRATCH/key0644 rc
    cp "$(site_client_key a)" "$key" || return
    chmod 0644 "$key"
    client --key="$key" --known-hosts="$(site_known_hosts a)" "$(remote)"
    rc=$?
    [ "$rc" -eq 1 ] || why "rc $rc, wanted 1 (connection refused)" || return
    out_has "private key $key is accessible by others (mode 0644)" || return
}

case_no_socket() {
    local sock=$SCRATCH/no/such/db.sock rc
    client "$(key_args)" --known-hosts="$(site_known_hosts a)" \
        "$(remote "$sock")"
    rc=$?
    [ "$rc" -eq 1 ] || why "rc $rc, wanted 1 (connection refused)" || return
    out_has "root@$(site_addr b):22 refused to open a channel to $sock" \
        "does it exist" || return
}

case_never_blocks() {
    local rc ms t0 t1
    # An address on the underlay that nobody has: the TCP connect can only
    # time out (no ARP answer).
    t0=$(now_ms)
    client "$(key_args)" --known-hosts="$(site_known_hosts a)" \
        "ssh:root@192.0.2.99:22:$REG_SOCK"
    rc=$?
    t1=$(now_ms)
    [ "$rc" -eq 1 ] || why "rc $rc, wanted 1 (connection failed)" || return
    out_has "first-connect: EAGAIN" "cannot connect to root@192.0.2.99:22" \
        || return
    ms=$(printf '%s\n' "$OUT" | sed -n 's/^open-ms: //p')
    [ -n "$ms" ] && [ "$ms" -le 100 ] \
        || why "opening took ${ms:-?} ms, wanted at most 100" || return
    lib_log "never-blocks: open and first connect $ms ms, failure after $((t1 - t0)) ms"
}

case_far_closes() {
    local dir=$SCRATCH/far pid cpid st
    mkdir -p "$dir" || return
    "$OVSDB_TOOL" create "$dir/far.db" "$SSH_TAP_SCHEMA" || return
    lib_spawn "ovsdb-server@far" /dev/null "$dir/stderr" \
        "$OVSDB_SERVER" --no-chdir --log-file="$dir/ovsdb-server.log" \
        --pidfile="$dir/ovsdb-server.pid" --unixctl="$dir/ovsdb-server.ctl" \
        --remote="punix:$dir/db.sock" "$dir/far.db"
    pid=$LAST_PID
    wait_until "the far ovsdb-server" 20 test -S "$dir/db.sock" || return
    lib_spawn "test-stream-ssh@far" "$dir/client.out" "$dir/client.out" \
        ip netns exec "$(site_ns a)" timeout 60 "$TEST_STREAM_SSH" \
        "$(key_args)" --known-hosts="$(site_known_hosts a)" --until-eof \
        "$(remote "$dir/db.sock")"
    cpid=$LAST_PID
    wait_until "the client's list_dbs" 20 grep -q '^dbs:' "$dir/client.out" \
        || { OUT=$(cat "$dir/client.out"); why "$REASON: $OUT"; return 1; }
    st=$(lib_starttime "$pid")
    lib_kill_pids "$pid $st"
    wait_until "the client to see the end" 20 grep -q '^eof:' \
        "$dir/client.out" || return
    wait "$cpid"
    OUT=$(cat "$dir/client.out")
    printf '%s\n' "$OUT" | sed 's/^/    /' >&2
    out_has "eof: EOF: root@$(site_addr b):22 closed the channel to $dir/db.sock" \
        || return
}

case_exit_clean() {
    local i rc t0 t1
    for i in 1 2 3 4 5; do
        # Exiting during the login: the exit handler interrupts it at once.
        t0=$(now_ms)
        client "$(key_args)" --known-hosts="$(site_known_hosts a)" \
            --exit-early "$(remote)"
        rc=$?
        t1=$(now_ms)
        [ "$rc" -eq 0 ] || why "exit during the login: rc $rc (run $i)" \
            || return
        [ $((t1 - t0)) -le 3000 ] \
            || why "exit during the login took $((t1 - t0)) ms (run $i)" \
            || return
        # Exiting with the stream connected and its pump running.
        client "$(key_args)" --known-hosts="$(site_known_hosts a)" \
            --exit-connected "$(remote)"
        rc=$?
        [ "$rc" -eq 0 ] || why "exit while connected: rc $rc (run $i)" \
            || return
        out_has "connected" || return
    done
    # And towards a host that never answers, in the middle of the connect.
    t0=$(now_ms)
    client "$(key_args)" --known-hosts="$(site_known_hosts a)" \
        --exit-early "ssh:root@192.0.2.99:22:$REG_SOCK"
    rc=$?
    t1=$(now_ms)
    [ "$rc" -eq 0 ] || why "exit during a connect: rc $rc" || return
    lib_log "exit-clean: exit during a hanging connect took $((t1 - t0)) ms"
}

run_case setup case_setup || exit 1
run_case known-hosts case_known_hosts
run_case pinned case_pinned
run_case defaults case_defaults
run_case proxy-command case_proxy_command
run_case wrong-pin case_wrong_pin
run_case unknown-host case_unknown_host
run_case key-mode case_key_mode
run_case no-socket case_no_socket
run_case never-blocks case_never_blocks
run_case far-closes case_far_closes
run_case exit-clean case_exit_clean
lib_finish
