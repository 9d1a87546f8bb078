#!/bin/bash
# ovs-ssh-tap-ctl against a registry reached every way it can be:
#
#   namespace a (the operator)           namespace b (the registry host)
#   ovs-ssh-tap-ctl  ---- 192.0.2.0/24 ---- sshd :22
#                                           ovsdb-server: punix:SOCK,
#                                             pssl:6650, ptcp:6651
#
#   ssl            a test CA; the right client certificate works, one from
#                  another CA is refused, and so is a server the client's
#                  CA did not sign.
#   ssl-bootstrap  --bootstrap-ca-cert: the first run saves the server's CA
#                  and succeeds.
#   ssh            ssh:root@192.0.2.2:SOCK with a known_hosts file works; a
#                  pinned wrong host key is refused with both fingerprints,
#                  and nothing is written.
#   tcp-insecure   tcp: to 192.0.2.2 works with a warning that names the
#                  risk; tcp: to 127.0.0.1 (inside b) has none.
#   rotation       a dead remote first in the list: the next one is used;
#                  nothing answering fails at once, not at the timeout.
#   latency        MEASURE lines: one list-sites per transport, in ms.
#
# Needs root.  Usage: tests/system-ctl.sh.  SSH_TAP_CTL overrides the ctl.

# Functions are called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-ctl
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup ssl ssl-bootstrap ssh tcp-insecure rotation latency
lib_init

if ! why_not=$(lib_check_mesh); then
    lib_report_rest FAIL "$why_not"
    exit 1
fi

ADDR_A=192.0.2.1
ADDR_B=192.0.2.2
SSL_PORT=6650
TCP_PORT=6651
PKI=$SCRATCH/pki

# ctl_a ARGS...: the ctl in namespace a, stdout and stderr together.
ctl_a() {
    site_exec a timeout --foreground 30 "$SSH_TAP_CTL" --timeout=20 "$@" 2>&1
}

# pki_cert NAME CA: a key and a certificate for NAME signed by CA (a
# self-signed CA if CA is "-").
pki_cert() {
    local name=$1 ca=$2
    if [ "$ca" = - ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout "$PKI/$name-privkey.pem" \
            -out "$PKI/$name-cert.pem" -subj "/CN=$name" -days 2 \
            >/dev/null 2>&1
    else
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout "$PKI/$name-privkey.pem" -out "$PKI/$name.csr" \
            -subj "/CN=$name" >/dev/null 2>&1 &&
        openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca-cert.pem" \
            -CAkey "$PKI/$ca-privkey.pem" -CAcreateserial \
            -out "$PKI/$name-cert.pem" -days 2 >/dev/null 2>&1
    fi
}

# ssl_opts NAME CA: the ctl's SSL options for client NAME trusting CA.
ssl_opts() {
    SSL_OPTS=(--private-key="$PKI/$1-privkey.pem"
              --certificate="$PKI/$1-cert.pem" --ca-cert="$PKI/$2-cert.pem")
}

# site_count: the number of sites in the registry (through the unix
# socket, as the registry host's operator).
site_count() {
    site_exec b "$SSH_TAP_CTL" --db="unix:$REG_SOCK" list-sites \
        | awk 'NR > 1' | wc -l
}

case_setup() {
    local d
    command -v openssl >/dev/null 2>&1 \
        || { REASON="openssl is not installed"; return 77; }
    for s in a b; do
        lib_netns_add "$s" >/dev/null || why "namespace $s" || return
        d=$(site_dir "$s")
        mkdir -p "$d/ssh" "$d/run" "$d/db" "$d/log" "$d/etc" "$d/home"
    done
    ip -n "$(site_ns a)" link add ul0 type veth peer name ul0 \
        netns "$(site_ns b)" || why "veth a-b" || return
    ip -n "$(site_ns a)" addr add "$ADDR_A/24" dev ul0 || return
    ip -n "$(site_ns b)" addr add "$ADDR_B/24" dev ul0 || return
    ip -n "$(site_ns a)" link set ul0 up || return
    ip -n "$(site_ns b)" link set ul0 up || return
    echo "$ADDR_A" > "$(site_dir a)/underlay_addr"
    echo "$ADDR_B" > "$(site_dir b)/underlay_addr"

    mkdir -p "$PKI"
    pki_cert ca - && pki_cert registry ca && pki_cert client ca \
        && pki_cert rogue-ca - && pki_cert rogue-client rogue-ca \
        && pki_cert rogue-registry rogue-ca \
        || why "openssl could not make the test PKI" || return

    mkdir -p "$REG_DIR"
    "$OVSDB_TOOL" create "$REG_DIR/registry.db" "$SSH_TAP_SCHEMA" || return 1
    lib_spawn "ovsdb-server@registry" /dev/null "$REG_DIR/stderr" \
        ip netns exec "$(site_ns b)" "$OVSDB_SERVER" --no-chdir \
        --log-file="$REG_DIR/ovsdb-server.log" \
        --pidfile="$REG_DIR/ovsdb-server.pid" \
        --unixctl="$REG_DIR/ovsdb-server.ctl" \
        --private-key="$PKI/registry-privkey.pem" \
        --certificate="$PKI/registry-cert.pem" \
        --ca-cert="$PKI/ca-cert.pem" --peer-ca-cert="$PKI/ca-cert.pem" \
        --remote="punix:$REG_SOCK" \
        --remote="pssl:$SSL_PORT:$ADDR_B" \
        --remote="ptcp:$TCP_PORT:$ADDR_B" \
        --remote="ptcp:$TCP_PORT:127.0.0.1" \
        "$REG_DIR/registry.db"
    wait_until "registry ovsdb-server" 20 test -S "$REG_SOCK" || return
    wait_until "registry listening on ssl:" 10 eval \
        "[ -n \"\$(ip netns exec $(site_ns b) ss -Hltn 'sport = :$SSL_PORT')\" ]" \
        || return

    sshd_start b || why "sshd at b" || return
    ssh_client_setup a b || why "client key for a at b" || return
}

case_ssl() {
    local out n0
    n0=$(site_count)
    ssl_opts client ca
    out=$(ctl_a --db="ssl:$ADDR_B:$SSL_PORT" "${SSL_OPTS[@]}" \
              add-site over-ssl --endpoint=198.51.100.7)
    [ $? -eq 0 ] || why "add-site over ssl: failed: $out" || return
    out=$(ctl_a --db="ssl:$ADDR_B:$SSL_PORT" "${SSL_OPTS[@]}" list-sites)
    grep -q '^over-ssl  *198.51.100.7' <<< "$out" \
        || why "list-sites over ssl: does not show the site: $out" || return

    # A client certificate from another CA: the server refuses it.
    ssl_opts rogue-client ca
    out=$(ctl_a --db="ssl:$ADDR_B:$SSL_PORT" "${SSL_OPTS[@]}" \
              add-site rogue1)
    [ $? -ne 0 ] || why "a client certificate from another CA was accepted" \
        || return
    lib_log "rogue client: $out"

    # A server the client's CA did not sign: the client refuses it.
    ssl_opts rogue-client rogue-ca
    out=$(ctl_a --db="ssl:$ADDR_B:$SSL_PORT" "${SSL_OPTS[@]}" \
              add-site rogue2)
    [ $? -ne 0 ] || why "a server from another CA was trusted" || return
    lib_log "rogue server: $out"

    # ssl: without the SSL options is an error before anything is sent.
    out=$(ctl_a --db="ssl:$ADDR_B:$SSL_PORT" list-sites)
    [ $? -ne 0 ] && grep -q -- '--private-key' <<< "$out" \
        || why "ssl: without options: $out" || return

    [ "$(site_count)" -eq $((n0 + 1)) ] \
        || why "expected $((n0 + 1)) sites, have $(site_count)" || return
}

case_ssl_bootstrap() {
    local out ca=$SCRATCH/bootstrapped-ca.pem
    rm -f "$ca"
    out=$(ctl_a --db="ssl:$ADDR_B:$SSL_PORT" \
              --private-key="$PKI/client-privkey.pem" \
              --certificate="$PKI/client-cert.pem" \
              --bootstrap-ca-cert="$ca" list-sites)
    [ $? -eq 0 ] || why "first run with --bootstrap-ca-cert failed: $out" \
        || return
    [ -s "$ca" ] || why "the CA certificate was not saved in $ca" || return
    cmp -s <(openssl x509 -in "$ca" -noout -fingerprint) \
        <(openssl x509 -in "$PKI/ca-cert.pem" -noout -fingerprint) \
        || why "the saved CA is not the registry's" || return
    # And the saved one is used the next time.
    out=$(ctl_a --db="ssl:$ADDR_B:$SSL_PORT" \
              --private-key="$PKI/client-privkey.pem" \
              --certificate="$PKI/client-cert.pem" \
              --bootstrap-ca-cert="$ca" list-sites)
    [ $? -eq 0 ] || why "second run with the bootstrapped CA failed: $out"
}

case_ssh() {
    local out rc n0 fp remote="ssh:root@$ADDR_B:$REG_SOCK"
    n0=$(site_count)
    out=$(ctl_a --db="$remote" --ssh-key="$(site_client_key a)" \
              --ssh-known-hosts="$(site_known_hosts a)" \
              add-site over-ssh --endpoint=198.51.100.8)
    rc=$?
    if [ "$rc" -ne 0 ] && grep -qi 'not supported' <<< "$out"; then
        REASON="ssh: streams not available: $out"
        return 77
    fi
    [ "$rc" -eq 0 ] && [ "$(site_count)" -eq $((n0 + 1)) ] \
        || why "add-site over ssh: failed: $out" || return

    # A pinned key that is not b's: refused, naming both fingerprints.
    fp=SHA256:$(head -c 32 /dev/zero | base64 | tr -d '=')
    out=$(ctl_a --db="$remote" --ssh-key="$(site_client_key a)" \
              --ssh-host-key="$fp" add-site evil --endpoint=203.0.113.66)
    [ $? -ne 0 ] || why "a wrong pinned host key was accepted" || return
    lib_log "wrong host key: $out"
    grep -qF "$fp" <<< "$out" && grep -qF "$(site_hostkey_fp b)" <<< "$out" \
        || why "the error does not name both fingerprints: $out" || return
    [ "$(site_count)" -eq $((n0 + 1)) ] \
        || why "a site was written through the wrong host key" || return
}

case_tcp_insecure() {
    local out
    out=$(ctl_a --db="tcp:$ADDR_B:$TCP_PORT" add-site over-tcp)
    [ $? -eq 0 ] || why "add-site over tcp: failed: $out" || return
    grep -q 'plain TCP outside loopback.*rewrite' <<< "$out" \
        || why "no warning for tcp: outside loopback: $out" || return
    [ "$(grep -c 'plain TCP' <<< "$out")" -eq 1 ] \
        || why "the warning is not once per connection: $out" || return
    out=$(site_exec b timeout 30 "$SSH_TAP_CTL" \
              --db="tcp:127.0.0.1:$TCP_PORT" list-sites 2>&1)
    [ $? -eq 0 ] || why "list-sites over loopback tcp: failed: $out" || return
    ! grep -q 'plain TCP' <<< "$out" \
        || why "a warning for loopback tcp: $out" || return
}

case_rotation() {
    local out t0 t1
    out=$(ctl_a --db="unix:$SCRATCH/nobody.sock,tcp:$ADDR_B:$TCP_PORT" \
              list-sites)
    [ $? -eq 0 ] && grep -q over-tcp <<< "$out" \
        || why "the second remote was not used: $out" || return
    t0=$(now_ms)
    out=$(ctl_a --db="unix:$SCRATCH/nobody.sock,tcp:$ADDR_B:1" list-sites)
    [ $? -ne 0 ] || why "nothing answering, and yet success: $out" || return
    t1=$(now_ms)
    [ $((t1 - t0)) -lt 5000 ] \
        || why "failing took $((t1 - t0)) ms, not at once" || return
    grep -q 'cannot connect to the registry' <<< "$out" \
        || why "unexpected error: $out" || return
}

# A list-sites per transport, timed (the median of 5), as MEASURE lines.
case_latency() {
    local name db opts t0 t1 i ms
    ssl_opts client ca
    for name in unix ssh ssl tcp; do
        case $name in
            unix) db=unix:$REG_SOCK opts=() ;;
            ssh) db=ssh:root@$ADDR_B:$REG_SOCK
                 opts=(--ssh-key="$(site_client_key a)"
                       --ssh-known-hosts="$(site_known_hosts a)") ;;
            ssl) db=ssl:$ADDR_B:$SSL_PORT opts=("${SSL_OPTS[@]}") ;;
            tcp) db=tcp:$ADDR_B:$TCP_PORT opts=() ;;
        esac
        ms=()
        for i in 1 2 3 4 5; do
            t0=$(now_ms)
            ctl_a --db="$db" "${opts[@]}" list-sites >/dev/null \
                || why "list-sites over $name failed" || return
            t1=$(now_ms)
            ms+=($((t1 - t0)))
        done
        echo "MEASURE: ctl-list-sites-$name-ms $(printf '%s\n' "${ms[@]}" | sort -n | sed -n 3p)"
    done
}

run_case setup case_setup
rc=$?
if [ "$rc" -ne 0 ]; then
    lib_report_rest SKIP "setup did not complete"
    [ "$rc" -eq 77 ] && exit 77
    exit 1
fi
run_case ssl case_ssl
run_case ssl-bootstrap case_ssl_bootstrap
run_case ssh case_ssh
run_case tcp-insecure case_tcp_insecure
run_case rotation case_rotation
run_case latency case_latency
lib_finish
