/*
 * mip_replay.h - replay protection of Registration Requests (RFC 5944
 * §5.7): timestamps (§5.7.1, mandatory) and nonces (§5.7.2, optional).
 *
 * Pure functions over a small per-node state. No clock is read here:
 * the caller passes the home agent's time of day as an NTP timestamp
 * (mip_ntp_from_timespec() of a CLOCK_REALTIME reading), and the random
 * value for a new nonce (RAND_bytes() in the daemon).
 *
 * The home agent, for each authenticated Registration Request:
 *
 *	v = mip_replay_check(st, mode, req_id, now, window);
 *	if (v == MIP_REPLAY_OK)
 *		mip_replay_accept(st, mode, req_id);
 *	reply_id = mip_replay_reply_id(st, mode, v, req_id, now, random32);
 *	code = v == MIP_REPLAY_OK ? <decided by the rest> : 133;
 *
 * mip_replay_reply_id() is called for every reply to an authenticated
 * request, whatever its code: in nonce mode every reply carries a new HA
 * nonce (§5.7.2) and the state remembers it. A reply to a request that
 * failed authentication uses mip_replay_reply_id_unauth() instead.
 */
#ifndef MIPHA_MIP_REPLAY_H
#define MIPHA_MIP_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch). */
#define MIP_NTP_UNIX_OFFSET	2208988800u

/* RFC 5944 §5.7.1: default 7 s tolerance, which SHOULD exceed 3 s. */
#define MIP_REPLAY_WINDOW_DEFAULT	7

enum mip_replay_mode {
	MIP_REPLAY_TIMESTAMP = 0,	/* RFC 5944 §5.7.1, MUST implement */
	MIP_REPLAY_NONCE,		/* RFC 5944 §5.7.2, MAY implement */
};

enum mip_replay_verdict {
	MIP_REPLAY_OK = 0,		/* Identification valid */
	MIP_REPLAY_TS_WINDOW,		/* §5.7.1 not close to HA clock */
	MIP_REPLAY_TS_NOT_NEWER,	/* §5.7.1 not > all accepted ones */
	MIP_REPLAY_NONCE_UNKNOWN,	/* §5.7.2 HA gave this node no nonce yet */
	MIP_REPLAY_NONCE_MISMATCH,	/* §5.7.2 high half != nonce given */
	MIP_REPLAY_BAD_MODE,		/* not a mode we know: fail closed */
};

/*
 * Per mobile node (per Mobility Security Association). Zero it or use
 * mip_replay_init(). A state recorded in another mode than the one
 * passed to the functions below counts as empty: the association's
 * replay method was reconfigured.
 */
struct mip_replay_state {
	enum mip_replay_mode	mode;
	bool			have_id;	/* an Identification accepted */
	bool			have_nonce;	/* a nonce was given (nonces) */
	uint64_t		last_id;	/* last accepted Identification */
	uint32_t		ha_nonce;	/* nonce last given, expected in
						   the next request's high half */
};

/* RFC 5944 §5.7.1 uses the NTP 64-bit timestamp format ([11] = RFC 5905
 * §6): seconds since 1900 in the high 32
 * bits (modulo 2^32, i.e. within the NTP era), fraction in the low 32. */
uint64_t	mip_ntp_from_timespec(const struct timespec *ts);

/*
 * RFC 5944 §5.7.1: the timestamp must be "close enough to the home
 * agent's time-of-day clock": |id - now| <= window_s seconds, both as
 * full 64-bit NTP values, the difference taken modulo 2^64 so that the
 * 2036 era wrap is crossed without a jump.
 */
bool		mip_ts_acceptable(uint64_t id, uint64_t now_ntp,
		    uint32_t window_s);

/* Serial-number order modulo 2^64: a is newer than b (a - b in 1..2^63-1). */
bool		mip_id_newer(uint64_t a, uint64_t b);

/* §5.7.1, code 133: high 32 bits = HA time of day (NTP seconds), low 32
 * bits copied from the request. */
uint64_t	mip_reply_id_ts_mismatch(uint64_t req_id, uint64_t now_ntp);

/* §5.7.2: HA nonce in the high 32 bits, request's low 32 bits copied. */
uint64_t	mip_reply_id_nonce(uint64_t req_id, uint32_t ha_nonce);

/* A new HA nonce from a caller-supplied random value, different from
 * the previous one (§5.7.2: "SHOULD both differ from their previous
 * values"). */
uint32_t	mip_nonce_next(uint32_t prev, uint32_t random32);

void		mip_replay_init(struct mip_replay_state *st,
		    enum mip_replay_mode mode);

/* Is req_id valid for this node now? Does not modify the state. */
enum mip_replay_verdict mip_replay_check(const struct mip_replay_state *st,
		    enum mip_replay_mode mode, uint64_t req_id,
		    uint64_t now_ntp, uint32_t window_s);

/*
 * Record a request whose check returned MIP_REPLAY_OK, before replying,
 * whatever the final reply code (a request denied for a passing reason
 * must not be replayable later). Makes the timestamp sequence strictly
 * increasing: a repeat of this Identification is refused afterwards.
 */
void		mip_replay_accept(struct mip_replay_state *st,
		    enum mip_replay_mode mode, uint64_t req_id);

/*
 * The Identification of the reply to req_id (RFC 5944 §5.7):
 *  - timestamps, verdict OK: the request's Identification whole;
 *  - timestamps, otherwise (code 133): mip_reply_id_ts_mismatch();
 *  - nonces, any verdict: a new HA nonce (mip_nonce_next() of random32)
 *    in the high half, the request's low half; the state remembers the
 *    nonce, which the node's next request must carry.
 * random32 is ignored with timestamps.
 */
uint64_t	mip_replay_reply_id(struct mip_replay_state *st,
		    enum mip_replay_mode mode, enum mip_replay_verdict v,
		    uint64_t req_id, uint64_t now_ntp, uint32_t random32);

/*
 * The Identification of a reply to a request that did not authenticate
 * (code 131, RFC 5944 §3.8.2.1 a), computed without touching the state:
 * whoever sent it must not be able to rotate the node's nonce. Low 32
 * bits copied (§5.7); the high half is the request's (timestamps) or
 * the nonce currently expected, 0 if none was given yet (nonces).
 */
uint64_t	mip_replay_reply_id_unauth(const struct mip_replay_state *st,
		    enum mip_replay_mode mode, uint64_t req_id,
		    uint64_t now_ntp);

/* Names for configuration and logs ("timestamp", "nonce"). */
int		mip_replay_mode_from_name(const char *name,
		    enum mip_replay_mode *mode);
const char	*mip_replay_mode_name(enum mip_replay_mode mode);
const char	*mip_replay_verdict_str(enum mip_replay_verdict v);

#endif /* MIPHA_MIP_REPLAY_H */
