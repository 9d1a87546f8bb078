#!/bin/bash
# Copyright (c) 2026 The ovs-ssh-tap authors.  Apache License 2.0.
#
# The utilities link both jansson (shared) and libopenvswitch (static), and
# both define some json_* functions (json_object, json_equal...).  Whichever
# the linker meets first silently wins for every caller, and the other
# library's callers then get a function of the same name but another type.
# The build links a copy of libopenvswitch.a renamed by
# utilities/ovs-json.syms; this test fails if a clash comes back:
#
#   - the renamed archive defines no symbol that libjansson exports;
#   - no symbol libjansson exports is defined inside the utilities;
#   - our own objects built on OVS's headers and linked into the utilities
#     (the ssh: stream, the provider library) call none of OVS's json_*
#     functions by their old names, which would now reach jansson.
#
# usage: tests/json-symbols.sh     (run from the build tree, or with
#                                   OVS_SSH_TAP_ENV naming its tests/env.sh)
# Exit status: 0 pass, 1 fail, 77 skip.

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${OVS_SSH_TAP_ENV:-}" ]; then
    if [ -f "$PWD/tests/env.sh" ]; then
        OVS_SSH_TAP_ENV=$PWD/tests/env.sh
    elif [ -f "$here/env.sh" ]; then
        OVS_SSH_TAP_ENV=$here/env.sh
    fi
fi
if [ -z "${OVS_SSH_TAP_ENV:-}" ] || [ ! -r "$OVS_SSH_TAP_ENV" ]; then
    echo "SKIP: json-symbols: no tests/env.sh (run from the build tree)"
    exit 77
fi
# shellcheck disable=SC1090
. "$OVS_SSH_TAP_ENV"
b=$abs_top_builddir
: "${NM:=nm}"

status=0
pass() { echo "PASS: json-symbols: $*"; }
fail() { echo "FAIL: json-symbols: $*"; status=1; }

# defined FILE...: the global symbols FILE defines, one a line, sorted.
defined() {
    "$NM" --defined-only "$@" 2>/dev/null \
        | awk 'NF == 3 && $2 ~ /^[BDGRSTVWiu]$/ { print $3 }' | sort -u
}

progs="$b/utilities/ovs-ssh-tap-sync $b/utilities/ovs-ssh-tap-ctl"
for p in $progs; do
    if [ ! -x "$p" ]; then
        fail "$p not built"
        exit 1
    fi
done

# The jansson the utilities really load.
jansson=$(ldd "$b/utilities/ovs-ssh-tap-ctl" | awk '/libjansson/ { print $3 }')
if [ -z "$jansson" ] || [ ! -r "$jansson" ]; then
    fail "ovs-ssh-tap-ctl does not load libjansson (ldd)"
    exit 1
fi
jexports=$(mktemp) || exit 1
trap 'rm -f "$jexports"' EXIT
"$NM" -D --defined-only "$jansson" | awk 'NF == 3 { sub(/@.*/, "", $3); print $3 }' \
    | sort -u > "$jexports"
if ! grep -qx json_object "$jexports"; then
    fail "cannot read the symbols of $jansson"
    exit 1
fi

# The method finds the clash where it exists: OVS's own archive.
n=$(defined "$OVS_BUILDDIR/lib/.libs/libopenvswitch.a" | comm -12 - "$jexports" | wc -l)
echo "# libopenvswitch.a of OVS $OVS_VERSION defines $n of libjansson's symbols"

clash=$(defined "$b/utilities/libopenvswitch-jansson.a" | comm -12 - "$jexports")
if [ -n "$clash" ]; then
    fail "utilities/libopenvswitch-jansson.a still defines:" $clash \
         "(add them to utilities/ovs-json.syms)"
else
    pass "renamed libopenvswitch.a defines none of libjansson's symbols"
fi

for p in $progs; do
    clash=$(defined "$p" | comm -12 - "$jexports")
    if [ -n "$clash" ]; then
        fail "$(basename "$p") defines libjansson's" $clash
    elif ! "$NM" -D --undefined-only "$p" | grep -qw json_object; then
        fail "$(basename "$p") does not take json_object from libjansson"
    else
        pass "$(basename "$p") takes its json_* from libjansson only"
    fi
done

# Our OVS-side objects must not call the renamed functions by old names.
renamed=$(awk '!/^#/ && NF == 2 { print $1 }' "$abs_top_srcdir/utilities/ovs-json.syms" | sort -u)
for a in "$b/utilities/libsshtap-stream.a" "$b/plugin/libsshtap.a"; do
    used=$("$NM" --undefined-only "$a" 2>/dev/null | awk '{ print $NF }' \
           | sort -u | comm -12 - <(echo "$renamed"))
    if [ -n "$used" ]; then
        fail "$(basename "$a") calls OVS's" $used \
             "which resolve to libjansson here"
    else
        pass "$(basename "$a") calls none of the renamed OVS functions"
    fi
done
exit $status
