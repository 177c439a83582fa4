/* test_pushgateway.c: the Pushgateway push's path (grouping-key values encoded as the gateway
 * documents) and the run metrics' exposition text (src/ci/pushgateway.c). */
#include <string.h>

#include "ci/pushgateway.h"
#include "common/err.h"
#include "unit_main.h"

static void assert_path(const char *job, const char *const *grouping, const char *want)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 4096);
	assert_int_equal(ci_push_path(&b, job, grouping), 0);
	assert_string_equal(dtf_buf_str(&b), want);
	dtf_buf_release(&b);
}

static void test_path(void **state)
{
	(void)state;
	assert_path("dtf", (const char *const[]){"run", "r-1a2b", NULL},
		    "/metrics/job/dtf/run/r-1a2b");
	assert_path("dtf", NULL, "/metrics/job/dtf");
	/* A '/' or an empty value: base64url with the @base64 suffix (the gateway's rule). */
	assert_path("dtf", (const char *const[]){"run", "a/b", NULL},
		    "/metrics/job/dtf/run@base64/YS9i");
	assert_path("dtf", (const char *const[]){"run", "", NULL}, "/metrics/job/dtf/run@base64/=");
	assert_path("ci/nightly", (const char *const[]){"run", "x?y z", NULL},
		    "/metrics/job@base64/Y2kvbmlnaHRseQ==/run/x%3Fy%20z");
	/* base64url: '-' and '_' where base64 has '+' and '/'. */
	assert_path("dtf", (const char *const[]){"b", "/\xfb\xff", NULL},
		    "/metrics/job/dtf/b@base64/L_v_");
}

static void test_metrics(void **state)
{
	json_t *summary =
	    json_pack("{s:i,s:i,s:i,s:i}", "total", 6, "passed", 4, "failed", 1, "xfailed", 1);
	struct ci_push_run run = {.summary = summary,
				  .tasks = 5,
				  .duration_s = 2.5,
				  .exit_status = 1,
				  .end_time_s = 1700000000.25};
	struct dtf_buf b;
	const char *s;

	(void)state;
	dtf_buf_init(&b, 1 << 16);
	assert_int_equal(ci_push_metrics(&b, &run), 0);
	s = dtf_buf_str(&b);
	assert_non_null(strstr(s, "# TYPE dtf_run_tests gauge\n"));
	assert_non_null(strstr(s, "dtf_run_tests{status=\"passed\"} 4\n"));
	assert_non_null(strstr(s, "dtf_run_tests{status=\"failed\"} 1\n"));
	assert_non_null(strstr(s, "dtf_run_tests{status=\"xfailed\"} 1\n"));
	assert_non_null(strstr(s, "dtf_run_tests{status=\"skipped\"} 0\n"));
	assert_non_null(strstr(s, "\ndtf_run_tasks 5\n"));
	assert_non_null(strstr(s, "\ndtf_run_duration_seconds 2.5\n"));
	assert_non_null(strstr(s, "\ndtf_run_exit_status 1\n"));
	assert_non_null(strstr(s, "\ndtf_run_success 0\n"));
	assert_non_null(strstr(s, "\ndtf_run_completion_timestamp_seconds 1700000000.25\n"));
	/* No timestamps on samples: the gateway refuses pushes that carry them. */
	assert_null(strstr(s, "} 4 1"));
	dtf_buf_release(&b);
	json_decref(summary);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_metrics),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
