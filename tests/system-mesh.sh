#!/bin/bash
# A full mesh of ssh-tap ports kept by ovs-ssh-tap-sync from a registry.
#
#                       registry (ovsdb-server, SSH_Tap schema, root ns)
#                          unix socket, reached from every site
#
#   VM a1   VM b1   VM c1   VM d1   VM e1        (198.51.100.1-5/24)
#     |       |       |       |       |
#   site a  site b  site c  site d  site e       (ovsdb-server, vswitchd,
#     |       |       |       |       |           sshd, ovs-ssh-tap-sync)
#   ==================== switch ====================   underlay 192.0.2.0/24
#                  (Linux bridge in its own namespace)
#
#   site n (optional): behind a NAT namespace (iptables MASQUERADE), no
#   endpoint, no inbound SSH; it dials everybody.
#
# Each site's sshd accepts every other site's key (one key per site); the
# registry pins each site's host key.  Sites are registered with
# ovs-ssh-tap-ctl and the syncs do the rest.
#
# Needs root.  Usage: tests/system-mesh.sh (finds tests/env.sh through
# $OVS_SSH_TAP_ENV, next to this script, or in ./tests/).  SSH_TAP_SYNC and
# SSH_TAP_CTL override the programs under test.
#
# Scale figure: MESH_SCALE=N runs only "scale-N": N sites (2 <= N <= 32)
# registered at once, and reports the time to every link up and to every
# VM pinging every other one.

# Most functions are only called through run_case and wait_until:
# shellcheck disable=SC2317

SUITE=system-mesh
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if [ -n "${MESH_SCALE:-}" ]; then
    lib_declare_cases "scale-$MESH_SCALE"
else
    lib_declare_cases setup bad-options mesh-4-converge sync-show vlog-set \
        show-failed no-loops update-in-place dry-run once detach-pidfile \
        monitor insecure-tcp restart-no-churn registry-restart add-site \
        del-site nat-site cluster-failover
fi
lib_init

SITES=(a b c d e)
declare -A SITE_NUM=([a]=1 [b]=2 [c]=3 [d]=4 [e]=5 [n]=6)
MESH=0

if ! why_not=$(lib_check_mesh); then
    lib_report_rest FAIL "$why_not"
    exit 1
fi

# The underlay switch and the numbered sites on it (mesh_sites_start,
# mesh_keys, vm_of, vm_ip, ul_ip), the registry (registry_start,
# registry_ctl, registry_add_site), the syncs (sync_start, sync_stop,
# sync_log, sync_converged, all_links_up, sync_ports, ports_are) and the
# pings across the mesh (wait_mesh) are lib.sh's.

# sync_once SITE ARGS...: a one-shot run, output on stdout.
sync_once() {
    local s=$1 d
    shift
    d=$(site_dir "$s")
    site_exec "$s" timeout --foreground 60 "$SSH_TAP_SYNC" --site="$s" \
        --registry="$REGISTRY" --db="unix:$d/run/db.sock" \
        --key="$(site_client_key "$s")" "$@"
}

# sync_appctl SITE ARGS...: ovs-appctl on SITE's tracked sync, through the
# control socket that lib/unixctl names after the pid
# (<rundir>/ovs-ssh-tap-sync.PID.ctl).
sync_appctl() {
    local s=$1 pid=${SYNC_PIDS[$1]:-}
    shift
    [ -n "$pid" ] || { echo "no sync running at $s" >&2; return 1; }
    timeout --foreground 15 "$OVS_APPCTL" --timeout=10 \
        -t "$(site_dir "$s")/run/ovs-ssh-tap-sync.$pid.ctl" "$@"
}

# sync_show SITE: "ovs-appctl sync/show" of SITE's sync, also kept in
# $SCRATCH/show.SITE for the messages.
sync_show() {
    sync_appctl "$1" sync/show > "$SCRATCH/show.$1" 2>&1
    local rc=$?
    cat "$SCRATCH/show.$1"
    return "$rc"
}

# show_field SITE FIELD: the value of "FIELD: VALUE" in SITE's last
# sync/show (the first such line, leading blanks ignored).
show_field() {
    sed -n "s/^ *$2: //p" "$SCRATCH/show.$1" | head -n 1
}

need_mesh() {
    [ "$MESH" -eq 1 ] && return 0
    REASON="the mesh never converged"
    return 77
}

# ---------------------------------------------------------------------------
# Cases.

case_setup() {
    local s
    mesh_sites_start "${SITES[@]}" || return
    # One key per site; every sshd accepts every other site's key.
    mesh_keys "${SITES[@]}" || return
    site_ssh a e true || why "ssh a -> e over the underlay failed" || return
    registry_start || why "registry: $REASON" || return
    # The syncs run before any site is registered: they wait for the
    # registry to say something.
    for s in "${SITES[@]}"; do
        sync_start "$s" || why "sync at $s" || return
    done
    for s in "${SITES[@]}"; do
        wait_until "sync at $s to connect to both databases" 10 \
            sync_connected "$s" \
            || why "$REASON: $(tail -n 3 "$(sync_log "$s")")" || return
    done
}

case_converge() {
    local t0 t1 s
    t0=$(now_ms)
    for s in a b c d; do
        registry_add_site "$s" || why "registering $s failed" || return
    done
    # Links first (cheap to poll), then the pings (a ping to a peer that
    # is not there yet costs its whole timeout).
    wait_until "every link up" 60 all_links_up a b c d || return
    wait_mesh 60 a b c d || return
    t1=$(now_ms)
    MESH=1
    echo "MEASURE: mesh-4-converge-s $(measure_s $((t1 - t0)))"
    for s in a b c d; do
        lib_log "site $s ports: $(sync_port_names "$s")"
    done
    # Every port is protected (split horizon) and marked.
    [ "$(site_vsctl a --bare --columns=protected find port \
          external_ids:ssh-tap-sync=true | awk NF | sort -u)" = true ] \
        || why "a port of the sync at a is not protected" || return
    ports_are e "" || why "site e (not registered) has ports: $(sync_port_names e)" \
        || return
}

# last_update SITE: the time of the last registry update in SITE's sync/show
# (without the "(N s ago)" that follows it).
last_update() {
    sync_show "$1" >/dev/null || return 1
    local t
    t=$(show_field "$1" "last update")
    echo "${t%% *}"
}

# A malformed remote or option is refused at once, with one line that
# names it, before anything is opened.  Each entry: "ARGUMENT|WORD the
# error must contain".
case_bad_options() {
    local entry arg want out rc t0 ms bad=(
        "--registry=bogus:x|bogus:x"
        "--registry=ssh:site-b.example|ssh:site-b.example"
        "--registry=ssh:root@site-b.example:22:relative.sock|relative.sock"
        "--registry=|--registry"
        "--registry=ssl:127.0.0.1:6645|--private-key"
        "--db=bogus:y|bogus:y"
        "--ssh-host-key=MD5:00|--ssh-host-key"
        "--timeout=soon|--timeout"
        "--site=-x|-x"
    )
    for entry in "${bad[@]}"; do
        arg=${entry%%|*}
        want=${entry#*|}
        t0=$(now_ms)
        out=$(timeout --foreground 10 "$SSH_TAP_SYNC" --site=a \
                  --db="unix:$SCRATCH/nowhere.sock" \
                  --registry="unix:$SCRATCH/nowhere.sock" --dry-run \
                  "$arg" 2>&1 </dev/null)
        rc=$?
        ms=$(( $(now_ms) - t0 ))
        lib_log "bad-options: $arg -> exit $rc after $ms ms: $out"
        [ "$rc" -ne 124 ] || why "$arg was not refused (still running after 10 s)" || return
        [ "$rc" -eq 1 ] || why "$arg: exit status $rc, expected 1: $out" || return
        case $out in
            *"$want"*) ;;
            *) why "$arg: the error does not name \"$want\": $out"; return ;;
        esac
        [ "$(printf '%s\n' "$out" | wc -l)" -le 2 ] \
            || why "$arg: more than 2 lines of error: $out" || return
        [ "$ms" -lt 3000 ] || why "$arg: refused only after $ms ms" || return
    done
}

# sync/show tells the registry remote, the member and its role, the
# transport's security, the last update and every port.
case_sync_show() {
    local out s p t0
    need_mesh || return
    out=$(sync_show a) || why "sync/show at a failed: $out" || return
    lib_log "sync/show at a:"
    lib_log "$out"
    [ "$(show_field a site)" = "a (bridge br0)" ] \
        || why "site line: $(show_field a site)" || return
    [ "$(show_field a registry)" = "$REGISTRY" ] \
        || why "registry line: $(show_field a registry) (want $REGISTRY)" || return
    [ "$(show_field a member)" = "$REGISTRY (standalone)" ] \
        || why "member line: $(show_field a member)" || return
    [ "$(show_field a security)" = unix ] \
        || why "security line: $(show_field a security)" || return
    [ "$(show_field a ports)" = "3 wanted, 3 present, 0 failed" ] \
        || why "ports line: $(show_field a ports)" || return
    for p in b c d; do
        grep -Eq "^ +st-$p: site $p, (active|passive), up$" "$SCRATCH/show.a" \
            || why "no line saying st-$p is up in: $out" || return
    done
    for s in b c d; do
        sync_show "$s" >/dev/null || why "sync/show at $s failed" || return
        [ "$(show_field "$s" ports)" = "3 wanted, 3 present, 0 failed" ] \
            || why "ports line at $s: $(show_field "$s" ports)" || return
    done
    # Site e runs a sync but is not registered: it wants nothing.
    sync_show e >/dev/null || why "sync/show at e failed" || return
    [ "$(show_field e ports)" = "0 wanted, 0 present, 0 failed" ] \
        || why "ports line at e: $(show_field e ports)" || return

    t0=$(last_update a)
    case $t0 in
        20[0-9][0-9]-*Z) ;;
        *) why "last update at a is not a time: '$t0'"; return ;;
    esac
    registry_ctl set-site b external_ids:show-probe=1 || why "set-site b" || return
    # shellcheck disable=SC2016
    wait_until "a's last update to move past $t0" 10 eval \
        '[ "$(last_update a)" != "$t0" ]' || return
}

# vlog/set changes the level at run time: debug lines appear in the log
# file, then stop again.
case_vlog_set() {
    local log lvl n0 n1 t0
    need_mesh || return
    log=$(sync_log a)
    sync_appctl a vlog/set ssh_tap_sync:file:dbg \
        || why "vlog/set ssh_tap_sync:file:dbg failed" || return
    lvl=$(sync_appctl a vlog/list | awk '$1 == "ssh_tap_sync" { print $4 }')
    [ "$lvl" = DBG ] || why "vlog/list says $lvl for the file, not DBG" || return
    registry_ctl set-site b external_ids:vlog-probe=1 || return
    wait_until "a debug line in a's log" 10 \
        grep -q '|ssh_tap_sync|DBG|' "$log" || return
    sync_appctl a vlog/set ssh_tap_sync:file:info || why "vlog/set back" || return
    n0=$(grep -c '|DBG|' "$log")
    t0=$(last_update a)
    registry_ctl set-site b external_ids:vlog-probe=2 || return
    # shellcheck disable=SC2016
    wait_until "a's sync to see the second change" 10 eval \
        '[ "$(last_update a)" != "$t0" ]' || return
    n1=$(grep -c '|DBG|' "$log")
    [ "$n0" = "$n1" ] || why "$((n1 - n0)) debug lines after vlog/set back to info" \
        || return
}

# A site whose run directory makes the far socket path too long: the
# ports towards it are made, vswitchd refuses their options, and sync/show
# says which port failed and why.  Then the site goes away again.
case_show_failed() {
    local long line
    need_mesh || return
    long=/$(printf 'd%.0s' $(seq 1 100))
    registry_ctl add-site f --endpoint=192.0.2.99 --login=root \
        --rundir="$long" || why "add-site f" || return
    # shellcheck disable=SC2016
    wait_until "st-f at a to have an error" 20 eval \
        '[[ "$(iface_get a st-f error)" == *"bytes long"* ]]' \
        || why "$REASON (error: $(iface_get a st-f error))" || return
    # shellcheck disable=SC2016
    wait_until "a's sync/show to count st-f as failed" 10 eval \
        '[ "$(sync_show a >/dev/null; show_field a ports)" = "4 wanted, 4 present, 1 failed" ]' \
        || why "$REASON: $(cat "$SCRATCH/show.a")" || return
    line=$(grep -E '^ +st-f: ' "$SCRATCH/show.a")
    case $line in
        *"site f, active, failed: "*remote_socket*"bytes long"*) ;;
        *) why "st-f's line does not give the reason: $line"; return ;;
    esac
    lib_log "show-failed: $line"
    registry_ctl del-site f || why "del-site f" || return
    # shellcheck disable=SC2016
    wait_until "a's sync/show to forget st-f" 20 eval \
        '[ "$(sync_show a >/dev/null; show_field a ports)" = "3 wanted, 3 present, 0 failed" ]' \
        || why "$REASON: $(cat "$SCRATCH/show.a")" || return
}

# sync_detached SITE LOG ARGS...: starts SITE's sync with --detach (plus
# ARGS) and waits for the parent to return.
sync_detached() {
    local s=$1 log=$2 d
    shift 2
    d=$(site_dir "$s")
    site_exec "$s" timeout --foreground 20 "$SSH_TAP_SYNC" --site="$s" \
        --registry="$REGISTRY" --db="unix:$d/run/db.sock" \
        --key="$(site_client_key "$s")" --log-file="$log" --detach \
        "$@" </dev/null >"$log.out" 2>&1
}

# appctl_named SITE ARGS...: ovs-appctl -t ovs-ssh-tap-sync in SITE's
# environment: the name is resolved through the pid file in its rundir.
appctl_named() {
    local s=$1 envs
    shift
    mapfile -t envs < <(site_env "$s")
    env "${envs[@]}" timeout --foreground 15 "$OVS_APPCTL" --timeout=10 \
        -t ovs-ssh-tap-sync "$@"
}

# pid_is_sync PID: PID runs the sync's binary.  Compared by content, not
# path: on overlayfs (the Debian 13 CI root) /proc/PID/exe names the file
# in the upper layer, not the path it was started by.
pid_is_sync() {
    cmp -s "/proc/$1/exe" "$SSH_TAP_SYNC"
}

# --detach --pidfile: the command returns once the daemon is ready, the
# pid file names it, "ovs-appctl -t ovs-ssh-tap-sync" finds it, and
# "ovs-appctl exit" stops it and removes the pid file.
case_detach() {
    local d pidfile log rc pid out
    need_mesh || return
    sync_stop a || why "stopping a's sync" || return
    d=$(site_dir a)
    pidfile=$d/run/ovs-ssh-tap-sync.pid
    log=$d/log/sync-detach.log
    rm -f "$pidfile"
    sync_detached a "$log" --pidfile --no-chdir
    rc=$?
    [ -s "$pidfile" ] && pid=$(cat "$pidfile") && lib_register "$pid" "sync-detached@a"
    [ "$rc" -eq 0 ] || why "--detach exited $rc: $(cat "$log.out")" || return
    [ -n "$pid" ] || why "no pid file $pidfile after --detach returned" || return
    lib_alive "$pid" || why "pid $pid of the pid file is not running" || return
    pid_is_sync "$pid" || why "pid $pid is $(readlink "/proc/$pid/exe"), not the sync" || return
    [ "$(awk '{ print $7 }' "/proc/$pid/stat")" = 0 ] \
        || why "the detached sync still has a controlling terminal" || return
    out=$(appctl_named a sync/show) || why "ovs-appctl -t ovs-ssh-tap-sync sync/show: $out" || return
    case $out in
        *"site: a "*) ;;
        *) why "sync/show of the detached sync: $out"; return ;;
    esac
    wait_until "the detached sync to find nothing to do" 20 \
        grep -q 'nothing to do' "$log" || return
    appctl_named a exit || why "ovs-appctl exit failed" || return
    wait_until "the detached sync to exit" 10 lib_dead "$pid" || return
    [ ! -e "$pidfile" ] || why "the pid file is still there after exit" || return
    sync_start a || why "restarting a's sync" || return
    wait_until "a's sync in sync again" 20 sync_converged a || return
}

# --detach --monitor: the pid file names the daemon, whose parent is the
# monitor; when the daemon dies of a signal the monitor starts a new one.
case_monitor() {
    local d pidfile log pid mon pid2
    need_mesh || return
    sync_stop a || why "stopping a's sync" || return
    d=$(site_dir a)
    pidfile=$d/run/ovs-ssh-tap-sync.pid
    log=$d/log/sync-monitor.log
    rm -f "$pidfile"
    sync_detached a "$log" --pidfile --no-chdir --monitor \
        || why "--detach --monitor exited $?: $(cat "$log.out")" || return
    pid=$(cat "$pidfile") || why "no pid file" || return
    mon=$(awk '{ print $4 }' "/proc/$pid/stat")
    lib_register "$mon" "sync-monitor@a"
    lib_register "$pid" "sync-daemon@a"
    pid_is_sync "$mon" || why "the daemon's parent $mon is not the monitor" || return
    # SIGALRM: an error signal for lib/daemon's monitor, without a core.
    kill -ALRM "$pid"
    # shellcheck disable=SC2016
    wait_until "the monitor to start a new daemon" 15 eval \
        'pid2=$(cat "$pidfile" 2>/dev/null) && [ "$pid2" != "$pid" ] && lib_alive "$pid2"' \
        || return
    pid2=$(cat "$pidfile")
    lib_register "$pid2" "sync-daemon2@a"
    appctl_named a sync/show >/dev/null || why "sync/show of the restarted daemon" || return
    appctl_named a exit || why "ovs-appctl exit failed" || return
    wait_until "daemon and monitor to exit" 10 eval \
        "lib_dead $pid2 && lib_dead $mon" || return
    sync_start a || why "restarting a's sync" || return
    wait_until "a's sync in sync again" 20 sync_converged a || return
}

# tcp: off loopback works but says it is insecure: a relay of the registry
# listens on site b's underlay address, and a's sync uses it.
case_insecure_tcp() {
    local d remote n
    need_mesh || return
    d=$(site_dir b)
    remote="tcp:$(site_addr b):6645"
    lib_spawn "ovsdb-relay@b" /dev/null "$d/log/relay.stderr" \
        ip netns exec "$(site_ns b)" "$OVSDB_SERVER" --no-chdir \
        --log-file="$d/log/relay.log" --pidfile="$d/run/relay.pid" \
        --unixctl="$d/run/relay.ctl" --remote="ptcp:6645:$(site_addr b)" \
        "relay:SSH_Tap:$REGISTRY"
    wait_until "the relay to listen" 10 test -S "$d/run/relay.ctl" || return
    sync_stop a || why "stopping a's sync" || return
    sync_start a --registry="$remote" || why "sync at a on $remote" || return
    wait_until "a's sync over tcp to find nothing to do" 20 sync_converged a \
        || why "$REASON: $(tail -n 3 "$(sync_log a)")" || return
    sync_show a >/dev/null || why "sync/show at a" || return
    [ "$(show_field a registry)" = "$remote" ] \
        || why "registry line: $(show_field a registry)" || return
    case $(show_field a security) in
        insecure*) ;;
        *) why "security over $remote: $(show_field a security)"; return ;;
    esac
    lib_log "sync/show over tcp: $(cat "$SCRATCH/show.a")"
    n=$(grep -c "|WARN|$remote: .*outside loopback" "$(sync_log a)")
    [ "$n" -eq 1 ] || why "$n warnings about the insecure remote, want 1" || return
    sync_stop a || return
    sync_start a || return
    wait_until "a's sync in sync again" 20 sync_converged a || return
}

tcpdump_ready() { grep -q 'listening on' "$1"; }

# One ARP request from a1 must reach each other VM exactly once: the ports
# are protected, so no site floods what came from one mesh port into
# another.
case_no_loops() {
    local s mac pids=() out n
    need_mesh || return
    mac=$(vm_mac a1)
    for s in b c d; do
        lib_spawn "tcpdump@$s" "$SCRATCH/arp.$s" "$SCRATCH/arp.$s.err" \
            ip netns exec "$(vm_ns "$(vm_of "$s")")" timeout --foreground 6 \
            tcpdump -l -n -e -i eth0 \
            "arp and ether src $mac and ether dst ff:ff:ff:ff:ff:ff"
        pids+=("$LAST_PID")
    done
    for s in b c d; do
        wait_until "tcpdump at $s" 10 tcpdump_ready "$SCRATCH/arp.$s.err" \
            || return
    done
    vm_exec a1 arping -c 1 -w 1 -I eth0 198.51.100.99 >/dev/null 2>&1
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    out=""
    for s in b c d; do
        n=$(grep -c 'ARP' "$SCRATCH/arp.$s")
        out="$out $s:$n"
        [ "$n" -eq 1 ] || why "ARP broadcast from a1 seen $n times at $(vm_of "$s") (want 1; counts:$out)" || return
    done
    lib_log "no-loops: ARP broadcast counts:$out"
}

# A changed endpoint rewrites the options of the same Interface row.
case_update_in_place() {
    local u0 u1 r
    need_mesh || return
    u0=$(iface_get a st-b _uuid)
    registry_ctl set-site b endpoint="$(site_addr b):22" || why "set-site failed" || return
    # shellcheck disable=SC2016
    wait_until "a's st-b to get the new remote" 10 eval \
        '[ "$(iface_get a st-b options:remote)" = "root@$(site_addr b):22" ]' \
        || why "$REASON (now $(iface_get a st-b options:remote))" || return
    u1=$(iface_get a st-b _uuid)
    [ "$u0" = "$u1" ] || why "st-b at a was recreated: $u0 -> $u1" || return
    wait_mesh 30 a b || return
    r=$(grep -c "update st-b" "$(sync_log a)")
    [ "$r" -ge 1 ] || why "a's sync log has no update of st-b" || return
}

# --dry-run prints the plan and changes nothing.
case_dry_run() {
    local out rc before after
    need_mesh || return
    sync_stop a || why "stopping a's sync" || return
    registry_ctl set-site b login=nobody || why "set-site b login=nobody" || return
    before=$(sync_ports a; site_vsctl a get interface st-b options)
    out=$(sync_once a --dry-run)
    rc=$?
    lib_log "dry-run output: $out"
    [ "$rc" -eq 0 ] || why "--dry-run exited $rc" || return
    case $out in
        *"update st-b"*"remote: root@"*" -> nobody@"*) ;;
        *) why "--dry-run did not plan the update of st-b: $out"; return ;;
    esac
    after=$(sync_ports a; site_vsctl a get interface st-b options)
    [ "$before" = "$after" ] || why "--dry-run changed the database" || return
    registry_ctl set-site b login=root || why "set-site b login=root" || return
    out=$(sync_once a --dry-run)
    case $out in
        "nothing to do"*) ;;
        *) why "--dry-run with nothing changed printed: $out"; return ;;
    esac
}

# --once converges and exits 0 (a's daemon is still stopped).
case_once() {
    local rc
    need_mesh || return
    [ -z "${SYNC_PIDS[a]:-}" ] || sync_stop a || return
    site_vsctl a del-port st-c || why "del-port st-c at a" || return
    sync_once a --once --log-file="$(site_dir a)/log/sync-once.log"
    rc=$?
    [ "$rc" -eq 0 ] || why "--once exited $rc: $(tail -n 5 "$(site_dir a)/log/sync-once.log")" || return
    [ "$(iface_get a st-c type)" = ssh-tap ] \
        || why "st-c not back at a after --once" || return
    grep -q 'converged' "$(site_dir a)/log/sync-once.log" \
        || why "--once did not log convergence" || return
    wait_mesh 30 a c || return
}

# Restarting every sync with nothing changed recreates no port and drops
# no traffic.
case_restart() {
    local s before after pid out=$SCRATCH/restart-ping loss
    need_mesh || return
    [ -n "${SYNC_PIDS[a]:-}" ] || sync_start a
    wait_until "a's sync in sync" 20 sync_converged a || return
    before=$(all_ports a b c d)
    lib_spawn ping "$out" "$out.err" ip netns exec "$(vm_ns a1)" \
        ping -i 0.2 -c 40 -W 2 "$(vm_ip d)"
    pid=$LAST_PID
    sleep 1
    for s in a b c d e; do
        sync_stop "$s" || why "stopping the sync at $s" || return
    done
    for s in a b c d e; do
        sync_start "$s" || why "restarting the sync at $s" || return
    done
    for s in a b c d e; do
        wait_until "restarted sync at $s to find nothing to do" 20 \
            sync_converged "$s" || return
        if grep -Eq '\|INFO\|site [a-z]+: (add|delete|update) ' "$(sync_log "$s")"; then
            why "restarted sync at $s changed something: $(grep -E '(add|delete|update) ' "$(sync_log "$s")")"
            return 1
        fi
    done
    after=$(all_ports a b c d)
    [ "$before" = "$after" ] \
        || why "ports recreated: before [$before] after [$after]" || return
    wait_until "ping across the restart to finish" 30 lib_dead "$pid" || return
    wait "$pid" 2>/dev/null
    loss=$(ping_loss "$out")
    lib_log "restart: $(grep -E 'transmitted' "$out")"
    [ "$loss" = 0 ] || why "ping a1 -> d1 across the restart lost ${loss:-?}%: $(grep transmitted "$out")" || return
}

# changes_logged SITE: how many changes SITE's latest sync has logged.
changes_logged() {
    grep -Ec '\|INFO\|site [a-z]+: (add|delete|update) ' "$(sync_log "$1")"
}

# monitors_logged SITE: how many times SITE's latest sync has had the
# registry's contents.
monitors_logged() {
    grep -c 'registry .*connected, monitoring' "$(sync_log "$1")"
}

# The registry's ovsdb-server restarts on the same database: every sync
# reconnects and monitors again, and neither recreates nor changes a port.
case_registry_restart() {
    local s pid before after
    local -A mon chg
    need_mesh || return
    before=$(all_ports a b c d)
    for s in a b c d; do
        mon[$s]=$(monitors_logged "$s")
        chg[$s]=$(changes_logged "$s")
    done
    pid=$(cat "$REG_DIR/ovsdb-server.pid") || why "no registry pid file" || return
    kill -TERM "$pid"
    wait_until "the registry to stop" 10 lib_dead "$pid" || return
    lib_spawn "ovsdb-server@registry-again" /dev/null "$REG_DIR/stderr.2" \
        "$OVSDB_SERVER" --no-chdir --log-file="$REG_DIR/ovsdb-server.log" \
        --pidfile="$REG_DIR/ovsdb-server.pid" \
        --unixctl="$REG_DIR/ovsdb-server.ctl" \
        --remote="punix:$REG_SOCK" "$REG_DIR/registry.db"
    wait_until "the registry to listen again" 20 test -S "$REG_SOCK" || return
    for s in a b c d; do
        # shellcheck disable=SC2016
        wait_until "the sync at $s to monitor the registry again" 20 eval \
            '[ "$(monitors_logged "$s")" -gt "${mon[$s]}" ]' \
            || why "$REASON: $(tail -n 3 "$(sync_log "$s")")" || return
    done
    sleep 0.5
    for s in a b c d; do
        [ "$(changes_logged "$s")" = "${chg[$s]}" ] \
            || why "the sync at $s changed ports after the reconnection: $(tail -n 3 "$(sync_log "$s")")" \
            || return
    done
    after=$(all_ports a b c d)
    [ "$before" = "$after" ] \
        || why "ports recreated: before [$before] after [$after]" || return
}

case_add_site() {
    local t0 t1
    need_mesh || return
    t0=$(now_ms)
    registry_add_site e || why "registering e" || return
    wait_until "every link up" 60 all_links_up a b c d e || return
    wait_mesh 60 a b c d e || return
    t1=$(now_ms)
    echo "MEASURE: mesh-add-5th-converge-s $(measure_s $((t1 - t0)))"
    ports_are e "st-a st-b st-c st-d " || why "site e ports: $(sync_port_names e)" || return
}

case_del_site() {
    local s t0 t1
    need_mesh || return
    t0=$(now_ms)
    registry_ctl del-site d || why "del-site d" || return
    for s in a b c e; do
        wait_until "st-d gone at $s" 20 eval \
            "! sync_port_names $s | grep -q st-d" || return
    done
    wait_until "d's own ports gone" 20 ports_are d "" \
        || why "$REASON: $(sync_port_names d)" || return
    wait_mesh 30 a b c e || return
    t1=$(now_ms)
    echo "MEASURE: mesh-del-site-converge-s $(measure_s $((t1 - t0)))"
    if vm_exec a1 ping -c 2 -W 1 "$(vm_ip d)" >/dev/null 2>&1; then
        why "a1 still reaches d1 after del-site d"
        return 1
    fi
    ports_are a "st-b st-c st-e " || why "site a ports: $(sync_port_names a)" || return
}

# The Raft cluster (cluster_start, member_appctl, cluster_leader, $CL_DIR)
# is lib.sh's.

# show_member_ok SITE: SITE's sync/show names a live member of the cluster
# and the role that member itself reports.
show_member_ok() {
    local m i role
    sync_show "$1" >/dev/null || return 1
    m=$(show_field "$1" member)
    case $m in
        "unix:$CL_DIR/m"[123]".sock ("*")") ;;
        *) echo "member line: $m"; return 1 ;;
    esac
    i=${m#"unix:$CL_DIR/m"}
    i=${i%%.sock*}
    role=${m##*(}
    role=${role%)}
    member_appctl "$i" cluster/status SSH_Tap 2>/dev/null \
        | grep -q "^Role: $role\$" \
        || { echo "member $i is not the $role that sync/show says"; return 1; }
}

# The registry moves to a 3-member Raft cluster (ovsdb-tool create-cluster
# and join-cluster, members talking over 127.0.0.1 in a namespace of their
# own); every sync is restarted on the list of its members.  Then the
# leader is killed, a site is removed through the remaining members, and
# every sync follows.
case_cluster() {
    local s sites pid leader t0 t1
    need_mesh || return
    cluster_start || return

    # Same sites, same columns: the move must not churn any port.
    sites=$(registry_ctl list-sites | awk 'NR > 1 { print $1 }')
    REGISTRY=$CL_REMOTES
    for s in $sites; do
        if [ -s "$(site_dir "$s")/underlay_addr" ] && [ "$s" != n ]; then
            registry_add_site "$s" || why "registering $s in the cluster" || return
        else
            registry_ctl add-site "$s" --login=root --rundir="$(site_dir "$s")/run" \
                || why "registering $s in the cluster" || return
        fi
    done
    registry_ctl set-site b endpoint="$(site_addr b):22" || return
    for s in "${!SYNC_PIDS[@]}"; do
        sync_stop "$s" && sync_start "$s" || why "restarting sync at $s" || return
    done
    for s in "${!SYNC_PIDS[@]}"; do
        wait_until "sync at $s on the cluster to find nothing to do" 20 \
            sync_converged "$s" || why "$REASON: $(tail -n 5 "$(sync_log "$s")")" || return
    done
    show_member_ok a || why "sync/show at a on the cluster: $(show_member_ok a)" \
        || return

    leader=$(cluster_leader) || why "no leader in the cluster" || return
    pid=$(cat "$CL_DIR/m$leader.pid")
    lib_log "cluster: killing the leader, member $leader (pid $pid)"
    t0=$(now_ms)
    kill -KILL "$pid"
    wait_until "leader to die" 10 lib_dead "$pid" || return
    wait_until "del-site c through the remaining members" 30 \
        registry_ctl del-site c --if-exists || return
    for s in a b e; do
        wait_until "st-c gone at $s" 30 eval \
            "! sync_port_names $s | grep -q st-c" \
            || why "$REASON: $(tail -n 5 "$(sync_log "$s")")" || return
    done
    t1=$(now_ms)
    echo "MEASURE: cluster-leader-kill-to-resync-s $(measure_s $((t1 - t0)))"
    wait_until "a's sync/show to name a live member" 10 show_member_ok a \
        || why "$REASON: $(show_member_ok a)" || return
    wait_mesh 30 a b e || return
    for s in a b e; do
        lib_log "site $s: $(grep -h 'registry' "$(sync_log "$s")" | tail -n 2 | tr '\n' ' ')"
    done
}

# Site n sits behind a NAT namespace: no endpoint, no sshd, nothing can
# reach it; it dials every other site.
case_nat_site() {
    local nat ns s
    need_mesh || return
    if ! command -v iptables >/dev/null 2>&1; then
        REASON="iptables is not installed"
        return 77
    fi
    site_start n || why "site n did not start" || return
    nat=$(lib_netns_add nat) || why "nat namespace" || return
    ns=$(site_ns n)
    # nat: ul0 on the underlay (192.0.2.6), lan0 towards n (10.0.0.1/24).
    ip -n "$nat" link add ul0 type veth peer name p-nat netns "$(site_ns sw)" || return
    ip -n "$(site_ns sw)" link set p-nat master ul up || return
    ip -n "$nat" addr add "192.0.2.${SITE_NUM[n]}/24" dev ul0 || return
    ip -n "$nat" link set ul0 up || return
    ip -n "$nat" link add lan0 type veth peer name ul0 netns "$ns" || return
    ip -n "$nat" addr add 10.0.0.1/24 dev lan0 || return
    ip -n "$nat" link set lan0 up || return
    ip -n "$ns" addr add 10.0.0.2/24 dev ul0 || return
    ip -n "$ns" link set ul0 up || return
    ip -n "$ns" route add default via 10.0.0.1 || return
    ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1 || return
    ip netns exec "$nat" iptables -t nat -A POSTROUTING -o ul0 -j MASQUERADE \
        || why "iptables MASQUERADE failed" || return
    # No inbound: the underlay has no route to 10.0.0.0/24 anyway.
    echo 10.0.0.2 > "$(site_dir n)/underlay_addr"
    mkdir -p "$(site_dir n)/ssh"
    for s in a b c e; do
        ssh_client_setup n "$s" || why "keys n -> $s" || return
    done
    vm_add n n1 "$(vm_ip n)/24" "2001:db8:100::6/64" || why "vm n1" || return
    sync_start n || why "sync at n" || return
    registry_ctl add-site n --login=root --rundir="$(site_dir n)/run" \
        || why "registering n" || return
    wait_mesh 60 a b c e n || return
    ports_are n "st-a st-b st-c st-e " || why "site n ports: $(sync_port_names n)" || return
}

case_scale() {
    local n=$MESH_SCALE i s sites=() t0 t1 t2
    [ "$n" -ge 2 ] && [ "$n" -le 32 ] \
        || why "MESH_SCALE=$n: expected 2 to 32" || return
    for i in $(seq 1 "$n"); do
        SITE_NUM[s$i]=$i
        sites+=("s$i")
    done
    mesh_sites_start "${sites[@]}" || return
    mesh_keys "${sites[@]}" || return
    registry_start || why "registry: $REASON" || return
    for s in "${sites[@]}"; do
        sync_start "$s" || why "sync at $s" || return
    done
    for s in "${sites[@]}"; do
        wait_until "sync at $s to connect" 20 \
            sync_connected "$s" || return
    done
    t0=$(now_ms)
    for s in "${sites[@]}"; do
        registry_add_site "$s" || why "registering $s" || return
    done
    wait_until "all $((n * (n - 1))) link ends up" 300 all_links_up \
        "${sites[@]}" || return
    t1=$(now_ms)
    wait_mesh 300 "${sites[@]}" || return
    t2=$(now_ms)
    echo "MEASURE: mesh-$n-links-up-s $(measure_s $((t1 - t0)))"
    echo "MEASURE: mesh-$n-converge-s $(measure_s $((t2 - t0)))"
}

# ---------------------------------------------------------------------------

if [ -n "${MESH_SCALE:-}" ]; then
    run_case "scale-$MESH_SCALE" case_scale
    lib_finish
fi

run_case setup case_setup || exit 1
run_case bad-options case_bad_options
run_case mesh-4-converge case_converge
run_case sync-show case_sync_show
run_case vlog-set case_vlog_set
run_case show-failed case_show_failed
run_case no-loops case_no_loops
run_case update-in-place case_update_in_place
run_case dry-run case_dry_run
run_case once case_once
run_case detach-pidfile case_detach
run_case monitor case_monitor
run_case insecure-tcp case_insecure_tcp
run_case restart-no-churn case_restart
run_case registry-restart case_registry_restart
run_case add-site case_add_site
run_case del-site case_del_site
run_case nat-site case_nat_site
run_case cluster-failover case_cluster
lib_finish
