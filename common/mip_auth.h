/*
 * mip_auth.h - Mobile IPv4 authenticators (RFC 5944 §3.5.1, §5.1).
 *
 * One struct mip_auth per security context (SPI) of a Mobility Security
 * Association: created once from the algorithm and the shared key, it
 * keeps the precomputed hash states, so that signing or verifying a
 * registration message allocates nothing and hashes only the message.
 *
 * Algorithms:
 *   hmac-md5     RFC 5944 §3.5.1/§5.1 default, HMAC per RFC 2104
 *   keyed-md5    "prefix+suffix" MD5(key || data || key), RFC 2002
 *                style, kept for backward compatibility (RFC 5944 §5.1)
 *   hmac-sha256  HMAC per RFC 2104 with SHA-256 (RFC 5944 §5.1 "more
 *                authentication algorithms ... MAY also be supported")
 *
 * The data to authenticate is the registration message from its first
 * byte through the SPI of the authentication extension (RFC 5944
 * §3.5.1); finding that span is the codec's job, not this module's.
 *
 * Keys are secret: they are copied into the object, wiped with
 * OPENSSL_cleanse() by mip_auth_free() and never printed.
 */
#ifndef MIPHA_MIP_AUTH_H
#define MIPHA_MIP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mip_auth_alg {
	MIP_AUTH_ALG_INVALID = 0,	/* zeroed config is not an algorithm */
	MIP_AUTH_HMAC_MD5,		/* RFC 5944 §3.5.1, §5.1; RFC 2104 */
	MIP_AUTH_KEYED_MD5,		/* RFC 5944 §5.1 prefix+suffix MD5 */
	MIP_AUTH_HMAC_SHA256,		/* RFC 2104 with SHA-256 */
};

/* Largest authenticator any algorithm produces (HMAC-SHA-256). */
#define MIP_AUTH_MAXLEN		32
#define MIP_MD5_LEN		16

/* SPIs 0-255 are reserved (RFC 5944 §1.6 "Security Parameter Index"). */
#define MIP_SPI_MIN		256

struct mip_auth;

/* Name <-> algorithm, as written in the configuration ("hmac-md5"). */
enum mip_auth_alg mip_auth_alg_from_name(const char *name);
const char	*mip_auth_alg_name(enum mip_auth_alg alg);
/* Authenticator length in bytes, 0 for an unknown algorithm. */
size_t		 mip_auth_alg_len(enum mip_auth_alg alg);

/* RFC 5944 §1.6: SPI values 0 through 255 MUST NOT be used. */
bool		 mip_spi_valid(uint32_t spi);

/*
 * Create the context for one SPI. Any key of 1 byte or more is accepted
 * (RFC 5944 §5.1: keys with arbitrary binary values); the key is copied.
 * NULL with errno EINVAL (unknown algorithm, empty key) or ENOMEM.
 */
struct mip_auth	*mip_auth_new(enum mip_auth_alg alg, const uint8_t *key,
		    size_t keylen);
/* Wipe the key material and free; NULL is a no-op. */
void		 mip_auth_free(struct mip_auth *a);

enum mip_auth_alg mip_auth_get_alg(const struct mip_auth *a);
size_t		 mip_auth_len(const struct mip_auth *a);

/*
 * Compute the authenticator over data[0..len) into out, which has room
 * for outlen bytes. Returns the number of bytes written (mip_auth_len())
 * or -1 when out is too small. No heap allocation.
 */
int		 mip_auth_sign(const struct mip_auth *a, const uint8_t *data,
		    size_t len, uint8_t *out, size_t outlen);

/*
 * True when auth[0..auth_len) is the authenticator of data[0..len).
 * A length other than mip_auth_len() is rejected; the comparison is
 * constant-time (CRYPTO_memcmp). No heap allocation.
 */
bool		 mip_auth_verify(const struct mip_auth *a, const uint8_t *data,
		    size_t len, const uint8_t *auth, size_t auth_len);

/* Plain MD5 (RFC 1321) through the same primitive, for tests and tools. */
void		 mip_md5(const uint8_t *data, size_t len,
		    uint8_t out[MIP_MD5_LEN]);

#endif /* MIPHA_MIP_AUTH_H */
