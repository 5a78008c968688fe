/*
 * reflector.c - a bare UDP reflector built from the daemon's own I/O.
 *
 *   reflector [-a ADDR] [-p PORT] [-c CPU]
 *
 * The baseline of the registration benchmark (test/bench/run.sh): the
 * same batched socket code as the registration service (ha/udpio.c, the
 * same ring size, receive batch and per-event budget) in the same libev
 * readiness loop shape as reg_read_cb() in ha/registration.c - drain the
 * socket in batches of REFL_BATCH up to REFL_BUDGET datagrams, then send
 * everything with one udpio_flush() - but each datagram is copied to a
 * tx slot unchanged (an echo) instead of being decoded, authenticated,
 * bound, journalled and answered. The daemon's rate divided by this rate
 * is the share of the I/O ceiling the registration path reaches.
 *
 * -c pins the process to one CPU (sched_setaffinity). SIGTERM/SIGINT stop
 * it; it then prints what it echoed on stderr.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "udpio.h"

/* Keep in step with REG_BATCH and REG_BUDGET in ha/registration.c. */
#define REFL_BATCH	256	/* datagrams per recvmmsg */
#define REFL_BUDGET	1024	/* datagrams per readable event, ring size */

struct refl {
	struct udpio	 io;
	ev_io		 io_w;
	uint64_t	 datagrams;
	uint64_t	 batches;	/* flushes */
	uint64_t	 events;	/* readable events */
};

/* The shape of reg_read_cb(), with the echo in place of reg_handle(). */
static void
refl_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct refl *r = w->data;
	unsigned handled = 0;

	(void)loop;
	(void)revents;
	r->events++;
	while (handled < REFL_BUDGET) {
		unsigned room = r->io.cap - r->io.ntx;
		int n;

		if (room == 0)
			break;
		n = udpio_recv(&r->io, room < REFL_BATCH ? room : REFL_BATCH);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			struct udpio_slot *in = &r->io.rx[i];
			struct udpio_slot *o = udpio_tx_slot(&r->io);

			if (in->len == 0)
				continue;
			memcpy(o->buf, in->buf, in->len);
			o->peer = in->peer;
			udpio_tx_commit(&r->io, o, in->len);
			r->datagrams++;
		}
		handled += (unsigned)n;
		if ((unsigned)n < REFL_BATCH)
			break;
	}
	if (r->io.ntx == 0)
		return;
	r->batches++;
	udpio_flush(&r->io);
}

static void
refl_stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: reflector [-a ADDR] [-p PORT] [-c CPU]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct ev_loop *loop;
	struct refl r;
	struct in_addr addr;
	ev_signal sigterm_w, sigint_w;
	const char *a = "198.51.100.1";
	long port = 434, cpu = -1;
	int ch;

	while ((ch = getopt(argc, argv, "a:c:p:")) != -1) {
		switch (ch) {
		case 'a':
			a = optarg;
			break;
		case 'c':
			cpu = strtol(optarg, NULL, 10);
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || port <= 0 || port > 65535 ||
	    inet_pton(AF_INET, a, &addr) != 1)
		usage();
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) == -1) {
			fprintf(stderr, "reflector: sched_setaffinity %ld: %s\n",
			    cpu, strerror(errno));
			return 1;
		}
	}
	memset(&r, 0, sizeof(r));
	if (udpio_open(&r.io, addr, (uint16_t)port, REFL_BUDGET) == -1) {
		fprintf(stderr, "reflector: cannot bind UDP %s:%ld: %s\n", a, port,
		    strerror(errno));
		return 3;
	}
	loop = ev_default_loop(0);
	ev_io_init(&r.io_w, refl_read_cb, r.io.fd, EV_READ);
	r.io_w.data = &r;
	ev_io_start(loop, &r.io_w);
	ev_signal_init(&sigterm_w, refl_stop_cb, SIGTERM);
	ev_signal_start(loop, &sigterm_w);
	ev_signal_init(&sigint_w, refl_stop_cb, SIGINT);
	ev_signal_start(loop, &sigint_w);
	ev_run(loop, 0);
	fprintf(stderr, "reflector: %llu datagrams echoed in %llu flushes "
	    "(%llu readable events), %lu send errors\n",
	    (unsigned long long)r.datagrams, (unsigned long long)r.batches,
	    (unsigned long long)r.events, r.io.send_errors);
	udpio_close(&r.io);
	return 0;
}
