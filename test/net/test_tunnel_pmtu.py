#!/usr/bin/python3
"""RFC 2003 §4 and §5.1 with a real router between the HA and the CoA.

  in (VPN gateway 203.0.113.2) --- r --- ha (mipha)
                                   |
                                   +-- (link MTU 1300) --- mn (CoA 198.19.0.2)

The router r forwards the HA's tunnel packets to the mobile node over a
link of MTU 1300. An ESP datagram of 1400 octets with DF from the gateway
to the home address fits the HA's own link once encapsulated (1420), so
the HA sends it; r cannot forward it and tells the HA (ICMP
fragmentation-needed, MTU 1300). The HA must then:
- relay the error to the datagram's sender, with the MTU left for the
  inner datagram (1300 - 20 = 1280), quoting the inner datagram (§4.1);
- keep the path MTU as soft state of the binding (§5.1; show bindings);
- answer the next such datagram itself (fragmentation-needed, 1280, the
  drop counted as too-big) instead of sending what cannot pass;
- still carry a 1250-octet datagram with DF, and fragment a 1400-octet
  one without DF before encapsulation, so every piece passes r.
With the fast path and without it.
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
from nettest import mip, HA, KEY1  # noqa: E402

HOA = "198.18.10.5"
COA = "198.19.0.2"
GW = "203.0.113.2"
PATH_MTU = 1300


def esp_datagram(total, df, seq):
    """An ESP datagram GW -> HoA of `total` octets (SPI 0x4d49, seq)."""
    payload = struct.pack("!II", 0x4d49, seq) + bytes(
        (i * 7 + seq) & 0xff for i in range(total - 28))
    return nt.ipv4_header(GW, HOA, 50, len(payload), df=df,
                          ident=seq & 0xffff) + payload


class Sockets:
    """The gateway's raw sender and ICMP reader, the MN's IP-in-IP reader."""

    def __init__(self):
        with mip.netns(nt.NS_IN):
            self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                    socket.IPPROTO_RAW)
            self.icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                      socket.IPPROTO_ICMP)
        with mip.netns(nt.NS_MN):
            self.ipip = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)

    def drain(self):
        for s in (self.icmp, self.ipip):
            s.setblocking(False)
            try:
                while True:
                    s.recv(65535)
            except BlockingIOError:
                pass

    def send(self, pkt):
        self.tx.sendto(pkt, (HOA, 0))

    def collect(self, seconds):
        """(frag-needed errors at the gateway, IP-in-IP at the MN)."""
        errs, tun = [], []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([self.icmp, self.ipip], [], [], 0.05)
            for s in r:
                b = s.recv(65535)
                hl = (b[0] & 15) * 4
                if s is self.icmp:
                    if b[hl] == 3 and b[hl + 1] == 4:
                        mtu = struct.unpack("!H", b[hl + 6:hl + 8])[0]
                        errs.append((socket.inet_ntoa(b[12:16]), mtu,
                                     b[hl + 8:]))
                else:
                    inner = b[hl:]
                    if len(inner) >= 20 and inner[16:20] == \
                            socket.inet_aton(HOA):
                        tun.append((len(b), inner))
        return errs, tun

    def close(self):
        for s in (self.tx, self.icmp, self.ipip):
            s.close()


def quotes(err, pkt):
    """Does the ICMP error quote pkt's header and first 8 payload octets
    (addresses, protocol, SPI and sequence)?"""
    q = err[2]
    return len(q) >= 28 and q[12:20] == pkt[12:20] and q[9] == 50 and \
        q[20:28] == pkt[20:28]


def run_mode(t, fastpath):
    label = "fastpath = %s" % ("true" if fastpath else "false")
    t.section("registration (%s)" % label)
    tenant = nt.tenant("acme", 101, "198.18.10.0/24",
                       [nt.mn_entry(1000, KEY1, hoa=HOA)], vpn=GW,
                       policy="vpn-only", encapsulations=["ipip"])
    d = nt.Daemon("pmtu-" + ("fp" if fastpath else "us"),
                  ha={"fastpath": fastpath}, tenants={"acme": tenant})
    if not t.check(d.start(), "mipha starts (%s)" % label):
        return
    mn = mip.MobileNode(HA, HOA, 1000, KEY1, sock=nt.mn_socket(COA))
    r = mn.register(COA, 600, mip.F_D | mip.F_T, timeout=3, retries=1)
    mn.close()
    t.check(r is not None and r.code == 0, "HoA registers from CoA %s" % COA,
            r.to_json() if r else "no reply")
    # Forget what an earlier run taught the HA's kernel about the path.
    nt.sh("ip", "route", "flush", "cache", ns=nt.NS_HA)
    s = Sockets()
    try:
        s.drain()
        before = d.stats()

        t.section("a router reports the tunnel too big (%s)" % label)
        big = esp_datagram(1400, True, 1)
        s.send(big)
        errs, tun = s.collect(1.0)
        relayed = [e for e in errs if e[0] == HA and quotes(e, big)]
        t.check(len(relayed) == 1 and relayed[0][1] == PATH_MTU - 20,
                "the gateway gets the error relayed by the HA: "
                "fragmentation-needed, MTU %d, quoting its ESP datagram "
                "(RFC 2003 §4.1)" % (PATH_MTU - 20),
                repr([(e[0], e[1]) for e in errs]))
        t.check(not tun, "nothing reached the MN (%d)" % len(tun))
        b = [x for x in d.bindings() if x.get("home_address") == HOA]
        t.check(b and b[0].get("path_mtu") == PATH_MTU,
                "show bindings: path_mtu %d (§5.1 soft state)" % PATH_MTU,
                repr(b))

        t.section("the HA answers from its soft state (%s)" % label)
        big2 = esp_datagram(1400, True, 2)
        s.send(big2)
        errs, tun = s.collect(1.0)
        own = [e for e in errs if e[0] == HA and quotes(e, big2)]
        t.check(len(own) == 1 and own[0][1] == PATH_MTU - 20,
                "the next 1400-octet DF datagram gets fragmentation-needed, "
                "MTU %d, from the HA" % (PATH_MTU - 20),
                repr([(e[0], e[1]) for e in errs]))
        t.check(not tun, "and is not sent towards the MN")
        after = d.stats()
        tb = after.get("packets_dropped", {}).get("too-big", 0) - \
            before.get("packets_dropped", {}).get("too-big", 0)
        t.check(tb >= 1, "counted as too-big (%d)" % tb)

        t.section("what fits passes, the rest is fragmented (%s)" % label)
        fits = esp_datagram(1250, True, 3)
        s.send(fits)
        errs, tun = s.collect(1.0)
        t.check(len(tun) == 1 and tun[0][1][20:] == fits[20:] and
                tun[0][1][12:20] == fits[12:20] and tun[0][1][8] == 62,
                "a 1250-octet DF datagram reaches the MN in one tunnel "
                "packet: its payload unchanged, TTL 62 (r and the HA "
                "forwarded it, RFC 2003 §3.1)", repr(
                    [(n, i[:20].hex(), i[20:] == fits[20:]) for n, i in tun]))
        t.check(not errs, "without any error")
        nodf = esp_datagram(1400, False, 4)
        s.send(nodf)
        errs, tun = s.collect(1.0)
        sizes = [n for n, _ in tun]
        t.check(len(tun) >= 2 and all(n <= PATH_MTU for n in sizes),
                "a 1400-octet datagram without DF reaches the MN in %d "
                "tunnel packets of at most %d octets (%s)" % (
                    len(tun), PATH_MTU, sizes))
        data = b"".join(inner[20:] for _, inner in sorted(
            tun, key=lambda x: struct.unpack("!H", x[1][6:8])[0] & 0x1fff))
        t.check(data == nodf[20:], "its fragments carry the ESP payload "
                "unchanged")
    finally:
        s.close()
    t.check(d.stop() == 0, "mipha stops cleanly")


def body(t):
    t.section("topology: r -> mn link MTU %d" % PATH_MTU)
    nt.sh("ip", "route", "add", "198.18.10.0/24", "via", HA, ns=nt.NS_R)
    nt.sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=nt.NS_HA)
    nt.sh("ip", "link", "set", "r-mn", "mtu", str(PATH_MTU), ns=nt.NS_R)
    nt.sh("ip", "link", "set", "mn0", "mtu", str(PATH_MTU), ns=nt.NS_MN)
    t.check(True, "r forwards to the MN over MTU %d" % PATH_MTU)
    for fastpath in (True, False):
        run_mode(t, fastpath)


nt.run("path MTU with a router between the HA and the care-of address", body)
