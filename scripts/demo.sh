#!/bin/bash
# make demo: a sandboxed ovs-vswitchd on the userspace datapath, the tools
# attached, and a handful of flows installed, modified and deleted for
# several reasons.  Nothing is installed on the system; the daemons are
# stopped at the end.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/sandbox.sh
. "$top/scripts/sandbox.sh"
scripts=$top/build/ovs/utilities/usdt-scripts
dir=$top/build/demo
py=/usr/bin/python3
tool_pids=""

say() { printf '\n\033[1m>>> %s\033[0m\n' "$*"; }

cleanup() {
    for pid in $tool_pids; do
        kill -INT "$pid" 2>/dev/null || true
    done
    sleep 1
    for pid in $tool_pids; do
        kill -9 "$pid" 2>/dev/null || true
    done
    sandbox_stop
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (BPF needs it)" >&2; exit 1; }

say "Starting ovsdb-server and ovs-vswitchd (userspace datapath) in $dir"
sandbox_start "$dir" -vconsole:off
vsctl -- set Open_vSwitch . other_config:max-idle=2000 \
      -- add-br br0 -- set bridge br0 datapath_type=dummy fail-mode=secure \
      -- add-port br0 p1 -- set Interface p1 type=dummy ofport_request=1 \
      -- add-port br0 p2 -- set Interface p2 type=dummy ofport_request=2 \
      -- add-port br0 p3 -- set Interface p3 type=dummy ofport_request=3
ofctl add-flow br0 "priority=10,udp,actions=output:2"
ofctl add-flow br0 "priority=10,tcp,actions=output:3"
ofctl add-flow br0 "priority=5,arp,actions=output:2,output:3"
echo "ovs-vswitchd pid $SANDBOX_PID, flows idle after 2 s (max-idle=2000)"

say "Attaching watch_flows.bt and filter_probe.py"
bpftrace -p "$SANDBOX_PID" "$scripts/watch_flows.bt" \
    > "$dir/watch_flows.out" 2> "$dir/watch_flows.err" &
tool_pids="$tool_pids $!"
$py "$scripts/filter_probe.py" -p "$SANDBOX_PID" --summary \
    > "$dir/filter_probe.out" 2> "$dir/filter_probe.err" &
tool_pids="$tool_pids $!"
for f in watch_flows filter_probe; do
    for _ in $(seq 100); do
        grep -q '^ *TIME' "$dir/$f.out" 2>/dev/null && break
        sleep 0.1
    done
done
echo "  bpftrace -p $SANDBOX_PID watch_flows.bt"
echo "  python3 filter_probe.py -p $SANDBOX_PID --summary"

pkt() {   # pkt SRC-HOST-NUMBER PROTO(udp|tcp)
    local n=$1 proto=$2 num=17
    [ "$proto" = tcp ] && num=6
    printf 'in_port(1),eth(src=50:54:00:00:00:%02x,dst=50:54:00:00:00:fe),eth_type(0x0800),ipv4(src=10.0.0.%d,dst=10.0.0.254,proto=%d,tos=0,ttl=64,frag=no),%s(src=1000,dst=2000)' \
        "$n" "$n" "$num" "$proto"
}

say "Sending a UDP, a TCP and an ARP packet: three flows are installed"
appctl netdev-dummy/receive p1 "$(pkt 1 udp)"
appctl netdev-dummy/receive p1 "$(pkt 2 tcp)"
appctl netdev-dummy/receive p1 'in_port(1),eth(src=50:54:00:00:00:03,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.0.0.3,tip=10.0.0.254,op=1,sha=50:54:00:00:00:03,tha=00:00:00:00:00:00)'
appctl dpctl/dump-flows -m | cut -c1-79
appctl revalidator/wait

say "New actions for TCP (ovs-ofctl mod-flows): the TCP flow is modified"
ofctl mod-flows br0 "priority=10,tcp,actions=output:2"
appctl revalidator/wait

say "A rule on the source address: flows whose masks ignore it are too wide"
ofctl add-flow br0 "priority=20,udp,nw_src=10.0.0.1,actions=output:3"
appctl revalidator/wait
appctl revalidator/wait

say "A flow added behind OVS's back with a recirculation ID: unexpected"
appctl dpctl/add-flow "recirc_id(0x7),in_port(1),eth_type(0x0800),ipv4(frag=no)" 2
appctl revalidator/wait

say "The ARP flow sees no more packets: idle after 2 s"
sleep 3
appctl revalidator/wait

say "ovs-appctl revalidator/purge: every flow left is purged"
appctl netdev-dummy/receive p1 "$(pkt 4 udp)"
appctl revalidator/wait
appctl revalidator/purge
sleep 1

say "Stopping the tools"
# bpftrace 0.17 may miss a SIGINT that comes while it prints: insist.
for _ in $(seq 10); do
    running=""
    for pid in $tool_pids; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -INT "$pid" 2>/dev/null || true
            running="$running $pid"
        fi
    done
    [ -n "$running" ] || break
    sleep 1
done
tool_pids=""

say "What watch_flows.bt printed"
# (bpftrace prints a blank line for each map that END cleared.)
grep -v '^$' "$dir/watch_flows.out"
grep -v RLIMIT_MEMLOCK "$dir/watch_flows.err" || true
say "What filter_probe.py --summary printed"
cat "$dir/filter_probe.out"
cat "$dir/filter_probe.err"
say "Done: logs in $dir"
