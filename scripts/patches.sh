#!/bin/bash
# patches.sh regen        Regenerates patches/ (and patches/series) from the
#                         commits in build/ovs after its "base" tag.
# patches.sh apply DIR    Unpacks the pristine base into DIR (a new git
#                         repository) and applies the series with git am,
#                         as a reviewer or upstream would take it.  Our own
#                         new files are then added as one last commit, so
#                         DIR builds and tests like build/ovs.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
ovs=$top/build/ovs

die() { echo "patches.sh: $*" >&2; exit 1; }

case "${1:-}" in
regen)
    [ -d "$ovs/.git" ] || die "no build/ovs: run 'make' first"
    [ -z "$(git -C "$ovs" status --porcelain --untracked-files=no)" ] || \
        die "build/ovs has uncommitted edits: commit them there first"
    added=$(git -C "$ovs" diff --name-only --diff-filter=A base HEAD)
    [ -z "$added" ] || die "commits in build/ovs add files (new files live at their path in the repository, not in patches/): $added"
    rm -f "$top"/patches/*.patch
    git -C "$ovs" format-patch -q --no-signature --zero-commit -N \
        -o "$top/patches" base..HEAD
    {
        echo "# Applied in this order by scripts/build.sh with git am."
        (cd "$top/patches" && ls -1 ./*.patch | sed 's|^\./||')
    } > "$top/patches/series"
    # build/ovs already carries exactly this series: record it so that the
    # next 'make' does not apply it again.
    hash=$( (cd "$top/patches" && cat series $(grep -v '^#' series)) \
            | sha256sum | cut -d' ' -f1)
    echo "$hash $(git -C "$ovs" rev-parse HEAD)" > "$ovs/.git/applied-series"
    echo "patches.sh: wrote $(grep -vc '^#' "$top/patches/series") patches"
    ;;
apply)
    dest=${2:-}
    [ -n "$dest" ] || die "usage: patches.sh apply DIR"
    [ ! -e "$dest" ] || die "$dest exists"
    OVS_DIR=$dest SERIES_ONLY=yes "$top/scripts/build.sh"
    git -C "$dest" add -A
    git -C "$dest" commit -q -m "Add the flow observability tools and tests." \
        || true
    git -C "$dest" log --oneline base..HEAD
    ;;
*)
    die "usage: patches.sh regen | apply DIR"
    ;;
esac
