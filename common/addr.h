/*
 * addr.h - IPv4 addresses and prefixes: strict parsing, formatting and
 * containment tests.
 *
 * Pure functions, no state.  Addresses are struct in_addr in network byte
 * order, as everywhere in mipha; masks are returned in host byte order.
 * Parsing accepts only the dotted-quad form (four decimal parts 0-255,
 * no leading zeros, which other parsers read as octal), so "10.1" or
 * "010.0.0.1" never silently mean something else.
 */
#ifndef MIPHA_ADDR_H
#define MIPHA_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_STRLEN		16	/* "255.255.255.255" + NUL */
#define ADDR_PREFIX_STRLEN	19	/* "255.255.255.255/32" + NUL */

struct addr_prefix {
	struct in_addr	addr;	/* network order, host bits zero when valid */
	uint8_t		len;	/* 0-32 */
};

enum addr_prefix_err {
	ADDR_PREFIX_OK = 0,
	ADDR_PREFIX_SYNTAX,	/* not "a.b.c.d/len" */
	ADDR_PREFIX_BADLEN,	/* length not a decimal 0-32 */
	ADDR_PREFIX_HOSTBITS,	/* bits set after the prefix length */
};

/* Dotted quad to address; false (and *out untouched) if not exactly one. */
bool		addr_parse(const char *, struct in_addr *);

/*
 * "a.b.c.d/len" to prefix.  On ADDR_PREFIX_HOSTBITS *out holds the prefix
 * with the host bits cleared, so the caller can suggest it.
 */
enum addr_prefix_err addr_prefix_parse(const char *, struct addr_prefix *);

/* Netmask of a prefix length (0-32; larger counts as 32), host order. */
uint32_t	addr_netmask(unsigned);

bool		addr_in_prefix(struct in_addr, const struct addr_prefix *);
/* True if every address of inner is inside outer. */
bool		addr_prefix_within(const struct addr_prefix *inner,
		    const struct addr_prefix *outer);
bool		addr_prefix_overlap(const struct addr_prefix *,
		    const struct addr_prefix *);
/* Lowest and highest address of the prefix. */
struct in_addr	addr_prefix_first(const struct addr_prefix *);
struct in_addr	addr_prefix_last(const struct addr_prefix *);

/*
 * A host may use it as a unicast address: not in 0/8 ("this network"),
 * 127/8 (loopback), 224/4 (multicast) or 240/4 (reserved, broadcast).
 */
bool		addr_is_unicast(struct in_addr);

/* Format into buf (ADDR_STRLEN / ADDR_PREFIX_STRLEN bytes); return buf. */
char		*addr_ntoa(struct in_addr, char *);
char		*addr_prefix_ntoa(const struct addr_prefix *, char *);

#endif /* MIPHA_ADDR_H */
