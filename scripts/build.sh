#!/bin/bash
# Build driver: unpacks Debian's Open vSwitch 3.1.0 source into build/ovs (a
# git repository: the pristine base, tagged "base", then one commit per
# patch), applies patches/series with git am, overlays the files that are
# wholly ours, configures with --enable-usdt-probes and builds in place.
#
# It is incremental: the series is applied again only when patches/ changed,
# configure runs only once, and make rebuilds only what changed.
#
# Environment: CONFIGURE_FLAGS adds configure options; USDT=no builds without
# --enable-usdt-probes (into build/ovs-nousdt unless OVS_DIR is set);
# BASE=yes builds the unpatched base, with probes (into build/ovs-base).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tarball=${OVS_TARBALL:-/usr/src/openvswitch/openvswitch.tar.gz}
want_version=3.1.0
usdt=${USDT:-yes}
base_only=${BASE:-no}
if [ "$base_only" = yes ]; then
    ovs=${OVS_DIR:-$top/build/ovs-base}
elif [ "$usdt" = yes ]; then
    ovs=${OVS_DIR:-$top/build/ovs}
else
    ovs=${OVS_DIR:-$top/build/ovs-nousdt}
fi
series_only=${SERIES_ONLY:-no}

die() { echo "build.sh: $*" >&2; exit 1; }
say() { echo "build.sh: $*"; }

series_hash() {
    (cd "$top/patches" && cat series $(grep -v '^#' series)) | sha256sum \
        | cut -d' ' -f1
}

unpack_base() {
    [ -r "$tarball" ] || die "$tarball not found (apt-get install openvswitch-source, or run 'make deps')"
    rm -rf "$ovs.tmp"
    mkdir -p "$ovs.tmp"
    tar --no-same-owner -xzf "$tarball" -C "$ovs.tmp"
    local src
    src=$(find "$ovs.tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
    local version
    version=$(sed -n 's/^AC_INIT(openvswitch, *\([^,]*\),.*/\1/p' \
              "$src/configure.ac")
    [ "$version" = "$want_version" ] || \
        die "$tarball holds Open vSwitch '$version', this series needs $want_version"
    mv "$src" "$ovs"
    rm -rf "$ovs.tmp"
    (
        cd "$ovs"
        git init -q
        git config user.name "ovs-flow-observability build"
        git config user.email "build@localhost"
        git config core.autocrlf false
        # Upstream's .gitignore keeps the tarball's generated files
        # (configure, Makefile.in, ...) out of the repository, as in an
        # upstream checkout; boot.sh regenerates them.
        # The tarball lacks upstream's per-directory .gitignore files, so
        # name the autotools output here.
        cat >> .git/info/exclude <<'EXCL'
Makefile.in
/aclocal.m4
/configure
/config.h.in
/build-aux/compile
/build-aux/config.guess
/build-aux/config.sub
/build-aux/depcomp
/build-aux/install-sh
/build-aux/ltmain.sh
/build-aux/missing
/m4/libtool.m4
/m4/ltoptions.m4
/m4/ltsugar.m4
/m4/ltversion.m4
/m4/lt~obsolete.m4
/configure.out
/make.out
/tests/testsuite
/tests/*-testsuite
/debian/
EXCL
        git add -A .
        git commit -q -m "Open vSwitch $version as shipped by Debian (openvswitch-source)."
        git tag base
        # Build output is not ignored (the tarball lacks the nested
        # .gitignore files): hide it, and commit with 'git commit -a'.
        git config status.showUntrackedFiles no
    )
    say "unpacked Open vSwitch $version into $ovs"
}

apply_series() {
    (
        cd "$ovs"
        git am --abort >/dev/null 2>&1 || true
        git reset -q --hard base
        git clean -q -fd >/dev/null
        while read -r p; do
            case "$p" in ''|'#'*) continue ;; esac
            git am -q --whitespace=nowarn "$top/patches/$p" \
                || { git am --abort; die "patch $p does not apply"; }
        done < "$top/patches/series"
    )
    rm -f "$ovs/.applied-series" "$ovs/Makefile"
    echo "$(series_hash) $(git -C "$ovs" rev-parse HEAD)" > "$ovs/.git/applied-series"
    say "applied $(grep -vc '^#' "$top/patches/series") patches"
}

overlay() {
    # Copy our own files (those at OVS paths) into the tree when they differ.
    local n=0 f
    while IFS= read -r f; do
        [ -f "$top/$f" ] || continue
        if ! cmp -s "$top/$f" "$ovs/$f"; then
            mkdir -p "$(dirname "$ovs/$f")"
            cp -p "$top/$f" "$ovs/$f"
            n=$((n + 1))
        fi
    done < <(cd "$top" && git ls-files -co --exclude-standard -- \
                 Documentation include lib ofproto python tests utilities \
                 vswitchd)
    [ "$n" = 0 ] || say "overlaid $n file(s)"
}

# Brings build/ovs to the series in patches/: applies it again only when
# patches/ changed, and refuses to when build/ovs has work that patches/
# lacks.
sync_series() {
    local state head
    state=$(cat "$ovs/.git/applied-series" 2>/dev/null || true)
    [ "${state%% *}" != "$(series_hash)" ] || return 0
    if [ -n "$state" ]; then
        head=$(git -C "$ovs" rev-parse HEAD)
        if [ "${state#* }" != "$head" ] || \
           [ -n "$(git -C "$ovs" status --porcelain --untracked-files=no)" ]; then
            die "$ovs has commits or edits that patches/ lacks: run 'make patches' first (or 'make distclean')"
        fi
    fi
    apply_series
}

[ -d "$ovs/.git" ] || unpack_base
# The unpatched base (BASE=yes) gets neither the series nor our files.
if [ "$base_only" != yes ]; then
    sync_series
    overlay
fi
[ "$series_only" = yes ] && exit 0

cd "$ovs"
if [ ! -f Makefile ]; then
    say "configuring (usdt probes: $usdt)"
    ./boot.sh >/dev/null
    flags="--prefix=/usr --localstatedir=/var --sysconfdir=/etc"
    [ "$usdt" = yes ] && flags="$flags --enable-usdt-probes"
    # shellcheck disable=SC2086
    ./configure $flags ${CONFIGURE_FLAGS:-} CFLAGS="${CFLAGS:--g -O2}" \
        > configure.out 2>&1 || { tail -n 20 configure.out; die "configure failed"; }
fi
make -s -j"$(nproc)" ${MAKE_TARGETS:-} >make.out 2>&1 \
    || { grep -E 'error|Error' make.out | head -n 30; die "make failed (see $ovs/make.out)"; }
say "built $ovs"
