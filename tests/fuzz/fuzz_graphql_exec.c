/* fuzz_graphql_exec.c: libFuzzer target for the GraphQL engine (src/graphql/exec.h): a document
 * parsed, validated and executed against a small schema with stub resolvers (recursive objects,
 * paged lists, input objects, enums, a JSON scalar, non-null fields that resolve to null). The
 * input is the document, optionally followed by a NUL byte and the variables as JSON. Whatever it
 * is, gql_execute must answer in the spec's shape: an object with "errors" (each with a message)
 * and/or "data", never a crash, a leak or a walk past the limits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "graphql/exec.h"

static int r_node(struct gql_resolve_info *ri, json_t **out)
{
	json_int_t depth = json_integer_value(json_object_get(ri->parent, "depth"));

	*out = json_pack("{s:I,s:s,s:[i,i],s:n}", "depth", depth + 1, "name", "n", "tags", 1, 2,
			 "missing");
	return 0;
}

static int r_list(struct gql_resolve_info *ri, json_t **out)
{
	json_int_t n = json_integer_value(json_object_get(ri->args, "first")), i;

	*out = json_array();
	for (i = 0; i < n && i < 5; i++)
		json_array_append_new(*out, json_pack("{s:I,s:s}", "depth", i, "name", "item"));
	return 0;
}

static int r_echo(struct gql_resolve_info *ri, json_t **out)
{
	*out = json_deep_copy(ri->args);
	return 0;
}

static int r_fail(struct gql_resolve_info *ri, json_t **out)
{
	*out = NULL;
	snprintf(ri->error, sizeof(ri->error), "failed");
	return -1;
}

static const struct gql_arg_def list_args[] = {
    {"first", "Int", "3", NULL, NULL},
    {"after", "String", NULL, NULL, NULL},
    {"kind", "Kind", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def echo_args[] = {
    {"input", "In", NULL, NULL, NULL},	{"list", "[[Int!]]", NULL, NULL, NULL},
    {"json", "JSON", NULL, NULL, NULL}, {"id", "ID!", "\"x\"", NULL, NULL},
    {"f", "Float", "1.5", NULL, NULL},	{"b", "Boolean", NULL, NULL, NULL},
    {"s", "String", NULL, NULL, "old"}, {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_field_def node_fields[] = {
    {"depth", "Int!", NULL, NULL, NULL, NULL},
    {"name", "String", NULL, NULL, NULL, NULL},
    {"tags", "[Int]", NULL, NULL, NULL, NULL},
    {"missing", "String!", NULL, NULL, NULL, NULL},
    {"child", "Node", NULL, NULL, r_node, NULL},
    {"children", "[Node!]!", NULL, list_args, r_list, NULL},
    {"fail", "String", NULL, NULL, r_fail, NULL},
    {"echo", "JSON", NULL, echo_args, r_echo, NULL},
    {"kind", "Kind", NULL, NULL, NULL, "gone"},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_field_def query_fields[] = {
    {"node", "Node", NULL, NULL, r_node, NULL},
    {"mustNode", "Node!", NULL, NULL, r_node, NULL},
    {"nodes", "[Node]", NULL, list_args, r_list, NULL},
    {"echo", "JSON", NULL, echo_args, r_echo, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_field_def mutation_fields[] = {
    {"make", "Node", NULL, echo_args, r_node, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def in_fields[] = {
    {"a", "Int!", NULL, NULL, NULL},
    {"b", "[In!]", NULL, NULL, NULL},
    {"k", "Kind", "\"ONE\"", NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_enum_value_def kinds[] = {
    {"ONE", NULL, NULL},
    {"TWO", NULL, "old"},
    {NULL, NULL, NULL},
};
static const struct gql_type_def types[] = {
    {GQL_DEF_OBJECT, "Query", NULL, query_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Mutation", NULL, mutation_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Node", NULL, node_fields, NULL, NULL, NULL},
    {GQL_DEF_INPUT, "In", NULL, NULL, in_fields, NULL, NULL},
    {GQL_DEF_ENUM, "Kind", NULL, NULL, NULL, kinds, NULL},
    {GQL_DEF_SCALAR, "JSON", NULL, NULL, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_schema_def def = {"fuzz", types, "Query", "Mutation"};

static struct gql_schema *schema;

static void check_response(const json_t *resp)
{
	json_t *errors = json_object_get(resp, "errors"), *e;
	size_t i;

	if (!json_is_object(resp))
		abort();
	if (!errors && !json_object_get(resp, "data"))
		abort();
	if (errors && (!json_is_array(errors) || json_array_size(errors) == 0))
		abort();
	json_array_foreach(errors, i, e)
		if (!json_is_string(json_object_get(e, "message")))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gql_request rq;
	struct gql_outcome out;
	const char *nul = memchr(data, 0, size);
	json_t *vars = NULL, *resp;
	char err[300];
	int pass;

	if (!schema && gql_schema_new(&def, &schema, err, sizeof(err)))
		abort();
	if (nul) {
		size_t vlen = size - (size_t)((const uint8_t *)nul - data) - 1;
		vars = json_loadb(nul + 1, vlen, JSON_DECODE_ANY, NULL);
		if (vars && !json_is_object(vars)) {
			json_decref(vars);
			vars = NULL;
		}
	}
	/* Once as a POST, once as a GET (queries only), with small limits the second time. */
	for (pass = 0; pass < 2; pass++) {
		memset(&rq, 0, sizeof(rq));
		rq.query = (const char *)data;
		rq.query_len = nul ? (size_t)((const uint8_t *)nul - data) : size;
		rq.variables = vars;
		rq.queries_only = pass == 1;
		rq.max_depth = pass ? 4 : 0;
		rq.max_cost = pass ? 20 : 0;
		resp = gql_execute(schema, &rq, &out);
		if (!resp)
			abort();
		check_response(resp);
		if (pass == 1 && out.executed && out.op != GQL_OPERATION_QUERY)
			abort();
		json_decref(resp);
	}
	json_decref(vars);
	return 0;
}
