/*
 * fuzz_decap_udp.c - libFuzzer target: RFC 3519 UDP tunnelling, both the
 * raw datagram (decap_ip) and the socket payload (decap_udp), with each
 * Next Header in turn (chosen by the input length).  See fuzz_encap.h.
 */
#include "fuzz_encap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum encap_type next[] = {
		ENCAP_IPIP, ENCAP_GRE, ENCAP_MINIMAL,
	};

	return fuzz_encap_one(data, size, next[size % 3], true);
}
