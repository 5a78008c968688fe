/*
 * addr.c - IPv4 address and prefix parsing, formatting and containment.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/*
 * One decimal part of a dotted quad: 1-3 digits, no leading zero, at most
 * max.  Advances *sp past the digits.
 */
static bool
parse_dec(const char **sp, unsigned max, unsigned *out)
{
	const char	*s = *sp;
	unsigned	 v = 0;
	int		 digits = 0;

	while (*s >= '0' && *s <= '9') {
		if (digits == 3 || (digits > 0 && v == 0))
			return false;		/* too long, or leading zero */
		v = v * 10 + (unsigned)(*s - '0');
		digits++;
		s++;
	}
	if (digits == 0 || v > max)
		return false;
	*sp = s;
	*out = v;
	return true;
}

static bool
parse_quad(const char **sp, uint32_t *out)
{
	const char	*s = *sp;
	uint32_t	 v = 0;
	unsigned	 part;
	int		 i;

	for (i = 0; i < 4; i++) {
		if (i > 0 && *s++ != '.')
			return false;
		if (!parse_dec(&s, 255, &part))
			return false;
		v = v << 8 | part;
	}
	*sp = s;
	*out = v;
	return true;
}

bool
addr_parse(const char *s, struct in_addr *out)
{
	uint32_t	 v;

	if (s == NULL || !parse_quad(&s, &v) || *s != '\0')
		return false;
	out->s_addr = htonl(v);
	return true;
}

uint32_t
addr_netmask(unsigned len)
{
	if (len == 0)
		return 0;
	if (len >= 32)
		return 0xffffffffu;
	return 0xffffffffu << (32 - len);
}

enum addr_prefix_err
addr_prefix_parse(const char *s, struct addr_prefix *out)
{
	uint32_t	 v, mask;
	unsigned	 len;

	if (s == NULL || !parse_quad(&s, &v) || *s++ != '/')
		return ADDR_PREFIX_SYNTAX;
	if (!parse_dec(&s, 32, &len) || *s != '\0')
		return ADDR_PREFIX_BADLEN;
	mask = addr_netmask(len);
	out->addr.s_addr = htonl(v & mask);
	out->len = (uint8_t)len;
	return (v & ~mask) != 0 ? ADDR_PREFIX_HOSTBITS : ADDR_PREFIX_OK;
}

bool
addr_in_prefix(struct in_addr a, const struct addr_prefix *p)
{
	uint32_t	 mask = addr_netmask(p->len);

	return (ntohl(a.s_addr) & mask) == (ntohl(p->addr.s_addr) & mask);
}

bool
addr_prefix_within(const struct addr_prefix *inner,
    const struct addr_prefix *outer)
{
	return inner->len >= outer->len && addr_in_prefix(inner->addr, outer);
}

bool
addr_prefix_overlap(const struct addr_prefix *a, const struct addr_prefix *b)
{
	/* Two prefixes overlap exactly when the shorter one holds the other. */
	return addr_prefix_within(a, b) || addr_prefix_within(b, a);
}

struct in_addr
addr_prefix_first(const struct addr_prefix *p)
{
	struct in_addr	 a;

	a.s_addr = htonl(ntohl(p->addr.s_addr) & addr_netmask(p->len));
	return a;
}

struct in_addr
addr_prefix_last(const struct addr_prefix *p)
{
	struct in_addr	 a;

	a.s_addr = htonl(ntohl(p->addr.s_addr) | ~addr_netmask(p->len));
	return a;
}

bool
addr_is_unicast(struct in_addr a)
{
	uint32_t	 v = ntohl(a.s_addr);
	uint32_t	 top = v >> 24;

	return top != 0 && top != 127 && top < 224;
}

char *
addr_ntoa(struct in_addr a, char *buf)
{
	uint32_t	 v = ntohl(a.s_addr);

	snprintf(buf, ADDR_STRLEN, "%u.%u.%u.%u", v >> 24, (v >> 16) & 0xff,
	    (v >> 8) & 0xff, v & 0xff);
	return buf;
}

char *
addr_prefix_ntoa(const struct addr_prefix *p, char *buf)
{
	char		 a[ADDR_STRLEN];

	snprintf(buf, ADDR_PREFIX_STRLEN, "%s/%u", addr_ntoa(p->addr, a),
	    p->len <= 32 ? (unsigned)p->len : 32u);
	return buf;
}
