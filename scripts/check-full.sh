#!/bin/bash
# make check-full: the whole Open vSwitch testsuite on the unpatched base
# (build/ovs-base) and on the patched tree (build/ovs), compared test by
# test.  Fails for a test that passes on the base and not with the series,
# and for a test that only the series has (ours) that does not pass; a test
# that fails on both is reported, not hidden.
#
# On both sides, as in make check: a testsuite that does not build, aborts
# or leaves a selected test without a result fails; a failed test is rerun
# once (as OVS's RECHECK=yes does) and every rerun is listed; a test of ours
# that needs the rerun fails.
#
# About 80 minutes on 2 cores.  TESTSUITEFLAGS adds testsuite options.
#
# With --kernel (make check-kernel-vm), the same on the kernel datapath:
# the tests of tests/system-kmod-testsuite that scripts/kernel-subset.txt
# names, in the qemu guest of scripts/vm.sh (Debian's 6.1 kernel and its
# openvswitch module), one at a time.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
ovs=$top/build/ovs
# shellcheck source=scripts/lib-check.sh
. "$top/scripts/lib-check.sh"
label=check-full
if [ "${1:-}" = --kernel ]; then
    label=check-kernel-vm
    ts_suite=system-kmod-testsuite
fi
out=$top/build/$label
mkdir -p "$out"

BASE=yes "$top/scripts/build.sh" || exit 1

# selection TREE: the numbers of the tests to run in TREE: all of them, or
# with --kernel those named in scripts/kernel-subset.txt (a title that
# names no test, or several, is a failure).
selection() {
    local tree=$1 title nums
    [ "$label" = check-full ] && return 0
    make -s -C "$tree" "tests/$ts_suite" > /dev/null || return 1
    (cd "$tree/tests" && AUTOTEST_PATH=x "./$ts_suite" -l) > "$out/list.txt"
    while read -r title; do
        case $title in '#'*|'') continue ;; esac
        nums=$(awk -v t="$title" '/^ *[0-9]+: / {
                   n = $1; sub(/:$/, "", n)
                   s = $0; sub(/^ *[0-9]+: +[^ ]+ +/, "", s); sub(/ +$/, "", s)
                   if (s == t) print n }' "$out/list.txt")
        if [ "$(echo "$nums" | wc -w)" != 1 ]; then
            echo "$tree: \"$title\" names $(echo "$nums" | wc -w) tests" >&2
            return 1
        fi
        echo "$nums"
    done < "$top/scripts/kernel-subset.txt" | tr '\n' ' '
}

# full TREE SIDE: the whole testsuite in TREE; writes one line per test,
# "FILE<TAB>TITLE<TAB>N<TAB>RESULT<TAB>WHY", sorted, to $out/SIDE.txt (N
# tells apart the tests of one file with the same title; RESULT is ok,
# skipped or FAILED, after the rerun).
full() {
    local tree=$1 side=$2 num file title ours probe first again v
    note "$ts_suite, $side ($tree)"
    : > "$out/$side.txt"
    sel=$(selection "$tree") || {
        record "$side: cannot select the tests of $ts_suite" 1
        return 1
    }
    # shellcheck disable=SC2086
    ts_run "$tree" "$label-$side" probes $sel || return 1
    while IFS=$'\t' read -r num file title ours probe first again; do
        v=$(ts_verdict "$num" "$file" "$title" "$ours" "$probe" "$first" \
                       "$again" probes)
        case $v in
        pass) echo "$file	$title	ok	-" ;;
        skip) echo "$file	$title	skipped	-" ;;
        rerun)
            reruns="$reruns$nl  $side: $num: $title ($file)"
            echo "$file	$title	ok	passed on the rerun" ;;
        *) echo "$file	$title	FAILED	${v#*	}" ;;
        esac
    done < "$ts_results" > "$out/$side.raw"
    awk -F '\t' -v OFS='\t' '{ print $1, $2, ++n[$1 FS $2], $3, $4 }' \
        "$out/$side.raw" > "$out/$side.txt"
    echo "$side: $(cut -f4 "$out/$side.txt" | csort | uniq -c | tr '\n' ' ')"
}

full "$top/build/ovs-base" base
full "$ovs" patched

tab=$(printf '\t')
key() { awk -F '\t' -v OFS='\t' '{ print $1 " / " $2 " #" $3, $4, $5 }' "$1" |
        csort -t "$tab" -k1,1; }
# Each test of the patched tree, joined to the base ("-" when new).
cjoin -t "$tab" -a1 -e - -o 0,1.2,1.3,2.2 <(key "$out/patched.txt") \
    <(key "$out/base.txt") > "$out/compared.txt"
while IFS=$'\t' read -r name result why base; do
    name=${name% #1}
    case $result:$base in
    ok:*) record "$name" 0 ;;
    skipped:*) record "$name" 77 ;;
    FAILED:ok) record "$name: passes on the base, fails with the series${why:+ ($why)}" 1 ;;
    FAILED:skipped) record "$name: skips on the base, fails with the series${why:+ ($why)}" 1 ;;
    FAILED:-) record "$name: new with the series, and fails${why:+ ($why)}" 1 ;;
    FAILED:*) both_fail="${both_fail:-}$nl  $name" ;;
    esac
done < "$out/compared.txt"
# Tests of the base that the series dropped.
dropped=$(cjoin -t "$tab" -v2 <(key "$out/patched.txt") \
              <(key "$out/base.txt") | cut -f1)
if [ -n "$dropped" ]; then
    echo "$dropped" | head -n 20
    record "$(echo "$dropped" | wc -l) test(s) of the base are gone with the series" 1
fi
base_fail=$(key "$out/base.txt" | awk -F '\t' '$2 == "FAILED" {
               sub(/ #1$/, "", $1); print "  " $1 " (" $3 ")" }')
if [ -n "$base_fail" ]; then
    printf '\nFailing on the unpatched base:\n%s\n' "$base_fail"
fi
if [ -n "${both_fail:-}" ]; then
    printf '\nFailing on the base and with the series (not counted):%s\n' \
        "$both_fail"
fi
echo
echo "$label took $(elapsed)"
summary "$label"
