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

"""make bench: what the flow probes and the tools cost.

Runs the unpatched base and the patched ovs-vswitchd side by side on the
dummy (userspace) datapath and measures, pair by pair (A then B, then B
then A, ...), the time of forced revalidation rounds:

  idle      base vs patched, nothing attached, N flows kept
  steady    base vs patched with each tool attached at its defaults
  per-event patched vs patched, one with a tool attached, in rounds that
            modify every flow and in purges that delete every flow
  burst     N flows purged at once: events delivered, events lost
  startup   launch to first event, per tool
  memory    resident and BPF map memory of each tool following N flows

Writes build/bench/results.json, build/bench/rounds.png (or .svg) and
build/bench/results.rst; with --update-doc, also the results section of
bench/flow-probes-bench.rst.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ovsbench import Switch, packet_hex  # noqa: E402
import cgrounds  # noqa: E402
import growth  # noqa: E402
import tools  # noqa: E402
import upstream  # noqa: E402

TOP = tools.TOP
TOOLS_DEFAULT = ["watch_flows", "filter_probe", "flowwatch"]
TOOLS_EVENT = ["floor", "floor_del", "watch_flows", "watch_flows_quiet",
               "filter_probe", "filter_probe_1pct", "flowwatch",
               "flowwatch_1pct"]
T0 = time.monotonic()


def log(msg):
    sys.stderr.write("bench: [%6.1fs] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


def quantiles(xs):
    xs = sorted(xs)
    if not xs:
        return None
    if len(xs) < 4:
        return {"median": statistics.median(xs), "lo": xs[0],
                "hi": xs[-1], "n": len(xs)}
    q = statistics.quantiles(xs, n=4)
    return {"median": statistics.median(xs), "lo": q[0], "hi": q[2],
            "n": len(xs)}


def pairs(a, b, reps, kind="keep"):
    """'reps' pairs of rounds of Switch a and Switch b, the order
    alternating.  Returns {"a": [...], "b": [...]} of on-CPU ms of the
    revalidator thread per round and {"a_wall": ..., "b_wall": ...} of
    dump durations (whole ms)."""
    r = {"a": [], "b": [], "a_wall": [], "b_wall": []}
    a.round(kind)           # Warm-up: the first round after a change
    b.round(kind)           # of state is not measured.
    for i in range(reps):
        for s in ((b, a) if i % 2 else (a, b)):
            ms, cpu = s.round(kind)
            k = "a" if s is a else "b"
            r[k].append(cpu)
            r[k + "_wall"].append(ms)
    return r


def ratio_stats(p):
    """Statistics of the pairwise ratios b/a: on-CPU time (headline) and
    wall time (dump duration)."""
    ta, tb = p["a"], p["b"]
    s = quantiles([y / x for x, y in zip(ta, tb) if x > 0])
    s["mean_ratio"] = sum(tb) / sum(ta)
    s["a_ms"] = statistics.median(ta)
    s["b_ms"] = statistics.median(tb)
    wa, wb = p["a_wall"], p["b_wall"]
    s["wall"] = quantiles([y / x for x, y in zip(wa, wb) if x > 0])
    s["wall"]["a_ms"] = statistics.median(wa)
    s["wall"]["b_ms"] = statistics.median(wb)
    s["rounds"] = p
    return s


class Bench(object):
    def __init__(self, opts):
        self.o = opts
        self.run = opts.rundir
        os.makedirs(self.run, exist_ok=True)
        self.res = {"idle_steady": {}, "per_event": {}, "burst": {},
                    "startup": {}, "memory": {}}
        self.tools_ok = [t for t in TOOLS_EVENT
                         if not tools.is_placeholder(t)]
        self.switches = []
        self.log = log
        self.bins = {"base": self.snapshot(opts.base, "base"),
                     "patched": self.snapshot(opts.patched, "patched")}
        # The tools measured in steady state, bursts and growth.
        self.tools_default = TOOLS_DEFAULT
        if opts.upstream_monitor:       # Upstream's, next to ours.
            upstream.setup(self, opts.upstream_monitor, TOOLS_DEFAULT)

    def snapshot(self, build, tag):
        """A private copy of 'build''s ovs-vswitchd, so that a rebuild of the
        tree during the run cannot replace the binary under the tools."""
        d = os.path.join(self.run, "bin-" + tag)
        os.makedirs(d, exist_ok=True)
        dst = os.path.join(d, "ovs-vswitchd")
        shutil.copy2(os.path.join(build, "vswitchd", "ovs-vswitchd"), dst)
        return dst

    def switch(self, build, name, flow_limit=1000000):
        tag = "patched" if build == self.o.patched else "base"
        s = Switch(build, os.path.join(self.run, name), name,
                   self.bins[tag], flow_limit=flow_limit)
        self.switches.append(s)
        s.start()
        return s

    def stop_all(self):
        for s in self.switches:
            s.stop()
        self.switches = []

    def tool(self, name, sw, tag=""):
        if name == upstream.NAME:
            return upstream.make_tool(self, sw.pid, self.run, tag)
        return tools.Tool(name, sw.vswitchd, sw.pid, self.run, tag)

    # 1, 3, 4, 6: base vs patched, nothing / each tool attached.
    def instances(self, build_a, build_b, n, tag):
        """Pairs of keep rounds between daemons from build_a and build_b
        holding n flows, over o.instances pairs of daemons started afresh
        (in alternating order): a daemon's own randomness (hash seeds,
        memory layout) moves its round time by a few percent, which pairs
        of rounds alone would take for the difference between the trees.
        Returns the pooled pairs and the last two daemons, still running,
        flows installed."""
        o = self.o
        pooled = {"a": [], "b": [], "a_wall": [], "b_wall": []}
        per = max(1, o.reps // o.instances)
        a = b = None
        fill = []
        for k in range(o.instances):
            self.stop_all()
            # A fresh directory each time, so that nothing of the
            # previous daemons (sockets) is in the way.
            ta, tb = "%s%d-a" % (tag, k), "%s%d-b" % (tag, k)
            if k % 2:
                b = self.switch(build_b, tb)
                a = self.switch(build_a, ta)
            else:
                a = self.switch(build_a, ta)
                b = self.switch(build_b, tb)
            fill.append((a.fill(n), b.fill(n)))
            p = pairs(a, b, per)
            for key in pooled:
                pooled[key] += p[key]
        return pooled, a, b, fill

    def idle_steady(self):
        o = self.o
        try:
            for n in o.n:
                log("N=%d: %d instances x %d pairs of keep rounds, nothing "
                    "attached" % (n, o.instances, o.reps // o.instances))
                p, base, pat, fill = self.instances(o.base, o.patched, n,
                                                    "idle%d-" % n)
                row = {"fill_s": fill, "none": ratio_stats(p)}
                # The last instance alone: the daemons the tools are then
                # attached to.
                per = o.reps // o.instances
                row["none_last"] = ratio_stats({k: v[-per:]
                                                for k, v in p.items()})
                log("N=%d: patched/base %.3f" % (n, row["none"]["median"]))
                for t in TOOLS_DEFAULT:
                    if t not in self.tools_ok:
                        row[t] = {"skipped": "placeholder"}
                        continue
                    row[t] = self.with_tool(t, base, pat, n)
                self.res["idle_steady"][str(n)] = row
        finally:
            self.stop_all()

    def with_tool(self, t, base, pat, n):
        o = self.o
        pat.purge()
        tool = self.tool(t, pat, "-%d" % n)
        r = {}
        try:
            r["attach_s"] = tool.start()
            log("N=%d: %s attached in %.2fs, filling" % (n, t, r["attach_s"]))
            pat.fill(n)
            tool.settle()
            rss, maps = tool.memory()
            r["rss_bytes"] = rss
            r["bpf_map_bytes"] = maps
            self.res["memory"].setdefault(t, {})[str(n)] = {
                "rss_bytes": rss, "bpf_map_bytes": maps}
            log("N=%d: %s: %d pairs of keep rounds" % (n, t, o.reps))
            r.update(ratio_stats(pairs(base, pat, o.reps)))
            before = tool.count_events("purge")
            r["purge_s"] = pat.purge()[0]
            tool.settle()
        finally:
            t_stop = time.monotonic()
            tool.stop()
            r["stop_s"] = time.monotonic() - t_stop
        delivered = tool.count_events("purge") - before
        self.res["burst"].setdefault(t, {})[str(n)] = {
            "expected": n, "delivered": delivered, "lost": tool.lost(),
            "purge_s": r.get("purge_s")}
        log("N=%d: %s: ratio %.3f, burst %d/%d delivered, %d lost, "
            "stopped in %.1fs" % (n, t, r["median"], delivered, n,
                                  tool.lost(), r["stop_s"]))
        return r

    # The method's own resolution: base against base (an A/A test).
    def control(self):
        o = self.o
        n = o.n[-1]
        try:
            log("control: base vs base, N=%d" % n)
            p = self.instances(o.base, o.base, n, "control")[0]
            self.res["control"] = ratio_stats(p)
            self.res["control"]["n"] = n
            log("control: base/base %.3f" % self.res["control"]["median"])
        finally:
            self.stop_all()

    # 2: cost per event, patched with tool vs patched without.
    def per_event(self):
        o = self.o
        n = o.n_event
        a = self.switch(o.patched, "ev-bare")
        b = self.switch(o.patched, "ev-tool")
        try:
            for t in ["none"] + self.tools_ok:
                log("per-event (N=%d): %s" % (n, t))
                a.purge()
                b.purge()
                tool = None
                if t != "none":
                    tool = self.tool(t, b, "-event")
                    tool.start()
                r = {}
                try:
                    a.fill(n)
                    b.fill(n)
                    if tool:
                        tool.settle()
                    log("per-event: filled; %d pairs of modify rounds"
                        % o.reps)
                    p = pairs(a, b, o.reps, "modify")
                    log("per-event: %d purges each" % o.del_reps)
                    r["modify"] = {"bare": p["a"], "tool": p["b"],
                                   "bare_wall": p["a_wall"],
                                   "tool_wall": p["b_wall"],
                                   "diff": quantiles([y - x for x, y
                                                      in zip(p["a"],
                                                             p["b"])]),
                                   "wall_diff": quantiles(
                                       [y - x for x, y in zip(p["a_wall"],
                                                              p["b_wall"])])}
                    da, db, wa, wb = [], [], [], []
                    for i in range(o.del_reps):
                        if i:
                            a.fill(n)
                            b.fill(n)
                            if tool:
                                tool.settle()
                        for s in ((a, b) if i % 2 == 0 else (b, a)):
                            wall, cpu = s.purge()
                            (da if s is a else db).append(cpu)
                            (wa if s is a else wb).append(wall * 1000)
                    r["delete"] = {"bare": da, "tool": db,
                                   "bare_wall": wa, "tool_wall": wb,
                                   "diff": quantiles([y - x for x, y
                                                      in zip(da, db)]),
                                   "wall_diff": quantiles(
                                       [y - x for x, y in zip(wa, wb)])}
                finally:
                    if tool:
                        tool.settle()
                        tool.stop()
                if t == "floor":
                    r["counts"] = tool.floor_counts()
                self.res["per_event"][t] = r
        finally:
            self.stop_all()
        # Added ns per event: the tool's median difference minus the
        # bare/bare difference (the two daemons are not identical).
        pe = self.res["per_event"]
        ref = pe.get("none")
        for t in self.tools_ok:
            if t not in pe:
                continue
            for k in ("modify", "delete"):
                d = pe[t][k]["diff"]["median"] - ref[k]["diff"]["median"]
                pe[t][k]["added_ns_per_event"] = d * 1e6 / n
                d = (pe[t][k]["wall_diff"]["median"]
                     - ref[k]["wall_diff"]["median"])
                pe[t][k]["added_wall_ns_per_event"] = d * 1e6 / n
        for t in self.tools_ok:
            if t in pe and "floor" in pe:
                for k in ("modify", "delete"):
                    f = pe["floor"][k]["added_ns_per_event"]
                    pe[t][k]["ratio_to_floor"] = (
                        pe[t][k]["added_ns_per_event"] / f if f > 0
                        else None)
        self.res["per_event_n"] = n

    # 5: launch to first event.
    def startup(self):
        o = self.o
        sw = self.switch(o.patched, "startup")
        try:
            # bpftrace's own start-up: launch to the floor script's BEGIN
            # (all probes attached).
            ready = []
            for k in range(o.startup_reps):
                tool = self.tool("floor", sw, "-startup%d" % k)
                try:
                    ready.append(tool.start())
                finally:
                    tool.stop()
            self.res["startup"]["floor"] = {
                "runs_s": ready, "median_s": statistics.median(ready),
                "what": "launch to BEGIN (probes attached)"}
            log("startup floor (to BEGIN): %s" % ready)
            for t in self.tools_ok:
                if t.startswith("floor"):
                    continue        # It prints no event.
                times = []
                ready = []
                for k in range(o.startup_reps):
                    tool = self.tool(t, sw, "-startup%d" % k)
                    env = dict(os.environ, PYTHONUNBUFFERED="1")
                    tool.launch(env)
                    first = None
                    attached = None
                    i = 0
                    deadline = time.monotonic() + 60
                    try:
                        while time.monotonic() < deadline:
                            # A new flow (install), then a purge (delete),
                            # every 10 ms.
                            i += 1
                            # Every 100th flow is one that the 1% filter
                            # follows: that tool gets only those.
                            sw.call("netdev-dummy/receive", "p1",
                                    packet_hex(i * (100 if t.endswith("pct")
                                                    else 1), 1000 + k))
                            sw.call("revalidator/purge")
                            if attached is None and tool.ready():
                                attached = time.monotonic() - tool.t_launch
                            if (tool.count_events()
                                    if tools.prints_events(t)
                                    else attached is not None):
                                first = time.monotonic() - tool.t_launch
                                break
                            if tool.proc.poll() is not None:
                                break
                            time.sleep(0.01)
                    finally:
                        t_stop = time.monotonic()
                        tool.stop()
                        log("startup %s: first event after %s s, stopped "
                            "in %.1f s" % (t, first,
                                           time.monotonic() - t_stop))
                    times.append(first)
                    ready.append(attached)
                ok = [x for x in times if x is not None]
                self.res["startup"][t] = {"runs_s": times,
                                          "header_s": ready,
                                          "median_s": (statistics.median(ok)
                                                       if ok else None)}
                log("startup %s: %s" % (t, times))
        finally:
            self.stop_all()

    def run_all(self):
        start = time.time()
        self.res["meta"] = machine(self.o)
        parts = self.o.parts
        if "idle" in parts:
            self.idle_steady()
        if "control" in parts:
            self.control()
        if "event" in parts:
            self.per_event()
        if "startup" in parts:
            self.startup()
        if "callgrind" in parts:
            self.res["callgrind"] = cgrounds.rounds_part(self)
        if "upcall-cg" in parts:
            self.res["upcall_cg"] = upcall_cg(self.o)
        if "growth" in parts:
            self.res["growth"] = growth.growth_part(self)
        if "floor" in parts:
            self.res["floor"] = growth.floor_part(self)
        self.res["meta"]["duration_s"] = time.time() - start
        return self.res


def upcall_cg(o):
    """Part "upcall-cg": upcall-callgrind.sh, instructions per upcall."""
    t0 = time.monotonic()
    env = dict(os.environ, PACKETS=str(o.upcall_packets),
               RUNS=str(o.upcall_runs),
               BENCH_DIR=os.path.join(o.out, "upcall-callgrind"))
    log("upcall-cg: %d upcalls, %d daemons per setup"
        % (o.upcall_packets, o.upcall_runs))
    r = subprocess.run([os.path.join(TOP, "scripts", "bench",
                                     "upcall-callgrind.sh"), o.base,
                        o.patched], env=env, stdout=subprocess.PIPE,
                       universal_newlines=True)
    if r.returncode:
        raise RuntimeError("upcall-callgrind.sh failed (%d)" % r.returncode)
    rows = {}
    for line in r.stdout.splitlines()[1:]:
        f = line.split()
        if len(f) >= 6:
            lo, hi = f[4].split("-")
            rows[f[0]] = {"upcalls": int(f[1]), "ir": float(f[2]),
                          "ratio": float(f[3]), "lo": float(lo),
                          "hi": float(hi), "allocs": float(f[5])}
    sys.stderr.write(r.stdout)
    return {"rows": rows, "text": r.stdout, "runs": o.upcall_runs,
            "duration_s": time.monotonic() - t0}


def machine(o):
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) * 1024
    try:
        bt = subprocess.run(["bpftrace", "--version"], check=False,
                            stdout=subprocess.PIPE,
                            universal_newlines=True).stdout.strip()
    except OSError:
        bt = "?"
    return {"date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(), "cpu": cpu, "mem_bytes": mem,
            "kernel": platform.release(), "bpftrace": bt,
            "quick": o.quick, "n": o.n, "n_event": o.n_event,
            "reps": o.reps, "del_reps": o.del_reps,
            "instances": o.instances, "parts": o.parts,
            "growth_reps": getattr(o, "growth_reps", 0),
            "command": "make bench" + (" QUICK=1" if o.quick else ""),
            "load_avg": os.getloadavg()}


def report_only(o):
    res = {}
    parts = []
    for path in o.report.split(","):
        try:
            with open(path) as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            sys.stderr.write("bench: %s: %s\n" % (path, e))
            return 1
        parts += [x for x in r.get("meta", {}).get("parts", [])
                  if x not in parts]
        # A part that a run did not measure is there empty.
        res.update({k: v for k, v in r.items()
                    if v and (k != "meta" or "meta" not in res)})
    if "meta" not in res:
        sys.stderr.write("bench: no results in %s\n" % o.report)
        return 1
    res["meta"]["command"] = ("%d runs of make bench BENCH_PARTS=... "
                              "(%s), merged"
                              % (len(o.report.split(",")), ",".join(parts)))
    os.makedirs(o.out, exist_ok=True)
    import report
    report.write(res, o.out, "results-merged",
                 os.path.join(TOP, "bench", "flow-probes-bench.rst")
                 if o.update_doc else None)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--patched", default=os.path.join(TOP, "build", "ovs"))
    p.add_argument("--base", default=os.path.join(TOP, "build",
                                                  "ovs-base"))
    p.add_argument("--out", default=os.path.join(TOP, "build", "bench"))
    p.add_argument("--rundir", default=None)
    p.add_argument("--n", default=None,
                   help="comma-separated flow counts")
    p.add_argument("--parts", default="idle,control,event,startup,"
                   "callgrind,upcall-cg,growth,floor")
    p.add_argument("--growth-n", default=None,
                   help="comma-separated flow counts of the growth part")
    p.add_argument("--growth-cg-max", type=int, default=None,
                   help="largest N counted under callgrind in growth")
    p.add_argument("--update-doc", action="store_true")
    p.add_argument("--upstream-monitor", default=None, metavar="PATH",
                   help="also measure upstream's flow_reval_monitor.py")
    p.add_argument("--report", default=None, metavar="JSON[,JSON...]",
                   help="measure nothing: merge these results (later files "
                   "win) and write their report")
    o = p.parse_args()
    if o.report:
        return report_only(o)
    if o.quick:
        o.n = [int(x) for x in (o.n or "2000").split(",")]
        o.n_event, o.reps, o.del_reps, o.startup_reps = 10000, 6, 2, 2
        o.instances = 2
    else:
        o.n = [int(x) for x in (o.n or "10000,50000,100000").split(",")]
        o.n_event, o.reps, o.del_reps, o.startup_reps = 50000, 30, 6, 5
        o.instances = 3
    if o.quick:
        o.cg_rounds, o.upcall_packets, o.upcall_runs = 1, 300, 1
        growth_n, cg_max = "2000,5000,10000,20000", 10000
        o.growth_reps, o.floor_reps, o.floor_iter = 3, 3, 200000
    else:
        o.cg_rounds, o.upcall_packets, o.upcall_runs = 1, 2000, 3
        growth_n = "10000,50000,100000,200000,500000,1000000"
        cg_max = 100000
        o.growth_reps, o.floor_reps, o.floor_iter = 5, 7, 1000000
    o.growth_n = [int(x) for x in (o.growth_n or growth_n).split(",")]
    if o.growth_cg_max is None:
        o.growth_cg_max = cg_max
    o.parts = o.parts.split(",")
    known = ("idle", "control", "event", "startup", "callgrind",
             "upcall-cg", "growth", "floor")
    for x in o.parts:
        if x not in known:
            p.error("unknown part '%s' (parts: %s)" % (x, ",".join(known)))
    o.out = os.path.abspath(o.out)
    o.rundir = os.path.abspath(o.rundir or os.path.join(o.out, "run"))
    os.makedirs(o.out, exist_ok=True)

    b = Bench(o)
    try:
        res = b.run_all()
    finally:
        b.stop_all()
    name = "results-quick" if o.quick else "results"
    path = os.path.join(o.out, name + ".json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    log("wrote %s" % path)
    import report
    report.write(res, o.out, name,
                 os.path.join(TOP, "bench", "flow-probes-bench.rst")
                 if o.update_doc else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
