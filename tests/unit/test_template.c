/* test_template.c: the message template language (src/common/template.c): what each tag renders,
 * how each target escapes, standalone lines, and that bad templates and runaway renders end in
 * errors that say where, with the output left as it was. */
#include <string.h>

#include "common/err.h"
#include "common/template.h"
#include "unit_main.h"

/* Renders src with the JSON data (text) for esc; returns the output or the error message (a
 * static buffer, valid until the next call), and the code through *rc. */
static const char *render(const char *src, const char *data, enum dtf_tpl_escape esc, int *rc)
{
	static char result[4096];
	struct dtf_tpl_error err;
	struct dtf_tpl *t = NULL;
	struct dtf_buf out;
	json_t *d = NULL;

	if (data) {
		d = json_loads(data, JSON_DECODE_ANY, NULL);
		assert_non_null(d);
	}
	dtf_buf_init(&out, 4000);
	*rc = dtf_tpl_compile(src, strlen(src), &t, &err);
	if (!*rc) {
		*rc = dtf_tpl_render(t, d, esc, &out, &err);
		if (*rc)
			assert_int_equal(out.len, 0);
	}
	if (*rc)
		snprintf(result, sizeof(result), "%u:%u: %s", err.line, err.column, err.message);
	else
		snprintf(result, sizeof(result), "%s", dtf_buf_str(&out));
	dtf_buf_release(&out);
	dtf_tpl_free(t);
	json_decref(d);
	return result;
}

#define assert_renders(src, data, esc, want)                                                       \
	do {                                                                                       \
		int rc_;                                                                           \
		const char *got_ = render(src, data, esc, &rc_);                                   \
		assert_string_equal(got_, want);                                                   \
		assert_int_equal(rc_, 0);                                                          \
	} while (0)

#define assert_fails(src, data, code, want)                                                        \
	do {                                                                                       \
		int rc_;                                                                           \
		const char *got_ = render(src, data, DTF_TPL_TEXT, &rc_);                          \
		assert_string_equal(got_, want);                                                   \
		assert_int_equal(rc_, code);                                                       \
	} while (0)

static void test_variables(void **state)
{
	(void)state;
	assert_renders("run {{run.name}}: {{failed}} failed",
		       "{\"run\":{\"name\":\"nightly\"},\"failed\":3}", DTF_TPL_TEXT,
		       "run nightly: 3 failed");
	/* Missing names and null render nothing; booleans and numbers as written. */
	assert_renders("[{{nope}}][{{n}}][{{t}}][{{f}}][{{r}}][{{big}}]",
		       "{\"n\":null,\"t\":true,\"f\":false,\"r\":0.1,\"big\":-9007199254740993}",
		       DTF_TPL_TEXT, "[][][true][false][0.1][-9007199254740993]");
	/* A dotted name that runs into a non-object is missing, not an error. */
	assert_renders("[{{a.b.c}}]", "{\"a\":{\"b\":5}}", DTF_TPL_TEXT, "[]");
	/* Objects and lists render as compact JSON. */
	assert_renders("{{o}} {{l}}", "{\"o\":{\"k\":[1,\"x\"]},\"l\":[]}", DTF_TPL_TEXT,
		       "{\"k\":[1,\"x\"]} []");
	/* Blanks inside the braces are allowed; a lone brace is text. */
	assert_renders("{ {{ name }} }", "{\"name\":\"x\"}", DTF_TPL_TEXT, "{ x }");
	assert_renders("no tags at all", NULL, DTF_TPL_TEXT, "no tags at all");
	assert_renders("", NULL, DTF_TPL_TEXT, "");
}

static void test_sections(void **state)
{
	const char *data = "{\"tests\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"more\":27,"
			   "\"none\":[],\"zero\":0,\"empty\":\"\",\"run\":{\"id\":\"r1\"},"
			   "\"tags\":[\"x\",\"y\"],\"name\":\"outer\"}";

	(void)state;
	assert_renders("{{#tests}}<{{name}}>{{/tests}}", data, DTF_TPL_TEXT, "<a><b>");
	assert_renders("{{#tags}}{{.}},{{/tags}}", data, DTF_TPL_TEXT, "x,y,");
	/* An object section makes it the context; names not in it come from outside. */
	assert_renders("{{#run}}{{id}} of {{name}}{{/run}}", data, DTF_TPL_TEXT, "r1 of outer");
	/* Falsy: missing, [], 0, "", false; inverted sections render exactly then. */
	assert_renders(
	    "{{#none}}N{{/none}}{{#zero}}Z{{/zero}}{{#empty}}E{{/empty}}{{#nope}}M{{/nope}}", data,
	    DTF_TPL_TEXT, "");
	assert_renders(
	    "{{^none}}N{{/none}}{{^zero}}Z{{/zero}}{{^empty}}E{{/empty}}{{^tests}}T{{/tests}}",
	    data, DTF_TPL_TEXT, "NZE");
	assert_renders("{{#more}}and {{more}} more{{/more}}", data, DTF_TPL_TEXT, "and 27 more");
	/* Nested sections over lists. */
	assert_renders("{{#a}}[{{#b}}{{.}}{{/b}}]{{/a}}", "{\"a\":[{\"b\":[1,2]},{\"b\":[3]}]}",
		       DTF_TPL_TEXT, "[12][3]");
	assert_renders("{{! a comment }}x{{!}}", NULL, DTF_TPL_TEXT, "x");
}

static void test_standalone_lines(void **state)
{
	(void)state;
	/* Section and comment tags on their own lines leave no blank lines behind. */
	assert_renders("Failed:\n  {{#tests}}\n- {{name}}\n  {{/tests}}\n{{! end }}\ndone\n",
		       "{\"tests\":[{\"name\":\"a\"},{\"name\":\"b\"}]}", DTF_TPL_TEXT,
		       "Failed:\n- a\n- b\ndone\n");
	assert_renders("{{#t}}\r\nx\r\n{{/t}}\r\n", "{\"t\":true}", DTF_TPL_TEXT, "x\r\n");
	/* Not standalone: other text, or a variable, on the line. */
	assert_renders("a {{#t}}b{{/t}}\n", "{\"t\":true}", DTF_TPL_TEXT, "a b\n");
	assert_renders("{{v}}\n", "{\"v\":1}", DTF_TPL_TEXT, "1\n");
	assert_renders("{{#t}} {{/t}}\n", "{\"t\":true}", DTF_TPL_TEXT, " \n");
}

static void test_escaping(void **state)
{
	const char *data =
	    "{\"n\":\"<img src=x onerror=\\\"a('&')\\\">\",\"j\":\"q\\\"\\\\\\n\\t\\u0001\"}";

	(void)state;
	assert_renders("{{n}}", data, DTF_TPL_HTML,
		       "&lt;img src=x onerror=&quot;a(&#39;&amp;&#39;)&quot;&gt;");
	assert_renders("{{{n}}}|{{& n}}", data, DTF_TPL_HTML,
		       "<img src=x onerror=\"a('&')\">|<img src=x onerror=\"a('&')\">");
	assert_renders("{{n}}", data, DTF_TPL_MRKDWN, "&lt;img src=x onerror=\"a('&amp;')\"&gt;");
	assert_renders("{\"text\":\"{{j}}\"}", data, DTF_TPL_JSON,
		       "{\"text\":\"q\\\"\\\\\\n\\t\\u0001\"}");
	assert_renders("{{j}}", data, DTF_TPL_TEXT, "q\"\\\n\t\001");
	/* A JSON value inside a JSON string is escaped like text, so the document stays valid. */
	assert_renders("\"{{o}}\"", "{\"o\":{\"a\":\"b\"}}", DTF_TPL_JSON,
		       "\"{\\\"a\\\":\\\"b\\\"}\"");
	/* UTF-8 passes through every escaper unchanged. */
	assert_renders("{{u}}", "{\"u\":\"Grüße ✓\"}", DTF_TPL_JSON, "Grüße ✓");
}

static void test_compile_errors(void **state)
{
	(void)state;
	assert_fails("ab\n  {{name", NULL, DTF_EPARSE, "2:3: unclosed tag: no \"}}\" after \"{{\"");
	assert_fails("{{{raw}}", NULL, DTF_EPARSE, "1:1: unclosed tag: no \"}}}\" after \"{{{\"");
	assert_fails("{{#a}}\n{{/b}}", NULL, DTF_EPARSE,
		     "2:1: closing tag {{/b}} does not match {{#a}} (line 1)");
	assert_fails("x{{/a}}", NULL, DTF_EPARSE, "1:2: closing tag {{/a}} without a section");
	assert_fails("\n {{^a}}", NULL, DTF_EPARSE, "2:2: section {{^a}} is not closed");
	assert_fails("{{> part}}", NULL, DTF_EPARSE,
		     "1:1: partials ({{> name}}) are not supported");
	assert_fails("{{=<% %>=}}", NULL, DTF_EPARSE,
		     "1:1: delimiter changes ({{=...=}}) are not supported");
	assert_fails("{{a b}}", NULL, DTF_EPARSE, "1:3: bad name \"a b\" in a tag");
	assert_fails("{{}}", NULL, DTF_EPARSE, "1:3: bad name \"\" in a tag");
	assert_fails("{{a..b}}", NULL, DTF_EPARSE, "1:3: bad name \"a..b\" in a tag");
	assert_fails("{{#.a}}{{/.a}}", NULL, DTF_EPARSE, "1:4: bad name \".a\" in a tag");
}

static void test_limits(void **state)
{
	char *big, deep[DTF_TPL_MAX_DEPTH * 12 + 64];
	size_t i, n = 0;
	int rc;

	(void)state;
	/* Nesting: the limit compiles, one more does not. */
	for (i = 0; i < DTF_TPL_MAX_DEPTH; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{{#a}}");
	for (i = 0; i < DTF_TPL_MAX_DEPTH; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{{/a}}");
	assert_renders(deep, "{\"a\":{\"a\":true}}", DTF_TPL_TEXT, "");
	memmove(deep + 6, deep, n + 1);
	memcpy(deep, "{{#a}}", 6);
	memcpy(deep + n + 6, "{{/a}}", 7);
	assert_fails(deep, NULL, DTF_ETOOBIG, "1:97: sections nest deeper than the limit of 16");

	/* Source size. */
	big = malloc(DTF_TPL_MAX_SOURCE + 2);
	assert_non_null(big);
	memset(big, 'x', DTF_TPL_MAX_SOURCE + 1);
	big[DTF_TPL_MAX_SOURCE + 1] = '\0';
	assert_fails(big, NULL, DTF_ETOOBIG,
		     "0:0: the template is 65537 bytes, more than the limit of 65536");
	big[DTF_TPL_MAX_SOURCE] = '\0';
	(void)render(big, NULL, DTF_TPL_TEXT, &rc);
	assert_int_equal(rc, DTF_ETOOBIG); /* compiles, but 64 KiB of output is past the 4000 cap */
	free(big);

	/* Output past the buffer's cap (4000 bytes here): an error, and the buffer as it was. */
	big = malloc(8 * 1000 + 16);
	assert_non_null(big);
	n = (size_t)snprintf(big, 16, "{\"l\":[0");
	for (i = 1; i < 1000; i++)
		n += (size_t)snprintf(big + n, 8, ",%zu", i);
	memcpy(big + n, "]}", 3);
	assert_renders("{{#l}}0123456{{/l}}", "{\"l\":[1,2]}", DTF_TPL_TEXT, "01234560123456");
	assert_fails("{{#l}}0123456{{/l}}", big, DTF_ETOOBIG,
		     "0:0: the rendered message is larger than its limit of 4000 bytes");
	free(big);
}

/* Sections over a list nested in themselves multiply: 100 items, 6 deep, no output, would be
 * 10^12 steps. The render stops at the step limit instead. */
static void test_runaway_render(void **state)
{
	json_t *d = json_object(), *l = json_array();
	struct dtf_tpl_error err;
	struct dtf_tpl *t;
	struct dtf_buf out;
	const char *src =
	    "x{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}{{/l}}";
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		json_array_append_new(l, json_integer(i));
	json_object_set_new(d, "l", l);
	assert_int_equal(dtf_tpl_compile(src, strlen(src), &t, &err), 0);
	dtf_buf_init(&out, 1 << 20);
	assert_int_equal(dtf_buf_adds(&out, "kept"), 0);
	assert_int_equal(dtf_tpl_render(t, d, DTF_TPL_TEXT, &out, &err), DTF_ETOOBIG);
	assert_non_null(strstr(err.message, "more than 1000000 steps"));
	assert_string_equal(dtf_buf_str(&out), "kept");
	/* The same template renders the one-item case. */
	json_array_clear(l);
	json_array_append_new(l, json_integer(1));
	assert_int_equal(dtf_tpl_render(t, d, DTF_TPL_TEXT, &out, &err), 0);
	assert_string_equal(dtf_buf_str(&out), "keptx");
	dtf_buf_release(&out);
	dtf_tpl_free(t);
	json_decref(d);
	assert_int_equal(dtf_tpl_compile(NULL, 0, &t, &err), DTF_EINVAL);
	assert_null(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_variables),	     cmocka_unit_test(test_sections),
	    cmocka_unit_test(test_standalone_lines), cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_compile_errors),   cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_runaway_render),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
