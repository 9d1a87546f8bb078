#!/bin/bash
# The active port's connection options, each shown to take effect:
#
#   cipher         the status names the cipher asked for, and frames pass
#   compression    the link comes up and frames pass with zlib on
#   proxy_command  the port reaches sshd through a jump host (here site b's
#                  own sshd, as a bastion in front of itself): sshd sees the
#                  connection come from its own address, not from site a
#   max_backoff    after sshd is down long enough for the backoff to reach
#                  its ceiling, the link is back within max_backoff of sshd
#                  returning, much sooner than the 8 s default allows
#
#   VM a1 --- site a: br0 p1 (active) ==SSH==> sshd at b --> br0 p1 --- VM b1
#
# Needs root.  Usage: tests/system-options.sh

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-options
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup cipher compression proxy-command max-backoff
lib_init


b_socket() { echo "$(site_dir b)/run/ssh-tap/p1.sock"; }

# set_active OPTION=VALUE...: (re)creates the active port p1 at site a with
# the test's key, known_hosts and far socket, plus the given options.
set_active() {
    local opts=() o
    for o in "$@"; do
        opts+=("options:$o")
    done
    site_vsctl a --if-exists del-port br0 p1 || return 1
    site_vsctl a add-port br0 p1 -- set interface p1 type=ssh-tap \
        "options:remote=root@$(site_addr b)" \
        "options:key=$(site_client_key a)" \
        "options:known_hosts=$(site_known_hosts a)" \
        "options:remote_socket=$(b_socket)" "${opts[@]}"
}

both_up() { link_up a p1 && link_up b p1; }

# up_and_pinging WHAT: the link comes up and a1 reaches b1 across it.
up_and_pinging() {
    wait_until "p1 up on both sites ($1)" 20 both_up || {
        REASON="$REASON; last_error: $(iface_get a p1 status:last_error)"
        return 1
    }
    vm_exec a1 timeout --foreground 20 ping -c 2 -W 2 "$B1_V4" >&2 \
        || why "ping a1 -> b1 failed ($1)"
}

case_setup() {
    two_sites_setup || return
    site_vsctl b add-port br0 p1 -- set interface p1 type=ssh-tap \
        || why "passive p1 at site b" || return
}

case_cipher() {
    local cipher
    set_active cipher=chacha20-poly1305@openssh.com || why "add p1" || return
    up_and_pinging "cipher=chacha20-poly1305" || return
    cipher=$(iface_get a p1 status:cipher)
    [ "$cipher" = "chacha20-poly1305@openssh.com" ] \
        || why "status:cipher is '$cipher', not chacha20-poly1305@openssh.com" \
        || return
    # A cipher sshd does not offer: the port refuses and says why.
    set_active cipher=3des-cbc || why "re-add p1" || return
    wait_until "last_error after offering only 3des-cbc" 15 \
        iface_has_error || return
    ! link_up a p1 || why "link up with a cipher sshd never offers" || return
}

iface_has_error() { [ -n "$(iface_get a p1 status:last_error)" ]; }

case_compression() {
    set_active compression=true || why "add p1" || return
    up_and_pinging "compression=true" || return
}

# connections_from ADDR: how many connections site b's sshd logged from ADDR.
connections_from() {
    grep -c "Connection from $1 port" "$(site_dir b)"/ssh/sshd.log* \
        2>/dev/null | awk -F: '{ n += $NF } END { print n + 0 }'
}

case_proxy_command() {
    local kh key via0 via
    kh=$(site_known_hosts a)
    key=$(site_client_key a)
    via0=$(connections_from "$(site_addr b)")
    # ProxyCommand runs in site a's namespace, as vswitchd's child.
    set_active "proxy_command=ssh -F none -i $key -o BatchMode=yes -o UserKnownHostsFile=$kh -o StrictHostKeyChecking=yes -W %h:%p root@$(site_addr b)" \
        || why "add p1" || return
    up_and_pinging "proxy_command" || return
    via=$(connections_from "$(site_addr b)")
    [ "$via" -gt "$via0" ] \
        || why "sshd logged no connection from its own address: the proxy was not used" \
        || return
}

case_max_backoff() {
    local t0 ms
    set_active max_backoff=2 || why "add p1" || return
    up_and_pinging "max_backoff=2" || return
    sshd_kill b || return
    # Long enough for the backoff to have doubled up to its ceiling.
    wait_until "p1 at site a to notice sshd is gone" 20 \
        eval '! link_up a p1' || return
    sleep 9
    sshd_restart b || return
    t0=$(now_ms)
    wait_until "p1 up again after sshd returned" 20 both_up || return
    ms=$(( $(now_ms) - t0 ))
    echo "MEASURE: max-backoff-2-recovery-s $(awk "BEGIN { printf \"%.2f\", $ms / 1000 }")" >&2
    # 2 s ceiling, plus connect, key exchange and handshake.
    [ "$ms" -le 3500 ] \
        || why "recovery took $ms ms, more than max_backoff=2 allows" || return
}

run_case setup case_setup || exit 1
run_case cipher case_cipher
run_case compression case_compression
run_case proxy-command case_proxy_command
run_case max-backoff case_max_backoff
lib_finish
