/*
 * tenant.c - tenants and mobile nodes at run time.
 *
 * Builds the runtime tenants from a validated configuration, owns the
 * mobility security associations (one keyed authenticator per SPI, set up
 * once so the registration path allocates nothing), the per-node replay
 * state (RFC 5944 §5.7), the foreign-agent SAs (§3.5.4) and the RFC 2794
 * home-address pools, and the O(1) indexes by home address and NAI.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "conf.h"
#include "tenant.h"

static uint32_t tenant_next_id = 1;

static size_t
index_slots(size_t n)
{
	size_t s = 16;

	while (s < n * 2)
		s <<= 1;
	return s;
}

static size_t
hash_addr(struct in_addr a)
{
	return (size_t)(((uint64_t)a.s_addr * 0x9e3779b97f4a7c15ULL) >> 32);
}

static size_t
hash_nai(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

struct mobile_node *
tenant_mn_by_hoa(const struct tenant_set *ts, struct in_addr a)
{
	size_t mask = ts->by_hoa_slots - 1, i = hash_addr(a) & mask;

	for (; ts->by_hoa[i].mn != NULL; i = (i + 1) & mask)
		if (ts->by_hoa[i].hoa.s_addr == a.s_addr)
			return ts->by_hoa[i].mn;
	return NULL;
}

struct mobile_node *
tenant_mn_by_nai(const struct tenant_set *ts, const uint8_t *nai, size_t len)
{
	size_t mask = ts->by_nai_slots - 1, i = hash_nai(nai, len) & mask;

	for (; ts->by_nai[i] != NULL; i = (i + 1) & mask) {
		struct mobile_node *mn = ts->by_nai[i];

		if (mn->nai_len == len && memcmp(mn->nai, nai, len) == 0)
			return mn;
	}
	return NULL;
}

static void
index_hoa(struct tenant_set *ts, struct mobile_node *mn)
{
	size_t mask = ts->by_hoa_slots - 1, i = hash_addr(mn->hoa) & mask;

	while (ts->by_hoa[i].mn != NULL)
		i = (i + 1) & mask;
	ts->by_hoa[i].hoa = mn->hoa;
	ts->by_hoa[i].mn = mn;
}

static void
index_nai(struct tenant_set *ts, struct mobile_node *mn)
{
	size_t mask = ts->by_nai_slots - 1;
	size_t i = hash_nai((const uint8_t *)mn->nai, mn->nai_len) & mask;

	while (ts->by_nai[i] != NULL)
		i = (i + 1) & mask;
	ts->by_nai[i] = mn;
}

struct tenant *
tenant_by_name(const struct tenant_set *ts, const char *name)
{
	for (size_t i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i]->name, name) == 0)
			return ts->t[i];
	return NULL;
}

struct tenant *
tenant_by_id(const struct tenant_set *ts, uint32_t id)
{
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i]->id == id)
			return ts->t[i];
	return NULL;
}

struct tenant *
tenant_by_home_addr(const struct tenant_set *ts, struct in_addr a)
{
	for (size_t i = 0; i < ts->n; i++)
		if (addr_in_prefix(a, &ts->t[i]->home_network))
			return ts->t[i];
	return NULL;
}

struct foreign_agent *
tenant_fa(const struct tenant *t, struct in_addr addr)
{
	/* A handful per tenant: a scan is cheaper than an index. */
	for (size_t i = 0; i < t->nfas; i++)
		if (t->fas[i].addr.s_addr == addr.s_addr)
			return &t->fas[i];
	return NULL;
}

bool
tenant_is_internal(const struct tenant *t, struct in_addr src)
{
	for (size_t i = 0; i < t->ninternal; i++)
		if (addr_in_prefix(src, &t->internal[i]))
			return true;
	return false;
}

/* Pool slot of an address, or -1 when it is not an assignable one. */
static int64_t
pool_slot(const struct tenant *t, struct in_addr a)
{
	uint32_t first = ntohl(addr_prefix_first(&t->pool).s_addr);
	uint32_t h = ntohl(a.s_addr);

	if (!t->has_pool || !addr_in_prefix(a, &t->pool))
		return -1;
	/* Never hand out the home network's own network or broadcast address. */
	if (a.s_addr == addr_prefix_first(&t->home_network).s_addr ||
	    a.s_addr == addr_prefix_last(&t->home_network).s_addr)
		return -1;
	return (int64_t)(h - first);
}

static bool
pool_test(const struct tenant *t, uint32_t slot)
{
	return (t->pool_used[slot / 64] >> (slot % 64)) & 1;
}

static void
pool_mark(struct tenant *t, uint32_t slot, bool used)
{
	if (used)
		t->pool_used[slot / 64] |= (uint64_t)1 << (slot % 64);
	else
		t->pool_used[slot / 64] &= ~((uint64_t)1 << (slot % 64));
}

int
tenant_pool_claim(struct tenant *t, struct mobile_node *mn, struct in_addr a)
{
	int64_t slot = pool_slot(t, a);

	if (slot < 0 || pool_test(t, (uint32_t)slot))
		return -1;
	pool_mark(t, (uint32_t)slot, true);
	mn->hoa = a;
	return 0;
}

int
tenant_pool_assign(struct tenant *t, struct mobile_node *mn)
{
	uint32_t first;

	if (!t->has_pool || t->pool_size == 0)
		return -1;
	first = ntohl(addr_prefix_first(&t->pool).s_addr);
	/* Round robin from the last assignment: addresses rest before reuse. */
	for (uint32_t n = 0; n < t->pool_size; n++) {
		uint32_t slot = (t->pool_next + n) % t->pool_size;
		struct in_addr a = { htonl(first + slot) };

		if (pool_slot(t, a) < 0 || pool_test(t, slot))
			continue;
		pool_mark(t, slot, true);
		t->pool_next = (slot + 1) % t->pool_size;
		mn->hoa = a;
		return 0;
	}
	errno = ENOSPC;
	return -1;
}

void
tenant_pool_release(struct tenant *t, struct mobile_node *mn)
{
	int64_t slot;

	if (!mn->dynamic || mn->hoa.s_addr == 0)
		return;
	if ((slot = pool_slot(t, mn->hoa)) >= 0)
		pool_mark(t, (uint32_t)slot, false);
	mn->hoa.s_addr = 0;
}

static void
tenant_free(struct tenant *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nmns; i++) {
		mip_auth_free(t->mns[i].sa);
		free(t->mns[i].nai);
	}
	for (size_t i = 0; i < t->nfas; i++)
		mip_auth_free(t->fas[i].sa);
	free(t->mns);
	free(t->fas);
	free(t->internal);
	free(t->pool_used);
	free(t);
}

void
tenant_set_free(struct tenant_set *ts)
{
	if (ts == NULL)
		return;
	for (size_t i = 0; i < ts->n; i++)
		tenant_free(ts->t[i]);
	free(ts->t);
	free(ts->by_hoa);
	free(ts->by_nai);
	free(ts);
}

static struct mip_auth *
sa_new(const struct conf_sa *sa)
{
	enum mip_auth_alg alg = mip_auth_alg_from_name(conf_alg_name(sa->algorithm));

	return mip_auth_new(alg, sa->key, sa->keylen);
}

/*
 * The node of the previous configuration that `mc` continues: same tenant
 * and same NAI, or same static home address. O(1) through prev's indexes.
 */
static struct mobile_node *
prev_node(const struct tenant_set *prevset, const struct tenant *prev,
    const struct mn_conf *mc)
{
	struct mobile_node *old;

	if (prev == NULL)
		return NULL;
	if (mc->nai != NULL)
		old = tenant_mn_by_nai(prevset, (const uint8_t *)mc->nai,
		    strlen(mc->nai));
	else
		old = tenant_mn_by_hoa(prevset, mc->home_address);
	if (old == NULL || old->tenant != prev)
		return NULL;
	if (!old->dynamic && old->hoa.s_addr != mc->home_address.s_addr)
		return NULL;
	return old;
}

static struct tenant *
tenant_build(const struct tenant_conf *tc, const struct tenant_set *prevset,
    const struct tenant *prev, char *err, size_t errlen)
{
	struct tenant *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto nomem;
	t->id = prev != NULL ? prev->id : tenant_next_id++;
	t->conf = tc;
	snprintf(t->name, sizeof(t->name), "%s", tc->name);
	t->table = tc->table;
	t->vpn_gateway = tc->vpn_gateway;
	t->home_network = tc->home_network;
	t->pool = tc->pool;
	t->has_pool = tc->has_pool;
	t->policy = tc->policy == CONF_POLICY_OPEN ? POLICY_OPEN : POLICY_VPN_ONLY;
	t->reverse_tunnel = tc->reverse_tunnel == CONF_RTUN_REQUIRED ? RT_REQUIRED :
	    tc->reverse_tunnel == CONF_RTUN_DENIED ? RT_DENIED : RT_ALLOWED;
	if (tc->encapsulations & CONF_ENCAP_IPIP)
		t->encaps |= 1u << BIND_ENCAP_IPIP;
	if (tc->encapsulations & CONF_ENCAP_GRE)
		t->encaps |= 1u << BIND_ENCAP_GRE;
	if (tc->encapsulations & CONF_ENCAP_MINIMAL)
		t->encaps |= 1u << BIND_ENCAP_MINIMAL;
	if (tc->encapsulations & CONF_ENCAP_UDP)
		t->encaps |= 1u << BIND_ENCAP_UDP;
	t->max_bindings = tc->max_bindings;
	snprintf(t->home_interface, sizeof(t->home_interface), "%s",
	    tc->home_interface);
	snprintf(t->tun_name, sizeof(t->tun_name), "%s", tc->tun_name);
	if (prev != NULL)
		t->counters = prev->counters;

	if (tc->n_internal_networks > 0) {
		t->internal = calloc(tc->n_internal_networks, sizeof(*t->internal));
		if (t->internal == NULL)
			goto nomem;
		memcpy(t->internal, tc->internal_networks,
		    tc->n_internal_networks * sizeof(*t->internal));
		t->ninternal = tc->n_internal_networks;
	}
	if (t->has_pool) {
		uint64_t size = (uint64_t)1 << (32 - t->pool.len);

		if (size > ((uint64_t)1 << 24))
			size = (uint64_t)1 << 24;	/* config bounds it; be safe */
		t->pool_size = (uint32_t)size;
		t->pool_used = calloc((size + 63) / 64, sizeof(uint64_t));
		if (t->pool_used == NULL)
			goto nomem;
		if (prev != NULL && prev->has_pool &&
		    prev->pool.addr.s_addr == t->pool.addr.s_addr)
			t->pool_next = prev->pool_next;
	}

	if (tc->n_mobile_nodes > 0 &&
	    (t->mns = calloc(tc->n_mobile_nodes, sizeof(*t->mns))) == NULL)
		goto nomem;
	for (size_t i = 0; i < tc->n_mobile_nodes; i++) {
		const struct mn_conf *mc = &tc->mobile_nodes[i];
		struct mobile_node *mn = &t->mns[i];
		const struct mobile_node *old = prev_node(prevset, prev, mc);

		t->nmns++;
		mn->tenant = t;
		mn->spi = mc->sa.spi;
		mn->dynamic = mc->home_address.s_addr == 0;
		mn->hoa = mc->home_address;
		if ((mn->sa = sa_new(&mc->sa)) == NULL) {
			snprintf(err, errlen, "%s: mobile node %zu: cannot set up "
			    "its security association: %s", tc->file, i,
			    strerror(errno));
			goto fail;
		}
		if (mc->nai != NULL) {
			if ((mn->nai = strdup(mc->nai)) == NULL)
				goto nomem;
			mn->nai_len = strlen(mc->nai);
		}
		mip_replay_init(&mn->replay, mc->replay == CONF_REPLAY_NONCE ?
		    MIP_REPLAY_NONCE : MIP_REPLAY_TIMESTAMP);
		if (old != NULL) {
			/*
			 * The same node under the same SPI: its Identification
			 * history stays, so a reload opens no replay window.
			 */
			if (old->spi == mn->spi &&
			    old->replay.mode == mn->replay.mode)
				mn->replay = old->replay;
			if (mn->dynamic && old->hoa.s_addr != 0)
				(void)tenant_pool_claim(t, mn, old->hoa);
		}
	}
	if (tc->n_foreign_agents > 0 &&
	    (t->fas = calloc(tc->n_foreign_agents, sizeof(*t->fas))) == NULL)
		goto nomem;
	for (size_t i = 0; i < tc->n_foreign_agents; i++) {
		const struct fa_conf *fc = &tc->foreign_agents[i];

		t->fas[i].addr = fc->address;
		t->fas[i].spi = fc->sa.spi;
		t->nfas++;
		if ((t->fas[i].sa = sa_new(&fc->sa)) == NULL) {
			snprintf(err, errlen, "%s: foreign agent %zu: cannot set up "
			    "its security association: %s", tc->file, i,
			    strerror(errno));
			goto fail;
		}
	}
	return t;
nomem:
	snprintf(err, errlen, "out of memory building tenant %s", tc->name);
fail:
	tenant_free(t);
	return NULL;
}

struct tenant_set *
tenant_set_build(const struct mipha_conf *conf, const struct tenant_set *prev,
    char *err, size_t errlen)
{
	struct tenant_set *ts;
	size_t nstatic = 0, nnai = 0;

	if ((ts = calloc(1, sizeof(*ts))) == NULL ||
	    (conf->ntenants > 0 &&
	    (ts->t = calloc(conf->ntenants, sizeof(*ts->t))) == NULL)) {
		free(ts);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < conf->ntenants; i++) {
		const struct tenant_conf *tc = conf->tenants[i];
		const struct tenant *old = prev != NULL ?
		    tenant_by_name(prev, tc->name) : NULL;

		if ((ts->t[i] = tenant_build(tc, prev, old, err, errlen)) == NULL) {
			tenant_set_free(ts);
			return NULL;
		}
		ts->n++;
		for (size_t j = 0; j < ts->t[i]->nmns; j++) {
			if (!ts->t[i]->mns[j].dynamic)
				nstatic++;
			if (ts->t[i]->mns[j].nai != NULL)
				nnai++;
		}
	}
	ts->by_hoa_slots = index_slots(nstatic);
	ts->by_nai_slots = index_slots(nnai);
	ts->by_hoa = calloc(ts->by_hoa_slots, sizeof(*ts->by_hoa));
	ts->by_nai = calloc(ts->by_nai_slots, sizeof(*ts->by_nai));
	if (ts->by_hoa == NULL || ts->by_nai == NULL) {
		tenant_set_free(ts);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < ts->n; i++) {
		for (size_t j = 0; j < ts->t[i]->nmns; j++) {
			struct mobile_node *mn = &ts->t[i]->mns[j];

			if (!mn->dynamic)
				index_hoa(ts, mn);
			if (mn->nai != NULL)
				index_nai(ts, mn);
		}
	}
	return ts;
}

void
tenant_binding_event(void *arg, enum binding_event event,
    const struct binding *b)
{
	struct binding_table *bt = arg;
	struct mobile_node *mn = b->mn;

	if (mn == NULL)
		return;
	switch (event) {
	case BEV_ADDED:
		mn->tenant->bindings++;
		break;
	case BEV_REMOVED:
		if (mn->tenant->bindings > 0)
			mn->tenant->bindings--;
		if (mn->dynamic && mn->hoa.s_addr == b->hoa.s_addr &&
		    binding_lookup(bt, b->tenant_id, b->hoa) == NULL)
			tenant_pool_release(mn->tenant, mn);
		break;
	default:
		break;
	}
}

struct mobile_node *
tenant_set_find_node(const struct tenant_set *ts, const struct mobile_node *old)
{
	struct tenant *t = tenant_by_name(ts, old->tenant->name);
	struct mobile_node *mn;

	if (t == NULL)
		return NULL;
	if (old->nai != NULL)
		mn = tenant_mn_by_nai(ts, (const uint8_t *)old->nai, old->nai_len);
	else
		mn = tenant_mn_by_hoa(ts, old->hoa);
	return mn != NULL && mn->tenant == t ? mn : NULL;
}
