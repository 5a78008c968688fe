#!/usr/bin/python3
"""Configuration reload (SIGHUP and `miphactl reload`).

Unchanged tenants keep every binding (and their nodes' replay state and
NAI addresses); a removed mobile node's bindings go; a removed tenant's
bindings go; a broken main file keeps everything (miphactl reload exits 1
and says why); a broken tenant file keeps that tenant's previous
configuration and bindings while the other tenants reload (exit 1, the
message names FILE:LINE).
"""
import os
import re
import signal
import struct
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, KEY1, KEY2  # noqa: E402

KEY3 = "0x303132333435363738393a3b3c3d3e3f"


def acme(extra=(), drop_k=False):
    mns = [nt.mn_entry(1000, KEY1, hoa="198.18.10.5")]
    if not drop_k:
        mns.append(nt.mn_entry(1002, KEY1, hoa="198.18.10.6"))
    mns += [nt.mn_entry(1003, KEY2, hoa="198.18.10.7", replay="nonce")]
    mns += [nt.mn_entry(1010 + i, KEY2, nai="p%d@acme.example" % i) for i in range(3)]
    mns += list(extra)
    return nt.tenant("acme", 101, "198.18.10.0/24", mns, pool="198.18.10.128/29",
                     max_bindings=2)


def beta(max_bindings=1):
    return nt.tenant("beta", 102, "198.18.20.0/24",
                     [nt.mn_entry(1000, KEY2, hoa="198.18.20.5")],
                     max_bindings=max_bindings)


def gamma(rt="allowed"):
    return nt.tenant("gamma", 103, "198.18.30.0/24",
                     [nt.mn_entry(1000, KEY2, hoa="198.18.30.5")], reverse_tunnel=rt)


def delta():
    return nt.tenant("delta", 104, "198.18.40.0/24",
                     [nt.mn_entry(1000, KEY2, hoa="198.18.40.5")])


def body(t):
    d = nt.Daemon("reload", tenants={"acme": acme(), "beta": beta(),
                                     "gamma": gamma(), "delta": delta()})
    t.check(d.start(), "daemon starts")
    sock = nt.mn_socket()

    def node(hoa, spi, key, **kw):
        return mip.MobileNode(HA, hoa, spi, key, sock=sock, **kw)
    A = node("198.18.10.5", 1000, KEY1)
    K = node("198.18.10.6", 1002, KEY1)
    N = node("198.18.10.7", 1003, KEY2, replay="nonce")
    P = [node("0.0.0.0", 1010 + i, KEY2, nai="p%d@acme.example" % i) for i in range(3)]
    B = node("198.18.20.5", 1000, KEY2)
    G = node("198.18.30.5", 1000, KEY2)
    D = node("198.18.40.5", 1000, KEY2)
    Z = node("198.18.10.9", 1020, KEY3)

    def reg(nd, coa, lifetime=600, flags=mip.F_D, what=None, code=0, **kw):
        r = nd.register(coa, lifetime, flags, **kw)
        t.check(r is not None and r.code == code and r.mn_ha_valid,
                "%s: code %d" % (what or "%s registers at %s" % (nd.hoa, coa), code),
                r.to_json() if r else "no reply")
        return r

    t.section("bindings in four tenants")
    reg(A, "198.19.0.3")
    reg(A, "198.19.0.4", flags=mip.F_D | mip.F_S)
    a_req = A.last_request
    reg(K, "198.19.0.3")
    reg(N, "198.19.0.3", code=133, what="nonce node's first request")
    reg(N, "198.19.0.3")
    rp = reg(P[0], "198.19.0.3", what="NAI node p0")
    p0_hoa = rp.hoa if rp else None
    reg(B, "198.19.0.3")
    reg(G, "198.19.0.3")
    reg(D, "198.19.0.3")
    t.eq(len(d.bindings()), 8, "eight bindings")

    def reloads():
        return d.stats().get("reloads")

    def sighup():
        n0 = reloads()
        d.send_signal(signal.SIGHUP)
        if n0 is None:
            time.sleep(1)
        else:
            t.check(nt.wait_for(lambda: reloads() == n0 + 1, 5),
                    "SIGHUP: the daemon reloaded (reloads %s -> %s)" % (n0, reloads()))

    def ctl_reload():
        rc, out, err = d.ctl("reload", json_=False)
        return rc, (out + err).strip()

    # ------------------------------------------------------------------
    t.section("reload with nothing changed")
    snap = nt.strip_remaining(d.bindings_raw())
    sighup()
    t.check(d.alive(), "alive after SIGHUP")
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "SIGHUP: every binding kept")
    rc, msg = ctl_reload()
    t.eq(rc, 0, "miphactl reload: exit 0 (%s)" % msg)
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "miphactl reload: every binding kept")

    def resend(msg, nd):
        ident = struct.unpack("!Q", msg[16:24])[0]
        nd.send(msg)
        data, addr = mip.recv_until(sock, lambda dd, a: dd[:1] == b"\x03" and
                                    struct.unpack("!Q", dd[12:20])[0] & 0xffffffff ==
                                    ident & 0xffffffff, 2.0)
        return nd.handle_reply(data, addr, ident) if data else None
    r = resend(a_req, A)
    t.check(r is not None and r.code == 133,
            "a request accepted before the reload is refused when replayed "
            "after it (replay state kept)", r.to_json() if r else "no reply")
    reg(N, "198.19.0.3", what="nonce node continues with the nonce from before the reload")
    reg(P[1], "198.19.0.5", what="NAI node p1")
    r = reg(P[0], "198.19.0.3", what="NAI node p0 again")
    t.check(r is not None and r.hoa == p0_hoa, "p0 keeps its address across reloads "
            "(%s, was %s)" % (r.hoa if r else None, p0_hoa))

    # ------------------------------------------------------------------
    t.section("a removed mobile node's bindings go")
    snap_b = [b for b in d.bindings() if b["home_address"] != "198.18.10.6"]
    d.write_tenant("acme", acme(drop_k=True))
    rc, msg = ctl_reload()
    t.eq(rc, 0, "reload: exit 0 (%s)" % msg)
    t.eq(nt.find(d.bindings(), "198.18.10.6"), None, "K's binding removed")
    t.eq(sorted(map(str, [dict(b, remaining=0) for b in d.bindings()])),
         sorted(map(str, [dict(b, remaining=0) for b in snap_b])),
         "all other bindings kept as they were")
    s0 = d.stats()
    r = K.register("198.19.0.3", 600, mip.F_D, timeout=0.6)
    t.check(r is None, "K's requests are now silently discarded")
    t.eq(nt.wait_for(lambda: nt.stats_delta(s0, d.stats())), {"dropped.no-sa": 1},
         "counted as no-sa")

    t.section("a removed tenant's bindings go")
    snap_b = [b for b in d.bindings() if b["tenant"] != "delta"]
    d.remove_tenant("delta")
    sighup()
    t.eq(nt.find(d.bindings(), "198.18.40.5"), None, "delta's binding removed")
    t.check("delta" not in [x["name"] for x in d.tenants()], "delta no longer listed")
    t.eq(sorted(map(str, [dict(b, remaining=0) for b in d.bindings()])),
         sorted(map(str, [dict(b, remaining=0) for b in snap_b])),
         "other tenants' bindings kept")

    t.section("max_lifetime changes at reload")
    d.ha["max_lifetime"] = 300
    d.write_main()
    rc, msg = ctl_reload()
    t.eq(rc, 0, "reload: exit 0")
    r = reg(B, "198.19.0.3", what="B renews asking for 600 s")
    t.eq(r.lifetime if r else None, 300, "granted the new max_lifetime 300")

    # ------------------------------------------------------------------
    t.section("a broken main file keeps everything")
    snap = nt.strip_remaining(d.bindings_raw())
    tenants0 = sorted(x["name"] for x in d.tenants())
    good_main = open(d.conf).read()
    d.write_main(good_main.replace("max_lifetime = 300;", "max_lifetime = 300\n"
                                   "\treplay_window = ;"))
    rc, msg = ctl_reload()
    t.eq(rc, 1, "miphactl reload: exit 1")
    t.check(d.conf in msg and re.search(r":\d+:", msg),
            "and says why, naming FILE:LINE (%s)" % msg.replace("\n", " | "))
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "bindings unchanged")
    t.eq(sorted(x["name"] for x in d.tenants()), tenants0, "tenants unchanged")
    sighup()
    t.check(d.alive(), "SIGHUP with the broken main file: still alive")
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "bindings unchanged")
    r = reg(B, "198.19.0.3", what="registration still works")
    t.eq(r.lifetime if r else None, 300, "with the running max_lifetime")
    d.write_main(good_main.replace("max_lifetime = 300;", "max_lifetime = 300;\n"
                                   "\tno_such_key = 1;"))
    rc, msg = ctl_reload()
    t.eq(rc, 1, "unknown key in the main file: exit 1")
    t.check("no_such_key" in msg, "the message names the key (%s)" % msg.replace("\n", " | "))
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "bindings unchanged")
    d.write_main(good_main)

    # ------------------------------------------------------------------
    t.section("a broken tenant file: that tenant keeps its configuration")
    snap = nt.strip_remaining(d.bindings_raw())
    beta_path = d.write_tenant("beta", nt.libconfig({"tenant": beta(max_bindings=2)})
                               .replace('"198.18.20.0/24";', '"198.18.20.0/24"\n'
                                        '\tpolicy = "sideways";'))
    bad_line = [i + 1 for i, l in enumerate(open(beta_path)) if "sideways" in l][0]
    d.write_tenant("acme", acme(drop_k=True, extra=[nt.mn_entry(1020, KEY3,
                                                                hoa="198.18.10.9")]))
    d.write_tenant("gamma", gamma("required"))
    rc, msg = ctl_reload()
    t.eq(rc, 1, "miphactl reload: exit 1")
    t.check(re.search(re.escape(beta_path) + r":\d+:", msg) is not None,
            "the message names %s:LINE (%s)" % (beta_path, msg.replace("\n", " | ")))
    t.check("%s:%d:" % (beta_path, bad_line) in msg or
            "%s:%d:" % (beta_path, bad_line - 1) in msg,
            "at the broken line %d" % bad_line)
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "every binding kept")
    r = reg(B, "198.19.0.6", flags=mip.F_D | mip.F_S, code=1,
            what="beta keeps max_bindings 1 (S -> code 1)")
    reg(Z, "198.19.0.3", what="acme reloaded: the new node registers")
    reg(G, "198.19.0.3", code=138, what="gamma reloaded: reverse tunnel now required")
    reg(G, "198.19.0.3", flags=mip.F_D | mip.F_T, what="gamma with T")
    t.check(d.alive(), "alive")

    t.section("a broken file for a new tenant")
    d.write_tenant("beta", beta(max_bindings=1))
    rc, msg = ctl_reload()
    t.eq(rc, 0, "beta's file repaired (unchanged): exit 0 (%s)" % msg.replace("\n", " | "))
    snap = nt.strip_remaining(d.bindings_raw())
    eps_path = d.write_tenant("epsilon", 'tenant: {\n\tname = "epsilon";\n'
                              '\ttable = 105\n\thome_network = "198.18.50.0/24";\n};\n')
    rc, msg = ctl_reload()
    t.eq(rc, 1, "miphactl reload: exit 1 for an invalid new tenant file")
    t.check(re.search(re.escape(eps_path) + r":\d+:", msg) is not None,
            "the message names %s:LINE (%s)" % (eps_path, msg.replace("\n", " | ")))
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "every binding kept")
    d.remove_tenant("epsilon")

    t.section("three broken tenant files: all named")
    snap = nt.strip_remaining(d.bindings_raw())
    b_path = d.write_tenant("beta", nt.libconfig({"tenant": beta()}).replace(
        "max_bindings = 1;", "max_bindings = 99;"))
    g_path = d.write_tenant("gamma", nt.libconfig({"tenant": gamma("required")}).replace(
        '"required"', '"sometimes"'))
    e_path = d.write_tenant("epsilon", nt.libconfig({"tenant": nt.tenant(
        "epsilon", 105, "198.18.50.0/24", [])}).replace("table = 105;", "table = 254;"))
    rc, msg = ctl_reload()
    t.eq(rc, 1, "miphactl reload: exit 1")
    for p in (b_path, g_path, e_path):
        t.check(re.search(re.escape(p) + r":\d+:", msg) is not None,
                "the message names %s:LINE" % os.path.basename(p),
                "message (%d characters): %r" % (len(msg), msg))
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "every binding kept")
    reg(G, "198.19.0.3", code=138, what="gamma still requires the reverse tunnel")
    d.write_tenant("beta", beta(max_bindings=1))
    d.write_tenant("gamma", gamma("required"))
    d.remove_tenant("epsilon")
    rc, msg = ctl_reload()
    t.eq(rc, 0, "all repaired: exit 0 (%s)" % msg.replace("\n", " | "))

    t.section("the fixed tenant file is taken")
    d.write_tenant("beta", beta(max_bindings=2))
    rc, msg = ctl_reload()
    t.eq(rc, 0, "reload: exit 0 (%s)" % msg.replace("\n", " | "))
    reg(B, "198.19.0.7", flags=mip.F_D | mip.F_S, code=0,
        what="beta now allows simultaneous bindings (S -> 0)")
    t.eq(sorted(b["care_of_address"] for b in d.bindings()
                if b["home_address"] == "198.18.20.5"),
         ["198.19.0.6", "198.19.0.7"], "beta node has two bindings")
    t.check(nt.find(d.bindings(), "198.18.10.5", "198.19.0.4") is not None,
            "acme's bindings survived all of it")

    t.section("a tenant file that becomes invalid by a conflict")
    snap = nt.strip_remaining(d.bindings_raw())
    d.write_tenant("beta", nt.libconfig({"tenant": beta(max_bindings=2)})
                   .replace('table = 102;', 'table = 101;'))
    rc, msg = ctl_reload()
    t.eq(rc, 1, "two tenants with table 101: exit 1 (%s)" % msg.replace("\n", " | "))
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "every binding kept")
    d.write_tenant("beta", beta(max_bindings=2))
    rc, msg = ctl_reload()
    t.eq(rc, 0, "fixed again: exit 0")
    t.eq(nt.strip_remaining(d.bindings_raw()), snap, "every binding kept")
    t.eq(d.stop(), 0, "SIGTERM: exit 0")


if __name__ == "__main__":
    nt.run("test_reload", body)
