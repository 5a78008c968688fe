/*
 * ip4.h - IPv4 header parse/validate/build, the Internet checksum, IPv4
 * fragmentation and ICMP error messages.
 *
 * Pure code on caller buffers: no sockets, no allocation, no globals.
 * Implements RFC 791 §3.1 (header), §3.2 (fragmentation), RFC 1071
 * (checksum), RFC 1624 (incremental checksum update, used for the TTL
 * decrement), RFC 792 and RFC 1191 §4 (ICMP errors, next-hop MTU), with
 * the suppression rules of RFC 1122 §3.2.2 / RFC 1812 §4.3.2.7.
 *
 * Multi-byte fields of struct ip4_hdr are in host order; addresses are
 * struct in_addr in network order (HACKING.md).
 */
#ifndef MIPHA_IP4_H
#define MIPHA_IP4_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IP4_HDR_LEN		20	/* header without options, RFC 791 §3.1 */
#define IP4_MAX_HDR_LEN		60	/* IHL 15 */
#define IP4_MAX_LEN		65535	/* Total Length is 16 bits */
#define IP4_MIN_MTU		68	/* every link carries this, RFC 791 §3.2 */

/* Flags and Fragment Offset, the 16 bits at octet 6 (RFC 791 §3.1). */
#define IP4_DF			0x4000	/* Don't Fragment */
#define IP4_MF			0x2000	/* More Fragments */
#define IP4_OFFMASK		0x1fff	/* Fragment Offset, units of 8 octets */

/* IP protocol numbers used by mipha (IANA "Assigned Internet Protocol Numbers"). */
enum ip4_proto {
	IP4_PROTO_ICMP		= 1,	/* RFC 792 */
	IP4_PROTO_IPIP		= 4,	/* IP in IP, RFC 2003 §3.1 */
	IP4_PROTO_TCP		= 6,	/* RFC 9293 */
	IP4_PROTO_UDP		= 17,	/* RFC 768 */
	IP4_PROTO_GRE		= 47,	/* RFC 2784 §4 */
	IP4_PROTO_ESP		= 50,	/* RFC 4303 */
	IP4_PROTO_MINENC	= 55,	/* minimal encapsulation, RFC 2004 §3 */
};

/* A parsed IPv4 header. */
struct ip4_hdr {
	uint8_t		hlen;		/* header length in octets (IHL * 4) */
	uint8_t		tos;
	uint16_t	tot_len;
	uint16_t	id;
	uint16_t	frag;		/* flags and fragment offset (IP4_DF...) */
	uint8_t		ttl;
	uint8_t		proto;
	uint16_t	cksum;		/* as on the wire */
	struct in_addr	src;
	struct in_addr	dst;
};

enum ip4_err {
	IP4_OK = 0,
	IP4_ERR_TRUNCATED,	/* fewer octets than the IHL or Total Length claim */
	IP4_ERR_VERSION,	/* version is not 4 */
	IP4_ERR_HLEN,		/* IHL < 5 */
	IP4_ERR_TOTLEN,		/* Total Length < header length */
	IP4_ERR_CHECKSUM,	/* header checksum does not verify */
	IP4_ERR_DF,		/* ip4_frag_init(): Don't Fragment is set */
	IP4_ERR_MTU,		/* ip4_frag_init(): MTU leaves no room for 8 octets of data */
	IP4_ERR_OPTIONS,	/* ip4_frag_init(): malformed options */
};

const char	*ip4_err_str(enum ip4_err);

static inline bool
ip4_is_fragment(const struct ip4_hdr *h)
{
	return (h->frag & (IP4_MF | IP4_OFFMASK)) != 0;
}

/*
 * Validates and parses the IPv4 datagram at p (len octets available):
 * version 4, IHL >= 5, IHL and Total Length within len, Total Length >=
 * header length, header checksum.  Octets after Total Length (link
 * padding) are allowed; the datagram is the first h->tot_len octets.
 */
enum ip4_err	 ip4_parse(const uint8_t *p, size_t len, struct ip4_hdr *h);

/*
 * Parses a header quoted in an ICMP error (RFC 792): only version, IHL and
 * the header's presence are checked; the datagram itself may be cut short
 * and the checksum is not verified (routers may quote a modified header).
 */
enum ip4_err	 ip4_parse_quoted(const uint8_t *p, size_t len, struct ip4_hdr *h);

/*
 * Writes a 20-octet header (no options) from h at p, with h->hlen, h->cksum
 * ignored and the checksum computed.  p must have IP4_HDR_LEN octets.
 */
void		 ip4_write_hdr(uint8_t *p, const struct ip4_hdr *h);

/*
 * Internet checksum, RFC 1071.  ip4_csum_add() adds len octets to a running
 * 32-bit sum of big-endian 16-bit words (a trailing odd octet is padded
 * with zero, so only the last block of a chained sum may have odd length);
 * ip4_csum_fold() folds it and returns the one's complement, ready to be
 * stored with put_be16().  A block that includes its checksum field
 * verifies when ip4_checksum() over it returns 0.
 */
uint32_t	 ip4_csum_add(uint32_t sum, const void *p, size_t len);
uint16_t	 ip4_csum_fold(uint32_t sum);
uint16_t	 ip4_checksum(const void *p, size_t len);

/*
 * RFC 1624 eqn. 3: the checksum after a 16-bit word covered by it changed
 * from old to new: HC' = ~(~HC + ~m + m').
 */
uint16_t	 ip4_csum_update16(uint16_t cksum, uint16_t old, uint16_t new);

/*
 * Decrements the TTL of the header at p (at least IP4_HDR_LEN octets) and
 * updates its checksum incrementally (RFC 1624).  The caller has checked
 * that the TTL is > 0.
 */
void		 ip4_dec_ttl(uint8_t *p);

/*
 * IPv4 fragmentation, RFC 791 §3.2 ("An Example Fragmentation Procedure").
 * The first fragment carries all options, later ones only those with the
 * copied flag; fragment data is a multiple of 8 octets except in the last.
 * A fragment of a fragment keeps the right offsets and the original MF.
 *
 *	struct ip4_frag f;
 *	if (ip4_frag_init(&f, pkt, len, mtu) == IP4_OK)
 *		while ((n = ip4_frag_next(&f, out, sizeof(out))) > 0)
 *			send out[0..n);
 *
 * A datagram that already fits gives one fragment, the datagram itself.
 * This copies (the payload of each fragment needs a header in front of
 * it); it is for the rare datagram larger than the tunnel MTU, see
 * encap.h.
 */
struct ip4_frag {
	const uint8_t	*pkt;
	struct ip4_hdr	 h;
	size_t		 mtu;
	size_t		 done;		/* data octets already emitted */
	uint8_t		 opt_copied[IP4_MAX_HDR_LEN - IP4_HDR_LEN];
	uint8_t		 opt_copied_len;	/* padded to 4 octets */
};

enum ip4_err	 ip4_frag_init(struct ip4_frag *f, const uint8_t *pkt, size_t len,
		    size_t mtu);
/* Returns the length written to out, 0 when no fragment is left or cap is
 * too small for the next one (cap >= mtu always suffices). */
size_t		 ip4_frag_next(struct ip4_frag *f, uint8_t *out, size_t cap);

/* ICMP, RFC 792. */
#define ICMP4_HDR_LEN		8	/* type, code, checksum, 4 octets */
/* Quote as much of the offending datagram as fits in 576 octets (RFC 1812 §4.3.2.3). */
#define ICMP4_ERR_MAX_LEN	576
#define ICMP4_ERR_QUOTE_MAX	(ICMP4_ERR_MAX_LEN - IP4_HDR_LEN - ICMP4_HDR_LEN)

enum icmp4_type {
	ICMP4_ECHO_REPLY	= 0,	/* RFC 792 */
	ICMP4_UNREACH		= 3,	/* Destination Unreachable, RFC 792 */
	ICMP4_SOURCE_QUENCH	= 4,	/* RFC 792 */
	ICMP4_REDIRECT		= 5,	/* RFC 792 */
	ICMP4_ECHO		= 8,	/* RFC 792 */
	ICMP4_TIME_EXCEEDED	= 11,	/* RFC 792 */
	ICMP4_PARAM_PROBLEM	= 12,	/* RFC 792 */
};

/* Destination Unreachable codes (RFC 792; 4 with next-hop MTU RFC 1191 §4). */
enum icmp4_unreach_code {
	ICMP4_UNREACH_NET	= 0,
	ICMP4_UNREACH_HOST	= 1,
	ICMP4_UNREACH_PROTO	= 2,
	ICMP4_UNREACH_PORT	= 3,
	ICMP4_UNREACH_NEEDFRAG	= 4,	/* fragmentation needed and DF set */
	ICMP4_UNREACH_SRCFAIL	= 5,	/* source route failed */
};

#define ICMP4_TIMX_INTRANS	0	/* TTL exceeded in transit, RFC 792 */

/* What icmp4_build_error() needs besides the offending datagram. */
struct icmp4_error {
	uint8_t		type;
	uint8_t		code;
	uint16_t	mtu;		/* next-hop MTU: type 3 code 4 (RFC 1191 §4) */
	uint8_t		pointer;	/* type 12 only: octet in error (RFC 792) */
	struct in_addr	src;		/* our address on the way back */
	uint16_t	id;		/* IP identification of the error datagram */
};

/*
 * True when an ICMP error about the datagram at orig may be sent (RFC 1122
 * §3.2.2, RFC 1812 §4.3.2.7): not about an ICMP error message, a datagram
 * to a multicast or limited-broadcast address, a non-initial fragment, or
 * a source that does not name one host (0/8, 127/8, 224/4 and above).
 * orig must hold at least a whole header (ip4_parse_quoted()).
 */
bool		 icmp4_error_allowed(const uint8_t *orig, size_t len);

/*
 * Builds an IPv4 datagram carrying the ICMP error e about orig (an IPv4
 * datagram as received, possibly cut short) into out: destination the
 * source of orig, TTL 64, TOS 0xc0 (precedence 6, RFC 1812 §4.3.2.5), the
 * header of orig and as much of its data as fits in 576 octets (RFC 1812
 * §4.3.2.3).  Returns the length written, or 0 when icmp4_error_allowed()
 * says no or cap is too small (cap >= ICMP4_ERR_MAX_LEN always suffices).
 */
size_t		 icmp4_build_error(uint8_t *out, size_t cap, const struct icmp4_error *e,
		    const uint8_t *orig, size_t orig_len);
/* The three errors mipha originates. */
size_t		 icmp4_build_host_unreach(uint8_t *out, size_t cap, struct in_addr src,
		    uint16_t id, const uint8_t *orig, size_t orig_len);
size_t		 icmp4_build_frag_needed(uint8_t *out, size_t cap, struct in_addr src,
		    uint16_t id, uint16_t mtu, const uint8_t *orig, size_t orig_len);
size_t		 icmp4_build_time_exceeded(uint8_t *out, size_t cap, struct in_addr src,
		    uint16_t id, const uint8_t *orig, size_t orig_len);

/*
 * RFC 1191 §7 plateau table: the largest plateau below len, for a
 * fragmentation-needed message whose next-hop MTU field is 0 (§5).
 */
uint16_t	 ip4_mtu_plateau(uint16_t len);

#endif /* MIPHA_IP4_H */
