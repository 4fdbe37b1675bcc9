/*
 * Copyright (c) 2026 The Open vSwitch flow observability contributors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

#ifndef OVS_FLOWWATCH_H
#define OVS_FLOWWATCH_H 1

/* What ovs-flowwatch.bpf.c, the BPF program of ovs-flowwatch, and
 * ovs-flowwatch.c, its user space, share: the records of the ring buffer,
 * the counters and the compiled filter.  Only fixed-size types from
 * <linux/types.h>, so that both compilers lay them out alike. */

#include <linux/types.h>

#define FW_MAX_KEY 1024         /* Key (and mask) bytes copied. */
#define FW_MAX_ATTRS 64         /* Key attributes indexed per install. */
#define FW_N_ATTR_TYPES 32      /* Attribute types indexed (all below). */
#define FW_MAX_TERMS 16         /* Terms of a compiled filter. */
#define FW_TERM_BYTES 8         /* Bytes compared by one term. */
#define FW_COMM_LEN 16

/* Record types. */
enum fw_event_type {
    FW_EV_INSTALL = 1,
    FW_EV_VERDICT = 2,
    FW_EV_REMOVE = 4,
};

/* Counters, in the BPF program's 'fw_stats'. */
enum fw_stat {
    FW_ST_INSTALLS,             /* Installs seen (not feature probes). */
    FW_ST_FOLLOWED,             /* Installs followed. */
    FW_ST_VERDICTS,             /* Verdicts seen. */
    FW_ST_DROPPED,              /* Verdicts dropped in the kernel. */
    FW_ST_SENT,                 /* Records written to the ring buffer. */
    FW_ST_LOST,                 /* Records that did not fit in it. */
    FW_ST_AGAIN,                /* Installs of a followed UFID. */
    FW_ST_PROBES,               /* Feature probes' installs. */
    FW_ST_MAP_FULL,             /* Installs that did not fit in the map. */
    FW_ST_KEY_FAILED,           /* Keys that could not be read. */
    FW_ST_UNFOLLOWED,           /* Verdicts on flows not followed. */
    FW_ST_REMOVALS,             /* Removals from the datapath. */
    FW_ST_MAX
};

/* Why an install was not followed ('status' of struct fw_install). */
enum fw_follow_status {
    FW_FOLLOWED = 0,
    FW_MAP_FULL = 1,
    FW_KEY_FAILED = 2,
};

struct fw_hdr {
    __u32 type;                 /* enum fw_event_type. */
    __u32 tid;
    __u64 ts;                   /* CLOCK_MONOTONIC, nanoseconds. */
    char comm[FW_COMM_LEN];
    __u32 ufid[4];
};

struct fw_install {
    struct fw_hdr hdr;
    __u32 status;               /* enum fw_follow_status. */
    __u32 key_len;              /* Length of the key in ovs-vswitchd. */
    __u32 mask_len;             /* Length of the mask in ovs-vswitchd. */
    __u32 key_n;                /* Key bytes in 'data'. */
    __u32 mask_n;               /* Mask bytes in 'data', after the key. */
    __u32 pad;
    __u8 data[2 * FW_MAX_KEY];
};

struct fw_verdict {
    struct fw_hdr hdr;
    __u64 install_ns;           /* 0 when the install was not seen. */
    __u64 removed_ns;           /* Nonzero for the ukey of a removed flow. */
    __u32 result;               /* UKEY_KEEP, UKEY_DELETE, UKEY_MODIFY. */
    __u32 reason;               /* enum flow_del_reason, the finest. */
    __u32 phase;                /* 0: dump, 1: sweep. */
    __u32 upstream_reason;      /* The one upstream's probes report. */
};

struct fw_remove {
    struct fw_hdr hdr;
    __u64 install_ns;
};

/* One term of a compiled filter: the flow's key must have a top-level
 * attribute 'type' whose payload is at least 'off' + 'len' bytes long, and
 * agree with 'value' on every bit set in both 'mask' and the flow's mask
 * (all of them when the flow has no mask). */
struct fw_term {
    __u16 type;
    __u16 off;
    __u16 len;                  /* At most FW_TERM_BYTES; 0: presence. */
    __u16 pad;
    __u8 value[FW_TERM_BYTES];
    __u8 mask[FW_TERM_BYTES];
};

#endif /* ovs-flowwatch.h */
