/* fuzz_graphql.c: libFuzzer target for the GraphQL parser (src/graphql/): whatever the input,
 * gql_parse must not crash, leak or recurse without bound; a failure always says why and where
 * (inside the input); a success gives a tree whose every node lies inside the input, whose
 * counts match its lists and whose nesting stays within GQL_MAX_DEPTH. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "graphql/graphql.h"

static unsigned lines; /* lines in the input: a node's line is at most this */

static void check_loc(struct gql_loc loc)
{
	if (loc.line < 1 || loc.line > lines || loc.column < 1)
		abort();
}

static void check_value(const struct gql_value *v, int depth)
{
	const struct gql_object_field *f;
	const struct gql_value *i;
	size_t n = 0;

	if (depth > GQL_MAX_DEPTH)
		abort();
	check_loc(v->loc);
	switch (v->kind) {
	case GQL_VALUE_LIST:
		for (i = v->items; i; i = i->next, n++)
			check_value(i, depth + 1);
		break;
	case GQL_VALUE_OBJECT:
		for (f = v->fields; f; f = f->next, n++) {
			check_loc(f->loc);
			if (!f->name[0])
				abort();
			check_value(f->value, depth + 1);
		}
		break;
	case GQL_VALUE_BOOLEAN:
	case GQL_VALUE_NULL:
		return;
	default:
		if (!v->str || strlen(v->str) > v->len)
			abort();
		return;
	}
	if (n != v->count)
		abort();
}

static void check_arguments(const struct gql_argument *a, int depth)
{
	for (; a; a = a->next) {
		check_loc(a->loc);
		check_value(a->value, depth);
	}
}

static void check_directives(const struct gql_directive *d, int depth)
{
	for (; d; d = d->next) {
		check_loc(d->loc);
		check_arguments(d->arguments, depth);
	}
}

static void check_selections(const struct gql_selection *s, int depth)
{
	if (!s || depth > GQL_MAX_DEPTH)
		abort();
	for (; s; s = s->next) {
		check_loc(s->loc);
		check_arguments(s->arguments, depth);
		check_directives(s->directives, depth);
		if (s->kind == GQL_SELECTION_FRAGMENT_SPREAD && (s->selections || !s->name))
			abort();
		if (s->kind == GQL_SELECTION_INLINE_FRAGMENT && !s->selections)
			abort();
		if (s->selections)
			check_selections(s->selections, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gql_definition *d;
	const struct gql_variable_definition *v;
	struct gql_document *doc;
	struct gql_error err;
	size_t i, n = 0;
	int rc;

	/* Lines as the lexer counts them: \n, \r\n or \r. */
	lines = 1;
	for (i = 0; i < size; i++)
		if (data[i] == '\n' || (data[i] == '\r' && (i + 1 >= size || data[i + 1] != '\n')))
			lines++;
	rc = gql_parse((const char *)data, size, &doc, &err);
	if (rc) {
		if (doc || !err.message[0] || (rc != DTF_EPARSE && rc != DTF_ETOOBIG))
			abort();
		if (size <= GQL_MAX_DOCUMENT)
			check_loc((struct gql_loc){err.line, err.column});
		return 0;
	}
	for (d = doc->definitions; d; d = d->next, n++) {
		check_loc(d->loc);
		for (v = d->variables; v; v = v->next) {
			check_loc(v->loc);
			if (v->default_value)
				check_value(v->default_value, 1);
			check_directives(v->directives, 1);
		}
		check_directives(d->directives, 1);
		check_selections(d->selections, 1);
	}
	if (n == 0 || n != doc->count)
		abort();
	gql_document_free(doc);
	return 0;
}
