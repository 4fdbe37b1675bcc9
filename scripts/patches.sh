#!/bin/bash
# patches.sh regen        Regenerates patches/ from the commits in build/ovs
#                         after its "base" tag: each commit's changes to
#                         upstream files become patches/NNNN-*.patch, the
#                         files it adds are copied to their path in this
#                         repository and listed under it in patches/series.
# patches.sh series       Writes build/series/: the whole series as
#                         'git format-patch' would send it to ovs-dev, the
#                         cover letter (patches/cover-letter) first.
# patches.sh apply DIR    Unpacks the pristine base into DIR (a new git
#                         repository) and applies build/series/ there with
#                         git am, as a reviewer would.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
ovs=$top/build/ovs

die() { echo "patches.sh: $*" >&2; exit 1; }

# shellcheck source=scripts/lib-series.sh
. "$top/scripts/lib-series.sh"

regen() {
    local commits c n added modified f patch old_files
    [ -d "$ovs/.git" ] || die "no build/ovs: run 'make' first"
    [ -z "$(git -C "$ovs" status --porcelain --untracked-files=no)" ] || \
        die "build/ovs has uncommitted edits: commit them there first"
    commits=$(git -C "$ovs" rev-list --reverse base..HEAD)
    [ -n "$commits" ] || die "build/ovs has no commit after 'base'"

    # A file that is wholly ours is added, complete, by one patch.
    for c in $commits; do
        added=$(git -C "$ovs" diff-tree --no-commit-id --name-only -r \
                    --diff-filter=A "$c")
        modified=$(git -C "$ovs" diff-tree --no-commit-id --name-only -r \
                       --diff-filter=MDR "$c")
        for f in $modified; do
            if ! git -C "$ovs" cat-file -e "base:$f" 2>/dev/null; then
                die "$(git -C "$ovs" log -1 --format=%s "$c") changes $f, which an earlier patch adds: squash the change into that patch"
            fi
        done
        if [ -z "$modified" ]; then
            die "$(git -C "$ovs" log -1 --format=%s "$c") changes no upstream file (its new files belong in an automake.mk)"
        fi
    done

    old_files=$(series_all_files 2>/dev/null || true)
    rm -f "$top"/patches/[0-9][0-9][0-9][0-9]-*.patch
    {
        echo "# The series, in the order git am applies it.  Under each patch, the"
        echo "# files that it adds, which live at their path in this repository."
    } > "$series_file.new"
    n=0
    for c in $commits; do
        n=$((n + 1))
        added=$(git -C "$ovs" diff-tree --no-commit-id --name-only -r \
                    --diff-filter=A "$c")
        # The patch holds the commit's changes to upstream files only.
        excludes=()
        for f in $added; do
            excludes+=(":(exclude)$f")
        done
        patch=$(git -C "$ovs" format-patch --no-signature --zero-commit \
                    -N --start-number="$n" -o "$top/patches" "$c^..$c" \
                    -- . "${excludes[@]}")
        [ -n "$patch" ] || die "format-patch wrote nothing for $c"
        # No author, date or sign-off: 'make series' adds those of whoever
        # sends it (see series_mbox).
        # A header line that git folded goes on in lines that start with a
        # space.
        awk 'hdr && /^$/ { hdr = 0 }
             hdr && /^(From|Date): / { skip = 1; next }
             hdr && skip && /^[ \t]/ { next }
             { skip = 0 }
             /^Signed-off-by: / { next }
             { print }' hdr=1 "$patch" > "$patch.tmp"
        mv "$patch.tmp" "$patch"
        echo "${patch##*/}" >> "$series_file.new"
        for f in $added; do
            printf '    %s\n' "$f" >> "$series_file.new"
            mkdir -p "$(dirname "$top/$f")"
            git -C "$ovs" show "HEAD:$f" > "$top/$f"
            if [ "$(git -C "$ovs" ls-tree HEAD -- "$f" | cut -c1-6)" = 100755 ]
            then
                chmod +x "$top/$f"
            else
                chmod -x "$top/$f"
            fi
        done
    done
    mv "$series_file.new" "$series_file"

    # Files that no patch adds any more.
    for f in $old_files; do
        if ! series_all_files | grep -qxF "$f"; then
            rm -f "$top/$f"
            echo "patches.sh: removed $f (no patch adds it any more)"
        fi
    done

    # build/ovs already carries exactly this series: record it so that the
    # next 'make' does not make the commits again.
    echo "$(series_hash) $(git -C "$ovs" rev-parse HEAD)" \
        > "$ovs/.git/applied-series"
    echo "patches.sh: wrote $n patches"
}

series() {
    local out=$top/build/series cover subject
    [ -d "$ovs/.git" ] || die "no build/ovs: run 'make' first"
    [ -r "$top/patches/cover-letter" ] || die "patches/cover-letter is missing"
    rm -rf "$out"
    # Each patch signed off by whoever runs this, as format-patch -s does.
    git -C "$ovs" -c user.name="$series_ident_name" \
        -c user.email="$series_ident_email" \
        format-patch -q -s --cover-letter --no-signature --zero-commit \
        -o "$out" base..HEAD
    # Unfold the From: header that format-patch folds when the author's
    # name and address are long: checkpatch.py reads the author from that
    # line alone, and would not match it with the Signed-off-by.
    for f in "$out"/*.patch; do
        awk 'hdr && /^$/ { hdr = 0 }
             hdr && from && /^[ \t]/ { line = line $0; next }
             from { print line; from = 0 }
             hdr && /^From: / { line = $0; from = 1; next }
             { print }
             END { if (from) print line }' hdr=1 "$f" > "$f.tmp"
        mv "$f.tmp" "$f"
    done
    cover=$(ls "$out"/0000-cover-letter.patch)
    subject=$(sed -n '1p' "$top/patches/cover-letter")
    # The cover letter's subject is the first line of patches/cover-letter,
    # its text the rest, in place of format-patch's placeholders.
    SUBJECT="$subject" BLURB="$(sed '1,2d' "$top/patches/cover-letter")" \
        /usr/bin/python3 - "$cover" <<'EOF'
import os
import sys

path = sys.argv[1]
with open(path) as f:
    text = f.read()
text = text.replace("*** SUBJECT HERE ***", os.environ["SUBJECT"])
text = text.replace("*** BLURB HERE ***", os.environ["BLURB"])
with open(path, "w") as f:
    f.write(text)
EOF
    echo "patches.sh: wrote $(ls "$out" | wc -l) files to build/series"
}

apply() {
    local dest=$1 p
    [ -n "$dest" ] || die "usage: patches.sh apply DIR"
    [ ! -e "$dest" ] || die "$dest exists"
    [ -d "$top/build/series" ] || die "no build/series: run 'make series'"
    BASE=yes SERIES_ONLY=yes OVS_DIR=$dest "$top/scripts/build.sh"
    for p in "$top"/build/series/[0-9][0-9][0-9][0-9]-*.patch; do
        case $p in */0000-cover-letter.patch) continue ;; esac
        git -C "$dest" am -q "$p" || die "${p##*/} does not apply"
    done
    git -C "$dest" log --oneline base..HEAD
}

case "${1:-}" in
regen) regen ;;
series) series ;;
apply) apply "${2:-}" ;;
*) die "usage: patches.sh regen | series | apply DIR" ;;
esac
