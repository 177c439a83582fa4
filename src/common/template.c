/* template.c: the message template language of template.h. A template compiles to a flat array of
 * nodes (literal text, variables, sections whose body is the nodes up to their `end`), so
 * rendering is a walk over indexes into one copy of the source: no tree to free, no recursion
 * deeper than the section nesting the compiler allowed. */
#include "common/template.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"

enum node_kind {
	N_TEXT,
	N_VAR,	    /* {{name}}: escaped */
	N_RAW,	    /* {{{name}}}, {{& name}} */
	N_SECTION,  /* {{#name}} */
	N_INVERTED, /* {{^name}} */
};

struct node {
	enum node_kind kind;
	unsigned line, column;
	size_t off, len; /* TEXT: the text; the others: the name */
	size_t end;	 /* SECTION, INVERTED: the index of the first node after the body */
};

struct dtf_tpl {
	char *src;
	struct node *nodes;
	size_t n, cap;
};

static void set_err(struct dtf_tpl_error *err, unsigned line, unsigned column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_err(struct dtf_tpl_error *err, unsigned line, unsigned column, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->line = line;
	err->column = column;
}

/* ---- compiling ---- */

struct compiler {
	struct dtf_tpl *t;
	const char *s;
	size_t len;
	struct dtf_tpl_error *err;
};

/* The line and column of offset off (1-based, columns in bytes). */
static void where(const char *s, size_t off, unsigned *line, unsigned *column)
{
	size_t i, start = 0;
	unsigned l = 1;

	for (i = 0; i < off; i++)
		if (s[i] == '\n') {
			l++;
			start = i + 1;
		}
	*line = l;
	*column = (unsigned)(off - start + 1);
}

static int add_node(struct compiler *c, enum node_kind kind, size_t at, size_t off, size_t len)
{
	struct dtf_tpl *t = c->t;
	struct node *nd;

	if (kind == N_TEXT && len == 0)
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct node *nn = realloc(t->nodes, cap * sizeof(*nn));
		if (!nn) {
			set_err(c->err, 0, 0, "out of memory");
			return DTF_ENOMEM;
		}
		t->nodes = nn;
		t->cap = cap;
	}
	nd = &t->nodes[t->n++];
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	nd->off = off;
	nd->len = len;
	where(c->s, at, &nd->line, &nd->column);
	return 0;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.';
}

/* Checks a name: "." alone, or dot-separated non-empty parts of name characters. */
static bool valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > DTF_TPL_MAX_NAME)
		return false;
	if (len == 1 && s[0] == '.')
		return true;
	if (s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (!name_char(s[i]))
			return false;
		if (s[i] == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

/* Finds "}}" (or "}}}") from i; the offset of its first brace, or len when absent. */
static size_t find_close(const char *s, size_t len, size_t i, bool triple)
{
	for (; i + (triple ? 2 : 1) < len; i++)
		if (s[i] == '}' && s[i + 1] == '}' && (!triple || s[i + 2] == '}'))
			return i;
	return len;
}

int dtf_tpl_compile(const char *src, size_t len, struct dtf_tpl **out, struct dtf_tpl_error *err)
{
	struct compiler c;
	struct dtf_tpl *t;
	size_t stack[DTF_TPL_MAX_DEPTH];
	size_t depth = 0, i = 0, text = 0;
	unsigned line, column;
	int rc = DTF_EPARSE;

	if (out)
		*out = NULL;
	if (!src || !out) {
		set_err(err, 0, 0, "no template");
		return DTF_EINVAL;
	}
	if (len > DTF_TPL_MAX_SOURCE) {
		set_err(err, 0, 0, "the template is %zu bytes, more than the limit of %d", len,
			DTF_TPL_MAX_SOURCE);
		return DTF_ETOOBIG;
	}
	t = calloc(1, sizeof(*t));
	if (t)
		t->src = malloc(len + 1);
	if (!t || !t->src) {
		free(t);
		set_err(err, 0, 0, "out of memory");
		return DTF_ENOMEM;
	}
	memcpy(t->src, src, len);
	t->src[len] = '\0';
	c.t = t;
	c.s = t->src;
	c.len = len;
	c.err = err;

	while (i + 1 < len) {
		const char *s = t->src;
		size_t open = i, body, close, after, nb, ne, line_start, j;
		bool triple = false, standalone = false;
		char sigil;
		enum node_kind kind;

		if (s[i] != '{' || s[i + 1] != '{') {
			i++;
			continue;
		}
		body = i + 2;
		if (body < len && s[body] == '{') {
			triple = true;
			body++;
		}
		close = find_close(s, len, body, triple);
		if (close == len) {
			where(s, open, &line, &column);
			set_err(err, line, column, "unclosed tag: no \"%s\" after \"%s\"",
				triple ? "}}}" : "}}", triple ? "{{{" : "{{");
			goto fail;
		}
		after = close + (triple ? 3 : 2);
		sigil = triple ? '&' : s[body];
		nb = body;
		if (!triple && strchr("#^/!&=>{", sigil))
			nb++;
		ne = close;
		while (nb < ne && blank(s[nb]))
			nb++;
		while (ne > nb && blank(s[ne - 1]))
			ne--;
		if (!triple && (sigil == '=' || sigil == '>')) {
			where(s, open, &line, &column);
			set_err(err, line, column, "%s are not supported",
				sigil == '=' ? "delimiter changes ({{=...=}})"
					     : "partials ({{> name}})");
			goto fail;
		}
		if (sigil != '!' && !valid_name(s + nb, ne - nb)) {
			where(s, nb, &line, &column);
			set_err(err, line, column, "bad name \"%.*s\" in a tag",
				(int)(ne - nb > 40 ? 40 : ne - nb), s + nb);
			goto fail;
		}
		/* A section, closing or comment tag alone on its line takes the line with it. */
		if (!triple && strchr("#^/!", sigil)) {
			line_start = open;
			while (line_start > text && blank(s[line_start - 1]))
				line_start--;
			if (line_start == 0 || s[line_start - 1] == '\n') {
				j = after;
				while (j < len && blank(s[j]))
					j++;
				if (j == len || s[j] == '\n' ||
				    (s[j] == '\r' && s[j + 1] == '\n')) {
					standalone = true;
					if (j < len)
						j += s[j] == '\r' ? 2 : 1;
					rc = add_node(&c, N_TEXT, text, text, line_start - text);
					if (rc)
						goto fail;
					text = after = j;
				}
			}
		}
		if (!standalone) {
			rc = add_node(&c, N_TEXT, text, text, open - text);
			if (rc)
				goto fail;
			text = after;
		}
		rc = 0;
		switch (sigil) {
		case '!':
			break;
		case '#':
		case '^':
			if (depth == DTF_TPL_MAX_DEPTH) {
				where(s, open, &line, &column);
				set_err(err, line, column,
					"sections nest deeper than the limit of %d",
					DTF_TPL_MAX_DEPTH);
				rc = DTF_ETOOBIG;
				goto fail;
			}
			kind = sigil == '#' ? N_SECTION : N_INVERTED;
			rc = add_node(&c, kind, open, nb, ne - nb);
			stack[depth++] = t->n - 1;
			break;
		case '/': {
			struct node *o;
			if (depth == 0) {
				where(s, open, &line, &column);
				set_err(err, line, column,
					"closing tag {{/%.*s}} without a section", (int)(ne - nb),
					s + nb);
				goto fail_parse;
			}
			o = &t->nodes[stack[depth - 1]];
			if (o->len != ne - nb || memcmp(s + o->off, s + nb, o->len) != 0) {
				where(s, open, &line, &column);
				set_err(err, line, column,
					"closing tag {{/%.*s}} does not match {{%c%.*s}} (line %u)",
					(int)(ne - nb), s + nb, o->kind == N_SECTION ? '#' : '^',
					(int)o->len, s + o->off, o->line);
				goto fail_parse;
			}
			o->end = t->n;
			depth--;
			break;
		}
		default:
			rc =
			    add_node(&c, triple || sigil == '&' ? N_RAW : N_VAR, open, nb, ne - nb);
			break;
		}
		if (rc)
			goto fail;
		i = after;
	}
	if (depth) {
		struct node *o = &t->nodes[stack[depth - 1]];
		set_err(err, o->line, o->column, "section {{%c%.*s}} is not closed",
			o->kind == N_SECTION ? '#' : '^', (int)o->len, t->src + o->off);
		goto fail_parse;
	}
	rc = add_node(&c, N_TEXT, text, text, len - text);
	if (rc)
		goto fail;
	*out = t;
	return 0;
fail_parse:
	rc = DTF_EPARSE;
fail:
	if (!rc)
		rc = DTF_EPARSE;
	dtf_tpl_free(t);
	return rc;
}

void dtf_tpl_free(struct dtf_tpl *t)
{
	if (!t)
		return;
	free(t->src);
	free(t->nodes);
	free(t);
}

/* ---- rendering ---- */

int dtf_tpl_escape(struct dtf_buf *out, const char *s, size_t len, enum dtf_tpl_escape esc)
{
	size_t i, run = 0;
	int rc;

	if (esc == DTF_TPL_TEXT)
		return dtf_buf_add(out, s, len);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *rep = NULL;
		char hex[8];

		switch (esc) {
		case DTF_TPL_HTML:
			rep = ch == '&'	   ? "&amp;"
			      : ch == '<'  ? "&lt;"
			      : ch == '>'  ? "&gt;"
			      : ch == '"'  ? "&quot;"
			      : ch == '\'' ? "&#39;"
					   : NULL;
			break;
		case DTF_TPL_MRKDWN:
			rep = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : NULL;
			break;
		case DTF_TPL_JSON:
			if (ch == '"')
				rep = "\\\"";
			else if (ch == '\\')
				rep = "\\\\";
			else if (ch == '\n')
				rep = "\\n";
			else if (ch == '\r')
				rep = "\\r";
			else if (ch == '\t')
				rep = "\\t";
			else if (ch < 0x20 || ch == 0x7f) {
				snprintf(hex, sizeof(hex), "\\u%04x", ch);
				rep = hex;
			}
			break;
		default:
			break;
		}
		if (!rep)
			continue;
		rc = dtf_buf_add(out, s + run, i - run);
		if (!rc)
			rc = dtf_buf_adds(out, rep);
		if (rc)
			return rc;
		run = i + 1;
	}
	return dtf_buf_add(out, s + run, len - run);
}

struct render {
	const struct dtf_tpl *t;
	enum dtf_tpl_escape esc;
	struct dtf_buf *out;
	struct dtf_tpl_error *err;
	const json_t *ctx[DTF_TPL_MAX_DEPTH + 1];
	size_t nctx;
	unsigned long steps;
};

/* The value of a name: "." is the current context; otherwise the first part is looked up from
 * the innermost context outwards and the rest inside what it found. NULL when missing. */
static const json_t *lookup(const struct render *r, const char *name, size_t len)
{
	const json_t *v = NULL;
	size_t part, i;
	char key[DTF_TPL_MAX_NAME + 1];

	if (len == 1 && name[0] == '.')
		return r->ctx[r->nctx - 1];
	for (part = 0; part < len && name[part] != '.'; part++)
		;
	memcpy(key, name, part);
	key[part] = '\0';
	for (i = r->nctx; i-- > 0;) {
		if (json_is_object(r->ctx[i]) && (v = json_object_get(r->ctx[i], key)))
			break;
	}
	while (v && part < len) {
		size_t from = part + 1;
		for (part = from; part < len && name[part] != '.'; part++)
			;
		memcpy(key, name + from, part - from);
		key[part - from] = '\0';
		v = json_is_object(v) ? json_object_get(v, key) : NULL;
	}
	return v;
}

static bool truthy(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_real(v))
		return json_real_value(v) != 0.0;
	return true;
}

/* A real in the fewest digits that read back as the same double. */
static void format_real(double d, char *s, size_t n)
{
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(s, n, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			return;
	}
	snprintf(s, n, "%.17g", d);
}

static int put_value(struct render *r, const json_t *v, bool raw)
{
	enum dtf_tpl_escape esc = raw ? DTF_TPL_TEXT : r->esc;
	char num[40];
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return dtf_tpl_escape(r->out, json_string_value(v), json_string_length(v), esc);
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return dtf_buf_adds(r->out, num);
	}
	if (json_is_real(v)) {
		format_real(json_real_value(v), num, sizeof(num));
		return dtf_buf_adds(r->out, num);
	}
	if (json_is_boolean(v))
		return dtf_buf_adds(r->out, json_is_true(v) ? "true" : "false");
	{
		/* An object or a list: compact JSON, escaped like any other text. */
		struct dtf_buf tmp;
		dtf_buf_init(&tmp, r->out->cap);
		rc = dtf_json_dump(v, &tmp);
		if (!rc)
			rc = dtf_tpl_escape(r->out, dtf_buf_str(&tmp), tmp.len, esc);
		dtf_buf_release(&tmp);
		return rc;
	}
}

static int render_range(struct render *r, size_t from, size_t to);

/* Renders a section's body once with v as the current context. */
static int render_with(struct render *r, const struct node *nd, size_t idx, const json_t *v)
{
	int rc;

	r->ctx[r->nctx++] = v;
	rc = render_range(r, idx + 1, nd->end);
	r->nctx--;
	return rc;
}

static int render_range(struct render *r, size_t from, size_t to)
{
	const struct dtf_tpl *t = r->t;
	size_t i = from;
	int rc = 0;

	while (i < to && !rc) {
		const struct node *nd = &t->nodes[i];
		const json_t *v;

		if (++r->steps > DTF_TPL_MAX_STEPS) {
			set_err(r->err, nd->line, nd->column,
				"rendering took more than %d steps (sections over long lists?)",
				DTF_TPL_MAX_STEPS);
			return DTF_ETOOBIG;
		}
		switch (nd->kind) {
		case N_TEXT:
			rc = dtf_buf_add(r->out, t->src + nd->off, nd->len);
			i++;
			break;
		case N_VAR:
		case N_RAW:
			rc = put_value(r, lookup(r, t->src + nd->off, nd->len), nd->kind == N_RAW);
			i++;
			break;
		case N_SECTION:
			v = lookup(r, t->src + nd->off, nd->len);
			if (json_is_array(v) && truthy(v)) {
				size_t k;
				for (k = 0; k < json_array_size(v) && !rc; k++)
					rc = render_with(r, nd, i, json_array_get(v, k));
			} else if (truthy(v)) {
				rc = render_with(r, nd, i, v);
			}
			i = nd->end;
			break;
		case N_INVERTED:
			v = lookup(r, t->src + nd->off, nd->len);
			if (!truthy(v))
				rc = render_range(r, i + 1, nd->end);
			i = nd->end;
			break;
		}
	}
	if (rc == DTF_ETOOBIG && r->err && !r->err->message[0])
		set_err(r->err, 0, 0, "the rendered message is larger than its limit of %zu bytes",
			r->out->cap);
	else if (rc == DTF_ENOMEM && r->err && !r->err->message[0])
		set_err(r->err, 0, 0, "out of memory");
	return rc;
}

int dtf_tpl_render(const struct dtf_tpl *t, const json_t *data, enum dtf_tpl_escape esc,
		   struct dtf_buf *out, struct dtf_tpl_error *err)
{
	struct render r;
	size_t len0;
	int rc;

	if (!t || !out) {
		set_err(err, 0, 0, "no template");
		return DTF_EINVAL;
	}
	if (err)
		memset(err, 0, sizeof(*err));
	memset(&r, 0, sizeof(r));
	r.t = t;
	r.esc = esc;
	r.out = out;
	r.err = err;
	r.ctx[0] = data;
	r.nctx = 1;
	len0 = out->len;
	rc = render_range(&r, 0, t->n);
	if (rc)
		dtf_buf_truncate(out, len0);
	return rc;
}
