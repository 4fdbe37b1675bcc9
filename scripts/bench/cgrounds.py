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

"""Instructions per revalidation round, counted by valgrind's callgrind.

ovs-vswitchd runs under callgrind with instrumentation off (it then runs
about as fast as under valgrind's null tool), so that installing the flows
is quick; "callgrind_control -i on" turns it on once they are in.  Each
thread has its own counters (--separate-threads=yes).  A round is measured
as: zero the counters (callgrind_control -z), force the round (an OpenFlow
change elsewhere and revalidator/wait, as Switch.round() does), dump the
counters (callgrind_control -d).  The revalidator thread's part of the dump
holds the instructions it executed for the round, dump and sweep, and how
many rounds it ran (its calls to revalidator_sweep__()).

Valgrind runs the threads of a process one at a time and instructions do
not depend on the load of the machine, so the count is repeatable, except
for what ovs-vswitchd makes random or timing makes different: hash secrets
from per-thread random seeds (fixed-seed.c, preloaded, and no address
randomization fix them), the order in which flows and ports enter hash
tables and where malloc puts the ports (CgSwitch's fill, port numbers and
PRECONFIGURE), and work on timers (no logging; TIMED is counted apart).
What malloc returns still differs between daemons now and then: the
lookups of LAYOUT, whose cost depends on it, are counted apart too.  With
these, two daemons of the same binary count the same to a few parts per
million.
"""

import glob
import os
import re
import subprocess
import threading
import time

from ovsbench import BURST, Switch, packet_hex

HERE = os.path.dirname(os.path.abspath(__file__))
FN_RE = re.compile(r"^c?fn=(?:\(\d+\) ?)?(.*)$")


def build_preload(outdir):
    """Compiles fixed-seed.c into outdir; returns the library's path."""
    src = os.path.join(HERE, "fixed-seed.c")
    lib = os.path.join(outdir, "fixed-seed.so")
    if (not os.path.exists(lib)
            or os.path.getmtime(lib) < os.path.getmtime(src)):
        subprocess.run(["cc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC",
                        "-o", lib, src, "-ldl"], check=True)
    return lib


def wrapper(outfile):
    return ["setarch", os.uname().machine, "--addr-no-randomize",
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            "--separate-threads=yes", "--compress-strings=no",
            "--compress-pos=no", "--dump-instr=no", "--dump-line=no",
            "--callgrind-out-file=" + outfile]


class CgSwitch(Switch):
    """A Switch whose ovs-vswitchd runs under callgrind.

    Its ports are numbered so that each of them has a bucket of its own in
    the bridge's hash table of ports (with the bridge's local port, four
    entries, four buckets): a translation looks the input and the output
    port up there, and the order of the entries within a bucket depends on
    how many times the translation configuration was copied while the
    daemon started, which varies with timing."""

    IN_PORTS = [2]
    OUT_PORTS = (3, 11)
    # Translations also look the input port up by the address of its
    # struct ofport_dpif, whose bucket depends on where malloc put it: the
    # ports are made in ovs-vswitchd's first configuration pass, before the
    # allocations that depend on the timing of the benchmark's requests.
    PRECONFIGURE = True
    # No logging: a thread that runs for over a second between two
    # poll_block() calls, as the revalidator does under callgrind, logs the
    # "long poll interval" and, rate-limited by the clock, the coverage
    # counters.
    EXTRA_ARGS = ["-voff"]

    def __init__(self, build, rundir, name, vswitchd, preload=None,
                 flow_limit=1000000):
        self.cg_dir = os.path.join(rundir, "callgrind")
        env = {"LD_PRELOAD": preload} if preload else {}
        Switch.__init__(self, build, rundir, name, vswitchd,
                        wrapper(os.path.join(rundir, "callgrind",
                                             "cg.%p")),
                        flow_limit, env)

    def _start_wrapped(self, argv, timeout=300):
        os.makedirs(self.cg_dir, exist_ok=True)
        Switch._start_wrapped(self, argv, timeout)

    def pin(self):
        pass            # Valgrind runs one thread at a time anyway.

    def control(self, *args):
        r = subprocess.run(["callgrind_control"] + list(args)
                           + [str(self.pid)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if r.returncode:
            raise RuntimeError("callgrind_control %s: %s"
                               % (" ".join(args), r.stdout.strip()))
        return r.stdout

    def instrument(self, on):
        self.control("-i", "on" if on else "off")

    def fill(self, n, gen=None, timeout=1800):
        """As Switch.fill(), but in an order that does not depend on
        timing: every packet through the one input port, whose receive
        queue (100 packets) is never let overflow, so that the flows are
        installed in packet order and the hash tables come out the same in
        every run."""
        if gen is None:
            self.gen += 1
            gen = self.gen
        self.set_limit()
        start = time.monotonic()
        base = self.n_flows()
        deadline = start + timeout
        for s in range(0, n, BURST):
            # At most 64 packets queued before these 32.
            while self.n_flows() < base + s - 2 * BURST:
                if time.monotonic() > deadline:
                    raise RuntimeError("%s: fill stuck" % self.name)
                time.sleep(0.001)
            pkts = [packet_hex(i, gen) for i in range(s, min(n, s + BURST))]
            self.call("netdev-dummy/receive", "p%d" % self.IN_PORTS[0],
                      *pkts)
        while self.n_flows() < base + n:
            if time.monotonic() > deadline:
                raise RuntimeError("%s: fill stuck at %d flows of %d"
                                   % (self.name, self.n_flows(), base + n))
            time.sleep(0.01)
        return time.monotonic() - start

    def measured_round(self, kind="keep"):
        """One forced round under callgrind: returns (instructions of the
        revalidator thread, of which on a timer, rounds it ran)."""
        self.control("-z")
        before = set(glob.glob(os.path.join(self.cg_dir, "cg.*")))
        self.round(kind)
        # revalidator/wait returns once the round's flow dump is
        # destroyed; let the thread reach its poll_block().
        time.sleep(0.5)
        self.control("-d")
        new = sorted(set(glob.glob(os.path.join(self.cg_dir, "cg.*")))
                     - before)
        if not new:
            raise RuntimeError("%s: callgrind dumped nothing" % self.name)
        found = None
        for path in new:
            st = parse(path)
            if not os.environ.get("BENCH_CG_KEEP"):
                os.unlink(path)
            if st["revalidator"]:
                found = st
        if found is None:
            raise RuntimeError("%s: no revalidator thread in the dump"
                               % self.name)
        return found["ir"], found["timed"], found["rounds"]


# Work that a round does on a timer, not per flow: the revalidator refreshes
# its cached datapath flow count every 100 ms of wall time, and a round
# lasts 50 times longer under callgrind than natively.  Its inclusive cost
# is counted apart ("timed").  (Logging, also on a timer, is off.)
TIMED = ("udpif_get_n_flows",)
# Lookups whose cost depends on where malloc put what they look up, and
# that the series does not change: a translation finds the input port's
# xport in a hash table by the address of its struct ofport_dpif, and two
# daemons of one binary were seen 5 instructions per flow and round apart
# there, one of them walking a longer bucket.  Their inclusive cost is
# counted apart ("timed", with TIMED).
LAYOUT = ("xport_lookup",)
# The allocator (glibc's): what malloc() costs depends on the heap's
# history, which in the main thread includes work done on timers between
# the upcalls.  Its functions' own instructions are counted apart, and the
# calls into it from outside instead.
ALLOC_ENTRY = ("malloc", "free", "calloc", "realloc", "posix_memalign",
               "aligned_alloc", "memalign", "valloc", "pvalloc")
ALLOC_INNER = ("sysmalloc", "systrim", "malloc_consolidate", "alloc_perturb",
               "munmap_chunk", "mremap_chunk", "heap_trim", "new_heap",
               "grow_heap", "shrink_heap", "_mid_memalign", "_int_",
               "unlink_chunk", "tcache_", "arena_", "__libc_malloc",
               "__libc_free", "__libc_calloc", "__libc_realloc",
               "__libc_memalign")


def is_alloc(name):
    name = name.split()[0].split("'")[0] if name else ""
    return name in ALLOC_ENTRY or name.startswith(ALLOC_INNER)


def parse(path):
    """Totals of one callgrind part file: instructions, of which on a timer
    or in a layout-dependent lookup (TIMED and LAYOUT, inclusive) and in
    the allocator (its functions' own, and the calls into it), whether it
    is the revalidator thread's, and its calls to revalidator_sweep__()."""
    ir = None
    rounds = 0
    timed = 0
    alloc = 0
    alloc_calls = 0
    reval = False
    fn = cfn = None
    in_fn_alloc = False
    in_call = False
    with open(path, errors="replace") as f:
        for line in f:
            if in_call:
                # The line after calls=: position and inclusive cost.
                in_call = False
                if cfn and cfn.split()[0] in TIMED + LAYOUT:
                    timed += int(line.split()[-1])
                continue
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if in_fn_alloc:
                    alloc += int(line.split()[-1])
                continue
            if line.startswith(("fn=", "cfn=")):
                m = FN_RE.match(line.rstrip("\n"))
                name = m.group(1) if m else ""
                if line.startswith("fn="):
                    fn = name
                    in_fn_alloc = is_alloc(fn)
                    if name.startswith("udpif_revalidator"):
                        reval = True
                else:
                    cfn = name
            elif line.startswith("calls="):
                in_call = True
                calls = int(line.split("=", 1)[1].split()[0])
                if cfn and cfn.startswith("revalidator_sweep__"):
                    rounds += calls
                elif is_alloc(cfn) and not in_fn_alloc:
                    alloc_calls += calls
            elif line.startswith(("summary:", "totals:")):
                ir = int(line.split(":", 1)[1].split()[0])
    return {"ir": ir or 0, "timed": timed, "rounds": rounds,
            "alloc": alloc, "alloc_calls": alloc_calls,
            "revalidator": reval}


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def measure(sw, n, rounds, log):
    """Brings 'sw' to n flows (instrumentation off), then one uncounted and
    'rounds' counted keep rounds; returns the figures for n."""
    have = sw.n_flows()
    t0 = time.monotonic()
    if n > have:
        sw.fill(n - have)
    fill_s = time.monotonic() - t0
    # Warm-up, uninstrumented: the first round after a fill differs (the
    # new flows' first revalidation).
    sw.round()
    sw.instrument(True)
    t0 = time.monotonic()
    runs = []
    for _ in range(rounds):
        ir, timed, k = sw.measured_round()
        runs.append({"ir": ir, "timed": timed, "rounds": k})
    round_s = (time.monotonic() - t0) / rounds
    sw.instrument(False)
    per = [(r["ir"] - r["timed"]) / max(r["rounds"], 1) for r in runs]
    ir = median(per)
    log("callgrind %s N=%d: %.0f instructions/round (%.1f/flow), rounds "
        "%s, fill %.0fs, %.0fs/round"
        % (sw.name, n, ir, ir / n, [r["rounds"] for r in runs], fill_s,
           round_s))
    return {"ir_round": ir, "ir_flow": ir / n, "runs": runs,
            "n_flows": sw.n_flows(), "fill_s": fill_s, "round_s": round_s,
            "spread": (max(per) - min(per)) / ir if ir else None}


def parallel(sws, fn):
    """fn(sw) for each of 'sws' at once (the counts do not depend on what
    else runs); returns {sw.name: result}."""
    out, errors = {}, []

    def run(sw):
        try:
            out[sw.name] = fn(sw)
        except Exception as e:      # Re-raised below, in the caller.
            errors.append(e)
    threads = [threading.Thread(target=run, args=(sw,)) for sw in sws]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def switches(bench, setups, tag, flow_limit):
    """Starts one CgSwitch per (name, binary, build) of 'setups'."""
    pre = build_preload(bench.run)
    out = []
    for name, vswitchd, build in setups:
        sw = CgSwitch(build, os.path.join(bench.run, "%s-%s" % (tag, name)),
                      name, vswitchd, pre, flow_limit)
        bench.switches.append(sw)
        sw.start()
        out.append(sw)
    return out


def rounds_part(bench):
    """Part "callgrind": instructions per keep round, base, a second copy
    of base (the A/A control) and patched, at each N of o.n."""
    o = bench.o
    base2 = os.path.join(bench.run, "bin-base-again", "ovs-vswitchd")
    os.makedirs(os.path.dirname(base2), exist_ok=True)
    subprocess.run(["cp", "-p", bench.bins["base"], base2], check=True)
    setups = [("base", bench.bins["base"], o.base),
              ("base-again", base2, o.base),
              ("patched", bench.bins["patched"], o.patched)]
    res = {"setups": [s[0] for s in setups], "rounds": o.cg_rounds, "n": {}}
    t0 = time.monotonic()
    try:
        sws = switches(bench, setups, "cg", max(o.n) * 2)
        for n in o.n:
            row = parallel(sws, lambda sw: measure(sw, n, o.cg_rounds,
                                                   bench.log))
            b = row["base"]["ir_round"]
            row["aa"] = row["base-again"]["ir_round"] / b
            row["ratio"] = row["patched"]["ir_round"] / b
            bench.log("callgrind N=%d: patched/base %.5f, A/A %.5f"
                      % (n, row["ratio"], row["aa"]))
            res["n"][str(n)] = row
    finally:
        bench.stop_all()
    res["duration_s"] = time.monotonic() - t0
    return res
