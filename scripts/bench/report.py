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

"""Tables (reStructuredText) and the plot from make bench's results."""

import os
import re
import shutil
import sys
import textwrap

BEGIN = ".. BEGIN GENERATED RESULTS (scripts/bench/report.py)"
END = ".. END GENERATED RESULTS"

TARGET_IDLE = 1.01
TARGET_STEADY = 1.02
TARGET_FILTERED = 1.3
TARGET_UNFILTERED = 2.0
TARGET_START = {"watch_flows": 0.5, "filter_probe": 2.0}
LABEL = {"none": "nothing attached", "floor": "bpftrace count() (floor)",
         "watch_flows": "watch_flows.bt", "filter_probe": "filter_probe.py",
         "filter_probe_1pct": "filter_probe.py -f (1% of flows)",
         "flowwatch": "ovs-flowwatch",
         "flowwatch_1pct": "ovs-flowwatch -f (1% of flows)"}


def table(header, rows):
    cols = [header] + rows
    w = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    sep = "  ".join("=" * x for x in w)
    out = [sep, "  ".join(str(h).ljust(x)
                          for h, x in zip(header, w)).rstrip(), sep]
    for r in rows:
        out.append("  ".join(str(c).ljust(x)
                             for c, x in zip(r, w)).rstrip())
    out.append(sep)
    return "\n".join(out) + "\n"


def met(ok):
    return "yes" if ok else "**no**"


def fmt_ratio(s):
    return "%.3f (%.3f-%.3f)" % (s["median"], s["lo"], s["hi"])


def rst(res):
    m = res["meta"]
    o = []
    o.append("Run of %s, %s%s, on %d CPUs (%s), %.0f GiB, kernel %s, %s;"
             " load average at start %.1f.  The whole run took %.0f s.\n"
             % (m["date"], m["command"], "", m["nproc"], m["cpu"],
                m["mem_bytes"] / 2 ** 30, m["kernel"], m["bpftrace"],
                m["load_avg"][0], m.get("duration_s", 0)))
    if m.get("rerun"):
        r = m["rerun"]
        o.append("Parts 2 and 5 are from a second run (%s, %.0f s, load "
                 "average %.1f): %s.\n" % (r["date"], r["duration_s"],
                                           r["load_avg"][0], r["why"]))
    o.append("Base and patched are compared over %d pairs of daemons "
             "started afresh, %d pairs of rounds each; the tools are "
             "attached to the last patched daemon.\n"
             % (m.get("instances", 1), m["reps"] // m.get("instances", 1)))
    o.append("Round times are the on-CPU time of the revalidator thread "
             "(schedstat, ns precision; the probes' traps and BPF programs "
             "run on it) and, for comparison, the revalidator's own \"dump "
             "duration\" (wall, whole ms).  Ratios are medians over %d "
             "pairs of rounds, with the interquartile range in "
             "parentheses.\n" % m["reps"])
    idle = res.get("idle_steady", {})
    if idle:
        o.append("\n**1. Nothing attached** (keep rounds, full "
                 "revalidation; target: patched/base at most %.2f)\n\n"
                 % TARGET_IDLE)
        rows = []
        for n in sorted(idle, key=int):
            s = idle[n]["none"]
            rows.append([n, "%.1f" % s["a_ms"], "%.1f" % s["b_ms"],
                         fmt_ratio(s), "%.3f" % s["mean_ratio"],
                         "%d / %d" % (s["wall"]["a_ms"], s["wall"]["b_ms"]),
                         fmt_ratio(s["wall"]),
                         met(s["median"] <= TARGET_IDLE)])
        o.append(table(["N flows", "base CPU ms", "patched CPU ms",
                        "patched/base (CPU)", "ratio of sums",
                        "wall ms (b / p)", "patched/base (wall)",
                        "target met"], rows))
    c = res.get("control")
    if c:
        o.append("\nControl (A/A test: two base daemons, N = %d, same "
                 "procedure): second/first %s on CPU, %s wall.  A ratio "
                 "between the base and the patched tree is meaningful only "
                 "beyond this.\n"
                 % (c["n"], fmt_ratio(c), fmt_ratio(c["wall"])))
    pe = res.get("per_event", {})
    if pe:
        o.append("\n**2. Cost per event** (N = %d flows; every flow "
                 "modified in a round, then all deleted by a purge; "
                 "targets: filtered tool at most %.1fx the floor, "
                 "unfiltered at most %.1fx)\n\n"
                 % (res["per_event_n"], TARGET_FILTERED, TARGET_UNFILTERED))
        rows = []
        for t in ("floor", "watch_flows", "filter_probe",
                  "filter_probe_1pct", "flowwatch", "flowwatch_1pct"):
            if t not in pe:
                continue
            r = [LABEL[t]]
            oks = []
            for k in ("modify", "delete"):
                x = pe[t][k]
                rf = x.get("ratio_to_floor")
                r += ["%.0f" % x["added_ns_per_event"],
                      "-" if t == "floor" or rf is None else "%.2f" % rf]
                if t != "floor" and rf is not None:
                    oks.append(rf <= (TARGET_FILTERED if t.endswith("pct")
                                      else TARGET_UNFILTERED))
            r.append("-" if t == "floor" else met(all(oks)))
            rows.append(r)
        o.append(table(["tool", "modify ns/event", "x floor",
                        "delete ns/event", "x floor", "target met"], rows))
    if idle:
        o.append("\n**3. Steady state with each tool at its defaults** "
                 "(keep rounds; target: at most %.2f of the base)\n\n"
                 % TARGET_STEADY)
        rows = []
        for n in sorted(idle, key=int):
            for t in ("watch_flows", "filter_probe", "flowwatch"):
                s = idle[n].get(t)
                if not s or "median" not in s:
                    rows.append([n, LABEL[t], "not measured", "-", "-",
                                 "-", "-", "-"])
                    continue
                last = idle[n]["none_last"]["median"]
                rows.append([n, LABEL[t], "%.1f" % s["b_ms"], fmt_ratio(s),
                             "%.3f" % last, "%.3f" % (s["median"] / last),
                             fmt_ratio(s["wall"]),
                             met(s["median"] <= TARGET_STEADY)])
        o.append(table(["N flows", "tool", "CPU ms/round",
                        "tool/base (CPU)", "same pair, no tool",
                        "tool's own effect", "tool/base (wall)",
                        "target met"], rows))
    burst = res.get("burst", {})
    if burst:
        o.append("\n**4. Bursts** (N flows deleted by one "
                 "revalidator/purge, each tool at its defaults; target: "
                 "nothing lost)\n\n")
        rows = []
        for t in sorted(burst):
            for n in sorted(burst[t], key=int):
                b = burst[t][n]
                rows.append([LABEL[t], n, b["expected"], b["delivered"],
                             b["lost"], met(b["delivered"] == b["expected"]
                                            and b["lost"] == 0)])
        o.append(table(["tool", "N flows", "expected", "delivered",
                        "lost (as reported)", "target met"], rows))
    st = res.get("startup", {})
    if st:
        o.append("\n**5. Start-up** (launch to first event received; "
                 "\"attached\": launch to the tool's first line, printed "
                 "once its probes are attached; for the floor, a two-probe "
                 "bpftrace script, launch to BEGIN)\n\n")
        rows = []
        for t in sorted(st):
            s = st[t]
            runs = " ".join("-" if x is None else "%.2f" % x
                            for x in s["runs_s"])
            tgt = TARGET_START.get(t)
            hdr = [x for x in s.get("header_s", []) if x is not None]
            hdr = ("%.2f" % sorted(hdr)[len(hdr) // 2]) if hdr else "-"
            rows.append([LABEL[t], "-" if s["median_s"] is None
                         else "%.2f" % s["median_s"], hdr, runs,
                         "-" if tgt is None else "%.1f" % tgt,
                         "-" if tgt is None or s["median_s"] is None
                         else met(s["median_s"] <= tgt)])
        o.append(table(["tool", "median s", "attached (median s)",
                        "runs (s)", "target s", "target met"], rows))
    mem = res.get("memory", {})
    if mem:
        o.append("\n**6. Memory** (each tool following N flows installed "
                 "after it started)\n\n")
        rows = []
        for t in sorted(mem):
            for n in sorted(mem[t], key=int):
                x = mem[t][n]
                rows.append([LABEL[t], n, "%.1f" % (x["rss_bytes"] / 2**20),
                             "%.1f" % (x["bpf_map_bytes"] / 2**20)])
        o.append(table(["tool", "N flows", "resident MiB",
                        "BPF maps MiB (memlock)"], rows))
    out = []
    for chunk in o:
        if "\n==" in chunk or chunk.startswith("=="):
            out.append(chunk)
        else:
            paras = chunk.split("\n\n")
            out.append("\n\n".join(
                textwrap.fill(x.strip("\n"), 79) if x.strip() else x
                for x in paras) + "\n")
    return "\n".join(out)


def plot(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.stderr.write("bench: python3-matplotlib missing, no plot\n")
        return None
    idle = res.get("idle_steady", {})
    ns = sorted(idle, key=int)
    if not ns:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    base = []
    for n in ns:
        xs = []
        for k, v in idle[n].items():
            if isinstance(v, dict) and "rounds" in v:
                xs += v["rounds"]["a"]
        xs.sort()
        base.append(xs[len(xs) // 2])
    x = [int(n) for n in ns]
    ax.plot(x, base, "o-", label="base (unpatched)")
    for t in ("none", "watch_flows", "filter_probe"):
        ys = [idle[n][t]["b_ms"] if "b_ms" in idle[n].get(t, {}) else None
              for n in ns]
        if all(y is None for y in ys):
            continue
        lab = "patched" if t == "none" else "patched + " + LABEL[t]
        ax.plot(x, ys, "s--" if t == "none" else "^:", label=lab)
    ax.set_xlabel("datapath flows (N)")
    ax.set_ylabel("revalidator on-CPU ms per round (median)")
    ax.set_title("Revalidation round time, keep verdicts "
                 "(%s)" % res["meta"]["date"])
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


def write(res, outdir, name, doc=None):
    text = rst(res)
    with open(os.path.join(outdir, name + ".rst"), "w") as f:
        f.write(text)
    png = plot(res, os.path.join(outdir, name + ".png"))
    sys.stdout.write(text)
    if png:
        sys.stdout.write("\nplot: %s\n" % png)
    if doc:
        old = open(doc).read()
        new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END),
                     lambda m: BEGIN + "\n\n" + text + "\n" + END, old,
                     flags=re.S)
        with open(doc, "w") as f:
            f.write(new)
        sys.stdout.write("updated %s\n" % doc)
        if png:
            shutil.copyfile(png, os.path.splitext(doc)[0] + ".png")
