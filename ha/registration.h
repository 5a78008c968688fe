/*
 * registration.h - the home agent's registration service (RFC 5944 §3.8).
 *
 * Owns UDP port 434 on the HA address: receives Registration Requests in
 * batches, runs the validity checks of RFC 5944 §3.8.2.1 in order, updates
 * the binding table, makes the batch durable (group commit through the
 * commit hook) and only then sends the replies (§3.8.3).
 */
#ifndef MIPHA_REGISTRATION_H
#define MIPHA_REGISTRATION_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <ev.h>

#include "tenant.h"
#include "udpio.h"

struct binding_table;

struct reg_settings {
	struct in_addr	 ha_addr;
	uint16_t	 port;
	uint16_t	 max_lifetime;		/* seconds */
	uint32_t	 replay_window;		/* seconds, timestamps */
};

/* Per-source limit on denial replies, so we cannot be used as a reflector. */
#define REG_RL_SLOTS	4096
struct reg_rl_slot {
	uint32_t	 addr;
	float		 tokens;
	double		 last;
};

struct reg_service {
	struct ev_loop		*loop;
	struct binding_table	*bindings;
	struct tenant_set	*tenants;
	struct reg_settings	 set;
	struct udpio		 io;
	ev_io			 io_w;
	bool			 io_open;
	/* Group commit: called once per batch before replies leave. */
	int			(*commit)(void *arg);
	void			*commit_arg;
	/* RFC 3519 MIP Tunnel Data arriving on port 434 goes here. */
	void			(*tunnel_data)(void *arg, uint8_t *buf, size_t len,
				    const struct sockaddr_in *peer);
	void			*tunnel_arg;
	/*
	 * Tenants whose home network is a real link (RFC 5944 §3.8.3.1,
	 * §4.6): the link's interface index (0: none), and the news that a
	 * node deregistered from it.
	 */
	int			(*home_link)(void *arg, uint32_t tenant_id);
	void			(*came_home)(void *arg, uint32_t tenant_id,
				    struct in_addr hoa);
	void			*home_arg;
	struct reg_counters	 counters;	/* all tenants together */
	struct reg_rl_slot	*rl;		/* REG_RL_SLOTS */
	uint64_t		 batches;
	uint64_t		 requests;
};

void	reg_init(struct reg_service *, struct ev_loop *, struct binding_table *,
	    const struct reg_settings *);
/* Open UDP port 434 (or set.port) on the HA address and start receiving. */
int	reg_open(struct reg_service *, char *err, size_t errlen);
void	reg_close(struct reg_service *);
void	reg_free(struct reg_service *);	/* close, and free what reg_init took */
void	reg_set_tenants(struct reg_service *, struct tenant_set *);
void	reg_set_settings(struct reg_service *, const struct reg_settings *);
void	reg_set_commit(struct reg_service *, int (*fn)(void *), void *arg);
void	reg_set_tunnel_data(struct reg_service *, void (*fn)(void *, uint8_t *,
	    size_t, const struct sockaddr_in *), void *arg);

/*
 * Process one request that arrived from `src` at wall-clock time `now`.
 * The reply (if any) is written to out and its length returned; 0 means
 * the request was silently discarded (and counted). The test seam: no I/O.
 */
void	reg_set_home_link(struct reg_service *,
	    int (*home_link)(void *, uint32_t),
	    void (*came_home)(void *, uint32_t, struct in_addr), void *arg);

/*
 * One request from `src`: the reply (0: none) is written to out; *oif (may
 * be NULL) is the interface it must leave by, 0 for the routed way.
 */
size_t	reg_handle(struct reg_service *, const uint8_t *msg, size_t len,
	    const struct sockaddr_in *src, const struct timespec *now,
	    uint8_t *out, size_t cap, int *oif);

#endif /* MIPHA_REGISTRATION_H */
