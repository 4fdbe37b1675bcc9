#!/bin/bash
# Upcall tracing cost: upcalls per second of ovs-vswitchd (userspace
# datapath, dummy-pmd port) in four setups:
#
#   base       the unpatched base, without upcall tracing (BASE_BUILD)
#   disabled   the build with upcall tracing (NEW_BUILD), tracing disabled
#   nomatch    tracing enabled with a filter that no packet matches
#   match      tracing enabled, every upcall traced (64-trace ring)
#
# Every packet is a new flow (megaflows disabled), so every packet is an
# upcall.  The PMD thread measures its own TSC cycles per packet
# (pmd-perf-metrics), so the appctl calls that inject the packets do not
# count.  Prints the median of RUNS runs per setup, and its ratio to base.
#
# Usage: upcall-trace.sh [BASE_BUILD [NEW_BUILD]]
#   environment: PACKETS (default 5000), RUNS (default 3), BENCH_DIR
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
base_build=${1:-$top/build/ovs-base}
new_build=${2:-$top/build/ovs}
packets=${PACKETS:-5000}
runs=${RUNS:-3}
dir=${BENCH_DIR:-/tmp/bench-upcall-trace}
sandbox=$top/scripts/sandbox.sh

mkdir -p "$dir"
"$top/scripts/bench/udp-frames.py" 0 "$packets" > "$dir/packets.txt"

run_one() {
    local build=$1 mode=$2
    OVS_BUILD=$build
    # shellcheck source=/dev/null
    source "$sandbox"
    sandbox_start "$dir/sb" --dummy-numa=0,0 >/dev/null 2>&1
    vsctl set Open_vSwitch . other_config:pmd-perf-metrics=true \
        other_config:max-idle=600000 other_config:flow-limit=200000
    vsctl add-br br0 -- set bridge br0 datapath_type=dummy \
        -- add-port br0 p1 -- set Interface p1 type=dummy-pmd \
           ofport_request=1 \
        -- add-port br0 p2 -- set Interface p2 type=dummy ofport_request=2
    ofctl add-flow br0 'priority=10,ip,actions=output:2'
    appctl upcall/disable-megaflows >/dev/null
    case $mode in
        nomatch) appctl upcall/trace/create br0 \
                     'udp,nw_src=192.168.0.1,tp_dst=7' >/dev/null ;;
        match) appctl upcall/trace/create br0 '' 64 >/dev/null ;;
    esac
    appctl dpif-netdev/pmd-stats-clear >/dev/null
    while read -r batch; do
        # shellcheck disable=SC2086
        appctl netdev-dummy/receive p1 $batch
        # Let the PMD drain the queue before the next batch.
        while [ "$(appctl dpif-netdev/pmd-stats-show | \
                   sed -n 's/.*packets received: *\([0-9]*\).*/\1/p' | \
                   head -n1)" -lt "$(( ${n:-0} + $(wc -w <<< "$batch") ))" ]
        do
            sleep 0.005
        done
        n=$(( ${n:-0} + $(wc -w <<< "$batch") ))
    done < "$dir/packets.txt"
    n=0
    # The PMD counts the TSC cycles it spends per received packet (here,
    # per upcall); the TSC rate is its used cycles over the measurement
    # duration.
    appctl dpif-netdev/pmd-perf-show > "$dir/perf.txt"
    local upcalls cycles used secs
    upcalls=$(sed -n 's/.*- Upcalls: *\([0-9]*\) .*/\1/p' "$dir/perf.txt")
    cycles=$(sed -n 's/.*Rx packets:.* \([0-9]*\) cycles\/pkt.*/\1/p' \
             "$dir/perf.txt")
    used=$(sed -n 's/.*Used TSC cycles: *\([0-9]*\) .*/\1/p' "$dir/perf.txt")
    secs=$(sed -n 's/^Measurement duration: *\([0-9.]*\) s/\1/p' \
           "$dir/perf.txt")
    echo "$upcalls $(echo "$used / $secs / $cycles" | bc -l)"
    sandbox_stop
    sleep 0.5
}

setups="base:$base_build:disabled disabled:$new_build:disabled
        nomatch:$new_build:nomatch match:$new_build:match"
# Interleave the setups, run after run, so that a change in the load of the
# machine hits all of them alike.
declare -A results
for _ in $(seq "$runs"); do
    for setup in $setups; do
        name=${setup%%:*}
        rest=${setup#*:}
        results[$name]+="$(run_one "${rest%:*}" "${rest##*:}")
"
    done
done

printf '%-9s %9s %14s %12s\n' setup upcalls 'upcalls/s' 'vs base'
for setup in $setups; do
    name=${setup%%:*}
    median=$(printf '%s' "${results[$name]}" | sort -k2 -g | \
             sed -n "$(( (runs + 1) / 2 ))p")
    upcalls=${median% *}
    rate=${median#* }
    [ "$name" = base ] && base_rate=$rate
    printf '%-9s %9s %14.0f %11.1f%%\n' "$name" "$upcalls" "$rate" \
        "$(echo "100 * $rate / $base_rate" | bc -l)"
done
