#!/bin/bash
# The ovs-ssh-tap test suite runner.
#
# usage: tests/run-tests.sh [NAME...]
#
# Runs, in order, the unit test programs listed in $UNIT_TESTS (space
# separated paths; "make check" sets it), then every tests/system-*.sh next
# to this script (as root only: otherwise each is reported as SKIP).  With
# NAMEs, runs only those tests; a NAME is a program's file name with or
# without ".sh", or a system test without its "system-" prefix
# (e.g. "test-proto", "two-site").
#
# Every test prints one "PASS: ...", "FAIL: ..." or "SKIP: ..." line per
# case.  A program that exits non-zero without printing a FAIL line counts as
# one failure, "FAIL: <prog>: exited N" (or one skip if it exits 77).  All
# output also goes to tests/test-suite.log in the build directory.  The last
# line is "N passed, N failed, N skipped"; the exit status is 1 if anything
# failed.
#
# Environment: UNIT_TESTS; OVS_SSH_TAP_ENV (the build tree's tests/env.sh,
# else ./tests/env.sh or the one next to this script); TEST_TIMEOUT (seconds
# per program, default 900).

here=$(cd "$(dirname "$0")" && pwd)

if [ -z "${OVS_SSH_TAP_ENV:-}" ]; then
    if [ -f "$PWD/tests/env.sh" ]; then
        OVS_SSH_TAP_ENV=$PWD/tests/env.sh
    elif [ -f "$here/env.sh" ]; then
        OVS_SSH_TAP_ENV=$here/env.sh
    fi
fi
if [ -n "${OVS_SSH_TAP_ENV:-}" ]; then
    OVS_SSH_TAP_ENV=$(cd "$(dirname "$OVS_SSH_TAP_ENV")" && pwd)/$(basename "$OVS_SSH_TAP_ENV")
    export OVS_SSH_TAP_ENV
    builddir=$(
        # shellcheck disable=SC1090
        . "$OVS_SSH_TAP_ENV" >/dev/null 2>&1
        echo "${abs_top_builddir:-}"
    )
fi
[ -n "${builddir:-}" ] || builddir=$PWD
mkdir -p "$builddir/tests"
LOG=$builddir/tests/test-suite.log
: > "$LOG" || exit 2

out=$(mktemp "${TMPDIR:-/tmp}/run-tests.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT
interrupted=0
trap 'interrupted=1' INT

passed=0
failed=0
skipped=0

# say LINE: to the terminal and the log.
say() { printf '%s\n' "$*" | tee -a "$LOG"; }

# The candidate tests: "name path kind".
tests=()
for t in ${UNIT_TESTS:-}; do
    tests+=("$(basename "$t") $t unit")
done
for t in "$here"/system-*.sh; do
    [ -e "$t" ] || continue
    tests+=("$(basename "$t" .sh) $t system")
done

# wanted NAME: true if NAME was asked for (or nothing was).
wanted() {
    local a
    [ "${#want[@]}" -eq 0 ] && return 0
    for a in "${want[@]}"; do
        case $a in
            "$1" | "$1.sh" | "${1#system-}") used[$a]=1; return 0 ;;
        esac
    done
    return 1
}

want=("$@")
declare -A used=()

say "ovs-ssh-tap test suite, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), log in $LOG"

for entry in "${tests[@]}"; do
    read -r name path kind <<< "$entry"
    wanted "$name" || continue
    [ "$interrupted" -eq 1 ] && break
    say "=== $name"
    if [ "$kind" = system ] && [ "$(id -u)" -ne 0 ]; then
        say "SKIP: $name: requires root (network namespaces)"
        skipped=$((skipped + 1))
        continue
    fi
    if [ ! -x "$path" ] && [ "$kind" = unit ]; then
        say "FAIL: $name: $path is not an executable"
        failed=$((failed + 1))
        continue
    fi

    # tee must outlive a Ctrl-C, to log the test's cleanup.
    : > "$out"
    if [ "$kind" = system ]; then
        timeout --foreground -k 30 "${TEST_TIMEOUT:-900}" bash "$path" 2>&1 \
            | (trap '' INT; exec tee -a "$LOG" "$out")
    else
        timeout --foreground -k 30 "${TEST_TIMEOUT:-900}" "$path" 2>&1 \
            | (trap '' INT; exec tee -a "$LOG" "$out")
    fi
    rc=${PIPESTATUS[0]}
    # 130: the test was interrupted (it exits so after cleaning up).
    [ "$rc" -eq 130 ] && interrupted=1

    p=$(grep -c '^PASS: ' "$out")
    f=$(grep -c '^FAIL: ' "$out")
    s=$(grep -c '^SKIP: ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        if [ "$rc" -eq 77 ] && [ "$p" -eq 0 ]; then
            [ "$s" -eq 0 ] && { say "SKIP: $name: exited 77"; s=1; }
        else
            say "FAIL: $name: exited $rc"
            f=1
        fi
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
done

for a in "${want[@]}"; do
    [ "$interrupted" -eq 1 ] && break
    if [ -z "${used[$a]:-}" ]; then
        say "FAIL: run-tests: no test named $a"
        failed=$((failed + 1))
    fi
done

if [ "$interrupted" -eq 1 ]; then
    say "interrupted"
fi
say "$passed passed, $failed failed, $skipped skipped"
[ "$interrupted" -eq 1 ] && exit 130
[ "$failed" -eq 0 ]
