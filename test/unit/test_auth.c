/*
 * test_auth.c - authenticators against published known answers:
 * RFC 1321 §A.5 (MD5), RFC 2104 (HMAC-MD5), RFC 2202 §2 (HMAC-MD5 with
 * a key longer than a block), RFC 4231 §4.2/4.3/4.7 (HMAC-SHA-256) and
 * the registration vectors of test/vectors/registration.json.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/crypto.h>

#include "mip_auth.h"

/* OpenSSL allocations, counted to prove signing allocates nothing. */
static unsigned long	ossl_allocs;
static int		ossl_hooked;

static void *
count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return malloc(n);
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	ossl_allocs++;
	return realloc(p, n);
}

static void
count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* Hex string (spaces allowed) to bytes; returns the length. */
static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t	n = 0;
	int	hi = -1, v;

	for (; *s != '\0'; s++) {
		if (*s == ' ')
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			ck_abort_msg("bad hex digit '%c'", *s);
		if (hi < 0)
			hi = v;
		else {
			ck_assert_uint_lt(n, cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	ck_assert_int_lt(hi, 0);
	return n;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	uint8_t	want[128];
	size_t	wlen = unhex(want_hex, want, sizeof(want));
	char	buf[2 * sizeof(want) + 1];
	size_t	i;

	ck_assert_uint_eq(len, wlen);
	if (memcmp(got, want, len) != 0) {
		for (i = 0; i < len && i < sizeof(want); i++)
			snprintf(buf + 2 * i, 3, "%02x", got[i]);
		ck_abort_msg("got %s, want %s", buf, want_hex);
	}
}

/* Sign with alg/key and compare with the expected hex; also verify. */
static void
check_mac(enum mip_auth_alg alg, const uint8_t *key, size_t keylen,
    const uint8_t *data, size_t len, const char *want_hex)
{
	struct mip_auth	*a;
	uint8_t		 out[MIP_AUTH_MAXLEN];
	int		 n;

	a = mip_auth_new(alg, key, keylen);
	ck_assert_ptr_nonnull(a);
	n = mip_auth_sign(a, data, len, out, sizeof(out));
	ck_assert_int_eq(n, (int)mip_auth_len(a));
	assert_hex(out, (size_t)n, want_hex);
	ck_assert(mip_auth_verify(a, data, len, out, (size_t)n));
	mip_auth_free(a);
}

/* RFC 1321 §A.5 "MD5 test suite". */
START_TEST(md5_rfc1321_suite)
{
	static const struct {
		const char	*msg;
		const char	*md5;
	} t[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz",
		    "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789", "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890"
		    "1234567890123456789012345678901234567890",
		    "57edf4a22be3c955ac49da2e2107b67a" },
	};
	uint8_t	out[MIP_MD5_LEN];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mip_md5((const uint8_t *)t[i].msg, strlen(t[i].msg), out);
		assert_hex(out, sizeof(out), t[i].md5);
	}
}
END_TEST

/* RFC 2104 Appendix "Test Vectors", the three HMAC-MD5 cases. */
START_TEST(hmac_md5_rfc2104)
{
	uint8_t	key[16], data[50];

	memset(key, 0x0b, 16);
	check_mac(MIP_AUTH_HMAC_MD5, key, 16, (const uint8_t *)"Hi There", 8,
	    "9294727a3638bb1c13f48ef8158bfc9d");

	check_mac(MIP_AUTH_HMAC_MD5, (const uint8_t *)"Jefe", 4,
	    (const uint8_t *)"what do ya want for nothing?", 28,
	    "750c783e6ab0b503eaa86e310a5db738");

	memset(key, 0xaa, 16);
	memset(data, 0xdd, 50);
	check_mac(MIP_AUTH_HMAC_MD5, key, 16, data, 50,
	    "56be34521d144c88dbb8c733f0e8b3f6");
}
END_TEST

/* RFC 2202 §2 cases 6 and 7: a key longer than B = 64 is hashed first. */
START_TEST(hmac_md5_long_key)
{
	uint8_t		key[80];
	const char	*d6 = "Test Using Larger Than Block-Size Key - "
	    "Hash Key First";
	const char	*d7 = "Test Using Larger Than Block-Size Key and "
	    "Larger Than One Block-Size Data";

	memset(key, 0xaa, sizeof(key));
	check_mac(MIP_AUTH_HMAC_MD5, key, sizeof(key), (const uint8_t *)d6,
	    strlen(d6), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
	check_mac(MIP_AUTH_HMAC_MD5, key, sizeof(key), (const uint8_t *)d7,
	    strlen(d7), "6f630fad67cda0ee1fb1f562db3aa53e");
}
END_TEST

/* RFC 4231 §4.2 (case 1), §4.3 (case 2), §4.7 (case 6, 131-byte key). */
START_TEST(hmac_sha256_rfc4231)
{
	uint8_t		key[131];
	const char	*d6 = "Test Using Larger Than Block-Size Key - "
	    "Hash Key First";

	memset(key, 0x0b, 20);
	check_mac(MIP_AUTH_HMAC_SHA256, key, 20, (const uint8_t *)"Hi There",
	    8, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");

	check_mac(MIP_AUTH_HMAC_SHA256, (const uint8_t *)"Jefe", 4,
	    (const uint8_t *)"what do ya want for nothing?", 28,
	    "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");

	memset(key, 0xaa, sizeof(key));
	check_mac(MIP_AUTH_HMAC_SHA256, key, sizeof(key), (const uint8_t *)d6,
	    strlen(d6), "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

/* Keyed MD5 is MD5(key || data || key) for any key and data length. */
START_TEST(keyed_md5_definition)
{
	static const size_t	 keylens[] = { 1, 16, 63, 64, 65, 200 };
	static const size_t	 datalens[] = { 0, 1, 30, 55, 56, 64, 300 };
	uint8_t			 key[200], data[300], cat[700];
	uint8_t			 out[MIP_AUTH_MAXLEN], want[MIP_MD5_LEN];
	struct mip_auth		*a;
	size_t			 i, j, k, n;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);
	for (i = 0; i < sizeof(keylens) / sizeof(keylens[0]); i++) {
		k = keylens[i];
		a = mip_auth_new(MIP_AUTH_KEYED_MD5, key, k);
		ck_assert_ptr_nonnull(a);
		for (j = 0; j < sizeof(datalens) / sizeof(datalens[0]); j++) {
			n = datalens[j];
			memcpy(cat, key, k);
			memcpy(cat + k, data, n);
			memcpy(cat + k + n, key, k);
			mip_md5(cat, 2 * k + n, want);
			ck_assert_int_eq(mip_auth_sign(a, data, n, out,
			    sizeof(out)), MIP_MD5_LEN);
			ck_assert_mem_eq(out, want, MIP_MD5_LEN);
		}
		mip_auth_free(a);
	}
}
END_TEST

/*
 * test/vectors/registration.json, typed in. The covered bytes run from
 * byte 0 through the SPI of the authentication extension (RFC 5944
 * §3.5.1); offsets worked out by hand:
 *   RRQ fixed part 24 bytes (§3.3), RRP 20 bytes (§3.4);
 *   extension = type(1) length(1) SPI(4) authenticator, Length
 *   counting SPI + authenticator (20 for the MD5 algorithms).
 */
struct vec {
	const char	*name;
	const char	*hex;
	size_t		 ext_off;	/* offset of the auth extension */
	uint8_t		 ext_type;	/* 32 MN-HA, 34 FA-HA (§3.5.2/3.5.4) */
	uint32_t	 spi;
	enum mip_auth_alg alg;
	const char	*key;
	const char	*auth;
};

static const struct vec vecs[] = {
	{ "rrq-colocated-hmac-md5",
	  "01220258c6120a05c6336401c6120102eb0f2c1a123456782014000003e8"
	  "5085da5047360f8b1a7137dc702b60fd",
	  24, 32, 1000, MIP_AUTH_HMAC_MD5,
	  "00112233445566778899aabbccddeeff",
	  "5085da5047360f8b1a7137dc702b60fd" },
	{ "rrq-keyed-md5",
	  "0120012cc6120a06c6336401c6120102eb0f2c1a123456792014000003ea"
	  "b34649a20a5bfc48e67b82ed83eb4c21",
	  24, 32, 1002, MIP_AUTH_KEYED_MD5,
	  "00112233445566778899aabbccddeeff",
	  "b34649a20a5bfc48e67b82ed83eb4c21" },
	/* NAI extension (131, length 16: "bob@acme.example") at 24, MN-HA
	 * after it at 24 + 2 + 16 = 42. */
	{ "rrq-nai-dynamic-hoa",
	  "0122025800000000c6336401c6120102eb0f2c1a1234567a"
	  "8310626f624061636d652e6578616d706c65"
	  "2014000003e92cff068216b50fb8c3ba1b860bc8f7fb",
	  42, 32, 1001, MIP_AUTH_HMAC_MD5,
	  "0f0e0d0c0b0a09080706050403020100",
	  "2cff068216b50fb8c3ba1b860bc8f7fb" },
	/* MN-HA at 24, 2 + 20 bytes long; FA-HA after it at 46, covering
	 * the whole MN-HA extension (RFC 5944 §3.5.1, §3.5.4). */
	{ "rrq-via-fa-with-fa-ha (MN-HA)",
	  "01020258c6120a05c6336401c6120101eb0f2c1a1234567b"
	  "2014000003e881ad2030934f99738355234dad052a94"
	  "2214000007d044a457bd6ebfe8e8402b3316c6475397",
	  24, 32, 1000, MIP_AUTH_HMAC_MD5,
	  "00112233445566778899aabbccddeeff",
	  "81ad2030934f99738355234dad052a94" },
	{ "rrq-via-fa-with-fa-ha (FA-HA)",
	  "01020258c6120a05c6336401c6120101eb0f2c1a1234567b"
	  "2014000003e881ad2030934f99738355234dad052a94"
	  "2214000007d044a457bd6ebfe8e8402b3316c6475397",
	  46, 34, 2000, MIP_AUTH_HMAC_MD5,
	  "0f0e0d0c0b0a09080706050403020100",
	  "44a457bd6ebfe8e8402b3316c6475397" },
	{ "rrp-accepted",
	  "03000258c6120a05c6336401eb0f2c1a12345678"
	  "2014000003e8b737ade6c70de4815ec94ed46cb73aeb",
	  20, 32, 1000, MIP_AUTH_HMAC_MD5,
	  "00112233445566778899aabbccddeeff",
	  "b737ade6c70de4815ec94ed46cb73aeb" },
	{ "rrp-133-identification-mismatch",
	  "03850000c6120a05c6336401eb0f2c4012345678"
	  "2014000003e87bcab46fec3776974ff88f86f5f8250d",
	  20, 32, 1000, MIP_AUTH_HMAC_MD5,
	  "00112233445566778899aabbccddeeff",
	  "7bcab46fec3776974ff88f86f5f8250d" },
};

#define NVECS	(sizeof(vecs) / sizeof(vecs[0]))

START_TEST(registration_vectors)
{
	const struct vec	*v = &vecs[_i];
	uint8_t			 msg[128], key[64], out[MIP_AUTH_MAXLEN];
	size_t			 len, keylen, covered, alen;
	struct mip_auth		*a;
	uint32_t		 spi;

	len = unhex(v->hex, msg, sizeof(msg));
	keylen = unhex(v->key, key, sizeof(key));
	alen = mip_auth_alg_len(v->alg);

	/* The hand-computed offset really is the extension: type, length
	 * (SPI + authenticator), SPI. */
	ck_assert_uint_le(v->ext_off + 6 + alen, len);
	ck_assert_uint_eq(msg[v->ext_off], v->ext_type);
	ck_assert_uint_eq(msg[v->ext_off + 1], 4 + alen);
	spi = (uint32_t)msg[v->ext_off + 2] << 24 |
	    (uint32_t)msg[v->ext_off + 3] << 16 |
	    (uint32_t)msg[v->ext_off + 4] << 8 | msg[v->ext_off + 5];
	ck_assert_uint_eq(spi, v->spi);
	ck_assert(mip_spi_valid(spi));

	covered = v->ext_off + 6;
	a = mip_auth_new(v->alg, key, keylen);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(mip_auth_sign(a, msg, covered, out, sizeof(out)),
	    (int)alen);
	assert_hex(out, alen, v->auth);
	/* and it is the authenticator carried in the message */
	ck_assert_mem_eq(out, msg + covered, alen);
	ck_assert_msg(mip_auth_verify(a, msg, covered, msg + covered, alen),
	    "%s does not verify", v->name);
	mip_auth_free(a);
}
END_TEST

/* Any single flipped bit in the data or the authenticator is refused. */
START_TEST(verify_rejects_flips)
{
	const struct vec	*v = &vecs[0];
	uint8_t			 msg[128], key[64];
	size_t			 len, keylen, covered, i;
	unsigned		 b;
	struct mip_auth		*a;

	len = unhex(v->hex, msg, sizeof(msg));
	keylen = unhex(v->key, key, sizeof(key));
	covered = v->ext_off + 6;
	a = mip_auth_new(v->alg, key, keylen);
	ck_assert_ptr_nonnull(a);
	ck_assert(mip_auth_verify(a, msg, covered, msg + covered, 16));

	for (i = 0; i < len; i++)
		for (b = 0; b < 8; b++) {
			msg[i] ^= (uint8_t)(1u << b);
			ck_assert_msg(!mip_auth_verify(a, msg, covered,
			    msg + covered, 16), "flip byte %zu bit %u "
			    "accepted", i, b);
			msg[i] ^= (uint8_t)(1u << b);
		}
	/* a different key does not verify either */
	key[0] ^= 1;
	mip_auth_free(a);
	a = mip_auth_new(v->alg, key, keylen);
	ck_assert(!mip_auth_verify(a, msg, covered, msg + covered, 16));
	mip_auth_free(a);
}
END_TEST

START_TEST(verify_rejects_length)
{
	const struct vec	*v = &vecs[0];
	uint8_t			 msg[128], key[64], big[MIP_AUTH_MAXLEN + 1];
	size_t			 keylen, covered;
	struct mip_auth		*a;

	unhex(v->hex, msg, sizeof(msg));
	keylen = unhex(v->key, key, sizeof(key));
	covered = v->ext_off + 6;
	a = mip_auth_new(v->alg, key, keylen);
	ck_assert_ptr_nonnull(a);

	ck_assert(!mip_auth_verify(a, msg, covered, msg + covered, 0));
	ck_assert(!mip_auth_verify(a, msg, covered, msg + covered, 15));
	ck_assert(!mip_auth_verify(a, msg, covered, NULL, 16));
	/* the right 16 bytes followed by more are still the wrong length */
	memset(big, 0, sizeof(big));
	memcpy(big, msg + covered, 16);
	ck_assert(!mip_auth_verify(a, msg, covered, big, 17));
	ck_assert(!mip_auth_verify(a, msg, covered, big, 32));
	ck_assert(mip_auth_verify(a, msg, covered, big, 16));
	/* a truncated covered span is a different message */
	ck_assert(!mip_auth_verify(a, msg, covered - 1, msg + covered, 16));
	mip_auth_free(a);
}
END_TEST

START_TEST(sign_needs_room)
{
	struct mip_auth	*a;
	uint8_t		 out[MIP_AUTH_MAXLEN];

	a = mip_auth_new(MIP_AUTH_HMAC_SHA256, (const uint8_t *)"k", 1);
	ck_assert_ptr_nonnull(a);
	memset(out, 0xee, sizeof(out));
	ck_assert_int_eq(mip_auth_sign(a, (const uint8_t *)"x", 1, out, 31),
	    -1);
	ck_assert_uint_eq(out[0], 0xee);
	ck_assert_int_eq(mip_auth_sign(a, (const uint8_t *)"x", 1, out, 32),
	    32);
	mip_auth_free(a);
}
END_TEST

START_TEST(alg_names)
{
	static const struct {
		const char		*name;
		enum mip_auth_alg	 alg;
		size_t			 len;
	} t[] = {
		{ "hmac-md5", MIP_AUTH_HMAC_MD5, 16 },
		{ "keyed-md5", MIP_AUTH_KEYED_MD5, 16 },
		{ "hmac-sha256", MIP_AUTH_HMAC_SHA256, 32 },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(mip_auth_alg_from_name(t[i].name), t[i].alg);
		ck_assert_str_eq(mip_auth_alg_name(t[i].alg), t[i].name);
		ck_assert_uint_eq(mip_auth_alg_len(t[i].alg), t[i].len);
	}
	ck_assert_int_eq(mip_auth_alg_from_name("md5"), MIP_AUTH_ALG_INVALID);
	ck_assert_int_eq(mip_auth_alg_from_name("hmac-md5 "),
	    MIP_AUTH_ALG_INVALID);
	ck_assert_int_eq(mip_auth_alg_from_name(""), MIP_AUTH_ALG_INVALID);
	ck_assert_int_eq(mip_auth_alg_from_name(NULL), MIP_AUTH_ALG_INVALID);
	ck_assert_ptr_null(mip_auth_alg_name(MIP_AUTH_ALG_INVALID));
	ck_assert_uint_eq(mip_auth_alg_len(MIP_AUTH_ALG_INVALID), 0);
	/* RFC 5944 §3.5.1: HMAC-MD5 is the default and must be there. */
	ck_assert_int_eq(mip_auth_alg_from_name("hmac-md5"),
	    MIP_AUTH_HMAC_MD5);
}
END_TEST

/* RFC 5944 §1.6: SPI values 0 through 255 are reserved. */
START_TEST(spi_reserved)
{
	ck_assert(!mip_spi_valid(0));
	ck_assert(!mip_spi_valid(1));
	ck_assert(!mip_spi_valid(255));
	ck_assert(mip_spi_valid(256));
	ck_assert(mip_spi_valid(1000));
	ck_assert(mip_spi_valid(UINT32_MAX));
}
END_TEST

START_TEST(new_rejects)
{
	uint8_t	key[16] = { 1 };

	errno = 0;
	ck_assert_ptr_null(mip_auth_new(MIP_AUTH_ALG_INVALID, key, 16));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(mip_auth_new((enum mip_auth_alg)99, key, 16));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(mip_auth_new(MIP_AUTH_HMAC_MD5, key, 0));
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_null(mip_auth_new(MIP_AUTH_KEYED_MD5, NULL, 16));
	ck_assert_int_eq(errno, EINVAL);
	mip_auth_free(NULL);
}
END_TEST

/* The per-message path must not allocate (>100k messages/s). */
START_TEST(sign_verify_no_alloc)
{
	static const enum mip_auth_alg algs[] = {
		MIP_AUTH_HMAC_MD5, MIP_AUTH_KEYED_MD5, MIP_AUTH_HMAC_SHA256
	};
	uint8_t		 key[16], msg[50], out[MIP_AUTH_MAXLEN];
	struct mip_auth	*a;
	unsigned long	 before;
	size_t		 i;
	int		 n, k;

	ck_assert_msg(ossl_hooked, "OpenSSL allocation hooks not installed");
	/* the counter sees OpenSSL allocations */
	before = ossl_allocs;
	OPENSSL_free(OPENSSL_malloc(8));
	ck_assert_uint_eq(ossl_allocs - before, 1);
	memset(key, 0x42, sizeof(key));
	memset(msg, 0x17, sizeof(msg));
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		a = mip_auth_new(algs[i], key, sizeof(key));
		ck_assert_ptr_nonnull(a);
		n = mip_auth_sign(a, msg, sizeof(msg), out, sizeof(out));
		before = ossl_allocs;
		for (k = 0; k < 1000; k++) {
			msg[0] = (uint8_t)k;
			n = mip_auth_sign(a, msg, sizeof(msg), out,
			    sizeof(out));
			ck_assert(mip_auth_verify(a, msg, sizeof(msg), out,
			    (size_t)n));
		}
		ck_assert_uint_eq(ossl_allocs - before, 0);
		mip_auth_free(a);
	}
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc;

	tc = tcase_create("known answers");
	tcase_add_test(tc, md5_rfc1321_suite);
	tcase_add_test(tc, hmac_md5_rfc2104);
	tcase_add_test(tc, hmac_md5_long_key);
	tcase_add_test(tc, hmac_sha256_rfc4231);
	tcase_add_test(tc, keyed_md5_definition);
	tcase_add_loop_test(tc, registration_vectors, 0, NVECS);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_test(tc, verify_rejects_flips);
	tcase_add_test(tc, verify_rejects_length);
	tcase_add_test(tc, sign_needs_room);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_test(tc, alg_names);
	tcase_add_test(tc, spi_reserved);
	tcase_add_test(tc, new_rejects);
	tcase_add_test(tc, sign_verify_no_alloc);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	/* Must come before OpenSSL allocates anything. */
	ossl_hooked = CRYPTO_set_mem_functions(count_malloc, count_realloc,
	    count_free);
	sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
