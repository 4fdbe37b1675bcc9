# Sourced by build.sh and patches.sh: what patches/series says.
#
# patches/series lists the patches in the order git am applies them.  Under
# each patch, indented lines name the files that are wholly ours (they live
# at their Open vSwitch path in this repository) and that the patch adds:
#
#     0002-dpif-netdev-Add-USDT-probes-for-flow-install-and-remov.patch
#         tests/usdt-macros.at
#
# Lines starting with '#' and blank lines are comments.

: "${top:?}"
series_file=$top/patches/series

# Whoever runs the build: git's user.name and user.email, as 'git
# format-patch -s' takes them, or git's own fallback (the login name at
# this host).  It authors the commits in build/ and signs off the series.
series_ident_name=$(git -C "$top" config user.name || id -un)
series_ident_email=$(git -C "$top" config user.email || \
                     echo "$(id -un)@$(hostname -f 2>/dev/null || hostname)")

# The patch names, one a line, in order.
series_patches() {
    sed -n 's/^\([^[:space:]#][^[:space:]]*\)[[:space:]]*$/\1/p' \
        "$series_file"
}

# The files that patch $1 adds, one a line.
series_files_of() {
    awk -v p="$1" '
        /^[[:space:]]*(#|$)/ { next }
        /^[^[:space:]]/ { cur = $1; next }
        cur == p { print $1 }' "$series_file"
}

# Every file that some patch adds, one a line.
series_all_files() {
    awk '/^[[:space:]]*(#|$)/ { next }
         /^[[:space:]]/ { print $1 }' "$series_file"
}

# A hash of everything the series is made of: patches/series, the patches
# and the files they add.
series_hash() {
    (
        cd "$top" || exit 1
        cat patches/series
        series_patches | sed 's|^|patches/|' | xargs cat
        series_all_files | xargs cat
    ) | sha256sum | cut -d' ' -f1
}

# Fails, saying why, unless the files at Open vSwitch paths in this
# repository are exactly the files that patches/series lists, each once.
series_check_files() {
    local listed present dups
    listed=$(series_all_files | sort)
    dups=$(printf '%s\n' "$listed" | uniq -d)
    if [ -n "$dups" ]; then
        echo "patches/series lists these files under more than one patch:" \
             $dups >&2
        return 1
    fi
    present=$(cd "$top" && git ls-files -co --exclude-standard -- \
                  Documentation include lib ofproto python tests utilities \
                  vswitchd | sort)
    if [ "$listed" != "$present" ]; then
        echo "patches/series and the files at Open vSwitch paths differ" \
             "(< only listed, > only present):" >&2
        diff <(printf '%s\n' "$listed") <(printf '%s\n' "$present") \
            | grep '^[<>]' >&2
        return 1
    fi
}

# Patch $1 of patches/ as git am takes it.  The files in patches/ name no
# author and carry no Signed-off-by: whoever applies them is the author.
series_mbox() {
    sed -n '1p' "$1"
    printf 'From: %s <%s>\n' "$series_ident_name" "$series_ident_email"
    sed '1d' "$1"
}

# Makes, in git repository $1 whose HEAD is the pristine base, one commit per
# patch: the patch applied with git am, amended with the files it adds.
series_commit_all() {
    local repo=$1 p f files
    while IFS= read -r p; do
        series_mbox "$top/patches/$p" | \
                git -C "$repo" am -q --whitespace=nowarn || {
            git -C "$repo" am --abort
            echo "patch $p does not apply" >&2
            return 1
        }
        files=$(series_files_of "$p")
        [ -n "$files" ] || continue
        for f in $files; do
            mkdir -p "$(dirname "$repo/$f")"
            cp "$top/$f" "$repo/$f"
        done
        # shellcheck disable=SC2086
        git -C "$repo" add -- $files
        git -C "$repo" commit -q --amend --no-edit --no-verify
    done < <(series_patches)
}
