/*
 * encap.h - tunnel encapsulation and decapsulation for the data plane.
 *
 * IP in IP (RFC 2003), GRE (RFC 2784 with the key and sequence number of
 * RFC 2890), minimal encapsulation (RFC 2004), each optionally carried in
 * RFC 3519 UDP tunnelling (outer IP, UDP, MIP Tunnel Data header), as RFC
 * 5944 §4.1 lets a home agent use them.  Also the RFC 2003 §4 relaying of
 * ICMP errors that come back from inside a tunnel.
 *
 * Hot path: no allocation, the payload is never copied.  encap_packet()
 * writes the outer headers into headroom reserved in front of the inner
 * datagram; decap_ip() and decap_udp() validate every header they strip
 * and return where the inner datagram lies in the same buffer (minimal
 * encapsulation moves the IP header, at most 60 octets, never the payload).
 *
 * Fragmentation.  A tunnelled datagram larger than the tunnel MTU is
 * reported, not silently sent: with DF set in the inner header the caller
 * answers ICMP fragmentation needed (RFC 2003 §5.1, RFC 1191) with the MTU
 * encap_packet() returns; without DF the caller fragments the *inner*
 * datagram with ip4_frag_init()/ip4_frag_next() to that MTU and
 * encapsulates each fragment, as RFC 2003 §5.1 recommends and RFC 3519
 * §4.8 requires for UDP tunnels (NATs cannot translate outer fragments).
 * Minimal encapsulation cannot carry fragments (RFC 2004 §3): for it the
 * caller encapsulates with mtu 0 and fragments the outer datagram instead
 * (RFC 2004 §3 allows fragmentation unless DF is set).  We do not rely on
 * the kernel: a raw socket with IP_HDRINCL does not fragment (Linux fails
 * the send with EMSGSIZE).
 *
 * Outer fragments are not reassembled here (DECAP_ERR_FRAGMENT): Linux
 * reassembles before it delivers to raw and UDP sockets, so a fragment
 * only reaches the decapsulator from a packet socket or a capture.
 */
#ifndef MIPHA_ENCAP_H
#define MIPHA_ENCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ip4.h"

/* Encapsulations, numbered as the IP Protocol / RFC 3519 Next Header field. */
enum encap_type {
	ENCAP_ANY	= 0,	/* decapsulation: accept any of the three */
	ENCAP_IPIP	= 4,	/* RFC 2003 §3 */
	ENCAP_GRE	= 47,	/* RFC 2784 §4 */
	ENCAP_MINIMAL	= 55,	/* RFC 2004 §3 */
};

#define ENCAP_UDP_HDR_LEN	8	/* RFC 768 */
#define ENCAP_MIP_HDR_LEN	4	/* MIP Tunnel Data header, RFC 3519 §3.3 */
#define ENCAP_MIP_TUNNEL_DATA	4	/* its Type, RFC 3519 §3.3 */
#define ENCAP_GRE_PROTO_IPV4	0x0800	/* GRE Protocol Type for IPv4, RFC 2784 §3 */
#define ENCAP_GRE_MAX_LEN	16	/* base, checksum, key, sequence */
#define ENCAP_MIN_HDR_LEN	8	/* minimal forwarding header, S = 0, RFC 2004 §3 */
#define ENCAP_MIN_HDR_LEN_S	12	/* with the original source, S = 1 */
/* The most headroom any encapsulation needs: IP + UDP + MIP + full GRE. */
#define ENCAP_HEADROOM		(IP4_HDR_LEN + ENCAP_UDP_HDR_LEN + \
				 ENCAP_MIP_HDR_LEN + ENCAP_GRE_MAX_LEN)

const char	*encap_type_name(enum encap_type);	/* "ipip", "gre", "minimal" */

/* Encapsulation. */

enum encap_flag {
	/*
	 * We forward the datagram (RFC 2003 §3.1): decrement the inner TTL
	 * and refuse one that would reach 0; refuse a datagram whose source
	 * is either tunnel endpoint (RFC 2003 §3.2).  Without it (datagrams
	 * we originate, e.g. keepalive replies) the TTL is left alone.
	 */
	ENCAP_F_FORWARDING	= 0x01,
	/* Set DF in the outer header even when the inner one has none (RFC
	 * 2003 §3.1 MAY, §5.1).  DF is always copied when set.  Not for
	 * minimal encapsulation, whose header is the original one. */
	ENCAP_F_DF		= 0x02,
	ENCAP_F_GRE_CSUM	= 0x04,	/* GRE Checksum Present, RFC 2784 §2.2 */
	ENCAP_F_GRE_KEY		= 0x08,	/* GRE Key Present, RFC 2890 §2.1 */
	ENCAP_F_GRE_SEQ		= 0x10,	/* GRE Sequence Number Present, RFC 2890 §2.2 */
	ENCAP_F_UDP		= 0x20,	/* RFC 3519 UDP tunnelling around the type */
	ENCAP_F_UDP_CSUM	= 0x40,	/* compute the UDP checksum; else 0 (RFC 768) */
};

struct encap_params {
	enum encap_type	 type;
	unsigned	 flags;		/* enum encap_flag */
	struct in_addr	 src;		/* tunnel entry: the HA address (RFC 5944 §4.2.3) */
	struct in_addr	 dst;		/* tunnel exit: the care-of address */
	uint16_t	 sport;		/* ENCAP_F_UDP: UDP ports, host order */
	uint16_t	 dport;
	uint8_t		 ttl;		/* outer TTL (RFC 2003 §3.1); minimal keeps the inner TTL */
	uint16_t	 mtu;		/* tunnel MTU: largest outer datagram; 0 = 65535 */
	uint32_t	 gre_key;	/* ENCAP_F_GRE_KEY */
	uint16_t	*ip_id;		/* outer Identification counter, post-incremented;
					 * NULL sends 0; minimal keeps the inner ID */
	uint32_t	*gre_seq;	/* ENCAP_F_GRE_SEQ: sequence counter, post-incremented */
};

enum encap_err {
	ENCAP_OK = 0,
	ENCAP_ERR_INNER,	/* not one valid IPv4 datagram of exactly len octets */
	ENCAP_ERR_TTL,		/* TTL would be 0: send ICMP time exceeded (RFC 2003 §3.1) */
	ENCAP_ERR_TOO_BIG,	/* DF, over the MTU: send ICMP frag needed with r->mtu */
	ENCAP_ERR_FRAG_NEEDED,	/* no DF, over the MTU: fragment to r->mtu first (see top) */
	ENCAP_ERR_FRAGMENT,	/* minimal encapsulation of a fragment (RFC 2004 §3) */
	ENCAP_ERR_LOOP,		/* source is a tunnel endpoint (RFC 2003 §3.2) */
	ENCAP_ERR_HEADROOM,	/* headroom < the encapsulation's overhead */
	ENCAP_ERR_PARAM,	/* unknown type */
};

const char	*encap_err_str(enum encap_err);

struct encap_result {
	uint8_t		*pkt;		/* the outer datagram, inside buf */
	size_t		 len;
	size_t		 overhead;	/* octets added */
	size_t		 udp_payload;	/* ENCAP_F_UDP: offset of the UDP payload in pkt,
					 * to send through a UDP socket instead */
	uint16_t	 mtu;		/* TOO_BIG, FRAG_NEEDED: the largest inner datagram
					 * that fits (next-hop MTU for ICMP, RFC 2003 §5.1) */
};

/*
 * Encapsulates the IPv4 datagram at buf + headroom (len octets) in place
 * for the tunnel p describes.  The outer headers go in front of it, so
 * headroom must be at least the overhead (ENCAP_HEADROOM always is); the
 * result is r->pkt .. r->pkt + r->len.  Checked, in this order, before
 * anything is written: the inner header, RFC 2003 §3.2 loops, the TTL,
 * fragments (minimal), headroom, MTU; on error the datagram is unchanged,
 * so it can be quoted in the ICMP error.
 *
 * Outer header (RFC 2003 §3.1): TOS copied, DF copied (or forced by
 * ENCAP_F_DF), ID from *p->ip_id, TTL p->ttl, protocol 4/47/55 or 17.
 * Minimal encapsulation (RFC 2004 §3) rewrites the inner header instead:
 * protocol 55, destination p->dst, source p->src with S = 1 unless p->src
 * already was the source, total length, checksum.
 */
enum encap_err	 encap_packet(uint8_t *buf, size_t headroom, size_t len,
		    const struct encap_params *p, struct encap_result *r);

/* Overhead of an encapsulation (minimal: with S = 1, the worst case), to
 * size the tunnel device MTU. */
size_t		 encap_overhead(const struct encap_params *p);

/* Decapsulation. */

enum decap_err {
	DECAP_OK = 0,
	DECAP_ERR_TRUNCATED,		/* a header or length field runs past the data */
	DECAP_ERR_OUTER_MALFORMED,	/* outer IPv4 version, IHL or total length */
	DECAP_ERR_FRAGMENT,		/* outer datagram is a fragment (see top) */
	DECAP_ERR_CHECKSUM,		/* IPv4, GRE, minimal, UDP or inner checksum */
	DECAP_ERR_PROTOCOL,		/* outer protocol not a tunnel, or not expected */
	DECAP_ERR_GRE_UNSUPPORTED,	/* GRE version, routing, reserved bits, type */
	DECAP_ERR_UDP_MALFORMED,	/* UDP length, MIP type not Tunnel Data */
	DECAP_ERR_NEXT_HEADER,		/* RFC 3519 Next Header unknown or not expected */
	DECAP_ERR_INNER_MALFORMED,	/* inner IPv4 header, or its length */
	DECAP_ERR_TTL,			/* inner TTL is 0 (RFC 2003 §3.1 MUST discard) */
	DECAP_ERR_HEADROOM,		/* decap_udp(): no room to rebuild a header */
	DECAP_ERR_MAX
};

/* Drop-reason names: "truncated", "outer-malformed", "fragment", ... */
const char	*decap_err_str(enum decap_err);

struct decap_result {
	struct ip4_hdr	 outer;		/* delivery header: outer.src the tunnel entry */
	struct ip4_hdr	 inner;		/* the decapsulated datagram's header */
	size_t		 inner_off;	/* inner datagram: buf + inner_off, */
	size_t		 inner_len;	/*   inner_len octets (= inner.tot_len) */
	enum encap_type	 encap;		/* how it was carried (the Next Header if udp) */
	bool		 udp;		/* RFC 3519 UDP tunnel */
	uint16_t	 sport;		/* udp: ports, host order */
	uint16_t	 dport;
	bool		 gre_key_present;
	bool		 gre_seq_present;
	uint32_t	 gre_key;
	uint32_t	 gre_seq;	/* for encap_gre_seq_check() */
};

/*
 * Decapsulates the datagram at pkt (as a raw socket delivers it: outer
 * IPv4 header first) in place.  Protocols 4, 47, 55 and 17 (RFC 3519 MIP
 * Tunnel Data) are understood.  expect: the encapsulation of the binding,
 * or ENCAP_ANY; for UDP it is matched against the Next Header (RFC 3519
 * §3.3 MUST).  The caller still checks the endpoints against the binding
 * (RFC 3519 §4.3, RFC 3024).
 */
enum decap_err	 decap_ip(uint8_t *pkt, size_t len, enum encap_type expect,
		    struct decap_result *r);

/* What a UDP socket tells about the datagram around its payload. */
struct decap_udp_outer {
	struct in_addr	 src;
	struct in_addr	 dst;
	uint16_t	 sport;		/* host order */
	uint16_t	 dport;
	uint8_t		 ttl;		/* IP_RECVTTL; needed: minimal in UDP keeps it */
	uint8_t		 tos;		/* IP_RECVTOS */
};

/*
 * Decapsulates a UDP payload starting with the MIP Tunnel Data header
 * (RFC 3519 §3.3) at buf + headroom, len octets, as a UDP socket on port
 * 434 receives it.  Offsets in r are from buf.  Minimal encapsulation in
 * UDP needs the outer IP header the socket stripped (RFC 3519 §4.3): it is
 * rebuilt from o (TOS, TTL; ID 0, no flags, no options) in front of the
 * payload, which needs headroom >= 8.
 */
enum decap_err	 decap_udp(uint8_t *buf, size_t headroom, size_t len,
		    const struct decap_udp_outer *o, enum encap_type expect,
		    struct decap_result *r);

/* GRE sequence numbers, RFC 2890 §2.2. */
#define ENCAP_GRE_SEQ_INIT	UINT32_MAX	/* "last" when the tunnel is set up */

enum encap_gre_seq {
	ENCAP_GRE_SEQ_NEXT,	/* last + 1: decapsulate, last = seq */
	ENCAP_GRE_SEQ_GAP,	/* later than last + 1: a gap (buffer or accept) */
	ENCAP_GRE_SEQ_OLD,	/* within the 2^31 - 1 before last: discard */
};

enum encap_gre_seq encap_gre_seq_check(uint32_t last, uint32_t seq);

/* ICMP errors from inside a tunnel, RFC 2003 §4 (and RFC 2004 §5). */

enum encap_icmp_err {
	ENCAP_ICMP_OK = 0,
	ENCAP_ICMP_TRUNCATED,	/* ICMP header or quoted outer header incomplete */
	ENCAP_ICMP_CHECKSUM,	/* ICMP checksum */
	ENCAP_ICMP_NOT_ERROR,	/* not an error message (echo, ...) */
	ENCAP_ICMP_MALFORMED,	/* quoted header is not IPv4 */
	ENCAP_ICMP_NOT_TUNNEL,	/* quoted datagram is not a tunnel packet */
};

const char	*encap_icmp_err_str(enum encap_icmp_err);

struct encap_icmp {
	uint8_t		 type;		/* as received */
	uint8_t		 code;
	uint16_t	 mtu;		/* next-hop MTU as received (type 3 code 4) */
	struct ip4_hdr	 outer;		/* quoted outer header: src us, dst the care-of address */
	enum encap_type	 encap;		/* ENCAP_ANY when the quote is too short to tell */
	bool		 udp;
	uint16_t	 sport;		/* udp, host order */
	uint16_t	 dport;
	bool		 gre_key_present;
	uint32_t	 gre_key;
	size_t		 overhead;	/* tunnel octets in front of the inner datagram (0: unknown) */
	uint16_t	 tunnel_mtu;	/* type 3 code 4: the MTU inside the tunnel for the
					 * soft state (RFC 2003 §5.1); an RFC 1191 §5 plateau
					 * estimate when the router sent 0 */
	bool		 inner_present;	/* the quote holds the whole inner header */
	struct ip4_hdr	 inner;		/* inner.src: the original sender */
	size_t		 quote_len;	/* inner datagram (header rebuilt for minimal) in
					 * the caller's quote buffer */
	bool		 relay;		/* RFC 2003 §4: send relay_err to inner.src */
	struct icmp4_error relay_err;	/* type, code, mtu, pointer; caller sets src, id */
};

/*
 * Parses the ICMP message at icmp (len octets from the ICMP header on; the
 * caller has stripped the carrying IPv4 header) about a datagram we
 * tunnelled, as far as the quote reaches, and decides the relay of RFC
 * 2003 §4: net, host and protocol unreachable, and time exceeded (§4.4),
 * go back as host unreachable (§4.1: the tunnel extends the home network);
 * fragmentation needed goes back with the MTU reduced by the tunnel
 * overhead (§4.1, §5.1); port unreachable, source route failed, source
 * quench and redirect are not relayed (§4.1-4.3); parameter problem only
 * when the pointer lies in a field copied from the original (§4.5).  The
 * inner datagram is written to quote (cap >= ICMP4_ERR_QUOTE_MAX keeps all
 * there is), ready for icmp4_build_error(out, cap, &r->relay_err, quote,
 * r->quote_len).  The caller checks outer.dst/inner.dst against its
 * bindings before believing any of it.
 */
enum encap_icmp_err encap_icmp_parse(const uint8_t *icmp, size_t len,
		    struct encap_icmp *r, uint8_t *quote, size_t quote_cap);

#endif /* MIPHA_ENCAP_H */
