/* fuzz_junit.c: libFuzzer target for the JUnit report parser (src/worker/junit.c), chained into
 * the JUnit report writer (src/report/junit.c). Whatever the input, the parser must not crash,
 * and when it accepts a report, the XML written from its cases must parse back to as many cases
 * with the same statuses: that checks the writer's escaping on hostile strings too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "report/report.h"
#include "worker/junit.h"

/* Wraps the parsed cases in a run document of one task, as the coordinator would store it. */
static json_t *synthetic_doc(json_t *cases)
{
	return json_pack("{s{ss ss ss} s[{ss ss ss ss s{si sf sO}}]}", "run", "id", "r-fuzz",
			 "name", "fuzz", "created_at", "2026-01-02T03:04:05Z", "tasks", "id",
			 "t-fuzz", "name", "fuzz", "type", "exec", "status", "completed", "result",
			 "exit_code", 0, "duration_s", 1.0, "testcases", cases);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *cases = NULL, *again = NULL, *doc = NULL;
	struct dtf_buf out;
	size_t i;
	int rc;

	dtf_buf_init(&out, 64u << 20);
	rc = dtf_junit_parse((const char *)data, size, &cases);
	if (rc != 0) {
		if (cases)
			abort();
		goto out;
	}
	if (!json_is_array(cases) || json_array_size(cases) > DTF_JUNIT_MAX_CASES)
		abort();
	doc = synthetic_doc(cases);
	if (!doc)
		goto out;
	rc = dtf_report_junit(doc, &out);
	if (rc == DTF_ENOMEM || rc == DTF_ETOOBIG)
		goto out;
	if (rc != 0)
		abort();

	/* The writer's output is a report the parser takes, with the same cases in it; a report
	 * without cases leaves one for the task itself. */
	if (dtf_junit_parse(dtf_buf_str(&out), out.len, &again) != 0)
		abort();
	if (json_array_size(again) != (json_array_size(cases) ? json_array_size(cases) : 1))
		abort();
	for (i = 0; i < json_array_size(cases); i++) {
		json_t *a = json_object_get(json_array_get(cases, i), "status");
		json_t *b = json_object_get(json_array_get(again, i), "status");

		if (!json_equal(a, b))
			abort();
	}

	dtf_buf_reset(&out);
	rc = dtf_report_json(doc, &out);
	if (rc != 0 && rc != DTF_ENOMEM && rc != DTF_ETOOBIG)
		abort();
out:
	json_decref(again);
	json_decref(doc);
	json_decref(cases);
	dtf_buf_release(&out);
	return 0;
}
