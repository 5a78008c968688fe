/*
 * persist.c - binding table <-> journal.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "binding.h"
#include "journal.h"
#include "log.h"
#include "persist.h"
#include "tenant.h"

/* The binding flags that survive a restart; the journal uses the same bits. */
#define PERSIST_FLAGS	(BF_REVERSE | BF_VIA_FA | BF_COLOCATED | BF_SIMULTANEOUS)
_Static_assert(BF_REVERSE == JREC_F_REVERSE && BF_VIA_FA == JREC_F_VIA_FA &&
    BF_COLOCATED == JREC_F_COLOCATED && BF_SIMULTANEOUS == JREC_F_SIMULTANEOUS,
    "journal flag bits must equal the binding flag bits");

/*
 * Every field is set explicitly: this runs for each accepted registration,
 * and zeroing the whole record (its NAI buffer) would be wasted work.
 */
static void
rec_from_binding(struct journal_rec *r, enum journal_op op,
    const struct tenant *t, const struct binding *b)
{
	r->op = op;
	snprintf(r->tenant, sizeof(r->tenant), "%s", t->name);
	r->hoa = b->hoa;
	r->coa = b->coa;
	r->src = b->src;
	r->src_port = b->sport;
	r->lifetime = b->lifetime;
	r->expires = b->expires;
	r->ident = b->id;
	r->flags = b->flags & PERSIST_FLAGS;
	r->encap = b->encap;
	r->udp_tunnel = b->encap == BIND_ENCAP_UDP;
	r->gre_key = b->gre_key;
	r->nai_len = 0;
	if (b->mn != NULL && b->mn->dynamic && b->mn->nai != NULL &&
	    b->mn->nai_len <= JOURNAL_NAI_MAX) {
		r->nai_len = (uint8_t)b->mn->nai_len;
		memcpy(r->nai, b->mn->nai, b->mn->nai_len);
	}
}

/* The one subscriber that makes changes durable. */
static void
persist_notify(void *arg, enum binding_event ev, const struct binding *b)
{
	struct persist *p = arg;
	struct journal_rec r;

	if (p->restoring || b->mn == NULL)
		return;
	switch (ev) {
	case BEV_ADDED:
	case BEV_RENEWED:
		rec_from_binding(&r, JREC_BIND, b->mn->tenant, b);
		break;
	case BEV_REMOVED:
		/* Expiry is implied by the record's own expiry time. */
		if (b->state == BINDING_EXPIRED)
			return;
		rec_from_binding(&r, JREC_UNBIND, b->mn->tenant, b);
		break;
	default:
		return;
	}
	journal_append(p->journal, &r);
}

int
persist_init(struct persist *p, struct ev_loop *loop, struct journal *j,
    struct binding_table *bt)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->journal = j;
	p->bindings = bt;
	return binding_subscribe(bt, persist_notify, p);
}

void
persist_set_tenants(struct persist *p, struct tenant_set *ts)
{
	p->tenants = ts;
}

struct compact_ctx {
	struct persist		*p;
	struct binding_iter	 it;
};

static int
compact_each(void *arg, struct journal_rec *out)
{
	struct compact_ctx *c = arg;
	const struct binding *b;

	while ((b = binding_iter_next(c->p->bindings, &c->it)) != NULL) {
		if (b->mn == NULL)
			continue;
		rec_from_binding(out, JREC_BIND, b->mn->tenant, b);
		return 1;
	}
	return 0;
}

/* Rewrite the journal as one record per live binding. */
static int
persist_compact(struct persist *p)
{
	struct compact_ctx c;

	c.p = p;
	binding_iter_init(p->bindings, &c.it);
	return journal_compact(p->journal, compact_each, &c);
}

/* The child wrote the snapshot: append what came since, switch files. */
static void
compact_done_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct persist *p = w->data;
	struct journal_stats st;

	(void)revents;
	ev_io_stop(loop, w);
	if (journal_compact_finish(p->journal) == -1) {
		/* The old journal stays valid and in use; try again later. */
		log_warn("journal compaction failed: %s",
		    journal_error(p->journal));
		return;
	}
	journal_stats(p->journal, &st);
	log_info("journal compacted in the background: %" PRIu64 " records, "
	    "%" PRIu64 " bytes", st.file_records, st.file_bytes);
}

int
persist_commit(void *arg)
{
	struct persist *p = arg;
	struct compact_ctx c;

	if (journal_commit(p->journal) == -1)
		return -1;
	if (!journal_wants_compaction(p->journal, binding_count(p->bindings)))
		return 0;
	/*
	 * At a million bindings a rewrite takes most of a second: a child
	 * does it from a copy-on-write snapshot while the loop goes on.
	 * Without a loop (or a fork) it is done here, as at start-up.
	 */
	c.p = p;
	binding_iter_init(p->bindings, &c.it);
	if (p->loop != NULL &&
	    journal_compact_begin(p->journal, compact_each, &c) == 0) {
		ev_io_init(&p->compact_w, compact_done_cb,
		    journal_compact_fd(p->journal), EV_READ);
		p->compact_w.data = p;
		ev_io_start(p->loop, &p->compact_w);
		return 0;
	}
	if (persist_compact(p) == -1)
		log_warn("journal compaction failed: %s",
		    journal_error(p->journal));
	return 0;
}

struct restore_ctx {
	struct persist	*p;
	int64_t		 now;
};

static struct mobile_node *
restore_node(struct persist *p, const struct journal_rec *r,
    struct tenant **tp)
{
	struct tenant *t = tenant_by_name(p->tenants, r->tenant);
	struct mobile_node *mn = NULL;

	*tp = t;
	if (t == NULL)
		return NULL;
	if (r->nai_len > 0)
		mn = tenant_mn_by_nai(p->tenants, r->nai, r->nai_len);
	else
		mn = tenant_mn_by_hoa(p->tenants, r->hoa);
	if (mn == NULL || mn->tenant != t)
		return NULL;
	return mn;
}

static int
restore_one(void *arg, const struct journal_rec *r)
{
	struct restore_ctx *c = arg;
	struct persist *p = c->p;
	struct binding_params bp;
	struct mobile_node *mn;
	struct tenant *t;

	if ((mn = restore_node(p, r, &t)) == NULL) {
		if (r->op == JREC_BIND)
			p->skipped_unknown++;
		return 0;
	}
	/*
	 * The replay state survives: every accepted Identification was in a
	 * record, so a captured request cannot be replayed after a restart.
	 */
	if ((!mn->replay.have_id || mip_id_newer(r->ident, mn->replay.last_id)) &&
	    mn->replay.mode == MIP_REPLAY_TIMESTAMP && r->ident != 0)
		mip_replay_accept(&mn->replay, mn->replay.mode, r->ident);

	switch (r->op) {
	case JREC_BIND:
		break;
	case JREC_UNBIND:
		binding_remove_coa(p->bindings, t->id, r->hoa, r->coa,
		    BINDING_CLEARED);
		return 0;
	case JREC_UNBIND_ALL:
		binding_remove_node(p->bindings, t->id, r->hoa, BINDING_CLEARED);
		return 0;
	default:
		return 0;
	}
	if (r->expires <= c->now) {
		/* Expired meanwhile; drop any older state of the same CoA too. */
		binding_remove_coa(p->bindings, t->id, r->hoa, r->coa,
		    BINDING_EXPIRED);
		p->skipped_expired++;
		return 0;
	}
	if (mn->dynamic) {
		if (mn->hoa.s_addr == 0 &&
		    tenant_pool_claim(t, mn, r->hoa) == -1) {
			p->skipped_unknown++;
			return 0;
		}
		if (mn->hoa.s_addr != r->hoa.s_addr) {
			p->skipped_unknown++;
			return 0;
		}
	}
	memset(&bp, 0, sizeof(bp));
	bp.mn = mn;
	bp.id = r->ident;
	bp.expires = r->expires;
	bp.coa = r->coa;
	bp.src = r->src;
	bp.sport = r->src_port;
	bp.lifetime = r->lifetime;
	bp.timeout = (uint32_t)(r->expires - c->now);
	bp.encap = r->encap < BIND_ENCAP_MAX ? r->encap : BIND_ENCAP_IPIP;
	bp.gre_key = r->gre_key;
	bp.flags = r->flags & PERSIST_FLAGS;
	/*
	 * Removals of other care-of addresses were journaled as their own
	 * records, so a restored binding never replaces its siblings here.
	 */
	if (binding_set(p->bindings, t->id, r->hoa, &bp, true) == NULL)
		return -1;
	return 0;
}

static int
count_restored(void *arg, const struct binding *b)
{
	(void)b;
	(*(size_t *)arg)++;
	return 0;
}

int
persist_restore(struct persist *p, int64_t now, char *err, size_t errlen)
{
	struct restore_ctx c = { p, now };
	int rc;

	p->restoring = true;
	rc = journal_replay(p->journal, restore_one, &c);
	p->restoring = false;
	if (rc == -1) {
		snprintf(err, errlen, "journal: %s", journal_error(p->journal));
		return -1;
	}
	p->restored = 0;
	binding_foreach(p->bindings, count_restored, &p->restored);
	/* Start the new run from a compact journal of exactly what is live. */
	if (persist_compact(p) == -1) {
		snprintf(err, errlen, "journal compaction: %s",
		    journal_error(p->journal));
		return -1;
	}
	return 0;
}
