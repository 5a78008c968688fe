/*
 * fuzz_decap_minimal.c - libFuzzer target: decapsulation of
 * minimal encapsulation (RFC 2004 §3).
 * See fuzz_encap.h for the three passes.
 */
#include "fuzz_encap.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_encap_one(data, size, ENCAP_MINIMAL, false);
}
