/*
 * ctl_proto.c - control protocol: command table, request and status
 * lines.  The format is described in ctl_proto.h.
 *
 * The command grammar is a token table in the style of bgpctl's
 * parser.c: each table lists the alternatives for the next word, each
 * entry points to the table for the word after it, and a table with a
 * NOTOKEN entry may end the command there.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl_proto.h"

enum token_type {
	ENDTABLE = 0,	/* end of a table */
	NOTOKEN,	/* the command may end here */
	KEYWORD,	/* this exact word */
	TENANT,		/* a tenant name */
	HOA		/* an IPv4 address */
};

struct token {
	enum token_type		 type;
	const char		*keyword;
	enum ctl_cmd		 cmd;	/* set when this token matches */
	const struct token	*next;
};

static const struct token t_main[];
static const struct token t_show[];
static const struct token t_clear[];
static const struct token t_clear_hoa[];
static const struct token t_opt_tenant[];
static const struct token t_end[];

static const struct token t_main[] = {
	{ KEYWORD,	"show",		CTL_NONE,		t_show },
	{ KEYWORD,	"clear",	CTL_NONE,		t_clear },
	{ KEYWORD,	"reload",	CTL_RELOAD,		t_end },
	{ ENDTABLE,	"",		CTL_NONE,		NULL }
};

static const struct token t_show[] = {
	{ KEYWORD,	"bindings",	CTL_SHOW_BINDINGS,	t_opt_tenant },
	{ KEYWORD,	"tenants",	CTL_SHOW_TENANTS,	t_end },
	{ KEYWORD,	"stats",	CTL_SHOW_STATS,		t_end },
	{ ENDTABLE,	"",		CTL_NONE,		NULL }
};

static const struct token t_clear[] = {
	{ KEYWORD,	"binding",	CTL_CLEAR_BINDING,	t_clear_hoa },
	{ ENDTABLE,	"",		CTL_NONE,		NULL }
};

static const struct token t_clear_hoa[] = {
	{ HOA,		"",		CTL_NONE,		t_opt_tenant },
	{ ENDTABLE,	"",		CTL_NONE,		NULL }
};

static const struct token t_opt_tenant[] = {
	{ NOTOKEN,	"",		CTL_NONE,		NULL },
	{ TENANT,	"",		CTL_NONE,		t_end },
	{ ENDTABLE,	"",		CTL_NONE,		NULL }
};

static const struct token t_end[] = {
	{ NOTOKEN,	"",		CTL_NONE,		NULL },
	{ ENDTABLE,	"",		CTL_NONE,		NULL }
};

/* What each command is called; ctl_request_encode() writes these words. */
static const struct ctl_cmd_info cmd_info[CTL_CMD_MAX] = {
	[CTL_SHOW_BINDINGS] = { "show bindings", "[TENANT]",
	    "the binding table" },
	[CTL_SHOW_TENANTS] = { "show tenants", "",
	    "tenants with their counters" },
	[CTL_SHOW_STATS] = { "show stats", "",
	    "global counters" },
	[CTL_CLEAR_BINDING] = { "clear binding", "HOA [TENANT]",
	    "remove a binding now" },
	[CTL_RELOAD] = { "reload", "",
	    "re-read the configuration" },
};

const struct ctl_cmd_info *
ctl_cmd_info(enum ctl_cmd cmd)
{
	if (cmd <= CTL_NONE || cmd >= CTL_CMD_MAX)
		return NULL;
	return &cmd_info[cmd];
}

/* Copy a word for an error message: printable, at most 40 characters. */
static void
quote_word(char *dst, size_t len, const char *word)
{
	size_t	i;

	for (i = 0; i + 1 < len && i < 40 && word[i] != '\0'; i++) {
		unsigned char c = (unsigned char)word[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (len > 0)
		dst[i] = '\0';
	if (word[i] != '\0' && i >= 40 && len > 44)
		strcpy(dst + i, "...");
}

static bool
valid_tenant(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
		if (i >= CTL_TENANT_MAX)
			return false;
	}
	return i > 0;
}

static bool
table_has(const struct token *table, enum token_type type)
{
	const struct token *t;

	for (t = table; t->type != ENDTABLE; t++)
		if (t->type == type)
			return true;
	return false;
}

/* "bindings, tenants or stats" for the alternatives of a table. */
static void
expected(const struct token *table, char *buf, size_t len)
{
	const struct token *t;
	size_t	n = 0, i = 0, total = 0;

	for (t = table; t->type != ENDTABLE; t++)
		if (t->type != NOTOKEN)
			total++;
	buf[0] = '\0';
	for (t = table; t->type != ENDTABLE; t++) {
		const char *name;

		switch (t->type) {
		case KEYWORD:
			name = t->keyword;
			break;
		case TENANT:
			name = "TENANT";
			break;
		case HOA:
			name = "HOA";
			break;
		default:
			continue;
		}
		i++;
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    i == 1 ? "" : (i == total ? " or " : ", "), name);
	}
}

static const struct token *
match_token(const char *word, const struct token *table,
    struct ctl_request *req, char *err, size_t errlen)
{
	const struct token *t;
	char	 q[48], exp[128];

	for (t = table; t->type != ENDTABLE; t++) {
		switch (t->type) {
		case KEYWORD:
			if (strcmp(word, t->keyword) != 0)
				continue;
			break;
		case HOA:
			if (inet_pton(AF_INET, word, &req->hoa) != 1)
				continue;
			break;
		case TENANT:
			if (!valid_tenant(word))
				continue;
			/* valid_tenant() bounds the length. */
			strcpy(req->tenant, word);
			break;
		default:
			continue;
		}
		if (t->cmd != CTL_NONE)
			req->cmd = t->cmd;
		return t;
	}

	quote_word(q, sizeof(q), word);
	if (table_has(table, HOA))
		snprintf(err, errlen, "invalid home address '%s'", q);
	else if (table_has(table, TENANT))
		snprintf(err, errlen, "invalid tenant name '%s'", q);
	else if (table == t_main)
		snprintf(err, errlen, "unknown command '%s'", q);
	else if (table_has(table, KEYWORD)) {
		expected(table, exp, sizeof(exp));
		snprintf(err, errlen, "unknown argument '%s' (expected %s)",
		    q, exp);
	} else
		snprintf(err, errlen, "unexpected argument '%s'", q);
	return NULL;
}

int
ctl_parse_words(int nwords, char *const words[], struct ctl_request *req,
    char *err, size_t errlen)
{
	const struct token *table = t_main, *t;
	char	 exp[128];
	int	 i;

	memset(req, 0, sizeof(*req));
	req->cmd = CTL_NONE;
	req->format = EMIT_TEXT;

	if (nwords <= 0) {
		snprintf(err, errlen, "missing command");
		return -1;
	}
	for (i = 0; i < nwords; i++) {
		if ((t = match_token(words[i], table, req, err, errlen)) ==
		    NULL)
			return -1;
		table = t->next;
	}
	if (!table_has(table, NOTOKEN)) {
		expected(table, exp, sizeof(exp));
		snprintf(err, errlen, "missing argument: expected %s", exp);
		return -1;
	}
	if (req->cmd == CTL_NONE) {	/* a table without a command id */
		snprintf(err, errlen, "incomplete command");
		return -1;
	}
	return 0;
}

int
ctl_request_encode(const struct ctl_request *req, char *buf, size_t len)
{
	const struct ctl_cmd_info *ci;
	char	 hoa[INET_ADDRSTRLEN];
	int	 n;

	if ((ci = ctl_cmd_info(req->cmd)) == NULL)
		return -1;
	if (req->format != EMIT_TEXT && req->format != EMIT_JSON)
		return -1;
	if (req->tenant[0] != '\0' && !valid_tenant(req->tenant))
		return -1;
	if (req->tenant[0] != '\0' && req->cmd != CTL_SHOW_BINDINGS &&
	    req->cmd != CTL_CLEAR_BINDING)
		return -1;

	if (req->cmd == CTL_CLEAR_BINDING) {
		if (inet_ntop(AF_INET, &req->hoa, hoa, sizeof(hoa)) == NULL)
			return -1;
	} else
		hoa[0] = '\0';

	n = snprintf(buf, len, "%s %s %s%s%s%s%s\n", CTL_MAGIC,
	    req->format == EMIT_JSON ? "json" : "text", ci->words,
	    hoa[0] != '\0' ? " " : "", hoa,
	    req->tenant[0] != '\0' ? " " : "", req->tenant);
	if (n < 0 || (size_t)n >= len || n > CTL_LINE_MAX)
		return -1;
	return n;
}

int
ctl_request_parse(const char *line, size_t len, struct ctl_request *req,
    char *err, size_t errlen)
{
	char	 copy[CTL_LINE_MAX];
	char	*words[CTL_WORDS_MAX], *p;
	enum emit_format format;
	int	 nwords = 0;
	size_t	 i;

	memset(req, 0, sizeof(*req));
	if (len == 0) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	if (len > CTL_LINE_MAX) {
		snprintf(err, errlen, "request longer than %d bytes",
		    CTL_LINE_MAX);
		return -1;
	}
	if (line[len - 1] != '\n') {
		snprintf(err, errlen, "request not terminated by a newline");
		return -1;
	}
	for (i = 0; i < len - 1; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c < 0x20 || c >= 0x7f) {
			snprintf(err, errlen, "request contains byte 0x%02x "
			    "at offset %zu", c, i);
			return -1;
		}
	}
	memcpy(copy, line, len - 1);
	copy[len - 1] = '\0';

	/* Split at single spaces; an empty word is an error. */
	for (p = copy;;) {
		char *sp = strchr(p, ' ');

		if (sp != NULL)
			*sp = '\0';
		if (*p == '\0') {
			snprintf(err, errlen, "malformed request: empty word "
			    "(stray space)");
			return -1;
		}
		if (nwords == CTL_WORDS_MAX) {
			snprintf(err, errlen, "too many words in request");
			return -1;
		}
		words[nwords++] = p;
		if (sp == NULL)
			break;
		p = sp + 1;
	}

	if (strcmp(words[0], CTL_MAGIC) != 0) {
		if (strncmp(words[0], "MIPHA", 5) == 0)
			snprintf(err, errlen, "unsupported protocol version "
			    "(this daemon speaks %s)", CTL_MAGIC);
		else
			snprintf(err, errlen, "not a mipha control request");
		return -1;
	}
	if (nwords < 2) {
		snprintf(err, errlen, "missing output format");
		return -1;
	}
	if (strcmp(words[1], "json") == 0)
		format = EMIT_JSON;
	else if (strcmp(words[1], "text") == 0)
		format = EMIT_TEXT;
	else {
		char q[48];

		quote_word(q, sizeof(q), words[1]);
		snprintf(err, errlen, "unknown output format '%s'", q);
		return -1;
	}
	if (nwords < 3) {
		snprintf(err, errlen, "missing command");
		return -1;
	}
	if (ctl_parse_words(nwords - 2, words + 2, req, err, errlen) == -1)
		return -1;
	req->format = format;
	return 0;
}

size_t
ctl_status_encode(char *buf, size_t len, const char *errmsg)
{
	size_t	 n, max, i;

	if (len > CTL_STATUS_MAX + 1)
		len = CTL_STATUS_MAX + 1;
	if (errmsg == NULL) {
		n = (size_t)snprintf(buf, len, "OK\n");
		return n < len ? n : 0;
	}
	if (errmsg[0] == '\0')
		errmsg = "unspecified error";
	if (len < 8) {
		if (len > 0)
			buf[0] = '\0';
		return 0;
	}
	memcpy(buf, "ERR ", 4);
	n = 4;
	max = len - 2;		/* room for LF and NUL */
	for (i = 0; errmsg[i] != '\0' && n < max; i++) {
		unsigned char c = (unsigned char)errmsg[i];

		/* Keep the message one line of printable ASCII. */
		if (c == '\n' && errmsg[i + 1] != '\0' && n + 2 < max) {
			buf[n++] = ';';
			buf[n++] = ' ';
			continue;
		}
		buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c :
		    (c == '\n' || c == '\t' || c == '\r') ? ' ' : '?';
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

enum ctl_status
ctl_status_parse(const char *line, size_t len, char *msg, size_t msglen)
{
	size_t	 i, n;

	if (msglen > 0)
		msg[0] = '\0';
	if (len == 2 && memcmp(line, "OK", 2) == 0)
		return CTL_STATUS_OK;
	if (len == 3 && memcmp(line, "ERR", 3) == 0)
		return CTL_STATUS_ERR;
	if (len < 4 || memcmp(line, "ERR ", 4) != 0)
		return CTL_STATUS_BAD;
	for (i = 4, n = 0; i < len && n + 1 < msglen; i++) {
		unsigned char c = (unsigned char)line[i];

		msg[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (msglen > 0)
		msg[n] = '\0';
	return CTL_STATUS_ERR;
}
