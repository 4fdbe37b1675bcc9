#!/bin/bash
# vm.sh: runs a command on Debian's own kernel, in a qemu guest, for the
# tests of the kernel datapath (this machine's kernel has no openvswitch
# module).
#
#   scripts/vm.sh [-t SECONDS] [-l LOG] COMMAND [ARG...]
#
# The guest boots Debian's linux-image-amd64 (6.1, with openvswitch.ko)
# under TCG (KVM is not usable here: no nested virtualization) from a
# busybox initramfs, mounts this machine's root read-only over 9p (so
# that the command finds whatever the host has where the host has it,
# pyenv's python3 in /root among them), with tmpfs over /tmp, /run,
# /var/tmp and /var/log (HOME is /tmp/root), and this repository's build/
# directory read-write at its own path (both cached in the guest, 9p's
# cache=loose: the host must leave them alone while the guest runs), loads
# the openvswitch and veth modules, and runs COMMAND as root in the current
# directory, with /lib/modules/$(uname -r)/build pointing at the guest
# kernel's headers (for BCC).  Everything the command prints goes to the console, which
# this script copies to its standard output (and to LOG, by default
# build/vm/console.log); it exits with the command's status, or 124 when
# the guest did not finish within SECONDS (default 1800), or 125 when the
# guest could not run the command.
#
# scripts/vm.sh --install installs what the guest needs (qemu, the kernel,
# busybox, the kernel's headers, and ping, nc, tcpdump and wget, which the
# kernel datapath tests run) and exits; scripts/deps.sh calls it.
#
# Environment: VM_MEM (MiB, default 4096), VM_CPUS (default: all), VM_KERNEL
# (a /boot/vmlinuz-* file; default the newest with an openvswitch module).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
vmdir=$top/build/vm
pkgs="qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static
      iputils-ping netcat-openbsd tcpdump wget"

die() { echo "vm.sh: $*" >&2; exit 125; }

install_deps() {
    local p missing=""
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | \
            grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "vm.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && \
        # shellcheck disable=SC2086
        apt-get install -y -q $missing >/dev/null
}

# The guest side, run by the initramfs's /init once the root is mounted
# (see make_initramfs): mounts what a Debian system has, runs the command
# that the host left in $vmdir/cmd and leaves its status in $vmdir/status.
guest() {
    local kver status
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /dev/shm
    # A tree under one of the directories that get a tmpfs (a clone in
    # /tmp) would be hidden by it, with its build directory: it is set
    # aside on /mnt first, then mounted back at its path.
    local d hidden=""
    for d in /tmp /run /var/tmp /var/log; do
        case $top/ in "$d"/*) hidden=$d ;; esac
    done
    [ -z "$hidden" ] || mount --rbind "$top" /mnt
    for d in /tmp /run /var/tmp /var/log; do
        mount -t tmpfs tmpfs "$d"
    done
    if [ -n "$hidden" ]; then
        mkdir -p "$top" && mount --rbind /mnt "$top"
    fi
    mkdir -p /run/lock
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
    mount -t bpf bpf /sys/fs/bpf 2>/dev/null
    mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
    ip link set lo up
    kver=$(uname -r)
    # BCC compiles against /lib/modules/$(uname -r)/build: this machine's
    # root carries the guest kernel's modules and headers, so the link is
    # the package's own.
    modprobe openvswitch && modprobe veth || {
        echo "vm.sh: guest: cannot load openvswitch and veth for $kver"
        echo 125 > "$vmdir/status"
        return
    }
    [ -e "/lib/modules/$kver/build/include" ] || \
        echo "vm.sh: guest: no kernel headers for $kver (BCC will not work)"
    # The command, as the host gave it, and its status.
    (
        mkdir -p /tmp/root
        cd "$(cat "$vmdir/cwd")" || exit 125
        export HOME=/tmp/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        export TERM=dumb LANG=C.UTF-8
        # shellcheck disable=SC1091
        . "$vmdir/env"
        bash "$vmdir/cmd"
    ) < /dev/null
    status=$?
    echo "$status" > "$vmdir/status"
    sync
}

# Builds $vmdir/initramfs.cpio.gz for kernel $kver: busybox, the modules
# that 9p over virtio needs, and an /init that mounts the root and calls
# "vm.sh --guest" in it.
make_initramfs() {
    local kver=$1 ird=$vmdir/initramfs m mods f
    rm -rf "$ird"
    mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
    cp /bin/busybox "$ird/bin/busybox"
    # The modules, dependencies first.
    mods=""
    add_mod() {
        local dep
        case " $mods " in *" $1 "*) return ;; esac
        for dep in $(modinfo -k "$kver" -F depends "$1" | tr ',' ' '); do
            add_mod "$dep"
        done
        mods="$mods $1"
    }
    for m in virtio_pci 9pnet_virtio 9p; do
        add_mod "$m"
    done
    : > "$ird/lib/modules/order"
    for m in $mods; do
        f=$(modinfo -k "$kver" -F filename "$m") || return 1
        case $f in
        /*) cp "$f" "$ird/lib/modules/"
            echo "${f##*/}" >> "$ird/lib/modules/order" ;;
        esac
    done
    cat > "$ird/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
for m in \$(cat /lib/modules/order); do
    insmod /lib/modules/\$m
done
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose \\
        root /newroot &&
   mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose \\
        build /newroot$top/build; then
    umount /proc
    mount --move /dev /newroot/dev
    exec chroot /newroot /bin/bash $top/scripts/vm.sh --guest
fi
echo "vm.sh: initramfs: cannot mount the root over 9p"
poweroff -f
EOF
    chmod +x "$ird/init"
    (cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) \
        > "$vmdir/initramfs.cpio.gz"
}

# The newest /boot/vmlinuz-* whose modules have openvswitch.
pick_kernel() {
    local k v
    for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -rV); do
        v=${k#/boot/vmlinuz-}
        if modinfo -k "$v" -F filename openvswitch >/dev/null 2>&1; then
            echo "$k"
            return 0
        fi
    done
    return 1
}

case ${1:-} in
--guest)
    guest
    poweroff -f
    exit 0 ;;
--install)
    [ "$(id -u)" = 0 ] || die "must run as root (it installs packages)"
    install_deps || die "installing$pkgs failed"
    exit 0 ;;
esac

timeout=1800 log=$vmdir/console.log
while getopts t:l: opt; do
    case $opt in
    t) timeout=$OPTARG ;;
    l) log=$OPTARG ;;
    *) echo "usage: vm.sh [-t SECONDS] [-l LOG] COMMAND [ARG...]" >&2
       exit 125 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || die "usage: vm.sh [-t SECONDS] [-l LOG] COMMAND [ARG...]"
[ "$(id -u)" = 0 ] || die "must run as root"
command -v qemu-system-x86_64 >/dev/null || \
    die "qemu-system-x86_64 not found (run 'scripts/vm.sh --install')"
kernel=${VM_KERNEL:-$(pick_kernel)} || \
    die "no /boot/vmlinuz-* with an openvswitch module (run 'scripts/vm.sh --install')"
kver=${kernel#/boot/vmlinuz-}
case $PWD/ in
"$top"/build/*) ;;
*) die "run it from a directory under $top/build (the guest can write only there)" ;;
esac

mkdir -p "$vmdir"
make_initramfs "$kver" || die "cannot build the initramfs for $kver"
rm -f "$vmdir/status"
printf '%s\n' "$PWD" > "$vmdir/cwd"
# The command, as a script; its arguments quoted for bash.
printf '%q ' "$@" > "$vmdir/cmd"
echo >> "$vmdir/cmd"
# The variables that the tests read, as the host has them.
: > "$vmdir/env"
for v in CI TESTSUITEFLAGS OVS_BUILD KERNEL_CTL_TIMEOUT; do
    [ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}" >> "$vmdir/env"
done

: > "$log"
# The serial console ends lines with CR LF.
tail -n +1 -f "$log" > >(tr -d '\r') &
tailpid=$!
timeout "$timeout" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp "${VM_CPUS:-$(nproc)}" \
    -m "${VM_MEM:-4096}" \
    -kernel "$kernel" -initrd "$vmdir/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet loglevel=1 panic=-1" \
    -virtfs local,path=/,mount_tag=root,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$top/build",mount_tag=build,security_model=none,multidevs=remap \
    -nic none -display none -monitor none -no-reboot \
    -serial file:"$log" < /dev/null
qrc=$?
sleep 0.2
kill "$tailpid" 2>/dev/null
wait "$tailpid" 2>/dev/null
if [ "$qrc" = 124 ]; then
    echo "vm.sh: the guest did not finish within $timeout s" >&2
    exit 124
fi
if [ ! -s "$vmdir/status" ]; then
    echo "vm.sh: the guest ended (qemu status $qrc) without running the command (see $log)" >&2
    exit 125
fi
exit "$(cat "$vmdir/status")"
