/*
 * persist.h - keeps the binding table durable through the journal.
 *
 * Subscribes to the binding table and turns every change that must survive
 * a crash into a journal record (creations, renewals and removals; expiry
 * needs none, since records carry their wall-clock expiry). The
 * registration service calls persist_commit() once per batch, before its
 * replies leave (group commit). At start-up persist_restore() rebuilds the
 * table from the journal, skipping what has expired or is no longer
 * configured, and restores each node's replay state.
 */
#ifndef MIPHA_PERSIST_H
#define MIPHA_PERSIST_H

#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct binding_table;
struct journal;
struct tenant_set;

struct persist {
	struct ev_loop		*loop;
	ev_io			 compact_w;	/* a background compaction's end */
	struct journal		*journal;
	struct binding_table	*bindings;
	struct tenant_set	*tenants;
	bool			 restoring;	/* replaying: do not re-journal */
	size_t			 restored;
	size_t			 skipped_expired;
	size_t			 skipped_unknown;
};

int	persist_init(struct persist *, struct ev_loop *, struct journal *,
	    struct binding_table *);
void	persist_set_tenants(struct persist *, struct tenant_set *);
/* Rebuild the table from the journal at time `now` (wall clock, s). */
int	persist_restore(struct persist *, int64_t now, char *err, size_t errlen);
/*
 * Group commit; when the journal has grown enough, starts its compaction
 * in the background (a child process writes the live bindings; the event
 * loop finishes it). 0 or -1.
 */
int	persist_commit(void *persist);

#endif /* MIPHA_PERSIST_H */
