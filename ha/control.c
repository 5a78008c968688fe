/*
 * control.c - the control socket server (protocol: common/ctl_proto.h).
 *
 * Owns the listening UNIX socket and its connections.  Everything runs
 * on the daemon's libev loop: a connection reads its request line under
 * a timeout, the registered handler fills an emitter, and the reply is
 * written by an ev_io write watcher as the client drains the socket,
 * freeing the emitter's chunks as they go out.  Client input never
 * crashes the daemon: every request is parsed by ctl_request_parse()
 * and anything it rejects is answered with ERR.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "control.h"

#define CONTROL_BACKLOG		16
#define ACCEPT_RETRY		1.0	/* seconds paused after EMFILE */
#define DRAIN_MAX		65536	/* unread input discarded at close */
#define TRIM_AFTER		((size_t)16 << 20)	/* reply bytes */

#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))

struct conn {
	LIST_ENTRY(conn) entry;
	struct control	*ctl;
	int		 fd;
	ev_io		 io;		/* read the request, then write */
	ev_timer	 timer;		/* request timeout, then idle timeout */
	bool		 writing;
	char		 req[CTL_LINE_MAX];
	size_t		 reqlen;
	char		 status[CTL_STATUS_MAX + 1];
	size_t		 statuslen, statusoff;
	struct emit	*body;		/* NULL for ERR */
	size_t		 bodylen;	/* bytes the handler produced */
};

struct control {
	struct ev_loop	*loop;
	char		*path;
	int		 fd;
	dev_t		 dev;		/* of our socket file, to unlink */
	ino_t		 ino;		/* only ours at close */
	ev_io		 listen;
	ev_timer	 retry;		/* accepting paused (out of fds) */
	bool		 paused;
	LIST_HEAD(, conn) conns;
	int		 nconns;
	double		 req_timeout, idle_timeout;
	struct {
		control_handler	*fn;
		void		*arg;
	}		 handlers[CTL_CMD_MAX];
};

static void	conn_free(struct conn *, bool);

void
control_set_handler(struct control *ctl, enum ctl_cmd cmd,
    control_handler *fn, void *arg)
{
	if (ctl == NULL || cmd <= CTL_NONE || cmd >= CTL_CMD_MAX)
		return;
	ctl->handlers[cmd].fn = fn;
	ctl->handlers[cmd].arg = arg;
}

void
control_set_timeouts(struct control *ctl, double request, double idle)
{
	ctl->req_timeout = request;
	ctl->idle_timeout = idle;
}

/* Listen while there is room for another client and fds to spare. */
static void
accept_update(struct control *ctl)
{
	if (ctl->nconns < CONTROL_MAX_CLIENTS && !ctl->paused)
		ev_io_start(ctl->loop, &ctl->listen);
	else
		ev_io_stop(ctl->loop, &ctl->listen);
}

/* Reply bytes queued on all connections. */
static size_t
queued(const struct control *ctl)
{
	const struct conn *c;
	size_t	 n = 0;

	LIST_FOREACH(c, &ctl->conns, entry)
		if (c->body != NULL)
			n += emit_pending(c->body);
	return n;
}

/* Switch c to writing the status line and body. */
static void
conn_reply(struct conn *c, const char *errmsg)
{
	struct control *ctl = c->ctl;

	if (errmsg != NULL) {
		emit_free(c->body);
		c->body = NULL;
	}
	c->statuslen = ctl_status_encode(c->status, sizeof(c->status),
	    errmsg);
	c->statusoff = 0;
	c->writing = true;
	ev_io_stop(ctl->loop, &c->io);
	ev_io_set(&c->io, c->fd, EV_WRITE);
	ev_io_start(ctl->loop, &c->io);
	c->timer.repeat = ctl->idle_timeout;
	ev_timer_again(ctl->loop, &c->timer);
}

static void
conn_dispatch(struct conn *c, size_t len)
{
	struct control *ctl = c->ctl;
	struct ctl_request req;
	const struct ctl_cmd_info *ci;
	char	 err[CTL_ERR_MAX], msg[CTL_ERR_MAX + 64];
	size_t	 q, limit;
	int	 rc;

	err[0] = '\0';
	if (ctl_request_parse(c->req, len, &req, err, sizeof(err)) == -1) {
		conn_reply(c, err);
		return;
	}
	if (ctl->handlers[req.cmd].fn == NULL) {
		ci = ctl_cmd_info(req.cmd);
		snprintf(msg, sizeof(msg), "'%s' is not available",
		    ci != NULL ? ci->words : "?");
		conn_reply(c, msg);
		return;
	}
	/* Cap what all clients together may hold in queued replies. */
	if ((q = queued(ctl)) >= CONTROL_MEM_MAX) {
		conn_reply(c, "busy: too much output queued, try again");
		return;
	}
	if ((c->body = emit_new(req.format)) == NULL) {
		conn_reply(c, "out of memory");
		return;
	}
	limit = CONTROL_MEM_MAX - q;
	emit_set_limit(c->body, limit < EMIT_LIMIT_DEFAULT ? limit :
	    EMIT_LIMIT_DEFAULT);

	rc = ctl->handlers[req.cmd].fn(ctl->handlers[req.cmd].arg, &req,
	    c->body, err, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	c->bodylen = emit_pending(c->body);
	/* A big reply takes a while: timers armed from now on need it. */
	ev_now_update(ctl->loop);
	if (rc != 0) {
		conn_reply(c, err[0] != '\0' ? err : "command failed");
		return;
	}
	if (emit_finish(c->body) == -1) {
		snprintf(msg, sizeof(msg), "cannot produce the reply: %s",
		    emit_error(c->body));
		conn_reply(c, msg);
		return;
	}
	conn_reply(c, NULL);
}

/*
 * Read what the client sent.  Returns 1 once the request is complete
 * (c is then writing its reply), 0 if more is needed, -1 if c is gone.
 */
static int
conn_read(struct conn *c)
{
	char	*nl;
	ssize_t	 n;

	for (;;) {
		n = read(c->fd, c->req + c->reqlen, sizeof(c->req) - c->reqlen);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			conn_free(c, false);
			return -1;
		}
		if (n == 0) {
			/* A bare connect (another daemon's liveness check). */
			if (c->reqlen == 0) {
				conn_free(c, false);
				return -1;
			}
			conn_reply(c, "incomplete request (no newline)");
			return 1;
		}
		nl = memchr(c->req + c->reqlen, '\n', (size_t)n);
		c->reqlen += (size_t)n;
		if (nl != NULL) {
			conn_dispatch(c, (size_t)(nl - c->req) + 1);
			return 1;
		}
		if (c->reqlen == sizeof(c->req)) {
			char msg[64];

			snprintf(msg, sizeof(msg), "request longer than %d "
			    "bytes", CTL_LINE_MAX);
			conn_reply(c, msg);
			return 1;
		}
	}
}

/*
 * Write as much of the reply as the socket takes.  Returns 1 after some
 * progress, 0 if the socket is full, -1 when c is gone (done or failed).
 */
static int
conn_write(struct conn *c)
{
	const char *p;
	size_t	 len;
	ssize_t	 n;
	int	 progress = 0;

	for (;;) {
		if (c->statusoff < c->statuslen) {
			p = c->status + c->statusoff;
			len = c->statuslen - c->statusoff;
		} else if (c->body == NULL ||
		    (p = emit_peek(c->body, &len)) == NULL) {
			conn_free(c, true);	/* all sent */
			return -1;
		}
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return progress;
			conn_free(c, false);	/* client went away */
			return -1;
		}
		progress = 1;
		if (c->statusoff < c->statuslen)
			c->statusoff += (size_t)n;
		else
			emit_consume(c->body, (size_t)n);
	}
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, io);

	(void)revents;
	if (conn_write(c) == 1)
		ev_timer_again(loop, &c->timer);
}

static void
conn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = container_of(w, struct conn, io);

	if (c->writing)
		conn_write_cb(loop, w, revents);
	else
		(void)conn_read(c);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, timer);

	/*
	 * The loop may have been busy (a long handler) and libev runs
	 * expired timers before pending I/O, so the client may not be at
	 * fault: look at its socket before giving up on it.
	 */
	(void)revents;
	if (!c->writing) {
		if (conn_read(c) == 0)
			conn_reply(c, "timeout waiting for the request");
		return;
	}
	switch (conn_write(c)) {
	case 1:
		ev_timer_again(loop, &c->timer);
		break;
	case 0:
		conn_free(c, false);	/* the client stopped reading */
		break;
	default:
		break;			/* done, c is gone */
	}
}

static void
conn_free(struct conn *c, bool done)
{
	struct control *ctl = c->ctl;
	char	 junk[4096];
	size_t	 drained = 0;
	ssize_t	 n;

	ev_io_stop(ctl->loop, &c->io);
	ev_timer_stop(ctl->loop, &c->timer);
	/*
	 * Unread input would make Linux reset the connection at close and
	 * the client could see ECONNRESET instead of the end of the body.
	 */
	while (done && drained < DRAIN_MAX &&
	    (n = read(c->fd, junk, sizeof(junk))) > 0)
		drained += (size_t)n;
	close(c->fd);
	emit_free(c->body);
	LIST_REMOVE(c, entry);
	ctl->nconns--;
#ifdef __GLIBC__
	/* Give a big reply's memory back instead of keeping it in the heap. */
	if (c->bodylen >= TRIM_AFTER)
		malloc_trim(0);
#endif
	free(c);
	accept_update(ctl);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *ctl = container_of(w, struct control, retry);

	(void)loop;
	(void)revents;
	ctl->paused = false;
	accept_update(ctl);
}

static void
listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *ctl = container_of(w, struct control, listen);
	struct conn *c;
	int	 fd;

	(void)revents;
	while (ctl->nconns < CONTROL_MAX_CLIENTS) {
		fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Do not spin on a pending connection. */
				ctl->paused = true;
				ev_timer_set(&ctl->retry, ACCEPT_RETRY, 0.);
				ev_timer_start(loop, &ctl->retry);
			}
			break;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			break;
		}
		c->ctl = ctl;
		c->fd = fd;
		ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
		ev_init(&c->timer, conn_timer_cb);
		c->timer.repeat = ctl->req_timeout;
		LIST_INSERT_HEAD(&ctl->conns, c, entry);
		ctl->nconns++;
		ev_io_start(loop, &c->io);
		ev_timer_again(loop, &c->timer);
	}
	accept_update(ctl);
}

/* mkdir -p the directory of path; the last level gets CONTROL_DIR_MODE. */
static int
make_parent(const char *path, char *err, size_t errlen)
{
	char	 dir[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	char	*slash, *p;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &st) == 0)
		goto isdir;
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (p = dir + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, CONTROL_DIR_MODE) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	/* Whatever the umask, the socket's group must reach it. */
	if (chmod(dir, CONTROL_DIR_MODE) == -1) {
		snprintf(err, errlen, "chmod %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
isdir:
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	return 0;
}

/* Remove a socket file nobody answers on; refuse anything else. */
static int
remove_stale(const char *path, const struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	struct stat st;
	int	 s, r, saved;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	r = connect(s, (const struct sockaddr *)sun, sizeof(*sun));
	saved = errno;
	close(s);
	if (r == 0 || saved == EAGAIN || saved == EINPROGRESS) {
		snprintf(err, errlen, "another daemon is listening on %s",
		    path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "cannot check %s: %s", path,
		    strerror(saved));
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

struct control *
control_open(struct ev_loop *loop, const char *path, char *err,
    size_t errlen)
{
	struct control *ctl;
	struct sockaddr_un sun;
	struct stat st;
	mode_t	 mask;
	int	 fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path == NULL || path[0] == '\0' ||
	    strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path empty or longer "
		    "than %zu bytes", sizeof(sun.sun_path) - 1);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);

	if (make_parent(path, err, errlen) == -1 ||
	    remove_stale(path, &sun, err, errlen) == -1)
		return NULL;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	/* Created 0660 from the start: no window with a wider mode. */
	mask = umask(0777 & ~CONTROL_SOCKET_MODE);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(mask);
	if (r == -1) {
		snprintf(err, errlen, "bind %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (chmod(path, CONTROL_SOCKET_MODE) == -1 || stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(fd, CONTROL_BACKLOG) == -1) {
		snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		goto fail;
	}
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->path = strdup(path)) == NULL) {
		free(ctl);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ctl->loop = loop;
	ctl->fd = fd;
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	ctl->req_timeout = CONTROL_REQUEST_TIMEOUT;
	ctl->idle_timeout = CONTROL_IDLE_TIMEOUT;
	LIST_INIT(&ctl->conns);
	ev_io_init(&ctl->listen, listen_cb, fd, EV_READ);
	ev_init(&ctl->retry, retry_cb);
	accept_update(ctl);
	return ctl;

fail:
	unlink(path);
	close(fd);
	return NULL;
}

void
control_close(struct control *ctl)
{
	struct stat st;

	if (ctl == NULL)
		return;
	while (!LIST_EMPTY(&ctl->conns))
		conn_free(LIST_FIRST(&ctl->conns), false);
	ev_io_stop(ctl->loop, &ctl->listen);
	ev_timer_stop(ctl->loop, &ctl->retry);
	close(ctl->fd);
	/* Remove the file only if it is still ours, not a successor's. */
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
