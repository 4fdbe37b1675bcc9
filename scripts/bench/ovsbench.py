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

"""Sandboxed ovs-vswitchd instances for the benchmarks.

Each Switch runs its own ovsdb-server and ovs-vswitchd (dummy datapath) from
a given build tree in a private directory, and talks to ovs-vswitchd over a
persistent unixctl (JSON-RPC) connection, so that feeding packets and
reading counters costs no process start.
"""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time

# Each benchmark flow i is one UDP packet: source address 16.0.0.0 + i,
# source port 1000 + i % 100, so that the filter 'udp(src=1000)' follows
# exactly 1% of the flows.
FILTER_1PCT = "udp(src=1000)"
BURST = 32          # Packets per netdev-dummy/receive call (one rx batch).
N_IN = 10           # Input ports, fed in turn (one rx queue each).
OUT1, OUT2 = 21, 22  # Output ports: the rule alternates between them.


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def packet_hex(i, gen=0):
    """The packet of benchmark flow 'i', as hex.  'gen' varies the
    destination address, to make a fresh set of flows."""
    src = 0x10000000 + i
    dst = 0x0a000002 + (gen << 8)
    sport = 1000 + i % 100
    udp = struct.pack("!HHHH", sport, 9, 8 + 18, 0) + b"\0" * 18
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    eth = bytes.fromhex("50540000000a" "505400000001" "0800")
    return (eth + ip + udp).hex()


class Unixctl(object):
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.id = 0
        self.dec = json.JSONDecoder()

    def send(self, method, *params):
        self.id += 1
        msg = {"method": method, "params": [str(p) for p in params],
               "id": self.id}
        self.sock.sendall(json.dumps(msg).encode())
        return self.id

    def recv(self, want, method=""):
        while True:
            try:
                text = self.buf.decode().lstrip()
                obj, end = self.dec.raw_decode(text)
            except ValueError:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("unixctl connection closed")
                self.buf += chunk
                continue
            self.buf = text[end:].encode()
            if obj.get("id") != want:
                continue
            if obj.get("error") is not None:
                raise RuntimeError("%s: %s" % (method, obj["error"]))
            return obj.get("result") or ""

    def call(self, method, *params):
        return self.recv(self.send(method, *params), method)

    def close(self):
        self.sock.close()


class Switch(object):
    """ovsdb-server + ovs-vswitchd from 'build' in 'rundir'."""

    IN_PORTS = list(range(1, N_IN + 1))
    OUT_PORTS = (OUT1, OUT2)
    # Whether the bridge is in the database before ovs-vswitchd starts, so
    # that it is made before any request reaches the daemon.
    PRECONFIGURE = False
    EXTRA_ARGS = []         # More ovs-vswitchd options.

    def __init__(self, build, rundir, name, vswitchd=None, wrapper=None,
                 flow_limit=1000000, env=None):
        self.build = build
        # 'wrapper': argv that runs ovs-vswitchd (valgrind ...), which then
        # does not detach; 'env': extra environment for ovs-vswitchd.
        self.wrapper = wrapper
        self.flow_limit = flow_limit
        self.vs_env = env or {}
        self._vswitchd = vswitchd
        self.dir = rundir
        self.name = name
        self.ctl = None
        self.pid = None
        self.gen = 0
        self.env = dict(os.environ, OVS_RUNDIR=rundir, OVS_LOGDIR=rundir,
                        OVS_DBDIR=rundir, OVS_SYSCONFDIR=rundir,
                        OVS_PKGDATADIR=rundir)

    @property
    def vswitchd(self):
        if self._vswitchd:
            return self._vswitchd
        return os.path.join(self.build, "vswitchd", "ovs-vswitchd")

    def _run(self, *args, **kw):
        return subprocess.run(args, env=self.env, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, **kw).stdout

    def vsctl(self, *args):
        return self._run(os.path.join(self.build, "utilities", "ovs-vsctl"),
                         "--timeout=30", *args)

    def ofctl(self, *args):
        return self._run(os.path.join(self.build, "utilities", "ovs-ofctl"),
                         *args)

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        d = self.dir
        b = self.build
        self._run(b + "/ovsdb/ovsdb-tool", "create", d + "/conf.db",
                  b + "/vswitchd/vswitch.ovsschema")
        self._run(b + "/ovsdb/ovsdb-server", "--detach", "--no-chdir",
                  "--pidfile=%s/ovsdb-server.pid" % d,
                  "--log-file=%s/ovsdb-server.log" % d,
                  "--remote=punix:%s/db.sock" % d, d + "/conf.db")
        self.vsctl("--no-wait", "init")
        # Rounds happen only when the benchmark asks for one: a long
        # revalidation period, flows that never go idle, a flow limit
        # above every N, one revalidator and one handler.
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:max-idle=3600000",
                   "other_config:max-revalidator=3600000",
                   "other_config:flow-limit=%d" % self.flow_limit,
                   "other_config:n-revalidator-threads=1",
                   "other_config:n-handler-threads=1")
        argv = [self.vswitchd, "--no-chdir",
                "--pidfile=%s/ovs-vswitchd.pid" % d,
                "--log-file=%s/ovs-vswitchd.log" % d,
                "--enable-dummy=override", "--disable-system",
                "--disable-system-route"] + self.EXTRA_ARGS + [
                    "unix:%s/db.sock" % d]
        cmd = ["add-br", "br0", "--", "set", "bridge", "br0",
               "datapath_type=dummy", "fail-mode=secure"]
        for p in self.IN_PORTS + list(self.OUT_PORTS):
            cmd += ["--", "add-port", "br0", "p%d" % p, "--", "set",
                    "Interface", "p%d" % p, "type=dummy",
                    "ofport_request=%d" % p]
        if self.PRECONFIGURE:
            self.vsctl("--no-wait", *cmd)
        if self.wrapper:
            self._start_wrapped(argv)
        else:
            self._run(*argv[:1] + ["--detach"] + argv[1:])
            self.pid = int(open(d + "/ovs-vswitchd.pid").read())
        if self.PRECONFIGURE:
            self._wait_ports()
        self.ctl = Unixctl("%s/ovs-vswitchd.%d.ctl" % (d, self.pid))
        self.waiter = Unixctl("%s/ovs-vswitchd.%d.ctl" % (d, self.pid))
        if not self.PRECONFIGURE:
            self.vsctl(*cmd)
        flow = "priority=10,ip,actions=output:%d" % self.OUT_PORTS[0]
        deadline = time.monotonic() + 120
        while True:
            try:
                self.ofctl("add-flow", "br0", flow)
                break
            except subprocess.CalledProcessError:
                # With PRECONFIGURE, the bridge may not be up yet.
                if time.monotonic() > deadline or not self.PRECONFIGURE:
                    raise
                time.sleep(0.2)
        self.out_port = self.OUT_PORTS[0]
        self.tids = {}
        self.call("upcall/disable-megaflows")
        self.set_limit()
        self.pin()

    def _wait_ports(self, timeout=300):
        """Waits, asking ovsdb-server only, until ovs-vswitchd has made the
        ports (it then writes their OpenFlow port numbers)."""
        deadline = time.monotonic() + timeout
        ports = self.IN_PORTS + list(self.OUT_PORTS)
        while True:
            got = self.vsctl("--no-wait", "--columns=name,ofport", "find",
                             "Interface", "type=dummy")
            if len(re.findall(r"ofport\s*:\s*[1-9]", got)) >= len(ports):
                time.sleep(1)       # Let the first passes settle.
                return
            if time.monotonic() > deadline:
                raise RuntimeError("%s: ovs-vswitchd did not make the ports"
                                   % self.name)
            time.sleep(0.2)

    def _start_wrapped(self, argv, timeout=300):
        """Starts ovs-vswitchd under self.wrapper, in the foreground (the
        wrapper must see the daemon itself), and waits for its control
        socket."""
        d = self.dir
        log = open(d + "/wrapper.log", "w")
        self.wrapped = subprocess.Popen(self.wrapper + argv,
                                        env=dict(self.env, **self.vs_env),
                                        stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.wrapped.poll() is not None:
                raise RuntimeError("%s: ovs-vswitchd exited under %s (see "
                                   "%s/wrapper.log)"
                                   % (self.name, self.wrapper[0], d))
            try:
                self.pid = int(open(d + "/ovs-vswitchd.pid").read())
                ctl = "%s/ovs-vswitchd.%d.ctl" % (d, self.pid)
                # Not a connection, which would be handled at a time that
                # varies, between the daemon's first steps.
                if os.path.exists(ctl):
                    return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("%s: ovs-vswitchd did not start under %s"
                                   % (self.name, self.wrapper[0]))
            time.sleep(0.1)

    def pin(self):
        """Pins every thread of ovs-vswitchd to one CPU (PIN_CPU, default
        the last one): the revalidators of the daemons compared then run on
        the same CPU, whose speed varies with what shares it."""
        cpu = int(os.environ.get("PIN_CPU", os.cpu_count() - 1))
        if cpu < 0:
            return
        for t in os.listdir("/proc/%d/task" % self.pid):
            try:
                os.sched_setaffinity(int(t), {cpu})
            except OSError:
                pass

    def stop(self):
        """Stops both daemons and waits until they are gone."""
        pids = []
        for name in ("ovs-vswitchd", "ovsdb-server"):
            try:
                pid = int(open("%s/%s.pid" % (self.dir, name)).read())
            except (OSError, ValueError):
                continue
            pids.append(pid)
            try:
                subprocess.run([self.build + "/utilities/ovs-appctl",
                                "--timeout=20", "-t",
                                "%s/%s.%d.ctl" % (self.dir, name, pid),
                                "exit"], env=self.env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            except OSError:
                pass
        # Under valgrind, the exit takes longer (callgrind writes its
        # profile).
        deadline = time.monotonic() + (120 if self.wrapper else 20)
        wrapped = getattr(self, "wrapped", None)
        for pid in pids:
            while os.path.exists("/proc/%d" % pid):
                if (wrapped and wrapped.pid == pid
                        and wrapped.poll() is not None):
                    break       # Exited; /proc lists it until reaped.
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    break
                time.sleep(0.05)
        if getattr(self, "wrapped", None):
            self.wrapped.wait()
            self.wrapped = None
        if self.ctl:
            self.ctl.close()
            self.waiter.close()
            self.ctl = None

    def call(self, method, *params):
        return self.ctl.call(method, *params)

    def thread_cpu_ns(self, prefix):
        """On-CPU time (ns, from schedstat) of the first thread of
        ovs-vswitchd whose name starts with 'prefix' ("main": the main
        thread); the traps of the
        probes and the BPF programs run on the thread, so they count."""
        tid = self.pid if prefix == "main" else self.tids.get(prefix)
        if tid is None:
            for t in os.listdir("/proc/%d/task" % self.pid):
                with open("/proc/%d/task/%s/comm" % (self.pid, t)) as f:
                    if f.read().startswith(prefix):
                        tid = self.tids[prefix] = int(t)
                        break
        with open("/proc/%d/task/%d/schedstat" % (self.pid, tid)) as f:
            return int(f.read().split()[0])

    def round(self, kind="keep"):
        """Forces one revalidation round and returns (ms, cpu_ms): its
        duration as the revalidator measured it ("dump duration", dump and
        sweep, in whole ms) and the on-CPU time of the revalidator thread
        meanwhile (ns precision, blind to time spent waiting for a CPU).

        kind "keep": an OpenFlow change elsewhere (table 5) bumps the
        revalidation sequence, so every flow is translated again and kept.
        "modify": the rule every flow comes from changes its output port,
        so every flow's actions change.  "delete": the flow limit drops
        to 1, so the revalidator deletes every flow (reason flow_limit)."""
        # The revalidator lowers the flow limit after a slow round, and
        # above the limit it deletes idle flows: keep it out of the way.
        if kind != "delete":
            self.set_limit()
        wid = self.waiter.send("revalidator/wait")
        self.call("version")        # revalidator/wait is registered now.
        cpu0 = self.thread_cpu_ns("revalidator")
        if kind == "modify":
            o1, o2 = self.OUT_PORTS
            self.out_port = o2 if self.out_port == o1 else o1
            self.ofctl("--strict", "mod-flows", "br0",
                       "priority=10,ip,actions=output:%d" % self.out_port)
        else:
            if kind == "delete":
                self.set_limit(1)
            self.keep_toggle = not getattr(self, "keep_toggle", False)
            if self.keep_toggle:
                self.ofctl("add-flow", "br0",
                           "table=5,priority=1,actions=drop")
            else:
                self.ofctl("del-flows", "br0", "table=5")
        self.waiter.recv(wid, "revalidator/wait")
        cpu = (self.thread_cpu_ns("revalidator") - cpu0) / 1e6
        if kind != "delete":
            # revalidator/wait returns before the revalidator lowers the
            # flow limit after a round of over 2 s: should it, a second
            # such round would then delete flows as idle.  Put it back
            # once it has.
            time.sleep(0.1)
            self.set_limit()
        ms = self.dump_duration()
        if kind == "delete":
            self.set_limit()
        return ms, cpu

    def purge(self):
        """revalidator/purge, which the main thread runs; returns (wall
        seconds, main thread's on-CPU ms)."""
        cpu0 = self.thread_cpu_ns("main")
        start = time.monotonic()
        self.call("revalidator/purge")
        wall = time.monotonic() - start
        return wall, (self.thread_cpu_ns("main") - cpu0) / 1e6

    def set_limit(self, n=None):
        self.call("upcall/set-flow-limit", n or self.flow_limit)

    def n_flows(self):
        out = self.call("dpctl/show")
        m = re.search(r"flows: *(\d+)", out)
        return int(m.group(1)) if m else 0

    def dump_duration(self):
        out = self.call("upcall/show")
        return int(re.search(r"dump duration : (\d+)ms", out).group(1))

    def fill(self, n, gen=None, timeout=600):
        """Installs n exact-match datapath flows (benchmark flows 0..n-1 of
        generation 'gen'); returns seconds taken."""
        if gen is None:
            self.gen += 1
            gen = self.gen
        self.set_limit()
        start = time.monotonic()
        pkts = [packet_hex(i, gen) for i in range(n)]
        base = self.n_flows()
        self._send(pkts, base)
        # Packets are dropped when a queue is full: send again until every
        # flow is there (packets of existing flows just hit them).
        deadline = start + timeout
        while True:
            for _ in range(20):
                have = self.n_flows()
                if have >= base + n:
                    return time.monotonic() - start
                time.sleep(0.05)
            if time.monotonic() > deadline:
                raise RuntimeError("%s: fill stuck at %d flows of %d"
                                   % (self.name, have, base + n))
            self._send(pkts)

    def _send(self, pkts, base=None):
        """Feeds 'pkts', one call per input port in turn; with 'base' (the
        flow count before), waits after each round of ports until the
        datapath has taken the packets in, so that no queue overflows."""
        window = BURST * N_IN
        for w in range(0, len(pkts), window):
            for k, s in enumerate(range(w, min(w + window, len(pkts)),
                                        BURST)):
                self.call("netdev-dummy/receive", "p%d" % (k + 1),
                          *pkts[s:s + BURST])
            if base is None:
                continue
            want = base + min(w + window, len(pkts))
            for _ in range(100):
                if self.n_flows() >= want:
                    break
                time.sleep(0.001)
