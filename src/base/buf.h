/* buf.h — a growable byte buffer with a hard size cap, for anything built from untrusted input. */
#ifndef DM_BUF_H
#define DM_BUF_H
#include <stddef.h>

struct buf {
	char *data;     /* always NUL-terminated when non-NULL */
	size_t len;
	size_t alloc;
	size_t cap;     /* maximum len; 0 = unlimited */
};

#define BUF_INIT(capacity) { NULL, 0, 0, (capacity) }

/* Append n bytes. Returns 0, or -1 when the cap would be exceeded (buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
/* buf_append for small pieces written many times (an answer's text): a copy when they fit. */
static inline int buf_put(struct buf *b, const char *p, size_t n)
{
	if (!b->cap && b->len + n < b->alloc) {
		__builtin_memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append(b, p, n);
}
/* Make room for n more bytes (an uncapped buffer: no copy until it holds len + n). */
void buf_reserve(struct buf *b, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Take ownership of the bytes (NUL-terminated, never NULL); the buffer is left empty. */
char *buf_detach(struct buf *b, size_t *len);
void buf_reset(struct buf *b);
void buf_release(struct buf *b);

#endif
