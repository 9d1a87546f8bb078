# Processes started in the background, recorded and stopped by pid: shared
# by the test harness (tests/lib.sh), the demo and bench/run-bench.sh.
# shellcheck shell=bash
#
# A record is "PID STARTTIME NAME", one per line in "$SCRATCH/pids": the
# start time (field 22 of /proc/PID/stat) makes sure that a pid recycled by
# another process is never signalled.  Nothing is ever looked up or killed
# by name.

lib_log() { printf '%s\n' "$*" >&2; }

# Prints the current time in milliseconds.
now_ms() {
    local t=${EPOCHREALTIME//[.,]/}
    echo $((10#$t / 1000))
}

# Prints the start time (field 22 of /proc/PID/stat) of PID, or nothing.
lib_starttime() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo "${20}"
}

# lib_alive PID [STARTTIME]: true if PID exists, is not a zombie and (if
# given) still has the same start time.
lib_alive() {
    local pid=$1 st=${2:-} stat rest
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    [ "$1" != Z ] || return 1
    [ -z "$st" ] || [ "$st" = "${20}" ]
}

lib_dead() { ! lib_alive "$@"; }

# lib_register PID NAME: records a process for cleanup.
lib_register() {
    local st
    st=$(lib_starttime "$1") || return 0
    echo "$1 $st $2" >> "$SCRATCH/pids"
}

# lib_spawn NAME OUTFILE ERRFILE COMMAND...: runs COMMAND (a program, not a
# shell function, so that $! is its pid) in the background with stdin from
# /dev/null, records it, and sets LAST_PID.  ERRFILE may be OUTFILE.
lib_spawn() {
    local name=$1 out=$2 err=$3
    shift 3
    if [ "$err" = "$out" ]; then
        "$@" </dev/null >"$out" 2>&1 &
    else
        "$@" </dev/null >"$out" 2>"$err" &
    fi
    LAST_PID=$!
    lib_register "$LAST_PID" "$name"
}

# lib_kill_pids "PID STARTTIME"...: SIGTERMs the live ones, waits up to 5 s
# for them to go, then SIGKILLs the rest; reaps those that are our children.
lib_kill_pids() {
    local entry pid st deadline left
    [ $# -gt 0 ] || return 0
    for entry in "$@"; do
        read -r pid st <<< "$entry"
        lib_alive "$pid" "$st" && kill -TERM "$pid" 2>/dev/null
    done
    deadline=$(( $(now_ms) + 5000 ))
    while :; do
        left=0
        for entry in "$@"; do
            read -r pid st <<< "$entry"
            lib_alive "$pid" "$st" && left=1
        done
        [ "$left" -eq 0 ] && break
        if [ "$(now_ms)" -ge "$deadline" ]; then
            for entry in "$@"; do
                read -r pid st <<< "$entry"
                if lib_alive "$pid" "$st"; then
                    lib_log "cleanup: pid $pid ignored SIGTERM, sending SIGKILL"
                    kill -KILL "$pid" 2>/dev/null
                fi
            done
            sleep 0.2
            break
        fi
        sleep 0.05
    done
    for entry in "$@"; do
        wait "${entry%% *}" 2>/dev/null
    done
}
