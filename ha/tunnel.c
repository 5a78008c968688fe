/*
 * tunnel.c - the userspace data plane.
 *
 * Forward (RFC 5944 §4.2.3): TUN read -> binding lookup -> tenant policy ->
 * encapsulation into the headroom of the buffer the packet was read into
 * (common/encap.c) -> sendmmsg on a raw IP_HDRINCL socket, one copy per
 * care-of address of the node (simultaneous bindings).
 *
 * Reverse (RFC 3024 §5.2): recvmmsg on the raw IPIP/GRE/minimal sockets ->
 * validation of every stripped header (common/encap.c) -> the outer source
 * must be a care-of address of a binding whose home address is the inner
 * source, with reverse tunnelling granted -> tenant policy -> TUN write.
 *
 * RFC 2003 §4/§5: inner TTL is decremented on encapsulation (time exceeded
 * sent when it runs out), DF is copied, and a DF datagram that does not fit
 * the tunnel gets ICMP fragmentation-needed with the tunnel's MTU; one
 * without DF is fragmented before encapsulation. ICMP we originate is rate
 * limited.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/icmp.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "encap.h"
#include "ip4.h"
#include "log.h"
#include "tenant.h"
#include "tunnel.h"
#include "wire.h"

#define TN_BATCH	64		/* datagrams per sendmmsg/recvmmsg */
#define TN_BUDGET	256		/* TUN reads per readable event */
#define TN_DATA		(65535)		/* largest datagram we handle */
#define TN_SLOT		(ENCAP_HEADROOM + 2048)
#define TN_TTL		64		/* outer TTL (RFC 2003 §3.1: "suitable") */
#define ICMP_RATE	100		/* ICMP errors per second ... */
#define ICMP_BURST	200		/* ... after a burst of this many */

enum { RX_IPIP, RX_GRE, RX_MINENC, RX_ICMP, RX_MAX };

struct tn_slot {
	uint8_t		 buf[TN_SLOT];
	uint8_t		*pkt;
	size_t		 len;
	struct sockaddr_in dst;
};

struct tn_tun {
	struct tunnel	*tn;
	const struct tenant *tenant;	/* of the running set; NULL if gone */
	uint32_t	 tenant_id;
	int		 fd;
	ev_io		 w;
	struct dp_counters c;
};

struct tunnel {
	struct ev_loop		*loop;
	struct binding_table	*bindings;
	struct tenant_set	*tenants;
	struct in_addr		 ha_addr;
	uint16_t		 mtu;
	uint16_t		 ip_id;
	int			 send_fd;
	int			 udp_fd;	/* the registration socket */
	int			 mtu_fd;	/* UDP, connected only to ask IP_MTU */
	uint16_t		 udp_port;
	int			 rx_fd[RX_MAX];
	ev_io			 rx_w[RX_MAX];
	struct tn_tun		**tuns;		/* indexed by tenant id */
	size_t			 ntuns;
	/* send ring */
	struct tn_slot		*tx;
	struct mmsghdr		 tx_hdr[TN_BATCH];
	struct iovec		 tx_iov[TN_BATCH];
	unsigned		 ntx;
	/* receive ring */
	struct tn_slot		*rx;
	struct mmsghdr		 rx_hdr[TN_BATCH];
	struct iovec		 rx_iov[TN_BATCH];
	/* scratch for copies, fragments and ICMP quotes */
	uint8_t			 scratch[TN_SLOT];
	uint8_t			 frag[TN_SLOT];
	uint8_t			 quote[TN_SLOT];
	/* A frag-needed to send once the ring has been flushed. */
	uint8_t			 pend[TN_SLOT];
	size_t			 pend_len;
	uint16_t		 pend_mtu;
	/* ICMP token bucket */
	double			 icmp_tokens;
	ev_tstamp		 icmp_last;
	struct dp_counters	 c;
};

static const char *const dp_drop_names[DPD_MAX] = {
	[DPD_NO_BINDING] = "no-binding",
	[DPD_WRONG_COA] = "wrong-coa",
	[DPD_SPOOFED_SOURCE] = "spoofed-source",
	[DPD_POLICY] = "policy",
	[DPD_REVERSE_NOT_ALLOWED] = "reverse-tunnel-not-allowed",
	[DPD_DECAP_MALFORMED] = "decap-malformed",
	[DPD_TTL_EXCEEDED] = "ttl-exceeded",
	[DPD_TOO_BIG] = "too-big",
	[DPD_WRONG_ENCAP] = "wrong-encapsulation",
	[DPD_NOT_FOR_US] = "not-for-us",
	[DPD_NO_TENANT] = "no-tenant",
	[DPD_SEND_FAILED] = "send-failed",
	[DPD_ENCAP_UNAVAILABLE] = "encapsulation-unavailable",
};

const char *
dp_drop_name(enum dp_drop d)
{
	return (unsigned)d < DPD_MAX ? dp_drop_names[d] : "?";
}

static struct tn_tun *
tun_of(const struct tunnel *tn, uint32_t tenant_id)
{
	return tenant_id < tn->ntuns ? tn->tuns[tenant_id] : NULL;
}

static void
drop(struct tunnel *tn, struct tn_tun *tt, enum dp_drop why)
{
	tn->c.dropped[why]++;
	if (tt != NULL)
		tt->c.dropped[why]++;
}

/* "SRC -> DST proto P[ port SP -> DP]" of an IPv4 datagram. */
static void
pkt_desc(char *buf, size_t cap, const struct ip4_hdr *h, const uint8_t *pkt,
    size_t len)
{
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET, &h->src, src, sizeof(src));
	inet_ntop(AF_INET, &h->dst, dst, sizeof(dst));
	n = snprintf(buf, cap, "%s -> %s proto %u", src, dst, h->proto);
	if ((h->proto == IP4_PROTO_UDP || h->proto == IP4_PROTO_TCP) &&
	    (h->frag & IP4_OFFMASK) == 0 && len >= (size_t)h->hlen + 4 &&
	    n > 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, " port %u -> %u",
		    get_be16(pkt + h->hlen), get_be16(pkt + h->hlen + 2));
}

/*
 * Count a drop and, with -v, say what was dropped from or to whom:
 * rate-limited, as remote input decides how often it happens.
 */
static void __attribute__((format(printf, 4, 5)))
drop_said(struct tunnel *tn, struct tn_tun *tt, enum dp_drop why,
    const char *fmt, ...)
{
	char what[200];
	va_list ap;

	drop(tn, tt, why);
	if (!log_enabled(LOG_DEBUG) || !log_rl_take(LOG_CLASS_DATA, LOG_DEBUG))
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_debug("%s%s%sdropped (%s): %s",
	    tt != NULL && tt->tenant != NULL ? "tenant " : "",
	    tt != NULL && tt->tenant != NULL ? tt->tenant->name : "",
	    tt != NULL && tt->tenant != NULL ? ": " : "",
	    dp_drop_names[why], what);
}

/* ---- policy (RFC 5265 with an external HA; interface spec "vpn-only") ---- */

static bool
port_is_ike(uint16_t port)
{
	return port == 500 || port == 4500;	/* IKE, RFC 3948 NAT-T */
}

/*
 * Is pkt (header h) ESP or IKE between `hoa` and `gw`, in the direction
 * `to_gw`? With `quoted`, the datagram is the quote inside an ICMP error and
 * may be cut short after 8 octets of payload (RFC 792), which still holds
 * the ports.
 */
static bool
is_vpn_traffic(const uint8_t *pkt, size_t len, const struct ip4_hdr *h,
    bool to_gw, struct in_addr gw)
{
	const uint8_t *l4 = pkt + h->hlen;
	size_t l4len = len > h->hlen ? len - h->hlen : 0;
	uint16_t port;

	if ((to_gw ? h->dst.s_addr : h->src.s_addr) != gw.s_addr)
		return false;
	if (ip4_is_fragment(h) && (h->frag & IP4_OFFMASK) != 0)
		/*
		 * Later fragments carry no ports. To or from the gateway only,
		 * ESP or UDP may pass them: large IKE_AUTH messages and
		 * UDP-encapsulated ESP (RFC 3948) arrive fragmented.
		 */
		return h->proto == IP4_PROTO_ESP || h->proto == IP4_PROTO_UDP;
	if (h->proto == IP4_PROTO_ESP)
		return true;
	if (h->proto != IP4_PROTO_UDP || l4len < 4)
		return false;
	/* The gateway's port: the destination going there, the source back. */
	port = to_gw ? get_be16(l4 + 2) : get_be16(l4);
	return port_is_ike(port);
}

/* ICMP errors about allowed traffic, so path MTU discovery works. */
static bool
is_vpn_icmp(const uint8_t *pkt, size_t len, const struct ip4_hdr *h,
    bool to_gw, struct in_addr gw)
{
	const uint8_t *icmp = pkt + h->hlen;
	size_t ilen = len > h->hlen ? len - h->hlen : 0;
	struct ip4_hdr q;
	uint8_t type;

	if (h->proto != IP4_PROTO_ICMP || ilen < ICMP4_HDR_LEN + IP4_HDR_LEN ||
	    ip4_is_fragment(h))
		return false;
	type = icmp[0];
	if (type != ICMP4_UNREACH && type != ICMP4_TIME_EXCEEDED &&
	    type != ICMP4_PARAM_PROBLEM)
		return false;
	if (ip4_parse_quoted(icmp + ICMP4_HDR_LEN, ilen - ICMP4_HDR_LEN, &q) !=
	    IP4_OK)
		return false;
	/* The quoted datagram went the other way. */
	return is_vpn_traffic(icmp + ICMP4_HDR_LEN, ilen - ICMP4_HDR_LEN, &q,
	    !to_gw, gw);
}

static bool
policy_allows(const struct tenant *t, const uint8_t *pkt, size_t len,
    const struct ip4_hdr *h, bool to_gw)
{
	if (t->policy == POLICY_OPEN)
		return true;
	return is_vpn_traffic(pkt, len, h, to_gw, t->vpn_gateway) ||
	    is_vpn_icmp(pkt, len, h, to_gw, t->vpn_gateway);
}

/* ---- sending ---- */

static unsigned
route_mtu(struct tunnel *tn, struct in_addr dst)
{
	struct sockaddr_in sin;
	struct sockaddr unspec;
	int mtu = 0;
	socklen_t len = sizeof(mtu);

	if (tn->mtu_fd == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr = dst;
	if (connect(tn->mtu_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockopt(tn->mtu_fd, IPPROTO_IP, IP_MTU, &mtu, &len) == -1)
		mtu = 0;
	memset(&unspec, 0, sizeof(unspec));
	unspec.sa_family = AF_UNSPEC;
	(void)connect(tn->mtu_fd, &unspec, sizeof(unspec));
	return mtu >= IP4_MIN_MTU ? (unsigned)mtu : 0;
}

static void icmp_send(struct tunnel *, uint8_t, uint8_t, uint16_t,
    const uint8_t *, size_t);

/*
 * The kernel refused a tunnel packet as larger than the route's MTU (a
 * link narrower than we assumed, or a learnt path MTU): remember the MTU
 * for the binding (RFC 2003 §5.1 soft state), and tell a DF sender.
 */
static void
learn_link_mtu(struct tunnel *tn, const struct tn_slot *s)
{
	struct decap_result r;
	const struct tenant *t;
	struct binding *b;
	unsigned mtu;

	if (s->len > sizeof(tn->frag))
		return;
	memcpy(tn->frag, s->pkt, s->len);
	if (decap_ip(tn->frag, s->len, ENCAP_ANY, &r) != DECAP_OK ||
	    tn->tenants == NULL ||
	    (t = tenant_by_home_addr(tn->tenants, r.inner.dst)) == NULL ||
	    (b = binding_lookup_coa(tn->bindings, t->id, r.inner.dst,
	    r.outer.dst)) == NULL ||
	    (mtu = route_mtu(tn, r.outer.dst)) == 0 || mtu >= s->len)
		return;
	b->path_mtu = (uint16_t)mtu;
	binding_soft_changed(tn->bindings, b);
	if ((r.inner.frag & IP4_DF) && tn->pend_len == 0) {
		/* Sent after the flush: the ring is busy now. */
		memcpy(tn->pend, tn->frag + r.inner_off, r.inner_len);
		tn->pend_len = r.inner_len;
		tn->pend_mtu = (uint16_t)(mtu - (s->len - r.inner_len));
	}
}

void
tunnel_flush(struct tunnel *tn)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < tn->ntx; i++) {
		tn->tx_iov[i].iov_base = tn->tx[i].pkt;
		tn->tx_iov[i].iov_len = tn->tx[i].len;
		memset(&tn->tx_hdr[i].msg_hdr, 0, sizeof(tn->tx_hdr[i].msg_hdr));
		tn->tx_hdr[i].msg_hdr.msg_name = &tn->tx[i].dst;
		tn->tx_hdr[i].msg_hdr.msg_namelen = sizeof(tn->tx[i].dst);
		tn->tx_hdr[i].msg_hdr.msg_iov = &tn->tx_iov[i];
		tn->tx_hdr[i].msg_hdr.msg_iovlen = 1;
	}
	while (sent < tn->ntx) {
		int n = sendmmsg(tn->send_fd, tn->tx_hdr + sent, tn->ntx - sent, 0);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EMSGSIZE)
				learn_link_mtu(tn, &tn->tx[sent]);
			/* Skip the datagram the kernel refused and go on. */
			drop(tn, NULL, errno == EMSGSIZE ? DPD_TOO_BIG :
			    DPD_SEND_FAILED);
			if (tn->c.tunneled > 0)
				tn->c.tunneled--;
			sent++;
			continue;
		}
		sent += (unsigned)n;
	}
	tn->ntx = 0;
	if (tn->pend_len > 0) {
		size_t len = tn->pend_len;

		tn->pend_len = 0;
		icmp_send(tn, ICMP4_UNREACH, ICMP4_UNREACH_NEEDFRAG, tn->pend_mtu,
		    tn->pend, len);
		if (tn->ntx > 0)
			tunnel_flush(tn);
	}
}

/* The next free send slot, flushing the ring when it is full. */
static struct tn_slot *
tx_slot(struct tunnel *tn)
{
	if (tn->ntx == TN_BATCH)
		tunnel_flush(tn);
	return &tn->tx[tn->ntx];
}

static void
tx_queue(struct tunnel *tn, struct tn_slot *s, uint8_t *pkt, size_t len,
    struct in_addr dst)
{
	s->pkt = pkt;
	s->len = len;
	memset(&s->dst, 0, sizeof(s->dst));
	s->dst.sin_family = AF_INET;
	s->dst.sin_addr = dst;
	tn->ntx++;
}

/* RFC 1812 §4.3.2.8-style rate limit on the errors we originate. */
static bool
icmp_allowed(struct tunnel *tn)
{
	ev_tstamp now = ev_now(tn->loop);

	tn->icmp_tokens += (now - tn->icmp_last) * ICMP_RATE;
	if (tn->icmp_tokens > ICMP_BURST)
		tn->icmp_tokens = ICMP_BURST;
	tn->icmp_last = now;
	if (tn->icmp_tokens < 1) {
		tn->c.icmp_rate_limited++;
		return false;
	}
	tn->icmp_tokens -= 1;
	return true;
}

/* Send an ICMP error about `orig` back to its sender, from the HA address. */
static void
icmp_send(struct tunnel *tn, uint8_t type, uint8_t code, uint16_t mtu,
    const uint8_t *orig, size_t orig_len)
{
	struct icmp4_error e;
	struct ip4_hdr oh;
	struct tn_slot *s;
	size_t n;

	if (!icmp4_error_allowed(orig, orig_len) || !icmp_allowed(tn))
		return;
	/* orig may sit in the very slot we are about to build into. */
	if (orig_len > sizeof(tn->quote))
		orig_len = sizeof(tn->quote);
	memcpy(tn->quote, orig, orig_len);
	orig = tn->quote;
	if (ip4_parse_quoted(orig, orig_len, &oh) != IP4_OK)
		return;
	memset(&e, 0, sizeof(e));
	e.type = type;
	e.code = code;
	e.mtu = mtu;
	e.src = tn->ha_addr;
	e.id = tn->ip_id++;
	s = tx_slot(tn);
	n = icmp4_build_error(s->buf, sizeof(s->buf), &e, orig, orig_len);
	if (n == 0)
		return;
	tx_queue(tn, s, s->buf, n, oh.src);
	tn->c.icmp_sent++;
}

/* ---- forward: TUN -> care-of addresses ---- */

static enum encap_type
wire_encap(uint8_t bind_encap)
{
	switch (bind_encap) {
	case BIND_ENCAP_GRE:
		return ENCAP_GRE;
	case BIND_ENCAP_MINIMAL:
		return ENCAP_MINIMAL;
	default:
		return ENCAP_IPIP;
	}
}

/*
 * RFC 2003 §3.2 (routing loops): a datagram from the tunnel's exit point
 * must not be sent back into the tunnel. Our own address is not checked:
 * ICMP errors this host's kernel sends to a home address (time exceeded,
 * fragmentation needed) must reach the node.
 */
static bool
h_src_is_endpoint(const uint8_t *pkt, struct in_addr coa)
{
	struct in_addr src;

	memcpy(&src, pkt + 12, 4);	/* ip4_parse() checked the header */
	return src.s_addr == coa.s_addr;
}

static void
params_for(struct tunnel *tn, const struct binding *b, enum encap_type type,
    struct encap_params *p)
{
	memset(p, 0, sizeof(*p));
	p->type = type;
	/*
	 * Not ENCAP_F_FORWARDING: the kernel already forwarded the datagram
	 * into the TUN device, decrementing its TTL and answering time
	 * exceeded itself - that is this router's hop (RFC 2003 §3.1 asks for
	 * one decrement, not two). The loop rule of §3.2 is checked by the
	 * caller.
	 */
	p->flags = 0;
	if (type == ENCAP_GRE && b->gre_key != 0) {
		p->flags |= ENCAP_F_GRE_KEY;
		p->gre_key = b->gre_key;
	}
	p->src = tn->ha_addr;
	p->dst = b->coa;
	p->ttl = TN_TTL;
	p->mtu = b->path_mtu != 0 && b->path_mtu < tn->mtu ? b->path_mtu : tn->mtu;
	p->ip_id = &tn->ip_id;
}

/*
 * RFC 3519 §4.3: IP-in-IP inside UDP, to the address and port the
 * registration came from (the NAT's mapping), from port 434. The UDP and
 * outer IP headers are the socket's; we write the MIP Tunnel Data header
 * and the inner IP header ourselves. Sent at once: this path is for nodes
 * behind NATs, not the bulk path.
 */
static void
udp_send(struct tunnel *tn, struct tn_tun *tt, const struct encap_result *r,
    const struct sockaddr_in *to)
{
	if (sendto(tn->udp_fd, r->pkt + r->udp_payload, r->len - r->udp_payload,
	    0, (const struct sockaddr *)to, sizeof(*to)) == -1) {
		drop(tn, tt, DPD_SEND_FAILED);
		return;
	}
	tn->c.tunneled++;
	tt->c.tunneled++;
}

static bool
forward_udp(struct tunnel *tn, struct tn_tun *tt, const struct binding *b,
    struct tn_slot *s, size_t headroom, size_t len)
{
	struct encap_params p;
	struct encap_result r;
	struct sockaddr_in to;
	enum encap_err err;

	if (tn->udp_fd == -1) {
		drop(tn, tt, DPD_ENCAP_UNAVAILABLE);
		return false;
	}
	params_for(tn, b, ENCAP_IPIP, &p);
	p.flags |= ENCAP_F_UDP;
	p.dst = b->src;
	p.sport = tn->udp_port;
	p.dport = b->sport;
	err = encap_packet(s->buf, headroom, len, &p, &r);
	if (err == ENCAP_ERR_TOO_BIG) {
		icmp_send(tn, ICMP4_UNREACH, ICMP4_UNREACH_NEEDFRAG, r.mtu,
		    s->buf + headroom, len);
		drop(tn, tt, DPD_TOO_BIG);
		return false;
	}
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = b->src;
	to.sin_port = htons(b->sport);
	if (err == ENCAP_ERR_FRAG_NEEDED) {
		/* RFC 3519 §4.8: fragment the inner datagram, then tunnel. */
		struct ip4_frag f;
		uint16_t mtu = r.mtu;

		memcpy(tn->frag, s->buf + headroom, len);
		if (ip4_frag_init(&f, tn->frag, len, mtu) != IP4_OK) {
			drop(tn, tt, DPD_TOO_BIG);
			return false;
		}
		for (;;) {
			size_t flen = ip4_frag_next(&f, s->buf + ENCAP_HEADROOM,
			    sizeof(s->buf) - ENCAP_HEADROOM);

			if (flen == 0)
				return false;
			if (encap_packet(s->buf, ENCAP_HEADROOM, flen, &p, &r) !=
			    ENCAP_OK) {
				drop(tn, tt, DPD_TOO_BIG);
				return false;
			}
			udp_send(tn, tt, &r, &to);
		}
	}
	if (err != ENCAP_OK) {
		drop(tn, tt, DPD_DECAP_MALFORMED);
		return false;
	}
	udp_send(tn, tt, &r, &to);
	return false;	/* the slot was not queued: it may be reused */
}

/*
 * Encapsulate the datagram at buf+headroom (len octets) for one binding
 * and queue it; `s` is the send slot that holds buf. Returns false when
 * the datagram was dropped (counted).
 */
static bool
forward_one(struct tunnel *tn, struct tn_tun *tt, const struct binding *b,
    struct tn_slot *s, size_t headroom, size_t len)
{
	struct encap_params p;
	struct encap_result r;
	struct ip4_frag f;
	enum encap_type type = wire_encap(b->encap);
	enum encap_err err;

	/* RFC 2003 §3.2: never tunnel a datagram back to where it came from. */
	if (h_src_is_endpoint(s->buf + headroom, b->coa)) {
		drop(tn, tt, DPD_DECAP_MALFORMED);
		return false;
	}
	if (b->encap == BIND_ENCAP_UDP)
		return forward_udp(tn, tt, b, s, headroom, len);
	params_for(tn, b, type, &p);
	err = encap_packet(s->buf, headroom, len, &p, &r);
	if (err == ENCAP_ERR_FRAGMENT) {
		/* RFC 2004 §3: fragments go in IP-in-IP instead. */
		params_for(tn, b, ENCAP_IPIP, &p);
		err = encap_packet(s->buf, headroom, len, &p, &r);
	}
	switch (err) {
	case ENCAP_OK:
		tx_queue(tn, s, r.pkt, r.len, b->coa);
		tn->c.tunneled++;
		tt->c.tunneled++;
		return true;
	case ENCAP_ERR_TTL:
		icmp_send(tn, ICMP4_TIME_EXCEEDED, ICMP4_TIMX_INTRANS, 0,
		    s->buf + headroom, len);
		drop(tn, tt, DPD_TTL_EXCEEDED);
		return false;
	case ENCAP_ERR_TOO_BIG:
		/* RFC 2003 §5.1: tell the sender the MTU inside the tunnel. */
		icmp_send(tn, ICMP4_UNREACH, ICMP4_UNREACH_NEEDFRAG, r.mtu,
		    s->buf + headroom, len);
		drop(tn, tt, DPD_TOO_BIG);
		return false;
	case ENCAP_ERR_FRAG_NEEDED:
		break;
	default:
		drop(tn, tt, DPD_DECAP_MALFORMED);
		return false;
	}
	/* No DF: fragment the inner datagram to fit, then encapsulate each. */
	memcpy(tn->frag, s->buf + headroom, len);
	if (ip4_frag_init(&f, tn->frag, len, r.mtu) != IP4_OK) {
		drop(tn, tt, DPD_TOO_BIG);
		return false;
	}
	for (;;) {
		struct tn_slot *fs = tx_slot(tn);
		size_t flen = ip4_frag_next(&f, fs->buf + ENCAP_HEADROOM,
		    sizeof(fs->buf) - ENCAP_HEADROOM);

		if (flen == 0)
			break;
		params_for(tn, b, type == ENCAP_MINIMAL ? ENCAP_IPIP : type, &p);
		if (encap_packet(fs->buf, ENCAP_HEADROOM, flen, &p, &r) != ENCAP_OK) {
			drop(tn, tt, DPD_TOO_BIG);
			return false;
		}
		tx_queue(tn, fs, r.pkt, r.len, b->coa);
		tn->c.tunneled++;
		tt->c.tunneled++;
	}
	return true;
}

/* Forward the datagram read into slot s (at ENCAP_HEADROOM, len octets). */
static void
forward_slot(struct tunnel *tn, uint32_t tenant_id, struct tn_slot *slot,
    size_t len)
{
	struct tn_tun *tt = tun_of(tn, tenant_id);
	const struct tenant *t;
	const struct binding *b;
	struct ip4_hdr h;
	uint8_t *pkt = slot->buf + ENCAP_HEADROOM;

	/* The device's tenant, looked up once per reload, not per packet. */
	t = tt != NULL ? tt->tenant : NULL;
	if (t == NULL) {
		drop(tn, tt, DPD_NO_TENANT);
		return;
	}
	if (len > 0 && (pkt[0] >> 4) == 6)
		return;		/* IPv6 on the device (disabled at set-up) */
	if (ip4_parse(pkt, len, &h) != IP4_OK || h.tot_len != len) {
		drop_said(tn, tt, DPD_DECAP_MALFORMED, "%zu octets from the "
		    "device that are no IPv4 datagram", len);
		return;
	}
	/* Policy first: nobody may probe which home addresses are bound. */
	if (!policy_allows(t, pkt, len, &h, false)) {
		if (log_enabled(LOG_DEBUG)) {
			char d[120];

			pkt_desc(d, sizeof(d), &h, pkt, len);
			drop_said(tn, tt, DPD_POLICY, "towards a home address: "
			    "%s", d);
		} else
			drop(tn, tt, DPD_POLICY);
		return;
	}
	if ((b = binding_lookup(tn->bindings, tenant_id, h.dst)) == NULL) {
		/* Nobody to tunnel to: host unreachable, rate-limited. */
		icmp_send(tn, ICMP4_UNREACH, ICMP4_UNREACH_HOST, 0, pkt, len);
		if (log_enabled(LOG_DEBUG)) {
			char d[120];

			pkt_desc(d, sizeof(d), &h, pkt, len);
			drop_said(tn, tt, DPD_NO_BINDING, "%s", d);
		} else
			drop(tn, tt, DPD_NO_BINDING);
		return;
	}
	/*
	 * The first binding encapsulates in place; further care-of addresses
	 * (simultaneous bindings, RFC 5944 §3.6.1.2) each get a copy, taken
	 * before the first encapsulation rewrites TTL and headers.
	 */
	if (b->next != NULL)
		memcpy(tn->scratch, pkt, len);
	for (const struct binding *bb = b; bb != NULL; bb = bb->next) {
		struct tn_slot *s;

		if (bb == b) {
			forward_one(tn, tt, bb, slot, ENCAP_HEADROOM, len);
			continue;
		}
		s = tx_slot(tn);
		memcpy(s->buf + ENCAP_HEADROOM, tn->scratch, len);
		forward_one(tn, tt, bb, s, ENCAP_HEADROOM, len);
	}
}

void
tunnel_forward(struct tunnel *tn, uint32_t tenant_id, const uint8_t *pkt,
    size_t len)
{
	struct tn_slot *s = tx_slot(tn);

	if (len > sizeof(s->buf) - ENCAP_HEADROOM) {
		drop(tn, tun_of(tn, tenant_id), DPD_TOO_BIG);
		return;
	}
	memcpy(s->buf + ENCAP_HEADROOM, pkt, len);
	forward_slot(tn, tenant_id, s, len);
}

static void
tun_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tn_tun *tt = w->data;
	struct tunnel *tn = tt->tn;

	(void)loop;
	(void)revents;
	for (unsigned n = 0; n < TN_BUDGET; n++) {
		struct tn_slot *s = tx_slot(tn);
		ssize_t len = read(tt->fd, s->buf + ENCAP_HEADROOM,
		    sizeof(s->buf) - ENCAP_HEADROOM);

		if (len <= 0) {
			if (len == -1 && errno != EAGAIN && errno != EINTR)
				log_rl(LOG_CLASS_DATA, LOG_WARNING,
				    "tunnel device read: %s", strerror(errno));
			break;
		}
		/* The slot is taken only if forward_one queues it. */
		forward_slot(tn, tt->tenant_id, s, (size_t)len);
	}
	tunnel_flush(tn);
}

/* ---- reverse: care-of addresses -> TUN ---- */

/*
 * The checks every reverse-tunnelled datagram passes (RFC 3024 §5.2), then
 * delivery into the tenant's device. `udp_src`/`udp_sport` are set for
 * RFC 3519 tunnels, whose endpoint is the registration's source.
 */
static void
reverse_deliver(struct tunnel *tn, uint8_t *pkt, const struct decap_result *r,
    bool udp, struct in_addr peer, uint16_t peer_port)
{
	const struct tenant *t;
	const struct binding *b;
	struct tn_tun *tt;
	uint8_t *inner;

	char from[INET_ADDRSTRLEN], hoa[INET_ADDRSTRLEN];

	/* Formatted only for -v (drop_said); two stores, not two memsets. */
	from[0] = hoa[0] = '\0';
	if (log_enabled(LOG_DEBUG)) {
		inet_ntop(AF_INET, &peer, from, sizeof(from));
		inet_ntop(AF_INET, &r->inner.src, hoa, sizeof(hoa));
	}
	if (tn->tenants == NULL ||
	    (t = tenant_by_home_addr(tn->tenants, r->inner.src)) == NULL) {
		drop_said(tn, NULL, DPD_SPOOFED_SOURCE, "tunnelled from %s, "
		    "inner source %s in no tenant's home network", from, hoa);
		return;
	}
	tt = tun_of(tn, t->id);
	/* Only from a care-of address of the inner source's binding. */
	if ((b = binding_lookup(tn->bindings, t->id, r->inner.src)) == NULL) {
		drop_said(tn, tt, DPD_SPOOFED_SOURCE, "tunnelled from %s, "
		    "inner source %s has no binding", from, hoa);
		return;
	}
	for (; b != NULL; b = b->next) {
		if (udp ? (b->encap == BIND_ENCAP_UDP &&
		    b->src.s_addr == peer.s_addr && b->sport == peer_port) :
		    b->coa.s_addr == peer.s_addr)
			break;
	}
	if (b == NULL) {
		drop_said(tn, tt, DPD_WRONG_COA, "HoA %s tunnelled from %s%s, "
		    "not a care-of address of its binding", hoa, from,
		    udp ? " (UDP)" : "");
		return;
	}
	if (!udp && wire_encap(b->encap) != r->encap &&
	    !(b->encap == BIND_ENCAP_MINIMAL && r->encap == ENCAP_IPIP)) {
		drop_said(tn, tt, DPD_WRONG_ENCAP, "HoA %s from CoA %s: "
		    "registered %s", hoa, from, binding_encap_name(b->encap));
		return;
	}
	if (!(b->flags & BF_REVERSE) || t->reverse_tunnel == RT_DENIED) {
		drop_said(tn, tt, DPD_REVERSE_NOT_ALLOWED, "HoA %s from CoA %s",
		    hoa, from);
		return;
	}
	inner = pkt + r->inner_off;
	if (!policy_allows(t, inner, r->inner_len, &r->inner, true)) {
		if (log_enabled(LOG_DEBUG)) {
			char d[120];

			pkt_desc(d, sizeof(d), &r->inner, inner, r->inner_len);
			drop_said(tn, tt, DPD_POLICY, "from CoA %s: %s", from, d);
		} else
			drop(tn, tt, DPD_POLICY);
		return;
	}
	if (tt == NULL) {
		drop(tn, NULL, DPD_NO_TENANT);
		return;
	}
	if (write(tt->fd, inner, r->inner_len) != (ssize_t)r->inner_len) {
		drop(tn, tt, DPD_SEND_FAILED);
		return;
	}
	tn->c.reverse_tunneled++;
	tt->c.reverse_tunneled++;
}

void
tunnel_reverse(struct tunnel *tn, uint8_t *pkt, size_t len)
{
	struct decap_result r;
	enum decap_err err;

	err = decap_ip(pkt, len, ENCAP_ANY, &r);
	if (err != DECAP_OK) {
		char from[INET_ADDRSTRLEN] = "?";

		if (len >= IP4_HDR_LEN)
			inet_ntop(AF_INET, pkt + 12, from, sizeof(from));
		drop_said(tn, NULL, err == DECAP_ERR_TTL ? DPD_TTL_EXCEEDED :
		    DPD_DECAP_MALFORMED, "tunnel packet (protocol %u) from "
		    "%s: %s", len >= IP4_HDR_LEN ? pkt[9] : 0, from,
		    decap_err_str(err));
		return;
	}
	/* Raw sockets see tunnel packets for every local address. */
	if (r.outer.dst.s_addr != tn->ha_addr.s_addr) {
		drop(tn, NULL, DPD_NOT_FOR_US);
		return;
	}
	reverse_deliver(tn, pkt, &r, false, r.outer.src, 0);
}

void
tunnel_set_udp_socket(struct tunnel *tn, int fd, uint16_t port)
{
	tn->udp_fd = fd;
	tn->udp_port = port;
}

void
tunnel_udp_input(struct tunnel *tn, uint8_t *buf, size_t len,
    const struct sockaddr_in *peer)
{
	struct decap_udp_outer o;
	struct decap_result r;
	enum decap_err err;

	memset(&o, 0, sizeof(o));
	o.src = peer->sin_addr;
	o.dst = tn->ha_addr;
	o.sport = ntohs(peer->sin_port);
	o.dport = tn->udp_port;
	o.ttl = 64;
	/* Only IP-in-IP is granted inside UDP (registration answers 139). */
	err = decap_udp(buf, 0, len, &o, ENCAP_IPIP, &r);
	if (err != DECAP_OK) {
		drop(tn, NULL, err == DECAP_ERR_TTL ? DPD_TTL_EXCEEDED :
		    DPD_DECAP_MALFORMED);
		return;
	}
	reverse_deliver(tn, buf, &r, true, peer->sin_addr,
	    ntohs(peer->sin_port));
}

/*
 * RFC 2003 §4: an ICMP error about one of our tunnel packets, from a
 * router between us and a care-of address. Learn the tunnel's MTU (soft
 * state, §5.1) and relay the error to the sender of the inner datagram.
 */
static void
tunnel_icmp(struct tunnel *tn, uint8_t *pkt, size_t len)
{
	struct encap_icmp r;
	struct ip4_hdr h;
	const struct tenant *t;
	struct binding *b;
	struct tn_slot *s;
	size_t n;

	if (ip4_parse(pkt, len, &h) != IP4_OK || h.proto != IP4_PROTO_ICMP)
		return;
	if (encap_icmp_parse(pkt + h.hlen, len - h.hlen, &r, tn->quote,
	    sizeof(tn->quote)) != ENCAP_ICMP_OK)
		return;		/* not about a tunnel packet: not ours */
	/* Believe it only for a tunnel we run to a bound care-of address. */
	if (r.outer.src.s_addr != tn->ha_addr.s_addr || !r.inner_present ||
	    tn->tenants == NULL ||
	    (t = tenant_by_home_addr(tn->tenants, r.inner.dst)) == NULL ||
	    (b = (struct binding *)binding_lookup_coa(tn->bindings, t->id,
	    r.inner.dst, r.outer.dst)) == NULL)
		return;
	if (r.type == ICMP4_UNREACH && r.code == ICMP4_UNREACH_NEEDFRAG &&
	    r.mtu >= IP4_MIN_MTU && r.mtu < tn->mtu && r.mtu != b->path_mtu) {
		b->path_mtu = r.mtu;
		binding_soft_changed(tn->bindings, b);
	}
	if (!r.relay || !icmp_allowed(tn))
		return;
	r.relay_err.src = tn->ha_addr;
	r.relay_err.id = tn->ip_id++;
	s = tx_slot(tn);
	n = icmp4_build_error(s->buf, sizeof(s->buf), &r.relay_err, tn->quote,
	    r.quote_len);
	if (n == 0)
		return;
	tx_queue(tn, s, s->buf, n, r.inner.src);
	tn->c.icmp_sent++;
}

static void
rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct tunnel *tn = w->data;
	int fd = w->fd;

	(void)loop;
	(void)revents;
	for (unsigned round = 0; round < TN_BUDGET / TN_BATCH; round++) {
		int n;

		for (unsigned i = 0; i < TN_BATCH; i++) {
			tn->rx_iov[i].iov_base = tn->rx[i].buf;
			tn->rx_iov[i].iov_len = sizeof(tn->rx[i].buf);
			memset(&tn->rx_hdr[i].msg_hdr, 0,
			    sizeof(tn->rx_hdr[i].msg_hdr));
			tn->rx_hdr[i].msg_hdr.msg_iov = &tn->rx_iov[i];
			tn->rx_hdr[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, tn->rx_hdr, TN_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			if (tn->rx_hdr[i].msg_hdr.msg_flags & MSG_TRUNC) {
				drop(tn, NULL, DPD_DECAP_MALFORMED);
				continue;
			}
			if (fd == tn->rx_fd[RX_ICMP])
				tunnel_icmp(tn, tn->rx[i].buf, tn->rx_hdr[i].msg_len);
			else
				tunnel_reverse(tn, tn->rx[i].buf,
				    tn->rx_hdr[i].msg_len);
		}
		if (n < TN_BATCH)
			break;
	}
	/* ICMP errors queued while decapsulating. */
	tunnel_flush(tn);
}

/*
 * The route's MTU towards a new care-of address (the kernel's path MTU
 * cache included): a narrower link than the HA's own must not turn into
 * silent EMSGSIZE losses. Asked once per new binding, not per packet.
 */
static void
tunnel_binding_event(void *arg, enum binding_event ev, const struct binding *cb)
{
	struct tunnel *tn = arg;
	struct binding *b = (struct binding *)cb;	/* soft state is ours */
	unsigned mtu;

	if (ev != BEV_ADDED)
		return;
	mtu = route_mtu(tn, b->encap == BIND_ENCAP_UDP ? b->src : b->coa);
	if (mtu != 0 && mtu < tn->mtu)
		b->path_mtu = (uint16_t)mtu;
}

/* ---- set-up ---- */

static int
raw_socket(int proto, char *err, size_t errlen)
{
	int fd, bufsz = 8 << 20;

	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd == -1) {
		snprintf(err, errlen, "raw socket for protocol %d: %s", proto,
		    strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	return fd;
}

struct tunnel *
tunnel_new(struct ev_loop *loop, struct binding_table *bt, struct in_addr ha,
    uint16_t mtu, char *err, size_t errlen)
{
	static const int protos[RX_MAX] = {
		[RX_IPIP] = IP4_PROTO_IPIP,
		[RX_GRE] = IP4_PROTO_GRE,
		[RX_MINENC] = IP4_PROTO_MINENC,
		[RX_ICMP] = IP4_PROTO_ICMP,
	};
	struct tunnel *tn;
	int one = 1;

	if ((tn = calloc(1, sizeof(*tn))) == NULL ||
	    (tn->tx = calloc(TN_BATCH, sizeof(*tn->tx))) == NULL ||
	    (tn->rx = calloc(TN_BATCH, sizeof(*tn->rx))) == NULL) {
		if (tn != NULL)
			free(tn->tx);
		free(tn);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tn->loop = loop;
	tn->bindings = bt;
	tn->ha_addr = ha;
	tn->mtu = mtu;
	tn->icmp_tokens = ICMP_BURST;
	tn->icmp_last = ev_now(loop);
	if (binding_subscribe(bt, tunnel_binding_event, tn) == -1) {
		free(tn->tx);
		free(tn->rx);
		free(tn);
		snprintf(err, errlen, "cannot subscribe to the binding table");
		return NULL;
	}
	tn->send_fd = -1;
	tn->udp_fd = -1;
	tn->mtu_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (int i = 0; i < RX_MAX; i++)
		tn->rx_fd[i] = -1;
	/* One IP_HDRINCL socket sends every outer header we build. */
	if ((tn->send_fd = raw_socket(IPPROTO_RAW, err, errlen)) == -1)
		goto fail;
	if (setsockopt(tn->send_fd, IPPROTO_IP, IP_HDRINCL, &one,
	    sizeof(one)) == -1) {
		snprintf(err, errlen, "IP_HDRINCL: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < RX_MAX; i++) {
		if ((tn->rx_fd[i] = raw_socket(protos[i], err, errlen)) == -1)
			goto fail;
		if (i == RX_ICMP) {
			/* Only errors matter here (RFC 2003 §4). */
			uint32_t block = ~((1u << ICMP4_UNREACH) |
			    (1u << ICMP4_TIME_EXCEEDED) | (1u << ICMP4_PARAM_PROBLEM));

			(void)setsockopt(tn->rx_fd[i], SOL_RAW, ICMP_FILTER,
			    &block, sizeof(block));
		}
		ev_io_init(&tn->rx_w[i], rx_cb, tn->rx_fd[i], EV_READ);
		tn->rx_w[i].data = tn;
		ev_io_start(loop, &tn->rx_w[i]);
	}
	return tn;
fail:
	tunnel_free(tn);
	return NULL;
}

void
tunnel_set_tenants(struct tunnel *tn, struct tenant_set *ts)
{
	tn->tenants = ts;
	for (size_t i = 0; i < tn->ntuns; i++)
		if (tn->tuns[i] != NULL)
			tn->tuns[i]->tenant = tenant_by_id(ts, tn->tuns[i]->tenant_id);
}

int
tunnel_attach(struct tunnel *tn, uint32_t tenant_id, int fd)
{
	struct tn_tun *tt;

	if (tenant_id >= tn->ntuns) {
		size_t n = tenant_id + 16;
		struct tn_tun **v = realloc(tn->tuns, n * sizeof(*v));

		if (v == NULL)
			return -1;
		memset(v + tn->ntuns, 0, (n - tn->ntuns) * sizeof(*v));
		tn->tuns = v;
		tn->ntuns = n;
	}
	if (tn->tuns[tenant_id] != NULL)
		tunnel_detach(tn, tenant_id);
	if ((tt = calloc(1, sizeof(*tt))) == NULL)
		return -1;
	tt->tn = tn;
	tt->tenant_id = tenant_id;
	tt->tenant = tn->tenants != NULL ? tenant_by_id(tn->tenants, tenant_id) :
	    NULL;
	tt->fd = fd;
	ev_io_init(&tt->w, tun_read_cb, fd, EV_READ);
	tt->w.data = tt;
	ev_io_start(tn->loop, &tt->w);
	tn->tuns[tenant_id] = tt;
	return 0;
}

void
tunnel_detach(struct tunnel *tn, uint32_t tenant_id)
{
	struct tn_tun *tt = tun_of(tn, tenant_id);

	if (tt == NULL)
		return;
	ev_io_stop(tn->loop, &tt->w);
	close(tt->fd);
	free(tt);
	tn->tuns[tenant_id] = NULL;
}

const struct dp_counters *
tunnel_counters(const struct tunnel *tn)
{
	return &tn->c;
}

const struct dp_counters *
tunnel_tenant_counters(const struct tunnel *tn, uint32_t tenant_id)
{
	struct tn_tun *tt = tun_of(tn, tenant_id);

	return tt != NULL ? &tt->c : NULL;
}

void
tunnel_free(struct tunnel *tn)
{
	if (tn == NULL)
		return;
	for (size_t i = 0; i < tn->ntuns; i++)
		tunnel_detach(tn, (uint32_t)i);
	free(tn->tuns);
	for (int i = 0; i < RX_MAX; i++) {
		if (tn->rx_fd[i] != -1) {
			ev_io_stop(tn->loop, &tn->rx_w[i]);
			close(tn->rx_fd[i]);
		}
	}
	if (tn->send_fd != -1)
		close(tn->send_fd);
	if (tn->mtu_fd != -1)
		close(tn->mtu_fd);
	free(tn->tx);
	free(tn->rx);
	free(tn);
}
