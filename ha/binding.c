/*
 * binding.c - the mobility binding table.
 *
 * Owns: the hash of (tenant, home address) -> care-of bindings, each
 * binding's lifetime timer, and the change notifications. It knows nothing
 * of sockets or the journal; those subscribe.
 *
 * The hash is open addressing with linear probing over pointers to the first
 * binding of each node, deletion by backward shift (no tombstones), kept at
 * most half full. It is presized for the configured population so the
 * registration fast path never rehashes.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "binding.h"

#define BINDING_MAX_SUBSCRIBERS	8
#define BINDING_MIN_SLOTS	64

struct binding_subscriber {
	binding_notify_fn	 fn;
	void			*arg;
};

struct binding_table {
	struct ev_loop		*loop;
	struct binding		**slots;
	uint32_t		*tags;		/* slot_tag() of each slot's node */
	size_t			 nslots;	/* power of two */
	size_t			 nodes;
	size_t			 entries;
	struct binding_subscriber subs[BINDING_MAX_SUBSCRIBERS];
	int			 nsubs;
};

static const char *const encap_names[BIND_ENCAP_MAX] = {
	[BIND_ENCAP_IPIP] = "ipip",
	[BIND_ENCAP_GRE] = "gre",
	[BIND_ENCAP_MINIMAL] = "minimal",
	[BIND_ENCAP_UDP] = "udp",
};

const char *
binding_encap_name(enum binding_encap e)
{
	return (unsigned)e < BIND_ENCAP_MAX ? encap_names[e] : "?";
}

static inline size_t
slot_hash(uint32_t tenant_id, struct in_addr hoa)
{
	uint64_t k = (uint64_t)tenant_id << 32 | hoa.s_addr;

	/* Fibonacci hashing; the high bits are the well-mixed ones. */
	k *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(k >> 32);
}

/*
 * A cheap fingerprint of the key kept beside each slot, so that probing
 * past other nodes does not touch their bindings (one cache miss per
 * lookup instead of one per probe).
 */
static inline uint32_t
slot_tag(uint32_t tenant_id, struct in_addr hoa)
{
	return hoa.s_addr ^ (tenant_id * 0x9e3779b9u);
}

static inline bool
slot_match(const struct binding *b, uint32_t tenant_id, struct in_addr hoa)
{
	return b->tenant_id == tenant_id && b->hoa.s_addr == hoa.s_addr;
}

/* Index of the node's slot, or of the empty slot where it would go. */
static size_t
slot_find(const struct binding_table *t, uint32_t tenant_id, struct in_addr hoa)
{
	size_t mask = t->nslots - 1;
	size_t i = slot_hash(tenant_id, hoa) & mask;
	uint32_t tag = slot_tag(tenant_id, hoa);

	while (t->slots[i] != NULL && (t->tags[i] != tag ||
	    !slot_match(t->slots[i], tenant_id, hoa)))
		i = (i + 1) & mask;
	return i;
}

static int
table_resize(struct binding_table *t, size_t nslots)
{
	struct binding **old = t->slots, **slots;
	uint32_t *oldtags = t->tags, *tags;
	size_t oldn = t->nslots;

	slots = calloc(nslots, sizeof(*slots));
	tags = calloc(nslots, sizeof(*tags));
	if (slots == NULL || tags == NULL) {
		free(slots);
		free(tags);
		return -1;
	}
	t->slots = slots;
	t->tags = tags;
	t->nslots = nslots;
	for (size_t i = 0; i < oldn; i++) {
		if (old[i] != NULL) {
			size_t j = slot_find(t, old[i]->tenant_id, old[i]->hoa);

			slots[j] = old[i];
			tags[j] = oldtags[i];
		}
	}
	free(old);
	free(oldtags);
	return 0;
}

static size_t
slots_for(size_t nodes)
{
	size_t n = BINDING_MIN_SLOTS;

	while (n < nodes * 2 && n < ((size_t)1 << 40))
		n <<= 1;
	return n;
}

int
binding_table_reserve(struct binding_table *t, size_t nodes)
{
	size_t n = slots_for(nodes);

	if (n <= t->nslots)
		return 0;
	return table_resize(t, n);
}

struct binding_table *
binding_table_new(struct ev_loop *loop, size_t expected_nodes)
{
	struct binding_table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->loop = loop;
	if (table_resize(t, slots_for(expected_nodes)) == -1) {
		free(t);
		return NULL;
	}
	return t;
}

int
binding_subscribe(struct binding_table *t, binding_notify_fn fn, void *arg)
{
	if (t->nsubs == BINDING_MAX_SUBSCRIBERS) {
		errno = ENOSPC;
		return -1;
	}
	t->subs[t->nsubs].fn = fn;
	t->subs[t->nsubs].arg = arg;
	t->nsubs++;
	return 0;
}

/* The one place that tells the rest of the daemon about a change. */
static void
binding_notify(struct binding_table *t, enum binding_event ev,
    const struct binding *b)
{
	for (int i = 0; i < t->nsubs; i++)
		t->subs[i].fn(t->subs[i].arg, ev, b);
}

struct binding *
binding_lookup(const struct binding_table *t, uint32_t tenant_id,
    struct in_addr hoa)
{
	return t->slots[slot_find(t, tenant_id, hoa)];
}

struct binding *
binding_lookup_coa(const struct binding_table *t, uint32_t tenant_id,
    struct in_addr hoa, struct in_addr coa)
{
	struct binding *b;

	for (b = binding_lookup(t, tenant_id, hoa); b != NULL; b = b->next)
		if (b->coa.s_addr == coa.s_addr)
			return b;
	return NULL;
}

unsigned
binding_count_node(const struct binding_table *t, uint32_t tenant_id,
    struct in_addr hoa)
{
	unsigned n = 0;

	for (struct binding *b = binding_lookup(t, tenant_id, hoa); b != NULL;
	    b = b->next)
		n++;
	return n;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void
slot_delete(struct binding_table *t, size_t i)
{
	size_t mask = t->nslots - 1, j = i;

	t->slots[i] = NULL;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (t->slots[j] == NULL)
			break;
		home = slot_hash(t->slots[j]->tenant_id, t->slots[j]->hoa) & mask;
		/* Move j back to i if its home is not in (i, j]. */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			t->tags[i] = t->tags[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	t->nodes--;
}

static void
binding_destroy(struct binding_table *t, struct binding *b,
    enum binding_state why)
{
	ev_timer_stop(t->loop, &b->timer);
	b->state = (uint8_t)why;
	t->entries--;
	binding_notify(t, BEV_REMOVED, b);
	free(b);
}

/* Unlink `b` from its node's list (slot i holds the list head). */
static void
binding_unlink(struct binding_table *t, size_t i, struct binding *b)
{
	struct binding **pp = &t->slots[i];

	while (*pp != b)
		pp = &(*pp)->next;
	*pp = b->next;
	if (t->slots[i] == NULL)
		slot_delete(t, i);
}

static void
binding_expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct binding_table *t = w->data;
	struct binding *b = (struct binding *)((char *)w -
	    offsetof(struct binding, timer));

	(void)loop;
	(void)revents;
	binding_unlink(t, slot_find(t, b->tenant_id, b->hoa), b);
	binding_destroy(t, b, BINDING_EXPIRED);
}

static void
binding_apply(struct binding_table *t, struct binding *b,
    const struct binding_params *p)
{
	b->mn = p->mn;
	b->id = p->id;
	b->expires = p->expires;
	b->coa = p->coa;
	b->src = p->src;
	b->gre_key = p->gre_key;
	b->sport = p->sport;
	b->lifetime = p->lifetime;
	b->encap = p->encap;
	b->flags = p->flags;
	b->state = BINDING_ACTIVE;
	/* ev_timer_again re-arms in place: cheap for frequent renewals. */
	b->timer.repeat = p->timeout != 0 ? p->timeout : p->lifetime;
	ev_timer_again(t->loop, &b->timer);
}

struct binding *
binding_set(struct binding_table *t, uint32_t tenant_id, struct in_addr hoa,
    const struct binding_params *p, bool keep_others)
{
	size_t i;
	struct binding *b, *other, *next;

	if (t->nodes + 1 > t->nslots / 2 &&
	    table_resize(t, t->nslots * 2) == -1)
		return NULL;
	i = slot_find(t, tenant_id, hoa);

	if (!keep_others) {
		/* Single binding: drop every other care-of address first. */
		for (other = t->slots[i]; other != NULL; other = next) {
			next = other->next;
			if (other->coa.s_addr == p->coa.s_addr)
				continue;
			binding_unlink(t, i, other);
			binding_destroy(t, other, BINDING_CLEARED);
			i = slot_find(t, tenant_id, hoa);
		}
	}
	for (b = t->slots[i]; b != NULL; b = b->next)
		if (b->coa.s_addr == p->coa.s_addr)
			break;
	if (b != NULL) {
		binding_apply(t, b, p);
		binding_notify(t, BEV_RENEWED, b);
		return b;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->tenant_id = tenant_id;
	b->hoa = hoa;
	ev_init(&b->timer, binding_expire_cb);
	b->timer.data = t;
	if (t->slots[i] == NULL) {
		t->nodes++;
		t->tags[i] = slot_tag(tenant_id, hoa);
	}
	b->next = t->slots[i];
	t->slots[i] = b;
	t->entries++;
	binding_apply(t, b, p);
	binding_notify(t, BEV_ADDED, b);
	return b;
}

unsigned
binding_remove_coa(struct binding_table *t, uint32_t tenant_id,
    struct in_addr hoa, struct in_addr coa, enum binding_state why)
{
	size_t i = slot_find(t, tenant_id, hoa);
	struct binding *b;

	for (b = t->slots[i]; b != NULL; b = b->next)
		if (b->coa.s_addr == coa.s_addr)
			break;
	if (b == NULL)
		return 0;
	binding_unlink(t, i, b);
	binding_destroy(t, b, why);
	return 1;
}

unsigned
binding_remove_node(struct binding_table *t, uint32_t tenant_id,
    struct in_addr hoa, enum binding_state why)
{
	size_t i = slot_find(t, tenant_id, hoa);
	struct binding *b, *next;
	unsigned n = 0;

	if ((b = t->slots[i]) == NULL)
		return 0;
	slot_delete(t, i);
	for (; b != NULL; b = next) {
		next = b->next;
		binding_destroy(t, b, why);
		n++;
	}
	return n;
}

unsigned
binding_remove_if(struct binding_table *t,
    bool (*match)(void *arg, const struct binding *), void *arg,
    enum binding_state why)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < t->nslots) {
		struct binding *b, *next;
		uint32_t tenant_id;
		struct in_addr hoa;
		bool gone = false;

		if (t->slots[i] == NULL) {
			i++;
			continue;
		}
		tenant_id = t->slots[i]->tenant_id;
		hoa = t->slots[i]->hoa;
		for (b = t->slots[i]; b != NULL; b = next) {
			next = b->next;
			if (!match(arg, b))
				continue;
			binding_unlink(t, i, b);
			binding_destroy(t, b, why);
			n++;
			if (t->slots[i] == NULL ||
			    !slot_match(t->slots[i], tenant_id, hoa)) {
				gone = true;
				break;
			}
		}
		/*
		 * When the node's last binding went, backward shift may have
		 * moved a later node into slot i: look at slot i again. Shifts
		 * only move entries backwards within their cluster, so nothing
		 * not yet visited can land before i.
		 */
		if (!gone)
			i++;
	}
	return n;
}

struct rebind_ctx {
	struct mobile_node *(*map)(void *, const struct binding *);
	void		*arg;
};

static bool
rebind_match(void *arg, const struct binding *cb)
{
	struct rebind_ctx *c = arg;
	struct binding *b = (struct binding *)cb;	/* we own it */
	struct mobile_node *mn = c->map(c->arg, b);

	if (mn == NULL)
		return true;
	b->mn = mn;
	return false;
}

unsigned
binding_rebind(struct binding_table *t,
    struct mobile_node *(*map)(void *arg, const struct binding *), void *arg)
{
	struct rebind_ctx c = { map, arg };

	return binding_remove_if(t, rebind_match, &c, BINDING_CLEARED);
}

void
binding_soft_changed(struct binding_table *t, struct binding *b)
{
	binding_notify(t, BEV_SOFT_STATE, b);
}

unsigned
binding_remaining(const struct binding_table *t, const struct binding *b)
{
	ev_tstamp left = ev_timer_remaining(t->loop, (ev_timer *)&b->timer);

	return left > 0 ? (unsigned)left : 0;
}

size_t
binding_count(const struct binding_table *t)
{
	return t->entries;
}

size_t
binding_nodes(const struct binding_table *t)
{
	return t->nodes;
}

int
binding_foreach(const struct binding_table *t,
    int (*fn)(void *arg, const struct binding *), void *arg)
{
	for (size_t i = 0; i < t->nslots; i++) {
		for (const struct binding *b = t->slots[i]; b != NULL; b = b->next) {
			int rc = fn(arg, b);

			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

void
binding_iter_init(const struct binding_table *t, struct binding_iter *it)
{
	(void)t;
	it->slot = 0;
	it->next = NULL;
}

const struct binding *
binding_iter_next(const struct binding_table *t, struct binding_iter *it)
{
	const struct binding *b;

	while (it->next == NULL) {
		if (it->slot >= t->nslots)
			return NULL;
		it->next = t->slots[it->slot++];
	}
	b = it->next;
	it->next = b->next;
	return b;
}

void
binding_table_free(struct binding_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nslots; i++) {
		struct binding *b, *next;

		for (b = t->slots[i]; b != NULL; b = next) {
			next = b->next;
			ev_timer_stop(t->loop, &b->timer);
			free(b);
		}
	}
	free(t->slots);
	free(t->tags);
	free(t);
}
