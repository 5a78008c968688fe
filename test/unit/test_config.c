/*
 * test_config.c - address/prefix/key parsing helpers, the error list, the
 * cross-tenant checks, and the values read from the shipped sample
 * configuration (etc/mipha.conf, etc/tenants.d/example.conf).
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"

static struct in_addr
A(const char *s)
{
	struct in_addr	 a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static struct addr_prefix
P(const char *s)
{
	struct addr_prefix	 p;

	ck_assert_int_eq(addr_prefix_parse(s, &p), ADDR_PREFIX_OK);
	return p;
}

/*
 * Addresses and prefixes
 */

START_TEST(addr_parse_valid)
{
	struct in_addr	 a;

	ck_assert(addr_parse("198.18.10.5", &a));
	ck_assert_uint_eq(ntohl(a.s_addr), 0xc6120a05);
	ck_assert(addr_parse("0.0.0.0", &a));
	ck_assert_uint_eq(a.s_addr, 0);
	ck_assert(addr_parse("255.255.255.255", &a));
	ck_assert_uint_eq(a.s_addr, 0xffffffff);
	ck_assert(addr_parse("10.0.100.9", &a));
	ck_assert_uint_eq(ntohl(a.s_addr), 0x0a006409);
}
END_TEST

START_TEST(addr_parse_invalid)
{
	static const char *const bad[] = {
		"", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256",
		"01.2.3.4", "1.2.3.04", "1.2.3.00", "1.2.3.4 ", " 1.2.3.4",
		"1..2.3", "1.2.3.", ".1.2.3", "a.b.c.d", "1.2.3.-4",
		"1.2.3.1234", "0x1.2.3.4", "1.2.3.4/32", "1,2,3,4",
		"999.1.1.1", "1.2.3.4\n", "0000.1.2.3",
	};
	struct in_addr	 a = { 0x12345678 };
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!addr_parse(bad[i], &a), "accepted \"%s\"",
		    bad[i]);
	ck_assert(!addr_parse(NULL, &a));
	ck_assert_uint_eq(a.s_addr, 0x12345678);	/* untouched */
}
END_TEST

START_TEST(prefix_parse)
{
	struct addr_prefix	 p;
	char			 buf[ADDR_PREFIX_STRLEN];

	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/24", &p),
	    ADDR_PREFIX_OK);
	ck_assert_uint_eq(ntohl(p.addr.s_addr), 0xc6120a00);
	ck_assert_uint_eq(p.len, 24);
	ck_assert_int_eq(addr_prefix_parse("0.0.0.0/0", &p), ADDR_PREFIX_OK);
	ck_assert_uint_eq(p.len, 0);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.5/32", &p),
	    ADDR_PREFIX_OK);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.4/31", &p),
	    ADDR_PREFIX_OK);
	ck_assert_int_eq(addr_prefix_parse("255.255.255.255/32", &p),
	    ADDR_PREFIX_OK);

	/* Host bits set: the masked prefix is returned for the message. */
	ck_assert_int_eq(addr_prefix_parse("198.18.10.1/24", &p),
	    ADDR_PREFIX_HOSTBITS);
	ck_assert_str_eq(addr_prefix_ntoa(&p, buf), "198.18.10.0/24");
	ck_assert_int_eq(addr_prefix_parse("198.18.10.5/31", &p),
	    ADDR_PREFIX_HOSTBITS);
	ck_assert_str_eq(addr_prefix_ntoa(&p, buf), "198.18.10.4/31");
	ck_assert_int_eq(addr_prefix_parse("1.0.0.0/0", &p),
	    ADDR_PREFIX_HOSTBITS);
	ck_assert_str_eq(addr_prefix_ntoa(&p, buf), "0.0.0.0/0");

	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/33", &p),
	    ADDR_PREFIX_BADLEN);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/", &p),
	    ADDR_PREFIX_BADLEN);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/024", &p),
	    ADDR_PREFIX_BADLEN);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/-1", &p),
	    ADDR_PREFIX_BADLEN);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/24/", &p),
	    ADDR_PREFIX_BADLEN);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/24 ", &p),
	    ADDR_PREFIX_BADLEN);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.0/100", &p),
	    ADDR_PREFIX_BADLEN);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.0", &p),
	    ADDR_PREFIX_SYNTAX);
	ck_assert_int_eq(addr_prefix_parse("198.18.10/24", &p),
	    ADDR_PREFIX_SYNTAX);
	ck_assert_int_eq(addr_prefix_parse("198.18.10.256/24", &p),
	    ADDR_PREFIX_SYNTAX);
	ck_assert_int_eq(addr_prefix_parse("/24", &p), ADDR_PREFIX_SYNTAX);
	ck_assert_int_eq(addr_prefix_parse("", &p), ADDR_PREFIX_SYNTAX);
	ck_assert_int_eq(addr_prefix_parse(NULL, &p), ADDR_PREFIX_SYNTAX);
}
END_TEST

START_TEST(prefix_math)
{
	struct addr_prefix	 net = P("198.18.10.0/24");
	struct addr_prefix	 pool = P("198.18.10.128/25");
	struct addr_prefix	 all = P("0.0.0.0/0");
	struct addr_prefix	 host = P("198.18.10.5/32");
	struct addr_prefix	 other = P("198.18.11.0/24");
	struct addr_prefix	 wide = P("198.18.0.0/15");
	struct addr_prefix	 next = P("198.18.10.4/32");
	char			 buf[ADDR_STRLEN];

	ck_assert_uint_eq(addr_netmask(0), 0);
	ck_assert_uint_eq(addr_netmask(1), 0x80000000u);
	ck_assert_uint_eq(addr_netmask(24), 0xffffff00u);
	ck_assert_uint_eq(addr_netmask(31), 0xfffffffeu);
	ck_assert_uint_eq(addr_netmask(32), 0xffffffffu);
	ck_assert_uint_eq(addr_netmask(33), 0xffffffffu);

	ck_assert(addr_in_prefix(A("198.18.10.0"), &net));
	ck_assert(addr_in_prefix(A("198.18.10.255"), &net));
	ck_assert(!addr_in_prefix(A("198.18.11.0"), &net));
	ck_assert(!addr_in_prefix(A("198.18.9.255"), &net));
	ck_assert(addr_in_prefix(A("255.255.255.255"), &all));
	ck_assert(addr_in_prefix(A("198.18.10.5"), &host));
	ck_assert(!addr_in_prefix(A("198.18.10.4"), &host));

	ck_assert(addr_prefix_within(&pool, &net));
	ck_assert(addr_prefix_within(&net, &net));
	ck_assert(!addr_prefix_within(&net, &pool));
	ck_assert(addr_prefix_within(&net, &all));
	ck_assert(!addr_prefix_within(&other, &net));
	ck_assert(addr_prefix_within(&other, &wide));

	ck_assert(addr_prefix_overlap(&net, &pool));
	ck_assert(addr_prefix_overlap(&pool, &net));
	ck_assert(addr_prefix_overlap(&net, &net));
	ck_assert(addr_prefix_overlap(&all, &host));
	ck_assert(!addr_prefix_overlap(&net, &other));
	ck_assert(addr_prefix_overlap(&wide, &other));
	ck_assert(!addr_prefix_overlap(&host, &next));

	ck_assert_str_eq(addr_ntoa(addr_prefix_first(&pool), buf),
	    "198.18.10.128");
	ck_assert_str_eq(addr_ntoa(addr_prefix_last(&pool), buf),
	    "198.18.10.255");
	ck_assert_str_eq(addr_ntoa(addr_prefix_last(&all), buf),
	    "255.255.255.255");
	ck_assert_str_eq(addr_ntoa(addr_prefix_first(&host), buf),
	    "198.18.10.5");
	ck_assert_str_eq(addr_ntoa(addr_prefix_last(&host), buf),
	    "198.18.10.5");
}
END_TEST

START_TEST(unicast)
{
	ck_assert(addr_is_unicast(A("198.51.100.1")));
	ck_assert(addr_is_unicast(A("1.0.0.0")));
	ck_assert(addr_is_unicast(A("223.255.255.255")));
	ck_assert(!addr_is_unicast(A("0.0.0.0")));
	ck_assert(!addr_is_unicast(A("0.1.2.3")));
	ck_assert(!addr_is_unicast(A("127.0.0.1")));
	ck_assert(!addr_is_unicast(A("224.0.0.1")));
	ck_assert(!addr_is_unicast(A("239.255.255.255")));
	ck_assert(!addr_is_unicast(A("240.0.0.1")));
	ck_assert(!addr_is_unicast(A("255.255.255.255")));
}
END_TEST

START_TEST(ntoa)
{
	char			 a[ADDR_STRLEN], p[ADDR_PREFIX_STRLEN];
	struct addr_prefix	 pfx = P("255.255.255.255/32");

	ck_assert_str_eq(addr_ntoa(A("255.255.255.255"), a),
	    "255.255.255.255");
	ck_assert_str_eq(addr_ntoa(A("0.0.0.0"), a), "0.0.0.0");
	ck_assert_str_eq(addr_prefix_ntoa(&pfx, p), "255.255.255.255/32");
}
END_TEST

/*
 * Keys and names
 */

START_TEST(key_parse)
{
	uint8_t	 k[CONF_KEY_MAX];
	size_t	 len = 99, pos = 0;
	char	 s[2 + 2 * CONF_KEY_MAX + 3];

	ck_assert_int_eq(conf_key_parse("0x00112233445566778899aabbccddeeff",
	    k, sizeof(k), &len, &pos), CONF_KEY_OK);
	ck_assert_uint_eq(len, 16);
	ck_assert_uint_eq(k[0], 0x00);
	ck_assert_uint_eq(k[1], 0x11);
	ck_assert_uint_eq(k[15], 0xff);
	ck_assert_int_eq(conf_key_parse("0XaBcD", k, sizeof(k), &len, &pos),
	    CONF_KEY_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(k[0], 0xab);
	ck_assert_uint_eq(k[1], 0xcd);

	/* Not 0x: the string's own bytes. */
	ck_assert_int_eq(conf_key_parse("secret", k, sizeof(k), &len, &pos),
	    CONF_KEY_OK);
	ck_assert_uint_eq(len, 6);
	ck_assert(memcmp(k, "secret", 6) == 0);
	ck_assert_int_eq(conf_key_parse("x0abcd", k, sizeof(k), &len, &pos),
	    CONF_KEY_OK);
	ck_assert_uint_eq(len, 6);
	ck_assert_int_eq(conf_key_parse("0", k, sizeof(k), &len, &pos),
	    CONF_KEY_OK);
	ck_assert_uint_eq(len, 1);

	ck_assert_int_eq(conf_key_parse("", k, sizeof(k), &len, &pos),
	    CONF_KEY_EMPTY);
	ck_assert_int_eq(conf_key_parse("0x", k, sizeof(k), &len, &pos),
	    CONF_KEY_EMPTY);
	ck_assert_int_eq(conf_key_parse("0x001", k, sizeof(k), &len, &pos),
	    CONF_KEY_ODD);
	ck_assert_int_eq(conf_key_parse("0x00g1", k, sizeof(k), &len, &pos),
	    CONF_KEY_BADHEX);
	ck_assert_uint_eq(pos, 4);	/* offset of 'g' in the string */
	ck_assert_int_eq(conf_key_parse("0x 011", k, sizeof(k), &len, &pos),
	    CONF_KEY_BADHEX);
	ck_assert_uint_eq(pos, 2);

	/* Exactly CONF_KEY_MAX bytes fit, one more does not. */
	memset(s, 'a', sizeof(s));
	s[0] = '0';
	s[1] = 'x';
	s[2 + 2 * CONF_KEY_MAX] = '\0';
	ck_assert_int_eq(conf_key_parse(s, k, sizeof(k), &len, &pos),
	    CONF_KEY_OK);
	ck_assert_uint_eq(len, CONF_KEY_MAX);
	s[2 + 2 * CONF_KEY_MAX] = 'a';
	s[2 + 2 * CONF_KEY_MAX + 1] = 'a';
	s[2 + 2 * CONF_KEY_MAX + 2] = '\0';
	ck_assert_int_eq(conf_key_parse(s, k, sizeof(k), &len, &pos),
	    CONF_KEY_TOOLONG);
	memset(s, 'z', CONF_KEY_MAX + 1);
	s[CONF_KEY_MAX + 1] = '\0';
	ck_assert_int_eq(conf_key_parse(s, k, sizeof(k), &len, &pos),
	    CONF_KEY_TOOLONG);
	s[CONF_KEY_MAX] = '\0';
	ck_assert_int_eq(conf_key_parse(s, k, sizeof(k), &len, &pos),
	    CONF_KEY_OK);
	ck_assert_uint_eq(len, CONF_KEY_MAX);
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(conf_alg_name(CONF_ALG_HMAC_MD5), "hmac-md5");
	ck_assert_str_eq(conf_alg_name(CONF_ALG_KEYED_MD5), "keyed-md5");
	ck_assert_str_eq(conf_alg_name(CONF_ALG_HMAC_SHA256), "hmac-sha256");
	ck_assert_str_eq(conf_replay_name(CONF_REPLAY_TIMESTAMP), "timestamp");
	ck_assert_str_eq(conf_replay_name(CONF_REPLAY_NONCE), "nonce");
	ck_assert_str_eq(conf_policy_name(CONF_POLICY_VPN_ONLY), "vpn-only");
	ck_assert_str_eq(conf_policy_name(CONF_POLICY_OPEN), "open");
	ck_assert_str_eq(conf_rtun_name(CONF_RTUN_ALLOWED), "allowed");
	ck_assert_str_eq(conf_rtun_name(CONF_RTUN_REQUIRED), "required");
	ck_assert_str_eq(conf_rtun_name(CONF_RTUN_DENIED), "denied");
	ck_assert_str_eq(conf_encap_name(CONF_ENCAP_IPIP), "ipip");
	ck_assert_str_eq(conf_encap_name(CONF_ENCAP_GRE), "gre");
	ck_assert_str_eq(conf_encap_name(CONF_ENCAP_MINIMAL), "minimal");
	ck_assert_str_eq(conf_encap_name(CONF_ENCAP_UDP), "udp");
	ck_assert_ptr_null(conf_encap_name(CONF_ENCAP_ALL));
}
END_TEST

/*
 * The error list
 */

START_TEST(errors_list)
{
	struct conf_errors	 e;
	char			 buf[128], *out = NULL;
	size_t			 outlen = 0;
	FILE			*fp;

	conf_errors_init(&e);
	conf_errors_add(&e, "a.conf", 12, "spi: %d is reserved", 42);
	conf_errors_add(&e, "b.conf", 0, "cannot open: %s", "gone");
	ck_assert_uint_eq(e.n, 2);
	ck_assert(!e.nomem);
	conf_error_fmt(&e.v[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "a.conf:12: spi: 42 is reserved");
	conf_error_fmt(&e.v[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "b.conf: cannot open: gone");
	fp = open_memstream(&out, &outlen);
	ck_assert_ptr_nonnull(fp);
	conf_errors_print(&e, fp);
	fclose(fp);
	ck_assert_str_eq(out,
	    "a.conf:12: spi: 42 is reserved\nb.conf: cannot open: gone\n");
	free(out);
	conf_errors_free(&e);
	ck_assert_uint_eq(e.n, 0);
	ck_assert_ptr_null(e.v);
}
END_TEST

/*
 * Files
 */

static char	 tmpdir[64];

static void
tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_teardown(void)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to tmpdir/name; returns the path (static buffer). */
static const char *
tmp_file(const char *name, const char *text)
{
	static char	 path[256];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_ge(fputs(text, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

static const char *
sample_path(void)
{
	static char	 path[4096];
	const char	*srcdir = getenv("srcdir");

	snprintf(path, sizeof(path), "%s/etc/mipha.conf",
	    srcdir != NULL ? srcdir : ".");
	return path;
}

static void
assert_key(const struct conf_sa *sa, const char *hex)
{
	uint8_t	 k[CONF_KEY_MAX];
	size_t	 len;

	ck_assert_int_eq(conf_key_parse(hex, k, sizeof(k), &len, NULL),
	    CONF_KEY_OK);
	ck_assert_uint_eq(sa->keylen, len);
	ck_assert(memcmp(sa->key, k, len) == 0);
}

START_TEST(sample_values)
{
	struct conf_errors	 e;
	struct mipha_conf	*conf;
	const struct tenant_conf *t;
	const struct mn_conf	*mn;
	const struct fa_conf	*fa;
	char			 buf[ADDR_PREFIX_STRLEN], want[4200];

	conf_errors_init(&e);
	if (conf_load(sample_path(), &conf, &e) == -1) {
		conf_errors_print(&e, stderr);
		ck_abort_msg("sample configuration refused");
	}
	ck_assert_uint_eq(e.n, 0);

	/* ha: address set, everything else the documented default. */
	ck_assert_str_eq(conf->ha.file, sample_path());
	ck_assert_str_eq(addr_ntoa(conf->ha.address, buf), "198.51.100.1");
	ck_assert_uint_eq(conf->ha.port, 434);
	ck_assert_str_eq(conf->ha.control_socket, CONF_DEFAULT_CONTROL_SOCKET);
	ck_assert_str_eq(conf->ha.state_dir, CONF_DEFAULT_STATE_DIR);
	ck_assert_ptr_null(conf->ha.user);
	ck_assert_uint_eq(conf->ha.max_lifetime, 1800);
	ck_assert_uint_eq(conf->ha.replay_window, 7);
	ck_assert_str_eq(conf->ha.tenants_dir, "tenants.d");
	snprintf(want, sizeof(want), "%.*s/tenants.d",
	    (int)(strlen(sample_path()) - strlen("/mipha.conf")),
	    sample_path());
	ck_assert_str_eq(conf->ha.tenants_path, want);

	ck_assert_uint_eq(conf->ntenants, 1);
	t = conf->tenants[0];
	snprintf(want, sizeof(want), "%s/example.conf", conf->ha.tenants_path);
	ck_assert_str_eq(t->file, want);
	ck_assert_str_eq(t->name, "acme");
	ck_assert_uint_eq(t->table, 101);
	ck_assert_str_eq(addr_ntoa(t->vpn_gateway, buf), "203.0.113.10");
	ck_assert_str_eq(addr_prefix_ntoa(&t->home_network, buf),
	    "198.18.10.0/24");
	ck_assert(t->has_pool);
	ck_assert_str_eq(addr_prefix_ntoa(&t->pool, buf), "198.18.10.128/25");
	ck_assert_int_eq(t->policy, CONF_POLICY_VPN_ONLY);
	ck_assert_int_eq(t->reverse_tunnel, CONF_RTUN_ALLOWED);
	ck_assert_uint_eq(t->encapsulations, CONF_ENCAP_ALL);
	ck_assert_uint_eq(t->max_bindings, 1);
	ck_assert_uint_eq(t->n_internal_networks, 0);
	ck_assert_str_eq(t->home_interface, "");
	ck_assert_str_eq(t->tun_name, "mip-acme");
	ck_assert(t->tun_name_default);

	/* The nodes of test/vectors/registration.json. */
	ck_assert_uint_eq(t->n_mobile_nodes, 3);
	mn = &t->mobile_nodes[0];
	ck_assert_str_eq(addr_ntoa(mn->home_address, buf), "198.18.10.5");
	ck_assert_ptr_null(mn->nai);
	ck_assert_uint_eq(mn->sa.spi, 1000);
	ck_assert_int_eq(mn->sa.algorithm, CONF_ALG_HMAC_MD5);
	assert_key(&mn->sa, "0x00112233445566778899aabbccddeeff");
	ck_assert_int_eq(mn->replay, CONF_REPLAY_TIMESTAMP);
	mn = &t->mobile_nodes[1];
	ck_assert_uint_eq(mn->home_address.s_addr, INADDR_ANY);
	ck_assert_str_eq(mn->nai, "bob@acme.example");
	ck_assert_uint_eq(mn->sa.spi, 1001);
	ck_assert_int_eq(mn->sa.algorithm, CONF_ALG_HMAC_MD5);
	assert_key(&mn->sa, "0x0f0e0d0c0b0a09080706050403020100");
	mn = &t->mobile_nodes[2];
	ck_assert_str_eq(addr_ntoa(mn->home_address, buf), "198.18.10.6");
	ck_assert_uint_eq(mn->sa.spi, 1002);
	ck_assert_int_eq(mn->sa.algorithm, CONF_ALG_KEYED_MD5);
	assert_key(&mn->sa, "0x00112233445566778899aabbccddeeff");
	ck_assert_int_eq(mn->replay, CONF_REPLAY_TIMESTAMP);

	ck_assert_uint_eq(t->n_foreign_agents, 1);
	fa = &t->foreign_agents[0];
	ck_assert_str_eq(addr_ntoa(fa->address, buf), "198.18.1.1");
	ck_assert_uint_eq(fa->sa.spi, 2000);
	ck_assert_int_eq(fa->sa.algorithm, CONF_ALG_HMAC_MD5);
	assert_key(&fa->sa, "0x0f0e0d0c0b0a09080706050403020100");

	conf_free(conf);
	conf_errors_free(&e);
}
END_TEST

static const char tenant_ok[] =
    "tenant: {\n"
    "  name = \"beta\"; table = 3000000000L; vpn_gateway = \"203.0.113.20\";\n"
    "  home_network = \"198.18.20.0/24\";\n"
    "  policy = \"open\"; reverse_tunnel = \"required\";\n"
    "  encapsulations = ( \"udp\", \"gre\" ); max_bindings = 4;\n"
    "  internal_networks = [ \"203.0.113.0/24\", \"198.51.100.128/25\" ];\n"
    "  home_interface = \"eth1\"; tun_name = \"beta0\";\n"
    "  mobile_nodes = ( { home_address = \"198.18.20.7\"; spi = 256;\n"
    "    algorithm = \"hmac-sha256\"; key = \"sixteen byte key\";\n"
    "    replay = \"nonce\"; } );\n"
    "};\n";

START_TEST(tenant_every_key)
{
	struct conf_errors	 e;
	struct tenant_conf	*t;
	char			 buf[ADDR_PREFIX_STRLEN];

	conf_errors_init(&e);
	ck_assert_int_eq(tenant_conf_load(tmp_file("beta.conf", tenant_ok),
	    &t, &e), 0);
	ck_assert_str_eq(t->name, "beta");
	ck_assert_uint_eq(t->table, 3000000000u);
	ck_assert(!t->has_pool);
	ck_assert_int_eq(t->policy, CONF_POLICY_OPEN);
	ck_assert_int_eq(t->reverse_tunnel, CONF_RTUN_REQUIRED);
	ck_assert_uint_eq(t->encapsulations, CONF_ENCAP_UDP | CONF_ENCAP_GRE);
	ck_assert_uint_eq(t->max_bindings, 4);
	ck_assert_uint_eq(t->n_internal_networks, 2);
	ck_assert_str_eq(addr_prefix_ntoa(&t->internal_networks[1], buf),
	    "198.51.100.128/25");
	ck_assert_str_eq(t->home_interface, "eth1");
	ck_assert_str_eq(t->tun_name, "beta0");
	ck_assert(!t->tun_name_default);
	ck_assert_uint_eq(t->tun_name_line, 7);
	ck_assert_uint_eq(t->n_mobile_nodes, 1);
	ck_assert_uint_eq(t->mobile_nodes[0].sa.spi, 256);
	ck_assert_int_eq(t->mobile_nodes[0].sa.algorithm,
	    CONF_ALG_HMAC_SHA256);
	ck_assert_uint_eq(t->mobile_nodes[0].sa.keylen, 16);
	ck_assert(memcmp(t->mobile_nodes[0].sa.key, "sixteen byte key",
	    16) == 0);
	ck_assert_int_eq(t->mobile_nodes[0].replay, CONF_REPLAY_NONCE);
	ck_assert_uint_eq(t->mobile_nodes[0].line, 8);
	ck_assert_uint_eq(t->n_foreign_agents, 0);
	tenant_conf_free(t);
	conf_errors_free(&e);
}
END_TEST

/* Every error collected, ordered by line, nothing returned. */
START_TEST(tenant_errors)
{
	static const char text[] =
	    "tenant: {\n"
	    "  name = \"x\";\n"
	    "  mobile_nodes = (\n"
	    "    { home_address = \"198.18.20.7\"; spi = 42;\n"
	    "      key = \"0x0011\"; algoritm = \"hmac-md5\"; }\n"
	    "  );\n"
	    "  table = 254;\n"
	    "};\n";
	static const char *const want[] = {
		"T:1: vpn_gateway: missing required key",
		"T:1: home_network: missing required key",
		"T:4: mobile_nodes[0].spi: 42 is reserved (SPIs 0-255, "
		    "RFC 5944 §1.6)",
		"T:5: mobile_nodes[0].algoritm: unknown key (did you mean "
		    "algorithm?)",
		"T:5: mobile_nodes[0].key: 2 bytes is too short (16 bytes "
		    "minimum, RFC 5944 §5.1)",
		"T:7: table: 254 is reserved (253 default, 254 main, "
		    "255 local)",
	};
	struct conf_errors	 e;
	struct tenant_conf	*t = (void *)1;
	const char		*path;
	char			 buf[256], exp[256];
	size_t			 i;

	conf_errors_init(&e);
	path = tmp_file("x.conf", text);
	ck_assert_int_eq(tenant_conf_load(path, &t, &e), -1);
	ck_assert_ptr_null(t);
	for (i = 0; i < e.n && i < sizeof(want) / sizeof(want[0]); i++) {
		conf_error_fmt(&e.v[i], buf, sizeof(buf));
		snprintf(exp, sizeof(exp), "%s%s", path, want[i] + 1);
		ck_assert_str_eq(buf, exp);
	}
	ck_assert_uint_eq(e.n, sizeof(want) / sizeof(want[0]));
	conf_errors_free(&e);
}
END_TEST

START_TEST(tenant_files_sorted)
{
	struct conf_errors	 e;
	struct ha_conf		 ha;
	char			**paths, want[128], dir[128];
	size_t			 n;

	tmp_file("b.conf", "");
	tmp_file("a.conf", "");
	tmp_file(".hidden.conf", "");
	tmp_file("notes.txt", "");
	tmp_file(".conf", "");
	tmp_file("a.conf~", "");
	memset(&ha, 0, sizeof(ha));
	ha.file = "main.conf";
	snprintf(dir, sizeof(dir), "%s/", tmpdir);
	ha.tenants_path = dir;
	conf_errors_init(&e);
	ck_assert_int_eq(conf_tenant_files(&ha, &paths, &n, &e), 0);
	ck_assert_uint_eq(n, 2);
	snprintf(want, sizeof(want), "%s/a.conf", tmpdir);
	ck_assert_str_eq(paths[0], want);
	snprintf(want, sizeof(want), "%s/b.conf", tmpdir);
	ck_assert_str_eq(paths[1], want);
	conf_tenant_files_free(paths, n);

	snprintf(dir, sizeof(dir), "%s/none", tmpdir);
	ha.tenants_dir_line = 9;
	ck_assert_int_eq(conf_tenant_files(&ha, &paths, &n, &e), -1);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(e.v[0].file, "main.conf");
	ck_assert_uint_eq(e.v[0].line, 9);
	conf_errors_free(&e);
}
END_TEST

/*
 * Cross-tenant checks on tenants built in memory
 */

static struct tenant_conf *
mk_tenant(const char *file, const char *name, uint32_t table, const char *net,
    const char *gw)
{
	struct tenant_conf	*t;

	ck_assert_ptr_nonnull(t = calloc(1, sizeof(*t)));
	ck_assert_ptr_nonnull(t->file = strdup(file));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->tun_name, sizeof(t->tun_name), "mip-%s", name);
	t->table = table;
	t->home_network = P(net);
	t->vpn_gateway = A(gw);
	t->line = 1;
	t->name_line = t->tun_name_line = 2;
	t->table_line = 3;
	t->vpn_gateway_line = 4;
	t->home_network_line = 5;
	t->tun_name_default = true;
	return t;
}

static void
mk_node(struct tenant_conf *t, const char *hoa, const char *nai)
{
	struct mn_conf	*mn;

	t->mobile_nodes = realloc(t->mobile_nodes,
	    (t->n_mobile_nodes + 1) * sizeof(*mn));
	ck_assert_ptr_nonnull(t->mobile_nodes);
	mn = &t->mobile_nodes[t->n_mobile_nodes++];
	memset(mn, 0, sizeof(*mn));
	mn->line = 10 + (unsigned)t->n_mobile_nodes;
	if (hoa != NULL) {
		mn->home_address = A(hoa);
		mn->home_address_line = mn->line;
	}
	if (nai != NULL) {
		ck_assert_ptr_nonnull(mn->nai = strdup(nai));
		mn->nai_line = mn->line;
	}
}

static void
check_msgs(struct tenant_conf **t, size_t n, const struct ha_conf *ha,
    const char *const *want, size_t nwant)
{
	struct conf_errors	 e;
	char			 buf[256];
	size_t			 i;

	conf_errors_init(&e);
	ck_assert_int_eq(conf_check_tenants(ha, t, n, &e),
	    nwant > 0 ? -1 : 0);
	for (i = 0; i < e.n && i < nwant; i++) {
		conf_error_fmt(&e.v[i], buf, sizeof(buf));
		ck_assert_str_eq(buf, want[i]);
	}
	ck_assert_uint_eq(e.n, nwant);
	conf_errors_free(&e);
	for (i = 0; i < n; i++)
		tenant_conf_free(t[i]);
}

START_TEST(cross_ok)
{
	struct tenant_conf	*t[3];
	struct ha_conf		 ha;

	memset(&ha, 0, sizeof(ha));
	ha.file = "mipha.conf";
	ha.address = A("198.51.100.1");
	/* Adjacent networks, a shared gateway, one FA: fine. */
	t[0] = mk_tenant("a.conf", "a", 101, "198.18.10.0/24", "203.0.113.10");
	t[1] = mk_tenant("b.conf", "b", 102, "198.18.11.0/24", "203.0.113.10");
	t[2] = mk_tenant("c.conf", "c", 103, "198.18.12.0/23", "203.0.113.11");
	mk_node(t[0], "198.18.10.5", "x@a.example");
	mk_node(t[1], "198.18.11.5", "x@b.example");
	mk_node(t[2], NULL, "X@a.example");
	check_msgs(t, 3, &ha, NULL, 0);
}
END_TEST

START_TEST(cross_dups)
{
	struct tenant_conf	*t[3];
	static const char *const want[] = {
		"b.conf:11: mobile_nodes[0].nai: \"x@a.example\" is already "
		    "used by tenant \"a\" (a.conf:11)",
		"a2.conf:2: name: \"a\" is already used by a.conf:2",
		"a2.conf:2: tun_name (default): \"mip-a\" is already used by "
		    "tenant \"a\" (a.conf:2)",
		"a2.conf:3: table: 101 is already used by tenant \"a\" "
		    "(a.conf:3)",
		"a2.conf:12: mobile_nodes[1].home_address: 198.18.20.5 is "
		    "already used by tenant \"b\" (b.conf:12)",
	};

	t[0] = mk_tenant("a.conf", "a", 101, "198.18.10.0/24", "203.0.113.10");
	t[1] = mk_tenant("b.conf", "b", 102, "198.18.20.0/24", "203.0.113.10");
	t[2] = mk_tenant("a2.conf", "a", 101, "198.18.30.0/24",
	    "203.0.113.10");
	mk_node(t[0], NULL, "x@a.example");
	mk_node(t[1], NULL, "x@a.example");
	mk_node(t[1], "198.18.20.5", NULL);
	mk_node(t[2], "198.18.30.5", NULL);
	mk_node(t[2], "198.18.20.5", NULL);
	check_msgs(t, 3, NULL, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(cross_overlaps)
{
	struct tenant_conf	*t[4];
	struct ha_conf		 ha;
	static const char *const want[] = {
		"b.conf:5: home_network: 198.18.10.128/25 overlaps "
		    "home_network 198.18.10.0/24 of tenant \"a\" (a.conf:5)",
		"c.conf:4: vpn_gateway: 198.18.10.1 is inside home_network "
		    "198.18.10.0/24 of tenant \"a\" (a.conf:5)",
		"c.conf:4: vpn_gateway: 198.18.10.1 is inside home_network "
		    "198.18.0.0/16 of tenant \"d\" (d.conf:5)",
		"c.conf:5: home_network: 198.18.20.0/24 contains the HA "
		    "address 198.18.20.1 (mipha.conf:2)",
		"d.conf:5: home_network: 198.18.0.0/16 overlaps home_network "
		    "198.18.10.0/24 of tenant \"a\" (a.conf:5)",
		"d.conf:5: home_network: 198.18.0.0/16 overlaps home_network "
		    "198.18.10.128/25 of tenant \"b\" (b.conf:5)",
		"d.conf:5: home_network: 198.18.0.0/16 overlaps home_network "
		    "198.18.20.0/24 of tenant \"c\" (c.conf:5)",
		"d.conf:5: home_network: 198.18.0.0/16 contains the HA "
		    "address 198.18.20.1 (mipha.conf:2)",
	};

	memset(&ha, 0, sizeof(ha));
	ha.file = "mipha.conf";
	ha.address = A("198.18.20.1");
	ha.address_line = 2;
	t[0] = mk_tenant("a.conf", "a", 101, "198.18.10.0/24", "203.0.113.10");
	t[1] = mk_tenant("b.conf", "b", 102, "198.18.10.128/25",
	    "203.0.113.10");
	t[2] = mk_tenant("c.conf", "c", 103, "198.18.20.0/24", "198.18.10.1");
	t[3] = mk_tenant("d.conf", "d", 104, "198.18.0.0/16", "203.0.113.10");
	check_msgs(t, 4, &ha, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

/* Identical networks overlap; a /32 next to its neighbour does not. */
START_TEST(cross_overlap_edges)
{
	struct tenant_conf	*t[4];
	static const char *const want[] = {
		"b.conf:5: home_network: 198.18.10.0/24 overlaps home_network "
		    "198.18.10.0/24 of tenant \"a\" (a.conf:5)",
	};

	t[0] = mk_tenant("a.conf", "a", 101, "198.18.10.0/24", "203.0.113.10");
	t[1] = mk_tenant("b.conf", "b", 102, "198.18.10.0/24", "203.0.113.10");
	t[2] = mk_tenant("c.conf", "c", 103, "198.18.11.0/32", "203.0.113.10");
	t[3] = mk_tenant("d.conf", "d", 104, "198.18.11.1/32", "203.0.113.10");
	check_msgs(t, 4, NULL, want, sizeof(want) / sizeof(want[0]));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("addr");
	tcase_add_test(tc, addr_parse_valid);
	tcase_add_test(tc, addr_parse_invalid);
	tcase_add_test(tc, prefix_parse);
	tcase_add_test(tc, prefix_math);
	tcase_add_test(tc, unicast);
	tcase_add_test(tc, ntoa);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, key_parse);
	tcase_add_test(tc, names);
	tcase_add_test(tc, errors_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, sample_values);
	tcase_add_test(tc, tenant_every_key);
	tcase_add_test(tc, tenant_errors);
	tcase_add_test(tc, tenant_files_sorted);
	suite_add_tcase(s, tc);

	tc = tcase_create("cross");
	tcase_add_test(tc, cross_ok);
	tcase_add_test(tc, cross_dups);
	tcase_add_test(tc, cross_overlaps);
	tcase_add_test(tc, cross_overlap_edges);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(config_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
