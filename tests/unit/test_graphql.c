/* test_graphql.c: unit tests of the GraphQL executable-document parser (src/graphql/): the
 * seed's documents and every construct of the grammar parse to the expected tree (printed back
 * in a canonical form and compared as text, with spot checks of line and column); the lexer's
 * numbers, strings, escapes and block strings (the spec's examples); errors with their exact
 * messages and places; and the limits on size, depth and tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "common/err.h"
#include "graphql/graphql.h"
#include "unit_main.h"

/* ---- a printer: the tree as canonical text, so a whole tree is one string to compare ---- */

struct out {
	char buf[8192];
	size_t len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(o->buf) - o->len);
	o->len += (size_t)n;
}

static void print_value(struct out *o, const struct gql_value *v)
{
	const struct gql_object_field *f;
	const struct gql_value *i;
	size_t k;

	switch (v->kind) {
	case GQL_VALUE_VARIABLE:
		put(o, "$%s", v->str);
		break;
	case GQL_VALUE_INT:
	case GQL_VALUE_FLOAT:
		put(o, "%s%s", v->kind == GQL_VALUE_INT ? "i:" : "f:", v->str);
		break;
	case GQL_VALUE_ENUM:
		put(o, "%s", v->str);
		break;
	case GQL_VALUE_STRING:
		/* Quotes, backslashes, control characters escaped; the rest as is. */
		put(o, "%s\"", v->block ? "b" : "");
		for (k = 0; k < v->len; k++) {
			unsigned char c = (unsigned char)v->str[k];

			if (c == '"' || c == '\\')
				put(o, "\\%c", c);
			else if (c == '\n')
				put(o, "\\n");
			else if (c < 0x20)
				put(o, "\\x%02x", c);
			else
				put(o, "%c", c);
		}
		put(o, "\"");
		break;
	case GQL_VALUE_BOOLEAN:
		put(o, "%s", v->boolean ? "true" : "false");
		break;
	case GQL_VALUE_NULL:
		put(o, "null");
		break;
	case GQL_VALUE_LIST:
		put(o, "[");
		for (i = v->items, k = 0; i; i = i->next, k++) {
			put(o, "%s", k ? ", " : "");
			print_value(o, i);
		}
		assert_int_equal(k, v->count);
		put(o, "]");
		break;
	case GQL_VALUE_OBJECT:
		put(o, "{");
		for (f = v->fields, k = 0; f; f = f->next, k++) {
			put(o, "%s%s: ", k ? ", " : "", f->name);
			print_value(o, f->value);
		}
		assert_int_equal(k, v->count);
		put(o, "}");
		break;
	}
}

static void print_args(struct out *o, const struct gql_argument *a)
{
	if (!a)
		return;
	put(o, "(");
	for (; a; a = a->next) {
		put(o, "%s: ", a->name);
		print_value(o, a->value);
		put(o, "%s", a->next ? ", " : "");
	}
	put(o, ")");
}

static void print_directives(struct out *o, const struct gql_directive *d)
{
	for (; d; d = d->next) {
		put(o, " @%s", d->name);
		print_args(o, d->arguments);
	}
}

static void print_type(struct out *o, const struct gql_type *t)
{
	switch (t->kind) {
	case GQL_TYPE_NAMED:
		put(o, "%s", t->name);
		break;
	case GQL_TYPE_LIST:
		put(o, "[");
		print_type(o, t->of);
		put(o, "]");
		break;
	case GQL_TYPE_NON_NULL:
		print_type(o, t->of);
		put(o, "!");
		break;
	}
}

static void print_selections(struct out *o, const struct gql_selection *s)
{
	put(o, " {");
	for (; s; s = s->next) {
		put(o, " ");
		switch (s->kind) {
		case GQL_SELECTION_FIELD:
			if (s->alias)
				put(o, "%s: ", s->alias);
			put(o, "%s", s->name);
			print_args(o, s->arguments);
			print_directives(o, s->directives);
			if (s->selections)
				print_selections(o, s->selections);
			break;
		case GQL_SELECTION_FRAGMENT_SPREAD:
			put(o, "...%s", s->name);
			print_directives(o, s->directives);
			break;
		case GQL_SELECTION_INLINE_FRAGMENT:
			put(o, "...");
			if (s->type_condition)
				put(o, " on %s", s->type_condition);
			print_directives(o, s->directives);
			assert_non_null(s->selections);
			print_selections(o, s->selections);
			break;
		}
	}
	put(o, " }");
}

static void print_document(struct out *o, const struct gql_document *doc)
{
	const struct gql_definition *d;
	const struct gql_variable_definition *v;
	size_t n = 0;

	for (d = doc->definitions; d; d = d->next, n++) {
		put(o, "%s", n ? " | " : "");
		if (d->kind == GQL_DEFINITION_FRAGMENT) {
			put(o, "fragment %s on %s", d->name, d->type_condition);
		} else if (d->shorthand) {
			put(o, "shorthand");
		} else {
			put(o, "%s", gql_operation_name(d->operation));
			if (d->name)
				put(o, " %s", d->name);
			if (d->variables)
				put(o, "(");
			for (v = d->variables; v; v = v->next) {
				put(o, "$%s: ", v->name);
				print_type(o, v->type);
				if (v->default_value) {
					put(o, " = ");
					print_value(o, v->default_value);
				}
				print_directives(o, v->directives);
				put(o, "%s", v->next ? ", " : ")");
			}
		}
		print_directives(o, d->directives);
		assert_non_null(d->selections);
		print_selections(o, d->selections);
	}
	assert_int_equal(n, doc->count);
}

/* Parses src (which must parse) and returns the printed tree in a static buffer. */
static const char *parse_print(const char *src)
{
	static struct out o;
	struct gql_document *doc = NULL;
	struct gql_error err;
	int rc;

	rc = gql_parse(src, strlen(src), &doc, &err);
	if (rc)
		print_message("parse failed: %s at %u:%u\n", err.message, err.line, err.column);
	assert_int_equal(rc, 0);
	assert_non_null(doc);
	o.len = 0;
	o.buf[0] = '\0';
	print_document(&o, doc);
	gql_document_free(doc);
	return o.buf;
}

/* Parses the len bytes at src, which must fail with code, message and place. */
static void check_error_n(const char *src, size_t len, int code, const char *message, unsigned line,
			  unsigned column)
{
	struct gql_document *doc = (struct gql_document *)&doc; /* must be reset to NULL */
	struct gql_error err;

	assert_int_equal(gql_parse(src, len, &doc, &err), code);
	assert_null(doc);
	assert_string_equal(err.message, message);
	assert_int_equal(err.line, line);
	assert_int_equal(err.column, column);
}

static void check_error(const char *src, int code, const char *message, unsigned line,
			unsigned column)
{
	check_error_n(src, strlen(src), code, message, line, column);
}

/* The one string value of `{ f(a: VALUE) }`, parsed. */
static const char *string_arg(const char *value, struct out *o)
{
	char src[1024];

	snprintf(src, sizeof(src), "{ f(a: %s) }", value);
	snprintf(o->buf, sizeof(o->buf), "%s", parse_print(src));
	return o->buf;
}

/* ---- the seed's documents ---- */

static void test_seed_tasks_query(void **state)
{
	const char *src = "query {\n"
			  "  tasks(status: \"running\") {\n"
			  "    id, type, status, priority, created_at, updated_at, worker {\n"
			  "      id, status, available_hardware\n"
			  "    }, result {\n"
			  "      status, start_time, end_time, metrics\n"
			  "    }\n"
			  "  }\n"
			  "}\n";
	struct gql_document *doc;
	struct gql_error err;
	const struct gql_selection *tasks, *s;
	int n;

	(void)state;
	assert_string_equal(parse_print(src),
			    "query { tasks(status: \"running\") { id type status priority "
			    "created_at updated_at worker { id status available_hardware } "
			    "result { status start_time end_time metrics } } }");
	assert_int_equal(gql_parse(src, strlen(src), &doc, &err), 0);
	assert_int_equal(doc->count, 1);
	assert_int_equal(doc->definitions->kind, GQL_DEFINITION_OPERATION);
	assert_int_equal(doc->definitions->operation, GQL_OPERATION_QUERY);
	assert_null(doc->definitions->name);
	assert_false(doc->definitions->shorthand);
	tasks = doc->definitions->selections;
	assert_string_equal(tasks->name, "tasks");
	assert_int_equal(tasks->loc.line, 2);
	assert_int_equal(tasks->loc.column, 3);
	assert_int_equal(tasks->arguments->value->kind, GQL_VALUE_STRING);
	assert_int_equal(tasks->arguments->value->loc.column, 17);
	for (s = tasks->selections, n = 0; s; s = s->next, n++)
		if (strcmp(s->name, "worker") == 0) {
			assert_int_equal(s->loc.line, 3);
			assert_int_equal(s->loc.column, 57);
		}
	assert_int_equal(n, 8);
	gql_document_free(doc);
}

static void test_seed_task_query_and_mutation(void **state)
{
	const char *query = "\n    query($id: ID!) {\n"
			    "      task(id: $id) {\n"
			    "        id, status, result {\n"
			    "          status, metrics\n"
			    "        }\n"
			    "      }\n"
			    "    }\n    ";
	const char *mutation = "\n    mutation($input: TaskInput!) {\n"
			       "      createTask(input: $input) {\n"
			       "        id, type, status\n"
			       "      }\n"
			       "    }\n    ";
	struct gql_document *doc;
	struct gql_error err;
	const struct gql_variable_definition *v;

	(void)state;
	assert_string_equal(parse_print(query), "query($id: ID!) { task(id: $id) { id status "
						"result { status metrics } } }");
	assert_string_equal(parse_print(mutation),
			    "mutation($input: TaskInput!) { "
			    "createTask(input: $input) { id type status } }");
	assert_int_equal(gql_parse(mutation, strlen(mutation), &doc, &err), 0);
	assert_int_equal(doc->definitions->operation, GQL_OPERATION_MUTATION);
	assert_int_equal(doc->definitions->loc.line, 2);
	assert_int_equal(doc->definitions->loc.column, 5);
	v = doc->definitions->variables;
	assert_string_equal(v->name, "input");
	assert_int_equal(v->loc.column, 14);
	assert_int_equal(v->type->kind, GQL_TYPE_NON_NULL);
	assert_int_equal(v->type->of->kind, GQL_TYPE_NAMED);
	assert_string_equal(v->type->of->name, "TaskInput");
	assert_null(v->next);
	assert_int_equal(doc->definitions->selections->arguments->value->kind, GQL_VALUE_VARIABLE);
	gql_document_free(doc);
}

/* ---- the grammar ---- */

static void test_operations(void **state)
{
	(void)state;
	assert_string_equal(parse_print("{ a }"), "shorthand { a }");
	assert_string_equal(parse_print("query Q { a } mutation M { b } subscription S { c }"),
			    "query Q { a } | mutation M { b } | subscription S { c }");
	assert_string_equal(parse_print("query Q($a: Int = 1, $b: [String!]! = [\"x\"], "
					"$c: [[Int]] @d(x: 1)) @op { a }"),
			    "query Q($a: Int = i:1, $b: [String!]! = [\"x\"], $c: [[Int]] "
			    "@d(x: i:1)) @op { a }");
	assert_string_equal(parse_print("query($o: In = {a: [1, {b: null}]}) { a }"),
			    "query($o: In = {a: [i:1, {b: null}]}) { a }");
	/* Keywords are names elsewhere: a field may be called query, on, fragment, true... */
	assert_string_equal(parse_print("{ query on fragment true null type: schema }"),
			    "shorthand { query on fragment true null type: schema }");
}

static void test_fields_fragments_directives(void **state)
{
	const char *src = "query Q($x: Boolean!) {\n"
			  "  me: user(id: 4) @include(if: $x) { ...F @skip(if: false) }\n"
			  "  ... on User { name }\n"
			  "  ... @include(if: $x) { smallPic: pic(size: 64) }\n"
			  "  ... { plain }\n"
			  "}\n"
			  "fragment F on User @dir { friends(first: 10) { count } }\n";
	struct gql_document *doc;
	struct gql_error err;
	const struct gql_selection *s;

	(void)state;
	assert_string_equal(parse_print(src),
			    "query Q($x: Boolean!) { me: user(id: i:4) @include(if: $x) { ...F "
			    "@skip(if: false) } ... on User { name } ... @include(if: $x) { "
			    "smallPic: pic(size: i:64) } ... { plain } } | fragment F on User @dir "
			    "{ friends(first: i:10) { count } }");
	assert_int_equal(gql_parse(src, strlen(src), &doc, &err), 0);
	s = doc->definitions->selections;
	assert_string_equal(s->alias, "me");
	assert_string_equal(s->name, "user");
	assert_int_equal(s->directives->loc.line, 2);
	assert_int_equal(s->directives->loc.column, 19);
	assert_int_equal(s->selections->kind, GQL_SELECTION_FRAGMENT_SPREAD);
	assert_int_equal(s->selections->loc.column, 38);
	s = s->next;
	assert_int_equal(s->kind, GQL_SELECTION_INLINE_FRAGMENT);
	assert_string_equal(s->type_condition, "User");
	assert_int_equal(s->loc.line, 3);
	assert_int_equal(s->loc.column, 3);
	s = s->next->next;
	assert_null(s->type_condition);
	assert_null(s->directives);
	assert_int_equal(doc->definitions->next->kind, GQL_DEFINITION_FRAGMENT);
	assert_int_equal(doc->definitions->next->loc.line, 7);
	gql_document_free(doc);
}

static void test_literals(void **state)
{
	struct out o;

	(void)state;
	assert_string_equal(
	    parse_print("{ f(a: 0, b: -0, c: 123, d: -45, e: 1.5, g: -0.25e+10, h: 1E3, i: 6e-2, "
			"j: true, k: false, l: null, m: RED, n: $v, o: [], p: {}, "
			"q: [1 [2] {r: s}]) }"),
	    "shorthand { f(a: i:0, b: i:-0, c: i:123, d: i:-45, e: f:1.5, g: f:-0.25e+10, "
	    "h: f:1E3, i: f:6e-2, j: true, k: false, l: null, m: RED, n: $v, o: [], p: {}, "
	    "q: [i:1, [i:2], {r: s}]) }");
	/* Strings: every escape; UTF-8 as is; \u with four digits, a surrogate pair, braces. */
	assert_string_equal(string_arg("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", &o),
			    "shorthand { f(a: \"a\\\"b\\\\c/d\\x08e\\x0cf\\ng\\x0dh\\x09i\") }");
	assert_string_equal(string_arg("\"caf\\u00e9 caf\xc3\xa9 \\uD83D\\uDE00 \\u{1F600} "
				       "\\u{0000041}\"",
				       &o),
			    "shorthand { f(a: \"caf\xc3\xa9 caf\xc3\xa9 \xf0\x9f\x98\x80 "
			    "\xf0\x9f\x98\x80 A\") }");
	assert_string_equal(string_arg("\"\"", &o), "shorthand { f(a: \"\") }");
	/* A NUL through \u0000: len counts it. */
	assert_string_equal(string_arg("\"x\\u0000y\"", &o), "shorthand { f(a: \"x\\x00y\") }");
}

static void test_block_strings(void **state)
{
	struct out o;

	(void)state;
	/* The spec's example (2.9.4): the common indentation and the blank edges go. */
	assert_string_equal(string_arg("\"\"\"\n    Hello,\n      World!\n\n    Yours,\n"
				       "      GraphQL.\n  \"\"\"",
				       &o),
			    "shorthand { f(a: b\"Hello,\\n  World!\\n\\nYours,\\n  GraphQL.\") }");
	/* The first line keeps its indentation and does not count for the common one. */
	assert_string_equal(string_arg("\"\"\"  first\n    second\n      third\"\"\"", &o),
			    "shorthand { f(a: b\"  first\\nsecond\\n  third\") }");
	/* \""" is three quotes; other escapes stay as written. */
	assert_string_equal(string_arg("\"\"\"a \\\"\"\" b \\n \\u0041 \"\" c\"\"\"", &o),
			    "shorthand { f(a: b\"a \\\"\\\"\\\" b \\\\n \\\\u0041 \\\"\\\" c\") }");
	/* \r\n and \r end lines like \n; tabs are indentation too; whitespace-only is empty. */
	assert_string_equal(string_arg("\"\"\"\r\n\t\tx\r\t\t  y\r\n\t\t\"\"\"", &o),
			    "shorthand { f(a: b\"x\\n  y\") }");
	assert_string_equal(string_arg("\"\"\"  \n \n  \"\"\"", &o), "shorthand { f(a: b\"\") }");
	assert_string_equal(string_arg("\"\"\"\"\"\"", &o), "shorthand { f(a: b\"\") }");
}

static void test_ignored_tokens(void **state)
{
	struct gql_document *doc;
	struct gql_error err;
	const char *src = "\xef\xbb\xbf# a comment \xe2\x9c\x93\n,,{ a, # b\r\n\r  \xef\xbb\xbf"
			  "c,,, }  # the end";

	(void)state;
	assert_string_equal(parse_print(src), "shorthand { a c }");
	assert_int_equal(gql_parse(src, strlen(src), &doc, &err), 0);
	/* \r\n is one line break, a lone \r another; the BOM counts as one column. */
	assert_int_equal(doc->definitions->loc.line, 2);
	assert_int_equal(doc->definitions->loc.column, 3);
	assert_int_equal(doc->definitions->selections->next->loc.line, 4);
	assert_int_equal(doc->definitions->selections->next->loc.column, 4);
	gql_document_free(doc);
	/* Columns count code points, not bytes. */
	src = "{ f(a: \"\xc3\xa9\xc3\xa9\") b }";
	assert_int_equal(gql_parse(src, strlen(src), &doc, &err), 0);
	assert_int_equal(doc->definitions->selections->loc.column, 3);
	assert_int_equal(doc->definitions->selections->next->loc.column, 14);
	gql_document_free(doc);
}

/* ---- errors ---- */

static void test_syntax_errors(void **state)
{
	(void)state;
	check_error("", DTF_EPARSE, "Syntax Error: Unexpected <EOF>.", 1, 1);
	check_error("  # only a comment\n", DTF_EPARSE, "Syntax Error: Unexpected <EOF>.", 2, 1);
	check_error("{ }", DTF_EPARSE, "Syntax Error: Expected Name, found \"}\".", 1, 3);
	check_error("{ a", DTF_EPARSE, "Syntax Error: Expected Name, found <EOF>.", 1, 4);
	check_error("{ a }\n  }", DTF_EPARSE, "Syntax Error: Unexpected \"}\".", 2, 3);
	check_error("{ a(b 1) }", DTF_EPARSE, "Syntax Error: Expected \":\", found Int \"1\".", 1,
		    7);
	check_error("{ a() }", DTF_EPARSE, "Syntax Error: Expected Name, found \")\".", 1, 5);
	check_error("{ a(b: ) }", DTF_EPARSE, "Syntax Error: Unexpected \")\".", 1, 8);
	check_error("{ a(b: [1, 2) }", DTF_EPARSE, "Syntax Error: Unexpected \")\".", 1, 13);
	check_error("query Q() { a }", DTF_EPARSE, "Syntax Error: Expected \"$\", found \")\".", 1,
		    9);
	check_error("query ($v: Int = $x) { a }", DTF_EPARSE,
		    "Syntax Error: Unexpected variable \"$x\" in constant value.", 1, 18);
	check_error("query ($v: Int @d(a: $x)) { a }", DTF_EPARSE,
		    "Syntax Error: Unexpected variable \"$x\" in constant value.", 1, 22);
	check_error("query ($v: [Int) { a }", DTF_EPARSE,
		    "Syntax Error: Expected \"]\", found \")\".", 1, 16);
	check_error("query Q", DTF_EPARSE, "Syntax Error: Expected \"{\", found <EOF>.", 1, 8);
	check_error("fragment on on T { a }", DTF_EPARSE, "Syntax Error: Unexpected Name \"on\".",
		    1, 10);
	check_error("fragment F T { a }", DTF_EPARSE,
		    "Syntax Error: Expected \"on\", found Name \"T\".", 1, 12);
	check_error("fragment F on T", DTF_EPARSE, "Syntax Error: Expected \"{\", found <EOF>.", 1,
		    16);
	check_error("{ ... on { a } }", DTF_EPARSE, "Syntax Error: Expected Name, found \"{\".", 1,
		    10);
	check_error("notAKeyword { a }", DTF_EPARSE,
		    "Syntax Error: Unexpected Name \"notAKeyword\".", 1, 1);
	check_error("{ a } 12", DTF_EPARSE, "Syntax Error: Unexpected Int \"12\".", 1, 7);
	check_error("{ a(b: \"x\") } \"str\"", DTF_EPARSE,
		    "Syntax Error: Type system definitions (schema, type, ...) are not allowed: "
		    "only executable documents (operations and fragments) are accepted.",
		    1, 15);
	/* A long string is cut in the message, at a character's start. */
	check_error("{ a } \"0123456789012345678901234567890123456789\"", DTF_EPARSE,
		    "Syntax Error: Type system definitions (schema, type, ...) are not allowed: "
		    "only executable documents (operations and fragments) are accepted.",
		    1, 7);
	check_error("{ a(b: 1 \"012345678901234567890123456789012345678\xc3\xa9\") }", DTF_EPARSE,
		    "Syntax Error: Expected Name, found String "
		    "\"012345678901234567890123456789012345678...\".",
		    1, 10);
	check_error("{ a @ }", DTF_EPARSE, "Syntax Error: Expected Name, found \"}\".", 1, 7);
}

static void test_type_system_rejected(void **state)
{
	static const char *const docs[] = {
	    "type Query { a: Int }",
	    "schema { query: Q }",
	    "scalar Date",
	    "interface I { a: Int }",
	    "union U = A | B",
	    "enum E { A }",
	    "input In { a: Int }",
	    "directive @d on FIELD",
	    "extend type Query { b: Int }",
	    "\"\"\"described\"\"\" type T { a: Int }",
	};
	const char *msg = "Syntax Error: Type system definitions (schema, type, ...) are not "
			  "allowed: only executable documents (operations and fragments) are "
			  "accepted.";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		check_error(docs[i], DTF_EPARSE, msg, 1, 1);
	check_error("{ a }\n\ntype T { a: Int }", DTF_EPARSE, msg, 3, 1);
}

static void test_lexical_errors(void **state)
{
	(void)state;
	check_error("{ a(x: 01) }", DTF_EPARSE,
		    "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 9);
	check_error("{ a(x: 1x) }", DTF_EPARSE,
		    "Syntax Error: Invalid number, expected digit but got: \"x\".", 1, 9);
	check_error("{ a(x: 1.) }", DTF_EPARSE,
		    "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10);
	check_error("{ a(x: 1.2.3) }", DTF_EPARSE,
		    "Syntax Error: Invalid number, expected digit but got: \".\".", 1, 11);
	check_error("{ a(x: 1e) }", DTF_EPARSE,
		    "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 10);
	check_error("{ a(x: -) }", DTF_EPARSE,
		    "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 9);
	check_error("{ a(x: 1", DTF_EPARSE, "Syntax Error: Expected Name, found <EOF>.", 1, 9);
	check_error("{ a(x: 1_0) }", DTF_EPARSE,
		    "Syntax Error: Invalid number, expected digit but got: \"_\".", 1, 9);
	check_error("{ a(x: .5) }", DTF_EPARSE, "Syntax Error: Unexpected character: \".\".", 1, 8);
	check_error("{ a ..b }", DTF_EPARSE, "Syntax Error: Unexpected character: \".\".", 1, 5);
	check_error("{ a ? }", DTF_EPARSE, "Syntax Error: Unexpected character: \"?\".", 1, 5);
	check_error("{ a \xc3\xa9 }", DTF_EPARSE, "Syntax Error: Unexpected character: U+00E9.", 1,
		    5);
	check_error_n("{ a \0 }", 7, DTF_EPARSE, "Syntax Error: Unexpected character: U+0000.", 1,
		      5);
	check_error("{ a(x: \"abc) }", DTF_EPARSE, "Syntax Error: Unterminated string.", 1, 15);
	check_error("{ a(x: \"ab\nc\") }", DTF_EPARSE, "Syntax Error: Unterminated string.", 1, 11);
	check_error("{ a(x: \"\"\"abc) }", DTF_EPARSE, "Syntax Error: Unterminated string.", 1, 17);
	check_error("{ a(x: \"\\q\") }", DTF_EPARSE,
		    "Syntax Error: Invalid character escape sequence: \"\\q\".", 1, 9);
	check_error("{ a(x: \"\\uD800\") }", DTF_EPARSE,
		    "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".", 1, 9);
	check_error("{ a(x: \"\\uDE00\\uD83D\") }", DTF_EPARSE,
		    "Syntax Error: Invalid Unicode escape sequence: \"\\uDE00\\uD83D\".", 1, 9);
	check_error("{ a(x: \"\\uD83Dx\") }", DTF_EPARSE,
		    "Syntax Error: Invalid Unicode escape sequence: \"\\uD83D\".", 1, 9);
	check_error("{ a(x: \"\\u{110000}\") }", DTF_EPARSE,
		    "Syntax Error: Invalid Unicode escape sequence: \"\\u{110000}\".", 1, 9);
	check_error("{ a(x: \"\\u{}\") }", DTF_EPARSE,
		    "Syntax Error: Invalid Unicode escape sequence: \"\\u{}\".", 1, 9);
	check_error("{ a(x: \"\\uZZZZ\") }", DTF_EPARSE,
		    "Syntax Error: Invalid Unicode escape sequence: \"\\uZZZZ\".", 1, 9);
	check_error("{ a(x: \"\\u12\") }", DTF_EPARSE,
		    "Syntax Error: Invalid Unicode escape sequence: \"\\u12\".", 1, 9);
	/* Invalid UTF-8 anywhere: in a string, a block string, a comment, outside them. */
	check_error("{ a(x: \"\xc3\") }", DTF_EPARSE, "Syntax Error: Invalid UTF-8 sequence.", 1,
		    9);
	check_error("{ a(x: \"\"\"\n\xed\xa0\x80\"\"\") }", DTF_EPARSE,
		    "Syntax Error: Invalid UTF-8 sequence.", 2, 1);
	check_error("# \xff\n{ a }", DTF_EPARSE, "Syntax Error: Invalid UTF-8 sequence.", 1, 3);
	check_error("{ a \xc0\x80 }", DTF_EPARSE, "Syntax Error: Invalid UTF-8 sequence.", 1, 5);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
	char *src = malloc(GQL_MAX_DOCUMENT + 2);
	struct gql_document *doc;
	struct gql_error err;
	size_t n = 0;
	int i;

	(void)state;
	assert_non_null(src);
	/* Size: 64 KiB of spaces and one field parse; one byte more does not. */
	memset(src, ' ', GQL_MAX_DOCUMENT);
	memcpy(src, "{ a }", 5);
	assert_int_equal(gql_parse(src, GQL_MAX_DOCUMENT, &doc, &err), 0);
	gql_document_free(doc);
	check_error_n(src, GQL_MAX_DOCUMENT + 1, DTF_ETOOBIG,
		      "Document is 65537 bytes; the limit is 65536 bytes (64 KiB).", 0, 0);

	/* Depth: 64 nested selection sets parse, 65 do not. */
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(src + n, 16, "{ a ");
	for (i = 0; i < 64; i++)
		src[n++] = '}';
	src[n] = '\0';
	assert_int_equal(gql_parse(src, n, &doc, &err), 0);
	gql_document_free(doc);
	n = 0;
	for (i = 0; i < 65; i++)
		n += (size_t)snprintf(src + n, 16, "{ a ");
	src[n] = '\0';
	check_error_n(src, n, DTF_ETOOBIG,
		      "Syntax Error: Document is nested deeper than 64 levels, the limit.", 1, 257);

	/* Values and types count too: a deep list value or list type stops at the limit, long
	 * before the stack could. */
	n = (size_t)snprintf(src, 32, "{ a(x: ");
	memset(src + n, '[', 60000);
	n += 60000;
	check_error_n(src, n, DTF_ETOOBIG,
		      "Syntax Error: Document is nested deeper than 64 levels, the limit.", 1,
		      8 + 63);
	n = (size_t)snprintf(src, 32, "{ a(x: {a: [{b: ");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(src + n, 16, "{c: [");
	check_error_n(src, n, DTF_ETOOBIG,
		      "Syntax Error: Document is nested deeper than 64 levels, the limit.", 1, 167);
	n = (size_t)snprintf(src, 32, "query($v: ");
	memset(src + n, '[', 60000);
	n += 60000;
	check_error_n(src, n, DTF_ETOOBIG,
		      "Syntax Error: Document is nested deeper than 64 levels, the limit.", 1,
		      11 + 64);

	/* Tokens: GQL_MAX_TOKENS parse, one more does not. "{ a a ... }" has n + 2 tokens. */
	n = 0;
	src[n++] = '{';
	for (i = 0; i < GQL_MAX_TOKENS - 2; i++) {
		src[n++] = ' ';
		src[n++] = 'a';
	}
	src[n++] = '}';
	assert_int_equal(gql_parse(src, n, &doc, &err), 0);
	assert_non_null(doc);
	gql_document_free(doc);
	memcpy(src + n - 1, " a}", 3);
	n += 2;
	check_error_n(src, n, DTF_ETOOBIG,
		      "Syntax Error: Document contains more than 15000 tokens, the limit; parsing "
		      "aborted.",
		      1, (unsigned)n);
	free(src);
}

/* Memory follows the document's size: many short strings must not cost the rest of the
 * document each (as room sized to the remaining input once did: about 1 GB here). */
static void test_memory_bounded(void **state)
{
	char *src = malloc(GQL_MAX_DOCUMENT);
	struct gql_document *doc;
	struct gql_error err;
	struct rusage before, after;
	size_t n;
	int i;

	(void)state;
	assert_non_null(src);
	n = (size_t)snprintf(src, 32, "{ a(x: [");
	for (i = 0; i < 7000; i++) {
		memcpy(src + n, i % 2 ? "\"\" " : "\"\"\"\"\"\" ", i % 2 ? 3 : 7);
		n += i % 2 ? 3 : 7;
	}
	memcpy(src + n, "]) }", 4);
	n += 4;
	assert_true(n <= GQL_MAX_DOCUMENT);
	getrusage(RUSAGE_SELF, &before);
	assert_int_equal(gql_parse(src, n, &doc, &err), 0);
	assert_int_equal(doc->definitions->selections->arguments->value->count, 7000);
	getrusage(RUSAGE_SELF, &after);
	gql_document_free(doc);
	/* ru_maxrss is in KiB: the peak may grow by 64 MiB at most. */
	assert_true(after.ru_maxrss - before.ru_maxrss < 64 * 1024);
	free(src);
}

static void test_arguments_checked(void **state)
{
	struct gql_document *doc = NULL;
	struct gql_error err;

	(void)state;
	assert_int_equal(gql_parse("{ a }", 5, NULL, &err), DTF_EINVAL);
	assert_int_equal(gql_parse(NULL, 5, &doc, NULL), DTF_EINVAL);
	assert_int_equal(gql_parse(NULL, 0, &doc, NULL), DTF_EPARSE);
	assert_null(doc);
	/* The source need not end in a NUL: only len bytes are read. */
	assert_int_equal(gql_parse("{ a }}}}", 5, &doc, NULL), 0);
	gql_document_free(doc);
	gql_document_free(NULL);
	assert_string_equal(gql_operation_name(GQL_OPERATION_SUBSCRIPTION), "subscription");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_tasks_query),
	    cmocka_unit_test(test_seed_task_query_and_mutation),
	    cmocka_unit_test(test_operations),
	    cmocka_unit_test(test_fields_fragments_directives),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_block_strings),
	    cmocka_unit_test(test_ignored_tokens),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_type_system_rejected),
	    cmocka_unit_test(test_lexical_errors),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_memory_bounded),
	    cmocka_unit_test(test_arguments_checked),
	};

	return dtf_unit_run(tests, NULL, NULL);
}
