/* internal.h: the engine's schema as the validator and executor see it (internal to src/graphql;
 * the interface is exec.h). schema.c builds it from the tables and holds introspection;
 * validate.c checks documents; execute.c coerces and executes. */
#ifndef DTF_GRAPHQL_INTERNAL_H
#define DTF_GRAPHQL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "graphql/exec.h"
#include "graphql/graphql.h"

enum gtype_kind {
	GT_SCALAR,
	GT_OBJECT,
	GT_INPUT,
	GT_ENUM,
};

/* Which scalar: the built-in ones are checked and converted, a custom one carries any JSON. */
enum gscalar {
	GS_NONE,
	GS_INT,
	GS_FLOAT,
	GS_STRING,
	GS_BOOLEAN,
	GS_ID,
	GS_CUSTOM,
};

enum tref_kind {
	TR_NAMED,
	TR_LIST,
	TR_NON_NULL,
};

struct gtype;

/* A type reference: a named type, or a list of / non-null of another reference. */
struct tref {
	enum tref_kind kind;
	struct gtype *type; /* NAMED */
	struct tref *of;    /* LIST, NON_NULL */
};

struct garg {
	const char *name;
	const char *description;
	const char *deprecated;
	struct tref *type;
	json_t *dflt; /* the coerced default (owned), NULL when there is none */
	const char *default_json;
};

struct gfield {
	const char *name;
	const char *description;
	const char *deprecated;
	struct tref *type;
	struct garg *args;
	size_t nargs;
	gql_resolver resolve;
	struct gtype *owner;
	bool paged; /* has an Int argument "first": counted that many times for the cost */
};

struct gtype {
	enum gtype_kind kind;
	enum gscalar scalar;
	const char *name;
	const char *description;
	const char *specified_by;
	struct gfield *fields; /* OBJECT */
	size_t nfields;
	struct garg *inputs; /* INPUT */
	size_t ninputs;
	const struct gql_enum_value_def *values; /* ENUM */
	size_t nvalues;
	struct tref ref; /* the named reference to this type */
	bool meta;	 /* an introspection type */
};

/* @include, @skip, @deprecated, @specifiedBy (in that order in schema.c's table). */
#define GQL_NDIRECTIVES 4

struct gql_schema {
	const char *description;
	struct gtype **types;
	size_t ntypes;
	struct gtype *query, *mutation;
	struct gfield f_schema, f_type, f_typename; /* the meta fields */
	struct garg *dir_args[GQL_NDIRECTIVES];	    /* the built-in directives' arguments */
	struct gql_arena *arena;		    /* type references, fields, arguments */
};

struct gtype *schema_type(const struct gql_schema *s, const char *name);
struct gfield *type_field(const struct gtype *t, const char *name);
/* The meta field (__typename on every object; __schema and __type on the query root) or the
 * type's field of that name, or NULL. */
struct gfield *schema_field(const struct gql_schema *s, const struct gtype *t, const char *name);
struct garg *field_arg(const struct gfield *f, const char *name);
struct garg *input_field(const struct gtype *t, const char *name);
bool enum_has(const struct gtype *t, const char *name);

static inline struct gtype *tref_named(const struct tref *r)
{
	while (r->kind != TR_NAMED)
		r = r->of;
	return r->type;
}

static inline bool is_leaf(const struct gtype *t)
{
	return t->kind == GT_SCALAR || t->kind == GT_ENUM;
}

struct gql_arena;
/* A variable's declared type as a reference (allocated in a), or NULL when it names an unknown
 * type. */
struct tref *ast_tref(const struct gql_schema *s, struct gql_arena *a, const struct gql_type *t);
/* Writes r as GraphQL writes types ("[Int!]!") into buf. */
void tref_print(const struct tref *r, char *buf, size_t len);
/* Writes value v (an AST value) as GraphQL source text into buf (cut short past len). */
void value_print(const struct gql_value *v, char *buf, size_t len);
/* The JSON value v written as a GraphQL literal of type r (enum values bare, object keys
 * unquoted), malloc'd; NULL without memory. */
char *json_literal(const json_t *v, const struct tref *r);

/* Coerces a JSON input value (a variable's, or a default) to type r: a new reference, or NULL
 * with why in err ("Int cannot represent the value 1.5 at input.priority."). */
json_t *coerce_json(const json_t *v, const struct tref *r, char *err, size_t errlen);
/* An AST value converted to plain JSON (for a custom scalar); variables from vars (missing ones
 * become null). */
json_t *ast_to_json(const struct gql_value *v, const json_t *vars);

/* A document's fragments, found by name in O(log n) (a document may hold thousands). */
struct fragname {
	const char *name;
	size_t index;
};
struct fragtab {
	const struct gql_definition **frags; /* in document order */
	size_t n;
	struct fragname *sorted; /* by name, then position */
};
int fragtab_init(struct fragtab *ft, const struct gql_document *doc);
void fragtab_release(struct fragtab *ft);
/* The position of the first fragment named name, or -1. */
long fragtab_find(const struct fragtab *ft, const char *name);

/* The validator: checks every operation and fragment of doc (the limits on each operation).
 * Appends each error (a response error object, at most 50) to errors; returns the number
 * added. */
struct gql_limits_in {
	unsigned max_depth;
	unsigned long max_cost;
	const json_t *variables; /* the request's, for a "first" given as a variable */
};
size_t gql_validate(const struct gql_schema *s, const struct gql_document *doc,
		    const struct gql_limits_in *lim, json_t *errors);

/* A response error {"message", "locations": [{line, column}]} (path added by the caller). */
json_t *gql_error_at(struct gql_loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
json_t *gql_error_noloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Introspection: the resolvers of the meta fields (schema.c). */
int intro_schema(struct gql_resolve_info *ri, json_t **out);
int intro_type(struct gql_resolve_info *ri, json_t **out);

#endif
