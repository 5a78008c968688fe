/*
 * status.c - what miphactl shows and clears: the control command handlers.
 *
 * Each handler describes its data once through the emitter (common/emit.h),
 * which renders it as JSON (field names fixed by the interface spec) or as
 * text for operators.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "control.h"
#include "ctl_proto.h"
#include "emit.h"
#include "fastpath.h"
#include "journal.h"
#include "log.h"
#include "mipha.h"
#include "netsetup.h"
#include "mip_proto.h"
#include "tunnel.h"

struct show_bindings_ctx {
	struct mipha		*d;
	struct emit		*out;
	const struct tenant	*only;
};

static int
show_binding(void *arg, const struct binding *b)
{
	struct show_bindings_ctx *c = arg;
	const struct tenant *t;

	if (c->only != NULL && b->tenant_id != c->only->id)
		return 0;
	if ((t = tenant_by_id(c->d->tenants, b->tenant_id)) == NULL)
		return 0;
	emit_object_begin(c->out, NULL);
	emit_str(c->out, "tenant", t->name);
	emit_addr(c->out, "home_address", b->hoa);
	emit_addr(c->out, "care_of_address", b->coa);
	emit_addr(c->out, "source_address", b->src);
	emit_uint(c->out, "source_port", b->sport);
	emit_str(c->out, "nai", b->mn != NULL ? b->mn->nai : NULL);
	emit_uint(c->out, "lifetime", b->lifetime);
	emit_uint(c->out, "remaining", binding_remaining(c->d->bindings, b));
	emit_str(c->out, "encapsulation", binding_encap_name(b->encap));
	emit_bool(c->out, "reverse_tunnel", (b->flags & BF_REVERSE) != 0);
	emit_bool(c->out, "via_fa", (b->flags & BF_VIA_FA) != 0);
	emit_bool(c->out, "simultaneous", (b->flags & BF_SIMULTANEOUS) != 0);
	/* RFC 2003 §5.1 soft state: 0 until a router told us less. */
	emit_uint(c->out, "path_mtu", b->path_mtu);
	emit_object_end(c->out);
	return 0;
}

static int
h_show_bindings(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	struct mipha *d = arg;
	struct show_bindings_ctx c = { d, out, NULL };

	if (req->tenant[0] != '\0' &&
	    (c.only = tenant_by_name(d->tenants, req->tenant)) == NULL) {
		snprintf(err, errlen, "no tenant named %s", req->tenant);
		return -1;
	}
	emit_array_begin(out, NULL);
	binding_foreach(d->bindings, show_binding, &c);
	emit_array_end(out);
	return 0;
}

/* Registration counters: accepted, denied by code, dropped by reason. */
static void
emit_reg_counters(struct emit *out, const struct reg_counters *rc)
{
	char code[8];

	emit_uint(out, "registrations_accepted", rc->accepted);
	emit_object_begin(out, "registrations_denied");
	for (int i = 0; i < 256; i++) {
		if (rc->denied[i] == 0)
			continue;
		snprintf(code, sizeof(code), "%d", i);
		emit_uint(out, code, rc->denied[i]);
	}
	emit_object_end(out);
	emit_object_begin(out, "registrations_dropped");
	for (int i = 0; i < DROP_MAX; i++)
		emit_uint(out, reg_drop_name(i), rc->dropped[i]);
	emit_object_end(out);
}

/*
 * Data-plane counters; all zero while no data plane runs. The packet
 * counts are both paths together; "fastpath" tells the kernel's share.
 */
static void
emit_dp_counters(struct emit *out, const struct dp_counters *c,
    const struct fastpath *fp, const struct fp_counters *f)
{
	static const struct dp_counters zero;

	if (c == NULL)
		c = &zero;
	emit_uint(out, "packets_tunneled", c->tunneled + f->fwd_packets);
	emit_uint(out, "packets_reverse_tunneled",
	    c->reverse_tunneled + f->rev_packets);
	emit_object_begin(out, "fastpath");
	emit_bool(out, "enabled", fp != NULL);
	emit_uint(out, "packets_tunneled", f->fwd_packets);
	emit_uint(out, "packets_reverse_tunneled", f->rev_packets);
	emit_uint(out, "octets_tunneled", f->fwd_bytes);
	emit_uint(out, "octets_reverse_tunneled", f->rev_bytes);
	emit_object_end(out);
	emit_uint(out, "icmp_sent", c->icmp_sent);
	emit_uint(out, "icmp_rate_limited", c->icmp_rate_limited);
	emit_object_begin(out, "packets_dropped");
	for (int i = 0; i < DPD_MAX; i++)
		emit_uint(out, dp_drop_name(i), c->dropped[i]);
	emit_object_end(out);
}

static int
h_show_tenants(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	struct mipha *d = arg;
	struct fp_counters f;

	(void)req;
	(void)err;
	(void)errlen;
	emit_array_begin(out, NULL);
	for (size_t i = 0; i < d->tenants->n; i++) {
		const struct tenant *t = d->tenants->t[i];
		char net[ADDR_PREFIX_STRLEN];

		emit_object_begin(out, NULL);
		emit_str(out, "name", t->name);
		emit_uint(out, "table", t->table);
		emit_addr(out, "vpn_gateway", t->vpn_gateway);
		emit_str(out, "home_network", addr_prefix_ntoa(&t->home_network, net));
		emit_str(out, "policy", t->policy == POLICY_OPEN ? "open" : "vpn-only");
		emit_str(out, "reverse_tunnel", t->reverse_tunnel == RT_REQUIRED ?
		    "required" : t->reverse_tunnel == RT_DENIED ? "denied" : "allowed");
		emit_str(out, "tun_name", t->tun_name);
		emit_uint(out, "mobile_nodes", t->nmns);
		emit_uint(out, "bindings", t->bindings);
		emit_reg_counters(out, &t->counters);
		fastpath_counters(d->fastpath, t->id, &f);
		emit_dp_counters(out, d->tunnel != NULL ?
		    tunnel_tenant_counters(d->tunnel, t->id) : NULL, d->fastpath,
		    &f);
		emit_object_end(out);
	}
	emit_array_end(out);
	return 0;
}

static int
h_show_stats(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	struct mipha *d = arg;
	struct fp_counters f;
	struct journal_stats js;

	(void)req;
	(void)err;
	(void)errlen;
	emit_object_begin(out, NULL);
	emit_reg_counters(out, &d->reg.counters);
	emit_uint(out, "bindings", binding_count(d->bindings));
	emit_uint(out, "mobile_nodes_bound", binding_nodes(d->bindings));
	emit_uint(out, "requests", d->reg.requests);
	emit_uint(out, "request_batches", d->reg.batches);
	fastpath_counters_total(d->fastpath, &f);
	emit_dp_counters(out, d->tunnel != NULL ? tunnel_counters(d->tunnel) :
	    NULL, d->fastpath, &f);
	emit_uint(out, "fastpath_interfaces", fastpath_links(d->fastpath));
	emit_uint(out, "fastpath_handed_to_userspace_forward", f.fwd_slow);
	emit_uint(out, "fastpath_handed_to_userspace_reverse", f.rev_slow);
	emit_uint(out, "reloads", d->reloads);
	emit_uint(out, "reload_failures", d->reload_failures);
	if (d->netsetup != NULL) {
		emit_uint(out, "proxy_arp_errors", d->netsetup->proxy_errors);
		emit_uint(out, "gratuitous_arp_sent", d->netsetup->garp_sent);
		emit_uint(out, "home_returns_announced",
		    d->netsetup->home_announced);
		emit_uint(out, "home_returns_unresolved",
		    d->netsetup->home_unresolved);
	}
	journal_stats(d->journal, &js);
	emit_uint(out, "journal_bytes", js.file_bytes);
	emit_uint(out, "journal_records", js.file_records);
	emit_uint(out, "journal_compactions", js.compactions);
	emit_bool(out, "journal_compacting", journal_compacting(d->journal));
	emit_object_end(out);
	return 0;
}

static int
h_clear_binding(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	struct mipha *d = arg;
	const struct tenant *t;
	char hoa[ADDR_STRLEN];
	unsigned n;

	addr_ntoa(req->hoa, hoa);
	if (req->tenant[0] != '\0') {
		if ((t = tenant_by_name(d->tenants, req->tenant)) == NULL) {
			snprintf(err, errlen, "no tenant named %s", req->tenant);
			return -1;
		}
	} else if ((t = tenant_by_home_addr(d->tenants, req->hoa)) == NULL) {
		snprintf(err, errlen, "no tenant has home address %s", hoa);
		return -1;
	}
	/*
	 * Registration Revocation (RFC 3543) is never negotiated by this home
	 * agent (it sends no Revocation Support extension), so clearing just
	 * removes the binding; the node re-registers when it notices.
	 */
	n = binding_remove_node(d->bindings, t->id, req->hoa, BINDING_CLEARED);
	if (n == 0) {
		snprintf(err, errlen, "no binding for %s in tenant %s", hoa, t->name);
		return -1;
	}
	log_notice("tenant %s: operator cleared %u binding(s) of HoA %s",
	    t->name, n, hoa);
	emit_object_begin(out, NULL);
	emit_str(out, "tenant", t->name);
	emit_addr(out, "home_address", req->hoa);
	emit_uint(out, "cleared", n);
	emit_object_end(out);
	return 0;
}

static int
h_reload(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	struct mipha *d = arg;
	char msg[4096];
	int rc;

	(void)req;
	rc = mipha_reload(d, msg, sizeof(msg));
	if (rc == -1) {
		snprintf(err, errlen, "%s", msg);
		return -1;
	}
	emit_object_begin(out, NULL);
	emit_str(out, "result", msg);
	emit_object_end(out);
	return 0;
}

void
status_register(struct mipha *d)
{
	control_set_handler(d->control, CTL_SHOW_BINDINGS, h_show_bindings, d);
	control_set_handler(d->control, CTL_SHOW_TENANTS, h_show_tenants, d);
	control_set_handler(d->control, CTL_SHOW_STATS, h_show_stats, d);
	control_set_handler(d->control, CTL_CLEAR_BINDING, h_clear_binding, d);
	control_set_handler(d->control, CTL_RELOAD, h_reload, d);
}
