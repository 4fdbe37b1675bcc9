#!/bin/bash
# make bench: measures what the flow lifecycle probes and the tools cost,
# against the unpatched base built the same way, pair by pair, on the dummy
# (userspace) datapath.  Not part of "make check".
#
#   make bench            full run (N = 10k, 50k, 100k; growth to 1M)
#   make bench QUICK=1    smoke run (small N, every part)
#
# Environment: QUICK=1 as above; BENCH_N=10000,20000 other flow counts;
# BENCH_PARTS=idle,control,event,startup,callgrind,upcall-cg,growth,floor
# a subset; BENCH_GROWTH_N=10000,1000000 the flow counts of the growth
# part, BENCH_GROWTH_CG_MAX=100000 the largest it counts under callgrind;
# BENCH_UPDATE_DOC=no keeps the full run from rewriting the results section
# (and the plots) of bench/flow-probes-bench.rst, BENCH_UPDATE_DOC=yes has
# a partial run rewrite the blocks of the parts it measured.
# UPSTREAM_MONITOR=path/to/flow_reval_monitor.py (upstream's, OVS >= 3.4)
# measures it too, next to our tools (see scripts/bench/upstream.py for what
# the bench changes in it to run it).
#
# Output: build/bench/results[-quick].json (raw), .rst (tables), .png and
# -growth.png (plots); build/bench/upcall-trace[-quick].txt (upcall
# tracing, upcalls per second) and upcall-trace[-quick]-lock.txt (PMD waits
# for the tracer's mutex).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
python=/usr/bin/python3     # Debian's, which has bcc, psutil, matplotlib.

die() { echo "bench.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (BPF and uprobes)"
command -v bpftrace >/dev/null || die "bpftrace missing (make deps)"
"$python" -c 'import bcc, psutil, matplotlib' 2>/dev/null \
    || die "python3-bpfcc, python3-psutil or python3-matplotlib missing (make deps)"
if [ -n "${UPSTREAM_MONITOR:-}" ]; then
    [ -f "$UPSTREAM_MONITOR" ] && [ -r "$UPSTREAM_MONITOR" ] \
        || die "UPSTREAM_MONITOR=$UPSTREAM_MONITOR: not a readable file"
    command -v gdb >/dev/null \
        || die "gdb missing (the pahole stand-in for UPSTREAM_MONITOR uses it)"
fi

# The unpatched base, configured and built exactly as build/ovs.
if [ ! -x "$top/build/ovs-base/vswitchd/ovs-vswitchd" ]; then
    echo "bench.sh: building the unpatched base into build/ovs-base"
fi
BASE=yes "$top/scripts/build.sh"
[ -x "$top/build/ovs/vswitchd/ovs-vswitchd" ] || "$top/scripts/build.sh"

args=()
if [ "${QUICK:-}" = 1 ] || [ "${QUICK:-}" = yes ]; then
    args+=(--quick)
elif [ "${BENCH_UPDATE_DOC:-}" = yes ] || { [ -z "${BENCH_UPDATE_DOC:-}" ] \
     && [ -z "${BENCH_N:-}" ] && [ -z "${BENCH_PARTS:-}" ]; }; then
    args+=(--update-doc)
fi
[ -z "${BENCH_N:-}" ] || args+=(--n "$BENCH_N")
[ -z "${BENCH_GROWTH_N:-}" ] || args+=(--growth-n "$BENCH_GROWTH_N")
[ -z "${BENCH_GROWTH_CG_MAX:-}" ] \
    || args+=(--growth-cg-max "$BENCH_GROWTH_CG_MAX")
[ -z "${BENCH_PARTS:-}" ] || args+=(--parts "$BENCH_PARTS")
[ -z "${UPSTREAM_MONITOR:-}" ] \
    || args+=(--upstream-monitor "$UPSTREAM_MONITOR")

start=$(date +%s)
"$python" "$top/scripts/bench/bench.py" "${args[@]}"

# Live upcall tracing: upcalls per second of the base, and of the patched
# tree with tracing disabled, enabled with a filter that matches nothing,
# and tracing every upcall.
if [ -z "${BENCH_PARTS:-}" ]; then
    if [ "${QUICK:-}" = 1 ] || [ "${QUICK:-}" = yes ]; then
        trace_env="PACKETS=1000 RUNS=1"
        lock_env="ROUNDS=1"
        trace_out=$top/build/bench/upcall-trace-quick.txt
    else
        trace_env="PACKETS=3000 RUNS=5"
        lock_env="ROUNDS=3"
        trace_out=$top/build/bench/upcall-trace.txt
    fi
    mkdir -p "$top/build/bench"
    env $trace_env BENCH_DIR="$top/build/bench/upcall-trace" \
        "$top/scripts/bench/upcall-trace.sh" "$top/build/ovs-base" \
        "$top/build/ovs" | tee "$trace_out"
    # How long a PMD thread waits for the tracer's mutex during get and
    # delete.  (The instructions per upcall are bench.py's part upcall-cg.)
    env $lock_env BENCH_DIR="$top/build/bench/upcall-trace-lock" \
        "$top/scripts/bench/upcall-trace-lock.sh" "$top/build/ovs" \
        | tee "${trace_out%.txt}-lock.txt"
fi
echo "bench.sh: done in $(( $(date +%s) - start )) s"
