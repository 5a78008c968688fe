/*
 * route_tool - drive ha/route.c and ha/tun.c from the command line, for
 * test/net/test_route.sh (run inside a network namespace).
 *
 *   route_tool install TUN HOMENET/LEN TABLE GW MTU
 *	open TUN (ha/tun.c), install the tenant's routing state, print
 *	"ready", hold the device until stdin closes, remove the state, exit
 *   route_tool apply TUN HOMENET/LEN TABLE GW MTU   install on an existing TUN
 *   route_tool remove TUN HOMENET/LEN TABLE GW       remove the tenant's state
 *   route_tool tun NAME [vnet]      hold a TUN device until stdin closes
 *   route_tool flush                delete every object of mipha's protocol
 *   route_tool get DST              print "via GW dev IF" / "dev IF"
 *   route_tool route add|del TABLE PREFIX/LEN unreachable
 *   route_tool route add|del TABLE PREFIX/LEN dev IF
 *   route_tool route add|del TABLE PREFIX/LEN via GW dev IF
 *   route_tool rule add|del IIF TABLE
 *   route_tool link IF up|down|keep [MTU]
 *   route_tool proxy add|del IF ADDR
 *   route_tool proxy-delay IF       net.ipv4.neigh.IF.proxy_delay = 0
 *   route_tool no-redirects IF      send_redirects = 0 on IF and all
 *
 * Exit status: 0 success, 1 failure (message on stderr), 2 usage.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "route.h"
#include "tun.h"

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: route_tool install|apply TUN HOMENET/LEN TABLE GW MTU\n"
	    "       route_tool remove TUN HOMENET/LEN TABLE GW\n"
	    "       route_tool tun NAME [vnet]\n"
	    "       route_tool flush\n"
	    "       route_tool get DST\n"
	    "       route_tool route add|del TABLE PREFIX/LEN "
	    "unreachable | dev IF | via GW dev IF\n"
	    "       route_tool rule add|del IIF TABLE\n"
	    "       route_tool link IF up|down|keep [MTU]\n"
	    "       route_tool proxy add|del IF ADDR\n"
	    "       route_tool proxy-delay IF\n"
	    "       route_tool no-redirects IF\n");
	exit(2);
}

static int
parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n > UINT32_MAX ||
	    s[0] == '-')
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static int
parse_addr(const char *s, struct in_addr *a)
{
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

static int
parse_prefix(const char *s, struct in_addr *a, unsigned *plen)
{
	char buf[INET_ADDRSTRLEN + 4];
	char *slash;
	uint32_t n;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) == NULL)
		return -1;
	*slash = '\0';
	if (parse_addr(buf, a) == -1 || parse_u32(slash + 1, &n) == -1 ||
	    n > 32)
		return -1;
	*plen = n;
	return 0;
}

/* Block until stdin reaches end of file (or fails). */
static void
wait_stdin(void)
{
	char buf[256];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EINTR))
			return;
	}
}

static int
fail(struct route_ctx *ctx)
{
	fprintf(stderr, "route_tool: %s\n", route_error(ctx));
	return 1;
}

static void
parse_tenant(char **argv, bool want_mtu, struct route_tenant *t)
{
	uint32_t mtu = 0;

	memset(t, 0, sizeof(*t));
	t->tun_name = argv[0];
	if (parse_prefix(argv[1], &t->home_net, &t->home_plen) == -1 ||
	    parse_u32(argv[2], &t->table) == -1 ||
	    parse_addr(argv[3], &t->vpn_gateway) == -1 ||
	    (want_mtu && parse_u32(argv[4], &mtu) == -1))
		usage();
	t->mtu = mtu;
}

static int
cmd_route(struct route_ctx *ctx, int argc, char **argv)
{
	struct route_spec r;
	bool add;
	int rc;

	if (argc < 4)
		usage();
	memset(&r, 0, sizeof(r));
	if (strcmp(argv[1], "add") == 0)
		add = true;
	else if (strcmp(argv[1], "del") == 0)
		add = false;
	else
		usage();
	if (parse_u32(argv[2], &r.table) == -1 ||
	    parse_prefix(argv[3], &r.dst, &r.plen) == -1)
		usage();
	if (argc == 5 && strcmp(argv[4], "unreachable") == 0)
		r.kind = ROUTE_UNREACHABLE;
	else if (argc == 6 && strcmp(argv[4], "dev") == 0) {
		r.kind = ROUTE_DEV;
		if ((r.ifindex = route_link_index(ctx, argv[5])) == -1)
			return fail(ctx);
	} else if (argc == 8 && strcmp(argv[4], "via") == 0 &&
	    strcmp(argv[6], "dev") == 0) {
		r.kind = ROUTE_VIA;
		if (parse_addr(argv[5], &r.gateway) == -1)
			usage();
		if ((r.ifindex = route_link_index(ctx, argv[7])) == -1)
			return fail(ctx);
	} else if (argc == 4 && !add)
		r.kind = ROUTE_UNREACHABLE;	/* delete needs only the key */
	else
		usage();
	rc = add ? route_add(ctx, &r) : route_del(ctx, &r);
	return rc == -1 ? fail(ctx) : 0;
}

int
main(int argc, char **argv)
{
	struct route_ctx ctx;
	struct route_tenant t;
	struct in_addr a;
	char err[256], gw[INET_ADDRSTRLEN], ifn[IF_NAMESIZE];
	const char *cmd;
	uint32_t u;
	int fd, rc = 0, ifindex, n;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argc--;
	argv++;

	if (strcmp(cmd, "tun") == 0) {
		if (argc < 2 || argc > 3 || (argc == 3 &&
		    strcmp(argv[2], "vnet") != 0))
			usage();
		if ((fd = tun_open(argv[1], argc == 3, err, sizeof(err))) == -1) {
			fprintf(stderr, "route_tool: %s\n", err);
			return 1;
		}
		printf("ready\n");
		fflush(stdout);
		wait_stdin();
		close(fd);
		return 0;
	}

	if (route_open(&ctx) == -1) {
		fprintf(stderr, "route_tool: %s\n", route_error(&ctx));
		return 1;
	}
	if (strcmp(cmd, "install") == 0) {
		if (argc != 6)
			usage();
		parse_tenant(argv + 1, true, &t);
		if ((fd = tun_open(t.tun_name, false, err, sizeof(err))) == -1) {
			fprintf(stderr, "route_tool: %s\n", err);
			rc = 1;
		} else if (route_tenant_install(&ctx, &t) == -1) {
			rc = fail(&ctx);
			close(fd);
		} else {
			printf("ready\n");
			fflush(stdout);
			wait_stdin();
			if (route_tenant_remove(&ctx, &t) == -1)
				rc = fail(&ctx);
			close(fd);
		}
	} else if (strcmp(cmd, "apply") == 0) {
		if (argc != 6)
			usage();
		parse_tenant(argv + 1, true, &t);
		if (route_tenant_install(&ctx, &t) == -1)
			rc = fail(&ctx);
	} else if (strcmp(cmd, "remove") == 0) {
		if (argc != 5)
			usage();
		parse_tenant(argv + 1, false, &t);
		if (route_tenant_remove(&ctx, &t) == -1)
			rc = fail(&ctx);
	} else if (strcmp(cmd, "flush") == 0) {
		if (argc != 1)
			usage();
		if ((n = route_flush_own(&ctx)) == -1)
			rc = fail(&ctx);
		else
			printf("flushed %d\n", n);
	} else if (strcmp(cmd, "get") == 0) {
		if (argc != 2 || parse_addr(argv[1], &a) == -1)
			usage();
		if (route_get(&ctx, a, &a, &ifindex) == -1)
			rc = fail(&ctx);
		else {
			if (if_indextoname((unsigned)ifindex, ifn) == NULL)
				snprintf(ifn, sizeof(ifn), "%d", ifindex);
			if (a.s_addr != INADDR_ANY)
				printf("via %s dev %s\n", inet_ntop(AF_INET,
				    &a, gw, sizeof(gw)), ifn);
			else
				printf("dev %s\n", ifn);
		}
	} else if (strcmp(cmd, "route") == 0) {
		rc = cmd_route(&ctx, argc, argv);
	} else if (strcmp(cmd, "rule") == 0) {
		if (argc != 4 || parse_u32(argv[3], &u) == -1)
			usage();
		if (strcmp(argv[1], "add") == 0)
			rc = route_rule_add(&ctx, argv[2], u);
		else if (strcmp(argv[1], "del") == 0)
			rc = route_rule_del(&ctx, argv[2], u);
		else
			usage();
		if (rc == -1)
			rc = fail(&ctx);
	} else if (strcmp(cmd, "link") == 0) {
		enum route_link_state st;

		if (argc < 3 || argc > 4)
			usage();
		u = 0;
		if (argc == 4 && parse_u32(argv[3], &u) == -1)
			usage();
		if (strcmp(argv[2], "up") == 0)
			st = ROUTE_LINK_UP;
		else if (strcmp(argv[2], "down") == 0)
			st = ROUTE_LINK_DOWN;
		else if (strcmp(argv[2], "keep") == 0)
			st = ROUTE_LINK_KEEP;
		else
			usage();
		if (route_link_set_name(&ctx, argv[1], st, u) == -1)
			rc = fail(&ctx);
	} else if (strcmp(cmd, "proxy") == 0) {
		if (argc != 4 || parse_addr(argv[3], &a) == -1)
			usage();
		if ((ifindex = route_link_index(&ctx, argv[2])) == -1)
			rc = fail(&ctx);
		else if (strcmp(argv[1], "add") == 0)
			rc = route_proxy_add(&ctx, ifindex, a) == -1 ?
			    fail(&ctx) : 0;
		else if (strcmp(argv[1], "del") == 0)
			rc = route_proxy_del(&ctx, ifindex, a) == -1 ?
			    fail(&ctx) : 0;
		else
			usage();
	} else if (strcmp(cmd, "proxy-delay") == 0) {
		if (argc != 2)
			usage();
		if (route_set_proxy_delay_zero(&ctx, argv[1]) == -1)
			rc = fail(&ctx);
	} else if (strcmp(cmd, "no-redirects") == 0) {
		if (argc != 2)
			usage();
		if (route_disable_redirects(&ctx, argv[1]) == -1)
			rc = fail(&ctx);
	} else
		usage();
	route_close(&ctx);
	return rc;
}
