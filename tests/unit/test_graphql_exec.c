/* test_graphql_exec.c: unit tests of the GraphQL engine (src/graphql/exec.h) on a toy schema of
 * books: validation (each rule refuses what it must, with the message, place and nothing else),
 * coercion of literals and variables, execution (operations, fragments, aliases, merging,
 * directives, __typename, errors with paths, null carried up to the nearest nullable field),
 * introspection and the limits. Each case compares the whole response text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "graphql/exec.h"
#include "unit_main.h"

/* ---- the toy schema ---- */

static int resolve_calls; /* resolver calls, to see that mutations and merges run once */

static json_t *book(int id)
{
	static const char *const titles[] = {"Dune", "Cosmos", "Emma"};
	static const char *const genres[] = {"FICTION", "SCIENCE", "FICTION"};

	return json_pack("{s:s,s:s,s:s,s:f,s:[s,s],s:i}", "id",
			 id == 0   ? "b0"
			 : id == 1 ? "b1"
				   : "b2",
			 "title", titles[id % 3], "genre", genres[id % 3], "rating", 4.5, "tags",
			 "a", "b", "author_id", id % 2);
}

static int r_book(struct gql_resolve_info *ri, json_t **out)
{
	const char *id = json_string_value(json_object_get(ri->args, "id"));

	resolve_calls++;
	*out = NULL;
	if (strcmp(id, "b0") == 0)
		*out = book(0);
	else if (strcmp(id, "b1") == 0)
		*out = book(1);
	else if (strcmp(id, "err") == 0) {
		snprintf(ri->error, sizeof(ri->error), "no such book '%s'", id);
		return -1;
	}
	return 0;
}

static int r_books(struct gql_resolve_info *ri, json_t **out)
{
	json_int_t first = json_integer_value(json_object_get(ri->args, "first"));
	const char *genre = json_string_value(json_object_get(ri->args, "genre"));
	int i;

	resolve_calls++;
	*out = json_array();
	for (i = 0; i < 3 && json_array_size(*out) < (size_t)first; i++) {
		json_t *b = book(i);
		if (!genre || strcmp(genre, json_string_value(json_object_get(b, "genre"))) == 0)
			json_array_append_new(*out, b);
		else
			json_decref(b);
	}
	return 0;
}

static int r_author(struct gql_resolve_info *ri, json_t **out)
{
	json_int_t a = json_integer_value(json_object_get(ri->parent, "author_id"));

	*out = json_pack("{s:s}", "name", a ? "Sagan" : "Herbert");
	return 0;
}

static int r_echo(struct gql_resolve_info *ri, json_t **out)
{
	*out = json_deep_copy(ri->args);
	return 0;
}

static int r_null(struct gql_resolve_info *ri, json_t **out)
{
	(void)ri;
	*out = NULL;
	return 0;
}

static int r_fail(struct gql_resolve_info *ri, json_t **out)
{
	*out = NULL;
	snprintf(ri->error, sizeof(ri->error), "it failed");
	return -1;
}

static int r_nulls_in_list(struct gql_resolve_info *ri, json_t **out)
{
	(void)ri;
	*out = json_pack("[o,n]", book(0));
	return 0;
}

static int r_node(struct gql_resolve_info *ri, json_t **out)
{
	(void)ri;
	*out = json_pack("{s:i}", "value", 1);
	return 0;
}

static int r_add(struct gql_resolve_info *ri, json_t **out)
{
	resolve_calls++;
	*out = json_deep_copy(json_object_get(ri->args, "input"));
	json_object_set_new(*out, "id", json_string("new"));
	return 0;
}

static const struct gql_arg_def id_arg[] = {
    {"id", "ID!", NULL, "The book's id.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def books_args[] = {
    {"first", "Int", "10", NULL, NULL},
    {"genre", "Genre", NULL, NULL, NULL},
    {"old", "String", NULL, NULL, "use genre"},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def echo_args[] = {
    {"input", "BookInput", NULL, NULL, NULL}, {"n", "Int", NULL, NULL, NULL},
    {"f", "Float", NULL, NULL, NULL},	      {"s", "String", NULL, NULL, NULL},
    {"b", "Boolean", NULL, NULL, NULL},	      {"l", "[Int]", NULL, NULL, NULL},
    {"j", "JSON", NULL, NULL, NULL},	      {"g", "[Genre!]", NULL, NULL, NULL},
    {"id", "ID", NULL, NULL, NULL},	      {"d", "String", "\"dflt\"", NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def add_args[] = {
    {"input", "BookInput!", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_field_def query_fields[] = {
    {"book", "Book", "One book.", id_arg, r_book, NULL},
    {"books", "[Book!]!", NULL, books_args, r_books, NULL},
    {"echo", "JSON", NULL, echo_args, r_echo, NULL},
    {"mustBook", "Book!", NULL, NULL, r_null, NULL},
    {"fail", "String", NULL, NULL, r_fail, NULL},
    {"nullsInList", "[Book!]", NULL, NULL, r_nulls_in_list, NULL},
    {"nullableItems", "[Book]", NULL, NULL, r_nulls_in_list, NULL},
    {"node", "Node", NULL, NULL, r_node, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_field_def book_fields[] = {
    {"id", "ID!", NULL, NULL, NULL, NULL},
    {"title", "String", NULL, NULL, NULL, NULL},
    {"genre", "Genre", NULL, NULL, NULL, NULL},
    {"rating", "Float", NULL, NULL, NULL, NULL},
    {"tags", "[String!]", NULL, NULL, NULL, NULL},
    {"author", "Author", NULL, NULL, r_author, NULL},
    {"missing", "String!", NULL, NULL, NULL, NULL},
    {"old", "String", NULL, NULL, NULL, "use title"},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_field_def author_fields[] = {
    {"name", "String", NULL, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_field_def node_fields[] = {
    {"value", "Int", NULL, NULL, NULL, NULL},
    {"child", "Node", NULL, NULL, r_node, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_field_def mutation_fields[] = {
    {"addBook", "Book", NULL, add_args, r_add, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def book_input[] = {
    {"title", "String!", NULL, NULL, NULL},  {"genre", "Genre", "\"FICTION\"", NULL, NULL},
    {"tags", "[String!]", NULL, NULL, NULL}, {"year", "Int", NULL, NULL, "not kept"},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_enum_value_def genres[] = {
    {"FICTION", NULL, NULL},
    {"SCIENCE", NULL, NULL},
    {"POETRY", NULL, "none left"},
    {NULL, NULL, NULL},
};
static const struct gql_type_def types[] = {
    {GQL_DEF_OBJECT, "Query", "The root.", query_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Mutation", NULL, mutation_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Book", NULL, book_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Author", NULL, author_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "Node", NULL, node_fields, NULL, NULL, NULL},
    {GQL_DEF_INPUT, "BookInput", NULL, NULL, book_input, NULL, NULL},
    {GQL_DEF_ENUM, "Genre", NULL, NULL, NULL, genres, NULL},
    {GQL_DEF_SCALAR, "JSON", "Any JSON value.", NULL, NULL, NULL, "https://www.json.org"},
    {GQL_DEF_OBJECT, NULL, NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_schema_def toy = {"Books.", types, "Query", "Mutation"};

static struct gql_schema *schema;

static int setup(void **state)
{
	char err[300];

	(void)state;
	if (gql_schema_new(&toy, &schema, err, sizeof(err))) {
		fprintf(stderr, "schema: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gql_schema_free(schema);
	return 0;
}

static char last[16384];
static struct gql_outcome outcome;

/* Runs query with the variables vars (JSON text or NULL); the response's compact text. */
static unsigned long max_fields; /* for the next request; 0: the default */

static const char *run_ex(const char *query, const char *vars, const char *op, bool get,
			  unsigned long max_cost)
{
	struct gql_request rq = {0};
	json_t *v = vars ? json_loads(vars, 0, NULL) : NULL, *resp;
	char *s;

	rq.query = query;
	rq.query_len = strlen(query);
	rq.variables = v;
	rq.operation_name = op;
	rq.queries_only = get;
	rq.max_cost = max_cost;
	rq.max_fields = max_fields;
	resp = gql_execute(schema, &rq, &outcome);
	assert_non_null(resp);
	s = json_dumps(resp, JSON_COMPACT);
	snprintf(last, sizeof(last), "%s", s);
	free(s);
	json_decref(resp);
	json_decref(v);
	return last;
}

static const char *run(const char *query, const char *vars)
{
	return run_ex(query, vars, NULL, false, 0);
}

/* ---- execution ---- */

static void test_seed_shape(void **state)
{
	(void)state;
	assert_string_equal(
	    run("query { books(genre: FICTION) { id, title, genre, author { name } } }", NULL),
	    "{\"data\":{\"books\":[{\"id\":\"b0\",\"title\":\"Dune\",\"genre\":\"FICTION\","
	    "\"author\":{\"name\":\"Herbert\"}},{\"id\":\"b2\",\"title\":\"Emma\",\"genre\":"
	    "\"FICTION\",\"author\":{\"name\":\"Herbert\"}}]}}");
	assert_true(outcome.executed);
	assert_string_equal(
	    run("query($id: ID!) { book(id: $id) { id title } }", "{\"id\":\"b1\"}"),
	    "{\"data\":{\"book\":{\"id\":\"b1\",\"title\":\"Cosmos\"}}}");
	/* An Int variable is accepted for an ID. */
	assert_string_equal(run("query($id: ID!) { book(id: $id) { id } }", "{\"id\": 7}"),
			    "{\"data\":{\"book\":null}}");
	assert_string_equal(run("{ book(id: \"nope\") { id } }", NULL),
			    "{\"data\":{\"book\":null}}");
}

static void test_aliases_fragments_merging(void **state)
{
	(void)state;
	resolve_calls = 0;
	assert_string_equal(
	    run("{ a: book(id: \"b0\") { ...F t: title } b: book(id: \"b1\") { ... on Book { id } "
		"... { title } } a: book(id: \"b0\") { id } }\n"
		"fragment F on Book { title genre }",
		NULL),
	    "{\"data\":{\"a\":{\"title\":\"Dune\",\"genre\":\"FICTION\",\"t\":\"Dune\",\"id\":"
	    "\"b0\"},\"b\":{\"id\":\"b1\",\"title\":\"Cosmos\"}}}");
	/* "a" twice is one field, resolved once. */
	assert_int_equal(resolve_calls, 2);
	assert_string_equal(
	    run("{ __typename b: book(id: \"b0\") { __typename } }", NULL),
	    "{\"data\":{\"__typename\":\"Query\",\"b\":{\"__typename\":\"Book\"}}}");
}

static void test_directives(void **state)
{
	(void)state;
	assert_string_equal(run("query($s: Boolean!) { book(id: \"b0\") { id @skip(if: $s) title "
				"@include(if: false) ...F @include(if: true) } } fragment F on "
				"Book { genre }",
				"{\"s\": true}"),
			    "{\"data\":{\"book\":{\"genre\":\"FICTION\"}}}");
	assert_string_equal(
	    run("query($s: Boolean = false) { book(id: \"b0\") { id @skip(if: $s) } }", NULL),
	    "{\"data\":{\"book\":{\"id\":\"b0\"}}}");
}

static void test_operations(void **state)
{
	(void)state;
	const char *doc = "query A { book(id: \"b0\") { id } } query B { book(id: \"b1\") { id } }";

	assert_string_equal(run_ex(doc, NULL, "B", false, 0),
			    "{\"data\":{\"book\":{\"id\":\"b1\"}}}");
	assert_string_equal(run(doc, NULL),
			    "{\"errors\":[{\"message\":\"Must provide operation name if query "
			    "contains multiple operations.\"}]}");
	assert_string_equal(run_ex(doc, NULL, "C", false, 0),
			    "{\"errors\":[{\"message\":\"Unknown operation named \\\"C\\\".\"}]}");
	assert_false(outcome.executed);
	/* A mutation runs once per field, and not over GET. */
	resolve_calls = 0;
	assert_string_equal(
	    run("mutation { addBook(input: {title: \"X\", tags: \"one\"}) { id title genre tags } "
		"}",
		NULL),
	    "{\"data\":{\"addBook\":{\"id\":\"new\",\"title\":\"X\",\"genre\":\"FICTION\","
	    "\"tags\":[\"one\"]}}}");
	assert_int_equal(resolve_calls, 1);
	resolve_calls = 0;
	run_ex("mutation { addBook(input: {title: \"X\"}) { id } }", NULL, NULL, true, 0);
	assert_true(outcome.not_allowed);
	assert_false(outcome.executed);
	assert_int_equal(resolve_calls, 0);
	assert_string_equal(
	    run("subscription { book(id: \"b0\") { id } }", NULL),
	    "{\"errors\":[{\"message\":\"Schema is not configured to execute "
	    "subscription operation.\",\"locations\":[{\"line\":1,\"column\":1}]}]}");
}

static void test_errors_and_nulls(void **state)
{
	(void)state;
	/* A resolver's error: the field is null, the error has its place and path. */
	assert_string_equal(
	    run("{ x: fail book(id: \"b0\") { id } }", NULL),
	    "{\"data\":{\"x\":null,\"book\":{\"id\":\"b0\"}},\"errors\":[{\"message\":"
	    "\"it failed\",\"locations\":[{\"line\":1,\"column\":3}],\"path\":[\"x\"]}]}");
	/* A null in a non-null field goes up to the nearest nullable parent (book). */
	assert_string_equal(
	    run("{ book(id: \"b0\") { id missing } }", NULL),
	    "{\"data\":{\"book\":null},\"errors\":[{\"message\":\"Cannot return null for "
	    "non-nullable field Book.missing.\",\"locations\":[{\"line\":1,\"column\":23}],"
	    "\"path\":[\"book\",\"missing\"]}]}");
	/* ... and up to data itself when every field on the way is non-null. */
	assert_string_equal(run("{ mustBook { id } }", NULL),
			    "{\"data\":null,\"errors\":[{\"message\":\"Cannot return null for "
			    "non-nullable field Query.mustBook.\",\"locations\":[{\"line\":1,"
			    "\"column\":3}],\"path\":[\"mustBook\"]}]}");
	/* A null item of [Book!] nulls the list; of [Book] only the item. Paths name the index. */
	assert_string_equal(
	    run("{ nullsInList { id } nullableItems { id } }", NULL),
	    "{\"data\":{\"nullsInList\":null,\"nullableItems\":[{\"id\":\"b0\"},null]},"
	    "\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
	    "Query.nullsInList.\",\"locations\":[{\"line\":1,\"column\":3}],\"path\":"
	    "[\"nullsInList\",1]}]}");
	assert_string_equal(run("{ books { missing } }", NULL),
			    "{\"data\":null,\"errors\":[{\"message\":\"Cannot return null for "
			    "non-nullable field Book.missing.\",\"locations\":[{\"line\":1,"
			    "\"column\":11}],\"path\":[\"books\",0,\"missing\"]}]}");
}

static void test_coercion(void **state)
{
	(void)state;
	/* Literals: each type, lists from one value, input objects with defaults, the default of
	 * an argument. */
	assert_string_equal(
	    run("{ echo(n: -5, f: 2, s: \"x\", b: true, l: 3, g: [SCIENCE], id: 12, j: {a: [1, "
		"\"b\", null], c: ENUMISH}, input: {title: \"T\"}) }",
		NULL),
	    "{\"data\":{\"echo\":{\"input\":{\"title\":\"T\",\"genre\":\"FICTION\"},\"n\":-5,"
	    "\"f\":2.0,\"s\":\"x\",\"b\":true,\"l\":[3],\"j\":{\"a\":[1,\"b\",null],\"c\":"
	    "\"ENUMISH\"},\"g\":[\"SCIENCE\"],\"id\":\"12\",\"d\":\"dflt\"}}}");
	/* Variables: coerced the same way; an explicit null stays null; a missing nullable
	 * variable leaves the argument out (its default applies). */
	assert_string_equal(
	    run("query($i: BookInput, $l: [Int], $d: String, $n: Int) { echo(input: $i, l: $l, "
		"d: $d, n: $n) }",
		"{\"i\": {\"title\": \"V\", \"genre\": \"SCIENCE\", \"tags\": \"t\"}, \"l\": 4, "
		"\"n\": null}"),
	    "{\"data\":{\"echo\":{\"input\":{\"title\":\"V\",\"genre\":\"SCIENCE\",\"tags\":"
	    "[\"t\"]},\"n\":null,\"l\":[4],\"d\":\"dflt\"}}}");
	/* Bad variable values are request errors: nothing runs. */
	assert_string_equal(
	    run("query($n: Int) { echo(n: $n) }", "{\"n\": 2147483648}"),
	    "{\"errors\":[{\"message\":\"Variable \\\"$n\\\" got invalid value; Int "
	    "cannot represent the value 2147483648.\",\"locations\":[{\"line\":1,"
	    "\"column\":7}]}]}");
	assert_false(outcome.executed);
	assert_string_equal(
	    run("query($i: BookInput) { echo(input: $i) }", "{\"i\": {\"genre\": \"SCIENCE\"}}"),
	    "{\"errors\":[{\"message\":\"Variable \\\"$i\\\" got invalid value; Field "
	    "\\\"title\\\" of required type \\\"String!\\\" was not provided.\","
	    "\"locations\":[{\"line\":1,\"column\":7}]}]}");
	assert_string_equal(
	    run("query($i: BookInput) { echo(input: $i) }",
		"{\"i\": {\"title\": \"a\", \"pages\": 3}}"),
	    "{\"errors\":[{\"message\":\"Variable \\\"$i\\\" got invalid value; Field "
	    "\\\"pages\\\" is not defined by type \\\"BookInput\\\".\",\"locations\":"
	    "[{\"line\":1,\"column\":7}]}]}");
	assert_string_equal(
	    run("query($g: [Genre!]) { echo(g: $g) }", "{\"g\": [\"SCIENCE\", "
						       "\"NOPE\"]}"),
	    "{\"errors\":[{\"message\":\"Variable \\\"$g\\\" got invalid value; Genre "
	    "cannot represent the value \\\"NOPE\\\" at [1].\",\"locations\":[{\"line\":"
	    "1,\"column\":7}]}]}");
	assert_string_equal(run("query($id: ID!) { book(id: $id) { id } }", "{}"),
			    "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" of required type "
			    "\\\"ID!\\\" was not provided.\",\"locations\":[{\"line\":1,\"column\":"
			    "7}]}]}");
	assert_string_equal(run("query($id: ID!) { book(id: $id) { id } }", "{\"id\": null}"),
			    "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" of non-null type "
			    "\\\"ID!\\\" must not be null.\",\"locations\":[{\"line\":1,\"column\":"
			    "7}]}]}");
}

/* ---- validation ---- */

/* The first error's message of the response to query. */
static const char *first_error(const char *query, const char *vars)
{
	json_t *resp;

	run(query, vars);
	resp = json_loads(last, 0, NULL);
	assert_non_null(resp);
	assert_null(json_object_get(resp, "data"));
	snprintf(last, sizeof(last), "%s",
		 json_string_value(json_object_get(
		     json_array_get(json_object_get(resp, "errors"), 0), "message")));
	json_decref(resp);
	assert_false(outcome.executed);
	return last;
}

static void test_validation(void **state)
{
	(void)state;
	assert_string_equal(run("{ book(id: \"b0\") { id, nope } }", NULL),
			    "{\"errors\":[{\"message\":\"Cannot query field \\\"nope\\\" on type "
			    "\\\"Book\\\".\",\"locations\":[{\"line\":1,\"column\":24}]}]}");
	assert_string_equal(first_error("{ book(id: 1, x: 2) { id } }", NULL),
			    "Unknown argument \"x\" on field \"Query.book\".");
	assert_string_equal(
	    first_error("{ book { id } }", NULL),
	    "Field \"book\" argument \"id\" of type \"ID!\" is required, but it was "
	    "not provided.");
	assert_string_equal(first_error("{ books(first: \"ten\") { id } }", NULL),
			    "Int cannot represent non-integer value: \"ten\"");
	assert_string_equal(first_error("{ books(first: 3000000000) { id } }", NULL),
			    "Int cannot represent non 32-bit signed integer value: 3000000000");
	assert_string_equal(first_error("{ books(genre: \"FICTION\") { id } }", NULL),
			    "Enum \"Genre\" cannot represent non-enum value: \"FICTION\".");
	assert_string_equal(first_error("{ books(genre: HORROR) { id } }", NULL),
			    "Value \"HORROR\" does not exist in \"Genre\" enum.");
	assert_string_equal(first_error("{ echo(input: {genre: SCIENCE}) }", NULL),
			    "Field \"BookInput.title\" of required type \"String!\" was not "
			    "provided.");
	assert_string_equal(first_error("{ echo(input: {title: \"a\", pages: 1}) }", NULL),
			    "Field \"pages\" is not defined by type \"BookInput\".");
	assert_string_equal(first_error("{ book(id: null) { id } }", NULL),
			    "Expected value of type \"ID!\", found null.");
	assert_string_equal(
	    first_error("{ book(id: \"b0\") }", NULL),
	    "Field \"book\" of type \"Book\" must have a selection of subfields. Did "
	    "you mean \"book { ... }\"?");
	assert_string_equal(first_error("{ book(id: \"b0\") { id { x } } }", NULL),
			    "Field \"id\" must not have a selection since type \"ID!\" has no "
			    "subfields.");
	assert_string_equal(first_error("{ book(id: \"b0\") { ...G } }", NULL),
			    "Unknown fragment \"G\".");
	assert_string_equal(
	    first_error("{ book(id: \"b0\") { id } } fragment G on Book { id }", NULL),
	    "Fragment \"G\" is never used.");
	assert_string_equal(first_error("{ book(id: \"b0\") { ...A } } fragment A on Book { ...B } "
					"fragment B on Book { ...A }",
					NULL),
			    "Cannot spread fragment \"A\" within itself.");
	assert_string_equal(
	    first_error("{ book(id: \"b0\") { ...A } } fragment A on Nope { id }", NULL),
	    "Unknown type \"Nope\".");
	assert_string_equal(
	    first_error("{ book(id: \"b0\") { ...A } } fragment A on Author { name }", NULL),
	    "Fragment \"A\" cannot be spread here as objects of type \"Book\" can "
	    "never be of type \"Author\".");
	assert_string_equal(first_error("query($x: Int) { book(id: \"b0\") { id } }", NULL),
			    "Variable \"$x\" is never used.");
	assert_string_equal(first_error("query Q { book(id: $x) { id } }", NULL),
			    "Variable \"$x\" is not defined by operation \"Q\".");
	assert_string_equal(
	    first_error("query($x: Int) { book(id: $x) { id } }", NULL),
	    "Variable \"$x\" of type \"Int\" used in position expecting type \"ID!\".");
	assert_string_equal(first_error("query($x: Nope) { echo(n: $x) }", NULL),
			    "Unknown type \"Nope\".");
	assert_string_equal(first_error("query($x: Book) { echo(n: $x) }", NULL),
			    "Variable \"$x\" cannot be non-input type \"Book\".");
	assert_string_equal(
	    first_error("{ a: book(id: \"b0\") { id } a: books { id } }", NULL),
	    "Fields \"a\" conflict because \"book\" and \"books\" are different fields. "
	    "Use different aliases on the fields to fetch both if this was "
	    "intentional.");
	assert_string_equal(
	    first_error("{ book(id: \"b0\") { id } book(id: \"b1\") { id } }", NULL),
	    "Fields \"book\" conflict because they have differing arguments. Use "
	    "different aliases on the fields to fetch both if this was intentional.");
	/* Fields merged by key merge their sub-selections: those must agree too. */
	assert_string_equal(first_error("{ a: book(id: \"b0\") { x: title } ...F } fragment F on "
					"Query { a: book(id: \"b0\") { x: genre } }",
					NULL),
			    "Fields \"x\" conflict because \"title\" and \"genre\" are different "
			    "fields. Use different aliases on the fields to fetch both if this was "
			    "intentional.");
	assert_string_equal(
	    run("{ a: book(id: \"b0\") { x: title } ...F } fragment F on Query { a: "
		"book(id: \"b0\") { x: title id } }",
		NULL),
	    "{\"data\":{\"a\":{\"x\":\"Dune\",\"id\":\"b0\"}}}");
	assert_string_equal(
	    first_error("{ book(id: \"b0\") { id @skip } }", NULL),
	    "Directive \"@skip\" argument \"if\" of type \"Boolean!\" is required, but "
	    "it was not provided.");
	assert_string_equal(first_error("{ book(id: \"b0\") { id @nope } }", NULL),
			    "Unknown directive \"@nope\".");
	assert_string_equal(first_error("query @skip(if: true) { book(id: \"b0\") { id } }", NULL),
			    "Directive \"@skip\" may not be used on QUERY.");
	assert_string_equal(first_error("{ book(id: \"b0\") { id } } { books { id } }", NULL),
			    "This anonymous operation must be the only defined operation.");
	assert_string_equal(first_error("query A { books { id } } query A { books { id } }", NULL),
			    "There can be only one operation named \"A\".");
	assert_string_equal(
	    first_error("{ __type { name } }", NULL),
	    "Field \"__type\" argument \"name\" of type \"String!\" is required, but "
	    "it was not provided.");
	/* A nullable variable where a non-null one belongs is allowed when it has a default. */
	assert_string_equal(run("query($x: ID = \"b0\") { book(id: $x) { id } }", NULL),
			    "{\"data\":{\"book\":{\"id\":\"b0\"}}}");
	/* A syntax error has its place. */
	assert_string_equal(
	    run("{ book(id: \"b0\") { id }", NULL),
	    "{\"errors\":[{\"message\":\"Syntax Error: Expected Name, found <EOF>.\","
	    "\"locations\":[{\"line\":1,\"column\":24}]}]}");
}

/* ---- limits ---- */

static void test_limits(void **state)
{
	char q[4096];
	size_t n = 0;
	int i;

	(void)state;
	/* Depth: 15 nested fields pass, 16 do not. */
	for (i = 0; i < 14; i++)
		n += (size_t)snprintf(q + n, sizeof(q) - n, "%s", i ? "child { " : "{ node { ");
	n += (size_t)snprintf(q + n, sizeof(q) - n, "value");
	for (i = 0; i < 14; i++)
		n += (size_t)snprintf(q + n, sizeof(q) - n, " }");
	n += (size_t)snprintf(q + n, sizeof(q) - n, " }");
	assert_non_null(strstr(run(q, NULL), "\"data\""));
	snprintf(q, sizeof(q),
		 "{ node { child { child { child { child { child { child { child { "
		 "child { child { child { child { child { child { child { value } } } "
		 "} } } } } } } } } } } } }");
	assert_string_equal(first_error(q, NULL),
			    "Query is nested 16 levels deep, more than the depth limit of 15.");
	/* Cost: the fields under a paged list count once per item asked for. */
	assert_non_null(
	    strstr(run_ex("{ books(first: 4) { id title } }", NULL, NULL, false, 9), "\"data\""));
	run_ex("{ books(first: 5) { id title } }", NULL, NULL, false, 9);
	assert_non_null(strstr(last, "cost limit of 9"));
	assert_false(outcome.executed);
	/* ... with the argument's default (10) when it is not given, or a variable's value. */
	run_ex("{ books { id } }", NULL, NULL, false, 10);
	assert_non_null(strstr(last, "cost limit of 10"));
	run_ex("query($n: Int) { books(first: $n) { id } }", "{\"n\": 2}", NULL, false, 10);
	assert_non_null(strstr(last, "\"data\""));
	/* Fragments that double at each level are refused by the cost, not expanded forever. */
	snprintf(
	    q, sizeof(q),
	    "{ books { ...A } } fragment A on Book { ...B ...B2 } fragment B on Book { ...C "
	    "...C2 } fragment B2 on Book { ...C ...C2 } fragment C on Book { ...D ...D2 } "
	    "fragment C2 on Book { ...D ...D2 } fragment D on Book { ...E ...E2 } fragment D2 "
	    "on Book { ...E ...E2 } fragment E on Book { id title genre rating } fragment E2 on "
	    "Book { id title genre rating }");
	run_ex(q, NULL, NULL, false, 100);
	assert_non_null(strstr(last, "cost limit of 100"));
	/* Lists without "first" count once in the cost; what executes is bounded all the same:
	 * past the limit the answer is dropped for one error. */
	max_fields = 40;
	assert_non_null(strstr(run("{ __schema { types { name } } }", NULL), "\"data\":{"));
	assert_string_equal(run("{ __schema { types { name fields { name } } } }", NULL),
			    "{\"data\":null,\"errors\":[{\"message\":\"The answer has more than 40 "
			    "fields, the limit on fields executed; it was not completed.\","
			    "\"locations\":[{\"line\":1,\"column\":36}],\"path\":[\"__schema\","
			    "\"types\",9,\"fields\",1,\"name\"]}]}");
	assert_true(outcome.executed);
	max_fields = 0;
}

/* ---- introspection ---- */

static void test_introspection(void **state)
{
	(void)state;
	assert_string_equal(
	    run("{ __schema { description queryType { name } mutationType { name } "
		"subscriptionType { name } } }",
		NULL),
	    "{\"data\":{\"__schema\":{\"description\":\"Books.\",\"queryType\":{\"name\":"
	    "\"Query\"},\"mutationType\":{\"name\":\"Mutation\"},\"subscriptionType\":null}}}");
	assert_string_equal(
	    run("{ __type(name: \"Query\") { kind fields { name args { name defaultValue type { "
		"kind name ofType { kind name } } } } } }",
		NULL) +
		    0
		? strstr(last, "\"books\",\"args\":[")
		: "",
	    "\"books\",\"args\":[{\"name\":\"first\",\"defaultValue\":\"10\",\"type\":{\"kind\":"
	    "\"SCALAR\",\"name\":\"Int\",\"ofType\":null}},{\"name\":\"genre\",\"defaultValue\":"
	    "null,\"type\":{\"kind\":\"ENUM\",\"name\":\"Genre\",\"ofType\":null}}]},{\"name\":"
	    "\"echo\",\"args\":[{\"name\":\"input\",\"defaultValue\":null,\"type\":{\"kind\":"
	    "\"INPUT_OBJECT\",\"name\":\"BookInput\",\"ofType\":null}},{\"name\":\"n\","
	    "\"defaultValue\":null,\"type\":{\"kind\":\"SCALAR\",\"name\":\"Int\",\"ofType\":"
	    "null}},{\"name\":\"f\",\"defaultValue\":null,\"type\":{\"kind\":\"SCALAR\",\"name\":"
	    "\"Float\",\"ofType\":null}},{\"name\":\"s\",\"defaultValue\":null,\"type\":{\"kind\":"
	    "\"SCALAR\",\"name\":\"String\",\"ofType\":null}},{\"name\":\"b\",\"defaultValue\":"
	    "null,\"type\":{\"kind\":\"SCALAR\",\"name\":\"Boolean\",\"ofType\":null}},{\"name\":"
	    "\"l\",\"defaultValue\":null,\"type\":{\"kind\":\"LIST\",\"name\":null,\"ofType\":{"
	    "\"kind\":\"SCALAR\",\"name\":\"Int\"}}},{\"name\":\"j\",\"defaultValue\":null,"
	    "\"type\":{\"kind\":\"SCALAR\",\"name\":\"JSON\",\"ofType\":null}},{\"name\":\"g\","
	    "\"defaultValue\":null,\"type\":{\"kind\":\"LIST\",\"name\":null,\"ofType\":{\"kind\":"
	    "\"NON_NULL\",\"name\":null}}},{\"name\":\"id\",\"defaultValue\":null,\"type\":{"
	    "\"kind\":\"SCALAR\",\"name\":\"ID\",\"ofType\":null}},{\"name\":\"d\","
	    "\"defaultValue\":\"\\\"dflt\\\"\",\"type\":{\"kind\":\"SCALAR\",\"name\":\"String\","
	    "\"ofType\":null}}]},{\"name\":\"mustBook\",\"args\":[]},{\"name\":\"fail\",\"args\":"
	    "[]},{\"name\":\"nullsInList\",\"args\":[]},{\"name\":\"nullableItems\",\"args\":[]},"
	    "{\"name\":\"node\",\"args\":[]}]}}}");
	/* Deprecated fields, arguments, input fields and enum values show only when asked. */
	assert_string_equal(
	    run("{ __type(name: \"Book\") { a: fields { name } b: fields(includeDeprecated: true) "
		"{ name isDeprecated deprecationReason } } }",
		NULL) +
		    0
		? strstr(last, "\"a\"")
		: "",
	    "\"a\":[{\"name\":\"id\"},{\"name\":\"title\"},{\"name\":\"genre\"},{\"name\":"
	    "\"rating\"},{\"name\":\"tags\"},{\"name\":\"author\"},{\"name\":\"missing\"}],\"b\":"
	    "[{\"name\":\"id\",\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":"
	    "\"title\",\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":\"genre\","
	    "\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":\"rating\","
	    "\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":\"tags\","
	    "\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":\"author\","
	    "\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":\"missing\","
	    "\"isDeprecated\":false,\"deprecationReason\":null},{\"name\":\"old\",\"isDeprecated\":"
	    "true,\"deprecationReason\":\"use title\"}]}}}");
	assert_string_equal(run("{ __type(name: \"Genre\") { a: enumValues { name } b: "
				"enumValues(includeDeprecated: true) { name } } }",
				NULL),
			    "{\"data\":{\"__type\":{\"a\":[{\"name\":\"FICTION\"},{\"name\":"
			    "\"SCIENCE\"}],\"b\":[{\"name\":\"FICTION\"},{\"name\":\"SCIENCE\"},{"
			    "\"name\":\"POETRY\"}]}}}");
	assert_string_equal(
	    run("{ __type(name: \"BookInput\") { kind a: inputFields { name defaultValue } b: "
		"inputFields(includeDeprecated: true) { name } } j: __type(name: \"JSON\") { kind "
		"specifiedByURL description } n: __type(name: \"Nope\") { name } }",
		NULL),
	    "{\"data\":{\"__type\":{\"kind\":\"INPUT_OBJECT\",\"a\":[{\"name\":\"title\","
	    "\"defaultValue\":null},{\"name\":\"genre\",\"defaultValue\":\"FICTION\"},{\"name\":"
	    "\"tags\",\"defaultValue\":null}],\"b\":[{\"name\":\"title\"},{\"name\":\"genre\"},{"
	    "\"name\":\"tags\"},{\"name\":\"year\"}]},\"j\":{\"kind\":\"SCALAR\","
	    "\"specifiedByURL\":\"https://www.json.org\",\"description\":\"Any JSON value.\"},"
	    "\"n\":null}}");
	/* The built-in directives. */
	assert_string_equal(
	    run("{ __schema { directives { name isRepeatable locations args { name type { kind "
		"ofType { name } } } } } }",
		NULL) +
		    0
		? strstr(last, "{\"name\":\"skip\"")
		: "",
	    "{\"name\":\"skip\",\"isRepeatable\":false,\"locations\":[\"FIELD\","
	    "\"FRAGMENT_SPREAD\",\"INLINE_FRAGMENT\"],\"args\":[{\"name\":\"if\",\"type\":{"
	    "\"kind\":\"NON_NULL\",\"ofType\":{\"name\":\"Boolean\"}}}]},{\"name\":\"deprecated\","
	    "\"isRepeatable\":false,\"locations\":[\"FIELD_DEFINITION\",\"ARGUMENT_DEFINITION\","
	    "\"INPUT_FIELD_DEFINITION\",\"ENUM_VALUE\"],\"args\":[{\"name\":\"reason\",\"type\":{"
	    "\"kind\":\"SCALAR\",\"ofType\":null}}]},{\"name\":\"specifiedBy\",\"isRepeatable\":"
	    "false,\"locations\":[\"SCALAR\"],\"args\":[{\"name\":\"url\",\"type\":{\"kind\":"
	    "\"NON_NULL\",\"ofType\":{\"name\":\"String\"}}}]}]}}}");
	/* Every type is listed once, the meta types too. */
	run("{ __schema { types { name } } }", NULL);
	assert_non_null(strstr(last, "{\"name\":\"Book\"}"));
	assert_non_null(strstr(last, "{\"name\":\"__TypeKind\"}"));
	assert_non_null(strstr(last, "{\"name\":\"Boolean\"}"));
	assert_null(strstr(strstr(last, "{\"name\":\"Book\"}") + 1, "{\"name\":\"Book\"}"));
}

static void test_schema_errors(void **state)
{
	static const struct gql_field_def bad_fields[] = {
	    {"x", "Nope", NULL, NULL, NULL, NULL},
	    {NULL, NULL, NULL, NULL, NULL, NULL},
	};
	static const struct gql_type_def bad_types[] = {
	    {GQL_DEF_OBJECT, "Query", NULL, bad_fields, NULL, NULL, NULL},
	    {GQL_DEF_OBJECT, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	static const struct gql_schema_def bad = {NULL, bad_types, "Query", NULL};
	static const struct gql_arg_def bad_default[] = {
	    {"n", "Int", "\"x\"", NULL, NULL},
	    {NULL, NULL, NULL, NULL, NULL},
	};
	static const struct gql_field_def df_fields[] = {
	    {"x", "Int", NULL, bad_default, NULL, NULL},
	    {NULL, NULL, NULL, NULL, NULL, NULL},
	};
	static const struct gql_type_def df_types[] = {
	    {GQL_DEF_OBJECT, "Query", NULL, df_fields, NULL, NULL, NULL},
	    {GQL_DEF_OBJECT, NULL, NULL, NULL, NULL, NULL, NULL},
	};
	static const struct gql_schema_def df = {NULL, df_types, "Query", NULL};
	struct gql_schema *s;
	char err[300];

	(void)state;
	assert_int_equal(gql_schema_new(&bad, &s, err, sizeof(err)), DTF_EINVAL);
	assert_null(s);
	assert_string_equal(err, "Query.x: unknown or malformed type 'Nope'");
	assert_int_equal(gql_schema_new(&df, &s, err, sizeof(err)), DTF_EINVAL);
	assert_non_null(strstr(err, "Query.x.n: bad default"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_shape),
	    cmocka_unit_test(test_aliases_fragments_merging),
	    cmocka_unit_test(test_directives),
	    cmocka_unit_test(test_operations),
	    cmocka_unit_test(test_errors_and_nulls),
	    cmocka_unit_test(test_coercion),
	    cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_introspection),
	    cmocka_unit_test(test_schema_errors),
	};

	return dtf_unit_run(tests, setup, teardown);
}
