/*
 * tenant.h - tenants and their mobile nodes at run time.
 *
 * Owns: the runtime form of each tenant (policy, limits, counters), its
 * mobile nodes' security associations (RFC 5944 §3.8.1: the HA's mobility
 * security associations) with their replay state, its foreign-agent
 * associations, and its home-address pool (RFC 2794). Lookups by home
 * address and NAI are O(1). Built from a parsed configuration; a reload
 * builds new tenants and carries the runtime state (replay state, assigned
 * addresses) of unchanged nodes over.
 */
#ifndef MIPHA_TENANT_H
#define MIPHA_TENANT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "binding.h"
#include "mip_auth.h"
#include "mip_replay.h"

struct tenant;
struct tenant_conf;
struct mipha_conf;

enum rt_policy {
	RT_ALLOWED,
	RT_REQUIRED,
	RT_DENIED,
};

enum vpn_policy {
	POLICY_VPN_ONLY,
	POLICY_OPEN,
};

/* Registration outcomes and drops, counted per tenant and globally. */
enum reg_drop {
	DROP_MALFORMED,		/* cannot be parsed far enough to answer */
	DROP_UNKNOWN_EXT,	/* non-skippable extension not understood (§1.8) */
	DROP_NO_SA,		/* no security association (§3.8.2.1 a) */
	DROP_NO_AUTH_EXT,	/* no authorization-enabling extension */
	DROP_RESERVED_SPI,	/* SPI 0-255 */
	DROP_FA_HA_UNEXPECTED,	/* FA-HA extension without an FA SA (§3.8.2.1 d) */
	DROP_BAD_AUTH_FA,	/* MN-HA failed and the FA could not be verified */
	DROP_INTERNAL_SOURCE,	/* RFC 5265 §3.7: the inner HA answers */
	DROP_NOT_REQUEST,	/* not a Registration Request */
	DROP_RATE_LIMITED,	/* per-source reply limit */
	DROP_MAX
};

const char *reg_drop_name(enum reg_drop);

struct reg_counters {
	uint64_t	 accepted;		/* code 0 or 1, deregistrations included */
	uint64_t	 denied[256];		/* by reply code */
	uint64_t	 dropped[DROP_MAX];
};

struct mobile_node {
	struct tenant		*tenant;
	struct mip_auth		*sa;		/* MN-HA authenticator (keyed) */
	uint32_t		 spi;
	struct mip_replay_state	 replay;
	struct in_addr		 hoa;		/* configured, or assigned from the pool */
	bool			 dynamic;	/* hoa comes from the pool (NAI) */
	char			*nai;		/* NULL when none */
	size_t			 nai_len;
};

struct foreign_agent {
	struct in_addr		 addr;
	uint32_t		 spi;
	struct mip_auth		*sa;
};

struct tenant {
	uint32_t		 id;		/* stable for the daemon's run */
	char			 name[33];
	const struct tenant_conf *conf;	/* owned by the running configuration */
	uint32_t		 table;
	struct in_addr		 vpn_gateway;
	struct addr_prefix		 home_network;
	struct addr_prefix	 pool;
	bool			 has_pool;
	enum vpn_policy		 policy;
	enum rt_policy		 reverse_tunnel;
	unsigned		 encaps;	/* 1 << enum binding_encap */
	unsigned		 max_bindings;
	uint16_t		 max_lifetime;
	struct addr_prefix		*internal;
	size_t			 ninternal;
	char			 home_interface[16];	/* "" when none */
	char			 tun_name[16];

	struct mobile_node	*mns;
	size_t			 nmns;
	struct foreign_agent	*fas;
	size_t			 nfas;

	/* Pool of dynamic home addresses: one bit per address. */
	uint64_t		*pool_used;
	uint32_t		 pool_size;
	uint32_t		 pool_next;

	struct reg_counters	 counters;
	uint64_t		 bindings;	/* care-of entries now */
};

/* The key sits in the slot: a probe costs one cache line, not two. */
struct tenant_hoa_slot {
	struct in_addr		 hoa;
	struct mobile_node	*mn;
};

/* All tenants of the running configuration, with the lookup indexes. */
struct tenant_set {
	struct tenant		**t;
	size_t			 n;
	/* Open-addressing indexes over every tenant's mobile nodes. */
	struct tenant_hoa_slot	*by_hoa;	/* static home addresses */
	size_t			 by_hoa_slots;
	struct mobile_node	**by_nai;
	size_t			 by_nai_slots;
};

/*
 * Build the runtime tenants from a validated configuration. `prev` (may be
 * NULL) is the set being replaced: the ids, replay state and dynamic
 * addresses of nodes that still exist carry over. err gets a message.
 */
struct tenant_set *tenant_set_build(const struct mipha_conf *,
    const struct tenant_set *prev, char *err, size_t errlen);
void	tenant_set_free(struct tenant_set *);

struct tenant *tenant_by_name(const struct tenant_set *, const char *name);
struct tenant *tenant_by_id(const struct tenant_set *, uint32_t id);
/* The tenant whose home network holds `a`, or NULL (home networks never overlap). */
struct tenant *tenant_by_home_addr(const struct tenant_set *, struct in_addr a);
struct mobile_node *tenant_mn_by_hoa(const struct tenant_set *, struct in_addr);
struct mobile_node *tenant_mn_by_nai(const struct tenant_set *,
    const uint8_t *nai, size_t len);
struct foreign_agent *tenant_fa(const struct tenant *, struct in_addr addr);
bool	tenant_is_internal(const struct tenant *, struct in_addr src);

/* Dynamic home addresses (RFC 2794): take one for `mn`, give it back. */
int	tenant_pool_assign(struct tenant *, struct mobile_node *);
int	tenant_pool_claim(struct tenant *, struct mobile_node *, struct in_addr);
void	tenant_pool_release(struct tenant *, struct mobile_node *);

/*
 * Binding-table subscriber (arg: the binding table): keeps each tenant's
 * binding count and returns a dynamic home address to the pool when its
 * node's last binding goes.
 */
void	tenant_binding_event(void *arg, enum binding_event,
	    const struct binding *);
/* The node in this set that a binding of the previous set belongs to. */
struct mobile_node *tenant_set_find_node(const struct tenant_set *,
    const struct mobile_node *old);

#endif /* MIPHA_TENANT_H */
