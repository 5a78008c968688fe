#!/usr/bin/python3
"""mipnode - a Mobile IPv4 mobile node and foreign agent, for tests and demos.

Written from the RFC texts, independently of mipha's C code:

  RFC 5944 §3.3 Registration Request, §3.4 Registration Reply,
           §3.5 authentication extensions (MN-HA 32, MN-FA 33, FA-HA 34),
           §5.7 replay protection (timestamps, nonces)
  RFC 2002 keyed-MD5 "prefix+suffix" authenticator (old mobile nodes)
  RFC 2794 Mobile Node NAI extension (131)
  RFC 3024 reverse tunnelling (T bit) and its reply codes
  RFC 3519 UDP Tunnel Request (144) and Reply (44) extensions

Library use (everything is plain bytes in / bytes out, plus a thin
socket layer):

    import mipnode as mip
    mn = mip.MobileNode(ha="198.51.100.1", hoa="198.18.10.5", spi=1000,
                        key="0x00112233445566778899aabbccddeeff")
    rep = mn.register(coa="198.19.0.2", lifetime=600, flags=mip.F_D)
    print(rep.code, rep.lifetime, rep.mn_ha_valid)

Command line (prints the reply as JSON):

    mipnode.py register --ha 198.51.100.1 --hoa 198.18.10.5 \\
        --coa 198.19.0.2 --spi 1000 --key 0x0011...eeff [--lifetime 600]
    mipnode.py deregister --ha ... --hoa ... --spi ... --key ...
    mipnode.py build ...        (print the request as hex, send nothing)
    mipnode.py decode HEX       (decode a request or reply)
    mipnode.py fa --listen ADDR [--spi N --key K]   (relaying FA, §3.7)
    mipnode.py register ... --via FA_ADDR --coa FA_ADDR --flags T  (through it)

Exit status of register/deregister: 0 accepted (code 0 or 1), 1 denied,
2 usage error, 3 no reply, 4 the reply failed authentication.
"""

import argparse
import ctypes
import hashlib
import hmac
import json
import os
import random
import select
import socket
import struct
import sys
import time
from contextlib import contextmanager

# --- RFC 5944 numbers ---------------------------------------------------

MIP_PORT = 434
T_RRQ = 1                      # §3.3
T_RRP = 3                      # §3.4

# §3.3 flags, first bit (0x80) first.
F_S = 0x80                     # simultaneous bindings
F_B = 0x40                     # broadcast datagrams
F_D = 0x20                     # decapsulation by MN (co-located CoA)
F_M = 0x10                     # minimal encapsulation
F_G = 0x08                     # GRE
F_r = 0x04                     # reserved, sent as zero
F_T = 0x02                     # reverse tunnelling (RFC 3024)
F_x = 0x01                     # sent as zero, ignored on reception
FLAG_LETTERS = "SBDMGrTx"

EXT_MN_HA = 32                 # §3.5.2
EXT_MN_FA = 33                 # §3.5.3
EXT_FA_HA = 34                 # §3.5.4
EXT_UDP_TUNNEL_REPLY = 44      # RFC 3519 §3.2
EXT_NAI = 131                  # RFC 2794 §2
EXT_UDP_TUNNEL_REQ = 144       # RFC 3519 §3.1
AUTH_EXTS = (EXT_MN_HA, EXT_MN_FA, EXT_FA_HA)

EXT_NAMES = {
    EXT_MN_HA: "mn-ha-auth", EXT_MN_FA: "mn-fa-auth", EXT_FA_HA: "fa-ha-auth",
    EXT_UDP_TUNNEL_REPLY: "udp-tunnel-reply", EXT_NAI: "nai",
    EXT_UDP_TUNNEL_REQ: "udp-tunnel-request",
}

# §3.4 reply codes; RFC 3024 §3.4 adds 137-139, RFC 2794 §5 97-100.
CODES = {
    0: "registration accepted",
    1: "accepted, simultaneous mobility bindings unsupported",
    64: "FA: reason unspecified", 65: "FA: administratively prohibited",
    66: "FA: insufficient resources", 67: "FA: mobile node failed authentication",
    68: "FA: home agent failed authentication", 69: "FA: requested Lifetime too long",
    70: "FA: poorly formed Request", 71: "FA: poorly formed Reply",
    72: "FA: requested encapsulation unavailable",
    77: "FA: invalid care-of address", 78: "FA: registration timeout",
    128: "reason unspecified", 129: "administratively prohibited",
    130: "insufficient resources", 131: "mobile node failed authentication",
    132: "foreign agent failed authentication",
    133: "registration Identification mismatch", 134: "poorly formed Request",
    135: "too many simultaneous mobility bindings",
    136: "unknown home agent address",
    137: "requested reverse tunnel unavailable",
    138: "reverse tunnel is mandatory and 'T' bit not set",
    139: "requested encapsulation unavailable",
}

# RFC 3519 §3.1.4: encapsulation numbers = IP protocol numbers.
UDP_ENCAPS = {"default": 0, "ipip": 4, "gre": 47, "minimal": 55}

NTP_UNIX_OFFSET = 2208988800   # seconds from 1900-01-01 to 1970-01-01


def code_str(code):
    return CODES.get(code, "unknown code")


def is_accepted(code):
    return code in (0, 1)


# --- time and Identification (RFC 5944 §5.7) -------------------------------

def ntp_now(t=None):
    """The 64-bit NTP timestamp: seconds since 1900 high, fraction low."""
    if t is None:
        t = time.time()
    sec = int(t // 1)
    frac = int((t - sec) * (1 << 32)) & 0xffffffff
    return (((sec + NTP_UNIX_OFFSET) & 0xffffffff) << 32) | frac


def ntp_to_unix(v):
    return ((v >> 32) - NTP_UNIX_OFFSET) + (v & 0xffffffff) / (1 << 32)


def flags_from_str(s):
    """'DT' -> F_D|F_T; letters of SBDMGrTx (case-sensitive for r/x)."""
    v = 0
    for ch in s or "":
        if ch in "-,| ":
            continue
        idx = FLAG_LETTERS.find(ch)
        if idx < 0:
            idx = FLAG_LETTERS.upper().find(ch.upper())
        if idx < 0:
            raise ValueError("unknown flag %r (use %s)" % (ch, FLAG_LETTERS))
        v |= 0x80 >> idx
    return v


def flags_to_str(v):
    return "".join(c for i, c in enumerate(FLAG_LETTERS) if v & (0x80 >> i))


# --- keys and authenticators (RFC 5944 §3.5.1, §5.1; RFC 2002) --------------

def parse_key(key):
    """A key as mipha.conf spells it: "0x" + hex, else the string's bytes."""
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    if key.startswith(("0x", "0X")):
        return bytes.fromhex(key[2:])
    return key.encode()


ALGORITHMS = ("hmac-md5", "keyed-md5", "hmac-sha256")


def auth_len(alg):
    return 32 if alg == "hmac-sha256" else 16


def compute_auth(alg, key, data):
    """Authenticator over `data` (everything up to and including the SPI)."""
    key = parse_key(key)
    if alg == "hmac-md5":                       # RFC 5944 default, RFC 2104
        return hmac.new(key, data, hashlib.md5).digest()
    if alg == "keyed-md5":                      # RFC 2002: MD5(key|data|key)
        return hashlib.md5(key + data + key).digest()
    if alg == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).digest()
    raise ValueError("unknown algorithm %r" % alg)


# --- extensions (RFC 5944 §1.9, §3.5) ---------------------------------------

class Ext:
    """An extension; encode() gets the message so far (for authenticators)."""

    def encode(self, before):
        raise NotImplementedError


class RawExt(Ext):
    """Type-Length-Data with an optional lying length and raw data."""

    def __init__(self, type_, data=b"", length=None):
        self.type, self.data, self.length = type_, bytes(data), length

    def encode(self, before):
        ln = len(self.data) if self.length is None else self.length
        return struct.pack("!BB", self.type, ln & 0xff) + self.data


class RawBytes(Ext):
    """Bytes appended verbatim (truncated headers, garbage)."""

    def __init__(self, data):
        self.data = bytes(data)

    def encode(self, before):
        return self.data


class NAIExt(Ext):
    """RFC 2794 §2: Mobile Node NAI extension (131)."""

    def __init__(self, nai, length=None):
        self.nai = nai.encode() if isinstance(nai, str) else bytes(nai)
        self.length = length

    def encode(self, before):
        ln = len(self.nai) if self.length is None else self.length
        return struct.pack("!BB", EXT_NAI, ln & 0xff) + self.nai


class UdpTunnelReq(Ext):
    """RFC 3519 §3.1: type 144, length 6, sub-type, F/R flags, encapsulation."""

    def __init__(self, encap=0, force=False, r=False, subtype=0,
                 reserved1=0, reserved3=0, length=6):
        if isinstance(encap, str):
            encap = UDP_ENCAPS[encap]
        self.encap, self.force, self.r = encap, force, r
        self.subtype, self.reserved1, self.reserved3 = subtype, reserved1, reserved3
        self.length = length

    def encode(self, before):
        fl = (0x80 if self.force else 0) | (0x40 if self.r else 0)
        body = struct.pack("!BBBBH", self.subtype, self.reserved1, fl,
                           self.encap, self.reserved3)
        if self.length < 6:
            body = body[:max(0, self.length)]
        else:
            body += b"\0" * (self.length - 6)
        return struct.pack("!BB", EXT_UDP_TUNNEL_REQ, self.length & 0xff) + body


class AuthExt(Ext):
    """§3.5.2-3.5.4: Type, Length = 4 + authenticator, SPI, Authenticator.

    corrupt:  flip a bit of the computed authenticator
    cover:    a function before-bytes -> bytes to authenticate instead of
              before + Type/Length/SPI (to cover the wrong bytes)
    auth:     use these authenticator bytes as they are
    auth_len: truncate the authenticator to this many bytes (the Length
              follows unless `length` is given)
    """

    def __init__(self, type_, spi, key, alg="hmac-md5", corrupt=False,
                 cover=None, auth=None, auth_len=None, length=None):
        self.type, self.spi, self.key, self.alg = type_, spi, key, alg
        self.corrupt, self.cover, self.auth = corrupt, cover, auth
        self.auth_len, self.length = auth_len, length

    def encode(self, before):
        n = auth_len(self.alg) if self.auth is None else len(self.auth)
        if self.auth_len is not None:
            n = self.auth_len
        ln = 4 + n if self.length is None else self.length
        hdr = struct.pack("!BBI", self.type, ln & 0xff, self.spi & 0xffffffff)
        if self.auth is not None:
            a = bytes(self.auth)
        else:
            data = self.cover(before) if self.cover else before + hdr
            a = compute_auth(self.alg, self.key, data)
        a = a[:n]
        if self.corrupt and a:
            a = bytes([a[0] ^ 0x01]) + a[1:]
        return hdr + a


def MnHaAuth(spi, key, alg="hmac-md5", **kw):
    return AuthExt(EXT_MN_HA, spi, key, alg, **kw)


def MnFaAuth(spi, key, alg="hmac-md5", **kw):
    return AuthExt(EXT_MN_FA, spi, key, alg, **kw)


def FaHaAuth(spi, key, alg="hmac-md5", **kw):
    return AuthExt(EXT_FA_HA, spi, key, alg, **kw)


def _aton(a):
    if isinstance(a, bytes) and len(a) == 4:
        return a
    return socket.inet_aton(a)


def build_fixed(type_, flags, lifetime, hoa, ha, coa, ident):
    """§3.3 fixed part: 24 bytes."""
    return struct.pack("!BBH4s4s4sQ", type_, flags & 0xff, lifetime & 0xffff,
                       _aton(hoa), _aton(ha), _aton(coa),
                       ident & 0xffffffffffffffff)


def build_rrq(flags=0, lifetime=600, hoa="0.0.0.0", ha="0.0.0.0",
              coa="0.0.0.0", ident=0, exts=(), type_=T_RRQ):
    msg = build_fixed(type_, flags, lifetime, hoa, ha, coa, ident)
    return append_exts(msg, exts)


def append_exts(msg, exts):
    for e in exts:
        msg += e.encode(msg)
    return msg


def build_rrp(code, lifetime, hoa, ha, ident, exts=()):
    """§3.4: for tests of the HA's rejection of replies."""
    msg = struct.pack("!BBH4s4sQ", T_RRP, code, lifetime & 0xffff,
                      _aton(hoa), _aton(ha), ident)
    return append_exts(msg, exts)


# --- decoding --------------------------------------------------------------

class ParsedExt:
    def __init__(self, type_, offset, data):
        self.type, self.offset, self.data = type_, offset, data

    @property
    def length(self):
        return len(self.data)

    @property
    def spi(self):
        return struct.unpack("!I", self.data[:4])[0] if len(self.data) >= 4 else None

    @property
    def authenticator(self):
        return self.data[4:]

    def to_json(self):
        d = {"type": self.type, "name": EXT_NAMES.get(self.type, "unknown"),
             "length": self.length}
        if self.type in AUTH_EXTS:
            d["spi"] = self.spi
            d["authenticator"] = self.authenticator.hex()
        elif self.type == EXT_NAI:
            d["nai"] = self.data.decode("utf-8", "replace")
        elif self.type == EXT_UDP_TUNNEL_REPLY and len(self.data) >= 6:
            sub, rc, fl, ka = struct.unpack("!BBHH", self.data[:6])
            d.update(subtype=sub, reply_code=rc, forced=bool(fl & 0x8000),
                     keepalive=ka)
        elif self.type == EXT_UDP_TUNNEL_REQ and len(self.data) >= 6:
            sub, _, fl, enc, r3 = struct.unpack("!BBBBH", self.data[:6])
            d.update(subtype=sub, force=bool(fl & 0x80), r=bool(fl & 0x40),
                     encapsulation=enc, reserved3=r3)
        else:
            d["data"] = self.data.hex()
        return d


def parse_exts(buf, start):
    """Type-Length-Data list from `start`; (exts, error or None)."""
    exts, off = [], start
    while off < len(buf):
        if off + 2 > len(buf):
            return exts, "extension header truncated at offset %d" % off
        t, ln = buf[off], buf[off + 1]
        if off + 2 + ln > len(buf):
            return exts, "extension %d data truncated at offset %d" % (t, off)
        exts.append(ParsedExt(t, off, buf[off + 2:off + 2 + ln]))
        off += 2 + ln
    return exts, None


class Message:
    """A decoded Registration Request or Reply."""

    def __init__(self, raw):
        self.raw = bytes(raw)
        self.error = None
        self.exts = []
        self.type = raw[0] if raw else None
        if self.type == T_RRP:
            if len(raw) < 20:
                self.error = "reply shorter than 20 bytes"
                return
            (self.type, self.code, self.lifetime, hoa, ha,
             self.ident) = struct.unpack("!BBH4s4sQ", raw[:20])
            self.hoa, self.ha = socket.inet_ntoa(hoa), socket.inet_ntoa(ha)
            self.flags, self.coa = None, None
            self.exts, self.error = parse_exts(raw, 20)
        elif self.type == T_RRQ:
            if len(raw) < 24:
                self.error = "request shorter than 24 bytes"
                return
            (self.type, self.flags, self.lifetime, hoa, ha, coa,
             self.ident) = struct.unpack("!BBH4s4s4sQ", raw[:24])
            self.hoa, self.ha = socket.inet_ntoa(hoa), socket.inet_ntoa(ha)
            self.coa, self.code = socket.inet_ntoa(coa), None
            self.exts, self.error = parse_exts(raw, 24)
        else:
            self.error = "not a registration message (type %r)" % self.type

    def ext(self, type_, nth=0):
        found = [e for e in self.exts if e.type == type_]
        return found[nth] if len(found) > nth else None

    def count(self, type_):
        return sum(1 for e in self.exts if e.type == type_)

    def verify(self, type_, key, alg="hmac-md5", spi=None, nth=0):
        """Check the nth extension of `type_`: covers the message up to and
        including its SPI (§3.5.1)."""
        e = self.ext(type_, nth)
        if e is None or e.length < 4:
            return False
        if spi is not None and e.spi != spi:
            return False
        covered = self.raw[:e.offset + 6]
        want = compute_auth(alg, key, covered)
        return hmac.compare_digest(want, e.authenticator)

    @property
    def nai(self):
        e = self.ext(EXT_NAI)
        return e.data.decode("utf-8", "replace") if e else None

    def to_json(self):
        d = {"type": self.type}
        if self.error:
            d["error"] = self.error
        if self.type == T_RRP and hasattr(self, "code"):
            d.update(code=self.code, code_text=code_str(self.code),
                     accepted=is_accepted(self.code))
        if hasattr(self, "hoa"):
            if self.type == T_RRQ:
                d["flags"] = flags_to_str(self.flags)
            d.update(lifetime=self.lifetime, home_address=self.hoa,
                     home_agent=self.ha)
            if self.type == T_RRQ:
                d["care_of_address"] = self.coa
            d["identification"] = "0x%016x" % self.ident
        d["extensions"] = [e.to_json() for e in self.exts]
        return d


def decode(raw):
    return Message(raw)


# --- network namespaces and sockets ---------------------------------------

CLONE_NEWNET = 0x40000000
_libc = None


def _setns(fd):
    global _libc
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


@contextmanager
def netns(name):
    """Run the body in network namespace `name` (/run/netns/NAME or a path);
    sockets created inside stay in that namespace."""
    if not name:
        yield
        return
    path = name if "/" in name else "/run/netns/" + name
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(path, os.O_RDONLY)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(fd)
        os.close(own)


IP_FREEBIND = 15


def udp_socket(src="", sport=0, ns=None, freebind=False, rcvbuf=None):
    """A UDP socket bound to (src, sport), created in namespace `ns`."""
    with netns(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if freebind:
        s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((src or "", sport))
    return s


def recv_until(sock, match, timeout):
    """Receive datagrams until match(data, addr) is true or time is up.
    Returns (data, addr) or (None, None). Non-matching ones are dropped."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None, None
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return None, None
        try:
            data, addr = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionRefusedError:
            continue            # ICMP port unreachable from an earlier send
        if match(data, addr):
            return data, addr


# --- the mobile node -------------------------------------------------------

class Reply(Message):
    """A reply with what the node checked (§3.6.2.1)."""

    def __init__(self, raw, src=None, request=None, mn=None, fa=None):
        super().__init__(raw)
        self.src = src
        self.request_ident = request
        self.mn_ha_valid = None
        self.fa_ha_valid = None
        self.id_matches = None
        if self.error or self.type != T_RRP:
            return
        if request is not None:
            self.id_matches = (self.ident & 0xffffffff) == (request & 0xffffffff)
        if mn is not None:
            self.mn_ha_valid = self.verify(EXT_MN_HA, mn.key, mn.alg, mn.spi)
        if fa is not None:
            self.fa_ha_valid = self.verify(EXT_FA_HA, fa.key, fa.alg, fa.spi)

    @property
    def accepted(self):
        return self.type == T_RRP and is_accepted(self.code)

    def to_json(self):
        d = super().to_json()
        if self.src:
            d["from"] = "%s:%d" % self.src
        for k in ("mn_ha_valid", "fa_ha_valid", "id_matches"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.type == T_RRP and self.request_ident is not None:
            d["request_identification"] = "0x%016x" % self.request_ident
        return d


class MobileNode:
    """One mobile node and its Mobility Security Association with the HA.

    replay: "timestamp" (§5.7.1) or "nonce" (§5.7.2). In nonce mode the
    high 32 bits of the next Identification are the HA's nonce from the last
    authenticated reply (self.ha_nonce); the first request carries a random
    one and is expected to be refused with 133, which hands out the nonce.
    """

    def __init__(self, ha, hoa="0.0.0.0", spi=256, key=b"", alg="hmac-md5",
                 replay="timestamp", nai=None, sock=None, src="", sport=0,
                 ns=None, ha_port=MIP_PORT):
        self.ha, self.hoa, self.spi, self.key, self.alg = ha, hoa, spi, key, alg
        self.replay, self.nai = replay, nai
        self.ha_port = ha_port
        self.sock = sock
        self._sock_args = (src, sport, ns)
        self.last_id = 0
        self.ha_nonce = None
        self.clock_offset = 0.0     # from a 133 in timestamp mode
        self.last_reply = None
        self.last_request = None
        self.assigned_hoa = None    # RFC 2794: what the HA gave us

    def socket(self):
        if self.sock is None:
            src, sport, ns = self._sock_args
            self.sock = udp_socket(src, sport, ns)
        return self.sock

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def next_id(self):
        """A fresh Identification for the configured replay method."""
        if self.replay == "nonce":
            hi = self.ha_nonce if self.ha_nonce is not None else \
                random.getrandbits(32)
            lo = random.getrandbits(32)
            while (lo == (self.last_id & 0xffffffff)):
                lo = random.getrandbits(32)
            v = (hi << 32) | lo
        else:
            v = ntp_now(time.time() + self.clock_offset)
            if v <= self.last_id:
                v = self.last_id + 1
        return v

    def build(self, coa, lifetime=600, flags=F_D, ident=None, hoa=None,
              ha=None, nai=None, pre_exts=(), post_exts=(), auth=None,
              udp_tunnel=None, with_auth=True):
        """The request bytes and its Identification.

        pre_exts go before the NAI/UDP-tunnel/MN-HA extensions, post_exts
        after the MN-HA extension (where an FA puts its own). `auth` replaces
        the MN-HA extension (an AuthExt), with_auth=False leaves it out.
        """
        if ident is None:
            ident = self.next_id()
        if hoa is None:
            hoa = self.hoa
        if nai is None:
            nai = self.nai
        exts = list(pre_exts)
        if nai:
            exts.append(NAIExt(nai))
        if udp_tunnel is not None:
            exts.append(udp_tunnel if isinstance(udp_tunnel, Ext)
                        else UdpTunnelReq(encap=udp_tunnel))
        if with_auth:
            exts.append(auth if auth is not None else
                        MnHaAuth(self.spi, self.key, self.alg))
        exts.extend(post_exts)
        msg = build_rrq(flags, lifetime, hoa, ha or self.ha, coa, ident, exts)
        return msg, ident

    def note_sent(self, ident):
        if self.replay != "nonce" and ident > self.last_id:
            self.last_id = ident
        elif self.replay == "nonce":
            self.last_id = ident

    def handle_reply(self, raw, src, ident, fa=None):
        rep = Reply(raw, src, ident, self, fa)
        if rep.type == T_RRP and not rep.error and rep.mn_ha_valid and \
                rep.id_matches:
            self.last_reply = rep
            if self.replay == "nonce":
                # §5.7.2: the high half is the HA's nonce for the next one.
                self.ha_nonce = rep.ident >> 32
            elif rep.code == 133:
                # §5.7.1: the high half is the HA's time of day.
                # Only a real difference: the reply has whole seconds.
                off = ntp_to_unix(rep.ident & 0xffffffff00000000) - time.time()
                if abs(off) > 2:
                    self.clock_offset = off
            if rep.accepted and rep.hoa != "0.0.0.0" and self.nai:
                self.assigned_hoa = rep.hoa
        return rep

    def send(self, msg, dst=None):
        s = self.socket()
        s.sendto(msg, dst or (self.ha, self.ha_port))

    def request(self, msg, ident, timeout=2.0, retries=0, dst=None, fa=None,
                track=True):
        """Send a built request and wait for the reply matching its low 32
        Identification bits; None when nothing came back. track=False: the
        Identification was chosen by the caller (a test) and does not move
        the node's sequence."""
        s = self.socket()
        self.last_request = msg
        for _ in range(retries + 1):
            self.send(msg, dst)
            if track:
                self.note_sent(ident)
            data, addr = recv_until(
                s, lambda d, a: len(d) >= 20 and d[0] == T_RRP and
                struct.unpack("!Q", d[12:20])[0] & 0xffffffff ==
                ident & 0xffffffff, timeout)
            if data is not None:
                return self.handle_reply(data, addr, ident, fa)
        return None

    def register(self, coa, lifetime=600, flags=F_D, timeout=2.0, retries=0,
                 dst=None, fa=None, **kw):
        track = kw.get("ident") is None
        msg, ident = self.build(coa, lifetime, flags, **kw)
        return self.request(msg, ident, timeout, retries, dst, fa, track)

    def deregister(self, coa=None, flags=F_D, **kw):
        """Lifetime 0; coa None = the home address (all bindings, §3.8.2.2)."""
        hoa = kw.get("hoa") or self.hoa
        if hoa == "0.0.0.0" and self.assigned_hoa:
            hoa = kw["hoa"] = self.assigned_hoa
        return self.register(coa or hoa, 0, flags, **kw)


# --- the foreign agent -----------------------------------------------------

class ForeignAgent:
    """A foreign agent with (optionally) an FA-HA security association.

    relay() sends a mobile node's request to the HA from the FA's address,
    appending the FA-HA extension (§3.7.2.2, §3.5.4) unless told not to or
    the request is a deregistration.
    """

    def __init__(self, address, spi=None, key=None, alg="hmac-md5", sock=None,
                 sport=0, ns=None, ha_port=MIP_PORT):
        self.address, self.spi, self.key, self.alg = address, spi, key, alg
        self.ha_port = ha_port
        self.sock = sock
        self.last_request = None
        self._sock_args = (address, sport, ns)

    def socket(self):
        if self.sock is None:
            src, sport, ns = self._sock_args
            self.sock = udp_socket(src, sport, ns)
        return self.sock

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def fa_ha(self, **kw):
        return FaHaAuth(self.spi, self.key, self.alg, **kw)

    def with_fa_ha(self, msg, **kw):
        return append_exts(msg, [self.fa_ha(**kw)])

    def relay(self, msg, ha, add_fa_ha=None, extra=(), timeout=2.0, mn=None):
        """Relay `msg` to `ha`; returns the reply (checked with the FA SA and,
        given `mn`, the node's) or None."""
        if add_fa_ha is None:
            lifetime = struct.unpack("!H", msg[2:4])[0]
            add_fa_ha = self.spi is not None and lifetime != 0
        msg = append_exts(msg, list(extra) + ([self.fa_ha()] if add_fa_ha else []))
        ident = struct.unpack("!Q", msg[16:24])[0]
        self.last_request = msg
        if mn is not None:
            mn.last_request = msg
            if ident > mn.last_id or mn.replay == "nonce":
                mn.note_sent(ident)
        s = self.socket()
        s.sendto(msg, (ha, self.ha_port))
        data, addr = recv_until(
            s, lambda d, a: len(d) >= 20 and d[0] == T_RRP and
            struct.unpack("!Q", d[12:20])[0] & 0xffffffff == ident & 0xffffffff,
            timeout)
        if data is None:
            return None
        if mn is not None:
            return mn.handle_reply(data, addr, ident, self if self.spi else None)
        return Reply(data, addr, ident, None, self if self.spi else None)

    def serve(self, ha, listen_port=MIP_PORT, verbose=True, once=False):
        """A minimal relaying FA (§3.7.2, §3.7.3): requests from mobile nodes
        on `listen_port` go to the HA with FA-HA; replies go back to the node
        with the FA-HA extension checked and removed."""
        s_mn = udp_socket(self.address, listen_port, self._sock_args[2])
        s_ha = self.socket()
        pending = {}        # (hoa, low32 id) -> (mn addr, time)
        while True:
            r, _, _ = select.select([s_mn, s_ha], [], [], 1.0)
            now = time.monotonic()
            for k in [k for k, v in pending.items() if now - v[1] > 30]:
                del pending[k]
            if s_mn in r:
                data, addr = s_mn.recvfrom(65535)
                q = Message(data)
                if q.type != T_RRQ or q.error:
                    continue
                lifetime_zero = q.lifetime == 0
                out = data
                if self.spi is not None and not lifetime_zero:
                    out = self.with_fa_ha(data)
                pending[(q.hoa, q.ident & 0xffffffff, q.nai)] = (addr, now)
                s_ha.sendto(out, (q.ha, self.ha_port))
                if verbose:
                    print(json.dumps({"relayed": q.to_json(), "from": addr[0]}),
                          flush=True)
            if s_ha in r:
                data, addr = s_ha.recvfrom(65535)
                p = Message(data)
                if p.type != T_RRP or p.error:
                    continue
                key = None
                for k in pending:
                    if k[1] == p.ident & 0xffffffff and \
                            (k[0] == p.hoa or k[0] == "0.0.0.0"):
                        key = k
                        break
                if key is None:
                    continue
                fa_ok = None
                if self.spi is not None:
                    fa_ok = p.verify(EXT_FA_HA, self.key, self.alg, self.spi)
                    if not fa_ok:
                        if verbose:
                            print(json.dumps({"dropped_reply": p.to_json(),
                                              "reason": "bad FA-HA"}), flush=True)
                        continue
                # §3.7.3.2: strip what was for the FA (FA-HA and after).
                e = p.ext(EXT_FA_HA)
                out = data[:e.offset] if e is not None else data
                s_mn.sendto(out, pending.pop(key)[0])
                if verbose:
                    print(json.dumps({"reply": p.to_json(), "fa_ha_valid": fa_ok}),
                          flush=True)
                if once:
                    return


# --- command line ----------------------------------------------------------

def _add_common(p):
    p.add_argument("--ha", required=True, help="home agent address")
    p.add_argument("--ha-port", type=int, default=MIP_PORT)
    p.add_argument("--hoa", default="0.0.0.0", help="home address (0.0.0.0 with --nai: assign)")
    p.add_argument("--coa", help="care-of address (default: --src, or the HoA to deregister)")
    p.add_argument("--spi", type=int, required=True)
    p.add_argument("--key", required=True, help='"0x" + hex, or a string')
    p.add_argument("--alg", default="hmac-md5", choices=ALGORITHMS)
    p.add_argument("--lifetime", type=int, default=600)
    p.add_argument("--flags", default=None,
                   help="letters of SBDMGrTx (default D, or none with --fa-*)")
    p.add_argument("--nai", help="NAI extension (RFC 2794)")
    p.add_argument("--udp-tunnel", metavar="ENCAP",
                   help="UDP Tunnel Request (RFC 3519): default|ipip|gre|minimal|NUMBER")
    p.add_argument("--force", action="store_true", help="F flag of the UDP Tunnel Request")
    p.add_argument("--id", help="Identification (hex or decimal; default per --replay)")
    p.add_argument("--replay", default="timestamp", choices=("timestamp", "nonce"))
    p.add_argument("--state", help="file keeping the HA nonce / last Identification between runs")
    p.add_argument("--src", default="", help="source address to send from")
    p.add_argument("--sport", type=int, default=0, help="source port")
    p.add_argument("--netns", help="send from this network namespace")
    p.add_argument("--via", metavar="FA",
                   help="send to this foreign agent (port 434) instead of the HA")
    p.add_argument("--fa-spi", type=int, help="act as FA: append FA-HA with this SPI")
    p.add_argument("--fa-key", help="FA-HA key")
    p.add_argument("--fa-alg", default="hmac-md5", choices=ALGORITHMS)
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--raw-ext", action="append", default=[], metavar="TYPE:HEX",
                   help="an extra extension before MN-HA (repeatable)")
    p.add_argument("--corrupt", action="store_true", help="flip a bit of the MN-HA authenticator")


def _mn_from_args(a):
    mn = MobileNode(a.ha, a.hoa, a.spi, a.key, a.alg, a.replay, a.nai,
                    src=a.src, sport=a.sport, ns=a.netns, ha_port=a.ha_port)
    if a.state and os.path.exists(a.state):
        with open(a.state) as f:
            st = json.load(f)
        mn.ha_nonce = st.get("ha_nonce")
        mn.last_id = int(st.get("last_id", "0"), 0)
        mn.clock_offset = st.get("clock_offset", 0.0)
    return mn


def _save_state(a, mn):
    if a.state:
        with open(a.state, "w") as f:
            json.dump({"ha_nonce": mn.ha_nonce, "last_id": "0x%x" % mn.last_id,
                       "clock_offset": mn.clock_offset}, f)


def _build_from_args(a, mn, dereg=False):
    coa = a.coa
    if coa is None:
        coa = a.hoa if dereg else (a.src or None)
    if coa is None:
        raise SystemExit("mipnode: --coa is needed (or --src)")
    fa = a.fa_spi is not None
    flags = flags_from_str(a.flags) if a.flags is not None else (0 if fa else F_D)
    pre = []
    for r in a.raw_ext:
        t, _, h = r.partition(":")
        pre.append(RawExt(int(t, 0), bytes.fromhex(h)))
    udp = None
    if a.udp_tunnel is not None:
        enc = UDP_ENCAPS.get(a.udp_tunnel)
        if enc is None:
            enc = int(a.udp_tunnel, 0)
        udp = UdpTunnelReq(encap=enc, force=a.force)
    ident = int(a.id, 0) if a.id else None
    auth = MnHaAuth(mn.spi, mn.key, mn.alg, corrupt=True) if a.corrupt else None
    msg, ident = mn.build(coa, 0 if dereg else a.lifetime, flags, ident=ident,
                          pre_exts=pre, udp_tunnel=udp, auth=auth)
    if fa and not dereg:
        msg = append_exts(msg, [FaHaAuth(a.fa_spi, a.fa_key, a.fa_alg)])
    return msg, ident


def _cmd_register(a, dereg=False):
    mn = _mn_from_args(a)
    fa = ForeignAgent(a.src, a.fa_spi, a.fa_key, a.fa_alg) if a.fa_spi else None
    rep = None
    for attempt in range(a.retries + 1):
        msg, ident = _build_from_args(a, mn, dereg)
        dst = (a.via, MIP_PORT) if a.via else None
        rep = mn.request(msg, ident, a.timeout, 0, dst=dst, fa=fa)
        if rep is None:
            continue
        # One automatic resynchronisation (nonce or clock) after a 133.
        if rep.code == 133 and rep.mn_ha_valid and attempt == 0 and not a.id:
            continue
        break
    _save_state(a, mn)
    if rep is None:
        print(json.dumps({"error": "no reply", "request": Message(msg).to_json()}))
        return 3
    d = rep.to_json()
    print(json.dumps(d, indent=1))
    if rep.type != T_RRP or not rep.mn_ha_valid or rep.id_matches is False or \
            (fa is not None and rep.accepted and not rep.fa_ha_valid):
        return 4
    return 0 if rep.accepted else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="mipnode.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, hlp in (("register", "register and print the reply as JSON"),
                      ("deregister", "deregister (lifetime 0)"),
                      ("build", "print the request as hex, send nothing")):
        p = sub.add_parser(name, help=hlp)
        _add_common(p)
    p = sub.add_parser("decode", help="decode a request or reply given as hex")
    p.add_argument("hex")
    p = sub.add_parser("fa", help="run a relaying foreign agent")
    p.add_argument("--listen", required=True, help="FA address (care-of address)")
    p.add_argument("--port", type=int, default=MIP_PORT)
    p.add_argument("--ha-port", type=int, default=MIP_PORT)
    p.add_argument("--ha", required=False, help="(unused: the request's HA field is used)")
    p.add_argument("--spi", type=int)
    p.add_argument("--key")
    p.add_argument("--alg", default="hmac-md5", choices=ALGORITHMS)
    p.add_argument("--netns")
    a = ap.parse_args(argv)

    if a.cmd == "decode":
        print(json.dumps(Message(bytes.fromhex(a.hex)).to_json(), indent=1))
        return 0
    if a.cmd == "build":
        mn = _mn_from_args(a)
        msg, _ = _build_from_args(a, mn)
        print(msg.hex())
        return 0
    if a.cmd == "fa":
        fa = ForeignAgent(a.listen, a.spi, a.key, a.alg, ns=a.netns,
                          ha_port=a.ha_port)
        try:
            fa.serve(None, a.port)
        except KeyboardInterrupt:
            pass
        return 0
    try:
        return _cmd_register(a, dereg=(a.cmd == "deregister"))
    except OSError as e:
        print("mipnode: %s" % e, file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
