/* coverage_fuzz.h: the checks the coverage readers' fuzz targets (fuzz_lcov.c, fuzz_cobertura.c)
 * share. Whatever the input, a reader must not crash; input it refuses must leave the merge exactly
 * as it was (and come with a message); input it takes must give sane totals (covered <= total,
 * percentages in 0..100), and adding the same input a second time must change no total, since a
 * merge is a union of lines. Included by one target each, so it defines its function here. */
#ifndef DTF_COVERAGE_FUZZ_H
#define DTF_COVERAGE_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "report/coverage.h"

/* One of dtf_coverage_add_lcov and dtf_coverage_add_cobertura. */
typedef int (*coverage_add_fn)(struct dtf_coverage *c, const char *text, size_t len, char *err,
			       size_t errlen);

/* Aborts unless every count of the merge is consistent. */
static void coverage_check_sane(json_t *j)
{
	json_t *f;
	size_t i;

	if (json_integer_value(json_object_get(j, "lines_covered")) >
	    json_integer_value(json_object_get(j, "lines_total")))
		abort();
	json_array_foreach(json_object_get(j, "files"), i, f) {
		double p = json_number_value(json_object_get(f, "percent"));

		if (json_integer_value(json_object_get(f, "lines_covered")) >
			json_integer_value(json_object_get(f, "lines_total")) ||
		    p < 0 || p > 100 || !json_is_string(json_object_get(f, "path")))
			abort();
	}
}

/* Adds base (a valid input of the reader's format) and then data with add, checking the above. */
static int coverage_fuzz_one(coverage_add_fn add, const char *base, const uint8_t *data,
			     size_t size)
{
	struct dtf_coverage *c = dtf_coverage_new();
	json_t *before = NULL, *after = NULL, *again = NULL;
	char err[256];
	int rc;

	if (!c)
		return 0;
	if (add(c, base, strlen(base), err, sizeof(err)) != 0)
		abort();
	before = dtf_coverage_json(c);
	err[0] = '\0';
	rc = add(c, (const char *)data, size, err, sizeof(err));
	after = dtf_coverage_json(c);
	if (!before || !after)
		goto out;
	if (rc != 0) {
		if (rc != DTF_ENOMEM && (!json_equal(before, after) || err[0] == '\0'))
			abort();
		goto out;
	}
	coverage_check_sane(after);
	if (add(c, (const char *)data, size, err, sizeof(err)) != 0)
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

#endif
