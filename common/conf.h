/*
 * conf.h - mipha configuration: parsing and validation of mipha.conf and
 * the tenant files (libconfig syntax; keys in spec/interface.md and
 * mipha.conf(5)).
 *
 * Everything is parsed into freshly allocated structs, so the daemon can
 * parse a new configuration at reload and swap or merge it with the one
 * in use.  The loaders never print: every problem becomes one entry
 * "FILE:LINE: message" in a caller-provided struct conf_errors, and the
 * loaders go on to find all of them.  FILE is the path as opened (the -f
 * path as given, or tenants_dir joined with the file name), LINE the line
 * of the offending setting, and the message starts with the key's path
 * inside the file's top-level group, e.g. "mobile_nodes[1].spi" (list
 * indices count from 0).
 *
 * Entry points:
 *   conf_load()            main file + every tenant file + cross-checks
 *   conf_load_main()       main file only (ha settings, tenants_dir)
 *   conf_tenant_files()    the tenant files of tenants_dir, sorted
 *   tenant_conf_load()     one tenant file (per-tenant reload)
 *   conf_check_tenants()   duplicates/overlaps across a set of tenants
 * Free with conf_free()/tenant_conf_free(); both wipe keys with
 * OPENSSL_cleanse.
 */
#ifndef MIPHA_CONF_H
#define MIPHA_CONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"

/* Defaults of the optional keys (also documented in etc/mipha.conf). */
#define CONF_DEFAULT_PORT		434	/* RFC 5944 §2.1 */
#define CONF_DEFAULT_MAX_LIFETIME	1800
#define CONF_DEFAULT_REPLAY_WINDOW	7	/* RFC 5944 §5.7.1 */
#define CONF_DEFAULT_TENANTS_DIR	"tenants.d"
#define CONF_DEFAULT_MAX_BINDINGS	1
#define CONF_DEFAULT_TUN_PREFIX		"mip-"
/* Paths follow configure's --runstatedir and --localstatedir. */
#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif
#define CONF_DEFAULT_CONTROL_SOCKET	RUNSTATEDIR "/mipha/mipha.sock"
#define CONF_DEFAULT_STATE_DIR		LOCALSTATEDIR "/lib/mipha"

/* Limits. */
#define CONF_MAX_LIFETIME_MAX	65534	/* 65535 means infinity (§3.3) */
#define CONF_REPLAY_WINDOW_MAX	300
#define CONF_MAX_BINDINGS_MAX	16
#define CONF_SPI_MIN		256	/* 0-255 reserved, RFC 5944 §1.6 */
#define CONF_KEY_MIN		16	/* 128 bits, RFC 5944 §5.1 */
#define CONF_KEY_MAX		64	/* HMAC block size (RFC 2104 B) */
#define CONF_NAME_MAX		32	/* tenant name, characters */
#define CONF_NAI_MAX		255	/* NAI extension length is 8 bits */
#define CONF_IFNAMSIZ		16	/* IFNAMSIZ: 15 characters + NUL */
#define CONF_HOME_PREFIX_MIN	8	/* shortest home_network */
#define CONF_SOCKET_PATH_MAX	107	/* sizeof(sun_path) - 1 */
#define CONF_USER_MAX		32

enum conf_alg {
	CONF_ALG_HMAC_MD5,	/* RFC 5944 §5.1 default */
	CONF_ALG_KEYED_MD5,	/* RFC 2002 prefix+suffix */
	CONF_ALG_HMAC_SHA256,
};

enum conf_replay {
	CONF_REPLAY_TIMESTAMP,	/* RFC 5944 §5.7.1, the default */
	CONF_REPLAY_NONCE,	/* RFC 5944 §5.7.2 */
};

enum conf_policy {
	CONF_POLICY_VPN_ONLY,	/* only ESP/IKE to and from vpn_gateway */
	CONF_POLICY_OPEN,	/* whatever the tenant table routes */
};

enum conf_rtun {
	CONF_RTUN_ALLOWED,
	CONF_RTUN_REQUIRED,
	CONF_RTUN_DENIED,
};

/* Encapsulation bits of tenant_conf.encapsulations. */
#define CONF_ENCAP_IPIP		0x01	/* RFC 2003 */
#define CONF_ENCAP_GRE		0x02	/* RFC 2784 */
#define CONF_ENCAP_MINIMAL	0x04	/* RFC 2004 */
#define CONF_ENCAP_UDP		0x08	/* RFC 3519 */
#define CONF_ENCAP_ALL		0x0f

/* One mobility security association (RFC 5944 §1.6). */
struct conf_sa {
	uint32_t	 spi;
	enum conf_alg	 algorithm;
	uint8_t		 key[CONF_KEY_MAX];
	size_t		 keylen;
};

struct mn_conf {
	struct in_addr	 home_address;	/* INADDR_ANY: none, NAI only */
	char		*nai;		/* NULL: none */
	struct conf_sa	 sa;
	enum conf_replay replay;
	unsigned	 line;		/* of the node's group */
	unsigned	 home_address_line, nai_line, spi_line;
};

struct fa_conf {
	struct in_addr	 address;
	struct conf_sa	 sa;
	unsigned	 line, address_line;
};

struct tenant_conf {
	char		*file;		/* path as opened */
	char		 name[CONF_NAME_MAX + 1];
	uint32_t	 table;
	struct in_addr	 vpn_gateway;
	struct addr_prefix home_network;
	struct addr_prefix pool;
	bool		 has_pool;
	enum conf_policy policy;
	enum conf_rtun	 reverse_tunnel;
	unsigned	 encapsulations;	/* CONF_ENCAP_* bits */
	unsigned	 max_bindings;
	struct addr_prefix *internal_networks;
	size_t		 n_internal_networks;
	char		 home_interface[CONF_IFNAMSIZ];	/* "": none */
	char		 tun_name[CONF_IFNAMSIZ];
	struct mn_conf	*mobile_nodes;
	size_t		 n_mobile_nodes;
	struct fa_conf	*foreign_agents;
	size_t		 n_foreign_agents;
	/* Lines for messages of the cross-tenant checks. */
	unsigned	 line, name_line, table_line, vpn_gateway_line;
	unsigned	 home_network_line;
	unsigned	 tun_name_line;	/* name_line when defaulted */
	bool		 tun_name_default;
};

struct ha_conf {
	char		*file;		/* path as opened */
	struct in_addr	 address;
	uint16_t	 port;
	char		*control_socket;
	char		*state_dir;
	char		*user;		/* NULL: stay root */
	unsigned	 max_lifetime;
	unsigned	 replay_window;
	bool		 fastpath;	/* tc/eBPF fast path (default true) */
	char		*tenants_dir;	/* as configured */
	char		*tenants_path;	/* resolved against the main file */
	unsigned	 line, address_line, tenants_dir_line;
};

struct mipha_conf {
	struct ha_conf	 ha;
	struct tenant_conf **tenants;	/* owned; in file-name order */
	size_t		 ntenants;
};

/* The error list the loaders append to. */
struct conf_error {
	char		*file;
	unsigned	 line;		/* 0: the file as a whole */
	char		*msg;
	size_t		 rank, seq;	/* internal: ordering of the report */
};

struct conf_errors {
	struct conf_error *v;
	size_t		 n, cap;
	size_t		 rank;		/* internal */
	bool		 nomem;		/* an error could not be recorded */
};

void	conf_errors_init(struct conf_errors *);
void	conf_errors_free(struct conf_errors *);
void	conf_errors_add(struct conf_errors *, const char *file, unsigned line,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "FILE:LINE: message" ("FILE: message" when line is 0); snprintf-like. */
int	conf_error_fmt(const struct conf_error *, char *, size_t);
/* Writes every error, one per line. */
void	conf_errors_print(const struct conf_errors *, FILE *);

/*
 * All loaders return 0 when valid, -1 when not (with at least one error
 * appended, or errs->nomem set); on -1 nothing is returned in *out.
 */
int	conf_load(const char *path, struct mipha_conf **out,
	    struct conf_errors *);
int	conf_load_main(const char *path, struct mipha_conf **out,
	    struct conf_errors *);
int	conf_tenant_files(const struct ha_conf *, char ***paths, size_t *n,
	    struct conf_errors *);
void	conf_tenant_files_free(char **paths, size_t n);
int	tenant_conf_load(const char *path, struct tenant_conf **out,
	    struct conf_errors *);
/*
 * Checks a set of individually valid tenants against each other and the
 * HA address (ha may be NULL): unique names, tables, tun names, home
 * addresses and NAIs, home networks that do not overlap.  Errors are
 * reported on the later tenant of each pair, in array order.
 */
int	conf_check_tenants(const struct ha_conf *,
	    struct tenant_conf *const *, size_t, struct conf_errors *);
/* Appends t to conf->tenants (taking ownership); -1 if out of memory. */
int	conf_add_tenant(struct mipha_conf *, struct tenant_conf *);

void	conf_free(struct mipha_conf *);
void	tenant_conf_free(struct tenant_conf *);

/*
 * Key syntax: "0x" or "0X" then an even number of hex digits, or else the
 * string's own bytes.  CONF_KEY_OK or one of the errors.
 */
enum conf_key_err {
	CONF_KEY_OK = 0,
	CONF_KEY_EMPTY,		/* "" or "0x" */
	CONF_KEY_ODD,		/* odd number of hex digits */
	CONF_KEY_BADHEX,	/* *badpos: offset of the bad character */
	CONF_KEY_TOOLONG,	/* more than cap bytes */
};
enum conf_key_err conf_key_parse(const char *, uint8_t *, size_t cap,
	    size_t *len, size_t *badpos);

/* Names as written in the configuration (NULL for an unknown value). */
const char	*conf_alg_name(enum conf_alg);
const char	*conf_replay_name(enum conf_replay);
const char	*conf_policy_name(enum conf_policy);
const char	*conf_rtun_name(enum conf_rtun);
const char	*conf_encap_name(unsigned);	/* one CONF_ENCAP_* bit */

#endif /* MIPHA_CONF_H */
