/*
 * pcap_tshark - writes registration messages built by our encoder into a
 * pcap file (raw IPv4 + UDP to port 434, valid checksums) for tshark to
 * dissect independently, and prints what tshark should find, one line per
 * check: "FRAME FIELD VALUE" (VALUE as `tshark -T fields -E occurrence=a`
 * prints it, several occurrences joined by ','; booleans as 1/0, which
 * pcap_tshark.sh also makes of tshark's True/False).
 *
 *   pcap_tshark OUT.pcap > expected.txt
 *
 * Addresses are from 198.51.100.0/24 and 198.18.0.0/15 only.
 */
#include "config.h"	/* _DEFAULT_SOURCE: pcap.h needs u_char under -std=c11 */

#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mip_msg.h"

static pcap_dumper_t *dumper;
static unsigned frame;

static struct in_addr
ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a;
}

static void
expect(const char *field, const char *fmt, ...)
{
	va_list ap;

	printf("%u %s ", frame, field);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* RFC 1071 ones' complement sum. */
static uint32_t
sum16(uint32_t acc, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t
fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* Wraps payload in IPv4 + UDP and writes one packet. */
static void
emit(const char *src, const char *dst, uint16_t sport, uint16_t dport,
    const uint8_t *payload, size_t len)
{
	uint8_t pkt[2048];
	struct pcap_pkthdr h;
	struct in_addr s = ip(src), d = ip(dst);
	size_t udplen = 8 + len, total = 20 + udplen;
	uint32_t acc;
	uint16_t ck;

	if (total > sizeof(pkt))
		abort();
	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	put_be16(pkt + 2, (uint16_t)total);
	put_be16(pkt + 4, (uint16_t)(0x1000 + frame));
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, &s, 4);
	memcpy(pkt + 16, &d, 4);
	put_be16(pkt + 10, fold(sum16(0, pkt, 20)));

	put_be16(pkt + 20, sport);
	put_be16(pkt + 22, dport);
	put_be16(pkt + 24, (uint16_t)udplen);
	memcpy(pkt + 28, payload, len);
	/* Pseudo-header: addresses, protocol, UDP length (RFC 768). */
	acc = sum16(0, pkt + 12, 8);
	acc += IPPROTO_UDP + (uint32_t)udplen;
	acc = sum16(acc, pkt + 20, udplen);
	ck = fold(acc);
	put_be16(pkt + 26, ck == 0 ? 0xffff : ck);

	memset(&h, 0, sizeof(h));
	h.ts.tv_sec = 1700000000 + frame;
	h.caplen = h.len = (bpf_u_int32)total;
	pcap_dump((u_char *)dumper, &h, pkt);
	/* tshark runs with checksum validation on: 1 = good. */
	expect("ip.checksum.status", "1");
	expect("udp.checksum.status", "1");
	expect("udp.dstport", "%u", dport);
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void
expect_hex(const char *field, const uint8_t *p, size_t n)
{
	char s[1024];
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < sizeof(s); i++)
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	expect(field, "%s", s);
}

static void
check_wr(const struct wr *w)
{
	if (w->overflow) {
		fprintf(stderr, "pcap_tshark: encoder overflow at frame %u\n", frame);
		exit(1);
	}
}

/* Frame 1: RRQ via an FA: NAI, UDP tunnel request, revocation, MN-HA, FA-HA. */
static void
frame_rrq_nat(void)
{
	uint8_t m[512];
	struct mip_rrq_fields f = { 0 };
	struct wr w;
	size_t a1, a2;

	frame++;
	f.flags = MIP_RRQ_F_S | MIP_RRQ_F_B | MIP_RRQ_F_D | MIP_RRQ_F_G | MIP_RRQ_F_T;
	f.lifetime = 600;
	f.home_addr = ip("198.18.10.5");
	f.ha_addr = ip("198.51.100.1");
	f.coa = ip("198.51.100.20");
	f.id = 0xeb0f2c1a12345678ULL;
	wr_init(&w, m, sizeof(m));
	rrq_put(&w, &f);
	mip_ext_put_nai(&w, "alice@acme.example", 18);
	mip_ext_put_udp_tunnel_req(&w, true, false, MIP_UDP_ENCAP_IPIP);
	mip_ext_put_revocation_support(&w, true, 0x01020304);
	a1 = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, 1000, 16);
	fill(m + a1, 16, 0x10);
	a2 = mip_ext_put_auth(&w, MIP_EXT_FA_HA_AUTH, 2000, 16);
	fill(m + a2, 16, 0x20);
	check_wr(&w);
	emit("198.51.100.20", "198.51.100.1", 434, 434, m, w.off);

	expect("mip.type", "1");
	expect("mip.flags", "0x%02x", f.flags);
	expect("mip.s", "1");
	expect("mip.b", "1");
	expect("mip.d", "1");
	expect("mip.m", "0");
	expect("mip.g", "1");
	expect("mip.t", "1");
	expect("mip.life", "600");
	expect("mip.homeaddr", "198.18.10.5");
	expect("mip.haaddr", "198.51.100.1");
	expect("mip.coa", "198.51.100.20");
	expect("mip.ext.type", "%d,%d,%d,%d,%d", MIP_EXT_NAI, MIP_EXT_UDP_TUNNEL_REQ,
	    MIP_EXT_REVOCATION, MIP_EXT_MN_HA_AUTH, MIP_EXT_FA_HA_AUTH);
	expect("mip.nai", "alice@acme.example");
	expect("mip.ext.utrq.subtype", "0");
	expect("mip.ext.utrq.f", "1");
	expect("mip.ext.utrq.r", "0");
	expect("mip.ext.utrq.encaptype", "4");
	expect("mip.ext.utrq.reserved3", "0x0000");
	expect("mip.ext.rev.i", "1");
	expect("mip.ext.rev.tstamp", "%u", 0x01020304);
	expect("mip.auth.spi", "0x000003e8,0x000007d0");
	{
		char s[80];
		size_t i;

		for (i = 0; i < 16; i++)
			snprintf(s + 2 * i, 3, "%02x", m[a1 + i]);
		s[32] = ',';
		for (i = 0; i < 16; i++)
			snprintf(s + 33 + 2 * i, 3, "%02x", m[a2 + i]);
		expect("mip.auth.auth", "%s", s);
	}
}

/*
 * Frame 2: RRQ, co-located, with challenge and MN-AAA (RFC 4721).  No
 * one-byte padding: Wireshark reads a Length after Type 0, against
 * RFC 5944 §1.8, and would flag it malformed.
 */
static void
frame_rrq_aaa(void)
{
	uint8_t m[512];
	static const uint8_t chal[] = { 0xc0, 0xff, 0xee, 0x00, 0x11, 0x22, 0x33, 0x44 };
	struct mip_rrq_fields f = { 0 };
	struct wr w;
	size_t a1, a2;

	frame++;
	f.flags = MIP_RRQ_F_D | MIP_RRQ_F_M;
	f.lifetime = MIP_LIFETIME_INFINITE;
	f.home_addr = ip("0.0.0.0");
	f.ha_addr = ip("198.51.100.1");
	f.coa = ip("198.18.1.2");
	f.id = 0x0000000100000002ULL;
	wr_init(&w, m, sizeof(m));
	rrq_put(&w, &f);
	mip_ext_put_nai(&w, "bob@acme.example", 16);
	a1 = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, 1001, 16);
	fill(m + a1, 16, 0x30);
	mip_ext_put_challenge(&w, chal, sizeof(chal));
	a2 = mip_ext_put_gen_auth(&w, MIP_GEN_AUTH_MN_AAA, 0x12345678, 16);
	fill(m + a2, 16, 0x40);
	check_wr(&w);
	emit("198.18.1.2", "198.51.100.1", 40000, 434, m, w.off);

	expect("mip.type", "1");
	expect("mip.flags", "0x%02x", f.flags);
	expect("mip.d", "1");
	expect("mip.m", "1");
	expect("mip.t", "0");
	expect("mip.life", "65535");
	expect("mip.homeaddr", "0.0.0.0");
	expect("mip.coa", "198.18.1.2");
	expect("mip.ext.type", "%d,%d,%d,%d", MIP_EXT_NAI,
	    MIP_EXT_MN_HA_AUTH, MIP_EXT_MN_FA_CHALLENGE, MIP_EXT_GEN_AUTH);
	expect("mip.nai", "bob@acme.example");
	expect("mip.ext.auth.subtype", "1");
	expect("mip.auth.spi", "0x000003e9,0x12345678");
}

/* Frame 3: RRP accepted, UDP tunnel reply, revocation, message string, MN-HA. */
static void
frame_rrp_accept(void)
{
	uint8_t m[512];
	static const char text[] = "Welcome to acme";
	struct mip_rrp_fields f = { 0 };
	struct wr w;
	size_t a;

	frame++;
	f.code = MIP_CODE_ACCEPTED;
	f.lifetime = 1800;
	f.home_addr = ip("198.18.10.5");
	f.ha_addr = ip("198.51.100.1");
	f.id = 0xeb0f2c1a12345678ULL;
	wr_init(&w, m, sizeof(m));
	rrp_put(&w, &f);
	mip_ext_put_udp_tunnel_reply(&w, true, MIP_UDP_TUNNEL_ACCEPT, 110);
	mip_ext_put_revocation_support(&w, false, 0x0a0b0c0d);
	mip_ext_put_msg_string(&w, MIP_MSG_STRING_FROM_HA, text, strlen(text));
	a = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, 1000, 16);
	fill(m + a, 16, 0x50);
	check_wr(&w);
	emit("198.51.100.1", "198.51.100.20", 434, 434, m, w.off);

	expect("mip.type", "3");
	expect("mip.code", "0");
	expect("mip.life", "1800");
	expect("mip.homeaddr", "198.18.10.5");
	expect("mip.haaddr", "198.51.100.1");
	expect("mip.ext.type", "%d,%d,%d,%d", MIP_EXT_UDP_TUNNEL_REPLY, MIP_EXT_REVOCATION,
	    MIP_EXT_MSG_STRING, MIP_EXT_MN_HA_AUTH);
	expect("mip.ext.utrp.subtype", "0");
	expect("mip.ext.utrp.code", "0");
	expect("mip.ext.utrp.f", "1");
	expect("mip.ext.utrp.keepalive", "110");
	expect("mip.ext.rev.i", "0");
	expect("mip.ext.rev.tstamp", "%u", 0x0a0b0c0d);
	expect("mip.ext.msgstr.subtype", "1");
	expect("mip.ext.msgstr.text", "%s", text);
	expect("mip.auth.spi", "0x000003e8");
	expect_hex("mip.auth.auth", m + a, 16);
}

/*
 * Frame 4: RRP 143 (RFC 4433 redirect).  The Redirected HA extension itself
 * is left out: RFC 4433 §3.4 draws it in the long format, Wireshark
 * dissects it in the short one, so tshark would call ours malformed.
 */
static void
frame_rrp_redirect(void)
{
	uint8_t m[512];
	struct mip_rrp_fields f = { 0 };
	struct wr w;
	size_t a;

	frame++;
	f.code = MIP_CODE_HA_REDIRECT;
	f.lifetime = 0;
	f.home_addr = ip("198.18.10.6");
	f.ha_addr = ip("198.51.100.1");
	f.id = 0xeb0f2c4012345679ULL;
	wr_init(&w, m, sizeof(m));
	rrp_put(&w, &f);
	mip_ext_put_msg_string(&w, MIP_MSG_STRING_FROM_HA, "try 198.51.100.9", 16);
	a = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, 1002, 16);
	fill(m + a, 16, 0x60);
	check_wr(&w);
	emit("198.51.100.1", "198.18.1.2", 434, 40000, m, w.off);

	expect("mip.type", "3");
	expect("mip.code", "143");
	expect("mip.life", "0");
	expect("mip.homeaddr", "198.18.10.6");
	expect("mip.ext.type", "%d,%d", MIP_EXT_MSG_STRING, MIP_EXT_MN_HA_AUTH);
	expect("mip.ext.msgstr.subtype", "1");
	expect("mip.ext.msgstr.text", "try 198.51.100.9");
	expect("mip.auth.spi", "0x000003ea");
}

/* Frame 5: RRP 134 (poorly formed) with MN-FA and FA-HA, and UDP tunnel reply declined. */
static void
frame_rrp_denied(void)
{
	uint8_t m[512];
	struct mip_rrp_fields f = { 0 };
	struct wr w;
	size_t a;

	frame++;
	f.code = MIP_CODE_HA_BAD_REQUEST;
	f.lifetime = 0;
	f.home_addr = ip("198.18.10.7");
	f.ha_addr = ip("198.51.100.1");
	f.id = 0x1122334455667788ULL;
	wr_init(&w, m, sizeof(m));
	rrp_put(&w, &f);
	mip_ext_put_udp_tunnel_reply(&w, false, MIP_UDP_TUNNEL_DECLINED, 0);
	a = mip_ext_put_auth(&w, MIP_EXT_MN_HA_AUTH, 1003, 16);
	fill(m + a, 16, 0x70);
	a = mip_ext_put_auth(&w, MIP_EXT_MN_FA_AUTH, 3000, 16);
	fill(m + a, 16, 0x80);
	a = mip_ext_put_auth(&w, MIP_EXT_FA_HA_AUTH, 2000, 16);
	fill(m + a, 16, 0x90);
	check_wr(&w);
	emit("198.51.100.1", "198.51.100.20", 434, 434, m, w.off);

	expect("mip.type", "3");
	expect("mip.code", "134");
	expect("mip.ext.type", "%d,%d,%d,%d", MIP_EXT_UDP_TUNNEL_REPLY, MIP_EXT_MN_HA_AUTH,
	    MIP_EXT_MN_FA_AUTH, MIP_EXT_FA_HA_AUTH);
	expect("mip.ext.utrp.code", "64");
	expect("mip.ext.utrp.f", "0");
	expect("mip.ext.utrp.keepalive", "0");
	expect("mip.auth.spi", "0x000003eb,0x00000bb8,0x000007d0");
}

int
main(int argc, char **argv)
{
	pcap_t *pd;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap_tshark OUT.pcap\n");
		return 2;
	}
	pd = pcap_open_dead(DLT_RAW, 65535);
	if (pd == NULL || (dumper = pcap_dump_open(pd, argv[1])) == NULL) {
		fprintf(stderr, "pcap_tshark: %s: %s\n", argv[1],
		    pd ? pcap_geterr(pd) : "pcap_open_dead failed");
		return 1;
	}
	frame_rrq_nat();
	frame_rrq_aaa();
	frame_rrp_accept();
	frame_rrp_redirect();
	frame_rrp_denied();
	pcap_dump_close(dumper);
	pcap_close(pd);
	printf("frames %u\n", frame);
	return 0;
}
