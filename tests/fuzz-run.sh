#!/bin/bash
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# A bounded libFuzzer run of the frame decoder, as one test of the suite.
#
# usage: tests/fuzz-run.sh
#
# Builds tests/fuzz-proto in the build tree from tests/fuzz-proto.c,
# plugin/ssh-tap-proto.c and plugin/ssh-tap-link.c with clang
# -fsanitize=fuzzer,address,undefined (any undefined behaviour is fatal),
# then runs it for $FUZZ_SECONDS (default 60) on a copy of the committed
# seeds, tests/fuzz-corpus/proto (which are never written to).  Prints one
# line:
#
#   PASS: fuzz: proto decoder 60s (N execs)
#   FAIL: fuzz: proto decoder: <what> after N execs; input kept in PATH: <summary>
#   SKIP: fuzz: clang with libFuzzer not available
#
# A crashing input is kept in tests/fuzz-artifacts/ in the build tree;
# reproduce with "tests/fuzz-proto FILE".  Environment: FUZZ_SECONDS,
# CLANG (default clang), OVS_SSH_TAP_ENV, FUZZ_KEEP=1 (keep the scratch
# directory with the grown corpus and the full log).
#
# Exit status: 0 pass, 1 fail, 77 skip.

here=$(cd "$(dirname "$0")" && pwd)
: "${FUZZ_SECONDS:=60}"
: "${CLANG:=clang}"

# Source and build trees: from tests/env.sh if there is one.
if [ -z "${OVS_SSH_TAP_ENV:-}" ]; then
    if [ -f "$PWD/tests/env.sh" ]; then
        OVS_SSH_TAP_ENV=$PWD/tests/env.sh
    elif [ -f "$here/env.sh" ]; then
        OVS_SSH_TAP_ENV=$here/env.sh
    fi
fi
builddir=''
srcdir=''
if [ -n "${OVS_SSH_TAP_ENV:-}" ] && [ -r "$OVS_SSH_TAP_ENV" ]; then
    # shellcheck disable=SC1090
    builddir=$(. "$OVS_SSH_TAP_ENV" >/dev/null 2>&1; echo "${abs_top_builddir:-}")
    # shellcheck disable=SC1090
    srcdir=$(. "$OVS_SSH_TAP_ENV" >/dev/null 2>&1; echo "${abs_top_srcdir:-}")
fi
: "${srcdir:=$(dirname "$here")}"
: "${builddir:=$PWD}"

log() { printf '%s\n' "$*" >&2; }

case $FUZZ_SECONDS in
    '' | *[!0-9]*) echo "FAIL: fuzz: FUZZ_SECONDS='$FUZZ_SECONDS' is not a number of seconds"; exit 1 ;;
esac

W=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX") || exit 2
# shellcheck disable=SC2317
cleanup() {
    if [ "${FUZZ_KEEP:-0}" = 1 ]; then
        log "fuzz: kept $W"
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Is there a clang that links libFuzzer (Debian: clang, libclang-rt-14-dev)?
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void) d; (void) n; return 0; }' \
    > "$W/probe.c"
if ! command -v "$CLANG" >/dev/null 2>&1 \
        || ! "$CLANG" -fsanitize=fuzzer,address,undefined -o "$W/probe" \
             "$W/probe.c" >"$W/probe.log" 2>&1; then
    [ -f "$W/probe.log" ] && cat "$W/probe.log" >&2
    echo "SKIP: fuzz: clang with libFuzzer not available"
    exit 77
fi

# Build: the Makefile's fuzz-proto command, with undefined behaviour made
# fatal (by default UBSan reports and carries on, and libFuzzer would not
# notice).
bin=$builddir/tests/fuzz-proto
mkdir -p "$builddir/tests"
log "fuzz: building $bin"
if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -I"$srcdir/plugin" -o "$bin" \
        "$srcdir/tests/fuzz-proto.c" "$srcdir/plugin/ssh-tap-proto.c" \
        "$srcdir/plugin/ssh-tap-link.c" >&2; then
    echo "FAIL: fuzz: building tests/fuzz-proto failed"
    exit 1
fi

# A copy of the seeds: libFuzzer adds new inputs to its first directory.
seeds=$srcdir/tests/fuzz-corpus/proto
if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
    echo "FAIL: fuzz: no seed corpus in $seeds"
    exit 1
fi
mkdir -p "$W/corpus" "$W/artifacts"
cp -p "$seeds"/* "$W/corpus/" || exit 2
nseeds=$(find "$W/corpus" -type f | wc -l)

log "fuzz: running the proto decoder for ${FUZZ_SECONDS}s on $nseeds seeds"
(cd "$W" && exec timeout --foreground -k 10 $((FUZZ_SECONDS + 120)) "$bin" \
    -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$W/artifacts/" "$W/corpus") \
    >"$W/fuzz.log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$W/fuzz.log" | tail -n 1)
if [ -z "$execs" ]; then
    execs=$(grep -oE '^#[0-9]+' "$W/fuzz.log" | tail -n 1 | tr -d '#')
fi
: "${execs:=0}"
corpus_now=$(find "$W/corpus" -type f | wc -l)
log "fuzz: exit status $rc, $execs execs, corpus $nseeds -> $corpus_now inputs"
grep -E '^(INFO: Seed|#[0-9]+[[:space:]]+(INITED|DONE))' "$W/fuzz.log" >&2

artifact=$(find "$W/artifacts" -type f | head -n 1)
if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    echo "PASS: fuzz: proto decoder ${FUZZ_SECONDS}s ($execs execs)"
    exit 0
fi

# Failure: keep the input, say what it was.
tail -n 60 "$W/fuzz.log" >&2
what="exit status $rc"
summary=$(grep -m1 -E '^SUMMARY: ' "$W/fuzz.log")
[ -n "$summary" ] || summary=$(grep -m1 -E 'ERROR: |runtime error: ' "$W/fuzz.log")
if [ -n "$artifact" ]; then
    case ${artifact##*/} in
        crash-*) what=crash ;;
        leak-*) what=leak ;;
        timeout-*) what=timeout ;;
        oom-*) what="out of memory" ;;
        slow-unit-*) what="slow input" ;;
    esac
    mkdir -p "$builddir/tests/fuzz-artifacts"
    cp "$artifact" "$builddir/tests/fuzz-artifacts/" \
        && artifact=$builddir/tests/fuzz-artifacts/${artifact##*/}
    echo "FAIL: fuzz: proto decoder: $what after $execs execs; input kept in $artifact: ${summary:-see the log}"
else
    echo "FAIL: fuzz: proto decoder: $what after $execs execs, no input saved: ${summary:-see the log}"
fi
exit 1
