/*
 * fastpath.c - loads the tc/eBPF fast path and keeps its map in step with
 * the binding table.
 *
 * The BPF object is compiled at build time (clang -target bpf) and linked
 * into the daemon (fastpath_obj.S), so the daemon needs no file at run
 * time and never loads an object older than itself.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "binding.h"
#include "fastpath.h"
#include "log.h"
#include "tenant.h"

extern const unsigned char mipha_fastpath_obj[];
extern const unsigned long mipha_fastpath_obj_size;

#define FP_MAX_LINKS	256
#define FP_BATCH	4096		/* map updates per syscall at a resync */

/* binding->fp_sig: what the map holds for the node whose head it is. */
#define FP_SIG_KNOWN	0x80
#define FP_SIG_PRESENT	0x40

struct fp_link {
	int		 ifindex;
	bool		 created_qdisc;	/* clsact is ours to remove */
};

struct fastpath {
	struct binding_table	*bindings;
	const struct tenant_set	*tenants;
	struct bpf_object	*obj;
	int			 prog_forward;
	int			 prog_reverse;
	int			 map_bindings;
	int			 map_stats;
	struct in_addr		 ha_addr;
	unsigned		 link_mtu;
	/* TUN ifindex per tenant id (0: none) */
	int			*tun_ifindex;
	bool			*tun_created_qdisc;
	size_t			 ntun;
	struct fp_link		 links[FP_MAX_LINKS];
	unsigned		 nlinks;
	int			 ncpus;
	struct fp_counters	*percpu;	/* one per possible CPU, for reads */
	struct fp_counters	 retired;	/* of tenants gone: totals only grow */
	/* interfaces that appear later: RTM_NEWLINK from rtnetlink */
	struct ev_loop		*loop;
	struct mnl_socket	*links_nl;
	ev_io			 links_w;
	/* resync batch */
	__u32			*batch_keys;
	struct fp_binding	*batch_vals;
	unsigned		 nbatch;
};

static int
libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_msg(level == LIBBPF_WARN ? LOG_WARNING : LOG_INFO, "libbpf: %s",
	    line);
	return 0;
}

/* ---- attaching ---- */

static int
tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd,
    bool *created, char *err, size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
	    .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FP_TC_HANDLE,
	    .priority = FP_TC_PRIORITY, .prog_fd = prog_fd,
	    .flags = BPF_TC_F_REPLACE);
	int rc;

	rc = bpf_tc_hook_create(&hook);
	if (rc != 0 && rc != -EEXIST) {
		snprintf(err, errlen, "clsact qdisc on ifindex %d: %s", ifindex,
		    strerror(-rc));
		return -1;
	}
	*created = rc == 0;
	/* REPLACE: a filter left by a crashed run is taken over, not doubled. */
	if ((rc = bpf_tc_attach(&hook, &opts)) != 0) {
		snprintf(err, errlen, "tc filter on ifindex %d: %s", ifindex,
		    strerror(-rc));
		return -1;
	}
	return 0;
}

static void
tc_detach(int ifindex, enum bpf_tc_attach_point where, bool remove_qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
	    .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = FP_TC_HANDLE,
	    .priority = FP_TC_PRIORITY);
	char name[IF_NAMESIZE];

	if (if_indextoname((unsigned)ifindex, name) == NULL)
		return;		/* the device is gone, and its filters with it */
	(void)bpf_tc_detach(&hook, &opts);
	if (remove_qdisc) {
		/* Destroying a hook removes the whole clsact qdisc. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		(void)bpf_tc_hook_destroy(&hook);
	}
}

/* ---- the map ---- */

static bool
encap_eligible(const struct binding *b)
{
	return b->encap == BIND_ENCAP_IPIP || b->encap == BIND_ENCAP_UDP ||
	    (b->encap == BIND_ENCAP_GRE && b->gre_key == 0);
}

/*
 * What the map should hold for the node whose first binding is `head`:
 * false when the programs must leave it to userspace.
 */
static bool
entry_for(const struct fastpath *fp, const struct binding *head,
    struct fp_binding *v)
{
	const struct tenant *t;
	unsigned mtu;

	if (head == NULL || head->next != NULL || !encap_eligible(head) ||
	    head->state != BINDING_ACTIVE || fp->tenants == NULL ||
	    head->tenant_id >= fp->ntun || fp->tun_ifindex[head->tenant_id] == 0 ||
	    (t = tenant_by_id(fp->tenants, head->tenant_id)) == NULL)
		return false;
	mtu = fp->link_mtu;
	if (head->path_mtu != 0 && head->path_mtu < mtu)
		mtu = head->path_mtu;
	memset(v, 0, sizeof(*v));
	v->coa = head->coa.s_addr;
	v->gateway = t->vpn_gateway.s_addr;
	v->tenant_id = head->tenant_id;
	v->tun_ifindex = (__u32)fp->tun_ifindex[head->tenant_id];
	v->mtu = (__u16)mtu;
	v->encap = head->encap == BIND_ENCAP_GRE ? FP_ENCAP_GRE :
	    head->encap == BIND_ENCAP_UDP ? FP_ENCAP_UDP : FP_ENCAP_IPIP;
	v->peer = head->src.s_addr;
	v->peer_port = htons(head->sport);
	if ((head->flags & BF_REVERSE) && t->reverse_tunnel != RT_DENIED)
		v->flags |= FP_F_REVERSE;
	if (t->policy == POLICY_VPN_ONLY)
		v->flags |= FP_F_VPN_ONLY;
	return true;
}

static uint8_t
sig_of(bool present, const struct fp_binding *v)
{
	if (!present)
		return FP_SIG_KNOWN;
	return (uint8_t)(FP_SIG_KNOWN | FP_SIG_PRESENT | (v->encap << 2) |
	    v->flags);
}

static void
map_put(struct fastpath *fp, __u32 hoa, const struct fp_binding *v)
{
	if (bpf_map_update_elem(fp->map_bindings, &hoa, v, BPF_ANY) != 0) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &hoa, a, sizeof(a));
		log_rl(LOG_CLASS_DATA, LOG_WARNING, "fast path: entry for %s: "
		    "%s; its packets take the userspace path", a,
		    strerror(errno));
	}
}

static void
map_del(struct fastpath *fp, __u32 hoa)
{
	(void)bpf_map_delete_elem(fp->map_bindings, &hoa);
}

/* Bring the map in line with one node (tenant, hoa). */
static void
sync_node(struct fastpath *fp, uint32_t tenant_id, struct in_addr hoa,
    bool force)
{
	struct binding *head = binding_lookup(fp->bindings, tenant_id, hoa);
	struct fp_binding v;
	bool present = entry_for(fp, head, &v);
	uint8_t sig = sig_of(present, &v);

	/* A renewal that changes nothing the programs see costs no syscall. */
	if (!force && head != NULL && head->fp_sig == sig)
		return;
	if (present)
		map_put(fp, hoa.s_addr, &v);
	else
		map_del(fp, hoa.s_addr);
	if (head == NULL)
		return;
	head->fp_sig = sig;
	/*
	 * Only the head's signature means anything: a binding that was the
	 * head before a newer care-of address was added must not vouch for
	 * the map when it becomes the head again.
	 */
	for (struct binding *b = head->next; b != NULL; b = b->next)
		b->fp_sig = 0;
}

static void
fastpath_binding_event(void *arg, enum binding_event ev,
    const struct binding *b)
{
	struct fastpath *fp = arg;

	/*
	 * Path MTU soft state always changes the entry; an addition changes
	 * the node's head (its signature is not known yet).
	 */
	sync_node(fp, b->tenant_id, b->hoa, ev == BEV_SOFT_STATE);
}

static int
batch_flush(struct fastpath *fp)
{
	__u32 n = fp->nbatch;
	int rc = 0;

	if (n == 0)
		return 0;
	if (bpf_map_update_batch(fp->map_bindings, fp->batch_keys,
	    fp->batch_vals, &n, NULL) != 0) {
		/* Older kernels: one at a time. */
		for (unsigned i = 0; i < fp->nbatch; i++)
			map_put(fp, fp->batch_keys[i], &fp->batch_vals[i]);
		rc = -1;
	}
	fp->nbatch = 0;
	return rc;
}

static int
resync_one(void *arg, const struct binding *cb)
{
	struct fastpath *fp = arg;
	struct binding *b = (struct binding *)cb;	/* fp_sig is ours */
	struct fp_binding v;
	bool present;

	/* Visit each node once, at its first binding. */
	if (binding_lookup(fp->bindings, b->tenant_id, b->hoa) != b) {
		b->fp_sig = 0;
		return 0;
	}
	present = entry_for(fp, b, &v);
	if (present) {
		fp->batch_keys[fp->nbatch] = b->hoa.s_addr;
		fp->batch_vals[fp->nbatch] = v;
		if (++fp->nbatch == FP_BATCH)
			batch_flush(fp);
	} else if ((b->fp_sig & FP_SIG_PRESENT) || !(b->fp_sig & FP_SIG_KNOWN))
		map_del(fp, b->hoa.s_addr);	/* there may be an entry */
	b->fp_sig = sig_of(present, &v);
	return 0;
}

/* Every node again: after a reload or a tenant's device came or went. */
static void
resync_all(struct fastpath *fp)
{
	(void)binding_foreach(fp->bindings, resync_one, fp);
	batch_flush(fp);
}

/* ---- public ---- */

struct fastpath *
fastpath_new(struct binding_table *bt, struct in_addr ha_addr,
    uint16_t ha_port, unsigned link_mtu, size_t max_nodes, char *err,
    size_t errlen)
{
	struct fastpath *fp;
	struct bpf_program *pf, *pr;
	struct bpf_map *mb;
	struct fp_config cfg = { .ha_addr = ha_addr.s_addr,
	    .ha_port = ha_port };
	__u32 key = 0;
	int rc, cfg_fd;

	libbpf_set_print(libbpf_quiet);
	if ((fp = calloc(1, sizeof(*fp))) == NULL ||
	    (fp->batch_keys = calloc(FP_BATCH, sizeof(*fp->batch_keys))) == NULL ||
	    (fp->batch_vals = calloc(FP_BATCH, sizeof(*fp->batch_vals))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	fp->bindings = bt;
	fp->ha_addr = ha_addr;
	fp->link_mtu = link_mtu;
	fp->prog_forward = fp->prog_reverse = -1;
	if ((fp->ncpus = libbpf_num_possible_cpus()) <= 0) {
		snprintf(err, errlen, "cannot count CPUs: %s", strerror(-fp->ncpus));
		goto fail;
	}
	if ((fp->percpu = calloc((size_t)fp->ncpus, sizeof(*fp->percpu))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	{
		DECLARE_LIBBPF_OPTS(bpf_object_open_opts, oo,
		    .object_name = "mipha_fastpath");

		fp->obj = bpf_object__open_mem(mipha_fastpath_obj,
		    mipha_fastpath_obj_size, &oo);
	}
	if (fp->obj == NULL) {
		snprintf(err, errlen, "opening the BPF object: %s",
		    strerror(errno));
		goto fail;
	}
	pf = bpf_object__find_program_by_name(fp->obj, "fp_forward");
	pr = bpf_object__find_program_by_name(fp->obj, "fp_reverse");
	mb = bpf_object__find_map_by_name(fp->obj, "fp_bindings");
	if (pf == NULL || pr == NULL || mb == NULL) {
		snprintf(err, errlen, "the BPF object lacks its programs or maps");
		goto fail;
	}
	/* One entry per node at most; room for the configured population. */
	if (max_nodes < 1024)
		max_nodes = 1024;
	if (max_nodes > (1u << 24))
		max_nodes = 1u << 24;
	(void)bpf_map__set_max_entries(mb, (__u32)max_nodes);
	if ((rc = bpf_object__load(fp->obj)) != 0) {
		snprintf(err, errlen, "loading the BPF programs: %s",
		    strerror(-rc));
		goto fail;
	}
	fp->prog_forward = bpf_program__fd(pf);
	fp->prog_reverse = bpf_program__fd(pr);
	fp->map_bindings = bpf_map__fd(mb);
	fp->map_stats = bpf_object__find_map_fd_by_name(fp->obj, "fp_stats");
	cfg_fd = bpf_object__find_map_fd_by_name(fp->obj, "fp_config");
	if (fp->map_stats < 0 || cfg_fd < 0 ||
	    bpf_map_update_elem(cfg_fd, &key, &cfg, BPF_ANY) != 0) {
		snprintf(err, errlen, "setting up the BPF maps: %s",
		    strerror(errno));
		goto fail;
	}
	/* Key 0: what the programs handed to userspace. */
	if (bpf_map_update_elem(fp->map_stats, &key, fp->percpu, BPF_ANY) != 0) {
		snprintf(err, errlen, "setting up the BPF counters: %s",
		    strerror(errno));
		goto fail;
	}
	if (binding_subscribe(bt, fastpath_binding_event, fp) == -1) {
		snprintf(err, errlen, "cannot subscribe to the binding table");
		goto fail;
	}
	return fp;
fail:
	if (fp != NULL) {
		bpf_object__close(fp->obj);
		free(fp->percpu);
		free(fp->batch_keys);
		free(fp->batch_vals);
		free(fp);
	}
	return NULL;
}

void
fastpath_set_tenants(struct fastpath *fp, const struct tenant_set *ts)
{
	if (fp != NULL)
		fp->tenants = ts;
}

void
fastpath_resync(struct fastpath *fp)
{
	if (fp != NULL)
		resync_all(fp);
}

int
fastpath_attach_tun(struct fastpath *fp, uint32_t tenant_id, int ifindex,
    char *err, size_t errlen)
{
	bool created;

	if (fp == NULL)
		return 0;
	if (tenant_id >= fp->ntun) {
		size_t n = tenant_id + 16;
		int *v = realloc(fp->tun_ifindex, n * sizeof(*v));
		bool *c;

		if (v == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		fp->tun_ifindex = v;
		if ((c = realloc(fp->tun_created_qdisc, n * sizeof(*c))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		fp->tun_created_qdisc = c;
		for (size_t i = fp->ntun; i < n; i++) {
			v[i] = 0;
			c[i] = false;
		}
		fp->ntun = n;
	}
	/* The tenant's counters start at zero with its device. */
	memset(fp->percpu, 0, (size_t)fp->ncpus * sizeof(*fp->percpu));
	if (bpf_map_update_elem(fp->map_stats, &tenant_id, fp->percpu,
	    BPF_ANY) != 0) {
		snprintf(err, errlen, "counters for tenant %u: %s", tenant_id,
		    strerror(errno));
		return -1;
	}
	if (tc_attach(ifindex, BPF_TC_EGRESS, fp->prog_forward, &created, err,
	    errlen) == -1)
		return -1;
	fp->tun_ifindex[tenant_id] = ifindex;
	fp->tun_created_qdisc[tenant_id] = created;
	return 0;
}

void
fastpath_detach_tun(struct fastpath *fp, uint32_t tenant_id)
{
	struct fp_counters c;

	if (fp == NULL || tenant_id >= fp->ntun || fp->tun_ifindex[tenant_id] == 0)
		return;
	tc_detach(fp->tun_ifindex[tenant_id], BPF_TC_EGRESS,
	    fp->tun_created_qdisc[tenant_id]);
	fp->tun_ifindex[tenant_id] = 0;
	/* The global totals keep what the tenant's device carried. */
	fastpath_counters(fp, tenant_id, &c);
	fp->retired.fwd_packets += c.fwd_packets;
	fp->retired.fwd_bytes += c.fwd_bytes;
	fp->retired.rev_packets += c.rev_packets;
	fp->retired.rev_bytes += c.rev_bytes;
	(void)bpf_map_delete_elem(fp->map_stats, &tenant_id);
}

static bool
is_tenant_device(const struct fastpath *fp, int ifindex)
{
	for (size_t i = 0; i < fp->ntun; i++)
		if (fp->tun_ifindex[i] == ifindex)
			return true;
	return false;
}

static bool
has_link(const struct fastpath *fp, int ifindex)
{
	for (unsigned i = 0; i < fp->nlinks; i++)
		if (fp->links[i].ifindex == ifindex)
			return true;
	return false;
}

int
fastpath_attach_links(struct fastpath *fp, char *err, size_t errlen)
{
	struct if_nameindex *ifs, *i;
	unsigned kept = 0;

	if (fp == NULL)
		return 0;
	if ((ifs = if_nameindex()) == NULL) {
		snprintf(err, errlen, "listing interfaces: %s", strerror(errno));
		return -1;
	}
	/* Forget links that have gone. */
	for (unsigned k = 0; k < fp->nlinks; k++) {
		char name[IF_NAMESIZE];

		if (if_indextoname((unsigned)fp->links[k].ifindex, name) != NULL &&
		    !is_tenant_device(fp, fp->links[k].ifindex))
			fp->links[kept++] = fp->links[k];
	}
	fp->nlinks = kept;
	for (i = ifs; i->if_index != 0; i++) {
		int ifindex = (int)i->if_index;
		bool created;
		char why[160];

		/* Loopback (index 1 in every namespace) carries no tunnels. */
		if (ifindex == 1 || is_tenant_device(fp, ifindex) ||
		    has_link(fp, ifindex))
			continue;
		if (fp->nlinks == FP_MAX_LINKS) {
			log_warn("fast path: more than %d interfaces; %s uses "
			    "the userspace path only", FP_MAX_LINKS, i->if_name);
			continue;
		}
		if (tc_attach(ifindex, BPF_TC_INGRESS, fp->prog_reverse, &created,
		    why, sizeof(why)) == -1) {
			log_warn("fast path: %s: %s; its tunnel packets take the "
			    "userspace path", i->if_name, why);
			continue;
		}
		fp->links[fp->nlinks].ifindex = ifindex;
		fp->links[fp->nlinks].created_qdisc = created;
		fp->nlinks++;
	}
	if_freenameindex(ifs);
	return (int)fp->nlinks;
}

/* rtnetlink said links came or went: new ones get the program. */
static void
links_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fastpath *fp = w->data;
	char buf[MNL_SOCKET_BUFFER_SIZE], err[160];
	bool changed = false;
	ssize_t n;

	(void)loop;
	(void)revents;
	/* Drain: one rescan covers every message read. */
	while ((n = mnl_socket_recvfrom(fp->links_nl, buf, sizeof(buf))) > 0) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		int left = (int)n;

		for (; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
			if (h->nlmsg_type == RTM_NEWLINK ||
			    h->nlmsg_type == RTM_DELLINK)
				changed = true;
	}
	if (n == -1 && errno == ENOBUFS)
		changed = true;	/* lost some: rescan anyway */
	if (changed && fastpath_attach_links(fp, err, sizeof(err)) == -1)
		log_rl(LOG_CLASS_DATA, LOG_WARNING, "fast path: %s", err);
}

int
fastpath_watch_links(struct fastpath *fp, struct ev_loop *loop, char *err,
    size_t errlen)
{
	int fd;

	if (fp == NULL)
		return 0;
	fp->links_nl = mnl_socket_open2(NETLINK_ROUTE,
	    SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fp->links_nl == NULL ||
	    mnl_socket_bind(fp->links_nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) == -1) {
		snprintf(err, errlen, "rtnetlink link notifications: %s",
		    strerror(errno));
		if (fp->links_nl != NULL)
			mnl_socket_close(fp->links_nl);
		fp->links_nl = NULL;
		return -1;
	}
	fd = mnl_socket_get_fd(fp->links_nl);
	fp->loop = loop;
	ev_io_init(&fp->links_w, links_cb, fd, EV_READ);
	fp->links_w.data = fp;
	ev_io_start(loop, &fp->links_w);
	return 0;
}

void
fastpath_counters(const struct fastpath *fp, uint32_t tenant_id,
    struct fp_counters *out)
{
	const struct fp_counters *v;

	memset(out, 0, sizeof(*out));
	if (fp == NULL ||
	    bpf_map_lookup_elem(fp->map_stats, &tenant_id, fp->percpu) != 0)
		return;
	v = fp->percpu;
	for (int c = 0; c < fp->ncpus; c++) {
		out->fwd_packets += v[c].fwd_packets;
		out->fwd_bytes += v[c].fwd_bytes;
		out->rev_packets += v[c].rev_packets;
		out->rev_bytes += v[c].rev_bytes;
		out->fwd_slow += v[c].fwd_slow;
		out->rev_slow += v[c].rev_slow;
	}
}

void
fastpath_counters_total(const struct fastpath *fp, struct fp_counters *out)
{
	struct fp_counters one;

	memset(out, 0, sizeof(*out));
	if (fp == NULL)
		return;
	/* Tenant 0 counts only what was handed over; the rest, tenants. */
	fastpath_counters(fp, 0, &one);
	*out = fp->retired;
	out->fwd_slow = one.fwd_slow;
	out->rev_slow = one.rev_slow;
	for (size_t i = 1; i < fp->ntun; i++) {
		if (fp->tun_ifindex[i] == 0)
			continue;
		fastpath_counters(fp, (uint32_t)i, &one);
		out->fwd_packets += one.fwd_packets;
		out->fwd_bytes += one.fwd_bytes;
		out->rev_packets += one.rev_packets;
		out->rev_bytes += one.rev_bytes;
	}
}

unsigned
fastpath_links(const struct fastpath *fp)
{
	return fp != NULL ? fp->nlinks : 0;
}

void
fastpath_free(struct fastpath *fp)
{
	if (fp == NULL)
		return;
	if (fp->links_nl != NULL) {
		ev_io_stop(fp->loop, &fp->links_w);
		mnl_socket_close(fp->links_nl);
	}
	for (unsigned i = 0; i < fp->nlinks; i++)
		tc_detach(fp->links[i].ifindex, BPF_TC_INGRESS,
		    fp->links[i].created_qdisc);
	for (size_t i = 0; i < fp->ntun; i++)
		if (fp->tun_ifindex[i] != 0)
			tc_detach(fp->tun_ifindex[i], BPF_TC_EGRESS,
			    fp->tun_created_qdisc[i]);
	bpf_object__close(fp->obj);
	free(fp->tun_ifindex);
	free(fp->tun_created_qdisc);
	free(fp->percpu);
	free(fp->batch_keys);
	free(fp->batch_vals);
	free(fp);
}
