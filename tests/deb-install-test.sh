#!/bin/bash
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# The install test of the Debian packages (docs/packaging.md):
#
#   1. builds the .debs from this tree with dpkg-buildpackage (in a copy of
#      the tree; missing build dependencies are installed first), or takes
#      them from $DEBS_DIR;
#   2. runs lintian on them (installed if missing) and fails on any error
#      or warning tag;
#   3. apt-get installs the stock openvswitch-switch and the three packages;
#   4. switches the ovs-vswitchd alternative to ovs-vswitchd-ssh-tap and
#      starts the daemons the Debian way (ovs-ctl, as
#      /etc/init.d/openvswitch-switch does; systemctl where systemd runs);
#   5. makes two netdev bridges, each with a "VM" namespace on a veth, joined
#      only by an ssh-tap pair (an active port dialling an sshd on 127.0.0.1
#      with a test key, to the passive port's socket), and pings across;
#   6. stops the daemons, purges the three packages and checks that
#      /usr/sbin/ovs-vswitchd is the stock binary again;
#   7. cleans up what it created: namespaces, bridges, its sshd and the
#      daemons (by pid), files the daemons left, and the packages it
#      installed (build dependencies, lintian, openvswitch-switch: each
#      stays if it was installed before).
#
# It changes the system (packages, alternatives, /etc/openvswitch), so it
# refuses to run unless CI=true or --force is given.  Needs root.
#
# usage: tests/deb-install-test.sh [--force] [--keep]
#   --force   run even though CI is not "true"
#   --keep    keep the scratch directory (build log, daemon logs)
# environment:
#   DEBS_DIR  take the three .debs from this directory instead of building
#   CI=true   same as --force
#
# Prints one "PASS: deb-install: CASE" or "FAIL: deb-install: CASE: why"
# line per case, then "N passed, N failed"; exits non-zero on any failure.

# Functions are reached through run_case and the traps.
# shellcheck disable=SC2317
set -u

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKGS="openvswitch-switch-ssh-tap ovs-ssh-tap-utils ovs-ssh-tap-relay"
VARIANT=/usr/lib/openvswitch-switch-ssh-tap/ovs-vswitchd-ssh-tap
STOCK=/usr/lib/openvswitch-switch/ovs-vswitchd
OVS_CTL=/usr/share/openvswitch/scripts/ovs-ctl
RUNDIR=/var/run/openvswitch
# Everything OVS writes on the host; what is new there is removed at the end.
OVS_DIRS="/etc/openvswitch /var/lib/openvswitch /var/log/openvswitch $RUNDIR"

FORCE=0
KEEP=0
for arg; do
    case $arg in
        --force) FORCE=1 ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "$0: unknown argument $arg" >&2; exit 2 ;;
    esac
done
if [ "$FORCE" != 1 ] && [ "${CI:-}" != true ]; then
    echo "$0: installs and purges packages and starts Open vSwitch on this" >&2
    echo "machine; run it only on a disposable one, with CI=true or --force." >&2
    exit 2
fi

NPASS=0
NFAIL=0
REASON=
T0=$(date +%s)
declare -A TIMES

pass() { echo "PASS: deb-install: $1"; NPASS=$((NPASS + 1)); }
fail() { echo "FAIL: deb-install: $1: $2"; NFAIL=$((NFAIL + 1)); }
log() { printf 'deb-install: %s\n' "$*" >&2; }
why() { REASON=$*; return 1; }

# run_case NAME FUNCTION: runs FUNCTION, prints its PASS/FAIL line and its
# duration; returns FUNCTION's status.
run_case() {
    local name=$1 fn=$2 start rc
    REASON=
    start=$(date +%s)
    "$fn"
    rc=$?
    TIMES[$name]=$(( $(date +%s) - start ))
    if [ "$rc" -eq 0 ]; then
        pass "$name"
    else
        fail "$name" "${REASON:-exit status $rc}"
    fi
    log "$name: ${TIMES[$name]}s"
    return "$rc"
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_until() {
    local deadline=$(( $(date +%s) + $1 ))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

installed() {
    dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

# new_pkgs APT-GET-ARGS...: the packages that "apt-get -s ARGS" would newly
# install (not those it would upgrade: they were there before).
new_pkgs() {
    apt-get -s "$@" 2>/dev/null | sed -n 's/^Inst \([^ ]*\) (.*/\1/p'
}

# apt_add LOG APT-GET-ARGS...: runs "apt-get -y -q ARGS" and adds what it
# newly installed to ADDED_PKGS (recorded before it runs, so that a failure
# half way still purges them all).
apt_add() {
    local log=$1 new
    shift
    mapfile -t new < <(new_pkgs "$@")
    ADDED_PKGS+=("${new[@]}")
    [ "${#new[@]}" -eq 0 ] && return 0
    log "apt-get $*: ${#new[@]} new packages (listed in $log)"
    echo "deb-install: apt-get $*: new: ${new[*]}" >>"$log"
    DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" >>"$log" 2>&1
}

# pid_alive PIDFILE: the daemon of an OVS pidfile is running.
pid_alive() {
    local pid
    pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

ovs_running() {
    pid_alive "$RUNDIR"/ovs-vswitchd.pid || pid_alive "$RUNDIR"/ovsdb-server.pid
}

systemd_runs() { [ -d /run/systemd/system ]; }

# ---------------------------------------------------------------------------
# State, so that the cleanup undoes exactly what this run did.

SCRATCH=
SSHD_PID=
NS_A=dit-$$-a
NS_B=dit-$$-b
VETH_A=dit$$a
VETH_B=dit$$b
BR_A=dit-br-a
BR_B=dit-br-b
PORT_ACTIVE=dit-sta
PORT_PASSIVE=dit-stb
NETNS_MADE=()
ADDED_PKGS=()       # packages this run installed besides the three
OVS_STARTED=0
ALT_BEFORE=         # "manual VALUE" if the admin had pinned ovs-vswitchd
OUR_PKGS_IN=0
NEW_USERS=()        # system users and groups that package scripts created
NEW_GROUPS=()

snapshot_ovs_dirs() {
    # shellcheck disable=SC2086
    find $OVS_DIRS 2>/dev/null | sort
}

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM HUP
    set +e
    log "cleaning up"
    if [ "$OVS_STARTED" = 1 ] && ovs_running; then
        ovs-vsctl --timeout=10 -- --if-exists del-br "$BR_A" \
            -- --if-exists del-br "$BR_B" >/dev/null 2>&1
        stop_ovs >/dev/null 2>&1
    fi
    if [ -n "$SSHD_PID" ]; then
        kill "$SSHD_PID" 2>/dev/null
        wait "$SSHD_PID" 2>/dev/null
    fi
    for p in "${NETNS_MADE[@]}"; do
        ip netns pids "$p" 2>/dev/null | xargs -r kill 2>/dev/null
        ip netns del "$p" 2>/dev/null
    done
    ip link del "$VETH_A" 2>/dev/null
    ip link del "$VETH_B" 2>/dev/null
    if [ "$OUR_PKGS_IN" = 1 ]; then
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PKGS \
            >>"$SCRATCH/apt.log" 2>&1
    fi
    if [ "${#ADDED_PKGS[@]}" -gt 0 ]; then
        log "purging the ${#ADDED_PKGS[@]} packages this test installed"
        echo "deb-install: purging ${ADDED_PKGS[*]}" >>"$SCRATCH/apt.log"
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -q "${ADDED_PKGS[@]}" \
            >>"$SCRATCH/apt.log" 2>&1 \
            || log "apt-get purge failed; see $SCRATCH/apt.log"
    fi
    for p in "${NEW_USERS[@]}"; do
        log "removing the account $p that the packages created"
        userdel "$p" 2>/dev/null
    done
    for p in "${NEW_GROUPS[@]}"; do
        getent group "$p" >/dev/null && groupdel "$p" 2>/dev/null
    done
    # Files the daemons and ovs-ctl created (database, system-id, logs,
    # sockets, the ssh-tap socket directory), deepest first.
    if [ -n "$SCRATCH" ] && [ -f "$SCRATCH/ovs-dirs.before" ]; then
        snapshot_ovs_dirs | comm -13 "$SCRATCH/ovs-dirs.before" - \
            | sort -r | while read -r p; do
                if [ -d "$p" ] && [ ! -L "$p" ]; then
                    rmdir "$p" 2>/dev/null
                else
                    rm -f "$p"
                fi
            done
    fi
    if [ -n "$ALT_BEFORE" ] && [ -e "${ALT_BEFORE#manual }" ]; then
        update-alternatives --set ovs-vswitchd "${ALT_BEFORE#manual }" \
            >/dev/null 2>&1
    fi
    if [ -n "$SCRATCH" ]; then
        if [ "$KEEP" = 1 ] || [ "$NFAIL" -gt 0 ]; then
            log "logs kept in $SCRATCH"
        else
            rm -rf "$SCRATCH"
        fi
    fi
    echo "$NPASS passed, $NFAIL failed"
    log "total: $(( $(date +%s) - T0 ))s"
    [ "$NFAIL" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
    exit 1
}

# ---------------------------------------------------------------------------
# The cases.

case_preconditions() {
    local p t
    [ "$(id -u)" -eq 0 ] || why "must run as root" || return
    for t in apt-get dpkg-query ip ssh-keygen ping update-alternatives; do
        command -v "$t" >/dev/null || why "missing $t" || return
    done
    [ -x /usr/sbin/sshd ] || why "missing /usr/sbin/sshd (openssh-server)" \
        || return
    for p in $PKGS; do
        ! installed "$p" || why "$p is already installed; purge it first" \
            || return
    done
    ! ovs_running || why "Open vSwitch is running here; stop it first" \
        || return
    if ip link show "$BR_A" >/dev/null 2>&1 \
       || ip link show "$BR_B" >/dev/null 2>&1; then
        why "$BR_A or $BR_B exists" || return
    fi
    if update-alternatives --query ovs-vswitchd 2>/dev/null \
            | grep -qx 'Status: manual'; then
        ALT_BEFORE="manual $(update-alternatives --query ovs-vswitchd \
                             | sed -n 's/^Value: //p')"
    fi
    SCRATCH=$(mktemp -d /tmp/deb-install.XXXXXX) || why "mktemp" || return
    # apt's _apt user reads the local .debs from here.
    chmod 0755 "$SCRATCH"
    snapshot_ovs_dirs >"$SCRATCH/ovs-dirs.before"
}

# Builds in a clean copy: the files git tracks plus those not yet committed
# (but not ignored), so that build products of the tree do not leak in.
case_build() {
    local out=$SCRATCH/debs src=$SCRATCH/src f
    mkdir -p "$out"
    if [ -n "${DEBS_DIR:-}" ]; then
        for f in $PKGS; do
            ls "$DEBS_DIR"/"${f}"_*.deb >/dev/null 2>&1 \
                || why "no ${f}_*.deb in $DEBS_DIR" || return
            # shellcheck disable=SC2012
            cp "$(ls -t "$DEBS_DIR"/"${f}"_*.deb | head -n 1)" "$out"/
        done
        log "using the .debs of $DEBS_DIR"
        return 0
    fi
    command -v dpkg-buildpackage >/dev/null \
        || why "dpkg-buildpackage missing (apt-get install dpkg-dev debhelper)" \
        || return
    mkdir -p "$src"
    if [ -d "$SRC/.git" ] && command -v git >/dev/null; then
        (cd "$SRC" && git ls-files -z --cached --others --exclude-standard \
            | xargs -0 cp --parents -t "$src" 2>/dev/null) \
            || why "copying the tree failed" || return
    else
        cp -a "$SRC"/. "$src"/ || why "copying the tree failed" || return
    fi
    # The build dependencies that bootstrap.sh does not bring (the
    # packaging's own: debhelper's helpers, openvswitch-common).
    if ! (cd "$src" && dpkg-checkbuilddeps) >/dev/null 2>&1; then
        apt_add "$SCRATCH/apt.log" build-dep --no-install-recommends "$src" \
            || why "apt-get build-dep failed: $(tail -n 3 "$SCRATCH/apt.log")" \
            || return
    fi
    (cd "$src" && dpkg-checkbuilddeps) >"$SCRATCH/build.log" 2>&1 \
        || why "$(tail -n 1 "$SCRATCH/build.log")" || return
    log "building the packages (log: $SCRATCH/build.log)"
    (cd "$src" && dpkg-buildpackage -b -us -uc) >>"$SCRATCH/build.log" 2>&1 \
        || why "dpkg-buildpackage failed: $(tail -n 3 "$SCRATCH/build.log")" \
        || return
    # Copied: lintian checks them next to the .changes that lists them.
    for f in $PKGS; do
        cp "$SCRATCH"/"${f}"_*.deb "$out"/ || why "no ${f}_*.deb built" \
            || return
    done
}

# lintian on what was built (the .changes: the .debs, their -dbgsym and the
# .buildinfo), or on the three .debs of $DEBS_DIR: no error, no warning.
case_lintian() {
    local what=() tags rc
    if ! command -v lintian >/dev/null; then
        apt_add "$SCRATCH/apt.log" install --no-install-recommends lintian \
            || why "installing lintian failed: $(tail -n 3 "$SCRATCH/apt.log")" \
            || return
    fi
    what=("$SCRATCH"/*.changes)
    [ -e "${what[0]}" ] || what=("$SCRATCH"/debs/*.deb)
    lintian --fail-on error,warning "${what[@]}" >"$SCRATCH/lintian.log" 2>&1
    rc=$?
    tags=$(grep -c '^[EW]: ' "$SCRATCH/lintian.log")
    log "lintian $(lintian --version | sed 's/^Lintian v//'): $tags error" \
        "and warning tags (log: $SCRATCH/lintian.log)"
    [ "$tags" -eq 0 ] \
        || why "$tags tags: $(grep -m 3 '^[EW]: ' "$SCRATCH/lintian.log" \
                              | tr '\n' ' ')" || return
    [ "$rc" -eq 0 ] \
        || why "lintian failed (status $rc): $(tail -n 1 "$SCRATCH/lintian.log")" \
        || return
}

case_install() {
    local debs=() new=() f rc
    for f in $PKGS; do
        debs+=("$(ls "$SCRATCH"/debs/"${f}"_*.deb)")
    done
    # What apt is about to install besides our three, so that exactly that
    # is purged at the end.
    mapfile -t new < <(new_pkgs install --no-install-recommends \
        openvswitch-switch "${debs[@]}" \
        | grep -vxF -e openvswitch-switch-ssh-tap -e ovs-ssh-tap-utils \
                    -e ovs-ssh-tap-relay)
    ADDED_PKGS+=("${new[@]}")
    log "installing openvswitch-switch and the three packages" \
        "(also new: ${new[*]:-none})"
    OUR_PKGS_IN=1
    getent passwd | cut -d: -f1 | sort >"$SCRATCH/users.before"
    getent group | cut -d: -f1 | sort >"$SCRATCH/groups.before"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends openvswitch-switch "${debs[@]}" \
        >>"$SCRATCH/apt.log" 2>&1
    rc=$?
    # Accounts that the new packages' scripts made (uuid-runtime's uuidd):
    # Debian leaves them behind on purge, this test does not.
    mapfile -t NEW_USERS < <(getent passwd | cut -d: -f1 | sort \
        | comm -13 "$SCRATCH/users.before" -)
    mapfile -t NEW_GROUPS < <(getent group | cut -d: -f1 | sort \
        | comm -13 "$SCRATCH/groups.before" -)
    [ "$rc" -eq 0 ] \
        || why "apt-get install failed: $(tail -n 3 "$SCRATCH/apt.log")" \
        || return
    for f in openvswitch-switch $PKGS; do
        installed "$f" || why "$f not installed" || return
    done
    # If the package scripts started Open vSwitch (no policy-rc.d), it is
    # this run's to stop.
    ovs_running && OVS_STARTED=1
    [ -x "$VARIANT" ] || why "$VARIANT missing" || return
    update-alternatives --query ovs-vswitchd | grep -qx "Alternative: $VARIANT" \
        || why "$VARIANT is not registered as an alternative" || return
    [ "$(readlink -f /usr/sbin/ovs-vswitchd)" = "$STOCK" ] \
        || why "installing switched /usr/sbin/ovs-vswitchd to" \
               "$(readlink -f /usr/sbin/ovs-vswitchd)" || return
}

case_utilities() {
    local b unit
    for b in ovs-ssh-tap-sync ovs-ssh-tap-ctl ovs-ssh-tap-relay; do
        "$b" --version >/dev/null 2>&1 || why "$b --version failed" || return
        man -w "$b" >/dev/null 2>&1 || [ -f /usr/share/man/man8/"$b".8.gz ] \
            || why "no man page for $b" || return
    done
    [ -f /usr/share/man/man7/ovs-ssh-tap.7.gz ] \
        || why "no ovs-ssh-tap(7)" || return
    [ -r /usr/share/ovs-ssh-tap/ssh_tap.ovsschema ] || why "no schema" || return
    ovsdb-tool schema-name /usr/share/ovs-ssh-tap/ssh_tap.ovsschema \
        >/dev/null 2>&1 || why "ovsdb-tool rejects the schema" || return
    # /lib/systemd/system on Debian 12, /usr/lib/systemd/system on 13.
    unit=$(dpkg -L ovs-ssh-tap-utils \
           | grep -m 1 '^\(/usr\)\{0,1\}/lib/systemd/system/ovs-ssh-tap-sync\.service$')
    [ -n "$unit" ] && [ -f "$unit" ] \
        || why "no ovs-ssh-tap-sync.service" || return
    [ -f /etc/default/ovs-ssh-tap-sync ] \
        || why "no /etc/default/ovs-ssh-tap-sync" || return
    # Where systemd is around, it must have nothing to say about the unit.
    if command -v systemd-analyze >/dev/null 2>&1; then
        systemd-analyze verify "$unit" \
            >"$SCRATCH/unit-verify.log" 2>&1
        ! grep -q 'ovs-ssh-tap-sync.service:' "$SCRATCH/unit-verify.log" \
            || why "systemd-analyze verify: $(grep -m1 'ovs-ssh-tap-sync.service:' \
                    "$SCRATCH/unit-verify.log")" || return
    fi
}

case_switch() {
    update-alternatives --set ovs-vswitchd "$VARIANT" >/dev/null \
        || why "update-alternatives --set failed" || return
    [ "$(readlink -f /usr/sbin/ovs-vswitchd)" = "$VARIANT" ] \
        || why "/usr/sbin/ovs-vswitchd is $(readlink -f /usr/sbin/ovs-vswitchd)" \
        || return
    /usr/sbin/ovs-vswitchd --version 2>/dev/null | grep -q '^ssh-tap ' \
        || why "ovs-vswitchd --version does not name ssh-tap" || return
}

# The Debian way: what /etc/init.d/openvswitch-switch runs (ovs-ctl start
# --system-id=random $OVS_CTL_OPTS), or the systemd units that wrap the same
# ovs-ctl.  Without a kernel module loader (/proc/modules missing) ovs-ctl's
# insert_mod_if_required skips modprobe; with one but no openvswitch module
# it fails, and only the userspace datapath is usable anyway.
start_ovs() {
    if systemd_runs; then
        systemctl restart openvswitch-switch.service
    elif ovs_running; then
        # shellcheck disable=SC2086
        "$OVS_CTL" restart --system-id=random ${OVS_CTL_OPTS:-}
    else
        # shellcheck disable=SC2086
        "$OVS_CTL" start --system-id=random ${OVS_CTL_OPTS:-}
    fi
}

stop_ovs() {
    if systemd_runs; then
        systemctl stop openvswitch-switch.service ovs-vswitchd.service \
            ovsdb-server.service
    else
        "$OVS_CTL" stop
    fi
}

case_start() {
    local pid exe
    OVS_STARTED=1
    start_ovs >"$SCRATCH/ovs-ctl.log" 2>&1 \
        || why "starting Open vSwitch failed: $(tail -n 3 "$SCRATCH/ovs-ctl.log")" \
        || return
    wait_until 20 pid_alive "$RUNDIR"/ovs-vswitchd.pid \
        || why "ovs-vswitchd is not running: $(tail -n 3 "$SCRATCH/ovs-ctl.log")" \
        || return
    pid=$(cat "$RUNDIR"/ovs-vswitchd.pid)
    exe=$(readlink -f "/proc/$pid/exe")
    # By content: on overlayfs /proc/PID/exe may name the upper layer's file.
    cmp -s "/proc/$pid/exe" "$VARIANT" || why "the running ovs-vswitchd is $exe" || return
    wait_until 20 sh -c \
        "ovs-vsctl --timeout=5 get Open_vSwitch . iface_types | grep -q ssh-tap" \
        || why "ssh-tap not in Open_vSwitch:iface_types" || return
    ovs-appctl version >/dev/null 2>&1 \
        || why "ovs-appctl does not reach ovs-vswitchd" || return
    ovs-appctl ssh-tap/show >/dev/null 2>&1 \
        || why "ovs-appctl ssh-tap/show fails" || return
}

sshd_up() { ss -Hltn "sport = :$1" | grep -q LISTEN; }

start_sshd() {
    local d=$SCRATCH/ssh port
    mkdir -p "$d" /run/sshd
    for port in $(seq 22220 22299); do
        sshd_up "$port" || break
    done
    ssh-keygen -q -t ed25519 -N '' -C deb-install-host \
        -f "$d/ssh_host_ed25519_key" || return 1
    ssh-keygen -q -t ed25519 -N '' -C deb-install-client \
        -f "$d/id_ed25519" || return 1
    cp "$d/id_ed25519.pub" "$d/authorized_keys"
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/ssh_host_ed25519_key.pub")" \
        >"$d/known_hosts"
    # Not "AllowTcpForwarding no": in OpenSSH that turns stream-local
    # channels off too (docs/deployment.md).
    cat >"$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $d/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile $d/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowStreamLocalForwarding local
X11Forwarding no
LogLevel VERBOSE
EOF
    /usr/sbin/sshd -t -f "$d/sshd_config" || return 1
    /usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null >"$d/sshd.log" 2>&1 &
    SSHD_PID=$!
    SSH_PORT=$port
    wait_until 10 sshd_up "$port"
}

# vm NS VETH ADDR BRIDGE: a namespace on a veth whose other end is a port of
# BRIDGE.
vm() {
    local ns=$1 veth=$2 addr=$3 br=$4
    ip netns add "$ns" || return 1
    NETNS_MADE+=("$ns")
    ip link add "$veth" type veth peer name eth0 netns "$ns" || return 1
    ip link set "$veth" up || return 1
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    # TCP through the userspace datapath needs this (docs); ping does not.
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null 2>&1
    ovs-vsctl --timeout=10 add-port "$br" "$veth"
}

link_state() {
    [ "$(ovs-vsctl --timeout=5 get interface "$1" link_state 2>/dev/null)" = up ]
}

case_traffic() {
    local d=$SCRATCH/ssh
    start_sshd || why "sshd did not start: $(tail -n 3 "$SCRATCH/ssh/sshd.log" 2>/dev/null)" \
        || return
    ovs-vsctl --timeout=10 \
        -- add-br "$BR_A" -- set bridge "$BR_A" datapath_type=netdev \
        -- add-br "$BR_B" -- set bridge "$BR_B" datapath_type=netdev \
        || why "cannot add the bridges" || return
    vm "$NS_A" "$VETH_A" 198.51.100.1/24 "$BR_A" || why "cannot add VM a" || return
    vm "$NS_B" "$VETH_B" 198.51.100.2/24 "$BR_B" || why "cannot add VM b" || return
    # Passive on br-b, active on br-a dialling 127.0.0.1's sshd and, through
    # it, the passive port's socket.
    ovs-vsctl --timeout=10 \
        -- add-port "$BR_B" "$PORT_PASSIVE" \
        -- set interface "$PORT_PASSIVE" type=ssh-tap \
        -- add-port "$BR_A" "$PORT_ACTIVE" \
        -- set interface "$PORT_ACTIVE" type=ssh-tap \
            options:remote="root@127.0.0.1:$SSH_PORT" \
            options:key="$d/id_ed25519" \
            options:known_hosts="$d/known_hosts" \
            options:remote_socket="$RUNDIR/ssh-tap/$PORT_PASSIVE.sock" \
        || why "cannot add the ssh-tap ports" || return
    if ! wait_until 30 link_state "$PORT_ACTIVE" \
       || ! wait_until 10 link_state "$PORT_PASSIVE"; then
        why "link not up: $PORT_ACTIVE $(ovs-vsctl get interface \
             "$PORT_ACTIVE" status error 2>&1 | tr '\n' ' ')"
        return 1
    fi
    ip netns exec "$NS_A" ping -q -c 3 -i 0.2 -W 2 198.51.100.2 \
        >"$SCRATCH/ping.log" 2>&1 \
        || ip netns exec "$NS_A" ping -q -c 5 -i 0.2 -W 2 198.51.100.2 \
            >>"$SCRATCH/ping.log" 2>&1 \
        || why "no ping across the ssh-tap pair: $(tail -n 2 "$SCRATCH/ping.log" | head -n 1)" \
        || return
    ip netns exec "$NS_B" ping -q -c 3 -i 0.2 -W 2 198.51.100.1 \
        >>"$SCRATCH/ping.log" 2>&1 \
        || why "no ping back across the ssh-tap pair" || return
    ovs-appctl ssh-tap/show "$PORT_ACTIVE" >"$SCRATCH/ssh-tap-show.txt" 2>&1 \
        || why "ovs-appctl ssh-tap/show $PORT_ACTIVE failed" || return
    ovs-vsctl get interface "$PORT_ACTIVE" status | grep -q 'state=up' \
        || why "status of $PORT_ACTIVE does not say state=up" || return
}

case_stop() {
    local pid
    pid=$(cat "$RUNDIR"/ovs-vswitchd.pid 2>/dev/null)
    ovs-vsctl --timeout=10 -- --if-exists del-br "$BR_A" \
        -- --if-exists del-br "$BR_B" || why "del-br failed" || return
    stop_ovs >>"$SCRATCH/ovs-ctl.log" 2>&1 \
        || why "stopping Open vSwitch failed" || return
    [ -z "$pid" ] || wait_until 10 sh -c "! kill -0 $pid" \
        || why "ovs-vswitchd (pid $pid) still runs" || return
    OVS_STARTED=0
}

case_purge() {
    local p now
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PKGS \
        >>"$SCRATCH/apt.log" 2>&1 \
        || why "apt-get purge failed: $(tail -n 3 "$SCRATCH/apt.log")" || return
    OUR_PKGS_IN=0
    for p in $PKGS; do
        ! dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null \
            | grep -qvx not-installed || why "$p is still there" || return
    done
    now=$(readlink -f /usr/sbin/ovs-vswitchd)
    [ "$now" = "$STOCK" ] || why "/usr/sbin/ovs-vswitchd is $now" || return
    ! update-alternatives --query ovs-vswitchd | grep -q ssh-tap \
        || why "the ssh-tap alternative is still registered" || return
    [ ! -e /etc/default/ovs-ssh-tap-sync ] \
        || why "/etc/default/ovs-ssh-tap-sync survived the purge" || return
    [ ! -e "$VARIANT" ] || why "$VARIANT survived the purge" || return
}

trap cleanup EXIT
trap 'exit 130' INT TERM HUP

run_case preconditions case_preconditions || exit 1
run_case build case_build || exit 1
run_case lintian case_lintian
run_case install case_install || exit 1
run_case utilities case_utilities
if run_case switch-alternative case_switch \
   && run_case ovs-ctl-start case_start; then
    run_case ssh-tap-traffic case_traffic
fi
run_case ovs-ctl-stop case_stop
run_case purge case_purge
exit 0
