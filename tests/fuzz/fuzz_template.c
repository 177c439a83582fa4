/* fuzz_template.c: libFuzzer target for the message template language (src/common/template.c).
 * The first byte picks the escaping; the rest is the template, rendered against a fixed context
 * with strings, numbers, nested objects and lists. Whatever the input: no crash, no leak, a
 * failure says why, the output stays within its cap and, on failure, is left as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/template.h"

static json_t *context(void)
{
	static json_t *ctx;

	if (!ctx)
		ctx =
		    json_loads("{\"run\":{\"id\":\"r1\",\"name\":\"<b>&\\\"'\",\"failed\":3},"
			       "\"tests\":[{\"name\":\"a\",\"error\":\"x\\ny\"},{\"name\":\"b\"}],"
			       "\"l\":[1,2,3,4,5,6,7,8,9,10],\"n\":null,\"t\":true,\"r\":1.5,"
			       "\"s\":\"\\u00fc\\u2713\",\"e\":\"\",\"z\":0}",
			       0, NULL);
	return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dtf_tpl_error err;
	struct dtf_tpl *t = NULL;
	struct dtf_buf out;
	enum dtf_tpl_escape esc;
	int rc;

	if (size < 1)
		return 0;
	esc = (enum dtf_tpl_escape)(data[0] % 4);
	memset(&err, 0, sizeof(err));
	rc = dtf_tpl_compile((const char *)data + 1, size - 1, &t, &err);
	if (rc) {
		if (t || !err.message[0] || (rc != DTF_EPARSE && rc != DTF_ETOOBIG))
			abort();
		return 0;
	}
	dtf_buf_init(&out, 64 * 1024);
	if (dtf_buf_adds(&out, "pre") != 0)
		abort();
	rc = dtf_tpl_render(t, context(), esc, &out, &err);
	if (out.len > out.cap)
		abort();
	if (rc && (out.len != 3 || !err.message[0]))
		abort();
	dtf_buf_release(&out);
	dtf_tpl_free(t);
	return 0;
}
