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

"""make bench parts "growth" and "floor".

growth: one patched daemon grows from the smallest to the largest N of
o.growth_n; at each N, keep rounds with nothing attached and with each tool
at its defaults (on-CPU ms of the revalidator thread), and a least-squares
line per setup.  A second daemon under callgrind (cgrounds.py) gives the
instructions per round with nothing attached, up to o.growth_cg_max flows.
At the largest N, each tool in turn sees one revalidator/purge of all the
flows: events delivered and lost.

floor: what a bare bpftrace count() costs per event at a probe site that is
a 1-byte nop (what sys/sdt.h emits on x86_64) and at one that is a 5-byte
nop (which newer kernels turn into a call instead of a trap), in a loop that
does nothing else (usdt-floor.c); and which of the two the probe sites of
the base and the patched ovs-vswitchd are.
"""

import os
import re
import statistics
import subprocess
import time

import cgrounds

HERE = os.path.dirname(os.path.abspath(__file__))


def fit(xs, ys):
    """Least-squares line y = a + b x: (b, a, r^2)."""
    n = len(xs)
    if n < 2:
        return None, None, None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx if sxx else 0.0
    a = my - b * mx
    ss = sum((y - my) ** 2 for y in ys)
    res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    return b, a, (1 - res / ss) if ss else 1.0


def keep_rounds(sw, reps):
    sw.round()                  # Warm-up.
    cpu, wall = [], []
    for _ in range(reps):
        ms, c = sw.round()
        cpu.append(c)
        wall.append(ms)
    return {"cpu_ms": statistics.median(cpu), "wall_ms":
            statistics.median(wall), "cpu_runs": cpu, "wall_runs": wall}


def growth_part(bench):
    o = bench.o
    ns = sorted(o.growth_n)
    # After a round of over 2 s (1M flows here), the revalidator divides
    # the flow limit by the round's seconds, and a round above the limit
    # deletes flows as idle: a limit far above N keeps them.
    limit = max(ns) * 20
    res = {"n": [str(n) for n in ns], "time": {}, "instr": {}, "burst": {},
           "fit": {}, "cg_max": o.growth_cg_max}
    setups = ["none"] + [t for t in bench.tools_default
                         if t in bench.tools_ok]
    t0 = time.monotonic()
    try:
        sw = bench.switch(o.patched, "growth", flow_limit=limit)
        for n in ns:
            t = time.monotonic()
            have = sw.n_flows()
            if n > have:
                sw.fill(n - have)
            bench.log("growth N=%d: filled in %.1fs"
                      % (n, time.monotonic() - t))
            row = {"fill_s": time.monotonic() - t}
            for s in setups:
                tool = None
                if s != "none":
                    tool = bench.tool(s, sw, "-growth%d" % n)
                    tool.start()
                try:
                    row[s] = keep_rounds(sw, o.growth_reps)
                finally:
                    if tool:
                        tool.stop()
                bench.log("growth N=%d %s: %.1f ms/round on CPU, %d ms "
                          "wall" % (n, s, row[s]["cpu_ms"],
                                    row[s]["wall_ms"]))
            if sw.n_flows() < n:
                raise RuntimeError("growth: %d flows of %d left"
                                   % (sw.n_flows(), n))
            res["time"][str(n)] = row
        n = ns[-1]
        for s in setups[1:]:
            res["burst"][s] = burst(bench, sw, s, n)
        res["wall_s"] = time.monotonic() - t0
    finally:
        bench.stop_all()
    for s in setups:
        xs = [int(n) for n in res["time"]]
        ys = [res["time"][n][s]["cpu_ms"] for n in res["time"]]
        b, a, r2 = fit(xs, ys)
        res["fit"][s] = {"us_per_flow": b * 1000, "intercept_ms": a,
                         "r2": r2}
    # Instructions, nothing attached: a uprobe traps under valgrind, and the
    # tools' default probes do not fire in keep rounds anyway.
    cg_ns = [n for n in ns if n <= o.growth_cg_max]
    t1 = time.monotonic()
    try:
        if cg_ns:
            sw = cgrounds.switches(bench, [("patched", bench.bins["patched"],
                                            o.patched)], "growth-cg",
                                   limit)[0]
            for n in cg_ns:
                res["instr"][str(n)] = cgrounds.measure(sw, n, 1, bench.log)
    finally:
        bench.stop_all()
    if len(cg_ns) >= 2:
        b, a, r2 = fit(cg_ns, [res["instr"][str(n)]["ir_round"]
                               for n in cg_ns])
        res["fit"]["instr"] = {"per_flow": b, "intercept": a, "r2": r2}
    res["cg_s"] = time.monotonic() - t1
    res["duration_s"] = time.monotonic() - t0
    return res


def burst(bench, sw, name, n):
    """Tool 'name' attached while revalidator/purge deletes the n flows;
    then the flows are installed again."""
    tool = bench.tool(name, sw, "-growth-burst")
    tool.start()
    try:
        before = tool.count_events("purge")
        wall = sw.purge()[0]
        tool.settle(quiet=1.0, timeout=300)
    finally:
        tool.stop()
    r = {"expected": n, "delivered": tool.count_events("purge") - before,
         "lost": tool.lost(), "purge_s": wall}
    bench.log("growth burst %s: %d/%d delivered, %d lost"
              % (name, r["delivered"], n, r["lost"]))
    t = time.monotonic()
    sw.fill(n)
    r["refill_s"] = time.monotonic() - t
    return r


def probe_site(exe, provider, name):
    """Length in bytes of the instruction at the USDT site, and its text."""
    out = subprocess.run(["readelf", "-n", "--wide", exe], check=True,
                         stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    loc = None
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.search(r"Provider: %s\b" % provider, line) and i + 1 < len(
                lines) and re.search(r"Name: %s\b" % name, lines[i + 1]):
            m = re.search(r"Location: (0x[0-9a-f]+)", lines[i + 2])
            loc = int(m.group(1), 16)
            break
    if loc is None:
        return None, None
    dis = subprocess.run(["objdump", "-d", "--start-address=%#x" % loc,
                          "--stop-address=%#x" % (loc + 16), exe],
                         check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    for line in dis.splitlines():
        m = re.match(r"\s*%x:\s+((?:[0-9a-f]{2} )+)\s*(.*)$" % loc, line)
        if m:
            return len(m.group(1).split()), m.group(2).strip()
    return None, None


def floor_part(bench):
    """The floor at a 1-byte and at a 5-byte nop (usdt-floor.c), and the
    probe sites of the two builds."""
    o = bench.o
    exe = os.path.join(bench.run, "usdt-floor")
    subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-o", exe,
                    os.path.join(HERE, "usdt-floor.c")], check=True)
    res = {"iterations": o.floor_iter, "sites": {}, "nop": {}}
    for tag, probes in (("base", [("main", "run_start")]),
                        ("patched", [("main", "run_start"),
                                     ("revalidate", "flow_change"),
                                     ("revalidator_sweep__",
                                      "flow_sweep_change")])):
        for prov, name in probes:
            size, insn = probe_site(bench.bins[tag], prov, name)
            res["sites"]["%s %s:%s" % (tag, prov, name)] = {
                "bytes": size, "insn": insn}
    for nop in ("nop1", "nop5"):
        size, insn = probe_site(exe, "bench", nop)
        bare, traced = [], []
        for _ in range(o.floor_reps):
            bare.append(float(subprocess.run(
                [exe, nop, str(o.floor_iter)], check=True,
                stdout=subprocess.PIPE,
                universal_newlines=True).stdout))
            out = subprocess.run(
                ["bpftrace", "-e", "usdt:%s:bench:%s { @n = count(); }"
                 % (exe, nop), "-c", "%s %s %d" % (exe, nop, o.floor_iter)],
                check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                universal_newlines=True).stdout
            m = re.search(r"^(\d+(?:\.\d+)?)$", out, re.M)
            n = re.search(r"@n: (\d+)", out)
            if not m or not n or int(n.group(1)) != o.floor_iter:
                raise RuntimeError("floor: bpftrace counted %s of %d"
                                   % (n and n.group(1), o.floor_iter))
            traced.append(float(m.group(1)))
        ns = statistics.median(traced) - statistics.median(bare)
        res["nop"][nop] = {"bytes": size, "insn": insn, "bare_ns": bare,
                           "traced_ns": traced, "ns_per_event": ns}
        bench.log("floor %s (site: %s, %s bytes): %.0f ns/event"
                  % (nop, insn, size, ns))
    return res
