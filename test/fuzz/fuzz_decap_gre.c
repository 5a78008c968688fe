/*
 * fuzz_decap_gre.c - libFuzzer target: decapsulation of
 * GRE (RFC 2784, RFC 2890).
 * See fuzz_encap.h for the three passes.
 */
#include "fuzz_encap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_encap_one(data, size, ENCAP_GRE, false);
}
