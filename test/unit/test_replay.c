/*
 * test_replay.c - RFC 5944 §5.7 replay protection: NTP timestamps,
 * window edges, strictly increasing Identification, the code 133 reply
 * Identification of test/vectors/registration.json, and the nonce flow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "mip_replay.h"

#define SEC(n)	((uint64_t)(n) << 32)	/* n seconds in NTP units */

static uint64_t
ntp_of(int64_t sec, long nsec)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)sec;
	ts.tv_nsec = nsec;
	return mip_ntp_from_timespec(&ts);
}

/* Identification field (bytes 16..23 of an RRQ, 12..19 of an RRP). */
static uint64_t
id_at(const char *hex, size_t off)
{
	uint64_t	v = 0;
	size_t		i;
	char		b[3] = { 0 };

	ck_assert_uint_ge(strlen(hex), 2 * (off + 8));
	for (i = 0; i < 8; i++) {
		memcpy(b, hex + 2 * (off + i), 2);
		v = v << 8 | (uint64_t)strtoul(b, NULL, 16);
	}
	return v;
}

/* From test/vectors/registration.json. */
static const char rrq_colocated[] =
    "01220258c6120a05c6336401c6120102eb0f2c1a123456782014000003e8"
    "5085da5047360f8b1a7137dc702b60fd";
static const char rrp_accepted[] =
    "03000258c6120a05c6336401eb0f2c1a12345678"
    "2014000003e8b737ade6c70de4815ec94ed46cb73aeb";
static const char rrp_133[] =
    "03850000c6120a05c6336401eb0f2c4012345678"
    "2014000003e87bcab46fec3776974ff88f86f5f8250d";

START_TEST(ntp_conversion)
{
	/* 1970-01-01 is 2208988800 s after 1900-01-01 (RFC 5905 §6). */
	ck_assert_uint_eq(ntp_of(0, 0), UINT64_C(0x83aa7e8000000000));
	ck_assert_uint_eq(ntp_of(0, 500000000), UINT64_C(0x83aa7e8080000000));
	ck_assert_uint_eq(ntp_of(0, 250000000), UINT64_C(0x83aa7e8040000000));
	ck_assert_uint_eq(ntp_of(0, 1) & 0xffffffff, 4);
	ck_assert_uint_eq(ntp_of(0, 999999999) & 0xffffffff, 0xfffffffb);
	/* the HA time in the code 133 vector */
	ck_assert_uint_eq(ntp_of(1734651328, 0), UINT64_C(0xeb0f2c4000000000));
	/* era 0 ends 2036-02-07T06:28:16Z: seconds wrap to 0 */
	ck_assert_uint_eq(ntp_of(2085978495, 0), UINT64_C(0xffffffff00000000));
	ck_assert_uint_eq(ntp_of(2085978496, 0), 0);
	ck_assert_uint_eq(ntp_of(2085978497, 500000000),
	    UINT64_C(0x0000000180000000));
	/* tv_nsec outside [0, 1e9) is normalised */
	ck_assert_uint_eq(ntp_of(10, 1500000000), ntp_of(11, 500000000));
	ck_assert_uint_eq(ntp_of(10, -500000000), ntp_of(9, 500000000));
	ck_assert_uint_eq(ntp_of(10, -1000000000), ntp_of(9, 0));
}
END_TEST

START_TEST(window_edges)
{
	uint64_t	now = UINT64_C(0xeb0f2c4012345678);

	ck_assert(mip_ts_acceptable(now, now, 7));
	ck_assert(mip_ts_acceptable(now + SEC(7), now, 7));
	ck_assert(!mip_ts_acceptable(now + SEC(7) + 1, now, 7));
	ck_assert(mip_ts_acceptable(now - SEC(7), now, 7));
	ck_assert(!mip_ts_acceptable(now - SEC(7) - 1, now, 7));
	/* zero window: only the same instant */
	ck_assert(mip_ts_acceptable(now, now, 0));
	ck_assert(!mip_ts_acceptable(now + 1, now, 0));
	ck_assert(!mip_ts_acceptable(now - 1, now, 0));
	/* the fraction counts: 6.9 s in, 7.1 s out */
	ck_assert(mip_ts_acceptable(now + SEC(6) + 0xe6666666, now, 7));
	ck_assert(!mip_ts_acceptable(now + SEC(7) + 0x1999999a, now, 7));
	/* far away in either direction */
	ck_assert(!mip_ts_acceptable(0, now, 7));
	ck_assert(!mip_ts_acceptable(now + SEC(3600), now, 7));
	ck_assert(!mip_ts_acceptable(now ^ (UINT64_C(1) << 63), now, 7));
}
END_TEST

START_TEST(era_wrap)
{
	uint64_t	before = UINT64_C(0xffffffff80000000);	/* -0.5 s */
	uint64_t	after = UINT64_C(0x0000000100000000);	/* +1 s */

	/* 1.5 s apart across the 2036 wrap, both ways */
	ck_assert(mip_ts_acceptable(after, before, 7));
	ck_assert(mip_ts_acceptable(before, after, 7));
	ck_assert(!mip_ts_acceptable(after, before, 1));
	ck_assert(mip_id_newer(after, before));
	ck_assert(!mip_id_newer(before, after));
}
END_TEST

START_TEST(id_order)
{
	ck_assert(!mip_id_newer(5, 5));
	ck_assert(mip_id_newer(6, 5));
	ck_assert(!mip_id_newer(4, 5));
	ck_assert(mip_id_newer(0, UINT64_MAX));
	ck_assert(!mip_id_newer(UINT64_MAX, 0));
}
END_TEST

/* RFC 5944 §5.7.1: close to the clock and greater than all accepted. */
START_TEST(timestamp_sequence)
{
	struct mip_replay_state	st, copy;
	uint64_t		now = ntp_of(1734651328, 250000000);
	uint64_t		id1 = now - SEC(2), id2 = now + 5;

	mip_replay_init(&st, MIP_REPLAY_TIMESTAMP);
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id1, now,
	    7), MIP_REPLAY_OK);
	/* check does not modify the state */
	memcpy(&copy, &st, sizeof(st));
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id1, now,
	    7), MIP_REPLAY_OK);
	ck_assert_mem_eq(&st, &copy, sizeof(st));
	mip_replay_accept(&st, MIP_REPLAY_TIMESTAMP, id1);
	ck_assert_uint_eq(mip_replay_reply_id(&st, MIP_REPLAY_TIMESTAMP,
	    MIP_REPLAY_OK, id1, now, 0x1234), id1);

	/* the newest accepted request replayed inside the window */
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id1, now,
	    7), MIP_REPLAY_TS_NOT_NEWER);
	/* an older one, still inside the window */
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id1 - 1,
	    now, 7), MIP_REPLAY_TS_NOT_NEWER);
	/* one unit newer is enough */
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id1 + 1,
	    now, 7), MIP_REPLAY_OK);
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id2, now,
	    7), MIP_REPLAY_OK);
	mip_replay_accept(&st, MIP_REPLAY_TIMESTAMP, id2);
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id1 + 1,
	    now, 7), MIP_REPLAY_TS_NOT_NEWER);
	/* newer but outside the window */
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP,
	    now + SEC(8), now, 7), MIP_REPLAY_TS_WINDOW);
	/* the same request later in time: out of the window */
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, id2,
	    now + SEC(8), 7), MIP_REPLAY_TS_WINDOW);
	/* no reply for a rejected one changes the state */
	memcpy(&copy, &st, sizeof(st));
	mip_replay_reply_id(&st, MIP_REPLAY_TIMESTAMP, MIP_REPLAY_TS_WINDOW,
	    id2, now, 99);
	ck_assert_mem_eq(&st, &copy, sizeof(st));
}
END_TEST

/* The vectors: accepted reply echoes the request's Identification;
 * code 133 = HA time of day high, request's low 32 bits copied. */
START_TEST(timestamp_vectors)
{
	struct mip_replay_state	st;
	uint64_t		req = id_at(rrq_colocated, 16);
	uint64_t		now;
	enum mip_replay_verdict	v;

	ck_assert_uint_eq(req, UINT64_C(0xeb0f2c1a12345678));

	/* accepted: HA clock 3 s after the request's stamp */
	mip_replay_init(&st, MIP_REPLAY_TIMESTAMP);
	now = req + SEC(3);
	v = mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, req, now, 7);
	ck_assert_int_eq(v, MIP_REPLAY_OK);
	mip_replay_accept(&st, MIP_REPLAY_TIMESTAMP, req);
	ck_assert_uint_eq(mip_replay_reply_id(&st, MIP_REPLAY_TIMESTAMP, v,
	    req, now, 0), id_at(rrp_accepted, 12));

	/* 133: the HA's clock reads 0xeb0f2c40 s, 38 s after the stamp */
	mip_replay_init(&st, MIP_REPLAY_TIMESTAMP);
	now = ntp_of(1734651328, 123456789);
	v = mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, req, now, 7);
	ck_assert_int_eq(v, MIP_REPLAY_TS_WINDOW);
	ck_assert_uint_eq(mip_replay_reply_id(&st, MIP_REPLAY_TIMESTAMP, v,
	    req, now, 0), id_at(rrp_133, 12));
	ck_assert_uint_eq(mip_reply_id_ts_mismatch(req, now),
	    UINT64_C(0xeb0f2c4012345678));
	/* the same reply for a replayed (not newer) request */
	mip_replay_accept(&st, MIP_REPLAY_TIMESTAMP, req);
	now = req + SEC(1);
	v = mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, req, now, 7);
	ck_assert_int_eq(v, MIP_REPLAY_TS_NOT_NEWER);
	ck_assert_uint_eq(mip_replay_reply_id(&st, MIP_REPLAY_TIMESTAMP, v,
	    req, now, 0), UINT64_C(0xeb0f2c1b12345678));
}
END_TEST

START_TEST(nonce_next)
{
	ck_assert_uint_eq(mip_nonce_next(1, 2), 2);
	ck_assert_uint_ne(mip_nonce_next(7, 7), 7);
	ck_assert_uint_ne(mip_nonce_next(UINT32_MAX, UINT32_MAX), UINT32_MAX);
	ck_assert_uint_eq(mip_reply_id_nonce(UINT64_C(0x1111111122222222),
	    0xabcdef01), UINT64_C(0xabcdef0122222222));
}
END_TEST

/*
 * RFC 5944 §5.7.2: first request without a nonce -> 133 carrying a fresh
 * HA nonce; the next request echoes it -> accepted, and the reply brings
 * a new nonce; a replay of that request -> 133 with yet another nonce.
 */
START_TEST(nonce_flow)
{
	struct mip_replay_state	st, copy;
	enum mip_replay_mode	m = MIP_REPLAY_NONCE;
	uint64_t		now = ntp_of(1734651328, 0);
	uint64_t		req, rep, req2, rep2, rep3;
	enum mip_replay_verdict	v;

	mip_replay_init(&st, m);
	req = UINT64_C(0x00000000aaaa0001);	/* node knows no HA nonce */
	v = mip_replay_check(&st, m, req, now, 7);
	ck_assert_int_eq(v, MIP_REPLAY_NONCE_UNKNOWN);
	rep = mip_replay_reply_id(&st, m, v, req, now, 0x5eed0001);
	ck_assert_uint_eq(rep, UINT64_C(0x5eed0001aaaa0001));

	/* the node's next request carries the HA nonce, a new low half */
	req2 = (rep & UINT64_C(0xffffffff00000000)) | 0xaaaa0002;
	memcpy(&copy, &st, sizeof(st));
	v = mip_replay_check(&st, m, req2, now, 7);
	ck_assert_int_eq(v, MIP_REPLAY_OK);
	ck_assert_mem_eq(&st, &copy, sizeof(st));
	/* §3.6.3: a retransmission of an unanswered request is unchanged
	 * and still valid while nothing was accepted */
	ck_assert_int_eq(mip_replay_check(&st, m, req2, now + SEC(100), 7),
	    MIP_REPLAY_OK);
	mip_replay_accept(&st, m, req2);
	/* the accepted reply brings a new nonce, even if the random source
	 * repeats the old one */
	rep2 = mip_replay_reply_id(&st, m, v, req2, now, 0x5eed0001);
	ck_assert_uint_eq(rep2 & 0xffffffff, 0xaaaa0002);
	ck_assert_uint_ne(rep2 >> 32, 0x5eed0001);

	/* replay of the accepted request: old nonce -> 133, new nonce */
	v = mip_replay_check(&st, m, req2, now, 7);
	ck_assert_int_eq(v, MIP_REPLAY_NONCE_MISMATCH);
	rep3 = mip_replay_reply_id(&st, m, v, req2, now, 0x77777777);
	ck_assert_uint_eq(rep3, UINT64_C(0x77777777aaaa0002));
	/* the nonce of the accepted reply is no longer valid either */
	ck_assert_int_eq(mip_replay_check(&st, m,
	    (rep2 & UINT64_C(0xffffffff00000000)) | 3, now, 7),
	    MIP_REPLAY_NONCE_MISMATCH);
	/* the last one given is */
	ck_assert_int_eq(mip_replay_check(&st, m,
	    UINT64_C(0x77777777aaaa0003), now, 7), MIP_REPLAY_OK);
}
END_TEST

/* A reply to an unauthenticated request leaves the nonce alone. */
START_TEST(unauth_reply)
{
	struct mip_replay_state	st, copy;
	uint64_t		now = ntp_of(1734651328, 0);
	uint64_t		req = UINT64_C(0x0badf00d00c0ffee);

	mip_replay_init(&st, MIP_REPLAY_NONCE);
	ck_assert_uint_eq(mip_replay_reply_id_unauth(&st, MIP_REPLAY_NONCE,
	    req, now), UINT64_C(0x0000000000c0ffee));
	mip_replay_reply_id(&st, MIP_REPLAY_NONCE, MIP_REPLAY_NONCE_UNKNOWN,
	    1, now, 0x600dcafe);
	memcpy(&copy, &st, sizeof(st));
	ck_assert_uint_eq(mip_replay_reply_id_unauth(&st, MIP_REPLAY_NONCE,
	    req, now), UINT64_C(0x600dcafe00c0ffee));
	ck_assert_mem_eq(&st, &copy, sizeof(st));
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_NONCE,
	    UINT64_C(0x600dcafe00000001), now, 7), MIP_REPLAY_OK);

	mip_replay_init(&st, MIP_REPLAY_TIMESTAMP);
	ck_assert_uint_eq(mip_replay_reply_id_unauth(&st,
	    MIP_REPLAY_TIMESTAMP, req, now), req);
}
END_TEST

/* A state recorded in one mode counts as empty in the other. */
START_TEST(mode_change)
{
	struct mip_replay_state	st;
	uint64_t		now = ntp_of(1734651328, 0);

	mip_replay_init(&st, MIP_REPLAY_TIMESTAMP);
	mip_replay_accept(&st, MIP_REPLAY_TIMESTAMP, now);
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_NONCE, now, now, 7),
	    MIP_REPLAY_NONCE_UNKNOWN);
	mip_replay_reply_id(&st, MIP_REPLAY_NONCE, MIP_REPLAY_NONCE_UNKNOWN,
	    now, now, 42);
	ck_assert_int_eq(st.mode, MIP_REPLAY_NONCE);
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_NONCE,
	    (uint64_t)42 << 32, now, 7), MIP_REPLAY_OK);
	/* a zeroed state is a valid empty timestamp state */
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(mip_replay_check(&st, MIP_REPLAY_TIMESTAMP, now, now,
	    7), MIP_REPLAY_OK);
	ck_assert_int_eq(mip_replay_check(&st, (enum mip_replay_mode)7, now,
	    now, 7), MIP_REPLAY_BAD_MODE);
}
END_TEST

START_TEST(names)
{
	enum mip_replay_mode	m;
	int			v;

	ck_assert_int_eq(mip_replay_mode_from_name("timestamp", &m), 0);
	ck_assert_int_eq(m, MIP_REPLAY_TIMESTAMP);
	ck_assert_int_eq(mip_replay_mode_from_name("nonce", &m), 0);
	ck_assert_int_eq(m, MIP_REPLAY_NONCE);
	ck_assert_int_eq(mip_replay_mode_from_name("nonces", &m), -1);
	ck_assert_int_eq(mip_replay_mode_from_name(NULL, &m), -1);
	ck_assert_str_eq(mip_replay_mode_name(MIP_REPLAY_NONCE), "nonce");
	ck_assert_str_eq(mip_replay_mode_name(MIP_REPLAY_TIMESTAMP),
	    "timestamp");
	for (v = MIP_REPLAY_OK; v <= MIP_REPLAY_BAD_MODE; v++)
		ck_assert_str_ne(mip_replay_verdict_str(
		    (enum mip_replay_verdict)v), "unknown verdict");
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite	*s = suite_create("replay");
	TCase	*tc;

	tc = tcase_create("timestamps");
	tcase_add_test(tc, ntp_conversion);
	tcase_add_test(tc, window_edges);
	tcase_add_test(tc, era_wrap);
	tcase_add_test(tc, id_order);
	tcase_add_test(tc, timestamp_sequence);
	tcase_add_test(tc, timestamp_vectors);
	suite_add_tcase(s, tc);

	tc = tcase_create("nonces");
	tcase_add_test(tc, nonce_next);
	tcase_add_test(tc, nonce_flow);
	tcase_add_test(tc, unauth_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_test(tc, mode_change);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(replay_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
