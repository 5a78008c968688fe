/*
 * fuzz_icmp_relay.c - libFuzzer target: ICMP errors about tunnelled
 * datagrams (encap_icmp_parse(), RFC 2003 §4) and the ICMP errors we
 * build from what it extracts (icmp4_build_error()).
 *
 * The input is an ICMP message; it is parsed as is, then again with its
 * checksum repaired so the quote parsing is reached.  Whatever is relayed
 * must build into a valid ICMP error.
 */
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

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_built(const uint8_t *out, size_t n)
{
	struct ip4_hdr	 h;

	if (n == 0)
		return;
	FZ_CHECK(n <= ICMP4_ERR_MAX_LEN);
	FZ_CHECK(ip4_parse(out, n, &h) == IP4_OK && h.tot_len == n);
	FZ_CHECK(h.proto == IP4_PROTO_ICMP);
	FZ_CHECK(ip4_checksum(out + h.hlen, n - h.hlen) == 0);
}

static void
parse_one(const uint8_t *m, size_t len)
{
	static uint8_t	 quote[ICMP4_ERR_QUOTE_MAX], out[ICMP4_ERR_MAX_LEN];
	struct encap_icmp r;
	enum encap_icmp_err e;
	uint8_t		*c = malloc(len ? len : 1);
	size_t		 n, cap;

	if (c == NULL)
		abort();
	if (len > 0)
		memcpy(c, m, len);
	/* A quote buffer of any size, also one too small. */
	cap = len > 0 ? (size_t)m[len - 1] * 3 : 0;
	if (cap > sizeof(quote))
		cap = sizeof(quote);
	e = encap_icmp_parse(c, len, &r, quote, cap);
	FZ_CHECK(strcmp(encap_icmp_err_str(e), "unknown") != 0);
	if (e == ENCAP_ICMP_OK) {
		FZ_CHECK(r.quote_len <= cap && r.quote_len <= len);
		if (r.relay) {
			FZ_CHECK(r.inner_present && r.quote_len >= r.inner.hlen);
			FZ_CHECK(r.inner.src.s_addr != r.outer.src.s_addr);
			if (r.relay_err.type == ICMP4_UNREACH &&
			    r.relay_err.code == ICMP4_UNREACH_NEEDFRAG)
				FZ_CHECK(r.relay_err.mtu >= IP4_MIN_MTU);
			n = icmp4_build_error(out, sizeof(out), &r.relay_err,
			    quote, r.quote_len);
			check_built(out, n);
		}
	} else
		FZ_CHECK(!r.relay && r.quote_len == 0);
	free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t	 m[IP4_MAX_LEN], out[ICMP4_ERR_MAX_LEN];
	struct icmp4_error e;

	if (size > IP4_MAX_LEN)
		return 0;
	parse_one(data, size);
	if (size >= ICMP4_HDR_LEN) {
		memcpy(m, data, size);
		put_be16(m + 2, 0);
		put_be16(m + 2, ip4_checksum(m, size));
		parse_one(m, size);
	}
	/* The input as the offending datagram of an error we originate. */
	memset(&e, 0, sizeof(e));
	e.type = size > 0 ? data[0] : 3;
	e.code = size > 1 ? data[1] : 1;
	e.mtu = 1400;
	check_built(out, icmp4_build_error(out, sizeof(out), &e, data, size));
	return 0;
}
