/*
 * mipha.h - the daemon's top-level state, shared by the entry point
 * (mipha.c: start-up, signals, reload, shutdown) and the control command
 * handlers (status.c). Modules below this (registration, binding, journal,
 * tenant, control) do not see it.
 */
#ifndef MIPHA_MIPHA_H
#define MIPHA_MIPHA_H

#include <stdbool.h>

#include <ev.h>

#include "binding.h"
#include "registration.h"
#include "tenant.h"

struct mipha_conf;
struct journal;
struct control;
struct tunnel;
struct fastpath;
struct netsetup;

struct mipha {
	struct ev_loop		*loop;
	const char		*conf_path;
	struct mipha_conf	*conf;
	struct tenant_set	*tenants;
	struct binding_table	*bindings;
	struct reg_service	 reg;
	struct journal		*journal;
	struct control		*control;
	struct tunnel		*tunnel;
	struct fastpath		*fastpath;	/* NULL: userspace path only */
	struct netsetup		*netsetup;	/* NULL until installed */
	int64_t			 started;	/* wall clock */
	uint64_t		 reloads;
	uint64_t		 reload_failures;
};

/* Re-read the configuration; msg gets a summary (errors, what changed). */
int	mipha_reload(struct mipha *, char *msg, size_t msglen);
/* Register the control command handlers. */
void	status_register(struct mipha *);

#endif /* MIPHA_MIPHA_H */
