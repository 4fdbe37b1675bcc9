#!/bin/bash
# Upcall tracing: how long the main thread holds the tracer's mutex, and a
# PMD thread waits for it, while the main thread runs "upcall/trace/get" on
# a full trace (64 kB of translation text) and "upcall/trace/delete" on
# 1,024 traces.
#
# A PMD thread translates a steady stream of traced upcalls (megaflows
# disabled, every packet a new trace), so it takes the mutex once per
# upcall.  bpftrace times ovs_mutex_lock_at() in the PMD thread for the
# tracer's mutex (the caller's source location is in
# ofproto-dpif-upcall-trace.c); the uprobe itself adds about 1-2 us.
# Prints, for each command, the longest time the main thread held the mutex
# (what a PMD thread may have to wait for), the longest time another thread
# (a revalidator, with its verdicts) held it, the longest wait of the PMD
# thread, and how many of its waits took 50 us or more.  The waits depend on
# whether the PMD thread tried to take the mutex while it was held, and on
# preemption: on a busy machine, a thread preempted while it holds the
# mutex makes the others wait for a scheduler tick (4 ms).
#
# Usage: upcall-trace-lock.sh [BUILD [VSWITCHD]]
#   BUILD (default build/ovs) has the tools and the schema; VSWITCHD
#   (default BUILD/vswitchd/ovs-vswitchd) is the daemon measured, so that
#   an older binary can be measured with the same script.
#   environment: ROUNDS (default 5), BENCH_DIR
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
OVS_BUILD=${1:-$top/build/ovs}
vswitchd=${2:-$OVS_BUILD/vswitchd/ovs-vswitchd}
rounds=${ROUNDS:-5}
dir=${BENCH_DIR:-/tmp/bench-upcall-trace-lock}
# shellcheck source=/dev/null
source "$top/scripts/sandbox.sh"

die() { echo "upcall-trace-lock.sh: $*" >&2; exit 1; }
[ -x "$vswitchd" ] || die "$vswitchd: not found"
command -v bpftrace >/dev/null || die "bpftrace missing (make deps)"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

packets() {
    "$top/scripts/bench/udp-frames.py" "$@"
}

# The "full" trace: two rules of 1,200 actions each (one OpenFlow message
# holds fewer than 2,400) print more than the 64 kB that a trace keeps.
loads() { for _ in $(seq 1200); do printf 'load:1->NXM_NX_REG0[],'; done; }
{
    echo "priority=20,ip,nw_dst=10.0.0.3,actions=$(loads)resubmit(,1)"
    echo "table=1,actions=$(loads)output:2"
    echo 'priority=10,ip,actions=output:2'
} > "$dir/flows.txt"

SANDBOX_VSWITCHD=$vswitchd sandbox_start "$dir/sb" --dummy-numa=0,0
trap 'sandbox_stop; [ -z "${bt_pid:-}" ] || kill "$bt_pid" 2>/dev/null || true' EXIT

# No revalidation round during the measurement (a revalidator would add its
# verdicts on the traced flows, under the same mutex): what the PMD thread
# waits for is the main thread.
vsctl set Open_vSwitch . other_config:max-idle=600000 \
    other_config:max-revalidator=600000 other_config:flow-limit=200000
vsctl add-br br0 -- set bridge br0 datapath_type=dummy \
    -- add-port br0 p1 -- set Interface p1 type=dummy-pmd ofport_request=1 \
    -- add-port br0 p2 -- set Interface p2 type=dummy ofport_request=2
ofctl add-flows br0 "$dir/flows.txt"
appctl upcall/disable-megaflows >/dev/null

# Times ovs_mutex_lock_at() in PMD threads for the tracer's mutex (@max,
# in ns, @n, @over50us), and how long each other thread holds that mutex,
# from the return of ovs_mutex_lock_at() to ovs_mutex_unlock() (@hold, by
# thread name), until SIGINT.
cat > "$dir/wait.bt" <<EOF
uprobe:$vswitchd:ovs_mutex_lock_at
/strncmp(str(arg1), "ofproto/ofproto-dpif-upcall-trace", 33) == 0/
{
    if (strncmp(comm, "pmd-", 4) == 0) {
        @start[tid] = nsecs;
    } else {
        @mutex[tid] = arg0;
    }
}

uretprobe:$vswitchd:ovs_mutex_lock_at
/@start[tid]/
{
    \$wait = nsecs - @start[tid];
    @max = max(\$wait);
    @n = count();
    if (\$wait >= 50000) {
        @over50us = count();
    }
    delete(@start[tid]);
}

uretprobe:$vswitchd:ovs_mutex_lock_at
/@mutex[tid]/
{
    @locked[tid] = nsecs;
}

uprobe:$vswitchd:ovs_mutex_unlock
/@locked[tid] && arg0 == @mutex[tid]/
{
    @hold[comm] = max(nsecs - @locked[tid]);
    delete(@locked[tid]);
    delete(@mutex[tid]);
}

END
{
    clear(@start);
    clear(@mutex);
    clear(@locked);
}
EOF

# Waits until the PMD has made N upcalls in all (every packet is a new
# flow, hence one upcall).
received=0
wait_pmd() {
    local want=$1
    while [ "$(appctl dpif-netdev/pmd-stats-show | \
               sed -n 's/.*miss with success upcall: *\([0-9]*\).*/\1/p' | \
               head -n1)" -lt "$want" ]; do
        sleep 0.01
    done
}
send() {
    # shellcheck disable=SC2086
    appctl netdev-dummy/receive p1 $1
    received=$((received + $(wc -w <<< "$1")))
}

# measure get|delete: one bpftrace run over ROUNDS rounds of the command.
measure() {
    local what=$1 r id max n over hold others next
    # Numbers of the frames of this measurement, never sent before.
    case $what in get) next=1000000 ;; delete) next=2000000 ;; esac
    bpftrace -e "$(cat "$dir/wait.bt")" > "$dir/$what.out" 2>/dev/null &
    bt_pid=$!
    sleep 2
    for r in $(seq "$rounds"); do
        appctl upcall/trace/delete >/dev/null 2>&1 || true
        appctl upcall/trace/create br0 '' 1024 >/dev/null
        # The full trace first.
        send "$(packets "$next" 1 3)"
        next=$((next + 1))
        wait_pmd $received
        id=$(appctl upcall/trace/list | head -n1 | cut -d' ' -f1)
        case $what in
            get)
                # 9 batches of 100 new traces, two gets of the full trace
                # while the PMD translates each batch.
                for _ in $(seq 9); do
                    send "$(packets $next 100)"
                    next=$((next + 100))
                    appctl upcall/trace/get "$id" > /dev/null
                    appctl upcall/trace/get "$id" > /dev/null
                    wait_pmd $received
                done
                ;;
            delete)
                # 1,023 more traces, then delete all while the PMD
                # translates one more batch.
                packets $next 1023 > "$dir/batches"
                next=$((next + 1023))
                while read -r batch; do
                    send "$batch"
                    wait_pmd $received
                done < "$dir/batches"
                send "$(packets $next 100)"
                next=$((next + 100))
                appctl upcall/trace/delete > /dev/null
                wait_pmd $received
                ;;
        esac
    done
    kill -INT $bt_pid
    wait $bt_pid || true
    bt_pid=
    max=$(sed -n 's/^@max: //p' "$dir/$what.out")
    n=$(sed -n 's/^@n: //p' "$dir/$what.out")
    over=$(sed -n 's/^@over50us: //p' "$dir/$what.out")
    hold=$(sed -n 's/^@hold\[ovs-vswitchd\]: //p' "$dir/$what.out")
    others=$(sed -n '/^@hold\[ovs-vswitchd\]/d; s/^@hold\[.*\]: //p' \
             "$dir/$what.out" | sort -n | tail -n1)
    printf '%-7s held by main %7.1f us, others %7.1f us;' "$what" \
        "$(echo "${hold:-0} / 1000" | bc -l)" \
        "$(echo "${others:-0} / 1000" | bc -l)"
    printf ' PMD waits %7.1f us, %d of %d >= 50 us\n' \
        "$(echo "${max:-0} / 1000" | bc -l)" "${over:-0}" "${n:-0}"
}

echo "upcall tracing: PMD waits for the tracer's mutex ($vswitchd)"
measure get
measure delete
