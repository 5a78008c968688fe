/*
 * test_encap.c - IPv4 helpers (ip4.c) and tunnel encapsulation (encap.c).
 *
 * Known-answer vectors were written from the RFC layouts, with checksums
 * computed by a separate RFC 1071 calculator, not by the code under test:
 * RFC 2003 §3.1 (IP in IP), RFC 2784/2890 (GRE), RFC 2004 §3 (minimal),
 * RFC 3519 §3.3/§4.2 (UDP).  The rest are properties: round trips, every
 * truncation, every bit flip, checksum corruption, RFC rules on TTL, DF,
 * MTU and the ICMP relay.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "encap.h"
#include "ip4.h"
#include "wire.h"

#define HR	ENCAP_HEADROOM

/* Addresses: VPN gateway, home address, home agent, care-of address, a router. */
static const uint8_t GW[4] = { 203, 0, 113, 10 };
static const uint8_t HOA[4] = { 198, 18, 10, 5 };
static const uint8_t HA[4] = { 198, 51, 100, 1 };
static const uint8_t COA[4] = { 198, 51, 100, 20 };
static const uint8_t RTR[4] = { 198, 18, 0, 1 };

static struct in_addr
A(const uint8_t a[4])
{
	struct in_addr	 in;

	memcpy(&in.s_addr, a, 4);
	return in;
}

/* ESP from the VPN gateway to the home address, TOS 0x28, DF, TTL 64. */
static const uint8_t inner[] = {
	0x45, 0x28, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x32, 0x1c, 0x32,
	0xcb, 0x00, 0x71, 0x0a, 0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01,
	0x00, 0x00, 0x00, 0x01,
};
/* The same after the forwarding TTL decrement (RFC 2003 §3.1). */
static const uint8_t inner63[] = {
	0x45, 0x28, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x32, 0x1d, 0x32,
	0xcb, 0x00, 0x71, 0x0a, 0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01,
	0x00, 0x00, 0x00, 0x01,
};
/* Sent by the home agent itself (minimal encapsulation with S = 0). */
static const uint8_t inner_ha[] = {
	0x45, 0x28, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x32, 0x2e, 0x08,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01,
	0x00, 0x00, 0x00, 0x01,
};
/* RFC 2003 §3.1: TOS and DF copied, TTL 64, ID 1, protocol 4. */
static const uint8_t ipip[] = {
	0x45, 0x28, 0x00, 0x30, 0x00, 0x01, 0x40, 0x00, 0x40, 0x04, 0xe6, 0x24,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x45, 0x28, 0x00, 0x1c,
	0x12, 0x34, 0x40, 0x00, 0x3f, 0x32, 0x1d, 0x32, 0xcb, 0x00, 0x71, 0x0a,
	0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01,
};
/* RFC 2784 §2.1: flags 0, version 0, type 0x0800. */
static const uint8_t gre_plain[] = {
	0x45, 0x28, 0x00, 0x34, 0x00, 0x01, 0x40, 0x00, 0x40, 0x2f, 0xe5, 0xf5,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x00, 0x00, 0x08, 0x00,
	0x45, 0x28, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x32, 0x1d, 0x32,
	0xcb, 0x00, 0x71, 0x0a, 0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01,
	0x00, 0x00, 0x00, 0x01,
};
/* RFC 2890 §2.1: K, key 0x0000abcd. */
static const uint8_t gre_key[] = {
	0x45, 0x28, 0x00, 0x38, 0x00, 0x01, 0x40, 0x00, 0x40, 0x2f, 0xe5, 0xf1,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x20, 0x00, 0x08, 0x00,
	0x00, 0x00, 0xab, 0xcd, 0x45, 0x28, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00,
	0x3f, 0x32, 0x1d, 0x32, 0xcb, 0x00, 0x71, 0x0a, 0xc6, 0x12, 0x0a, 0x05,
	0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01,
};
/* C, K, S: checksum over GRE header and payload (RFC 2784 §2.5), seq 7. */
static const uint8_t gre_cks[] = {
	0x45, 0x28, 0x00, 0x40, 0x00, 0x01, 0x40, 0x00, 0x40, 0x2f, 0xe5, 0xe9,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0xb0, 0x00, 0x08, 0x00,
	0x8c, 0x28, 0x00, 0x00, 0x00, 0x00, 0xab, 0xcd, 0x00, 0x00, 0x00, 0x07,
	0x45, 0x28, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x32, 0x1d, 0x32,
	0xcb, 0x00, 0x71, 0x0a, 0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01,
	0x00, 0x00, 0x00, 0x01,
};
/* RFC 2004 §3, S = 1: modified header (proto 55, HA -> CoA, length + 12),
 * forwarding header (proto 50, S, checksum, original dst, original src). */
static const uint8_t min_s1[] = {
	0x45, 0x28, 0x00, 0x28, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x37, 0xd4, 0xc6,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x32, 0x80, 0xc1, 0x5c,
	0xc6, 0x12, 0x0a, 0x05, 0xcb, 0x00, 0x71, 0x0a, 0x00, 0x00, 0x10, 0x01,
	0x00, 0x00, 0x00, 0x01,
};
/* S = 0: the encapsulator is the original source; length + 8. */
static const uint8_t min_s0[] = {
	0x45, 0x28, 0x00, 0x24, 0x12, 0x34, 0x40, 0x00, 0x40, 0x37, 0xd3, 0xca,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x32, 0x00, 0xfd, 0xe7,
	0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01,
};
/* RFC 3519 §4.2: IP, UDP 434 -> 49152 (no checksum), MIP type 4 next 4. */
static const uint8_t udp_ipip[] = {
	0x45, 0x28, 0x00, 0x3c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0xe6, 0x0b,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x01, 0xb2, 0xc0, 0x00,
	0x00, 0x28, 0x00, 0x00, 0x04, 0x04, 0x00, 0x00, 0x45, 0x28, 0x00, 0x1c,
	0x12, 0x34, 0x40, 0x00, 0x3f, 0x32, 0x1d, 0x32, 0xcb, 0x00, 0x71, 0x0a,
	0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01,
};
/* The same with the UDP checksum (RFC 768 pseudo header). */
static const uint8_t udp_ipip_csum[] = {
	0x45, 0x28, 0x00, 0x3c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0xe6, 0x0b,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x01, 0xb2, 0xc0, 0x00,
	0x00, 0x28, 0xd5, 0x68, 0x04, 0x04, 0x00, 0x00, 0x45, 0x28, 0x00, 0x1c,
	0x12, 0x34, 0x40, 0x00, 0x3f, 0x32, 0x1d, 0x32, 0xcb, 0x00, 0x71, 0x0a,
	0xc6, 0x12, 0x0a, 0x05, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01,
};
/* RFC 3519 §4.2/§4.3: minimal in UDP, the modified header is the outer one. */
static const uint8_t udp_min[] = {
	0x45, 0x28, 0x00, 0x34, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x11, 0xd4, 0xe0,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x01, 0xb2, 0xc0, 0x00,
	0x00, 0x20, 0x00, 0x00, 0x04, 0x37, 0x00, 0x00, 0x32, 0x80, 0xc1, 0x5c,
	0xc6, 0x12, 0x0a, 0x05, 0xcb, 0x00, 0x71, 0x0a, 0x00, 0x00, 0x10, 0x01,
	0x00, 0x00, 0x00, 0x01,
};
/* GRE (key) in UDP, next header 47. */
static const uint8_t udp_gre[] = {
	0x45, 0x28, 0x00, 0x44, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0xe6, 0x03,
	0xc6, 0x33, 0x64, 0x01, 0xc6, 0x33, 0x64, 0x14, 0x01, 0xb2, 0xc0, 0x00,
	0x00, 0x30, 0x00, 0x00, 0x04, 0x2f, 0x00, 0x00, 0x20, 0x00, 0x08, 0x00,
	0x00, 0x00, 0xab, 0xcd, 0x45, 0x28, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00,
	0x3f, 0x32, 0x1d, 0x32, 0xcb, 0x00, 0x71, 0x0a, 0xc6, 0x12, 0x0a, 0x05,
	0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01,
};

#define FWD	ENCAP_F_FORWARDING
#define V(a)	a, sizeof(a)

static const struct kat {
	const char	*name;
	enum encap_type	 type;
	unsigned	 flags;
	const uint8_t	*in;
	size_t		 in_len;
	const uint8_t	*out;
	size_t		 out_len;
	const uint8_t	*dec;		/* what decapsulation gives back */
	size_t		 dec_len;
	size_t		 overhead;
} kats[] = {
	{ "ipip", ENCAP_IPIP, FWD, V(inner), V(ipip), V(inner63), 20 },
	{ "gre", ENCAP_GRE, FWD, V(inner), V(gre_plain), V(inner63), 24 },
	{ "gre-key", ENCAP_GRE, FWD | ENCAP_F_GRE_KEY, V(inner), V(gre_key),
	    V(inner63), 28 },
	{ "gre-csum-key-seq", ENCAP_GRE, FWD | ENCAP_F_GRE_CSUM |
	    ENCAP_F_GRE_KEY | ENCAP_F_GRE_SEQ, V(inner), V(gre_cks), V(inner63), 36 },
	{ "minimal-s1", ENCAP_MINIMAL, FWD, V(inner), V(min_s1), V(inner63), 12 },
	{ "minimal-s0", ENCAP_MINIMAL, 0, V(inner_ha), V(min_s0), V(inner_ha), 8 },
	{ "udp-ipip", ENCAP_IPIP, FWD | ENCAP_F_UDP, V(inner), V(udp_ipip),
	    V(inner63), 32 },
	{ "udp-ipip-csum", ENCAP_IPIP, FWD | ENCAP_F_UDP | ENCAP_F_UDP_CSUM,
	    V(inner), V(udp_ipip_csum), V(inner63), 32 },
	{ "udp-minimal", ENCAP_MINIMAL, FWD | ENCAP_F_UDP, V(inner), V(udp_min),
	    V(inner63), 24 },
	{ "udp-gre-key", ENCAP_GRE, FWD | ENCAP_F_UDP | ENCAP_F_GRE_KEY, V(inner),
	    V(udp_gre), V(inner63), 40 },
};
#define NKATS	((int)(sizeof(kats) / sizeof(kats[0])))

static uint16_t	 id_ctr;
static uint32_t	 seq_ctr;

static struct encap_params
params(enum encap_type type, unsigned flags)
{
	struct encap_params p;

	memset(&p, 0, sizeof(p));
	p.type = type;
	p.flags = flags;
	p.src = A(HA);
	p.dst = A(COA);
	p.sport = 434;
	p.dport = 49152;
	p.ttl = 64;
	p.gre_key = 0xabcd;
	p.ip_id = &id_ctr;
	p.gre_seq = &seq_ctr;
	id_ctr = 1;
	seq_ctr = 7;
	return p;
}

static uint8_t	 buf[HR + 70000];

static enum encap_err
enc(const uint8_t *in, size_t len, const struct encap_params *p,
    struct encap_result *r)
{
	memset(buf, 0xee, sizeof(buf));
	memcpy(buf + HR, in, len);
	return encap_packet(buf, HR, len, p, r);
}

/* Recomputes the header checksum after a test changed a field. */
static void
fix_ip(uint8_t *p)
{
	size_t		 hl = (size_t)(p[0] & 0x0f) * 4;

	put_be16(p + 10, 0);
	put_be16(p + 10, ip4_checksum(p, hl));
}

/* Decapsulates a copy in a buffer of exactly len octets (ASan sees overreads). */
static enum decap_err
dec_exact(const uint8_t *pkt, size_t len, enum encap_type expect,
    struct decap_result *r, uint8_t **copy)
{
	uint8_t		*b = malloc(len ? len : 1);
	enum decap_err	 e;

	ck_assert_ptr_nonnull(b);
	memcpy(b, pkt, len);
	e = decap_ip(b, len, expect, r);
	if (copy != NULL)
		*copy = b;
	else
		free(b);
	return e;
}

/* xorshift32: deterministic pseudo-random test data. */
static uint32_t	 rng = 2463534242u;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* A valid inner datagram with optwords words of NOP options and paylen data. */
static size_t
mk_inner(uint8_t *p, size_t optwords, size_t paylen, const uint8_t src[4],
    uint8_t ttl, uint16_t frag)
{
	size_t		 hl = IP4_HDR_LEN + optwords * 4, i;

	p[0] = (uint8_t)(0x40 | hl / 4);
	p[1] = (uint8_t)rnd();
	put_be16(p + 2, (uint16_t)(hl + paylen));
	put_be16(p + 4, (uint16_t)rnd());
	put_be16(p + 6, frag);
	p[8] = ttl;
	p[9] = IP4_PROTO_ESP;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, HOA, 4);
	memset(p + IP4_HDR_LEN, 1, hl - IP4_HDR_LEN);
	for (i = 0; i < paylen; i++)
		p[hl + i] = (uint8_t)rnd();
	fix_ip(p);
	return hl + paylen;
}

/* Checksums, RFC 1071 and RFC 1624. */

START_TEST(test_csum_rfc1071)
{
	/* RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2. */
	static const uint8_t ex[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	static const uint8_t odd[] = { 0x01, 0x02, 0x03 };	/* 0102 + 0300 */
	uint32_t	 s;

	ck_assert_uint_eq(ip4_checksum(ex, sizeof(ex)), 0x220d);
	ck_assert_uint_eq(ip4_checksum(odd, sizeof(odd)), (uint16_t)~0x0402);
	/* Chained: even blocks, then the rest. */
	s = ip4_csum_add(0, ex, 4);
	s = ip4_csum_add(s, ex + 4, 4);
	ck_assert_uint_eq(ip4_csum_fold(s), 0x220d);
	ck_assert_uint_eq(ip4_checksum(inner, IP4_HDR_LEN), 0);
	ck_assert_uint_eq(ip4_checksum(ex, 0), 0xffff);
}
END_TEST

START_TEST(test_csum_large)
{
	static uint8_t	 big[65535];
	uint64_t	 s = 0;
	size_t		 i, n;

	/* Against a plain 16-bit-word sum at every length up to 300 and big ones. */
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)rnd();
	for (n = 0; n <= 65535; n = n < 300 ? n + 1 : n * 2 + 1) {
		s = 0;
		for (i = 0; i + 1 < n; i += 2)
			s += (uint32_t)big[i] << 8 | big[i + 1];
		if (n % 2)
			s += (uint32_t)big[n - 1] << 8;
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		ck_assert_uint_eq(ip4_checksum(big, n), (uint16_t)~s);
	}
}
END_TEST

START_TEST(test_csum_incremental)
{
	uint8_t		 h[IP4_HDR_LEN];
	unsigned	 ttl, k;
	uint16_t	 inc;

	/* RFC 1624 §4: m 0x5555 -> 0x3285, HC 0xdd2f -> 0x0000 (not 0xffff). */
	ck_assert_uint_eq(ip4_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
	/* ip4_dec_ttl() against a full recomputation, every TTL, many headers. */
	for (k = 0; k < 200; k++) {
		mk_inner(h, 0, 0, GW, 255, 0);
		for (ttl = 255; ttl >= 1; ttl--) {
			h[8] = (uint8_t)ttl;
			fix_ip(h);
			ip4_dec_ttl(h);
			ck_assert_uint_eq(h[8], ttl - 1);
			inc = get_be16(h + 10);
			fix_ip(h);
			ck_assert_uint_eq(inc, get_be16(h + 10));
		}
	}
}
END_TEST

/* IPv4 header. */

START_TEST(test_ip4_parse)
{
	struct ip4_hdr	 h;
	uint8_t		 p[64];

	ck_assert_int_eq(ip4_parse(inner, sizeof(inner), &h), IP4_OK);
	ck_assert_uint_eq(h.hlen, 20);
	ck_assert_uint_eq(h.tos, 0x28);
	ck_assert_uint_eq(h.tot_len, 28);
	ck_assert_uint_eq(h.id, 0x1234);
	ck_assert_uint_eq(h.frag, IP4_DF);
	ck_assert_uint_eq(h.ttl, 64);
	ck_assert_uint_eq(h.proto, IP4_PROTO_ESP);
	ck_assert_uint_eq(h.cksum, 0x1c32);
	ck_assert_int_eq(memcmp(&h.src.s_addr, GW, 4), 0);
	ck_assert_int_eq(memcmp(&h.dst.s_addr, HOA, 4), 0);
	ck_assert(!ip4_is_fragment(&h));

	ck_assert_int_eq(ip4_parse(inner, 19, &h), IP4_ERR_TRUNCATED);
	ck_assert_int_eq(ip4_parse(inner, 27, &h), IP4_ERR_TRUNCATED);
	memcpy(p, inner, sizeof(inner));
	p[28] = 0xaa;				/* link padding is fine */
	ck_assert_int_eq(ip4_parse(p, 29, &h), IP4_OK);
	p[0] = 0x65;
	ck_assert_int_eq(ip4_parse(p, 28, &h), IP4_ERR_VERSION);
	p[0] = 0x44;
	ck_assert_int_eq(ip4_parse(p, 28, &h), IP4_ERR_HLEN);
	p[0] = 0x48;				/* 32-octet header, 28 octets */
	ck_assert_int_eq(ip4_parse(p, 28, &h), IP4_ERR_TRUNCATED);
	memcpy(p, inner, sizeof(inner));
	put_be16(p + 2, 19);
	fix_ip(p);
	ck_assert_int_eq(ip4_parse(p, 28, &h), IP4_ERR_TOTLEN);
	memcpy(p, inner, sizeof(inner));
	p[11] ^= 1;
	ck_assert_int_eq(ip4_parse(p, 28, &h), IP4_ERR_CHECKSUM);
	ck_assert_int_eq(ip4_parse_quoted(p, 20, &h), IP4_OK);
	ck_assert_int_eq(ip4_parse_quoted(p, 19, &h), IP4_ERR_TRUNCATED);
	ck_assert_str_eq(ip4_err_str(IP4_ERR_CHECKSUM), "checksum");
}
END_TEST

START_TEST(test_ip4_write)
{
	struct ip4_hdr	 h;
	uint8_t		 p[IP4_HDR_LEN];

	memset(&h, 0, sizeof(h));
	h.tos = 0x28;
	h.tot_len = 48;
	h.id = 1;
	h.frag = IP4_DF;
	h.ttl = 64;
	h.proto = IP4_PROTO_IPIP;
	h.src = A(HA);
	h.dst = A(COA);
	ip4_write_hdr(p, &h);
	ck_assert_int_eq(memcmp(p, ipip, IP4_HDR_LEN), 0);
}
END_TEST

/* Fragmentation, RFC 791 §3.2. */

START_TEST(test_ip4_frag)
{
	static const uint8_t opts[12] = {
		0x07, 7, 4, 0, 0, 0, 0,		/* record route: not copied */
		0x94, 4, 0, 0,			/* router alert: copied */
		0x01,				/* NOP */
	};
	static uint8_t	 pkt[1100], out[600], re[1100];
	struct ip4_frag	 f;
	struct ip4_hdr	 h;
	size_t		 n, k = 0, got = 0;
	unsigned	 base;

	for (base = 0; base <= 100; base += 100) {
		mk_inner(pkt, 3, 1000, GW, 64, 0);
		memcpy(pkt + 20, opts, sizeof(opts));
		/* Second round: a fragment (offset 100, MF) fragmented again. */
		put_be16(pkt + 6, base ? (uint16_t)(IP4_MF | base) : 0);
		fix_ip(pkt);
		ck_assert_int_eq(ip4_frag_init(&f, pkt, 1032, 300), IP4_OK);
		memset(re, 0, sizeof(re));
		got = 0;
		for (k = 0; (n = ip4_frag_next(&f, out, sizeof(out))) > 0; k++) {
			ck_assert_uint_le(n, 300);
			ck_assert_int_eq(ip4_parse(out, n, &h), IP4_OK);
			ck_assert_uint_eq(h.tot_len, n);
			if (k == 0) {
				ck_assert_uint_eq(h.hlen, 32);
				ck_assert_int_eq(memcmp(out + 20, opts, 12), 0);
			} else {
				/* Only the copied option, padded (RFC 791 §3.1). */
				ck_assert_uint_eq(h.hlen, 24);
				ck_assert_int_eq(memcmp(out + 20, opts + 7, 4), 0);
			}
			ck_assert_uint_eq((h.frag & IP4_OFFMASK) - base, got / 8);
			if (h.frag & IP4_MF)
				ck_assert_uint_eq((n - h.hlen) % 8, 0);
			memcpy(re + got, out + h.hlen, n - h.hlen);
			got += n - h.hlen;
			/* Only the last loses MF, unless the original had it. */
			if (got < 1000 || base)
				ck_assert(h.frag & IP4_MF);
			else
				ck_assert(!(h.frag & IP4_MF));
			ck_assert_int_eq(memcmp(out + 12, pkt + 12, 8), 0);
			ck_assert_uint_eq(h.id, get_be16(pkt + 4));
		}
		ck_assert_uint_eq(got, 1000);
		ck_assert_uint_eq(k, 4);	/* 264 + 272 + 272 + 192 */
		ck_assert_int_eq(memcmp(re, pkt + 32, 1000), 0);
	}

	/* Fits: one fragment, the datagram unchanged. */
	ck_assert_int_eq(ip4_frag_init(&f, pkt, 1032, 1500), IP4_OK);
	ck_assert_uint_eq(ip4_frag_next(&f, out, sizeof(out)), 0);	/* cap */
	ck_assert_uint_eq(ip4_frag_next(&f, re, sizeof(re)), 1032);
	ck_assert_int_eq(memcmp(re, pkt, 1032), 0);
	ck_assert_uint_eq(ip4_frag_next(&f, re, sizeof(re)), 0);

	ck_assert_int_eq(ip4_frag_init(&f, pkt, 1032, 39), IP4_ERR_MTU);
	put_be16(pkt + 6, IP4_DF);
	fix_ip(pkt);
	ck_assert_int_eq(ip4_frag_init(&f, pkt, 1032, 300), IP4_ERR_DF);
	ck_assert_uint_eq(ip4_frag_next(&f, out, sizeof(out)), 0);
	put_be16(pkt + 6, 0);
	pkt[21] = 40;				/* option runs past the header */
	fix_ip(pkt);
	ck_assert_int_eq(ip4_frag_init(&f, pkt, 1032, 300), IP4_ERR_OPTIONS);
	pkt[21] = 7;
	put_be16(pkt + 6, IP4_OFFMASK);		/* 65528 + 1000 > 65535 */
	fix_ip(pkt);
	ck_assert_int_eq(ip4_frag_init(&f, pkt, 1032, 300), IP4_ERR_TOTLEN);
}
END_TEST

/* Encapsulation and decapsulation, known answers. */

START_TEST(test_kat_encap)
{
	const struct kat *k = &kats[_i];
	struct encap_params p = params(k->type, k->flags);
	struct encap_result r;

	ck_assert_msg(enc(k->in, k->in_len, &p, &r) == ENCAP_OK, "%s", k->name);
	ck_assert_uint_eq(r.len, k->out_len);
	ck_assert_uint_eq(r.overhead, k->overhead);
	ck_assert_msg(memcmp(r.pkt, k->out, k->out_len) == 0, "%s bytes", k->name);
	/* Planning figure: minimal with S = 1, the worst case. */
	ck_assert_uint_eq(encap_overhead(&p), k->type != ENCAP_MINIMAL ?
	    k->overhead : k->flags & ENCAP_F_UDP ? 24 : 12);
	if (k->flags & ENCAP_F_UDP)
		ck_assert_uint_eq(r.udp_payload, 28);
	else
		ck_assert_uint_eq(r.udp_payload, 0);
	/* Counters advanced: one outer ID, one GRE sequence number. */
	ck_assert_uint_eq(id_ctr, k->type == ENCAP_MINIMAL ? 1 : 2);
	ck_assert_uint_eq(seq_ctr, k->flags & ENCAP_F_GRE_SEQ ? 8 : 7);
	/* The payload was not moved. */
	ck_assert_ptr_eq(r.pkt + r.len, buf + HR + k->in_len);
}
END_TEST

START_TEST(test_kat_decap)
{
	const struct kat *k = &kats[_i];
	struct decap_result r;
	uint8_t		*b;

	ck_assert_msg(dec_exact(k->out, k->out_len, k->type, &r, &b) == DECAP_OK,
	    "%s", k->name);
	ck_assert_uint_eq(r.inner_len, k->dec_len);
	ck_assert_uint_eq(r.inner_off, k->out_len - k->dec_len);
	ck_assert_msg(memcmp(b + r.inner_off, k->dec, k->dec_len) == 0, "%s", k->name);
	ck_assert_int_eq(r.encap, k->type);
	ck_assert_int_eq(r.udp, (k->flags & ENCAP_F_UDP) != 0);
	ck_assert_int_eq(memcmp(&r.outer.src.s_addr, HA, 4), 0);
	ck_assert_int_eq(memcmp(&r.outer.dst.s_addr, COA, 4), 0);
	ck_assert_int_eq(memcmp(&r.inner.src.s_addr, k->dec + 12, 4), 0);
	ck_assert_int_eq(memcmp(&r.inner.dst.s_addr, HOA, 4), 0);
	ck_assert_uint_eq(r.inner.tot_len, k->dec_len);
	if (r.udp) {
		ck_assert_uint_eq(r.sport, 434);
		ck_assert_uint_eq(r.dport, 49152);
	}
	ck_assert_int_eq(r.gre_key_present, (k->flags & ENCAP_F_GRE_KEY) != 0);
	if (r.gre_key_present)
		ck_assert_uint_eq(r.gre_key, 0xabcd);
	ck_assert_int_eq(r.gre_seq_present, (k->flags & ENCAP_F_GRE_SEQ) != 0);
	if (r.gre_seq_present)
		ck_assert_uint_eq(r.gre_seq, 7);
	free(b);
	/* Any expectation but the right one is refused (RFC 3519 §3.3). */
	ck_assert_int_eq(dec_exact(k->out, k->out_len, ENCAP_ANY, &r, NULL),
	    DECAP_OK);
	ck_assert_int_eq(dec_exact(k->out, k->out_len, k->type == ENCAP_IPIP ?
	    ENCAP_GRE : ENCAP_IPIP, &r, NULL), k->flags & ENCAP_F_UDP ?
	    DECAP_ERR_NEXT_HEADER : DECAP_ERR_PROTOCOL);
}
END_TEST

/* UDP socket path: the payload after the UDP header (RFC 3519 §3.3). */
START_TEST(test_kat_decap_udp)
{
	const struct kat *k = &kats[_i];
	struct decap_udp_outer o;
	struct decap_result r;
	uint8_t		 want[64];
	size_t		 plen;

	if (!(k->flags & ENCAP_F_UDP))
		return;
	plen = k->out_len - 28;
	memset(buf, 0xee, sizeof(buf));
	memcpy(buf + HR, k->out + 28, plen);
	memset(&o, 0, sizeof(o));
	o.src = A(HA);
	o.dst = A(COA);
	o.sport = 434;
	o.dport = 49152;
	o.ttl = k->out[8];
	o.tos = k->out[1];
	ck_assert_int_eq(decap_udp(buf, HR, plen, &o, k->type, &r), DECAP_OK);
	ck_assert_uint_eq(r.inner_off + r.inner_len, HR + plen);
	ck_assert_int_eq(r.encap, k->type);
	ck_assert(r.udp);
	ck_assert_uint_eq(r.sport, 434);
	memcpy(want, k->dec, k->dec_len);
	if (k->type == ENCAP_MINIMAL) {
		/* Rebuilt from what the socket tells: no ID, no flags. */
		put_be16(want + 4, 0);
		put_be16(want + 6, 0);
		fix_ip(want);
	}
	ck_assert_uint_eq(r.inner_len, k->dec_len);
	ck_assert_int_eq(memcmp(buf + r.inner_off, want, k->dec_len), 0);
	memcpy(buf + HR, k->out + 28, plen);	/* decapsulation was in place */
	ck_assert_int_eq(decap_udp(buf, HR, plen, &o, ENCAP_ANY, &r), DECAP_OK);
}
END_TEST

/*
 * Every truncation is refused: of the buffer, and with the outer lengths
 * and checksum made consistent again.  Minimal encapsulation has no inner
 * length of its own (RFC 2004 §3 rebuilds it from the outer one), so a
 * consistent cut inside its payload is a valid shorter datagram: only
 * cuts in its headers must fail there.
 */
START_TEST(test_truncation)
{
	const struct kat *k = &kats[_i];
	struct decap_result r;
	struct decap_udp_outer o;
	uint8_t		 p[128], *u;
	size_t		 n, hl = 20, limit;

	limit = k->type == ENCAP_MINIMAL ? k->out_len - 8 : k->out_len;
	for (n = 0; n < k->out_len; n++)
		ck_assert_msg(dec_exact(k->out, n, ENCAP_ANY, &r, NULL) != DECAP_OK,
		    "%s raw %zu", k->name, n);
	for (n = hl; n < k->out_len; n++) {
		memcpy(p, k->out, n);
		put_be16(p + 2, (uint16_t)n);
		fix_ip(p);
		if (p[9] == IP4_PROTO_UDP && n >= hl + 8) {
			put_be16(p + hl + 4, (uint16_t)(n - hl));
			put_be16(p + hl + 6, 0);
		}
		if (n < limit)
			ck_assert_msg(dec_exact(p, n, ENCAP_ANY, &r, NULL) !=
			    DECAP_OK, "%s consistent %zu", k->name, n);
		else {
			ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
			    DECAP_OK);
			ck_assert_uint_eq(r.inner_len, n - (k->out_len - 28));
		}
	}
	if (!(k->flags & ENCAP_F_UDP))
		return;
	memset(&o, 0, sizeof(o));
	o.ttl = 64;
	for (n = 0; n < limit - 28; n++) {
		u = malloc(8 + n);
		ck_assert_ptr_nonnull(u);
		memcpy(u + 8, k->out + 28, n);
		ck_assert_msg(decap_udp(u, 8, n, &o, ENCAP_ANY, &r) != DECAP_OK,
		    "%s udp %zu", k->name, n);
		free(u);
	}
}
END_TEST

/* No bit flip reads out of bounds; what is accepted is self-consistent. */
START_TEST(test_bitflip)
{
	const struct kat *k = &kats[_i];
	struct decap_result r;
	struct ip4_hdr	 h;
	uint8_t		 p[128], *b;
	size_t		 bit, ok = 0;

	for (bit = 0; bit < k->out_len * 8; bit++) {
		memcpy(p, k->out, k->out_len);
		p[bit / 8] ^= (uint8_t)(1 << bit % 8);
		if (dec_exact(p, k->out_len, ENCAP_ANY, &r, &b) == DECAP_OK) {
			ok++;
			ck_assert_uint_le(r.inner_off + r.inner_len, k->out_len);
			ck_assert_int_eq(ip4_parse(b + r.inner_off, r.inner_len, &h),
			    IP4_OK);
			ck_assert_uint_eq(h.tot_len, r.inner_len);
		}
		free(b);
	}
	/* Checksums catch most flips; ignored fields (ID, TTL, ...) don't. */
	ck_assert_uint_lt(ok, k->out_len * 8 / 2);
}
END_TEST

START_TEST(test_checksums_rejected)
{
	struct decap_result r;
	uint8_t		 p[128];

	/* Outer IPv4 header. */
	memcpy(p, ipip, sizeof(ipip));
	p[10] ^= 0x01;
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	/* Inner IPv4 header. */
	memcpy(p, ipip, sizeof(ipip));
	p[20 + 11] ^= 0x80;
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	/* GRE checksum (RFC 2784 §2.5), and a payload octet under it. */
	memcpy(p, gre_cks, sizeof(gre_cks));
	p[25] ^= 0x01;
	ck_assert_int_eq(dec_exact(p, sizeof(gre_cks), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	memcpy(p, gre_cks, sizeof(gre_cks));
	p[sizeof(gre_cks) - 1] ^= 0x01;
	ck_assert_int_eq(dec_exact(p, sizeof(gre_cks), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	/* Minimal forwarding header checksum (RFC 2004 §3), S = 1 and S = 0. */
	memcpy(p, min_s1, sizeof(min_s1));
	p[23] ^= 0x01;
	ck_assert_int_eq(dec_exact(p, sizeof(min_s1), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	memcpy(p, min_s1, sizeof(min_s1));
	p[31] ^= 0x01;				/* original source */
	ck_assert_int_eq(dec_exact(p, sizeof(min_s1), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	memcpy(p, min_s0, sizeof(min_s0));
	p[27] ^= 0x01;				/* original destination */
	ck_assert_int_eq(dec_exact(p, sizeof(min_s0), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	/* UDP checksum (RFC 768): verified when not 0. */
	memcpy(p, udp_ipip_csum, sizeof(udp_ipip_csum));
	p[26] ^= 0x01;
	ck_assert_int_eq(dec_exact(p, sizeof(udp_ipip_csum), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	memcpy(p, udp_ipip_csum, sizeof(udp_ipip_csum));
	p[sizeof(udp_ipip_csum) - 1] ^= 0x01;
	ck_assert_int_eq(dec_exact(p, sizeof(udp_ipip_csum), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_CHECKSUM);
	/* Reserved minimal bits are ignored (RFC 2004 §3), checksum fixed. */
	memcpy(p, min_s1, sizeof(min_s1));
	p[21] |= 0x7f;
	put_be16(p + 22, 0);
	put_be16(p + 22, ip4_checksum(p + 20, 12));
	ck_assert_int_eq(dec_exact(p, sizeof(min_s1), ENCAP_ANY, &r, NULL),
	    DECAP_OK);
}
END_TEST

/* Round trips over random datagrams, options included. */

START_TEST(test_roundtrip)
{
	static const unsigned variants[][2] = {
		{ ENCAP_IPIP, 0 }, { ENCAP_GRE, 0 }, { ENCAP_GRE, ENCAP_F_GRE_KEY },
		{ ENCAP_GRE, ENCAP_F_GRE_CSUM | ENCAP_F_GRE_KEY | ENCAP_F_GRE_SEQ },
		{ ENCAP_MINIMAL, 0 },
		{ ENCAP_IPIP, ENCAP_F_UDP }, { ENCAP_GRE, ENCAP_F_UDP | ENCAP_F_GRE_CSUM },
		{ ENCAP_MINIMAL, ENCAP_F_UDP }, { ENCAP_IPIP, ENCAP_F_UDP | ENCAP_F_UDP_CSUM },
		{ ENCAP_MINIMAL, ENCAP_F_UDP | ENCAP_F_UDP_CSUM },
	};
	static uint8_t	 orig[2000];
	struct encap_params p;
	struct encap_result er;
	struct decap_result dr;
	size_t		 v, k, len, opt, pay;
	bool		 fwd, ha_src;

	for (v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		for (k = 0; k < 300; k++) {
			fwd = k % 2;
			ha_src = !fwd && k % 4 == 0;	/* S = 0 for minimal */
			opt = rnd() % 11;
			pay = k < 30 ? k : rnd() % 1900;
			len = mk_inner(orig, opt, pay, ha_src ? HA : GW,
			    (uint8_t)(2 + rnd() % 250), rnd() % 2 ? IP4_DF : 0);
			p = params((enum encap_type)variants[v][0],
			    variants[v][1] | (fwd ? FWD : 0));
			ck_assert_int_eq(enc(orig, len, &p, &er), ENCAP_OK);
			if (p.type == ENCAP_MINIMAL)
				ck_assert_uint_eq(er.overhead, (ha_src ? 8 : 12) +
				    (p.flags & ENCAP_F_UDP ? 12 : 0));
			ck_assert_int_eq(decap_ip(er.pkt, er.len, p.type, &dr), DECAP_OK);
			ck_assert_ptr_eq(er.pkt + dr.inner_off + dr.inner_len,
			    buf + HR + len);
			ck_assert_uint_eq(dr.inner_len, len);
			if (fwd) {
				/* Only the TTL (and so the checksum) changed. */
				ck_assert_uint_eq(er.pkt[dr.inner_off + 8], orig[8] - 1);
				orig[8]--;
				fix_ip(orig);
			}
			/* Minimal restores the original header exactly. */
			ck_assert_msg(memcmp(er.pkt + dr.inner_off, orig, len) == 0,
			    "variant %zu datagram %zu", v, k);
		}
	}
}
END_TEST

/* RFC 2003 §3.1 rules. */

START_TEST(test_ttl)
{
	static const enum encap_type types[] = { ENCAP_IPIP, ENCAP_GRE, ENCAP_MINIMAL };
	struct encap_params p;
	struct encap_result r;
	struct decap_result dr;
	uint8_t		 in[28], save[HR + 28];
	size_t		 t;

	for (t = 0; t < 3; t++) {
		/* Forwarding: TTL 1 would reach 0; the datagram stays as it was. */
		p = params(types[t], FWD);
		memcpy(in, inner, sizeof(in));
		in[8] = 1;
		fix_ip(in);
		ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_ERR_TTL);
		ck_assert_int_eq(memcmp(buf + HR, in, sizeof(in)), 0);
		in[8] = 2;
		fix_ip(in);
		ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_OK);
		ck_assert_int_eq(decap_ip(r.pkt, r.len, ENCAP_ANY, &dr), DECAP_OK);
		ck_assert_uint_eq(dr.inner.ttl, 1);
		/* Not forwarding: TTL 1 goes as is, TTL 0 never (MUST NOT). */
		p = params(types[t], 0);
		in[8] = 1;
		fix_ip(in);
		ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_OK);
		ck_assert_int_eq(decap_ip(r.pkt, r.len, ENCAP_ANY, &dr), DECAP_OK);
		ck_assert_uint_eq(dr.inner.ttl, 1);
		in[8] = 0;
		fix_ip(in);
		ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_ERR_TTL);
	}
	/* Decapsulated TTL 0 is discarded (RFC 2003 §3.1 MUST). */
	memcpy(save, ipip, sizeof(ipip));
	save[28] = 0;
	fix_ip(save + 20);
	ck_assert_int_eq(dec_exact(save, sizeof(ipip), ENCAP_ANY, &dr, NULL),
	    DECAP_ERR_TTL);
	/* The outer TTL may be anything (routers decrement it). */
	memcpy(save, ipip, sizeof(ipip));
	save[8] = 1;
	fix_ip(save);
	ck_assert_int_eq(dec_exact(save, sizeof(ipip), ENCAP_ANY, &dr, NULL),
	    DECAP_OK);
}
END_TEST

START_TEST(test_df_tos_id)
{
	struct encap_params p;
	struct encap_result r;
	uint8_t		 in[28];

	memcpy(in, inner, sizeof(in));
	put_be16(in + 6, 0);			/* no DF */
	in[1] = 0xb8;				/* EF */
	fix_ip(in);
	p = params(ENCAP_IPIP, FWD);
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_OK);
	ck_assert_uint_eq(get_be16(r.pkt + 6), 0);	/* MAY: not set by default */
	ck_assert_uint_eq(r.pkt[1], 0xb8);		/* TOS copied */
	ck_assert_uint_eq(get_be16(r.pkt + 4), 1);
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_OK);
	ck_assert_uint_eq(get_be16(r.pkt + 4), 2);	/* from the counter */
	ck_assert_uint_eq(id_ctr, 3);
	p.flags |= ENCAP_F_DF;
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_OK);
	ck_assert_uint_eq(get_be16(r.pkt + 6), IP4_DF);
	ck_assert_uint_eq(ip4_checksum(r.pkt, 20), 0);
	/* DF in the inner header MUST be set in the outer one: see kats. */
	p = params(ENCAP_GRE, FWD);
	p.ip_id = NULL;
	ck_assert_int_eq(enc(inner, sizeof(inner), &p, &r), ENCAP_OK);
	ck_assert_uint_eq(get_be16(r.pkt + 6), IP4_DF);
	ck_assert_uint_eq(get_be16(r.pkt + 4), 0);
	/* Minimal keeps the original header: no DF forced into it. */
	p = params(ENCAP_MINIMAL, FWD | ENCAP_F_DF);
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_OK);
	ck_assert_uint_eq(get_be16(r.pkt + 6), 0);
	ck_assert_uint_eq(get_be16(r.pkt + 4), 0x1234);
}
END_TEST

START_TEST(test_mtu)
{
	const struct kat *k = &kats[_i];
	struct encap_params p = params(k->type, k->flags);
	struct encap_result r;
	uint8_t		 in[1000];
	size_t		 len;

	len = mk_inner(in, 0, 980, k->in + 12, 64, IP4_DF);
	/* Exactly the tunnel MTU fits. */
	p.mtu = (uint16_t)(len + k->overhead);
	ck_assert_int_eq(enc(in, len, &p, &r), ENCAP_OK);
	ck_assert_uint_eq(r.len, p.mtu);
	/* One octet less: DF set, so ICMP frag needed with MTU - overhead. */
	p.mtu--;
	ck_assert_int_eq(enc(in, len, &p, &r), ENCAP_ERR_TOO_BIG);
	ck_assert_uint_eq(r.mtu, len - 1);
	ck_assert_int_eq(memcmp(buf + HR, in, len), 0);	/* untouched */
	/* Without DF the caller fragments. */
	put_be16(in + 6, 0);
	fix_ip(in);
	ck_assert_int_eq(enc(in, len, &p, &r), ENCAP_ERR_FRAG_NEEDED);
	ck_assert_uint_eq(r.mtu, len - 1);
	ck_assert_int_eq(memcmp(buf + HR, in, len), 0);
	/* No limit. */
	p.mtu = 0;
	ck_assert_int_eq(enc(in, len, &p, &r), ENCAP_OK);
	/* A tunnel MTU below overhead + 68 still gives a legal MTU. */
	p.mtu = 30;
	ck_assert_int_eq(enc(in, len, &p, &r), ENCAP_ERR_FRAG_NEEDED);
	ck_assert_uint_eq(r.mtu, IP4_MIN_MTU);
}
END_TEST

/* FRAG_NEEDED, then the inner datagram fragmented and each piece tunnelled. */
START_TEST(test_fragment_then_encap)
{
	static uint8_t	 orig[1100], frag[600], re[1100];
	struct encap_params p = params(ENCAP_IPIP, FWD | ENCAP_F_UDP);
	struct encap_result r;
	struct decap_result dr;
	struct ip4_frag	 f;
	size_t		 len, n, got = 0, pieces = 0;

	p.mtu = 500;
	len = mk_inner(orig, 0, 1000, GW, 64, 0);
	ck_assert_int_eq(enc(orig, len, &p, &r), ENCAP_ERR_FRAG_NEEDED);
	ck_assert_uint_eq(r.mtu, 468);
	ck_assert_int_eq(ip4_frag_init(&f, orig, len, r.mtu), IP4_OK);
	while ((n = ip4_frag_next(&f, frag, sizeof(frag))) > 0) {
		ck_assert_int_eq(enc(frag, n, &p, &r), ENCAP_OK);
		ck_assert_uint_le(r.len, 500);
		ck_assert_int_eq(decap_ip(r.pkt, r.len, ENCAP_IPIP, &dr), DECAP_OK);
		ck_assert_uint_eq((dr.inner.frag & IP4_OFFMASK) * 8u, got);
		memcpy(re + got, r.pkt + dr.inner_off + 20, dr.inner_len - 20);
		got += dr.inner_len - 20;
		pieces++;
	}
	ck_assert_uint_eq(got, 1000);
	ck_assert_uint_eq(pieces, 3);
	ck_assert_int_eq(memcmp(re, orig + 20, 1000), 0);
}
END_TEST

START_TEST(test_encap_errors)
{
	struct encap_params p;
	struct encap_result r;
	uint8_t		 in[28];

	/* RFC 2003 §3.2: source is the HA itself or the tunnel exit. */
	p = params(ENCAP_IPIP, FWD);
	ck_assert_int_eq(enc(inner_ha, sizeof(inner_ha), &p, &r), ENCAP_ERR_LOOP);
	memcpy(in, inner, sizeof(in));
	memcpy(in + 12, COA, 4);
	fix_ip(in);
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_ERR_LOOP);
	p.flags = 0;				/* originated here: fine */
	ck_assert_int_eq(enc(inner_ha, sizeof(inner_ha), &p, &r), ENCAP_OK);

	/* RFC 2004 §3: minimal MUST NOT carry a fragment. */
	p = params(ENCAP_MINIMAL, FWD);
	memcpy(in, inner, sizeof(in));
	put_be16(in + 6, IP4_MF);
	fix_ip(in);
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_ERR_FRAGMENT);
	put_be16(in + 6, 3);
	fix_ip(in);
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_ERR_FRAGMENT);
	p.type = ENCAP_IPIP;			/* IP in IP carries it */
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_OK);

	/* Inner datagram: checksum, length, version. */
	memcpy(in, inner, sizeof(in));
	in[10] ^= 1;
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_ERR_INNER);
	ck_assert_int_eq(enc(inner, sizeof(inner) - 1, &p, &r), ENCAP_ERR_INNER);
	memcpy(in, inner, sizeof(in));
	put_be16(in + 2, 24);
	fix_ip(in);
	ck_assert_int_eq(enc(in, sizeof(in), &p, &r), ENCAP_ERR_INNER);
	ck_assert_int_eq(enc(inner, 0, &p, &r), ENCAP_ERR_INNER);

	/* Headroom. */
	memcpy(buf, inner, sizeof(inner));
	ck_assert_int_eq(encap_packet(buf, 0, sizeof(inner), &p, &r),
	    ENCAP_ERR_HEADROOM);
	memcpy(buf + 19, inner, sizeof(inner));
	ck_assert_int_eq(encap_packet(buf, 19, sizeof(inner), &p, &r),
	    ENCAP_ERR_HEADROOM);
	memcpy(buf + 20, inner, sizeof(inner));
	ck_assert_int_eq(encap_packet(buf, 20, sizeof(inner), &p, &r), ENCAP_OK);
	ck_assert_ptr_eq(r.pkt, buf);
	p = params(ENCAP_MINIMAL, FWD);
	memcpy(buf + 11, inner, sizeof(inner));
	ck_assert_int_eq(encap_packet(buf, 11, sizeof(inner), &p, &r),
	    ENCAP_ERR_HEADROOM);
	memcpy(buf + 12, inner, sizeof(inner));
	ck_assert_int_eq(encap_packet(buf, 12, sizeof(inner), &p, &r), ENCAP_OK);
	ck_assert_int_eq(memcmp(buf, min_s1, sizeof(min_s1)), 0);

	p.type = (enum encap_type)6;
	ck_assert_int_eq(enc(inner, sizeof(inner), &p, &r), ENCAP_ERR_PARAM);
	p.type = ENCAP_ANY;
	ck_assert_int_eq(enc(inner, sizeof(inner), &p, &r), ENCAP_ERR_PARAM);
	ck_assert_str_eq(encap_err_str(ENCAP_ERR_TOO_BIG), "too-big");
}
END_TEST

/* Decapsulation errors, one by one. */

START_TEST(test_decap_outer)
{
	struct decap_result r;
	uint8_t		 p[128];

	memcpy(p, ipip, sizeof(ipip));
	put_be16(p + 6, IP4_MF);
	fix_ip(p);
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_FRAGMENT);
	put_be16(p + 6, 1);
	fix_ip(p);
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_FRAGMENT);
	memcpy(p, ipip, sizeof(ipip));
	p[9] = 6;
	fix_ip(p);
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_PROTOCOL);
	memcpy(p, ipip, sizeof(ipip));
	p[0] = 0x65;
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_OUTER_MALFORMED);
	p[0] = 0x44;
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_OUTER_MALFORMED);
	memcpy(p, ipip, sizeof(ipip));
	put_be16(p + 2, 19);
	fix_ip(p);
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_OUTER_MALFORMED);
	/* Link padding after the outer datagram is ignored. */
	memcpy(p, ipip, sizeof(ipip));
	memset(p + sizeof(ipip), 0, 6);
	ck_assert_int_eq(dec_exact(p, sizeof(ipip) + 6, ENCAP_ANY, &r, NULL),
	    DECAP_OK);
	ck_assert_uint_eq(r.inner_len, 28);
	/* Outer options are skipped. */
	memcpy(p + 4, ipip, 20);
	memcpy(p, ipip, 20);
	memcpy(p + 24, ipip + 20, 28);
	p[0] = 0x46;
	put_be16(p + 2, 52);
	memset(p + 20, 1, 4);
	fix_ip(p);
	ck_assert_int_eq(dec_exact(p, 52, ENCAP_IPIP, &r, NULL), DECAP_OK);
	ck_assert_uint_eq(r.inner_off, 24);
	ck_assert_uint_eq(r.outer.hlen, 24);
}
END_TEST

START_TEST(test_decap_inner)
{
	struct decap_result r;
	uint8_t		 p[128];

	/* Inner shorter than what the outer carries. */
	memcpy(p, ipip, sizeof(ipip));
	memset(p + sizeof(ipip), 0, 4);
	put_be16(p + 2, sizeof(ipip) + 4);
	fix_ip(p);
	ck_assert_int_eq(dec_exact(p, sizeof(ipip) + 4, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_INNER_MALFORMED);
	/* Inner longer. */
	memcpy(p, ipip, sizeof(ipip));
	put_be16(p + 22, 29);
	fix_ip(p + 20);
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_INNER_MALFORMED);
	/* Not IPv4 (RFC 2784 §3: type 0x800 carries IPv4). */
	memcpy(p, gre_plain, sizeof(gre_plain));
	p[24] = 0x60;
	ck_assert_int_eq(dec_exact(p, sizeof(gre_plain), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_INNER_MALFORMED);
	/* Inner IHL < 5. */
	memcpy(p, ipip, sizeof(ipip));
	p[20] = 0x44;
	ck_assert_int_eq(dec_exact(p, sizeof(ipip), ENCAP_ANY, &r, NULL),
	    DECAP_ERR_INNER_MALFORMED);
}
END_TEST

START_TEST(test_decap_gre)
{
	struct decap_result r;
	uint8_t		 p[128];
	size_t		 n = sizeof(gre_plain);
	static const struct {
		uint8_t		 b0, b1;
		enum decap_err	 want;
	} flags[] = {
		{ 0x00, 0x01, DECAP_ERR_GRE_UNSUPPORTED },	/* version 1 (PPTP) */
		{ 0x00, 0x04, DECAP_ERR_GRE_UNSUPPORTED },	/* version 4 */
		{ 0x40, 0x00, DECAP_ERR_GRE_UNSUPPORTED },	/* R, RFC 1701 */
		{ 0x08, 0x00, DECAP_ERR_GRE_UNSUPPORTED },	/* strict source route */
		{ 0x04, 0x00, DECAP_ERR_GRE_UNSUPPORTED },	/* bit 5 */
		{ 0x03, 0x00, DECAP_OK },			/* bits 6, 7 ignored */
		{ 0x00, 0xf8, DECAP_OK },			/* bits 8-12 ignored */
	};
	size_t		 i;

	/* RFC 2784 §2.3, §2.3.1. */
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		memcpy(p, gre_plain, n);
		p[20] |= flags[i].b0;
		p[21] |= flags[i].b1;
		ck_assert_msg(dec_exact(p, n, ENCAP_ANY, &r, NULL) == flags[i].want,
		    "flags %02x%02x", flags[i].b0, flags[i].b1);
	}
	/* RFC 2784 §2.4: only IPv4 is carried. */
	memcpy(p, gre_plain, n);
	put_be16(p + 22, 0x86dd);
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_GRE_UNSUPPORTED);
	put_be16(p + 22, 0x6558);
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_GRE_UNSUPPORTED);
	/* Reserved1 is not checked on receipt (RFC 2784 §2.6). */
	memcpy(p, gre_cks, sizeof(gre_cks));
	put_be16(p + 26, 0x1234);
	put_be16(p + 24, 0);
	put_be16(p + 24, ip4_checksum(p + 20, sizeof(gre_cks) - 20));
	ck_assert_int_eq(dec_exact(p, sizeof(gre_cks), ENCAP_GRE, &r, NULL),
	    DECAP_OK);
	/* A GRE header cut short inside a complete outer datagram. */
	memcpy(p, gre_key, 24);
	put_be16(p + 2, 26);
	fix_ip(p);
	ck_assert_int_eq(dec_exact(p, 26, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_gre_seq)
{
	/* RFC 2890 §2.2. */
	ck_assert_int_eq(encap_gre_seq_check(ENCAP_GRE_SEQ_INIT, 0), ENCAP_GRE_SEQ_NEXT);
	ck_assert_int_eq(encap_gre_seq_check(5, 6), ENCAP_GRE_SEQ_NEXT);
	ck_assert_int_eq(encap_gre_seq_check(5, 5), ENCAP_GRE_SEQ_OLD);
	ck_assert_int_eq(encap_gre_seq_check(5, 4), ENCAP_GRE_SEQ_OLD);
	ck_assert_int_eq(encap_gre_seq_check(5, 5u - 0x7fffffffu), ENCAP_GRE_SEQ_OLD);
	ck_assert_int_eq(encap_gre_seq_check(5, 5u - 0x80000000u), ENCAP_GRE_SEQ_GAP);
	ck_assert_int_eq(encap_gre_seq_check(5, 7), ENCAP_GRE_SEQ_GAP);
	ck_assert_int_eq(encap_gre_seq_check(UINT32_MAX - 1, UINT32_MAX),
	    ENCAP_GRE_SEQ_NEXT);
	ck_assert_int_eq(encap_gre_seq_check(0, UINT32_MAX), ENCAP_GRE_SEQ_OLD);
}
END_TEST

START_TEST(test_decap_udp_errors)
{
	struct decap_result r;
	struct decap_udp_outer o;
	uint8_t		 p[128];
	size_t		 n = sizeof(udp_ipip);

	/* UDP length must match the IP payload. */
	memcpy(p, udp_ipip, n);
	put_be16(p + 24, 41);
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL), DECAP_ERR_TRUNCATED);
	put_be16(p + 24, 39);
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_UDP_MALFORMED);
	put_be16(p + 24, 7);
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_UDP_MALFORMED);
	/* RFC 3519 §3.3: type 4 only; Next Header 4, 47 or 55 and as expected. */
	memcpy(p, udp_ipip, n);
	p[28] = 1;				/* a Registration Request */
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_UDP_MALFORMED);
	memcpy(p, udp_ipip, n);
	p[29] = 6;
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_NEXT_HEADER);
	p[29] = 0;
	ck_assert_int_eq(dec_exact(p, n, ENCAP_ANY, &r, NULL),
	    DECAP_ERR_NEXT_HEADER);
	memcpy(p, udp_ipip, n);
	ck_assert_int_eq(dec_exact(p, n, ENCAP_MINIMAL, &r, NULL),
	    DECAP_ERR_NEXT_HEADER);
	/* Reserved is ignored on reception. */
	put_be16(p + 30, 0xffff);
	ck_assert_int_eq(dec_exact(p, n, ENCAP_IPIP, &r, NULL), DECAP_OK);

	/* Socket path: headroom for the rebuilt minimal header. */
	memset(&o, 0, sizeof(o));
	o.src = A(HA);
	o.dst = A(COA);
	o.ttl = 9;
	memcpy(buf, udp_min + 28, sizeof(udp_min) - 28);
	ck_assert_int_eq(decap_udp(buf, 0, sizeof(udp_min) - 28, &o, ENCAP_MINIMAL,
	    &r), DECAP_ERR_HEADROOM);
	memcpy(buf + 4, udp_min + 28, sizeof(udp_min) - 28);
	ck_assert_int_eq(decap_udp(buf, 4, sizeof(udp_min) - 28, &o, ENCAP_MINIMAL,
	    &r), DECAP_OK);			/* S = 1 needs 4 */
	ck_assert_uint_eq(r.inner_off, 0);
	ck_assert_uint_eq(r.inner.ttl, 9);
	ck_assert_int_eq(memcmp(&r.inner.src.s_addr, GW, 4), 0);
	memcpy(buf + 4, udp_min + 28, sizeof(udp_min) - 28);
	o.ttl = 0;
	ck_assert_int_eq(decap_udp(buf, 4, sizeof(udp_min) - 28, &o, ENCAP_MINIMAL,
	    &r), DECAP_ERR_TTL);
	memcpy(buf + 4, udp_min + 28, sizeof(udp_min) - 28);
	ck_assert_int_eq(decap_udp(buf, 4, sizeof(udp_min) - 28, &o, ENCAP_GRE,
	    &r), DECAP_ERR_NEXT_HEADER);
	ck_assert_int_eq(decap_udp(buf, 4, 70000, &o, ENCAP_ANY, &r),
	    DECAP_ERR_OUTER_MALFORMED);
}
END_TEST

START_TEST(test_names)
{
	int		 i, j;

	/* The drop-reason counters of the daemon. */
	ck_assert_str_eq(decap_err_str(DECAP_ERR_TRUNCATED), "truncated");
	ck_assert_str_eq(decap_err_str(DECAP_ERR_OUTER_MALFORMED), "outer-malformed");
	ck_assert_str_eq(decap_err_str(DECAP_ERR_INNER_MALFORMED), "inner-malformed");
	ck_assert_str_eq(decap_err_str(DECAP_ERR_GRE_UNSUPPORTED), "gre-unsupported");
	ck_assert_str_eq(decap_err_str(DECAP_ERR_CHECKSUM), "checksum");
	ck_assert_str_eq(decap_err_str(DECAP_ERR_FRAGMENT), "fragment");
	ck_assert_str_eq(decap_err_str(DECAP_ERR_MAX), "unknown");
	for (i = 0; i < DECAP_ERR_MAX; i++) {
		ck_assert_ptr_nonnull(decap_err_str((enum decap_err)i));
		ck_assert_str_ne(decap_err_str((enum decap_err)i), "unknown");
		for (j = 0; j < i; j++)
			ck_assert_str_ne(decap_err_str((enum decap_err)i),
			    decap_err_str((enum decap_err)j));
	}
	/* Protocol numbers (RFC 2003 §3.1, RFC 2784 §4, RFC 2004 §3, RFC 3519 §3.3). */
	ck_assert_int_eq(ENCAP_IPIP, 4);
	ck_assert_int_eq(ENCAP_GRE, 47);
	ck_assert_int_eq(ENCAP_MINIMAL, 55);
	ck_assert_int_eq(IP4_PROTO_UDP, 17);
	ck_assert_int_eq(ENCAP_MIP_TUNNEL_DATA, 4);
	ck_assert_int_eq(ENCAP_GRE_PROTO_IPV4, 0x0800);
	ck_assert_int_eq(ENCAP_HEADROOM, 48);
	ck_assert_int_eq(ICMP4_UNREACH, 3);
	ck_assert_int_eq(ICMP4_UNREACH_NEEDFRAG, 4);
	ck_assert_int_eq(ICMP4_TIME_EXCEEDED, 11);
	ck_assert_str_eq(encap_type_name(ENCAP_IPIP), "ipip");
	ck_assert_str_eq(encap_type_name(ENCAP_GRE), "gre");
	ck_assert_str_eq(encap_type_name(ENCAP_MINIMAL), "minimal");
	ck_assert_str_eq(encap_icmp_err_str(ENCAP_ICMP_NOT_TUNNEL), "not-tunnel");
}
END_TEST

/* ICMP errors we originate (RFC 792, RFC 1191 §4, RFC 1812 §4.3.2). */

static void
check_icmp(const uint8_t *out, size_t n, uint8_t type, uint8_t code,
    const uint8_t *orig, size_t qlen)
{
	struct ip4_hdr	 h;

	ck_assert_int_eq(ip4_parse(out, n, &h), IP4_OK);
	ck_assert_uint_eq(h.tot_len, n);
	ck_assert_uint_eq(h.proto, IP4_PROTO_ICMP);
	ck_assert_uint_eq(h.ttl, 64);
	ck_assert_uint_eq(h.tos, 0xc0);
	ck_assert_int_eq(memcmp(&h.src.s_addr, HA, 4), 0);
	ck_assert_int_eq(memcmp(&h.dst.s_addr, orig + 12, 4), 0);
	ck_assert_uint_eq(n, 20 + 8 + qlen);
	ck_assert_uint_eq(ip4_checksum(out + 20, n - 20), 0);	/* verifies */
	ck_assert_uint_eq(out[20], type);
	ck_assert_uint_eq(out[21], code);
	ck_assert_int_eq(memcmp(out + 28, orig, qlen), 0);
}

START_TEST(test_icmp_build)
{
	static uint8_t	 out[700], big[1400], p[64];
	size_t		 n;

	n = icmp4_build_host_unreach(out, sizeof(out), A(HA), 7, inner, sizeof(inner));
	check_icmp(out, n, 3, 1, inner, sizeof(inner));
	ck_assert_uint_eq(get_be32(out + 24), 0);
	ck_assert_uint_eq(get_be16(out + 4), 7);
	n = icmp4_build_frag_needed(out, sizeof(out), A(HA), 8, 1480, inner,
	    sizeof(inner));
	check_icmp(out, n, 3, 4, inner, sizeof(inner));
	ck_assert_uint_eq(get_be16(out + 24), 0);	/* unused */
	ck_assert_uint_eq(get_be16(out + 26), 1480);	/* next-hop MTU */
	n = icmp4_build_time_exceeded(out, sizeof(out), A(HA), 9, inner,
	    sizeof(inner));
	check_icmp(out, n, 11, 0, inner, sizeof(inner));

	/* As much as fits in 576 octets; never link padding. */
	mk_inner(big, 0, 1380, GW, 64, 0);
	n = icmp4_build_host_unreach(out, sizeof(out), A(HA), 7, big, sizeof(big));
	ck_assert_uint_eq(n, 576);
	check_icmp(out, n, 3, 1, big, 548);
	memcpy(p, inner, sizeof(inner));
	n = icmp4_build_host_unreach(out, sizeof(out), A(HA), 7, p, 40);
	check_icmp(out, n, 3, 1, inner, 28);
	/* Too small a buffer. */
	ck_assert_uint_eq(icmp4_build_host_unreach(out, 55, A(HA), 7, inner,
	    sizeof(inner)), 0);
	/* In place: the offending datagram at the start of out. */
	memcpy(out, inner, sizeof(inner));
	n = icmp4_build_time_exceeded(out, sizeof(out), A(HA), 9, out, sizeof(inner));
	check_icmp(out, n, 11, 0, inner, sizeof(inner));
	/* Parameter problem carries the pointer. */
	{
		struct icmp4_error e = { .type = ICMP4_PARAM_PROBLEM, .pointer = 8,
		    .src = A(HA) };
		n = icmp4_build_error(out, sizeof(out), &e, inner, sizeof(inner));
		check_icmp(out, n, 12, 0, inner, sizeof(inner));
		ck_assert_uint_eq(out[24], 8);
	}
}
END_TEST

START_TEST(test_icmp_suppressed)
{
	uint8_t		 p[64], out[600];
	static const struct {
		int		 off;
		uint8_t		 v[4];
	} bad[] = {
		{ 16, { 224, 0, 0, 5 } },	/* multicast destination */
		{ 16, { 255, 255, 255, 255 } },	/* limited broadcast */
		{ 16, { 240, 0, 0, 1 } },	/* class E */
		{ 12, { 0, 0, 0, 0 } },		/* no single host */
		{ 12, { 127, 0, 0, 1 } },
		{ 12, { 224, 0, 0, 1 } },
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(p, inner, sizeof(inner));
		memcpy(p + bad[i].off, bad[i].v, 4);
		fix_ip(p);
		ck_assert(!icmp4_error_allowed(p, sizeof(inner)));
		ck_assert_uint_eq(icmp4_build_host_unreach(out, sizeof(out), A(HA),
		    0, p, sizeof(inner)), 0);
	}
	/* Non-initial fragment: never; first fragment: yes. */
	memcpy(p, inner, sizeof(inner));
	put_be16(p + 6, 1);
	fix_ip(p);
	ck_assert(!icmp4_error_allowed(p, sizeof(inner)));
	put_be16(p + 6, IP4_MF);
	fix_ip(p);
	ck_assert(icmp4_error_allowed(p, sizeof(inner)));
	/* About ICMP: only informational messages. */
	memcpy(p, inner, sizeof(inner));
	p[9] = IP4_PROTO_ICMP;
	fix_ip(p);
	p[20] = ICMP4_ECHO;
	ck_assert(icmp4_error_allowed(p, sizeof(inner)));
	p[20] = ICMP4_UNREACH;
	ck_assert(!icmp4_error_allowed(p, sizeof(inner)));
	p[20] = ICMP4_TIME_EXCEEDED;
	ck_assert(!icmp4_error_allowed(p, sizeof(inner)));
	p[20] = 200;				/* unknown: treated as an error */
	ck_assert(!icmp4_error_allowed(p, sizeof(inner)));
	ck_assert(!icmp4_error_allowed(p, 20));	/* type not there */
	/* Not IPv4 at all. */
	ck_assert(!icmp4_error_allowed(p, 19));
	p[0] = 0x60;
	ck_assert(!icmp4_error_allowed(p, sizeof(inner)));
	ck_assert_uint_eq(ip4_mtu_plateau(1500), 1492);
	ck_assert_uint_eq(ip4_mtu_plateau(1492), 1006);
	ck_assert_uint_eq(ip4_mtu_plateau(65535), 32000);
	ck_assert_uint_eq(ip4_mtu_plateau(68), 68);
}
END_TEST

/* ICMP relay (RFC 2003 §4). */

/* An ICMP message (without its IP header) quoting q[0..qlen). */
static size_t
mk_icmp(uint8_t *m, uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q,
    size_t qlen)
{
	m[0] = type;
	m[1] = code;
	put_be16(m + 2, 0);
	put_be32(m + 4, rest);
	if (qlen > 0)
		memcpy(m + 8, q, qlen);
	put_be16(m + 2, ip4_checksum(m, 8 + qlen));
	return 8 + qlen;
}

START_TEST(test_icmp_relay_needfrag)
{
	static uint8_t	 pkt[700], quote[ICMP4_ERR_QUOTE_MAX], out[700];
	struct encap_icmp r;
	size_t		 n;

	/* A router inside the tunnel answers the IP-in-IP datagram. */
	n = icmp4_build_frag_needed(pkt, sizeof(pkt), A(RTR), 0, 1400, ipip,
	    sizeof(ipip));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(encap_icmp_parse(pkt + 20, n - 20, &r, quote,
	    sizeof(quote)), ENCAP_ICMP_OK);
	ck_assert_uint_eq(r.type, 3);
	ck_assert_uint_eq(r.code, 4);
	ck_assert_uint_eq(r.mtu, 1400);
	ck_assert_uint_eq(r.tunnel_mtu, 1400);
	ck_assert_int_eq(r.encap, ENCAP_IPIP);
	ck_assert(!r.udp);
	ck_assert_uint_eq(r.overhead, 20);
	ck_assert_int_eq(memcmp(&r.outer.dst.s_addr, COA, 4), 0);
	ck_assert(r.inner_present);
	ck_assert_int_eq(memcmp(&r.inner.src.s_addr, GW, 4), 0);
	ck_assert_int_eq(memcmp(&r.inner.dst.s_addr, HOA, 4), 0);
	ck_assert_uint_eq(r.quote_len, sizeof(inner63));
	ck_assert_int_eq(memcmp(quote, inner63, sizeof(inner63)), 0);
	/* MUST relay, with the MTU less the encapsulation (§4.1, §5.1). */
	ck_assert(r.relay);
	ck_assert_uint_eq(r.relay_err.type, 3);
	ck_assert_uint_eq(r.relay_err.code, 4);
	ck_assert_uint_eq(r.relay_err.mtu, 1380);
	r.relay_err.src = A(HA);
	n = icmp4_build_error(out, sizeof(out), &r.relay_err, quote, r.quote_len);
	check_icmp(out, n, 3, 4, inner63, sizeof(inner63));
	ck_assert_uint_eq(get_be16(out + 26), 1380);

	/* An old router that sends MTU 0: RFC 1191 §5 plateau below 1500. */
	memcpy(pkt, ipip, sizeof(ipip));
	put_be16(pkt + 2, 1500);
	n = mk_icmp(out, 3, 4, 0, pkt, sizeof(ipip));
	ck_assert_int_eq(encap_icmp_parse(out, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert_uint_eq(r.tunnel_mtu, 1492);
	ck_assert_uint_eq(r.relay_err.mtu, 1472);
	/* An absurd MTU still relays a legal one. */
	n = mk_icmp(out, 3, 4, 30, ipip, sizeof(ipip));
	ck_assert_int_eq(encap_icmp_parse(out, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert_uint_eq(r.relay_err.mtu, IP4_MIN_MTU);
}
END_TEST

START_TEST(test_icmp_relay_types)
{
	static const struct {
		uint8_t		 type, code;
		bool		 relay;
		uint8_t		 rtype, rcode;
	} t[] = {
		{ 3, 0, true, 3, 1 },	/* net: host unreachable (§4.1 model) */
		{ 3, 1, true, 3, 1 },	/* host (§4.1 SHOULD) */
		{ 3, 2, true, 3, 1 },	/* protocol: 0 or 1, never 2 (§4.1) */
		{ 3, 3, false, 0, 0 },	/* port: MUST NOT (§4.1) */
		{ 3, 5, false, 0, 0 },	/* source route failed: MUST NOT */
		{ 3, 13, true, 3, 1 },	/* administratively prohibited */
		{ 4, 0, false, 0, 0 },	/* source quench: SHOULD NOT (§4.2) */
		{ 5, 1, false, 0, 0 },	/* redirect: MUST NOT (§4.3) */
		{ 11, 0, true, 3, 1 },	/* time exceeded: host unreachable (§4.4) */
	};
	uint8_t		 m[128], quote[600];
	struct encap_icmp r;
	size_t		 i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = mk_icmp(m, t[i].type, t[i].code, 0, gre_key, sizeof(gre_key));
		ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
		    ENCAP_ICMP_OK);
		ck_assert_msg(r.relay == t[i].relay, "type %u code %u", t[i].type,
		    t[i].code);
		if (r.relay) {
			ck_assert_uint_eq(r.relay_err.type, t[i].rtype);
			ck_assert_uint_eq(r.relay_err.code, t[i].rcode);
		}
		ck_assert_int_eq(r.encap, ENCAP_GRE);
		ck_assert_uint_eq(r.overhead, 28);
		ck_assert(r.gre_key_present);
		ck_assert_uint_eq(r.gre_key, 0xabcd);
		ck_assert(r.inner_present);
	}
	/* Not errors. */
	n = mk_icmp(m, ICMP4_ECHO, 0, 0, gre_key, sizeof(gre_key));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_NOT_ERROR);
	n = mk_icmp(m, ICMP4_ECHO_REPLY, 0, 0, NULL, 0);
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_NOT_ERROR);
}
END_TEST

START_TEST(test_icmp_relay_variants)
{
	uint8_t		 m[128], quote[600], q[128];
	struct encap_icmp r;
	size_t		 n;

	/* Minimal: the original header is rebuilt for the quote (RFC 2004 §5). */
	n = mk_icmp(m, 3, 4, 1000, min_s1, sizeof(min_s1));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert_int_eq(r.encap, ENCAP_MINIMAL);
	ck_assert_uint_eq(r.overhead, 12);
	ck_assert(r.relay);
	ck_assert_uint_eq(r.relay_err.mtu, 988);
	ck_assert_uint_eq(r.quote_len, sizeof(inner63));
	ck_assert_int_eq(memcmp(quote, inner63, sizeof(inner63)), 0);
	/* RFC 792's minimum quote covers the S = 1 header's destination only. */
	n = mk_icmp(m, 3, 1, 0, min_s1, 28);
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(!r.inner_present);
	ck_assert(!r.relay);
	/* S = 0: we sent it ourselves, nothing to relay. */
	n = mk_icmp(m, 3, 1, 0, min_s0, sizeof(min_s0));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(r.inner_present);
	ck_assert(!r.relay);
	ck_assert_int_eq(memcmp(quote, inner_ha, sizeof(inner_ha)), 0);

	/* UDP: ports, and the overhead of IP + UDP + MIP. */
	n = mk_icmp(m, 3, 4, 1400, udp_ipip, sizeof(udp_ipip));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(r.udp);
	ck_assert_uint_eq(r.sport, 434);
	ck_assert_uint_eq(r.dport, 49152);
	ck_assert_uint_eq(r.overhead, 32);
	ck_assert_uint_eq(r.relay_err.mtu, 1368);
	ck_assert_int_eq(memcmp(quote, inner63, sizeof(inner63)), 0);
	n = mk_icmp(m, 3, 4, 1400, udp_min, sizeof(udp_min));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert_int_eq(r.encap, ENCAP_MINIMAL);
	ck_assert_uint_eq(r.overhead, 24);
	ck_assert_int_eq(memcmp(quote, inner63, sizeof(inner63)), 0);
	n = mk_icmp(m, 3, 4, 1400, udp_gre, sizeof(udp_gre));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert_uint_eq(r.overhead, 40);
	ck_assert(r.gre_key_present);
	/* RFC 792 minimum (header + 8): endpoints and ports, no inner header. */
	n = mk_icmp(m, 3, 1, 0, udp_ipip, 28);
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(r.udp);
	ck_assert_uint_eq(r.dport, 49152);
	ck_assert_int_eq(r.encap, ENCAP_ANY);
	ck_assert(!r.inner_present);
	ck_assert(!r.relay);
	n = mk_icmp(m, 3, 1, 0, ipip, 28);
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert_int_eq(r.encap, ENCAP_IPIP);
	ck_assert_uint_eq(r.overhead, 20);
	ck_assert(!r.inner_present);
	n = mk_icmp(m, 3, 1, 0, gre_key, 28);
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(r.gre_key_present);		/* key within the 8 octets */
	ck_assert(!r.inner_present);
	/* Quote buffer too small for the inner header: no relay. */
	n = mk_icmp(m, 3, 1, 0, ipip, sizeof(ipip));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, 10), ENCAP_ICMP_OK);
	ck_assert(r.inner_present);
	ck_assert_uint_eq(r.quote_len, 0);
	ck_assert(!r.relay);
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, 24), ENCAP_ICMP_OK);
	ck_assert_uint_eq(r.quote_len, 24);

	/* Not ours, or broken. */
	memcpy(q, ipip, sizeof(ipip));
	q[9] = 6;
	n = mk_icmp(m, 3, 1, 0, q, sizeof(ipip));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_NOT_TUNNEL);
	memcpy(q, udp_ipip, sizeof(udp_ipip));
	q[28] = 3;				/* a Registration Reply */
	n = mk_icmp(m, 3, 3, 0, q, sizeof(udp_ipip));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_NOT_TUNNEL);
	memcpy(q, gre_plain, sizeof(gre_plain));
	q[21] = 1;
	n = mk_icmp(m, 3, 1, 0, q, sizeof(gre_plain));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_NOT_TUNNEL);
	n = mk_icmp(m, 3, 1, 0, ipip, sizeof(ipip));
	m[2] ^= 1;
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_CHECKSUM);
	ck_assert_int_eq(encap_icmp_parse(m, 7, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_TRUNCATED);
	n = mk_icmp(m, 3, 1, 0, ipip, 19);
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_TRUNCATED);
	memcpy(q, ipip, sizeof(ipip));
	q[0] = 0x65;
	n = mk_icmp(m, 3, 1, 0, q, sizeof(ipip));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_MALFORMED);
}
END_TEST

START_TEST(test_icmp_relay_param)
{
	uint8_t		 m[128], quote[600];
	struct encap_icmp r;
	size_t		 n;

	/* §4.5: our outer header: not relayed; the inner TTL: relayed. */
	n = mk_icmp(m, 12, 0, 8u << 24, ipip, sizeof(ipip));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(!r.relay);
	n = mk_icmp(m, 12, 0, 28u << 24, ipip, sizeof(ipip));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(r.relay);
	ck_assert_uint_eq(r.relay_err.type, 12);
	ck_assert_uint_eq(r.relay_err.pointer, 8);
	/* Minimal: TTL is the original's, the destination ours, then payload. */
	n = mk_icmp(m, 12, 0, 8u << 24, min_s1, sizeof(min_s1));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(r.relay);
	ck_assert_uint_eq(r.relay_err.pointer, 8);
	n = mk_icmp(m, 12, 0, 16u << 24, min_s1, sizeof(min_s1));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(!r.relay);
	n = mk_icmp(m, 12, 0, 24u << 24, min_s1, sizeof(min_s1));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(!r.relay);			/* the forwarding header */
	n = mk_icmp(m, 12, 0, 33u << 24, min_s1, sizeof(min_s1));
	ck_assert_int_eq(encap_icmp_parse(m, n, &r, quote, sizeof(quote)),
	    ENCAP_ICMP_OK);
	ck_assert(r.relay);
	ck_assert_uint_eq(r.relay_err.pointer, 21);
}
END_TEST

/* Truncations of an ICMP message never read past it. */
START_TEST(test_icmp_relay_truncation)
{
	uint8_t		 m[128], *c, quote[600];
	struct encap_icmp r;
	size_t		 n, k;

	n = mk_icmp(m, 3, 4, 1400, udp_gre, sizeof(udp_gre));
	for (k = 0; k < n; k++) {
		c = malloc(k ? k : 1);
		ck_assert_ptr_nonnull(c);
		memcpy(c, m, k);
		if (k >= 4) {
			/* Make the checksum right so parsing goes deep. */
			put_be16(c + 2, 0);
			put_be16(c + 2, ip4_checksum(c, k));
		}
		(void)encap_icmp_parse(c, k, &r, quote, sizeof(quote));
		ck_assert_uint_le(r.quote_len, k);
		free(c);
	}
}
END_TEST

static Suite *
encap_suite(void)
{
	Suite		*s = suite_create("encap");
	TCase		*tc;

	tc = tcase_create("ip4");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_csum_rfc1071);
	tcase_add_test(tc, test_csum_large);
	tcase_add_test(tc, test_csum_incremental);
	tcase_add_test(tc, test_ip4_parse);
	tcase_add_test(tc, test_ip4_write);
	tcase_add_test(tc, test_ip4_frag);
	tcase_add_test(tc, test_icmp_build);
	tcase_add_test(tc, test_icmp_suppressed);
	suite_add_tcase(s, tc);

	tc = tcase_create("encap");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_kat_encap, 0, NKATS);
	tcase_add_loop_test(tc, test_kat_decap, 0, NKATS);
	tcase_add_loop_test(tc, test_kat_decap_udp, 0, NKATS);
	tcase_add_loop_test(tc, test_truncation, 0, NKATS);
	tcase_add_loop_test(tc, test_bitflip, 0, NKATS);
	tcase_add_loop_test(tc, test_mtu, 0, NKATS);
	tcase_add_test(tc, test_checksums_rejected);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_ttl);
	tcase_add_test(tc, test_df_tos_id);
	tcase_add_test(tc, test_fragment_then_encap);
	tcase_add_test(tc, test_encap_errors);
	tcase_add_test(tc, test_decap_outer);
	tcase_add_test(tc, test_decap_inner);
	tcase_add_test(tc, test_decap_gre);
	tcase_add_test(tc, test_gre_seq);
	tcase_add_test(tc, test_decap_udp_errors);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("icmp-relay");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_icmp_relay_needfrag);
	tcase_add_test(tc, test_icmp_relay_types);
	tcase_add_test(tc, test_icmp_relay_variants);
	tcase_add_test(tc, test_icmp_relay_param);
	tcase_add_test(tc, test_icmp_relay_truncation);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner		*sr = srunner_create(encap_suite());
	int		 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
