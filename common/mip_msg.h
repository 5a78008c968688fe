/*
 * mip_msg.h - Mobile IPv4 Registration Request/Reply codec.
 *
 * Pure functions on caller buffers: decoders take bytes and return an
 * error value and a struct, builders write into a struct wr (wire.h).
 * Implements the fixed parts of RFC 5944 §3.3 (Request) and §3.4 (Reply),
 * the extension formats of RFC 5944 §1.9-§1.11 with the discard/skip rule
 * of §1.8, and the extensions of RFC 5944 §3.5, RFC 2794, RFC 3024,
 * RFC 3519, RFC 3543, RFC 4433, RFC 4721 and RFC 4917.
 *
 * Lifetime: every pointer in a decoded struct points into the buffer given
 * to the decoder; it stays valid only as long as that buffer is unchanged.
 */
#ifndef MIPHA_MIP_MSG_H
#define MIPHA_MIP_MSG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mip_proto.h"
#include "wire.h"

#define MIP_RRQ_FIXED_LEN	24	/* RFC 5944 §3.3 */
#define MIP_RRP_FIXED_LEN	20	/* RFC 5944 §3.4 */
#define MIP_MSG_MAX_EXT		32	/* extensions recorded per message, padding included */

/* Decoder results.  mip_msg_err_reply_code() maps them to a reply. */
enum mip_msg_err {
	MIP_MSG_OK = 0,
	MIP_MSG_ETYPE,		/* first octet is not the expected message type */
	MIP_MSG_ESHORT,		/* shorter than the fixed part */
	MIP_MSG_EOVERRUN,	/* an extension's header or data runs past the end */
	MIP_MSG_EEXTLEN,	/* a known extension with a length its RFC forbids */
	MIP_MSG_EUNKNOWN,	/* not understood extension 0-127: discard (RFC 5944 §1.8) */
	MIP_MSG_ETOOMANY,	/* more than MIP_MSG_MAX_EXT extensions */
};

/* One extension as it sits in the message.  Offsets are from message start. */
struct mip_ext {
	uint8_t		 type;
	uint8_t		 subtype;	/* short (§1.11) and long (§1.10) formats; else 0 */
	bool		 skipped;	/* not understood and skipped (128-255, RFC 5944 §1.8) */
	size_t		 off;		/* offset of the Type octet */
	size_t		 len;		/* whole extension: header and data */
	size_t		 data_off;	/* first octet after Type/Length[/Sub-Type] */
	size_t		 data_len;
};

/* An authentication extension (RFC 5944 §3.5.2-§3.5.4, RFC 4721 §5). */
struct mip_auth_ext {
	bool		 present;
	unsigned	 count;		/* occurrences; >1 means duplicated */
	unsigned	 idx;		/* index in mip_exts.list of the first one */
	uint32_t	 spi;
	const uint8_t	*auth;		/* authenticator, in the caller's buffer */
	size_t		 auth_len;
	size_t		 auth_off;	/* offset of the authenticator */
	/*
	 * Message octets protected by this authenticator: from the start of
	 * the message through this extension's SPI (RFC 5944 §3.5.1; for the
	 * long format Type, Subtype, Length and SPI, RFC 4721 §6).
	 */
	size_t		 covered_len;
};

/* Everything after the fixed part, shared by requests and replies. */
struct mip_exts {
	unsigned	 n;			/* entries used in list */
	unsigned	 n_skipped;		/* of which not understood, skipped */
	struct mip_ext	 list[MIP_MSG_MAX_EXT];

	/* Direct access to the understood ones; the first if repeated. */
	struct mip_auth_ext	 mn_ha;			/* type 32 */
	struct mip_auth_ext	 mn_fa;			/* type 33 */
	struct mip_auth_ext	 fa_ha;			/* type 34 */
	struct mip_auth_ext	 mn_aaa;		/* type 36 subtype 1 (RFC 4721 §6) */

	struct {
		bool		 present;
		const uint8_t	*nai;		/* not NUL-terminated */
		size_t		 len;
	} nai;					/* RFC 2794 §2 */

	struct {
		bool		 present;
		const uint8_t	*data;
		size_t		 len;
	} challenge;				/* RFC 4721 §4 */

	struct {
		bool		 present;	/* false also when skipped, RFC 3519 §3.1.3 */
		bool		 force;		/* F */
		bool		 fa_required;	/* R */
		uint8_t		 encap;		/* enum mip_udp_tunnel_encap */
	} udp_req;				/* RFC 3519 §3.1 */

	struct {
		bool		 present;
		bool		 force;		/* F */
		uint8_t		 code;		/* enum mip_udp_tunnel_reply_code */
		uint16_t	 keepalive;	/* seconds; 0 = MN default */
	} udp_rep;				/* RFC 3519 §3.2 */

	struct {
		bool		 present;
		bool		 i_bit;
		uint32_t	 timestamp;
	} revocation;				/* RFC 3543 §3.2 */

	struct {
		bool		 present;
		uint8_t		 subtype;	/* enum mip_msg_string_subtype */
		const uint8_t	*text;		/* UTF-8, not NUL-terminated */
		size_t		 len;
	} msg_string;				/* RFC 4917 §3 */

	struct {
		bool		 present;
		uint8_t		 subtype;	/* enum mip_dyn_ha_subtype */
		struct in_addr	 addr;
	} dyn_ha;				/* RFC 4433 §3.4 */

	bool		 encap_delivery;	/* RFC 3024 §3.3 */
};

/* Fixed part of a Registration Request (RFC 5944 §3.3). */
struct mip_rrq_fields {
	uint8_t		 flags;		/* enum mip_rrq_flag bits */
	uint16_t	 lifetime;
	struct in_addr	 home_addr;
	struct in_addr	 ha_addr;
	struct in_addr	 coa;
	uint64_t	 id;
};

/* Fixed part of a Registration Reply (RFC 5944 §3.4). */
struct mip_rrp_fields {
	uint8_t		 code;		/* enum mip_reply_code */
	uint16_t	 lifetime;
	struct in_addr	 home_addr;
	struct in_addr	 ha_addr;
	uint64_t	 id;
};

struct mip_rrq {
	struct mip_rrq_fields	 f;
	const uint8_t		*msg;	/* the decoded buffer */
	size_t			 len;
	struct mip_exts		 ext;
};

struct mip_rrp {
	struct mip_rrp_fields	 f;
	const uint8_t		*msg;
	size_t			 len;
	struct mip_exts		 ext;
};

/*
 * Decoders.  On MIP_MSG_OK everything in *out is set.  On any error other
 * than ETYPE and ESHORT the fixed part (out->f) is set too, so that the
 * home agent can build its reply, and out->ext holds what was parsed
 * before the error.
 */
enum mip_msg_err	 rrq_decode(const uint8_t *buf, size_t len, struct mip_rrq *out);
enum mip_msg_err	 rrp_decode(const uint8_t *buf, size_t len, struct mip_rrp *out);

/*
 * What a home agent does with a Request that failed to decode: the reply
 * code to send (134, poorly formed), or 0 to discard it silently.
 */
int			 mip_msg_err_reply_code(enum mip_msg_err err);
const char		*mip_msg_strerror(enum mip_msg_err err);

/*
 * Builders.  The *_put functions append to w and return false when the
 * data does not fit or cannot be encoded (e.g. more than 255 octets in a
 * short extension); then nothing is written and w->overflow is set, so
 * one check of w->overflow at the end is enough.
 */
bool	 rrq_put(struct wr *w, const struct mip_rrq_fields *f);
bool	 rrp_put(struct wr *w, const struct mip_rrp_fields *f);
/* Fixed part only into buf: returns the length written, 0 if cap is too small. */
size_t	 rrq_encode(const struct mip_rrq_fields *f, uint8_t *buf, size_t cap);
size_t	 rrp_encode(const struct mip_rrp_fields *f, uint8_t *buf, size_t cap);

bool	 mip_ext_put_pad(struct wr *w);
bool	 mip_ext_put_nai(struct wr *w, const void *nai, size_t len);
/*
 * Authentication extensions 32, 33, 34 (RFC 5944 §3.5.2-§3.5.4): writes
 * Type, Length and SPI and reserves auth_len zeroed octets.  Returns the
 * offset of the authenticator, which is also the number of octets it
 * covers (RFC 5944 §3.5.1): compute it over w->buf[0 .. ret) and store it
 * at w->buf + ret.  Returns 0 on failure.
 */
size_t	 mip_ext_put_auth(struct wr *w, uint8_t type, uint32_t spi, size_t auth_len);
/* Generalized Authentication extension (RFC 4721 §5), same contract. */
size_t	 mip_ext_put_gen_auth(struct wr *w, uint8_t subtype, uint32_t spi, size_t auth_len);
bool	 mip_ext_put_challenge(struct wr *w, const void *challenge, size_t len);
bool	 mip_ext_put_udp_tunnel_req(struct wr *w, bool force, bool fa_required, uint8_t encap);
bool	 mip_ext_put_udp_tunnel_reply(struct wr *w, bool force, uint8_t code, uint16_t keepalive);
bool	 mip_ext_put_revocation_support(struct wr *w, bool i_bit, uint32_t timestamp);
bool	 mip_ext_put_msg_string(struct wr *w, uint8_t subtype, const void *text, size_t len);
bool	 mip_ext_put_dyn_ha(struct wr *w, uint8_t subtype, struct in_addr addr);
bool	 mip_ext_put_encap_delivery(struct wr *w);
/* Any Type-Length-Value extension (RFC 5944 §1.9), e.g. for tests. */
bool	 mip_ext_put_tlv(struct wr *w, uint8_t type, const void *data, size_t len);

#endif /* MIPHA_MIP_MSG_H */
