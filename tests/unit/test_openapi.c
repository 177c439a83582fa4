/* test_openapi.c: the OpenAPI description served at GET /api/v1/openapi.json (docs/openapi.json,
 * embedded in the binary) against the router's table api_routes[] (src/api/api.c), both ways: a
 * route missing from the description fails, and so does an operation described but not routed.
 * Also that every operation lists its responses and every reference it makes resolves. Whether
 * the document is valid OpenAPI 3.1 is tests/e2e/test_openapi.sh's question (an npm validator). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "unit_main.h"

static const char *const methods[] = {"get", "put", "post", "delete", "patch", "head", "options"};

static json_t *load_doc(void)
{
	json_error_t jerr;
	json_t *doc = json_loads(dtf_openapi_json, 0, &jerr);

	if (!doc)
		print_error("docs/openapi.json: line %d: %s\n", jerr.line, jerr.text);
	assert_non_null(doc);
	return doc;
}

static void lower(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

static bool routed(const char *path, const char *method)
{
	const struct dtf_http_route *rt;
	char m[16];

	for (rt = api_routes; rt->method; rt++) {
		lower(rt->method, m, sizeof(m));
		if (strcmp(rt->pattern, path) == 0 && strcmp(m, method) == 0)
			return true;
	}
	return false;
}

static void test_description_is_openapi_31(void **state)
{
	json_t *doc = load_doc();

	(void)state;
	assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	assert_non_null(json_object_get(json_object_get(doc, "info"), "title"));
	json_decref(doc);
}

/* Every route of the table has its operation in the description. */
static void test_every_route_is_described(void **state)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");
	const struct dtf_http_route *rt;
	int missing = 0;
	char m[16];

	(void)state;
	assert_non_null(paths);
	for (rt = api_routes; rt->method; rt++) {
		lower(rt->method, m, sizeof(m));
		if (!json_object_get(json_object_get(paths, rt->pattern), m)) {
			print_error("route %s %s is not in docs/openapi.json\n", rt->method,
				    rt->pattern);
			missing++;
		}
	}
	assert_int_equal(missing, 0);
	json_decref(doc);
}

/* Every operation in the description is a route of the table. */
static void test_every_operation_is_routed(void **state)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths"), *item;
	const char *path;
	int extra = 0, ops = 0;
	size_t i;

	(void)state;
	json_object_foreach(paths, path, item) {
		for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
			if (!json_object_get(item, methods[i]))
				continue;
			ops++;
			if (!routed(path, methods[i])) {
				print_error(
				    "docs/openapi.json describes %s %s, which is not routed\n",
				    methods[i], path);
				extra++;
			}
		}
	}
	assert_int_equal(extra, 0);
	assert_true(ops > 0);
	json_decref(doc);
}

/* The open routes (no API key) are the ones the description exempts from its security. */
static void test_security_matches_open_routes(void **state)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");
	const struct dtf_http_route *rt;
	char m[16];

	(void)state;
	assert_true(json_array_size(json_object_get(doc, "security")) > 0);
	for (rt = api_routes; rt->method; rt++) {
		json_t *sec;
		lower(rt->method, m, sizeof(m));
		sec = json_object_get(json_object_get(json_object_get(paths, rt->pattern), m),
				      "security");
		bool open = DTF_ROUTE_ACCESS(rt->open) == DTF_ROUTE_OPEN;
		if (open != (sec && json_array_size(sec) == 0))
			print_error(
			    "%s %s: open %d but the description's security says otherwise\n",
			    rt->method, rt->pattern, open);
		assert_int_equal(open, sec && json_array_size(sec) == 0);
	}
	json_decref(doc);
}

/* Follows a "#/a/b" reference from the root. */
static json_t *resolve(json_t *doc, const char *ref)
{
	char buf[256], *p, *save = NULL;
	json_t *at = doc;

	if (strncmp(ref, "#/", 2) != 0 || strlen(ref) >= sizeof(buf))
		return NULL;
	snprintf(buf, sizeof(buf), "%s", ref + 2);
	for (p = strtok_r(buf, "/", &save); p && at; p = strtok_r(NULL, "/", &save))
		at = json_object_get(at, p);
	return at;
}

static int check_refs(json_t *doc, json_t *v)
{
	int bad = 0;

	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			if (strcmp(k, "$ref") == 0 && json_is_string(x) &&
			    !resolve(doc, json_string_value(x))) {
				print_error("unresolved $ref %s\n", json_string_value(x));
				bad++;
			} else {
				bad += check_refs(doc, x);
			}
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
			bad += check_refs(doc, x);
	}
	return bad;
}

static void test_references_resolve(void **state)
{
	json_t *doc = load_doc();

	(void)state;
	assert_int_equal(check_refs(doc, doc), 0);
	json_decref(doc);
}

/* Each operation documents a success and, behind the keys, the 401 the server may answer. */
static void test_operations_have_responses(void **state)
{
	json_t *doc = load_doc(), *paths = json_object_get(doc, "paths");
	const struct dtf_http_route *rt;
	char m[16];

	(void)state;
	for (rt = api_routes; rt->method; rt++) {
		json_t *rs;
		const char *code;
		json_t *x;
		bool ok = false;
		lower(rt->method, m, sizeof(m));
		rs = json_object_get(json_object_get(json_object_get(paths, rt->pattern), m),
				     "responses");
		assert_non_null(rs);
		json_object_foreach(rs, code, x)
			ok |= code[0] == '2';
		if (!ok)
			print_error("%s %s: no 2xx response\n", rt->method, rt->pattern);
		assert_true(ok);
		if (DTF_ROUTE_ACCESS(rt->open) != DTF_ROUTE_OPEN)
			assert_non_null(json_object_get(rs, "401"));
	}
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_description_is_openapi_31),
	    cmocka_unit_test(test_every_route_is_described),
	    cmocka_unit_test(test_every_operation_is_routed),
	    cmocka_unit_test(test_security_matches_open_routes),
	    cmocka_unit_test(test_references_resolve),
	    cmocka_unit_test(test_operations_have_responses),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
