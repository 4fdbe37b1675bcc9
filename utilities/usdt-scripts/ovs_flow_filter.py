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

"""Filters of datapath flows, as filter_probe.py -f takes them: an ODP flow
expression, as "ovs-appctl dpctl/add-flow" accepts it, parsed into terms
(parse_filter()), matched against a flow's key and mask in Python
(flow_matches()) and compiled into the C body of the BPF function that
does the same in the kernel (filter_to_c()), on the attribute index that
filter_probe.py's BPF program builds (struct index_t).

Used by filter_probe.py, installed beside it."""

import socket

from ovs_flow_keys import (
    A_ARP, A_CT_LABELS, A_CT_MARK, A_CT_STATE, A_CT_TUPLE4, A_CT_TUPLE6,
    A_CT_ZONE, A_DP_HASH, A_ENCAP, A_ETHERNET, A_ETHERTYPE, A_ICMP,
    A_ICMPV6, A_IN_PORT, A_IPV4, A_IPV6, A_MPLS, A_ND, A_ND_EXT, A_NSH,
    A_PACKET_TYPE, A_PRIORITY, A_RECIRC_ID, A_SCTP, A_SKB_MARK, A_TCP,
    A_TCP_FLAGS, A_TUNNEL, A_UDP, A_UNSPEC, A_VLAN, CT_FLAG_NAMES,
    FRAG_NAMES, KEY_NAMES, T_CSUM, T_DF, T_ID, T_IPV4_DST, T_IPV4_SRC,
    T_IPV6_DST, T_IPV6_SRC, T_OAM, T_TOS, T_TP_DST, T_TP_SRC, T_TTL,
    TCP_FLAG_NAMES, nl_find)


#
# Filters: an ODP flow expression, parsed into terms that the install probe
# checks in the kernel, each (attribute path, offset, value, mask): the
# attribute at 'path' (a top-level OVS_KEY_ATTR_* or, for encap() and
# tunnel(), one nested inside) must be in the flow's key, and on every bit
# set both in the term's mask and in the flow's own mask, the key must be
# equal to the value.  That is, a flow is followed when some packet that it
# matches also matches the filter (as "dpctl/dump-flows filter=" does).
#
class FilterError(ValueError):
    """A malformed filter: the message says where and why."""

    def __init__(self, text, pos, msg):
        ValueError.__init__(self, "bad --filter at column %d (%s): %s"
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


class FilterParser(object):
    """A recursive-descent parser of filter expressions into Terms."""

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
    terms = FilterParser(text).parse()
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
