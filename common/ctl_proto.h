/*
 * ctl_proto.h - the control protocol between mipha and miphactl.
 *
 * Pure code: it encodes and parses request and status lines and holds
 * the command table that both sides share, so miphactl rejects exactly
 * what the daemon would reject, before it connects.  The socket side is
 * ha/control.c (server) and ha/miphactl.c (client).
 *
 * Protocol (version 1), over a UNIX stream socket, mode 0660:
 *
 *   One request per connection.  The client connects and sends one line
 *
 *	MIPHA1 SP FORMAT SP WORD *(SP WORD) LF
 *
 *   FORMAT is "json" or "text": the rendering of the reply body.  The
 *   WORDs are the command and its arguments exactly as typed on the
 *   miphactl command line, e.g.
 *
 *	MIPHA1 json show bindings acme\n
 *	MIPHA1 text clear binding 198.18.10.5\n
 *
 *   The line is at most CTL_LINE_MAX (1024) bytes including the LF, only
 *   printable ASCII (0x20-0x7e) before the LF, words separated by single
 *   spaces (no empty word, no leading or trailing space, no CR).  Bytes
 *   after the LF are ignored.  The commands are:
 *
 *	show bindings [TENANT]		CTL_SHOW_BINDINGS
 *	show tenants			CTL_SHOW_TENANTS
 *	show stats			CTL_SHOW_STATS
 *	clear binding HOA [TENANT]	CTL_CLEAR_BINDING (HOA: dotted quad)
 *	reload				CTL_RELOAD
 *
 *   TENANT is 1 to CTL_TENANT_MAX characters from 0x21-0x7e.  Keywords
 *   match exactly (no abbreviations, case-sensitive).
 *
 *   The server answers with a status line, then the body, then closes
 *   the connection:
 *
 *	OK LF BODY			the command succeeded
 *	ERR SP MESSAGE LF		it failed; no body
 *
 *   MESSAGE is one line of printable ASCII for a human (at most
 *   CTL_STATUS_MAX bytes with "ERR " and LF).  BODY is the command's
 *   output in the requested format and may be empty; it ends where the
 *   server closes the connection.  A JSON body is one JSON value
 *   followed by LF (RFC 8259, UTF-8).  The server closes a connection
 *   that has not sent a complete request within a few seconds with
 *   "ERR timeout ...", and answers any malformed request with ERR.  A
 *   connection that sends nothing and closes gets no answer (that is how
 *   a starting daemon checks whether the socket is still in use).  A
 *   client that stops reading for CONTROL_IDLE_TIMEOUT is disconnected
 *   mid-body; its JSON is then incomplete and fails to parse.
 */
#ifndef MIPHA_CTL_PROTO_H
#define MIPHA_CTL_PROTO_H

#include <stddef.h>
#include <netinet/in.h>

#include "emit.h"

#define CTL_MAGIC	"MIPHA1"	/* protocol name and version */
#define CTL_LINE_MAX	1024		/* request line, LF included */
#define CTL_STATUS_MAX	8192		/* status line, LF included */
#define CTL_ERR_MAX	4096		/* handler error message buffer (a reload
					   may report many FILE:LINE errors) */
#define CTL_TENANT_MAX	64		/* tenant name length, NUL excluded */
#define CTL_WORDS_MAX	16		/* words in a request line */

/* One value per entry of the command table in ctl_proto.c. */
enum ctl_cmd {
	CTL_NONE = 0,
	CTL_SHOW_BINDINGS,	/* show bindings [TENANT] */
	CTL_SHOW_TENANTS,	/* show tenants */
	CTL_SHOW_STATS,		/* show stats */
	CTL_CLEAR_BINDING,	/* clear binding HOA [TENANT] */
	CTL_RELOAD,		/* reload */
	CTL_CMD_MAX
};

/* A parsed request, as the daemon's handlers see it. */
struct ctl_request {
	enum ctl_cmd	 cmd;
	enum emit_format format;
	struct in_addr	 hoa;		/* clear binding: home address */
	char		 tenant[CTL_TENANT_MAX + 1];	/* "" when absent */
};

/* For usage messages and the encoder: "show bindings", "[TENANT]", ... */
struct ctl_cmd_info {
	const char	*words;		/* the command's keywords */
	const char	*args;		/* its arguments, "" when none */
	const char	*help;		/* one line for usage() */
};

/* Status line results of ctl_status_parse(). */
enum ctl_status {
	CTL_STATUS_BAD = -1,		/* not a status line */
	CTL_STATUS_OK = 0,
	CTL_STATUS_ERR = 1
};

/* Table entry of cmd, or NULL when cmd is not a command. */
const struct ctl_cmd_info *ctl_cmd_info(enum ctl_cmd cmd);

/*
 * Parse command words (miphactl's argv after the options) into req.
 * req->format is set to EMIT_TEXT.  Returns 0, or -1 with a message for
 * a usage error (unknown command, missing or extra argument, bad HOA).
 */
int	ctl_parse_words(int nwords, char *const words[],
	    struct ctl_request *req, char *err, size_t errlen);

/*
 * Write the request line for req, LF and NUL included, into buf.
 * Returns its length without the NUL, or -1 if req is invalid or the
 * line does not fit in len bytes.
 */
int	ctl_request_encode(const struct ctl_request *req, char *buf,
	    size_t len);

/*
 * Parse one request line of len bytes; the LF must be its last byte.
 * Returns 0, or -1 with a message that can go into an ERR reply.
 */
int	ctl_request_parse(const char *line, size_t len,
	    struct ctl_request *req, char *err, size_t errlen);

/*
 * Write the status line "OK\n" (errmsg NULL) or "ERR errmsg\n" into
 * buf (NUL-terminated; len at least 8).  errmsg is made one line of
 * printable ASCII and truncated to fit len and CTL_STATUS_MAX.  Returns
 * the length without the NUL.
 */
size_t	ctl_status_encode(char *buf, size_t len, const char *errmsg);

/*
 * Parse a status line of len bytes without its LF.  For ERR, the
 * message (possibly empty) is copied into msg.
 */
enum ctl_status ctl_status_parse(const char *line, size_t len, char *msg,
	    size_t msglen);

#endif /* MIPHA_CTL_PROTO_H */
