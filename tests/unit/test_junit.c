/* test_junit.c: unit tests of the JUnit report parser (src/worker/junit.c): the shapes pytest,
 * CTest, Surefire and go-junit-report write, nested suites, caps, and hostile documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/err.h"
#include "common/util.h"
#include "unit_main.h"
#include "worker/junit.h"

/* Reads tests/fixtures/junit/<name>, from DTF_SOURCE_DIR or else next to this file. */
static char *read_fixture(const char *name, size_t *len)
{
	const char *root = getenv("DTF_SOURCE_DIR");
	const char *slash = strrchr(__FILE__, '/');
	int dir_len = slash ? (int)(slash - __FILE__) : 1;
	char path[4096];
	char *data = NULL;

	if (root)
		snprintf(path, sizeof(path), "%s/tests/fixtures/junit/%s", root, name);
	else
		snprintf(path, sizeof(path), "%.*s/../fixtures/junit/%s", dir_len,
			 slash ? __FILE__ : ".", name);
	assert_int_equal(dtf_read_file(path, 1 << 20, &data, len), 0);
	return data;
}

/* Parses a fixture and checks it gave n cases. */
static json_t *parse_fixture(const char *name, size_t n)
{
	json_t *cases = NULL;
	size_t len;
	char *xml = read_fixture(name, &len);

	assert_int_equal(dtf_junit_parse(xml, len, &cases), 0);
	free(xml);
	assert_non_null(cases);
	assert_true(json_is_array(cases));
	assert_int_equal(json_array_size(cases), n);
	return cases;
}

static json_t *parse_string(const char *xml, int expect)
{
	json_t *cases = (json_t *)1;

	assert_int_equal(dtf_junit_parse(xml, strlen(xml), &cases), expect);
	if (expect != 0)
		assert_null(cases);
	return cases;
}

static const char *field(json_t *cases, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(cases, i), key));
}

static double case_time(json_t *cases, size_t i)
{
	return json_real_value(json_object_get(json_array_get(cases, i), "time"));
}

static bool has(json_t *cases, size_t i, const char *key)
{
	return json_object_get(json_array_get(cases, i), key) != NULL;
}

static void test_pytest(void **state)
{
	json_t *c = parse_fixture("pytest.xml", 5);

	(void)state;
	assert_string_equal(field(c, 0, "name"), "test_add");
	assert_string_equal(field(c, 0, "classname"), "tests.test_math");
	assert_string_equal(field(c, 0, "suite"), "pytest");
	assert_string_equal(field(c, 0, "status"), "passed");
	assert_false(has(c, 0, "message"));
	assert_false(has(c, 0, "details"));
	assert_float_equal(case_time(c, 0), 0.001, 1e-9);

	assert_string_equal(field(c, 1, "status"), "failed");
	assert_string_equal(field(c, 1, "message"), "ZeroDivisionError: division by zero");
	assert_false(has(c, 1, "type"));
	assert_non_null(strstr(field(c, 1, "details"), ">       1 / 0\nE       ZeroDivision"));

	assert_string_equal(field(c, 2, "status"), "skipped");
	assert_string_equal(field(c, 2, "message"), "not on linux");
	assert_string_equal(field(c, 2, "type"), "pytest.skip");
	assert_string_equal(field(c, 2, "details"), "/src/tests/test_math.py:10: not on linux");

	assert_string_equal(field(c, 3, "status"), "error");
	assert_string_equal(field(c, 3, "message"), "failed on setup with \"RuntimeError: boom\"");

	assert_string_equal(field(c, 4, "status"), "passed");
	assert_string_equal(field(c, 4, "classname"), "tests.test_io");
	assert_string_equal(field(c, 4, "stdout"), "hello & bye");
	assert_string_equal(field(c, 4, "stderr"), "warn \xe2\x98\xba");
	json_decref(c);
}

static void test_ctest(void **state)
{
	json_t *c = parse_fixture("ctest.xml", 3);

	(void)state;
	assert_string_equal(field(c, 0, "name"), "unit.test_buf");
	assert_string_equal(field(c, 0, "suite"), "Linux-c++");
	assert_string_equal(field(c, 0, "status"), "passed");
	assert_non_null(strstr(field(c, 0, "stdout"), "[  PASSED  ] 3 test(s)."));
	assert_float_equal(case_time(c, 0), 0.0123, 1e-9);

	assert_string_equal(field(c, 1, "status"), "failed");
	assert_string_equal(field(c, 1, "message"), "Failed");
	assert_false(has(c, 1, "details"));
	assert_float_equal(case_time(c, 1), 1.5, 1e-9);

	assert_string_equal(field(c, 2, "status"), "skipped");
	assert_string_equal(field(c, 2, "message"), "Disabled");
	json_decref(c);
}

static void test_surefire(void **state)
{
	json_t *c = parse_fixture("surefire.xml", 3);

	(void)state;
	assert_string_equal(field(c, 0, "suite"), "com.example.AppTest");
	assert_float_equal(case_time(c, 0), 1234.5, 1e-9);
	assert_string_equal(field(c, 1, "status"), "failed");
	assert_string_equal(field(c, 1, "message"), "expected: <1> but was: <2>");
	assert_string_equal(field(c, 1, "type"), "org.opentest4j.AssertionFailedError");
	assert_non_null(strstr(field(c, 1, "details"), "but was: <2>\n\tat com.example"));
	assert_string_equal(field(c, 1, "stdout"), "log line <one>\n");
	/* A test that failed once and then passed is a pass. */
	assert_string_equal(field(c, 2, "status"), "passed");
	json_decref(c);
}

static void test_go_junit_report(void **state)
{
	json_t *c = parse_fixture("go.xml", 3);

	(void)state;
	assert_string_equal(field(c, 0, "status"), "passed");
	assert_string_equal(field(c, 0, "suite"), "github.com/example/pkg");
	assert_string_equal(field(c, 1, "status"), "failed");
	assert_string_equal(field(c, 1, "details"), "    b_test.go:9: boom");
	assert_string_equal(field(c, 2, "status"), "skipped");
	assert_string_equal(field(c, 2, "message"), "Skipped");
	json_decref(c);
}

static void test_nested_suites(void **state)
{
	json_t *c = parse_fixture("nested.xml", 4);

	(void)state;
	assert_string_equal(field(c, 0, "name"), "a");
	assert_string_equal(field(c, 0, "suite"), "outer");
	assert_string_equal(field(c, 1, "name"), "b");
	assert_string_equal(field(c, 1, "suite"), "inner");
	assert_string_equal(field(c, 2, "name"), "c");
	assert_string_equal(field(c, 2, "suite"), "inner");
	assert_false(has(c, 2, "classname"));
	assert_float_equal(case_time(c, 2), 0, 0);
	assert_string_equal(field(c, 3, "name"), "d");
	assert_string_equal(field(c, 3, "status"), "error");
	assert_string_equal(field(c, 3, "type"), "Crash");
	assert_string_equal(field(c, 3, "details"), "core dumped");
	json_decref(c);
}

static void test_small_documents(void **state)
{
	json_t *c;

	(void)state;
	/* A lone empty suite is a report with no cases. */
	c = parse_string("<testsuite name=\"x\" tests=\"0\"/>", 0);
	assert_int_equal(json_array_size(c), 0);
	json_decref(c);

	/* Case without a name; bad times count as 0; character references are decoded. */
	c = parse_string("<testsuites><testsuite><testcase time=\"-3\"/><testcase time=\"abc\"/>"
			 "<testcase name=\"&#x1F600;&lt;&amp;\" time=\"2.5\"/></testsuite>"
			 "</testsuites>",
			 0);
	assert_int_equal(json_array_size(c), 3);
	assert_string_equal(field(c, 0, "name"), "");
	assert_false(has(c, 0, "suite"));
	assert_float_equal(case_time(c, 0), 0, 0);
	assert_float_equal(case_time(c, 1), 0, 0);
	assert_string_equal(field(c, 2, "name"), "\xf0\x9f\x98\x80<&");
	assert_float_equal(case_time(c, 2), 2.5, 0);
	json_decref(c);

	/* Another declared encoding comes out as UTF-8. */
	c = parse_string("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
			 "<testsuite><testcase name=\"caf\xe9\"/></testsuite>",
			 0);
	assert_string_equal(field(c, 0, "name"), "caf\xc3\xa9");
	json_decref(c);

	/* UTF-16 (with its NUL bytes) is read too. */
	{
		static const char ascii[] = "<testsuite><testcase name=\"w\"/></testsuite>";
		char wide[2 + 2 * sizeof(ascii)];
		size_t i;

		wide[0] = '\xff';
		wide[1] = '\xfe';
		for (i = 0; i < sizeof(ascii) - 1; i++) {
			wide[2 + 2 * i] = ascii[i];
			wide[3 + 2 * i] = '\0';
		}
		c = NULL;
		assert_int_equal(dtf_junit_parse(wide, 2 + 2 * i, &c), 0);
		assert_string_equal(field(c, 0, "name"), "w");
		json_decref(c);
	}
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "not xml at all",
	    "<testsuite><testcase name=\"a\"></testsuite>",
	    "<testsuite name=\"a\"",
	    "<testsuite name='a'/><testsuite/>",
	    "<html><body>502 Bad Gateway</body></html>",
	    "<testcase name=\"root\"/>",
	    "<testsuite>&undefined;</testsuite>",
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><testsuite><testcase "
	    "name=\"\xff\"/></testsuite>",
	};
	json_t *cases = (json_t *)1;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cases = (json_t *)1;
		assert_int_equal(dtf_junit_parse(bad[i], strlen(bad[i]), &cases), DTF_EPARSE);
		assert_null(cases);
	}
	/* Bytes after a NUL are input too, not a terminator. */
	assert_int_equal(dtf_junit_parse("<testsuite/>\0<x>", 16, &cases), DTF_EPARSE);
	assert_int_equal(dtf_junit_parse(NULL, 0, &cases), DTF_EINVAL);
}

static void test_entities_refused(void **state)
{
	static const char laughs[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE testsuite [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n"
	    "<testsuite name=\"&lol9;\"><testcase name=\"&lol9;\">"
	    "<system-out>&lol9;</system-out></testcase></testsuite>\n";
	static const char xxe[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE testsuite [<!ENTITY passwd SYSTEM \"file:///etc/passwd\">]>\n"
	    "<testsuite><testcase name=\"&passwd;\"/></testsuite>\n";
	static const char remote_dtd[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE testsuite SYSTEM \"http://127.0.0.1:1/junit.dtd\">\n"
	    "<testsuite><testcase name=\"a\"/></testsuite>\n";
	int64_t t0 = dtf_mono_ms();

	(void)state;
	parse_string(laughs, DTF_EPARSE);
	parse_string(xxe, DTF_EPARSE);
	parse_string(remote_dtd, DTF_EPARSE);
	/* Refusing must be cheap: nothing was expanded. */
	assert_in_range(dtf_mono_ms() - t0, 0, 2000);
}

static void test_too_big(void **state)
{
	size_t len = DTF_JUNIT_MAX_BYTES + 1, i, n;
	json_t *cases = (json_t *)1;
	char *xml = malloc(len);

	(void)state;
	assert_non_null(xml);
	memset(xml, ' ', len);
	memcpy(xml, "<testsuite>", 11);
	assert_int_equal(dtf_junit_parse(xml, len, &cases), DTF_ETOOBIG);
	assert_null(cases);

	/* More cases than DTF_JUNIT_MAX_CASES, in a document under the byte cap. */
	n = DTF_JUNIT_MAX_CASES + 1;
	assert_true(11 + n * 11 + 12 <= len);
	len = 11;
	for (i = 0; i < n; i++) {
		memcpy(xml + len, "<testcase/>", 11);
		len += 11;
	}
	memcpy(xml + len, "</testsuite>", 12);
	len += 12;
	assert_int_equal(dtf_junit_parse(xml, len, &cases), DTF_ETOOBIG);
	assert_null(cases);

	/* One case fewer is fine. */
	memcpy(xml + len - 23, "</testsuite>", 12);
	len -= 11;
	assert_int_equal(dtf_junit_parse(xml, len, &cases), 0);
	assert_int_equal(json_array_size(cases), DTF_JUNIT_MAX_CASES);
	json_decref(cases);
	free(xml);
}

static void test_output_capped(void **state)
{
	size_t body = 200u << 10, i, len;
	const char *out;
	json_t *cases = NULL;
	char *xml = malloc(body + 256);

	(void)state;
	assert_non_null(xml);
	len = (size_t)snprintf(xml, 256, "<testsuite><testcase name=\"big\"><system-out>");
	/* Three-byte characters, so that a cut in the wrong place would split one. */
	for (i = 0; i < body / 3; i++) {
		memcpy(xml + len, "\xe2\x82\xac", 3);
		len += 3;
	}
	memcpy(xml + len, "END</system-out></testcase></testsuite>", 39);
	len += 39;
	assert_int_equal(dtf_junit_parse(xml, len, &cases), 0);
	out = field(cases, 0, "stdout");
	assert_non_null(out);
	assert_in_range(strlen(out), (64u << 10) - 3, 64u << 10);
	assert_string_equal(out + strlen(out) - 3, "END");
	assert_memory_equal(out, "\xe2\x82\xac", 3);
	json_decref(cases);
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pytest),	  cmocka_unit_test(test_ctest),
	    cmocka_unit_test(test_surefire),	  cmocka_unit_test(test_go_junit_report),
	    cmocka_unit_test(test_nested_suites), cmocka_unit_test(test_small_documents),
	    cmocka_unit_test(test_malformed),	  cmocka_unit_test(test_entities_refused),
	    cmocka_unit_test(test_too_big),	  cmocka_unit_test(test_output_capped),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
