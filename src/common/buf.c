/* buf.c: capped growable buffers. */
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

void dtf_buf_init(struct dtf_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void dtf_buf_release(struct dtf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void dtf_buf_reset(struct dtf_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void dtf_buf_truncate(struct dtf_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->data[len] = '\0';
}

int dtf_buf_reserve(struct dtf_buf *b, size_t extra)
{
	size_t need, n;
	char *p;

	if (extra > b->cap || b->len > b->cap - extra)
		return DTF_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return 0;
	n = b->alloc ? b->alloc : 256;
	while (n < need)
		n *= 2;
	p = realloc(b->data, n);
	if (!p)
		return DTF_ENOMEM;
	b->data = p;
	b->alloc = n;
	return 0;
}

int dtf_buf_add(struct dtf_buf *b, const void *data, size_t len)
{
	int rc = dtf_buf_reserve(b, len);

	if (rc)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int dtf_buf_adds(struct dtf_buf *b, const char *s)
{
	return dtf_buf_add(b, s, strlen(s));
}

int dtf_buf_vprintf(struct dtf_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, rc;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return DTF_EINVAL;
	rc = dtf_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int dtf_buf_printf(struct dtf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = dtf_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *dtf_buf_detach(struct dtf_buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

const char *dtf_buf_str(const struct dtf_buf *b)
{
	return b->data ? b->data : "";
}

int dtf_buf_add_shquote(struct dtf_buf *b, const char *s)
{
	int rc = dtf_buf_adds(b, "'");

	for (; *s && rc == 0; s++)
		rc = *s == '\'' ? dtf_buf_adds(b, "'\\''") : dtf_buf_add(b, s, 1);
	return rc ? rc : dtf_buf_adds(b, "'");
}
