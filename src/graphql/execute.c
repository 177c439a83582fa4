/* execute.c: a request from text to response: parse, choose the operation, validate, coerce the
 * variables, then execute (the spec's section 6): fields collected through fragments and
 * @skip/@include and merged by response key, arguments coerced with their defaults, one resolver
 * call per field (or the parent object's member), values completed against their types (lists,
 * leaves serialized, objects projected), and a null where a non-null type allows none carried up
 * to the nearest nullable field, each error with its locations and path. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "graphql/internal.h"
#include "graphql/lexer.h"

/* Fields of one response key, in document order. */
struct group {
	const char *key;
	const struct gfield *fd; /* looked up on the first execution */
	const struct gql_selection **nodes;
	size_t n, cap;
};

struct groups {
	struct group *g;
	size_t n, cap;
};

struct exec {
	const struct gql_schema *s;
	const struct gql_document *doc;
	const struct gql_request *rq;
	json_t *vars; /* coerced */
	json_t *errors;
	/* The response path of the field being executed: keys and list indexes (key NULL). Kept
	 * as plain values and made JSON only for an error: most fields have none. */
	struct pseg {
		const char *key;
		size_t index;
	} * path;
	size_t npath, cappath;
	json_t *no_args; /* the arguments of every field that takes none */
	struct fragtab ft;
	unsigned long fields, max_fields; /* fields executed, and the most allowed */
	bool stopped;			  /* past max_fields: the answer is dropped */
};

static bool path_push(struct exec *ex, const char *key, size_t index)
{
	if (ex->npath == ex->cappath) {
		size_t cap = ex->cappath ? ex->cappath * 2 : 32;
		struct pseg *n = realloc(ex->path, cap * sizeof(*n));
		if (!n)
			return false;
		ex->path = n;
		ex->cappath = cap;
	}
	ex->path[ex->npath].key = key;
	ex->path[ex->npath].index = index;
	ex->npath++;
	return true;
}

static json_t *path_json(const struct exec *ex)
{
	json_t *p = json_array();
	size_t i;

	for (i = 0; i < ex->npath; i++)
		json_array_append_new(p, ex->path[i].key
					     ? json_string(ex->path[i].key)
					     : json_integer((json_int_t)ex->path[i].index));
	return p;
}

static void groups_free(struct groups *gs)
{
	size_t i;

	if (!gs)
		return;
	for (i = 0; i < gs->n; i++)
		free(gs->g[i].nodes);
	free(gs->g);
	free(gs);
}

static int group_add(struct groups *gs, const struct gql_selection *f)
{
	const char *key = f->alias ? f->alias : f->name;
	struct group *g = NULL;
	size_t i;

	for (i = 0; i < gs->n; i++)
		if (strcmp(gs->g[i].key, key) == 0)
			g = &gs->g[i];
	if (!g) {
		if (gs->n == gs->cap) {
			size_t cap = gs->cap ? gs->cap * 2 : 8;
			struct group *n = realloc(gs->g, cap * sizeof(*n));
			if (!n)
				return DTF_ENOMEM;
			gs->g = n;
			gs->cap = cap;
		}
		g = &gs->g[gs->n++];
		memset(g, 0, sizeof(*g));
		g->key = key;
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 2;
		const struct gql_selection **n = realloc(g->nodes, cap * sizeof(*n));
		if (!n)
			return DTF_ENOMEM;
		g->nodes = n;
		g->cap = cap;
	}
	g->nodes[g->n++] = f;
	return 0;
}

/* The value of a directive's "if" (a literal or a variable). */
static bool directive_if(const struct exec *ex, const struct gql_directive *d)
{
	const struct gql_argument *a;

	for (a = d->arguments; a; a = a->next) {
		if (strcmp(a->name, "if"))
			continue;
		if (a->value->kind == GQL_VALUE_BOOLEAN)
			return a->value->boolean;
		if (a->value->kind == GQL_VALUE_VARIABLE)
			return json_is_true(json_object_get(ex->vars, a->value->str));
	}
	return false;
}

static bool included(const struct exec *ex, const struct gql_directive *ds)
{
	const struct gql_directive *d;

	for (d = ds; d; d = d->next) {
		if (strcmp(d->name, "skip") == 0 && directive_if(ex, d))
			return false;
		if (strcmp(d->name, "include") == 0 && !directive_if(ex, d))
			return false;
	}
	return true;
}

/* CollectFields: visited marks the fragments spread so far, by position (each is spread once). */
static int collect(const struct exec *ex, const struct gtype *t, const struct gql_selection *sels,
		   struct groups *gs, bool *visited)
{
	const struct gql_selection *s;
	int rc = 0;

	for (s = sels; s && !rc; s = s->next) {
		if (!included(ex, s->directives))
			continue;
		if (s->kind == GQL_SELECTION_FIELD) {
			rc = group_add(gs, s);
		} else if (s->kind == GQL_SELECTION_INLINE_FRAGMENT) {
			if (s->type_condition && strcmp(s->type_condition, t->name))
				continue;
			rc = collect(ex, t, s->selections, gs, visited);
		} else {
			const struct gql_definition *f;
			long i = fragtab_find(&ex->ft, s->name);
			if (i < 0 || visited[i])
				continue;
			visited[i] = true;
			f = ex->ft.frags[i];
			if (strcmp(f->type_condition, t->name))
				continue;
			rc = collect(ex, t, f->selections, gs, visited);
		}
	}
	return rc;
}

/* The fields of the selection sets of nodes (one response key's fields) on type t. */
static struct groups *collect_sub(const struct exec *ex, const struct gtype *t,
				  const struct gql_selection *const *nodes, size_t n)
{
	struct groups *gs = calloc(1, sizeof(*gs));
	bool *visited = calloc(ex->ft.n + 1, sizeof(*visited));
	size_t i;
	int rc = gs && visited ? 0 : DTF_ENOMEM;

	for (i = 0; i < n && !rc; i++)
		rc = collect(ex, t, nodes[i]->selections, gs, visited);
	free(visited);
	if (rc) {
		groups_free(gs);
		return NULL;
	}
	return gs;
}

static void field_error(struct exec *ex, const struct gql_selection *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void field_error(struct exec *ex, const struct gql_selection *node, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = gql_error_at(node->loc, "%s", msg);
	if (e)
		json_object_set_new(e, "path", path_json(ex));
	json_array_append_new(ex->errors, e);
}

/* ---- coercion of literals ---- */

static json_t *coerce_literal(const struct exec *ex, const struct gql_value *v,
			      const struct tref *r, char *err, size_t errlen);

/* A field's arguments (args) or an input object's fields (fields), as the document gives them,
 * coerced to defs: each given one coerced, each missing one defaulted (a variable without a
 * value counts as missing); a missing non-null one without a default is an error. */
static json_t *coerce_fields(const struct exec *ex, const struct garg *defs, size_t n,
			     const struct gql_argument *args, const struct gql_object_field *fields,
			     char *err, size_t errlen)
{
	json_t *out = json_object();
	char tn[128];
	size_t i;

	for (i = 0; out && i < n; i++) {
		const struct garg *a = &defs[i];
		const struct gql_value *val = NULL;
		const struct gql_argument *x;
		const struct gql_object_field *f;
		json_t *c;
		for (x = args; x && !val; x = x->next)
			if (strcmp(x->name, a->name) == 0)
				val = x->value;
		for (f = fields; f && !val; f = f->next)
			if (strcmp(f->name, a->name) == 0)
				val = f->value;
		if (val && val->kind == GQL_VALUE_VARIABLE && !json_object_get(ex->vars, val->str))
			val = NULL; /* a variable without a value: as if not given */
		if (!val) {
			if (a->dflt) {
				json_object_set(out, a->name, a->dflt);
			} else if (a->type->kind == TR_NON_NULL) {
				tref_print(a->type, tn, sizeof(tn));
				snprintf(
				    err, errlen,
				    "Argument \"%s\" of required type \"%s\" was not provided.",
				    a->name, tn);
				json_decref(out);
				return NULL;
			}
			continue;
		}
		c = coerce_literal(ex, val, a->type, err, errlen);
		if (!c) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, a->name, c);
	}
	return out;
}

static json_t *coerce_literal(const struct exec *ex, const struct gql_value *v,
			      const struct tref *r, char *err, size_t errlen)
{
	const struct gtype *t;
	char tn[128], vs[200];
	long long n;
	char *end;

	if (v->kind == GQL_VALUE_VARIABLE) {
		json_t *x = json_object_get(ex->vars, v->str);
		if ((!x || json_is_null(x)) && r->kind == TR_NON_NULL) {
			tref_print(r, tn, sizeof(tn));
			snprintf(err, errlen, "Variable \"$%s\" has no value for type \"%s\".",
				 v->str, tn);
			return NULL;
		}
		return x ? json_deep_copy(x) : json_null();
	}
	if (r->kind == TR_NON_NULL) {
		if (v->kind == GQL_VALUE_NULL)
			goto bad;
		return coerce_literal(ex, v, r->of, err, errlen);
	}
	if (v->kind == GQL_VALUE_NULL)
		return json_null();
	if (r->kind == TR_LIST) {
		const struct gql_value *i;
		json_t *out;
		if (v->kind != GQL_VALUE_LIST) {
			json_t *one = coerce_literal(ex, v, r->of, err, errlen);
			return one ? json_pack("[o]", one) : NULL;
		}
		out = json_array();
		for (i = v->items; i; i = i->next) {
			json_t *c = coerce_literal(ex, i, r->of, err, errlen);
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
	case GT_INPUT:
		if (v->kind != GQL_VALUE_OBJECT)
			goto bad;
		return coerce_fields(ex, t->inputs, t->ninputs, NULL, v->fields, err, errlen);
	case GT_ENUM:
		if (v->kind == GQL_VALUE_ENUM && enum_has(t, v->str))
			return json_string(v->str);
		goto bad;
	case GT_OBJECT:
		goto bad;
	case GT_SCALAR:
		break;
	}
	switch (t->scalar) {
	case GS_INT:
		if (v->kind != GQL_VALUE_INT)
			goto bad;
		errno = 0;
		n = strtoll(v->str, &end, 10);
		if (errno || *end || n < INT32_MIN || n > INT32_MAX)
			goto bad;
		return json_integer(n);
	case GS_FLOAT:
		if (v->kind != GQL_VALUE_INT && v->kind != GQL_VALUE_FLOAT)
			goto bad;
		return json_real(strtod(v->str, NULL));
	case GS_STRING:
		if (v->kind != GQL_VALUE_STRING)
			goto bad;
		return json_stringn(v->str, v->len);
	case GS_BOOLEAN:
		if (v->kind != GQL_VALUE_BOOLEAN)
			goto bad;
		return json_boolean(v->boolean);
	case GS_ID:
		if (v->kind == GQL_VALUE_STRING)
			return json_stringn(v->str, v->len);
		if (v->kind == GQL_VALUE_INT)
			return json_string(v->str);
		goto bad;
	default:
		return ast_to_json(v, ex->vars);
	}
bad:
	tref_print(r, tn, sizeof(tn));
	value_print(v, vs, sizeof(vs));
	snprintf(err, errlen, "Expected value of type \"%s\", found %s.", tn, vs);
	return NULL;
}

/* ---- completion ---- */

static json_t *execute_set(struct exec *ex, const struct gtype *t, struct groups *gs,
			   json_t *parent);

/* A leaf's value as its type shows it: a new reference, or NULL when it cannot be shown. A
 * scalar the resolver gave is shared, not copied (exec.h: scalars are never changed in place,
 * and jansson counts references atomically); an object or array is copied whole. */
static json_t *serialize(const struct gtype *t, json_t *v)
{
	char num[64];

	if (t->kind == GT_ENUM)
		return json_is_string(v) && enum_has(t, json_string_value(v)) ? json_incref(v)
									      : NULL;
	switch (t->scalar) {
	case GS_INT:
		if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
		    json_integer_value(v) <= INT32_MAX)
			return json_incref(v);
		if (json_is_real(v) && json_real_value(v) == (double)(int32_t)json_real_value(v))
			return json_integer((json_int_t)json_real_value(v));
		if (json_is_boolean(v))
			return json_integer(json_is_true(v));
		return NULL;
	case GS_FLOAT:
		if (json_is_number(v))
			return json_incref(v);
		if (json_is_boolean(v))
			return json_real(json_is_true(v));
		return NULL;
	case GS_STRING:
	case GS_ID:
		if (json_is_string(v))
			return json_incref(v);
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			return json_string(num);
		}
		if (t->scalar == GS_ID)
			return NULL;
		if (json_is_real(v)) {
			snprintf(num, sizeof(num), "%.17g", json_real_value(v));
			return json_string(num);
		}
		if (json_is_boolean(v))
			return json_string(json_is_true(v) ? "true" : "false");
		return NULL;
	case GS_BOOLEAN:
		return json_is_boolean(v) ? json_incref(v) : NULL;
	default:
		/* Objects and arrays the resolvers hand out may be shared with the application's
		 * state, which changes them: the response keeps a copy, so it may be written out
		 * after the app's lock is let go. */
		return json_is_object(v) || json_is_array(v) ? json_deep_copy(v) : json_incref(v);
	}
}

struct fieldctx {
	const struct gtype *owner;
	const struct gfield *fd;
	const struct group *g;
	struct groups *sub; /* the sub-fields, collected once for every item of a list */
};

/* CompleteValue: the value shown, or NULL when the field errored and null is carried up (the
 * error is recorded). */
static json_t *complete(struct exec *ex, struct fieldctx *fc, const struct tref *r, json_t *v)
{
	const struct gtype *t;
	json_t *out, *item;
	size_t i;

	if (r->kind == TR_NON_NULL) {
		out = complete(ex, fc, r->of, v);
		if (out && json_is_null(out)) {
			json_decref(out);
			field_error(ex, fc->g->nodes[0],
				    "Cannot return null for non-nullable field %s.%s.",
				    fc->owner->name, fc->fd->name);
			return NULL;
		}
		return out;
	}
	if (!v || json_is_null(v))
		return json_null();
	if (r->kind == TR_LIST) {
		if (!json_is_array(v)) {
			field_error(ex, fc->g->nodes[0],
				    "Expected Iterable, but did not find one for field \"%s.%s\".",
				    fc->owner->name, fc->fd->name);
			return NULL;
		}
		out = json_array();
		json_array_foreach(v, i, item) {
			json_t *c;
			if (!path_push(ex, NULL, i)) {
				json_decref(out);
				return NULL;
			}
			c = complete(ex, fc, r->of, item);
			ex->npath--;
			if (ex->stopped) {
				json_decref(c);
				json_decref(out);
				return NULL;
			}
			if (!c) {
				if (r->of->kind == TR_NON_NULL) {
					json_decref(out);
					return NULL;
				}
				c = json_null();
			}
			json_array_append_new(out, c);
		}
		return out;
	}
	t = r->type;
	if (is_leaf(t)) {
		out = serialize(t, v);
		if (!out) {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			field_error(ex, fc->g->nodes[0], "%s cannot represent value: %.200s",
				    t->name, s ? s : "?");
			free(s);
		}
		return out;
	}
	if (!json_is_object(v)) {
		field_error(ex, fc->g->nodes[0],
			    "Expected an object of type \"%s\" for field \"%s\".", t->name,
			    fc->fd->name);
		return NULL;
	}
	if (!fc->sub) {
		fc->sub = collect_sub(ex, t, fc->g->nodes, fc->g->n);
		if (!fc->sub) {
			field_error(ex, fc->g->nodes[0], "out of memory");
			return NULL;
		}
	}
	return execute_set(ex, t, fc->sub, v);
}

/* ExecuteField: the value at the response key, or NULL to carry null up. */
static json_t *execute_field(struct exec *ex, const struct gtype *t, struct group *g,
			     json_t *parent)
{
	const struct gql_selection *node = g->nodes[0];
	struct fieldctx fc = {t, g->fd ? g->fd : schema_field(ex->s, t, node->name), g, NULL};
	struct gql_resolve_info ri;
	json_t *args = NULL, *res = NULL, *out = NULL;
	char err[300];
	int rc;

	/* The cost is checked before execution, but lists without "first" (introspection's, a
	 * worker's hardware) count once there: what really runs is bounded here. */
	if (ex->stopped)
		return NULL;
	if (!fc.fd) /* validation refused it already */
		return json_null();
	g->fd = fc.fd; /* the same for every item of a list: the group is collected once */
	if (fc.fd == &ex->s->f_typename)
		return json_string(t->name);
	if (!path_push(ex, g->key, 0))
		return NULL;
	if (++ex->fields > ex->max_fields) {
		ex->stopped = true;
		field_error(ex, node,
			    "The answer has more than %lu fields, the limit on fields executed; it "
			    "was not completed.",
			    ex->max_fields);
		goto out;
	}
	args = fc.fd->nargs ? coerce_fields(ex, fc.fd->args, fc.fd->nargs, node->arguments, NULL,
					    err, sizeof(err))
			    : json_incref(ex->no_args);
	if (!args) {
		field_error(ex, node, "%s", err);
		goto out;
	}
	ri.error[0] = ri.code[0] = '\0';
	ri.app = ex->rq->app;
	ri.schema = ex->s;
	ri.parent = parent;
	ri.args = args;
	ri.field = fc.fd->name;
	ri.type_name = t->name;
	if (fc.fd->resolve) {
		rc = fc.fd->resolve(&ri, &res);
	} else {
		res = json_incref(json_object_get(parent, fc.fd->name));
		rc = 0;
	}
	if (rc) {
		json_decref(res);
		res = NULL;
		field_error(ex, node, "%s",
			    ri.error[0] ? ri.error : "the field could not be resolved");
		if (ri.code[0])
			json_object_set_new(
			    json_array_get(ex->errors, json_array_size(ex->errors) - 1),
			    "extensions", json_pack("{s:s}", "code", ri.code));
		goto out;
	}
	out = complete(ex, &fc, fc.fd->type, res);
out:
	if (!out && fc.fd->type->kind != TR_NON_NULL)
		out = json_null();
	ex->npath--;
	groups_free(fc.sub);
	json_decref(res);
	json_decref(args);
	return out;
}

static json_t *execute_set(struct exec *ex, const struct gtype *t, struct groups *gs,
			   json_t *parent)
{
	json_t *out = json_object();
	size_t i;

	for (i = 0; out && i < gs->n; i++) {
		json_t *v = execute_field(ex, t, &gs->g[i], parent);
		if (!v || ex->stopped) {
			json_decref(v);
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, gs->g[i].key, v);
	}
	return out;
}

/* ---- the request ---- */

static json_t *coerce_variables(struct exec *ex, const struct gql_definition *op)
{
	const struct gql_variable_definition *d;
	json_t *out = json_object();
	char err[400], tn[128];

	for (d = op->variables; d && out; d = d->next) {
		struct tref *r = ast_tref(ex->s, ex->doc->arena, d->type);
		json_t *raw = json_object_get(ex->rq->variables, d->name), *c;
		if (!r)
			continue;
		tref_print(r, tn, sizeof(tn));
		if (!raw) {
			if (d->default_value) {
				c = coerce_literal(ex, d->default_value, r, err, sizeof(err));
				if (c)
					json_object_set_new(out, d->name, c);
			} else if (r->kind == TR_NON_NULL) {
				json_array_append_new(
				    ex->errors,
				    gql_error_at(d->loc,
						 "Variable \"$%s\" of required type \"%s\" was not "
						 "provided.",
						 d->name, tn));
			}
			continue;
		}
		if (json_is_null(raw) && r->kind == TR_NON_NULL) {
			json_array_append_new(
			    ex->errors,
			    gql_error_at(d->loc,
					 "Variable \"$%s\" of non-null type \"%s\" must "
					 "not be null.",
					 d->name, tn));
			continue;
		}
		c = coerce_json(raw, r, err, sizeof(err));
		if (!c) {
			json_array_append_new(ex->errors,
					      gql_error_at(d->loc,
							   "Variable \"$%s\" got invalid value; %s",
							   d->name, err));
			continue;
		}
		json_object_set_new(out, d->name, c);
	}
	return out;
}

static const struct gql_definition *choose(const struct gql_document *doc, const char *name,
					   json_t *errors)
{
	const struct gql_definition *d, *found = NULL;
	size_t n = 0;

	for (d = doc->definitions; d; d = d->next) {
		if (d->kind != GQL_DEFINITION_OPERATION)
			continue;
		n++;
		if (!name || (d->name && strcmp(d->name, name) == 0))
			found = found && name ? found : d;
	}
	if (name && !found)
		json_array_append_new(errors,
				      gql_error_noloc("Unknown operation named \"%s\".", name));
	else if (!name && n > 1)
		json_array_append_new(errors,
				      gql_error_noloc("Must provide operation name if query "
						      "contains multiple operations."));
	else if (n == 0)
		json_array_append_new(errors, gql_error_noloc("Must provide an operation."));
	else
		return found;
	return NULL;
}

json_t *gql_execute(const struct gql_schema *s, const struct gql_request *rq,
		    struct gql_outcome *outcome)
{
	struct gql_outcome dummy;
	struct gql_document *doc = NULL;
	struct gql_error perr;
	const struct gql_definition *op;
	struct gql_limits_in lim;
	struct exec ex;
	json_t *resp = json_object(), *errors = json_array(), *data = NULL;
	struct groups *root = NULL;
	bool *visited = NULL;

	if (!outcome)
		outcome = &dummy;
	memset(outcome, 0, sizeof(*outcome));
	memset(&ex, 0, sizeof(ex));
	if (!resp || !errors)
		goto out;
	if (gql_parse(rq->query, rq->query_len, &doc, &perr)) {
		struct gql_loc loc = {perr.line, perr.column};
		json_array_append_new(errors, gql_error_at(loc, "%s", perr.message));
		goto out;
	}
	lim.max_depth = rq->max_depth ? rq->max_depth : GQL_DEFAULT_MAX_DEPTH;
	lim.max_cost = rq->max_cost ? rq->max_cost : GQL_DEFAULT_MAX_COST;
	lim.variables = rq->variables;
	if (gql_validate(s, doc, &lim, errors))
		goto out;
	op = choose(doc, rq->operation_name, errors);
	if (!op)
		goto out;
	outcome->op = op->operation;
	if (rq->queries_only && op->operation != GQL_OPERATION_QUERY) {
		outcome->not_allowed = true;
		json_array_append_new(errors, gql_error_at(op->loc,
							   "Can only perform a %s operation from a "
							   "POST request.",
							   gql_operation_name(op->operation)));
		goto out;
	}
	ex.s = s;
	ex.doc = doc;
	ex.rq = rq;
	ex.errors = errors;
	ex.no_args = json_object();
	ex.max_fields = rq->max_fields ? rq->max_fields : GQL_DEFAULT_MAX_FIELDS;
	ex.vars = coerce_variables(&ex, op);
	if (!ex.vars || !ex.no_args || json_array_size(errors))
		goto out;
	root = calloc(1, sizeof(*root));
	visited = fragtab_init(&ex.ft, doc) ? NULL : calloc(ex.ft.n + 1, sizeof(*visited));
	if (!root || !visited ||
	    collect(&ex, op->operation == GQL_OPERATION_MUTATION ? s->mutation : s->query,
		    op->selections, root, visited)) {
		json_array_append_new(errors, gql_error_noloc("out of memory"));
		goto out;
	}
	if (rq->begin)
		rq->begin(rq->app, op->operation);
	outcome->executed = true;
	{
		json_t *empty = json_object();
		data = execute_set(&ex,
				   op->operation == GQL_OPERATION_MUTATION ? s->mutation : s->query,
				   root, empty);
		json_decref(empty);
	}
	if (rq->end)
		rq->end(rq->app);
	if (ex.stopped) {
		json_decref(data);
		data = NULL;
	}
	json_object_set_new(resp, "data", data ? data : json_null());
out:
	free(visited);
	fragtab_release(&ex.ft);
	groups_free(root);
	json_decref(ex.vars);
	free(ex.path);
	json_decref(ex.no_args);
	if (resp && json_array_size(errors))
		json_object_set(resp, "errors", errors);
	json_decref(errors);
	gql_document_free(doc);
	return resp;
}
