/*
 * test_registration.c - the registration service without sockets, through
 * its test seam reg_handle(): the known-answer vectors end to end (request
 * in, reply bytes out, compared with the independently computed replies),
 * and the order and outcome of the RFC 5944 §3.8.2.1 checks.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "binding.h"
#include "mip_auth.h"
#include "wire.h"
#include "conf.h"
#include "mip_msg.h"
#include "registration.h"
#include "tenant.h"

/* From test/vectors/registration.json. */
#define V_RRQ_COLOCATED "01220258c6120a05c6336401c6120102eb0f2c1a123456782014000003e85085da5047360f8b1a7137dc702b60fd"
#define V_RRQ_KEYED "0120012cc6120a06c6336401c6120102eb0f2c1a123456792014000003eab34649a20a5bfc48e67b82ed83eb4c21"
#define V_RRQ_NAI "0122025800000000c6336401c6120102eb0f2c1a1234567a8310626f624061636d652e6578616d706c652014000003e92cff068216b50fb8c3ba1b860bc8f7fb"
#define V_RRQ_FA "01020258c6120a05c6336401c6120101eb0f2c1a1234567b2014000003e881ad2030934f99738355234dad052a942214000007d044a457bd6ebfe8e8402b3316c6475397"
#define V_RRP_ACCEPTED "03000258c6120a05c6336401eb0f2c1a123456782014000003e8b737ade6c70de4815ec94ed46cb73aeb"
#define V_RRP_133 "03850000c6120a05c6336401eb0f2c40123456782014000003e87bcab46fec3776974ff88f86f5f8250d"

#define NTP_UNIX_OFFSET	2208988800u

static const char main_conf[] =
    "ha: {\n"
    "  address = \"198.51.100.1\";\n"
    "  max_lifetime = 1800;\n"
    "  replay_window = 7;\n"
    "};\n";

static const char acme_conf[] =
    "tenant: {\n"
    "  name = \"acme\"; table = 101; vpn_gateway = \"203.0.113.10\";\n"
    "  home_network = \"198.18.10.0/24\"; pool = \"198.18.10.128/25\";\n"
    "  internal_networks = [ \"203.0.113.0/24\" ];\n"
    "  mobile_nodes = (\n"
    "    { home_address = \"198.18.10.5\"; spi = 1000; algorithm = \"hmac-md5\";\n"
    "      key = \"0x00112233445566778899aabbccddeeff\"; replay = \"timestamp\"; },\n"
    "    { nai = \"bob@acme.example\"; spi = 1001; algorithm = \"hmac-md5\";\n"
    "      key = \"0x0f0e0d0c0b0a09080706050403020100\"; replay = \"timestamp\"; },\n"
    "    { home_address = \"198.18.10.6\"; spi = 1002; algorithm = \"keyed-md5\";\n"
    "      key = \"0x00112233445566778899aabbccddeeff\"; }\n"
    "  );\n"
    "  foreign_agents = (\n"
    "    { address = \"198.18.1.1\"; spi = 2000; algorithm = \"hmac-md5\";\n"
    "      key = \"0x0f0e0d0c0b0a09080706050403020100\"; }\n"
    "  );\n"
    "};\n";

static char dir[] = "/tmp/mipha-test-reg-XXXXXX";
static struct mipha_conf *conf;
static struct tenant_set *ts;
static struct ev_loop *loop;
static struct binding_table *bt;
static struct reg_service reg;

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static void
setup(void)
{
	struct conf_errors errs;
	struct reg_settings rs;
	char path[256], err[256];

	strcpy(dir, "/tmp/mipha-test-reg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tenants.d", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tenants.d/acme.conf", dir);
	write_file(path, acme_conf);
	snprintf(path, sizeof(path), "%s/mipha.conf", dir);
	write_file(path, main_conf);
	conf_errors_init(&errs);
	if (conf_load(path, &conf, &errs) == -1)
		conf_errors_print(&errs, stderr);
	ck_assert_uint_eq(errs.n, 0);
	conf_errors_free(&errs);
	ts = tenant_set_build(conf, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(ts);
	loop = ev_loop_new(EVFLAG_AUTO);
	bt = binding_table_new(loop, 16);
	binding_subscribe(bt, tenant_binding_event, bt);
	memset(&rs, 0, sizeof(rs));
	inet_pton(AF_INET, "198.51.100.1", &rs.ha_addr);
	rs.port = 434;
	rs.max_lifetime = 1800;
	rs.replay_window = 7;
	reg_init(&reg, loop, bt, &rs);
	reg_set_tenants(&reg, ts);
}

static void
teardown(void)
{
	char cmd[300];

	reg_free(&reg);
	binding_table_free(bt);
	ev_loop_destroy(loop);
	tenant_set_free(ts);
	conf_free(conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static size_t
unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static struct sockaddr_in
src_of(const char *a, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return s;
}

/* Wall-clock time whose NTP seconds are `ntp_sec`. */
static struct timespec
at_ntp(uint32_t ntp_sec)
{
	struct timespec t = { (time_t)(ntp_sec - NTP_UNIX_OFFSET), 0 };

	return t;
}

static size_t
handle_hex(const char *hex, const char *src, uint32_t ntp_sec, uint8_t *reply)
{
	uint8_t req[512];
	size_t n = unhex(hex, req);
	struct sockaddr_in s = src_of(src, 434);
	struct timespec now = at_ntp(ntp_sec);

	return reg_handle(&reg, req, n, &s, &now, reply, 512, NULL);
}

static struct in_addr
A(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a;
}

START_TEST(vector_accepted_reply_bytes)
{
	uint8_t reply[512], want[512];
	size_t n = handle_hex(V_RRQ_COLOCATED, "198.18.1.2", 0xeb0f2c1a, reply);
	size_t wn = unhex(V_RRP_ACCEPTED, want);
	struct binding *b;

	/* The reply is byte for byte the independently computed one. */
	ck_assert_uint_eq(n, wn);
	ck_assert_mem_eq(reply, want, wn);
	b = binding_lookup(bt, ts->t[0]->id, A("198.18.10.5"));
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->coa.s_addr, A("198.18.1.2").s_addr);
	ck_assert_uint_eq(b->lifetime, 600);
	ck_assert(b->flags & BF_REVERSE);
	ck_assert(b->flags & BF_COLOCATED);
	ck_assert_uint_eq(reg.counters.accepted, 1);

	/* The same request again is a replay: 133, and nothing changes. */
	n = handle_hex(V_RRQ_COLOCATED, "198.18.1.2", 0xeb0f2c1b, reply);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(reply[1], 133);
	ck_assert_uint_eq(binding_count(bt), 1);
}
END_TEST

START_TEST(vector_133_reply_bytes)
{
	uint8_t reply[512], want[512];
	/* 38 s after the request's timestamp: outside the 7 s window. */
	size_t n = handle_hex(V_RRQ_COLOCATED, "198.18.1.2", 0xeb0f2c40, reply);
	size_t wn = unhex(V_RRP_133, want);

	ck_assert_uint_eq(n, wn);
	ck_assert_mem_eq(reply, want, wn);
	ck_assert_uint_eq(binding_count(bt), 0);
	ck_assert_uint_eq(reg.counters.denied[133], 1);
}
END_TEST

START_TEST(vector_keyed_md5_accepted)
{
	uint8_t reply[512];
	struct mip_rrp p;
	size_t n = handle_hex(V_RRQ_KEYED, "198.18.1.2", 0xeb0f2c1a, reply);

	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(rrp_decode(reply, n, &p), MIP_MSG_OK);
	ck_assert_uint_eq(p.f.code, 0);
	ck_assert_uint_eq(p.f.lifetime, 300);
	ck_assert_uint_eq(p.ext.mn_ha.spi, 1002);
	ck_assert_ptr_nonnull(binding_lookup(bt, ts->t[0]->id, A("198.18.10.6")));
}
END_TEST

START_TEST(vector_nai_gets_pool_address)
{
	uint8_t reply[512];
	struct mip_rrp p;
	size_t n = handle_hex(V_RRQ_NAI, "198.18.1.2", 0xeb0f2c1a, reply);

	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(rrp_decode(reply, n, &p), MIP_MSG_OK);
	ck_assert_uint_eq(p.f.code, 0);
	/* RFC 2794: first pool address, and the NAI echoed before MN-HA. */
	ck_assert_uint_eq(p.f.home_addr.s_addr, A("198.18.10.128").s_addr);
	ck_assert(p.ext.nai.present);
	ck_assert_uint_eq(p.ext.nai.len, strlen("bob@acme.example"));
	ck_assert_mem_eq(p.ext.nai.nai, "bob@acme.example", p.ext.nai.len);
	ck_assert_uint_lt(p.ext.nai.nai - reply, p.ext.mn_ha.auth - reply);
	ck_assert_ptr_nonnull(binding_lookup(bt, ts->t[0]->id, A("198.18.10.128")));
}
END_TEST

START_TEST(vector_via_fa_with_fa_ha)
{
	uint8_t reply[512];
	struct mip_rrp p;
	size_t n = handle_hex(V_RRQ_FA, "198.18.1.1", 0xeb0f2c1a, reply);
	struct binding *b;

	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(rrp_decode(reply, n, &p), MIP_MSG_OK);
	ck_assert_uint_eq(p.f.code, 0);
	/* §3.8.3.3: MN-HA, then FA-HA for the FA we share an SA with. */
	ck_assert(p.ext.mn_ha.present);
	ck_assert(p.ext.fa_ha.present);
	ck_assert_uint_eq(p.ext.fa_ha.spi, 2000);
	ck_assert_uint_gt(p.ext.fa_ha.auth_off, p.ext.mn_ha.auth_off);
	b = binding_lookup(bt, ts->t[0]->id, A("198.18.10.5"));
	ck_assert_ptr_nonnull(b);
	ck_assert(b->flags & BF_VIA_FA);
}
END_TEST

START_TEST(fa_ha_corrupted_gives_132)
{
	uint8_t req[512], reply[512];
	size_t n = unhex(V_RRQ_FA, req);
	struct sockaddr_in s = src_of("198.18.1.1", 434);
	struct timespec now = at_ntp(0xeb0f2c1a);

	req[n - 1] ^= 1;
	n = reg_handle(&reg, req, n, &s, &now, reply, sizeof(reply), NULL);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(reply[1], 132);
	ck_assert_uint_eq(binding_count(bt), 0);
}
END_TEST

START_TEST(fa_ha_from_unknown_fa_dropped)
{
	uint8_t reply[512];
	/* The FA-HA extension arrives from an address we share no SA with. */
	size_t n = handle_hex(V_RRQ_FA, "198.18.1.9", 0xeb0f2c1a, reply);

	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(reg.counters.dropped[DROP_FA_HA_UNEXPECTED], 1);
	ck_assert_uint_eq(binding_count(bt), 0);
}
END_TEST

START_TEST(bad_mn_ha_gives_131)
{
	uint8_t req[512], reply[512];
	size_t n = unhex(V_RRQ_COLOCATED, req);
	struct sockaddr_in s = src_of("198.18.1.2", 434);
	struct timespec now = at_ntp(0xeb0f2c1a);
	struct mip_rrp p;

	req[n - 3] ^= 0x40;
	n = reg_handle(&reg, req, n, &s, &now, reply, sizeof(reply), NULL);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(rrp_decode(reply, n, &p), MIP_MSG_OK);
	ck_assert_uint_eq(p.f.code, 131);
	/* §3.8.2.1 a: the 131 carries a valid MN-HA extension. */
	ck_assert(p.ext.mn_ha.present);
	ck_assert_uint_eq(binding_count(bt), 0);
	/* The untouched request is still fresh: the bad one used up nothing. */
	n = handle_hex(V_RRQ_COLOCATED, "198.18.1.2", 0xeb0f2c1a, reply);
	ck_assert_uint_eq(reply[1], 0);
}
END_TEST

START_TEST(unknown_node_and_internal_source_dropped)
{
	uint8_t req[512], reply[512];
	size_t n = unhex(V_RRQ_COLOCATED, req);
	struct sockaddr_in s = src_of("198.18.1.2", 434);
	struct timespec now = at_ntp(0xeb0f2c1a);

	req[7] = 99;	/* HoA 198.18.10.99: no SA */
	ck_assert_uint_eq(reg_handle(&reg, req, n, &s, &now, reply, 512, NULL), 0);
	ck_assert_uint_eq(reg.counters.dropped[DROP_NO_SA], 1);
	/* RFC 5265 §3.7: from the intranet, the inner HA answers. */
	ck_assert_uint_eq(handle_hex(V_RRQ_COLOCATED, "203.0.113.7", 0xeb0f2c1a,
	    reply), 0);
	ck_assert_uint_eq(reg.counters.dropped[DROP_INTERNAL_SOURCE], 1);
	ck_assert_uint_eq(binding_count(bt), 0);
}
END_TEST

/* The home-link hooks: what reg_handle asked of them. */
static int home_calls, came_home_calls;
static struct in_addr came_home_hoa;

static int
fake_home_link(void *arg, uint32_t tenant_id)
{
	(void)arg;
	(void)tenant_id;
	home_calls++;
	return 7;
}

static void
fake_came_home(void *arg, uint32_t tenant_id, struct in_addr hoa)
{
	(void)arg;
	(void)tenant_id;
	came_home_calls++;
	came_home_hoa = hoa;
}

/* A deregistration of 198.18.10.5, MN-HA-signed with its key. */
static size_t
dereg_req(uint8_t *buf, size_t cap, const char *coa, uint64_t id)
{
	static const uint8_t key[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
	    0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	struct mip_rrq_fields f;
	struct mip_auth *sa = mip_auth_new(MIP_AUTH_HMAC_MD5, key, sizeof(key));
	struct wr w;
	size_t off;

	ck_assert_ptr_nonnull(sa);
	memset(&f, 0, sizeof(f));
	f.flags = MIP_RRQ_F_D;
	f.lifetime = 0;
	f.home_addr = A("198.18.10.5");
	f.ha_addr = A("198.51.100.1");
	f.coa = A(coa);
	f.id = id;
	wr_init(&w, buf, cap);
	ck_assert(rrq_put(&w, &f));
	off = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, 1000, mip_auth_len(sa));
	ck_assert_uint_gt(off, 0);
	ck_assert_int_gt(mip_auth_sign(sa, buf, off, buf + off, cap - off), 0);
	mip_auth_free(sa);
	ck_assert(!w.overflow);
	return w.off;
}

/*
 * RFC 5944 §3.8.3.1: source and care-of address = home address is a node
 * back on its home link: its reply leaves by the home link (accepted or
 * not), and only an accepted one tells the home link (§4.6).
 */
START_TEST(dereg_from_home_replies_on_home_link)
{
	uint8_t req[512], reply[512];
	struct sockaddr_in home = src_of("198.18.10.5", 434);
	struct sockaddr_in away = src_of("198.18.1.2", 434);
	struct timespec now = at_ntp(0xeb0f2c1b);
	uint64_t id = (uint64_t)0xeb0f2c1bu << 32;
	size_t n;
	int oif = -1;

	reg_set_home_link(&reg, fake_home_link, fake_came_home, NULL);
	ck_assert_uint_gt(handle_hex(V_RRQ_COLOCATED, "198.18.1.2", 0xeb0f2c1a,
	    reply), 0);
	ck_assert_uint_eq(binding_count(bt), 1);

	/* Refused (bad authenticator): on the home link, binding kept. */
	n = dereg_req(req, sizeof(req), "198.18.10.5", id + 1);
	req[n - 1] ^= 1;
	n = reg_handle(&reg, req, n, &home, &now, reply, sizeof(reply), &oif);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(reply[1], 131);
	ck_assert_int_eq(oif, 7);
	ck_assert_int_eq(came_home_calls, 0);
	ck_assert_uint_eq(binding_count(bt), 1);

	/* The same from the care-of address is routed as usual. */
	n = dereg_req(req, sizeof(req), "198.18.10.5", id + 2);
	req[n - 1] ^= 1;
	oif = -1;
	n = reg_handle(&reg, req, n, &away, &now, reply, sizeof(reply), &oif);
	ck_assert_uint_eq(reply[1], 131);
	ck_assert_int_eq(oif, 0);

	/* Accepted: on the home link, binding gone, the home link told. */
	n = dereg_req(req, sizeof(req), "198.18.10.5", id + 3);
	oif = -1;
	n = reg_handle(&reg, req, n, &home, &now, reply, sizeof(reply), &oif);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(reply[1], 0);
	ck_assert_int_eq(oif, 7);
	ck_assert_uint_eq(binding_count(bt), 0);
	ck_assert_int_eq(came_home_calls, 1);
	ck_assert_uint_eq(came_home_hoa.s_addr, A("198.18.10.5").s_addr);

	/* From home, but the care-of address is not the home address. */
	came_home_calls = 0;
	n = dereg_req(req, sizeof(req), "198.18.1.2", id + 4);
	oif = -1;
	n = reg_handle(&reg, req, n, &home, &now, reply, sizeof(reply), &oif);
	ck_assert_uint_eq(reply[1], 0);
	ck_assert_int_eq(oif, 0);
	ck_assert_int_eq(came_home_calls, 0);
}
END_TEST

START_TEST(unknown_nonskippable_extension_dropped)
{
	uint8_t req[512], reply[512];
	size_t n = unhex(V_RRQ_COLOCATED, req);
	struct sockaddr_in s = src_of("198.18.1.2", 434);
	struct timespec now = at_ntp(0xeb0f2c1a);

	/* Append type 5 (not understood, 0-127) after the MN-HA extension. */
	req[n++] = 5;
	req[n++] = 0;
	ck_assert_uint_eq(reg_handle(&reg, req, n, &s, &now, reply, 512, NULL), 0);
	ck_assert_uint_eq(reg.counters.dropped[DROP_UNKNOWN_EXT], 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("registration");
	TCase *tc = tcase_create("vectors");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, vector_accepted_reply_bytes);
	tcase_add_test(tc, vector_133_reply_bytes);
	tcase_add_test(tc, vector_keyed_md5_accepted);
	tcase_add_test(tc, vector_nai_gets_pool_address);
	tcase_add_test(tc, vector_via_fa_with_fa_ha);
	tcase_add_test(tc, fa_ha_corrupted_gives_132);
	tcase_add_test(tc, fa_ha_from_unknown_fa_dropped);
	tcase_add_test(tc, bad_mn_ha_gives_131);
	tcase_add_test(tc, unknown_node_and_internal_source_dropped);
	tcase_add_test(tc, unknown_nonskippable_extension_dropped);
	tcase_add_test(tc, dereg_from_home_replies_on_home_link);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
