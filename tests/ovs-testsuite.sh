#!/bin/bash
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# Runs a slice of Open vSwitch's own test suite against
# ovs-vswitchd-ssh-tap, to show that the drop-in does not break OVS
# (docs/ovs-testsuite.md):
#
#   1. makes its own copy of the configured OVS tree that our build links
#      against ($OVS_BUILDDIR from tests/env.sh, which is shared and never
#      written to), as $OVS_SSH_TAP_CACHE/ovs-testsuite-<that tree's name>,
#      and builds there what OVS's tests need ("make all", the test
#      programs and the test PKI).  The copy is kept and reused by later
#      runs, like the tree of build-aux/ovs-build.sh;
#   2. makes a run directory in this build tree, tests/ovs-testsuite.run,
#      whose bin/ovs-vswitchd is a link to our binary, and runs OVS's
#      tests/testsuite there with that directory first in AUTOTEST_PATH,
#      so that every "ovs-vswitchd" a test starts is ours;
#   3. checks that it was: the "ovs-vswitchd --version" that the testsuite
#      records in its log (AT_TESTED) must be our binary and name ssh-tap;
#   4. as root, does the same with a few tests of OVS's
#      tests/system-userspace-testsuite (traffic between network namespaces
#      through the userspace datapath), one at a time;
#   5. runs each failed test once more, alone, before concluding (other
#      jobs on the machine can starve a test of CPU past its timeouts).
#
# Prints one "PASS: ovs-testsuite: N TITLE", "FAIL: ..." or "SKIP: ..."
# line per OVS test (system-userspace tests as "system-userspace:N"), then
# "N passed, N failed, N skipped"; exits non-zero if a test failed or the
# binary under test was not the one asked for.
#
# usage: tests/ovs-testsuite.sh [OPTION...] [TESTSUITE-ARG...]
#   --stock          test the stock ovs-vswitchd built in the copy, not ours
#                    (to tell a failure of the environment from one of ours)
#   --vswitchd=PATH  test this binary (default: $VSWITCHD from tests/env.sh)
#   --no-system      skip the system-userspace tests
#   --system-only    run only the system-userspace tests
#   --list           print the selected tests and exit
#   --prepare        only make and build the copy of the OVS tree
#   TESTSUITE-ARG    replaces the selection of the main suite: test numbers,
#                    ranges (1345-1349) or "-k KEYWORD", as OVS's
#                    tests/testsuite takes them
# environment:
#   OVS_SSH_TAP_ENV     the build tree's tests/env.sh (found as run-tests.sh
#                       finds it)
#   OVS_SSH_TAP_CACHE   where the copy lives (default /var/cache/ovs-ssh-tap)
#   OVS_TESTSUITE_JOBS  parallel jobs for the main suite (default 2)
#   OVS_TESTSUITE_TIMEOUT  seconds per suite run (default 1800)

# shellcheck disable=SC2317
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# --- The tests. --------------------------------------------------------------
#
# Main suite: "FILE" selects every test of OVS's tests/FILE, "FILE:N" its
# first N tests, in the order of "tests/testsuite -l".  Every test selected
# starts ovs-vswitchd (OVS_VSWITCHD_START) with the dummy datapath and
# netdevs; tests that do not start ovs-vswitchd would not test our binary.
MAIN_SELECTION="
ovs-vswitchd.at
bridge.at
netdev-type.at
dpif-netdev.at
ofproto.at:40
ofproto-dpif.at:80
tunnel.at:10
lacp.at
stp.at
rstp.at
"
# Tests of that selection left out, as "NUMBER-OR-TITLE-REGEX<TAB>REASON":
# stp.at and rstp.at are mostly unit tests of the protocol code, run by
# ovstest without ovs-vswitchd; only their vswitchd tests stay.
MAIN_EXCLUDE="
STP example from .*	unit test (ovstest test-stp), no ovs-vswitchd
STP\\.[io][op]\\..*	unit test (ovstest test-stp), no ovs-vswitchd
RSTP (Single bridge|Link failure|Double link Failure)	unit test (ovstest test-rstp), no ovs-vswitchd
RSTP example from .*	unit test (ovstest test-rstp), no ovs-vswitchd
"
# system-userspace suite: title regexes (ERE, whole title).  Traffic
# between network namespaces on veth pairs, through ovs-vswitchd's
# userspace datapath (netdev bridges).  Left out: the tests that need kernel
# modules this kind of machine may lack (8021q, bonding, gre, geneve: their
# "ip link add" fails before OVS is involved, with the stock vswitchd too),
# and those that need the kernel datapath.
SYSTEM_SELECTION="
datapath - ping between two ports
datapath - http between two ports
datapath - ping6 between two ports
datapath - ping over vxlan tunnel
datapath - ping over vxlan6 tunnel
datapath - clone action
datapath - mpls actions
datapath - basic truncate action
conntrack - IPv4 ping
conntrack - IPv6 ping
"

# --- Options. ----------------------------------------------------------------

mode=ours
vswitchd=
run_main=1
run_system=1
list_only=0
prepare_only=0
main_args=()
for arg; do
    case $arg in
        --stock) mode=stock ;;
        --vswitchd=*) mode=other; vswitchd=${arg#*=} ;;
        --no-system) run_system=0 ;;
        --system-only) run_main=0 ;;
        --list) list_only=1 ;;
        --prepare) prepare_only=1 ;;
        -h|--help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) main_args+=("$arg") ;;
    esac
done

if [ -z "${OVS_SSH_TAP_ENV:-}" ]; then
    if [ -f "$PWD/tests/env.sh" ]; then
        OVS_SSH_TAP_ENV=$PWD/tests/env.sh
    elif [ -f "$here/env.sh" ]; then
        OVS_SSH_TAP_ENV=$here/env.sh
    fi
fi
if [ -z "${OVS_SSH_TAP_ENV:-}" ] || [ ! -f "$OVS_SSH_TAP_ENV" ]; then
    echo "ovs-testsuite: tests/env.sh not found; run configure first" >&2
    exit 2
fi
# shellcheck disable=SC1090
. "$OVS_SSH_TAP_ENV"
: "${OVS_BUILDDIR:?}" "${abs_top_builddir:?}"
# shellcheck disable=SC2153  # VSWITCHD: from tests/env.sh
[ "$mode" = ours ] && vswitchd=$VSWITCHD

cache=${OVS_SSH_TAP_CACHE:-/var/cache/ovs-ssh-tap}
tree=$cache/ovs-testsuite-$(basename "$OVS_BUILDDIR")
jobs=${OVS_TESTSUITE_JOBS:-2}
suite_timeout=${OVS_TESTSUITE_TIMEOUT:-1800}

case $mode in
    ours) rundir=$abs_top_builddir/tests/ovs-testsuite.run ;;
    *) rundir=$abs_top_builddir/tests/ovs-testsuite.run-$mode ;;
esac
LOG=$rundir/ovs-testsuite.log

# --- The copy of the OVS tree. -----------------------------------------------

# prepare_tree: make $tree, a copy of $OVS_BUILDDIR with the test programs
# built, unless a complete one is there.  One caller at a time builds it.
prepare_tree() {
    local stamp=$tree/.ovs-testsuite-built src_stamp=$OVS_BUILDDIR/.ssh-tap-built
    [ -f "$stamp" ] && return 0
    if [ ! -f "$src_stamp" ]; then
        echo "ovs-testsuite: $OVS_BUILDDIR is not a complete build" \
             "(no .ssh-tap-built); run make first" >&2
        return 1
    fi
    mkdir -p "$cache" || return 1
    exec 8>"$cache/.ovs-testsuite.lock" || return 1
    flock 8
    if [ -f "$stamp" ]; then
        exec 8>&-
        return 0
    fi
    echo "ovs-testsuite: copying $OVS_BUILDDIR to $tree" >&2
    rm -rf "$tree" "$tree.tmp"
    cp -a "$OVS_BUILDDIR" "$tree.tmp" || return 1
    # configure recorded the tree's absolute path (ovs-build.sh builds it as
    # "<dir>.tmp" and then renames it): point the copy at itself.  Keep the
    # files' times, so that make does not rerun config.status.
    local f old
    old=$(printf '%s' "$OVS_BUILDDIR" | sed 's/[.[\*^$#]/\\&/g')
    grep -rlIF "$OVS_BUILDDIR" "$tree.tmp" | grep -v '\.log$' |
    while read -r f; do
        touch -r "$f" "$tree.tmp/.ref" &&
        sed -i "s#$old\(\.tmp\)\{0,1\}#$tree#g" "$f" &&
        touch -r "$tree.tmp/.ref" "$f"
    done
    rm -f "$tree.tmp/.ref" "$tree.tmp/.ssh-tap-built"
    mv "$tree.tmp" "$tree" || return 1
    echo "ovs-testsuite: building OVS's test programs in $tree" >&2
    local n check_files
    n=$(nproc 2>/dev/null || echo 2)
    # shellcheck disable=SC2016  # make expands them
    check_files=$(printf 'ovs-testsuite-print:\n\t@echo $(check_DATA) $(check_SCRIPTS)\n' \
                  | make -s -C "$tree" -f Makefile -f - ovs-testsuite-print)
    # "all" has every program the tests run (ovstest, test-*, ovs-*,
    # ovsdb-*, vtep-ctl, the stock ovs-vswitchd); check_DATA the test PKI
    # and tests/atlocal.  tests/testsuite and
    # tests/system-userspace-testsuite come prebuilt in the tarball.
    # shellcheck disable=SC2086
    if ! make -C "$tree" -j"$n" all $check_files >"$tree/ovs-testsuite-build.log" 2>&1; then
        tail -30 "$tree/ovs-testsuite-build.log" >&2
        echo "ovs-testsuite: build failed, see $tree/ovs-testsuite-build.log" >&2
        exec 8>&-
        return 1
    fi
    touch "$stamp"
    exec 8>&-
}

prepare_tree || exit 2
[ "$prepare_only" = 1 ] && { echo "$tree"; exit 0; }

[ "$mode" = stock ] && vswitchd=$tree/vswitchd/ovs-vswitchd
if [ ! -x "$vswitchd" ]; then
    echo "ovs-testsuite: $vswitchd is not an executable; run make first" >&2
    exit 2
fi
vswitchd=$(cd "$(dirname "$vswitchd")" && pwd)/$(basename "$vswitchd")

# --- Selection. --------------------------------------------------------------

# select_tests SUITE SELECTION: the numbers of SUITE's tests in SELECTION
# ("FILE" or "FILE:N" lines).
select_tests() {
    local suite=$1 sel=$2
    list_of "$suite" | awk -v sel="$sel" '
        BEGIN {
            n = split(sel, lines, "\n")
            for (i = 1; i <= n; i++) {
                if (lines[i] == "") continue
                f = lines[i]; max = -1
                if (split(lines[i], p, ":") == 2) { f = p[1]; max = p[2] }
                want[f] = max
            }
        }
        /^ *[0-9]+: / {
            f = $2; sub(/:.*/, "", f)
            if (!(f in want)) next
            seen[f]++
            if (want[f] < 0 || seen[f] <= want[f]) print $1 + 0
        }'
}

# select_titles SUITE REGEXES: the numbers of SUITE's tests whose title
# matches one of REGEXES (one per line, whole title).
select_titles() {
    local suite=$1 sel=$2
    list_of "$suite" | awk -v sel="$sel" '
        BEGIN { n = split(sel, re, "\n") }
        /^ *[0-9]+: / {
            t = $0; sub(/^ *[0-9]+: [^ ]+ +/, "", t)
            for (i = 1; i <= n; i++)
                if (re[i] != "" && t ~ ("^" re[i] "$")) { print $1 + 0; next }
        }'
}

# exclude_tests SUITE: filter numbers on stdin through $MAIN_EXCLUDE.
exclude_tests() {
    local suite=$1 num title rule pat drop
    while read -r num; do
        title=$(title_of "$suite" "$num")
        drop=0
        while IFS= read -r rule; do
            [ -n "$rule" ] || continue
            pat=${rule%%$'\t'*}
            if [ "$pat" = "$num" ] || [[ $title =~ ^$pat$ ]]; then
                drop=1
            fi
        done <<< "$MAIN_EXCLUDE"
        [ "$drop" = 0 ] && echo "$num"
    done
}

# title_of SUITE NUM: the test's title, from SUITE's listing (kept in
# $listdir, since "testsuite -l" takes a while).
listdir=$(mktemp -d "${TMPDIR:-/tmp}/ovs-testsuite.XXXXXX") || exit 2
trap 'rm -rf "$listdir"' EXIT
list_of() {
    local f
    f=$listdir/$(basename "$1").list
    [ -s "$f" ] || "$1" -l > "$f"
    cat "$f"
}
title_of() {
    list_of "$1" | awk -v n="$2" '
        $1 == n ":" { sub(/^ *[0-9]+: [^ ]+ +/, ""); print; exit }'
}

main_suite=$tree/tests/testsuite
system_suite=$tree/tests/system-userspace-testsuite

main_tests=()
if [ "$run_main" = 1 ]; then
    if [ "${#main_args[@]}" -gt 0 ]; then
        main_tests=("${main_args[@]}")
    else
        mapfile -t main_tests < <(select_tests "$main_suite" "$MAIN_SELECTION" \
                                  | exclude_tests "$main_suite")
    fi
fi
system_tests=()
if [ "$run_system" = 1 ]; then
    mapfile -t system_tests < <(select_titles "$system_suite" "$SYSTEM_SELECTION")
fi

if [ "$list_only" = 1 ]; then
    for n in "${main_tests[@]}"; do
        case $n in
            *[!0-9]*) echo "testsuite: $n" ;;
            *) echo "$n $(title_of "$main_suite" "$n")" ;;
        esac
    done
    for n in "${system_tests[@]}"; do
        echo "system-userspace:$n $(title_of "$system_suite" "$n")"
    done
    exit 0
fi

# --- Running. ----------------------------------------------------------------

# One run per run directory at a time.
mkdir -p "$(dirname "$rundir")" || exit 2
exec 6>"$rundir.lock" || exit 2
if ! flock -n 6; then
    echo "ovs-testsuite: another run uses $rundir; waiting" >&2
    flock 6
fi
rm -rf "$rundir"
mkdir -p "$rundir/bin" || exit 2
ln -s "$vswitchd" "$rundir/bin/ovs-vswitchd"
: > "$LOG"

say() { printf '%s\n' "$*" | tee -a "$LOG"; }

passed=0
failed=0
skipped=0
bad_binary=0
start=$(date +%s)

# The directories of programs, ours first, as OVS's "make check" sets them.
autotest_path=$rundir/bin
for d in utilities vswitchd ovsdb vtep tests ipsec; do
    autotest_path=$autotest_path:$tree/$d
done

# make_suite_dir NAME: a directory from which OVS's testsuite runs, with
# its atconfig (pointing at the copy by absolute paths) and atlocal.
make_suite_dir() {
    local d=$rundir/$1
    mkdir -p "$d"
    sed -e "s#^at_srcdir=.*#at_srcdir='$tree/tests'#" \
        -e "s#^at_top_srcdir=.*#at_top_srcdir='$tree'#" \
        -e "s#^at_top_build_prefix=.*#at_top_build_prefix='$tree/'#" \
        "$tree/tests/atconfig" > "$d/atconfig"
    cp "$tree/tests/atlocal" "$d/atlocal"
    echo "$d"
}

# check_binary DIR SUITE: SUITE, run in DIR, ran $vswitchd, and that is
# ovs-vswitchd-ssh-tap unless --stock.
check_binary() {
    local log tested
    log=$1/$(basename "$2").log
    tested=$(sed -n '/: [^ ]*ovs-vswitchd --version$/,/^$/p' "$log" 2>/dev/null)
    if ! printf '%s\n' "$tested" | head -1 | grep -qF ": $rundir/bin/ovs-vswitchd --version"; then
        say "FAIL: ovs-testsuite: the testsuite did not run $rundir/bin/ovs-vswitchd"
        bad_binary=1
        return
    fi
    if [ "$mode" = stock ]; then
        if printf '%s\n' "$tested" | sed 1d | grep -q '^ssh-tap '; then
            say "FAIL: ovs-testsuite: --stock, but the testsuite ran ovs-vswitchd-ssh-tap"
            bad_binary=1
        fi
    elif [ "$mode" = ours ] && ! printf '%s\n' "$tested" | sed 1d | grep -q '^ssh-tap '; then
        say "FAIL: ovs-testsuite: the testsuite's ovs-vswitchd is not ovs-vswitchd-ssh-tap"
        bad_binary=1
    fi
    printf '%s\n' "$tested" | sed '1d;/^$/d;s/^/ovs-testsuite: tested: /' | tee -a "$LOG"
}

# run_suite SUITE DIR JOBS TEST...: runs the tests; prints "NUM STATUS"
# lines (ok, skipped, FAILED, ...) on fd 3.
run_suite() {
    local suite=$1 dir=$2 j=$3 out
    shift 3
    out=$dir/stdout
    # Not tests/env.sh's abs_top_srcdir and abs_top_builddir (ours): the
    # testsuite's are the copy's, from atconfig.
    (cd "$dir" && unset abs_top_srcdir abs_top_builddir abs_builddir abs_srcdir &&
     timeout -k 30 "$suite_timeout" \
        "$suite" -C "$dir" AUTOTEST_PATH="$autotest_path" -j"$j" "$@") \
        > "$out" 2>&1
    cat "$out" >> "$LOG"
    sed -n 's/^ *\([0-9][0-9]*\): .* \(ok\|skipped (.*)\|FAILED (.*)\|expected failure.*\|UNEXPECTED PASS\)$/\1 \2/p' \
        "$out" >&3
}

# suite NAME SUITE JOBS PREFIX TEST...: runs the tests, reruns the failed
# ones once, alone, and prints the PASS/FAIL/SKIP lines.
suite() {
    local name=$1 suite=$2 j=$3 prefix=$4 dir results rerun n status title
    shift 4
    [ "$#" -gt 0 ] || return 0
    dir=$(make_suite_dir "$name")
    say "ovs-testsuite: $name: running $# selections, -j$j"
    results=$(run_suite "$suite" "$dir" "$j" "$@" 3>&1)
    check_binary "$dir" "$suite"
    declare -A st=()
    while read -r n status; do
        [ -n "$n" ] && st[$n]=$status
    done <<< "$results"
    # Numbers asked for but not reported (a timeout or a crash of the
    # testsuite): failures.
    local asked=() a
    for a in "$@"; do
        case $a in
            *[!0-9-]*) ;;
            *-*) mapfile -t -O "${#asked[@]}" asked < <(seq "${a%-*}" "${a#*-}") ;;
            *) asked+=("$a") ;;
        esac
    done
    for a in "${asked[@]}"; do
        [ -n "${st[$a]:-}" ] || st[$a]="FAILED (no result)"
    done
    rerun=()
    for n in "${!st[@]}"; do
        case ${st[$n]} in FAILED*|UNEXPECTED*) rerun+=("$n") ;; esac
    done
    declare -A first=()
    if [ "${#rerun[@]}" -gt 0 ]; then
        # Keep the first run's logs of the failures.
        mkdir -p "$dir/first-run"
        for n in "${rerun[@]}"; do
            first[$n]=${st[$n]}
            cp -a "$dir/$(basename "$suite").dir/$(printf '%04d' "$n")" \
                "$dir/first-run/" 2>/dev/null ||
            cp -a "$dir/$(basename "$suite").dir/$(printf '%03d' "$n")" \
                "$dir/first-run/" 2>/dev/null || true
        done
        say "ovs-testsuite: $name: rerunning ${rerun[*]} once, alone"
        while read -r n status; do
            [ -n "$n" ] && st[$n]=$status
        done <<< "$(run_suite "$suite" "$dir" 1 "${rerun[@]}" 3>&1)"
    fi
    for n in $(printf '%s\n' "${!st[@]}" | sort -n); do
        title=$(title_of "$suite" "$n")
        case ${st[$n]} in
            ok|"expected failure"*)
                if [ -n "${first[$n]:-}" ]; then
                    say "PASS: ovs-testsuite: $prefix$n $title (passed on rerun; first run: ${first[$n]})"
                else
                    say "PASS: ovs-testsuite: $prefix$n $title"
                fi
                passed=$((passed + 1)) ;;
            skipped*)
                say "SKIP: ovs-testsuite: $prefix$n $title: ${st[$n]}"
                skipped=$((skipped + 1)) ;;
            *)
                say "FAIL: ovs-testsuite: $prefix$n $title: ${st[$n]} (twice; logs in $dir)"
                failed=$((failed + 1)) ;;
        esac
    done
}

version=$("$rundir/bin/ovs-vswitchd" --version 2>&1)
say "ovs-testsuite: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), log in $LOG"
say "ovs-testsuite: vswitchd under test ($mode): $vswitchd"
printf '%s\n' "$version" | sed 's/^/ovs-testsuite: /' | tee -a "$LOG"
case $mode in
    ours)
        if ! printf '%s\n' "$version" | grep -q '^ssh-tap '; then
            say "FAIL: ovs-testsuite: $vswitchd --version does not name ssh-tap"
            bad_binary=1
        fi ;;
esac

if [ "$run_main" = 1 ]; then
    suite testsuite "$main_suite" "$jobs" "" "${main_tests[@]}"
fi
if [ "$run_system" = 1 ] && [ "${#system_tests[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        for n in "${system_tests[@]}"; do
            say "SKIP: ovs-testsuite: system-userspace:$n $(title_of "$system_suite" "$n"): requires root"
            skipped=$((skipped + 1))
        done
    else
        # The system tests make namespaces and devices with fixed names
        # (at_ns0, p0, br0...): one such run on the machine at a time.
        exec 7>"$cache/.ovs-testsuite-system.lock"
        flock 7
        suite system-userspace "$system_suite" 1 "system-userspace:" \
            "${system_tests[@]}"
        exec 7>&-
    fi
fi

elapsed=$(( $(date +%s) - start ))
say "ovs-testsuite: $mode vswitchd, $(printf '%dm%02ds' $((elapsed / 60)) $((elapsed % 60)))"
[ "$bad_binary" = 1 ] && failed=$((failed + 1))
say "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
