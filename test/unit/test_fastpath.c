/*
 * test_fastpath.c - the tc/eBPF fast path's programs (ha/fastpath.bpf.c),
 * run by the kernel on crafted packets with BPF_PROG_TEST_RUN.
 *
 * The object under test is the one linked into the daemon. The test enters
 * a network namespace of its own (unshare), so the FIB lookups of
 * fp_forward see only what it sets up there: a TUN device standing for a
 * tenant's device, and a veth pair towards the care-of addresses with
 * permanent neighbours. The namespace, and everything in it, goes with the
 * process. Needs root (CAP_BPF, CAP_NET_ADMIN); exits 77 without.
 *
 * Every verdict is either TC_ACT_REDIRECT with the packet rewritten, or
 * TC_ACT_OK with the packet untouched (handed to the userspace path):
 * both are checked byte for byte.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <check.h>

#include "fastpath_maps.h"

extern const unsigned char mipha_fastpath_obj[];
extern const unsigned long mipha_fastpath_obj_size;

#define HA	"198.51.100.1"
#define COA	"198.51.100.20"
#define COA_NONEIGH "198.51.100.30"
#define GW	"203.0.113.10"
#define HOA	"198.18.10.5"
#define HOA_GRE	"198.18.10.6"
#define HOA_OPEN "198.18.10.7"
#define HOA_NOT	"198.18.10.8"		/* no reverse tunnelling */
#define HOA_SMALL "198.18.10.9"		/* path MTU 1400 */
#define HOA_NONEIGH "198.18.10.10"
#define HOA_UDP	"198.18.10.11"		/* behind a NAT: RFC 3519 */
#define NAT	"198.51.100.20"		/* the NAT's public address (= COA's MAC) */
#define NAT_PORT 40000
#define OTHER	"203.0.113.99"
#define COA_MAC	"\x02\x00\x00\x00\x00\x20"

static struct bpf_object *obj;
static int prog_fwd, prog_rev, map_bind, map_stats;
static int tun_ifindex, veth_ifindex;

static uint32_t
A(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

static uint16_t
csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Recompute the checksum of the 20-octet header at p after an edit. */
static void
fix_csum(uint8_t *p)
{
	uint16_t c;

	p[10] = p[11] = 0;
	c = csum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
}

/* An IPv4 header at p (20 octets) with a valid checksum. */
static void
ip_hdr(uint8_t *p, uint8_t proto, const char *src, const char *dst,
    size_t tot_len, uint8_t ttl, uint16_t frag, uint8_t tos)
{
	uint32_t s = A(src), d = A(dst);

	memset(p, 0, 20);
	p[0] = 0x45;
	p[1] = tos;
	p[2] = (uint8_t)(tot_len >> 8);
	p[3] = (uint8_t)tot_len;
	p[4] = 0x12;
	p[5] = 0x34;
	p[6] = (uint8_t)(frag >> 8);
	p[7] = (uint8_t)frag;
	p[8] = ttl;
	p[9] = proto;
	memcpy(p + 12, &s, 4);
	memcpy(p + 16, &d, 4);
	fix_csum(p);
}

/*
 * An inner datagram of `len` octets: ESP (50) gets an SPI and a pattern,
 * UDP (17) the given ports, TCP (6) a 20-octet header.
 */
static size_t
inner(uint8_t *p, uint8_t proto, const char *src, const char *dst,
    size_t len, uint16_t sport, uint16_t dport, uint16_t frag)
{
	ip_hdr(p, proto, src, dst, len, 63, frag, 0x28);
	for (size_t i = 20; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	if (proto == 17 || proto == 6) {
		p[20] = (uint8_t)(sport >> 8);
		p[21] = (uint8_t)sport;
		p[22] = (uint8_t)(dport >> 8);
		p[23] = (uint8_t)dport;
		if (proto == 6)
			p[32] = 0x50;	/* data offset 5 */
	}
	return len;
}

/* Run `prog` on frame[0, len); returns the verdict, out/outlen the result. */
static int
run(int prog, int ifindex, const uint8_t *frame, size_t len, uint8_t *out,
    uint32_t *outlen)
{
	struct __sk_buff ctx;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o);
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.ifindex = (uint32_t)ifindex;
	o.data_in = frame;
	o.data_size_in = (uint32_t)len;
	o.data_out = out;
	o.data_size_out = *outlen;
	o.ctx_in = &ctx;
	o.ctx_size_in = sizeof(ctx);
	rc = bpf_prog_test_run_opts(prog, &o);
	ck_assert_msg(rc == 0, "BPF_PROG_TEST_RUN: %s", strerror(errno));
	*outlen = o.data_size_out;
	return (int)o.retval;
}

/*
 * The test run takes a frame with an Ethernet header; on the TUN device
 * (no link-layer header) the program sees the datagram after it.
 */
static size_t
frame(uint8_t *f, const uint8_t *pkt, size_t len)
{
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	memcpy(f + 14, pkt, len);
	return len + 14;
}

static void
put(const char *hoa, const char *coa, uint8_t encap, uint8_t flags,
    uint16_t mtu, int ifindex)
{
	struct fp_binding v;
	uint32_t k = A(hoa);

	memset(&v, 0, sizeof(v));
	if (encap == FP_ENCAP_UDP) {
		/* The CoA is the node's private address; the peer the NAT. */
		v.peer = A(NAT);
		v.peer_port = htons(NAT_PORT);
	}
	v.coa = A(coa);
	v.gateway = A(GW);
	v.tenant_id = 1;
	v.tun_ifindex = (uint32_t)ifindex;
	v.mtu = mtu;
	v.encap = encap;
	v.flags = flags;
	ck_assert_int_eq(bpf_map_update_elem(map_bind, &k, &v, BPF_ANY), 0);
}

static struct fp_counters
stats(uint32_t tenant)
{
	struct fp_counters v[512], sum;
	int n = libbpf_num_possible_cpus();

	memset(&sum, 0, sizeof(sum));
	ck_assert_int_le(n, 512);
	ck_assert_int_eq(bpf_map_lookup_elem(map_stats, &tenant, v), 0);
	for (int i = 0; i < n; i++) {
		sum.fwd_packets += v[i].fwd_packets;
		sum.fwd_bytes += v[i].fwd_bytes;
		sum.rev_packets += v[i].rev_packets;
		sum.rev_bytes += v[i].rev_bytes;
		sum.fwd_slow += v[i].fwd_slow;
		sum.rev_slow += v[i].rev_slow;
	}
	return sum;
}

static void
setup(void)
{
	/* Every test starts from the same map. */
	put(HOA, COA, FP_ENCAP_IPIP, FP_F_REVERSE | FP_F_VPN_ONLY, 1500,
	    tun_ifindex);
	put(HOA_GRE, COA, FP_ENCAP_GRE, FP_F_REVERSE | FP_F_VPN_ONLY, 1500,
	    tun_ifindex);
	put(HOA_OPEN, COA, FP_ENCAP_IPIP, FP_F_REVERSE, 1500, tun_ifindex);
	put(HOA_NOT, COA, FP_ENCAP_IPIP, FP_F_VPN_ONLY, 1500, tun_ifindex);
	put(HOA_SMALL, COA, FP_ENCAP_IPIP, FP_F_REVERSE | FP_F_VPN_ONLY, 1400,
	    tun_ifindex);
	put(HOA_NONEIGH, COA_NONEIGH, FP_ENCAP_IPIP,
	    FP_F_REVERSE | FP_F_VPN_ONLY, 1500, tun_ifindex);
	put(HOA_UDP, "10.0.0.5", FP_ENCAP_UDP, FP_F_REVERSE | FP_F_VPN_ONLY,
	    1500, tun_ifindex);
}

/* ---- forward ---- */

/* Expect fp_forward to leave pkt to userspace, untouched. */
static void
fwd_passes(const uint8_t *pkt, size_t len, int ifindex, const char *why)
{
	uint8_t f[2048], out[2100];
	uint32_t outlen = sizeof(out);
	size_t flen = frame(f, pkt, len);

	ck_assert_msg(run(prog_fwd, ifindex, f, flen, out, &outlen) == TC_ACT_OK,
	    "%s: not handed to userspace", why);
	ck_assert_msg(outlen == flen && memcmp(out, f, flen) == 0,
	    "%s: the packet was changed", why);
}

/* Expect fp_forward to encapsulate (any encapsulation). */
static void
fwd_passes_not(const uint8_t *pkt, size_t len)
{
	uint8_t f[2048], out[2100];
	uint32_t outlen = sizeof(out);
	size_t flen = frame(f, pkt, len);

	ck_assert_int_eq(run(prog_fwd, tun_ifindex, f, flen, out, &outlen),
	    TC_ACT_REDIRECT);
}

/* Expect fp_forward to encapsulate for COA; check the result. */
static void
fwd_encaps(const uint8_t *pkt, size_t len, uint8_t proto, size_t ovh,
    const char *why)
{
	uint8_t f[2048], out[2100];
	uint32_t outlen = sizeof(out);
	size_t flen = frame(f, pkt, len);
	const uint8_t *o = out + 14;
	uint32_t src, dst;

	int v = run(prog_fwd, tun_ifindex, f, flen, out, &outlen);

	ck_assert_msg(v == TC_ACT_REDIRECT, "%s: not redirected (%d, %u octets)",
	    why, v, outlen);
	ck_assert_uint_eq(outlen, 14 + ovh + len);
	/* The egress link's header: the CoA's neighbour, IPv4. */
	ck_assert(memcmp(out, COA_MAC, 6) == 0);
	ck_assert(out[12] == 0x08 && out[13] == 0x00);
	/* RFC 2003 §3.1 outer header. */
	ck_assert_uint_eq(o[0], 0x45);
	ck_assert_uint_eq(o[1], pkt[1]);			/* TOS copied */
	ck_assert_uint_eq((size_t)(o[2] << 8 | o[3]), ovh + len);
	ck_assert_uint_eq(o[6] & 0x40, pkt[6] & 0x40);	/* DF copied */
	ck_assert_uint_eq(o[6] & 0x3f, 0);
	ck_assert_uint_eq(o[7], 0);
	ck_assert_uint_eq(o[8], 64);
	ck_assert_uint_eq(o[9], proto);
	ck_assert_uint_eq(csum(o, 20), 0);
	memcpy(&src, o + 12, 4);
	memcpy(&dst, o + 16, 4);
	ck_assert_uint_eq(src, A(HA));
	ck_assert_uint_eq(dst, A(COA));
	if (proto == 47)
		ck_assert(memcmp(o + 20, "\x00\x00\x08\x00", 4) == 0);
	/* The inner datagram, byte for byte. */
	ck_assert_msg(memcmp(o + ovh, pkt, len) == 0, "%s: inner changed", why);
}

START_TEST(forward_ipip_esp)
{
	uint8_t p[1600];
	struct fp_counters before = stats(1), after;
	size_t n = inner(p, 50, GW, HOA, 120, 0, 0, 0x4000);

	fwd_encaps(p, n, 4, 20, "ESP, DF");
	n = inner(p, 50, GW, HOA, 121, 0, 0, 0);
	fwd_encaps(p, n, 4, 20, "ESP, no DF");
	after = stats(1);
	ck_assert_uint_eq(after.fwd_packets - before.fwd_packets, 2);
	ck_assert_uint_eq(after.fwd_bytes - before.fwd_bytes, 241);
}
END_TEST

START_TEST(forward_gre)
{
	uint8_t p[1600];
	size_t n = inner(p, 50, GW, HOA_GRE, 200, 0, 0, 0x4000);

	fwd_encaps(p, n, 47, 24, "ESP in GRE");
}
END_TEST

START_TEST(forward_udp)
{
	uint8_t p[1600], f[2048], out[2100];
	uint32_t outlen = sizeof(out), src, dst;
	size_t n = inner(p, 50, GW, HOA_UDP, 300, 0, 0, 0x4000);
	size_t flen = frame(f, p, n);
	const uint8_t *o = out + 14, *u = out + 34;

	ck_assert_int_eq(run(prog_fwd, tun_ifindex, f, flen, out, &outlen),
	    TC_ACT_REDIRECT);
	ck_assert_uint_eq(outlen, 14 + 32 + n);
	ck_assert(memcmp(out, COA_MAC, 6) == 0);	/* the NAT's neighbour */
	ck_assert_uint_eq(o[9], 17);
	ck_assert_uint_eq(o[6] & 0x40, 0x40);		/* DF copied */
	ck_assert_uint_eq(csum(o, 20), 0);
	memcpy(&src, o + 12, 4);
	memcpy(&dst, o + 16, 4);
	ck_assert_uint_eq(src, A(HA));
	ck_assert_uint_eq(dst, A(NAT));
	/* RFC 3519 §4.3: from port 434 to the NAT's mapping. */
	ck_assert_uint_eq((unsigned)(u[0] << 8 | u[1]), 434);
	ck_assert_uint_eq((unsigned)(u[2] << 8 | u[3]), NAT_PORT);
	ck_assert_uint_eq((size_t)(u[4] << 8 | u[5]), 8 + 4 + n);
	ck_assert_uint_eq(u[6] | u[7], 0);		/* no checksum */
	/* §3.3: Type 4, Next Header 4, Reserved 0. */
	ck_assert(memcmp(u + 8, "\x04\x04\x00\x00", 4) == 0);
	ck_assert(memcmp(u + 12, p, n) == 0);
	/* 1468 + 32 fits; 1469 is the userspace path's. */
	n = inner(p, 50, GW, HOA_UDP, 1468, 0, 0, 0x4000);
	fwd_passes_not(p, n);
	n = inner(p, 50, GW, HOA_UDP, 1469, 0, 0, 0x4000);
	fwd_passes(p, n, tun_ifindex, "1469 octets in UDP");
}
END_TEST

START_TEST(forward_vpn_only)
{
	uint8_t p[1600];
	size_t n;

	n = inner(p, 17, GW, HOA, 100, 4500, 4500, 0);
	fwd_encaps(p, n, 4, 20, "UDP-ESP from 4500");
	n = inner(p, 17, GW, HOA, 100, 500, 500, 0);
	fwd_encaps(p, n, 4, 20, "IKE from 500");
	n = inner(p, 17, GW, HOA, 100, 9999, 4500, 0);
	fwd_passes(p, n, tun_ifindex, "UDP from port 9999");
	n = inner(p, 6, GW, HOA, 100, 4500, 4500, 0);
	fwd_passes(p, n, tun_ifindex, "TCP from the gateway");
	n = inner(p, 1, GW, HOA, 100, 0, 0, 0);
	fwd_passes(p, n, tun_ifindex, "ICMP (userspace judges ICMP)");
	n = inner(p, 50, OTHER, HOA, 100, 0, 0, 0);
	fwd_passes(p, n, tun_ifindex, "ESP not from the gateway");
	/* policy "open": anything */
	n = inner(p, 6, OTHER, HOA_OPEN, 100, 1234, 80, 0);
	fwd_encaps(p, n, 4, 20, "TCP under policy open");
}
END_TEST

START_TEST(forward_leaves_to_userspace)
{
	uint8_t p[1600];
	struct fp_counters before = stats(0), after;
	int other_tun = (int)if_nametoindex("fptun2");
	size_t n;

	ck_assert_int_gt(other_tun, 0);
	n = inner(p, 50, GW, "198.18.10.99", 100, 0, 0, 0);
	fwd_passes(p, n, tun_ifindex, "no entry");
	n = inner(p, 50, GW, HOA, 100, 0, 0, 0);
	fwd_passes(p, n, other_tun, "another tenant's device");
	n = inner(p, 50, COA, HOA_OPEN, 100, 0, 0, 0);
	fwd_passes(p, n, tun_ifindex, "from the care-of address (RFC 2003 §3.2)");
	n = inner(p, 50, GW, HOA, 100, 0, 0, 0x2000);
	fwd_passes(p, n, tun_ifindex, "a first fragment");
	n = inner(p, 50, GW, HOA, 100, 0, 0, 0x0010);
	fwd_passes(p, n, tun_ifindex, "a later fragment");
	n = inner(p, 50, GW, HOA_NONEIGH, 100, 0, 0, 0);
	fwd_passes(p, n, tun_ifindex, "care-of address without a neighbour");
	after = stats(0);
	ck_assert_uint_eq(after.fwd_slow - before.fwd_slow, 6);
}
END_TEST

START_TEST(forward_mtu)
{
	uint8_t p[1600];
	size_t n;

	/* 1480 + 20 fits the 1500 link; 1481 is the userspace path's. */
	n = inner(p, 50, GW, HOA, 1480, 0, 0, 0x4000);
	fwd_encaps(p, n, 4, 20, "1480 octets in IP-in-IP");
	n = inner(p, 50, GW, HOA, 1481, 0, 0, 0x4000);
	fwd_passes(p, n, tun_ifindex, "1481 octets in IP-in-IP");
	n = inner(p, 50, GW, HOA_GRE, 1477, 0, 0, 0x4000);
	fwd_passes(p, n, tun_ifindex, "1477 octets in GRE");
	/* The binding's own path MTU (RFC 2003 §5.1 soft state). */
	n = inner(p, 50, GW, HOA_SMALL, 1380, 0, 0, 0x4000);
	fwd_encaps(p, n, 4, 20, "1380 octets under path MTU 1400");
	n = inner(p, 50, GW, HOA_SMALL, 1381, 0, 0, 0);
	fwd_passes(p, n, tun_ifindex, "1381 octets under path MTU 1400");
}
END_TEST

START_TEST(forward_malformed)
{
	uint8_t p[1600];
	size_t n = inner(p, 50, GW, HOA, 100, 0, 0, 0);

	p[0] = 0x46;	/* options */
	fwd_passes(p, n, tun_ifindex, "IHL 6");
	n = inner(p, 50, GW, HOA, 100, 0, 0, 0);
	p[3] = 99;	/* total length below the datagram */
	fwd_passes(p, n, tun_ifindex, "total length 99 of 100");
	n = inner(p, 50, GW, HOA, 100, 0, 0, 0);
	p[0] = 0x65;	/* version 6 in an IPv4 frame */
	fwd_passes(p, n, tun_ifindex, "version 6");
}
END_TEST

/* ---- reverse ---- */

static size_t
tunnel(uint8_t *f, const uint8_t *in, size_t len, const char *src,
    const char *dst, bool gre)
{
	size_t ovh = gre ? 24 : 20;

	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x20\x08\x00", 14);
	ip_hdr(f + 14, gre ? 47 : 4, src, dst, ovh + len, 60, 0, 0);
	if (gre)
		memcpy(f + 34, "\x00\x00\x08\x00", 4);
	memcpy(f + 14 + ovh, in, len);
	return 14 + ovh + len;
}

static void
rev_passes(const uint8_t *f, size_t flen, const char *why)
{
	uint8_t out[2100];
	uint32_t outlen = sizeof(out);

	ck_assert_msg(run(prog_rev, veth_ifindex, f, flen, out, &outlen) ==
	    TC_ACT_OK, "%s: not left to userspace", why);
	ck_assert_msg(outlen == flen && memcmp(out, f, flen) == 0,
	    "%s: the packet was changed", why);
}

static void
rev_decaps(const uint8_t *f, size_t flen, const uint8_t *in, size_t len,
    const char *why)
{
	uint8_t out[2100];
	uint32_t outlen = sizeof(out);

	ck_assert_msg(run(prog_rev, veth_ifindex, f, flen, out, &outlen) ==
	    TC_ACT_REDIRECT, "%s: not redirected", why);
	ck_assert_uint_eq(outlen, 14 + len);
	ck_assert_msg(memcmp(out + 14, in, len) == 0, "%s: inner changed", why);
}

START_TEST(reverse_ipip_and_gre)
{
	uint8_t in[1600], f[1700];
	struct fp_counters before = stats(1), after;
	size_t n = inner(in, 50, HOA, GW, 150, 0, 0, 0x4000);
	size_t fl = tunnel(f, in, n, COA, HA, false);

	rev_decaps(f, fl, in, n, "ESP in IP-in-IP");
	n = inner(in, 50, HOA_GRE, GW, 150, 0, 0, 0);
	fl = tunnel(f, in, n, COA, HA, true);
	rev_decaps(f, fl, in, n, "ESP in GRE");
	n = inner(in, 17, HOA, GW, 80, 4500, 4500, 0);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_decaps(f, fl, in, n, "UDP-ESP to 4500");
	n = inner(in, 6, HOA_OPEN, OTHER, 80, 1234, 80, 0);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_decaps(f, fl, in, n, "TCP under policy open");
	after = stats(1);
	ck_assert_uint_eq(after.rev_packets - before.rev_packets, 4);
	ck_assert_uint_eq(after.rev_bytes - before.rev_bytes, 150 + 150 + 80 + 80);
}
END_TEST

/* RFC 3519 tunnel data: NAT:NAT_PORT -> HA:434, MIP header, inner. */
static size_t
udp_tunnel(uint8_t *f, const uint8_t *in, size_t len, const char *src,
    uint16_t sport, uint16_t csum_field, uint8_t type)
{
	uint8_t *u = f + 34;

	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x20\x08\x00", 14);
	ip_hdr(f + 14, 17, src, HA, 32 + len, 60, 0, 0);
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = 434 >> 8;
	u[3] = 434 & 0xff;
	u[4] = (uint8_t)((12 + len) >> 8);
	u[5] = (uint8_t)(12 + len);
	u[6] = (uint8_t)(csum_field >> 8);
	u[7] = (uint8_t)csum_field;
	u[8] = type;
	u[9] = 4;
	u[10] = u[11] = 0;
	memcpy(u + 12, in, len);
	return 14 + 32 + len;
}

START_TEST(reverse_udp)
{
	uint8_t in[1600], f[1700], out[2100];
	uint32_t outlen = sizeof(out);
	size_t n = inner(in, 50, HOA_UDP, GW, 150, 0, 0, 0);
	size_t fl = udp_tunnel(f, in, n, NAT, NAT_PORT, 0, 4);

	rev_decaps(f, fl, in, n, "ESP in UDP, checksum 0");
	fl = udp_tunnel(f, in, n, NAT, NAT_PORT, 0x1234, 4);
	rev_passes(f, fl, "a UDP checksum nobody verified (the socket's)");
	fl = udp_tunnel(f, in, n, NAT, NAT_PORT + 1, 0, 4);
	rev_passes(f, fl, "another source port than the registration's");
	fl = udp_tunnel(f, in, n, OTHER, NAT_PORT, 0, 4);
	rev_passes(f, fl, "another source address than the registration's");
	n = inner(in, 17, HOA_UDP, GW, 80, 4500, 9999, 0);
	fl = udp_tunnel(f, in, n, NAT, NAT_PORT, 0, 4);
	rev_passes(f, fl, "vpn-only: UDP to port 9999");
	/* A registration request on port 434 is not touched, nor counted. */
	{
		struct fp_counters before = stats(0), after;

		n = inner(in, 50, HOA_UDP, GW, 150, 0, 0, 0);
		fl = udp_tunnel(f, in, n, NAT, NAT_PORT, 0, 1);
		ck_assert_int_eq(run(prog_rev, veth_ifindex, f, fl, out,
		    &outlen), TC_ACT_OK);
		ck_assert(outlen == fl && memcmp(out, f, fl) == 0);
		after = stats(0);
		ck_assert_uint_eq(after.rev_slow, before.rev_slow);
	}
	/* IP-in-IP straight from the CoA is the userspace path's for UDP. */
	fl = tunnel(f, in, n, NAT, HA, false);
	rev_passes(f, fl, "IP-in-IP for a UDP binding");
}
END_TEST

START_TEST(reverse_leaves_to_userspace)
{
	uint8_t in[1600], f[1700];
	struct fp_counters before = stats(0), after;
	size_t n, fl;

	n = inner(in, 50, HOA, GW, 150, 0, 0, 0);
	fl = tunnel(f, in, n, OTHER, HA, false);
	rev_passes(f, fl, "wrong care-of address");
	fl = tunnel(f, in, n, COA, HA, true);
	rev_passes(f, fl, "GRE for an IP-in-IP binding");
	n = inner(in, 50, HOA_NOT, GW, 150, 0, 0, 0);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "reverse tunnelling not granted");
	n = inner(in, 50, "198.18.10.99", GW, 150, 0, 0, 0);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "no binding for the inner source");
	n = inner(in, 17, HOA, GW, 80, 4500, 9999, 0);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "vpn-only: UDP to port 9999");
	n = inner(in, 50, HOA, OTHER, 80, 0, 0, 0);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "vpn-only: ESP to another host");
	n = inner(in, 1, HOA, GW, 80, 0, 0, 0);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "ICMP (userspace judges ICMP)");
	n = inner(in, 50, HOA, GW, 150, 0, 0, 0x2000);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "inner fragment");
	after = stats(0);
	ck_assert_uint_eq(after.rev_slow - before.rev_slow, 8);
}
END_TEST

START_TEST(reverse_malformed)
{
	uint8_t in[1600], f[1700];
	size_t n = inner(in, 50, HOA, GW, 150, 0, 0, 0);
	size_t fl = tunnel(f, in, n, COA, HA, false);

	f[14 + 10] ^= 0xff;
	rev_passes(f, fl, "outer checksum");
	fl = tunnel(f, in, n, COA, HA, false);
	f[14 + 20 + 10] ^= 0xff;
	rev_passes(f, fl, "inner checksum");
	fl = tunnel(f, in, n, COA, HA, false);
	f[14 + 6] = 0x20;	/* outer MF */
	fix_csum(f + 14);
	rev_passes(f, fl, "outer fragment");
	n = inner(in, 50, HOA, GW, 150, 0, 0, 0);
	in[3] = 140;		/* inner shorter than the outer says */
	fix_csum(in);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "inner total length");
	n = inner(in, 50, HOA, GW, 150, 0, 0, 0);
	in[8] = 0;		/* TTL 0, RFC 2003 §3.1 */
	fix_csum(in);
	fl = tunnel(f, in, n, COA, HA, false);
	rev_passes(f, fl, "inner TTL 0");
	n = inner(in, 50, HOA_GRE, GW, 150, 0, 0, 0);
	fl = tunnel(f, in, n, COA, HA, true);
	f[14 + 20] = 0x20;	/* GRE key present */
	rev_passes(f, fl, "GRE with a key");
	n = inner(in, 50, HOA, GW, 150, 0, 0, 0);
	fl = tunnel(f, in, n, COA, OTHER, false);
	rev_passes(f, fl, "outer destination not the HA");
	/* Not a tunnel at all: UDP to the HA. */
	n = inner(in, 17, COA, HA, 60, 434, 434, 0);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x20\x08\x00", 14);
	memcpy(f + 14, in, n);
	rev_passes(f, 14 + n, "UDP, not a tunnel");
}
END_TEST

static Suite *
fastpath_suite(void)
{
	Suite *s = suite_create("fastpath");
	TCase *tc = tcase_create("programs");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, forward_ipip_esp);
	tcase_add_test(tc, forward_gre);
	tcase_add_test(tc, forward_udp);
	tcase_add_test(tc, forward_vpn_only);
	tcase_add_test(tc, forward_leaves_to_userspace);
	tcase_add_test(tc, forward_mtu);
	tcase_add_test(tc, forward_malformed);
	tcase_add_test(tc, reverse_ipip_and_gre);
	tcase_add_test(tc, reverse_udp);
	tcase_add_test(tc, reverse_leaves_to_userspace);
	tcase_add_test(tc, reverse_malformed);
	suite_add_tcase(s, tc);
	return s;
}

/* A namespace of our own: lo, two TUN devices, a veth pair to the CoAs. */
static int
make_namespace(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip tuntap add dev fptun mode tun",
		"ip tuntap add dev fptun2 mode tun",
		"ip link set fptun up",
		"ip link set fptun2 up",
		"ip link add fpv0 type veth peer name fpv1",
		"ip addr add " HA "/24 dev fpv0",
		"ip link set fpv0 up",
		"ip link set fpv1 up",
		"ip neigh replace " COA " lladdr 02:00:00:00:00:20 dev fpv0 "
		    "nud permanent",
		"sysctl -qw net.ipv4.ip_forward=1",
	};

	if (unshare(CLONE_NEWNET) == -1) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (system(cmds[i]) != 0) {
			fprintf(stderr, "failed: %s\n", cmds[i]);
			return -1;
		}
	tun_ifindex = (int)if_nametoindex("fptun");
	veth_ifindex = (int)if_nametoindex("fpv0");
	return tun_ifindex > 0 && veth_ifindex > 0 ? 0 : -1;
}

static int
load(void)
{
	struct fp_config cfg = { .ha_addr = A(HA), .ha_port = 434 };
	struct fp_counters *z;
	uint32_t key = 0, one = 1;
	int cfg_fd, n = libbpf_num_possible_cpus();

	obj = bpf_object__open_mem(mipha_fastpath_obj, mipha_fastpath_obj_size,
	    NULL);
	if (obj == NULL || bpf_object__load(obj) != 0) {
		fprintf(stderr, "loading the BPF object: %s\n", strerror(errno));
		return -1;
	}
	prog_fwd = bpf_program__fd(bpf_object__find_program_by_name(obj,
	    "fp_forward"));
	prog_rev = bpf_program__fd(bpf_object__find_program_by_name(obj,
	    "fp_reverse"));
	map_bind = bpf_object__find_map_fd_by_name(obj, "fp_bindings");
	map_stats = bpf_object__find_map_fd_by_name(obj, "fp_stats");
	cfg_fd = bpf_object__find_map_fd_by_name(obj, "fp_config");
	if ((z = calloc((size_t)n, sizeof(*z))) == NULL ||
	    bpf_map_update_elem(cfg_fd, &key, &cfg, BPF_ANY) != 0 ||
	    bpf_map_update_elem(map_stats, &key, z, BPF_ANY) != 0 ||
	    bpf_map_update_elem(map_stats, &one, z, BPF_ANY) != 0) {
		free(z);
		fprintf(stderr, "setting up the maps: %s\n", strerror(errno));
		return -1;
	}
	free(z);
	return 0;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: needs root (BPF, a network namespace)\n");
		return 77;
	}
	if (make_namespace() == -1 || load() == -1)
		return 99;
	sr = srunner_create(fastpath_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	bpf_object__close(obj);
	return failed == 0 ? 0 : 1;
}
