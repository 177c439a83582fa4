/* test_report.c: unit tests of the report writers (src/report/): the JUnit XML is parsed back
 * with libxml2 and checked for counts, one test case per task or per case, escaping that
 * round-trips, and validity against tests/fixtures/junit.xsd; the JSON report's summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "common/buf.h"
#include "common/err.h"
#include "report/report.h"
#include "unit_main.h"

#define OUT_CAP (64u << 20)

/* The stderr of the failed task, with markup, a control character and invalid UTF-8, and what
 * it must read as once the XML is parsed back. */
static const char bad_stderr[] = "bad <&> \x01 \xff\xfe end\r\n";
static const char bad_stderr_read[] = "bad <&>  \xef\xbf\xbd\xef\xbf\xbd end\r\n";
static const char odd_name[] = "a \"q\" <n> & 'x'\tt\nn \xe2\x82\xac";

static json_t *task(const char *id, const char *name, const char *status)
{
	json_t *t = json_pack("{ss ss ss ss ss}", "id", id, "name", name, "type", "exec", "status",
			      status, "worker_id", "w1");

	assert_non_null(t);
	return t;
}

/* The run used by most tests: passed, failed (nasty stderr), timed out, unschedulable, a task with
 * its own test cases (one failed, one skipped), and one still running. With valid_utf8 the failed
 * task's stderr is kept valid UTF-8 (jansson cannot dump anything else). */
static json_t *sample_doc(bool valid_utf8)
{
	json_t *tasks = json_array(), *t, *cases;

	t = task("t-pass", odd_name, "completed");
	json_object_set_new(t, "result",
			    json_pack("{si sf ss sb}", "exit_code", 0, "duration_s", 1.25, "stdout",
				      "all good\n", "flaky", 1));
	json_array_append_new(tasks, t);

	t = task("t-fail", "fail", "failed");
	json_object_set_new(t, "error", json_pack("{ss}", "kind", "exit_code"));
	json_object_set_new(
	    t, "result",
	    json_pack("{si sf ss}", "exit_code", 2, "duration_s", 0.5, "stdout", "partial output"));
	json_object_set_new(json_object_get(t, "result"), "stderr",
			    valid_utf8 ? json_string("plain")
				       : json_stringn_nocheck(bad_stderr, sizeof(bad_stderr) - 1));
	json_array_append_new(tasks, t);

	t = task("t-timeout", "slow", "failed");
	json_object_set_new(
	    t, "error", json_pack("{ss ss}", "kind", "timeout", "message", "timed out after 5 s"));
	json_object_set_new(
	    t, "result", json_pack("{si si sf}", "exit_code", -1, "signal", 9, "duration_s", 5.0));
	json_array_append_new(tasks, t);

	t = json_pack("{ss ss ss ss s{ss ss}}", "id", "t-gpu", "name", "gpu", "type", "exec",
		      "status", "cancelled", "error", "kind", "unschedulable", "message",
		      "no worker offers gpu");
	json_array_append_new(tasks, t);

	t = task("t-cases", "suite", "failed");
	cases = json_pack("[{ss ss sf ss} {ss sf ss ss ss ss} {ss sf ss ss ss}]", "name", "test_a",
			  "classname", "pkg.mod", "time", 0.25, "status", "passed", "name",
			  "test_b", "time", 0.5, "status", "failed", "message", "assert 1 == 2",
			  "type", "AssertionError", "details", "trace <here>", "name", "test_c",
			  "time", 0.0, "status", "skipped", "message", "later", "stdout", "c out");
	json_object_set_new(
	    t, "result",
	    json_pack("{si sf so}", "exit_code", 1, "duration_s", 2.0, "testcases", cases));
	json_array_append_new(tasks, t);

	t = task("t-run", "busy", "running");
	json_array_append_new(tasks, t);

	t = json_pack("{s{ss ss ss} so}", "run", "id", "r-1", "name", "nightly", "created_at",
		      "2026-01-02T03:04:05.678Z", "tasks", tasks);
	assert_non_null(t);
	return t;
}

/* Writes doc as JUnit XML and parses it back. */
static xmlDocPtr junit_doc(json_t *doc)
{
	struct dtf_buf out;
	xmlDocPtr x;

	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_junit(doc, &out), 0);
	x = xmlReadMemory(dtf_buf_str(&out), (int)out.len, NULL, NULL, XML_PARSE_NONET);
	if (!x)
		print_error("not well-formed:\n%s\n", dtf_buf_str(&out));
	assert_non_null(x);
	dtf_buf_release(&out);
	return x;
}

static bool is_element(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name);
}

/* The first child element of n called name, or NULL. */
static xmlNode *child(xmlNode *n, const char *name)
{
	xmlNode *c;

	for (c = n ? n->children : NULL; c; c = c->next) {
		if (is_element(c, name))
			return c;
	}
	return NULL;
}

static size_t count_children(xmlNode *n, const char *name)
{
	size_t count = 0;
	xmlNode *c;

	for (c = n->children; c; c = c->next)
		count += is_element(c, name);
	return count;
}

/* Attribute values and text are compared through these, which free libxml2's copies. */
static void assert_attr(xmlNode *n, const char *attr, const char *want)
{
	xmlChar *v;

	assert_non_null(n);
	v = xmlGetProp(n, BAD_CAST attr);
	if (!want) {
		assert_null(v);
		return;
	}
	if (!v)
		print_error("missing attribute %s (want \"%s\")\n", attr, want);
	assert_non_null(v);
	assert_string_equal((const char *)v, want);
	xmlFree(v);
}

static void assert_text(xmlNode *n, const char *want)
{
	xmlChar *v;

	assert_non_null(n);
	v = xmlNodeGetContent(n);
	assert_non_null(v);
	assert_string_equal((const char *)v, want);
	xmlFree(v);
}

static xmlNode *suite_of(xmlDocPtr x)
{
	xmlNode *root = xmlDocGetRootElement(x);

	assert_true(is_element(root, "testsuites"));
	assert_int_equal(count_children(root, "testsuite"), 1);
	return child(root, "testsuite");
}

/* The test case named name (there must be exactly one). */
static xmlNode *find_case(xmlDocPtr x, const char *name)
{
	xmlNode *c, *found = NULL;
	xmlChar *v;
	int n = 0;

	for (c = suite_of(x)->children; c; c = c->next) {
		if (!is_element(c, "testcase"))
			continue;
		v = xmlGetProp(c, BAD_CAST "name");
		if (v && strcmp((const char *)v, name) == 0) {
			found = c;
			n++;
		}
		xmlFree(v);
	}
	if (n != 1)
		print_error("%d test cases named \"%s\"\n", n, name);
	assert_int_equal(n, 1);
	return found;
}

static void test_junit_counts(void **state)
{
	json_t *doc = sample_doc(false);
	xmlDocPtr x = junit_doc(doc);
	xmlNode *root = xmlDocGetRootElement(x), *suite = suite_of(x);

	(void)state;
	/* pass, fail, timeout, gpu, three cases of "suite", busy. */
	assert_int_equal(count_children(suite, "testcase"), 8);
	assert_attr(root, "name", "nightly");
	assert_attr(root, "tests", "8");
	assert_attr(root, "failures", "3");
	assert_attr(root, "errors", "1");
	assert_attr(root, "skipped", "2");
	assert_attr(root, "time", "7.500");
	assert_attr(suite, "name", "nightly");
	assert_attr(suite, "tests", "8");
	assert_attr(suite, "failures", "3");
	assert_attr(suite, "errors", "1");
	assert_attr(suite, "skipped", "2");
	assert_attr(suite, "time", "7.500");
	assert_attr(suite, "timestamp", "2026-01-02T03:04:05");
	assert_attr(suite, "hostname", "w1");
	assert_attr(child(child(suite, "properties"), "property"), "value", "r-1");
	xmlFreeDoc(x);
	json_decref(doc);
}

static void test_junit_tasks(void **state)
{
	json_t *doc = sample_doc(false);
	xmlDocPtr x = junit_doc(doc);
	xmlNode *tc;

	(void)state;
	/* Passed: no outcome, its output kept. */
	tc = find_case(x, odd_name);
	assert_attr(tc, "classname", "dtf.exec");
	assert_attr(tc, "time", "1.250");
	assert_null(child(tc, "failure"));
	assert_null(child(tc, "error"));
	assert_null(child(tc, "skipped"));
	assert_text(child(tc, "system-out"), "all good\n");

	/* Failed: the message says the exit code, the body is stderr, escaped and cleaned. */
	tc = find_case(x, "fail");
	assert_attr(child(tc, "failure"), "message", "exit code 2");
	assert_attr(child(tc, "failure"), "type", "exit_code");
	assert_text(child(tc, "failure"), bad_stderr_read);
	assert_text(child(tc, "system-out"), "partial output");

	/* Timed out. */
	tc = find_case(x, "slow");
	assert_attr(tc, "time", "5.000");
	assert_attr(child(tc, "failure"), "message", "timed out after 5 s");
	assert_attr(child(tc, "failure"), "type", "timeout");

	/* Unschedulable: skipped, with the reason. */
	tc = find_case(x, "gpu");
	assert_attr(child(tc, "skipped"), "message", "no worker offers gpu");
	assert_null(child(tc, "failure"));

	/* Not finished. */
	tc = find_case(x, "busy");
	assert_attr(child(tc, "error"), "type", "incomplete");
	assert_attr(child(tc, "error"), "message", "task did not finish: status running");

	/* The task's own cases stand in for it, with no case for the task itself. */
	tc = find_case(x, "test_a");
	assert_attr(tc, "classname", "pkg.mod");
	assert_attr(tc, "time", "0.250");
	assert_null(child(tc, "failure"));
	tc = find_case(x, "test_b");
	assert_attr(tc, "classname", "suite");
	assert_attr(child(tc, "failure"), "message", "assert 1 == 2");
	assert_attr(child(tc, "failure"), "type", "AssertionError");
	assert_text(child(tc, "failure"), "trace <here>");
	tc = find_case(x, "test_c");
	assert_attr(child(tc, "skipped"), "message", "later");
	assert_text(child(tc, "system-out"), "c out");
	xmlFreeDoc(x);
	json_decref(doc);
}

/* A failed task whose report shows no failure gets a case of its own, so that it shows. */
static void test_junit_failed_task_passing_cases(void **state)
{
	json_t *doc =
	    json_pack("{s{ss} s[{ss ss ss ss s{ss} s{sf ss s[{ss ss}]}}]}", "run", "id", "r-2",
		      "tasks", "id", "t1", "name", "crashy", "type", "exec", "status", "failed",
		      "error", "kind", "signal", "result", "duration_s", 1.0, "stderr",
		      "Segmentation fault", "testcases", "name", "test_ok", "status", "passed");
	xmlDocPtr x;
	xmlNode *tc;

	(void)state;
	assert_non_null(doc);
	x = junit_doc(doc);
	assert_int_equal(count_children(suite_of(x), "testcase"), 2);
	assert_attr(suite_of(x), "name", "r-2");
	/* The task failed outside its tests: an error, not a failed test. */
	assert_attr(suite_of(x), "tests", "2");
	assert_attr(suite_of(x), "failures", "0");
	assert_attr(suite_of(x), "errors", "1");
	tc = find_case(x, "crashy (task)");
	assert_attr(tc, "classname", "dtf.exec");
	assert_attr(child(tc, "error"), "message", "signal");
	assert_attr(child(tc, "error"), "type", "signal");
	assert_text(child(tc, "error"), "Segmentation fault");
	xmlFreeDoc(x);
	json_decref(doc);
}

/* Outputs keep their last 64 KiB, and say they were cut. */
static void test_junit_output_capped(void **state)
{
	size_t big = 200u << 10;
	char *s = malloc(big + 1);
	json_t *doc;
	xmlDocPtr x;
	xmlChar *v;
	size_t len;

	(void)state;
	assert_non_null(s);
	memset(s, 'a', big);
	memcpy(s + big - 4, "TAIL", 4);
	s[big] = '\0';
	doc = json_pack("{s{ss} s[{ss ss ss s{ss ss}}]}", "run", "id", "r-3", "tasks", "id", "t1",
			"status", "completed", "type", "exec", "result", "stdout", s, "stderr", s);
	assert_non_null(doc);
	x = junit_doc(doc);
	v = xmlNodeGetContent(child(find_case(x, "t1"), "system-out"));
	len = strlen((const char *)v);
	assert_in_range(len, 60u << 10, 64u << 10);
	assert_string_equal((const char *)v + len - 4, "TAIL");
	assert_non_null(strstr((const char *)v, "truncated"));
	xmlFree(v);
	xmlFreeDoc(x);
	json_decref(doc);
	free(s);
}

static void test_junit_edges(void **state)
{
	struct dtf_buf out;
	json_t *doc = json_pack("{s{} s[]}", "run", "tasks");
	json_t *arr = json_array();
	xmlDocPtr x;

	(void)state;
	x = junit_doc(doc);
	assert_attr(suite_of(x), "tests", "0");
	assert_attr(suite_of(x), "name", "dtf");
	assert_null(child(suite_of(x), "properties"));
	xmlFreeDoc(x);

	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_junit(arr, &out), DTF_EINVAL);
	assert_int_equal(dtf_report_json(arr, &out), DTF_EINVAL);
	assert_int_equal(dtf_report_markdown(arr, &out), DTF_EINVAL);
	assert_int_equal(dtf_report_html(arr, &out), DTF_EINVAL);
	assert_int_equal(out.len, 0);
	dtf_buf_release(&out);

	/* Past the buffer's cap nothing is left half-written. */
	json_decref(doc);
	doc = sample_doc(true);
	dtf_buf_init(&out, 300);
	assert_int_equal(dtf_buf_adds(&out, "keep"), 0);
	assert_int_equal(dtf_report_junit(doc, &out), DTF_ETOOBIG);
	assert_int_equal(dtf_report_json(doc, &out), DTF_ETOOBIG);
	assert_int_equal(dtf_report_markdown(doc, &out), DTF_ETOOBIG);
	assert_int_equal(dtf_report_html(doc, &out), DTF_ETOOBIG);
	assert_int_equal(dtf_report_csv(doc, &out), DTF_ETOOBIG);
	assert_string_equal(dtf_buf_str(&out), "keep");
	dtf_buf_release(&out);
	json_decref(doc);
	json_decref(arr);
}

static void test_junit_schema(void **state)
{
	const char *root = getenv("DTF_SOURCE_DIR");
	xmlSchemaParserCtxtPtr pctx;
	xmlSchemaValidCtxtPtr vctx;
	xmlSchemaPtr schema;
	char path[4096];
	json_t *docs[3];
	xmlDocPtr x;
	size_t i;

	(void)state;
	if (!root)
		skip();
	snprintf(path, sizeof(path), "%s/tests/fixtures/junit.xsd", root);
	pctx = xmlSchemaNewParserCtxt(path);
	assert_non_null(pctx);
	schema = xmlSchemaParse(pctx);
	assert_non_null(schema);
	vctx = xmlSchemaNewValidCtxt(schema);
	assert_non_null(vctx);

	docs[0] = sample_doc(false);
	docs[1] = json_pack("{s{} s[]}", "run", "tasks");
	/* A chunk that crashed after some cases (an error entry, a file not run), with dtf's own
	 * statuses among its cases. */
	docs[2] = json_pack(
	    "{s{ss} s[{ss ss ss ss s{s[{ss ss ss} {ss ss ss} {ss ss ss} {ss ss ss}]}} "
	    "{ss ss ss ss s{ss} s{si s[{ss ss ss}]} s{s[ss]}}]}",
	    "run", "id", "r-3", "tasks", "id", "t1", "name", "py", "type", "test", "status",
	    "completed", "result", "testcases", "classname", "m", "name", "x", "status", "xfailed",
	    "classname", "m", "name", "o", "status", "order_dependent", "classname", "m", "name",
	    "i", "status", "isolation_failure", "classname", "m", "name", "p", "status", "xpassed",
	    "id", "t2", "name", "chunk", "type", "test", "status", "failed", "error", "kind",
	    "signal", "result", "signal", 11, "testcases", "classname", "t.test_a", "name", "a",
	    "status", "passed", "params", "pytest_files", "t/test_a.py", "t/test_b.py");
	assert_non_null(docs[2]);
	for (i = 0; i < 3; i++) {
		x = junit_doc(docs[i]);
		assert_int_equal(xmlSchemaValidateDoc(vctx, x), 0);
		if (i == 2) /* 4 cases; 1 case, the chunk's error and t/test_b.py not run */
			assert_int_equal(count_children(suite_of(x), "testcase"), 7);
		xmlFreeDoc(x);
		json_decref(docs[i]);
	}
	xmlSchemaFreeValidCtxt(vctx);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pctx);
}

static void test_json_report(void **state)
{
	json_t *doc = sample_doc(true), *back, *summary;
	struct dtf_buf out;
	json_error_t err;

	(void)state;
	dtf_buf_init(&out, OUT_CAP);
	assert_int_equal(dtf_report_json(doc, &out), 0);
	back = json_loadb(dtf_buf_str(&out), out.len, 0, &err);
	if (!back)
		print_error("bad JSON: %s\n", err.text);
	assert_non_null(back);
	/* The caller's document is not changed; the report is the document plus a summary. */
	assert_null(json_object_get(doc, "summary"));
	summary = json_object_get(back, "summary");
	assert_true(json_is_object(summary));
	/* Test entries: pass (flaky), fail, slow, gpu (skipped), suite's three cases, busy. */
	assert_int_equal(json_integer_value(json_object_get(summary, "total")), 8);
	assert_int_equal(json_integer_value(json_object_get(summary, "passed")), 1);
	assert_int_equal(json_integer_value(json_object_get(summary, "flaky")), 1);
	assert_int_equal(json_integer_value(json_object_get(summary, "failed")), 3);
	assert_int_equal(json_integer_value(json_object_get(summary, "error")), 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "cancelled")), 0);
	assert_int_equal(json_integer_value(json_object_get(summary, "skipped")), 2);
	assert_int_equal(json_integer_value(json_object_get(summary, "running")), 1);
	assert_int_equal(json_integer_value(json_object_get(summary, "pending")), 0);
	/* Each case's own time, not its task's 2 s. */
	assert_float_equal(json_number_value(json_object_get(summary, "duration_s")), 7.5, 1e-9);
	assert_float_equal(json_number_value(json_object_get(summary, "pass_rate")), 2.0 / 8, 1e-9);
	{
		json_t *t = json_object_get(summary, "tasks");

		assert_int_equal(json_integer_value(json_object_get(t, "total")), 6);
		assert_int_equal(json_integer_value(json_object_get(t, "completed")), 1);
		assert_int_equal(json_integer_value(json_object_get(t, "failed")), 3);
		assert_int_equal(json_integer_value(json_object_get(t, "cancelled")), 1);
		assert_int_equal(json_integer_value(json_object_get(t, "unschedulable")), 1);
		assert_int_equal(json_integer_value(json_object_get(t, "running")), 1);
		assert_int_equal(json_integer_value(json_object_get(t, "flaky")), 1);
		assert_float_equal(json_number_value(json_object_get(t, "duration_s")), 8.75, 1e-9);
	}
	json_object_del(back, "summary");
	assert_true(json_equal(back, doc));
	json_decref(back);
	dtf_buf_release(&out);
	json_decref(doc);
}

static void test_summary_empty(void **state)
{
	json_t *doc = json_pack("{s{} s[]}", "run", "tasks");
	json_t *summary = dtf_report_summary(doc);

	(void)state;
	assert_non_null(summary);
	assert_int_equal(json_integer_value(json_object_get(summary, "total")), 0);
	assert_true(json_is_number(json_object_get(summary, "pass_rate")));
	assert_float_equal(json_number_value(json_object_get(summary, "pass_rate")), 0, 0);
	assert_float_equal(json_number_value(json_object_get(summary, "duration_s")), 0, 0);
	json_decref(summary);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_junit_counts),
	    cmocka_unit_test(test_junit_tasks),
	    cmocka_unit_test(test_junit_failed_task_passing_cases),
	    cmocka_unit_test(test_junit_output_capped),
	    cmocka_unit_test(test_junit_edges),
	    cmocka_unit_test(test_junit_schema),
	    cmocka_unit_test(test_json_report),
	    cmocka_unit_test(test_summary_empty),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
