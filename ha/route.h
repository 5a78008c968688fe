/*
 * route.h - the routing state mipha owns (interface.md, "Routing state
 * mipha owns"), kept through rtnetlink (libmnl over NETLINK_ROUTE).
 *
 * Per tenant: its TUN device up with the tunnel MTU; in the main table
 * `home_network dev <tun>`; a rule `iif <tun> lookup <table>`; in the
 * tenant table a host route to vpn_gateway (resolved through the main table
 * at install time) and `unreachable default`. Plus proxy-ARP entries for
 * bound home addresses on a real home link (RFC 5944 §4.6) and the two
 * sysctls that go with it.
 *
 * Ownership: every route carries rtm_protocol MIPHA_RTPROT, every rule
 * FRA_PROTOCOL MIPHA_RTPROT (Linux >= 4.17) and sits at priority
 * MIPHA_RULE_PRIO, every proxy entry NDA_PROTOCOL MIPHA_RTPROT (Linux 5.x;
 * older kernels ignore it). Route and rule deletions name the protocol, so
 * the kernel never matches an object someone else created; an add that
 * would collide with someone else's object fails instead of replacing it;
 * route_flush_own() finds everything a previous (crashed) run left behind.
 *
 * Every call is synchronous: one request, the kernel's acknowledgement
 * checked (NLM_F_ACK), with the kernel's extended-ACK message when it gives
 * one. Failures return -1 and leave a message naming the object in
 * route_error().
 *
 * Privileges: rtnetlink changes need CAP_NET_ADMIN, checked against both
 * the socket's opener and the caller, so keep it after dropping root; with
 * it the /proc/sys/net writes below are permitted too. Everything acts on
 * the network namespace the process is in.
 */
#ifndef MIPHA_ROUTE_H
#define MIPHA_ROUTE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/*
 * mipha's routing-protocol number (rtm_protocol, FRA_PROTOCOL,
 * NDA_PROTOCOL). 213 is unassigned in linux/rtnetlink.h (the kernel
 * reserves 0-4 and does not interpret the rest) and in iproute2's
 * rt_protos; `ip route show proto 213` lists mipha's routes. Add
 * "213 mipha" to /etc/iproute2/rt_protos to see the name instead.
 */
#define MIPHA_RTPROT		213

/*
 * Priority of every `iif <tun> lookup <table>` rule. One fixed value: the
 * rules of different tenants match disjoint input devices, so their order
 * does not matter; it sits after the local table (0) and well before main
 * (32766), and a fixed value identifies our rules on kernels without
 * FRA_PROTOCOL.
 */
#define MIPHA_RULE_PRIO		10000

#define ROUTE_ERRLEN		256

struct mnl_socket;

struct route_ctx {
	struct mnl_socket	*nl;
	uint32_t		 portid;
	uint32_t		 seq;		/* of the last request sent */
	char			*buf;		/* receive buffer */
	size_t			 buflen;
	int			 strict;	/* NETLINK_GET_STRICT_CHK on */
	char			 err[ROUTE_ERRLEN];
	char			 kmsg[ROUTE_ERRLEN]; /* last extended ACK text */
};

/* Open the netlink socket. -1 with a message on failure. */
int	route_open(struct route_ctx *);
void	route_close(struct route_ctx *);
/* The message of the last failure. */
const char *route_error(const struct route_ctx *);

/* --- links --------------------------------------------------------- */

enum route_link_state {
	ROUTE_LINK_KEEP,
	ROUTE_LINK_UP,
	ROUTE_LINK_DOWN
};

/* The ifindex of `ifname` (> 0), or -1 (message) when there is none. */
int	route_link_index(struct route_ctx *, const char *ifname);
/* Set a link up or down and/or its MTU (mtu 0: leave it). */
int	route_link_set(struct route_ctx *, int ifindex,
	    enum route_link_state, unsigned mtu);
int	route_link_set_name(struct route_ctx *, const char *ifname,
	    enum route_link_state, unsigned mtu);

/*
 * No ICMP redirects from `ifname`: writes 0 to
 * /proc/sys/net/ipv4/conf/{all,IF}/send_redirects (the kernel sends them
 * when either is 1). A sysctl, not netlink: there is no rtnetlink message
 * for it. Acts on the calling process's network namespace.
 */
int	route_disable_redirects(struct route_ctx *, const char *ifname);
/*
 * The reverse-path filter the kernel applies on `ifname`: the larger of
 * net.ipv4.conf.{all,IF}.rp_filter (0 off, 1 strict, 2 loose), or -1.
 */
int	route_rp_filter(struct route_ctx *, const char *ifname);
/*
 * net.ipv4.neigh.IF.proxy_delay = 0: answer proxied ARP requests at once
 * instead of after a random delay of up to 0.8 s.
 */
int	route_set_proxy_delay_zero(struct route_ctx *, const char *ifname);

/*
 * Proxy-ARP entry for `addr` on `ifindex` (`ip neigh add proxy ADDR dev
 * IF`): the home agent answers ARP for a bound home address on the home
 * link (RFC 5944 §4.6). Adding an existing entry succeeds; deleting a
 * missing one succeeds. The kernel keys proxy entries by (address, device)
 * only, so an identical entry made by someone else is taken over.
 */
int	route_proxy_add(struct route_ctx *, int ifindex, struct in_addr addr);
int	route_proxy_del(struct route_ctx *, int ifindex, struct in_addr addr);

/*
 * The link-layer address the kernel's ARP cache holds for `addr` on
 * `ifindex`, if it is resolved (reachable, stale, delay, probe or
 * permanent); -1 with errno ENOENT when it is not (yet).
 */
int	route_neigh_lladdr(struct route_ctx *, int ifindex, struct in_addr addr,
	    uint8_t mac[6]);

/* --- routes -------------------------------------------------------- */

enum route_kind {
	ROUTE_DEV,		/* dst/plen dev IF scope link */
	ROUTE_VIA,		/* dst/plen via GATEWAY dev IF */
	ROUTE_UNREACHABLE	/* unreachable dst/plen */
};

#define ROUTE_TABLE_MAIN	254	/* RT_TABLE_MAIN */

struct route_spec {
	uint32_t	 table;		/* any id; > 255 goes in RTA_TABLE */
	struct in_addr	 dst;		/* host bits must be zero */
	unsigned	 plen;
	enum route_kind	 kind;
	int		 ifindex;	/* ROUTE_DEV, ROUTE_VIA */
	struct in_addr	 gateway;	/* ROUTE_VIA */
};

/*
 * Install a route with protocol MIPHA_RTPROT. A route of ours with the same
 * key (table, dst/plen, TOS 0, metric 0) is replaced in one step
 * (NLM_F_REPLACE), so re-running is idempotent and never leaves a gap; a
 * route with that key from another protocol is left alone and the call
 * fails.
 */
int	route_add(struct route_ctx *, const struct route_spec *);
/*
 * Delete our route with that key (kind and nexthop are not compared).
 * Succeeds when there is none, e.g. because the kernel removed it together
 * with its device.
 */
int	route_del(struct route_ctx *, const struct route_spec *);

/*
 * Where the main table sends `dst` now (RTM_GETROUTE, as for a locally
 * generated packet): the next hop (INADDR_ANY when dst is on the link) and
 * the output interface. Fails when there is no unicast route, or when the
 * answer came from a table other than main.
 */
int	route_get(struct route_ctx *, struct in_addr dst,
	    struct in_addr *gateway, int *ifindex);

/* --- rules --------------------------------------------------------- */

/*
 * `iif IIFNAME lookup TABLE` at MIPHA_RULE_PRIO, protocol MIPHA_RTPROT.
 * Rules have no replace: an existing identical rule of ours makes the add
 * succeed without a duplicate; an identical one of someone else's makes it
 * fail. Deleting a rule that is not there succeeds. The device need not
 * exist (the kernel keeps such a rule detached until it appears).
 */
int	route_rule_add(struct route_ctx *, const char *iifname, uint32_t table);
int	route_rule_del(struct route_ctx *, const char *iifname, uint32_t table);

/* --- cleanup ------------------------------------------------------- */

/*
 * Delete every IPv4 route (all tables) and rule carrying MIPHA_RTPROT, and
 * every proxy-ARP entry carrying it (on kernels that record it): what a
 * previous run left behind. On a kernel without FRA_PROTOCOL, rules to a
 * table at MIPHA_RULE_PRIO are taken as ours. Returns how many objects were
 * deleted, or -1.
 */
int	route_flush_own(struct route_ctx *);

/* --- one tenant ---------------------------------------------------- */

struct route_tenant {
	const char	*tun_name;
	int		 tun_ifindex;	/* 0: looked up from tun_name */
	unsigned	 mtu;		/* tunnel MTU for the device */
	struct in_addr	 home_net;	/* home network prefix */
	unsigned	 home_plen;
	uint32_t	 table;		/* tenant table: not 0, 253, 254, 255 */
	struct in_addr	 vpn_gateway;
};

/*
 * Install exactly the tenant's routing state, in this order: vpn_gateway
 * resolved through the main table (route_get); the device up with the MTU;
 * in the tenant table the host route to vpn_gateway (via the resolved next
 * hop) and `unreachable default`; the rule `iif <tun> lookup <table>`; last
 * `home_network dev <tun>` in the main table, so traffic reaches the device
 * only when the way back is in place. Then whatever of ours an earlier
 * install of this tenant left that is not in this list (another table,
 * gateway, home network or device name) is removed.
 *
 * Idempotent: re-running it (e.g. on reload) re-resolves vpn_gateway,
 * replaces the host route in one step and creates nothing twice. On failure
 * the objects this call created are removed again (objects it found in
 * place are left, so a failed reload does not tear down a working tenant)
 * and the message says what failed.
 */
int	route_tenant_install(struct route_ctx *, const struct route_tenant *);
/*
 * Remove the tenant's routes and rule (in the reverse order; the device is
 * left as it is: closing its descriptor removes it). Objects already gone
 * are fine; tun_ifindex is not needed. -1 if something could not be removed
 * (the rest is still attempted; the first failure is reported).
 */
int	route_tenant_remove(struct route_ctx *, const struct route_tenant *);

#endif /* MIPHA_ROUTE_H */
