/*
 * dp_mnstack.c - the mobile node's end of an IP-in-IP tunnel, in
 * userspace, for the data-plane benchmark (test/bench/dp_run.sh).
 *
 *   dp_mnstack -t TUN -a HOA -H HA -c COA [-b BATCH] [-C CPU]
 *
 * The test kernels have no ipip module, so a co-located mobile node
 * cannot decapsulate in the kernel. This stands in for it: IP-in-IP
 * datagrams from HA to COA, read from a raw protocol-4 socket with
 * recvmmsg in batches, lose their outer header (RFC 2003 §3) and are
 * written into the TUN device TUN when their inner destination is HOA;
 * datagrams the node's stack routes into TUN (source HOA) get an outer
 * header COA -> HA (DF copied from the inner header, RFC 2003 §3.1) and
 * leave in batches of BATCH with sendmmsg on a raw IP_HDRINCL socket -
 * the reverse tunnel (RFC 3024). TUN is created here (IFF_TUN |
 * IFF_NO_PI, non-persistent); its address and routes are the caller's.
 * A TUN device moves one datagram per read()/write(), so those are
 * per-packet system calls.
 *
 * SIGTERM/SIGINT stop it; it then prints its counters on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MN_MAXBATCH	256
#define MN_SLOT		4096		/* the TUN MTU is 1480 here: no GSO */

struct slot {
	uint8_t		 buf[MN_SLOT];
};

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: dp_mnstack -t TUN -a HOA -H HA -c COA "
	    "[-b BATCH] [-C CPU]\n");
	exit(2);
}

static struct in_addr
addr(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "dp_mnstack: bad address %s\n", s);
		exit(2);
	}
	return a;
}

static int
tun_create(const char *name)
{
	struct ifreq ifr;
	int fd;

	if ((fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static struct slot rx[MN_MAXBATCH], tx[MN_MAXBATCH];
	static struct mmsghdr rxh[MN_MAXBATCH], txh[MN_MAXBATCH];
	static struct iovec rxv[MN_MAXBATCH], txv[MN_MAXBATCH];
	const char *tun = NULL, *hoa_s = NULL, *ha_s = NULL, *coa_s = NULL;
	struct in_addr hoa, ha, coa;
	struct sockaddr_in to;
	int ch, batch = 64, cpu = -1, tfd, rfd, sfd, bufsz = 16 << 20;
	uint64_t decap = 0, encap = 0, bad = 0, tun_err = 0, send_err = 0;
	uint64_t rx_calls = 0, tx_calls = 0;
	struct pollfd pfd[2];

	while ((ch = getopt(argc, argv, "t:a:H:c:b:C:")) != -1) {
		switch (ch) {
		case 't': tun = optarg; break;
		case 'a': hoa_s = optarg; break;
		case 'H': ha_s = optarg; break;
		case 'c': coa_s = optarg; break;
		case 'b': batch = atoi(optarg); break;
		case 'C': cpu = atoi(optarg); break;
		default: usage();
		}
	}
	if (tun == NULL || hoa_s == NULL || ha_s == NULL || coa_s == NULL ||
	    batch < 1 || batch > MN_MAXBATCH)
		usage();
	hoa = addr(hoa_s);
	ha = addr(ha_s);
	coa = addr(coa_s);
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	if ((tfd = tun_create(tun)) == -1) {
		fprintf(stderr, "dp_mnstack: tun %s: %s\n", tun, strerror(errno));
		return 1;
	}
	rfd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_IPIP);
	sfd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (rfd == -1 || sfd == -1) {
		perror("dp_mnstack: raw socket");
		return 1;
	}
	if (setsockopt(rfd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
	    sizeof(bufsz)) == -1)
		(void)setsockopt(rfd, SOL_SOCKET, SO_RCVBUF, &bufsz,
		    sizeof(bufsz));
	if (setsockopt(sfd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
	    sizeof(bufsz)) == -1)
		(void)setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &bufsz,
		    sizeof(bufsz));
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = ha;
	for (int i = 0; i < batch; i++) {
		rxv[i].iov_base = rx[i].buf;
		rxv[i].iov_len = sizeof(rx[i].buf);
		rxh[i].msg_hdr.msg_iov = &rxv[i];
		rxh[i].msg_hdr.msg_iovlen = 1;
		txh[i].msg_hdr.msg_iov = &txv[i];
		txh[i].msg_hdr.msg_iovlen = 1;
		txh[i].msg_hdr.msg_name = &to;
		txh[i].msg_hdr.msg_namelen = sizeof(to);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	fprintf(stderr, "dp_mnstack: %s up, HoA %s, CoA %s, HA %s\n", tun,
	    hoa_s, coa_s, ha_s);
	pfd[0].fd = rfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = tfd;
	pfd[1].events = POLLIN;
	while (!quit) {
		bool busy = false;
		int n;

		/* Tunnel -> TUN: decapsulate. */
		n = recvmmsg(rfd, rxh, (unsigned)batch, MSG_DONTWAIT, NULL);
		if (n > 0) {
			busy = true;
			rx_calls++;
		}
		for (int i = 0; i < n; i++) {
			const uint8_t *p = rx[i].buf;
			size_t len = rxh[i].msg_len, ohl;

			if (len < 40 || (p[0] >> 4) != 4 ||
			    (ohl = (size_t)(p[0] & 15) * 4) < 20 ||
			    len < ohl + 20 || memcmp(p + 12, &ha, 4) != 0 ||
			    memcmp(p + 16, &coa, 4) != 0 ||
			    (p[ohl] >> 4) != 4 ||
			    memcmp(p + ohl + 16, &hoa, 4) != 0) {
				bad++;
				continue;
			}
			if (write(tfd, p + ohl, len - ohl) != (ssize_t)(len - ohl))
				tun_err++;
			else
				decap++;
		}
		/* TUN -> tunnel: encapsulate, then one sendmmsg. */
		n = 0;
		while (n < batch) {
			uint8_t *b = tx[n].buf;
			ssize_t len = read(tfd, b + 20, sizeof(tx[n].buf) - 20);
			size_t tot;

			if (len <= 0)
				break;
			if (len < 20 || (b[20] >> 4) != 4 ||
			    memcmp(b + 20 + 12, &hoa, 4) != 0) {
				bad++;
				continue;
			}
			tot = (size_t)len + 20;
			memset(b, 0, 20);
			b[0] = 0x45;
			b[2] = (uint8_t)(tot >> 8);
			b[3] = (uint8_t)tot;
			b[6] = b[26] & 0x40;	/* DF from the inner header */
			b[8] = 64;
			b[9] = IPPROTO_IPIP;
			memcpy(b + 12, &coa, 4);
			memcpy(b + 16, &ha, 4);
			/* ID and checksum: the kernel's (IP_HDRINCL, id 0). */
			txv[n].iov_base = b;
			txv[n].iov_len = tot;
			n++;
		}
		if (n > 0) {
			int sent = 0;

			busy = true;
			while (sent < n) {
				int r = sendmmsg(sfd, txh + sent,
				    (unsigned)(n - sent), 0);

				tx_calls++;
				if (r == -1) {
					if (errno == EINTR)
						continue;
					send_err++;
					sent++;
					continue;
				}
				sent += r;
			}
			encap += (uint64_t)n;
		}
		if (!busy)
			(void)poll(pfd, 2, 200);
	}
	fprintf(stderr, "dp_mnstack: decapsulated %llu (%llu recvmmsg), "
	    "encapsulated %llu (%llu sendmmsg), bad %llu, tun write errors "
	    "%llu, send errors %llu\n", (unsigned long long)decap,
	    (unsigned long long)rx_calls, (unsigned long long)encap,
	    (unsigned long long)tx_calls, (unsigned long long)bad,
	    (unsigned long long)tun_err, (unsigned long long)send_err);
	return 0;
}
