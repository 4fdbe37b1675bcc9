#!/bin/bash
# make check: every test of the project, on the tree that 'make' built.
#
#   1. static checks: checkpatch.py on every patch, flake8 on our Python,
#      every new file carried by 'make dist';
#   2. the Open vSwitch testsuite's tests about the revalidator, upcalls,
#      dpif-netdev and ofproto-dpif (their .at files, whole), and all of our
#      own (keyword usdt and upcall-trace), against build/ovs;
#   3. the unit tests of the tools (pytest);
#   4. a build without --enable-usdt-probes, which must compile and pass
#      the tests that need no probes;
#   5. an AddressSanitizer build, on which the upcall tracing tests must show
#      no leak and no invalid access.
#
# With CI=true, an end-to-end test that skips is a failure.  The last line
# sums up: "check: N passed, N failed, N skipped".
#
# Environment: TESTSUITEFLAGS adds testsuite options (e.g. -j4);
# CHECK_QUICK=1 runs only our own tests; CHECK_NOUSDT=0 skips step 4 and
# CHECK_ASAN=0 step 5.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
ovs=$top/build/ovs
py=/usr/bin/python3
jobs=$(( $(nproc) + 1 ))
passed=0 failed=0 skipped=0
failures=""

note() { printf '\n=== %s\n' "$*"; }
record() {      # record NAME STATUS(0 pass, 1 fail, 77 skip)
    case $2 in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)); failures="$failures\n  $1" ;;
    esac
}

# The test numbers of every test defined in the given .at files.
tests_in() {
    local pattern
    pattern=$(printf '%s|' "$@")
    (cd "$ovs/tests" && AUTOTEST_PATH=x ./testsuite -l) | \
        awk -v re="^(${pattern%|}):" \
            '/^ *[0-9]+: / { split($2, a, ":"); if ((a[1] ":") ~ re) print $1 }' | \
        tr -d ':' | tr '\n' ' '
}

# Runs testsuite numbers $2... in tree $1, and records each result.
run_testsuite() {
    local tree=$1 label=$2
    shift 2
    make -s -C "$tree" tests/testsuite tests/ovstest >/dev/null 2>&1
    rm -rf "$tree/tests/testsuite.dir"
    make -s -C "$tree" check TESTSUITEFLAGS="-j$jobs ${TESTSUITEFLAGS:-} $*" \
        > "$tree/check.out" 2>&1
    # One line per test: "NUM: TITLE  ok|skipped (...)|FAILED (...)".
    while IFS= read -r line; do
        case "$line" in
        *" ok") record "$label: $line" 0 ;;
        *" skipped ("*)
            if [ "${CI:-}" = true ] && echo "$line" | grep -q "usdt\|upcall-trace"; then
                record "$label: $line (an end-to-end test may not skip in CI)" 1
            else
                record "$label: $line" 77
            fi ;;
        *"FAILED ("*|*"expected failure"*) record "$label: $line" 1 ;;
        esac
    done < <(grep -E '^ *[0-9]+: .* (ok|skipped \(.*\)|FAILED \(.*\)|expected failure.*)$' \
                 "$tree/check.out")
    grep -E '^ *[0-9]+: ' "$tree/check.out" | grep -v ' ok$' || true
    grep -E "tests were successful|failed unexpectedly|were run" \
        "$tree/check.out" | head -n 3
}

cd "$top" || exit 1

note "checkpatch.py on patches/"
for p in $(grep -v '^#' patches/series); do
    if out=$($py "$ovs/utilities/checkpatch.py" -q "patches/$p" 2>&1); then
        record "checkpatch $p" 0
    else
        echo "$out"
        record "checkpatch $p" 1
    fi
done

note "flake8"
pyfiles=$(git ls-files -co --exclude-standard '*.py' 2>/dev/null)
if [ -n "$pyfiles" ]; then
    # shellcheck disable=SC2086
    if flake8 $pyfiles; then record flake8 0; else record flake8 1; fi
fi

note "bpftrace parse check"
for bt in $(git ls-files -co --exclude-standard 'utilities/usdt-scripts/*.bt'); do
    # bpftrace -d parses and analyses the script without attaching it (its
    # exit status is 1 either way): look for the AST and for errors.  Without
    # -p, the script's probes resolve ovs-vswitchd through $PATH.
    PATH=$ovs/vswitchd:$PATH bpftrace -d "$bt" >"$ovs/bt-parse.out" 2>&1
    if grep -q "^AST after: parser" "$ovs/bt-parse.out" && \
       ! grep -q "^$bt:[0-9].*ERROR" "$ovs/bt-parse.out"; then
        record "bpftrace -d $bt" 0
    else
        grep -v MEMLOCK "$ovs/bt-parse.out" | head -n 20
        record "bpftrace -d $bt" 1
    fi
done

note "make dist carries every new file"
if [ "${CHECK_QUICK:-0}" != 1 ]; then
    if make -s -C "$ovs" dist >"$ovs/dist.out" 2>&1; then
        tarball=$(ls -t "$ovs"/openvswitch-*.tar.gz | head -n1)
        listing=$(tar -tzf "$tarball" | sed 's|^[^/]*/||')
        missing=""
        for f in $(git ls-files -co --exclude-standard -- tests utilities \
                       ofproto lib include Documentation vswitchd); do
            echo "$listing" | grep -qxF "$f" || missing="$missing $f"
        done
        if [ -z "$missing" ]; then
            record "make dist" 0
        else
            echo "not in $tarball:$missing"
            record "make dist" 1
        fi
    else
        tail -n 20 "$ovs/dist.out"
        record "make dist" 1
    fi
fi

note "unit tests (pytest)"
units=$(git ls-files -co --exclude-standard 'tests/test_*.py')
if [ -n "$units" ]; then
    # shellcheck disable=SC2086
    OVS_BUILD=$ovs $py -m pytest -q -p no:cacheprovider $units \
        > "$ovs/pytest.out" 2>&1
    rc=$?
    tail -n 15 "$ovs/pytest.out"
    n() { grep -oE "[0-9]+ $1" "$ovs/pytest.out" | tail -n1 | cut -d' ' -f1; }
    np=$(n passed) nf=$(n failed) ne=$(n error) ns=$(n skipped)
    passed=$((passed + ${np:-0}))
    skipped=$((skipped + ${ns:-0}))
    if [ "$rc" != 0 ]; then
        nbad=$(( ${nf:-0} + ${ne:-0} ))
        failed=$((failed + (nbad > 0 ? nbad : 1)))
        failures="$failures\n  pytest (see build/ovs/pytest.out)"
    fi
fi

if [ "${CHECK_QUICK:-0}" = 1 ]; then
    selection="-k usdt -k upcall-trace"
else
    selection=$(tests_in ofproto-dpif.at dpif-netdev.at pmd.at dpctl.at \
                         learn.at usdt-revalidator.at usdt-watch-flows.at \
                         usdt-filter-probe.at upcall-trace.at)
fi
note "Open vSwitch testsuite ($(echo $selection | wc -w) tests), patched tree"
# shellcheck disable=SC2086
run_testsuite "$ovs" testsuite $selection

if [ "${CHECK_NOUSDT:-1}" = 1 ]; then
    note "build without --enable-usdt-probes"
    if USDT=no "$top/scripts/build.sh"; then
        record "build without usdt probes" 0
        nousdt=$top/build/ovs-nousdt
        # The probe tests must skip there, saying why; the others pass.
        # shellcheck disable=SC2046
        CI= run_testsuite "$nousdt" nousdt \
            $(ovs=$nousdt tests_in dpif-netdev.at usdt-revalidator.at \
                          usdt-watch-flows.at usdt-filter-probe.at \
                          upcall-trace.at) -k revalidator -k upcall
    else
        record "build without usdt probes" 1
    fi
fi

if [ "${CHECK_ASAN:-1}" = 1 ]; then
    note "AddressSanitizer build: upcall tracing tests"
    asan=$top/build/ovs-asan
    if OVS_DIR=$asan CFLAGS="-g -O1 -fsanitize=address -fno-omit-frame-pointer" \
           "$top/scripts/build.sh"; then
        record "AddressSanitizer build" 0
        # OVS's testsuite fails a test whose daemons leave an ASan report.
        ASAN_OPTIONS=detect_leaks=1 run_testsuite "$asan" asan \
            $(ovs=$asan tests_in upcall-trace.at)
    else
        record "AddressSanitizer build" 1
    fi
fi

if [ "$failed" != 0 ]; then
    printf '\nFailures:%b\n' "$failures"
fi
echo
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
