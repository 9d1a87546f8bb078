#!/bin/bash
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# Runs system tests with an AddressSanitizer build of vswitchd.
#
# usage: tests/asan-check.sh [TEST...]
#
# TEST is a system test script, by path or by name ("two-site",
# "system-two-site", "system-two-site.sh"); default: $ASAN_TESTS, else
# system-two-site.
#
# 1. Builds tests/ovs-vswitchd-ssh-tap-asan in the build tree: our own
#    sources (plugin/*.c) compiled with -fsanitize=address, linked with
#    OVS's objects as they are (tests/asan.mk).
# 2. Checks that LeakSanitizer works here at all (a canary that leaks must
#    be caught), since it needs ptrace, which containers may forbid.
# 3. Runs each TEST with VSWITCHD set to that binary, ASan's reports going
#    to files in a scratch directory, and LeakSanitizer's suppressions from
#    tests/asan-lsan.supp.  Every vswitchd leaves with "ovs-appctl exit" at
#    the end of the test, so that the leak check runs (lib.sh does that when
#    VSWITCHD_EXIT=appctl).
# 4. Prints one line per TEST:
#      PASS: asan: TEST: no errors, no leaks (N vswitchd exits checked)
#      FAIL: asan: TEST: <the first report's SUMMARY line and our frames>
#    plus "FAIL: asan: build: ..." or "SKIP: asan: ..." when it cannot run.
#    The test's output and the full reports go to stderr; ASAN_KEEP=1 keeps
#    them, in a scratch directory.
#
# Knobs: ASAN_VSWITCHD (an ASan vswitchd to use instead of building one);
# ASAN_EXTRA_OPTIONS, LSAN_EXTRA_OPTIONS (appended to ASAN_OPTIONS and
# LSAN_OPTIONS, e.g. "verbosity=1"); ASAN_KEEP=1.
#
# Needs root (the system tests do).  Exit status 0 if everything passed, 77
# if skipped, 1 otherwise.

here=$(cd "$(dirname "$0")" && pwd)

# The build tree: from $OVS_SSH_TAP_ENV, ./tests/env.sh or next to us.
if [ -z "${OVS_SSH_TAP_ENV:-}" ]; then
    if [ -f "$PWD/tests/env.sh" ]; then
        OVS_SSH_TAP_ENV=$PWD/tests/env.sh
    elif [ -f "$here/env.sh" ]; then
        OVS_SSH_TAP_ENV=$here/env.sh
    fi
fi
if [ -z "${OVS_SSH_TAP_ENV:-}" ] || [ ! -r "$OVS_SSH_TAP_ENV" ]; then
    echo "FAIL: asan: build: no tests/env.sh (run configure first)"
    exit 1
fi
OVS_SSH_TAP_ENV=$(cd "$(dirname "$OVS_SSH_TAP_ENV")" && pwd)/$(basename "$OVS_SSH_TAP_ENV")
export OVS_SSH_TAP_ENV
# shellcheck disable=SC1090
builddir=$(. "$OVS_SSH_TAP_ENV" >/dev/null 2>&1; echo "${abs_top_builddir:-}")
# shellcheck disable=SC1090
srcdir=$(. "$OVS_SSH_TAP_ENV" >/dev/null 2>&1; echo "${abs_top_srcdir:-}")
: "${srcdir:=$(dirname "$here")}"
if [ -z "$builddir" ] || [ ! -f "$builddir/Makefile" ]; then
    echo "FAIL: asan: build: no Makefile in the build tree '${builddir}'"
    exit 1
fi

ASAN_BIN=${ASAN_VSWITCHD:-$builddir/tests/ovs-vswitchd-ssh-tap-asan}
SUPP=$srcdir/tests/asan-lsan.supp

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# The tests to run.

tests=()
# shellcheck disable=SC2086
[ $# -gt 0 ] || set -- ${ASAN_TESTS:-system-two-site}
for t in "$@"; do
    case $t in
        */*) p=$t ;;
        system-*.sh) p=$srcdir/tests/$t ;;
        system-*) p=$srcdir/tests/$t.sh ;;
        *) p=$srcdir/tests/system-$t.sh ;;
    esac
    if [ ! -f "$p" ]; then
        echo "FAIL: asan: $t: no such system test ($p)"
        exit 1
    fi
    tests+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p")")
done

# ---------------------------------------------------------------------------
# 1. Build.

build_asan() {
    local mk=()
    # Once Makefile.am includes tests/asan.mk, its rule is in the Makefile.
    if ! grep -q '^tests/ovs-vswitchd-ssh-tap-asan:' "$builddir/Makefile"; then
        mk=(-f Makefile -f "$srcdir/tests/asan.mk")
    fi
    log "asan: building tests/ovs-vswitchd-ssh-tap-asan"
    (cd "$builddir" && make -s "${mk[@]}" tests/ovs-vswitchd-ssh-tap-asan) >&2
}

if [ -n "${ASAN_VSWITCHD:-}" ]; then
    log "asan: using $ASAN_VSWITCHD as it is"
elif ! build_asan; then
    echo "FAIL: asan: build: make tests/ovs-vswitchd-ssh-tap-asan failed"
    exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
    for t in "${tests[@]}"; do
        echo "SKIP: asan: $(basename "$t" .sh): requires root (network namespaces)"
    done
    exit 77
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/asan.XXXXXX") || exit 2
chmod 0755 "$W"
cleanup() {
    if [ "${ASAN_KEEP:-0}" = 1 ]; then
        log "asan: kept $W"
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# 2. Does LeakSanitizer work here?  (It stops the process's threads with
#    ptrace; where that is forbidden it fails at exit, and a clean run would
#    prove nothing.)

canary_ok() {
    local cc
    cc=$(sed -n 's/^CC = //p' "$builddir/Makefile")
    cat > "$W/canary.c" <<'EOF'
#include <stdlib.h>
#include <string.h>
static void *volatile keep;
int main(void) { char *p = malloc(33); strcpy(p, "leak"); keep = p; keep = 0; return 0; }
EOF
    ${cc:-cc} -g -O0 -fsanitize=address -o "$W/canary" "$W/canary.c" \
        2>"$W/canary.err" || return 1
    ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS='' "$W/canary" >"$W/canary.out" 2>&1
    grep -q 'ERROR: LeakSanitizer: detected memory leaks' "$W/canary.out"
}

if ! canary_ok; then
    log "asan: a program that leaks was not caught:"
    cat "$W/canary.err" "$W/canary.out" >&2 2>/dev/null
    for t in "${tests[@]}"; do
        echo "SKIP: asan: $(basename "$t" .sh): LeakSanitizer does not work here (ptrace not permitted?)"
    done
    exit 77
fi

# ---------------------------------------------------------------------------
# 3. and 4. Run and judge.

# summarize FILE: the first report in FILE in one line: its SUMMARY, and the
# first frames of the report that are in our own sources.
summarize() {
    local f=$1 summary ours
    summary=$(grep -m1 '^SUMMARY: ' "$f")
    [ -n "$summary" ] || summary=$(grep -m1 'ERROR: ' "$f")
    # The first stack of the report (up to the blank line after "#0").
    ours=$(awk '/^ *#0 /{on=1} on && /^ *$/{exit} on {print}' "$f" \
           | grep -E '(plugin|tests)/[A-Za-z0-9_.-]+\.c:[0-9]+' \
           | sed -E 's/^ *#[0-9]+ 0x[0-9a-f]+ in //; s/ \(\/[^)]*\)$//' \
           | awk '!seen[$0]++' | head -n 3 | paste -sd ';' -)
    if [ -n "$ours" ]; then
        echo "${summary#SUMMARY: } In our code: $ours"
    else
        echo "${summary#SUMMARY: }"
    fi
}

failed=0
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    rdir=$W/$name
    mkdir -p "$rdir"
    chmod 0755 "$rdir"
    : > "$rdir/exits"
    t0=$(date +%s)
    log "asan: running $name with $ASAN_BIN"

    envs=(
        VSWITCHD="$ASAN_BIN"
        ASAN_OPTIONS="detect_leaks=1:log_path=$rdir/asan:abort_on_error=0:detect_stack_use_after_return=0:malloc_context_size=30:fast_unwind_on_malloc=0${ASAN_EXTRA_OPTIONS:+:$ASAN_EXTRA_OPTIONS}"
        LSAN_OPTIONS="suppressions=$SUPP:print_suppressions=1:report_objects=0${LSAN_EXTRA_OPTIONS:+:$LSAN_EXTRA_OPTIONS}"
        VSWITCHD_EXIT_LOG="$rdir/exits"
        VSWITCHD_EXIT=appctl
    )
    # With VSWITCHD_EXIT=appctl, lib.sh stops vswitchd with "ovs-appctl
    # exit", so that LeakSanitizer runs.
    env "${envs[@]}" bash "$t" > "$rdir/test.out" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    sed 's/^/  | /' "$rdir/test.out" >&2
    [ "$rc" -eq 130 ] && exit 130

    reports=()
    for f in "$rdir"/asan.*; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|^SUMMARY: ' "$f"; then
            reports+=("$f")
        fi
    done
    for f in "$rdir"/asan.*; do
        [ -f "$f" ] || continue
        log "==== asan: $name: $f"
        cat "$f" >&2
    done

    checked=$(awk '$3 != "alive" && $3 != "?" {n++} END {print n + 0}' "$rdir/exits")
    bad_exit=$(awk '$3 != "0" {printf "%s site %s pid %s: %s", sep, $1, $2, $3; sep=";"}' "$rdir/exits")
    test_fail=$(grep -m1 '^FAIL: ' "$rdir/test.out")

    if [ "${#reports[@]}" -gt 0 ]; then
        echo "FAIL: asan: $name: ${#reports[@]} report(s); first: $(summarize "${reports[0]}") (${secs}s)"
        failed=$((failed + 1))
    elif [ -n "$test_fail" ]; then
        echo "FAIL: asan: $name: the test failed under ASan: ${test_fail#FAIL: } (${secs}s)"
        failed=$((failed + 1))
    elif [ "$rc" -ne 0 ]; then
        echo "FAIL: asan: $name: the test exited $rc (${secs}s)"
        failed=$((failed + 1))
    elif [ "$checked" -eq 0 ]; then
        echo "FAIL: asan: $name: no vswitchd exited normally, so no leak check ran (${secs}s)"
        failed=$((failed + 1))
    elif [ -n "$bad_exit" ]; then
        echo "FAIL: asan: $name: vswitchd did not exit cleanly:$bad_exit (${secs}s)"
        failed=$((failed + 1))
    else
        echo "PASS: asan: $name: no errors, no leaks ($checked vswitchd exits checked, ${secs}s)"
    fi
done

[ "$failed" -eq 0 ]
