/*
 * registration.c - Registration Request processing (RFC 5944 §3.8).
 *
 * reg_handle() is a flat list of checks in the order of RFC 5944
 * §3.8.2.1, then the policy checks of §3.8.2.3, RFC 3024 §3.4 and
 * RFC 5265 §3.7. Each check either discards the request (counted by
 * reason, never answered) or denies it with one reply code; a denial never
 * touches the binding table. Accepted requests update the table (§3.8.2.2)
 * and are made durable by the batch's group commit before any reply of the
 * batch is sent.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "binding.h"
#include "log.h"
#include "mip_msg.h"
#include "mip_proto.h"
#include "registration.h"

#define REG_BATCH		256	/* datagrams per recvmmsg */
#define REG_RL_RATE		50	/* denial replies per second and source */
#define REG_RL_BURST		200
#define REG_BUDGET		1024	/* requests per group commit */

static const char *const drop_names[DROP_MAX] = {
	[DROP_MALFORMED] = "malformed",
	[DROP_UNKNOWN_EXT] = "unknown-extension",
	[DROP_NO_SA] = "no-sa",
	[DROP_NO_AUTH_EXT] = "no-auth-ext",
	[DROP_RESERVED_SPI] = "reserved-spi",
	[DROP_FA_HA_UNEXPECTED] = "fa-ha-unexpected",
	[DROP_BAD_AUTH_FA] = "bad-auth-fa-unverified",
	[DROP_INTERNAL_SOURCE] = "internal-source",
	[DROP_NOT_REQUEST] = "not-request",
	[DROP_RATE_LIMITED] = "rate-limited",
};

const char *
reg_drop_name(enum reg_drop d)
{
	return (unsigned)d < DROP_MAX ? drop_names[d] : "?";
}

/* Everything one request needs while it is checked and answered. */
struct reg_req {
	struct mip_rrq		 q;
	enum mip_msg_err	 decode_err;
	const struct sockaddr_in *src;
	struct tenant		*tenant;
	struct mobile_node	*mn;
	struct foreign_agent	*fa;	/* FA SA for the source, if any */
	struct in_addr		 hoa;	/* the node's home address for the reply */
	bool			 at_home;	/* §3.8.3.1: returning home */
	uint64_t		 now_ntp;
	int64_t			 now_wall;
	double			 now_frac;
	enum mip_replay_verdict	 replay;
	/* reply */
	uint8_t			 code;
	uint16_t		 lifetime;
	uint64_t		 reply_id;
	bool			 udp_reply;	/* add a UDP Tunnel Reply */
	uint8_t			 udp_code;
	bool			 udp_force;
};

void
reg_init(struct reg_service *r, struct ev_loop *loop, struct binding_table *bt,
    const struct reg_settings *set)
{
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->bindings = bt;
	r->set = *set;
	r->io.fd = -1;
	r->rl = calloc(REG_RL_SLOTS, sizeof(*r->rl));
}

void
reg_free(struct reg_service *r)
{
	reg_close(r);
	free(r->rl);
	r->rl = NULL;
}

/*
 * Token bucket per source address (hashed; a collision shares a bucket,
 * which only ever makes the limit stricter).
 */
static bool
reply_allowed(struct reg_service *r, const struct reg_req *rq)
{
	uint32_t a = rq->src->sin_addr.s_addr;
	struct reg_rl_slot *sl;
	double now;

	if (r->rl == NULL)
		return true;
	sl = &r->rl[(uint32_t)(a * 2654435761u) >> 20];
	now = (double)rq->now_wall + rq->now_frac;
	if (sl->addr != a || sl->last == 0) {
		sl->addr = a;
		sl->tokens = REG_RL_BURST;
	} else if (now > sl->last) {
		sl->tokens += (float)((now - sl->last) * REG_RL_RATE);
		if (sl->tokens > REG_RL_BURST)
			sl->tokens = REG_RL_BURST;
	}
	sl->last = now;
	if (sl->tokens < 1)
		return false;
	sl->tokens -= 1;
	return true;
}

void
reg_set_tenants(struct reg_service *r, struct tenant_set *ts)
{
	r->tenants = ts;
}

void
reg_set_settings(struct reg_service *r, const struct reg_settings *set)
{
	/* The socket stays where it is; only limits change at reload. */
	r->set.max_lifetime = set->max_lifetime;
	r->set.replay_window = set->replay_window;
}

void
reg_set_commit(struct reg_service *r, int (*fn)(void *), void *arg)
{
	r->commit = fn;
	r->commit_arg = arg;
}

void
reg_set_tunnel_data(struct reg_service *r, void (*fn)(void *, uint8_t *,
    size_t, const struct sockaddr_in *), void *arg)
{
	r->tunnel_data = fn;
	r->tunnel_arg = arg;
}

void
reg_set_home_link(struct reg_service *r, int (*home_link)(void *, uint32_t),
    void (*came_home)(void *, uint32_t, struct in_addr), void *arg)
{
	r->home_link = home_link;
	r->came_home = came_home;
	r->home_arg = arg;
}

static void
fmt_addr(struct in_addr a, char *buf)
{
	if (inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN) == NULL)
		strcpy(buf, "?");
}

static void
count_drop(struct reg_service *r, struct reg_req *rq, enum reg_drop why)
{
	char src[INET_ADDRSTRLEN], hoa[INET_ADDRSTRLEN], coa[INET_ADDRSTRLEN];

	r->counters.dropped[why]++;
	if (rq->tenant != NULL)
		rq->tenant->counters.dropped[why]++;
	if (!log_rl_take(LOG_CLASS_REG_DROP, LOG_INFO))
		return;
	fmt_addr(rq->src->sin_addr, src);
	fmt_addr(rq->q.f.home_addr, hoa);
	fmt_addr(rq->q.f.coa, coa);
	log_msg(LOG_INFO,
	    "tenant %s: discarded request HoA %s CoA %s from %s:%u: %s",
	    rq->tenant != NULL ? rq->tenant->name : "-", hoa, coa, src,
	    ntohs(rq->src->sin_port), drop_names[why]);
}

static void
log_decision(struct reg_req *rq, const char *what)
{
	char src[INET_ADDRSTRLEN], hoa[INET_ADDRSTRLEN], coa[INET_ADDRSTRLEN];
	bool ok = MIP_CODE_IS_SUCCESS(rq->code);

	/* Take the token first: no formatting while a flood is suppressed. */
	if (!log_rl_take(ok ? LOG_CLASS_REG_OK : LOG_CLASS_REG_DENY,
	    ok ? LOG_INFO : LOG_NOTICE))
		return;
	fmt_addr(rq->src->sin_addr, src);
	fmt_addr(rq->hoa.s_addr != 0 ? rq->hoa : rq->q.f.home_addr, hoa);
	fmt_addr(rq->q.f.coa, coa);
	log_msg(ok ? LOG_INFO : LOG_NOTICE,
	    "tenant %s: %s HoA %s CoA %s from %s:%u lifetime %u code %u (%s)",
	    rq->tenant->name, what, hoa, coa, src, ntohs(rq->src->sin_port),
	    rq->lifetime, rq->code, mip_code_str(rq->code));
}

/*
 * Write the reply: fixed part, then the extensions in the order of
 * RFC 5944 §3.8.3.3 - the node's non-authentication extensions (NAI,
 * RFC 2794 §3; UDP Tunnel Reply, RFC 3519 §3.2), the MN-HA authenticator,
 * and the FA-HA authenticator when we share an SA with the relaying FA.
 */
static size_t
reply_build(struct reg_service *r, struct reg_req *rq, uint8_t *out, size_t cap)
{
	struct mip_rrp_fields f;
	struct wr w;
	size_t off;

	memset(&f, 0, sizeof(f));
	f.code = rq->code;
	f.lifetime = rq->lifetime;
	/* §3.8.3.2: a nonzero request HoA is copied; else the one we chose. */
	f.home_addr = rq->q.f.home_addr.s_addr != 0 ? rq->q.f.home_addr : rq->hoa;
	/* §3.8.3.2: our unicast address, also when the request had another. */
	f.ha_addr = r->set.ha_addr;
	f.id = rq->reply_id;
	wr_init(&w, out, cap);
	rrp_put(&w, &f);
	if (rq->q.ext.nai.present)
		mip_ext_put_nai(&w, rq->q.ext.nai.nai, rq->q.ext.nai.len);
	if (rq->udp_reply)
		mip_ext_put_udp_tunnel_reply(&w, rq->udp_force, rq->udp_code, 0);
	off = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, rq->mn->spi,
	    mip_auth_len(rq->mn->sa));
	if (off == 0 || w.overflow)
		return 0;
	if (mip_auth_sign(rq->mn->sa, out, off, out + off, cap - off) < 0)
		return 0;
	if (rq->fa != NULL) {
		off = mip_ext_put_auth(&w, MIP_EXT_FA_HA_AUTH, rq->fa->spi,
		    mip_auth_len(rq->fa->sa));
		if (off == 0 || w.overflow)
			return 0;
		if (mip_auth_sign(rq->fa->sa, out, off, out + off, cap - off) < 0)
			return 0;
	}
	return w.overflow ? 0 : w.off;
}

static uint32_t
random32(void)
{
	uint32_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint32_t)random();
	return v;
}

/* Deny with `code`; the binding table is not touched. */
static size_t
deny(struct reg_service *r, struct reg_req *rq, uint8_t code, uint8_t *out,
    size_t cap)
{
	enum mip_replay_mode mode = rq->mn->replay.mode;

	if (!reply_allowed(r, rq)) {
		count_drop(r, rq, DROP_RATE_LIMITED);
		return 0;
	}
	rq->code = code;
	rq->udp_reply = false;	/* RFC 3519: no tunnelling for a denial */
	rq->lifetime = 0;
	/*
	 * §5.7: the reply Identification follows the replay method. A 133
	 * carries the HA's clock or a fresh nonce so the node can resync; other
	 * denials echo the request (timestamps) or hand out a nonce. A request
	 * that failed authentication must not move the node's nonce: anyone
	 * knowing the home address could otherwise desynchronise it.
	 */
	if (code == MIP_CODE_HA_MN_AUTH)
		rq->reply_id = mip_replay_reply_id_unauth(&rq->mn->replay, mode,
		    rq->q.f.id, rq->now_ntp);
	else
		rq->reply_id = mip_replay_reply_id(&rq->mn->replay, mode,
		    code == MIP_CODE_HA_ID_MISMATCH ? rq->replay : MIP_REPLAY_OK,
		    rq->q.f.id, rq->now_ntp,
		    mode == MIP_REPLAY_NONCE ? random32() : 0);
	r->counters.denied[code]++;
	rq->tenant->counters.denied[code]++;
	log_decision(rq, "denied");
	return reply_build(r, rq, out, cap);
}

static enum binding_encap
requested_encap(const struct reg_req *rq)
{
	if (rq->udp_reply && rq->udp_code == MIP_UDP_TUNNEL_ACCEPT)
		return BIND_ENCAP_UDP;
	if (rq->q.f.flags & MIP_RRQ_F_G)
		return BIND_ENCAP_GRE;
	if (rq->q.f.flags & MIP_RRQ_F_M)
		return BIND_ENCAP_MINIMAL;
	return BIND_ENCAP_IPIP;
}

/* Pick the node's SA: by NAI when there is one (RFC 2794), else by HoA. */
static struct mobile_node *
find_node(struct reg_service *r, const struct mip_rrq *q)
{
	struct mobile_node *mn = NULL;

	if (q->ext.nai.present)
		mn = tenant_mn_by_nai(r->tenants, q->ext.nai.nai, q->ext.nai.len);
	if (mn == NULL && q->f.home_addr.s_addr != 0)
		mn = tenant_mn_by_hoa(r->tenants, q->f.home_addr);
	return mn;
}

size_t
reg_handle(struct reg_service *r, const uint8_t *msg, size_t len,
    const struct sockaddr_in *src, const struct timespec *now, uint8_t *out,
    size_t cap, int *oif)
{
	struct reg_req rq;
	struct mobile_node *mn;
	struct tenant *t;
	const struct mip_auth_ext *mnha, *faha;
	struct binding_params bp;
	struct binding *b;
	bool dereg, simultaneous;
	uint16_t maxlife;
	enum binding_encap encap;

	memset(&rq, 0, sizeof(rq));
	if (oif != NULL)
		*oif = 0;
	rq.src = src;
	rq.now_ntp = mip_ntp_from_timespec(now);
	rq.now_wall = now->tv_sec;
	rq.now_frac = now->tv_nsec / 1e9;
	r->requests++;

	if (log_enabled(LOG_DEBUG)) {
		char a[INET_ADDRSTRLEN];

		fmt_addr(src->sin_addr, a);
		log_debug("request from %s:%u, %zu bytes", a,
		    ntohs(src->sin_port), len);
	}
	if (len == 0) {
		count_drop(r, &rq, DROP_MALFORMED);
		return 0;
	}
	if (msg[0] != MIP_MSG_RRQ) {
		count_drop(r, &rq, DROP_NOT_REQUEST);
		return 0;
	}
	rq.decode_err = rrq_decode(msg, len, &rq.q);
	switch (rq.decode_err) {
	case MIP_MSG_OK:
		break;
	case MIP_MSG_EUNKNOWN:
		/* §1.8: a non-skippable extension we do not know. */
		count_drop(r, &rq, DROP_UNKNOWN_EXT);
		return 0;
	case MIP_MSG_ETYPE:
	case MIP_MSG_ESHORT:
		count_drop(r, &rq, DROP_MALFORMED);
		return 0;
	default:
		/*
		 * The fixed part is there but the extensions do not parse. We
		 * answer 134 only if what did parse authenticates the node
		 * (below); unauthenticated garbage is never answered.
		 */
		break;
	}

	/* §3.8.2.1 a: a security association with the node, or discard. */
	if ((mn = find_node(r, &rq.q)) == NULL) {
		count_drop(r, &rq, DROP_NO_SA);
		return 0;
	}
	rq.mn = mn;
	rq.tenant = t = mn->tenant;

	/*
	 * §3.8.3.1: a node deregistering from its home link (source and
	 * care-of address are its home address) gets the reply directly on
	 * the home network, bypassing its binding, whether we accept or not.
	 * Our home network route leads into the tenant's device, so the
	 * reply is sent out of the home link instead.
	 */
	{
		struct in_addr hoa = rq.q.f.home_addr.s_addr != 0 ?
		    rq.q.f.home_addr : mn->hoa;

		rq.at_home = hoa.s_addr != 0 &&
		    src->sin_addr.s_addr == hoa.s_addr &&
		    rq.q.f.coa.s_addr == hoa.s_addr;
		if (rq.at_home && oif != NULL && r->home_link != NULL)
			*oif = r->home_link(r->home_arg, t->id);
	}

	/* RFC 5265 §3.7: from inside the enterprise, the inner HA answers. */
	if (tenant_is_internal(t, src->sin_addr)) {
		count_drop(r, &rq, DROP_INTERNAL_SOURCE);
		return 0;
	}

	/* §3.8.2.1 a: an authorization-enabling extension must be present. */
	mnha = &rq.q.ext.mn_ha;
	if (!mnha->present) {
		/* Extensions that did not parse may have hidden it. */
		count_drop(r, &rq, rq.decode_err != MIP_MSG_OK ? DROP_MALFORMED :
		    DROP_NO_AUTH_EXT);
		return 0;
	}
	if (!mip_spi_valid(mnha->spi)) {
		count_drop(r, &rq, DROP_RESERVED_SPI);
		return 0;
	}
	if (mnha->spi != mn->spi) {
		/* We hold no SA under this SPI for the node. */
		count_drop(r, &rq, DROP_NO_SA);
		return 0;
	}

	/* §3.8.2.1 c/d need to know whether we share an SA with the sender. */
	rq.fa = tenant_fa(t, src->sin_addr);
	faha = &rq.q.ext.fa_ha;
	dereg = rq.q.f.lifetime == 0 ||
	    rq.q.f.coa.s_addr == rq.q.f.home_addr.s_addr;

	/* §3.8.2.1 a: check the MN-HA authenticator. */
	if (!mip_auth_verify(mn->sa, rq.q.msg, mnha->covered_len, mnha->auth,
	    mnha->auth_len)) {
		/*
		 * With an FA SA, answer 131 only if the FA vouches for the
		 * request (a valid FA-HA extension); without one we answer
		 * 131 (the MAY of §3.8.2.1 a), rate-limited per source like
		 * every denial.
		 */
		if (rq.fa != NULL && !(faha->present && faha->count == 1 &&
		    faha->spi == rq.fa->spi &&
		    mip_auth_verify(rq.fa->sa, rq.q.msg, faha->covered_len,
		    faha->auth, faha->auth_len))) {
			count_drop(r, &rq, DROP_BAD_AUTH_FA);
			return 0;
		}
		rq.hoa = mn->hoa;
		rq.replay = MIP_REPLAY_OK;
		return deny(r, &rq, MIP_CODE_HA_MN_AUTH, out, cap);
	}

	rq.hoa = mn->hoa;

	/* §3.8.2.1 b, §5.7: the Identification. */
	rq.replay = mip_replay_check(&mn->replay, mn->replay.mode, rq.q.f.id,
	    rq.now_ntp, r->set.replay_window);
	if (rq.replay != MIP_REPLAY_OK)
		return deny(r, &rq, MIP_CODE_HA_ID_MISMATCH, out, cap);
	/* Authentic and fresh: this Identification is used up now. */
	mip_replay_accept(&mn->replay, mn->replay.mode, rq.q.f.id);

	/*
	 * §3.8.2.1 c: with an FA SA, a registration (nonzero lifetime) needs
	 * exactly one valid FA-HA extension; §3.5.4: deregistrations carry
	 * none, and an FA relaying one must not be refused for lacking it.
	 */
	if (rq.fa != NULL && rq.q.f.lifetime != 0) {
		if (!faha->present || faha->count != 1 || faha->spi != rq.fa->spi ||
		    !mip_auth_verify(rq.fa->sa, rq.q.msg, faha->covered_len,
		    faha->auth, faha->auth_len))
			return deny(r, &rq, MIP_CODE_HA_FA_AUTH, out, cap);
	}
	/* §3.8.2.1 d: an FA-HA extension from an FA we share no SA with. */
	if (rq.fa == NULL && faha->present) {
		count_drop(r, &rq, DROP_FA_HA_UNEXPECTED);
		return 0;
	}

	/* §3.8.2.3: extensions that did not parse, reserved bits: 134. */
	if (rq.decode_err != MIP_MSG_OK || (rq.q.f.flags & MIP_RRQ_F_r))
		return deny(r, &rq, MIP_CODE_HA_BAD_REQUEST, out, cap);
	/* Contradictory encapsulations, or a node we cannot tell apart. */
	if ((rq.q.f.flags & (MIP_RRQ_F_G | MIP_RRQ_F_M)) ==
	    (MIP_RRQ_F_G | MIP_RRQ_F_M))
		return deny(r, &rq, MIP_CODE_HA_BAD_REQUEST, out, cap);
	if (rq.q.f.home_addr.s_addr == 0 && !rq.q.ext.nai.present)
		return deny(r, &rq, MIP_CODE_HA_BAD_REQUEST, out, cap);
	/* A care-of address nothing can be tunnelled to (registrations only). */
	if (!dereg && !addr_is_unicast(rq.q.f.coa))
		return deny(r, &rq, MIP_CODE_HA_BAD_REQUEST, out, cap);

	/* §3.8.3.2: a Home Agent field that is not us (e.g. broadcast): 136. */
	if (rq.q.f.ha_addr.s_addr != r->set.ha_addr.s_addr)
		return deny(r, &rq, MIP_CODE_HA_UNKNOWN_HA, out, cap);

	/* §3.8.3.2: a home address we cannot support for this node: 129. */
	if (rq.q.f.home_addr.s_addr != 0) {
		if (!addr_in_prefix(rq.q.f.home_addr, &t->home_network))
			return deny(r, &rq, MIP_CODE_HA_PROHIBITED, out, cap);
		if (mn->dynamic) {
			if (mn->hoa.s_addr != 0 &&
			    mn->hoa.s_addr != rq.q.f.home_addr.s_addr)
				return deny(r, &rq, MIP_CODE_HA_PROHIBITED, out, cap);
		} else if (mn->hoa.s_addr != rq.q.f.home_addr.s_addr)
			return deny(r, &rq, MIP_CODE_HA_PROHIBITED, out, cap);
	}

	/* RFC 3024 §3.4: reverse tunnelling per the tenant's policy. */
	if ((rq.q.f.flags & MIP_RRQ_F_T) && t->reverse_tunnel == RT_DENIED &&
	    !dereg)
		return deny(r, &rq, MIP_CODE_HA_RT_UNAVAIL, out, cap);
	if (!(rq.q.f.flags & MIP_RRQ_F_T) && t->reverse_tunnel == RT_REQUIRED &&
	    !dereg)
		return deny(r, &rq, MIP_CODE_HA_RT_MANDATORY, out, cap);

	/*
	 * RFC 3519 §3.2: UDP tunnelling when the node asks and either forces
	 * it (F) or a NAT sits between (source differs from the CoA).
	 */
	if (rq.q.ext.udp_req.present && !dereg) {
		uint8_t inner = rq.q.ext.udp_req.encap;

		rq.udp_reply = true;
		rq.udp_force = rq.q.ext.udp_req.force;
		/*
		 * RFC 3519 §3.1.4: IP-in-IP (the default) is what we carry
		 * inside UDP; GRE or minimal in UDP are not offered.
		 */
		if (inner != MIP_UDP_ENCAP_DEFAULT && inner != MIP_UDP_ENCAP_IPIP)
			return deny(r, &rq, MIP_CODE_HA_ENCAP, out, cap);
		if (rq.q.ext.udp_req.force ||
		    src->sin_addr.s_addr != rq.q.f.coa.s_addr) {
			if (!(t->encaps & (1u << BIND_ENCAP_UDP))) {
				rq.udp_reply = false;
				/* §3.1.1: a forced request we will not do: 129. */
				return deny(r, &rq, MIP_CODE_HA_PROHIBITED, out, cap);
			}
			rq.udp_code = MIP_UDP_TUNNEL_ACCEPT;
		} else
			rq.udp_code = MIP_UDP_TUNNEL_DECLINED;
	}
	encap = requested_encap(&rq);
	if (!dereg && !(t->encaps & (1u << encap)))
		return deny(r, &rq, MIP_CODE_HA_PROHIBITED, out, cap);

	simultaneous = (rq.q.f.flags & MIP_RRQ_F_S) && t->max_bindings > 1;

	/* §3.8.2.2: deregistration. */
	if (dereg) {
		struct in_addr hoa = rq.q.f.home_addr.s_addr != 0 ?
		    rq.q.f.home_addr : mn->hoa;

		rq.hoa = hoa;
		/*
		 * The removal records carry this request's Identification, so
		 * a restart cannot reopen it to replay (persist.c).
		 */
		for (struct binding *old = hoa.s_addr != 0 ? binding_lookup(
		    r->bindings, t->id, hoa) : NULL; old != NULL; old = old->next)
			old->id = rq.q.f.id;
		if (hoa.s_addr != 0) {
			if (rq.q.f.coa.s_addr == hoa.s_addr)
				binding_remove_node(r->bindings, t->id, hoa,
				    BINDING_DEREGISTERED);
			else
				binding_remove_coa(r->bindings, t->id, hoa,
				    rq.q.f.coa, BINDING_DEREGISTERED);
		}
		rq.code = (rq.q.f.flags & MIP_RRQ_F_S) && t->max_bindings <= 1 ?
		    MIP_CODE_ACCEPTED_NO_SIMUL : MIP_CODE_ACCEPTED;
		rq.lifetime = 0;
		rq.reply_id = mip_replay_reply_id(&mn->replay, mn->replay.mode,
		    MIP_REPLAY_OK, rq.q.f.id, rq.now_ntp,
		    mn->replay.mode == MIP_REPLAY_NONCE ? random32() : 0);
		rq.udp_reply = false;
		r->counters.accepted++;
		t->counters.accepted++;
		log_decision(&rq, rq.at_home ? "deregistered, at home" :
		    "deregistered");
		/* §4.6: back home, the node's own MAC is announced again. */
		if (rq.at_home && hoa.s_addr != 0 && r->came_home != NULL)
			r->came_home(r->home_arg, t->id, hoa);
		return reply_build(r, &rq, out, cap);
	}

	/* §3.8.2.3: more simultaneous bindings than allowed: 135. */
	if (simultaneous && mn->hoa.s_addr != 0 &&
	    binding_lookup_coa(r->bindings, t->id, mn->hoa, rq.q.f.coa) == NULL &&
	    binding_count_node(r->bindings, t->id, mn->hoa) >= t->max_bindings)
		return deny(r, &rq, MIP_CODE_HA_TOO_MANY_BINDINGS, out, cap);

	/* RFC 2794: a home address for a node known by its NAI. */
	if (mn->dynamic && mn->hoa.s_addr == 0) {
		int rc = rq.q.f.home_addr.s_addr != 0 ?
		    tenant_pool_claim(t, mn, rq.q.f.home_addr) :
		    tenant_pool_assign(t, mn);

		if (rc == -1)
			return deny(r, &rq, rq.q.f.home_addr.s_addr != 0 ?
			    MIP_CODE_HA_PROHIBITED : MIP_CODE_HA_RESOURCES, out, cap);
	}
	rq.hoa = mn->hoa;

	/* §3.8.2.2, §3.8.3.2: never more than asked, nor than we allow. */
	maxlife = r->set.max_lifetime;
	if (t->max_lifetime != 0 && t->max_lifetime < maxlife)
		maxlife = t->max_lifetime;
	rq.lifetime = rq.q.f.lifetime > maxlife ? maxlife : rq.q.f.lifetime;

	memset(&bp, 0, sizeof(bp));
	bp.mn = mn;
	bp.id = rq.q.f.id;
	bp.expires = rq.now_wall + rq.lifetime;
	bp.coa = rq.q.f.coa;
	bp.src = src->sin_addr;
	bp.sport = ntohs(src->sin_port);
	bp.lifetime = rq.lifetime;
	bp.encap = (uint8_t)encap;
	if (rq.q.f.flags & MIP_RRQ_F_T)
		bp.flags |= BF_REVERSE;
	if (!(rq.q.f.flags & MIP_RRQ_F_D))
		bp.flags |= BF_VIA_FA;
	else
		bp.flags |= BF_COLOCATED;
	if (simultaneous)
		bp.flags |= BF_SIMULTANEOUS;
	if (rq.q.f.flags & MIP_RRQ_F_B)
		bp.flags |= BF_BROADCAST;
	b = binding_set(r->bindings, t->id, mn->hoa, &bp, simultaneous);
	if (b == NULL) {
		if (mn->dynamic && binding_lookup(r->bindings, t->id, mn->hoa) == NULL)
			tenant_pool_release(t, mn);
		return deny(r, &rq, MIP_CODE_HA_RESOURCES, out, cap);
	}

	/* §3.8.3.2: code 1 when the node asked for S and we do not offer it. */
	rq.code = (rq.q.f.flags & MIP_RRQ_F_S) && !simultaneous ?
	    MIP_CODE_ACCEPTED_NO_SIMUL : MIP_CODE_ACCEPTED;
	rq.reply_id = mip_replay_reply_id(&mn->replay, mn->replay.mode,
	    MIP_REPLAY_OK, rq.q.f.id, rq.now_ntp,
	    mn->replay.mode == MIP_REPLAY_NONCE ? random32() : 0);
	r->counters.accepted++;
	t->counters.accepted++;
	log_decision(&rq, "accepted");
	return reply_build(r, &rq, out, cap);
}

/*
 * One readable event: drain the socket in batches up to REG_BUDGET
 * requests, make every accepted registration durable with one commit, then
 * send all replies (RFC 5944 §3.8.3 replies leave only after the binding is
 * on disk).
 */
static void
reg_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct reg_service *r = w->data;
	struct timespec now;
	unsigned handled = 0;

	(void)loop;
	(void)revents;
	if (clock_gettime(CLOCK_REALTIME, &now) == -1)
		return;
	while (handled < REG_BUDGET) {
		unsigned room = r->io.cap - r->io.ntx;
		int n;

		if (room == 0)
			break;
		n = udpio_recv(&r->io, room < REG_BATCH ? room : REG_BATCH);
		if (n <= 0) {
			if (n == -1)
				log_rl(LOG_CLASS_REG_DROP, LOG_WARNING,
				    "registration socket: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct udpio_slot *in = &r->io.rx[i];
			struct udpio_slot *o = udpio_tx_slot(&r->io);
			size_t len;

			if (in->len == 0) {
				/* Empty, or truncated: larger than a slot. */
				struct reg_req rq;

				memset(&rq, 0, sizeof(rq));
				rq.src = &in->peer;
				r->requests++;
				count_drop(r, &rq, DROP_MALFORMED);
				continue;
			}
			if (in->buf[0] == MIP_MSG_TUNNEL_DATA &&
			    r->tunnel_data != NULL) {
				/* RFC 3519 §3.3: data, not signalling. */
				r->tunnel_data(r->tunnel_arg, in->buf, in->len,
				    &in->peer);
				continue;
			}
			len = reg_handle(r, in->buf, in->len, &in->peer, &now,
			    o->buf, sizeof(o->buf), &o->ifindex);
			if (len > 0) {
				/* §3.8.3.1: back to the request's source and port. */
				o->peer = in->peer;
				udpio_tx_commit(&r->io, o, len);
			}
		}
		handled += (unsigned)n;
		if ((unsigned)n < REG_BATCH)
			break;
	}
	if (r->io.ntx == 0)
		return;
	r->batches++;
	if (r->commit != NULL && r->commit(r->commit_arg) == -1) {
		/*
		 * The batch is not durable: no reply may leave. The binding
		 * table already holds it, so stop here; a restart restores
		 * exactly what reached the disk.
		 */
		log_err("journal commit failed (%s): exiting without replying, "
		    "so no binding is acknowledged that is not on disk",
		    strerror(errno));
		_exit(3);
	}
	udpio_flush(&r->io);
}

int
reg_open(struct reg_service *r, char *err, size_t errlen)
{
	char a[INET_ADDRSTRLEN];

	if (udpio_open(&r->io, r->set.ha_addr, r->set.port, REG_BUDGET) == -1) {
		fmt_addr(r->set.ha_addr, a);
		snprintf(err, errlen, "cannot bind UDP %s:%u: %s", a, r->set.port,
		    strerror(errno));
		return -1;
	}
	r->io_open = true;
	ev_io_init(&r->io_w, reg_read_cb, r->io.fd, EV_READ);
	r->io_w.data = r;
	ev_io_start(r->loop, &r->io_w);
	return 0;
}

void
reg_close(struct reg_service *r)
{
	if (!r->io_open)
		return;
	ev_io_stop(r->loop, &r->io_w);
	udpio_close(&r->io);
	r->io_open = false;
}
