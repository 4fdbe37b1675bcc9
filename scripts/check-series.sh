#!/bin/bash
# check-series.sh: the series as a reviewer takes it, patch by patch.
#
#   1. build/series/ (from 'make series': 0000-cover-letter.patch, then
#      0001-*.patch ... NNNN-*.patch) is one whole series: the cover
#      letter's shortlog counts every patch, numbered subjects say k/N, and
#      no "*** SUBJECT HERE ***" is left;
#   2. utilities/checkpatch.py of the pristine base passes every patch with
#      no output (the cover letter aside);
#   3. two fresh copies of the base, build/bisect-usdt (configured with
#      --enable-usdt-probes) and build/bisect-nousdt (without), configured
#      once with --enable-Werror, build the base; then each patch, applied
#      with git am, builds in both (make -j3, incremental, with the
#      testsuite: tests/ovstest is in "all", tests/testsuite is built too).
#
# After the last patch, build/bisect-nousdt is the whole series without
# probes: check.sh runs its no-probe tests there ($series_nousdt_tree).
#
# Run alone, it prints "check-series: N passed, N failed, N skipped" last.
# check.sh sources it and calls series_step.
#
# With the default build/series, the tree the last patch gives must be
# build/ovs's HEAD, with no uncommitted edit there: what make check tests is
# what the series sends.
#
# Environment: SERIES_DIR (default build/series; another one skips the
# comparison with build/ovs), BISECT_DIR (where the two trees go, default
# build), MAKE_JOBS (default 3).
# shellcheck shell=bash
set -u

series_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
top=${top:-$series_top}
# shellcheck source=scripts/lib-check.sh
[ "$(type -t record)" = function ] || . "$series_top/scripts/lib-check.sh"

# The tree with the whole series, built without probes (empty when the
# series did not get there).
export series_nousdt_tree=""

# series_build TREE LOG: the incremental build of one tree, and its tests.
series_build() {
    make -C "$1" -j"$make_jobs" > "$2" 2>&1 && \
        make -C "$1" -j"$make_jobs" tests/ovstest tests/testsuite >> "$2" 2>&1
}

# series_why LOG: the first errors of a failed build or git am.
series_why() {
    grep -E '(^|: )(fatal )?error:|warning:|\*\*\*|does not apply|patch failed|^fatal:' "$1" | \
        head -n "${2:-8}" | cut -c1-200 | sed 's/^/    /'
}

# series_configure TREE USDT LOG: boot.sh and configure, once per tree.
series_configure() {
    local flags="--enable-Werror"
    [ "$2" = yes ] && flags="$flags --enable-usdt-probes"
    # shellcheck disable=SC2086
    local cc=gcc
    command -v ccache >/dev/null && cc="ccache gcc"
    (cd "$1" && ./boot.sh && ./configure $flags CC="$cc" CFLAGS="-g -O2") \
        > "$3" 2>&1
}

series_step() {
    local ovs=${ovs:-$top/build/ovs}
    local dir=${SERIES_DIR:-$top/build/series}
    local bdir=${BISECT_DIR:-$top/build}
    local usdt=$bdir/bisect-usdt nousdt=$bdir/bisect-nousdt
    local logs=$bdir/bisect-logs
    local step_start=$SECONDS p name n total cover applied table
    local rc_u rc_n t0 status_u status_n

    note "series: $dir, checkpatch.py and a build of every patch"
    # 1. One whole series.
    cover=$dir/0000-cover-letter.patch
    local patches=()
    if [ -d "$dir" ]; then
        mapfile -t patches < <(cd "$dir" && \
            find . -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' \
                 ! -name '0000-*' -printf '%f\n' | LC_ALL=C sort)
    fi
    total=${#patches[@]}
    if [ ! -f "$cover" ] || [ "$total" = 0 ]; then
        record "series: no cover letter or no patch in $dir (run 'make series')" 1
        return 1
    fi
    # The files are 0001... in order; the cover letter's shortlog counts
    # them all (no stale patch left from a longer series); numbered
    # subjects, when there are, say k/N.
    local bad="" k=0 subj num numbered=0 listed
    for p in "${patches[@]}"; do
        k=$((k + 1))
        num=$(printf '%04d' "$k")
        [ "${p%%-*}" = "$num" ] || bad="$bad $p (expected $num-*)"
        subj=$(grep -m1 '^Subject:' "$dir/$p")
        if echo "$subj" | grep -qE '\[[^]]*\b[0-9]+/[0-9]+\]'; then
            numbered=$((numbered + 1))
            echo "$subj" | grep -qE "\[[^]]*\b0*$k/$total\]" || \
                bad="$bad $p (subject not [PATCH $k/$total])"
        fi
    done
    [ "$numbered" = 0 ] || [ "$numbered" = "$total" ] || \
        bad="$bad (only $numbered of $total subjects are numbered)"
    listed=$(sed -n 's/^[^ ].* (\([0-9][0-9]*\)):$/\1/p' "$cover" | \
             awk '{ n += $1 } END { print n + 0 }')
    [ "$listed" = "$total" ] || \
        bad="$bad (the cover letter's shortlog has $listed patches, the directory $total)"
    grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE \*\*\*' "$cover" && \
        bad="$bad (the cover letter still says *** SUBJECT/BLURB HERE ***)"
    if [ -n "$bad" ]; then
        record "series: not one whole series:$bad" 1
    else
        record "series: $total patches, as the cover letter lists them" 0
    fi

    # 2. Two fresh copies of the pristine base (a git repository, tag
    # "base"), then checkpatch.py from it, before any patch.
    rm -rf "$usdt" "$nousdt" "$logs"
    mkdir -p "$logs"
    for t in "$usdt" "$nousdt"; do
        if ! BASE=yes SERIES_ONLY=yes OVS_DIR=$t "$top/scripts/build.sh" \
                > "$logs/unpack-$(basename "$t").log" 2>&1; then
            cat "$logs/unpack-$(basename "$t").log"
            record "series: unpacking the base into $t" 1
            return 1
        fi
    done
    for p in "${patches[@]}"; do
        out=$($py "$usdt/utilities/checkpatch.py" -q "$dir/$p" 2>&1)
        rc_u=$?
        if [ "$rc_u" = 0 ] && [ -z "$out" ]; then
            record "checkpatch $p" 0
        else
            echo "checkpatch.py $p (exit $rc_u):"
            echo "$out" | head -n 30 | sed 's/^/    /'
            record "checkpatch $p" 1
        fi
    done

    # 3. Configure once, build the base, then patch by patch.
    t0=$SECONDS
    if ! series_configure "$usdt" yes "$logs/configure-usdt.log" || \
       ! series_configure "$nousdt" no "$logs/configure-nousdt.log"; then
        tail -n 20 "$logs"/configure-*.log
        record "series: boot.sh or configure failed (see $logs)" 1
        return 1
    fi
    echo "configured both trees in $((SECONDS - t0))s"
    table=$(printf '%-62s %-7s %-7s %s' patch applies probes no-probes)
    applied=yes
    for ((k = 0; k <= total; k++)); do
        if [ "$k" = 0 ]; then
            name="0000-base"
        else
            p=${patches[k - 1]}
            name=${p%.patch}
            if [ "$applied" != yes ]; then
                table="$table\n$(printf '%-62s %-7s' "${name:0:62}" 'not tried')"
                continue
            fi
            if ! git -C "$usdt" am -q --whitespace=nowarn "$dir/$p" \
                    > "$logs/$name-am.log" 2>&1 || \
               ! git -C "$nousdt" am -q --whitespace=nowarn "$dir/$p" \
                    >> "$logs/$name-am.log" 2>&1; then
                echo "$p does not apply:"
                series_why "$logs/$name-am.log"
                git -C "$usdt" am --abort >/dev/null 2>&1
                git -C "$nousdt" am --abort >/dev/null 2>&1
                record "series: $p does not apply (git am; the patches after it were not tried)" 1
                table="$table\n$(printf '%-62s %-7s' "${name:0:62}" NO)"
                applied=no
                continue
            fi
            record "series: $p applies" 0
        fi
        t0=$SECONDS
        series_build "$usdt" "$logs/$name-usdt.log"
        rc_u=$?
        series_build "$nousdt" "$logs/$name-nousdt.log"
        rc_n=$?
        status_u=ok status_n=ok
        if [ "$rc_u" = 0 ]; then
            record "series: $name builds with probes" 0
        else
            status_u=FAILS
            echo "$name does not build with probes (-Werror):"
            series_why "$logs/$name-usdt.log"
            record "series: $name does not build with probes" 1
        fi
        if [ "$rc_n" = 0 ]; then
            record "series: $name builds without probes" 0
        else
            status_n=FAILS
            echo "$name does not build without probes (-Werror):"
            series_why "$logs/$name-nousdt.log"
            record "series: $name does not build without probes" 1
        fi
        table="$table\n$(printf '%-62s %-7s %-7s %-7s %s' "${name:0:62}" \
            "$([ "$k" = 0 ] && echo - || echo ok)" "$status_u" "$status_n" \
            "$((SECONDS - t0))s")"
        echo "$(printf '%-62s' "${name:0:62}") probes $status_u, no probes $status_n, $((SECONDS - t0))s"
    done
    printf '\n%b\n' "$table"
    # build/series comes from build/ovs ('make series'): applied to the
    # base, it must give exactly the tree that make check tests there.
    if [ -z "${SERIES_DIR:-}" ] && [ "$applied" = yes ]; then
        local want got
        want=$(git -C "$ovs" rev-parse -q --verify 'HEAD^{tree}' 2>/dev/null)
        got=$(git -C "$usdt" rev-parse 'HEAD^{tree}')
        if [ "$want" != "$got" ]; then
            record "series: applied to the base, build/series does not give build/ovs's HEAD (stale build/series? run 'make series')" 1
        elif ! git --no-optional-locks -C "$ovs" diff --quiet HEAD --; then
            git --no-optional-locks -C "$ovs" diff --stat HEAD -- | tail -n 5
            record "series: build/ovs has edits that no patch carries (commit them, then 'make patches')" 1
        else
            echo "applied to the base, the series gives build/ovs's HEAD ($got)"
            record "series: applied to the base, build/series gives build/ovs's HEAD" 0
        fi
    fi
    # The whole series, built without probes: the no-probe tests run there.
    if [ "$applied" = yes ] && [ "${rc_n:-1}" = 0 ]; then
        series_nousdt_tree=$nousdt
    fi
    echo "series step: $((SECONDS - step_start))s, logs in $logs"
}

# Run alone: this step only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    cd "$top" || exit 1
    series_step
    summary check-series
fi
