#!/usr/bin/python3
"""Cross-check of the registration message codec against scapy.

scapy (scapy.layers.mobileip) encodes the fixed part of Registration
Requests and Replies independently of mipha; the extensions are built
here with struct.pack straight from the RFC figures.  Both directions:

  1. scapy builds a message -> `msgtool decode` -> every field compared;
  2. `msgtool encode` builds a message -> scapy dissects it -> every fixed
     field compared, and the extension bytes compared with ours.

usage: scapy_xcheck.py MSGTOOL      (exit 0 pass, 1 fail, 77 no scapy)
"""
import ipaddress
import random
import struct
import subprocess
import sys

try:
    from scapy.layers.mobileip import MobileIP, MobileIPRRQ, MobileIPRRP
    from scapy.packet import Raw
except ImportError:
    print("scapy not available: SKIP")
    sys.exit(77)

MSGTOOL = sys.argv[1] if len(sys.argv) > 1 else "./test/unit/msgtool"
failures = 0
checks = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


def msgtool(*args):
    p = subprocess.run([MSGTOOL] + list(args), capture_output=True, text=True)
    if p.stderr:
        print(p.stderr, file=sys.stderr, end="")
    return p.returncode, p.stdout


def parse_kv(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


# Extensions, built from the RFC figures.  Each returns (bytes, info) where
# info is what msgtool should report for it, keyed by msgtool's names with
# offsets relative to the extension start ("@" is replaced later).

def ext_auth(etype, spi, auth):
    # RFC 5944 §3.5.2-3.5.4: Type, Length = 4 + auth, SPI, Authenticator
    name = {32: "mn_ha", 33: "mn_fa", 34: "fa_ha"}[etype]
    b = struct.pack("!BBI", etype, 4 + len(auth), spi) + auth
    return b, {"type": etype, "subtype": 0, "data_len": 4 + len(auth),
               name + ".spi": str(spi), name + ".auth": auth.hex(),
               name + ".covered_len": 6, name + ".count": "1"}


def ext_gen_auth(spi, auth):
    # RFC 4721 §5: Type 36, Subtype, Length(16) = 4 + auth, SPI, Authenticator
    b = struct.pack("!BBHI", 36, 1, 4 + len(auth), spi) + auth
    return b, {"type": 36, "subtype": 1, "data_len": 4 + len(auth),
               "mn_aaa.spi": str(spi), "mn_aaa.auth": auth.hex(),
               "mn_aaa.covered_len": 8, "mn_aaa.count": "1"}


def ext_nai(nai):
    # RFC 2794 §2
    b = struct.pack("!BB", 131, len(nai)) + nai
    return b, {"type": 131, "subtype": 0, "data_len": len(nai), "nai": nai.hex()}


def ext_challenge(c):
    # RFC 4721 §4
    b = struct.pack("!BB", 132, len(c)) + c
    return b, {"type": 132, "subtype": 0, "data_len": len(c), "challenge": c.hex()}


def ext_udp_req(f, r, encap):
    # RFC 3519 §3.1: Type 144, Length 6, Sub-Type 0, Reserved 1,
    # F|R|Reserved 2, Encapsulation, Reserved 3
    b = struct.pack("!BBBBBBH", 144, 6, 0, 0, (f << 7) | (r << 6), encap, 0)
    return b, {"type": 144, "subtype": 0, "data_len": 5, "udp_req.f": str(f),
               "udp_req.r": str(r), "udp_req.encap": str(encap)}


def ext_udp_rep(f, code, keepalive):
    # RFC 3519 §3.2: Type 44, Length 6, Sub-Type 0, Reply Code, F|Reserved, Keepalive
    b = struct.pack("!BBBBHH", 44, 6, 0, code, f << 15, keepalive)
    return b, {"type": 44, "subtype": 0, "data_len": 5, "udp_rep.f": str(f),
               "udp_rep.code": str(code), "udp_rep.keepalive": str(keepalive)}


def ext_revocation(i, ts):
    # RFC 3543 §3.2: Type 137, Length 6, I|Reserved, Timestamp
    b = struct.pack("!BBHI", 137, 6, i << 15, ts)
    return b, {"type": 137, "subtype": 0, "data_len": 6, "revocation.i": str(i),
               "revocation.timestamp": str(ts)}


def ext_msg_string(sub, text):
    # RFC 4917 §3: Type 145, Length = 1 + text, Sub-Type, Text
    b = struct.pack("!BBB", 145, 1 + len(text), sub) + text
    return b, {"type": 145, "subtype": sub, "data_len": len(text),
               "msg_string.subtype": str(sub), "msg_string.text": text.hex()}


def ext_dyn_ha(sub, addr):
    # RFC 4433 §3.4: Type 139, Subtype, Length(16) = 4, HA-Address
    b = struct.pack("!BBH", 139, sub, 4) + ipaddress.IPv4Address(addr).packed
    return b, {"type": 139, "subtype": sub, "data_len": 4,
               "dyn_ha.subtype": str(sub), "dyn_ha.addr": addr}


def ext_pad():
    return b"\x00", {"type": 0, "subtype": 0, "data_len": 0}


def ext_unknown(t, data):
    # RFC 5944 §1.8: 128-255 not recognised: skipped by Length
    b = struct.pack("!BB", t, len(data)) + data
    return b, {"type": t, "subtype": 0, "data_len": len(data), "skipped": 1}


def rand_addr(rng):
    # Only the documentation/benchmark ranges: 198.18.0.0/15, 198.51.100.0/24.
    if rng.random() < 0.5:
        return str(ipaddress.IPv4Address(0xC6120000 + rng.randrange(1 << 17)))
    return "198.51.100.%d" % rng.randrange(256)


def rand_bytes(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


def rand_exts(rng, is_rrq):
    """A random, valid extension list (bytes, [info...])."""
    makers = [
        lambda: ext_nai(("u%d@acme.example" % rng.randrange(10**6)).encode()),
        lambda: ext_udp_rep(rng.randrange(2), rng.choice([0, 1, 63, 64, 255]),
                            rng.randrange(65536)),
        lambda: ext_revocation(rng.randrange(2), rng.randrange(1 << 32)),
        lambda: ext_msg_string(rng.choice([1, 2]),
                               ("h\u00e9llo %d" % rng.randrange(1000)).encode()),
        lambda: ext_dyn_ha(rng.choice([1, 2]), rand_addr(rng)),
        lambda: ext_challenge(rand_bytes(rng, rng.randrange(1, 40))),
        lambda: ext_pad(),
        lambda: ext_unknown(rng.choice([128, 150, 200, 255]),
                            rand_bytes(rng, rng.randrange(0, 20))),
    ]
    if is_rrq:
        makers.append(lambda: ext_udp_req(rng.randrange(2), rng.randrange(2),
                                          rng.choice([0, 4, 47, 55])))
    exts = []
    used = set()
    for _ in range(rng.randrange(0, 5)):
        i = rng.randrange(len(makers))
        if i in used and i not in (6, 7):   # one of each, apart from pad/unknown
            continue
        used.add(i)
        exts.append(makers[i]())
    # Authentication extensions last, in RFC 5944 §3.6.1.3 order.
    exts.append(ext_auth(32, rng.randrange(256, 1 << 32), rand_bytes(rng, 16)))
    if rng.random() < 0.3:
        exts.append(ext_gen_auth(rng.randrange(1 << 32), rand_bytes(rng, 16)))
    if rng.random() < 0.3:
        exts.append(ext_auth(33, rng.randrange(1 << 32), rand_bytes(rng, 20)))
    if rng.random() < 0.5:
        exts.append(ext_auth(34, rng.randrange(1 << 32), rand_bytes(rng, 16)))
    return exts


def expected_kv(fixed_len, exts):
    exp = {"ext_count": str(len(exts)),
           "ext_skipped": str(sum(1 for _, i in exts if i.get("skipped")))}
    off = fixed_len
    for n, (b, info) in enumerate(exts):
        exp["ext.%d.type" % n] = str(info["type"])
        exp["ext.%d.subtype" % n] = str(info["subtype"])
        exp["ext.%d.off" % n] = str(off)
        exp["ext.%d.len" % n] = str(len(b))
        exp["ext.%d.data_len" % n] = str(info["data_len"])
        exp["ext.%d.skipped" % n] = str(info.get("skipped", 0))
        for k, v in info.items():
            if k in ("type", "subtype", "data_len", "skipped"):
                continue
            if k.endswith(".covered_len"):
                v = str(off + v)
            exp[k] = v
        off += len(b)
    return exp


def compare(label, got, exp):
    global checks
    for k, v in exp.items():
        checks += 1
        if got.get(k) != v:
            fail("%s: %s: msgtool %r, expected %r" % (label, k, got.get(k), v))
    # Nothing reported that we did not expect (apart from derived keys).
    derived = {"err", "reply_code", "type"}
    for k in got:
        if k not in exp and k not in derived:
            fail("%s: unexpected key %s=%s" % (label, k, got[k]))


def scapy_to_msgtool(rng, n):
    """scapy encodes, msgtool decodes."""
    for case in range(n):
        is_rrq = case % 2 == 0
        flags = rng.randrange(256)
        lifetime = rng.choice([0, 1, 180, 600, 0xfffe, 0xffff, rng.randrange(65536)])
        home, ha, coa = rand_addr(rng), rand_addr(rng), rand_addr(rng)
        if rng.random() < 0.1:
            home = "0.0.0.0"
        ident = rng.choice([0, (1 << 64) - 1, rng.randrange(1 << 64)])
        code = rng.choice([0, 1, 64, 70, 128, 131, 133, 134, 139, 142, 194, 255])
        exts = rand_exts(rng, is_rrq)
        raw = b"".join(b for b, _ in exts)
        if is_rrq:
            pkt = MobileIP(type=1) / MobileIPRRQ(flags=flags, lifetime=lifetime,
                                                  homeaddr=home, haaddr=ha,
                                                  coaddr=coa, id=ident) / Raw(raw)
            fixed = 24
            exp = {"flags": "0x%02x" % flags, "coa": coa}
            for bit, name in zip(range(7, -1, -1), "sbdmgrtx"):
                exp[name] = str((flags >> bit) & 1)
        else:
            pkt = MobileIP(type=3) / MobileIPRRP(code=code, lifetime=lifetime,
                                                  homeaddr=home, haaddr=ha,
                                                  id=ident) / Raw(raw)
            fixed = 20
            exp = {"code": str(code)}
        exp.update({"lifetime": str(lifetime), "home_addr": home,
                    "ha_addr": ha, "id": "0x%016x" % ident})
        exp.update(expected_kv(fixed, exts))
        wire = bytes(pkt)
        rc, out = msgtool("decode", wire.hex())
        got = parse_kv(out)
        label = "scapy->msgtool case %d (%s)" % (case, wire.hex())
        if rc != 0 or got.get("err") != "ok":
            fail("%s: rc=%d err=%s" % (label, rc, got.get("err")))
            continue
        compare(label, got, exp)


def msgtool_to_scapy(rng, n):
    """msgtool encodes, scapy decodes; extension bytes compared with ours."""
    global checks
    for case in range(n):
        is_rrq = case % 2 == 0
        flags = rng.randrange(256)
        code = rng.randrange(256)
        lifetime = rng.randrange(65536)
        home, ha, coa = rand_addr(rng), rand_addr(rng), rand_addr(rng)
        ident = rng.randrange(1 << 64)
        args = ["rrq" if is_rrq else "rrp",
                "lifetime=%d" % lifetime, "home_addr=" + home, "ha_addr=" + ha,
                "id=0x%x" % ident]
        args += ["flags=0x%02x" % flags, "coa=" + coa] if is_rrq else ["code=%d" % code]
        want = b""
        nai = ("n%d@acme.example" % case).encode()
        args.append("nai=" + nai.decode())
        want += ext_nai(nai)[0]
        if is_rrq:
            f, r, e = rng.randrange(2), rng.randrange(2), rng.choice([0, 4, 47, 55])
            args.append("udp_req=%d:%d:%d" % (f, r, e))
            want += ext_udp_req(f, r, e)[0]
        else:
            f, c, k = rng.randrange(2), rng.choice([0, 64]), rng.randrange(65536)
            args.append("udp_rep=%d:%d:%d" % (f, c, k))
            want += ext_udp_rep(f, c, k)[0]
            text = "Welcome %d" % case
            args.append("msg_string=1:" + text)
            want += ext_msg_string(1, text.encode())[0]
        i, ts = rng.randrange(2), rng.randrange(1 << 32)
        args.append("revocation=%d:%d" % (i, ts))
        want += ext_revocation(i, ts)[0]
        d = rand_addr(rng)
        args.append("dyn_ha=1:" + d)
        want += ext_dyn_ha(1, d)[0]
        args.append("pad=1")
        want += ext_pad()[0]
        spi, auth = rng.randrange(1 << 32), rand_bytes(rng, 16)
        args.append("mn_ha=%d:%s" % (spi, auth.hex()))
        want += ext_auth(32, spi, auth)[0]
        ch = rand_bytes(rng, 8)
        args.append("challenge=" + ch.hex())
        want += ext_challenge(ch)[0]
        spi, auth = rng.randrange(1 << 32), rand_bytes(rng, 16)
        args.append("mn_aaa=%d:%s" % (spi, auth.hex()))
        want += ext_gen_auth(spi, auth)[0]
        spi, auth = rng.randrange(1 << 32), rand_bytes(rng, 16)
        args.append("fa_ha=%d:%s" % (spi, auth.hex()))
        want += ext_auth(34, spi, auth)[0]

        rc, out = msgtool("encode", *args)
        label = "msgtool->scapy case %d" % case
        if rc != 0:
            fail("%s: msgtool encode rc=%d" % (label, rc))
            continue
        wire = bytes.fromhex(out.strip())
        pkt = MobileIP(wire)
        layer = MobileIPRRQ if is_rrq else MobileIPRRP
        if layer not in pkt:
            fail("%s: scapy sees no %s in %s" % (label, layer.__name__, wire.hex()))
            continue
        m = pkt[layer]
        exp = {"type": 1 if is_rrq else 3, "lifetime": lifetime, "homeaddr": home,
               "haaddr": ha, "id": ident}
        got = {"type": pkt.type, "lifetime": m.lifetime, "homeaddr": m.homeaddr,
               "haaddr": m.haaddr, "id": m.id}
        if is_rrq:
            exp.update({"flags": flags, "coaddr": coa})
            got.update({"flags": m.flags, "coaddr": m.coaddr})
        else:
            exp["code"] = code
            got["code"] = m.code
        for k in exp:
            checks += 1
            if got[k] != exp[k]:
                fail("%s: %s: scapy %r, expected %r" % (label, k, got[k], exp[k]))
        checks += 1
        tail = bytes(m.payload)
        if tail != want:
            fail("%s: extensions differ:\n  ours   %s\n  python %s"
                 % (label, tail.hex(), want.hex()))
        # And back: scapy's bytes re-encoded by scapy are identical.
        checks += 1
        if bytes(pkt) != wire:
            fail("%s: scapy re-encoding differs" % label)


def main():
    rng = random.Random(434)
    scapy_to_msgtool(rng, 200)
    msgtool_to_scapy(rng, 100)
    print("%d checks, %d failures" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
