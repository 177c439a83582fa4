/* lexer.c: the GraphQL lexical grammar (spec section 2.1, October 2021 edition) and the arena
 * the parser's nodes live in. See lexer.h. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "graphql/lexer.h"

/* ---- arena ---- */

#define ARENA_BLOCK 8192

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

struct gql_arena {
	struct arena_block *head;
};

struct gql_arena *gql_arena_new(void)
{
	return calloc(1, sizeof(struct gql_arena));
}

void *gql_arena_alloc(struct gql_arena *a, size_t size)
{
	struct arena_block *b = a->head;
	size_t want = (size + 15) & ~(size_t)15, bsize;
	void *p;

	if (want < size)
		return NULL;
	if (!b || b->size - b->used < want) {
		bsize = want > ARENA_BLOCK ? want : ARENA_BLOCK;
		b = malloc(sizeof(*b) + bsize);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = bsize;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += want;
	memset(p, 0, size);
	return p;
}

char *gql_arena_strndup(struct gql_arena *a, const char *s, size_t len)
{
	char *p = gql_arena_alloc(a, len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void gql_arena_free(struct gql_arena *a)
{
	struct arena_block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

/* ---- lexer ---- */

void gql_lexer_init(struct gql_lexer *lx, const char *src, size_t len, struct gql_arena *arena,
		    struct gql_error *err)
{
	memset(lx, 0, sizeof(*lx));
	lx->src = (const unsigned char *)src;
	lx->len = len;
	lx->line = 1;
	lx->col = 1;
	lx->arena = arena;
	lx->err = err;
}

const char *gql_tok_name(enum gql_tok kind)
{
	static const char *const names[] = {
	    [GQL_TOK_EOF] = "<EOF>",	   [GQL_TOK_BANG] = "\"!\"",
	    [GQL_TOK_DOLLAR] = "\"$\"",	   [GQL_TOK_AMP] = "\"&\"",
	    [GQL_TOK_PAREN_L] = "\"(\"",   [GQL_TOK_PAREN_R] = "\")\"",
	    [GQL_TOK_SPREAD] = "\"...\"",  [GQL_TOK_COLON] = "\":\"",
	    [GQL_TOK_EQUALS] = "\"=\"",	   [GQL_TOK_AT] = "\"@\"",
	    [GQL_TOK_BRACKET_L] = "\"[\"", [GQL_TOK_BRACKET_R] = "\"]\"",
	    [GQL_TOK_BRACE_L] = "\"{\"",   [GQL_TOK_PIPE] = "\"|\"",
	    [GQL_TOK_BRACE_R] = "\"}\"",   [GQL_TOK_NAME] = "Name",
	    [GQL_TOK_INT] = "Int",	   [GQL_TOK_FLOAT] = "Float",
	    [GQL_TOK_STRING] = "String",   [GQL_TOK_BLOCK_STRING] = "BlockString",
	};

	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

/* The column of byte pos on the current line: code points since the line's start, counted
 * from the last column asked for, since positions only move forward. */
static unsigned column_at(struct gql_lexer *lx, size_t pos)
{
	if (lx->col_pos < lx->line_start || lx->col_pos > pos) {
		lx->col_pos = lx->line_start;
		lx->col = 1;
	}
	for (; lx->col_pos < pos; lx->col_pos++)
		if ((lx->src[lx->col_pos] & 0xc0) != 0x80)
			lx->col++;
	return lx->col;
}

static int lex_error(struct gql_lexer *lx, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lex_error(struct gql_lexer *lx, size_t pos, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(lx->err->message, sizeof(lx->err->message), "Syntax Error: %s", msg);
	lx->err->line = lx->line;
	lx->err->column = column_at(lx, pos);
	return -1;
}

static int nomem(struct gql_lexer *lx)
{
	lx->nomem = true;
	snprintf(lx->err->message, sizeof(lx->err->message), "out of memory");
	lx->err->line = 0;
	lx->err->column = 0;
	return -1;
}

/* Describes the character at pos for an error: "c" for printable ASCII, U+XXXX otherwise,
 * <EOF> at the end. */
static void char_desc(const struct gql_lexer *lx, size_t pos, char *buf, size_t size)
{
	uint32_t cp;
	unsigned char c;

	if (pos >= lx->len) {
		snprintf(buf, size, "<EOF>");
		return;
	}
	c = lx->src[pos];
	if (c == '"')
		snprintf(buf, size, "'\"'");
	else if (c >= 0x20 && c < 0x7f)
		snprintf(buf, size, "\"%c\"", c);
	else if (dtf_utf8_decode(lx->src + pos, lx->len - pos, &cp))
		snprintf(buf, size, "U+%04X", (unsigned)cp);
	else
		snprintf(buf, size, "byte 0x%02X (not UTF-8)", c);
}

/* Moves past a line terminator at lx->pos (\n, \r\n or \r). */
static void newline(struct gql_lexer *lx)
{
	if (lx->src[lx->pos] == '\r' && lx->pos + 1 < lx->len && lx->src[lx->pos + 1] == '\n')
		lx->pos++;
	lx->pos++;
	lx->line++;
	lx->line_start = lx->pos;
}

/* Checks that a non-ASCII character starts at pos and returns its length (0 after an
 * error). */
static size_t source_char(struct gql_lexer *lx, size_t pos, uint32_t *cp)
{
	size_t n = dtf_utf8_decode(lx->src + pos, lx->len - pos, cp);

	if (!n)
		lex_error(lx, pos, "Invalid UTF-8 sequence.");
	return n;
}

static bool is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int at(const struct gql_lexer *lx, size_t pos)
{
	return pos < lx->len ? lx->src[pos] : -1;
}

/* Reads digits at *pos (one at least). */
static int digits(struct gql_lexer *lx, size_t *pos)
{
	char d[40];

	if (!is_digit(at(lx, *pos))) {
		char_desc(lx, *pos, d, sizeof(d));
		return lex_error(lx, *pos, "Invalid number, expected digit but got: %s.", d);
	}
	while (is_digit(at(lx, *pos)))
		(*pos)++;
	return 0;
}

static int read_number(struct gql_lexer *lx, struct gql_token *tok)
{
	size_t pos = lx->pos;
	bool is_float = false;
	char d[40];

	if (at(lx, pos) == '-')
		pos++;
	if (at(lx, pos) == '0') {
		pos++;
		if (is_digit(at(lx, pos))) {
			char_desc(lx, pos, d, sizeof(d));
			return lex_error(lx, pos, "Invalid number, unexpected digit after 0: %s.",
					 d);
		}
	} else if (digits(lx, &pos)) {
		return -1;
	}
	if (at(lx, pos) == '.') {
		is_float = true;
		pos++;
		if (digits(lx, &pos))
			return -1;
	}
	if (at(lx, pos) == 'e' || at(lx, pos) == 'E') {
		is_float = true;
		pos++;
		if (at(lx, pos) == '+' || at(lx, pos) == '-')
			pos++;
		if (digits(lx, &pos))
			return -1;
	}
	/* The spec forbids a name start or a '.' right after a number: "1x" or "1.2.3". */
	if (at(lx, pos) == '.' || is_name_start(at(lx, pos))) {
		char_desc(lx, pos, d, sizeof(d));
		return lex_error(lx, pos, "Invalid number, expected digit but got: %s.", d);
	}
	tok->kind = is_float ? GQL_TOK_FLOAT : GQL_TOK_INT;
	lx->pos = pos;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the 4 hex digits of \uXXXX at pos; -1 when they are not hex digits. */
static long hex4(const struct gql_lexer *lx, size_t pos)
{
	long v = 0;
	int i, h;

	for (i = 0; i < 4; i++) {
		h = hexval(at(lx, pos + i));
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads an escaped Unicode character at pos (just after "\u"): XXXX, a surrogate pair
 * \uXXXX\uXXXX, or {X...}. Sets *end past it. */
static int read_unicode_escape(struct gql_lexer *lx, size_t pos, size_t *end, uint32_t *cp)
{
	size_t start = pos - 2, p;
	long v, lo;
	int h;

	if (at(lx, pos) == '{') {
		v = 0;
		for (p = pos + 1; (h = hexval(at(lx, p))) >= 0; p++) {
			v = v * 16 + h;
			if (v > 0x10ffff)
				goto bad;
		}
		if (p == pos + 1 || at(lx, p) != '}' || (v >= 0xd800 && v <= 0xdfff))
			goto bad;
		*cp = (uint32_t)v;
		*end = p + 1;
		return 0;
	}
	v = hex4(lx, pos);
	if (v < 0) {
		/* Quote the four characters that should have been hex digits. */
		for (p = pos; p < pos + 4 && at(lx, p) >= 0x20 && at(lx, p) < 0x7f &&
			      at(lx, p) != '"' && at(lx, p) != '\\';
		     p++)
			;
		return lex_error(lx, start, "Invalid Unicode escape sequence: \"%.*s\".",
				 (int)(p - start), (const char *)lx->src + start);
	}
	if (v >= 0xdc00 && v <= 0xdfff)
		goto bad; /* a trailing surrogate alone */
	if (v >= 0xd800 && v <= 0xdbff) {
		/* A leading surrogate must be followed by \u and a trailing one. */
		if (at(lx, pos + 4) != '\\' || at(lx, pos + 5) != 'u')
			goto bad;
		lo = hex4(lx, pos + 6);
		if (lo < 0xdc00 || lo > 0xdfff)
			goto bad;
		*cp = 0x10000 + (((uint32_t)v - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
		*end = pos + 10;
		return 0;
	}
	*cp = (uint32_t)v;
	*end = pos + 4;
	return 0;
bad:
	/* Quote what was written, up to the first character that cannot belong to it. */
	for (p = start + 2; p < lx->len && p < start + 12; p++) {
		int c = lx->src[p];

		if (!(hexval(c) >= 0 || c == '{' || c == '}' || c == '\\' || c == 'u'))
			break;
		if (c == '}') {
			p++;
			break;
		}
	}
	return lex_error(lx, start, "Invalid Unicode escape sequence: \"%.*s\".", (int)(p - start),
			 (const char *)lx->src + start);
}

/* How many bytes from pos (just past the opening quotes) to the closing ones, or to where
 * the string must end unterminated: a bound on the room its value needs. */
static size_t string_extent(const struct gql_lexer *lx, size_t pos, bool block)
{
	size_t p = pos;
	int c;

	while ((c = at(lx, p)) >= 0) {
		if (block) {
			if (c == '"' && at(lx, p + 1) == '"' && at(lx, p + 2) == '"')
				break;
			if (c == '\\' && at(lx, p + 1) == '"' && at(lx, p + 2) == '"' &&
			    at(lx, p + 3) == '"')
				p += 3;
		} else {
			if (c == '"' || c == '\n' || c == '\r')
				break;
			if (c == '\\' && at(lx, p + 1) >= 0)
				p++;
		}
		p++;
	}
	return p - pos;
}

/* Reads "..." at lx->pos into tok->value. */
static int read_string(struct gql_lexer *lx, struct gql_token *tok)
{
	size_t pos = lx->pos + 1, n, end = 0, cap;
	char *out, *w;
	uint32_t cp;
	int c;

	/* The decoded value is never longer than the source (an escape shrinks or stays), so room
	 * for the string's own bytes is enough: not for the rest of the document, which would
	 * make many short strings cost the document's size each. */
	/* Each step below writes no more than it reads, so the value's length is at most
	 * pos - (lx->pos + 1); the check at the top of the loop and the slack of 16 (a step reads
	 * 12 bytes at most) keep the writes inside even if the extent were wrong. */
	cap = string_extent(lx, pos, false);
	out = gql_arena_alloc(lx->arena, cap + 16);
	if (!out)
		return nomem(lx);
	w = out;
	for (;;) {
		c = at(lx, pos);
		if (pos - (lx->pos + 1) > cap)
			return lex_error(lx, pos, "Unterminated string."); /* not reached */
		if (c < 0 || c == '\n' || c == '\r')
			return lex_error(lx, pos, "Unterminated string.");
		if (c == '"')
			break;
		if (c == '\\') {
			c = at(lx, pos + 1);
			switch (c) {
			case '"':
			case '\\':
			case '/':
				*w++ = (char)c;
				break;
			case 'b':
				*w++ = '\b';
				break;
			case 'f':
				*w++ = '\f';
				break;
			case 'n':
				*w++ = '\n';
				break;
			case 'r':
				*w++ = '\r';
				break;
			case 't':
				*w++ = '\t';
				break;
			case 'u':
				if (read_unicode_escape(lx, pos + 2, &end, &cp))
					return -1;
				w += utf8_encode(cp, w);
				pos = end;
				continue;
			default:
				if (c < 0)
					return lex_error(lx, pos + 1, "Unterminated string.");
				if (c >= 0x20 && c < 0x7f)
					return lex_error(
					    lx, pos, "Invalid character escape sequence: \"\\%c\".",
					    c);
				return lex_error(lx, pos, "Invalid character escape sequence.");
			}
			pos += 2;
			continue;
		}
		if (c < 0x80) {
			*w++ = (char)c;
			pos++;
			continue;
		}
		n = source_char(lx, pos, &cp);
		if (!n)
			return -1;
		memcpy(w, lx->src + pos, n);
		w += n;
		pos += n;
	}
	*w = '\0';
	tok->kind = GQL_TOK_STRING;
	tok->value = out;
	tok->value_len = (size_t)(w - out);
	lx->pos = pos + 1;
	return 0;
}

/* One line of a block string's raw value: [*pos, *end); *pos moves to the next line. Returns
 * false when there are no more lines. */
static bool next_line(const char *raw, size_t n, size_t *pos, size_t *start, size_t *end,
		      bool *more)
{
	size_t p = *pos;

	if (!*more)
		return false;
	*start = p;
	while (p < n && raw[p] != '\n' && raw[p] != '\r')
		p++;
	*end = p;
	if (p < n) {
		if (raw[p] == '\r' && p + 1 < n && raw[p + 1] == '\n')
			p++;
		p++;
	} else {
		*more = false;
	}
	*pos = p;
	return true;
}

static size_t leading_ws(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/* The spec's BlockStringValue(rawValue): removes the common indentation of every line but the
 * first, then the blank lines at the start and the end, and joins the lines with \n. Writes
 * into out (at least n + 1 bytes) and returns the length. */
static size_t block_string_value(const char *raw, size_t n, char *out)
{
	size_t pos, s, e, ws, common = (size_t)-1, idx, first = (size_t)-1, last = 0, len = 0;
	bool more;

	pos = 0, more = true;
	for (idx = 0; next_line(raw, n, &pos, &s, &e, &more); idx++) {
		ws = leading_ws(raw + s, e - s);
		if (ws < e - s) {
			if (idx > 0 && ws < common)
				common = ws;
			if (first == (size_t)-1)
				first = idx;
			last = idx;
		}
	}
	if (first == (size_t)-1)
		return 0; /* every line is blank */
	pos = 0, more = true;
	for (idx = 0; next_line(raw, n, &pos, &s, &e, &more); idx++) {
		if (idx < first || idx > last)
			continue;
		if (idx > 0 && common != (size_t)-1)
			s += common < e - s ? common : e - s;
		if (idx > first)
			out[len++] = '\n';
		memcpy(out + len, raw + s, e - s);
		len += e - s;
	}
	return len;
}

/* Reads """...""" at lx->pos into tok->value. */
static int read_block_string(struct gql_lexer *lx, struct gql_token *tok)
{
	size_t pos = lx->pos + 3, n, rawlen = 0, cap;
	char *raw, *out;
	uint32_t cp;
	int c;

	/* The raw value is never longer than the source between the quotes, nor the value
	 * longer than the raw one. */
	cap = string_extent(lx, pos, true);
	raw = gql_arena_alloc(lx->arena, cap + 16);
	out = raw ? gql_arena_alloc(lx->arena, cap + 16) : NULL;
	if (!out)
		return nomem(lx);
	for (;;) {
		c = at(lx, pos);
		if (rawlen > cap)
			return lex_error(lx, pos, "Unterminated string."); /* not reached */
		if (c < 0) {
			return lex_error(lx, pos, "Unterminated string.");
		} else if (c == '"' && at(lx, pos + 1) == '"' && at(lx, pos + 2) == '"') {
			break;
		} else if (c == '\\' && at(lx, pos + 1) == '"' && at(lx, pos + 2) == '"' &&
			   at(lx, pos + 3) == '"') {
			memcpy(raw + rawlen, "\"\"\"", 3);
			rawlen += 3;
			pos += 4;
		} else if (c == '\n' || c == '\r') {
			raw[rawlen++] = (char)c;
			if (c == '\r' && at(lx, pos + 1) == '\n')
				raw[rawlen++] = '\n';
			lx->pos = pos;
			newline(lx);
			pos = lx->pos;
		} else if (c < 0x80) {
			raw[rawlen++] = (char)c;
			pos++;
		} else {
			n = source_char(lx, pos, &cp);
			if (!n)
				return -1;
			memcpy(raw + rawlen, lx->src + pos, n);
			rawlen += n;
			pos += n;
		}
	}
	tok->kind = GQL_TOK_BLOCK_STRING;
	tok->value_len = block_string_value(raw, rawlen, out);
	out[tok->value_len] = '\0';
	tok->value = out;
	lx->pos = pos + 3;
	return 0;
}

/* Skips whitespace, line terminators, commas, comments and byte order marks. */
static int skip_ignored(struct gql_lexer *lx)
{
	uint32_t cp;
	size_t n;
	int c;

	while (lx->pos < lx->len) {
		c = lx->src[lx->pos];
		if (c == ' ' || c == '\t' || c == ',') {
			lx->pos++;
		} else if (c == '\n' || c == '\r') {
			newline(lx);
		} else if (c == 0xef && at(lx, lx->pos + 1) == 0xbb &&
			   at(lx, lx->pos + 2) == 0xbf) {
			lx->pos += 3; /* U+FEFF, the byte order mark */
		} else if (c == '#') {
			lx->pos++;
			while (lx->pos < lx->len && lx->src[lx->pos] != '\n' &&
			       lx->src[lx->pos] != '\r') {
				if (lx->src[lx->pos] < 0x80) {
					lx->pos++;
					continue;
				}
				n = source_char(lx, lx->pos, &cp);
				if (!n)
					return -1;
				lx->pos += n;
			}
		} else {
			break;
		}
	}
	return 0;
}

int gql_lexer_next(struct gql_lexer *lx, struct gql_token *tok)
{
	static const char punct[] = "!$&()[]{}:=@|";
	static const enum gql_tok punct_kind[] = {
	    GQL_TOK_BANG,      GQL_TOK_DOLLAR,	  GQL_TOK_AMP,	   GQL_TOK_PAREN_L, GQL_TOK_PAREN_R,
	    GQL_TOK_BRACKET_L, GQL_TOK_BRACKET_R, GQL_TOK_BRACE_L, GQL_TOK_BRACE_R, GQL_TOK_COLON,
	    GQL_TOK_EQUALS,    GQL_TOK_AT,	  GQL_TOK_PIPE,
	};
	const char *p;
	char d[40];
	int c;

	if (skip_ignored(lx))
		return -1;
	memset(tok, 0, sizeof(*tok));
	tok->start = lx->pos;
	tok->loc.line = lx->line;
	tok->loc.column = column_at(lx, lx->pos);
	if (lx->pos >= lx->len) {
		tok->kind = GQL_TOK_EOF;
		tok->end = lx->pos;
		return 0;
	}
	c = lx->src[lx->pos];
	if (c != 0 && (p = strchr(punct, c)) != NULL) {
		tok->kind = punct_kind[p - punct];
		lx->pos++;
	} else if (c == '.') {
		if (at(lx, lx->pos + 1) != '.' || at(lx, lx->pos + 2) != '.')
			return lex_error(lx, lx->pos, "Unexpected character: \".\".");
		tok->kind = GQL_TOK_SPREAD;
		lx->pos += 3;
	} else if (is_name_start(c)) {
		while (is_name_start(at(lx, lx->pos)) || is_digit(at(lx, lx->pos)))
			lx->pos++;
		tok->kind = GQL_TOK_NAME;
	} else if (c == '-' || is_digit(c)) {
		if (read_number(lx, tok))
			return -1;
	} else if (c == '"') {
		if (at(lx, lx->pos + 1) == '"' && at(lx, lx->pos + 2) == '"') {
			if (read_block_string(lx, tok))
				return -1;
		} else if (read_string(lx, tok)) {
			return -1;
		}
	} else {
		if (c >= 0x80) {
			uint32_t cp;

			if (!source_char(lx, lx->pos, &cp))
				return -1;
		}
		char_desc(lx, lx->pos, d, sizeof(d));
		return lex_error(lx, lx->pos, "Unexpected character: %s.", d);
	}
	tok->end = lx->pos;
	return 0;
}
