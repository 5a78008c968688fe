/*
 * netsetup.h - each tenant's network state on the home agent host: its TUN
 * device (handed to the data plane), the routes and rule of the interface
 * spec's "Routing state mipha owns", and proxy/gratuitous ARP for bound
 * home addresses on a real home link (RFC 5944 §4.6).
 *
 * At start every leftover of a previous run (routes and rules carrying
 * mipha's protocol number) is flushed, then each tenant is installed; after
 * a reload the installed set is brought in line with the new tenants;
 * at shutdown everything is removed again.
 */
#ifndef MIPHA_NETSETUP_H
#define MIPHA_NETSETUP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "route.h"

struct binding_table;
struct tenant_set;
struct tunnel;
struct fastpath;

/*
 * A tenant's TUN MTU is its tunnel MTU: the link MTU towards care-of
 * addresses minus the largest overhead among the encapsulations the tenant
 * permits (IP-in-IP 20, GRE 24, minimal 12, RFC 3519 UDP 32), so the
 * kernel's first fragmentation-needed is right whatever a node negotiated
 * (RFC 2003 §5.1). mipha checks each binding's own MTU again.
 */

struct ns_tenant;

/* A gratuitous ARP still to be sent (again). */
struct ns_garp {
	uint32_t		 tenant_id;
	int			 ifindex;
	struct in_addr		 hoa;
	unsigned		 left;		/* sends still to come */
	ev_tstamp		 due;
	bool			 node_mac;	/* sha: the node's, not ours */
	uint8_t			 sha[6];
};

/* A FIFO of them: v[head..n) waits. */
struct garp_fifo {
	struct ns_garp		*v;
	size_t			 head, n, cap;
};

/* A node back on its home link whose link-layer address is not known yet. */
struct ns_home {
	uint32_t		 tenant_id;
	int			 ifindex;
	struct in_addr		 hoa;
	unsigned		 polls_left;
};
#define NETSETUP_HOME_MAX	256

struct netsetup {
	struct ev_loop		*loop;
	ev_timer		 garp_timer;
	struct garp_fifo	 garp_first;	/* first sends */
	struct garp_fifo	 garp_repeat;	/* repeats, by due time */
	double			 garp_tokens;
	ev_tstamp		 garp_refilled;
	uint64_t		 garp_sent;
	ev_timer		 home_timer;
	struct ns_home		 home[NETSETUP_HOME_MAX];
	unsigned		 nhome;
	uint64_t		 home_announced;	/* §4.6 on return home */
	uint64_t		 home_unresolved;
	struct route_ctx	 rt;
	bool			 rt_open;
	struct tunnel		*tunnel;
	struct fastpath		*fastpath;	/* may be NULL */
	struct binding_table	*bindings;
	struct tenant_set	*tenants;
	struct ns_tenant	*v;
	size_t			 n;
	int			 arp_fd;	/* AF_PACKET, for gratuitous ARP */
	uint64_t		 proxy_errors;
	unsigned		 link_mtu;	/* towards care-of addresses */
};

int	netsetup_init(struct netsetup *, struct ev_loop *, struct tunnel *,
	    struct fastpath *, struct binding_table *, unsigned link_mtu, char *err, size_t errlen);
unsigned netsetup_tunnel_mtu(unsigned link_mtu, unsigned encaps);
/* Install what `ts` needs and remove what it no longer has. */
int	netsetup_sync(struct netsetup *, struct tenant_set *, char *err,
	    size_t errlen);
void	netsetup_shutdown(struct netsetup *);

/*
 * RFC 5944 §3.8.3.1, §4.6 for a tenant with a real home link: the link's
 * interface index (0: none), and a node that deregistered from it, whose
 * own link-layer address is then announced by gratuitous ARP once the
 * kernel has resolved it.
 */
int	netsetup_home_ifindex(struct netsetup *, uint32_t tenant_id);
void	netsetup_came_home(struct netsetup *, uint32_t tenant_id,
	    struct in_addr hoa);

#endif /* MIPHA_NETSETUP_H */
