/*
 * ctl_testd.c - a tiny daemon for test/unit/ctl_test.sh: ha/control.c on
 * a libev loop with stub handlers, driven by the real miphactl.
 *
 *	ctl_testd [-t request_timeout] [-i idle_timeout] SOCKET
 *
 * show bindings		three sample bindings
 * show bindings acme|beta	those of one tenant
 * show bindings mid		10,000 generated rows
 * show bindings big		100,000 generated rows
 * show bindings huge		1,000,000 generated rows
 * show bindings bytes		strings with every byte value and UTF-8
 * show bindings bad		a handler that misuses the emitter
 * show bindings OTHER		ERR no such tenant
 * show tenants, show stats	sample data in the spec's shapes
 * clear binding 198.18.10.5	OK; any other address: ERR
 * reload			no handler registered: ERR
 *
 * SIGTERM/SIGINT close the control socket (removing the file) and exit 0.
 */
#include "config.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "control.h"

struct sample {
	const char	*tenant, *hoa, *coa, *src, *nai, *encap;
	unsigned	 lifetime, remaining;
	bool		 rt, via_fa;
};

static const struct sample samples[] = {
	{ "acme", "198.18.10.5", "198.51.100.20", "198.51.100.20",
	    "alice@acme.example", "ipip", 600, 598, true, true },
	{ "acme", "198.18.10.5", "198.51.100.21", "198.51.100.99",
	    NULL, "udp", 1800, 17, false, false },
	{ "beta", "198.18.20.7", "203.0.113.44", "203.0.113.44",
	    "bob@beta.example", "gre", 300, 300, true, false },
};

static int	 calls;		/* handler invocations, for show stats */

static struct in_addr
addr(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		a.s_addr = 0;
	return a;
}

static void
binding(struct emit *out, const char *tenant, struct in_addr hoa,
    struct in_addr coa, struct in_addr src, const char *nai, unsigned life,
    unsigned rem, const char *encap, bool rt, bool fa)
{
	emit_object_begin(out, NULL);
	emit_str(out, "tenant", tenant);
	emit_addr(out, "home_address", hoa);
	emit_addr(out, "care_of_address", coa);
	emit_addr(out, "source_address", src);
	emit_str(out, "nai", nai);
	emit_uint(out, "lifetime", life);
	emit_uint(out, "remaining", rem);
	emit_str(out, "encapsulation", encap);
	emit_bool(out, "reverse_tunnel", rt);
	emit_bool(out, "via_fa", fa);
	emit_object_end(out);
}

static void
generated(struct emit *out, const char *tenant, unsigned n)
{
	unsigned i;

	emit_array_begin(out, NULL);
	for (i = 0; i < n; i++) {
		struct in_addr hoa, coa;
		char	 nai[64];

		hoa.s_addr = htonl(0xc6120000u + i);	/* 198.18.0.0/15 */
		coa.s_addr = htonl(0xcb007100u + i % 256); /* 203.0.113/24 */
		snprintf(nai, sizeof(nai), "mn%u@%s.example", i, tenant);
		binding(out, tenant, hoa, coa, coa, i % 3 ? nai : NULL,
		    1800, 1800 - i % 1800, i % 2 ? "gre" : "ipip", i % 2,
		    i % 5 == 0);
	}
	emit_array_end(out);
}

static int
show_bindings(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	char	 bytes[256];
	size_t	 i;
	bool	 known = req->tenant[0] == '\0';

	(void)arg;
	calls++;
	if (strcmp(req->tenant, "mid") == 0) {
		generated(out, "mid", 10000);
		return 0;
	}
	if (strcmp(req->tenant, "big") == 0) {
		generated(out, "big", 100000);
		return 0;
	}
	if (strcmp(req->tenant, "huge") == 0) {
		generated(out, "huge", 1000000);
		return 0;
	}
	if (strcmp(req->tenant, "bytes") == 0) {
		for (i = 0; i < 255; i++)
			bytes[i] = (char)(i + 1);
		bytes[255] = '\0';
		emit_array_begin(out, NULL);
		binding(out, "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x98\x80",
		    addr("198.18.10.9"), addr("198.51.100.9"),
		    addr("198.51.100.9"), bytes, 1, 0, "ipip", false, false);
		emit_array_end(out);
		return 0;
	}
	if (strcmp(req->tenant, "bad") == 0) {
		emit_array_begin(out, NULL);
		emit_object_begin(out, NULL);
		return 0;		/* never closed */
	}
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (strcmp(req->tenant, samples[i].tenant) == 0)
			known = true;
	if (!known) {
		snprintf(err, errlen, "no such tenant '%s'", req->tenant);
		return -1;
	}

	emit_array_begin(out, NULL);
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];

		if (req->tenant[0] != '\0' && strcmp(req->tenant, s->tenant))
			continue;
		binding(out, s->tenant, addr(s->hoa), addr(s->coa),
		    addr(s->src), s->nai, s->lifetime, s->remaining, s->encap,
		    s->rt, s->via_fa);
	}
	emit_array_end(out);
	return 0;
}

static int
show_tenants(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	(void)arg;
	(void)req;
	(void)err;
	(void)errlen;
	calls++;
	emit_array_begin(out, NULL);

	emit_object_begin(out, NULL);
	emit_str(out, "name", "acme");
	emit_uint(out, "table", 101);
	emit_addr(out, "vpn_gateway", addr("203.0.113.10"));
	emit_strf(out, "home_network", "%s/%d", "198.18.10.0", 24);
	emit_str(out, "policy", "vpn-only");
	emit_uint(out, "bindings", 2);
	emit_uint(out, "registrations_accepted", 12);
	emit_uint(out, "packets_tunneled", 3400);
	emit_object_end(out);

	emit_object_begin(out, NULL);
	emit_str(out, "name", "beta");
	emit_uint(out, "table", 102);
	emit_addr(out, "vpn_gateway", addr("203.0.113.20"));
	emit_strf(out, "home_network", "%s/%d", "198.18.20.0", 24);
	emit_str(out, "policy", "open");
	emit_uint(out, "bindings", 1);
	emit_uint(out, "registrations_accepted", 3);
	emit_uint(out, "packets_tunneled", 17);
	emit_object_end(out);

	emit_array_end(out);
	return 0;
}

static int
show_stats(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	(void)arg;
	(void)req;
	(void)err;
	(void)errlen;
	calls++;
	emit_object_begin(out, NULL);
	emit_uint(out, "registrations_accepted", 15);
	emit_object_begin(out, "registrations_denied");
	emit_uint(out, "131", 4);
	emit_uint(out, "133", 1);
	emit_object_end(out);
	emit_uint(out, "packets_tunneled", 3417);
	emit_uint(out, "packets_reverse_tunneled", 2900);
	emit_object_begin(out, "packets_dropped");
	emit_uint(out, "no-binding", 7);
	emit_uint(out, "spoofed-source", 2);
	emit_object_end(out);
	emit_int(out, "control_requests", calls);
	emit_object_end(out);
	return 0;
}

static int
clear_binding(void *arg, const struct ctl_request *req, struct emit *out,
    char *err, size_t errlen)
{
	char	 a[INET_ADDRSTRLEN];

	(void)arg;
	(void)out;
	calls++;
	if (req->hoa.s_addr == addr("198.18.10.5").s_addr)
		return 0;
	inet_ntop(AF_INET, &req->hoa, a, sizeof(a));
	snprintf(err, errlen, "no binding for %s%s%s", a,
	    req->tenant[0] != '\0' ? " in tenant " : "", req->tenant);
	return -1;
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char *argv[])
{
	struct ev_loop *loop = EV_DEFAULT;
	struct control *ctl;
	ev_signal sigterm, sigint;
	char	 err[256];
	double	 req_to = CONTROL_REQUEST_TIMEOUT, idle_to = CONTROL_IDLE_TIMEOUT;
	int	 ch;

	while ((ch = getopt(argc, argv, "i:t:")) != -1) {
		switch (ch) {
		case 'i':
			idle_to = atof(optarg);
			break;
		case 't':
			req_to = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: ctl_testd [-i idle] [-t request] "
			    "SOCKET\n");
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: ctl_testd [-i idle] [-t request] "
		    "SOCKET\n");
		return 2;
	}
	if ((ctl = control_open(loop, argv[optind], err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "ctl_testd: %s\n", err);
		return 3;
	}
	control_set_handler(ctl, CTL_SHOW_BINDINGS, show_bindings, NULL);
	control_set_handler(ctl, CTL_SHOW_TENANTS, show_tenants, NULL);
	control_set_handler(ctl, CTL_SHOW_STATS, show_stats, NULL);
	control_set_handler(ctl, CTL_CLEAR_BINDING, clear_binding, NULL);
	control_set_timeouts(ctl, req_to, idle_to);

	ev_signal_init(&sigterm, stop_cb, SIGTERM);
	ev_signal_init(&sigint, stop_cb, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	ev_run(loop, 0);

	control_close(ctl);
	ev_signal_stop(loop, &sigterm);
	ev_signal_stop(loop, &sigint);
	ev_loop_destroy(loop);
	return 0;
}
