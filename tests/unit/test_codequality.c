/* test_codequality.c: unit tests of the GitLab Code Quality report (src/report/codequality.c):
 * one issue per test that did not pass, at its file and line, with stable fingerprints, and
 * valid UTF-8 however long the failure message is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/json.h"
#include "report/codequality.h"
#include "unit_main.h"

/* A run: a pytest file with a passing and a failing case, a crashed shell test, a task no
 * worker could run (skipped) and a passing task. */
static json_t *make_run(const char *long_message)
{
	return json_pack(
	    "{s:{s:s,s:s},s:[{s:s,s:s,s:s,s:{s:s},s:{s:i,s:[{s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}},"
	    "{s:s,s:s,s:s,s:{s:s,s:s},s:{s:i}},"
	    "{s:s,s:s,s:s,s:{s:s,s:s}},"
	    "{s:s,s:s,s:s,s:{s:i}}]}",
	    "run", "id", "r-1", "name", "cq", "tasks",
	    /* 1 */ "id", "t-1", "name", "test_a.py", "status", "failed", "params", "file",
	    "./tests/test_a.py", "result", "exit_code", 1, "testcases", "name", "test_ok",
	    "classname", "test_a", "status", "passed", "name", "test_bad", "classname", "test_a",
	    "status", "failed", "message", "tests/test_a.py:12: AssertionError: 2 != 3",
	    /* 2 */ "id", "t-2", "name", "test_crash.sh", "status", "failed", "error", "kind",
	    "exit_code", "message", long_message, "result", "exit_code", 139,
	    /* 3 */ "id", "t-3", "name", "needs_cuda", "status", "cancelled", "error", "kind",
	    "unschedulable", "message", "no registered worker can run it",
	    /* 4 */ "id", "t-4", "name", "plain", "status", "completed", "result", "exit_code", 0);
}

/* The report of a run as parsed JSON (caller frees). */
static json_t *render(const char *long_message)
{
	json_t *doc = make_run(long_message), *out;
	struct dtf_buf b;
	char err[256];

	assert_non_null(doc);
	dtf_buf_init(&b, 1 << 20);
	assert_int_equal(dtf_report_codequality(doc, &b), 0);
	out = dtf_json_parse(b.data, b.len, err, sizeof(err));
	if (!out)
		print_error("not JSON (%s): %.*s\n", err, (int)b.len, b.data);
	assert_non_null(out);
	dtf_buf_release(&b);
	json_decref(doc);
	return out;
}

static const json_t *issue_at(const json_t *issues, const char *path)
{
	size_t i;
	json_t *e;

	json_array_foreach(issues, i, e) {
		const char *p = dtf_json_str(json_object_get(e, "location"), "path", "");
		if (strcmp(p, path) == 0)
			return e;
	}
	return NULL;
}

static void test_issues(void **state)
{
	json_t *issues = render("exit code 139 (segmentation fault)");
	const json_t *bad, *crash;
	char *text = dtf_json_dumps(issues);

	(void)state;
	/* The failing case and the crashed task; not the passing ones, not the skipped one. */
	if (json_array_size(issues) != 2)
		print_error("issues: %s\n", text);
	assert_int_equal(json_array_size(issues), 2);
	bad = issue_at(issues, "tests/test_a.py");
	crash = issue_at(issues, "test_crash.sh");
	assert_non_null(bad);
	assert_non_null(crash);
	assert_string_equal(dtf_json_str(bad, "check_name", ""), "dtf/failed");
	assert_string_equal(dtf_json_str(bad, "severity", ""), "major");
	assert_non_null(strstr(dtf_json_str(bad, "description", ""), "test_bad"));
	assert_non_null(strstr(dtf_json_str(bad, "description", ""), "2 != 3"));
	/* The line the failure names for the test's file. */
	assert_int_equal(
	    dtf_json_int(json_object_get(json_object_get(bad, "location"), "lines"), "begin", 0),
	    12);
	assert_int_equal(
	    dtf_json_int(json_object_get(json_object_get(crash, "location"), "lines"), "begin", 0),
	    1);
	assert_int_equal(strlen(dtf_json_str(bad, "fingerprint", "")), 32);
	assert_string_not_equal(dtf_json_str(bad, "fingerprint", ""),
				dtf_json_str(crash, "fingerprint", ""));
	free(text);
	json_decref(issues);
}

static void test_stable_fingerprints(void **state)
{
	json_t *a = render("first message"), *b = render("another message");

	(void)state;
	/* The same failing test keeps its fingerprint whatever its message. */
	assert_string_equal(dtf_json_str(issue_at(a, "test_crash.sh"), "fingerprint", "a"),
			    dtf_json_str(issue_at(b, "test_crash.sh"), "fingerprint", "b"));
	json_decref(a);
	json_decref(b);
}

static void test_long_message(void **state)
{
	char msg[3001];
	const char *d;
	json_t *issues;
	size_t i;

	(void)state;
	/* 1500 two-byte characters: the description is cut between them, never inside one. */
	for (i = 0; i < 1500; i++)
		memcpy(msg + 2 * i, "\xc3\xa9", 2);
	msg[3000] = '\0';
	issues = render(msg);
	d = dtf_json_str(issue_at(issues, "test_crash.sh"), "description", "");
	assert_true(strlen(d) > 900 && strlen(d) <= 1000);
	assert_non_null(strstr(d, "\xc3\xa9\xc3\xa9"));
	json_decref(issues);
}

static void test_all_passed(void **state)
{
	json_t *doc = json_pack("{s:{s:s},s:[{s:s,s:s,s:s}]}", "run", "id", "r", "tasks", "id", "t",
				"name", "ok", "status", "completed");
	struct dtf_buf b;

	(void)state;
	dtf_buf_init(&b, 1 << 20);
	assert_int_equal(dtf_report_codequality(doc, &b), 0);
	assert_string_equal(b.data, "[]\n");
	dtf_buf_release(&b);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issues),
	    cmocka_unit_test(test_stable_fingerprints),
	    cmocka_unit_test(test_long_message),
	    cmocka_unit_test(test_all_passed),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
