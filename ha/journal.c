/*
 * journal.c - the durable binding journal.
 *
 * Owns state_dir/journal (the append-only file), state_dir/journal.lock (an
 * flock held while the daemon runs) and state_dir/journal.tmp (a file being
 * created or compacted; a leftover one is removed at open).
 *
 * File format, version 1.  All integers big-endian, addresses as their four
 * network-order bytes.  CRC is CRC-32C (Castagnoli, reflected polynomial
 * 0x82F63B78, init and final xor 0xFFFFFFFF; check value of "123456789" is
 * 0xE3069283).
 *
 *   file header (24 bytes)
 *	 0  8  magic "MIPHAJNL"
 *	 8  2  version (1)
 *	10  2  reserved, 0
 *	12  8  file id: random, new for every file (creation and compaction)
 *	20  4  CRC of bytes 0..19
 *
 *   then batches, one per commit, back to back:
 *   batch header (24 bytes)
 *	 0  4  payload length in bytes (> 0)
 *	 4  4  record count (> 0)
 *	 8  8  sequence number: 1 for the first batch of the file, +1 each
 *	16  4  CRC of the payload
 *	20  4  CRC of the file id's 8 bytes followed by bytes 0..19
 *   payload: the records, back to back
 *
 *   record (44 bytes + tenant + NAI; 52 with an 8-byte tenant, no NAI)
 *	 0  2  record length, these 2 bytes included
 *	 2  1  op: 1 BIND, 2 UNBIND, 3 UNBIND_ALL
 *	 3  1  journal flags: 0x01 UDP tunnelling; others 0
 *	 4  1  binding flags (JREC_F_*)
 *	 5  1  encapsulation
 *	 6  2  granted lifetime, seconds
 *	 8  4  home address
 *	12  4  care-of address
 *	16  4  request source address
 *	20  2  request source port
 *	22  4  GRE key
 *	26  8  expiry, CLOCK_REALTIME seconds (two's complement)
 *	34  8  Identification of the request
 *	42  1  tenant name length (0..63), then the name (no NUL)
 *	 .  1  NAI length (0..255), then the NAI
 *
 * Why batches carry the CRC and not each record: a commit is the unit the
 * daemon acknowledges, so it is the unit that must be all or nothing.  After
 * a power failure the pages of the one write() that had not been synced can
 * come back in any mix of written and zero, so a hole may be followed by
 * intact records of the same batch; per-record CRCs could not tell that from
 * damage to committed data, batch framing can.
 *
 * Recovery at open.  Batches are read in order while each is intact
 * (header CRC, payload within the file, payload CRC).  At the first one
 * that is not:
 *  - if an intact batch of this file (its header CRC mixes in the file id,
 *    so bytes inside a record, e.g. a crafted NAI, cannot pose as one) with
 *    a higher sequence number follows anywhere later, the damaged batch was
 *    committed - the next write only starts after its fdatasync returned -
 *    so this is corruption of acknowledged data: journal_open() refuses,
 *    naming the offset, and leaves the file as it is.  Keeping the prefix
 *    would not only drop the acknowledged bindings after the damage, it
 *    could resurrect bindings whose UNBIND sits in the lost part; skipping
 *    the damaged batch could do the same.  The operator decides (move the
 *    file aside, or cut it at the offset to keep the prefix knowingly).
 *  - otherwise the damage is the tail an interrupted commit left: it is cut
 *    off (ftruncate + fdatasync) and reported in journal_stats().  Damage to
 *    the last committed batch itself is indistinguishable from that and is
 *    handled the same way; the offset and size are reported so it is logged.
 * A batch whose CRCs hold but whose content is wrong (sequence number,
 * record encoding) is not something a crash produces: always refused.
 *
 * Commit failure: the file is cut back to the last committed length and
 * synced, so the failed batch can never be replayed; if that fails too the
 * journal refuses further commits (the daemon must stop acknowledging).
 *
 * Tenant names are stored inline rather than interned: the 2-byte id would
 * save ~8 bytes of a ~52-byte record (~15%) but needs a name table per file
 * that compaction, truncation and commit rollback must keep in step; the
 * commit cost is the fdatasync, not the bytes (see test_journal's figures).
 */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "wire.h"

#define JOURNAL_NAME	"journal"
#define JOURNAL_TMP	"journal.tmp"
#define JOURNAL_LOCK	"journal.lock"

#define FILE_MAGIC	"MIPHAJNL"
#define FILE_VERSION	1
#define FILE_HDR_LEN	24
#define BATCH_HDR_LEN	24
#define REC_FIXED	44
#define JFL_UDP		0x01

#define BUF_INITIAL	(64 * 1024)	/* ~1200 records of a receive batch */
#define COMPACT_BATCH	(256 * 1024)	/* bytes per batch in a compacted file */
#define COMPACT_MIN	(4 * 1024 * 1024)	/* never compact a smaller file */
#define COMPACT_RATIO	4

struct journal {
	int		 dirfd;
	int		 lockfd;
	int		 fd;
	char		*dir;		/* for messages */
	uint64_t	 file_id;
	uint32_t	 id_crc;	/* CRC of the file id, seeds header CRCs */
	uint64_t	 seq;		/* sequence number of the last batch */
	uint64_t	 end;		/* committed length of the file */
	uint64_t	 replay_end;	/* length found intact at open */
	bool		 touched;	/* appended or compacted since open */

	uint8_t		*buf;		/* batch header room + pending records */
	size_t		 cap;
	size_t		 len;
	uint32_t	 nrec;
	int		 failed;	/* errno of a bad append: batch is lost */
	int		 broken;	/* errno: commits refused from now on */

	uint64_t	 rec_bytes;	/* record bytes in the file, for the
					   compaction estimate */
	/*
	 * Background compaction: a child writes the live records into
	 * journal.tmp while this process keeps committing to the journal;
	 * what it commits meanwhile is kept in `delta` (batch header room,
	 * then the encoded records) and appended to the new file at the end.
	 */
	pid_t		 bg_pid;	/* 0: none running */
	int		 bg_fd;		/* journal.tmp */
	int		 bg_pipe;	/* read end: the child's result */
	uint64_t	 bg_id;
	uint8_t		*delta;
	size_t		 delta_len;	/* BATCH_HDR_LEN + record bytes */
	size_t		 delta_cap;
	uint32_t	 delta_nrec;
	struct journal_stats st;
	char		 errbuf[256];
};

/* What the scanner found. */
struct scan {
	const uint8_t	*p;
	size_t		 len;
	uint32_t	 id_crc;
	uint64_t	 seq;		/* of the last intact batch */
	size_t		 end;		/* end of the last intact batch */
	uint64_t	 nrec;
	uint64_t	 rec_bytes;
	int		 cbret;
};

enum batch_check {
	B_OK,
	B_TORN,		/* what an interrupted write can leave */
	B_BAD,		/* CRCs hold, content does not: never a crash */
};

static void	seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	jerr(struct journal *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* CRC-32C, slicing by 8. */

static uint32_t	crc_tab[8][256];
static bool	crc_ready;

static void
crc_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_tab[k][i] = (crc_tab[k - 1][i] >> 8) ^
			    crc_tab[0][crc_tab[k - 1][i] & 0xff];
	crc_ready = true;
}

uint32_t
journal_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t lo, hi;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (len >= 8) {
		lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
		    (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
jerr(struct journal *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->errbuf, sizeof(j->errbuf), fmt, ap);
	va_end(ap);
}

static uint32_t
id_crc(uint64_t id)
{
	uint8_t b[8];
	struct wr w;

	wr_init(&w, b, sizeof(b));
	wr_u64(&w, id);
	return journal_crc32c(0, b, sizeof(b));
}

/* Records. */

static size_t
rec_size(const struct journal_rec *r, size_t *tlen)
{
	*tlen = strnlen(r->tenant, sizeof(r->tenant));
	return REC_FIXED + *tlen + r->nai_len;
}

/* Encodes into exactly n bytes at p; the caller sized them with rec_size(). */
static void
rec_encode(uint8_t *p, size_t n, size_t tlen, const struct journal_rec *r)
{
	struct wr w;

	wr_init(&w, p, n);
	wr_u16(&w, (uint16_t)n);
	wr_u8(&w, (uint8_t)r->op);
	wr_u8(&w, r->udp_tunnel ? JFL_UDP : 0);
	wr_u8(&w, r->flags);
	wr_u8(&w, r->encap);
	wr_u16(&w, r->lifetime);
	wr_bytes(&w, &r->hoa, 4);
	wr_bytes(&w, &r->coa, 4);
	wr_bytes(&w, &r->src, 4);
	wr_u16(&w, r->src_port);
	wr_u32(&w, r->gre_key);
	wr_u64(&w, (uint64_t)r->expires);
	wr_u64(&w, r->ident);
	wr_u8(&w, (uint8_t)tlen);
	wr_bytes(&w, r->tenant, tlen);
	wr_u8(&w, r->nai_len);
	wr_bytes(&w, r->nai, r->nai_len);
}

/* Decodes the record at p (avail bytes left in the payload); false if bad. */
static bool
rec_decode(const uint8_t *p, size_t avail, size_t *used,
    struct journal_rec *out)
{
	struct rd r;
	uint16_t len;
	uint64_t exp;
	uint8_t op, jfl, tlen;

	if (avail < REC_FIXED)
		return false;
	len = get_be16(p);
	if (len < REC_FIXED || len > avail)
		return false;
	memset(out, 0, sizeof(*out));
	rd_init(&r, p + 2, len - 2u);
	if (!rd_u8(&r, &op) || !rd_u8(&r, &jfl) || !rd_u8(&r, &out->flags) ||
	    !rd_u8(&r, &out->encap) || !rd_u16(&r, &out->lifetime) ||
	    !rd_bytes(&r, &out->hoa, 4) || !rd_bytes(&r, &out->coa, 4) ||
	    !rd_bytes(&r, &out->src, 4) || !rd_u16(&r, &out->src_port) ||
	    !rd_u32(&r, &out->gre_key) || !rd_u64(&r, &exp) ||
	    !rd_u64(&r, &out->ident) || !rd_u8(&r, &tlen) ||
	    tlen > JOURNAL_TENANT_MAX || !rd_bytes(&r, out->tenant, tlen) ||
	    !rd_u8(&r, &out->nai_len) ||
	    !rd_bytes(&r, out->nai, out->nai_len) || rd_left(&r) != 0)
		return false;
	if (op < JREC_BIND || op > JREC_UNBIND_ALL || (jfl & ~JFL_UDP) != 0 ||
	    memchr(out->tenant, '\0', tlen) != NULL)
		return false;
	out->op = (enum journal_op)op;
	out->udp_tunnel = (jfl & JFL_UDP) != 0;
	out->expires = (int64_t)exp;
	*used = len;
	return true;
}

/* The scanner: shared by open, replay and journal_read_file(). */

static bool
file_header_ok(const uint8_t *p, size_t len, uint64_t *id, char *err,
    size_t errlen, const char *path)
{
	uint16_t version;

	if (len < FILE_HDR_LEN || memcmp(p, FILE_MAGIC, 8) != 0) {
		seterr(err, errlen, "%s: not a mipha journal (%s); move it "
		    "aside to start without bindings", path,
		    len < FILE_HDR_LEN ? "too short" : "bad magic");
		return false;
	}
	if (get_be32(p + 20) != journal_crc32c(0, p, 20)) {
		seterr(err, errlen, "%s: file header damaged (CRC mismatch)",
		    path);
		return false;
	}
	version = get_be16(p + 8);
	if (version != FILE_VERSION) {
		seterr(err, errlen, "%s: journal version %u, this mipha reads "
		    "version %u", path, version, FILE_VERSION);
		return false;
	}
	*id = (uint64_t)get_be32(p + 12) << 32 | get_be32(p + 16);
	return true;
}

/*
 * Checks the batch at off: B_OK with its payload length, count and sequence
 * number, or why not.  why says what failed, for the message.
 */
static enum batch_check
batch_check(const struct scan *s, size_t off, uint32_t *plen, uint32_t *cnt,
    uint64_t *seq, const char **why)
{
	const uint8_t *h = s->p + off;
	struct journal_rec rec;
	size_t pos, used;
	uint32_t n;

	if (s->len - off < BATCH_HDR_LEN) {
		*why = "incomplete batch header";
		return B_TORN;
	}
	if (get_be32(h + 20) != journal_crc32c(s->id_crc, h, 20)) {
		*why = "batch header CRC mismatch";
		return B_TORN;
	}
	*plen = get_be32(h);
	*cnt = get_be32(h + 4);
	*seq = (uint64_t)get_be32(h + 8) << 32 | get_be32(h + 12);
	if (*plen > s->len - off - BATCH_HDR_LEN) {
		*why = "batch extends past the end of the file";
		return B_TORN;
	}
	if (get_be32(h + 16) !=
	    journal_crc32c(0, h + BATCH_HDR_LEN, *plen)) {
		*why = "batch payload CRC mismatch";
		return B_TORN;
	}
	if (*seq != s->seq + 1) {
		*why = "batch out of sequence";
		return B_BAD;
	}
	if (*plen == 0 || *cnt == 0) {
		*why = "empty batch";
		return B_BAD;
	}
	for (pos = 0, n = 0; pos < *plen; pos += used, n++)
		if (!rec_decode(h + BATCH_HDR_LEN + pos, *plen - pos, &used,
		    &rec)) {
			*why = "undecodable record";
			return B_BAD;
		}
	if (n != *cnt) {
		*why = "record count mismatch";
		return B_BAD;
	}
	return B_OK;
}

/* Is there an intact batch of this file anywhere at or after off? */
static bool
intact_batch_after(const struct scan *s, size_t off, size_t *at)
{
	const uint8_t *h;
	uint32_t plen, cnt;
	uint64_t seq;

	for (; off + BATCH_HDR_LEN <= s->len; off++) {
		h = s->p + off;
		plen = get_be32(h);
		cnt = get_be32(h + 4);
		seq = (uint64_t)get_be32(h + 8) << 32 | get_be32(h + 12);
		/* Cheap filters first: this runs once per byte of damage. */
		if (plen == 0 || cnt == 0 || cnt > plen / REC_FIXED ||
		    plen > s->len - off - BATCH_HDR_LEN || seq <= s->seq)
			continue;
		if (get_be32(h + 20) != journal_crc32c(s->id_crc, h, 20) ||
		    get_be32(h + 16) !=
		    journal_crc32c(0, h + BATCH_HDR_LEN, plen))
			continue;
		*at = off;
		return true;
	}
	return false;
}

/*
 * Walks the batches after the file header, feeding records to cb (may be
 * NULL).  0: s->end is where intact data ends (a torn tail may follow);
 * 1: cb stopped the walk (s->cbret); -1: damage that is not a torn tail.
 */
static int
scan(struct scan *s, int (*cb)(void *, const struct journal_rec *),
    void *arg, const char *path, char *err, size_t errlen)
{
	struct journal_rec rec;
	const char *why = "";
	enum batch_check bc = B_OK;
	size_t off, pos, used, at;
	uint32_t plen = 0, cnt = 0;
	uint64_t seq = 0;

	off = FILE_HDR_LEN;
	while (off < s->len) {
		bc = batch_check(s, off, &plen, &cnt, &seq, &why);
		if (bc != B_OK)
			break;
		for (pos = 0; cb != NULL && pos < plen; pos += used) {
			/* Checked by batch_check(). */
			(void)rec_decode(s->p + off + BATCH_HDR_LEN + pos,
			    plen - pos, &used, &rec);
			if ((s->cbret = cb(arg, &rec)) != 0)
				return 1;
		}
		off += BATCH_HDR_LEN + (size_t)plen;
		s->seq = seq;
		s->nrec += cnt;
		s->rec_bytes += plen;
	}
	s->end = off;
	if (off == s->len)
		return 0;
	if (bc == B_BAD) {
		seterr(err, errlen, "%s: corrupt batch at offset %zu (%s); "
		    "refusing to guess which bindings are valid: move the file "
		    "aside, or cut it at %zu to keep the bindings before it",
		    path, off, why, off);
		return -1;
	}
	if (intact_batch_after(s, off + 1, &at)) {
		seterr(err, errlen, "%s: damaged batch at offset %zu (%s) "
		    "followed by committed data at offset %zu; refusing to "
		    "drop acknowledged bindings: move the file aside, or cut "
		    "it at %zu to keep the bindings before it",
		    path, off, why, at, off);
		return -1;
	}
	return 0;
}

/* Maps [0, len) of fd read-only; NULL with errno on failure. */
static const uint8_t *
map_file(int fd, size_t len)
{
	void *p;

	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* File plumbing. */

static int
xfsync(int fd, bool data_only)
{
	int r;

	do
		r = data_only ? fdatasync(fd) : fsync(fd);
	while (r == -1 && errno == EINTR);
	return r;
}

static int
xftruncate(int fd, uint64_t len)
{
	int r;

	do
		r = ftruncate(fd, (off_t)len);
	while (r == -1 && errno == EINTR);
	return r;
}

/* pwrite()s all of buf at off, through short writes and EINTR. */
static int
write_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, buf, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Fills the batch header in front of the pending records and writes both. */
static int
write_batch(struct journal *j, int fd, uint64_t off, uint32_t idcrc,
    uint64_t seq)
{
	uint8_t *h = j->buf;
	size_t plen = j->len - BATCH_HDR_LEN;

	put_be32(h, (uint32_t)plen);
	put_be32(h + 4, j->nrec);
	put_be32(h + 8, (uint32_t)(seq >> 32));
	put_be32(h + 12, (uint32_t)seq);
	put_be32(h + 16, journal_crc32c(0, h + BATCH_HDR_LEN, plen));
	put_be32(h + 20, journal_crc32c(idcrc, h, 20));
	return write_all(fd, j->buf, j->len, off);
}

static void
discard(struct journal *j)
{
	j->len = BATCH_HDR_LEN;
	j->nrec = 0;
	j->failed = 0;
}

/*
 * Creates journal.tmp holding just a file header with a new file id.
 * Returns its fd, or -1 with errno and j->errbuf set.
 */
static int
tmp_create(struct journal *j, uint64_t *id)
{
	uint8_t h[FILE_HDR_LEN];
	struct wr w;
	ssize_t n;
	int fd, e;

	do
		n = getrandom(id, sizeof(*id), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(*id)) {
		e = n == -1 ? errno : EIO;
		jerr(j, "getrandom: %s", strerror(e));
		errno = e;
		return -1;
	}
	wr_init(&w, h, sizeof(h));
	wr_bytes(&w, FILE_MAGIC, 8);
	wr_u16(&w, FILE_VERSION);
	wr_u16(&w, 0);
	wr_u64(&w, *id);
	wr_u32(&w, journal_crc32c(0, h, 20));

	fd = openat(j->dirfd, JOURNAL_TMP,
	    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		e = errno;
		jerr(j, "create %s/%s: %s", j->dir, JOURNAL_TMP, strerror(e));
		errno = e;
		return -1;
	}
	if (write_all(fd, h, sizeof(h), 0) == -1) {
		e = errno;
		jerr(j, "write %s/%s: %s", j->dir, JOURNAL_TMP, strerror(e));
		(void)close(fd);
		(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Makes journal.tmp durable and renames it over the journal.  Before the
 * rename, failure leaves the old journal as it was (tmp removed); after it,
 * failure to sync the directory is reported as -1 with *renamed set.
 */
static int
tmp_install(struct journal *j, int fd, bool *renamed)
{
	int e;

	*renamed = false;
	if (xfsync(fd, false) == -1) {
		e = errno;
		jerr(j, "fsync %s/%s: %s", j->dir, JOURNAL_TMP, strerror(e));
		goto fail;
	}
	if (renameat(j->dirfd, JOURNAL_TMP, j->dirfd, JOURNAL_NAME) == -1) {
		e = errno;
		jerr(j, "rename %s/%s: %s", j->dir, JOURNAL_TMP, strerror(e));
		goto fail;
	}
	*renamed = true;
	if (xfsync(j->dirfd, false) == -1) {
		e = errno;
		jerr(j, "fsync %s: %s", j->dir, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
fail:
	(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
	errno = e;
	return -1;
}

/* Reads and checks the existing journal, cutting a torn tail. */
static int
load(struct journal *j, char *err, size_t errlen, const char *path)
{
	struct stat sb;
	struct scan s;
	const uint8_t *p;
	uint64_t id;
	int r;

	if (fstat(j->fd, &sb) == -1) {
		seterr(err, errlen, "fstat %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if ((uint64_t)sb.st_size < FILE_HDR_LEN) {
		(void)file_header_ok((const uint8_t *)"", 0, &id, err, errlen,
		    path);
		return -1;
	}
	if ((p = map_file(j->fd, (size_t)sb.st_size)) == NULL) {
		seterr(err, errlen, "mmap %s: %s", path, strerror(errno));
		return -1;
	}
	memset(&s, 0, sizeof(s));
	s.p = p;
	s.len = (size_t)sb.st_size;
	if (!file_header_ok(p, s.len, &id, err, errlen, path)) {
		(void)munmap((void *)p, s.len);
		return -1;
	}
	s.id_crc = id_crc(id);
	r = scan(&s, NULL, NULL, path, err, errlen);
	(void)munmap((void *)p, s.len);
	if (r == -1)
		return -1;

	j->file_id = id;
	j->id_crc = s.id_crc;
	j->seq = s.seq;
	j->end = s.end;
	j->replay_end = s.end;
	j->rec_bytes = s.rec_bytes;
	j->st.file_records = s.nrec;
	if (s.end < s.len) {
		/* An interrupted commit: none of it was acknowledged. */
		if (xftruncate(j->fd, s.end) == -1) {
			seterr(err, errlen, "%s: cutting torn tail at offset "
			    "%zu: %s", path, s.end, strerror(errno));
			return -1;
		}
		j->st.tail_offset = s.end;
		j->st.tail_bytes = s.len - s.end;
	}
	/*
	 * The last batch may be intact yet unsynced (killed between write()
	 * and fdatasync()): make what the daemon is about to restore durable.
	 */
	if (xfsync(j->fd, true) == -1) {
		seterr(err, errlen, "fdatasync %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct journal *
journal_open(const char *dir, char *err, size_t errlen)
{
	struct journal *j;
	char path[4096];
	uint64_t id;
	bool renamed;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->dir = strdup(dir)) == NULL) {
		seterr(err, errlen, "journal: %s", strerror(errno));
		free(j);
		return NULL;
	}
	j->dirfd = j->lockfd = j->fd = -1;
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_NAME);

	if ((j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		seterr(err, errlen, "state_dir %s: %s", dir, strerror(errno));
		goto fail;
	}
	j->lockfd = openat(j->dirfd, JOURNAL_LOCK,
	    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->lockfd == -1) {
		seterr(err, errlen, "%s/%s: %s", dir, JOURNAL_LOCK,
		    strerror(errno));
		goto fail;
	}
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			seterr(err, errlen, "state_dir %s is in use by another "
			    "mipha (lock on %s/%s held)", dir, dir,
			    JOURNAL_LOCK);
		else
			seterr(err, errlen, "flock %s/%s: %s", dir,
			    JOURNAL_LOCK, strerror(errno));
		goto fail;
	}
	/* A leftover of an interrupted creation or compaction. */
	if (unlinkat(j->dirfd, JOURNAL_TMP, 0) == -1 && errno != ENOENT) {
		seterr(err, errlen, "remove %s/%s: %s", dir, JOURNAL_TMP,
		    strerror(errno));
		goto fail;
	}

	j->fd = openat(j->dirfd, JOURNAL_NAME, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (j->fd == -1 && errno == ENOENT) {
		/* New journal: header written and synced before it has a name. */
		if ((j->fd = tmp_create(j, &id)) == -1 ||
		    tmp_install(j, j->fd, &renamed) == -1) {
			seterr(err, errlen, "%s", j->errbuf);
			goto fail;
		}
		j->file_id = id;
		j->id_crc = id_crc(id);
		j->end = j->replay_end = FILE_HDR_LEN;
	} else if (j->fd == -1) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	} else if (load(j, err, errlen, path) == -1)
		goto fail;

	if ((j->buf = malloc(BUF_INITIAL)) == NULL) {
		seterr(err, errlen, "journal: %s", strerror(errno));
		goto fail;
	}
	j->cap = BUF_INITIAL;
	discard(j);
	j->st.file_bytes = j->end;
	return j;
fail:
	if (j->fd != -1)
		(void)close(j->fd);
	if (j->lockfd != -1)
		(void)close(j->lockfd);
	if (j->dirfd != -1)
		(void)close(j->dirfd);
	free(j->dir);
	free(j);
	return NULL;
}

int
journal_replay(struct journal *j,
    int (*cb)(void *arg, const struct journal_rec *), void *arg)
{
	struct scan s;
	char path[4096];
	int r;

	if (j->touched) {
		errno = EINVAL;
		jerr(j, "journal_replay after the journal was written to");
		return -1;
	}
	if (j->replay_end <= FILE_HDR_LEN)
		return 0;
	memset(&s, 0, sizeof(s));
	s.len = (size_t)j->replay_end;
	s.id_crc = j->id_crc;
	if ((s.p = map_file(j->fd, s.len)) == NULL) {
		r = errno;
		jerr(j, "mmap %s/%s: %s", j->dir, JOURNAL_NAME, strerror(r));
		errno = r;
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", j->dir, JOURNAL_NAME);
	r = scan(&s, cb, arg, path, j->errbuf, sizeof(j->errbuf));
	(void)munmap((void *)s.p, s.len);
	if (r == 1)
		return s.cbret;
	if (r == -1 || s.end != s.len) {
		/* Checked at open; only a change behind our back gets here. */
		errno = EIO;
		return -1;
	}
	return 0;
}

/* Makes room for n more bytes: doubling, so amortised O(1) per record. */
static bool
reserve(struct journal *j, size_t n)
{
	uint8_t *nb;
	size_t ncap;

	if (j->cap - j->len >= n)
		return true;
	ncap = j->cap;
	while (ncap - j->len < n) {
		if (ncap > SIZE_MAX / 2)
			return false;
		ncap *= 2;
	}
	if ((nb = realloc(j->buf, ncap)) == NULL)
		return false;
	j->buf = nb;
	j->cap = ncap;
	return true;
}

/* Adds r to the pending batch; sets j->failed when it cannot. */
static void
buffer_rec(struct journal *j, const struct journal_rec *r)
{
	size_t n, tlen;

	n = rec_size(r, &tlen);
	if (tlen > JOURNAL_TENANT_MAX || r->op < JREC_BIND ||
	    r->op > JREC_UNBIND_ALL) {
		j->failed = EINVAL;
		jerr(j, "journal: invalid record (op %d, tenant length %zu)",
		    (int)r->op, tlen);
		return;
	}
	if (j->nrec == UINT32_MAX || j->len - BATCH_HDR_LEN + n > UINT32_MAX) {
		j->failed = EFBIG;
		jerr(j, "journal: batch too large");
		return;
	}
	if (!reserve(j, n)) {
		j->failed = ENOMEM;
		jerr(j, "journal: out of memory for %u pending records",
		    j->nrec);
		return;
	}
	rec_encode(j->buf + j->len, n, tlen, r);
	j->len += n;
	j->nrec++;
}

void
journal_append(struct journal *j, const struct journal_rec *r)
{
	j->touched = true;
	if (j->broken != 0 || j->failed != 0)
		return;
	buffer_rec(j, r);
}

/*
 * After a failed commit: cut the file back to what was committed and make
 * that durable, so the failed batch can never be replayed.
 */
static void
rollback(struct journal *j, const char *what, int e)
{
	if (xftruncate(j->fd, j->end) == -1 || xfsync(j->fd, true) == -1) {
		j->broken = errno;
		jerr(j, "%s %s/%s: %s; rolling back failed too (%s): journal "
		    "unusable", what, j->dir, JOURNAL_NAME, strerror(e),
		    strerror(errno));
		return;
	}
	jerr(j, "%s %s/%s: %s", what, j->dir, JOURNAL_NAME, strerror(e));
}

static void bg_cleanup(struct journal *);

/*
 * A background compaction is running: keep what was just committed for the
 * new file too. Without memory for it the compaction is given up (the
 * journal itself is fine).
 */
static void
delta_add(struct journal *j)
{
	size_t n = j->len - BATCH_HDR_LEN, ncap = j->delta_cap;
	uint8_t *nd;

	while (ncap - j->delta_len < n && ncap <= SIZE_MAX / 2)
		ncap *= 2;
	if (ncap != j->delta_cap) {
		if (ncap - j->delta_len < n ||
		    (nd = realloc(j->delta, ncap)) == NULL) {
			jerr(j, "journal: out of memory during compaction; "
			    "compaction given up");
			bg_cleanup(j);
			return;
		}
		j->delta = nd;
		j->delta_cap = ncap;
	}
	memcpy(j->delta + j->delta_len, j->buf + BATCH_HDR_LEN, n);
	j->delta_len += n;
	j->delta_nrec += j->nrec;
}

int
journal_commit(struct journal *j)
{
	int e;

	if (j->broken != 0) {
		discard(j);
		errno = j->broken;
		return -1;
	}
	if (j->failed != 0) {
		e = j->failed;
		discard(j);
		j->st.failed_commits++;
		errno = e;
		return -1;
	}
	if (j->nrec == 0)
		return 0;
	j->touched = true;
	if (write_batch(j, j->fd, j->end, j->id_crc, j->seq + 1) == -1) {
		e = errno;
		rollback(j, "write", e);
		goto fail;
	}
	if (xfsync(j->fd, true) == -1) {
		e = errno;
		rollback(j, "fdatasync", e);
		goto fail;
	}
	j->seq++;
	j->end += j->len;
	j->rec_bytes += j->len - BATCH_HDR_LEN;
	j->st.file_records += j->nrec;
	j->st.file_bytes = j->end;
	j->st.commits++;
	if (j->bg_pid != 0)
		delta_add(j);
	discard(j);
	return 0;
fail:
	discard(j);
	j->st.failed_commits++;
	errno = e;
	return -1;
}

size_t
journal_pending(const struct journal *j)
{
	return j->nrec;
}

/* Where writing a compacted file got to. */
struct compact_out {
	uint64_t	 seq;		/* last batch written */
	uint64_t	 off;		/* end of the file */
	uint64_t	 nrec;
	uint64_t	 bytes;		/* record bytes */
	int		 err;		/* errno; 0: complete and synced */
};

/*
 * Writes every record each() yields into fd (journal.tmp, file id crc
 * idcrc), in batches, through j's pending buffer (empty on entry and on
 * return), and syncs it. The result, errors included, goes to *o.
 */
static void
compact_write(struct journal *j, int fd, uint32_t idcrc,
    int (*each)(void *arg, struct journal_rec *out), void *arg,
    struct compact_out *o)
{
	struct journal_rec rec;
	int r;

	memset(o, 0, sizeof(*o));
	o->off = FILE_HDR_LEN;
	for (;;) {
		memset(&rec, 0, sizeof(rec));
		if ((r = each(arg, &rec)) < 0) {
			o->err = ECANCELED;
			jerr(j, "compaction of %s/%s aborted by its caller",
			    j->dir, JOURNAL_NAME);
			break;
		}
		if (r > 0)
			buffer_rec(j, &rec);
		if (j->failed != 0) {
			o->err = j->failed;
			break;
		}
		if (j->nrec > 0 && (r == 0 || j->len >= COMPACT_BATCH)) {
			if (write_batch(j, fd, o->off, idcrc, ++o->seq) == -1) {
				o->err = errno;
				jerr(j, "write %s/%s: %s", j->dir, JOURNAL_TMP,
				    strerror(o->err));
				break;
			}
			o->off += j->len;
			o->nrec += j->nrec;
			o->bytes += j->len - BATCH_HDR_LEN;
			discard(j);
		}
		if (r == 0)
			break;
	}
	discard(j);
	if (o->err == 0 && xfsync(fd, false) == -1) {
		o->err = errno;
		jerr(j, "fsync %s/%s: %s", j->dir, JOURNAL_TMP, strerror(o->err));
	}
}

/*
 * journal.tmp (fd, file id `id`) holds the compacted journal up to *o:
 * rename it over the journal and append from then on. 0, or -1 with errno
 * (before the rename the old file stays the journal; after it, commits are
 * refused: the rename may not survive a crash).
 */
static int
compact_switch(struct journal *j, int fd, uint64_t id,
    const struct compact_out *o)
{
	bool renamed;
	int r, e;

	r = tmp_install(j, fd, &renamed);
	if (!renamed) {
		e = errno;
		(void)close(fd);
		errno = e;
		return -1;
	}
	e = errno;
	(void)close(j->fd);
	j->fd = fd;
	j->file_id = id;
	j->id_crc = id_crc(id);
	j->seq = o->seq;
	j->end = o->off;
	j->rec_bytes = o->bytes;
	j->st.file_records = o->nrec;
	j->st.file_bytes = o->off;
	j->st.compactions++;
	if (r == -1) {
		j->broken = e;
		errno = e;
		return -1;
	}
	return 0;
}

int
journal_compact(struct journal *j,
    int (*each)(void *arg, struct journal_rec *out), void *arg)
{
	struct compact_out o;
	uint64_t id;
	int fd;

	if (j->bg_pid != 0) {
		jerr(j, "compaction of %s/%s already running", j->dir,
		    JOURNAL_NAME);
		errno = EBUSY;
		return -1;
	}
	if (journal_commit(j) == -1)
		return -1;
	j->touched = true;
	if ((fd = tmp_create(j, &id)) == -1)
		return -1;
	compact_write(j, fd, id_crc(id), each, arg, &o);
	if (o.err != 0) {
		(void)close(fd);
		(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
		errno = o.err;
		return -1;
	}
	return compact_switch(j, fd, id, &o);
}

/* Forget a background compaction: child ended, tmp file and delta gone. */
static void
bg_cleanup(struct journal *j)
{
	int status;

	if (j->bg_pid == 0)
		return;
	(void)kill(j->bg_pid, SIGKILL);
	while (waitpid(j->bg_pid, &status, 0) == -1 && errno == EINTR)
		;
	j->bg_pid = 0;
	(void)close(j->bg_pipe);
	(void)close(j->bg_fd);
	(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
	free(j->delta);
	j->delta = NULL;
	j->delta_len = j->delta_cap = 0;
	j->delta_nrec = 0;
}

int
journal_compact_begin(struct journal *j,
    int (*each)(void *arg, struct journal_rec *out), void *arg)
{
	struct compact_out o;
	int p[2], e;
	uint64_t id;
	pid_t pid;

	if (j->bg_pid != 0) {
		errno = EBUSY;
		return -1;
	}
	if (journal_commit(j) == -1)
		return -1;
	j->touched = true;
	if ((j->delta = malloc(BUF_INITIAL)) == NULL) {
		jerr(j, "journal: out of memory for compaction");
		errno = ENOMEM;
		return -1;
	}
	j->delta_cap = BUF_INITIAL;
	j->delta_len = BATCH_HDR_LEN;
	j->delta_nrec = 0;
	if ((j->bg_fd = tmp_create(j, &id)) == -1)
		goto fail;
	if (pipe2(p, O_CLOEXEC) == -1) {
		e = errno;
		jerr(j, "pipe: %s", strerror(e));
		(void)close(j->bg_fd);
		(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
		errno = e;
		goto fail;
	}
	if ((pid = fork()) == -1) {
		e = errno;
		jerr(j, "fork: %s", strerror(e));
		(void)close(p[0]);
		(void)close(p[1]);
		(void)close(j->bg_fd);
		(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
		errno = e;
		goto fail;
	}
	if (pid == 0) {
		/*
		 * The child: a copy-on-write snapshot of the parent's memory
		 * at the fork, so each() sees the bindings as of then. It
		 * writes and syncs journal.tmp, reports how far it got, and
		 * leaves without running anything of the parent's.
		 */
		(void)close(p[0]);
		/*
		 * Background work: where it shares a CPU with the daemon
		 * (a pinned daemon's child inherits the pin), registration
		 * goes first.
		 */
		(void)setpriority(PRIO_PROCESS, 0, 10);
		compact_write(j, j->bg_fd, id_crc(id), each, arg, &o);
		/* One write of a few dozen octets to a pipe is atomic. */
		if (write(p[1], &o, sizeof(o)) != (ssize_t)sizeof(o))
			_exit(1);
		_exit(o.err == 0 ? 0 : 1);
	}
	(void)close(p[1]);
	j->bg_pid = pid;
	j->bg_pipe = p[0];
	j->bg_id = id;
	return 0;
fail:
	e = errno;
	free(j->delta);
	j->delta = NULL;
	j->delta_len = j->delta_cap = 0;
	errno = e;
	return -1;
}

int
journal_compact_fd(const struct journal *j)
{
	return j->bg_pid != 0 ? j->bg_pipe : -1;
}

int
journal_compact_finish(struct journal *j)
{
	struct compact_out o;
	uint32_t idcrc;
	ssize_t n;
	int status, e, fd;
	uint64_t id;

	if (j->bg_pid == 0) {
		errno = ECHILD;
		return -1;
	}
	do
		n = read(j->bg_pipe, &o, sizeof(o));
	while (n == -1 && errno == EINTR);
	while (waitpid(j->bg_pid, &status, 0) == -1 && errno == EINTR)
		;
	j->bg_pid = 0;
	(void)close(j->bg_pipe);
	if (n != (ssize_t)sizeof(o) || o.err != 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		e = n == (ssize_t)sizeof(o) && o.err != 0 ? o.err : EIO;
		jerr(j, "compaction of %s/%s: the writer failed: %s", j->dir,
		    JOURNAL_NAME, strerror(e));
		goto fail;
	}
	/* What was committed since the fork follows the snapshot. */
	if (journal_commit(j) == -1 && j->broken != 0) {
		e = errno;
		goto fail;
	}
	if (j->delta == NULL) {
		/* given up in delta_add() */
		e = ENOMEM;
		goto fail;
	}
	idcrc = id_crc(j->bg_id);
	if (j->delta_nrec > 0) {
		size_t plen = j->delta_len - BATCH_HDR_LEN;
		uint8_t *h = j->delta;

		if (plen > UINT32_MAX) {
			e = EFBIG;
			jerr(j, "compaction: too much committed meanwhile");
			goto fail;
		}
		put_be32(h, (uint32_t)plen);
		put_be32(h + 4, j->delta_nrec);
		put_be32(h + 8, (uint32_t)((o.seq + 1) >> 32));
		put_be32(h + 12, (uint32_t)(o.seq + 1));
		put_be32(h + 16, journal_crc32c(0, h + BATCH_HDR_LEN, plen));
		put_be32(h + 20, journal_crc32c(idcrc, h, 20));
		if (write_all(j->bg_fd, j->delta, j->delta_len, o.off) == -1) {
			e = errno;
			jerr(j, "write %s/%s: %s", j->dir, JOURNAL_TMP,
			    strerror(e));
			goto fail;
		}
		o.seq++;
		o.off += j->delta_len;
		o.nrec += j->delta_nrec;
		o.bytes += plen;
	}
	free(j->delta);
	j->delta = NULL;
	j->delta_len = j->delta_cap = 0;
	j->delta_nrec = 0;
	fd = j->bg_fd;
	id = j->bg_id;
	return compact_switch(j, fd, id, &o);
fail:
	free(j->delta);
	j->delta = NULL;
	j->delta_len = j->delta_cap = 0;
	j->delta_nrec = 0;
	(void)close(j->bg_fd);
	(void)unlinkat(j->dirfd, JOURNAL_TMP, 0);
	errno = e;
	return -1;
}

bool
journal_compacting(const struct journal *j)
{
	return j->bg_pid != 0;
}

bool
journal_wants_compaction(const struct journal *j, size_t live_bindings)
{
	uint64_t avg, live;

	if (j->end < COMPACT_MIN || j->bg_pid != 0)
		return false;
	avg = j->st.file_records > 0 ? j->rec_bytes / j->st.file_records :
	    REC_FIXED + 8;
	live = FILE_HDR_LEN + (uint64_t)live_bindings * avg;
	return j->end / COMPACT_RATIO > live;
}

void
journal_stats(const struct journal *j, struct journal_stats *st)
{
	*st = j->st;
}

const char *
journal_error(const struct journal *j)
{
	return j->errbuf;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->nrec > 0)
		(void)journal_commit(j);
	/* An unfinished compaction is dropped: the journal is complete. */
	bg_cleanup(j);
	/* Closing cannot lose what fdatasync() already made durable. */
	(void)close(j->fd);
	(void)close(j->lockfd);
	(void)close(j->dirfd);
	free(j->buf);
	free(j->dir);
	free(j);
}

/* Up to len bytes of fd (fewer if it shrank); NULL with errno. */
static uint8_t *
read_all(int fd, size_t len, size_t *got)
{
	uint8_t *b;
	size_t off = 0;
	ssize_t n;

	if ((b = malloc(len > 0 ? len : 1)) == NULL)
		return NULL;
	while (off < len) {
		n = pread(fd, b + off, len - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			free(b);
			return NULL;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*got = off;
	return b;
}

int
journal_read_file(const char *path,
    int (*cb)(void *arg, const struct journal_rec *), void *arg,
    struct journal_stats *st, char *err, size_t errlen)
{
	struct stat sb;
	struct scan s;
	uint8_t *buf;
	uint64_t id;
	int fd, r;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		seterr(err, errlen, "fstat %s: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		seterr(err, errlen, "%s: not a regular file", path);
		(void)close(fd);
		return -1;
	}
	/*
	 * Read, not mapped: a daemon may cut the file meanwhile, and a
	 * mapping would take SIGBUS for it.
	 */
	memset(&s, 0, sizeof(s));
	buf = read_all(fd, (size_t)sb.st_size, &s.len);
	r = errno;
	(void)close(fd);
	if (buf == NULL) {
		seterr(err, errlen, "read %s: %s", path, strerror(r));
		return -1;
	}
	s.p = buf;
	if (!file_header_ok(s.p, s.len, &id, err, errlen, path))
		r = -1;
	else {
		s.id_crc = id_crc(id);
		r = scan(&s, cb, arg, path, err, errlen);
	}
	free(buf);
	if (st != NULL) {
		st->file_bytes = s.len;
		st->file_records = s.nrec;
		if (r == 0 && s.end < s.len) {
			st->tail_offset = s.end;
			st->tail_bytes = s.len - s.end;
		}
	}
	if (r == 1)
		return s.cbret;
	return r;
}
