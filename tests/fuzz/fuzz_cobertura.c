/* fuzz_cobertura.c: libFuzzer target for the Cobertura XML reader (src/report/coverage.c). Whatever
 * the input, it must not crash; input it refuses must leave the merge exactly as it was (and come
 * with a message); input it takes must give sane totals (covered <= total, percentages in 0..100),
 * and adding the same input a second time must change no total, since a merge is a union of lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "report/coverage.h"

#include "common/banned.h"

static const char base[] = "<coverage><class filename=\"base.c\"><lines>"
			   "<line number=\"1\" hits=\"1\"/><line number=\"2\" hits=\"0\"/>"
			   "</lines></class></coverage>";

/* Aborts unless every count of the merge is consistent. */
static void check_sane(json_t *j)
{
	json_t *f;
	size_t i;

	if (json_integer_value(json_object_get(j, "lines_covered")) >
	    json_integer_value(json_object_get(j, "lines_total")))
		abort();
	json_array_foreach(json_object_get(j, "files"), i, f)
	{
		double p = json_number_value(json_object_get(f, "percent"));

		if (json_integer_value(json_object_get(f, "lines_covered")) >
			json_integer_value(json_object_get(f, "lines_total")) ||
		    p < 0 || p > 100 || !json_is_string(json_object_get(f, "path")))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dtf_coverage *c = dtf_coverage_new();
	json_t *before = NULL, *after = NULL, *again = NULL;
	char err[256];
	int rc;

	if (!c)
		return 0;
	if (dtf_coverage_add_cobertura(c, base, sizeof(base) - 1, err, sizeof(err)) != 0)
		abort();
	before = dtf_coverage_json(c);
	err[0] = '\0';
	rc = dtf_coverage_add_cobertura(c, (const char *)data, size, err, sizeof(err));
	after = dtf_coverage_json(c);
	if (!before || !after)
		goto out;
	if (rc != 0) {
		if (rc != DTF_ENOMEM && (!json_equal(before, after) || err[0] == '\0'))
			abort();
		goto out;
	}
	check_sane(after);
	if (dtf_coverage_add_cobertura(c, (const char *)data, size, err, sizeof(err)) != 0)
		goto out; /* only a limit can refuse it now */
	again = dtf_coverage_json(c);
	if (again && (!json_equal(json_object_get(again, "lines_total"),
				  json_object_get(after, "lines_total")) ||
		      !json_equal(json_object_get(again, "lines_covered"),
				  json_object_get(after, "lines_covered"))))
		abort();
out:
	json_decref(before);
	json_decref(after);
	json_decref(again);
	dtf_coverage_free(c);
	return 0;
}
