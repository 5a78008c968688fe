#!/usr/bin/python3
"""Bulk TCP through the tunnel, both ways, checked end to end.

What a mobile node's VPN really sends is large: TCP inside ESP or plain
TCP under policy "open" arrives at the home agent as segmentation-offloaded
super-packets (GSO/GRO). This test moves 48 MiB each way between a home
address and an enterprise host through the tunnel and compares SHA-256
digests of what was sent and what arrived, so a single wrong octet,
checksum or segment fails it:

  in (203.0.113.2) --- r --- ha (mipha) --- r --- mn (CoA 198.19.0.2,
                                                     HoA 198.18.10.5 on lo)

The mobile node ends its IP-in-IP tunnel at kernel speed with the tc
programs of test/bench/mn_tunnel.bpf.c (these kernels have no ipip
module), built for these addresses (test/net/mn_tunnel_net.bpf.o).
First with the fast path (fastpath = true, the default), whose tenant starts
as "vpn-only" (TCP is dropped) and is reloaded to "open" (the map entry
must follow): the transfer must go through the kernel programs (their
counters), then again with
fastpath = false, where the userspace data plane carries the same bytes.
"""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, KEY1  # noqa: E402

HOA = "198.18.10.5"
COA = "198.19.0.2"
PEER = "203.0.113.2"
PORT = 5301
MIB = 1 << 20

MN_OBJ = os.environ.get("MIPT_MN_TUNNEL") or os.path.join(
    nt.BUILDDIR, "test", "net", "mn_tunnel_net.bpf.o")

# Sender and receiver: a deterministic stream (SHA-256 counter blocks),
# the receiver prints how much it got and its digest.
RECEIVER = r"""
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print("listening", flush=True)
s.settimeout(30)
c, _ = s.accept(); c.settimeout(30)
h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    h.update(b); n += len(b)
print(n, h.hexdigest(), flush=True)
"""

SENDER = r"""
import hashlib, socket, sys
dst, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = sys.argv[4] if len(sys.argv) > 4 else ""
block = b"".join(hashlib.sha256(b"mipha%d" % i).digest() for i in range(32768))
c = socket.socket(); c.settimeout(30)
if src:
    c.bind((src, 0))
c.connect((dst, port))
h = hashlib.sha256(); sent = 0
while sent < total:
    b = block[:min(len(block), total - sent)]
    c.sendall(b); h.update(b); sent += len(b)
c.shutdown(socket.SHUT_WR)
c.recv(1)
print(sent, h.hexdigest(), flush=True)
"""


def transfer(t, what, rx_ns, rx_addr, tx_ns, total, tx_src=""):
    """Send `total` octets from tx_ns to rx_addr:PORT in rx_ns."""
    rx = subprocess.Popen(["ip", "netns", "exec", rx_ns, "/usr/bin/python3",
                           "-c", RECEIVER, rx_addr, str(PORT)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    line = rx.stdout.readline()
    if not t.check(line.strip() == "listening", "%s: receiver listens" %
                   what, rx.stderr.read() if rx.poll() is not None else line):
        rx.kill()
        return False
    t0 = time.monotonic()
    tx = subprocess.run(["ip", "netns", "exec", tx_ns, "/usr/bin/python3",
                         "-c", SENDER, rx_addr, str(PORT), str(total)] +
                        ([tx_src] if tx_src else []),
                        capture_output=True, text=True, timeout=90)
    secs = time.monotonic() - t0
    try:
        out, err = rx.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        rx.kill()
        out, err = rx.communicate()
    sent = tx.stdout.split()
    got = out.split()
    ok = t.check(tx.returncode == 0 and len(sent) == 2,
                 "%s: the sender sent %d octets" % (what, total),
                 tx.stderr.strip())
    ok = t.check(len(got) == 2 and got[0] == str(total),
                 "%s: the receiver got all %d octets" % (what, total),
                 "got %r; %s" % (got, err.strip())) and ok
    ok = t.check(len(got) == 2 and len(sent) == 2 and got[1] == sent[1],
                 "%s: SHA-256 identical at both ends" % what,
                 "sent %r, received %r" % (sent, got)) and ok
    if ok:
        t.note("%s: %.1f MiB in %.2f s (%.2f Gbit/s, a sanitizer build "
               "and shared CPUs: not a benchmark)" % (
                   what, total / MIB, secs, total * 8 / secs / 1e9))
    return ok


def setup_topology(t):
    # The enterprise host reaches home addresses through the HA.
    nt.sh("ip", "route", "add", "198.18.10.0/24", "via", HA, ns=nt.NS_R)
    nt.sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=nt.NS_HA)
    # The mobile node: the HoA on lo, its traffic via the tunnel, sized
    # for the tunnel (TUN MTU 1476: the tenant allows GRE too).
    nt.sh("ip", "addr", "add", HOA + "/32", "dev", "lo", ns=nt.NS_MN)
    nt.sh("ip", "route", "add", PEER, "via", "198.19.0.1", "dev", "mn0",
          "src", HOA, "mtu", "1476", ns=nt.NS_MN)
    nt.sh("tc", "qdisc", "add", "dev", "mn0", "clsact", ns=nt.NS_MN)
    nt.sh("tc", "filter", "add", "dev", "mn0", "egress", "bpf", "da", "obj",
          MN_OBJ, "sec", "egress", ns=nt.NS_MN)
    nt.sh("tc", "filter", "add", "dev", "mn0", "ingress", "bpf", "da", "obj",
          MN_OBJ, "sec", "ingress", ns=nt.NS_MN)
    t.check(True, "MN: HoA %s on lo, kernel IP-in-IP endpoint on mn0" % HOA)


def tx_checksum_offload(on):
    """veth hands a TCP segment on with its checksum still to be filled in
    (CHECKSUM_PARTIAL); the kernel and the fast path carry that state
    along, but a raw socket - the userspace data plane's input - cannot
    see it, so there the senders must fill their checksums in, as every
    packet arriving over a real link has them."""
    for ns, dev in ((nt.NS_MN, "mn0"), (nt.NS_IN, "in0")):
        nt.sh("ethtool", "-K", dev, "tx", "on" if on else "off", ns=ns)


def acme(policy):
    return nt.tenant("acme", 101, "198.18.10.0/24",
                     [nt.mn_entry(1000, KEY1, hoa=HOA)], vpn=PEER,
                     policy=policy, encapsulations=["ipip", "gre"])


CONNECT = r"""
import socket, sys
c = socket.socket(); c.settimeout(float(sys.argv[3]))
try:
    c.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except OSError as e:
    print("failed", e)
"""


def connects(ns, addr, timeout):
    return nt.sh("/usr/bin/python3", "-c", CONNECT, addr, str(PORT + 1),
                 str(timeout), ns=ns).startswith("connected")


def policy_reload(t, d):
    """vpn-only keeps TCP out, both ways; a reload to "open" lets it in:
    the fast path's entry follows the tenant's new policy."""
    listener = subprocess.Popen(
        ["ip", "netns", "exec", nt.NS_MN, "/usr/bin/python3", "-c",
         "import socket,time\ns=socket.socket()\n"
         "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "s.bind(('%s', %d)); s.listen(8); time.sleep(60)" % (HOA, PORT + 1)])
    try:
        time.sleep(0.3)
        before = d.stats().get("packets_dropped", {}).get("policy", 0)
        t.check(not connects(nt.NS_IN, HOA, 1.5), "vpn-only: a TCP "
                "connection from the enterprise host to the HoA fails")
        after = d.stats().get("packets_dropped", {}).get("policy", 0)
        t.check(after > before, "vpn-only: the SYNs were dropped as policy "
                "(%d)" % (after - before))
        d.write_tenant("acme", acme("open"))
        rc, out, err = d.ctl("reload", json_=False)
        t.check(rc == 0, "miphactl reload: acme is now policy open",
                out + err)
        t.check(connects(nt.NS_IN, HOA, 5), "open: the same connection "
                "succeeds after the reload")
    finally:
        listener.kill()
        listener.wait()


def run_mode(t, fastpath, total):
    label = "fast path" if fastpath else "userspace data plane"
    t.section("bulk TCP, %s" % label)
    tx_checksum_offload(fastpath)
    d = nt.Daemon("fp" if fastpath else "us", ha={"fastpath": fastpath},
                  tenants={"acme": acme("vpn-only" if fastpath else "open")})
    if not t.check(d.start(), "mipha starts (fastpath = %s)" %
                   ("true" if fastpath else "false")):
        return
    mn = mip.MobileNode(HA, HOA, 1000, KEY1, sock=nt.mn_socket(COA))
    r = mn.register(COA, 600, mip.F_D | mip.F_T)
    t.check(r is not None and r.code == 0, "HoA registers with its CoA, T set",
            r.to_json() if r else "no reply")
    if fastpath:
        policy_reload(t, d)
    before = d.stats()
    transfer(t, "%s: enterprise host -> HoA (forward tunnel)" % label,
             nt.NS_MN, HOA, nt.NS_IN, total)
    transfer(t, "%s: HoA -> enterprise host (reverse tunnel)" % label,
             nt.NS_IN, PEER, nt.NS_MN, total, tx_src=HOA)
    after = d.stats()
    fb, fa = before.get("fastpath", {}), after.get("fastpath", {})
    fwd_oct = fa.get("octets_tunneled", 0) - fb.get("octets_tunneled", 0)
    rev_oct = fa.get("octets_reverse_tunneled", 0) - \
        fb.get("octets_reverse_tunneled", 0)
    if fastpath:
        t.check(fwd_oct >= total and rev_oct >= total,
                "the fast path carried the transfers: %d and %d inner octets "
                "(at least %d each way)" % (fwd_oct, rev_oct, total))
    else:
        t.check(fa.get("enabled") is False and fwd_oct == 0 and rev_oct == 0,
                "no fast path: its counters stay 0", repr(fa))
        moved = after.get("packets_tunneled", 0) - \
            before.get("packets_tunneled", 0)
        t.check(moved >= total // 1476,
                "the userspace path tunnelled %d datagrams" % moved)
    dropped = {k: v - before.get("packets_dropped", {}).get(k, 0)
               for k, v in after.get("packets_dropped", {}).items()
               if v != before.get("packets_dropped", {}).get(k, 0)}
    t.check(not dropped or set(dropped) <= {"too-big"},
            "no data-plane drops but path-MTU probes", repr(dropped))
    if fastpath:
        # Counters only grow: a tenant removed by a reload takes its
        # device, not its share of the totals.
        d.remove_tenant("acme")
        rc, out, err = d.ctl("reload", json_=False)
        t.check(rc == 0, "reload without the tenant", out + err)
        gone = d.stats()
        for k in ("packets_tunneled", "packets_reverse_tunneled"):
            t.check(gone.get(k, 0) >= after.get(k, 0) and
                    gone["fastpath"].get(k, 0) >= fa.get(k, 0),
                    "%s after the tenant is gone: %d, fastpath %d (were %d, "
                    "%d)" % (k, gone.get(k, 0), gone["fastpath"].get(k, 0),
                             after.get(k, 0), fa.get(k, 0)))
    t.check(d.stop() == 0, "mipha stops cleanly")


def body(t):
    t.section("topology")
    if not t.check(os.path.exists(MN_OBJ), "the MN's tunnel endpoint is "
                   "built (%s)" % MN_OBJ):
        return
    setup_topology(t)
    run_mode(t, True, 48 * MIB)
    run_mode(t, False, 8 * MIB)


nt.run("bulk TCP through the tunnel", body)
