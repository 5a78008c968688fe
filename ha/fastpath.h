/*
 * fastpath.h - the kernel-speed half of the data plane: mipha's tc/eBPF
 * programs (fastpath.bpf.c, built into the daemon) and the BPF map that
 * mirrors the binding table for them.
 *
 * Owns: loading the programs, attaching fp_forward to the egress of each
 * tenant's TUN device and fp_reverse to the ingress of the host's other
 * interfaces, keeping the map in step with the binding table (one more
 * subscriber of its notifications) and the tenants, reading the programs'
 * counters, and removing every filter it attached at shutdown.
 *
 * The map holds only what the programs may carry without asking: a node
 * with one care-of address reached by IP-in-IP, GRE without a key, or RFC
 * 3519 IP-in-UDP (then only datagrams that need no segmentation). All
 * else - and every packet the programs are not certain of - is left to the
 * userspace path (tunnel.c), which stays complete on its own: when the
 * kernel refuses the programs, mipha logs it and runs without them.
 */
#ifndef MIPHA_FASTPATH_H
#define MIPHA_FASTPATH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "fastpath_maps.h"

struct binding_table;
struct tenant_set;
struct fastpath;

/*
 * Load the programs and subscribe to the binding table. `link_mtu` is the
 * largest outer datagram towards care-of addresses, `max_nodes` sizes the
 * map. NULL with err set when the kernel or libbpf refuses.
 */
struct fastpath *fastpath_new(struct binding_table *, struct in_addr ha_addr,
    uint16_t ha_port, unsigned link_mtu, size_t max_nodes, char *err,
    size_t errlen);
/* Detach every filter attached by this run, then free. NULL is fine. */
void	fastpath_free(struct fastpath *);

/*
 * The running tenants (start, reload): set before the old set is freed;
 * then, once every tenant has its device, fastpath_resync() brings every
 * entry in line with them (policy, gateway, device).
 */
void	fastpath_set_tenants(struct fastpath *, const struct tenant_set *);
void	fastpath_resync(struct fastpath *);

/* A tenant's TUN device came or goes (netsetup). */
int	fastpath_attach_tun(struct fastpath *, uint32_t tenant_id, int ifindex,
	    char *err, size_t errlen);
void	fastpath_detach_tun(struct fastpath *, uint32_t tenant_id);

/*
 * fp_reverse on the ingress of every interface that is neither loopback
 * nor a tenant's TUN device (at start, at each reload, and whenever
 * rtnetlink announces a link). Returns how many carry it, -1 on error.
 */
int	fastpath_attach_links(struct fastpath *, char *err, size_t errlen);
/* From now on, interfaces that appear get it too (rtnetlink, RTM_NEWLINK). */
int	fastpath_watch_links(struct fastpath *, struct ev_loop *, char *err,
	    size_t errlen);

/* Counters of one tenant (summed over CPUs); tenant 0: handed over. */
void	fastpath_counters(const struct fastpath *, uint32_t tenant_id,
	    struct fp_counters *);
/* Sum over every tenant. */
void	fastpath_counters_total(const struct fastpath *, struct fp_counters *);
unsigned fastpath_links(const struct fastpath *);

#endif /* MIPHA_FASTPATH_H */
