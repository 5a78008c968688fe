/*
 * netsetup.c - per-tenant devices, routes, rules and home-link ARP.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/if_ether.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "binding.h"
#include "fastpath.h"
#include "log.h"
#include "netsetup.h"
#include "tenant.h"
#include "tun.h"
#include "tunnel.h"
#include "wire.h"

struct ns_tenant {
	uint32_t		 id;
	bool			 used;
	char			 tun[16];
	char			 home_if[16];
	int			 home_ifindex;	/* 0: no home link */
	struct route_tenant	 spec;
};

static struct ns_tenant *
ns_find(struct netsetup *ns, uint32_t id)
{
	for (size_t i = 0; i < ns->n; i++)
		if (ns->v[i].used && ns->v[i].id == id)
			return &ns->v[i];
	return NULL;
}

/*
 * RFC 5944 §4.6: a gratuitous ARP Reply for the home address: sender and
 * target protocol address are the home address, sender and target hardware
 * address the one neighbours are to use for it (§4.6: "the Target Hardware
 * Address is also set to the link-layer address to which this cache entry
 * should be updated"): the HA's own while the node is away (sha NULL), the
 * node's when it has come home. Broadcast on the home link; the socket
 * (SOCK_DGRAM) adds the Ethernet header.
 */
static void
garp_send(struct netsetup *ns, int ifindex, const char *ifname,
    struct in_addr hoa, const uint8_t *sha)
{
	struct sockaddr_ll sll;
	struct ifreq ifr;
	uint8_t arp[28];

	if (ns->arp_fd == -1)
		return;
	if (sha == NULL) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		if (ioctl(ns->arp_fd, SIOCGIFHWADDR, &ifr) == -1) {
			log_rl(LOG_CLASS_DATA, LOG_WARNING, "%s: no hardware "
			    "address: %s", ifname, strerror(errno));
			return;
		}
		sha = (const uint8_t *)ifr.ifr_hwaddr.sa_data;
	}
	put_be16(arp + 0, ARPHRD_ETHER);
	put_be16(arp + 2, ETH_P_IP);
	arp[4] = 6;
	arp[5] = 4;
	put_be16(arp + 6, ARPOP_REPLY);
	memcpy(arp + 8, sha, 6);
	memcpy(arp + 14, &hoa, 4);
	memcpy(arp + 18, sha, 6);
	memcpy(arp + 24, &hoa, 4);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ARP);
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	if (sendto(ns->arp_fd, arp, sizeof(arp), 0, (struct sockaddr *)&sll,
	    sizeof(sll)) == -1)
		log_rl(LOG_CLASS_DATA, LOG_WARNING, "gratuitous ARP on %s: %s",
		    ifname, strerror(errno));
}

/*
 * §4.6: each announcement SHOULD be retransmitted a small number of
 * times: GARP_REPEAT sends, GARP_INTERVAL apart. A start or reload with
 * many bound nodes must not flood the home link with broadcasts, so all
 * sends are paced by a token bucket (GARP_RATE a second, GARP_BURST at
 * once); what has to wait goes into two FIFOs, first sends before
 * repeats, each ordered by the time it is due.
 */
#define GARP_REPEAT	3
#define GARP_INTERVAL	1.0
#define GARP_RATE	1000.0
#define GARP_BURST	200.0
#define GARP_TICK	0.01

static bool
garp_push(struct garp_fifo *q, const struct ns_garp *g)
{
	if (q->head > 0 && q->n == q->cap) {
		/* Reuse the consumed front before growing. */
		memmove(q->v, q->v + q->head, (q->n - q->head) * sizeof(*q->v));
		q->n -= q->head;
		q->head = 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct ns_garp *v = realloc(q->v, cap * sizeof(*v));

		if (v == NULL)
			return false;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = *g;
	return true;
}

static void
garp_fifo_free(struct garp_fifo *q)
{
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/*
 * Still worth sending? The HA's own address only while the node has a
 * binding (it may have deregistered since), the node's own only while it
 * has none; and only on the tenant's current home link.
 */
static const struct ns_tenant *
garp_still_valid(struct netsetup *ns, const struct ns_garp *g)
{
	const struct ns_tenant *nt = ns_find(ns, g->tenant_id);
	bool bound;

	if (nt == NULL || nt->home_ifindex != g->ifindex)
		return NULL;
	bound = binding_lookup(ns->bindings, g->tenant_id, g->hoa) != NULL;
	return bound == !g->node_mac ? nt : NULL;
}

/* Send g once if it is still valid; queue its repeat. */
static void
garp_emit(struct netsetup *ns, struct ns_garp *g)
{
	const struct ns_tenant *nt = garp_still_valid(ns, g);

	if (nt == NULL)
		return;
	garp_send(ns, g->ifindex, nt->home_if, g->hoa,
	    g->node_mac ? g->sha : NULL);
	ns->garp_sent++;
	ns->garp_tokens -= 1.0;
	if (--g->left > 0) {
		g->due = ev_time() + GARP_INTERVAL;
		if (!garp_push(&ns->garp_repeat, g))
			log_rl(LOG_CLASS_DATA, LOG_WARNING, "out of memory: "
			    "gratuitous ARP not repeated");
	}
}

static void
garp_refill(struct netsetup *ns)
{
	/* The clock, not ev_now(): a start may run long before the loop. */
	ev_tstamp now = ev_time();

	ns->garp_tokens += (now - ns->garp_refilled) * GARP_RATE;
	if (ns->garp_tokens > GARP_BURST)
		ns->garp_tokens = GARP_BURST;
	ns->garp_refilled = now;
}

static bool
garp_pending(const struct netsetup *ns)
{
	return ns->garp_first.head < ns->garp_first.n ||
	    ns->garp_repeat.head < ns->garp_repeat.n;
}

static void
garp_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct netsetup *ns = w->data;
	struct garp_fifo *first = &ns->garp_first, *rep = &ns->garp_repeat;
	ev_tstamp now = ev_time();	/* as the due times (garp_emit) */

	(void)revents;
	garp_refill(ns);
	while (ns->garp_tokens >= 1.0 && first->head < first->n) {
		struct ns_garp g = first->v[first->head++];

		garp_emit(ns, &g);
	}
	while (ns->garp_tokens >= 1.0 && rep->head < rep->n &&
	    rep->v[rep->head].due <= now) {
		struct ns_garp g = rep->v[rep->head++];

		garp_emit(ns, &g);
	}
	if (first->head == first->n)
		first->head = first->n = 0;
	if (rep->head == rep->n)
		rep->head = rep->n = 0;
	if (!garp_pending(ns)) {
		ev_timer_stop(loop, w);
		return;
	}
	/* Only repeats not yet due: sleep until the first of them. */
	w->repeat = GARP_TICK;
	if (first->head == first->n && ns->garp_tokens >= 1.0 &&
	    rep->v[rep->head].due - now > GARP_TICK)
		w->repeat = rep->v[rep->head].due - now;
	ev_timer_again(loop, w);
}

/*
 * Announce hoa (GARP_REPEAT times; sha as for garp_send): at once while
 * the bucket allows and nothing waits before it, else in turn.
 */
static void
gratuitous_arp(struct netsetup *ns, const struct ns_tenant *nt,
    struct in_addr hoa, const uint8_t *sha)
{
	struct ns_garp g;

	memset(&g, 0, sizeof(g));
	g.tenant_id = nt->id;
	g.ifindex = nt->home_ifindex;
	g.hoa = hoa;
	g.left = GARP_REPEAT;
	if (sha != NULL) {
		g.node_mac = true;
		memcpy(g.sha, sha, sizeof(g.sha));
	}
	if (ns->loop == NULL) {
		garp_send(ns, g.ifindex, nt->home_if, hoa, sha);
		return;
	}
	garp_refill(ns);
	if (ns->garp_tokens >= 1.0 && ns->garp_first.head == ns->garp_first.n)
		garp_emit(ns, &g);
	else if (!garp_push(&ns->garp_first, &g))
		log_rl(LOG_CLASS_DATA, LOG_WARNING, "out of memory: gratuitous "
		    "ARP not sent");
	/* Something waits now: wake at the next tick, not at a repeat's. */
	if (garp_pending(ns) && (!ev_is_active(&ns->garp_timer) ||
	    ns->garp_timer.repeat > GARP_TICK)) {
		ns->garp_timer.repeat = GARP_TICK;
		ev_timer_again(ns->loop, &ns->garp_timer);
	}
}

/*
 * A node back on its home link: §4.6 wants a gratuitous ARP with the
 * node's own link-layer address, which we learn the way the kernel does,
 * by resolving the home address (our reply to its deregistration leaves
 * on that link, §3.8.3.1). Poll the ARP cache until it is resolved.
 */
#define HOME_POLL_INTERVAL	0.1
#define HOME_POLLS		30	/* 3 s, then give up */

static void
home_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct netsetup *ns = w->data;
	unsigned kept = 0;

	(void)loop;
	(void)revents;
	for (unsigned i = 0; i < ns->nhome; i++) {
		struct ns_home *h = &ns->home[i];
		struct ns_tenant *nt = ns_find(ns, h->tenant_id);
		char a[INET_ADDRSTRLEN];
		uint8_t mac[6];

		if (nt == NULL || nt->home_ifindex != h->ifindex)
			continue;
		/* Bound again meanwhile: we answer for it, nothing to undo. */
		if (binding_lookup(ns->bindings, h->tenant_id, h->hoa) != NULL)
			continue;
		inet_ntop(AF_INET, &h->hoa, a, sizeof(a));
		if (route_neigh_lladdr(&ns->rt, h->ifindex, h->hoa, mac) == 0) {
			log_info("%s is back on %s at %02x:%02x:%02x:%02x:%02x:"
			    "%02x: gratuitous ARP with its own address", a,
			    nt->home_if, mac[0], mac[1], mac[2], mac[3], mac[4],
			    mac[5]);
			gratuitous_arp(ns, nt, h->hoa, mac);
			ns->home_announced++;
			continue;
		}
		if (--h->polls_left == 0) {
			ns->home_unresolved++;
			log_rl(LOG_CLASS_DATA, LOG_WARNING, "%s deregistered from "
			    "home but does not answer ARP on %s: no gratuitous "
			    "ARP for it", a, nt->home_if);
			continue;
		}
		ns->home[kept++] = *h;
	}
	ns->nhome = kept;
	if (kept == 0)
		ev_timer_stop(ns->loop, &ns->home_timer);
}

void
netsetup_came_home(struct netsetup *ns, uint32_t tenant_id, struct in_addr hoa)
{
	struct ns_tenant *nt = ns_find(ns, tenant_id);
	struct ns_home *h;

	if (nt == NULL || nt->home_ifindex == 0 || ns->loop == NULL)
		return;
	for (unsigned i = 0; i < ns->nhome; i++)
		if (ns->home[i].tenant_id == tenant_id &&
		    ns->home[i].hoa.s_addr == hoa.s_addr) {
			ns->home[i].polls_left = HOME_POLLS;
			return;
		}
	if (ns->nhome == NETSETUP_HOME_MAX) {
		ns->home_unresolved++;
		return;
	}
	h = &ns->home[ns->nhome++];
	h->tenant_id = tenant_id;
	h->ifindex = nt->home_ifindex;
	h->hoa = hoa;
	h->polls_left = HOME_POLLS;
	if (!ev_is_active(&ns->home_timer)) {
		ev_timer_set(&ns->home_timer, HOME_POLL_INTERVAL,
		    HOME_POLL_INTERVAL);
		ev_timer_start(ns->loop, &ns->home_timer);
	}
}

int
netsetup_home_ifindex(struct netsetup *ns, uint32_t tenant_id)
{
	struct ns_tenant *nt = ns_find(ns, tenant_id);

	return nt != NULL ? nt->home_ifindex : 0;
}

/* Binding-table subscriber: proxy ARP while a node is away from home. */
static void
netsetup_binding_event(void *arg, enum binding_event ev,
    const struct binding *b)
{
	struct netsetup *ns = arg;
	struct ns_tenant *nt = ns_find(ns, b->tenant_id);
	char a[INET_ADDRSTRLEN];

	if (nt == NULL || nt->home_ifindex == 0)
		return;
	inet_ntop(AF_INET, &b->hoa, a, sizeof(a));
	if (ev == BEV_ADDED &&
	    binding_count_node(ns->bindings, b->tenant_id, b->hoa) == 1) {
		if (route_proxy_add(&ns->rt, nt->home_ifindex, b->hoa) == -1) {
			ns->proxy_errors++;
			log_rl(LOG_CLASS_DATA, LOG_WARNING, "proxy ARP for %s on "
			    "%s: %s", a, nt->home_if, route_error(&ns->rt));
			return;
		}
		gratuitous_arp(ns, nt, b->hoa, NULL);
	} else if (ev == BEV_REMOVED &&
	    binding_lookup(ns->bindings, b->tenant_id, b->hoa) == NULL) {
		if (route_proxy_del(&ns->rt, nt->home_ifindex, b->hoa) == -1) {
			ns->proxy_errors++;
			log_rl(LOG_CLASS_DATA, LOG_WARNING, "removing proxy ARP "
			    "for %s on %s: %s", a, nt->home_if,
			    route_error(&ns->rt));
		}
	}
}

/*
 * We forward between links and must not teach senders to bypass us: no
 * ICMP redirects. The kernel ORs conf/all with each interface's own
 * setting, so every interface (and "default", for later ones) is set.
 */
static void
disable_redirects(struct netsetup *ns)
{
	struct if_nameindex *ifs, *i;

	if (route_disable_redirects(&ns->rt, "default") == -1)
		log_warn("cannot disable ICMP redirects: %s", route_error(&ns->rt));
	if ((ifs = if_nameindex()) == NULL)
		return;
	for (i = ifs; i->if_index != 0; i++)
		if (route_disable_redirects(&ns->rt, i->if_name) == -1)
			log_warn("cannot disable ICMP redirects on %s: %s",
			    i->if_name, route_error(&ns->rt));
	if_freenameindex(ifs);
}

int
netsetup_init(struct netsetup *ns, struct ev_loop *loop, struct tunnel *tn,
    struct fastpath *fp, struct binding_table *bt, unsigned link_mtu,
    char *err, size_t errlen)
{
	memset(ns, 0, sizeof(*ns));
	ns->loop = loop;
	ns->link_mtu = link_mtu;
	ns->tunnel = tn;
	ns->fastpath = fp;
	ns->bindings = bt;
	ns->arp_fd = -1;
	if (route_open(&ns->rt) == -1) {
		snprintf(err, errlen, "netlink: %s", route_error(&ns->rt));
		return -1;
	}
	ns->rt_open = true;
	/* Stale state of a crashed run is replaced, never duplicated. */
	if (route_flush_own(&ns->rt) == -1) {
		snprintf(err, errlen, "removing routes of a previous run: %s",
		    route_error(&ns->rt));
		return -1;
	}
	disable_redirects(ns);
	ns->arp_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (ns->arp_fd == -1)
		log_warn("no packet socket for gratuitous ARP: %s", strerror(errno));
	ev_init(&ns->garp_timer, garp_timer_cb);
	ns->garp_timer.data = ns;
	ns->garp_timer.repeat = GARP_TICK;
	ns->garp_tokens = GARP_BURST;
	ns->garp_refilled = ev_time();
	ev_init(&ns->home_timer, home_timer_cb);
	ns->home_timer.data = ns;
	if (binding_subscribe(bt, netsetup_binding_event, ns) == -1) {
		snprintf(err, errlen, "cannot subscribe to the binding table");
		return -1;
	}
	return 0;
}

/* The device carries IPv4 only: no IPv6 link-local chatter into it. */
static void
disable_ipv6(const char *ifname)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
	    ifname);
	if ((f = fopen(path, "w")) == NULL)
		return;		/* no IPv6 in this kernel: nothing to disable */
	fputs("1\n", f);
	fclose(f);
}

unsigned
netsetup_tunnel_mtu(unsigned link_mtu, unsigned encaps)
{
	static const unsigned overhead[BIND_ENCAP_MAX] = {
		[BIND_ENCAP_IPIP] = 20,		/* RFC 2003 */
		[BIND_ENCAP_GRE] = 24,		/* RFC 2784, no key sent */
		[BIND_ENCAP_MINIMAL] = 12,	/* RFC 2004, S set */
		[BIND_ENCAP_UDP] = 32,		/* RFC 3519: IP, UDP, MIP header */
	};
	unsigned worst = 20;

	for (int e = 0; e < BIND_ENCAP_MAX; e++)
		if ((encaps & (1u << e)) && overhead[e] > worst)
			worst = overhead[e];
	return link_mtu > worst + 576 ? link_mtu - worst : 576;
}

static void
ns_remove(struct netsetup *ns, struct ns_tenant *nt)
{
	nt->spec.tun_name = nt->tun;	/* the array may have moved */
	if (route_tenant_remove(&ns->rt, &nt->spec) == -1)
		log_warn("tenant device %s: %s", nt->tun, route_error(&ns->rt));
	fastpath_detach_tun(ns->fastpath, nt->id);
	/* Closing the descriptor deletes the (non-persistent) TUN device. */
	tunnel_detach(ns->tunnel, nt->id);
	nt->used = false;
}

static bool
spec_equal(const struct route_tenant *a, const struct route_tenant *b)
{
	return strcmp(a->tun_name, b->tun_name) == 0 && a->mtu == b->mtu &&
	    a->home_net.s_addr == b->home_net.s_addr &&
	    a->home_plen == b->home_plen && a->table == b->table &&
	    a->vpn_gateway.s_addr == b->vpn_gateway.s_addr;
}

static int
ns_install(struct netsetup *ns, const struct tenant *t, struct ns_tenant *nt,
    char *err, size_t errlen)
{
	int fd;

	memset(nt, 0, sizeof(*nt));
	nt->id = t->id;
	snprintf(nt->tun, sizeof(nt->tun), "%s", t->tun_name);
	snprintf(nt->home_if, sizeof(nt->home_if), "%s", t->home_interface);
	nt->spec.tun_name = nt->tun;
	nt->spec.mtu = netsetup_tunnel_mtu(ns->link_mtu, t->encaps);
	nt->spec.home_net = t->home_network.addr;
	nt->spec.home_plen = t->home_network.len;
	nt->spec.table = t->table;
	nt->spec.vpn_gateway = t->vpn_gateway;
	if ((fd = tun_open(nt->tun, false, err, errlen)) == -1)
		return -1;
	if (tunnel_attach(ns->tunnel, t->id, fd) == -1) {
		close(fd);
		snprintf(err, errlen, "out of memory attaching %s", nt->tun);
		return -1;
	}
	if (route_tenant_install(&ns->rt, &nt->spec) == -1) {
		snprintf(err, errlen, "tenant %s: %s", t->name, route_error(&ns->rt));
		tunnel_detach(ns->tunnel, t->id);
		return -1;
	}
	(void)route_disable_redirects(&ns->rt, nt->tun);
	disable_ipv6(nt->tun);
	if (ns->fastpath != NULL) {
		char why[160];
		int ifindex = route_link_index(&ns->rt, nt->tun);

		/* Without it the tenant is still served, by userspace only. */
		if (ifindex <= 0 || fastpath_attach_tun(ns->fastpath, t->id,
		    ifindex, why, sizeof(why)) == -1)
			log_warn("tenant %s: fast path not attached to %s: %s",
			    t->name, nt->tun, ifindex <= 0 ?
			    route_error(&ns->rt) : why);
	}
	if (nt->home_if[0] != '\0') {
		if ((nt->home_ifindex = route_link_index(&ns->rt, nt->home_if)) <= 0) {
			log_warn("tenant %s: home_interface %s: %s; no proxy ARP",
			    t->name, nt->home_if, route_error(&ns->rt));
			nt->home_ifindex = 0;
		} else {
			if (route_set_proxy_delay_zero(&ns->rt, nt->home_if) == -1)
				log_warn("%s: proxy_delay: %s", nt->home_if,
				    route_error(&ns->rt));
			/*
			 * The home network routes into the tenant's device, so
			 * a strict filter drops what a node sends from its home
			 * link, its deregistration included (§3.8.3.1). Said,
			 * not changed: it is the operator's anti-spoofing.
			 */
			if (route_rp_filter(&ns->rt, nt->home_if) == 1)
				log_warn("tenant %s: home_interface %s has strict "
				    "rp_filter (1): nodes deregistering from the "
				    "home link are dropped by the kernel; set "
				    "net.ipv4.conf.%s.rp_filter=2 (loose) and "
				    "conf.all.rp_filter to 0 or 2", t->name,
				    nt->home_if, nt->home_if);
		}
	}
	nt->used = true;
	return 0;
}

struct proxy_ctx {
	struct netsetup		*ns;
	struct ns_tenant	*nt;
};

static int
proxy_existing(void *arg, const struct binding *b)
{
	struct proxy_ctx *c = arg;

	/* First binding of each node only (the head of its list). */
	if (b->tenant_id == c->nt->id &&
	    binding_lookup(c->ns->bindings, b->tenant_id, b->hoa) == b) {
		if (route_proxy_add(&c->ns->rt, c->nt->home_ifindex, b->hoa) == 0)
			gratuitous_arp(c->ns, c->nt, b->hoa, NULL);
		else
			c->ns->proxy_errors++;
	}
	return 0;
}

int
netsetup_sync(struct netsetup *ns, struct tenant_set *ts, char *err,
    size_t errlen)
{
	int rc = 0;

	ns->tenants = ts;
	/* Tenants that went away, or whose network state changed. */
	for (size_t i = 0; i < ns->n; i++) {
		struct ns_tenant *nt = &ns->v[i];
		const struct tenant *t;

		if (!nt->used)
			continue;
		t = tenant_by_id(ts, nt->id);
		if (t != NULL) {
			struct route_tenant want;

			nt->spec.tun_name = nt->tun;	/* the array may have moved */
			want = nt->spec;

			want.tun_name = t->tun_name;
			want.home_net = t->home_network.addr;
			want.home_plen = t->home_network.len;
			want.table = t->table;
			want.vpn_gateway = t->vpn_gateway;
			want.mtu = netsetup_tunnel_mtu(ns->link_mtu, t->encaps);
			if (spec_equal(&want, &nt->spec) &&
			    strcmp(t->home_interface, nt->home_if) == 0) {
				/*
				 * Unchanged: install again, which re-resolves
				 * the gateway route through main (the spec)
				 * and repairs anything removed by hand.
				 */
				if (route_tenant_install(&ns->rt, &nt->spec) == -1) {
					snprintf(err, errlen, "tenant %s: %s",
					    t->name, route_error(&ns->rt));
					log_warn("%s", err);
					rc = -1;
				}
				continue;
			}
		}
		ns_remove(ns, nt);
	}
	for (size_t i = 0; i < ts->n; i++) {
		const struct tenant *t = ts->t[i];
		struct ns_tenant *nt;
		size_t j;

		if (ns_find(ns, t->id) != NULL)
			continue;
		for (j = 0; j < ns->n && ns->v[j].used; j++)
			;
		if (j == ns->n) {
			struct ns_tenant *v = realloc(ns->v, (ns->n + 8) * sizeof(*v));

			if (v == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			memset(v + ns->n, 0, 8 * sizeof(*v));
			ns->v = v;
			ns->n += 8;
		}
		nt = &ns->v[j];
		if (ns_install(ns, t, nt, err, errlen) == -1) {
			/* Log it and go on: one tenant must not stop the rest. */
			log_err("%s", err);
			memset(nt, 0, sizeof(*nt));
			rc = -1;
			continue;
		}
		nt->spec.tun_name = nt->tun;
		log_info("tenant %s: device %s, table %u, home network via %s",
		    t->name, nt->tun, t->table, nt->tun);
		if (nt->home_ifindex != 0) {
			struct proxy_ctx c = { ns, nt };

			binding_foreach(ns->bindings, proxy_existing, &c);
		}
	}
	return rc;
}

void
netsetup_shutdown(struct netsetup *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		struct ns_tenant *nt = &ns->v[i];

		if (!nt->used)
			continue;
		if (nt->home_ifindex != 0) {
			/* Stop answering for home addresses we no longer serve. */
			struct binding_iter it;
			const struct binding *b;

			binding_iter_init(ns->bindings, &it);
			while ((b = binding_iter_next(ns->bindings, &it)) != NULL)
				if (b->tenant_id == nt->id)
					(void)route_proxy_del(&ns->rt,
					    nt->home_ifindex, b->hoa);
		}
		ns_remove(ns, nt);
	}
	/* Anything of ours that is still there (e.g. from a failed install). */
	if (ns->rt_open) {
		(void)route_flush_own(&ns->rt);
		route_close(&ns->rt);
		ns->rt_open = false;
	}
	if (ns->loop != NULL) {
		ev_timer_stop(ns->loop, &ns->garp_timer);
		ev_timer_stop(ns->loop, &ns->home_timer);
	}
	garp_fifo_free(&ns->garp_first);
	garp_fifo_free(&ns->garp_repeat);
	if (ns->arp_fd != -1)
		close(ns->arp_fd);
	ns->arp_fd = -1;
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}
