/*
 * mn_tunnel.bpf.c - the mobile node's end of the IP-in-IP tunnel, at
 * kernel speed, for the data-plane benchmark's TCP runs
 * (test/bench/dp_run.sh). The test kernels have no ipip module; this
 * pair of tc programs (clsact, direct-action) on the MN's link to the
 * home agent stands in for it:
 *
 *   tc filter add dev IF egress bpf da obj mn_tunnel.bpf.o sec egress
 *   tc filter add dev IF ingress bpf da obj mn_tunnel.bpf.o sec ingress
 *
 * mn_egress: a datagram from the home address leaves encapsulated, care-of
 * address -> home agent (reverse tunnelling, RFC 3024). The MN routes the
 * home address's traffic via the home agent with a route MTU that leaves
 * room for the outer header (1480 in dp_run.sh), so the Ethernet header
 * already names the HA and the outer header fits.
 * mn_ingress: IP-in-IP from the home agent to the care-of address around a
 * datagram for the home address loses its outer header and goes on up
 * the stack. Everything else passes untouched.
 *
 * Headers are read with bpf_skb_load_bytes() and written with
 * bpf_skb_store_bytes(): both work whether or not a header sits in the
 * linear part of the skb (GSO/GRO super-packets), and no packet pointer
 * has to be revalidated after bpf_skb_adjust_room() moved the data.
 *
 * The addresses are the benchmark's (dp_run.sh); -DMN_HOA=... etc.
 * (IP4(a, b, c, d)) compile others in.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IP4(a, b, c, d)	((__u32)(a) << 24 | (__u32)(b) << 16 | \
			 (__u32)(c) << 8 | (__u32)(d))
#ifndef MN_HOA
#define MN_HOA		IP4(198, 18, 10, 5)	/* home address */
#endif
#ifndef MN_COA
#define MN_COA		IP4(198, 51, 100, 20)	/* co-located care-of address */
#endif
#ifndef MN_HA
#define MN_HA		IP4(198, 51, 100, 1)	/* home agent */
#endif

#define IP_DF		0x4000
#define IP_MF_OFFSET	0x3fff
#define OUTER_TTL	64	/* enough to reach the tunnel's end (§3.1) */

/* RFC 791 header checksum of a 20-octet header; 0 over a valid one. */
static __always_inline __u16
ip_checksum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("egress")
int
mn_egress(struct __sk_buff *skb)
{
	struct iphdr in, out = {};
	__u32 len;

	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &in, sizeof(in)) != 0 ||
	    in.version != 4 || in.saddr != bpf_htonl(MN_HOA))
		return TC_ACT_OK;
	/*
	 * From here on the datagram is the tunnel's: one that cannot be
	 * encapsulated is dropped, never sent from the home address in the
	 * clear (the registration asked for a reverse tunnel, T).
	 * RFC 2003 §3.1: no encapsulation of a datagram with TTL 0.
	 */
	if (in.ttl == 0)
		return TC_ACT_SHOT;
	/* Total Length has 16 bits; a GSO super-packet's covers all of it. */
	len = skb->len - ETH_HLEN + sizeof(out);
	if (len > 0xffff)
		return TC_ACT_SHOT;
	/*
	 * ENCAP_L3_IPV4 marks a GSO super-packet IP-in-IP (inner headers,
	 * SKB_GSO_IPXIP4), so segmentation and checksum offload later find
	 * the inner TCP header. FIXED_GSO keeps the segment size: the route
	 * MTU already leaves room for the outer header (§5.1).
	 */
	if (bpf_skb_adjust_room(skb, sizeof(out), BPF_ADJ_ROOM_MAC,
	    BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_FIXED_GSO) != 0)
		return TC_ACT_SHOT;

	/*
	 * RFC 2003 §3.1: TOS copied from the inner header; DF set when the
	 * inner header has it (and only then, so the stack's own path MTU
	 * discovery decides). The Identification is the inner one: unique
	 * for the sender already, and GSO counts it up per segment in both
	 * headers alike.
	 */
	out.version = 4;
	out.ihl = sizeof(out) / 4;
	out.tos = in.tos;
	out.tot_len = bpf_htons(len);
	out.id = in.id;
	out.frag_off = in.frag_off & bpf_htons(IP_DF);
	out.ttl = OUTER_TTL;
	out.protocol = IPPROTO_IPIP;
	out.saddr = bpf_htonl(MN_COA);
	out.daddr = bpf_htonl(MN_HA);
	out.check = ip_checksum(&out);
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &out, sizeof(out), 0) != 0)
		return TC_ACT_SHOT;	/* half rewritten */
	return TC_ACT_OK;
}

SEC("ingress")
int
mn_ingress(struct __sk_buff *skb)
{
	struct iphdr out, in;

	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &out, sizeof(out)) != 0 ||
	    out.protocol != IPPROTO_IPIP ||
	    out.saddr != bpf_htonl(MN_HA) || out.daddr != bpf_htonl(MN_COA))
		return TC_ACT_OK;
	/*
	 * Options and fragments are left to the stack (which, without the
	 * ipip module, drops them): the HA sends neither for this traffic.
	 */
	if (out.version != 4 || out.ihl != 5 ||
	    (out.frag_off & bpf_htons(IP_MF_OFFSET)) != 0)
		return TC_ACT_OK;
	/* What ip_rcv() would have checked of the header we take away. */
	if (ip_checksum(&out) != 0 ||
	    bpf_ntohs(out.tot_len) > skb->len - ETH_HLEN)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + sizeof(out), &in,
	    sizeof(in)) != 0 || in.version != 4 ||
	    in.daddr != bpf_htonl(MN_HOA))
		return TC_ACT_OK;
	/* RFC 2003 §3.1: an inner TTL of 0 after decapsulation: discard. */
	if (in.ttl == 0)
		return TC_ACT_SHOT;
	/*
	 * RFC 2003 §3: the inner datagram goes on unchanged; the stack checks
	 * its header as for any received one. FIXED_GSO: a GRO/GSO packet's
	 * segments keep their payload size (without it the kernel would grow
	 * gso_size by 20). The kernel leaves SKB_GSO_IPXIP4 and the
	 * encapsulation mark on such a packet (6.18 has no flag to clear
	 * them); local TCP delivery ignores both.
	 */
	if (bpf_skb_adjust_room(skb, -(__s32)sizeof(out), BPF_ADJ_ROOM_MAC,
	    BPF_F_ADJ_ROOM_FIXED_GSO) != 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
