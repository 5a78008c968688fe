#!/usr/bin/python3
"""test_dataplane.py - mipha's data plane end to end, in network namespaces.

Real packets through the daemon, captured with libpcap (tcpdump -U
--immediate-mode -w) on both sides and compared byte for byte: ESP made with
scapy's SecurityAssociation (AES-CBC + HMAC-SHA1-96), UDP-encapsulated ESP
and IKE (RFC 3948), in IP-in-IP (RFC 2003), GRE (RFC 2784), minimal
encapsulation (RFC 2004) and RFC 3519 UDP tunnels; simultaneous bindings;
every data-plane drop reason with its counter; the vpn-only and open
policies (interface spec); path MTU; RFC 2003 TTL/DF handling; the raw
tunnel sockets; proxy and gratuitous ARP (RFC 5944 §4.6); the routing
state mipha owns across SIGTERM, SIGKILL and restarts. Beyond that:
fragmented IKE/UDP-ESP under vpn-only, ICMP errors the HA's own stack
originates (reverse-path PMTU), an HA egress link below 1500, and the
drop-reason names against miphactl(8).

Topology (namespaces dp<PID>xx, all made and removed here; the root
namespace's network is never touched; addresses only from 198.18.0.0/15,
198.51.100.0/24 and 203.0.113.0/24):

  mn   m0 198.51.100.20-.23/26 --- h-mn   198.51.100.1/26  HA address
  fa   f0 198.51.100.66/26     --- h-fa   198.51.100.65/26
  gwa  g0 203.0.113.10/28      --- h-gwa  203.0.113.1/28   acme's VPN gateway
  gwb  g0 203.0.113.20/28      --- h-gwb  203.0.113.17/28  beta's VPN gateway
  in   i0 203.0.113.40/28      --- h-in   203.0.113.33/28  intranet host
  home l0 198.18.10.200/24     --- h-home (no address)     acme's home link
                                   ha: mipha, ip_forward=1

Tenant acme: vpn-only, table 101, home 198.18.10.0/24, max_bindings 2,
home_interface h-home, an FA-HA SA with the FA. Tenant beta: open, table
102, home 198.18.20.0/24; the "operator" routes the intranet in table 102.

Run as root with Debian's /usr/bin/python3 (scapy). Exit 0: every case
passed; 1: a case failed; 77: not root or no network namespaces; 99: the
harness itself could not run. DP_KEEP=1 keeps the scratch directory.
"""

import json
import os
import random
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("MIPT_SRCDIR") or \
    os.path.abspath(os.path.join(HERE, "..", ".."))

# --- addresses ------------------------------------------------------------

HA = "198.51.100.1"
HA_FA_SIDE = "198.51.100.65"
COA1 = "198.51.100.20"          # acme's mobile nodes (co-located CoAs)
COA2 = "198.51.100.21"          # second CoA (simultaneous bindings)
ROGUE = "198.51.100.22"         # an address with no binding
COAB = "198.51.100.23"          # beta's mobile node
FA_ADDR = "198.51.100.66"
GWA = "203.0.113.10"
GWA_HA = "203.0.113.1"
GWB = "203.0.113.20"
GWB_HA = "203.0.113.17"
INTRA = "203.0.113.40"
INTRA_HA = "203.0.113.33"
INTRA_NET = "203.0.113.32/28"
HOME_HOST = "198.18.10.200"

HOA1 = "198.18.10.5"            # co-located, every encapsulation
HOA2 = "198.18.10.6"            # via the FA
HOA3 = "198.18.10.7"            # simultaneous bindings
HOA4 = "198.18.10.8"            # no reverse tunnelling (T clear)
HOA5 = "198.18.10.9"            # configured, never bound
HOA_UNBOUND = "198.18.10.99"    # not configured at all
HOAB = "198.18.20.5"            # tenant beta

KEY = "0x00112233445566778899aabbccddeeff"
FAKEY = "0xa0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
FA_SPI = 3000
SPI = {HOA1: 1000, HOA2: 1001, HOA3: 1002, HOA4: 1003, HOA5: 1004,
       HOAB: 2000}

LINK_MTU = 1500
# A tenant's TUN MTU is its tunnel MTU: the link MTU minus the largest
# overhead among the encapsulations it permits (ha/netsetup.c), so the
# kernel's first fragmentation-needed fits whatever a node negotiated.
OVERHEAD = {"ipip": 20, "gre": 24, "minimal": 12, "udp": 32}
TUN_MTUS = {"mip-acme": LINK_MTU - 32,     # ipip, gre, minimal, udp
            "mip-beta": LINK_MTU - 24}     # ipip, gre
TUN_MTU = TUN_MTUS["mip-acme"]
RTPROT = "213"
# MIPT_FASTPATH=0 (test_dataplane_userspace.sh): the same cases with
# `fastpath = false`, so the userspace data plane is proven on its own.
FASTPATH = os.environ.get("MIPT_FASTPATH", "1") != "0"
FP_HANDLE = 0x4d49                 # ha/fastpath_maps.h FP_TC_HANDLE

PID = os.getpid()
NS = {k: "dp%d%s" % (PID, k) for k in
      ("mn", "fa", "ha", "gwa", "gwb", "in", "home")}


# --- preflight --------------------------------------------------------------

def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(77)


def hard_error(msg):
    print("ERROR: " + msg, flush=True)
    sys.exit(99)


def preflight():
    if os.geteuid() != 0:
        skip("the data-plane test needs root")
    try:
        r = subprocess.run(["ip", "netns", "list"], capture_output=True)
    except FileNotFoundError:
        skip("no ip(8)")
    if r.returncode != 0:
        skip("ip netns is unavailable")
    probe = "dp%dprobe" % PID
    if subprocess.run(["ip", "netns", "add", probe],
                      capture_output=True).returncode != 0:
        skip("cannot create network namespaces")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)


def find_programs():
    bd = os.environ.get("MIPT_BUILDDIR") or \
        os.environ.get("abs_top_builddir") or os.getcwd()
    mipha = os.environ.get("MIPHA") or os.path.join(bd, "ha", "mipha")
    ctl = os.environ.get("MIPHACTL") or os.path.join(bd, "ha", "miphactl")
    for p in (mipha, ctl):
        if not os.access(p, os.X_OK):
            hard_error("%s is not built (set MIPHA/MIPHACTL or run from the "
                       "build directory)" % p)
    if shutil.which("tcpdump") is None:
        hard_error("tcpdump is missing (libpcap captures)")
    return os.path.abspath(mipha), os.path.abspath(ctl)


preflight()
MIPHA, MIPHACTL = find_programs()

try:
    sys.path.insert(0, os.path.join(SRCDIR, "contrib"))
    import mipnode as mip  # noqa: E402
    import logging
    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.all import IP, UDP, ICMP, GRE, Raw, ESP, conf  # noqa: E402
    from scapy.layers.ipsec import SecurityAssociation  # noqa: E402
    conf.verb = 0
except Exception as e:  # noqa: BLE001
    hard_error("cannot import scapy/mipnode (use /usr/bin/python3): %s" % e)


# --- harness ---------------------------------------------------------------

class Interrupted(Exception):
    pass


class Harness:
    def __init__(self):
        self.cases = []          # (name, ok, nchecks, failed)
        self.cur = None
        self.notes = []

    def case(self, name):
        return _Case(self, name)

    def check(self, cond, what, detail=None):
        c = self.cur
        if c is not None:
            c["n"] += 1
        if cond:
            print("    PASS: %s" % what, flush=True)
        else:
            print("    FAIL: %s" % what, flush=True)
            if detail:
                for line in str(detail).splitlines():
                    print("          " + line, flush=True)
            if c is not None:
                c["failed"].append(what)
        return bool(cond)

    def note(self, text):
        print("    NOTE: " + text, flush=True)
        self.notes.append(text)


class _Case:
    def __init__(self, h, name):
        self.h, self.name = h, name

    def __enter__(self):
        print("\n=== %s" % self.name, flush=True)
        self.h.cur = {"n": 0, "failed": []}
        self.t0 = time.monotonic()
        return self

    def __exit__(self, et, ev, tb):
        c = self.h.cur
        if et is not None and et is not Interrupted and \
                not issubclass(et, (KeyboardInterrupt, SystemExit)):
            print("    FAIL: exception: %s" % ev, flush=True)
            for line in traceback.format_exception(et, ev, tb):
                for ln in line.rstrip().splitlines():
                    print("          " + ln)
            c["failed"].append("exception: %s" % ev)
            suppress = True
        else:
            suppress = False
        ok = not c["failed"]
        print("%s %s (%d checks%s, %.1fs)" % (
            "PASS" if ok else "FAIL", self.name, c["n"],
            "" if ok else ", %d failed" % len(c["failed"]),
            time.monotonic() - self.t0), flush=True)
        self.h.cases.append((self.name, ok, c["n"], list(c["failed"])))
        self.h.cur = None
        return suppress


H = Harness()


# --- processes, namespaces, cleanup ----------------------------------------

class Env:
    namespaces = []
    procs = []               # Popen objects we started (tcpdump)
    socks = []
    tmp = None
    daemon = None


def sh(*cmd, ns=None, check=True, timeout=30):
    if ns is not None:
        cmd = ("ip", "netns", "exec", ns) + tuple(cmd)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                r.stderr.strip()))
    return r


def ipj(ns, *args):
    """`ip -j ARGS` in namespace ns, parsed."""
    r = sh("ip", "-n", ns, "-j", *args)
    out = r.stdout.strip()
    return json.loads(out) if out else []


def ns_add(name):
    sh("ip", "netns", "add", name)
    Env.namespaces.append(name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    # IPv4 only: no IPv6 chatter in the captures.
    sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
       "net.ipv6.conf.default.disable_ipv6=1", ns=name, check=False)


def veth(ns_a, if_a, ns_b, if_b):
    sh("ip", "-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name",
       if_b, "netns", ns_b)
    sh("ip", "-n", ns_a, "link", "set", if_a, "up")
    sh("ip", "-n", ns_b, "link", "set", if_b, "up")


def cleanup():
    d = Env.daemon
    if d is not None:
        try:
            d.stop(signal.SIGTERM, timeout=10)
        except Exception:  # noqa: BLE001
            pass
    for s in Env.socks:
        try:
            s.close()
        except OSError:
            pass
    for p in Env.procs:
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(3)
            except Exception:  # noqa: BLE001
                try:
                    p.kill()
                    p.wait(3)
                except Exception:  # noqa: BLE001
                    pass
    # Anything else still running in our namespaces is ours: end it by pid.
    for ns in Env.namespaces:
        r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                           text=True)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    for ns in reversed(Env.namespaces):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    Env.namespaces = []
    if Env.tmp and os.path.isdir(Env.tmp):
        if os.environ.get("DP_KEEP"):
            print("# kept %s" % Env.tmp)
        else:
            shutil.rmtree(Env.tmp, ignore_errors=True)


def on_signal(sig, frame):
    raise Interrupted(sig)


# --- checksums and parsing --------------------------------------------------

def inet_csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


class IPv4:
    """An IPv4 datagram (or a quote of one: truncated is allowed)."""

    def __init__(self, b):
        if len(b) < 20 or b[0] >> 4 != 4 or (b[0] & 15) < 5:
            raise ValueError("not IPv4")
        self.hl = (b[0] & 15) * 4
        if len(b) < self.hl:
            raise ValueError("short header")
        self.tot = struct.unpack("!H", b[2:4])[0]
        self.raw = bytes(b[:self.tot]) if len(b) >= self.tot else bytes(b)
        self.truncated = len(b) < self.tot
        self.hdr = self.raw[:self.hl]
        self.tos = b[1]
        self.id = struct.unpack("!H", b[4:6])[0]
        fr = struct.unpack("!H", b[6:8])[0]
        self.df = bool(fr & 0x4000)
        self.mf = bool(fr & 0x2000)
        self.off = (fr & 0x1fff) * 8
        self.ttl = b[8]
        self.proto = b[9]
        self.src = socket.inet_ntoa(b[12:16])
        self.dst = socket.inet_ntoa(b[16:20])
        self.payload = self.raw[self.hl:]

    @property
    def is_fragment(self):
        return self.mf or self.off != 0

    @property
    def csum_ok(self):
        return inet_csum(self.hdr) == 0

    def ports(self):
        if self.proto in (6, 17) and len(self.payload) >= 4:
            return struct.unpack("!HH", self.payload[:4])
        return None, None

    def __repr__(self):
        return "IPv4(%s > %s proto %d len %d ttl %d id %d%s%s off %d)" % (
            self.src, self.dst, self.proto, self.tot, self.ttl, self.id,
            " DF" if self.df else "", " MF" if self.mf else "", self.off)


def try_ip(b):
    try:
        return IPv4(b)
    except (ValueError, struct.error):
        return None


class Decap:
    def __init__(self, kind, inner, info):
        self.kind, self.inner, self.info = kind, inner, info


def decap(outer):
    """What a mobile node / FA would decapsulate from `outer` (IPv4)."""
    try:
        if outer.proto == 4:
            inner = try_ip(outer.payload)
            return Decap("ipip", inner, {}) if inner else None
        if outer.proto == 47:
            g = outer.payload
            flags, proto = struct.unpack("!HH", g[:4])
            glen = 4 + 4 * bin(flags & 0xb000).count("1")
            info = {"flags": flags, "proto": proto, "glen": glen,
                    "C": bool(flags & 0x8000), "K": bool(flags & 0x2000),
                    "S": bool(flags & 0x1000), "version": flags & 7}
            inner = try_ip(g[glen:])
            return Decap("gre", inner, info) if inner else None
        if outer.proto == 55:
            m = outer.payload
            s = bool(m[1] & 0x80)
            mlen = 12 if s else 8
            mh = m[:mlen]
            h = bytearray(outer.hdr)
            h[9] = m[0]
            h[16:20] = m[4:8]
            if s:
                h[12:16] = m[8:12]
            h[2:4] = struct.pack("!H", outer.tot - mlen)
            h[10:12] = b"\0\0"
            h[10:12] = struct.pack("!H", inet_csum(bytes(h)))
            inner = try_ip(bytes(h) + m[mlen:])
            info = {"S": s, "mh_csum_ok": inet_csum(mh) == 0,
                    "reserved": m[1] & 0x7f, "proto": m[0],
                    "orig_dst": socket.inet_ntoa(m[4:8]),
                    "orig_src": socket.inet_ntoa(m[8:12]) if s else None}
            return Decap("minimal", inner, info) if inner else None
        if outer.proto == 17:
            sport, dport = outer.ports()
            u = outer.payload
            if 434 not in (sport, dport) or len(u) < 12 or u[8] != 4:
                return None
            info = {"sport": sport, "dport": dport, "next": u[9],
                    "reserved": u[10:12]}
            inner = try_ip(u[12:]) if u[9] == 4 else None
            return Decap("udp", inner, info) if inner else None
    except (IndexError, struct.error):
        return None
    return None


class Pkt:
    def __init__(self, ts, frame, linktype=1):
        self.ts, self.frame = ts, frame
        self.ip = self.arp = None
        self._decap = False
        if linktype in (12, 101):          # raw IP (a TUN device)
            self.eth_dst = self.eth_src = b""
            self.ip = try_ip(frame)
            return
        self.eth_dst = frame[0:6]
        self.eth_src = frame[6:12]
        et = struct.unpack("!H", frame[12:14])[0] if len(frame) >= 14 else 0
        off = 14
        if et == 0x8100 and len(frame) >= 18:
            et = struct.unpack("!H", frame[16:18])[0]
            off = 18
        if et == 0x0800:
            self.ip = try_ip(frame[off:])
        elif et == 0x0806:
            self.arp = frame[off:off + 28]
        self._decap = False

    @property
    def dec(self):
        if self._decap is False:
            self._decap = decap(self.ip) if self.ip else None
        return self._decap


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def parse_arp(a):
    if a is None or len(a) < 28:
        return None
    return {"op": struct.unpack("!H", a[6:8])[0], "sha": mac_str(a[8:14]),
            "spa": socket.inet_ntoa(a[14:18]), "tha": mac_str(a[18:24]),
            "tpa": socket.inet_ntoa(a[24:28])}


# --- captures (libpcap through tcpdump) -------------------------------------

class Capture:
    def __init__(self, name, ns, ifname):
        self.name = name
        self.path = os.path.join(Env.tmp, "%s.pcap" % name)
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "tcpdump", "-i", ifname, "-U",
             # A snap length near the MTU: with --immediate-mode libpcap
             # sizes ring slots by it, and 262144 leaves room for a
             # handful of packets only (bursts were lost).
             "--immediate-mode", "-n", "-s", "2048", "-B", "16384",
             "-w", self.path,
             "not", "ip6"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        Env.procs.append(self.proc)
        self.f = None
        self.buf = b""
        self.endian = None
        self.nsec = False
        self.pkts = []

    def wait_ready(self, timeout=15):
        fd = self.proc.stderr.fileno()
        got = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                got += chunk
                if b"listening on" in got:
                    return
            if self.proc.poll() is not None:
                break
        raise RuntimeError("tcpdump %s not ready: %r" % (self.name, got))

    def poll(self):
        if self.f is None:
            if not os.path.exists(self.path):
                return
            self.f = open(self.path, "rb")
        data = self.f.read()
        if data:
            self.buf += data
        if self.endian is None:
            if len(self.buf) < 24:
                return
            magic = self.buf[:4]
            for en in ("<", ">"):
                m = struct.unpack(en + "I", magic)[0]
                if m in (0xa1b2c3d4, 0xa1b23c4d):
                    self.endian, self.nsec = en, m == 0xa1b23c4d
            if self.endian is None:
                raise RuntimeError("%s: not a pcap file" % self.path)
            self.linktype = struct.unpack(self.endian + "I",
                                          self.buf[20:24])[0]
            self.buf = self.buf[24:]
        while len(self.buf) >= 16:
            sec, frac, incl, _ = struct.unpack(self.endian + "IIII",
                                               self.buf[:16])
            if len(self.buf) < 16 + incl:
                break
            frame = self.buf[16:16 + incl]
            self.buf = self.buf[16 + incl:]
            self.pkts.append(Pkt(sec + frac / (1e9 if self.nsec else 1e6),
                                 frame, self.linktype))

    def mark(self):
        self.poll()
        return len(self.pkts)

    def since(self, mark):
        self.poll()
        return self.pkts[mark:]

    def wait(self, mark, pred, n=1, timeout=2.0, settle=0.0):
        """Packets after `mark` for which pred(pkt) is truthy: waits until
        n matched (then `settle` more seconds) or the timeout."""
        end = time.monotonic() + timeout
        while True:
            hits = [(p, v) for p in self.since(mark) for v in [pred(p)] if v]
            if len(hits) >= n:
                if settle:
                    time.sleep(settle)
                    hits = [(p, v) for p in self.since(mark)
                            for v in [pred(p)] if v]
                return hits
            if time.monotonic() >= end:
                return hits
            time.sleep(0.02)

    def absent(self, mark, pred, window=0.6):
        time.sleep(window)
        return [(p, v) for p in self.since(mark) for v in [pred(p)] if v]


# --- sockets in namespaces --------------------------------------------------

IP_MTU_DISCOVER = 10
IP_PMTUDISC_PROBE = 3


class Sender:
    """A raw IP_HDRINCL socket in a namespace: our headers go out as built
    (PMTU ignored, so the sender's kernel never fragments them)."""

    def __init__(self, ns):
        with mip.netns(ns):
            self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                   socket.IPPROTO_RAW)
        self.s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER,
                          IP_PMTUDISC_PROBE)
        Env.socks.append(self.s)

    def send(self, pkt):
        b = bytes(pkt)
        self.s.sendto(b, (socket.inet_ntoa(b[16:20]), 0))
        return b


def sink_raw(ns, proto):
    """Keeps the kernel from answering `proto` with protocol-unreachable."""
    with mip.netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    s.setblocking(False)
    Env.socks.append(s)
    return s


def sink_udp(ns, port, addr=""):
    with mip.netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.setblocking(False)
    Env.socks.append(s)
    return s


# --- the daemon ---------------------------------------------------------------

def cfg_value(v, ind=0):
    tab = "\t" * ind
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{\n%s%s}" % ("".join("%s\t%s = %s;\n" % (tab, k, cfg_value(
            x, ind + 1)) for k, x in v.items()), tab)
    if isinstance(v, list):
        if v and isinstance(v[0], dict):
            return "(\n%s\n%s)" % (",\n".join(tab + "\t" + cfg_value(x, ind + 1)
                                             for x in v), tab)
        return "[ %s ]" % ", ".join(cfg_value(x) for x in v)
    raise TypeError(v)


def write_cfg(path, groups):
    with open(path, "w") as f:
        for k, v in groups.items():
            f.write("%s: %s;\n" % (k, cfg_value(v)))
    os.chmod(path, 0o600)


class Daemon:
    def __init__(self, d):
        self.dir = d
        self.conf = os.path.join(d, "mipha.conf")
        self.sock = os.path.join(d, "mipha.sock")
        self.pidfile = os.path.join(d, "mipha.pid")
        self.log = os.path.join(d, "mipha.log")
        self.state = os.path.join(d, "state")
        self.proc = None
        self.starts = 0
        os.makedirs(os.path.join(d, "tenants.d"), exist_ok=True)
        os.makedirs(self.state, exist_ok=True)

    def start(self, timeout=20):
        self.starts += 1
        with open(self.log, "a") as lf:
            lf.write("\n===== start #%d at %s =====\n" % (
                self.starts, time.strftime("%H:%M:%S")))
            lf.flush()
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", NS["ha"], MIPHA, "-d", "-v", "-f",
                 self.conf, "-p", self.pidfile],
                stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            if self.ctl("show", "stats")[0] == 0:
                return True
            time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return "timeout"
        return self.proc.returncode

    def ctl(self, *args, timeout=15):
        try:
            r = subprocess.run([MIPHACTL, "-s", self.sock, "--json"] +
                               list(args), capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, "", "timeout"
        return r.returncode, r.stdout, r.stderr

    def stats(self):
        rc, out, err = self.ctl("show", "stats")
        if rc != 0:
            raise RuntimeError("miphactl show stats: %d %s" % (rc, err))
        return json.loads(out)

    def bindings(self):
        rc, out, err = self.ctl("show", "bindings")
        if rc != 0:
            raise RuntimeError("miphactl show bindings: %d %s" % (rc, err))
        return json.loads(out)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def flat(s):
    f = {"tunneled": s.get("packets_tunneled", 0),
         "reverse": s.get("packets_reverse_tunneled", 0),
         "icmp_sent": s.get("icmp_sent", 0),
         "icmp_rate_limited": s.get("icmp_rate_limited", 0)}
    fp = s.get("fastpath") or {}
    f["fp.tunneled"] = fp.get("packets_tunneled", 0)
    f["fp.reverse"] = fp.get("packets_reverse_tunneled", 0)
    for k, v in (s.get("packets_dropped") or {}).items():
        f["drop." + k] = v
    return f


class Counters:
    """Data-plane counters around one step."""

    def __init__(self, d):
        self.d = d
        self.before = flat(d.stats())

    def delta(self):
        after = flat(self.d.stats())
        return {k: after.get(k, 0) - self.before.get(k, 0)
                for k in set(after) | set(self.before)
                if after.get(k, 0) != self.before.get(k, 0)}

    def expect(self, want, what, strict_drops=True):
        """want: {counter: delta}; with strict_drops no other drop counter
        may move."""
        d = self.delta()
        bad = {k: (d.get(k, 0), v) for k, v in want.items() if d.get(k, 0) != v}
        if strict_drops:
            bad.update({k: (v, 0) for k, v in d.items()
                        if k.startswith("drop.") and k not in want})
        return H.check(not bad, "%s: counters %s" % (what, ", ".join(
            "%s %+d" % kv for kv in sorted(want.items())) or "unchanged"),
            "got (delta, want): %r; all deltas: %r" % (bad, d))


# --- packets ----------------------------------------------------------------

K_ENC = bytes.fromhex("8899aabbccddeeff0011223344556677")
K_AUTH = bytes.fromhex("0102030405060708090a0b0c0d0e0f1011121314")


def make_sa(spi, natt=False):
    kw = {}
    if natt:
        kw["nat_t_header"] = UDP(sport=4500, dport=4500)
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-CBC",
                               crypt_key=K_ENC, auth_algo="HMAC-SHA1-96",
                               auth_key=K_AUTH, **kw)


SA_UP = make_sa(0x0a000001)          # HoA -> gateway
SA_DOWN = make_sa(0x0b000001)        # gateway -> HoA
SA_UP_NAT = make_sa(0x0a000002, True)
SA_DOWN_NAT = make_sa(0x0b000002, True)


def rid():
    return random.randint(1, 0xfffe)


def ip_hdr(src, dst, ttl=64, df=False, tos=0, ident=None):
    return IP(src=src, dst=dst, ttl=ttl, flags="DF" if df else 0, tos=tos,
              id=ident if ident is not None else rid())


def esp(src, dst, sa=None, size=None, n=48, ttl=64, df=False, tos=0):
    """Real ESP (transport mode over UDP), `size` octets if given (56+16k)."""
    if sa is None:
        sa = SA_UP if dst in (GWA, GWB) else SA_DOWN
    if size is not None:
        n = size - 66
        assert n >= 0 and (size - 56) % 16 == 0, size
    plain = ip_hdr(src, dst, ttl, df, tos) / UDP(sport=40000 + rid() % 20000,
                                                 dport=7) / \
        Raw(os.urandom(n))
    e = IP(bytes(sa.encrypt(plain)))
    b = bytes(e)
    if size is not None:
        assert len(b) == size, (len(b), size)
    return b


def esp_natt(src, dst, ttl=64):
    sa = SA_UP_NAT if dst in (GWA, GWB) else SA_DOWN_NAT
    plain = ip_hdr(src, dst, ttl) / UDP(sport=1234, dport=5678) / \
        Raw(os.urandom(40))
    e = sa.encrypt(plain)
    # scapy 2.5: the nat_t_header UDP keeps length 8 unless rebuilt.
    del e[UDP].len
    del e[UDP].chksum
    del e[IP].len
    del e[IP].chksum
    return bytes(IP(bytes(e)))


def decrypts(sa, b):
    """Does sa decrypt/authenticate the IP datagram b?"""
    try:
        p = sa.decrypt(IP(b))
        return p is not None and p.haslayer(UDP)
    except Exception:  # noqa: BLE001
        return False


def ikev2(port, src, dst, ttl=64):
    body = os.urandom(32)
    hdr = os.urandom(8) + b"\0" * 8 + bytes([33, 0x20, 34, 0x08]) + \
        struct.pack("!II", 0, 28 + len(body))
    data = (b"\0\0\0\0" if port == 4500 else b"") + hdr + body  # RFC 3948 §2.2
    return bytes(ip_hdr(src, dst, ttl) / UDP(sport=port, dport=port) /
                 Raw(data))


def nat_keepalive(src, dst):
    return bytes(ip_hdr(src, dst) / UDP(sport=4500, dport=4500) /
                 Raw(b"\xff"))                                 # RFC 3948 §2.3


def udp_plain(src, dst, sport=9999, dport=9999, ttl=64):
    return bytes(ip_hdr(src, dst, ttl) / UDP(sport=sport, dport=dport) /
                 Raw(b"plaintext " + os.urandom(16)))


def echo(src, dst):
    return bytes(ip_hdr(src, dst) / ICMP(type=8, id=rid(), seq=1) /
                 Raw(os.urandom(24)))


def _set_proto(b, proto):
    h = bytearray(b)
    h[9] = proto
    h[10:12] = b"\0\0"
    hl = (h[0] & 15) * 4
    h[10:12] = struct.pack("!H", inet_csum(bytes(h[:hl])))
    return bytes(h)


def gre(inner, src, dst, flags=0, key=None):
    g = struct.pack("!HH", flags, 0x0800)
    if key is not None:
        g = struct.pack("!HH", flags | 0x2000, 0x0800) + struct.pack("!I", key)
    return _set_proto(bytes(ip_hdr(src, dst) / Raw(g + inner)), 47)


def minimal(inner, src, dst, s=True):
    """RFC 2004 §3: the original header, modified, then the forwarding
    header {protocol, S, reserved, checksum, original destination[, source]},
    then the unmodified payload."""
    hl = (inner[0] & 15) * 4
    ih, payload = inner[:hl], inner[hl:]
    mh = bytes([ih[9], 0x80 if s else 0, 0, 0]) + ih[16:20] + \
        (ih[12:16] if s else b"")
    mh = mh[:2] + struct.pack("!H", inet_csum(mh)) + mh[4:]
    h = bytearray(ih)
    h[9] = 55
    h[16:20] = socket.inet_aton(dst)
    if s:
        h[12:16] = socket.inet_aton(src)
    h[2:4] = struct.pack("!H", hl + len(mh) + len(payload))
    h[10:12] = b"\0\0"
    h[10:12] = struct.pack("!H", inet_csum(bytes(h)))
    return bytes(h) + mh + payload


def encap_for(kind, inner, src, dst=HA):
    if kind == "udp":
        return "udp"                      # see reverse()
    if kind == "ipip":
        return _set_proto(bytes(ip_hdr(src, dst) / Raw(inner)), 4)
    if kind == "gre":
        return gre(inner, src, dst)
    if kind == "minimal":
        return minimal(inner, src, dst)
    raise ValueError(kind)


# --- comparisons --------------------------------------------------------------

def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def compare_hop(sent, got):
    """sent/got: IPv4 of the same datagram before/after one router hop.
    Problems as strings (empty: identical except TTL-1 and checksum)."""
    probs = []
    if got.payload != sent.payload:
        probs.append("payload above the IP header differs: %d vs %d octets, "
                     "first difference at %d" % (len(sent.payload),
                                                 len(got.payload),
                                                 first_diff(sent.payload,
                                                            got.payload)))
    hs, hg = bytearray(sent.hdr), bytearray(got.hdr)
    for h in (hs, hg):
        if len(h) >= 12:
            h[8] = 0
            h[10:12] = b"\0\0"
    if hs != hg:
        probs.append("IP header differs beyond TTL/checksum:\n  sent %s\n  "
                     "got  %s" % (sent.hdr.hex(), got.hdr.hex()))
    if got.ttl != sent.ttl - 1:
        probs.append("TTL %d -> %d (RFC 2003 §3.1 wants exactly one "
                     "decrement across the HA)" % (sent.ttl, got.ttl))
    if not got.csum_ok:
        probs.append("received header checksum is wrong")
    return probs


def pay_is(payload):
    """Predicate for captures of plain (non-tunnelled) IP: the datagram
    whose payload above the IP header is `payload`."""
    return lambda p: p.ip if p.ip is not None and \
        p.ip.payload == payload else None


def tun_pay_is(payload, outer_dst=None, outer_src=None):
    """Predicate for tunnelled captures: the decapsulated inner datagram
    whose payload is `payload`."""
    def pred(p):
        if p.ip is None or (outer_dst and p.ip.dst != outer_dst) or \
                (outer_src and p.ip.src != outer_src):
            return None
        d = p.dec
        if d is not None and d.inner is not None and \
                d.inner.payload == payload:
            return d
        return None
    return pred


def tunnelled_inner(pred_inner, outer_dst=None):
    def pred(p):
        if p.ip is None or (outer_dst and p.ip.dst != outer_dst):
            return None
        d = p.dec
        if d is not None and d.inner is not None and pred_inner(d.inner):
            return d
        return None
    return pred


def icmp_about(itype, icode, quoted_payload8=None, quoted_dst=None,
               dst=None):
    """ICMP error (type, code) whose quote carries quoted_payload8 (the first
    8 octets above the quoted IP header)."""
    def pred(p):
        ip = p.ip
        if ip is None or ip.proto != 1 or (dst and ip.dst != dst):
            return None
        ic = ip.payload
        if len(ic) < 8 + 20 or ic[0] != itype or ic[1] != icode:
            return None
        q = try_ip(ic[8:])
        if q is None:
            return None
        if quoted_dst and q.dst != quoted_dst:
            return None
        if quoted_payload8 is not None and \
                q.raw[q.hl:q.hl + 8] != quoted_payload8[:8]:
            return None
        return {"ip": ip, "mtu": struct.unpack("!H", ic[6:8])[0],
                "quote": q, "csum_ok": inet_csum(ic) == 0}
    return pred


# --- the test bed -------------------------------------------------------------

class Bed:
    pass


B = Bed()


def build_topology():
    for n in NS.values():
        ns_add(n)
    ha = NS["ha"]
    veth(NS["mn"], "m0", ha, "h-mn")
    veth(NS["fa"], "f0", ha, "h-fa")
    veth(NS["gwa"], "g0", ha, "h-gwa")
    veth(NS["gwb"], "g0", ha, "h-gwb")
    veth(NS["in"], "i0", ha, "h-in")
    veth(NS["home"], "l0", ha, "h-home")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=ha)
    for a, dev in ((HA + "/26", "h-mn"), (HA_FA_SIDE + "/26", "h-fa"),
                   (GWA_HA + "/28", "h-gwa"), (GWB_HA + "/28", "h-gwb"),
                   (INTRA_HA + "/28", "h-in")):
        sh("ip", "-n", ha, "addr", "add", a, "dev", dev)
    for a in (COA1, COA2, ROGUE, COAB):
        sh("ip", "-n", NS["mn"], "addr", "add", a + "/26", "dev", "m0")
    sh("ip", "-n", NS["mn"], "route", "add", "default", "via", HA)
    sh("ip", "-n", NS["fa"], "addr", "add", FA_ADDR + "/26", "dev", "f0")
    sh("ip", "-n", NS["fa"], "route", "add", "default", "via", HA_FA_SIDE)
    for key, addr, gw in (("gwa", GWA, GWA_HA), ("gwb", GWB, GWB_HA)):
        sh("ip", "-n", NS[key], "addr", "add", addr + "/28", "dev", "g0")
        sh("ip", "-n", NS[key], "route", "add", "198.18.0.0/15", "via", gw)
        sh("ip", "-n", NS[key], "route", "add", "198.51.100.0/24", "via", gw)
    sh("ip", "-n", NS["in"], "addr", "add", INTRA + "/28", "dev", "i0")
    sh("ip", "-n", NS["in"], "route", "add", "default", "via", INTRA_HA)
    sh("ip", "-n", NS["home"], "addr", "add", HOME_HOST + "/24", "dev", "l0")
    # The operator's own route in beta's table (policy "open"): mipha must
    # leave it alone at start, shutdown and restart.
    sh("ip", "-n", ha, "route", "add", INTRA_NET, "dev", "h-in", "table",
       "102")
    # Strict reverse-path filtering on the home link until mipha has
    # started: it must warn (a node deregistering from home would be
    # dropped); case_routing_state_start checks and lifts it.
    sh("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", ns=ha)
    sh("sysctl", "-qw", "net.ipv4.conf.h-home.rp_filter=1", ns=ha)
    B.ha_home_mac = ipj(ha, "link", "show", "h-home")[0]["address"]
    B.home_mac = ipj(NS["home"], "link", "show", "l0")[0]["address"]


def write_config(d):
    write_cfg(d.conf, {"ha": {
        "address": HA, "control_socket": d.sock, "state_dir": d.state,
        "max_lifetime": 600, "replay_window": 7, "tenants_dir": "tenants.d",
        "fastpath": FASTPATH}})

    def node(hoa):
        return {"home_address": hoa, "spi": SPI[hoa], "algorithm": "hmac-md5",
                "key": KEY, "replay": "timestamp"}

    write_cfg(os.path.join(d.dir, "tenants.d", "acme.conf"), {"tenant": {
        "name": "acme", "table": 101, "vpn_gateway": GWA,
        "home_network": "198.18.10.0/24", "policy": "vpn-only",
        "reverse_tunnel": "allowed",
        "encapsulations": ["ipip", "gre", "minimal", "udp"],
        "max_bindings": 2, "home_interface": "h-home",
        "mobile_nodes": [node(h) for h in (HOA1, HOA2, HOA3, HOA4, HOA5)],
        "foreign_agents": [{"address": FA_ADDR, "spi": FA_SPI,
                            "algorithm": "hmac-md5", "key": FAKEY}]}})
    write_cfg(os.path.join(d.dir, "tenants.d", "beta.conf"), {"tenant": {
        "name": "beta", "table": 102, "vpn_gateway": GWB,
        "home_network": "198.18.20.0/24", "policy": "open",
        "reverse_tunnel": "allowed", "encapsulations": ["ipip", "gre"],
        "max_bindings": 1, "mobile_nodes": [node(HOAB)]}})


def start_captures():
    B.cap = {
        "mn": Capture("mn", NS["mn"], "m0"),
        "fa": Capture("fa", NS["fa"], "f0"),
        "gwa": Capture("gwa", NS["gwa"], "g0"),
        "gwb": Capture("gwb", NS["gwb"], "g0"),
        "in": Capture("in", NS["in"], "i0"),
        "home": Capture("home", NS["home"], "l0"),
    }
    for c in B.cap.values():
        c.wait_ready()


def open_endpoints():
    B.tx = {k: Sender(NS[k]) for k in ("mn", "fa", "gwa", "gwb", "in")}
    B.sinks = []
    for k in ("mn", "fa"):
        for proto in (4, 47, 55):
            B.sinks.append(sink_raw(NS[k], proto))
    for k in ("gwa", "gwb"):
        B.sinks.append(sink_raw(NS[k], 50))
        B.sinks.append(sink_udp(NS[k], 500))
        B.sinks.append(sink_udp(NS[k], 4500))
        B.sinks.append(sink_udp(NS[k], 9999))
    B.sinks.append(sink_udp(NS["in"], 9999))
    with mip.netns(NS["home"]):
        B.arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                              socket.htons(0x0806))
    B.arp.bind(("l0", 0))
    Env.socks.append(B.arp)


def marks():
    return {k: c.mark() for k, c in B.cap.items()}


# --- registration ---------------------------------------------------------------

def register(hoa, coa, flags, udp=None, keep=False):
    mn = mip.MobileNode(HA, hoa, SPI[hoa], KEY, src=coa, ns=NS["mn"])
    rep = mn.register(coa=coa, lifetime=600, flags=flags, timeout=3,
                      retries=1, udp_tunnel=udp)
    if not keep:
        mn.close()
    return (mn, rep) if keep else rep


def register_via_fa(hoa, flags=mip.F_T):
    mn = mip.MobileNode(HA, hoa, SPI[hoa], KEY, ns=NS["fa"])
    fa = mip.ForeignAgent(FA_ADDR, FA_SPI, FAKEY, ns=NS["fa"])
    msg, _ = mn.build(FA_ADDR, 600, flags)
    rep = fa.relay(msg, HA, mn=mn, timeout=3)
    fa.close()
    mn.close()
    return rep


def deregister(hoa, src):
    mn = mip.MobileNode(HA, hoa, SPI[hoa], KEY, src=src, ns=NS["mn"])
    rep = mn.deregister(flags=mip.F_D, timeout=3, retries=1)
    mn.close()
    return rep


def check_reply(rep, what):
    ok = rep is not None and rep.accepted and rep.mn_ha_valid
    return H.check(ok, "%s: accepted (code %s)" % (
        what, None if rep is None else rep.code),
        None if rep is None else json.dumps(rep.to_json()))


def binding_of(hoa, coa=None):
    for b in B.d.bindings():
        if b["home_address"] == hoa and (coa is None or
                                         b["care_of_address"] == coa):
            return b
    return None


# --- generic directions -------------------------------------------------------

def forward(gw_key, pkt, tun_cap, coa, what, n=1, expect_kind=None):
    """Send pkt from a gateway-side namespace, expect it tunnelled to coa.
    Returns the list of Decap at the MN side (n expected) or []."""
    m = marks()
    B.tx[gw_key].send(pkt)
    sent = B.cap[gw_key].wait(m[gw_key], pay_is(IPv4(pkt).payload))
    got = B.cap[tun_cap].wait(m[tun_cap], tun_pay_is(IPv4(pkt).payload,
                                                     outer_dst=coa),
                              n=n, settle=0.15 if n > 1 else 0)
    H.check(sent, "%s: the sender's capture shows the datagram" % what)
    if not H.check(len(got) == n, "%s: %d tunnelled cop%s arrive%s at %s" % (
            what, n, "y" if n == 1 else "ies", "s" if n == 1 else "",
            coa), "got %d" % len(got)):
        return []
    for p, d in got:
        if sent:
            probs = compare_hop(sent[0][1], d.inner)
            H.check(not probs, "%s: inner datagram at the MN byte for byte "
                    "the gateway's (ESP header+ciphertext+ICV identical, "
                    "TTL-1)" % what, "\n".join(probs))
        if expect_kind:
            H.check(d.kind == expect_kind, "%s: carried as %s" % (
                what, expect_kind), "got %s" % d.kind)
        H.check(p.ip.src == HA, "%s: outer source is the HA address" % what,
                repr(p.ip))
    return [d for _, d in got] + [p.ip for p, _ in got]


def reverse(tx_key, outer, inner, gw_key, what, tun_cap=None):
    """Send the tunnelled `outer` (carrying `inner`) from the MN/FA side,
    expect `inner` at gateway-side capture gw_key one hop later. outer
    "udp": RFC 3519 tunnel data from the registration's UDP socket."""
    tun_cap = tun_cap or tx_key
    m = marks()
    if outer == "udp":
        B.udp_mn.sock.sendto(b"\x04\x04\x00\x00" + inner, (HA, 434))
    else:
        B.tx[tx_key].send(outer)
    ipayload = IPv4(inner).payload
    sent = B.cap[tun_cap].wait(m[tun_cap], tun_pay_is(ipayload,
                                                      outer_dst=HA))
    got = B.cap[gw_key].wait(m[gw_key], pay_is(ipayload))
    H.check(sent, "%s: the MN-side capture shows the tunnelled datagram" %
            what)
    if not H.check(len(got) == 1, "%s: arrives at %s exactly once" % (
            what, gw_key), "got %d" % len(got)):
        return None
    if sent:
        probs = compare_hop(sent[0][1].inner, got[0][1])
        H.check(not probs, "%s: datagram at %s byte for byte the MN's inner "
                "datagram (TTL-1)" % (what, gw_key), "\n".join(probs))
    return got[0][1]


def not_delivered(tx_key, pkt, cap_key, pred, what, window=0.6):
    m = marks()
    B.tx[tx_key].send(pkt)
    hits = B.cap[cap_key].absent(m[cap_key], pred, window)
    return H.check(not hits, "%s: nothing arrives at %s" % (what, cap_key),
                   "\n".join(repr(p.ip) for p, _ in hits[:5]))


# --- cases -----------------------------------------------------------------------

def expected_state():
    """What the interface spec says mipha installs, as comparable tuples."""
    return sorted([
        ("route", "main", "198.18.10.0/24", "mip-acme", "unicast"),
        ("route", "main", "198.18.20.0/24", "mip-beta", "unicast"),
        ("route", "101", GWA, "h-gwa", "unicast"),
        ("route", "101", "default", None, "unreachable"),
        ("route", "102", GWB, "h-gwb", "unicast"),
        ("route", "102", "default", None, "unreachable"),
        ("rule", "101", "mip-acme"),
        ("rule", "102", "mip-beta"),
    ])


def own_state():
    """Every route (all tables) and rule with protocol 213, as tuples."""
    out = []
    for r in ipj(NS["ha"], "route", "show", "table", "all"):
        if str(r.get("protocol")) != RTPROT:
            continue
        out.append(("route", str(r.get("table", "main")), r.get("dst"),
                    r.get("dev"), r.get("type", "unicast")))
    for r in ipj(NS["ha"], "rule", "show"):
        if str(r.get("protocol")) == RTPROT:
            out.append(("rule", str(r.get("table")), r.get("iif")))
    return sorted(out, key=repr)


def tun_links():
    return {l["ifname"]: l for l in ipj(NS["ha"], "link", "show")
            if l["ifname"].startswith("mip-")}


def proxies():
    return {(e.get("dst"), e.get("dev")) for e in
            ipj(NS["ha"], "neigh", "show", "proxy")}


def operator_route_present():
    return any(r.get("dst") == INTRA_NET for r in
               ipj(NS["ha"], "route", "show", "table", "102"))


def case_routing_state_start():
    with H.case("routing state after start (interface spec, proto 213)"):
        st = own_state()
        want = expected_state()
        H.check(sorted(st, key=repr) == sorted(want, key=repr),
                "routes and rules with protocol 213 are exactly the spec's: "
                "home networks dev mip-* in main, gateway host route + "
                "unreachable default per table, iif rule per tenant",
                "got:\n  %s\nwant:\n  %s" % ("\n  ".join(map(repr, st)),
                                              "\n  ".join(map(repr, want))))
        rules = [r for r in ipj(NS["ha"], "rule", "show")
                 if r.get("iif", "").startswith("mip-")]
        H.check(all(str(r.get("protocol")) == RTPROT for r in rules) and
                len(rules) == 2, "the two iif rules carry protocol 213",
                json.dumps(rules))
        links = tun_links()
        for name in ("mip-acme", "mip-beta"):
            l = links.get(name)
            H.check(l is not None and "UP" in l.get("flags", []) and
                    l.get("mtu") == TUN_MTUS[name], "%s exists, up, mtu %d" % (
                        name, TUN_MTUS[name]), json.dumps(l))
        H.check(operator_route_present(), "the operator's route in table "
                "102 (not mipha's) is untouched")
        H.check("h-home has strict rp_filter" in B.d.log_text(),
                "mipha warns that the home link's strict rp_filter drops "
                "nodes deregistering from home")
        sh("sysctl", "-qw", "net.ipv4.conf.h-home.rp_filter=0", ns=NS["ha"])


def send_uncovered_tunnel_packets(src=ROGUE, inner_src="198.18.10.99"):
    inner = esp(inner_src, GWA)
    return [
        ("ipip", _set_proto(bytes(ip_hdr(src, HA) / Raw(inner)), 4)),
        ("gre", gre(inner, src, HA)),
        ("minimal", minimal(inner, src, HA)),
    ]


def case_tunnel_sockets(label, expect_unreach=False):
    name = "tunnel sockets (%s): IPIP/GRE/proto-55 no binding covers" % label
    with H.case(name):
        m = marks()
        c = Counters(B.d) if not expect_unreach else None
        for kind, pkt in send_uncovered_tunnel_packets():
            B.tx["mn"].send(pkt)
        time.sleep(1.0)   # capture at the sender for 1 s

        def unreach(p):
            ip = p.ip
            if ip is None or ip.proto != 1 or ip.dst != ROGUE:
                return None
            ic = ip.payload
            return ic[:2] == b"\x03\x02" and ic
        hits = [p for p in B.cap["mn"].since(m["mn"]) if unreach(p)]
        protos = sorted({try_ip(p.ip.payload[8:]).proto for p in hits})
        if expect_unreach:
            H.check(sorted(protos) == [4, 47, 55], "control: with no daemon "
                    "the kernel answers all three with ICMP protocol-"
                    "unreachable (so the check above is meaningful)",
                    "quoted protocols answered: %r" % protos)
        else:
            H.check(not hits, "no ICMP protocol-unreachable within 1 s "
                    "(all three raw sockets open)",
                    "answered protocols: %r" % protos)
            c.expect({"drop.spoofed-source": 3, "reverse": 0},
                     "three datagrams from inner source 198.18.10.99")


def case_register():
    with H.case("registrations (co-located, via FA, no T, tenant beta)"):
        m = marks()
        check_reply(register(HOA1, COA1, mip.F_D | mip.F_T),
                    "HoA1 co-located at %s, D T (IP-in-IP)" % COA1)
        rep = register_via_fa(HOA2)
        check_reply(rep, "HoA2 via FA %s, T" % FA_ADDR)
        H.check(rep is not None and rep.fa_ha_valid,
                "HoA2: FA-HA authenticator of the reply valid")
        check_reply(register(HOA4, COA1, mip.F_D),
                    "HoA4 co-located, reverse tunnelling NOT requested")
        check_reply(register(HOAB, COAB, mip.F_D | mip.F_T),
                    "beta's HoA co-located at %s, D T" % COAB)
        b1, b2, b4, bb = (binding_of(HOA1), binding_of(HOA2),
                          binding_of(HOA4), binding_of(HOAB))
        H.check(b1 and b1["care_of_address"] == COA1 and
                b1["encapsulation"] == "ipip" and b1["reverse_tunnel"] and
                not b1["via_fa"], "HoA1 binding: ipip, reverse, co-located",
                json.dumps(b1))
        H.check(b2 and b2["care_of_address"] == FA_ADDR and b2["via_fa"] and
                b2["reverse_tunnel"], "HoA2 binding: CoA = FA, via_fa",
                json.dumps(b2))
        H.check(b4 and not b4["reverse_tunnel"], "HoA4 binding: no reverse "
                "tunnel", json.dumps(b4))
        H.check(bb and bb["tenant"] == "beta", "beta's binding",
                json.dumps(bb))
        B.reg_marks = m


def case_esp(kind, tag):
    with H.case("ESP both ways, %s (%s)" % (kind, tag)):
        c = Counters(B.d)
        pkt = esp(GWA, HOA1, df=False)
        got = forward("gwa", pkt, "mn", COA1, "forward ESP GW->HoA",
                      expect_kind=kind)
        if got:
            d = got[0]
            H.check(decrypts(SA_DOWN, d.inner.raw), "forward ESP decrypts "
                    "and authenticates at the MN (AES-CBC/HMAC-SHA1-96)")
            B.last_fwd = (d, got[1])
        inner = esp(HOA1, GWA)
        out = encap_for(kind, inner, COA1)
        r = reverse("mn", out, inner, "gwa", "reverse ESP HoA->GW")
        if r is not None:
            H.check(decrypts(SA_UP, r.raw), "reverse ESP decrypts and "
                    "authenticates at the gateway")
        c.expect({"tunneled": 1, "reverse": 1}, "one each way")
        # IP-in-IP, GRE without a key and RFC 3519 UDP are the kernel fast
        # path's; minimal encapsulation stays with userspace. Reverse UDP
        # tunnel data is the fast path's only when its UDP checksum was
        # verified by a NIC (or is 0): this test bed's veth hands the
        # MN socket's datagram on with the checksum still to be done, so
        # userspace verifies and carries it.
        fwd = 1 if FASTPATH and kind in ("ipip", "gre", "udp") else 0
        rev = 1 if FASTPATH and kind in ("ipip", "gre") else 0
        c.expect({"fp.tunneled": fwd, "fp.reverse": rev},
                 "%s carried by the %s path" % (
                     kind, "kernel fast" if fwd else "userspace"))


def tc_filters(ifname, where):
    """mipha's tc filters on a HA interface (ingress/egress)."""
    r = subprocess.run(["ip", "netns", "exec", NS["ha"], "tc", "-j", "filter",
                        "show", "dev", ifname, where], capture_output=True,
                       text=True)
    try:
        return [f for f in json.loads(r.stdout or "[]")
                if f.get("options", {}).get("handle") == FP_HANDLE or
                "fp_" in json.dumps(f)]
    except ValueError:
        return []


def clsact_present(ifname):
    r = subprocess.run(["ip", "netns", "exec", NS["ha"], "tc", "qdisc", "show",
                        "dev", ifname], capture_output=True, text=True)
    return "clsact" in r.stdout


HA_LINKS = ("h-mn", "h-fa", "h-gwa", "h-gwb", "h-in", "h-home")


def case_fastpath_attached():
    with H.case("fast path %s" % ("attached: tc filters on every link and "
                                  "tenant device" if FASTPATH else
                                  "disabled: no tc filter anywhere")):
        st = B.d.stats()
        fp = st.get("fastpath", {})
        H.check(fp.get("enabled") is FASTPATH, "show stats: fastpath.enabled "
                "is %s" % FASTPATH, json.dumps(fp))
        want = len(HA_LINKS) if FASTPATH else 0
        H.check(st.get("fastpath_interfaces") == want,
                "fast path on %d interface(s)" % want,
                "got %r" % st.get("fastpath_interfaces"))
        for l in HA_LINKS:
            H.check(bool(tc_filters(l, "ingress")) == FASTPATH,
                    "%s: fp_reverse on ingress %s" % (
                        l, "present" if FASTPATH else "absent"))
        for t in ("mip-acme", "mip-beta"):
            H.check(bool(tc_filters(t, "egress")) == FASTPATH,
                    "%s: fp_forward on egress %s" % (
                        t, "present" if FASTPATH else "absent"))


def case_fastpath_new_link():
    with H.case("an interface added while mipha runs gets the fast path "
                "%s" % ("at once (rtnetlink)" if FASTPATH else "(disabled)")):
        n0 = B.d.stats().get("fastpath_interfaces")
        sh("ip", "link", "add", "h-late", "type", "veth", "peer", "name",
           "h-late2", ns=NS["ha"])
        try:
            sh("ip", "link", "set", "h-late", "up", ns=NS["ha"])
            end = time.monotonic() + 3
            while time.monotonic() < end and \
                    not tc_filters("h-late", "ingress"):
                time.sleep(0.05)
            H.check(bool(tc_filters("h-late", "ingress")) == FASTPATH,
                    "h-late: fp_reverse on ingress %s" % (
                        "present" if FASTPATH else "absent"))
            n1 = B.d.stats().get("fastpath_interfaces")
            H.check(n1 == (n0 + 2 if FASTPATH else 0), "fastpath_interfaces "
                    "%s -> %s (both ends of the new pair)" % (n0, n1))
        finally:
            sh("ip", "link", "del", "h-late", ns=NS["ha"], check=False)


def case_vpn_udp_kinds(kind):
    with H.case("UDP-encapsulated ESP, IKE on 4500 (non-ESP marker), IKE on "
                "500, NAT keepalive, both ways (%s)" % kind):
        c = Counters(B.d)
        items = [
            ("UDP-ESP (RFC 3948)", esp_natt(GWA, HOA1), esp_natt(HOA1, GWA),
             SA_DOWN_NAT, SA_UP_NAT),
            ("IKEv2 on 4500 with non-ESP marker", ikev2(4500, GWA, HOA1),
             ikev2(4500, HOA1, GWA), None, None),
            ("IKEv2 on 500", ikev2(500, GWA, HOA1), ikev2(500, HOA1, GWA),
             None, None),
            ("NAT-keepalive 0xFF on 4500", nat_keepalive(GWA, HOA1),
             nat_keepalive(HOA1, GWA), None, None),
        ]
        for what, down, up, sa_d, sa_u in items:
            ud = IPv4(down)
            H.check(ud.ports()[0] == struct.unpack("!H", ud.payload[:2])[0] and
                    struct.unpack("!H", ud.payload[4:6])[0] == len(ud.payload),
                    "%s: built with a correct UDP length" % what)
            got = forward("gwa", down, "mn", COA1, what + " GW->HoA",
                          expect_kind=kind)
            if got and sa_d is not None:
                H.check(decrypts(sa_d, got[0].inner.raw),
                        "%s: decrypts at the MN" % what)
            r = reverse("mn", encap_for(kind, up, COA1), up, "gwa",
                        what + " HoA->GW")
            if r is not None and sa_u is not None:
                H.check(decrypts(sa_u, r.raw), "%s: decrypts at the gateway"
                        % what)
        c.expect({"tunneled": 4, "reverse": 4}, "four each way")


def case_df_tos(kind):
    with H.case("RFC 2003 §3.1 DF and TOS copied to the outer header (%s)" %
                kind):
        for df in (True, False):
            pkt = esp(GWA, HOA1, df=df, tos=0x28)
            got = forward("gwa", pkt, "mn", COA1, "forward, inner DF=%d "
                          "TOS 0x28" % df)
            if got:
                outer = got[1]
                if kind == "minimal":
                    H.check(outer.df == df and outer.tos == 0x28,
                            "minimal: the (modified original) header keeps "
                            "DF=%d and TOS" % df, repr(outer))
                else:
                    H.check(outer.df == df, "outer DF == inner DF (%d)" % df,
                            repr(outer))
                    H.check(outer.tos == 0x28, "outer TOS copied (0x28)",
                            "outer tos 0x%02x" % outer.tos)


def case_outer_format(kind):
    with H.case("outer header format, %s" % kind):
        d, outer = B.last_fwd
        H.check(outer.csum_ok, "outer IPv4 header checksum valid")
        if kind == "ipip":
            H.check(outer.proto == 4 and outer.hl == 20,
                    "protocol 4, 20-octet outer header", repr(outer))
            sp = IP(outer.raw)
            H.check(isinstance(sp.payload, IP) and
                    bytes(sp.payload) == d.inner.raw,
                    "scapy decodes IP/IP to the same inner datagram",
                    sp.summary())
        elif kind == "gre":
            i = d.info
            H.check(outer.proto == 47 and i["version"] == 0 and
                    i["proto"] == 0x0800, "protocol 47, GRE version 0, "
                    "type 0x0800 (RFC 2784 §2)", json.dumps(i))
            H.check(not i["C"] and not i["S"] and i["glen"] == 4 and
                    (i["flags"] & 0x4fff) == 0,
                    "no checksum, no sequence, reserved bits zero", json.dumps(i))
            H.check(not i["K"], "no GRE key (mipha never negotiates one: "
                    "no RFC 6245 GRE Key extension in registration)",
                    json.dumps(i))
            sp = IP(outer.raw)
            H.check(sp.haslayer(GRE) and sp[GRE].proto == 0x0800 and
                    bytes(sp[GRE].payload) == d.inner.raw,
                    "scapy's GRE decodes it to the same inner datagram",
                    sp.summary())
        elif kind == "minimal":
            i = d.info
            H.check(outer.proto == 55, "protocol 55", repr(outer))
            H.check(i["S"] and i["orig_src"] == GWA and i["orig_dst"] == HOA1,
                    "S=1 with the original source (the HA is not the "
                    "original sender, RFC 2004 §3)", json.dumps(i))
            H.check(i["mh_csum_ok"] and i["reserved"] == 0,
                    "forwarding header checksum valid, reserved zero",
                    json.dumps(i))
            H.check(i["proto"] == 50, "forwarding header protocol = ESP",
                    json.dumps(i))
            H.check(outer.src == HA and outer.dst == COA1 and
                    not outer.is_fragment, "modified header: HA -> CoA",
                    repr(outer))
        elif kind == "udp":
            i = d.info
            H.check(outer.proto == 17 and i["sport"] == 434 and
                    i["dport"] == B.udp_mn.sock.getsockname()[1] and
                    i["next"] == 4 and i["reserved"] == b"\0\0",
                    "UDP from 434 to the registration's source port, MIP "
                    "Tunnel Data type 4, next header 4 (RFC 3519 §3.3)",
                    repr(i))


def reassemble(frags):
    """frags: inner IPv4 fragments of one datagram -> bytes or a problem."""
    frags = sorted(frags, key=lambda f: f.off)
    if not frags or frags[0].off != 0:
        return None, "no first fragment"
    data = b""
    for f in frags:
        if f.off != len(data):
            return None, "gap/overlap at %d (have %d)" % (f.off, len(data))
        data += f.payload
    if frags[-1].mf:
        return None, "last fragment has MF"
    return data, None


def case_pmtu(kind):
    with H.case("path MTU, %s (TUN MTU %d, link MTU %d)" % (
            kind, TUN_MTU, LINK_MTU)):
        overhead = {"ipip": 20, "gre": 24, "minimal": 12, "udp": 32}[kind]
        inner_max = min(TUN_MTU, LINK_MTU - overhead)
        sh("ip", "-n", NS["gwa"], "route", "flush", "cache", check=False)

        # Without DF: arrives fragmented (inner fragments), reassembles.
        for size in ([1496] + ([1480] if kind in ("gre", "udp") else [])):
            pkt = esp(GWA, HOA1, size=size, df=False)
            ip0 = IPv4(pkt)
            m = marks()
            c = Counters(B.d)
            B.tx["gwa"].send(pkt)

            def is_frag(p, ip0=ip0):
                if p.ip is None or p.ip.dst != COA1:
                    return None
                d = p.dec
                if d and d.inner and d.inner.src == GWA and \
                        d.inner.id == ip0.id and d.inner.proto == 50:
                    return d
                return None
            got = B.cap["mn"].wait(m["mn"], is_frag, n=2, settle=0.2)
            frags = [d.inner for _, d in got]
            if len(got) < 2:
                H.note("%s, no DF, %d octets: counters %r" % (
                    kind, size, c.delta()))
            H.check(len(got) >= 2 and all(d.inner.is_fragment for _, d in got),
                    "no DF, %d octets: arrives at the MN as %d inner "
                    "fragments" % (size, len(got)),
                    "\n".join("%s in %r" % (d.kind, p.ip) for p, d in got))
            data, prob = reassemble(frags)
            H.check(data == ip0.payload, "no DF, %d octets: the fragments "
                    "reassemble to the gateway's datagram" % size,
                    prob or "reassembled %d octets, first difference at %s" %
                    (len(data or b""), first_diff(data or b"", ip0.payload)))
            if frags:
                f0 = min(frags, key=lambda f: f.off)
                H.check(f0.ttl == ip0.ttl - 1 and f0.src == ip0.src and
                        f0.dst == ip0.dst and f0.tos == ip0.tos,
                        "fragments: TTL-1, addresses and TOS of the original",
                        repr(f0))
            H.check(all(p.ip.tot <= LINK_MTU for p, _ in got),
                    "every outer datagram fits the %d-octet link" % LINK_MTU,
                    "\n".join(repr(p.ip) for p, _ in got))
            kinds = sorted({d.kind for _, d in got})
            if kind == "minimal":
                H.check(kinds == ["ipip"], "fragments travel in IP-in-IP "
                        "(RFC 2004 §3: minimal encapsulation MUST NOT carry "
                        "fragments)", "got %r" % kinds)
            else:
                H.check(kinds == [kind], "fragments travel in %s" % kind,
                        "got %r" % kinds)
            c.expect({}, "no drops", strict_drops=True)

        # With DF, over the limit: ICMP fragmentation needed at the gateway,
        # from the kernel at the TUN device, whose MTU already leaves room
        # for every encapsulation of the tenant (mipha's own check is
        # exercised by the narrower egress link case).
        cases = [(1496, TUN_MTU, "the kernel at the TUN device")]
        for size, want_mtu, who in cases:
            pkt = esp(GWA, HOA1, size=size, df=True)
            ip0 = IPv4(pkt)
            m = marks()
            c = Counters(B.d)
            B.tx["gwa"].send(pkt)
            pred = icmp_about(3, 4, ip0.payload, quoted_dst=HOA1, dst=GWA)
            got = B.cap["gwa"].wait(m["gwa"], pred)
            H.check(got, "DF, %d octets: ICMP fragmentation-needed back at the "
                    "gateway" % size)
            if got:
                v = got[0][1]
                H.check(v["mtu"] == want_mtu, "DF, %d octets: next-hop MTU %d "
                        "(from %s)" % (size, want_mtu, who),
                        "got %d from %s" % (v["mtu"], v["ip"].src))
                H.check(v["csum_ok"], "ICMP checksum valid")
                H.check(v["mtu"] + overhead <= LINK_MTU,
                        "the announced MTU plus the %s overhead (%d) fits the "
                        "link" % (kind, overhead),
                        "%d + %d > %d" % (v["mtu"], overhead, LINK_MTU))
            late = B.cap["mn"].absent(m["mn"], tunnelled_inner(
                lambda i, ip0=ip0: i.src == GWA and i.id == ip0.id), 0.3)
            H.check(not late, "DF, %d octets: nothing reaches the MN" % size)
            if who.startswith("mipha"):
                c.expect({"drop.too-big": 1}, "mipha counted it")
        # The largest DF datagram that fits passes.
        if kind in ("gre", "udp"):
            pkt = bytes(ip_hdr(GWA, HOA1, df=True) /
                        ESP(spi=0x0b0000ff, seq=1,
                            data=os.urandom(inner_max - 28)))
            assert len(pkt) == inner_max
            got = forward("gwa", pkt, "mn", COA1, "DF, %d octets (the limit)"
                          % inner_max)
            if got:
                H.check(got[1].tot == inner_max + overhead,
                        "outer datagram is exactly %d (<= %d)" %
                        (inner_max + overhead, LINK_MTU), repr(got[1]))


def case_via_fa():
    with H.case("via a foreign agent (the FA namespace is the tunnel end)"):
        c = Counters(B.d)
        pkt = esp(GWA, HOA2)
        got = forward("gwa", pkt, "fa", FA_ADDR, "forward ESP GW->HoA2 to "
                      "the FA", expect_kind="ipip")
        if got:
            H.check(decrypts(SA_DOWN, got[0].inner.raw),
                    "decrypts behind the FA")
        inner = esp(HOA2, GWA)
        r = reverse("fa", encap_for("ipip", inner, FA_ADDR), inner, "gwa",
                    "reverse ESP from the FA (RFC 3024)")
        if r is not None:
            H.check(decrypts(SA_UP, r.raw), "decrypts at the gateway")
        inner = esp_natt(HOA2, GWA)
        reverse("fa", encap_for("ipip", inner, FA_ADDR), inner, "gwa",
                "reverse UDP-ESP from the FA")
        c.expect({"tunneled": 1, "reverse": 2}, "one forward, two reverse")


def case_reencap(kind):
    flags = mip.F_D | mip.F_T | {"ipip": 0, "gre": mip.F_G,
                                 "minimal": mip.F_M, "udp": 0}[kind]
    with H.case("re-register HoA1 with %s" % kind):
        if kind == "udp":
            mn, rep = register(HOA1, COA1, flags, keep=True,
                               udp=mip.UdpTunnelReq(encap=0, force=True))
            B.udp_mn = mn
            Env.socks.append(mn.sock)
            ext = rep.ext(mip.EXT_UDP_TUNNEL_REPLY) if rep else None
            H.check(ext is not None and ext.data[1] == 0,
                    "UDP Tunnel Reply extension, code 0 (accepted)")
        else:
            rep = register(HOA1, COA1, flags)
        check_reply(rep, "HoA1 at %s with %s" % (COA1, kind))
        b = binding_of(HOA1)
        H.check(b and b["encapsulation"] == kind and b["reverse_tunnel"],
                "binding says encapsulation %s" % kind, json.dumps(b))


def fragments_of(b, size=1200):
    """RFC 791 fragments of datagram b (bytes), each at most size octets."""
    ip0 = IPv4(b)
    step = (size - ip0.hl) // 8 * 8
    out = []
    for off in range(0, len(ip0.payload), step):
        chunk = ip0.payload[off:off + step]
        last = off + step >= len(ip0.payload)
        h = bytearray(ip0.hdr)
        fr = (off // 8) | (0 if last else 0x2000) | (0x4000 if ip0.df else 0)
        h[2:4] = struct.pack("!H", ip0.hl + len(chunk))
        h[6:8] = struct.pack("!H", fr)
        h[10:12] = b"\0\0"
        h[10:12] = struct.pack("!H", inet_csum(bytes(h)))
        out.append(bytes(h) + chunk)
    return out


def case_fragmented_vpn():
    """Large IKE messages (certificates in IKE_AUTH) and large UDP-ESP are
    IP-fragmented; under vpn-only every fragment must pass both ways."""
    for label, mk in (
            ("ESP (protocol 50)", lambda s, d: esp(s, d, n=1800)),
            ("IKEv2 on UDP 4500 (non-ESP marker)",
             lambda s, d: bytes(ip_hdr(s, d) / UDP(sport=4500, dport=4500) /
                                Raw(b"\0\0\0\0" + os.urandom(1800)))),
            ("IKEv2 on UDP 500",
             lambda s, d: bytes(ip_hdr(s, d) / UDP(sport=500, dport=500) /
                                Raw(os.urandom(1800))))):
        with H.case("vpn-only, %s fragmented (1800 octets in 2 fragments), "
                    "both ways" % label):
            c = Counters(B.d)
            for direction in ("HoA->GW", "GW->HoA"):
                src, dst = (HOA1, GWA) if direction == "HoA->GW" else \
                    (GWA, HOA1)
                frags = fragments_of(mk(src, dst))
                m = marks()
                for f in frags:
                    if direction == "HoA->GW":
                        B.tx["mn"].send(encap_for("ipip", f, COA1))
                    else:
                        B.tx["gwa"].send(f)
                arrived = []
                for f in frags:
                    pl = IPv4(f).payload
                    if direction == "HoA->GW":
                        got = B.cap["gwa"].wait(m["gwa"], pay_is(pl),
                                                timeout=1.0)
                    else:
                        got = B.cap["mn"].wait(m["mn"], tun_pay_is(pl, COA1),
                                               timeout=1.0)
                    arrived.append(bool(got))
                H.check(all(arrived), "%s %s: all %d fragments arrive" % (
                    direction, label, len(frags)),
                    "arrived (first, ...): %r" % arrived)
            c.expect({"reverse": len(frags), "tunneled": len(frags)},
                     "every fragment carried")


def case_ttl():
    with H.case("RFC 2003 TTL: inner TTL 1 expires at the HA, both ways"):
        c = Counters(B.d)
        pkt = esp(GWA, HOA1, ttl=1)
        ip0 = IPv4(pkt)
        m = marks()
        B.tx["gwa"].send(pkt)
        got = B.cap["gwa"].wait(m["gwa"], icmp_about(11, 0, ip0.payload,
                                                     dst=GWA))
        H.check(got, "forward, TTL 1: ICMP time exceeded back at the gateway")
        late = B.cap["mn"].absent(m["mn"], tun_pay_is(ip0.payload), 0.3)
        H.check(not late, "forward, TTL 1: nothing tunnelled to the MN")
        inner = esp(HOA1, GWA, ttl=1)
        ipi = IPv4(inner)
        m = marks()
        B.tx["mn"].send(encap_for("ipip", inner, COA1))
        late = B.cap["gwa"].absent(m["gwa"], pay_is(ipi.payload), 0.4)
        H.check(not late, "reverse, inner TTL 1: nothing reaches the gateway")
        c.expect({"reverse": 1}, "decapsulated once (the HA's forwarding "
                 "then expires it)", strict_drops=False)


def icmp_quoting(itype, payload8, outer_dst):
    return tunnelled_inner(
        lambda i: i.proto == 1 and i.payload[:1] == bytes([itype]) and
        try_ip(i.payload[8:]) is not None and
        try_ip(i.payload[8:]).payload[:8] == payload8[:8],
        outer_dst=outer_dst)


def case_ha_icmp():
    with H.case("ICMP errors the HA's own stack originates about a mobile "
                "node's traffic reach the mobile node"):
        c = Counters(B.d)
        mt = B.diag["tun-acme"].mark() if B.diag.get("tun-acme") else None
        inner = esp(HOA1, GWA, ttl=1)
        ipi = IPv4(inner)
        m = marks()
        B.tx["mn"].send(encap_for("ipip", inner, COA1))
        got = B.cap["mn"].wait(m["mn"], icmp_quoting(11, ipi.payload, COA1))
        seen = []
        if mt is not None:
            seen = [p.ip for p in B.diag["tun-acme"].since(mt)
                    if p.ip is not None and p.ip.proto == 1]
        H.check(got, "vpn-only: time exceeded about HoA1's ESP (inner TTL 1) "
                "is tunnelled back to HoA1 (spec: ICMP errors about VPN "
                "traffic pass, both ways)",
                "on mip-acme (into mipha): %r" % seen)
        inner = esp(HOAB, GWA)
        ipi = IPv4(inner)
        m = marks()
        B.tx["mn"].send(encap_for("ipip", inner, COAB))
        got = B.cap["mn"].wait(m["mn"], icmp_quoting(3, ipi.payload, COAB))
        H.check(got, "open: the unreachable error of beta's table (its "
                "`unreachable default`) is tunnelled back to beta's MN")
        # Reverse-path PMTU discovery: the HA's link to the gateway is
        # smaller than what the mobile node sends with DF.
        for ns, dev in ((NS["ha"], "h-gwa"), (NS["gwa"], "g0")):
            sh("ip", "-n", ns, "link", "set", dev, "mtu", "1400")
        try:
            inner = esp(HOA1, GWA, size=1464, df=True)
            ipi = IPv4(inner)
            m = marks()
            B.tx["mn"].send(encap_for("ipip", inner, COA1))
            got = B.cap["mn"].wait(m["mn"], icmp_quoting(3, ipi.payload,
                                                         COA1))
            H.check(got and struct.unpack("!H", got[0][1].inner.payload[6:8])
                    [0] == 1400, "vpn-only: fragmentation-needed (MTU 1400) "
                    "from the HA's forwarding towards the gateway reaches "
                    "HoA1 (reverse-path PMTU discovery, spec: 'so path MTU "
                    "discovery works')")
        finally:
            for ns, dev in ((NS["ha"], "h-gwa"), (NS["gwa"], "g0")):
                sh("ip", "-n", ns, "link", "set", dev, "mtu", "1500")
        c.expect({"reverse": 3, "tunneled": 3},
                 "three delivered, their three ICMP errors tunnelled")


def case_simultaneous():
    with H.case("simultaneous bindings (S, max_bindings 2): each forward "
                "datagram duplicated to both CoAs"):
        check_reply(register(HOA3, COA1, mip.F_S | mip.F_D | mip.F_T),
                    "HoA3 S at %s" % COA1)
        rep = register(HOA3, COA2, mip.F_S | mip.F_D | mip.F_T)
        check_reply(rep, "HoA3 S at %s" % COA2)
        H.check(rep is not None and rep.code == 0, "code 0 (simultaneous "
                "bindings supported), not 1")
        coas = sorted(b["care_of_address"] for b in B.d.bindings()
                      if b["home_address"] == HOA3)
        H.check(coas == [COA1, COA2], "show bindings: both CoAs", repr(coas))
        c = Counters(B.d)
        pkt = esp(GWA, HOA3)
        ip0 = IPv4(pkt)
        m = marks()
        B.tx["gwa"].send(pkt)
        got = B.cap["mn"].wait(m["mn"], tun_pay_is(ip0.payload), n=2,
                               settle=0.3)
        dsts = sorted(p.ip.dst for p, _ in got)
        H.check(dsts == [COA1, COA2], "one copy to each CoA, no more",
                repr(dsts))
        sent = B.cap["gwa"].wait(m["gwa"], pay_is(ip0.payload))
        for p, d in got:
            if sent:
                probs = compare_hop(sent[0][1], d.inner)
                H.check(not probs, "copy to %s byte for byte (TTL-1)" %
                        p.ip.dst, "\n".join(probs))
        c.expect({"tunneled": 2}, "two datagrams tunnelled")
        inner = esp(HOA3, GWA)
        reverse("mn", encap_for("ipip", inner, COA2), inner, "gwa",
                "reverse from the second CoA")
        inner = esp(HOA3, GWA)
        reverse("mn", encap_for("ipip", inner, COA1), inner, "gwa",
                "reverse from the first CoA")


def case_simultaneous_back_to_one():
    with H.case("simultaneous bindings back to one: the remaining CoA is "
                "the %s path's again" % ("fast" if FASTPATH else "userspace")):
        mn = mip.MobileNode(HA, HOA3, SPI[HOA3], KEY, src=COA2, ns=NS["mn"])
        rep = mn.register(coa=COA2, lifetime=0,
                          flags=mip.F_S | mip.F_D | mip.F_T, timeout=3,
                          retries=1)
        mn.close()
        check_reply(rep, "HoA3 deregisters %s only (S, lifetime 0)" % COA2)
        coas = [b["care_of_address"] for b in B.d.bindings()
                if b["home_address"] == HOA3]
        H.check(coas == [COA1], "show bindings: only %s left" % COA1,
                repr(coas))
        c = Counters(B.d)
        forward("gwa", esp(GWA, HOA3), "mn", COA1,
                "forward ESP to the one CoA left")
        inner = esp(HOA3, GWA)
        reverse("mn", encap_for("ipip", inner, COA1), inner, "gwa",
                "reverse from the one CoA left")
        n = 1 if FASTPATH else 0
        c.expect({"tunneled": 1, "reverse": 1, "fp.tunneled": n,
                  "fp.reverse": n}, "one each way, by the %s path" % (
                      "fast" if FASTPATH else "userspace"))


def case_drop_reverse(what, outer_src, inner, reason, cap_key="gwa",
                      extra=None):
    with H.case("drop %s: %s" % (reason, what)):
        c = Counters(B.d)
        pkt = encap_for("ipip", inner, outer_src)
        ipi = IPv4(inner)
        not_delivered("mn", pkt, cap_key, lambda p: p.ip is not None and
                      p.ip.src == ipi.src and p.ip.dst == ipi.dst,
                      "%s from %s" % (what, outer_src))
        want = {"drop." + reason: 1, "reverse": 0}
        if extra:
            want.update(extra)
        c.expect(want, "counted as packets_dropped.%s" % reason)


def case_drop_forward(what, tx_key, pkt, reason, extra=None):
    with H.case("drop %s: %s" % (reason, what)):
        c = Counters(B.d)
        ip0 = IPv4(pkt)
        not_delivered(tx_key, pkt, "mn", tunnelled_inner(
            lambda i: i.src == ip0.src and i.dst == ip0.dst), what)
        want = {"drop." + reason: 1, "tunneled": 0}
        if extra:
            want.update(extra)
        c.expect(want, "counted as packets_dropped.%s" % reason)


def case_no_binding():
    with H.case("drop no-binding: ESP from the gateway to an unbound HoA"):
        c = Counters(B.d)
        pkt = esp(GWA, HOA_UNBOUND)
        ip0 = IPv4(pkt)
        m = marks()
        B.tx["gwa"].send(pkt)
        got = B.cap["gwa"].wait(m["gwa"], icmp_about(3, 1, ip0.payload,
                                                     quoted_dst=HOA_UNBOUND,
                                                     dst=GWA))
        H.check(got, "ICMP host unreachable back at the gateway, quoting it")
        if got:
            H.check(got[0][1]["ip"].src == HA and got[0][1]["csum_ok"],
                    "from the HA address, valid checksum",
                    repr(got[0][1]["ip"]))
            q = got[0][1]["quote"]
            if q.ttl != ip0.ttl:
                H.note("mipha's ICMP quotes the datagram with TTL %d, as "
                       "read from the TUN device after the kernel's "
                       "decrement (sent with %d; RFC 1812 §4.3.2.3 quotes "
                       "the datagram as received)" % (q.ttl, ip0.ttl))
        late = B.cap["mn"].absent(m["mn"], tunnelled_inner(
            lambda i: i.dst == HOA_UNBOUND), 0.3)
        H.check(not late, "nothing tunnelled anywhere for it")
        c.expect({"drop.no-binding": 1, "tunneled": 0, "icmp_sent": 1},
                 "no-binding counted, one ICMP sent")

    with H.case("ICMP host unreachable is rate limited (burst of 400)"):
        time.sleep(2.1)                   # let the token bucket refill
        c = Counters(B.d)
        m = marks()
        pkts = [esp(GWA, HOA_UNBOUND, n=0) for _ in range(400)]
        t0 = time.monotonic()
        for p in pkts:
            B.tx["gwa"].send(p)
        dt = time.monotonic() - t0
        time.sleep(1.0)
        icmps = [p for p in B.cap["gwa"].since(m["gwa"])
                 if p.ip is not None and p.ip.proto == 1 and
                 p.ip.payload[:2] == b"\x03\x01" and p.ip.src == HA]
        d = c.delta()
        nb = d.get("drop.no-binding", 0)
        H.check(nb == 400, "all 400 counted as no-binding", "got %d" % nb)
        limit = 200 + 100 * (dt + 0.2) + 1
        H.check(0 < len(icmps) <= limit and len(icmps) < nb,
                "%d ICMP errors came back: at least one, at most the burst "
                "(200) + 100/s (sent in %.3fs)" % (len(icmps), dt),
                "got %d, limit %.0f" % (len(icmps), limit))
        H.check(d.get("icmp_sent", 0) == len(icmps) and
                d.get("icmp_sent", 0) + d.get("icmp_rate_limited", 0) == nb,
                "icmp_sent (%d) = received, icmp_sent + icmp_rate_limited = "
                "no-binding drops" % d.get("icmp_sent", 0), repr(d))


def case_drops():
    case_no_binding()
    case_drop_reverse("tunnelled from an address that is not HoA1's CoA",
                      ROGUE, esp(HOA1, GWA), "wrong-coa")
    case_drop_reverse("inner source a configured but unbound HoA", COA1,
                      esp(HOA5, GWA), "spoofed-source")
    case_drop_reverse("inner source in no tenant's home network", COA1,
                      esp("198.19.99.9", GWA), "spoofed-source")
    # The inner source is another node's (bound) HoA: miphactl(8) counts a
    # packet "from an address that is not the binding's care-of address"
    # as wrong-coa.
    case_drop_reverse("inner source another node's HoA (HoA2, bound via the "
                      "FA) from HoA1's CoA", COA1, esp(HOA2, GWA), "wrong-coa")
    case_drop_reverse("inner source tenant beta's HoA from acme's CoA", COA1,
                      esp(HOAB, GWB), "wrong-coa", cap_key="gwb")
    case_drop_reverse("binding registered without T", COA1, esp(HOA4, GWA),
                      "reverse-tunnel-not-allowed")
    with H.case("drop wrong-encapsulation: GRE from the CoA of an IP-in-IP "
                "binding (RFC 3024 §4.3.2: not negotiated, MUST discard)"):
        c = Counters(B.d)
        inner = esp(HOA1, GWA)
        ipi = IPv4(inner)
        not_delivered("mn", gre(inner, COA1, HA), "gwa", pay_is(ipi.payload),
                      "GRE from %s" % COA1)
        c.expect({"drop.wrong-encapsulation": 1, "reverse": 0},
                 "counted as packets_dropped.wrong-encapsulation")
    # Tenants.
    case_drop_reverse("acme's HoA to beta's gateway (vpn-only)", COA1,
                      esp(HOA1, GWB), "policy", cap_key="gwb")
    case_drop_forward("beta's gateway sends ESP to acme's HoA", "gwb",
                      esp(GWB, HOA1), "policy")
    with H.case("tenant tables: beta (open) HoA -> acme's gateway never "
                "leaves through beta's table"):
        c = Counters(B.d)
        inner = esp(HOAB, GWA)
        ipi = IPv4(inner)
        m = marks()
        B.tx["mn"].send(encap_for("ipip", inner, COAB))
        late = B.cap["gwa"].absent(m["gwa"], pay_is(ipi.payload), 0.6)
        H.check(not late, "nothing from beta's HoA reaches acme's gateway")
        c.expect({"reverse": 1, "drop.policy": 0}, "mipha delivered it into "
                 "beta's table (policy open), the table refused it",
                 strict_drops=False)
    # vpn-only, reverse.
    case_drop_reverse("plaintext UDP from HoA1 to the intranet host", COA1,
                      udp_plain(HOA1, INTRA), "policy", cap_key="in")
    case_drop_reverse("ICMP echo from HoA1 to its gateway", COA1,
                      echo(HOA1, GWA), "policy")
    case_drop_reverse("UDP to port 9999 of the gateway", COA1,
                      udp_plain(HOA1, GWA), "policy")
    # vpn-only, forward.
    case_drop_forward("plaintext UDP from the gateway to HoA1", "gwa",
                      udp_plain(GWA, HOA1), "policy")
    case_drop_forward("ICMP echo from the gateway to HoA1", "gwa",
                      echo(GWA, HOA1), "policy")
    case_drop_forward("plaintext UDP from the intranet host to HoA1", "in",
                      udp_plain(INTRA, HOA1), "policy")
    with H.case("vpn-only lets ICMP errors about VPN traffic through, both "
                "ways"):
        c = Counters(B.d)
        q = IPv4(ikev2(4500, HOA1, GWA))
        err = bytes(ip_hdr(GWA, HOA1) / ICMP(type=3, code=3) /
                    Raw(q.raw[:q.hl + 8]))
        forward("gwa", err, "mn", COA1, "port unreachable from the gateway "
                "about HoA1's UDP 4500")
        q = IPv4(esp(GWA, HOA1))
        err = bytes(ip_hdr(HOA1, GWA) / ICMP(type=3, code=4, nexthopmtu=1400)
                    / Raw(q.raw[:q.hl + 8]))
        reverse("mn", encap_for("ipip", err, COA1), err, "gwa",
                "frag-needed from HoA1 about the gateway's ESP")
        c.expect({"tunneled": 1, "reverse": 1}, "both passed")


def case_open_policy():
    with H.case("policy open (tenant beta): the same plaintext passes along "
                "the tenant's table"):
        c = Counters(B.d)
        inner = udp_plain(HOAB, INTRA)
        reverse("mn", encap_for("ipip", inner, COAB), inner, "in",
                "plaintext UDP beta HoA -> intranet host")
        pkt = udp_plain(INTRA, HOAB)
        forward("in", pkt, "mn", COAB, "plaintext UDP intranet host -> beta "
                "HoA")
        inner = esp(HOAB, GWB)
        reverse("mn", encap_for("ipip", inner, COAB), inner, "gwb",
                "ESP beta HoA -> beta's gateway")
        inner = echo(HOAB, GWB)
        m = marks()
        reverse("mn", encap_for("ipip", inner, COAB), inner, "gwb",
                "ICMP echo beta HoA -> beta's gateway (open)")
        ident = IPv4(inner).payload[4:8]
        got = B.cap["mn"].wait(m["mn"], tunnelled_inner(
            lambda i: i.proto == 1 and i.src == GWB and i.dst == HOAB and
            i.payload[:1] == b"\x00" and i.payload[4:8] == ident,
            outer_dst=COAB))
        H.check(got, "the gateway's echo reply is tunnelled back (open)")
        c.expect({"reverse": 3, "tunneled": 2}, "three reverse; one forward "
                 "plus the echo reply")


def arp_request(target):
    frame = b"\xff" * 6 + bytes.fromhex(B.home_mac.replace(":", "")) + \
        b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + \
        bytes.fromhex(B.home_mac.replace(":", "")) + \
        socket.inet_aton(HOME_HOST) + b"\0" * 6 + socket.inet_aton(target)
    B.arp.send(frame)


def arp_reply_for(target):
    def pred(p):
        a = parse_arp(p.arp)
        if a and a["op"] == 2 and a["spa"] == target and \
                a["tpa"] == HOME_HOST:
            return a
        return None
    return pred


def case_proxy_arp():
    with H.case("proxy ARP and gratuitous ARP on the home link "
                "(RFC 5944 §4.6)"):
        px = proxies()
        for hoa in (HOA1, HOA2, HOA4):
            H.check((hoa, "h-home") in px, "ip neigh show proxy lists %s on "
                    "h-home" % hoa, repr(sorted(px)))
        pxj = ipj(NS["ha"], "neigh", "show", "proxy")
        H.check(not any(e.get("dst") == HOAB for e in pxj),
                "no proxy entry for beta (no home_interface)")
        # Gratuitous ARPs seen since the registrations: every broadcast ARP
        # frame from the HA's home interface.
        ha_mac = bytes.fromhex(B.ha_home_mac.replace(":", ""))
        frames = [p for p in B.cap["home"].since(B.reg_marks["home"])
                  if p.arp is not None and p.eth_src == ha_mac and
                  p.eth_dst == b"\xff" * 6]
        bad_hdr = [p for p in frames if p.arp[:6] != bytes.fromhex(
            "000108000604")]
        H.check(frames and not bad_hdr, "the HA's broadcast ARP frames on the "
                "home link are well-formed (htype 1, ptype 0x0800, hlen 6, "
                "plen 4)", "%d frame(s), %d malformed, e.g.:\n%s" % (
                    len(frames), len(bad_hdr), "\n".join(
                        p.frame.hex() for p in bad_hdr[:3])))
        garps = [parse_arp(p.arp) for p in frames if p not in bad_hdr]
        garps = [a for a in garps if a and a["spa"] == a["tpa"]]
        # What the malformed ones meant (a second Ethernet header in front
        # of the ARP message), to judge their fields too.
        meant = [parse_arp(p.frame[28:56]) for p in bad_hdr
                 if p.frame[14:20] == b"\xff" * 6 and
                 p.frame[26:28] == b"\x08\x06"]
        meant = [a for a in meant if a and a["spa"] == a["tpa"]]
        for hoa in (HOA1, HOA2, HOA4):
            mine = [a for a in garps if a["spa"] == hoa]
            H.check(mine and all(a["sha"] == B.ha_home_mac for a in mine),
                    "gratuitous ARP for %s broadcast with the HA's MAC "
                    "(MUST, §4.6)" % hoa, repr(mine))
            mine = mine + [a for a in meant if a["spa"] == hoa]
            bad = [a for a in mine if a["op"] == 2 and
                   a["tha"] != B.ha_home_mac]
            H.check(mine and not bad, "gratuitous ARP Reply for %s: Target "
                    "Hardware Address = the HA's MAC (§4.6: 'When using an "
                    "ARP Reply packet, the Target Hardware Address is also "
                    "set to the link-layer address to which this cache entry "
                    "should be updated')" % hoa, "\n".join(
                        "op %d sha %s spa %s tha %s tpa %s" % (
                            a["op"], a["sha"], a["spa"], a["tha"], a["tpa"])
                        for a in mine))
            if len(mine) < 2:
                H.note("gratuitous ARP for %s sent %d time(s); §4.6 SHOULD "
                       "retransmit a small number of times" % (hoa, len(mine)))
        m = marks()
        arp_request(HOA1)
        got = B.cap["home"].wait(m["home"], arp_reply_for(HOA1))
        H.check(got and got[0][1]["sha"] == B.ha_home_mac,
                "home host resolving %s gets the HA's MAC %s" % (
                    HOA1, B.ha_home_mac), repr(got and got[0][1]))
        rep = deregister(HOA4, COA1)
        check_reply(rep, "HoA4 deregisters (lifetime 0)")
        H.check(binding_of(HOA4) is None, "HoA4's binding is gone")
        px = proxies()
        H.check((HOA4, "h-home") not in px and (HOA1, "h-home") in px,
                "after deregistration HoA4's proxy entry is gone, HoA1's "
                "stays", repr(sorted(px)))
        m = marks()
        arp_request(HOA4)
        late = B.cap["home"].absent(m["home"], arp_reply_for(HOA4), 0.5)
        H.check(not late, "nobody answers ARP for %s any more" % HOA4)


def garp_for(hoa, sha, eth_src):
    """A gratuitous ARP Reply for hoa announcing sha, sent by eth_src."""
    def pred(p):
        a = parse_arp(p.arp)
        if a and p.eth_src == eth_src and p.eth_dst == b"\xff" * 6 and \
                a["op"] == 2 and a["spa"] == hoa and a["tpa"] == hoa and \
                a["sha"] == sha and a["tha"] == sha:
            return a
        return None
    return pred


def case_return_home():
    with H.case("a node back on its home link deregisters there: the reply "
                "leaves on the home link, refusal included (RFC 5944 "
                "§3.8.3.1); then the HA announces the node's own MAC "
                "(§4.6)"):
        home = NS["home"]
        ha_mac = bytes.fromhex(B.ha_home_mac.replace(":", ""))
        check_reply(register(HOA4, COA1, mip.F_D), "HoA4 registers again")
        H.check((HOA4, "h-home") in proxies(), "HoA4 is proxied again")
        # The node is at home: its home address on the home link, and the
        # HA's address reachable over that link (the HA answers ARP for
        # any of its addresses).
        sh("ip", "-n", home, "addr", "add", HOA4 + "/32", "dev", "l0")
        sh("ip", "-n", home, "route", "add", HA + "/32", "dev", "l0")
        try:
            before = B.d.stats()
            m = marks()
            mn = mip.MobileNode(HA, HOA4, SPI[HOA4],
                                "0x" + "5a" * 16, src=HOA4, ns=home)
            rep = mn.deregister(flags=mip.F_D, timeout=3, retries=1)
            mn.close()
            H.check(rep is not None and rep.code == 131,
                    "a refused deregistration from home (wrong key) is "
                    "answered on the home link: code 131",
                    None if rep is None else json.dumps(rep.to_json()))
            H.check(binding_of(HOA4, COA1) is not None and
                    (HOA4, "h-home") in proxies(),
                    "after the refusal the binding and the proxy entry "
                    "stay (§4.6: no change to ARP processing)")
            tunnelled = [p for p in B.cap["mn"].since(m["mn"])
                         if p.dec and p.dec.inner and
                         p.dec.inner.dst == HOA4]
            H.check(not tunnelled, "the reply to the node at home is not "
                    "tunnelled to its care-of address", repr(tunnelled[:2]))

            m = marks()
            mn = mip.MobileNode(HA, HOA4, SPI[HOA4], KEY, src=HOA4, ns=home)
            rep = mn.deregister(flags=mip.F_D, timeout=3, retries=1)
            mn.close()
            check_reply(rep, "HoA4 deregisters from home (source and care-of "
                        "address = home address)")
            got = B.cap["home"].wait(m["home"], lambda p: p.ip is not None and
                                     p.eth_src == ha_mac and
                                     p.ip.src == HA and p.ip.dst == HOA4)
            H.check(got, "the Registration Reply left the HA on the home "
                    "link, from the HA's MAC")
            H.check(binding_of(HOA4) is None, "HoA4's binding is gone")
            H.check((HOA4, "h-home") not in proxies(), "HoA4's proxy entry "
                    "is gone")
            got = B.cap["home"].wait(m["home"], garp_for(HOA4, B.home_mac,
                                                         ha_mac), n=2,
                                     timeout=4.0)
            H.check(len(got or []) >= 2, "the HA broadcasts gratuitous ARP "
                    "for %s with the node's own MAC %s as sender and target "
                    "hardware address, more than once" % (HOA4, B.home_mac),
                    repr(got))
            mine = [parse_arp(p.arp) for p in B.cap["home"].since(m["home"])
                    if p.arp is not None and p.eth_src == ha_mac]
            wrong = [a for a in mine if a and a["spa"] == HOA4 and
                     a["sha"] == B.ha_home_mac]
            H.check(not wrong, "no announcement of the HA's own MAC for "
                    "%s after the node came home" % HOA4, repr(wrong))
            after = B.d.stats()
            H.check(after.get("home_returns_announced", 0) -
                    before.get("home_returns_announced", 0) == 1 and
                    after.get("home_returns_unresolved", 0) ==
                    before.get("home_returns_unresolved", 0),
                    "show stats counts one return home announced, none "
                    "unresolved", repr({k: after.get(k) for k in (
                        "home_returns_announced",
                        "home_returns_unresolved")}))
            # mipha(8): the HA does not route from outside onto the
            # home link, also not for a node that is at home now.
            nb0 = after.get("packets_dropped", {}).get("no-binding", 0)
            not_delivered("gwa", esp(GWA, HOA4), "home",
                          lambda p: p.ip is not None and p.ip.dst == HOA4 and
                          p.eth_src == ha_mac,
                          "ESP from the gateway to %s, now at home" % HOA4)
            nb1 = B.d.stats().get("packets_dropped", {}).get("no-binding", 0)
            H.check(nb1 > nb0, "dropped and counted as no-binding (%d -> %d)"
                    % (nb0, nb1))
        finally:
            sh("ip", "-n", home, "route", "del", HA + "/32", "dev", "l0",
               check=False)
            sh("ip", "-n", home, "addr", "del", HOA4 + "/32", "dev", "l0",
               check=False)


def documented_drop_names():
    """The data-plane DROP REASONS of miphactl(8), or None."""
    for path in (os.path.join(SRCDIR, "man", "miphactl.8"),
                 os.path.join(SRCDIR, "man", "miphactl.8.in")):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        sect = text.split(".Sh DROP REASONS", 1)[-1].split("\n.Sh ", 1)[0]
        data = sect.split("Data plane:", 1)[-1]
        return {ln.split()[2] for ln in data.splitlines()
                if ln.startswith(".It Li ") and len(ln.split()) >= 3}
    return None


def case_drop_names():
    with H.case("every packets_dropped key is documented in miphactl(8) "
                "(interface spec)"):
        doc = documented_drop_names()
        keys = set((B.d.stats().get("packets_dropped") or {}).keys())
        if doc is None:
            H.note("man/miphactl.8 not found; names not compared")
            return
        H.check(keys <= doc, "show stats --json packets_dropped keys all "
                "appear under DROP REASONS", "undocumented: %s" % ", ".join(
                    sorted(keys - doc)))


def case_egress_mtu():
    with H.case("HA egress link MTU 1400 towards the CoA (below the 1500 "
                "mipha assumes)"):
        for ns, dev in ((NS["ha"], "h-mn"), (NS["mn"], "m0")):
            sh("ip", "-n", ns, "link", "set", dev, "mtu", "1400")
        try:
            sh("ip", "-n", NS["gwa"], "route", "flush", "cache", check=False)
            c = Counters(B.d)
            pkt = esp(GWA, HOA1, size=1464, df=True)
            ip0 = IPv4(pkt)
            m = marks()
            B.tx["gwa"].send(pkt)
            got = B.cap["gwa"].wait(m["gwa"], icmp_about(3, 4, ip0.payload,
                                                         dst=GWA))
            H.check(got and got[0][1]["mtu"] <= 1380, "DF, 1464 octets: "
                    "ICMP fragmentation-needed at the gateway with next-hop "
                    "MTU <= 1380 (1400 - IP-in-IP), not a silent loss",
                    "got %r; counters %r" % (got and got[0][1]["mtu"],
                                             c.delta()))
            pkt = esp(GWA, HOA1, size=1464, df=False)
            ip0 = IPv4(pkt)
            m = marks()
            c = Counters(B.d)
            B.tx["gwa"].send(pkt)
            got = B.cap["mn"].wait(m["mn"], tunnelled_inner(
                lambda i: i.src == GWA and i.id == ip0.id, outer_dst=COA1),
                n=2, settle=0.2)
            data, prob = reassemble([d.inner for _, d in got])
            H.check(data == ip0.payload, "no DF, 1464 octets: arrives "
                    "(fragmented to fit 1400) and reassembles",
                    "%d piece(s); %s; counters %r" % (len(got), prob,
                                                     c.delta()))
        finally:
            for ns, dev in ((NS["ha"], "h-mn"), (NS["mn"], "m0")):
                sh("ip", "-n", ns, "link", "set", dev, "mtu", "1500")


def case_global_isolation():
    with H.case("whole-run isolation between tenants and the intranet"):
        a_at_b = [p for p in B.cap["gwb"].since(0)
                  if p.ip is not None and p.ip.src.startswith("198.18.10.")]
        H.check(not a_at_b, "beta's gateway never saw a packet from acme's "
                "home network (%d packets captured there)" %
                len(B.cap["gwb"].pkts), "\n".join(repr(p.ip) for p in a_at_b))
        b_at_a = [p for p in B.cap["gwa"].since(0)
                  if p.ip is not None and p.ip.src.startswith("198.18.20.")]
        H.check(not b_at_a, "acme's gateway never saw a packet from beta's "
                "home network", "\n".join(repr(p.ip) for p in b_at_a))
        a_in = [p for p in B.cap["in"].since(0)
                if p.ip is not None and p.ip.src.startswith("198.18.10.")]
        H.check(not a_in, "the intranet host never saw a packet from acme's "
                "(vpn-only) home addresses", "\n".join(repr(p.ip)
                                                      for p in a_in))


def case_shutdown_and_restarts():
    with H.case("SIGTERM removes everything of protocol 213 and the TUN "
                "devices"):
        rc = B.d.stop(signal.SIGTERM)
        H.check(rc == 0, "mipha exits 0 on SIGTERM", "exit %r" % rc)
        st = own_state()
        H.check(not st, "no route (any table) or rule with protocol 213 left",
                "\n".join(map(repr, st)))
        H.check(not tun_links(), "no mip-* device left",
                repr(list(tun_links())))
        H.check(not proxies(), "no proxy ARP entry left", repr(proxies()))
        H.check(operator_route_present(), "the operator's route in table 102 "
                "survives")
        left = [l for l in HA_LINKS if tc_filters(l, "ingress") or
                clsact_present(l)]
        H.check(not left, "no tc filter or clsact qdisc of mipha's left on "
                "the HA's links", repr(left))
    case_tunnel_sockets("no daemon", expect_unreach=True)

    with H.case("restart after SIGTERM: same state, bindings and data plane "
                "back"):
        H.check(B.d.start(), "mipha starts again")
        st = own_state()
        H.check(st == sorted(expected_state(), key=repr), "routing state "
                "exactly as at the first start", "\n".join(map(repr, st)))
        H.check(binding_of(HOA1, COA1) is not None, "HoA1's binding restored "
                "from the journal")
        H.check((HOA1, "h-home") in proxies(), "proxy entry re-installed")
        forward("gwa", esp(GWA, HOA1), "mn", COA1, "forward ESP after restart")

    with H.case("SIGKILL + restart: no duplicates"):
        B.d.stop(signal.SIGKILL)
        left = own_state()
        H.note("after SIGKILL %d object(s) of protocol 213 were left behind "
               "(expected: rules and tenant-table routes; the TUN devices "
               "and routes into them go with the process)" % len(left))
        H.check(B.d.start(), "mipha starts over the leftovers")
        st = own_state()
        H.check(st == sorted(expected_state(), key=repr), "routing state "
                "exactly the spec's, nothing twice",
                "got:\n  %s" % "\n  ".join(map(repr, st)))
        rules = [r for r in ipj(NS["ha"], "rule", "show")
                 if r.get("iif", "").startswith("mip-")]
        H.check(len(rules) == 2, "exactly two iif rules", json.dumps(rules))
        H.check(set(tun_links()) == {"mip-acme", "mip-beta"},
                "exactly the two TUN devices", repr(list(tun_links())))
        H.check(operator_route_present(), "the operator's route survives")
        forward("gwa", esp(GWA, HOA1), "mn", COA1, "forward ESP after "
                "SIGKILL + restart")
        inner = esp(HOA1, GWA)
        reverse("mn", encap_for("ipip", inner, COA1), inner, "gwa",
                "reverse ESP after SIGKILL + restart")
    case_tunnel_sockets("after SIGKILL + restart")

    with H.case("final SIGTERM: clean again"):
        rc = B.d.stop(signal.SIGTERM)
        H.check(rc == 0, "mipha exits 0", "exit %r" % rc)
        H.check(not own_state() and not tun_links() and not proxies(),
                "nothing of mipha's left", repr(own_state()))


def case_sanitizers():
    with H.case("no sanitizer report in the daemon's log"):
        hits = [l for l in B.d.log_text().splitlines()
                if "runtime error:" in l or "Sanitizer" in l]
        H.check(not hits, "no ASan/UBSan/LSan report", "\n".join(hits[:30]))


# --- main -----------------------------------------------------------------------

def main():
    t_start = time.monotonic()
    Env.tmp = tempfile.mkdtemp(prefix="mipdp.")
    os.chmod(Env.tmp, 0o700)
    build_topology()
    start_captures()
    open_endpoints()
    B.d = Env.daemon = Daemon(os.path.join(Env.tmp, "d"))
    write_config(B.d)
    if not B.d.start():
        print(B.d.log_text())
        hard_error("mipha did not start")
    # Diagnostics only: what enters mipha through the TUN devices (these
    # captures end when the devices go at the first shutdown).
    B.diag = {}
    for t in ("acme", "beta"):
        B.diag["tun-" + t] = Capture("tun-" + t, NS["ha"], "mip-" + t)
        B.diag["tun-" + t].wait_ready()

    case_routing_state_start()
    case_fastpath_attached()
    case_fastpath_new_link()
    case_tunnel_sockets("at start, no bindings")
    case_register()
    for kind in ("ipip", "gre", "minimal", "udp"):
        if kind != "ipip":
            case_reencap(kind)
        case_esp(kind, "co-located")
        case_outer_format(kind)
        case_vpn_udp_kinds(kind)
        if kind != "udp":
            case_df_tos(kind)
        case_pmtu(kind)
    case_reencap("ipip")
    case_via_fa()
    case_ttl()
    case_fragmented_vpn()
    case_ha_icmp()
    case_simultaneous()
    case_simultaneous_back_to_one()
    case_drops()
    case_open_policy()
    case_proxy_arp()
    case_return_home()
    case_egress_mtu()
    case_global_isolation()
    case_drop_names()
    case_tunnel_sockets("after all traffic")
    case_shutdown_and_restarts()
    case_sanitizers()
    return time.monotonic() - t_start


def report(elapsed):
    print("\n=== summary (%.1fs)" % elapsed)
    failed = [c for c in H.cases if not c[1]]
    for name, ok, n, fl in H.cases:
        print("%s %s" % ("PASS" if ok else "FAIL", name))
    print("%d cases, %d passed, %d failed" % (len(H.cases),
                                              len(H.cases) - len(failed),
                                              len(failed)))
    for name, ok, n, fl in failed:
        print("  FAILED %s:" % name)
        for f in fl:
            print("    - %s" % f)
    if H.notes:
        print("notes:")
        for n in H.notes:
            print("  - " + n)
    if failed and B.__dict__.get("d"):
        lines = B.d.log_text().splitlines()
        print("# ===== daemon log %s (last %d of %d lines) =====" % (
            B.d.log, min(300, len(lines)), len(lines)))
        for l in lines[-300:]:
            print("# | " + l)
    return 1 if failed else 0


if __name__ == "__main__":
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    rc = 99
    elapsed = 0.0
    t0 = time.monotonic()
    try:
        elapsed = main()
        rc = report(elapsed)
    except Interrupted as e:
        print("interrupted by signal %s: cleaning up" % e.args[0])
        rc = 128 + e.args[0]
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 99
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        report(time.monotonic() - t0)
        rc = 99
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        cleanup()
    sys.exit(rc)
