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
# revalidator deletes it.  It attaches to these USDT probes:
#
#   dp_netdev_flow_add:dp_flow_put        flow installed (userspace datapath)
#   dpif_netlink_operate__:op_flow_put    flow installed (kernel datapath)
#   revalidate:flow_change                MODIFY/DELETE verdict, dump phase
#   revalidator_sweep__:flow_sweep_change MODIFY/DELETE verdict, sweep phase
#   revalidate:flow_result and revalidator_sweep__:flow_sweep_result
#                                         every verdict, with --keeps only
#
# The probes hand over the flow's UFID and the install probes a
# 'struct dpif_flow_put', whose layout is public ABI, so the script needs no
# debug information and no structure offsets.  It correlates the events by
# UFID, in the kernel: a BPF hash map holds the followed flows and their
# install time.  With -f, the filter is compiled into the install probe's
# BPF program, so only the flows that match it are followed, and the
# verdicts on the other flows are dropped in the kernel: a filter that
# matches nothing wakes up nothing in user space.  Without -f, every flow is
# followed, including those installed before the script started (their
# lifetime is then unknown).
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
#     events: 2 install, 1 modify, 2 delete, 0 keep
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
#   EVENT     install, modify, delete (or keep, with --keeps).
#   REASON    for a delete, why (see the list below); for an install of a
#             flow that does not fit in the map of followed flows,
#             "map_full" (see "Bounded state"); else "-".
#   LIFETIME  for a modify or delete, the time since the install, in
#             milliseconds, as 1.899s; "?" when the install was not seen
#             (before the tool started, or not followed); "-" for installs.
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
#   put", "dpif_netlink_operate__:op_flow_put", "revalidate:flow_change", "r\
#   evalidator_sweep__:flow_sweep_change"]}
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
# missing_dp, limit_idle, unexpected, pmd_removed.
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
#                           ovs-vswitchd's PID; needed only when several ovs-
#                           vswitchd processes run
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
# See "filter_probe.py --help" for the filter syntax and what the pcap holds.
#
import argparse
import ctypes
import json
import os
import signal
import socket
import struct
import sys
import time


PROG = "filter_probe.py"

REASONS = ["none", "avoid_caching", "bad_odp_fit", "idle", "flow_limit",
           "wildcarded", "no_ofproto", "purge", "too_expensive",
           "update_fail", "xlation_error", "missing_dp", "limit_idle",
           "unexpected", "pmd_removed"]
RESULTS = ["keep", "delete", "modify"]

DEFAULT_PAGE_COUNT = 1024
DEFAULT_MAX_FLOWS = 65536
MAX_KEY = 1024        # Key (and mask) bytes copied; a power of 2.
MAX_ATTRS = 64        # Attributes walked per level by the BPF filter.


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
# ODP flow keys: Netlink attribute streams of OVS_KEY_ATTR_*.
#
A_UNSPEC, A_ENCAP, A_PRIORITY, A_IN_PORT, A_ETHERNET, A_VLAN = 0, 1, 2, 3, 4, 5
A_ETHERTYPE, A_IPV4, A_IPV6, A_TCP, A_UDP, A_ICMP, A_ICMPV6 = range(6, 13)
A_ARP, A_ND, A_SKB_MARK, A_TUNNEL, A_SCTP, A_TCP_FLAGS = range(13, 19)
A_DP_HASH, A_RECIRC_ID, A_MPLS, A_CT_STATE, A_CT_ZONE = range(19, 24)
A_CT_MARK, A_CT_LABELS, A_CT_TUPLE4, A_CT_TUPLE6, A_NSH = range(24, 29)
A_PACKET_TYPE, A_ND_EXT, A_TUNNEL_INFO = 29, 30, 31
A_MAX = 31

VAR, NESTED = -2, -3
KEY_LENS = {A_ENCAP: NESTED, A_PRIORITY: 4, A_SKB_MARK: 4, A_DP_HASH: 4,
            A_RECIRC_ID: 4, A_TUNNEL: NESTED, A_IN_PORT: 4, A_ETHERNET: 12,
            A_VLAN: 2, A_ETHERTYPE: 2, A_MPLS: VAR, A_IPV4: 12, A_IPV6: 40,
            A_TCP: 4, A_TCP_FLAGS: 2, A_UDP: 4, A_SCTP: 4, A_ICMP: 2,
            A_ICMPV6: 2, A_ARP: 24, A_ND: 28, A_ND_EXT: 8, A_CT_STATE: 4,
            A_CT_ZONE: 2, A_CT_MARK: 4, A_CT_LABELS: 16, A_CT_TUPLE4: 16,
            A_CT_TUPLE6: 40, A_PACKET_TYPE: 4, A_NSH: NESTED}
KEY_NAMES = {A_UNSPEC: "unspec", A_ENCAP: "encap", A_PRIORITY: "skb_priority",
             A_SKB_MARK: "skb_mark", A_CT_STATE: "ct_state",
             A_CT_ZONE: "ct_zone", A_CT_MARK: "ct_mark",
             A_CT_LABELS: "ct_label", A_CT_TUPLE4: "ct_tuple4",
             A_CT_TUPLE6: "ct_tuple6", A_TUNNEL: "tunnel",
             A_IN_PORT: "in_port", A_ETHERNET: "eth", A_VLAN: "vlan",
             A_ETHERTYPE: "eth_type", A_IPV4: "ipv4", A_IPV6: "ipv6",
             A_TCP: "tcp", A_TCP_FLAGS: "tcp_flags", A_UDP: "udp",
             A_SCTP: "sctp", A_ICMP: "icmp", A_ICMPV6: "icmpv6",
             A_ARP: "arp", A_ND: "nd", A_ND_EXT: "nd_ext", A_MPLS: "mpls",
             A_DP_HASH: "dp_hash", A_RECIRC_ID: "recirc_id",
             A_PACKET_TYPE: "packet_type", A_NSH: "nsh",
             A_TUNNEL_INFO: "<error: kernel-only tunnel_info>"}

T_ID, T_IPV4_SRC, T_IPV4_DST, T_TOS, T_TTL, T_DF, T_CSUM = range(7)
T_OAM, T_GENEVE, T_TP_SRC, T_TP_DST, T_VXLAN, T_IPV6_SRC = range(7, 13)
T_IPV6_DST, T_PAD, T_ERSPAN, T_GTPU = range(13, 17)
T_MAX = 16
TUN_LENS = {T_ID: 8, T_IPV4_SRC: 4, T_IPV4_DST: 4, T_TOS: 1, T_TTL: 1,
            T_DF: 0, T_CSUM: 0, T_TP_SRC: 2, T_TP_DST: 2, T_OAM: 0,
            T_GENEVE: VAR, T_VXLAN: NESTED, T_IPV6_SRC: 16, T_IPV6_DST: 16,
            T_ERSPAN: VAR, T_GTPU: VAR}
TNL_F_OAM, TNL_F_DF, TNL_F_CSUM, TNL_F_KEY = 1, 2, 4, 8
TNL_FLAG_NAMES = {TNL_F_OAM: "oam", TNL_F_DF: "df", TNL_F_CSUM: "csum",
                  TNL_F_KEY: "key"}
CT_FLAG_NAMES = {0x01: "new", 0x02: "est", 0x04: "rel", 0x08: "rpl",
                 0x10: "inv", 0x20: "trk", 0x40: "snat", 0x80: "dnat"}
TCP_FLAG_NAMES = {0x001: "fin", 0x002: "syn", 0x004: "rst", 0x008: "psh",
                  0x010: "ack", 0x020: "urg", 0x040: "ece", 0x080: "cwr",
                  0x100: "ns", 0x200: "[200]", 0x400: "[400]",
                  0x800: "[800]"}
FRAG_NAMES = {0: "no", 1: "first", 2: "later"}
NLA_TYPE_MASK = 0x3fff


def nl_attrs(buf):
    """Parses a Netlink attribute stream as NL_ATTR_FOR_EACH does.  Returns
    ([(type, payload), ...], offset of the unparsed rest)."""
    attrs = []
    off = 0
    left = len(buf)
    while left >= 4:
        alen, atype = struct.unpack_from("<HH", buf, off)
        if alen < 4 or alen > left:
            break
        attrs.append((atype & NLA_TYPE_MASK, bytes(buf[off + 4:off + alen])))
        step = (alen + 3) & ~3
        step = step if step <= left else alen
        off += step
        left -= step
    return attrs, off


def nl_find(buf, atype):
    """Returns the payload of the first attribute of 'atype' in 'buf'."""
    if buf is None:
        return None
    for t, payload in nl_attrs(buf)[0]:
        if t == atype:
            return payload
    return None


def _hexbytes(b):
    return " ".join("%02x" % x for x in b)


def _undecodable(a, ma):
    """What format_flow() prints for an attribute payload that it cannot
    decode (and that Open vSwitch would read past the end of):
    "<cannot decode: KEY-HEX[/MASK-HEX]>"."""
    return "<cannot decode: %s%s>" % (
        _hexbytes(a), "" if ma is None else "/" + _hexbytes(ma))


def _eth(b):
    return ":".join("%02x" % x for x in b)


def _ip(b):
    return socket.inet_ntop(socket.AF_INET, bytes(b))


def _ip6(b):
    return socket.inet_ntop(socket.AF_INET6, bytes(b))


def _hx(v):
    """C's "%#x": no "0x" prefix for 0."""
    return "0x%x" % v if v else "0"


def _put_hex(b):
    """ds_put_hex(): hex of a big-endian buffer without leading zeros."""
    v = int.from_bytes(bytes(b), "big")
    return "0x%x" % v if v else "0"


class _Out(object):
    """A string builder with ds_chomp()."""

    def __init__(self):
        self.parts = []

    def put(self, s):
        self.parts.append(s)

    def chomp(self, c):
        s = "".join(self.parts)
        if s.endswith(c):
            s = s[:-1]
        self.parts = [s]

    def mark(self):
        return len(str(self))

    def reset(self, mark):
        self.parts = [str(self)[:mark]]

    def __str__(self):
        return "".join(self.parts)


def _field(out, name, key, mask, verbose, width, kind):
    """Formats one field as odp-util's format_u8u/u8x/be16/be16x/ipv4/...
    'key' and 'mask' are bytes (mask None: exact)."""
    kv = int.from_bytes(key, "big")
    mv = int.from_bytes(mask, "big") if mask is not None else None
    full = (1 << (8 * width)) - 1
    if not verbose and (mv == 0 or (kind == "be64" and mv is None)):
        # (format_be64() prints nothing without a mask, unless verbose.)
        return
    exact = mv is None or mv == full
    if kind == "eth":
        if exact:
            out.put("%s=%s," % (name, _eth(key)))
        else:
            out.put("%s=%s/%s," % (name, _eth(key), _eth(mask)))
        return
    if kind == "ipv4":
        out.put("%s=%s" % (name, _ip(key)))
        if not exact:
            out.put("/%s" % _ip(mask))
    elif kind == "ipv6":
        out.put("%s=%s" % (name, _ip6(key)))
        if not exact:
            out.put("/%s" % _ip6(mask))
    elif kind == "label":
        exact = mv is None or (mv & 0xfffff) == 0xfffff
        out.put("%s=%s" % (name, _hx(kv)))
        if not exact:
            out.put("/" + _hx(mv))
    elif kind == "u":
        out.put("%s=%d" % (name, kv))
        if not exact:
            out.put("/" + _hx(mv))
    elif kind == "x":
        out.put("%s=%s" % (name, _hx(kv)))
        if not exact:
            out.put("/" + _hx(mv))
    elif kind == "be64":
        out.put("%s=0x%x" % (name, kv))
        if not exact:
            out.put("/" + _hx(mv))
    out.put(",")


def _sub(b, off, size):
    return None if b is None else b[off:off + size]


def _frag(out, name, key, mask):
    mv = mask[0] if mask is not None else 0xff
    if mv and mv != 0xff:
        out.put("error: partial mask not supported for frag (%s)," % _hx(mv))
    elif mv:
        out.put("%s=%s," % (name, FRAG_NAMES.get(key[0], "<error>")))


def _flags(names, flags):
    """format_flags(..., '|')."""
    if not flags:
        return "0"
    s = []
    bad = 0
    bit = 1
    while flags:
        if flags & bit:
            if bit in names:
                s.append(names[bit])
            else:
                bad |= bit
            flags &= ~bit
        bit <<= 1
    if bad:
        s.append("0x%x" % bad)
    return "|".join(s)


def _flags_masked(names, flags, mask, max_mask):
    """format_flags_masked() without a name."""
    if mask == max_mask:
        return _flags(names, flags)
    if not mask:
        return "0/0"
    s = ""
    bit = 1
    while mask:
        if mask & bit:
            s += ("+" if flags & bit else "-") + names.get(bit, "[Unknown]")
            mask &= ~bit
        bit <<= 1
    return s


def _wildcard_mask(lens, atype, payload):
    """generate_all_wildcard_mask(): an all-zero mask for 'payload'.  For a
    nested attribute, OVS 3.1's version yields an empty one."""
    if lens.get(atype) == NESTED:
        return b""
    return b"\0" * len(payload)


def _check_len(out, lens, max_type, atype, a, ma, need_key):
    """check_attr_len(): False, after formatting it as bad, if the key or
    the mask of a fixed-size attribute has the wrong length."""
    if atype > max_type:
        return True
    expected = lens.get(atype, 0)
    if expected in (VAR, NESTED):
        return True
    bad_key = len(a) != expected
    bad_mask = ma is not None and len(ma) != expected
    if not (bad_key or bad_mask):
        return True
    if need_key:
        out.put("key%u" % atype)
    if bad_key:
        out.put("(bad key length %d, expected %d)(" % (len(a), expected))
    out.put(_hexbytes(a))
    if ma is not None:
        out.put("/")
        if bad_mask:
            out.put("(bad mask length %d, expected %d)("
                    % (len(ma), expected))
        out.put(_hexbytes(ma))
    out.put(")")
    return False


def _all(b, v):
    return all(x == v for x in b)


def _mask_is_const(atype, m, c):
    """odp_mask_is_constant__(): is mask 'm' all 0 (c=0) or all 1 (c=0xff)
    in the bits that matter for 'atype'?"""
    if atype in (A_UNSPEC, A_ENCAP, A_TUNNEL_INFO) or atype > A_MAX \
            or atype not in KEY_LENS:
        return False
    if atype == A_TCP_FLAGS:
        return (int.from_bytes(m[:2], "big") & 0x0fff) == (c and 0x0fff)
    if atype == A_IPV6:
        label = int.from_bytes(m[32:36], "big") & 0xfffff
        return label == (c and 0xfffff) and _all(m[36:40], c) \
            and _all(m[:32], c)
    if atype == A_ARP:
        return _all(m[:22], c)
    if atype == A_CT_TUPLE4:
        return _all(m[:13], c)
    if atype == A_CT_TUPLE6:
        return _all(m[:37], c)
    return _all(m, c)


def _format_tunnel(out, a, ma, verbose):
    flags = 0
    mask_flags = 0
    for t, p in nl_attrs(a)[0]:
        m = None
        if ma is not None:
            m = nl_find(ma, t)
            if m is None:
                m = _wildcard_mask(TUN_LENS, t, p)
        if not _check_len(out, TUN_LENS, T_MAX, t, p, m, True):
            continue
        if t == T_ID:
            _field(out, "tun_id", p, m, verbose, 8, "be64")
            flags |= TNL_F_KEY
            if m is not None:
                mask_flags |= TNL_F_KEY
        elif t in (T_IPV4_SRC, T_IPV4_DST):
            _field(out, "src" if t == T_IPV4_SRC else "dst", p, m, verbose,
                   4, "ipv4")
        elif t in (T_IPV6_SRC, T_IPV6_DST):
            _field(out, "ipv6_src" if t == T_IPV6_SRC else "ipv6_dst", p, m,
                   verbose, 16, "ipv6")
        elif t == T_TOS:
            _field(out, "tos", p, m, verbose, 1, "x")
        elif t == T_TTL:
            _field(out, "ttl", p, m, verbose, 1, "u")
        elif t == T_DF:
            flags |= TNL_F_DF
        elif t == T_CSUM:
            flags |= TNL_F_CSUM
        elif t == T_OAM:
            flags |= TNL_F_OAM
        elif t in (T_TP_SRC, T_TP_DST):
            _field(out, "tp_src" if t == T_TP_SRC else "tp_dst", p, m,
                   verbose, 2, "u")
        elif t == T_VXLAN:
            out.put("vxlan(")
            _format_vxlan(out, p, m, verbose)
            out.put("),")
        elif t == T_GENEVE:
            out.put("geneve(")
            _format_geneve(out, p, m, verbose)
            out.put("),")
        elif t == T_PAD:
            pass
        elif t == T_ERSPAN:
            out.put("erspan(")
            _format_erspan(out, p, m, verbose)
            out.put("),")
        elif t == T_GTPU:
            out.put("gtpu(")
            _field(out, "flags", p[0:1], _sub(m, 0, 1), verbose, 1, "x")
            _field(out, "msgtype", p[1:2], _sub(m, 1, 1), verbose, 1, "u")
            out.chomp(",")
            out.put("),")
        else:
            _format_unknown(out, t, p, m)
    if ma is not None:
        for t, p in nl_attrs(ma)[0]:
            mask_flags |= {T_DF: TNL_F_DF, T_CSUM: TNL_F_CSUM,
                           T_OAM: TNL_F_OAM}.get(t, 0)
    if ma is None:
        out.put("flags(%s)," % _flags(TNL_FLAG_NAMES, flags))
    elif verbose or mask_flags:
        out.put("flags(%s)," % _flags_masked(TNL_FLAG_NAMES, flags,
                                             mask_flags & 0xf, 0xf))
    out.chomp(",")


def _format_unknown(out, t, p, m):
    out.put("key%u(%s" % (t, _hexbytes(p)))
    if m is not None and not _all(m, 0xff):
        out.put("/" + _hexbytes(m))
    out.put("),")


def _format_vxlan(out, a, ma, verbose):
    for t, p in nl_attrs(a)[0]:
        m = None
        if ma is not None:
            m = nl_find(ma, t)
            if m is None:
                m = b"\0" * len(p)
        if not _check_len(out, {1: 4}, 1, t, p, m, True):
            continue
        if t == 1:
            v = struct.unpack("<I", p)[0]
            mv = struct.unpack("<I", m)[0] if m is not None else None
            out.put("gbp(")
            _field(out, "id", struct.pack(">H", v & 0xffff),
                   None if mv is None else struct.pack(">H", mv & 0xffff),
                   verbose, 2, "u")
            _field(out, "flags", bytes([(v >> 16) & 0xff]),
                   None if mv is None else bytes([(mv >> 16) & 0xff]),
                   verbose, 1, "x")
            out.chomp(",")
            out.put("),")
        else:
            _format_unknown(out, t, p, m)
    out.chomp(",")


def _format_geneve(out, a, ma, verbose):
    if ma is not None and len(a) != len(ma):
        out.put("value len %d different from mask len %d"
                % (len(a), len(ma)))
        return
    off = 0
    while off < len(a):
        left = len(a) - off
        if left < 4:
            out.put("opt len %u less than minimum 4" % left)
            return
        data_len = (a[off + 3] & 0x1f) * 4
        length = 4 + data_len
        if length > left:
            out.put("opt len %u greater than remaining %u" % (length, left))
            return
        m = None if ma is None else ma[off:off + length]
        out.put("{")
        _field(out, "class", a[off:off + 2], _sub(m, 0, 2), verbose, 2, "x")
        _field(out, "type", a[off + 2:off + 3], _sub(m, 2, 1), verbose, 1,
               "x")
        if m is not None:
            ml = m[3] & 0x1f
            ml = 0xff if ml == 0x1f else ml
            ml = bytes([ml])
        else:
            ml = None
        _field(out, "len", bytes([data_len]), ml, verbose, 1, "u")
        data = a[off + 4:off + length]
        if data_len and (verbose or m is None or not _all(m[4:], 0)):
            out.put(_put_hex(data))
            if m is not None and not _all(m[4:], 0xff):
                out.put("/" + _put_hex(m[4:]))
        else:
            out.chomp(",")
        out.put("}")
        off += length


def _format_erspan(out, a, ma, verbose):
    """format_odp_tun_erspan_opt(): a struct erspan_metadata, that is a
    native-endian int version, then for version 1 a be32 index and for
    version 2 a struct erspan_md2 whose last byte holds dir (bit 3) and
    hwid (bits 4 to 7)."""
    if len(a) < 12 or (ma is not None and len(ma) < 12):
        # Open vSwitch would read past the attribute.
        out.put(_undecodable(a, ma))
        return
    version = struct.unpack("<i", a[:4])[0]
    _field(out, "ver", a[0:1], _sub(ma, 0, 1), verbose, 1, "u")
    if version == 1:
        idx = _hx(int.from_bytes(a[4:8], "big"))
        if ma is not None:
            out.put("idx=%s/%s," % (idx, _hx(int.from_bytes(ma[4:8],
                                                            "big"))))
        else:
            out.put("idx=%s," % idx)
    elif version == 2:
        b = a[11]
        mb = None if ma is None else ma[11]
        _field(out, "dir", bytes([(b >> 3) & 1]),
               None if mb is None else bytes([(mb >> 3) & 1]), verbose, 1,
               "u")
        _field(out, "hwid", bytes([b >> 4]),
               None if mb is None else bytes([mb >> 4]), verbose, 1, "x")
    out.chomp(",")


def _format_vlan(out, a, ma, verbose):
    tci = int.from_bytes(a, "big")
    mask = int.from_bytes(ma, "big") if ma is not None else 0xffff
    vid, mvid = tci & 0xfff, mask & 0xfff
    pcp, mpcp = tci >> 13, mask >> 13
    if verbose or vid or mvid:
        out.put("vid=%d" % vid)
        if mvid != 0xfff:
            out.put("/0x%x" % mvid)
        out.put(",")
    if verbose or pcp or mpcp:
        out.put("pcp=%d" % pcp)
        if mpcp != 7:
            out.put("/0x%x" % mpcp)
        out.put(",")
    if not tci & 0x1000:
        out.put("cfi=0,")
    out.chomp(",")


def _format_mpls(out, a, ma, exact):
    if not a or len(a) % 4:
        out.put("(bad key length %d)" % len(a))
        return False
    if not exact and len(a) != len(ma):
        out.put("(key length %d != mask length %d)" % (len(a), len(ma)))
        return False
    for i in range(0, len(a), 4):
        k = int.from_bytes(a[i:i + 4], "big")
        f = (k >> 12, (k >> 9) & 7, k & 0xff, (k >> 8) & 1)
        if exact:
            out.put("label=%d,tc=%d,ttl=%d,bos=%d," % f)
        else:
            m = int.from_bytes(ma[i:i + 4], "big")
            g = (m >> 12, (m >> 9) & 7, m & 0xff, (m >> 8) & 1)
            out.put("label=%d/0x%x,tc=%d/%x,ttl=%d/0x%x,bos=%d/%x,"
                    % (f[0], g[0], f[1], g[1], f[2], g[2], f[3], g[3]))
    out.chomp(",")
    return True


def _format_nsh(out, a, ma):
    base = [0] * 5          # flags, ttl, mdtype, np, path_hdr
    base_m = [0xff, 0xff, 0xff, 0xff, 0xffffffff]
    ctx = [0] * 4
    ctx_m = [0xffffffff] * 4
    lens = {1: 8, 2: 16, 3: VAR}
    for t, p in nl_attrs(a)[0]:
        m = nl_find(ma, t) if ma is not None else None
        if not _check_len(out, lens, 3, t, p, m, True):
            continue
        if t == 1:
            base = list(struct.unpack(">BBBBI", p))
            if m is not None:
                base_m = list(struct.unpack(">BBBBI", m))
        elif t == 2:
            ctx = list(struct.unpack(">4I", p))
            if m is not None:
                ctx_m = list(struct.unpack(">4I", m))
    flags, ttl, mdtype, np_, path = base
    if ma is None:
        out.put("flags=%d,ttl=%d,mdtype=%d,np=%d,spi=0x%x,si=%d"
                % (flags, ttl, mdtype, np_, path >> 8, path & 0xff))
        if mdtype == 1:
            for i in range(4):
                out.put(",c%d=0x%x" % (i + 1, ctx[i]))
        return
    fields = []

    def u8(name, v, m):
        if m == 0xff:
            fields.append("%s=%d" % (name, v))
        elif m:
            fields.append("%s=%d/0x%x" % (name, v, m))

    def be32(name, v, m):
        if m == 0xffffffff:
            fields.append("%s=0x%x" % (name, v))
        elif m:
            fields.append("%s=0x%x/0x%x" % (name, v, m))

    u8("flags", flags, base_m[0])
    u8("ttl", ttl, base_m[1])
    u8("mdtype", mdtype, base_m[2])
    u8("np", np_, base_m[3])
    be32("spi", path >> 8, base_m[4] >> 8)
    u8("si", path & 0xff, base_m[4] & 0xff)
    if mdtype == 1:
        for i in range(4):
            be32("c%d" % (i + 1), ctx[i], ctx_m[i])
    out.put(",".join(fields))


def _u32(b):
    return struct.unpack("<I", b)[0]


def _format_attr(out, t, a, ma, verbose):
    """format_odp_key_attr__()."""
    exact = True if ma is None else _mask_is_const(t, ma, 0xff)
    out.put(KEY_NAMES.get(t, "key%u" % t))
    out.put("(")
    if t == A_ENCAP:
        if ma is not None and len(ma) and len(a):
            out.put(format_flow(a, ma, verbose))
        elif len(a):
            out.put(format_flow(a, None, verbose))
    elif t in (A_PRIORITY, A_SKB_MARK, A_DP_HASH, A_RECIRC_ID):
        out.put(_hx(_u32(a)))
        if not exact:
            out.put("/" + _hx(_u32(ma)))
    elif t == A_CT_MARK:
        if verbose or (ma is not None and not _all(ma, 0)):
            out.put(_hx(_u32(a)))
            if not exact:
                out.put("/" + _hx(_u32(ma)))
    elif t == A_CT_STATE:
        m = 0 if ma is None or _all(ma, 0) else _u32(ma)
        if verbose:
            out.put(_hx(_u32(a)))
            if not exact:
                out.put("/" + _hx(m))
        elif not exact:
            out.put(_flags_masked(CT_FLAG_NAMES, _u32(a), m, 0xffffffff))
        else:
            out.put(_flags(CT_FLAG_NAMES, _u32(a)))
    elif t == A_CT_ZONE:
        if verbose or (ma is not None and not _all(ma, 0)):
            out.put(_hx(struct.unpack("<H", a)[0]))
            if not exact:
                out.put("/" + _hx(struct.unpack("<H", ma)[0]))
    elif t == A_CT_LABELS:
        mv = None if ma is None else int.from_bytes(ma, "little")
        if verbose or mv:
            v = int.from_bytes(a, "little")
            out.put("0x%x" % v if v else "0")
            if mv is not None and mv != (1 << 128) - 1:
                out.put("/" + ("0x%x" % mv if mv else "0"))
    elif t == A_CT_TUPLE4:
        _field(out, "src", a[0:4], _sub(ma, 0, 4), verbose, 4, "ipv4")
        _field(out, "dst", a[4:8], _sub(ma, 4, 4), verbose, 4, "ipv4")
        _field(out, "proto", a[12:13], _sub(ma, 12, 1), verbose, 1, "u")
        _field(out, "tp_src", a[8:10], _sub(ma, 8, 2), verbose, 2, "u")
        _field(out, "tp_dst", a[10:12], _sub(ma, 10, 2), verbose, 2, "u")
        out.chomp(",")
    elif t == A_CT_TUPLE6:
        _field(out, "src", a[0:16], _sub(ma, 0, 16), verbose, 16, "ipv6")
        _field(out, "dst", a[16:32], _sub(ma, 16, 16), verbose, 16, "ipv6")
        _field(out, "proto", a[36:37], _sub(ma, 36, 1), verbose, 1, "u")
        _field(out, "src_port", a[32:34], _sub(ma, 32, 2), verbose, 2, "u")
        _field(out, "dst_port", a[34:36], _sub(ma, 34, 2), verbose, 2, "u")
        out.chomp(",")
    elif t == A_TUNNEL:
        _format_tunnel(out, a, ma, verbose)
    elif t == A_IN_PORT:
        if exact:
            out.put("%d" % _u32(a))
        else:
            out.put("%d/%s" % (_u32(a), _hx(_u32(ma))))
    elif t == A_PACKET_TYPE:
        m = ma if ma is not None else b"\xff" * 4
        _field(out, "ns", a[0:2], m[0:2], verbose, 2, "u")
        _field(out, "id", a[2:4], m[2:4], verbose, 2, "x")
        out.chomp(",")
    elif t == A_ETHERNET:
        _field(out, "src", a[0:6], _sub(ma, 0, 6), verbose, 6, "eth")
        _field(out, "dst", a[6:12], _sub(ma, 6, 6), verbose, 6, "eth")
        out.chomp(",")
    elif t == A_VLAN:
        _format_vlan(out, a, ma, verbose)
    elif t == A_MPLS:
        if not _format_mpls(out, a, ma, exact):
            return
    elif t == A_ETHERTYPE:
        out.put("0x%04x" % int.from_bytes(a, "big"))
        if not exact:
            out.put("/0x%04x" % int.from_bytes(ma, "big"))
    elif t == A_IPV4:
        _field(out, "src", a[0:4], _sub(ma, 0, 4), verbose, 4, "ipv4")
        _field(out, "dst", a[4:8], _sub(ma, 4, 4), verbose, 4, "ipv4")
        _field(out, "proto", a[8:9], _sub(ma, 8, 1), verbose, 1, "u")
        _field(out, "tos", a[9:10], _sub(ma, 9, 1), verbose, 1, "x")
        _field(out, "ttl", a[10:11], _sub(ma, 10, 1), verbose, 1, "u")
        _frag(out, "frag", a[11:12], _sub(ma, 11, 1))
        out.chomp(",")
    elif t == A_IPV6:
        _field(out, "src", a[0:16], _sub(ma, 0, 16), verbose, 16, "ipv6")
        _field(out, "dst", a[16:32], _sub(ma, 16, 16), verbose, 16, "ipv6")
        _field(out, "label", a[32:36], _sub(ma, 32, 4), verbose, 4, "label")
        _field(out, "proto", a[36:37], _sub(ma, 36, 1), verbose, 1, "u")
        _field(out, "tclass", a[37:38], _sub(ma, 37, 1), verbose, 1, "x")
        _field(out, "hlimit", a[38:39], _sub(ma, 38, 1), verbose, 1, "u")
        _frag(out, "frag", a[39:40], _sub(ma, 39, 1))
        out.chomp(",")
    elif t in (A_TCP, A_UDP, A_SCTP):
        _field(out, "src", a[0:2], _sub(ma, 0, 2), verbose, 2, "u")
        _field(out, "dst", a[2:4], _sub(ma, 2, 2), verbose, 2, "u")
        out.chomp(",")
    elif t == A_TCP_FLAGS:
        v = int.from_bytes(a, "big")
        if not exact:
            out.put(_flags_masked(TCP_FLAG_NAMES, v,
                                  int.from_bytes(ma, "big") & 0x0fff,
                                  0x0fff))
        else:
            out.put(_flags(TCP_FLAG_NAMES, v))
    elif t in (A_ICMP, A_ICMPV6):
        _field(out, "type", a[0:1], _sub(ma, 0, 1), verbose, 1, "u")
        _field(out, "code", a[1:2], _sub(ma, 1, 1), verbose, 1, "u")
        out.chomp(",")
    elif t == A_ARP:
        _field(out, "sip", a[0:4], _sub(ma, 0, 4), verbose, 4, "ipv4")
        _field(out, "tip", a[4:8], _sub(ma, 4, 4), verbose, 4, "ipv4")
        _field(out, "op", a[8:10], _sub(ma, 8, 2), verbose, 2, "u")
        _field(out, "sha", a[10:16], _sub(ma, 10, 6), verbose, 6, "eth")
        _field(out, "tha", a[16:22], _sub(ma, 16, 6), verbose, 6, "eth")
        out.chomp(",")
    elif t == A_ND:
        _field(out, "target", a[0:16], _sub(ma, 0, 16), verbose, 16, "ipv6")
        _field(out, "sll", a[16:22], _sub(ma, 16, 6), verbose, 6, "eth")
        _field(out, "tll", a[22:28], _sub(ma, 22, 6), verbose, 6, "eth")
        out.chomp(",")
    elif t == A_ND_EXT:
        out.put("nd_reserved=0x%x," % int.from_bytes(a[0:4], "big"))
        _field(out, "nd_options_type", a[4:5], _sub(ma, 4, 1), verbose, 1,
               "u")
        out.chomp(",")
    elif t == A_NSH:
        _format_nsh(out, a, ma)
    else:
        out.put(_hexbytes(a))
        if not exact:
            out.put("/" + _hexbytes(ma))
    out.put(")")


def format_flow(key, mask=None, verbose=False):
    """Formats an ODP flow key, and its mask if 'mask' is not None, exactly
    as odp_flow_format() does, that is as "ovs-appctl dpctl/dump-flows"
    prints datapath flows (with -m when 'verbose'; port numbers, not
    names).  It never raises: an attribute that it cannot decode (where
    Open vSwitch would read past its end) is printed as
    "NAME(<cannot decode: KEY-HEX[/MASK-HEX]>)"."""
    key = bytes(key)
    mask = bytes(mask) if mask else None
    if not key:
        return "<empty>"
    out = _Out()
    attrs, used = nl_attrs(key)
    has_ethtype = False
    has_packet_type = False
    first = True
    for t, a in attrs:
        ma = nl_find(mask, t) if mask else None
        if not _check_len(out, KEY_LENS, A_MAX, t, a, ma, False):
            continue
        if t == A_ETHERTYPE:
            has_ethtype = True
        elif t == A_PACKET_TYPE:
            has_packet_type = True
        nested = KEY_LENS.get(t) == NESTED
        wildcard = False
        if mask:
            wildcard = _mask_is_const(t, ma, 0) if ma is not None else True
        if verbose or not wildcard or nested:
            if wildcard and ma is None:
                ma = _wildcard_mask(KEY_LENS, t, a)
            if not first:
                out.put(",")
            mark = out.mark()
            try:
                _format_attr(out, t, a, ma, verbose)
            except (IndexError, KeyError, TypeError, ValueError,
                    OverflowError, struct.error):
                # A malformed attribute that the checks above let through.
                out.reset(mark)
                out.put("%s(%s)" % (KEY_NAMES.get(t, "key%u" % t),
                                    _undecodable(a, ma)))
            first = False
        elif t == A_ETHERNET and not has_packet_type:
            if not first:
                out.put(",")
            out.put("eth()")
        elif t == A_PACKET_TYPE and wildcard:
            has_packet_type = False
    left = len(key) - used
    if left:
        if left == len(key):
            out.put("<empty>")
        out.put(",***%u leftover bytes*** (%s)"
                % (left, "".join("%02x" % x for x in key[used:])))
    if not has_ethtype and mask:
        m = nl_find(mask, A_ETHERTYPE)
        if m is not None:
            out.put(",eth_type(0/0x%04x)" % int.from_bytes(m[:2], "big"))
    return str(out)


#
# Filters: an ODP flow expression, parsed into terms that the install probe
# checks in the kernel, each (attribute path, offset, value, mask): the
# attribute at 'path' (a top-level OVS_KEY_ATTR_* or, for encap() and
# tunnel(), one nested inside) must be in the flow's key, and on every bit
# set both in the term's mask and in the flow's own mask, the key must be
# equal to the value.  That is, a flow is followed when some packet that it
# matches also matches the filter (as "dpctl/dump-flows filter=" does).
#
class FilterError(ToolError):
    def __init__(self, text, pos, msg):
        ToolError.__init__(self, "bad --filter at column %d (%s): %s"
                           % (pos + 1, repr(text[pos:pos + 20] or "end"),
                              msg))


# Attributes of the packet's innermost headers: a filter names them at the
# top level, and they match the flow's innermost encap() if it has one (a
# VLAN-tagged flow), as OpenFlow's fields do.
INNER_ATTRS = set([A_ETHERTYPE, A_IPV4, A_IPV6, A_TCP, A_UDP, A_SCTP, A_ICMP,
                   A_ICMPV6, A_ARP, A_ND, A_ND_EXT, A_TCP_FLAGS, A_MPLS])


class Term(object):
    """One check of the filter: the attribute at 'path' must be in the key
    and, on the bits of 'mask' at 'offset' that the flow's mask matches too,
    equal 'value'.  If 'present' is not None, the last attribute of 'path'
    must instead be present (True) or absent (False), where the flow's mask
    matches its presence (tunnel flags)."""

    def __init__(self, path, offset, value, mask, present=None):
        self.path = tuple(path)
        self.offset = offset
        self.value = bytes(value)
        self.mask = bytes(mask)
        self.present = present
        self.inner = len(self.path) == 1 and self.path[0] in INNER_ATTRS

    def __repr__(self):
        return "Term(%r, %d, %s, %s%s%s)" % (
            self.path, self.offset, self.value.hex(), self.mask.hex(),
            "" if self.present is None else ", present=%s" % self.present,
            ", inner" if self.inner else "")


# Fields of the fixed-layout attributes: name: (offset, size, kind).
_FIELDS = {
    A_ETHERNET: {"src": (0, 6, "eth"), "dst": (6, 6, "eth")},
    A_IPV4: {"src": (0, 4, "ipv4"), "dst": (4, 4, "ipv4"),
             "proto": (8, 1, "int"), "tos": (9, 1, "int"),
             "ttl": (10, 1, "int"), "frag": (11, 1, "frag")},
    A_IPV6: {"src": (0, 16, "ipv6"), "dst": (16, 16, "ipv6"),
             "label": (32, 4, "int"), "proto": (36, 1, "int"),
             "tclass": (37, 1, "int"), "hlimit": (38, 1, "int"),
             "frag": (39, 1, "frag")},
    A_TCP: {"src": (0, 2, "int"), "dst": (2, 2, "int")},
    A_UDP: {"src": (0, 2, "int"), "dst": (2, 2, "int")},
    A_SCTP: {"src": (0, 2, "int"), "dst": (2, 2, "int")},
    A_ICMP: {"type": (0, 1, "int"), "code": (1, 1, "int")},
    A_ICMPV6: {"type": (0, 1, "int"), "code": (1, 1, "int")},
    A_ARP: {"sip": (0, 4, "ipv4"), "tip": (4, 4, "ipv4"),
            "op": (8, 2, "int"), "sha": (10, 6, "eth"),
            "tha": (16, 6, "eth")},
    A_ND: {"target": (0, 16, "ipv6"), "sll": (16, 6, "eth"),
           "tll": (22, 6, "eth")},
    A_ND_EXT: {"nd_reserved": (0, 4, "int"),
               "nd_options_type": (4, 1, "int")},
    A_CT_TUPLE4: {"src": (0, 4, "ipv4"), "dst": (4, 4, "ipv4"),
                  "tp_src": (8, 2, "int"), "tp_dst": (10, 2, "int"),
                  "proto": (12, 1, "int")},
    A_CT_TUPLE6: {"src": (0, 16, "ipv6"), "dst": (16, 16, "ipv6"),
                  "tp_src": (32, 2, "int"), "tp_dst": (34, 2, "int"),
                  "src_port": (32, 2, "int"), "dst_port": (34, 2, "int"),
                  "proto": (36, 1, "int")},
    A_PACKET_TYPE: {"ns": (0, 2, "int"), "id": (2, 2, "int")},
}
# Tunnel fields: name: (OVS_TUNNEL_KEY_ATTR_*, size, kind).
_TUN_FIELDS = {"tun_id": (T_ID, 8, "int"), "src": (T_IPV4_SRC, 4, "ipv4"),
               "dst": (T_IPV4_DST, 4, "ipv4"),
               "ipv6_src": (T_IPV6_SRC, 16, "ipv6"),
               "ipv6_dst": (T_IPV6_DST, 16, "ipv6"),
               "tos": (T_TOS, 1, "int"), "ttl": (T_TTL, 1, "int"),
               "tp_src": (T_TP_SRC, 2, "int"),
               "tp_dst": (T_TP_DST, 2, "int")}
# Attributes holding one value: name: (size, byte order or flag names).
_SCALARS = {A_IN_PORT: (4, "little"), A_RECIRC_ID: (4, "little"),
            A_DP_HASH: (4, "little"), A_PRIORITY: (4, "little"),
            A_SKB_MARK: (4, "little"), A_ETHERTYPE: (2, "big"),
            A_CT_ZONE: (2, "little"), A_CT_MARK: (4, "little"),
            A_CT_LABELS: (16, "little"), A_CT_STATE: (4, CT_FLAG_NAMES),
            A_TCP_FLAGS: (2, TCP_FLAG_NAMES)}
_ATTR_BY_NAME = dict((v, k) for k, v in KEY_NAMES.items()
                     if not v.startswith("<"))


class _Parser(object):
    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.terms = []

    def error(self, msg, pos=None):
        raise FilterError(self.text, self.pos if pos is None else pos, msg)

    def skip_ws(self):
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self):
        self.skip_ws()
        return self.text[self.pos:self.pos + 1]

    def expect(self, c):
        if self.peek() != c:
            self.error("expected '%s'" % c)
        self.pos += 1

    def word(self):
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.text) and \
                (self.text[self.pos].isalnum() or self.text[self.pos] in "_"):
            self.pos += 1
        return self.text[start:self.pos], start

    def token(self):
        """A value: everything up to ',' or ')' at this nesting level."""
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",)":
            self.pos += 1
        return self.text[start:self.pos].strip(), start

    def parse(self, prefix=()):
        count = 0
        while True:
            if not self.peek():
                if prefix:
                    self.error("expected ')'")
                break
            if prefix and self.peek() == ")":
                break
            self.attribute(prefix)
            count += 1
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() and self.peek() != ")":
                self.error("expected ',' between attributes")
            if self.peek() == ")" and not prefix:
                self.error("unbalanced ')'")
        if not count and not prefix:
            self.error("empty filter")
        return self.terms

    def attribute(self, prefix):
        name, start = self.word()
        if not name:
            self.error("expected an attribute name such as ipv4(...)")
        atype = _ATTR_BY_NAME.get(name)
        if atype is None or atype in (A_UNSPEC, A_NSH):
            self.error("unknown or unsupported attribute '%s'" % name, start)
        if prefix and atype in (A_ENCAP, A_TUNNEL):
            self.error("'%s' cannot be nested" % name, start)
        self.expect("(")
        path = prefix + (atype,)
        if atype == A_ENCAP:
            self.terms.append(Term(path, 0, b"", b""))
            self.parse(path)
        elif atype == A_TUNNEL:
            self.tunnel(path)
        elif atype in _SCALARS:
            self.scalar(path, atype)
        elif atype == A_VLAN:
            self.vlan(path)
        elif atype == A_MPLS:
            self.mpls(path)
        else:
            self.fields(path, _FIELDS[atype])
        self.expect(")")

    def fields(self, path, fields):
        self.terms.append(Term(path, 0, b"", b""))
        seen = set()
        while self.peek() != ")":
            if not self.peek():
                self.error("expected ')'")
            name, start = self.word()
            if name not in fields:
                self.error("unknown field '%s' (expected one of: %s)"
                           % (name, ", ".join(sorted(fields))), start)
            if name in seen:
                self.error("field '%s' given twice" % name, start)
            seen.add(name)
            self.expect("=")
            off, size, kind = fields[name]
            value, mask = self.value(size, kind)
            self.terms.append(Term(path, off, value, mask))
            if self.peek() == ",":
                self.pos += 1

    def tunnel(self, path):
        self.terms.append(Term(path, 0, b"", b""))
        while self.peek() != ")":
            if not self.peek():
                self.error("expected ')'")
            name, start = self.word()
            if name == "flags":
                self.tunnel_flags(path)
                if self.peek() == ",":
                    self.pos += 1
                continue
            if name not in _TUN_FIELDS:
                self.error("unknown or unsupported tunnel field '%s' "
                           "(expected one of: %s)"
                           % (name, ", ".join(sorted(_TUN_FIELDS))), start)
            self.expect("=")
            sub, size, kind = _TUN_FIELDS[name]
            value, mask = self.value(size, kind)
            self.terms.append(Term(path + (sub,), 0, value, mask))
            if self.peek() == ",":
                self.pos += 1

    def tunnel_flags(self, path):
        self.expect("(")
        text, start = self.token()
        self.expect(")")
        attrs = {"df": T_DF, "csum": T_CSUM, "key": T_ID, "oam": T_OAM}
        if text in ("", "0"):
            flags = dict((a, False) for a in attrs.values())
        elif text[0] in "+-":
            flags = {}
            i = 0
            while i < len(text):
                if text[i] not in "+-":
                    self.error("expected '+' or '-' before a flag",
                               start + i)
                j = i + 1
                while j < len(text) and text[j] not in "+-":
                    j += 1
                if text[i + 1:j] not in attrs:
                    self.error("unknown tunnel flag '%s'" % text[i + 1:j],
                               start + i + 1)
                flags[attrs[text[i + 1:j]]] = text[i] == "+"
                i = j
        else:
            flags = dict((a, False) for a in attrs.values())
            for name in text.split("|"):
                if name.strip() not in attrs:
                    self.error("unknown tunnel flag '%s'" % name, start)
                flags[attrs[name.strip()]] = True
        for sub, present in sorted(flags.items()):
            self.terms.append(Term(path + (sub,), 0, b"", b"", present))

    def scalar(self, path, atype):
        size, order = _SCALARS[atype]
        if self.peek() == ")":
            self.terms.append(Term(path, 0, b"", b""))
            return
        if isinstance(order, dict):
            value, mask = self.flags(size, order)
            order = "little" if atype == A_CT_STATE else "big"
        else:
            value, mask = self.value(size, "int")
        v = int.from_bytes(value, "big")
        m = int.from_bytes(mask, "big")
        self.terms.append(Term(path, 0, v.to_bytes(size, order),
                               m.to_bytes(size, order)))

    def flags(self, size, names):
        text, start = self.token()
        if not text:
            self.error("expected flags", start)
        if text[0].isdigit():
            self.pos = start
            return self.value(size, "int")
        by_name = dict((v, k) for k, v in names.items())
        value = mask = 0
        if text[0] in "+-":
            i = 0
            while i < len(text):
                sign = text[i]
                if sign not in "+-":
                    self.error("expected '+' or '-' before a flag",
                               start + i)
                j = i + 1
                while j < len(text) and text[j] not in "+-":
                    j += 1
                bit = by_name.get(text[i + 1:j])
                if bit is None:
                    self.error("unknown flag '%s'" % text[i + 1:j],
                               start + i + 1)
                mask |= bit
                if sign == "+":
                    value |= bit
                i = j
        else:
            for name in text.split("|"):
                bit = by_name.get(name.strip())
                if bit is None:
                    self.error("unknown flag '%s'" % name, start)
                value |= bit
            mask = (1 << (8 * size)) - 1
        return value.to_bytes(size, "big"), mask.to_bytes(size, "big")

    def vlan(self, path):
        self.terms.append(Term(path, 0, b"", b""))
        value = mask = 0
        while self.peek() != ")":
            name, start = self.word()
            shifts = {"vid": (0, 0xfff), "pcp": (13, 7), "cfi": (12, 1)}
            if name not in shifts:
                self.error("unknown field '%s' (expected vid, pcp or cfi)"
                           % name, start)
            self.expect("=")
            shift, width = shifts[name]
            v, m = self.value(2, "int", width)
            value |= int.from_bytes(v, "big") << shift
            mask |= int.from_bytes(m, "big") << shift
            if self.peek() == ",":
                self.pos += 1
        self.terms.append(Term(path, 0, value.to_bytes(2, "big"),
                               mask.to_bytes(2, "big")))

    def mpls(self, path):
        self.terms.append(Term(path, 0, b"", b""))
        value = mask = 0
        shifts = {"label": (12, 0xfffff), "tc": (9, 7), "ttl": (0, 0xff),
                  "bos": (8, 1)}
        while self.peek() != ")":
            name, start = self.word()
            if name not in shifts:
                self.error("unknown field '%s' (expected label, tc, ttl or "
                           "bos)" % name, start)
            self.expect("=")
            shift, width = shifts[name]
            v, m = self.value(4, "int", width)
            value |= int.from_bytes(v, "big") << shift
            mask |= int.from_bytes(m, "big") << shift
            if self.peek() == ",":
                self.pos += 1
        self.terms.append(Term(path, 0, value.to_bytes(4, "big"),
                               mask.to_bytes(4, "big")))

    def value(self, size, kind, limit=None):
        text, start = self.token()
        if not text:
            self.error("expected a value", start)
        vtext, _, mtext = text.partition("/")
        vtext, mtext = vtext.strip(), mtext.strip()
        if "/" in text and not mtext:
            self.error("expected a mask after '/'", start + len(vtext) + 1)
        mstart = start + text.index("/") + 1 if "/" in text else start
        full = (1 << (8 * size)) - 1 if limit is None else limit
        if kind == "int":
            v = self.integer(vtext, start, full)
            m = self.integer(mtext, mstart, full) if mtext else full
            return v.to_bytes(size, "big"), m.to_bytes(size, "big")
        if kind == "frag":
            names = dict((v, k) for k, v in FRAG_NAMES.items())
            if vtext.lower() not in names or mtext:
                self.error("expected no, first or later", start)
            return bytes([names[vtext.lower()]]), b"\xff"
        if kind == "eth":
            v = self.ethaddr(vtext, start)
            m = self.ethaddr(mtext, mstart) if mtext else b"\xff" * 6
            return v, m
        family = socket.AF_INET if kind == "ipv4" else socket.AF_INET6
        what = "an IPv4 address" if kind == "ipv4" else "an IPv6 address"
        try:
            v = socket.inet_pton(family, vtext)
        except (OSError, ValueError):
            self.error("expected %s" % what, start)
        if not mtext:
            m = b"\xff" * size
        elif mtext.isdigit():
            n = int(mtext)
            if n > 8 * size:
                self.error("prefix length out of range", mstart)
            m = (((1 << n) - 1) << (8 * size - n)).to_bytes(size, "big")
        else:
            try:
                m = socket.inet_pton(family, mtext)
            except (OSError, ValueError):
                self.error("expected %s or a prefix length as mask" % what,
                           mstart)
        return v, m

    def integer(self, text, start, limit):
        try:
            v = int(text, 0) if not (len(text) > 1 and text[0] == "0"
                                     and text[1].isdigit()) else int(text)
        except ValueError:
            self.error("expected a number", start)
        if v < 0 or v > limit:
            self.error("%s is out of range (at most %#x)" % (text, limit),
                       start)
        return v

    def ethaddr(self, text, start):
        parts = text.split(":")
        try:
            if len(parts) != 6:
                raise ValueError
            return bytes(int(p, 16) for p in parts if len(p) <= 2)
        except ValueError:
            pass
        self.error("expected an Ethernet address", start)


def parse_filter(text):
    """Parses ODP flow expression 'text' into a list of Terms; raises
    FilterError, saying where, if it is malformed."""
    terms = _Parser(text).parse()
    # A term that asks only for an attribute's presence is implied by any
    # other term under the same attribute: drop it, for a shorter program.
    # A filter that spells out the VLAN encapsulation matches it literally.
    if any(t.path[0] in (A_VLAN, A_ENCAP) for t in terms):
        for t in terms:
            t.inner = False
    valued = [t.path for t in terms if t.value or t.present is not None]
    return [t for t in terms
            if t.value or t.present is not None
            or not any(p[:len(t.path)] == t.path for p in valued)]


def _find_path(buf, path):
    """The payload at attribute 'path' in 'buf', or None."""
    for atype in path:
        buf = nl_find(buf, atype)
        if buf is None:
            return None
    return buf


def _innermost(key, mask):
    """The attributes inside the innermost encap() of 'key' (at most two
    VLAN tags), and of 'mask' (None: no mask, exact; b"": wildcarded)."""
    for _ in range(2):
        encap = nl_find(key, A_ENCAP)
        if encap is None:
            break
        key = encap
        if mask is not None:
            mask = nl_find(mask, A_ENCAP) or b""
    return key, mask


def flow_matches(terms, key, mask=None):
    """Does the flow with 'key' and 'mask' (None or empty: exact) match the
    filter 'terms'?  The same test as the BPF code of the install probe."""
    key = bytes(key)
    mask = bytes(mask) if mask else None
    for t in terms:
        kbase, mbase = _innermost(key, mask) if t.inner else (key, mask)
        if t.present is not None:
            k = _find_path(kbase, t.path[:-1])
            if k is None:
                return False
            m = None if mbase is None else _find_path(mbase, t.path[:-1])
            if mbase is not None and (m is None
                                      or nl_find(m, t.path[-1]) is None):
                continue
            if (nl_find(k, t.path[-1]) is not None) != t.present:
                return False
            continue
        k = _find_path(kbase, t.path)
        end = t.offset + len(t.value)
        if k is None or len(k) < end:
            return False
        if mbase is None:
            m = b"\xff" * len(t.value)
        else:
            m = _find_path(mbase, t.path)
            if m is None or len(m) < end:
                m = b"\0" * len(t.value)
            else:
                m = m[t.offset:end]
        for i in range(len(t.value)):
            if (k[t.offset + i] ^ t.value[i]) & t.mask[i] & m[i]:
                return False
    return True


def filter_to_c(terms):
    """C code for the body of the BPF filter function: flow_matches() in C.
    The attributes are indexed once per level (struct index_t); then each
    term is a few comparisons.  A mask position below 0 means that the
    flow's mask lacks the attribute (wildcarded); mn == 0 that the flow has
    no mask (exact)."""
    if not terms:
        return "    return 1;"
    inner = any(t.inner for t in terms)
    encap = inner or any(t.path[0] == A_ENCAP and len(t.path) > 1
                         for t in terms)
    tunnel = any(t.path[0] == A_TUNNEL and len(t.path) > 1 for t in terms)
    lines = ["    int zero = 0;",
             "    struct index_t *ix = attr_index.lookup(&zero);",
             "    if (!ix) return 0;",
             "    struct level_t *kv, *mv;",
             "    int kp, kl, mp, ml;",
             "    index_level(d, 0, kn, &ix->l[0]);",
             "    index_level(d, mn ? kn : -1, kn + mn, &ix->l[1]);"]
    if encap:
        lines += ["    index_nested(d, &ix->l[0], %d, &ix->l[2]);" % A_ENCAP,
                  "    index_nested(d, &ix->l[1], %d, &ix->l[3]);" % A_ENCAP]
    if inner:
        lines += ["    index_nested(d, &ix->l[2], %d, &ix->l[4]);" % A_ENCAP,
                  "    index_nested(d, &ix->l[3], %d, &ix->l[5]);" % A_ENCAP,
                  "    int inner = ix->l[0].pos[%d] < 0 ? 0"
                  " : ix->l[2].pos[%d] < 0 ? 2 : 4;" % (A_ENCAP, A_ENCAP)]
    if tunnel:
        lines += ["    index_nested(d, &ix->l[0], %d, &ix->l[6]);" % A_TUNNEL,
                  "    index_nested(d, &ix->l[1], %d, &ix->l[7]);" % A_TUNNEL]
    for n, t in enumerate(terms):
        lines.append("    /* term %d: %r */" % (n, t))
        if len(t.path) == 2:
            parent, atype = t.path
            level = 2 if parent == A_ENCAP else 6
            lines.append("    if (ix->l[0].pos[%d] < 0) return 0;" % parent)
            lines.append("    kv = &ix->l[%d];" % level)
            lines.append("    mv = &ix->l[%d];" % (level + 1))
        else:
            atype = t.path[0]
            if t.inner:
                lines.append("    kv = inner == 0 ? &ix->l[0] : inner == 2 ? "
                             "&ix->l[2] : &ix->l[4];")
                lines.append("    mv = inner == 0 ? &ix->l[1] : inner == 2 ? "
                             "&ix->l[3] : &ix->l[5];")
            else:
                lines.append("    kv = &ix->l[0];")
                lines.append("    mv = &ix->l[1];")
        lines.append("    kp = kv->pos[%d];" % atype)
        lines.append("    kl = kv->len[%d];" % atype)
        lines.append("    mp = mv->pos[%d];" % atype)
        lines.append("    ml = mv->len[%d];" % atype)
        if t.present is not None:
            lines.append("    if ((!mn || mp >= 0) && %s(kp >= 0)) return 0;"
                         % ("!" if t.present else ""))
            continue
        end = t.offset + len(t.value)
        lines.append("    if (kp < 0 || kl < %d) return 0;" % end)
        lines.append("    if (mp >= 0 && ml < %d) mp = -1;" % end)
        for i in range(len(t.value)):
            if not t.mask[i]:
                continue
            idx = t.offset + i
            lines.append("    if ((d[(kp + %d) & IDX] ^ %d) & %d & "
                         "(!mn ? 0xff : mp < 0 ? 0 : d[(mp + %d) & IDX])) "
                         "return 0;" % (idx, t.value[i], t.mask[i], idx))
    lines.append("    return 1;")
    return "\n".join(lines)


#
# Packets for --pcap.
#
def packet_from_key(key):
    """A scapy packet built from the header fields of ODP flow 'key'."""
    from scapy.layers.l2 import ARP, Dot1Q, Ether
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6, ICMPv6Unknown
    from scapy.packet import Raw

    def build(attrs, pkt):
        eth_type = attrs.get(A_ETHERTYPE)
        l3 = None
        if A_VLAN in attrs and A_ENCAP in attrs:
            tci = int.from_bytes(attrs[A_VLAN], "big")
            inner = dict(nl_attrs(attrs[A_ENCAP])[0])
            ptype = inner.get(A_ETHERTYPE)
            tag = Dot1Q(vlan=tci & 0xfff, prio=tci >> 13,
                        id=(tci >> 12) & 1)
            if ptype is not None:
                tag.type = int.from_bytes(ptype, "big")
            return build(inner, pkt / tag)
        if A_MPLS in attrs:
            for i in range(0, len(attrs[A_MPLS]), 4):
                pkt = pkt / Raw(attrs[A_MPLS][i:i + 4])
            return pkt
        if A_IPV4 in attrs:
            a = attrs[A_IPV4]
            l3 = IP(src=_ip(a[0:4]), dst=_ip(a[4:8]), proto=a[8], tos=a[9],
                    ttl=a[10])
            if a[11] == 1:
                l3.flags = "MF"
            elif a[11] == 2:
                l3.frag = 1
        elif A_IPV6 in attrs:
            a = attrs[A_IPV6]
            l3 = IPv6(src=_ip6(a[0:16]), dst=_ip6(a[16:32]),
                      fl=int.from_bytes(a[32:36], "big") & 0xfffff,
                      nh=a[36], tc=a[37], hlim=a[38])
        elif A_ARP in attrs:
            a = attrs[A_ARP]
            return pkt / ARP(psrc=_ip(a[0:4]), pdst=_ip(a[4:8]),
                             op=int.from_bytes(a[8:10], "big"),
                             hwsrc=_eth(a[10:16]), hwdst=_eth(a[16:22]))
        elif eth_type is not None:
            return pkt
        if l3 is None:
            return pkt
        pkt = pkt / l3
        if A_TCP in attrs:
            a = attrs[A_TCP]
            flags = int.from_bytes(attrs.get(A_TCP_FLAGS, b"\0\0"), "big")
            return pkt / TCP(sport=int.from_bytes(a[0:2], "big"),
                             dport=int.from_bytes(a[2:4], "big"),
                             flags=flags & 0x1ff)
        if A_UDP in attrs:
            a = attrs[A_UDP]
            return pkt / UDP(sport=int.from_bytes(a[0:2], "big"),
                             dport=int.from_bytes(a[2:4], "big"))
        if A_SCTP in attrs:
            from scapy.layers.sctp import SCTP
            a = attrs[A_SCTP]
            return pkt / SCTP(sport=int.from_bytes(a[0:2], "big"),
                              dport=int.from_bytes(a[2:4], "big"))
        if A_ICMP in attrs:
            a = attrs[A_ICMP]
            return pkt / ICMP(type=a[0], code=a[1])
        if A_ICMPV6 in attrs:
            a = attrs[A_ICMPV6]
            return pkt / ICMPv6Unknown(type=a[0], code=a[1])
        return pkt

    attrs = dict(nl_attrs(bytes(key))[0])
    eth = attrs.get(A_ETHERNET)
    if eth is None:
        return None
    pkt = Ether(src=_eth(eth[0:6]), dst=_eth(eth[6:12]))
    if A_ETHERTYPE in attrs:
        pkt.type = int.from_bytes(attrs[A_ETHERTYPE], "big")
    return build(attrs, pkt)


#
# The BPF program.
#
EBPF_SOURCE = r"""
#include <linux/sched.h>

#define MAX_KEY <MAX_KEY>
#define IDX (2 * MAX_KEY - 1)
#define MAX_ATTRS <MAX_ATTRS>
#define FOLLOW_ALL <FOLLOW_ALL>
#define SEND_INSTALLS <SEND_INSTALLS>
#define SHOW_KEEPS <SHOW_KEEPS>
#define REASON_MASK <REASON_MASK>ULL

enum { EV_INSTALL = 1, EV_VERDICT = 2, EV_FORGET = 3 };
enum { UKEY_KEEP = 0, UKEY_DELETE = 1, UKEY_MODIFY = 2 };
enum { ST_INSTALLS, ST_FOLLOWED, ST_VERDICTS, ST_DROPPED, ST_SENT, ST_LOST,
       ST_AGAIN, ST_PROBES, ST_MAP_FULL, ST_KEY_FAILED, ST_UNFOLLOWED,
       ST_MAX };
/* Why an install was not followed (struct install_t's 'status'). */
enum { NF_FOLLOWED = 0, NF_MAP_FULL = 1, NF_KEY_FAILED = 2 };
#define DPIF_FP_CREATE 1
#define DPIF_FP_PROBE 8

struct ufid_t {
    u32 w[4];
};

struct flow_t {
    u64 install_ns;
};

struct hdr_t {
    u32 type;
    u32 tid;
    u64 ts;
    char comm[TASK_COMM_LEN];
    struct ufid_t ufid;
};

struct install_t {
    struct hdr_t hdr;
    u32 flags;
    u32 pmd_id;
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
    u32 result;
    u32 reason;
    u32 phase;
    u32 pad;
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
BPF_PERCPU_ARRAY(stats, u64, ST_MAX);
BPF_PERCPU_ARRAY(scratch, struct install_t, 1);

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

static __always_inline int install(u64 put_ptr)
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
    if (key_failed) {
        /* Followed without its key, unless a filter needs the key. */
        count(ST_KEY_FAILED);
        if (!FOLLOW_ALL) {
            u32 why = NF_KEY_FAILED;
            unfollowed.update(&ufid, &why);
            return 0;
        }
    } else if (!filter_match(ev->data, kn, mn)) {
        return 0;
    }

    struct flow_t flow = { .install_ns = bpf_ktime_get_ns() };
    if (followed.update(&ufid, &flow)) {
        u32 why = NF_MAP_FULL;
        count(ST_MAP_FULL);
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
    ev->flags = put.flags;
    ev->pmd_id = put.pmd_id;
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

int trace_install_netdev(struct pt_regs *ctx)
{
    u64 put_ptr = 0;

    bpf_usdt_readarg(2, ctx, &put_ptr);
    return install(put_ptr);
}

int trace_install_netlink(struct pt_regs *ctx)
{
    u64 put_ptr = 0;

    bpf_usdt_readarg(2, ctx, &put_ptr);
    return install(put_ptr);
}

<VERDICT_FNS>
"""

(ST_INSTALLS, ST_FOLLOWED, ST_VERDICTS, ST_DROPPED, ST_SENT, ST_LOST,
 ST_AGAIN, ST_PROBES, ST_MAP_FULL, ST_KEY_FAILED, ST_UNFOLLOWED,
 ST_MAX) = range(12)
NF_FOLLOWED, NF_MAP_FULL, NF_KEY_FAILED = range(3)
# The verdict probes' handler, once per phase (0: dump, 1: sweep).
VERDICT_SOURCE = r"""
int <FN>(struct pt_regs *ctx)
{
    u32 phase = <PHASE>;
    struct verdict_t ev = {};
    u64 ufid_ptr = 0;
    u32 result = 0, reason = 0;

    count(ST_VERDICTS);
    bpf_usdt_readarg(3, ctx, &result);
    bpf_usdt_readarg(4, ctx, &reason);
    bpf_usdt_readarg(5, ctx, &ufid_ptr);
    if (!ufid_ptr) {
        return 0;
    }
    bpf_probe_read_user(&ev.hdr.ufid, sizeof ev.hdr.ufid, (void *) ufid_ptr);

    struct flow_t *flow = followed.lookup(&ev.hdr.ufid);
    if (!flow) {
        if (unfollowed.lookup(&ev.hdr.ufid)) {
            /* Not followed for want of room or of its key: not a verdict
             * that the filter dropped. */
            count(ST_UNFOLLOWED);
            if (result == UKEY_DELETE) {
                unfollowed.delete(&ev.hdr.ufid);
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
    if (events.ringbuf_output(&ev, sizeof ev, 0)) {
        count(ST_LOST);
    } else {
        count(ST_SENT);
    }
    return 0;
}
"""
EV_INSTALL, EV_VERDICT, EV_FORGET = 1, 2, 3
HDR = struct.Struct("<IIQ16s16s")
INSTALL = struct.Struct("<IIIIIII")
VERDICT = struct.Struct("<QIIII")

PROBES_INSTALL = [("dp_netdev_flow_add:dp_flow_put", "trace_install_netdev"),
                  ("dpif_netlink_operate__:op_flow_put",
                   "trace_install_netlink")]
PROBES_CHANGE = [("revalidate:flow_change", "trace_dump"),
                 ("revalidator_sweep__:flow_sweep_change", "trace_sweep")]
PROBES_RESULT = [("revalidate:flow_result", "trace_dump"),
                 ("revalidator_sweep__:flow_sweep_result", "trace_sweep")]


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
                         "<PHASE>", str(phase))
                     for fn, phase in (("trace_dump", 0),
                                       ("trace_sweep", 1))))):
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


def elf_file_offset(path, vaddr):
    """The file offset of virtual address 'vaddr' of ELF file 'path'."""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        if ehdr[:4] != b"\x7fELF" or ehdr[4] != 2:
            return None
        phoff, = struct.unpack_from("<Q", ehdr, 32)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
        f.seek(phoff)
        phdrs = f.read(phentsize * phnum)
    for i in range(phnum):
        ptype, _, off, addr, _, filesz = struct.unpack_from(
            "<IIQQQQ", phdrs, i * phentsize)
        if ptype == 1 and addr <= vaddr < addr + filesz:
            return vaddr - addr + off
    return None


def attach_usdt(bcc, bpf, probes, ref_ctrs):
    """Attaches BPF functions to USDT probes, each (binary, function,
    address, pid) in 'probes', passing the kernel the offset of the probe's
    semaphore in 'ref_ctrs', so that the kernel itself enables the probe
    while it is attached, and disables it when we exit however we do.
    (BCC instead enables semaphores by writing the process's memory, which
    a killed tool leaves enabled, and Debian's BCC 0.26 passes the kernel an
    undefined semaphore offset, which it refuses while another tool, such as
    bpftrace, has the probe.)"""
    attach = bcc.libbcc.lib["bpf_attach_uprobe"]
    attach.restype = ctypes.c_int
    attach.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                       ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_int,
                       ctypes.c_uint32]
    for path, fn_name, addr, pid in probes:
        fn = bpf.load_func(fn_name, bcc.BPF.KPROBE)
        ev_name = bpf._get_uprobe_evname(b"p", path, addr, pid)
        fd = attach(fn.fd, 0, ev_name, path, addr, pid,
                    ref_ctrs.get(fn_name.decode(), 0))
        if fd < 0:
            raise ToolError("cannot attach to the probe of %s at %#x in "
                            "PID %d" % (fn_name.decode(), addr, pid))
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
        self.counts = {"install": 0, "modify": 0, "delete": 0, "keep": 0}
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

    def install(self, raw, ts, comm, tid, ufid):
        _, _, status, key_len, mask_len, kn, mn = INSTALL.unpack_from(
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
        install_ns, result, reason, phase, _ = VERDICT.unpack_from(
            raw, HDR.size)
        event = RESULTS[result] if result < len(RESULTS) else str(result)
        rname = REASONS[reason] if reason < len(REASONS) else str(reason)
        lifetime = (ts - install_ns) / 1e9 if install_ns else None
        self.counts[event] = self.counts.get(event, 0) + 1
        extra = {"phase": "sweep" if phase else "dump"}
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
        out.append("  events: %d install, %d modify, %d delete, %d keep"
                   % (self.counts["install"], self.counts["modify"],
                      self.counts["delete"], self.counts["keep"]))
        out.append("  %-14s %7s %7s %10s %10s %10s"
                   % ("REASON", "DELETES", "TIMED", "MIN", "AVG", "MAX"))
        for r in REASONS:
            if r not in self.deletions:
                continue
            v = self.lifetimes.get(r, [])
            if v:
                stats = (format_lifetime(min(v)),
                         format_lifetime(sum(v) / len(v)),
                         format_lifetime(max(v)))
            else:
                stats = ("-", "-", "-")
            out.append("  %-14s %7d %7d %10s %10s %10s"
                       % ((r, self.deletions[r], len(v)) + stats))
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


class _Parser_(argparse.ArgumentParser):
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
    parser = _Parser_(
        prog=PROG,
        description="Follows the datapath flows of ovs-vswitchd from install "
        "to deletion: when\neach flow is installed, modified and deleted, why "
        "it is deleted and how long\nit lived.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-p", "--pid", metavar="VSWITCHD_PID", type=_positive,
                        help="ovs-vswitchd's PID; needed only when several "
                        "ovs-vswitchd processes run")
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
        terms = parse_filter(options.filter)
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
    if exe.endswith(" (deleted)"):
        raise ToolError("the binary of ovs-vswitchd (PID %d), %s, was "
                        "replaced or removed since it started: restart it"
                        % (pid, exe[:-len(" (deleted)")]))

    try:
        usdt = bcc.USDT(pid=pid)
        semaphores = dict(("%s:%s" % (p.provider.decode(), p.name.decode()),
                           p.semaphore) for p in usdt.enumerate_probes())
        available = set(semaphores)
    except Exception as e:
        raise ToolError("cannot read the USDT probes of PID %d (%s): %s"
                        % (pid, exe, e))
    if not available:
        raise ToolError("%s (PID %d) has no USDT probes: it was built "
                        "without --enable-usdt-probes" % (exe, pid))
    verdicts = PROBES_RESULT if options.keeps else PROBES_CHANGE
    needed = [p for p, _ in verdicts]
    missing = [p for p in needed if p not in available]
    installs = [(p, fn) for p, fn in PROBES_INSTALL if p in available]
    if not installs:
        missing += [" or ".join(p for p, _ in PROBES_INSTALL)]
    if missing:
        raise ToolError("%s (PID %d) lacks the probe%s %s: it was built "
                        "without the flow lifecycle probes"
                        % (exe, pid, "s" if len(missing) > 1 else "",
                           ", ".join(missing)))
    ref_ctrs = {}
    try:
        for p, fn in installs + verdicts:
            usdt.enable_probe(probe=p, fn_name=fn)
            if semaphores[p]:
                ref_ctrs[fn] = elf_file_offset(exe, semaphores[p]) or 0
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
        return follow(bpf, reporter, pid, [p for p, _ in installs + verdicts])
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
