/*
 * emit.c - structured output rendered as JSON or as text (see emit.h).
 *
 * Output goes into a list of chunks, never one huge buffer: the control
 * server writes the head chunk as the socket drains and frees it.  Text
 * tables are buffered as cell records (their column widths are known
 * only at the end) and rendered when the array closes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"

#define CHUNK_SIZE	(64 * 1024)
#define PATH_MAX_LEN	256		/* dotted key path in text mode */
#define COLUMNS_MAX	64		/* columns of a text table */
#define COLUMN_GAP	2		/* spaces between table columns */
#define ROW_END		UINT16_MAX	/* cell record that ends a row */
#define WIDTH_MAX	UINT16_MAX	/* wider cells are not padded right */

struct chunk {
	struct chunk	*next;
	size_t		 off;		/* consumed */
	size_t		 len;		/* filled */
	size_t		 cap;
	char		 data[];
};

struct chunks {
	struct chunk	*head, *tail;
	size_t		 pending;	/* filled and not consumed */
};

/* A scalar on its way to a rendering. */
struct val {
	enum { V_STR, V_NULL, V_BOOL, V_UINT, V_INT } type;
	const char	*s;
	size_t		 slen;
	bool		 b;
	uint64_t	 u;
	int64_t		 i;
};

enum frame_kind {
	F_OBJECT,
	F_ARRAY
};

/* How text mode treats what arrives inside a frame. */
enum text_mode {
	M_LINES,	/* object outside a table: "path: value" lines */
	M_UNDECIDED,	/* array outside a table, first element not seen */
	M_TABLE,	/* array of objects: one row per element */
	M_ROW,		/* object inside a table row */
	M_CELL,		/* array inside a row: its values form one cell */
	M_LIST		/* array of scalars outside a table */
};

struct frame {
	enum frame_kind	 kind;
	enum text_mode	 mode;
	size_t		 count;		/* members or elements so far */
	size_t		 pathlen;	/* path length to restore at the end */
	bool		 owner;		/* M_CELL/M_LIST: started the cell/list */
	bool		 direct;	/* M_LIST: one value per line */
	bool		 rowobj;	/* M_ROW: the row's own object */
};

struct column {
	char		*name;
	size_t		 width;
	bool		 numeric;	/* right-aligned */
};

/* Header of a buffered table cell; its bytes follow. */
struct cellhdr {
	uint16_t	 col;		/* or ROW_END */
	uint16_t	 width;		/* characters, at most WIDTH_MAX */
	uint32_t	 len;		/* bytes */
};

struct table {
	struct column	 cols[COLUMNS_MAX];
	size_t		 ncols;
	struct chunks	 cells;		/* records: col, len, width, bytes */
	size_t		 cellbytes;	/* counted in emit.used */
	size_t		 hint;		/* likely column of the next cell */
	size_t		 rowbase;	/* path length at the row's start */
	size_t		 rows;
};

/* A growable string: list lines and cell values being joined. */
struct sbuf {
	char		*s;
	size_t		 len, cap;
};

struct emit {
	enum emit_format fmt;
	struct chunks	 out;
	size_t		 used, limit;
	bool		 failed;
	bool		 done;		/* the top-level value is complete */
	char		 errmsg[128];
	int		 depth;
	struct frame	 stack[EMIT_DEPTH_MAX];

	/* text rendering */
	char		 path[PATH_MAX_LEN];
	size_t		 pathlen;
	struct sbuf	 acc;		/* the list or cell being joined */
	size_t		 acc_count;
	size_t		 acc_width;
	bool		 acc_numeric;
	struct table	 tab;
};

static void
fail(struct emit *e, const char *fmt, ...)
    __attribute__((__format__(__printf__, 2, 3)));

static void
fail(struct emit *e, const char *fmt, ...)
{
	va_list	 ap;

	if (e->failed)
		return;
	e->failed = true;
	va_start(ap, fmt);
	vsnprintf(e->errmsg, sizeof(e->errmsg), fmt, ap);
	va_end(ap);
}

/* --- chunk lists --------------------------------------------------- */

static void
chunks_free(struct chunks *c)
{
	struct chunk *ch, *next;

	for (ch = c->head; ch != NULL; ch = next) {
		next = ch->next;
		free(ch);
	}
	c->head = c->tail = NULL;
	c->pending = 0;
}

static bool
charge(struct emit *e, size_t n)
{
	if (e->failed)
		return false;
	if (n > e->limit || e->used > e->limit - n) {
		fail(e, "output larger than %zu bytes", e->limit);
		return false;
	}
	e->used += n;
	return true;
}

/* n contiguous bytes at the end of c, or NULL (error set). */
static char *
chunks_reserve(struct emit *e, struct chunks *c, size_t n)
{
	struct chunk *ch = c->tail;
	char	*p;

	if (ch == NULL || ch->cap - ch->len < n) {
		size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;

		if ((ch = malloc(sizeof(*ch) + cap)) == NULL) {
			fail(e, "out of memory");
			return NULL;
		}
		ch->next = NULL;
		ch->off = ch->len = 0;
		ch->cap = cap;
		if (c->tail != NULL)
			c->tail->next = ch;
		else
			c->head = ch;
		c->tail = ch;
	}
	p = ch->data + ch->len;
	ch->len += n;
	c->pending += n;
	return p;
}

/* Append n bytes to the output, splitting them over chunks. */
static void
put(struct emit *e, const void *data, size_t n)
{
	struct chunk *ch = e->out.tail;
	const char *p = data;

	/* The common case: it fits in the current chunk. */
	if (ch != NULL && ch->cap - ch->len >= n && !e->failed &&
	    n <= e->limit && e->used <= e->limit - n) {
		memcpy(ch->data + ch->len, p, n);
		ch->len += n;
		e->out.pending += n;
		e->used += n;
		return;
	}
	if (n == 0 || !charge(e, n))
		return;
	while (n > 0) {
		size_t	 room, k;
		char	*dst;

		ch = e->out.tail;
		room = ch != NULL ? ch->cap - ch->len : 0;
		k = room == 0 ? (n < CHUNK_SIZE ? n : CHUNK_SIZE) :
		    (n < room ? n : room);
		if ((dst = chunks_reserve(e, &e->out, k)) == NULL)
			return;
		memcpy(dst, p, k);
		p += k;
		n -= k;
	}
}

static void
put_str(struct emit *e, const char *s)
{
	put(e, s, strlen(s));
}

static void
putspaces(struct emit *e, size_t n)
{
	static const char spaces[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		put(e, spaces, k);
		n -= k;
	}
}

/* --- strings ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n > 0 bytes left), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t	 len, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] < 0xc2)		/* continuation byte, or overlong */
		return 0;
	if (p[0] < 0xe0) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] < 0xf0) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] < 0xf5) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static void
json_string(struct emit *e, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t	 i = 0, run = 0, len;
	uint32_t cp;
	char	 esc[6];

	put(e, "\"", 1);
	while (i < n) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;			/* printable ASCII */
			continue;
		}
		if (c >= 0x80 && (len = utf8_len(p + i, n - i, &cp)) > 0) {
			i += len;		/* valid UTF-8 passes through */
			continue;
		}
		put(e, p + run, i - run);
		if (c == '"')
			put(e, "\\\"", 2);
		else if (c == '\\')
			put(e, "\\\\", 2);
		else if (c == '\n')
			put(e, "\\n", 2);
		else if (c == '\t')
			put(e, "\\t", 2);
		else if (c == '\r')
			put(e, "\\r", 2);
		else {
			/* Control character, DEL, or a byte of invalid UTF-8. */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			put(e, esc, 6);
		}
		i++;
		run = i;
	}
	put(e, p + run, n - run);
	put(e, "\"", 1);
}

/* Decimal digits of v into buf (at least 21 bytes); returns the length. */
static size_t
fmt_u64(char *buf, uint64_t v)
{
	char	 tmp[20];
	size_t	 n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

static size_t
fmt_i64(char *buf, int64_t v)
{
	if (v >= 0)
		return fmt_u64(buf, (uint64_t)v);
	buf[0] = '-';
	return 1 + fmt_u64(buf + 1, -(uint64_t)v);
}

/*
 * Text form of s: control characters, DEL, C1 controls and invalid
 * UTF-8 become '?'.  Writes to dst unless NULL; returns the length and
 * sets *width to the number of characters.
 */
static size_t
text_clean(const char *s, size_t n, char *dst, size_t *width)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t	 i = 0, out = 0, w = 0, len;
	uint32_t cp;

	while (i < n) {
		if (p[i] >= 0x20 && p[i] < 0x7f) {	/* printable ASCII */
			if (dst != NULL)
				dst[out] = (char)p[i];
			out++;
			i++;
			w++;
			continue;
		}
		len = utf8_len(p + i, n - i, &cp);
		if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			if (dst != NULL)
				dst[out] = '?';
			out++;
			i += len == 0 ? 1 : len;
		} else {
			if (dst != NULL)
				memcpy(dst + out, p + i, len);
			out += len;
			i += len;
		}
		w++;
	}
	if (width != NULL)
		*width = w;
	return out;
}

/* --- values -------------------------------------------------------- */

static void
json_value(struct emit *e, const struct val *v)
{
	char	 num[24];

	switch (v->type) {
	case V_STR:
		json_string(e, v->s, v->slen);
		break;
	case V_NULL:
		put(e, "null", 4);
		break;
	case V_BOOL:
		put_str(e, v->b ? "true" : "false");
		break;
	case V_UINT:
		put(e, num, fmt_u64(num, v->u));
		break;
	case V_INT:
		put(e, num, fmt_i64(num, v->i));
		break;
	}
}

/*
 * The text of v: either a literal in num, or a string that still needs
 * text_clean() (*raw true).
 */
static void
text_value(const struct val *v, char *num, size_t numlen, const char **s,
    size_t *n, bool *raw)
{
	*raw = false;
	switch (v->type) {
	case V_STR:
		*s = v->s;
		*n = v->slen;
		*raw = true;
		return;
	case V_NULL:
		*s = "-";
		break;
	case V_BOOL:
		*s = v->b ? "yes" : "no";
		break;
	case V_UINT:
	case V_INT:
		*s = num;
		if (numlen < 22)
			num[0] = '\0';
		else if (v->type == V_UINT)
			fmt_u64(num, v->u);
		else
			fmt_i64(num, v->i);
		break;
	}
	*n = strlen(*s);
}

static bool
is_numeric(const struct val *v)
{
	return v->type == V_UINT || v->type == V_INT || v->type == V_NULL;
}

/* Append the text of v to out. */
static void
text_put_value(struct emit *e, const struct val *v)
{
	char	 num[24], small[256], *dst = small;
	const char *s;
	size_t	 n, len;
	bool	 raw;

	text_value(v, num, sizeof(num), &s, &n, &raw);
	if (!raw) {
		put(e, s, n);
		return;
	}
	len = text_clean(s, n, NULL, NULL);
	if (len > sizeof(small)) {
		if ((dst = malloc(len)) == NULL) {
			fail(e, "out of memory");
			return;
		}
	}
	text_clean(s, n, dst, NULL);
	put(e, dst, len);
	if (dst != small)
		free(dst);
}

/* --- text: paths, lists, tables ------------------------------------ */

static void
path_push(struct emit *e, const char *key)
{
	size_t	 n;

	if (key == NULL)
		return;
	n = strlen(key);
	if (e->pathlen + 1 + n + 1 > sizeof(e->path)) {
		fail(e, "key path too long");
		return;
	}
	if (e->pathlen > 0)
		e->path[e->pathlen++] = '.';
	memcpy(e->path + e->pathlen, key, n + 1);
	e->pathlen += n;
}

static void
path_restore(struct emit *e, size_t len)
{
	e->pathlen = len;
	e->path[len] = '\0';
}

/* path[from..] joined with key by '.', into buf. */
static const char *
path_name(struct emit *e, size_t from, const char *key, char *buf,
    size_t len)
{
	const char *rel = e->path + from;

	if (*rel == '.')
		rel++;
	if (*rel == '\0' && key != NULL)
		return key;		/* the usual flat row: no copy */
	if (key == NULL)
		snprintf(buf, len, "%s", rel);
	else
		snprintf(buf, len, "%s%s%s", rel, *rel != '\0' ? "." : "",
		    key);
	return buf;
}

static void
sbuf_add(struct emit *e, struct sbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t	 cap = b->cap ? b->cap : 64;
		char	*p;

		while (cap - b->len < n + 1)
			cap *= 2;
		if (!charge(e, cap - b->cap))
			return;
		if ((p = realloc(b->s, cap)) == NULL) {
			fail(e, "out of memory");
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
acc_reset(struct emit *e)
{
	e->acc.len = 0;
	if (e->acc.s != NULL)
		e->acc.s[0] = '\0';
	e->acc_count = 0;
	e->acc_width = 0;
	e->acc_numeric = true;
}

static void
acc_add(struct emit *e, const struct val *v, const char *sep)
{
	char	 num[24], small[256], *dst = small;
	const char *s;
	size_t	 n, len, w;
	bool	 raw;

	if (e->acc_count++ > 0) {
		sbuf_add(e, &e->acc, sep, strlen(sep));
		e->acc_width += strlen(sep);
	}
	if (!is_numeric(v))
		e->acc_numeric = false;
	text_value(v, num, sizeof(num), &s, &n, &raw);
	if (!raw) {
		sbuf_add(e, &e->acc, s, n);
		e->acc_width += n;
		return;
	}
	len = text_clean(s, n, NULL, &w);
	if (len > sizeof(small) && (dst = malloc(len)) == NULL) {
		fail(e, "out of memory");
		return;
	}
	text_clean(s, n, dst, NULL);
	sbuf_add(e, &e->acc, dst, len);
	e->acc_width += w;
	if (dst != small)
		free(dst);
}

static int
column(struct emit *e, const char *name)
{
	struct table *t = &e->tab;
	size_t	 i;

	if (t->hint < t->ncols && strcmp(t->cols[t->hint].name, name) == 0)
		return (int)t->hint++;
	for (i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0) {
			t->hint = i + 1;
			return (int)i;
		}
	if (t->ncols == COLUMNS_MAX) {
		fail(e, "more than %d table columns", COLUMNS_MAX);
		return -1;
	}
	if ((t->cols[i].name = strdup(name)) == NULL) {
		fail(e, "out of memory");
		return -1;
	}
	text_clean(name, strlen(name), NULL, &t->cols[i].width);
	t->cols[i].numeric = true;
	t->ncols++;
	t->hint = i + 1;
	return (int)i;
}

/* Record one cell: a struct cellhdr, then the (clean) bytes. */
static void
cell_record(struct emit *e, uint16_t col, const char *s, size_t n,
    size_t width, bool raw)
{
	struct table *t = &e->tab;
	struct cellhdr h;
	size_t	 len;
	char	*p;

	len = raw ? text_clean(s, n, NULL, &width) : n;
	if (len > UINT32_MAX - sizeof(h)) {
		fail(e, "table cell too large");
		return;
	}
	if (!charge(e, sizeof(h) + len))
		return;
	if ((p = chunks_reserve(e, &t->cells, sizeof(h) + len)) == NULL)
		return;
	t->cellbytes += sizeof(h) + len;
	if (width > WIDTH_MAX)
		width = WIDTH_MAX;
	h.col = col;
	h.width = (uint16_t)width;
	h.len = (uint32_t)len;
	memcpy(p, &h, sizeof(h));
	if (raw)
		text_clean(s, n, p + sizeof(h), NULL);
	else
		memcpy(p + sizeof(h), s, n);
	if (col != ROW_END && width > t->cols[col].width)
		t->cols[col].width = width;
}

static void
cell(struct emit *e, const char *name, const char *s, size_t n,
    size_t width, bool raw, bool numeric)
{
	int	 col;

	if ((col = column(e, name)) == -1)
		return;
	if (!numeric)
		e->tab.cols[col].numeric = false;
	if (n == 0) {
		s = "-";
		n = width = 1;
		raw = false;
	}
	cell_record(e, (uint16_t)col, s, n, width, raw);
}

static void
cell_value(struct emit *e, const char *name, const struct val *v)
{
	char	 num[24];
	const char *s;
	size_t	 n;
	bool	 raw;

	text_value(v, num, sizeof(num), &s, &n, &raw);
	cell(e, name, s, n, n, raw, is_numeric(v));
}

static void
row_end(struct emit *e)
{
	cell_record(e, ROW_END, "", 0, 0, false);
	e->tab.rows++;
	e->tab.hint = 0;
}

static void
table_reset(struct emit *e)
{
	struct table *t = &e->tab;
	size_t	 i;

	for (i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	chunks_free(&t->cells);
	e->used -= t->cellbytes;
	memset(t, 0, sizeof(*t));
}

struct cellref {
	const char	*s;
	size_t		 len, width;
};

static void
render_cell(struct emit *e, const struct column *c, const char *s,
    size_t len, size_t width, bool last)
{
	size_t pad = c->width > width ? c->width - width : 0;

	if (c->numeric)
		putspaces(e, pad);
	put(e, s, len);
	if (!c->numeric && !last)
		putspaces(e, pad);
	if (!last)
		putspaces(e, COLUMN_GAP);
}

/* Print the buffered table with a header; indent nested tables. */
static void
table_render(struct emit *e, const char *title)
{
	struct table *t = &e->tab;
	struct cellref *refs;
	struct chunk *ch;
	size_t	 i, indent = 0;

	if (e->failed || t->rows == 0 || t->ncols == 0)
		return;
	if (title != NULL && *title != '\0') {
		put_str(e, title);
		put_str(e, ":\n");
		indent = 2;
	}
	if ((refs = calloc(t->ncols, sizeof(*refs))) == NULL) {
		fail(e, "out of memory");
		return;
	}
	putspaces(e, indent);
	for (i = 0; i < t->ncols; i++) {
		size_t w;

		text_clean(t->cols[i].name, strlen(t->cols[i].name), NULL, &w);
		render_cell(e, &t->cols[i], t->cols[i].name,
		    strlen(t->cols[i].name), w, i + 1 == t->ncols);
	}
	put(e, "\n", 1);

	for (ch = t->cells.head; ch != NULL && !e->failed; ch = ch->next) {
		size_t off = 0;

		while (off < ch->len) {
			struct cellhdr h;

			memcpy(&h, ch->data + off, sizeof(h));
			off += sizeof(h);
			if (h.col != ROW_END) {
				refs[h.col].s = ch->data + off;
				refs[h.col].len = h.len;
				refs[h.col].width = h.width;
				off += h.len;
				continue;
			}
			putspaces(e, indent);
			for (i = 0; i < t->ncols; i++) {
				if (refs[i].s == NULL)
					render_cell(e, &t->cols[i], "-", 1, 1,
					    i + 1 == t->ncols);
				else
					render_cell(e, &t->cols[i], refs[i].s,
					    refs[i].len, refs[i].width,
					    i + 1 == t->ncols);
				refs[i].s = NULL;
			}
			put(e, "\n", 1);
			/*
			 * Rows before this one are out: free their chunks so
			 * the cells and the text are not held twice.
			 */
			while (t->cells.head != ch) {
				struct chunk *done = t->cells.head;

				t->cells.head = done->next;
				t->cellbytes -= done->len;
				e->used -= done->len;
				free(done);
			}
		}
	}
	free(refs);
}

/* "name: value" line. */
static void
text_line(struct emit *e, const char *name, const struct val *v)
{
	if (name != NULL && *name != '\0') {
		put_str(e, name);
		put(e, ": ", 2);
	}
	text_put_value(e, v);
	put(e, "\n", 1);
}

static void
text_scalar(struct emit *e, const char *key, const struct val *v)
{
	struct frame *f;
	char	 name[PATH_MAX_LEN + 64];

	if (e->depth == 0) {
		text_line(e, NULL, v);
		return;
	}
	f = &e->stack[e->depth - 1];
	switch (f->mode) {
	case M_LINES:
		text_line(e, path_name(e, 0, key, name, sizeof(name)), v);
		break;
	case M_UNDECIDED:
		f->mode = M_LIST;
		f->owner = true;
		f->direct = e->depth == 1;
		acc_reset(e);
		/* FALLTHROUGH */
	case M_LIST:
		if (f->direct)
			text_line(e, NULL, v);
		else
			acc_add(e, v, ", ");
		break;
	case M_TABLE:
		cell_value(e, "value", v);
		row_end(e);
		break;
	case M_ROW:
		cell_value(e, path_name(e, e->tab.rowbase, key, name,
		    sizeof(name)), v);
		break;
	case M_CELL:
		acc_add(e, v, ",");
		break;
	}
}

static void
text_begin(struct emit *e, const char *key, enum frame_kind kind,
    struct frame *nf)
{
	struct frame *f;

	nf->mode = kind == F_OBJECT ? M_LINES : M_UNDECIDED;
	if (e->depth == 0)
		return;
	f = &e->stack[e->depth - 1];
	switch (f->mode) {
	case M_LINES:
		path_push(e, key);
		return;
	case M_UNDECIDED:
		if (kind == F_OBJECT) {
			f->mode = M_TABLE;
			table_reset(e);
		} else {
			f->mode = M_LIST;
			f->owner = true;
			f->direct = e->depth == 1;
			acc_reset(e);
		}
		text_begin(e, key, kind, nf);
		return;
	case M_TABLE:
		e->tab.rowbase = e->pathlen;
		if (kind == F_OBJECT) {
			nf->mode = M_ROW;
			nf->rowobj = true;
		} else {
			nf->mode = M_CELL;
			nf->owner = true;
			acc_reset(e);
		}
		return;
	case M_ROW:
		path_push(e, key);
		if (kind == F_OBJECT)
			nf->mode = M_ROW;
		else {
			nf->mode = M_CELL;
			nf->owner = true;
			acc_reset(e);
		}
		return;
	case M_CELL:
		nf->mode = M_CELL;
		return;
	case M_LIST:
		nf->mode = M_LIST;
		nf->direct = f->direct;
		return;
	}
}

/* Called with the frame popped but the path not yet restored. */
static void
text_end(struct emit *e, const struct frame *f)
{
	char	 name[PATH_MAX_LEN + 64];

	switch (f->mode) {
	case M_LINES:
		break;
	case M_UNDECIDED:
		/* An empty array. */
		if (e->depth > 0 && e->pathlen > 0) {
			put_str(e, e->path);
			put_str(e, ": -\n");
		}
		break;
	case M_LIST:
		if (f->owner && !f->direct) {
			if (e->pathlen > 0) {
				put_str(e, e->path);
				put(e, ": ", 2);
			}
			put(e, e->acc.s, e->acc.len);
			put(e, "\n", 1);
		}
		break;
	case M_TABLE:
		table_render(e, e->depth > 0 ? e->path : NULL);
		table_reset(e);
		break;
	case M_ROW:
		if (f->rowobj)
			row_end(e);
		break;
	case M_CELL:
		if (f->owner) {
			path_name(e, e->tab.rowbase, NULL, name, sizeof(name));
			cell(e, name[0] != '\0' ? name : "value", e->acc.s,
			    e->acc.len, e->acc_width, false,
			    e->acc_numeric && e->acc_count == 1);
			if (f->rowobj || e->stack[e->depth - 1].mode == M_TABLE)
				row_end(e);
		}
		break;
	}
}

/* --- common front end ---------------------------------------------- */

/* Checks and JSON separators before a value or container. */
static bool
prefix(struct emit *e, const char *key)
{
	struct frame *f;

	if (e->failed)
		return false;
	if (e->depth == 0) {
		if (e->done) {
			fail(e, "more than one top-level value");
			return false;
		}
		return true;
	}
	f = &e->stack[e->depth - 1];
	if (f->kind == F_OBJECT && key == NULL) {
		fail(e, "object member without a key");
		return false;
	}
	if (e->fmt == EMIT_JSON) {
		if (f->count > 0)
			put(e, ",", 1);
		if (e->depth == 1)
			put(e, "\n  ", 3);
		else if (f->count > 0)
			put(e, " ", 1);
		if (f->kind == F_OBJECT) {
			json_string(e, key, strlen(key));
			put(e, ": ", 2);
		}
	}
	f->count++;
	return true;
}

static void
scalar(struct emit *e, const char *key, const struct val *v)
{
	if (e == NULL || !prefix(e, key))
		return;
	if (e->fmt == EMIT_JSON) {
		json_value(e, v);
		if (e->depth == 0)
			put(e, "\n", 1);
	} else
		text_scalar(e, key, v);
	if (e->depth == 0)
		e->done = true;
}

static void
begin(struct emit *e, const char *key, enum frame_kind kind)
{
	struct frame nf;

	if (e == NULL || !prefix(e, key))
		return;
	if (e->depth == EMIT_DEPTH_MAX) {
		fail(e, "nesting deeper than %d", EMIT_DEPTH_MAX);
		return;
	}
	memset(&nf, 0, sizeof(nf));
	nf.kind = kind;
	nf.pathlen = e->pathlen;
	if (e->fmt == EMIT_JSON)
		put(e, kind == F_OBJECT ? "{" : "[", 1);
	else
		text_begin(e, key, kind, &nf);
	e->stack[e->depth++] = nf;
}

static void
end(struct emit *e, enum frame_kind kind)
{
	struct frame f;

	if (e == NULL || e->failed)
		return;
	if (e->depth == 0 || e->stack[e->depth - 1].kind != kind) {
		fail(e, "%s end without its begin",
		    kind == F_OBJECT ? "object" : "array");
		return;
	}
	f = e->stack[--e->depth];
	if (e->fmt == EMIT_JSON) {
		if (e->depth == 0 && f.count > 0)
			put(e, "\n", 1);
		put(e, kind == F_OBJECT ? "}" : "]", 1);
		if (e->depth == 0)
			put(e, "\n", 1);
	} else
		text_end(e, &f);
	path_restore(e, f.pathlen);
	if (e->depth == 0)
		e->done = true;
}

struct emit *
emit_new(enum emit_format fmt)
{
	struct emit *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->fmt = fmt == EMIT_JSON ? EMIT_JSON : EMIT_TEXT;
	e->limit = EMIT_LIMIT_DEFAULT;
	return e;
}

void
emit_free(struct emit *e)
{
	if (e == NULL)
		return;
	table_reset(e);
	chunks_free(&e->out);
	free(e->acc.s);
	free(e);
}

enum emit_format
emit_format(const struct emit *e)
{
	return e->fmt;
}

void
emit_set_limit(struct emit *e, size_t limit)
{
	e->limit = limit;
}

void
emit_array_begin(struct emit *e, const char *key)
{
	begin(e, key, F_ARRAY);
}

void
emit_array_end(struct emit *e)
{
	end(e, F_ARRAY);
}

void
emit_object_begin(struct emit *e, const char *key)
{
	begin(e, key, F_OBJECT);
}

void
emit_object_end(struct emit *e)
{
	end(e, F_OBJECT);
}

void
emit_str(struct emit *e, const char *key, const char *s)
{
	struct val v = { .type = V_STR, .s = s };

	if (s == NULL)
		v.type = V_NULL;
	else
		v.slen = strlen(s);
	scalar(e, key, &v);
}

void
emit_strf(struct emit *e, const char *key, const char *fmt, ...)
{
	struct val v = { .type = V_STR };
	va_list	 ap;
	char	 small[256], *s = small;
	int	 n;

	if (e == NULL || e->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		fail(e, "bad format string");
		return;
	}
	if ((size_t)n >= sizeof(small)) {
		if ((s = malloc((size_t)n + 1)) == NULL) {
			fail(e, "out of memory");
			return;
		}
		va_start(ap, fmt);
		vsnprintf(s, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	v.s = s;
	v.slen = (size_t)n;
	scalar(e, key, &v);
	if (s != small)
		free(s);
}

void
emit_uint(struct emit *e, const char *key, uint64_t u)
{
	struct val v = { .type = V_UINT, .u = u };

	scalar(e, key, &v);
}

void
emit_int(struct emit *e, const char *key, int64_t i)
{
	struct val v = { .type = V_INT, .i = i };

	scalar(e, key, &v);
}

void
emit_bool(struct emit *e, const char *key, bool b)
{
	struct val v = { .type = V_BOOL, .b = b };

	scalar(e, key, &v);
}

void
emit_null(struct emit *e, const char *key)
{
	struct val v = { .type = V_NULL };

	scalar(e, key, &v);
}

void
emit_addr(struct emit *e, const char *key, struct in_addr a)
{
	const unsigned char *b = (const unsigned char *)&a.s_addr;
	char	 buf[INET_ADDRSTRLEN];
	struct val v = { .type = V_STR, .s = buf };
	size_t	 n = 0;
	int	 i;

	/* s_addr is in network order: b[0] is the first octet. */
	for (i = 0; i < 4; i++) {
		if (i > 0)
			buf[n++] = '.';
		n += fmt_u64(buf + n, b[i]);
	}
	v.slen = n;
	scalar(e, key, &v);
}

int
emit_finish(struct emit *e)
{
	if (!e->failed && e->depth > 0)
		fail(e, "%d unclosed array or object", e->depth);
	return e->failed ? -1 : 0;
}

const char *
emit_error(const struct emit *e)
{
	return e->failed ? e->errmsg : NULL;
}

size_t
emit_pending(const struct emit *e)
{
	return e->out.pending;
}

const char *
emit_peek(const struct emit *e, size_t *len)
{
	const struct chunk *ch = e->out.head;

	if (ch == NULL || ch->off == ch->len) {
		*len = 0;
		return NULL;
	}
	*len = ch->len - ch->off;
	return ch->data + ch->off;
}

void
emit_consume(struct emit *e, size_t n)
{
	struct chunk *ch;

	while (n > 0 && (ch = e->out.head) != NULL) {
		size_t k = ch->len - ch->off;

		if (k > n)
			k = n;
		ch->off += k;
		n -= k;
		e->out.pending -= k;
		if (ch->off == ch->len) {
			e->out.head = ch->next;
			if (e->out.tail == ch)
				e->out.tail = NULL;
			/* Freed output no longer counts against the limit. */
			e->used -= ch->len;
			free(ch);
		}
	}
}

char *
emit_take(struct emit *e, size_t *len)
{
	size_t	 n = 0, k;
	char	*s;
	const char *p;

	if ((s = malloc(e->out.pending + 1)) == NULL)
		return NULL;
	while ((p = emit_peek(e, &k)) != NULL) {
		memcpy(s + n, p, k);
		n += k;
		emit_consume(e, k);
	}
	s[n] = '\0';
	if (len != NULL)
		*len = n;
	return s;
}
