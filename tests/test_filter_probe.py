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

"""Unit tests of utilities/usdt-scripts/filter_probe.py and its modules
ovs_flow_keys.py and ovs_flow_filter.py: UFID formatting, flow key
decoding and the filter parser and matcher.

The expected results are not typed here: they come from Open vSwitch
itself.  A session fixture starts ovs-vswitchd (dummy datapath) from the
build tree and filter_probe.py attached to it; each flow below is installed
with "ovs-appctl dpctl/add-flow", the raw key and mask that the install
probe hands over are taken from filter_probe.py's output (--json --raw), and
the decoded key must be what "ovs-appctl dpctl/dump-flows" prints for the
same flow, with and without -m; the UFID must be the one dump-flows -m
prints; the filter parser must accept what dpctl/add-flow accepts and reject
what it rejects; the matcher must pick the same flows as dpctl/dump-flows
filter=.

Run as root (BPF), with Debian's python3 (BCC):
    /usr/bin/python3 -m pytest tests/test_filter_probe.py
OVS_BUILDDIR (or OVS_BUILD) names the built Open vSwitch tree (default:
build/ovs next to tests/, or the tree that holds this file).
"""

import importlib.util
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _find_build():
    cands = [os.environ.get("OVS_BUILDDIR"), os.environ.get("OVS_BUILD"),
             os.path.join(HERE, "..", "build", "ovs"),
             os.path.join(HERE, "..")]
    for c in cands:
        if c and os.path.exists(os.path.join(c, "vswitchd", "ovs-vswitchd")):
            return os.path.abspath(c)
    return None


def _find_tool():
    for c in (os.path.join(HERE, "..", "utilities", "usdt-scripts"),
              os.path.join(_find_build() or HERE, "utilities",
                           "usdt-scripts")):
        path = os.path.join(c, "filter_probe.py")
        if os.path.exists(path):
            return os.path.abspath(path)
    raise RuntimeError("filter_probe.py not found")


BUILD = _find_build()
TOOL = _find_tool()
_spec = importlib.util.spec_from_file_location("filter_probe", TOOL)
fp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fp)
# The tool put its directory first in sys.path: its modules, beside it.
import ovs_flow_filter as flt  # noqa: E402
import ovs_flow_keys as keys  # noqa: E402

DP = "dummy@fptest"
MAC1 = "50:54:00:00:00:01"
MAC2 = "50:54:00:00:00:0a"
ETH = "eth(src=%s,dst=%s)" % (MAC1, MAC2)
IP4 = "ipv4(src=10.0.0.1,dst=10.0.0.2,proto=%d,tos=0,ttl=64,frag=no)"
IP6 = ("ipv6(src=2001:db8::1,dst=2001:db8::2,label=0,proto=%d,tclass=0,"
       "hlimit=64,frag=no)")

# Flows as "ovs-appctl dpctl/add-flow" takes them.
FLOWS = [
    # Exact IPv4/UDP.
    "in_port(1),%s,eth_type(0x0800),%s,udp(src=8,dst=9)" % (ETH, IP4 % 17),
    # Masks on every kind of field.
    "in_port(1),eth(src=50:54:00:00:00:01/ff:ff:ff:00:00:00,dst=%s),"
    "eth_type(0x0800),ipv4(src=10.0.0.0/255.255.255.0,dst=10.0.0.2/"
    "255.255.0.0,proto=6,tos=0x10/0xfc,ttl=64/0x3f,frag=no),"
    "tcp(src=1024/0xfc00,dst=80)" % MAC2,
    # Only some attributes: wildcarded ones disappear.
    "in_port(2),eth(),eth_type(0x0800),ipv4(frag=no)",
    "in_port(3),eth_type(0x0800),ipv4(proto=17,frag=no),udp(dst=53)",
    # IPv6, flow label, TCP flags.
    "in_port(1),%s,eth_type(0x86dd),ipv6(src=2001:db8::1/ffff:ffff::,"
    "dst=2001:db8::2,label=0x12345,proto=6,tclass=0x10,hlimit=64,frag=no),"
    "tcp(src=80/0xff00,dst=443),tcp_flags(syn|ack)" % ETH,
    "in_port(1),%s,eth_type(0x86dd),ipv6(src=::/::,dst=fe80::1/ffff::,"
    "label=0x5/0xff,proto=6,frag=no),tcp(dst=22),tcp_flags(+syn-ack)"
    % ETH,
    "in_port(1),%s,eth_type(0x86dd),ipv6(src=2001:db8::1,dst=ff02::1,"
    "label=0,proto=58,tclass=0,hlimit=255,frag=no),icmpv6(type=135,code=0),"
    "nd(target=2001:db8::3,sll=%s,tll=00:00:00:00:00:00)" % (ETH, MAC1),
    "in_port(1),%s,eth_type(0x86dd),%s,icmpv6(type=128,code=0)"
    % (ETH, IP6 % 58),
    # Fragments.
    "in_port(1),%s,eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,"
    "proto=17,tos=0,ttl=64,frag=first),udp(src=8,dst=9)" % ETH,
    "in_port(1),%s,eth_type(0x86dd),ipv6(src=2001:db8::1,dst=2001:db8::2,"
    "label=0,proto=44,tclass=0,hlimit=64,frag=later)" % ETH,
    # VLAN, partial masks.
    "in_port(1),%s,eth_type(0x8100),vlan(vid=10,pcp=3),encap(eth_type("
    "0x0800),%s,icmp(type=8,code=0))" % (ETH, IP4 % 1),
    "in_port(1),%s,eth_type(0x8100),vlan(vid=10/0xff0,pcp=0/0x1),encap("
    "eth_type(0x0800),ipv4(src=10.0.0.1,frag=no))" % ETH,
    # MPLS.
    "in_port(1),%s,eth_type(0x8847),mpls(label=100,tc=3,ttl=64,bos=1)"
    % ETH,
    "in_port(1),%s,eth_type(0x8848),mpls(label=16/0xff,tc=0/0,ttl=64/0xff,"
    "bos=1/1)" % ETH,
    # ARP, SCTP, ICMP.
    "in_port(1),%s,eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.2,op=1,"
    "sha=%s,tha=00:00:00:00:00:00)" % (ETH, MAC1),
    "in_port(1),%s,eth_type(0x0806),arp(sip=10.0.0.0/255.0.0.0,tip=10.0.0.2,"
    "op=2,sha=%s/ff:ff:ff:ff:ff:00,tha=%s)" % (ETH, MAC1, MAC2),
    "in_port(1),%s,eth_type(0x0800),%s,sctp(src=5000,dst=5001)"
    % (ETH, IP4 % 132),
    "in_port(1),%s,eth_type(0x0800),%s,icmp(type=3,code=3/0x3)"
    % (ETH, IP4 % 1),
    # Metadata.
    "skb_priority(0x5),skb_mark(0x10/0xff),recirc_id(0x3),dp_hash(0x12/0xff)"
    ",in_port(1),%s,eth_type(0x0800),%s,udp(src=8,dst=9)" % (ETH, IP4 % 17),
    # Conntrack.
    "ct_state(0x21),ct_zone(0x1/0xff),recirc_id(0x5),in_port(1),%s,"
    "eth_type(0x0800),%s,tcp(src=1,dst=2)" % (ETH, IP4 % 6),
    "ct_state(+trk+est-inv),ct_zone(0x5),ct_mark(0x10/0xff),"
    "ct_label(0x1/0xff),recirc_id(0x1),in_port(1),%s,eth_type(0x0800),%s,"
    "tcp(src=1,dst=2)" % (ETH, IP4 % 6),
    "ct_state(+trk+new),ct_zone(0x1/0xff),recirc_id(0x2),in_port(1),%s,"
    "eth_type(0x0800),%s,ct_tuple4(src=10.0.0.1,dst=10.0.0.2,proto=6,"
    "tp_src=1,tp_dst=2),tcp(src=1,dst=2)" % (ETH, IP4 % 6),
    "ct_state(+trk+new),ct_label(0x1234567890abcdef0011223344556677),"
    "recirc_id(0x4),in_port(1),%s,eth_type(0x86dd),%s,ct_tuple6(src="
    "2001:db8::1,dst=2001:db8::2,proto=17,tp_src=3,tp_dst=4),"
    "udp(src=3,dst=4)" % (ETH, IP6 % 17),
    # Tunnels.
    "tunnel(tun_id=0x7,src=192.168.0.1,dst=192.168.0.2,ttl=64,tp_dst=4789,"
    "flags(-df+csum+key)),in_port(1),%s,eth_type(0x0800),%s,udp(src=8,"
    "dst=9)" % (ETH, IP4 % 17),
    "tunnel(tun_id=0x5/0xff,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,"
    "tos=0x4/0xfc,ttl=64,geneve({class=0x102,type=0x80,len=4,0xa}),"
    "flags(+key)),in_port(1),eth(),eth_type(0x0800),ipv4(frag=no)",
    "tunnel(tun_id=0x1,src=1.1.1.1,dst=2.2.2.2,ttl=64,vxlan(gbp(id=10,"
    "flags=0x1)),flags(key)),in_port(1),%s,eth_type(0x0800),%s,"
    "udp(src=8,dst=4789)" % (ETH, IP4 % 17),
]

# What dpctl/add-flow refuses, and so must the filter parser.
MALFORMED = [
    "ipv4(src=10.0.0)",
    "ipv4(src=10.0.0.1",
    "udp(dst=70000)",
    "eth(src=zz:00:00:00:00:00)",
    "bogus(1)",
    "ipv4(nosuchfield=1)",
    "ipv4(frag=sometimes)",
    "in_port(1),,eth_type(0x0800)",
]

# -f filter, and the OpenFlow match that dpctl/dump-flows filter= takes for
# the same packets.
FILTERS = [
    ("ipv4(src=10.0.0.1)", "ip,nw_src=10.0.0.1"),
    ("ipv4(dst=10.0.0.2)", "ip,nw_dst=10.0.0.2"),
    ("eth_type(0x0800)", "ip"),
    ("ipv4(proto=1)", "icmp"),
    ("tcp(dst=80)", "tcp,tp_dst=80"),
    ("eth_type(0x86dd),tcp(dst=22)", "tcp6,tp_dst=22"),
    ("eth(src=50:54:00:00:00:01)", "dl_src=50:54:00:00:00:01"),
    ("eth_type(0x86dd)", "ipv6"),
    ("in_port(3)", "in_port=3"),
    ("ipv6(dst=2001:db8::2)", "ipv6,ipv6_dst=2001:db8::2"),
    ("arp(op=2)", "arp,arp_op=2"),
    ("vlan(vid=10)", "dl_vlan=10"),
]

# Flows whose tunnel options the filter parser does not take.
NO_FILTER = ("geneve(", "vxlan(")


def _ufid(i):
    rnd = random.Random(i)
    h = "%032x" % rnd.getrandbits(128)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


class Ovs(object):
    def __init__(self, rundir):
        self.rundir = rundir
        self.env = dict(os.environ, OVS_RUNDIR=rundir, OVS_LOGDIR=rundir,
                        OVS_DBDIR=rundir, OVS_SYSCONFDIR=rundir,
                        OVS_PKGDATADIR=rundir)
        b = BUILD
        db = os.path.join(rundir, "conf.db")
        self.run([b + "/ovsdb/ovsdb-tool", "create", db,
                  b + "/vswitchd/vswitch.ovsschema"])
        self.run([b + "/ovsdb/ovsdb-server", "--detach", "--no-chdir",
                  "--pidfile", "--log-file",
                  "--remote=punix:%s/db.sock" % rundir, db])
        self.run([b + "/utilities/ovs-vsctl", "--no-wait", "init"])
        self.run([b + "/vswitchd/ovs-vswitchd", "--detach", "--no-chdir",
                  "--pidfile", "--log-file", "--enable-dummy=override",
                  "--disable-system", "--disable-system-route",
                  "unix:%s/db.sock" % rundir])
        with open(os.path.join(rundir, "ovs-vswitchd.pid")) as f:
            self.pid = int(f.read())
        self.appctl("dpctl/add-dp", DP)

    def run(self, cmd, check=True):
        p = subprocess.run(cmd, env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True,
                           timeout=30)
        if check and p.returncode:
            raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr))
        return p

    def appctl(self, *args, check=True):
        return self.run([BUILD + "/utilities/ovs-appctl", "--timeout=10"]
                        + list(args), check=check)

    def dump(self, *args):
        """The flows of DP as dpctl/dump-flows prints them, without the
        statistics and actions."""
        out = self.appctl("dpctl/dump-flows", "--no-names", *(args + (DP,)))
        flows = []
        for line in out.stdout.splitlines():
            if line.startswith("flow-dump"):
                continue
            flows.append(line.split(", packets:")[0])
        return flows

    def stop(self):
        self.appctl("exit", check=False)
        self.run([BUILD + "/utilities/ovs-appctl", "-t", "ovsdb-server",
                  "exit"], check=False)


class Tool(object):
    """filter_probe.py --json --raw -k attached to 'ovs'."""

    def __init__(self, ovs, outfile):
        self.out = open(outfile, "w+")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", TOOL, "-p", str(ovs.pid), "--json", "-k",
             "--raw"], stdout=self.out, stderr=subprocess.PIPE,
            universal_newlines=True)
        self.pos = 0
        self.events = []
        start = self.wait(lambda e: e.get("event") == "start")
        assert start["pid"] == ovs.pid

    def poll(self):
        self.out.seek(self.pos)
        data = self.out.read()
        lines = data.split("\n")
        for line in lines[:-1]:
            self.events.append(json.loads(line))
        self.pos += len(data) - len(lines[-1])

    def wait(self, pred, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.poll()
            for e in self.events:
                if pred(e):
                    return e
            if self.proc.poll() is not None:
                raise RuntimeError("filter_probe.py exited: %s"
                                   % self.proc.stderr.read())
            time.sleep(0.05)
        raise RuntimeError("timed out waiting for filter_probe.py; events: "
                           "%s" % self.events[-3:])

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def ovs(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root (BPF)")
    if BUILD is None:
        pytest.skip("no built Open vSwitch tree (set OVS_BUILDDIR)")
    o = Ovs(str(tmp_path_factory.mktemp("ovs")))
    yield o
    o.stop()


@pytest.fixture(scope="module")
def flows(ovs, tmp_path_factory):
    """For each of FLOWS: (flow, ufid, install event, dump-flows output,
    dump-flows -m output).  Each flow is installed alone, so that the dumps
    hold just that flow."""
    tool = Tool(ovs, str(tmp_path_factory.mktemp("tool") / "out.json"))
    result = []
    try:
        for i, flow in enumerate(FLOWS):
            ufid = _ufid(i)
            ovs.appctl("dpctl/add-flow", DP, "ufid:%s,%s" % (ufid, flow), "2")
            ev = tool.wait(lambda e: e.get("event") == "install"
                           and e["ufid"] == "ufid:" + ufid)
            plain = ovs.dump()
            verbose = ovs.dump("-m")
            ovs.appctl("dpctl/del-flows", DP)
            assert len(plain) == 1 and len(verbose) == 1, (flow, plain)
            result.append((flow, ufid, ev, plain[0], verbose[0]))
    finally:
        tool.stop()
    return result


def _bytes(ev):
    return bytes.fromhex(ev["key_hex"]), bytes.fromhex(ev["mask_hex"])


def test_ufid(flows):
    for flow, ufid, ev, plain, verbose in flows:
        # As dump-flows -m prints it, and as we asked for it.
        assert verbose.startswith(ev["ufid"] + ", ")
        assert ev["ufid"] == "ufid:" + ufid


def test_ufid_words():
    # The four 32-bit words are native-endian (x86-64: little).
    raw = bytes(range(16))
    assert fp.format_ufid(raw) == "03020100-0706-0504-0b0a-09080f0e0d0c"


def _readelf_sections(path):
    """(address, file offset, size) of each section of 'path' that is loaded
    from the file (flag A, type not NOBITS), as readelf prints them."""
    out = subprocess.run(["readelf", "-SW", path], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    sections = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+([0-9a-f]+)\s+"
                     r"([0-9a-f]+)\s+([0-9a-f]+)\s+\S+\s+(\S*)", line)
        if m and m.group(2) != "NOBITS" and "A" in m.group(6) \
                and int(m.group(5), 16):
            sections.append((m.group(1), int(m.group(3), 16),
                             int(m.group(4), 16), int(m.group(5), 16)))
    return sections


def test_elf_file_offset_agrees_with_readelf():
    # Every byte of every section that ovs-vswitchd loads from its file is
    # where readelf says (checked at its first, middle and last bytes).
    path = os.path.join(BUILD, "vswitchd", "ovs-vswitchd")
    if open(path, "rb").read(4) != b"\x7fELF":
        path = os.path.join(BUILD, "vswitchd", ".libs", "ovs-vswitchd")
    sections = _readelf_sections(path)
    assert ".probes" in [name for name, _, _, _ in sections]
    for name, addr, off, size in sections:
        for k in (0, size // 2, size - 1):
            assert fp.elf_file_offset(path, addr + k, name) == off + k, name
    # An address that no segment loads: one line of error.
    top = max(addr + size for _, addr, _, size in sections) + (1 << 30)
    with pytest.raises(fp.ToolError) as e:
        fp.elf_file_offset(path, top, "probe of x")
    assert str(e.value) == ("%s: no loadable segment holds the probe of x "
                            "(address %#x)" % (path, top))


def test_elf_file_offset_non_pie(tmp_path):
    # The layout of a non-PIE executable, whose segments are loaded at
    # 0x400000 and up: text at file offset 0, data at 0x1e10 loaded at
    # 0x601e10, 0x200 bytes from the file then 0x200 of bss; a PT_NOTE.
    phdrs = [(1, 0, 0x400000, 0x1000, 0x1000),
             (1, 0x1e10, 0x601e10, 0x200, 0x400),
             (4, 0x300, 0x400300, 0x40, 0x40)]
    ehdr = bytearray(64)
    ehdr[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<HHIQQQIHHHHHH", ehdr, 16, 2, 62, 1, 0x401000, 64, 0,
                     0, 64, 56, len(phdrs), 64, 0, 0)
    data = bytes(ehdr)
    for ptype, off, vaddr, filesz, memsz in phdrs:
        data += struct.pack("<IIQQQQQQ", ptype, 5, off, vaddr, vaddr,
                            filesz, memsz, 0x1000)
    path = tmp_path / "exec"
    path.write_bytes(data + bytes(0x2010 - len(data)))
    assert fp.elf_file_offset(str(path), 0x400000, "x") == 0
    assert fp.elf_file_offset(str(path), 0x400fff, "x") == 0xfff
    assert fp.elf_file_offset(str(path), 0x601e10, "x") == 0x1e10
    assert fp.elf_file_offset(str(path), 0x602000, "x") == 0x2000
    # Not from the file: bss, a gap between segments.
    for vaddr in (0x602010, 0x500000, 0x3fffff):
        with pytest.raises(fp.ToolError):
            fp.elf_file_offset(str(path), vaddr, "x")


def test_elf_file_offset_not_elf(tmp_path):
    bad = tmp_path / "not-elf"
    bad.write_bytes(b"#!/bin/sh\n" + bytes(64))
    with pytest.raises(fp.ToolError) as e:
        fp.elf_file_offset(str(bad), 0x1000, "probe of x")
    assert str(e.value) == ("%s is not a 64-bit little-endian ELF file"
                            % bad)
    with pytest.raises(fp.ToolError) as e:
        fp.elf_file_offset(str(tmp_path / "missing"), 0x1000, "probe of x")
    assert str(e.value).startswith("cannot read %s: " % (tmp_path /
                                                         "missing"))


@pytest.mark.parametrize("i", range(len(FLOWS)))
def test_key_decoding(flows, i):
    flow, ufid, ev, plain, verbose = flows[i]
    key, mask = _bytes(ev)
    # As dpctl/dump-flows prints it, and as filter_probe.py -k printed it.
    assert keys.format_flow(key, mask) == plain
    assert ev["key"] == plain
    # As dpctl/dump-flows -m prints it.
    assert "ufid:%s, %s" % (ufid, keys.format_flow(key, mask, True)) \
        == verbose


def test_key_without_mask(flows):
    # Without a mask, every attribute is exact and printed: the key alone,
    # as odp_flow_key_format() prints it, is the -m output without masks.
    flow, ufid, ev, plain, verbose = flows[0]
    key, mask = _bytes(ev)
    text = keys.format_flow(key)
    for attr in ("in_port(1)", ETH, "eth_type(0x0800)", "udp(src=8,dst=9)"):
        assert attr in text
    assert "/" not in text


def _ovs_format(cases, verbose=False):
    """Open vSwitch's odp_flow_format() of each (key, mask) in 'cases',
    through "ovstest test-odp-netlink"; None where it aborts (it asserts on
    some malformed masks)."""
    def run(chunk):
        text = "".join("%s%s\n" % (k.hex(), " " + m.hex() if m else "")
                       for k, m in chunk)
        p = subprocess.run([BUILD + "/tests/ovstest", "test-odp-netlink"]
                           + (["-m"] if verbose else []), input=text,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        return p.stdout.splitlines() if p.returncode == 0 else None

    out = []
    for i in range(0, len(cases), 50):
        chunk = cases[i:i + 50]
        lines = run(chunk)
        if lines is None:
            lines = []
            for case in chunk:
                one = run([case])
                lines.append(one[0] if one else None)
        out.extend(lines)
    return out


@pytest.fixture(scope="module")
def ovstest():
    if BUILD is None or not os.path.exists(BUILD + "/tests/ovstest"):
        pytest.skip("no tests/ovstest in the build tree")


def _mutations(key, rnd):
    """Truncated and corrupted versions of 'key'."""
    attrs, used = keys.nl_attrs(key)
    out = [key[:n] for n in range(0, len(key), 3)]
    for _ in range(60):
        b = bytearray(key)
        pos = rnd.randrange(len(b))
        b[pos] = rnd.randrange(256)
        out.append(bytes(b))
    # Lengths off by a few bytes, unknown types.
    off = 0
    while off + 4 <= len(key):
        alen = int.from_bytes(key[off:off + 2], "little")
        for delta in (-4, -1, 1, 4):
            b = bytearray(key)
            b[off:off + 2] = max(0, alen + delta).to_bytes(2, "little")
            out.append(bytes(b))
        b = bytearray(key)
        b[off + 2:off + 4] = (40 + off % 7).to_bytes(2, "little")
        out.append(bytes(b))
        off += (alen + 3) & ~3
    return out


def _same(ours, ovs):
    """Equal, but for the leftover bytes that odp_flow_format() prints when
    the last attribute is not padded: it reads them past the end of the
    key (from the next aligned offset), so they are whatever follows the
    key in memory."""
    if ours == ovs:
        return True
    hide = re.compile(r"(leftover bytes\*\*\* \()([0-9a-f]*)\)")

    def strip(s):
        return hide.sub(lambda m: m.group(1) + "#" * len(m.group(2)) + ")",
                        s)
    return strip(ours) == strip(ovs)


@pytest.mark.parametrize("verbose", [False, True])
def test_truncated_and_malformed_keys(flows, ovstest, verbose):
    """Keys cut anywhere, bytes changed at random, attribute lengths and
    types broken: decoded as Open vSwitch decodes them, with and without
    the mask."""
    rnd = random.Random(4)
    cases = []
    for flow, ufid, ev, plain, verb in flows:
        key, mask = _bytes(ev)
        for bad in _mutations(key, rnd):
            if bad:
                cases.append((bad, mask))
                cases.append((bad, None))
        for bad in _mutations(mask, rnd)[::3]:
            if bad:
                cases.append((key, bad))
    want = _ovs_format(cases, verbose)
    assert len(want) == len(cases)
    compared = 0
    for (key, mask), w in zip(cases, want):
        if w is None:
            # OVS aborts; the decoder must still return something.
            assert isinstance(keys.format_flow(key, mask, verbose), str)
            continue
        assert _same(keys.format_flow(key, mask, verbose), w), \
            (key.hex(), mask and mask.hex())
        compared += 1
    assert compared > 0.9 * len(cases)


def _nlattr(atype, payload):
    """A Netlink attribute: header, payload, padding to 4 bytes."""
    return (struct.pack("<HH", 4 + len(payload), atype) + payload
            + b"\0" * (-len(payload) % 4))


def test_malformed_key(ovstest):
    cases = [(_nlattr(keys.A_IPV4, bytes(8)), None),
             (_nlattr(40, b"\x01\x02"), None),
             (b"\x40\x00\x03\x00" + bytes(8), None),
             (_nlattr(keys.A_IN_PORT, b"\x01\0\0\0"), b"\x01\x02")]
    want = _ovs_format(cases)
    for (key, mask), w in zip(cases, want):
        assert keys.format_flow(key, mask) == w
    assert want[0] == \
        "(bad key length 8, expected 12)(00 00 00 00 00 00 00 00)"


#
# Fuzzing the key decoder against Open vSwitch's own formatter.  Seeded
# (FUZZ_SEED in the environment replays another run) and bounded (FUZZ_KEYS
# keys each), so that it runs in make check in a few seconds.
#
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261201"))
FUZZ_KEYS = int(os.environ.get("FUZZ_KEYS", "6000"))


def _rand_bytes(rnd, n):
    return bytes(rnd.getrandbits(8) for _ in range(n))


def _fuzz_tunnel_payload(rnd, t):
    """A well-formed OVS_TUNNEL_KEY_ATTR_* payload of type 't'."""
    if t == keys.T_GENEVE:
        opts = b""
        for _ in range(rnd.randrange(1, 3)):
            words = rnd.randrange(3)
            opts += _rand_bytes(rnd, 3) + bytes([words]) \
                + _rand_bytes(rnd, 4 * words)
        return opts
    if t == keys.T_ERSPAN:
        return struct.pack("<i", rnd.choice([1, 2])) + _rand_bytes(rnd, 8)
    if t == keys.T_GTPU:
        return _rand_bytes(rnd, 2)
    if t == keys.T_VXLAN:
        return _nlattr(1, _rand_bytes(rnd, 4))
    return _rand_bytes(rnd, keys.TUN_LENS[t])


def _fuzz_payload(rnd, t, depth):
    """A well-formed OVS_KEY_ATTR_* payload of type 't'."""
    if t == keys.A_TUNNEL:
        subs = rnd.sample(sorted(set(keys.TUN_LENS) - {keys.T_PAD}),
                          rnd.randrange(1, 6))
        return b"".join(_nlattr(s, _fuzz_tunnel_payload(rnd, s))
                        for s in sorted(subs))
    if t == keys.A_ENCAP:
        return _fuzz_key(rnd, depth + 1)
    if t == keys.A_MPLS:
        return _rand_bytes(rnd, 4 * rnd.randrange(1, 3))
    payload = bytearray(_rand_bytes(rnd, keys.KEY_LENS[t]))
    if t in (keys.A_IPV4, keys.A_IPV6):
        payload[-1] = rnd.randrange(3)          # frag: no, first, later.
    return bytes(payload)


def _fuzz_key(rnd, depth=0):
    """A well-formed key: attributes of the right sizes (NSH aside: the
    datapath never sends it in a key of this release)."""
    types = [t for t in keys.KEY_LENS if t not in (keys.A_UNSPEC, keys.A_NSH)
             and (not depth or t not in (keys.A_ENCAP, keys.A_TUNNEL))]
    return b"".join(_nlattr(t, _fuzz_payload(rnd, t, depth))
                    for t in rnd.sample(types, rnd.randrange(1, 8)))


def _fuzz_mask(rnd, key, tunnel=False):
    """A mask for 'key': the same attributes, some left out (wildcarded),
    each exact, zero or random."""
    out = b""
    for t, p in keys.nl_attrs(key)[0]:
        c = rnd.random()
        if c < 0.15:
            continue
        if tunnel:
            nested = t == keys.T_VXLAN
        else:
            nested = t in (keys.A_ENCAP, keys.A_TUNNEL)
        if nested:
            out += _nlattr(t, _fuzz_mask(rnd, p,
                                         tunnel or t == keys.A_TUNNEL))
        elif c < 0.45:
            out += _nlattr(t, b"\xff" * len(p))
        elif c < 0.6:
            out += _nlattr(t, bytes(len(p)))
        else:
            out += _nlattr(t, _rand_bytes(rnd, len(p)))
    return out


def _fuzz_malformed(rnd, depth=0):
    """A key of random attributes of random types, sizes and contents."""
    out = b""
    for _ in range(rnd.randrange(1, 6)):
        t = rnd.randrange(keys.A_MAX + 3)
        if keys.KEY_LENS.get(t) == keys.NESTED and depth < 2:
            payload = _fuzz_malformed(rnd, depth + 1)
        elif t in keys.KEY_LENS and keys.KEY_LENS[t] >= 0 \
                and rnd.random() < 0.85:
            payload = _rand_bytes(rnd, keys.KEY_LENS[t])
        else:
            payload = _rand_bytes(rnd, rnd.randrange(12))
        out += _nlattr(t, payload)
    return out


def _fuzz_cases(rnd, make_key):
    cases = []
    for _ in range(FUZZ_KEYS):
        key = make_key(rnd)
        mask = _fuzz_mask(rnd, key) if rnd.random() < 0.8 else None
        cases.append((key, mask, rnd.random() < 0.3))
    return cases


def _fuzz_compare(cases):
    """(cases where the decoder raised, cases OVS formatted, cases where
    the decoder agreed with OVS), for every (key, mask, verbose)."""
    raised, formatted, agreed = [], 0, 0
    for verbose in (False, True):
        sub = [(k, m) for k, m, v in cases if v == verbose]
        for (key, mask), want in zip(sub, _ovs_format(sub, verbose)):
            try:
                got = keys.format_flow(key, mask, verbose)
            except Exception as e:
                raised.append((key.hex(), mask and mask.hex(), repr(e)))
                continue
            assert isinstance(got, str)
            if want is not None:
                formatted += 1
                agreed += _same(got, want)
    return raised, formatted, agreed


def test_fuzz_well_formed_keys(ovstest):
    """Random well-formed keys and masks, every attribute type but NSH:
    decoded exactly as Open vSwitch decodes them."""
    rnd = random.Random(FUZZ_SEED)
    cases = _fuzz_cases(rnd, _fuzz_key)
    raised, formatted, agreed = _fuzz_compare(cases)
    assert not raised, raised[:3]
    assert formatted == len(cases)
    assert agreed == formatted, "%d of %d keys decoded otherwise (seed %d)" \
        % (formatted - agreed, formatted, FUZZ_SEED)


def test_fuzz_malformed_keys(ovstest):
    """Random attributes of any type and size: the decoder never raises.
    Open vSwitch reads past the end of some of them (its output then
    depends on memory) or aborts: where it formats them, most agree."""
    rnd = random.Random(FUZZ_SEED + 1)
    cases = _fuzz_cases(rnd, _fuzz_malformed)
    raised, formatted, agreed = _fuzz_compare(cases)
    assert not raised, "%d keys raised (seed %d), e.g. %s" \
        % (len(raised), FUZZ_SEED + 1, raised[:3])
    assert formatted > 0.95 * len(cases)
    assert agreed > 0.85 * formatted, (agreed, formatted)


def test_filter_accepts_what_ovs_accepts(flows):
    for flow, ufid, ev, plain, verbose in flows:
        if any(x in flow for x in NO_FILTER):
            with pytest.raises(flt.FilterError):
                flt.parse_filter(flow)
            continue
        terms = flt.parse_filter(flow)
        key, mask = _bytes(ev)
        # A flow matches the filter that describes it ...
        assert flt.flow_matches(terms, key, mask), flow
        # ... and the flow string OVS prints for it.
        assert flt.flow_matches(flt.parse_filter(plain), key, mask), plain


@pytest.mark.parametrize("text", MALFORMED)
def test_filter_rejects_what_ovs_rejects(ovs, text):
    p = ovs.appctl("dpctl/add-flow", DP, text, "2", check=False)
    assert p.returncode != 0
    with pytest.raises(flt.FilterError) as e:
        flt.parse_filter(text)
    assert "bad --filter at column" in str(e.value)


def test_filter_error_position():
    with pytest.raises(flt.FilterError) as e:
        flt.parse_filter("in_port(1),ipv4(src=10.0.0)")
    assert str(e.value).startswith("bad --filter at column 21 ('10.0.0)'):"
                                   " expected an IPv4 address")


@pytest.mark.parametrize("expr,of", FILTERS)
def test_matcher_agrees_with_dpctl_filter(ovs, flows, expr, of):
    """Install every flow at once; the flows that the matcher picks must be
    those that dpctl/dump-flows filter= picks."""
    by_ufid = {}
    for i, (flow, ufid, ev, plain, verbose) in enumerate(flows):
        by_ufid[ufid] = ev
        # The conntrack and tunnel flows have metadata that OpenFlow
        # filters need more fields for: keep to the plain ones.
        if flow.startswith(("ct_", "tunnel", "skb")):
            continue
        ovs.appctl("dpctl/add-flow", DP, "ufid:%s,%s" % (ufid, flow), "2")
    try:
        out = ovs.appctl("dpctl/dump-flows", "-m", DP, "filter=" + of)
        want = sorted(line.split(",")[0][5:]
                      for line in out.stdout.splitlines()
                      if line.startswith("ufid:"))
        terms = flt.parse_filter(expr)
        got = sorted(u for u, ev in by_ufid.items()
                     if not _flow_of(flows, u).startswith(("ct_", "tunnel",
                                                          "skb"))
                     and flt.flow_matches(terms, *_bytes(ev)))
        # The documented difference: a flow whose key lacks an attribute
        # that the filter names is not followed; dpctl takes the missing
        # header as wildcarded.
        presence = [flt.Term(t.path, 0, b"", b"") for t in terms]
        for t, p in zip(terms, presence):
            p.inner = t.inner
        want = [u for u in want
                if flt.flow_matches(presence, *_bytes(by_ufid[u]))]
        assert got == want
        assert want, "filter %s matches nothing" % of
    finally:
        ovs.appctl("dpctl/del-flows", DP)


def _flow_of(flows, ufid):
    for flow, u, ev, plain, verbose in flows:
        if u == ufid:
            return flow


# Filters for the BPF matcher: each runs in its own filter_probe.py.
BPF_FILTERS = [
    "ipv4(src=10.0.0.0/255.255.255.0)",
    "eth_type(0x0800),tcp(dst=80)",
    "eth_type(0x0800)",
    "vlan(vid=10/0xff0),encap(ipv4(src=10.0.0.1))",
    "tunnel(tun_id=0x7,flags(+csum))",
    "tunnel(flags(-csum))",
    "ct_state(+trk+est),ct_zone(0x5)",
    "eth(src=50:54:00:00:00:00/ff:ff:ff:00:00:00),ipv6(dst=2001:db8::2)",
    "mpls(label=100)",
    "in_port(1),tcp(dst=443),tcp_flags(+syn)",
    "in_port(1),udp(src=8,dst=9)",
]


def test_bpf_matcher_agrees(ovs, flows, tmp_path):
    """The filter compiled into BPF follows exactly the flows that
    flow_matches() picks, on the keys and masks of FLOWS."""
    tools = []
    try:
        for n, expr in enumerate(BPF_FILTERS):
            out = open(str(tmp_path / ("f%d.json" % n)), "w+")
            tools.append((expr, out, subprocess.Popen(
                ["/usr/bin/python3", TOOL, "-p", str(ovs.pid), "--json",
                 "-f", expr], stdout=out, stderr=subprocess.PIPE,
                universal_newlines=True)))
        deadline = time.time() + 120
        for expr, out, proc in tools:
            while os.path.getsize(out.name) == 0:
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline
                time.sleep(0.1)
        want = dict((expr, set()) for expr in BPF_FILTERS)
        # Backwards: the tunnel flows first, before flows that would match
        # their packets.
        for i, (flow, ufid, ev, plain, verbose) in reversed(
                list(enumerate(flows))):
            ufid = _ufid(1000 + i)
            p = ovs.appctl("dpctl/add-flow", DP, "ufid:%s,%s" % (ufid, flow),
                           "2", check=False)
            if p.returncode:
                # The same datapath flow as an earlier one (the datapath
                # ignores some metadata of flows added by hand).
                assert "File exists" in p.stderr
                continue
            for expr in BPF_FILTERS:
                if flt.flow_matches(flt.parse_filter(expr), *_bytes(ev)):
                    want[expr].add("ufid:" + ufid)
    finally:
        for expr, out, proc in tools:
            proc.send_signal(signal.SIGINT)
        for expr, out, proc in tools:
            proc.wait(timeout=120)
        ovs.appctl("dpctl/del-flows", DP)
    for expr, out, proc in tools:
        assert proc.returncode == 0, proc.stderr.read()
        out.seek(0)
        got = set(e["ufid"] for e in map(json.loads, out)
                  if e["event"] == "install")
        assert got == want[expr], expr
        assert got, "%s follows nothing" % expr


def test_filter_terms():
    # Masks reach the kernel as written; fields after a VLAN tag sit under
    # encap().
    terms = flt.parse_filter("encap(ipv4(src=10.0.0.0/24)),vlan(vid=5),"
                             "udp(dst=0x35)")
    assert [(t.path, t.offset, t.value.hex(), t.mask.hex(), t.inner)
            for t in terms] \
        == [((1, 7), 0, "0a000000", "ffffff00", False),
            ((5,), 0, "0005", "0fff", False),
            ((10,), 2, "0035", "ffff", False)]
    terms = flt.parse_filter("in_port(1),udp(dst=0x35)")
    assert [t.inner for t in terms] == [False, True]
    terms = flt.parse_filter("tunnel(flags(+df-csum))")
    assert [(t.path, t.present) for t in terms] \
        == [((16, 5), True), ((16, 6), False)]
    terms = flt.parse_filter("ct_state(+trk-inv),in_port(4)")
    assert [(t.path, t.value.hex(), t.mask.hex()) for t in terms] \
        == [((22,), "20000000", "30000000"), ((3,), "04000000", "ffffffff")]


def test_bpf_filter_compiles_to_checks():
    src = flt.filter_to_c(flt.parse_filter("udp(dst=9)"))
    assert "kp = kv->pos[10];" in src
    assert "if ((d[(kp + 3) & IDX] ^ 9) & 255 &" in src
    assert flt.filter_to_c([]) == "    return 1;"


def test_packet_from_key(flows):
    pytest.importorskip("scapy")
    flow, ufid, ev, plain, verbose = flows[0]
    pkt = keys.packet_from_key(_bytes(ev)[0])
    assert pkt.src == MAC1 and pkt.dst == MAC2
    assert pkt["IP"].src == "10.0.0.1" and pkt["UDP"].dport == 9
    flow, ufid, ev, plain, verbose = flows[10]
    pkt = keys.packet_from_key(_bytes(ev)[0])
    assert pkt["Dot1Q"].vlan == 10 and pkt["Dot1Q"].prio == 3
    assert pkt["ICMP"].type == 8


if __name__ == "__main__":
    sys.exit(pytest.main([__file__] + sys.argv[1:]))
