#!/bin/bash
# Upcall tracing cost in instructions, which unlike time is repeatable on a
# shared machine: valgrind's callgrind counts the instructions that
# ovs-vswitchd executes in upcall_cb(), the userspace datapath's flow miss
# callback in ofproto-dpif-upcall.c (translation, udpif_key creation and
# installation, and upcall tracing), over PACKETS upcalls (every packet a
# new flow, megaflows disabled), in these setups:
#
#   base        the unpatched base (BASE_BUILD)
#   base-again  the same again: the A/A control
#   disabled    the series (NEW_BUILD), tracing disabled
#   nomatch     tracing enabled with a filter that no packet matches
#   match       tracing enabled, every upcall traced (64-trace ring)
#
# Prints the median over RUNS daemons of the instructions per upcall, its
# ratio to base, and the spread.
#
# Usage: upcall-callgrind.sh [BASE_BUILD [NEW_BUILD]]
#   environment: PACKETS (default 2000), RUNS (default 3), BENCH_DIR
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
base_build=${1:-$top/build/ovs-base}
new_build=${2:-$top/build/ovs}
packets=${PACKETS:-2000}
runs=${RUNS:-3}
dir=${BENCH_DIR:-/tmp/bench-upcall-callgrind}

die() { echo "upcall-callgrind.sh: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind missing (make deps)"
for b in "$base_build" "$new_build"; do
    [ -x "$b/vswitchd/ovs-vswitchd" ] || die "$b: no ovs-vswitchd"
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

"$top/scripts/bench/udp-frames.py" 0 "$packets" > "$dir/packets.txt"

# The main thread's upcall count, from pmd-stats-show.
main_upcalls() {
    appctl dpif-netdev/pmd-stats-show | \
        sed -n '/^main thread:/,$s/.*miss with success upcall: *\([0-9]*\).*/\1/p'
}

# run_one NAME BUILD MODE: prints the instructions per upcall, and leaves
# callgrind's profile in BENCH_DIR/callgrind.NAME.out.
run_one() {
    local name=$1 build=$2 mode=$3 n=0 batch
    local out=$dir/callgrind.$name.out
    OVS_BUILD=$build
    # shellcheck source=/dev/null
    source "$top/scripts/sandbox.sh"
    rm -f "$out"
    SANDBOX_WRAPPER="valgrind --tool=callgrind --collect-atstart=no
                     --toggle-collect=upcall_cb --callgrind-out-file=$out" \
        sandbox_start "$dir/sb" >/dev/null 2>&1 \
        || die "ovs-vswitchd did not start under valgrind (see $dir/sb)"
    # A uprobe left in this binary by a BPF tool traps under valgrind.
    appctl version >/dev/null 2>&1 \
        || die "ovs-vswitchd died under valgrind (see $dir/sb/wrapper.log)"
    vsctl set Open_vSwitch . other_config:max-idle=600000
    # A dummy port that the main thread polls, so that the upcalls run in
    # the main thread, one at a time.
    vsctl add-br br0 -- set bridge br0 datapath_type=dummy \
        -- add-port br0 p1 -- set Interface p1 type=dummy ofport_request=1 \
        -- add-port br0 p2 -- set Interface p2 type=dummy ofport_request=2
    ofctl add-flow br0 'priority=10,ip,actions=output:2'
    appctl upcall/disable-megaflows >/dev/null
    case $mode in
        nomatch) appctl upcall/trace/create br0 \
                     'udp,nw_src=192.168.0.1,tp_dst=7' >/dev/null ;;
        match) appctl upcall/trace/create br0 '' 64 >/dev/null ;;
    esac
    while read -r batch; do
        # shellcheck disable=SC2086
        appctl netdev-dummy/receive p1 $batch
        n=$((n + $(wc -w <<< "$batch")))
        while [ "$(main_upcalls)" -lt "$n" ]; do
            sleep 0.05
        done
    done < "$dir/packets.txt"
    [ "$(main_upcalls)" = "$n" ] || die "$(main_upcalls) upcalls, not $n"
    sandbox_stop
    while kill -0 "$SANDBOX_PID" 2>/dev/null; do
        sleep 0.2
    done
    local ir
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out")
    [ -n "$ir" ] || die "no callgrind summary in $out"
    echo "$ir $n" | awk '{ printf "%.1f\n", $1 / $2 }'
}

setups="base:$base_build:disabled base-again:$base_build:disabled
        disabled:$new_build:disabled nomatch:$new_build:nomatch
        match:$new_build:match"
# Interleave the setups, run after run.  What varies from one daemon to the
# next is hashing (random secrets, hence cmap probes) and calls made on a
# timer: about 0.1%, hence the median of RUNS daemons.
declare -A results
for r in $(seq "$runs"); do
    for setup in $setups; do
        name=${setup%%:*}
        rest=${setup#*:}
        results[$name]+="$(run_one "$name.$r" "${rest%:*}" "${rest##*:}") "
    done
done

printf '%-11s %9s %14s %10s %18s\n' setup upcalls 'instr/upcall' \
    'vs base' "min-max of $runs"
base_ir=
for setup in $setups; do
    name=${setup%%:*}
    # shellcheck disable=SC2086
    sorted=$(printf '%s\n' ${results[$name]} | sort -g)
    ir=$(sed -n "$(( (runs + 1) / 2 ))p" <<< "$sorted")
    [ -n "$base_ir" ] || base_ir=$ir
    printf '%-11s %9d %14.1f %10.4f %8.1f-%-9.1f\n' "$name" "$packets" \
        "$ir" "$(echo "$ir / $base_ir" | bc -l)" \
        "$(head -n1 <<< "$sorted")" "$(tail -n1 <<< "$sorted")"
done
