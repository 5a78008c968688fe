/*
 * fuzz_rrq.c - libFuzzer target for the registration message decoders.
 *
 * Feeds the input to rrq_decode() and rrp_decode() (one of them sees the
 * right type octet, so both paths get exercised), checks the invariants a
 * successful decode promises (extensions tile the message exactly, every
 * pointer stays inside it, covered_len ends at the SPI) and that the
 * fixed part re-encodes to the same bytes.  Any violation aborts.
 *
 *   clang -fsanitize=fuzzer,address,undefined -Icommon -I. \
 *	test/fuzz/fuzz_rrq.c common/mip_msg.c -o fuzz_rrq
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mip_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static void
check_auth(const uint8_t *msg, size_t len, const struct mip_exts *x,
    const struct mip_auth_ext *a)
{
	const struct mip_ext *e;

	if (!a->present) {
		CHECK(a->count == 0);
		return;
	}
	CHECK(a->idx < x->n);
	e = &x->list[a->idx];
	CHECK(a->auth == msg + a->auth_off);
	CHECK(a->covered_len == a->auth_off);
	CHECK(a->auth_off + a->auth_len == e->off + e->len);
	CHECK(e->off + e->len <= len);
}

static void
check_exts(const uint8_t *msg, size_t len, size_t fixed, const struct mip_exts *x,
    int complete)
{
	size_t off = fixed;
	unsigned i, skipped = 0;

	CHECK(x->n <= MIP_MSG_MAX_EXT);
	for (i = 0; i < x->n; i++) {
		const struct mip_ext *e = &x->list[i];

		CHECK(e->off == off);
		CHECK(e->len >= 1);
		CHECK(e->data_off >= e->off);
		CHECK(e->data_off + e->data_len <= e->off + e->len);
		CHECK(e->off + e->len <= len);
		CHECK(e->type == msg[e->off]);
		skipped += e->skipped;
		off += e->len;
	}
	CHECK(skipped == x->n_skipped);
	if (complete)
		CHECK(off == len);
	check_auth(msg, len, x, &x->mn_ha);
	check_auth(msg, len, x, &x->mn_fa);
	check_auth(msg, len, x, &x->fa_ha);
	check_auth(msg, len, x, &x->mn_aaa);
	if (x->nai.present)
		CHECK(x->nai.len > 0 && x->nai.nai >= msg + fixed &&
		    x->nai.nai + x->nai.len <= msg + len);
	if (x->challenge.present)
		CHECK(x->challenge.data >= msg + fixed &&
		    x->challenge.data + x->challenge.len <= msg + len);
	if (x->msg_string.present)
		CHECK(x->msg_string.text >= msg + fixed &&
		    x->msg_string.text + x->msg_string.len <= msg + len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mip_rrq q;
	static struct mip_rrp p;
	uint8_t out[MIP_RRQ_FIXED_LEN];
	enum mip_msg_err e;

	e = rrq_decode(data, size, &q);
	if (e != MIP_MSG_ESHORT && e != MIP_MSG_ETYPE) {
		check_exts(data, size, MIP_RRQ_FIXED_LEN, &q.ext, e == MIP_MSG_OK);
		CHECK(rrq_encode(&q.f, out, sizeof(out)) == MIP_RRQ_FIXED_LEN);
		CHECK(memcmp(out, data, MIP_RRQ_FIXED_LEN) == 0);
	}
	CHECK(mip_msg_err_reply_code(e) == 0 || mip_msg_err_reply_code(e) == 134);

	e = rrp_decode(data, size, &p);
	if (e != MIP_MSG_ESHORT && e != MIP_MSG_ETYPE) {
		check_exts(data, size, MIP_RRP_FIXED_LEN, &p.ext, e == MIP_MSG_OK);
		CHECK(rrp_encode(&p.f, out, sizeof(out)) == MIP_RRP_FIXED_LEN);
		CHECK(memcmp(out, data, MIP_RRP_FIXED_LEN) == 0);
	}
	return 0;
}
