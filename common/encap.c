/*
 * encap.c - IP in IP (RFC 2003), GRE (RFC 2784, RFC 2890), minimal
 * encapsulation (RFC 2004) and RFC 3519 UDP tunnelling, both directions,
 * and the RFC 2003 §4 ICMP relay.  See encap.h.
 *
 * Every length is checked against the octets the enclosing header says
 * are there before a field is read; positions are offsets from the start
 * of the caller's buffer so that no pointer is formed past its end.
 */
#include <string.h>

#include "encap.h"
#include "wire.h"

/* GRE flags and version, the first 16 bits (RFC 2784 §2.1, RFC 2890 §2). */
#define GRE_F_C		0x8000	/* Checksum Present, RFC 2784 §2.2 */
#define GRE_F_R		0x4000	/* Routing Present, RFC 1701 only */
#define GRE_F_K		0x2000	/* Key Present, RFC 2890 §2 */
#define GRE_F_S		0x1000	/* Sequence Number Present, RFC 2890 §2 */
#define GRE_F_SSR	0x0800	/* Strict Source Route, RFC 1701 only */
#define GRE_F_REC_MSB	0x0400	/* bit 5: top bit of RFC 1701 Recursion Control */
#define GRE_VER		0x0007	/* Version, RFC 2784 §2.3.1 */
/*
 * RFC 2784 §2.3: discard when any of bits 1-5 is set unless RFC 1701 is
 * implemented; we implement RFC 2890's K and S (bits 2, 3) but not RFC
 * 1701 routing (bits 1, 4) or recursion (bit 5).  Bits 6-12 are ignored.
 */
#define GRE_F_REJECT	(GRE_F_R | GRE_F_SSR | GRE_F_REC_MSB)

#define MIN_F_S		0x80	/* Original Source Address Present, RFC 2004 §3 */

const char *
encap_type_name(enum encap_type t)
{
	switch (t) {
	case ENCAP_ANY:		return "any";
	case ENCAP_IPIP:	return "ipip";
	case ENCAP_GRE:		return "gre";
	case ENCAP_MINIMAL:	return "minimal";
	}
	return "unknown";
}

const char *
encap_err_str(enum encap_err e)
{
	switch (e) {
	case ENCAP_OK:			return "ok";
	case ENCAP_ERR_INNER:		return "inner-malformed";
	case ENCAP_ERR_TTL:		return "ttl";
	case ENCAP_ERR_TOO_BIG:		return "too-big";
	case ENCAP_ERR_FRAG_NEEDED:	return "fragmentation-needed";
	case ENCAP_ERR_FRAGMENT:	return "fragment";
	case ENCAP_ERR_LOOP:		return "loop";
	case ENCAP_ERR_HEADROOM:	return "headroom";
	case ENCAP_ERR_PARAM:		return "param";
	}
	return "unknown";
}

static const char *const decap_err_names[DECAP_ERR_MAX] = {
	[DECAP_OK]			= "ok",
	[DECAP_ERR_TRUNCATED]		= "truncated",
	[DECAP_ERR_OUTER_MALFORMED]	= "outer-malformed",
	[DECAP_ERR_FRAGMENT]		= "fragment",
	[DECAP_ERR_CHECKSUM]		= "checksum",
	[DECAP_ERR_PROTOCOL]		= "protocol",
	[DECAP_ERR_GRE_UNSUPPORTED]	= "gre-unsupported",
	[DECAP_ERR_UDP_MALFORMED]	= "udp-malformed",
	[DECAP_ERR_NEXT_HEADER]		= "next-header",
	[DECAP_ERR_INNER_MALFORMED]	= "inner-malformed",
	[DECAP_ERR_TTL]			= "ttl",
	[DECAP_ERR_HEADROOM]		= "headroom",
};

const char *
decap_err_str(enum decap_err e)
{
	if ((unsigned)e >= DECAP_ERR_MAX)
		return "unknown";
	return decap_err_names[e];
}

const char *
encap_icmp_err_str(enum encap_icmp_err e)
{
	switch (e) {
	case ENCAP_ICMP_OK:		return "ok";
	case ENCAP_ICMP_TRUNCATED:	return "truncated";
	case ENCAP_ICMP_CHECKSUM:	return "checksum";
	case ENCAP_ICMP_NOT_ERROR:	return "not-error";
	case ENCAP_ICMP_MALFORMED:	return "malformed";
	case ENCAP_ICMP_NOT_TUNNEL:	return "not-tunnel";
	}
	return "unknown";
}

static bool
encap_type_valid(unsigned t)
{
	return t == ENCAP_IPIP || t == ENCAP_GRE || t == ENCAP_MINIMAL;
}

static size_t
gre_hdr_len(uint16_t flags)
{
	return 4 + (flags & GRE_F_C ? 4 : 0) + (flags & GRE_F_K ? 4 : 0) +
	    (flags & GRE_F_S ? 4 : 0);
}

static uint16_t
gre_flags(unsigned f)
{
	return (uint16_t)((f & ENCAP_F_GRE_CSUM ? GRE_F_C : 0) |
	    (f & ENCAP_F_GRE_KEY ? GRE_F_K : 0) |
	    (f & ENCAP_F_GRE_SEQ ? GRE_F_S : 0));
}

/* Octets in front of the inner datagram, or added to it (minimal). */
static size_t
overhead(const struct encap_params *p, bool min_s)
{
	size_t		 n;

	n = p->flags & ENCAP_F_UDP ? ENCAP_UDP_HDR_LEN + ENCAP_MIP_HDR_LEN : 0;
	switch (p->type) {
	case ENCAP_MINIMAL:
		/* No outer header: the original one is modified (RFC 2004 §3). */
		return n + (min_s ? ENCAP_MIN_HDR_LEN_S : ENCAP_MIN_HDR_LEN);
	case ENCAP_GRE:
		return IP4_HDR_LEN + n + gre_hdr_len(gre_flags(p->flags));
	default:
		return IP4_HDR_LEN + n;
	}
}

size_t
encap_overhead(const struct encap_params *p)
{
	return overhead(p, true);
}

/* UDP checksum over the pseudo header and the datagram, RFC 768. */
static uint16_t
udp_checksum(const uint8_t *udp, size_t len, struct in_addr src,
    struct in_addr dst)
{
	uint8_t		 ph[12];
	uint32_t	 sum;

	memcpy(ph, &src.s_addr, 4);
	memcpy(ph + 4, &dst.s_addr, 4);
	ph[8] = 0;
	ph[9] = IP4_PROTO_UDP;
	put_be16(ph + 10, (uint16_t)len);
	sum = ip4_csum_add(0, ph, sizeof(ph));
	return ip4_csum_fold(ip4_csum_add(sum, udp, len));
}

/* UDP header (ports, length, checksum 0) and MIP Tunnel Data header. */
static void
write_udp_mip(uint8_t *u, const struct encap_params *p, size_t udp_len)
{
	put_be16(u, p->sport);
	put_be16(u + 2, p->dport);
	put_be16(u + 4, (uint16_t)udp_len);
	put_be16(u + 6, 0);
	/* RFC 3519 §3.3: Type 4, Next Header, Reserved sent as 0. */
	u[8] = ENCAP_MIP_TUNNEL_DATA;
	u[9] = (uint8_t)p->type;
	put_be16(u + 10, 0);
}

static void
finish_udp(uint8_t *u, size_t udp_len, const struct encap_params *p,
    struct in_addr src)
{
	uint16_t	 c;

	if (!(p->flags & ENCAP_F_UDP_CSUM))
		return;
	c = udp_checksum(u, udp_len, src, p->dst);
	put_be16(u + 6, c == 0 ? 0xffff : c);	/* 0 means none, RFC 768 */
}

/* IP in IP and GRE, each optionally in UDP: a new outer header in front. */
static void
encap_outer(uint8_t *in, size_t len, const struct ip4_hdr *ih,
    const struct encap_params *p, size_t ovh, struct encap_result *r)
{
	struct ip4_hdr	 oh;
	uint8_t		*out = in - ovh, *o = out + IP4_HDR_LEN, *g;
	bool		 udp = p->flags & ENCAP_F_UDP;
	uint16_t	 gf;

	if (udp) {
		write_udp_mip(o, p, len + ovh - IP4_HDR_LEN);
		r->udp_payload = IP4_HDR_LEN + ENCAP_UDP_HDR_LEN;
		o += ENCAP_UDP_HDR_LEN + ENCAP_MIP_HDR_LEN;
	}
	if (p->type == ENCAP_GRE) {
		/* RFC 2784 §2.1, RFC 2890 §2: version 0, reserved 0, type 0x0800. */
		g = o;
		gf = gre_flags(p->flags);
		put_be16(o, gf);
		put_be16(o + 2, ENCAP_GRE_PROTO_IPV4);
		o += 4;
		if (gf & GRE_F_C) {
			put_be32(o, 0);		/* checksum below, Reserved1 0 (§2.6) */
			o += 4;
		}
		if (gf & GRE_F_K) {
			put_be32(o, p->gre_key);
			o += 4;
		}
		if (gf & GRE_F_S) {
			/* RFC 2890 §2.2: a free-running counter from 0. */
			put_be32(o, p->gre_seq != NULL ? (*p->gre_seq)++ : 0);
			o += 4;
		}
		if (gf & GRE_F_C)	/* over GRE header and payload, §2.5 */
			put_be16(g + 4, ip4_checksum(g, (size_t)(in + len - g)));
	}

	/* RFC 2003 §3.1. */
	memset(&oh, 0, sizeof(oh));
	oh.tos = ih->tos;
	oh.tot_len = (uint16_t)(len + ovh);
	oh.id = p->ip_id != NULL ? (*p->ip_id)++ : 0;
	oh.frag = (ih->frag & IP4_DF) || (p->flags & ENCAP_F_DF) ? IP4_DF : 0;
	oh.ttl = p->ttl;
	oh.proto = udp ? IP4_PROTO_UDP : (uint8_t)p->type;
	oh.src = p->src;
	oh.dst = p->dst;
	ip4_write_hdr(out, &oh);
	if (udp)
		finish_udp(out + IP4_HDR_LEN, len + ovh - IP4_HDR_LEN, p, p->src);
	r->pkt = out;
}

/*
 * Minimal encapsulation, RFC 2004 §3: the original header moves to the
 * front and is modified, the forwarding header goes between it and the
 * unmodified payload.  In UDP (RFC 3519 §4.2, the reverse of §4.3) the
 * modified header becomes the outer one, followed by UDP and MIP headers.
 */
static void
encap_minimal(uint8_t *in, size_t len, const struct ip4_hdr *ih,
    const struct encap_params *p, size_t ovh, bool s, struct encap_result *r)
{
	uint8_t		*out = in - ovh, *m;
	size_t		 hl = ih->hlen, mlen;
	bool		 udp = p->flags & ENCAP_F_UDP;

	memmove(out, in, hl);
	m = out + hl + (udp ? ENCAP_UDP_HDR_LEN + ENCAP_MIP_HDR_LEN : 0);
	mlen = s ? ENCAP_MIN_HDR_LEN_S : ENCAP_MIN_HDR_LEN;
	m[0] = ih->proto;			/* Protocol: the original */
	m[1] = s ? MIN_F_S : 0;			/* S, reserved 0 */
	put_be16(m + 2, 0);
	memcpy(m + 4, &ih->dst.s_addr, 4);	/* Original Destination */
	if (s)
		memcpy(m + 8, &ih->src.s_addr, 4);	/* Original Source */
	/* Only the forwarding header is covered. */
	put_be16(m + 2, ip4_checksum(m, mlen));

	/* The IP header: protocol, destination, source if S, total length. */
	out[9] = udp ? IP4_PROTO_UDP : IP4_PROTO_MINENC;
	memcpy(out + 16, &p->dst.s_addr, 4);
	if (s)
		memcpy(out + 12, &p->src.s_addr, 4);
	put_be16(out + 2, (uint16_t)(len + ovh));
	put_be16(out + 10, 0);
	put_be16(out + 10, ip4_checksum(out, hl));
	if (udp) {
		write_udp_mip(out + hl, p, len + ovh - hl);
		r->udp_payload = hl + ENCAP_UDP_HDR_LEN;
		finish_udp(out + hl, len + ovh - hl, p, p->src);
	}
	r->pkt = out;
}

enum encap_err
encap_packet(uint8_t *buf, size_t headroom, size_t len,
    const struct encap_params *p, struct encap_result *r)
{
	struct ip4_hdr	 ih;
	uint8_t		*in = buf + headroom;
	size_t		 ovh, mtu;
	bool		 fwd = p->flags & ENCAP_F_FORWARDING, s = false;

	memset(r, 0, sizeof(*r));
	if (!encap_type_valid(p->type))
		return ENCAP_ERR_PARAM;
	if (ip4_parse(in, len, &ih) != IP4_OK || ih.tot_len != len)
		return ENCAP_ERR_INNER;
	/* RFC 2003 §3.2: never tunnel back to, or on behalf of, an endpoint. */
	if (fwd && (ih.src.s_addr == p->src.s_addr ||
	    ih.src.s_addr == p->dst.s_addr))
		return ENCAP_ERR_LOOP;
	/* RFC 2003 §3.1: no TTL 0, before or after the forwarding decrement. */
	if (ih.ttl == 0 || (fwd && ih.ttl == 1))
		return ENCAP_ERR_TTL;
	if (p->type == ENCAP_MINIMAL) {
		if (ip4_is_fragment(&ih))
			return ENCAP_ERR_FRAGMENT;	/* RFC 2004 §3 MUST NOT */
		/* S = 1 unless the encapsulator is the original source. */
		s = ih.src.s_addr != p->src.s_addr;
	}
	ovh = overhead(p, s);
	if (headroom < ovh)
		return ENCAP_ERR_HEADROOM;
	mtu = p->mtu != 0 ? p->mtu : IP4_MAX_LEN;
	if (len + ovh > mtu) {
		/* RFC 2003 §5.1: the tunnel MTU minus the encapsulating headers. */
		r->mtu = mtu >= ovh + IP4_MIN_MTU ? (uint16_t)(mtu - ovh) :
		    IP4_MIN_MTU;
		return ih.frag & IP4_DF ? ENCAP_ERR_TOO_BIG : ENCAP_ERR_FRAG_NEEDED;
	}

	if (fwd) {
		ip4_dec_ttl(in);		/* RFC 2003 §3.1, RFC 1624 */
		ih.ttl--;
	}
	if (p->type == ENCAP_MINIMAL)
		encap_minimal(in, len, &ih, p, ovh, s, r);
	else
		encap_outer(in, len, &ih, p, ovh, r);
	r->len = len + ovh;
	r->overhead = ovh;
	return ENCAP_OK;
}

/* Decapsulation. */

/*
 * The inner datagram occupies pkt[off, end) exactly: version, IHL, total
 * length, checksum; TTL 0 is discarded (RFC 2003 §3.1).
 */
static enum decap_err
decap_inner(uint8_t *pkt, size_t off, size_t end, struct decap_result *r)
{
	switch (ip4_parse(pkt + off, end - off, &r->inner)) {
	case IP4_OK:
		break;
	case IP4_ERR_CHECKSUM:
		return DECAP_ERR_CHECKSUM;
	default:
		return DECAP_ERR_INNER_MALFORMED;
	}
	if (r->inner.tot_len != end - off)
		return DECAP_ERR_INNER_MALFORMED;
	if (r->inner.ttl == 0)
		return DECAP_ERR_TTL;
	r->inner_off = off;
	r->inner_len = end - off;
	return DECAP_OK;
}

/* GRE header at pkt[off, end), RFC 2784 §2, RFC 2890 §2. */
static enum decap_err
decap_gre(uint8_t *pkt, size_t off, size_t end, struct decap_result *r)
{
	const uint8_t	*g = pkt + off;
	uint16_t	 f;
	size_t		 glen, o;

	if (end - off < 4)
		return DECAP_ERR_TRUNCATED;
	f = get_be16(g);
	if ((f & GRE_VER) != 0 || (f & GRE_F_REJECT) != 0)
		return DECAP_ERR_GRE_UNSUPPORTED;	/* §2.3.1, §2.3 */
	/* §2.4 SHOULD discard unknown types; we carry IPv4 only (§3). */
	if (get_be16(g + 2) != ENCAP_GRE_PROTO_IPV4)
		return DECAP_ERR_GRE_UNSUPPORTED;
	glen = gre_hdr_len(f);
	if (end - off < glen)
		return DECAP_ERR_TRUNCATED;
	/* §2.2: a compliant implementation MUST accept and process it. */
	if ((f & GRE_F_C) && ip4_checksum(g, end - off) != 0)
		return DECAP_ERR_CHECKSUM;
	o = 4 + (f & GRE_F_C ? 4 : 0);		/* Reserved1 is not checked */
	if (f & GRE_F_K) {
		r->gre_key_present = true;
		r->gre_key = get_be32(g + o);
		o += 4;
	}
	if (f & GRE_F_S) {
		r->gre_seq_present = true;
		r->gre_seq = get_be32(g + o);
	}
	return decap_inner(pkt, off + glen, end, r);
}

/*
 * Minimal forwarding header at pkt[moff, end), RFC 2004 §3: verify its
 * checksum, then rebuild the original header in place right in front of
 * the payload from the hl octets of hdr (the received header, modified as
 * RFC 2004 §3 says) and the forwarding header, and drop the latter.
 * hdr may lie at pkt; the rebuilt header starts at pkt + payload - hl,
 * which the caller made sure is inside the buffer.
 */
static enum decap_err
decap_minimal(uint8_t *pkt, size_t moff, size_t end, const uint8_t *hdr,
    size_t hl, struct decap_result *r)
{
	const uint8_t	*m = pkt + moff;
	uint8_t		 proto, odst[4], osrc[4], *h;
	size_t		 mlen, pay, noff;
	bool		 s;

	if (end - moff < ENCAP_MIN_HDR_LEN)
		return DECAP_ERR_TRUNCATED;
	s = m[1] & MIN_F_S;			/* reserved bits ignored */
	mlen = s ? ENCAP_MIN_HDR_LEN_S : ENCAP_MIN_HDR_LEN;
	if (end - moff < mlen)
		return DECAP_ERR_TRUNCATED;
	if (ip4_checksum(m, mlen) != 0)
		return DECAP_ERR_CHECKSUM;
	/* The new header overlaps the forwarding header: read it first. */
	proto = m[0];
	memcpy(odst, m + 4, 4);
	if (s)
		memcpy(osrc, m + 8, 4);
	pay = moff + mlen;
	if (pay < hl)
		return DECAP_ERR_HEADROOM;
	noff = pay - hl;
	if (end - noff > IP4_MAX_LEN)
		return DECAP_ERR_INNER_MALFORMED;
	h = pkt + noff;
	memmove(h, hdr, hl);
	h[9] = proto;
	memcpy(h + 16, odst, 4);
	if (s)
		memcpy(h + 12, osrc, 4);
	put_be16(h + 2, (uint16_t)(end - noff));
	put_be16(h + 10, 0);
	put_be16(h + 10, ip4_checksum(h, hl));
	return decap_inner(pkt, noff, end, r);
}

/* MIP Tunnel Data header at pkt[off, end), RFC 3519 §3.3. */
static enum decap_err
decap_mip(uint8_t *pkt, size_t off, size_t end, enum encap_type expect,
    const uint8_t **mip)
{
	if (end - off < ENCAP_MIP_HDR_LEN)
		return DECAP_ERR_TRUNCATED;
	if (pkt[off] != ENCAP_MIP_TUNNEL_DATA)
		return DECAP_ERR_UDP_MALFORMED;
	/* The receiver MUST check Next Header against the binding's mode. */
	if (!encap_type_valid(pkt[off + 1]) ||
	    (expect != ENCAP_ANY && pkt[off + 1] != expect))
		return DECAP_ERR_NEXT_HEADER;
	*mip = pkt + off;			/* Reserved ignored on reception */
	return DECAP_OK;
}

/* UDP + MIP + inner encapsulation inside an outer IPv4 datagram. */
static enum decap_err
decap_ip_udp(uint8_t *pkt, size_t off, size_t end, enum encap_type expect,
    struct decap_result *r)
{
	const uint8_t	*u = pkt + off, *mip;
	enum decap_err	 e;
	size_t		 ulen, moff;

	if (end - off < ENCAP_UDP_HDR_LEN)
		return DECAP_ERR_TRUNCATED;
	ulen = get_be16(u + 4);
	if (ulen > end - off)
		return DECAP_ERR_TRUNCATED;
	if (ulen != end - off)			/* < 8, or data after the datagram */
		return DECAP_ERR_UDP_MALFORMED;
	if (get_be16(u + 6) != 0 &&
	    udp_checksum(u, ulen, r->outer.src, r->outer.dst) != 0)
		return DECAP_ERR_CHECKSUM;
	r->udp = true;
	r->sport = get_be16(u);
	r->dport = get_be16(u + 2);
	moff = off + ENCAP_UDP_HDR_LEN;
	if ((e = decap_mip(pkt, moff, end, expect, &mip)) != DECAP_OK)
		return e;
	r->encap = mip[1];
	moff += ENCAP_MIP_HDR_LEN;
	switch (r->encap) {
	case ENCAP_IPIP:
		return decap_inner(pkt, moff, end, r);
	case ENCAP_GRE:
		return decap_gre(pkt, moff, end, r);
	default:
		/* RFC 3519 §4.3: the outer header is the minimal one. */
		return decap_minimal(pkt, moff, end, pkt, r->outer.hlen, r);
	}
}

enum decap_err
decap_ip(uint8_t *pkt, size_t len, enum encap_type expect,
    struct decap_result *r)
{
	size_t		 off, end;

	memset(r, 0, sizeof(*r));
	switch (ip4_parse(pkt, len, &r->outer)) {
	case IP4_OK:
		break;
	case IP4_ERR_TRUNCATED:
		return DECAP_ERR_TRUNCATED;
	case IP4_ERR_CHECKSUM:
		return DECAP_ERR_CHECKSUM;
	default:
		return DECAP_ERR_OUTER_MALFORMED;
	}
	if (ip4_is_fragment(&r->outer))
		return DECAP_ERR_FRAGMENT;
	off = r->outer.hlen;
	end = r->outer.tot_len;			/* link padding after it ignored */
	if (r->outer.proto == IP4_PROTO_UDP)
		return decap_ip_udp(pkt, off, end, expect, r);
	if (!encap_type_valid(r->outer.proto) ||
	    (expect != ENCAP_ANY && r->outer.proto != expect))
		return DECAP_ERR_PROTOCOL;
	r->encap = r->outer.proto;
	switch (r->encap) {
	case ENCAP_IPIP:
		return decap_inner(pkt, off, end, r);
	case ENCAP_GRE:
		return decap_gre(pkt, off, end, r);
	default:
		return decap_minimal(pkt, off, end, pkt, r->outer.hlen, r);
	}
}

enum decap_err
decap_udp(uint8_t *buf, size_t headroom, size_t len,
    const struct decap_udp_outer *o, enum encap_type expect,
    struct decap_result *r)
{
	struct ip4_hdr	 h;
	const uint8_t	*mip;
	uint8_t		 tmpl[IP4_HDR_LEN];
	enum decap_err	 e;
	size_t		 end = headroom + len, moff;

	memset(r, 0, sizeof(*r));
	if (len > IP4_MAX_LEN - IP4_HDR_LEN - ENCAP_UDP_HDR_LEN)
		return DECAP_ERR_OUTER_MALFORMED;
	/* The datagram around the payload, as the socket reported it. */
	r->outer.hlen = IP4_HDR_LEN;
	r->outer.tos = o->tos;
	r->outer.tot_len = (uint16_t)(IP4_HDR_LEN + ENCAP_UDP_HDR_LEN + len);
	r->outer.ttl = o->ttl;
	r->outer.proto = IP4_PROTO_UDP;
	r->outer.src = o->src;
	r->outer.dst = o->dst;
	r->udp = true;
	r->sport = o->sport;
	r->dport = o->dport;
	if ((e = decap_mip(buf, headroom, end, expect, &mip)) != DECAP_OK)
		return e;
	r->encap = mip[1];
	moff = headroom + ENCAP_MIP_HDR_LEN;
	switch (r->encap) {
	case ENCAP_IPIP:
		return decap_inner(buf, moff, end, r);
	case ENCAP_GRE:
		return decap_gre(buf, moff, end, r);
	default:
		/* RFC 3519 §4.3 with the outer header rebuilt from o. */
		memset(&h, 0, sizeof(h));
		h.tos = o->tos;
		h.ttl = o->ttl;
		h.proto = IP4_PROTO_MINENC;
		h.src = o->src;
		h.dst = o->dst;
		ip4_write_hdr(tmpl, &h);
		return decap_minimal(buf, moff, end, tmpl, sizeof(tmpl), r);
	}
}

/* RFC 2890 §2.2, serial number arithmetic modulo 2^32. */
enum encap_gre_seq
encap_gre_seq_check(uint32_t last, uint32_t seq)
{
	if (seq == last + 1)
		return ENCAP_GRE_SEQ_NEXT;
	/* last and the preceding 2^31 - 1 values are out of sequence. */
	if (last - seq <= 0x7fffffffu)
		return ENCAP_GRE_SEQ_OLD;
	return ENCAP_GRE_SEQ_GAP;
}

/* ICMP relay, RFC 2003 §4. */

/*
 * Is the parameter problem pointer in a field of the modified header
 * copied unchanged from the original (RFC 2003 §4.5 via RFC 2004 §5)?
 * Version/IHL, TOS, Identification, flags/offset, TTL and options are;
 * total length, protocol, checksum and addresses are ours.
 */
static bool
min_hdr_field_copied(size_t ptr, size_t hl)
{
	return ptr <= 1 || (ptr >= 4 && ptr <= 8) ||
	    (ptr >= IP4_HDR_LEN && ptr < hl);
}

/* The RFC 2003 §4 decision, once the quote is parsed. */
static void
icmp_relay_decide(struct encap_icmp *r, uint8_t pointer, size_t mfh)
{
	struct icmp4_error *re = &r->relay_err;
	size_t		 hl = r->outer.hlen, mip;

	re->type = ICMP4_UNREACH;
	re->code = ICMP4_UNREACH_HOST;
	switch (r->type) {
	case ICMP4_UNREACH:
		switch (r->code) {
		case ICMP4_UNREACH_PORT:	/* §4.1 MUST NOT relay */
		case ICMP4_UNREACH_SRCFAIL:	/* §4.1 MUST NOT relay */
			return;
		case ICMP4_UNREACH_NEEDFRAG:	/* §4.1 MUST relay, §5.1 */
			re->code = ICMP4_UNREACH_NEEDFRAG;
			re->mtu = r->tunnel_mtu >= r->overhead + IP4_MIN_MTU ?
			    (uint16_t)(r->tunnel_mtu - r->overhead) : IP4_MIN_MTU;
			break;
		default:
			/* Net (§4.1 MAY be code 1: the tunnel extends the home
			 * network), host, protocol (§4.1) and the codes RFC 2003
			 * does not list: the mobile node is unreachable. */
			break;
		}
		break;
	case ICMP4_TIME_EXCEEDED:		/* §4.4 MUST, as host unreachable */
		break;
	case ICMP4_PARAM_PROBLEM:		/* §4.5 MAY, only copied fields */
		re->type = ICMP4_PARAM_PROBLEM;
		re->code = r->code;
		if (r->encap == ENCAP_MINIMAL) {
			mip = r->udp ? ENCAP_UDP_HDR_LEN + ENCAP_MIP_HDR_LEN : 0;
			if (pointer >= hl + mip + mfh)
				re->pointer = (uint8_t)(pointer - mip - mfh);
			else if (min_hdr_field_copied(pointer, hl))
				re->pointer = pointer;
			else
				return;
		} else if (pointer >= r->overhead)
			re->pointer = (uint8_t)(pointer - r->overhead);
		else
			return;
		break;
	default:				/* §4.2, §4.3: never relayed */
		return;
	}
	r->relay = true;
}

/*
 * Minimal encapsulation in a quote: rebuild the original header from the
 * quoted modified header and forwarding header (as decap_minimal() does)
 * into quote, followed by the quoted payload.
 */
static void
icmp_quote_minimal(const uint8_t *q, size_t qend, size_t moff, size_t mlen,
    struct encap_icmp *r, uint8_t *quote, size_t cap)
{
	uint8_t		 h[IP4_MAX_HDR_LEN];
	const uint8_t	*m = q + moff;
	size_t		 hl = r->outer.hlen, pay = moff + mlen, n;

	if (r->outer.tot_len < pay)
		return;				/* nonsense total length */
	memcpy(h, q, hl);
	h[9] = m[0];
	memcpy(h + 16, m + 4, 4);
	if (mlen == ENCAP_MIN_HDR_LEN_S)
		memcpy(h + 12, m + 8, 4);
	put_be16(h + 2, (uint16_t)(r->outer.tot_len - pay + hl));
	put_be16(h + 10, 0);
	put_be16(h + 10, ip4_checksum(h, hl));
	if (ip4_parse_quoted(h, hl, &r->inner) != IP4_OK)
		return;
	r->inner_present = true;
	if (cap < hl)
		return;
	memcpy(quote, h, hl);
	n = qend - pay;
	if (n > cap - hl)
		n = cap - hl;
	memcpy(quote + hl, q + pay, n);
	r->quote_len = hl + n;
}

static void
icmp_quote_inner(const uint8_t *q, size_t qend, size_t off,
    struct encap_icmp *r, uint8_t *quote, size_t cap)
{
	size_t		 n = qend - off;

	if (ip4_parse_quoted(q + off, n, &r->inner) != IP4_OK)
		return;
	r->inner_present = true;
	if (cap < r->inner.hlen)
		return;
	if (n > cap)
		n = cap;
	memcpy(quote, q + off, n);
	r->quote_len = n;
}

enum encap_icmp_err
encap_icmp_parse(const uint8_t *icmp, size_t len, struct encap_icmp *r,
    uint8_t *quote, size_t quote_cap)
{
	const uint8_t	*q;
	size_t		 qend, off, mlen = 0;
	uint16_t	 gf;
	uint8_t		 pointer;

	memset(r, 0, sizeof(*r));
	if (len < ICMP4_HDR_LEN)
		return ENCAP_ICMP_TRUNCATED;
	if (ip4_checksum(icmp, len) != 0)
		return ENCAP_ICMP_CHECKSUM;
	r->type = icmp[0];
	r->code = icmp[1];
	pointer = icmp[4];
	switch (r->type) {
	case ICMP4_UNREACH:
		if (r->code == ICMP4_UNREACH_NEEDFRAG)
			r->mtu = get_be16(icmp + 6);	/* RFC 1191 §4 */
		break;
	case ICMP4_SOURCE_QUENCH:
	case ICMP4_REDIRECT:
	case ICMP4_TIME_EXCEEDED:
	case ICMP4_PARAM_PROBLEM:
		break;
	default:
		return ENCAP_ICMP_NOT_ERROR;
	}

	q = icmp + ICMP4_HDR_LEN;
	switch (ip4_parse_quoted(q, len - ICMP4_HDR_LEN, &r->outer)) {
	case IP4_OK:
		break;
	case IP4_ERR_TRUNCATED:
		return ENCAP_ICMP_TRUNCATED;
	default:
		return ENCAP_ICMP_MALFORMED;
	}
	qend = len - ICMP4_HDR_LEN;
	if (qend > r->outer.tot_len)
		qend = r->outer.tot_len;
	off = r->outer.hlen;
	if (r->type == ICMP4_UNREACH && r->code == ICMP4_UNREACH_NEEDFRAG)
		r->tunnel_mtu = r->mtu != 0 ? r->mtu :
		    ip4_mtu_plateau(r->outer.tot_len);	/* RFC 1191 §5 */

	/* The delivery headers, as far as the quote goes (RFC 792: 8 octets). */
	if (r->outer.proto == IP4_PROTO_UDP) {
		r->udp = true;
		if (qend - off < 4)
			return ENCAP_ICMP_OK;
		r->sport = get_be16(q + off);
		r->dport = get_be16(q + off + 2);
		off += ENCAP_UDP_HDR_LEN;
		if (qend < off + 2)
			return ENCAP_ICMP_OK;
		if (q[off] != ENCAP_MIP_TUNNEL_DATA || !encap_type_valid(q[off + 1]))
			return ENCAP_ICMP_NOT_TUNNEL;
		r->encap = q[off + 1];
		off += ENCAP_MIP_HDR_LEN;
	} else if (encap_type_valid(r->outer.proto))
		r->encap = r->outer.proto;
	else
		return ENCAP_ICMP_NOT_TUNNEL;

	switch (r->encap) {
	case ENCAP_IPIP:
		r->overhead = off;
		break;
	case ENCAP_GRE:
		if (qend < off + 2)
			return ENCAP_ICMP_OK;
		gf = get_be16(q + off);
		if ((gf & (GRE_VER | GRE_F_REJECT)) != 0)
			return ENCAP_ICMP_NOT_TUNNEL;
		if (qend >= off + 4 && get_be16(q + off + 2) != ENCAP_GRE_PROTO_IPV4)
			return ENCAP_ICMP_NOT_TUNNEL;
		if ((gf & GRE_F_K) && qend >= off + 8 + (gf & GRE_F_C ? 4 : 0)) {
			r->gre_key_present = true;
			r->gre_key = get_be32(q + off + 4 + (gf & GRE_F_C ? 4 : 0));
		}
		off += gre_hdr_len(gf);
		r->overhead = off;
		break;
	default:
		/* The modified original header is the outer one (RFC 2004 §3). */
		if (qend < off + 2)
			return ENCAP_ICMP_OK;
		mlen = q[off + 1] & MIN_F_S ? ENCAP_MIN_HDR_LEN_S : ENCAP_MIN_HDR_LEN;
		r->overhead = off - r->outer.hlen + mlen;
		break;
	}

	if (r->encap == ENCAP_MINIMAL) {
		if (qend >= off + mlen)
			icmp_quote_minimal(q, qend, off, mlen, r, quote, quote_cap);
	} else if (qend > off)
		icmp_quote_inner(q, qend, off, r, quote, quote_cap);
	/* Nothing to relay about a datagram we originated ourselves. */
	if (r->inner_present && r->quote_len > 0 &&
	    r->inner.src.s_addr != r->outer.src.s_addr)
		icmp_relay_decide(r, pointer, mlen);
	return ENCAP_ICMP_OK;
}
