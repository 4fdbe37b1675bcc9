/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Copyright (c) 2026 The Open vSwitch flow observability contributors.
 *
 * Unlike the rest of Open vSwitch (Apache-2.0), this BPF program is under
 * the GPL version 2 or the 2-clause BSD licence, at your option, and says
 * so to the kernel ("Dual BSD/GPL" below), as utilities/ovs-flowwatch.bpf.c
 * and the programs of libbpf-tools do.  It calls no helper that the kernel
 * keeps for GPL-compatible programs: the licence is the same as
 * ovs-flowwatch's for consistency, not because the kernel requires it.
 */

/* The BPF program of test-usdt-redzone-libbpf, compiled with "clang
 * -target bpf" when Open vSwitch is built and embedded in that program as
 * a libbpf skeleton: it counts the hits of the USDT probe that user space
 * attaches it to in 'hits', which user space reads through the skeleton. */

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 hits = 0;

SEC("usdt")
int BPF_USDT(count_hit)
{
    __sync_fetch_and_add(&hits, 1);
    return 0;
}
