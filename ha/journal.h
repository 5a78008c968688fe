/*
 * journal.h - the durable binding journal (state_dir/journal).
 *
 * Every accepted registration is appended here and made durable before its
 * reply leaves; on start the daemon replays the journal to rebuild its
 * binding table.  Group commit: the daemon appends one record per accepted
 * request of a receive batch, calls journal_commit() once (one write() and
 * one fdatasync()), and only then sends the replies.
 *
 * A commit is all or nothing.  When journal_commit() succeeds every record
 * appended since the previous commit is on disk and will be replayed after a
 * crash.  When it fails none of them will be: the batch is discarded and the
 * caller must treat every operation of it as not done (refuse those
 * registrations, keep its table as it was).  A crash between append and a
 * successful commit may keep or drop the whole batch, never part of it;
 * since no reply of that batch has left, either outcome is a state the
 * clients can reach.
 *
 * Replay semantics, left to the caller: records come in the order they were
 * committed; a BIND for (tenant, HoA, CoA) creates or replaces that binding,
 * an UNBIND removes it, an UNBIND_ALL removes every binding of (tenant, HoA).
 * A BIND never removes the node's other care-of addresses: a registration
 * without simultaneous bindings is journalled as UNBIND_ALL then BIND.
 * Bindings whose expiry is not after the restart time are the caller's to
 * drop.
 *
 * Single-threaded; one journal per state_dir (an exclusive flock on
 * state_dir/journal.lock).  The journal reads no clock: times are the
 * caller's CLOCK_REALTIME seconds.  Errors are return values; nothing is
 * printed.
 */
#ifndef MIPHA_JOURNAL_H
#define MIPHA_JOURNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_TENANT_MAX	63	/* bytes of a tenant name */
#define JOURNAL_NAI_MAX		255	/* bytes of an NAI (RFC 2794 ext. length) */

enum journal_op {
	JREC_BIND = 1,		/* binding for one CoA created or renewed */
	JREC_UNBIND = 2,	/* binding for one CoA removed */
	JREC_UNBIND_ALL = 3,	/* every binding of (tenant, HoA) removed */
};

/* Binding flags as the journal stores them (the flags byte is opaque to it). */
#define JREC_F_REVERSE		0x01	/* reverse tunnelling, RFC 3024 */
#define JREC_F_VIA_FA		0x02	/* registered through a foreign agent */
#define JREC_F_COLOCATED	0x04	/* co-located care-of address (D bit) */
#define JREC_F_SIMULTANEOUS	0x08	/* simultaneous bindings (S bit) */

struct journal_rec {
	enum journal_op	 op;
	char		 tenant[JOURNAL_TENANT_MAX + 1];	/* NUL-terminated */
	struct in_addr	 hoa;		/* home address */
	struct in_addr	 coa;		/* care-of address (any for UNBIND_ALL) */
	struct in_addr	 src;		/* source address of the request */
	uint16_t	 src_port;	/* source UDP port, host order */
	uint16_t	 lifetime;	/* granted lifetime, seconds */
	int64_t		 expires;	/* CLOCK_REALTIME seconds since the epoch */
	uint64_t	 ident;		/* the request's Identification */
	uint8_t		 flags;		/* JREC_F_* */
	uint8_t		 encap;		/* encapsulation, the binding table's code */
	bool		 udp_tunnel;	/* RFC 3519 UDP tunnelling */
	uint32_t	 gre_key;	/* GRE key, 0 when none */
	uint8_t		 nai_len;	/* 0: no NAI */
	uint8_t		 nai[JOURNAL_NAI_MAX];
};

struct journal_stats {
	uint64_t	 file_bytes;	/* size of the journal file */
	uint64_t	 file_records;	/* records in it (replayed + committed) */
	uint64_t	 commits;	/* successful non-empty commits */
	uint64_t	 failed_commits;
	uint64_t	 compactions;
	uint64_t	 tail_offset;	/* open: where a torn tail was cut ... */
	uint64_t	 tail_bytes;	/* ... and how many bytes were dropped */
};

struct journal;

/*
 * Opens (creating if absent) the journal in the existing directory dir and
 * takes the state_dir lock.  A torn tail (an interrupted last commit) is cut
 * off and reported in journal_stats(); damage followed by intact committed
 * data is refused with its offset in err, the file left as it is.
 */
struct journal	*journal_open(const char *dir, char *err, size_t errlen);

/*
 * Feeds the records found at open to cb in commit order.  Call it once,
 * after journal_open() and before appending.  Returns 0, or cb's first
 * non-zero return value (replay stops there), or -1 with errno.
 */
int		 journal_replay(struct journal *,
		    int (*cb)(void *arg, const struct journal_rec *), void *arg);

/*
 * Buffers a record; nothing is written until journal_commit().  Never fails
 * by itself: a record that cannot be buffered (invalid, out of memory) makes
 * the next journal_commit() fail and discard the batch.
 */
void		 journal_append(struct journal *, const struct journal_rec *);

/*
 * Writes the pending records with one write() and makes them durable with
 * fdatasync().  0 on success (also when nothing is pending); -1 with errno
 * when the batch was discarded (see above).  After a failure it could not
 * roll back, the journal refuses every later commit (journal_error()).
 */
int		 journal_commit(struct journal *);

/* Records appended and not yet committed. */
size_t		 journal_pending(const struct journal *);

/*
 * Rewrites the journal as the records each() yields (one BIND per live
 * binding): each() fills *out and returns 1, returns 0 at the end, or -1 to
 * abort the compaction.  Pending records are committed first.  The new file
 * is written and synced beside the old one, then renamed over it and the
 * directory synced; on any failure before the rename the old file stays in
 * use, untouched.  each() must not call into the journal.  0 or -1 with
 * errno.
 */
int		 journal_compact(struct journal *,
		    int (*each)(void *arg, struct journal_rec *out), void *arg);

/*
 * The same in the background, for a running daemon: pending records are
 * committed, then a child process (fork: a copy-on-write snapshot) writes
 * and syncs journal.tmp from each() while this process goes on committing
 * to the journal; what it commits meanwhile is kept in memory. When
 * journal_compact_fd() becomes readable the child is done: call
 * journal_compact_finish(), which appends what was committed since the
 * fork and renames the file over the journal (as journal_compact(): before
 * the rename a failure leaves the old journal in use). each() runs in the
 * child only. 0 or -1 with errno; journal_close() drops an unfinished one.
 */
int		 journal_compact_begin(struct journal *,
		    int (*each)(void *arg, struct journal_rec *out), void *arg);
int		 journal_compact_fd(const struct journal *);
int		 journal_compact_finish(struct journal *);
bool		 journal_compacting(const struct journal *);

/* True when the file has grown well past what live_bindings need. */
bool		 journal_wants_compaction(const struct journal *,
		    size_t live_bindings);

void		 journal_stats(const struct journal *, struct journal_stats *);

/* Text of the last failure ("fdatasync /var/lib/mipha/journal: ..."). */
const char	*journal_error(const struct journal *);

/* Commits what is pending (best effort), releases the lock, frees. */
void		 journal_close(struct journal *);

/*
 * Reads a journal file without locking or repairing it (debugging tools):
 * feeds its intact records to cb, reports a torn tail in *st (may be NULL).
 * 0, cb's non-zero return, or -1 with a message in err.
 */
int		 journal_read_file(const char *path,
		    int (*cb)(void *arg, const struct journal_rec *), void *arg,
		    struct journal_stats *st, char *err, size_t errlen);

/* CRC-32C (Castagnoli) as used by the file format; crc 0 to start. */
uint32_t	 journal_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* MIPHA_JOURNAL_H */
