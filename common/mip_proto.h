/*
 * mip_proto.h - Mobile IPv4 protocol numbers, one enum per RFC table.
 *
 * Every value carries the RFC and section that defines it; test_msg.c
 * checks each one against the RFC text.  The message codec lives in
 * mip_msg.h; mip_code_str() is implemented in mip_msg.c.
 */
#ifndef MIPHA_MIP_PROTO_H
#define MIPHA_MIP_PROTO_H

#include <stdint.h>

/* UDP port of Mobile IP control messages and RFC 3519 tunnel data (RFC 5944 §1.8). */
#define MIP_PORT			434

/* Message types sent to UDP port 434 (RFC 5944 §1.8, §6.1). */
enum mip_msg_type {
	MIP_MSG_RRQ		= 1,	/* Registration Request, RFC 5944 §3.3 */
	MIP_MSG_RRP		= 3,	/* Registration Reply, RFC 5944 §3.4 */
	MIP_MSG_TUNNEL_DATA	= 4,	/* MIP Tunnel Data, RFC 3519 §3.3, §8 */
	MIP_MSG_REVOCATION	= 7,	/* Registration Revocation, RFC 3543 §3.3, §7.1 */
	MIP_MSG_REVOCATION_ACK	= 15,	/* Revocation Acknowledgment, RFC 3543 §3.4, §7.1 */
};

/*
 * Registration Request flag bits, the octet after Type
 * (RFC 5944 §3.3: |S|B|D|M|G|r|T|x|).
 */
enum mip_rrq_flag {
	MIP_RRQ_F_S		= 0x80,	/* simultaneous bindings, RFC 5944 §3.3 */
	MIP_RRQ_F_B		= 0x40,	/* broadcast datagrams, RFC 5944 §3.3 */
	MIP_RRQ_F_D		= 0x20,	/* decapsulation by MN (co-located CoA), RFC 5944 §3.3 */
	MIP_RRQ_F_M		= 0x10,	/* minimal encapsulation, RFC 5944 §3.3 */
	MIP_RRQ_F_G		= 0x08,	/* GRE encapsulation, RFC 5944 §3.3 */
	MIP_RRQ_F_r		= 0x04,	/* sent as zero, ignored, RFC 5944 §3.3 */
	MIP_RRQ_F_T		= 0x02,	/* reverse tunnelling, RFC 5944 §3.3, RFC 3024 §3.2 */
	MIP_RRQ_F_x		= 0x01,	/* sent as zero, ignored, RFC 5944 §3.3 */
};

/* Lifetime values with a meaning of their own (RFC 5944 §3.3, §3.4). */
#define MIP_LIFETIME_DEREG		0	/* deregistration, RFC 5944 §3.3 */
#define MIP_LIFETIME_INFINITE		0xffff	/* infinity, RFC 5944 §3.3 */

/*
 * Registration Reply codes (RFC 5944 §3.4 and §6.4; 0-8 success,
 * 64-127 foreign agent, 128-192 home agent, 193-200 gateway FA).
 */
enum mip_reply_code {
	/* Registration successful, RFC 5944 §3.4. */
	MIP_CODE_ACCEPTED		= 0,	/* RFC 5944 §3.4 */
	MIP_CODE_ACCEPTED_NO_SIMUL	= 1,	/* no simultaneous bindings, RFC 5944 §3.4 */

	/* Denied by the foreign agent, RFC 5944 §3.4. */
	MIP_CODE_FA_UNSPECIFIED		= 64,	/* reason unspecified, RFC 5944 §3.4 */
	MIP_CODE_FA_PROHIBITED		= 65,	/* administratively prohibited, RFC 5944 §3.4 */
	MIP_CODE_FA_RESOURCES		= 66,	/* insufficient resources, RFC 5944 §3.4 */
	MIP_CODE_FA_MN_AUTH		= 67,	/* mobile node failed authentication, RFC 5944 §3.4 */
	MIP_CODE_FA_HA_AUTH		= 68,	/* home agent failed authentication, RFC 5944 §3.4 */
	MIP_CODE_FA_LIFETIME		= 69,	/* requested Lifetime too long, RFC 5944 §3.4 */
	MIP_CODE_FA_BAD_REQUEST		= 70,	/* poorly formed Request, RFC 5944 §3.4 */
	MIP_CODE_FA_BAD_REPLY		= 71,	/* poorly formed Reply, RFC 5944 §3.4 */
	MIP_CODE_FA_ENCAP		= 72,	/* requested encapsulation unavailable, RFC 5944 §3.4 */
	MIP_CODE_FA_VJ			= 73,	/* reserved and unavailable, RFC 5944 §3.4 */
	MIP_CODE_FA_RT_UNAVAIL		= 74,	/* requested reverse tunnel unavailable, RFC 3024 §3.4 */
	MIP_CODE_FA_RT_MANDATORY	= 75,	/* reverse tunnel mandatory, 'T' not set, RFC 3024 §3.4 */
	MIP_CODE_FA_TOO_DISTANT		= 76,	/* mobile node too distant, RFC 3024 §3.4 */
	MIP_CODE_FA_BAD_COA		= 77,	/* invalid care-of address, RFC 5944 §3.4 */
	MIP_CODE_FA_TIMEOUT		= 78,	/* registration timeout, RFC 5944 §3.4 */
	MIP_CODE_FA_DELIVERY_STYLE	= 79,	/* delivery style not supported, RFC 3024 §3.4, §7 */
	MIP_CODE_FA_HOME_NET_UNREACH	= 80,	/* home network unreachable (ICMP), RFC 5944 §3.4 */
	MIP_CODE_FA_HA_HOST_UNREACH	= 81,	/* home agent host unreachable (ICMP), RFC 5944 §3.4 */
	MIP_CODE_FA_HA_PORT_UNREACH	= 82,	/* home agent port unreachable (ICMP), RFC 5944 §3.4 */
	MIP_CODE_FA_HA_UNREACH		= 88,	/* home agent unreachable (other ICMP), RFC 5944 §3.4 */
	MIP_CODE_FA_NONZERO_HA_REQD	= 90,	/* NONZERO-HA-REQD, RFC 4433 §7 */
	MIP_CODE_FA_NONZERO_HOMEADDR_REQD = 96,	/* NONZERO_HOMEADDR_REQD, RFC 2794 §5 */
	MIP_CODE_FA_MISSING_NAI		= 97,	/* MISSING_NAI, RFC 2794 §5 */
	MIP_CODE_FA_MISSING_HOME_AGENT	= 98,	/* MISSING_HOME_AGENT, RFC 2794 §5 */
	MIP_CODE_FA_MISSING_HOMEADDR	= 99,	/* MISSING_HOMEADDR, RFC 2794 §5 */
	MIP_CODE_FA_UNKNOWN_CHALLENGE	= 104,	/* unknown_challenge, RFC 4721 §10 */
	MIP_CODE_FA_MISSING_CHALLENGE	= 105,	/* missing_challenge, RFC 4721 §10 */
	MIP_CODE_FA_STALE_CHALLENGE	= 106,	/* stale_challenge, RFC 4721 §10 */
	MIP_CODE_FA_MISSING_MN_FA	= 107,	/* MISSING_MN_FA, RFC 3957 §7 */
	MIP_CODE_FA_BAD_AAA_AUTH	= 108,	/* fa_bad_aaa_auth, RFC 4721 §10 */
	MIP_CODE_FA_HA_WRONG_CHALLENGE	= 109,	/* ha_wrong_challenge, RFC 4721 §10 */
	MIP_CODE_FA_INVALID_HA		= 194,	/* Invalid Home Agent Address, RFC 5944 §3.4, §6 */

	/* Denied by the home agent, RFC 5944 §3.4. */
	MIP_CODE_HA_UNSPECIFIED		= 128,	/* reason unspecified, RFC 5944 §3.4 */
	MIP_CODE_HA_PROHIBITED		= 129,	/* administratively prohibited, RFC 5944 §3.4 */
	MIP_CODE_HA_RESOURCES		= 130,	/* insufficient resources, RFC 5944 §3.4 */
	MIP_CODE_HA_MN_AUTH		= 131,	/* mobile node failed authentication, RFC 5944 §3.4 */
	MIP_CODE_HA_FA_AUTH		= 132,	/* foreign agent failed authentication, RFC 5944 §3.4 */
	MIP_CODE_HA_ID_MISMATCH		= 133,	/* registration Identification mismatch, RFC 5944 §3.4 */
	MIP_CODE_HA_BAD_REQUEST		= 134,	/* poorly formed Request, RFC 5944 §3.4 */
	MIP_CODE_HA_TOO_MANY_BINDINGS	= 135,	/* too many simultaneous bindings, RFC 5944 §3.4 */
	MIP_CODE_HA_UNKNOWN_HA		= 136,	/* unknown home agent address, RFC 5944 §3.4 */
	MIP_CODE_HA_RT_UNAVAIL		= 137,	/* requested reverse tunnel unavailable, RFC 3024 §3.4 */
	MIP_CODE_HA_RT_MANDATORY	= 138,	/* reverse tunnel mandatory, 'T' not set, RFC 3024 §3.4 */
	MIP_CODE_HA_ENCAP		= 139,	/* requested encapsulation unavailable, RFC 3024 §3.4 */
	MIP_CODE_HA_UDP_ENCAP_UNAVAIL	= 142,	/* ERROR_HA_UDP_ENCAP_UNAVAIL, RFC 3519 §3.5, §8 */
	MIP_CODE_HA_REDIRECT		= 143,	/* REDIRECT-HA-REQ, RFC 4433 §7 */
	MIP_CODE_HA_BAD_AAA_AUTH	= 144,	/* ha_bad_aaa_auth, RFC 4721 §10 */
};

/* True for the success codes 0-8 (RFC 5944 §6.4). */
#define MIP_CODE_IS_SUCCESS(c)		((unsigned)(c) <= 8)

/*
 * Extension types of registration messages (RFC 5944 §1.8, §6.3).
 * 0-127 must be understood or the message is silently discarded;
 * 128-255 are skipped when not understood (RFC 5944 §1.8).
 */
enum mip_ext_type {
	MIP_EXT_PAD		= 0,	/* one-byte padding, no length, RFC 5944 §1.8, §2.1.3 */
	MIP_EXT_MN_HA_AUTH	= 32,	/* Mobile-Home Authentication, RFC 5944 §3.5.2 */
	MIP_EXT_MN_FA_AUTH	= 33,	/* Mobile-Foreign Authentication, RFC 5944 §3.5.3 */
	MIP_EXT_FA_HA_AUTH	= 34,	/* Foreign-Home Authentication, RFC 5944 §3.5.4 */
	MIP_EXT_GEN_AUTH	= 36,	/* Generalized MIP Authentication (long format), RFC 4721 §5 */
	MIP_EXT_MN_FA_KEYGEN_REQ = 40,	/* MN-FA KeyGen Request (long format), RFC 3957 §6.1, §8 */
	MIP_EXT_MN_FA_KEYGEN_REP = 41,	/* MN-FA KeyGen Reply (long format), RFC 3957 §6.2, §8 */
	MIP_EXT_MN_HA_KEYGEN_REQ = 42,	/* MN-HA KeyGen Request (long format), RFC 3957 §6.3, §8 */
	MIP_EXT_MN_HA_KEYGEN_REP = 43,	/* MN-HA KeyGen Reply (long format), RFC 3957 §6.4, §8 */
	MIP_EXT_UDP_TUNNEL_REPLY = 44,	/* UDP Tunnel Reply (short format), RFC 3519 §3.2, §8 */
	MIP_EXT_ENCAP_DELIVERY	= 130,	/* Encapsulating Delivery Style, RFC 3024 §3.3, §7 */
	MIP_EXT_NAI		= 131,	/* Mobile Node NAI, RFC 2794 §2, §6 */
	MIP_EXT_MN_FA_CHALLENGE	= 132,	/* Mobile-Foreign Challenge, RFC 4721 §4, §11 */
	MIP_EXT_REVOCATION	= 137,	/* Revocation Support, RFC 3543 §3.2, §7.2 */
	MIP_EXT_DYN_HA		= 139,	/* Dynamic HA Address (long format), RFC 4433 §3.4 */
	MIP_EXT_UDP_TUNNEL_REQ	= 144,	/* UDP Tunnel Request (short format), RFC 3519 §3.1, §8 */
	MIP_EXT_MSG_STRING	= 145,	/* Message String (short format), RFC 4917 §3, §6 */
};

/* Extensions 128-255 are skippable (RFC 5944 §1.8). */
#define MIP_EXT_SKIPPABLE(t)		((unsigned)(t) >= 128)

/* Subtypes of the Generalized Authentication extension (RFC 4721 §5, §11). */
enum mip_gen_auth_subtype {
	MIP_GEN_AUTH_MN_AAA	= 1,	/* Mobile-AAA Authentication, RFC 4721 §5, §6 */
};

/* Subtypes of the UDP Tunnel Request/Reply extensions (RFC 3519 §3.1, §3.2, §8). */
enum mip_udp_tunnel_subtype {
	MIP_UDP_TUNNEL_SUBTYPE	= 0,	/* the only one defined, RFC 3519 §3.1, §3.2 */
};

/* UDP Tunnel Request flags, the octet after Reserved 1 (RFC 3519 §3.1: |F|R| Reserved 2|). */
enum mip_udp_tunnel_req_flag {
	MIP_UDP_TUNNEL_REQ_F	= 0x80,	/* force tunnelling, RFC 3519 §3.1.1 */
	MIP_UDP_TUNNEL_REQ_R	= 0x40,	/* registration through FA required, RFC 3519 §3.1.2 */
};

/* UDP Tunnel Reply flags, the 16 bits after Reply Code (RFC 3519 §3.2: |F| Reserved|). */
#define MIP_UDP_TUNNEL_REP_F		0x8000	/* tunnelling forced, RFC 3519 §3.2 */

/* Encapsulation field of the UDP Tunnel Request = IP protocol numbers (RFC 3519 §3.1.4). */
enum mip_udp_tunnel_encap {
	MIP_UDP_ENCAP_DEFAULT	= 0,	/* from the M and G bits, RFC 3519 §3.1.4 */
	MIP_UDP_ENCAP_IPIP	= 4,	/* IP-in-UDP, RFC 3519 §3.1.4 (RFC 2003) */
	MIP_UDP_ENCAP_GRE	= 47,	/* GRE-in-UDP, RFC 3519 §3.1.4 (RFC 2784) */
	MIP_UDP_ENCAP_MINIMAL	= 55,	/* minimal encapsulation, RFC 3519 §3.1.4 (RFC 2004) */
};

/* Reply Code of the UDP Tunnel Reply extension (RFC 3519 §3.2.1): 0-63 assent. */
enum mip_udp_tunnel_reply_code {
	MIP_UDP_TUNNEL_ACCEPT	= 0,	/* will do tunnelling, RFC 3519 §3.2.1 */
	MIP_UDP_TUNNEL_DECLINED	= 64,	/* declined, reason unspecified, RFC 3519 §3.2.1 */
};

/* Revocation Support extension flags, the 16 bits after Length (RFC 3543 §3.2). */
#define MIP_REVOCATION_I		0x8000	/* 'I' bit supported, RFC 3543 §3.2 */

/* Subtypes of the Message String extension (RFC 4917 §3, §6). */
enum mip_msg_string_subtype {
	MIP_MSG_STRING_FROM_HA	= 1,	/* from the home agent, RFC 4917 §3 */
	MIP_MSG_STRING_FROM_FA	= 2,	/* from the foreign agent, RFC 4917 §3 */
};

/* Subtypes of the Dynamic HA extension (RFC 4433 §3.4). */
enum mip_dyn_ha_subtype {
	MIP_DYN_HA_REQUESTED	= 1,	/* Requested HA, RFC 4433 §3.4.1 */
	MIP_DYN_HA_REDIRECTED	= 2,	/* Redirected HA, RFC 4433 §3.4.2 */
};

/* Reserved SPI values (RFC 4721 §7, §9). */
enum mip_spi_reserved {
	MIP_SPI_RESERVED_MAX	= 255,	/* 0-255 reserved, RFC 4721 §7 */
	MIP_SPI_CHAP		= 2,	/* CHAP_SPI, RFC 4721 §8, §9 */
};

/* Human-readable text of a Registration Reply code; never NULL. */
const char	*mip_code_str(int code);

#endif /* MIPHA_MIP_PROTO_H */
