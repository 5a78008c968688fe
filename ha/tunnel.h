/*
 * tunnel.h - the data plane: forward tunnelling (RFC 5944 §4.2.3, RFC 2003,
 * RFC 2004, RFC 2784/2890), reverse tunnelling (RFC 3024) and each
 * tenant's policy between its mobile nodes and its VPN gateway
 * (RFC 5265, RFC 4093 scenarios 2.2/2.4).
 *
 * Packets for home addresses reach mipha through the tenant's TUN device;
 * they are encapsulated for every care-of address of the node's bindings
 * and sent on a raw socket. Tunnelled packets from care-of addresses arrive
 * on raw sockets (one per tunnel protocol, open for the daemon's lifetime
 * so the kernel never answers them with protocol-unreachable), are checked
 * against the binding table and the tenant's policy, decapsulated and
 * written to the tenant's TUN device, whose rule routes them along the
 * tenant's table only.
 */
#ifndef MIPHA_TUNNEL_H
#define MIPHA_TUNNEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct binding_table;
struct tenant_set;

/* Why the data plane dropped a packet (miphactl(8) lists these names). */
enum dp_drop {
	DPD_NO_BINDING,		/* forward: no binding for the home address */
	DPD_WRONG_COA,		/* reverse: outer source is not the node's CoA */
	DPD_SPOOFED_SOURCE,	/* reverse: inner source is no bound home address */
	DPD_POLICY,		/* vpn-only: not ESP/IKE to or from the gateway */
	DPD_REVERSE_NOT_ALLOWED,/* reverse: T not granted for this binding */
	DPD_DECAP_MALFORMED,	/* a header failed validation */
	DPD_TTL_EXCEEDED,	/* inner TTL ran out (ICMP time exceeded sent) */
	DPD_TOO_BIG,		/* DF set and over the tunnel MTU (ICMP sent) */
	DPD_WRONG_ENCAP,	/* reverse: not the binding's encapsulation */
	DPD_NOT_FOR_US,		/* outer destination is not the HA address */
	DPD_NO_TENANT,		/* inner source in no tenant's home network */
	DPD_SEND_FAILED,	/* the kernel refused the datagram */
	DPD_ENCAP_UNAVAILABLE,	/* binding encapsulation this path cannot send */
	DPD_MAX
};

const char *dp_drop_name(enum dp_drop);

struct dp_counters {
	uint64_t	 tunneled;		/* encapsulated datagrams sent */
	uint64_t	 reverse_tunneled;	/* decapsulated datagrams delivered */
	uint64_t	 icmp_sent;		/* errors we originated or relayed */
	uint64_t	 icmp_rate_limited;
	uint64_t	 dropped[DPD_MAX];
};

struct tunnel;

/*
 * Open the raw tunnel sockets on `ha_addr` and start receiving. mtu is
 * the largest outer datagram towards care-of addresses.
 */
struct tunnel *tunnel_new(struct ev_loop *, struct binding_table *,
    struct in_addr ha_addr, uint16_t mtu, char *err, size_t errlen);
void	tunnel_free(struct tunnel *);
void	tunnel_set_tenants(struct tunnel *, struct tenant_set *);
/* Hand the tunnel the TUN device of a tenant (it closes the fd on detach). */
int	tunnel_attach(struct tunnel *, uint32_t tenant_id, int tun_fd);
void	tunnel_detach(struct tunnel *, uint32_t tenant_id);
const struct dp_counters *tunnel_counters(const struct tunnel *);
/* Per-tenant counters (NULL when the tenant has no device). */
const struct dp_counters *tunnel_tenant_counters(const struct tunnel *,
    uint32_t tenant_id);

/*
 * RFC 3519 UDP tunnelling shares the registration socket (port 434):
 * outbound tunnel data is sent on `fd`, inbound MIP Tunnel Data messages
 * are handed to tunnel_udp_input() by the registration service.
 */
void	tunnel_set_udp_socket(struct tunnel *, int fd, uint16_t port);
void	tunnel_udp_input(struct tunnel *, uint8_t *buf, size_t len,
	    const struct sockaddr_in *peer);

/* Test seams: one packet in, counted, without the event loop. */
void	tunnel_forward(struct tunnel *, uint32_t tenant_id, const uint8_t *pkt,
	    size_t len);
void	tunnel_reverse(struct tunnel *, uint8_t *pkt, size_t len);
/* Send what forward() queued. */
void	tunnel_flush(struct tunnel *);

#endif /* MIPHA_TUNNEL_H */
