/* schema.c: the schema built from the application's tables (exec.h), the built-in scalars and
 * directives, input coercion of JSON values, printing of types and values, and introspection
 * (__schema, __type and the __Type family), itself described by tables like the application's. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "graphql/internal.h"
#include "graphql/lexer.h"

/* ---- errors ---- */

static json_t *error_v(const struct gql_loc *loc, const char *fmt, va_list ap)
{
	char msg[1024];
	json_t *e;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	e = json_pack("{s:s}", "message", msg);
	if (e && loc && loc->line)
		json_object_set_new(e, "locations",
				    json_pack("[{s:i,s:i}]", "line", (json_int_t)loc->line,
					      "column", (json_int_t)loc->column));
	return e;
}

json_t *gql_error_at(struct gql_loc loc, const char *fmt, ...)
{
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	e = error_v(&loc, fmt, ap);
	va_end(ap);
	return e;
}

json_t *gql_error_noloc(const char *fmt, ...)
{
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	e = error_v(NULL, fmt, ap);
	va_end(ap);
	return e;
}

/* ---- look-ups ---- */

struct gtype *schema_type(const struct gql_schema *s, const char *name)
{
	size_t i;

	for (i = 0; name && i < s->ntypes; i++)
		if (strcmp(s->types[i]->name, name) == 0)
			return s->types[i];
	return NULL;
}

struct gfield *type_field(const struct gtype *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nfields; i++)
		if (strcmp(t->fields[i].name, name) == 0)
			return &t->fields[i];
	return NULL;
}

struct gfield *schema_field(const struct gql_schema *s, const struct gtype *t, const char *name)
{
	if (t->kind != GT_OBJECT)
		return NULL;
	if (strcmp(name, "__typename") == 0)
		return (struct gfield *)&s->f_typename;
	if (t == s->query && strcmp(name, "__schema") == 0)
		return (struct gfield *)&s->f_schema;
	if (t == s->query && strcmp(name, "__type") == 0)
		return (struct gfield *)&s->f_type;
	return type_field(t, name);
}

struct garg *field_arg(const struct gfield *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->nargs; i++)
		if (strcmp(f->args[i].name, name) == 0)
			return &f->args[i];
	return NULL;
}

struct garg *input_field(const struct gtype *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ninputs; i++)
		if (strcmp(t->inputs[i].name, name) == 0)
			return &t->inputs[i];
	return NULL;
}

bool enum_has(const struct gtype *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nvalues; i++)
		if (strcmp(t->values[i].name, name) == 0)
			return true;
	return false;
}

/* ---- printing ---- */

static void tref_buf(const struct tref *r, struct dtf_buf *b)
{
	if (r->kind == TR_NAMED) {
		dtf_buf_adds(b, r->type->name);
	} else if (r->kind == TR_LIST) {
		dtf_buf_adds(b, "[");
		tref_buf(r->of, b);
		dtf_buf_adds(b, "]");
	} else {
		tref_buf(r->of, b);
		dtf_buf_adds(b, "!");
	}
}

void tref_print(const struct tref *r, char *buf, size_t len)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 64);
	tref_buf(r, &b);
	snprintf(buf, len, "%s", dtf_buf_str(&b));
	dtf_buf_release(&b);
}

static void value_buf(const struct gql_value *v, struct dtf_buf *b, int depth)
{
	const struct gql_value *i;
	const struct gql_object_field *f;

	if (b->len > 400 || depth > GQL_MAX_DEPTH)
		return;
	switch (v->kind) {
	case GQL_VALUE_VARIABLE:
		dtf_buf_printf(b, "$%s", v->str);
		break;
	case GQL_VALUE_INT:
	case GQL_VALUE_FLOAT:
	case GQL_VALUE_ENUM:
		dtf_buf_adds(b, v->str);
		break;
	case GQL_VALUE_STRING:
		dtf_json_write_string(b, v->str);
		break;
	case GQL_VALUE_BOOLEAN:
		dtf_buf_adds(b, v->boolean ? "true" : "false");
		break;
	case GQL_VALUE_NULL:
		dtf_buf_adds(b, "null");
		break;
	case GQL_VALUE_LIST:
		dtf_buf_adds(b, "[");
		for (i = v->items; i; i = i->next) {
			value_buf(i, b, depth + 1);
			if (i->next)
				dtf_buf_adds(b, ", ");
		}
		dtf_buf_adds(b, "]");
		break;
	case GQL_VALUE_OBJECT:
		dtf_buf_adds(b, "{");
		for (f = v->fields; f; f = f->next) {
			dtf_buf_printf(b, "%s: ", f->name);
			value_buf(f->value, b, depth + 1);
			if (f->next)
				dtf_buf_adds(b, ", ");
		}
		dtf_buf_adds(b, "}");
		break;
	}
}

void value_print(const struct gql_value *v, char *buf, size_t len)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 64);
	value_buf(v, &b, 0);
	snprintf(buf, len, "%s", b.len ? dtf_buf_str(&b) : "");
	dtf_buf_release(&b);
}

static void literal_buf(const json_t *v, const struct tref *r, struct dtf_buf *b)
{
	const struct gtype *t;
	const char *k;
	json_t *x;
	size_t i;

	if (r && r->kind == TR_NON_NULL)
		r = r->of;
	if (json_is_null(v)) {
		dtf_buf_adds(b, "null");
		return;
	}
	if (json_is_array(v)) {
		const struct tref *item = r && r->kind == TR_LIST ? r->of : NULL;
		dtf_buf_adds(b, "[");
		json_array_foreach(v, i, x) {
			if (i)
				dtf_buf_adds(b, ", ");
			literal_buf(x, item, b);
		}
		dtf_buf_adds(b, "]");
		return;
	}
	if (r && r->kind == TR_LIST) {
		literal_buf(v, r->of, b);
		return;
	}
	t = r ? r->type : NULL;
	if (json_is_object(v)) {
		bool first = true;
		dtf_buf_adds(b, "{");
		json_object_foreach((json_t *)v, k, x) {
			const struct garg *a = t && t->kind == GT_INPUT ? input_field(t, k) : NULL;
			dtf_buf_printf(b, "%s%s: ", first ? "" : ", ", k);
			literal_buf(x, a ? a->type : NULL, b);
			first = false;
		}
		dtf_buf_adds(b, "}");
		return;
	}
	if (t && t->kind == GT_ENUM && json_is_string(v)) {
		dtf_buf_adds(b, json_string_value(v));
		return;
	}
	if (json_is_string(v)) {
		dtf_json_write_string(b, json_string_value(v));
		return;
	}
	dtf_json_dump(v, b);
}

char *json_literal(const json_t *v, const struct tref *r)
{
	struct dtf_buf b;

	dtf_buf_init(&b, 32);
	literal_buf(v, r, &b);
	return dtf_buf_detach(&b, NULL);
}

/* ---- coercion of JSON input (variables, defaults) ---- */

static json_t *coerce_at(const json_t *v, const struct tref *r, struct dtf_buf *path, char *err,
			 size_t errlen, int depth)
{
	const struct gtype *t;
	char tn[128];
	size_t i, mark = path->len;
	json_t *out, *x;
	const char *k;

	if (depth > 64) {
		snprintf(err, errlen, "the value is nested too deeply");
		return NULL;
	}
	if (r->kind == TR_NON_NULL) {
		if (!v || json_is_null(v)) {
			tref_print(r, tn, sizeof(tn));
			snprintf(err, errlen,
				 "Expected non-nullable type \"%s\" not to be null%s%s.", tn,
				 path->len ? " at " : "", path->len ? dtf_buf_str(path) : "");
			return NULL;
		}
		return coerce_at(v, r->of, path, err, errlen, depth + 1);
	}
	if (!v || json_is_null(v))
		return json_null();
	if (r->kind == TR_LIST) {
		if (!json_is_array(v)) {
			/* One value where a list belongs is a list of one. */
			x = coerce_at(v, r->of, path, err, errlen, depth + 1);
			return x ? json_pack("[o]", x) : NULL;
		}
		out = json_array();
		json_array_foreach(v, i, x) {
			json_t *c;
			dtf_buf_printf(path, "[%zu]", i);
			c = coerce_at(x, r->of, path, err, errlen, depth + 1);
			dtf_buf_truncate(path, mark);
			if (!c) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, c);
		}
		return out;
	}
	t = r->type;
	switch (t->kind) {
	case GT_SCALAR:
		switch (t->scalar) {
		case GS_INT:
			if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
			    json_integer_value(v) <= INT32_MAX)
				return json_integer(json_integer_value(v));
			if (json_is_real(v) &&
			    json_real_value(v) == (double)(int32_t)json_real_value(v))
				return json_integer((json_int_t)json_real_value(v));
			break;
		case GS_FLOAT:
			if (json_is_number(v))
				return json_real(json_number_value(v));
			break;
		case GS_STRING:
			if (json_is_string(v))
				return json_copy((json_t *)v);
			break;
		case GS_BOOLEAN:
			if (json_is_boolean(v))
				return json_copy((json_t *)v);
			break;
		case GS_ID:
			if (json_is_string(v))
				return json_copy((json_t *)v);
			if (json_is_integer(v)) {
				snprintf(tn, sizeof(tn), "%lld", (long long)json_integer_value(v));
				return json_string(tn);
			}
			break;
		default:
			return json_deep_copy(v);
		}
		break;
	case GT_ENUM:
		if (json_is_string(v) && enum_has(t, json_string_value(v)))
			return json_copy((json_t *)v);
		break;
	case GT_INPUT:
		if (!json_is_object(v))
			break;
		json_object_foreach((json_t *)v, k, x) {
			if (!input_field(t, k)) {
				snprintf(err, errlen,
					 "Field \"%s\" is not defined by type \"%s\"%s%s.", k,
					 t->name, path->len ? " at " : "",
					 path->len ? dtf_buf_str(path) : "");
				return NULL;
			}
		}
		out = json_object();
		for (i = 0; i < t->ninputs; i++) {
			const struct garg *a = &t->inputs[i];
			json_t *c;
			x = json_object_get(v, a->name);
			if (!x) {
				if (a->dflt) {
					json_object_set(out, a->name, a->dflt);
				} else if (a->type->kind == TR_NON_NULL) {
					tref_print(a->type, tn, sizeof(tn));
					snprintf(err, errlen,
						 "Field \"%s\" of required type \"%s\" was not "
						 "provided%s%s.",
						 a->name, tn, path->len ? " at " : "",
						 path->len ? dtf_buf_str(path) : "");
					json_decref(out);
					return NULL;
				}
				continue;
			}
			dtf_buf_printf(path, "%s%s", path->len ? "." : "", a->name);
			c = coerce_at(x, a->type, path, err, errlen, depth + 1);
			dtf_buf_truncate(path, mark);
			if (!c) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, a->name, c);
		}
		return out;
	default:
		break;
	}
	{
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		snprintf(err, errlen, "%s cannot represent the value %.200s%s%s.", t->name,
			 s ? s : "?", path->len ? " at " : "", path->len ? dtf_buf_str(path) : "");
		free(s);
	}
	return NULL;
}

json_t *coerce_json(const json_t *v, const struct tref *r, char *err, size_t errlen)
{
	struct dtf_buf path;
	json_t *out;

	dtf_buf_init(&path, 32);
	out = coerce_at(v, r, &path, err, errlen, 0);
	dtf_buf_release(&path);
	return out;
}

json_t *ast_to_json(const struct gql_value *v, const json_t *vars)
{
	const struct gql_value *i;
	const struct gql_object_field *f;
	json_t *out, *x;

	switch (v->kind) {
	case GQL_VALUE_VARIABLE:
		x = json_object_get(vars, v->str);
		return x ? json_deep_copy(x) : json_null();
	case GQL_VALUE_INT:
		return json_integer(strtoll(v->str, NULL, 10));
	case GQL_VALUE_FLOAT:
		return json_real(strtod(v->str, NULL));
	case GQL_VALUE_STRING:
		return json_stringn(v->str, v->len);
	case GQL_VALUE_BOOLEAN:
		return json_boolean(v->boolean);
	case GQL_VALUE_NULL:
		return json_null();
	case GQL_VALUE_ENUM:
		return json_string(v->str);
	case GQL_VALUE_LIST:
		out = json_array();
		for (i = v->items; i; i = i->next)
			json_array_append_new(out, ast_to_json(i, vars));
		return out;
	case GQL_VALUE_OBJECT:
		out = json_object();
		for (f = v->fields; f; f = f->next)
			json_object_set_new(out, f->name, ast_to_json(f->value, vars));
		return out;
	}
	return json_null();
}

struct tref *ast_tref(const struct gql_schema *s, struct gql_arena *a, const struct gql_type *t)
{
	struct tref *r;
	struct gtype *named;

	if (t->kind == GQL_TYPE_NAMED) {
		named = schema_type(s, t->name);
		return named ? &named->ref : NULL;
	}
	r = gql_arena_alloc(a, sizeof(*r));
	if (!r)
		return NULL;
	r->kind = t->kind == GQL_TYPE_LIST ? TR_LIST : TR_NON_NULL;
	r->of = ast_tref(s, a, t->of);
	return r->of ? r : NULL;
}

/* ---- fragments by name ---- */

static int fragname_cmp(const void *a, const void *b)
{
	const struct fragname *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->index < y->index ? -1 : x->index > y->index;
}

int fragtab_init(struct fragtab *ft, const struct gql_document *doc)
{
	const struct gql_definition *d;

	memset(ft, 0, sizeof(*ft));
	ft->frags = calloc(doc->count + 1, sizeof(*ft->frags));
	ft->sorted = calloc(doc->count + 1, sizeof(*ft->sorted));
	if (!ft->frags || !ft->sorted) {
		fragtab_release(ft);
		return DTF_ENOMEM;
	}
	for (d = doc->definitions; d; d = d->next) {
		if (d->kind != GQL_DEFINITION_FRAGMENT)
			continue;
		ft->sorted[ft->n].name = d->name;
		ft->sorted[ft->n].index = ft->n;
		ft->frags[ft->n++] = d;
	}
	qsort(ft->sorted, ft->n, sizeof(*ft->sorted), fragname_cmp);
	return 0;
}

void fragtab_release(struct fragtab *ft)
{
	free(ft->frags);
	free(ft->sorted);
	memset(ft, 0, sizeof(*ft));
}

long fragtab_find(const struct fragtab *ft, const char *name)
{
	size_t lo = 0, hi = ft->n;

	/* The first entry not less than name: the first position of that name. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ft->sorted[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ft->n && strcmp(ft->sorted[lo].name, name) == 0 ? (long)ft->sorted[lo].index
								    : -1;
}

/* ---- building ---- */

struct builder {
	struct gql_schema *s;
	char *err;
	size_t errlen;
};

/* Parses a type written as in GraphQL at *p. */
static struct tref *parse_tref(struct builder *b, const char **p)
{
	struct tref *r = gql_arena_alloc(b->s->arena, sizeof(*r));
	const char *s = *p;

	if (!r)
		return NULL;
	if (*s == '[') {
		s++;
		r->kind = TR_LIST;
		r->of = parse_tref(b, &s);
		if (!r->of || *s != ']')
			return NULL;
		s++;
	} else {
		size_t n =
		    strspn(s, "_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
		char name[128];
		struct gtype *t;
		snprintf(name, sizeof(name), "%.*s", (int)n, s);
		t = schema_type(b->s, name);
		if (!t)
			return NULL;
		s += n;
		r = &t->ref;
	}
	if (*s == '!') {
		struct tref *nn = gql_arena_alloc(b->s->arena, sizeof(*nn));
		if (!nn)
			return NULL;
		nn->kind = TR_NON_NULL;
		nn->of = r;
		r = nn;
		s++;
	}
	*p = s;
	return r;
}

static struct tref *type_of(struct builder *b, const char *text, const char *where)
{
	const char *p = text;
	struct tref *r = text ? parse_tref(b, &p) : NULL;

	if (!r || *p) {
		snprintf(b->err, b->errlen, "%s: unknown or malformed type '%s'", where,
			 text ? text : "(none)");
		return NULL;
	}
	return r;
}

static int build_args(struct builder *b, const struct gql_arg_def *defs, struct garg **out,
		      size_t *n, const char *where)
{
	size_t i, count = 0;

	for (i = 0; defs && defs[i].name; i++)
		count++;
	*n = count;
	*out = count ? gql_arena_alloc(b->s->arena, count * sizeof(**out)) : NULL;
	if (count && !*out)
		return DTF_ENOMEM;
	for (i = 0; i < count; i++) {
		struct garg *a = &(*out)[i];
		a->name = defs[i].name;
		a->description = defs[i].description;
		a->deprecated = defs[i].deprecated;
		a->default_json = defs[i].default_json;
		a->type = type_of(b, defs[i].type, where);
		if (!a->type)
			return DTF_EINVAL;
		if (tref_named(a->type)->kind == GT_OBJECT) {
			snprintf(b->err, b->errlen, "%s.%s: an object type is not an input type",
				 where, a->name);
			return DTF_EINVAL;
		}
	}
	return 0;
}

/* Defaults are coerced once every input type is known (an input field's default may be an
 * input object). */
static int build_defaults(struct builder *b, struct garg *args, size_t n, const char *where)
{
	size_t i;
	char e[300];

	for (i = 0; i < n; i++) {
		json_t *v;
		if (!args[i].default_json)
			continue;
		json_error_t je;
		v = json_loads(args[i].default_json, JSON_DECODE_ANY, &je);
		if (!v)
			snprintf(e, sizeof(e), "%s", je.text);
		if (v) {
			args[i].dflt = coerce_json(v, args[i].type, e, sizeof(e));
			json_decref(v);
		}
		if (!v || !args[i].dflt) {
			snprintf(b->err, b->errlen, "%s.%s: bad default: %s", where, args[i].name,
				 e);
			return DTF_EINVAL;
		}
	}
	return 0;
}

static const struct gql_type_def *meta_types(void);
static int build_directives(struct builder *b);
static void free_directives(struct gql_schema *s);

static int add_type(struct builder *b, const struct gql_type_def *d, bool meta)
{
	struct gtype *t;

	if (schema_type(b->s, d->name)) {
		snprintf(b->err, b->errlen, "type '%s' is defined twice", d->name);
		return DTF_EINVAL;
	}
	t = gql_arena_alloc(b->s->arena, sizeof(*t));
	if (!t)
		return DTF_ENOMEM;
	t->name = d->name;
	t->description = d->description;
	t->specified_by = d->specified_by;
	t->meta = meta;
	t->ref.kind = TR_NAMED;
	t->ref.type = t;
	switch (d->kind) {
	case GQL_DEF_OBJECT:
		t->kind = GT_OBJECT;
		break;
	case GQL_DEF_INPUT:
		t->kind = GT_INPUT;
		break;
	case GQL_DEF_ENUM:
		t->kind = GT_ENUM;
		t->values = d->values;
		while (d->values && d->values[t->nvalues].name)
			t->nvalues++;
		break;
	case GQL_DEF_SCALAR:
		t->kind = GT_SCALAR;
		t->scalar = GS_CUSTOM;
		break;
	}
	b->s->types[b->s->ntypes++] = t;
	return 0;
}

static const struct {
	const char *name;
	enum gscalar scalar;
	const char *description;
} builtin_scalars[] = {
    {"Int", GS_INT,
     "The `Int` scalar type represents non-fractional signed whole numeric values. Int can "
     "represent values between -(2^31) and 2^31 - 1."},
    {"Float", GS_FLOAT,
     "The `Float` scalar type represents signed double-precision fractional values as specified "
     "by [IEEE 754](https://en.wikipedia.org/wiki/IEEE_floating_point)."},
    {"String", GS_STRING,
     "The `String` scalar type represents textual data, represented as UTF-8 character "
     "sequences."},
    {"Boolean", GS_BOOLEAN, "The `Boolean` scalar type represents `true` or `false`."},
    {"ID", GS_ID,
     "The `ID` scalar type represents a unique identifier, often used to refetch an object or "
     "as key for a cache. It appears in a JSON response as a String; as an input, either a "
     "String or an Int is accepted."},
};

static int build_fields(struct builder *b, struct gtype *t, const struct gql_type_def *d)
{
	size_t i, n = 0;
	char where[200];
	int rc;

	if (t->kind == GT_INPUT)
		return build_args(b, d->input_fields, &t->inputs, &t->ninputs, t->name);
	if (t->kind != GT_OBJECT)
		return 0;
	while (d->fields && d->fields[n].name)
		n++;
	if (n == 0) {
		snprintf(b->err, b->errlen, "object type '%s' has no fields", t->name);
		return DTF_EINVAL;
	}
	t->fields = gql_arena_alloc(b->s->arena, n * sizeof(*t->fields));
	if (!t->fields)
		return DTF_ENOMEM;
	t->nfields = n;
	for (i = 0; i < n; i++) {
		struct gfield *f = &t->fields[i];
		struct garg *first;
		f->name = d->fields[i].name;
		f->description = d->fields[i].description;
		f->deprecated = d->fields[i].deprecated;
		f->resolve = d->fields[i].resolve;
		f->owner = t;
		snprintf(where, sizeof(where), "%s.%s", t->name, f->name);
		f->type = type_of(b, d->fields[i].type, where);
		if (!f->type)
			return DTF_EINVAL;
		if (tref_named(f->type)->kind == GT_INPUT) {
			snprintf(b->err, b->errlen, "%s: an input type is not an output type",
				 where);
			return DTF_EINVAL;
		}
		rc = build_args(b, d->fields[i].args, &f->args, &f->nargs, where);
		if (rc)
			return rc;
		first = field_arg(f, "first");
		f->paged = first && tref_named(first->type)->scalar == GS_INT;
	}
	return 0;
}

static int all_defaults(struct builder *b)
{
	size_t i, j;
	char where[200];
	int rc;

	for (i = 0; i < b->s->ntypes; i++) {
		struct gtype *t = b->s->types[i];
		rc = build_defaults(b, t->inputs, t->ninputs, t->name);
		for (j = 0; !rc && j < t->nfields; j++) {
			snprintf(where, sizeof(where), "%s.%s", t->name, t->fields[j].name);
			rc = build_defaults(b, t->fields[j].args, t->fields[j].nargs, where);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static const struct gql_arg_def type_args[] = {
    {"name", "String!", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int gql_schema_new(const struct gql_schema_def *def, struct gql_schema **out, char *err,
		   size_t errlen)
{
	struct gql_schema *s = calloc(1, sizeof(*s));
	const struct gql_type_def *meta = meta_types();
	struct builder b = {s, err, errlen};
	size_t n = 0, i;
	int rc = DTF_ENOMEM;

	*out = NULL;
	if (!s)
		goto fail;
	s->arena = gql_arena_new();
	while (def->types[n].name)
		n++;
	for (i = 0; meta[i].name; i++)
		n++;
	n += sizeof(builtin_scalars) / sizeof(builtin_scalars[0]);
	s->types = calloc(n, sizeof(*s->types));
	if (!s->arena || !s->types)
		goto fail;
	s->description = def->description;
	for (i = 0; i < sizeof(builtin_scalars) / sizeof(builtin_scalars[0]); i++) {
		struct gtype *t = gql_arena_alloc(s->arena, sizeof(*t));
		if (!t)
			goto fail;
		t->kind = GT_SCALAR;
		t->scalar = builtin_scalars[i].scalar;
		t->name = builtin_scalars[i].name;
		t->description = builtin_scalars[i].description;
		t->ref.kind = TR_NAMED;
		t->ref.type = t;
		s->types[s->ntypes++] = t;
	}
	for (i = 0; def->types[i].name; i++)
		if ((rc = add_type(&b, &def->types[i], false)) != 0)
			goto fail;
	for (i = 0; meta[i].name; i++)
		if ((rc = add_type(&b, &meta[i], true)) != 0)
			goto fail;
	for (i = 0; def->types[i].name; i++)
		if ((rc = build_fields(&b, schema_type(s, def->types[i].name), &def->types[i])) !=
		    0)
			goto fail;
	for (i = 0; meta[i].name; i++)
		if ((rc = build_fields(&b, schema_type(s, meta[i].name), &meta[i])) != 0)
			goto fail;
	if ((rc = all_defaults(&b)) != 0)
		goto fail;
	rc = DTF_EINVAL;
	s->query = schema_type(s, def->query);
	s->mutation = def->mutation ? schema_type(s, def->mutation) : NULL;
	if (!s->query || s->query->kind != GT_OBJECT ||
	    (def->mutation && (!s->mutation || s->mutation->kind != GT_OBJECT))) {
		snprintf(err, errlen, "the root types must be object types of the schema");
		goto fail;
	}
	s->f_typename.name = "__typename";
	s->f_typename.description = "The name of the current Object type at runtime.";
	s->f_typename.type = type_of(&b, "String!", "__typename");
	s->f_schema.name = "__schema";
	s->f_schema.description = "Access the current type schema of this server.";
	s->f_schema.type = type_of(&b, "__Schema!", "__schema");
	s->f_schema.resolve = intro_schema;
	s->f_type.name = "__type";
	s->f_type.description = "Request the type information of a single type.";
	s->f_type.type = type_of(&b, "__Type", "__type");
	s->f_type.resolve = intro_type;
	if (!s->f_typename.type || !s->f_schema.type || !s->f_type.type ||
	    build_args(&b, type_args, &s->f_type.args, &s->f_type.nargs, "__type") ||
	    build_directives(&b))
		goto fail;
	*out = s;
	return 0;
fail:
	if (rc == DTF_ENOMEM)
		snprintf(err, errlen, "out of memory");
	gql_schema_free(s);
	return rc;
}

void gql_schema_free(struct gql_schema *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->ntypes; i++) {
		struct gtype *t = s->types[i];
		for (j = 0; j < t->ninputs; j++)
			json_decref(t->inputs[j].dflt);
		for (j = 0; t->fields && j < t->nfields; j++) {
			size_t k;
			for (k = 0; k < t->fields[j].nargs; k++)
				json_decref(t->fields[j].args[k].dflt);
		}
	}
	free_directives(s);
	free(s->types);
	gql_arena_free(s->arena);
	free(s);
}

/* ---- introspection ----
 *
 * A __Type is an object {"$t": <the address of a struct tref>} whose fields are resolved from
 * the reference; __Field, __InputValue and __EnumValue are plain objects built when asked for
 * (a field keeps {"$f": its address} for its arguments). The "$" keys are never shown: no
 * field can be named so. */

static json_t *ptr_json(const void *p)
{
	return json_integer((json_int_t)(intptr_t)p);
}

static const void *json_ptr(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v ? (const void *)(intptr_t)json_integer_value(v) : NULL;
}

static json_t *type_json(const struct tref *r)
{
	return r ? json_pack("{s:o}", "$t", ptr_json(r)) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static bool include_deprecated(const struct gql_resolve_info *ri)
{
	return json_is_true(json_object_get(ri->args, "includeDeprecated"));
}

static json_t *input_values_json(const struct garg *args, size_t n, bool with_deprecated)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		const struct garg *a = &args[i];
		json_t *dv = json_null();
		if (a->deprecated && !with_deprecated)
			continue;
		if (a->dflt) {
			char *s = json_literal(a->dflt, a->type);
			dv = s ? json_string(s) : json_null();
			free(s);
		}
		json_array_append_new(
		    list, json_pack("{s:s,s:o,s:o,s:o,s:b,s:o}", "name", a->name, "description",
				    str_or_null(a->description), "type", type_json(a->type),
				    "defaultValue", dv, "isDeprecated", a->deprecated != NULL,
				    "deprecationReason", str_or_null(a->deprecated)));
	}
	return list;
}

struct gdirective {
	const char *name;
	const char *description;
	const char *const *locations;
	const struct gql_arg_def *args;
};

static const char *const exec_locations[] = {"FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT", NULL};
static const char *const deprecated_locations[] = {"FIELD_DEFINITION", "ARGUMENT_DEFINITION",
						   "INPUT_FIELD_DEFINITION", "ENUM_VALUE", NULL};
static const char *const scalar_locations[] = {"SCALAR", NULL};

static const struct gql_arg_def include_args[] = {
    {"if", "Boolean!", NULL, "Included when true.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def skip_args[] = {
    {"if", "Boolean!", NULL, "Skipped when true.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def deprecated_args[] = {
    {"reason", "String", "\"No longer supported\"",
     "Explains why this element was deprecated, usually also including a suggestion for how to "
     "access supported similar data. Formatted using the Markdown syntax, as specified by "
     "[CommonMark](https://commonmark.org/).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static const struct gql_arg_def specified_by_args[] = {
    {"url", "String!", NULL, "The URL that specifies the behavior of this scalar.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const struct gdirective directives[GQL_NDIRECTIVES] = {
    {"include",
     "Directs the executor to include this field or fragment only when the `if` argument is "
     "true.",
     exec_locations, include_args},
    {"skip", "Directs the executor to skip this field or fragment when the `if` argument is true.",
     exec_locations, skip_args},
    {"deprecated", "Marks an element of a GraphQL schema as no longer supported.",
     deprecated_locations, deprecated_args},
    {"specifiedBy", "Exposes a URL that specifies the behavior of this scalar.", scalar_locations,
     specified_by_args},
};

static int build_directives(struct builder *b)
{
	size_t i, n;
	int rc;

	for (i = 0; i < GQL_NDIRECTIVES; i++) {
		rc = build_args(b, directives[i].args, &b->s->dir_args[i], &n, directives[i].name);
		if (!rc)
			rc = build_defaults(b, b->s->dir_args[i], n, directives[i].name);
		if (rc)
			return rc;
	}
	return 0;
}

static size_t count_args(const struct gql_arg_def *a)
{
	size_t n = 0;

	while (a && a[n].name)
		n++;
	return n;
}

static void free_directives(struct gql_schema *s)
{
	size_t i, j;

	for (i = 0; i < GQL_NDIRECTIVES; i++)
		for (j = 0; s->dir_args[i] && j < count_args(directives[i].args); j++)
			json_decref(s->dir_args[i][j].dflt);
}

int intro_schema(struct gql_resolve_info *ri, json_t **out)
{
	(void)ri;
	*out = json_object();
	return 0;
}

int intro_type(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t =
	    schema_type(ri->schema, json_string_value(json_object_get(ri->args, "name")));

	*out = t ? type_json(&t->ref) : NULL;
	return 0;
}

static int s_description(struct gql_resolve_info *ri, json_t **out)
{
	*out = str_or_null(ri->schema->description);
	return 0;
}

static int s_types(struct gql_resolve_info *ri, json_t **out)
{
	size_t i;

	*out = json_array();
	for (i = 0; i < ri->schema->ntypes; i++)
		json_array_append_new(*out, type_json(&ri->schema->types[i]->ref));
	return 0;
}

static int s_query(struct gql_resolve_info *ri, json_t **out)
{
	*out = type_json(&ri->schema->query->ref);
	return 0;
}

static int s_mutation(struct gql_resolve_info *ri, json_t **out)
{
	*out = ri->schema->mutation ? type_json(&ri->schema->mutation->ref) : NULL;
	return 0;
}

static int s_null(struct gql_resolve_info *ri, json_t **out)
{
	(void)ri;
	*out = NULL;
	return 0;
}

static int s_directives(struct gql_resolve_info *ri, json_t **out)
{
	size_t i, j;

	(void)ri;
	*out = json_array();
	for (i = 0; i < GQL_NDIRECTIVES; i++) {
		json_t *locs = json_array();
		for (j = 0; directives[i].locations[j]; j++)
			json_array_append_new(locs, json_string(directives[i].locations[j]));
		json_array_append_new(*out, json_pack("{s:s,s:s,s:b,s:o,s:o}", "name",
						      directives[i].name, "description",
						      directives[i].description, "isRepeatable", 0,
						      "locations", locs, "$d", json_integer(i)));
	}
	return 0;
}

/* __Directive.args and __Field.args. */
static int x_args(struct gql_resolve_info *ri, json_t **out)
{
	json_t *d = json_object_get(ri->parent, "$d");
	const struct gfield *f = json_ptr(ri->parent, "$f");
	bool dep = include_deprecated(ri);

	if (d) {
		size_t i = (size_t)json_integer_value(d) % GQL_NDIRECTIVES;
		*out =
		    input_values_json(ri->schema->dir_args[i], count_args(directives[i].args), dep);
	} else {
		*out = f ? input_values_json(f->args, f->nargs, dep) : json_array();
	}
	return 0;
}

static const struct tref *parent_tref(const struct gql_resolve_info *ri)
{
	return json_ptr(ri->parent, "$t");
}

static const struct gtype *parent_named(const struct gql_resolve_info *ri)
{
	const struct tref *r = parent_tref(ri);

	return r && r->kind == TR_NAMED ? r->type : NULL;
}

static int t_kind(struct gql_resolve_info *ri, json_t **out)
{
	const struct tref *r = parent_tref(ri);
	static const char *const kinds[] = {"SCALAR", "OBJECT", "INPUT_OBJECT", "ENUM"};

	if (!r) {
		snprintf(ri->error, sizeof(ri->error), "no type");
		return -1;
	}
	*out = json_string(r->kind == TR_LIST	    ? "LIST"
			   : r->kind == TR_NON_NULL ? "NON_NULL"
						    : kinds[r->type->kind]);
	return 0;
}

static int t_name(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t = parent_named(ri);

	*out = t ? json_string(t->name) : NULL;
	return 0;
}

static int t_description(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t = parent_named(ri);

	*out = t ? str_or_null(t->description) : NULL;
	return 0;
}

static int t_specified_by(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t = parent_named(ri);

	*out = t && t->kind == GT_SCALAR ? str_or_null(t->specified_by) : NULL;
	return 0;
}

static int t_fields(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t = parent_named(ri);
	bool dep = include_deprecated(ri);
	size_t i;

	*out = NULL;
	if (!t || t->kind != GT_OBJECT)
		return 0;
	*out = json_array();
	for (i = 0; i < t->nfields; i++) {
		const struct gfield *f = &t->fields[i];
		if (f->deprecated && !dep)
			continue;
		json_array_append_new(
		    *out, json_pack("{s:s,s:o,s:o,s:b,s:o,s:o}", "name", f->name, "description",
				    str_or_null(f->description), "type", type_json(f->type),
				    "isDeprecated", f->deprecated != NULL, "deprecationReason",
				    str_or_null(f->deprecated), "$f", ptr_json(f)));
	}
	return 0;
}

static int t_interfaces(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t = parent_named(ri);

	*out = t && t->kind == GT_OBJECT ? json_array() : NULL;
	return 0;
}

static int t_enum_values(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t = parent_named(ri);
	bool dep = include_deprecated(ri);
	size_t i;

	*out = NULL;
	if (!t || t->kind != GT_ENUM)
		return 0;
	*out = json_array();
	for (i = 0; i < t->nvalues; i++) {
		const struct gql_enum_value_def *v = &t->values[i];
		if (v->deprecated && !dep)
			continue;
		json_array_append_new(*out,
				      json_pack("{s:s,s:o,s:b,s:o}", "name", v->name, "description",
						str_or_null(v->description), "isDeprecated",
						v->deprecated != NULL, "deprecationReason",
						str_or_null(v->deprecated)));
	}
	return 0;
}

static int t_input_fields(struct gql_resolve_info *ri, json_t **out)
{
	const struct gtype *t = parent_named(ri);

	*out = t && t->kind == GT_INPUT
		   ? input_values_json(t->inputs, t->ninputs, include_deprecated(ri))
		   : NULL;
	return 0;
}

static int t_of_type(struct gql_resolve_info *ri, json_t **out)
{
	const struct tref *r = parent_tref(ri);

	*out = r && r->kind != TR_NAMED ? type_json(r->of) : NULL;
	return 0;
}

static const struct gql_arg_def include_deprecated_args[] = {
    {"includeDeprecated", "Boolean", "false", NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_field_def schema_fields[] = {
    {"description", "String", NULL, NULL, s_description, NULL},
    {"types", "[__Type!]!", "A list of all types supported by this server.", NULL, s_types, NULL},
    {"queryType", "__Type!", "The type that query operations will be rooted at.", NULL, s_query,
     NULL},
    {"mutationType", "__Type",
     "If this server supports mutation, the type that mutation operations will be rooted at.", NULL,
     s_mutation, NULL},
    {"subscriptionType", "__Type",
     "If this server support subscription, the type that subscription operations will be rooted "
     "at.",
     NULL, s_null, NULL},
    {"directives", "[__Directive!]!", "A list of all directives supported by this server.", NULL,
     s_directives, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_field_def type_fields[] = {
    {"kind", "__TypeKind!", NULL, NULL, t_kind, NULL},
    {"name", "String", NULL, NULL, t_name, NULL},
    {"description", "String", NULL, NULL, t_description, NULL},
    {"specifiedByURL", "String", NULL, NULL, t_specified_by, NULL},
    {"fields", "[__Field!]", NULL, include_deprecated_args, t_fields, NULL},
    {"interfaces", "[__Type!]", NULL, NULL, t_interfaces, NULL},
    {"possibleTypes", "[__Type!]", NULL, NULL, s_null, NULL},
    {"enumValues", "[__EnumValue!]", NULL, include_deprecated_args, t_enum_values, NULL},
    {"inputFields", "[__InputValue!]", NULL, include_deprecated_args, t_input_fields, NULL},
    {"ofType", "__Type", NULL, NULL, t_of_type, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_field_def field_fields[] = {
    {"name", "String!", NULL, NULL, NULL, NULL},
    {"description", "String", NULL, NULL, NULL, NULL},
    {"args", "[__InputValue!]!", NULL, include_deprecated_args, x_args, NULL},
    {"type", "__Type!", NULL, NULL, NULL, NULL},
    {"isDeprecated", "Boolean!", NULL, NULL, NULL, NULL},
    {"deprecationReason", "String", NULL, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_field_def input_value_fields[] = {
    {"name", "String!", NULL, NULL, NULL, NULL},
    {"description", "String", NULL, NULL, NULL, NULL},
    {"type", "__Type!", NULL, NULL, NULL, NULL},
    {"defaultValue", "String",
     "A GraphQL-formatted string representing the default value for this input value.", NULL, NULL,
     NULL},
    {"isDeprecated", "Boolean!", NULL, NULL, NULL, NULL},
    {"deprecationReason", "String", NULL, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_field_def enum_value_fields[] = {
    {"name", "String!", NULL, NULL, NULL, NULL},
    {"description", "String", NULL, NULL, NULL, NULL},
    {"isDeprecated", "Boolean!", NULL, NULL, NULL, NULL},
    {"deprecationReason", "String", NULL, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_field_def directive_fields[] = {
    {"name", "String!", NULL, NULL, NULL, NULL},
    {"description", "String", NULL, NULL, NULL, NULL},
    {"isRepeatable", "Boolean!", NULL, NULL, NULL, NULL},
    {"locations", "[__DirectiveLocation!]!", NULL, NULL, NULL, NULL},
    {"args", "[__InputValue!]!", NULL, include_deprecated_args, x_args, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_enum_value_def type_kinds[] = {
    {"SCALAR", "Indicates this type is a scalar.", NULL},
    {"OBJECT", "Indicates this type is an object. `fields` and `interfaces` are valid fields.",
     NULL},
    {"INTERFACE",
     "Indicates this type is an interface. `fields`, `interfaces`, and `possibleTypes` are "
     "valid fields.",
     NULL},
    {"UNION", "Indicates this type is a union. `possibleTypes` is a valid field.", NULL},
    {"ENUM", "Indicates this type is an enum. `enumValues` is a valid field.", NULL},
    {"INPUT_OBJECT", "Indicates this type is an input object. `inputFields` is a valid field.",
     NULL},
    {"LIST", "Indicates this type is a list. `ofType` is a valid field.", NULL},
    {"NON_NULL", "Indicates this type is a non-null. `ofType` is a valid field.", NULL},
    {NULL, NULL, NULL},
};

static const struct gql_enum_value_def directive_locations[] = {
    {"QUERY", NULL, NULL},
    {"MUTATION", NULL, NULL},
    {"SUBSCRIPTION", NULL, NULL},
    {"FIELD", NULL, NULL},
    {"FRAGMENT_DEFINITION", NULL, NULL},
    {"FRAGMENT_SPREAD", NULL, NULL},
    {"INLINE_FRAGMENT", NULL, NULL},
    {"VARIABLE_DEFINITION", NULL, NULL},
    {"SCHEMA", NULL, NULL},
    {"SCALAR", NULL, NULL},
    {"OBJECT", NULL, NULL},
    {"FIELD_DEFINITION", NULL, NULL},
    {"ARGUMENT_DEFINITION", NULL, NULL},
    {"INTERFACE", NULL, NULL},
    {"UNION", NULL, NULL},
    {"ENUM", NULL, NULL},
    {"ENUM_VALUE", NULL, NULL},
    {"INPUT_OBJECT", NULL, NULL},
    {"INPUT_FIELD_DEFINITION", NULL, NULL},
    {NULL, NULL, NULL},
};

static const struct gql_type_def meta_defs[] = {
    {GQL_DEF_OBJECT, "__Schema",
     "A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all available "
     "types and directives on the server, as well as the entry points for query, mutation, and "
     "subscription operations.",
     schema_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "__Type",
     "The fundamental unit of any GraphQL Schema is the type. There are many kinds of types in "
     "GraphQL as represented by the `__TypeKind` enum.",
     type_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "__Field",
     "Object and Interface types are described by a list of Fields, each of which has a name, "
     "potentially a list of arguments, and a return type.",
     field_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "__InputValue",
     "Arguments provided to Fields or Directives and the input fields of an InputObject are "
     "represented as Input Values which describe their type and optionally a default value.",
     input_value_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "__EnumValue",
     "One possible value for a given Enum. Enum values are unique values, not a placeholder for "
     "a string or numeric value. However an Enum value is returned in a JSON response as a "
     "string.",
     enum_value_fields, NULL, NULL, NULL},
    {GQL_DEF_OBJECT, "__Directive",
     "A Directive provides a way to describe alternate runtime execution and type validation "
     "behavior in a GraphQL document.",
     directive_fields, NULL, NULL, NULL},
    {GQL_DEF_ENUM, "__TypeKind", "An enum describing what kind of type a given `__Type` is.", NULL,
     NULL, type_kinds, NULL},
    {GQL_DEF_ENUM, "__DirectiveLocation",
     "A Directive can be adjacent to many parts of the GraphQL language, a "
     "__DirectiveLocation describes one such possible adjacencies.",
     NULL, NULL, directive_locations, NULL},
    {GQL_DEF_OBJECT, NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct gql_type_def *meta_types(void)
{
	return meta_defs;
}
