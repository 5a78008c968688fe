/*
 * mip_replay.c - replay protection of Registration Requests, RFC 5944
 * §5.7 (timestamps §5.7.1, nonces §5.7.2). Pure: time and randomness
 * are parameters.
 *
 * Choices where the RFC leaves room:
 *  - "Close enough" (§5.7.1) compares the whole 64-bit NTP value with
 *    the HA's, not only the seconds: the low 32 bits are fractional
 *    seconds (possibly padded with random bits, which only blurs the
 *    sub-second part), so a window of W seconds means exactly W.
 *  - Differences and order are taken modulo 2^64 (serial-number
 *    arithmetic), so the NTP era wrap of 2036 is crossed smoothly: a
 *    request stamped just after the wrap is 1 s newer than one stamped
 *    just before, not 136 years older.
 *  - "Greater than all previously accepted timestamps" (§5.7.1) holds per
 *    node via the last accepted Identification; a request is recorded as
 *    soon as its Identification is found valid, whatever the reply code.
 */
#include <string.h>

#include "mip_replay.h"

#define NS_PER_S	1000000000L

uint64_t
mip_ntp_from_timespec(const struct timespec *ts)
{
	uint64_t	sec = (uint64_t)ts->tv_sec;	/* mod 2^64, as wanted */
	long		nsec = ts->tv_nsec;
	uint32_t	s, frac;

	/* Normalise a tv_nsec outside [0, 1e9) rather than trust it. */
	if (nsec < 0 || nsec >= NS_PER_S) {
		sec += (uint64_t)(int64_t)(nsec / NS_PER_S);
		nsec %= NS_PER_S;
		if (nsec < 0) {
			nsec += NS_PER_S;
			sec--;
		}
	}
	/* NTP seconds count from 1900 and wrap every 2^32 s (the era). */
	s = (uint32_t)(sec + MIP_NTP_UNIX_OFFSET);
	/* nsec < 2^30, so nsec * 2^32 < 2^62: no overflow. */
	frac = (uint32_t)(((uint64_t)nsec << 32) / NS_PER_S);
	return (uint64_t)s << 32 | frac;
}

bool
mip_ts_acceptable(uint64_t id, uint64_t now_ntp, uint32_t window_s)
{
	uint64_t	fwd = id - now_ntp, back = now_ntp - id;
	uint64_t	dist = fwd < back ? fwd : back;

	/* RFC 5944 §5.7.1: "close enough to the home agent's time-of-day
	 * clock"; the tolerance belongs to the security association. */
	return dist <= ((uint64_t)window_s << 32);
}

bool
mip_id_newer(uint64_t a, uint64_t b)
{
	uint64_t	d = a - b;

	return d != 0 && d < (UINT64_C(1) << 63);
}

uint64_t
mip_reply_id_ts_mismatch(uint64_t req_id, uint64_t now_ntp)
{
	/* RFC 5944 §5.7.1: "copies only the low-order 32 bits into the
	 * Registration Reply, and supplies the high-order 32 bits from its
	 * own time of day". */
	return (now_ntp & UINT64_C(0xffffffff00000000)) |
	    (req_id & UINT64_C(0x00000000ffffffff));
}

uint64_t
mip_reply_id_nonce(uint64_t req_id, uint32_t ha_nonce)
{
	/* RFC 5944 §5.7.2: new nonce as the high-order 32 bits, the
	 * low-order 32 bits copied from the Registration Request. */
	return (uint64_t)ha_nonce << 32 | (req_id & UINT64_C(0xffffffff));
}

uint32_t
mip_nonce_next(uint32_t prev, uint32_t random32)
{
	/* §5.7.2: the values "SHOULD both differ from their previous
	 * values"; a repeat of the last nonce would also let a replay of
	 * the request just accepted through. */
	return random32 != prev ? random32 : random32 + 1;
}

void
mip_replay_init(struct mip_replay_state *st, enum mip_replay_mode mode)
{
	memset(st, 0, sizeof(*st));
	st->mode = mode;
}

/* A state recorded under another mode means nothing in this one. */
static void
state_sync(struct mip_replay_state *st, enum mip_replay_mode mode)
{
	if (st->mode != mode)
		mip_replay_init(st, mode);
}

enum mip_replay_verdict
mip_replay_check(const struct mip_replay_state *st, enum mip_replay_mode mode,
    uint64_t req_id, uint64_t now_ntp, uint32_t window_s)
{
	bool	known = st->mode == mode;

	switch (mode) {
	case MIP_REPLAY_TIMESTAMP:
		/* §5.7.1: close enough to the HA's clock, and greater than
		 * all previously accepted timestamps of this node. */
		if (!mip_ts_acceptable(req_id, now_ntp, window_s))
			return MIP_REPLAY_TS_WINDOW;
		if (known && st->have_id && !mip_id_newer(req_id, st->last_id))
			return MIP_REPLAY_TS_NOT_NEWER;
		return MIP_REPLAY_OK;
	case MIP_REPLAY_NONCE:
		/* §5.7.2: the high half must be the nonce the HA last gave
		 * the node; before any, nothing can match. */
		if (!known || !st->have_nonce)
			return MIP_REPLAY_NONCE_UNKNOWN;
		if ((uint32_t)(req_id >> 32) != st->ha_nonce)
			return MIP_REPLAY_NONCE_MISMATCH;
		return MIP_REPLAY_OK;
	}
	return MIP_REPLAY_BAD_MODE;
}

void
mip_replay_accept(struct mip_replay_state *st, enum mip_replay_mode mode,
    uint64_t req_id)
{
	state_sync(st, mode);
	st->have_id = true;
	st->last_id = req_id;
}

uint64_t
mip_replay_reply_id(struct mip_replay_state *st, enum mip_replay_mode mode,
    enum mip_replay_verdict v, uint64_t req_id, uint64_t now_ntp,
    uint32_t random32)
{
	uint32_t	nonce;

	switch (mode) {
	case MIP_REPLAY_TIMESTAMP:
		/* §5.7.1: valid -> the entire Identification is copied. */
		if (v == MIP_REPLAY_OK)
			return req_id;
		return mip_reply_id_ts_mismatch(req_id, now_ntp);
	case MIP_REPLAY_NONCE:
		/* §5.7.2: a new nonce in every reply, accepted or not ("the
		 * Reply always provides the mobile node with a new nonce"). */
		state_sync(st, mode);
		nonce = mip_nonce_next(st->ha_nonce, random32);
		st->ha_nonce = nonce;
		st->have_nonce = true;
		return mip_reply_id_nonce(req_id, nonce);
	}
	/* Unknown mode: answer as a timestamp mismatch (low half copied). */
	return mip_reply_id_ts_mismatch(req_id, now_ntp);
}

uint64_t
mip_replay_reply_id_unauth(const struct mip_replay_state *st,
    enum mip_replay_mode mode, uint64_t req_id, uint64_t now_ntp)
{
	switch (mode) {
	case MIP_REPLAY_TIMESTAMP:
		return req_id;
	case MIP_REPLAY_NONCE:
		return mip_reply_id_nonce(req_id,
		    st->mode == mode && st->have_nonce ? st->ha_nonce : 0);
	}
	return mip_reply_id_ts_mismatch(req_id, now_ntp);
}

static const struct {
	enum mip_replay_mode	 mode;
	const char		*name;
} modes[] = {
	{ MIP_REPLAY_TIMESTAMP,	"timestamp" },
	{ MIP_REPLAY_NONCE,	"nonce" },
};

#define NMODES	(sizeof(modes) / sizeof(modes[0]))

int
mip_replay_mode_from_name(const char *name, enum mip_replay_mode *mode)
{
	size_t	i;

	if (name == NULL)
		return -1;
	for (i = 0; i < NMODES; i++)
		if (strcmp(modes[i].name, name) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	return -1;
}

const char *
mip_replay_mode_name(enum mip_replay_mode mode)
{
	size_t	i;

	for (i = 0; i < NMODES; i++)
		if (modes[i].mode == mode)
			return modes[i].name;
	return NULL;
}

const char *
mip_replay_verdict_str(enum mip_replay_verdict v)
{
	switch (v) {
	case MIP_REPLAY_OK:
		return "identification valid";
	case MIP_REPLAY_TS_WINDOW:
		return "timestamp outside the clock window";
	case MIP_REPLAY_TS_NOT_NEWER:
		return "timestamp not newer than the last accepted";
	case MIP_REPLAY_NONCE_UNKNOWN:
		return "no nonce given to the node yet";
	case MIP_REPLAY_NONCE_MISMATCH:
		return "nonce mismatch";
	case MIP_REPLAY_BAD_MODE:
		return "unknown replay protection mode";
	}
	return "unknown verdict";
}
