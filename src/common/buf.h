/* buf.h: a growable byte buffer with a hard size cap (like curl's dynbuf). The contents are
 * always NUL-terminated. */
#ifndef DTF_BUF_H
#define DTF_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct dtf_buf {
	char *data; /* owned; NULL until something is added */
	size_t len;
	size_t alloc;
	size_t cap; /* most bytes the buffer may hold; adding past it fails with DTF_ETOOBIG */
};

/* Initializes an empty buffer that may grow up to cap bytes. */
void dtf_buf_init(struct dtf_buf *b, size_t cap);
/* Frees the contents; the buffer is empty and reusable afterwards. */
void dtf_buf_release(struct dtf_buf *b);
/* Empties the buffer, keeping its memory. */
void dtf_buf_reset(struct dtf_buf *b);
/* Cuts the buffer back to its first len bytes (a length it had before; longer is ignored), so a
 * writer that fails half-way can leave the caller's buffer as it was. */
void dtf_buf_truncate(struct dtf_buf *b, size_t len);
/* Makes room for extra more bytes (and the terminator) without adding anything; 0,
 * DTF_ETOOBIG past the cap or DTF_ENOMEM. */
int dtf_buf_reserve(struct dtf_buf *b, size_t extra);
/* Appends; 0, DTF_ETOOBIG past the cap (nothing added) or DTF_ENOMEM. */
int dtf_buf_add(struct dtf_buf *b, const void *data, size_t len);
int dtf_buf_adds(struct dtf_buf *b, const char *s);
/* Appends s single-quoted for /bin/sh (each ' inside written as '\''). */
int dtf_buf_add_shquote(struct dtf_buf *b, const char *s);
int dtf_buf_printf(struct dtf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dtf_buf_vprintf(struct dtf_buf *b, const char *fmt, va_list ap);
/* Hands the contents to the caller (free() them) and empties the buffer. Never NULL. */
char *dtf_buf_detach(struct dtf_buf *b, size_t *len);
/* The contents as a string ("" when empty). Valid until the next change. */
const char *dtf_buf_str(const struct dtf_buf *b);

#endif
