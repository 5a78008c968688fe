/*
 * binding.h - the mobility binding table (RFC 5944 §3.8.1, §3.8.2.2).
 *
 * Bindings are keyed by (tenant, home address); a node may hold several
 * care-of addresses at once (simultaneous bindings, the S flag), kept as a
 * short list behind the key. Lookup is O(1) (open addressing, presized for
 * the configured population); every binding owns its lifetime timer, a
 * libev ev_timer on the monotonic clock, so expiry never scans the table.
 *
 * Every change goes through binding_set()/binding_remove*() and is announced
 * to the subscribers (journal, data plane, proxy ARP, a future BPF map) from
 * one place, binding_notify().
 */
#ifndef MIPHA_BINDING_H
#define MIPHA_BINDING_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct mobile_node;

/* How datagrams reach the care-of address (RFC 5944 §4.1, RFC 3519). */
enum binding_encap {
	BIND_ENCAP_IPIP,		/* RFC 2003, the default */
	BIND_ENCAP_GRE,		/* RFC 2784 (G flag) */
	BIND_ENCAP_MINIMAL,		/* RFC 2004 (M flag) */
	BIND_ENCAP_UDP,		/* RFC 3519 UDP tunnelling */
	BIND_ENCAP_MAX
};

const char *binding_encap_name(enum binding_encap);

/* Per-binding flags. */
#define BF_REVERSE	0x01	/* T: reverse tunnel requested and granted (RFC 3024) */
#define BF_VIA_FA	0x02	/* relayed by a foreign agent */
#define BF_COLOCATED	0x04	/* D: co-located care-of address */
#define BF_SIMULTANEOUS	0x08	/* S */
#define BF_BROADCAST	0x10	/* B */

/* A binding's life (bgpd-style: one function changes it). */
enum binding_state {
	BINDING_ACTIVE,		/* registered, timer running */
	BINDING_EXPIRED,	/* lifetime ran out */
	BINDING_DEREGISTERED,	/* removed by the node (lifetime 0) */
	BINDING_CLEARED,	/* removed by the operator or a reload */
};

/* Why subscribers are called. */
enum binding_event {
	BEV_ADDED,		/* a new care-of address for a node */
	BEV_RENEWED,		/* same care-of address, new lifetime/parameters */
	BEV_REMOVED,		/* gone; binding->state says why */
	BEV_SOFT_STATE,		/* the data plane's soft state (path MTU) changed */
};

struct binding {
	ev_timer		 timer;		/* lifetime (monotonic) */
	struct binding		*next;		/* next care-of address of this node */
	struct mobile_node	*mn;		/* the node's SA and replay state */
	uint64_t		 id;		/* Identification of the last request */
	int64_t			 expires;	/* wall clock (s), for journal/display */
	uint32_t		 tenant_id;
	struct in_addr		 hoa;
	struct in_addr		 coa;
	struct in_addr		 src;		/* where the request came from */
	uint32_t		 gre_key;
	uint16_t		 sport;
	uint16_t		 lifetime;	/* granted, seconds */
	uint16_t		 path_mtu;	/* RFC 2003 §5.1 soft state; 0: link MTU */
	uint8_t			 encap;		/* enum binding_encap */
	uint8_t			 flags;		/* BF_* */
	uint8_t			 state;		/* enum binding_state */
	uint8_t			 fp_sig;	/* fastpath.c: what its map holds */
};

/* What a registration asks for one care-of address. */
struct binding_params {
	struct mobile_node	*mn;
	uint64_t		 id;
	int64_t			 expires;	/* wall clock (s) */
	struct in_addr		 coa;
	struct in_addr		 src;
	uint32_t		 gre_key;
	uint16_t		 sport;
	uint16_t		 lifetime;	/* granted seconds; 0xffff is not allowed here */
	uint32_t		 timeout;	/* timer seconds when not lifetime (restore) */
	uint8_t			 encap;
	uint8_t			 flags;
};

typedef void (*binding_notify_fn)(void *arg, enum binding_event,
    const struct binding *);

struct binding_table;

struct binding_table *binding_table_new(struct ev_loop *, size_t expected_nodes);
void	binding_table_free(struct binding_table *);
/* Make room for this many nodes without rehashing later. */
int	binding_table_reserve(struct binding_table *, size_t nodes);
int	binding_subscribe(struct binding_table *, binding_notify_fn, void *arg);

/* The first binding of a node, or NULL; walk the rest with ->next. */
struct binding *binding_lookup(const struct binding_table *, uint32_t tenant_id,
    struct in_addr hoa);
struct binding *binding_lookup_coa(const struct binding_table *,
    uint32_t tenant_id, struct in_addr hoa, struct in_addr coa);
unsigned binding_count_node(const struct binding_table *, uint32_t tenant_id,
    struct in_addr hoa);

/*
 * Create or renew the binding for p->coa. Without `keep_others` every other
 * care-of address of the node is removed first (RFC 5944 §3.8.2.2, S clear).
 * Returns the binding, or NULL when memory ran out (nothing changed then).
 */
struct binding *binding_set(struct binding_table *, uint32_t tenant_id,
    struct in_addr hoa, const struct binding_params *p, bool keep_others);
/* Remove one care-of address / every binding of a node; returns how many. */
unsigned binding_remove_coa(struct binding_table *, uint32_t tenant_id,
    struct in_addr hoa, struct in_addr coa, enum binding_state why);
unsigned binding_remove_node(struct binding_table *, uint32_t tenant_id,
    struct in_addr hoa, enum binding_state why);
/* Remove every binding for which `match` says yes (reload, tenant removal). */
unsigned binding_remove_if(struct binding_table *,
    bool (*match)(void *arg, const struct binding *), void *arg,
    enum binding_state why);

/*
 * After a reload: give every binding its node in the new configuration
 * (map returns it), or remove the binding when map returns NULL.
 */
unsigned binding_rebind(struct binding_table *,
    struct mobile_node *(*map)(void *arg, const struct binding *), void *arg);

/* The data plane changed b's soft state (path_mtu): tell the subscribers. */
void	binding_soft_changed(struct binding_table *, struct binding *);

/* Seconds left on a binding's timer, rounded down. */
unsigned binding_remaining(const struct binding_table *, const struct binding *);
size_t	binding_count(const struct binding_table *);	/* care-of entries */
size_t	binding_nodes(const struct binding_table *);	/* distinct nodes */
/* Visit every binding; stops early when fn returns nonzero (returned). */
int	binding_foreach(const struct binding_table *,
    int (*fn)(void *arg, const struct binding *), void *arg);

/* A cursor over every binding (for compaction): init, then next until NULL. */
struct binding_iter {
	size_t			 slot;
	const struct binding	*next;
};

void	binding_iter_init(const struct binding_table *, struct binding_iter *);
const struct binding *binding_iter_next(const struct binding_table *,
    struct binding_iter *);

#endif /* MIPHA_BINDING_H */
