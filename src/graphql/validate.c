/* validate.c: a document checked against the schema before anything runs (the spec's section 5):
 * operations (unique names, a lone anonymous one, a root type for each), fields, arguments and
 * their values, variables (defined, used, of input types, used where their type fits),
 * fragments (known, used, acyclic, applicable), directives (@skip and @include where they may
 * be), selections on leaves and objects, fields of one response key that cannot be merged, and
 * the limits: depth and cost (fields selected, those under a paged list counted per item asked
 * for), walked with fragments expanded and stopped as soon as a limit is passed, so no document
 * makes the walk long. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "graphql/internal.h"
#include "graphql/lexer.h"

#define MAX_ERRORS	   50
#define MAX_SPREAD_NESTING 64
#define MAX_MERGE_CHECK	   1000 /* fields of one selection set compared for merging */

struct vuse {
	const char *name;
	const struct tref *type; /* where it is used */
	bool location_default;	 /* the argument or input field there has a default */
	struct gql_loc loc;
};

/* The fields of one selection set (through the fragments in it), by response key: the
 * executor merges the fields of a key and their sub-selections, so those must agree, down to
 * the sub-fields (sub: the merged sub-selections of the key). */
struct level;
struct seen_field {
	const char *key;
	const struct gql_selection *node;
	struct level *sub;
};

struct level {
	struct seen_field *f;
	size_t n, cap;
};

static void level_release(struct level *lv)
{
	size_t i;

	for (i = 0; i < lv->n; i++) {
		if (lv->f[i].sub) {
			level_release(lv->f[i].sub);
			free(lv->f[i].sub);
		}
	}
	free(lv->f);
	memset(lv, 0, sizeof(*lv));
}

struct vctx {
	const struct gql_schema *s;
	const struct gql_document *doc;
	const struct gql_limits_in *lim;
	json_t *errors;
	size_t nerr;
	struct fragtab ft;
	const struct gql_definition **frags; /* ft.frags */
	size_t nfrags;
	bool *frag_used, *frag_cyclic, *frag_reported;
	struct vuse *uses;
	size_t nuses, cap;
	unsigned long cost, visits;
	unsigned spread_nesting;
	bool stopped; /* a limit was passed: the walk ends */
	bool changed;
};

static void add(struct vctx *v, json_t *e)
{
	if (!e)
		return;
	if (v->nerr >= MAX_ERRORS) {
		json_decref(e);
		return;
	}
	json_array_append_new(v->errors, e);
	v->nerr++;
}

/* e with a second location (graphql-js gives both places of a conflict). */
static json_t *also_at(json_t *e, struct gql_loc loc)
{
	json_t *locs = json_object_get(e, "locations");

	if (locs)
		json_array_append_new(locs, json_pack("{s:i,s:i}", "line", (json_int_t)loc.line,
						      "column", (json_int_t)loc.column));
	return e;
}

#define ERR(v, report, loc, ...)                                                                   \
	do {                                                                                       \
		if (report)                                                                        \
			add(v, gql_error_at(loc, __VA_ARGS__));                                    \
	} while (0)

static long frag_index(const struct vctx *v, const char *name)
{
	return fragtab_find(&v->ft, name);
}

/* ---- values ---- */

static bool int32_literal(const char *s, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end || n < INT32_MIN || n > INT32_MAX)
		return false;
	if (out)
		*out = n;
	return true;
}

static void use_var(struct vctx *v, const struct gql_value *val, const struct tref *r,
		    bool location_default)
{
	if (v->nuses == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct vuse *n = realloc(v->uses, cap * sizeof(*n));
		if (!n)
			return;
		v->uses = n;
		v->cap = cap;
	}
	v->uses[v->nuses++] = (struct vuse){val->str, r, location_default, val->loc};
}

/* Checks literal val against type r; variables in it are recorded as used there. */
static void check_value(struct vctx *v, const struct gql_value *val, const struct tref *r,
			bool location_default, bool report)
{
	char tn[128], vs[200];
	const struct gtype *t;

	if (val->kind == GQL_VALUE_VARIABLE) {
		use_var(v, val, r, location_default);
		return;
	}
	tref_print(r, tn, sizeof(tn));
	value_print(val, vs, sizeof(vs));
	if (r->kind == TR_NON_NULL) {
		if (val->kind == GQL_VALUE_NULL) {
			ERR(v, report, val->loc, "Expected value of type \"%s\", found null.", tn);
			return;
		}
		check_value(v, val, r->of, false, report);
		return;
	}
	if (val->kind == GQL_VALUE_NULL)
		return;
	if (r->kind == TR_LIST) {
		const struct gql_value *i;
		if (val->kind != GQL_VALUE_LIST) {
			check_value(v, val, r->of, false, report);
			return;
		}
		for (i = val->items; i; i = i->next)
			check_value(v, i, r->of, false, report);
		return;
	}
	t = r->type;
	switch (t->kind) {
	case GT_INPUT: {
		const struct gql_object_field *f, *g;
		size_t k;
		if (val->kind != GQL_VALUE_OBJECT) {
			ERR(v, report, val->loc, "Expected value of type \"%s\", found %s.", tn,
			    vs);
			return;
		}
		for (f = val->fields; f; f = f->next) {
			const struct garg *a = input_field(t, f->name);
			for (g = val->fields; g != f; g = g->next)
				if (strcmp(g->name, f->name) == 0)
					break;
			if (g != f) {
				ERR(v, report, f->loc,
				    "There can be only one input field named \"%s\".", f->name);
				continue;
			}
			if (!a) {
				ERR(v, report, f->loc,
				    "Field \"%s\" is not defined by type \"%s\".", f->name,
				    t->name);
				continue;
			}
			check_value(v, f->value, a->type, a->dflt != NULL, report);
		}
		for (k = 0; k < t->ninputs; k++) {
			const struct garg *a = &t->inputs[k];
			if (a->type->kind != TR_NON_NULL || a->dflt)
				continue;
			for (f = val->fields; f; f = f->next)
				if (strcmp(f->name, a->name) == 0)
					break;
			if (!f) {
				tref_print(a->type, tn, sizeof(tn));
				ERR(v, report, val->loc,
				    "Field \"%s.%s\" of required type \"%s\" was not provided.",
				    t->name, a->name, tn);
			}
		}
		return;
	}
	case GT_ENUM:
		if (val->kind != GQL_VALUE_ENUM)
			ERR(v, report, val->loc, "Enum \"%s\" cannot represent non-enum value: %s.",
			    t->name, vs);
		else if (!enum_has(t, val->str))
			ERR(v, report, val->loc, "Value \"%s\" does not exist in \"%s\" enum.",
			    val->str, t->name);
		return;
	case GT_SCALAR:
		break;
	case GT_OBJECT:
		return; /* not an input type: refused where the type was declared */
	}
	switch (t->scalar) {
	case GS_INT:
		if (val->kind != GQL_VALUE_INT)
			ERR(v, report, val->loc, "Int cannot represent non-integer value: %s", vs);
		else if (!int32_literal(val->str, NULL))
			ERR(v, report, val->loc,
			    "Int cannot represent non 32-bit signed integer value: %s", vs);
		return;
	case GS_FLOAT:
		if (val->kind != GQL_VALUE_INT && val->kind != GQL_VALUE_FLOAT)
			ERR(v, report, val->loc, "Float cannot represent non numeric value: %s",
			    vs);
		return;
	case GS_STRING:
		if (val->kind != GQL_VALUE_STRING)
			ERR(v, report, val->loc, "String cannot represent a non string value: %s",
			    vs);
		return;
	case GS_BOOLEAN:
		if (val->kind != GQL_VALUE_BOOLEAN)
			ERR(v, report, val->loc, "Boolean cannot represent a non boolean value: %s",
			    vs);
		return;
	case GS_ID:
		if (val->kind != GQL_VALUE_STRING && val->kind != GQL_VALUE_INT)
			ERR(v, report, val->loc,
			    "ID cannot represent a non-string and non-integer "
			    "value: %s",
			    vs);
		return;
	default: {
		/* Any JSON; variables inside are used as that scalar. */
		const struct gql_value *i;
		const struct gql_object_field *f;
		if (val->kind == GQL_VALUE_LIST)
			for (i = val->items; i; i = i->next)
				check_value(v, i, r, false, report);
		if (val->kind == GQL_VALUE_OBJECT)
			for (f = val->fields; f; f = f->next)
				check_value(v, f->value, r, false, report);
		return;
	}
	}
}

/* ---- arguments and directives ---- */

/* what names the field or directive for an unknown argument ('field "Query.book"'), who for a
 * missing one ('Field "book"'). */
static void check_args(struct vctx *v, const struct gql_argument *args, const struct garg *defs,
		       size_t ndefs, const char *what, const char *who, struct gql_loc where,
		       bool report)
{
	const struct gql_argument *a, *b;
	size_t i;
	char tn[128];

	for (a = args; a; a = a->next) {
		const struct garg *d = NULL;
		for (b = args; b != a; b = b->next)
			if (strcmp(a->name, b->name) == 0)
				break;
		if (b != a) {
			if (report)
				add(v, also_at(gql_error_at(b->loc,
							    "There can be only one argument named "
							    "\"%s\".",
							    a->name),
					       a->loc));
			continue;
		}
		for (i = 0; i < ndefs; i++)
			if (strcmp(defs[i].name, a->name) == 0)
				d = &defs[i];
		if (!d) {
			ERR(v, report, a->loc, "Unknown argument \"%s\" on %s.", a->name, what);
			continue;
		}
		check_value(v, a->value, d->type, d->dflt != NULL, report);
	}
	for (i = 0; i < ndefs; i++) {
		if (defs[i].type->kind != TR_NON_NULL || defs[i].dflt)
			continue;
		for (a = args; a; a = a->next)
			if (strcmp(a->name, defs[i].name) == 0)
				break;
		if (!a) {
			tref_print(defs[i].type, tn, sizeof(tn));
			ERR(v, report, where,
			    "%s argument \"%s\" of type \"%s\" is required, but it was not "
			    "provided.",
			    who, defs[i].name, tn);
		}
	}
}

/* @skip and @include, on a field, fragment spread or inline fragment (location), or anything
 * else (an operation, a variable definition, a fragment definition), where none may be. */
static void check_directives(struct vctx *v, const struct gql_directive *ds, const char *location,
			     bool exec_location, bool report)
{
	const struct gql_directive *d, *e;
	char what[80], who[80];

	for (d = ds; d; d = d->next) {
		bool skip = strcmp(d->name, "skip") == 0, include = strcmp(d->name, "include") == 0;
		if (!skip && !include && strcmp(d->name, "deprecated") &&
		    strcmp(d->name, "specifiedBy")) {
			ERR(v, report, d->loc, "Unknown directive \"@%s\".", d->name);
			continue;
		}
		if (!(skip || include) || !exec_location) {
			ERR(v, report, d->loc, "Directive \"@%s\" may not be used on %s.", d->name,
			    location);
			continue;
		}
		for (e = ds; e != d; e = e->next)
			if (strcmp(e->name, d->name) == 0)
				break;
		if (e != d) {
			ERR(v, report, d->loc,
			    "The directive \"@%s\" can only be used once at this location.",
			    d->name);
			continue;
		}
		snprintf(what, sizeof(what), "directive \"@%s\"", d->name);
		snprintf(who, sizeof(who), "Directive \"@%s\"", d->name);
		check_args(v, d->arguments, v->s->dir_args[skip ? 1 : 0], 1, what, who, d->loc,
			   report);
	}
}

/* ---- selections ---- */

static bool same_value(const struct gql_value *a, const struct gql_value *b)
{
	const struct gql_value *i, *j;
	const struct gql_object_field *f, *g;

	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case GQL_VALUE_BOOLEAN:
		return a->boolean == b->boolean;
	case GQL_VALUE_NULL:
		return true;
	case GQL_VALUE_STRING:
		return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
	case GQL_VALUE_LIST:
		for (i = a->items, j = b->items; i && j; i = i->next, j = j->next)
			if (!same_value(i, j))
				return false;
		return !i && !j;
	case GQL_VALUE_OBJECT:
		for (f = a->fields, g = b->fields; f && g; f = f->next, g = g->next)
			if (strcmp(f->name, g->name) || !same_value(f->value, g->value))
				return false;
		return !f && !g;
	default:
		return strcmp(a->str, b->str) == 0;
	}
}

static bool same_args(const struct gql_argument *a, const struct gql_argument *b)
{
	const struct gql_argument *x, *y;
	size_t na = 0, nb = 0;

	for (x = a; x; x = x->next)
		na++;
	for (y = b; y; y = y->next)
		nb++;
	if (na != nb)
		return false;
	for (x = a; x; x = x->next) {
		for (y = b; y; y = y->next)
			if (strcmp(x->name, y->name) == 0)
				break;
		if (!y || !same_value(x->value, y->value))
			return false;
	}
	return true;
}

/* Fields of one response key are merged by the executor: they must be the same field with the
 * same arguments. */
/* Returns where the merged sub-selections of f's response key are checked (NULL past the cap
 * or without memory: then f's are checked alone). */
static struct level **check_merge(struct vctx *v, struct level *lv, const struct gql_selection *f,
				  bool report)
{
	const char *key = f->alias ? f->alias : f->name;
	size_t i;

	for (i = 0; i < lv->n; i++) {
		const struct gql_selection *o = lv->f[i].node;
		if (strcmp(lv->f[i].key, key))
			continue;
		if (!report || o == f)
			return &lv->f[i].sub;
		if (strcmp(o->name, f->name))
			add(v, also_at(gql_error_at(
					   o->loc,
					   "Fields \"%s\" conflict because \"%s\" and \"%s\" "
					   "are different fields. Use different aliases on the "
					   "fields to fetch both if this was intentional.",
					   key, o->name, f->name),
				       f->loc));
		else if (!same_args(o->arguments, f->arguments))
			add(v, also_at(
				   gql_error_at(o->loc,
						"Fields \"%s\" conflict because they have "
						"differing arguments. Use different aliases on the "
						"fields to fetch both if this was intentional.",
						key),
				   f->loc));
		return &lv->f[i].sub;
	}
	if (lv->n == MAX_MERGE_CHECK)
		return NULL;
	if (lv->n == lv->cap) {
		size_t cap = lv->cap ? lv->cap * 2 : 16;
		struct seen_field *n = realloc(lv->f, cap * sizeof(*n));
		if (!n)
			return NULL;
		lv->f = n;
		lv->cap = cap;
	}
	lv->f[lv->n++] = (struct seen_field){key, f, NULL};
	return &lv->f[lv->n - 1].sub;
}

/* How many times a field's sub-selection counts: its "first" argument, or that argument's
 * default, for a paged field; 1 otherwise. */
static unsigned long multiplier(struct vctx *v, const struct gfield *fd,
				const struct gql_selection *f)
{
	const struct gql_argument *a;
	const struct garg *first = fd->paged ? field_arg(fd, "first") : NULL;
	long long n = 1;

	if (!first)
		return 1;
	if (first->dflt && json_is_integer(first->dflt))
		n = json_integer_value(first->dflt);
	for (a = f->arguments; a; a = a->next) {
		if (strcmp(a->name, "first"))
			continue;
		if (a->value->kind == GQL_VALUE_INT)
			int32_literal(a->value->str, &n);
		else if (a->value->kind == GQL_VALUE_VARIABLE &&
			 json_is_integer(json_object_get(v->lim->variables, a->value->str)))
			n = json_integer_value(json_object_get(v->lim->variables, a->value->str));
	}
	return n < 1 ? 1 : n > 1000000 ? 1000000 : (unsigned long)n;
}

static bool over_limits(struct vctx *v, struct gql_loc loc, unsigned depth)
{
	if (v->stopped)
		return true;
	if (depth > v->lim->max_depth) {
		add(v, gql_error_at(loc,
				    "Query is nested %u levels deep, more than the depth limit of "
				    "%u.",
				    depth, v->lim->max_depth));
		v->stopped = true;
	} else if (v->cost > v->lim->max_cost) {
		add(v,
		    gql_error_at(loc,
				 "Query cost is more than the cost limit of %lu (fields selected, "
				 "those in a list counted once per item asked for with \"first\").",
				 v->lim->max_cost));
		v->stopped = true;
	} else if (v->visits > GQL_MAX_VISITS) {
		add(v, gql_error_at(loc,
				    "Query is too complex: more than %d selections after fragments "
				    "are expanded (the selection limit).",
				    GQL_MAX_VISITS));
		v->stopped = true;
	}
	return v->stopped;
}

static bool composite(const struct gtype *t)
{
	return t && t->kind == GT_OBJECT;
}

static void walk(struct vctx *v, const struct gtype *parent, const struct gql_selection *sels,
		 unsigned depth, unsigned long mult, struct level *lv, bool report);

static void walk_field(struct vctx *v, const struct gtype *parent, const struct gql_selection *f,
		       unsigned depth, unsigned long mult, struct level *lv, bool report)
{
	const struct gfield *fd = schema_field(v->s, parent, f->name);
	const struct gtype *t;
	char what[300], who[200], tn[128];
	struct level **merged;

	v->visits++;
	check_directives(v, f->directives, "FIELD", true, report);
	if (!fd) {
		ERR(v, report, f->loc, "Cannot query field \"%s\" on type \"%s\".", f->name,
		    parent->name);
		return;
	}
	v->cost += mult;
	if (over_limits(v, f->loc, depth))
		return;
	merged = check_merge(v, lv, f, report);
	snprintf(what, sizeof(what), "field \"%s.%s\"", parent->name, f->name);
	snprintf(who, sizeof(who), "Field \"%s\"", f->name);
	check_args(v, f->arguments, fd->args, fd->nargs, what, who, f->loc, report);
	t = tref_named(fd->type);
	tref_print(fd->type, tn, sizeof(tn));
	if (is_leaf(t) && f->selections) {
		ERR(v, report, f->loc,
		    "Field \"%s\" must not have a selection since type \"%s\" has no subfields.",
		    f->name, tn);
	} else if (!is_leaf(t) && !f->selections) {
		ERR(v, report, f->loc,
		    "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you mean "
		    "\"%s { ... }\"?",
		    f->name, tn, f->name);
	} else if (f->selections) {
		struct level alone = {0}, *sub = &alone;
		unsigned long m = multiplier(v, fd, f);
		if (merged && (*merged || (*merged = calloc(1, sizeof(**merged)))))
			sub = *merged;
		walk(v, t, f->selections, depth + 1,
		     mult * m > v->lim->max_cost ? v->lim->max_cost + 1 : mult * m, sub, report);
		level_release(&alone);
	}
}

static void walk(struct vctx *v, const struct gtype *parent, const struct gql_selection *sels,
		 unsigned depth, unsigned long mult, struct level *lv, bool report)
{
	const struct gql_selection *sel;

	for (sel = sels; sel && !v->stopped; sel = sel->next) {
		if (sel->kind == GQL_SELECTION_FIELD) {
			walk_field(v, parent, sel, depth, mult, lv, report);
		} else if (sel->kind == GQL_SELECTION_INLINE_FRAGMENT) {
			const struct gtype *t = parent;
			v->visits++;
			check_directives(v, sel->directives, "INLINE_FRAGMENT", true, report);
			if (sel->type_condition) {
				t = schema_type(v->s, sel->type_condition);
				if (!t) {
					ERR(v, report, sel->loc, "Unknown type \"%s\".",
					    sel->type_condition);
					continue;
				}
				if (!composite(t)) {
					ERR(v, report, sel->loc,
					    "Fragment cannot condition on non composite type "
					    "\"%s\".",
					    t->name);
					continue;
				}
				if (t != parent) {
					ERR(v, report, sel->loc,
					    "Fragment cannot be spread here as objects of type "
					    "\"%s\" "
					    "can never be of type \"%s\".",
					    parent->name, t->name);
					continue;
				}
			}
			walk(v, t, sel->selections, depth, mult, lv, report);
		} else {
			long i = frag_index(v, sel->name);
			const struct gtype *t;
			bool rep;
			v->visits++;
			check_directives(v, sel->directives, "FRAGMENT_SPREAD", true, report);
			if (i < 0) {
				ERR(v, report, sel->loc, "Unknown fragment \"%s\".", sel->name);
				continue;
			}
			v->frag_used[i] = true;
			t = schema_type(v->s, v->frags[i]->type_condition);
			if (v->frag_cyclic[i] || !composite(t))
				continue; /* reported with the fragment */
			if (t != parent) {
				ERR(v, report, sel->loc,
				    "Fragment \"%s\" cannot be spread here as objects of type "
				    "\"%s\" "
				    "can never be of type \"%s\".",
				    sel->name, parent->name, t->name);
				continue;
			}
			if (v->spread_nesting >= MAX_SPREAD_NESTING) {
				add(v, gql_error_at(sel->loc,
						    "Fragments are nested more than %d deep.",
						    MAX_SPREAD_NESTING));
				v->stopped = true;
				return;
			}
			/* A fragment's own errors are reported once, however often it is spread. */
			rep = report && !v->frag_reported[i];
			v->frag_reported[i] = true;
			v->spread_nesting++;
			walk(v, t, v->frags[i]->selections, depth, mult, lv, rep);
			v->spread_nesting--;
		}
	}
}

/* ---- fragments ---- */

static void spreads_of(const struct gql_selection *sels, void (*fn)(void *, const char *),
		       void *arg)
{
	const struct gql_selection *s;

	for (s = sels; s; s = s->next) {
		if (s->kind == GQL_SELECTION_FRAGMENT_SPREAD)
			fn(arg, s->name);
		else if (s->selections)
			spreads_of(s->selections, fn, arg);
	}
}

struct cycle_walk {
	struct vctx *v;
	unsigned char *state; /* 0 unseen, 1 on the stack, 2 done */
	long start;
	unsigned depth;
};

static void cycle_visit(void *arg, const char *name);

static void cycle_from(struct cycle_walk *cw, long i)
{
	cw->state[i] = 1;
	cw->depth++;
	if (cw->depth < 1000)
		spreads_of(cw->v->frags[i]->selections, cycle_visit, cw);
	cw->depth--;
	cw->state[i] = 2;
}

static void cycle_visit(void *arg, const char *name)
{
	struct cycle_walk *cw = arg;
	long i = frag_index(cw->v, name);

	if (i < 0)
		return;
	if (cw->state[i] == 1) {
		if (!cw->v->frag_cyclic[i]) {
			cw->v->frag_cyclic[i] = true;
			add(cw->v,
			    gql_error_at(cw->v->frags[i]->loc,
					 "Cannot spread fragment \"%s\" within itself.", name));
		}
		return;
	}
	if (cw->state[i] == 0)
		cycle_from(cw, i);
}

static void check_fragments(struct vctx *v)
{
	struct cycle_walk cw = {v, calloc(v->nfrags + 1, 1), 0, 0};
	size_t i, j;

	for (i = 0; i < v->nfrags; i++) {
		const struct gql_definition *f = v->frags[i];
		const struct gtype *t = schema_type(v->s, f->type_condition);
		j = (size_t)frag_index(v, f->name);
		if (j < i)
			add(v, gql_error_at(f->loc, "There can be only one fragment named \"%s\".",
					    f->name));
		check_directives(v, f->directives, "FRAGMENT_DEFINITION", false, true);
		if (!t)
			add(v, gql_error_at(f->loc, "Unknown type \"%s\".", f->type_condition));
		else if (!composite(t))
			add(v,
			    gql_error_at(f->loc,
					 "Fragment \"%s\" cannot condition on non composite type "
					 "\"%s\".",
					 f->name, t->name));
	}
	for (i = 0; cw.state && i < v->nfrags; i++)
		if (cw.state[i] == 0)
			cycle_from(&cw, (long)i);
	free(cw.state);
}

/* ---- variables ---- */

static bool subtype(const struct tref *a, const struct tref *b)
{
	if (b->kind == TR_NON_NULL)
		return a->kind == TR_NON_NULL && subtype(a->of, b->of);
	if (a->kind == TR_NON_NULL)
		return subtype(a->of, b);
	if (b->kind == TR_LIST)
		return a->kind == TR_LIST && subtype(a->of, b->of);
	if (a->kind == TR_LIST)
		return false;
	return a->type == b->type;
}

static void check_operation(struct vctx *v, const struct gql_definition *op)
{
	const struct gql_variable_definition *d, *e;
	const struct gtype *root = op->operation == GQL_OPERATION_QUERY	     ? v->s->query
				   : op->operation == GQL_OPERATION_MUTATION ? v->s->mutation
									     : NULL;
	struct level lv = {0};
	size_t i, nvars = 0;
	struct tref **types;
	bool *used;
	char tn[128], un[128];
	static const char *const locs[] = {"QUERY", "MUTATION", "SUBSCRIPTION"};

	if (!root) {
		add(v, gql_error_at(op->loc, "Schema is not configured to execute %s operation.",
				    gql_operation_name(op->operation)));
		return;
	}
	check_directives(v, op->directives, locs[op->operation], false, true);
	for (d = op->variables; d; d = d->next)
		nvars++;
	types = calloc(nvars + 1, sizeof(*types));
	used = calloc(nvars + 1, sizeof(*used));
	if (!types || !used)
		goto out;
	v->nuses = 0;
	for (d = op->variables, i = 0; d; d = d->next, i++) {
		for (e = op->variables; e != d; e = e->next)
			if (strcmp(e->name, d->name) == 0)
				break;
		if (e != d)
			add(v, also_at(gql_error_at(e->loc,
						    "There can be only one variable named \"$%s\".",
						    d->name),
				       d->loc));
		check_directives(v, d->directives, "VARIABLE_DEFINITION", false, true);
		types[i] = ast_tref(v->s, v->doc->arena, d->type);
		if (!types[i]) {
			const struct gql_type *n = d->type;
			while (n->kind != GQL_TYPE_NAMED)
				n = n->of;
			add(v, gql_error_at(n->loc, "Unknown type \"%s\".", n->name));
			continue;
		}
		if (tref_named(types[i])->kind == GT_OBJECT) {
			tref_print(types[i], tn, sizeof(tn));
			add(v, gql_error_at(d->type->loc,
					    "Variable \"$%s\" cannot be non-input type \"%s\".",
					    d->name, tn));
			types[i] = NULL;
			continue;
		}
		if (d->default_value) {
			size_t before = v->nuses;
			check_value(v, d->default_value, types[i], false, true);
			v->nuses = before; /* the parser allows no variables in a default */
		}
	}
	walk(v, root, op->selections, 1, 1, &lv, true);
	level_release(&lv);
	for (i = 0; i < v->nuses; i++) {
		const struct vuse *u = &v->uses[i];
		size_t k = 0;
		for (d = op->variables; d; d = d->next, k++)
			if (strcmp(d->name, u->name) == 0)
				break;
		if (!d) {
			if (op->name)
				add(v, also_at(gql_error_at(u->loc,
							    "Variable \"$%s\" is not defined by "
							    "operation \"%s\".",
							    u->name, op->name),
					       op->loc));
			else
				add(v,
				    also_at(gql_error_at(u->loc, "Variable \"$%s\" is not defined.",
							 u->name),
					    op->loc));
			continue;
		}
		{
			const struct gql_variable_definition *x;
			size_t j = 0;
			for (x = op->variables; x; x = x->next, j++)
				if (strcmp(x->name, u->name) == 0)
					used[j] = true;
		}
		if (!types[k])
			continue;
		{
			const struct tref *vt = types[k];
			bool ok;
			if (u->type->kind == TR_NON_NULL && vt->kind != TR_NON_NULL)
				ok = ((d->default_value &&
				       d->default_value->kind != GQL_VALUE_NULL) ||
				      u->location_default) &&
				     subtype(vt, u->type->of);
			else
				ok = subtype(vt, u->type);
			if (!ok) {
				tref_print(vt, tn, sizeof(tn));
				tref_print(u->type, un, sizeof(un));
				add(v, also_at(gql_error_at(d->loc,
							    "Variable \"$%s\" of type \"%s\" used "
							    "in position expecting type \"%s\".",
							    u->name, tn, un),
					       u->loc));
			}
		}
	}
	if (!v->stopped)
		for (d = op->variables, i = 0; d; d = d->next, i++)
			if (!used[i])
				add(v, gql_error_at(d->loc,
						    op->name ? "Variable \"$%s\" is never used in "
							       "operation \"%s\"."
							     : "Variable \"$%s\" is never used.",
						    d->name, op->name));
out:
	free(types);
	free(used);
}

static void mark_one(void *arg, const char *name)
{
	struct vctx *v = arg;
	long i = frag_index(v, name);

	if (i >= 0 && !v->frag_used[i]) {
		v->frag_used[i] = true;
		v->changed = true;
	}
}

/* A fragment spread by a used one is used, even where a cycle stopped the walk. */
static void mark_spread_used(struct vctx *v)
{
	size_t i, rounds = 0;

	do {
		v->changed = false;
		for (i = 0; i < v->nfrags; i++)
			if (v->frag_used[i])
				spreads_of(v->frags[i]->selections, mark_one, v);
	} while (v->changed && ++rounds < v->nfrags);
}

size_t gql_validate(const struct gql_schema *s, const struct gql_document *doc,
		    const struct gql_limits_in *lim, json_t *errors)
{
	struct vctx v = {0};
	const struct gql_definition *d, *e;
	size_t nops = 0, i;

	v.s = s;
	v.doc = doc;
	v.lim = lim;
	v.errors = errors;
	if (fragtab_init(&v.ft, doc)) {
		add(&v, gql_error_noloc("out of memory"));
		return v.nerr;
	}
	v.frags = v.ft.frags;
	v.nfrags = v.ft.n;
	v.frag_used = calloc(doc->count + 1, sizeof(bool));
	v.frag_cyclic = calloc(doc->count + 1, sizeof(bool));
	v.frag_reported = calloc(doc->count + 1, sizeof(bool));
	if (!v.frag_used || !v.frag_cyclic || !v.frag_reported) {
		add(&v, gql_error_noloc("out of memory"));
		goto out;
	}
	for (d = doc->definitions; d; d = d->next)
		if (d->kind == GQL_DEFINITION_OPERATION)
			nops++;
	for (d = doc->definitions; d; d = d->next) {
		if (d->kind != GQL_DEFINITION_OPERATION)
			continue;
		if (!d->name && nops > 1)
			add(&v, gql_error_at(d->loc, "This anonymous operation must be the only "
						     "defined operation."));
		for (e = doc->definitions; d->name && e != d; e = e->next)
			if (e->kind == GQL_DEFINITION_OPERATION && e->name &&
			    strcmp(e->name, d->name) == 0)
				break;
		if (d->name && e != d)
			add(&v,
			    gql_error_at(d->loc, "There can be only one operation named \"%s\".",
					 d->name));
	}
	check_fragments(&v);
	for (d = doc->definitions; d && !v.stopped; d = d->next)
		if (d->kind == GQL_DEFINITION_OPERATION)
			check_operation(&v, d);
	mark_spread_used(&v);
	for (i = 0; i < v.nfrags && !v.stopped; i++)
		if (!v.frag_used[i])
			add(&v, gql_error_at(v.frags[i]->loc, "Fragment \"%s\" is never used.",
					     v.frags[i]->name));
out:
	fragtab_release(&v.ft);
	free(v.frag_used);
	free(v.frag_cyclic);
	free(v.frag_reported);
	free(v.uses);
	return v.nerr;
}
