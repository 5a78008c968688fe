#!/usr/bin/python3
"""Gratuitous ARP on a real home link at scale (RFC 5944 §4.6).

A tenant whose home network is a real link (home_interface) gets proxy
ARP and gratuitous ARP for every bound home address. When mipha starts
with many bindings restored from its journal, each of them is announced
again: here 1000 nodes, 3000 broadcasts. They must all go out (each home
address three times, about a second apart), but paced (at most 1000 a
second after a burst of 200), not as one flood. And a repeat must not go
out once it is stale: a node that deregisters within the repeat interval
is not announced again with the HA's address.

  ha (mipha) ha-home ---- fa-home (the FA namespace, unused otherwise,
                                    listens on the home link)
"""
import os
import select
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, KEY1, MN_SRC  # noqa: E402

N = 1000
BASE = struct.unpack("!I", socket.inet_aton("198.18.8.0"))[0]
HOAS = [socket.inet_ntoa(struct.pack("!I", BASE + 1 + i)) for i in range(N)]
RATE, BURST = 1000, 200
SO_TIMESTAMPNS = 35


class Listener:
    """Broadcast gratuitous ARP Replies from the HA on the home link, with
    the time each arrived (read as they come: the socket never fills)."""

    def __init__(self, ha_mac):
        self.ha_mac = ha_mac
        with mip.netns(nt.NS_FA):
            self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                   socket.htons(0x0806))
        self.s.bind(("fa-home", 0))
        self.s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
        # The kernel's arrival time: this reader may lag on a busy machine.
        self.s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.got = []

    def collect(self, seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([self.s], [], [], 0.05)
            while r:
                try:
                    f, anc, _, _ = self.s.recvmsg(
                        128, socket.CMSG_SPACE(16), socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                t = time.time()
                for lvl, typ, data in anc:
                    if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", data[:16])
                        t = sec + nsec / 1e9
                if len(f) < 42 or f[0:6] != b"\xff" * 6 or \
                        f[6:12] != self.ha_mac:
                    continue
                op = struct.unpack("!H", f[20:22])[0]
                spa, tpa = f[28:32], f[38:42]
                if op == 2 and spa == tpa:
                    self.got.append((t, socket.inet_ntoa(spa), f[22:28]))
            if until is not None and until(self.got):
                return

    def close(self):
        self.s.close()


def register_all(t, hoas, lifetime=600):
    """Registers every node from one socket: all requests out, then the
    replies; the number accepted."""
    s = nt.mn_socket(MN_SRC)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    want = {}
    for i, hoa in enumerate(hoas):
        mn = mip.MobileNode(HA, hoa, 2000 + HOAS.index(hoa), KEY1, sock=s)
        msg, ident = mn.build(MN_SRC, lifetime, mip.F_D | mip.F_T)
        want[ident & 0xffffffff] = hoa
        s.sendto(msg, (HA, 434))
        if i % 100 == 99:
            time.sleep(0.01)
    ok = 0
    end = time.monotonic() + 10
    s.settimeout(0.5)
    while want and time.monotonic() < end:
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            continue
        if len(data) >= 20 and data[0] == 3:
            low = struct.unpack("!Q", data[12:20])[0] & 0xffffffff
            if want.pop(low, None) is not None and data[1] == 0:
                ok += 1
    s.close()
    return ok


def proxies():
    out = nt.sh("ip", "-j", "neigh", "show", "proxy", "dev", "ha-home",
                ns=nt.NS_HA)
    import json
    return {e["dst"] for e in json.loads(out or "[]")}


def max_in_window(times, width):
    best, j = 0, 0
    for i in range(len(times)):
        while times[i] - times[j] > width:
            j += 1
        best = max(best, i - j + 1)
    return best


def body(t):
    t.section("topology: a home link ha-home <-> fa-home")
    nt.sh("ip", "link", "add", "ha-home", "type", "veth", "peer", "name",
          "fa-home", "netns", nt.NS_FA, ns=nt.NS_HA)
    nt.sh("ip", "link", "set", "ha-home", "up", ns=nt.NS_HA)
    nt.sh("ip", "link", "set", "fa-home", "up", ns=nt.NS_FA)
    ha_mac = bytes.fromhex(nt.sh("cat", "/sys/class/net/ha-home/address",
                                 ns=nt.NS_HA).strip().replace(":", ""))
    tenant = nt.tenant("acme", 101, "198.18.8.0/22",
                       [nt.mn_entry(2000 + i, KEY1, hoa=h)
                        for i, h in enumerate(HOAS)],
                       vpn="203.0.113.2", home_interface="ha-home")
    d = nt.Daemon("home", tenants={"acme": tenant})
    if not t.check(d.start(), "mipha starts: tenant acme, %d nodes, "
                   "home_interface ha-home" % N):
        return
    ok = register_all(t, HOAS)
    t.check(ok == N, "all %d nodes register (%d accepted)" % (N, ok))
    px = proxies()
    t.check(len(px) == N and set(HOAS) <= px,
            "a proxy ARP entry for each of them (%d)" % len(px))

    t.section("restart with %d bindings: announcements paced, all sent" % N)
    t.check(d.stop() == 0, "mipha stops (SIGTERM)")
    t.check(not proxies(), "no proxy entry left after the stop")
    lis = Listener(ha_mac)
    try:
        t0 = time.time()
        t.check(d.start(), "mipha starts again and restores the bindings")
        lis.collect(8.0, until=lambda g: len(g) >= 3 * N)
        lis.collect(0.5)       # nothing more may come
    finally:
        lis.close()
    got = [g for g in lis.got if g[0] >= t0]
    per, when = {}, {}
    for ts, hoa, sha in got:
        per.setdefault(hoa, []).append(sha)
        when.setdefault(hoa, []).append(ts)
    t.check(len(px := proxies()) == N, "the proxy entries are back (%d)" %
            len(px))
    short = [h for h in HOAS if len(per.get(h, [])) != 3]
    t.check(not short, "every home address announced exactly three times "
            "(%d frames for %d addresses)" % (len(got), len(per)),
            "wrong counts, e.g. %r" % [(h, len(per.get(h, [])))
                                       for h in short[:5]])
    t.check(all(s == ha_mac for v in per.values() for s in v),
            "with the HA's MAC as sender hardware address")
    gaps = [b - a for v in when.values() for a, b in zip(v, v[1:])]
    t.check(gaps and min(gaps) >= 0.9, "the repeats of each address come "
            "about a second apart (shortest gap %.2f s)" %
            (min(gaps) if gaps else 0))
    times = [g[0] for g in got]
    w = max_in_window(times, 0.1)
    t.check(w <= BURST + RATE * 0.1 + 20, "paced: at most %d in any 100 ms "
            "(saw %d)" % (BURST + RATE * 0.1, w))
    if times:
        span = times[-1] - times[0]
        t.check(span >= (3 * N - BURST) / RATE * 0.9,
                "spread over %.2f s, not sent as one burst" % span)
    st = d.stats()
    t.check(st.get("gratuitous_arp_sent", 0) >= 3 * N,
            "show stats: gratuitous_arp_sent %s" %
            st.get("gratuitous_arp_sent"))

    t.section("a stale repeat is not sent")
    hoa = HOAS[0]
    mn = mip.MobileNode(HA, hoa, 2000, KEY1, sock=nt.mn_socket(MN_SRC))
    lis = Listener(ha_mac)
    try:
        r = mn.deregister(coa=MN_SRC, flags=mip.F_D, timeout=3)
        t.check(r is not None and r.accepted, "%s deregisters" % hoa)
        r = mn.register(MN_SRC, 600, mip.F_D | mip.F_T, timeout=3)
        t.check(r is not None and r.accepted, "%s registers again: one "
                "announcement now, two repeats due" % hoa)
        time.sleep(0.2)
        r = mn.deregister(coa=MN_SRC, flags=mip.F_D, timeout=3)
        t.check(r is not None and r.accepted, "%s deregisters again within "
                "the repeat interval" % hoa)
        lis.collect(3.0)
    finally:
        lis.close()
        mn.close()
    mine = [g for g in lis.got if g[1] == hoa]
    t.check(len(mine) == 1, "only the first announcement went out; the "
            "repeats were dropped as stale (%d sent)" % len(mine))
    t.check(hoa not in proxies(), "and no proxy entry for it")
    t.check(d.stop() == 0, "mipha stops cleanly")


nt.run("gratuitous ARP on a home link at scale", body)
