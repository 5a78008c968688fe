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

#include "route.h"

struct binding_table;
struct tenant_set;
struct tunnel;

#define NETSETUP_TUN_MTU	1480	/* 1500 minus the IP-in-IP header */

struct ns_tenant;

struct netsetup {
	struct route_ctx	 rt;
	bool			 rt_open;
	struct tunnel		*tunnel;
	struct binding_table	*bindings;
	struct tenant_set	*tenants;
	struct ns_tenant	*v;
	size_t			 n;
	int			 arp_fd;	/* AF_PACKET, for gratuitous ARP */
	uint64_t		 proxy_errors;
};

int	netsetup_init(struct netsetup *, struct tunnel *, struct binding_table *,
	    char *err, size_t errlen);
/* Install what `ts` needs and remove what it no longer has. */
int	netsetup_sync(struct netsetup *, struct tenant_set *, char *err,
	    size_t errlen);
void	netsetup_shutdown(struct netsetup *);

#endif /* MIPHA_NETSETUP_H */
