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

import upstream

BEGIN = ".. BEGIN GENERATED RESULTS (scripts/bench/report.py)"
END = ".. END GENERATED RESULTS"
BEGIN2 = ".. BEGIN GENERATED COUNTS (scripts/bench/report.py)"
END2 = ".. END GENERATED COUNTS"
TARGET_CG = 1.005

TARGET_IDLE = 1.01
TARGET_STEADY = 1.02
TARGET_FILTERED = 1.3
TARGET_UNFILTERED = 2.0
TARGET_START = {"watch_flows": 0.5, "watch_flows_quiet": 0.5,
                "filter_probe": 2.0, "filter_probe_1pct": 2.0}
LABEL = {"none": "nothing attached", "floor": "bpftrace count() (floor)",
         "watch_flows": "watch_flows.bt", "filter_probe": "filter_probe.py",
         "filter_probe_1pct": "filter_probe.py -f (1% of flows)",
         "watch_flows_quiet": "watch_flows_quiet.bt (counts only)",
         "floor_del": "count(), also on the removal probe",
         "flowwatch": "ovs-flowwatch",
         "flowwatch_1pct": "ovs-flowwatch -f (1% of flows)",
         upstream.NAME: upstream.LABEL}


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
                 "targets: filtered tool and quiet mode at most %.1fx the "
                 "floor, "
                 "unfiltered at most %.1fx)\n\n"
                 % (res["per_event_n"], TARGET_FILTERED, TARGET_UNFILTERED))
        rows = []
        for t in ("floor", "floor_del", "watch_flows", "watch_flows_quiet",
                  "filter_probe", "filter_probe_1pct", "flowwatch",
                  "flowwatch_1pct", upstream.NAME):
            if t not in pe:
                continue
            r = [LABEL[t]]
            oks = []
            for k in ("modify", "delete"):
                x = pe[t][k]
                rf = x.get("ratio_to_floor")
                r += ["%.0f" % x["added_ns_per_event"],
                      "-" if t == "floor" or rf is None else "%.2f" % rf]
                if not t.startswith("floor") and rf is not None:
                    oks.append(rf <= (TARGET_FILTERED
                                      if t.endswith(("pct", "quiet"))
                                      else TARGET_UNFILTERED))
            r.append("-" if t.startswith("floor") else met(all(oks)))
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
    if res.get("upstream"):
        o += upstream.rst(res, table)
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


def wrap(chunks):
    out = []
    for chunk in chunks:
        if "\n==" in chunk or chunk.startswith("=="):
            out.append(chunk)
        else:
            paras = chunk.split("\n\n")
            out.append("\n\n".join(
                textwrap.fill(x.strip("\n"), 79) if x.strip() else x
                for x in paras) + "\n")
    return "\n".join(out)


def rst_counts(res):
    """The parts callgrind, upcall-cg, growth and floor."""
    m = res["meta"]
    o = ["Run of %s, %s, on %d CPUs (%s), kernel %s; load average at start "
         "%.1f.  Times are noisy (other jobs share the 2 cores); "
         "instruction counts are not.\n"
         % (m["date"], m["command"], m["nproc"], m["cpu"], m["kernel"],
            m["load_avg"][0])]
    cg = res.get("callgrind")
    if cg:
        o.append("\n**7. Instructions per revalidation round** "
                 "(callgrind, nothing attached, keep rounds, revalidator "
                 "thread; median of %d rounds per daemon; target: "
                 "patched/base at most %.3f).  The A/A control is a second "
                 "copy of the base binary.  The CPU-time ratios of part 1 "
                 "and their A/A control are beside them.  The part took "
                 "%.0f s.\n\n"
                 % (cg["rounds"], TARGET_CG, cg["duration_s"]))
        idle = res.get("idle_steady", {})
        ctl = res.get("control")
        rows = []
        for n in sorted(cg["n"], key=int):
            r = cg["n"][n]
            cpu = idle.get(n, {}).get("none")
            rows.append([n, "%.0f" % r["base"]["ir_round"],
                         "%.0f" % r["patched"]["ir_round"],
                         "%.1f / %.1f" % (r["base"]["ir_flow"],
                                          r["patched"]["ir_flow"]),
                         "%.5f" % r["ratio"], "%.5f" % r["aa"],
                         " ".join(str(x["rounds"]) for s in cg["setups"]
                                  for x in r[s]["runs"]),
                         "%.0f" % r["patched"]["round_s"],
                         "%.3f" % cpu["median"] if cpu else "-",
                         "%.3f" % ctl["median"] if ctl and
                         str(ctl["n"]) == n else "-",
                         met(r["ratio"] <= TARGET_CG)])
        o.append(table(["N flows", "base instr/round",
                        "patched instr/round", "per flow (b / p)",
                        "patched/base", "A/A (instr)", "rounds run",
                        "s/round (valgrind)", "patched/base (CPU)",
                        "A/A (CPU)", "target met"], rows))
    up = res.get("upcall_cg")
    if up and up["rows"]:
        rw = up["rows"]
        o.append("\n**8. Instructions per upcall** (callgrind, "
                 "upcall_cb(), every packet a new flow, less the "
                 "allocator's instructions, whose calls are counted "
                 "instead, and those of xport_lookup(); median of %d "
                 "daemons per setup; the part took %.0f s)\n\n"
                 % (up["runs"], up["duration_s"]))
        rows = []
        for k in ("base", "base-again", "disabled", "nomatch", "match"):
            if k in rw:
                x = rw[k]
                rows.append([k, x["upcalls"], "%.1f" % x["ir"],
                             "%.5f" % x["ratio"],
                             "%.1f-%.1f" % (x["lo"], x["hi"]),
                             "%.2f" % x.get("allocs", 0)])
        o.append(table(["setup", "upcalls", "instr/upcall", "vs base",
                        "min-max", "allocator calls/upcall"], rows))
    g = res.get("growth")
    if g:
        o.append("\n**9. Growth** (one patched daemon from %s to %s "
                 "flows; keep rounds, median of %d, revalidator on-CPU ms; "
                 "each tool at its defaults attached for its rounds; "
                 "instructions under callgrind up to %d flows, nothing "
                 "attached; the part took %.0f s, %.0f s of it under "
                 "callgrind)\n\n"
                 % (g["n"][0], g["n"][-1], res["meta"].get("growth_reps", 0),
                    g["cg_max"], g["duration_s"], g.get("cg_s", 0)))
        setups = [s for s in GROWTH_SETUPS if s in g["fit"]]
        rows = []
        for n in g["n"]:
            t = g["time"].get(n)
            if not t:
                continue
            ins = g["instr"].get(n)
            rows.append([n] + ["%.1f (%d)" % (t[s]["cpu_ms"],
                                              t[s]["wall_ms"])
                               for s in setups]
                        + ["%.0f" % ins["ir_round"] if ins else "-",
                           "%.1f" % ins["ir_flow"] if ins else "-",
                           "%.0f" % t["fill_s"]])
        o.append(table(["N flows"] + ["%s CPU ms (wall)" % LABEL[s]
                                      for s in setups]
                       + ["instr/round", "instr/flow", "fill s"], rows))
        o.append("\nLeast-squares line per setup, on-CPU time per round "
                 "against N:\n\n")
        rows = [[LABEL[s], "%.3f" % g["fit"][s]["us_per_flow"],
                 "%.2f" % g["fit"][s]["intercept_ms"],
                 "%.4f" % g["fit"][s]["r2"]] for s in setups]
        if "instr" in g["fit"]:
            f = g["fit"]["instr"]
            rows.append(["instructions (callgrind)",
                         "%.1f instr/flow" % f["per_flow"],
                         "%.0f instr" % f["intercept"], "%.6f" % f["r2"]])
        o.append(table(["setup", "us/flow", "intercept ms", "r^2"], rows))
        if g["burst"]:
            o.append("\nBurst: one revalidator/purge of all %s flows, each "
                     "tool at its defaults:\n\n" % g["n"][-1])
            rows = [[LABEL[t], b["expected"], b["delivered"], b["lost"],
                     "%.1f" % b["purge_s"],
                     met(b["delivered"] == b["expected"] and not b["lost"])]
                    for t, b in sorted(g["burst"].items())]
            o.append(table(["tool", "expected", "delivered",
                            "lost (as reported)", "purge s", "target met"],
                           rows))
    fl = res.get("floor")
    if fl:
        o.append("\n**10. Probe floor** (bpftrace count() on a probe fired "
                 "%d times in a loop that does nothing else, "
                 "scripts/bench/usdt-floor.c; on-CPU ns per event, traced "
                 "less bare, medians of %d runs each)\n\n"
                 % (fl["iterations"], len(fl["nop"]["nop1"]["bare_ns"])))
        rows = []
        for nop in ("nop1", "nop5"):
            x = fl["nop"][nop]
            bare = sorted(x["bare_ns"])[len(x["bare_ns"]) // 2]
            rows.append([nop, "%s (%s bytes)" % (x["insn"], x["bytes"]),
                         "%.1f" % bare,
                         " ".join("%.0f" % v for v in x["traced_ns"]),
                         "%.0f" % x["ns_per_event"]])
        o.append(table(["probe", "site", "bare ns/iteration",
                        "traced ns/iteration (runs)", "floor ns/event"],
                       rows))
        o.append("\nFloor at nop1 / at nop5: %.0f / %.0f ns per event.  "
                 "The probe sites of the two ovs-vswitchd binaries: %s.\n"
                 % (fl["nop"]["nop1"]["ns_per_event"],
                    fl["nop"]["nop5"]["ns_per_event"],
                    "; ".join("%s ``%s``: %s bytes"
                              % (k.split()[0], k.split()[1], v["bytes"])
                              for k, v in sorted(fl["sites"].items()))))
    return wrap(o)


# The growth part's setups, in the order of its tables and plot.
GROWTH_SETUPS = ("none", "watch_flows", "filter_probe", "flowwatch",
                 upstream.NAME)


def plot_growth(res, path):
    g = res.get("growth")
    if not g or not g["time"]:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ns = [n for n in g["n"] if n in g["time"]]
    x = [int(n) for n in ns]
    for s, mark in zip(GROWTH_SETUPS, "o^sDv"):
        if s not in g["fit"]:
            continue
        y = [g["time"][n][s]["cpu_ms"] for n in ns]
        f = g["fit"][s]
        pts = ax.plot(x, y, mark, label="%s (%.3f us/flow)"
                      % ("patched, " + LABEL[s], f["us_per_flow"]))[0]
        ax.plot([0, max(x)], [f["intercept_ms"], f["intercept_ms"]
                              + f["us_per_flow"] * max(x) / 1000], "-",
                color=pts.get_color(), alpha=0.5)
    ax.set_xlabel("datapath flows (N)")
    ax.set_ylabel("revalidator on-CPU ms per keep round (median)")
    ax.set_title("Growth, with least-squares lines (%s)"
                 % res["meta"]["date"])
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path


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


OLD_PARTS = ("idle_steady", "per_event", "startup", "control")
NEW_PARTS = ("callgrind", "upcall_cg", "growth", "floor")


def write(res, outdir, name, doc=None):
    """Writes the tables and plots; with 'doc', the blocks of its Results
    section whose parts this run measured."""
    has_old = any(res.get(k) for k in OLD_PARTS)
    has_new = any(res.get(k) for k in NEW_PARTS)
    text = rst(res) if has_old else ""
    text2 = rst_counts(res) if has_new else ""
    with open(os.path.join(outdir, name + ".rst"), "w") as f:
        f.write(text + ("\n" if text and text2 else "") + text2)
    png = plot(res, os.path.join(outdir, name + ".png")) if has_old else None
    png2 = plot_growth(res, os.path.join(outdir, name + "-growth.png"))
    sys.stdout.write(text + text2)
    for p in (png, png2):
        if p:
            sys.stdout.write("\nplot: %s\n" % p)
    if doc:
        new = open(doc).read()
        # The first block only from a run of all of its parts: a partial
        # one would drop the others' tables.
        whole = all(res.get(k) for k in OLD_PARTS)
        for ok, b, e, t in ((whole, BEGIN, END, text),
                            (has_new, BEGIN2, END2, text2)):
            if ok:
                new = re.sub(re.escape(b) + ".*?" + re.escape(e),
                             lambda m: b + "\n\n" + t + "\n" + e, new,
                             flags=re.S)
        with open(doc, "w") as f:
            f.write(new)
        sys.stdout.write("updated %s\n" % doc)
        stem = os.path.splitext(doc)[0]
        if png and whole:
            shutil.copyfile(png, stem + ".png")
        if png2:
            shutil.copyfile(png2, stem + "-growth.png")
