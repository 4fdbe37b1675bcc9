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

"""Datapath flow keys, as the USDT probes hand them over: Netlink attribute
streams of OVS_KEY_ATTR_* (include/linux/openvswitch.h).

format_flow() formats a key and its mask exactly as odp_flow_format()
does, that is as "ovs-appctl dpctl/dump-flows" prints datapath flows;
packet_from_key() builds a packet (scapy) from a key's header fields.
The tests check the former against Open vSwitch's own formatter
("ovstest test-odp-netlink"), on real flows and on fuzzed keys.

Used by filter_probe.py, installed beside it."""

import socket
import struct


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
# Packets, for filter_probe.py --pcap.
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
