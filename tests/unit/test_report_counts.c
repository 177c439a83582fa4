/* test_report_counts.c: what users count (src/common/testcount.c) and that every report counts
 * the same: test cases, not tasks; chunks of many cases, tasks without cases, a crashed chunk and
 * the files it did not get to, flaky, xfail/xpass and order-dependence statuses, the one-line
 * summary's singular and plural, and the rows, JSON summary, JUnit, CSV and badge of one run
 * agreeing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/testcount.h"
#include "common/util.h"
#include "report/codequality.h"
#include "report/report.h"
#include "unit_main.h"

#define OUT_CAP (64u << 20)

static json_t *task(const char *id, const char *status)
{
	json_t *t =
	    json_pack("{ss ss ss ss}", "id", id, "name", id, "type", "test", "status", status);

	assert_non_null(t);
	return t;
}

static json_t *tcase(const char *classname, const char *name, const char *status, double time)
{
	json_t *c = json_pack("{ss ss ss sf}", "classname", classname, "name", name, "status",
			      status, "time", time);

	assert_non_null(c);
	return c;
}

static struct dtf_testcount count_of(json_t *t)
{
	struct dtf_testcount c;

	memset(&c, 0, sizeof(c));
	dtf_testcount_add_task(&c, t);
	return c;
}

/* Collects the entries of a task as "status name" strings. */
static int collect(const struct dtf_test_entry *e, void *arg)
{
	char line[600];

	snprintf(line, sizeof(line), "%s %s%s%s", dtf_test_status_name(e->status),
		 e->classname ? e->classname : "", e->classname ? "::" : "", e->name);
	return json_array_append_new(arg, json_string(line));
}

static void assert_entries(json_t *t, ...)
{
	json_t *got = json_array();
	const char *want;
	size_t i = 0;
	va_list ap;

	assert_int_equal(dtf_test_entries(t, collect, got), 0);
	va_start(ap, t);
	while ((want = va_arg(ap, const char *))) {
		const char *g = json_string_value(json_array_get(got, i));

		if (!g || strcmp(g, want) != 0)
			print_error("entry %zu: got \"%s\", want \"%s\"\n", i, g ? g : "(none)",
				    want);
		assert_non_null(g);
		assert_string_equal(g, want);
		i++;
	}
	va_end(ap);
	assert_int_equal(json_array_size(got), i);
	json_decref(got);
}

/* A chunk of many test cases counts each case, with its own time; the task counts once under
 * "tasks" only. */
static void test_chunk_of_many_cases(void **state)
{
	json_t *t = task("chunk", "completed"), *cases = json_array();
	struct dtf_testcount c;
	int i;

	(void)state;
	for (i = 0; i < 6462; i++) {
		char name[32];

		snprintf(name, sizeof(name), "test_%d", i);
		json_array_append_new(cases, tcase("pkg.test_mod.TestX", name,
						   i % 100 == 0 ? "skipped" : "passed", 0.001));
	}
	json_object_set_new(t, "result",
			    json_pack("{sf so}", "duration_s", 30.0, "testcases", cases));
	c = count_of(t);
	assert_int_equal(c.total, 6462);
	assert_int_equal(c.n[DTF_TEST_SKIPPED], 65);
	assert_int_equal(c.n[DTF_TEST_PASSED], 6462 - 65);
	assert_float_equal(c.duration_s, 6.462, 1e-9);
	assert_string_equal(dtf_testcount_state(&c, false), "success");
	json_decref(t);
}

/* A task without test cases is one entry, its status from the task's. */
static void test_tasks_without_cases(void **state)
{
	json_t *t;

	(void)state;
	t = task("ok", "completed");
	assert_entries(t, "passed ok", NULL);
	json_decref(t);

	t = task("bad", "failed");
	json_object_set_new(t, "result", json_pack("{si}", "exit_code", 3));
	assert_entries(t, "failed bad", NULL);
	json_decref(t);

	t = task("gpu", "cancelled");
	json_object_set_new(
	    t, "error",
	    json_pack("{ss ss}", "kind", "unschedulable", "message", "no worker offers cuda"));
	assert_entries(t, "skipped gpu", NULL);
	json_decref(t);

	t = task("stop", "cancelled");
	json_object_set_new(t, "error", json_pack("{ss}", "kind", "cancelled"));
	assert_entries(t, "cancelled stop", NULL);
	json_decref(t);

	t = task("wait", "pending");
	assert_entries(t, "pending wait", NULL);
	json_decref(t);
	t = task("lease", "assigned");
	assert_entries(t, "running lease", NULL);
	json_decref(t);
	t = task("busy", "running");
	assert_entries(t, "running busy", NULL);
	json_decref(t);

	/* Counted in the status it is changing to, before its document says so. */
	t = task("moving", "running");
	json_object_set_new(t, "result", json_pack("{si}", "exit_code", 0));
	{
		struct dtf_testcount c;

		memset(&c, 0, sizeof(c));
		dtf_testcount_add_task_as(&c, t, "completed");
		assert_int_equal(c.n[DTF_TEST_PASSED], 1);
		dtf_testcount_add_task_as(&c, t, "failed");
		assert_int_equal(c.n[DTF_TEST_FAILED], 1);
		dtf_testcount_add_task(&c, t);
		assert_int_equal(c.n[DTF_TEST_RUNNING], 1);
		assert_int_equal(c.total, 3);
	}
	json_decref(t);

	/* A task that passed only on a retry is flaky, not passed. */
	t = task("retry", "completed");
	json_object_set_new(t, "result", json_pack("{sb}", "flaky", 1));
	assert_entries(t, "flaky retry", NULL);
	json_decref(t);
}

/* A failed task none of whose cases failed crashed (or timed out) outside its tests: an error
 * entry says so, and for a pytest chunk the files no case came from are named as not run. */
static void test_crashed_chunk(void **state)
{
	json_t *t = task("chunk 1 of 2", "failed"), *cases = json_array(), *files;
	struct dtf_testcount c;
	char msg[128];

	(void)state;
	json_array_append_new(cases, tcase("tests.test_x.TestA", "test_1", "passed", 0.5));
	json_array_append_new(cases, tcase("tests.test_x.TestA", "test_2", "passed", 0.25));
	/* pytest writes a collection error under the module's dotted path. */
	json_array_append_new(cases, tcase("", "tests.sub.test_c", "error", 0));
	json_object_set_new(t, "error", json_pack("{ss}", "kind", "signal"));
	json_object_set_new(
	    t, "result",
	    json_pack("{si sf so}", "signal", 11, "duration_s", 2.0, "testcases", cases));
	files = json_pack("[ssss]", "tests/test_x.py", "tests/test_x2.py", "tests/sub/test_c.py",
			  "tests/mytest_x.py");
	json_object_set_new(t, "params", json_pack("{so}", "pytest_files", files));
	/* The error case is a failing case: nothing more is added. */
	assert_entries(t, "passed tests.test_x.TestA::test_1", "passed tests.test_x.TestA::test_2",
		       "error tests.sub.test_c", NULL);

	/* Without it, the task crashed outside its tests: an error for the task, with what
	 * happened, and the files it did not get to (test_x2 and mytest_x are not test_x). */
	json_array_remove(cases, 2);
	assert_entries(t, "passed tests.test_x.TestA::test_1", "passed tests.test_x.TestA::test_2",
		       "error chunk 1 of 2", "error tests/test_x2.py", "error tests/sub/test_c.py",
		       "error tests/mytest_x.py", NULL);
	c = count_of(t);
	assert_int_equal(c.total, 6);
	assert_int_equal(c.n[DTF_TEST_PASSED], 2);
	assert_int_equal(c.n[DTF_TEST_ERROR], 4);
	/* The task's entry gets the time its cases do not account for. */
	assert_float_equal(c.duration_s, 2.0, 1e-9);
	assert_string_equal(dtf_task_failure_text(t, msg, sizeof(msg)), "killed by signal 11");
	assert_string_equal(dtf_testcount_state(&c, false), "failure");

	/* A chunk that crashed before writing any report: every file was not run. */
	json_array_clear(cases);
	assert_entries(t, "error chunk 1 of 2", "error tests/test_x.py", "error tests/test_x2.py",
		       "error tests/sub/test_c.py", "error tests/mytest_x.py", NULL);
	json_decref(t);

	/* A plain task (no files known) whose cases passed but which exited non-zero. */
	t = task("suite", "failed");
	cases = json_array();
	json_array_append_new(cases, tcase("m", "t", "passed", 0.1));
	json_object_set_new(
	    t, "error", json_pack("{ss ss}", "kind", "timeout", "message", "timed out after 60 s"));
	json_object_set_new(t, "result", json_pack("{so}", "testcases", cases));
	assert_entries(t, "passed m::t", "error suite", NULL);
	json_decref(t);
}

/* The statuses a runner or dtf's re-runs write are taken as they are; pytest's xfail is a skip
 * of type pytest.xfail. */
static void test_case_statuses(void **state)
{
	json_t *t = task("py", "completed"), *cases = json_array(), *x;
	struct dtf_testcount c;

	(void)state;
	x = tcase("m", "xf", "skipped", 0);
	json_object_set_new(x, "type", json_string("pytest.xfail"));
	json_array_append_new(cases, x);
	json_array_append_new(cases, tcase("m", "sk", "skipped", 0));
	json_array_append_new(cases, tcase("m", "xp", "xpassed", 0));
	x = tcase("m", "fl", "passed", 0);
	json_object_set_new(x, "flaky", json_true());
	json_array_append_new(cases, x);
	json_array_append_new(cases, tcase("m", "od", "order_dependent", 0));
	json_array_append_new(cases, tcase("m", "iso", "isolation_failure", 0));
	json_array_append_new(cases, tcase("m", "odd", "bogus", 0));
	json_object_set_new(t, "result", json_pack("{so}", "testcases", cases));
	assert_entries(t, "xfailed m::xf", "skipped m::sk", "xpassed m::xp", "flaky m::fl",
		       "order_dependent m::od", "isolation_failure m::iso", "error m::odd", NULL);
	c = count_of(t);
	assert_int_equal(c.total, 7);
	/* Order dependence fails the run by default; relaxed, the unknown status still does. */
	assert_int_equal(dtf_testcount_failing(&c, false), 3);
	assert_int_equal(dtf_testcount_failing(&c, true), 1);
	json_decref(t);
}

/* A chunk that passed on its retry: the cases its failed attempt names are flaky, the others
 * passed; the names kept with an attempt are the failing cases'. */
static void test_flaky_chunk(void **state)
{
	json_t *t = task("chunk", "completed"), *cases = json_array(), *names;

	(void)state;
	json_array_append_new(cases, tcase("m.T", "test_1", "failed", 0));
	json_array_append_new(cases, tcase("", "test_2", "error", 0));
	json_array_append_new(cases, tcase("m.T", "test_3", "passed", 0));
	json_object_set_new(t, "result", json_pack("{so}", "testcases", cases));
	names = dtf_test_failing_names(t, 100);
	assert_int_equal(json_array_size(names), 2);
	assert_string_equal(json_string_value(json_array_get(names, 0)), "m.T::test_1");
	assert_string_equal(json_string_value(json_array_get(names, 1)), "test_2");
	json_decref(names);
	names = dtf_test_failing_names(t, 1);
	assert_int_equal(json_array_size(names), 1);
	json_decref(names);

	/* The retry passed everything. */
	cases = json_array();
	json_array_append_new(cases, tcase("m.T", "test_1", "passed", 0));
	json_array_append_new(cases, tcase("", "test_2", "passed", 0));
	json_array_append_new(cases, tcase("m.T", "test_3", "passed", 0));
	json_object_set_new(t, "result", json_pack("{so sb}", "testcases", cases, "flaky", 1));
	assert_null(dtf_test_failing_names(t, 100));
	json_object_set_new(t, "history",
			    json_pack("[{ss ss s[ss]} {ss}]", "outcome", "requeued", "error_kind",
				      "test_failures", "failed_tests", "m.T::test_1", "test_2",
				      "outcome", "passed"));
	assert_entries(t, "flaky m.T::test_1", "flaky test_2", "passed m.T::test_3", NULL);
	/* Without result.flaky (the coordinator did not call it a pass after a failure), no. */
	json_object_del(json_object_get(t, "result"), "flaky");
	assert_entries(t, "passed m.T::test_1", "passed test_2", "passed m.T::test_3", NULL);
	json_decref(t);
}

/* Long tables are cut with a count that is singular or plural as it should be. */
static void test_markdown_more_rows(void **state)
{
	json_t *t = task("many", "failed"), *cases = json_array(), *doc;
	struct dtf_buf out;
	char name[32];
	int i;

	(void)state;
	for (i = 0; i < 101; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		json_array_append_new(cases, tcase("m", name, "failed", 0));
	}
	json_object_set_new(t, "result", json_pack("{so}", "testcases", cases));
	doc = json_pack("{s{ss} s[o]}", "run", "id", "r-many", "tasks", t);
	assert_non_null(doc);
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_markdown(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "*… and 1 more failed test*\n"));
	json_array_append_new(cases, tcase("m", "t101", "failed", 0));
	dtf_buf_reset(&out);
	assert_int_equal(dtf_report_markdown(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "*… and 2 more failed tests*\n"));
	dtf_buf_release(&out);
	json_decref(doc);
}

static void assert_line(const struct dtf_testcount *c, const char *want)
{
	char line[256];

	dtf_testcount_line(c, line, sizeof(line));
	assert_string_equal(line, want);
}

static void test_line_singular_plural(void **state)
{
	struct dtf_testcount c;
	char small[12];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_line(&c, "0 tests: 0 passed, 0 failed");
	assert_string_equal(dtf_testcount_state(&c, false), "empty");
	c.n[DTF_TEST_PASSED] = c.total = 1;
	assert_line(&c, "1 test: 1 passed, 0 failed");
	assert_string_equal(dtf_testcount_state(&c, false), "success");
	c.n[DTF_TEST_ERROR] = 1;
	c.total = 2;
	assert_line(&c, "2 tests: 1 passed, 0 failed, 1 error");
	c.n[DTF_TEST_ERROR] = 2;
	c.n[DTF_TEST_ISOLATION_FAILURE] = 1;
	c.n[DTF_TEST_ORDER_DEPENDENT] = 2;
	c.n[DTF_TEST_SKIPPED] = 3;
	c.n[DTF_TEST_XFAILED] = 1;
	c.n[DTF_TEST_XPASSED] = 1;
	c.n[DTF_TEST_FLAKY] = 1;
	c.n[DTF_TEST_CANCELLED] = 1;
	c.n[DTF_TEST_PENDING] = 1;
	c.n[DTF_TEST_RUNNING] = 1;
	c.total = 15;
	assert_line(&c, "15 tests: 1 passed, 0 failed, 2 errors, 3 skipped, 1 xfailed, 1 xpassed, "
			"1 flaky, 2 order-dependent, 1 isolation failure, 1 cancelled, "
			"2 not finished");
	c.n[DTF_TEST_ISOLATION_FAILURE] = 2;
	c.total = 16;
	assert_line(&c, "16 tests: 1 passed, 0 failed, 2 errors, 3 skipped, 1 xfailed, 1 xpassed, "
			"1 flaky, 2 order-dependent, 2 isolation failures, 1 cancelled, "
			"2 not finished");
	/* Cut to fit, never past the buffer. */
	dtf_testcount_line(&c, small, sizeof(small));
	assert_string_equal(small, "16 tests: 1");
	memset(&c, 0, sizeof(c));
	c.n[DTF_TEST_PASSED] = 2;
	c.n[DTF_TEST_CANCELLED] = 1;
	c.total = 3;
	assert_string_equal(dtf_testcount_state(&c, false), "incomplete");
}

static void test_json_round_trip(void **state)
{
	struct dtf_testcount c, back;
	json_t *j;
	int i;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < DTF_TEST__COUNT; i++) {
		c.n[i] = i + 1;
		c.total += i + 1;
		assert_int_equal(
		    dtf_test_status_parse(dtf_test_status_name((enum dtf_test_status)i)), i);
	}
	assert_int_equal(dtf_test_status_parse("assigned"), -1);
	c.duration_s = 1.5;
	j = dtf_testcount_json(&c);
	assert_non_null(j);
	assert_int_equal(dtf_json_int(j, "order_dependent", -1), DTF_TEST_ORDER_DEPENDENT + 1);
	dtf_testcount_from_json(&back, j);
	assert_memory_equal(back.n, c.n, sizeof(c.n));
	assert_int_equal(back.total, c.total);
	assert_float_equal(back.duration_s, 1.5, 1e-9);
	/* Adding then taking away leaves nothing. */
	dtf_testcount_merge(&back, &c, -1);
	assert_int_equal(back.total, 0);
	for (i = 0; i < DTF_TEST__COUNT; i++)
		assert_int_equal(back.n[i], 0);
	json_decref(j);
}

/* The number of times needle occurs in hay. */
static size_t occurrences(const char *hay, const char *needle)
{
	size_t n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* One run with every kind of entry: the rows, the JSON summary, JUnit, CSV, Markdown and the
 * combined badge all give the same numbers. */
static void test_formats_agree(void **state)
{
	json_t *doc, *tasks = json_array(), *t, *cases, *x, *s, *row, *badge;
	struct dtf_buf out;
	struct dtf_testcount c;
	char err[256], dir[4096], path[4200], line[256];
	size_t i, nrows[DTF_TEST__COUNT] = {0};

	(void)state;
	t = task("plain", "completed");
	json_array_append_new(tasks, t);
	t = task("broken", "failed");
	json_object_set_new(t, "result", json_pack("{si}", "exit_code", 1));
	json_array_append_new(tasks, t);
	t = task("chunk", "failed");
	cases = json_array();
	json_array_append_new(cases, tcase("t.test_a", "one", "passed", 0.5));
	x = tcase("t.test_a", "xf", "skipped", 0.1);
	json_object_set_new(x, "type", json_string("pytest.xfail"));
	json_array_append_new(cases, x);
	json_array_append_new(cases, tcase("t.test_a", "od", "order_dependent", 0.2));
	json_object_set_new(t, "result",
			    json_pack("{sf so}", "duration_s", 4.0, "testcases", cases));
	json_array_append_new(tasks, t);
	t = task("crash", "failed");
	json_object_set_new(t, "error", json_pack("{ss}", "kind", "signal"));
	json_object_set_new(t, "result", json_pack("{si}", "signal", 9));
	json_object_set_new(t, "params",
			    json_pack("{s[ss]}", "pytest_files", "t/test_p.py", "t/test_q.py"));
	json_array_append_new(tasks, t);
	t = task("retry", "completed");
	json_object_set_new(t, "result", json_pack("{sb}", "flaky", 1));
	json_array_append_new(tasks, t);
	doc = json_pack("{s{ss} so}", "run", "id", "r-agree", "tasks", tasks);
	assert_non_null(doc);
	assert_int_equal(dtf_report_prepare(doc, NULL, err, sizeof(err)), 0);

	s = json_object_get(doc, "summary");
	dtf_testcount_from_json(&c, s);
	/* plain, broken, 3 cases, crash + 2 files, retry. */
	assert_int_equal(c.total, 9);
	assert_int_equal(c.n[DTF_TEST_PASSED], 2);
	assert_int_equal(c.n[DTF_TEST_FAILED], 1);
	assert_int_equal(c.n[DTF_TEST_ERROR], 3);
	assert_int_equal(c.n[DTF_TEST_XFAILED], 1);
	assert_int_equal(c.n[DTF_TEST_ORDER_DEPENDENT], 1);
	assert_int_equal(c.n[DTF_TEST_FLAKY], 1);
	assert_int_equal(dtf_json_int(json_object_get(s, "tasks"), "total", 0), 5);
	dtf_testcount_line(&c, line, sizeof(line));
	assert_string_equal(line, "9 tests: 2 passed, 1 failed, 3 errors, 1 xfailed, 1 flaky, "
				  "1 order-dependent");

	/* The rows, status by status. */
	assert_int_equal(json_array_size(json_object_get(doc, "tests")), (size_t)c.total);
	json_array_foreach(json_object_get(doc, "tests"), i, row) {
		int st = dtf_test_status_parse(dtf_json_str(row, "status", ""));

		assert_true(st >= 0);
		nrows[st]++;
	}
	for (i = 0; i < DTF_TEST__COUNT; i++)
		assert_int_equal(nrows[i], (size_t)c.n[i]);

	/* JUnit: tests= is the total; failures, errors and skipped add up the statuses. */
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_junit(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "<testsuites name=\"r-agree\" tests=\"9\" "
						  "failures=\"2\" errors=\"3\" skipped=\"1\""));
	assert_int_equal(occurrences(dtf_buf_str(&out), "<testcase "), 9);

	/* CSV: a header and one row per entry. */
	dtf_buf_reset(&out);
	assert_int_equal(dtf_report_csv(doc, &out), 0);
	assert_int_equal(occurrences(dtf_buf_str(&out), "\r\n"), 10);
	assert_int_equal(occurrences(dtf_buf_str(&out), ",error,"), 3);
	/* The task's error says what happened; its files name the task and it. */
	assert_non_null(strstr(dtf_buf_str(&out), "crash (task),crash,error,0.000,,signal,"
						  "killed by signal 9,\r\n"));
	assert_non_null(strstr(dtf_buf_str(&out),
			       "t/test_q.py,crash,error,0.000,,not_run,not run: crash failed "
			       "before this file's tests reported (killed by signal 9),\r\n"));

	/* Markdown. */
	dtf_buf_reset(&out);
	assert_int_equal(dtf_report_markdown(doc, &out), 0);
	assert_non_null(strstr(dtf_buf_str(&out), "- Total Tests: 9\n- Passed: 2 (22.2%)\n"
						  "- Failed: 1 (11.1%)\n- Errors: 3 (33.3%)\n"));
	assert_non_null(strstr(dtf_buf_str(&out), "- Tasks: 5\n"));

	/* GitLab's Code Quality report: an issue per failing entry, the flaky one as info. */
	dtf_buf_reset(&out);
	assert_int_equal(dtf_report_codequality(doc, &out), 0);
	{
		json_t *issues = json_loads(dtf_buf_str(&out), 0, NULL), *is;
		size_t nmajor = 0, ninfo = 0, ncrit = 0;

		assert_true(json_is_array(issues));
		json_array_foreach(issues, i, is) {
			const char *sev = dtf_json_str(is, "severity", "");

			nmajor += strcmp(sev, "major") == 0;
			ninfo += strcmp(sev, "info") == 0;
			ncrit += strcmp(sev, "critical") == 0;
		}
		/* failed and order-dependent; the flaky retry; the three errors. */
		assert_int_equal(nmajor, 2);
		assert_int_equal(ninfo, 1);
		assert_int_equal(ncrit, 3);
		assert_int_equal(json_array_size(issues), 6);
		json_decref(issues);
	}

	/* The badge. */
	snprintf(dir, sizeof(dir), "%s/dtf-counts-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 (int)getpid());
	assert_int_equal(dtf_report_write_badges(doc, dir, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/combined-status.json", dir);
	badge = json_load_file(path, 0, NULL);
	assert_non_null(badge);
	assert_string_equal(dtf_json_str(badge, "message", ""),
			    "1 failed, 3 errors, 1 order-dependent, 2 passed, 1 flaky, 1 xfailed");
	json_decref(badge);
	assert_int_equal(dtf_rmtree(dir), 0);

	dtf_buf_release(&out);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunk_of_many_cases),	 cmocka_unit_test(test_tasks_without_cases),
	    cmocka_unit_test(test_crashed_chunk),	 cmocka_unit_test(test_case_statuses),
	    cmocka_unit_test(test_flaky_chunk),		 cmocka_unit_test(test_markdown_more_rows),
	    cmocka_unit_test(test_line_singular_plural), cmocka_unit_test(test_json_round_trip),
	    cmocka_unit_test(test_formats_agree),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
