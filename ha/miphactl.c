/*
 * miphactl.c - the control tool for mipha.
 *
 * Checks the command against the table in common/ctl_proto.c before it
 * connects (so a typo is a usage error even with no daemon running),
 * sends one request line to the control socket and copies the reply
 * body to stdout as it arrives.  Exit status per the interface spec:
 * 0 OK, 1 the daemon answered ERR, 2 usage, 3 the daemon cannot be
 * reached.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_proto.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#define DEFAULT_SOCKET	RUNSTATEDIR "/mipha/mipha.sock"

#define EXIT_OK		0
#define EXIT_ERR	1	/* the daemon answered ERR */
#define EXIT_USAGE	2
#define EXIT_CONNECT	3	/* the daemon cannot be reached */

#define REPLY_TIMEOUT	60	/* seconds without a byte from the daemon */

static const char *progname = "miphactl";

static void
usage(void)
{
	const struct ctl_cmd_info *ci;
	char	 cmd[64];
	int	 i;

	fprintf(stderr, "usage: %s [-s SOCKET] [--json] COMMAND\n"
	    "commands:\n", progname);
	for (i = CTL_NONE + 1; i < CTL_CMD_MAX; i++) {
		if ((ci = ctl_cmd_info((enum ctl_cmd)i)) == NULL)
			continue;
		snprintf(cmd, sizeof(cmd), "%s%s%s", ci->words,
		    ci->args[0] != '\0' ? " " : "", ci->args);
		fprintf(stderr, "  %-27s %s\n", cmd, ci->help);
	}
	fprintf(stderr, "default socket: %s\n", DEFAULT_SOCKET);
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Like write_all() but without SIGPIPE when the daemon has gone. */
static int
send_all(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
connect_socket(const char *path)
{
	struct sockaddr_un sun;
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT };
	int	 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);	/* length checked */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "%s: socket: %s\n", progname, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		fprintf(stderr, "%s: setsockopt: %s\n", progname,
		    strerror(errno));
		close(fd);
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EINTR)
			continue;
		fprintf(stderr, "%s: cannot connect to %s: %s\n", progname,
		    path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t
read_some(int fd, char *buf, size_t len, const char *path)
{
	ssize_t	 n;

	while ((n = read(fd, buf, len)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fprintf(stderr, "%s: no reply from the daemon on %s "
			    "within %d seconds\n", progname, path,
			    REPLY_TIMEOUT);
		else
			fprintf(stderr, "%s: reading from %s: %s\n", progname,
			    path, strerror(errno));
		return -1;
	}
	return n;
}

/* Read the status line, then copy the body to stdout. */
static int
reply(int fd, const char *path)
{
	char	 buf[65536], msg[CTL_STATUS_MAX];
	char	*nl = NULL;
	size_t	 have = 0, off;
	ssize_t	 n;

	while (nl == NULL) {
		if (have == CTL_STATUS_MAX) {
			fprintf(stderr, "%s: malformed reply from the daemon "
			    "(status line too long)\n", progname);
			return EXIT_ERR;
		}
		if ((n = read_some(fd, buf + have, CTL_STATUS_MAX - have,
		    path)) == -1)
			return EXIT_CONNECT;
		if (n == 0) {
			fprintf(stderr, "%s: %s: connection closed without a "
			    "reply\n", progname, path);
			return EXIT_CONNECT;
		}
		nl = memchr(buf + have, '\n', (size_t)n);
		have += (size_t)n;
	}

	switch (ctl_status_parse(buf, (size_t)(nl - buf), msg, sizeof(msg))) {
	case CTL_STATUS_OK:
		break;
	case CTL_STATUS_ERR:
		fprintf(stderr, "%s: %s\n", progname,
		    msg[0] != '\0' ? msg : "the daemon reported an error");
		return EXIT_ERR;
	default:
		fprintf(stderr, "%s: malformed reply from the daemon\n",
		    progname);
		return EXIT_ERR;
	}

	off = (size_t)(nl - buf) + 1;
	for (;;) {
		if (have > off && write_all(STDOUT_FILENO, buf + off,
		    have - off) == -1) {
			fprintf(stderr, "%s: stdout: %s\n", progname,
			    strerror(errno));
			return EXIT_ERR;
		}
		if ((n = read_some(fd, buf, sizeof(buf), path)) == -1)
			return EXIT_CONNECT;
		if (n == 0)
			return EXIT_OK;
		off = 0;
		have = (size_t)n;
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json",	no_argument,	NULL,	'j' },
		{ "help",	no_argument,	NULL,	'h' },
		{ NULL,		0,		NULL,	0 }
	};
	struct sockaddr_un sun;
	struct ctl_request req;
	const char *path = DEFAULT_SOCKET;
	char	 line[CTL_LINE_MAX + 1], err[256];
	bool	 json = false;
	int	 ch, fd, len, rc;

	while ((ch = getopt_long(argc, argv, "hs:", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			usage();
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;

	if (ctl_parse_words(argc, argv, &req, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		usage();
		return EXIT_USAGE;
	}
	req.format = json ? EMIT_JSON : EMIT_TEXT;
	if ((len = ctl_request_encode(&req, line, sizeof(line))) == -1) {
		fprintf(stderr, "%s: command too long\n", progname);
		return EXIT_USAGE;
	}
	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "%s: socket path empty or longer than %zu "
		    "bytes\n", progname, sizeof(sun.sun_path) - 1);
		return EXIT_USAGE;
	}

	if ((fd = connect_socket(path)) == -1)
		return EXIT_CONNECT;
	if (send_all(fd, line, (size_t)len) == -1) {
		fprintf(stderr, "%s: sending to %s: %s\n", progname, path,
		    strerror(errno));
		close(fd);
		return EXIT_CONNECT;
	}
	/* One request per connection: tell the daemon that was all. */
	(void)shutdown(fd, SHUT_WR);
	rc = reply(fd, path);
	close(fd);
	return rc;
}
