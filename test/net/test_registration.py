#!/usr/bin/python3
"""Registration end to end (RFC 5944 §3.8, RFC 2794, RFC 3024, RFC 3519,
RFC 5265 §3.7): mipha in a namespace, mobile nodes and foreign agents from
contrib/mipnode.py in others; every reply, counter and `show bindings` entry
checked after each step."""
import os
import struct
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, MN_SRC, FA, FA_NOSA, INT_SRC, KEY1, KEY2, FAKEY  # noqa: E402

POOL = "198.18.10.252/30"
NAI_NODES = ["n%d@acme.example" % i for i in range(6)]


def tenants():
    acme = nt.tenant(
        "acme", 101, "198.18.10.0/24", [
            nt.mn_entry(1000, KEY1, hoa="198.18.10.5"),
            nt.mn_entry(1002, KEY1, hoa="198.18.10.6", alg="keyed-md5"),
            nt.mn_entry(1003, KEY2, hoa="198.18.10.7", replay="nonce"),
            nt.mn_entry(1005, KEY2, hoa="198.18.10.8", nai="carol@acme.example"),
            nt.mn_entry(1006, KEY1, hoa="198.18.10.9"),
            nt.mn_entry(1007, KEY1, hoa="198.18.10.10"),
            nt.mn_entry(1008, KEY1, hoa="198.18.10.11"),
            nt.mn_entry(1009, KEY1, hoa="198.18.10.12"),
        ] + [nt.mn_entry(1010 + i, KEY2, nai=n) for i, n in enumerate(NAI_NODES)],
        pool=POOL, reverse_tunnel="allowed",
        encapsulations=["ipip", "gre", "minimal", "udp"], max_bindings=2,
        internal_networks=["203.0.113.0/24"],
        foreign_agents=[{"address": FA, "spi": 2000, "algorithm": "hmac-md5",
                         "key": FAKEY}])
    beta = nt.tenant("beta", 102, "198.18.20.0/24",
                     [nt.mn_entry(1000, KEY2, hoa="198.18.20.5")],
                     reverse_tunnel="denied", encapsulations=["ipip"],
                     max_bindings=1)
    gamma = nt.tenant("gamma", 103, "198.18.30.0/24",
                      [nt.mn_entry(1000, KEY2, hoa="198.18.30.5")],
                      reverse_tunnel="required", max_bindings=1)
    delta = nt.tenant("delta", 104, "198.18.40.0/24",
                      [nt.mn_entry(1000, KEY2, hoa="198.18.40.5")],
                      reverse_tunnel="denied", encapsulations=["ipip"],
                      max_bindings=2)
    return {"acme": acme, "beta": beta, "gamma": gamma, "delta": delta}


class Ctx:
    pass


def rep_detail(node, rep):
    req = node.last_request if node is not None else None
    s = "request: %s" % (req.hex() if req else "?")
    if req:
        s += "\nrequest decoded: %s" % mip.Message(req).to_json()
    s += "\nreply: %s" % ("none" if rep is None else rep.raw.hex())
    if rep is not None:
        s += "\nreply decoded: %s" % rep.to_json()
    return s


def outcome(t, d, label, send, code=None, drop=None, node=None, changes=False,
            wait=None):
    """Run send() -> Reply|None and check: the reply code (and its MN-HA
    authenticator) or a silent, counted drop; the counters' exact change;
    and, for anything but an acceptance, that `show bindings` did not
    change (remaining aside)."""
    b0 = nt.strip_remaining(d.bindings_raw())
    s0 = d.stats()
    rep = send()
    if code is not None:
        t.check(rep is not None and rep.code == code,
                "%s: reply code %d (%s)" % (label, code, mip.code_str(code)),
                rep_detail(node, rep))
        if rep is not None and node is not None:
            t.check(rep.mn_ha_valid and rep.id_matches,
                    "%s: reply has a valid MN-HA authenticator and the "
                    "request's low Identification bits" % label,
                    rep_detail(node, rep))
            q = mip.Message(node.last_request)
            t.check(rep.ha == HA and rep.src == (HA, 434) and
                    (q.hoa == "0.0.0.0" or rep.hoa == q.hoa) and
                    (code not in (0, 1) or rep.lifetime <= q.lifetime),
                    "%s: reply from HA:434, Home Agent field = HA, Home Address "
                    "copied, lifetime not above the request's (§3.8.3)" % label,
                    rep_detail(node, rep))
        want = {"accepted": 1} if code in (0, 1) else {"denied.%d" % code: 1}
    else:
        t.check(rep is None, "%s: silently discarded (no reply)" % label,
                rep_detail(node, rep))
        want = {"dropped." + drop: 1}
    delta = nt.wait_for(lambda: nt.stats_delta(s0, d.stats()) == want and want
                        or None, timeout=wait or 2.0)
    if delta is None:
        delta = nt.stats_delta(s0, d.stats())
    else:
        delta = want
    t.eq(delta, want, "%s: counters change by %s" % (label, want))
    if not changes:
        b1 = nt.strip_remaining(d.bindings_raw())
        t.check(b1 == b0, "%s: bindings unchanged" % label,
                "before: %s\nafter:  %s" % (b0, b1))
    t.check(d.alive(), "%s: daemon alive" % label)
    return rep


def check_binding(t, d, label, hoa, coa, **want):
    bs = d.bindings()
    b = nt.find(bs, hoa, coa)
    if not t.check(b is not None, "%s: binding %s -> %s listed" % (label, hoa, coa),
                   "bindings: %s" % bs):
        return None
    for k in ("tenant", "home_address", "care_of_address", "source_address",
              "nai", "lifetime", "remaining", "encapsulation",
              "reverse_tunnel", "via_fa"):
        t.check(k in b, "%s: field %s present" % (label, k), b)
    for k, v in want.items():
        if k == "remaining":
            lo, hi = v
            t.check(lo <= b.get("remaining", -1) <= hi,
                    "%s: remaining in [%d, %d]" % (label, lo, hi), b)
        else:
            t.eq(b.get(k), v, "%s: %s = %r" % (label, k, v))
    return b


def node_coas(d, hoa):
    return sorted(b["care_of_address"] for b in d.bindings()
                  if b["home_address"] == hoa)


def body(t):
    d = nt.Daemon("reg", tenants=tenants())
    rc, out = d.check_config()
    t.eq(rc, 0, "mipha -n accepts the test configuration" + ("" if rc == 0 else ": " + out))
    t.check(d.start(), "daemon starts and answers miphactl")
    t.eq(d.bindings(), [], "no bindings at start")
    names = sorted(x["name"] for x in d.tenants())
    t.eq(names, sorted(["acme", "beta", "gamma", "delta"]),
         "show tenants lists the four tenants")
    for x in d.tenants():
        for k in ("name", "table", "vpn_gateway", "home_network", "policy", "bindings"):
            t.check(k in x, "show tenants: %s has %s" % (x.get("name"), k), x)
    documented = {"malformed", "unknown-extension", "no-sa", "no-auth-ext",
                  "reserved-spi", "fa-ha-unexpected", "bad-auth-fa-unverified",
                  "internal-source", "not-request", "rate-limited"}
    st = d.stats()
    for k in ("registrations_accepted", "registrations_denied",
              "registrations_dropped", "packets_tunneled",
              "packets_reverse_tunneled", "packets_dropped"):
        t.check(k in st, "show stats has %s" % k)
    t.check(set(st.get("registrations_dropped", {})) <= documented,
            "show stats: only the documented drop reasons",
            sorted(set(st.get("registrations_dropped", {})) - documented))

    sock = nt.mn_socket()

    def node(hoa, spi, key=KEY1, **kw):
        return mip.MobileNode(HA, hoa, spi, key, sock=sock, **kw)

    A = node("198.18.10.5", 1000)
    K = node("198.18.10.6", 1002, alg="keyed-md5")
    N = node("198.18.10.7", 1003, KEY2, replay="nonce")
    C = node("198.18.10.8", 1005, KEY2, nai="carol@acme.example")
    F = node("198.18.10.9", 1006)
    E = node("198.18.10.10", 1007)
    X = node("198.18.10.11", 1008)
    B = node("198.18.20.5", 1000, KEY2)
    G = node("198.18.30.5", 1000, KEY2)

    # ------------------------------------------------------------------
    t.section("accept, renew, lifetimes (RFC 5944 §3.8.2.2, §3.8.3.2)")
    req_id = [None]

    def reg_a():
        r = A.register(MN_SRC, 300, mip.F_D)
        req_id[0] = struct.unpack("!Q", A.last_request[16:24])[0]
        return r
    rep = outcome(t, d, "co-located registration", reg_a, code=0, node=A,
                  changes=True)
    if rep:
        t.eq(rep.lifetime, 300, "reply grants the requested 300 s")
        t.eq(rep.hoa, "198.18.10.5", "reply Home Address copied")
        t.eq(rep.ha, HA, "reply Home Agent field is the HA")
        t.eq(rep.ident, req_id[0], "timestamp mode: whole Identification echoed (§5.7.1)")
        t.eq(rep.src, (HA, 434), "reply from the HA address, port 434 (§3.8.3.1)")
        t.eq(rep.exts[-1].type if rep.exts else None, mip.EXT_MN_HA,
             "MN-HA is the last extension of a direct reply")
    check_binding(t, d, "after accept", "198.18.10.5", MN_SRC, tenant="acme",
                  source_address=MN_SRC, nai=None, lifetime=300,
                  remaining=(297, 300), encapsulation="ipip",
                  reverse_tunnel=False, via_fa=False)
    t.eq(len(d.bindings()), 1, "exactly one binding")

    outcome(t, d, "renewal with T and G", lambda: A.register(
        MN_SRC, 400, mip.F_D | mip.F_T | mip.F_G), code=0, node=A, changes=True)
    check_binding(t, d, "after renewal", "198.18.10.5", MN_SRC, lifetime=400,
                  encapsulation="gre", reverse_tunnel=True, via_fa=False)
    t.eq(len(d.bindings()), 1, "a renewal does not add a binding")
    outcome(t, d, "renewal with M", lambda: A.register(
        MN_SRC, 400, mip.F_D | mip.F_M), code=0, node=A, changes=True)
    check_binding(t, d, "after M", "198.18.10.5", MN_SRC,
                  encapsulation="minimal", reverse_tunnel=False)
    outcome(t, d, "move to a new CoA (no S)", lambda: A.register(
        "198.19.0.3", 400, mip.F_D), code=0, node=A, changes=True)
    t.eq(node_coas(d, "198.18.10.5"), ["198.19.0.3"], "the old CoA is replaced")
    check_binding(t, d, "after move", "198.18.10.5", "198.19.0.3",
                  source_address=MN_SRC)

    rep = outcome(t, d, "infinite lifetime (0xffff) is capped", lambda: A.register(
        "198.19.0.3", 0xffff, mip.F_D), code=0, node=A, changes=True)
    if rep:
        t.eq(rep.lifetime, 600, "reply grants max_lifetime 600")
    check_binding(t, d, "after 0xffff", "198.18.10.5", "198.19.0.3",
                  lifetime=600, remaining=(597, 600))
    rep = outcome(t, d, "lifetime 601 is capped", lambda: A.register(
        "198.19.0.3", 601, mip.F_D), code=0, node=A, changes=True)
    if rep:
        t.eq(rep.lifetime, 600, "reply grants 600")

    rep = outcome(t, d, "keyed-MD5 node registers", lambda: K.register(
        "198.19.0.4", 200, mip.F_D), code=0, node=K, changes=True)
    check_binding(t, d, "keyed-md5 node", "198.18.10.6", "198.19.0.4",
                  lifetime=200)

    # ------------------------------------------------------------------
    t.section("simultaneous bindings (S), deregistration (§3.8.2.2)")
    outcome(t, d, "S: second CoA", lambda: A.register(
        "198.19.0.4", 300, mip.F_D | mip.F_S), code=0, node=A, changes=True)
    t.eq(node_coas(d, "198.18.10.5"), ["198.19.0.3", "198.19.0.4"],
         "both CoAs bound")
    for b in d.bindings():
        if b["home_address"] == "198.18.10.5":
            t.eq(b["tenant"], "acme", "simultaneous binding %s tenant" % b["care_of_address"])
    outcome(t, d, "S: third CoA over max_bindings 2", lambda: A.register(
        "198.19.0.5", 300, mip.F_D | mip.F_S), code=135, node=A)
    outcome(t, d, "S: renew an existing CoA at the limit", lambda: A.register(
        "198.19.0.4", 310, mip.F_D | mip.F_S), code=0, node=A, changes=True)
    t.eq(node_coas(d, "198.18.10.5"), ["198.19.0.3", "198.19.0.4"],
         "still the two CoAs")
    check_binding(t, d, "renewed simultaneous", "198.18.10.5", "198.19.0.4",
                  lifetime=310)
    outcome(t, d, "deregister one CoA (lifetime 0, CoA != HoA)", lambda: A.register(
        "198.19.0.4", 0, mip.F_D), code=0, node=A, changes=True)
    t.eq(node_coas(d, "198.18.10.5"), ["198.19.0.3"], "only that CoA removed")
    outcome(t, d, "S again", lambda: A.register(
        "198.19.0.6", 300, mip.F_D | mip.F_S), code=0, node=A, changes=True)
    t.eq(node_coas(d, "198.18.10.5"), ["198.19.0.3", "198.19.0.6"], "two CoAs again")
    outcome(t, d, "no S: replaces all", lambda: A.register(
        "198.19.0.7", 300, mip.F_D), code=0, node=A, changes=True)
    t.eq(node_coas(d, "198.18.10.5"), ["198.19.0.7"], "one CoA left")
    outcome(t, d, "S again", lambda: A.register(
        "198.19.0.8", 300, mip.F_D | mip.F_S), code=0, node=A, changes=True)
    rep = outcome(t, d, "deregister all (lifetime 0, CoA = HoA)", lambda: A.deregister(),
                  code=0, node=A, changes=True)
    if rep:
        t.eq(rep.lifetime, 0, "deregistration reply lifetime 0")
    t.eq(node_coas(d, "198.18.10.5"), [], "all bindings of the node removed")
    t.check(nt.find(d.bindings(), "198.18.10.6") is not None,
            "the other node's binding stays")
    outcome(t, d, "K: deregistration with a bad authenticator -> 131", lambda: K.register(
        "198.18.10.6", 0, mip.F_D, auth=mip.MnHaAuth(1002, KEY1, alg="keyed-md5",
                                                     corrupt=True)), code=131, node=K)
    outcome(t, d, "K: deregistration with a stale timestamp -> 133", lambda: K.register(
        "198.18.10.6", 0, mip.F_D, ident=mip.ntp_now(time.time() - 60)), code=133, node=K)
    outcome(t, d, "deregister an unknown CoA", lambda: A.register(
        "198.19.0.9", 0, mip.F_D), code=0, node=A)

    outcome(t, d, "beta (max_bindings 1): S -> code 1", lambda: B.register(
        MN_SRC, 300, mip.F_D | mip.F_S), code=1, node=B, changes=True)
    check_binding(t, d, "beta S", "198.18.20.5", MN_SRC, tenant="beta")
    outcome(t, d, "beta: S with another CoA -> code 1, replaced", lambda: B.register(
        "198.19.0.3", 300, mip.F_D | mip.F_S), code=1, node=B, changes=True)
    t.eq(node_coas(d, "198.18.20.5"), ["198.19.0.3"], "beta: one binding")

    # ------------------------------------------------------------------
    t.section("NAI and home address assignment (RFC 2794)")
    nai_nodes = [node("0.0.0.0", 1010 + i, KEY2, nai=n) for i, n in enumerate(NAI_NODES)]
    n0 = nai_nodes[0]
    rep = outcome(t, d, "NAI node, home address 0", lambda: n0.register(
        MN_SRC, 300, mip.F_D), code=0, node=n0, changes=True)
    got = rep.hoa if rep else None
    pool_addrs = ["198.18.10.%d" % i for i in (252, 253, 254, 255)]
    if rep:
        t.check(got in pool_addrs, "assigned address %s is in the pool %s" % (got, POOL))
        t.check(got not in ("198.18.10.255",),
                "assigned address is not the home network's broadcast address")
        t.eq(rep.nai, NAI_NODES[0], "reply echoes the NAI extension")
        t.check(rep.ext(mip.EXT_NAI) is not None and
                rep.ext(mip.EXT_NAI).offset < rep.ext(mip.EXT_MN_HA).offset,
                "NAI extension before MN-HA in the reply (§3.8.3.3)")
        check_binding(t, d, "NAI binding", got, MN_SRC, nai=NAI_NODES[0],
                      tenant="acme")
    rep = outcome(t, d, "same NAI again keeps its address", lambda: n0.register(
        MN_SRC, 300, mip.F_D), code=0, node=n0, changes=True)
    if rep:
        t.eq(rep.hoa, got, "same address")
    rep = outcome(t, d, "same NAI with the address filled in", lambda: n0.register(
        MN_SRC, 300, mip.F_D, hoa=got or "0.0.0.0"), code=0, node=n0, changes=True)
    if rep:
        t.eq(rep.hoa, got, "same address")
    t.eq(len([b for b in d.bindings() if b["nai"] == NAI_NODES[0]]), 1,
         "one binding for the NAI")
    assigned = {NAI_NODES[0]: got}
    exhausted = None
    for i in range(1, len(NAI_NODES)):
        nd = nai_nodes[i]
        s0 = d.stats()
        r = nd.register(MN_SRC, 300, mip.F_D)
        if r is None:
            t.check(False, "NAI %s: a reply" % NAI_NODES[i], rep_detail(nd, r))
            continue
        if r.code == 0:
            assigned[NAI_NODES[i]] = r.hoa
            t.check(r.hoa in pool_addrs, "NAI %s got %s from the pool" % (NAI_NODES[i], r.hoa))
        else:
            b_before = nt.strip_remaining(d.bindings_raw())
            t.eq(r.code, 130, "NAI %s: pool exhausted -> 130" % NAI_NODES[i])
            t.check(r.mn_ha_valid, "130 reply authenticated")
            t.eq(nt.stats_delta(s0, d.stats()), {"denied.130": 1}, "130 counted")
            t.eq(nt.strip_remaining(d.bindings_raw()), b_before, "130: bindings unchanged")
            exhausted = i
            break
    t.check(exhausted is not None and exhausted >= 2,
            "the pool ran out after %s assignments" % len(assigned))
    vals = list(assigned.values())
    t.eq(len(set(vals)), len(vals), "assigned addresses are distinct")
    if exhausted:
        nd = nai_nodes[exhausted]
        outcome(t, d, "deregister an NAI node (frees its address)",
                lambda: nai_nodes[1].deregister(hoa=assigned[NAI_NODES[1]]),
                code=0, node=nai_nodes[1], changes=True)
        rep = outcome(t, d, "the refused NAI node now gets an address", lambda: nd.register(
            MN_SRC, 300, mip.F_D), code=0, node=nd, changes=True)
        if rep:
            t.check(rep.hoa in pool_addrs, "assigned %s" % rep.hoa)
    other = [v for k, v in assigned.items() if k != NAI_NODES[0]]
    if other and got:
        outcome(t, d, "NAI node asks for another NAI node's pool address -> 129",
                lambda: n0.register(MN_SRC, 300, mip.F_D, hoa=other[0]), code=129, node=n0)
    rep = outcome(t, d, "NAI node with a configured address, HoA 0", lambda: C.register(
        MN_SRC, 300, mip.F_D, hoa="0.0.0.0"), code=0, node=C, changes=True)
    if rep:
        t.eq(rep.hoa, "198.18.10.8", "reply carries the configured home address")
        t.eq(rep.nai, "carol@acme.example", "reply echoes the NAI")
    check_binding(t, d, "carol", "198.18.10.8", MN_SRC, nai="carol@acme.example")

    # ------------------------------------------------------------------
    t.section("via a foreign agent (FA-HA, §3.8.2.1 c/d, §3.8.3.3)")
    fa = mip.ForeignAgent(FA, 2000, FAKEY, sock=nt.fa_socket(FA))
    fa_nosa = mip.ForeignAgent(FA_NOSA, 2000, FAKEY, sock=nt.fa_socket(FA_NOSA))

    def via(fagent, nd, lifetime=300, add=True, extra=(), flags=0, coa=None, **kw):
        msg, _ = nd.build(coa or fagent.address, lifetime, flags, **kw)
        return fagent.relay(msg, HA, add_fa_ha=add, extra=extra, mn=nd,
                            timeout=2.0 if add is not None else 0.5)

    def via_q(fagent, nd, add=True, **kw):       # expecting silence: short wait
        msg, _ = nd.build(fagent.address, kw.pop("lifetime", 300),
                          kw.pop("flags", 0), **kw)
        return fagent.relay(msg, HA, add_fa_ha=add, mn=nd, timeout=0.6)

    rep = outcome(t, d, "via FA with a valid FA-HA", lambda: via(fa, F),
                  code=0, node=F, changes=True)
    if rep:
        t.check(rep.fa_ha_valid, "reply carries a valid FA-HA", rep_detail(F, rep))
        types = [e.type for e in rep.exts]
        t.check(mip.EXT_FA_HA in types and mip.EXT_MN_HA in types and
                types.index(mip.EXT_FA_HA) > types.index(mip.EXT_MN_HA) and
                types[-1] == mip.EXT_FA_HA,
                "FA-HA after MN-HA, last (§3.8.3.3)", types)
        t.eq(rep.src, (HA, 434), "reply goes back to the FA from HA:434")
    check_binding(t, d, "via FA", "198.18.10.9", FA, source_address=FA,
                  via_fa=True, lifetime=300, encapsulation="ipip")
    outcome(t, d, "via FA, FA-HA missing", lambda: via(fa, F, add=False),
            code=132, node=F)
    outcome(t, d, "via FA, FA-HA doubled", lambda: via(fa, F, extra=[fa.fa_ha()]),
            code=132, node=F)
    outcome(t, d, "via FA, FA-HA authenticator bad", lambda: via(
        fa, F, add=False, extra=[fa.fa_ha(corrupt=True)]), code=132, node=F)
    outcome(t, d, "via FA, FA-HA with another SPI", lambda: via(
        fa, F, add=False, extra=[mip.FaHaAuth(2001, FAKEY)]), code=132, node=F)
    outcome(t, d, "via FA, FA-HA with the wrong key", lambda: via(
        fa, F, add=False, extra=[mip.FaHaAuth(2000, KEY1)]), code=132, node=F)
    outcome(t, d, "via FA, bad MN-HA but valid FA-HA -> 131", lambda: via(
        fa, F, auth=mip.MnHaAuth(1006, KEY1, corrupt=True)), code=131, node=F)
    outcome(t, d, "via FA, bad MN-HA and no FA-HA: unverified, discarded",
            lambda: via_q(fa, F, auth=mip.MnHaAuth(1006, KEY1, corrupt=True), add=False),
            drop="bad-auth-fa-unverified", node=F)
    outcome(t, d, "via FA: MN-FA extension (33) between MN-HA and FA-HA is skipped",
            lambda: via(fa, F, post_exts=[mip.MnFaAuth(3000, KEY2)]), code=0, node=F,
            changes=True)
    outcome(t, d, "FA-HA from an FA without an SA: discarded", lambda: via_q(
        fa_nosa, F), drop="fa-ha-unexpected", node=F)
    rep = outcome(t, d, "FA without an SA, no FA-HA: accepted", lambda: via(
        fa_nosa, F, add=False), code=0, node=F, changes=True)
    if rep:
        t.eq(rep.count(mip.EXT_FA_HA), 0, "no FA-HA in a reply to an FA without SA")
    check_binding(t, d, "via FA without SA", "198.18.10.9", FA_NOSA,
                  source_address=FA_NOSA, via_fa=True)
    outcome(t, d, "beta node via an FA that has an SA only in acme, no FA-HA",
            lambda: via(fa, B, add=False), code=0, node=B, changes=True)
    check_binding(t, d, "beta via FA", "198.18.20.5", FA, tenant="beta",
                  via_fa=True, source_address=FA)
    outcome(t, d, "beta node via that FA with FA-HA: no SA in beta, discarded",
            lambda: via_q(fa, B), drop="fa-ha-unexpected", node=B)
    rep = outcome(t, d, "via FA with SA: registration again", lambda: via(fa, F),
                  code=0, node=F, changes=True)
    rep = outcome(t, d, "deregistration via FA without FA-HA is accepted (§3.5.4)",
                  lambda: via(fa, F, lifetime=0, add=False), code=0, node=F,
                  changes=True)
    if rep:
        # §3.8.1/§3.8.3.3 want FA-HA in every reply to an FA with an SA,
        # §3.5.4 says it "MUST NOT be applied to deregistration messages".
        t.check(rep.count(mip.EXT_FA_HA) == 0 or rep.fa_ha_valid,
                "deregistration reply to the FA: FA-HA absent or valid (%s)" %
                ("present" if rep.count(mip.EXT_FA_HA) else "absent"),
                rep_detail(F, rep))
    t.eq(node_coas(d, "198.18.10.9"), [], "F deregistered")

    # ------------------------------------------------------------------
    t.section("denials (RFC 5944 §3.8.2.1, §3.8.2.3, RFC 3024 §3.4, RFC 3519)")
    outcome(t, d, "X registers (baseline)", lambda: X.register(
        "198.19.0.10", 300, mip.F_D), code=0, node=X, changes=True)
    rep = outcome(t, d, "bad MN-HA authenticator", lambda: X.register(
        "198.19.0.11", 300, mip.F_D, auth=mip.MnHaAuth(1008, KEY1, corrupt=True)),
        code=131, node=X)
    now = time.time()
    rep = outcome(t, d, "stale timestamp (60 s old)", lambda: X.register(
        "198.19.0.11", 300, mip.F_D, ident=mip.ntp_now(now - 60)), code=133, node=X)
    if rep:
        ha_t = mip.ntp_to_unix(rep.ident & 0xffffffff00000000)
        t.check(abs(ha_t - time.time()) < 3,
                "133 reply: high 32 bits are the HA's time of day (§5.7.1)",
                "HA time %f, ours %f" % (ha_t, time.time()))
        t.eq(rep.ident & 0xffffffff, mip.ntp_now(now - 60) & 0xffffffff,
             "133 reply: low 32 bits copied")
    outcome(t, d, "future timestamp (60 s ahead)", lambda: X.register(
        "198.19.0.11", 300, mip.F_D, ident=mip.ntp_now(time.time() + 60)),
        code=133, node=X)
    last = [None]

    def accepted_x():
        r = X.register("198.19.0.10", 300, mip.F_D)
        last[0] = X.last_request
        return r
    outcome(t, d, "X renews", accepted_x, code=0, node=X, changes=True)

    def replay():
        X.send(last[0])
        ident = struct.unpack("!Q", last[0][16:24])[0]
        data, addr = mip.recv_until(sock, lambda dd, a: dd[:1] == b"\x03" and
                                    struct.unpack("!Q", dd[12:20])[0] & 0xffffffff ==
                                    ident & 0xffffffff, 2.0)
        return X.handle_reply(data, addr, ident) if data else None
    outcome(t, d, "replayed request (same Identification)", replay, code=133, node=X)
    outcome(t, d, "Identification lower than the last accepted", lambda: X.register(
        "198.19.0.11", 300, mip.F_D, ident=struct.unpack("!Q", last[0][16:24])[0] - 1000),
        code=133, node=X)
    outcome(t, d, "reserved 'r' flag set", lambda: X.register(
        "198.19.0.11", 300, mip.F_D | mip.F_r), code=134, node=X)
    outcome(t, d, "G and M both set", lambda: X.register(
        "198.19.0.11", 300, mip.F_D | mip.F_G | mip.F_M), code=134, node=X)
    for coa in ("0.0.0.0", "224.0.0.5", "127.0.0.1", "255.255.255.255"):
        outcome(t, d, "care-of address %s" % coa, lambda coa=coa: X.register(
            coa, 300, mip.F_D), code=134, node=X)

    # Home address 0 without an NAI: the HA cannot find an SA at all.
    s0 = d.stats()
    b0 = nt.strip_remaining(d.bindings_raw())
    r = X.register("198.19.0.11", 300, mip.F_D, hoa="0.0.0.0", timeout=0.6)
    delta = nt.wait_for(lambda: nt.stats_delta(s0, d.stats()), 2)
    t.check((r is not None and r.code == 134 and delta == {"denied.134": 1}) or
            (r is None and delta == {"dropped.no-sa": 1}),
            "home address 0 without NAI: 134, or discarded for want of an SA "
            "(§3.8.2.1 a)", "delta %s\n%s" % (delta, rep_detail(X, r)))
    if r is None:
        t.note("HoA 0.0.0.0 without NAI is discarded as no-sa (the HA finds "
               "no SA without HoA or NAI), not answered 134 as the issue lists")
    t.eq(nt.strip_remaining(d.bindings_raw()), b0, "HoA 0: bindings unchanged")

    W = node("198.18.10.12", 1009)
    base = time.time()
    outcome(t, d, "timestamp 5 s behind, within replay_window 7: accepted", lambda: W.register(
        MN_SRC, 300, mip.F_D, ident=mip.ntp_now(base - 5)), code=0, node=W, changes=True)
    outcome(t, d, "timestamp 10 s ahead, beyond the window: 133", lambda: W.register(
        MN_SRC, 300, mip.F_D, ident=mip.ntp_now(base + 10)), code=133, node=W)
    outcome(t, d, "timestamp 5 s ahead, within the window: accepted", lambda: W.register(
        MN_SRC, 300, mip.F_D, ident=mip.ntp_now(base + 5)), code=0, node=W, changes=True)
    outcome(t, d, "timestamp within the window but below the last accepted: 133",
            lambda: W.register(MN_SRC, 300, mip.F_D, ident=mip.ntp_now(base + 4)),
            code=133, node=W)
    W.last_id = mip.ntp_now(base + 5)
    outcome(t, d, "B flag is ignored, not refused (§3.8.2)", lambda: W.register(
        MN_SRC, 300, mip.F_D | mip.F_B), code=0, node=W, changes=True)
    outcome(t, d, "Home Agent field = subnet-directed broadcast -> 136", lambda: W.register(
        MN_SRC, 300, mip.F_D, ha="198.51.100.63"), code=136, node=W)
    rep = outcome(t, d, "unknown home agent address", lambda: X.register(
        "198.19.0.11", 300, mip.F_D, ha="198.51.100.99"), code=136, node=X)
    if rep:
        t.eq(rep.ha, HA, "136 reply carries the HA's own address")
    outcome(t, d, "home address of another tenant (NAI node)", lambda: C.register(
        MN_SRC, 300, mip.F_D, hoa="198.18.20.5"), code=129, node=C)
    outcome(t, d, "home address of another node (NAI node)", lambda: C.register(
        MN_SRC, 300, mip.F_D, hoa="198.18.10.5"), code=129, node=C)
    outcome(t, d, "home address outside every home network (NAI node)", lambda: C.register(
        MN_SRC, 300, mip.F_D, hoa="198.18.99.5"), code=129, node=C)
    outcome(t, d, "beta: GRE not permitted", lambda: B.register(
        "198.19.0.3", 300, mip.F_D | mip.F_G), code=129, node=B)
    outcome(t, d, "beta: minimal not permitted", lambda: B.register(
        "198.19.0.3", 300, mip.F_D | mip.F_M), code=129, node=B)
    outcome(t, d, "beta: forced UDP tunnelling not permitted", lambda: B.register(
        "198.19.0.3", 300, mip.F_D, udp_tunnel=mip.UdpTunnelReq(force=True)),
        code=129, node=B)
    outcome(t, d, "beta (reverse_tunnel denied): T -> 137", lambda: B.register(
        "198.19.0.3", 300, mip.F_D | mip.F_T), code=137, node=B)
    outcome(t, d, "gamma (reverse_tunnel required): no T -> 138", lambda: G.register(
        MN_SRC, 300, mip.F_D), code=138, node=G)
    outcome(t, d, "gamma with T: accepted", lambda: G.register(
        MN_SRC, 300, mip.F_D | mip.F_T), code=0, node=G, changes=True)
    check_binding(t, d, "gamma", "198.18.30.5", MN_SRC, tenant="gamma",
                  reverse_tunnel=True)
    outcome(t, d, "UDP tunnel request, unknown encapsulation 99 -> 139", lambda: X.register(
        "198.19.0.10", 300, mip.F_D | mip.F_T,
        udp_tunnel=mip.UdpTunnelReq(encap=99, force=True)), code=139, node=X)
    rep = outcome(t, d, "UDP tunnel request, forced: accepted as udp", lambda: X.register(
        "198.19.0.10", 300, mip.F_D | mip.F_T,
        udp_tunnel=mip.UdpTunnelReq(encap=0, force=True)), code=0, node=X, changes=True)
    if rep:
        e = rep.ext(mip.EXT_UDP_TUNNEL_REPLY)
        t.check(e is not None and e.length == 6 and e.data[1] == 0,
                "reply has a UDP Tunnel Reply (44) with code 0 (RFC 3519 §3.2)",
                rep.to_json())
        t.check(e is not None and e.offset < rep.ext(mip.EXT_MN_HA).offset,
                "UDP Tunnel Reply before MN-HA")
    check_binding(t, d, "udp", "198.18.10.11", "198.19.0.10", encapsulation="udp",
                  reverse_tunnel=True)
    rep = outcome(t, d, "UDP tunnel request, not forced, no NAT (src = CoA)",
                  lambda: X.register(MN_SRC, 300, mip.F_D | mip.F_T,
                                     udp_tunnel=mip.UdpTunnelReq(encap=4)),
                  code=0, node=X, changes=True)
    if rep:
        e = rep.ext(mip.EXT_UDP_TUNNEL_REPLY)
        t.check(e is not None and e.data[1] != 0,
                "UDP Tunnel Reply declines tunnelling (no NAT)", rep.to_json())
    check_binding(t, d, "no NAT", "198.18.10.11", MN_SRC, encapsulation="ipip")
    rep = outcome(t, d, "UDP tunnel request, not forced, NAT (src != CoA)",
                  lambda: X.register("198.19.0.12", 300, mip.F_D | mip.F_T,
                                     udp_tunnel=mip.UdpTunnelReq(encap=4)),
                  code=0, node=X, changes=True)
    check_binding(t, d, "NAT", "198.18.10.11", "198.19.0.12", encapsulation="udp",
                  source_address=MN_SRC)

    t.section("order of the checks (§3.8.2.1 a, b, c, then §3.8.2.3)")
    outcome(t, d, "bad authenticator and stale Identification -> 131", lambda: X.register(
        "198.19.0.11", 300, mip.F_D, ident=mip.ntp_now(time.time() - 60),
        auth=mip.MnHaAuth(1008, KEY1, corrupt=True)), code=131, node=X)
    outcome(t, d, "stale Identification and 'r' flag -> 133", lambda: X.register(
        "198.19.0.11", 300, mip.F_D | mip.F_r, ident=mip.ntp_now(time.time() - 60)),
        code=133, node=X)
    outcome(t, d, "via FA: stale Identification, FA-HA missing -> 133", lambda: via(
        fa, F, add=False, ident=mip.ntp_now(time.time() - 60)), code=133, node=F)
    outcome(t, d, "via FA: FA-HA missing and 'r' flag -> 132", lambda: via(
        fa, F, add=False, flags=mip.F_r), code=132, node=F)
    outcome(t, d, "'r' flag and unknown HA -> 134", lambda: X.register(
        "198.19.0.11", 300, mip.F_D | mip.F_r, ha="198.51.100.99"), code=134, node=X)
    outcome(t, d, "unknown HA and T in beta -> 136", lambda: B.register(
        "198.19.0.3", 300, mip.F_D | mip.F_T, ha="198.51.100.99"), code=136, node=B)

    t.section("observations: nonzero lifetime with CoA = HoA; order among 135/129/137")
    Dn = node("198.18.40.5", 1000, KEY2)
    outcome(t, d, "delta: first CoA", lambda: Dn.register("198.19.0.3", 300, mip.F_D),
            code=0, node=Dn, changes=True)
    outcome(t, d, "delta: second CoA (S)", lambda: Dn.register(
        "198.19.0.4", 300, mip.F_D | mip.F_S), code=0, node=Dn, changes=True)
    for what, fl in (("T (reverse tunnel denied)", mip.F_T),
                     ("G (not permitted)", mip.F_G)):
        b0 = nt.strip_remaining(d.bindings_raw())
        r = Dn.register("198.19.0.5", 300, mip.F_D | mip.F_S | fl)
        t.check(r is not None and r.code in (135, 129, 137) and
                nt.strip_remaining(d.bindings_raw()) == b0,
                "delta: third CoA with S and %s is denied (code %s), bindings "
                "unchanged" % (what, r.code if r else None), rep_detail(Dn, r))
        if r is not None and r.code != 135:
            t.note("third simultaneous CoA with %s: code %d, not 135 (the issue "
                   "lists 135 before 129/137; RFC 5944 sets no order): request %s "
                   "reply %s" % (what, r.code, Dn.last_request.hex(), r.raw.hex()))
    b0 = d.bindings()
    r = Dn.register("198.18.40.5", 300, mip.F_D)
    after = [b for b in d.bindings() if b["home_address"] == "198.18.40.5"]
    t.check(r is not None, "nonzero lifetime with CoA = HoA: answered (code %s, "
            "lifetime %s, %d binding(s) left)" % (r.code if r else None,
                                                  r.lifetime if r else None, len(after)))
    if r is not None:
        t.note("Registration with lifetime 300 and CoA = HoA (request %s) was "
               "answered code %d lifetime %d and left %d binding(s) of the node: "
               "the daemon treats CoA = HoA as a deregistration whatever the "
               "lifetime (RFC 5944 §3.8.2.2 defines deregistration by lifetime 0)"
               % (Dn.last_request.hex(), r.code, r.lifetime, len(after)))
    rc, out, err = d.ctl("show", "bindings", "delta")
    t.check(rc == 0 and all(b["tenant"] == "delta" for b in nt.json.loads(out or "[]")),
            "show bindings TENANT lists only that tenant")
    rc, out, err = d.ctl("show", "bindings", "nosuch")
    t.eq(rc, 1, "show bindings of an unknown tenant: exit 1")

    # ------------------------------------------------------------------
    t.section("nonce replay protection (§5.7.2)")
    rep = outcome(t, d, "nonce node, first request (no nonce yet) -> 133",
                  lambda: N.register(MN_SRC, 300, mip.F_D), code=133, node=N)
    nonce1 = rep.ident >> 32 if rep else None
    rep = outcome(t, d, "nonce node uses the HA's nonce -> accepted",
                  lambda: N.register(MN_SRC, 300, mip.F_D), code=0, node=N,
                  changes=True)
    first_ok = N.last_request
    if rep:
        t.eq(struct.unpack("!Q", first_ok[16:24])[0] >> 32, nonce1,
             "the request carried the nonce in its high 32 bits")
        t.check((rep.ident >> 32) != nonce1, "the reply hands out a new nonce")
    check_binding(t, d, "nonce node", "198.18.10.7", MN_SRC)

    def reuse_nonce():
        ident = (nonce1 << 32) | 0x01020304
        return N.register("198.19.0.13", 300, mip.F_D, ident=ident)
    outcome(t, d, "nonce node reuses the old nonce -> 133", reuse_nonce, code=133,
            node=N)
    outcome(t, d, "nonce node with the fresh nonce -> accepted",
            lambda: N.register(MN_SRC, 300, mip.F_D), code=0, node=N, changes=True)
    outcome(t, d, "nonce node again with the next nonce -> accepted",
            lambda: N.register(MN_SRC, 300, mip.F_D), code=0, node=N, changes=True)

    # ------------------------------------------------------------------
    t.section("internal networks (RFC 5265 §3.7)")
    isock = nt.in_socket()
    A_in = mip.MobileNode(HA, "198.18.10.5", 1000, KEY1, sock=isock)
    B_in = mip.MobileNode(HA, "198.18.20.5", 1000, KEY2, sock=isock)
    A_in.last_id = A.last_id
    B_in.last_id = B.last_id
    outcome(t, d, "acme request from an internal network", lambda: A_in.register(
        INT_SRC, 300, mip.F_D, timeout=0.6), drop="internal-source", node=A_in)
    outcome(t, d, "beta request from there (not internal for beta)", lambda: B_in.register(
        INT_SRC, 300, mip.F_D), code=0, node=B_in, changes=True)
    check_binding(t, d, "beta from 203.0.113.2", "198.18.20.5", INT_SRC,
                  source_address=INT_SRC, tenant="beta")
    B.last_id = B_in.last_id

    # ------------------------------------------------------------------
    t.section("miphactl clear binding")
    outcome(t, d, "A registers", lambda: A.register(MN_SRC, 300, mip.F_D),
            code=0, node=A, changes=True)
    before_n = len(d.bindings())
    rc, out, err = d.ctl("clear", "binding", "198.18.10.5", json_=False)
    t.eq(rc, 0, "clear binding 198.18.10.5 succeeds")
    t.eq(node_coas(d, "198.18.10.5"), [], "binding gone")
    t.eq(len(d.bindings()), before_n - 1, "exactly one binding removed")
    rc, out, err = d.ctl("clear", "binding", "198.18.10.5", json_=False)
    t.eq(rc, 1, "clearing it again: exit 1")
    t.check(err.strip() != "", "with a message on stderr: %s" % err.strip())
    rc, out, err = d.ctl("clear", "binding", "198.18.20.5", "beta", json_=False)
    t.eq(rc, 0, "clear binding HOA TENANT")
    t.eq(node_coas(d, "198.18.20.5"), [], "beta binding gone")
    rc, out, err = d.ctl("clear", "binding", "198.18.20.5", "nosuch", json_=False)
    t.eq(rc, 1, "clear binding in an unknown tenant: exit 1")
    rc, out, err = d.ctl("frobnicate", json_=False)
    t.eq(rc, 2, "unknown miphactl command: exit 2")
    outcome(t, d, "A registers again after clear", lambda: A.register(
        MN_SRC, 300, mip.F_D), code=0, node=A, changes=True)

    # ------------------------------------------------------------------
    t.section("contrib/mipnode.py command line (as in the demo)")
    import subprocess
    cli = ["/usr/bin/python3", os.path.join(nt.SRCDIR, "contrib", "mipnode.py")]

    def run_cli(*args):
        r = subprocess.run(cli + list(args), capture_output=True, text=True, timeout=30)
        try:
            j = nt.json.loads(r.stdout)
        except ValueError:
            j = None
        return r.returncode, j, r.stdout + r.stderr
    common = ["--ha", HA, "--netns", nt.NS_MN, "--src", "198.19.0.20"]
    rc, j, out = run_cli("register", *common, "--hoa", "198.18.10.9", "--coa",
                         "198.19.0.20", "--spi", "1006", "--key", KEY1, "--lifetime", "120")
    t.check(rc == 0 and j and j.get("code") == 0 and j.get("mn_ha_valid") and
            j.get("lifetime") == 120, "mipnode.py register: exit 0, code 0", out)
    check_binding(t, d, "CLI", "198.18.10.9", "198.19.0.20", lifetime=120,
                  source_address="198.19.0.20")
    rc, j, out = run_cli("register", *common, "--hoa", "198.18.10.9", "--coa",
                         "198.19.0.21", "--spi", "1006", "--key", KEY1, "--corrupt")
    t.check(rc == 1 and j and j.get("code") == 131, "mipnode.py --corrupt: exit 1, code 131", out)
    rc, j, out = run_cli("deregister", *common, "--hoa", "198.18.10.9", "--spi", "1006",
                         "--key", KEY1)
    t.check(rc == 0 and j and j.get("code") == 0 and j.get("lifetime") == 0,
            "mipnode.py deregister: exit 0", out)
    t.eq(node_coas(d, "198.18.10.9"), [], "CLI deregistration removed the binding")
    state = os.path.join(nt.MIPT_DIR, "nonce.state")
    rc, j, out = run_cli("register", *common, "--hoa", "198.18.10.7", "--coa",
                         "198.19.0.20", "--spi", "1003", "--key", KEY2, "--replay",
                         "nonce", "--state", state)
    t.check(rc == 0 and j and j.get("code") == 0,
            "mipnode.py nonce node: resynchronises after 133 and registers", out)
    rc, j, out = run_cli("register", *common, "--hoa", "198.18.10.7", "--coa",
                         "198.19.0.20", "--spi", "1003", "--key", KEY2, "--replay",
                         "nonce", "--state", state, "--retries", "0")
    t.check(rc == 0 and j and j.get("code") == 0,
            "mipnode.py nonce node: the saved nonce works at once", out)
    N.ha_nonce = None           # the CLI moved the node's nonce on
    rc, j, out = run_cli("register", "--ha", HA, "--netns", nt.NS_FA, "--src", FA,
                         "--hoa", "198.18.10.9", "--spi", "1006", "--key", KEY1,
                         "--fa-spi", "2000", "--fa-key", FAKEY, "--lifetime", "100")
    t.check(rc == 0 and j and j.get("code") == 0 and j.get("fa_ha_valid"),
            "mipnode.py as FA (FA-HA appended): code 0, reply FA-HA valid", out)
    check_binding(t, d, "CLI via FA", "198.18.10.9", FA, via_fa=True, lifetime=100)
    relay = subprocess.Popen(cli + ["fa", "--listen", FA, "--netns", nt.NS_FA, "--spi",
                                    "2000", "--key", FAKEY], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        rc, j, out = run_cli("register", *common, "--hoa", "198.18.10.9", "--coa", FA,
                             "--via", FA, "--flags", "T", "--spi", "1006", "--key", KEY1,
                             "--lifetime", "90")
        t.check(rc == 0 and j and j.get("code") == 0 and j.get("from") == FA + ":434" and
                not any(e["type"] == mip.EXT_FA_HA for e in j.get("extensions", [])),
                "mipnode.py fa relays: MN -> FA -> HA -> FA (FA-HA checked, removed) -> MN",
                out)
        check_binding(t, d, "through the relay", "198.18.10.9", FA, via_fa=True,
                      source_address=FA, reverse_tunnel=True, lifetime=90)
    finally:
        relay.terminate()
        relay.wait()
    rc, j, out = run_cli("register", *common, "--hoa", "0.0.0.0", "--nai",
                         NAI_NODES[0], "--spi", "1010", "--key", KEY2)
    t.check(rc == 0 and j and j.get("code") == 0 and
            j.get("home_address") == assigned.get(NAI_NODES[0]),
            "mipnode.py --nai: keeps the NAI's address %s" % assigned.get(NAI_NODES[0]), out)
    rc, j, out = run_cli("decode", "0122025800000000c6336401c6120102eb0f2c1a1234567a8310626f6240"
                         "61636d652e6578616d706c652014000003e92cff068216b50fb8c3ba1b860bc8f7fb")
    t.check(rc == 0 and j and j["extensions"][0]["nai"] == "bob@acme.example",
            "mipnode.py decode", out)

    # ------------------------------------------------------------------
    t.section("expiry (§3.8.2.2: after the lifetime the binding goes)")
    outcome(t, d, "E registers for 2 s", lambda: E.register(
        MN_SRC, 2, mip.F_D), code=0, node=E, changes=True)
    check_binding(t, d, "E", "198.18.10.10", MN_SRC, lifetime=2, remaining=(0, 2))
    t0 = time.monotonic()
    gone = nt.wait_for(lambda: nt.find(d.bindings(), "198.18.10.10") is None, 6, 0.1)
    el = time.monotonic() - t0
    t.check(gone and 1.0 <= el <= 4.0, "E's binding expired after ~2 s (%.1f s)" % el)
    outcome(t, d, "E registers for 3 s", lambda: E.register(
        MN_SRC, 3, mip.F_D), code=0, node=E, changes=True)
    time.sleep(2)
    outcome(t, d, "E renews for 3 s after 2 s", lambda: E.register(
        MN_SRC, 3, mip.F_D), code=0, node=E, changes=True)
    time.sleep(2)
    t.check(nt.find(d.bindings(), "198.18.10.10") is not None,
            "renewed binding still there 4 s after the first registration")
    gone = nt.wait_for(lambda: nt.find(d.bindings(), "198.18.10.10") is None, 4, 0.1)
    t.check(gone, "and expired after the renewed lifetime")
    t.check(d.alive(), "daemon alive")

    t.section("max_lifetime 2: a longer request is granted 2 s and expires")
    d.ha["max_lifetime"] = 2
    d.write_main()
    t.eq(d.stop(), 0, "SIGTERM: clean exit 0")
    t.check(d.start(), "daemon restarts with max_lifetime 2")
    rep = outcome(t, d, "E asks for 600 s", lambda: E.register(
        MN_SRC, 600, mip.F_D), code=0, node=E, changes=True)
    if rep:
        t.eq(rep.lifetime, 2, "granted 2 s")
    check_binding(t, d, "clamped", "198.18.10.10", MN_SRC, lifetime=2)
    gone = nt.wait_for(lambda: nt.find(d.bindings(), "198.18.10.10") is None, 5, 0.1)
    t.check(gone, "clamped binding expired")
    t.eq(d.stop(), 0, "daemon stops cleanly")


if __name__ == "__main__":
    nt.run("test_registration", body)
