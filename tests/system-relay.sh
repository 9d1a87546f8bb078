#!/bin/bash
# ovs-ssh-tap-relay, the far end of a link on hosts without an ssh-tap port,
# run by a real sshd as the forced command of locked-down accounts.
#
#   site a: OVS (ovs-vswitchd-ssh-tap), br0 with VMs a1 and a2 and the
#           passive port p1; sshd with the --socket and streamlocal accounts.
#   host b: no OVS; Linux bridge lan0 with VM b1 (a DHCP server runs there);
#           sshd with the --tap accounts (root, and an unprivileged one that
#           uses a tap prepared for it).
#
# The links, with "[relay]" an ovs-ssh-tap-relay and "==>" an SSH login:
#
#   tap-link        a1 - br0 - tap0a [relay] ==> root@b [relay] stap0 - lan0
#   existing-tap    a: tap1a [relay] ==> account@b [relay] stap1 (made before)
#   socket-mode     lan0 - staps [relay] ==> account@a [relay --socket] - p1
#   streamlocal     lan0 - stapl [relay] - nc -U - ssh -L ==> account@a - p1
#   remote-command  a1 - br0 - p2 (remote_command) ==> root@b [relay] - lan0
#
# OpenSSH's client with a second relay stands in for an active port, so that
# the relay is tested on its own; remote-command then checks the real thing
# (it is skipped if the plugin does not take options:remote_command).
#
# The cases follow docs/deployment.md, which describes each account.  Needs
# root.  Environment: RELAY (the relay to test; default: the build tree's
# utilities/ovs-ssh-tap-relay, else $PATH), plus lib.sh's knobs.

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=relay
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

lib_declare_cases setup no-cap tap-link close-removes-tap existing-tap \
    no-shell no-forwarding socket-mode dhcp socket-close streamlocal \
    remote-command
lib_init

TAPA1_V4=198.51.100.3
DHCP_FIRST=198.51.100.100
DHCP_LAST=198.51.100.110

# Accounts and group made for this run (system accounts, removed at exit).
U_TAP=sstr$$t           # b: relay --tap on a tap prepared for it.
U_SOCK=sstr$$s          # a: relay --socket to p1.
U_SL=sstr$$l            # a: direct-streamlocal to p1, no command at all.
G_SOCK=sstr$$g          # a: the group of p1's socket.

RELAY_BIN=
NS_A=
NS_B=
KH=

# ---------------------------------------------------------------------------
# Cleanup of what lib.sh does not know about: the accounts.  Runs before
# lib_cleanup, which then kills the recorded processes and the namespaces.

relay_exit() {
    local rc=$? u pids
    if [ -n "$SCRATCH" ] && [ -f "$SCRATCH/users" ]; then
        while read -r u; do
            [ -n "$u" ] || continue
            # Whatever still runs as the account is a child of one of our
            # sshds: end it by pid, or userdel refuses.
            pids=$(ps -o pid= -u "$u" 2>/dev/null)
            if [ -n "$pids" ]; then
                # shellcheck disable=SC2086
                kill -KILL $pids 2>/dev/null
                sleep 0.2
            fi
            userdel "$u" 2>/dev/null \
                || lib_log "$SUITE: could not remove account $u"
        done < "$SCRATCH/users"
    fi
    if [ -n "$SCRATCH" ] && [ -f "$SCRATCH/groups" ]; then
        while read -r u; do
            [ -n "$u" ] && groupdel "$u" 2>/dev/null
        done < "$SCRATCH/groups"
    fi
    (exit "$rc")
    lib_cleanup
}
trap relay_exit EXIT

# ---------------------------------------------------------------------------
# Helpers.

find_relay() {
    local c built=
    [ -n "${abs_top_builddir:-}" ] \
        && built=$abs_top_builddir/utilities/ovs-ssh-tap-relay
    for c in "${RELAY:-}" "$built" \
             "$(command -v ovs-ssh-tap-relay 2>/dev/null)"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

# add_user NAME SHELL [GROUP]: a system account with no home directory and
# no password (key logins only; "*" rather than useradd's "!" so that sshd
# without PAM does not take it for a locked account).
add_user() {
    local u=$1 shell=$2 g=${3:-}
    if getent passwd "$u" >/dev/null; then
        lib_log "account $u already exists"
        return 1
    fi
    useradd --system --no-create-home --home-dir /nonexistent \
        --shell "$shell" ${g:+--groups "$g"} "$u" || return 1
    echo "$u" >> "$SCRATCH/users"
    usermod -p '*' "$u"
}

add_group() {
    if getent group "$1" >/dev/null; then
        lib_log "group $1 already exists"
        return 1
    fi
    groupadd --system "$1" || return 1
    echo "$1" >> "$SCRATCH/groups"
}

# new_key NAME: a client key pair $SCRATCH/keys/NAME{,.pub}.
new_key() {
    ssh-keygen -q -t ed25519 -N '' -C "relay-test-$1" -f "$SCRATCH/keys/$1"
}
key() { echo "$SCRATCH/keys/$1"; }

# authorize SITE USER OPTIONS KEY: one authorized_keys line for USER.
authorize() {
    echo "$3 $(cat "$(key "$4").pub")" \
        >> "$(site_dir "$1")/ssh/authorized_keys.d/$2"
}

# start_sshd SITE: an sshd on SITE's underlay address whose configuration
# ends with $(site_dir SITE)/ssh/match.conf (the recipes' Match blocks) and
# reads authorized_keys.d/%u.  StrictModes is off only because the files
# live in the scratch directory under /tmp.
#
# On host b, sshd runs in a mount namespace of its own where /dev/net/tun is
# mode 0666, as udev makes it on a stock Debian host, if it is not so here
# (some containers have it 0600): the unprivileged tap account needs that.
start_sshd() {
    local s=$1 d ns addr cfg pid
    d=$(site_dir "$s")/ssh
    ns=$(site_ns "$s")
    addr=$(site_addr "$s") || return 1
    cfg=$d/sshd_config
    mkdir -p /run/sshd && chmod 0755 /run/sshd
    ssh-keygen -q -t ed25519 -N '' -C "relay-test-host-$s" \
        -f "$d/ssh_host_ed25519_key" || return 1
    echo 22 > "$d/port"
    cat > "$cfg" <<EOF
# sshd for relay test site $s: see docs/deployment.md for the recipes.
ListenAddress $addr
Port 22
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys.d/%u
StrictModes no
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
EOF
    cat "$d/match.conf" >> "$cfg"
    if ! "$SSHD" -t -f "$cfg"; then
        lib_log "site $s: sshd rejects $cfg"
        return 1
    fi
    echo "$addr $(cat "$d/ssh_host_ed25519_key.pub")" >> "$KH"

    local -a pre=()
    if [ "$s" = b ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
        mkdir -p "$SCRATCH/dev-b"
        # shellcheck disable=SC2016
        pre=(unshare --mount --propagation private sh -c '
            mount -t tmpfs -o size=16k,mode=0755 sst-dev "$1" &&
            mknod -m 0666 "$1/tun" c 10 200 &&
            mount --bind "$1/tun" /dev/net/tun &&
            shift && exec "$@"' sh "$SCRATCH/dev-b")
    fi
    lib_spawn "sshd@$s" /dev/null "$d/sshd.log" \
        "${pre[@]}" ip netns exec "$ns" "$SSHD" -D -e -f "$cfg"
    if ! wait_until "sshd of site $s listening on $addr:22" 10 \
            sshd_listening "$s" "$addr" 22; then
        cat "$d/sshd.log" >&2
        return 1
    fi
    pid=$(cat "$d/sshd.pid" 2>/dev/null)
    if [ -n "$pid" ] && [ "$pid" != "$LAST_PID" ]; then
        lib_register "$pid" "sshd@$s"
    fi
}

# ssh_cmd KEY: sets SSH_CMD to OpenSSH's client with KEY and our known_hosts
# only (no user or system configuration).
ssh_cmd() {
    SSH_CMD=(ssh -F /dev/null -i "$(key "$1")" -o IdentitiesOnly=yes
             -o UserKnownHostsFile="$KH" -o GlobalKnownHostsFile=/dev/null
             -o StrictHostKeyChecking=yes -o BatchMode=yes
             -o ConnectTimeout=10)
}

# tssh NS KEY ARGS...: runs ssh with KEY and ARGS in namespace NS, for at
# most 20 s.
tssh() {
    local ns=$1
    ssh_cmd "$2"
    shift 2
    lib_run ip netns exec "$ns" timeout --foreground 20 "${SSH_CMD[@]}" "$@"
}

# link_start NAME NS RELAY-ARGS...: a relay in NS whose standard input and
# output are those of the command in the array TRANSPORT (an ssh client,
# say), also run in NS.  Sets LINK_RELAY and LINK_PEER to their pids; their
# stderr is in $SCRATCH/link-NAME/{relay,peer}.err (a far relay's stderr
# arrives in peer.err through ssh).
#
# The fifos are opened in an order that cannot deadlock: the relay opens
# "down" for reading and the transport opens it for writing first, then
# "up" the other way round.
link_start() {
    local name=$1 ns=$2 d envs
    shift 2
    d=$SCRATCH/link-$name
    rm -rf "$d"
    mkdir -p "$d"
    mkfifo "$d/down" "$d/up" || return 1
    mapfile -t envs < <(site_env a)
    ip netns exec "$ns" env "${envs[@]}" PATH="$SCRATCH/bin:$PATH" \
        "$RELAY_BIN" "$@" <"$d/down" >"$d/up" 2>"$d/relay.err" &
    LINK_RELAY=$!
    lib_register "$LINK_RELAY" "relay-$name"
    ip netns exec "$ns" "${TRANSPORT[@]}" >"$d/down" <"$d/up" \
        2>"$d/peer.err" &
    LINK_PEER=$!
    lib_register "$LINK_PEER" "peer-$name"
    echo "$LINK_RELAY $LINK_PEER" > "$d/pids"
}

link_err() { cat "$SCRATCH/link-$1/relay.err" "$SCRATCH/link-$1/peer.err"; }

# link_up_log NAME: the near relay has seen the far end's HELLO.
link_up_log() { grep -q 'link up' "$SCRATCH/link-$1/relay.err"; }

# wait_exit PID SECONDS: waits for our child PID to exit; sets EXIT_STATUS.
wait_exit() {
    local pid=$1
    wait_until "pid $pid to exit" "$2" lib_dead "$pid" || return 1
    wait "$pid" 2>/dev/null
    EXIT_STATUS=$?
}

dev_exists() { ip -n "$1" link show "$2" >/dev/null 2>&1; }
dev_gone() { ! dev_exists "$@"; }
link_down() { ! link_up "$@"; }

# master_is NS DEV BRIDGE: DEV is a port of Linux bridge BRIDGE.
master_is() {
    ip -n "$1" -o link show "$2" 2>/dev/null | grep -q " master $3 "
}

ovs_port_of() { [ "$(site_vsctl a port-to-br "$1" 2>/dev/null)" = br0 ]; }
ovs_port_gone() { ! site_vsctl a port-to-br "$1" >/dev/null 2>&1; }

# relays_in NS: pids of relay processes running in namespace NS.
relays_in() {
    local pid
    for pid in $(ip netns pids "$1" 2>/dev/null); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ovs-ssh-tap-rel ] \
            && echo "$pid"
    done
}
no_relays_in() { [ -z "$(relays_in "$1")" ]; }

# ping_b1 VM: VM reaches b1 through ARP and ICMP.  Checks that the ARP
# entry VM learned for b1 is b1's MAC.
ping_b1() {
    local vm=$1 mac got
    ip -n "$(vm_ns "$vm")" neigh flush dev eth0 2>/dev/null
    if ! wait_until "$vm -> b1 ping" 15 \
            ip netns exec "$(vm_ns "$vm")" ping -c 1 -W 1 "$B1_V4"; then
        return 1
    fi
    vm_exec "$vm" ping -c 3 -i 0.2 -W 2 "$B1_V4" >/dev/null \
        || why "ping $vm -> b1 lost packets" || return
    mac=$(vm_mac b1)
    got=$(ip -n "$(vm_ns "$vm")" neigh show "$B1_V4" dev eth0 \
          | awk '{print $3}')
    [ "$got" = "$mac" ] || why "ARP at $vm: $B1_V4 is at '$got', b1 has $mac"
}

# A VM namespace with eth0 whose veth peer VM is a port of Linux bridge
# lan0 on host b.
vm_add_b() {
    local vm=$1 v4=$2 ns
    ns=$(lib_netns_add "vm-$vm") || return 1
    ip -n "$NS_B" link add "$vm" type veth peer name eth0 netns "$ns" \
        || return 1
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null || return 1
    ip netns exec "$NS_B" ethtool -K "$vm" tx off >/dev/null || return 1
    ip -n "$ns" addr add "$v4/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip -n "$NS_B" link set "$vm" master lan0 up
}

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    local t
    RELAY_BIN=$(find_relay) \
        || why "no ovs-ssh-tap-relay (build it, or set RELAY)" || return
    for t in useradd userdel groupadd usermod setpriv unshare mknod mkfifo; do
        command -v "$t" >/dev/null || why "missing tool: $t" || return
    done
    # The accounts must be able to run the relay: a copy in the scratch
    # directory (mode 0755 all the way) rather than the build tree.
    mkdir -p "$SCRATCH/bin" "$SCRATCH/keys"
    install -m 0755 "$RELAY_BIN" "$SCRATCH/bin/ovs-ssh-tap-relay" \
        || why "cannot copy $RELAY_BIN" || return
    RELAY_BIN=$SCRATCH/bin/ovs-ssh-tap-relay
    # For --bridge with an OVS bridge, the relay runs ovs-vsctl from $PATH.
    ln -s "$OVS_VSCTL" "$SCRATCH/bin/ovs-vsctl"
    "$RELAY_BIN" --version | grep -qx 'ovs-ssh-tap-relay (ovs-ssh-tap) .*' \
        || why "unexpected --version output" || return
    KH=$SCRATCH/known_hosts

    site_start a || why "site a did not start" || return
    NS_A=$(site_ns a)
    mkdir -p "$(site_dir b)/ssh" "$(site_dir b)/run"
    NS_B=$(lib_netns_add b) || why "namespace b" || return
    underlay_connect a b || why "underlay: $REASON" || return

    ip -n "$NS_B" link add lan0 type bridge || why "bridge lan0" || return
    ip -n "$NS_B" link set lan0 up
    vm_add a a1 "$A1_V4/24" "$A1_V6/64" || why "vm a1" || return
    vm_add_b b1 "$B1_V4" || why "vm b1" || return

    add_group "$G_SOCK" || why "cannot create group $G_SOCK" || return
    add_user "$U_TAP" /bin/sh || why "cannot create account $U_TAP" || return
    add_user "$U_SOCK" /bin/sh "$G_SOCK" \
        || why "cannot create account $U_SOCK" || return
    add_user "$U_SL" /usr/sbin/nologin "$G_SOCK" \
        || why "cannot create account $U_SL" || return
    for t in root tap sock sl; do
        new_key "$t" || why "ssh-keygen" || return
    done

    # The passive port, its socket in the group of the accounts that use it.
    site_vsctl a add-port br0 p1 -- set interface p1 type=ssh-tap \
        options:socket_group="$G_SOCK" || why "add-port p1" || return
    P1_SOCK=$(site_dir a)/run/ssh-tap/p1.sock
    wait_until "p1's socket" 10 test -S "$P1_SOCK" || return

    # Host b: root creates taps (recipe "tap, root"), U_TAP attaches to one
    # made for it (recipe "tap, unprivileged").
    mkdir -p "$(site_dir b)/ssh/authorized_keys.d"
    cat > "$(site_dir b)/ssh/match.conf" <<EOF
Match User root
    PermitRootLogin forced-commands-only
    DisableForwarding yes
    PermitTTY no
    PermitTunnel no
    PermitUserRC no
Match User $U_TAP
    DisableForwarding yes
    PermitTTY no
    PermitTunnel no
    PermitUserRC no
EOF
    authorize b root \
        "restrict,command=\"$RELAY_BIN --tap=stap0 --bridge=lan0\"" root
    authorize b "$U_TAP" "restrict,command=\"$RELAY_BIN --tap=stap1\"" tap
    ip -n "$NS_B" tuntap add dev stap1 mode tap user "$U_TAP" \
        || why "ip tuntap add stap1" || return
    ip -n "$NS_B" link set stap1 master lan0 up || return

    # Site a: U_SOCK may only run the relay on p1's socket (recipe
    # "--socket"), U_SL may only open stream-local channels (recipe
    # "streamlocal").
    mkdir -p "$(site_dir a)/ssh/authorized_keys.d"
    cat > "$(site_dir a)/ssh/match.conf" <<EOF
Match User $U_SOCK
    DisableForwarding yes
    PermitTTY no
    PermitTunnel no
    PermitUserRC no
Match User $U_SL
    AllowStreamLocalForwarding local
    AllowTcpForwarding local
    PermitListen none
    AllowAgentForwarding no
    X11Forwarding no
    PermitTunnel no
    PermitTTY no
    PermitUserRC no
    ForceCommand /usr/sbin/nologin
EOF
    authorize a "$U_SOCK" \
        "restrict,command=\"$RELAY_BIN --socket=$P1_SOCK\"" sock
    authorize a "$U_SL" "restrict,port-forwarding" sl

    start_sshd b || why "sshd at b" || return
    start_sshd a || why "sshd at a" || return
}

# Without CAP_NET_ADMIN (root with the capability dropped), creating a tap
# fails with a message that says what is missing.
case_no_cap() {
    local out rc want
    want="ovs-ssh-tap-relay: cannot create tap nocap0: Operation not"
    want+=" permitted (needs CAP_NET_ADMIN: run as root or grant the"
    want+=" capability)"
    out=$(ip netns exec "$NS_B" setpriv --inh-caps=-net_admin \
              --bounding-set=-net_admin "$RELAY_BIN" --tap=nocap0 \
              </dev/null 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq 1 ] || why "exit status $rc, expected 1 ($out)" || return
    [ "$out" = "$want" ] || why "stderr was: $out" || return
    dev_gone "$NS_B" nocap0 || why "nocap0 exists"
}

# Site a's VM a1 reaches b1 over: br0 -- tap0a (relay, added to the OVS
# bridge by the relay itself) == ssh root@b ==> relay --tap=stap0 -- lan0.
case_tap_link() {
    ssh_cmd root
    TRANSPORT=("${SSH_CMD[@]}" "root@$UNDERLAY_B")
    link_start tap "$NS_A" --tap=tap0a --bridge=br0
    wait_until "tap0a in site a's br0" 15 ovs_port_of tap0a || return
    wait_until "stap0 in lan0 on b" 15 master_is "$NS_B" stap0 lan0 \
        || { REASON="$REASON: $(link_err tap)"; return 1; }
    wait_until "the link up at a" 15 link_up_log tap \
        || { REASON="$REASON: $(link_err tap)"; return 1; }
    grep -q 'peer "ovs-ssh-tap-relay ' "$SCRATCH/link-tap/relay.err" \
        || why "far relay's HELLO not seen: $(link_err tap)" || return
    ping_b1 a1
}

# Ending the near relay closes the channel: the far relay exits and the tap
# it created is gone; the near relay removes its tap and its OVS port.
case_close_removes_tap() {
    local relay ssh
    [ -f "$SCRATCH/link-tap/pids" ] || why "no link" || return
    read -r relay ssh < "$SCRATCH/link-tap/pids"
    kill -TERM "$relay"
    wait_exit "$relay" 10 || return
    [ "$EXIT_STATUS" -eq 0 ] \
        || why "near relay exited $EXIT_STATUS after SIGTERM" || return
    dev_gone "$NS_A" tap0a || why "tap0a still exists at a" || return
    wait_until "tap0a's port removed from br0" 10 ovs_port_gone tap0a \
        || return
    wait_exit "$ssh" 10 || why "ssh did not exit" || return
    wait_until "stap0 gone at b" 10 dev_gone "$NS_B" stap0 || return
    wait_until "no relay at b" 10 no_relays_in "$NS_B" || return
    grep -q 'closing: the peer closed the channel' \
        "$SCRATCH/link-tap/peer.err" \
        || why "far relay did not report the close: $(link_err tap)"
}

# The unprivileged account attaches to stap1, which root made for it, and
# leaves it in place when the link closes.  This time the ssh client goes
# first.
case_existing_tap() {
    local relay ssh
    ssh_cmd tap
    TRANSPORT=("${SSH_CMD[@]}" "$U_TAP@$UNDERLAY_B")
    link_start existing "$NS_A" --tap=tap1a
    relay=$LINK_RELAY
    ssh=$LINK_PEER
    wait_until "tap1a at a" 10 dev_exists "$NS_A" tap1a || return
    ip -n "$NS_A" addr add "$TAPA1_V4/24" dev tap1a || return
    wait_until "the link up" 15 link_up_log existing \
        || { REASON="$REASON: $(link_err existing)"; return 1; }
    grep -q 'stap1: attached to existing tap' \
        "$SCRATCH/link-existing/peer.err" \
        || why "far relay did not attach: $(link_err existing)" || return
    wait_until "a -> b1 ping" 15 \
        ip netns exec "$NS_A" ping -c 1 -W 1 "$B1_V4" || return

    kill -TERM "$ssh"
    wait_exit "$relay" 10 || why "near relay did not exit" || return
    [ "$EXIT_STATUS" -eq 0 ] \
        || why "near relay exited $EXIT_STATUS: $(link_err existing)" \
        || return
    dev_gone "$NS_A" tap1a || why "tap1a (created by the relay) remains" \
        || return
    wait_until "no relay at b" 10 no_relays_in "$NS_B" || return
    master_is "$NS_B" stap1 lan0 \
        || why "stap1 (made beforehand) is gone or left lan0"
}

# No account gets a shell: a command, or a login with a terminal, runs the
# forced command (or nologin), never the shell.
check_no_shell() {
    local ns=$1 k=$2 dest=$3 out=$SCRATCH/noshell.out err=$SCRATCH/noshell.err
    tssh "$ns" "$k" "$dest" 'echo hi-from-shell' </dev/null >"$out" 2>"$err"
    if grep -aq hi-from-shell "$out" "$err"; then
        why "$dest ran a shell command"
        return 1
    fi
    tssh "$ns" "$k" -tt "$dest" 'echo hi-from-shell' </dev/null \
        >"$out" 2>"$err"
    if grep -aq hi-from-shell "$out" "$err"; then
        why "$dest ran a shell command with a terminal"
        return 1
    fi
    grep -q 'PTY allocation request failed' "$err" \
        || why "$dest: a terminal was not refused: $(cat "$err")"
}

case_no_shell() {
    local first
    check_no_shell "$NS_A" root "root@$UNDERLAY_B" || return
    # What root@b gets instead: the relay's HELLO ("\1\0" then length).
    tssh "$NS_A" root "root@$UNDERLAY_B" 'echo hi' </dev/null \
        >"$SCRATCH/hello.out" 2>/dev/null
    first=$(head -c 8 "$SCRATCH/hello.out" | od -An -tx1 | tr -d ' \n')
    [ "${first:0:4}/${first:8:8}" = 0100/53544150 ] \
        || why "root@b's output does not start with a HELLO: $first" \
        || return
    check_no_shell "$NS_A" tap "$U_TAP@$UNDERLAY_B" || return
    check_no_shell "$NS_B" sock "$U_SOCK@$UNDERLAY_A" || return
    check_no_shell "$NS_B" sl "$U_SL@$UNDERLAY_A"
}

# check_no_forwarding NS KEY DEST [streamlocal]: remote forwarding is
# refused, and so are stdio (TCP) forwarding and stream-local channels,
# unless the account exists for stream-local channels ("streamlocal"): in
# OpenSSH those need AllowTcpForwarding local, which then allows TCP too
# (docs/deployment.md says so).
check_no_forwarding() {
    local ns=$1 k=$2 dest=$3 mode=${4:-} err=$SCRATCH/nofwd.err
    local target=$UNDERLAY_B:22
    [ "$dest" = "${dest%@"$UNDERLAY_A"}" ] || target=$UNDERLAY_A:22
    if tssh "$ns" "$k" -N -o ExitOnForwardFailure=yes \
            -R 127.0.0.1:0:127.0.0.1:22 "$dest" </dev/null >/dev/null \
            2>"$err"; then
        why "$dest: -R worked"
        return 1
    fi
    grep -q 'remote port forwarding failed' "$err" \
        || why "$dest: -R: $(cat "$err")" || return
    [ "$mode" = streamlocal ] && return 0

    if tssh "$ns" "$k" -W "$target" "$dest" </dev/null >/dev/null \
            2>"$err"; then
        why "$dest: -W $target worked"
        return 1
    fi
    grep -q 'administratively prohibited' "$err" \
        || why "$dest: -W: $(cat "$err")" || return
    check_no_streamlocal "$ns" "$k" "$dest"
}

# refusals SITE: how many stream-local channels SITE's sshd has refused.
refusals() {
    grep -Ec 'refused streamlocal port forward|connect to path .* denied' \
        "$(site_dir "$1")/ssh/sshd.log"
}

more_refusals() { [ "$(refusals "$1")" -gt "$2" ]; }

# check_no_streamlocal NS KEY DEST: a local unix socket forwarded to p1's
# socket (ssh -L) gets its channel refused when used.  sshd reports that
# refusal to the client as a failed connect, so its log says which it was.
check_no_streamlocal() {
    local ns=$1 k=$2 dest=$3 pid lsock=$SCRATCH/nofwd.sock site=b n0
    local err=$SCRATCH/nofwd-sl.err refused=0
    [ "$dest" = "${dest%@"$UNDERLAY_A"}" ] || site=a
    n0=$(refusals "$site")
    rm -f "$lsock"
    ssh_cmd "$k"
    lib_spawn ssh-nofwd /dev/null "$err" \
        ip netns exec "$ns" "${SSH_CMD[@]}" -N -L "$lsock:$P1_SOCK" "$dest"
    pid=$LAST_PID
    if wait_until "ssh -L's socket" 10 test -S "$lsock"; then
        ip netns exec "$ns" timeout 5 nc -U "$lsock" </dev/null >/dev/null \
            2>&1
        wait_until "$dest: stream-local channel refused" 10 \
            more_refusals "$site" "$n0" && refused=1
    fi
    kill -TERM "$pid" 2>/dev/null
    [ "$refused" -eq 1 ] || why "$dest: stream-local: $(cat "$err")"
}

case_no_forwarding() {
    check_no_forwarding "$NS_A" root "root@$UNDERLAY_B" || return
    check_no_forwarding "$NS_A" tap "$U_TAP@$UNDERLAY_B" || return
    check_no_forwarding "$NS_B" sock "$U_SOCK@$UNDERLAY_A" || return
    check_no_forwarding "$NS_B" sl "$U_SL@$UNDERLAY_A" streamlocal
}

# b1's LAN joins site a's br0: relay --tap on b == ssh ==> the account
# locked to "relay --socket" ==> the passive port p1.
case_socket_mode() {
    ssh_cmd sock
    TRANSPORT=("${SSH_CMD[@]}" "$U_SOCK@$UNDERLAY_A")
    link_start sock "$NS_B" --tap=staps --bridge=lan0
    if ! wait_until "p1 link_state up at a" 20 link_up a p1; then
        REASON="$REASON: $(link_err sock)"
        return 1
    fi
    wait_until "the link up at b" 10 link_up_log sock || return
    grep -q 'peer "ovs-ssh-tap ' "$SCRATCH/link-sock/relay.err" \
        || lib_log "note: p1's HELLO: $(grep 'link up' \
                    "$SCRATCH/link-sock/relay.err")"
    iface_get a p1 status | grep -q 'ovs-ssh-tap-relay' \
        || lib_log "note: p1's status does not name the relay:" \
                   "$(iface_get a p1 status)"
    ping_b1 a1
}

# The classic use of an L2 extension: a DHCP server on b's LAN gives an
# address to a VM behind site a's bridge, over the --socket link.
case_dhcp() {
    local d=$SCRATCH/dhcp ns
    grep -q 'link up' "$SCRATCH/link-sock/relay.err" 2>/dev/null \
        || why "the --socket link is not up" || return
    if ! command -v busybox >/dev/null || ! busybox udhcpd --help \
            >/dev/null 2>&1; then
        REASON="busybox (udhcpd, udhcpc) is not installed"
        return 77
    fi
    mkdir -p "$d"
    cat > "$d/udhcpd.conf" <<EOF
start $DHCP_FIRST
end $DHCP_LAST
interface eth0
lease_file $d/udhcpd.leases
pidfile $d/udhcpd.pid
option subnet 255.255.255.0
option lease 600
EOF
    : > "$d/udhcpd.leases"
    cat > "$d/udhcpc.sh" <<EOF
#!/bin/sh
[ "\$1" = bound ] && echo "\$ip" > $d/lease
exit 0
EOF
    chmod 0755 "$d/udhcpc.sh"
    lib_spawn udhcpd "$d/udhcpd.out" "$d/udhcpd.err" \
        ip netns exec "$(vm_ns b1)" busybox udhcpd -f "$d/udhcpd.conf"

    # A second VM behind site a's bridge, with no address.
    ns=$(lib_netns_add vm-a2) || return
    ip -n "$NS_A" link add a2 type veth peer name eth0 netns "$ns" \
        || return
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
    ip netns exec "$NS_A" ethtool -K a2 tx off >/dev/null
    ip -n "$ns" link set eth0 up
    ip -n "$NS_A" link set a2 up
    site_vsctl a add-port br0 a2 || return

    lib_run ip netns exec "$ns" timeout --foreground 30 busybox udhcpc -f -q \
        -n -t 8 -T 2 -i eth0 -s "$d/udhcpc.sh" >"$d/udhcpc.out" 2>&1
    [ -s "$d/lease" ] \
        || why "no lease: $(tr '\n' ' ' < "$d/udhcpc.out")" || return
    local ip
    ip=$(cat "$d/lease")
    case $ip in
        198.51.100.1[0-1][0-9]) ;;
        *) why "lease $ip is not from b1's pool"; return 1 ;;
    esac
    ip -n "$ns" addr add "$ip/24" dev eth0 || return
    wait_until "a2 ($ip) -> b1 ping" 10 \
        ip netns exec "$ns" ping -c 1 -W 1 "$B1_V4"
}

# Closing the --socket link from b: the tap b's relay created goes, p1 goes
# down, and the relay at a exits.
case_socket_close() {
    local relay ssh
    [ -f "$SCRATCH/link-sock/pids" ] || why "no link" || return
    read -r relay ssh < "$SCRATCH/link-sock/pids"
    kill -TERM "$relay"
    wait_exit "$relay" 10 || return
    [ "$EXIT_STATUS" -eq 0 ] || why "relay exited $EXIT_STATUS" || return
    wait_until "staps gone at b" 10 dev_gone "$NS_B" staps || return
    wait_until "p1 down at a" 20 link_down a p1 || return
    wait_until "no relay at a" 10 no_relays_in "$NS_A" || return
    wait_exit "$ssh" 10 || why "ssh did not exit"
}

# The default channel, with the account of the streamlocal recipe: OpenSSH's
# client forwards a local unix socket to p1's (-L), which opens the same
# direct-streamlocal channel an active port opens, and nc carries the
# relay's bytes to that local socket.
case_streamlocal() {
    local relay fwd lsock=$SCRATCH/sl.sock
    ssh_cmd sl
    lib_spawn ssh-sl /dev/null "$SCRATCH/ssh-sl.err" \
        ip netns exec "$NS_B" "${SSH_CMD[@]}" -N \
        -o ExitOnForwardFailure=yes -L "$lsock:$P1_SOCK" \
        "$U_SL@$UNDERLAY_A"
    fwd=$LAST_PID
    wait_until "ssh -L's socket" 10 test -S "$lsock" \
        || { REASON="$REASON: $(cat "$SCRATCH/ssh-sl.err")"; return 1; }
    TRANSPORT=(nc -U "$lsock")
    link_start sl "$NS_B" --tap=stapl --bridge=lan0
    relay=$LINK_RELAY
    if ! wait_until "p1 link_state up at a" 20 link_up a p1; then
        REASON="$REASON: $(link_err sl) $(cat "$SCRATCH/ssh-sl.err")"
        return 1
    fi
    ping_b1 a1 || return
    kill -TERM "$relay"
    wait_exit "$relay" 10 || return
    wait_until "p1 down at a" 20 link_down a p1 || return
    dev_gone "$NS_B" stapl || why "stapl remains at b" || return
    kill -TERM "$fwd"
}

# The real thing, once the plugin has options:remote_command: site a's
# active port runs the relay at b through root's forced command.
case_remote_command() {
    local err
    site_vsctl a add-port br0 p2 -- set interface p2 type=ssh-tap \
        options:remote="root@$UNDERLAY_B" options:key="$(key root)" \
        options:known_hosts="$KH" \
        options:remote_command="$RELAY_BIN --tap=stap0 --bridge=lan0" \
        || return
    sleep 1
    err=$(iface_get a p2 error)
    case $err in
        *remote_command*)
            site_vsctl a del-port br0 p2
            REASON="the plugin does not take options:remote_command: $err"
            return 77
            ;;
    esac
    if ! wait_until "p2 link_state up at a" 20 link_up a p2; then
        REASON="$REASON (status: $(iface_get a p2 status))"
        return 1
    fi
    wait_until "stap0 in lan0 on b" 10 master_is "$NS_B" stap0 lan0 \
        || return
    ping_b1 a1 || return
    site_vsctl a del-port br0 p2 || return
    wait_until "stap0 gone at b" 15 dev_gone "$NS_B" stap0
}

# ---------------------------------------------------------------------------

if ! run_case setup case_setup; then
    lib_report_rest SKIP "setup failed"
    lib_finish
fi
run_case no-cap case_no_cap
run_case tap-link case_tap_link
run_case close-removes-tap case_close_removes_tap
run_case existing-tap case_existing_tap
run_case no-shell case_no_shell
run_case no-forwarding case_no_forwarding
run_case socket-mode case_socket_mode
run_case dhcp case_dhcp
run_case socket-close case_socket_close
run_case streamlocal case_streamlocal
run_case remote-command case_remote_command
lib_finish
