/*
 * mip_auth.c - Mobile IPv4 authenticators (RFC 5944 §3.5.1, §5.1).
 *
 * Table-driven: a hash backend table (MD5, SHA-256) and an algorithm
 * table (hash + mode) keyed by enum mip_auth_alg; a new algorithm is one
 * row, a new hash one backend.
 *
 * Why OpenSSL's low-level MD5_*()/SHA256_*() and not EVP: with OpenSSL
 * 3.0 every EVP_DigestInit_ex2(), EVP_MD_CTX_copy_ex() and re-init of an
 * EVP_MAC_CTX allocates a fresh provider context (measured on 3.0.22: one
 * malloc per digest init or copy, two per HMAC through EVP_MAC). The
 * low-level contexts are plain structs: the states after the key blocks
 * are computed once in mip_auth_new() and copied by assignment per
 * message, so signing allocates nothing and runs two compression calls
 * fewer than a from-scratch HMAC. Those functions are deprecated in 3.0
 * but present in every 3.x; they are confined to the backend table below.
 */
#define OPENSSL_SUPPRESS_DEPRECATED	/* MD5_Init() & co., see above */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "mip_auth.h"

#define HASH_MAXBLOCK	64		/* B of RFC 2104 §2, MD5 and SHA-256 */
#define HASH_MAXDIGEST	32		/* L of RFC 2104 §2, SHA-256 */

_Static_assert(MD5_CBLOCK <= HASH_MAXBLOCK && SHA256_CBLOCK <= HASH_MAXBLOCK,
    "HASH_MAXBLOCK too small");
_Static_assert(SHA256_DIGEST_LENGTH <= HASH_MAXDIGEST &&
    HASH_MAXDIGEST <= MIP_AUTH_MAXLEN && MD5_DIGEST_LENGTH == MIP_MD5_LEN,
    "digest lengths");

/* Hash backends. */

union hash_ctx {
	MD5_CTX		md5;
	SHA256_CTX	sha256;
};

struct hash_desc {
	size_t	  dlen;				/* L: digest length */
	size_t	  blen;				/* B: block length */
	void	(*init)(union hash_ctx *);
	void	(*update)(union hash_ctx *, const void *, size_t);
	void	(*final)(union hash_ctx *, uint8_t *);
};

static void
md5_init(union hash_ctx *c)
{
	MD5_Init(&c->md5);
}

static void
md5_update(union hash_ctx *c, const void *p, size_t n)
{
	MD5_Update(&c->md5, p, n);
}

static void
md5_final(union hash_ctx *c, uint8_t *out)
{
	MD5_Final(out, &c->md5);
}

static void
sha256_init(union hash_ctx *c)
{
	SHA256_Init(&c->sha256);
}

static void
sha256_update(union hash_ctx *c, const void *p, size_t n)
{
	SHA256_Update(&c->sha256, p, n);
}

static void
sha256_final(union hash_ctx *c, uint8_t *out)
{
	SHA256_Final(out, &c->sha256);
}

static const struct hash_desc hash_md5 = {
	MD5_DIGEST_LENGTH, MD5_CBLOCK, md5_init, md5_update, md5_final
};

static const struct hash_desc hash_sha256 = {
	SHA256_DIGEST_LENGTH, SHA256_CBLOCK, sha256_init, sha256_update,
	sha256_final
};

/* Algorithms: a hash and the way the key is mixed in. */

enum auth_mode {
	MODE_HMAC,		/* RFC 2104 §2 */
	MODE_PREFIX_SUFFIX,	/* H(key || data || key), RFC 5944 §5.1 */
};

struct alg_desc {
	enum mip_auth_alg	 alg;
	const char		*name;
	enum auth_mode		 mode;
	const struct hash_desc	*hash;
};

static const struct alg_desc algs[] = {
	{ MIP_AUTH_HMAC_MD5,	"hmac-md5",	MODE_HMAC,	&hash_md5 },
	{ MIP_AUTH_KEYED_MD5,	"keyed-md5",	MODE_PREFIX_SUFFIX, &hash_md5 },
	{ MIP_AUTH_HMAC_SHA256,	"hmac-sha256",	MODE_HMAC,	&hash_sha256 },
};

#define NALGS	(sizeof(algs) / sizeof(algs[0]))

struct mip_auth {
	const struct alg_desc	*desc;
	size_t			 size;	/* bytes allocated, for the wipe */
	union hash_ctx		 inner;	/* HMAC: after K^ipad; keyed: after K */
	union hash_ctx		 outer;	/* HMAC: after K^opad */
	size_t			 keylen; /* prefix+suffix only, else 0 */
	uint8_t			 key[];	 /* prefix+suffix only */
};

static const struct alg_desc *
alg_lookup(enum mip_auth_alg alg)
{
	size_t	i;

	for (i = 0; i < NALGS; i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

enum mip_auth_alg
mip_auth_alg_from_name(const char *name)
{
	size_t	i;

	if (name == NULL)
		return MIP_AUTH_ALG_INVALID;
	for (i = 0; i < NALGS; i++)
		if (strcmp(algs[i].name, name) == 0)
			return algs[i].alg;
	return MIP_AUTH_ALG_INVALID;
}

const char *
mip_auth_alg_name(enum mip_auth_alg alg)
{
	const struct alg_desc	*d = alg_lookup(alg);

	return d != NULL ? d->name : NULL;
}

size_t
mip_auth_alg_len(enum mip_auth_alg alg)
{
	const struct alg_desc	*d = alg_lookup(alg);

	return d != NULL ? d->hash->dlen : 0;
}

bool
mip_spi_valid(uint32_t spi)
{
	/* RFC 5944 §1.6: "SPI values 0 through 255 are reserved and MUST
	 * NOT be used in any Mobility Security Association." */
	return spi >= MIP_SPI_MIN;
}

/*
 * RFC 2104 §2: K longer than B is first hashed; K is then zero-padded
 * to B bytes, and the inner and outer hashes start with K^ipad and
 * K^opad. Those two first blocks depend only on the key: hash them here.
 */
static void
hmac_precompute(struct mip_auth *a, const uint8_t *key, size_t keylen)
{
	const struct hash_desc	*h = a->desc->hash;
	union hash_ctx		 c;
	uint8_t			 k0[HASH_MAXBLOCK], pad[HASH_MAXBLOCK];
	size_t			 i;

	memset(k0, 0, sizeof(k0));
	if (keylen > h->blen) {
		h->init(&c);
		h->update(&c, key, keylen);
		h->final(&c, k0);
	} else
		memcpy(k0, key, keylen);

	for (i = 0; i < h->blen; i++)
		pad[i] = k0[i] ^ 0x36;
	h->init(&a->inner);
	h->update(&a->inner, pad, h->blen);
	for (i = 0; i < h->blen; i++)
		pad[i] = k0[i] ^ 0x5c;
	h->init(&a->outer);
	h->update(&a->outer, pad, h->blen);

	OPENSSL_cleanse(&c, sizeof(c));
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(pad, sizeof(pad));
}

struct mip_auth *
mip_auth_new(enum mip_auth_alg alg, const uint8_t *key, size_t keylen)
{
	const struct alg_desc	*d;
	struct mip_auth		*a;
	size_t			 extra, size;

	if ((d = alg_lookup(alg)) == NULL || key == NULL || keylen == 0) {
		errno = EINVAL;
		return NULL;
	}
	/* Only prefix+suffix needs the key itself after setup (suffix). */
	extra = d->mode == MODE_PREFIX_SUFFIX ? keylen : 0;
	if (extra > SIZE_MAX - sizeof(*a)) {
		errno = ENOMEM;
		return NULL;
	}
	size = sizeof(*a) + extra;
	if ((a = calloc(1, size)) == NULL)
		return NULL;
	a->desc = d;
	a->size = size;

	switch (d->mode) {
	case MODE_HMAC:
		hmac_precompute(a, key, keylen);
		break;
	case MODE_PREFIX_SUFFIX:
		a->keylen = keylen;
		memcpy(a->key, key, keylen);
		d->hash->init(&a->inner);
		d->hash->update(&a->inner, key, keylen);
		break;
	}
	return a;
}

void
mip_auth_free(struct mip_auth *a)
{
	if (a == NULL)
		return;
	OPENSSL_cleanse(a, a->size);
	free(a);
}

enum mip_auth_alg
mip_auth_get_alg(const struct mip_auth *a)
{
	return a->desc->alg;
}

size_t
mip_auth_len(const struct mip_auth *a)
{
	return a->desc->hash->dlen;
}

/* out has room for the digest length; nothing here allocates. */
static void
auth_compute(const struct mip_auth *a, const uint8_t *data, size_t len,
    uint8_t *out)
{
	const struct hash_desc	*h = a->desc->hash;
	union hash_ctx		 w;
	uint8_t			 ihash[HASH_MAXDIGEST];

	w = a->inner;
	h->update(&w, data, len);
	switch (a->desc->mode) {
	case MODE_HMAC:
		/* RFC 2104 §2: H(K^opad, H(K^ipad, text)) */
		h->final(&w, ihash);
		w = a->outer;
		h->update(&w, ihash, h->dlen);
		h->final(&w, out);
		OPENSSL_cleanse(ihash, sizeof(ihash));
		break;
	case MODE_PREFIX_SUFFIX:
		h->update(&w, a->key, a->keylen);
		h->final(&w, out);
		break;
	}
	OPENSSL_cleanse(&w, sizeof(w));
}

int
mip_auth_sign(const struct mip_auth *a, const uint8_t *data, size_t len,
    uint8_t *out, size_t outlen)
{
	size_t	dlen = a->desc->hash->dlen;

	if (outlen < dlen)
		return -1;
	auth_compute(a, data, len, out);
	return (int)dlen;
}

bool
mip_auth_verify(const struct mip_auth *a, const uint8_t *data, size_t len,
    const uint8_t *auth, size_t auth_len)
{
	uint8_t	want[MIP_AUTH_MAXLEN];
	size_t	dlen = a->desc->hash->dlen;
	bool	ok;

	/* The length is not secret: the extension Length field carries it. */
	if (auth == NULL || auth_len != dlen)
		return false;
	auth_compute(a, data, len, want);
	ok = CRYPTO_memcmp(want, auth, dlen) == 0;
	/* The right authenticator for a forged message is worth hiding. */
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

void
mip_md5(const uint8_t *data, size_t len, uint8_t out[MIP_MD5_LEN])
{
	union hash_ctx	c;

	hash_md5.init(&c);
	hash_md5.update(&c, data, len);
	hash_md5.final(&c, out);
}
