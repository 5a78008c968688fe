#!/usr/bin/python3
"""A real IPsec VPN through mipha, and a move that does not renegotiate it.

The product's promise (RFC 5265, RFC 4093 §2.4): the laptop's VPN runs with
the home address as its outer address, inside the Mobile IP tunnel, so a
move to another care-of address changes only the binding. Here both VPN
ends are strongSwan's charon (IKEv2, PSK, kernel-libipsec: ESP in userspace
over a TUN device, as these kernels have no ESP module; this version sends
ESP UDP-encapsulated on port 4500, RFC 3948):

  in: VPN gateway 203.0.113.2, "intranet" 198.18.200.1 behind it
   |
   r --- ha (mipha, tenant acme: vpn-only, vpn_gateway 203.0.113.2)
   |
  mn: CoA 198.19.0.2, later 198.19.0.3; HoA 198.18.10.5 on lo; charon
      with local address = HoA and inner address 198.18.30.5 (RFC 5265's
      VPN-TIA); IP-in-IP to the HA by the tc programs of
      test/bench/mn_tunnel.bpf.c (one object per care-of address)

Checks: IKE and the CHILD SA come up through the tunnel; ping from the
inner address to the intranet address goes through the VPN and mipha (its
counters);
a plaintext ping to the gateway is dropped by vpn-only; after the move
(re-registration from the new CoA, the node's tunnel end follows) the same
ping works again over the same IKE and CHILD SAs (same unique ids and SPIs,
one IKE_SA_INIT in the gateway's log, the SA counters grow).
"""
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, KEY1  # noqa: E402

HOA = "198.18.10.5"
COA1 = "198.19.0.2"
COA2 = "198.19.0.3"
GW = "203.0.113.2"
INTRANET = "198.18.200.1"
VPN_INNER = "198.18.30.5"       # the node's address inside the VPN (TIA)
CHARON = "/usr/lib/ipsec/charon"
SWANCTL = shutil.which("swanctl") or "/usr/sbin/swanctl"
PLUGIN = "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"
PSK = "mipha-test-psk-not-a-secret"

MN_OBJ = {c: os.path.join(nt.BUILDDIR, "test", "net", name) for c, name in (
    (COA1, "mn_tunnel_net.bpf.o"), (COA2, "mn_tunnel_net_coa3.bpf.o"))}

STRONGSWAN_CONF = """\
charon {
    load = random nonce openssl aes sha1 sha2 hmac kdf pem pkcs1 pubkey kernel-libipsec kernel-netlink socket-default vici
    install_routes = yes
    retransmit_tries = 3
    plugins {
        vici {
            socket = unix:///run/charon.vici
        }
    }
    filelog {
        log {
            path = %(dir)s/charon.log
            default = 1
            ike = 2
            time_format = %%H:%%M:%%S
            flush_line = yes
        }
    }
}
"""

SWANCTL_CONF = """\
connections {
    vpn {
        version = 2
        local_addrs = %(local)s
        remote_addrs = %(remote)s
        proposals = aes128-sha256-modp2048
        encap = yes
        dpd_delay = 0
        local {
            auth = psk
            id = %(local_id)s
        }
        remote {
            auth = psk
            id = %(remote_id)s
        }
        children {
            net {
                local_ts = %(local_ts)s
                remote_ts = %(remote_ts)s
                esp_proposals = aes128-sha256
                start_action = none
            }
        }
    }
}
secrets {
    ike-acme {
        id-mn = mn@acme.example
        id-gw = gw@acme.example
        secret = "%(psk)s"
    }
}
"""


class Charon:
    """One charon in a namespace, its /run a directory of ours (the pid
    file's path is fixed), its vici socket reachable from here."""

    def __init__(self, name, ns, **conf):
        self.name, self.ns = name, ns
        self.dir = os.path.join(nt.MIPT_DIR, "ipsec-" + name)
        self.run = os.path.join(self.dir, "run")
        os.makedirs(self.run, exist_ok=True)
        self.conf = os.path.join(self.dir, "strongswan.conf")
        self.swanctl_conf = os.path.join(self.dir, "swanctl.conf")
        self.log = os.path.join(self.dir, "charon.log")
        self.uri = "unix://" + os.path.join(self.run, "charon.vici")
        with open(self.conf, "w") as f:
            f.write(STRONGSWAN_CONF % {"dir": self.dir})
        conf["psk"] = PSK
        with open(self.swanctl_conf, "w") as f:
            f.write(SWANCTL_CONF % conf)
        self.proc = None

    def start(self):
        env = dict(os.environ, STRONGSWAN_CONF=self.conf)
        self.out = open(os.path.join(self.dir, "charon.out"), "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "sh", "-c",
             "mount --bind '%s' /run && exec %s" % (self.run, CHARON)],
            env=env, stdout=self.out, stderr=subprocess.STDOUT)
        sock = os.path.join(self.run, "charon.vici")
        return nt.wait_for(lambda: os.path.exists(sock) or
                           self.proc.poll() is not None, timeout=10) and \
            self.proc.poll() is None and os.path.exists(sock)

    def swanctl(self, *args, timeout=30):
        r = subprocess.run([SWANCTL] + list(args) + ["--uri", self.uri],
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    def load(self):
        return self.swanctl("--load-all", "--file", self.swanctl_conf)

    def sa(self):
        """The IKE SA and its CHILD SA as key=value pairs (raw listing)."""
        rc, out = self.swanctl("--list-sas", "--raw")
        ike = {}
        child = {}
        m = re.search(r"child-sas \{(.*)", out, re.S)
        head = out[:m.start()] if m else out
        for k, v in re.findall(r"([a-z-]+)=([^ {}]+)", head):
            ike.setdefault(k, v)
        if m:
            for k, v in re.findall(r"([a-z-]+)=([^ {}]+)", m.group(1)):
                child.setdefault(k, v)
        return ike, child

    def log_text(self):
        return nt.read_text(self.log)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def tunnel_end(coa):
    """The MN's IP-in-IP end on mn0, for care-of address coa."""
    for hook in ("egress", "ingress"):
        nt.sh("tc", "filter", "del", "dev", "mn0", hook, ns=nt.NS_MN,
              check=False)
        nt.sh("tc", "filter", "add", "dev", "mn0", hook, "bpf", "da", "obj",
              MN_OBJ[coa], "sec", hook, ns=nt.NS_MN)


def setup_topology(t):
    nt.sh("ip", "route", "add", "198.18.10.0/24", "via", HA, ns=nt.NS_R)
    nt.sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=nt.NS_HA)
    # The gateway's protected network: one address on its loopback.
    nt.sh("ip", "addr", "add", INTRANET + "/32", "dev", "lo", ns=nt.NS_IN)
    # The mobile node: HoA on lo, the gateway reached from it through the
    # tunnel (route MTU leaves room for the outer header).
    nt.sh("ip", "addr", "add", HOA + "/32", "dev", "lo", ns=nt.NS_MN)
    nt.sh("ip", "addr", "add", VPN_INNER + "/32", "dev", "lo", ns=nt.NS_MN)
    nt.sh("ip", "route", "add", GW, "via", "198.19.0.1", "dev", "mn0", "src",
          HOA, "mtu", "1476", ns=nt.NS_MN)
    nt.sh("tc", "qdisc", "add", "dev", "mn0", "clsact", ns=nt.NS_MN)
    tunnel_end(COA1)
    # Raw sockets cannot finish a veth's CHECKSUM_PARTIAL packets (see
    # test_bulk_tcp.py): let the senders fill their checksums in, so the
    # userspace path may carry whatever the fast path leaves to it.
    for ns, dev in ((nt.NS_MN, "mn0"), (nt.NS_IN, "in0")):
        nt.sh("ethtool", "-K", dev, "tx", "off", ns=ns)
    t.check(True, "MN: HoA %s on lo, IP-in-IP end on mn0 for CoA %s" %
            (HOA, COA1))


def register(t, coa, what):
    mn = mip.MobileNode(HA, HOA, 1000, KEY1, sock=nt.mn_socket(coa))
    r = mn.register(coa, 600, mip.F_D | mip.F_T, timeout=3, retries=1)
    mn.close()
    return t.check(r is not None and r.code == 0, what,
                   r.to_json() if r else "no reply")


def ping(dst, src, count=3):
    r = nt.run_in("ping", "-n", "-c", str(count), "-i", "0.3", "-W", "2",
                  "-I", src, dst, ns=nt.NS_MN, check=False, timeout=30)
    m = re.search(r"(\d+) received", r.stdout)
    return int(m.group(1)) if m else 0, r.stdout + r.stderr


def counters(d):
    s = d.stats()
    return {k: s.get(k, 0) for k in ("packets_tunneled",
                                     "packets_reverse_tunneled")}, \
        s.get("packets_dropped", {}).get("policy", 0)


def body(t):
    t.section("prerequisites")
    have = all(os.path.exists(p) for p in (CHARON, SWANCTL, PLUGIN))
    if not t.check(have, "strongSwan's charon, swanctl and kernel-libipsec "
                   "are installed (contrib/debian-packages)",
                   "missing: %s" % [p for p in (CHARON, SWANCTL, PLUGIN)
                                    if not os.path.exists(p)]):
        return
    if not t.check(all(os.path.exists(o) for o in MN_OBJ.values()),
                   "the MN's tunnel ends are built", repr(MN_OBJ)):
        return

    t.section("topology")
    setup_topology(t)
    for fastpath in (True, False):
        run_mode(t, fastpath)


def run_mode(t, fastpath):
    label = "fastpath = %s" % ("true" if fastpath else "false")
    tag = "fp" if fastpath else "us"
    t.section("registration (%s)" % label)
    tunnel_end(COA1)
    tenant = nt.tenant("acme", 101, "198.18.10.0/24",
                       [nt.mn_entry(1000, KEY1, hoa=HOA)], vpn=GW,
                       policy="vpn-only", encapsulations=["ipip"])
    d = nt.Daemon("vpn-" + tag, ha={"fastpath": fastpath},
                  tenants={"acme": tenant})
    if not t.check(d.start(), "mipha starts (%s; tenant acme, vpn-only, "
                   "vpn_gateway %s)" % (label, GW)):
        return
    if not register(t, COA1, "HoA registers from CoA %s, T set" % COA1):
        d.stop()
        return

    gw = Charon("gw-" + tag, nt.NS_IN, local=GW, remote="%any",
                local_id="gw@acme.example", remote_id="mn@acme.example",
                local_ts=INTRANET + "/32", remote_ts=VPN_INNER + "/32")
    mn = Charon("mn-" + tag, nt.NS_MN, local=HOA, remote=GW,
                local_id="mn@acme.example", remote_id="gw@acme.example",
                local_ts=VPN_INNER + "/32", remote_ts=INTRANET + "/32")
    failed = len(t.failures)
    try:
        run_vpn(t, d, gw, mn)
    finally:
        for c in (mn, gw):
            c.stop()
        if len(t.failures) > failed:
            for c in (gw, mn):
                lines = c.log_text().splitlines()
                print("# ===== charon %s (last %d of %d lines) =====" % (
                    c.name, min(80, len(lines)), len(lines)))
                for ln in lines[-80:]:
                    print("# | " + ln)
    t.check(d.stop() == 0, "mipha stops cleanly")


def run_vpn(t, d, gw, mn):
    t.section("IKEv2 through the Mobile IP tunnel")
    for c in (gw, mn):
        if not t.check(c.start(), "charon (%s) runs in its namespace" %
                       c.name):
            return
        rc, out = c.load()
        if not t.check(rc == 0, "swanctl --load-all (%s)" % c.name, out):
            return
    before, pol0 = counters(d)
    rc, out = mn.swanctl("--initiate", "--child", "net", "--timeout", "20",
                         timeout=30)
    if not t.check(rc == 0, "the MN initiates: IKE SA and CHILD SA "
                   "established", out):
        return
    ike1, child1 = mn.sa()
    gwike1, gwchild1 = gw.sa()
    t.check(ike1.get("state") == "ESTABLISHED" and
            child1.get("state") == "INSTALLED",
            "MN: IKE SA established, CHILD SA installed",
            repr((ike1, child1)))
    t.check(gwike1.get("remote-host") == HOA,
            "the gateway sees the home address as the VPN's outer address "
            "(%s)" % gwike1.get("remote-host"), repr(gwike1))

    t.section("traffic through the VPN inside the tunnel")
    got, out = ping(INTRANET, VPN_INNER)
    t.check(got == 3, "ping %s -> %s (behind the gateway) through ESP "
            "from the HoA: 3 of 3 answered" % (VPN_INNER, INTRANET), out)
    mid, pol1 = counters(d)
    # At least the three echoes each way (IKE and NAT-T keepalives add).
    t.check(all(mid[k] - before[k] >= 3 for k in mid),
            "mipha carried it both ways: %r -> %r" % (before, mid))
    t.check(pol1 == pol0, "nothing of the VPN was dropped by vpn-only")
    got, out = ping(GW, HOA, count=2)
    _, pol2 = counters(d)
    t.check(got == 0 and pol2 > pol1, "a plaintext ping HoA -> gateway is "
            "dropped by vpn-only (policy drops %d -> %d)" % (pol1, pol2), out)

    t.section("move to another care-of address")
    if not register(t, COA2, "HoA re-registers from CoA %s" % COA2):
        return
    tunnel_end(COA2)
    b = [x for x in d.bindings() if x.get("home_address") == HOA]
    t.check(len(b) == 1 and b[0].get("care_of_address") == COA2,
            "the binding now names CoA %s" % COA2, repr(b))
    got, out = ping(INTRANET, VPN_INNER)
    t.check(got == 3, "after the move the same ping goes through the VPN: "
            "3 of 3 answered", out)
    after, _ = counters(d)
    t.check(all(after[k] - mid[k] >= 3 for k in after),
            "mipha carried it after the move: %r -> %r" % (mid, after))
    ike2, child2 = mn.sa()
    gwike2, gwchild2 = gw.sa()
    same = ("uniqueid", "initiator-spi", "responder-spi")
    t.check(all(ike2.get(k) == ike1.get(k) and ike1.get(k) for k in same),
            "the same IKE SA (unique id, SPIs): nothing renegotiated",
            repr((ike1, ike2)))
    t.check(all(child2.get(k) == child1.get(k) and child1.get(k)
                for k in ("uniqueid", "spi-in", "spi-out")),
            "the same CHILD SA (unique id, SPIs)", repr((child1, child2)))
    t.check(int(gwchild2.get("packets-in", 0)) >
            int(gwchild1.get("packets-in", 0)) and
            int(child2.get("packets-in", 0)) >
            int(child1.get("packets-in", 0)),
            "its packet counters grew at both ends", repr(
                (gwchild1.get("packets-in"), gwchild2.get("packets-in"),
                 child1.get("packets-in"), child2.get("packets-in"))))
    inits = len(re.findall(r"parsed IKE_SA_INIT request", gw.log_text()))
    t.check(inits == 1, "the gateway parsed exactly one IKE_SA_INIT request "
            "(%d)" % inits)


nt.run("a real IPsec VPN through mipha across a move", body)
