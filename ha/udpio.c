/*
 * udpio.c - batched UDP datagram I/O.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "udpio.h"

int
udpio_open(struct udpio *u, struct in_addr addr, uint16_t port, unsigned cap)
{
	struct sockaddr_in sin;
	int bufsz = 4 << 20;

	memset(u, 0, sizeof(*u));
	u->fd = -1;
	u->cap = cap;
	u->rx = calloc(cap, sizeof(*u->rx));
	u->tx = calloc(cap, sizeof(*u->tx));
	u->rx_hdr = calloc(cap, sizeof(*u->rx_hdr));
	u->tx_hdr = calloc(cap, sizeof(*u->tx_hdr));
	u->rx_iov = calloc(cap, sizeof(*u->rx_iov));
	u->tx_iov = calloc(cap, sizeof(*u->tx_iov));
	if (u->rx == NULL || u->tx == NULL || u->rx_hdr == NULL ||
	    u->tx_hdr == NULL || u->rx_iov == NULL || u->tx_iov == NULL) {
		udpio_close(u);
		errno = ENOMEM;
		return -1;
	}
	if ((u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	/*
	 * No SO_REUSEADDR: a second process on the same address and port must
	 * fail to start, not silently share the requests. Bursts must not be
	 * lost in a small socket buffer: FORCE (we are still root) passes
	 * net.core.rmem_max, which is 208 KiB on a stock system.
	 */
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
	    sizeof(bufsz)) == -1)
		(void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (setsockopt(u->fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
	    sizeof(bufsz)) == -1)
		(void)setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr = addr;
	sin.sin_port = htons(port);
	if (bind(u->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		goto fail;
	u->local = addr;
	return 0;
fail:
	{
		int saved = errno;

		udpio_close(u);
		errno = saved;
	}
	return -1;
}

void
udpio_close(struct udpio *u)
{
	if (u->fd != -1)
		close(u->fd);
	u->fd = -1;
	free(u->rx);
	free(u->tx);
	free(u->rx_hdr);
	free(u->tx_hdr);
	free(u->rx_iov);
	free(u->tx_iov);
	u->rx = u->tx = NULL;
	u->rx_hdr = u->tx_hdr = NULL;
	u->rx_iov = u->tx_iov = NULL;
}

int
udpio_recv(struct udpio *u, unsigned max)
{
	int n;

	if (max > u->cap)
		max = u->cap;
	for (unsigned i = 0; i < max; i++) {
		u->rx_iov[i].iov_base = u->rx[i].buf;
		u->rx_iov[i].iov_len = sizeof(u->rx[i].buf);
		memset(&u->rx_hdr[i].msg_hdr, 0, sizeof(u->rx_hdr[i].msg_hdr));
		u->rx_hdr[i].msg_hdr.msg_name = &u->rx[i].peer;
		u->rx_hdr[i].msg_hdr.msg_namelen = sizeof(u->rx[i].peer);
		u->rx_hdr[i].msg_hdr.msg_iov = &u->rx_iov[i];
		u->rx_hdr[i].msg_hdr.msg_iovlen = 1;
	}
	do {
		n = recvmmsg(u->fd, u->rx_hdr, max, MSG_DONTWAIT, NULL);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		u->nrx = 0;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	}
	for (int i = 0; i < n; i++) {
		u->rx[i].len = u->rx_hdr[i].msg_len;
		/* A datagram larger than a slot is truncated: mark it unusable. */
		if (u->rx_hdr[i].msg_hdr.msg_flags & MSG_TRUNC)
			u->rx[i].len = 0;
	}
	u->nrx = (unsigned)n;
	return n;
}

struct udpio_slot *
udpio_tx_slot(struct udpio *u)
{
	return u->ntx < u->cap ? &u->tx[u->ntx] : NULL;
}

void
udpio_tx_commit(struct udpio *u, struct udpio_slot *s, size_t len)
{
	s->len = len;
	u->ntx++;
}

unsigned
udpio_flush(struct udpio *u)
{
	unsigned sent = 0;

	for (unsigned i = 0; i < u->ntx; i++) {
		u->tx_iov[i].iov_base = u->tx[i].buf;
		u->tx_iov[i].iov_len = u->tx[i].len;
		memset(&u->tx_hdr[i].msg_hdr, 0, sizeof(u->tx_hdr[i].msg_hdr));
		u->tx_hdr[i].msg_hdr.msg_name = &u->tx[i].peer;
		u->tx_hdr[i].msg_hdr.msg_namelen = sizeof(u->tx[i].peer);
		u->tx_hdr[i].msg_hdr.msg_iov = &u->tx_iov[i];
		u->tx_hdr[i].msg_hdr.msg_iovlen = 1;
		if (u->tx[i].ifindex != 0) {
			struct msghdr *m = &u->tx_hdr[i].msg_hdr;
			struct in_pktinfo pi;
			struct cmsghdr *c;

			m->msg_control = u->tx[i].ctl.buf;
			m->msg_controllen = sizeof(u->tx[i].ctl.buf);
			c = CMSG_FIRSTHDR(m);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memset(&pi, 0, sizeof(pi));
			pi.ipi_ifindex = u->tx[i].ifindex;
			/* The kernel takes the source from here, not the bind. */
			pi.ipi_spec_dst = u->local;
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		}
	}
	while (sent < u->ntx) {
		int n = sendmmsg(u->fd, u->tx_hdr + sent, u->ntx - sent, 0);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			/*
			 * A full send buffer or an unreachable peer: UDP may
			 * lose a reply; the node retransmits (RFC 5944 §3.6.3).
			 * Skip the datagram that failed and go on.
			 */
			u->send_errors++;
			sent++;
			continue;
		}
		sent += (unsigned)n;
	}
	u->ntx = 0;
	return sent;
}
