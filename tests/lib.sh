# Shared harness for the ovs-ssh-tap system tests, the demo and the bench.
# shellcheck shell=bash
#
# Source it from bash, then:
#
#     SUITE=system-foo
#     lib_declare_cases setup ping ...   # optional: cases never reached are
#                                        # reported as SKIP at exit
#     lib_init                           # scratch dir, traps, environment
#     site_start a; site_start b; underlay_connect a b
#     sshd_start b; ssh_client_setup a b
#     vm_add a a1 198.51.100.1/24 2001:db8:100::1/64
#     run_case ping case_ping            # prints one PASS/FAIL/SKIP line
#
# A mesh kept by ovs-ssh-tap-sync (docs/sync.md) instead of hand-made ports:
#
#     lib_check_mesh || ...              # the sync, the ctl and the schema
#     SITE_NUM=([a]=1 [b]=2 [c]=3)       # site a: 192.0.2.1, VM a1 ...
#     mesh_sites_start a b c             # an underlay switch, the sites on
#                                        # it, their sshds and VMs
#     mesh_keys a b c                    # each site's key at every other
#     registry_start; registry_add_site a; sync_start a        (each site)
#     wait_until "every link up" 30 all_links_up a b c
#     wait_mesh 30 a b c                 # every VM pings every other
#
# The bench (bench/run-bench.sh) builds its topologies with the same
# functions, and lib_teardown between them.
#
# Every process the harness starts is recorded (pid plus its start time, so a
# recycled pid is never hit) in $SCRATCH/pids, and every network namespace in
# $SCRATCH/netns.  The EXIT trap (also reached on INT, TERM and HUP) kills
# those processes by pid, then any process still inside one of our
# namespaces, deletes the namespaces and removes the scratch directory.
#
# Environment knobs:
#   OVS_SSH_TAP_ENV   path of the build tree's tests/env.sh (else searched).
#   VSWITCHD          the vswitchd to run (overrides env.sh).
#   VSWITCHD_ARGS     extra arguments for it (e.g. "-vssh_tap:dbg").
#   SSH_TAP_SYNC, SSH_TAP_CTL, SSH_TAP_SCHEMA
#                     ovs-ssh-tap-sync, ovs-ssh-tap-ctl and the registry's
#                     schema (default: from the build tree, else installed).
#   KEEP_SCRATCH=1    keep the scratch directory (logs) after cleanup.
#   TMPDIR            where the scratch directory goes (keep it short: unix
#                     socket paths are limited to 107 bytes).

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Underlay and overlay address plans (documentation ranges, only ever
# configured inside our own namespaces).
UNDERLAY_A=192.0.2.1
UNDERLAY_B=192.0.2.2
UNDERLAY_LEN=24

SCRATCH=
NS_PREFIX=
LIB_KEEP=0
LIB_CLEANED=0
LIB_CASES=()
LIB_REPORTED=" "
LIB_FAILED=0
REASON=
# The registry of sites (registry_start): its directory, its socket, and the
# remotes that registry_ctl and sync_start use (a comma-separated list; a
# test may point it at other servers, e.g. a cluster).
REG_DIR=
REG_SOCK=
REGISTRY=
# A registry as a 3-member Raft cluster (cluster_start): the members, the
# directory of their files, and their unix: remotes, comma-separated.
MEMBERS="1 2 3"
CL_DIR=
CL_REMOTES=
# The running ovs-ssh-tap-syncs, by site (sync_start, sync_stop).
declare -gA SYNC_PIDS=()
SYNC_RUNS=0
: "${SUITE:=$(basename "$0" .sh)}"

# ---------------------------------------------------------------------------
# Small utilities.

# shellcheck source=tests/procs.sh
. "$(dirname "${BASH_SOURCE[0]}")/procs.sh"

# why MESSAGE: sets the failure reason of the current case; returns 1 so
# that "cmd || why 'it broke' || return" style works.
why() { REASON=$*; return 1; }

# wait_until DESCRIPTION TIMEOUT_SECONDS COMMAND...
# Runs COMMAND every 0.1 s until it succeeds.  On timeout sets REASON,
# prints it and returns 1.
wait_until() {
    local desc=$1 timeout=$2 deadline
    shift 2
    deadline=$(( $(now_ms) + timeout * 1000 ))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if [ "$(now_ms)" -ge "$deadline" ]; then
            REASON="timed out after ${timeout}s waiting for $desc"
            lib_log "$SUITE: $REASON"
            return 1
        fi
        sleep 0.1
    done
}

# lib_run COMMAND...: runs COMMAND and returns its status, but as a
# background job that we wait for: "wait" returns at once when a trapped
# signal arrives, so Ctrl-C stops the test even while a command that catches
# SIGINT itself and exits normally (ping, ssh) is running; bash would
# otherwise ignore that Ctrl-C.  The command itself is then killed by the
# cleanup (it ignores SIGINT, as background jobs do).
lib_run() {
    "$@" <&0 &
    wait "$!"
}

lib_is_root() { [ "$(id -u)" -eq 0 ]; }

# measure_s MS: milliseconds as seconds with two decimals.
measure_s() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }

# ping_loss FILE: the packet loss (%) that ping's summary in FILE reports.
ping_loss() { sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$1"; }

# ---------------------------------------------------------------------------
# Environment: where the binaries are.

lib_load_env() {
    local f="" keep_vswitchd=${VSWITCHD:-}
    if [ -n "${OVS_SSH_TAP_ENV:-}" ]; then
        f=$OVS_SSH_TAP_ENV
    elif [ -f "$LIB_DIR/env.sh" ]; then
        f=$LIB_DIR/env.sh
    elif [ -f "$PWD/tests/env.sh" ]; then
        f=$PWD/tests/env.sh
    fi
    if [ -n "$f" ]; then
        if [ ! -r "$f" ]; then
            lib_log "cannot read $f"
            return 1
        fi
        set -a
        # shellcheck disable=SC1090
        . "$f"
        set +a
        OVS_SSH_TAP_ENV=$(cd "$(dirname "$f")" && pwd)/$(basename "$f")
        export OVS_SSH_TAP_ENV
    fi
    [ -n "$keep_vswitchd" ] && VSWITCHD=$keep_vswitchd

    if [ -n "${OVS_BUILDDIR:-}" ]; then
        : "${OVSDB_SERVER:=$OVS_BUILDDIR/ovsdb/ovsdb-server}"
        : "${OVSDB_TOOL:=$OVS_BUILDDIR/ovsdb/ovsdb-tool}"
        : "${OVS_VSCTL:=$OVS_BUILDDIR/utilities/ovs-vsctl}"
        : "${OVS_APPCTL:=$OVS_BUILDDIR/utilities/ovs-appctl}"
        : "${OVS_OFCTL:=$OVS_BUILDDIR/utilities/ovs-ofctl}"
        : "${OVS_SCHEMA:=$OVS_BUILDDIR/vswitchd/vswitch.ovsschema}"
    else
        # Installed layout: everything from $PATH.
        : "${OVSDB_SERVER:=$(command -v ovsdb-server)}"
        : "${OVSDB_TOOL:=$(command -v ovsdb-tool)}"
        : "${OVS_VSCTL:=$(command -v ovs-vsctl)}"
        : "${OVS_APPCTL:=$(command -v ovs-appctl)}"
        : "${OVS_OFCTL:=$(command -v ovs-ofctl)}"
        : "${OVS_SCHEMA:=/usr/share/openvswitch/vswitch.ovsschema}"
    fi
    if [ -z "${VSWITCHD:-}" ]; then
        if [ -n "${abs_top_builddir:-}" ]; then
            VSWITCHD=$abs_top_builddir/plugin/ovs-vswitchd-ssh-tap
        else
            VSWITCHD=$(command -v ovs-vswitchd-ssh-tap)
        fi
    fi
    : "${SSHD:=/usr/sbin/sshd}"
    # The mesh sync, its registry tool and the registry's schema.
    if [ -n "${abs_top_builddir:-}" ]; then
        : "${SSH_TAP_SYNC:=$abs_top_builddir/utilities/ovs-ssh-tap-sync}"
        : "${SSH_TAP_CTL:=$abs_top_builddir/utilities/ovs-ssh-tap-ctl}"
    else
        : "${SSH_TAP_SYNC:=$(command -v ovs-ssh-tap-sync)}"
        : "${SSH_TAP_CTL:=$(command -v ovs-ssh-tap-ctl)}"
    fi
    if [ -z "${SSH_TAP_SCHEMA:-}" ]; then
        for f in "${abs_top_srcdir:-$LIB_DIR/..}/ovsdb-schemas/ssh_tap.ovsschema" \
                 "$LIB_DIR/ssh_tap.ovsschema" \
                 /usr/share/ovs-ssh-tap/ssh_tap.ovsschema; do
            if [ -r "$f" ]; then
                SSH_TAP_SCHEMA=$f
                break
            fi
        done
    fi
    # OVS names the pidfile, log file and control socket after the program
    # name the daemon gives itself (ovs-vswitchd.pid, .log, .PID.ctl; a
    # variant binary may keep its own file name instead).  site_start finds
    # out which.
    VSWITCHD_NAME=$(basename "$VSWITCHD")
    export OVSDB_SERVER OVSDB_TOOL OVS_VSCTL OVS_APPCTL OVS_OFCTL OVS_SCHEMA \
           VSWITCHD SSHD SSH_TAP_SYNC SSH_TAP_CTL SSH_TAP_SCHEMA
}

# lib_check_prereqs: prints why the system tests cannot run here, if so.
lib_check_prereqs() {
    local b t
    if ! lib_is_root; then
        echo "requires root (network namespaces)"
        return 1
    fi
    for t in ip ethtool ssh ssh-keygen ss timeout ping tcpdump nc \
             sha256sum; do
        if ! command -v "$t" >/dev/null 2>&1; then
            echo "missing tool: $t"
            return 1
        fi
    done
    if [ ! -x "$SSHD" ]; then
        echo "missing $SSHD (openssh-server)"
        return 1
    fi
    for b in "$OVSDB_SERVER" "$OVSDB_TOOL" "$OVS_VSCTL" "$OVS_APPCTL" \
             "$OVS_OFCTL" "$VSWITCHD"; do
        if [ ! -x "$b" ]; then
            echo "missing executable ${b:-(unset)}"
            return 2
        fi
    done
    if [ ! -r "$OVS_SCHEMA" ]; then
        echo "missing schema $OVS_SCHEMA"
        return 2
    fi
}

# lib_check_mesh: prints what is missing for a mesh (ovs-ssh-tap-sync,
# ovs-ssh-tap-ctl, the registry's schema) and returns 1, if anything is.
lib_check_mesh() {
    local b
    for b in "$SSH_TAP_SYNC" "$SSH_TAP_CTL"; do
        if [ -z "$b" ] || [ ! -x "$b" ]; then
            echo "missing executable ${b:-ovs-ssh-tap-sync or ovs-ssh-tap-ctl}"
            return 1
        fi
    done
    if [ -z "${SSH_TAP_SCHEMA:-}" ] || [ ! -r "$SSH_TAP_SCHEMA" ]; then
        echo "missing schema ${SSH_TAP_SCHEMA:-ssh_tap.ovsschema}"
        return 1
    fi
}

# ---------------------------------------------------------------------------
# Scratch directory, traps and cleanup.

# lib_init: creates the scratch directory, installs the cleanup traps and
# loads the environment.  If the system tests cannot run here, reports every
# declared case as SKIP (not root, missing tool) or FAIL (missing build
# product) and exits.
lib_init() {
    local why_not rc
    lib_load_env || exit 2
    why_not=$(lib_check_prereqs)
    rc=$?
    if [ "$rc" -ne 0 ]; then
        lib_log "$SUITE: cannot run: $why_not"
        if [ "$rc" -eq 1 ]; then
            lib_report_rest SKIP "$why_not"
            exit 77
        fi
        lib_report_rest FAIL "$why_not"
        exit 1
    fi

    SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ssh-tap.XXXXXX") || exit 2
    chmod 0755 "$SCRATCH"
    # Unique per run: our pid plus the random part of the scratch dir.
    NS_PREFIX="sst$$${SCRATCH##*.}"
    echo "$NS_PREFIX" > "$SCRATCH/prefix"
    : > "$SCRATCH/pids"
    : > "$SCRATCH/netns"
    lib_set_registry
    lib_install_traps
    lib_log "$SUITE: scratch directory $SCRATCH, namespaces $NS_PREFIX-*"
}

# lib_set_registry: where registry_start puts the registry, and
# cluster_start its Raft members.
lib_set_registry() {
    REG_DIR=$SCRATCH/registry
    REG_SOCK=$REG_DIR/db.sock
    REGISTRY=unix:$REG_SOCK
    CL_DIR=$SCRATCH/cluster
}

lib_install_traps() {
    trap lib_cleanup EXIT
    trap 'lib_log "$SUITE: interrupted"; exit 130' INT
    trap 'lib_log "$SUITE: terminated"; exit 143' TERM
    trap 'exit 129' HUP
}

# lib_adopt DIR: takes over the sites recorded in the scratch directory DIR
# (made by an earlier lib_init, e.g. a demo run with --keep), so that exiting
# tears them down.
lib_adopt() {
    SCRATCH=$1
    if [ ! -f "$SCRATCH/pids" ] || [ ! -f "$SCRATCH/prefix" ]; then
        lib_log "$SCRATCH does not look like an ssh-tap scratch directory"
        return 1
    fi
    NS_PREFIX=$(cat "$SCRATCH/prefix")
    lib_set_registry
    lib_install_traps
}

# lib_keep: leave everything running at exit (the demo's --keep).
lib_keep() { LIB_KEEP=1; }

# lib_stop_vswitchds: asks every site's vswitchd to exit with "ovs-appctl
# exit", waits up to 60 s for each, and records how it ended in
# $VSWITCHD_EXIT_LOG, one line per daemon: "SITE PID STATUS" (STATUS is the
# exit status, "alive" if it did not exit, "?" if it was not our child).
lib_stop_vswitchds() {
    local d s pid st status deadline
    [ -n "${SCRATCH:-}" ] && [ -d "$SCRATCH/site" ] || return 0
    for d in "$SCRATCH"/site/*; do
        [ -d "$d" ] || continue
        s=${d##*/}
        pid=$(site_pid "$s" 2>/dev/null) || continue
        [ -n "$pid" ] || continue
        st=$(lib_starttime "$pid") || continue
        lib_log "site $s: ovs-appctl exit (vswitchd pid $pid)"
        site_appctl "$s" exit >/dev/null 2>&1
        deadline=$(( $(now_ms) + 60000 ))
        while lib_alive "$pid" "$st" && [ "$(now_ms)" -lt "$deadline" ]; do
            sleep 0.1
        done
        if lib_alive "$pid" "$st"; then
            status=alive
        else
            wait "$pid" 2>/dev/null
            status=$?
            # 127: not a child of this shell, so its status is unknown.
            [ "$status" -eq 127 ] && status='?'
        fi
        lib_log "site $s: vswitchd pid $pid: exit status $status"
        if [ -n "${VSWITCHD_EXIT_LOG:-}" ]; then
            echo "$s $pid $status" >> "$VSWITCHD_EXIT_LOG"
        fi
    done
    return 0
}

lib_cleanup() {
    local rc=$?
    trap '' INT TERM HUP PIPE
    [ "$LIB_CLEANED" -eq 1 ] && return
    LIB_CLEANED=1
    lib_report_rest SKIP "not reached"
    if [ -z "$SCRATCH" ] || [ ! -d "$SCRATCH" ]; then
        exit "$rc"
    fi
    if [ "$LIB_KEEP" -eq 1 ]; then
        exit "$rc"
    fi
    lib_teardown
    if [ "${KEEP_SCRATCH:-0}" = 1 ]; then
        lib_log "$SUITE: kept scratch directory $SCRATCH"
    else
        rm -rf "$SCRATCH"
    fi
    exit "$rc"
}

# lib_teardown: stops every process recorded in $SCRATCH/pids and deletes
# every namespace in $SCRATCH/netns, then empties both lists; the scratch
# directory stays (the bench builds one topology after another in it).
lib_teardown() {
    local line pid st name ns deadline entries=() late=() nslist=()

    # 0. VSWITCHD_EXIT=appctl (tests/asan-check.sh): vswitchd leaves through
    #    "ovs-appctl exit", as "ovs-ctl stop" makes it, so that its leak
    #    check runs; SIGTERM below would kill it before that.
    [ "${VSWITCHD_EXIT:-}" = appctl ] && lib_stop_vswitchds

    # 1. Every process we recorded, newest first, in two rounds: first the
    #    vswitchds and helpers, so that their SSH sessions close while sshd
    #    is still there to reap its per-connection children, then sshd and
    #    ovsdb-server.
    if [ -f "$SCRATCH/pids" ]; then
        while read -r pid st name; do
            [ -n "$pid" ] || continue
            case $name in
                sshd@* | ovsdb-server@*) late=("$pid $st" "${late[@]}") ;;
                *) entries=("$pid $st" "${entries[@]}") ;;
            esac
        done < "$SCRATCH/pids"
    fi
    lib_kill_pids "${entries[@]}"
    for line in "${late[@]}"; do
        read -r pid st <<< "$line"
        lib_alive "$pid" "$st" || continue
        deadline=$(( $(now_ms) + 3000 ))
        while [ -n "$(ps -o pid= --ppid "$pid" 2>/dev/null)" ] \
              && [ "$(now_ms)" -lt "$deadline" ]; do
            sleep 0.05
        done
    done
    lib_kill_pids "${late[@]}"
    for line in "${entries[@]}" "${late[@]}"; do
        wait "${line%% *}" 2>/dev/null
    done

    # 2. Anything still running inside one of our namespaces (sshd's
    #    per-connection children, a ping or nc a test left behind...).
    if [ -f "$SCRATCH/netns" ]; then
        mapfile -t nslist < "$SCRATCH/netns"
    fi
    entries=()
    for ns in "${nslist[@]}"; do
        [ -n "$ns" ] || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            st=$(lib_starttime "$pid") && entries+=("$pid $st")
        done
    done
    lib_kill_pids "${entries[@]}"

    # 3. The namespaces (their veths go with them).
    for ns in "${nslist[@]}"; do
        [ -n "$ns" ] || continue
        ip netns del "$ns" 2>/dev/null
    done
    : > "$SCRATCH/pids"
    : > "$SCRATCH/netns"
}

# ---------------------------------------------------------------------------
# Reporting.

lib_declare_cases() { LIB_CASES+=("$@"); }

lib_reported() { case $LIB_REPORTED in *" $1 "*) return 0;; esac; return 1; }

pass() {
    LIB_REPORTED="$LIB_REPORTED$1 "
    echo "PASS: $SUITE: $1"
}

skip() {
    LIB_REPORTED="$LIB_REPORTED$1 "
    echo "SKIP: $SUITE: $1: ${2:-skipped}"
}

fail() {
    LIB_REPORTED="$LIB_REPORTED$1 "
    LIB_FAILED=$((LIB_FAILED + 1))
    echo "FAIL: $SUITE: $1: ${2:-failed}"
    lib_dump_logs "$1"
}

# lib_finish: exits 1 if any case failed, else 0 (cleanup runs either way).
lib_finish() {
    [ "$LIB_FAILED" -eq 0 ] && exit 0
    exit 1
}

# lib_report_rest KIND REASON: reports every declared case not yet reported.
lib_report_rest() {
    local c
    for c in "${LIB_CASES[@]}"; do
        lib_reported "$c" && continue
        LIB_REPORTED="$LIB_REPORTED$c "
        echo "$1: $SUITE: $c: $2"
    done
}

# run_case NAME FUNCTION [ARGS...]: runs FUNCTION in this shell; it returns 0
# (PASS), 77 (SKIP, REASON says why) or anything else (FAIL, REASON says
# why).  Returns FUNCTION's status.
run_case() {
    local name=$1 rc
    shift
    REASON=
    lib_log "---- $SUITE: $name"
    "$@"
    rc=$?
    case $rc in
        0) pass "$name" ;;
        77) skip "$name" "${REASON:-skipped}" ;;
        *) fail "$name" "${REASON:-exit status $rc}" ;;
    esac
    return "$rc"
}

# Dumps the tail of every site's logs to stderr (called on FAIL).
lib_dump_logs() {
    local d s f
    [ -n "$SCRATCH" ] && [ -d "$SCRATCH/site" ] || return 0
    for d in "$SCRATCH"/site/*; do
        [ -d "$d" ] || continue
        s=$(basename "$d")
        for f in "$d/log/$VSWITCHD_NAME.log" "$d/ssh/sshd.log" \
                 "$(cat "$d/sync_log" 2>/dev/null)"; do
            [ -f "$f" ] || continue
            lib_log "==== $1: site $s: last 40 lines of $f"
            tail -n 40 "$f" >&2
        done
        if [ -S "$d/run/db.sock" ]; then
            lib_log "==== $1: site $s: interfaces"
            site_vsctl "$s" --columns=name,type,options,error,link_state,status \
                list interface 2>&1 | grep -v '^$' >&2
        fi
    done
}

# ---------------------------------------------------------------------------
# Namespaces.

# lib_netns_add SUFFIX: creates namespace $NS_PREFIX-SUFFIX with lo up and
# records it.  Prints its name.
lib_netns_add() {
    local ns=$NS_PREFIX-$1
    if ! ip netns add "$ns"; then
        lib_log "cannot create network namespace $ns"
        return 1
    fi
    echo "$ns" >> "$SCRATCH/netns"
    ip -n "$ns" link set lo up
    echo "$ns"
}

site_ns() { echo "$NS_PREFIX-$1"; }
vm_ns() { echo "$NS_PREFIX-vm-$1"; }
site_dir() { echo "$SCRATCH/site/$1"; }

# ---------------------------------------------------------------------------
# Sites: ovsdb-server + vswitchd in a namespace.

# site_env SITE: prints the environment assignments for SITE's OVS daemons
# and utilities.
site_env() {
    local d
    d=$(site_dir "$1")
    printf '%s\n' "OVS_RUNDIR=$d/run" "OVS_DBDIR=$d/db" "OVS_LOGDIR=$d/log" \
           "OVS_SYSCONFDIR=$d/etc" "HOME=$d/home"
}

# site_exec SITE COMMAND...: runs COMMAND inside SITE's namespace with its
# OVS environment ("ip netns exec" and "env" exec, so a background
# "site_exec ... &" has the pid of COMMAND itself).
site_exec() {
    local s=$1
    shift
    site_prefix "$s"
    "${SITE_PREFIX[@]}" "$@"
}

# site_prefix SITE: sets the array SITE_PREFIX to the command words that
# site_exec puts in front of a command (for lib_spawn, which needs a real
# command, not a shell function, to get the right pid).
site_prefix() {
    local envs
    mapfile -t envs < <(site_env "$1")
    SITE_PREFIX=(ip netns exec "$(site_ns "$1")" env "${envs[@]}")
}

site_vsctl() {
    local s=$1 envs
    shift
    mapfile -t envs < <(site_env "$s")
    env "${envs[@]}" timeout --foreground 60 "$OVS_VSCTL" --timeout=30 \
        --db="unix:$(site_dir "$s")/run/db.sock" "$@"
}

site_appctl() {
    local s=$1 envs
    shift
    mapfile -t envs < <(site_env "$s")
    env "${envs[@]}" timeout --foreground 60 "$OVS_APPCTL" --timeout=30 \
        -t "$VSWITCHD_NAME" "$@"
}

site_ofctl() {
    local s=$1 envs
    shift
    mapfile -t envs < <(site_env "$s")
    env "${envs[@]}" timeout --foreground 60 "$OVS_OFCTL" --timeout=30 "$@"
}

# site_pid SITE [DAEMON]: pid of SITE's vswitchd (or DAEMON), from its
# pidfile.
site_pid() {
    local d
    d=$(site_dir "$1")
    case ${2:-vswitchd} in
        vswitchd) cat "$d/run/$VSWITCHD_NAME.pid" ;;
        *) cat "$d/run/$2.pid" ;;
    esac
}

# site_start SITE: namespace, ovsdb-server, vswitchd ($VSWITCHD) and bridge
# br0 (datapath_type=netdev).  The daemons run in the foreground as our own
# background jobs (not --detach), so that we reap them: nothing is left
# behind, not even a zombie.
site_start() {
    local s=$1 d ns pid
    d=$(site_dir "$s")
    mkdir -p "$d/run" "$d/db" "$d/log" "$d/etc" "$d/home" "$d/ssh"
    ns=$(lib_netns_add "$s") || return 1

    "$OVSDB_TOOL" create "$d/db/conf.db" "$OVS_SCHEMA" || return 1
    site_prefix "$s"
    lib_spawn "ovsdb-server@$s" /dev/null "$d/log/ovsdb-server.stderr" \
        "${SITE_PREFIX[@]}" "$OVSDB_SERVER" --no-chdir --pidfile --log-file \
        --remote="punix:$d/run/db.sock" "$d/db/conf.db"
    pid=$LAST_PID
    if ! wait_until "ovsdb-server of site $s" 20 \
            lib_ready_or_dead "$pid" test -S "$d/run/db.sock" \
            || ! lib_alive "$pid"; then
        lib_log "site $s: ovsdb-server exited:"
        cat "$d/log/ovsdb-server.stderr" >&2
        return 1
    fi
    site_vsctl "$s" --no-wait init || return 1

    # shellcheck disable=SC2086
    lib_spawn "vswitchd@$s" /dev/null "$d/log/ovs-vswitchd.stderr" \
        "${SITE_PREFIX[@]}" "$VSWITCHD" --no-chdir --pidfile --log-file \
        ${VSWITCHD_ARGS:-} "unix:$d/run/db.sock"
    pid=$LAST_PID
    if ! wait_until "$VSWITCHD_NAME of site $s" 30 \
            lib_ready_or_dead "$pid" site_vswitchd_ready "$s" "$pid" \
            || ! lib_alive "$pid"; then
        lib_log "site $s: $VSWITCHD exited:"
        cat "$d/log/ovs-vswitchd.stderr" >&2
        return 1
    fi
    site_vsctl "$s" add-br br0 -- set bridge br0 datapath_type=netdev \
        || return 1
    lib_log "site $s: namespace $ns, vswitchd pid $pid"
}

# site_vswitchd_ready SITE PID: true once vswitchd PID of SITE has written
# its pidfile and answers on its control socket.  Sets VSWITCHD_NAME from
# the pidfile's name.
site_vswitchd_ready() {
    local d f
    d=$(site_dir "$1")
    for f in "$d"/run/*.pid; do
        [ "$f" = "$d/run/ovsdb-server.pid" ] && continue
        [ "$(cat "$f" 2>/dev/null)" = "$2" ] || continue
        VSWITCHD_NAME=$(basename "$f" .pid)
        echo "$VSWITCHD_NAME" > "$d/vswitchd_name"
        site_appctl "$1" version
        return
    done
    return 1
}

# lib_ready_or_dead PID COMMAND...: true once COMMAND succeeds or PID is gone
# (so that waiting for a daemon that died stops at once).
lib_ready_or_dead() {
    local pid=$1
    shift
    lib_dead "$pid" || "$@"
}

# site_alive SITE: vswitchd of SITE still running.
site_alive() {
    local pid
    pid=$(site_pid "$1" 2>/dev/null) && lib_alive "$pid"
}

# site_threads SITE / site_fds SITE: vswitchd's thread / open fd count.
site_threads() { find "/proc/$(site_pid "$1")/task" -mindepth 1 -maxdepth 1 | wc -l; }
site_fds() { find "/proc/$(site_pid "$1")/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# site_settled SITE: prints "THREADS FDS" of SITE's vswitchd once both have
# stayed the same for 2 s (vswitchd starts short-lived threads now and then),
# sampling every 0.25 s for at most 15 s.
site_settled() {
    local s=$1 cur="" last="" same=0 deadline
    deadline=$(( $(now_ms) + 15000 ))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        cur="$(site_threads "$s") $(site_fds "$s")"
        if [ "$cur" = "$last" ]; then
            same=$((same + 1))
            [ "$same" -ge 8 ] && break
        else
            same=0
            last=$cur
        fi
        sleep 0.25
    done
    echo "$cur"
}

# site_fd_list SITE: what vswitchd's fds point to, one per line, sorted.
site_fd_list() {
    local f p
    p=/proc/$(site_pid "$1")/fd
    for f in "$p"/*; do
        printf '%s -> %s\n' "${f##*/}" "$(readlink "$f" 2>/dev/null)"
    done | sort -n
}

# iface_get SITE IFACE COLUMN[:KEY]: the column's value with the quotes of a
# plain string removed (empty if the interface or key does not exist).
iface_get() {
    local v
    v=$(site_vsctl "$1" --if-exists get interface "$2" "$3" 2>/dev/null) \
        || return 1
    v=${v#\"}
    v=${v%\"}
    echo "$v"
}

# link_up SITE IFACE: Interface:link_state is "up".
link_up() { [ "$(iface_get "$1" "$2" link_state)" = up ]; }

# ---------------------------------------------------------------------------
# Underlay.

# underlay_connect SITE1 SITE2 [ADDR1 ADDR2]: a veth "ul0" between the two
# site namespaces, 192.0.2.1/24 and 192.0.2.2/24 by default.
underlay_connect() {
    local a=$1 b=$2 aa=${3:-$UNDERLAY_A} ba=${4:-$UNDERLAY_B}
    local na nb
    na=$(site_ns "$a")
    nb=$(site_ns "$b")
    ip -n "$na" link add ul0 type veth peer name ul0 netns "$nb" || return 1
    ip -n "$na" addr add "$aa/$UNDERLAY_LEN" dev ul0 || return 1
    ip -n "$nb" addr add "$ba/$UNDERLAY_LEN" dev ul0 || return 1
    ip -n "$na" link set ul0 up || return 1
    ip -n "$nb" link set ul0 up || return 1
    echo "$aa" > "$(site_dir "$a")/underlay_addr"
    echo "$ba" > "$(site_dir "$b")/underlay_addr"
    wait_until "underlay $aa -> $ba" 10 \
        ip netns exec "$na" ping -c 1 -W 1 "$ba"
}

site_addr() { cat "$(site_dir "$1")/underlay_addr"; }

# switch_start: an underlay for more than two sites: a namespace "sw" with
# a Linux bridge "ul", the switch that switch_connect plugs sites into.
switch_start() {
    local ns
    ns=$(lib_netns_add sw) || return 1
    ip -n "$ns" link add ul type bridge || return 1
    ip -n "$ns" link set ul up
}

# switch_connect SITE ADDR: a veth "ul0" in SITE's namespace with ADDR/24,
# its peer "p-SITE" a port of the switch.
switch_connect() {
    local s=$1 addr=$2 ns sw
    ns=$(site_ns "$s")
    sw=$(site_ns sw)
    ip -n "$ns" link add ul0 type veth peer name "p-$s" netns "$sw" \
        || return 1
    ip -n "$sw" link set "p-$s" master ul up || return 1
    ip -n "$ns" addr add "$addr/$UNDERLAY_LEN" dev ul0 || return 1
    ip -n "$ns" link set ul0 up || return 1
    echo "$addr" > "$(site_dir "$s")/underlay_addr"
}

# ---------------------------------------------------------------------------
# sshd.

# The sshd_config lines that every test sshd shares: public keys only, no
# PAM, root allowed with a key, streamlocal forwarding on, verbose logs.
sshd_config_common() {
    cat <<EOF
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowStreamLocalForwarding yes
LogLevel VERBOSE
EOF
}

# sshd_start SITE [PORT]: an OpenSSH sshd listening on SITE's underlay
# address, its own host key, authorized_keys and log.  $SSHD_CONFIG_EXTRA,
# if set, holds more configuration lines; they go first, and sshd keeps the
# first value it reads of a keyword, so they also override the ones here.
sshd_start() {
    local s=$1 port=${2:-22} d ns addr cfg pid
    d=$(site_dir "$s")/ssh
    ns=$(site_ns "$s")
    addr=$(site_addr "$s") || return 1
    cfg=$d/sshd_config
    mkdir -p /run/sshd && chmod 0755 /run/sshd
    ssh-keygen -q -t ed25519 -N '' -C "ssh-tap-test-host-$s" \
        -f "$d/ssh_host_ed25519_key" || return 1
    : > "$d/authorized_keys"
    echo "$port" > "$d/port"
    cat > "$cfg" <<EOF
# sshd for ssh-tap test site $s
${SSHD_CONFIG_EXTRA:-}
ListenAddress $addr
Port $port
HostKey $d/ssh_host_ed25519_key
PidFile $d/sshd.pid
AuthorizedKeysFile $d/authorized_keys
$(sshd_config_common)
EOF
    if ! "$SSHD" -t -f "$cfg"; then
        lib_log "site $s: sshd rejects $cfg"
        return 1
    fi
    lib_spawn "sshd@$s" /dev/null "$d/sshd.log" \
        ip netns exec "$ns" "$SSHD" -D -e -f "$cfg"
    if ! wait_until "sshd of site $s listening on $addr:$port" 10 \
            sshd_listening "$s" "$addr" "$port"; then
        cat "$d/sshd.log" >&2
        return 1
    fi
    pid=$(cat "$d/sshd.pid" 2>/dev/null)
    if [ -n "$pid" ] && [ "$pid" != "$LAST_PID" ]; then
        lib_log "site $s: sshd pid $pid is not the one started ($LAST_PID)"
        lib_register "$pid" "sshd@$s"
    fi
    return 0
}

sshd_listening() {
    [ -n "$(ip netns exec "$(site_ns "$1")" ss -Hltn "src $2:$3")" ]
}

# ssh_client_setup DIALER SERVER: a client key pair for DIALER, authorized
# at SERVER's sshd, and a known_hosts file for DIALER naming SERVER's host
# key.
ssh_client_setup() {
    local a=$1 b=$2 da db addr port hostname
    da=$(site_dir "$a")/ssh
    db=$(site_dir "$b")/ssh
    if [ ! -f "$da/id_ed25519" ]; then
        ssh-keygen -q -t ed25519 -N '' -C "ssh-tap-test-client-$a" \
            -f "$da/id_ed25519" || return 1
    fi
    chmod 0600 "$da/id_ed25519"
    cat "$da/id_ed25519.pub" >> "$db/authorized_keys"
    addr=$(site_addr "$b")
    port=$(cat "$db/port")
    if [ "$port" = 22 ]; then
        hostname=$addr
    else
        hostname="[$addr]:$port"
    fi
    echo "$hostname $(cat "$db/ssh_host_ed25519_key.pub")" >> "$da/known_hosts"
}

site_client_key() { echo "$(site_dir "$1")/ssh/id_ed25519"; }
site_known_hosts() { echo "$(site_dir "$1")/ssh/known_hosts"; }

# site_hostkey_fp SITE: "SHA256:..." fingerprint of SITE's sshd host key.
site_hostkey_fp() {
    ssh-keygen -lf "$(site_dir "$1")/ssh/ssh_host_ed25519_key.pub" \
        | awk '{print $2}'
}

# site_ssh_args DIALER SERVER: sets the array SITE_SSH_ARGS to the options
# of an OpenSSH client at DIALER for SERVER's sshd: DIALER's key and
# known_hosts only (no user or system ssh configuration), SERVER's port.
site_ssh_args() {
    SITE_SSH_ARGS=(-F /dev/null -i "$(site_client_key "$1")"
        -o IdentitiesOnly=yes -o UserKnownHostsFile="$(site_known_hosts "$1")"
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes
        -o BatchMode=yes -o ConnectTimeout=10
        -p "$(cat "$(site_dir "$2")/ssh/port")")
}

# site_ssh DIALER SERVER COMMAND...: runs COMMAND at SERVER over ssh from
# DIALER's namespace (see site_ssh_args), for at most 20 s.
site_ssh() {
    local a=$1 b=$2
    shift 2
    site_ssh_args "$a" "$b"
    lib_run ip netns exec "$(site_ns "$a")" timeout --foreground 20 ssh \
        "${SITE_SSH_ARGS[@]}" "root@$(site_addr "$b")" "$@"
}

# ---------------------------------------------------------------------------
# VMs.

# vm_add SITE VM IPV4/LEN IPV6/LEN [MTU]: a namespace for VM with "eth0",
# whose veth peer (named VM) is in SITE's namespace and a port of br0.
vm_add() {
    local s=$1 vm=$2 v4=$3 v6=$4 mtu=${5:-} ns sns
    sns=$(site_ns "$s")
    ns=$(lib_netns_add "vm-$vm") || return 1
    echo "$s" > "$SCRATCH/vm-$vm.site"
    ip -n "$sns" link add "$vm" type veth peer name eth0 netns "$ns" \
        || return 1
    # TCP through the userspace datapath stalls with TX checksum offload.
    ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null || return 1
    ip netns exec "$sns" ethtool -K "$vm" tx off >/dev/null || return 1
    if [ -n "$mtu" ]; then
        ip -n "$ns" link set eth0 mtu "$mtu" || return 1
        ip -n "$sns" link set "$vm" mtu "$mtu" || return 1
    fi
    ip -n "$ns" addr add "$v4" brd + dev eth0 || return 1
    ip -n "$ns" addr add "$v6" dev eth0 nodad || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip -n "$sns" link set "$vm" up || return 1
    if [ -n "$mtu" ]; then
        site_vsctl "$s" add-port br0 "$vm" -- \
            set interface "$vm" mtu_request="$mtu" || return 1
    else
        site_vsctl "$s" add-port br0 "$vm" || return 1
    fi
}

# vm_add_internal SITE VM IPV4/LEN [MTU]: a namespace for VM holding an
# internal port of SITE's br0 (a tap device, as a hypervisor attaches a
# guest) moved there, TX checksum offload off (VM_TX_OFFLOAD=on leaves it
# on, as a Linux guest has it by default).  Its interface keeps the name VM
# (the helpers below that name "eth0" are for vm_add's VMs).
vm_add_internal() {
    local s=$1 vm=$2 v4=$3 mtu=${4:-1500} ns sns
    sns=$(site_ns "$s")
    ns=$(lib_netns_add "vm-$vm") || return 1
    echo "$s" > "$SCRATCH/vm-$vm.site"
    site_vsctl "$s" add-port br0 "$vm" -- set interface "$vm" type=internal \
        || return 1
    wait_until "internal port $vm at site $s" 10 \
        ip -n "$sns" link show "$vm" || return 1
    ip -n "$sns" link set "$vm" netns "$ns" || return 1
    ip -n "$ns" link set "$vm" mtu "$mtu" || return 1
    ip -n "$ns" addr add "$v4" dev "$vm" || return 1
    ip -n "$ns" link set "$vm" up || return 1
    ip netns exec "$ns" ethtool -K "$vm" tx "${VM_TX_OFFLOAD:-off}" >/dev/null
}

# vm_exec VM COMMAND...: runs COMMAND inside VM's namespace.
vm_exec() {
    local vm=$1
    shift
    lib_run ip netns exec "$(vm_ns "$vm")" "$@"
}

# vm_mac VM: the MAC address of VM's eth0.
vm_mac() {
    ip -n "$(vm_ns "$1")" -o link show eth0 \
        | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

# site_warm_up SITE VM: makes SITE's vswitchd send one frame to a system
# port, so that the socket OVS opens for that on first use (netdev-linux's
# shared AF_PACKET send socket, kept for the life of the process) is already
# there when fd counts are taken as a baseline.  A broadcast from VM is
# flooded to a temporary veth port, which is then removed.
site_warm_up() {
    local s=$1 vm=$2 sns
    sns=$(site_ns "$s")
    ip -n "$sns" link add w0 type veth peer name w0p || return 1
    ip -n "$sns" link set w0p up
    ip -n "$sns" link set w0 up
    site_vsctl "$s" add-port br0 w0 || return 1
    vm_exec "$vm" timeout --foreground 5 ping -b -c 2 -i 0.2 -W 1 \
        "$(vm_bcast "$vm")" >/dev/null 2>&1
    site_vsctl "$s" del-port br0 w0
    ip -n "$sns" link del w0
}

# vm_bcast VM: the IPv4 broadcast address of VM's eth0.
vm_bcast() {
    ip -n "$(vm_ns "$1")" -4 -o addr show dev eth0 \
        | sed -n 's/.* brd \([0-9.]*\).*/\1/p' | head -n 1
}

# vm_set_mtu VM MTU: both ends of VM's veth, and the bridge port.
vm_set_mtu() {
    local vm=$1 mtu=$2 s
    s=$(cat "$SCRATCH/vm-$vm.site")
    ip -n "$(vm_ns "$vm")" link set eth0 mtu "$mtu" || return 1
    ip -n "$(site_ns "$s")" link set "$vm" mtu "$mtu" || return 1
    site_vsctl "$s" set interface "$vm" mtu_request="$mtu"
}

# ---------------------------------------------------------------------------
# The mesh: the registry of sites and ovs-ssh-tap-sync (docs/sync.md).

# registry_start: the registry, an ovsdb-server with the SSH_Tap schema, in
# our own namespace (every site reaches its unix socket, $REG_SOCK, through
# the file system).  Files in $REG_DIR.
registry_start() {
    mkdir -p "$REG_DIR"
    "$OVSDB_TOOL" create "$REG_DIR/registry.db" "$SSH_TAP_SCHEMA" || return 1
    lib_spawn "ovsdb-server@registry" /dev/null "$REG_DIR/stderr" \
        "$OVSDB_SERVER" --no-chdir --log-file="$REG_DIR/ovsdb-server.log" \
        --pidfile="$REG_DIR/ovsdb-server.pid" \
        --unixctl="$REG_DIR/ovsdb-server.ctl" \
        --remote="punix:$REG_SOCK" "$REG_DIR/registry.db"
    wait_until "registry ovsdb-server" 20 test -S "$REG_SOCK"
}

# registry_ctl ARGS...: ovs-ssh-tap-ctl on $REGISTRY.
registry_ctl() {
    timeout --foreground 30 "$SSH_TAP_CTL" --db="$REGISTRY" "$@"
}

# site_registration SITE: sets the array SITE_REGISTRATION to the
# ovs-ssh-tap-ctl arguments that register SITE as the harness made it: its
# underlay address as the endpoint, login root, its sshd's host key pinned,
# its run directory (where its passive ports listen).
site_registration() {
    local s=$1
    SITE_REGISTRATION=(add-site "$s" --endpoint="$(site_addr "$s")"
        --login=root --host-key="$(site_hostkey_fp "$s")"
        --rundir="$(site_dir "$s")/run")
}

# registry_add_site SITE: registers SITE (see site_registration).
registry_add_site() {
    site_registration "$1"
    registry_ctl "${SITE_REGISTRATION[@]}"
}

# cluster_start: the registry as a 3-member Raft cluster (ovsdb-tool
# create-cluster and join-cluster) in a namespace "reg" of its own, the
# members talking over 127.0.0.1 there; member I has its files in
# $CL_DIR/mI.* and serves unix:$CL_DIR/mI.sock (all of them are in
# $CL_REMOTES).  Waits until the cluster has formed; reports through why.
cluster_start() {
    local ns i
    ns=$(lib_netns_add reg) || why "namespace for the cluster" || return
    mkdir -p "$CL_DIR"
    "$OVSDB_TOOL" create-cluster "$CL_DIR/m1.db" "$SSH_TAP_SCHEMA" \
        tcp:127.0.0.1:6641 || why "create-cluster failed" || return
    for i in 2 3; do
        "$OVSDB_TOOL" join-cluster "$CL_DIR/m$i.db" SSH_Tap \
            "tcp:127.0.0.1:664$i" tcp:127.0.0.1:6641 \
            || why "join-cluster m$i failed" || return
    done
    CL_REMOTES=
    for i in $MEMBERS; do
        lib_spawn "ovsdb-server@reg$i" /dev/null "$CL_DIR/m$i.stderr" \
            ip netns exec "$ns" "$OVSDB_SERVER" --no-chdir \
            --log-file="$CL_DIR/m$i.log" --pidfile="$CL_DIR/m$i.pid" \
            --unixctl="$CL_DIR/m$i.ctl" --remote="punix:$CL_DIR/m$i.sock" \
            "$CL_DIR/m$i.db"
        CL_REMOTES="$CL_REMOTES${CL_REMOTES:+,}unix:$CL_DIR/m$i.sock"
    done
    wait_until "the 3 members to form the cluster" 30 cluster_formed
}

# member_appctl I ARGS...: ovs-appctl on member I of the cluster.
member_appctl() {
    local m=$1
    shift
    timeout --foreground 10 "$OVS_APPCTL" -t "$CL_DIR/m$m.ctl" "$@"
}

# cluster_formed: every member says it is a cluster member.
cluster_formed() {
    local i
    for i in $MEMBERS; do
        member_appctl "$i" cluster/status SSH_Tap 2>/dev/null \
            | grep -q 'Status: cluster member' || return 1
    done
}

# cluster_leader: prints the member that says it is the leader.
cluster_leader() {
    local i
    for i in $MEMBERS; do
        if member_appctl "$i" cluster/status SSH_Tap 2>/dev/null \
                | grep -q 'Role: leader'; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# sync_start SITE [ARGS...]: runs ovs-ssh-tap-sync for SITE in its namespace
# on $REGISTRY and SITE's database, its ports dialing with SITE's client key
# (the far host keys are pinned by the registry).  Each run logs to its own
# file, $(sync_log SITE); SYNC_PIDS[SITE] is its pid.
sync_start() {
    local s=$1 d
    shift
    d=$(site_dir "$s")
    SYNC_RUNS=$((SYNC_RUNS + 1))
    echo "$d/log/sync-$SYNC_RUNS.log" > "$d/sync_log"
    site_prefix "$s"
    lib_spawn "sync@$s" /dev/null "$d/log/sync-$SYNC_RUNS.stderr" \
        "${SITE_PREFIX[@]}" "$SSH_TAP_SYNC" --site="$s" \
        --registry="$REGISTRY" --db="unix:$d/run/db.sock" \
        --key="$(site_client_key "$s")" \
        --log-file="$d/log/sync-$SYNC_RUNS.log" "$@"
    SYNC_PIDS[$s]=$LAST_PID
}

# sync_log SITE: the log file of SITE's latest sync.
sync_log() { cat "$(site_dir "$1")/sync_log"; }

# sync_stop SITE: stops SITE's sync (SIGTERM) and waits for it.
sync_stop() {
    local s=$1 pid=${SYNC_PIDS[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait_until "sync of site $s to exit" 10 lib_dead "$pid" || return 1
    wait "$pid" 2>/dev/null
    unset "SYNC_PIDS[$s]"
}

# sync_connected SITE: SITE's latest sync has reached the registry.
sync_connected() { grep -q 'registry .*connected' "$(sync_log "$1")"; }

# sync_converged SITE: SITE's latest sync has found nothing left to do (its
# ports match the registry).
sync_converged() { grep -q 'nothing to do' "$(sync_log "$1")"; }

# all_links_up SITE...: each SITE has its N-1 ports of the sync up.
all_links_up() {
    local s n=$(($# - 1)) up
    for s; do
        up=$(site_vsctl "$s" --bare --columns=link_state find interface \
                 external_ids:ssh-tap-sync=true | grep -c '^up$')
        [ "$up" -eq "$n" ] || return 1
    done
}

# sync_ports SITE: "name uuid" of the ports of the sync at SITE, sorted.
sync_ports() {
    site_vsctl "$1" --bare --columns=name,_uuid find interface \
        external_ids:ssh-tap-sync=true \
        | awk 'NF { printf "%s ", $0; getline; print }' | sort
}

# all_ports SITE...: "SITE name uuid" of every sync port of the SITEs.
all_ports() {
    local s
    for s; do
        sync_ports "$s" | sed "s/^/$s /"
    done
}

# sync_port_names SITE: the names of the sync's ports at SITE, sorted, each
# followed by a space.
sync_port_names() {
    site_vsctl "$1" --bare --columns=name find port \
        external_ids:ssh-tap-sync=true | awk 'NF' | sort | tr '\n' ' '
}

# ports_are SITE "NAMES": the sync's ports at SITE are exactly NAMES (sorted,
# space separated, trailing space).
ports_are() { [ "$(sync_port_names "$1")" = "$2" ]; }

# ---------------------------------------------------------------------------
# A mesh of numbered sites on one switch, a VM each.

# SITE_NUM[SITE]=N numbers a site: its underlay address $(ul_ip SITE) is
# 192.0.2.N, and its VM $(vm_of SITE), named SITE1, has $(vm_ip SITE),
# 198.51.100.N, and 2001:db8:100::N.
declare -gA SITE_NUM=()
vm_of() { echo "${1}1"; }
vm_ip() { echo "198.51.100.${SITE_NUM[$1]}"; }
ul_ip() { echo "192.0.2.${SITE_NUM[$1]}"; }

# mesh_sites_start SITE...: the underlay switch, and each SITE on it with
# its sshd and its VM.  The client keys are the caller's (mesh_keys).  For
# use in a test's setup case: reports through why.
mesh_sites_start() {
    local s
    switch_start || why "switch namespace" || return
    for s; do
        site_start "$s" || why "site $s did not start" || return
        switch_connect "$s" "$(ul_ip "$s")" || why "underlay of site $s" \
            || return
        sshd_start "$s" || why "sshd at site $s: ${REASON:-did not start}" \
            || return
        vm_add "$s" "$(vm_of "$s")" "$(vm_ip "$s")/24" \
            "2001:db8:100::${SITE_NUM[$s]}/64" || why "vm of $s" || return
    done
}

# mesh_keys SITE...: a client key per SITE, authorized at every other
# SITE's sshd.  Reports through why.
mesh_keys() {
    local s t
    for s; do
        for t; do
            [ "$s" = "$t" ] && continue
            ssh_client_setup "$s" "$t" || why "keys $s -> $t" || return
        done
    done
}

# mesh_ok SITE...: every VM of the SITEs pings every other one.  Pairs that
# answered once are not asked again (until mesh_reset); the others are
# pinged in parallel.
mesh_reset() { rm -f "$SCRATCH"/pair.*; }
mesh_ok() {
    local x y pids=() missing=0
    for x; do
        for y; do
            [ "$x" = "$y" ] && continue
            [ -e "$SCRATCH/pair.$x-$y" ] && continue
            ( ip netns exec "$(vm_ns "$(vm_of "$x")")" \
                  ping -c 1 -W 1 "$(vm_ip "$y")" >/dev/null 2>&1 \
                  && touch "$SCRATCH/pair.$x-$y" ) &
            pids+=("$!")
        done
    done
    [ "${#pids[@]}" -eq 0 ] || wait "${pids[@]}"
    for x; do
        for y; do
            [ "$x" = "$y" ] && continue
            [ -e "$SCRATCH/pair.$x-$y" ] || missing=$((missing + 1))
        done
    done
    [ "$missing" -eq 0 ]
}

# mesh_missing SITE...: the pairs that do not ping yet, for messages.
mesh_missing() {
    local x y out=""
    for x; do
        for y; do
            [ "$x" = "$y" ] && continue
            [ -e "$SCRATCH/pair.$x-$y" ] || out="$out $x->$y"
        done
    done
    echo "${out# }"
}

# wait_mesh TIMEOUT SITE...: waits until mesh_ok SITE... holds; on timeout
# REASON also names the pairs that never answered.
wait_mesh() {
    local t=$1
    shift
    mesh_reset
    if ! wait_until "every VM of $* to ping every other" "$t" mesh_ok "$@"; then
        REASON="$REASON; no reply for: $(mesh_missing "$@")"
        return 1
    fi
}

# ---------------------------------------------------------------------------
# sshd: kill it for good and start it again.

# proc_tree PID: PID and all its descendants.
proc_tree() {
    local c
    echo "$1"
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        proc_tree "$c"
    done
}

# sshd_kill SITE: SIGKILL for SITE's sshd (the one this test started, as
# recorded in the pid list) and every process it forked, so that the SSH
# connections it serves die with it, as in a crash of the whole service.
sshd_kill() {
    local s=$1 pid st name p all=() deadline
    pid=$(cat "$(site_dir "$s")/ssh/sshd.pid" 2>/dev/null) \
        || why "no pidfile for sshd at site $s" || return
    while read -r p st name; do
        [ "$p" = "$pid" ] && [ "$name" = "sshd@$s" ] && lib_alive "$p" "$st" \
            && break
        p=
    done < "$SCRATCH/pids"
    [ -n "$p" ] || why "sshd pid $pid at site $s is not one this test started" \
        || return
    mapfile -t all < <(proc_tree "$pid")
    lib_log "killing sshd at site $s: pids ${all[*]}"
    kill -KILL "${all[@]}" 2>/dev/null
    deadline=$(( $(now_ms) + 5000 ))
    for p in "${all[@]}"; do
        while lib_alive "$p" && [ "$(now_ms)" -lt "$deadline" ]; do
            sleep 0.05
        done
    done
    wait "$pid" 2>/dev/null
    ! sshd_listening "$s" "$(site_addr "$s")" "$(cat "$(site_dir "$s")/ssh/port")" \
        || why "sshd at site $s still listening after SIGKILL" || return
}

# sshd_restart SITE: starts SITE's sshd again with the configuration, host
# key and authorized_keys that sshd_start made (sshd_start itself would make
# a new host key).
sshd_restart() {
    local s=$1 d ns addr port pid
    d=$(site_dir "$s")/ssh
    ns=$(site_ns "$s")
    addr=$(site_addr "$s")
    port=$(cat "$d/port")
    rm -f "$d/sshd.pid"
    [ -f "$d/sshd.log" ] && mv "$d/sshd.log" "$d/sshd.log.$(now_ms)"
    lib_spawn "sshd@$s" /dev/null "$d/sshd.log" \
        ip netns exec "$ns" "$SSHD" -D -e -f "$d/sshd_config"
    wait_until "sshd of site $s listening again on $addr:$port" 10 \
        sshd_listening "$s" "$addr" "$port" || return
    pid=$(cat "$d/sshd.pid" 2>/dev/null)
    if [ -n "$pid" ] && [ "$pid" != "$LAST_PID" ]; then
        lib_register "$pid" "sshd@$s"
    fi
}

# ---------------------------------------------------------------------------
# The usual two-site scene.

# The VMs' addresses in the two-site scene (documentation ranges, inside
# the test's own namespaces only).
A1_V4=198.51.100.1
B1_V4=198.51.100.2
A1_V6=2001:db8:100::1
B1_V6=2001:db8:100::2

# two_sites_setup: sites a and b on the underlay, sshd at b accepting a's
# client key, and VMs a1 ($A1_V4, $A1_V6) and b1 ($B1_V4, $B1_V6) on their
# bridges.  For use as (part of) a test's setup case: reports through why.
two_sites_setup() {
    site_start a || why "site a did not start" || return
    site_start b || why "site b did not start" || return
    underlay_connect a b || why "underlay: $REASON" || return
    sshd_start b || why "sshd at site b: ${REASON:-did not start}" || return
    ssh_client_setup a b || why "client key setup failed" || return
    vm_add a a1 "$A1_V4/24" "$A1_V6/64" || why "vm a1" || return
    vm_add b b1 "$B1_V4/24" "$B1_V6/64" || why "vm b1" || return
}

# ---------------------------------------------------------------------------
# Checks shared by several tests.

# resources_back [SITE...]: each SITE's vswitchd (default: a and b) has no
# more threads than $TH0_SITE and exactly $FD0_SITE fds, the baselines the
# test took; RES_MSG says what was seen.
resources_back() {
    local s th fd th0 fd0 ok=0
    RES_MSG=
    [ $# -gt 0 ] || set -- a b
    for s in "$@"; do
        th=$(site_threads "$s"); fd=$(site_fds "$s")
        eval "th0=\$TH0_$s fd0=\$FD0_$s"
        RES_MSG="$RES_MSG site $s: $th threads (baseline $th0), $fd fds (baseline $fd0);"
        [ "$th" -le "$th0" ] && [ "$fd" -eq "$fd0" ] || ok=1
    done
    return "$ok"
}

# resources_baseline SITE...: takes each SITE's baseline once its vswitchd
# has settled: TH0_SITE threads, FD0_SITE fds, and the list of those fds in
# $SCRATCH/fds0.SITE.
resources_baseline() {
    local s th fd
    for s; do
        read -r th fd < <(site_settled "$s")
        printf -v "TH0_$s" '%s' "$th"
        printf -v "FD0_$s" '%s' "$fd"
        site_fd_list "$s" > "$SCRATCH/fds0.$s"
        lib_log "baseline: site $s $th threads $fd fds"
    done
}

# wait_resources_back SECONDS [SITE...]: waits until resources_back SITE...
# holds (default: sites a and b).  If it does not within SECONDS, logs how
# each SITE's fds differ from the baseline list and fails through why.
wait_resources_back() {
    local t=$1 s
    shift
    [ $# -gt 0 ] || set -- a b
    wait_until "vswitchd threads and fds back to baseline" "$t" \
        resources_back "$@" && return 0
    resources_back "$@"
    for s; do
        lib_log "site $s: fds now vs baseline (< baseline, > now):"
        site_fd_list "$s" | diff "$SCRATCH/fds0.$s" - >&2
    done
    why "not back to baseline after $t s:$RES_MSG"
}

# check_no_long_poll: neither site's vswitchd logged "Unreasonably long
# ... poll interval".  Reports through why.
check_no_long_poll() {
    local s f lines="" found
    for s in a b; do
        f=$(site_dir "$s")/log/$VSWITCHD_NAME.log
        [ -f "$f" ] || why "no log $f" || return
        found=$(grep 'Unreasonably long' "$f")
        [ -n "$found" ] && lines="$lines site $s: $found"
    done
    [ -z "$lines" ] || why "vswitchd logged long poll intervals:$lines" || return
}
