#!/usr/bin/python3
"""mipha as a daemon: detaching, its pid file, its user, its exit status.

Without -d the command that starts mipha must say whether the daemon came
up: it waits until the detached process has written its pid file and
changed to the configured user, and exits 0, or 3 when that failed
(mipha(8) EXIT STATUS). Checked: a good start (the pid file names a live
daemon that answers), a pid file that cannot be written, a user that does
not exist, and a run as an unprivileged user that keeps exactly the three
capabilities it needs and still registers a node.
"""
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nettest as nt  # noqa: E402
nt.bootstrap(__file__)
from nettest import mip, HA, KEY1, MN_SRC  # noqa: E402

HOA = "198.18.10.5"
# CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13)
CAPS = (1 << 10) | (1 << 12) | (1 << 13)


# A detached daemon's stderr is /dev/null: sanitizer reports go to files,
# in a directory the daemon can write also as nobody.
SAN_DIR = os.path.join(nt.MIPT_DIR, "sanitizer")
os.makedirs(SAN_DIR, exist_ok=True)
os.chmod(SAN_DIR, 0o1777)
SAN_LOG = os.path.join(SAN_DIR, "report")


def launch(d, pidfile, bounding=None):
    """mipha without -d, with only the `bounding` capabilities (setpriv
    syntax) if given; (exit status, output) of the starting command."""
    env = dict(os.environ)
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env[k] = ":".join(x for x in (env.get(k), "log_path=" + SAN_LOG)
                          if x)
    bound = ["setpriv", "--bounding-set=-all," + bounding,
             "--inh-caps=-all"] if bounding else []
    r = subprocess.run(["ip", "netns", "exec", nt.NS_HA] + bound +
                       [nt.MIPHA, "-f", d.conf, "-p", pidfile],
                       capture_output=True, text=True, timeout=60, env=env)
    return r.returncode, r.stdout + r.stderr


def unit_capabilities():
    """CapabilityBoundingSet of the shipped systemd unit, for setpriv."""
    path = os.path.join(nt.SRCDIR, "contrib", "mipha.service.in")
    for line in open(path):
        if line.startswith("CapabilityBoundingSet="):
            return ",".join("+" + c[4:].lower()
                            for c in line.split("=", 1)[1].split())
    return None


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    return []


def stop(pid):
    os.kill(pid, signal.SIGTERM)
    return nt.wait_for(lambda: not alive(pid), timeout=15)


def own_state():
    return subprocess.run(["ip", "netns", "exec", nt.NS_HA, "ip", "route",
                           "show", "table", "all", "proto", "213"],
                          capture_output=True, text=True).stdout.strip()


def body(t):
    tenant = nt.tenant("acme", 101, "198.18.10.0/24",
                       [nt.mn_entry(1000, KEY1, hoa=HOA)], vpn="203.0.113.2")

    t.section("a good start without -d")
    d = nt.Daemon("good", tenants={"acme": tenant})
    pidfile = os.path.join(d.dir, "mipha.pid")
    rc, out = launch(d, pidfile)
    pid = read_pid(pidfile)
    t.check(rc == 0, "the command exits 0 once the daemon is up", out)
    t.check(pid is not None and alive(pid), "the pid file names a live "
            "daemon (%s)" % pid)
    rc2, _, err = d.ctl("show", "stats")
    t.check(rc2 == 0, "it answers miphactl", err)
    if pid is not None and alive(pid):
        t.check(stop(pid), "SIGTERM stops it")
        t.check(not os.path.exists(pidfile), "its pid file is gone")

    t.section("a pid file that cannot be written")
    d = nt.Daemon("nopid", tenants={"acme": tenant})
    bad = os.path.join(d.dir, "no", "such", "dir", "mipha.pid")
    t0 = time.monotonic()
    rc, out = launch(d, bad)
    t.check(rc == 3, "the command exits 3 (was %d)" % rc, out)
    t.check(time.monotonic() - t0 < 30, "and does not hang")
    rc2, _, _ = d.ctl("show", "stats", timeout=3)
    t.check(rc2 != 0, "no daemon is left answering")
    t.check(nt.wait_for(lambda: own_state() == "", timeout=5),
            "its routes are removed again", own_state())

    t.section("a user that does not exist")
    d = nt.Daemon("nouser", ha={"user": "mipha-no-such-user"},
                  tenants={"acme": tenant})
    rc, out = launch(d, os.path.join(d.dir, "mipha.pid"))
    t.check(rc == 3, "the command exits 3 (was %d)" % rc, out)
    rc2, _, _ = d.ctl("show", "stats", timeout=3)
    t.check(rc2 != 0, "no daemon is left answering")

    t.section("with the systemd unit's capabilities only")
    caps = unit_capabilities()
    t.check(caps, "the unit has a CapabilityBoundingSet (%s)" % caps)
    for label, bounding, want in (
            ("the unit's set", caps, True),
            ("the unit's set without CAP_PERFMON",
             caps.replace(",+perfmon", ""), False)):
        d = nt.Daemon("caps%d" % int(want), ha={"user": "nobody"},
                      tenants={"acme": tenant})
        # In the foreground (as the unit runs it), its log in d.log.
        with open(d.log, "a") as lf:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", nt.NS_HA, "setpriv",
                 "--bounding-set=-all," + bounding, "--inh-caps=-all",
                 nt.MIPHA, "-d", "-f", d.conf, "-p",
                 os.path.join(d.dir, "mipha.pid")], stdout=lf, stderr=lf)
        up = nt.wait_for(lambda: d.ctl("show", "stats", timeout=3)[0] == 0,
                         timeout=20)
        if not t.check(up, "%s: mipha starts, as nobody" % label,
                       d.log_text()[-2000:]):
            proc.kill()
            proc.wait()
            continue
        fp = d.stats().get("fastpath", {})
        t.check(fp.get("enabled") is want, "%s: fast path %s" % (
            label, "loaded" if want else "not loaded (userspace only), "
            "and the log says so"), repr(fp))
        mn = mip.MobileNode(HA, HOA, 1000, KEY1, sock=nt.mn_socket(MN_SRC))
        r = mn.register(MN_SRC, 600, mip.F_D | mip.F_T, timeout=3, retries=1)
        mn.close()
        log = d.log_text()
        t.check(r is not None and r.code == 0 and
                "fast path: entry for" not in log,
                "%s: a node registers; no fast path map error after the "
                "privilege drop" % label, log[-2000:])
        if not want:
            t.check("fast path not available" in log, "%s: the log says "
                    "the fast path is not available" % label)
        proc.terminate()
        t.check(proc.wait(timeout=15) == 0, "SIGTERM stops it (exit 0)")

    t.section("running as nobody")
    d = nt.Daemon("nobody", ha={"user": "nobody"}, tenants={"acme": tenant})
    pidfile = os.path.join(d.dir, "mipha.pid")
    rc, out = launch(d, pidfile)
    pid = read_pid(pidfile)
    t.check(rc == 0 and pid is not None and alive(pid),
            "the command exits 0 and the daemon runs", out)
    if pid is None or not alive(pid):
        return
    uid = status_field(pid, "Uid")
    t.check(uid and all(int(u) == 65534 for u in uid),
            "all its user ids are nobody's (%s)" % " ".join(uid))
    eff = int(status_field(pid, "CapEff")[0], 16)
    prm = int(status_field(pid, "CapPrm")[0], 16)
    t.check(eff == CAPS and prm == CAPS, "it keeps CAP_NET_ADMIN, "
            "CAP_NET_RAW and CAP_NET_BIND_SERVICE only (eff %x, prm %x)" %
            (eff, prm))
    mn = mip.MobileNode(HA, HOA, 1000, KEY1, sock=nt.mn_socket(MN_SRC))
    r = mn.register(MN_SRC, 600, mip.F_D | mip.F_T, timeout=3, retries=1)
    mn.close()
    t.check(r is not None and r.code == 0, "and still registers a node",
            r.to_json() if r else "no reply")
    t.check(stop(pid), "SIGTERM stops it")

    t.section("sanitizer reports of the detached daemons")
    reports = os.listdir(SAN_DIR)
    t.check(not reports, "none", "\n".join(
        nt.read_text(os.path.join(SAN_DIR, f))[:2000] for f in reports))


nt.run("mipha as a daemon", body)
