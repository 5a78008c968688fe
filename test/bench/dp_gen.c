/*
 * dp_gen.c - packet generator and counting sink of the data-plane
 * benchmark (test/bench/dp_run.sh).
 *
 *   dp_gen gen  -C CTR -s SRC -d DST [-e OSRC,ODST] [-P udp|esp] [-m raw|udp]
 *               [-p PORT] [-l LEN] [-b BATCH] [-W WINDOW] [-w WARM] [-t SECS]
 *               [-c CPU] [-q]
 *   dp_gen sink -C CTR -m udp -a ADDR -p PORT [-c CPU]
 *   dp_gen sink -C CTR -m raw -P PROTO [-a OUTER_SRC] [-c CPU]
 *
 * The sink creates CTR, a small shared file (mmap) with its running
 * count of datagrams received, and counts until the generator sets the
 * stop flag in it (or SIGTERM/SIGINT). It reads with recvmmsg in
 * batches of 64 from a UDP socket bound to ADDR:PORT or from a raw
 * socket of protocol PROTO (4: IP-in-IP, 50: ESP, 17: UDP), optionally
 * only datagrams whose outer source is ADDR.
 *
 * The generator builds one datagram: IPv4 SRC -> DST carrying UDP (to
 * PORT, LEN octets of payload; 18 makes a 60-octet Ethernet frame) or
 * an ESP-like header (protocol 50: SPI, sequence number, LEN octets),
 * with -e wrapped in an IP-in-IP header OSRC -> ODST (RFC 2003), and
 * sends it with sendmmsg in batches of BATCH from a raw IP_HDRINCL
 * socket (-m raw, the default; the same send path for every figure) or,
 * for plain UDP, from a connected UDP socket (-m udp).
 *
 * Self-throttling (shared/notes/ebpf-fastpath.md pitfall 6): a sender
 * that overruns the receiver's queues measures the cost of dropping,
 * not of forwarding. The generator keeps at most WINDOW datagrams in
 * flight - sent minus what the sink has counted - and waits (spinning,
 * then yielding the CPU) while the window is full, so the rate settles
 * at what the slowest stage of the path carries without loss. When the
 * sink makes no progress for 20 ms with the window full, the datagrams
 * in flight are written off as lost and sending resumes.
 *
 * After WARM seconds (default 1) it measures SECS seconds (default 3)
 * and prints one line:
 *   RESULT sent=N rcvd=N secs=S tx_pps=R rx_pps=R lost=N stalls=N
 * where rx_pps, the sink's count over the same interval, is the figure.
 * -c pins either side to one CPU.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GEN_MAXBATCH	1024
#define SINK_BATCH	64
#define SINK_BUF	2048
#define STALL_NS	20000000LL	/* 20 ms without progress: loss */

struct ctr {
	_Atomic uint64_t	rx;		/* datagrams counted by the sink */
	_Atomic uint64_t	rx_bytes;
	_Atomic uint32_t	ready;		/* the sink's socket is open */
	_Atomic uint32_t	stop;		/* the generator is done */
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
	fprintf(stderr,
	    "usage: dp_gen gen -C CTR -s SRC -d DST [-e OSRC,ODST] "
	    "[-P udp|esp] [-m raw|udp]\n"
	    "\t[-p PORT] [-l LEN] [-b BATCH] [-W WINDOW] [-w WARM] "
	    "[-t SECS] [-c CPU] [-q]\n"
	    "       dp_gen sink -C CTR -m udp|raw [-a ADDR] [-p PORT] "
	    "[-P PROTO] [-c CPU]\n");
	exit(2);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		fprintf(stderr, "dp_gen: CPU %d: %s\n", cpu, strerror(errno));
}

static struct in_addr
addr(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "dp_gen: bad address %s\n", s);
		exit(2);
	}
	return a;
}

/*
 * The sink creates the file (at its full size, then renames it into
 * place, so a generator never maps a short file); the generator waits
 * for it.
 */
static struct ctr *
ctr_map(const char *path, bool create)
{
	char tmp[4096];
	struct ctr *c;
	int fd = -1;

	if (create) {
		snprintf(tmp, sizeof(tmp), "%s.new", path);
		fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd == -1 || ftruncate(fd, sizeof(*c)) == -1 ||
		    rename(tmp, path) == -1) {
			fprintf(stderr, "dp_gen: %s: %s\n", path,
			    strerror(errno));
			exit(1);
		}
	} else {
		for (int i = 0; i < 5000 && fd == -1; i++) {
			if ((fd = open(path, O_RDWR)) == -1)
				usleep(1000);
		}
		if (fd == -1) {
			fprintf(stderr, "dp_gen: %s: %s (is the sink "
			    "running?)\n", path, strerror(errno));
			exit(1);
		}
	}
	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (c == MAP_FAILED) {
		fprintf(stderr, "dp_gen: mmap %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
	return c;
}

static uint16_t
cksum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An IPv4 header without options; the checksum is filled in. */
static void
ip_hdr(uint8_t *p, size_t tot, uint8_t proto, struct in_addr src,
    struct in_addr dst)
{
	uint16_t c;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	p[6] = 0x40;		/* DF, as a VPN gateway's packets carry */
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	c = cksum(p, 20);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
}

/* ---- sink ---- */

static int
sink(int argc, char **argv)
{
	struct mmsghdr hdr[SINK_BATCH];
	struct iovec iov[SINK_BATCH];
	static uint8_t buf[SINK_BATCH][SINK_BUF];
	struct sockaddr_in from[SINK_BATCH], sin;
	struct timeval tv = { 0, 100000 };
	const char *ctrpath = NULL, *mode = "udp", *a = NULL;
	struct in_addr filter = { 0 };
	int ch, cpu = -1, port = 9, proto = 4, fd, bufsz = 32 << 20;
	uint64_t n = 0, bytes = 0;
	struct ctr *c;

	while ((ch = getopt(argc, argv, "C:m:a:p:P:c:")) != -1) {
		switch (ch) {
		case 'C': ctrpath = optarg; break;
		case 'm': mode = optarg; break;
		case 'a': a = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'P': proto = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		default: usage();
		}
	}
	if (ctrpath == NULL)
		usage();
	pin(cpu);
	if (strcmp(mode, "udp") == 0) {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		if (a != NULL)
			sin.sin_addr = addr(a);
		if (fd == -1 || bind(fd, (struct sockaddr *)&sin,
		    sizeof(sin)) == -1) {
			perror("dp_gen: udp sink");
			return 1;
		}
	} else if (strcmp(mode, "raw") == 0) {
		if ((fd = socket(AF_INET, SOCK_RAW, proto)) == -1) {
			perror("dp_gen: raw sink");
			return 1;
		}
		if (a != NULL)
			filter = addr(a);
	} else
		usage();
	/* Room for the window and more; FORCE needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
	    sizeof(bufsz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz,
		    sizeof(bufsz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	c = ctr_map(ctrpath, true);
	atomic_store(&c->ready, 1);
	while (!quit && !atomic_load(&c->stop)) {
		int r;

		for (int i = 0; i < SINK_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = SINK_BUF;
			memset(&hdr[i].msg_hdr, 0, sizeof(hdr[i].msg_hdr));
			hdr[i].msg_hdr.msg_iov = &iov[i];
			hdr[i].msg_hdr.msg_iovlen = 1;
			hdr[i].msg_hdr.msg_name = &from[i];
			hdr[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		r = recvmmsg(fd, hdr, SINK_BATCH, MSG_WAITFORONE, NULL);
		if (r <= 0)
			continue;
		for (int i = 0; i < r; i++) {
			if (filter.s_addr != 0 &&
			    from[i].sin_addr.s_addr != filter.s_addr)
				continue;
			n++;
			bytes += hdr[i].msg_len;
		}
		atomic_store_explicit(&c->rx, n, memory_order_release);
		atomic_store_explicit(&c->rx_bytes, bytes, memory_order_relaxed);
	}
	fprintf(stderr, "dp_gen sink: %llu datagrams, %llu octets\n",
	    (unsigned long long)n, (unsigned long long)bytes);
	return 0;
}

/* ---- generator ---- */

static int
gen(int argc, char **argv)
{
	static struct mmsghdr hdr[GEN_MAXBATCH];
	static struct iovec iov[GEN_MAXBATCH];
	static uint8_t pkt[2048];
	const char *ctrpath = NULL, *mode = "raw", *l4 = "udp";
	const char *src = NULL, *dst = NULL, *encap = NULL;
	int ch, cpu = -1, port = 9, len = 18, batch = 32, window = 256;
	double warm = 1, secs = 3;
	bool quiet = false;
	struct sockaddr_in to;
	struct in_addr s, d;
	size_t plen, off = 0;
	uint8_t *ip;
	uint64_t sent = 0, lost = 0, stalls = 0, sent0 = 0, rx0 = 0;
	int64_t t0 = 0, tend, tstart;
	bool measuring = false;
	struct ctr *c;
	int fd;

	while ((ch = getopt(argc, argv, "C:s:d:e:P:m:p:l:b:W:w:t:c:q")) != -1) {
		switch (ch) {
		case 'C': ctrpath = optarg; break;
		case 's': src = optarg; break;
		case 'd': dst = optarg; break;
		case 'e': encap = optarg; break;
		case 'P': l4 = optarg; break;
		case 'm': mode = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'l': len = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'W': window = atoi(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'q': quiet = true; break;
		default: usage();
		}
	}
	if (ctrpath == NULL || src == NULL || dst == NULL || len < 8 ||
	    len > 1400 || batch < 1 || batch > GEN_MAXBATCH || window < batch)
		usage();
	pin(cpu);
	s = addr(src);
	d = addr(dst);

	/* The datagram, inner first (at off), then the IP-in-IP header. */
	if (encap != NULL)
		off = 20;
	ip = pkt + off;
	if (strcmp(l4, "udp") == 0) {
		plen = 20 + 8 + (size_t)len;
		ip[20] = 0x9c;		/* source port 40000 */
		ip[21] = 0x40;
		ip[22] = (uint8_t)(port >> 8);
		ip[23] = (uint8_t)port;
		ip[24] = (uint8_t)((8 + len) >> 8);
		ip[25] = (uint8_t)(8 + len);
		ip[26] = ip[27] = 0;	/* no UDP checksum (RFC 768) */
		memset(ip + 28, 'd', (size_t)len);
		ip_hdr(ip, plen, 17, s, d);
	} else if (strcmp(l4, "esp") == 0) {
		/* SPI 0x1000, sequence 1; the rest opaque like ciphertext. */
		plen = 20 + 8 + (size_t)len;
		memset(ip + 20, 0, 8);
		ip[22] = 0x10;
		ip[27] = 1;
		memset(ip + 28, 0xe5, (size_t)len);
		ip_hdr(ip, plen, 50, s, d);
	} else
		usage();
	if (encap != NULL) {
		char o[64], *comma;

		snprintf(o, sizeof(o), "%s", encap);
		if ((comma = strchr(o, ',')) == NULL)
			usage();
		*comma = '\0';
		ip_hdr(pkt, plen + 20, 4, addr(o), addr(comma + 1));
		d = addr(comma + 1);
		plen += 20;
	}

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr = d;
	if (strcmp(mode, "udp") == 0) {
		struct sockaddr_in me;

		if (encap != NULL || strcmp(l4, "udp") != 0)
			usage();
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		memset(&me, 0, sizeof(me));
		me.sin_family = AF_INET;
		me.sin_addr = s;
		me.sin_port = htons(40000);
		to.sin_port = htons((uint16_t)port);
		if (fd == -1 || bind(fd, (struct sockaddr *)&me,
		    sizeof(me)) == -1 || connect(fd, (struct sockaddr *)&to,
		    sizeof(to)) == -1) {
			perror("dp_gen: udp socket");
			return 1;
		}
		for (int i = 0; i < batch; i++) {
			iov[i].iov_base = ip + 28;
			iov[i].iov_len = (size_t)len;
		}
	} else if (strcmp(mode, "raw") == 0) {
		if ((fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW)) == -1) {
			perror("dp_gen: raw socket");
			return 1;
		}
		for (int i = 0; i < batch; i++) {
			iov[i].iov_base = pkt;
			iov[i].iov_len = plen;
			hdr[i].msg_hdr.msg_name = &to;
			hdr[i].msg_hdr.msg_namelen = sizeof(to);
		}
	} else
		usage();
	for (int i = 0; i < batch; i++) {
		hdr[i].msg_hdr.msg_iov = &iov[i];
		hdr[i].msg_hdr.msg_iovlen = 1;
	}

	c = ctr_map(ctrpath, false);
	for (int i = 0; i < 5000 && !atomic_load(&c->ready); i++)
		usleep(1000);
	if (!atomic_load(&c->ready)) {
		fprintf(stderr, "dp_gen: the sink is not ready\n");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	tstart = now_ns();
	tend = tstart + (int64_t)((warm + secs) * 1e9);
	while (!quit) {
		uint64_t rx = atomic_load_explicit(&c->rx, memory_order_acquire);
		int64_t t = now_ns();
		int n, want;

		if (!measuring && t - tstart >= (int64_t)(warm * 1e9)) {
			measuring = true;
			t0 = t;
			sent0 = sent;
			rx0 = rx;
		}
		if (t >= tend)
			break;
		/* The window: wait for the sink, then write off a stall. */
		if (sent - lost - rx + batch > (uint64_t)window) {
			int64_t w0 = t;
			uint64_t rxw = rx;
			unsigned spins = 0;

			while (!quit && sent - lost - rx + batch >
			    (uint64_t)window) {
				if (++spins < 2000)
					__asm__ volatile("pause");
				else
					sched_yield();
				rx = atomic_load_explicit(&c->rx,
				    memory_order_acquire);
				if (rx != rxw) {
					rxw = rx;
					w0 = now_ns();
				} else if ((spins & 63) == 0 &&
				    now_ns() - w0 > STALL_NS) {
					lost = sent - rx;
					stalls++;
					break;
				}
			}
			continue;
		}
		want = batch;
		n = sendmmsg(fd, hdr, (unsigned)want, 0);
		if (n == -1) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue;
			perror("dp_gen: sendmmsg");
			return 1;
		}
		sent += (uint64_t)n;
	}
	{
		uint64_t rx = atomic_load(&c->rx);
		double dt = (double)(now_ns() - t0) / 1e9;
		uint64_t ds = sent - sent0, dr = rx - rx0;

		/* Let the last datagrams in flight arrive before stopping. */
		usleep(200000);
		rx = atomic_load(&c->rx);
		atomic_store(&c->stop, 1);
		if (!quiet)
			fprintf(stderr, "dp_gen: %s -> %s%s%s, %zu octets, "
			    "batch %d, window %d\n", src, dst,
			    encap != NULL ? " in IP-in-IP " : "",
			    encap != NULL ? encap : "", plen, batch, window);
		printf("RESULT sent=%llu rcvd=%llu secs=%.3f tx_pps=%.0f "
		    "rx_pps=%.0f lost=%llu stalls=%llu\n",
		    (unsigned long long)ds, (unsigned long long)dr, dt,
		    ds / dt, dr / dt,
		    (unsigned long long)(sent > rx ? sent - rx : 0),
		    (unsigned long long)stalls);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "gen") == 0)
		return gen(argc - 1, argv + 1);
	if (strcmp(argv[1], "sink") == 0)
		return sink(argc - 1, argv + 1);
	usage();
	return 2;
}
