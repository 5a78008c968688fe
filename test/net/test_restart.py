#!/usr/bin/python3
"""Crash and restart: the binding table survives SIGKILL under load.

A load generator drives many mobile nodes (a generated tenant of 2,000)
registering, moving, deregistering and being refused, concurrently, and
keeps for every node the set of binding states the daemon may hold: after
an acknowledged (authenticated, accepting) reply exactly one; a request whose
reply never came adds its outcome as a possibility; a refusal changes
nothing. The daemon is SIGKILLed at a random moment under load, restarted
on the same state_dir, and every restored binding must be one the model
allows (three times). Then: SIGTERM keeps every binding, bindings that
expire while the daemon is down are not restored, restored lifetimes keep
counting, NAI addresses stay with their nodes, and a request accepted
before the restart cannot be replayed after it.
"""
import hashlib
import os
import random
import select
import signal
import struct
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, KEY1, KEY2  # noqa: E402

NMN = int(os.environ.get("MIPT_RESTART_MNS", "2000"))
WINDOW = 256            # requests in flight
TIMEOUT = 1.5           # a request without reply after this is "unknown"


def load_hoa(i):
    return "198.18.%d.%d" % (64 + (10 + i) // 256, (10 + i) % 256)


def load_key(i):
    return "0x" + hashlib.md5(b"mipt-mn-%d" % i).hexdigest()


def tenants():
    load = nt.tenant("load", 110, "198.18.64.0/20",
                     [nt.mn_entry(1000 + i, load_key(i), hoa=load_hoa(i))
                      for i in range(NMN)], max_bindings=1)
    short = nt.tenant("short", 111, "198.18.90.0/24",
                      [nt.mn_entry(1000 + i, KEY1, hoa="198.18.90.%d" % (10 + i))
                       for i in range(20)], max_bindings=1)
    acme = nt.tenant("acme", 101, "198.18.10.0/24", [
        nt.mn_entry(1000, KEY1, hoa="198.18.10.5"),
        nt.mn_entry(1003, KEY2, hoa="198.18.10.7", replay="nonce"),
    ] + [nt.mn_entry(1010 + i, KEY2, nai="p%d@acme.example" % i) for i in range(3)],
        pool="198.18.10.128/29")
    return {"load": load, "short": short, "acme": acme}


def canon(bindings):
    """Bindings as sorted JSON strings, remaining removed."""
    out = []
    for b in bindings:
        b = dict(b)
        b.pop("remaining", None)
        out.append(nt.json.dumps(b, sort_keys=True))
    return sorted(out)


def fmt(state):
    return "unbound" if state is None else state


class Load:
    """The load generator and its model of the daemon's table."""

    def __init__(self, t, socks, seed):
        self.t = t
        self.rnd = random.Random(seed)
        self.socks = socks
        self.mns = [mip.MobileNode(HA, load_hoa(i), 1000 + i, load_key(i))
                    for i in range(NMN)]
        self.possible = [{None} for _ in range(NMN)]
        self.history = [[] for _ in range(NMN)]
        self.pending = {}           # (hoa, low32) -> record
        self.busy = set()
        self.stats = {"sent": 0, "acked": 0, "refused": 0, "unknown": 0,
                      "unexpected": 0}
        self.by_hoa = {load_hoa(i): i for i in range(NMN)}

    def log(self, i, what):
        self.history[i].append("%.3f %s" % (time.monotonic() % 1000, what))
        if len(self.history[i]) > 12:
            del self.history[i][0]

    def send_one(self):
        idle = self.rnd.randrange(NMN)
        for _ in range(20):
            if idle not in self.busy:
                break
            idle = self.rnd.randrange(NMN)
        else:
            return False
        i, mn = idle, self.mns[idle]
        r = self.rnd.random()
        if r < 0.55:
            kind, coa = "reg", "198.19.1.%d" % self.rnd.randrange(1, 251)
            msg, ident = mn.build(coa, 600, mip.F_D)
        elif r < 0.80:
            kind, coa = "dereg", None
            msg, ident = mn.build(mn.hoa, 0, mip.F_D)
        elif r < 0.90:
            kind, coa = "deny134", "198.19.9.%d" % self.rnd.randrange(1, 251)
            msg, ident = mn.build(coa, 600, mip.F_D | mip.F_r)
        else:
            kind, coa = "deny131", "198.19.9.%d" % self.rnd.randrange(1, 251)
            msg, ident = mn.build(coa, 600, mip.F_D,
                                  auth=mip.MnHaAuth(mn.spi, mn.key, corrupt=True))
        mn.note_sent(ident)
        s = self.socks[i % len(self.socks)]
        try:
            s.sendto(msg, (HA, 434))
        except (BlockingIOError, OSError):
            return False
        self.pending[(mn.hoa, ident & 0xffffffff)] = (i, kind, coa, ident,
                                                     time.monotonic())
        self.busy.add(i)
        self.stats["sent"] += 1
        self.log(i, "sent %s %s id %016x" % (kind, fmt(coa), ident))
        return True

    def unknown(self, rec, why):
        i, kind, coa, ident, _ = rec
        if kind == "reg":
            self.possible[i].add(coa)
        elif kind == "dereg":
            self.possible[i].add(None)
        self.stats["unknown"] += 1
        self.log(i, "no reply (%s) to %s %s" % (why, kind, fmt(coa)))

    def got(self, data, addr):
        if len(data) < 20 or data[0] != mip.T_RRP:
            return
        hoa = "%d.%d.%d.%d" % tuple(data[4:8])
        low = struct.unpack("!Q", data[12:20])[0] & 0xffffffff
        rec = self.pending.pop((hoa, low), None)
        if rec is None:
            return
        i, kind, coa, ident, _ = rec
        self.busy.discard(i)
        mn = self.mns[i]
        rep = mip.Reply(data, addr, ident, mn)
        if not rep.mn_ha_valid:
            self.stats["unexpected"] += 1
            self.t.check(False, "reply to %s has a valid MN-HA" % mn.hoa, rep.to_json())
            self.unknown(rec, "bad reply")
            return
        self.log(i, "reply %d to %s %s" % (rep.code, kind, fmt(coa)))
        if kind in ("reg", "dereg") and rep.code == 0:
            self.possible[i] = {coa}
            self.stats["acked"] += 1
        elif kind == "deny134" and rep.code == 134 or \
                kind == "deny131" and rep.code == 131 or \
                kind in ("reg", "dereg") and rep.code == 133:
            self.stats["refused"] += 1
        else:
            self.stats["unexpected"] += 1
            self.t.check(False, "load: %s %s of %s answered %d" % (
                kind, fmt(coa), mn.hoa, rep.code), rep.to_json())
            if rep.code in (0, 1):
                self.possible[i] = {coa if kind != "deny131" else coa}

    def poll(self, timeout):
        r, _, _ = select.select(self.socks, [], [], timeout)
        for s in r:
            while True:
                try:
                    data, addr = s.recvfrom(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                self.got(data, addr)

    def expire_pending(self, all_=False):
        now = time.monotonic()
        for k, rec in list(self.pending.items()):
            if all_ or now - rec[4] > TIMEOUT:
                del self.pending[k]
                self.busy.discard(rec[0])
                self.unknown(rec, "daemon killed" if all_ else "timeout")

    def run(self, duration, kill=None):
        """Drive the load for `duration` s; kill() is called at the end while
        requests are in flight (then whatever is already queued in our
        sockets still counts as acknowledged)."""
        end = time.monotonic() + duration
        while time.monotonic() < end:
            n = 0
            while len(self.pending) < WINDOW and n < 64:
                if not self.send_one():
                    break
                n += 1
            self.poll(0.002)
            self.expire_pending()
        if kill is not None:
            # Kill right after a burst, with the window full.
            for _ in range(4 * WINDOW):
                if len(self.pending) >= WINDOW or not self.send_one():
                    break
            inflight = len(self.pending)
            kill()
            self.poll(0.2)
            self.poll(0.2)
            self.expire_pending(all_=True)
            return inflight
        # Quiesce: wait for every reply.
        end = time.monotonic() + 3
        while self.pending and time.monotonic() < end:
            self.poll(0.05)
        self.expire_pending(all_=True)
        return 0

    def compare(self, d, label):
        """Restored table vs the model; afterwards the model is the table."""
        bs = [b for b in d.bindings() if b["tenant"] == "load"]
        table = {}
        dup = []
        for b in bs:
            if b["home_address"] in table:
                dup.append(b["home_address"])
            table[b["home_address"]] = b["care_of_address"]
        self.t.eq(dup, [], "%s: at most one binding per node (max_bindings 1)" % label)
        bad = []
        must = 0
        for i in range(NMN):
            got = table.get(load_hoa(i))
            if len(self.possible[i]) == 1:
                must += 1
            if got not in self.possible[i]:
                bad.append((i, got))
        detail = "\n".join("%s: restored %s, allowed %s; history:\n    %s" % (
            load_hoa(i), fmt(got), sorted(map(fmt, self.possible[i])),
            "\n    ".join(self.history[i])) for i, got in bad[:8])
        self.t.check(not bad, "%s: every restored binding is one the model allows "
                     "(%d nodes, %d with exactly one allowed state, %d bound, "
                     "%d violations)" % (label, NMN, must, len(table), len(bad)),
                     detail)
        lost = [i for i, _ in bad if table.get(load_hoa(i)) is None]
        ghost = [i for i, _ in bad if table.get(load_hoa(i)) is not None]
        if bad:
            self.t.note("%s: %d acknowledged bindings lost, %d bindings present "
                        "that must not be" % (label, len(lost), len(ghost)))
        for b in bs:
            if b["lifetime"] != 600:
                self.t.check(False, "%s: restored lifetime 600" % label, b)
                break
        for i in range(NMN):
            self.possible[i] = {table.get(load_hoa(i))}
        return table


def body(t):
    d = nt.Daemon("restart", tenants=tenants())
    t0 = time.monotonic()
    t.check(d.start(timeout=60), "daemon starts with %d mobile nodes" % (NMN + 25))
    t.note("start-up with %d nodes took %.1f s" % (NMN + 25, time.monotonic() - t0))
    seed = int(os.environ.get("MIPT_SEED", str(int(time.time()))))
    t.note("random seed %d (MIPT_SEED to repeat)" % seed)
    rnd = random.Random(seed)
    socks = []
    for k in range(4):
        s = nt.mn_socket(src="198.19.0.%d" % (20 + k), rcvbuf=4 << 20)
        s.setblocking(False)
        socks.append(s)
    L = Load(t, socks, seed)

    t.section("warm-up load")
    L.run(2.0)
    t.check(L.stats["acked"] > 200, "load: %s" % L.stats)
    L.compare(d, "warm-up (live table)")

    for k in range(3):
        t.section("SIGKILL under load #%d" % (k + 1))
        dur = rnd.uniform(0.5, 2.5)
        before = dict(L.stats)
        inflight = L.run(dur, kill=lambda: os.kill(d.pid, signal.SIGKILL))
        d.proc.wait()
        t.check(d.proc.returncode == -signal.SIGKILL,
                "killed after %.2f s of load with %d requests in flight "
                "(%d acked since the last check)" % (dur, inflight,
                                                     L.stats["acked"] - before["acked"]))
        t0 = time.monotonic()
        t.check(d.start(timeout=60), "restarts on the same state_dir")
        t.note("restart #%d took %.1f s" % (k + 1, time.monotonic() - t0))
        L.compare(d, "after SIGKILL #%d" % (k + 1))
    t.eq(L.stats["unexpected"], 0, "no unexpected reply in the whole load (%s)" % L.stats)

    # ------------------------------------------------------------------
    t.section("journal compaction in the background, under load")
    # Compacted once past 4 MiB and four times the live size: keep the
    # load on until a compaction (a forked child) has been finished.
    c0 = d.stats().get("journal_compactions", 0)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 90:
        L.run(1.0)
        st = d.stats()
        if st.get("journal_compactions", 0) > c0:
            break
    t.check(st.get("journal_compactions", 0) > c0, "a compaction ran under "
            "load within %.0f s (journal now %s bytes, %s records)" % (
                time.monotonic() - t0, st.get("journal_bytes"),
                st.get("journal_records")), repr(st))
    t.check("journal compacted in the background" in d.log_text(),
            "the log says the compaction was done in the background")
    L.compare(d, "live, after a background compaction")
    before = dict(L.stats)
    inflight = L.run(1.0, kill=lambda: os.kill(d.pid, signal.SIGKILL))
    d.proc.wait()
    t.check(d.proc.returncode == -signal.SIGKILL, "SIGKILL under load on the "
            "compacted journal (%d in flight, %d acked)" % (
                inflight, L.stats["acked"] - before["acked"]))
    t.check(d.start(timeout=60), "restarts on the compacted journal")
    L.compare(d, "after SIGKILL on the compacted journal")

    # ------------------------------------------------------------------
    t.section("SIGTERM keeps every binding")
    vs = nt.mn_socket(src="198.19.0.33")
    V1 = mip.MobileNode(HA, "198.18.10.5", 1000, KEY1, sock=vs)
    r = V1.register("198.19.4.1", 500, mip.F_D | mip.F_T | mip.F_G)
    t.check(r is not None and r.code == 0, "acme node: GRE + reverse tunnel binding")
    r = V1.register("198.19.4.2", 400, mip.F_D | mip.F_S | mip.F_T,
                    udp_tunnel=mip.UdpTunnelReq(force=True))
    t.check(r is not None and r.code == 1, "acme node (max_bindings 1): S -> code 1, "
            "now UDP-tunnelled")
    V2 = mip.MobileNode(HA, "0.0.0.0", 1012, KEY2, nai="p2@acme.example",
                        sock=nt.fa_socket(nt.FA2))
    r = V2.register(nt.FA2, 450, mip.F_M)
    t.check(r is not None and r.code == 0, "NAI node via an FA, minimal encapsulation")
    L.run(1.0)
    L.compare(d, "live, quiescent")
    snap = canon(d.bindings())
    t.eq(d.stop(signal.SIGTERM), 0, "SIGTERM: exit 0")
    t.check(d.start(timeout=60), "restarts")
    L.compare(d, "after SIGTERM")
    snap2 = canon(d.bindings())
    t.check(snap == snap2, "show bindings identical after SIGTERM + restart "
            "(remaining aside; %d bindings)" % len(d.bindings()),
            "only before: %s\nonly after: %s" % (
                sorted(set(snap) - set(snap2))[:5], sorted(set(snap2) - set(snap))[:5]))

    # ------------------------------------------------------------------
    for how in (signal.SIGTERM, signal.SIGKILL):
        name = "SIGTERM" if how == signal.SIGTERM else "SIGKILL"
        t.section("bindings that expire while the daemon is down (%s)" % name)
        sock = nt.mn_socket(src="198.19.0.30")
        short = [mip.MobileNode(HA, "198.18.90.%d" % (10 + i), 1000 + i, KEY1, sock=sock)
                 for i in range(20)]
        ok = 0
        for i, mn in enumerate(short):
            r = mn.register("198.19.2.%d" % (i + 1), 3 if i < 10 else 60, mip.F_D)
            ok += r is not None and r.code == 0
        t.eq(ok, 20, "20 nodes registered: 10 for 3 s, 10 for 60 s")
        t_reg = time.monotonic()
        rc = d.stop(how)
        t.check(rc in (0, -signal.SIGKILL), "%s: stopped (%s)" % (name, rc))
        time.sleep(4)
        t.check(d.start(timeout=60), "restarts 4 s later")
        down = time.monotonic() - t_reg
        bs = [b for b in d.bindings() if b["tenant"] == "short"]
        present = sorted(b["home_address"] for b in bs)
        want = sorted("198.18.90.%d" % (10 + i) for i in range(10, 20))
        t.eq(present, want, "the 3-s bindings are gone, the 60-s ones restored")
        late = [b for b in bs if b["remaining"] > 60 - int(down) + 1]
        t.check(not late, "restored bindings keep counting down (remaining <= %d "
                "after %.1f s)" % (60 - int(down) + 1, down),
                [(b["home_address"], b["remaining"]) for b in late])
        for mn in short[10:]:
            r = mn.deregister()
            if r is None or r.code != 0:
                t.check(False, "deregister %s" % mn.hoa)
        sock.close()
        L.compare(d, "load tenant after the %s restart" % name)
    for b in d.bindings():
        if b["tenant"] == "acme":
            t.check(b["remaining"] <= b["lifetime"] - 8, "acme binding %s -> %s restored, "
                    "counting down" % (b["home_address"], b["care_of_address"]), b)
    V1.deregister()
    V2.deregister(hoa=V2.assigned_hoa)
    t.eq([b for b in d.bindings() if b["tenant"] == "acme"], [],
         "acme's extra bindings deregistered")

    # ------------------------------------------------------------------
    t.section("NAI home addresses and replay state survive a restart")
    sock = nt.mn_socket(src="198.19.0.31")
    p = [mip.MobileNode(HA, "0.0.0.0", 1010 + i, KEY2, nai="p%d@acme.example" % i,
                        sock=sock) for i in range(3)]
    r0 = p[0].register("198.19.3.1", 600, mip.F_D)
    t.check(r0 is not None and r0.code == 0, "p0 gets an address (%s)" %
            (r0.hoa if r0 else None))
    A = mip.MobileNode(HA, "198.18.10.5", 1000, KEY1, sock=sock)
    ra = A.register("198.19.3.2", 600, mip.F_D)
    t.check(ra is not None and ra.code == 0, "A registers")
    accepted_req = A.last_request
    N = mip.MobileNode(HA, "198.18.10.7", 1003, KEY2, replay="nonce", sock=sock)
    N.register("198.19.3.3", 600, mip.F_D)
    rn = N.register("198.19.3.3", 600, mip.F_D)
    t.check(rn is not None and rn.code == 0, "nonce node registers")
    nonce_req = N.last_request
    t.eq(d.stop(signal.SIGKILL), -signal.SIGKILL, "SIGKILL")
    t.check(d.start(timeout=60), "restarts")
    b = nt.find(d.bindings(), r0.hoa if r0 else "-")
    t.check(b is not None and b["nai"] == "p0@acme.example",
            "p0's binding restored with its NAI", b)
    r1 = p[1].register("198.19.3.4", 600, mip.F_D)
    t.check(r1 is not None and r1.code == 0 and r0 is not None and r1.hoa != r0.hoa,
            "another NAI node gets a different address (%s vs %s)" % (
                r1.hoa if r1 else None, r0.hoa if r0 else None))
    r0b = p[0].register("198.19.3.5", 600, mip.F_D)
    t.check(r0b is not None and r0b.code == 0 and r0 is not None and r0b.hoa == r0.hoa,
            "p0 keeps its address after the restart")

    def resend(msg, node):
        ident = struct.unpack("!Q", msg[16:24])[0]
        node.send(msg)
        data, addr = mip.recv_until(sock, lambda dd, a: dd[:1] == b"\x03" and
                                    struct.unpack("!Q", dd[12:20])[0] & 0xffffffff ==
                                    ident & 0xffffffff, 2.0)
        return node.handle_reply(data, addr, ident) if data else None
    b0 = nt.strip_remaining(d.bindings_raw())
    rr = resend(accepted_req, A)
    t.check(rr is not None and rr.code == 133,
            "a timestamp request accepted before the restart is refused when "
            "replayed after it (133)", rr.to_json() if rr else "no reply")
    rr = resend(nonce_req, N)
    t.check(rr is not None and rr.code == 133,
            "a nonce request accepted before the restart is refused when "
            "replayed after it (133)", rr.to_json() if rr else "no reply")
    t.eq(nt.strip_remaining(d.bindings_raw()), b0, "replays changed nothing")
    t.eq(d.stop(), 0, "SIGTERM: exit 0")


if __name__ == "__main__":
    nt.run("test_restart", body)
