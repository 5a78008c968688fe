/*
 * conf.c - parse and validate mipha.conf and the tenant files.
 *
 * Each file is read with libconfig into a tree, checked key by key
 * against flat tables of what may appear where (anything else is an
 * unknown key: a typo must not be silently ignored), and converted into
 * the structs of conf.h.  Every check that fails appends one error and
 * the parse goes on, so one run reports everything.  Semantic checks
 * that need several keys (pool inside home_network, ...) run only when
 * those keys themselves were valid, so one mistake gives one message.
 *
 * RFC 5944 §1.6: SPIs 0-255 are reserved.  §5.1: HMAC-MD5 with 128-bit
 * keys is the default.  §5.7.1: 7 s default timestamp tolerance.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <net/if.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

_Static_assert(CONF_IFNAMSIZ == IFNAMSIZ, "CONF_IFNAMSIZ is IFNAMSIZ");

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define QUOTELEN	80	/* a quoted value in a message */
#define PATHLEN		128	/* a key path in a message */

/*
 * Error list
 */

void
conf_errors_init(struct conf_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void
conf_errors_free(struct conf_errors *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++) {
		free(e->v[i].file);
		free(e->v[i].msg);
	}
	free(e->v);
	conf_errors_init(e);
}

static void __attribute__((format(printf, 4, 0)))
errs_vadd(struct conf_errors *e, const char *file, unsigned line,
    const char *fmt, va_list ap)
{
	struct conf_error	*v, *err;
	size_t			 cap;

	if (e->n == e->cap) {
		cap = e->cap ? e->cap * 2 : 8;
		if (cap > SIZE_MAX / sizeof(*v) ||
		    (v = realloc(e->v, cap * sizeof(*v))) == NULL) {
			e->nomem = true;
			return;
		}
		e->v = v;
		e->cap = cap;
	}
	err = &e->v[e->n];
	err->line = line;
	err->rank = e->rank;
	err->seq = e->n;
	err->file = strdup(file);
	if (err->file == NULL || vasprintf(&err->msg, fmt, ap) == -1) {
		free(err->file);
		e->nomem = true;
		return;
	}
	e->n++;
}

void
conf_errors_add(struct conf_errors *e, const char *file, unsigned line,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	errs_vadd(e, file, line, fmt, ap);
	va_end(ap);
}

static int
error_cmp(const void *a, const void *b)
{
	const struct conf_error	*x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

/* Errors from index from on, in (rank, line, order of finding). */
static void
errs_sort(struct conf_errors *e, size_t from)
{
	if (e->n > from + 1)
		qsort(e->v + from, e->n - from, sizeof(e->v[0]), error_cmp);
}

int
conf_error_fmt(const struct conf_error *err, char *buf, size_t len)
{
	if (err->line == 0)
		return snprintf(buf, len, "%s: %s", err->file, err->msg);
	return snprintf(buf, len, "%s:%u: %s", err->file, err->line,
	    err->msg);
}

void
conf_errors_print(const struct conf_errors *e, FILE *fp)
{
	size_t	 i;

	for (i = 0; i < e->n; i++) {
		if (e->v[i].line == 0)
			fprintf(fp, "%s: %s\n", e->v[i].file, e->v[i].msg);
		else
			fprintf(fp, "%s:%u: %s\n", e->v[i].file,
			    e->v[i].line, e->v[i].msg);
	}
	if (e->nomem)
		fprintf(fp, "out of memory: not every configuration error "
		    "could be recorded\n");
}

/*
 * Names of enumerated values
 */

struct enum_name {
	const char	*name;
	int		 value;
};

static const struct enum_name alg_names[] = {
	{ "hmac-md5",		CONF_ALG_HMAC_MD5 },
	{ "keyed-md5",		CONF_ALG_KEYED_MD5 },
	{ "hmac-sha256",	CONF_ALG_HMAC_SHA256 },
	{ NULL, 0 }
};

static const struct enum_name replay_names[] = {
	{ "timestamp",		CONF_REPLAY_TIMESTAMP },
	{ "nonce",		CONF_REPLAY_NONCE },
	{ NULL, 0 }
};

static const struct enum_name policy_names[] = {
	{ "vpn-only",		CONF_POLICY_VPN_ONLY },
	{ "open",		CONF_POLICY_OPEN },
	{ NULL, 0 }
};

static const struct enum_name rtun_names[] = {
	{ "allowed",		CONF_RTUN_ALLOWED },
	{ "required",		CONF_RTUN_REQUIRED },
	{ "denied",		CONF_RTUN_DENIED },
	{ NULL, 0 }
};

static const struct enum_name encap_names[] = {
	{ "ipip",		CONF_ENCAP_IPIP },
	{ "gre",		CONF_ENCAP_GRE },
	{ "minimal",		CONF_ENCAP_MINIMAL },
	{ "udp",		CONF_ENCAP_UDP },
	{ NULL, 0 }
};

static const char *
enum_name(const struct enum_name *tab, int value)
{
	for (; tab->name != NULL; tab++)
		if (tab->value == value)
			return tab->name;
	return NULL;
}

const char *
conf_alg_name(enum conf_alg a)
{
	return enum_name(alg_names, (int)a);
}

const char *
conf_replay_name(enum conf_replay r)
{
	return enum_name(replay_names, (int)r);
}

const char *
conf_policy_name(enum conf_policy p)
{
	return enum_name(policy_names, (int)p);
}

const char *
conf_rtun_name(enum conf_rtun r)
{
	return enum_name(rtun_names, (int)r);
}

const char *
conf_encap_name(unsigned bit)
{
	return enum_name(encap_names, (int)bit);
}

/*
 * Keys
 */

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

enum conf_key_err
conf_key_parse(const char *s, uint8_t *out, size_t cap, size_t *len,
    size_t *badpos)
{
	size_t	 i, n;
	int	 hi, lo;

	*len = 0;
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
		n = strlen(s);
		if (n == 0)
			return CONF_KEY_EMPTY;
		if (n > cap)
			return CONF_KEY_TOOLONG;
		memcpy(out, s, n);
		*len = n;
		return CONF_KEY_OK;
	}
	s += 2;
	for (n = 0; s[n] != '\0'; n++) {
		if (hexval((unsigned char)s[n]) == -1) {
			if (badpos != NULL)
				*badpos = n + 2;
			return CONF_KEY_BADHEX;
		}
	}
	if (n == 0)
		return CONF_KEY_EMPTY;
	if (n % 2 != 0)
		return CONF_KEY_ODD;
	if (n / 2 > cap)
		return CONF_KEY_TOOLONG;
	for (i = 0; i < n / 2; i++) {
		hi = hexval((unsigned char)s[2 * i]);
		lo = hexval((unsigned char)s[2 * i + 1]);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return CONF_KEY_OK;
}

/*
 * Parse context and messages
 */

struct pctx {
	const char		*file;	/* as opened */
	struct conf_errors	*errs;
	size_t			 nerr;	/* errs->n when this file began */
};

static bool
pctx_failed(const struct pctx *c)
{
	return c->errs->n > c->nerr || c->errs->nomem;
}

static unsigned
line_of(const config_setting_t *s)
{
	return config_setting_source_line(s);
}

/*
 * The path of setting s (and of its member leaf, if not NULL) inside the
 * file's top-level group: "mobile_nodes[1].spi".  The top-level group's
 * own name is left out unless it is the whole path.
 */
static void
spath(const config_setting_t *s, const char *leaf, char *buf, size_t len)
{
	const config_setting_t	*chain[8];
	const char		*name;
	size_t			 n = 0, count, off = 0;
	int			 i, r;

	for (; s != NULL && !config_setting_is_root(s) && n < nitems(chain);
	    s = config_setting_parent(s))
		chain[n++] = s;
	count = n + (leaf != NULL);
	buf[0] = '\0';
	for (i = (int)n - 1 - (count > 1 && n > 0); i >= -1; i--) {
		if (i == -1) {
			if (leaf == NULL)
				break;
			name = leaf;
		} else
			name = config_setting_name(chain[i]);
		if (name != NULL)
			r = snprintf(buf + off, len - off, "%s%s",
			    off > 0 ? "." : "", name);
		else
			r = snprintf(buf + off, len - off, "[%d]",
			    config_setting_index(chain[i]));
		if (r < 0 || (size_t)r >= len - off)
			break;
		off += (size_t)r;
	}
}

/* s as a double-quoted C-like string, shortened if long. */
static const char *
quote(const char *s, char *buf, size_t len)
{
	size_t		 o = 0;
	unsigned char	 ch;

	buf[o++] = '"';
	for (; *s != '\0' && o + 4 + 5 <= len; s++) {
		ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(buf + o, len - o, "\\x%02x", ch);
			o += 4;
		} else
			buf[o++] = (char)ch;
	}
	if (*s != '\0') {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* One error at setting s (or at its missing member leaf). */
static void __attribute__((format(printf, 4, 0)))
vperr(struct pctx *c, const config_setting_t *s, const char *leaf,
    const char *fmt, va_list ap)
{
	char		 path[PATHLEN], *msg;
	const char	*file;

	spath(s, leaf, path, sizeof(path));
	if (vasprintf(&msg, fmt, ap) == -1) {
		c->errs->nomem = true;
		return;
	}
	file = config_setting_source_file(s);
	if (file == NULL)
		file = c->file;
	if (path[0] != '\0')
		conf_errors_add(c->errs, file, line_of(s), "%s: %s", path, msg);
	else
		conf_errors_add(c->errs, file, line_of(s), "%s", msg);
	free(msg);
}

static void __attribute__((format(printf, 3, 4)))
perr(struct pctx *c, const config_setting_t *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vperr(c, s, NULL, fmt, ap);
	va_end(ap);
}

/* At the line of group g, which lacks its required member key. */
static void
perr_missing(struct pctx *c, const config_setting_t *g, const char *key)
{
	char		 path[PATHLEN];
	const char	*file = config_setting_source_file(g);

	spath(g, key, path, sizeof(path));
	conf_errors_add(c->errs, file != NULL ? file : c->file, line_of(g),
	    "%s: missing required key", path);
}

static char *
pstrdup(struct pctx *c, const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		c->errs->nomem = true;
	return p;
}

/*
 * Reading a file
 */

/* Parses c->file into cfg (initialised only on success). */
static int
read_cfg(struct pctx *c, config_t *cfg)
{
	FILE		*fp;
	struct stat	 st;
	const char	*slash, *efile;
	char		*dir;

	if ((fp = fopen(c->file, "r")) == NULL) {
		conf_errors_add(c->errs, c->file, 0, "cannot open: %s",
		    strerror(errno));
		return -1;
	}
	/* libconfig's scanner exits the process on a read error (EISDIR). */
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_errors_add(c->errs, c->file, 0, "not a regular file");
		fclose(fp);
		return -1;
	}
	config_init(cfg);
	/* @include paths are relative to the including file, like tenants_dir. */
	if ((slash = strrchr(c->file, '/')) != NULL) {
		if ((dir = strndup(c->file, (size_t)(slash - c->file) + 1)) ==
		    NULL) {
			c->errs->nomem = true;
			config_destroy(cfg);
			fclose(fp);
			return -1;
		}
		config_set_include_dir(cfg, dir);
		free(dir);
	}
	if (config_read(cfg, fp) != CONFIG_TRUE) {
		efile = config_error_file(cfg);
		conf_errors_add(c->errs, efile != NULL ? efile : c->file,
		    (unsigned)config_error_line(cfg), "%s",
		    config_error_text(cfg) != NULL ? config_error_text(cfg) :
		    "cannot read");
		config_destroy(cfg);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

/* Wipes the text of every "key" setting before libconfig frees it. */
static void
cleanse_keys(config_setting_t *s)
{
	const char	*name, *v;
	int		 i, n;

	if (config_setting_is_aggregate(s)) {
		n = config_setting_length(s);
		for (i = 0; i < n; i++)
			cleanse_keys(config_setting_get_elem(s, i));
		return;
	}
	name = config_setting_name(s);
	if (name != NULL && strcmp(name, "key") == 0 &&
	    config_setting_type(s) == CONFIG_TYPE_STRING &&
	    (v = config_setting_get_string(s)) != NULL)
		OPENSSL_cleanse((char *)(uintptr_t)v, strlen(v));
}

static void
close_cfg(config_t *cfg)
{
	cleanse_keys(config_root_setting(cfg));
	config_destroy(cfg);
}

/*
 * Keys and types
 */

/* Edit distance of two short strings, for "did you mean". */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, d;
	size_t	 prev[33], cur[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

/* Every member of group g must be one of keys. */
static void
check_keys(struct pctx *c, const config_setting_t *g,
    const char *const *keys)
{
	const config_setting_t	*s;
	const char		*name, *best;
	const char *const	*k;
	size_t			 d, bestd;
	int			 i, n;

	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, i);
		if ((name = config_setting_name(s)) == NULL)
			continue;
		for (k = keys; *k != NULL && strcmp(*k, name) != 0; k++)
			;
		if (*k != NULL)
			continue;
		best = NULL;
		bestd = 3;
		for (k = keys; *k != NULL; k++) {
			d = edit_distance(name, *k);
			if (d < bestd && d < strlen(name)) {
				best = *k;
				bestd = d;
			}
		}
		if (best != NULL)
			perr(c, s, "unknown key (did you mean %s?)", best);
		else
			perr(c, s, "unknown key");
	}
}

enum kind {
	K_INT,		/* CONFIG_TYPE_INT or _INT64 */
	K_STRING,
	K_GROUP,
	K_SEQ,		/* a list ( ) or an array [ ] */
};

static const char *
kind_name(enum kind k)
{
	switch (k) {
	case K_INT:
		return "an integer";
	case K_STRING:
		return "a string";
	case K_GROUP:
		return "a group { }";
	case K_SEQ:
		return "a list ( ) or array [ ]";
	}
	return "?";
}

static const char *
type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "nothing";
}

static bool
is_kind(const config_setting_t *s, enum kind k)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return k == K_INT;
	case CONFIG_TYPE_STRING:
		return k == K_STRING;
	case CONFIG_TYPE_GROUP:
		return k == K_GROUP;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		return k == K_SEQ;
	}
	return false;
}

/* s is of kind k, or an error says what it is instead. */
static bool
check_kind(struct pctx *c, const config_setting_t *s, enum kind k)
{
	if (is_kind(s, k))
		return true;
	perr(c, s, "expected %s, found %s", kind_name(k), type_name(s));
	return false;
}

/*
 * Member key of group g, if present and of kind k.  NULL when absent
 * (an error if required) or of another kind (an error).
 */
static const config_setting_t *
get(struct pctx *c, const config_setting_t *g, const char *key, enum kind k,
    bool required)
{
	const config_setting_t	*s;

	if ((s = config_setting_get_member(g, key)) == NULL) {
		if (required)
			perr_missing(c, g, key);
		return NULL;
	}
	return check_kind(c, s, k) ? s : NULL;
}

static const config_setting_t *
get_int_raw(struct pctx *c, const config_setting_t *g, const char *key,
    bool required, long long *v)
{
	const config_setting_t	*s;

	if ((s = get(c, g, key, K_INT, required)) != NULL)
		*v = config_setting_get_int64(s);
	return s;
}

/* Stores the value in *out only when it is present and in range. */
static const config_setting_t *
get_int(struct pctx *c, const config_setting_t *g, const char *key,
    bool required, long long min, long long max, long long *out)
{
	const config_setting_t	*s;
	long long		 v;

	if ((s = get_int_raw(c, g, key, required, &v)) == NULL)
		return NULL;
	if (v < min || v > max) {
		perr(c, s, "%lld is out of range (%lld-%lld)", v, min, max);
		return NULL;
	}
	*out = v;
	return s;
}

static const config_setting_t *
get_str(struct pctx *c, const config_setting_t *g, const char *key,
    bool required, const char **out)
{
	const config_setting_t	*s;

	if ((s = get(c, g, key, K_STRING, required)) != NULL)
		*out = config_setting_get_string(s);
	return s;
}

static bool
check_addr(struct pctx *c, const config_setting_t *s, struct in_addr *out)
{
	const char	*v = config_setting_get_string(s);
	char		 q[QUOTELEN], a[ADDR_STRLEN];
	struct in_addr	 in;

	if (!addr_parse(v, &in)) {
		perr(c, s, "%s is not an IPv4 address (a.b.c.d)",
		    quote(v, q, sizeof(q)));
		return false;
	}
	if (!addr_is_unicast(in)) {
		perr(c, s, "%s is not a unicast address", addr_ntoa(in, a));
		return false;
	}
	*out = in;
	return true;
}

static const config_setting_t *
get_addr(struct pctx *c, const config_setting_t *g, const char *key,
    bool required, struct in_addr *out)
{
	const config_setting_t	*s;

	if ((s = get(c, g, key, K_STRING, required)) == NULL ||
	    !check_addr(c, s, out))
		return NULL;
	return s;
}

static bool
check_prefix(struct pctx *c, const config_setting_t *s, unsigned minlen,
    struct addr_prefix *out)
{
	const char		*v = config_setting_get_string(s);
	char			 q[QUOTELEN], p[ADDR_PREFIX_STRLEN];
	struct addr_prefix	 pfx;

	switch (addr_prefix_parse(v, &pfx)) {
	case ADDR_PREFIX_OK:
		break;
	case ADDR_PREFIX_SYNTAX:
		perr(c, s, "%s is not an IPv4 prefix (a.b.c.d/len)",
		    quote(v, q, sizeof(q)));
		return false;
	case ADDR_PREFIX_BADLEN:
		perr(c, s, "%s: prefix length must be 0-32",
		    quote(v, q, sizeof(q)));
		return false;
	case ADDR_PREFIX_HOSTBITS:
		perr(c, s, "%s has host bits set (the prefix is %s)",
		    quote(v, q, sizeof(q)), addr_prefix_ntoa(&pfx, p));
		return false;
	}
	if (pfx.len < minlen) {
		perr(c, s, "%s is too wide (prefix length %u-32)",
		    addr_prefix_ntoa(&pfx, p), minlen);
		return false;
	}
	*out = pfx;
	return true;
}

static const config_setting_t *
get_prefix(struct pctx *c, const config_setting_t *g, const char *key,
    bool required, unsigned minlen, struct addr_prefix *out)
{
	const config_setting_t	*s;

	if ((s = get(c, g, key, K_STRING, required)) == NULL ||
	    !check_prefix(c, s, minlen, out))
		return NULL;
	return s;
}

static bool
check_enum(struct pctx *c, const config_setting_t *s,
    const struct enum_name *tab, int *out)
{
	const struct enum_name	*e;
	const char		*v = config_setting_get_string(s);
	char			 q[QUOTELEN], list[128];
	size_t			 off = 0;

	for (e = tab; e->name != NULL; e++) {
		if (strcmp(e->name, v) == 0) {
			*out = e->value;
			return true;
		}
	}
	list[0] = '\0';
	for (e = tab; e->name != NULL && off < sizeof(list); e++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
		    off > 0 ? ", " : "", e->name);
	perr(c, s, "%s is not one of %s", quote(v, q, sizeof(q)), list);
	return false;
}

static const config_setting_t *
get_enum(struct pctx *c, const config_setting_t *g, const char *key,
    bool required, const struct enum_name *tab, int *out)
{
	const config_setting_t	*s;

	if ((s = get(c, g, key, K_STRING, required)) == NULL ||
	    !check_enum(c, s, tab, out))
		return NULL;
	return s;
}

/* Letters, digits, '.', '_', '-': safe in names, logs and JSON. */
static bool
name_chars_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		    *s == '-'))
			return false;
	}
	return true;
}

/* A Linux interface name we can create or refer to. */
static const config_setting_t *
get_ifname(struct pctx *c, const config_setting_t *g, const char *key,
    char *out)
{
	const config_setting_t	*s;
	const char		*v;
	char			 q[QUOTELEN];
	size_t			 len;

	if ((s = get_str(c, g, key, false, &v)) == NULL)
		return NULL;
	len = strlen(v);
	if (len == 0 || len >= CONF_IFNAMSIZ) {
		perr(c, s, "%s must be 1-%d characters (IFNAMSIZ)",
		    quote(v, q, sizeof(q)), CONF_IFNAMSIZ - 1);
		return NULL;
	}
	if (!name_chars_ok(v) || strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
		perr(c, s, "%s is not a valid interface name (letters, "
		    "digits, '.', '_', '-')", quote(v, q, sizeof(q)));
		return NULL;
	}
	memcpy(out, v, len + 1);
	return s;
}

/* An absolute path of at most max characters. */
static const config_setting_t *
get_abspath(struct pctx *c, const config_setting_t *g, const char *key,
    size_t max, char **out)
{
	const config_setting_t	*s;
	const char		*v;
	char			 q[QUOTELEN];

	if ((s = get_str(c, g, key, false, &v)) == NULL)
		return NULL;
	if (v[0] != '/') {
		perr(c, s, "%s is not an absolute path",
		    quote(v, q, sizeof(q)));
		return NULL;
	}
	if (strlen(v) > max) {
		perr(c, s, "%s is longer than %zu characters",
		    quote(v, q, sizeof(q)), max);
		return NULL;
	}
	*out = pstrdup(c, v);
	return s;
}

/*
 * The main file
 */

static const char *const root_main_keys[] = { "ha", NULL };

static const char *const ha_keys[] = {
	"address", "port", "control_socket", "state_dir", "user",
	"max_lifetime", "replay_window", "tenants_dir", "fastpath", NULL
};

/* tenants_dir relative to the directory of the main file. */
static char *
resolve_dir(struct pctx *c, const char *mainfile, const char *dir)
{
	const char	*slash;
	char		*p;

	if (dir[0] == '/' || (slash = strrchr(mainfile, '/')) == NULL)
		return pstrdup(c, dir);
	if (asprintf(&p, "%.*s%s", (int)(slash - mainfile + 1), mainfile,
	    dir) == -1) {
		c->errs->nomem = true;
		return NULL;
	}
	return p;
}

static void
parse_ha(struct pctx *c, const config_setting_t *g, struct ha_conf *ha)
{
	const config_setting_t	*s;
	const char		*v;
	char			 q[QUOTELEN];
	long long		 n;

	check_keys(c, g, ha_keys);
	ha->line = line_of(g);
	if ((s = get_addr(c, g, "address", true, &ha->address)) != NULL)
		ha->address_line = line_of(s);
	if (get_int(c, g, "port", false, 1, 65535, &n))
		ha->port = (uint16_t)n;
	get_abspath(c, g, "control_socket", CONF_SOCKET_PATH_MAX,
	    &ha->control_socket);
	get_abspath(c, g, "state_dir", PATH_MAX - 1, &ha->state_dir);
	if ((s = get_str(c, g, "user", false, &v)) != NULL) {
		if (v[0] == '\0' || v[0] == '-' || strlen(v) > CONF_USER_MAX ||
		    !name_chars_ok(v))
			perr(c, s, "%s is not a valid user name (1-%d letters, "
			    "digits, '.', '_', '-')", quote(v, q, sizeof(q)),
			    CONF_USER_MAX);
		else
			ha->user = pstrdup(c, v);
	}
	if (get_int(c, g, "max_lifetime", false, 1, CONF_MAX_LIFETIME_MAX, &n))
		ha->max_lifetime = (unsigned)n;
	if (get_int(c, g, "replay_window", false, 1, CONF_REPLAY_WINDOW_MAX,
	    &n))
		ha->replay_window = (unsigned)n;
	ha->fastpath = true;
	if ((s = config_setting_get_member(g, "fastpath")) != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			perr(c, s, "must be true or false");
		else
			ha->fastpath = config_setting_get_bool(s) != 0;
	}
	ha->tenants_dir_line = ha->line;
	if ((s = get_str(c, g, "tenants_dir", false, &v)) != NULL) {
		if (v[0] == '\0')
			perr(c, s, "must not be empty");
		else {
			ha->tenants_dir = pstrdup(c, v);
			ha->tenants_dir_line = line_of(s);
		}
	} else if (config_setting_get_member(g, "tenants_dir") == NULL)
		ha->tenants_dir = pstrdup(c, CONF_DEFAULT_TENANTS_DIR);
	if (ha->tenants_dir != NULL)
		ha->tenants_path = resolve_dir(c, c->file, ha->tenants_dir);
}

/* Defaults of what parse_ha() did not set. */
static void
ha_defaults(struct pctx *c, struct ha_conf *ha)
{
	if (ha->port == 0)
		ha->port = CONF_DEFAULT_PORT;
	if (ha->max_lifetime == 0)
		ha->max_lifetime = CONF_DEFAULT_MAX_LIFETIME;
	if (ha->replay_window == 0)
		ha->replay_window = CONF_DEFAULT_REPLAY_WINDOW;
	if (ha->control_socket == NULL)
		ha->control_socket = pstrdup(c, CONF_DEFAULT_CONTROL_SOCKET);
	if (ha->state_dir == NULL)
		ha->state_dir = pstrdup(c, CONF_DEFAULT_STATE_DIR);
}

/*
 * The main file into a new conf.  Returns NULL only when the file could
 * not be parsed at all; otherwise the conf, valid or not (*ok), so the
 * caller can still check the tenant files.
 */
static struct mipha_conf *
load_main(const char *path, struct conf_errors *errs, bool *ok)
{
	struct pctx		 c = { path, errs, errs->n };
	struct mipha_conf	*conf;
	config_t		 cfg;
	const config_setting_t	*root, *g;

	*ok = false;
	if (read_cfg(&c, &cfg) == -1)
		return NULL;
	if ((conf = calloc(1, sizeof(*conf))) == NULL ||
	    (conf->ha.file = strdup(path)) == NULL) {
		errs->nomem = true;
		free(conf);
		close_cfg(&cfg);
		return NULL;
	}
	root = config_root_setting(&cfg);
	check_keys(&c, root, root_main_keys);
	if ((g = get(&c, root, "ha", K_GROUP, true)) != NULL)
		parse_ha(&c, g, &conf->ha);
	ha_defaults(&c, &conf->ha);
	close_cfg(&cfg);
	errs_sort(errs, c.nerr);
	*ok = !pctx_failed(&c);
	return conf;
}

int
conf_load_main(const char *path, struct mipha_conf **out,
    struct conf_errors *errs)
{
	struct mipha_conf	*conf;
	bool			 ok;

	*out = NULL;
	if ((conf = load_main(path, errs, &ok)) == NULL)
		return -1;
	if (!ok) {
		conf_free(conf);
		return -1;
	}
	*out = conf;
	return 0;
}

/*
 * The tenant files: every *.conf of tenants_dir, sorted by name (C
 * locale byte order); names starting with '.' are skipped like a shell
 * glob skips them.
 */

static int
strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
conf_tenant_files_free(char **paths, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

int
conf_tenant_files(const struct ha_conf *ha, char ***pathsp, size_t *np,
    struct conf_errors *errs)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		**paths = NULL, **p, *path, q[QUOTELEN];
	size_t		 n = 0, cap = 0, len, nerr = errs->n;
	const char	*sep;

	*pathsp = NULL;
	*np = 0;
	if (ha->tenants_path == NULL) {
		conf_errors_add(errs, ha->file, ha->tenants_dir_line,
		    "tenants_dir: not set");
		return -1;
	}
	if ((d = opendir(ha->tenants_path)) == NULL) {
		conf_errors_add(errs, ha->file, ha->tenants_dir_line,
		    "tenants_dir: cannot open %s: %s",
		    quote(ha->tenants_path, q, sizeof(q)), strerror(errno));
		return -1;
	}
	len = strlen(ha->tenants_path);
	sep = len > 0 && ha->tenants_path[len - 1] == '/' ? "" : "/";
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		if (asprintf(&path, "%s%s%s", ha->tenants_path, sep,
		    de->d_name) == -1) {
			errs->nomem = true;
			break;
		}
		if (stat(path, &st) == -1) {
			conf_errors_add(errs, ha->file, ha->tenants_dir_line,
			    "tenants_dir: %s: %s", quote(path, q, sizeof(q)),
			    strerror(errno));
			free(path);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			conf_errors_add(errs, ha->file, ha->tenants_dir_line,
			    "tenants_dir: %s is not a regular file",
			    quote(path, q, sizeof(q)));
			free(path);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((p = realloc(paths, cap * sizeof(*p))) == NULL) {
				errs->nomem = true;
				free(path);
				break;
			}
			paths = p;
		}
		paths[n++] = path;
	}
	closedir(d);
	if (errs->n > nerr || errs->nomem) {
		conf_tenant_files_free(paths, n);
		return -1;
	}
	if (n > 1)
		qsort(paths, n, sizeof(*paths), strptr_cmp);
	*pathsp = paths;
	*np = n;
	return 0;
}

/*
 * Tenant files
 */

static const char *const root_tenant_keys[] = { "tenant", NULL };

static const char *const tenant_keys[] = {
	"name", "table", "vpn_gateway", "home_network", "pool", "policy",
	"reverse_tunnel", "encapsulations", "max_bindings",
	"internal_networks", "home_interface", "tun_name", "mobile_nodes",
	"foreign_agents", NULL
};

static const char *const mn_keys[] = {
	"home_address", "nai", "spi", "algorithm", "key", "replay", NULL
};

static const char *const fa_keys[] = {
	"address", "spi", "algorithm", "key", NULL
};

/* spi, algorithm and key of an MN or FA group; spi line or 0. */
static unsigned
parse_sa(struct pctx *c, const config_setting_t *g, struct conf_sa *sa)
{
	const config_setting_t	*s, *spi;
	const char		*v;
	long long		 n;
	int			 e;
	size_t			 badpos = 0;
	unsigned		 line = 0;

	if ((spi = get_int_raw(c, g, "spi", true, &n)) != NULL) {
		if (n < 0 || n > UINT32_MAX)
			perr(c, spi, "%lld is out of range (%d-%lu)", n,
			    CONF_SPI_MIN, (unsigned long)UINT32_MAX);
		else if (n < CONF_SPI_MIN)
			perr(c, spi, "%lld is reserved (SPIs 0-255, "
			    "RFC 5944 §1.6)", n);
		else {
			sa->spi = (uint32_t)n;
			line = line_of(spi);
		}
	}
	sa->algorithm = CONF_ALG_HMAC_MD5;
	if (get_enum(c, g, "algorithm", false, alg_names, &e))
		sa->algorithm = (enum conf_alg)e;
	if ((s = get_str(c, g, "key", true, &v)) == NULL)
		return line;
	switch (conf_key_parse(v, sa->key, sizeof(sa->key), &sa->keylen,
	    &badpos)) {
	case CONF_KEY_OK:
		if (sa->keylen < CONF_KEY_MIN)
			perr(c, s, "%zu bytes is too short (%d bytes minimum, "
			    "RFC 5944 §5.1)", sa->keylen, CONF_KEY_MIN);
		break;
	case CONF_KEY_EMPTY:
		perr(c, s, "empty");
		break;
	case CONF_KEY_ODD:
		perr(c, s, "odd number of hex digits after 0x");
		break;
	case CONF_KEY_BADHEX:
		perr(c, s, "character %zu is not a hex digit (a key starting "
		    "with 0x is hex)", badpos + 1);
		break;
	case CONF_KEY_TOOLONG:
		perr(c, s, "longer than %d bytes", CONF_KEY_MAX);
		break;
	}
	return line;
}

static bool
nai_ok(const char *s)
{
	size_t		 len = strlen(s);

	if (len == 0 || len > CONF_NAI_MAX)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void
parse_mn(struct pctx *c, const config_setting_t *g, struct mn_conf *mn)
{
	const config_setting_t	*s;
	const char		*v;
	char			 q[QUOTELEN];
	int			 e;

	check_keys(c, g, mn_keys);
	mn->line = line_of(g);
	if ((s = get_addr(c, g, "home_address", false, &mn->home_address)))
		mn->home_address_line = line_of(s);
	if ((s = get_str(c, g, "nai", false, &v)) != NULL) {
		if (!nai_ok(v))
			perr(c, s, "%s is not a NAI (1-%d characters, no spaces "
			    "or control characters)", quote(v, q, sizeof(q)),
			    CONF_NAI_MAX);
		else if ((mn->nai = pstrdup(c, v)) != NULL)
			mn->nai_line = line_of(s);
	}
	if (config_setting_get_member(g, "home_address") == NULL &&
	    config_setting_get_member(g, "nai") == NULL)
		perr(c, g, "needs home_address or nai (or both)");
	mn->spi_line = parse_sa(c, g, &mn->sa);
	mn->replay = CONF_REPLAY_TIMESTAMP;
	if (get_enum(c, g, "replay", false, replay_names, &e))
		mn->replay = (enum conf_replay)e;
}

/* Checks of a node against its tenant's home_network and pool. */
static void
check_mn_home(struct pctx *c, const config_setting_t *g,
    const struct mn_conf *mn, const struct tenant_conf *t, bool pool_given)
{
	const config_setting_t	*s;
	char			 a[ADDR_STRLEN], p[ADDR_PREFIX_STRLEN];
	struct in_addr		 hoa = mn->home_address;

	if (mn->home_address_line != 0) {
		s = config_setting_get_member(g, "home_address");
		addr_ntoa(hoa, a);
		addr_prefix_ntoa(&t->home_network, p);
		if (!addr_in_prefix(hoa, &t->home_network))
			perr(c, s, "%s is not inside home_network %s", a, p);
		else if (t->home_network.len <= 30 &&
		    hoa.s_addr == addr_prefix_first(&t->home_network).s_addr)
			perr(c, s, "%s is the network address of home_network "
			    "%s", a, p);
		else if (t->home_network.len <= 30 &&
		    hoa.s_addr == addr_prefix_last(&t->home_network).s_addr)
			perr(c, s, "%s is the broadcast address of "
			    "home_network %s", a, p);
		else if (t->has_pool && addr_in_prefix(hoa, &t->pool))
			perr(c, s, "%s is inside pool %s (the pool is for "
			    "addresses assigned by NAI)", a,
			    addr_prefix_ntoa(&t->pool, p));
	} else if (mn->nai_line != 0 && !pool_given &&
	    config_setting_get_member(g, "home_address") == NULL)
		perr(c, config_setting_get_member(g, "nai"), "a node without "
		    "home_address needs the tenant's pool to be assigned one");
}

/*
 * Duplicates: entries sorted by value, then by owner; every entry equal
 * to an earlier one is reported against the first.
 */
struct dupent {
	uint32_t	 v;
	const char	*s;	/* string value, or NULL for v */
	size_t		 a, b;	/* owner: tenant index, element index */
	unsigned	 line;
};

static int
dup_valcmp(const struct dupent *x, const struct dupent *y)
{
	if (x->s != NULL && y->s != NULL)
		return strcmp(x->s, y->s);
	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return 0;
}

static int
dupent_cmp(const void *pa, const void *pb)
{
	const struct dupent	*x = pa, *y = pb;
	int			 r;

	if ((r = dup_valcmp(x, y)) != 0)
		return r;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	return 0;
}

typedef void dup_fn(void *, const struct dupent *, const struct dupent *);

static void
find_dups(struct dupent *d, size_t n, dup_fn *report, void *arg)
{
	size_t	 i, j;

	if (n < 2)
		return;
	qsort(d, n, sizeof(*d), dupent_cmp);
	for (i = 0; i < n; i = j)
		for (j = i + 1; j < n && dup_valcmp(&d[i], &d[j]) == 0; j++)
			report(arg, &d[i], &d[j]);
}

/* Duplicates inside one tenant file: b indexes the settings array. */
struct local_dup {
	struct pctx			 *c;
	const config_setting_t *const	 *set;	/* element groups */
	const char			 *key;
};

static void
value_str(const struct dupent *d, char *buf, size_t len, bool addr)
{
	struct in_addr	 in;

	if (d->s != NULL)
		quote(d->s, buf, len);
	else if (addr) {
		in.s_addr = htonl(d->v);
		addr_ntoa(in, buf);
	} else
		snprintf(buf, len, "%lu", (unsigned long)d->v);
}

static void
local_dup_report(void *arg, const struct dupent *first,
    const struct dupent *dup)
{
	struct local_dup	*ld = arg;
	const config_setting_t	*s0, *s1;
	char			 val[QUOTELEN], where[PATHLEN];
	bool			 addr = strcmp(ld->key, "spi") != 0;

	s0 = config_setting_get_member(ld->set[first->b], ld->key);
	s1 = config_setting_get_member(ld->set[dup->b], ld->key);
	if (s0 == NULL || s1 == NULL)
		return;
	value_str(dup, val, sizeof(val), addr);
	spath(ld->set[first->b], NULL, where, sizeof(where));
	perr(ld->c, s1, "%s is already used by %s (line %u)", val, where,
	    line_of(s0));
}

static void
local_dups(struct pctx *c, const config_setting_t *const *set,
    struct dupent *d, size_t n, const char *key)
{
	struct local_dup	 ld = { c, set, key };

	find_dups(d, n, local_dup_report, &ld);
}

static void
check_mn_dups(struct pctx *c, const struct tenant_conf *t,
    const config_setting_t *const *set)
{
	struct dupent	*d;
	size_t		 i, n, nmn = t->n_mobile_nodes;
	const struct mn_conf *mn;

	if (nmn < 2)
		return;
	if ((d = calloc(nmn, sizeof(*d))) == NULL) {
		c->errs->nomem = true;
		return;
	}
	for (i = n = 0; i < nmn; i++) {
		mn = &t->mobile_nodes[i];
		if (set[i] != NULL && mn->home_address_line != 0)
			d[n++] = (struct dupent){ ntohl(mn->home_address.s_addr),
			    NULL, 0, i, mn->home_address_line };
	}
	local_dups(c, set, d, n, "home_address");
	for (i = n = 0; i < nmn; i++) {
		mn = &t->mobile_nodes[i];
		if (set[i] != NULL && mn->nai != NULL)
			d[n++] = (struct dupent){ 0, mn->nai, 0, i,
			    mn->nai_line };
	}
	local_dups(c, set, d, n, "nai");
	for (i = n = 0; i < nmn; i++) {
		mn = &t->mobile_nodes[i];
		if (set[i] != NULL && mn->spi_line != 0)
			d[n++] = (struct dupent){ mn->sa.spi, NULL, 0, i,
			    mn->spi_line };
	}
	local_dups(c, set, d, n, "spi");
	free(d);
}

static void
check_fa_dups(struct pctx *c, const struct tenant_conf *t,
    const config_setting_t *const *set)
{
	struct dupent	*d;
	size_t		 i, n, nfa = t->n_foreign_agents;

	if (nfa < 2)
		return;
	if ((d = calloc(nfa, sizeof(*d))) == NULL) {
		c->errs->nomem = true;
		return;
	}
	for (i = n = 0; i < nfa; i++)
		if (set[i] != NULL && t->foreign_agents[i].address_line != 0)
			d[n++] = (struct dupent){
			    ntohl(t->foreign_agents[i].address.s_addr), NULL,
			    0, i, t->foreign_agents[i].address_line };
	local_dups(c, set, d, n, "address");
	free(d);
}

/*
 * A list of groups: the settings of the valid ones in *setp (NULL for an
 * element that is not a group), the length in *np.
 */
static const config_setting_t **
get_group_list(struct pctx *c, const config_setting_t *g, const char *key,
    size_t *np)
{
	const config_setting_t	 *s, *e, **set;
	size_t			  i, n;

	*np = 0;
	if ((s = get(c, g, key, K_SEQ, false)) == NULL ||
	    (n = (size_t)config_setting_length(s)) == 0)
		return NULL;
	if ((set = calloc(n, sizeof(*set))) == NULL) {
		c->errs->nomem = true;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (check_kind(c, e, K_GROUP))
			set[i] = e;
	}
	*np = n;
	return set;
}

static void
parse_mobile_nodes(struct pctx *c, const config_setting_t *g,
    struct tenant_conf *t, bool have_net)
{
	/* An invalid pool has its own message; do not repeat it per node. */
	bool			  pool_given =
	    config_setting_get_member(g, "pool") != NULL;
	const config_setting_t	**set;
	size_t			  i, n;

	if ((set = get_group_list(c, g, "mobile_nodes", &n)) == NULL)
		return;
	if ((t->mobile_nodes = calloc(n, sizeof(*t->mobile_nodes))) == NULL) {
		c->errs->nomem = true;
		free(set);
		return;
	}
	t->n_mobile_nodes = n;
	for (i = 0; i < n; i++) {
		if (set[i] == NULL)
			continue;
		parse_mn(c, set[i], &t->mobile_nodes[i]);
		if (have_net)
			check_mn_home(c, set[i], &t->mobile_nodes[i], t,
			    pool_given);
	}
	check_mn_dups(c, t, set);
	free(set);
}

static void
parse_foreign_agents(struct pctx *c, const config_setting_t *g,
    struct tenant_conf *t)
{
	const config_setting_t	**set, *s;
	struct fa_conf		 *fa;
	size_t			  i, n;

	if ((set = get_group_list(c, g, "foreign_agents", &n)) == NULL)
		return;
	if ((t->foreign_agents = calloc(n, sizeof(*fa))) == NULL) {
		c->errs->nomem = true;
		free(set);
		return;
	}
	t->n_foreign_agents = n;
	for (i = 0; i < n; i++) {
		if (set[i] == NULL)
			continue;
		fa = &t->foreign_agents[i];
		check_keys(c, set[i], fa_keys);
		fa->line = line_of(set[i]);
		if ((s = get_addr(c, set[i], "address", true, &fa->address)))
			fa->address_line = line_of(s);
		parse_sa(c, set[i], &fa->sa);
	}
	check_fa_dups(c, t, set);
	free(set);
}

static void
parse_encapsulations(struct pctx *c, const config_setting_t *g,
    struct tenant_conf *t)
{
	const config_setting_t	*s, *e;
	char			 q[QUOTELEN];
	unsigned		 bits = 0;
	int			 i, n, v;

	if ((s = get(c, g, "encapsulations", K_SEQ, false)) == NULL)
		return;
	if ((n = config_setting_length(s)) == 0) {
		perr(c, s, "empty (list at least one of ipip, gre, minimal, "
		    "udp)");
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (!check_kind(c, e, K_STRING) ||
		    !check_enum(c, e, encap_names, &v))
			continue;
		if (bits & (unsigned)v)
			perr(c, e, "%s is listed twice",
			    quote(config_setting_get_string(e), q, sizeof(q)));
		bits |= (unsigned)v;
	}
	t->encapsulations = bits;
}

static void
parse_internal_networks(struct pctx *c, const config_setting_t *g,
    struct tenant_conf *t)
{
	const config_setting_t	*s, *e;
	size_t			 i, n;

	if ((s = get(c, g, "internal_networks", K_SEQ, false)) == NULL ||
	    (n = (size_t)config_setting_length(s)) == 0)
		return;
	if ((t->internal_networks = calloc(n, sizeof(struct addr_prefix))) ==
	    NULL) {
		c->errs->nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		if (check_kind(c, e, K_STRING) && check_prefix(c, e, 0,
		    &t->internal_networks[t->n_internal_networks]))
			t->n_internal_networks++;
	}
}

static void
parse_tenant(struct pctx *c, const config_setting_t *g, struct tenant_conf *t)
{
	const config_setting_t	*s, *name, *gw, *net;
	const char		*v;
	char			 q[QUOTELEN], a[ADDR_STRLEN];
	char			 p[ADDR_PREFIX_STRLEN];
	long long		 n;
	int			 e;
	size_t			 len;

	check_keys(c, g, tenant_keys);
	t->line = line_of(g);

	if ((name = get_str(c, g, "name", true, &v)) != NULL) {
		len = strlen(v);
		if (len == 0 || len > CONF_NAME_MAX || !name_chars_ok(v) ||
		    !((v[0] >= 'a' && v[0] <= 'z') ||
		    (v[0] >= 'A' && v[0] <= 'Z') ||
		    (v[0] >= '0' && v[0] <= '9'))) {
			perr(c, name, "%s is not a valid tenant name (1-%d "
			    "letters, digits, '.', '_', '-', starting with a "
			    "letter or digit)", quote(v, q, sizeof(q)),
			    CONF_NAME_MAX);
			name = NULL;
		} else {
			memcpy(t->name, v, len + 1);
			t->name_line = line_of(name);
		}
	}

	/* Linux routing tables 253-255 are default, main and local. */
	if ((s = get_int_raw(c, g, "table", true, &n)) != NULL) {
		if (n < 1 || n > UINT32_MAX)
			perr(c, s, "%lld is out of range (1-%lu)", n,
			    (unsigned long)UINT32_MAX);
		else if (n >= 253 && n <= 255)
			perr(c, s, "%lld is reserved (253 default, 254 main, "
			    "255 local)", n);
		else {
			t->table = (uint32_t)n;
			t->table_line = line_of(s);
		}
	}

	if ((gw = get_addr(c, g, "vpn_gateway", true, &t->vpn_gateway)))
		t->vpn_gateway_line = line_of(gw);
	net = get_prefix(c, g, "home_network", true, CONF_HOME_PREFIX_MIN,
	    &t->home_network);
	if (net != NULL)
		t->home_network_line = line_of(net);
	if (gw != NULL && net != NULL &&
	    addr_in_prefix(t->vpn_gateway, &t->home_network))
		perr(c, gw, "%s is inside home_network %s",
		    addr_ntoa(t->vpn_gateway, a),
		    addr_prefix_ntoa(&t->home_network, p));

	if ((s = get_prefix(c, g, "pool", false, 0, &t->pool)) != NULL &&
	    net != NULL) {
		if (!addr_prefix_within(&t->pool, &t->home_network))
			perr(c, s, "%s is not inside home_network %s",
			    addr_prefix_ntoa(&t->pool, p),
			    addr_prefix_ntoa(&t->home_network, q));
		else
			t->has_pool = true;
	}

	t->policy = CONF_POLICY_VPN_ONLY;
	if (get_enum(c, g, "policy", false, policy_names, &e))
		t->policy = (enum conf_policy)e;
	t->reverse_tunnel = CONF_RTUN_ALLOWED;
	if (get_enum(c, g, "reverse_tunnel", false, rtun_names, &e))
		t->reverse_tunnel = (enum conf_rtun)e;
	t->encapsulations = CONF_ENCAP_ALL;
	parse_encapsulations(c, g, t);
	t->max_bindings = CONF_DEFAULT_MAX_BINDINGS;
	if (get_int(c, g, "max_bindings", false, 1, CONF_MAX_BINDINGS_MAX, &n))
		t->max_bindings = (unsigned)n;
	parse_internal_networks(c, g, t);
	get_ifname(c, g, "home_interface", t->home_interface);

	if ((s = get_ifname(c, g, "tun_name", t->tun_name)) != NULL)
		t->tun_name_line = line_of(s);
	else if (config_setting_get_member(g, "tun_name") == NULL &&
	    name != NULL) {
		if (strlen(CONF_DEFAULT_TUN_PREFIX) + strlen(t->name) >=
		    CONF_IFNAMSIZ)
			perr(c, name, "%s is too long for the default tun_name "
			    "%s<name> (%d characters at most); set tun_name",
			    quote(t->name, q, sizeof(q)),
			    CONF_DEFAULT_TUN_PREFIX, CONF_IFNAMSIZ - 1);
		else {
			len = strlen(CONF_DEFAULT_TUN_PREFIX);
			memcpy(t->tun_name, CONF_DEFAULT_TUN_PREFIX, len);
			memcpy(t->tun_name + len, t->name,
			    strlen(t->name) + 1);
			t->tun_name_line = t->name_line;
			t->tun_name_default = true;
		}
	}

	parse_mobile_nodes(c, g, t, net != NULL);
	parse_foreign_agents(c, g, t);
}

int
tenant_conf_load(const char *path, struct tenant_conf **out,
    struct conf_errors *errs)
{
	struct pctx		 c = { path, errs, errs->n };
	struct tenant_conf	*t;
	config_t		 cfg;
	const config_setting_t	*root, *g;

	*out = NULL;
	if (read_cfg(&c, &cfg) == -1)
		return -1;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->file = strdup(path)) == NULL) {
		errs->nomem = true;
		free(t);
		close_cfg(&cfg);
		return -1;
	}
	root = config_root_setting(&cfg);
	check_keys(&c, root, root_tenant_keys);
	if ((g = get(&c, root, "tenant", K_GROUP, true)) != NULL)
		parse_tenant(&c, g, t);
	close_cfg(&cfg);
	errs_sort(errs, c.nerr);
	if (pctx_failed(&c)) {
		tenant_conf_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/*
 * Checks across tenants
 */

struct cross_dup {
	struct conf_errors		 *errs;
	struct tenant_conf *const	 *t;
	const char			 *key;	/* "name", "table", ... */
	bool				  addr;
};

static void
cross_dup_report(void *arg, const struct dupent *first,
    const struct dupent *dup)
{
	struct cross_dup		*cd = arg;
	const struct tenant_conf	*t0 = cd->t[first->a], *t1 = cd->t[dup->a];
	char				 val[QUOTELEN], path[PATHLEN];
	char				 q[QUOTELEN];

	if (first->a == dup->a)
		return;		/* inside one tenant: reported at its load */
	value_str(dup, val, sizeof(val), cd->addr);
	if (strcmp(cd->key, "home_address") == 0 || strcmp(cd->key, "nai") ==
	    0)
		snprintf(path, sizeof(path), "mobile_nodes[%zu].%s", dup->b,
		    cd->key);
	else if (strcmp(cd->key, "tun_name") == 0 && t1->tun_name_default)
		snprintf(path, sizeof(path), "tun_name (default)");
	else
		snprintf(path, sizeof(path), "%s", cd->key);
	cd->errs->rank = dup->a;
	if (strcmp(cd->key, "name") == 0)
		conf_errors_add(cd->errs, t1->file, dup->line,
		    "%s: %s is already used by %s:%u", path, val, t0->file,
		    first->line);
	else
		conf_errors_add(cd->errs, t1->file, dup->line,
		    "%s: %s is already used by tenant %s (%s:%u)", path, val,
		    quote(t0->name, q, sizeof(q)), t0->file, first->line);
}

static int
cross_dups(struct conf_errors *errs, struct tenant_conf *const *t, size_t n,
    const char *key)
{
	struct cross_dup	 cd = { errs, t, key,
	    strcmp(key, "home_address") == 0 };
	struct dupent		*d;
	size_t			 i, j, m = 0, cap = 0;

	if (strcmp(key, "home_address") == 0 || strcmp(key, "nai") == 0) {
		for (i = 0; i < n; i++)
			cap += t[i]->n_mobile_nodes;
	} else
		cap = n;
	if (cap < 2)
		return 0;
	if ((d = calloc(cap, sizeof(*d))) == NULL) {
		errs->nomem = true;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(key, "name") == 0)
			d[m++] = (struct dupent){ 0, t[i]->name, i, 0,
			    t[i]->name_line };
		else if (strcmp(key, "table") == 0)
			d[m++] = (struct dupent){ t[i]->table, NULL, i, 0,
			    t[i]->table_line };
		else if (strcmp(key, "tun_name") == 0)
			d[m++] = (struct dupent){ 0, t[i]->tun_name, i, 0,
			    t[i]->tun_name_line };
		else if (strcmp(key, "home_address") == 0) {
			for (j = 0; j < t[i]->n_mobile_nodes; j++)
				if (t[i]->mobile_nodes[j].home_address.s_addr)
					d[m++] = (struct dupent){ ntohl(
					    t[i]->mobile_nodes[j].home_address.
					    s_addr), NULL, i, j, t[i]->
					    mobile_nodes[j].home_address_line };
		} else {
			for (j = 0; j < t[i]->n_mobile_nodes; j++)
				if (t[i]->mobile_nodes[j].nai != NULL)
					d[m++] = (struct dupent){ 0,
					    t[i]->mobile_nodes[j].nai, i, j,
					    t[i]->mobile_nodes[j].nai_line };
		}
	}
	find_dups(d, m, cross_dup_report, &cd);
	free(d);
	return 0;
}

static int
net_cmp(const void *pa, const void *pb)
{
	const struct dupent	*x = pa, *y = pb;

	/* v: network (host order); line reused as the prefix length. */
	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->a < y->a ? -1 : x->a > y->a;
}

static void
report_overlap(struct conf_errors *errs, struct tenant_conf *const *t,
    size_t x, size_t y)
{
	const struct tenant_conf	*t0, *t1;
	char				 p0[ADDR_PREFIX_STRLEN];
	char				 p1[ADDR_PREFIX_STRLEN], q[QUOTELEN];

	/* Reported on the later tenant. */
	t0 = t[x < y ? x : y];
	t1 = t[x < y ? y : x];
	errs->rank = x < y ? y : x;
	conf_errors_add(errs, t1->file, t1->home_network_line,
	    "home_network: %s overlaps home_network %s of tenant %s (%s:%u)",
	    addr_prefix_ntoa(&t1->home_network, p1),
	    addr_prefix_ntoa(&t0->home_network, p0),
	    quote(t0->name, q, sizeof(q)), t0->file, t0->home_network_line);
}

static int
check_overlaps(struct conf_errors *errs, struct tenant_conf *const *t,
    size_t n)
{
	struct dupent	*d;
	size_t		*stk, nopen = 0, i, k;
	uint32_t	 last;

	if (n < 2)
		return 0;
	d = calloc(n, sizeof(*d));
	stk = calloc(n, sizeof(*stk));
	if (d == NULL || stk == NULL) {
		free(d);
		free(stk);
		errs->nomem = true;
		return -1;
	}
	for (i = 0; i < n; i++)
		d[i] = (struct dupent){ ntohl(t[i]->home_network.addr.s_addr),
		    NULL, i, 0, t[i]->home_network.len };
	qsort(d, n, sizeof(*d), net_cmp);
	/*
	 * Prefixes either nest or are disjoint.  Sorted by start, wider
	 * first, the prefixes still open at a start all contain it: each
	 * such pair is one overlap.
	 */
	for (i = 0; i < n; i++) {
		while (nopen > 0) {
			last = ntohl(addr_prefix_last(
			    &t[d[stk[nopen - 1]].a]->home_network).s_addr);
			if (last >= d[i].v)
				break;
			nopen--;
		}
		for (k = 0; k < nopen; k++)
			report_overlap(errs, t, d[stk[k]].a, d[i].a);
		stk[nopen++] = i;
	}
	free(stk);
	free(d);
	return 0;
}

int
conf_check_tenants(const struct ha_conf *ha, struct tenant_conf *const *t,
    size_t n, struct conf_errors *errs)
{
	size_t		 i, j, nerr = errs->n;
	char		 a[ADDR_STRLEN], p[ADDR_PREFIX_STRLEN], q[QUOTELEN];
	static const char *const keys[] = {
		"name", "table", "tun_name", "home_address", "nai"
	};

	for (i = 0; i < nitems(keys); i++)
		cross_dups(errs, t, n, keys[i]);
	check_overlaps(errs, t, n);
	for (i = 0; i < n; i++) {
		errs->rank = i;
		if (ha != NULL && ha->address.s_addr != INADDR_ANY &&
		    addr_in_prefix(ha->address, &t[i]->home_network))
			conf_errors_add(errs, t[i]->file,
			    t[i]->home_network_line, "home_network: %s "
			    "contains the HA address %s (%s:%u)",
			    addr_prefix_ntoa(&t[i]->home_network, p),
			    addr_ntoa(ha->address, a), ha->file,
			    ha->address_line);
		/* The gateway would be routed into another tenant's TUN. */
		for (j = 0; j < n; j++)
			if (j != i && addr_in_prefix(t[i]->vpn_gateway,
			    &t[j]->home_network))
				conf_errors_add(errs, t[i]->file,
				    t[i]->vpn_gateway_line, "vpn_gateway: %s is inside "
				    "home_network %s of tenant %s (%s:%u)",
				    addr_ntoa(t[i]->vpn_gateway, a),
				    addr_prefix_ntoa(&t[j]->home_network, p),
				    quote(t[j]->name, q, sizeof(q)),
				    t[j]->file, t[j]->home_network_line);
	}
	errs->rank = 0;
	errs_sort(errs, nerr);
	return errs->n > nerr || errs->nomem ? -1 : 0;
}

/*
 * Everything
 */

int
conf_add_tenant(struct mipha_conf *conf, struct tenant_conf *t)
{
	struct tenant_conf	**v;

	if ((v = realloc(conf->tenants, (conf->ntenants + 1) * sizeof(*v))) ==
	    NULL)
		return -1;
	conf->tenants = v;
	conf->tenants[conf->ntenants++] = t;
	return 0;
}

int
conf_load(const char *path, struct mipha_conf **out, struct conf_errors *errs)
{
	struct mipha_conf	*conf;
	struct tenant_conf	*t;
	char			**paths;
	size_t			  i, n, nerr = errs->n;
	bool			  ok;

	*out = NULL;
	if ((conf = load_main(path, errs, &ok)) == NULL)
		return -1;
	if (conf->ha.tenants_path != NULL &&
	    conf_tenant_files(&conf->ha, &paths, &n, errs) == 0) {
		for (i = 0; i < n; i++) {
			if (tenant_conf_load(paths[i], &t, errs) == -1)
				continue;
			if (conf_add_tenant(conf, t) == -1) {
				errs->nomem = true;
				tenant_conf_free(t);
			}
		}
		conf_tenant_files_free(paths, n);
	}
	conf_check_tenants(ok ? &conf->ha : NULL, conf->tenants,
	    conf->ntenants, errs);
	if (errs->n > nerr || errs->nomem) {
		conf_free(conf);
		return -1;
	}
	*out = conf;
	return 0;
}

void
tenant_conf_free(struct tenant_conf *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n_mobile_nodes; i++) {
		free(t->mobile_nodes[i].nai);
		OPENSSL_cleanse(&t->mobile_nodes[i].sa,
		    sizeof(t->mobile_nodes[i].sa));
	}
	free(t->mobile_nodes);
	for (i = 0; i < t->n_foreign_agents; i++)
		OPENSSL_cleanse(&t->foreign_agents[i].sa,
		    sizeof(t->foreign_agents[i].sa));
	free(t->foreign_agents);
	free(t->internal_networks);
	free(t->file);
	free(t);
}

void
conf_free(struct mipha_conf *conf)
{
	size_t	 i;

	if (conf == NULL)
		return;
	free(conf->ha.file);
	free(conf->ha.control_socket);
	free(conf->ha.state_dir);
	free(conf->ha.user);
	free(conf->ha.tenants_dir);
	free(conf->ha.tenants_path);
	for (i = 0; i < conf->ntenants; i++)
		tenant_conf_free(conf->tenants[i]);
	free(conf->tenants);
	free(conf);
}
