#!/usr/bin/python3
"""Hostile input to mipha's registration port.

Every case sends one crafted datagram (or a flood) and asserts: the reply
code the RFCs ask for, or a silent discard that the daemon counted under a
named reason (`show stats` before/after); that the daemon is still alive;
and that `miphactl --json show bindings` is byte-for-byte what it was
(minus the counting-down `remaining`), unless the case is a request that
must be accepted, which may change only its own node's binding.
"""
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, MN_SRC, KEY1, KEY2  # noqa: E402

A_HOA, H_HOA, C_HOA, N_HOA, B_HOA = ("198.18.10.5", "198.18.10.20",
                                     "198.18.10.8", "198.18.10.7", "198.18.20.5")


def tenants():
    acme = nt.tenant("acme", 101, "198.18.10.0/24", [
        nt.mn_entry(1000, KEY1, hoa=A_HOA),
        nt.mn_entry(1002, KEY2, hoa="198.18.10.6"),
        nt.mn_entry(1003, KEY2, hoa=N_HOA, replay="nonce"),
        nt.mn_entry(1005, KEY2, hoa=C_HOA, nai="carol@acme.example"),
        nt.mn_entry(1020, KEY1, hoa=H_HOA),
        nt.mn_entry(1021, KEY1, nai="dyn@acme.example"),
    ], pool="198.18.10.128/25", max_bindings=2)
    beta = nt.tenant("beta", 102, "198.18.20.0/24",
                     [nt.mn_entry(1000, KEY2, hoa=B_HOA)])
    return {"acme": acme, "beta": beta}


class Suite:
    def __init__(self, t, d, sock):
        self.t, self.d, self.sock = t, d, sock
        self.cases = 0
        self.results = []

    def drain(self):
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recvfrom(65535)
        except (BlockingIOError, ConnectionRefusedError):
            pass
        finally:
            self.sock.setblocking(True)

    def replies(self, timeout):
        """Registration Replies arriving within timeout."""
        out = []
        end = time.monotonic() + timeout
        while True:
            data, addr = mip.recv_until(self.sock, lambda d, a: True,
                                        max(0, end - time.monotonic()))
            if data is None:
                return out
            out.append((data, addr))
            if data[:1] == b"\x03":
                return out

    def case(self, name, payload, code=None, drop=None, accept=None,
             none=False, node=None, send=None):
        """payload: bytes (sent from the MN socket) or a callable returning
        them. code: the expected reply code, or a set of alternatives.
        drop: the expected drop reason(s); alternatively with code, either
        outcome passes. accept: a function(reply) run when the case must be
        accepted (bindings may then change). none: nothing may happen at
        all (the kernel drops it before the daemon)."""
        t, d = self.t, self.d
        self.cases += 1
        t.section("case %d: %s" % (self.cases, name))
        codes = set([code] if isinstance(code, int) else (code or ()))
        drops = set([drop] if isinstance(drop, str) else (drop or ()))
        if accept is not None:
            codes |= {0, 1}
        self.drain()
        b0 = nt.strip_remaining(d.bindings_raw())
        s0 = d.stats()
        data = payload() if callable(payload) else payload
        if send is not None:
            send(data)
        else:
            self.sock.sendto(data, (HA, 434))
        # Wait for the daemon to account for it: a reply, or a drop counter
        # (then a little longer, in case a reply is still on its way).
        end = time.monotonic() + (0.7 if none else 2.5)
        got = []
        while not got and time.monotonic() < end:
            got = self.replies(0.1)
            if got:
                break
            delta = nt.stats_delta(s0, d.stats())
            if delta and all(k.startswith(("dropped.", "packets_dropped."))
                             for k in delta):
                got = self.replies(0.25)
                break
        s1 = d.stats()
        delta = nt.stats_delta(s0, s1)
        rep = None
        if got:
            raw, addr = got[-1]
            rep = mip.Reply(raw, addr, None, node)
        desc = "sent %d bytes: %s%s" % (len(data), data[:96].hex(),
                                        "..." if len(data) > 96 else "")
        if rep is not None:
            desc += "\nreply: %s\n%s" % (rep.raw.hex(), rep.to_json())
        desc += "\ncounters: %s" % delta
        outcome = None
        if rep is not None and rep.type == mip.T_RRP and not rep.error:
            outcome = ("reply", rep.code)
            ok = rep.code in codes and delta == (
                {"accepted": 1} if rep.code in (0, 1) else
                {"denied.%d" % rep.code: 1})
            t.check(ok, "%s: reply code %d, counted (expected %s)" % (
                name, rep.code, sorted(codes) + sorted(drops)), desc)
            if node is not None and ok:
                want = rep.verify(mip.EXT_MN_HA, node.key, node.alg, node.spi)
                t.check(want, "%s: reply MN-HA authenticator valid" % name, desc)
        elif got:
            outcome = ("garbage", got[-1][0][:8].hex())
            t.check(False, "%s: the daemon answered something that is not a "
                    "reply" % name, desc)
        elif none:
            outcome = ("nothing", None)
            t.check(delta == {}, "%s: no reply, nothing counted" % name, desc)
        else:
            reason = None
            if len(delta) == 1:
                k, v = next(iter(delta.items()))
                if k.startswith("dropped.") and v == 1:
                    reason = k[8:]
                elif k.startswith("packets_dropped.") and v == 1:
                    reason = k
            outcome = ("drop", reason)
            t.check(reason is not None and reason in drops,
                    "%s: silently discarded and counted as %s (got %s)" % (
                        name, "/".join(sorted(drops)) or "-", reason or delta),
                    desc)
        t.check(d.alive(), "%s: daemon alive" % name)
        b1 = nt.strip_remaining(d.bindings_raw())
        if accept is not None and outcome and outcome[0] == "reply" and \
                outcome[1] in (0, 1):
            accept(rep)
        else:
            t.check(b1 == b0, "%s: show bindings byte-for-byte unchanged" % name,
                    "before: %s\nafter:  %s" % (b0, b1))
        self.results.append((name, outcome))
        return rep


def udp_raw(src, dst, sport, dport, payload, csum=None):
    """IPv4+UDP by hand (for checksum cases); csum None = correct."""
    s, dd = socket.inet_aton(src), socket.inet_aton(dst)
    ulen = 8 + len(payload)
    if csum is None:
        ph = s + dd + struct.pack("!BBH", 0, 17, ulen)
        seg = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
        if len(seg) % 2:
            seg += b"\0"
        tot = sum(struct.unpack("!%dH" % ((len(ph) + len(seg)) // 2), ph + seg))
        while tot >> 16:
            tot = (tot & 0xffff) + (tot >> 16)
        csum = (~tot) & 0xffff or 0xffff
    udp = struct.pack("!HHHH", sport, dport, ulen, csum) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x1234, 0, 64, 17,
                     0, s, dd)
    return ip + udp


def body(t):
    d = nt.Daemon("hostile", tenants=tenants())
    t.check(d.start(), "daemon starts")
    sock = nt.mn_socket(rcvbuf=4 << 20)
    sport = sock.getsockname()[1]

    def node(hoa, spi, key, **kw):
        return mip.MobileNode(HA, hoa, spi, key, sock=sock, **kw)

    A = node(A_HOA, 1000, KEY1)
    H = node(H_HOA, 1020, KEY1)
    C = node(C_HOA, 1005, KEY2, nai="carol@acme.example")
    N = node(N_HOA, 1003, KEY2, replay="nonce")
    B = node(B_HOA, 1000, KEY2)
    DYN = node("0.0.0.0", 1021, KEY1, nai="dyn@acme.example")

    t.section("baseline bindings")
    for nd, coa in ((A, "198.19.0.3"), (B, "198.19.0.3"), (DYN, "198.19.0.4"),
                    (H, "198.19.0.5"), (C, "198.19.0.6")):
        r = nd.register(coa, 600, mip.F_D)
        t.check(r is not None and r.code == 0, "baseline: %s registered" %
                (nd.hoa if nd.hoa != "0.0.0.0" else nd.nai))
    r = N.register(MN_SRC, 600, mip.F_D)            # 133 hands out a nonce
    r = N.register(MN_SRC, 600, mip.F_D)
    t.check(r is not None and r.code == 0, "baseline: nonce node registered")
    t.eq(len(d.bindings()), 6, "six bindings")

    S = Suite(t, d, sock)
    now = time.time

    def a(**kw):                                     # a valid request of A
        return A.build(kw.pop("coa", "198.19.0.3"), kw.pop("lifetime", 600),
                       kw.pop("flags", mip.F_D), **kw)[0]

    def fixed(nd=A, coa="198.19.0.3", lifetime=600, flags=mip.F_D, ident=None):
        return mip.build_fixed(1, flags, lifetime, nd.hoa, HA, coa,
                               ident if ident is not None else nd.next_id())

    def h_accept(expect_lifetime=None, encap=None):
        def chk(rep):
            b = nt.find(d.bindings(), H_HOA)
            t.check(b is not None, "H's binding present after acceptance")
            if expect_lifetime is not None:
                t.eq(rep.lifetime, expect_lifetime, "granted lifetime")
                t.eq(b and b["lifetime"], expect_lifetime, "binding lifetime")
            if encap is not None:
                t.eq(b and b["encapsulation"], encap, "binding encapsulation")
            others = [x for x in d.bindings() if x["home_address"] != H_HOA]
            t.eq(len(others), 5, "other bindings still there")
        return chk

    def h(**kw):
        return H.build(kw.pop("coa", "198.19.0.5"), kw.pop("lifetime", 600),
                       kw.pop("flags", mip.F_D), **kw)[0]

    # --- truncation of the fixed part -----------------------------------
    S.case("1-byte datagram (type only)", b"\x01", drop="malformed")
    S.case("fixed part cut at 12 bytes", lambda: a()[:12], drop="malformed")
    S.case("fixed part cut at 23 bytes", lambda: a()[:23], drop="malformed")
    S.case("fixed part only, no extension", lambda: a()[:24], drop="no-auth-ext")
    # --- extension header cut ---------------------------------------------
    S.case("extension header cut (1 byte of MN-HA)", lambda: fixed() + b"\x20",
           drop={"malformed", "no-auth-ext"})
    S.case("NAI then extension header cut",
           lambda: mip.append_exts(fixed(), [mip.NAIExt("carol@acme.example")]) + b"\x20",
           drop={"malformed", "no-auth-ext"})
    S.case("valid request + 1 trailing byte (header cut after MN-HA)",
           lambda: a() + b"\x83", code=134, drop="malformed", node=A)
    # --- extension data cut -------------------------------------------------
    S.case("authenticator 1 byte short", lambda: a()[:-1],
           drop={"malformed", "no-auth-ext"})
    S.case("MN-HA header and SPI only (length says 20)", lambda: a()[:30],
           drop={"malformed", "no-auth-ext"})
    S.case("NAI data cut (length 30, 10 bytes)",
           lambda: fixed() + b"\x83\x1ecarol@acm", drop={"malformed", "no-auth-ext", "no-sa"})
    S.case("UDP tunnel request cut", lambda: fixed() + b"\x90\x06\x00\x00",
           drop={"malformed", "no-auth-ext"})
    # --- bad extension lengths ----------------------------------------------
    S.case("MN-HA length 0", lambda: fixed() + b"\x20\x00",
           drop={"malformed", "no-auth-ext"})
    S.case("MN-HA length 3", lambda: fixed() + b"\x20\x03\x00\x00\x03",
           drop={"malformed", "no-auth-ext"})
    S.case("MN-HA length 4: no authenticator at all",
           lambda: a(auth=mip.MnHaAuth(1000, KEY1, auth_len=0)),
           code=131, drop={"malformed", "no-auth-ext"}, node=A)
    S.case("MN-HA with an 8-byte (truncated) authenticator",
           lambda: a(auth=mip.MnHaAuth(1000, KEY1, auth_len=8)),
           code=131, drop="malformed", node=A)
    S.case("MN-HA length 255 past the end",
           lambda: a(auth=mip.MnHaAuth(1000, KEY1, length=255)),
           drop={"malformed", "no-auth-ext"})
    S.case("UDP tunnel request with length 2 (covered by MN-HA)",
           lambda: a(pre_exts=[mip.UdpTunnelReq(length=2)]), code=134,
           drop="malformed", node=A)
    # The MN-HA that follows is intact: the request is authentic but poorly
    # formed (134), or at least a drop counted as "malformed".
    S.case("empty NAI (length 0, RFC 2794) before a valid MN-HA",
           lambda: a(pre_exts=[mip.NAIExt(b"")]),
           code=134, drop="malformed", node=A)
    # --- unknown extensions (RFC 5944 §1.9) -----------------------------------
    for typ in (5, 100, 127):
        S.case("unknown non-skippable extension %d before MN-HA" % typ,
               lambda typ=typ: a(pre_exts=[mip.RawExt(typ, b"\x01\x02\x03")]),
               drop="unknown-extension")
    S.case("unknown non-skippable extension 100 after MN-HA",
           lambda: a(post_exts=[mip.RawExt(100, b"\x00\x00")]),
           drop="unknown-extension")
    S.case("unknown skippable extension 200 before MN-HA: skipped, processed",
           lambda: h(lifetime=500, pre_exts=[mip.RawExt(200, b"hello")]),
           accept=h_accept(500), node=H)
    S.case("unknown skippable extension 255 of length 0",
           lambda: h(lifetime=501, pre_exts=[mip.RawExt(255, b"")]),
           accept=h_accept(501), node=H)
    S.case("unknown skippable extension 128 after MN-HA",
           lambda: h(lifetime=502, post_exts=[mip.RawExt(128, b"\xff" * 9)]),
           accept=h_accept(502), node=H)
    S.case("UDP tunnel request with Reserved 3 != 0: skipped (RFC 3519 §3.1.3)",
           lambda: h(lifetime=503, pre_exts=[mip.UdpTunnelReq(force=True, reserved3=1)]),
           accept=h_accept(503, "ipip"), node=H)
    S.case("many skippable extensions (1.9 KB request, fragmented)",
           lambda: h(lifetime=504, pre_exts=[mip.RawExt(201, b"x" * 250)] * 7),
           accept=h_accept(504), node=H)
    # Beyond an implementation limit a valid request may be refused, but
    # not without a trace: 134 or a drop counted as "malformed".
    S.case("valid request of 2.3 KB (skippable extensions)",
           lambda: h(lifetime=512, pre_exts=[mip.RawExt(201, b"y" * 250)] * 9),
           accept=h_accept(512), code=134, drop="malformed", node=H)
    S.case("valid request with 40 small skippable extensions",
           lambda: h(lifetime=513, pre_exts=[mip.RawExt(202, b"")] * 40),
           accept=h_accept(513), code=134, drop="malformed", node=H)
    # --- SPIs ------------------------------------------------------------------
    S.case("wrong SPI (1999, no SA)", lambda: a(auth=mip.MnHaAuth(1999, KEY1)),
           drop="no-sa")
    for spi in (0, 100, 255):
        S.case("reserved SPI %d" % spi, lambda spi=spi: a(auth=mip.MnHaAuth(spi, KEY1)),
               drop="reserved-spi")
    S.case("another node's SPI and key with A's home address",
           lambda: a(auth=mip.MnHaAuth(1002, KEY2)), drop="no-sa")
    # --- authenticators ---------------------------------------------------------
    S.case("bad authenticator (one bit)", lambda: a(auth=mip.MnHaAuth(1000, KEY1, corrupt=True)),
           code=131, node=A)
    S.case("authenticator over the fixed part only (not Type/Length/SPI)",
           lambda: a(auth=mip.MnHaAuth(1000, KEY1, cover=lambda before: before)),
           code=131, node=A)
    S.case("authenticator over the whole message incl. zeroed authenticator",
           lambda: a(auth=mip.MnHaAuth(1000, KEY1, cover=lambda before: before +
                                       struct.pack("!BBI", 32, 20, 1000) + b"\0" * 16)),
           code=131, node=A)
    S.case("authenticator with the wrong key", lambda: a(auth=mip.MnHaAuth(1000, KEY2)),
           code=131, node=A)
    S.case("keyed-MD5 authenticator for an HMAC-MD5 node",
           lambda: a(auth=mip.MnHaAuth(1000, KEY1, alg="keyed-md5")), code=131, node=A)
    S.case("all-zero authenticator", lambda: a(auth=mip.MnHaAuth(1000, KEY1, auth=b"\0" * 16)),
           code=131, node=A)

    def tamper(off, val):
        def f():
            m = bytearray(a())
            m[off:off + len(val)] = val
            return bytes(m)
        return f
    S.case("lifetime changed after signing", tamper(2, b"\x00\x05"), code=131, node=A)
    S.case("care-of address changed after signing", tamper(12, socket.inet_aton("198.19.0.9")),
           code=131, node=A)
    S.case("flags changed after signing (S added)", tamper(1, b"\xa0"), code=131, node=A)
    # --- replay ---------------------------------------------------------------
    last = {}

    def h_ok():
        m = h(lifetime=505)
        last["h"] = m
        return m
    S.case("H renews (to have a request to replay)", h_ok, accept=h_accept(505), node=H)
    S.case("replayed request (same Identification)", lambda: last["h"], code=133, node=H)
    S.case("Identification lower than the last accepted",
           lambda: h(ident=struct.unpack("!Q", last["h"][16:24])[0] - 1), code=133, node=H)
    S.case("stale timestamp (30 s old)", lambda: a(ident=mip.ntp_now(now() - 30)),
           code=133, node=A)
    S.case("future timestamp (30 s ahead)", lambda: a(ident=mip.ntp_now(now() + 30)),
           code=133, node=A)
    S.case("Identification 0", lambda: a(ident=0), code=133, node=A)
    S.case("Identification all ones", lambda: a(ident=(1 << 64) - 1), code=133, node=A)
    S.case("nonce node: wrong nonce",
           lambda: N.build(MN_SRC, 600, mip.F_D, ident=((N.ha_nonce ^ 0x5a5a5a5a) << 32) | 7)[0],
           code=133, node=N)
    # --- lifetimes --------------------------------------------------------------
    S.case("lifetime 65535 (infinite): clamped, not denied",
           lambda: h(lifetime=65535), accept=h_accept(600), node=H)
    S.case("lifetime 65534: clamped", lambda: h(lifetime=65534), accept=h_accept(600), node=H)
    # --- addresses ---------------------------------------------------------------
    S.case("a home address of another tenant",
           lambda: C.build(MN_SRC, 600, mip.F_D, hoa=B_HOA)[0], code=129, node=C)
    S.case("a home address of another node",
           lambda: C.build(MN_SRC, 600, mip.F_D, hoa=A_HOA)[0], code=129, node=C)
    for coa in ("224.1.2.3", "0.0.0.0", "255.255.255.255", "127.0.0.1", "240.0.0.1"):
        S.case("care-of address %s" % coa, lambda coa=coa: a(coa=coa), code=134, node=A)
    for hafield in ("255.255.255.255", "0.0.0.0", "198.51.100.63"):
        S.case("Home Agent field %s" % hafield,
               lambda hafield=hafield: a(ha=hafield), code=136, node=A)
    S.case("x flag set (ignored on reception, §3.3)",
           lambda: h(lifetime=506, flags=mip.F_D | mip.F_x), accept=h_accept(506), node=H)
    S.case("B flag set (ignored, §3.8.2)",
           lambda: h(lifetime=507, flags=mip.F_D | mip.F_B), accept=h_accept(507), node=H)
    # --- not requests -------------------------------------------------------------
    S.case("zero-length datagram", b"", drop={"not-request", "malformed"})
    S.case("a Registration Reply sent to the HA",
           lambda: mip.build_rrp(0, 600, A_HOA, HA, A.next_id(),
                                 [mip.MnHaAuth(1000, KEY1)]), drop="not-request")
    rnd = random.Random(434)
    for typ in (0, 2, 255):
        S.case("garbage of type %d" % typ,
               lambda typ=typ: bytes([typ]) + bytes(rnd.getrandbits(8) for _ in range(47)),
               drop="not-request")
    # Type 4 is RFC 3519 tunnel data: a data-plane drop.
    S.case("garbage of type 4 (RFC 3519 tunnel data from nobody)",
           lambda: b"\x04" + bytes(rnd.getrandbits(8) for _ in range(47)),
           drop={"not-request", "packets_dropped.decap-malformed",
                 "packets_dropped.no-binding", "packets_dropped.wrong-coa",
                 "packets_dropped.spoofed-source"})
    S.case("random bytes starting with type 1",
           lambda: b"\x01" + bytes(rnd.getrandbits(8) for _ in range(99)),
           drop={"malformed", "no-sa", "unknown-extension", "no-auth-ext",
                 "reserved-spi"})
    S.case("64 KiB datagram (A's fixed part + skippable extensions)",
           lambda: (fixed() + (b"\xc8\xff" + b"z" * 255) * 256)[:65507],
           drop={"malformed", "no-auth-ext"})
    S.case("64 KiB datagram of zeros", b"\0" * 65507, drop={"not-request", "malformed"})

    # Raw IP from the MN namespace: the UDP checksum cases.
    with mip.netns(nt.NS_MN):
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def raw_send(csum):
        def f(data):
            raw.sendto(udp_raw(MN_SRC, HA, sport, 434, data, csum), (HA, 0))
        return f
    S.case("bad UDP checksum (RFC 5944 §3.8.2.1: silently discarded)",
           lambda: h(lifetime=508), none=True, send=raw_send(0x1234))
    S.case("UDP checksum 0 (none) on a valid request: accepted",
           lambda: h(lifetime=509), accept=h_accept(509), node=H, send=raw_send(0))
    raw.close()

    # --- floods ----------------------------------------------------------------
    def flood(name, make, n, expect_keys, src="198.19.0.30"):
        t.section("flood: %s" % name)
        fs = nt.mn_socket(src=src, rcvbuf=1 << 16)
        fs.setblocking(False)
        b0 = nt.strip_remaining(d.bindings_raw())
        s0 = d.stats()
        msgs = [make(i) for i in range(n)]
        t0 = time.monotonic()
        sent = 0
        for m in msgs:
            while True:
                try:
                    fs.sendto(m, (HA, 434))
                    sent += 1
                    break
                except (BlockingIOError, OSError):
                    time.sleep(0.0005)
            if sent % 256 == 0:
                try:
                    while True:
                        fs.recvfrom(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    pass
        dt = time.monotonic() - t0
        # Let the daemon drain its socket.
        last = [None]

        def settled():
            s = d.stats()
            v = s.get("requests")
            ok = v is not None and v == last[0]
            last[0] = v
            return ok
        nt.wait_for(settled, 10, 0.3)
        s1 = d.stats()
        delta = nt.stats_delta(s0, s1)
        total = sum(v for k, v in delta.items() if not k.startswith("packets_dropped."))
        t.check(d.alive(), "%s: daemon alive after %d datagrams in %.1f s" % (name, sent, dt))
        t.check(set(delta) <= set(expect_keys),
                "%s: only %s counted" % (name, sorted(expect_keys)), delta)
        handled = None
        if "requests" in s0 and "requests" in s1:
            handled = s1["requests"] - s0["requests"]
            t.eq(total, handled, "%s: every datagram the daemon read is counted "
                 "exactly once (%d read of %d sent)" % (name, handled, sent))
        allc = sum(delta.values())
        t.check(0 < allc <= sent, "%s: %d of %d counted (the rest lost in the "
                "kernel's socket buffer)" % (name, allc, sent), delta)
        t.eq(nt.strip_remaining(d.bindings_raw()), b0, "%s: bindings unchanged" % name)
        fs.close()
        if "denied.131" in expect_keys:
            t.check(delta.get("dropped.rate-limited", 0) > 0,
                    "%s: replies to one source are rate-limited (drop reason "
                    "rate-limited; %d replies 131 were sent in %.1f s)" % (
                        name, delta.get("denied.131", 0), dt), delta)
        S.results.append(("flood " + name, ("counted", delta)))
        return delta

    FLOOD = int(os.environ.get("MIPT_FLOOD", "20000"))
    flood("bad authenticators from one source",
          lambda i: a(auth=mip.MnHaAuth(1000, KEY1, corrupt=True)), FLOOD,
          {"denied.131", "dropped.rate-limited"})
    t.section("after the flood")
    r = H.register("198.19.0.5", 510, mip.F_D)
    t.check(r is not None and r.code == 0,
            "a valid request from another source is accepted right after the flood")
    time.sleep(1)
    fa = mip.MobileNode(HA, A_HOA, 1000, KEY1, sock=nt.mn_socket(src="198.19.0.30"))
    fa.last_id = A.last_id
    r = fa.register("198.19.0.3", 600, mip.F_D)
    t.check(r is not None and r.code == 0,
            "a valid request from the flooding source is accepted a second later")
    A.last_id = fa.last_id
    flood("garbage", lambda i: bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 120))),
          FLOOD, {"dropped.not-request", "dropped.malformed", "dropped.no-sa",
                  "dropped.unknown-extension", "dropped.no-auth-ext",
                  "dropped.reserved-spi", "packets_dropped.decap-malformed",
                  "packets_dropped.no-binding", "packets_dropped.wrong-coa",
                  "packets_dropped.spoofed-source"}, src="198.19.0.31")
    flood("requests for home addresses without an SA",
          lambda i: mip.build_rrq(mip.F_D, 600, "198.18.10.%d" % (200 + i % 50), HA,
                                  "198.19.0.3", i, [mip.MnHaAuth(1000, KEY1)]),
          FLOOD, {"dropped.no-sa"}, src="198.19.0.32")
    t.check(d.alive(), "daemon alive at the end")
    r = H.register("198.19.0.5", 511, mip.F_D)
    t.check(r is not None and r.code == 0, "and still registering")

    print("#\n# %d hostile cases (+3 floods); outcomes:" % S.cases)
    for name, o in S.results:
        print("#   %-70s %s" % (name[:70], o))
    t.eq(d.stop(), 0, "SIGTERM: clean exit 0")


if __name__ == "__main__":
    nt.run("test_hostile", body)
