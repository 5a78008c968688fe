/*
 * mip_msg.c - Mobile IPv4 Registration Request/Reply codec.
 *
 * Owns the wire format of registration messages: the fixed parts
 * (RFC 5944 §3.3, §3.4), the three extension encodings (Type-Length-Value
 * §1.9, long §1.10, short §1.11, plus the length-less padding octet §1.8)
 * and the per-extension rules of the RFCs named in the table below.
 * Decoding never reads past len and never allocates; every pointer it
 * returns points into the caller's buffer.
 */
#include <string.h>

#include "mip_msg.h"

enum ext_fmt {
	FMT_TLV,	/* Type, Length(8), Data: RFC 5944 §1.9 */
	FMT_SHORT,	/* Type, Length(8), Sub-Type, Data: RFC 5944 §1.11 */
	FMT_LONG,	/* Type, Sub-Type, Length(16), Data: RFC 5944 §1.10 */
};

/* What a per-extension parser concluded. */
enum ext_verdict {
	EXT_OK,		/* understood and recorded */
	EXT_SKIP,	/* skippable but not understood: ignore it (RFC 5944 §1.8) */
	EXT_BADLEN,	/* length its RFC does not allow */
	EXT_UNKNOWN,	/* non-skippable and not understood: discard message */
};

struct ext_rule {
	uint8_t		 type;
	enum ext_fmt	 fmt;
	enum ext_verdict (*parse)(struct mip_exts *, const uint8_t *, const struct mip_ext *);
};

static void
auth_record(struct mip_auth_ext *a, const uint8_t *msg, const struct mip_ext *e,
    unsigned idx)
{
	if (a->count++ > 0)
		return;		/* keep the first; count tells of duplicates */
	a->present = true;
	a->idx = idx;
	a->spi = get_be32(msg + e->data_off);
	a->auth_off = e->data_off + 4;
	a->auth = msg + a->auth_off;
	a->auth_len = e->data_len - 4;
	/* Everything up to and including the SPI (RFC 5944 §3.5.1, RFC 4721 §6). */
	a->covered_len = a->auth_off;
}

/* Mobile-Home, Mobile-Foreign, Foreign-Home (RFC 5944 §3.5.2-§3.5.4). */
static enum ext_verdict
parse_auth(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	struct mip_auth_ext *a;

	/* Length is 4 (the SPI) plus the authenticator. */
	if (e->data_len < 4)
		return EXT_BADLEN;
	switch (e->type) {
	case MIP_EXT_MN_HA_AUTH:
		a = &x->mn_ha;
		break;
	case MIP_EXT_MN_FA_AUTH:
		a = &x->mn_fa;
		break;
	default:
		a = &x->fa_ha;
		break;
	}
	auth_record(a, msg, e, x->n);
	return EXT_OK;
}

/* Generalized Mobile IP Authentication, long format (RFC 4721 §5). */
static enum ext_verdict
parse_gen_auth(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	/*
	 * Type 36 is not skippable: a subtype we do not know is an extension
	 * we do not understand (RFC 5944 §1.8).
	 */
	if (e->subtype != MIP_GEN_AUTH_MN_AAA)
		return EXT_UNKNOWN;
	/* "4 plus the number of octets in the Authenticator; MUST be at least 20." */
	if (e->data_len < 20)
		return EXT_BADLEN;
	auth_record(&x->mn_aaa, msg, e, x->n);
	return EXT_OK;
}

/* UDP Tunnel Reply, short format, not skippable (RFC 3519 §3.2). */
static enum ext_verdict
parse_udp_rep(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	const uint8_t *p = msg + e->data_off;

	if (e->subtype != MIP_UDP_TUNNEL_SUBTYPE)
		return EXT_UNKNOWN;
	/* Length 6: Sub-Type, Reply Code, F/Reserved (16), Keepalive (16). */
	if (e->data_len != 5)
		return EXT_BADLEN;
	if (x->udp_rep.present)
		return EXT_OK;
	x->udp_rep.present = true;
	x->udp_rep.code = p[0];
	x->udp_rep.force = (get_be16(p + 1) & MIP_UDP_TUNNEL_REP_F) != 0;
	x->udp_rep.keepalive = get_be16(p + 3);
	return EXT_OK;
}

/* Encapsulating Delivery Style, Length 0 (RFC 3024 §3.3). */
static enum ext_verdict
parse_encap_delivery(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	(void)msg;
	if (e->data_len != 0)
		return EXT_BADLEN;
	x->encap_delivery = true;
	return EXT_OK;
}

/* Mobile Node NAI (RFC 2794 §2). */
static enum ext_verdict
parse_nai(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	/* An NAI (RFC 2486) is never empty. */
	if (e->data_len == 0)
		return EXT_BADLEN;
	if (x->nai.present)
		return EXT_OK;
	x->nai.present = true;
	x->nai.nai = msg + e->data_off;
	x->nai.len = e->data_len;
	return EXT_OK;
}

/* Mobile-Foreign Challenge (RFC 4721 §4). */
static enum ext_verdict
parse_challenge(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	/* Length of the Challenge value; an empty one challenges nothing. */
	if (e->data_len == 0)
		return EXT_BADLEN;
	if (x->challenge.present)
		return EXT_OK;
	x->challenge.present = true;
	x->challenge.data = msg + e->data_off;
	x->challenge.len = e->data_len;
	return EXT_OK;
}

/* Revocation Support (RFC 3543 §3.2). */
static enum ext_verdict
parse_revocation(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	const uint8_t *p = msg + e->data_off;

	/* "currently 6"; longer is allowed for future bits (RFC 3543 §3.2). */
	if (e->data_len < 6)
		return EXT_BADLEN;
	if (x->revocation.present)
		return EXT_OK;
	x->revocation.present = true;
	x->revocation.i_bit = (get_be16(p) & MIP_REVOCATION_I) != 0;
	x->revocation.timestamp = get_be32(p + 2);
	return EXT_OK;
}

/* Dynamic HA Address, long format yet skippable (RFC 4433 §3.4). */
static enum ext_verdict
parse_dyn_ha(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	if (e->subtype != MIP_DYN_HA_REQUESTED &&
	    e->subtype != MIP_DYN_HA_REDIRECTED)
		return EXT_SKIP;
	/* "Length is always 4 bytes." */
	if (e->data_len != 4)
		return EXT_BADLEN;
	if (x->dyn_ha.present)
		return EXT_OK;
	x->dyn_ha.present = true;
	x->dyn_ha.subtype = e->subtype;
	memcpy(&x->dyn_ha.addr, msg + e->data_off, 4);
	return EXT_OK;
}

/* UDP Tunnel Request, short format, skippable (RFC 3519 §3.1). */
static enum ext_verdict
parse_udp_req(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	const uint8_t *p = msg + e->data_off;

	if (e->subtype != MIP_UDP_TUNNEL_SUBTYPE)
		return EXT_SKIP;
	/* Length 6: Sub-Type, Reserved 1, F/R/Reserved 2, Encapsulation, Reserved 3. */
	if (e->data_len != 5)
		return EXT_BADLEN;
	/* Reserved 3 != 0: "handled as not understood and silently skipped" (§3.1.3). */
	if (get_be16(p + 3) != 0)
		return EXT_SKIP;
	if (x->udp_req.present)
		return EXT_OK;
	/* Reserved 1 and 2 are ignored on receipt (RFC 3519 §3.1.3). */
	x->udp_req.present = true;
	x->udp_req.force = (p[1] & MIP_UDP_TUNNEL_REQ_F) != 0;
	x->udp_req.fa_required = (p[1] & MIP_UDP_TUNNEL_REQ_R) != 0;
	x->udp_req.encap = p[2];
	return EXT_OK;
}

/* Message String, short format, skippable (RFC 4917 §3). */
static enum ext_verdict
parse_msg_string(struct mip_exts *x, const uint8_t *msg, const struct mip_ext *e)
{
	if (e->subtype != MIP_MSG_STRING_FROM_HA &&
	    e->subtype != MIP_MSG_STRING_FROM_FA)
		return EXT_SKIP;
	/* Text is "one or more octets" (RFC 4917 §3). */
	if (e->data_len == 0)
		return EXT_BADLEN;
	if (x->msg_string.present)
		return EXT_OK;
	x->msg_string.present = true;
	x->msg_string.subtype = e->subtype;
	x->msg_string.text = msg + e->data_off;
	x->msg_string.len = e->data_len;
	return EXT_OK;
}

/*
 * The extensions we understand.  The RFC 3957 key generation extensions
 * (40-43) are not here on purpose: this implementation does not take part
 * in AAA key distribution, so a message carrying one is discarded as
 * RFC 5944 §1.8 requires for non-skippable extensions.
 */
static const struct ext_rule ext_rules[] = {
	{ MIP_EXT_MN_HA_AUTH,		FMT_TLV,	parse_auth },
	{ MIP_EXT_MN_FA_AUTH,		FMT_TLV,	parse_auth },
	{ MIP_EXT_FA_HA_AUTH,		FMT_TLV,	parse_auth },
	{ MIP_EXT_GEN_AUTH,		FMT_LONG,	parse_gen_auth },
	{ MIP_EXT_UDP_TUNNEL_REPLY,	FMT_SHORT,	parse_udp_rep },
	{ MIP_EXT_ENCAP_DELIVERY,	FMT_TLV,	parse_encap_delivery },
	{ MIP_EXT_NAI,			FMT_TLV,	parse_nai },
	{ MIP_EXT_MN_FA_CHALLENGE,	FMT_TLV,	parse_challenge },
	{ MIP_EXT_REVOCATION,		FMT_TLV,	parse_revocation },
	{ MIP_EXT_DYN_HA,		FMT_LONG,	parse_dyn_ha },
	{ MIP_EXT_UDP_TUNNEL_REQ,	FMT_SHORT,	parse_udp_req },
	{ MIP_EXT_MSG_STRING,		FMT_SHORT,	parse_msg_string },
};

static const struct ext_rule *
ext_rule_find(uint8_t type)
{
	size_t i;

	for (i = 0; i < sizeof(ext_rules) / sizeof(ext_rules[0]); i++)
		if (ext_rules[i].type == type)
			return &ext_rules[i];
	return NULL;
}

/*
 * Reads the header of the extension at r->off into e, by format, and
 * advances r past the whole extension.  Fails with EOVERRUN when header
 * or data do not fit, EEXTLEN when a short-format Length leaves no room
 * for the Sub-Type.
 */
static enum mip_msg_err
ext_header(struct rd *r, enum ext_fmt fmt, struct mip_ext *e)
{
	uint8_t type, l8;
	uint16_t l16;

	e->off = r->off;
	if (!rd_u8(r, &type))
		return MIP_MSG_EOVERRUN;
	e->type = type;
	switch (fmt) {
	case FMT_TLV:
		if (!rd_u8(r, &l8))
			return MIP_MSG_EOVERRUN;
		e->data_len = l8;
		break;
	case FMT_SHORT:
		if (!rd_u8(r, &l8))
			return MIP_MSG_EOVERRUN;
		/* Length counts the Sub-Type octet too (RFC 5944 §1.11). */
		if (l8 < 1) {
			e->len = 2;
			e->data_off = r->off;
			e->data_len = 0;
			return MIP_MSG_EEXTLEN;
		}
		if (!rd_u8(r, &e->subtype))
			return MIP_MSG_EOVERRUN;
		e->data_len = (size_t)l8 - 1;
		break;
	case FMT_LONG:
		if (!rd_u8(r, &e->subtype) || !rd_u16(r, &l16))
			return MIP_MSG_EOVERRUN;
		/* Length excludes Type, Sub-Type and Length (RFC 5944 §1.10). */
		e->data_len = l16;
		break;
	}
	e->data_off = r->off;
	if (!rd_skip(r, e->data_len))
		return MIP_MSG_EOVERRUN;
	e->len = r->off - e->off;
	return MIP_MSG_OK;
}

/* Parses the extensions from r->off to the end of the message (RFC 5944 §1.8). */
static enum mip_msg_err
exts_decode(struct rd *r, struct mip_exts *x)
{
	const struct ext_rule *rule;
	struct mip_ext *e;
	enum mip_msg_err err;
	uint8_t type;

	while (rd_left(r) > 0) {
		if (x->n >= MIP_MSG_MAX_EXT)
			return MIP_MSG_ETOOMANY;
		e = &x->list[x->n];
		memset(e, 0, sizeof(*e));
		type = r->buf[r->off];

		/* One-byte padding has neither Length nor Data (RFC 5944 §1.8). */
		if (type == MIP_EXT_PAD) {
			e->off = e->data_off = r->off;
			e->len = 1;
			rd_skip(r, 1);
			x->n++;
			continue;
		}

		rule = ext_rule_find(type);
		if (rule == NULL) {
			/* 0-127 not recognised: silently discard (RFC 5944 §1.8). */
			if (!MIP_EXT_SKIPPABLE(type))
				return MIP_MSG_EUNKNOWN;
			/*
			 * 128-255: skip it by its Length.  Skippable extensions
			 * never use the long format (RFC 5944 §1.10).
			 */
			if ((err = ext_header(r, FMT_TLV, e)) != MIP_MSG_OK)
				return err;
			e->skipped = true;
			x->n_skipped++;
			x->n++;
			continue;
		}

		if ((err = ext_header(r, rule->fmt, e)) != MIP_MSG_OK)
			return err;
		switch (rule->parse(x, r->buf, e)) {
		case EXT_OK:
			break;
		case EXT_SKIP:
			e->skipped = true;
			x->n_skipped++;
			break;
		case EXT_BADLEN:
			return MIP_MSG_EEXTLEN;
		case EXT_UNKNOWN:
			return MIP_MSG_EUNKNOWN;
		}
		x->n++;
	}
	return MIP_MSG_OK;
}

enum mip_msg_err
rrq_decode(const uint8_t *buf, size_t len, struct mip_rrq *out)
{
	struct rd r;
	uint8_t type;

	memset(out, 0, sizeof(*out));
	out->msg = buf;
	out->len = len;
	rd_init(&r, buf, len);
	if (!rd_u8(&r, &type))
		return MIP_MSG_ESHORT;
	if (type != MIP_MSG_RRQ)
		return MIP_MSG_ETYPE;
	/* Fixed part, RFC 5944 §3.3. */
	if (rd_left(&r) < MIP_RRQ_FIXED_LEN - 1)
		return MIP_MSG_ESHORT;
	rd_u8(&r, &out->f.flags);
	rd_u16(&r, &out->f.lifetime);
	rd_bytes(&r, &out->f.home_addr, 4);
	rd_bytes(&r, &out->f.ha_addr, 4);
	rd_bytes(&r, &out->f.coa, 4);
	rd_u64(&r, &out->f.id);
	return exts_decode(&r, &out->ext);
}

enum mip_msg_err
rrp_decode(const uint8_t *buf, size_t len, struct mip_rrp *out)
{
	struct rd r;
	uint8_t type;

	memset(out, 0, sizeof(*out));
	out->msg = buf;
	out->len = len;
	rd_init(&r, buf, len);
	if (!rd_u8(&r, &type))
		return MIP_MSG_ESHORT;
	if (type != MIP_MSG_RRP)
		return MIP_MSG_ETYPE;
	/* Fixed part, RFC 5944 §3.4. */
	if (rd_left(&r) < MIP_RRP_FIXED_LEN - 1)
		return MIP_MSG_ESHORT;
	rd_u8(&r, &out->f.code);
	rd_u16(&r, &out->f.lifetime);
	rd_bytes(&r, &out->f.home_addr, 4);
	rd_bytes(&r, &out->f.ha_addr, 4);
	rd_u64(&r, &out->f.id);
	return exts_decode(&r, &out->ext);
}

int
mip_msg_err_reply_code(enum mip_msg_err err)
{
	switch (err) {
	case MIP_MSG_EOVERRUN:
	case MIP_MSG_EEXTLEN:
	case MIP_MSG_ETOOMANY:
		/* The fixed part was read: a reply can echo it (RFC 5944 §3.4). */
		return MIP_CODE_HA_BAD_REQUEST;
	case MIP_MSG_ESHORT:
		/*
		 * Without the whole fixed part there is no Identification or
		 * home address to echo, and a mobile node drops a reply it
		 * cannot match (RFC 5944 §3.6.2.1): answering only helps
		 * reflection.
		 */
	case MIP_MSG_EUNKNOWN:	/* RFC 5944 §1.8: silently discarded */
	case MIP_MSG_ETYPE:	/* not a Registration Request at all */
	case MIP_MSG_OK:
		break;
	}
	return 0;
}

const char *
mip_msg_strerror(enum mip_msg_err err)
{
	switch (err) {
	case MIP_MSG_OK:
		return "ok";
	case MIP_MSG_ETYPE:
		return "wrong message type";
	case MIP_MSG_ESHORT:
		return "shorter than the fixed part";
	case MIP_MSG_EOVERRUN:
		return "extension runs past the end of the message";
	case MIP_MSG_EEXTLEN:
		return "extension with an invalid length";
	case MIP_MSG_EUNKNOWN:
		return "unrecognised non-skippable extension";
	case MIP_MSG_ETOOMANY:
		return "too many extensions";
	}
	return "unknown error";
}

const char *
mip_code_str(int code)
{
	switch (code) {
	case MIP_CODE_ACCEPTED:			return "registration accepted";
	case MIP_CODE_ACCEPTED_NO_SIMUL:	return "registration accepted, simultaneous bindings unsupported";
	case MIP_CODE_FA_UNSPECIFIED:		return "FA: reason unspecified";
	case MIP_CODE_FA_PROHIBITED:		return "FA: administratively prohibited";
	case MIP_CODE_FA_RESOURCES:		return "FA: insufficient resources";
	case MIP_CODE_FA_MN_AUTH:		return "FA: mobile node failed authentication";
	case MIP_CODE_FA_HA_AUTH:		return "FA: home agent failed authentication";
	case MIP_CODE_FA_LIFETIME:		return "FA: requested Lifetime too long";
	case MIP_CODE_FA_BAD_REQUEST:		return "FA: poorly formed Request";
	case MIP_CODE_FA_BAD_REPLY:		return "FA: poorly formed Reply";
	case MIP_CODE_FA_ENCAP:			return "FA: requested encapsulation unavailable";
	case MIP_CODE_FA_VJ:			return "FA: reserved and unavailable";
	case MIP_CODE_FA_RT_UNAVAIL:		return "FA: requested reverse tunnel unavailable";
	case MIP_CODE_FA_RT_MANDATORY:		return "FA: reverse tunnel is mandatory and 'T' bit not set";
	case MIP_CODE_FA_TOO_DISTANT:		return "FA: mobile node too distant";
	case MIP_CODE_FA_BAD_COA:		return "FA: invalid care-of address";
	case MIP_CODE_FA_TIMEOUT:		return "FA: registration timeout";
	case MIP_CODE_FA_DELIVERY_STYLE:	return "FA: delivery style not supported";
	case MIP_CODE_FA_HOME_NET_UNREACH:	return "FA: home network unreachable";
	case MIP_CODE_FA_HA_HOST_UNREACH:	return "FA: home agent host unreachable";
	case MIP_CODE_FA_HA_PORT_UNREACH:	return "FA: home agent port unreachable";
	case MIP_CODE_FA_HA_UNREACH:		return "FA: home agent unreachable";
	case MIP_CODE_FA_NONZERO_HA_REQD:	return "FA: non-zero home agent address required";
	case MIP_CODE_FA_NONZERO_HOMEADDR_REQD:	return "FA: non-zero home address required";
	case MIP_CODE_FA_MISSING_NAI:		return "FA: missing NAI";
	case MIP_CODE_FA_MISSING_HOME_AGENT:	return "FA: missing home agent";
	case MIP_CODE_FA_MISSING_HOMEADDR:	return "FA: missing home address";
	case MIP_CODE_FA_UNKNOWN_CHALLENGE:	return "FA: unknown challenge";
	case MIP_CODE_FA_MISSING_CHALLENGE:	return "FA: missing challenge";
	case MIP_CODE_FA_STALE_CHALLENGE:	return "FA: stale challenge";
	case MIP_CODE_FA_MISSING_MN_FA:		return "FA: missing MN-FA key generation extension";
	case MIP_CODE_FA_BAD_AAA_AUTH:		return "FA: bad MN-AAA authentication";
	case MIP_CODE_FA_HA_WRONG_CHALLENGE:	return "FA: home agent wrong challenge";
	case MIP_CODE_FA_INVALID_HA:		return "FA: invalid home agent address";
	case MIP_CODE_HA_UNSPECIFIED:		return "HA: reason unspecified";
	case MIP_CODE_HA_PROHIBITED:		return "HA: administratively prohibited";
	case MIP_CODE_HA_RESOURCES:		return "HA: insufficient resources";
	case MIP_CODE_HA_MN_AUTH:		return "HA: mobile node failed authentication";
	case MIP_CODE_HA_FA_AUTH:		return "HA: foreign agent failed authentication";
	case MIP_CODE_HA_ID_MISMATCH:		return "HA: registration Identification mismatch";
	case MIP_CODE_HA_BAD_REQUEST:		return "HA: poorly formed Request";
	case MIP_CODE_HA_TOO_MANY_BINDINGS:	return "HA: too many simultaneous mobility bindings";
	case MIP_CODE_HA_UNKNOWN_HA:		return "HA: unknown home agent address";
	case MIP_CODE_HA_RT_UNAVAIL:		return "HA: requested reverse tunnel unavailable";
	case MIP_CODE_HA_RT_MANDATORY:		return "HA: reverse tunnel is mandatory and 'T' bit not set";
	case MIP_CODE_HA_ENCAP:			return "HA: requested encapsulation unavailable";
	case MIP_CODE_HA_UDP_ENCAP_UNAVAIL:	return "HA: requested UDP tunnel encapsulation unavailable";
	case MIP_CODE_HA_REDIRECT:		return "HA: re-register with redirected home agent";
	case MIP_CODE_HA_BAD_AAA_AUTH:		return "HA: bad MN-AAA authentication";
	}
	return "unknown code";
}

/* Builders. */

/* Marks w failed without writing: the caller sees it in w->overflow. */
static bool
wr_fail(struct wr *w)
{
	w->overflow = true;
	return false;
}

bool
rrq_put(struct wr *w, const struct mip_rrq_fields *f)
{
	if (!wr_room(w, MIP_RRQ_FIXED_LEN))
		return false;
	wr_u8(w, MIP_MSG_RRQ);
	wr_u8(w, f->flags);
	wr_u16(w, f->lifetime);
	wr_bytes(w, &f->home_addr, 4);
	wr_bytes(w, &f->ha_addr, 4);
	wr_bytes(w, &f->coa, 4);
	wr_u64(w, f->id);
	return true;
}

bool
rrp_put(struct wr *w, const struct mip_rrp_fields *f)
{
	if (!wr_room(w, MIP_RRP_FIXED_LEN))
		return false;
	wr_u8(w, MIP_MSG_RRP);
	wr_u8(w, f->code);
	wr_u16(w, f->lifetime);
	wr_bytes(w, &f->home_addr, 4);
	wr_bytes(w, &f->ha_addr, 4);
	wr_u64(w, f->id);
	return true;
}

size_t
rrq_encode(const struct mip_rrq_fields *f, uint8_t *buf, size_t cap)
{
	struct wr w;

	wr_init(&w, buf, cap);
	return rrq_put(&w, f) ? w.off : 0;
}

size_t
rrp_encode(const struct mip_rrp_fields *f, uint8_t *buf, size_t cap)
{
	struct wr w;

	wr_init(&w, buf, cap);
	return rrp_put(&w, f) ? w.off : 0;
}

bool
mip_ext_put_pad(struct wr *w)
{
	if (!wr_room(w, 1))
		return false;
	wr_u8(w, MIP_EXT_PAD);
	return true;
}

bool
mip_ext_put_tlv(struct wr *w, uint8_t type, const void *data, size_t len)
{
	/* The Length octet bounds the data (RFC 5944 §1.9). */
	if (len > UINT8_MAX)
		return wr_fail(w);
	if (!wr_room(w, 2 + len))
		return false;
	wr_u8(w, type);
	wr_u8(w, (uint8_t)len);
	if (len > 0)
		wr_bytes(w, data, len);
	return true;
}

/* Short format (RFC 5944 §1.11): Length = 1 + data. */
static bool
put_short(struct wr *w, uint8_t type, uint8_t subtype, const void *data, size_t len)
{
	if (len > UINT8_MAX - 1)
		return wr_fail(w);
	if (!wr_room(w, 3 + len))
		return false;
	wr_u8(w, type);
	wr_u8(w, (uint8_t)(len + 1));
	wr_u8(w, subtype);
	if (len > 0)
		wr_bytes(w, data, len);
	return true;
}

bool
mip_ext_put_nai(struct wr *w, const void *nai, size_t len)
{
	if (len == 0)
		return wr_fail(w);
	return mip_ext_put_tlv(w, MIP_EXT_NAI, nai, len);
}

size_t
mip_ext_put_auth(struct wr *w, uint8_t type, uint32_t spi, size_t auth_len)
{
	size_t at;

	if (type != MIP_EXT_MN_HA_AUTH && type != MIP_EXT_MN_FA_AUTH &&
	    type != MIP_EXT_FA_HA_AUTH)
		return wr_fail(w);
	/* Length = 4 (SPI) + authenticator (RFC 5944 §3.5.2). */
	if (auth_len > UINT8_MAX - 4)
		return wr_fail(w);
	if (!wr_room(w, 6 + auth_len))
		return 0;
	wr_u8(w, type);
	wr_u8(w, (uint8_t)(4 + auth_len));
	wr_u32(w, spi);
	at = w->off;
	memset(w->buf + at, 0, auth_len);
	w->off += auth_len;
	return at;
}

size_t
mip_ext_put_gen_auth(struct wr *w, uint8_t subtype, uint32_t spi, size_t auth_len)
{
	size_t at;

	/* Long format; Length = 4 + authenticator, at least 20 (RFC 4721 §5). */
	if (auth_len < 16 || auth_len > UINT16_MAX - 4)
		return wr_fail(w);
	if (!wr_room(w, 8 + auth_len))
		return 0;
	wr_u8(w, MIP_EXT_GEN_AUTH);
	wr_u8(w, subtype);
	wr_u16(w, (uint16_t)(4 + auth_len));
	wr_u32(w, spi);
	at = w->off;
	memset(w->buf + at, 0, auth_len);
	w->off += auth_len;
	return at;
}

bool
mip_ext_put_challenge(struct wr *w, const void *challenge, size_t len)
{
	if (len == 0)
		return wr_fail(w);
	return mip_ext_put_tlv(w, MIP_EXT_MN_FA_CHALLENGE, challenge, len);
}

bool
mip_ext_put_udp_tunnel_req(struct wr *w, bool force, bool fa_required, uint8_t encap)
{
	uint8_t d[5];

	/* Reserved 1, F|R|Reserved 2, Encapsulation, Reserved 3 (RFC 3519 §3.1). */
	d[0] = 0;
	d[1] = (uint8_t)((force ? MIP_UDP_TUNNEL_REQ_F : 0) |
	    (fa_required ? MIP_UDP_TUNNEL_REQ_R : 0));
	d[2] = encap;
	d[3] = d[4] = 0;
	return put_short(w, MIP_EXT_UDP_TUNNEL_REQ, MIP_UDP_TUNNEL_SUBTYPE, d, sizeof(d));
}

bool
mip_ext_put_udp_tunnel_reply(struct wr *w, bool force, uint8_t code, uint16_t keepalive)
{
	uint8_t d[5];

	/* Reply Code, F|Reserved, Keepalive Interval (RFC 3519 §3.2). */
	d[0] = code;
	put_be16(d + 1, force ? MIP_UDP_TUNNEL_REP_F : 0);
	put_be16(d + 3, keepalive);
	return put_short(w, MIP_EXT_UDP_TUNNEL_REPLY, MIP_UDP_TUNNEL_SUBTYPE, d, sizeof(d));
}

bool
mip_ext_put_revocation_support(struct wr *w, bool i_bit, uint32_t timestamp)
{
	uint8_t d[6];

	/* I|Reserved, Timestamp (RFC 3543 §3.2). */
	put_be16(d, i_bit ? MIP_REVOCATION_I : 0);
	put_be32(d + 2, timestamp);
	return mip_ext_put_tlv(w, MIP_EXT_REVOCATION, d, sizeof(d));
}

bool
mip_ext_put_msg_string(struct wr *w, uint8_t subtype, const void *text, size_t len)
{
	/* Text is one or more octets (RFC 4917 §3). */
	if (len == 0)
		return wr_fail(w);
	return put_short(w, MIP_EXT_MSG_STRING, subtype, text, len);
}

bool
mip_ext_put_dyn_ha(struct wr *w, uint8_t subtype, struct in_addr addr)
{
	/* Long format, Length always 4 (RFC 4433 §3.4). */
	if (!wr_room(w, 8))
		return false;
	wr_u8(w, MIP_EXT_DYN_HA);
	wr_u8(w, subtype);
	wr_u16(w, 4);
	wr_bytes(w, &addr, 4);
	return true;
}

bool
mip_ext_put_encap_delivery(struct wr *w)
{
	/* Length 0 (RFC 3024 §3.3). */
	return mip_ext_put_tlv(w, MIP_EXT_ENCAP_DELIVERY, NULL, 0);
}
