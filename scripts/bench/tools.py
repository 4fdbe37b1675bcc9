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

"""The tracing tools the benchmarks attach to an ovs-vswitchd."""

import os
import re
import signal
import subprocess
import time

import psutil

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
USDT = os.path.join(TOP, "utilities", "usdt-scripts")
PYTHON = "/usr/bin/python3"
# ovs-flowwatch, the C tool on libbpf, as build/ovs built it.
FLOWWATCH = os.path.join(TOP, "build", "ovs", "utilities", "ovs-flowwatch")

UFID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{12}")
LOST_RES = [re.compile(r"lost\s+(\d+)\s+events?", re.I),
            re.compile(r"(\d+)\s+events?\s+(?:were\s+)?lost", re.I)]

# The floor: a bare count() on the probes the tools use by default.
FLOOR_BT = """
BEGIN { printf("ready\\n"); }
usdt:%(exe)s:revalidate:flow_change { @change = count(); }
usdt:%(exe)s:revalidator_sweep__:flow_sweep_change { @sweep = count(); }
"""

# The floor of the tools that also attach to the datapath's removal probe,
# which fires once more per deleted flow (the userspace datapath's).
FLOOR_DEL_BT = FLOOR_BT + """
usdt:%(exe)s:dp_netdev_pmd_remove_flow:dp_flow_del { @del = count(); }
"""


def tool_argv(name, exe, pid):
    """argv of tool 'name' attached to ovs-vswitchd 'exe' (PID 'pid')."""
    if name == "floor":
        return ["bpftrace", "-p", str(pid), "-e", FLOOR_BT % {"exe": exe}]
    if name == "floor_del":
        return ["bpftrace", "-p", str(pid), "-e", FLOOR_DEL_BT % {"exe": exe}]
    if name == "watch_flows":
        return ["bpftrace", "-p", str(pid),
                os.path.join(USDT, "watch_flows.bt")]
    if name == "watch_flows_quiet":
        # Counts in maps, prints at the end: no per-event printf.
        return ["bpftrace", "-p", str(pid),
                os.path.join(USDT, "watch_flows_quiet.bt")]
    if name == "filter_probe":
        return [PYTHON, os.path.join(USDT, "filter_probe.py"), "-p",
                str(pid)]
    if name == "flowwatch":
        return [FLOWWATCH, "-p", str(pid)]
    if name == "flowwatch_1pct":
        from ovsbench import FILTER_1PCT
        return [FLOWWATCH, "-p", str(pid), "-f", FILTER_1PCT]
    if name == "filter_probe_1pct":
        from ovsbench import FILTER_1PCT
        return [PYTHON, os.path.join(USDT, "filter_probe.py"), "-p",
                str(pid), "-f", FILTER_1PCT]
    raise ValueError(name)


def prints_events(name):
    """False for the tools that print no line per event: their start-up
    is measured to their first line (probes attached)."""
    return name != "watch_flows_quiet"


def is_placeholder(name):
    if name.startswith("flowwatch"):
        # Not built: configure did not find libbpf, clang or bpftool.
        return not os.access(FLOWWATCH, os.X_OK)
    if name != "watch_flows":
        return False
    text = open(os.path.join(USDT, "watch_flows.bt")).read()
    return "usdt:" not in text


class Tool(object):
    def __init__(self, name, exe, pid, outdir, tag=""):
        self.name = name
        self.argv = tool_argv(name, exe, pid)
        base = os.path.join(outdir, "%s%s" % (name, tag))
        self.out_path = base + ".out"
        self.err_path = base + ".err"
        self.proc = None
        self.t_launch = None

    def launch(self, env=None):
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.t_launch = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdout=self.out,
                                     stderr=self.err, env=env,
                                     start_new_session=True)

    def output(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def errors(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def ready(self):
        """True once the tool has attached (printed its first line other
        than bpftrace's "Attaching N probes...")."""
        for line in self.output().splitlines():
            if line.strip() and not line.startswith("Attaching"):
                return True
        return False

    def start(self, timeout=60):
        self.launch()
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (%d): %s" % (
                    self.name, self.proc.returncode,
                    self.errors().strip()[-500:]))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("%s did not start in %ds"
                                   % (self.name, timeout))
            time.sleep(0.02)
        return time.monotonic() - self.t_launch

    def settle(self, quiet=0.3, timeout=60):
        """Waits until the tool's output stops growing (it has drained
        its buffers)."""
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            size = os.path.getsize(self.out_path)
            if size == last:
                return
            last = size
            time.sleep(quiet)

    def stop(self):
        # SIGINT as Ctrl-C; again if the first one was lost (a Python
        # tool drops a signal that lands inside a BPF ring buffer callback),
        # then SIGKILL.  self.signals counts the signals it took.
        self.signals = 0
        if self.proc and self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 3), (signal.SIGINT, 20),
                              (signal.SIGKILL, 10)):
                self.proc.send_signal(sig)
                self.signals += 1
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for f in (getattr(self, "out", None), getattr(self, "err", None)):
            if f:
                f.close()

    def memory(self):
        """(resident bytes, BPF map bytes as the kernel charges them)."""
        pid = self.proc.pid
        rss = psutil.Process(pid).memory_info().rss
        maps = 0
        fddir = "/proc/%d/fd" % pid
        for fd in os.listdir(fddir):
            try:
                if os.readlink("%s/%s" % (fddir, fd)) != "anon_inode:bpf-map":
                    continue
                with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                    for line in f:
                        if line.startswith("memlock:"):
                            maps += int(line.split()[1])
            except OSError:
                continue
        return rss, maps

    def count_events(self, word=None):
        n = 0
        for line in self.output().splitlines():
            if UFID_RE.search(line) and (word is None or word in line):
                n += 1
        return n

    def lost(self):
        total = 0
        text = self.output() + "\n" + self.errors()
        for line in text.splitlines():
            if line.startswith("{"):
                if '"lost"' in line and '"count"' in line:
                    m = re.search(r'"count": (\d+)', line)
                    total += int(m.group(1))
                continue
            for r in LOST_RES:
                m = r.search(line)
                if m:
                    total += int(m.group(1))
                    break
        return total

    def floor_counts(self):
        """The floor's @change and @sweep counts (after stop())."""
        out = self.output()
        counts = {}
        for k in ("change", "sweep"):
            m = re.search(r"@%s: (\d+)" % k, out)
            counts[k] = int(m.group(1)) if m else 0
        return counts
