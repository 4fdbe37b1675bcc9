/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Copyright (c) 2026 The Open vSwitch flow observability contributors.
 *
 * Unlike the rest of Open vSwitch (Apache-2.0), this BPF program is under
 * the GPL version 2 or the 2-clause BSD licence, at your option, and says
 * so to the kernel ("Dual BSD/GPL" below), as the programs of libbpf-tools
 * do: the kernel lets only programs with a GPL-compatible licence call some
 * of the helpers that it uses, bpf_probe_read_user() among them.
 */

/* The BPF program of ovs-flowwatch, compiled with "clang -target bpf" when
 * Open vSwitch is built and embedded in ovs-flowwatch as a libbpf skeleton.
 *
 * It follows datapath flows by UFID, in the kernel: 'followed' holds the
 * flows that the install probes let in (all of them, or those that match
 * the compiled filter), with their install time; the revalidator's verdicts
 * and the datapaths' removals of the other flows stop here, and those of
 * the followed flows go to user space through the ring buffer 'events'.
 * The probes' arguments, as ofproto-dpif-upcall.c, dpif-netdev-usdt.c and
 * dpif-netlink.c fire them:
 *
 *   dp_flow_put, op_flow_put     (dpif, struct dpif_flow_put *, ...)
 *   dp_flow_del, op_flow_del     (dpif, struct dpif_flow_del *, ...)
 *   flow_result, flow_change,
 *   flow_sweep_result, flow_sweep_change
 *                                (udpif, ukey, result, reason, ufid, ...)
 *
 * struct dpif_flow_put and struct dpif_flow_del are read at the offsets of
 * their public layout (lib/dpif.h), on x86_64. */

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

#include "ovs-flowwatch.h"

#define IDX (2 * FW_MAX_KEY - 1)

#define DPIF_FP_CREATE 1
#define DPIF_FP_PROBE 8
#define UKEY_KEEP 0
#define UKEY_DELETE 1

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space before the program is loaded. */
const volatile __u32 follow_all = 1;    /* No filter: follow every flow. */
const volatile __u32 n_terms = 0;       /* Terms in 'terms'. */
const volatile __u64 ring_size = 0;     /* Bytes in 'events'. */
const volatile struct fw_term terms[FW_MAX_TERMS] = {};

/* Counters (enum fw_stat), read by user space through the skeleton. */
__u64 fw_stats[FW_ST_MAX] = {};

/* At least the number of entries in 'removed' and in 'unfollowed' (raised
 * before an insertion, lowered after a deletion that found the entry; an
 * LRU eviction leaves it high): while it is 0, the map is empty and the
 * verdicts of the flows that are not followed skip its lookup. */
__u64 n_removed = 0;
__u64 n_unfollowed = 0;

struct flow {
    __u64 install_ns;
    __u64 removed_ns;           /* In 'removed': when it left. */
};

struct ufid {
    __u32 w[4];
};

/* struct dpif_flow_put, up to 'pmd_id'. */
struct put {
    __u32 flags;
    __u32 pad;
    __u64 key;
    __u64 key_len;
    __u64 mask;
    __u64 mask_len;
    __u64 actions;
    __u64 actions_len;
    __u64 ufid;
    __u32 pmd_id;
};

/* Where each attribute type of the key and of the mask is: the offset in
 * the data of its payload, or -1, and its payload length. */
struct attr_index {
    __s16 kpos[FW_N_ATTR_TYPES];
    __s16 klen[FW_N_ATTR_TYPES];
    __s16 mpos[FW_N_ATTR_TYPES];
    __s16 mlen[FW_N_ATTR_TYPES];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096 * 512);  /* Set again at load. */
} events SEC(".maps");

/* A plain hash, not an LRU one, which may evict before it is full: an
 * install that does not fit is counted and remembered in 'unfollowed', so
 * that its verdicts are not taken for those that the filter drops. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ufid);
    __type(value, struct flow);
} followed SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ufid);
    __type(value, __u32);
} unfollowed SEC(".maps");

/* Without a filter, the UFIDs just given a delete verdict: the removal
 * from the datapath that follows is the revalidator's, not one of its
 * own. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ufid);
    __type(value, __u8);
} deleting SEC(".maps");

/* Flows removed from the datapath without a delete verdict: the verdict
 * on the ukey that such a flow leaves behind is stale. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct ufid);
    __type(value, struct flow);
} removed SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fw_install);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct attr_index);
} index_scratch SEC(".maps");

static __always_inline void
count(int i)
{
    if (i >= 0 && i < FW_ST_MAX) {
        __sync_fetch_and_add(&fw_stats[i], 1);
    }
}

/* When the program last woke user space (CLOCK_MONOTONIC, ns). */
__u64 last_wakeup_ns = 0;

#define WAKEUP_NS 10000000      /* At most one wake-up per 10 ms. */

/* The flags of a ring buffer write at 'now': a wake-up costs the probed
 * thread more than the rest of the program (an interrupt to itself, a trap
 * to the hypervisor in a virtual machine), so there is one at most every
 * 10 ms, and another whenever the buffer is a quarter full.  The records
 * written in between are read at the next wake-up or at user space's own
 * read, 100 ms after its last one. */
static __always_inline __u64
wakeup_flags(__u64 now)
{
    if (now - last_wakeup_ns >= WAKEUP_NS
        || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= ring_size / 4) {
        last_wakeup_ns = now;   /* A race between CPUs is harmless. */
        return BPF_RB_FORCE_WAKEUP;
    }
    return BPF_RB_NO_WAKEUP;
}

static __always_inline void
side_insert(void *map, __u64 *n, struct ufid *ufid, void *value)
{
    __sync_fetch_and_add(n, 1);
    bpf_map_update_elem(map, ufid, value, BPF_ANY);
}

static __always_inline void
side_delete(void *map, __u64 *n, struct ufid *ufid)
{
    if (*n && !bpf_map_delete_elem(map, ufid)) {
        __sync_fetch_and_add(n, -1);
    }
}

static __always_inline void *
side_lookup(void *map, __u64 *n, struct ufid *ufid)
{
    return *n ? bpf_map_lookup_elem(map, ufid) : NULL;
}

/* Writes the record 'data', whose header has been filled in. */
static __always_inline void
emit(void *data, __u64 size)
{
    __u64 now = ((struct fw_hdr *) data)->ts;

    if (bpf_ringbuf_output(&events, data, size, wakeup_flags(now))) {
        count(FW_ST_LOST);
    } else {
        count(FW_ST_SENT);
    }
}

static __always_inline void
fill_hdr(struct fw_hdr *h, __u32 type)
{
    h->type = type;
    h->tid = (__u32) bpf_get_current_pid_tgid();
    h->ts = bpf_ktime_get_ns();
    bpf_get_current_comm(&h->comm, sizeof h->comm);
}

/* Indexes the top-level attributes in d[start, end). */
static __always_inline void
index_attrs(const __u8 *d, int start, int end, __s16 *pos, __s16 *len)
{
    int off = start;

    for (int i = 0; i < FW_N_ATTR_TYPES; i++) {
        pos[i] = -1;
        len[i] = 0;
    }
    for (int i = 0; i < FW_MAX_ATTRS; i++) {
        if (off + 4 > end) {
            break;
        }
        int alen = d[off & IDX] | (d[(off + 1) & IDX] << 8);
        int atype = (d[(off + 2) & IDX] | (d[(off + 3) & IDX] << 8))
                    & 0x3fff;
        if (alen < 4 || off + alen > end) {
            break;
        }
        if (atype < FW_N_ATTR_TYPES && pos[atype] < 0) {
            pos[atype] = off + 4;
            len[atype] = alen - 4;
        }
        off += (alen + 3) & ~3;
    }
}

/* Whether the key in d[0, kn) and the mask in d[kn, kn + mn) (none when
 * 'mn' is 0) match the compiled filter. */
static __always_inline int
filter_match(const __u8 *d, int kn, int mn)
{
    struct attr_index *ix;
    __u32 zero = 0;

    if (follow_all) {
        return 1;
    }
    ix = bpf_map_lookup_elem(&index_scratch, &zero);
    if (!ix) {
        return 0;
    }
    index_attrs(d, 0, kn, ix->kpos, ix->klen);
    index_attrs(d, kn, kn + mn, ix->mpos, ix->mlen);

    for (int t = 0; t < FW_MAX_TERMS; t++) {
        if (t >= n_terms) {
            break;
        }
        __u32 type = terms[t].type & (FW_N_ATTR_TYPES - 1);
        int off = terms[t].off;
        int len = terms[t].len;
        int kp = ix->kpos[type];
        int mp = ix->mpos[type];
        int ml = ix->mlen[type];

        if (kp < 0 || off + len > ix->klen[type]) {
            return 0;
        }
        for (int j = 0; j < FW_TERM_BYTES; j++) {
            if (j >= len) {
                break;
            }
            __u8 kb = d[(kp + off + j) & IDX];
            __u8 fm = terms[t].mask[j];
            __u8 mb;

            if (!mn) {
                mb = 0xff;      /* No mask: an exact match flow. */
            } else if (mp < 0 || off + j >= ml) {
                mb = 0;         /* Wildcarded by the flow. */
            } else {
                mb = d[(mp + off + j) & IDX];
            }
            if ((kb ^ terms[t].value[j]) & fm & mb) {
                return 0;
            }
        }
    }
    return 1;
}

static __always_inline int
install(__u64 put_ptr)
{
    struct put put = {};
    struct ufid ufid = {};
    struct fw_install *ev;
    __u32 zero = 0;
    int key_failed = 0;

    if (!put_ptr || bpf_probe_read_user(&put, sizeof put, (void *) put_ptr)
        || !put.ufid) {
        return 0;
    }
    if (!(put.flags & DPIF_FP_CREATE)) {
        /* A modification, reported by its verdict. */
        return 0;
    }
    if (put.flags & DPIF_FP_PROBE) {
        /* ovs-vswitchd probing the datapath's features: not a flow. */
        count(FW_ST_PROBES);
        return 0;
    }
    count(FW_ST_INSTALLS);
    if (bpf_probe_read_user(&ufid, sizeof ufid, (void *) put.ufid)) {
        count(FW_ST_KEY_FAILED);
        return 0;
    }
    if (bpf_map_lookup_elem(&followed, &ufid)) {
        /* Installed again (once per PMD thread): the lifetime runs from
         * the first install. */
        count(FW_ST_AGAIN);
        return 0;
    }

    ev = bpf_map_lookup_elem(&scratch, &zero);
    if (!ev) {
        return 0;
    }
    __u64 kn = put.key_len;
    __u64 mn = put.mask ? put.mask_len : 0;
    ev->key_len = put.key_len;
    ev->mask_len = mn;
    if (kn > FW_MAX_KEY) {
        kn = FW_MAX_KEY;
    }
    if (mn > FW_MAX_KEY) {
        mn = FW_MAX_KEY;
    }
    /* Keep the compiler from reloading the unclamped lengths. */
    asm volatile("" : "+r"(kn), "+r"(mn));
    if (kn > FW_MAX_KEY || mn > FW_MAX_KEY) {
        return 0;
    }
    if (bpf_probe_read_user(ev->data, kn, (void *) put.key)) {
        kn = 0;
        key_failed = 1;
    }
    asm volatile("" : "+r"(kn));
    if (kn > FW_MAX_KEY) {
        return 0;
    }
    if (mn && bpf_probe_read_user(ev->data + kn, mn, (void *) put.mask)) {
        mn = 0;
        key_failed = 1;
    }
    ev->key_n = kn;
    ev->mask_n = mn;
    ev->status = FW_FOLLOWED;
    if (key_failed) {
        /* Followed without its key, unless a filter needs the key. */
        count(FW_ST_KEY_FAILED);
        if (!follow_all) {
            __u32 why = FW_KEY_FAILED;

            side_insert(&unfollowed, &n_unfollowed, &ufid, &why);
            return 0;
        }
    } else if (!filter_match(ev->data, kn, mn)) {
        return 0;
    }

    struct flow flow = { .install_ns = bpf_ktime_get_ns() };
    if (follow_all) {
        bpf_map_delete_elem(&deleting, &ufid);
    }
    side_delete(&removed, &n_removed, &ufid);
    if (bpf_map_update_elem(&followed, &ufid, &flow, BPF_NOEXIST)) {
        __u32 why = FW_MAP_FULL;

        count(FW_ST_MAP_FULL);
        side_insert(&unfollowed, &n_unfollowed, &ufid, &why);
        ev->status = FW_MAP_FULL;
    } else {
        count(FW_ST_FOLLOWED);
    }
    fill_hdr(&ev->hdr, FW_EV_INSTALL);
    __builtin_memcpy(ev->hdr.ufid, ufid.w, sizeof ufid.w);
    ev->hdr.ts = flow.install_ns;

    __u64 size = __builtin_offsetof(struct fw_install, data) + kn + mn;
    if (size > sizeof *ev) {
        size = sizeof *ev;
    }
    emit(ev, size);
    return 0;
}

/* Argument 'i' of the probe that fired, or 0 if it cannot be read.  Each
 * read looks up the probe's argument specification, so the programs read
 * only the arguments that they use (libbpf's BPF_USDT() reads every one up
 * to the last that it names). */
static __always_inline __u64
usdt_arg(struct pt_regs *ctx, __u64 i)
{
    long value = 0;

    bpf_usdt_arg(ctx, i, &value);
    return value;
}

/* A flow enters the datapath: argument 1 is a struct dpif_flow_put. */
SEC("usdt")
int
on_install(struct pt_regs *ctx)
{
    return install(usdt_arg(ctx, 1));
}

/* A flow leaves the datapath: argument 1 is a struct dpif_flow_del, whose
 * UFID pointer is at offset 16. */
SEC("usdt")
int
on_remove(struct pt_regs *ctx)
{
    void *del = (void *) usdt_arg(ctx, 1);
    struct fw_remove ev = {};
    struct ufid ufid;
    struct flow *flow;
    __u64 ufid_ptr = 0;

    if (!del
        || bpf_probe_read_user(&ufid_ptr, sizeof ufid_ptr,
                               (char *) del + 16)
        || !ufid_ptr
        || bpf_probe_read_user(&ufid, sizeof ufid, (void *) ufid_ptr)) {
        return 0;
    }
    if (follow_all && bpf_map_lookup_elem(&deleting, &ufid)) {
        /* The revalidator's own deletion, reported by its verdict. */
        return 0;
    }
    if (side_lookup(&removed, &n_removed, &ufid)) {
        /* Another PMD thread's copy of the flow. */
        return 0;
    }
    flow = bpf_map_lookup_elem(&followed, &ufid);
    if (!flow && !follow_all) {
        return 0;
    }

    struct flow gone = { .removed_ns = bpf_ktime_get_ns() };
    if (flow) {
        ev.install_ns = gone.install_ns = flow->install_ns;
        bpf_map_delete_elem(&followed, &ufid);
    }
    side_insert(&removed, &n_removed, &ufid, &gone);
    count(FW_ST_REMOVALS);
    fill_hdr(&ev.hdr, FW_EV_REMOVE);
    __builtin_memcpy(ev.hdr.ufid, ufid.w, sizeof ufid.w);
    ev.hdr.ts = gone.removed_ns;
    emit(&ev, sizeof ev);
    return 0;
}

static __always_inline int
verdict(__u32 phase, __u32 result, __u32 reason, __u32 upstream_reason,
        __u64 ufid_ptr)
{
    struct fw_verdict ev = {};
    struct flow *flow, *gone = NULL;
    struct ufid ufid;

    count(FW_ST_VERDICTS);
    if (!ufid_ptr
        || bpf_probe_read_user(&ufid, sizeof ufid, (void *) ufid_ptr)) {
        return 0;
    }

    flow = bpf_map_lookup_elem(&followed, &ufid);
    if (!flow) {
        gone = side_lookup(&removed, &n_removed, &ufid);
    }
    if (gone) {
        /* The ukey of a flow no longer in the datapath. */
        ev.install_ns = gone->install_ns;
        ev.removed_ns = gone->removed_ns;
        if (result == UKEY_DELETE) {
            side_delete(&removed, &n_removed, &ufid);
        }
    } else if (!flow) {
        if (side_lookup(&unfollowed, &n_unfollowed, &ufid)) {
            /* Not followed for want of room or of its key: not a verdict
             * that the filter dropped. */
            count(FW_ST_UNFOLLOWED);
            if (result == UKEY_DELETE) {
                side_delete(&unfollowed, &n_unfollowed, &ufid);
            }
            if (!follow_all) {
                return 0;
            }
        } else if (!follow_all) {
            count(FW_ST_DROPPED);
            return 0;
        }
    }
    if (flow) {
        ev.install_ns = flow->install_ns;
        if (result == UKEY_DELETE) {
            bpf_map_delete_elem(&followed, &ufid);
        }
    }
    if (follow_all && result == UKEY_DELETE) {
        /* The removal probe fires for the revalidator's deletion, even of
         * a stale ukey on the kernel datapath: not another removal. */
        __u8 one = 1;

        bpf_map_update_elem(&deleting, &ufid, &one, BPF_ANY);
    }
    fill_hdr(&ev.hdr, FW_EV_VERDICT);
    __builtin_memcpy(ev.hdr.ufid, ufid.w, sizeof ufid.w);
    ev.result = result;
    ev.reason = reason;
    ev.phase = phase;
    ev.upstream_reason = upstream_reason;
    emit(&ev, sizeof ev);
    return 0;
}

/* A verdict: arguments 2 to 5 are its result, upstream's reason, the UFID
 * and the finest reason. */
static __always_inline int
on_verdict(struct pt_regs *ctx, __u32 phase)
{
    return verdict(phase, (int) usdt_arg(ctx, 2), (int) usdt_arg(ctx, 5),
                   (int) usdt_arg(ctx, 3), usdt_arg(ctx, 4));
}

SEC("usdt")
int
on_dump(struct pt_regs *ctx)
{
    return on_verdict(ctx, 0);
}

SEC("usdt")
int
on_sweep(struct pt_regs *ctx)
{
    return on_verdict(ctx, 1);
}

/* The deletion, in the dump phase, of a datapath flow that has no ukey:
 * argument 1 is the UFID, argument 2 the reason. */
SEC("usdt")
int
on_unexpected(struct pt_regs *ctx)
{
    __u32 reason = usdt_arg(ctx, 2);

    return verdict(0, UKEY_DELETE, reason, reason, usdt_arg(ctx, 1));
}
