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

"""Where a tool's cost per event goes: perf profile of the revalidator
thread during modify rounds, with a tool attached.

    /usr/bin/python3 scripts/bench/profile.py [--n N] [--rounds R] TOOL...

TOOL is none, floor, watch_flows, filter_probe or filter_probe_1pct.
Prints, per tool, the on-CPU ms per round and perf's top symbols (kernel
and user) of the revalidator thread; keeps perf.data files under
build/bench/profile/.
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ovsbench import Switch  # noqa: E402
import tools  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("tools", nargs="+")
    o = p.parse_args()
    out = os.path.join(tools.TOP, "build", "bench", "profile")
    os.makedirs(out, exist_ok=True)
    build = os.path.join(tools.TOP, "build", "ovs")
    for t in o.tools:
        sw = Switch(build, os.path.join(out, "sb-" + t), "profile")
        sw.start()
        tool = None
        try:
            if t != "none":
                tool = tools.Tool(t, sw.vswitchd, sw.pid, out, "-profile")
                tool.start()
            sw.fill(o.n)
            if tool:
                tool.settle()
            sw.round("modify")
            tid = sw.tids.get("revalidator")
            data = os.path.join(out, "perf-%s.data" % t)
            perf = subprocess.Popen(["perf", "record", "-q", "-g", "-t",
                                     str(tid), "-o", data],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            import time
            time.sleep(0.5)
            cpu = [sw.round("modify")[1] for _ in range(o.rounds)]
            perf.send_signal(2)
            perf.wait()
            print("== %s: N=%d, on-CPU ms per modify round: median %.1f "
                  "(%s)" % (t, o.n, statistics.median(cpu),
                            " ".join("%.1f" % c for c in cpu)))
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio",
                                  "--no-children", "-g", "none",
                                  "--percent-limit", "0.7",
                                  "--sort", "dso,symbol"],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL,
                                 universal_newlines=True).stdout
            lines = [x for x in rep.splitlines()
                     if x.strip() and not x.startswith("#")]
            print("\n".join(lines[:o.top]))
        finally:
            if tool:
                tool.stop()
            sw.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
