# lib-check.sh: what check.sh, check-full.sh and check-series.sh share.
# Sourced, not run.  It defines:
#
#   note TITLE            prints a step banner
#   record NAME STATUS    counts one result: 0 passed, 77 skipped, else failed
#   record_fail_n N NAME  counts N failures under one line of the summary
#   summary LABEL         prints the failures, reruns and by-design skips,
#                         then "LABEL: N passed, N failed, N skipped" as the
#                         last line; returns 1 when anything failed
#   our_files PATTERN...  our files that match the git pathspecs, from this
#                         repository and from the commits of build/ovs
#   ts_run TREE LABEL MODE ARG...
#                         runs the selection ARG... of TREE's testsuite
#                         (MODE "probes", or "noprobes" for a tree built
#                         without --enable-usdt-probes), reruns failures
#                         once, and writes the results to $ts_results;
#                         with ts_suite=system-kmod-testsuite, TREE's
#                         kernel datapath testsuite, in the qemu guest
#                         (scripts/kernel-testsuite.sh);
#                         $ts_autotest_path, when set, replaces the
#                         testsuite's AUTOTEST_PATH (the programs it runs)
#   ts_record LABEL       records every test of $ts_results
#
# A testsuite run fails when its testsuite does not build, when it selects no
# test, when a selected test leaves no result line (the testsuite aborted),
# and when make's exit status disagrees with the result lines.
# shellcheck shell=bash

top=${top:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export py=/usr/bin/python3
# Testsuite jobs (-j of autotest) and make jobs: 3 on this 2-core machine.
ts_jobs=$(( $(nproc) + 1 ))
make_jobs=${MAKE_JOBS:-$ts_jobs}
passed=0 failed=0 skipped=0 by_design=0
# The testsuite that ts_run runs: tests/testsuite, or
# tests/system-kmod-testsuite (the kernel datapath, in the qemu guest).
ts_suite=testsuite
failures="" reruns="" by_design_what=""
# Lists (failures, reruns) are lines that start with a newline.
nl=$'\n'
check_start=$SECONDS

# sort and join in one collation, whatever the locale.
csort() { LC_ALL=C sort "$@"; }
cjoin() { LC_ALL=C join "$@"; }

note() { printf '\n=== %s (at %s)\n' "$*" "$(elapsed)"; }

# record NAME STATUS: 0 passed, 77 skipped, anything else failed.
record() {
    case $2 in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)); failures="$failures$nl  $1" ;;
    esac
}

# record_fail_n N NAME: N failures, listed as one line.
record_fail_n() {
    failed=$((failed + $1))
    failures="$failures$nl  $2"
}

# elapsed: minutes and seconds since the check started.
elapsed() {
    local s=$((SECONDS - check_start))
    printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# summary LABEL: the closing report; its last line is the count.
summary() {
    local label=$1
    if [ -n "$reruns" ]; then
        printf '\nRerun once, as RECHECK=yes does, and passed the %s:%s\n' \
               "second time" "$reruns"
    fi
    if [ "$by_design" != 0 ] || [ -n "$by_design_what" ]; then
        printf '\nskipped by design: %d (%s)\n' "$by_design" \
               "${by_design_what:-probe tests on the build without --enable-usdt-probes}"
    fi
    if [ "$failed" != 0 ]; then
        printf '\nFailures:%s\n' "$failures"
    fi
    echo
    echo "$label: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" = 0 ]
}

# our_files PATHSPEC...: files of ours matching the git pathspecs, one per
# line: those git ls-files lists in this repository (their path here), and
# those the commits after "base" in build/ovs add (their path there), so
# that moving a file into the series does not drop it from a check.
our_files() {
    local ovs_tree=${ovs:-$top/build/ovs} listed
    listed=$(cd "$top" && git ls-files -co --exclude-standard -- "$@") \
        || return 1
    {
        [ -z "$listed" ] || printf '%s\n' "$listed" | sed "s|^|$top/|"
        if git -C "$ovs_tree" rev-parse -q --verify base >/dev/null 2>&1; then
            git -C "$ovs_tree" diff --name-only --diff-filter=A base HEAD \
                -- "$@" | while IFS= read -r f; do
                # A file both here and in the series: keep this one.
                [ -n "$(cd "$top" && git ls-files -co --exclude-standard \
                        -- "$f")" ] || echo "$ovs_tree/$f"
            done
        fi
    } | csort -u
}

# --- Autotest ---------------------------------------------------------------

# A test is ours when it has one of these keywords or lives in one of these
# files; a test of ours that skips in CI, or needs a rerun, fails.
our_keywords="usdt upcall-trace filter_probe watch_flows"
our_files_re='^(usdt-.*|upcall-trace.*|system-usdt)\.at$'
# A probe test reads the USDT notes of the ovs-vswitchd under test: it skips
# by design on a build without --enable-usdt-probes, and must skip there.
# It reads them from the build tree's executable, or (OVS_USDT_LIST_PROBES)
# from the files that the running ovs-vswitchd has mapped; the red-zone tests
# need test-usdt-redzone, which only a build with probes builds.  Any of
# these lines, as the testsuite has it, marks a probe test.
# shellcheck disable=SC2016
probe_signature='readelf -n "$abs_top_builddir/vswitchd/ovs-vswitchd"
/proc/$(cat ovs-vswitchd.pid)/maps | sort -u > usdt-objects.txt
(! command -v test-usdt-redzone >/dev/null)'

# ts_list TREE ARG...: writes the selection ARG... of TREE's testsuite to
# stdout, one "NUM<TAB>FILE<TAB>TITLE<TAB>OURS<TAB>PROBE" line per test.
ts_list() {
    local tree=$1
    shift
    (cd "$tree/tests" && AUTOTEST_PATH=x "./$ts_suite" -l "$@") \
        > "$ts_dir/list.out" \
        2>&1 || { cat "$ts_dir/list.out" >&2; return 1; }
    # The numbers of the tests whose code has the probe signature.
    awk -v sigs="$probe_signature" '
        BEGIN { nsig = split(sigs, sig, "\n") }
        /^#AT_START_[0-9]+$/ { n = substr($0, 11); next }
        /^#AT_STOP_/ { n = "" }
        n != "" { for (i = 1; i <= nsig; i++)
                      if (index($0, sig[i])) { print n; n = ""; break } }' \
        "$tree/tests/$ts_suite" > "$ts_dir/probe-tests.txt"
    # "  NUM: FILE:LINE  TITLE", then the keywords, indented, if any.
    awk -v kws="$our_keywords" -v files="$our_files_re" \
        -v probes="$ts_dir/probe-tests.txt" '
        BEGIN { while ((getline n < probes) > 0) probe[n] }
        function flush() {
            if (num == "") return
            ours = (file ~ files)
            nk = split(kw, k, " ")
            for (i = 1; i <= nk; i++)
                if (index(" " kws " ", " " k[i] " ")) ours = 1
            print num "\t" file "\t" title "\t" ours "\t" (num in probe)
            num = ""
        }
        /^ *[0-9]+: / {
            flush()
            num = $1; sub(/:$/, "", num)
            file = $2; sub(/:[0-9]+$/, "", file)
            title = $0; sub(/^ *[0-9]+: +[^ ]+ +/, "", title)
            kw = ""
            next
        }
        num != "" && /^      / { kw = $0; sub(/^ +/, "", kw); next }
        END { flush() }' "$ts_dir/list.out"
}

# ts_parse LOG: the result lines of a testsuite run, before its "Test
# results" banner, as "NUM<TAB>RESULT" (ok, skip, fail, xfail, xpass).
ts_parse() {
    awk '
        /^## Test results\. ##$/ { exit }
        !/^ *[0-9]+: / { next }
        / ok$/ { r = "ok" }
        / skipped \(.*\)$/ { r = "skip" }
        / FAILED \(.*\)$/ { r = "fail" }
        / expected failure \(.*\)$/ { r = "xfail" }
        / UNEXPECTED PASS$/ { r = "xpass" }
        r != "" { n = $1; sub(/:$/, "", n); print n "\t" r; r = "" }' "$1"
}

# ts_check_results LABEL LOG RC WANTED COUNT: checks that the run in LOG,
# whose make exited RC, has exactly one result for each test number in the
# file WANTED (sorted), and that RC agrees with them.  Tests without a
# result count as failures when COUNT is yes (the rerun's are counted per
# test later).  Writes "NUM<TAB>RESULT", sorted, to LOG.tsv.
ts_check_results() {
    local label=$1 log=$2 rc=$3 wanted=$4 count=$5 missing extra dup nbad
    local bad=0 n
    ts_parse "$log" | csort -k1,1 > "$log.tsv"
    dup=$(cut -f1 "$log.tsv" | uniq -d | tr '\n' ' ')
    missing=$(cut -f1 "$log.tsv" | csort -u | cjoin -v1 "$wanted" - | \
              tr '\n' ' ')
    extra=$(cut -f1 "$log.tsv" | csort -u | cjoin -v2 "$wanted" - | \
            tr '\n' ' ')
    if [ -n "$missing" ]; then
        n=$(echo "$missing" | wc -w)
        echo "$label: $n selected test(s) left no result: $missing" | \
            cut -c1-300
        if [ "$count" = yes ]; then
            record_fail_n "$n" "$label: $n of $(wc -l < "$wanted") selected tests have no result (the testsuite aborted? see $log)"
        fi
        bad=1
    fi
    if [ -n "$extra$dup" ]; then
        record "$label: results for unselected or repeated tests: $extra$dup (see $log)" 1
        bad=1
    fi
    nbad=$(grep -cP '\t(fail|xpass)$' "$log.tsv")
    if [ "$rc" = 0 ] && [ "$nbad" != 0 ]; then
        record "$label: make check exited 0 with $nbad failed test(s)" 1
        bad=1
    elif [ "$rc" != 0 ] && [ "$nbad" = 0 ] && [ -z "$missing" ]; then
        grep -v '^ *[0-9]*: ' "$log" | tail -n 10
        record "$label: make check failed (exit $rc) with no failed test (see $log)" 1
        bad=1
    fi
    return $bad
}

# ts_run TREE LABEL MODE ARG...: builds TREE's testsuite, runs the tests
# that ARG... selects, reruns those that fail once (as RECHECK=yes does, and
# not when a sanitizer left a report), and writes one line per selected
# test to $ts_results: "NUM<TAB>FILE<TAB>TITLE<TAB>OURS<TAB>PROBE<TAB>FIRST
# <TAB>RERUN" (RERUN is "-" when the test was not rerun).  Sanity failures
# are recorded here; returns 1 when the results cannot be trusted at all.
# ts_make TREE FLAGS: runs TREE's $ts_suite with testsuite flags FLAGS, as
# "make check" does (the kernel datapath's testsuite in the qemu guest, one
# test at a time, as "make check-kernel" runs it).
ts_make() {
    if [ "$ts_suite" = testsuite ]; then
        make -s -C "$1" check \
            ${ts_autotest_path:+AUTOTEST_PATH="$ts_autotest_path"} \
            TESTSUITEFLAGS="$2"
    else
        # shellcheck disable=SC2086
        "$top/scripts/kernel-testsuite.sh" "$1" $2 -j1
    fi
}

ts_run() {
    local tree=$1 label=$2 mode=$3 rc
    shift 3
    ts_dir=$top/build/check/$label
    ts_results=$ts_dir/results.tsv
    rm -rf "$ts_dir"
    mkdir -p "$ts_dir"
    : > "$ts_results"
    # 1. The testsuite and the programs it runs (ovstest is in "all").
    if ! make -s -C "$tree" -j"$make_jobs" all "tests/$ts_suite" \
            > "$ts_dir/build.log" 2>&1; then
        grep -E '(^|: )(fatal )?error:|\*\*\*|ERROR' "$ts_dir/build.log" | \
            head -n 20
        record "$label: the testsuite does not build in $tree (see $ts_dir/build.log)" 1
        return 1
    fi
    # 2. What is selected.
    # shellcheck disable=SC2086
    if ! ts_list "$tree" ${TESTSUITEFLAGS:-} "$@" > "$ts_dir/list.tsv"; then
        record "$label: testsuite -l failed in $tree" 1
        return 1
    fi
    cut -f1 "$ts_dir/list.tsv" | csort > "$ts_dir/selected.txt"
    if [ ! -s "$ts_dir/selected.txt" ]; then
        record "$label: the selection has no test in $tree" 1
        return 1
    fi
    # 3. The run.
    rm -rf "$tree/tests/$ts_suite.dir"
    ts_make "$tree" "-j$ts_jobs ${TESTSUITEFLAGS:-} $*" > "$ts_dir/run.log" 2>&1
    rc=$?
    ts_check_results "$label" "$ts_dir/run.log" "$rc" "$ts_dir/selected.txt" \
        yes
    # Every result but "ok" and the testsuite's summary, as it printed them.
    sed '/^## Test results\. ##$/q' "$ts_dir/run.log" | \
        grep -E '^ *[0-9]+: ' | grep -v ' ok$' | head -n 100
    grep -E "tests? (were|was) successful|failed unexpectedly|were run|was run" \
        "$ts_dir/run.log" | head -n 3
    # 4. The rerun of the failures and unexpected passes, with --recheck.
    : > "$ts_dir/rerun.log.tsv"
    if grep -qP '\t(fail|xpass)$' "$ts_dir/run.log.tsv"; then
        if [ -n "$(find "$tree/tests/$ts_suite.dir" -name 'asan.*' -o \
                        -name 'ubsan.*' 2>/dev/null)" ]; then
            echo "$label: a sanitizer report: no rerun (as RECHECK=yes)"
        else
            grep -P '\t(fail|xpass)$' "$ts_dir/run.log.tsv" | cut -f1 | \
                csort > "$ts_dir/rerun-wanted.txt"
            # The rerun overwrites the failed tests' directories: keep
            # them, with their logs, for the diagnosis.
            rm -rf "$ts_dir/first-failures"
            mkdir -p "$ts_dir/first-failures"
            while read -r n; do
                cp -r "$tree/tests/$ts_suite.dir/$n" \
                    "$ts_dir/first-failures/" 2>/dev/null || true
            done < "$ts_dir/rerun-wanted.txt"
            echo "$label: rerunning $(wc -l < "$ts_dir/rerun-wanted.txt") test(s) once (--recheck)"
            ts_make "$tree" "-j$ts_jobs --recheck" > "$ts_dir/rerun.log" 2>&1
            rc=$?
            ts_check_results "$label rerun" "$ts_dir/rerun.log" "$rc" \
                "$ts_dir/rerun-wanted.txt" no
            sed '/^## Test results\. ##$/q' "$ts_dir/rerun.log" | \
                grep -E '^ *[0-9]+: ' | sed 's/^/  rerun: /'
            # A test rerun without a result: "none".
            cut -f1 "$ts_dir/rerun.log.tsv" | \
                cjoin -v1 "$ts_dir/rerun-wanted.txt" - | \
                sed 's/$/\tnone/' | csort -k1,1 -m - "$ts_dir/rerun.log.tsv" \
                > "$ts_dir/rerun.tsv"
            mv "$ts_dir/rerun.tsv" "$ts_dir/rerun.log.tsv"
        fi
    fi
    # 5. One line per selected test, with its first and rerun results.
    local tab=$'\t'
    cjoin -t "$tab" -a1 -e - -o 0,2.2 "$ts_dir/selected.txt" \
        "$ts_dir/run.log.tsv" > "$ts_dir/first.tsv"
    cjoin -t "$tab" -a1 -e - -o 1.1,1.2,2.2 "$ts_dir/first.tsv" \
        "$ts_dir/rerun.log.tsv" > "$ts_dir/both.tsv"
    csort -t "$tab" -k1,1 "$ts_dir/list.tsv" | \
        cjoin -t "$tab" -o 1.1,1.2,1.3,1.4,1.5,2.2,2.3 - "$ts_dir/both.tsv" | \
        csort -n > "$ts_results"
    return 0
}

# ts_verdict RESULTS-LINE MODE: prints "STATUS<TAB>WHY" for one line of
# $ts_results: STATUS is pass, skip, design (skipped by design), rerun
# (passed on the rerun), or fail.
ts_verdict() {
    local num=$1 ours=$4 probe=$5 first=$6 again=$7 mode=$8
    if [ "$mode" = noprobes ] && [ "$probe" = 1 ]; then
        case $first in
        skip) echo "design" ;;
        -) echo "fail	no result" ;;
        *) echo "fail	a probe test that did not skip (it was '$first') on the build without probes" ;;
        esac
        return
    fi
    case $first:$again in
    ok:*) echo "pass" ;;
    skip:*)
        if [ "${CI:-}" = true ] && [ "$ours" = 1 ]; then
            echo "fail	skipped; with CI=true a test of ours may not skip"
        else
            echo "skip"
        fi ;;
    fail:ok)
        if [ "$ours" = 1 ]; then
            echo "fail	failed, passed on the rerun; a test of ours may not need one"
        else
            echo "rerun"
        fi ;;
    fail:-) echo "fail	FAILED (not rerun)" ;;
    fail:none) echo "fail	FAILED, and the rerun left no result" ;;
    fail:fail) echo "fail	FAILED, and again on the rerun" ;;
    fail:*) echo "fail	FAILED, then '$again' on the rerun" ;;
    xpass:*) echo "fail	UNEXPECTED PASS (an AT_XFAIL_IF test passed)" ;;
    xfail:*) echo "fail	expected failure (AT_XFAIL_IF)" ;;
    -:*) echo "fail	no result" ;;
    *) echo "fail	unknown result '$first'" ;;
    esac
}

# ts_record LABEL MODE: records every test of $ts_results (tests with no
# result were counted as failures by ts_run already).
ts_record() {
    local label=$1 mode=$2 num file title ours probe first again v why
    local nprobe=0
    while IFS=$'\t' read -r num file title ours probe first again; do
        [ "$probe" = 1 ] && nprobe=$((nprobe + 1))
        v=$(ts_verdict "$num" "$file" "$title" "$ours" "$probe" "$first" \
                       "$again" "$mode")
        why=${v#*	}
        case $v in
        pass) record "$label: $num: $title" 0 ;;
        skip) record "$label: $num: $title" 77 ;;
        design) by_design=$((by_design + 1)) ;;
        rerun)
            record "$label: $num: $title" 0
            reruns="$reruns$nl  $label: $num: $title ($file)" ;;
        fail*)
            [ "$first" = - ] && continue
            record "$label: $num: $title ($file): $why" 1 ;;
        esac
    done < "$ts_results"
    # The no-probe run must have had probe tests to skip.
    if [ "$mode" = noprobes ] && [ "$nprobe" = 0 ]; then
        record "$label: no probe test in the selection (is '$probe_signature' still how they check for probes?)" 1
    fi
}
