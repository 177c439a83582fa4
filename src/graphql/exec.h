/* exec.h: the GraphQL engine on top of the parser (graphql.h): a schema described by C tables,
 * validation of a document against it, coercion of arguments and variables, execution through
 * one resolver callback per field, introspection, and the response in the spec's shape
 * {"data", "errors": [{"message", "locations", "path"}]}. It knows nothing of dtf: the
 * coordinator's schema and resolvers live in src/gqlapi/.
 *
 * Values are jansson values throughout: a resolver returns a JSON value, an object for an object
 * type, and the executor projects the selection set out of it (a field without a resolver reads
 * the member of its name from its parent object), so a resolver may hand back a whole document.
 * Only object types are composite (no interfaces or unions); custom scalars carry any JSON. */
#ifndef DTF_GRAPHQL_EXEC_H
#define DTF_GRAPHQL_EXEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "graphql/graphql.h"

#define GQL_DEFAULT_MAX_DEPTH 15    /* nested fields, root fields at depth 1 */
#define GQL_DEFAULT_MAX_COST  10000 /* fields selected, each times the lists around it */
/* Fields executed at most (lists without "first" are not in the cost): past it the answer is
 * dropped for an error. */
#define GQL_DEFAULT_MAX_FIELDS 100000
/* Selections the validator visits at most while it expands fragments (bounds its work). */
#define GQL_MAX_VISITS 200000

struct gql_schema;

/* What a resolver gets. app is the request's (gql_request.app); parent is the value of the object
 * the field is on (borrowed; an empty object for a root field); args holds the field's arguments
 * after coercion and defaults (an object; an argument that was neither given nor defaulted is
 * absent). On failure a resolver writes why to error, which becomes the field's error. */
struct gql_resolve_info {
	void *app;
	const struct gql_schema *schema;
	json_t *parent;
	const json_t *args;
	const char *field;     /* the field's name */
	const char *type_name; /* the type the field is on */
	char error[300];
	char code[40]; /* optional: the error's extensions.code, a machine-readable kind */
};

/* Returns 0 with *out a new reference to the field's value (NULL or JSON null for null), or -1
 * with ri->error filled. The value may be shared with the application's state: the response
 * keeps references to the scalars in it (strings, numbers, booleans) past the end callback, and
 * copies objects and arrays; so an application never changes a scalar value in place
 * (json_string_set() and the like) while a response may hold it. */
typedef int (*gql_resolver)(struct gql_resolve_info *ri, json_t **out);

/* An argument of a field, or a field of an input object. type is written as in GraphQL ("Int",
 * "[String!]!", "TaskInput"). default_json is the default value as JSON text ("20", "\"x\"",
 * "false"; an enum value is its name as a string), or NULL for none. */
struct gql_arg_def {
	const char *name;
	const char *type;
	const char *default_json;
	const char *description;
	const char *deprecated; /* the reason, or NULL when not deprecated */
};

struct gql_field_def {
	const char *name;
	const char *type;
	const char *description;
	const struct gql_arg_def *args; /* ended by a NULL name; NULL for none */
	gql_resolver resolve;		/* NULL: the parent object's member named like the field */
	const char *deprecated;
};

struct gql_enum_value_def {
	const char *name;
	const char *description;
	const char *deprecated;
};

enum gql_def_kind {
	GQL_DEF_OBJECT,
	GQL_DEF_INPUT,
	GQL_DEF_ENUM,
	GQL_DEF_SCALAR, /* a custom scalar: any JSON value in and out */
};

struct gql_type_def {
	enum gql_def_kind kind;
	const char *name;
	const char *description;
	const struct gql_field_def *fields;	 /* OBJECT: ended by a NULL name */
	const struct gql_arg_def *input_fields;	 /* INPUT: ended by a NULL name */
	const struct gql_enum_value_def *values; /* ENUM: ended by a NULL name */
	const char *specified_by;		 /* SCALAR: its specification's URL, or NULL */
};

struct gql_schema_def {
	const char *description;
	const struct gql_type_def *types; /* ended by a NULL name; Int, Float, String, Boolean and
					   * ID are built in */
	const char *query;		  /* the query root type */
	const char *mutation;		  /* the mutation root type, or NULL */
};

/* Builds a schema from def (which must outlive it: its strings and tables are borrowed). Returns
 * 0 and *out, freed with gql_schema_free(); or a negative DTF_E* code with why in err (an unknown
 * type name, a default that does not fit its type, an input type where an output type belongs,
 * ...). */
int gql_schema_new(const struct gql_schema_def *def, struct gql_schema **out, char *err,
		   size_t errlen);
void gql_schema_free(struct gql_schema *s);

struct gql_request {
	const char *query;
	size_t query_len;
	const json_t *variables;    /* an object, or NULL for none */
	const char *operation_name; /* NULL: the document's only operation */
	bool queries_only;	    /* a mutation is refused (GET requests) */
	unsigned max_depth;	    /* 0: GQL_DEFAULT_MAX_DEPTH */
	unsigned long max_cost;	    /* 0: GQL_DEFAULT_MAX_COST */
	unsigned long max_fields;   /* 0: GQL_DEFAULT_MAX_FIELDS */
	void *app;		    /* handed to every resolver */
	/* Called around execution, after the document was parsed and validated and the variables
	 * coerced (the app takes its lock there, for instance). Either may be NULL. */
	void (*begin)(void *app, enum gql_operation_type op);
	void (*end)(void *app);
};

struct gql_outcome {
	bool executed;	  /* the operation ran (begin and end were called) */
	bool not_allowed; /* a mutation was asked for with queries_only */
	enum gql_operation_type op;
};

/* Parses, validates and executes rq against s. Returns the response (a new reference; NULL only
 * without memory): {"data": ..., "errors": [...]} after execution, {"errors": [...]} when the
 * document did not parse or validate or the variables did not fit. out (may be NULL) says what
 * happened. */
json_t *gql_execute(const struct gql_schema *s, const struct gql_request *rq,
		    struct gql_outcome *out);

#endif
