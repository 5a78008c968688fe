"""nettest - shared harness of mipha's namespace tests (test/net/*.py).

A test script calls nettest.bootstrap(__file__) first: outside the
namespaces (no MIPT_DIR in the environment) it re-executes itself through
test/net/run.sh, which skips (77) when not root / no ip netns, builds the
namespaces of lib.sh and removes them on every exit.

Inside, this module gives: the topology's addresses, sockets in the
mobile node / foreign agent / internal namespaces, a Daemon (config files
in the scratch directory, mipha -d in the HA namespace, miphactl --json),
and a small checker that prints every check and, on failure, the daemon's
log.
"""

import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback


def bootstrap(test_file):
    if "MIPT_DIR" in os.environ:
        return
    here = os.path.dirname(os.path.abspath(test_file))
    os.execv("/bin/bash", ["bash", os.path.join(here, "run.sh"),
                           os.path.abspath(test_file)] + sys.argv[1:])


SRCDIR = os.environ.get("MIPT_SRCDIR") or \
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "contrib"))
import mipnode as mip  # noqa: E402

MIPT_DIR = os.environ.get("MIPT_DIR", "/tmp")
NS_HA = os.environ.get("NS_HA")
NS_MN = os.environ.get("NS_MN")
NS_FA = os.environ.get("NS_FA")
NS_IN = os.environ.get("NS_IN")
NS_R = os.environ.get("NS_R")
MIPHA = os.environ.get("MIPHA", "ha/mipha")
MIPHACTL = os.environ.get("MIPHACTL", "ha/miphactl")
# Where test data built by make lives (e.g. test/net/*.bpf.o).
BUILDDIR = os.environ.get("MIPT_BUILDDIR") or os.path.dirname(
    os.path.dirname(os.path.abspath(MIPHA)))


def run_in(*cmd, ns=None, check=False, timeout=60):
    """Run cmd, in namespace ns if given; the CompletedProcess (text).
    check: raise with its stderr when it fails."""
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    r = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(full), r.stderr.strip()))
    return r


def sh(*cmd, ns=None, check=True, timeout=60):
    """run_in() for its output: stdout; raises on failure unless check is
    false."""
    return run_in(*cmd, ns=ns, check=check, timeout=timeout).stdout


def inet_csum(b):
    """The Internet checksum (RFC 1071) of b."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4_header(src, dst, proto, payload_len, ihl=5, ver=4, tot=None,
                ttl=64, df=False, ident=None, good_csum=True):
    """An IPv4 header (options zero-filled when ihl > 5); ver, ihl, tot and
    good_csum=False let a test build malformed ones."""
    h = struct.pack("!BBHHHBBH4s4s", (ver << 4) | ihl, 0,
                    tot if tot is not None else ihl * 4 + payload_len,
                    ident if ident is not None else random.getrandbits(16),
                    0x4000 if df else 0, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h += b"\0" * (ihl * 4 - 20) if ihl > 5 else b""
    c = inet_csum(h[:max(ihl, 5) * 4])
    if not good_csum:
        c ^= 0x5a5a
    return h[:10] + struct.pack("!H", c) + h[12:]


def read_text(path):
    """A log file's text, "" when it is not there (yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""

HA = "198.51.100.1"
MN_SRC = "198.19.0.2"            # + .3-.40 in the MN namespace
FA = "198.51.100.66"             # FA with an FA-HA SA (in tenant acme)
FA_NOSA = "198.51.100.67"        # FA without an SA
FA2 = "198.51.100.68"
INT_SRC = "203.0.113.2"          # "inside the enterprise" (RFC 5265 §3.7)

KEY1 = "0x00112233445566778899aabbccddeeff"
KEY2 = "0x0f0e0d0c0b0a09080706050403020100"
FAKEY = "0xa0a1a2a3a4a5a6a7a8a9aaabacadaeaf"


def mn_socket(src=MN_SRC, sport=0, **kw):
    return mip.udp_socket(src, sport, ns=NS_MN, **kw)


def fa_socket(src=FA, sport=0):
    return mip.udp_socket(src, sport, ns=NS_FA)


def in_socket(src=INT_SRC, sport=0):
    return mip.udp_socket(src, sport, ns=NS_IN)


# --- libconfig ----------------------------------------------------------

def _cfg(v, ind):
    tab = "\t" * ind
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if v <= 2147483647 else "%dL" % v
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        body = "".join("%s\t%s = %s;\n" % (tab, k, _cfg(x, ind + 1))
                       for k, x in v.items())
        return "{\n%s%s}" % (body, tab)
    if isinstance(v, (list, tuple)):
        if v and isinstance(v[0], dict):
            return "(\n%s\n%s)" % (",\n".join(tab + "\t" + _cfg(x, ind + 1)
                                             for x in v), tab)
        return "[ %s ]" % ", ".join(_cfg(x, ind + 1) for x in v)
    raise TypeError(v)


def libconfig(groups):
    """{"ha": {...}} -> libconfig text."""
    return "".join("%s: %s;\n" % (k, _cfg(v, 0)) for k, v in groups.items())


# --- the daemon -----------------------------------------------------------

_daemons = []


class Daemon:
    """mipha in the HA namespace, its files under MIPT_DIR/NAME."""

    def __init__(self, name="d", ha=None, tenants=None):
        self.dir = os.path.join(MIPT_DIR, name)
        self.tdir = os.path.join(self.dir, "tenants.d")
        self.conf = os.path.join(self.dir, "mipha.conf")
        self.state = os.path.join(self.dir, "state")
        self.sock = os.path.join(self.dir, "mipha.sock")
        self.pidfile = os.path.join(self.dir, "mipha.pid")
        self.log = os.path.join(self.dir, "mipha.log")
        os.makedirs(self.tdir, exist_ok=True)
        os.makedirs(self.state, exist_ok=True)
        self.proc = None
        self.starts = 0
        self.ha = {"address": HA, "control_socket": self.sock,
                   "state_dir": self.state, "max_lifetime": 600,
                   "replay_window": 7, "tenants_dir": "tenants.d"}
        if ha:
            self.ha.update(ha)
        _daemons.append(self)
        self.write_main()
        for n, t in (tenants or {}).items():
            self.write_tenant(n, t)

    def write_main(self, text=None):
        with open(self.conf, "w") as f:
            f.write(text if text is not None else libconfig({"ha": self.ha}))
        os.chmod(self.conf, 0o600)

    def write_tenant(self, fname, tenant):
        """tenant: a dict (the tenant group) or raw text."""
        path = os.path.join(self.tdir, fname + ".conf")
        with open(path, "w") as f:
            f.write(tenant if isinstance(tenant, str)
                    else libconfig({"tenant": tenant}))
        os.chmod(path, 0o600)
        return path

    def remove_tenant(self, fname):
        os.unlink(os.path.join(self.tdir, fname + ".conf"))

    def check_config(self):
        r = subprocess.run(["ip", "netns", "exec", NS_HA, MIPHA, "-n", "-f",
                            self.conf], capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def start(self, wait=True, timeout=20, verbose=1):
        self.starts += 1
        with open(self.log, "a") as lf:
            lf.write("\n===== start #%d at %s =====\n" %
                     (self.starts, time.strftime("%H:%M:%S")))
            lf.flush()
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", NS_HA, MIPHA, "-d"] +
                ["-v"] * verbose + ["-f", self.conf, "-p", self.pidfile],
                stdout=lf, stderr=lf, stdin=subprocess.DEVNULL)
        if not wait:
            return True
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            rc, _, _ = self.ctl("show", "stats", json_=True, timeout=5)
            if rc == 0:
                return True
            time.sleep(0.05)
        return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal the daemon and wait; its exit status (or None)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return "timeout"
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def ctl(self, *args, json_=True, timeout=20):
        cmd = [MIPHACTL, "-s", self.sock] + (["--json"] if json_ else []) + \
            list(args)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, "", "miphactl timed out"
        return r.returncode, r.stdout, r.stderr

    def bindings_raw(self, tenant=None):
        rc, out, err = self.ctl("show", "bindings", *([tenant] if tenant else []))
        if rc != 0:
            raise RuntimeError("miphactl show bindings: rc %d: %s" % (rc, err))
        return out

    def bindings(self, tenant=None):
        return json.loads(self.bindings_raw(tenant))

    def stats(self):
        rc, out, err = self.ctl("show", "stats")
        if rc != 0:
            raise RuntimeError("miphactl show stats: rc %d: %s" % (rc, err))
        return json.loads(out)

    def tenants(self):
        rc, out, err = self.ctl("show", "tenants")
        if rc != 0:
            raise RuntimeError("miphactl show tenants: rc %d: %s" % (rc, err))
        return json.loads(out)

    def log_text(self):
        return read_text(self.log)


REMAINING = re.compile(r'"remaining"\s*:\s*\d+\s*,?\s*')


def strip_remaining(raw):
    """`show bindings` output minus the counting-down field."""
    return REMAINING.sub("", raw)


def flat_stats(s):
    """The registration counters as one flat dict."""
    f = {"accepted": s.get("registrations_accepted", 0)}
    for k, v in (s.get("registrations_denied") or {}).items():
        f["denied." + k] = v
    for k, v in (s.get("registrations_dropped") or {}).items():
        f["dropped." + k] = v
    # Port 434 also carries RFC 3519 tunnel data (type 4): its drops are
    # data-plane drops.
    for k, v in (s.get("packets_dropped") or {}).items():
        f["packets_dropped." + k] = v
    return f


def stats_delta(before, after):
    a, b = flat_stats(before), flat_stats(after)
    return {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)
            if b.get(k, 0) != a.get(k, 0)}


def by_coa(bindings, hoa=None):
    return {b["care_of_address"]: b for b in bindings
            if hoa is None or b["home_address"] == hoa}


def find(bindings, hoa, coa=None):
    for b in bindings:
        if b["home_address"] == hoa and (coa is None or
                                         b["care_of_address"] == coa):
            return b
    return None


# --- checks -----------------------------------------------------------

class Checker:
    def __init__(self, name):
        self.name = name
        self.n = 0
        self.failures = []
        self.notes = []
        print("# %s" % name, flush=True)

    def section(self, title):
        print("#\n# --- %s" % title, flush=True)

    def check(self, cond, what, detail=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, what), flush=True)
        else:
            print("not ok %d - %s" % (self.n, what), flush=True)
            if detail is not None:
                for line in str(detail).splitlines():
                    print("#   " + line, flush=True)
            self.failures.append(what)
        return bool(cond)

    def eq(self, got, want, what):
        return self.check(got == want, what, "got:  %r\nwant: %r" % (got, want))

    def note(self, text):
        print("# NOTE: " + text, flush=True)
        self.notes.append(text)

    def finish(self):
        print("#\n# %s: %d checks, %d failed" % (self.name, self.n,
                                                 len(self.failures)), flush=True)
        for f in self.failures:
            print("#   FAILED: " + f)
        if self.notes:
            print("# notes:")
            for n in self.notes:
                print("#   " + n)
        if self.failures:
            dump_logs()
        return 1 if self.failures else 0


def dump_logs(limit=400):
    for d in _daemons:
        text = d.log_text()
        lines = text.splitlines()
        print("# ===== daemon log %s (%d lines, last %d) =====" %
              (d.log, len(lines), min(limit, len(lines))))
        for line in lines[-limit:]:
            print("# | " + line)


def run(name, body):
    """Run body(checker); exit with its verdict; logs on failure or crash."""
    t = Checker(name)
    crashed = False
    try:
        body(t)
    except Exception:
        traceback.print_exc()
        print("# aborted after %d checks" % t.n)
        t.failures.append("aborted by an exception")
        crashed = True
    finally:
        for d in _daemons:
            try:
                d.stop(timeout=10)
            except Exception:
                pass
    t.section("sanitizer reports in the daemon's log")
    for d in _daemons:
        text = d.log_text()
        hits = [ln for ln in text.splitlines()
                if "runtime error:" in ln or "Sanitizer" in ln]
        t.check(not hits, "%s: no ASan/UBSan/LSan report" % d.log, "\n".join(hits[:20]))
    rc = t.finish()
    if crashed and rc == 0:
        rc = 1
    sys.exit(rc)


# --- tenants used by several tests ---------------------------------------

def mn_entry(spi, key=KEY1, hoa=None, nai=None, alg="hmac-md5",
             replay="timestamp"):
    e = {}
    if hoa:
        e["home_address"] = hoa
    if nai:
        e["nai"] = nai
    e.update(spi=spi, algorithm=alg, key=key, replay=replay)
    return e


def tenant(name, table, net, mns, **kw):
    t = {"name": name, "table": table, "vpn_gateway": kw.pop("vpn", "203.0.113.10"),
         "home_network": net}
    t.update(kw)
    t["mobile_nodes"] = mns
    return t


def wait_for(pred, timeout=3.0, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)
