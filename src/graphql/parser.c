/* parser.c: a recursive-descent parser for GraphQL executable documents (spec section 2,
 * October 2021 edition); see graphql.h.
 *
 * A syntax error anywhere ends the parse: fail() fills the error and longjmps back to
 * gql_parse(), which frees the arena that holds every node made so far. Nothing is allocated
 * outside the arena, so the jump leaks nothing, and the grammar functions need no error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "graphql/graphql.h"
#include "graphql/lexer.h"

struct parser {
	struct gql_lexer lx;
	struct gql_token tok; /* the current token */
	struct gql_arena *arena;
	struct gql_error *err;
	jmp_buf fail;
	int code;	/* what gql_parse() returns after the jump */
	unsigned depth; /* selection sets, list/object values and list types open now */
	size_t ntokens;
};

static _Noreturn void fail_code(struct parser *p, int code)
{
	p->code = code;
	longjmp(p->fail, 1);
}

static _Noreturn void fail(struct parser *p, struct gql_loc loc, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static _Noreturn void fail(struct parser *p, struct gql_loc loc, int code, const char *fmt, ...)
{
	char msg[220];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err->message, sizeof(p->err->message), "Syntax Error: %s", msg);
	p->err->line = loc.line;
	p->err->column = loc.column;
	fail_code(p, code);
}

static _Noreturn void oom(struct parser *p)
{
	snprintf(p->err->message, sizeof(p->err->message), "out of memory");
	p->err->line = p->err->column = 0;
	fail_code(p, DTF_ENOMEM);
}

static void *alloc(struct parser *p, size_t size)
{
	void *v = gql_arena_alloc(p->arena, size);

	if (!v)
		oom(p);
	return v;
}

#define NEW(p, type) ((type *)alloc((p), sizeof(type)))

static void advance(struct parser *p)
{
	if (gql_lexer_next(&p->lx, &p->tok))
		fail_code(p, p->lx.nomem ? DTF_ENOMEM : DTF_EPARSE);
	if (p->tok.kind != GQL_TOK_EOF && ++p->ntokens > GQL_MAX_TOKENS)
		fail(p, p->tok.loc, DTF_ETOOBIG,
		     "Document contains more than %d tokens, the limit; parsing aborted.",
		     GQL_MAX_TOKENS);
}

/* The current token for an error message: `"}"`, `Name "foo"`, `<EOF>`, ... */
static const char *tok_desc(const struct parser *p, char *buf, size_t size)
{
	const struct gql_token *t = &p->tok;
	const char *kind = gql_tok_name(t->kind);
	const char *text = (const char *)p->lx.src + t->start;
	size_t len = t->end - t->start;

	switch (t->kind) {
	case GQL_TOK_NAME:
	case GQL_TOK_INT:
	case GQL_TOK_FLOAT:
		break;
	case GQL_TOK_STRING:
	case GQL_TOK_BLOCK_STRING:
		text = t->value;
		len = strnlen(t->value, t->value_len);
		break;
	default:
		return kind;
	}
	if (len > 40) {
		/* Cut at a character's start: the message goes into JSON, which must be UTF-8. */
		len = 40;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
		snprintf(buf, size, "%s \"%.*s...\"", kind, (int)len, text);
	} else
		snprintf(buf, size, "%s \"%.*s\"", kind, (int)len, text);
	return buf;
}

static _Noreturn void unexpected(struct parser *p)
{
	char d[80];

	fail(p, p->tok.loc, DTF_EPARSE, "Unexpected %s.", tok_desc(p, d, sizeof(d)));
}

static bool peek(const struct parser *p, enum gql_tok kind)
{
	return p->tok.kind == kind;
}

/* Whether the current token is the name kw. */
static bool peek_keyword(const struct parser *p, const char *kw)
{
	size_t len = strlen(kw);

	return p->tok.kind == GQL_TOK_NAME && p->tok.end - p->tok.start == len &&
	       memcmp(p->lx.src + p->tok.start, kw, len) == 0;
}

static void expect(struct parser *p, enum gql_tok kind)
{
	char d[80];

	if (p->tok.kind != kind)
		fail(p, p->tok.loc, DTF_EPARSE, "Expected %s, found %s.", gql_tok_name(kind),
		     tok_desc(p, d, sizeof(d)));
	advance(p);
}

static bool skip(struct parser *p, enum gql_tok kind)
{
	if (p->tok.kind != kind)
		return false;
	advance(p);
	return true;
}

static void expect_keyword(struct parser *p, const char *kw)
{
	char d[80];

	if (!peek_keyword(p, kw))
		fail(p, p->tok.loc, DTF_EPARSE, "Expected \"%s\", found %s.", kw,
		     tok_desc(p, d, sizeof(d)));
	advance(p);
}

static const char *parse_name(struct parser *p)
{
	char *s;

	if (p->tok.kind != GQL_TOK_NAME)
		expect(p, GQL_TOK_NAME); /* fails */
	s = gql_arena_strndup(p->arena, (const char *)p->lx.src + p->tok.start,
			      p->tok.end - p->tok.start);
	if (!s)
		oom(p);
	advance(p);
	return s;
}

/* Opens a nesting level at loc, failing past GQL_MAX_DEPTH; leave() closes it. The bound keeps
 * the recursion (a few frames a level) far from the stack's end. */
static void enter(struct parser *p, struct gql_loc loc)
{
	if (++p->depth > GQL_MAX_DEPTH)
		fail(p, loc, DTF_ETOOBIG, "Document is nested deeper than %d levels, the limit.",
		     GQL_MAX_DEPTH);
}

static void leave(struct parser *p)
{
	p->depth--;
}

/* ---- values ---- */

static struct gql_value *parse_value(struct parser *p, bool is_const);

static struct gql_value *parse_list(struct parser *p, struct gql_value *v, bool is_const)
{
	struct gql_value **tail = &v->items;

	v->kind = GQL_VALUE_LIST;
	enter(p, v->loc);
	advance(p);
	while (!skip(p, GQL_TOK_BRACKET_R)) {
		*tail = parse_value(p, is_const);
		tail = &(*tail)->next;
		v->count++;
	}
	leave(p);
	return v;
}

static struct gql_value *parse_object(struct parser *p, struct gql_value *v, bool is_const)
{
	struct gql_object_field **tail = &v->fields, *f;

	v->kind = GQL_VALUE_OBJECT;
	enter(p, v->loc);
	advance(p);
	while (!skip(p, GQL_TOK_BRACE_R)) {
		f = NEW(p, struct gql_object_field);
		f->loc = p->tok.loc;
		f->name = parse_name(p);
		expect(p, GQL_TOK_COLON);
		f->value = parse_value(p, is_const);
		*tail = f;
		tail = &f->next;
		v->count++;
	}
	leave(p);
	return v;
}

/* Value[Const]: in a constant (a default value, a variable definition's directives) a
 * variable is an error. */
static struct gql_value *parse_value(struct parser *p, bool is_const)
{
	struct gql_value *v = NEW(p, struct gql_value);
	const char *text = (const char *)p->lx.src + p->tok.start;
	size_t len = p->tok.end - p->tok.start;

	v->loc = p->tok.loc;
	switch (p->tok.kind) {
	case GQL_TOK_BRACKET_L:
		return parse_list(p, v, is_const);
	case GQL_TOK_BRACE_L:
		return parse_object(p, v, is_const);
	case GQL_TOK_DOLLAR:
		advance(p);
		v->kind = GQL_VALUE_VARIABLE;
		if (is_const && peek(p, GQL_TOK_NAME))
			fail(p, v->loc, DTF_EPARSE,
			     "Unexpected variable \"$%.*s\" in constant value.",
			     (int)(p->tok.end - p->tok.start > 60 ? 60 : p->tok.end - p->tok.start),
			     (const char *)p->lx.src + p->tok.start);
		v->str = parse_name(p);
		v->len = strlen(v->str);
		return v;
	case GQL_TOK_INT:
	case GQL_TOK_FLOAT:
		v->kind = p->tok.kind == GQL_TOK_INT ? GQL_VALUE_INT : GQL_VALUE_FLOAT;
		v->str = gql_arena_strndup(p->arena, text, len);
		if (!v->str)
			oom(p);
		v->len = len;
		break;
	case GQL_TOK_STRING:
	case GQL_TOK_BLOCK_STRING:
		v->kind = GQL_VALUE_STRING;
		v->block = p->tok.kind == GQL_TOK_BLOCK_STRING;
		v->str = p->tok.value;
		v->len = p->tok.value_len;
		break;
	case GQL_TOK_NAME:
		if (peek_keyword(p, "true") || peek_keyword(p, "false")) {
			v->kind = GQL_VALUE_BOOLEAN;
			v->boolean = peek_keyword(p, "true");
		} else if (peek_keyword(p, "null")) {
			v->kind = GQL_VALUE_NULL;
		} else {
			v->kind = GQL_VALUE_ENUM;
			v->str = parse_name(p);
			v->len = strlen(v->str);
			return v;
		}
		break;
	default:
		unexpected(p);
	}
	advance(p);
	return v;
}

/* ---- arguments, directives, types ---- */

/* Arguments?: ( Argument+ ); NULL when there are none. */
static struct gql_argument *parse_arguments(struct parser *p, bool is_const)
{
	struct gql_argument *first = NULL, **tail = &first, *a;

	if (!skip(p, GQL_TOK_PAREN_L))
		return NULL;
	do {
		a = NEW(p, struct gql_argument);
		a->loc = p->tok.loc;
		a->name = parse_name(p);
		expect(p, GQL_TOK_COLON);
		a->value = parse_value(p, is_const);
		*tail = a;
		tail = &a->next;
	} while (!skip(p, GQL_TOK_PAREN_R));
	return first;
}

static struct gql_directive *parse_directives(struct parser *p, bool is_const)
{
	struct gql_directive *first = NULL, **tail = &first, *d;

	while (peek(p, GQL_TOK_AT)) {
		d = NEW(p, struct gql_directive);
		d->loc = p->tok.loc;
		advance(p);
		d->name = parse_name(p);
		d->arguments = parse_arguments(p, is_const);
		*tail = d;
		tail = &d->next;
	}
	return first;
}

static struct gql_type *parse_type(struct parser *p)
{
	struct gql_type *t = NEW(p, struct gql_type), *nn;

	t->loc = p->tok.loc;
	if (peek(p, GQL_TOK_BRACKET_L)) {
		enter(p, t->loc);
		advance(p);
		t->kind = GQL_TYPE_LIST;
		t->of = parse_type(p);
		expect(p, GQL_TOK_BRACKET_R);
		leave(p);
	} else {
		t->kind = GQL_TYPE_NAMED;
		t->name = parse_name(p);
	}
	if (!skip(p, GQL_TOK_BANG))
		return t;
	nn = NEW(p, struct gql_type);
	nn->kind = GQL_TYPE_NON_NULL;
	nn->loc = t->loc;
	nn->of = t;
	return nn;
}

/* ---- selections ---- */

static struct gql_selection *parse_selection_set(struct parser *p);

static struct gql_selection *parse_selection(struct parser *p)
{
	struct gql_selection *s = NEW(p, struct gql_selection);
	const char *name;

	s->loc = p->tok.loc;
	if (skip(p, GQL_TOK_SPREAD)) {
		if (peek(p, GQL_TOK_NAME) && !peek_keyword(p, "on")) {
			s->kind = GQL_SELECTION_FRAGMENT_SPREAD;
			s->name = parse_name(p);
			s->directives = parse_directives(p, false);
			return s;
		}
		s->kind = GQL_SELECTION_INLINE_FRAGMENT;
		if (skip(p, GQL_TOK_NAME)) /* "on" */
			s->type_condition = parse_name(p);
		s->directives = parse_directives(p, false);
		s->selections = parse_selection_set(p);
		return s;
	}
	s->kind = GQL_SELECTION_FIELD;
	name = parse_name(p);
	if (skip(p, GQL_TOK_COLON)) {
		s->alias = name;
		name = parse_name(p);
	}
	s->name = name;
	s->arguments = parse_arguments(p, false);
	s->directives = parse_directives(p, false);
	if (peek(p, GQL_TOK_BRACE_L))
		s->selections = parse_selection_set(p);
	return s;
}

/* SelectionSet: { Selection+ } */
static struct gql_selection *parse_selection_set(struct parser *p)
{
	struct gql_selection *first = NULL, **tail = &first;

	if (peek(p, GQL_TOK_BRACE_L))
		enter(p, p->tok.loc);
	expect(p, GQL_TOK_BRACE_L);
	do {
		*tail = parse_selection(p);
		tail = &(*tail)->next;
	} while (!skip(p, GQL_TOK_BRACE_R));
	leave(p);
	return first;
}

/* ---- definitions ---- */

static struct gql_variable_definition *parse_variable_definitions(struct parser *p)
{
	struct gql_variable_definition *first = NULL, **tail = &first, *v;

	if (!skip(p, GQL_TOK_PAREN_L))
		return NULL;
	do {
		v = NEW(p, struct gql_variable_definition);
		v->loc = p->tok.loc;
		expect(p, GQL_TOK_DOLLAR);
		v->name = parse_name(p);
		expect(p, GQL_TOK_COLON);
		v->type = parse_type(p);
		if (skip(p, GQL_TOK_EQUALS))
			v->default_value = parse_value(p, true);
		v->directives = parse_directives(p, true);
		*tail = v;
		tail = &v->next;
	} while (!skip(p, GQL_TOK_PAREN_R));
	return first;
}

static bool is_type_system_keyword(const struct parser *p)
{
	static const char *const kws[] = {"schema", "scalar", "type",	   "interface", "union",
					  "enum",   "input",  "directive", "extend"};
	size_t i;

	for (i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
		if (peek_keyword(p, kws[i]))
			return true;
	return false;
}

static struct gql_definition *parse_definition(struct parser *p)
{
	struct gql_definition *d = NEW(p, struct gql_definition);

	d->loc = p->tok.loc;
	if (peek(p, GQL_TOK_BRACE_L)) {
		d->kind = GQL_DEFINITION_OPERATION;
		d->operation = GQL_OPERATION_QUERY;
		d->shorthand = true;
		d->selections = parse_selection_set(p);
		return d;
	}
	if (peek_keyword(p, "query") || peek_keyword(p, "mutation") ||
	    peek_keyword(p, "subscription")) {
		d->kind = GQL_DEFINITION_OPERATION;
		d->operation = peek_keyword(p, "query")	     ? GQL_OPERATION_QUERY
			       : peek_keyword(p, "mutation") ? GQL_OPERATION_MUTATION
							     : GQL_OPERATION_SUBSCRIPTION;
		advance(p);
		if (peek(p, GQL_TOK_NAME))
			d->name = parse_name(p);
		d->variables = parse_variable_definitions(p);
		d->directives = parse_directives(p, false);
		d->selections = parse_selection_set(p);
		return d;
	}
	if (peek_keyword(p, "fragment")) {
		d->kind = GQL_DEFINITION_FRAGMENT;
		advance(p);
		if (peek_keyword(p, "on"))
			unexpected(p);
		d->name = parse_name(p);
		expect_keyword(p, "on");
		d->type_condition = parse_name(p);
		d->directives = parse_directives(p, false);
		d->selections = parse_selection_set(p);
		return d;
	}
	/* A description (a string) starts only type-system definitions. */
	if (is_type_system_keyword(p) || peek(p, GQL_TOK_STRING) || peek(p, GQL_TOK_BLOCK_STRING))
		fail(p, p->tok.loc, DTF_EPARSE,
		     "Type system definitions (schema, type, ...) are not allowed: only executable "
		     "documents (operations and fragments) are accepted.");
	unexpected(p);
}

/* ---- public ---- */

const char *gql_operation_name(enum gql_operation_type op)
{
	switch (op) {
	case GQL_OPERATION_QUERY:
		return "query";
	case GQL_OPERATION_MUTATION:
		return "mutation";
	case GQL_OPERATION_SUBSCRIPTION:
		return "subscription";
	}
	return "?";
}

void gql_document_free(struct gql_document *doc)
{
	if (doc)
		gql_arena_free(doc->arena); /* the document itself is in its arena */
}

/* Parses the document into doc; returns 0 or the failure's code. The setjmp lives here, apart
 * from gql_parse(), so that no local of the caller is live across the longjmp. */
static int run(struct parser *p, struct gql_document *doc)
{
	struct gql_definition **tail;

	if (setjmp(p->fail))
		return p->code;
	advance(p);
	if (peek(p, GQL_TOK_EOF))
		unexpected(p);
	tail = &doc->definitions;
	do {
		*tail = parse_definition(p);
		tail = &(*tail)->next;
		doc->count++;
	} while (!peek(p, GQL_TOK_EOF));
	return 0;
}

int gql_parse(const char *src, size_t len, struct gql_document **out, struct gql_error *err)
{
	struct gql_error scratch;
	struct gql_arena *arena = NULL;
	struct gql_document *doc;
	struct parser *p;
	int ret;

	if (!err)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	if (!out || (!src && len)) {
		snprintf(err->message, sizeof(err->message), "invalid argument");
		ret = DTF_EINVAL;
		goto out;
	}
	*out = NULL;
	if (len > GQL_MAX_DOCUMENT) {
		snprintf(err->message, sizeof(err->message),
			 "Document is %zu bytes; the limit is %d bytes (64 KiB).", len,
			 GQL_MAX_DOCUMENT);
		ret = DTF_ETOOBIG;
		goto out;
	}
	arena = gql_arena_new();
	p = arena ? gql_arena_alloc(arena, sizeof(*p)) : NULL;
	doc = p ? gql_arena_alloc(arena, sizeof(*doc)) : NULL;
	if (!doc) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		ret = DTF_ENOMEM;
		goto out;
	}
	p->arena = arena;
	p->err = err;
	doc->arena = arena;
	gql_lexer_init(&p->lx, src ? src : "", len, arena, err);
	ret = run(p, doc);
	if (ret)
		goto out;
	*out = doc;
	return 0;
out:
	gql_arena_free(arena);
	return ret;
}
