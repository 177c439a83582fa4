/* test_isolate.c: unit tests of src/ci/isolate: which failing tests of a pytest chunk are re-run
 * alone and how (node ids, the chunk's runner and placement, the bound), and how the re-runs'
 * results classify each case (failed, order_dependent, isolation_failure, not re-run,
 * inconclusive), with the files that ran before it; the exit-status rule of
 * --allow-order-dependent; the shared options. No processes: documents in, documents out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ci/isolate.h"
#include "common/err.h"
#include "common/json.h"
#include "unit_main.h"

#define RUNNER                                                                                     \
	"exec \"${DTF_PYTHON:-python3}\" -m pytest -q -p no:cacheprovider "                        \
	"--junitxml=\"$DTF_WORK_DIR/pytest-junit.xml\""

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	if (!v)
		print_error("bad JSON in the test: %s at %d: %s\n", e.text, e.position, text);
	assert_non_null(v);
	return v;
}

static void check_str(const json_t *obj, const char *key, const char *want)
{
	const char *got = dtf_json_str(obj, key, "(absent)");

	if (strcmp(got, want) != 0) {
		char *s = dtf_json_dumps(obj);
		print_error("%s: got \"%s\", want \"%s\" in %s\n", key, got, want, s);
		free(s);
	}
	assert_string_equal(got, want);
}

static void check_json(const json_t *v, const char *want)
{
	json_t *w = parse(want);

	if (!json_equal((json_t *)v, w)) {
		char *s = dtf_json_dumps(v);
		print_error("got %s\nwant %s\n", s ? s : "(null)", want);
		free(s);
	}
	assert_true(json_equal((json_t *)v, w));
	json_decref(w);
}

/* A failed chunk of three files under /s/tests, run from /s (classnames "tests.test_x…"):
 * 0 test_a::test_sets passed (it sets the state), 1 test_b::test_clean failed (it wants the state
 * unset), 2 test_c::TestC::test_needs[x-1] passed (it wants the state set), 3 test_c::TestC::
 * test_always failed, 4 test_c::test_other passed. */
static json_t *chunk_doc(void)
{
	json_t *doc = parse(
	    "{\"tasks\": [{\"id\": \"t-ok\", \"name\": \"pytest chunk 2 of 2\", \"status\": "
	    "\"completed\", \"params\": {\"pytest_files\": [\"/s/tests/test_z.py\"]}, \"result\": "
	    "{\"exit_code\": 0, \"testcases\": [{\"classname\": \"tests.test_z\", \"name\": "
	    "\"test_z\", \"status\": \"passed\"}]}},"
	    "{\"id\": \"t-1\", \"name\": \"pytest chunk 1 of 2\", \"type\": \"test\", \"status\": "
	    "\"failed\", \"cwd\": \"/s\", \"env\": {\"A\": \"1\"}, \"hardware\": [\"cpu\"], "
	    "\"requirements\": {\"cpu\": 2, \"hardware\": []}, \"junit\": \"pytest-junit.xml\", "
	    "\"params\": {\"pytest_files\": [\"/s/tests/test_a.py\", \"/s/tests/test_b.py\", "
	    "\"/s/tests/test_c.py\"]}, "
	    "\"result\": {\"exit_code\": 1, \"testcases\": ["
	    "{\"classname\": \"tests.test_a\", \"name\": \"test_sets\", \"status\": \"passed\"},"
	    "{\"classname\": \"tests.test_b\", \"name\": \"test_clean\", \"status\": \"failed\", "
	    "\"type\": \"AssertionError\", \"message\": \"assert 'DTF_STATE' not in environ\"},"
	    "{\"classname\": \"tests.test_c.TestC\", \"name\": \"test_needs[x-1]\", \"status\": "
	    "\"passed\"},"
	    "{\"classname\": \"tests.test_c.TestC\", \"name\": \"test_always\", \"status\": "
	    "\"failed\", \"message\": \"assert False\"},"
	    "{\"classname\": \"tests.test_c\", \"name\": \"test_other\", \"status\": \"passed\"}"
	    "]}}]}");

	/* The command dtf_pytest_group writes (its quotes are not JSON's). */
	json_object_set_new(json_array_get(json_object_get(doc, "tasks"), 1), "shell",
			    json_string(RUNNER " '/s/tests/test_a.py' '/s/tests/test_b.py' "
					       "'/s/tests/test_c.py'"));
	return doc;
}

static struct dtf_isolate_opts opts(int max_tests)
{
	struct dtf_isolate_opts o;

	dtf_isolate_opts_init(&o);
	o.max_tests = max_tests;
	return o;
}

static void test_plan(void **state)
{
	json_t *doc = chunk_doc(), *plan, *t;
	struct dtf_isolate_opts o = opts(20);

	(void)state;
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	assert_non_null(plan);
	/* The two failing tests alone, then test_c.py alone (it has passing tests); test_b.py has
	 * none, so it is not re-run as a file. The passing chunk is left alone. */
	assert_int_equal(json_array_size(plan), 3);
	t = json_array_get(plan, 0);
	check_str(t, "name", "alone: test_b.py::test_clean");
	check_str(t, "shell", RUNNER " '/s/tests/test_b.py::test_clean'");
	check_str(t, "cwd", "/s");
	check_str(t, "junit", "pytest-junit.xml");
	check_str(t, "type", "test");
	check_json(json_object_get(t, "env"), "{\"A\": \"1\"}");
	check_json(json_object_get(t, "hardware"), "[\"cpu\"]");
	check_json(json_object_get(t, "requirements"), "{\"cpu\": 2, \"hardware\": []}");
	assert_true(dtf_json_num(t, "timeout_s", 0) == 60.0);
	check_json(json_object_get(json_object_get(t, "params"), "isolate"),
		   "{\"task_id\": \"t-1\", \"kind\": \"test\", \"case\": 1, \"file\": "
		   "\"/s/tests/test_b.py\"}");
	t = json_array_get(plan, 1);
	check_str(t, "shell", RUNNER " '/s/tests/test_c.py::TestC::test_always'");
	check_json(json_object_get(json_object_get(t, "params"), "isolate"),
		   "{\"task_id\": \"t-1\", \"kind\": \"test\", \"case\": 3, \"file\": "
		   "\"/s/tests/test_c.py\"}");
	t = json_array_get(plan, 2);
	check_str(t, "name", "alone: test_c.py");
	check_str(t, "shell", RUNNER " '/s/tests/test_c.py'");
	check_json(json_object_get(json_object_get(t, "params"), "isolate"),
		   "{\"task_id\": \"t-1\", \"kind\": \"file\", \"file\": \"/s/tests/test_c.py\"}");
	json_decref(plan);

	/* The bound: one test, and only the file of a test that was re-run. */
	o = opts(1);
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	assert_int_equal(json_array_size(plan), 1);
	check_str(json_array_get(plan, 0), "name", "alone: test_b.py::test_clean");
	json_decref(plan);
	o = opts(0);
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	assert_int_equal(json_array_size(plan), 0);
	json_decref(plan);
	json_decref(doc);
}

static void test_plan_shapes(void **state)
{
	struct dtf_isolate_opts o = opts(20);
	json_t *tasks, *plan;

	(void)state;
	/* An argv command: the run of file arguments is replaced, what follows it is kept; the
	 * classname is relative to another rootdir (the file's own directory); a file that failed
	 * to import (classname "", name the module) is re-run as the file; quotes in a parameter
	 * are kept whole. */
	tasks = parse("[{\"id\": \"t-2\", \"status\": \"failed\", \"command\": [\"py\", \"-m\", "
		      "\"pytest\", \"/r/test_a.py\", \"/r/test_b.py\", \"-x\"], \"params\": "
		      "{\"pytest_files\": [\"/r/test_a.py\", \"/r/test_b.py\"]}, \"result\": "
		      "{\"testcases\": [{\"classname\": \"\", \"name\": \"test_a\", \"status\": "
		      "\"error\"}, {\"classname\": \"test_b\", \"name\": \"test_q[it's]\", "
		      "\"status\": \"failed\"}]}}]");
	plan = dtf_isolate_plan(tasks, &o);
	assert_int_equal(json_array_size(plan), 2);
	check_json(json_object_get(json_array_get(plan, 0), "command"),
		   "[\"py\", \"-m\", \"pytest\", \"/r/test_a.py\", \"-x\"]");
	check_json(json_object_get(json_array_get(plan, 1), "command"),
		   "[\"py\", \"-m\", \"pytest\", \"/r/test_b.py::test_q[it's]\", \"-x\"]");
	json_decref(plan);
	json_decref(tasks);

	/* Two files of the same name in different directories: the classname's directories pick
	 * one; a shell command dtf did not write gets pytest the way chunks run it. */
	tasks =
	    parse("[{\"id\": \"t-3\", \"status\": \"failed\", \"shell\": \"make check\", "
		  "\"params\": {\"pytest_files\": [\"/n/core/tests/test_api.py\", "
		  "\"/n/lib/tests/test_api.py\"]}, \"result\": {\"testcases\": [{\"classname\": "
		  "\"lib.tests.test_api.TestX\", \"name\": \"test_y\", \"status\": "
		  "\"failed\"}]}}]");
	plan = dtf_isolate_plan(tasks, &o);
	assert_int_equal(json_array_size(plan), 1);
	check_str(json_array_get(plan, 0), "shell",
		  RUNNER " '/n/lib/tests/test_api.py::TestX::test_y'");
	check_str(json_array_get(plan, 0), "junit", "pytest-junit.xml");
	json_decref(plan);
	json_decref(tasks);

	/* A test name longer than a task name may be: cut on a character boundary. */
	{
		char name[1300] = "test_long[";
		size_t n = strlen(name);
		while (n + 3 < sizeof(name)) {
			memcpy(name + n, "\xc3\xa9", 2); /* é */
			n += 2;
		}
		name[n] = '\0';
		tasks = parse("[{\"id\": \"t-6\", \"status\": \"failed\", \"params\": "
			      "{\"pytest_files\": [\"/r/test_a.py\"]}, \"result\": {\"testcases\": "
			      "[]}}]");
		json_array_append_new(
		    json_object_get(json_object_get(json_array_get(tasks, 0), "result"),
				    "testcases"),
		    json_pack("{s:s,s:s,s:s}", "classname", "test_a", "name", name, "status",
			      "failed"));
		plan = dtf_isolate_plan(tasks, &o);
		assert_int_equal(json_array_size(plan), 1);
		assert_true(strlen(dtf_json_str(json_array_get(plan, 0), "name", "")) < 512);
		assert_non_null(strstr(dtf_json_str(json_array_get(plan, 0), "shell", ""), name));
		json_decref(plan);
		json_decref(tasks);
	}

	/* Not chunks: a failed task without pytest_files, a case from no file of the chunk. */
	tasks = parse("[{\"id\": \"t-4\", \"status\": \"failed\", \"result\": {\"testcases\": "
		      "[{\"classname\": \"x\", \"name\": \"y\", \"status\": \"failed\"}]}}, "
		      "{\"id\": \"t-5\", \"status\": \"failed\", \"params\": {\"pytest_files\": "
		      "[\"/r/test_a.py\"]}, \"result\": {\"testcases\": [{\"classname\": "
		      "\"other.test_q\", \"name\": \"t\", \"status\": \"failed\"}]}}]");
	plan = dtf_isolate_plan(tasks, &o);
	assert_int_equal(json_array_size(plan), 0);
	json_decref(plan);
	json_decref(tasks);
}

/* The re-runs of doc's plan as the API shows them finished: the i-th planned task with id
 * "r-i", status and the JUnit cases given for it. */
static json_t *finish(json_t *plan, size_t i, const char *status, const char *cases)
{
	json_t *t = json_array_get(plan, i);
	char id[16];

	assert_non_null(t);
	snprintf(id, sizeof(id), "r-%zu", i);
	json_object_set_new(t, "id", json_string(id));
	json_object_set_new(t, "status", json_string(status));
	json_object_set_new(t, "result",
			    json_pack("{s:i,s:o}", "exit_code", strcmp(status, "completed") ? 1 : 0,
				      "testcases", parse(cases)));
	return t;
}

static json_t *case_of(json_t *doc, size_t task, size_t i)
{
	return json_array_get(
	    json_object_get(
		json_object_get(json_array_get(json_object_get(doc, "tasks"), task), "result"),
		"testcases"),
	    i);
}

static void test_classify(void **state)
{
	json_t *doc = chunk_doc(), *plan, *tc, *iso;
	struct dtf_isolate_opts o = opts(20);

	(void)state;
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	assert_int_equal(json_array_size(plan), 3);
	/* test_clean passes alone (the re-run's rootdir is the file's directory); test_always fails
	 * alone; test_c.py alone: test_needs fails (it needed test_a's state), test_other passes.
	 */
	finish(plan, 0, "completed",
	       "[{\"classname\": \"test_b\", \"name\": \"test_clean\", \"status\": \"passed\"}]");
	finish(plan, 1, "failed",
	       "[{\"classname\": \"tests.test_c.TestC\", \"name\": \"test_always\", \"status\": "
	       "\"failed\"}]");
	finish(plan, 2, "failed",
	       "[{\"classname\": \"test_c.TestC\", \"name\": \"test_needs[x-1]\", \"status\": "
	       "\"failed\", \"message\": \"KeyError: 'DTF_STATE'\", \"details\": \"trace\"}, "
	       "{\"classname\": \"test_c.TestC\", \"name\": \"test_always\", \"status\": "
	       "\"failed\"}, {\"classname\": \"test_c\", \"name\": \"test_other\", \"status\": "
	       "\"passed\"}]");
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 2);

	tc = case_of(doc, 1, 1);
	check_str(tc, "status", "order_dependent");
	check_str(tc, "type", "order_dependent");
	check_str(tc, "message",
		  "passes alone; failed in its chunk after test_a.py (in the chunk: "
		  "assert 'DTF_STATE' not in environ)");
	iso = json_object_get(tc, "isolation");
	check_json(iso, "{\"outcome\": \"order_dependent\", \"chunk_status\": \"failed\", "
			"\"files_before\": [\"/s/tests/test_a.py\"], \"earlier_in_file\": 0, "
			"\"rerun_task_id\": \"r-0\", \"rerun\": \"test\", \"alone_status\": "
			"\"passed\", \"chunk_message\": \"assert 'DTF_STATE' not in environ\", "
			"\"chunk_type\": \"AssertionError\"}");

	tc = case_of(doc, 1, 3);
	check_str(tc, "status", "failed");
	check_str(tc, "message", "assert False");
	check_json(
	    json_object_get(tc, "isolation"),
	    "{\"outcome\": \"failed\", \"chunk_status\": \"failed\", \"files_before\": "
	    "[\"/s/tests/test_a.py\", \"/s/tests/test_b.py\"], \"earlier_in_file\": 1, "
	    "\"rerun_task_id\": \"r-1\", \"rerun\": \"test\", \"alone_status\": \"failed\"}");

	tc = case_of(doc, 1, 2);
	check_str(tc, "status", "isolation_failure");
	check_str(tc, "type", "isolation_failure");
	check_str(tc, "details", "trace");
	check_str(tc, "message",
		  "fails when its file runs alone (alone: KeyError: 'DTF_STATE'); "
		  "passed in its chunk after test_a.py, test_b.py");
	check_json(json_object_get(tc, "isolation"),
		   "{\"outcome\": \"isolation_failure\", \"chunk_status\": \"passed\", "
		   "\"files_before\": [\"/s/tests/test_a.py\", \"/s/tests/test_b.py\"], "
		   "\"earlier_in_file\": 0, \"rerun_task_id\": \"r-2\", \"rerun\": \"file\", "
		   "\"alone_status\": \"failed\"}");

	/* Passing cases that pass alone too, and the passing chunk, are untouched. */
	assert_null(json_object_get(case_of(doc, 1, 0), "isolation"));
	check_str(case_of(doc, 1, 4), "status", "passed");
	assert_null(json_object_get(case_of(doc, 1, 4), "isolation"));
	assert_null(json_object_get(case_of(doc, 0, 0), "isolation"));
	/* test_always fails alone: the run fails even with --allow-order-dependent. */
	assert_false(dtf_isolate_only_order(doc));
	json_decref(plan);
	json_decref(doc);
}

static void test_allow_rule(void **state)
{
	json_t *doc = chunk_doc(), *plan, *chunk;
	struct dtf_isolate_opts o = opts(20);

	(void)state;
	/* Nothing classified yet: plain failures. */
	assert_false(dtf_isolate_only_order(doc));
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	finish(plan, 0, "completed",
	       "[{\"classname\": \"tests.test_b\", \"name\": \"test_clean\", \"status\": "
	       "\"passed\"}]");
	finish(plan, 1, "completed",
	       "[{\"classname\": \"tests.test_c.TestC\", \"name\": \"test_always\", \"status\": "
	       "\"passed\"}]");
	finish(plan, 2, "completed", "[]");
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 2);
	check_str(case_of(doc, 1, 3), "message",
		  "passes alone; failed in its chunk after test_a.py, test_b.py and 1 earlier test "
		  "of its own file (in the chunk: assert False)");
	assert_true(dtf_isolate_only_order(doc));
	/* A chunk that crashed, or exited 2 (interrupted, usage), is not explained by its tests. */
	chunk = json_array_get(json_object_get(doc, "tasks"), 1);
	json_object_set_new(json_object_get(chunk, "result"), "exit_code", json_integer(2));
	assert_false(dtf_isolate_only_order(doc));
	json_object_set_new(json_object_get(chunk, "result"), "exit_code", json_integer(1));
	/* Another failed task that is no chunk fails the run. */
	json_array_append_new(json_object_get(doc, "tasks"),
			      parse("{\"id\": \"t-9\", \"status\": \"failed\"}"));
	assert_false(dtf_isolate_only_order(doc));
	json_decref(plan);
	json_decref(doc);
}

static void test_not_told_apart(void **state)
{
	json_t *doc = chunk_doc(), *plan, *iso;
	struct dtf_isolate_opts o = opts(20);

	(void)state;
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	/* Cancelled at the bound; the other found no such test; the file found no failure. */
	finish(plan, 0, "cancelled", "[]");
	finish(plan, 1, "failed", "[]");
	finish(plan, 2, "completed",
	       "[{\"classname\": \"test_c.TestC\", \"name\": \"test_needs[x-1]\", \"status\": "
	       "\"passed\"}]");
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 0);
	check_str(case_of(doc, 1, 1), "status", "failed");
	iso = json_object_get(case_of(doc, 1, 1), "isolation");
	check_str(iso, "outcome", "inconclusive");
	check_str(iso, "reason", "the re-run did not finish within 60 s (cancelled)");
	iso = json_object_get(case_of(doc, 1, 3), "isolation");
	check_str(iso, "outcome", "inconclusive");
	check_str(iso, "reason", "the re-run found no such test (exit code 1)");
	check_str(case_of(doc, 1, 2), "status", "passed");
	assert_null(json_object_get(case_of(doc, 1, 2), "isolation"));
	json_decref(plan);
	json_decref(doc);

	/* A timeout, and a test skipped when alone. */
	doc = chunk_doc();
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	finish(plan, 0, "failed", "[]");
	json_object_set_new(json_array_get(plan, 0), "error",
			    json_pack("{s:s}", "kind", "timeout"));
	finish(plan, 1, "completed",
	       "[{\"classname\": \"tests.test_c.TestC\", \"name\": \"test_always\", \"status\": "
	       "\"skipped\"}]");
	json_array_remove(plan, 2);
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 0);
	check_str(json_object_get(case_of(doc, 1, 1), "isolation"), "reason",
		  "the re-run did not finish within 60 s");
	check_str(json_object_get(case_of(doc, 1, 3), "isolation"), "reason",
		  "it was skipped when run alone");

	/* Over the bound: the second failing test was not re-run. */
	json_array_remove(plan, 1);
	json_object_del(case_of(doc, 1, 3), "isolation");
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 0);
	iso = json_object_get(case_of(doc, 1, 3), "isolation");
	check_str(iso, "outcome", "not_rerun");
	check_str(iso, "reason", "over the bound of 20 tests re-run alone");
	json_decref(plan);
	json_decref(doc);
}

static void test_collection_error(void **state)
{
	struct dtf_isolate_opts o = opts(20);
	json_t *doc, *plan;

	(void)state;
	/* test_b.py failed to import in the chunk (after test_a.py): alone it imports and passes.
	 */
	doc = parse(
	    "{\"tasks\": [{\"id\": \"t-7\", \"status\": \"failed\", \"params\": {\"pytest_files\": "
	    "[\"/p/test_a.py\", \"/p/test_b.py\"]}, \"result\": {\"exit_code\": 1, "
	    "\"testcases\": [{\"classname\": \"test_a\", \"name\": \"test_1\", \"status\": "
	    "\"passed\"}, {\"classname\": \"\", \"name\": \"test_b\", \"status\": \"error\", "
	    "\"message\": \"collection failure\"}]}}]}");
	json_object_set_new(json_array_get(json_object_get(doc, "tasks"), 0), "shell",
			    json_string(RUNNER " '/p/test_a.py' '/p/test_b.py'"));
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	assert_int_equal(json_array_size(plan), 1);
	check_str(json_array_get(plan, 0), "shell", RUNNER " '/p/test_b.py'");
	finish(plan, 0, "completed",
	       "[{\"classname\": \"test_b\", \"name\": \"test_x\", \"status\": \"passed\"}, "
	       "{\"classname\": \"test_b\", \"name\": \"test_y\", \"status\": \"skipped\"}]");
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 1);
	check_str(case_of(doc, 0, 1), "status", "order_dependent");
	check_str(json_object_get(case_of(doc, 0, 1), "isolation"), "chunk_status", "error");
	assert_true(dtf_isolate_only_order(doc));
	json_decref(plan);
	json_decref(doc);
}

static void test_many_files_before(void **state)
{
	struct dtf_isolate_opts o = opts(20);
	json_t *doc = parse("{\"tasks\": [{\"id\": \"t-8\", \"status\": \"failed\", \"params\": "
			    "{\"pytest_files\": []}, \"result\": {\"exit_code\": 1, \"testcases\": "
			    "[]}}]}");
	json_t *task = json_array_get(json_object_get(doc, "tasks"), 0), *plan, *tc;
	json_t *files = json_object_get(json_object_get(task, "params"), "pytest_files");
	json_t *cases = json_object_get(json_object_get(task, "result"), "testcases");
	char path[64], cls[32];
	int i;

	(void)state;
	/* Eight files, one passing test each, then a ninth whose test fails in the chunk. */
	for (i = 0; i < 9; i++) {
		snprintf(path, sizeof(path), "/m/test_%d.py", i);
		snprintf(cls, sizeof(cls), "test_%d", i);
		json_array_append_new(files, json_string(path));
		json_array_append_new(cases,
				      json_pack("{s:s,s:s,s:s}", "classname", cls, "name",
						"test_it", "status", i == 8 ? "failed" : "passed"));
	}
	plan = dtf_isolate_plan(json_object_get(doc, "tasks"), &o);
	assert_int_equal(json_array_size(plan), 1);
	check_str(json_array_get(plan, 0), "shell", RUNNER " '/m/test_8.py::test_it'");
	finish(plan, 0, "completed",
	       "[{\"classname\": \"test_8\", \"name\": \"test_it\", \"status\": \"passed\"}]");
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 1);
	tc = case_of(doc, 0, 8);
	check_str(tc, "message",
		  "passes alone; failed in its chunk after test_0.py, test_1.py, "
		  "test_2.py, test_3.py, test_4.py, test_5.py and 2 more");
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(tc, "isolation"), "files_before")), 8);
	/* A long message from the chunk is quoted cut, on a character boundary. */
	{
		char m[700] = "x"; /* then 2-byte characters: byte 200 is inside one */
		size_t n = 1;
		while (n + 3 < sizeof(m)) {
			memcpy(m + n, "\xc3\xa9", 2);
			n += 2;
		}
		m[n] = '\0';
		json_object_set_new(case_of(doc, 0, 8), "message", json_string(m));
		json_object_set_new(case_of(doc, 0, 8), "status", json_string("failed"));
		assert_int_equal(dtf_isolate_apply(doc, plan, &o), 1);
		tc = case_of(doc, 0, 8);
		check_str(tc, "status", "order_dependent");
		assert_non_null(
		    strstr(dtf_json_str(tc, "message", ""), "2 more (in the chunk: x\xc3\xa9"));
		assert_non_null(strstr(dtf_json_str(tc, "message", ""), "\xc3\xa9…)"));
	}
	/* Applying again to a classified document changes nothing more. */
	assert_int_equal(dtf_isolate_apply(doc, plan, &o), 0);
	check_str(case_of(doc, 0, 8), "status", "order_dependent");
	json_decref(plan);
	json_decref(doc);
}

static void test_options(void **state)
{
	struct dtf_isolate_opts o;
	char err[128];

	(void)state;
	dtf_isolate_opts_init(&o);
	assert_false(o.off);
	assert_false(o.allow);
	assert_int_equal(o.max_tests, 20);
	assert_true(o.max_seconds == 60.0);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_MAX_TESTS, "5", err, 128), 0);
	assert_int_equal(o.max_tests, 5);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_MAX_TESTS, "-1", err, 128),
			 DTF_EINVAL);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_MAX_TESTS, "5x", err, 128),
			 DTF_EINVAL);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_MAX_TESTS, "1001", err, 128),
			 DTF_EINVAL);
	assert_int_equal(o.max_tests, 5);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_MAX_SECONDS, "90", err, 128), 0);
	assert_true(o.max_seconds == 90.0);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_MAX_SECONDS, "0", err, 128),
			 DTF_EINVAL);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_OFF, NULL, err, 128), 0);
	assert_int_equal(dtf_isolate_parse_opt(&o, DTF_ISOLATE_OPT_ALLOW, NULL, err, 128), 0);
	assert_true(o.off && o.allow);
	assert_true(dtf_isolate_is_opt(DTF_ISOLATE_OPT_ALLOW));
	assert_false(dtf_isolate_is_opt('h'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_plan_shapes),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_allow_rule),
	    cmocka_unit_test(test_not_told_apart),
	    cmocka_unit_test(test_collection_error),
	    cmocka_unit_test(test_many_files_before),
	    cmocka_unit_test(test_options),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
