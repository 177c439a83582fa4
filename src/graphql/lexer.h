/* lexer.h: the GraphQL lexer and the arena the parser allocates from (internal to src/graphql;
 * the public interface is graphql.h). */
#ifndef DTF_GRAPHQL_LEXER_H
#define DTF_GRAPHQL_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "graphql/graphql.h"

/* ---- arena: blocks freed all at once; a document's nodes and strings live in one ---- */

/* Returns a new, empty arena, or NULL without memory. Freed with gql_arena_free(). */
struct gql_arena *gql_arena_new(void);
/* Returns size zeroed bytes that live as long as a, or NULL without memory. */
void *gql_arena_alloc(struct gql_arena *a, size_t size);
/* Copies the len bytes at s into a, NUL-terminated; NULL without memory. */
char *gql_arena_strndup(struct gql_arena *a, const char *s, size_t len);
/* Frees a and everything allocated from it. NULL is allowed. */
void gql_arena_free(struct gql_arena *a);

/* ---- lexer ---- */

enum gql_tok {
	GQL_TOK_EOF,
	GQL_TOK_BANG,
	GQL_TOK_DOLLAR,
	GQL_TOK_AMP,
	GQL_TOK_PAREN_L,
	GQL_TOK_PAREN_R,
	GQL_TOK_SPREAD,
	GQL_TOK_COLON,
	GQL_TOK_EQUALS,
	GQL_TOK_AT,
	GQL_TOK_BRACKET_L,
	GQL_TOK_BRACKET_R,
	GQL_TOK_BRACE_L,
	GQL_TOK_PIPE,
	GQL_TOK_BRACE_R,
	GQL_TOK_NAME,
	GQL_TOK_INT,
	GQL_TOK_FLOAT,
	GQL_TOK_STRING,
	GQL_TOK_BLOCK_STRING,
};

struct gql_token {
	enum gql_tok kind;
	struct gql_loc loc;
	size_t start, end; /* the bytes of the token in the source */
	/* STRING, BLOCK_STRING: the value, decoded into the arena and NUL-terminated; others:
	 * NULL (the parser copies names and numbers from start..end). */
	char *value;
	size_t value_len;
};

struct gql_lexer {
	const unsigned char *src;
	size_t len;
	size_t pos;
	unsigned line;		 /* the line pos is on */
	size_t line_start;	 /* the byte where that line starts */
	size_t col_pos;		 /* a byte on that line whose column is known ... */
	unsigned col;		 /* ... and that column (so columns cost O(n) in all) */
	struct gql_arena *arena; /* where string values go */
	bool nomem;		 /* the last failure was for want of memory */
	struct gql_error *err;	 /* filled on a lexical error */
};

/* Starts lx on the len bytes at src; values go to arena, errors to *err (never NULL). */
void gql_lexer_init(struct gql_lexer *lx, const char *src, size_t len, struct gql_arena *arena,
		    struct gql_error *err);
/* Reads the next token into *tok, skipping ignored tokens (whitespace, line terminators,
 * commas, comments and the byte order mark). Returns 0, or -1 with lx->err filled (and
 * lx->nomem set when memory ran out). */
int gql_lexer_next(struct gql_lexer *lx, struct gql_token *tok);
/* How a token kind reads in an error message: "{" for a punctuator (with its quotes), Name,
 * Int, Float, String, BlockString or <EOF>. */
const char *gql_tok_name(enum gql_tok kind);

#endif
