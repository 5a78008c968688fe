/*
 * wire.h - bounds-checked cursors over packet buffers.
 *
 * Every read checks that the bytes exist before it touches them and fails
 * instead of reading past the end; every write checks the room left.
 * Multi-byte fields are converted from/to network byte order here, once,
 * so no code casts a struct over a packet buffer.
 */
#ifndef MIPHA_WIRE_H
#define MIPHA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 off;
};

struct wr {
	uint8_t		*buf;
	size_t		 cap;
	size_t		 off;
	bool		 overflow;	/* sticky: some write did not fit */
};

static inline void
rd_init(struct rd *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
}

static inline size_t
rd_left(const struct rd *r)
{
	return r->len - r->off;
}

static inline bool
rd_skip(struct rd *r, size_t n)
{
	if (rd_left(r) < n)
		return false;
	r->off += n;
	return true;
}

static inline bool
rd_u8(struct rd *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return false;
	*v = r->buf[r->off++];
	return true;
}

static inline bool
rd_u16(struct rd *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return false;
	*v = (uint16_t)(r->buf[r->off] << 8 | r->buf[r->off + 1]);
	r->off += 2;
	return true;
}

static inline bool
rd_u32(struct rd *r, uint32_t *v)
{
	if (rd_left(r) < 4)
		return false;
	*v = (uint32_t)r->buf[r->off] << 24 | (uint32_t)r->buf[r->off + 1] << 16 |
	    (uint32_t)r->buf[r->off + 2] << 8 | r->buf[r->off + 3];
	r->off += 4;
	return true;
}

static inline bool
rd_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi = 0, lo = 0;

	if (rd_left(r) < 8)
		return false;
	rd_u32(r, &hi);
	rd_u32(r, &lo);
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

/* Copies n raw bytes (addresses stay in network order). */
static inline bool
rd_bytes(struct rd *r, void *dst, size_t n)
{
	if (rd_left(r) < n)
		return false;
	memcpy(dst, r->buf + r->off, n);
	r->off += n;
	return true;
}

static inline void
wr_init(struct wr *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->off = 0;
	w->overflow = false;
}

static inline bool
wr_room(struct wr *w, size_t n)
{
	if (w->overflow || w->cap - w->off < n) {
		w->overflow = true;
		return false;
	}
	return true;
}

static inline void
wr_u8(struct wr *w, uint8_t v)
{
	if (wr_room(w, 1))
		w->buf[w->off++] = v;
}

static inline void
wr_u16(struct wr *w, uint16_t v)
{
	if (!wr_room(w, 2))
		return;
	w->buf[w->off++] = (uint8_t)(v >> 8);
	w->buf[w->off++] = (uint8_t)v;
}

static inline void
wr_u32(struct wr *w, uint32_t v)
{
	if (!wr_room(w, 4))
		return;
	w->buf[w->off++] = (uint8_t)(v >> 24);
	w->buf[w->off++] = (uint8_t)(v >> 16);
	w->buf[w->off++] = (uint8_t)(v >> 8);
	w->buf[w->off++] = (uint8_t)v;
}

static inline void
wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)(v >> 32));
	wr_u32(w, (uint32_t)v);
}

static inline void
wr_bytes(struct wr *w, const void *src, size_t n)
{
	if (!wr_room(w, n))
		return;
	memcpy(w->buf + w->off, src, n);
	w->off += n;
}

/* Big-endian loads/stores at a known-valid offset (length already checked). */
static inline uint16_t
get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif /* MIPHA_WIRE_H */
