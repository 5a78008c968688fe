/*
 * fuzz_decap_ipip.c - libFuzzer target: decapsulation of
 * IP in IP (RFC 2003 §3).
 * See fuzz_encap.h for the three passes.
 */
#include "fuzz_encap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_encap_one(data, size, ENCAP_IPIP, false);
}
