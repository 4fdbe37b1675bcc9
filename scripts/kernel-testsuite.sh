#!/bin/bash
# kernel-testsuite.sh: runs a tree's kernel datapath testsuite (what
# "make check-kernel" runs, tests/system-kmod-testsuite) in the qemu guest
# of scripts/vm.sh, on Debian's 6.1 kernel and its openvswitch module.
#
#   scripts/kernel-testsuite.sh TREE [TESTSUITE-ARG...]
#
# TREE is a built Open vSwitch tree under build/ (build/ovs, ...); the
# arguments select tests as for any autotest testsuite (-k usdt, 12-40,
# --recheck, ...).  The tests run one at a time, as "make check-kernel"
# runs them, in a directory on the guest's tmpfs (their daemons make Unix
# sockets there, which 9p cannot hold); the testsuite's log and the
# directories of the tests that failed are then copied to
# TREE/tests/system-kmod-testsuite.{log,dir}.  The testsuite's output goes
# to standard output.  The waits of the tests (OVS_CTL_TIMEOUT) are 300 s
# instead of 30 (KERNEL_CTL_TIMEOUT sets them), and ovs-vswitchd's
# warnings about long poll intervals stay out of its console (see
# below).  The exit status is the testsuite's, or vm.sh's
# (124, 125) when the guest did not run it.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
suite=system-kmod-testsuite

if [ "${1:-}" = --guest ]; then
    tree=$2
    shift 2
    ts=/tmp/kernel-testsuite
    rm -rf "$ts"
    mkdir -p "$ts"
    # The tree's atconfig names its source and build directories relative
    # to tests/ (srcdir is "../.." in a test, for $srcdir/sendpkt.py):
    # from elsewhere they must be absolute.
    sed "s|^at_srcdir=.*|at_srcdir='$tree/tests'|
         s|^at_top_srcdir=.*|at_top_srcdir='$tree'|
         s|^at_top_build_prefix=.*|at_top_build_prefix='$tree/'|" \
        "$tree/tests/atconfig" > "$ts/atconfig"
    cp "$tree/tests/atlocal" "$ts/"
    # --recheck reruns the failures that the last run's log lists.
    cp "$tree/tests/$suite.log" "$ts/" 2>/dev/null
    # The guest runs at emulation speed: give the waits of the tests
    # (OVS_WAIT_UNTIL, ovs-appctl) more time than atlocal's 30 s.
    echo "OVS_CTL_TIMEOUT=${KERNEL_CTL_TIMEOUT:-300}" >> "$ts/atlocal"
    # Read the daemons and the BPF tools' libraries once, so that the
    # tests do not wait for them to come over 9p (ovs-vswitchd warns about
    # an "Unreasonably long poll interval" when they do, which fails the
    # test that started it).
    libs=$(ldd /usr/bin/bpftrace /usr/lib/x86_64-linux-gnu/libbcc.so.0 \
               2>/dev/null | awk '$3 ~ /^\// { print $3 }' | sort -u)
    cat "$tree/vswitchd/ovs-vswitchd" "$tree/ovsdb/ovsdb-server" \
        "$tree/utilities/ovs-vsctl" "$tree/utilities/ovs-ofctl" \
        "$tree/utilities/ovs-appctl" "$tree/utilities/ovs-dpctl" \
        /usr/bin/bpftrace $libs > /dev/null 2>&1
    # Under emulation, ovs-vswitchd sometimes waits more than a second for
    # a CPU and says so on its console ("Unreasonably long 1114ms poll
    # interval (40ms user, 27ms system)"): the tests take any such line
    # on its stderr at start-up for a failure.  The ovs-vswitchd on the
    # tests' PATH is the tree's, with timeval's and coverage's console
    # logging off (their lines still go to the log file).
    mkdir -p "$ts/bin"
    cat > "$ts/bin/ovs-vswitchd" <<EOF
#!/bin/sh
exec "$tree/vswitchd/ovs-vswitchd" -vtimeval:console:off \\
    -vcoverage:console:off "\$@"
EOF
    chmod +x "$ts/bin/ovs-vswitchd"
    path=$ts/bin
    for d in utilities vswitchd ovsdb vtep tests ipsec; do
        path=$path:$tree/$d
    done
    (cd "$ts" && "$tree/tests/$suite" -C "$ts" --color=never \
         AUTOTEST_PATH="$path" "$@")
    rc=$?
    # Unix sockets cannot be copied to 9p.
    find "$ts" -type s -delete 2>/dev/null
    rm -rf "$tree/tests/$suite.dir"
    cp -r "$ts/$suite.dir" "$tree/tests/" 2>/dev/null
    cp "$ts/$suite.log" "$tree/tests/" 2>/dev/null
    exit "$rc"
fi

[ $# -ge 1 ] || { echo "usage: kernel-testsuite.sh TREE [TESTSUITE-ARG...]" >&2
                  exit 125; }
tree=$(cd "$1" 2>/dev/null && pwd) || {
    echo "kernel-testsuite.sh: $1: no such tree" >&2
    exit 125
}
shift
[ -x "$tree/tests/$suite" ] || {
    echo "kernel-testsuite.sh: $tree/tests/$suite is not built (make -C $tree tests/$suite)" >&2
    exit 125
}
cd "$tree" || exit 125
exec "$top/scripts/vm.sh" -t "${KERNEL_TESTSUITE_TIMEOUT:-3600}" \
    "$top/scripts/kernel-testsuite.sh" --guest "$tree" "$@"
