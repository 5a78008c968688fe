/*
 * fastpath.bpf.c - mipha's kernel-speed data plane: tc (cls_bpf,
 * direct-action) programs that carry the common case of the data plane
 * without a trip through userspace.
 *
 * fp_forward sits on the egress of each tenant's TUN device: the kernel has
 * already routed the datagram there (policy rules, TTL decrement, ICMP
 * time exceeded and fragmentation-needed against the TUN's MTU are its
 * own), so what is left is mipha's half of RFC 5944 §4.2.3: look the home
 * address up, encapsulate (RFC 2003 IP-in-IP or RFC 2784 GRE) and send it
 * to the care-of address on the egress device the kernel's FIB names.
 *
 * fp_reverse sits on the ingress of the home agent's other interfaces:
 * a reverse-tunnelled datagram (RFC 3024) from the care-of address of a
 * binding whose home address is the inner source is stripped of its outer
 * header and handed to the tenant's TUN device as if received there, so
 * the rule `iif <tun> lookup <table>` routes it along the tenant's table.
 *
 * Both programs only ever accelerate: whatever is not certainly allowed
 * and well-formed (no entry, several bindings, minimal or UDP
 * encapsulation, fragments, options, ICMP, anything over the MTU, an
 * unresolved neighbour) is passed unchanged (TC_ACT_OK) to the userspace
 * path, which makes every decision again, answers with ICMP and counts the
 * drops by reason. The programs never drop a packet themselves.
 *
 * Headers are read with bpf_skb_load_bytes*(), which works whether or not
 * they sit in the linear part of the skb (GRO/GSO packets), and written
 * with bpf_skb_store_bytes().
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "fastpath_maps.h"

#define IP_DF		0x4000
#define IP_MF_OFFSET	0x3fff
#define OUTER_TTL	64	/* as the userspace path (RFC 2003 §3.1) */
#define GRE_HDR_LEN	4	/* RFC 2784 §2: no checksum, key or sequence */
#define UDP_HDR_LEN	8
#define MIP_HDR_LEN	4	/* RFC 3519 §3.3 MIP Tunnel Data header */
#define MIP_TUNNEL_DATA	4	/* its Type */
#define ETH_P_IPV4_BE	bpf_htons(ETH_P_IP)

#ifndef AF_INET
#define AF_INET		2
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);			/* home address */
	__type(value, struct fp_binding);
	__uint(max_entries, 65536);		/* resized by the loader */
	__uint(map_flags, BPF_F_NO_PREALLOC);
} fp_bindings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct fp_config);
	__uint(max_entries, 1);
} fp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, __u32);			/* tenant id; 0: handed over */
	__type(value, struct fp_counters);
	__uint(max_entries, 4096);
} fp_stats SEC(".maps");

static __always_inline struct fp_counters *
counters(__u32 tenant_id)
{
	return bpf_map_lookup_elem(&fp_stats, &tenant_id);
}

static __always_inline int
to_userspace(int forward)
{
	struct fp_counters *c = counters(0);

	if (c != NULL) {
		if (forward)
			c->fwd_slow++;
		else
			c->rev_slow++;
	}
	return TC_ACT_OK;
}

/* RFC 791 header checksum of a 20-octet header held on the stack. */
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

static __always_inline int
is_ike_port(__u16 port_be)
{
	return port_be == bpf_htons(500) || port_be == bpf_htons(4500);
}

/*
 * The vpn-only policy's common case (interface spec): ESP, or UDP 500/4500,
 * between the home address and the gateway. The port is the gateway's:
 * the destination port going there, the source port coming back. ICMP and
 * fragments are legal too, but the userspace path judges those.
 */
static __always_inline int
vpn_traffic(struct __sk_buff *skb, const struct iphdr *ip, __u32 l4_off,
    int to_gw, __u32 gateway, __u32 net_base)
{
	__u16 ports[2];

	if ((to_gw ? ip->daddr : ip->saddr) != gateway)
		return 0;
	if (ip->protocol == IPPROTO_ESP)
		return 1;
	if (ip->protocol != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes_relative(skb, l4_off, ports, sizeof(ports),
	    net_base) != 0)
		return 0;
	return is_ike_port(to_gw ? ports[1] : ports[0]);
}

/* ---- forward: TUN egress -> care-of address ---- */

SEC("tc")
int
fp_forward(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib = {};
	struct fp_binding *b;
	struct fp_config *cfg;
	struct fp_counters *c;
	struct iphdr ip, outer = {};
	struct ethhdr eth;
	__u32 key = 0, inner_len, seg_len, hlen, segs = 1, net_off, dst;
	__u16 overhead;
	__u64 adj;

	if (skb->protocol != ETH_P_IPV4_BE)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes_relative(skb, 0, &ip, sizeof(ip),
	    BPF_HDR_START_NET) != 0 || ip.version != 4 || ip.ihl != 5)
		return to_userspace(1);
	/*
	 * The datagram fills the skb after the link-layer header, if any: a
	 * TUN device has none, BPF_PROG_TEST_RUN gives an Ethernet header.
	 * That holds for segmentation-offloaded datagrams too, whose total
	 * length covers every segment.
	 */
	inner_len = bpf_ntohs(ip.tot_len);
	if (skb->len < inner_len)
		return to_userspace(1);
	net_off = skb->len - inner_len;
	if (net_off != 0 && net_off != sizeof(eth))
		return to_userspace(1);
	if ((b = bpf_map_lookup_elem(&fp_bindings, &ip.daddr)) == NULL ||
	    (cfg = bpf_map_lookup_elem(&fp_config, &key)) == NULL)
		return to_userspace(1);
	/*
	 * Only the tenant the kernel routed it to (tenant isolation); never
	 * back to where it came from (RFC 2003 §3.2); no fragments.
	 */
	if (b->tun_ifindex != skb->ifindex || ip.saddr == b->coa ||
	    ip.ttl == 0 || (ip.frag_off & bpf_htons(IP_MF_OFFSET)) != 0)
		return to_userspace(1);
	if ((b->flags & FP_F_VPN_ONLY) &&
	    !vpn_traffic(skb, &ip, sizeof(ip), 0, b->gateway, BPF_HDR_START_NET))
		return to_userspace(1);

	hlen = sizeof(ip);
	if (skb->gso_size != 0) {
		/* One TCP segment on the wire: its headers plus gso_size. */
		if (b->encap == FP_ENCAP_UDP)
			return to_userspace(1);	/* ESP never needs this */
		__u8 doff;

		if (ip.protocol != IPPROTO_TCP ||
		    bpf_skb_load_bytes_relative(skb, sizeof(ip) + 12, &doff, 1,
		    BPF_HDR_START_NET) != 0)
			return to_userspace(1);
		hlen += (doff >> 4) * 4;
		seg_len = hlen + skb->gso_size;
		if (inner_len > hlen)
			segs = (inner_len - hlen + skb->gso_size - 1) / skb->gso_size;
	} else
		seg_len = inner_len;
	overhead = sizeof(ip);
	if (b->encap == FP_ENCAP_GRE)
		overhead += GRE_HDR_LEN;
	else if (b->encap == FP_ENCAP_UDP)
		overhead += UDP_HDR_LEN + MIP_HDR_LEN;
	/* RFC 3519 §4.3: to the address the registration came from (the NAT). */
	dst = b->encap == FP_ENCAP_UDP ? b->peer : b->coa;
	/* RFC 2003 §5.1: over the tunnel MTU is the userspace path's case. */
	if (seg_len + overhead > b->mtu)
		return to_userspace(1);

	/* The kernel's route to the care-of address, as for a local sender. */
	fib.family = AF_INET;
	fib.ipv4_src = cfg->ha_addr;
	fib.ipv4_dst = dst;
	fib.tot_len = seg_len + overhead;
	fib.ifindex = 1;	/* loopback: the lookup of a locally sent datagram */
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return to_userspace(1);	/* no neighbour yet, too big, no route */

	adj = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
	if (b->encap == FP_ENCAP_GRE)
		adj |= BPF_F_ADJ_ROOM_ENCAP_L4_GRE;
	else if (b->encap == FP_ENCAP_UDP)
		adj |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP;
	if (bpf_skb_adjust_room(skb, overhead, BPF_ADJ_ROOM_MAC, adj) != 0)
		return to_userspace(1);

	/* RFC 2003 §3.1: TOS and DF copied from the inner header. */
	outer.version = 4;
	outer.ihl = 5;
	outer.tos = ip.tos;
	/*
	 * A segmentation-offloaded datagram may be 64 KiB already: its
	 * outer length is rewritten for each segment, so clamping the
	 * super-packet's own loses nothing.
	 */
	outer.tot_len = bpf_htons(inner_len + overhead > 0xffff ? 0xffff :
	    inner_len + overhead);
	outer.id = (__u16)bpf_get_prandom_u32();
	outer.frag_off = ip.frag_off & bpf_htons(IP_DF);
	outer.ttl = OUTER_TTL;
	outer.protocol = b->encap == FP_ENCAP_GRE ? IPPROTO_GRE :
	    b->encap == FP_ENCAP_UDP ? IPPROTO_UDP : IPPROTO_IPIP;
	outer.saddr = cfg->ha_addr;
	outer.daddr = dst;
	outer.check = ip_checksum(&outer);
	if (bpf_skb_store_bytes(skb, net_off, &outer, sizeof(outer), 0) != 0)
		return TC_ACT_SHOT;	/* the packet is half rewritten */
	if (b->encap == FP_ENCAP_GRE) {
		/* RFC 2784 §2: C=0, version 0, protocol type IPv4. */
		__u32 gre = bpf_htonl(ETH_P_IP);

		if (bpf_skb_store_bytes(skb, net_off + sizeof(outer), &gre,
		    sizeof(gre), 0) != 0)
			return TC_ACT_SHOT;
	} else if (b->encap == FP_ENCAP_UDP) {
		/*
		 * RFC 3519 §3.3/§4.3: from the registration port to the
		 * NAT's mapping, MIP Tunnel Data header, next header 4
		 * (IP-in-UDP). UDP checksum 0: none, as IPv4 allows (RFC
		 * 768); the inner datagram carries its own.
		 */
		struct {
			struct udphdr	udp;
			__u8		mip[MIP_HDR_LEN];
		} u = {};

		u.udp.source = bpf_htons(cfg->ha_port);
		u.udp.dest = b->peer_port;
		u.udp.len = bpf_htons(UDP_HDR_LEN + MIP_HDR_LEN + inner_len);
		u.mip[0] = MIP_TUNNEL_DATA;
		u.mip[1] = IPPROTO_IPIP;
		if (bpf_skb_store_bytes(skb, net_off + sizeof(outer), &u,
		    sizeof(u), 0) != 0)
			return TC_ACT_SHOT;
	}

	/* Give it the egress link's header and hand it to that device. */
	if (net_off == 0 && bpf_skb_change_head(skb, sizeof(eth), 0) != 0)
		return TC_ACT_SHOT;
	__builtin_memcpy(eth.h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, fib.smac, ETH_ALEN);
	eth.h_proto = ETH_P_IPV4_BE;
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) != 0)
		return TC_ACT_SHOT;

	if ((c = counters(b->tenant_id)) != NULL) {
		c->fwd_packets += segs;
		c->fwd_bytes += inner_len;
	}
	return bpf_redirect(fib.ifindex, 0);
}

/* ---- reverse: care-of address -> TUN ingress ---- */

SEC("tc")
int
fp_reverse(struct __sk_buff *skb)
{
	struct fp_binding *b;
	struct fp_config *cfg;
	struct fp_counters *c;
	struct iphdr outer, ip;
	struct {
		struct udphdr	udp;
		__u8		mip[MIP_HDR_LEN];
	} u;
	__u32 key = 0, olen = sizeof(outer), inner_len, segs = 1;
	__u8 encap;

	if (skb->protocol != ETH_P_IPV4_BE)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes_relative(skb, 0, &outer, sizeof(outer),
	    BPF_HDR_START_NET) != 0)
		return TC_ACT_OK;
	if (outer.protocol != IPPROTO_IPIP && outer.protocol != IPPROTO_GRE &&
	    outer.protocol != IPPROTO_UDP)
		return TC_ACT_OK;	/* not a tunnel: none of our business */
	if ((cfg = bpf_map_lookup_elem(&fp_config, &key)) == NULL ||
	    outer.daddr != cfg->ha_addr)
		return TC_ACT_OK;
	if (outer.protocol == IPPROTO_UDP) {
		/*
		 * RFC 3519 §3.3: only MIP Tunnel Data carrying IP-in-UDP on
		 * the registration port is a tunnel; registrations and
		 * everything else go to the sockets untouched.
		 */
		if (outer.ihl != 5 ||
		    bpf_skb_load_bytes_relative(skb, sizeof(outer), &u,
		    sizeof(u), BPF_HDR_START_NET) != 0 ||
		    u.udp.dest != bpf_htons(cfg->ha_port) ||
		    u.mip[0] != MIP_TUNNEL_DATA)
			return TC_ACT_OK;
	}
	/* From here on it is ours: anything unusual goes to userspace. */
	if (outer.version != 4 || outer.ihl != 5 ||
	    (outer.frag_off & bpf_htons(IP_MF_OFFSET)) != 0 ||
	    ip_checksum(&outer) != 0)
		return to_userspace(0);
	if (outer.protocol == IPPROTO_GRE) {
		__u32 gre;

		/* RFC 2784 §2.1: no checksum, key, sequence or routing, v0. */
		if (bpf_skb_load_bytes_relative(skb, olen, &gre, sizeof(gre),
		    BPF_HDR_START_NET) != 0 || gre != bpf_htonl(ETH_P_IP))
			return to_userspace(0);
		olen += GRE_HDR_LEN;
		encap = FP_ENCAP_GRE;
	} else if (outer.protocol == IPPROTO_UDP) {
		/*
		 * Unverified UDP checksums are the socket's to check: only a
		 * datagram the NIC vouched for, or one without a checksum
		 * (0, RFC 768), is taken here. Next header must be IP-in-IP,
		 * the only tunnelling granted inside UDP (§3.3).
		 */
		if (u.mip[1] != IPPROTO_IPIP ||
		    (u.udp.check != 0 &&
		    bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) < 0))
			return to_userspace(0);
		olen += UDP_HDR_LEN + MIP_HDR_LEN;
		encap = FP_ENCAP_UDP;
	} else
		encap = FP_ENCAP_IPIP;
	if (bpf_skb_load_bytes_relative(skb, olen, &ip, sizeof(ip),
	    BPF_HDR_START_NET) != 0 ||
	    ip.version != 4 || ip.ihl != 5 || ip.ttl == 0 ||
	    ip_checksum(&ip) != 0 ||
	    (ip.frag_off & bpf_htons(IP_MF_OFFSET)) != 0)
		return to_userspace(0);
	inner_len = bpf_ntohs(ip.tot_len);
	if (inner_len + olen != bpf_ntohs(outer.tot_len) ||
	    (encap == FP_ENCAP_UDP && bpf_ntohs(u.udp.len) !=
	    UDP_HDR_LEN + MIP_HDR_LEN + inner_len))
		return to_userspace(0);

	/*
	 * RFC 3024 §5.2: only from the care-of address of the source's
	 * binding; over UDP, from the address and port its registration
	 * came from (RFC 3519 §4.3), as the userspace path.
	 */
	if ((b = bpf_map_lookup_elem(&fp_bindings, &ip.saddr)) == NULL ||
	    !(b->flags & FP_F_REVERSE) || b->encap != encap ||
	    (encap == FP_ENCAP_UDP ? (b->peer != outer.saddr ||
	    b->peer_port != u.udp.source) : b->coa != outer.saddr))
		return to_userspace(0);
	if ((b->flags & FP_F_VPN_ONLY) &&
	    !vpn_traffic(skb, &ip, olen + sizeof(ip), 1, b->gateway,
	    BPF_HDR_START_NET))
		return to_userspace(0);

	if (skb->gso_size != 0 && inner_len > sizeof(ip))
		segs = (inner_len - sizeof(ip) + skb->gso_size - 1) /
		    skb->gso_size;
	/*
	 * The inner TCP segments keep their size: FIXED_GSO. (UDP GRO
	 * super-packets are refused by the helper: userspace then.)
	 */
	if (bpf_skb_adjust_room(skb, -(__s32)olen, BPF_ADJ_ROOM_MAC,
	    BPF_F_ADJ_ROOM_FIXED_GSO) != 0)
		return to_userspace(0);
	if ((c = counters(b->tenant_id)) != NULL) {
		c->rev_packets += segs;
		c->rev_bytes += inner_len;
	}
	return bpf_redirect(b->tun_ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
