/*
 * msgtool - decode/encode registration messages from the command line,
 * for cross-checks against independent implementations (scapy, tshark).
 *
 *   msgtool decode HEX
 *	prints key=value lines (err=..., fixed fields, every extension);
 *	exit 0 when the message decodes, 1 when it does not, 2 on usage.
 *   msgtool encode rrq|rrp KEY=VALUE...
 *	prints the message as hex.  Fixed-part keys: flags code lifetime
 *	home_addr ha_addr coa id.  Extensions are appended in argument order:
 *	  nai=TEXT  mn_ha=SPI:AUTHHEX  mn_fa=SPI:AUTHHEX  fa_ha=SPI:AUTHHEX
 *	  mn_aaa=SPI:AUTHHEX  challenge=HEX  udp_req=F:R:ENCAP
 *	  udp_rep=F:CODE:KEEPALIVE  revocation=I:TIMESTAMP
 *	  msg_string=SUBTYPE:TEXT  dyn_ha=SUBTYPE:ADDR  encap_delivery=1
 *	  pad=1  raw=HEX
 *	Numbers take C syntax (0x.. for hex).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mip_msg.h"

static void
usage(void)
{
	fprintf(stderr, "usage: msgtool decode HEX\n"
	    "       msgtool encode rrq|rrp KEY=VALUE...\n");
	exit(2);
}

static void
die(const char *what, const char *arg)
{
	fprintf(stderr, "msgtool: %s: %s\n", what, arg);
	exit(2);
}

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex), i;
	unsigned v;

	if (n % 2 != 0 || n / 2 > cap)
		die("bad hex", hex);
	for (i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			die("bad hex", hex);
		out[i] = (uint8_t)v;
	}
	return n / 2;
}

static void
print_hex(const char *key, const uint8_t *p, size_t n)
{
	size_t i;

	printf("%s=", key);
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static void
print_addr(const char *key, struct in_addr a)
{
	char s[INET_ADDRSTRLEN];

	printf("%s=%s\n", key, inet_ntop(AF_INET, &a, s, sizeof(s)));
}

static void
print_auth(const char *name, const struct mip_auth_ext *a)
{
	char key[64];

	if (!a->present)
		return;
	printf("%s.count=%u\n", name, a->count);
	printf("%s.spi=%u\n", name, a->spi);
	printf("%s.covered_len=%zu\n", name, a->covered_len);
	snprintf(key, sizeof(key), "%s.auth", name);
	print_hex(key, a->auth, a->auth_len);
}

static void
print_exts(const struct mip_exts *x)
{
	unsigned i;

	printf("ext_count=%u\n", x->n);
	printf("ext_skipped=%u\n", x->n_skipped);
	for (i = 0; i < x->n; i++) {
		const struct mip_ext *e = &x->list[i];

		printf("ext.%u.type=%u\n", i, e->type);
		printf("ext.%u.subtype=%u\n", i, e->subtype);
		printf("ext.%u.off=%zu\n", i, e->off);
		printf("ext.%u.len=%zu\n", i, e->len);
		printf("ext.%u.data_len=%zu\n", i, e->data_len);
		printf("ext.%u.skipped=%d\n", i, e->skipped);
	}
	print_auth("mn_ha", &x->mn_ha);
	print_auth("mn_fa", &x->mn_fa);
	print_auth("fa_ha", &x->fa_ha);
	print_auth("mn_aaa", &x->mn_aaa);
	if (x->nai.present)
		print_hex("nai", x->nai.nai, x->nai.len);
	if (x->challenge.present)
		print_hex("challenge", x->challenge.data, x->challenge.len);
	if (x->udp_req.present) {
		printf("udp_req.f=%d\n", x->udp_req.force);
		printf("udp_req.r=%d\n", x->udp_req.fa_required);
		printf("udp_req.encap=%u\n", x->udp_req.encap);
	}
	if (x->udp_rep.present) {
		printf("udp_rep.f=%d\n", x->udp_rep.force);
		printf("udp_rep.code=%u\n", x->udp_rep.code);
		printf("udp_rep.keepalive=%u\n", x->udp_rep.keepalive);
	}
	if (x->revocation.present) {
		printf("revocation.i=%d\n", x->revocation.i_bit);
		printf("revocation.timestamp=%u\n", x->revocation.timestamp);
	}
	if (x->msg_string.present) {
		printf("msg_string.subtype=%u\n", x->msg_string.subtype);
		print_hex("msg_string.text", x->msg_string.text, x->msg_string.len);
	}
	if (x->dyn_ha.present) {
		printf("dyn_ha.subtype=%u\n", x->dyn_ha.subtype);
		print_addr("dyn_ha.addr", x->dyn_ha.addr);
	}
	if (x->encap_delivery)
		printf("encap_delivery=1\n");
}

static int
decode(const char *hex)
{
	static uint8_t buf[65536];
	struct mip_rrq q;
	struct mip_rrp p;
	enum mip_msg_err err;
	size_t n = unhex(hex, buf, sizeof(buf));
	const struct mip_exts *x;

	if (n > 0 && buf[0] == MIP_MSG_RRP) {
		err = rrp_decode(buf, n, &p);
		x = &p.ext;
	} else {
		err = rrq_decode(buf, n, &q);
		x = &q.ext;
	}
	printf("err=%s\n", mip_msg_strerror(err));
	printf("reply_code=%d\n", mip_msg_err_reply_code(err));
	if (err == MIP_MSG_ESHORT || err == MIP_MSG_ETYPE)
		return 1;
	if (buf[0] == MIP_MSG_RRP) {
		printf("type=3\n");
		printf("code=%u\n", p.f.code);
		printf("lifetime=%u\n", p.f.lifetime);
		print_addr("home_addr", p.f.home_addr);
		print_addr("ha_addr", p.f.ha_addr);
		printf("id=0x%016llx\n", (unsigned long long)p.f.id);
	} else {
		printf("type=1\n");
		printf("flags=0x%02x\n", q.f.flags);
		printf("s=%d\nb=%d\nd=%d\nm=%d\ng=%d\nr=%d\nt=%d\nx=%d\n",
		    !!(q.f.flags & MIP_RRQ_F_S), !!(q.f.flags & MIP_RRQ_F_B),
		    !!(q.f.flags & MIP_RRQ_F_D), !!(q.f.flags & MIP_RRQ_F_M),
		    !!(q.f.flags & MIP_RRQ_F_G), !!(q.f.flags & MIP_RRQ_F_r),
		    !!(q.f.flags & MIP_RRQ_F_T), !!(q.f.flags & MIP_RRQ_F_x));
		printf("lifetime=%u\n", q.f.lifetime);
		print_addr("home_addr", q.f.home_addr);
		print_addr("ha_addr", q.f.ha_addr);
		print_addr("coa", q.f.coa);
		printf("id=0x%016llx\n", (unsigned long long)q.f.id);
	}
	print_exts(x);
	return err == MIP_MSG_OK ? 0 : 1;
}

static unsigned long long
num(const char *s, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || (*end != '\0' && *end != ':') || v > max)
		die("bad number", s);
	return v;
}

static struct in_addr
addr(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		die("bad address", s);
	return a;
}

/* "A:B" -> pointer to B. */
static const char *
after_colon(const char *s)
{
	const char *c = strchr(s, ':');

	if (c == NULL)
		die("expected A:B", s);
	return c + 1;
}

static void
put_auth(struct wr *w, const char *name, const char *v)
{
	uint8_t auth[512];
	uint32_t spi = (uint32_t)num(v, UINT32_MAX);
	size_t n = unhex(after_colon(v), auth, sizeof(auth)), at;

	if (strcmp(name, "mn_aaa") == 0)
		at = mip_ext_put_gen_auth(w, MIP_GEN_AUTH_MN_AAA, spi, n);
	else
		at = mip_ext_put_auth(w, strcmp(name, "mn_ha") == 0 ? MIP_EXT_MN_HA_AUTH :
		    strcmp(name, "mn_fa") == 0 ? MIP_EXT_MN_FA_AUTH : MIP_EXT_FA_HA_AUTH, spi, n);
	if (at == 0)
		die("cannot encode", v);
	memcpy(w->buf + at, auth, n);
}

static int
encode(int argc, char **argv)
{
	static uint8_t buf[65536];
	uint8_t tmp[512];
	struct mip_rrq_fields q;
	struct mip_rrp_fields p;
	struct wr w;
	int is_rrq, i;
	size_t n;

	if (argc < 1)
		usage();
	if (strcmp(argv[0], "rrq") == 0)
		is_rrq = 1;
	else if (strcmp(argv[0], "rrp") == 0)
		is_rrq = 0;
	else
		usage();
	memset(&q, 0, sizeof(q));
	memset(&p, 0, sizeof(p));

	/* Pass 1: the fixed part. */
	for (i = 1; i < argc; i++) {
		char *k = argv[i], *v = strchr(k, '=');

		if (v == NULL)
			die("expected KEY=VALUE", k);
		v++;
		if (strncmp(k, "flags=", 6) == 0)
			q.flags = (uint8_t)num(v, 0xff);
		else if (strncmp(k, "code=", 5) == 0)
			p.code = (uint8_t)num(v, 0xff);
		else if (strncmp(k, "lifetime=", 9) == 0)
			q.lifetime = p.lifetime = (uint16_t)num(v, 0xffff);
		else if (strncmp(k, "home_addr=", 10) == 0)
			q.home_addr = p.home_addr = addr(v);
		else if (strncmp(k, "ha_addr=", 8) == 0)
			q.ha_addr = p.ha_addr = addr(v);
		else if (strncmp(k, "coa=", 4) == 0)
			q.coa = addr(v);
		else if (strncmp(k, "id=", 3) == 0)
			q.id = p.id = num(v, ~0ULL);
	}
	wr_init(&w, buf, sizeof(buf));
	if (is_rrq)
		rrq_put(&w, &q);
	else
		rrp_put(&w, &p);

	/* Pass 2: extensions in order. */
	for (i = 1; i < argc; i++) {
		char name[32], *v = strchr(argv[i], '=') + 1;
		size_t klen = (size_t)(v - 1 - argv[i]);

		if (klen >= sizeof(name))
			die("unknown key", argv[i]);
		memcpy(name, argv[i], klen);
		name[klen] = '\0';
		if (strcmp(name, "nai") == 0)
			mip_ext_put_nai(&w, v, strlen(v));
		else if (strcmp(name, "mn_ha") == 0 || strcmp(name, "mn_fa") == 0 ||
		    strcmp(name, "fa_ha") == 0 || strcmp(name, "mn_aaa") == 0)
			put_auth(&w, name, v);
		else if (strcmp(name, "challenge") == 0) {
			n = unhex(v, tmp, sizeof(tmp));
			mip_ext_put_challenge(&w, tmp, n);
		} else if (strcmp(name, "udp_req") == 0) {
			const char *r = after_colon(v), *e = after_colon(r);

			mip_ext_put_udp_tunnel_req(&w, num(v, 1), num(r, 1), (uint8_t)num(e, 0xff));
		} else if (strcmp(name, "udp_rep") == 0) {
			const char *c = after_colon(v), *k = after_colon(c);

			mip_ext_put_udp_tunnel_reply(&w, num(v, 1), (uint8_t)num(c, 0xff),
			    (uint16_t)num(k, 0xffff));
		} else if (strcmp(name, "revocation") == 0)
			mip_ext_put_revocation_support(&w, num(v, 1),
			    (uint32_t)num(after_colon(v), UINT32_MAX));
		else if (strcmp(name, "msg_string") == 0) {
			const char *t = after_colon(v);

			mip_ext_put_msg_string(&w, (uint8_t)num(v, 0xff), t, strlen(t));
		} else if (strcmp(name, "dyn_ha") == 0)
			mip_ext_put_dyn_ha(&w, (uint8_t)num(v, 0xff), addr(after_colon(v)));
		else if (strcmp(name, "encap_delivery") == 0)
			mip_ext_put_encap_delivery(&w);
		else if (strcmp(name, "pad") == 0)
			mip_ext_put_pad(&w);
		else if (strcmp(name, "raw") == 0) {
			n = unhex(v, tmp, sizeof(tmp));
			wr_bytes(&w, tmp, n);
		} else if (strcmp(name, "flags") != 0 && strcmp(name, "code") != 0 &&
		    strcmp(name, "lifetime") != 0 && strcmp(name, "home_addr") != 0 &&
		    strcmp(name, "ha_addr") != 0 && strcmp(name, "coa") != 0 &&
		    strcmp(name, "id") != 0)
			die("unknown key", argv[i]);
	}
	if (w.overflow)
		die("cannot encode", "message");
	for (n = 0; n < w.off; n++)
		printf("%02x", buf[n]);
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "decode") == 0 && argc == 3)
		return decode(argv[2]);
	if (strcmp(argv[1], "encode") == 0)
		return encode(argc - 2, argv + 2);
	usage();
	return 2;
}
