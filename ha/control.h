/*
 * control.h - the daemon's control socket (server side of the protocol
 * in common/ctl_proto.h).
 *
 * A UNIX stream socket, mode 0660, in a directory created 0750 if
 * missing.  Each connection carries one request; the server reads the
 * line (with a timeout), dispatches it to the handler registered for
 * its command, and writes the reply from the libev loop as the client
 * reads it, so a large body never blocks the daemon.
 */
#ifndef MIPHA_CONTROL_H
#define MIPHA_CONTROL_H

#include <stddef.h>

#include "ctl_proto.h"
#include "emit.h"

struct ev_loop;
struct control;

#define CONTROL_SOCKET_MODE	0660
#define CONTROL_DIR_MODE	0750
#define CONTROL_MAX_CLIENTS	8	/* more wait in the listen backlog */
#define CONTROL_REQUEST_TIMEOUT	5.0	/* seconds to send the request */
#define CONTROL_IDLE_TIMEOUT	30.0	/* seconds a reply may make no progress */
#define CONTROL_MEM_MAX		((size_t)1 << 30)	/* reply bytes queued, all clients */

/*
 * Handle one request: describe the result into out and return 0 (the
 * client gets OK and the body), or write a message into err and return
 * -1 (the client gets ERR and the message).  Handlers run on the loop
 * and must not call control_close().
 */
typedef int control_handler(void *arg, const struct ctl_request *req,
    struct emit *out, char *err, size_t errlen);

/*
 * Create and listen on the socket at path.  A socket file left there by
 * a dead daemon is removed; one a daemon still answers on, or a file
 * that is not a socket, is an error.  Returns NULL with a message.
 */
struct control	*control_open(struct ev_loop *loop, const char *path,
		    char *err, size_t errlen);

/* Close every connection and the socket and remove the socket file. */
void		 control_close(struct control *ctl);

/*
 * Register fn for cmd on ctl (NULL fn to unregister); a command without
 * a handler is answered with ERR.
 */
void		 control_set_handler(struct control *ctl, enum ctl_cmd cmd,
		    control_handler *fn, void *arg);

/* Override CONTROL_REQUEST_TIMEOUT and CONTROL_IDLE_TIMEOUT (tests). */
void		 control_set_timeouts(struct control *ctl, double request,
		    double idle);

#endif /* MIPHA_CONTROL_H */
