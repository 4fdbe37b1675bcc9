#!/bin/bash
# make check: every test of the project, on the tree that 'make' built.
#
#   1. the series, patch by patch (scripts/check-series.sh): checkpatch.py
#      on every patch of build/series/, and each patch applied with git am
#      to fresh copies of the base, built with -Werror with and without
#      --enable-usdt-probes (build/bisect-usdt, build/bisect-nousdt);
#   2. static checks: flake8 on our Python, a parse of the bpftrace scripts,
#      every new file carried by 'make dist';
#   3. the unit tests of the tools (pytest);
#   4. the Open vSwitch testsuite's tests about the revalidator, upcalls,
#      dpif-netdev and ofproto-dpif (their .at files, whole), and all of our
#      own (keyword usdt and upcall-trace), against build/ovs;
#   5. the tests of ours on the kernel datapath (tests/system-usdt.at, in
#      the kernel datapath testsuite), in a qemu guest that boots Debian's
#      6.1 kernel (scripts/kernel-testsuite.sh, scripts/vm.sh);
#   6. distribution builds: the patched tree built --enable-shared and
#      installed under a prefix (build/ovs-shared-inst), whose probes are in
#      libofproto and libopenvswitch, and a non-PIE build (build/ovs-nopie);
#      on each, our tests with keyword "distro" (both tools, end to end);
#   7. the build without --enable-usdt-probes, build/bisect-nousdt after
#      the last patch: the probe tests must skip there (they are counted
#      apart, as skipped by design), the others pass;
#   8. an AddressSanitizer build, on which the upcall tracing tests must show
#      no leak and no invalid access.
#
# A testsuite that does not build, aborts or leaves a selected test without
# a result fails, as does an UNEXPECTED PASS.  A failed upstream test is
# rerun once (as OVS's RECHECK=yes does) and listed; a test of ours that
# needs the rerun fails.  With CI=true, a test of ours that skips (autotest
# or pytest) is a failure.  The last line sums up:
# "check: N passed, N failed, N skipped" (skipped by design not included).
#
# Environment: TESTSUITEFLAGS adds testsuite options; CHECK_QUICK=1 runs only
# our own tests and no 'make dist'; CHECK_TESTS replaces the selection on
# the patched tree (testsuite arguments, e.g. "-k upcall-trace");
# CHECK_SERIES=0 skips step 1 (step 7 then builds build/ovs-nousdt with
# 'USDT=no scripts/build.sh'); CHECK_KERNEL=0 skips step 5, CHECK_DISTRO=0
# step 6, CHECK_NOUSDT=0 step 7 and CHECK_ASAN=0 step 8.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
ovs=$top/build/ovs
# shellcheck source=scripts/lib-check.sh
. "$top/scripts/lib-check.sh"
# shellcheck source=scripts/check-series.sh
. "$top/scripts/check-series.sh"

# tests_in TREE FILE...: sets $found to the test numbers of every test that
# the given .at files define in TREE; a file that defines none there is a
# failure.  (Not run in $(...): its records would be lost.)
tests_in() {
    local tree=$1 f nums
    shift
    found=""
    (cd "$tree/tests" && AUTOTEST_PATH=x ./testsuite -l) \
        > "$top/build/check/list-all.out" 2>&1 || {
        record "testsuite -l in $tree" 1
        return 1
    }
    for f in "$@"; do
        nums=$(awk -v f="$f" '/^ *[0-9]+: / {
                   split($2, a, ":"); if (a[1] == f) print $1 }' \
               "$top/build/check/list-all.out" | tr -d ':' | tr '\n' ' ')
        [ -n "$nums" ] || record "$f defines no test in $tree" 1
        found="$found$nums"
    done
    [ -n "$found" ]
}

# our_at_files: the .at files of ours that define tests (usdt-*.at,
# upcall-trace*.at; usdt-macros.at only defines macros), by base name.
our_at_files() {
    local f
    for f in $(our_files 'tests/usdt-*.at' 'tests/upcall-trace*.at'); do
        grep -q '^AT_SETUP' "$f" && basename "$f"
    done | csort -u | tr '\n' ' '
}

# check_list NAME LIST: a step's file list from git ls-files (and the
# series) must not be empty; records a failure when it is.
check_list() {
    if [ -z "$2" ]; then
        record "$1: the file list is empty (git ls-files failed or found nothing)" 1
        return 1
    fi
}

# probes_of FILE: the PROVIDER:NAME of FILE's USDT probes, one a line.
probes_of() {
    readelf -n "$1" 2>/dev/null | \
        sed -n 's/^ *Provider: //p; s/^ *Name: //p' | paste -d: - - | csort -u
}

# since START: minutes and seconds since $SECONDS was START.
since() {
    local s=$((SECONDS - $1))
    printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# flow_probes_in FILE LABEL PROBE...: records whether FILE has every PROBE.
flow_probes_in() {
    local file=$1 label=$2 p missing=""
    shift 2
    for p in "$@"; do
        probes_of "$file" | grep -qxF "$p" || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        echo "$label: $* in ${file#"$top"/}"
        record "$label: probes in ${file#"$top"/}" 0
    else
        record "$label: ${file#"$top"/} lacks$missing" 1
    fi
}

# segment_moved: whether a LOAD line of the "readelf -lW" on stdin has an
# address (VirtAddr) that is not its file offset.
segment_moved() {
    local type off vaddr rest moved=1
    while read -r type off vaddr rest; do
        [ "$type" = LOAD ] && [ $((off)) != $((vaddr)) ] && moved=0
    done
    return $moved
}

# section_moved NAME: whether section NAME, in the "readelf -SW" on stdin
# (without its "[Nr]" column), has an address that is not its file offset.
section_moved() {
    local name type addr off rest moved=1
    while read -r name type addr off rest; do
        [ "$name" = "$1" ] && [ $((16#$addr)) != $((16#$off)) ] && moved=0
    done
    return $moved
}

# distro_step: (a) the patched tree configured as Fedora's spec does,
# --enable-shared --enable-usdt-probes, and installed under a prefix
# (build/ovs-shared, installed in build/ovs-shared-inst): the probes are in
# libofproto and libopenvswitch, not in the executable; (b) a non-PIE
# build (build/ovs-nopie), an ET_EXEC executable whose addresses are not
# its file offsets.  On each, the tests with keyword "distro" (both tools'
# install, delete, JSON and key scenarios, and the probes' semaphores), on
# the shared one with the installed programs first in AUTOTEST_PATH.
distro_step() {
    local shared=$top/build/ovs-shared inst=$top/build/ovs-shared-inst
    local nopie=$top/build/ovs-nopie t exe lib_ovs lib_ofp p
    local dp_probes="dp_netdev_flow_add:dp_flow_put
        dp_netdev_pmd_remove_flow:dp_flow_del
        dpif_netlink_operate__:op_flow_put dpif_netlink_operate__:op_flow_del"
    local reval_probes="revalidate:flow_change revalidate:flow_result
        revalidator_sweep__:flow_sweep_change
        revalidator_sweep__:flow_sweep_result"
    local flags="--enable-shared --disable-static --prefix=$inst
        --localstatedir=$inst/var --sysconfdir=$inst/etc"

    note "distribution build: --enable-shared, installed ($inst)"
    t=$SECONDS
    # --disable-static: the libraries are compiled once, not twice.
    if OVS_DIR=$shared MAKE_INSTALL=yes CONFIGURE_FLAGS=$flags \
           "$top/scripts/build.sh"; then
        echo "built and installed in $(since "$t")"
        record "build --enable-shared, make install" 0
        exe=$inst/sbin/ovs-vswitchd
        lib_ovs=$(find "$inst/lib" -name 'libopenvswitch-*.so.*.*.*' | head -n1)
        lib_ofp=$(find "$inst/lib" -name 'libofproto-*.so.*.*.*' | head -n1)
        # shellcheck disable=SC2086
        flow_probes_in "$lib_ovs" shared $dp_probes
        # shellcheck disable=SC2086
        flow_probes_in "$lib_ofp" shared $reval_probes
        for p in $dp_probes $reval_probes; do
            if probes_of "$exe" | grep -qxF "$p"; then
                record "shared: ${exe#"$top"/} has $p: the build is not what it should be" 1
            fi
        done
        if readelf -d "$exe" | grep -q 'NEEDED.*libofproto' && \
           readelf -d "$exe" | grep -q 'NEEDED.*libopenvswitch'; then
            record "shared: ${exe#"$top"/} loads libofproto and libopenvswitch" 0
        else
            record "shared: ${exe#"$top"/} does not load libofproto and libopenvswitch" 1
        fi
        t=$SECONDS
        ts_autotest_path=$inst/bin:$inst/sbin:tests
        ts_run "$shared" shared probes -k distro && ts_record shared probes
        ts_autotest_path=
        echo "tests took $(since "$t")"
    else
        record "build --enable-shared, make install" 1
    fi

    note "distribution build: non-PIE ($nopie)"
    t=$SECONDS
    if OVS_DIR=$nopie CFLAGS="-g -O2 -fno-pie" LDFLAGS="-no-pie" \
           "$top/scripts/build.sh"; then
        echo "built in $(since "$t")"
        record "build -fno-pie -no-pie" 0
        exe=$nopie/vswitchd/ovs-vswitchd
        # shellcheck disable=SC2086
        flow_probes_in "$exe" nopie $dp_probes $reval_probes
        if readelf -hW "$exe" | grep -q '^ *Type: *EXEC '; then
            record "nopie: ovs-vswitchd is ET_EXEC" 0
        else
            record "nopie: ovs-vswitchd is not ET_EXEC: $(readelf -hW "$exe" | sed -n 's/^ *Type: *//p')" 1
        fi
        # LOAD OFFSET VIRTADDR ...: a segment loaded where its file offset
        # is not, and the semaphores' section too.
        if readelf -lW "$exe" | segment_moved; then
            record "nopie: a segment's address is not its file offset" 0
        else
            record "nopie: every segment's address is its file offset" 1
        fi
        if readelf -SW "$exe" | sed 's/^ *\[ *[0-9]*\]//' | section_moved .probes
        then
            record "nopie: the semaphores' section (.probes) address is not its file offset" 0
        else
            record "nopie: no .probes section, or it is at its file offset" 1
        fi
        t=$SECONDS
        ts_run "$nopie" nopie probes -k distro && ts_record nopie probes
        echo "tests took $(since "$t")"
    else
        record "build -fno-pie -no-pie" 1
    fi
}

cd "$top" || exit 1
mkdir -p "$top/build/check"

# 1. The series, patch by patch.
if [ "${CHECK_SERIES:-1}" = 1 ]; then
    series_step
fi

note "flake8"
pyfiles=$(our_files '*.py')
if check_list flake8 "$pyfiles"; then
    echo "$(echo "$pyfiles" | wc -l) files"
    # shellcheck disable=SC2086
    if flake8 $pyfiles; then record flake8 0; else record flake8 1; fi
fi

note "bpftrace parse check"
btfiles=$(our_files 'utilities/usdt-scripts/*.bt')
check_list "bpftrace parse check" "$btfiles"
for bt in $btfiles; do
    # bpftrace -d parses and analyses the script without attaching it (its
    # exit status is 1 either way): look for the AST and for errors.  Without
    # -p, the script's probes are in the OBJECT of its third argument, here
    # ovs-vswitchd, which bpftrace resolves through $PATH (the second for
    # watch_flows_quiet.bt, whose first is a number of seconds).
    btargs="all change ovs-vswitchd"
    case $bt in *_quiet.bt) btargs="0 ovs-vswitchd" ;; esac
    # shellcheck disable=SC2086
    PATH=$ovs/vswitchd:$PATH bpftrace -d "$bt" $btargs \
        >"$top/build/check/bt-parse.out" 2>&1
    if grep -q "^AST after: parser" "$top/build/check/bt-parse.out" && \
       ! grep -q "^$bt:[0-9].*ERROR" "$top/build/check/bt-parse.out"; then
        echo "${bt#"$top"/}: parses"
        record "bpftrace -d ${bt#"$top"/}" 0
    else
        grep -v MEMLOCK "$top/build/check/bt-parse.out" | head -n 20
        record "bpftrace -d ${bt#"$top"/}" 1
    fi
done

if [ "${CHECK_QUICK:-0}" != 1 ]; then
    note "make dist carries every new file"
    distfiles=$(our_files tests utilities ofproto lib include Documentation \
                          vswitchd | sed "s|^$top/||; s|^$ovs/||")
    rm -f "$ovs"/openvswitch-*.tar.gz
    if ! check_list "make dist" "$distfiles"; then
        :
    elif make -s -C "$ovs" dist >"$top/build/check/dist.out" 2>&1; then
        tarball=$(find "$ovs" -maxdepth 1 -name 'openvswitch-*.tar.gz' | \
                  head -n1)
        if [ -z "$tarball" ]; then
            record "make dist: exited 0 and wrote no tarball" 1
        else
            listing=$(tar -tzf "$tarball" | sed 's|^[^/]*/||')
            missing=""
            for f in $distfiles; do
                echo "$listing" | grep -qxF "$f" || missing="$missing $f"
            done
            echo "$(echo "$distfiles" | wc -l) files looked for in $tarball"
            if [ -z "$missing" ]; then
                record "make dist" 0
            else
                echo "not in $tarball:$missing"
                record "make dist: missing$missing" 1
            fi
        fi
    else
        tail -n 20 "$top/build/check/dist.out"
        record "make dist (exit status, see build/check/dist.out)" 1
    fi
fi

if [ "${CHECK_QUICK:-0}" != 1 ]; then
    # rhel/openvswitch-fedora.spec.in must package every file the series
    # installs (an rpmbuild fails on unpackaged files): both trees installed
    # into a DESTDIR, the base's to tell upstream's omissions from ours.
    note "the Fedora spec packages every file the series installs"
    spec_dir=$top/build/check/spec
    rm -rf "$spec_dir"
    mkdir -p "$spec_dir"
    if ! BASE=yes "$top/scripts/build.sh" > "$spec_dir/base-build.log" 2>&1
    then
        tail -n 20 "$spec_dir/base-build.log"
        record "spec: building the unpatched base (build/ovs-base)" 1
    elif ! make -s -C "$top/build/ovs-base" install \
             DESTDIR="$spec_dir/base" > "$spec_dir/install.log" 2>&1 || \
         ! make -s -C "$ovs" install DESTDIR="$spec_dir/patched" \
             >> "$spec_dir/install.log" 2>&1; then
        tail -n 20 "$spec_dir/install.log"
        record "spec: make install DESTDIR=..." 1
    elif $py "$top/scripts/check-spec-files.py" \
             "$ovs/rhel/openvswitch-fedora.spec.in" "$spec_dir/patched" \
             "$spec_dir/base"; then
        record "spec: %files lists every file the series installs" 0
    else
        record "spec: %files lacks files that the series installs" 1
    fi
fi

note "unit tests (pytest)"
units=$(our_files 'tests/test_*.py')
if check_list pytest "$units"; then
    out=$top/build/check/pytest.out
    # -rs lists each skipped test with its reason.
    # shellcheck disable=SC2086
    OVS_BUILD=$ovs $py -m pytest -q -rs -p no:cacheprovider $units \
        > "$out" 2>&1
    rc=$?
    tail -n 15 "$out"
    n() { grep -E '^[0-9=]' "$out" | grep -oE "[0-9]+ $1" | tail -n1 | \
          cut -d' ' -f1; }
    np=$(n passed) nf=$(n failed) ne=$(n error) ns=$(n skipped)
    np=${np:-0} nf=${nf:-0} ne=${ne:-0} ns=${ns:-0}
    passed=$((passed + np))
    if [ "$rc" != 0 ]; then
        nbad=$((nf + ne))
        record_fail_n $((nbad > 0 ? nbad : 1)) \
            "pytest: exit $rc, $nf failed, $ne errors (see build/check/pytest.out)"
    elif [ "$np" = 0 ]; then
        record "pytest: exit 0 but no test passed" 1
    fi
    if [ "$ns" != 0 ] && [ "${CI:-}" = true ]; then
        grep '^SKIPPED' "$out"
        record_fail_n "$ns" "pytest: $ns skipped; with CI=true a test may not skip (see build/check/pytest.out)"
    else
        skipped=$((skipped + ns))
    fi
fi

note "Open vSwitch testsuite, patched tree ($ovs)"
if [ -n "${CHECK_TESTS:-}" ]; then
    found=$CHECK_TESTS
elif [ "${CHECK_QUICK:-0}" = 1 ]; then
    found="-k usdt -k upcall-trace"
else
    ours_at=$(our_at_files)
    check_list "our .at files" "$ours_at"
    # shellcheck disable=SC2086
    tests_in "$ovs" ofproto-dpif.at dpif-netdev.at pmd.at dpctl.at learn.at \
        $ours_at
fi
# An empty selection would run the whole testsuite: tests_in failed then.
if [ -n "$found" ]; then
    # shellcheck disable=SC2086
    ts_run "$ovs" testsuite probes $found && ts_record testsuite probes
fi

if [ "${CHECK_KERNEL:-1}" = 1 ]; then
    note "kernel datapath, in a qemu guest: the tests of ours (system-usdt.at)"
    ts_suite=system-kmod-testsuite
    ts_run "$ovs" kernel probes -k usdt && ts_record kernel probes
    ts_suite=testsuite
fi

# 6. Distribution builds: the probes where Fedora's and RHEL's build puts
# them, and a non-PIE executable.
if [ "${CHECK_DISTRO:-1}" = 1 ]; then
    distro_step
fi

if [ "${CHECK_NOUSDT:-1}" = 1 ]; then
    note "build without --enable-usdt-probes: the probe tests must skip"
    nousdt=""
    if [ "${CHECK_SERIES:-1}" = 1 ]; then
        # The whole series, built without probes by the series step.
        if [ -n "$series_nousdt_tree" ]; then
            nousdt=$series_nousdt_tree
        else
            record "no-probe tests: not run, the series did not build to its last patch without probes" 1
        fi
    elif USDT=no "$top/scripts/build.sh"; then
        record "build without usdt probes" 0
        nousdt=$top/build/ovs-nousdt
    else
        record "build without usdt probes" 1
    fi
    if [ -n "$nousdt" ]; then
        echo "tree: $nousdt"
        # shellcheck disable=SC2046
        tests_in "$nousdt" dpif-netdev.at $(our_at_files)
        # shellcheck disable=SC2086
        ts_run "$nousdt" nousdt noprobes $found -k revalidator -k upcall && \
            ts_record nousdt noprobes
        by_design_what="probe tests on the build without --enable-usdt-probes"
    fi
fi

if [ "${CHECK_ASAN:-1}" = 1 ]; then
    note "AddressSanitizer build: upcall tracing tests"
    asan=$top/build/ovs-asan
    if OVS_DIR=$asan CFLAGS="-g -O1 -fsanitize=address -fno-omit-frame-pointer" \
           "$top/scripts/build.sh"; then
        record "AddressSanitizer build" 0
        # OVS's testsuite fails a test whose daemons leave an ASan report;
        # such a test is not rerun.
        if tests_in "$asan" upcall-trace.at upcall-trace-verdicts.at; then
            # shellcheck disable=SC2086
            ASAN_OPTIONS=detect_leaks=1 ts_run "$asan" asan probes $found && \
                ts_record asan probes
        fi
    else
        record "AddressSanitizer build" 1
    fi
fi

echo
echo "make check took $(elapsed)"
summary check
