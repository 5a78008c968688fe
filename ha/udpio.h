/*
 * udpio.h - batched UDP datagram I/O (recvmmsg/sendmmsg).
 *
 * One receive ring and one send ring of fixed-size slots, allocated once;
 * the registration service and the benchmark's reflector use the same code,
 * so the benchmark's baseline measures exactly the I/O the daemon does.
 */
#ifndef MIPHA_UDPIO_H
#define MIPHA_UDPIO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define UDPIO_SLOT_SIZE	4096	/* registration messages are small; larger is truncated and counted */

struct udpio_slot {
	struct sockaddr_in	 peer;
	size_t			 len;
	/*
	 * tx only: 0 = routed as usual; else leave by this interface (as if
	 * the peer were on its link when no route says otherwise).
	 */
	int			 ifindex;
	union {
		char		 buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr	 align;
	}			 ctl;
	uint8_t			 buf[UDPIO_SLOT_SIZE];
};

struct udpio {
	int			 fd;
	struct in_addr		 local;		/* bound address */
	unsigned		 cap;		/* slots per ring */
	unsigned		 nrx;		/* filled by the last udpio_recv */
	unsigned		 ntx;		/* queued for udpio_flush */
	struct udpio_slot	*rx;
	struct udpio_slot	*tx;
	struct mmsghdr		*rx_hdr;
	struct mmsghdr		*tx_hdr;
	struct iovec		*rx_iov;
	struct iovec		*tx_iov;
	unsigned long		 send_errors;
};

/* Bind a non-blocking UDP socket to addr:port. -1 with errno on failure. */
int	udpio_open(struct udpio *, struct in_addr addr, uint16_t port,
	    unsigned cap);
void	udpio_close(struct udpio *);
/* Receive up to `max` datagrams into rx[0..n); returns n, 0 when none. */
int	udpio_recv(struct udpio *, unsigned max);
/* A free tx slot, or NULL when the ring is full (flush first). */
struct udpio_slot *udpio_tx_slot(struct udpio *);
/* Queue s->buf[0..len) for s->peer; s->ifindex as documented above. */
void	udpio_tx_commit(struct udpio *, struct udpio_slot *, size_t len);
/* Send everything queued; returns how many were sent. */
unsigned udpio_flush(struct udpio *);

#endif /* MIPHA_UDPIO_H */
