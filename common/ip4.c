/*
 * ip4.c - IPv4 headers, the Internet checksum, fragmentation and ICMP
 * errors (RFC 791, 1071, 1624, 792, 1191, 1812).  See ip4.h.
 */
#include <string.h>

#include "ip4.h"
#include "wire.h"

const char *
ip4_err_str(enum ip4_err e)
{
	switch (e) {
	case IP4_OK:		return "ok";
	case IP4_ERR_TRUNCATED:	return "truncated";
	case IP4_ERR_VERSION:	return "version";
	case IP4_ERR_HLEN:	return "header-length";
	case IP4_ERR_TOTLEN:	return "total-length";
	case IP4_ERR_CHECKSUM:	return "checksum";
	case IP4_ERR_DF:	return "dont-fragment";
	case IP4_ERR_MTU:	return "mtu";
	case IP4_ERR_OPTIONS:	return "options";
	}
	return "unknown";
}

/*
 * RFC 1071 §4.1, on 32-bit big-endian words: a word hi * 2^16 + lo is
 * congruent to hi + lo modulo 2^16 - 1, so summing 32-bit words into a
 * 64-bit accumulator and folding (end-around carry) gives the same
 * one's complement sum as 16-bit words, with half the additions.
 */
uint32_t
ip4_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t	*p = data;
	uint64_t	 s = sum;

	while (len >= 16) {
		s += get_be32(p);
		s += get_be32(p + 4);
		s += get_be32(p + 8);
		s += get_be32(p + 12);
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		s += get_be32(p);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		s += get_be16(p);
		p += 2;
		len -= 2;
	}
	if (len > 0)
		s += (uint32_t)p[0] << 8;	/* pad the odd octet, RFC 1071 §4.1 */
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

uint16_t
ip4_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t
ip4_checksum(const void *p, size_t len)
{
	return ip4_csum_fold(ip4_csum_add(0, p, len));
}

/* RFC 1624 §3, eqn. 3. */
uint16_t
ip4_csum_update16(uint16_t cksum, uint16_t old, uint16_t new)
{
	uint32_t	 s;

	s = (uint32_t)(uint16_t)~cksum + (uint16_t)~old + new;
	return ip4_csum_fold(s);
}

void
ip4_dec_ttl(uint8_t *p)
{
	uint16_t	 old, new;

	/* TTL shares the 16-bit word at octet 8 with Protocol. */
	old = get_be16(p + 8);
	p[8]--;
	new = get_be16(p + 8);
	put_be16(p + 10, ip4_csum_update16(get_be16(p + 10), old, new));
}

static void
ip4_fill(const uint8_t *p, size_t hlen, struct ip4_hdr *h)
{
	h->hlen = (uint8_t)hlen;
	h->tos = p[1];
	h->tot_len = get_be16(p + 2);
	h->id = get_be16(p + 4);
	h->frag = get_be16(p + 6);
	h->ttl = p[8];
	h->proto = p[9];
	h->cksum = get_be16(p + 10);
	memcpy(&h->src.s_addr, p + 12, 4);
	memcpy(&h->dst.s_addr, p + 16, 4);
}

/* RFC 791 §3.1: version, IHL; the header must be there. */
static enum ip4_err
ip4_check_hdr(const uint8_t *p, size_t len, size_t *hlen)
{
	if (len < IP4_HDR_LEN)
		return IP4_ERR_TRUNCATED;
	if (p[0] >> 4 != 4)
		return IP4_ERR_VERSION;
	*hlen = (size_t)(p[0] & 0x0f) * 4;
	if (*hlen < IP4_HDR_LEN)
		return IP4_ERR_HLEN;
	if (*hlen > len)
		return IP4_ERR_TRUNCATED;
	return IP4_OK;
}

enum ip4_err
ip4_parse(const uint8_t *p, size_t len, struct ip4_hdr *h)
{
	enum ip4_err	 e;
	size_t		 hlen, tot;

	if ((e = ip4_check_hdr(p, len, &hlen)) != IP4_OK)
		return e;
	tot = get_be16(p + 2);
	if (tot < hlen)
		return IP4_ERR_TOTLEN;
	if (tot > len)
		return IP4_ERR_TRUNCATED;
	if (ip4_checksum(p, hlen) != 0)
		return IP4_ERR_CHECKSUM;
	ip4_fill(p, hlen, h);
	return IP4_OK;
}

enum ip4_err
ip4_parse_quoted(const uint8_t *p, size_t len, struct ip4_hdr *h)
{
	enum ip4_err	 e;
	size_t		 hlen;

	if ((e = ip4_check_hdr(p, len, &hlen)) != IP4_OK)
		return e;
	if (get_be16(p + 2) < hlen)
		return IP4_ERR_TOTLEN;
	ip4_fill(p, hlen, h);
	return IP4_OK;
}

void
ip4_write_hdr(uint8_t *p, const struct ip4_hdr *h)
{
	p[0] = 0x45;			/* version 4, IHL 5 */
	p[1] = h->tos;
	put_be16(p + 2, h->tot_len);
	put_be16(p + 4, h->id);
	put_be16(p + 6, h->frag);
	p[8] = h->ttl;
	p[9] = h->proto;
	put_be16(p + 10, 0);
	memcpy(p + 12, &h->src.s_addr, 4);
	memcpy(p + 16, &h->dst.s_addr, 4);
	put_be16(p + 10, ip4_checksum(p, IP4_HDR_LEN));
}

/* Fragmentation, RFC 791 §3.2. */

/*
 * Collects the options with the copied flag (RFC 791 §3.1 "Options": the
 * flag is the top bit of the type octet) for fragments after the first,
 * padded with End of Option List to a multiple of 4 octets.
 */
static enum ip4_err
ip4_frag_options(struct ip4_frag *f, const uint8_t *p, size_t hlen)
{
	size_t		 i = IP4_HDR_LEN, n = 0, olen;

	while (i < hlen) {
		if (p[i] == 0)			/* End of Option List */
			break;
		if (p[i] == 1) {		/* No Operation, not copied */
			i++;
			continue;
		}
		if (i + 1 >= hlen)
			return IP4_ERR_OPTIONS;
		olen = p[i + 1];
		if (olen < 2 || olen > hlen - i)
			return IP4_ERR_OPTIONS;
		if (p[i] & 0x80) {
			memcpy(f->opt_copied + n, p + i, olen);
			n += olen;
		}
		i += olen;
	}
	while (n % 4 != 0)
		f->opt_copied[n++] = 0;
	f->opt_copied_len = (uint8_t)n;
	return IP4_OK;
}

enum ip4_err
ip4_frag_init(struct ip4_frag *f, const uint8_t *pkt, size_t len, size_t mtu)
{
	enum ip4_err	 e;

	memset(f, 0, sizeof(*f));
	if ((e = ip4_parse(pkt, len, &f->h)) != IP4_OK)
		return e;
	f->mtu = mtu > IP4_MAX_LEN ? IP4_MAX_LEN : mtu;
	if (f->h.tot_len > f->mtu) {
		if (f->h.frag & IP4_DF)
			return IP4_ERR_DF;
		if (f->mtu < (size_t)f->h.hlen + 8)
			return IP4_ERR_MTU;
		/* The last fragment's offset and length must fit in 16 bits. */
		if ((size_t)(f->h.frag & IP4_OFFMASK) * 8 + f->h.tot_len -
		    f->h.hlen > IP4_MAX_LEN)
			return IP4_ERR_TOTLEN;
		if ((e = ip4_frag_options(f, pkt, f->h.hlen)) != IP4_OK)
			return e;
	}
	f->pkt = pkt;		/* else a datagram that fits: one "fragment" */
	return IP4_OK;
}

size_t
ip4_frag_next(struct ip4_frag *f, uint8_t *out, size_t cap)
{
	const uint8_t	*p = f->pkt;
	size_t		 data, left, hl, n;
	bool		 first, last;
	uint16_t	 frag;

	if (p == NULL)
		return 0;
	if (f->h.tot_len <= f->mtu) {
		if (cap < f->h.tot_len)
			return 0;
		memcpy(out, p, f->h.tot_len);
		f->pkt = NULL;
		return f->h.tot_len;
	}
	data = (size_t)f->h.tot_len - f->h.hlen;
	first = f->done == 0;
	hl = first ? f->h.hlen : IP4_HDR_LEN + (size_t)f->opt_copied_len;
	left = data - f->done;
	n = f->mtu - hl;
	if (n >= left) {
		n = left;
		last = true;
	} else {
		n &= ~(size_t)7;		/* offsets count 8-octet blocks */
		last = false;
	}
	if (cap < hl + n)
		return 0;

	memcpy(out, p, IP4_HDR_LEN);
	if (first)
		memcpy(out + IP4_HDR_LEN, p + IP4_HDR_LEN, hl - IP4_HDR_LEN);
	else
		memcpy(out + IP4_HDR_LEN, f->opt_copied, f->opt_copied_len);
	out[0] = (uint8_t)(0x40 | hl / 4);
	put_be16(out + 2, (uint16_t)(hl + n));
	/* The original MF stays on the last piece (a fragment of a fragment). */
	frag = (uint16_t)((f->h.frag & IP4_OFFMASK) + f->done / 8);
	if (!last || (f->h.frag & IP4_MF))
		frag |= IP4_MF;
	put_be16(out + 6, frag);
	put_be16(out + 10, 0);
	put_be16(out + 10, ip4_checksum(out, hl));
	memcpy(out + hl, p + f->h.hlen + f->done, n);

	f->done += n;
	if (last)
		f->pkt = NULL;
	return hl + n;
}

/* ICMP errors, RFC 792. */

/* Informational ICMP types (RFC 792, RFC 950, RFC 1256); errors are never answered. */
static bool
icmp4_is_query(uint8_t type)
{
	switch (type) {
	case 0: case 8: case 9: case 10: case 13: case 14: case 15: case 16:
	case 17: case 18:
		return true;
	}
	return false;
}

bool
icmp4_error_allowed(const uint8_t *orig, size_t len)
{
	struct ip4_hdr	 h;
	uint32_t	 src, dst;

	if (ip4_parse_quoted(orig, len, &h) != IP4_OK)
		return false;
	/* Only about the first fragment (RFC 1122 §3.2.2). */
	if (h.frag & IP4_OFFMASK)
		return false;
	dst = ntohl(h.dst.s_addr);
	if (dst >= 0xe0000000)			/* multicast, class E, broadcast */
		return false;
	src = ntohl(h.src.s_addr);
	if (src >> 24 == 0 || src >> 24 == 127 || src >= 0xe0000000)
		return false;
	/* Never about an ICMP error (or a type we cannot tell). */
	if (h.proto == IP4_PROTO_ICMP &&
	    (len <= h.hlen || !icmp4_is_query(orig[h.hlen])))
		return false;
	return true;
}

size_t
icmp4_build_error(uint8_t *out, size_t cap, const struct icmp4_error *e,
    const uint8_t *orig, size_t orig_len)
{
	struct ip4_hdr	 h, oh;
	uint8_t		*icmp;
	size_t		 q, tot;

	if (!icmp4_error_allowed(orig, orig_len))
		return 0;
	(void)ip4_parse_quoted(orig, orig_len, &h);
	/* Quote the datagram, not link padding after it (RFC 1812 §4.3.2.3). */
	q = orig_len;
	if (q > h.tot_len)
		q = h.tot_len;
	if (q > ICMP4_ERR_QUOTE_MAX)
		q = ICMP4_ERR_QUOTE_MAX;
	tot = IP4_HDR_LEN + ICMP4_HDR_LEN + q;
	if (cap < tot)
		return 0;

	/* Quote first: orig may lie inside out. */
	icmp = out + IP4_HDR_LEN;
	memmove(icmp + ICMP4_HDR_LEN, orig, q);
	icmp[0] = e->type;
	icmp[1] = e->code;
	memset(icmp + 2, 0, 6);
	if (e->type == ICMP4_UNREACH && e->code == ICMP4_UNREACH_NEEDFRAG)
		put_be16(icmp + 6, e->mtu);	/* RFC 1191 §4 */
	else if (e->type == ICMP4_PARAM_PROBLEM)
		icmp[4] = e->pointer;
	put_be16(icmp + 2, ip4_checksum(icmp, ICMP4_HDR_LEN + q));

	memset(&oh, 0, sizeof(oh));
	oh.tos = 0xc0;				/* RFC 1812 §4.3.2.5 */
	oh.tot_len = (uint16_t)tot;
	oh.id = e->id;
	oh.ttl = 64;
	oh.proto = IP4_PROTO_ICMP;
	oh.src = e->src;
	oh.dst = h.src;
	ip4_write_hdr(out, &oh);
	return tot;
}

size_t
icmp4_build_host_unreach(uint8_t *out, size_t cap, struct in_addr src,
    uint16_t id, const uint8_t *orig, size_t orig_len)
{
	struct icmp4_error e = { .type = ICMP4_UNREACH,
	    .code = ICMP4_UNREACH_HOST, .src = src, .id = id };

	return icmp4_build_error(out, cap, &e, orig, orig_len);
}

size_t
icmp4_build_frag_needed(uint8_t *out, size_t cap, struct in_addr src,
    uint16_t id, uint16_t mtu, const uint8_t *orig, size_t orig_len)
{
	struct icmp4_error e = { .type = ICMP4_UNREACH,
	    .code = ICMP4_UNREACH_NEEDFRAG, .mtu = mtu, .src = src, .id = id };

	return icmp4_build_error(out, cap, &e, orig, orig_len);
}

size_t
icmp4_build_time_exceeded(uint8_t *out, size_t cap, struct in_addr src,
    uint16_t id, const uint8_t *orig, size_t orig_len)
{
	struct icmp4_error e = { .type = ICMP4_TIME_EXCEEDED,
	    .code = ICMP4_TIMX_INTRANS, .src = src, .id = id };

	return icmp4_build_error(out, cap, &e, orig, orig_len);
}

uint16_t
ip4_mtu_plateau(uint16_t len)
{
	/* RFC 1191 §7, Table 7-1. */
	static const uint16_t plateau[] = {
		32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296,
	};
	size_t		 i;

	for (i = 0; i < sizeof(plateau) / sizeof(plateau[0]); i++)
		if (plateau[i] < len)
			return plateau[i];
	return IP4_MIN_MTU;
}
