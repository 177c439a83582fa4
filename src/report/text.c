/* text.c: the escaping loop the report writers share (see view.h): each format says what a code
 * point becomes, the loop decodes UTF-8, replaces invalid bytes and cuts long texts. */
#include "report/view.h"

#include "common/err.h"
#include "common/utf8.h"

#include "common/banned.h"

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
