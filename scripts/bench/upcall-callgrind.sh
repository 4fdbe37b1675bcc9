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
# Prints the median over RUNS daemons of the instructions per upcall (less
# the allocator's, whose calls per upcall are printed instead, and less what
# scripts/bench/cgrounds.py counts apart: work on timers, xport_lookup()),
# its ratio to base, and the spread.
#
# The count is the same from one daemon to the next: fixed-seed.c,
# preloaded, gives every thread the same random seed in every run (hence the
# same hash secrets and UFIDs), and setarch --addr-no-randomize the same
# addresses (hence the same pointer hashes); the packets go through one port
# and wait for each other, so they are handled in the same order.
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
cc -O2 -Wall -Werror -shared -fPIC -o "$dir/fixed-seed.so" \
    "$top/scripts/bench/fixed-seed.c" -ldl \
    || die "cannot build fixed-seed.so"

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
    # A dummy port that the main thread polls, so that the upcalls run in
    # the main thread, one at a time; in the database before the daemon
    # starts, so that the ports are made before anything that depends on
    # timing allocates memory (translations look the input port up by the
    # address of its struct ofport_dpif).  Port numbers 2 and 3 and the
    # bridge's local port each have a bucket of their own in the bridge's
    # port table, where the order within a bucket would vary.
    SANDBOX_SETUP="vsctl --no-wait \
        set Open_vSwitch . other_config:max-idle=600000 \
        -- add-br br0 -- set bridge br0 datapath_type=dummy \
        -- add-port br0 p1 -- set Interface p1 type=dummy ofport_request=2 \
        -- add-port br0 p2 -- set Interface p2 type=dummy ofport_request=3" \
    SANDBOX_WRAPPER="env LD_PRELOAD=$dir/fixed-seed.so
                     setarch $(uname -m) --addr-no-randomize
                     valgrind --tool=callgrind --collect-atstart=no
                     --toggle-collect=upcall_cb --compress-strings=no
                     --callgrind-out-file=$out" \
        sandbox_start "$dir/sb" -voff >/dev/null 2>&1 \
        || die "ovs-vswitchd did not start under valgrind (see $dir/sb)"
    # A uprobe left in this binary by a BPF tool traps under valgrind.
    appctl version >/dev/null 2>&1 \
        || die "ovs-vswitchd died under valgrind (see $dir/sb/wrapper.log)"
    local i
    for i in $(seq 300); do
        ofctl add-flow br0 'priority=10,ip,actions=output:3' 2>/dev/null \
            && break
        [ "$i" -lt 300 ] || die "bridge br0 did not come up"
        sleep 0.2
    done
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
        # Give the daemon the time to handle them before asking, so that
        # the requests and the upcalls alternate the same way in every run
        # (what a request allocates and frees changes what malloc costs).
        sleep 0.3
        while [ "$(main_upcalls)" -lt "$n" ]; do
            sleep 0.05
        done
    done < "$dir/packets.txt"
    [ "$(main_upcalls)" = "$n" ] || die "$(main_upcalls) upcalls, not $n"
    sandbox_stop
    while kill -0 "$SANDBOX_PID" 2>/dev/null; do
        sleep 0.2
    done
    # Less what upcall_cb() does on a timer (cgrounds.TIMED: the cached
    # datapath flow count, refreshed every 100 ms of wall time) and in the
    # allocator (cgrounds.ALLOC), whose cost depends on what the main thread
    # did on its timers between the upcalls; the allocator calls are
    # counted instead.  Logging, also rate-limited by the clock, is off
    # (-voff).
    local ir
    ir=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
import cgrounds
r = cgrounds.parse(sys.argv[2])
if r["ir"]:
    print(r["ir"] - r["timed"] - r["alloc"], r["alloc_calls"])' \
        "$top/scripts/bench" "$out")
    [ -n "$ir" ] || die "no callgrind summary in $out"
    echo "$ir $n" | awk '{ printf "%.1f:%.2f\n", $1 / $3, $2 / $3 }'
}

setups="base:$base_build:disabled base-again:$base_build:disabled
        disabled:$new_build:disabled nomatch:$new_build:nomatch
        match:$new_build:match"
# Interleave the setups, run after run; the median of RUNS daemons, should
# anything still vary.
declare -A results
for r in $(seq "$runs"); do
    for setup in $setups; do
        name=${setup%%:*}
        rest=${setup#*:}
        results[$name]+="$(run_one "$name.$r" "${rest%:*}" "${rest##*:}") "
    done
done

printf '%-11s %9s %14s %10s %18s %12s\n' setup upcalls 'instr/upcall' \
    'vs base' "min-max of $runs" 'allocs/upc.'
base_ir=
for setup in $setups; do
    name=${setup%%:*}
    # shellcheck disable=SC2086
    sorted=$(printf '%s\n' ${results[$name]} | sort -t: -g)
    mid=$(sed -n "$(( (runs + 1) / 2 ))p" <<< "$sorted")
    ir=${mid%:*}
    [ -n "$base_ir" ] || base_ir=$ir
    lo=$(head -n1 <<< "$sorted")
    hi=$(tail -n1 <<< "$sorted")
    printf '%-11s %9d %14.1f %10.5f %8.1f-%-9.1f %12s\n' "$name" \
        "$packets" "$ir" "$(echo "$ir / $base_ir" | bc -l)" "${lo%:*}" \
        "${hi%:*}" "${mid#*:}"
done
