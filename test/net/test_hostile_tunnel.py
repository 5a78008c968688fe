#!/usr/bin/python3
"""Hostile input to mipha's data plane: malformed and random tunnel packets.

A bound node's care-of address (or anyone) sends IP-in-IP, GRE and minimal
encapsulation that is truncated, inconsistent or random, and ICMP errors
quoting garbage. Every tunnel packet must be dropped and counted under a
named reason (`show stats`), nothing may reach the VPN gateway, the
daemon must keep running with its bindings unchanged, and a valid ESP
datagram must still pass afterwards. With the fast path (whose programs
see everything first and must leave what they do not accept to userspace)
and without it.
"""
import os
import random
import select
import socket
import struct
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
GW = "203.0.113.2"
SEED = int(os.environ.get("MIPT_SEED", "434"))


ip_hdr = nt.ipv4_header


def esp(src=HOA, dst=GW, n=64):
    body = struct.pack("!II", 0x4d49, 1) + bytes(range(n))
    return ip_hdr(src, dst, 50, len(body)) + body


def inner_cases():
    """(name, inner datagram bytes) for IP-in-IP from the CoA."""
    good = esp()
    return [
        ("inner truncated to 10 octets", good[:10]),
        ("inner IHL 4", ip_hdr(HOA, GW, 50, 40, ihl=4)[:20] + good[20:]),
        ("inner version 6", ip_hdr(HOA, GW, 50, len(good) - 20, ver=6) +
         good[20:]),
        ("inner total length beyond the data",
         ip_hdr(HOA, GW, 50, 0, tot=1000) + good[20:]),
        ("inner total length below its header",
         ip_hdr(HOA, GW, 50, 0, tot=12) + good[20:]),
        ("inner header checksum wrong",
         ip_hdr(HOA, GW, 50, len(good) - 20, good_csum=False) + good[20:]),
        ("inner TTL 0", ip_hdr(HOA, GW, 50, len(good) - 20, ttl=0) +
         good[20:]),
        ("inner IHL 15 with 40 octets", ip_hdr(HOA, GW, 50, 0, ihl=15)[:40]),
    ]


def gre_cases():
    inner = esp()
    return [
        ("GRE truncated to 2 octets", b"\x00\x00"),
        ("GRE version 1", struct.pack("!HH", 0x0001, 0x0800) + inner),
        ("GRE routing present", struct.pack("!HH", 0x4000, 0x0800) +
         b"\0" * 4 + inner),
        ("GRE checksum present and wrong", struct.pack("!HHHH", 0x8000,
                                                        0x0800, 0xdead, 0) +
         inner),
        ("GRE protocol type not IPv4", struct.pack("!HH", 0, 0x86dd) + inner),
        ("GRE key flag without the key", struct.pack("!HH", 0x2000, 0x0800)),
    ]


def minimal_cases():
    # RFC 2004 §3: protocol, S bit, checksum, original destination (and
    # source when S).
    good = esp()
    fwd = struct.pack("!BBH4s", 50, 0, 0, socket.inet_aton(GW))
    bad = fwd[:2] + struct.pack("!H", 0x1234) + fwd[4:]
    return [
        ("minimal truncated to 6 octets", fwd[:6]),
        ("minimal checksum wrong", bad + good[20:]),
    ]


class Gateway:
    """Anything that reaches the gateway from the home address."""

    def __init__(self):
        with mip.netns(nt.NS_IN):
            self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)

    def drain(self, seconds=0.3):
        got = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([self.s], [], [], 0.05)
            if r:
                got.append(self.s.recv(65535))
        return got


def send_outer(tx, proto, payload, src=COA, dst=HA):
    tx.sendto(ip_hdr(src, dst, proto, len(payload)) + payload, (dst, 0))


def drops(d):
    return dict(d.stats().get("packets_dropped", {}))


def delta(a, b):
    return {k: v - a.get(k, 0) for k, v in b.items() if v != a.get(k, 0)}


def bindings_now(d):
    return [{k: v for k, v in b.items() if k != "remaining"}
            for b in d.bindings()]


def run_mode(t, fastpath):
    label = "fastpath = %s" % ("true" if fastpath else "false")
    t.section("set-up (%s)" % label)
    tenant = nt.tenant("acme", 101, "198.18.10.0/24",
                       [nt.mn_entry(1000, KEY1, hoa=HOA)], vpn=GW,
                       policy="vpn-only",
                       encapsulations=["ipip", "gre", "minimal"])
    d = nt.Daemon("hostile-" + ("fp" if fastpath else "us"),
                  ha={"fastpath": fastpath}, tenants={"acme": tenant})
    if not t.check(d.start(), "mipha starts (%s)" % label):
        return
    mn = mip.MobileNode(HA, HOA, 1000, KEY1, sock=nt.mn_socket(COA))
    r = mn.register(COA, 600, mip.F_D | mip.F_T, timeout=3, retries=1)
    mn.close()
    t.check(r is not None and r.code == 0, "HoA registers (IP-in-IP, T)",
            r.to_json() if r else "no reply")
    base = bindings_now(d)
    with mip.netns(nt.NS_MN):
        tx = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                           socket.IPPROTO_RAW)
    gw = Gateway()
    try:
        send_outer(tx, 4, esp())
        t.check(len(gw.drain(0.5)) == 1, "a valid ESP datagram passes "
                "(the set-up works)")

        t.section("malformed tunnel packets (%s)" % label)
        cases = [(4, n, p) for n, p in inner_cases()] + \
            [(47, n, p) for n, p in gre_cases()] + \
            [(55, n, p) for n, p in minimal_cases()]
        for proto, name, payload in cases:
            before = drops(d)
            send_outer(tx, proto, payload)
            got = gw.drain(0.2)
            dd = delta(before, drops(d))
            t.check(sum(dd.values()) == 1 and not got,
                    "%s (protocol %d): dropped and counted %s" % (
                        name, proto, dd or "(nothing)"),
                    "reached the gateway: %d" % len(got))

        log = d.log_text()
        t.check("dropped (decap-malformed): tunnel packet (protocol 47) "
                "from %s: " % COA in log,
                "with -v the log says what was dropped, from whom and why")

        t.section("random tunnel packets (%s)" % label)
        rng = random.Random(SEED)
        before = drops(d)
        n = 0
        for proto in (4, 47, 55):
            for _ in range(200):
                size = rng.randrange(0, 160)
                send_outer(tx, proto, bytes(rng.getrandbits(8)
                                            for _ in range(size)))
                n += 1
        # ... and from addresses with no binding at all.
        for _ in range(100):
            send_outer(tx, rng.choice((4, 47, 55)), esp(
                src="198.18.10.%d" % rng.randrange(6, 250)),
                src="198.19.0.%d" % rng.randrange(3, 40))
            n += 1
        time.sleep(0.5)
        got = gw.drain(0.3)
        dd = delta(before, drops(d))
        t.check(sum(dd.values()) == n, "all %d dropped and counted: %s" %
                (n, dd))
        t.check(not got, "none reached the gateway (%d)" % len(got))

        t.section("ICMP errors quoting garbage (%s)" % label)
        with mip.netns(nt.NS_R):
            icmp_tx = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                    socket.IPPROTO_RAW)
        for i in range(100):
            quote = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0,
                                                                          80)))
            if i % 2:
                # A plausible outer header from us to the CoA in front.
                quote = ip_hdr(HA, COA, 4, len(quote)) + quote
            body = struct.pack("!BBHHH", 3, rng.choice((0, 1, 3, 4)), 0, 0,
                               rng.randrange(0, 1500)) + quote
            body = body[:2] + struct.pack("!H", nt.inet_csum(body)) + body[4:]
            icmp_tx.sendto(ip_hdr("198.51.100.62", HA, 1, len(body)) + body,
                           (HA, 0))
        icmp_tx.close()
        time.sleep(0.3)
        t.check(d.alive(), "mipha is still running")

        t.section("afterwards (%s)" % label)
        t.check(bindings_now(d) == base, "the bindings are unchanged",
                repr((base, bindings_now(d))))
        send_outer(tx, 4, esp())
        t.check(len(gw.drain(0.5)) == 1, "a valid ESP datagram still passes")
    finally:
        tx.close()
        gw.s.close()
    t.check(d.stop() == 0, "mipha stops cleanly")


def body(t):
    t.section("topology")
    subprocess.run(["ip", "netns", "exec", nt.NS_R, "ip", "route", "add",
                    "198.18.10.0/24", "via", HA], check=True)
    subprocess.run(["ip", "netns", "exec", nt.NS_HA, "sysctl", "-qw",
                    "net.ipv4.ip_forward=1"], check=True)
    t.check(True, "the gateway %s reaches home addresses via the HA" % GW)
    random.seed(SEED)
    for fastpath in (True, False):
        run_mode(t, fastpath)


nt.run("hostile input to the data plane", body)
