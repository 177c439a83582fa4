/* graphql.h: the GraphQL executable-document parser (the GraphQL spec, October 2021 edition):
 * source text in, an abstract syntax tree out. It knows no schema and executes nothing; the
 * coordinator's GraphQL front-end (validation, execution) is built on it.
 *
 * Only executable documents are accepted (operations and fragments); a type-system definition
 * (schema, type, ...) is a syntax error. Input is bounded: GQL_MAX_DOCUMENT bytes, GQL_MAX_TOKENS
 * tokens and GQL_MAX_DEPTH levels of nesting (selection sets, list and object values and list
 * types together), so no input can exhaust the stack or the heap.
 *
 * Ownership: every node of a document, and every string in it, lives in the document's arena
 * and is freed by gql_document_free(); nothing in the tree is freed on its own. Lists are singly
 * linked through each node's `next`, in source order. */
#ifndef DTF_GRAPHQL_H
#define DTF_GRAPHQL_H

#include <stdbool.h>
#include <stddef.h>

#define GQL_MAX_DOCUMENT (64 * 1024) /* bytes of source text */
#define GQL_MAX_TOKENS	 15000	     /* lexical tokens (not counting the end) */
#define GQL_MAX_DEPTH	 64	     /* nested selection sets, list/object values, list types */

/* Where a node starts in the source: 1-based line and column. A column counts Unicode code
 * points from the start of its line; lines end at \n, \r\n or \r (as the spec says). */
struct gql_loc {
	unsigned line;
	unsigned column;
};

enum gql_value_kind {
	GQL_VALUE_VARIABLE,
	GQL_VALUE_INT,
	GQL_VALUE_FLOAT,
	GQL_VALUE_STRING,
	GQL_VALUE_BOOLEAN,
	GQL_VALUE_NULL,
	GQL_VALUE_ENUM,
	GQL_VALUE_LIST,
	GQL_VALUE_OBJECT,
};

struct gql_object_field {
	struct gql_loc loc;
	const char *name;
	struct gql_value *value;
	struct gql_object_field *next;
};

struct gql_value {
	enum gql_value_kind kind;
	struct gql_loc loc;
	/* VARIABLE: its name without the '$'; INT, FLOAT: the literal as written (the executor
	 * converts it, so that range errors can name the argument); STRING: the decoded value, in
	 * UTF-8 and NUL-terminated (len says how long: a \u0000 escape may put a NUL inside);
	 * ENUM: the name. NULL for the other kinds. */
	const char *str;
	size_t len;
	bool block;			 /* STRING: written as a block string ("""...""") */
	bool boolean;			 /* BOOLEAN: its value */
	size_t count;			 /* LIST: items; OBJECT: fields */
	struct gql_value *items;	 /* LIST: the first item */
	struct gql_object_field *fields; /* OBJECT: the first field */
	struct gql_value *next;		 /* the next item of the list this value is in */
};

struct gql_argument {
	struct gql_loc loc;
	const char *name;
	struct gql_value *value;
	struct gql_argument *next;
};

/* @name(arguments) */
struct gql_directive {
	struct gql_loc loc;
	const char *name;
	struct gql_argument *arguments; /* NULL when it has none */
	struct gql_directive *next;
};

enum gql_type_kind {
	GQL_TYPE_NAMED,
	GQL_TYPE_LIST,
	GQL_TYPE_NON_NULL,
};

/* A variable's type: Name, [Type] or Type! */
struct gql_type {
	enum gql_type_kind kind;
	struct gql_loc loc;
	const char *name;    /* NAMED */
	struct gql_type *of; /* LIST, NON_NULL: the type inside */
};

enum gql_selection_kind {
	GQL_SELECTION_FIELD,
	GQL_SELECTION_FRAGMENT_SPREAD,
	GQL_SELECTION_INLINE_FRAGMENT,
};

struct gql_selection {
	enum gql_selection_kind kind;
	struct gql_loc loc;
	const char *alias;		/* FIELD: NULL without an alias */
	const char *name;		/* FIELD: the field; FRAGMENT_SPREAD: the fragment */
	const char *type_condition;	/* INLINE_FRAGMENT: NULL without "on Type" */
	struct gql_argument *arguments; /* FIELD */
	struct gql_directive *directives;
	/* FIELD: NULL when the field has no selection set (the grammar allows no empty one);
	 * INLINE_FRAGMENT: never NULL; FRAGMENT_SPREAD: NULL. */
	struct gql_selection *selections;
	struct gql_selection *next;
};

struct gql_variable_definition {
	struct gql_loc loc;
	const char *name; /* without the '$' */
	struct gql_type *type;
	struct gql_value *default_value; /* NULL without one; a constant (no variables in it) */
	struct gql_directive *directives;
	struct gql_variable_definition *next;
};

enum gql_definition_kind {
	GQL_DEFINITION_OPERATION,
	GQL_DEFINITION_FRAGMENT,
};

enum gql_operation_type {
	GQL_OPERATION_QUERY,
	GQL_OPERATION_MUTATION,
	GQL_OPERATION_SUBSCRIPTION,
};

struct gql_definition {
	enum gql_definition_kind kind;
	struct gql_loc loc;
	enum gql_operation_type operation; /* OPERATION */
	/* OPERATION: NULL when anonymous; FRAGMENT: the fragment's name */
	const char *name;
	bool shorthand;				   /* OPERATION: written as just "{ ... }" */
	struct gql_variable_definition *variables; /* OPERATION */
	const char *type_condition;		   /* FRAGMENT: the type after "on" */
	struct gql_directive *directives;
	struct gql_selection *selections; /* never NULL */
	struct gql_definition *next;
};

struct gql_arena;

struct gql_document {
	struct gql_definition *definitions; /* at least one */
	size_t count;
	struct gql_arena *arena; /* private: holds every node and string */
};

/* Why a parse failed. message is what a GraphQL response's error says, for example
 * `Syntax Error: Expected Name, found "}".`; line and column locate it (0 and 0 when the
 * failure has no place, as for a document over the size limit or no memory). */
struct gql_error {
	char message[256];
	unsigned line;
	unsigned column;
};

/* Parses the len bytes at src (no NUL needed; a NUL byte in them is an error) as an
 * executable document. On success returns 0 and sets *out to a new document the caller frees
 * with gql_document_free(). On failure returns a negative DTF_E* code (DTF_EPARSE for a syntax
 * error, DTF_ETOOBIG past a limit on size, tokens or depth, DTF_ENOMEM, DTF_EINVAL for a NULL
 * argument), sets *out to NULL and, when err is not NULL, fills *err. */
int gql_parse(const char *src, size_t len, struct gql_document **out, struct gql_error *err);

/* Frees doc and every node and string in it. NULL is allowed. */
void gql_document_free(struct gql_document *doc);

/* The keyword for an operation type: "query", "mutation" or "subscription". */
const char *gql_operation_name(enum gql_operation_type op);

#endif
