/*
 * emit.h - structured output with a JSON and a text rendering.
 *
 * A control handler describes its data once, as nested arrays, objects
 * and scalars; the emitter renders it as JSON for scripts or as text
 * for operators, into a growable buffer of chunks that the control
 * server drains into the socket (and frees) as the client reads.
 *
 * JSON (RFC 8259): compact values, the members or elements of the
 * top-level container one per line, a final LF.  Strings are UTF-8:
 * valid UTF-8 passes through; '"', '\\' and bytes below 0x20 and 0x7f
 * are escaped; every byte that is not part of a valid UTF-8 sequence
 * is written as \u00XX (read as Latin-1), so the output is always
 * valid JSON and no input byte is lost.  A NULL string is null.
 *
 * Text: an array of objects is an aligned table, one row per object, a
 * header of the keys (nested keys as "parent.key"; arrays inside a row
 * join their values with ","), numeric columns right-aligned, missing
 * and empty cells "-".  Outside tables each scalar is a "key: value"
 * line, keys of nested objects as "parent.key"; an array of scalars is
 * one "key: a, b" line (one value per line at the top).  Booleans are
 * yes/no, null is "-"; control characters and invalid UTF-8 print '?'.
 *
 * Misuse (a missing key inside an object, unbalanced begin/end, two
 * top-level values, nesting deeper than EMIT_DEPTH_MAX) and running out
 * of memory or over the size limit put the emitter in an error state:
 * later calls do nothing and emit_error() says why.
 */
#ifndef MIPHA_EMIT_H
#define MIPHA_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

enum emit_format {
	EMIT_TEXT = 0,
	EMIT_JSON
};

#define EMIT_DEPTH_MAX		16
#define EMIT_LIMIT_DEFAULT	((size_t)512 << 20)	/* bytes of output */

struct emit;

struct emit	*emit_new(enum emit_format fmt);
void		 emit_free(struct emit *e);
enum emit_format emit_format(const struct emit *e);

/* Limit the memory held: pending output plus buffered table cells. */
void		 emit_set_limit(struct emit *e, size_t limit);

/*
 * key names the value inside an object and is required there; it is
 * ignored inside an array and at the top level.
 */
void	emit_array_begin(struct emit *e, const char *key);
void	emit_array_end(struct emit *e);
void	emit_object_begin(struct emit *e, const char *key);
void	emit_object_end(struct emit *e);
void	emit_str(struct emit *e, const char *key, const char *s);
void	emit_strf(struct emit *e, const char *key, const char *fmt, ...)
	    __attribute__((__format__(__printf__, 3, 4)));
void	emit_uint(struct emit *e, const char *key, uint64_t v);
void	emit_int(struct emit *e, const char *key, int64_t v);
void	emit_bool(struct emit *e, const char *key, bool v);
void	emit_null(struct emit *e, const char *key);
void	emit_addr(struct emit *e, const char *key, struct in_addr a);

/* Check that everything was closed.  Returns 0, or -1 (see emit_error). */
int		 emit_finish(struct emit *e);
/* Why the emitter is in its error state, or NULL. */
const char	*emit_error(const struct emit *e);

/* Output not yet consumed, in bytes. */
size_t		 emit_pending(const struct emit *e);
/* The next contiguous piece of pending output; NULL when none. */
const char	*emit_peek(const struct emit *e, size_t *len);
/* Drop n bytes (at most the piece emit_peek returned), freeing memory. */
void		 emit_consume(struct emit *e, size_t n);
/*
 * All pending output as one NUL-terminated string the caller frees,
 * and consume it.  NULL when out of memory.
 */
char		*emit_take(struct emit *e, size_t *len);

#endif /* MIPHA_EMIT_H */
