/* test_prom.c: unit tests of the Prometheus text format writer (src/common/prom.c): the exact
 * text of families and samples, escaping of help text and label values, value formatting,
 * names, and the errors that keep /metrics well-formed (a family written twice, a sample outside
 * its family, a histogram sample without its le label, a full buffer). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/prom.h"
#include "unit_main.h"

struct out {
	struct dtf_buf b;
	struct dtf_prom pm;
};

static void open_out(struct out *o, size_t cap)
{
	dtf_buf_init(&o->b, cap);
	dtf_prom_init(&o->pm, &o->b);
}

static void assert_text(const struct out *o, const char *want)
{
	if (strcmp(dtf_buf_str(&o->b), want) != 0)
		print_error("got:\n%s\nwant:\n%s\n", dtf_buf_str(&o->b), want);
	assert_string_equal(dtf_buf_str(&o->b), want);
}

static void test_families_and_samples(void **state)
{
	struct out o;

	(void)state;
	open_out(&o, 1 << 16);
	assert_int_equal(dtf_prom_family(&o.pm, "dtf_tasks", DTF_PROM_GAUGE, "Tasks by status."),
			 0);
	assert_int_equal(dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("status", "pending"), 3), 0);
	assert_int_equal(dtf_prom_sample(&o.pm, "", DTF_PROM_LABELS("status", "running"), 0), 0);
	assert_int_equal(dtf_prom_single(&o.pm, "dtf_leases_total", DTF_PROM_COUNTER, "Leases.",
					 12345678901234.0),
			 0);
	assert_int_equal(dtf_prom_family(&o.pm, "dtf_attempts_total", DTF_PROM_COUNTER, "By two."),
			 0);
	assert_int_equal(
	    dtf_prom_sample(&o.pm, NULL,
			    DTF_PROM_LABELS("class", "oom", "strategy", "retry_in_place"), 2),
	    0);
	assert_int_equal(dtf_prom_family(&o.pm, "dtf_size", DTF_PROM_HISTOGRAM, "Sizes."), 0);
	assert_int_equal(dtf_prom_sample(&o.pm, "_bucket", DTF_PROM_LABELS("le", "2"), 1), 0);
	assert_int_equal(dtf_prom_sample(&o.pm, "_bucket", DTF_PROM_LABELS("le", "+Inf"), 2), 0);
	assert_int_equal(dtf_prom_sample(&o.pm, "_sum", NULL, 5.5), 0);
	assert_int_equal(dtf_prom_sample(&o.pm, "_count", NULL, 2), 0);
	assert_int_equal(dtf_prom_end(&o.pm), 0);
	assert_text(&o, "# HELP dtf_tasks Tasks by status.\n"
			"# TYPE dtf_tasks gauge\n"
			"dtf_tasks{status=\"pending\"} 3\n"
			"dtf_tasks{status=\"running\"} 0\n"
			"# HELP dtf_leases_total Leases.\n"
			"# TYPE dtf_leases_total counter\n"
			"dtf_leases_total 12345678901234\n"
			"# HELP dtf_attempts_total By two.\n"
			"# TYPE dtf_attempts_total counter\n"
			"dtf_attempts_total{class=\"oom\",strategy=\"retry_in_place\"} 2\n"
			"# HELP dtf_size Sizes.\n"
			"# TYPE dtf_size histogram\n"
			"dtf_size_bucket{le=\"2\"} 1\n"
			"dtf_size_bucket{le=\"+Inf\"} 2\n"
			"dtf_size_sum 5.5\n"
			"dtf_size_count 2\n");
	dtf_buf_release(&o.b);
}

/* Label values escape backslash, double quote and newline; help text backslash and newline
 * (a double quote stays as it is there). */
static void test_escaping(void **state)
{
	struct out o;

	(void)state;
	open_out(&o, 1 << 16);
	dtf_prom_family(&o.pm, "x", DTF_PROM_GAUGE, "a \\ b\nc \"d\"");
	dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("v", "C:\\dir \"q\"\nnext", "e", ""), 1);
	assert_int_equal(dtf_prom_end(&o.pm), 0);
	assert_text(&o, "# HELP x a \\\\ b\\nc \"d\"\n"
			"# TYPE x gauge\n"
			"x{v=\"C:\\\\dir \\\"q\\\"\\nnext\",e=\"\"} 1\n");
	dtf_buf_reset(&o.b);
	assert_int_equal(dtf_prom_escape_label(&o.b, "plain"), 0);
	assert_int_equal(dtf_prom_escape_label(&o.b, NULL), 0);
	assert_int_equal(dtf_prom_escape_label(&o.b, "\\\"\n"), 0);
	assert_string_equal(dtf_buf_str(&o.b), "plain\\\\\\\"\\n");
	dtf_buf_release(&o.b);
}

static void test_values(void **state)
{
	struct out o;

	(void)state;
	open_out(&o, 1 << 16);
	dtf_prom_family(&o.pm, "v", DTF_PROM_UNTYPED, "Values.");
	dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("k", "a"), -0.25);
	dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("k", "b"), NAN);
	dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("k", "c"), INFINITY);
	dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("k", "d"), -INFINITY);
	dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("k", "e"), 0.1);
	dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("k", "f"), 9007199254740992.0);
	assert_int_equal(dtf_prom_end(&o.pm), 0);
	assert_text(&o, "# HELP v Values.\n# TYPE v untyped\n"
			"v{k=\"a\"} -0.25\n"
			"v{k=\"b\"} NaN\n"
			"v{k=\"c\"} +Inf\n"
			"v{k=\"d\"} -Inf\n"
			"v{k=\"e\"} 0.10000000000000001\n"
			"v{k=\"f\"} 9007199254740992\n");
	dtf_buf_release(&o.b);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(dtf_prom_valid_name("dtf_tasks", false));
	assert_true(dtf_prom_valid_name("job:rate_5m", false));
	assert_true(dtf_prom_valid_name("_x9", false));
	assert_false(dtf_prom_valid_name("9x", false));
	assert_false(dtf_prom_valid_name("", false));
	assert_false(dtf_prom_valid_name(NULL, false));
	assert_false(dtf_prom_valid_name("a-b", false));
	assert_false(dtf_prom_valid_name("a b", false));
	assert_true(dtf_prom_valid_name("status", true));
	assert_false(dtf_prom_valid_name("a:b", true));
	assert_false(dtf_prom_valid_name("__name__", true));
}

/* Each error sticks: nothing is written after it and every later call returns it. */
static void test_errors(void **state)
{
	struct out o;
	size_t len;

	(void)state;
	/* A family written twice (the bug that split dtf_recovery_successes_total). */
	open_out(&o, 1 << 16);
	assert_int_equal(dtf_prom_single(&o.pm, "a_total", DTF_PROM_COUNTER, "A.", 1), 0);
	assert_int_equal(dtf_prom_single(&o.pm, "b", DTF_PROM_GAUGE, "B.", 1), 0);
	len = o.b.len;
	assert_int_equal(dtf_prom_family(&o.pm, "a_total", DTF_PROM_COUNTER, "A."), DTF_EINVAL);
	assert_int_equal(dtf_prom_sample(&o.pm, NULL, NULL, 2), DTF_EINVAL);
	assert_int_equal(dtf_prom_single(&o.pm, "c", DTF_PROM_GAUGE, "C.", 1), DTF_EINVAL);
	assert_int_equal(dtf_prom_end(&o.pm), DTF_EINVAL);
	assert_int_equal(o.b.len, len);
	dtf_buf_release(&o.b);

	/* A sample before any family. */
	open_out(&o, 1 << 16);
	assert_int_equal(dtf_prom_sample(&o.pm, NULL, NULL, 1), DTF_EINVAL);
	assert_int_equal(o.b.len, 0);
	dtf_buf_release(&o.b);

	/* A counter has no suffixed samples; a histogram bucket needs le; no other suffix. */
	open_out(&o, 1 << 16);
	dtf_prom_family(&o.pm, "c_total", DTF_PROM_COUNTER, "C.");
	assert_int_equal(dtf_prom_sample(&o.pm, "_sum", NULL, 1), DTF_EINVAL);
	dtf_buf_release(&o.b);
	open_out(&o, 1 << 16);
	dtf_prom_family(&o.pm, "h", DTF_PROM_HISTOGRAM, "H.");
	assert_int_equal(dtf_prom_sample(&o.pm, "_bucket", DTF_PROM_LABELS("x", "1"), 1),
			 DTF_EINVAL);
	dtf_buf_release(&o.b);
	open_out(&o, 1 << 16);
	dtf_prom_family(&o.pm, "h", DTF_PROM_HISTOGRAM, "H.");
	assert_int_equal(dtf_prom_sample(&o.pm, "", NULL, 1), DTF_EINVAL);
	dtf_buf_release(&o.b);

	/* Bad names: metric, label, and a label without its value. */
	open_out(&o, 1 << 16);
	assert_int_equal(dtf_prom_family(&o.pm, "bad-name", DTF_PROM_GAUGE, "X."), DTF_EINVAL);
	assert_int_equal(o.b.len, 0);
	dtf_buf_release(&o.b);
	open_out(&o, 1 << 16);
	dtf_prom_family(&o.pm, "g", DTF_PROM_GAUGE, "G.");
	len = o.b.len;
	assert_int_equal(dtf_prom_sample(&o.pm, NULL, DTF_PROM_LABELS("bad label", "v"), 1),
			 DTF_EINVAL);
	assert_int_equal(o.b.len, len);
	dtf_buf_release(&o.b);
	open_out(&o, 1 << 16);
	dtf_prom_family(&o.pm, "g", DTF_PROM_GAUGE, "G.");
	assert_int_equal(dtf_prom_sample(&o.pm, NULL, (const char *const[]){"k", NULL}, 1),
			 DTF_EINVAL);
	dtf_buf_release(&o.b);

	/* A full buffer: the half-written sample is taken back, the error sticks. */
	open_out(&o, 64);
	assert_int_equal(dtf_prom_family(&o.pm, "g", DTF_PROM_GAUGE, "G."), 0);
	len = o.b.len;
	assert_int_equal(dtf_prom_sample(&o.pm, NULL,
					 DTF_PROM_LABELS("k", "a value far too long for the cap "
							      "of this buffer"),
					 1),
			 DTF_ETOOBIG);
	assert_int_equal(o.b.len, len);
	assert_int_equal(dtf_prom_end(&o.pm), DTF_ETOOBIG);
	dtf_buf_release(&o.b);
}

/* Many families: each is accepted once, up to the limit. */
static void test_many_families(void **state)
{
	struct out o;
	char name[32];
	int i;

	(void)state;
	open_out(&o, 1 << 20);
	for (i = 0; i < DTF_PROM_MAX_FAMILIES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(dtf_prom_single(&o.pm, name, DTF_PROM_GAUGE, "F.", i), 0);
	}
	assert_int_equal(dtf_prom_family(&o.pm, "one_more", DTF_PROM_GAUGE, "F."), DTF_ETOOBIG);
	dtf_buf_release(&o.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_families_and_samples),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_many_families),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
