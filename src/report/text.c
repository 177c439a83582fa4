/* text.c: what the report writers share to write text (see view.h): the escaping loop, where
 * each format says what a code point becomes while the loop decodes UTF-8, replaces invalid bytes
 * and cuts long texts; and the walk over the performance metrics table. */
#include "report/view.h"

#include <stdarg.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

const char *report_markup_ref(uint32_t cp)
{
	switch (cp) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	}
	return NULL;
}

int report_escape(struct dtf_buf *b, const char *s, size_t len, size_t cap, report_escape_fn rep_of)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, n;
	const char *rep;
	char tmp[8];
	uint32_t cp;
	int rc = 0;

	while (i < len) {
		if (i >= cap) {
			rc = dtf_buf_add(b, s + run, i - run);
			run = i = len;
			if (!rc)
				rc = dtf_buf_adds(b, "…");
			break;
		}
		n = dtf_utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			n = 1;
			rep = "\xef\xbf\xbd";
		} else {
			rep = rep_of(cp, tmp);
		}
		/* Unchanged text is copied in runs, not a character at a time. */
		if (rep) {
			rc = dtf_buf_add(b, s + run, i - run);
			if (!rc)
				rc = dtf_buf_adds(b, rep);
			if (rc)
				break;
			run = i + n;
		}
		i += n;
	}
	if (!rc)
		rc = dtf_buf_add(b, s + run, len - run);
	return rc;
}

int report_metric_table(struct dtf_buf *b, json_t *doc, const char *head, const char *tail,
			report_metric_fn row)
{
	json_t *metrics = report_metrics(doc), *m, *v;
	const char *task, *key;
	struct dtf_buf name;
	int rc;

	if (!metrics)
		return DTF_ENOMEM;
	if (json_object_size(metrics) == 0) {
		json_decref(metrics);
		return 0;
	}
	dtf_buf_init(&name, 4096);
	rc = dtf_buf_adds(b, head);
	json_object_foreach(metrics, task, m) {
		json_object_foreach(m, key, v) {
			if (rc || !json_is_number(v))
				continue;
			dtf_buf_reset(&name);
			rc = row(b, task, report_humanize(&name, key) ? NULL : dtf_buf_str(&name),
				 json_number_value(v));
		}
	}
	if (!rc)
		rc = dtf_buf_adds(b, tail);
	dtf_buf_release(&name);
	json_decref(metrics);
	return rc;
}

int report_escapef(struct dtf_buf *b, report_escape_fn rep_of, size_t cap, const char *fmt, ...)
{
	va_list ap;
	const char *p = fmt, *pct, *s;
	int rc = 0;

	va_start(ap, fmt);
	while (!rc && *p) {
		pct = strchr(p, '%');
		if (!pct) {
			rc = dtf_buf_adds(b, p);
			break;
		}
		rc = dtf_buf_add(b, p, (size_t)(pct - p));
		if (rc)
			break;
		if (pct[1] == 's') {
			s = va_arg(ap, const char *);
			rc = report_escape(b, s, strlen(s), cap, rep_of);
		} else if (pct[1] == '%') {
			rc = dtf_buf_adds(b, "%");
		} else {
			rc = DTF_EINVAL; /* a programming error: only %s and %% are known */
		}
		p = pct + 2;
	}
	va_end(ap);
	return rc;
}
