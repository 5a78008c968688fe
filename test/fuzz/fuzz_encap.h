/*
 * fuzz_encap.h - shared harness of the decapsulation fuzz targets
 * (fuzz_decap_ipip.c, fuzz_decap_gre.c, fuzz_decap_minimal.c,
 * fuzz_decap_udp.c).  A target calls fuzz_encap_one() with its
 * encapsulation.  Three passes per input:
 *
 *  1. raw: the input as a received datagram, decapsulated from an
 *     exact-size heap copy (ASan sees any overread);
 *  2. fixed: lengths, protocol numbers and every checksum repaired, so
 *     mutations reach the deep checks instead of dying at the first
 *     checksum;
 *  3. round trip: the input, repaired into a valid IPv4 datagram, is
 *     encapsulated and decapsulated again and must come back unchanged
 *     (TTL aside); a datagram over the MTU is fragmented (ip4_frag) and
 *     every piece must come back.
 *
 * Accepted results must be self-consistent; anything else aborts.
 */
#ifndef MIPHA_FUZZ_ENCAP_H
#define MIPHA_FUZZ_ENCAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encap.h"
#include "ip4.h"
#include "wire.h"

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

#define FZ_MAX		(IP4_MAX_LEN - ENCAP_HEADROOM)

static const uint8_t fz_ha[4] = { 198, 51, 100, 1 };
static const uint8_t fz_coa[4] = { 198, 51, 100, 20 };
static uint8_t fz_buf[ENCAP_HEADROOM + IP4_MAX_LEN];
static uint8_t fz_orig[IP4_MAX_LEN];

static struct in_addr
fz_addr(const uint8_t a[4])
{
	struct in_addr	 in;

	memcpy(&in.s_addr, a, 4);
	return in;
}

static void
fz_check_result(const uint8_t *b, size_t blen, const struct decap_result *r,
    enum encap_type expect)
{
	struct ip4_hdr	 h;

	FZ_CHECK(r->inner_off <= blen && r->inner_len <= blen - r->inner_off);
	FZ_CHECK(ip4_parse(b + r->inner_off, r->inner_len, &h) == IP4_OK);
	FZ_CHECK(h.tot_len == r->inner_len && r->inner.tot_len == h.tot_len);
	FZ_CHECK(h.src.s_addr == r->inner.src.s_addr);
	FZ_CHECK(h.dst.s_addr == r->inner.dst.s_addr);
	FZ_CHECK(h.ttl != 0);
	FZ_CHECK(r->encap == ENCAP_IPIP || r->encap == ENCAP_GRE ||
	    r->encap == ENCAP_MINIMAL);
	FZ_CHECK(expect == ENCAP_ANY || r->encap == expect);
}

/* decap_ip() on an exact-size copy; checks what it accepts. */
static enum decap_err
fz_decap(const uint8_t *p, size_t n, enum encap_type expect)
{
	struct decap_result r;
	enum decap_err	 e;
	uint8_t		*b = malloc(n ? n : 1);

	if (b == NULL)
		abort();
	if (n > 0)
		memcpy(b, p, n);
	e = decap_ip(b, n, expect, &r);
	FZ_CHECK((unsigned)e < DECAP_ERR_MAX);
	FZ_CHECK(strcmp(decap_err_str(e), "unknown") != 0);
	if (e == DECAP_OK)
		fz_check_result(b, n, &r, expect);
	free(b);
	return e;
}

/* decap_udp() on an exact-size copy of a UDP payload, 8 octets of headroom. */
static void
fz_decap_udp(const uint8_t *p, size_t n, enum encap_type expect, uint8_t ttl)
{
	struct decap_udp_outer o;
	struct decap_result r;
	uint8_t		*b = malloc(8 + n);

	if (b == NULL)
		abort();
	memset(b, 0, 8);
	if (n > 0)
		memcpy(b + 8, p, n);
	memset(&o, 0, sizeof(o));
	o.src = fz_addr(fz_coa);
	o.dst = fz_addr(fz_ha);
	o.sport = 49152;
	o.dport = 434;
	o.ttl = ttl;
	if (decap_udp(b, 8, n, &o, expect, &r) == DECAP_OK) {
		fz_check_result(b, 8 + n, &r, expect);
		FZ_CHECK(r.udp && r.inner_off + r.inner_len == 8 + n);
	}
	free(b);
}

/* Makes p[0, avail) one valid IPv4 datagram; returns its header length. */
static size_t
fz_fix_ip(uint8_t *p, size_t avail)
{
	size_t		 hl;

	if (avail < IP4_HDR_LEN || avail > IP4_MAX_LEN)
		return 0;
	hl = (size_t)(p[0] & 0x0f) * 4;
	if (hl < IP4_HDR_LEN || hl > avail)
		hl = IP4_HDR_LEN;
	p[0] = (uint8_t)(0x40 | hl / 4);
	put_be16(p + 2, (uint16_t)avail);
	put_be16(p + 10, 0);
	put_be16(p + 10, ip4_checksum(p, hl));
	return hl;
}

/* Repairs the encapsulation header t at pkt[off, end) and what follows. */
static void
fz_fix_encap(uint8_t *pkt, size_t off, size_t end, enum encap_type t)
{
	uint8_t		*g = pkt + off;
	uint16_t	 f;
	size_t		 glen, mlen;

	switch (t) {
	case ENCAP_IPIP:
		fz_fix_ip(g, end - off);
		break;
	case ENCAP_GRE:
		if (end - off < 4)
			return;
		/* Version 0, no RFC 1701 routing; keep C, K, S as mutated. */
		f = get_be16(g) & 0xb3f8;
		put_be16(g, f);
		put_be16(g + 2, ENCAP_GRE_PROTO_IPV4);
		glen = 4 + (f & 0x8000 ? 4 : 0) + (f & 0x2000 ? 4 : 0) +
		    (f & 0x1000 ? 4 : 0);
		if (end - off < glen)
			return;
		fz_fix_ip(g + glen, end - off - glen);
		if (f & 0x8000) {
			put_be16(g + 4, 0);
			put_be16(g + 4, ip4_checksum(g, end - off));
		}
		break;
	default:
		if (end - off < 2)
			return;
		mlen = g[1] & 0x80 ? ENCAP_MIN_HDR_LEN_S : ENCAP_MIN_HDR_LEN;
		if (end - off < mlen)
			return;
		put_be16(g + 2, 0);
		put_be16(g + 2, ip4_checksum(g, mlen));
		break;
	}
}

/* Pass 2: the input repaired into a plausible tunnelled datagram. */
static void
fz_fixed(const uint8_t *data, size_t n, enum encap_type t, bool udp,
    uint8_t knobs)
{
	uint8_t		*p = fz_buf, *u;
	size_t		 hl;

	if (n < IP4_HDR_LEN || n > IP4_MAX_LEN)
		return;
	memcpy(p, data, n);
	hl = (size_t)(p[0] & 0x0f) * 4;
	if (hl < IP4_HDR_LEN || hl > n)
		hl = IP4_HDR_LEN;
	p[0] = (uint8_t)(0x40 | hl / 4);
	put_be16(p + 2, (uint16_t)n);
	if (!(knobs & 0x01))
		put_be16(p + 6, get_be16(p + 6) & IP4_DF);	/* not a fragment */
	p[9] = udp ? IP4_PROTO_UDP : (uint8_t)t;
	if (udp) {
		u = p + hl;
		if (n - hl >= ENCAP_UDP_HDR_LEN + ENCAP_MIP_HDR_LEN) {
			put_be16(u + 4, (uint16_t)(n - hl));
			put_be16(u + 6, 0);
			u[8] = ENCAP_MIP_TUNNEL_DATA;
			u[9] = (uint8_t)t;
			fz_fix_encap(p, hl + 12, n, t);
			if (knobs & 0x02) {
				uint8_t		 ph[12];
				uint32_t	 s;
				uint16_t	 c;

				memcpy(ph, p + 12, 8);
				ph[8] = 0;
				ph[9] = IP4_PROTO_UDP;
				put_be16(ph + 10, (uint16_t)(n - hl));
				s = ip4_csum_add(0, ph, 12);
				c = ip4_csum_fold(ip4_csum_add(s, u, n - hl));
				put_be16(u + 6, c == 0 ? 0xffff : c);
			}
			fz_decap_udp(u + 8, n - hl - 8, knobs & 0x04 ? t : ENCAP_ANY,
			    p[8]);
		}
	} else
		fz_fix_encap(p, hl, n, t);
	put_be16(p + 10, 0);
	put_be16(p + 10, ip4_checksum(p, hl));
	(void)fz_decap(p, n, knobs & 0x04 ? t : ENCAP_ANY);
}

/* Encapsulates in[0, n) with p into fz_buf and expects it back. */
static void
fz_encap_decap(const uint8_t *in, size_t n, const struct encap_params *p)
{
	struct encap_result er;
	struct decap_result dr;
	enum encap_err	 e;
	struct ip4_hdr	 ih;
	bool		 fwd = p->flags & ENCAP_F_FORWARDING;

	FZ_CHECK(ip4_parse(in, n, &ih) == IP4_OK);
	memcpy(fz_buf + ENCAP_HEADROOM, in, n);
	e = encap_packet(fz_buf, ENCAP_HEADROOM, n, p, &er);
	if (e != ENCAP_OK) {
		/* Refused before anything was written. */
		FZ_CHECK(memcmp(fz_buf + ENCAP_HEADROOM, in, n) == 0);
		FZ_CHECK(e != ENCAP_ERR_INNER && e != ENCAP_ERR_HEADROOM &&
		    e != ENCAP_ERR_PARAM);
		if (e == ENCAP_ERR_TOO_BIG || e == ENCAP_ERR_FRAG_NEEDED) {
			FZ_CHECK(p->mtu != 0 || n + ENCAP_HEADROOM > IP4_MAX_LEN);
			FZ_CHECK(er.mtu >= IP4_MIN_MTU &&
			    (er.mtu < n || er.mtu == IP4_MIN_MTU));
			FZ_CHECK((e == ENCAP_ERR_TOO_BIG) == ((ih.frag & IP4_DF) != 0));
		}
		if (e == ENCAP_ERR_FRAGMENT)
			FZ_CHECK(p->type == ENCAP_MINIMAL && ip4_is_fragment(&ih));
		if (e == ENCAP_ERR_TTL)
			FZ_CHECK(ih.ttl == 0 || (fwd && ih.ttl == 1));
		return;
	}
	FZ_CHECK(er.pkt >= fz_buf && er.pkt + er.len == fz_buf + ENCAP_HEADROOM + n);
	FZ_CHECK(p->mtu == 0 || er.len <= p->mtu);
	FZ_CHECK(decap_ip(er.pkt, er.len, p->type, &dr) == DECAP_OK);
	fz_check_result(er.pkt, er.len, &dr, p->type);
	FZ_CHECK(dr.inner_len == n);
	FZ_CHECK(dr.udp == ((p->flags & ENCAP_F_UDP) != 0));
	FZ_CHECK(dr.outer.src.s_addr == p->src.s_addr);
	FZ_CHECK(dr.outer.dst.s_addr == p->dst.s_addr);
	/* Unchanged but for the TTL (and with it the checksum). */
	FZ_CHECK(er.pkt[dr.inner_off + 8] == (uint8_t)(ih.ttl - (fwd ? 1 : 0)));
	FZ_CHECK(memcmp(er.pkt + dr.inner_off, in, 8) == 0);
	FZ_CHECK(er.pkt[dr.inner_off + 9] == in[9]);
	FZ_CHECK(memcmp(er.pkt + dr.inner_off + 12, in + 12, n - 12) == 0);
	if (!fwd)
		FZ_CHECK(memcmp(er.pkt + dr.inner_off, in, n) == 0);
}

/* Pass 3: round trip of the input as an inner datagram. */
static void
fz_roundtrip(const uint8_t *data, size_t n, enum encap_type t, bool udp,
    uint8_t knobs)
{
	static uint8_t	 frag[IP4_MAX_LEN];
	struct encap_params p;
	struct encap_result er;
	struct ip4_frag	 f;
	struct ip4_hdr	 h;
	enum ip4_err	 fe;
	uint16_t	 id = 1;
	uint32_t	 seq = 0;
	size_t		 fl;
	enum encap_err	 e;

	if (n < IP4_HDR_LEN || n > FZ_MAX)
		return;
	memcpy(fz_orig, data, n);
	if (fz_fix_ip(fz_orig, n) == 0)
		return;
	memset(&p, 0, sizeof(p));
	p.type = t;
	p.flags = (knobs & 0x08 ? ENCAP_F_FORWARDING : 0) |
	    (knobs & 0x10 ? ENCAP_F_DF : 0) |
	    (knobs & 0x20 ? ENCAP_F_GRE_CSUM | ENCAP_F_UDP_CSUM : 0) |
	    (knobs & 0x40 ? ENCAP_F_GRE_KEY : 0) |
	    (knobs & 0x80 ? ENCAP_F_GRE_SEQ : 0) |
	    (udp ? ENCAP_F_UDP : 0);
	p.src = fz_addr(fz_ha);
	p.dst = fz_addr(fz_coa);
	p.sport = 434;
	p.dport = get_be16(fz_orig + 4);
	p.ttl = 64;
	p.gre_key = get_be32(fz_orig + 12);
	p.ip_id = &id;
	p.gre_seq = &seq;
	/* Every other input goes through a small tunnel MTU. */
	p.mtu = knobs & 0x01 ? (uint16_t)(100 + fz_orig[1] * 4) : 0;
	fz_encap_decap(fz_orig, n, &p);

	/* Too big without DF: fragment the inner datagram, tunnel each piece. */
	memcpy(fz_buf + ENCAP_HEADROOM, fz_orig, n);
	e = encap_packet(fz_buf, ENCAP_HEADROOM, n, &p, &er);
	if (e != ENCAP_ERR_FRAG_NEEDED)
		return;
	if (t == ENCAP_MINIMAL) {
		/* Minimal cannot carry fragments: fragment the outer datagram. */
		fl = p.mtu;
		p.mtu = 0;
		memcpy(fz_buf + ENCAP_HEADROOM, fz_orig, n);
		if (encap_packet(fz_buf, ENCAP_HEADROOM, n, &p, &er) != ENCAP_OK)
			return;
		memcpy(fz_orig, er.pkt, er.len);
		n = er.len;
		fe = ip4_frag_init(&f, fz_orig, n, fl);
		FZ_CHECK(fe == IP4_OK || fe == IP4_ERR_OPTIONS || fe == IP4_ERR_MTU);
		while (fe == IP4_OK &&
		    (fl = ip4_frag_next(&f, frag, sizeof(frag))) > 0) {
			FZ_CHECK(ip4_parse(frag, fl, &h) == IP4_OK);
			FZ_CHECK(ip4_is_fragment(&h) && fz_decap(frag, fl,
			    ENCAP_ANY) == DECAP_ERR_FRAGMENT);
		}
		return;
	}
	fe = ip4_frag_init(&f, fz_orig, n, er.mtu);
	FZ_CHECK(fe == IP4_OK || fe == IP4_ERR_OPTIONS || fe == IP4_ERR_TOTLEN);
	while (fe == IP4_OK && (fl = ip4_frag_next(&f, frag, sizeof(frag))) > 0) {
		FZ_CHECK(fl <= er.mtu && ip4_parse(frag, fl, &h) == IP4_OK);
		fz_encap_decap(frag, fl, &p);
	}
}

static int
fuzz_encap_one(const uint8_t *data, size_t size, enum encap_type t, bool udp)
{
	uint8_t		 knobs = size > 0 ? data[size - 1] : 0;

	if (size > IP4_MAX_LEN)
		return 0;
	(void)fz_decap(data, size, ENCAP_ANY);
	(void)fz_decap(data, size, t);
	if (udp && size >= 4)
		fz_decap_udp(data, size, ENCAP_ANY, 64);
	fz_fixed(data, size, t, udp, knobs);
	fz_roundtrip(data, size, t, udp, knobs);
	return 0;
}

#endif /* MIPHA_FUZZ_ENCAP_H */
