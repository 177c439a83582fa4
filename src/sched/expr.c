/* expr.c: the constraint expression language: a recursive-descent parser into one compact block
 * of nodes, and an evaluator over it that allocates nothing. See expr.h for the language and
 * docs/tasks.md for its semantics as users see them. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sched/expr.h"

/* ---- the compiled form ---- */

enum node_kind {
	N_NUM,	/* num */
	N_STR,	/* a: pool offset, b: length */
	N_BOOL, /* b: 0 or 1 */
	N_LIST, /* a: first element, b: count; elements chained by next */
	N_PATH, /* op: root (0 task, 1 worker), field: builtin or F_NONE; a: first segment or -1 */
	N_SEGK, /* a path segment by key: a pool offset (NUL-terminated) */
	N_SEGI, /* a path segment by list index: b */
	N_NOT,	/* a: operand */
	N_AND,	/* a: first operand, b: count; chained by next */
	N_OR,
	N_CMP, /* op: enum cmp_op; a, b: operands */
};

enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN };

/* The static type of a node, for the checks done at compile time. */
enum stype { S_ANY, S_BOOL, S_NUM, S_STR, S_LIST };

/* Builtin fields: numbers from ctx->num, or the two hardware lists. */
#define F_NONE	    0xff
#define F_TASK_HW   (DTF_EXPR_NUM__COUNT)
#define F_WORKER_HW (DTF_EXPR_NUM__COUNT + 1)

struct node {
	uint8_t kind;
	uint8_t op;
	uint8_t field;
	uint8_t stype;
	uint16_t pos; /* byte offset in the source, for messages */
	int32_t a, b, next;
	double num;
};

struct dtf_expr {
	const struct node *nodes;
	const char *pool;
	const char *src;
	int32_t root;
	bool uses_available;
};

/* ---- values during evaluation (never allocated: strings and lists point into the program,
 * the context's documents or the caller's structures) ---- */

enum vtype { V_NULL, V_BOOL, V_NUM, V_STR, V_JLIST, V_LLIST, V_OBJ };

struct val {
	enum vtype t;
	bool b;
	double n;
	const char *s;
	size_t len;
	const json_t *j; /* V_JLIST, V_OBJ */
	int32_t lit;	 /* V_LLIST: the N_LIST node */
};

/* ---- the parser ---- */

enum tok {
	T_END,
	T_NUM,
	T_STR,
	T_IDENT,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_DOT,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_AND,
	T_OR,
	T_NOT,
};

struct parser {
	const char *src;
	size_t len;
	size_t pos;    /* where the lexer continues */
	enum tok tok;  /* the current token */
	size_t tstart; /* its offset */
	size_t tlen;   /* its length in the source */
	double tnum;   /* T_NUM */
	int depth;
	bool failed;
	char *err;
	size_t errlen;
	size_t nn, pl;
	struct node nodes[DTF_EXPR_MAX_NODES];
	char pool[DTF_EXPR_MAX_LEN + DTF_EXPR_MAX_NODES + 1];
};

static const struct {
	const char *name;
	uint8_t root, field;
} builtins[] = {
    {"cpu", 0, DTF_EXPR_TASK_CPU},
    {"memory", 0, DTF_EXPR_TASK_MEMORY},
    {"gpu_memory", 0, DTF_EXPR_TASK_GPU_MEMORY},
    {"priority", 0, DTF_EXPR_TASK_PRIORITY},
    {"hardware", 0, F_TASK_HW},
    {"cpu", 1, DTF_EXPR_WORKER_CPU},
    {"memory", 1, DTF_EXPR_WORKER_MEMORY},
    {"gpu_memory", 1, DTF_EXPR_WORKER_GPU_MEMORY},
    {"slots", 1, DTF_EXPR_WORKER_SLOTS},
    {"available_cpu", 1, DTF_EXPR_WORKER_AVAILABLE_CPU},
    {"available_memory", 1, DTF_EXPR_WORKER_AVAILABLE_MEMORY},
    {"available_gpu_memory", 1, DTF_EXPR_WORKER_AVAILABLE_GPU_MEMORY},
    {"available_slots", 1, DTF_EXPR_WORKER_AVAILABLE_SLOTS},
    {"hardware", 1, F_WORKER_HW},
};

/* The 1-based character (not byte) position of byte offset off. */
static size_t char_pos(const char *s, size_t off)
{
	size_t i, n = 1;

	for (i = 0; i < off; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static void fail_at(struct parser *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_at(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return;
	p->failed = true;
	n = snprintf(p->err, p->errlen, "position %zu: ", char_pos(p->src, off));
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '-';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Scans a number at p->pos (optional '-', digits, fraction, exponent); sets tnum. */
static void lex_number(struct parser *p)
{
	const char *s = p->src;
	size_t i = p->pos, start = p->pos, digits = 0;
	char buf[64];

	if (s[i] == '-')
		i++;
	while (is_digit(s[i]))
		i++, digits++;
	if (s[i] == '.') {
		i++;
		while (is_digit(s[i]))
			i++, digits++;
	}
	if (digits && (s[i] == 'e' || s[i] == 'E')) {
		size_t e = i + 1;
		if (s[e] == '+' || s[e] == '-')
			e++;
		if (is_digit(s[e])) {
			while (is_digit(s[e]))
				e++;
			i = e;
		}
	}
	if (!digits || is_ident(s[i]) || i - start >= sizeof(buf)) {
		fail_at(p, start, "malformed number");
		return;
	}
	memcpy(buf, s + start, i - start);
	buf[i - start] = '\0';
	p->tnum = strtod(buf, NULL);
	if (!isfinite(p->tnum)) {
		fail_at(p, start, "number out of range");
		return;
	}
	p->tok = T_NUM;
	p->tlen = i - start;
	p->pos = i;
}

/* Scans a quoted string (checked here, decoded by str_node). */
static void lex_string(struct parser *p)
{
	const char *s = p->src;
	char q = s[p->pos];
	size_t i = p->pos + 1;

	for (;;) {
		if (i >= p->len) {
			fail_at(p, p->pos, "unterminated string");
			return;
		}
		if (s[i] == q)
			break;
		if ((unsigned char)s[i] < 0x20) {
			fail_at(p, i, "control character in a string");
			return;
		}
		if (s[i] == '\\') {
			if (i + 1 >= p->len || !strchr("\"'\\nt", s[i + 1])) {
				fail_at(p, i,
					"unknown escape in a string (use \\\" \\' \\\\ \\n \\t)");
				return;
			}
			i++;
		}
		i++;
	}
	p->tok = T_STR;
	p->tlen = i + 1 - p->pos;
	p->pos = i + 1;
}

static void next(struct parser *p)
{
	const char *s = p->src;
	char c;

	if (p->failed)
		return;
	while (p->pos < p->len &&
	       (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
		p->pos++;
	p->tstart = p->pos;
	p->tlen = 1;
	if (p->pos >= p->len) {
		p->tok = T_END;
		p->tlen = 0;
		return;
	}
	c = s[p->pos];
	if (is_digit(c) || ((c == '-' || c == '.') &&
			    (is_digit(s[p->pos + 1]) || (s[p->pos + 1] == '.' && c == '-')))) {
		lex_number(p);
		return;
	}
	if (c == '"' || c == '\'') {
		lex_string(p);
		return;
	}
	if (is_ident_start(c)) {
		size_t i = p->pos;
		while (i < p->len && is_ident(s[i]))
			i++;
		p->tok = T_IDENT;
		p->tlen = i - p->pos;
		p->pos = i;
		return;
	}
	p->pos++;
	switch (c) {
	case '(':
		p->tok = T_LPAREN;
		return;
	case ')':
		p->tok = T_RPAREN;
		return;
	case '[':
		p->tok = T_LBRACK;
		return;
	case ']':
		p->tok = T_RBRACK;
		return;
	case ',':
		p->tok = T_COMMA;
		return;
	case '.':
		p->tok = T_DOT;
		return;
	case '<':
	case '>':
		if (s[p->pos] == '=') {
			p->pos++;
			p->tlen = 2;
			p->tok = c == '<' ? T_LE : T_GE;
		} else {
			p->tok = c == '<' ? T_LT : T_GT;
		}
		return;
	case '=':
		if (s[p->pos] == '=') {
			p->pos++;
			p->tlen = 2;
			p->tok = T_EQ;
			return;
		}
		fail_at(p, p->tstart, "'=' is not an operator (use == to compare)");
		return;
	case '!':
		if (s[p->pos] == '=') {
			p->pos++;
			p->tlen = 2;
			p->tok = T_NE;
		} else {
			p->tok = T_NOT;
		}
		return;
	case '&':
	case '|':
		if (s[p->pos] == c) {
			p->pos++;
			p->tlen = 2;
			p->tok = c == '&' ? T_AND : T_OR;
			return;
		}
		fail_at(p, p->tstart, "'%c' is not an operator (use %c%c)", c, c, c);
		return;
	default:
		if ((unsigned char)c >= 0x80)
			fail_at(p, p->tstart, "unexpected character (names are ASCII; quote text)");
		else if ((unsigned char)c < 0x20 || c == 0x7f)
			fail_at(p, p->tstart, "unexpected control character");
		else
			fail_at(p, p->tstart, "unexpected '%c'", c);
		return;
	}
}

static bool tok_is_word(const struct parser *p, const char *w)
{
	return p->tok == T_IDENT && p->tlen == strlen(w) &&
	       memcmp(p->src + p->tstart, w, p->tlen) == 0;
}

static int32_t new_node(struct parser *p, enum node_kind kind, size_t pos)
{
	struct node *n;

	if (p->failed)
		return -1;
	if (p->nn >= DTF_EXPR_MAX_NODES) {
		fail_at(p, pos, "the expression is too large (at most %d terms)",
			DTF_EXPR_MAX_NODES);
		return -1;
	}
	n = &p->nodes[p->nn];
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	n->pos = (uint16_t)pos;
	n->field = F_NONE;
	n->a = n->b = n->next = -1;
	return (int32_t)p->nn++;
}

/* Appends len bytes and a NUL to the pool; returns the offset. */
static int32_t pool_add(struct parser *p, const char *s, size_t len)
{
	size_t off = p->pl;

	/* The pool holds at most the source's bytes plus one NUL per node: never full. */
	memcpy(p->pool + p->pl, s, len);
	p->pl += len;
	p->pool[p->pl++] = '\0';
	return (int32_t)off;
}

/* Decodes the current string token into the pool. */
static int32_t str_node(struct parser *p)
{
	int32_t n = new_node(p, N_STR, p->tstart);
	size_t i, off = p->pl;

	if (n < 0)
		return -1;
	for (i = p->tstart + 1; i < p->tstart + p->tlen - 1; i++) {
		char c = p->src[i];
		if (c == '\\') {
			c = p->src[++i];
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		}
		p->pool[p->pl++] = c;
	}
	p->pool[p->pl++] = '\0';
	p->nodes[n].a = (int32_t)off;
	p->nodes[n].b = (int32_t)(p->pl - off - 1);
	p->nodes[n].stype = S_STR;
	return n;
}

static int32_t parse_or(struct parser *p);

static const char *stype_name(uint8_t t)
{
	switch (t) {
	case S_BOOL:
		return "a condition";
	case S_NUM:
		return "a number";
	case S_STR:
		return "a string";
	case S_LIST:
		return "a list";
	default:
		return "a field";
	}
}

/* A condition is needed here (operand of && || ! or the whole expression). */
static void want_condition(struct parser *p, int32_t n)
{
	if (p->failed || n < 0)
		return;
	if (p->nodes[n].stype != S_BOOL && p->nodes[n].stype != S_ANY)
		fail_at(p, p->nodes[n].pos,
			"expected a condition (a comparison, true/false or a field), found %s",
			stype_name(p->nodes[n].stype));
}

static bool enter(struct parser *p)
{
	if (++p->depth > DTF_EXPR_MAX_DEPTH) {
		fail_at(p, p->tstart, "nested too deeply (at most %d levels)", DTF_EXPR_MAX_DEPTH);
		return false;
	}
	return true;
}

/* task.a.b[0]["x y"]: the current token is the root word. */
static int32_t parse_path(struct parser *p)
{
	int32_t n = new_node(p, N_PATH, p->tstart), last = -1;
	uint8_t root = tok_is_word(p, "task") ? 0 : 1;
	size_t nseg = 0, i;

	if (n < 0)
		return -1;
	p->nodes[n].op = root;
	p->nodes[n].stype = S_ANY;
	next(p);
	if (p->tok != T_DOT && !p->failed) {
		fail_at(p, p->tstart, "expected '.' and a field name after '%s'",
			root ? "worker" : "task");
		return -1;
	}
	while (!p->failed && (p->tok == T_DOT || p->tok == T_LBRACK)) {
		int32_t seg;
		if (p->tok == T_DOT) {
			next(p);
			if (p->tok != T_IDENT) {
				fail_at(p, p->tstart, "expected a field name after '.'");
				return -1;
			}
			seg = new_node(p, N_SEGK, p->tstart);
			if (seg < 0)
				return -1;
			p->nodes[seg].a = pool_add(p, p->src + p->tstart, p->tlen);
		} else {
			next(p);
			if (p->tok == T_STR) {
				int32_t s = str_node(p);
				if (s < 0)
					return -1;
				p->nodes[s].kind = N_SEGK;
				seg = s;
			} else if (p->tok == T_NUM && p->tnum >= 0 && p->tnum < 1e6 &&
				   p->tnum == floor(p->tnum)) {
				seg = new_node(p, N_SEGI, p->tstart);
				if (seg < 0)
					return -1;
				p->nodes[seg].b = (int32_t)p->tnum;
			} else {
				fail_at(p, p->tstart,
					"expected a quoted key or a list index inside [ ]");
				return -1;
			}
			next(p);
			if (p->tok != T_RBRACK) {
				fail_at(p, p->tstart, "expected ']'");
				return -1;
			}
		}
		if (last < 0)
			p->nodes[n].a = seg;
		else
			p->nodes[last].next = seg;
		last = seg;
		nseg++;
		next(p);
	}
	if (p->failed)
		return -1;
	/* A builtin field as the first segment: its value comes from the caller's structures. */
	{
		struct node *first = &p->nodes[p->nodes[n].a];
		for (i = 0; first->kind == N_SEGK && i < sizeof(builtins) / sizeof(builtins[0]);
		     i++) {
			if (builtins[i].root == root &&
			    strcmp(p->pool + first->a, builtins[i].name) == 0) {
				p->nodes[n].field = builtins[i].field;
				p->nodes[n].a = first->next;
				if (nseg == 1)
					p->nodes[n].stype =
					    builtins[i].field >= F_TASK_HW ? S_LIST : S_NUM;
				break;
			}
		}
	}
	return n;
}

static int32_t parse_list(struct parser *p)
{
	int32_t n = new_node(p, N_LIST, p->tstart), last = -1;

	if (n < 0 || !enter(p))
		return -1;
	p->nodes[n].stype = S_LIST;
	p->nodes[n].b = 0;
	next(p);
	if (p->tok == T_RBRACK) {
		next(p);
		p->depth--;
		return n;
	}
	for (;;) {
		int32_t e = parse_or(p);
		if (e < 0)
			return -1;
		if (last < 0)
			p->nodes[n].a = e;
		else
			p->nodes[last].next = e;
		last = e;
		p->nodes[n].b++;
		if (p->tok == T_COMMA) {
			next(p);
			continue;
		}
		if (p->tok != T_RBRACK) {
			fail_at(p, p->tstart, "expected ',' or ']' in a list");
			return -1;
		}
		next(p);
		break;
	}
	p->depth--;
	return n;
}

static int32_t parse_primary(struct parser *p)
{
	int32_t n;

	if (p->failed)
		return -1;
	switch (p->tok) {
	case T_NUM:
		n = new_node(p, N_NUM, p->tstart);
		if (n < 0)
			return -1;
		p->nodes[n].num = p->tnum;
		p->nodes[n].stype = S_NUM;
		next(p);
		return n;
	case T_STR:
		n = str_node(p);
		next(p);
		return n;
	case T_LPAREN:
		if (!enter(p))
			return -1;
		next(p);
		n = parse_or(p);
		if (n < 0)
			return -1;
		if (p->tok != T_RPAREN) {
			fail_at(p, p->tstart, "expected ')'");
			return -1;
		}
		p->depth--;
		next(p);
		return n;
	case T_LBRACK:
		return parse_list(p);
	case T_IDENT:
		if (tok_is_word(p, "true") || tok_is_word(p, "false")) {
			n = new_node(p, N_BOOL, p->tstart);
			if (n < 0)
				return -1;
			p->nodes[n].b = tok_is_word(p, "true");
			p->nodes[n].stype = S_BOOL;
			next(p);
			return n;
		}
		if (tok_is_word(p, "task") || tok_is_word(p, "worker"))
			return parse_path(p);
		fail_at(p, p->tstart,
			"unknown name '%.*s' (fields start with task. or worker.; quote text)",
			(int)(p->tlen > 64 ? 64 : p->tlen), p->src + p->tstart);
		return -1;
	case T_END:
		fail_at(p, p->tstart, "expected an operand, found the end of the expression");
		return -1;
	default:
		fail_at(p, p->tstart, "expected an operand");
		return -1;
	}
}

static bool is_cmp(const struct parser *p, enum cmp_op *op)
{
	switch (p->tok) {
	case T_EQ:
		*op = OP_EQ;
		return true;
	case T_NE:
		*op = OP_NE;
		return true;
	case T_LT:
		*op = OP_LT;
		return true;
	case T_LE:
		*op = OP_LE;
		return true;
	case T_GT:
		*op = OP_GT;
		return true;
	case T_GE:
		*op = OP_GE;
		return true;
	default:
		if (tok_is_word(p, "in")) {
			*op = OP_IN;
			return true;
		}
		return false;
	}
}

/* The checks a comparison's static operand types allow. */
static void check_cmp(struct parser *p, enum cmp_op op, size_t at, const struct node *l,
		      const struct node *r)
{
	uint8_t a = l->stype, b = r->stype;

	if (op == OP_IN) {
		if (b != S_ANY && b != S_LIST && b != S_STR)
			fail_at(p, r->pos,
				"the right side of 'in' must be a list, a string or a field, "
				"not %s",
				stype_name(b));
		return;
	}
	if (a == S_ANY || b == S_ANY)
		return;
	if (a != b)
		fail_at(p, at, "cannot compare %s with %s", stype_name(a), stype_name(b));
	else if (op != OP_EQ && op != OP_NE && a != S_NUM && a != S_STR)
		fail_at(p, at, "'<', '<=', '>' and '>=' compare numbers or strings, not %s",
			stype_name(a));
}

static int32_t parse_cmp(struct parser *p)
{
	int32_t l = parse_primary(p), r, n;
	enum cmp_op op, op2;
	size_t at;

	if (l < 0 || !is_cmp(p, &op))
		return l;
	at = p->tstart;
	n = new_node(p, N_CMP, at);
	if (n < 0)
		return -1;
	next(p);
	r = parse_primary(p);
	if (r < 0)
		return -1;
	if (is_cmp(p, &op2)) {
		fail_at(p, p->tstart, "comparisons do not chain: join them with &&");
		return -1;
	}
	check_cmp(p, op, at, &p->nodes[l], &p->nodes[r]);
	p->nodes[n].op = (uint8_t)op;
	p->nodes[n].a = l;
	p->nodes[n].b = r;
	p->nodes[n].stype = S_BOOL;
	return p->failed ? -1 : n;
}

static int32_t parse_unary(struct parser *p)
{
	int32_t n, e;

	if (p->tok != T_NOT)
		return parse_cmp(p);
	if (!enter(p))
		return -1;
	n = new_node(p, N_NOT, p->tstart);
	next(p);
	e = parse_unary(p);
	if (n < 0 || e < 0)
		return -1;
	want_condition(p, e);
	p->nodes[n].a = e;
	p->nodes[n].stype = S_BOOL;
	p->depth--;
	return p->failed ? -1 : n;
}

/* One level of && or ||: operands chained under one node (so long chains stay shallow). */
static int32_t parse_chain(struct parser *p, enum tok optok, enum node_kind kind,
			   int32_t (*sub)(struct parser *))
{
	int32_t first = sub(p), n, last;

	if (first < 0 || p->tok != optok)
		return first;
	want_condition(p, first);
	n = new_node(p, kind, p->nodes[first].pos);
	if (n < 0)
		return -1;
	p->nodes[n].a = first;
	p->nodes[n].b = 1;
	p->nodes[n].stype = S_BOOL;
	last = first;
	while (p->tok == optok && !p->failed) {
		int32_t e;
		next(p);
		e = sub(p);
		if (e < 0)
			return -1;
		want_condition(p, e);
		p->nodes[last].next = e;
		last = e;
		p->nodes[n].b++;
	}
	return p->failed ? -1 : n;
}

static int32_t parse_and(struct parser *p)
{
	return parse_chain(p, T_AND, N_AND, parse_unary);
}

static int32_t parse_or(struct parser *p)
{
	return parse_chain(p, T_OR, N_OR, parse_and);
}

void dtf_expr_ctx_init(struct dtf_expr_ctx *ctx)
{
	int i;

	memset(ctx, 0, sizeof(*ctx));
	for (i = 0; i < DTF_EXPR_NUM__COUNT; i++)
		ctx->num[i] = NAN;
}

int dtf_expr_compile(const char *src, struct dtf_expr **out, char *err, size_t errlen)
{
	struct parser *p = NULL;
	struct dtf_expr *e;
	size_t len, i, hdr, nodes_sz;
	int32_t root;
	int rc = 0;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	len = src ? strnlen(src, DTF_EXPR_MAX_LEN + 1) : 0;
	if (len > DTF_EXPR_MAX_LEN) {
		snprintf(err, errlen, "position %d: the expression is too long (at most %d bytes)",
			 DTF_EXPR_MAX_LEN + 1, DTF_EXPR_MAX_LEN);
		return DTF_ETOOBIG;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return DTF_ENOMEM;
	}
	p->src = src ? src : "";
	p->len = len;
	p->err = err;
	p->errlen = errlen;
	next(p);
	if (p->tok == T_END && !p->failed) {
		fail_at(p, 0, "the expression is empty");
	}
	root = parse_or(p);
	if (!p->failed && p->tok != T_END)
		fail_at(p, p->tstart, "unexpected '%.*s' after a complete expression",
			(int)(p->tlen > 32 ? 32
			      : p->tlen	   ? p->tlen
					   : 1),
			p->src + p->tstart);
	if (!p->failed)
		want_condition(p, root);
	if (p->failed || root < 0) {
		rc = DTF_EPARSE;
		goto out;
	}
	/* One block: header, nodes, pool, source. */
	hdr = (sizeof(struct dtf_expr) + _Alignof(struct node) - 1) / _Alignof(struct node) *
	      _Alignof(struct node);
	nodes_sz = p->nn * sizeof(struct node);
	e = malloc(hdr + nodes_sz + p->pl + len + 1);
	if (!e) {
		snprintf(err, errlen, "out of memory");
		rc = DTF_ENOMEM;
		goto out;
	}
	memcpy((char *)e + hdr, p->nodes, nodes_sz);
	memcpy((char *)e + hdr + nodes_sz, p->pool, p->pl);
	memcpy((char *)e + hdr + nodes_sz + p->pl, p->src, len);
	((char *)e)[hdr + nodes_sz + p->pl + len] = '\0';
	e->nodes = (const struct node *)(const void *)((char *)e + hdr);
	e->pool = (char *)e + hdr + nodes_sz;
	e->src = (char *)e + hdr + nodes_sz + p->pl;
	e->root = root;
	e->uses_available = false;
	for (i = 0; i < p->nn; i++)
		if (p->nodes[i].kind == N_PATH &&
		    p->nodes[i].field >= DTF_EXPR_WORKER_AVAILABLE_CPU &&
		    p->nodes[i].field <= DTF_EXPR_WORKER_AVAILABLE_SLOTS)
			e->uses_available = true;
	*out = e;
out:
	free(p);
	return rc;
}

void dtf_expr_free(struct dtf_expr *e)
{
	free(e);
}

const char *dtf_expr_source(const struct dtf_expr *e)
{
	return e ? e->src : "";
}

bool dtf_expr_uses_available(const struct dtf_expr *e)
{
	return e && e->uses_available;
}

/* ---- evaluation: recursion is bounded by the tree's depth, which the parser limits ---- */

static struct val from_json(const json_t *j)
{
	struct val v = {.t = V_NULL};

	if (!j)
		return v;
	switch (json_typeof(j)) {
	case JSON_STRING:
		v.t = V_STR;
		v.s = json_string_value(j);
		v.len = json_string_length(j);
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		v.t = V_NUM;
		v.n = json_number_value(j);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		v.t = V_BOOL;
		v.b = json_is_true(j);
		break;
	case JSON_ARRAY:
		v.t = V_JLIST;
		v.j = j;
		break;
	case JSON_OBJECT:
		v.t = V_OBJ;
		v.j = j;
		break;
	default:
		break;
	}
	return v;
}

static struct val eval(const struct dtf_expr *e, int32_t n, const struct dtf_expr_ctx *ctx);

static struct val eval_path(const struct dtf_expr *e, const struct node *nd,
			    const struct dtf_expr_ctx *ctx)
{
	struct val v = {.t = V_NULL};
	const json_t *j;
	int32_t s;

	if (nd->field < DTF_EXPR_NUM__COUNT) {
		if (nd->a >= 0 || isnan(ctx->num[nd->field]))
			return v;
		v.t = V_NUM;
		v.n = ctx->num[nd->field];
		return v;
	}
	if (nd->field == F_TASK_HW)
		j = ctx->task_hardware;
	else if (nd->field == F_WORKER_HW)
		j = ctx->worker_hardware;
	else
		j = nd->op ? ctx->worker : ctx->task;
	for (s = nd->a; s >= 0 && j; s = e->nodes[s].next) {
		const struct node *seg = &e->nodes[s];
		if (seg->kind == N_SEGK)
			j = json_is_object(j) ? json_object_get(j, e->pool + seg->a) : NULL;
		else
			j = json_is_array(j) ? json_array_get(j, (size_t)seg->b) : NULL;
	}
	return from_json(j);
}

/* Iterates a list value (a JSON array or a list literal). */
struct iter {
	const struct val *list;
	size_t i;
	int32_t cur;
};

static void iter_init(struct iter *it, const struct dtf_expr *e, const struct val *list)
{
	it->list = list;
	it->i = 0;
	it->cur = list->t == V_LLIST ? e->nodes[list->lit].a : -1;
}

static bool iter_next(struct iter *it, const struct dtf_expr *e, const struct dtf_expr_ctx *ctx,
		      struct val *out)
{
	if (it->list->t == V_JLIST) {
		if (it->i >= json_array_size(it->list->j))
			return false;
		*out = from_json(json_array_get(it->list->j, it->i++));
		return true;
	}
	if (it->cur < 0)
		return false;
	*out = eval(e, it->cur, ctx);
	it->cur = e->nodes[it->cur].next;
	return true;
}

static bool is_list(const struct val *v)
{
	return v->t == V_JLIST || v->t == V_LLIST;
}

static size_t list_len(const struct dtf_expr *e, const struct val *v)
{
	return v->t == V_JLIST ? json_array_size(v->j) : (size_t)e->nodes[v->lit].b;
}

/* Equality: values of the same type; null and objects equal nothing. -1 when the two are not
 * comparable (so both == and != are false). */
static int equal(const struct dtf_expr *e, const struct val *a, const struct val *b,
		 const struct dtf_expr_ctx *ctx, int depth)
{
	if (a->t == V_NULL || b->t == V_NULL || a->t == V_OBJ || b->t == V_OBJ)
		return -1;
	if (is_list(a) && is_list(b)) {
		struct iter ia, ib;
		struct val x, y;
		if (depth > DTF_EXPR_MAX_DEPTH)
			return -1;
		if (list_len(e, a) != list_len(e, b))
			return 0;
		iter_init(&ia, e, a);
		iter_init(&ib, e, b);
		while (iter_next(&ia, e, ctx, &x) && iter_next(&ib, e, ctx, &y))
			if (equal(e, &x, &y, ctx, depth + 1) != 1)
				return 0;
		return 1;
	}
	if (a->t != b->t)
		return -1;
	switch (a->t) {
	case V_BOOL:
		return a->b == b->b;
	case V_NUM:
		return a->n == b->n;
	case V_STR:
		return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	default:
		return -1;
	}
}

/* x in list: x equals an element; a list x: any of its elements is in the list (an empty list
 * asks for nothing and is true). */
static bool member(const struct dtf_expr *e, const struct val *x, const struct val *list,
		   const struct dtf_expr_ctx *ctx)
{
	struct iter it;
	struct val y;

	if (is_list(x)) {
		struct iter ix;
		struct val xe;
		if (list_len(e, x) == 0)
			return true;
		iter_init(&ix, e, x);
		while (iter_next(&ix, e, ctx, &xe)) {
			if (is_list(&xe))
				continue;
			if (member(e, &xe, list, ctx))
				return true;
		}
		return false;
	}
	iter_init(&it, e, list);
	while (iter_next(&it, e, ctx, &y))
		if (equal(e, x, &y, ctx, 0) == 1)
			return true;
	return false;
}

static bool compare(const struct dtf_expr *e, enum cmp_op op, const struct val *a,
		    const struct val *b, const struct dtf_expr_ctx *ctx)
{
	int c;

	if (a->t == V_NULL || b->t == V_NULL)
		return false;
	switch (op) {
	case OP_EQ:
		return equal(e, a, b, ctx, 0) == 1;
	case OP_NE:
		return equal(e, a, b, ctx, 0) == 0;
	case OP_IN:
		if (is_list(b))
			return member(e, a, b, ctx);
		if (b->t == V_OBJ)
			return a->t == V_STR && json_object_get(b->j, a->s) != NULL;
		if (b->t == V_STR && a->t == V_STR)
			return a->len <= b->len && memmem(b->s, b->len, a->s, a->len) != NULL;
		return false;
	default:
		break;
	}
	if (a->t == V_NUM && b->t == V_NUM) {
		c = (a->n > b->n) - (a->n < b->n);
	} else if (a->t == V_STR && b->t == V_STR) {
		size_t m = a->len < b->len ? a->len : b->len;
		c = memcmp(a->s, b->s, m);
		if (c == 0)
			c = (a->len > b->len) - (a->len < b->len);
	} else {
		return false;
	}
	switch (op) {
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static bool truth(const struct val *v)
{
	return v->t == V_BOOL && v->b;
}

static struct val eval(const struct dtf_expr *e, int32_t n, const struct dtf_expr_ctx *ctx)
{
	const struct node *nd = &e->nodes[n];
	struct val v = {.t = V_BOOL}, a, b;
	int32_t c;

	switch (nd->kind) {
	case N_NUM:
		v.t = V_NUM;
		v.n = nd->num;
		return v;
	case N_STR:
		v.t = V_STR;
		v.s = e->pool + nd->a;
		v.len = (size_t)nd->b;
		return v;
	case N_BOOL:
		v.b = nd->b != 0;
		return v;
	case N_LIST:
		v.t = V_LLIST;
		v.lit = n;
		return v;
	case N_PATH:
		return eval_path(e, nd, ctx);
	case N_NOT:
		a = eval(e, nd->a, ctx);
		v.b = !truth(&a);
		return v;
	case N_AND:
	case N_OR:
		v.b = nd->kind == N_AND;
		for (c = nd->a; c >= 0; c = e->nodes[c].next) {
			a = eval(e, c, ctx);
			if (truth(&a) != (nd->kind == N_AND)) {
				v.b = !v.b;
				break;
			}
		}
		return v;
	case N_CMP:
		a = eval(e, nd->a, ctx);
		b = eval(e, nd->b, ctx);
		v.b = compare(e, (enum cmp_op)nd->op, &a, &b, ctx);
		return v;
	default:
		v.t = V_NULL;
		return v;
	}
}

bool dtf_expr_eval(const struct dtf_expr *e, const struct dtf_expr_ctx *ctx)
{
	struct val v;

	if (!e)
		return false;
	v = eval(e, e->root, ctx);
	return truth(&v);
}
