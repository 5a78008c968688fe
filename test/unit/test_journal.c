/*
 * test_journal.c - the binding journal: round trips, crash recovery (torn
 * tails, damage in the middle), compaction, locking, commit failures, and a
 * throughput measure (printed, not asserted).
 *
 * Every test works in its own directory under one mkdtemp() directory in
 * /tmp (or $TMPDIR) that main() removes after the run, also when tests fail.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#define FILE_HDR	24	/* journal.c's format, tested from outside */
#define BATCH_HDR	24

static char topdir[256];

/* Helpers. */

static char *
new_dir(void)
{
	static char dir[512];

	snprintf(dir, sizeof(dir), "%s/t.XXXXXX", topdir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static void
jpath(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static off_t
fsize(const char *dir)
{
	struct stat sb;
	char p[600];

	jpath(p, sizeof(p), dir, "journal");
	ck_assert_int_eq(stat(p, &sb), 0);
	return sb.st_size;
}

static struct journal *
open_ok(const char *dir)
{
	struct journal *j;
	char err[512];

	err[0] = '\0';
	j = journal_open(dir, err, sizeof(err));
	ck_assert_msg(j != NULL, "journal_open: %s", err);
	return j;
}

/* Reads the whole journal file into a malloc'ed buffer. */
static uint8_t *
slurp(const char *dir, size_t *len)
{
	char p[600];
	uint8_t *b;
	FILE *f;

	jpath(p, sizeof(p), dir, "journal");
	*len = (size_t)fsize(dir);
	b = malloc(*len + 1);
	ck_assert_ptr_nonnull(b);
	f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

/* Replaces the journal file's content with len bytes of b. */
static void
spill(const char *dir, const uint8_t *b, size_t len)
{
	char p[600];
	int fd;

	jpath(p, sizeof(p), dir, "journal");
	fd = open(p, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/*
 * A deterministic record for index i: every field varies, tenant lengths
 * 1..63, NAI lengths 0..255 with every byte value, all three ops.
 */
static void
fill_rec(struct journal_rec *r, uint32_t i)
{
	size_t tl, k;

	memset(r, 0, sizeof(*r));
	r->op = i % 7 == 3 ? JREC_UNBIND : i % 11 == 5 ? JREC_UNBIND_ALL :
	    JREC_BIND;
	tl = 1 + i % JOURNAL_TENANT_MAX;
	for (k = 0; k < tl; k++)
		r->tenant[k] = (char)('a' + (i + k) % 26);
	r->hoa.s_addr = htonl(0xc6120000u + i);		/* 198.18/15 */
	r->coa.s_addr = htonl(0xcb007100u + (i & 0xff));	/* 203.0.113/24 */
	r->src.s_addr = htonl(0xc6336400u + (i * 7 & 0xff));
	r->src_port = (uint16_t)(i * 31);
	r->lifetime = (uint16_t)(i * 13);
	r->expires = 1700000000 + (int64_t)i * 3 - (i % 5 == 0 ? 4000000000 :
	    0);
	r->ident = 0x9e3779b97f4a7c15ull * (i + 1);
	r->flags = (uint8_t)(i * 5);
	r->encap = (uint8_t)(i % 4);
	r->udp_tunnel = i % 3 == 0;
	r->gre_key = i * 2654435761u;
	r->nai_len = (uint8_t)(i % 9 == 0 ? 0 : i * 37);
	for (k = 0; k < r->nai_len; k++)
		r->nai[k] = (uint8_t)(i + k);
}

static void
assert_rec_eq(const struct journal_rec *a, const struct journal_rec *b)
{
	ck_assert_int_eq(a->op, b->op);
	ck_assert_str_eq(a->tenant, b->tenant);
	ck_assert_uint_eq(a->hoa.s_addr, b->hoa.s_addr);
	ck_assert_uint_eq(a->coa.s_addr, b->coa.s_addr);
	ck_assert_uint_eq(a->src.s_addr, b->src.s_addr);
	ck_assert_uint_eq(a->src_port, b->src_port);
	ck_assert_uint_eq(a->lifetime, b->lifetime);
	ck_assert_int_eq(a->expires, b->expires);
	ck_assert_uint_eq(a->ident, b->ident);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->encap, b->encap);
	ck_assert_int_eq(a->udp_tunnel, b->udp_tunnel);
	ck_assert_uint_eq(a->gre_key, b->gre_key);
	ck_assert_uint_eq(a->nai_len, b->nai_len);
	ck_assert_mem_eq(a->nai, b->nai, a->nai_len);
}

/*
 * The same without Check: in fork mode every passing ck_assert() costs a
 * message to the parent, too slow for hundreds of thousands of records.
 */
static bool
rec_eq(const struct journal_rec *a, const struct journal_rec *b)
{
	return a->op == b->op && strcmp(a->tenant, b->tenant) == 0 &&
	    a->hoa.s_addr == b->hoa.s_addr && a->coa.s_addr == b->coa.s_addr &&
	    a->src.s_addr == b->src.s_addr && a->src_port == b->src_port &&
	    a->lifetime == b->lifetime && a->expires == b->expires &&
	    a->ident == b->ident && a->flags == b->flags &&
	    a->encap == b->encap && a->udp_tunnel == b->udp_tunnel &&
	    a->gre_key == b->gre_key && a->nai_len == b->nai_len &&
	    memcmp(a->nai, b->nai, a->nai_len) == 0;
}

/* Replay callback checking records against fill_rec(n). */
struct expect {
	uint32_t	 n;
	uint32_t	 stop_after;	/* 0: never stop */
	uint32_t	 bad;		/* 1 + index of the first mismatch */
};

static int
expect_cb(void *arg, const struct journal_rec *r)
{
	struct expect *e = arg;
	struct journal_rec want;

	fill_rec(&want, e->n);
	if (e->bad == 0 && !rec_eq(r, &want))
		e->bad = e->n + 1;
	e->n++;
	return e->stop_after != 0 && e->n == e->stop_after ? 7 : 0;
}

static void
expect_done(const struct expect *e, uint32_t n)
{
	ck_assert_msg(e->bad == 0, "record %u differs", e->bad - 1);
	ck_assert_uint_eq(e->n, n);
}

/* Appends fill_rec(first .. first+n-1) and commits them as one batch. */
static void
append_range(struct journal *j, uint32_t first, uint32_t n)
{
	struct journal_rec r;
	uint32_t i;

	for (i = 0; i < n; i++) {
		fill_rec(&r, first + i);
		journal_append(j, &r);
	}
	ck_assert_uint_eq(journal_pending(j), n);
	ck_assert_int_eq(journal_commit(j), 0);
	ck_assert_uint_eq(journal_pending(j), 0);
}

/* Reopens dir and checks it replays exactly fill_rec(0 .. n-1). */
static void
expect_replay(const char *dir, uint32_t n)
{
	struct journal *j;
	struct expect e = { 0, 0, 0 };

	j = open_ok(dir);
	ck_assert_int_eq(journal_replay(j, expect_cb, &e), 0);
	expect_done(&e, n);
	journal_close(j);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Tests. */

START_TEST(test_crc32c_check_value)
{
	const char *s = "123456789";

	/* The CRC-32C check value (RFC 3720 B.4, "CRC-32/ISCSI"). */
	ck_assert_uint_eq(journal_crc32c(0, s, 9), 0xE3069283u);
	/* Running form: crc(a || b) == crc(crc(a), b), any split. */
	for (size_t k = 0; k <= 9; k++)
		ck_assert_uint_eq(journal_crc32c(journal_crc32c(0, s, k),
		    s + k, 9 - k), 0xE3069283u);
	ck_assert_uint_eq(journal_crc32c(0, "", 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros. */
	{
		uint8_t z[32] = { 0 };

		ck_assert_uint_eq(journal_crc32c(0, z, sizeof(z)),
		    0x8A9136AAu);
	}
}
END_TEST


/* Replay callback keeping copies of every record. */
struct collect {
	struct journal_rec	*v;
	size_t			 n;
	size_t			 cap;
};

static int
collect_cb(void *arg, const struct journal_rec *r)
{
	struct collect *c = arg;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		ck_assert_ptr_nonnull(c->v);
	}
	c->v[c->n++] = *r;
	return 0;
}

static void
collect_dir(const char *dir, struct collect *c)
{
	struct journal *j;

	memset(c, 0, sizeof(*c));
	j = open_ok(dir);
	ck_assert_int_eq(journal_replay(j, collect_cb, c), 0);
	journal_close(j);
}

START_TEST(test_roundtrip_every_field)
{
	struct journal_rec in[4];
	struct collect c;
	struct journal *j;
	struct stat sb;
	const char *dir = new_dir();
	char p[600];
	int k;

	memset(in, 0, sizeof(in));
	/* Every field at its maximum. */
	in[0].op = JREC_BIND;
	memset(in[0].tenant, 'T', JOURNAL_TENANT_MAX);
	in[0].hoa.s_addr = htonl(0xc6120001);
	in[0].coa.s_addr = htonl(0xcb007105);
	in[0].src.s_addr = htonl(0xc6336407);
	in[0].src_port = 0xffff;
	in[0].lifetime = 0xffff;
	in[0].expires = INT64_MAX;
	in[0].ident = UINT64_MAX;
	in[0].flags = 0xff;
	in[0].encap = 0xff;
	in[0].udp_tunnel = true;
	in[0].gre_key = 0xffffffffu;
	in[0].nai_len = JOURNAL_NAI_MAX;
	for (k = 0; k < JOURNAL_NAI_MAX; k++)
		in[0].nai[k] = (uint8_t)(255 - k);	/* 0x00 included */
	/* ... at its minimum (empty tenant, no NAI). */
	in[1].op = JREC_BIND;
	in[1].expires = INT64_MIN;
	/* The removals, with what they carry. */
	in[2].op = JREC_UNBIND;
	strcpy(in[2].tenant, "acme");
	in[2].hoa.s_addr = htonl(0xc6120001);
	in[2].coa.s_addr = htonl(0xcb007105);
	in[2].ident = 0x0123456789abcdefull;
	in[2].expires = 1700000000;
	in[2].flags = JREC_F_REVERSE | JREC_F_SIMULTANEOUS;
	in[3].op = JREC_UNBIND_ALL;
	strcpy(in[3].tenant, "corp-emea");
	in[3].hoa.s_addr = htonl(0xc6120002);
	in[3].ident = 42;
	in[3].nai_len = 16;
	memcpy(in[3].nai, "alice@corp.test!", 16);

	j = open_ok(dir);
	for (k = 0; k < 4; k++)
		journal_append(j, &in[k]);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);

	/* Files are private to the daemon. */
	jpath(p, sizeof(p), dir, "journal");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	jpath(p, sizeof(p), dir, "journal.lock");
	ck_assert_int_eq(stat(p, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);

	collect_dir(dir, &c);
	ck_assert_uint_eq(c.n, 4);
	for (k = 0; k < 4; k++)
		assert_rec_eq(&c.v[k], &in[k]);
	free(c.v);
}
END_TEST

START_TEST(test_many_records)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal *j;
	struct expect e = { 0, 0, 0 };
	uint32_t n = 0, b = 0, sz, total = 200000;

	j = open_ok(dir);
	while (n < total) {
		sz = 1 + (b++ * 97) % 1500;
		if (sz > total - n)
			sz = total - n;
		append_range(j, n, sz);
		n += sz;
		if (n >= total / 2 && n - sz < total / 2) {
			/* Reopen half way: appends continue the same file. */
			journal_close(j);
			j = open_ok(dir);
			ck_assert_int_eq(journal_replay(j, expect_cb, &e), 0);
			expect_done(&e, n);
		}
	}
	journal_stats(j, &st);
	ck_assert_uint_eq(st.file_records, total);
	ck_assert_uint_eq(st.file_bytes, (uint64_t)fsize(dir));
	journal_close(j);
	expect_replay(dir, total);
}
END_TEST

/*
 * A crash (SIGKILL) in the middle of a commit's write() leaves a prefix of
 * the batch: cut the file at every offset inside the last batch.
 */
static void
torn_every_offset(uint32_t last_batch)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal *j;
	struct expect e;
	size_t len, cut, enda;
	uint8_t *orig;

	j = open_ok(dir);
	append_range(j, 0, 10);
	enda = (size_t)fsize(dir);
	append_range(j, 10, last_batch);
	journal_close(j);
	orig = slurp(dir, &len);

	for (cut = enda; cut < len; cut++) {
		spill(dir, orig, cut);
		j = open_ok(dir);
		journal_stats(j, &st);
		ck_assert_uint_eq(st.tail_bytes, cut - enda);
		if (cut > enda)
			ck_assert_uint_eq(st.tail_offset, enda);
		/* Repaired on disk: exactly the committed prefix is left. */
		ck_assert_uint_eq((uint64_t)fsize(dir), enda);
		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(journal_replay(j, expect_cb, &e), 0);
		expect_done(&e, 10);
		/* And the journal goes on from there. */
		append_range(j, 10, 1);
		journal_close(j);
		expect_replay(dir, 11);
	}
	free(orig);
}

START_TEST(test_torn_tail_last_record)
{
	torn_every_offset(1);
}
END_TEST

START_TEST(test_torn_tail_last_batch)
{
	/* A batch is all or nothing: any cut inside it drops all of it. */
	torn_every_offset(4);
}
END_TEST

/* A power failure can leave the unsynced batch with holes, or zeros after. */
START_TEST(test_torn_tail_power_loss)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal *j;
	size_t len, enda;
	uint8_t *orig, *b;

	j = open_ok(dir);
	append_range(j, 0, 10);
	enda = (size_t)fsize(dir);
	append_range(j, 10, 50);
	journal_close(j);
	orig = slurp(dir, &len);
	b = malloc(len + 8192);
	ck_assert_ptr_nonnull(b);

	/* A hole inside the last batch, intact records after it. */
	memcpy(b, orig, len);
	memset(b + enda + 100, 0, 300);
	spill(dir, b, len);
	j = open_ok(dir);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.tail_offset, enda);
	ck_assert_uint_eq(st.tail_bytes, len - enda);
	journal_close(j);
	expect_replay(dir, 10);

	/* Only the last batch's header lost. */
	memcpy(b, orig, len);
	memset(b + enda, 0, BATCH_HDR);
	spill(dir, b, len);
	expect_replay(dir, 10);

	/* All data there, the file extended by zeros. */
	memcpy(b, orig, len);
	memset(b + len, 0, 8192);
	spill(dir, b, len + 8192);
	j = open_ok(dir);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.tail_offset, len);
	ck_assert_uint_eq(st.tail_bytes, 8192);
	journal_close(j);
	expect_replay(dir, 60);
	free(b);
	free(orig);
}
END_TEST

/* Opening must fail, naming the offset, and leave the file as it is. */
static void
expect_refused(const char *dir, const uint8_t *b, size_t len,
    const char *needle)
{
	struct journal *j;
	uint8_t *after;
	size_t alen;
	char err[512], path[600];

	spill(dir, b, len);
	err[0] = '\0';
	j = journal_open(dir, err, sizeof(err));
	ck_assert_ptr_null(j);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err,
	    needle);
	after = slurp(dir, &alen);
	ck_assert_uint_eq(alen, len);
	ck_assert_mem_eq(after, b, len);
	free(after);
	/* The read-only reader says the same. */
	jpath(path, sizeof(path), dir, "journal");
	err[0] = '\0';
	ck_assert_int_eq(journal_read_file(path, NULL, NULL, NULL, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, needle) != NULL, "'%s' lacks '%s'", err,
	    needle);
}

START_TEST(test_corrupt_middle_refused)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal *j;
	size_t len, enda, endb;
	uint8_t *orig, *b;
	uint32_t idcrc;
	char needle[64];

	j = open_ok(dir);
	append_range(j, 0, 10);
	enda = (size_t)fsize(dir);
	append_range(j, 10, 10);
	endb = (size_t)fsize(dir);
	append_range(j, 20, 10);
	journal_close(j);
	orig = slurp(dir, &len);
	b = malloc(len);
	ck_assert_ptr_nonnull(b);
	snprintf(needle, sizeof(needle), "offset %zu", enda);

	/* A flipped bit in a committed batch's payload. */
	memcpy(b, orig, len);
	b[enda + BATCH_HDR + 30] ^= 0x10;
	expect_refused(dir, b, len, needle);

	/* ... in its header (its length: the walk loses its footing). */
	memcpy(b, orig, len);
	b[enda + 2] ^= 0x01;
	expect_refused(dir, b, len, needle);

	/*
	 * CRCs that hold over a batch out of sequence: not a crash's doing.
	 * The header CRC mixes in the file id (file header bytes 12..19).
	 */
	memcpy(b, orig, len);
	b[enda + 15] = 9;
	idcrc = journal_crc32c(0, b + 12, 8);
	{
		uint32_t c = journal_crc32c(idcrc, b + enda, 20);

		b[enda + 20] = (uint8_t)(c >> 24);
		b[enda + 21] = (uint8_t)(c >> 16);
		b[enda + 22] = (uint8_t)(c >> 8);
		b[enda + 23] = (uint8_t)c;
	}
	expect_refused(dir, b, len, "out of sequence");

	/*
	 * Damage in the last batch looks like an interrupted commit: that
	 * batch is cut (and reported), the rest kept.
	 */
	memcpy(b, orig, len);
	b[endb + BATCH_HDR + 30] ^= 0x10;
	spill(dir, b, len);
	j = open_ok(dir);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.tail_offset, endb);
	ck_assert_uint_eq(st.tail_bytes, len - endb);
	journal_close(j);
	expect_replay(dir, 20);
	free(b);
	free(orig);
}
END_TEST

START_TEST(test_bad_file_header)
{
	const char *dir = new_dir();
	struct journal *j;
	size_t len;
	uint8_t *orig, *b;
	uint32_t c;
	char p[600];
	int fd;

	j = open_ok(dir);
	append_range(j, 0, 3);
	journal_close(j);
	orig = slurp(dir, &len);
	b = malloc(len);
	ck_assert_ptr_nonnull(b);

	memcpy(b, orig, len);
	b[0] ^= 1;
	expect_refused(dir, b, len, "not a mipha journal");

	memcpy(b, orig, len);
	b[13] ^= 1;		/* file id */
	expect_refused(dir, b, len, "header damaged");

	memcpy(b, orig, len);
	b[9] = 2;		/* version 2, CRC made to fit */
	c = journal_crc32c(0, b, 20);
	b[20] = (uint8_t)(c >> 24);
	b[21] = (uint8_t)(c >> 16);
	b[22] = (uint8_t)(c >> 8);
	b[23] = (uint8_t)c;
	expect_refused(dir, b, len, "version 2");

	expect_refused(dir, orig, 10, "too short");

	/* A leftover journal.tmp (interrupted compaction) is removed. */
	spill(dir, orig, len);
	jpath(p, sizeof(p), dir, "journal.tmp");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "junk", 4), 4);
	ck_assert_int_eq(close(fd), 0);
	expect_replay(dir, 3);
	ck_assert_int_eq(access(p, F_OK), -1);
	free(b);
	free(orig);
}
END_TEST

static void
mk(struct journal_rec *r, enum journal_op op, uint32_t hoa, uint32_t coa)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	strcpy(r->tenant, "acme");
	r->hoa.s_addr = htonl(hoa);
	r->coa.s_addr = htonl(coa);
	r->ident = ((uint64_t)hoa << 32) | coa;
}

START_TEST(test_unbind_recorded_in_order)
{
	static const struct {
		enum journal_op	op;
		uint32_t	hoa, coa;
		int		commit_after;
	} seq[] = {
		{ JREC_BIND, 0xc6120001, 0xcb007101, 0 },
		{ JREC_BIND, 0xc6120001, 0xcb007102, 1 },
		{ JREC_UNBIND, 0xc6120001, 0xcb007101, 0 },
		{ JREC_BIND, 0xc6120002, 0xcb007103, 1 },
		{ JREC_UNBIND_ALL, 0xc6120001, 0, 0 },
		{ JREC_BIND, 0xc6120001, 0xcb007104, 1 },
		{ JREC_UNBIND_ALL, 0xc6120002, 0, 1 },
	};
	const char *dir = new_dir();
	struct journal_rec r;
	struct collect c;
	struct journal *j;
	size_t k, n = sizeof(seq) / sizeof(seq[0]);

	j = open_ok(dir);
	for (k = 0; k < n; k++) {
		mk(&r, seq[k].op, seq[k].hoa, seq[k].coa);
		journal_append(j, &r);
		if (seq[k].commit_after)
			ck_assert_int_eq(journal_commit(j), 0);
	}
	journal_close(j);
	collect_dir(dir, &c);
	ck_assert_uint_eq(c.n, n);
	for (k = 0; k < n; k++) {
		mk(&r, seq[k].op, seq[k].hoa, seq[k].coa);
		assert_rec_eq(&c.v[k], &r);
	}
	free(c.v);
}
END_TEST

/* A model binding table for the compaction tests: key k -> (tenant, HoA, CoA). */
#define NKEYS	400
struct model {
	bool			 live[NKEYS + 1];
	struct journal_rec	 rec[NKEYS + 1];
	int			 next;		/* iterator */
	int			 fail_after;	/* -1: never */
};

static void
model_key(struct journal_rec *r, int k, uint32_t gen)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->tenant, sizeof(r->tenant), "tenant-%d", k % 3);
	r->hoa.s_addr = htonl(0xc6120000u + (uint32_t)k / 4);
	r->coa.s_addr = htonl(0xcb007100u + (uint32_t)k % 4);
	r->src = r->coa;
	r->src_port = 434;
	r->lifetime = 600;
	r->expires = 1700000000 + gen;
	r->ident = gen;
	r->nai_len = (uint8_t)(gen % 40);
	memset(r->nai, 'n', r->nai_len);
}

static int
model_each(void *arg, struct journal_rec *out)
{
	struct model *m = arg;

	if (m->fail_after >= 0 && m->next >= m->fail_after)
		return -1;
	while (m->next < NKEYS + 1 && !m->live[m->next])
		m->next++;
	if (m->next == NKEYS + 1)
		return 0;
	*out = m->rec[m->next++];
	return 1;
}

static void
model_run(struct journal *j, struct model *m, int ops)
{
	struct journal_rec r;
	uint32_t rnd = 12345;
	int i, k, c;

	for (i = 0; i < ops; i++) {
		rnd = rnd * 1103515245u + 12345u;
		k = (int)((rnd >> 8) % NKEYS);
		model_key(&r, k, (uint32_t)i);
		if ((rnd >> 24) % 10 < 7) {
			r.op = JREC_BIND;
			m->live[k] = true;
			m->rec[k] = r;
		} else if ((rnd >> 24) % 10 < 9) {
			r.op = JREC_UNBIND;
			m->live[k] = false;
		} else {
			r.op = JREC_UNBIND_ALL;
			r.coa.s_addr = 0;
			for (c = k - k % 4; c < k - k % 4 + 4; c++)
				m->live[c] = false;
		}
		journal_append(j, &r);
		if (i % 50 == 49)
			ck_assert_int_eq(journal_commit(j), 0);
	}
	ck_assert_int_eq(journal_commit(j), 0);
}

START_TEST(test_compaction_keeps_live_set)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal_rec extra;
	struct collect c;
	struct journal *j;
	struct model *m;
	struct stat before, after;
	char p[600], tmp[600];
	size_t k, nlive = 0;
	off_t size_before;

	m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	m->fail_after = -1;
	j = open_ok(dir);
	model_run(j, m, 20000);
	for (k = 0; k < NKEYS; k++)
		nlive += m->live[k];
	ck_assert_uint_gt(nlive, 10);
	size_before = fsize(dir);
	jpath(p, sizeof(p), dir, "journal");
	jpath(tmp, sizeof(tmp), dir, "journal.tmp");
	ck_assert_int_eq(stat(p, &before), 0);

	/* A pending record is committed before the rewrite. */
	model_key(&extra, NKEYS, 999999);
	extra.op = JREC_BIND;
	journal_append(j, &extra);
	m->live[NKEYS] = true;
	m->rec[NKEYS] = extra;
	nlive++;

	ck_assert_int_eq(journal_compact(j, model_each, m), 0);
	ck_assert_uint_eq(journal_pending(j), 0);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 1);
	ck_assert_uint_eq(st.file_records, nlive);
	ck_assert_int_eq(stat(p, &after), 0);
	ck_assert_uint_ne(before.st_ino, after.st_ino);
	ck_assert_int_lt(after.st_size, size_before / 10);
	ck_assert_uint_eq(after.st_mode & 0777, 0600);
	ck_assert_int_eq(access(tmp, F_OK), -1);

	/* Later appends go to the new file. */
	model_key(&extra, 7, 1000000);
	extra.op = JREC_UNBIND;
	journal_append(j, &extra);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.file_bytes, (uint64_t)fsize(dir));
	ck_assert_uint_gt((uint64_t)fsize(dir), (uint64_t)after.st_size);
	journal_close(j);

	collect_dir(dir, &c);
	ck_assert_uint_eq(c.n, nlive + 1);
	for (m->next = 0, k = 0; model_each(m, &extra) == 1; k++) {
		if (!rec_eq(&c.v[k], &extra) || c.v[k].op != JREC_BIND)
			ck_abort_msg("record %zu is not live binding %zu", k, k);
	}
	ck_assert_uint_eq(k, nlive);
	ck_assert_int_eq(c.v[nlive].op, JREC_UNBIND);
	free(c.v);
	free(m);
}
END_TEST

/* Replays dir and applies every record to a fresh model: the final state. */
static void
replay_state(const char *dir, struct model *out)
{
	struct collect c;

	memset(out, 0, sizeof(*out));
	collect_dir(dir, &c);
	for (size_t i = 0; i < c.n; i++) {
		const struct journal_rec *r = &c.v[i];
		int g = (int)(ntohl(r->hoa.s_addr) - 0xc6120000u) * 4;

		ck_assert_int_ge(g, 0);
		ck_assert_int_lt(g, NKEYS + 4);
		if (r->op == JREC_UNBIND_ALL) {
			for (int k = g; k < g + 4 && k < NKEYS; k++)
				out->live[k] = false;
			continue;
		}
		g += (int)(ntohl(r->coa.s_addr) - 0xcb007100u);
		ck_assert_int_lt(g, NKEYS);
		out->live[g] = r->op == JREC_BIND;
		if (r->op == JREC_BIND)
			out->rec[g] = *r;
	}
	free(c.v);
}

static void
wait_compaction(struct journal *j)
{
	struct pollfd p = { .fd = journal_compact_fd(j), .events = POLLIN };

	ck_assert_int_ge(p.fd, 0);
	ck_assert_int_eq(poll(&p, 1, 20000), 1);
}

START_TEST(test_background_compaction)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal *j;
	struct model *m, *got;
	char tmp[600];
	off_t size_before;

	m = calloc(1, sizeof(*m));
	got = calloc(1, sizeof(*got));
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(got);
	m->fail_after = -1;
	j = open_ok(dir);
	model_run(j, m, 20000);
	size_before = fsize(dir);

	/* The child snapshots the model as of now ... */
	ck_assert_int_eq(journal_compact_begin(j, model_each, m), 0);
	ck_assert(journal_compacting(j));
	ck_assert(!journal_wants_compaction(j, 0));
	errno = 0;
	ck_assert_int_eq(journal_compact_begin(j, model_each, m), -1);
	ck_assert_int_eq(errno, EBUSY);
	/* ... while this process goes on changing it and committing. */
	model_run(j, m, 3000);
	wait_compaction(j);
	ck_assert_int_eq(journal_compact_finish(j), 0);
	ck_assert(!journal_compacting(j));
	journal_stats(j, &st);
	ck_assert_uint_eq(st.compactions, 1);
	ck_assert_uint_eq(st.file_bytes, (uint64_t)fsize(dir));
	ck_assert_int_lt(fsize(dir), size_before / 2);
	jpath(tmp, sizeof(tmp), dir, "journal.tmp");
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* And appends after the switch land in the new file. */
	model_run(j, m, 500);
	journal_close(j);

	replay_state(dir, got);
	for (int k = 0; k < NKEYS; k++) {
		ck_assert_msg(got->live[k] == m->live[k], "key %d: live %d, "
		    "want %d", k, got->live[k], m->live[k]);
		if (m->live[k] && !rec_eq(&got->rec[k], &m->rec[k]))
			ck_abort_msg("key %d: record differs", k);
	}
	free(m);
	free(got);
}
END_TEST

START_TEST(test_background_compaction_failure)
{
	const char *dir = new_dir();
	struct journal *j;
	struct model *m, *got;
	char tmp[600];

	m = calloc(1, sizeof(*m));
	got = calloc(1, sizeof(*got));
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(got);
	j = open_ok(dir);
	model_run(j, m, 5000);
	/* The child's iterator gives up: the old journal stays complete. */
	m->fail_after = 3;
	ck_assert_int_eq(journal_compact_begin(j, model_each, m), 0);
	m->fail_after = -1;
	model_run(j, m, 1000);
	wait_compaction(j);
	ck_assert_int_eq(journal_compact_finish(j), -1);
	ck_assert_ptr_nonnull(strstr(journal_error(j), "writer failed"));
	jpath(tmp, sizeof(tmp), dir, "journal.tmp");
	ck_assert_int_eq(access(tmp, F_OK), -1);
	model_run(j, m, 100);
	/* One left running at close is dropped, the journal complete. */
	m->next = 0;
	ck_assert_int_eq(journal_compact_begin(j, model_each, m), 0);
	model_run(j, m, 100);
	journal_close(j);
	ck_assert_int_eq(access(tmp, F_OK), -1);

	replay_state(dir, got);
	for (int k = 0; k < NKEYS; k++)
		ck_assert_msg(got->live[k] == m->live[k], "key %d", k);
	free(m);
	free(got);
}
END_TEST

START_TEST(test_compaction_abort_keeps_old_file)
{
	const char *dir = new_dir();
	struct journal_rec r;
	struct collect c1;
	struct journal *j;
	struct model *m;
	size_t len1, len2;
	uint8_t *b1, *b2;
	char tmp[600];

	m = calloc(1, sizeof(*m));
	ck_assert_ptr_nonnull(m);
	j = open_ok(dir);
	model_run(j, m, 2000);
	b1 = slurp(dir, &len1);
	m->fail_after = 5;
	errno = 0;
	ck_assert_int_eq(journal_compact(j, model_each, m), -1);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_ptr_nonnull(strstr(journal_error(j), "aborted"));
	jpath(tmp, sizeof(tmp), dir, "journal.tmp");
	ck_assert_int_eq(access(tmp, F_OK), -1);
	b2 = slurp(dir, &len2);
	ck_assert_uint_eq(len1, len2);
	ck_assert_mem_eq(b1, b2, len1);

	/* A record the iterator cannot encode aborts it too. */
	m->next = 0;
	m->fail_after = -1;
	m->live[NKEYS] = true;
	memset(m->rec[NKEYS].tenant, 'x', sizeof(m->rec[NKEYS].tenant));
	ck_assert_int_eq(journal_compact(j, model_each, m), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(access(tmp, F_OK), -1);

	/* Still the journal in use. */
	model_key(&r, 1, 5000);
	r.op = JREC_BIND;
	journal_append(j, &r);
	ck_assert_int_eq(journal_commit(j), 0);
	journal_close(j);
	collect_dir(dir, &c1);
	ck_assert_ptr_nonnull(c1.v);
	assert_rec_eq(&c1.v[c1.n - 1], &r);
	free(c1.v);
	free(b1);
	free(b2);
	free(m);
}
END_TEST

START_TEST(test_wants_compaction)
{
	const char *dir = new_dir();
	struct journal_rec r;
	struct journal *j;
	uint32_t i;

	j = open_ok(dir);
	ck_assert(!journal_wants_compaction(j, 0));
	/* 100k renewals of one small binding: ~5.3 MB. */
	memset(&r, 0, sizeof(r));
	r.op = JREC_BIND;
	strcpy(r.tenant, "corp-emea");
	for (i = 0; i < 100000; i++) {
		r.ident = i;
		journal_append(j, &r);
		if (i % 1024 == 1023)
			ck_assert_int_eq(journal_commit(j), 0);
	}
	ck_assert_int_eq(journal_commit(j), 0);
	ck_assert(journal_wants_compaction(j, 1));
	ck_assert(journal_wants_compaction(j, 10000));
	ck_assert(!journal_wants_compaction(j, 100000));
	journal_close(j);
}
END_TEST

START_TEST(test_second_open_locked_out)
{
	const char *dir = new_dir();
	struct journal *j1, *j2;
	char err[512];

	j1 = open_ok(dir);
	err[0] = '\0';
	j2 = journal_open(dir, err, sizeof(err));
	ck_assert_ptr_null(j2);
	ck_assert_msg(strstr(err, "in use") != NULL, "%s", err);
	journal_close(j1);
	j2 = open_ok(dir);
	journal_close(j2);

	/* And a state_dir that is not there is an error, not a crash. */
	ck_assert_ptr_null(journal_open("/nonexistent/mipha", err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/mipha"));
}
END_TEST

/*
 * A write that fails half way (RLIMIT_FSIZE: a short write, then EFBIG):
 * the batch is dropped whole, the file cut back, and the journal goes on.
 */
START_TEST(test_commit_failure_drops_batch)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal_rec r;
	struct journal *j;
	struct rlimit old, lim;
	off_t enda;
	uint32_t i;

	j = open_ok(dir);
	append_range(j, 0, 10);
	enda = fsize(dir);

	ck_assert(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)enda + 100;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 10; i < 20; i++) {
		fill_rec(&r, i);
		journal_append(j, &r);
	}
	errno = 0;
	ck_assert_int_eq(journal_commit(j), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_uint_eq(journal_pending(j), 0);
	ck_assert_msg(strstr(journal_error(j), "write") != NULL, "%s",
	    journal_error(j));
	ck_assert_int_eq(fsize(dir), enda);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

	/* The dropped batch never comes back; the next one is fine. */
	append_range(j, 10, 5);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.failed_commits, 1);
	ck_assert_uint_eq(st.commits, 2);
	journal_close(j);
	expect_replay(dir, 15);
}
END_TEST

START_TEST(test_invalid_append_fails_commit)
{
	const char *dir = new_dir();
	struct journal_rec r;
	struct journal *j;

	j = open_ok(dir);
	fill_rec(&r, 0);
	journal_append(j, &r);
	memset(r.tenant, 'x', sizeof(r.tenant));	/* no NUL */
	journal_append(j, &r);
	fill_rec(&r, 1);
	journal_append(j, &r);
	errno = 0;
	ck_assert_int_eq(journal_commit(j), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(journal_pending(j), 0);

	fill_rec(&r, 0);
	r.op = (enum journal_op)9;
	journal_append(j, &r);
	ck_assert_int_eq(journal_commit(j), -1);
	ck_assert_int_eq(errno, EINVAL);

	append_range(j, 0, 3);
	journal_close(j);
	expect_replay(dir, 3);
}
END_TEST

START_TEST(test_commit_noop_and_close_commits)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal_rec r;
	struct journal *j;
	off_t empty;
	uint32_t i;

	j = open_ok(dir);
	empty = fsize(dir);
	ck_assert_int_eq(empty, FILE_HDR);
	ck_assert_uint_eq(journal_pending(j), 0);
	ck_assert_int_eq(journal_commit(j), 0);
	ck_assert_int_eq(fsize(dir), empty);
	journal_stats(j, &st);
	ck_assert_uint_eq(st.commits, 0);
	for (i = 0; i < 5; i++) {
		fill_rec(&r, i);
		journal_append(j, &r);
	}
	ck_assert_uint_eq(journal_pending(j), 5);
	ck_assert_int_eq(fsize(dir), empty);	/* nothing before commit */
	journal_close(j);
	expect_replay(dir, 5);
}
END_TEST

START_TEST(test_replay_rules)
{
	const char *dir = new_dir();
	struct journal_rec r;
	struct journal *j;
	struct expect e = { 0, 3, 0 };

	j = open_ok(dir);
	append_range(j, 0, 10);
	journal_close(j);

	/* The callback stops the replay with its value. */
	j = open_ok(dir);
	ck_assert_int_eq(journal_replay(j, expect_cb, &e), 7);
	expect_done(&e, 3);
	journal_close(j);

	/* Replay is for a journal nothing was written to since open. */
	j = open_ok(dir);
	fill_rec(&r, 10);
	journal_append(j, &r);
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(journal_replay(j, expect_cb, &e), -1);
	ck_assert_int_eq(errno, EINVAL);
	journal_close(j);
	expect_replay(dir, 11);
}
END_TEST

START_TEST(test_read_file_does_not_repair)
{
	const char *dir = new_dir();
	struct journal_stats st;
	struct journal *j;
	struct expect e = { 0, 0, 0 };
	size_t len, enda;
	uint8_t *orig;
	char p[600], err[512];

	j = open_ok(dir);
	append_range(j, 0, 10);
	enda = (size_t)fsize(dir);
	append_range(j, 10, 3);
	journal_close(j);
	orig = slurp(dir, &len);
	spill(dir, orig, len - 5);

	/* Works while a daemon holds the lock, and changes nothing. */
	j = open_ok(dir);
	journal_close(j);
	spill(dir, orig, len - 5);
	jpath(p, sizeof(p), dir, "journal");
	ck_assert_int_eq(journal_read_file(p, expect_cb, &e, &st, err,
	    sizeof(err)), 0);
	expect_done(&e, 10);
	ck_assert_uint_eq(st.tail_offset, enda);
	ck_assert_uint_eq(st.tail_bytes, len - 5 - enda);
	ck_assert_uint_eq(st.file_records, 10);
	ck_assert_uint_eq((size_t)fsize(dir), len - 5);
	free(orig);
}
END_TEST

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/*
 * Throughput, printed for the record (never asserted: it depends on the
 * disk).  $JOURNAL_BENCH_DIR selects another directory, e.g. the real
 * state_dir's file system.
 */
static double
commit_rate(struct journal *j, struct journal_rec *r, uint32_t batch,
    double *us_per_commit)
{
	double t0, t;
	uint64_t n = 0, commits = 0;
	uint32_t i;

	t0 = now_s();
	do {
		for (i = 0; i < batch; i++) {
			r->ident++;
			journal_append(j, r);
		}
		ck_assert_int_eq(journal_commit(j), 0);
		n += batch;
		commits++;
		t = now_s() - t0;
	} while (t < 1.0 && commits < 2000);
	*us_per_commit = t / (double)commits * 1e6;
	return (double)n / t;
}

static int
count_cb(void *arg, const struct journal_rec *r)
{
	(void)r;
	(*(uint64_t *)arg)++;
	return 0;
}

START_TEST(test_throughput)
{
	static char benchdir[512];
	const char *dir, *env;
	struct journal_rec r;
	struct journal *j;
	struct statfs sf;
	double t0, tapp = 0, t, us1, us64, us1024, r1, r64, r1024;
	uint64_t n = 0;
	uint32_t i, rep, reps = 200;
	char p[600];
	int fd;

	env = getenv("JOURNAL_BENCH_DIR");
	if (env != NULL && *env != '\0') {
		snprintf(benchdir, sizeof(benchdir), "%s/mipha-bench.XXXXXX",
		    env);
		ck_assert_ptr_nonnull(mkdtemp(benchdir));
		dir = benchdir;
	} else
		dir = new_dir();
	ck_assert_int_eq(statfs(dir, &sf), 0);
	j = open_ok(dir);
	memset(&r, 0, sizeof(r));
	r.op = JREC_BIND;
	strcpy(r.tenant, "corp-emea");
	r.lifetime = 1800;
	r.expires = 1700000000;

	/* Append: what the daemon pays per accepted request. */
	for (rep = 0; rep < reps; rep++) {
		t0 = now_s();
		for (i = 0; i < 1024; i++) {
			r.ident++;
			r.hoa.s_addr = i;
			journal_append(j, &r);
		}
		tapp += now_s() - t0;
		ck_assert_int_eq(journal_commit(j), 0);
	}

	/* The disk: one small write + fdatasync. */
	jpath(p, sizeof(p), dir, "fsync-probe");
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	t0 = now_s();
	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(pwrite(fd, &r, 64, (off_t)i * 64), 64);
		ck_assert_int_eq(fdatasync(fd), 0);
	}
	t = (now_s() - t0) / 200 * 1e6;
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(unlink(p), 0);

	r1 = commit_rate(j, &r, 1, &us1);
	r64 = commit_rate(j, &r, 64, &us64);
	r1024 = commit_rate(j, &r, 1024, &us1024);
	journal_close(j);

	/* Startup: replay speed. */
	j = open_ok(dir);
	t0 = now_s();
	ck_assert_int_eq(journal_replay(j, count_cb, &n), 0);
	t0 = now_s() - t0;
	journal_close(j);

	printf("journal throughput (%s, fs type 0x%lx):\n", dir,
	    (unsigned long)sf.f_type);
	printf("  record size (9-byte tenant, no NAI): %d bytes\n",
	    44 + 9);
	printf("  append:          %.1f ns/record\n",
	    tapp / (reps * 1024.0) * 1e9);
	printf("  write+fdatasync: %.0f us (64 bytes)\n", t);
	printf("  batch    1: %9.0f records/s, %7.0f us/commit\n", r1, us1);
	printf("  batch   64: %9.0f records/s, %7.0f us/commit\n", r64, us64);
	printf("  batch 1024: %9.0f records/s, %7.0f us/commit\n", r1024,
	    us1024);
	printf("  replay:     %9.0f records/s (%" PRIu64 " records)\n",
	    (double)n / t0, n);
	fflush(stdout);
	if (dir != benchdir)
		return;
	ck_assert_int_eq(nftw(benchdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc;

	tc = tcase_create("format");
	tcase_add_test(tc, test_crc32c_check_value);
	tcase_add_test(tc, test_roundtrip_every_field);
	tcase_add_test(tc, test_unbind_recorded_in_order);
	tcase_add_test(tc, test_commit_noop_and_close_commits);
	tcase_add_test(tc, test_invalid_append_fails_commit);
	tcase_add_test(tc, test_replay_rules);
	tcase_add_test(tc, test_second_open_locked_out);
	tcase_add_test(tc, test_bad_file_header);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("recovery");
	tcase_add_test(tc, test_torn_tail_last_record);
	tcase_add_test(tc, test_torn_tail_last_batch);
	tcase_add_test(tc, test_torn_tail_power_loss);
	tcase_add_test(tc, test_corrupt_middle_refused);
	tcase_add_test(tc, test_read_file_does_not_repair);
	tcase_add_test(tc, test_commit_failure_drops_batch);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("volume");
	tcase_add_test(tc, test_many_records);
	tcase_add_test(tc, test_compaction_keeps_live_set);
	tcase_add_test(tc, test_compaction_abort_keeps_old_file);
	tcase_add_test(tc, test_background_compaction);
	tcase_add_test(tc, test_background_compaction_failure);
	tcase_add_test(tc, test_wants_compaction);
	tcase_add_test(tc, test_throughput);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	const char *tmp = getenv("TMPDIR");
	int failed;

	snprintf(topdir, sizeof(topdir), "%s/mipha-journal.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(topdir) == NULL) {
		perror(topdir);
		return 99;
	}
	sr = srunner_create(journal_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (nftw(topdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
		perror(topdir);
	return failed == 0 ? 0 : 1;
}
