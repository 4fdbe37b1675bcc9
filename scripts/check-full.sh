#!/bin/bash
# make check-full: the whole Open vSwitch testsuite on the unpatched base
# (build/ovs-base) and on the patched tree (build/ovs), compared test by
# test.  Fails only for a test that passes on the base and fails with the
# series; a test that fails on both is reported, not hidden.
#
# About 80 minutes on 2 cores.  TESTSUITEFLAGS adds testsuite options.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(( $(nproc) + 1 ))
out=$top/build/check-full
mkdir -p "$out"

BASE=yes "$top/scripts/build.sh" || exit 1

# Runs the whole testsuite in tree $1 and writes "STATUS<TAB>TITLE" lines,
# sorted by title, to $2.
run() {
    local tree=$1 results=$2
    make -s -C "$tree" check TESTSUITEFLAGS="-j$jobs ${TESTSUITEFLAGS:-}" \
        > "$results.log" 2>&1
    sed -n 's/^ *[0-9]*: \(.*[^ ]\) *  *\(ok\|skipped\|FAILED\|expected failure\)\( (.*)\)\{0,1\}$/\2\t\1/p' \
        "$results.log" | sort -t "$(printf '\t')" -k2 > "$results"
    echo "$tree: $(cut -f1 "$results" | sort | uniq -c | tr '\n' ' ')"
}

run "$top/build/ovs-base" "$out/base.txt"
run "$top/build/ovs" "$out/patched.txt"

# Tests that pass on the base and do not pass with the series.
regressions=$(join -t "$(printf '\t')" -1 2 -2 2 \
                  <(grep -P '^ok\t' "$out/base.txt") \
                  <(grep -vP '^ok\t' "$out/patched.txt") | cut -f1)
base_failures=$(grep -P '^FAILED\t' "$out/base.txt" | cut -f2)

if [ -n "$base_failures" ]; then
    printf '\nFailing on the unpatched base too:\n%s\n' "$base_failures"
fi
n_ok=$(grep -cP '^ok\t' "$out/patched.txt")
n_skip=$(grep -cP '^skipped\t' "$out/patched.txt")
n_reg=$(printf '%s' "$regressions" | grep -c . || true)
if [ -n "$regressions" ]; then
    printf '\nPass on the base, fail with the series:\n%s\n' "$regressions"
fi
echo
echo "check-full: $n_ok passed, $n_reg failed, $n_skip skipped"
[ -z "$regressions" ]
