#!/usr/bin/env python3
#
# Copyright (c) 2026 The Open vSwitch flow observability contributors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at:
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# Script information:
# -------------------
# filter_probe.py follows the life of datapath flows: it reports when each
# flow is installed, when the revalidator modifies it and when, and why, the
# revalidator deletes it, and when a flow leaves the datapath otherwise.
# It attaches to these USDT probes:
#
#   dp_netdev_flow_add:dp_flow_put        flow installed (userspace datapath)
#   dpif_netlink_operate__:op_flow_put    flow installed (kernel datapath)
#   dp_netdev_pmd_remove_flow:dp_flow_del flow removed (userspace datapath)
#   dpif_netlink_operate__:op_flow_del    flow removed (kernel datapath)
#   revalidate:flow_change                MODIFY/DELETE verdict, dump phase
#   revalidator_sweep__:flow_sweep_change MODIFY/DELETE verdict, sweep phase
#   revalidate:flow_result and revalidator_sweep__:flow_sweep_result
#                                         every verdict, with --keeps only
#   revalidate:flow_unexpected            DELETE of a flow without a ukey
#
# The probes hand over the flow's UFID and the install probes a
# 'struct dpif_flow_put', whose layout is public ABI, so the script needs no
# debug information and no structure offsets.  It correlates the events by
# UFID, in the kernel: a BPF hash map holds the followed flows and their
# install time.  With -f, the filter is compiled into a BPF program that
# the install probes' programs tail-call (so that the kernel verifies its
# loops once), so only the flows that match it are followed, and the
# verdicts on the other flows are dropped in the kernel, after one hash
# lookup: a filter that matches nothing wakes up nothing in user space.
# Without -f, every flow is followed, including those installed before the
# script started (their lifetime is then unknown).
#
# Example output: ovs-vswitchd (userspace datapath) with the OpenFlow rules
# "ip,nw_src=10.0.0.1,actions=output:2" and the same for 10.0.0.2, and
# other_config:max-idle=1000; a UDP packet from 10.0.0.1 makes a flow that
# goes idle; one from 10.0.0.2 makes a flow that "ovs-ofctl mod-flows" then
# modifies and "ovs-appctl revalidator/purge" deletes.  Lines longer than
# 79 columns are broken with '\' here:
#
#   $ sudo python3 filter_probe.py -k --summary
#   TIME             THREAD          UFID                                    \
#     EVENT    REASON         LIFETIME
#   12:55:24.099085  ovs-vswitchd    ufid:8ee6cbcf-269e-4243-9f61-2ae20eda9c6\
#   a install  -              -
#     recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(s\
#   rc=10.0.0.1,frag=no)
#   12:55:25.293421  revalidator4    ufid:8ee6cbcf-269e-4243-9f61-2ae20eda9c6\
#   a delete   idle           1.194s
#   12:55:27.108289  ovs-vswitchd    ufid:23e2461d-ec34-4328-9728-a14f70f62ea\
#   4 install  -              -
#     recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(s\
#   rc=10.0.0.2,frag=no)
#   12:55:27.418204  revalidator4    ufid:23e2461d-ec34-4328-9728-a14f70f62ea\
#   4 modify   -              0.310s
#   12:55:27.825316  ovs-vswitchd    ufid:23e2461d-ec34-4328-9728-a14f70f62ea\
#   4 delete   purge          0.717s
#   ^C
#   SUMMARY
#     events: 2 install, 1 modify, 2 delete, 0 keep, 0 remove
#     REASON         DELETES   TIMED        MIN        AVG        MAX
#     idle                 1       1     1.194s     1.194s     1.194s
#     purge                1       1     0.717s     0.717s     0.717s
#     kernel: 2 installs seen, 2 followed, 0 installed again, 0 feature prob\
#   es; 3 verdicts seen, 0 dropped in the kernel; 5 events received
#     not followed: 0 (map full), 0 (key unreadable); 0 verdicts of them
#     lost events: 0
#
# The columns, as watch_flows.bt prints them too (without THREAD):
#
#   TIME      UTC wall clock, HH:MM:SS.uuuuuu, as Open vSwitch's logs give it.
#   THREAD    the thread that installed the flow or judged it.
#   UFID      ufid:UUID, as "ovs-appctl dpctl/dump-flows -m" prints it.
#   EVENT     install, modify, delete (or keep, with --keeps), remove.
#   REASON    for a delete, why, the finest reason the probes give (see
#             the list below; in JSON, "upstream_reason" is the one
#             upstream's probes report, "idle" for "limit_idle" for
#             instance); for a remove,
#             "datapath"; for an install of a
#             flow that does not fit in the map of followed flows,
#             "map_full" (see "Bounded state"); else "-".
#   LIFETIME  for a modify or delete, the time since the install, in
#             milliseconds, as 1.899s; "?" when the install was not seen
#             (before the tool started, or not followed); "-" for installs;
#             "stale" for the verdict on the ukey of a removed flow.
#
# A flow removed from the datapath without a delete verdict ("ovs-appctl
# dpctl/del-flows", a datapath flush, a feature probe's flow) is reported
# as EVENT "remove", REASON "datapath", with the lifetime it had.  Its ukey
# stays behind until the revalidator deletes it, reported as a "delete"
# with the revalidator's reason and LIFETIME "stale" (in JSON, "stale":
# true and "removed_ago", the seconds since the removal).  The summary
# counts removals as "(datapath)".  The removal probes fire for the
# revalidator's own deletions too, just after their verdicts: the script
# tells them apart by the verdict, in the kernel.  On the kernel datapath
# only the removal of single flows is seen ("ovs-appctl dpctl/del-flow",
# which goes through op_flow_del): a flush ("ovs-appctl dpctl/del-flows")
# and any removal by another process ("ovs-dpctl del-flows") fire no probe
# of ovs-vswitchd, so such flows are reported when the revalidator deletes
# their ukey, with the lifetime of their ukey.
#
# Both tools follow a UFID from its first install: an install of a UFID
# that is still followed (the userspace datapath installs a flow once per
# PMD thread, under one UFID) is counted ("installed again"), not printed.
# The installs that ovs-vswitchd makes to probe the datapath's features
# (DPIF_FP_PROBE) are counted ("feature probes"), not followed.  (The
# userspace datapath's dp_flow_put probe does not tell them apart: there,
# both tools see them as flows.)
#
# Bounded state: the kernel follows at most --max-flows flows at once, in a
# plain hash map (an LRU map would evict silently).  An install that does
# not fit is printed with REASON "map_full", its later verdicts are counted
# ("verdicts of them"), not mistaken for verdicts that -f drops, and the
# first such install is reported at once on stderr ("WARNING: 2 flows not
# followed (2 in all): the map of followed flows is full; run with a larger
# --max-flows (now 4)"), with --json also as {"event": "not_followed",
# ...}.  So is a key that cannot be read from ovs-vswitchd's memory: with
# -f the flow cannot be matched and is not followed, without -f it is
# followed without its key.  With --reason and -k, user space holds the
# key of each followed flow until its deletion, and the kernel tells it to
# drop the keys of deletions that --reason filters out.
#
# The UFIDs are those that "ovs-appctl dpctl/dump-flows -m" prints, the keys
# what "ovs-appctl dpctl/dump-flows" prints.  The same run with --json, one
# object per line:
#
#   $ sudo python3 filter_probe.py -k --json
#   {"event": "start", "pid": 21265, "probes": ["dp_netdev_flow_add:dp_flow_\
#   put", "dpif_netlink_operate__:op_flow_put", "dp_netdev_pmd_remove_flow:d\
#   p_flow_del", "dpif_netlink_operate__:op_flow_del", "revalidate:flow_chan\
#   ge", "revalidator_sweep__:flow_sweep_change"]}
#   {"time": 1795352124.099033, "thread": "ovs-vswitchd", "tid": 21265, "ufi\
#   d": "ufid:8ee6cbcf-269e-4243-9f61-2ae20eda9c6a", "event": "install", "re\
#   ason": null, "lifetime": null, "key": "recirc_id(0),in_port(1),packet_ty\
#   pe(ns=0,id=0),eth_type(0x0800),ipv4(src=10.0.0.1,frag=no)"}
#   {"time": 1795352125.293392, "thread": "revalidator4", "tid": 21279, "ufi\
#   d": "ufid:8ee6cbcf-269e-4243-9f61-2ae20eda9c6a", "event": "delete", "rea\
#   son": "idle", "lifetime": 1.194359, "phase": "dump"}
#   ...
#   {"time": 1795352127.825276, "thread": "ovs-vswitchd", "tid": 21265, "ufi\
#   d": "ufid:23e2461d-ec34-4328-9728-a14f70f62ea4", "event": "delete", "rea\
#   son": "purge", "lifetime": 0.717016, "phase": "sweep"}
#
# Lost events (a full ring buffer) are counted in the kernel and reported at
# once on stderr ("WARNING: 40 events lost (40 in all): the ring buffer was
# full; run with a larger --buffer-page-count (now 1)"), with --json also as
# {"event": "lost", ...} records, and in the summary.
#
# Exit status: 0 when stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP, or
# when the reader of its output goes away ("| head"); 2 for bad options;
# 1 for every other failure, each said in one line on stderr, without a
# traceback: no such ovs-vswitchd, no probes, a bad filter, an output or
# pcap file that cannot be written (a full disk), ovs-vswitchd exiting
# while followed (the summary is printed first).  Whatever the exit, the
# kernel detaches the probes and disables their semaphores.
#
# Deletion reasons: none, avoid_caching, bad_odp_fit, idle, flow_limit,
# wildcarded, no_ofproto, purge, too_expensive, update_fail, xlation_error,
# missing_dp, limit_idle, unexpected, pmd_removed, bad_key, no_bridge.
#
# The following are the available options:
#
#   usage: filter_probe.py [-h] [-p VSWITCHD_PID] [-f EXPR]
#                          [--reason REASON[,REASON...]] [--keeps] [-k]
#                          [--json] [-w FILE] [--summary]
#                          [--buffer-page-count NUMBER] [--max-flows NUMBER]
#
#   options:
#     -h, --help            show this help message and exit
#     -p VSWITCHD_PID, --pid VSWITCHD_PID
#                           the PID of the ovs-vswitchd to follow; without
#                           it, the only one running (the script says which
#                           on stderr), and an error when several run
#     -f EXPR, --filter EXPR
#                           follow only the flows whose key matches EXPR, an
#                           ODP flow expression as "ovs-appctl dpctl/add-flow"
#                           accepts it, masks included, e.g.
#                           'eth_type(0x0800),ipv4(src=10.0.0.0/255.255.255.0)'
#                           (see "filter" below)
#     --reason REASON[,REASON...]
#                           report only deletions for these reasons (installs
#                           and modifications are then not reported)
#     --keeps               also report "keep" verdicts; this attaches to the
#                           probes that fire for every verdict, so every kept
#                           flow costs a uprobe trap in each revalidation
#     -k, --flow-keys       print the key (and mask) of each installed flow as
#                           "ovs-appctl dpctl/dump-flows" prints it
#     --json                print one JSON object per event instead of text
#     -w FILE, --pcap FILE  write one packet per followed flow to FILE (see
#                           "pcap" below)
#     --summary             at exit, print counts per reason and lifetime
#                           statistics per reason
#     --buffer-page-count NUMBER
#                           pages (a power of 2) in the BPF ring buffer that
#                           carries the events, default 1024
#     --max-flows NUMBER    flows followed at once, default 65536
#
# See "filter_probe.py --help" for the filter syntax and what the pcap holds,
# and for builds with shared libraries ("builds"): the script finds the
# probes in the executable or in the libraries that ovs-vswitchd has loaded
# (libofproto and libopenvswitch for --enable-shared), and gives the kernel
# the file offsets of the probes and of their semaphores in the object
# that holds them, computed from its program headers (in a non-PIE
# executable, as in most data segments, they differ from the addresses).
#
# The script needs its modules ovs_flow_keys.py (the key decoder) and
# ovs_flow_filter.py (the filter), which are installed beside it: it finds
# them in its own directory.
#
import argparse
import ctypes
import json
import os
import re
import signal
import struct
import sys
import time

# The key decoder and the filter live in modules beside this script, in the
# source tree and where it is installed.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
from ovs_flow_filter import FilterError, filter_to_c, parse_filter  # noqa
from ovs_flow_keys import format_flow, packet_from_key  # noqa


PROG = "filter_probe.py"

REASONS = ["none", "avoid_caching", "bad_odp_fit", "idle", "flow_limit",
           "wildcarded", "no_ofproto", "purge", "too_expensive",
           "update_fail", "xlation_error", "missing_dp", "limit_idle",
           "unexpected", "pmd_removed", "bad_key", "no_bridge"]
RESULTS = ["keep", "delete", "modify"]


def reason_name(reason):
    return REASONS[reason] if reason < len(REASONS) else str(reason)


DEFAULT_PAGE_COUNT = 1024
DEFAULT_MAX_FLOWS = 65536
MAX_KEY = 1024        # Key (and mask) bytes copied; a power of 2.
# Attributes walked per level by the BPF filter: a level holds each
# attribute type once at most, and the OVS_KEY_ATTR_* stop below 32.
MAX_ATTRS = 32


class ToolError(Exception):
    """An error reported as one line, with a non-zero exit status."""


def warn(msg):
    """Writes "filter_probe.py: MSG" to stderr (which may be gone)."""
    try:
        sys.stderr.write("%s: %s\n" % (PROG, msg))
        sys.stderr.flush()
    except OSError:
        pass


#
# UFIDs.
#
def format_ufid(raw):
    """Formats the 16 bytes of an ovs_u128 UFID as dpctl/dump-flows does:
    four native-endian 32-bit words printed as a UUID."""
    w0, w1, w2, w3 = struct.unpack("<4I", bytes(raw[:16]))
    return "%08x-%04x-%04x-%04x-%04x%08x" % (w0, w1 >> 16, w1 & 0xffff,
                                             w2 >> 16, w2 & 0xffff, w3)


#
# The BPF program.  BCC declares every program it loads "GPL" to the kernel
# (some of the helpers it calls, bpf_probe_read_user() among them, are for
# GPL-compatible programs only), so, unlike the rest of this file, the
# program text in EBPF_SOURCE and VERDICT_SOURCE is also available under the
# GPL version 2.
#
EBPF_SOURCE = r"""
/* TASK_COMM_LEN, without <linux/sched.h>: compiling that header took
 * about half of the tool's start-up. */
#define COMM_LEN 16

#define MAX_KEY <MAX_KEY>
#define IDX (2 * MAX_KEY - 1)
#define MAX_ATTRS <MAX_ATTRS>
#define FOLLOW_ALL <FOLLOW_ALL>
#define SEND_INSTALLS <SEND_INSTALLS>
#define SHOW_KEEPS <SHOW_KEEPS>
#define REASON_MASK <REASON_MASK>ULL

enum { EV_INSTALL = 1, EV_VERDICT = 2, EV_FORGET = 3, EV_REMOVE = 4 };
enum { UKEY_KEEP = 0, UKEY_DELETE = 1, UKEY_MODIFY = 2 };
enum { ST_INSTALLS, ST_FOLLOWED, ST_VERDICTS, ST_DROPPED, ST_SENT, ST_LOST,
       ST_AGAIN, ST_PROBES, ST_MAP_FULL, ST_KEY_FAILED, ST_UNFOLLOWED,
       ST_REMOVALS, ST_MAX };
/* Why an install was not followed (struct install_t's 'status'). */
enum { NF_FOLLOWED = 0, NF_MAP_FULL = 1, NF_KEY_FAILED = 2 };
#define DPIF_FP_CREATE 1
#define DPIF_FP_PROBE 8

struct ufid_t {
    u32 w[4];
};

struct flow_t {
    u64 install_ns;
    u64 removed_ns;     /* In 'removed': when it left the datapath. */
};

struct hdr_t {
    u32 type;
    u32 tid;
    u64 ts;
    char comm[COMM_LEN];
    struct ufid_t ufid;
};

struct install_t {
    struct hdr_t hdr;
    u32 status;
    u32 key_len;
    u32 mask_len;
    u32 key_n;
    u32 mask_n;
    u8 data[2 * MAX_KEY];
};

struct verdict_t {
    struct hdr_t hdr;
    u64 install_ns;
    u64 removed_ns;
    u32 result;
    u32 reason;                 /* The finest reason (arg5). */
    u32 phase;
    u32 upstream_reason;        /* Upstream's reason (arg3). */
};

/* struct dpif_flow_put, up to the UFID pointer (public ABI). */
struct put_t {
    u32 flags;
    u32 pad;
    u64 key;
    u64 key_len;
    u64 mask;
    u64 mask_len;
    u64 actions;
    u64 actions_len;
    u64 ufid;
    u32 pmd_id;
};

BPF_RINGBUF_OUTPUT(events, <BUFFER_PAGE_CNT>);
/* A plain hash, not an LRU one, which may evict before it is full: an
 * install that does not fit is counted, and remembered in 'unfollowed' so
 * that its verdicts are counted apart from those that -f drops. */
BPF_HASH(followed, struct ufid_t, struct flow_t, <MAX_FLOWS>);
BPF_HASH(unfollowed, struct ufid_t, u32, <MAX_FLOWS>);
/* Without -f, the UFIDs that a delete verdict was just given to: their
 * removal from the datapath follows and is not a removal of its own.  (An
 * LRU map: a marker is needed for microseconds, and an install clears it;
 * one that outlives its use, the verdict on a flow no longer in the
 * datapath, can go.) */
BPF_TABLE("lru_hash", struct ufid_t, u8, deleting, <MAX_FLOWS>);
/* Flows removed from the datapath without a delete verdict, moved out of
 * 'followed': the verdict on the ukey a flow left, if one comes (a flow
 * added by hand, or by a feature probe, has no ukey), is told stale.  An
 * LRU map: losing the oldest only loses that. */
BPF_TABLE("lru_hash", struct ufid_t, struct flow_t, removed, <MAX_FLOWS>);
/* At least the number of entries in 'removed' and 'unfollowed' (an LRU
 * eviction or a second update of a key leaves it above): while it is 0,
 * a flow that is not followed is in neither, and the verdicts of the flows
 * that -f filtered out, most of them, cost one hash lookup, not three. */
BPF_ARRAY(aside, u64, 1);

/* A datapath removal that no delete verdict asked for. */
struct remove_t {
    struct hdr_t hdr;
    u64 install_ns;
};
BPF_PERCPU_ARRAY(stats, u64, ST_MAX);
BPF_PERCPU_ARRAY(scratch, struct install_t, 1);
/* trace_install_filter, with -f. */
BPF_PROG_ARRAY(filter_prog, 1);

static __always_inline void aside_add(s64 n)
{
    int zero = 0;
    u64 *v = aside.lookup(&zero);
    if (v) {
        __sync_fetch_and_add(v, n);
    }
}

static __always_inline int aside_empty(void)
{
    int zero = 0;
    u64 *v = aside.lookup(&zero);
    return v && !*v;
}

static __always_inline void count(int i)
{
    u64 *v = stats.lookup(&i);
    if (v) {
        (*v)++;
    }
}

/* Where each attribute type (below 32) first occurs in d[start, end): the
 * offset in d[] of its payload, or -1, and its payload length. */
struct level_t {
    s16 pos[32];
    s16 len[32];
};

/* Levels: 0 and 1 the key's and the mask's top level, 2 and 3 inside their
 * encap(), 4 and 5 inside the encap() in that, 6 and 7 inside tunnel(). */
struct index_t {
    struct level_t l[8];
};

BPF_PERCPU_ARRAY(attr_index, struct index_t, 1);

static __always_inline void index_level(const u8 *d, int start, int end,
                                        struct level_t *lv)
{
    int off = start;

    __builtin_memset(lv->pos, 0xff, sizeof lv->pos);
    if (start < 0) {
        return;
    }
    for (int i = 0; i < MAX_ATTRS; i++) {
        if (off + 4 > end) {
            break;
        }
        int alen = d[off & IDX] | (d[(off + 1) & IDX] << 8);
        int atype = (d[(off + 2) & IDX] | (d[(off + 3) & IDX] << 8)) & 0x3fff;
        if (alen < 4 || off + alen > end) {
            break;
        }
        if (atype < 32 && lv->pos[atype] < 0) {
            lv->pos[atype] = off + 4;
            lv->len[atype] = alen - 4;
        }
        off += (alen + 3) & ~3;
    }
}

/* Indexes the attributes nested in attribute 'type' of level 'from'. */
static __always_inline void index_nested(const u8 *d, struct level_t *from,
                                         int type, struct level_t *to)
{
    int pos = from->pos[type];

    index_level(d, pos, pos + from->len[type], to);
}

static __always_inline int filter_match(const u8 *d, int kn, int mn)
{
<FILTER>
}

static __always_inline void fill_hdr(struct hdr_t *h, u32 type)
{
    h->type = type;
    h->tid = (u32) bpf_get_current_pid_tgid();
    h->ts = bpf_ktime_get_ns();
    bpf_get_current_comm(&h->comm, sizeof h->comm);
}

/* Follows the flow whose install 'ev' (in 'scratch') describes, with its
 * key and mask ('kn' and 'mn' bytes of ev->data). */
static __always_inline int follow(struct install_t *ev, u32 kn, u32 mn)
{
    struct ufid_t ufid = ev->hdr.ufid;
    struct flow_t flow = { .install_ns = bpf_ktime_get_ns() };

    if (FOLLOW_ALL) {
        deleting.delete(&ufid);
    }
    if (!aside_empty() && !removed.delete(&ufid)) {
        aside_add(-1);
    }
    if (followed.update(&ufid, &flow)) {
        u32 why = NF_MAP_FULL;
        count(ST_MAP_FULL);
        aside_add(1);
        unfollowed.update(&ufid, &why);
        ev->status = NF_MAP_FULL;
    } else {
        count(ST_FOLLOWED);
    }
    if (!SEND_INSTALLS) {
        return 0;
    }
    fill_hdr(&ev->hdr, EV_INSTALL);
    ev->hdr.ufid = ufid;
    ev->hdr.ts = flow.install_ns;
    u32 size = offsetof(struct install_t, data) + kn + mn;
    if (size > sizeof *ev) {
        size = sizeof *ev;
    }
    if (events.ringbuf_output(ev, size, 0)) {
        count(ST_LOST);
    } else {
        count(ST_SENT);
    }
    return 0;
}

static __always_inline int install(struct pt_regs *ctx, u64 put_ptr)
{
    struct put_t put = {};
    struct ufid_t ufid = {};
    int zero = 0;

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
        count(ST_PROBES);
        return 0;
    }
    count(ST_INSTALLS);
    if (bpf_probe_read_user(&ufid, sizeof ufid, (void *) put.ufid)) {
        count(ST_KEY_FAILED);
        return 0;
    }
    if (followed.lookup(&ufid)) {
        /* Installed again (once per PMD thread): the lifetime runs from
         * the first install. */
        count(ST_AGAIN);
        return 0;
    }

    struct install_t *ev = scratch.lookup(&zero);
    if (!ev) {
        return 0;
    }
    u64 kn = put.key_len;
    u64 mn = put.mask ? put.mask_len : 0;
    ev->key_len = put.key_len;
    ev->mask_len = mn;
    if (kn > MAX_KEY) {
        kn = MAX_KEY;
    }
    if (mn > MAX_KEY) {
        mn = MAX_KEY;
    }
    /* Keep the compiler from reloading the unclamped lengths. */
    asm volatile("" : "+r"(kn), "+r"(mn));
    if (kn > MAX_KEY || mn > MAX_KEY) {
        return 0;
    }
    int key_failed = 0;
    if (bpf_probe_read_user(ev->data, kn, (void *) put.key)) {
        kn = 0;
        key_failed = 1;
    }
    asm volatile("" : "+r"(kn));
    if (kn > MAX_KEY) {
        return 0;
    }
    if (mn && bpf_probe_read_user(ev->data + kn, mn, (void *) put.mask)) {
        mn = 0;
        key_failed = 1;
    }
    ev->key_n = kn;
    ev->mask_n = mn;
    ev->status = NF_FOLLOWED;
    ev->hdr.ufid = ufid;
    if (key_failed) {
        /* Followed without its key, unless a filter needs the key. */
        count(ST_KEY_FAILED);
        if (!FOLLOW_ALL) {
            u32 why = NF_KEY_FAILED;
            aside_add(1);
            unfollowed.update(&ufid, &why);
            return 0;
        }
    } else if (!FOLLOW_ALL) {
        /* The filter runs in a program of its own, which both install
         * probes' programs call: the kernel verifies its loops once. */
        filter_prog.call(ctx, 0);
        return 0;
    }
    return follow(ev, kn, mn);
}

#if !FOLLOW_ALL
/* Tail-called by install() with the key and mask in 'scratch'. */
int trace_install_filter(struct pt_regs *ctx)
{
    int zero = 0;
    struct install_t *ev = scratch.lookup(&zero);

    if (!ev) {
        return 0;
    }
    u32 kn = ev->key_n;
    u32 mn = ev->mask_n;
    if (kn > MAX_KEY || mn > MAX_KEY) {
        return 0;
    }
    if (!filter_match(ev->data, kn, mn)) {
        return 0;
    }
    return follow(ev, kn, mn);
}
#endif

int trace_install_netdev(struct pt_regs *ctx)
{
    u64 put_ptr = 0;

    bpf_usdt_readarg(2, ctx, &put_ptr);
    return install(ctx, put_ptr);
}

int trace_install_netlink(struct pt_regs *ctx)
{
    u64 put_ptr = 0;

    bpf_usdt_readarg(2, ctx, &put_ptr);
    return install(ctx, put_ptr);
}

/* A flow leaves the datapath: 'del_ptr' is a struct dpif_flow_del (public
 * ABI), whose UFID pointer is at offset 16. */
static __always_inline int removal(u64 del_ptr)
{
    struct remove_t ev = {};
    u64 ufid_ptr = 0;

    if (!del_ptr
        || bpf_probe_read_user(&ufid_ptr, sizeof ufid_ptr,
                               (void *) (del_ptr + 16))
        || !ufid_ptr) {
        return 0;
    }
    if (bpf_probe_read_user(&ev.hdr.ufid, sizeof ev.hdr.ufid,
                            (void *) ufid_ptr)) {
        return 0;
    }
    if (FOLLOW_ALL && deleting.lookup(&ev.hdr.ufid)) {
        /* The revalidator's own deletion, reported by its verdict. */
        return 0;
    }
    /* A followed flow is not in 'removed': an install takes it out. */
    struct flow_t *flow = followed.lookup(&ev.hdr.ufid);
    if (!flow) {
        if (!FOLLOW_ALL) {
            return 0;
        }
        if (!aside_empty() && removed.lookup(&ev.hdr.ufid)) {
            /* Another PMD thread's copy of the flow. */
            return 0;
        }
    }
    struct flow_t gone = { .removed_ns = bpf_ktime_get_ns() };
    if (flow) {
        ev.install_ns = gone.install_ns = flow->install_ns;
        followed.delete(&ev.hdr.ufid);
    }
    aside_add(1);
    removed.update(&ev.hdr.ufid, &gone);
    count(ST_REMOVALS);
    if (REASON_MASK) {
        /* Not a deletion for a reason: not reported.  User space may hold
         * the flow's key (-k): tell it to drop it. */
        if (flow && SEND_INSTALLS) {
            fill_hdr(&ev.hdr, EV_FORGET);
            if (events.ringbuf_output(&ev.hdr, sizeof ev.hdr, 0)) {
                count(ST_LOST);
            }
        }
        return 0;
    }
    fill_hdr(&ev.hdr, EV_REMOVE);
    ev.hdr.ts = gone.removed_ns;
    if (events.ringbuf_output(&ev, sizeof ev, 0)) {
        count(ST_LOST);
    } else {
        count(ST_SENT);
    }
    return 0;
}

int trace_remove_netdev(struct pt_regs *ctx)
{
    u64 del_ptr = 0;

    bpf_usdt_readarg(2, ctx, &del_ptr);
    return removal(del_ptr);
}

int trace_remove_netlink(struct pt_regs *ctx)
{
    u64 del_ptr = 0;

    bpf_usdt_readarg(2, ctx, &del_ptr);
    return removal(del_ptr);
}

<VERDICT_FNS>
"""

(ST_INSTALLS, ST_FOLLOWED, ST_VERDICTS, ST_DROPPED, ST_SENT, ST_LOST,
 ST_AGAIN, ST_PROBES, ST_MAP_FULL, ST_KEY_FAILED, ST_UNFOLLOWED,
 ST_REMOVALS, ST_MAX) = range(13)
NF_FOLLOWED, NF_MAP_FULL, NF_KEY_FAILED = range(3)
# The verdict probes' handler, once per phase (0: dump, 1: sweep), and the
# handler of revalidate:flow_unexpected, a deletion in the dump phase whose
# arguments are the UFID and the reason: <ARGS> reads the arguments.
VERDICT_SOURCE = r"""
int <FN>(struct pt_regs *ctx)
{
    u32 phase = <PHASE>;
    struct verdict_t ev = {};
    u64 ufid_ptr = 0;
    u32 result = 0, reason = 0, upstream_reason = 0;

    count(ST_VERDICTS);
    <ARGS>
    if (!ufid_ptr) {
        return 0;
    }
    bpf_probe_read_user(&ev.hdr.ufid, sizeof ev.hdr.ufid, (void *) ufid_ptr);

    struct flow_t *flow = followed.lookup(&ev.hdr.ufid);
    int aside = !flow && !aside_empty();
    struct flow_t *gone = aside ? removed.lookup(&ev.hdr.ufid) : NULL;
    if (gone) {
        /* The ukey of a flow no longer in the datapath. */
        ev.install_ns = gone->install_ns;
        ev.removed_ns = gone->removed_ns;
        if (result == UKEY_DELETE && !removed.delete(&ev.hdr.ufid)) {
            aside_add(-1);
        }
    } else if (!flow) {
        if (aside && unfollowed.lookup(&ev.hdr.ufid)) {
            /* Not followed for want of room or of its key: not a verdict
             * that the filter dropped. */
            count(ST_UNFOLLOWED);
            if (result == UKEY_DELETE && !unfollowed.delete(&ev.hdr.ufid)) {
                aside_add(-1);
            }
            if (!FOLLOW_ALL) {
                return 0;
            }
        } else if (!FOLLOW_ALL) {
            count(ST_DROPPED);
            return 0;
        }
    }
    int forget = 0;
    if (flow) {
        ev.install_ns = flow->install_ns;
        if (result == UKEY_DELETE) {
            followed.delete(&ev.hdr.ufid);
            forget = 1;
        }
    }
    if (FOLLOW_ALL && result == UKEY_DELETE) {
        /* The removal probe fires for the revalidator's deletion, even of
         * a stale ukey on the kernel datapath (its op_flow_del does not
         * know that the flow is gone): not another removal. */
        u8 one = 1;
        deleting.update(&ev.hdr.ufid, &one);
    }
    if ((result == UKEY_KEEP && !SHOW_KEEPS)
        || (REASON_MASK && (result != UKEY_DELETE || reason > 63
                            || !(REASON_MASK & (1ULL << reason))))) {
        count(ST_DROPPED);
        if (forget && SEND_INSTALLS && REASON_MASK) {
            /* User space holds the key of this flow, for a deletion that
             * will not come: tell it to drop the key. */
            fill_hdr(&ev.hdr, EV_FORGET);
            if (events.ringbuf_output(&ev.hdr, sizeof ev.hdr, 0)) {
                count(ST_LOST);
            }
        }
        return 0;
    }
    fill_hdr(&ev.hdr, EV_VERDICT);
    ev.result = result;
    ev.reason = reason;
    ev.phase = phase;
    ev.upstream_reason = upstream_reason;
    if (events.ringbuf_output(&ev, sizeof ev, 0)) {
        count(ST_LOST);
    } else {
        count(ST_SENT);
    }
    return 0;
}
"""
EV_INSTALL, EV_VERDICT, EV_FORGET, EV_REMOVE = 1, 2, 3, 4
HDR = struct.Struct("<IIQ16s16s")
INSTALL = struct.Struct("<IIIII")
VERDICT = struct.Struct("<QQIIII")
REMOVE = struct.Struct("<Q")

PROBES_INSTALL = [("dp_netdev_flow_add:dp_flow_put", "trace_install_netdev"),
                  ("dpif_netlink_operate__:op_flow_put",
                   "trace_install_netlink")]
PROBES_REMOVE = [("dp_netdev_pmd_remove_flow:dp_flow_del",
                  "trace_remove_netdev"),
                 ("dpif_netlink_operate__:op_flow_del",
                  "trace_remove_netlink")]
PROBES_CHANGE = [("revalidate:flow_change", "trace_dump"),
                 ("revalidator_sweep__:flow_sweep_change", "trace_sweep")]
PROBES_RESULT = [("revalidate:flow_result", "trace_dump"),
                 ("revalidator_sweep__:flow_sweep_result", "trace_sweep")]
PROBES_UNEXPECTED = [("revalidate:flow_unexpected", "trace_unexpected")]
# How each handler reads its probe's arguments (bpf_usdt_readarg() counts
# from 1).
VERDICT_ARGS = """bpf_usdt_readarg(3, ctx, &result);
    bpf_usdt_readarg(4, ctx, &upstream_reason);
    bpf_usdt_readarg(5, ctx, &ufid_ptr);
    bpf_usdt_readarg(6, ctx, &reason);"""
UNEXPECTED_ARGS = """result = UKEY_DELETE;
    bpf_usdt_readarg(2, ctx, &ufid_ptr);
    bpf_usdt_readarg(3, ctx, &reason);
    upstream_reason = reason;"""


def build_source(options, terms):
    mask = 0
    for r in options.reasons or []:
        mask |= 1 << REASONS.index(r)
    send_installs = not options.reasons or options.flow_keys \
        or options.pcap
    src = EBPF_SOURCE
    for k, v in (("<MAX_KEY>", MAX_KEY), ("<MAX_ATTRS>", MAX_ATTRS),
                 ("<FOLLOW_ALL>", int(terms is None)),
                 ("<SEND_INSTALLS>", int(bool(send_installs))),
                 ("<SHOW_KEEPS>", int(options.keeps)),
                 ("<REASON_MASK>", mask),
                 ("<BUFFER_PAGE_CNT>", options.buffer_page_count),
                 ("<MAX_FLOWS>", options.max_flows),
                 ("<FILTER>", filter_to_c(terms or [])),
                 ("<VERDICT_FNS>", "".join(
                     VERDICT_SOURCE.replace("<FN>", fn).replace(
                         "<PHASE>", str(phase)).replace("<ARGS>", args)
                     for fn, phase, args in (
                         ("trace_dump", 0, VERDICT_ARGS),
                         ("trace_sweep", 1, VERDICT_ARGS),
                         ("trace_unexpected", 0, UNEXPECTED_ARGS))))):
        src = src.replace(k, str(v))
    return src


#
# Processes and interpreters.
#
def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def find_vswitchd(pid):
    if pid is not None:
        comm = _comm(pid)
        if comm is None:
            raise ToolError("no process with PID %d" % pid)
        if comm != "ovs-vswitchd":
            raise ToolError("PID %d is not ovs-vswitchd (it is %s)"
                            % (pid, comm))
        return pid
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit() and _comm(int(d)) == "ovs-vswitchd" \
                and _alive(int(d)):
            pids.append(int(d))
    if not pids:
        raise ToolError("no ovs-vswitchd is running")
    if len(pids) > 1:
        raise ToolError("several ovs-vswitchd are running (PIDs %s): choose "
                        "one with -p" % ", ".join(map(str, sorted(pids))))
    return pids[0]


def replaced_ovs_library(pid):
    """The path of an Open vSwitch library (libopenvswitch, libofproto)
    that process 'pid' has mapped but that was replaced or removed since,
    or None."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                fields = line.split(None, 5)
                path = fields[5].strip() if len(fields) == 6 else ""
                if path.endswith(" (deleted)") and re.match(
                        r"lib(openvswitch|ofproto)\b",
                        os.path.basename(path)):
                    return path[:-len(" (deleted)")]
    except OSError:
        pass
    return None


PT_LOAD = 1


def elf_load_segments(path):
    """The PT_LOAD segments of ELF file 'path' (64-bit, little-endian: the
    x86_64 objects that the BPF programs here are written for), as
    (p_vaddr, p_offset, p_filesz) tuples."""
    try:
        with open(path, "rb") as f:
            ehdr = f.read(64)
            if len(ehdr) < 64 or ehdr[:4] != b"\x7fELF" or ehdr[4] != 2 \
                    or ehdr[5] != 1:
                raise ToolError("%s is not a 64-bit little-endian ELF file"
                                % path)
            phoff, = struct.unpack_from("<Q", ehdr, 32)
            phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
            f.seek(phoff)
            phdrs = f.read(phentsize * phnum)
    except OSError as e:
        raise ToolError("cannot read %s: %s" % (path, e.strerror or e))
    if phentsize < 56 or len(phdrs) < phentsize * phnum:
        raise ToolError("%s has truncated program headers" % path)
    segments = []
    for i in range(phnum):
        ptype, _, offset, vaddr, _, filesz = struct.unpack_from(
            "<IIQQQQ", phdrs, i * phentsize)
        if ptype == PT_LOAD:
            segments.append((vaddr, offset, filesz))
    return segments


def elf_file_offset(path, vaddr, what):
    """The offset in ELF file 'path' of the byte loaded at virtual address
    'vaddr' (an address as the file's symbols and USDT notes give it):
    vaddr - p_vaddr + p_offset of the PT_LOAD segment that holds it.  The
    kernel places uprobes and their reference counters (the USDT
    semaphores) by file offset, which differs from the address in a
    non-PIE executable and in the data segment of most objects.  'what'
    names the address in the error raised when no segment holds it."""
    for seg_vaddr, offset, filesz in elf_load_segments(path):
        if seg_vaddr <= vaddr < seg_vaddr + filesz:
            return vaddr - seg_vaddr + offset
    raise ToolError("%s: no loadable segment holds the %s (address %#x)"
                    % (path, what, vaddr))


def attach_usdt(bcc, bpf, probes, semaphores):
    """Attaches BPF functions to USDT probes, each (binary, function,
    address, pid) in 'probes': 'binary' is the object that holds the probe
    (the executable, or a shared library that the process has loaded) and
    'address' the probe's address in it.  The kernel wants file offsets:
    both the probe's and that of its semaphore, (binary, address) in
    'semaphores' by function, passed as the uprobe's reference counter so
    that the kernel itself enables the probe while it is attached, and
    disables it when we exit however we do.  (BCC instead enables
    semaphores by writing the process's memory, which a killed tool leaves
    enabled, and Debian's BCC 0.26 passes the kernel an undefined semaphore
    offset, which it refuses while another tool, such as bpftrace, has the
    probe.)"""
    attach = bcc.libbcc.lib["bpf_attach_uprobe"]
    attach.restype = ctypes.c_int
    attach.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                       ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_int,
                       ctypes.c_uint32]
    for path, fn_name, addr, pid in probes:
        name = fn_name.decode()
        offset = elf_file_offset(path.decode(), addr, "probe of %s" % name)
        ref_ctr = 0
        sema_path, sema = semaphores.get(name, (None, 0))
        if sema:
            if not os.path.samefile(sema_path, path):
                raise ToolError("the probe of %s is in %s, its semaphore in "
                                "%s: cannot attach"
                                % (name, path.decode(), sema_path))
            ref_ctr = elf_file_offset(sema_path, sema,
                                      "semaphore of %s" % name)
        fn = bpf.load_func(fn_name, bcc.BPF.KPROBE)
        ev_name = bpf._get_uprobe_evname(b"p", path, offset, pid)
        fd = attach(fn.fd, 0, ev_name, path, offset, pid, ref_ctr)
        if fd < 0:
            raise ToolError("cannot attach to the probe of %s at offset %#x "
                            "of %s in PID %d" % (name, offset, path.decode(),
                                                 pid))
        bpf._add_uprobe_fd(ev_name, fd)


def import_bcc():
    """Imports BCC.  Where this interpreter cannot (a python3 first on PATH
    that is not Debian's), runs the script again with /usr/bin/python3."""
    try:
        import bcc
        return bcc
    except ImportError as e:
        error = e
    other = "/usr/bin/python3"
    if os.environ.get("FILTER_PROBE_REEXEC") is None \
            and os.path.exists(other) and sys.executable != other:
        os.environ["FILTER_PROBE_REEXEC"] = sys.executable or "python3"
        try:
            os.execv(other, [other, os.path.abspath(sys.argv[0])]
                     + sys.argv[1:])
        except OSError:
            pass
    first = os.environ.get("FILTER_PROBE_REEXEC")
    tried = sys.executable if not first else "%s and %s" % (first,
                                                            sys.executable)
    raise ToolError("cannot import BCC's Python module (%s) with %s: install "
                    "python3-bpfcc and run the script with the python3 it "
                    "installs into (/usr/bin/python3)" % (error, tried))


#
# Output.
#
def format_lifetime(seconds):
    """Milliseconds, truncated, as watch_flows.bt prints them: 1.899s."""
    return "%d.%03ds" % divmod(int(seconds * 1000), 1000)


class Reporter(object):
    def __init__(self, options, stats_fn):
        self.options = options
        self.stats_fn = stats_fn
        self.out = sys.stdout
        self.keys = {}
        self.deletions = {}
        self.counts = {"install": 0, "modify": 0, "delete": 0, "keep": 0,
                       "remove": 0}
        self.lifetimes = {}
        self.received = 0
        self.lost_reported = 0
        self.reported = {}
        self.failure = None
        self.pcap = None
        self.pcap_count = 0
        self.boot = time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)
        if options.pcap:
            self.pcap = options.pcap_writer

    def write(self, text):
        """Writes 'text' to the output, at once.  A reader that went away
        raises BrokenPipeError; any other failure (a full disk) a
        ToolError, after which nothing more is written there."""
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            # Drop what is buffered, so that the interpreter's last flush
            # at exit does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            raise ToolError("cannot write the output: %s"
                            % (e.strerror or e))

    def header(self, pid, probes):
        if self.options.json:
            self.write(json.dumps({"event": "start", "pid": pid,
                                   "probes": probes}) + "\n")
        else:
            self.write("%-16s %-15s %-41s %-8s %-14s %s\n"
                       % ("TIME", "THREAD", "UFID", "EVENT", "REASON",
                          "LIFETIME"))

    def line(self, ts, comm, tid, ufid, event, reason, lifetime, extra):
        if self.options.json:
            rec = {"time": round(self.boot + ts / 1e9, 6), "thread": comm,
                   "tid": tid, "ufid": ufid, "event": event,
                   "reason": reason,
                   "lifetime": None if lifetime is None
                   else round(lifetime, 6)}
            rec.update(extra)
            self.write(json.dumps(rec) + "\n")
        else:
            wall = self.boot + ts / 1e9
            t = "%s.%06d" % (time.strftime("%H:%M:%S", time.gmtime(wall)),
                             int(wall % 1 * 1e6))
            if event == "install":
                life = "-"
            elif extra.get("stale"):
                life = "stale"
            elif lifetime is None:
                life = "?"
            else:
                life = format_lifetime(lifetime)
            text = "%-16s %-15s %-41s %-8s %-14s %s\n" % (
                t, comm, ufid, event, reason or "-", life)
            if "key" in extra:
                text += "  %s\n" % extra["key"]
            self.write(text)

    def handle(self, ctx, data, size):
        """The ring buffer's callback.  An exception cannot get out of a
        ctypes callback (ctypes prints it and goes on): the first one is
        kept, for check() to raise in the main loop, and the events after
        it are dropped."""
        if self.failure is None:
            try:
                self.handle_event(data, size)
            except BaseException as e:
                self.failure = e
        return 0

    def check(self):
        """Raises the exception that the callback caught, if any."""
        if self.failure is not None:
            raise self.failure

    def handle_event(self, data, size):
        raw = ctypes.string_at(data, size)
        self.received += 1
        etype, tid, ts, comm, ufid = HDR.unpack_from(raw)
        comm = comm.split(b"\0", 1)[0].decode("utf-8", "replace")
        ufid = "ufid:" + format_ufid(ufid)
        if etype == EV_INSTALL:
            self.install(raw, ts, comm, tid, ufid)
        elif etype == EV_VERDICT:
            self.verdict(raw, ts, comm, tid, ufid)
        elif etype == EV_FORGET:
            # A followed flow whose deletion --reason filtered out.
            self.keys.pop(ufid, None)
        elif etype == EV_REMOVE:
            install_ns, = REMOVE.unpack_from(raw, HDR.size)
            self.counts["remove"] += 1
            lifetime = (ts - install_ns) / 1e9 if install_ns else None
            if lifetime is not None:
                self.lifetimes.setdefault("(datapath)", []).append(lifetime)
            self.line(ts, comm, tid, ufid, "remove", "datapath", lifetime,
                      {})

    def install(self, raw, ts, comm, tid, ufid):
        status, key_len, mask_len, kn, mn = INSTALL.unpack_from(
            raw, HDR.size)
        data = raw[HDR.size + INSTALL.size:]
        key, mask = data[:kn], data[kn:kn + mn]
        if not self.options.reasons:
            self.counts["install"] += 1
        extra = {}
        text = None
        if self.options.flow_keys or self.options.json and \
                self.options.flow_keys:
            text = format_flow(key, mask or None)
            if kn < key_len or mn < mask_len:
                text += " (truncated: %d of %d key bytes, %d of %d mask " \
                    "bytes)" % (kn, key_len, mn, mask_len)
            extra["key"] = text
        if self.options.raw:
            extra["key_hex"] = key.hex()
            extra["mask_hex"] = mask.hex()
        if self.pcap is not None:
            try:
                pkt = packet_from_key(key)
            except Exception:
                # A key that scapy cannot build a packet from.
                pkt = None
            if pkt is not None:
                pkt.time = self.boot + ts / 1e9
                try:
                    self.pcap.write(pkt)
                    self.pcap.flush()
                except OSError as e:
                    raise ToolError("cannot write %s: %s"
                                    % (self.options.pcap, e.strerror or e))
                self.pcap_count += 1
        if self.options.reasons:
            if text is not None and status == NF_FOLLOWED:
                self.keys[ufid] = text
            return
        self.line(ts, comm, tid, ufid, "install",
                  "map_full" if status == NF_MAP_FULL else None, None, extra)

    def verdict(self, raw, ts, comm, tid, ufid):
        install_ns, removed_ns, result, reason, phase, upstream = \
            VERDICT.unpack_from(raw, HDR.size)
        event = RESULTS[result] if result < len(RESULTS) else str(result)
        rname = reason_name(reason)
        lifetime = (ts - install_ns) / 1e9 if install_ns else None
        self.counts[event] = self.counts.get(event, 0) + 1
        extra = {"phase": "sweep" if phase else "dump"}
        if event == "delete":
            extra["upstream_reason"] = reason_name(upstream)
        if removed_ns:
            # The flow left the datapath before (its "remove" event): this
            # verdict is on the ukey that it left behind.
            lifetime = None
            extra["stale"] = True
            extra["removed_ago"] = round((ts - removed_ns) / 1e9, 6)
        if event == "delete":
            self.deletions[rname] = self.deletions.get(rname, 0) + 1
            if lifetime is not None:
                self.lifetimes.setdefault(rname, []).append(lifetime)
            key = self.keys.pop(ufid, None)
            if key is not None:
                extra["key"] = key
        self.line(ts, comm, tid, ufid, event,
                  rname if event == "delete" else None, lifetime, extra)

    def check_counts(self):
        """Warns on stderr, at once, of lost events and of flows that could
        not be followed (and with --json also writes "lost" and
        "not_followed" records)."""
        st = self.stats_fn()
        for i, what in ((ST_MAP_FULL, "the map of followed flows is full; "
                         "run with a larger --max-flows (now %d)"
                         % self.options.max_flows),
                        (ST_KEY_FAILED, "their key could not be read")):
            n = st[i] - self.reported.get(i, 0)
            if n <= 0:
                continue
            self.reported[i] = st[i]
            warn("WARNING: %d flow%s not followed (%d in all): %s"
                 % (n, "" if n == 1 else "s", st[i], what)
                 if i == ST_MAP_FULL or self.options.filter is not None
                 else "WARNING: %d flow%s followed without a key (%d in "
                 "all): %s" % (n, "" if n == 1 else "s", st[i], what))
            if self.options.json:
                self.write(json.dumps({
                    "event": "not_followed",
                    "why": "map_full" if i == ST_MAP_FULL else "key_failed",
                    "count": n, "total": st[i]}) + "\n")
        lost = st[ST_LOST]
        if lost > self.lost_reported:
            n = lost - self.lost_reported
            self.lost_reported = lost
            warn("WARNING: %d event%s lost (%d in all): the ring buffer "
                 "was full; run with a larger --buffer-page-count (now %d)"
                 % (n, "" if n == 1 else "s", lost,
                    self.options.buffer_page_count))
            if self.options.json:
                self.write(json.dumps({"event": "lost", "count": n,
                                       "total": lost}) + "\n")

    def summary(self):
        st = self.stats_fn()
        out = []
        if self.options.json:
            rec = {"event": "summary", "counts": self.counts,
                   "deletions": self.deletions,
                   "lifetimes": dict(
                       (r, {"count": len(v), "min": round(min(v), 6),
                            "avg": round(sum(v) / len(v), 6),
                            "max": round(max(v), 6)})
                       for r, v in self.lifetimes.items()),
                   "lost": st[ST_LOST], "received": self.received,
                   "keys_held": len(self.keys),
                   "kernel": {"installs": st[ST_INSTALLS],
                              "followed": st[ST_FOLLOWED],
                              "again": st[ST_AGAIN],
                              "probes": st[ST_PROBES],
                              "verdicts": st[ST_VERDICTS],
                              "dropped": st[ST_DROPPED]},
                   "not_followed": {"map_full": st[ST_MAP_FULL],
                                    "key_failed": st[ST_KEY_FAILED],
                                    "verdicts": st[ST_UNFOLLOWED]}}
            self.write(json.dumps(rec) + "\n")
            return
        out.append("")
        out.append("SUMMARY")
        out.append("  events: %d install, %d modify, %d delete, %d keep, %d "
                   "remove" % (self.counts["install"], self.counts["modify"],
                               self.counts["delete"], self.counts["keep"],
                               self.counts["remove"]))
        out.append("  %-14s %7s %7s %10s %10s %10s"
                   % ("REASON", "DELETES", "TIMED", "MIN", "AVG", "MAX"))
        # Removals from the datapath outside the revalidator: "(datapath)".
        deletions = dict(self.deletions)
        if self.counts["remove"]:
            deletions["(datapath)"] = self.counts["remove"]
        for r in REASONS + ["(datapath)"]:
            if r not in deletions:
                continue
            v = self.lifetimes.get(r, [])
            if v:
                stats = (format_lifetime(min(v)),
                         format_lifetime(sum(v) / len(v)),
                         format_lifetime(max(v)))
            else:
                stats = ("-", "-", "-")
            out.append("  %-14s %7d %7d %10s %10s %10s"
                       % ((r, deletions[r], len(v)) + stats))
        out.append("  kernel: %d installs seen, %d followed, %d installed "
                   "again, %d feature probes; %d verdicts seen, %d dropped "
                   "in the kernel; %d events received"
                   % (st[ST_INSTALLS], st[ST_FOLLOWED], st[ST_AGAIN],
                      st[ST_PROBES], st[ST_VERDICTS], st[ST_DROPPED],
                      self.received))
        out.append("  not followed: %d (map full), %d (key unreadable); "
                   "%d verdicts of them" % (st[ST_MAP_FULL],
                                            st[ST_KEY_FAILED],
                                            st[ST_UNFOLLOWED]))
        out.append("  lost events: %d" % st[ST_LOST])
        if self.pcap is not None:
            out.append("  packets written to %s: %d"
                       % (self.options.pcap, self.pcap_count))
        self.write("\n".join(out) + "\n")


#
# Command line.
#
def _positive(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("'%s' is not a number" % s)
    if v <= 0:
        raise argparse.ArgumentTypeError("'%s' is not positive" % s)
    return v


def _page_count(s):
    v = _positive(s)
    if v & (v - 1):
        raise argparse.ArgumentTypeError("%d is not a power of 2" % v)
    return v


def _reasons(s):
    names = [x.strip() for x in s.split(",") if x.strip()]
    for n in names:
        if n not in REASONS:
            raise argparse.ArgumentTypeError(
                "unknown reason '%s' (known: %s)" % (n, ", ".join(REASONS)))
    if not names:
        raise argparse.ArgumentTypeError("no reason given")
    return names


class _ArgumentParser(argparse.ArgumentParser):
    """Reports a bad option in one line, as the tool's other errors."""

    def error(self, message):
        self.exit(2, "%s: %s (see --help)\n" % (PROG, message))


EPILOG = """\
filter:
  EXPR is an ODP flow expression as "ovs-appctl dpctl/add-flow" accepts it:
  attributes such as in_port(1), eth(src=..,dst=..), eth_type(0x0800),
  vlan(vid=..,pcp=..), encap(...), mpls(label=..), ipv4(src=..,dst=..,
  proto=..,tos=..,ttl=..,frag=..), ipv6(...), tcp/udp/sctp(src=..,dst=..),
  icmp/icmpv6(type=..,code=..), arp(...), nd(...), tcp_flags(+syn-ack),
  ct_state(+trk+est), ct_zone(..), ct_mark(..), ct_label(..), recirc_id(..),
  skb_mark(..), tunnel(tun_id=..,src=..,dst=..,tp_dst=..) and
  ct_tuple4/ct_tuple6(...).  Any field may take a mask, VALUE/MASK; IP
  addresses also take a prefix length (10.0.0.0/24).  A flow is followed when
  its key has every attribute the filter names and agrees with the filter on
  every bit that both the filter's and the flow's masks match: when the flow
  can match some packet that the filter matches, as with "ovs-appctl
  dpctl/dump-flows filter=", except that a flow whose key lacks an attribute
  of the filter (say, no tcp() in the key) is not followed. As with OpenFlow
  fields, eth_type() and the L3 and L4 attributes match the innermost
  headers, that is inside encap() for a VLAN-tagged flow, unless the filter
  has vlan() or encap() itself: then every attribute matches where the filter
  puts it. tunnel() takes flags(+df-csum...) but no tunnel options (geneve,
  vxlan, ...).  The filter runs in the kernel, at install time: only the
  flows that match it are followed, and the events of other flows never reach
  user space.  Flows installed before the script started are followed only
  when there is no filter.

pcap:
  With -w, the script writes one Ethernet packet per followed flow, built
  with scapy from the header fields of the flow's key when the flow is
  installed, stamped with the install time: Ethernet, VLAN, IPv4/IPv6,
  TCP/UDP/SCTP/ICMP/ICMPv6 or ARP headers, so that the flows can be read in
  Wireshark or replayed.  They are not captured traffic: there is no
  payload, checksums and lengths are computed by scapy, and fields the key
  does not carry (IP IDs, TCP sequence numbers, ...) take scapy's defaults.
  Where the flow wildcards a field, the packet carries the value of the
  packet that caused the upcall, as the key recorded it.  Flows without an
  Ethernet header get no packet.

builds:
  The script reads the probes of the ovs-vswitchd it follows from its
  executable and from the shared libraries it has loaded (/proc/PID/maps),
  so that it needs nothing more for an ovs-vswitchd built with
  --enable-shared, as Fedora and RHEL build it: there the probes are in
  libofproto (revalidator, upcalls) and libopenvswitch (the datapaths'
  flow probes), not in the executable.  Give -p PID when several
  ovs-vswitchd run; the objects can be installed anywhere (a --prefix).
  Probe and semaphore addresses are converted to the file offsets that the
  kernel wants with each object's program headers, so that PIE, non-PIE
  (ET_EXEC) executables and libraries all work.

exit status:
  0 when stopped by a signal (Ctrl-C) or when the reader of the output goes
  away, 2 for bad options, 1 for any other failure, said in one line on
  stderr: an output or pcap file that cannot be written, ovs-vswitchd
  exiting while followed, ...

examples:
  Follow every flow of the only ovs-vswitchd:
    sudo python3 filter_probe.py
  Flows from 10.0.0.0/24, with their keys, as JSON:
    sudo python3 filter_probe.py -k --json \\
        -f 'ipv4(src=10.0.0.0/255.255.255.0)'
  Which UDP flows go idle, and how long they lived:
    sudo python3 filter_probe.py -p 4242 -f 'udp()' --reason idle --summary
  One packet per TCP flow to port 80, for Wireshark:
    sudo python3 filter_probe.py -f 'tcp(dst=80)' -w flows.pcap
"""


def parse_options(argv):
    parser = _ArgumentParser(
        prog=PROG,
        description="Follows the datapath flows of ovs-vswitchd from install "
        "to deletion: when\neach flow is installed, modified and deleted, why "
        "it is deleted and how long\nit lived.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-p", "--pid", metavar="VSWITCHD_PID", type=_positive,
                        help="the PID of the ovs-vswitchd to follow; without "
                        "it, the only one running (the script says which on "
                        "stderr), and an error when several run")
    parser.add_argument("-f", "--filter", metavar="EXPR",
                        help="follow only the flows whose key matches EXPR, "
                        "an ODP flow expression as \"ovs-appctl "
                        "dpctl/add-flow\" accepts it, masks included, e.g. "
                        "'eth_type(0x0800),ipv4(src=10.0.0.0/255.255.255.0)'"
                        " (see \"filter\" below)")
    parser.add_argument("--reason", dest="reasons", type=_reasons,
                        metavar="REASON[,REASON...]",
                        help="report only deletions for these reasons "
                        "(installs and modifications are then not reported)")
    parser.add_argument("--keeps", action="store_true",
                        help="also report \"keep\" verdicts; this attaches to "
                        "the probes that fire for every verdict, so every "
                        "kept flow costs a uprobe trap in each revalidation")
    parser.add_argument("-k", "--flow-keys", action="store_true",
                        help="print the key (and mask) of each installed "
                        "flow as \"ovs-appctl dpctl/dump-flows\" prints it")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per event instead of "
                        "text")
    parser.add_argument("-w", "--pcap", metavar="FILE",
                        help="write one packet per followed flow to FILE "
                        "(see \"pcap\" below)")
    parser.add_argument("--summary", action="store_true",
                        help="at exit, print counts per reason and lifetime "
                        "statistics per reason")
    parser.add_argument("--buffer-page-count", type=_page_count,
                        default=DEFAULT_PAGE_COUNT, metavar="NUMBER",
                        help="pages (a power of 2) in the BPF ring buffer "
                        "that carries the events, default %d"
                        % DEFAULT_PAGE_COUNT)
    parser.add_argument("--max-flows", type=_positive,
                        default=DEFAULT_MAX_FLOWS, metavar="NUMBER",
                        help="flows followed at once, default %d"
                        % DEFAULT_MAX_FLOWS)
    parser.add_argument("--ebpf", action="store_true",
                        help=argparse.SUPPRESS)
    # The raw key and mask in hex in the JSON install records, for tests.
    parser.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.raw and not options.json:
        parser.error("--raw needs --json")
    return options


def run(options):
    terms = None
    if options.filter is not None:
        try:
            terms = parse_filter(options.filter)
        except FilterError as e:
            raise ToolError(str(e))
    source = build_source(options, terms)
    if options.ebpf:
        print(source)
        return 0

    if os.geteuid() != 0:
        raise ToolError("must run as root (BPF and uprobes need it)")

    bcc = import_bcc()
    if options.pcap:
        try:
            from scapy.utils import PcapWriter
        except ImportError as e:
            raise ToolError("--pcap needs scapy (apt-get install "
                            "python3-scapy): %s" % e)
        try:
            options.pcap_writer = PcapWriter(options.pcap, sync=True)
        except (OSError, IOError) as e:
            raise ToolError("cannot write %s: %s"
                            % (options.pcap, e.strerror or e))

    pid = find_vswitchd(options.pid)
    exe = os.path.realpath("/proc/%d/exe" % pid)
    if options.pid is None:
        # Found, not given: say which.
        warn("following ovs-vswitchd PID %d (%s), the only one running"
             % (pid, exe))
    if exe.endswith(" (deleted)"):
        raise ToolError("the binary of ovs-vswitchd (PID %d), %s, was "
                        "replaced or removed since it started: restart it"
                        % (pid, exe[:-len(" (deleted)")]))
    # So may the libraries that hold the probes in a build with
    # --enable-shared: their probes are then not those of the new files.
    lib = replaced_ovs_library(pid)
    if lib:
        raise ToolError("the library %s of ovs-vswitchd (PID %d) was "
                        "replaced or removed since it started: restart it"
                        % (lib, pid))

    # The probes of the executable and of the shared libraries that the
    # process has loaded (/proc/PID/maps), each with the object that holds
    # it and its semaphore's address there.
    try:
        usdt = bcc.USDT(pid=pid)
        semaphores = dict(("%s:%s" % (p.provider.decode(), p.name.decode()),
                           (p.bin_path.decode(), p.semaphore))
                          for p in usdt.enumerate_probes())
        available = set(semaphores)
    except Exception as e:
        raise ToolError("cannot read the USDT probes of PID %d (%s): %s"
                        % (pid, exe, e))
    if not available:
        raise ToolError("%s (PID %d) has no USDT probes: it was built "
                        "without --enable-usdt-probes" % (exe, pid))
    verdicts = ((PROBES_RESULT if options.keeps else PROBES_CHANGE)
                + PROBES_UNEXPECTED)
    needed = [p for p, _ in verdicts]
    missing = [p for p in needed if p not in available]
    installs = [(p, fn) for p, fn in PROBES_INSTALL if p in available]
    # Older builds lack the removal probes: then removals are not seen.
    removals = [(p, fn) for p, fn in PROBES_REMOVE if p in available]
    if not installs:
        missing += [" or ".join(p for p, _ in PROBES_INSTALL)]
    if missing:
        raise ToolError("%s (PID %d) lacks the probe%s %s: it was built "
                        "without the flow lifecycle probes"
                        % (exe, pid, "s" if len(missing) > 1 else "",
                           ", ".join(missing)))
    ref_ctrs = {}
    try:
        for p, fn in installs + removals + verdicts:
            usdt.enable_probe(probe=p, fn_name=fn)
            ref_ctrs[fn] = semaphores[p]
    except Exception as e:
        raise ToolError("cannot enable the probes of PID %d: %s" % (pid, e))
    # BCC writes the code that reads the probes' arguments; then it can go,
    # and undo its enabling of the semaphores: the kernel does that.
    usdt_text = usdt.get_text()
    probes = usdt.enumerate_active_probes()
    del usdt

    bpf = None
    try:
        bpf = bcc.BPF(text=usdt_text + source)
        if terms is not None:
            fn = bpf.load_func("trace_install_filter", bcc.BPF.KPROBE)
            bpf["filter_prog"][ctypes.c_int(0)] = ctypes.c_int(fn.fd)
        attach_usdt(bcc, bpf, probes, ref_ctrs)
    except ToolError:
        if bpf is not None:
            bpf.cleanup()
        raise
    except Exception as e:
        if not _alive(pid):
            raise ToolError("ovs-vswitchd (PID %d) exited" % pid)
        raise ToolError("cannot load the BPF program: %s"
                        % str(e).splitlines()[0])

    stats = bpf["stats"]

    def read_stats():
        totals = [0] * ST_MAX
        for i in range(ST_MAX):
            totals[i] = sum(stats[ctypes.c_int(i)])
        return totals

    reporter = Reporter(options, read_stats)
    try:
        return follow(bpf, reporter, pid,
                      [p for p, _ in installs + removals + verdicts])
    finally:
        bpf.cleanup()


def follow(bpf, reporter, pid, probes):
    """Reports the events until a signal, or until ovs-vswitchd exits
    (status 1).  Raises ToolError when the output cannot be written."""
    options = reporter.options
    bpf["events"].open_ring_buffer(reporter.handle)

    # The handler only raises a flag: an exception raised while the ring
    # buffer callback runs would be swallowed by ctypes, and the signal lost.
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    status = 0
    reporter.header(pid, probes)
    try:
        while not stopping:
            bpf.ring_buffer_poll(timeout=100)
            reporter.check()
            reporter.check_counts()
            if not _alive(pid):
                warn("ovs-vswitchd (PID %d) exited" % pid)
                status = 1
                break
    except KeyboardInterrupt:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    bpf.ring_buffer_consume()
    reporter.check()
    reporter.check_counts()
    if options.summary:
        reporter.summary()
    return status


def main(argv=None):
    options = parse_options(sys.argv[1:] if argv is None else argv)
    options.pcap_writer = None
    try:
        return run(options)
    except ToolError as e:
        warn(str(e))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away ("| head"): no more output.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
