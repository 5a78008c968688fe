/*
 * route.c - the routing state mipha owns, through rtnetlink (see route.h).
 *
 * One request at a time on one NETLINK_ROUTE socket: build the message,
 * send it with NLM_F_ACK (dumps end with NLMSG_DONE instead), read until
 * the acknowledgement, skipping anything that is not the answer to this
 * sequence number (a late answer to an earlier, timed-out request).
 * Dumps are collected into arrays first and acted upon afterwards, since
 * the socket cannot carry a second request while a dump is running.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "route.h"

#define NL_BUFSZ	32768	/* the kernel's largest dump datagram */
#define NL_REQSZ	512	/* our requests: a header and a few attributes */
#define NL_TIMEOUT_S	5	/* the kernel answers at once; never hang */
#define DUMP_TRIES	4	/* a dump interrupted by a change is redone */

#define RT_TABLE_ID_MAX_COMPAT	255	/* rtm_table is a byte */

typedef int (*nl_msg_cb)(const struct nlmsghdr *, void *);

/* --- plumbing -------------------------------------------------------- */

static int route_fail(struct route_ctx *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Append s to the string in buf (of size `size`), cutting it short. */
static void
str_append(char *buf, size_t size, const char *s)
{
	size_t have = strnlen(buf, size - 1), n = strlen(s);

	if (n > size - 1 - have)
		n = size - 1 - have;
	memcpy(buf + have, s, n);
	buf[have + n] = '\0';
}

/*
 * Leave "<object>: <errno text> (kernel: <extended ACK>)" in ctx->err;
 * err 0 leaves the formatted text alone. Returns -1 with errno = err.
 */
static int
route_fail(struct route_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	if (err != 0) {
		str_append(ctx->err, sizeof(ctx->err), ": ");
		str_append(ctx->err, sizeof(ctx->err), strerror(err));
		if (ctx->kmsg[0] != '\0') {
			str_append(ctx->err, sizeof(ctx->err), " (kernel: ");
			str_append(ctx->err, sizeof(ctx->err), ctx->kmsg);
			str_append(ctx->err, sizeof(ctx->err), ")");
		}
	}
	errno = err != 0 ? err : EINVAL;
	return -1;
}

/* Put "prefix: " in front of the message already in ctx->err. */
static int
route_prefix(struct route_ctx *ctx, const char *prefix)
{
	size_t plen = strlen(prefix), elen = strlen(ctx->err);
	size_t room = sizeof(ctx->err) - 1;
	int saved = errno;

	if (plen > room - 2)
		plen = room - 2;
	if (elen > room - 2 - plen)
		elen = room - 2 - plen;
	memmove(ctx->err + plen + 2, ctx->err, elen);
	memcpy(ctx->err, prefix, plen);
	ctx->err[plen] = ':';
	ctx->err[plen + 1] = ' ';
	ctx->err[plen + 2 + elen] = '\0';
	errno = saved;
	return -1;
}

const char *
route_error(const struct route_ctx *ctx)
{
	return ctx->err;
}

int
route_open(struct route_ctx *ctx)
{
	struct timeval tv = { NL_TIMEOUT_S, 0 };
	int one = 1;

	memset(ctx, 0, sizeof(*ctx));
	ctx->buflen = NL_BUFSZ;
	if ((ctx->buf = malloc(ctx->buflen)) == NULL)
		return route_fail(ctx, errno, "netlink: receive buffer");
	if ((ctx->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL) {
		route_fail(ctx, errno, "netlink: socket");
		goto fail;
	}
	if (mnl_socket_bind(ctx->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		route_fail(ctx, errno, "netlink: bind");
		goto fail;
	}
	ctx->portid = mnl_socket_get_portid(ctx->nl);
	/* Acks without our request echoed, with the kernel's reason text. */
	(void)mnl_socket_setsockopt(ctx->nl, NETLINK_CAP_ACK, &one,
	    sizeof(one));
	(void)mnl_socket_setsockopt(ctx->nl, NETLINK_EXT_ACK, &one,
	    sizeof(one));
	/* Lets the kernel filter dumps by table, protocol and device. */
	if (mnl_socket_setsockopt(ctx->nl, NETLINK_GET_STRICT_CHK, &one,
	    sizeof(one)) == 0)
		ctx->strict = 1;
	if (setsockopt(mnl_socket_get_fd(ctx->nl), SOL_SOCKET, SO_RCVTIMEO,
	    &tv, sizeof(tv)) == -1) {
		route_fail(ctx, errno, "netlink: SO_RCVTIMEO");
		goto fail;
	}
	ctx->seq = (uint32_t)time(NULL);
	return 0;
fail:
	{
		int saved = errno;

		route_close(ctx);
		errno = saved;
	}
	return -1;
}

void
route_close(struct route_ctx *ctx)
{
	if (ctx->nl != NULL)
		mnl_socket_close(ctx->nl);
	ctx->nl = NULL;
	free(ctx->buf);
	ctx->buf = NULL;
}

static int
ext_ack_cb(const struct nlattr *a, void *data)
{
	struct route_ctx *ctx = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(ctx->kmsg, sizeof(ctx->kmsg), "%s",
		    mnl_attr_get_str(a));
	return MNL_CB_OK;
}

/* An NLMSG_ERROR: 0 for an ACK, else the (positive) errno. */
static int
nl_ack(struct route_ctx *ctx, const struct nlmsghdr *h)
{
	const struct nlmsgerr *e;
	size_t off;

	if (mnl_nlmsg_get_payload_len(h) < sizeof(*e))
		return EBADMSG;
	e = mnl_nlmsg_get_payload(h);
	if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
		/* The TLVs follow our request, unless the kernel capped it. */
		off = sizeof(*e);
		if ((h->nlmsg_flags & NLM_F_CAPPED) == 0 &&
		    e->msg.nlmsg_len >= NLMSG_HDRLEN)
			off += e->msg.nlmsg_len - NLMSG_HDRLEN;
		if (off <= mnl_nlmsg_get_payload_len(h))
			(void)mnl_attr_parse(h, (unsigned)off, ext_ack_cb, ctx);
	}
	if (e->error == 0)
		return 0;
	return e->error < 0 ? -e->error : EPROTO;
}

/*
 * Send one request and read its answer: data messages go to cb, the
 * exchange ends with the ACK (or NLMSG_DONE for a dump). Returns 0, or -1
 * with errno (EINTR: the dump was interrupted by a concurrent change and
 * must be redone).
 */
static int
nl_exchange(struct route_ctx *ctx, struct nlmsghdr *nlh, nl_msg_cb cb,
    void *data)
{
	const struct nlmsghdr *h;
	bool dump, intr = false, cb_failed = false;
	uint32_t seq;
	ssize_t n;
	int len, err, cb_errno = 0;

	ctx->kmsg[0] = '\0';
	dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	seq = nlh->nlmsg_seq = ++ctx->seq;
	if (mnl_socket_sendto(ctx->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	for (;;) {
		n = mnl_socket_recvfrom(ctx->nl, ctx->buf, ctx->buflen);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;
			return -1;
		}
		len = (int)n;
		for (h = (const struct nlmsghdr *)ctx->buf;
		    mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
			/* Not ours, or a late answer to an earlier request. */
			if (h->nlmsg_seq != seq || h->nlmsg_pid != ctx->portid)
				continue;
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			switch (h->nlmsg_type) {
			case NLMSG_NOOP:
				break;
			case NLMSG_OVERRUN:
				errno = ENOBUFS;
				return -1;
			case NLMSG_ERROR:
				if ((err = nl_ack(ctx, h)) != 0) {
					errno = err;
					return -1;
				}
				goto done;
			case NLMSG_DONE:
				/* A dump may end with an error code here. */
				if (mnl_nlmsg_get_payload_len(h) >= sizeof(int)) {
					const int *e = mnl_nlmsg_get_payload(h);

					if (*e < 0) {
						errno = -*e;
						return -1;
					}
				}
				goto done;
			default:
				if (cb != NULL && !cb_failed && cb(h, data) == -1) {
					cb_failed = true;
					cb_errno = errno;
				}
				break;
			}
		}
	}
done:
	if (cb_failed) {
		errno = cb_errno;
		return -1;
	}
	if (intr) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

/* Attribute table: tb[type] = the last attribute of that type. */
struct attrs {
	const struct nlattr	**tb;
	unsigned		  max;
};

static int
attrs_cb(const struct nlattr *a, void *data)
{
	struct attrs *t = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= t->max)
		t->tb[type] = a;
	return MNL_CB_OK;
}

static void
attrs_parse(const struct nlmsghdr *h, size_t hdrlen,
    const struct nlattr **tb, unsigned max)
{
	struct attrs t = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	(void)mnl_attr_parse(h, (unsigned)hdrlen, attrs_cb, &t);
}

static bool
attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (a == NULL || mnl_attr_get_payload_len(a) < sizeof(uint32_t))
		return false;
	*v = mnl_attr_get_u32(a);
	return true;
}

static bool
attr_u8(const struct nlattr *a, uint8_t *v)
{
	if (a == NULL || mnl_attr_get_payload_len(a) < sizeof(uint8_t))
		return false;
	*v = mnl_attr_get_u8(a);
	return true;
}

static bool
attr_in4(const struct nlattr *a, struct in_addr *v)
{
	if (a == NULL || mnl_attr_get_payload_len(a) != sizeof(*v))
		return false;
	memcpy(v, mnl_attr_get_payload(a), sizeof(*v));
	return true;
}

/* A growable array of dump entries. */
struct vec {
	void	*v;
	size_t	 n, cap, size;
};

static void *
vec_push(struct vec *a)
{
	void *p;
	size_t ncap;

	if (a->n == a->cap) {
		ncap = a->cap != 0 ? a->cap * 2 : 16;
		if ((p = realloc(a->v, ncap * a->size)) == NULL)
			return NULL;
		a->v = p;
		a->cap = ncap;
	}
	p = (char *)a->v + a->n++ * a->size;
	memset(p, 0, a->size);
	return p;
}

static void
vec_free(struct vec *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

/* Run a dump request built by `build`, redoing it when interrupted. */
static int
nl_dump(struct route_ctx *ctx, struct nlmsghdr *(*build)(char *, const void *),
    const void *arg, nl_msg_cb cb, struct vec *out)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ];
	int i;

	for (i = 0; i < DUMP_TRIES; i++) {
		out->n = 0;
		if (nl_exchange(ctx, build(buf, arg), cb, out) == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
	return -1;
}

/* --- names for messages ---------------------------------------------- */

struct namebuf {
	char	 s[IF_NAMESIZE + 16];
};

static const char *
ifname_of(int ifindex, struct namebuf *nb)
{
	if (ifindex <= 0 || if_indextoname((unsigned)ifindex, nb->s) == NULL)
		snprintf(nb->s, sizeof(nb->s), "ifindex %d", ifindex);
	return nb->s;
}

struct tablebuf {
	char	 s[16];
};

static const char *
table_name(uint32_t table, struct tablebuf *tb)
{
	if (table == RT_TABLE_MAIN)
		return "main";
	snprintf(tb->s, sizeof(tb->s), "%u", table);
	return tb->s;
}

/* "route 198.18.10.0/24 dev mip-acme table main" and the like. */
static const char *
route_name(const struct route_spec *r, char *buf, size_t len)
{
	char dst[INET_ADDRSTRLEN + 4], net[INET_ADDRSTRLEN];
	char gw[INET_ADDRSTRLEN];
	struct namebuf nb;
	struct tablebuf tb;

	if (r->plen == 0 && r->dst.s_addr == INADDR_ANY)
		snprintf(dst, sizeof(dst), "default");
	else
		snprintf(dst, sizeof(dst), "%s/%u", inet_ntop(AF_INET, &r->dst,
		    net, sizeof(net)), r->plen);
	inet_ntop(AF_INET, &r->gateway, gw, sizeof(gw));
	switch (r->kind) {
	case ROUTE_DEV:
		snprintf(buf, len, "route %s dev %s table %s", dst,
		    ifname_of(r->ifindex, &nb), table_name(r->table, &tb));
		break;
	case ROUTE_VIA:
		snprintf(buf, len, "route %s via %s dev %s table %s", dst, gw,
		    ifname_of(r->ifindex, &nb), table_name(r->table, &tb));
		break;
	case ROUTE_UNREACHABLE:
	default:
		snprintf(buf, len, "route unreachable %s table %s", dst,
		    table_name(r->table, &tb));
		break;
	}
	return buf;
}

static bool
ifname_ok(const char *ifname)
{
	size_t len = ifname != NULL ? strlen(ifname) : 0;

	return len > 0 && len < IF_NAMESIZE && strchr(ifname, '/') == NULL &&
	    strcmp(ifname, ".") != 0 && strcmp(ifname, "..") != 0;
}

static uint32_t
prefix_mask(unsigned plen)
{
	return plen == 0 ? 0 : htonl(0xffffffffu << (32 - plen));
}

/* --- links ----------------------------------------------------------- */

static int
link_index_cb(const struct nlmsghdr *h, void *data)
{
	const struct ifinfomsg *ifi;

	if (h->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(h) < sizeof(*ifi))
		return 0;
	ifi = mnl_nlmsg_get_payload(h);
	*(int *)data = ifi->ifi_index;
	return 0;
}

int
route_link_index(struct route_ctx *ctx, const char *ifname)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int ifindex = 0;

	if (!ifname_ok(ifname))
		return route_fail(ctx, EINVAL, "link \"%s\"",
		    ifname != NULL ? ifname : "");
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (nl_exchange(ctx, nlh, link_index_cb, &ifindex) == -1)
		return route_fail(ctx, errno, "link %s", ifname);
	if (ifindex <= 0)
		return route_fail(ctx, ENODEV, "link %s", ifname);
	return ifindex;
}

static int
link_set(struct route_ctx *ctx, int ifindex, const char *ifname,
    enum route_link_state state, unsigned mtu)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct namebuf nb;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (ifname != NULL)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	if (state != ROUTE_LINK_KEEP) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = state == ROUTE_LINK_UP ? IFF_UP : 0;
	}
	if (mtu != 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	if (nl_exchange(ctx, nlh, NULL, NULL) == -1) {
		if (ifname == NULL)
			ifname = ifname_of(ifindex, &nb);
		return route_fail(ctx, errno, "link %s: set%s%s", ifname,
		    state == ROUTE_LINK_UP ? " up" :
		    state == ROUTE_LINK_DOWN ? " down" : "",
		    mtu != 0 ? " mtu" : "");
	}
	return 0;
}

int
route_link_set(struct route_ctx *ctx, int ifindex,
    enum route_link_state state, unsigned mtu)
{
	if (ifindex <= 0)
		return route_fail(ctx, EINVAL, "link: ifindex %d", ifindex);
	return link_set(ctx, ifindex, NULL, state, mtu);
}

int
route_link_set_name(struct route_ctx *ctx, const char *ifname,
    enum route_link_state state, unsigned mtu)
{
	if (!ifname_ok(ifname))
		return route_fail(ctx, EINVAL, "link \"%s\"",
		    ifname != NULL ? ifname : "");
	/* Index 0 and IFLA_IFNAME: the kernel finds the device by name. */
	return link_set(ctx, 0, ifname, state, mtu);
}

/* --- sysctls --------------------------------------------------------- */

static int
sysctl_write(struct route_ctx *ctx, const char *path, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return route_fail(ctx, errno, "sysctl %s", path);
	n = write(fd, value, len);
	if (n < 0 || (size_t)n != len) {
		int saved = n < 0 ? errno : EIO;

		close(fd);
		return route_fail(ctx, saved, "sysctl %s = %s", path, value);
	}
	if (close(fd) == -1)
		return route_fail(ctx, errno, "sysctl %s = %s", path, value);
	return 0;
}

static int
sysctl_read_int(struct route_ctx *ctx, const char *path, int *v)
{
	char buf[32];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return route_fail(ctx, errno, "sysctl %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return route_fail(ctx, n < 0 ? errno : EIO, "sysctl %s", path);
	buf[n] = '\0';
	if (sscanf(buf, "%d", v) != 1)
		return route_fail(ctx, EPROTO, "sysctl %s: \"%s\"", path, buf);
	return 0;
}

int
route_rp_filter(struct route_ctx *ctx, const char *ifname)
{
	char path[128];
	int all, dev;

	if (!ifname_ok(ifname))
		return route_fail(ctx, EINVAL, "rp_filter: interface \"%s\"",
		    ifname != NULL ? ifname : "");
	ctx->kmsg[0] = '\0';
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter",
	    ifname);
	if (sysctl_read_int(ctx, "/proc/sys/net/ipv4/conf/all/rp_filter",
	    &all) == -1 || sysctl_read_int(ctx, path, &dev) == -1)
		return -1;
	/* The kernel applies the larger of the two. */
	return all > dev ? all : dev;
}

int
route_disable_redirects(struct route_ctx *ctx, const char *ifname)
{
	char path[128];

	if (!ifname_ok(ifname))
		return route_fail(ctx, EINVAL, "send_redirects: interface "
		    "\"%s\"", ifname != NULL ? ifname : "");
	ctx->kmsg[0] = '\0';
	/* Redirects go out when conf/all or conf/IF says so: clear both. */
	if (sysctl_write(ctx, "/proc/sys/net/ipv4/conf/all/send_redirects",
	    "0") == -1)
		return -1;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/send_redirects",
	    ifname);
	return sysctl_write(ctx, path, "0");
}

int
route_set_proxy_delay_zero(struct route_ctx *ctx, const char *ifname)
{
	char path[128];

	if (!ifname_ok(ifname))
		return route_fail(ctx, EINVAL, "proxy_delay: interface \"%s\"",
		    ifname != NULL ? ifname : "");
	ctx->kmsg[0] = '\0';
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/neigh/%s/proxy_delay",
	    ifname);
	return sysctl_write(ctx, path, "0");
}

/* --- proxy ARP ------------------------------------------------------- */

static struct nlmsghdr *
proxy_msg(char *buf, uint16_t type, uint16_t flags, int ifindex,
    struct in_addr addr)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_flags = NTF_PROXY;
	if (type == RTM_NEWNEIGH)
		ndm->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, sizeof(addr), &addr);
	if (type == RTM_NEWNEIGH)
		mnl_attr_put_u8(nlh, NDA_PROTOCOL, MIPHA_RTPROT);
	return nlh;
}

int
route_proxy_add(struct route_ctx *ctx, int ifindex, struct in_addr addr)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ], a[INET_ADDRSTRLEN];
	struct namebuf nb;

	if (nl_exchange(ctx, proxy_msg(buf, RTM_NEWNEIGH,
	    NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr), NULL, NULL) == -1)
		return route_fail(ctx, errno, "proxy arp %s dev %s",
		    inet_ntop(AF_INET, &addr, a, sizeof(a)),
		    ifname_of(ifindex, &nb));
	return 0;
}

int
route_proxy_del(struct route_ctx *ctx, int ifindex, struct in_addr addr)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ], a[INET_ADDRSTRLEN];
	struct namebuf nb;

	if (nl_exchange(ctx, proxy_msg(buf, RTM_DELNEIGH, 0, ifindex, addr),
	    NULL, NULL) == -1) {
		if (errno == ENOENT)
			return 0;
		return route_fail(ctx, errno, "proxy arp %s dev %s: delete",
		    inet_ntop(AF_INET, &addr, a, sizeof(a)),
		    ifname_of(ifindex, &nb));
	}
	return 0;
}

struct neigh_ans {
	bool		 seen;
	uint16_t	 state;
	size_t		 len;
	uint8_t		 lladdr[32];	/* MAX_ADDR_LEN */
};

static int
neigh_get_cb(const struct nlmsghdr *h, void *data)
{
	const struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm;
	struct neigh_ans *ans = data;

	if (h->nlmsg_type != RTM_NEWNEIGH ||
	    mnl_nlmsg_get_payload_len(h) < sizeof(*ndm))
		return 0;
	ndm = mnl_nlmsg_get_payload(h);
	attrs_parse(h, sizeof(*ndm), tb, NDA_MAX);
	ans->seen = true;
	ans->state = ndm->ndm_state;
	if (tb[NDA_LLADDR] != NULL) {
		uint16_t n = mnl_attr_get_payload_len(tb[NDA_LLADDR]);

		ans->len = n <= sizeof(ans->lladdr) ? n : 0;
		if (ans->len > 0)
			memcpy(ans->lladdr, mnl_attr_get_payload(tb[NDA_LLADDR]),
			    ans->len);
	}
	return 0;
}

int
route_neigh_lladdr(struct route_ctx *ctx, int ifindex, struct in_addr addr,
    uint8_t mac[6])
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ], a[INET_ADDRSTRLEN];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	struct neigh_ans ans;
	struct namebuf nb;

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = ifindex;
	mnl_attr_put(nlh, NDA_DST, sizeof(addr), &addr);
	memset(&ans, 0, sizeof(ans));
	if (nl_exchange(ctx, nlh, neigh_get_cb, &ans) == -1)
		return route_fail(ctx, errno, "neighbour %s dev %s", a,
		    ifname_of(ifindex, &nb));
	/* Resolved, or resolved before and not yet proven wrong. */
	if (!ans.seen || ans.len != 6 || (ans.state & (NUD_REACHABLE |
	    NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT)) == 0) {
		ctx->kmsg[0] = '\0';
		return route_fail(ctx, ENOENT, "neighbour %s dev %s: not "
		    "resolved", a, ifname_of(ifindex, &nb));
	}
	memcpy(mac, ans.lladdr, 6);
	return 0;
}

struct nb_ent {
	int		 ifindex;
	struct in_addr	 addr;
	uint8_t		 protocol;
};

static struct nlmsghdr *
proxy_dump_msg(char *buf, const void *arg)
{
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;

	(void)arg;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_DUMP;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	ndm->ndm_flags = NTF_PROXY;	/* proxy entries, not the ARP cache */
	return nlh;
}

static int
proxy_dump_cb(const struct nlmsghdr *h, void *data)
{
	const struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm;
	struct nb_ent *e, tmp;

	if (h->nlmsg_type != RTM_NEWNEIGH ||
	    mnl_nlmsg_get_payload_len(h) < sizeof(*ndm))
		return 0;
	ndm = mnl_nlmsg_get_payload(h);
	if (ndm->ndm_family != AF_INET || (ndm->ndm_flags & NTF_PROXY) == 0)
		return 0;
	attrs_parse(h, sizeof(*ndm), tb, NDA_MAX);
	memset(&tmp, 0, sizeof(tmp));
	tmp.ifindex = ndm->ndm_ifindex;
	if (!attr_in4(tb[NDA_DST], &tmp.addr))
		return 0;
	(void)attr_u8(tb[NDA_PROTOCOL], &tmp.protocol);
	if ((e = vec_push(data)) == NULL)
		return -1;
	*e = tmp;
	return 0;
}

/* --- routes ---------------------------------------------------------- */

/* One IPv4 route as a dump shows it; enough to delete exactly it. */
struct rt_ent {
	uint32_t	 table;
	uint32_t	 priority;
	struct in_addr	 dst;
	int		 oif;
	uint8_t		 plen, tos, type, protocol;
};

/* What a route dump asks for (the kernel filters too when strict). */
struct rt_filter {
	const struct route_ctx	*ctx;
	uint32_t		 table;		/* 0: all */
	uint8_t			 protocol;	/* 0: all */
	int			 oif;		/* 0: all */
};

static void
rtm_set_table(struct nlmsghdr *nlh, struct rtmsg *rtm, uint32_t table)
{
	/* rtm_table is a byte: larger ids travel in RTA_TABLE only. */
	rtm->rtm_table = table <= RT_TABLE_ID_MAX_COMPAT ? (uint8_t)table :
	    RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
}

static struct nlmsghdr *
route_dump_msg(char *buf, const void *arg)
{
	const struct rt_filter *f = arg;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_DUMP;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	if (f->ctx->strict) {
		rtm->rtm_protocol = f->protocol;
		if (f->table != 0)
			rtm_set_table(nlh, rtm, f->table);
		if (f->oif != 0)
			mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)f->oif);
	}
	return nlh;
}

struct rt_dump {
	struct vec		 out;
	const struct rt_filter	*f;
};

static int
route_dump_cb(const struct nlmsghdr *h, void *data)
{
	struct rt_dump *d = data;
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	struct rt_ent *e, tmp;
	uint32_t u;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(h) < sizeof(*rtm))
		return 0;
	rtm = mnl_nlmsg_get_payload(h);
	if (rtm->rtm_family != AF_INET || (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	attrs_parse(h, sizeof(*rtm), tb, RTA_MAX);
	memset(&tmp, 0, sizeof(tmp));
	tmp.table = attr_u32(tb[RTA_TABLE], &u) ? u : rtm->rtm_table;
	tmp.priority = attr_u32(tb[RTA_PRIORITY], &u) ? u : 0;
	tmp.oif = attr_u32(tb[RTA_OIF], &u) ? (int)u : 0;
	if (rtm->rtm_dst_len > 32)
		return 0;
	if (rtm->rtm_dst_len > 0 && !attr_in4(tb[RTA_DST], &tmp.dst))
		return 0;
	tmp.plen = rtm->rtm_dst_len;
	tmp.tos = rtm->rtm_tos;
	tmp.type = rtm->rtm_type;
	tmp.protocol = rtm->rtm_protocol;
	if ((d->f->table != 0 && tmp.table != d->f->table) ||
	    (d->f->protocol != 0 && tmp.protocol != d->f->protocol) ||
	    (d->f->oif != 0 && tmp.oif != d->f->oif))
		return 0;
	if ((e = vec_push(&d->out)) == NULL)
		return -1;
	*e = tmp;
	return 0;
}

static int
route_dump(struct route_ctx *ctx, const struct rt_filter *f, struct rt_dump *d)
{
	memset(d, 0, sizeof(*d));
	d->out.size = sizeof(struct rt_ent);
	d->f = f;
	if (nl_dump(ctx, route_dump_msg, f, route_dump_cb, &d->out) == 0)
		return 0;
	/* Strict dumps of a table that does not exist fail with ENOENT. */
	if (errno == ENOENT && f->table != 0) {
		d->out.n = 0;
		return 0;
	}
	vec_free(&d->out);
	return -1;
}

static struct nlmsghdr *
route_msg(char *buf, uint16_t type, uint16_t flags, const struct route_spec *r)
{
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (uint8_t)r->plen;
	rtm->rtm_protocol = MIPHA_RTPROT;
	rtm_set_table(nlh, rtm, r->table);
	if (r->plen > 0)
		mnl_attr_put(nlh, RTA_DST, sizeof(r->dst), &r->dst);
	if (type == RTM_DELROUTE) {
		/* Any type, scope and nexthop; but only our protocol. */
		rtm->rtm_type = RTN_UNSPEC;
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
		return nlh;
	}
	switch (r->kind) {
	case ROUTE_DEV:
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_scope = RT_SCOPE_LINK;
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->ifindex);
		break;
	case ROUTE_VIA:
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
		mnl_attr_put(nlh, RTA_GATEWAY, sizeof(r->gateway), &r->gateway);
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->ifindex);
		break;
	case ROUTE_UNREACHABLE:
		rtm->rtm_type = RTN_UNREACHABLE;
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
		break;
	}
	return nlh;
}

static int
route_check(struct route_ctx *ctx, const struct route_spec *r, bool add)
{
	char name[160];

	if (r->plen > 32)
		return route_fail(ctx, EINVAL, "route: prefix length %u",
		    r->plen);
	route_name(r, name, sizeof(name));
	if ((r->dst.s_addr & ~prefix_mask(r->plen)) != 0)
		return route_fail(ctx, EINVAL, "%s: host bits set in the "
		    "prefix", name);
	if (r->table == RT_TABLE_UNSPEC)
		return route_fail(ctx, EINVAL, "%s: table 0", name);
	if (add && r->kind != ROUTE_UNREACHABLE && r->ifindex <= 0)
		return route_fail(ctx, EINVAL, "%s: no device", name);
	if (add && r->kind == ROUTE_VIA && r->gateway.s_addr == INADDR_ANY)
		return route_fail(ctx, EINVAL, "%s: no gateway", name);
	return 0;
}

/* route_add(); *created tells whether the route is new. */
static int
route_add_new(struct route_ctx *ctx, const struct route_spec *r, bool *created)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ], name[160];
	struct rt_filter f = { ctx, r->table, 0, 0 };
	struct rt_dump d;
	const struct rt_ent *e;
	size_t i;
	int foreign = -1;

	*created = false;
	if (route_check(ctx, r, true) == -1)
		return -1;
	route_name(r, name, sizeof(name));
	if (nl_exchange(ctx, route_msg(buf, RTM_NEWROUTE,
	    NLM_F_CREATE | NLM_F_EXCL, r), NULL, NULL) == 0) {
		*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return route_fail(ctx, errno, "%s", name);

	/*
	 * Something holds that key (table, prefix, TOS 0, metric 0). Replace
	 * it only when it is ours: NLM_F_REPLACE would take anyone's.
	 */
	if (route_dump(ctx, &f, &d) == -1)
		return route_fail(ctx, errno, "%s: exists; dumping table",
		    name);
	for (i = 0; i < d.out.n; i++) {
		e = (const struct rt_ent *)d.out.v + i;
		if (e->dst.s_addr == r->dst.s_addr && e->plen == r->plen &&
		    e->tos == 0 && e->priority == 0 &&
		    e->protocol != MIPHA_RTPROT) {
			foreign = e->protocol;
			break;
		}
	}
	vec_free(&d.out);
	if (foreign != -1) {
		ctx->kmsg[0] = '\0';
		return route_fail(ctx, EEXIST, "%s: a route to that prefix "
		    "with protocol %d (not mipha's %d) is in the way", name,
		    foreign, MIPHA_RTPROT);
	}
	if (nl_exchange(ctx, route_msg(buf, RTM_NEWROUTE,
	    NLM_F_CREATE | NLM_F_REPLACE, r), NULL, NULL) == -1)
		return route_fail(ctx, errno, "%s: replace", name);
	return 0;
}

int
route_add(struct route_ctx *ctx, const struct route_spec *r)
{
	bool created;

	return route_add_new(ctx, r, &created);
}

int
route_del(struct route_ctx *ctx, const struct route_spec *r)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ], name[160];

	if (route_check(ctx, r, false) == -1)
		return -1;
	if (nl_exchange(ctx, route_msg(buf, RTM_DELROUTE, 0, r), NULL,
	    NULL) == 0)
		return 0;
	/* Gone already: with its device, or never installed. */
	if (errno == ESRCH || errno == ENOENT)
		return 0;
	route_name(r, name, sizeof(name));
	return route_fail(ctx, errno, "%s: delete", name);
}

/* Delete exactly the dumped route `e` (ours: the protocol is named). */
static int
route_del_ent(struct route_ctx *ctx, const struct rt_ent *e)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ], dst[INET_ADDRSTRLEN];
	struct tablebuf tb;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = e->plen;
	rtm->rtm_tos = e->tos;
	rtm->rtm_type = e->type;
	rtm->rtm_protocol = e->protocol;
	rtm->rtm_scope = RT_SCOPE_NOWHERE;
	rtm_set_table(nlh, rtm, e->table);
	if (e->plen > 0)
		mnl_attr_put(nlh, RTA_DST, sizeof(e->dst), &e->dst);
	if (e->priority != 0)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, e->priority);
	if (nl_exchange(ctx, nlh, NULL, NULL) == 0)
		return 1;
	if (errno == ESRCH || errno == ENOENT)
		return 0;
	return route_fail(ctx, errno, "route %s/%u table %s protocol %u: "
	    "delete", inet_ntop(AF_INET, &e->dst, dst, sizeof(dst)), e->plen,
	    table_name(e->table, &tb), e->protocol);
}

static int
route_get_cb(const struct nlmsghdr *h, void *data)
{
	struct rt_ent *e = data;
	const struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	uint32_t u;

	if (h->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(h) < sizeof(*rtm))
		return 0;
	rtm = mnl_nlmsg_get_payload(h);
	attrs_parse(h, sizeof(*rtm), tb, RTA_MAX);
	e->type = rtm->rtm_type;
	e->table = attr_u32(tb[RTA_TABLE], &u) ? u : rtm->rtm_table;
	e->oif = attr_u32(tb[RTA_OIF], &u) ? (int)u : 0;
	/* e->dst carries the gateway here. */
	if (!attr_in4(tb[RTA_GATEWAY], &e->dst))
		e->dst.s_addr = INADDR_ANY;
	e->protocol = 1;	/* seen */
	return 0;
}

int
route_get(struct route_ctx *ctx, struct in_addr dst, struct in_addr *gateway,
    int *ifindex)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ], a[INET_ADDRSTRLEN];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct rt_ent e;
	struct tablebuf tb;

	inet_ntop(AF_INET, &dst, a, sizeof(a));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	/* Report the table the answer came from, not the cached entry's. */
	rtm->rtm_flags = RTM_F_LOOKUP_TABLE;
	mnl_attr_put(nlh, RTA_DST, sizeof(dst), &dst);
	memset(&e, 0, sizeof(e));
	if (nl_exchange(ctx, nlh, route_get_cb, &e) == -1)
		return route_fail(ctx, errno, "route to %s", a);
	if (e.protocol == 0)
		return route_fail(ctx, ENOMSG, "route to %s: no answer", a);
	if (e.type != RTN_UNICAST) {
		ctx->kmsg[0] = '\0';
		return route_fail(ctx, EHOSTUNREACH, "route to %s: the kernel "
		    "answers with route type %u, not unicast", a, e.type);
	}
	if (e.table != RT_TABLE_MAIN) {
		ctx->kmsg[0] = '\0';
		return route_fail(ctx, EHOSTUNREACH, "route to %s: resolved "
		    "through table %s, not main", a, table_name(e.table, &tb));
	}
	if (e.oif <= 0) {
		ctx->kmsg[0] = '\0';
		return route_fail(ctx, EHOSTUNREACH, "route to %s: no output "
		    "device in the answer", a);
	}
	*gateway = e.dst;
	*ifindex = e.oif;
	return 0;
}

/* --- rules ----------------------------------------------------------- */

struct ru_ent {
	uint32_t	 table;
	uint32_t	 priority;
	char		 iif[IF_NAMESIZE];
	uint8_t		 action;
	uint8_t		 protocol;
	bool		 has_protocol;	/* FRA_PROTOCOL: Linux >= 4.17 */
	bool		 plain;		/* no selector besides iif */
};

static struct nlmsghdr *
rule_dump_msg(char *buf, const void *arg)
{
	struct nlmsghdr *nlh;
	struct fib_rule_hdr *frh;

	(void)arg;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETRULE;
	nlh->nlmsg_flags = NLM_F_DUMP;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET;
	return nlh;
}

/* The kernel reports suppress_prefixlen = -1 ("not set") on every rule. */
static bool
unset_or_minus1(const struct nlattr *a)
{
	uint32_t u;

	return a == NULL || (attr_u32(a, &u) && u == UINT32_MAX);
}

static int
rule_dump_cb(const struct nlmsghdr *h, void *data)
{
	const struct nlattr *tb[FRA_MAX + 1];
	const struct fib_rule_hdr *frh;
	struct ru_ent *e, tmp;
	uint32_t u;
	uint8_t u8;
	size_t len;

	if (h->nlmsg_type != RTM_NEWRULE ||
	    mnl_nlmsg_get_payload_len(h) < sizeof(*frh))
		return 0;
	frh = mnl_nlmsg_get_payload(h);
	if (frh->family != AF_INET)
		return 0;
	attrs_parse(h, sizeof(*frh), tb, FRA_MAX);
	memset(&tmp, 0, sizeof(tmp));
	tmp.action = frh->action;
	tmp.table = attr_u32(tb[FRA_TABLE], &u) ? u : frh->table;
	tmp.priority = attr_u32(tb[FRA_PRIORITY], &u) ? u : 0;
	tmp.has_protocol = attr_u8(tb[FRA_PROTOCOL], &tmp.protocol);
	if (tb[FRA_IIFNAME] != NULL) {
		len = strnlen(mnl_attr_get_payload(tb[FRA_IIFNAME]),
		    mnl_attr_get_payload_len(tb[FRA_IIFNAME]));
		if (len >= sizeof(tmp.iif))
			len = sizeof(tmp.iif) - 1;
		memcpy(tmp.iif, mnl_attr_get_payload(tb[FRA_IIFNAME]), len);
	}
	tmp.plain = frh->dst_len == 0 && frh->src_len == 0 && frh->tos == 0 &&
	    (frh->flags & FIB_RULE_INVERT) == 0 &&
	    tb[FRA_OIFNAME] == NULL && tb[FRA_GOTO] == NULL &&
	    (tb[FRA_FWMARK] == NULL || (attr_u32(tb[FRA_FWMARK], &u) &&
	    u == 0)) &&
	    (tb[FRA_L3MDEV] == NULL || (attr_u8(tb[FRA_L3MDEV], &u8) &&
	    u8 == 0)) &&
	    tb[FRA_UID_RANGE] == NULL && tb[FRA_IP_PROTO] == NULL &&
	    tb[FRA_SPORT_RANGE] == NULL && tb[FRA_DPORT_RANGE] == NULL &&
	    tb[FRA_TUN_ID] == NULL && tb[FRA_FLOW] == NULL &&
	    unset_or_minus1(tb[FRA_SUPPRESS_PREFIXLEN]) &&
	    unset_or_minus1(tb[FRA_SUPPRESS_IFGROUP]);
	if ((e = vec_push(data)) == NULL)
		return -1;
	*e = tmp;
	return 0;
}

static int
rule_dump(struct route_ctx *ctx, struct vec *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(struct ru_ent);
	if (nl_dump(ctx, rule_dump_msg, NULL, rule_dump_cb, out) == -1) {
		vec_free(out);
		return -1;
	}
	return 0;
}

/* Ours: our protocol, or on an old kernel our priority. */
static bool
rule_is_ours(const struct ru_ent *e)
{
	if (e->has_protocol)
		return e->protocol == MIPHA_RTPROT;
	return e->priority == MIPHA_RULE_PRIO && e->action == FR_ACT_TO_TBL;
}

static struct nlmsghdr *
rule_msg(char *buf, uint16_t type, uint16_t flags, const char *iifname,
    uint32_t table, uint32_t priority, uint8_t protocol)
{
	struct nlmsghdr *nlh;
	struct fib_rule_hdr *frh;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET;
	frh->action = FR_ACT_TO_TBL;
	frh->table = table <= RT_TABLE_ID_MAX_COMPAT ? (uint8_t)table :
	    RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, priority);
	if (iifname[0] != '\0')
		mnl_attr_put_strz(nlh, FRA_IIFNAME, iifname);
	/* Older kernels ignore the attribute; see rule_is_ours(). */
	if (protocol != 0)
		mnl_attr_put_u8(nlh, FRA_PROTOCOL, protocol);
	return nlh;
}

static int
rule_check(struct route_ctx *ctx, const char *iifname, uint32_t table)
{
	if (!ifname_ok(iifname))
		return route_fail(ctx, EINVAL, "rule iif \"%s\"",
		    iifname != NULL ? iifname : "");
	if (table == RT_TABLE_UNSPEC)
		return route_fail(ctx, EINVAL, "rule iif %s: table 0", iifname);
	return 0;
}

/* route_rule_add(); *created tells whether the rule is new. */
static int
rule_add_new(struct route_ctx *ctx, const char *iifname, uint32_t table,
    bool *created)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ];
	struct tablebuf tb;
	struct vec v;
	const struct ru_ent *e;
	size_t i;
	int found = 0;	/* 1 ours, -1 someone else's */
	uint8_t proto = 0;

	*created = false;
	if (rule_check(ctx, iifname, table) == -1)
		return -1;
	/* Rules have no NLM_F_REPLACE: look before adding. */
	if (rule_dump(ctx, &v) == -1)
		return route_fail(ctx, errno, "rule iif %s lookup %s: dump",
		    iifname, table_name(table, &tb));
	for (i = 0; i < v.n && found == 0; i++) {
		e = (const struct ru_ent *)v.v + i;
		if (e->plain && e->action == FR_ACT_TO_TBL &&
		    e->table == table && e->priority == MIPHA_RULE_PRIO &&
		    strcmp(e->iif, iifname) == 0) {
			found = rule_is_ours(e) ? 1 : -1;
			proto = e->protocol;
		}
	}
	vec_free(&v);
	if (found == 1)
		return 0;
	if (found == -1) {
		ctx->kmsg[0] = '\0';
		return route_fail(ctx, EEXIST, "rule %u: iif %s lookup %s: "
		    "exists with protocol %u (not mipha's %d)",
		    MIPHA_RULE_PRIO, iifname, table_name(table, &tb), proto,
		    MIPHA_RTPROT);
	}
	if (nl_exchange(ctx, rule_msg(buf, RTM_NEWRULE,
	    NLM_F_CREATE | NLM_F_EXCL, iifname, table, MIPHA_RULE_PRIO,
	    MIPHA_RTPROT), NULL, NULL) == -1)
		return route_fail(ctx, errno, "rule %u: iif %s lookup %s",
		    MIPHA_RULE_PRIO, iifname, table_name(table, &tb));
	*created = true;
	return 0;
}

int
route_rule_add(struct route_ctx *ctx, const char *iifname, uint32_t table)
{
	bool created;

	return rule_add_new(ctx, iifname, table, &created);
}

int
route_rule_del(struct route_ctx *ctx, const char *iifname, uint32_t table)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ];
	struct tablebuf tb;

	if (rule_check(ctx, iifname, table) == -1)
		return -1;
	if (nl_exchange(ctx, rule_msg(buf, RTM_DELRULE, 0, iifname, table,
	    MIPHA_RULE_PRIO, MIPHA_RTPROT), NULL, NULL) == 0)
		return 0;
	if (errno == ENOENT)
		return 0;
	return route_fail(ctx, errno, "rule %u: iif %s lookup %s: delete",
	    MIPHA_RULE_PRIO, iifname, table_name(table, &tb));
}

/* Delete exactly the dumped rule `e`. 1 deleted, 0 gone already, -1. */
static int
rule_del_ent(struct route_ctx *ctx, const struct ru_ent *e)
{
	alignas(struct nlmsghdr) char buf[NL_REQSZ];
	struct tablebuf tb;

	if (nl_exchange(ctx, rule_msg(buf, RTM_DELRULE, 0, e->iif, e->table,
	    e->priority, e->has_protocol ? e->protocol : 0), NULL, NULL) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return route_fail(ctx, errno, "rule %u: iif %s lookup %s: delete",
	    e->priority, e->iif[0] != '\0' ? e->iif : "all",
	    table_name(e->table, &tb));
}

/* --- cleanup --------------------------------------------------------- */

int
route_flush_own(struct route_ctx *ctx)
{
	struct rt_filter f = { ctx, 0, MIPHA_RTPROT, 0 };
	struct rt_dump d;
	struct vec v;
	size_t i;
	int count = 0, r;

	if (route_dump(ctx, &f, &d) == -1)
		return route_fail(ctx, errno, "flush: route dump");
	for (i = 0; i < d.out.n; i++) {
		if ((r = route_del_ent(ctx, (const struct rt_ent *)d.out.v +
		    i)) == -1) {
			vec_free(&d.out);
			return route_prefix(ctx, "flush");
		}
		count += r;
	}
	vec_free(&d.out);

	if (rule_dump(ctx, &v) == -1)
		return route_fail(ctx, errno, "flush: rule dump");
	for (i = 0; i < v.n; i++) {
		const struct ru_ent *e = (const struct ru_ent *)v.v + i;

		if (!rule_is_ours(e))
			continue;
		if ((r = rule_del_ent(ctx, e)) == -1) {
			vec_free(&v);
			return route_prefix(ctx, "flush");
		}
		count += r;
	}
	vec_free(&v);

	/* Proxy entries carry NDA_PROTOCOL on Linux 5.x and later. */
	memset(&v, 0, sizeof(v));
	v.size = sizeof(struct nb_ent);
	if (nl_dump(ctx, proxy_dump_msg, NULL, proxy_dump_cb, &v) == -1) {
		vec_free(&v);
		return route_fail(ctx, errno, "flush: proxy arp dump");
	}
	for (i = 0; i < v.n; i++) {
		const struct nb_ent *e = (const struct nb_ent *)v.v + i;
		alignas(struct nlmsghdr) char buf[NL_REQSZ], a[INET_ADDRSTRLEN];

		if (e->protocol != MIPHA_RTPROT)
			continue;
		if (nl_exchange(ctx, proxy_msg(buf, RTM_DELNEIGH, 0,
		    e->ifindex, e->addr), NULL, NULL) == 0) {
			count++;
			continue;
		}
		if (errno == ENOENT)
			continue;
		route_fail(ctx, errno, "flush: proxy arp %s ifindex %d: "
		    "delete", inet_ntop(AF_INET, &e->addr, a, sizeof(a)),
		    e->ifindex);
		vec_free(&v);
		return -1;
	}
	vec_free(&v);
	return count;
}

/* --- one tenant ------------------------------------------------------ */

static int
tenant_check(struct route_ctx *ctx, const struct route_tenant *t)
{
	char net[INET_ADDRSTRLEN];
	const char *n = t->tun_name != NULL ? t->tun_name : "";

	if (!ifname_ok(t->tun_name))
		return route_fail(ctx, EINVAL, "tenant: tun name \"%s\"", n);
	switch (t->table) {
	case RT_TABLE_UNSPEC:
	case RT_TABLE_DEFAULT:
	case RT_TABLE_MAIN:
	case RT_TABLE_LOCAL:
		return route_fail(ctx, EINVAL, "tun %s: table %u is reserved",
		    n, t->table);
	}
	if (t->home_plen > 32 ||
	    (t->home_net.s_addr & ~prefix_mask(t->home_plen)) != 0)
		return route_fail(ctx, EINVAL, "tun %s: home network %s/%u is "
		    "not a prefix", n, inet_ntop(AF_INET, &t->home_net, net,
		    sizeof(net)), t->home_plen);
	if (t->vpn_gateway.s_addr == INADDR_ANY)
		return route_fail(ctx, EINVAL, "tun %s: no vpn_gateway", n);
	if ((t->vpn_gateway.s_addr & prefix_mask(t->home_plen)) ==
	    t->home_net.s_addr)
		return route_fail(ctx, EINVAL, "tun %s: vpn_gateway inside "
		    "the home network", n);
	if (t->mtu != 0 && t->mtu < 68)
		return route_fail(ctx, EINVAL, "tun %s: mtu %u below the IPv4 "
		    "minimum 68", n, t->mtu);
	return 0;
}

static void
tenant_specs(const struct route_tenant *t, int ifindex, struct route_spec *home,
    struct route_spec *host, struct route_spec *unreach)
{
	memset(home, 0, sizeof(*home));
	home->table = RT_TABLE_MAIN;
	home->dst = t->home_net;
	home->plen = t->home_plen;
	home->kind = ROUTE_DEV;
	home->ifindex = ifindex;

	memset(host, 0, sizeof(*host));
	host->table = t->table;
	host->dst = t->vpn_gateway;
	host->plen = 32;

	memset(unreach, 0, sizeof(*unreach));
	unreach->table = t->table;
	unreach->kind = ROUTE_UNREACHABLE;
}

static bool
ent_is(const struct rt_ent *e, const struct route_spec *r)
{
	return e->table == r->table && e->plen == r->plen &&
	    e->dst.s_addr == r->dst.s_addr && e->tos == 0 && e->priority == 0;
}

/*
 * Remove our objects tied to this tenant except the `keep` ones (NULL:
 * keep nothing): main-table routes into its device (when ifindex is
 * known), rules with its device or its table, routes in its table. In that
 * order, so the table keeps its `unreachable default` while a rule still
 * leads into it. Install uses it to converge after a reload changed
 * vpn_gateway, table, home network or device name; remove to take
 * everything. Tables are unique per tenant (configuration).
 */
static int
tenant_sweep(struct route_ctx *ctx, const struct route_tenant *t, int ifindex,
    const struct route_spec *keep_home, const struct route_spec *keep_host,
    const struct route_spec *keep_unreach)
{
	struct rt_filter f = { ctx, RT_TABLE_MAIN, MIPHA_RTPROT, ifindex };
	struct rt_dump d;
	struct vec v;
	const struct rt_ent *e;
	const struct ru_ent *re;
	size_t i;

	if (ifindex > 0) {
		if (route_dump(ctx, &f, &d) == -1)
			return route_fail(ctx, errno, "route dump");
		for (i = 0; i < d.out.n; i++) {
			e = (const struct rt_ent *)d.out.v + i;
			if (keep_home != NULL && ent_is(e, keep_home))
				continue;
			if (route_del_ent(ctx, e) == -1) {
				vec_free(&d.out);
				return -1;
			}
		}
		vec_free(&d.out);
	}

	if (rule_dump(ctx, &v) == -1)
		return route_fail(ctx, errno, "rule dump");
	for (i = 0; i < v.n; i++) {
		re = (const struct ru_ent *)v.v + i;
		if (!rule_is_ours(re))
			continue;
		if (re->table != t->table && strcmp(re->iif, t->tun_name) != 0)
			continue;
		if (keep_home != NULL && re->table == t->table &&
		    strcmp(re->iif, t->tun_name) == 0 &&
		    re->priority == MIPHA_RULE_PRIO)
			continue;
		if (rule_del_ent(ctx, re) == -1) {
			vec_free(&v);
			return -1;
		}
	}
	vec_free(&v);

	f.table = t->table;
	f.oif = 0;
	if (route_dump(ctx, &f, &d) == -1)
		return route_fail(ctx, errno, "route dump");
	for (i = 0; i < d.out.n; i++) {
		e = (const struct rt_ent *)d.out.v + i;
		if ((keep_host != NULL && ent_is(e, keep_host)) ||
		    (keep_unreach != NULL && ent_is(e, keep_unreach)))
			continue;
		if (route_del_ent(ctx, e) == -1) {
			vec_free(&d.out);
			return -1;
		}
	}
	vec_free(&d.out);
	return 0;
}

int
route_tenant_install(struct route_ctx *ctx, const struct route_tenant *t)
{
	struct route_spec home, host, unreach;
	struct in_addr via;
	char gw[INET_ADDRSTRLEN], prefix[64], saved[ROUTE_ERRLEN];
	int ifindex, oif, saved_errno;
	bool created;
	/* What this call created (not what it found and kept or replaced). */
	unsigned done = 0;
	enum { I_HOST = 1, I_UNREACH = 2, I_RULE = 4, I_HOME = 8 };

	if (tenant_check(ctx, t) == -1)
		return -1;
	snprintf(prefix, sizeof(prefix), "tun %s table %u", t->tun_name,
	    t->table);
	ifindex = t->tun_ifindex;
	if (ifindex <= 0 && (ifindex = route_link_index(ctx, t->tun_name)) == -1)
		return route_prefix(ctx, prefix);

	/* Resolve first: nothing is touched if the gateway is unroutable. */
	inet_ntop(AF_INET, &t->vpn_gateway, gw, sizeof(gw));
	if (route_get(ctx, t->vpn_gateway, &via, &oif) == -1) {
		snprintf(prefix, sizeof(prefix), "tun %s table %u: vpn_gateway",
		    t->tun_name, t->table);
		return route_prefix(ctx, prefix);
	}
	if (oif == ifindex)
		return route_fail(ctx, ELOOP, "%s: vpn_gateway %s routes into "
		    "the tenant's own device", prefix, gw);

	tenant_specs(t, ifindex, &home, &host, &unreach);
	host.ifindex = oif;
	host.gateway = via;
	host.kind = via.s_addr != INADDR_ANY ? ROUTE_VIA : ROUTE_DEV;

	if (route_link_set(ctx, ifindex, ROUTE_LINK_UP, t->mtu) == -1)
		goto fail;
	if (route_add_new(ctx, &host, &created) == -1)
		goto fail;
	done |= created ? I_HOST : 0;
	if (route_add_new(ctx, &unreach, &created) == -1)
		goto fail;
	done |= created ? I_UNREACH : 0;
	if (rule_add_new(ctx, t->tun_name, t->table, &created) == -1)
		goto fail;
	done |= created ? I_RULE : 0;
	/* Last: traffic reaches the device once the way back is in place. */
	if (route_add_new(ctx, &home, &created) == -1)
		goto fail;
	done |= created ? I_HOME : 0;
	if (tenant_sweep(ctx, t, ifindex, &home, &host, &unreach) == -1)
		goto fail;
	return 0;

fail:
	saved_errno = errno;
	snprintf(saved, sizeof(saved), "%s", ctx->err);
	if (done & I_HOME)
		(void)route_del(ctx, &home);
	if (done & I_RULE)
		(void)route_rule_del(ctx, t->tun_name, t->table);
	if (done & I_UNREACH)
		(void)route_del(ctx, &unreach);
	if (done & I_HOST)
		(void)route_del(ctx, &host);
	snprintf(ctx->err, sizeof(ctx->err), "%s", saved);
	errno = saved_errno;
	return route_prefix(ctx, prefix);
}

int
route_tenant_remove(struct route_ctx *ctx, const struct route_tenant *t)
{
	struct route_spec home, host, unreach;
	char prefix[64];
	int ifindex;

	if (tenant_check(ctx, t) == -1)
		return -1;
	snprintf(prefix, sizeof(prefix), "tun %s table %u: remove",
	    t->tun_name, t->table);
	/* The device may be gone (and the main route with it). */
	ifindex = t->tun_ifindex > 0 ? t->tun_ifindex :
	    (int)if_nametoindex(t->tun_name);
	tenant_specs(t, ifindex, &home, &host, &unreach);
	/* First the way in, so nothing more reaches the device. */
	if (route_del(ctx, &home) == -1 ||
	    tenant_sweep(ctx, t, ifindex, NULL, NULL, NULL) == -1)
		return route_prefix(ctx, prefix);
	return 0;
}
