#!/bin/bash
# Sourced by the demo and the benchmarks: runs ovsdb-server and ovs-vswitchd
# from build/ovs in a private run directory, on the dummy (userspace)
# datapath, with nothing installed on the system.
#
#   sandbox_start DIR [vswitchd options]   start, exporting OVS_* variables;
#                                          SANDBOX_WRAPPER="valgrind ..."
#                                          runs ovs-vswitchd under it, and
#                                          SANDBOX_VSWITCHD=path another
#                                          ovs-vswitchd binary, and
#                                          SANDBOX_SETUP="vsctl --no-wait
#                                          ..." configures the database
#                                          before ovs-vswitchd starts
#   sandbox_stop                           stop both daemons
#   vsctl ..., appctl ..., ofctl ...       the tools, pointed at the sandbox

: "${OVS_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/ovs}"

vsctl() { "$OVS_BUILD/utilities/ovs-vsctl" --timeout=10 "$@"; }
appctl() { "$OVS_BUILD/utilities/ovs-appctl" --timeout=10 "$@"; }
ofctl() { "$OVS_BUILD/utilities/ovs-ofctl" "$@"; }

sandbox_start() {
    local dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    export OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir OVS_SYSCONFDIR=$dir
    export OVS_PKGDATADIR=$dir
    "$OVS_BUILD/ovsdb/ovsdb-tool" create "$dir/conf.db" \
        "$OVS_BUILD/vswitchd/vswitch.ovsschema"
    "$OVS_BUILD/ovsdb/ovsdb-server" --detach --no-chdir \
        --pidfile="$dir/ovsdb-server.pid" \
        --log-file="$dir/ovsdb-server.log" \
        --remote="punix:$dir/db.sock" "$dir/conf.db"
    vsctl --no-wait init
    # SANDBOX_SETUP: shell commands (vsctl --no-wait ...) that configure the
    # database before ovs-vswitchd starts.
    if [ -n "${SANDBOX_SETUP:-}" ]; then
        eval "$SANDBOX_SETUP"
    fi
    local vswitchd=${SANDBOX_VSWITCHD:-$OVS_BUILD/vswitchd/ovs-vswitchd}
    if [ -z "${SANDBOX_WRAPPER:-}" ]; then
        "$vswitchd" --detach --no-chdir \
            --pidfile="$dir/ovs-vswitchd.pid" \
            --log-file="$dir/ovs-vswitchd.log" \
            --enable-dummy=override --disable-system --disable-system-route \
            "$@" "unix:$dir/db.sock"
    else
        # Under a wrapper such as valgrind, which must see the daemon
        # itself: no --detach, and wait for its control socket.
        # shellcheck disable=SC2086
        $SANDBOX_WRAPPER "$vswitchd" --no-chdir \
            --pidfile="$dir/ovs-vswitchd.pid" \
            --log-file="$dir/ovs-vswitchd.log" \
            --enable-dummy=override --disable-system --disable-system-route \
            "$@" "unix:$dir/db.sock" > "$dir/wrapper.log" 2>&1 &
        local _
        for _ in $(seq 1200); do
            [ -s "$dir/ovs-vswitchd.pid" ] \
                && appctl -t "$dir/ovs-vswitchd.$(cat "$dir/ovs-vswitchd.pid").ctl" \
                       version >/dev/null 2>&1 && break
            sleep 0.1
        done
    fi
    SANDBOX_PID=$(cat "$dir/ovs-vswitchd.pid")
    export SANDBOX_PID
}

sandbox_stop() {
    [ -n "${OVS_RUNDIR:-}" ] || return 0
    appctl -t "$OVS_RUNDIR/ovs-vswitchd.$SANDBOX_PID.ctl" exit \
        >/dev/null 2>&1 || true
    "$OVS_BUILD/utilities/ovs-appctl" -t "$OVS_RUNDIR/ovsdb-server.$(cat "$OVS_RUNDIR/ovsdb-server.pid" 2>/dev/null).ctl" \
        exit >/dev/null 2>&1 || true
}
