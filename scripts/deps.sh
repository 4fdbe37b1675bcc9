#!/bin/bash
# Installs, idempotently, the Debian 12 packages that building, testing and
# demonstrating the series need, and points the running kernel's module
# directory at Debian's 6.1 header trees so that BCC can compile its
# programs.  Safe to run again: it only installs what is missing.
set -eu

pkgs="openvswitch-source autoconf automake libtool build-essential pkg-config
      libssl-dev libcap-ng-dev systemtap-sdt-dev python3 python3-sortedcontainers
      python3-netaddr python3-pyparsing bpftrace python3-bpfcc bpfcc-tools
      linux-headers-amd64 python3-psutil python3-scapy python3-pytest flake8
      python3-matplotlib valgrind gdb libbpf-dev bpftool clang
      iproute2 procps ccache"

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: must run as root (it installs Debian packages)" >&2
    exit 1
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "deps.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q $missing >/dev/null
fi

# BCC compiles against /lib/modules/$(uname -r)/build.  No Debian package
# matches the running kernel here, so link Debian's 6.1 amd64 and common
# header trees (enough for USDT programs).
kdir=/lib/modules/$(uname -r)
if [ ! -e "$kdir/build/include" ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1)
    common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null \
             | sort -V | tail -n1)
    if [ -n "$hdr" ] && [ -n "$common" ]; then
        mkdir -p "$kdir"
        ln -sfn "$hdr" "$kdir/build"
        ln -sfn "$common" "$kdir/source"
        echo "deps.sh: linked $kdir/build -> $hdr"
    fi
fi

# The qemu guest of the kernel datapath tests (scripts/vm.sh): qemu,
# Debian's kernel and its headers, busybox.
"$(dirname "$0")/vm.sh" --install || exit 1

# bpftrace and BCC need debugfs/tracefs for some probe types.
if [ ! -d /sys/kernel/tracing/events ] && [ -d /sys/kernel/tracing ]; then
    mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
fi
exit 0
