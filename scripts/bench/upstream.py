# Copyright (c) 2026 The ovs-flow-observability authors.
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

"""Upstream's flow_reval_monitor.py in the bench, next to our tools.

Open vSwitch 3.4 and later ship utilities/usdt-scripts/flow_reval_monitor.py
(BCC).  Nothing of it is in this repository: make bench
UPSTREAM_MONITOR=/path/to/flow_reval_monitor.py takes the user's copy,
writes a rewritten copy into build/bench/upstream/ and measures it exactly as
our tools (tool name "upstream_monitor").  The rewrites, each checked to
apply exactly once (REWRITES below, also written to
build/bench/upstream/CHANGES.txt):

  1. 'unsigned char key[MAX_KEY];' in its struct event_t becomes
     'u8 key[MAX_KEY];': the same layout, but BCC 0.26 cannot map the
     two-word type name of an array to ctypes and exits ("Type: 'unsigned
     char[128]' not recognized").
  2. It enables 'dp_flow_put' instead of 'op_flow_put': on the dummy
     (userspace) datapath the bench runs, op_flow_put
     (dpif_netlink_operate__) never fires, so the monitor would see no
     install at all; our dp_netdev_flow_add:dp_flow_put passes the same
     arguments (the datapath, then a struct dpif_flow_put *), so its
     handler reads them unchanged.  Its BPF program is not changed.

It asks 'pahole -C udpif_key,ovs_u128,dpif_flow_put --compile <binary>' for
C definitions of our structures; Debian 12's pahole 1.24 cannot do that from
DWARF.  The monitor takes the pahole to run as '-P', and gets
build/bench/upstream/pahole, a stand-in that runs this file: it asks gdb
(Python API) for the types in the binary's DWARF and prints, for each one
asked, a definition with the same size and the same offset for every member,
recursively: integers, enums and _Bool as the kernel's fixed-width types
(__u8 ... __s64) of their size and signedness, every pointer as 'void *',
arrays as arrays of that, nested structures and unions inlined as anonymous
ones (a member whose type is another of the types asked keeps that type),
holes, bit-fields and trailing padding as __u8 arrays; _Static_asserts check
each size and each top-level offset against DWARF when BCC compiles it.
Type and member names are DWARF's.  The output of a binary is cached in
build/bench/upstream/pahole-cache/ (gdb takes seconds to load
ovs-vswitchd), so the start-up figure counts BCC's work, not gdb's.
"""

import hashlib
import os
import re
import statistics
import subprocess
import sys

NAME = "upstream_monitor"
LABEL = "flow_reval_monitor.py (upstream)"
PURGE_TEXT = "User requested flow deletion"     # Its text for FDR_PURGE.
DIR = os.path.dirname(os.path.abspath(__file__))

# (what it changes, old, new): each 'old' must occur exactly once.
REWRITES = [
    ("struct event_t's key: 'unsigned char' to 'u8' (same layout; BCC 0.26 "
     "cannot map 'unsigned char[N]' to ctypes)",
     "unsigned char key[MAX_KEY];", "u8 key[MAX_KEY];"),
    ("install probe: op_flow_put (kernel datapath only) to dp_flow_put (ours, "
     "userspace datapath, same arguments)",
     'probe="op_flow_put"', 'probe="dp_flow_put"'),
]


def die(msg):
    sys.stderr.write("bench: upstream monitor: %s\n" % msg)
    sys.exit(1)


def prepare(src, outdir):
    """Writes the rewritten monitor, the pahole stand-in and CHANGES.txt
    into 'outdir'; returns what the report says about them."""
    try:
        with open(src) as f:
            text = f.read()
    except OSError as e:
        die("%s: %s" % (src, e.strerror))
    for probe in ("flow_result", "flow_sweep_result", "op_flow_put"):
        if 'probe="%s"' % probe not in text:
            die("%s: no enable_probe(probe=\"%s\"): not upstream's "
                "flow_reval_monitor.py?" % (src, probe))
    changes = []
    for what, old, new in REWRITES:
        if text.count(old) != 1:
            die("%s: '%s' occurs %d times, expected once (another version "
                "of the script?)" % (src, old, text.count(old)))
        text = text.replace(old, new)
        changes.append(what)
    os.makedirs(outdir, exist_ok=True)
    dst = os.path.join(outdir, "flow_reval_monitor.py")
    with open(dst, "w") as f:
        f.write(text)
    pahole = os.path.join(outdir, "pahole")
    with open(pahole, "w") as f:
        me = os.path.abspath(__file__)
        f.write("#!/bin/sh\n# Stand-in for pahole -C ... --compile: see %s\n"
                "UPSTREAM_PAHOLE_CACHE=%s exec /usr/bin/python3 %s pahole "
                "\"$@\"\n" % (me, os.path.join(outdir, "pahole-cache"), me))
    os.chmod(pahole, 0o755)
    with open(os.path.join(outdir, "CHANGES.txt"), "w") as f:
        f.write("%s, rewritten from %s:\n" % (dst, os.path.abspath(src)))
        for i, c in enumerate(changes):
            f.write("  %d. %s\n" % (i + 1, c))
        f.write("pahole stand-in: %s (see scripts/bench/upstream.py)\n"
                % pahole)
    with open(src, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    return {"source": os.path.abspath(src), "sha256": sha, "script": dst,
            "pahole": pahole, "rewrites": changes}


def reasons(script, header):
    """The monitor's deletion reasons against ours (enum flow_del_reason in
    'header'): (names that agree, in order; ours that it lacks)."""
    with open(script) as f:
        m = re.search(r'IntEnum\(\s*"flow_del_reason",\s*\[(.*?)\]',
                      f.read(), re.S)
    theirs = re.findall(r'"(FDR_\w+)"', m.group(1)) if m else []
    with open(header) as f:
        m = re.search(r"enum flow_del_reason \{(.*?)\};", f.read(), re.S)
    ours = re.findall(r"^\s*(FDR_\w+)", m.group(1), re.M) if m else []
    agree = []
    for a, b in zip(theirs, ours):
        if a != b:
            break
        agree.append(a)
    return agree, ours[len(agree):], theirs[len(agree):]


def setup(bench, src, tools_default):
    """Adds the monitor to 'bench' (a bench.Bench) and to 'tools_default'
    (the tools measured in steady state and bursts)."""
    info = prepare(src, os.path.join(bench.o.out, "upstream"))
    # Fills the stand-in's cache from the binary the daemons run.
    p = subprocess.run([info["pahole"], "-C",
                        "udpif_key,ovs_u128,dpif_flow_put", "--compile",
                        bench.bins["patched"]], stdout=subprocess.PIPE,
                       universal_newlines=True)
    m = re.search(r"sizeof\(struct udpif_key\) == (\d+)", p.stdout)
    if p.returncode or not m:
        die("pahole stand-in failed: %s" % p.stdout.strip()[-300:])
    info["udpif_key_bytes"] = int(m.group(1))
    agree, ours, theirs = reasons(
        info["script"], os.path.join(bench.o.patched, "ofproto",
                                     "ofproto-dpif-upcall.h"))
    info["reasons"] = {"agree": agree, "ours_only": ours,
                       "theirs_only": theirs}
    bench.upstream = info
    bench.res["upstream"] = info
    bench.tools_ok.append(NAME)
    if NAME not in tools_default:
        tools_default.append(NAME)


def make_tool(bench, pid, outdir, tag=""):
    return Tool(bench.upstream, pid, outdir, tag)


def _tools():
    sys.path.insert(0, DIR)
    import tools
    return tools


class Tool(_tools().Tool):
    """The monitor as our tools.Tool: same start, settle, stop and
    memory; its own output format."""

    def __init__(self, info, pid, outdir, tag=""):
        t = _tools()
        self.name = NAME
        self.argv = [t.PYTHON, info["script"], "-p", str(pid),
                     "-P", info["pahole"]]
        base = os.path.join(outdir, "%s%s" % (NAME, tag))
        self.out_path = base + ".out"
        self.err_path = base + ".err"
        self.proc = None
        self.t_launch = None

    def launch(self, env=None):
        # It prints with print(): unbuffered, or its output reaches the
        # file only in 8 kB blocks.
        env = dict(env or os.environ, PYTHONUNBUFFERED="1")
        super(Tool, self).launch(env)

    def ready(self):
        # Its header comes once BCC has compiled and attached.
        return "EVENT/REASON" in self.output()

    def count_events(self, word=None):
        if word == "purge":
            word = PURGE_TEXT
        return super(Tool, self).count_events(word)

    def lost(self):
        # At exit: "# WARNING: Not all flow operations were captured, N
        # were dropped!"
        m = re.search(r"captured, (\d+) were dropped", self.output())
        return int(m.group(1)) if m else 0


def rst(res, table):
    """The report's section on the monitor, next to our tools: a list of
    chunks, paragraphs or a table, as report.rst() builds them."""
    u = res["upstream"]
    r = u.get("reasons", {})
    o = ["\n**11. Upstream's flow_reval_monitor.py next to ours** (the "
         "user's copy, %s, sha256 %s..., run as %s, rewritten: %s; its "
         "pahole -C ... --compile is a stand-in that prints, from the "
         "binary's DWARF read by gdb, definitions of udpif_key, ovs_u128 "
         "and dpif_flow_put with DWARF's sizes and member offsets, checked "
         "by _Static_asserts, members flattened to fixed-width integers, "
         "``void *`` and inlined structures: see scripts/bench/upstream.py)\n"
         % (u["source"], u["sha256"][:12], u["script"],
            "; ".join("(%d) %s" % (i + 1, w)
                      for i, w in enumerate(u["rewrites"])))]
    o.append("It attaches to ``revalidate:flow_result`` and "
             "``revalidator_sweep__:flow_sweep_result``, which in our "
             "tree fire at every verdict, keep included "
             "(watch_flows.bt, filter_probe.py and the floor use the "
             "``*_change`` probes, which skip keeps); the four "
             "arguments it reads (udpif, ukey, result, reason) are "
             "upstream 3.4's.  For each verdict its BPF program copies "
             "the whole struct udpif_key (%s bytes in this build) and "
             "submits a ring buffer event; its Python side prints "
             "deletions only.  Deletion reasons: %d values agree by "
             "name and number (%s to %s); ours %s it prints as "
             "\"Unknown reason\"%s.  Installs: through dp_flow_put "
             "(rewrite 2); unchanged, op_flow_put, it sees no install "
             "on the userspace datapath.  Its format_ufid() masks the "
             "low 16 bits of the UFID's third word with '& 0', so the "
             "fourth group of every UFID it prints reads 0000 where "
             "dpctl/dump-flows and our tools show the real digits.\n"
             % (u.get("udpif_key_bytes", "?"), len(r.get("agree", [])),
                (r.get("agree") or ["?"])[0], (r.get("agree") or ["?"])[-1],
                ", ".join(r.get("ours_only", [])) or "(none)",
                ("; it has %s that ours lacks"
                 % ", ".join(r["theirs_only"])) if r.get("theirs_only")
                else ""))
    pe = res.get("per_event", {})
    idle = res.get("idle_steady", {})
    burst = res.get("burst", {})
    st = res.get("startup", {})
    mem = res.get("memory", {})
    ns = sorted(idle, key=int)
    rows = []
    for t in ("floor", "watch_flows", "filter_probe", NAME):
        label = {"floor": "bpftrace count() (floor)",
                 "watch_flows": "watch_flows.bt",
                 "filter_probe": "filter_probe.py", NAME: LABEL}[t]
        row = [label]
        for k in ("modify", "delete"):
            x = pe.get(t, {}).get(k)
            if not x or "added_ns_per_event" not in x:
                row.append("-")
                continue
            rf = x.get("ratio_to_floor")
            row.append("%.0f" % x["added_ns_per_event"] + (
                "" if t == "floor" or rf is None else " (%.2fx)" % rf))
        keep = []
        for n in ns:
            s = idle[n].get(t)
            if s and "median" in s:
                last = idle[n]["none_last"]["median"]
                keep.append("%s: %.3f" % (n, s["median"] / last))
        row.append(", ".join(keep) or "-")
        b = [burst[t][n] for n in sorted(burst.get(t, {}), key=int)]
        row.append(", ".join("%d/%d, %d lost"
                             % (x["delivered"], x["expected"], x["lost"])
                             for x in b) or "-")
        s = st.get(t)
        if s and t != "floor" and s.get("median_s") is not None:
            hdr = [x for x in s.get("header_s", []) if x is not None]
            row.append("%.2f" % s["median_s"] + (
                " (%.2f)" % statistics.median(hdr) if hdr else ""))
        else:
            row.append("-")
        m = mem.get(t, {})
        row.append(", ".join("%.1f + %.1f" % (m[n]["rss_bytes"] / 2 ** 20,
                                              m[n]["bpf_map_bytes"] / 2 ** 20)
                             for n in sorted(m, key=int)) or "-")
        rows.append(row)
    o.append("\n" + table(["tool", "modify ns/event (x floor)",
                           "delete ns/event (x floor)",
                           "keep rounds: tool's own effect, by N",
                           "burst: delivered/expected", "first event s "
                           "(attached)", "resident + BPF maps MiB"], rows))
    o.append("\nThe columns are those of tables 2 to 6, same runs; "
             "\"tool's own effect\" is the on-CPU time of a keep round "
             "with the tool attached over the same pair of daemons without "
             "it (table 3).  Timing is noisy: two CPUs shared with other "
             "work; compare within a run.\n")
    return o


# The pahole stand-in.

def _gdb_emit(names):
    """Runs inside gdb: the C definitions of 'names' (struct tags or
    typedef names), dependencies first."""
    import gdb

    def lookup(name):
        for n in ("struct " + name, "union " + name, name):
            try:
                return gdb.lookup_type(n)
            except gdb.error:
                continue
        return None

    asked = {}
    for n in names:
        t = lookup(n)
        if t is None:
            print("pahole: type '%s' not found" % n)
            return
        asked[n] = t

    def asked_name(t):
        """The C spelling of 't' if it is one of the types asked."""
        u = t.unqualified()
        for n, a in asked.items():
            if a.code == gdb.TYPE_CODE_TYPEDEF:
                if u.code == gdb.TYPE_CODE_TYPEDEF and u.name == n:
                    return n
            elif u.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION) \
                    and u.tag == n and a.strip_typedefs().code == u.code:
                return ("struct " if u.code == gdb.TYPE_CODE_STRUCT
                        else "union ") + n
        return None

    scalars = (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_ENUM, gdb.TYPE_CODE_BOOL,
               gdb.TYPE_CODE_CHAR)
    order = []

    def need(n):
        if n not in order:
            order.append(n)

    def decl(t, name, ind, deps):
        """(text before the name, text after it) for a member of type
        't'."""
        a = asked_name(t)
        if a:
            deps.add(a.split()[-1])
            return a + " ", ""
        s = t.strip_typedefs()
        if s.code == gdb.TYPE_CODE_PTR:
            return "void *", ""
        if s.code in scalars:
            return "__%s%d " % ("s" if s.is_signed else "u",
                                s.sizeof * 8), ""
        if s.code == gdb.TYPE_CODE_ARRAY:
            lo, hi = s.range()
            pre, post = decl(s.target(), name, ind, deps)
            return pre, "[%d]" % (hi - lo + 1) + post
        if s.code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
            return body(s, ind, deps) + " ", ""
        return "__u8 ", "[%d]" % s.sizeof

    def body(t, ind, deps):
        kw = "union" if t.code == gdb.TYPE_CODE_UNION else "struct"
        lines = [kw + " {"]
        pad = [0]

        def padding(n):
            lines.append("%s    __u8 __pad%d[%d];" % (ind, pad[0], n))
            pad[0] += 1

        pos = 0
        for f in t.fields():
            if f.bitsize or not hasattr(f, "bitpos"):
                continue            # Bit-field: left to the padding.
            off = f.bitpos // 8
            if kw == "struct" and off > pos:
                padding(off - pos)
                pos = off
            if f.type.strip_typedefs().sizeof == 0:
                continue            # Flexible array member.
            pre, post = decl(f.type, f.name, ind + "    ", deps)
            lines.append("%s    %s%s%s;" % (ind, pre, f.name or "", post))
            if kw == "struct":
                pos = off + f.type.sizeof
        if kw == "struct" and t.sizeof > pos:
            padding(t.sizeof - pos)
        lines.append(ind + "}")
        return "\n".join(lines)

    out = {}

    def define(n):
        t = asked[n]
        deps = set()
        if t.code == gdb.TYPE_CODE_TYPEDEF:
            s = t.strip_typedefs()
            text = "typedef %s %s;" % (body(s, "", deps), n)
            c = n
        else:
            s = t.strip_typedefs()
            text = "%s %s;" % (body(s, "", deps).replace(
                "{", n + " {", 1), "")
            text = text.replace(" ;", ";")
            c = "%s %s" % ("union" if s.code == gdb.TYPE_CODE_UNION
                           else "struct", n)
        checks = ["_Static_assert(sizeof(%s) == %d, \"%s: size\");"
                  % (c, s.sizeof, n)]
        if s.code == gdb.TYPE_CODE_STRUCT:
            for f in s.fields():
                if f.name and not f.bitsize:
                    checks.append("_Static_assert(__builtin_offsetof(%s, %s)"
                                  " == %d, \"%s.%s: offset\");"
                                  % (c, f.name, f.bitpos // 8, n, f.name))
        out[n] = (text, "\n".join(checks), deps)
        for d in sorted(deps):
            if d != n and d not in out:
                define(d)
            need(d)
        need(n)

    for n in names:
        if n not in out:
            define(n)
    for n in order:
        print("/* %s: layout of DWARF's, members flattened "
              "(scripts/bench/upstream.py) */" % n)
        print(out[n][0])
        print(out[n][1])
        print()


def pahole_main(argv):
    """pahole -C NAME[,NAME...] --compile FILE"""
    names, path, i = None, None, 0
    while i < len(argv):
        if argv[i] == "-C" and i + 1 < len(argv):
            names = argv[i + 1].split(",")
            i += 2
        elif argv[i] == "--compile":
            i += 1
        elif argv[i].startswith("-"):
            print("pahole (stand-in): unsupported option '%s'" % argv[i])
            return 2
        else:
            path = argv[i]
            i += 1
    if not names or not path:
        print("pahole (stand-in): usage: pahole -C NAMES --compile FILE")
        return 2
    try:
        st = os.stat(path)
    except OSError:
        print("pahole: %s: Invalid argument" % path)
        return 1
    key = hashlib.sha256(("%s %d %d %s" % (os.path.realpath(path),
                                           st.st_size, st.st_mtime_ns,
                                           ",".join(names))).encode())
    cache = os.environ.get("UPSTREAM_PAHOLE_CACHE")
    cpath = cache and os.path.join(cache, key.hexdigest()[:16] + ".h")
    if cpath and os.path.exists(cpath):
        with open(cpath) as f:
            sys.stdout.write(f.read())
        return 0
    code = ("import sys; sys.path.insert(0, %r); import upstream; "
            "upstream._gdb_emit(%r)" % (DIR, names))
    p = subprocess.run(["gdb", "-batch", "-nx", "-ex", "python " + code,
                        path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    text = p.stdout
    if p.returncode or "_Static_assert" not in text:
        if "not found" in text:
            sys.stdout.write(text)
            return 0
        if "No symbol table" in p.stdout + p.stderr:
            print("pahole: %s: Invalid argument" % path)
            return 1
        print("pahole (stand-in): gdb failed on %s: %s"
              % (path, (p.stderr or p.stdout).strip()[-300:]))
        return 1
    if cpath:
        os.makedirs(cache, exist_ok=True)
        with open(cpath + ".tmp", "w") as f:
            f.write(text)
        os.rename(cpath + ".tmp", cpath)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "pahole":
        sys.exit(pahole_main(sys.argv[2:]))
    sys.stderr.write("usage: %s pahole -C NAMES --compile FILE\n"
                     % sys.argv[0])
    sys.exit(2)
