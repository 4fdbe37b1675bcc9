#!/bin/bash
# Build driver: unpacks Debian's Open vSwitch 3.1.0 source into build/ovs (a
# git repository: the pristine base, tagged "base", then one commit per
# patch), applies patches/series with git am, each patch with the files that
# are wholly ours that patches/series lists under it, configures with
# --enable-usdt-probes and builds in place.
#
# It is incremental: the commits are made again only when patches/ or one of
# our files changed, configure runs only once, and make rebuilds only what
# changed.
#
# Environment: CONFIGURE_FLAGS adds configure options (CFLAGS and LDFLAGS
# reach configure too); USDT=no builds without --enable-usdt-probes (into
# build/ovs-nousdt unless OVS_DIR is set); BASE=yes builds the unpatched
# base, with probes (into build/ovs-base); MAKE_INSTALL=yes runs 'make
# install' after the build (into the --prefix that CONFIGURE_FLAGS gives).
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

# shellcheck source=scripts/lib-series.sh
. "$top/scripts/lib-series.sh"

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
        git config user.name "$series_ident_name"
        git config user.email "$series_ident_email"
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
/rhel/openvswitch.spec
/rhel/openvswitch-fedora.spec
/rhel/usr_lib_systemd_system_ovs-vswitchd.service
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

# Makes the series' commits in a scratch worktree of $ovs, then moves $ovs to
# them: git rewrites only the files that differ, so make rebuilds only what
# the change touched.
apply_series() {
    local wt=$ovs.series-wt head
    series_check_files || die "fix patches/series first"
    git -C "$ovs" worktree remove --force "$wt" >/dev/null 2>&1 || true
    rm -rf "$wt"
    git -C "$ovs" worktree prune
    git -C "$ovs" worktree add -q --detach "$wt" base
    series_commit_all "$wt" || die "cannot make the series' commits"
    head=$(git -C "$wt" rev-parse HEAD)
    git -C "$ovs" worktree remove --force "$wt"
    git -C "$ovs" reset -q --hard "$head"
    echo "$(series_hash) $head" > "$ovs/.git/applied-series"
    say "applied $(series_patches | wc -l) patches"
}

# Brings build/ovs to the series in patches/ and the files it adds: makes
# the commits again only when one of them changed, and refuses to when
# build/ovs has work that patches/ lacks.
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
fi
[ "$series_only" = yes ] && exit 0

cd "$ovs"
if [ ! -f Makefile ]; then
    say "configuring (usdt probes: $usdt)"
    ./boot.sh >/dev/null
    flags="--prefix=/usr --localstatedir=/var --sysconfdir=/etc"
    [ "$usdt" = yes ] && flags="$flags --enable-usdt-probes"
    # ccache makes the builds of each patch and of the other trees
    # (no probes, shared, non-PIE) cheap when only a few files differ.
    cc=${CC:-gcc}
    if [ -z "${CC:-}" ] && command -v ccache >/dev/null; then
        cc="ccache gcc"
    fi
    # shellcheck disable=SC2086
    ./configure $flags ${CONFIGURE_FLAGS:-} CC="$cc" \
        CFLAGS="${CFLAGS:--g -O2}" \
        > configure.out 2>&1 || { tail -n 20 configure.out; die "configure failed"; }
fi
make -s -j"$(nproc)" ${MAKE_TARGETS:-} >make.out 2>&1 \
    || { grep -E 'error|Error' make.out | head -n 30; die "make failed (see $ovs/make.out)"; }
say "built $ovs"
if [ "${MAKE_INSTALL:-no}" = yes ]; then
    make -s install >install.out 2>&1 \
        || { tail -n 30 install.out; die "make install failed (see $ovs/install.out)"; }
    say "installed $ovs"
fi
