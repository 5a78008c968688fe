/*
 * fastpath_maps.h - what mipha's userspace and its tc/eBPF fast path
 * (fastpath.bpf.c) share: the layout of the maps between them.
 *
 * Compiled twice, for the host and for the BPF target, so it uses only the
 * fixed-width types of <linux/types.h>. Addresses are kept in network byte
 * order, as they sit in packets, so the programs compare without swapping.
 */
#ifndef MIPHA_FASTPATH_MAPS_H
#define MIPHA_FASTPATH_MAPS_H

#include <linux/types.h>

/* fp_binding.encap */
#define FP_ENCAP_IPIP	1	/* RFC 2003 */
#define FP_ENCAP_GRE	2	/* RFC 2784, no key, checksum or sequence */
#define FP_ENCAP_UDP	3	/* RFC 3519 IP-in-UDP, to the NAT's mapping */

/* fp_binding.flags */
#define FP_F_REVERSE	0x01	/* reverse tunnelling granted (RFC 3024) */
#define FP_F_VPN_ONLY	0x02	/* tenant policy "vpn-only" */

/*
 * One entry per home address that the fast path may carry: a node with
 * exactly one care-of address, reached by IP-in-IP, plain GRE or RFC 3519
 * IP-in-UDP (datagrams that need no segmentation only). Home
 * networks of tenants never overlap, so the home address alone is the key.
 * Every other case has no entry and stays with the userspace data plane.
 */
struct fp_binding {
	__u32	coa;		/* care-of address */
	__u32	gateway;	/* the tenant's VPN gateway */
	__u32	tenant_id;	/* key of the tenant's counters */
	__u32	tun_ifindex;	/* the tenant's TUN device */
	__u32	peer;		/* UDP: where the registration came from */
	__u16	peer_port;	/* UDP: its source port */
	__u16	mtu;		/* largest outer datagram towards the CoA */
	__u8	encap;		/* FP_ENCAP_* */
	__u8	flags;		/* FP_F_* */
	__u16	reserved;
};

/* fp_config[0]: the home agent's own settings. */
struct fp_config {
	__u32	ha_addr;	/* tunnel endpoint: outer source / destination */
	__u16	ha_port;	/* registration port: RFC 3519 tunnels */
	__u16	reserved;
};

/*
 * Per tenant and CPU (key: tenant id). Key 0 counts what the programs
 * handed to the userspace path instead (no tenant is known for it then).
 */
struct fp_counters {
	__u64	fwd_packets;	/* encapsulated, on the wire (segments) */
	__u64	fwd_bytes;	/* inner octets */
	__u64	rev_packets;	/* decapsulated into the tenant's device */
	__u64	rev_bytes;
	__u64	fwd_slow;	/* looked at, left to userspace */
	__u64	rev_slow;
};

/* Where the programs sit (tc, cls_bpf direct-action) and under which id. */
#define FP_TC_HANDLE	0x4d49	/* "MI" */
#define FP_TC_PRIORITY	0x4d48

#endif /* MIPHA_FASTPATH_MAPS_H */
