/* test_gqlapi.c: dtf's GraphQL schema (src/gqlapi/schema.c) builds, and it names every member of
 * the REST documents docs/openapi.json describes: a task's, a worker's, a run's, a result's, the
 * scheduler's, and every field REST takes to submit or change a task. So a field added to REST
 * and forgotten in GraphQL fails here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gqlapi/gqlapi.h"
#include "unit_main.h"

static struct gql_schema *schema;
static json_t *openapi;

static int setup(void **state)
{
	const char *src = getenv("DTF_SOURCE_DIR");
	char path[1024], err[300];
	json_error_t je;

	(void)state;
	if (gql_schema_new(&gqlapi_schema_def, &schema, err, sizeof(err))) {
		fprintf(stderr, "dtf's schema does not build: %s\n", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/docs/openapi.json", src ? src : ".");
	openapi = json_load_file(path, 0, &je);
	if (!openapi)
		fprintf(stderr, "%s: %s\n", path, je.text);
	return openapi ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gql_schema_free(schema);
	json_decref(openapi);
	return 0;
}

/* The names of the fields (or input fields) of GraphQL type name, through introspection. */
static json_t *graphql_fields(const char *type)
{
	char q[200];
	struct gql_request rq = {0};
	json_t *resp, *t, *list, *out = json_object(), *f;
	size_t i;

	snprintf(q, sizeof(q),
		 "{ __type(name: \"%s\") { fields { name } inputFields(includeDeprecated: true) { "
		 "name } } }",
		 type);
	rq.query = q;
	rq.query_len = strlen(q);
	resp = gql_execute(schema, &rq, NULL);
	t = json_object_get(json_object_get(resp, "data"), "__type");
	if (!json_is_object(t))
		fail_msg("no type %s: %s", type, json_dumps(resp, 0));
	list = json_object_get(t, "fields");
	if (!json_is_array(list))
		list = json_object_get(t, "inputFields");
	json_array_foreach(list, i, f)
		json_object_set(out, json_string_value(json_object_get(f, "name")), json_true());
	json_decref(resp);
	return out;
}

static void check(const char *openapi_schema, const char *graphql_type)
{
	json_t *props = json_object_get(
	    json_object_get(json_object_get(json_object_get(openapi, "components"), "schemas"),
			    openapi_schema),
	    "properties");
	json_t *fields = graphql_fields(graphql_type), *v;
	const char *k;

	assert_true(json_object_size(props) > 0);
	json_object_foreach(props, k, v) {
		if (!json_object_get(fields, k))
			fail_msg("REST's %s has '%s'; GraphQL's %s does not", openapi_schema, k,
				 graphql_type);
	}
	json_decref(fields);
}

static void test_schema_covers_rest(void **state)
{
	(void)state;
	check("Task", "Task");
	check("TaskInput", "TaskInput");
	check("TaskUpdate", "TaskUpdateInput");
	check("Worker", "Worker");
	check("Run", "Run");
	check("Result", "TaskResult");
	check("Scheduler", "Scheduler");
	check("Strategy", "Strategy");
	check("RecoveryHistory", "RecoveryHistory");
}

/* Every list takes first and after; the seed's arguments are there. */
static void test_lists_paged(void **state)
{
	const char *q = "{ __schema { types { name fields { name type { kind ofType { kind ofType "
			"{ kind ofType { kind } } } } args { name } } } } }";
	struct gql_request rq = {0};
	json_t *resp, *types, *t, *f, *a;
	size_t i, j, k, lists = 0;

	(void)state;
	rq.query = q;
	rq.query_len = strlen(q);
	resp = gql_execute(schema, &rq, NULL);
	types =
	    json_object_get(json_object_get(json_object_get(resp, "data"), "__schema"), "types");
	json_array_foreach(types, i, t) {
		const char *tn = json_string_value(json_object_get(t, "name"));
		if (!json_is_array(json_object_get(t, "fields")) || tn[0] == '_')
			continue;
		json_array_foreach(json_object_get(t, "fields"), j, f) {
			json_t *ty = json_object_get(f, "type"), *inner;
			bool first = false, after = false;
			if (strcmp(json_string_value(json_object_get(ty, "kind")), "NON_NULL") == 0)
				ty = json_object_get(ty, "ofType");
			/* Lists of objects (not of strings and numbers) must page. */
			if (strcmp(json_string_value(json_object_get(ty, "kind")), "LIST") ||
			    strcmp(tn, "Scheduler") == 0)
				continue;
			if (strcmp(json_string_value(json_object_get(f, "name")), "nodes") == 0)
				continue; /* a connection's page */
			inner = json_object_get(ty, "ofType");
			if (strcmp(json_string_value(json_object_get(inner, "kind")), "NON_NULL") ==
			    0)
				inner = json_object_get(inner, "ofType");
			if (strcmp(json_string_value(json_object_get(inner, "kind")), "OBJECT"))
				continue;
			json_array_foreach(json_object_get(f, "args"), k, a) {
				const char *an = json_string_value(json_object_get(a, "name"));
				first |= strcmp(an, "first") == 0;
				after |= strcmp(an, "after") == 0;
			}
			if (!first || !after)
				fail_msg("%s.%s is a list without first and after", tn,
					 json_string_value(json_object_get(f, "name")));
			lists++;
		}
	}
	assert_int_equal(lists,
			 6); /* tasks, runs, workers, Run.tasks, and the two of recoveryHistory */
	json_decref(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schema_covers_rest),
	    cmocka_unit_test(test_lists_paged),
	};

	return dtf_unit_run(tests, setup, teardown);
}
