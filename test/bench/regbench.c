/*
 * regbench.c - registration load generator for the home agent.
 *
 *   regbench -n NODES [-a HA] [-p PORT] [-L LOCAL] [-H FIRST_HOA] [-s SPI]
 *            [-k KEYSEED] [-l LIFETIME] [-S SOCKETS] [-w WINDOW] [-b BATCH]
 *            [-r RATE] [-d SECONDS] [-W WARMUP] [-t TIMEOUT_MS] [-V EVERY]
 *            [-T SERVER_PID] [-c CPU] [-F] [-f] [-o] [-P SECONDS] [-q]
 *
 * Simulates NODES mobile nodes that register with the home agent HA:PORT,
 * each with its own home address (FIRST_HOA + i), SPI (SPI + i) and
 * HMAC-MD5 key (MD5 of KEYSEED followed by i in decimal: the 16-byte key
 * gen_config.py writes into the tenant file), timestamp replay protection
 * (RFC 5944 §5.7.1), the T and D flags and the local address as co-located
 * care-of address. Requests are encoded and signed with the project's own
 * codec and authenticator (common/mip_msg.c, common/mip_auth.c), one at a
 * time just before they are sent, so every Identification is fresh.
 *
 * Phases:
 *   fill    every node registers once, in order (creates the bindings);
 *   steady  re-registrations of uniformly random nodes (renewals) for
 *           WARMUP + SECONDS; only the last SECONDS are measured.
 * -F skips the fill phase, -f runs only the fill phase. -P waits up to
 * SECONDS for the server to answer (a deregistration of node 0, which
 * creates no binding) and exits 0 when it does.
 *
 * Load: a closed loop with at most WINDOW (4096) requests outstanding (so
 * the server's socket buffer is not overrun), sent with sendmmsg() in
 * batches of up to BATCH requests, round robin over SOCKETS connected UDP
 * sockets (distinct source ports); -r RATE additionally paces the sends to
 * RATE requests per second (an open loop below saturation, for latency;
 * give it a window large enough that a server stall does not stop the
 * sends, or add -o: request k is then due at k/RATE s and its latency
 * counts from then, so a stall that holds the generator back is charged
 * to every request it delays - but so is any delay of the generator).
 * Replies are read with recvmmsg() and matched to their request by the low
 * 32 bits of the Identification: they carry a sequence number, the high 32
 * bits the NTP seconds of the send (RFC 5944 §5.7.1; a reply copies the
 * low half in every case, §5.7). Latency is CLOCK_MONOTONIC from just
 * before the request's sendmmsg() to just after the reply's recvmmsg().
 * A request unanswered after TIMEOUT_MS (5000) counts as lost. A server that
 * echoes the request (test/bench/reflector) is answered the same way: its
 * echoes count as replies ("echo" in the code histogram).
 *
 * Identifications are strictly increasing within a run (seconds, then the
 * sequence number), and a run starts in a wall-clock second after the
 * previous run's last one, so consecutive runs against the same daemon are
 * never refused with code 133. (The sequence number wraps after 2^32
 * requests: hours at the rates measured here.)
 *
 * Home addresses: the benchmark registers up to 1,000,000 nodes, more than
 * the 131,072 addresses of 198.18.0.0/15, so its tenant's home network is
 * 10.0.0.0/12. That is harmless: in this benchmark home addresses travel
 * only inside registration payloads and as a route inside the benchmark's
 * own network namespace; no packet is ever addressed to or from one. The
 * packets themselves use 198.51.100.0/24 only.
 *
 * With -T, the server's CPU time (utime+stime from /proc/PID/stat) over the
 * measured interval is reported, per reply too, and its VmRSS at the end.
 * "wfull" is the share of the measured interval during which the window
 * was full, i.e. the generator waited for the server: near 1 means the
 * server is the bottleneck, near 0 that the generator (or the pacing) is.
 * The run-queue waits of server and generator (/proc/.../schedstat: time
 * runnable but not running) show how much other work on the machine got
 * in the way. "stall" is the longest time without any reply while
 * requests were outstanding (a server that stops, e.g. for a journal
 * compaction).
 *
 * Output: a human-readable summary, then one line per phase
 *   RESULT phase=... nodes=... rate=... p50_us=... p99_us=... ...
 * for test/bench/run.sh.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mip_auth.h"
#include "mip_msg.h"
#include "mip_proto.h"
#include "mip_replay.h"
#include "wire.h"

#define RB_MAXSOCK	64
#define RB_MAXBATCH	1024
#define RB_RXBATCH	256
#define RB_MSGCAP	128	/* a request: 24 fixed + 22 MN-HA auth */
#define RB_RXCAP	2048
#define RB_CODE_ECHO	256	/* histogram slot of echoed requests */

struct opts {
	struct in_addr	 ha, local, hoa0;
	uint16_t	 port;
	uint32_t	 nodes;
	uint32_t	 spi0;
	const char	*keyseed;
	uint16_t	 lifetime;
	unsigned	 nsock;
	unsigned	 window;
	unsigned	 batch;
	double		 rate;		/* requests/s, 0: unpaced */
	bool		 from_due;	/* paced latency from the due time */
	double		 duration;	/* measured seconds of the steady phase */
	double		 warmup;
	double		 timeout;	/* seconds */
	unsigned	 verify_every;
	long		 server_pid;
	int		 cpu;
	bool		 fill, steady;
	double		 probe;		/* seconds; 0: no probe */
	bool		 quiet;
};

/* One request in flight, found by its sequence number. */
struct pend {
	uint64_t	 sent_ns;
	uint32_t	 seq;
	uint32_t	 node;
	bool		 busy;
};

struct phase {
	const char	*name;
	uint64_t	 sent, replies, lost, stale, malformed;
	uint64_t	 verified, verify_fail;
	uint64_t	 codes[RB_CODE_ECHO + 1];
	/* The measured interval [w0, w1] (monotonic ns). */
	uint64_t	 w0, w1;
	uint64_t	 t0;			/* start of the phase */
	uint64_t	 win_replies, win_sent;
	uint64_t	 full_ns;		/* window full, within [w0, w1] */
	uint64_t	 stall_ns;		/* longest wait for any reply */
	uint32_t	*lat;			/* ns, replies within [w0, w1] */
	size_t		 nlat, caplat;
	double		 srv_cpu0, srv_cpu1;	/* seconds */
	double		 gen_cpu0, gen_cpu1;	/* our own CPU time */
	/* Run-queue waits (/proc/.../schedstat): runnable, not running. */
	double		 srv_wait0, srv_wait1, gen_wait0, gen_wait1;
	long		 srv_rss_kb;
	bool		 srv_cpu_ok;
};

struct bench {
	struct opts	 o;
	struct mip_auth	**sa;		/* per node */
	int		 fd[RB_MAXSOCK];
	unsigned	 cur;		/* next socket to send on */
	struct pend	*ring;
	uint32_t	 mask;
	uint32_t	 head, tail;	/* next sequence number, oldest in flight */
	unsigned	 outstanding;
	uint64_t	 rng;
	uint64_t	 nverify;
	uint8_t		 txbuf[RB_MAXBATCH][RB_MSGCAP];
	struct mmsghdr	 txh[RB_MAXBATCH];
	struct iovec	 txv[RB_MAXBATCH];
	uint32_t	 txnode[RB_MAXBATCH];
	uint8_t		 rxbuf[RB_RXBATCH][RB_RXCAP];
	struct mmsghdr	 rxh[RB_RXBATCH];
	struct iovec	 rxv[RB_RXBATCH];
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t
ntp_seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)(mip_ntp_from_timespec(&ts) >> 32);
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The node's key: MD5(keyseed || decimal index), as gen_config.py writes. */
static struct mip_auth *
node_sa(const char *keyseed, uint32_t i)
{
	char s[256];
	uint8_t key[MIP_MD5_LEN];
	int n;

	n = snprintf(s, sizeof(s), "%s%" PRIu32, keyseed, i);
	if (n < 0 || (size_t)n >= sizeof(s))
		return NULL;
	mip_md5((const uint8_t *)s, (size_t)n, key);
	return mip_auth_new(MIP_AUTH_HMAC_MD5, key, sizeof(key));
}

/* Server CPU seconds (utime + stime) from /proc/PID/stat. */
static bool
proc_cpu(long pid, double *sec)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command may hold spaces and parentheses: skip past the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return false;
	/* Fields 3.. follow; utime and stime are fields 14 and 15. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return false;
	*sec = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return true;
}

/* Seconds a task spent runnable but waiting for a CPU (schedstat). */
static double
rq_wait(const char *path)
{
	unsigned long long run, wait;
	FILE *f;
	int n;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? (double)wait / 1e9 : 0;
}

static double
proc_rq_wait(long pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	return rq_wait(path);
}

static long
proc_rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
open_sockets(struct bench *b)
{
	struct sockaddr_in sin;
	int bufsz = 4 << 20;

	for (unsigned i = 0; i < b->o.nsock; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);

		if (fd == -1)
			return -1;
		/* Root may exceed net.core.[rw]mem_max; others get the cap. */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz,
		    sizeof(bufsz)) == -1)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz,
			    sizeof(bufsz));
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz,
		    sizeof(bufsz)) == -1)
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz,
			    sizeof(bufsz));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr = b->o.local;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			return -1;
		sin.sin_addr = b->o.ha;
		sin.sin_port = htons(b->o.port);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			return -1;
		b->fd[i] = fd;
	}
	for (unsigned i = 0; i < RB_RXBATCH; i++) {
		b->rxv[i].iov_base = b->rxbuf[i];
		b->rxv[i].iov_len = sizeof(b->rxbuf[i]);
		memset(&b->rxh[i], 0, sizeof(b->rxh[i]));
		b->rxh[i].msg_hdr.msg_iov = &b->rxv[i];
		b->rxh[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* Encode and sign one request of node i into buf; its length, 0 on error. */
static size_t
build_request(struct bench *b, uint32_t i, uint64_t id, uint16_t lifetime,
    uint8_t *buf, size_t cap)
{
	struct mip_rrq_fields f;
	struct wr w;
	size_t off;

	memset(&f, 0, sizeof(f));
	f.flags = MIP_RRQ_F_T | MIP_RRQ_F_D;
	f.lifetime = lifetime;
	f.home_addr.s_addr = htonl(ntohl(b->o.hoa0.s_addr) + i);
	f.ha_addr = b->o.ha;
	f.coa = b->o.local;
	f.id = id;
	wr_init(&w, buf, cap);
	rrq_put(&w, &f);
	off = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, b->o.spi0 + i, MIP_MD5_LEN);
	if (off == 0 || w.overflow)
		return 0;
	if (mip_auth_sign(b->sa[i], buf, off, buf + off, cap - off) < 0)
		return 0;
	return w.off;
}

static void
lat_push(struct phase *ph, uint64_t ns)
{
	if (ph->nlat == ph->caplat) {
		size_t n = ph->caplat ? ph->caplat * 2 : 1 << 16;
		uint32_t *p = realloc(ph->lat, n * sizeof(*p));

		if (p == NULL)
			return;		/* keep what we have */
		ph->lat = p;
		ph->caplat = n;
	}
	ph->lat[ph->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* Check the reply's MN-HA authenticator with the node's key. */
static void
verify_reply(struct bench *b, struct phase *ph, const uint8_t *msg, size_t len,
    uint32_t node)
{
	struct mip_rrp rrp;
	const struct mip_auth_ext *a;

	ph->verified++;
	if (rrp_decode(msg, len, &rrp) != MIP_MSG_OK) {
		ph->verify_fail++;
		return;
	}
	a = &rrp.ext.mn_ha;
	if (!a->present || a->spi != b->o.spi0 + node ||
	    ntohl(rrp.f.home_addr.s_addr) != ntohl(b->o.hoa0.s_addr) + node ||
	    !mip_auth_verify(b->sa[node], msg, a->covered_len, a->auth,
	    a->auth_len))
		ph->verify_fail++;
}

static void
handle_reply(struct bench *b, struct phase *ph, const uint8_t *msg, size_t len,
    uint64_t now)
{
	unsigned code;
	uint64_t id;
	uint32_t seq;
	struct pend *p;

	if (len >= MIP_RRP_FIXED_LEN && msg[0] == MIP_MSG_RRP) {
		code = msg[1];
		id = be64(msg + 12);
	} else if (len >= MIP_RRQ_FIXED_LEN && msg[0] == MIP_MSG_RRQ) {
		code = RB_CODE_ECHO;
		id = be64(msg + 16);
	} else {
		ph->malformed++;
		return;
	}
	seq = (uint32_t)id;
	p = &b->ring[seq & b->mask];
	if (!p->busy || p->seq != seq) {
		ph->stale++;	/* after its timeout, or a duplicate */
		return;
	}
	p->busy = false;
	b->outstanding--;
	ph->replies++;
	ph->codes[code]++;
	if (now >= ph->w0 && now <= ph->w1) {
		ph->win_replies++;
		lat_push(ph, now - p->sent_ns);
	}
	if (b->o.verify_every != 0 && code != RB_CODE_ECHO &&
	    b->nverify++ % b->o.verify_every == 0)
		verify_reply(b, ph, msg, len, p->node);
}

/* Drop requests that timed out; move tail past answered ones. */
static void
expire(struct bench *b, struct phase *ph, uint64_t now, uint64_t timeout_ns)
{
	while (b->tail != b->head) {
		struct pend *p = &b->ring[b->tail & b->mask];

		if (p->busy && p->seq == b->tail) {
			if (now - p->sent_ns < timeout_ns)
				break;
			p->busy = false;
			b->outstanding--;
			ph->lost++;
		}
		b->tail++;
	}
}

/* Send up to `max` requests; nodes from *next (fill) or at random. */
static unsigned
send_batch(struct bench *b, struct phase *ph, unsigned max, uint32_t *next,
    uint16_t lifetime, uint32_t id_hi_offset)
{
	uint32_t hi = ntp_seconds_now() - id_hi_offset;
	uint64_t now;
	unsigned k, room = b->mask + 1 - (b->head - b->tail);
	int fd, r;

	if (max > b->o.batch)
		max = b->o.batch;
	if (max > room)
		max = room;
	for (k = 0; k < max; k++) {
		uint32_t node, seq = b->head + k;
		size_t len;

		if (next != NULL)
			node = (*next)++;
		else
			node = (uint32_t)(xorshift(&b->rng) % b->o.nodes);
		len = build_request(b, node, (uint64_t)hi << 32 | seq, lifetime,
		    b->txbuf[k], sizeof(b->txbuf[k]));
		if (len == 0) {
			fprintf(stderr, "regbench: cannot encode a request\n");
			exit(1);
		}
		b->txv[k].iov_base = b->txbuf[k];
		b->txv[k].iov_len = len;
		memset(&b->txh[k].msg_hdr, 0, sizeof(b->txh[k].msg_hdr));
		b->txh[k].msg_hdr.msg_iov = &b->txv[k];
		b->txh[k].msg_hdr.msg_iovlen = 1;
		b->txnode[k] = node;
	}
	if (k == 0)
		return 0;
	fd = b->fd[b->cur];
	b->cur = (b->cur + 1) % b->o.nsock;
	now = mono_ns();
	do
		r = sendmmsg(fd, b->txh, k, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		if (errno != EAGAIN && errno != ECONNREFUSED) {
			fprintf(stderr, "regbench: sendmmsg: %s\n", strerror(errno));
			exit(1);
		}
		r = 0;
	}
	/* Unsent requests leave a gap in the sequence; expire() skips it. */
	for (int i = 0; i < r; i++) {
		struct pend *p = &b->ring[(b->head + (uint32_t)i) & b->mask];

		/*
		 * Paced: latency counts from when the request was due, so a
		 * server stall that holds the generator back (window full) is
		 * charged to every request it delayed, not only to those in
		 * flight (no "coordinated omission").
		 */
		if (b->o.rate > 0 && b->o.from_due && ph->t0 != 0)
			p->sent_ns = ph->t0 + (uint64_t)((double)(ph->sent +
			    (uint64_t)i) * 1e9 / b->o.rate);
		else
			p->sent_ns = now;
		p->seq = b->head + (uint32_t)i;
		p->node = b->txnode[i];
		p->busy = true;
	}
	if (next != NULL)
		*next -= k - (unsigned)r;	/* resend those nodes */
	b->head += k;
	b->outstanding += (unsigned)r;
	ph->sent += (unsigned)r;
	if (now >= ph->w0 && now <= ph->w1)
		ph->win_sent += (unsigned)r;
	return (unsigned)r;
}

/* Read whatever replies are queued on every socket. */
static unsigned
receive_all(struct bench *b, struct phase *ph)
{
	unsigned total = 0;

	/*
	 * The headers are set up once (open_sockets): recvmmsg() writes only
	 * msg_len and msg_flags, and the sockets are connected (no names).
	 */
	for (unsigned s = 0; s < b->o.nsock; s++) {
		uint64_t now;
		int n;

		n = recvmmsg(b->fd[s], b->rxh, RB_RXBATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;	/* EAGAIN; ECONNREFUSED: server not up */
		now = mono_ns();
		for (int i = 0; i < n; i++)
			handle_reply(b, ph, b->rxbuf[i], b->rxh[i].msg_len, now);
		total += (unsigned)n;
	}
	return total;
}

static double
self_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
server_sample(struct bench *b, struct phase *ph, bool start)
{
	double c;

	if (start) {
		ph->gen_cpu0 = self_cpu();
		ph->gen_wait0 = rq_wait("/proc/thread-self/schedstat");
	} else {
		ph->gen_cpu1 = self_cpu();
		ph->gen_wait1 = rq_wait("/proc/thread-self/schedstat");
	}
	if (b->o.server_pid <= 0)
		return;
	if (!proc_cpu(b->o.server_pid, &c)) {
		ph->srv_cpu_ok = false;
		return;
	}
	if (start) {
		ph->srv_cpu0 = c;
		ph->srv_wait0 = proc_rq_wait(b->o.server_pid);
		ph->srv_cpu_ok = true;
	} else {
		ph->srv_cpu1 = c;
		ph->srv_wait1 = proc_rq_wait(b->o.server_pid);
		ph->srv_rss_kb = proc_rss_kb(b->o.server_pid);
	}
}

/*
 * Run one phase. fill: every node once, measured from the first send to
 * the last reply. steady: random nodes for warmup + duration, measured
 * over the last `duration` seconds.
 */
static void
run_phase(struct bench *b, struct phase *ph, bool fill)
{
	uint64_t timeout_ns = (uint64_t)(b->o.timeout * 1e9);
	uint64_t t0 = mono_ns(), end_send, last = t0, last_reply = t0;
	uint64_t busy_since = t0;

	ph->t0 = t0;	uint32_t next = 0;
	bool in_window = false, sampled_end = false;

	if (fill) {
		ph->w0 = t0;
		ph->w1 = UINT64_MAX;
		end_send = UINT64_MAX;
		server_sample(b, ph, true);
		in_window = true;
	} else {
		ph->w0 = t0 + (uint64_t)(b->o.warmup * 1e9);
		ph->w1 = ph->w0 + (uint64_t)(b->o.duration * 1e9);
		end_send = ph->w1;
	}
	for (;;) {
		uint64_t now = mono_ns();

		if (interrupted)
			break;
		if (!fill && !in_window && now >= ph->w0) {
			in_window = true;
			server_sample(b, ph, true);
		}
		if (!fill && !sampled_end && now >= ph->w1) {
			sampled_end = true;
			server_sample(b, ph, false);
		}
		if (in_window && now <= ph->w1 && b->outstanding >= b->o.window)
			ph->full_ns += now - last;
		last = now;
		expire(b, ph, now, timeout_ns);

		if (now < end_send && (!fill || next < b->o.nodes) &&
		    b->outstanding < b->o.window) {
			unsigned max = b->o.window - b->outstanding;
			bool idle = b->outstanding == 0;

			if (fill && max > b->o.nodes - next)
				max = b->o.nodes - next;
			if (b->o.rate > 0) {
				double due = b->o.rate * (double)(now - t0) / 1e9 -
				    (double)ph->sent;

				max = due < max ? (due > 0 ? (unsigned)due : 0) : max;
			}
			if (max > 0 && send_batch(b, ph, max, fill ? &next : NULL,
			    b->o.lifetime, 0) > 0 && idle)
				busy_since = now;
		}
		if (receive_all(b, ph) > 0) {
			uint64_t t = mono_ns();
			uint64_t from = last_reply > busy_since ? last_reply :
			    busy_since;

			/* The longest the server kept us waiting for anything. */
			if (t >= ph->w0 && t <= ph->w1 && t - from > ph->stall_ns)
				ph->stall_ns = t - from;
			last_reply = t;
		}
		/* Done: nothing more to send and nothing in flight. */
		if ((fill ? next >= b->o.nodes : now >= end_send) &&
		    b->outstanding == 0)
			break;
	}
	if (fill) {
		ph->w1 = last_reply;
		server_sample(b, ph, false);
	} else if (!sampled_end)
		server_sample(b, ph, false);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_us(const struct phase *ph, double q)
{
	size_t i;

	if (ph->nlat == 0)
		return NAN;
	i = (size_t)ceil(q * (double)ph->nlat);
	if (i > 0)
		i--;
	if (i >= ph->nlat)
		i = ph->nlat - 1;
	return ph->lat[i] / 1e3;
}

static void
report(const struct bench *b, struct phase *ph)
{
	double secs = (double)(ph->w1 - ph->w0) / 1e9;
	double rate = secs > 0 ? (double)ph->win_replies / secs : 0;
	double cpu = -1, wfull = secs > 0 ? (double)ph->full_ns / 1e9 / secs : 0;
	double us_req = -1, gcpu = secs > 0 ? (ph->gen_cpu1 - ph->gen_cpu0) / secs : 0;
	double swait = secs > 0 ? (ph->srv_wait1 - ph->srv_wait0) / secs : 0;
	double gwait = secs > 0 ? (ph->gen_wait1 - ph->gen_wait0) / secs : 0;
	char codes[2048];
	size_t off = 0;

	qsort(ph->lat, ph->nlat, sizeof(*ph->lat), cmp_u32);
	codes[0] = '\0';
	for (unsigned c = 0; c <= RB_CODE_ECHO; c++) {
		int n;

		if (ph->codes[c] == 0)
			continue;
		if (c == RB_CODE_ECHO)
			n = snprintf(codes + off, sizeof(codes) - off, "%secho:%" PRIu64,
			    off ? "," : "", ph->codes[c]);
		else
			n = snprintf(codes + off, sizeof(codes) - off, "%s%u:%" PRIu64,
			    off ? "," : "", c, ph->codes[c]);
		if (n < 0 || (size_t)n >= sizeof(codes) - off)
			break;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(codes, sizeof(codes), "none");
	if (ph->srv_cpu_ok && secs > 0) {
		cpu = 100.0 * (ph->srv_cpu1 - ph->srv_cpu0) / secs;
		if (ph->win_replies > 0)
			us_req = 1e6 * (ph->srv_cpu1 - ph->srv_cpu0) /
			    (double)ph->win_replies;
	}
	if (!b->o.quiet) {
		printf("%s phase, %" PRIu32 " nodes: %.3f s measured\n", ph->name,
		    b->o.nodes, secs);
		printf("  sent %" PRIu64 " (%" PRIu64 " in the interval), replies %"
		    PRIu64 " (%" PRIu64 " in the interval), lost %" PRIu64
		    ", stale %" PRIu64 ", malformed %" PRIu64 "\n", ph->sent,
		    ph->win_sent, ph->replies, ph->win_replies, ph->lost,
		    ph->stale, ph->malformed);
		printf("  replies/s %.0f   latency us: p50 %.1f  p90 %.1f  p99 %.1f"
		    "  p99.9 %.1f  max %.1f\n", rate, pct_us(ph, 0.5),
		    pct_us(ph, 0.9), pct_us(ph, 0.99), pct_us(ph, 0.999),
		    pct_us(ph, 1.0));
		printf("  reply codes: %s\n", codes);
		if (b->o.verify_every)
			printf("  authenticators checked %" PRIu64 ", bad %" PRIu64
			    "\n", ph->verified, ph->verify_fail);
		if (cpu >= 0)
			printf("  server CPU %.1f%% (%.2f us per reply), VmRSS %ld kB\n",
			    cpu, us_req, ph->srv_rss_kb);
		printf("  window full %.1f%% of the interval; generator on CPU "
		    "%.1f%% of it\n", 100 * wfull, 100 * gcpu);
		printf("  longest wait for any reply: %.1f ms\n",
		    (double)ph->stall_ns / 1e6);
		printf("  waiting for a CPU while runnable: server %.1f%%, "
		    "generator %.1f%% of the interval\n", 100 * swait,
		    100 * gwait);
	}
	printf("RESULT phase=%s nodes=%" PRIu32 " secs=%.3f sent=%" PRIu64
	    " replies=%" PRIu64 " win_replies=%" PRIu64 " rate=%.0f p50_us=%.1f"
	    " p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f lost=%" PRIu64
	    " stale=%" PRIu64 " malformed=%" PRIu64 " verified=%" PRIu64
	    " verify_fail=%" PRIu64 " codes=%s server_cpu=%.1f server_rss_kb=%ld"
	    " wfull=%.3f server_us_per_req=%.3f gen_cpu=%.3f server_rq_wait=%.3f"
	    " gen_rq_wait=%.3f stall_ms=%.1f\n", ph->name, b->o.nodes, secs,
	    ph->sent, ph->replies, ph->win_replies, rate, pct_us(ph, 0.5), pct_us(ph, 0.9),
	    pct_us(ph, 0.99), pct_us(ph, 0.999), pct_us(ph, 1.0), ph->lost,
	    ph->stale, ph->malformed, ph->verified, ph->verify_fail, codes, cpu,
	    ph->srv_cpu_ok ? ph->srv_rss_kb : -1L, wfull, us_req, gcpu, swait,
	    gwait, (double)ph->stall_ns / 1e6);
	fflush(stdout);
}

/* Wait until the server answers: deregister node 0 (creates nothing). */
static int
probe(struct bench *b)
{
	struct phase ph;
	uint64_t t0 = mono_ns(), deadline = t0 + (uint64_t)(b->o.probe * 1e9);

	memset(&ph, 0, sizeof(ph));
	ph.w0 = ph.w1 = 0;
	while (mono_ns() < deadline && !interrupted) {
		uint64_t until = mono_ns() + 50000000u;	/* 50 ms */
		uint32_t next = 0;
		uint32_t saved = b->o.nodes;

		/*
		 * Seconds 3 behind now: well inside the replay window, and
		 * older than anything the benchmark sends afterwards.
		 */
		b->o.nodes = 1;
		if (b->outstanding == 0)
			send_batch(b, &ph, 1, &next, 0, 3);
		b->o.nodes = saved;
		while (mono_ns() < until) {
			receive_all(b, &ph);
			if (ph.replies > 0)
				return 0;
			usleep(1000);
		}
		expire(b, &ph, mono_ns(), 0);
	}
	return 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: regbench -n NODES [-a HA] [-p PORT] [-L LOCAL] [-H FIRST_HOA]\n"
	    "       [-s SPI] [-k KEYSEED] [-l LIFETIME] [-S SOCKETS] [-w WINDOW]\n"
	    "       [-b BATCH] [-r RATE] [-d SECONDS] [-W WARMUP] [-t TIMEOUT_MS]\n"
	    "       [-V EVERY] [-T SERVER_PID] [-c CPU] [-F] [-f] [-o] [-P SECONDS]\n"
	    "       [-q]\n");
	exit(2);
}

static void
parse_addr(const char *s, struct in_addr *a)
{
	if (inet_pton(AF_INET, s, a) != 1) {
		fprintf(stderr, "regbench: not an IPv4 address: %s\n", s);
		exit(2);
	}
}

static double
parse_num(const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max) {
		fprintf(stderr, "regbench: bad number: %s\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char *argv[])
{
	static struct bench b;
	struct opts *o = &b.o;
	struct phase fill, steady;
	uint64_t t;
	int ch, rc;

	parse_addr("198.51.100.1", &o->ha);
	parse_addr("198.51.100.2", &o->local);
	parse_addr("10.0.0.1", &o->hoa0);
	o->port = MIP_PORT;
	o->spi0 = 256;
	o->keyseed = "mipha-bench-";
	o->lifetime = 600;
	o->nsock = 4;
	o->window = 4096;
	o->batch = 64;
	o->duration = 5;
	o->warmup = 1;
	o->timeout = 5;
	o->cpu = -1;
	o->fill = o->steady = true;
	while ((ch = getopt(argc, argv, "a:b:c:d:fFH:k:l:L:n:op:P:qr:s:S:t:T:V:w:W:"))
	    != -1) {
		switch (ch) {
		case 'a':
			parse_addr(optarg, &o->ha);
			break;
		case 'b':
			o->batch = (unsigned)parse_num(optarg, 1, RB_MAXBATCH);
			break;
		case 'c':
			o->cpu = (int)parse_num(optarg, 0, CPU_SETSIZE - 1);
			break;
		case 'd':
			o->duration = parse_num(optarg, 0.1, 3600);
			break;
		case 'f':
			o->steady = false;
			break;
		case 'F':
			o->fill = false;
			break;
		case 'H':
			parse_addr(optarg, &o->hoa0);
			break;
		case 'k':
			o->keyseed = optarg;
			break;
		case 'l':
			o->lifetime = (uint16_t)parse_num(optarg, 1, 65534);
			break;
		case 'L':
			parse_addr(optarg, &o->local);
			break;
		case 'n':
			o->nodes = (uint32_t)parse_num(optarg, 1, 1 << 24);
			break;
		case 'o':
			o->from_due = true;
			break;
		case 'p':
			o->port = (uint16_t)parse_num(optarg, 1, 65535);
			break;
		case 'P':
			o->probe = parse_num(optarg, 0.1, 3600);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'r':
			o->rate = parse_num(optarg, 0, 1e9);
			break;
		case 's':
			o->spi0 = (uint32_t)parse_num(optarg, 256, 4e9);
			break;
		case 'S':
			o->nsock = (unsigned)parse_num(optarg, 1, RB_MAXSOCK);
			break;
		case 't':
			o->timeout = parse_num(optarg, 1, 600000) / 1e3;
			break;
		case 'T':
			o->server_pid = (long)parse_num(optarg, 1, 1e9);
			break;
		case 'V':
			o->verify_every = (unsigned)parse_num(optarg, 0, 1e9);
			break;
		case 'w':
			o->window = (unsigned)parse_num(optarg, 1, 1 << 20);
			break;
		case 'W':
			o->warmup = parse_num(optarg, 0, 3600);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->nodes == 0)
		usage();
	if (o->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1) {
			fprintf(stderr, "regbench: sched_setaffinity %d: %s\n",
			    o->cpu, strerror(errno));
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* Ring of requests in flight: a power of two, 4x the window. */
	b.mask = 1023;
	while (b.mask + 1 < 4 * o->window)
		b.mask = b.mask * 2 + 1;
	b.ring = calloc((size_t)b.mask + 1, sizeof(*b.ring));
	b.sa = calloc(o->nodes, sizeof(*b.sa));
	if (b.ring == NULL || b.sa == NULL) {
		fprintf(stderr, "regbench: out of memory\n");
		return 1;
	}
	t = mono_ns();
	for (uint32_t i = 0; i < (o->probe > 0 ? 1 : o->nodes); i++)
		if ((b.sa[i] = node_sa(o->keyseed, i)) == NULL) {
			fprintf(stderr, "regbench: mip_auth_new failed\n");
			return 1;
		}
	if (!o->quiet && o->probe == 0)
		printf("keyed %" PRIu32 " nodes in %.2f s\n", o->nodes,
		    (double)(mono_ns() - t) / 1e9);
	if (open_sockets(&b) == -1) {
		fprintf(stderr, "regbench: socket setup: %s\n", strerror(errno));
		return 1;
	}
	b.rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();

	memset(&fill, 0, sizeof(fill));
	fill.name = "fill";
	memset(&steady, 0, sizeof(steady));
	steady.name = "steady";
	if (o->probe > 0) {
		rc = probe(&b);
		goto out;
	}

	/* Start in a second of our own: see "Identifications" above. */
	{
		uint32_t s = ntp_seconds_now();

		while (ntp_seconds_now() == s)
			usleep(1000);
	}
	if (o->fill) {
		run_phase(&b, &fill, true);
		report(&b, &fill);
	}
	if (o->steady && !interrupted) {
		run_phase(&b, &steady, false);
		report(&b, &steady);
	}
	rc = interrupted ? 1 : 0;
out:
	free(fill.lat);
	free(steady.lat);
	for (uint32_t i = 0; i < o->nodes; i++)
		mip_auth_free(b.sa[i]);
	free(b.sa);
	free(b.ring);
	for (unsigned i = 0; i < o->nsock; i++)
		close(b.fd[i]);
	return rc;
}
