/* json.c: jansson helpers. */
#include "common/json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t depth_of(const char *data, size_t len)
{
	size_t i, depth = 0, max = 0;
	bool in_str = false;

	for (i = 0; i < len; i++) {
		char c = data[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return max;
}

/* ---- the parser ----
 *
 * Accepts exactly what jansson's json_loadb(…, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL) accepts,
 * no deeper than max_depth, and builds the same value (members in order, integers as integers
 * when there is no '.' or exponent, reals by strtod); fuzz_task_json compares the two on every
 * input. On any error it returns NULL without a reason: dtf_json_parse then asks jansson for
 * its message. jansson reads through a callback per byte and copies every token into a growing
 * buffer before it makes a value; this reads the text in place: a quarter of jansson's time for
 * a 600-byte task document, building and freeing the value included (build/json_bench). */

struct jp {
	const unsigned char *p, *end;
	struct dtf_buf tmp; /* decoded strings with escapes (written at its start) */
	int depth, max_depth;
};

/* Byte classes inside a string: 0 plain, 1 '"', 2 '\\', 3 control (an error), 4 0x80 and up. */
static const unsigned char str_class[256] = {
    [0 ... 0x1F] = 3,
    ['"'] = 1,
    ['\\'] = 2,
    [0x80 ... 0xFF] = 4,
};

static inline void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

/* The length of the valid UTF-8 sequence at p (lead byte 0x80 or above), or 0 (jansson's
 * utf8_check_first/utf8_check_full: no overlong forms, surrogates or code points past
 * U+10FFFF). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char u = p[0];
	size_t n, i;
	int32_t v;

	if (u >= 0xC2 && u <= 0xDF) {
		n = 2;
		v = u & 0x1F;
	} else if (u >= 0xE0 && u <= 0xEF) {
		n = 3;
		v = u & 0x0F;
	} else if (u >= 0xF0 && u <= 0xF4) {
		n = 4;
		v = u & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
		v = (v << 6) + (p[i] & 0x3F);
	}
	if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
	    (n == 4 && v < 0x10000))
		return 0;
	return n;
}

static int hex4(const unsigned char *p)
{
	int i, v = 0;

	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A string whose opening quote is at j->p: its bytes (in the text itself when it has no
 * escapes, else decoded into j->tmp) in *out and *len. */
static bool jp_string(struct jp *j, const char **out, size_t *len)
{
	const unsigned char *p = ++j->p, *start = p, *end = j->end;
	size_t n = 0, k;

	for (;;) {
		if (p >= end)
			return false;
		switch (str_class[*p]) {
		case 0:
			p++;
			continue;
		case 1:
			*out = (const char *)start;
			*len = (size_t)(p - start);
			j->p = p + 1;
			return true;
		case 4:
			if (!(k = utf8_seq(p, end)))
				return false;
			p += k;
			continue;
		case 3:
			return false;
		}
		break; /* a backslash: decode from here on */
	}
	/* The scratch space grows with the decoded string (at most 4 bytes a step), not with the
	 * rest of the text. */
	n = (size_t)(p - start);
	if (dtf_buf_reserve(&j->tmp, n + 8))
		return false;
	memcpy(j->tmp.data, start, n);
	for (;;) {
		int32_t cp;

		if (p >= end)
			return false;
		if (j->tmp.alloc < n + 8 && dtf_buf_reserve(&j->tmp, n + 8))
			return false;
		switch (str_class[*p]) {
		case 0:
			j->tmp.data[n++] = (char)*p++;
			continue;
		case 1:
			*out = j->tmp.data;
			*len = n;
			j->p = p + 1;
			return true;
		case 3:
			return false;
		case 4:
			if (!(k = utf8_seq(p, end)))
				return false;
			memcpy(j->tmp.data + n, p, k);
			n += k;
			p += k;
			continue;
		}
		if (end - p < 2)
			return false;
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
			j->tmp.data[n++] = (char)p[1];
			p += 2;
			continue;
		case 'b':
			j->tmp.data[n++] = '\b';
			p += 2;
			continue;
		case 'f':
			j->tmp.data[n++] = '\f';
			p += 2;
			continue;
		case 'n':
			j->tmp.data[n++] = '\n';
			p += 2;
			continue;
		case 'r':
			j->tmp.data[n++] = '\r';
			p += 2;
			continue;
		case 't':
			j->tmp.data[n++] = '\t';
			p += 2;
			continue;
		case 'u':
			break;
		default:
			return false;
		}
		if (end - p < 6 || (cp = hex4(p + 2)) < 0)
			return false;
		p += 6;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return false;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			int32_t lo;

			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || (lo = hex4(p + 2)) < 0 ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return false;
			p += 6;
			cp = ((cp - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
		}
		/* At most 4 bytes for the 6 or 12 read. */
		if (cp < 0x80) {
			j->tmp.data[n++] = (char)cp;
		} else if (cp < 0x800) {
			j->tmp.data[n++] = (char)(0xC0 | (cp >> 6));
			j->tmp.data[n++] = (char)(0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			j->tmp.data[n++] = (char)(0xE0 | (cp >> 12));
			j->tmp.data[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			j->tmp.data[n++] = (char)(0x80 | (cp & 0x3F));
		} else {
			j->tmp.data[n++] = (char)(0xF0 | (cp >> 18));
			j->tmp.data[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
			j->tmp.data[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			j->tmp.data[n++] = (char)(0x80 | (cp & 0x3F));
		}
	}
}

static inline bool is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* A number: jansson's grammar (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), an integer
 * unless it has a fraction or an exponent, out of int64 range an error; a real by strtod (in
 * the C locale: the program never calls setlocale), an overflow an error. */
static json_t *jp_number(struct jp *j)
{
	const unsigned char *p = j->p, *start = p, *end = j->end;
	bool neg = false, real = false;
	unsigned long long u = 0;
	char small[64], *text;
	size_t n;
	double d;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit(p, end))
		return NULL;
	if (*p == '0') {
		p++;
		if (is_digit(p, end))
			return NULL;
	} else {
		while (is_digit(p, end)) {
			unsigned d10 = (unsigned)(*p++ - '0');

			if (u > (~0ULL - d10) / 10)
				u = ~0ULL; /* saturates: out of range anyway */
			else
				u = u * 10 + d10;
		}
	}
	if (p < end && *p == '.') {
		real = true;
		p++;
		if (!is_digit(p, end))
			return NULL;
		while (is_digit(p, end))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		real = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, end))
			return NULL;
		while (is_digit(p, end))
			p++;
	}
	j->p = p;
	if (!real) {
		if (neg)
			return u <= (1ULL << 63) ? json_integer((json_int_t)(0ULL - u)) : NULL;
		return u < (1ULL << 63) ? json_integer((json_int_t)u) : NULL;
	}
	n = (size_t)(p - start);
	text = n < sizeof(small) ? small : malloc(n + 1);
	if (!text)
		return NULL;
	memcpy(text, start, n);
	text[n] = '\0';
	errno = 0;
	d = strtod(text, NULL);
	if (text != small)
		free(text);
	if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
		return NULL;
	return json_real(d);
}

static json_t *jp_value(struct jp *j);

/* Steps over an object's or array's opening byte and the whitespace after it: true (and past
 * it) when the closing byte follows at once. */
static bool jp_open(struct jp *j, unsigned char close)
{
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	return false;
}

/* After a member or an element: 1 past a ',' (another follows), 0 past the closing byte, -1 for
 * anything else. */
static int jp_next(struct jp *j, unsigned char close)
{
	jp_ws(j);
	if (j->p < j->end && *j->p == ',') {
		j->p++;
		jp_ws(j);
		return 1;
	}
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	return -1;
}

static json_t *jp_object(struct jp *j)
{
	json_t *obj = json_object(), *v;
	const char *key;
	char small[128], *copy;
	size_t klen;
	bool ok;
	int more;

	if (!obj)
		return NULL;
	if (jp_open(j, '}'))
		return obj;
	for (;;) {
		if (j->p >= j->end || *j->p != '"' || !jp_string(j, &key, &klen) ||
		    memchr(key, '\0', klen) || json_object_getn(obj, key, klen))
			break;
		jp_ws(j);
		if (j->p >= j->end || *j->p != ':')
			break;
		j->p++;
		jp_ws(j);
		/* A key with escapes was decoded into j->tmp, which the value's strings reuse. */
		copy = NULL;
		if (key == j->tmp.data) {
			copy = klen < sizeof(small) ? small : malloc(klen);
			if (!copy)
				break;
			memcpy(copy, key, klen);
			key = copy;
		}
		v = jp_value(j);
		ok = v && json_object_setn_new_nocheck(obj, key, klen, v) == 0;
		if (copy && copy != small)
			free(copy);
		if (!ok || (more = jp_next(j, '}')) < 0)
			break;
		if (!more)
			return obj;
	}
	json_decref(obj);
	return NULL;
}

static json_t *jp_array(struct jp *j)
{
	json_t *arr = json_array(), *v;
	int more;

	if (!arr)
		return NULL;
	if (jp_open(j, ']'))
		return arr;
	for (;;) {
		if (!(v = jp_value(j)) || json_array_append_new(arr, v) ||
		    (more = jp_next(j, ']')) < 0)
			break;
		if (!more)
			return arr;
	}
	json_decref(arr);
	return NULL;
}

static bool jp_word(struct jp *j, const char *w, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

/* jansson drops a NUL byte that directly follows a number or a literal (its reader takes a NUL
 * for the end of the one character it pushed back, and reads on): so does this. */
static inline json_t *nul_after(struct jp *j, json_t *v)
{
	if (v && j->p < j->end && *j->p == '\0')
		j->p++;
	return v;
}

/* A value at j->p (after whitespace). */
static json_t *jp_value(struct jp *j)
{
	const char *s;
	size_t n;
	json_t *v;

	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > j->max_depth)
			return NULL;
		v = *j->p == '{' ? jp_object(j) : jp_array(j);
		j->depth--;
		return v;
	case '"':
		return jp_string(j, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
	case 't':
		return nul_after(j, jp_word(j, "true", 4) ? json_true() : NULL);
	case 'f':
		return nul_after(j, jp_word(j, "false", 5) ? json_false() : NULL);
	case 'n':
		return nul_after(j, jp_word(j, "null", 4) ? json_null() : NULL);
	default:
		return nul_after(j, jp_number(j));
	}
}

json_t *dtf_json_load(const char *data, size_t len, int max_depth)
{
	struct jp j = {(const unsigned char *)data,
		       (const unsigned char *)data + len,
		       {NULL, 0, 0, (size_t)1 << 30},
		       0,
		       max_depth};
	json_t *v = NULL;

	jp_ws(&j);
	if (j.p < j.end && (*j.p == '{' || *j.p == '[')) {
		v = jp_value(&j);
		jp_ws(&j);
		if (v && j.p != j.end) {
			json_decref(v);
			v = NULL;
		}
	}
	dtf_buf_release(&j.tmp);
	return v;
}

json_t *dtf_json_parse(const char *data, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = dtf_json_load(data, len, DTF_JSON_MAX_DEPTH);

	if (v)
		return v;
	/* Rejected: jansson's reading gives the reason (and the line and column). */
	if (depth_of(data, len) > DTF_JSON_MAX_DEPTH) {
		snprintf(err, errlen, "document nested deeper than %d levels", DTF_JSON_MAX_DEPTH);
		return NULL;
	}
	v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!v)
		snprintf(err, errlen, "line %d column %d: %s", je.line, je.column, je.text);
	return v;
}

const char *dtf_json_str(const json_t *obj, const char *key, const char *dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

double dtf_json_num(const json_t *obj, const char *key, double dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

long long dtf_json_int(const json_t *obj, const char *key, long long dflt)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		/* Outside input: a real that does not fit (or NaN) is not converted. */
		double d = json_real_value(v);
		if (!(d >= -9.2e18 && d <= 9.2e18))
			return dflt;
		return (long long)d;
	}
	return dflt;
}

bool dtf_json_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* ---- the compact writer ----
 *
 * Writes the same bytes as jansson's json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) (members in
 * insertion order; '"', '\\' and control characters escaped, \u00XX in upper case; reals as
 * "%.17g" with ".0" added to integral ones and the exponent's '+' and leading zeros dropped),
 * checked against it in unit.test_common and by fuzz_task_json. It is on every hot path of the
 * coordinator (each task is serialized for the store at submission, lease and result, and for
 * the lease reply), where jansson's writer, one callback per token and a character-by-character
 * UTF-8 walk per string, cost a fifth of the coordinator's time (this takes a quarter of
 * jansson's time: build/json_bench). Strings in a json_t are valid UTF-8 (jansson checks them
 * when they are made), so bytes at or above 0x80 are copied as they are, as jansson does
 * without JSON_ENSURE_ASCII. */

#define WRITE_MAX_DEPTH 2048

/* Room for extra more bytes: the common case inline, growth in buf.c. */
static inline int w_reserve(struct dtf_buf *b, size_t extra)
{
	if (extra < b->alloc - b->len && extra <= b->cap - b->len)
		return 0;
	return dtf_buf_reserve(b, extra) ? -1 : 0;
}

static inline int w_add(struct dtf_buf *b, const char *s, size_t n)
{
	if (w_reserve(b, n))
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

static inline int w_char(struct dtf_buf *b, char c)
{
	if (w_reserve(b, 1))
		return -1;
	b->data[b->len++] = c;
	return 0;
}

/* Which bytes need an escape: 0 none, else the letter of its short form, or 'u'. */
static const char esc_of[256] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', [0] = 'u',	 [1] = 'u',
    [2] = 'u',	  [3] = 'u',	[4] = 'u',    [5] = 'u',    [6] = 'u',	  [7] = 'u',	 [11] = 'u',
    [14] = 'u',	  [15] = 'u',	[16] = 'u',   [17] = 'u',   [18] = 'u',	  [19] = 'u',	 [20] = 'u',
    [21] = 'u',	  [22] = 'u',	[23] = 'u',   [24] = 'u',   [25] = 'u',	  [26] = 'u',	 [27] = 'u',
    [28] = 'u',	  [29] = 'u',	[30] = 'u',   [31] = 'u',   ['"'] = '"',  ['\\'] = '\\',
};

static int w_string(struct dtf_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;

	/* Room for the string as it is; escapes reserve their own. */
	if (w_reserve(b, n + 2))
		return -1;
	b->data[b->len++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char e = esc_of[ch];

		if (!e)
			continue;
		if (w_add(b, s + run, i - run))
			return -1;
		run = i + 1;
		if (e == 'u') {
			char seq[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

			if (w_add(b, seq, 6))
				return -1;
		} else {
			char seq[2] = {'\\', e};

			if (w_add(b, seq, 2))
				return -1;
		}
	}
	if (w_add(b, s + run, n - run))
		return -1;
	return w_char(b, '"');
}

static int w_integer(struct dtf_buf *b, json_int_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return w_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* jansson's jsonp_dtostr with its default precision of 17 (the C locale's '.' assumed, as the
 * program never calls setlocale for numbers). */
static int w_real(struct dtf_buf *b, double v)
{
	char buf[48], *start, *end;
	int n = snprintf(buf, sizeof(buf) - 3, "%.17g", v);
	size_t len;

	if (n < 0 || (size_t)n >= sizeof(buf) - 3)
		return -1;
	len = (size_t)n;
	if (!strchr(buf, '.') && !strchr(buf, 'e')) {
		buf[len++] = '.';
		buf[len++] = '0';
		buf[len] = '\0';
	}
	start = strchr(buf, 'e');
	if (start) {
		start++;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - buf) + 1);
			len -= (size_t)(end - start);
		}
	}
	return w_add(b, buf, len);
}

static int w_value(struct dtf_buf *b, const json_t *v, int depth)
{
	size_t i, n;
	void *it;

	if (depth > WRITE_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (w_char(b, '{'))
			return -1;
		for (it = json_object_iter((json_t *)v), i = 0; it;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			if ((i && w_char(b, ',')) ||
			    w_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) ||
			    w_char(b, ':') || w_value(b, json_object_iter_value(it), depth + 1))
				return -1;
		}
		return w_char(b, '}');
	case JSON_ARRAY:
		if (w_char(b, '['))
			return -1;
		n = json_array_size(v);
		for (i = 0; i < n; i++)
			if ((i && w_char(b, ',')) || w_value(b, json_array_get(v, i), depth + 1))
				return -1;
		return w_char(b, ']');
	case JSON_STRING:
		return w_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return w_integer(b, json_integer_value(v));
	case JSON_REAL:
		return w_real(b, json_real_value(v));
	case JSON_TRUE:
		return w_add(b, "true", 4);
	case JSON_FALSE:
		return w_add(b, "false", 5);
	case JSON_NULL:
		return w_add(b, "null", 4);
	}
	return -1;
}

/* Ends a write into out begun at len0: on failure (rc) out is as it was, else terminated. */
static int w_finish(struct dtf_buf *out, size_t len0, int rc)
{
	if (rc) {
		dtf_buf_truncate(out, len0);
		return -1;
	}
	if (out->data)
		out->data[out->len] = '\0';
	return 0;
}

int dtf_json_write_string(struct dtf_buf *out, const char *s)
{
	size_t len0 = out->len;

	return w_finish(out, len0, w_string(out, s, strlen(s)));
}

int dtf_json_dump(const json_t *v, struct dtf_buf *out)
{
	size_t len0 = out->len;

	return w_finish(out, len0, !v || w_value(out, v, 0));
}

/* The buffer starts at 512 bytes (most task documents fit) instead of growing from 16 by
 * reallocs, and is cut to the text's size at the end. */
char *dtf_json_dumps(const json_t *v)
{
	struct dtf_buf b;
	char *s;

	dtf_buf_init(&b, (size_t)1 << 30);
	b.data = malloc(512);
	if (!b.data)
		return NULL;
	b.alloc = 512;
	b.data[0] = '\0';
	if (dtf_json_dump(v, &b)) {
		dtf_buf_release(&b);
		return NULL;
	}
	if (b.alloc - b.len > 128 && (s = realloc(b.data, b.len + 1)) != NULL)
		return s;
	return b.data;
}

json_t *dtf_json_split(const char *s, const char *seps)
{
	json_t *out = json_array();

	while (s && *s) {
		size_t n = strcspn(s, seps);
		if (n)
			json_array_append_new(out, json_stringn(s, n));
		s += n;
		if (*s)
			s++;
	}
	return out;
}
